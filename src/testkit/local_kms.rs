//! A local AWS KMS for tests: moto's server, started by `scripts/moto_kms.py`
//! on a free 127.0.0.1 port and stopped when the process that started it
//! ends (the launcher watches its parent). `./setup` installs it (moto is
//! pinned in `requirements-dev.txt`).

use super::launcher::{Launched, launch};
use crate::secrets::KmsSealer;
use aws_sdk_kms::Client;
use aws_sdk_kms::config::{BehaviorVersion, Credentials, Region, SharedCredentialsProvider};
use std::process::Child;
use std::sync::OnceLock;

pub struct LocalKms {
    pub endpoint: String,
    _launcher: Child,
}

impl LocalKms {
    /// Starts moto's server; fails loudly if it is not installed.
    pub fn start() -> Self {
        let Launched { endpoint, launcher } = launch("scripts/moto_kms.py", "moto's server");
        LocalKms {
            endpoint,
            _launcher: launcher,
        }
    }

    /// One server per process, started on first use.
    pub fn shared() -> &'static LocalKms {
        static SHARED: OnceLock<LocalKms> = OnceLock::new();
        SHARED.get_or_init(LocalKms::start)
    }

    /// An SDK configuration that reaches it, with the project's retries.
    pub fn sdk_config(&self) -> aws_config::SdkConfig {
        aws_config::SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
                "local", "local", None, None, "local",
            )))
            .retry_config(crate::entry::config::sdk_retry_config())
            .endpoint_url(&self.endpoint)
            .build()
    }

    /// A client for it.
    pub fn client(&self) -> Client {
        Client::new(&self.sdk_config())
    }

    /// A new symmetric encryption key (as the template's), its key id.
    pub async fn create_key(&self) -> String {
        let out = self
            .client()
            .create_key()
            .description("rtc-usage test: AccessKey secrets")
            .send()
            .await
            .expect("create a KMS key");
        out.key_metadata.expect("the key's metadata").key_id
    }

    /// A sealer over a new key, and the key's id.
    pub async fn fresh_sealer(&self) -> (KmsSealer, String) {
        let key_id = self.create_key().await;
        (KmsSealer::new(self.client(), key_id.clone()), key_id)
    }
}
