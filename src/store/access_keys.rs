//! The AccessKeys' storage port: the keys the operator issues, the nonces
//! signed requests use up, and the per-second request counters. A port of
//! its own, so [`super::UsageStore`] (what the usage functions need) does not
//! grow with it; both stores implement both.
//!
//! A verified signed request costs one read and two writes: the key
//! ([`AccessKeyStore::access_key`], an eventually consistent `GetItem`), its
//! nonce ([`AccessKeyStore::use_nonce`], one conditional `PutItem`) and its
//! second's counter ([`AccessKeyStore::count_request`], one conditional
//! `UpdateItem`), each item well under 1 KB: one unit each.

use super::StoreResult;
use crate::domain::access_key::AccessKeyId;
use crate::domain::ids::AccountId;
use crate::domain::time::UtcMillis;
use std::future::Future;

/// An AccessKey as issued: whose it is and its secret, sealed (encrypted
/// under the deployment's KMS key, bound to the id); never the secret itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessKeyRecord {
    pub id: AccessKeyId,
    /// The account a request signed with this key is answered as.
    pub account: AccountId,
    pub sealed_secret: Vec<u8>,
    pub created_at: UtcMillis,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccessKeyStatus {
    Active,
    /// Refused from then on; the first revocation's instant.
    Revoked {
        at: UtcMillis,
    },
}

/// A stored AccessKey: the record and whether it may still be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredAccessKey {
    pub record: AccessKeyRecord,
    pub status: AccessKeyStatus,
}

impl StoredAccessKey {
    pub fn is_active(&self) -> bool {
        self.status == AccessKeyStatus::Active
    }
}

pub trait AccessKeyStore: Send + Sync {
    /// Stores a new AccessKey, only if no key with its id exists (whatever
    /// its state, revoked included): an existing id is
    /// [`super::StoreError::Conflict`] and nothing is written.
    fn put_access_key(
        &self,
        record: &AccessKeyRecord,
    ) -> impl Future<Output = StoreResult<()>> + Send;

    /// The key with this id, if one was issued. Eventually consistent (half
    /// the read cost of a strongly consistent read): a key issued or revoked
    /// a moment ago may be seen in its former state for about a second,
    /// which DynamoDB documents as the usual replication delay; a revocation
    /// takes effect well within a minute.
    fn access_key(
        &self,
        id: &AccessKeyId,
    ) -> impl Future<Output = StoreResult<Option<StoredAccessKey>>> + Send;

    /// Revokes the key at `at`. Idempotent: revoking a revoked key changes
    /// nothing (the first instant stays). `false`: no such key, nothing
    /// written.
    fn revoke_access_key(
        &self,
        id: &AccessKeyId,
        at: UtcMillis,
    ) -> impl Future<Output = StoreResult<bool>> + Send;

    /// Uses up `nonce` for the key until `until` (from
    /// [`crate::domain::retention::nonce_expiry`]; in use at every instant
    /// before it, rounded up to a whole second): `true` if it was fresh —
    /// never used with this key, or its last use has expired (TTL deletes
    /// expired items lazily, up to days later, so an expired item is treated
    /// as absent) — `false` if it is in use, and then nothing is written.
    /// Atomic: of concurrent uses of one nonce, exactly one is fresh. Nonces
    /// are per key: another key's same nonce is its own. Any nonce text is
    /// accepted: the store keeps a fixed-size digest of it, never the text.
    fn use_nonce(
        &self,
        key: &AccessKeyId,
        nonce: &str,
        until: UtcMillis,
        now: UtcMillis,
    ) -> impl Future<Output = StoreResult<bool>> + Send;

    /// Counts a request of the key in epoch second `second`, only if fewer
    /// than `limit` were counted in that second: `true` if it was counted
    /// (within the limit), `false` if the second is full (nothing changes).
    /// Atomic: of concurrent requests, exactly `limit` per second are
    /// counted. The counter lives until
    /// [`crate::domain::retention::rate_counter_expiry`] of `now`.
    fn count_request(
        &self,
        key: &AccessKeyId,
        second: i64,
        limit: u32,
        now: UtcMillis,
    ) -> impl Future<Output = StoreResult<bool>> + Send;
}

/// A nonce's expiry as stored: DynamoDB's TTL is whole epoch seconds, so
/// `until` rounded up (the item never expires before `until`). Both stores
/// use it, and [`nonce_expired`], so they agree to the millisecond.
pub fn nonce_expiry_second(until: UtcMillis) -> i64 {
    until.0.div_euclid(1000) + i64::from(until.0.rem_euclid(1000) != 0)
}

/// Whether a nonce stored with expiry `expiry_second` has expired at `now`.
pub fn nonce_expired(expiry_second: i64, now: UtcMillis) -> bool {
    now.0.div_euclid(1000) >= expiry_second
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nonce_expires_at_its_instant_rounded_up_to_the_second() {
        for (until, second) in [(5_000, 5), (5_001, 6), (5_999, 6), (0, 0), (-1, 0)] {
            assert_eq!(nonce_expiry_second(UtcMillis(until)), second, "{until}");
        }
        let stored = nonce_expiry_second(UtcMillis(5_001));
        assert!(!nonce_expired(stored, UtcMillis(5_001)));
        assert!(!nonce_expired(stored, UtcMillis(5_999)));
        assert!(nonce_expired(stored, UtcMillis(6_000)));
        let stored = nonce_expiry_second(UtcMillis(5_000));
        assert!(!nonce_expired(stored, UtcMillis(4_999)));
        assert!(nonce_expired(stored, UtcMillis(5_000)));
    }
}
