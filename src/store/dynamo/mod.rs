//! The DynamoDB adapter: the storage port over one table.
//!
//! - [`keys`]: where each item lives (the key layout);
//! - [`item`]: attributes, decoding, update expressions;
//! - [`error`]: what a failed request means for its caller;
//! - this file: the requests each port operation sends.

use super::*;
use crate::domain::commit::{CommitGroup, HourAdd};
use crate::domain::time::UtcMillis;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    Get, KeysAndAttributes, Put, ReturnValue, TransactGetItem, TransactWriteItem, Update,
};

mod error;
pub mod item;
pub mod keys;
#[cfg(any(test, feature = "testkit"))]
mod meter;

use error::{built, cancellation_error, classify, condition_failed};
use item::{
    CounterWrite, EXPIRES_AT, Item, OWNER, ROLLED_SEQ, SEQ, UpdateExpr, day_record, epoch_seconds,
    get_s, hour_record, n, s,
};
pub use keys::*;
#[cfg(any(test, feature = "testkit"))]
pub use meter::{CapacityUse, RequestMeter, item_size};

/// DynamoDB's limit of actions in one `TransactWriteItems`.
const TRANSACTION_ACTION_LIMIT: usize = 100;
/// Keys per `BatchGetItem`.
const BATCH_GET_LIMIT: usize = 100;
/// Day items per page of the rollup's work list.
const PENDING_PAGE_SIZE: i32 = 200;

#[derive(Clone, Debug)]
pub struct DynamoStore {
    client: Client,
    table: String,
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoStore {
            client,
            table: table.into(),
        }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// Every item a query matches, following its pages.
    async fn query_all(&self, query: QueryFluentBuilder) -> StoreResult<Vec<Item>> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let page = query
                .clone()
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(classify)?;
            items.extend(page.items.unwrap_or_default());
            start = page.last_evaluated_key;
            if start.is_none() {
                return Ok(items);
            }
        }
    }

    /// An app's items with `sk` from `from_sk` to `to_sk`, strongly consistent.
    async fn query_range(
        &self,
        pk: String,
        from_sk: String,
        to_sk: String,
    ) -> StoreResult<Vec<Item>> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .consistent_read(true)
            .key_condition_expression("#pk = :pk AND #sk BETWEEN :from AND :to")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#sk", SK)
            .expression_attribute_values(":pk", s(pk))
            .expression_attribute_values(":from", s(from_sk))
            .expression_attribute_values(":to", s(to_sk));
        self.query_all(query).await
    }

    /// A transaction's update of one item.
    fn update(&self, key: Item, expr: UpdateExpr) -> StoreResult<TransactWriteItem> {
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key))
            .update_expression(expr.expression())
            .set_expression_attribute_names(Some(expr.names))
            .set_expression_attribute_values(Some(expr.values))
            .build();
        Ok(TransactWriteItem::builder().update(built(update)?).build())
    }

    /// The dedupe record of an event: created only if it does not exist, so
    /// a transaction holding it is cancelled if the event was counted before.
    fn dedupe_put(&self, event: &EventKey, expires: UtcMillis) -> StoreResult<TransactWriteItem> {
        let mut item = key(event_pk(event), EVENT_SK);
        item.insert(EXPIRES_AT.to_owned(), epoch_seconds(expires));
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .build();
        Ok(TransactWriteItem::builder().put(built(put)?).build())
    }

    fn hour_add(&self, app: &AppId, hour: Hour, add: &HourAdd) -> StoreResult<TransactWriteItem> {
        let mut expr = UpdateExpr::default();
        expr.counters(&add.usage, CounterWrite::Add)
            .set(EXPIRES_AT, epoch_seconds(add.expires));
        self.update(key(app_pk(app), hour_sk(hour)), expr)
    }

    /// Bumps the day's change counter and marks it for the rollup.
    fn day_touch(&self, app: &AppId, day: Day) -> StoreResult<TransactWriteItem> {
        let mut expr = UpdateExpr::default();
        expr.add(SEQ, n(1))
            .set(ROLLUP_PENDING, s(RECORDING_METER))
            .set(USAGE_DAY, s(usage_day(day)));
        self.update(key(app_pk(app), day_sk(day)), expr)
    }
}

impl UsageStore for DynamoStore {
    const MAX_COMMIT_ACTIONS: usize = TRANSACTION_ACTION_LIMIT;

    async fn owner_of(&self, app: &AppId) -> StoreResult<Option<AccountId>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(app_pk(app), REGISTRATION_SK)))
            .consistent_read(true)
            .send()
            .await
            .map_err(classify)?;
        match out.item {
            None => Ok(None),
            Some(item) => get_s(&item, OWNER)
                .and_then(AccountId::parse)
                .map(Some)
                .ok_or_else(|| StoreError::Corrupt("registration owner".into())),
        }
    }

    async fn register(&self, app: &AppId, owner: &AccountId) -> StoreResult<RegisterOutcome> {
        let mut item = key(app_pk(app), REGISTRATION_SK);
        item.insert(OWNER.to_owned(), s(owner.as_str()));
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#pk) OR #owner = :owner")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#owner", OWNER)
            .expression_attribute_values(":owner", s(owner.as_str()))
            .return_values(ReturnValue::AllOld)
            .send()
            .await;
        match result {
            Ok(out) if out.attributes.is_some() => Ok(RegisterOutcome::Unchanged),
            Ok(_) => Ok(RegisterOutcome::Registered),
            Err(err) if condition_failed(&err) => Ok(RegisterOutcome::OwnedByAnother),
            Err(err) => Err(classify(err)),
        }
    }

    async fn hours(&self, app: &AppId, first: Hour, last: Hour) -> StoreResult<Vec<HourRecord>> {
        let items = self
            .query_range(app_pk(app), hour_sk(first), hour_sk(last))
            .await?;
        items.iter().map(hour_record).collect()
    }

    async fn days(&self, app: &AppId, first: Day, last: Day) -> StoreResult<Vec<DayRecord>> {
        let items = self
            .query_range(app_pk(app), day_sk(first), day_sk(last))
            .await?;
        items.iter().map(day_record).collect()
    }

    /// One eventually consistent `BatchGetItem` per 100 keys. Keys DynamoDB
    /// leaves unprocessed (under throttling) are answered as not counted:
    /// this read only saves cost, and the transaction's conditions decide.
    async fn counted(&self, keys: &[EventKey]) -> StoreResult<HashSet<EventKey>> {
        let mut found = HashSet::new();
        for chunk in keys.chunks(BATCH_GET_LIMIT) {
            let request = built(
                KeysAndAttributes::builder()
                    .set_keys(Some(
                        chunk.iter().map(|k| key(event_pk(k), EVENT_SK)).collect(),
                    ))
                    .projection_expression("#pk")
                    .expression_attribute_names("#pk", PK)
                    .build(),
            )?;
            let out = self
                .client
                .batch_get_item()
                .request_items(&self.table, request)
                .send()
                .await
                .map_err(classify)?;
            let items = out
                .responses
                .unwrap_or_default()
                .remove(&self.table)
                .unwrap_or_default();
            found.extend(items.iter().filter_map(event_of));
        }
        Ok(found)
    }

    async fn commit(&self, group: &CommitGroup) -> StoreResult<CommitOutcome> {
        let mut actions = Vec::with_capacity(group.action_count());
        for (event, expires) in &group.events {
            actions.push(self.dedupe_put(event, *expires)?);
        }
        for ((app, hour), add) in &group.hours {
            actions.push(self.hour_add(app, *hour, add)?);
        }
        for (app, day) in &group.days {
            actions.push(self.day_touch(app, *day)?);
        }
        let err = match self
            .client
            .transact_write_items()
            .set_transact_items(Some(actions))
            .send()
            .await
        {
            Ok(_) => return Ok(CommitOutcome::Committed),
            Err(err) => err,
        };
        let Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) =
            err.as_service_error()
        else {
            return Err(classify(err));
        };
        // Reasons come one per action, in order; the dedupe puts come first.
        let reasons = cancelled.cancellation_reasons();
        let seen: Vec<EventKey> = group
            .events
            .iter()
            .zip(reasons)
            .filter(|(_, r)| r.code() == Some("ConditionalCheckFailed"))
            .map(|((key, _), _)| *key)
            .collect();
        if seen.is_empty() {
            let detail = aws_sdk_dynamodb::error::DisplayErrorContext(&err).to_string();
            Err(cancellation_error(reasons, detail))
        } else {
            Ok(CommitOutcome::AlreadyCounted(seen))
        }
    }

    async fn pending_days(&self, cursor: Option<String>) -> StoreResult<PendingPage> {
        let start = match cursor {
            None => None,
            Some(c) => {
                let (pk, sk): (String, String) = serde_json::from_str(&c)
                    .map_err(|_| StoreError::Corrupt("pending cursor".into()))?;
                let mut k = key(pk, sk);
                k.insert(ROLLUP_PENDING.to_owned(), s(RECORDING_METER));
                Some(k)
            }
        };
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(PENDING_INDEX)
            .key_condition_expression("#pending = :meter")
            .expression_attribute_names("#pending", ROLLUP_PENDING)
            .expression_attribute_values(":meter", s(RECORDING_METER))
            .limit(PENDING_PAGE_SIZE)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(classify)?;
        let days = out
            .items()
            .iter()
            .map(|item| {
                Ok(PendingDay {
                    app: app_of(item)?,
                    day: day_of(item)?,
                })
            })
            .collect::<StoreResult<Vec<_>>>()?;
        let next = match out.last_evaluated_key() {
            None => None,
            Some(k) => Some(
                serde_json::to_string(&(
                    get_s(k, PK).unwrap_or_default(),
                    get_s(k, SK).unwrap_or_default(),
                ))
                .map_err(|e| StoreError::Corrupt(e.to_string()))?,
            ),
        };
        Ok(PendingPage { days, next })
    }

    async fn apps_with_usage(&self, day: Day) -> StoreResult<Vec<AppId>> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(DAY_INDEX)
            .key_condition_expression("#day = :day")
            .expression_attribute_names("#day", USAGE_DAY)
            .expression_attribute_values(":day", s(usage_day(day)));
        self.query_all(query).await?.iter().map(app_of).collect()
    }

    /// One `TransactGetItems` of the day item and its 24 hours: a snapshot
    /// no commit can tear.
    async fn day_snapshot(&self, app: &AppId, day: Day) -> StoreResult<DaySnapshot> {
        let pk = app_pk(app);
        let get = |sk: String| -> StoreResult<TransactGetItem> {
            let get = Get::builder()
                .table_name(&self.table)
                .set_key(Some(key(pk.clone(), sk)))
                .build();
            Ok(TransactGetItem::builder().get(built(get)?).build())
        };
        let mut gets = vec![get(day_sk(day))?];
        for hour in day.hours() {
            gets.push(get(hour_sk(hour))?);
        }
        let out = self
            .client
            .transact_get_items()
            .set_transact_items(Some(gets))
            .send()
            .await
            .map_err(classify)?;
        let mut items = out
            .responses
            .unwrap_or_default()
            .into_iter()
            .map(|r| r.item);
        let record = items
            .next()
            .flatten()
            .as_ref()
            .map(day_record)
            .transpose()?;
        let hours = items
            .flatten()
            .map(|item| hour_record(&item))
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(DaySnapshot { record, hours })
    }

    async fn write_day(
        &self,
        app: &AppId,
        day: Day,
        totals: &ModeUsage,
        seq: u64,
    ) -> StoreResult<WriteDayOutcome> {
        let mut expr = UpdateExpr::default();
        let condition = format!("{} = {}", expr.name(SEQ), expr.value(n(seq)));
        expr.counters(totals, CounterWrite::Set)
            .set(ROLLED_SEQ, n(seq))
            .remove(ROLLUP_PENDING);
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(app_pk(app), day_sk(day))))
            .condition_expression(condition)
            .update_expression(expr.expression())
            .set_expression_attribute_names(Some(expr.names))
            .set_expression_attribute_values(Some(expr.values))
            .send()
            .await;
        match result {
            Ok(_) => Ok(WriteDayOutcome::Written),
            Err(err) if condition_failed(&err) => Ok(WriteDayOutcome::Changed),
            Err(err) => Err(classify(err)),
        }
    }
}
