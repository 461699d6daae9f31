//! The recording meter's items: usage per hour and per day, the rollup's
//! work on days (the days pending, the apps with usage on a day, a day's
//! snapshot and the write of its totals), and each class's recording per
//! day. The trait implementation in `mod.rs` delegates here.

use super::DynamoStore;
use super::error::{built, classify};
use super::item::{
    CounterWrite, EXPIRES_AT, Item, ROW_MS, UpdateExpr, epoch_seconds, get_n, get_s, head_of, n, s,
    usage_of,
};
use super::keys::*;
use crate::domain::commit::{HourAdd, Sign};
use crate::domain::ids::{AppId, ClassId};
use crate::domain::time::{Day, Hour};
use crate::domain::usage::ModeUsage;
use crate::store::{
    DayRecord, DaySnapshot, HourRecord, PendingDay, PendingPage, StoreError, StoreResult,
    WriteDayOutcome,
};
use aws_sdk_dynamodb::types::{Get, TransactGetItem, TransactWriteItem};

/// A day's change counter, bumped by every commit that touches the day.
pub const SEQ: &str = "seq";
/// The change counter a day's stored totals are exact at.
pub const ROLLED_SEQ: &str = "rolled_seq";

/// Day items per page of the rollup's work list.
const PENDING_PAGE_SIZE: i32 = 200;

fn hour_record(item: &Item) -> StoreResult<HourRecord> {
    Ok(HourRecord {
        hour: hour_of(item)?,
        usage: usage_of(item)?,
        head: head_of(item)?,
    })
}

fn day_record(item: &Item) -> StoreResult<DayRecord> {
    Ok(DayRecord {
        day: day_of(item)?,
        rolled: usage_of(item)?,
        seq: get_n(item, SEQ)?.unwrap_or(0),
        rolled_seq: get_n(item, ROLLED_SEQ)?,
    })
}

impl DynamoStore {
    pub(super) fn hour_add(
        &self,
        app: &AppId,
        hour: Hour,
        add: &HourAdd,
        sign: Sign,
    ) -> StoreResult<TransactWriteItem> {
        let mut expr = UpdateExpr::counting(sign);
        expr.counters(&add.usage, CounterWrite::Add)
            .head_counters(&add.head)
            .set(EXPIRES_AT, epoch_seconds(add.expires));
        self.update(key(app_pk(app), hour_sk(hour)), expr)
    }

    /// Bumps the day's change counter and marks it for the rollup.
    pub(super) fn day_touch(&self, app: &AppId, day: Day) -> StoreResult<TransactWriteItem> {
        let mut expr = UpdateExpr::default();
        expr.add(SEQ, n(1))
            .set(ROLLUP_PENDING, s(RECORDING_METER))
            .set(USAGE_DAY, s(usage_day(day)));
        self.update(key(app_pk(app), day_sk(day)), expr)
    }

    pub(super) async fn hours_impl(
        &self,
        app: &AppId,
        first: Hour,
        last: Hour,
    ) -> StoreResult<Vec<HourRecord>> {
        let items = self
            .query_range(app_pk(app), hour_sk(first), hour_sk(last))
            .await?;
        items.iter().map(hour_record).collect()
    }

    pub(super) async fn days_impl(
        &self,
        app: &AppId,
        first: Day,
        last: Day,
    ) -> StoreResult<Vec<DayRecord>> {
        let items = self
            .query_range(app_pk(app), day_sk(first), day_sk(last))
            .await?;
        items.iter().map(day_record).collect()
    }

    pub(super) async fn pending_days_impl(
        &self,
        cursor: Option<String>,
    ) -> StoreResult<PendingPage> {
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

    pub(super) async fn apps_with_usage_impl(&self, day: Day) -> StoreResult<Vec<AppId>> {
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
    pub(super) async fn day_snapshot_impl(
        &self,
        app: &AppId,
        day: Day,
    ) -> StoreResult<DaySnapshot> {
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

    pub(super) async fn write_day_impl(
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
        let update = expr.expression();
        let key = key(app_pk(app), day_sk(day));
        Ok(if self.update_if(key, condition, update, expr).await? {
            WriteDayOutcome::Written
        } else {
            WriteDayOutcome::Changed
        })
    }

    /// Adds to a class's recording milliseconds of a day.
    pub(super) fn class_recording_add(
        &self,
        app: &AppId,
        day: Day,
        class: &ClassId,
        ms: u64,
        sign: Sign,
    ) -> StoreResult<TransactWriteItem> {
        let mut expr = UpdateExpr::counting(sign);
        expr.count(ROW_MS, ms);
        self.update(key(app_pk(app), class_recording_sk(day, class)), expr)
    }

    pub(super) async fn class_recordings_impl(
        &self,
        app: &AppId,
        first: Day,
        last: Day,
    ) -> StoreResult<Vec<(Day, ClassId, u64)>> {
        let (from, to) = class_recording_range(first, last);
        let items = self.query_range(app_pk(app), from, to).await?;
        let mut recordings = Vec::with_capacity(items.len());
        for item in &items {
            let (day, class) = class_recording_of(item)?;
            // A class whose every segment was voided has nothing left.
            match get_n(item, ROW_MS)?.unwrap_or(0) {
                0 => {}
                ms => recordings.push((day, class, ms)),
            }
        }
        Ok(recordings)
    }
}
