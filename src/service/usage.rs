//! The usage page's actions: the caller's apps, a trend per service type,
//! the details rows with what packages paid for them, and the packages.
//! Every answer is computed from the stored rows and packages as they are
//! now, so an acknowledged event shows in the very next answer.

use crate::domain::alert::RUN_OUT_RATE_DAYS;
use crate::domain::class::ClassFacts;
use crate::domain::commit::AvMillis;
use crate::domain::deduction::{Ledger, billable_minutes};
use crate::domain::details;
use crate::domain::error::{ApiError, ErrorCode};
use crate::domain::export::{CsvFile, ExportError};
use crate::domain::ids::{AccountId, AppId, ClassId};
use crate::domain::storage;
use crate::domain::time::{Day, UtcMillis};
use crate::domain::usage::TierMillis;
use crate::domain::usage_api::{
    AppsAnswer, DetailsAnswer, DetailsQuery, DetailsRow, DetailsService, MAX_EXPORT_BYTES,
    PackagesAnswer, Page, ServiceType, UsageDataAnswer, UsageDataQuery,
};
use crate::service::access::{internal, owner_registration};
use crate::service::settle::{FIRST_DAY, LAST_DAY};
use crate::store::{LedgerInputs, StoreError, UsageStore};
use std::collections::{BTreeMap, HashMap};

pub async fn describe_apps<S: UsageStore>(
    store: &S,
    caller: &AccountId,
    request_id: &str,
) -> Result<AppsAnswer, ApiError> {
    let apps = store.apps_of(caller).await.map_err(internal)?;
    Ok(AppsAnswer::new(
        request_id,
        apps.into_iter().map(|(app, r)| (app, r.name, r.zone)),
    ))
}

pub async fn usage_data<S: UsageStore>(
    store: &S,
    caller: &AccountId,
    query: &UsageDataQuery,
    request_id: &str,
) -> Result<UsageDataAnswer, ApiError> {
    // The app's zone decides the buckets, so the registration is read first.
    let registration = owner_registration(store, caller, &query.app).await?;
    let query = &UsageDataQuery {
        zone: registration.zone,
        ..query.clone()
    };
    let zone = &query.zone;
    // Every bucket is answered whole: a day's bucket holds all its hours,
    // wherever the window starts or ends inside it.
    let (from, to) = query.covered();
    let (first, last) = (from.hour(), to.minus_ms(1).hour());
    let bucket = |at: UtcMillis| zone.bucket_start(query.interval, at);
    match query.service {
        ServiceType::AudioVideo => {
            let hours = store
                .av_hours(&query.app, first, last)
                .await
                .map_err(internal)?;
            let mut usage: HashMap<UtcMillis, AvMillis> = HashMap::new();
            for h in hours {
                for (at, ms) in zone.pieces(h.hour, h.usage, h.head) {
                    *usage.entry(bucket(at)).or_default() += ms;
                }
            }
            Ok(UsageDataAnswer::audio_video(request_id, query, |b| {
                usage.get(&b).copied().unwrap_or_default()
            }))
        }
        ServiceType::Recording => {
            let hours = store
                .hours(&query.app, first, last)
                .await
                .map_err(internal)?;
            let mut usage: HashMap<UtcMillis, TierMillis> = HashMap::new();
            for h in hours {
                let (total, head) = (h.usage.both_modes(), h.head.both_modes());
                for (at, ms) in zone.pieces(h.hour, total, head) {
                    *usage.entry(bucket(at)).or_default() += ms;
                }
            }
            Ok(UsageDataAnswer::recording(request_id, query, |b| {
                usage.get(&b).copied().unwrap_or_default()
            }))
        }
        ServiceType::Storage => {
            // The window's readings and the one before it.
            let since = from.minus_ms(storage::MAX_CARRY_MS);
            let readings = store
                .measurements(&query.app, since, from, to)
                .await
                .map_err(internal)?;
            let buckets = zone.buckets(query.interval, query.start, query.end);
            let peaks: HashMap<UtcMillis, u64> = storage::peaks_in(readings.all(), &buckets)
                .into_iter()
                .collect();
            Ok(UsageDataAnswer::storage(request_id, query, |b| {
                peaks.get(&b).copied().unwrap_or(0)
            }))
        }
    }
}

pub async fn usage_details<S: UsageStore>(
    store: &S,
    caller: &AccountId,
    query: &DetailsQuery,
    page: Page,
    request_id: &str,
) -> Result<DetailsAnswer, ApiError> {
    let (query, rows) = details_rows(store, caller, query, Some(page)).await?;
    Ok(DetailsAnswer::new(request_id, &query, page, rows))
}

/// `ExportUsageDetails`: every row of the window as one CSV file. The size
/// limit is the last check, after the app's: the rows are read, and the file
/// written until it would pass the limit.
pub async fn export_details<S: UsageStore>(
    store: &S,
    caller: &AccountId,
    query: &DetailsQuery,
) -> Result<CsvFile, ApiError> {
    let (query, rows) = details_rows(store, caller, query, None).await?;
    CsvFile::details(&query, &rows, MAX_EXPORT_BYTES).map_err(|err| match err {
        ExportError::TooLarge => ApiError::new(ErrorCode::InvalidTimeSpanTooManyRecords),
        ExportError::Writer(_) => {
            tracing::error!(error = %err, "the export could not be written");
            ApiError::new(ErrorCode::InternalError)
        }
    })
}

/// The query in the app's zone, and the window's rows after the `ClassId`
/// filter, in allocation order, with the facts of every class they show:
/// those of one page, or (`page` None, an export) of every row.
async fn details_rows<S: UsageStore>(
    store: &S,
    caller: &AccountId,
    query: &DetailsQuery,
    page: Option<Page>,
) -> Result<(DetailsQuery, Vec<DetailsRow>), ApiError> {
    // The app's zone decides the window's days, so the registration is
    // read first.
    let registration = owner_registration(store, caller, &query.app).await?;
    let app_name = registration.name;
    let query = DetailsQuery {
        zone: registration.zone,
        ..query.clone()
    };
    let (first, last) = query.days();
    let rows = match query.service {
        DetailsService::AudioVideo => {
            // The deduction's inputs and the window's rows go out together.
            // The balances at the window's start come from the days before
            // it; only the classes whose order shows are read.
            let (inputs, rows) = tokio::join!(
                store.ledger_inputs(&query.app, Day(first.0 - 1)),
                store.av_rows(&query.app, first, last),
            );
            let mut ledger = ledger_at(store, &query.app, first, inputs.map_err(internal)?)
                .await
                .map_err(internal)?;
            let window = details::settle_before(&mut ledger, first, rows.map_err(internal)?);
            let classes =
                details::av_classes_to_order(&window, &ledger, query.class.as_ref(), page);
            let facts = class_facts(store, &query, &classes).await?;
            details::av_details(&query, app_name.as_ref(), ledger, window, &facts)
        }
        DetailsService::Recording => {
            let zone = &query.zone;
            let (from, to) = (zone.day_start(first), zone.day_start(last.next()));
            let (hours, classes) = tokio::join!(
                store.hours(&query.app, from.hour(), to.minus_ms(1).hour()),
                store.class_recordings(&query.app, first, last),
            );
            // Each hour's milliseconds on the local day they lie in; the
            // parts outside the window's days are left out.
            let recorded: Vec<(Day, u64)> = hours
                .map_err(internal)?
                .into_iter()
                .flat_map(|h| {
                    zone.pieces(h.hour, h.usage.both_modes(), h.head.both_modes())
                        .into_iter()
                        .map(|(at, ms)| (zone.day_of(at), ms.total()))
                })
                .filter(|(day, _)| (first..=last).contains(day))
                .collect();
            let rows =
                details::recording_rows(recorded, classes.map_err(internal)?, query.class.as_ref());
            let classes = details::recording_classes_to_order(&rows, page);
            let facts = class_facts(store, &query, &classes).await?;
            details::recording_details(&query, app_name.as_ref(), rows, &facts)
        }
    };
    Ok((query, rows))
}

/// The facts of `classes`: one read, none when there are none to read.
async fn class_facts<S: UsageStore>(
    store: &S,
    query: &DetailsQuery,
    classes: &[ClassId],
) -> Result<BTreeMap<ClassId, ClassFacts>, ApiError> {
    if classes.is_empty() {
        return Ok(BTreeMap::new());
    }
    store
        .class_facts(&query.app, classes)
        .await
        .map_err(internal)
}

pub async fn usage_packages<S: UsageStore>(
    store: &S,
    caller: &AccountId,
    app: &AppId,
    request_id: &str,
    now: UtcMillis,
) -> Result<PackagesAnswer, ApiError> {
    // Today is the app's local date, so the registration is read first.
    let registration = owner_registration(store, caller, app).await?;
    let today = registration.zone.day_of(now);
    let (ledger, recent_minutes) = ledger_now(store, app, today).await.map_err(internal)?;
    Ok(PackagesAnswer::from_ledger(
        request_id,
        app,
        &registration.zone,
        &ledger,
        today,
        recent_minutes,
    ))
}

/// The app's packages after every row it has, and the billable minutes of
/// its last [`RUN_OUT_RATE_DAYS`] complete local days before `today` (what
/// projects the run-out dates). The balances before that week, and its
/// rows and the later ones, go out together.
pub(crate) async fn ledger_now<S: UsageStore>(
    store: &S,
    app: &AppId,
    today: Day,
) -> Result<(Ledger, u64), StoreError> {
    let first = Day(today.0 - RUN_OUT_RATE_DAYS);
    let (inputs, rows) = tokio::join!(
        store.ledger_inputs(app, Day(first.0 - 1)),
        store.av_rows(app, first, LAST_DAY),
    );
    let mut ledger = ledger_at(store, app, first, inputs?).await?;
    let rows = rows?;
    let recent_minutes = rows
        .iter()
        .filter(|row| row.key.day < today)
        .map(|row| billable_minutes(row.ms))
        .sum();
    details::settle_rows(&mut ledger, rows);
    Ok((ledger, recent_minutes))
}

/// The packages and what each had paid before `day` began.
///
/// Usually the balance prepared for the day before, read with the packages
/// (one request, already made). When it cannot be trusted — the rollup has not
/// prepared it yet, or rows or packages changed on or before it since — the
/// latest trusted balance before it, and the rows after that, are read and
/// settled a day at a time; with none, the whole history.
pub(crate) async fn ledger_at<S: UsageStore>(
    store: &S,
    app: &AppId,
    day: Day,
    inputs: LedgerInputs,
) -> Result<Ledger, StoreError> {
    let LedgerInputs {
        balances,
        packages,
        state,
    } = inputs;
    let before = Day(day.0 - 1);
    if let Some(balance) = balances.iter().find(|b| b.day == before)
        && state.trusts(balance)
    {
        return Ok(Ledger::with_used(packages, &balance.used));
    }
    let base_day = state
        .latest_trusted_day()
        .map(|d| Day(d.0.min(before.0)))
        .filter(|d| *d >= FIRST_DAY);
    let (base, mut rows) = match base_day {
        Some(base_day) => {
            let (base, rows) = tokio::join!(
                store.balance(app, base_day),
                store.av_rows(app, base_day.next(), before)
            );
            (base?.filter(|b| state.trusts(b)), rows?)
        }
        None => (None, Vec::new()),
    };
    let used = match base {
        Some(balance) => balance.used,
        None => {
            let until = base_day.unwrap_or(before);
            let mut earlier = store.av_rows(app, FIRST_DAY, until).await?;
            earlier.append(&mut rows);
            rows = earlier;
            BTreeMap::new()
        }
    };
    let mut ledger = Ledger::with_used(packages, &used);
    details::settle_rows(&mut ledger, rows);
    Ok(ledger)
}
