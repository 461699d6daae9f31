//! The DynamoDB adapter: the storage port over one table.
//!
//! - [`keys`]: where each item lives (the key layout);
//! - [`item`]: attributes, decoding, update expressions;
//! - [`error`]: what a failed request means for its caller;
//! - `av`: the audio/video requests (classes, packages, rows);
//! - `storage`: the storage measurements' requests;
//! - `access_keys`: the AccessKeys' port (keys, nonces, request counters);
//! - this file: the recording and registration requests, and the trait.

use super::*;
use crate::domain::class::{ClassFactEvent, ClassFacts, Package};
use crate::domain::commit::{AvMillis, CommitGroup, HourAdd, UserMark};
use crate::domain::deduction::{Balance, Settled};
use crate::domain::ids::{ClassId, Name};
use crate::domain::time::UtcMillis;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    Get, KeysAndAttributes, Put, TransactGetItem, TransactWriteItem, Update,
};
use std::collections::{BTreeMap, BTreeSet, HashMap};

mod access_keys;
mod av;
mod error;
pub mod item;
pub mod keys;
#[cfg(any(test, feature = "testkit"))]
mod meter;
mod registration;
mod storage;

use error::{built, cancellation_error, classify, condition_held};
use item::{
    CounterWrite, EXPIRES_AT, Item, ROLLED_SEQ, SEQ, UpdateExpr, day_record, epoch_seconds, get_s,
    hour_record, n, s,
};
pub use keys::*;
#[cfg(any(test, feature = "testkit"))]
pub use meter::{CapacityUse, RequestMeter, item_size};

/// What a key asked for in a pre-check read stands for.
enum Found {
    Event(EventKey),
    User(UserMark),
}

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
        // An empty range has nothing in it; DynamoDB refuses to be asked.
        if from_sk > to_sk {
            return Ok(Vec::new());
        }
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

    /// One page of a meter's work list in the sparse `PendingRollup` index.
    async fn pending_page(
        &self,
        meter: &str,
        limit: i32,
        start: Option<Item>,
    ) -> StoreResult<aws_sdk_dynamodb::operation::query::QueryOutput> {
        self.client
            .query()
            .table_name(&self.table)
            .index_name(PENDING_INDEX)
            .key_condition_expression("#pending = :meter")
            .expression_attribute_names("#pending", ROLLUP_PENDING)
            .expression_attribute_values(":meter", s(meter))
            .limit(limit)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(classify)
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

    async fn registration(&self, app: &AppId) -> StoreResult<Option<Registration>> {
        self.registration_impl(app).await
    }

    async fn register_app(
        &self,
        app: &AppId,
        owner: &AccountId,
        name: Option<&Name>,
    ) -> StoreResult<RegisterOutcome> {
        self.register_app_impl(app, owner, name).await
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
    /// leaves unprocessed (under throttling) are answered as not seen: this
    /// read only saves cost, and the transaction's conditions decide.
    async fn seen(&self, keys: &[EventKey], users: &[UserMark]) -> StoreResult<Seen> {
        let pair = |item: &Item| {
            (
                get_s(item, PK).map(str::to_owned),
                get_s(item, SK).map(str::to_owned),
            )
        };
        let mut wanted = HashMap::new();
        let mut all: Vec<Item> = Vec::with_capacity(keys.len() + users.len());
        for (item, found) in keys
            .iter()
            .map(|k| (key(event_pk(k), EVENT_SK), Found::Event(*k)))
            .chain(
                users
                    .iter()
                    .map(|m| (user_mark_key(m), Found::User(m.clone()))),
            )
        {
            wanted.insert(pair(&item), found);
            all.push(item);
        }
        let mut found = Seen::default();
        for chunk in all.chunks(BATCH_GET_LIMIT) {
            let request = built(
                KeysAndAttributes::builder()
                    .set_keys(Some(chunk.to_vec()))
                    .projection_expression("#pk, #sk")
                    .expression_attribute_names("#pk", PK)
                    .expression_attribute_names("#sk", SK)
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
            for item in items {
                match wanted.get(&pair(&item)) {
                    Some(Found::Event(k)) => {
                        found.events.insert(*k);
                    }
                    Some(Found::User(mark)) => {
                        found.users.insert(mark.clone());
                    }
                    None => {}
                }
            }
        }
        Ok(found)
    }

    async fn apps_of(&self, owner: &AccountId) -> StoreResult<Vec<(AppId, Option<Name>)>> {
        self.apps_of_impl(owner).await
    }

    async fn apply_class_fact(&self, fact: &ClassFactEvent) -> StoreResult<SetOnceOutcome> {
        self.apply_class_fact_impl(fact).await
    }

    async fn put_package(&self, package: &Package) -> StoreResult<SetOnceOutcome> {
        self.put_package_impl(package).await
    }

    async fn packages(&self, app: &AppId) -> StoreResult<Vec<Package>> {
        self.packages_impl(app).await
    }

    async fn class_facts(
        &self,
        app: &AppId,
        classes: &[ClassId],
    ) -> StoreResult<BTreeMap<ClassId, ClassFacts>> {
        self.class_facts_impl(app, classes).await
    }

    async fn ledger_inputs(&self, app: &AppId, from: Day) -> StoreResult<LedgerInputs> {
        self.ledger_inputs_impl(app, from).await
    }

    async fn balance(&self, app: &AppId, day: Day) -> StoreResult<Option<Balance>> {
        self.balance_impl(app, day).await
    }

    async fn write_balances(&self, app: &AppId, balances: &[Balance]) -> StoreResult<bool> {
        self.write_balances_impl(app, balances).await
    }

    async fn settle(
        &self,
        app: &AppId,
        settled: Settled,
        seen: &BTreeSet<Day>,
    ) -> StoreResult<WriteDayOutcome> {
        self.settle_impl(app, settled, seen).await
    }

    async fn pending_apps(
        &self,
        cursor: Option<String>,
    ) -> StoreResult<(Vec<AppId>, Option<String>)> {
        self.pending_apps_impl(cursor).await
    }

    async fn av_hours(
        &self,
        app: &AppId,
        first: Hour,
        last: Hour,
    ) -> StoreResult<Vec<(Hour, AvMillis)>> {
        self.av_hours_impl(app, first, last).await
    }

    async fn class_recordings(
        &self,
        app: &AppId,
        first: Day,
        last: Day,
    ) -> StoreResult<Vec<(Day, ClassId, u64)>> {
        self.class_recordings_impl(app, first, last).await
    }

    async fn av_rows(&self, app: &AppId, first: Day, last: Day) -> StoreResult<Vec<RowRecord>> {
        self.av_rows_impl(app, first, last).await
    }

    async fn commit(&self, group: &CommitGroup) -> StoreResult<CommitOutcome> {
        let mut actions = Vec::with_capacity(group.action_count());
        for (event, expires) in &group.events {
            actions.push(self.dedupe_put(event, *expires)?);
        }
        // The conditional puts come first, so that the cancellation reasons
        // (one per action, in order) name them by position.
        actions.extend(self.user_mark_puts(group)?);
        actions.extend(self.av_updates(group)?);
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
        // Reasons come one per action, in order: the dedupe puts, then the
        // user marks.
        let reasons = cancelled.cancellation_reasons();
        let failed =
            |i: usize| reasons.get(i).and_then(|r| r.code()) == Some("ConditionalCheckFailed");
        let seen: Vec<EventKey> = (group.events.iter().enumerate())
            .filter(|(i, _)| failed(*i))
            .map(|(_, (key, _))| *key)
            .collect();
        let users: Vec<UserMark> = (group.new_users.keys().enumerate())
            .filter(|(i, _)| failed(group.events.len() + i))
            .map(|(_, mark)| mark.clone())
            .collect();
        if !seen.is_empty() {
            Ok(CommitOutcome::AlreadyCounted(seen))
        } else if !users.is_empty() {
            Ok(CommitOutcome::UsersSeen(users))
        } else {
            let detail = aws_sdk_dynamodb::error::DisplayErrorContext(&err).to_string();
            Err(cancellation_error(reasons, detail))
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
            .pending_page(RECORDING_METER, PENDING_PAGE_SIZE, start)
            .await?;
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
        Ok(if condition_held(result)? {
            WriteDayOutcome::Written
        } else {
            WriteDayOutcome::Changed
        })
    }

    async fn put_measurements(
        &self,
        measurements: &[crate::domain::storage::Measurement],
    ) -> StoreResult<()> {
        self.put_measurements_impl(measurements).await
    }

    async fn measurements(
        &self,
        app: &AppId,
        since: UtcMillis,
        from: UtcMillis,
        to: UtcMillis,
    ) -> StoreResult<crate::domain::storage::Readings> {
        self.measurements_impl(app, since, from, to).await
    }
}
