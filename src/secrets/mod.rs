//! AccessKey secrets at rest: the sealing port and what uses it.
//!
//! - this file: [`SecretSealer`], sealing a secret under a key the code
//!   never holds and opening it again, and what a failure means;
//! - [`kms`]: the adapter over AWS KMS (`Encrypt`, `Decrypt`);
//! - [`cache`]: opened secrets kept per warm function, so a signed request
//!   costs no KMS call after a key's first;
//! - `memory` (test support, feature `testkit`): an in-process sealer that
//!   counts its calls and fails on demand.
//!
//! A secret is sealed bound to its AccessKey id (KMS's encryption context):
//! it opens only for that id, so a sealed secret moved onto another key's
//! record, by anyone who can write the table, does not open.

pub mod cache;
pub mod kms;
#[cfg(any(test, feature = "testkit"))]
pub mod memory;

use crate::domain::access_key::AccessKeyId;
use std::fmt;
use std::future::Future;

pub use cache::SecretCache;
pub use kms::KmsSealer;

/// What a failed seal or open means, by what the caller must do.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SealerError {
    /// KMS did not answer, answered with a server error, or throttled (the
    /// SDK has already retried): nothing is wrong with the request. Try
    /// again later.
    #[error("KMS unavailable, try again later: {0}")]
    Unavailable(String),
    /// KMS refused the key: no permission, a disabled, deleted or unknown
    /// key, bad credentials, or no key configured. Retrying cannot help; fix
    /// the deployment's configuration.
    #[error("KMS key refused, fix the configuration: {0}")]
    Misconfigured(String),
    /// These sealed bytes do not open: damaged, sealed under a key this
    /// deployment does not use, or bound to another AccessKey id. Revoke the
    /// AccessKey and issue a new one.
    #[error("the sealed secret does not open; revoke the AccessKey and issue a new one: {0}")]
    Undecryptable(String),
    /// A request this adapter built was malformed: a defect in the code.
    #[error("malformed KMS request (a defect): {0}")]
    Bug(String),
}

/// An opened secret. Its `Debug` hides it, and it has no `Display`, so it
/// cannot reach a log line by accident; [`Secret::expose`] is the one way out.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

impl Secret {
    pub fn new(bytes: Vec<u8>) -> Self {
        Secret(bytes)
    }

    /// The secret's bytes: for signature verification, and nothing else.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// Seals secrets under a key the code never holds, and opens them again.
pub trait SecretSealer: Send + Sync {
    /// `plaintext` sealed for the AccessKey `key`: opaque bytes to store.
    fn seal(
        &self,
        key: &AccessKeyId,
        plaintext: &[u8],
    ) -> impl Future<Output = Result<Vec<u8>, SealerError>> + Send;

    /// The secret `sealed` holds, if it was sealed for `key`.
    fn open(
        &self,
        key: &AccessKeyId,
        sealed: &[u8],
    ) -> impl Future<Output = Result<Secret, SealerError>> + Send;
}

impl<S: SecretSealer> SecretSealer for std::sync::Arc<S> {
    async fn seal(&self, key: &AccessKeyId, plaintext: &[u8]) -> Result<Vec<u8>, SealerError> {
        (**self).seal(key, plaintext).await
    }

    async fn open(&self, key: &AccessKeyId, sealed: &[u8]) -> Result<Secret, SealerError> {
        (**self).open(key, sealed).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_never_shows_in_debug() {
        let secret = Secret::new(b"abc123".to_vec());
        assert_eq!(format!("{secret:?}"), "Secret(<redacted>)");
        assert_eq!(secret.expose(), b"abc123");
    }
}
