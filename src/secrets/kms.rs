//! The sealing port over AWS KMS: `Encrypt` under the configured symmetric
//! key, `Decrypt` without naming one (a symmetric ciphertext names its own
//! key; which keys a function may use is its IAM policy's business), each
//! with the AccessKey id as encryption context, so a sealed secret opens
//! only for its own id and CloudTrail's record of each call names the key.

use super::{SealerError, Secret, SecretSealer};
use crate::domain::access_key::AccessKeyId;
use aws_config::SdkConfig;
use aws_sdk_kms::Client;
use aws_sdk_kms::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_kms::primitives::Blob;
use std::fmt::Debug;
use std::sync::OnceLock;

/// The KMS key AccessKey secrets are sealed under (a key id, ARN or alias):
/// needed to issue keys (`usage-keys issue`), not to open secrets.
pub const KMS_KEY_ENV: &str = "ACCESS_KEY_KMS_KEY_ID";
/// The encryption context's name for the AccessKey id a secret is bound to.
pub const CONTEXT_KEY: &str = "AccessKeyId";

#[derive(Clone, Debug)]
pub struct KmsSealer {
    client: KmsClient,
    /// The key new secrets are sealed under; `None`: this sealer only opens.
    key_id: Option<String>,
}

/// The KMS client, or what builds it on first use.
#[derive(Clone, Debug)]
enum KmsClient {
    Built(Client),
    /// Building an SDK client costs a cold start more than a millisecond (the
    /// SDK prepares its TLS connector when a client is built), and the query
    /// function needs KMS only for the Alibaba-signed API, once per key and
    /// instance: it builds the client when it first opens a secret.
    OnFirstUse(Box<SdkConfig>, OnceLock<Client>),
}

impl KmsSealer {
    /// Seals under `key_id`, opens whatever the caller may decrypt.
    pub fn new(client: Client, key_id: impl Into<String>) -> Self {
        KmsSealer {
            client: KmsClient::Built(client),
            key_id: Some(key_id.into()),
        }
    }

    /// Opens only (the query function), with a client built from `sdk` when
    /// the first secret is opened: sealing fails as misconfigured.
    pub fn opener(sdk: SdkConfig) -> Self {
        KmsSealer {
            client: KmsClient::OnFirstUse(Box::new(sdk), OnceLock::new()),
            key_id: None,
        }
    }

    /// Whether the KMS client has been built (it is, once a secret was opened).
    pub fn client_built(&self) -> bool {
        match &self.client {
            KmsClient::Built(_) => true,
            KmsClient::OnFirstUse(_, client) => client.get().is_some(),
        }
    }

    pub fn client(&self) -> &Client {
        match &self.client {
            KmsClient::Built(client) => client,
            KmsClient::OnFirstUse(sdk, client) => client.get_or_init(|| Client::new(sdk)),
        }
    }
}

impl SecretSealer for KmsSealer {
    async fn seal(&self, key: &AccessKeyId, plaintext: &[u8]) -> Result<Vec<u8>, SealerError> {
        let key_id = self.key_id.as_deref().ok_or_else(|| {
            SealerError::Misconfigured(format!("no KMS key to seal under (set {KMS_KEY_ENV})"))
        })?;
        let out = self
            .client()
            .encrypt()
            .key_id(key_id)
            .plaintext(Blob::new(plaintext))
            .encryption_context(CONTEXT_KEY, key.as_str())
            .send()
            .await
            .map_err(classify)?;
        out.ciphertext_blob
            .map(Blob::into_inner)
            .filter(|sealed| !sealed.is_empty())
            .ok_or_else(|| {
                SealerError::Unavailable("KMS answered Encrypt without a ciphertext".into())
            })
    }

    async fn open(&self, key: &AccessKeyId, sealed: &[u8]) -> Result<Secret, SealerError> {
        if sealed.is_empty() {
            return Err(SealerError::Undecryptable("no sealed bytes".into()));
        }
        let out = self
            .client()
            .decrypt()
            .ciphertext_blob(Blob::new(sealed))
            .encryption_context(CONTEXT_KEY, key.as_str())
            .send()
            .await
            .map_err(classify)?;
        out.plaintext
            .map(|p| Secret::new(p.into_inner()))
            .ok_or_else(|| {
                SealerError::Unavailable("KMS answered Decrypt without a plaintext".into())
            })
    }
}

/// Maps an SDK failure onto what the caller must do. The SDK has already
/// retried what its retry policy covers. No request body is in the detail:
/// the SDK's error context carries codes and messages, never the plaintext.
fn classify<E, R>(err: SdkError<E, R>) -> SealerError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: Debug,
{
    let detail = DisplayErrorContext(&err).to_string();
    match &err {
        SdkError::ServiceError(service) => match service.err().code() {
            Some("InvalidCiphertextException" | "IncorrectKeyException") => {
                SealerError::Undecryptable(detail)
            }
            Some(
                "NotFoundException"
                | "DisabledException"
                | "KMSInvalidStateException"
                | "InvalidKeyUsageException"
                | "AccessDeniedException"
                | "UnrecognizedClientException"
                | "InvalidSignatureException"
                | "ExpiredTokenException",
            ) => SealerError::Misconfigured(detail),
            Some("ValidationException" | "InvalidGrantTokenException") => SealerError::Bug(detail),
            // Throttling, KMSInternalException, DependencyTimeoutException,
            // KeyUnavailableException, and anything new: may pass later.
            _ => SealerError::Unavailable(detail),
        },
        SdkError::ConstructionFailure(_) => SealerError::Bug(detail),
        _ => SealerError::Unavailable(detail),
    }
}
