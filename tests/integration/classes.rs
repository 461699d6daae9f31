//! Interactive classes and prepaid packages end to end: registrations,
//! class sessions, class facts and package purchases go in through
//! `ingest_batch`; `DescribeUsageDetails`, `DescribeUsagePackages`,
//! `DescribeUsageData` (AudioVideo) and `DescribeApps` answer; every answer
//! is compared, field by field and number by number, with a reference
//! computed here from the contract's rules alone (plain loops over the
//! events, sharing no code with the service). Then the three actions'
//! errors, in their validation order, through the HTTP entry point.

use crate::exact_json::*;
use crate::local_time::LocalTime;
use crate::support::*;
use crate::workload::{deliver, fast_retry, rng, seconds_text, with_duplicates};

use rand::Rng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rtc_usage::bus::memory::RecordingBus;
use rtc_usage::domain::error::ErrorCode;
use rtc_usage::domain::rollup::RollupRequest;
use rtc_usage::domain::time::{DAY_MS, HOUR_MS, MINUTE_MS, UtcMillis};
use rtc_usage::service::ingest::{FailureKind, InboundMessage, ingest_batch};
use rtc_usage::service::rollup::{Deadline, run_rollup};
use rtc_usage::store::faulty::{FaultPlan, FaultyStore};
use rtc_usage::store::{AlertStore, UsageStore};
use rtc_usage::testkit::register_apps;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::atomic::Ordering;
use std::time::Instant;

const APP: &str = "lcic-app";
const SOURCE: &str = "/lcic/classroom";
/// The request id `ask` passes: the expected bodies carry it.
const REQUEST_ID: &str = "req-1";

// ---------------------------------------------------------------------------
// Events, as the tests describe them and as producers send them.

#[derive(Clone, Debug, PartialEq, Eq)]
struct Sess {
    class: String,
    user: String,
    role: &'static str,
    playback: bool,
    /// `[start, end)` in epoch milliseconds.
    start: i64,
    end: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Pkg {
    id: String,
    name: String,
    minutes: u64,
    /// UTC day numbers (days since 1970-01-01), inclusive.
    from: i64,
    to: i64,
}

#[derive(Clone, Debug)]
enum Ev {
    Register {
        owner: &'static str,
        name: Option<String>,
        /// `timeZone`, when the registration names one.
        zone: Option<&'static str>,
    },
    Session(Sess),
    Started {
        class: String,
        name: String,
        start: i64,
    },
    Ended {
        class: String,
        end: i64,
    },
    Package(Pkg),
    /// `rtc.usage.voided` of the event with this id (a session's, or one
    /// that never arrives).
    Void {
        voided: String,
    },
    /// `rtc.package.refunded` of this package id (bought or not).
    Refund {
        package: String,
    },
}

#[derive(Clone, Debug)]
struct Event {
    id: String,
    body: String,
    ev: Ev,
}

impl Event {
    fn new(rng: &mut StdRng, id: String, ev: Ev) -> Self {
        let body = body_of(rng, &id, &ev);
        Event { id, body, ev }
    }

    fn is_session(&self) -> bool {
        matches!(self.ev, Ev::Session(_))
    }
}

fn day_number(text: &str) -> i64 {
    at(&format!("{text}T00:00:00Z")).0.div_euclid(DAY_MS)
}

/// `YYYY-MM-DD`, written by chrono rather than by the service.
fn day_text(day: i64) -> String {
    chrono::DateTime::from_timestamp_millis(day * DAY_MS)
        .expect("a representable day")
        .format("%Y-%m-%d")
        .to_string()
}

fn envelope(id: &str, kind: &str, data: Value) -> String {
    json!({"specversion": "1.0", "id": id, "source": SOURCE, "type": kind,
           "time": "2026-11-23T11:59:00Z", "data": data})
    .to_string()
}

fn body_of(rng: &mut StdRng, id: &str, ev: &Ev) -> String {
    let (kind, data) = match ev {
        // An optional field given as null is absent.
        Ev::Register { owner, name, zone } => (
            "rtc.app.registered",
            json!({"appId": APP, "ownerAccountId": owner, "appName": name, "timeZone": zone}),
        ),
        Ev::Session(s) => (
            "rtc.class.session",
            json!({"appId": APP, "classId": s.class, "userId": s.user, "role": s.role,
                   "usageType": if s.playback { "playback" } else { "interactive" },
                   "startTime": rfc3339(rng, s.start), "endTime": rfc3339(rng, s.end)}),
        ),
        Ev::Started { class, name, start } => (
            "rtc.class.started",
            json!({"appId": APP, "classId": class, "className": name,
                   "startTime": rfc3339(rng, *start)}),
        ),
        Ev::Ended { class, end } => (
            "rtc.class.ended",
            json!({"appId": APP, "classId": class, "endTime": rfc3339(rng, *end)}),
        ),
        Ev::Package(p) => (
            "rtc.package.purchased",
            json!({"appId": APP, "packageId": p.id, "packageName": p.name, "minutes": p.minutes,
                   "validFrom": day_text(p.from), "validTo": day_text(p.to)}),
        ),
        Ev::Refund { package } => (
            "rtc.package.refunded",
            json!({"appId": APP, "packageId": package}),
        ),
        Ev::Void { voided } => (
            "rtc.usage.voided",
            json!({"appId": APP, "voidedSource": SOURCE, "voidedId": voided,
                   "reason": "測試: wrong classroom ✗"}),
        ),
    };
    envelope(id, kind, data)
}

// ---------------------------------------------------------------------------
// The reference: what the events amount to, by the contract's rules.

#[derive(Clone, Debug, Default)]
struct Facts {
    name: Option<String>,
    start: Option<i64>,
    end: Option<i64>,
}

/// Everything taken in so far.
#[derive(Clone, Debug, Default)]
struct World {
    owner: Option<&'static str>,
    /// The zone the first registration fixed.
    zone: Option<&'static str>,
    app_name: Option<String>,
    /// Every session taken in, by event id, voided or not.
    sessions: Vec<(String, Sess)>,
    /// Ids of the events voids named.
    voided: HashSet<String>,
    /// Ids of the packages refunds named.
    refunded: HashSet<String>,
    facts: BTreeMap<String, Facts>,
    packages: Vec<Pkg>,
}

impl World {
    /// Takes in one event, or says why it conflicts with what is known: an
    /// app registered to another account; a class fact already set to
    /// another value, or an end not after the start whichever came first; a
    /// package id already used for other data. A repeat is a no-op, and so is
    /// a name on a registration once the app has one.
    fn apply(&mut self, id: &str, ev: &Ev) -> Result<(), String> {
        match ev {
            Ev::Register { owner, name, zone } => {
                if self.owner.is_some_and(|o| o != *owner) {
                    return Err("registered to another account".into());
                }
                if self.owner.is_some() && zone.is_some() && *zone != self.zone {
                    return Err("registered in another zone".into());
                }
                if self.owner.is_none() {
                    // No zone named: the deployment's default, UTC here.
                    self.zone = Some(zone.unwrap_or("UTC"));
                }
                self.owner = Some(owner);
                if self.app_name.is_none() {
                    self.app_name = name.clone();
                }
            }
            Ev::Session(s) => self.sessions.push((id.to_owned(), s.clone())),
            // Whichever comes first, a voided session counts nowhere.
            Ev::Void { voided } => {
                self.voided.insert(voided.clone());
            }
            // Whichever comes first, a refunded package pays for nothing.
            Ev::Refund { package } => {
                self.refunded.insert(package.clone());
            }
            Ev::Started { class, name, start } => {
                let f = self.facts.entry(class.clone()).or_default();
                if f.name.as_ref().is_some_and(|n| n != name) {
                    return Err("another className".into());
                }
                if f.start.is_some_and(|s| s != *start) {
                    return Err("another startTime".into());
                }
                if f.end.is_some_and(|e| e <= *start) {
                    return Err("endTime not after startTime".into());
                }
                f.name = Some(name.clone());
                f.start = Some(*start);
            }
            Ev::Ended { class, end } => {
                let f = self.facts.entry(class.clone()).or_default();
                if f.end.is_some_and(|e| e != *end) {
                    return Err("another endTime".into());
                }
                if f.start.is_some_and(|s| *end <= s) {
                    return Err("endTime not after startTime".into());
                }
                f.end = Some(*end);
            }
            Ev::Package(p) => match self.packages.iter().find(|q| q.id == p.id) {
                Some(old) if old != p => return Err("package id reused".into()),
                Some(_) => {}
                None => self.packages.push(p.clone()),
            },
        }
        Ok(())
    }

    fn session_count(&self) -> usize {
        self.sessions.len()
    }

    /// The sessions no void names: all that counts.
    fn live(&self) -> impl Iterator<Item = &Sess> {
        self.sessions
            .iter()
            .filter(|(id, _)| !self.voided.contains(id))
            .map(|(_, s)| s)
    }

    /// The app's billing time zone (UTC until a registration fixes one:
    /// answers are refused until then).
    fn local(&self) -> LocalTime {
        LocalTime::new(self.zone.unwrap_or("UTC"))
    }
}

/// One details row: a class's sessions of one usage type on one local day.
#[derive(Clone, Debug)]
struct RefRow {
    day: i64,
    class: String,
    playback: bool,
    ms: u64,
    users: HashSet<String>,
    /// (index into `Reference::packages`, minutes), in the order taken.
    charges: Vec<(usize, u64)>,
}

impl RefRow {
    fn billable(&self) -> u64 {
        self.ms.div_ceil(60_000)
    }

    fn paid_by_packages(&self) -> u64 {
        self.charges.iter().map(|(_, m)| m).sum()
    }
}

struct Reference {
    /// In allocation order, each with what packages paid for it.
    rows: Vec<RefRow>,
    /// In deduction order.
    packages: Vec<Pkg>,
    used: Vec<u64>,
    /// Per package (in deduction order), whether it was refunded.
    refunded: Vec<bool>,
    /// (part start, playback) → milliseconds, in parts that each lie in one
    /// UTC hour and one local clock hour.
    parts: BTreeMap<(i64, bool), u64>,
    zone: LocalTime,
}

impl Reference {
    fn of(world: &World) -> Self {
        // Each session split at the UTC hours and at the app's local hours
        // (its midnights among them); a part belongs to the local day it
        // lies in, and the user to every local day the session touches.
        let zone = world.local();
        let mut cells: BTreeMap<(i64, String, bool), (u64, HashSet<String>)> = BTreeMap::new();
        let mut parts: BTreeMap<(i64, bool), u64> = BTreeMap::new();
        for s in world.live() {
            let mut t = s.start;
            while t < s.end {
                let hour = t - t.rem_euclid(HOUR_MS);
                let part_end = (hour + HOUR_MS).min(zone.next_hour_boundary(t)).min(s.end);
                let ms = (part_end - t) as u64;
                *parts.entry((t, s.playback)).or_default() += ms;
                let cell = cells
                    .entry((zone.day(t), s.class.clone(), s.playback))
                    .or_default();
                cell.0 += ms;
                cell.1.insert(s.user.clone());
                t = part_end;
            }
        }
        let mut rows: Vec<RefRow> = cells
            .into_iter()
            .map(|((day, class, playback), (ms, users))| RefRow {
                day,
                class,
                playback,
                ms,
                users,
                charges: Vec::new(),
            })
            .collect();
        // Allocation order: the day; then the class's start to the
        // millisecond, classes without a known start after the others; then
        // the class id in byte order; then interactive before playback.
        let start = |row: &RefRow| world.facts.get(&row.class).and_then(|f| f.start);
        rows.sort_by(|a, b| {
            a.day
                .cmp(&b.day)
                .then(start(a).is_none().cmp(&start(b).is_none()))
                .then(start(a).cmp(&start(b)))
                .then(a.class.as_bytes().cmp(b.class.as_bytes()))
                .then(a.playback.cmp(&b.playback))
        });
        // Packages in the order (validTo, validFrom, packageId).
        let mut packages = world.packages.clone();
        packages
            .sort_by(|a, b| (a.to, a.from, a.id.as_bytes()).cmp(&(b.to, b.from, b.id.as_bytes())));
        let mut used = vec![0u64; packages.len()];
        for row in &mut rows {
            let mut left = row.billable();
            for (i, p) in packages.iter().enumerate() {
                if left == 0 {
                    break;
                }
                if p.from <= row.day
                    && row.day <= p.to
                    && used[i] < p.minutes
                    && !world.refunded.contains(&p.id)
                {
                    let take = left.min(p.minutes - used[i]);
                    used[i] += take;
                    left -= take;
                    row.charges.push((i, take));
                }
            }
        }
        let refunded = packages
            .iter()
            .map(|p| world.refunded.contains(&p.id))
            .collect();
        Reference {
            rows,
            packages,
            used,
            refunded,
            parts,
            zone,
        }
    }

    /// The rows of the local days `first..=last`, one class's if `class`.
    fn window(&self, first: i64, last: i64, class: Option<&str>) -> Vec<&RefRow> {
        self.rows
            .iter()
            .filter(|r| first <= r.day && r.day <= last)
            .filter(|r| class.is_none_or(|c| r.class == c))
            .collect()
    }

    fn row_json(&self, world: &World, row: &RefRow) -> J {
        let facts = world.facts.get(&row.class).cloned().unwrap_or_default();
        let paid = row.paid_by_packages();
        obj([
            ("Date", s(&day_text(row.day))),
            ("AppId", s(APP)),
            ("AppName", opt(world.app_name.as_deref())),
            ("ClassId", s(&row.class)),
            ("ClassName", opt(facts.name.as_deref())),
            (
                "StartTime",
                opt(facts.start.map(|t| self.zone.text(t)).as_deref()),
            ),
            (
                "EndTime",
                opt(facts.end.map(|t| self.zone.text(t)).as_deref()),
            ),
            (
                "UsageType",
                s(if row.playback {
                    "Playback"
                } else {
                    "Interactive"
                }),
            ),
            ("UserCount", int(row.users.len() as u64)),
            ("DurationSeconds", secs(row.ms)),
            ("BillableMinutes", int(row.billable())),
            (
                "Packages",
                J::Arr(
                    row.charges
                        .iter()
                        .map(|(i, minutes)| {
                            obj([
                                ("PackageId", s(&self.packages[*i].id)),
                                ("PackageName", s(&self.packages[*i].name)),
                                ("Minutes", int(*minutes)),
                            ])
                        })
                        .collect(),
                ),
            ),
            ("PackageMinutes", int(paid)),
            ("PayAsYouGoMinutes", int(row.billable() - paid)),
        ])
    }

    fn details(&self, world: &World, rows: &[&RefRow], page: usize, size: usize) -> J {
        let sum = |f: &dyn Fn(&RefRow) -> u64| rows.iter().map(|r| f(r)).sum::<u64>();
        let records = rows
            .iter()
            .skip((page - 1) * size)
            .take(size)
            .map(|r| self.row_json(world, r))
            .collect();
        obj([
            ("RequestId", s(REQUEST_ID)),
            ("AppId", s(APP)),
            ("TimeZone", s(self.zone.name())),
            ("ServiceType", s("AudioVideo")),
            ("TotalCount", int(rows.len() as u64)),
            ("PageNumber", int(page as u64)),
            ("PageSize", int(size as u64)),
            (
                "Summary",
                obj([
                    ("DurationSeconds", secs(sum(&|r| r.ms))),
                    ("BillableMinutes", int(sum(&|r| r.billable()))),
                    ("PackageMinutes", int(sum(&|r| r.paid_by_packages()))),
                    (
                        "PayAsYouGoMinutes",
                        int(sum(&|r| r.billable() - r.paid_by_packages())),
                    ),
                ]),
            ),
            ("Records", J::Arr(records)),
        ])
    }

    /// Each package as it stands on the local day `today`: the first status
    /// that applies of NotStarted (before validFrom), Expired (after
    /// validTo), Exhausted (nothing left), Active.
    fn status(&self, i: usize, today: i64) -> &'static str {
        let p = &self.packages[i];
        if self.refunded[i] {
            "Refunded"
        } else if today < p.from {
            "NotStarted"
        } else if today > p.to {
            "Expired"
        } else if self.used[i] == p.minutes {
            "Exhausted"
        } else {
            "Active"
        }
    }

    /// For an Active package, the first day, from `today` on, by which the
    /// last 7 complete days' average (a day at a time) has used up what is
    /// left of it and of the packages before it that can still pay; null
    /// past its validTo, with no recent usage, and for any other status.
    fn run_out_date(&self, i: usize, today: i64) -> J {
        if self.status(i, today) != "Active" {
            return J::Leaf("null".into());
        }
        let recent: u64 = (self.rows.iter())
            .filter(|r| (today - 7..today).contains(&r.day))
            .map(RefRow::billable)
            .sum();
        let left: u64 = (0..=i)
            .filter(|&j| !self.refunded[j] && self.packages[j].to >= today)
            .map(|j| self.packages[j].minutes - self.used[j])
            .sum();
        if recent == 0 {
            return J::Leaf("null".into());
        }
        let mut day = today;
        // Used by the end of `day`: (day - today + 1) days at recent / 7.
        while ((day - today + 1) as u64) * recent < 7 * left {
            day += 1;
        }
        if day > self.packages[i].to {
            J::Leaf("null".into())
        } else {
            s(&day_text(day))
        }
    }

    /// The low and exhausted conditions that hold now (CONTRACT §12), with
    /// each package's minutes left: (kind, package id) → remaining.
    fn alert_conditions(&self) -> BTreeMap<(&'static str, String), u64> {
        let mut holding = BTreeMap::new();
        for (i, p) in self.packages.iter().enumerate() {
            if self.refunded[i] {
                continue;
            }
            let remaining = p.minutes - self.used[i];
            if remaining * 5 <= p.minutes {
                holding.insert(("PackageLow", p.id.clone()), remaining);
            }
            if remaining == 0 {
                holding.insert(("PackageExhausted", p.id.clone()), remaining);
            }
        }
        holding
    }

    fn packages_answer(&self, today: i64) -> J {
        let packages = self
            .packages
            .iter()
            .enumerate()
            .map(|(i, p)| {
                obj([
                    ("PackageId", s(&p.id)),
                    ("PackageName", s(&p.name)),
                    ("Minutes", int(p.minutes)),
                    ("UsedMinutes", int(self.used[i])),
                    ("RemainingMinutes", int(p.minutes - self.used[i])),
                    ("ValidFrom", s(&day_text(p.from))),
                    ("ValidTo", s(&day_text(p.to))),
                    ("Status", s(self.status(i, today))),
                    ("RunOutDate", self.run_out_date(i, today)),
                ])
            })
            .collect();
        obj([
            ("RequestId", s(REQUEST_ID)),
            ("AppId", s(APP)),
            ("TimeZone", s(self.zone.name())),
            ("Packages", J::Arr(packages)),
        ])
    }

    /// The trend over `[start, end)` in the app's local hours, or local
    /// days when `daily`: every bucket overlapping the window, whole, zeros
    /// included.
    fn trend(&self, start: i64, end: i64, daily: bool) -> J {
        let starts = self.zone.buckets(start, end, daily);
        // Each bucket ends where the next begins, the last one's too.
        let ends = self.zone.buckets(start, end + 30 * HOUR_MS, daily);
        let mut buckets: BTreeMap<i64, (u64, u64)> = BTreeMap::new();
        for (i, &from) in starts.iter().enumerate() {
            let to = ends[i + 1];
            for (&(_, playback), &ms) in self.parts.range((from, false)..(to, false)) {
                let bucket = buckets.entry(from).or_default();
                if playback {
                    bucket.1 += ms;
                } else {
                    bucket.0 += ms;
                }
            }
        }
        let size = if daily { DAY_MS } else { HOUR_MS };
        let (mut all_interactive, mut all_playback) = (0, 0);
        let data = starts
            .into_iter()
            .map(|b| {
                let (interactive, playback) = buckets.get(&b).copied().unwrap_or_default();
                all_interactive += interactive;
                all_playback += playback;
                obj([
                    ("Timestamp", s(&self.zone.text(b))),
                    ("InteractiveDuration", secs(interactive)),
                    ("PlaybackDuration", secs(playback)),
                    ("TotalDuration", secs(interactive + playback)),
                ])
            })
            .collect();
        obj([
            ("RequestId", s(REQUEST_ID)),
            ("AppId", s(APP)),
            ("TimeZone", s(self.zone.name())),
            ("ServiceType", s("AudioVideo")),
            ("Interval", int((size / 1_000) as u64)),
            ("InteractiveSummaryDuration", secs(all_interactive)),
            ("PlaybackSummaryDuration", secs(all_playback)),
            ("TotalSummaryDuration", secs(all_interactive + all_playback)),
            ("Data", J::Arr(data)),
        ])
    }
}

fn apps_answer(world: &World) -> J {
    let apps = if world.owner == Some(OWNER) {
        vec![obj([
            ("AppId", s(APP)),
            ("AppName", opt(world.app_name.as_deref())),
            ("TimeZone", s(world.local().name())),
        ])]
    } else {
        vec![]
    };
    obj([("RequestId", s(REQUEST_ID)), ("Apps", J::Arr(apps))])
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

async fn ask<S: UsageStore + AlertStore>(
    store: &S,
    pairs: &[(&str, String)],
) -> Result<String, ErrorCode> {
    ask_at(store, pairs, now()).await
}

async fn ask_at<S: UsageStore + AlertStore>(
    store: &S,
    pairs: &[(&str, String)],
    at: UtcMillis,
) -> Result<String, ErrorCode> {
    let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    owner_asks(store, &pairs, REQUEST_ID, at).await
}

/// A window of the query API: `[start, end)`.
#[derive(Clone, Copy)]
struct Window {
    start: &'static str,
    end: &'static str,
}

impl Window {
    /// The local days of `zone` the window overlaps.
    fn days(self, zone: LocalTime) -> (i64, i64) {
        (zone.day(at(self.start).0), zone.day(at(self.end).0 - 1))
    }
}

/// Every day of the workloads, the last one cut at "now".
const WHOLE: Window = Window {
    start: "2026-11-01T00:00:00Z",
    end: "2026-11-23T12:00:00Z",
};
/// Starts inside a day (whose rows all belong to the window) after days
/// whose rows drew on the packages first; ends exactly at a midnight.
const MIDDLE: Window = Window {
    start: "2026-11-17T05:00:00Z",
    end: "2026-11-20T00:00:00Z",
};
/// The days New York's clocks went forward (2026-03-08: 23 hours).
const SPRING: Window = Window {
    start: "2026-03-07T00:00:00Z",
    end: "2026-03-10T00:00:00Z",
};
/// Neither end on a bucket boundary: the first and last buckets are answered whole.
const RAGGED: Window = Window {
    start: "2026-11-15T07:30:00Z",
    end: "2026-11-19T18:45:13Z",
};

fn details_params(
    window: Window,
    class: Option<&str>,
    page: Option<usize>,
    size: Option<usize>,
) -> Vec<(&'static str, String)> {
    let mut pairs = vec![
        ("Action", "DescribeUsageDetails".to_owned()),
        ("StartTime", window.start.to_owned()),
        ("EndTime", window.end.to_owned()),
        ("AppId", APP.to_owned()),
        ("ServiceType", "AudioVideo".to_owned()),
    ];
    if let Some(class) = class {
        pairs.push(("ClassId", class.to_owned()));
    }
    if let Some(page) = page {
        pairs.push(("PageNumber", page.to_string()));
    }
    if let Some(size) = size {
        pairs.push(("PageSize", size.to_string()));
    }
    pairs
}

fn trend_params(window: Window, interval: &str) -> Vec<(&'static str, String)> {
    vec![
        ("Action", "DescribeUsageData".to_owned()),
        ("StartTime", window.start.to_owned()),
        ("EndTime", window.end.to_owned()),
        ("AppId", APP.to_owned()),
        ("ServiceType", "AudioVideo".to_owned()),
        ("Interval", interval.to_owned()),
    ]
}

fn packages_params() -> Vec<(&'static str, String)> {
    vec![
        ("Action", "DescribeUsagePackages".to_owned()),
        ("AppId", APP.to_owned()),
    ]
}

/// Every page of `size` rows of a window (at least one), each compared whole.
async fn check_pages<S: UsageStore + AlertStore>(
    store: &S,
    world: &World,
    reference: &Reference,
    window: Window,
    class: Option<&str>,
    size: usize,
    label: &str,
) -> usize {
    let (first, last) = window.days(world.local());
    let rows = reference.window(first, last, class);
    let pages = rows.len().div_ceil(size).max(1);
    for page in 1..=pages {
        let got = ask(
            store,
            &details_params(window, class, Some(page), Some(size)),
        )
        .await
        .unwrap_or_else(|e| panic!("{label}: details refused: {e:?}"));
        let context = format!(
            "{label}: details [{}, {}) class {class:?} page {page} of {size}",
            window.start, window.end
        );
        assert_json(&got, &reference.details(world, &rows, page, size), &context);
    }
    pages
}

/// Compares every answer with the reference of `world`: the details of the
/// whole range (every page of 7, and one class's rows), of a window in the
/// middle (default page size, pages 1 and 2), the packages, the apps, and the
/// trend at both intervals over two windows. Answers how many it compared.
async fn check_all<S: UsageStore + AlertStore>(
    store: &S,
    world: &World,
    filter_class: &str,
    label: &str,
) -> usize {
    let trends = [
        (WHOLE, "3600", false),
        (WHOLE, "86400", true),
        (RAGGED, "3600", false),
        (RAGGED, "86400", true),
        (SPRING, "3600", false),
        (SPRING, "86400", true),
    ];
    if world.owner != Some(OWNER) {
        // Not registered yet: usage is counted all the same, but the app is
        // answered like an unknown one.
        for pairs in [
            details_params(WHOLE, None, None, None),
            trend_params(WHOLE, "3600"),
            packages_params(),
        ] {
            assert_eq!(
                ask(store, &pairs).await,
                Err(ErrorCode::InvalidAppIdParameter),
                "{label}: {pairs:?} before the registration"
            );
        }
        return 3;
    }
    let reference = Reference::of(world);
    let mut compared = 0;
    compared += check_pages(store, world, &reference, WHOLE, None, 7, label).await;
    compared += check_pages(
        store,
        world,
        &reference,
        WHOLE,
        Some(filter_class),
        7,
        label,
    )
    .await;
    compared += check_pages(store, world, &reference, SPRING, None, 20, label).await;
    let (first, last) = MIDDLE.days(world.local());
    let middle = reference.window(first, last, None);
    for page in [1, 2] {
        let got = ask(store, &details_params(MIDDLE, None, Some(page), None))
            .await
            .unwrap();
        let context = format!("{label}: details of the middle window, page {page}");
        assert_json(&got, &reference.details(world, &middle, page, 20), &context);
        compared += 1;
    }
    check_export(store, world, &reference, WHOLE, label).await;
    compared += 1;
    let got = ask(store, &packages_params()).await.unwrap();
    let today = world.local().day(now().0);
    assert_json(
        &got,
        &reference.packages_answer(today),
        &format!("{label}: packages"),
    );
    let got = ask(store, &[("Action", "DescribeApps".to_owned())])
        .await
        .unwrap();
    assert_json(&got, &apps_answer(world), &format!("{label}: apps"));
    compared += 2;
    for (window, interval, daily) in trends {
        let got = ask(store, &trend_params(window, interval)).await.unwrap();
        let want = reference.trend(at(window.start).0, at(window.end).0, daily);
        let context = format!(
            "{label}: trend [{}, {}) at {interval}",
            window.start, window.end
        );
        assert_json(&got, &want, &context);
        compared += 1;
    }
    compared
}

/// The export of a window, as the caller receives it: named by the window's
/// first and last local dates, every row of the details in their order,
/// with the app's local dates and offsets.
async fn check_export<S: UsageStore + AlertStore>(
    store: &S,
    world: &World,
    reference: &Reference,
    window: Window,
    label: &str,
) {
    let zone = world.local();
    let (first, last) = window.days(zone);
    let pairs = [
        ("Action", "ExportUsageDetails"),
        ("StartTime", window.start),
        ("EndTime", window.end),
        ("AppId", APP),
        ("ServiceType", "AudioVideo"),
    ];
    let posted = handle_event(
        store,
        None,
        &api_event(Api::Rest, &pairs, Some(OWNER)),
        now(),
    )
    .await;
    assert_eq!(posted.status, 200, "{label}: export: {}", posted.text());
    let disposition = posted.header("content-disposition").unwrap_or_default();
    let name = format!(
        "usage-{APP}-AudioVideo-{}-{}.csv",
        day_text(first),
        day_text(last)
    );
    assert!(
        disposition.contains(&name),
        "{label}: export named {disposition}, not {name}"
    );
    let text = posted.text().trim_start_matches('\u{feff}');
    let mut csv = csv::Reader::from_reader(text.as_bytes());
    let got: Vec<Vec<String>> = csv
        .records()
        .map(|r| r.expect("a CSV record").iter().map(str::to_owned).collect())
        .collect();
    let rows = reference.window(first, last, None);
    assert_eq!(got.len(), rows.len(), "{label}: export rows");
    for (cells, row) in got.iter().zip(rows) {
        let facts = world.facts.get(&row.class).cloned().unwrap_or_default();
        let time = |t: Option<i64>| t.map(|t| zone.text(t)).unwrap_or_default();
        let paid = row.paid_by_packages();
        let want = [
            (0, day_text(row.day)),
            (3, row.class.clone()),
            (4, time(facts.start)),
            (5, time(facts.end)),
            (6, row.users.len().to_string()),
            (
                7,
                if row.playback {
                    "Playback"
                } else {
                    "Interactive"
                }
                .to_owned(),
            ),
            (8, seconds_text(row.ms)),
            (9, row.billable().to_string()),
            (11, paid.to_string()),
            (12, (row.billable() - paid).to_string()),
        ];
        for (column, value) in want {
            assert_eq!(
                cells[column], value,
                "{label}: export column {column}: {cells:?}"
            );
        }
    }
}

async fn rollup<S: UsageStore + AlertStore>(store: &S) {
    run_rollup(store, &RollupRequest::Scheduled, Deadline::none()).await;
}

// ---------------------------------------------------------------------------
// A seeded classroom workload.

#[derive(Clone, Copy)]
enum Known {
    Both,
    StartOnly,
    EndOnly,
    Neither,
}

struct Class {
    id: &'static str,
    name: String,
    day: i64,
    start: i64,
    end: i64,
    known: Known,
}

#[derive(Clone, Copy)]
struct Size {
    /// Users per class, inclusive range.
    users: (usize, usize),
    /// Most live sessions per user (rejoins).
    rejoins: usize,
    /// Chance that a user watches the recording later.
    playback: f64,
    /// Whether a second named registration follows the first (a no-op).
    rename: bool,
}

const SMALL: Size = Size {
    users: (1, 2),
    rejoins: 1,
    playback: 0.3,
    rename: true,
};

/// The first day classes are held on; they run for seven days.
fn first_class_day() -> i64 {
    day_number("2026-11-15")
}

fn classes(rng: &mut StdRng) -> Vec<Class> {
    use Known::*;
    // (id, day index, facts that will arrive). Ids mix cases and
    // punctuation so that byte order differs from a case-blind one.
    let table: [(&str, i64, Known); 16] = [
        ("math-101", 0, Both),
        ("Art_2", 0, Both),
        ("x", 0, Neither),
        ("Zeta-4", 1, Both),
        ("alpha-5", 1, StartOnly),
        ("bio.3", 1, EndOnly),
        ("c-6", 2, Both),
        ("C-7", 2, Neither),
        ("music-8", 3, StartOnly),
        ("0-open", 3, Both),
        ("Y.y", 4, Neither),
        ("phys_10", 4, Both),
        ("chem-11", 5, EndOnly),
        ("geo-12", 5, Both),
        ("hist-13", 6, StartOnly),
        ("lit-14", 6, Both),
    ];
    let mut out: Vec<Class> = Vec::new();
    for (id, day_index, known) in table {
        let day = first_class_day() + day_index;
        // Late classes run past midnight.
        let hour = if matches!(id, "c-6" | "C-7" | "phys_10") {
            23
        } else {
            rng.random_range(8..=20)
        };
        let mut start = day * DAY_MS + hour * HOUR_MS + rng.random_range(0..HOUR_MS);
        match id {
            // Early in its second, so that Art_2 starts 300 ms later in the
            // same second: both show the same StartTime, yet math-101 comes
            // first although "Art_2" sorts first by id.
            "math-101" => start = start - start.rem_euclid(1_000) + rng.random_range(0..500),
            "Art_2" => start = out[0].start + 300,
            // The same start as Zeta-4: the class id decides, in byte order.
            "alpha-5" => start = out[3].start,
            _ => {}
        }
        let end = start + rng.random_range(40 * MINUTE_MS..150 * MINUTE_MS);
        let name = match id {
            "math-101" => "Math \"101\" \\ 数学".to_owned(),
            "Art_2" => "Art 🎨".to_owned(),
            "0-open" => "课".repeat(128),
            _ => format!("Class {id}"),
        };
        out.push(Class {
            id,
            name,
            day,
            start,
            end,
            known,
        });
    }
    out
}

fn user_pool() -> Vec<String> {
    let mut pool: Vec<String> = (1..=24).map(|k| format!("user-{k}")).collect();
    pool.extend([
        "学生-甲".to_owned(),
        "Émile O'Brien".to_owned(),
        "🙂 spaced user".to_owned(),
        "u".repeat(128),
        "Quote\"Back\\slash".to_owned(),
    ]);
    pool
}

fn class_sessions(rng: &mut StdRng, classes: &[Class], size: Size) -> Vec<Sess> {
    let pool = user_pool();
    let last_end = now().0;
    let mut sessions = Vec::new();
    for class in classes {
        let mut users: Vec<&String> = pool.iter().collect();
        users.shuffle(rng);
        let n = rng.random_range(size.users.0..=size.users.1);
        for (k, user) in users.into_iter().take(n).enumerate() {
            let role = match k {
                0 => "teacher",
                1 if n >= 3 => "assistant",
                _ if rng.random_bool(0.8) => "student",
                _ => "spectator",
            };
            let session = |start: i64, end: i64, playback: bool, role: &'static str| Sess {
                class: class.id.to_owned(),
                user: user.clone(),
                role,
                playback,
                start,
                end,
            };
            for _ in 0..rng.random_range(1..=size.rejoins) {
                let join = class.start
                    + rng.random_range(-5 * MINUTE_MS..(class.end - class.start) * 3 / 4);
                let leave_by = class.end + 5 * MINUTE_MS;
                let leave = join + rng.random_range(1_000..=leave_by - join);
                sessions.push(session(join, leave, false, role));
                if rng.random_bool(0.15) {
                    // The same user in two sessions at once: each counts whole.
                    let again = rng.random_range(join..leave);
                    let until = again + rng.random_range(1..=30 * MINUTE_MS);
                    sessions.push(session(again, until, false, role));
                }
            }
            if rng.random_bool(size.playback) {
                for _ in 0..rng.random_range(1..=2) {
                    let day = class.day + rng.random_range(1..=3);
                    let start = if rng.random_bool(0.25) {
                        (day + 1) * DAY_MS - rng.random_range(1..30 * MINUTE_MS)
                    } else {
                        day * DAY_MS + rng.random_range(0..DAY_MS)
                    };
                    let end = start + rng.random_range(5 * MINUTE_MS..100 * MINUTE_MS);
                    if end <= last_end {
                        let role = if rng.random_bool(0.7) {
                            "student"
                        } else {
                            "teacher"
                        };
                        sessions.push(session(start, end, true, role));
                    }
                }
            }
        }
    }
    // Edges: a session ending exactly at midnight and one starting there
    // (each touches one day only), a 1 ms session, exactly one minute, and a
    // 47 h playback that touches three days.
    let by_id = |id: &str| classes.iter().find(|c| c.id == id).unwrap();
    let plain = |class: &str, user: &str, start: i64, end: i64, playback: bool| Sess {
        class: class.to_owned(),
        user: user.to_owned(),
        role: "student",
        playback,
        start,
        end,
    };
    let midnight = (by_id("c-6").day + 1) * DAY_MS;
    sessions.push(plain(
        "c-6",
        &pool[0],
        midnight - 17 * MINUTE_MS - 123,
        midnight,
        false,
    ));
    sessions.push(plain(
        "c-6",
        &pool[1],
        midnight,
        midnight + 9 * MINUTE_MS + 1,
        false,
    ));
    let y = by_id("Y.y").start;
    sessions.push(plain("Y.y", &pool[2], y, y + 1, false));
    let x = by_id("x").start;
    sessions.push(plain("x", &pool[0], x, x + 60_000, false));
    let long = (first_class_day() + 3) * DAY_MS + 22 * HOUR_MS + 500;
    sessions.push(plain("Zeta-4", &pool[3], long, long + 47 * HOUR_MS, true));
    // Where zones differ most: New York's clocks going back (2026-11-01, a
    // 25-hour day, 01:00–02:00 twice) and forward (2026-03-08, 23 hours),
    // and an hour across the midnights of Kolkata (18:30Z) and Kathmandu
    // (18:15Z).
    let t = |text: &str| at(text).0;
    sessions.push(plain(
        "x",
        &pool[4],
        t("2026-11-01T04:30:00Z") + 7,
        t("2026-11-01T07:30:00Z"),
        false,
    ));
    sessions.push(plain(
        "x",
        &pool[5],
        t("2026-03-08T06:30:00Z"),
        t("2026-03-08T08:00:00Z") + 11,
        true,
    ));
    sessions.push(plain(
        "geo-12",
        &pool[6],
        t("2026-11-18T18:00:00Z"),
        t("2026-11-18T19:00:00Z"),
        false,
    ));
    sessions
}

/// Packages sized from the sessions' billable minutes per day, so that they
/// run out part way through the days, some in the middle of a row: one
/// expiring in the middle of the week, two with the same validity (the id
/// decides), one starting later, one with the same validTo as another but a
/// later validFrom and a smaller id, one bought late for earlier days, one
/// not started yet, and a big one for the last days.
fn packages_for(sessions: &[Sess], zone: &'static str) -> (Vec<Pkg>, Pkg) {
    let world = World {
        sessions: sessions
            .iter()
            .enumerate()
            .map(|(i, s)| (i.to_string(), s.clone()))
            .collect(),
        zone: Some(zone),
        ..World::default()
    };
    let mut per_day: BTreeMap<i64, u64> = BTreeMap::new();
    for row in Reference::of(&world).rows {
        *per_day.entry(row.day).or_default() += row.billable();
    }
    let sum = |from: i64, to: i64| -> u64 { per_day.range(from..=to).map(|(_, m)| m).sum() };
    let d = |k: i64| first_class_day() + k;
    let all = sum(i64::MIN, i64::MAX);
    let pkg = |id: &str, name: &str, minutes: u64, from: i64, to: i64| Pkg {
        id: id.to_owned(),
        name: name.to_owned(),
        minutes: minutes.max(1),
        from,
        to,
    };
    let packages = vec![
        pkg(
            "pkg-early",
            "Early bird",
            sum(i64::MIN, d(2)) * 2 / 5,
            day_number("2026-11-01"),
            d(2),
        ),
        pkg(
            "pkg-main",
            "Main 主套餐",
            all / 10,
            day_number("2026-11-10"),
            day_number("2026-12-10"),
        ),
        pkg(
            "pkg-a-main",
            "Main \"twin\"",
            all / 20,
            day_number("2026-11-10"),
            day_number("2026-12-10"),
        ),
        pkg(
            "pkg-later",
            "Later",
            sum(d(4), i64::MAX) / 5,
            d(4),
            day_number("2026-11-30"),
        ),
        pkg(
            "pkg-0-same-end",
            "Same end",
            sum(d(3), d(5)) / 5,
            d(3),
            d(5),
        ),
        pkg(
            "pkg-future",
            "Next month",
            1_000,
            day_number("2026-11-25"),
            day_number("2027-01-31"),
        ),
        pkg("pkg-big", "Big", all * 2, d(6), day_number("2027-06-30")),
    ];
    let late = pkg(
        "pkg-late-bought",
        "Bought late",
        sum(d(1), d(5)) / 6,
        d(1),
        d(5),
    );
    (packages, late)
}

/// The workload's events in delivery order: some class facts first (before
/// any session of theirs), some last (after all of them), together with the
/// package bought last for earlier days; the rest shuffled.
fn scenario(rng: &mut StdRng, size: Size) -> Vec<Event> {
    scenario_in(rng, size, "UTC", Placement::First)
}

/// Where the first registration (the one that fixes the zone) comes.
#[derive(Clone, Copy, Debug)]
enum Placement {
    /// Before everything else.
    First,
    /// Shuffled among the sessions, packages and facts.
    Between,
    /// After everything else: every session is parked until it comes.
    Last,
}

/// [`scenario`] for an app in `zone` (every registration names it), with
/// the first registration placed as `first`.
fn scenario_in(rng: &mut StdRng, size: Size, zone: &'static str, first: Placement) -> Vec<Event> {
    let classes = classes(rng);
    let sessions = class_sessions(rng, &classes, size);
    // About one session in six is voided; packages are sized by the rest.
    let voided: Vec<bool> = sessions.iter().map(|_| rng.random_ratio(1, 6)).collect();
    let live: Vec<Sess> = (sessions.iter().zip(&voided))
        .filter(|(_, v)| !**v)
        .map(|(s, _)| s.clone())
        .collect();
    let (packages, late) = packages_for(&live, zone);
    let mut n = 0;
    let mut event = |rng: &mut StdRng, prefix: &str, ev: Ev| {
        n += 1;
        Event::new(rng, format!("{prefix}-{n}"), ev)
    };
    let (mut front, mut middle, mut back) = (Vec::new(), Vec::new(), Vec::new());
    let registration = event(
        rng,
        "reg",
        Ev::Register {
            owner: OWNER,
            name: None,
            zone: Some(zone),
        },
    );
    let mut last = None;
    match first {
        Placement::First => front.push(registration),
        Placement::Between => middle.push(registration),
        Placement::Last => last = Some(registration),
    }
    for class in &classes {
        let mut facts = Vec::new();
        if matches!(class.known, Known::Both | Known::StartOnly) {
            facts.push(Ev::Started {
                class: class.id.to_owned(),
                name: class.name.clone(),
                start: class.start,
            });
        }
        if matches!(class.known, Known::Both | Known::EndOnly) {
            facts.push(Ev::Ended {
                class: class.id.to_owned(),
                end: class.end,
            });
        }
        for fact in facts {
            let e = event(rng, "fact", fact);
            match class.id {
                "math-101" | "Zeta-4" | "c-6" => front.push(e),
                "Art_2" | "0-open" | "hist-13" => back.push(e),
                _ => middle.push(e),
            }
        }
    }
    for (session, voided) in sessions.into_iter().zip(voided) {
        let e = event(rng, "session", Ev::Session(session));
        if voided {
            // Shuffled with the rest: before its session as often as after,
            // sometimes twice (two voids of one session take it back once).
            let twice = rng.random_ratio(1, 4);
            for _ in 0..=usize::from(twice) {
                let void = Ev::Void {
                    voided: e.id.clone(),
                };
                middle.push(event(rng, "void", void));
            }
        }
        middle.push(e);
    }
    // A void of an event that never arrives changes nothing.
    middle.push(event(
        rng,
        "void",
        Ev::Void {
            voided: "never-sent".into(),
        },
    ));
    for package in packages {
        middle.push(event(rng, "pkg", Ev::Package(package)));
    }
    // A large package over every day, refunded (twice), its refunds
    // shuffled with its purchase: the deduction is as if it never was. And
    // a refund of a package never bought.
    let refunded = Pkg {
        id: "pkg-refunded".into(),
        name: "Refunded 退款".into(),
        minutes: 1_000_000,
        from: first_class_day() - 1,
        to: first_class_day() + 60,
    };
    for _ in 0..2 {
        let refund = Ev::Refund {
            package: refunded.id.clone(),
        };
        middle.push(event(rng, "refund", refund));
    }
    middle.push(event(rng, "pkg", Ev::Package(refunded)));
    let never = Ev::Refund {
        package: "pkg-never-bought".into(),
    };
    middle.push(event(rng, "refund", never));
    // A named registration; with the zone registration last, it comes last
    // too (before it, nothing may register the app in another zone).
    let named = event(
        rng,
        "reg",
        Ev::Register {
            owner: OWNER,
            name: Some("Lcic 教室 \"A\"".to_owned()),
            zone: Some(zone),
        },
    );
    match first {
        Placement::Last => back.push(named),
        _ => middle.push(named),
    }
    middle.shuffle(rng);
    back.push(event(rng, "pkg", Ev::Package(late)));
    if size.rename {
        back.push(event(
            rng,
            "reg",
            Ev::Register {
                owner: OWNER,
                name: Some("Renamed later".to_owned()),
                zone: None,
            },
        ));
    }
    front.extend(middle);
    front.extend(back);
    if let Some(registration) = last {
        // Its own name-less registration first in order, the rest after:
        // the zone comes with the first registration to arrive.
        let at = front.len() - usize::from(size.rename) - 1;
        front.insert(at, registration);
    }
    front
}

fn world_of(events: &[Event]) -> World {
    let mut world = World::default();
    for e in events {
        world
            .apply(&e.id, &e.ev)
            .unwrap_or_else(|why| panic!("the workload conflicts with itself: {why}: {e:?}"));
    }
    world
}

/// The workload exercises what it claims to: otherwise a passing comparison
/// would prove little.
fn assert_rich(world: &World) {
    let r = Reference::of(world);
    let classes: BTreeSet<&str> = r.rows.iter().map(|row| row.class.as_str()).collect();
    let days: BTreeSet<i64> = r.rows.iter().map(|row| row.day).collect();
    assert!(classes.len() >= 8, "{classes:?}");
    assert!(days.len() >= 5, "{days:?}");
    assert!(
        r.rows.iter().any(|row| row.charges.len() >= 2),
        "a row paid by two packages"
    );
    assert!(
        r.rows
            .iter()
            .any(|row| !row.charges.is_empty() && row.paid_by_packages() < row.billable()),
        "packages running out in the middle of a row"
    );
    assert!(
        r.rows.iter().any(|row| row.charges.is_empty()),
        "a row nothing paid for"
    );
    let today = now().0.div_euclid(DAY_MS);
    let statuses: BTreeSet<&str> = (0..r.packages.len()).map(|i| r.status(i, today)).collect();
    assert_eq!(
        statuses,
        BTreeSet::from(["Active", "Exhausted", "Expired", "NotStarted", "Refunded"]),
        "every status"
    );
    let mut classes_of_user: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    let mut live: BTreeMap<(&str, &str, i64), usize> = BTreeMap::new();
    for s in world.live() {
        classes_of_user.entry(&s.user).or_default().insert(&s.class);
        if !s.playback {
            *live
                .entry((&s.class, &s.user, s.start.div_euclid(DAY_MS)))
                .or_default() += 1;
        }
    }
    assert!(
        classes_of_user.values().any(|c| c.len() >= 3),
        "a user in several classes"
    );
    assert!(live.values().any(|n| *n >= 2), "a user rejoining a class");
    // Voids that take a user out of a row others stay in, and a whole row.
    let unvoided = World {
        voided: HashSet::new(),
        ..world.clone()
    };
    let users = |r: &Reference| -> BTreeMap<(i64, String, bool), usize> {
        r.rows
            .iter()
            .map(|row| ((row.day, row.class.clone(), row.playback), row.users.len()))
            .collect()
    };
    let (before, after) = (users(&Reference::of(&unvoided)), users(&r));
    assert!(
        after.iter().any(|(row, n)| before[row] > *n),
        "a user whose every session in a row was voided, in a row that stays"
    );
    assert!(
        before.keys().any(|row| !after.contains_key(row)),
        "a row whose every session was voided"
    );
}

/// Batches of 1–10 messages, in order.
fn batches(rng: &mut StdRng, len: usize) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < len {
        let k = rng.random_range(1..=10).min(len - i);
        out.push(i..i + k);
        i += k;
    }
    out
}

fn messages(prefix: &str, events: &[Event]) -> Vec<InboundMessage> {
    events
        .iter()
        .enumerate()
        .map(|(j, e)| InboundMessage {
            message_id: format!("{prefix}-{j}"),
            body: Some(e.body.clone()),
        })
        .collect()
}

/// Feeds the workload in random batches, comparing every answer with the
/// reference after the batches `check` picks (given the batch index and the
/// number of batches); the rollup runs every few batches.
async fn run_oracle(seed: u64, size: Size, check: impl Fn(usize, usize) -> bool) {
    run_oracle_in(seed, size, "UTC", Placement::First, check).await;
}

/// [`run_oracle`] for an app in `zone`, its first registration placed as
/// `first`.
async fn run_oracle_in(
    seed: u64,
    size: Size,
    zone: &'static str,
    first: Placement,
    check: impl Fn(usize, usize) -> bool,
) {
    let started = Instant::now();
    let store = fresh_store().await;
    let mut rng = rng(seed);
    let events = scenario_in(&mut rng, size, zone, first);
    let whole = world_of(&events);
    let batches = batches(&mut rng, events.len());
    let mut world = World::default();
    let (mut checks, mut compared) = (0, 0);
    let bus = RecordingBus::new();
    // Every low or exhausted condition that held after some batch, with the
    // minutes left then: raised once, in that batch, and never again.
    let mut raised: BTreeMap<(&'static str, String), u64> = BTreeMap::new();
    for (b, range) in batches.iter().enumerate() {
        let batch = &events[range.clone()];
        let report = ingest_batch(
            &store,
            &messages(&format!("m{b}"), batch),
            now(),
            fast_retry(),
        )
        .await;
        assert!(
            report.failures.is_empty(),
            "batch {b}: {:?}",
            report.failures
        );
        let alerts = check_alerts(&store, &bus, &report).await;
        assert!(alerts.unfinished.is_empty(), "batch {b}: {alerts:?}");
        // A session counts unless a void of it came in an earlier batch (in
        // one batch, sessions count before voids apply); every void is
        // applied once, the rest of its deliveries are duplicates.
        let voided_before = |e: &&Event| world.voided.contains(&e.id);
        let sessions = batch.iter().filter(|e| e.is_session()).count();
        let arrived_voided = batch
            .iter()
            .filter(|e| e.is_session())
            .filter(voided_before)
            .count();
        let voids = batch
            .iter()
            .filter(|e| matches!(e.ev, Ev::Void { .. }))
            .count();
        assert_eq!(
            (
                report.counted,
                report.facts,
                report.voids + report.duplicates
            ),
            (
                sessions - arrived_voided,
                batch.len() - sessions - voids,
                voids + arrived_voided
            ),
            "batch {b}: every session counted, every void applied, every other event taken in"
        );
        for e in batch {
            world.apply(&e.id, &e.ev).unwrap();
        }
        if world.owner.is_some() {
            for (key, remaining) in Reference::of(&world).alert_conditions() {
                raised.entry(key).or_insert(remaining);
            }
        }
        if b % 4 == 3 {
            rollup(&store).await;
        }
        if check(b, batches.len()) {
            compared += check_all(&store, &world, "c-6", &format!("after batch {b}")).await;
            compared += check_alerts_answer(&store, &world, &bus, &raised, b).await;
            checks += 1;
        }
    }
    assert_eq!(world.session_count(), whole.session_count());
    assert!(
        raised.keys().any(|(kind, _)| *kind == "PackageLow")
            && raised.keys().any(|(kind, _)| *kind == "PackageExhausted"),
        "the workload runs packages low and out: {raised:?}"
    );
    rollup(&store).await;
    compared += check_all(&store, &world, "math-101", "at the end, after a rollup").await;
    println!(
        "seed {seed}, {zone}, registration {first:?}: {} events ({} sessions) in {} batches, \
         {} rows; {checks} checkpoints, {compared} answers compared; {:.1?}",
        events.len(),
        world.session_count(),
        batches.len(),
        Reference::of(&world).rows.len(),
        started.elapsed()
    );
}

/// `DescribeAlerts` against the reference's low and exhausted alerts, each
/// raised in the batch its condition first held, with the minutes left
/// then; and the bus, which took each listed alert (and nothing else) with
/// every field of the answer.
async fn check_alerts_answer<S: UsageStore + AlertStore>(
    store: &S,
    world: &World,
    bus: &RecordingBus,
    raised: &BTreeMap<(&'static str, String), u64>,
    b: usize,
) -> usize {
    if world.owner.is_none() {
        assert!(
            bus.taken().is_empty(),
            "batch {b}: no alert before the registration"
        );
        return 0;
    }
    let pairs = [
        ("Action", "DescribeAlerts".to_owned()),
        ("AppId", APP.to_owned()),
    ];
    let got: Value = serde_json::from_str(&ask(store, &pairs).await.unwrap()).unwrap();
    let listed = got["Alerts"].as_array().unwrap();
    let minutes_driven: BTreeMap<(&'static str, String), u64> = listed
        .iter()
        .filter(|a| a["Kind"] != "PackageExpiring")
        .map(|a| {
            let kind = if a["Kind"] == "PackageLow" {
                "PackageLow"
            } else {
                "PackageExhausted"
            };
            let package = a["PackageId"].as_str().unwrap().to_owned();
            ((kind, package), a["RemainingMinutes"].as_u64().unwrap())
        })
        .collect();
    assert_eq!(&minutes_driven, raised, "batch {b}: alerts");
    let zone = world.local();
    let mut ids = BTreeSet::new();
    for alert in listed {
        assert_eq!(alert["RaisedAt"], zone.text(now().0), "batch {b}");
        assert!(
            ids.insert(alert["AlertId"].as_str().unwrap().to_owned()),
            "batch {b}: one id each"
        );
    }
    // The bus took each alert once (no fault here), with the answer's fields.
    let taken = bus.taken();
    assert_eq!(taken.len(), listed.len(), "batch {b}: {taken:?}");
    for detail in taken {
        let alert = listed
            .iter()
            .find(|a| a["AlertId"] == detail["AlertId"])
            .unwrap_or_else(|| panic!("batch {b}: {detail} was never listed"));
        let mut want = alert.clone();
        want["AppId"] = json!(APP);
        want["OwnerAccountId"] = json!(OWNER);
        assert_eq!(detail, want, "batch {b}");
    }
    1
}

/// A small workload (every class, one or two users each), every answer
/// compared after every batch: each acknowledged event shows in the very
/// next answer of every action, package deduction included, whichever of
/// facts, sessions and packages came first.
#[tokio::test]
async fn small_workload_matches_the_reference_after_every_batch() {
    run_oracle(101, SMALL, |_, _| true).await;
}

/// The small workload for apps in other zones, every answer compared after
/// every batch: rows of local days, trends of local hours and days (New
/// York's 23- and 25-hour days, Kolkata's and Kathmandu's hours at :30 and
/// :15), instants with the zone's offset, packages on local dates. Usage
/// that arrives before the registration is parked and, once the
/// registration fixes the zone, counted in it.
#[tokio::test]
async fn small_workloads_in_other_zones_match_the_reference_after_every_batch() {
    for (seed, zone, first) in [
        (111, "Asia/Shanghai", Placement::Between),
        (112, "America/New_York", Placement::Last),
        (113, "Asia/Kolkata", Placement::First),
        (114, "Asia/Kathmandu", Placement::Between),
    ] {
        run_oracle_in(seed, SMALL, zone, first, |_, _| true).await;
    }
}

/// Hundreds of sessions over sixteen classes and nine days, compared at a
/// handful of checkpoints: every row, user count, duration, deduction and
/// package balance equals the reference.
#[tokio::test]
async fn large_workload_matches_the_reference_at_checkpoints() {
    let size = Size {
        users: (5, 12),
        rejoins: 3,
        playback: 0.4,
        rename: true,
    };
    let mut probe = rng(202);
    let whole = world_of(&scenario(&mut probe, size));
    assert!(whole.session_count() >= 300, "{}", whole.session_count());
    assert_rich(&whole);
    run_oracle(202, size, |b, n| (b + 1) % (n / 4).max(1) == 0).await;
}

/// Every event delivered one to three times, in random order and batches,
/// through a store that fails before and after commits, throttles, and
/// answers the duplicate pre-check stale; whatever is reported failed is
/// redelivered until acknowledged, as SQS does. The answers then equal the
/// reference of each event counted once.
#[tokio::test]
async fn every_event_counts_once_through_duplicates_reordering_and_faults() {
    let started = Instant::now();
    let plan = FaultPlan {
        fail_before_per_mille: 100,
        fail_after_per_mille: 150,
        throttle_per_mille: 100,
        stale_reads_per_mille: 300,
        seed: 4242,
    };
    let store = FaultyStore::new(fresh_store().await, plan);
    let mut rng = rng(303);
    let size = Size {
        users: (3, 8),
        rejoins: 2,
        playback: 0.3,
        // Which of two names came first would depend on the delivery order.
        rename: false,
    };
    // In Kolkata, its registration shuffled among the rest: usage parked
    // before it, counted in place after it, through every fault.
    let events = scenario_in(&mut rng, size, "Asia/Kolkata", Placement::Between);
    let world = world_of(&events);
    assert_rich(&world);
    let bodies: Vec<String> = events.iter().map(|e| e.body.clone()).collect();
    let deliveries = with_duplicates(&mut rng, &bodies);
    let total = deliveries.len();
    let out = deliver(&store, &mut rng, deliveries, 10, now()).await;
    assert!(out.invalid.is_empty(), "{:?}", out.invalid);
    // A commit whose reply was lost counts its sessions, yet the invocation
    // reports them failed and their redelivery finds them counted: the
    // answers below, not this tally, show that each counted exactly once.
    assert!(out.counted <= world.session_count(), "{}", out.counted);
    assert!(out.redeliveries > 0, "faults forced redeliveries");
    let counts = &store.counts;
    for (what, n) in [
        ("failures after a commit", &counts.failed_after),
        ("failures before a call", &counts.failed_before),
        ("throttling", &counts.throttled),
        ("stale pre-check reads", &counts.stale_reads),
    ] {
        assert!(n.load(Ordering::Relaxed) > 10, "{what} were injected");
    }
    rollup(store.inner()).await;
    let compared = check_all(store.inner(), &world, "c-6", "after every delivery").await;
    println!(
        "{} events, {total} deliveries, {} invocations, {} redeliveries; {compared} answers \
         compared; {:.1?}",
        events.len(),
        out.invocations,
        out.redeliveries,
        started.elapsed()
    );
}

// ---------------------------------------------------------------------------
// Invalid and conflicting events.

/// `base` with `overrides` applied; a null override removes the field.
fn with(base: Value, overrides: Value) -> Value {
    let mut data = base;
    for (k, v) in overrides.as_object().unwrap() {
        if v.is_null() {
            data.as_object_mut().unwrap().remove(k);
        } else {
            data[k] = v.clone();
        }
    }
    data
}

fn session_data(overrides: Value) -> Value {
    with(
        json!({"appId": APP, "classId": "k-new", "userId": "u-1", "role": "student",
               "usageType": "interactive", "startTime": "2026-11-22T10:00:00Z",
               "endTime": "2026-11-22T10:30:00Z"}),
        overrides,
    )
}

fn started_data(overrides: Value) -> Value {
    with(
        json!({"appId": APP, "classId": "k-new", "className": "New",
               "startTime": "2026-11-22T10:00:00Z"}),
        overrides,
    )
}

fn ended_data(overrides: Value) -> Value {
    with(
        json!({"appId": APP, "classId": "k-new", "endTime": "2026-11-22T11:00:00Z"}),
        overrides,
    )
}

fn package_data(overrides: Value) -> Value {
    with(
        json!({"appId": APP, "packageId": "pkg-new", "packageName": "New", "minutes": 60,
               "validFrom": "2026-11-20", "validTo": "2026-11-30"}),
        overrides,
    )
}

/// Events the decoder refuses: (label, type, data).
fn malformed() -> Vec<(&'static str, &'static str, Value)> {
    let session = "rtc.class.session";
    let started = "rtc.class.started";
    let ended = "rtc.class.ended";
    let package = "rtc.package.purchased";
    let registered = "rtc.app.registered";
    vec![
        (
            "session ending before it starts",
            session,
            session_data(json!({"endTime": "2026-11-22T09:00:00Z"})),
        ),
        (
            "session ending as it starts",
            session,
            session_data(json!({"endTime": "2026-11-22T10:00:00Z"})),
        ),
        (
            "session inside one millisecond",
            session,
            session_data(
                json!({"startTime": "2026-11-22T10:00:00.0001Z", "endTime": "2026-11-22T10:00:00.0009Z"}),
            ),
        ),
        (
            "role capitalised",
            session,
            session_data(json!({"role": "Teacher"})),
        ),
        (
            "role unknown",
            session,
            session_data(json!({"role": "observer"})),
        ),
        (
            "usageType as answers spell it",
            session,
            session_data(json!({"usageType": "Interactive"})),
        ),
        (
            "usageType unknown",
            session,
            session_data(json!({"usageType": "live"})),
        ),
        (
            "userId with a control character",
            session,
            session_data(json!({"userId": "u\u{7}1"})),
        ),
        (
            "userId with a C1 control character",
            session,
            session_data(json!({"userId": "u\u{85}1"})),
        ),
        (
            "userId of 129 characters",
            session,
            session_data(json!({"userId": "é".repeat(129)})),
        ),
        ("userId empty", session, session_data(json!({"userId": ""}))),
        (
            "userId missing",
            session,
            session_data(json!({"userId": null})),
        ),
        (
            "userId a number",
            session,
            session_data(json!({"userId": 7})),
        ),
        (
            "classId with a space",
            session,
            session_data(json!({"classId": "k new"})),
        ),
        (
            "classId of 65 characters",
            session,
            session_data(json!({"classId": "k".repeat(65)})),
        ),
        (
            "classId missing",
            session,
            session_data(json!({"classId": null})),
        ),
        (
            "appId malformed",
            session,
            session_data(json!({"appId": "lcic app"})),
        ),
        (
            "session longer than 48 hours",
            session,
            session_data(
                json!({"startTime": "2026-11-20T10:00:00Z", "endTime": "2026-11-22T10:00:00.001Z"}),
            ),
        ),
        (
            "session ending more than 5 minutes ahead",
            session,
            session_data(
                json!({"startTime": "2026-11-23T12:00:00Z", "endTime": "2026-11-23T12:05:01Z"}),
            ),
        ),
        (
            "session starting more than 366 days ago",
            session,
            session_data(
                json!({"startTime": "2025-11-22T11:59:59Z", "endTime": "2025-11-22T12:30:00Z"}),
            ),
        ),
        (
            "session startTime an epoch number",
            session,
            session_data(json!({"startTime": 1795428000})),
        ),
        (
            "className with a newline",
            started,
            started_data(json!({"className": "Line\nbreak"})),
        ),
        (
            "className of 129 characters",
            started,
            started_data(json!({"className": "课".repeat(129)})),
        ),
        (
            "className missing",
            started,
            started_data(json!({"className": null})),
        ),
        (
            "class starting more than 5 minutes ahead",
            started,
            started_data(json!({"startTime": "2026-11-23T12:05:01Z"})),
        ),
        (
            "class ending more than 366 days ago",
            ended,
            ended_data(json!({"endTime": "2025-11-22T11:59:59Z"})),
        ),
        (
            "class endTime not RFC 3339",
            ended,
            ended_data(json!({"endTime": "2026-11-22 11:00:00"})),
        ),
        (
            "packageName with a NUL",
            package,
            package_data(json!({"packageName": "a\u{0}b"})),
        ),
        (
            "packageId with a slash",
            package,
            package_data(json!({"packageId": "pkg/1"})),
        ),
        ("minutes 0", package, package_data(json!({"minutes": 0}))),
        (
            "minutes over 100,000,000",
            package,
            package_data(json!({"minutes": 100_000_001})),
        ),
        (
            "minutes fractional",
            package,
            package_data(json!({"minutes": 1.5})),
        ),
        (
            "minutes a string",
            package,
            package_data(json!({"minutes": "60"})),
        ),
        (
            "minutes negative",
            package,
            package_data(json!({"minutes": -5})),
        ),
        (
            "validTo before validFrom",
            package,
            package_data(json!({"validFrom": "2026-11-20", "validTo": "2026-11-19"})),
        ),
        (
            "validTo 367 days after validFrom",
            package,
            package_data(json!({"validFrom": "2026-11-20", "validTo": "2027-11-22"})),
        ),
        (
            "validFrom before the UTC date of 367 days ago",
            package,
            package_data(json!({"validFrom": "2025-11-20", "validTo": "2026-01-01"})),
        ),
        (
            "validFrom not a real date",
            package,
            package_data(json!({"validFrom": "2026-02-30"})),
        ),
        (
            "validFrom not zero-padded",
            package,
            package_data(json!({"validFrom": "2026-11-5"})),
        ),
        (
            "validFrom a date-time",
            package,
            package_data(json!({"validFrom": "2026-11-20T00:00:00Z"})),
        ),
        (
            "appName with a tab",
            registered,
            json!({"appId": APP, "ownerAccountId": OWNER, "appName": "a\tb"}),
        ),
        (
            "appName of 129 characters",
            registered,
            json!({"appId": APP, "ownerAccountId": OWNER, "appName": "名".repeat(129)}),
        ),
        ("unknown type", "rtc.class.paused", started_data(json!({}))),
    ]
}

/// What a batch of the corpus holds.
enum Item {
    /// Taken in, or counted.
    Valid(Event),
    /// Refused because of what is stored: the reference refuses it too.
    Conflict(&'static str, Event),
    /// Refused by the decoder.
    Malformed(&'static str, String, String),
}

/// Refused events, mixed with valid ones in the same batches: each refused
/// one is reported with its message id, kind Invalid and a reason, and
/// nothing of it is applied (every answer equals the reference of the valid
/// events alone); the valid events of the same batches are counted or taken
/// in. Some conflicts only the store can see: a second className or
/// startTime for a class, an end not after a stored start and the other way
/// round, a package id reused with other minutes, name or dates, an app
/// registered to another account.
#[tokio::test]
async fn malformed_and_conflicting_events_are_refused_and_change_nothing() {
    let started_at = Instant::now();
    let store = fresh_store().await;
    let mut rng = rng(404);
    let t = |text: &str| at(text).0;
    let (t1, e2, t3, e3) = (
        t("2026-11-20T09:00:00Z") + 250,
        t("2026-11-20T12:00:00Z") + 500,
        t("2026-11-21T10:00:00Z"),
        t("2026-11-21T11:00:00Z"),
    );
    let session = |class: &str, user: &str, start: i64, minutes: i64, playback: bool| {
        Ev::Session(Sess {
            class: class.to_owned(),
            user: user.to_owned(),
            role: "student",
            playback,
            start,
            end: start + minutes * MINUTE_MS + 7,
        })
    };
    let started = |class: &str, name: &str, start: i64| Ev::Started {
        class: class.to_owned(),
        name: name.to_owned(),
        start,
    };
    let ended = |class: &str, end: i64| Ev::Ended {
        class: class.to_owned(),
        end,
    };
    let package = |id: &str, name: &str, minutes: u64, from: &str, to: &str| {
        Ev::Package(Pkg {
            id: id.to_owned(),
            name: name.to_owned(),
            minutes,
            from: day_number(from),
            to: day_number(to),
        })
    };
    let base_package = || package("pkg-1", "Base", 100, "2026-11-01", "2026-11-30");

    // First what the conflicts are about: a class with only a start, one
    // with only an end, one with both, a package, the app (without a name).
    let base: Vec<Ev> = vec![
        Ev::Register {
            owner: OWNER,
            name: None,
            zone: None,
        },
        started("k-started", "Started", t1),
        ended("k-ended", e2),
        started("k-both", "Both", t3),
        ended("k-both", e3),
        base_package(),
        session("k-started", "u-1", t1, 50, false),
        session("k-started", "u-2", t1 + 60_000, 30, false),
        session("k-ended", "u-1", e2 - HOUR_MS, 45, false),
        session("k-both", "u-3", t3, 61, false),
        session("k-both", "u-1", t3 + 5 * MINUTE_MS, 20, true),
    ];
    let base: Vec<Event> = base
        .into_iter()
        .enumerate()
        .map(|(i, ev)| Event::new(&mut rng, format!("base-{i}"), ev))
        .collect();
    let mut world = World::default();
    let report = ingest_batch(&store, &messages("base", &base), now(), fast_retry()).await;
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    for e in &base {
        world.apply(&e.id, &e.ev).unwrap();
    }

    let conflicts: Vec<(&str, Ev)> = vec![
        ("another className", started("k-started", "Renamed", t1)),
        (
            "a startTime 1 ms later",
            started("k-started", "Started", t1 + 1),
        ),
        ("an end equal to the stored start", ended("k-started", t1)),
        (
            "an end before the stored start",
            ended("k-started", t1 - 1_000),
        ),
        (
            "a start equal to the stored end",
            started("k-ended", "Ended", e2),
        ),
        (
            "a start after the stored end",
            started("k-ended", "Ended", e2 + HOUR_MS),
        ),
        ("another endTime", ended("k-both", e3 + 1_000)),
        (
            "another name and start",
            started("k-both", "Other", t3 - HOUR_MS),
        ),
        (
            "a package with other minutes",
            package("pkg-1", "Base", 101, "2026-11-01", "2026-11-30"),
        ),
        (
            "a package with another name",
            package("pkg-1", "Renamed", 100, "2026-11-01", "2026-11-30"),
        ),
        (
            "a package with another validFrom",
            package("pkg-1", "Base", 100, "2026-11-02", "2026-11-30"),
        ),
        (
            "a package with another validTo",
            package("pkg-1", "Base", 100, "2026-11-01", "2026-11-29"),
        ),
        (
            "the app registered to another account",
            Ev::Register {
                owner: OTHER_ACCOUNT,
                name: Some("Hijack".to_owned()),
                zone: None,
            },
        ),
    ];
    let valid: Vec<Ev> = vec![
        session("k-started", "u-4", t1 + 2 * MINUTE_MS, 40, false),
        session("k-ended", "u-2", e2 - 50 * MINUTE_MS, 10, false),
        session("k-both", "u-4", t3 + DAY_MS, 15, true),
        session(
            "k-new",
            &"名".repeat(128),
            t("2026-11-22T10:00:00Z"),
            30,
            false,
        ),
        session("k-new", "🙂", t("2026-11-22T10:10:00Z") + 1, 25, false),
        session("k-new", "u-1", t("2026-11-22T23:50:00Z"), 20, false),
        session("k-none", "u-5", t("2026-11-22T08:00:00Z"), 12, false),
        // The longest name there is, and the same start again (any offset).
        started("k-new", &"新".repeat(128), t("2026-11-22T10:00:00Z")),
        started("k-both", "Both", t3),
        // One millisecond after the start is after it.
        ended("k-started", t1 + 1),
        // The same package again; the most minutes a package may hold; the
        // longest validity, from the earliest day allowed.
        base_package(),
        package("pkg-max", "Max", 100_000_000, "2026-11-22", "2026-11-22"),
        package("pkg-longest", "Longest", 5, "2025-11-22", "2026-11-23"),
        Ev::Register {
            owner: OWNER,
            name: Some("Real name 名".to_owned()),
            zone: None,
        },
        Ev::Register {
            owner: OWNER,
            name: None,
            zone: None,
        },
    ];
    let conflict_count = conflicts.len();
    let mut items: Vec<Item> = Vec::new();
    for (i, ev) in valid.into_iter().enumerate() {
        items.push(Item::Valid(Event::new(&mut rng, format!("ok-{i}"), ev)));
    }
    for (i, (label, ev)) in conflicts.into_iter().enumerate() {
        items.push(Item::Conflict(
            label,
            Event::new(&mut rng, format!("conflict-{i}"), ev),
        ));
    }
    let corpus = malformed();
    let refused = corpus.len() + conflict_count;
    assert!(refused >= 30);
    for (i, (label, kind, data)) in corpus.into_iter().enumerate() {
        let id = format!("bad-{i}");
        items.push(Item::Malformed(
            label,
            id.clone(),
            envelope(&id, kind, data),
        ));
    }
    // A field given twice is refused, not resolved either way.
    let twice = r#"{"specversion":"1.0","id":"bad-twice","source":"/lcic/classroom","type":"rtc.class.session","data":{"appId":"lcic-app","classId":"k-new","userId":"u-1","userId":"u-2","role":"student","usageType":"interactive","startTime":"2026-11-22T10:00:00Z","endTime":"2026-11-22T10:30:00Z"}}"#;
    items.push(Item::Malformed(
        "userId given twice",
        "bad-twice".into(),
        twice.into(),
    ));
    items.shuffle(&mut rng);

    let mut start = 0;
    let mut batch_no = 0;
    let mut reported = 0;
    while start < items.len() {
        let k = rng.random_range(1..=10).min(items.len() - start);
        let batch = &items[start..start + k];
        start += k;
        batch_no += 1;
        let messages: Vec<InboundMessage> = batch
            .iter()
            .enumerate()
            .map(|(j, item)| InboundMessage {
                message_id: format!("b{batch_no}-{j}"),
                body: Some(match item {
                    Item::Valid(e) | Item::Conflict(_, e) => e.body.clone(),
                    Item::Malformed(_, _, body) => body.clone(),
                }),
            })
            .collect();
        let report = ingest_batch(&store, &messages, now(), fast_retry()).await;
        let mut expected_failures = BTreeMap::new();
        let mut sessions = 0;
        for (j, item) in batch.iter().enumerate() {
            let message_id = format!("b{batch_no}-{j}");
            match item {
                Item::Valid(e) => {
                    world
                        .apply(&e.id, &e.ev)
                        .unwrap_or_else(|why| panic!("{e:?} is valid: {why}"));
                    sessions += usize::from(e.is_session());
                }
                Item::Conflict(label, e) => {
                    assert!(
                        world.clone().apply(&e.id, &e.ev).is_err(),
                        "the reference sees the conflict too: {label}"
                    );
                    expected_failures.insert(message_id, (*label, e.id.clone()));
                }
                Item::Malformed(label, id, _) => {
                    expected_failures.insert(message_id, (*label, id.clone()));
                }
            }
        }
        let mut failures = BTreeMap::new();
        for failure in &report.failures {
            let (label, id) = expected_failures
                .get(&failure.message_id)
                .unwrap_or_else(|| panic!("a valid event was refused: {failure:?}"));
            assert_eq!(failure.kind, FailureKind::Invalid, "{label}: {failure:?}");
            assert!(!failure.reason.is_empty(), "{label}: a reason");
            assert_eq!(failure.event_id.as_ref(), Some(id), "{label}: its event id");
            assert!(
                failures.insert(failure.message_id.clone(), label).is_none(),
                "{label}: reported once"
            );
        }
        let missing: Vec<_> = expected_failures
            .iter()
            .filter(|(m, _)| !failures.contains_key(*m))
            .map(|(_, (label, _))| label)
            .collect();
        assert!(
            missing.is_empty(),
            "batch {batch_no}: not refused: {missing:?}"
        );
        assert_eq!(
            report.counted, sessions,
            "batch {batch_no}: valid sessions counted"
        );
        reported += failures.len();
        check_all(
            &store,
            &world,
            "k-started",
            &format!("after corpus batch {batch_no}"),
        )
        .await;
    }
    assert_eq!(reported, refused + 1);
    // Nothing of the conflicting registration: the owner and the name are
    // the valid ones.
    let app = rtc_usage::domain::ids::AppId::parse(APP).unwrap();
    let registration = store.registration(&app).await.unwrap().unwrap();
    assert_eq!(registration.owner.as_str(), OWNER);
    assert_eq!(
        registration.name.map(|n| n.as_str().to_owned()),
        world.app_name
    );
    println!(
        "{reported} refused events in {batch_no} batches; {:.1?}",
        started_at.elapsed()
    );
}

// ---------------------------------------------------------------------------
// Pages and filters.

/// 130 rows (13 classes × 5 days × 2 usage types): a page of 100 rows is
/// full and the next holds the rest; a page past the end is empty, with
/// TotalCount and Summary of all the rows; a class with no rows in the window
/// answers no rows and zero sums.
#[tokio::test]
async fn pages_of_up_to_100_rows_past_the_end_and_a_class_without_rows() {
    let store = fresh_store().await;
    let mut rng = rng(505);
    let mut events = vec![Event::new(
        &mut rng,
        "reg".into(),
        Ev::Register {
            owner: OWNER,
            name: Some("Pages".into()),
            zone: None,
        },
    )];
    events.push(Event::new(
        &mut rng,
        "pkg".into(),
        Ev::Package(Pkg {
            id: "pkg-p".into(),
            name: "Paging".into(),
            minutes: 900,
            from: day_number("2026-11-16"),
            to: day_number("2026-11-19"),
        }),
    ));
    for class in 0..13 {
        let id = format!("class-{class:02}");
        if class % 3 == 0 {
            let start = at("2026-11-15T08:00:00Z").0 + class * 7_919;
            events.push(Event::new(
                &mut rng,
                format!("start-{class}"),
                Ev::Started {
                    class: id.clone(),
                    name: format!("Class {class}"),
                    start,
                },
            ));
        }
        for day in 0..5 {
            for playback in [false, true] {
                let start = (first_class_day() + day) * DAY_MS + rng.random_range(0..20 * HOUR_MS);
                let user = format!("user-{}", rng.random_range(0..5));
                let end = start + rng.random_range(1..3 * HOUR_MS);
                events.push(Event::new(
                    &mut rng,
                    format!("s-{class}-{day}-{playback}"),
                    Ev::Session(Sess {
                        class: id.clone(),
                        user,
                        role: "student",
                        playback,
                        start,
                        end,
                    }),
                ));
            }
        }
    }
    events.shuffle(&mut rng);
    let mut world = World::default();
    for (b, chunk) in events.chunks(10).enumerate() {
        let report = ingest_batch(
            &store,
            &messages(&format!("p{b}"), chunk),
            now(),
            fast_retry(),
        )
        .await;
        assert!(report.failures.is_empty(), "{:?}", report.failures);
        for e in chunk {
            world.apply(&e.id, &e.ev).unwrap();
        }
    }
    let reference = Reference::of(&world);
    let (first, last) = WHOLE.days(world.local());
    let rows = reference.window(first, last, None);
    assert_eq!(rows.len(), 130);
    for page in [1, 2] {
        let got = ask(&store, &details_params(WHOLE, None, Some(page), Some(100)))
            .await
            .unwrap();
        let want = reference.details(&world, &rows, page, 100);
        assert_json(&got, &want, &format!("page {page} of 100"));
        let records = parse_j(&got);
        let J::Obj(fields) = records else { panic!() };
        let J::Arr(records) = &fields["Records"] else {
            panic!()
        };
        assert_eq!(records.len(), if page == 1 { 100 } else { 30 });
    }
    // Past the end: no records, the count and the sums of them all.
    for page in [3, 100_000] {
        let got = ask(&store, &details_params(WHOLE, None, Some(page), Some(100)))
            .await
            .unwrap();
        let want = reference.details(&world, &rows, page, 100);
        assert_json(&got, &want, &format!("page {page}, past the end"));
    }
    // The default page: 20 rows, and PageSize says so.
    let got = ask(&store, &details_params(WHOLE, None, None, None))
        .await
        .unwrap();
    assert_json(
        &got,
        &reference.details(&world, &rows, 1, 20),
        "the default page",
    );
    // A class with no rows at all, and one with rows outside the window only.
    let empty = reference.details(&world, &[], 1, 20);
    for (class, window) in [
        ("no-such-class", WHOLE),
        (
            "class-04",
            Window {
                start: "2026-11-01T00:00:00Z",
                end: "2026-11-15T00:00:00Z",
            },
        ),
    ] {
        let got = ask(&store, &details_params(window, Some(class), None, None))
            .await
            .unwrap();
        assert_json(
            &got,
            &empty,
            &format!("{class} in [{}, {})", window.start, window.end),
        );
    }
    // One class's rows across the page boundary of the whole list.
    let got = ask(
        &store,
        &details_params(WHOLE, Some("class-09"), Some(1), Some(100)),
    )
    .await
    .unwrap();
    let class_rows = reference.window(first, last, Some("class-09"));
    assert_eq!(class_rows.len(), 10);
    assert_json(
        &got,
        &reference.details(&world, &class_rows, 1, 100),
        "class-09",
    );
}

/// A session may end up to five minutes after "now", so just before
/// midnight a row of the next day exists already. A package pays for it like
/// for any row: UsedMinutes counts what every row took.
#[tokio::test]
async fn a_row_of_the_next_day_draws_on_packages_too() {
    let store = fresh_store().await;
    let late_now = at("2026-11-23T23:58:00Z");
    let mut rng = rng(606);
    let ev = [
        Ev::Register {
            owner: OWNER,
            name: None,
            zone: None,
        },
        Ev::Package(Pkg {
            id: "pkg-n".into(),
            name: "Night".into(),
            minutes: 11,
            from: day_number("2026-11-20"),
            to: day_number("2026-11-30"),
        }),
        Ev::Session(Sess {
            class: "night".into(),
            user: "owl".into(),
            role: "student",
            playback: false,
            start: at("2026-11-23T23:50:00Z").0,
            end: at("2026-11-24T00:02:00Z").0,
        }),
    ];
    let events: Vec<Event> = ev
        .into_iter()
        .enumerate()
        .map(|(i, ev)| Event::new(&mut rng, format!("n-{i}"), ev))
        .collect();
    let report = ingest_batch(&store, &messages("n", &events), late_now, fast_retry()).await;
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    let world = world_of(&events);
    let reference = Reference::of(&world);
    // 10 minutes on the 23rd, 2 on the 24th: the second row takes the last
    // minute and pays one as it goes.
    assert_eq!(reference.used, [11]);
    let window = Window {
        start: "2026-11-23T00:00:00Z",
        end: "2026-11-25T00:00:00Z",
    };
    let (first, last) = window.days(world.local());
    let rows = reference.window(first, last, None);
    let got = ask_at(&store, &details_params(window, None, None, None), late_now)
        .await
        .unwrap();
    assert_json(&got, &reference.details(&world, &rows, 1, 20), "details");
    let got = ask_at(&store, &packages_params(), late_now).await.unwrap();
    let today = late_now.0.div_euclid(DAY_MS);
    assert_json(&got, &reference.packages_answer(today), "packages");
}

// ---------------------------------------------------------------------------
// Errors through the HTTP entry point.

async fn http_ask<S: UsageStore + AlertStore>(
    store: &S,
    pairs: &[(&str, &str)],
    account: Option<&str>,
) -> Answer {
    api_answer(store, Api::Rest, pairs, account).await
}

/// The contract's error shape: the five fields, each a non-empty string.
fn assert_error(a: &Answer, status: u16, code: &str, context: &str) {
    assert_eq!(
        (a.status, a.body["Code"].as_str()),
        (status, Some(code)),
        "{context}: {}",
        a.text
    );
    assert_eq!(a.content_type, "application/json", "{context}");
    let object = a.body.as_object().unwrap();
    let keys: BTreeSet<&str> = object.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        BTreeSet::from(["Code", "HostId", "Message", "Recommend", "RequestId"]),
        "{context}: {}",
        a.text
    );
    for (k, v) in object {
        assert!(
            v.as_str().is_some_and(|v| !v.is_empty()),
            "{context}: {k} is a non-empty string: {}",
            a.text
        );
    }
}

/// A store with the owner's app (and a little usage) and another account's app.
async fn api_store() -> rtc_usage::store::dynamo::DynamoStore {
    let store = fresh_store().await;
    register_apps(&store, [APP], OWNER).await;
    register_apps(&store, ["other-app"], OTHER_ACCOUNT).await;
    let mut rng = rng(707);
    let session = Event::new(
        &mut rng,
        "s".into(),
        Ev::Session(Sess {
            class: "c-1".into(),
            user: "u".into(),
            role: "teacher",
            playback: false,
            start: at("2026-11-22T10:00:00Z").0,
            end: at("2026-11-22T10:30:00Z").0,
        }),
    );
    let report = ingest_batch(&store, &messages("api", &[session]), now(), fast_retry()).await;
    assert!(report.failures.is_empty());
    store
}

type Pairs = Vec<(&'static str, String)>;

/// One step of a validation walk: the parameters it sets, then the status,
/// the code and the parameter the message must name (if any) of the answer.
type Step<'a> = (&'a [(&'static str, &'a str)], u16, &'a str, Option<&'a str>);

fn set(pairs: &mut Pairs, name: &'static str, value: &str) {
    pairs.retain(|(k, _)| *k != name);
    pairs.push((name, value.to_owned()));
}

fn borrowed(pairs: &Pairs) -> Vec<(&str, &str)> {
    pairs.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

fn valid_window(action: &str) -> Pairs {
    vec![
        ("Action", action.to_owned()),
        ("StartTime", "2026-11-22T00:00:00Z".to_owned()),
        ("EndTime", "2026-11-23T00:00:00Z".to_owned()),
        ("AppId", APP.to_owned()),
        ("ServiceType", "AudioVideo".to_owned()),
    ]
}

/// One request per value of `name`, every other parameter valid: each is
/// refused with `code`, and the boundary values in `good` are answered.
async fn assert_values(action: &str, name: &'static str, bad: &[&str], good: &[&str], code: &str) {
    let store = api_store().await;
    for value in bad {
        let mut pairs = valid_window(action);
        set(&mut pairs, name, value);
        let a = http_ask(&store, &borrowed(&pairs), Some(OWNER)).await;
        assert_error(&a, 400, code, &format!("{action} {name}={value:?}"));
    }
    for value in good {
        let mut pairs = valid_window(action);
        set(&mut pairs, name, value);
        let a = http_ask(&store, &borrowed(&pairs), Some(OWNER)).await;
        assert_eq!(a.status, 200, "{action} {name}={value:?}: {}", a.text);
    }
}

#[tokio::test]
async fn service_type_not_one_of_the_actions_values() {
    let wrong = [
        "audiovideo",
        "AUDIOVIDEO",
        "Audio",
        " AudioVideo",
        "AudioVideo ",
        "Recordings",
        "Storage2",
    ];
    let mut details = wrong.to_vec();
    // Storage has a trend but no rows.
    details.push("Storage");
    assert_values(
        "DescribeUsageDetails",
        "ServiceType",
        &details,
        &["AudioVideo", "Recording"],
        "InvalidServiceType.ValueNotSupported",
    )
    .await;
    assert_values(
        "DescribeUsageData",
        "ServiceType",
        &wrong,
        &["AudioVideo", "Recording", "Storage"],
        "InvalidServiceType.ValueNotSupported",
    )
    .await;
}

#[tokio::test]
async fn class_id_not_an_id() {
    let long = "k".repeat(65);
    let longest = "k".repeat(64);
    assert_values(
        "DescribeUsageDetails",
        "ClassId",
        &["", "a b", &long, "é", "a/b", "a+b", "c-1\n"],
        &["c-1", "A.b_C-9", &longest],
        "InvalidClassId.Malformed",
    )
    .await;
}

#[tokio::test]
async fn page_number_not_an_integer_from_1_to_100000() {
    assert_values(
        "DescribeUsageDetails",
        "PageNumber",
        &[
            "",
            "0",
            "100001",
            "01",
            "+1",
            "-1",
            "1.0",
            "1e2",
            " 1",
            "1 ",
            "abc",
            "4294967297",
            "99999999999999999999",
        ],
        &["1", "2", "100000"],
        "InvalidPageNumber.ValueNotSupported",
    )
    .await;
}

#[tokio::test]
async fn page_size_not_an_integer_from_1_to_100() {
    assert_values(
        "DescribeUsageDetails",
        "PageSize",
        &["", "0", "101", "020", "20 ", "-20", "1.5", "0x10", "٢٠"],
        &["1", "20", "100"],
        "InvalidPageSize.ValueNotSupported",
    )
    .await;
}

/// Walks a request from everything wrong to everything right, fixing one
/// thing at a time: each step must be answered by the next rule in order.
async fn walk(
    store: &rtc_usage::store::dynamo::DynamoStore,
    action: &str,
    start: Pairs,
    steps: &[Step<'_>],
) {
    let mut pairs = start;
    for (i, (changes, status, code, names)) in steps.iter().enumerate() {
        for (k, v) in *changes {
            set(&mut pairs, k, v);
        }
        let a = http_ask(store, &borrowed(&pairs), Some(OWNER)).await;
        let context = format!("{action} step {i} {pairs:?}");
        if *status == 200 {
            assert_eq!(a.status, 200, "{context}: {}", a.text);
            continue;
        }
        assert_error(&a, *status, code, &context);
        if let Some(name) = names {
            let message = a.body["Message"].as_str().unwrap();
            assert!(
                message.contains(&format!("\"{name}\"")),
                "{context}: the message names {name}: {message}"
            );
        }
    }
}

#[tokio::test]
async fn usage_data_validation_order() {
    let store = api_store().await;
    // Without a caller, nothing else is looked at.
    let all_wrong = [("Action", "Nope"), ("StartTime", "x"), ("AppId", "bad app")];
    let a = http_ask(&store, &all_wrong, None).await;
    assert_error(&a, 403, "Forbidden.RAM", "no caller");
    // Parameters the action does not take are ignored throughout.
    let start: Pairs = vec![
        ("RecordMode", "9".to_owned()),
        ("ClassId", "bad id".to_owned()),
        ("PageSize", "0".to_owned()),
        ("PageNumber", "x".to_owned()),
        ("Interval", "7".to_owned()),
    ];
    let steps: &[Step<'_>] = &[
        (&[], 400, "MissingParameter", Some("Action")),
        (&[("Action", "")], 400, "MissingParameter", Some("Action")),
        (
            &[("Action", "DescribeUsagedata")],
            404,
            "InvalidAction.NotFound",
            None,
        ),
        (
            &[("Action", "DescribeUsageData"), ("EndTime", "")],
            400,
            "MissingParameter",
            Some("StartTime"),
        ),
        (
            &[("StartTime", "bad")],
            400,
            "MissingParameter",
            Some("EndTime"),
        ),
        (
            &[("EndTime", "bad")],
            400,
            "MissingParameter",
            Some("AppId"),
        ),
        (
            &[("AppId", "bad app")],
            400,
            "MissingParameter",
            Some("ServiceType"),
        ),
        (
            &[("ServiceType", "Video")],
            400,
            "InvalidStartTime.Malformed",
            None,
        ),
        (
            &[("StartTime", "2026-11-23T13:00:00Z")],
            400,
            "InvalidEndTime.Malformed",
            None,
        ),
        (
            &[("EndTime", "2026-11-23T13:00:00Z")],
            400,
            "InvalidEndTime.Mismatch",
            None,
        ),
        (
            &[("EndTime", "2026-11-23T13:04:59Z")],
            400,
            "InvalidTimeSpan",
            None,
        ),
        (
            &[("EndTime", "2026-11-23T14:00:00Z")],
            400,
            "InvalidStartTime.ValueNotSupported",
            None,
        ),
        (
            &[
                ("StartTime", "2026-11-22T00:00:00Z"),
                ("EndTime", "2026-11-23T00:00:00Z"),
            ],
            400,
            "InvalidServiceType.ValueNotSupported",
            None,
        ),
        (
            &[("ServiceType", "AudioVideo")],
            400,
            "InvalidInterval.ValueNotSupported",
            None,
        ),
        (
            &[("Interval", "")],
            400,
            "InvalidInterval.ValueNotSupported",
            None,
        ),
        (&[("Interval", "86400")], 400, "InvalidAppIdParameter", None),
        (&[("AppId", "nope-app")], 400, "InvalidAppIdParameter", None),
        (&[("AppId", APP)], 200, "", None),
    ];
    walk(&store, "DescribeUsageData", start, steps).await;
}

#[tokio::test]
async fn usage_details_validation_order() {
    let store = api_store().await;
    let long_app = "x".repeat(65);
    let start: Pairs = vec![
        ("Action", "DescribeUsageDetails".to_owned()),
        ("RecordMode", "9".to_owned()),
        ("Interval", "7".to_owned()),
        ("ClassId", "".to_owned()),
        ("PageNumber", "0".to_owned()),
        ("PageSize", "101".to_owned()),
    ];
    let steps: &[Step<'_>] = &[
        (&[], 400, "MissingParameter", Some("StartTime")),
        (
            &[("StartTime", "2026-11-22 00:00:00")],
            400,
            "MissingParameter",
            Some("EndTime"),
        ),
        (
            &[("EndTime", "2026-11-21T00:00:00Z")],
            400,
            "MissingParameter",
            Some("AppId"),
        ),
        (&[("AppId", "")], 400, "MissingParameter", Some("AppId")),
        (
            &[("AppId", &long_app)],
            400,
            "MissingParameter",
            Some("ServiceType"),
        ),
        (
            &[("ServiceType", "")],
            400,
            "MissingParameter",
            Some("ServiceType"),
        ),
        (
            &[("ServiceType", "Storage")],
            400,
            "InvalidStartTime.Malformed",
            None,
        ),
        (
            &[("StartTime", "2026-11-22T00:00:00Z")],
            400,
            "InvalidEndTime.Mismatch",
            None,
        ),
        (
            &[("EndTime", "2026-12-23T00:00:01Z")],
            400,
            "InvalidTimeSpan",
            None,
        ),
        (
            &[
                ("StartTime", "2025-11-22T11:59:59Z"),
                ("EndTime", "2025-11-23T00:00:00Z"),
            ],
            400,
            "InvalidStartTime.ValueNotSupported",
            None,
        ),
        (
            &[
                ("StartTime", "2026-11-22T00:00:00Z"),
                ("EndTime", "2026-11-23T00:00:00Z"),
            ],
            400,
            "InvalidServiceType.ValueNotSupported",
            None,
        ),
        (
            &[("ServiceType", "AudioVideo")],
            400,
            "InvalidClassId.Malformed",
            None,
        ),
        (
            &[("ClassId", "c-1")],
            400,
            "InvalidPageNumber.ValueNotSupported",
            None,
        ),
        (
            &[("PageNumber", "2")],
            400,
            "InvalidPageSize.ValueNotSupported",
            None,
        ),
        (&[("PageSize", "5")], 400, "InvalidAppIdParameter", None),
        (
            &[("AppId", "other-app")],
            400,
            "InvalidAppIdParameter",
            None,
        ),
        (&[("AppId", APP)], 200, "", None),
    ];
    walk(&store, "DescribeUsageDetails", start, steps).await;
}

#[tokio::test]
async fn usage_packages_validation_order() {
    let store = api_store().await;
    let a = http_ask(
        &store,
        &[("Action", "DescribeUsagePackages"), ("AppId", APP)],
        None,
    )
    .await;
    assert_error(&a, 403, "Forbidden.RAM", "no caller");
    // The window, ServiceType and pages are not this action's: ignored.
    let start: Pairs = vec![
        ("Action", "DescribeUsagePackages".to_owned()),
        ("StartTime", "garbage".to_owned()),
        ("ServiceType", "x".to_owned()),
        ("PageSize", "0".to_owned()),
        ("Interval", "1".to_owned()),
        ("ClassId", "".to_owned()),
    ];
    let steps: &[Step<'_>] = &[
        (&[], 400, "MissingParameter", Some("AppId")),
        (&[("AppId", "")], 400, "MissingParameter", Some("AppId")),
        (&[("AppId", "bad app")], 400, "InvalidAppIdParameter", None),
        (
            &[("AppId", "other-app")],
            400,
            "InvalidAppIdParameter",
            None,
        ),
        (&[("AppId", APP)], 200, "", None),
    ];
    walk(&store, "DescribeUsagePackages", start, steps).await;
}

/// Another account's app, an unknown app and a malformed AppId get one and
/// the same answer, byte for byte, from every action; so does the owner's
/// app asked for by another account.
#[tokio::test]
async fn another_accounts_app_is_answered_like_an_unknown_one() {
    let store = api_store().await;
    for action in [
        "DescribeUsageData",
        "DescribeUsageDetails",
        "DescribeUsagePackages",
    ] {
        let mut pairs = valid_window(action);
        let a = http_ask(&store, &borrowed(&pairs), Some(OWNER)).await;
        assert_eq!(a.status, 200, "{action}: {}", a.text);
        let mut texts = Vec::new();
        for (app, account) in [
            ("nope-app", OWNER),
            ("other-app", OWNER),
            ("bad app", OWNER),
            (APP, OTHER_ACCOUNT),
        ] {
            set(&mut pairs, "AppId", app);
            let a = http_ask(&store, &borrowed(&pairs), Some(account)).await;
            assert_error(&a, 400, "InvalidAppIdParameter", &format!("{action} {app}"));
            texts.push((app, a.text));
        }
        for (app, text) in &texts[1..] {
            assert_eq!(
                text, &texts[0].1,
                "{action}: {app} answered like an unknown app"
            );
        }
    }
}
