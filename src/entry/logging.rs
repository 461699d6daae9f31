//! Structured JSON logs, one object per line, level from `RUST_LOG` (default info),
//! each line of an invocation carrying its request id (`span.requestId`).
//!
//! What is logged is chosen field by field at each call site: ids, counts,
//! codes and reasons — never a request or message body, credentials, or the
//! caller's ARN.

use tracing::Subscriber;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// The production format, writing to `writer` (tests capture it).
pub fn json_subscriber<W>(writer: W) -> impl Subscriber + Send + Sync
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        // The runtime's span carries the Lambda request id (and X-Ray trace
        // id): every line logged during an invocation names it.
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false)
        .with_env_filter(filter)
        .with_writer(writer)
        .finish()
}

pub fn init() {
    if tracing::subscriber::set_global_default(json_subscriber(std::io::stdout)).is_err() {
        eprintln!("a global tracing subscriber was already set");
    }
}
