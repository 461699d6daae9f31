//! What statements need beyond the meters: usage that was late for a
//! closed statement (`LATE#{acknowledged}#{event}#{A or T}` in the app's
//! partition, written by the commit that counted or voided it), and each
//! closed statement as first prepared (`STMT#{YYYY-MM}`: its figures as one
//! JSON attribute, put only if absent). The trait implementation in
//! `mod.rs` delegates here.

use super::DynamoStore;
use super::error::{built, classify, condition_held};
use super::item::{Item, get_n, get_s, n, s};
use super::keys::*;
use super::records::{put_usage, usage_in};
use crate::domain::commit::{LateWrite, Sign};
use crate::domain::ids::AppId;
use crate::domain::statement::{Month, StatementBody};
use crate::domain::time::UtcMillis;
use crate::store::{StoreError, StoreResult};
use aws_sdk_dynamodb::types::{Put, TransactWriteItem};

/// The acknowledgement instant, epoch ms (also in the sort key, sortably).
const ACKED: &str = "acked";
/// `A` (added) or `T` (taken back by a void).
const SIGN: &str = "sign";
/// The event (or void) the late usage came with, hex.
const EVENT: &str = "event";
/// A kept statement's figures, as JSON.
const BODY: &str = "body";

fn late_of(app: &AppId, item: &Item) -> StoreResult<LateWrite> {
    let corrupt = |what: &str| StoreError::Corrupt(format!("late usage {what}"));
    let acked = get_n(item, ACKED)?
        .and_then(|ms| i64::try_from(ms).ok())
        .ok_or_else(|| corrupt(ACKED))?;
    Ok(LateWrite {
        key: get_s(item, EVENT)
            .and_then(crate::domain::event::EventKey::from_hex)
            .ok_or_else(|| corrupt(EVENT))?,
        acked: UtcMillis(acked),
        usage: usage_in(item, app.clone())?,
        sign: match get_s(item, SIGN) {
            Some("A") => Sign::Add,
            Some("T") => Sign::Take,
            _ => return Err(corrupt(SIGN)),
        },
    })
}

impl DynamoStore {
    /// A late usage record: written with the usage it describes, in the
    /// same transaction; the same event's again writes the same item.
    pub(super) fn late_put(&self, late: &LateWrite) -> StoreResult<TransactWriteItem> {
        let taken = late.sign == Sign::Take;
        let mut item = key(
            app_pk(late.usage.app()),
            late_sk(late.acked, &late.key, taken),
        );
        put_usage(&mut item, &late.usage);
        item.insert(ACKED.to_owned(), n(late.acked.0));
        item.insert(SIGN.to_owned(), s(if taken { "T" } else { "A" }));
        item.insert(EVENT.to_owned(), s(late.key.hex()));
        let put = Put::builder()
            .table_name(self.table())
            .set_item(Some(item))
            .build();
        Ok(TransactWriteItem::builder().put(built(put)?).build())
    }

    pub(super) async fn late_usage_impl(
        &self,
        app: &AppId,
        since: UtcMillis,
    ) -> StoreResult<Vec<LateWrite>> {
        let (from, to) = late_range(since);
        self.query_range(app_pk(app), from, to)
            .await?
            .iter()
            .map(|item| late_of(app, item))
            .collect()
    }

    pub(super) async fn statement_impl(
        &self,
        app: &AppId,
        month: Month,
    ) -> StoreResult<Option<StatementBody>> {
        let out = self
            .client()
            .get_item()
            .table_name(self.table())
            .set_key(Some(key(app_pk(app), statement_sk(month))))
            .consistent_read(true)
            .send()
            .await
            .map_err(classify)?;
        out.item
            .map(|item| {
                get_s(&item, BODY)
                    .and_then(|body| serde_json::from_str(body).ok())
                    .ok_or_else(|| StoreError::Corrupt(format!("statement {month}")))
            })
            .transpose()
    }

    /// Put only if absent: whoever prepares a closed statement first keeps
    /// it, and every later preparation (the same figures) changes nothing.
    pub(super) async fn put_statement_impl(
        &self,
        app: &AppId,
        body: &StatementBody,
    ) -> StoreResult<()> {
        let json = serde_json::to_string(body)
            .map_err(|e| StoreError::Bug(format!("statement not serializable: {e}")))?;
        let mut item = key(app_pk(app), statement_sk(body.month));
        item.insert(BODY.to_owned(), s(json));
        let result = self
            .client()
            .put_item()
            .table_name(self.table())
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .send()
            .await;
        condition_held(result).map(|_| ())
    }
}
