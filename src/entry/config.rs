//! Configuration, read once when a function starts, never in a handler; and
//! the one place that decides how DynamoDB requests are retried.

use crate::bus::eventbridge::{BUS_ENV, EventBridgeBus};
use crate::domain::ids::AccountId;
use crate::domain::statement::DEFAULT_GRACE_SECONDS;
use crate::domain::zone::{BillingZone, TZDB_VERSION};
use crate::entry::http::QuerySettings;
use crate::entry::metrics::Metrics;
use crate::service::ingest::IngestSettings;
use crate::service::turns::TurnPolicy;
use crate::store::dynamo::DynamoStore;

/// The table's name, set by `template.yaml` from the table resource.
pub const TABLE_ENV: &str = "USAGE_TABLE_NAME";
/// The billing time zone of apps whose first registration names none.
pub const DEFAULT_ZONE_ENV: &str = "DEFAULT_BILLING_TIME_ZONE";
/// The grace after a month's end before its statement closes, in seconds.
pub const STATEMENT_GRACE_ENV: &str = "STATEMENT_GRACE_SECONDS";
/// Development only: the AWS account a request without an IAM identity is
/// taken to come from. `template.yaml` never sets it.
pub const DEV_CALLER_ENV: &str = "RTC_USAGE_DEV_CALLER_ACCOUNT";

/// Attempts per DynamoDB request, the first included. The SDK's standard
/// retry owns request-level retries — throttling, 5xx answers, timeouts and
/// lost connections — with exponential backoff and jitter (base 1 s, at most
/// 20 s) and a client-side retry quota that stops retry storms. The services
/// never retry those again: ingestion reports what is still uncounted to SQS,
/// which redelivers it; only a transaction cancelled by a concurrent one
/// (which the SDK does not retry) starts another ingestion round. So a
/// throttled request is sent at most this many times in an invocation.
pub const SDK_MAX_ATTEMPTS: u32 = 3;

pub fn sdk_retry_config() -> aws_config::retry::RetryConfig {
    aws_config::retry::RetryConfig::standard().with_max_attempts(SDK_MAX_ATTEMPTS)
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {0} is not set")]
    Missing(&'static str),
    #[error("environment variable {0} is not a 12-digit AWS account id")]
    BadAccount(&'static str),
    #[error("environment variable {0} is not a time zone of the IANA database {1}")]
    BadZone(&'static str, &'static str),
    #[error("environment variable {0} is not a whole number of seconds from 0 to 31622400")]
    BadSeconds(&'static str),
}

#[derive(Clone, Debug)]
pub struct Config {
    pub table_name: String,
    pub dev_caller: Option<AccountId>,
    /// Lambda's name for this function (`AWS_LAMBDA_FUNCTION_NAME`), the
    /// metrics' dimension.
    pub function_name: String,
    /// The zone a registration without its own fixes (UTC when unset).
    pub default_zone: BillingZone,
    /// The grace after a month's end before its statement closes (the
    /// contract's 72 hours when unset).
    pub statement_grace_seconds: i64,
    /// The EventBridge bus alerts are published on (`ALERT_EVENT_BUS_NAME`):
    /// required by the functions that publish ([`Config::alert_bus_with`]),
    /// not by the query function.
    pub alert_bus_name: Option<String>,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let table_name = lookup(TABLE_ENV)
            .filter(|t| !t.is_empty())
            .ok_or(ConfigError::Missing(TABLE_ENV))?;
        let dev_caller = match lookup(DEV_CALLER_ENV).filter(|v| !v.is_empty()) {
            None => None,
            Some(v) => Some(AccountId::parse(&v).ok_or(ConfigError::BadAccount(DEV_CALLER_ENV))?),
        };
        if let Some(account) = &dev_caller {
            tracing::warn!(
                dev_caller = %account,
                "DEVELOPMENT MODE: {DEV_CALLER_ENV} is set; requests without an IAM identity are answered as this account. Never set this in a deployment."
            );
        }
        let function_name =
            lookup("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|| "local".to_owned());
        let default_zone = match lookup(DEFAULT_ZONE_ENV).filter(|v| !v.is_empty()) {
            None => BillingZone::utc(),
            Some(name) => BillingZone::parse(&name)
                .ok_or(ConfigError::BadZone(DEFAULT_ZONE_ENV, TZDB_VERSION))?,
        };
        // At most a year: a grace longer than the months answered would
        // leave statements open that no one can ask for.
        let statement_grace_seconds = match lookup(STATEMENT_GRACE_ENV).filter(|v| !v.is_empty()) {
            None => DEFAULT_GRACE_SECONDS,
            Some(text) => text
                .parse::<i64>()
                .ok()
                .filter(|s| (0..=31_622_400).contains(s))
                .ok_or(ConfigError::BadSeconds(STATEMENT_GRACE_ENV))?,
        };
        let alert_bus_name = lookup(BUS_ENV).filter(|v| !v.is_empty());
        Ok(Config {
            table_name,
            dev_caller,
            function_name,
            default_zone,
            statement_grace_seconds,
            alert_bus_name,
        })
    }

    /// What `usage-ingest` needs of the configuration.
    pub fn ingest_settings(&self) -> IngestSettings {
        IngestSettings {
            default_zone: self.default_zone.clone(),
            grace_seconds: self.statement_grace_seconds,
            turns: TurnPolicy::default(),
        }
    }

    /// What `usage-query` needs of the configuration.
    pub fn query_settings(&self) -> QuerySettings {
        QuerySettings {
            dev_caller: self.dev_caller.clone(),
            grace_seconds: self.statement_grace_seconds,
        }
    }

    pub fn metrics(&self) -> Metrics {
        Metrics::to_stdout(&self.function_name)
    }

    /// The DynamoDB store, with the functions' SDK configuration: region,
    /// credentials and endpoint (`AWS_ENDPOINT_URL_DYNAMODB`) from the
    /// environment; retries as [`sdk_retry_config`] says.
    pub async fn dynamo_store(&self) -> DynamoStore {
        self.dynamo_store_with(&sdk_config(CredentialSource::LambdaEnvironment).await)
    }

    /// The alerts' bus over an SDK configuration already loaded (its
    /// endpoint from `AWS_ENDPOINT_URL_EVENTBRIDGE` when set): for the
    /// functions that publish, which refuse to start without a bus name.
    pub fn alert_bus_with(
        &self,
        sdk: &aws_config::SdkConfig,
    ) -> Result<EventBridgeBus, ConfigError> {
        let name = self
            .alert_bus_name
            .clone()
            .ok_or(ConfigError::Missing(BUS_ENV))?;
        Ok(EventBridgeBus::new(
            aws_sdk_eventbridge::Client::new(sdk),
            name,
        ))
    }

    /// The DynamoDB store over an SDK configuration already loaded.
    pub fn dynamo_store_with(&self, sdk: &aws_config::SdkConfig) -> DynamoStore {
        DynamoStore::new(aws_sdk_dynamodb::Client::new(sdk), &self.table_name)
    }
}

/// Where an SDK configuration takes its region and credentials from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CredentialSource {
    /// The variables Lambda sets for every function (`AWS_REGION`, and the
    /// role's `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
    /// `AWS_SESSION_TOKEN`), and nothing else: what the functions use. The
    /// SDK's default chain would also build, at every cold start, providers
    /// Lambda never needs — among them the web-identity provider's STS client,
    /// whose construction prepares a TLS connector (the system's root
    /// certificates read and parsed) before the first request.
    LambdaEnvironment,
    /// The SDK's default chains (environment, profiles and SSO, web identity,
    /// container and instance metadata): the operator's `usage-keys`.
    DefaultChain,
}

/// The SDK's standard configuration — each service's endpoint
/// (`AWS_ENDPOINT_URL_DYNAMODB`, `AWS_ENDPOINT_URL_KMS`) from the
/// environment, region and credentials from `source` — with the project's
/// retries. Loaded once per function instance, shared by its clients.
pub async fn sdk_config(source: CredentialSource) -> aws_config::SdkConfig {
    use aws_config::environment::{
        EnvironmentVariableCredentialsProvider, EnvironmentVariableRegionProvider,
    };
    let loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .retry_config(sdk_retry_config());
    match source {
        CredentialSource::LambdaEnvironment => loader
            .region(EnvironmentVariableRegionProvider::new())
            .credentials_provider(EnvironmentVariableCredentialsProvider::new()),
        CredentialSource::DefaultChain => loader,
    }
    .load()
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(zone: Option<&str>) -> Result<Config, ConfigError> {
        Config::from_lookup(|name| match name {
            TABLE_ENV => Some("usage".to_owned()),
            DEFAULT_ZONE_ENV => zone.map(str::to_owned),
            _ => None,
        })
    }

    fn grace(value: Option<&str>) -> Result<i64, ConfigError> {
        Config::from_lookup(|name| match name {
            TABLE_ENV => Some("usage".to_owned()),
            STATEMENT_GRACE_ENV => value.map(str::to_owned),
            _ => None,
        })
        .map(|c| c.statement_grace_seconds)
    }

    #[test]
    fn the_grace_period_is_72_hours_unless_the_template_says_otherwise() {
        assert_eq!(grace(None).unwrap(), 259_200);
        assert_eq!(grace(Some("")).unwrap(), 259_200);
        assert_eq!(grace(Some("0")).unwrap(), 0);
        assert_eq!(grace(Some("60")).unwrap(), 60);
        for bad in ["-1", "1.5", "72h", " 60", "31622401", "٦٠"] {
            assert!(
                matches!(grace(Some(bad)), Err(ConfigError::BadSeconds(_))),
                "{bad}"
            );
        }
    }

    #[tokio::test]
    async fn publishing_functions_need_the_alert_bus() {
        let sdk = aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .build();
        let without = config(None).unwrap();
        assert!(matches!(
            without.alert_bus_with(&sdk),
            Err(ConfigError::Missing(BUS_ENV))
        ));
        let with = Config::from_lookup(|name| match name {
            TABLE_ENV => Some("usage".to_owned()),
            BUS_ENV => Some("stack-alerts".to_owned()),
            _ => None,
        })
        .unwrap();
        assert_eq!(with.alert_bus_name.as_deref(), Some("stack-alerts"));
        assert!(with.alert_bus_with(&sdk).is_ok());
    }

    #[test]
    fn the_default_billing_zone_is_utc_unless_the_template_names_one() {
        assert_eq!(config(None).unwrap().default_zone, BillingZone::utc());
        assert_eq!(config(Some("")).unwrap().default_zone, BillingZone::utc());
        assert_eq!(
            config(Some("Asia/Shanghai")).unwrap().default_zone.name(),
            "Asia/Shanghai"
        );
        for bad in ["+08:00", "Asia/Atlantis", "asia/shanghai"] {
            assert!(
                matches!(config(Some(bad)), Err(ConfigError::BadZone(..))),
                "{bad}"
            );
        }
    }
}
