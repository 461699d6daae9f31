//! The DynamoDB adapter: the storage port over one table.
//!
//! One file per aggregate, each holding its items' attribute names, their
//! decoding and the requests on them; the key layout of every item is one
//! table, in [`keys`]:
//!
//! - `registration`: app registrations, and an account's apps from the
//!   `AppsByOwner` index;
//! - `recording`: the recording meter's hours and days, the rollup's work
//!   on days, and each class's recording per day;
//! - `commit`: a batch's pre-check read of events and users counted before,
//!   and its one transaction (with the events' dedupe records);
//! - `classes`: class facts;
//! - `ledger`: the deduction's ledger (packages, prepared balances, the
//!   deduction state), its settling and its work list;
//! - `rows`: details rows and user marks;
//! - `av_hours`: the audio/video meter's hours, for the trend;
//! - `storage`: storage measurements;
//! - `access_keys`: the AccessKeys' port (keys, nonces, request counters);
//! - `turns`: a busy app's line of writers;
//! - [`keys`]: where each item lives (the key layout);
//! - [`item`]: encoding and decoding attributes, the attributes several
//!   aggregates share, update expressions;
//! - [`error`]: what a failed request means for its caller;
//! - `meter`: what requests cost, for the tests and the benchmark;
//! - this file: the store, the requests every aggregate builds on (paged
//!   queries, a page of the rollup's work list, a transaction's update and
//!   create-once put), DynamoDB's limits, and the port's implementation,
//!   one delegation per method.

use crate::domain::class::{ClassFactEvent, ClassFacts, Package, Refund};
use crate::domain::commit::{CommitGroup, LateWrite, NewEvent, UserMark, Zones};
use crate::domain::correction::Recorded;
use crate::domain::deduction::{Balance, Settled};
use crate::domain::event::EventKey;
use crate::domain::ids::{AccountId, AppId, ClassId};
use crate::domain::registration::RegistrationRequest;
use crate::domain::statement::{Month, StatementBody};
use crate::domain::storage::{Measurement, Readings};
use crate::domain::time::{Day, Hour, UtcMillis};
use crate::domain::usage::ModeUsage;
use crate::domain::zone::BillingZone;
use crate::store::{
    AvHour, CommitOutcome, DayRecord, DaySnapshot, HourRecord, LedgerInputs, PendingPage,
    RegisterOutcome, Registration, RowRecord, Seen, SetOnceOutcome, StoreResult, UsageStore,
    WriteDayOutcome,
};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::query::QueryOutput;
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{KeysAndAttributes, TransactWriteItem, Update};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::future::Future;

mod access_keys;
mod alerts;
mod av_hours;
mod classes;
mod commit;
mod error;
pub mod item;
pub mod keys;
mod ledger;
#[cfg(any(test, feature = "testkit"))]
mod meter;
mod parked;
mod recording;
mod records;
mod registration;
mod rows;
mod statements;
mod storage;
mod turns;

use error::{built, classify, condition_held};
use item::{Item, UpdateExpr, s};
pub use keys::*;
#[cfg(any(test, feature = "testkit"))]
pub use meter::{CapacityUse, RequestMeter, item_size};

/// DynamoDB's limit of actions in one `TransactWriteItems`.
const TRANSACTION_ACTION_LIMIT: usize = 100;
/// Keys per `BatchGetItem`.
const BATCH_GET_LIMIT: usize = 100;
/// Puts per `BatchWriteItem` (DynamoDB's limit).
const BATCH_WRITE_LIMIT: usize = 25;

#[derive(Clone, Debug)]
pub struct DynamoStore {
    client: Client,
    table: String,
    /// Zones read so far: a zone never changes once fixed, so each app's
    /// is read once per process.
    zones: std::sync::Arc<std::sync::Mutex<Zones>>,
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoStore {
            client,
            table: table.into(),
            zones: std::sync::Arc::default(),
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

    /// One `BatchGetItem` of `request`'s keys (at most [`BATCH_GET_LIMIT`]):
    /// the items found, and the keys DynamoDB left unprocessed (under
    /// throttling), if any.
    async fn batch_get_once(
        &self,
        request: KeysAndAttributes,
    ) -> StoreResult<(Vec<Item>, Option<KeysAndAttributes>)> {
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
        let unprocessed = out
            .unprocessed_keys
            .unwrap_or_default()
            .remove(&self.table)
            .filter(|rest| !rest.keys.is_empty());
        Ok((items, unprocessed))
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
    ) -> StoreResult<QueryOutput> {
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

    /// One transaction whose first action carries the condition that
    /// matters: whether it was carried out (`false`: only that condition
    /// failed, nothing was written); any other failure classified.
    async fn transact_unless_first_fails(
        &self,
        actions: Vec<TransactWriteItem>,
    ) -> StoreResult<bool> {
        let err = match self
            .client
            .transact_write_items()
            .set_transact_items(Some(actions))
            .send()
            .await
        {
            Ok(_) => return Ok(true),
            Err(err) => err,
        };
        let Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) =
            err.as_service_error()
        else {
            return Err(classify(err));
        };
        let reasons = cancelled.cancellation_reasons();
        if reasons
            .first()
            .is_some_and(|r| r.code() == Some("ConditionalCheckFailed"))
        {
            return Ok(false);
        }
        let detail = aws_sdk_dynamodb::error::DisplayErrorContext(&err).to_string();
        Err(error::cancellation_error(reasons, detail))
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

    /// A transaction's update of one item, made only if `condition` (over
    /// `expr`'s placeholders) holds.
    fn update_when(
        &self,
        key: Item,
        expr: UpdateExpr,
        condition: String,
    ) -> StoreResult<TransactWriteItem> {
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key))
            .update_expression(expr.expression())
            .condition_expression(condition)
            .set_expression_attribute_names(Some(expr.names))
            .set_expression_attribute_values(Some(expr.values))
            .build();
        Ok(TransactWriteItem::builder().update(built(update)?).build())
    }

    /// One `UpdateItem` of `expr`'s names and values with `update` as its
    /// expression, applied only if `condition` holds: whether it held (a
    /// rollup's write that a newer change has overtaken is simply not made).
    async fn update_if(
        &self,
        key: Item,
        condition: String,
        update: String,
        expr: UpdateExpr,
    ) -> StoreResult<bool> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .condition_expression(condition)
            .update_expression(update)
            .set_expression_attribute_names(Some(expr.names))
            // DynamoDB refuses an empty map of values.
            .set_expression_attribute_values((!expr.values.is_empty()).then_some(expr.values))
            .send()
            .await;
        condition_held(result)
    }
}

// Each method hands back its aggregate's future as it is: an `async`
// wrapper here would nest every request's future one level deeper.
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
        request: &RegistrationRequest,
        default_zone: &BillingZone,
    ) -> impl Future<Output = StoreResult<RegisterOutcome>> + Send {
        self.register_app_impl(app, request, default_zone)
    }

    fn open_app(&self, app: &AppId) -> impl Future<Output = StoreResult<()>> + Send {
        self.open_app_impl(app)
    }

    fn zones(&self, apps: &[AppId]) -> impl Future<Output = StoreResult<Zones>> + Send {
        self.zones_impl(apps)
    }

    fn parked(&self, app: &AppId) -> impl Future<Output = StoreResult<Vec<NewEvent>>> + Send {
        self.parked_impl(app)
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

    fn seen(
        &self,
        keys: &[EventKey],
        users: &[UserMark],
    ) -> impl Future<Output = StoreResult<Seen>> + Send {
        self.seen_impl(keys, users)
    }

    fn records(
        &self,
        keys: &[EventKey],
    ) -> impl Future<Output = StoreResult<HashMap<EventKey, Recorded>>> + Send {
        self.records_impl(keys)
    }

    fn refund_package(
        &self,
        refund: &Refund,
        at: UtcMillis,
    ) -> impl Future<Output = StoreResult<()>> + Send {
        self.refund_package_impl(refund, at)
    }

    fn late_usage(
        &self,
        app: &AppId,
        since: UtcMillis,
    ) -> impl Future<Output = StoreResult<Vec<LateWrite>>> + Send {
        self.late_usage_impl(app, since)
    }

    fn statement(
        &self,
        app: &AppId,
        month: Month,
    ) -> impl Future<Output = StoreResult<Option<StatementBody>>> + Send {
        self.statement_impl(app, month)
    }

    fn put_statement(
        &self,
        app: &AppId,
        body: &StatementBody,
    ) -> impl Future<Output = StoreResult<()>> + Send {
        self.put_statement_impl(app, body)
    }

    fn apps_of(
        &self,
        owner: &AccountId,
    ) -> impl Future<Output = StoreResult<Vec<(AppId, Registration)>>> + Send {
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
    ) -> impl Future<Output = StoreResult<Vec<AvHour>>> + Send {
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

    fn commit(
        &self,
        group: &CommitGroup,
    ) -> impl Future<Output = StoreResult<CommitOutcome>> + Send {
        self.commit_impl(group)
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
        measurements: &[Measurement],
    ) -> impl Future<Output = StoreResult<()>> + Send {
        self.put_measurements_impl(measurements)
    }

    fn measurements(
        &self,
        app: &AppId,
        since: UtcMillis,
        from: UtcMillis,
        to: UtcMillis,
    ) -> impl Future<Output = StoreResult<Readings>> + Send {
        self.measurements_impl(app, since, from, to)
    }
}
