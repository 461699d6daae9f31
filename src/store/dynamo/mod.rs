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
use crate::domain::commit::{AvMillis, CommitGroup, UserMark};
use crate::domain::deduction::{Balance, Settled};
use crate::domain::ids::{ClassId, Name};
use crate::domain::time::UtcMillis;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{KeysAndAttributes, Put, TransactWriteItem, Update};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::future::Future;

mod access_keys;
mod av_hours;
mod classes;
mod error;
pub mod item;
pub mod keys;
mod ledger;
#[cfg(any(test, feature = "testkit"))]
mod meter;
mod recording;
mod registration;
mod rows;
mod storage;

use error::{built, cancellation_error, classify};
use item::{EXPIRES_AT, Item, UpdateExpr, epoch_seconds, get_s, s};
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

    /// A transaction's put of an item that must not exist yet, expiring at
    /// `expires`: the transaction is cancelled if the item exists.
    fn put_new(&self, mut item: Item, expires: UtcMillis) -> StoreResult<TransactWriteItem> {
        item.insert(EXPIRES_AT.to_owned(), epoch_seconds(expires));
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .build();
        Ok(TransactWriteItem::builder().put(built(put)?).build())
    }

    /// The dedupe record of an event: created only if it does not exist, so
    /// a transaction holding it is cancelled if the event was counted before.
    fn dedupe_put(&self, event: &EventKey, expires: UtcMillis) -> StoreResult<TransactWriteItem> {
        self.put_new(key(event_pk(event), EVENT_SK), expires)
    }
}

impl UsageStore for DynamoStore {
    const MAX_COMMIT_ACTIONS: usize = TRANSACTION_ACTION_LIMIT;

    fn registration(
        &self,
        app: &AppId,
    ) -> impl Future<Output = StoreResult<Option<Registration>>> + Send {
        self.registration_impl(app)
    }

    fn register_app(
        &self,
        app: &AppId,
        owner: &AccountId,
        name: Option<&Name>,
    ) -> impl Future<Output = StoreResult<RegisterOutcome>> + Send {
        self.register_app_impl(app, owner, name)
    }

    fn hours(
        &self,
        app: &AppId,
        first: Hour,
        last: Hour,
    ) -> impl Future<Output = StoreResult<Vec<HourRecord>>> + Send {
        self.hours_impl(app, first, last)
    }

    fn days(
        &self,
        app: &AppId,
        first: Day,
        last: Day,
    ) -> impl Future<Output = StoreResult<Vec<DayRecord>>> + Send {
        self.days_impl(app, first, last)
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

    fn apps_of(
        &self,
        owner: &AccountId,
    ) -> impl Future<Output = StoreResult<Vec<(AppId, Option<Name>)>>> + Send {
        self.apps_of_impl(owner)
    }

    fn apply_class_fact(
        &self,
        fact: &ClassFactEvent,
    ) -> impl Future<Output = StoreResult<SetOnceOutcome>> + Send {
        self.apply_class_fact_impl(fact)
    }

    fn put_package(
        &self,
        package: &Package,
    ) -> impl Future<Output = StoreResult<SetOnceOutcome>> + Send {
        self.put_package_impl(package)
    }

    fn packages(&self, app: &AppId) -> impl Future<Output = StoreResult<Vec<Package>>> + Send {
        self.packages_impl(app)
    }

    fn class_facts(
        &self,
        app: &AppId,
        classes: &[ClassId],
    ) -> impl Future<Output = StoreResult<BTreeMap<ClassId, ClassFacts>>> + Send {
        self.class_facts_impl(app, classes)
    }

    fn ledger_inputs(
        &self,
        app: &AppId,
        from: Day,
    ) -> impl Future<Output = StoreResult<LedgerInputs>> + Send {
        self.ledger_inputs_impl(app, from)
    }

    fn balance(
        &self,
        app: &AppId,
        day: Day,
    ) -> impl Future<Output = StoreResult<Option<Balance>>> + Send {
        self.balance_impl(app, day)
    }

    fn write_balances(
        &self,
        app: &AppId,
        balances: &[Balance],
    ) -> impl Future<Output = StoreResult<bool>> + Send {
        self.write_balances_impl(app, balances)
    }

    fn settle(
        &self,
        app: &AppId,
        settled: Settled,
        seen: &BTreeSet<Day>,
    ) -> impl Future<Output = StoreResult<WriteDayOutcome>> + Send {
        self.settle_impl(app, settled, seen)
    }

    fn pending_apps(
        &self,
        cursor: Option<String>,
    ) -> impl Future<Output = StoreResult<(Vec<AppId>, Option<String>)>> + Send {
        self.pending_apps_impl(cursor)
    }

    fn av_hours(
        &self,
        app: &AppId,
        first: Hour,
        last: Hour,
    ) -> impl Future<Output = StoreResult<Vec<(Hour, AvMillis)>>> + Send {
        self.av_hours_impl(app, first, last)
    }

    fn class_recordings(
        &self,
        app: &AppId,
        first: Day,
        last: Day,
    ) -> impl Future<Output = StoreResult<Vec<(Day, ClassId, u64)>>> + Send {
        self.class_recordings_impl(app, first, last)
    }

    fn av_rows(
        &self,
        app: &AppId,
        first: Day,
        last: Day,
    ) -> impl Future<Output = StoreResult<Vec<RowRecord>>> + Send {
        self.av_rows_impl(app, first, last)
    }

    async fn commit(&self, group: &CommitGroup) -> StoreResult<CommitOutcome> {
        let mut actions = Vec::with_capacity(group.action_count());
        for (event, expires) in &group.events {
            actions.push(self.dedupe_put(event, *expires)?);
        }
        // The conditional puts come first, so that the cancellation reasons
        // (one per action, in order) name them by position.
        for (mark, expires) in &group.new_users {
            actions.push(self.user_mark_put(mark, *expires)?);
        }
        for ((app, hour), add) in &group.av_hours {
            actions.push(self.av_hour_add(app, *hour, add)?);
        }
        for ((app, day, class), ms) in &group.class_recordings {
            actions.push(self.class_recording_add(app, *day, class, *ms)?);
        }
        for (row, add) in &group.rows {
            actions.push(self.row_add(row, add)?);
        }
        for (app, days) in &group.av_changes {
            actions.push(self.state_touch(app, days.iter().copied())?);
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

    fn pending_days(
        &self,
        cursor: Option<String>,
    ) -> impl Future<Output = StoreResult<PendingPage>> + Send {
        self.pending_days_impl(cursor)
    }

    fn apps_with_usage(&self, day: Day) -> impl Future<Output = StoreResult<Vec<AppId>>> + Send {
        self.apps_with_usage_impl(day)
    }

    fn day_snapshot(
        &self,
        app: &AppId,
        day: Day,
    ) -> impl Future<Output = StoreResult<DaySnapshot>> + Send {
        self.day_snapshot_impl(app, day)
    }

    fn write_day(
        &self,
        app: &AppId,
        day: Day,
        totals: &ModeUsage,
        seq: u64,
    ) -> impl Future<Output = StoreResult<WriteDayOutcome>> + Send {
        self.write_day_impl(app, day, totals, seq)
    }

    fn put_measurements(
        &self,
        measurements: &[crate::domain::storage::Measurement],
    ) -> impl Future<Output = StoreResult<()>> + Send {
        self.put_measurements_impl(measurements)
    }

    fn measurements(
        &self,
        app: &AppId,
        since: UtcMillis,
        from: UtcMillis,
        to: UtcMillis,
    ) -> impl Future<Output = StoreResult<crate::domain::storage::Readings>> + Send {
        self.measurements_impl(app, since, from, to)
    }
}
