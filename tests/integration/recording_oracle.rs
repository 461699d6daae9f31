//! Recording rows against a plain reference. Random recording segments (both
//! record modes, every tier; most naming one of several classes, the rest
//! none; across hours and midnights, up to the 48-hour limit) and class facts
//! (before or after their class's segments) go in through `ingest_batch`,
//! every event one to three times, in random batches. After several batches
//! and at the end, `DescribeUsageDetails` (every page, with and without
//! `ClassId`) and `DescribeUsageData` (both intervals) with
//! `ServiceType=Recording` must equal what the reference computes from the
//! contract's rules alone, with no code shared with the service: segments
//! split at UTC hours and the app's local hours here; a row per (class,
//! local day); a day's row without a class is its total less its classes';
//! rows in allocation order; trends in local hours and days. The same app's
//! `DescribeLiveRtcRecordUsageData` answers, per record mode, in UTC hours
//! and days whatever its zone. A rollup must change no answer. Class
//! sessions and a package are mixed in: neither may show in a recording row.

use crate::exact_json::*;
use crate::local_time::LocalTime;
use crate::support::*;
use crate::workload::{Seg, TIERS, expected_buckets, fast_retry, query_time, rng, segment_body};
use chrono::SecondsFormat;
use rand::Rng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rtc_usage::domain::rollup::RollupRequest;
use rtc_usage::domain::time::{DAY_MS, HOUR_MS, MINUTE_MS, UtcMillis};
use rtc_usage::service::ingest::{InboundMessage, ingest_batch};
use rtc_usage::service::rollup::{Deadline, run_rollup};
use rtc_usage::store::{AlertStore, UsageStore};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

const APP: &str = "rec-oracle-app";
const APP_NAME: &str = "Recording School 录播学校";
/// The request id `ask` passes: the expected bodies carry it.
const REQUEST_ID: &str = "req-rec";

thread_local! {
    /// The zone the scenario being built registers its app in.
    static ZONE: std::cell::Cell<&'static str> = const { std::cell::Cell::new("UTC") };
}

// ---------------------------------------------------------------------------
// The classes and the events.

/// A class and the facts the workload sends for it (none, some or all).
struct Class {
    id: &'static str,
    /// `rtc.class.started`: its name and start, to the millisecond.
    started: Option<(&'static str, i64)>,
    /// `rtc.class.ended`.
    ended: Option<i64>,
}

/// Ids whose byte order differs from a case-blind order ("Z" before "bio-1"),
/// two classes starting at the same instant (the id decides), times with
/// milliseconds (ordered by them, answered truncated to the second), a class
/// known only by its end (ordered with the classes of unknown start), and one
/// with no facts at all.
fn classes() -> Vec<Class> {
    let t = |text: &str| at(text).0;
    vec![
        Class {
            id: "math-101",
            started: Some(("Algebra I", t("2026-11-12T08:00:00Z"))),
            ended: Some(t("2026-11-12T09:00:00Z")),
        },
        Class {
            id: "art_3",
            started: Some(("Art 美术", t("2026-11-12T08:00:00Z"))),
            ended: None,
        },
        Class {
            id: "Bio.2",
            started: Some(("Biology", t("2026-11-11T23:30:00Z") + 250)),
            ended: Some(t("2026-11-12T00:30:00Z") + 750),
        },
        Class {
            id: "bio-1",
            started: None,
            ended: Some(t("2026-11-15T10:00:00Z")),
        },
        Class {
            id: "Z",
            started: None,
            ended: None,
        },
        Class {
            id: "chem-9",
            started: Some(("Chemistry", t("2026-11-20T10:00:00Z") + 999)),
            ended: None,
        },
    ]
}

#[derive(Clone, Debug)]
enum Ev {
    Register,
    /// A recording segment and the class it names; `explicit_null` sends
    /// `"classId": null` (the same as no class).
    Segment {
        seg: Seg,
        class: Option<&'static str>,
        explicit_null: bool,
    },
    Started {
        class: &'static str,
        name: &'static str,
        start: i64,
    },
    Ended {
        class: &'static str,
        end: i64,
    },
    /// Audio/video usage of a class: never in a recording row.
    Session {
        class: &'static str,
        start: i64,
        end: i64,
    },
    /// A package: recording rows never draw on it.
    Package,
    /// `rtc.usage.voided` of the segment with this id.
    Void {
        voided: String,
    },
}

#[derive(Clone, Debug)]
struct Event {
    id: String,
    body: String,
    ev: Ev,
}

fn rfc3339_millis(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .expect("a representable time")
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn envelope(id: &str, source: &str, kind: &str, data: Value) -> String {
    json!({"specversion": "1.0", "id": id, "source": source, "type": kind, "data": data})
        .to_string()
}

fn body_of(rng: &mut StdRng, id: &str, ev: &Ev) -> String {
    match ev {
        Ev::Register => envelope(
            id,
            "/rtc/console",
            "rtc.app.registered",
            json!({"appId": APP, "ownerAccountId": OWNER, "appName": APP_NAME,
                   "timeZone": ZONE.with(|z| z.get())}),
        ),
        Ev::Segment {
            seg,
            class,
            explicit_null,
        } => {
            let mut event: Value =
                serde_json::from_str(&segment_body(rng, seg)).expect("a segment event");
            match (class, explicit_null) {
                (Some(class), _) => event["data"]["classId"] = json!(class),
                (None, true) => event["data"]["classId"] = Value::Null,
                (None, false) => {}
            }
            event.to_string()
        }
        Ev::Started { class, name, start } => envelope(
            id,
            "/lcic/classroom",
            "rtc.class.started",
            json!({"appId": APP, "classId": class, "className": name,
                   "startTime": rfc3339_millis(*start)}),
        ),
        Ev::Ended { class, end } => envelope(
            id,
            "/lcic/classroom",
            "rtc.class.ended",
            json!({"appId": APP, "classId": class, "endTime": rfc3339_millis(*end)}),
        ),
        Ev::Session { class, start, end } => envelope(
            id,
            "/lcic/classroom",
            "rtc.class.session",
            json!({"appId": APP, "classId": class, "userId": format!("user-{id}"),
                   "role": "student", "usageType": "interactive",
                   "startTime": rfc3339_millis(*start), "endTime": rfc3339_millis(*end)}),
        ),
        Ev::Void { voided } => envelope(
            id,
            "/rtc/corrections",
            "rtc.usage.voided",
            json!({"appId": APP, "voidedSource": "/rtc/recorder/test", "voidedId": voided}),
        ),
        Ev::Package => envelope(
            id,
            "/lcic/billing",
            "rtc.package.purchased",
            json!({"appId": APP, "packageId": "pkg-1", "packageName": "Starter",
                   "minutes": 60, "validFrom": "2026-11-01", "validTo": "2026-11-30"}),
        ),
    }
}

/// Segments starting from 2026-11-10 to 2026-11-21T12:00Z, so that even a
/// 48-hour one ends by "now" (2026-11-23T12:00Z): many start just before a
/// midnight or exactly on an hour, lengths from 1 ms to exactly 48 h.
fn random_segment(rng: &mut StdRng, i: usize, classes: &[Class]) -> Ev {
    let first = at("2026-11-10T00:00:00Z").0;
    let last = at("2026-11-21T12:00:00Z").0;
    let start = match rng.random_range(0..6) {
        // Just before a midnight: most of these cross it.
        0 => {
            let midnight = first + rng.random_range(1..=11) * DAY_MS;
            midnight - rng.random_range(1..30 * MINUTE_MS)
        }
        // Exactly on an hour, a midnight among them.
        1 => first + rng.random_range(0..(last - first) / HOUR_MS) * HOUR_MS,
        _ => rng.random_range(first..last),
    };
    let len = match rng.random_range(0..10) {
        0 => rng.random_range(1..1_000),
        1 => 48 * HOUR_MS,
        2..=3 => rng.random_range(HOUR_MS..48 * HOUR_MS),
        _ => rng.random_range(1_000..2 * HOUR_MS),
    };
    let class = if rng.random_bool(0.35) {
        None
    } else {
        Some(classes[rng.random_range(0..classes.len())].id)
    };
    Ev::Segment {
        seg: Seg {
            id: format!("seg-{i}"),
            app: APP.to_owned(),
            mode: if rng.random_bool(0.5) { "0" } else { "1" },
            tier: rng.random_range(0..4),
            start: UtcMillis(start),
            end: UtcMillis(start + len),
        },
        class,
        explicit_null: class.is_none() && rng.random_bool(0.5),
    }
}

/// The registration first; then segments, facts, a few class sessions and a
/// package, shuffled, except that one class's start comes before every
/// segment and another's after all of them.
fn scenario(rng: &mut StdRng, segments: usize, register_first: bool) -> Vec<Event> {
    let classes = classes();
    let mut evs: Vec<Ev> = (0..segments)
        .map(|i| random_segment(rng, i, &classes))
        .collect();
    for class in &classes {
        if let Some((name, start)) = class.started {
            evs.push(Ev::Started {
                class: class.id,
                name,
                start,
            });
        }
        if let Some(end) = class.ended {
            evs.push(Ev::Ended {
                class: class.id,
                end,
            });
        }
    }
    for (k, class) in ["math-101", "Z", "math-101"].into_iter().enumerate() {
        let start = at("2026-11-12T08:00:00Z").0 + k as i64 * DAY_MS;
        evs.push(Ev::Session {
            class,
            start,
            end: start + 40 * MINUTE_MS,
        });
    }
    evs.push(Ev::Package);
    // About one segment in six is voided, before or after it arrives.
    let voids: Vec<Ev> = evs
        .iter()
        .filter_map(|ev| match ev {
            Ev::Segment { seg, .. } if rng.random_ratio(1, 6) => Some(Ev::Void {
                voided: seg.id.clone(),
            }),
            _ => None,
        })
        .collect();
    evs.extend(voids);
    evs.shuffle(rng);
    let start_of = |evs: &[Ev], class: &str| {
        evs.iter()
            .position(|ev| matches!(ev, Ev::Started { class: c, .. } if *c == class))
            .expect("a class with a start")
    };
    let early = start_of(&evs, "chem-9");
    let fact = evs.remove(early);
    evs.insert(0, fact);
    let late = start_of(&evs, "Bio.2");
    let fact = evs.remove(late);
    evs.push(fact);
    // The registration first, or among the rest (what came before it is
    // parked until it fixes the zone).
    let at = if register_first { 0 } else { evs.len() / 2 };
    evs.insert(at, Ev::Register);
    evs.into_iter()
        .enumerate()
        .map(|(i, ev)| {
            let id = match &ev {
                Ev::Segment { seg, .. } => seg.id.clone(),
                _ => format!("ev-{i}"),
            };
            let body = body_of(rng, &id, &ev);
            Event { id, body, ev }
        })
        .collect()
}

/// Each event one to three times: its first copy in the scenario's order,
/// the others anywhere after it; then cut into batches of 1–10.
fn deliveries(rng: &mut StdRng, events: &[Event]) -> Vec<Vec<usize>> {
    let mut copies: Vec<usize> = (0..events.len()).collect();
    for i in 0..events.len() {
        for _ in 1..rng.random_range(1..=3) {
            let first = copies.iter().position(|&e| e == i).expect("its first copy");
            let at = rng.random_range(first + 1..=copies.len());
            copies.insert(at, i);
        }
    }
    let mut batches = Vec::new();
    let mut rest = &copies[..];
    while !rest.is_empty() {
        let k = rng.random_range(1..=10).min(rest.len());
        batches.push(rest[..k].to_vec());
        rest = &rest[k..];
    }
    batches
}

fn is_usage(ev: &Ev) -> bool {
    matches!(ev, Ev::Segment { .. } | Ev::Session { .. })
}

// ---------------------------------------------------------------------------
// The reference.

#[derive(Clone, Debug, Default)]
struct Facts {
    name: Option<&'static str>,
    start: Option<i64>,
    end: Option<i64>,
}

/// What the distinct events taken in so far amount to.
struct Reference {
    zone: LocalTime,
    /// (part start, record mode, tier) → ms, in parts that each lie in one
    /// UTC hour and one local clock hour.
    parts: BTreeMap<(i64, &'static str, usize), u64>,
    /// (local day, class) → ms of the segments naming the class.
    class_days: BTreeMap<(i64, &'static str), u64>,
    facts: BTreeMap<&'static str, Facts>,
    /// The segments counted and not voided, by id, and the ids voided.
    live: BTreeMap<String, Ev>,
    voided: BTreeSet<String>,
}

/// One recording row: `class` None for the day's segments without a class.
#[derive(Clone, Debug)]
struct Row {
    day: i64,
    class: Option<&'static str>,
    ms: u64,
}

impl Reference {
    fn new(zone: LocalTime) -> Self {
        Reference {
            zone,
            parts: BTreeMap::new(),
            class_days: BTreeMap::new(),
            facts: BTreeMap::new(),
            live: BTreeMap::new(),
            voided: BTreeSet::new(),
        }
    }

    /// Takes in event `id`: a segment counts unless voided, whichever of
    /// the two came first; a void takes a counted segment back out.
    fn take(&mut self, id: &str, ev: &Ev) {
        match ev {
            Ev::Segment { .. } if !self.voided.contains(id) => {
                self.count(ev, true);
                self.live.insert(id.to_owned(), ev.clone());
            }
            // Voided before it arrived: it never counts.
            Ev::Segment { .. } => {}
            Ev::Void { voided } => {
                self.voided.insert(voided.clone());
                if let Some(segment) = self.live.remove(voided) {
                    self.count(&segment, false);
                }
            }
            _ => self.count(ev, true),
        }
    }

    /// Adds what `ev` counts, or (`add` false) takes it back out.
    fn count(&mut self, ev: &Ev, add: bool) {
        let change = |total: &mut u64, ms: u64| {
            if add {
                *total += ms;
            } else {
                *total -= ms;
            }
        };
        match ev {
            Ev::Segment { seg, class, .. } => {
                // Split at every UTC hour and every local hour the segment
                // crosses; a part belongs to the local day it lies in.
                let mut t = seg.start.0;
                while t < seg.end.0 {
                    let hour = t - t.rem_euclid(HOUR_MS);
                    let part_end = seg
                        .end
                        .0
                        .min(hour + HOUR_MS)
                        .min(self.zone.next_hour_boundary(t));
                    let ms = (part_end - t) as u64;
                    change(self.parts.entry((t, seg.mode, seg.tier)).or_default(), ms);
                    if let Some(class) = class {
                        let key = (self.zone.day(t), *class);
                        change(self.class_days.entry(key).or_default(), ms);
                    }
                    t = part_end;
                }
                // Nothing left is nothing there.
                self.parts.retain(|_, ms| *ms > 0);
                self.class_days.retain(|_, ms| *ms > 0);
            }
            Ev::Started { class, name, start } => {
                let facts = self.facts.entry(*class).or_default();
                facts.name = Some(*name);
                facts.start = Some(*start);
            }
            Ev::Ended { class, end } => self.facts.entry(*class).or_default().end = Some(*end),
            Ev::Register | Ev::Session { .. } | Ev::Package | Ev::Void { .. } => {}
        }
    }

    /// Every row of the local days `first..=last` (one class's, with `class`)
    /// in allocation order: by day; then the class's start to the
    /// millisecond, classes without a known start after the others; then the
    /// class id's bytes; the row without a class last of its day.
    fn rows(&self, first: i64, last: i64, class: Option<&str>) -> Vec<Row> {
        let mut day_totals: BTreeMap<i64, u64> = BTreeMap::new();
        for (&(at, _, _), &ms) in &self.parts {
            *day_totals.entry(self.zone.day(at)).or_default() += ms;
        }
        let mut rows = Vec::new();
        for (day, total) in day_totals {
            if day < first || day > last {
                continue;
            }
            let classed: Vec<Row> = self
                .class_days
                .iter()
                .filter(|((d, _), _)| *d == day)
                .map(|(&(day, class), &ms)| Row {
                    day,
                    class: Some(class),
                    ms,
                })
                .collect();
            let rest = total - classed.iter().map(|r| r.ms).sum::<u64>();
            rows.extend(classed);
            if rest > 0 {
                rows.push(Row {
                    day,
                    class: None,
                    ms: rest,
                });
            }
        }
        let start = |row: &Row| row.class.and_then(|c| self.facts.get(c)?.start);
        rows.sort_by(|a, b| {
            a.day
                .cmp(&b.day)
                .then(a.class.is_none().cmp(&b.class.is_none()))
                .then(start(a).is_none().cmp(&start(b).is_none()))
                .then(start(a).cmp(&start(b)))
                .then(a.class.map(str::as_bytes).cmp(&b.class.map(str::as_bytes)))
        });
        rows.retain(|r| class.is_none_or(|c| r.class == Some(c)));
        rows
    }

    fn row_json(&self, row: &Row) -> J {
        let facts = row
            .class
            .and_then(|c| self.facts.get(c))
            .cloned()
            .unwrap_or_default();
        let billable = row.ms.div_ceil(60_000);
        obj([
            ("Date", s(&day_text(row.day))),
            ("AppId", s(APP)),
            ("AppName", s(APP_NAME)),
            ("ClassId", opt(row.class)),
            ("ClassName", opt(facts.name)),
            (
                "StartTime",
                opt(facts.start.map(|t| self.zone.text(t)).as_deref()),
            ),
            (
                "EndTime",
                opt(facts.end.map(|t| self.zone.text(t)).as_deref()),
            ),
            ("UsageType", null()),
            ("UserCount", null()),
            ("DurationSeconds", secs(row.ms)),
            ("BillableMinutes", int(billable)),
            ("Packages", J::Arr(vec![])),
            ("PackageMinutes", int(0)),
            ("PayAsYouGoMinutes", int(billable)),
        ])
    }

    fn details(&self, rows: &[Row], page: usize, size: usize) -> J {
        let ms: u64 = rows.iter().map(|r| r.ms).sum();
        let billable: u64 = rows.iter().map(|r| r.ms.div_ceil(60_000)).sum();
        let records = rows
            .iter()
            .skip((page - 1) * size)
            .take(size)
            .map(|r| self.row_json(r))
            .collect();
        obj([
            ("RequestId", s(REQUEST_ID)),
            ("AppId", s(APP)),
            ("TimeZone", s(self.zone.name())),
            ("ServiceType", s("Recording")),
            ("TotalCount", int(rows.len() as u64)),
            ("PageNumber", int(page as u64)),
            ("PageSize", int(size as u64)),
            (
                "Summary",
                obj([
                    ("DurationSeconds", secs(ms)),
                    ("BillableMinutes", int(billable)),
                    ("PackageMinutes", int(0)),
                    ("PayAsYouGoMinutes", int(billable)),
                ]),
            ),
            ("Records", J::Arr(records)),
        ])
    }

    /// The trend over `[start, end)` in the app's local hours, or local
    /// days when `daily`: every bucket overlapping the window, whole, zeros
    /// included; per tier, both modes.
    fn trend(&self, start: i64, end: i64, daily: bool) -> J {
        let starts = self.zone.buckets(start, end, daily);
        let ends = self.zone.buckets(start, end + 30 * HOUR_MS, daily);
        let buckets: Vec<(i64, i64)> = starts
            .iter()
            .enumerate()
            .map(|(i, &from)| (from, ends[i + 1]))
            .collect();
        let size = if daily { DAY_MS } else { HOUR_MS };
        let mut fields = self.tier_series(&buckets, None, |b| self.zone.text(b));
        fields.insert("TimeZone".to_owned(), s(self.zone.name()));
        fields.insert("ServiceType".to_owned(), s("Recording"));
        fields.insert("Interval".to_owned(), int((size / 1_000) as u64));
        J::Obj(fields)
    }

    /// `DescribeLiveRtcRecordUsageData` over `[start, end)` for one record
    /// mode: UTC hours or UTC days, whatever the app's zone.
    fn alibaba(&self, start: i64, end: i64, size: i64, mode: &'static str) -> J {
        let buckets: Vec<(i64, i64)> = expected_buckets(start, end, size)
            .into_iter()
            .map(|b| (b, b + size))
            .collect();
        let mut fields = self.tier_series(&buckets, Some(mode), query_time);
        fields.insert("RecordMode".to_owned(), s(mode));
        J::Obj(fields)
    }

    /// The points of `buckets` (start, end) and their sums, per tier, of one
    /// record mode or of both.
    fn tier_series(
        &self,
        buckets: &[(i64, i64)],
        mode: Option<&str>,
        stamp: impl Fn(i64) -> String,
    ) -> BTreeMap<String, J> {
        let mut sums = [0u64; 4];
        let data = buckets
            .iter()
            .map(|&(from, to)| {
                let mut tiers = [0u64; 4];
                for (&(_, m, tier), &ms) in self.parts.range((from, "", 0)..(to, "", 0)) {
                    if mode.is_none_or(|mode| mode == m) {
                        tiers[tier] += ms;
                    }
                }
                for (sum, ms) in sums.iter_mut().zip(tiers) {
                    *sum += ms;
                }
                let mut fields = BTreeMap::from([
                    ("Timestamp".to_owned(), s(&stamp(from))),
                    ("TotalDuration".to_owned(), secs(tiers.iter().sum())),
                ]);
                for (tier, name) in TIERS.iter().enumerate() {
                    fields.insert(format!("{name}Duration"), secs(tiers[tier]));
                }
                J::Obj(fields)
            })
            .collect();
        let mut fields = BTreeMap::from([
            ("RequestId".to_owned(), s(REQUEST_ID)),
            ("AppId".to_owned(), s(APP)),
            ("TotalSummaryDuration".to_owned(), secs(sums.iter().sum())),
            ("Data".to_owned(), J::Arr(data)),
        ]);
        for (tier, name) in TIERS.iter().enumerate() {
            fields.insert(format!("{name}SummaryDuration"), secs(sums[tier]));
        }
        fields
    }
}

/// `YYYY-MM-DD`, written by chrono rather than by the service.
fn day_text(day: i64) -> String {
    chrono::DateTime::from_timestamp_millis(day * DAY_MS)
        .expect("a representable day")
        .format("%Y-%m-%d")
        .to_string()
}

fn int(n: u64) -> J {
    J::Leaf(n.to_string())
}

fn assert_json(got: &str, want: &J, context: &str) {
    if let Some(diff) = difference(&parse_j(got), want, "$") {
        let shown: String = got.chars().take(1_500).collect();
        panic!("{context}: {diff}\n  answer: {shown}");
    }
}

// ---------------------------------------------------------------------------
// Asking the service, as the owner, at the tests' "now".

async fn ask<S: UsageStore + AlertStore>(store: &S, pairs: &[(&str, String)]) -> String {
    let refs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    owner_asks(store, &refs, REQUEST_ID, now())
        .await
        .unwrap_or_else(|code| panic!("{pairs:?} refused: {code:?}"))
}

/// `[start, end)`: every day of the workload (the last cut at "now"), and one
/// with neither end on a bucket boundary, whose first and last days' rows and
/// buckets are answered whole.
const WINDOWS: [(&str, &str); 2] = [
    ("2026-11-01T00:00:00Z", "2026-11-23T12:00:00Z"),
    ("2026-11-15T07:30:00Z", "2026-11-19T18:45:13Z"),
];
const PAGE_SIZE: usize = 7;

/// Every answer compared with the reference: per window, every page of 7
/// rows and the one past the end, for all rows and for each class of
/// `filters`; the trend at both intervals. Answers the bodies, in order, so
/// that answers before and after a rollup can be compared too.
async fn check_all<S: UsageStore + AlertStore>(
    store: &S,
    reference: &Reference,
    filters: &[&str],
    label: &str,
) -> Vec<String> {
    let mut bodies = Vec::new();
    let filters: Vec<Option<&str>> = std::iter::once(None)
        .chain(filters.iter().map(|c| Some(*c)))
        .collect();
    for (start, end) in WINDOWS {
        let zone = reference.zone;
        let (first, last) = (zone.day(at(start).0), zone.day(at(end).0 - 1));
        for &class in &filters {
            let rows = reference.rows(first, last, class);
            let pages = rows.len().div_ceil(PAGE_SIZE).max(1);
            for page in 1..=pages + 1 {
                let mut pairs = vec![
                    ("Action", "DescribeUsageDetails".to_owned()),
                    ("StartTime", start.to_owned()),
                    ("EndTime", end.to_owned()),
                    ("AppId", APP.to_owned()),
                    ("ServiceType", "Recording".to_owned()),
                    ("PageNumber", page.to_string()),
                    ("PageSize", PAGE_SIZE.to_string()),
                ];
                pairs.extend(class.map(|c| ("ClassId", c.to_owned())));
                let got = ask(store, &pairs).await;
                let context =
                    format!("{label}: details [{start}, {end}) class {class:?} page {page}");
                assert_json(&got, &reference.details(&rows, page, PAGE_SIZE), &context);
                bodies.push(got);
            }
        }
        for (interval, size, daily) in [("3600", HOUR_MS, false), ("86400", DAY_MS, true)] {
            let pairs = [
                ("Action", "DescribeUsageData".to_owned()),
                ("StartTime", start.to_owned()),
                ("EndTime", end.to_owned()),
                ("AppId", APP.to_owned()),
                ("ServiceType", "Recording".to_owned()),
                ("Interval", interval.to_owned()),
            ];
            let got = ask(store, &pairs).await;
            let context = format!("{label}: trend [{start}, {end}) at {interval}");
            assert_json(
                &got,
                &reference.trend(at(start).0, at(end).0, daily),
                &context,
            );
            bodies.push(got);
            // Alibaba's API: UTC buckets, one record mode, whatever the zone.
            for mode in ["0", "1"] {
                let pairs = [
                    ("Action", "DescribeLiveRtcRecordUsageData".to_owned()),
                    ("StartTime", start.to_owned()),
                    ("EndTime", end.to_owned()),
                    ("AppId", APP.to_owned()),
                    ("RecordMode", mode.to_owned()),
                    ("Interval", interval.to_owned()),
                ];
                let got = ask(store, &pairs).await;
                let context = format!("{label}: record usage [{start}, {end}) at {interval}");
                assert_json(
                    &got,
                    &reference.alibaba(at(start).0, at(end).0, size, mode),
                    &context,
                );
                bodies.push(got);
            }
        }
    }
    bodies
}

async fn rollup<S: UsageStore + AlertStore>(store: &S) {
    run_rollup(store, &RollupRequest::Scheduled, Deadline::none()).await;
}

/// The workload exercises what it claims to: otherwise a passing comparison
/// would prove little.
fn assert_rich(events: &[Event], reference: &Reference) {
    let segments: Vec<(&Seg, Option<&str>)> = events
        .iter()
        .filter_map(|e| match &e.ev {
            Ev::Segment { seg, class, .. } => Some((seg, *class)),
            _ => None,
        })
        .collect();
    let modes: BTreeSet<&str> = segments.iter().map(|(s, _)| s.mode).collect();
    let tiers: BTreeSet<usize> = segments.iter().map(|(s, _)| s.tier).collect();
    assert_eq!((modes.len(), tiers.len()), (2, 4), "both modes, every tier");
    let day = |t: UtcMillis| t.0.div_euclid(DAY_MS);
    let crossing = |(s, class): &&(&Seg, Option<&str>)| {
        class.is_some() && day(s.start) != day(UtcMillis(s.end.0 - 1))
    };
    assert!(
        segments.iter().filter(crossing).count() >= 5,
        "class segments crossing a midnight"
    );
    assert!(
        segments
            .iter()
            .any(|(s, _)| s.end.0 - s.start.0 == 48 * HOUR_MS),
        "a segment at the 48-hour limit"
    );
    assert!(
        segments.iter().any(|(s, _)| s.end.0 - s.start.0 < 1_000),
        "a segment shorter than a second"
    );
    let explicit_null = events.iter().any(|e| {
        matches!(
            e.ev,
            Ev::Segment {
                explicit_null: true,
                ..
            }
        )
    });
    assert!(explicit_null, "a segment with \"classId\": null");
    let rows = reference.rows(i64::MIN, i64::MAX, None);
    let days_with_both: BTreeSet<i64> = rows
        .iter()
        .filter(|r| r.class.is_none())
        .map(|r| r.day)
        .filter(|d| rows.iter().any(|r| r.day == *d && r.class.is_some()))
        .collect();
    assert!(
        days_with_both.len() >= 5,
        "days with class rows and the rest"
    );
    let classes_seen: BTreeSet<&str> = rows.iter().filter_map(|r| r.class).collect();
    assert_eq!(classes_seen.len(), classes().len(), "every class has rows");
}

/// Random segments and facts in random batches, every event one to three
/// times: after every sixth batch (alternately right after a rollup; one
/// class's rows in turn) and at the end (every class's, and those of a class
/// never recorded), every recording answer equals the reference; the last
/// answers are the same, body for body, before and after a rollup.
#[tokio::test]
async fn recording_rows_match_a_plain_reference_through_redeliveries_and_rollups() {
    recording_oracle("UTC", true, 4711).await;
}

/// The same for apps in Kolkata (+05:30, hours from hh:30 UTC) and
/// Kathmandu (+05:45), registered half way through their events.
#[tokio::test]
async fn recording_rows_in_other_zones_match_the_reference_and_alibaba_stays_utc() {
    recording_oracle("Asia/Kolkata", false, 4712).await;
    recording_oracle("Asia/Kathmandu", false, 4713).await;
}

async fn recording_oracle(zone: &'static str, register_first: bool, seed: u64) {
    let started = Instant::now();
    let store = fresh_store().await;
    let mut rng = rng(seed);
    ZONE.with(|z| z.set(zone));
    let events = scenario(&mut rng, 160, register_first);
    let zone = LocalTime::new(zone);
    let mut whole = Reference::new(zone);
    for e in &events {
        whole.take(&e.id, &e.ev);
    }
    assert_rich(&events, &whole);

    let mut all_classes: Vec<&str> = classes().iter().map(|c| c.id).collect();
    let batches = deliveries(&mut rng, &events);
    let mut reference = Reference::new(zone);
    let registration = events
        .iter()
        .position(|e| matches!(e.ev, Ev::Register))
        .expect("a registration");
    let mut taken: BTreeSet<usize> = BTreeSet::new();
    let (mut checkpoints, mut compared, mut arrived_voided) = (0, 0, 0);
    for (b, batch) in batches.iter().enumerate() {
        let messages: Vec<InboundMessage> = batch
            .iter()
            .enumerate()
            .map(|(j, &i)| InboundMessage {
                message_id: format!("b{b}-{j}"),
                body: Some(events[i].body.clone()),
            })
            .collect();
        let report = ingest_batch(&store, &messages, now(), fast_retry()).await;
        assert!(
            report.failures.is_empty(),
            "batch {b}: {:?}",
            report.failures
        );
        // Usage counts the first time its event arrives, in this batch or
        // before; every other copy is a duplicate. Facts are taken in anew.
        // A segment whose void came in an earlier batch counts as voided
        // (a duplicate); in one batch, usage counts before voids apply.
        let voided_before = reference.voided.clone();
        let (mut counted, mut duplicates, mut facts, mut voids) = (0, 0, 0, 0);
        for &i in batch {
            let e = &events[i];
            match &e.ev {
                Ev::Void { .. } if taken.contains(&i) => duplicates += 1,
                Ev::Void { .. } => voids += 1,
                ev if !is_usage(ev) => facts += 1,
                _ if taken.contains(&i) => duplicates += 1,
                _ if voided_before.contains(&e.id) => {
                    duplicates += 1;
                    arrived_voided += 1;
                }
                _ => counted += 1,
            }
            if taken.insert(i) {
                reference.take(&e.id, &e.ev);
            }
        }
        assert_eq!(
            (
                report.counted,
                report.duplicates,
                report.facts,
                report.voids
            ),
            (counted, duplicates, facts, voids),
            "batch {b} ({:?})",
            batch.iter().map(|&i| &events[i].id).collect::<Vec<_>>()
        );
        if b % 6 == 5 && !taken.contains(&registration) {
            let pairs = [("Action", "DescribeApps")];
            let apps = owner_asks(&store, &pairs, REQUEST_ID, now()).await.unwrap();
            assert!(
                !apps.contains(APP),
                "after batch {b}: listed before its registration"
            );
        } else if b % 6 == 5 {
            if checkpoints % 2 == 1 {
                rollup(&store).await;
            }
            let class = all_classes[checkpoints % all_classes.len()];
            let label = format!("after batch {b}");
            compared += check_all(&store, &reference, &[class], &label).await.len();
            checkpoints += 1;
        }
    }
    assert_eq!(taken.len(), events.len(), "every event delivered");
    assert!(arrived_voided > 0, "a segment arriving after its void");
    assert!(!reference.live.is_empty() && !reference.voided.is_empty());
    all_classes.push("never-recorded");
    let before = check_all(&store, &reference, &all_classes, "at the end").await;
    rollup(&store).await;
    let after = check_all(&store, &reference, &all_classes, "after a last rollup").await;
    assert_eq!(before, after, "a rollup changed an answer");
    compared += before.len() + after.len();
    println!(
        "{}: {} events in {} batches, {} rows; {checkpoints} checkpoints, {compared} answers \
         compared; {:.1?}",
        zone.name(),
        events.len(),
        batches.len(),
        reference.rows(i64::MIN, i64::MAX, None).len(),
        started.elapsed()
    );
}
