//! The usage page's actions: the caller's apps, a trend per service type,
//! the details rows with what packages paid for them, and the packages.
//! Every answer is computed from the stored rows and packages as they are
//! now, so an acknowledged event shows in the very next answer.

use crate::domain::class::{ClassFacts, UsageType};
use crate::domain::commit::RowKey;
use crate::domain::deduction::{Ledger, RowOrder, billable_minutes};
use crate::domain::error::{ApiError, ErrorCode};
use crate::domain::export::{CsvFile, ExportError};
use crate::domain::ids::{AccountId, AppId, ClassId, Name};
use crate::domain::storage;
use crate::domain::time::{Day, Interval, UtcMillis};
use crate::domain::usage::{RecordMode, TierMillis};
use crate::domain::usage_api::{
    AppsAnswer, DetailsAnswer, DetailsQuery, DetailsRow, DetailsService, MAX_EXPORT_BYTES,
    PackageCharge, PackagesAnswer, Page, RowUsage, ServiceType, UsageDataAnswer, UsageDataQuery,
};
use crate::service::access::{internal, read_as_owner};
use crate::service::settle::{FIRST_DAY, LAST_DAY};
use crate::store::{LedgerInputs, RowRecord, StoreError, UsageStore};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::Range;

pub async fn describe_apps<S: UsageStore>(
    store: &S,
    caller: &AccountId,
    request_id: &str,
) -> Result<AppsAnswer, ApiError> {
    let apps = store.apps_of(caller).await.map_err(internal)?;
    Ok(AppsAnswer::new(request_id, apps))
}

pub async fn usage_data<S: UsageStore>(
    store: &S,
    caller: &AccountId,
    query: &UsageDataQuery,
    request_id: &str,
) -> Result<UsageDataAnswer, ApiError> {
    // Every bucket is answered whole: a day's bucket holds all its hours,
    // wherever the window starts or ends inside it.
    let (first, last) = match query.interval {
        Interval::Hour => (query.start.hour(), query.end.minus_ms(1).hour()),
        Interval::Day => (
            query.start.day().first_hour(),
            query.end.minus_ms(1).day().last_hour(),
        ),
    };
    let bucket = |at: UtcMillis| match query.interval {
        Interval::Hour => at.hour().start(),
        Interval::Day => at.day().start(),
    };
    match query.service {
        ServiceType::AudioVideo => {
            let read = store.av_hours(&query.app, first, last);
            let (_, hours) = read_as_owner(store, caller, &query.app, read).await?;
            let mut usage = HashMap::new();
            for (hour, ms) in hours.map_err(internal)? {
                *usage.entry(bucket(hour.start())).or_default() += ms;
            }
            Ok(UsageDataAnswer::audio_video(request_id, query, |b| {
                usage.get(&b).copied().unwrap_or_default()
            }))
        }
        ServiceType::Recording => {
            let read = store.hours(&query.app, first, last);
            let (_, hours) = read_as_owner(store, caller, &query.app, read).await?;
            let mut usage: HashMap<UtcMillis, TierMillis> = HashMap::new();
            for record in hours.map_err(internal)? {
                let total = usage.entry(bucket(record.hour.start())).or_default();
                for mode in RecordMode::ALL {
                    *total += *record.usage.mode(mode);
                }
            }
            Ok(UsageDataAnswer::recording(request_id, query, |b| {
                usage.get(&b).copied().unwrap_or_default()
            }))
        }
        ServiceType::Storage => {
            // The registry, the window's readings and the one before it go
            // out together: three requests, one round trip.
            let (from, to) = storage::read_window(query.interval, query.start, query.end);
            let since = from.minus_ms(storage::MAX_CARRY_MS);
            let read = store.measurements(&query.app, since, from, to);
            let (_, readings) = read_as_owner(store, caller, &query.app, read).await?;
            let readings = readings.map_err(internal)?;
            let peaks: HashMap<UtcMillis, u64> =
                storage::peaks(readings.all(), query.interval, query.start, query.end)
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
    let rows = details_rows(store, caller, query, Some(page)).await?;
    Ok(DetailsAnswer::new(request_id, query, page, rows))
}

/// `ExportUsageDetails`: every row of the window as one CSV file. The size
/// limit is the last check, after the app's: the rows are read, and the file
/// written until it would pass the limit.
pub async fn export_details<S: UsageStore>(
    store: &S,
    caller: &AccountId,
    query: &DetailsQuery,
) -> Result<CsvFile, ApiError> {
    let rows = details_rows(store, caller, query, None).await?;
    CsvFile::details(query, &rows, MAX_EXPORT_BYTES).map_err(|err| match err {
        ExportError::TooLarge => ApiError::new(ErrorCode::InvalidTimeSpanTooManyRecords),
        ExportError::Writer(_) => {
            tracing::error!(error = %err, "the export could not be written");
            ApiError::new(ErrorCode::InternalError)
        }
    })
}

/// The window's rows after the `ClassId` filter, in allocation order, with
/// the facts of every class they show: those of one page, or (`page` None,
/// an export) of every row.
async fn details_rows<S: UsageStore>(
    store: &S,
    caller: &AccountId,
    query: &DetailsQuery,
    page: Option<Page>,
) -> Result<Vec<DetailsRow>, ApiError> {
    let (first, last) = query.days();
    let rows = match query.service {
        DetailsService::AudioVideo => {
            // The registry, the deduction's inputs and the window's rows go
            // out together.
            let reads = async {
                tokio::join!(
                    store.ledger_inputs(&query.app, Day(first.0 - 1)),
                    store.av_rows(&query.app, first, last),
                )
            };
            let (app_name, (inputs, rows)) =
                read_as_owner(store, caller, &query.app, reads).await?;
            let ledger = ledger_at(store, &query.app, first, inputs.map_err(internal)?)
                .await
                .map_err(internal)?;
            av_details(
                store,
                query,
                page,
                app_name.as_ref(),
                ledger,
                rows.map_err(internal)?,
            )
            .await
            .map_err(internal)?
        }
        DetailsService::Recording => {
            let reads = async {
                tokio::join!(
                    store.hours(&query.app, first.first_hour(), last.last_hour()),
                    store.class_recordings(&query.app, first, last),
                )
            };
            let (app_name, (hours, classes)) =
                read_as_owner(store, caller, &query.app, reads).await?;
            let rows = recording_rows(hours.map_err(internal)?, classes.map_err(internal)?);
            let rows: Vec<RecordingRow> = rows
                .into_iter()
                .filter(|r| query.class.is_none() || r.class == query.class)
                .collect();
            // Which rows of a day make the page depends on the day's order,
            // so the facts of every class of the page's days are read.
            let page_days: BTreeSet<Day> = rows[shown_rows(page, rows.len())]
                .iter()
                .map(|r| r.day)
                .collect();
            let classes: Vec<ClassId> = rows
                .iter()
                .filter(|r| page_days.contains(&r.day))
                .filter_map(|r| r.class.clone())
                .collect();
            let facts = if classes.is_empty() {
                BTreeMap::new()
            } else {
                store
                    .class_facts(&query.app, &classes)
                    .await
                    .map_err(internal)?
            };
            recording_details(query, app_name.as_ref(), rows, &facts)
        }
    };
    Ok(rows)
}

/// The indexes of the rows an answer shows among `total`: one page, or all.
fn shown_rows(page: Option<Page>, total: usize) -> Range<usize> {
    page.map_or(0..total, |page| page.rows(total))
}

pub async fn usage_packages<S: UsageStore>(
    store: &S,
    caller: &AccountId,
    app: &AppId,
    request_id: &str,
    now: UtcMillis,
) -> Result<PackagesAnswer, ApiError> {
    let today = now.day();
    let reads = async {
        tokio::join!(
            store.ledger_inputs(app, Day(today.0 - 1)),
            store.av_rows(app, today, LAST_DAY),
        )
    };
    let (_, (inputs, rows)) = read_as_owner(store, caller, app, reads).await?;
    let mut ledger = ledger_at(store, app, today, inputs.map_err(internal)?)
        .await
        .map_err(internal)?;
    for (day, rows) in by_day(rows.map_err(internal)?) {
        ledger.settle_day(day, rows.iter().map(|r| billable_minutes(r.ms)).sum());
    }
    Ok(PackagesAnswer::from_ledger(request_id, app, &ledger, today))
}

/// The packages and what each had paid before `day` began.
///
/// Usually the balance prepared for the day before, read with the packages
/// (one request, already made). When it cannot be trusted — the rollup has not
/// prepared it yet, or rows or packages changed on or before it since — the
/// latest trusted balance before it, and the rows after that, are read and
/// settled a day at a time; with none, the whole history.
async fn ledger_at<S: UsageStore>(
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
    for (day, rows) in by_day(rows) {
        ledger.settle_day(day, rows.iter().map(|r| billable_minutes(r.ms)).sum());
    }
    Ok(ledger)
}

fn by_day(rows: Vec<RowRecord>) -> BTreeMap<Day, Vec<RowRecord>> {
    let mut days: BTreeMap<Day, Vec<RowRecord>> = BTreeMap::new();
    for row in rows {
        days.entry(row.key.day).or_default().push(row);
    }
    days
}

/// The window's rows (after the `ClassId` filter) in allocation order, each
/// with what packages paid for it.
///
/// The balances at the window's start come from the days before it, a day
/// at a time (a day's total decides them, not its order). Inside the window,
/// a day's rows need their order — so their classes' facts — only where it
/// shows: on the days of the page (every day, for an export), and, when one
/// class is asked for, on days where the packages ran out part way
/// (elsewhere each row of the class is paid in full, or not at all, whatever
/// the order). Only those classes' facts are read.
async fn av_details<S: UsageStore>(
    store: &S,
    query: &DetailsQuery,
    page: Option<Page>,
    app_name: Option<&Name>,
    mut ledger: Ledger,
    rows: Vec<RowRecord>,
) -> Result<Vec<DetailsRow>, StoreError> {
    let (first, _) = query.days();
    let wanted = |key: &RowKey| query.class.as_ref().is_none_or(|c| *c == key.class);
    let mut window = BTreeMap::new();
    for (day, rows) in by_day(rows) {
        if day < first {
            ledger.settle_day(day, rows.iter().map(|r| billable_minutes(r.ms)).sum());
        } else {
            window.insert(day, rows);
        }
    }

    // Which days need their rows ordered.
    let shown = shown_rows(
        page,
        window.values().flatten().filter(|r| wanted(&r.key)).count(),
    );
    let mut ordered_days = BTreeSet::new();
    let mut before = 0;
    let mut trial = ledger.clone();
    for (day, rows) in &window {
        let count = rows.iter().filter(|r| wanted(&r.key)).count();
        let on_page = before < shown.end && shown.start < before + count;
        let total: u64 = rows.iter().map(|r| billable_minutes(r.ms)).sum();
        let available = trial.available(*day);
        let partial = available > 0 && available < total;
        if on_page || (query.class.is_some() && partial && count > 0) {
            ordered_days.insert(*day);
        }
        trial.settle_day(*day, total);
        before += count;
    }
    let classes: Vec<ClassId> = ordered_days
        .iter()
        .flat_map(|day| window[day].iter().map(|r| r.key.class.clone()))
        .collect();
    let facts = if classes.is_empty() {
        BTreeMap::new()
    } else {
        store.class_facts(&query.app, &classes).await?
    };

    let mut answer = Vec::new();
    for (day, mut rows) in window {
        let order = |row: &RowRecord| RowOrder {
            day,
            class_start: facts.get(&row.key.class).and_then(|f| f.start),
            class: row.key.class.clone(),
            usage: row.key.usage,
        };
        rows.sort_by_cached_key(order);
        for row in rows {
            let deduction = ledger.take(day, billable_minutes(row.ms));
            if !wanted(&row.key) {
                continue;
            }
            let usage = RowUsage {
                date: day,
                class: Some(row.key.class.clone()),
                usage_type: Some(row.key.usage),
                user_count: Some(row.users),
                duration_ms: row.ms,
                packages: PackageCharge::of(&ledger, &deduction),
            };
            let facts: Option<&ClassFacts> = facts.get(&row.key.class);
            answer.push(DetailsRow::new(&query.app, app_name, facts, usage));
        }
    }
    Ok(answer)
}

/// One recording row: a class's segments on a day, or (`class` None) the
/// day's segments that named no class.
#[derive(Clone, Debug, PartialEq, Eq)]
struct RecordingRow {
    day: Day,
    class: Option<ClassId>,
    ms: u64,
}

/// The window's recording rows, by day. A day's segments without a class are
/// its recording total (both record modes, from its hours) less what its
/// classes recorded, so segments counted before segments carried a class
/// keep counting, in that row.
fn recording_rows(
    hours: Vec<crate::store::HourRecord>,
    classes: Vec<(Day, ClassId, u64)>,
) -> Vec<RecordingRow> {
    let mut days: BTreeMap<Day, u64> = BTreeMap::new();
    for record in hours {
        let ms: u64 = RecordMode::ALL
            .into_iter()
            .map(|mode| record.usage.mode(mode).total())
            .sum();
        *days.entry(record.hour.day()).or_default() += ms;
    }
    let mut rows = Vec::new();
    for (day, total) in days {
        let of_day: Vec<&(Day, ClassId, u64)> = classes.iter().filter(|c| c.0 == day).collect();
        let classed: u64 = of_day.iter().map(|c| c.2).sum();
        rows.extend(of_day.into_iter().map(|(day, class, ms)| RecordingRow {
            day: *day,
            class: Some(class.clone()),
            ms: *ms,
        }));
        let unclassed = total.saturating_sub(classed);
        if unclassed > 0 {
            rows.push(RecordingRow {
                day,
                class: None,
                ms: unclassed,
            });
        }
    }
    rows
}

/// Recording rows as answered: in allocation order inside each day (by the
/// class's start time, then class id; the row without a class last). Facts
/// are there for the classes of the page: the order elsewhere does not show.
fn recording_details(
    query: &DetailsQuery,
    app_name: Option<&Name>,
    mut rows: Vec<RecordingRow>,
    facts: &BTreeMap<ClassId, ClassFacts>,
) -> Vec<DetailsRow> {
    rows.sort_by_cached_key(|row| {
        (
            row.day,
            row.class.is_none(),
            row.class.as_ref().map(|class| RowOrder {
                day: row.day,
                class_start: facts.get(class).and_then(|f| f.start),
                class: class.clone(),
                usage: UsageType::Interactive,
            }),
        )
    });
    rows.into_iter()
        .map(|row| {
            let facts = row.class.as_ref().and_then(|c| facts.get(c));
            let usage = RowUsage {
                date: row.day,
                class: row.class,
                usage_type: None,
                user_count: None,
                duration_ms: row.ms,
                packages: Vec::new(),
            };
            DetailsRow::new(&query.app, app_name, facts, usage)
        })
        .collect()
}
