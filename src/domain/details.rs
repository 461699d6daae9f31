//! The details rows as answered, from the rows as stored: audio/video rows
//! in allocation order with what each package paid for them, recording rows
//! per class and day, and which classes' facts an answer needs to order its
//! rows. Pure: the services read the rows, packages and facts and hand them
//! here.

use super::class::{ClassFacts, UsageType};
use super::commit::RowKey;
use super::deduction::{Ledger, RowOrder, billable_minutes};
use super::ids::{ClassId, Name};
use super::time::Day;
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

impl RowRecord {
    /// Whether the row is one at all: a row whose every session was voided
    /// is stored with nothing left, and answers as if it never was (a
    /// session lasts at least a millisecond, so a counted row never has 0).
    pub fn counts(&self) -> bool {
        self.ms > 0
    }
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
            answer.push(DetailsRow::new(
                &query.app,
                app_name,
                &query.zone,
                facts,
                usage,
            ));
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
/// from its recording per local day (pieces of hours, any number per day)
/// and what its classes recorded per day. A day's
/// segments without a class are its recording total (both record modes)
/// less what its classes recorded, so segments counted before segments
/// carried a class keep counting, in that row, after the day's classes.
pub fn recording_rows(
    recorded: impl IntoIterator<Item = (Day, u64)>,
    classes: Vec<(Day, ClassId, u64)>,
    class: Option<&ClassId>,
) -> Vec<RecordingRow> {
    let mut days: BTreeMap<Day, u64> = BTreeMap::new();
    for (day, ms) in recorded {
        *days.entry(day).or_default() += ms;
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
            DetailsRow::new(&query.app, app_name, &query.zone, facts, usage)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::class::Package;
    use crate::domain::ids::{AppId, PackageId};
    use crate::domain::time::Hour;
    use crate::domain::time::UtcMillis;
    use crate::domain::usage::Tier;
    use crate::domain::usage::{ModeUsage, RecordMode};
    use crate::domain::usage_api::DetailsService;
    use crate::domain::zone::BillingZone;
    use UsageType::{Interactive, Playback};

    const MINUTE: u64 = 60_000;
    const D1: Day = Day(20_400);
    const D2: Day = Day(20_401);
    const D3: Day = Day(20_402);

    fn app() -> AppId {
        AppId::parse("app-1").unwrap()
    }

    fn class(id: &str) -> ClassId {
        ClassId::parse(id).unwrap()
    }

    fn row(day: Day, class_id: &str, usage: UsageType, ms: u64) -> RowRecord {
        RowRecord {
            key: RowKey {
                app: app(),
                day,
                class: class(class_id),
                usage,
            },
            ms,
            users: 2,
        }
    }

    /// One package of `minutes`, valid on every day of these tests.
    fn ledger(minutes: u64) -> Ledger {
        Ledger::new([Package {
            app: app(),
            id: PackageId::parse("p").unwrap(),
            name: Name::parse("P").unwrap(),
            minutes,
            valid_from: Day(D1.0 - 10),
            valid_to: Day(D3.0 + 10),
            acked: UtcMillis(0),
            refunded: None,
        }])
    }

    fn page(number: u32, size: u32) -> Option<Page> {
        Some(Page { number, size })
    }

    /// Facts with only a start time, for the classes named.
    fn starts(classes: &[(&str, i64)]) -> BTreeMap<ClassId, ClassFacts> {
        classes
            .iter()
            .map(|(id, start)| {
                let facts = ClassFacts {
                    name: None,
                    start: Some(UtcMillis(*start)),
                    end: None,
                };
                (class(id), facts)
            })
            .collect()
    }

    fn query(service: DetailsService, class_id: Option<&str>) -> DetailsQuery {
        DetailsQuery {
            app: app(),
            start: D1.start(),
            end: D3.next().start(),
            service,
            class: class_id.map(class),
            zone: BillingZone::utc(),
        }
    }

    fn days(window: &BTreeMap<Day, Vec<RowRecord>>) -> Vec<Day> {
        window.keys().copied().collect()
    }

    /// (class, usage type, minutes from packages, pay-as-you-go minutes).
    fn paid(rows: &[DetailsRow]) -> Vec<(String, Option<UsageType>, u64, u64)> {
        rows.iter()
            .map(|r| {
                let class = r.class_id.as_ref().map_or("-", ClassId::as_str);
                let from_packages: u64 = r.packages.iter().map(|p| p.minutes).sum();
                assert_eq!(from_packages, r.package_minutes);
                (
                    class.to_owned(),
                    r.usage_type,
                    r.package_minutes,
                    r.pay_as_you_go_minutes,
                )
            })
            .collect()
    }

    #[test]
    fn rows_are_grouped_by_day_keeping_their_order() {
        let grouped = by_day(vec![
            row(D2, "a", Interactive, 1),
            row(D1, "b", Interactive, 2),
            row(D2, "c", Playback, 3),
        ]);
        assert_eq!(days(&grouped), [D1, D2]);
        let d2: Vec<&str> = grouped[&D2].iter().map(|r| r.key.class.as_str()).collect();
        assert_eq!(d2, ["a", "c"]);
    }

    #[test]
    fn settling_rounds_each_row_up_before_adding_them() {
        // Two half minutes are two billable minutes, not one.
        let mut l = ledger(10);
        settle_rows(&mut l, vec![row(D1, "a", Interactive, MINUTE / 2); 2]);
        assert_eq!(l.used(0), 2);
        // The next day takes what is left and no more.
        settle_rows(&mut l, vec![row(D2, "a", Interactive, 9 * MINUTE)]);
        assert_eq!(l.used(0), 10);
    }

    #[test]
    fn only_the_days_before_the_window_are_settled() {
        let mut l = ledger(100);
        let rows = vec![
            row(D3, "c", Interactive, 5 * MINUTE),
            row(D1, "a", Interactive, 3 * MINUTE),
            row(D2, "b", Interactive, 4 * MINUTE),
        ];
        let window = settle_before(&mut l, D2, rows);
        assert_eq!(days(&window), [D2, D3]);
        assert_eq!(l.used(0), 3);
    }

    #[test]
    fn an_answer_shows_its_page_or_every_row() {
        assert_eq!(shown_rows(None, 7), 0..7);
        assert_eq!(shown_rows(page(2, 3), 7), 3..6);
        assert_eq!(shown_rows(page(3, 3), 7), 6..7);
        assert_eq!(shown_rows(page(4, 3), 7), 7..7);
    }

    /// Two rows on each of three days.
    fn three_days() -> BTreeMap<Day, Vec<RowRecord>> {
        by_day(vec![
            row(D1, "a", Interactive, MINUTE),
            row(D1, "b", Interactive, MINUTE),
            row(D2, "c", Interactive, MINUTE),
            row(D2, "d", Interactive, MINUTE),
            row(D3, "e", Interactive, MINUTE),
            row(D3, "f", Interactive, MINUTE),
        ])
    }

    #[test]
    fn the_days_of_the_page_are_ordered() {
        let window = three_days();
        let none = Ledger::new([]);
        let ordered = |page| Vec::from_iter(ordered_days(&window, &none, None, page));
        assert_eq!(ordered(page(2, 2)), [D2]);
        assert_eq!(ordered(page(1, 3)), [D1, D2]);
        assert_eq!(ordered(page(3, 1)), [D2]);
        assert_eq!(ordered(page(4, 2)), []);
        assert_eq!(ordered(None), [D1, D2, D3]);
    }

    /// On D1 the class asked for and another use 7 minutes together; on D2,
    /// 2 minutes.
    fn shared_days() -> BTreeMap<Day, Vec<RowRecord>> {
        by_day(vec![
            row(D1, "a", Interactive, 3 * MINUTE),
            row(D1, "b", Interactive, 4 * MINUTE),
            row(D2, "a", Interactive, MINUTE),
            row(D2, "b", Interactive, MINUTE),
        ])
    }

    #[test]
    fn a_day_of_the_class_where_the_packages_run_out_part_way_is_ordered() {
        // 5 minutes for D1's 7: whether a's row is paid depends on the order.
        // The second page of one row each is a's row on D2.
        let window = shared_days();
        let days = ordered_days(&window, &ledger(5), Some(&class("a")), page(2, 1));
        assert_eq!(Vec::from_iter(days), [D1, D2]);
        // 8 minutes pay D1 in full and leave D2 one minute for its two.
        let days = ordered_days(&window, &ledger(8), Some(&class("a")), page(3, 1));
        assert_eq!(Vec::from_iter(days), [D2]);
    }

    #[test]
    fn a_day_paid_in_full_is_not_ordered_off_the_page() {
        let window = shared_days();
        let days = ordered_days(&window, &ledger(10), Some(&class("a")), page(2, 1));
        assert_eq!(Vec::from_iter(days), [D2]);
    }

    #[test]
    fn a_day_where_the_packages_run_out_needs_no_order_off_the_page_without_a_class() {
        // Every row shows on some page; off this one, the order does not show.
        let window = shared_days();
        let days = ordered_days(&window, &ledger(5), None, page(2, 2));
        assert_eq!(Vec::from_iter(days), [D2]);
    }

    #[test]
    fn a_day_without_the_class_is_not_ordered() {
        // D1 runs out part way, but holds no row of c; D2 finds nothing left.
        let window = by_day(vec![
            row(D1, "a", Interactive, 3 * MINUTE),
            row(D1, "b", Interactive, 4 * MINUTE),
            row(D2, "c", Interactive, MINUTE),
            row(D2, "d", Interactive, MINUTE),
        ]);
        let c = Some(class("c"));
        assert!(ordered_days(&window, &ledger(5), c.as_ref(), page(2, 1)).is_empty());
        assert!(av_classes_to_order(&window, &ledger(5), c.as_ref(), page(2, 1)).is_empty());
    }

    #[test]
    fn the_classes_to_order_are_every_row_of_the_ordered_days() {
        let window = by_day(vec![
            row(D1, "a", Interactive, MINUTE),
            row(D1, "a", Playback, MINUTE),
            row(D1, "b", Interactive, MINUTE),
            row(D2, "c", Interactive, MINUTE),
        ]);
        let classes = av_classes_to_order(&window, &Ledger::new([]), None, page(1, 2));
        assert_eq!(classes, [class("a"), class("a"), class("b")]);
    }

    /// One day, stored out of allocation order.
    fn one_day() -> BTreeMap<Day, Vec<RowRecord>> {
        by_day(vec![
            row(D1, "a", Playback, MINUTE),
            row(D1, "b", Interactive, 2 * MINUTE),
            row(D1, "a", Interactive, MINUTE),
        ])
    }

    fn row_paid(
        class: &str,
        usage: UsageType,
        from_packages: u64,
        payg: u64,
    ) -> (String, Option<UsageType>, u64, u64) {
        (class.to_owned(), Some(usage), from_packages, payg)
    }

    #[test]
    fn rows_are_paid_in_allocation_order() {
        // b started first; a's interactive row comes before its playback.
        let query = query(DetailsService::AudioVideo, None);
        let facts = starts(&[("b", 1_000), ("a", 2_000)]);
        let rows = av_details(&query, None, ledger(3), one_day(), &facts);
        assert_eq!(
            paid(&rows),
            [
                row_paid("b", Interactive, 2, 0),
                row_paid("a", Interactive, 1, 0),
                row_paid("a", Playback, 0, 1),
            ]
        );
        assert!(rows.iter().all(|r| r.date == D1 && r.user_count == Some(2)));
    }

    #[test]
    fn a_class_whose_start_is_not_known_comes_after_the_others() {
        let query = query(DetailsService::AudioVideo, None);
        let facts = starts(&[("b", 1_000)]);
        let a_unknown = av_details(&query, None, ledger(3), one_day(), &facts);
        let facts = starts(&[("a", 2_000)]);
        let b_unknown = av_details(&query, None, ledger(3), one_day(), &facts);
        let order = |rows: &[DetailsRow]| Vec::from_iter(paid(rows).into_iter().map(|r| r.0));
        assert_eq!(order(&a_unknown), ["b", "a", "a"]);
        assert_eq!(order(&b_unknown), ["a", "a", "b"]);
        assert_eq!(
            paid(&b_unknown)[2],
            row_paid("b", Interactive, 1, 1),
            "b takes the minute a's rows left"
        );
    }

    #[test]
    fn rows_left_out_by_the_class_filter_still_take_their_share() {
        let query = query(DetailsService::AudioVideo, Some("a"));
        let facts = starts(&[("b", 1_000), ("a", 2_000)]);
        let rows = av_details(&query, None, ledger(3), one_day(), &facts);
        assert_eq!(
            paid(&rows),
            [
                row_paid("a", Interactive, 1, 0),
                row_paid("a", Playback, 0, 1)
            ]
        );
    }

    /// `ms` of recording in each record mode, in hour `hour` of `day`.
    fn hour(day: Day, hour: i64, single: u64, mixed: u64) -> (Hour, ModeUsage) {
        let mut usage = ModeUsage::default();
        usage.add(RecordMode::SingleStream, Tier::V720, single);
        usage.add(RecordMode::Mixed, Tier::Audio, mixed);
        (Hour(day.first_hour().0 + hour), usage)
    }

    fn recording(day: Day, class_id: Option<&str>, ms: u64) -> RecordingRow {
        RecordingRow {
            day,
            class: class_id.map(class),
            ms,
        }
    }

    /// D1: 3 minutes in two hours, both modes; D2: 1 minute.
    fn recorded_by_day(hours: Vec<(Hour, ModeUsage)>) -> Vec<(Day, u64)> {
        hours
            .into_iter()
            .map(|(hour, usage)| (hour.day(), usage.both_modes().total()))
            .collect()
    }

    fn recorded_hours() -> Vec<(Hour, ModeUsage)> {
        vec![
            hour(D1, 1, 2 * MINUTE, 0),
            hour(D1, 5, 0, MINUTE / 2),
            hour(D1, 5, 0, MINUTE / 2),
            hour(D2, 0, MINUTE / 2, MINUTE / 2),
        ]
    }

    /// D1's classes recorded 1.5 of its 3 minutes; D2's class all of its 1.
    fn recorded_classes() -> Vec<(Day, ClassId, u64)> {
        vec![
            (D1, class("c2"), MINUTE),
            (D1, class("c1"), MINUTE / 2),
            (D2, class("c1"), MINUTE),
        ]
    }

    #[test]
    fn segments_without_a_class_are_the_days_total_less_its_classes_and_come_last() {
        assert_eq!(
            recording_rows(recorded_by_day(recorded_hours()), recorded_classes(), None),
            [
                recording(D1, Some("c2"), MINUTE),
                recording(D1, Some("c1"), MINUTE / 2),
                recording(D1, None, 3 * MINUTE / 2),
                recording(D2, Some("c1"), MINUTE),
            ]
        );
    }

    #[test]
    fn the_class_filter_keeps_that_classs_recording_rows() {
        let c1 = Some(class("c1"));
        assert_eq!(
            recording_rows(
                recorded_by_day(recorded_hours()),
                recorded_classes(),
                c1.as_ref()
            ),
            [
                recording(D1, Some("c1"), MINUTE / 2),
                recording(D2, Some("c1"), MINUTE),
            ]
        );
    }

    #[test]
    fn the_recording_classes_to_order_are_those_of_the_pages_days() {
        let rows = [
            recording(D1, Some("c1"), MINUTE),
            recording(D1, None, MINUTE),
            recording(D2, Some("c2"), MINUTE),
            recording(D2, Some("c3"), MINUTE),
        ];
        assert_eq!(recording_classes_to_order(&rows, page(1, 1)), [class("c1")]);
        assert_eq!(
            recording_classes_to_order(&rows, page(2, 1)),
            [class("c1")],
            "the row without a class is on D1's page"
        );
        assert_eq!(
            recording_classes_to_order(&rows, page(2, 2)),
            [class("c2"), class("c3")]
        );
        assert_eq!(
            recording_classes_to_order(&rows, None),
            [class("c1"), class("c2"), class("c3")]
        );
        assert!(recording_classes_to_order(&rows, page(3, 2)).is_empty());
    }

    #[test]
    fn recording_rows_are_answered_by_day_then_class_start_the_unclassed_last() {
        let query = query(DetailsService::Recording, None);
        let rows = vec![
            recording(D2, Some("c1"), MINUTE),
            recording(D1, None, MINUTE),
            recording(D1, Some("c1"), MINUTE),
            recording(D1, Some("c2"), MINUTE),
            recording(D1, Some("c0"), MINUTE),
        ];
        // c2 started first; c0 and c1 have no known start and go by id.
        let facts = starts(&[("c2", 1_000)]);
        let answered = recording_details(&query, None, rows, &facts);
        let order: Vec<(Day, Option<&str>)> = answered
            .iter()
            .map(|r| (r.date, r.class_id.as_ref().map(ClassId::as_str)))
            .collect();
        assert_eq!(
            order,
            [
                (D1, Some("c2")),
                (D1, Some("c0")),
                (D1, Some("c1")),
                (D1, None),
                (D2, Some("c1")),
            ]
        );
        assert!(
            answered
                .iter()
                .all(|r| r.packages.is_empty() && r.usage_type.is_none() && r.user_count.is_none())
        );
        assert_eq!(
            answered[0].start_time.as_deref(),
            Some("1970-01-01T00:00:01+00:00")
        );
    }
}
