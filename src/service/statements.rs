//! `DescribeStatement` and `DescribeStatements`: an app's monthly
//! statements (CONTRACT §11). A statement's figures are a function of the
//! events and the instants they were acknowledged: the stored meters now,
//! less the usage recorded as late that was acknowledged after the instant
//! a figure is told at. A closed statement is kept as the scheduled rollup
//! first prepared it and read back from then on: two requests. Until then
//! a query computes it the same way (the query function writes no usage
//! item).

use crate::domain::commit::LateWrite;
use crate::domain::error::{ApiError, ErrorCode};
use crate::domain::ids::{AccountId, AppId};
use crate::domain::statement::{
    Calendar, Figures, MONTHS_BACK, Month, MonthInputs, StatementBody, month_figures,
};
use crate::domain::storage::MAX_CARRY_MS;
use crate::domain::time::{Day, UtcMillis};
use crate::domain::usage_api::{StatementAnswer, StatementsAnswer};
use crate::service::access::{internal, owner_registration};
use crate::service::settle::FIRST_DAY;
use crate::service::usage::ledger_at;
use crate::store::{StoreError, UsageStore};
use std::collections::BTreeSet;

pub async fn describe_statement<S: UsageStore>(
    store: &S,
    caller: &AccountId,
    app: &AppId,
    month: Month,
    grace_seconds: i64,
    request_id: &str,
    now: UtcMillis,
) -> Result<StatementAnswer, ApiError> {
    let calendar = owned_calendar(store, caller, app, grace_seconds).await?;
    if !calendar.month_of(now).back(MONTHS_BACK).contains(&month) {
        return Err(ApiError::new(ErrorCode::InvalidMonthValueNotSupported));
    }
    let body = statement(store, app, &calendar, month, now)
        .await
        .map_err(internal)?;
    Ok(StatementAnswer::new(request_id, app, &calendar, &body, now))
}

pub async fn describe_statements<S: UsageStore>(
    store: &S,
    caller: &AccountId,
    app: &AppId,
    grace_seconds: i64,
    request_id: &str,
    now: UtcMillis,
) -> Result<StatementsAnswer, ApiError> {
    let calendar = owned_calendar(store, caller, app, grace_seconds).await?;
    let mut bodies = Vec::new();
    for month in calendar.month_of(now).back(MONTHS_BACK) {
        bodies.push(
            statement(store, app, &calendar, month, now)
                .await
                .map_err(internal)?,
        );
    }
    Ok(StatementsAnswer::new(
        request_id, app, &calendar, &bodies, now,
    ))
}

/// The app's calendar, if the caller owns it.
async fn owned_calendar<S: UsageStore>(
    store: &S,
    caller: &AccountId,
    app: &AppId,
    grace_seconds: i64,
) -> Result<Calendar, ApiError> {
    let registration = owner_registration(store, caller, app).await?;
    Ok(Calendar::new(registration.zone, grace_seconds))
}

/// `month`'s statement as of `now`: a closed one as the rollup kept it, or
/// (not kept yet) computed the same way. The query function only reads:
/// keeping is the rollup's.
pub async fn statement<S: UsageStore>(
    store: &S,
    app: &AppId,
    calendar: &Calendar,
    month: Month,
    now: UtcMillis,
) -> Result<StatementBody, StoreError> {
    if calendar.is_closed(month, now)
        && let Some(kept) = store.statement(app, month).await?
    {
        return Ok(kept);
    }
    compute(store, app, calendar, month, now).await
}

/// What the scheduled rollup does for statements: for each app it took up,
/// the statement of the month before the current one (in the app's zone),
/// once closed, is prepared if no one has yet. It never changes one: a
/// statement is kept only if none is. Answers how many it prepared.
pub async fn prepare_closed<S: UsageStore>(
    store: &S,
    apps: impl IntoIterator<Item = AppId>,
    grace_seconds: i64,
    now: UtcMillis,
) -> Result<usize, StoreError> {
    let apps: Vec<AppId> = apps.into_iter().collect();
    let zones = store.zones(&apps).await?;
    let mut prepared = 0;
    for (app, zone) in zones {
        let calendar = Calendar::new(zone, grace_seconds);
        let last = calendar.month_of(now).prev();
        if calendar.is_closed(last, now) && store.statement(&app, last).await?.is_none() {
            prepare(store, &app, &calendar, last, now).await?;
            prepared += 1;
        }
    }
    Ok(prepared)
}

/// Computes a closed statement and keeps it, unless one was kept meanwhile
/// (the same figures; whichever came first is the statement).
pub async fn prepare<S: UsageStore>(
    store: &S,
    app: &AppId,
    calendar: &Calendar,
    month: Month,
    now: UtcMillis,
) -> Result<StatementBody, StoreError> {
    let body = compute(store, app, calendar, month, now).await?;
    store.put_statement(app, &body).await?;
    Ok(store.statement(app, month).await?.unwrap_or(body))
}

/// `month`'s statement as of `now` (for a closed one, everything it holds
/// was acknowledged before its close, so `now` no longer matters).
async fn compute<S: UsageStore>(
    store: &S,
    app: &AppId,
    calendar: &Calendar,
    month: Month,
    now: UtcMillis,
) -> Result<StatementBody, StoreError> {
    let zone = &calendar.zone;
    let (start, end) = (month.starts_at(zone), month.ends_at(zone));
    let close = calendar.closes_at(month);
    let own = figures_at(store, app, calendar, month, close.min(now)).await?;
    // Adjustments: what the late usage, purchases and refunds acknowledged
    // during this month changed in each earlier month that had closed when
    // they came. A change of one month's deduction carries into every
    // later month's (the packages are shared), so from the earliest month
    // touched on, every closed month is told again.
    let until = end.min(now);
    let late = store.late_usage(app, start).await?;
    let during = |at: UtcMillis| start <= at && at < until;
    let mut touched: Vec<(Month, UtcMillis)> = Vec::new();
    for late in late.iter().filter(|l| during(l.acked)) {
        let (from, to) = late.usage.interval();
        for day in crate::domain::commit::days_of(&zone.split(from, to)) {
            touched.push((Month::of(day), late.acked));
        }
    }
    for package in store.packages(app).await? {
        for at in [Some(package.acked), package.refunded]
            .into_iter()
            .flatten()
        {
            if during(at) {
                touched.push((Month::of(package.valid_from), at));
            }
        }
    }
    let earliest = touched
        .iter()
        .filter(|(of, at)| *of < month && calendar.is_closed(*of, *at))
        .map(|(of, _)| *of)
        .min();
    let mut earlier: BTreeSet<Month> = BTreeSet::new();
    if let Some(mut of) = earliest {
        while of < month {
            if calendar.is_closed(of, until) {
                earlier.insert(of);
            }
            of = of.next();
        }
    }
    let mut adjustments = Vec::new();
    for of in earlier {
        let before =
            figures_at(store, app, calendar, of, start.max(calendar.closes_at(of))).await?;
        let after = figures_at(store, app, calendar, of, until).await?;
        let change = after - before;
        if !change.is_zero() {
            adjustments.push((of, change));
        }
    }
    let readings = store
        .measurements(app, start.minus_ms(MAX_CARRY_MS), start, until.max(start))
        .await?;
    let peak_bytes = readings.all().map(|r| r.bytes).max().unwrap_or(0);
    Ok(StatementBody {
        month,
        own,
        peak_bytes,
        adjustments,
    })
}

/// How many times [`figures_at`] reads a month again when late usage
/// landed while it read.
const SNAPSHOT_ATTEMPTS: u32 = 5;

/// `month`'s figures as they stood at `at`: what is stored now, less the
/// late usage acknowledged at or after `at`.
///
/// Late usage lands in the same transaction as its rows, so the month's
/// reads are taken between two reads of the late records: when both say
/// the same, no late usage landed in between, and the rows read hold
/// exactly the late usage listed. Otherwise the month is read again.
async fn figures_at<S: UsageStore>(
    store: &S,
    app: &AppId,
    calendar: &Calendar,
    month: Month,
    at: UtcMillis,
) -> Result<Figures, StoreError> {
    let mut late = store.late_usage(app, at).await?;
    for _ in 0..SNAPSHOT_ATTEMPTS {
        let figures = month_at(store, app, calendar, month, at, &late).await?;
        let again = store.late_usage(app, at).await?;
        if again == late {
            return Ok(figures);
        }
        late = again;
    }
    Err(StoreError::Conflict(format!(
        "late usage of app {app} kept landing while its month {month} was read"
    )))
}

/// `month`'s figures from the stored rows less `late`.
async fn month_at<S: UsageStore>(
    store: &S,
    app: &AppId,
    calendar: &Calendar,
    month: Month,
    at: UtcMillis,
    late: &[LateWrite],
) -> Result<Figures, StoreError> {
    let zone = &calendar.zone;
    let (first, last) = (month.first_day(), month.last_day());
    let (from, to) = (month.starts_at(zone), month.ends_at(zone));
    let (hours, class_recordings) = tokio::join!(
        store.hours(app, from.hour(), to.minus_ms(1).hour()),
        store.class_recordings(app, first, last),
    );
    // With nothing late since `at` and every package as it was then, the
    // rows before the month are as they were then, and the balance prepared
    // for them can be trusted as any answer trusts it; otherwise the month
    // is deducted from the start, with the packages known at `at`.
    let inputs = store.ledger_inputs(app, Day(first.0 - 1)).await?;
    let unchanged = inputs
        .packages
        .iter()
        .all(|p| p.as_of(at).as_ref() == Some(p));
    let (rows, packages, used_before) = if late.is_empty() && unchanged {
        let ledger = ledger_at(store, app, first, inputs).await?;
        (
            store.av_rows(app, first, last).await?,
            ledger.packages().to_vec(),
            ledger.used_by_id(),
        )
    } else {
        (
            store.av_rows(app, FIRST_DAY, last).await?,
            inputs.packages.iter().filter_map(|p| p.as_of(at)).collect(),
            Default::default(),
        )
    };
    Ok(month_figures(
        zone,
        month,
        MonthInputs {
            rows,
            packages,
            used_before,
            hours: hours?
                .into_iter()
                .map(|h| (h.hour, h.usage, h.head))
                .collect(),
            class_recordings: class_recordings?,
            late: late.to_vec(),
        },
    ))
}
