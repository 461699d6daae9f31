//! The daily rollup: stores each changed (app, day)'s totals, summed from its
//! hours, so daily queries read one item per day instead of 24.
//!
//! Safe to repeat and to overlap: a day is written only if its change counter
//! still equals the one of the snapshot its totals came from, so the stored
//! totals are always exactly the sum of the hours at that counter, and an
//! event landing meanwhile leaves the day marked for the next run.

use crate::domain::ids::AppId;
use crate::domain::rollup::RollupRequest;
use crate::domain::time::Day;
use crate::domain::usage::ModeUsage;
use crate::service::settle::{SettleOutcome, settle_app};
use crate::store::{StoreError, UsageStore, WriteDayOutcome};
use futures::StreamExt;
use serde::Serialize;
use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Days rolled at once; each costs two sequential requests.
const CONCURRENCY: usize = 8;
/// Attempts per day when events keep landing on it during the roll.
const ATTEMPTS_PER_DAY: u32 = 3;

/// Where a [`Deadline`] reads the time. Deployed runs read the monotonic
/// clock; a test passes a clock it moves itself, so that where a run stops
/// depends on the work done, not on how fast the machine is.
pub trait Clock: Send + Sync {
    fn now(&self) -> Instant;
}

/// The monotonic clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
}

/// A clock that only moves when told to.
#[cfg(any(test, feature = "testkit"))]
#[derive(Debug)]
pub struct ManualClock {
    now: std::sync::Mutex<Instant>,
}

#[cfg(any(test, feature = "testkit"))]
impl ManualClock {
    /// Starts at the current instant (an `Instant` cannot be made otherwise).
    pub fn new() -> Self {
        ManualClock {
            now: std::sync::Mutex::new(Instant::now()),
        }
    }

    pub fn advance(&self, by: Duration) {
        *self.now.lock().expect("clock lock") += by;
    }
}

#[cfg(any(test, feature = "testkit"))]
impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(any(test, feature = "testkit"))]
impl Clock for ManualClock {
    fn now(&self) -> Instant {
        *self.now.lock().expect("clock lock")
    }
}

/// When the run must stop taking new work.
#[derive(Clone)]
pub struct Deadline {
    stop: Option<(Instant, Arc<dyn Clock>)>,
}

impl Deadline {
    /// Stops `margin` before `deadline` on the monotonic clock, leaving time to answer.
    pub fn before(deadline: Instant, margin: Duration) -> Self {
        Self::before_on(Arc::new(SystemClock), deadline, margin)
    }

    /// Stops `margin` before `deadline` as `clock` tells the time.
    pub fn before_on(clock: Arc<dyn Clock>, deadline: Instant, margin: Duration) -> Self {
        Deadline {
            stop: Some((deadline.checked_sub(margin).unwrap_or(deadline), clock)),
        }
    }

    pub fn none() -> Self {
        Deadline { stop: None }
    }

    pub fn passed(&self) -> bool {
        self.stop
            .as_ref()
            .is_some_and(|(at, clock)| clock.now() >= *at)
    }
}

impl fmt::Debug for Deadline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Deadline")
            .field("stop_at", &self.stop.as_ref().map(|(at, _)| at))
            .finish()
    }
}

/// What a run did; also the function's answer.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RollupReport {
    pub mode: &'static str,
    /// (app, record mode, day) aggregates stored: both modes of every day written.
    pub aggregates_written: usize,
    pub days_written: usize,
    /// Days found already rolled (a repeated or overlapping run).
    pub days_already_rolled: usize,
    /// Days that kept changing during the run, or failed; still marked.
    pub days_deferred: usize,
    /// Days whose hourly data has expired; their totals are kept as they are.
    pub days_expired: usize,
    /// Work the run knows it left because its deadline came: what it counted,
    /// not everything there is.
    ///
    /// A scheduled run reads its work list a page at a time and checks the
    /// deadline before each day, so it counts the days of the page it stopped
    /// in that it did not take. A run whose deadline had passed before a page
    /// still reads that one page (one request, inside the margin kept before
    /// the Lambda deadline) so that it can say how much is waiting; pages
    /// after it are not read, so with more pages the true number is larger.
    /// A backfill counts each day of its range it did not reach once (which
    /// apps have data on those days is not read).
    ///
    /// `complete` is what says whether anything is left: `false` whenever
    /// this is above zero, and also when the work list could not be read.
    pub days_left: usize,
    /// Apps whose package balances per day were prepared, and for how many
    /// days in all.
    pub apps_settled: usize,
    pub balances_written: usize,
    /// Apps that changed while being settled, or failed: still marked.
    pub apps_deferred: usize,
    /// False when the run stopped early; the next run continues.
    pub complete: bool,
    /// Closed monthly statements this run prepared (kept as computed).
    pub statements_prepared: usize,
    /// What a scheduled run did about alerts (absent from backfills).
    #[serde(skip_serializing_if = "Option::is_none", flatten)]
    pub alerts: Option<crate::service::alerts::ScheduledAlerts>,
    /// The apps whose days or balances this run took up.
    #[serde(skip)]
    pub apps: TouchedApps,
}

/// The apps a run took up, for what runs after it (the statements it
/// prepares); not a figure of the run, so two reports that differ only in
/// it are equal.
#[derive(Clone, Debug, Default)]
pub struct TouchedApps(pub BTreeSet<AppId>);

impl PartialEq for TouchedApps {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for TouchedApps {}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum DayOutcome {
    Written,
    AlreadyRolled,
    Deferred,
    Expired,
    NoData,
}

pub async fn run_rollup<S: UsageStore>(
    store: &S,
    request: &RollupRequest,
    deadline: Deadline,
) -> RollupReport {
    let mut report = RollupReport {
        complete: true,
        ..RollupReport::default()
    };
    match request {
        RollupRequest::Scheduled => {
            report.mode = "scheduled";
            scheduled(store, &deadline, &mut report).await;
            if report.complete {
                settle_pending(store, &deadline, &mut report).await;
            }
        }
        RollupRequest::Backfill { from, to, app } => {
            report.mode = "backfill";
            backfill(store, *from, *to, app.as_ref(), &deadline, &mut report).await;
            // An app's balances are recomputed whole: a day's balance
            // depends on every day before it.
            if let Some(app) = app
                && report.complete
            {
                settle_all(store, vec![app.clone()], true, &deadline, &mut report).await;
            }
        }
    }
    report
}

/// Reads a page before checking the deadline: a run out of time still learns,
/// for one request, how many marked days it leaves (see `days_left`), and a
/// run with nothing marked is complete however late it is.
async fn scheduled<S: UsageStore>(store: &S, deadline: &Deadline, report: &mut RollupReport) {
    let mut cursor = None;
    loop {
        let page = match store.pending_days(cursor).await {
            Ok(page) => page,
            Err(err) => {
                tracing::warn!(error = %err, "could not list pending days; the next run retries");
                report.complete = false;
                return;
            }
        };
        let days: Vec<(AppId, Day)> = page.days.into_iter().map(|p| (p.app, p.day)).collect();
        roll_all(store, days, false, deadline, report).await;
        match page.next {
            Some(next) if report.complete => cursor = Some(next),
            _ => return,
        }
    }
}

/// The apps whose rows or packages changed since they were last settled, a
/// page at a time, like the recording days.
async fn settle_pending<S: UsageStore>(store: &S, deadline: &Deadline, report: &mut RollupReport) {
    let mut cursor = None;
    loop {
        let (apps, next) = match store.pending_apps(cursor).await {
            Ok(page) => page,
            Err(err) => {
                tracing::warn!(error = %err, "could not list apps to settle; the next run retries");
                report.complete = false;
                return;
            }
        };
        settle_all(store, apps, false, deadline, report).await;
        match next {
            Some(next) if report.complete => cursor = Some(next),
            _ => return,
        }
    }
}

async fn settle_all<S: UsageStore>(
    store: &S,
    apps: Vec<AppId>,
    recompute: bool,
    deadline: &Deadline,
    report: &mut RollupReport,
) {
    report.apps.0.extend(apps.iter().cloned());
    let outcomes: Vec<Option<Result<SettleOutcome, StoreError>>> = futures::stream::iter(apps)
        .map(|app| async move {
            if deadline.passed() {
                return None;
            }
            let outcome = settle_app(store, &app, recompute).await;
            if let Err(err) = &outcome {
                tracing::warn!(error = %err, app_id = %app, "app not settled; left for the next run");
            }
            Some(outcome)
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    for outcome in outcomes {
        match outcome {
            None => report.complete = false,
            Some(Ok(SettleOutcome::Settled(days))) => {
                report.apps_settled += 1;
                report.balances_written += days;
            }
            Some(Ok(SettleOutcome::Deferred) | Err(_)) => report.apps_deferred += 1,
        }
    }
}

async fn backfill<S: UsageStore>(
    store: &S,
    from: Day,
    to: Day,
    app: Option<&AppId>,
    deadline: &Deadline,
    report: &mut RollupReport,
) {
    let mut day = from;
    while day <= to {
        if deadline.passed() {
            report.complete = false;
            report.days_left += (to.0 - day.0 + 1) as usize;
            return;
        }
        let apps = match app {
            Some(app) => Ok(vec![app.clone()]),
            None => store.apps_with_usage(day).await,
        };
        match apps {
            Ok(apps) => {
                roll_all(
                    store,
                    apps.into_iter().map(|a| (a, day)).collect(),
                    true,
                    deadline,
                    report,
                )
                .await
            }
            Err(err) => {
                tracing::warn!(error = %err, day = %day.key(), "could not list apps of the day");
                report.days_deferred += 1;
            }
        }
        day = day.next();
    }
}

async fn roll_all<S: UsageStore>(
    store: &S,
    days: Vec<(AppId, Day)>,
    recompute: bool,
    deadline: &Deadline,
    report: &mut RollupReport,
) {
    report
        .apps
        .0
        .extend(days.iter().map(|(app, _)| app.clone()));
    let outcomes: Vec<Option<DayOutcome>> = futures::stream::iter(days)
        .map(|(app, day)| async move {
            if deadline.passed() {
                return None;
            }
            Some(match roll_day(store, &app, day, recompute).await {
                Ok(outcome) => outcome,
                Err(err) => {
                    tracing::warn!(error = %err, app_id = %app, day = %day.key(), "day not rolled; left for the next run");
                    DayOutcome::Deferred
                }
            })
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    for outcome in outcomes {
        match outcome {
            None => {
                report.complete = false;
                report.days_left += 1;
            }
            Some(DayOutcome::Written) => {
                report.days_written += 1;
                report.aggregates_written += crate::domain::usage::RecordMode::ALL.len();
            }
            Some(DayOutcome::AlreadyRolled) => report.days_already_rolled += 1,
            Some(DayOutcome::Deferred) => report.days_deferred += 1,
            Some(DayOutcome::Expired) => report.days_expired += 1,
            Some(DayOutcome::NoData) => {}
        }
    }
}

/// Rolls one day from a consistent snapshot. `recompute` rewrites a day even
/// if it is already rolled (backfill and repair).
async fn roll_day<S: UsageStore>(
    store: &S,
    app: &AppId,
    day: Day,
    recompute: bool,
) -> Result<DayOutcome, StoreError> {
    for _ in 0..ATTEMPTS_PER_DAY {
        let snapshot = store.day_snapshot(app, day).await?;
        let Some(record) = snapshot.record else {
            return Ok(DayOutcome::NoData);
        };
        if record.is_rolled() && !recompute {
            return Ok(DayOutcome::AlreadyRolled);
        }
        // A day record is only ever created together with an hour, so no
        // hours means they expired: keep the totals rather than zero them.
        if snapshot.hours.is_empty() {
            return Ok(DayOutcome::Expired);
        }
        let mut totals = ModeUsage::default();
        for hour in &snapshot.hours {
            totals += hour.usage;
        }
        if store.write_day(app, day, &totals, record.seq).await? == WriteDayOutcome::Written {
            return Ok(DayOutcome::Written);
        }
    }
    Ok(DayOutcome::Deferred)
}
