//! The local DynamoDB API for tests, the benchmark and local runs: moto's
//! server from the project's virtualenv (`./setup` installs it), on a free
//! 127.0.0.1 port, ending when the process that started it ends.
//! Not used by the Lambda functions.

use crate::domain::ids::{AccountId, AppId};
use crate::store::UsageStore;
use crate::store::dynamo::{DynamoStore, RequestMeter};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

pub struct LocalDynamo {
    pub endpoint: String,
    _server: Child,
}

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

impl LocalDynamo {
    /// Starts moto's server; fails loudly if the virtualenv is missing.
    pub fn start() -> Self {
        let python: PathBuf = repo().join(".venv/bin/python");
        assert!(
            python.exists(),
            "the local DynamoDB API is not installed: run ./setup (it creates .venv with moto[server])"
        );
        let mut server = Command::new(python)
            .arg(repo().join("scripts/local_dynamodb.py"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the local DynamoDB API");
        let mut line = String::new();
        BufReader::new(server.stdout.take().expect("its stdout"))
            .read_line(&mut line)
            .expect("read its port");
        let port = line
            .trim()
            .strip_prefix("PORT ")
            .unwrap_or_else(|| panic!("the local DynamoDB API said {line:?}"));
        LocalDynamo {
            endpoint: format!("http://127.0.0.1:{port}"),
            _server: server,
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
            .endpoint_url(&self.endpoint);
        if let Some(meter) = meter {
            config = config.interceptor(meter.clone());
        }
        Client::from_conf(config.build())
    }

    /// A store over a new, empty table shaped as `template.yaml` declares it.
    pub async fn fresh_store(&self, meter: Option<&RequestMeter>) -> DynamoStore {
        static N: AtomicU32 = AtomicU32::new(0);
        let table = format!(
            "usage-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        let client = self.client(meter);
        DynamoStore::create_table(&client, &table)
            .await
            .expect("create table");
        DynamoStore::new(client, table)
    }
}

/// Registers each app to `owner` (valid ids, or a panic: test data).
pub async fn register_apps<S: UsageStore>(
    store: &S,
    apps: impl IntoIterator<Item = impl AsRef<str>>,
    owner: &str,
) {
    let owner = AccountId::parse(owner).expect("owner account id");
    for app in apps {
        let app = AppId::parse(app.as_ref()).expect("app id");
        store.register(&app, &owner).await.expect("register");
    }
}
