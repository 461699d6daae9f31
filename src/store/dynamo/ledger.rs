//! The deduction's ledger of an app, its items sorting together under
//! `AV#L#` so the deduction's inputs are one `Query`: the packages, the
//! balance prepared for each day, and the deduction state (its change
//! counter, the days changed since the last preparation, and what was last
//! settled). The trait implementation in `mod.rs` delegates here; the
//! state's touch is also an action of every commit that changes rows.

use super::error::{built, classify};
use super::item::{Item, UpdateExpr, get_n, get_s, n, number, s};
use super::keys::*;
use super::{DynamoStore, TRANSACTION_ACTION_LIMIT};
use crate::domain::class::{Package, Refund};
use crate::domain::deduction::{Balance, DeductionState, Settled};
use crate::domain::ids::{AppId, Name, PackageId};
use crate::domain::time::Day;
use crate::domain::time::UtcMillis;
use crate::store::{
    ExpiryEntry, LedgerInputs, SetOnceOutcome, StoreError, StoreResult, WriteDayOutcome,
};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};
use std::collections::{BTreeMap, BTreeSet};

/// A package's name, minutes, and first and last day of validity.
const PACKAGE_NAME: &str = "package_name";
const MINUTES: &str = "minutes";
const VALID_FROM: &str = "valid_from";
const VALID_TO: &str = "valid_to";
/// When the purchase was first acknowledged, epoch ms.
const ACKED_AT: &str = "acked_at";
/// When a refund was first acknowledged, epoch ms (on a purchase, or on
/// the stub a refund leaves when it comes first).
const REFUNDED_AT: &str = "refunded_at";
/// The deduction state's change counter; on a balance, the counter it was
/// prepared at.
const STATE_SEQ: &str = "seq";
/// The days whose rows or packages changed since the deduction was last
/// prepared (a number set of day numbers: adding to it needs no read).
const STATE_DIRTY: &str = "dirty";
/// What was last settled: at which change counter, over which days.
const SETTLED_SEQ: &str = "settled_seq";
const SETTLED_FROM: &str = "settled_from";
const SETTLED_THROUGH: &str = "settled_through";
/// A balance: minutes used per package id.
const USED: &str = "used";
/// Apps per page of the rollup's audio/video work list.
const PENDING_APPS_PAGE: i32 = 100;

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
    // Signed: a state settled before any row says "through the day before
    // the first", which is day -1.
    let day = |name: &str| -> StoreResult<Option<Day>> {
        Ok(number::<i64>(item, name, || {
            StoreError::Corrupt(format!("{name} is not a whole number"))
        })?
        .map(Day))
    };
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

/// A package item is a purchase once it has its minutes; before that it
/// is only a refund that came first.
fn is_purchase(item: &Item) -> bool {
    item.contains_key(MINUTES)
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
        acked: UtcMillis(number(item, ACKED_AT, || corrupt(ACKED_AT))?.unwrap_or(0)),
        refunded: number(item, REFUNDED_AT, || corrupt(REFUNDED_AT))?.map(UtcMillis),
    })
}

fn day_set(days: impl IntoIterator<Item = Day>) -> AttributeValue {
    AttributeValue::Ns(days.into_iter().map(|d| d.0.to_string()).collect())
}

impl DynamoStore {
    /// Records that the deduction's inputs changed on these days, and what
    /// that does to the app's alert watch: at most `spent` billable minutes
    /// added, and with `bump_epoch` a purchase or refund.
    pub(super) fn state_touch(
        &self,
        app: &AppId,
        days: impl IntoIterator<Item = Day>,
        spent: u64,
        bump_epoch: bool,
    ) -> StoreResult<TransactWriteItem> {
        let mut expr = UpdateExpr::default();
        expr.add(STATE_SEQ, n(1))
            .add(STATE_DIRTY, day_set(days))
            .set(ROLLUP_PENDING, s(AV_METER));
        Self::watch_counts(&mut expr, spent, bump_epoch);
        self.update(key(app_pk(app), AV_STATE_SK.to_owned()), expr)
    }

    pub(super) async fn put_package_impl(&self, package: &Package) -> StoreResult<SetOnceOutcome> {
        // An update rather than a put: a refund that came first (a stub
        // with only `refunded_at`) stays, and so does the first
        // acknowledgement instant. Stored unless the id holds other data:
        // then the transaction is cancelled.
        let update = Update::builder()
            .table_name(self.table())
            .set_key(Some(key(app_pk(&package.app), av_package_sk(&package.id))))
            .update_expression(
                "SET #name = :name, #min = :min, #from = :from, #to = :to, \
                 #acked = if_not_exists(#acked, :acked)",
            )
            .condition_expression(
                "attribute_not_exists(#min) OR (#name = :name AND #min = :min AND #from = :from AND #to = :to)",
            )
            .expression_attribute_names("#name", PACKAGE_NAME)
            .expression_attribute_names("#min", MINUTES)
            .expression_attribute_names("#from", VALID_FROM)
            .expression_attribute_names("#to", VALID_TO)
            .expression_attribute_names("#acked", ACKED_AT)
            .expression_attribute_values(":name", s(package.name.as_str()))
            .expression_attribute_values(":min", n(package.minutes))
            .expression_attribute_values(":from", s(package.valid_from.key()))
            .expression_attribute_values(":to", s(package.valid_to.key()))
            .expression_attribute_values(":acked", n(package.acked.0))
            .build();
        let expiry = ExpiryEntry {
            valid_to: package.valid_to,
            app: package.app.clone(),
            package: package.id.clone(),
        };
        let actions = vec![
            TransactWriteItem::builder().update(built(update)?).build(),
            self.state_touch(&package.app, [package.valid_from], 0, true)?,
            self.expiry_put(&expiry)?,
        ];
        Ok(if self.transact_unless_first_fails(actions).await? {
            SetOnceOutcome::Applied
        } else {
            SetOnceOutcome::Conflict(format!(
                "package {} already exists with other data",
                package.id
            ))
        })
    }

    /// Marks the package refunded at `at` (the first refund's instant
    /// stays), creating a stub if its purchase has not come yet, and marks
    /// the deduction changed from the package's first day (from the app's
    /// first, for a stub: its days are not known yet).
    pub(super) async fn refund_package_impl(
        &self,
        refund: &Refund,
        at: UtcMillis,
    ) -> StoreResult<()> {
        let key = key(app_pk(&refund.app), av_package_sk(&refund.package));
        let current = self
            .client()
            .get_item()
            .table_name(self.table())
            .set_key(Some(key.clone()))
            .consistent_read(true)
            .send()
            .await
            .map_err(classify)?
            .item;
        let from = match current.as_ref().filter(|item| is_purchase(item)) {
            Some(item) => package_of(&refund.app, item)?.valid_from,
            None => Day(0),
        };
        let update = Update::builder()
            .table_name(self.table())
            .set_key(Some(key))
            .update_expression("SET #refunded = if_not_exists(#refunded, :at)")
            .expression_attribute_names("#refunded", REFUNDED_AT)
            .expression_attribute_values(":at", n(at.0))
            .build();
        let actions = vec![
            TransactWriteItem::builder().update(built(update)?).build(),
            self.state_touch(&refund.app, [from], 0, true)?,
        ];
        self.client()
            .transact_write_items()
            .set_transact_items(Some(actions))
            .send()
            .await
            .map_err(|err| {
                let detail = aws_sdk_dynamodb::error::DisplayErrorContext(&err).to_string();
                match err.as_service_error() {
                    Some(TransactWriteItemsError::TransactionCanceledException(c)) => {
                        super::error::cancellation_error(c.cancellation_reasons(), detail)
                    }
                    _ => classify(err),
                }
            })?;
        Ok(())
    }

    pub(super) async fn packages_impl(&self, app: &AppId) -> StoreResult<Vec<Package>> {
        let (from, to) = av_package_range();
        let items = self.query_range(app_pk(app), from, to).await?;
        items
            .iter()
            .filter(|item| is_purchase(item))
            .map(|item| package_of(app, item))
            .collect()
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
                LedgerItem::Package if is_purchase(&item) => {
                    inputs.packages.push(package_of(app, &item)?)
                }
                LedgerItem::Package => {}
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
        for chunk in balances.chunks(TRANSACTION_ACTION_LIMIT) {
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
        let key = key(app_pk(app), AV_STATE_SK.to_owned());
        Ok(if self.update_if(key, condition, update, expr).await? {
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
}
