//! The AccessKeys' items and requests: one request per port operation, each
//! on one item of its own partition (see the key layout in `keys.rs`). The
//! AccessKey item's attributes, its encoding and decoding are here too.

use super::DynamoStore;
use super::error::{classify, condition_held};
use super::item::{EXPIRES_AT, Item, UpdateExpr, epoch_seconds, get_s, n, number, s};
use super::keys::*;
use crate::domain::access_key::AccessKeyId;
use crate::domain::ids::AccountId;
use crate::domain::retention;
use crate::domain::time::UtcMillis;
use crate::store::access_keys::nonce_expiry_second;
use crate::store::{
    AccessKeyRecord, AccessKeyStatus, AccessKeyStore, StoreError, StoreResult, StoredAccessKey,
};
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;

/// An AccessKey's account. Not a registration's owner attribute: that is
/// the key of the `AppsByOwner` index, which must hold registrations only.
pub const KEY_ACCOUNT: &str = "key_account";
/// An AccessKey's secret, sealed under the KMS key (binary).
pub const SEALED_SECRET: &str = "sealed_secret";
/// When an AccessKey was issued and revoked (epoch milliseconds).
pub const CREATED_AT: &str = "created_at";
pub const REVOKED_AT: &str = "revoked_at";
/// Requests counted in a request counter's second.
pub const REQUESTS: &str = "n";

/// An AccessKey item's attributes.
pub fn access_key_item(record: &AccessKeyRecord) -> Item {
    let mut item = access_key_key(&record.id);
    item.extend([
        (KEY_ACCOUNT.to_owned(), s(record.account.as_str())),
        (
            SEALED_SECRET.to_owned(),
            AttributeValue::B(Blob::new(record.sealed_secret.clone())),
        ),
        (CREATED_AT.to_owned(), n(record.created_at.0)),
    ]);
    item
}

pub fn stored_access_key(item: &Item) -> StoreResult<StoredAccessKey> {
    let corrupt = |what: &str| StoreError::Corrupt(format!("access key {what}"));
    let millis = |name: &str| -> StoreResult<Option<UtcMillis>> {
        Ok(number(item, name, || corrupt(name))?.map(UtcMillis))
    };
    let record = AccessKeyRecord {
        id: access_key_of(item)?,
        account: get_s(item, KEY_ACCOUNT)
            .and_then(AccountId::parse)
            .ok_or_else(|| corrupt(KEY_ACCOUNT))?,
        sealed_secret: item
            .get(SEALED_SECRET)
            .and_then(|v| v.as_b().ok())
            .map(|b| b.as_ref().to_vec())
            .filter(|b| !b.is_empty())
            .ok_or_else(|| corrupt(SEALED_SECRET))?,
        created_at: millis(CREATED_AT)?.ok_or_else(|| corrupt(CREATED_AT))?,
    };
    let status = match millis(REVOKED_AT)? {
        None => AccessKeyStatus::Active,
        Some(at) => AccessKeyStatus::Revoked { at },
    };
    Ok(StoredAccessKey { record, status })
}

impl AccessKeyStore for DynamoStore {
    /// One `PutItem`, conditional on the key not existing.
    async fn put_access_key(&self, record: &AccessKeyRecord) -> StoreResult<()> {
        let result = self
            .client()
            .put_item()
            .table_name(self.table())
            .set_item(Some(access_key_item(record)))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .send()
            .await;
        if condition_held(result)? {
            Ok(())
        } else {
            Err(StoreError::Conflict(format!(
                "an AccessKey with id {} exists; nothing was written",
                record.id
            )))
        }
    }

    /// One eventually consistent `GetItem` (half a read unit).
    async fn access_key(&self, id: &AccessKeyId) -> StoreResult<Option<StoredAccessKey>> {
        let out = self
            .client()
            .get_item()
            .table_name(self.table())
            .set_key(Some(access_key_key(id)))
            .send()
            .await
            .map_err(classify)?;
        out.item.as_ref().map(stored_access_key).transpose()
    }

    /// One `UpdateItem`, conditional on the key existing; the revocation
    /// instant is set only if absent, so a repeat changes nothing.
    async fn revoke_access_key(&self, id: &AccessKeyId, at: UtcMillis) -> StoreResult<bool> {
        let mut expr = UpdateExpr::default();
        let (pk, created, revoked) = (expr.name(PK), expr.name(CREATED_AT), expr.name(REVOKED_AT));
        let at = expr.value(n(at.0));
        let result = self
            .client()
            .update_item()
            .table_name(self.table())
            .set_key(Some(access_key_key(id)))
            // `created_at` too: only a whole AccessKey item is revoked.
            .condition_expression(format!(
                "attribute_exists({pk}) AND attribute_exists({created})"
            ))
            .update_expression(format!("SET {revoked} = if_not_exists({revoked}, {at})"))
            .set_expression_attribute_names(Some(expr.names))
            .set_expression_attribute_values(Some(expr.values))
            .send()
            .await;
        condition_held(result)
    }

    /// One `PutItem`, conditional on no live item: absent, or its expiry
    /// past (an item TTL has not deleted yet). The put replaces it.
    async fn use_nonce(
        &self,
        key: &AccessKeyId,
        nonce: &str,
        until: UtcMillis,
        now: UtcMillis,
    ) -> StoreResult<bool> {
        let mut item = nonce_key(key, nonce);
        item.insert(EXPIRES_AT.to_owned(), n(nonce_expiry_second(until)));
        let result = self
            .client()
            .put_item()
            .table_name(self.table())
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#pk) OR #expires <= :now")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#expires", EXPIRES_AT)
            .expression_attribute_values(":now", epoch_seconds(now))
            .send()
            .await;
        condition_held(result)
    }

    /// One `UpdateItem`: `ADD n 1` if `n` is absent or below the limit.
    async fn count_request(
        &self,
        key: &AccessKeyId,
        second: i64,
        limit: u32,
        now: UtcMillis,
    ) -> StoreResult<bool> {
        if limit == 0 {
            return Ok(false);
        }
        let mut expr = UpdateExpr::default();
        expr.add(REQUESTS, n(1)).set(
            EXPIRES_AT,
            epoch_seconds(retention::rate_counter_expiry(now)),
        );
        let (count, limit) = (expr.name(REQUESTS), expr.value(n(limit)));
        let result = self
            .client()
            .update_item()
            .table_name(self.table())
            .set_key(Some(rate_key(key, second)))
            .condition_expression(format!(
                "attribute_not_exists({count}) OR {count} < {limit}"
            ))
            .update_expression(expr.expression())
            .set_expression_attribute_names(Some(expr.names))
            .set_expression_attribute_values(Some(expr.values))
            .send()
            .await;
        condition_held(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_key_items_round_trip() {
        use crate::domain::access_key::AccessKeyId;
        let record = AccessKeyRecord {
            id: AccessKeyId::parse("RTCU0123456789ABCDEFGHIJ").unwrap(),
            account: AccountId::parse("123456789012").unwrap(),
            sealed_secret: vec![0, 1, 255],
            created_at: UtcMillis(1_795_428_000_123),
        };
        let mut item = access_key_item(&record);
        let stored = stored_access_key(&item).unwrap();
        assert_eq!(stored.record, record);
        assert_eq!(stored.status, AccessKeyStatus::Active);
        item.insert(REVOKED_AT.to_owned(), n(1_795_428_001_000i64));
        assert_eq!(
            stored_access_key(&item).unwrap().status,
            AccessKeyStatus::Revoked {
                at: UtcMillis(1_795_428_001_000)
            }
        );
        for (name, bad) in [
            (KEY_ACCOUNT, s("12345678901")),
            (SEALED_SECRET, AttributeValue::B(Blob::new(Vec::new()))),
            (SEALED_SECRET, s("not binary")),
            (CREATED_AT, n("1.5")),
            (REVOKED_AT, s("yesterday")),
        ] {
            let mut broken = item.clone();
            broken.insert(name.to_owned(), bad);
            assert!(stored_access_key(&broken).is_err(), "{name}");
        }
    }
}
