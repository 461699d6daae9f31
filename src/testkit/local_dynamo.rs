//! Amazon's DynamoDB Local, started by `scripts/dynamodb_local.py` on a free
//! 127.0.0.1 port and stopped when the process that started it ends (the
//! launcher watches its parent). `./setup` installs it.

use super::launcher::{Launched, launch};
use super::template::Template;
use crate::store::dynamo::{DynamoStore, RequestMeter};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use std::process::Child;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

pub struct LocalDynamo {
    pub endpoint: String,
    _launcher: Child,
}

impl LocalDynamo {
    /// Starts DynamoDB Local; fails loudly if it is not installed.
    pub fn start() -> Self {
        let Launched { endpoint, launcher } = launch("scripts/dynamodb_local.py", "DynamoDB Local");
        LocalDynamo {
            endpoint,
            _launcher: launcher,
        }
    }

    /// One server per process, started on first use.
    pub fn shared() -> &'static LocalDynamo {
        static SHARED: OnceLock<LocalDynamo> = OnceLock::new();
        SHARED.get_or_init(LocalDynamo::start)
    }

    /// A client for it; `meter`, if given, counts what the client sends.
    pub fn client(&self, meter: Option<&RequestMeter>) -> Client {
        let mut config = aws_sdk_dynamodb::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("local", "local", None, None, "local"))
            .retry_config(crate::entry::config::sdk_retry_config())
            .endpoint_url(&self.endpoint);
        if let Some(meter) = meter {
            config = config.interceptor(meter.clone());
        }
        Client::from_conf(config.build())
    }

    /// A store over a new, empty table created from `template.yaml`.
    pub async fn fresh_store(&self, meter: Option<&RequestMeter>) -> DynamoStore {
        static TEMPLATE: OnceLock<Template> = OnceLock::new();
        static N: AtomicU32 = AtomicU32::new(0);
        let spec = TEMPLATE
            .get_or_init(|| Template::project().expect("template.yaml"))
            .only_table();
        let table = format!(
            "usage-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        let client = self.client(meter);
        spec.create(&client, &table).await.expect("create table");
        DynamoStore::new(client, table)
    }
}
