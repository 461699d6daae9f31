//! The alerts' items (CONTRACT §12).
//!
//! - In the app's partition: `ALERT#K#{kind}#{package}`, the alert itself,
//!   created only if absent — what makes each (app, kind, package) raised
//!   once, ever; and `ALERT#T#{raised_at}#{kind}#{package}`, the same alert
//!   sorted by when it was raised, so `DescribeAlerts` reads the newest 100
//!   with one `Query`.
//! - The watch is four attributes of the app's deduction state
//!   (`AV#L#S`): `alert_spent`, which every commit adding audio/video rows
//!   counts up in the same write; `alert_limit`; `alert_epoch`, bumped by
//!   purchases and refunds; `alert_pending`, a string set of the alerts
//!   decided and not yet published.
//! - In partitions of their own, written only when an alert is decided or
//!   a package bought: `ALERTS#PENDING` lists every app's alerts still to
//!   publish, and `ALERTS#EXPIRY` every package still watched for
//!   `PackageExpiring`, sorted by its last day — what the scheduled run
//!   reads, in proportion to the work there is.

use super::DynamoStore;
use super::error::{built, classify};
use super::item::{Item, UpdateExpr, get_n, get_s, n, s};
use super::keys::{AV_STATE_SK, SK, app_pk, key};
use crate::domain::alert::{Alert, AlertKey, AlertKind};
use crate::domain::ids::{AppId, Name, PackageId};
use crate::domain::time::{Day, UtcMillis};
use crate::store::{AlertStore, AlertWatch, ExpiryEntry, RaiseOutcome, StoreError, StoreResult};
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes, Put, TransactWriteItem};
use std::collections::{BTreeSet, HashMap};

pub const ALERT_SPENT: &str = "alert_spent";
pub const ALERT_LIMIT: &str = "alert_limit";
pub const ALERT_EPOCH: &str = "alert_epoch";
pub const ALERT_PENDING: &str = "alert_pending";

const ALERT_KEY_PREFIX: &str = "ALERT#K#";
const ALERT_TIME_PREFIX: &str = "ALERT#T#";
const PENDING_PK: &str = "ALERTS#PENDING";
const EXPIRY_PK: &str = "ALERTS#EXPIRY";
/// Items per page of the scheduled run's list of pending alerts.
const PENDING_PAGE: i32 = 100;

const APP: &str = "app";
const KIND: &str = "kind";
const PACKAGE: &str = "package";
const PACKAGE_NAME: &str = "package_name";
const RAISED_AT: &str = "raised_at";
const REMAINING: &str = "remaining_minutes";
const VALID_TO: &str = "valid_to";

fn pending_entry(key: &AlertKey) -> String {
    format!("{}#{}", key.kind.as_str(), key.package)
}

fn alert_key_sk(key: &AlertKey) -> String {
    format!("{ALERT_KEY_PREFIX}{}", pending_entry(key))
}

fn alert_time_sk(alert: &Alert) -> String {
    format!(
        "{ALERT_TIME_PREFIX}{:015}#{}",
        alert.raised_at.0.max(0),
        pending_entry(&alert.key)
    )
}

fn pending_key(alert: &Alert) -> Item {
    key(
        PENDING_PK.to_owned(),
        format!("{}#{}", alert.app, pending_entry(&alert.key)),
    )
}

fn expiry_key(entry: &ExpiryEntry) -> Item {
    key(
        EXPIRY_PK.to_owned(),
        format!("{}#{}#{}", entry.valid_to.key(), entry.app, entry.package),
    )
}

/// An alert's attributes, on each of its items.
fn alert_attributes(alert: &Alert) -> Item {
    HashMap::from([
        (APP.to_owned(), s(alert.app.as_str())),
        (KIND.to_owned(), s(alert.key.kind.as_str())),
        (PACKAGE.to_owned(), s(alert.key.package.as_str())),
        (PACKAGE_NAME.to_owned(), s(alert.package_name.as_str())),
        (RAISED_AT.to_owned(), n(alert.raised_at.0)),
        (REMAINING.to_owned(), n(alert.remaining_minutes)),
    ])
}

fn alert_of(item: &Item) -> StoreResult<Alert> {
    let corrupt = |what: &str| StoreError::Corrupt(format!("alert {what}"));
    Ok(Alert {
        app: get_s(item, APP)
            .and_then(AppId::parse)
            .ok_or_else(|| corrupt(APP))?,
        key: AlertKey {
            kind: get_s(item, KIND)
                .and_then(AlertKind::parse)
                .ok_or_else(|| corrupt(KIND))?,
            package: get_s(item, PACKAGE)
                .and_then(PackageId::parse)
                .ok_or_else(|| corrupt(PACKAGE))?,
        },
        package_name: get_s(item, PACKAGE_NAME)
            .and_then(Name::parse)
            .ok_or_else(|| corrupt(PACKAGE_NAME))?,
        raised_at: UtcMillis(
            super::item::number(item, RAISED_AT, || corrupt(RAISED_AT))?
                .ok_or_else(|| corrupt(RAISED_AT))?,
        ),
        remaining_minutes: get_n(item, REMAINING)?.ok_or_else(|| corrupt(REMAINING))?,
    })
}

fn watch_of(item: &Item) -> StoreResult<AlertWatch> {
    let pending = match item.get(ALERT_PENDING) {
        None => BTreeSet::new(),
        Some(value) => value
            .as_ss()
            .map_err(|_| StoreError::Corrupt("pending alerts".into()))?
            .iter()
            .map(|entry| {
                let (kind, package) = entry.split_once('#')?;
                Some(AlertKey {
                    kind: AlertKind::parse(kind)?,
                    package: PackageId::parse(package)?,
                })
            })
            .collect::<Option<_>>()
            .ok_or_else(|| StoreError::Corrupt("pending alerts".into()))?,
    };
    Ok(AlertWatch {
        spent: get_n(item, ALERT_SPENT)?.unwrap_or(0),
        limit: get_n(item, ALERT_LIMIT)?,
        epoch: get_n(item, ALERT_EPOCH)?.unwrap_or(0),
        pending,
    })
}

fn put(table: &str, item: Item, condition: Option<&str>) -> StoreResult<TransactWriteItem> {
    let put = Put::builder()
        .table_name(table)
        .set_item(Some(item))
        .set_condition_expression(condition.map(str::to_owned))
        .build();
    Ok(TransactWriteItem::builder().put(built(put)?).build())
}

impl DynamoStore {
    /// What a commit adding audio/video rows, or a purchase or refund, does
    /// to the app's watch (part of its update of the deduction state).
    pub(super) fn watch_counts(expr: &mut UpdateExpr, spent: u64, bump_epoch: bool) {
        if spent > 0 {
            expr.add(ALERT_SPENT, n(spent));
        }
        if bump_epoch {
            expr.add(ALERT_EPOCH, n(1));
        }
    }

    /// A purchase's entry in the scheduled run's list of packages that may
    /// be expiring.
    pub(super) fn expiry_put(&self, entry: &ExpiryEntry) -> StoreResult<TransactWriteItem> {
        let mut item = expiry_key(entry);
        item.insert(APP.to_owned(), s(entry.app.as_str()));
        item.insert(PACKAGE.to_owned(), s(entry.package.as_str()));
        item.insert(VALID_TO.to_owned(), s(entry.valid_to.key()));
        put(self.table(), item, None)
    }

    async fn alert_range(&self, app: &AppId, prefix: &str) -> StoreResult<Vec<Alert>> {
        let items = self
            .query_range(app_pk(app), prefix.to_owned(), format!("{prefix}~"))
            .await?;
        items.iter().map(alert_of).collect()
    }
}

impl AlertStore for DynamoStore {
    async fn alert_watches(&self, apps: &[AppId]) -> StoreResult<HashMap<AppId, AlertWatch>> {
        let mut watches: HashMap<AppId, AlertWatch> = apps
            .iter()
            .map(|app| (app.clone(), AlertWatch::default()))
            .collect();
        for chunk in apps.chunks(super::BATCH_GET_LIMIT) {
            let keys = chunk
                .iter()
                .map(|app| key(app_pk(app), AV_STATE_SK.to_owned()))
                .collect();
            let mut request = Some(built(
                KeysAndAttributes::builder()
                    .set_keys(Some(keys))
                    .consistent_read(true)
                    .build(),
            )?);
            while let Some(next) = request.take() {
                let (items, rest) = self.batch_get_once(next).await?;
                for item in &items {
                    let app = super::keys::app_of(item)?;
                    watches.insert(app, watch_of(item)?);
                }
                request = rest;
            }
        }
        Ok(watches)
    }

    async fn raised_alerts(&self, app: &AppId) -> StoreResult<Vec<Alert>> {
        self.alert_range(app, ALERT_KEY_PREFIX).await
    }

    async fn recent_alerts(&self, app: &AppId, limit: usize) -> StoreResult<Vec<Alert>> {
        let out = self
            .client()
            .query()
            .table_name(self.table())
            .consistent_read(true)
            .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
            .expression_attribute_names("#pk", super::keys::PK)
            .expression_attribute_names("#sk", SK)
            .expression_attribute_values(":pk", s(app_pk(app)))
            .expression_attribute_values(":prefix", s(ALERT_TIME_PREFIX))
            .scan_index_forward(false)
            .limit(i32::try_from(limit).unwrap_or(i32::MAX))
            .send()
            .await
            .map_err(classify)?;
        out.items().iter().map(alert_of).collect()
    }

    async fn raise_alert(&self, alert: &Alert) -> StoreResult<RaiseOutcome> {
        let attributes = alert_attributes(alert);
        let with_key = |mut k: Item| {
            k.extend(attributes.clone());
            k
        };
        let app = app_pk(&alert.app);
        let mut watch = UpdateExpr::default();
        watch.add(
            ALERT_PENDING,
            AttributeValue::Ss(vec![pending_entry(&alert.key)]),
        );
        let actions = vec![
            put(
                self.table(),
                with_key(key(app.clone(), alert_key_sk(&alert.key))),
                Some("attribute_not_exists(pk)"),
            )?,
            put(
                self.table(),
                with_key(key(app.clone(), alert_time_sk(alert))),
                None,
            )?,
            put(self.table(), with_key(pending_key(alert)), None)?,
            self.update(key(app, AV_STATE_SK.to_owned()), watch)?,
        ];
        Ok(if self.transact_unless_first_fails(actions).await? {
            RaiseOutcome::Raised
        } else {
            RaiseOutcome::AlreadyRaised
        })
    }

    async fn set_alert_limit(&self, app: &AppId, epoch: u64, limit: u64) -> StoreResult<bool> {
        let mut expr = UpdateExpr::default();
        let (attr, value) = (expr.name(ALERT_EPOCH), expr.value(n(epoch)));
        let condition = if epoch == 0 {
            format!("attribute_not_exists({attr}) OR {attr} = {value}")
        } else {
            format!("{attr} = {value}")
        };
        expr.set(ALERT_LIMIT, n(limit));
        let update = expr.expression();
        self.update_if(
            key(app_pk(app), AV_STATE_SK.to_owned()),
            condition,
            update,
            expr,
        )
        .await
    }

    async fn alert_published(&self, alert: &Alert) -> StoreResult<()> {
        // Two single writes, not a transaction: either one alone leaves the
        // alert pending somewhere, and publishing it again is harmless
        // (consumers dedupe on AlertId). Half the units of a transaction.
        let mut watch = UpdateExpr::default();
        let (attr, entry) = (
            watch.name(ALERT_PENDING),
            watch.value(AttributeValue::Ss(vec![pending_entry(&alert.key)])),
        );
        let unmark = self
            .client()
            .update_item()
            .table_name(self.table())
            .set_key(Some(key(app_pk(&alert.app), AV_STATE_SK.to_owned())))
            .update_expression(format!("DELETE {attr} {entry}"))
            .set_expression_attribute_names(Some(watch.names))
            .set_expression_attribute_values(Some(watch.values))
            .send();
        let unlist = self
            .client()
            .delete_item()
            .table_name(self.table())
            .set_key(Some(pending_key(alert)))
            .send();
        let (unmarked, unlisted) = tokio::join!(unmark, unlist);
        unmarked.map_err(classify)?;
        unlisted.map_err(classify)?;
        Ok(())
    }

    async fn unpublished_alerts(
        &self,
        cursor: Option<String>,
    ) -> StoreResult<(Vec<Alert>, Option<String>)> {
        let start = cursor.map(|sk| key(PENDING_PK.to_owned(), sk));
        let out = self
            .client()
            .query()
            .table_name(self.table())
            .consistent_read(true)
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", super::keys::PK)
            .expression_attribute_values(":pk", s(PENDING_PK))
            .limit(PENDING_PAGE)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(classify)?;
        let alerts = out
            .items()
            .iter()
            .map(alert_of)
            .collect::<StoreResult<_>>()?;
        let next = out
            .last_evaluated_key()
            .and_then(|k| get_s(k, SK))
            .map(str::to_owned);
        Ok((alerts, next))
    }

    async fn expiring_packages(&self, through: Day) -> StoreResult<Vec<ExpiryEntry>> {
        let items = self
            .query_range(
                EXPIRY_PK.to_owned(),
                // Below every date; DynamoDB refuses an empty key value.
                "0".to_owned(),
                format!("{}~", through.key()),
            )
            .await?;
        items
            .iter()
            .map(|item| {
                let corrupt = || StoreError::Corrupt("expiry entry".into());
                Ok(ExpiryEntry {
                    valid_to: get_s(item, VALID_TO)
                        .and_then(Day::parse_key)
                        .ok_or_else(corrupt)?,
                    app: get_s(item, APP)
                        .and_then(AppId::parse)
                        .ok_or_else(corrupt)?,
                    package: get_s(item, PACKAGE)
                        .and_then(PackageId::parse)
                        .ok_or_else(corrupt)?,
                })
            })
            .collect()
    }

    async fn forget_expiry(&self, entry: &ExpiryEntry) -> StoreResult<()> {
        self.client()
            .delete_item()
            .table_name(self.table())
            .set_key(Some(expiry_key(entry)))
            .send()
            .await
            .map_err(classify)?;
        Ok(())
    }
}
