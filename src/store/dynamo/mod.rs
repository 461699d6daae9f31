//! The DynamoDB adapter: one table, items keyed as the README's data model says.
//!
//! | item | pk | sk |
//! | --- | --- | --- |
//! | app registration | `APP#{appId}` | `REGISTRATION` |
//! | recording usage, hourly | `APP#{appId}` | `REC#H#{YYYY-MM-DDThh}` |
//! | recording usage, daily | `APP#{appId}` | `REC#D#{YYYY-MM-DD}` |
//! | event dedupe record | `EVT#{digest of source, id}` | `EVT` |
//!
//! An app's hours (and days) are one contiguous, sortable key range, so a
//! 31-day query is one `Query` page.

use super::*;
use crate::domain::commit::CommitGroup;
use crate::domain::time::UtcMillis;
use crate::domain::usage::{RecordMode, Tier};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, Get, GlobalSecondaryIndex, KeySchemaElement,
    KeyType, KeysAndAttributes, Projection, ProjectionType, Put, ScalarAttributeType,
    TransactGetItem, TransactWriteItem, Update,
};
use std::collections::HashMap;
use std::fmt::Debug;

mod meter;
pub use meter::{CapacityUse, RequestMeter, item_size};

pub const PK: &str = "pk";
pub const SK: &str = "sk";
/// TTL attribute (epoch seconds) of hourly items and dedupe records.
pub const EXPIRES_AT: &str = "expires_at";
pub const OWNER: &str = "owner_account";
pub const SEQ: &str = "seq";
pub const ROLLED_SEQ: &str = "rolled_seq";
/// Set on a day item while it has changes the rollup has not taken in; the
/// key of the sparse `PendingRollup` index. Its value names the meter.
pub const ROLLUP_PENDING: &str = "rollup_pending";
/// Set on every day item; the key of the `UsageByDay` index.
pub const USAGE_DAY: &str = "usage_day";
pub const PENDING_INDEX: &str = "PendingRollup";
pub const DAY_INDEX: &str = "UsageByDay";

const RECORDING_METER: &str = "REC";
const REGISTRATION_SK: &str = "REGISTRATION";
const EVENT_SK: &str = "EVT";
const HOUR_PREFIX: &str = "REC#H#";
const DAY_PREFIX: &str = "REC#D#";
const APP_PREFIX: &str = "APP#";
const EVENT_PREFIX: &str = "EVT#";
const PENDING_PAGE_SIZE: i32 = 200;
const BATCH_GET_LIMIT: usize = 100;

type Item = HashMap<String, AttributeValue>;

pub fn app_pk(app: &AppId) -> String {
    format!("{APP_PREFIX}{app}")
}
pub fn hour_sk(hour: Hour) -> String {
    format!("{HOUR_PREFIX}{}", hour.key())
}
pub fn day_sk(day: Day) -> String {
    format!("{DAY_PREFIX}{}", day.key())
}
pub fn event_pk(key: &EventKey) -> String {
    format!("{EVENT_PREFIX}{}", key.hex())
}
/// `r{mode}_{tier}`, e.g. `r1_720`: milliseconds of mode 1 (mixed) at 720p.
pub fn counter_attr(mode: RecordMode, tier: Tier) -> String {
    format!("r{}_{}", mode.as_str(), tier.short_name())
}

fn s(text: impl Into<String>) -> AttributeValue {
    AttributeValue::S(text.into())
}
fn n(number: impl ToString) -> AttributeValue {
    AttributeValue::N(number.to_string())
}
fn epoch_seconds(at: UtcMillis) -> i64 {
    at.0.div_euclid(1000)
}
fn key(pk: String, sk: impl Into<String>) -> Item {
    HashMap::from([(PK.to_owned(), s(pk)), (SK.to_owned(), s(sk))])
}

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

    /// Creates the table as `template.yaml` declares it (tests and local runs).
    pub async fn create_table(client: &Client, table: &str) -> StoreResult<()> {
        let attr = |name: &str| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()
        };
        let key = |name: &str, kind: KeyType| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(kind)
                .build()
        };
        let index = |name: &str, hash: &str, range: &str| -> StoreResult<GlobalSecondaryIndex> {
            built(
                GlobalSecondaryIndex::builder()
                    .index_name(name)
                    .key_schema(built(key(hash, KeyType::Hash))?)
                    .key_schema(built(key(range, KeyType::Range))?)
                    .projection(
                        Projection::builder()
                            .projection_type(ProjectionType::KeysOnly)
                            .build(),
                    )
                    .build(),
            )
        };
        client
            .create_table()
            .table_name(table)
            .billing_mode(BillingMode::PayPerRequest)
            .set_attribute_definitions(Some(
                [PK, SK, ROLLUP_PENDING, USAGE_DAY]
                    .into_iter()
                    .map(|a| built(attr(a)))
                    .collect::<StoreResult<Vec<_>>>()?,
            ))
            .key_schema(built(key(PK, KeyType::Hash))?)
            .key_schema(built(key(SK, KeyType::Range))?)
            .global_secondary_indexes(index(PENDING_INDEX, ROLLUP_PENDING, SK)?)
            .global_secondary_indexes(index(DAY_INDEX, USAGE_DAY, PK)?)
            .send()
            .await
            .map_err(classify)?;
        client
            .update_time_to_live()
            .table_name(table)
            .time_to_live_specification(built(
                aws_sdk_dynamodb::types::TimeToLiveSpecification::builder()
                    .attribute_name(EXPIRES_AT)
                    .enabled(true)
                    .build(),
            )?)
            .send()
            .await
            .map_err(classify)?;
        Ok(())
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
}

fn built<T, E: std::fmt::Display>(result: Result<T, E>) -> StoreResult<T> {
    result.map_err(|e| StoreError::Unavailable(format!("could not build a request: {e}")))
}

/// Maps an SDK failure onto what callers must do about it. Anything that
/// is not a definite refusal by DynamoDB may have taken effect.
fn classify<E, R>(err: SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: Debug,
{
    let detail = DisplayErrorContext(&err).to_string();
    match &err {
        SdkError::ServiceError(service) => match service.err().code() {
            Some(
                "ProvisionedThroughputExceededException"
                | "ThrottlingException"
                | "RequestLimitExceeded",
            ) => StoreError::Throttled(detail),
            Some("TransactionConflictException" | "TransactionInProgressException") => {
                StoreError::Conflict(detail)
            }
            Some("InternalServerError") => StoreError::Ambiguous(detail),
            _ => StoreError::Unavailable(detail),
        },
        SdkError::ConstructionFailure(_) => StoreError::Unavailable(detail),
        _ => StoreError::Ambiguous(detail),
    }
}

fn get_s<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
}

fn get_n(item: &Item, name: &str) -> StoreResult<Option<u64>> {
    match item.get(name) {
        None => Ok(None),
        Some(v) => v
            .as_n()
            .ok()
            .and_then(|t| t.parse().ok())
            .map(Some)
            .ok_or_else(|| StoreError::Corrupt(format!("{name} is not a whole number"))),
    }
}

fn usage_of(item: &Item) -> StoreResult<ModeUsage> {
    let mut usage = ModeUsage::default();
    for mode in RecordMode::ALL {
        for tier in Tier::ALL {
            if let Some(ms) = get_n(item, &counter_attr(mode, tier))? {
                usage.add(mode, tier, ms);
            }
        }
    }
    Ok(usage)
}

fn hour_record(item: &Item) -> StoreResult<HourRecord> {
    let hour = get_s(item, SK)
        .and_then(|sk| sk.strip_prefix(HOUR_PREFIX))
        .and_then(Hour::parse_key)
        .ok_or_else(|| StoreError::Corrupt("hour item key".into()))?;
    Ok(HourRecord {
        hour,
        usage: usage_of(item)?,
    })
}

fn day_record(item: &Item) -> StoreResult<DayRecord> {
    let day = get_s(item, SK)
        .and_then(|sk| sk.strip_prefix(DAY_PREFIX))
        .and_then(Day::parse_key)
        .ok_or_else(|| StoreError::Corrupt("day item key".into()))?;
    Ok(DayRecord {
        day,
        rolled: usage_of(item)?,
        seq: get_n(item, SEQ)?.unwrap_or(0),
        rolled_seq: get_n(item, ROLLED_SEQ)?,
    })
}

fn app_of(item: &Item) -> StoreResult<AppId> {
    get_s(item, PK)
        .and_then(|pk| pk.strip_prefix(APP_PREFIX))
        .and_then(AppId::parse)
        .ok_or_else(|| StoreError::Corrupt("app item key".into()))
}

impl DynamoStore {
    fn dedupe_put(&self, event: &EventKey, expires: UtcMillis) -> StoreResult<TransactWriteItem> {
        let mut item = key(event_pk(event), EVENT_SK);
        item.insert(EXPIRES_AT.to_owned(), n(epoch_seconds(expires)));
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .build();
        Ok(TransactWriteItem::builder().put(built(put)?).build())
    }

    fn hour_add(
        &self,
        app: &AppId,
        hour: Hour,
        usage: &ModeUsage,
    ) -> StoreResult<TransactWriteItem> {
        let mut update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(app_pk(app), hour_sk(hour))))
            .expression_attribute_names("#exp", EXPIRES_AT)
            .expression_attribute_values(":exp", n(epoch_seconds(retention_of(hour))));
        let mut adds = Vec::new();
        for (i, (mode, tier, ms)) in usage.counters().enumerate() {
            adds.push(format!("#c{i} :c{i}"));
            update = update
                .expression_attribute_names(format!("#c{i}"), counter_attr(mode, tier))
                .expression_attribute_values(format!(":c{i}"), n(ms));
        }
        let update = update.update_expression(format!("ADD {} SET #exp = :exp", adds.join(", ")));
        Ok(TransactWriteItem::builder()
            .update(built(update.build())?)
            .build())
    }

    fn day_touch(&self, app: &AppId, day: Day) -> StoreResult<TransactWriteItem> {
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(app_pk(app), day_sk(day))))
            .update_expression("ADD #seq :one SET #pending = :meter, #day = :day")
            .expression_attribute_names("#seq", SEQ)
            .expression_attribute_names("#pending", ROLLUP_PENDING)
            .expression_attribute_names("#day", USAGE_DAY)
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":meter", s(RECORDING_METER))
            .expression_attribute_values(":day", s(format!("{RECORDING_METER}#{}", day.key())))
            .build();
        Ok(TransactWriteItem::builder().update(built(update)?).build())
    }
}

fn retention_of(hour: Hour) -> UtcMillis {
    crate::domain::retention::hourly_expiry(hour)
}

impl UsageStore for DynamoStore {
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
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld)
            .send()
            .await;
        match result {
            Ok(out) if out.attributes.is_some() => Ok(RegisterOutcome::Unchanged),
            Ok(_) => Ok(RegisterOutcome::Registered),
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(RegisterOutcome::OwnedByAnother)
            }
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

    async fn counted(&self, keys: &[EventKey]) -> StoreResult<HashSet<EventKey>> {
        let mut found = HashSet::new();
        for chunk in keys.chunks(BATCH_GET_LIMIT) {
            let mut request = built(
                KeysAndAttributes::builder()
                    .set_keys(Some(
                        chunk.iter().map(|k| key(event_pk(k), EVENT_SK)).collect(),
                    ))
                    .projection_expression("#pk")
                    .expression_attribute_names("#pk", PK)
                    .build(),
            )?;
            for attempt in 0.. {
                let out = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, request.clone())
                    .send()
                    .await
                    .map_err(classify)?;
                for item in out
                    .responses
                    .unwrap_or_default()
                    .remove(&self.table)
                    .unwrap_or_default()
                {
                    let digest = get_s(&item, PK).and_then(|pk| pk.strip_prefix(EVENT_PREFIX));
                    if let Some(key) = digest.and_then(EventKey::from_hex) {
                        found.insert(key);
                    }
                }
                match out.unprocessed_keys.unwrap_or_default().remove(&self.table) {
                    Some(rest) if !rest.keys.is_empty() => {
                        if attempt >= 4 {
                            return Err(StoreError::Throttled("unprocessed keys remain".into()));
                        }
                        request = rest;
                        tokio::time::sleep(std::time::Duration::from_millis(20 << attempt)).await;
                    }
                    _ => break,
                }
            }
        }
        Ok(found)
    }

    async fn commit(&self, group: &CommitGroup) -> StoreResult<CommitOutcome> {
        let mut actions = Vec::with_capacity(group.action_count());
        for (event, expires) in &group.events {
            actions.push(self.dedupe_put(event, *expires)?);
        }
        for ((app, hour), usage) in &group.hours {
            actions.push(self.hour_add(app, *hour, usage)?);
        }
        for (app, day) in &group.days {
            actions.push(self.day_touch(app, *day)?);
        }
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(actions))
            .send()
            .await;
        let err = match result {
            Ok(_) => return Ok(CommitOutcome::Committed),
            Err(err) => err,
        };
        let Some(cancelled) = err.as_service_error().and_then(|e| match e {
            aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(c) => Some(c),
            _ => None,
        }) else {
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
        if !seen.is_empty() {
            return Ok(CommitOutcome::AlreadyCounted(seen));
        }
        let detail = DisplayErrorContext(&err).to_string();
        if reasons.iter().any(|r| {
            matches!(
                r.code(),
                Some("ThrottlingError" | "ProvisionedThroughputExceeded")
            )
        }) {
            Err(StoreError::Throttled(detail))
        } else if reasons
            .iter()
            .any(|r| r.code() == Some("TransactionConflict"))
        {
            Err(StoreError::Conflict(detail))
        } else {
            Err(StoreError::Unavailable(detail))
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
                let day = get_s(item, SK)
                    .and_then(|sk| sk.strip_prefix(DAY_PREFIX))
                    .and_then(Day::parse_key)
                    .ok_or_else(|| StoreError::Corrupt("pending day key".into()))?;
                Ok(PendingDay {
                    app: app_of(item)?,
                    day,
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
            .expression_attribute_values(":day", s(format!("{RECORDING_METER}#{}", day.key())));
        self.query_all(query).await?.iter().map(app_of).collect()
    }

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
        let record = match items.next().flatten() {
            Some(item) => Some(day_record(&item)?),
            None => None,
        };
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
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(app_pk(app), day_sk(day))))
            .condition_expression("#seq = :seq")
            .expression_attribute_names("#seq", SEQ)
            .expression_attribute_names("#rolled", ROLLED_SEQ)
            .expression_attribute_names("#pending", ROLLUP_PENDING)
            .expression_attribute_values(":seq", n(seq));
        let mut sets = vec!["#rolled = :seq".to_owned()];
        let mut i = 0;
        for mode in RecordMode::ALL {
            for tier in Tier::ALL {
                sets.push(format!("#c{i} = :c{i}"));
                update = update
                    .expression_attribute_names(format!("#c{i}"), counter_attr(mode, tier))
                    .expression_attribute_values(format!(":c{i}"), n(totals.mode(mode).get(tier)));
                i += 1;
            }
        }
        let result = update
            .update_expression(format!("SET {} REMOVE #pending", sets.join(", ")))
            .send()
            .await;
        match result {
            Ok(_) => Ok(WriteDayOutcome::Written),
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(WriteDayOutcome::Changed)
            }
            Err(err) => Err(classify(err)),
        }
    }
}
