//! Alibaba-signed access: the account a request signed with an AccessKey
//! speaks for, checked in the contract's order before any usage rule. Each
//! step refuses with its own code:
//!
//! 1. no signature at all → 403 `Forbidden.RAM`;
//! 2. an unknown or revoked AccessKey → 403 `InvalidAccessKeyId.NotFound`;
//! 3. a signature that does not match the key's secret → 403 `SignatureDoesNotMatch`;
//! 4. a timestamp more than 15 minutes off → 400 `InvalidTimeStamp.Expired`;
//! 5. a nonce already used with the key within that time → 400 `SignatureNonceUsed`;
//! 6. more than [`REQUESTS_PER_SECOND`] of the key's requests in one
//!    second → 429 `Throttling.User`.
//!
//! Only a request whose signature matched uses up its nonce and counts
//! toward the rate: a forger can neither burn a caller's nonces nor their
//! rate. Nothing here logs a secret, a signature or a nonce.

use crate::domain::access_key::AccessKeyId;
use crate::domain::error::{ApiError, ErrorCode};
use crate::domain::ids::AccountId;
use crate::domain::retention;
use crate::domain::signature::{self, HttpRequest, Scheme};
use crate::domain::time::UtcMillis;
use crate::secrets::{SecretCache, SecretSealer};
use crate::service::access::internal;
use crate::store::access_keys::AccessKeyStore;

/// Requests one AccessKey may make in one second.
pub const REQUESTS_PER_SECOND: u32 = 10;

/// Who a verified request is from, and how it was signed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedCaller {
    pub account: AccountId,
    pub scheme: Scheme,
}

/// The caller of a request on the Alibaba-signed API, or the refusal.
pub async fn authenticate<K: AccessKeyStore, S: SecretSealer>(
    keys: &K,
    secrets: &SecretCache<S>,
    request: &HttpRequest<'_>,
    now: UtcMillis,
) -> Result<SignedCaller, ApiError> {
    let presented = match signature::presented(request) {
        Ok(Some(presented)) => presented,
        Ok(None) => return Err(ApiError::unsigned()),
        Err(malformed) => return Err(ApiError::new(malformed.code())),
    };
    let unknown = || ApiError::new(ErrorCode::InvalidAccessKeyIdNotFound);
    // An id no issued key can have is unknown without a read.
    let id = AccessKeyId::parse(&presented.access_key_id).ok_or_else(unknown)?;
    let key = keys
        .access_key(&id)
        .await
        .map_err(internal)?
        .filter(|key| key.is_active())
        .ok_or_else(unknown)?;
    let secret = secrets
        .secret(&id, &key.record.sealed_secret)
        .await
        .map_err(|err| {
            tracing::error!(error = %err, "an AccessKey secret could not be opened");
            ApiError::new(ErrorCode::InternalError)
        })?;
    // Issued secrets are ASCII (usage-keys); anything else is a damaged item.
    let secret = std::str::from_utf8(secret.expose()).map_err(|_| {
        tracing::error!("an AccessKey secret is not text");
        ApiError::new(ErrorCode::InternalError)
    })?;
    if !signature::verify(request, &presented, secret) {
        return Err(ApiError::new(ErrorCode::SignatureDoesNotMatch));
    }
    let timestamp = presented
        .timestamp
        .filter(|_| signature::timestamp_ok(&presented, now))
        .ok_or_else(|| ApiError::new(ErrorCode::InvalidTimeStampExpired))?;
    let until = retention::nonce_expiry(timestamp, now);
    if !keys
        .use_nonce(&id, &presented.nonce, until, now)
        .await
        .map_err(internal)?
    {
        return Err(ApiError::new(ErrorCode::SignatureNonceUsed));
    }
    let second = now.0.div_euclid(1000);
    if !keys
        .count_request(&id, second, REQUESTS_PER_SECOND, now)
        .await
        .map_err(internal)?
    {
        return Err(ApiError::new(ErrorCode::ThrottlingUser));
    }
    Ok(SignedCaller {
        account: key.record.account,
        scheme: presented.scheme,
    })
}
