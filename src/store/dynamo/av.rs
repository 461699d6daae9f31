//! The audio/video half of the adapter: class facts, packages, the trend's
//! hours, details rows and user marks. The trait implementation in `mod.rs`
//! delegates here.

use super::DynamoStore;
use super::error::{built, classify, condition_held};
use super::item::{EXPIRES_AT, Item, UpdateExpr, epoch_seconds, get_n, get_s, n, s};
use super::keys::*;
use crate::domain::class::{ClassFact, ClassFactEvent, ClassFacts, Package};
use crate::domain::commit::{AvHourAdd, AvMillis, CommitGroup, RowAdd, RowKey};
use crate::domain::deduction::{Balance, DeductionState, Settled};
use crate::domain::ids::{AppId, ClassId, Name, PackageId};
use crate::domain::time::{Day, Hour, UtcMillis};
use crate::store::{
    LedgerInputs, RowRecord, SetOnceOutcome, StoreError, StoreResult, WriteDayOutcome,
};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    AttributeValue, KeysAndAttributes, Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem,
};
use std::collections::{BTreeMap, BTreeSet};

const CLASS_NAME: &str = "class_name";
const START_MS: &str = "start_ms";
const END_MS: &str = "end_ms";
const PACKAGE_NAME: &str = "package_name";
const MINUTES: &str = "minutes";
const VALID_FROM: &str = "valid_from";
const VALID_TO: &str = "valid_to";
const INTERACTIVE_MS: &str = "i";
const PLAYBACK_MS: &str = "p";
const ROW_MS: &str = "ms";
const ROW_USERS: &str = "users";
const STATE_SEQ: &str = "seq";
/// The days whose rows or packages changed since the deduction was last
/// prepared (a number set of day numbers: adding to it needs no read).
const STATE_DIRTY: &str = "dirty";
const SETTLED_SEQ: &str = "settled_seq";
const SETTLED_FROM: &str = "settled_from";
const SETTLED_THROUGH: &str = "settled_through";
/// A balance: minutes used per package id.
const USED: &str = "used";
const BATCH_GET_LIMIT: usize = 100;
/// Apps per page of the rollup's audio/video work list.
const PENDING_APPS_PAGE: i32 = 100;
/// Balances written per transaction (DynamoDB's limit of actions).
const BALANCES_PER_TRANSACTION: usize = 100;

fn state_of(item: &Item) -> StoreResult<DeductionState> {
    let dirty = match item.get(STATE_DIRTY) {
        None => BTreeSet::new(),
        Some(value) => value
            .as_ns()
            .map_err(|_| StoreError::Corrupt("dirty days".into()))?
            .iter()
            .map(|d| d.parse().map(Day))
            .collect::<Result<_, _>>()
            .map_err(|_| StoreError::Corrupt("dirty days".into()))?,
    };
    let day =
        |name: &str| -> StoreResult<Option<Day>> { Ok(get_n(item, name)?.map(|d| Day(d as i64))) };
    let settled = match (
        get_n(item, SETTLED_SEQ)?,
        day(SETTLED_FROM)?,
        day(SETTLED_THROUGH)?,
    ) {
        (Some(seq), Some(from), Some(through)) => Some(Settled { seq, from, through }),
        _ => None,
    };
    Ok(DeductionState {
        seq: get_n(item, STATE_SEQ)?.unwrap_or(0),
        dirty,
        settled,
    })
}

fn balance_of(day: Day, item: &Item) -> StoreResult<Balance> {
    let corrupt = || StoreError::Corrupt("balance".into());
    let used = match item.get(USED) {
        None => BTreeMap::new(),
        Some(value) => value
            .as_m()
            .map_err(|_| corrupt())?
            .iter()
            .map(|(id, minutes)| {
                let id = PackageId::parse(id).ok_or_else(corrupt)?;
                let minutes = minutes
                    .as_n()
                    .ok()
                    .and_then(|m| m.parse().ok())
                    .ok_or_else(corrupt)?;
                Ok((id, minutes))
            })
            .collect::<StoreResult<_>>()?,
    };
    Ok(Balance {
        day,
        used,
        seq: get_n(item, STATE_SEQ)?.unwrap_or(0),
    })
}

fn facts_of(item: &Item) -> StoreResult<ClassFacts> {
    let time = |name: &str| -> StoreResult<Option<UtcMillis>> {
        Ok(get_n(item, name)?.map(|ms| UtcMillis(ms as i64)))
    };
    Ok(ClassFacts {
        name: get_s(item, CLASS_NAME).and_then(Name::parse),
        start: time(START_MS)?,
        end: time(END_MS)?,
    })
}

fn package_of(app: &AppId, item: &Item) -> StoreResult<Package> {
    let corrupt = |what: &str| StoreError::Corrupt(format!("package {what}"));
    let day = |name: &str| {
        get_s(item, name)
            .and_then(Day::parse_key)
            .ok_or_else(|| corrupt(name))
    };
    Ok(Package {
        app: app.clone(),
        id: package_id_of(item)?,
        name: get_s(item, PACKAGE_NAME)
            .and_then(Name::parse)
            .ok_or_else(|| corrupt("name"))?,
        minutes: get_n(item, MINUTES)?.ok_or_else(|| corrupt("minutes"))?,
        valid_from: day(VALID_FROM)?,
        valid_to: day(VALID_TO)?,
    })
}

fn day_set(days: impl IntoIterator<Item = Day>) -> AttributeValue {
    AttributeValue::Ns(days.into_iter().map(|d| d.0.to_string()).collect())
}

impl DynamoStore {
    /// The user marks of a group: each created only if it does not exist.
    pub(super) fn user_mark_puts(
        &self,
        group: &CommitGroup,
    ) -> StoreResult<Vec<TransactWriteItem>> {
        group
            .new_users
            .iter()
            .map(|(mark, expires)| {
                let mut item = user_mark_key(mark);
                item.insert(EXPIRES_AT.to_owned(), epoch_seconds(*expires));
                let put = Put::builder()
                    .table_name(self.table())
                    .set_item(Some(item))
                    .condition_expression("attribute_not_exists(#pk)")
                    .expression_attribute_names("#pk", PK)
                    .build();
                Ok(TransactWriteItem::builder().put(built(put)?).build())
            })
            .collect()
    }

    /// Every other audio/video update of a group: hours, rows and the apps'
    /// deduction state.
    pub(super) fn av_updates(&self, group: &CommitGroup) -> StoreResult<Vec<TransactWriteItem>> {
        let mut actions = Vec::new();
        for ((app, hour), AvHourAdd { usage, expires }) in &group.av_hours {
            let mut expr = UpdateExpr::default();
            for (attr, ms) in [
                (INTERACTIVE_MS, usage.interactive),
                (PLAYBACK_MS, usage.playback),
            ] {
                if ms > 0 {
                    expr.add(attr, n(ms));
                }
            }
            expr.set(EXPIRES_AT, epoch_seconds(*expires));
            actions.push(self.update(key(app_pk(app), av_hour_sk(*hour)), expr)?);
        }
        for ((app, day, class), ms) in &group.class_recordings {
            let mut expr = UpdateExpr::default();
            expr.add(ROW_MS, n(ms));
            actions.push(self.update(key(app_pk(app), class_recording_sk(*day, class)), expr)?);
        }
        for (row, RowAdd { ms, users }) in &group.rows {
            let mut expr = UpdateExpr::default();
            expr.add(ROW_MS, n(ms)).add(ROW_USERS, n(users));
            actions.push(self.update(key(app_pk(&row.app), av_row_sk(row)), expr)?);
        }
        for (app, days) in &group.av_changes {
            actions.push(self.state_touch(app, days.iter().copied())?);
        }
        Ok(actions)
    }

    /// Records that the deduction's inputs changed on these days.
    fn state_touch(
        &self,
        app: &AppId,
        days: impl IntoIterator<Item = Day>,
    ) -> StoreResult<TransactWriteItem> {
        let mut expr = UpdateExpr::default();
        expr.add(STATE_SEQ, n(1))
            .add(STATE_DIRTY, day_set(days))
            .set(ROLLUP_PENDING, s(AV_METER));
        self.update(key(app_pk(app), AV_STATE_SK.to_owned()), expr)
    }

    pub(super) async fn apply_class_fact_impl(
        &self,
        event: &ClassFactEvent,
    ) -> StoreResult<SetOnceOutcome> {
        let mut expr = UpdateExpr::default();
        let condition = match &event.fact {
            ClassFact::Started { name, start } => {
                let (cn, st, en) = (
                    expr.name(CLASS_NAME),
                    expr.name(START_MS),
                    expr.name(END_MS),
                );
                let (nv, sv) = (expr.value(s(name.as_str())), expr.value(n(start.0)));
                expr.set(CLASS_NAME, s(name.as_str()))
                    .set(START_MS, n(start.0));
                format!(
                    "(attribute_not_exists({cn}) OR {cn} = {nv}) AND \
                     (attribute_not_exists({st}) OR {st} = {sv}) AND \
                     (attribute_not_exists({en}) OR {en} > {sv})"
                )
            }
            ClassFact::Ended { end } => {
                let (st, en) = (expr.name(START_MS), expr.name(END_MS));
                let ev = expr.value(n(end.0));
                expr.set(END_MS, n(end.0));
                format!(
                    "(attribute_not_exists({en}) OR {en} = {ev}) AND \
                     (attribute_not_exists({st}) OR {st} < {ev})"
                )
            }
        };
        let result = self
            .client()
            .update_item()
            .table_name(self.table())
            .set_key(Some(key(app_pk(&event.app), av_facts_sk(&event.class))))
            .condition_expression(condition)
            .update_expression(expr.expression())
            .set_expression_attribute_names(Some(expr.names))
            .set_expression_attribute_values(Some(expr.values))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(SetOnceOutcome::Applied),
            Err(err) => {
                let stored = match err.as_service_error() {
                    Some(UpdateItemError::ConditionalCheckFailedException(failed)) => {
                        Some(failed.item.clone().unwrap_or_default())
                    }
                    _ => None,
                };
                match stored {
                    // Say which fact it conflicts with, from the stored item.
                    Some(item) => Ok(SetOnceOutcome::Conflict(
                        facts_of(&item)?
                            .with(&event.fact)
                            .err()
                            .unwrap_or_else(|| "the class's facts changed meanwhile".into()),
                    )),
                    None => Err(classify(err)),
                }
            }
        }
    }

    pub(super) async fn put_package_impl(&self, package: &Package) -> StoreResult<SetOnceOutcome> {
        let mut item = key(app_pk(&package.app), av_package_sk(&package.id));
        item.insert(PACKAGE_NAME.to_owned(), s(package.name.as_str()));
        item.insert(MINUTES.to_owned(), n(package.minutes));
        item.insert(VALID_FROM.to_owned(), s(package.valid_from.key()));
        item.insert(VALID_TO.to_owned(), s(package.valid_to.key()));
        // Stored unless the id holds other data: then the put is cancelled.
        let put = Put::builder()
            .table_name(self.table())
            .set_item(Some(item))
            .condition_expression(
                "attribute_not_exists(#pk) OR (#name = :name AND #min = :min AND #from = :from AND #to = :to)",
            )
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#name", PACKAGE_NAME)
            .expression_attribute_names("#min", MINUTES)
            .expression_attribute_names("#from", VALID_FROM)
            .expression_attribute_names("#to", VALID_TO)
            .expression_attribute_values(":name", s(package.name.as_str()))
            .expression_attribute_values(":min", n(package.minutes))
            .expression_attribute_values(":from", s(package.valid_from.key()))
            .expression_attribute_values(":to", s(package.valid_to.key()))
            .build();
        let actions = vec![
            TransactWriteItem::builder().put(built(put)?).build(),
            self.state_touch(&package.app, [package.valid_from])?,
        ];
        let result = self
            .client()
            .transact_write_items()
            .set_transact_items(Some(actions))
            .send()
            .await;
        let err = match result {
            Ok(_) => return Ok(SetOnceOutcome::Applied),
            Err(err) => err,
        };
        if let Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) =
            err.as_service_error()
            && cancelled
                .cancellation_reasons()
                .first()
                .is_some_and(|r| r.code() == Some("ConditionalCheckFailed"))
        {
            return Ok(SetOnceOutcome::Conflict(format!(
                "package {} already exists with other data",
                package.id
            )));
        }
        let detail = aws_sdk_dynamodb::error::DisplayErrorContext(&err).to_string();
        match err.as_service_error() {
            Some(TransactWriteItemsError::TransactionCanceledException(c)) => Err(
                super::error::cancellation_error(c.cancellation_reasons(), detail),
            ),
            _ => Err(classify(err)),
        }
    }

    pub(super) async fn packages_impl(&self, app: &AppId) -> StoreResult<Vec<Package>> {
        let (from, to) = av_package_range();
        let items = self.query_range(app_pk(app), from, to).await?;
        items.iter().map(|item| package_of(app, item)).collect()
    }

    pub(super) async fn ledger_inputs_impl(
        &self,
        app: &AppId,
        from: Day,
    ) -> StoreResult<LedgerInputs> {
        let (first, last) = ledger_range(from);
        let mut inputs = LedgerInputs::default();
        for item in self.query_range(app_pk(app), first, last).await? {
            match ledger_item_of(&item)? {
                LedgerItem::Balance(day) => inputs.balances.push(balance_of(day, &item)?),
                LedgerItem::Package => inputs.packages.push(package_of(app, &item)?),
                LedgerItem::State => inputs.state = state_of(&item)?,
            }
        }
        Ok(inputs)
    }

    pub(super) async fn balance_impl(&self, app: &AppId, day: Day) -> StoreResult<Option<Balance>> {
        let out = self
            .client()
            .get_item()
            .table_name(self.table())
            .set_key(Some(key(app_pk(app), av_balance_sk(day))))
            .consistent_read(true)
            .send()
            .await
            .map_err(classify)?;
        out.item.map(|item| balance_of(day, &item)).transpose()
    }

    /// Transactions of conditional puts: a balance is replaced only by one
    /// prepared at the same or a later change counter, so a stale run can
    /// never overwrite a newer run's balances.
    pub(super) async fn write_balances_impl(
        &self,
        app: &AppId,
        balances: &[Balance],
    ) -> StoreResult<bool> {
        for chunk in balances.chunks(BALANCES_PER_TRANSACTION) {
            let mut actions = Vec::with_capacity(chunk.len());
            for balance in chunk {
                let mut item = key(app_pk(app), av_balance_sk(balance.day));
                item.insert(STATE_SEQ.to_owned(), n(balance.seq));
                let used = balance
                    .used
                    .iter()
                    .map(|(id, minutes)| (id.to_string(), n(minutes)))
                    .collect();
                item.insert(USED.to_owned(), AttributeValue::M(used));
                let put = Put::builder()
                    .table_name(self.table())
                    .set_item(Some(item))
                    .condition_expression("attribute_not_exists(#seq) OR #seq <= :seq")
                    .expression_attribute_names("#seq", STATE_SEQ)
                    .expression_attribute_values(":seq", n(balance.seq))
                    .build();
                actions.push(TransactWriteItem::builder().put(built(put)?).build());
            }
            let result = self
                .client()
                .transact_write_items()
                .set_transact_items(Some(actions))
                .send()
                .await;
            if let Err(err) = result {
                if let Some(TransactWriteItemsError::TransactionCanceledException(c)) =
                    err.as_service_error()
                    && c.cancellation_reasons()
                        .iter()
                        .any(|r| r.code() == Some("ConditionalCheckFailed"))
                {
                    return Ok(false);
                }
                return Err(classify(err));
            }
        }
        Ok(true)
    }

    pub(super) async fn settle_impl(
        &self,
        app: &AppId,
        settled: Settled,
        seen: &BTreeSet<Day>,
    ) -> StoreResult<WriteDayOutcome> {
        let mut expr = UpdateExpr::default();
        let condition = format!("{} = {}", expr.name(STATE_SEQ), expr.value(n(settled.seq)));
        expr.set(SETTLED_SEQ, n(settled.seq))
            .set(SETTLED_FROM, n(settled.from.0))
            .set(SETTLED_THROUGH, n(settled.through.0))
            .remove(ROLLUP_PENDING);
        let mut update = expr.expression();
        if !seen.is_empty() {
            let (attr, days) = (
                expr.name(STATE_DIRTY),
                expr.value(day_set(seen.iter().copied())),
            );
            update = format!("{update} DELETE {attr} {days}");
        }
        let result = self
            .client()
            .update_item()
            .table_name(self.table())
            .set_key(Some(key(app_pk(app), AV_STATE_SK.to_owned())))
            .condition_expression(condition)
            .update_expression(update)
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

    pub(super) async fn pending_apps_impl(
        &self,
        cursor: Option<String>,
    ) -> StoreResult<(Vec<AppId>, Option<String>)> {
        let start = cursor
            .map(|c| {
                let app =
                    AppId::parse(&c).ok_or_else(|| StoreError::Corrupt("app cursor".into()))?;
                let mut k = key(app_pk(&app), AV_STATE_SK.to_owned());
                k.insert(ROLLUP_PENDING.to_owned(), s(AV_METER));
                Ok::<_, StoreError>(k)
            })
            .transpose()?;
        let out = self
            .pending_page(AV_METER, PENDING_APPS_PAGE, start)
            .await?;
        let apps = out
            .items()
            .iter()
            .map(app_of)
            .collect::<StoreResult<Vec<_>>>()?;
        let next = out
            .last_evaluated_key()
            .map(app_of)
            .transpose()?
            .map(|app| app.to_string());
        Ok((apps, next))
    }

    pub(super) async fn class_facts_impl(
        &self,
        app: &AppId,
        classes: &[ClassId],
    ) -> StoreResult<BTreeMap<ClassId, ClassFacts>> {
        let mut unique: Vec<&ClassId> = classes.iter().collect();
        unique.sort();
        unique.dedup();
        let mut found = BTreeMap::new();
        for chunk in unique.chunks(BATCH_GET_LIMIT) {
            let mut request = Some(built(
                KeysAndAttributes::builder()
                    .set_keys(Some(
                        chunk
                            .iter()
                            .map(|c| key(app_pk(app), av_facts_sk(c)))
                            .collect(),
                    ))
                    .consistent_read(true)
                    .build(),
            )?);
            // Unprocessed keys are asked again: an answer needs every fact.
            while let Some(keys) = request.take() {
                let out = self
                    .client()
                    .batch_get_item()
                    .request_items(self.table(), keys)
                    .send()
                    .await
                    .map_err(classify)?;
                for item in out
                    .responses
                    .unwrap_or_default()
                    .remove(self.table())
                    .unwrap_or_default()
                {
                    found.insert(facts_class_of(&item)?, facts_of(&item)?);
                }
                request = out
                    .unprocessed_keys
                    .unwrap_or_default()
                    .remove(self.table())
                    .filter(|rest| !rest.keys.is_empty());
            }
        }
        Ok(found)
    }

    pub(super) async fn av_hours_impl(
        &self,
        app: &AppId,
        first: Hour,
        last: Hour,
    ) -> StoreResult<Vec<(Hour, AvMillis)>> {
        let items = self
            .query_range(app_pk(app), av_hour_sk(first), av_hour_sk(last))
            .await?;
        items
            .iter()
            .map(|item| {
                let hour = av_hour_of(item)?;
                Ok((
                    hour,
                    AvMillis {
                        interactive: get_n(item, INTERACTIVE_MS)?.unwrap_or(0),
                        playback: get_n(item, PLAYBACK_MS)?.unwrap_or(0),
                    },
                ))
            })
            .collect()
    }

    pub(super) async fn class_recordings_impl(
        &self,
        app: &AppId,
        first: Day,
        last: Day,
    ) -> StoreResult<Vec<(Day, ClassId, u64)>> {
        let (from, to) = class_recording_range(first, last);
        let items = self.query_range(app_pk(app), from, to).await?;
        items
            .iter()
            .map(|item| {
                let (day, class) = class_recording_of(item)?;
                Ok((day, class, get_n(item, ROW_MS)?.unwrap_or(0)))
            })
            .collect()
    }

    pub(super) async fn av_rows_impl(
        &self,
        app: &AppId,
        first: Day,
        last: Day,
    ) -> StoreResult<Vec<RowRecord>> {
        let (from, to) = av_row_range(first, last);
        let items = self.query_range(app_pk(app), from, to).await?;
        items.iter().map(row_record).collect()
    }
}

fn row_record(item: &Item) -> StoreResult<RowRecord> {
    let key: RowKey = row_of(item)?;
    Ok(RowRecord {
        key,
        ms: get_n(item, ROW_MS)?.unwrap_or(0),
        users: get_n(item, ROW_USERS)?.unwrap_or(0),
    })
}
