//! The details rows as answered, from the rows as stored: audio/video rows
//! in allocation order with what each package paid for them, recording rows
//! per class and day, and which classes' facts an answer needs to order its
//! rows. Pure: the services read the rows, packages and facts and hand them
//! here.

use super::class::{ClassFacts, UsageType};
use super::commit::RowKey;
use super::deduction::{Ledger, RowOrder, billable_minutes};
use super::ids::{ClassId, Name};
use super::time::{Day, Hour};
use super::usage::{ModeUsage, RecordMode};
use super::usage_api::{DetailsQuery, DetailsRow, PackageCharge, Page, RowUsage};
use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

/// One details row as stored: its milliseconds and distinct users.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RowRecord {
    pub key: RowKey,
    pub ms: u64,
    pub users: u64,
}

/// Rows grouped by their day, days ascending; a day's rows keep their order.
fn by_day(rows: Vec<RowRecord>) -> BTreeMap<Day, Vec<RowRecord>> {
    let mut days: BTreeMap<Day, Vec<RowRecord>> = BTreeMap::new();
    for row in rows {
        days.entry(row.key.day).or_default().push(row);
    }
    days
}

/// What a day's rows cost the packages: each row's milliseconds rounded up
/// to whole minutes, added up.
fn billable_total(rows: &[RowRecord]) -> u64 {
    rows.iter().map(|r| billable_minutes(r.ms)).sum()
}

/// Settles whole days into `ledger`, earliest first.
fn settle_days(ledger: &mut Ledger, days: BTreeMap<Day, Vec<RowRecord>>) {
    for (day, rows) in days {
        ledger.settle_day(day, billable_total(&rows));
    }
}

/// Settles `rows` into `ledger` a day at a time: a day's total decides what
/// it takes from each package, not the order of its rows.
pub fn settle_rows(ledger: &mut Ledger, rows: Vec<RowRecord>) {
    settle_days(ledger, by_day(rows));
}

/// Settles the rows of the days before `first` into `ledger`, and returns
/// the others (the window's) by day.
pub fn settle_before(
    ledger: &mut Ledger,
    first: Day,
    rows: Vec<RowRecord>,
) -> BTreeMap<Day, Vec<RowRecord>> {
    let mut earlier = by_day(rows);
    let window = earlier.split_off(&first);
    settle_days(ledger, earlier);
    window
}

/// The indexes of the rows an answer shows among `total`: one page, or all
/// (`page` None, an export).
pub fn shown_rows(page: Option<Page>, total: usize) -> Range<usize> {
    page.map_or(0..total, |page| page.rows(total))
}

/// Whether a row passes the `ClassId` filter (`class` None: every row does).
fn wanted(class: Option<&ClassId>, key: &RowKey) -> bool {
    class.is_none_or(|c| *c == key.class)
}

/// The days of the window whose audio/video rows need their order, given
/// `ledger` as it stood when the window began.
///
/// A day's rows need their order — so their classes' facts — only where it
/// shows: on the days of the page (every day, for an export), and, when one
/// class is asked for, on days of that class where the packages ran out part
/// way (elsewhere each row of the class is paid in full, or not at all,
/// whatever the order).
fn ordered_days(
    window: &BTreeMap<Day, Vec<RowRecord>>,
    ledger: &Ledger,
    class: Option<&ClassId>,
    page: Option<Page>,
) -> BTreeSet<Day> {
    let shown = shown_rows(
        page,
        window
            .values()
            .flatten()
            .filter(|r| wanted(class, &r.key))
            .count(),
    );
    let mut ordered = BTreeSet::new();
    let mut before = 0;
    let mut trial = ledger.clone();
    for (day, rows) in window {
        let count = rows.iter().filter(|r| wanted(class, &r.key)).count();
        let on_page = before < shown.end && shown.start < before + count;
        let total = billable_total(rows);
        let available = trial.available(*day);
        let partial = available > 0 && available < total;
        if on_page || (class.is_some() && partial && count > 0) {
            ordered.insert(*day);
        }
        trial.settle_day(*day, total);
        before += count;
    }
    ordered
}

/// The classes whose facts order the window's audio/video rows where the
/// order shows (see [`ordered_days`]): each row's class on those days, in
/// day and row order. Nothing to read when empty.
pub fn av_classes_to_order(
    window: &BTreeMap<Day, Vec<RowRecord>>,
    ledger: &Ledger,
    class: Option<&ClassId>,
    page: Option<Page>,
) -> Vec<ClassId> {
    ordered_days(window, ledger, class, page)
        .iter()
        .flat_map(|day| window[day].iter().map(|r| r.key.class.clone()))
        .collect()
}

/// The window's audio/video rows (after the `ClassId` filter) in allocation
/// order, each with what packages paid for it; `ledger` as it stood when the
/// window began. Rows the filter drops still take their share first.
pub fn av_details(
    query: &DetailsQuery,
    app_name: Option<&Name>,
    mut ledger: Ledger,
    window: BTreeMap<Day, Vec<RowRecord>>,
    facts: &BTreeMap<ClassId, ClassFacts>,
) -> Vec<DetailsRow> {
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
            if !wanted(query.class.as_ref(), &row.key) {
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
    answer
}

/// One recording row: a class's segments on a day, or (`class` None) the
/// day's segments that named no class.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordingRow {
    pub day: Day,
    pub class: Option<ClassId>,
    pub ms: u64,
}

/// The window's recording rows of `class` (every row when None), by day,
/// from its hours with usage and what its classes recorded per day. A day's
/// segments without a class are its recording total (both record modes)
/// less what its classes recorded, so segments counted before segments
/// carried a class keep counting, in that row, after the day's classes.
pub fn recording_rows(
    hours: impl IntoIterator<Item = (Hour, ModeUsage)>,
    classes: Vec<(Day, ClassId, u64)>,
    class: Option<&ClassId>,
) -> Vec<RecordingRow> {
    let mut days: BTreeMap<Day, u64> = BTreeMap::new();
    for (hour, usage) in hours {
        let ms: u64 = RecordMode::ALL
            .into_iter()
            .map(|mode| usage.mode(mode).total())
            .sum();
        *days.entry(hour.day()).or_default() += ms;
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
    rows.retain(|r| class.is_none() || r.class.as_ref() == class);
    rows
}

/// The classes whose facts order the recording rows an answer shows: which
/// rows of a day make the page depends on the day's order, so every class
/// of the page's days (of every day, for an export). Nothing to read when
/// empty.
pub fn recording_classes_to_order(rows: &[RecordingRow], page: Option<Page>) -> Vec<ClassId> {
    let page_days: BTreeSet<Day> = rows[shown_rows(page, rows.len())]
        .iter()
        .map(|r| r.day)
        .collect();
    rows.iter()
        .filter(|r| page_days.contains(&r.day))
        .filter_map(|r| r.class.clone())
        .collect()
}

/// Recording rows as answered: in allocation order inside each day (by the
/// class's start time, then class id; the row without a class last). Facts
/// are there for the classes of the page: the order elsewhere does not show.
pub fn recording_details(
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
