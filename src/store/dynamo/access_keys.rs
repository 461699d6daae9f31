//! The AccessKeys' requests: one request per port operation, each on one
//! item of its own partition (see the key layout in `keys.rs`).

use super::DynamoStore;
use super::error::{classify, condition_held};
use super::item::{
    CREATED_AT, EXPIRES_AT, REQUESTS, REVOKED_AT, UpdateExpr, access_key_item, epoch_seconds, n,
    stored_access_key,
};
use super::keys::*;
use crate::domain::access_key::AccessKeyId;
use crate::domain::retention;
use crate::domain::time::UtcMillis;
use crate::store::access_keys::nonce_expiry_second;
use crate::store::{AccessKeyRecord, AccessKeyStore, StoreError, StoreResult, StoredAccessKey};

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
