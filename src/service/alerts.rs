//! Deciding and publishing alerts (CONTRACT §12), in the invocation that
//! acknowledges the event that causes them, and in the scheduled run.
//!
//! After a batch is counted, each app it touched is checked: one strongly
//! consistent read of its watch (`store::alerts`). Only when the watch is
//! due — the minutes counted since the last decision may have crossed a
//! threshold, or a purchase or refund was acknowledged — is the deduction
//! read and decided (`domain::alert::decide`). A decision is stored before
//! anything is published, once per (app, kind, package) whatever runs at the
//! same time, and stays pending until the bus took it; every check of the
//! app, every redelivery of the batch and every scheduled run publishes what
//! is pending. So an alert is never lost and never decided twice, and is
//! delivered at least once: consumers dedupe on its `AlertId`.

use crate::bus::{AlertBus, BusError, BusEvent, MAX_ENTRIES_PER_PUT};
use crate::domain::alert::{Alert, AlertKey, EXPIRING_WITHIN_DAYS, decide};
use crate::domain::ids::AppId;
use crate::domain::time::{Day, UtcMillis};
use crate::service::usage::ledger_now;
use crate::store::{
    AlertStore, AlertWatch, ExpiryEntry, RaiseOutcome, Registration, StoreError, UsageStore,
};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

/// How hard one invocation tries to publish before leaving the rest
/// pending: rounds of `PutEvents` for what the bus has not taken yet, with
/// a doubling pause between them. The SDK already retried each request
/// (throttling, timeouts); these rounds are for entries the bus failed
/// alone and for requests the SDK gave up on.
#[derive(Clone, Copy, Debug)]
pub struct PublishPolicy {
    pub rounds: u32,
    pub first_backoff: Duration,
}

impl Default for PublishPolicy {
    fn default() -> Self {
        PublishPolicy {
            rounds: 3,
            first_backoff: Duration::from_millis(50),
        }
    }
}

/// Why an app is checked.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Check {
    /// A purchase or refund of the app was acknowledged: minutes may have
    /// moved between packages without any being added, so decide whatever
    /// the watch says.
    pub decide: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AlertReport {
    /// Apps whose deduction was read and decided.
    pub decided: usize,
    /// Alerts decided by this invocation.
    pub raised: usize,
    /// Alerts the bus took (again, for ones decided before).
    pub published: usize,
    /// Apps with an alert still pending, or whose check failed: the caller
    /// makes sure they are checked again (SQS redelivers their messages).
    pub unfinished: BTreeSet<AppId>,
}

/// Checks `apps` after a batch acknowledged at `now`.
pub async fn check_apps<S, B>(
    store: &S,
    bus: &B,
    apps: &BTreeMap<AppId, Check>,
    now: UtcMillis,
    policy: PublishPolicy,
) -> AlertReport
where
    S: UsageStore + AlertStore,
    B: AlertBus,
{
    let mut report = AlertReport::default();
    if apps.is_empty() {
        return report;
    }
    let list: Vec<AppId> = apps.keys().cloned().collect();
    let watches = match store.alert_watches(&list).await {
        Ok(watches) => watches,
        Err(err) => {
            tracing::warn!(error = %err, "alert watches not read; the batch's apps are checked on redelivery");
            report.unfinished.extend(list);
            return report;
        }
    };
    let mut to_publish: Vec<Alert> = Vec::new();
    let mut registrations: HashMap<AppId, Registration> = HashMap::new();
    for (app, check) in apps {
        let watch = watches.get(app).cloned().unwrap_or_default();
        match check_app(store, app, &watch, check.decide, now, &mut report).await {
            Ok((pending, registration)) => {
                to_publish.extend(pending);
                registrations.extend(registration.map(|r| (app.clone(), r)));
            }
            Err(err) => {
                tracing::warn!(app = %app, error = %err, "alerts not checked; checked again on redelivery");
                report.unfinished.insert(app.clone());
            }
        }
    }
    publish(store, bus, to_publish, registrations, policy, &mut report).await;
    report
}

/// Decides the app if its watch is due (or `force`), and answers what of
/// the app is pending publication, with its registration when it was read.
async fn check_app<S: UsageStore + AlertStore>(
    store: &S,
    app: &AppId,
    watch: &AlertWatch,
    force: bool,
    now: UtcMillis,
    report: &mut AlertReport,
) -> Result<(Vec<Alert>, Option<Registration>), StoreError> {
    if !(force || watch.is_due()) {
        if watch.pending.is_empty() {
            return Ok((Vec::new(), None));
        }
        let raised = store.raised_alerts(app).await?;
        return Ok((pending_among(raised, &watch.pending), None));
    }
    let Some(registration) = store.registration(app).await? else {
        // Not registered yet: nothing of it is counted, nothing to decide.
        return Ok((Vec::new(), None));
    };
    let pending = decide_app(store, app, &registration, watch, now, report).await?;
    Ok((pending, Some(registration)))
}

/// Reads the deduction, raises what holds and was never raised, and sets
/// the watch's next limit.
async fn decide_app<S: UsageStore + AlertStore>(
    store: &S,
    app: &AppId,
    registration: &Registration,
    watch: &AlertWatch,
    now: UtcMillis,
    report: &mut AlertReport,
) -> Result<Vec<Alert>, StoreError> {
    let today = registration.zone.day_of(now);
    let (ledger, _) = ledger_now(store, app, today).await?;
    let before = store.raised_alerts(app).await?;
    let raised: BTreeSet<AlertKey> = before.iter().map(|a| a.key.clone()).collect();
    let decision = decide(app, &ledger, today, &raised, now);
    report.decided += 1;
    // Pending: what was before, and what this decision raised (an alert
    // another invocation raised first is that one's to publish).
    let mut pending = pending_among(before, &watch.pending);
    for alert in decision.raise.iter() {
        if store.raise_alert(alert).await? == RaiseOutcome::Raised {
            report.raised += 1;
            tracing::info!(app = %app, kind = alert.key.kind.as_str(), package = %alert.key.package,
                remaining_minutes = alert.remaining_minutes, "alert raised");
            pending.push(alert.clone());
        }
    }
    // The minutes counted after the watch was read are in the rows read
    // since, and counted again from `spent`: the limit errs early, never
    // late.
    let limit = decision.headroom.map_or(crate::store::alerts::NEVER, |h| {
        watch.spent.saturating_add(h)
    });
    store.set_alert_limit(app, watch.epoch, limit).await?;
    Ok(pending)
}

/// What the app has raised, ever.
async fn raised_keys<S: AlertStore>(
    store: &S,
    app: &AppId,
) -> Result<BTreeSet<AlertKey>, StoreError> {
    Ok(store
        .raised_alerts(app)
        .await?
        .into_iter()
        .map(|a| a.key)
        .collect())
}

/// Those of `raised` among `pending`.
fn pending_among(raised: Vec<Alert>, pending: &BTreeSet<AlertKey>) -> Vec<Alert> {
    raised
        .into_iter()
        .filter(|a| pending.contains(&a.key))
        .collect()
}

/// Publishes `alerts`, each marked published once the bus took it; what
/// the bus has not taken after the policy's rounds stays pending, and its
/// app is reported unfinished.
async fn publish<S, B>(
    store: &S,
    bus: &B,
    alerts: Vec<Alert>,
    mut registrations: HashMap<AppId, Registration>,
    policy: PublishPolicy,
    report: &mut AlertReport,
) where
    S: UsageStore + AlertStore,
    B: AlertBus,
{
    if alerts.is_empty() {
        return;
    }
    // The detail names the owner and writes RaisedAt in the app's zone:
    // the registrations a decision read, the others read here.
    let mut left: Vec<(Alert, BusEvent)> = Vec::new();
    for alert in alerts {
        if !registrations.contains_key(&alert.app) {
            match store.registration(&alert.app).await {
                Ok(Some(r)) => {
                    registrations.insert(alert.app.clone(), r);
                }
                Ok(None) | Err(_) => {
                    report.unfinished.insert(alert.app.clone());
                    continue;
                }
            }
        }
        let r = &registrations[&alert.app];
        let detail = serde_json::to_string(&alert.detail(&r.owner, &r.zone))
            .expect("an alert's detail serializes");
        left.push((alert, BusEvent { detail }));
    }
    let mut backoff = policy.first_backoff;
    for round in 0..policy.rounds.max(1) {
        if round > 0 {
            tokio::time::sleep(backoff).await;
            backoff *= 2;
        }
        let mut failed = Vec::new();
        for chunk in left.chunks(MAX_ENTRIES_PER_PUT) {
            let events: Vec<BusEvent> = chunk.iter().map(|(_, e)| e.clone()).collect();
            let taken = match bus.put(&events).await {
                Ok(taken) => taken,
                Err(err @ BusError::Refused(_)) => {
                    tracing::error!(error = %err, "the bus refused alerts; they stay pending");
                    vec![false; chunk.len()]
                }
                Err(err) => {
                    tracing::warn!(error = %err, "alerts not published yet");
                    vec![false; chunk.len()]
                }
            };
            for ((alert, event), taken) in chunk.iter().zip(taken) {
                if !taken {
                    failed.push((alert.clone(), event.clone()));
                    continue;
                }
                report.published += 1;
                if let Err(err) = store.alert_published(alert).await {
                    // Published, but still marked pending: published again
                    // later, which consumers dedupe.
                    tracing::warn!(error = %err, "a published alert stays marked pending");
                    report.unfinished.insert(alert.app.clone());
                }
            }
        }
        left = failed;
        if left.is_empty() {
            return;
        }
    }
    for (alert, _) in left {
        report.unfinished.insert(alert.app);
    }
}

/// What the scheduled run did about alerts.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ScheduledAlerts {
    pub alerts_raised: usize,
    pub alerts_published: usize,
    /// Apps left with an alert pending (published by a later run, or by
    /// the next batch of the app).
    pub alerts_pending_apps: usize,
}

/// The scheduled run: decides every app with a package that may be
/// expiring (its last day at most [`EXPIRING_WITHIN_DAYS`] after today in
/// the zone furthest ahead), and publishes whatever any app left pending.
/// Proportional to the packages near their end and the alerts pending,
/// never to the table.
pub async fn scheduled<S, B>(
    store: &S,
    bus: &B,
    now: UtcMillis,
    policy: PublishPolicy,
) -> Result<ScheduledAlerts, StoreError>
where
    S: UsageStore + AlertStore,
    B: AlertBus,
{
    // No zone is more than a day ahead of UTC's date.
    let utc_today = now.day();
    let through = Day(utc_today.0 + 1 + EXPIRING_WITHIN_DAYS);
    let entries = store.expiring_packages(through).await?;
    let mut apps: BTreeMap<AppId, Check> = BTreeMap::new();
    for entry in &entries {
        apps.insert(entry.app.clone(), Check { decide: true });
    }
    let mut report = check_apps(store, bus, &apps, now, policy).await;
    forget_settled_expiries(store, &entries, utc_today).await?;
    // What earlier invocations left pending, every app's.
    let mut cursor = None;
    loop {
        let (alerts, next) = store.unpublished_alerts(cursor).await?;
        let mut page = AlertReport::default();
        publish(store, bus, alerts, HashMap::new(), policy, &mut page).await;
        report.published += page.published;
        report.unfinished.extend(page.unfinished);
        match next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    Ok(ScheduledAlerts {
        alerts_raised: report.raised,
        alerts_published: report.published,
        alerts_pending_apps: report.unfinished.len(),
    })
}

/// Stops watching packages whose `PackageExpiring` was raised or never can
/// be: refunded, or past their last day in every zone.
async fn forget_settled_expiries<S: UsageStore + AlertStore>(
    store: &S,
    entries: &[ExpiryEntry],
    utc_today: Day,
) -> Result<(), StoreError> {
    let mut by_app: BTreeMap<&AppId, Vec<&ExpiryEntry>> = BTreeMap::new();
    for entry in entries {
        by_app.entry(&entry.app).or_default().push(entry);
    }
    for (app, entries) in by_app {
        let raised = raised_keys(store, app).await?;
        let refunded: BTreeSet<_> = store
            .packages(app)
            .await?
            .into_iter()
            .filter(|p| p.refunded.is_some())
            .map(|p| p.id)
            .collect();
        for entry in entries {
            let key = AlertKey {
                kind: crate::domain::alert::AlertKind::PackageExpiring,
                package: entry.package.clone(),
            };
            // A zone's date is at most a day behind UTC's.
            let past = entry.valid_to.0 < utc_today.0 - 1;
            if raised.contains(&key) || refunded.contains(&entry.package) || past {
                store.forget_expiry(entry).await?;
            }
        }
    }
    Ok(())
}
