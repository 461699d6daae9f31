//! Monthly statements against DynamoDB Local, compared with a plain
//! reference written here. Three months of class sessions and recording
//! segments of an app in Asia/Shanghai, each acknowledged at an instant of
//! its own (most soon after their usage, some after their month's close),
//! a fifth of them voided at another instant (some before they arrive),
//! delivered one to three times through a store that fails before and after
//! commits, with a one-hour grace period. After every instant the usage
//! arrives at, every statement the service answers equals the reference's:
//! a month's figures before its close equal those after it, and what came
//! after a close shows only as an adjustment of that month in the statement
//! of the month it came in. Closed statements are kept by the rollup's step
//! at some instants and computed by the query at the others.

use crate::local_time::LocalTime;
use crate::support::*;
use crate::workload::{deliver_in, rng, with_duplicates};
use rand::Rng;
use rand::rngs::StdRng;
use rtc_usage::domain::ids::AppId;
use rtc_usage::domain::statement::{AvFigures, Calendar, Figures, Month, RecordingFigures};
use rtc_usage::domain::time::{DAY_MS, MINUTE_MS, UtcMillis};
use rtc_usage::domain::zone::BillingZone;
use rtc_usage::service::ingest::IngestSettings;
use rtc_usage::service::statements::{prepare_closed, statement};
use rtc_usage::store::faulty::{FaultPlan, FaultyStore};
use serde_json::json;
use std::collections::BTreeMap;

const APP: &str = "statement-app";
const ZONE: &str = "Asia/Shanghai";
const GRACE_SECONDS: i64 = 3_600;
const SOURCE: &str = "/statements/test";

#[derive(Clone, Debug)]
enum Usage {
    /// A session of (class, user), interactive.
    Session { class: String, user: String },
    /// A segment of this tier (0 audio … 3 V1080), of a class or none.
    Segment { tier: usize, class: Option<String> },
}

#[derive(Clone, Debug)]
struct Event {
    id: String,
    usage: Usage,
    start: i64,
    end: i64,
    /// When it is delivered (all its copies, and their redeliveries).
    acked: i64,
    /// When a void of it is delivered, if one is.
    voided: Option<i64>,
}

struct Package {
    id: &'static str,
    minutes: u64,
    from: i64,
    to: i64,
    /// When its purchase arrives, and its refund if one does.
    acked: i64,
    refunded: Option<i64>,
}

fn local_ms(zone: &LocalTime, text: &str) -> i64 {
    // `text` is a Shanghai wall time; Shanghai has no daylight saving.
    let _ = zone;
    at(&format!("{text}Z")).0 - 8 * 3_600_000
}

fn scenario(rng: &mut StdRng, zone: &LocalTime) -> (Vec<Event>, Vec<Package>) {
    let first = local_ms(zone, "2026-09-01T00:00:00");
    let last = local_ms(zone, "2026-11-30T23:00:00");
    let month_ends = [
        local_ms(zone, "2026-10-01T00:00:00"),
        local_ms(zone, "2026-11-01T00:00:00"),
        local_ms(zone, "2026-12-01T00:00:00"),
    ];
    let mut events = Vec::new();
    for i in 0..90 {
        // Some start just before a month's end, across it.
        let start = if i % 15 == 0 {
            month_ends[(i / 15) % 3] - rng.random_range(1..60) * MINUTE_MS
        } else {
            rng.random_range(first..last)
        };
        let end = start + rng.random_range(1..120) * MINUTE_MS + rng.random_range(0..60_000);
        let usage = if i % 3 == 0 {
            Usage::Segment {
                tier: rng.random_range(0..4),
                class: (i % 2 == 0).then(|| format!("c{}", i % 4)),
            }
        } else {
            Usage::Session {
                class: format!("c{}", i % 4),
                user: format!("u{}", rng.random_range(0..6)),
            }
        };
        // Mostly within two days of its end, a fifth 5 to 40 days later.
        let acked = if rng.random_ratio(1, 5) {
            end + rng.random_range(5..40) * DAY_MS
        } else {
            end + rng.random_range(1..48 * 60) * MINUTE_MS
        };
        let voided = rng.random_ratio(1, 5).then(|| {
            if rng.random_ratio(1, 4) {
                // Before its event arrives: kept, the event never counts.
                acked - rng.random_range(1..48) * 3_600_000
            } else {
                acked + rng.random_range(1..30 * 24) * 3_600_000
            }
        });
        events.push(Event {
            id: format!("e{i}"),
            usage,
            start,
            end,
            acked,
            voided,
        });
    }
    let day = |text: &str| zone.day(local_ms(zone, &format!("{text}T12:00:00")));
    let opening = local_ms(zone, "2026-08-20T00:00:00");
    let packages = vec![
        Package {
            id: "p-early",
            minutes: 150,
            from: day("2026-09-01"),
            to: day("2026-10-20"),
            acked: opening,
            refunded: None,
        },
        Package {
            id: "p-late",
            minutes: 400,
            from: day("2026-10-15"),
            to: day("2026-12-31"),
            acked: opening,
            // Refunded in November, after October closed: October's
            // figures change, as an adjustment in November's statement.
            refunded: Some(local_ms(zone, "2026-11-10T09:00:00")),
        },
        Package {
            // Bought in October for days from September on, after
            // September closed; its refund arrives before it.
            id: "p-bought-late",
            minutes: 90,
            from: day("2026-09-10"),
            to: day("2026-11-30"),
            acked: local_ms(zone, "2026-10-08T10:00:00"),
            refunded: None,
        },
        Package {
            id: "p-refunded-first",
            minutes: 500,
            from: day("2026-09-01"),
            to: day("2026-12-31"),
            acked: local_ms(zone, "2026-09-15T10:00:00"),
            refunded: Some(local_ms(zone, "2026-09-14T10:00:00")),
        },
    ];
    (events, packages)
}

fn time(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap()
        .to_rfc3339()
}

fn body(e: &Event) -> String {
    let (kind, data) = match &e.usage {
        Usage::Session { class, user } => (
            "rtc.class.session",
            json!({"appId": APP, "classId": class, "userId": user, "role": "student",
                   "usageType": "interactive", "startTime": time(e.start), "endTime": time(e.end)}),
        ),
        Usage::Segment { tier, class } => {
            let (media, w, h) = [
                ("audio", 0, 0),
                ("video", 640, 480),
                ("video", 1280, 720),
                ("video", 1920, 1080),
            ][*tier];
            let mut data = json!({"appId": APP, "recordMode": "0", "media": media,
                                  "startTime": time(e.start), "endTime": time(e.end)});
            if media == "video" {
                data["width"] = json!(w);
                data["height"] = json!(h);
            }
            if let Some(class) = class {
                data["classId"] = json!(class);
            }
            ("rtc.recording.segment", data)
        }
    };
    json!({"specversion": "1.0", "id": e.id, "source": SOURCE, "type": kind, "data": data})
        .to_string()
}

fn void_body(e: &Event) -> String {
    json!({"specversion": "1.0", "id": format!("void-{}", e.id), "source": "/statements/fix",
           "type": "rtc.usage.voided",
           "data": {"appId": APP, "voidedSource": SOURCE, "voidedId": e.id}})
    .to_string()
}

// ---------------------------------------------------------------------------
// The reference.

struct Reference<'a> {
    zone: LocalTime,
    calendar: Calendar,
    events: &'a [Event],
    packages: &'a [Package],
}

impl Reference<'_> {
    /// Whether `e` counted at instant `t`: acknowledged before it, and no
    /// void of it acknowledged before it (a void acknowledged before the
    /// event means it never counts).
    fn counts(e: &Event, t: i64) -> bool {
        e.acked < t && e.voided.is_none_or(|v| v >= t)
    }

    /// (local day, ms) parts of `[start, end)`.
    fn parts(&self, start: i64, end: i64) -> Vec<(i64, u64)> {
        let mut parts = Vec::new();
        let mut t = start;
        while t < end {
            let next = self.zone.next_hour_boundary(t).min(end);
            parts.push((self.zone.day(t), (next - t) as u64));
            t = next;
        }
        parts
    }

    /// `month`'s figures as they stood at instant `t`.
    fn figures(&self, month: Month, t: i64) -> Figures {
        let (first, last) = (month.first_day().0, month.last_day().0);
        let mut rows: BTreeMap<(i64, String), u64> = BTreeMap::new();
        let mut tiers: BTreeMap<(i64, usize), u64> = BTreeMap::new();
        let mut classes: BTreeMap<(i64, String), u64> = BTreeMap::new();
        for e in self.events.iter().filter(|e| Self::counts(e, t)) {
            for (day, ms) in self.parts(e.start, e.end) {
                match &e.usage {
                    Usage::Session { class, .. } => {
                        *rows.entry((day, class.clone())).or_default() += ms
                    }
                    Usage::Segment { tier, class } => {
                        *tiers.entry((day, *tier)).or_default() += ms;
                        if let Some(class) = class {
                            *classes.entry((day, class.clone())).or_default() += ms;
                        }
                    }
                }
            }
        }
        let mut av = AvFigures::default();
        let mut minutes_per_day: BTreeMap<i64, u64> = BTreeMap::new();
        for ((day, _), ms) in &rows {
            let minutes = ms.div_ceil(60_000);
            *minutes_per_day.entry(*day).or_default() += minutes;
            if (first..=last).contains(day) {
                av.duration_ms += *ms as i64;
                av.billable_minutes += minutes as i64;
            }
        }
        // Packages by (validTo, validFrom, id); each day's minutes from the
        // eligible ones in that order.
        // The packages bought by then, less those refunded by then.
        let mut order: Vec<&Package> = self
            .packages
            .iter()
            .filter(|p| p.acked < t && p.refunded.is_none_or(|r| r >= t))
            .collect();
        order.sort_by_key(|p| (p.to, p.from, p.id));
        let mut left: Vec<u64> = order.iter().map(|p| p.minutes).collect();
        for (day, minutes) in minutes_per_day.range(..=last) {
            let mut need = *minutes;
            for (i, p) in order.iter().enumerate() {
                if p.from <= *day && *day <= p.to {
                    let take = need.min(left[i]);
                    left[i] -= take;
                    need -= take;
                    if *day >= first {
                        av.package_minutes += take as i64;
                    }
                }
            }
            if *day >= first {
                av.pay_as_you_go_minutes += need as i64;
            }
        }
        let mut recording = RecordingFigures::default();
        let mut day_totals: BTreeMap<i64, u64> = BTreeMap::new();
        for ((day, tier), ms) in tiers.range((first, 0)..=(last, 3)) {
            recording.tier_ms[*tier] += *ms as i64;
            *day_totals.entry(*day).or_default() += ms;
        }
        for (day, total) in day_totals {
            let mut classed = 0;
            for ((_, _), ms) in classes.range((day, String::new())..(day + 1, String::new())) {
                classed += ms;
                recording.billable_minutes += ms.div_ceil(60_000) as i64;
            }
            let rest = total - classed;
            recording.billable_minutes += rest.div_ceil(60_000) as i64;
            recording.duration_ms += total as i64;
        }
        Figures { av, recording }
    }

    /// `month`'s statement at instant `now`: its own figures and its
    /// adjustments.
    fn statement(&self, month: Month, now: i64) -> (Figures, Vec<(Month, Figures)>) {
        let zone = &self.calendar.zone;
        let close = self.calendar.closes_at(month).0;
        let own = self.figures(month, now.min(close));
        let (start, end) = (month.starts_at(zone).0, month.ends_at(zone).0);
        let until = end.min(now);
        let mut adjustments = Vec::new();
        let mut earlier = month.prev();
        let mut earlier_months = Vec::new();
        while earlier >= Month::parse("2026-08").unwrap() {
            earlier_months.push(earlier);
            earlier = earlier.prev();
        }
        earlier_months.reverse();
        for of in earlier_months {
            let from = start.max(self.calendar.closes_at(of).0);
            if from >= until {
                continue;
            }
            let change = self.figures(of, until) - self.figures(of, from);
            if !change.is_zero() {
                adjustments.push((of, change));
            }
        }
        (own, adjustments)
    }
}

#[tokio::test]
async fn statements_match_a_plain_reference_through_closes_voids_and_faults() {
    let zone = LocalTime::new(ZONE);
    let billing = BillingZone::parse(ZONE).unwrap();
    let calendar = Calendar::new(billing.clone(), GRACE_SECONDS);
    let mut rng = rng(9_001);
    let (events, packages) = scenario(&mut rng, &zone);
    let reference = Reference {
        zone,
        calendar: calendar.clone(),
        events: &events,
        packages: &packages,
    };
    let plan = FaultPlan {
        fail_before_per_mille: 80,
        fail_after_per_mille: 120,
        throttle_per_mille: 60,
        stale_reads_per_mille: 200,
        seed: 77,
    };
    let store = FaultyStore::new(fresh_store().await, plan);
    let settings = IngestSettings {
        default_zone: billing.clone(),
        grace_seconds: GRACE_SECONDS,
        ..IngestSettings::default()
    };
    let app = AppId::parse(APP).unwrap();
    // The registration and the packages before anything else.
    let opening = local_ms(&zone, "2026-08-20T00:00:00");
    let mut bodies = vec![
        json!({"specversion": "1.0", "id": "reg", "source": "/console", "type": "rtc.app.registered",
               "data": {"appId": APP, "ownerAccountId": OWNER, "timeZone": ZONE}})
        .to_string(),
    ];
    let out = deliver_in(
        &store,
        &mut rng,
        bodies.split_off(0),
        3,
        UtcMillis(opening - 1),
        &settings,
    )
    .await;
    assert!(out.invalid.is_empty(), "{:?}", out.invalid);
    // Every instant something arrives at, in order.
    let mut arrivals: BTreeMap<i64, Vec<String>> = BTreeMap::new();
    for p in &packages {
        arrivals.entry(p.acked).or_default().push(
            json!({"specversion": "1.0", "id": p.id, "source": "/billing", "type": "rtc.package.purchased",
                   "data": {"appId": APP, "packageId": p.id, "packageName": p.id, "minutes": p.minutes,
                            "validFrom": rtc_usage::domain::time::Day(p.from).key(),
                            "validTo": rtc_usage::domain::time::Day(p.to).key()}})
            .to_string(),
        );
        if let Some(at) = p.refunded {
            arrivals.entry(at).or_default().push(
                json!({"specversion": "1.0", "id": format!("refund-{}", p.id), "source": "/billing",
                       "type": "rtc.package.refunded",
                       "data": {"appId": APP, "packageId": p.id}})
                .to_string(),
            );
        }
    }
    for e in &events {
        arrivals.entry(e.acked).or_default().push(body(e));
        if let Some(v) = e.voided {
            arrivals.entry(v).or_default().push(void_body(e));
        }
    }
    let months: Vec<Month> = ["2026-09", "2026-10", "2026-11", "2026-12"]
        .iter()
        .map(|m| Month::parse(m).unwrap())
        .collect();
    let (mut compared, mut closed_seen, mut adjusted_seen) = (0, 0, 0);
    for (i, (instant, bodies)) in arrivals.iter().enumerate() {
        let now = UtcMillis(*instant);
        let copies = with_duplicates(&mut rng, bodies);
        let out = deliver_in(&store, &mut rng, copies, 4, now, &settings).await;
        assert!(out.invalid.is_empty(), "{:?}", out.invalid);
        if i % 7 == 3 {
            // As the scheduled rollup does.
            prepare_closed(store.inner(), [app.clone()], GRACE_SECONDS, now)
                .await
                .unwrap();
        }
        if i % 3 != 0 && i + 1 != arrivals.len() {
            continue;
        }
        let asked = now.plus_ms(1);
        for month in months.iter().filter(|m| m.starts_at(&billing) <= asked) {
            let got = statement(store.inner(), &app, &calendar, *month, asked)
                .await
                .unwrap();
            let (own, adjustments) = reference.statement(*month, asked.0);
            assert_eq!(got.own, own, "{month} at {}: own figures", time(asked.0));
            assert_eq!(
                got.adjustments,
                adjustments,
                "{month} at {}: adjustments",
                time(asked.0)
            );
            compared += 1;
            closed_seen += usize::from(calendar.is_closed(*month, asked));
            adjusted_seen += usize::from(!adjustments.is_empty());
        }
    }
    assert!(
        closed_seen > 10 && adjusted_seen > 5,
        "{closed_seen} closed, {adjusted_seen} adjusted"
    );
    let counts = &store.counts;
    assert!(counts.injected() > 10, "faults were injected");
    println!(
        "{} events, {} instants; {compared} statements compared ({closed_seen} closed, \
         {adjusted_seen} with adjustments)",
        events.len(),
        arrivals.len()
    );
}

/// Two scheduled rollups at once, just after a month's close, while a late
/// session of that month arrives: both prepare the closed statement (or
/// find it prepared), neither changes it, and it holds the figures the
/// month had before its close.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_rollups_at_once_during_a_close_keep_the_figures_of_the_close() {
    use rtc_usage::entry::metrics::Metrics;
    use rtc_usage::entry::schedule;
    use rtc_usage::service::rollup::Deadline;
    use rtc_usage::store::UsageStore;
    let zone = LocalTime::new(ZONE);
    let billing = BillingZone::parse(ZONE).unwrap();
    let calendar = Calendar::new(billing.clone(), GRACE_SECONDS);
    let store = fresh_store().await;
    let settings = IngestSettings {
        default_zone: billing.clone(),
        grace_seconds: GRACE_SECONDS,
        ..IngestSettings::default()
    };
    let app = AppId::parse(APP).unwrap();
    let november = Month::parse("2026-11").unwrap();
    let close = calendar.closes_at(november);
    let session = |i: usize, start: &str, acked: i64| Event {
        id: format!("s{i}"),
        usage: Usage::Session {
            class: "c1".into(),
            user: format!("u{i}"),
        },
        start: local_ms(&zone, start),
        end: local_ms(&zone, start) + 25 * MINUTE_MS,
        acked,
        voided: None,
    };
    let registration = json!({"specversion": "1.0", "id": "reg", "source": "/console",
        "type": "rtc.app.registered",
        "data": {"appId": APP, "ownerAccountId": OWNER, "timeZone": ZONE}})
    .to_string();
    let mut rng = rng(17);
    let before = close.minus_ms(60_000);
    let early: Vec<String> = std::iter::once(registration)
        .chain((0..5).map(|i| body(&session(i, "2026-11-28T10:00:00", before.0))))
        .collect();
    deliver_in(&store, &mut rng, early, 3, before, &settings).await;
    let at_close = statement(&store, &app, &calendar, november, before)
        .await
        .unwrap();
    assert_eq!(at_close.own.av.billable_minutes, 5 * 25);
    let scheduled = json!({"version": "0", "id": "x", "detail-type": "Scheduled Event",
        "source": "aws.events", "time": "2026-12-03T16:00:01Z", "detail": {}});
    let after = close.plus_ms(1_000);
    let late = vec![body(&session(9, "2026-11-29T10:00:00", after.0))];
    let metrics = Metrics::disabled();
    let (a, b, _) = tokio::join!(
        schedule::handle_with(
            &store,
            &metrics,
            &scheduled,
            Deadline::none(),
            Some((after, GRACE_SECONDS)),
        ),
        schedule::handle_with(
            &store,
            &metrics,
            &scheduled,
            Deadline::none(),
            Some((after, GRACE_SECONDS)),
        ),
        async {
            let mut other = crate::workload::rng(18);
            deliver_in(&store, &mut other, late, 1, after, &settings).await
        },
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert!(
        a.statements_prepared + b.statements_prepared <= 2,
        "{a:?} {b:?}"
    );
    let kept = store
        .statement(&app, november)
        .await
        .unwrap()
        .expect("a rollup or the query prepared it");
    assert_eq!(
        kept.own, at_close.own,
        "the close's figures, whoever kept it"
    );
    // A query now answers the same; December carries the late session.
    let later = after.plus_ms(DAY_MS);
    let answered = statement(&store, &app, &calendar, november, later)
        .await
        .unwrap();
    assert_eq!(answered, kept);
    let december = statement(
        &store,
        &app,
        &calendar,
        Month::parse("2026-12").unwrap(),
        later,
    )
    .await
    .unwrap();
    assert_eq!(december.adjustments.len(), 1);
    assert_eq!(december.adjustments[0].1.av.billable_minutes, 25);
}

/// Through the functions as deployed, with a one-minute grace period: the
/// SQS entry point acknowledges November's sessions, then (after the close)
/// a late one; `DescribeStatement` and `DescribeStatements` answer, as the
/// runtime would post them, November closed with the figures it had and
/// December carrying the late session as an adjustment. Every validation
/// rule of the two actions answers its code and status at the boundary.
#[tokio::test]
async fn statements_through_the_functions_with_a_short_grace() {
    use rtc_usage::entry::http::{QuerySettings, handle_with};
    use rtc_usage::entry::metrics::Metrics;
    use rtc_usage::entry::sqs;
    const GRACE: i64 = 60;
    let store = fresh_store().await;
    let settings = IngestSettings {
        default_zone: BillingZone::utc(),
        grace_seconds: GRACE,
        ..IngestSettings::default()
    };
    let batch = |bodies: Vec<String>| sqs_batch(&bodies);
    let session = |id: &str, start: &str, minutes: i64| {
        json!({"specversion": "1.0", "id": id, "source": SOURCE, "type": "rtc.class.session",
               "data": {"appId": APP, "classId": "c1", "userId": id, "role": "student",
                        "usageType": "interactive", "startTime": start,
                        "endTime": time(at(start).0 + minutes * MINUTE_MS)}})
        .to_string()
    };
    let registration = json!({"specversion": "1.0", "id": "reg", "source": "/console",
        "type": "rtc.app.registered",
        "data": {"appId": APP, "ownerAccountId": OWNER}})
    .to_string();
    let in_november = at("2026-11-30T23:00:00Z");
    let (response, _) = sqs::handle(
        &store,
        &rtc_usage::bus::memory::RecordingBus::new(),
        &Metrics::disabled(),
        batch(vec![registration, session("a", "2026-11-30T20:00:00Z", 30)]),
        in_november,
        &settings,
    )
    .await;
    assert!(response.batch_item_failures.is_empty());
    // Closed at 2026-12-01T00:01:00Z; a late November session after it.
    let after_close = at("2026-12-01T00:01:00Z");
    let (response, _) = sqs::handle(
        &store,
        &rtc_usage::bus::memory::RecordingBus::new(),
        &Metrics::disabled(),
        batch(vec![session("b", "2026-11-30T21:00:00Z", 10)]),
        after_close,
        &settings,
    )
    .await;
    assert!(response.batch_item_failures.is_empty());
    let query = QuerySettings {
        dev_caller: None,
        grace_seconds: GRACE,
    };
    let ask = |pairs: Vec<(&'static str, &'static str)>, now: UtcMillis| {
        let event = api_event(Api::Rest, &pairs, Some(OWNER));
        let (store, query) = (&store, &query);
        async move {
            invoke(&event, |request| async move {
                handle_with(store, query, &request, now).await
            })
            .await
        }
    };
    let later = at("2026-12-05T00:00:00Z");
    let november = ask(
        vec![
            ("Action", "DescribeStatement"),
            ("AppId", APP),
            ("Month", "2026-11"),
        ],
        later,
    )
    .await;
    assert_eq!(november.status, 200, "{}", november.text());
    let body = &november.body_json();
    assert_eq!(body["Status"], "Closed");
    assert_eq!(body["ClosesAt"], "2026-12-01T00:01:00+00:00");
    assert_eq!(body["TimeZone"], "UTC");
    assert_eq!(
        body["AudioVideo"],
        json!({"DurationSeconds": 1800, "BillableMinutes": 30, "PackageMinutes": 0,
               "PayAsYouGoMinutes": 30})
    );
    assert_eq!(body["Adjustments"], json!([]));
    let december = ask(
        vec![
            ("Action", "DescribeStatement"),
            ("AppId", APP),
            ("Month", "2026-12"),
        ],
        later,
    )
    .await;
    let body = &december.body_json();
    assert_eq!(body["Status"], "Open");
    assert_eq!(body["AudioVideo"]["BillableMinutes"], 0);
    assert_eq!(
        body["Adjustments"],
        json!([{"Month": "2026-11",
                "AudioVideo": {"DurationSeconds": 600, "BillableMinutes": 10,
                               "PackageMinutes": 0, "PayAsYouGoMinutes": 10},
                "Recording": {"DurationSeconds": 0, "BillableMinutes": 0, "AudioSeconds": 0,
                              "V480Seconds": 0, "V720Seconds": 0, "V1080Seconds": 0}}])
    );
    let all = ask(
        vec![("Action", "DescribeStatements"), ("AppId", APP)],
        later,
    )
    .await;
    let statements = all.body_json()["Statements"].clone();
    assert_eq!(statements.as_array().map(Vec::len), Some(13));
    assert_eq!(
        statements[0],
        json!({"Month": "2026-12", "Status": "Open", "ClosesAt": "2027-01-01T00:01:00+00:00",
               "AudioVideoBillableMinutes": 10, "AudioVideoPayAsYouGoMinutes": 10,
               "RecordingBillableMinutes": 0})
    );
    assert_eq!(statements[1]["AudioVideoBillableMinutes"], 30);
    assert_eq!(statements[12]["Month"], "2025-12");
    // The rules, in order, at the boundary.
    for (pairs, status, code) in [
        (
            vec![("Action", "DescribeStatement"), ("AppId", APP)],
            400,
            "MissingParameter",
        ),
        (
            vec![("Action", "DescribeStatement"), ("Month", "2026-11")],
            400,
            "MissingParameter",
        ),
        (
            vec![
                ("Action", "DescribeStatement"),
                ("AppId", "bad app"),
                ("Month", "2026-13"),
            ],
            400,
            "InvalidMonth.Malformed",
        ),
        (
            vec![
                ("Action", "DescribeStatement"),
                ("AppId", "bad app"),
                ("Month", "2026-11"),
            ],
            400,
            "InvalidAppIdParameter",
        ),
        (
            vec![
                ("Action", "DescribeStatement"),
                ("AppId", "unknown-app"),
                ("Month", "2025-11"),
            ],
            400,
            "InvalidAppIdParameter",
        ),
        (
            vec![
                ("Action", "DescribeStatement"),
                ("AppId", APP),
                ("Month", "2025-11"),
            ],
            400,
            "InvalidMonth.ValueNotSupported",
        ),
        (
            vec![
                ("Action", "DescribeStatement"),
                ("AppId", APP),
                ("Month", "2027-01"),
            ],
            400,
            "InvalidMonth.ValueNotSupported",
        ),
        (
            vec![("Action", "DescribeStatements")],
            400,
            "MissingParameter",
        ),
        (
            vec![("Action", "DescribeStatements"), ("AppId", "x/y")],
            400,
            "InvalidAppIdParameter",
        ),
        (
            vec![("Action", "DescribeStatementz"), ("AppId", APP)],
            404,
            "InvalidAction.NotFound",
        ),
    ] {
        let answer = ask(pairs.clone(), later).await;
        assert_eq!(answer.status, status, "{pairs:?}: {}", answer.text());
        assert_eq!(answer.body_json()["Code"], code, "{pairs:?}");
    }
}

trait BodyJson {
    fn body_json(&self) -> serde_json::Value;
}

impl BodyJson for Posted {
    /// The answer's body, which must be JSON.
    fn body_json(&self) -> serde_json::Value {
        serde_json::from_str(self.text()).expect("a JSON body")
    }
}
