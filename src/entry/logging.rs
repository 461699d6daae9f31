//! Structured logs, each line of an invocation carrying its request id
//! (`span.requestId`). Lambda's own logging settings decide level and format
//! (the template's `LoggingConfig`, which Lambda passes as
//! `AWS_LAMBDA_LOG_LEVEL` and `AWS_LAMBDA_LOG_FORMAT`), as for any runtime;
//! without them, `RUST_LOG`, then `info`, and JSON.
//!
//! What is logged is chosen field by field at each call site: ids, counts,
//! codes and reasons — never a request or message body, credentials, or the
//! caller's ARN.

use tracing::Subscriber;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// Where level and format come from, read once at start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogSettings {
    /// An `EnvFilter` directive.
    pub filter: String,
    pub json: bool,
}

impl LogSettings {
    pub fn from_env() -> Self {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        // Lambda's levels are TRACE, DEBUG, INFO, WARN, ERROR and FATAL;
        // tracing has no FATAL, and its ERROR is the nearest.
        let lambda_level =
            lookup("AWS_LAMBDA_LOG_LEVEL").map(|level| match level.to_ascii_lowercase().as_str() {
                "fatal" => "error".to_owned(),
                other => other.to_owned(),
            });
        let filter = lambda_level
            .or_else(|| lookup("RUST_LOG"))
            .filter(|f| !f.is_empty())
            .unwrap_or_else(|| "info".to_owned());
        let json = !lookup("AWS_LAMBDA_LOG_FORMAT").is_some_and(|f| f.eq_ignore_ascii_case("text"));
        LogSettings { filter, json }
    }
}

/// The production subscriber, writing to `writer` (tests capture it).
pub fn subscriber<W>(settings: &LogSettings, writer: W) -> Box<dyn Subscriber + Send + Sync>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_new(&settings.filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        // The runtime's span carries the Lambda request id (and X-Ray trace
        // id): every line logged during an invocation names it.
        .with_target(false)
        .with_env_filter(filter)
        .with_writer(writer);
    if settings.json {
        Box::new(
            builder
                .json()
                .flatten_event(true)
                .with_current_span(true)
                .with_span_list(false)
                .finish(),
        )
    } else {
        Box::new(builder.without_time().finish())
    }
}

/// The production JSON format, writing to `writer`.
pub fn json_subscriber<W>(writer: W) -> Box<dyn Subscriber + Send + Sync>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let settings = LogSettings {
        json: true,
        ..LogSettings::from_env()
    };
    subscriber(&settings, writer)
}

pub fn init() {
    let settings = LogSettings::from_env();
    if tracing::subscriber::set_global_default(subscriber(&settings, std::io::stdout)).is_err() {
        eprintln!("a global tracing subscriber was already set");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(vars: &[(&str, &str)]) -> LogSettings {
        LogSettings::from_lookup(|name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        })
    }

    #[test]
    fn lambda_settings_first_then_rust_log_then_info_json() {
        assert_eq!(
            settings(&[]),
            LogSettings {
                filter: "info".into(),
                json: true
            }
        );
        assert_eq!(settings(&[("RUST_LOG", "debug")]).filter, "debug");
        assert_eq!(
            settings(&[("RUST_LOG", "debug"), ("AWS_LAMBDA_LOG_LEVEL", "WARN")]).filter,
            "warn"
        );
        assert_eq!(
            settings(&[("AWS_LAMBDA_LOG_LEVEL", "FATAL")]).filter,
            "error"
        );
        assert!(settings(&[("AWS_LAMBDA_LOG_FORMAT", "JSON")]).json);
        assert!(!settings(&[("AWS_LAMBDA_LOG_FORMAT", "Text")]).json);
    }
}
