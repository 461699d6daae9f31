//! The daily rollup against DynamoDB: exact, idempotent, safe to overlap,
//! bounded by its deadline, proportional to change, and never changing an
//! answer.

use crate::support::*;
use crate::workload::*;
use aws_sdk_dynamodb::types::AttributeValue;
use rtc_usage::domain::commit::CommitGroup;
use rtc_usage::domain::event::EventKey;
use rtc_usage::domain::ids::{AccountId, AppId};
use rtc_usage::domain::rollup::RollupRequest;
use rtc_usage::domain::time::{DAY_MS, Day, Hour, UtcMillis};
use rtc_usage::domain::usage::ModeUsage;
use rtc_usage::entry::metrics::Metrics;
use rtc_usage::entry::schedule;
use rtc_usage::service::rollup::{Clock, Deadline, ManualClock, RollupReport, run_rollup};
use rtc_usage::store::dynamo::DynamoStore;
use rtc_usage::store::*;
use rtc_usage::testkit::register_apps;
use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

const APPS: [&str; 3] = ["app-a", "app-b", "app-c"];

fn window() -> (UtcMillis, UtcMillis) {
    (at("2026-11-01T00:00:00Z"), at("2026-11-23T12:00:00Z"))
}

async fn ingest_random(
    store: &(impl UsageStore + AlertStore),
    seed: u64,
    n: usize,
    anchors: &[UtcMillis],
) -> Vec<Seg> {
    register_apps(store, APPS, OWNER).await;
    let mut rng = rng(seed);
    let segments: Vec<Seg> = random_segments(&mut rng, n, &APPS, anchors)
        .into_iter()
        .filter(|s| s.end <= now() && s.start >= window().0)
        .collect();
    let bodies = segments.iter().map(|s| segment_body(&mut rng, s)).collect();
    let out = deliver(store, &mut rng, bodies, 10, now()).await;
    assert_eq!(out.counted, segments.len());
    segments
}

fn anchors() -> Vec<UtcMillis> {
    [
        "2026-11-03T00:00:00Z",
        "2026-11-10T12:00:00Z",
        "2026-11-20T23:00:00Z",
    ]
    .iter()
    .map(|t| at(t))
    .collect()
}

async fn check(store: &(impl UsageStore + AlertStore), segments: &[Seg]) {
    let (from, to) = window();
    assert_queries_match(store, &Reference::of(segments), &APPS, from, to, now()).await;
}

async fn roll(store: &(impl UsageStore + AlertStore)) -> RollupReport {
    run_rollup(store, &RollupRequest::Scheduled, Deadline::none()).await
}

async fn pending(store: &(impl UsageStore + AlertStore)) -> Vec<PendingDay> {
    let mut all = Vec::new();
    let mut cursor = None;
    loop {
        let page = store.pending_days(cursor).await.unwrap();
        all.extend(page.days);
        match page.next {
            Some(next) => cursor = Some(next),
            None => return all,
        }
    }
}

/// Every day record of every app in the window is rolled.
async fn assert_all_rolled(store: &(impl UsageStore + AlertStore)) {
    let (from, to) = window();
    for app in APPS {
        for record in store
            .days(&AppId::parse(app).unwrap(), from.day(), to.day())
            .await
            .unwrap()
        {
            assert!(
                record.is_rolled(),
                "{app} {} not rolled: {record:?}",
                record.day.key()
            );
        }
    }
    assert!(pending(store).await.is_empty());
}

fn distinct_days(segments: &[Seg]) -> usize {
    let mut days = HashSet::new();
    for s in segments {
        let mut hour = s.start.hour();
        while hour.start() < s.end {
            days.insert((s.app.clone(), hour.day()));
            hour = hour.next();
        }
    }
    days.len()
}

#[tokio::test]
async fn daily_equals_hourly_before_and_after_the_rollup_and_runs_are_idempotent() {
    let store = fresh_store().await;
    let segments = ingest_random(&store, 21, 150, &anchors()).await;
    check(&store, &segments).await;
    let days = distinct_days(&segments);
    assert_eq!(
        pending(&store).await.len(),
        days,
        "every changed (app, day) is marked"
    );

    let first = roll(&store).await;
    assert!(first.complete);
    assert_eq!(first.days_written, days);
    assert_eq!(
        first.aggregates_written,
        2 * days,
        "both record modes of each day"
    );
    assert_all_rolled(&store).await;
    check(&store, &segments).await;

    // Again: nothing to do, nothing changes.
    let second = roll(&store).await;
    assert_eq!(
        (
            second.days_written,
            second.aggregates_written,
            second.complete
        ),
        (0, 0, true)
    );
    check(&store, &segments).await;
}

#[tokio::test]
async fn late_events_after_a_roll_are_answered_at_once_and_rolled_next_time() {
    let store = fresh_store().await;
    let mut segments = ingest_random(&store, 22, 80, &anchors()).await;
    roll(&store).await;
    // Late events, into days already rolled (up to three weeks back).
    let mut rng = rng(99);
    let late: Vec<Seg> = random_segments(&mut rng, 40, &APPS, &anchors())
        .into_iter()
        .filter(|s| s.end <= now() && s.start >= window().0)
        .map(|mut s| {
            s.id = format!("late-{}", s.id);
            s
        })
        .collect();
    let bodies = late.iter().map(|s| segment_body(&mut rng, s)).collect();
    deliver(&store, &mut rng, bodies, 10, now()).await;
    segments.extend(late.iter().cloned());
    // Freshness: right before the next rollup.
    check(&store, &segments).await;
    let marked = pending(&store).await.len();
    assert_eq!(marked, distinct_days(&late));
    let report = roll(&store).await;
    assert_eq!(report.days_written, marked);
    assert_all_rolled(&store).await;
    check(&store, &segments).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_concurrent_runs_agree_and_lose_nothing() {
    let store = fresh_store().await;
    let segments = ingest_random(&store, 23, 120, &anchors()).await;
    let days = distinct_days(&segments);
    let (a, b) = tokio::join!(roll(&store), roll(&store));
    assert!(a.complete && b.complete);
    // Each day was written by at least one run (a day both saw is written
    // twice with the same totals, or found rolled by the later one).
    assert!(a.days_written + b.days_written >= days, "{a:?} {b:?}");
    assert_all_rolled(&store).await;
    check(&store, &segments).await;
}

/// Delegates to a store, moving a clock by `step` at every day written: a
/// rollup's deadline then falls after a known amount of work, however fast
/// or slow the machine and the local DynamoDB are.
struct RollsTakeTime<S> {
    inner: S,
    clock: Arc<ManualClock>,
    step: Duration,
}

impl<S: UsageStore> rtc_usage::store::TurnStore for RollsTakeTime<S> {
    rtc_usage::forward_turn_store!(inner);
}

impl<S: UsageStore> UsageStore for RollsTakeTime<S> {
    const MAX_COMMIT_ACTIONS: usize = S::MAX_COMMIT_ACTIONS;

    rtc_usage::forward_store_methods!(inner; late_usage, statement, put_statement, refund_package, registration, open_app, zones, parked, apps_of, class_recordings, ledger_inputs, balance, write_balances, settle, pending_apps, register_app, seen, records, apply_class_fact, put_package, packages, class_facts, av_hours, av_rows, hours, days, commit, pending_days, apps_with_usage, day_snapshot, put_measurements, measurements);

    async fn write_day(
        &self,
        app: &AppId,
        day: Day,
        totals: &ModeUsage,
        seq: u64,
    ) -> StoreResult<WriteDayOutcome> {
        let outcome = self.inner.write_day(app, day, totals, seq).await;
        self.clock.advance(self.step);
        outcome
    }
}

#[tokio::test]
async fn a_run_stopped_by_its_deadline_is_finished_by_the_next() {
    let store = fresh_store().await;
    let segments = ingest_random(&store, 24, 200, &anchors()).await;
    let days = distinct_days(&segments);
    // One page of DynamoDB's work list (200) holds every marked day, so each
    // is either written by the cut run or counted as left by it.
    assert!(days > 20 && days <= 200, "{days} days");
    let clock = Arc::new(ManualClock::new());
    let timed = RollsTakeTime {
        inner: store.clone(),
        clock: clock.clone(),
        step: Duration::from_secs(1),
    };

    // Out of time before the first page: nothing taken, and the page it read
    // to count says how much is waiting.
    let stopped = run_rollup(
        &timed,
        &RollupRequest::Scheduled,
        Deadline::before_on(clock.clone(), clock.now(), Duration::ZERO),
    )
    .await;
    assert_eq!(
        (stopped.days_written, stopped.days_left, stopped.complete),
        (0, days, false),
        "{stopped:?}"
    );
    assert_eq!(pending(&store).await.len(), days, "nothing taken");

    // Time for ten days' work (a second each, on the test's clock): the run
    // does some, stops, and says what it left.
    let partial = run_rollup(
        &timed,
        &RollupRequest::Scheduled,
        Deadline::before_on(
            clock.clone(),
            clock.now() + Duration::from_secs(10),
            Duration::ZERO,
        ),
    )
    .await;
    assert!(!partial.complete, "{partial:?}");
    assert!(
        partial.days_written >= 10 && partial.days_left > 0,
        "{partial:?}"
    );
    assert_eq!(
        (
            partial.days_written + partial.days_left,
            partial.days_deferred
        ),
        (days, 0),
        "{partial:?}"
    );
    assert_eq!(pending(&store).await.len(), partial.days_left);
    check(&store, &segments).await;

    let rest = roll(&store).await;
    assert!(rest.complete, "{rest:?}");
    assert_eq!(rest.days_written, partial.days_left);
    assert_all_rolled(&store).await;
    check(&store, &segments).await;
}

/// Delegates to DynamoDB, but lands a new event on the day between the
/// rollup's snapshot and its write, `times` times.
struct EventLandsDuringRoll {
    inner: DynamoStore,
    times: AtomicU32,
    app: AppId,
}

impl EventLandsDuringRoll {
    async fn land(&self, day: Day) {
        let n = self.times.fetch_sub(1, Ordering::SeqCst);
        if n == 0 {
            self.times.store(0, Ordering::SeqCst);
            return;
        }
        let mut group = CommitGroup::default();
        group
            .events
            .push(rtc_usage::domain::commit::EventWrite::segment(
                EventKey::of("/landing", &n.to_string()),
                rtc_usage::domain::event::Segment {
                    app: self.app.clone(),
                    class: None,
                    mode: rtc_usage::domain::usage::RecordMode::SingleStream,
                    tier: rtc_usage::domain::usage::Tier::Audio,
                    start: day.start(),
                    end: day.start().plus_ms(1_000),
                },
            ));
        let mut usage = ModeUsage::default();
        usage.add(
            rtc_usage::domain::usage::RecordMode::SingleStream,
            rtc_usage::domain::usage::Tier::Audio,
            1_000,
        );
        let hour = Hour(day.first_hour().0 + 5);
        let expires = rtc_usage::domain::retention::hourly_expiry(hour);
        group.hours.insert(
            (self.app.clone(), hour),
            rtc_usage::domain::commit::HourAdd {
                usage,
                head: ModeUsage::default(),
                expires,
            },
        );
        group.days.insert((self.app.clone(), day));
        assert_eq!(
            self.inner.commit(&group).await.unwrap(),
            CommitOutcome::Committed
        );
    }
}

impl AlertStore for EventLandsDuringRoll {
    rtc_usage::forward_alert_store!(inner);
}

impl rtc_usage::store::TurnStore for EventLandsDuringRoll {
    rtc_usage::forward_turn_store!(inner);
}

impl UsageStore for EventLandsDuringRoll {
    const MAX_COMMIT_ACTIONS: usize = DynamoStore::MAX_COMMIT_ACTIONS;

    rtc_usage::forward_store_methods!(inner; late_usage, statement, put_statement, refund_package, registration, open_app, zones, parked, apps_of, class_recordings, ledger_inputs, balance, write_balances, settle, pending_apps, register_app, seen, records, apply_class_fact, put_package, packages, class_facts, av_hours, av_rows, hours, days, commit, pending_days, apps_with_usage, write_day, put_measurements, measurements);

    async fn day_snapshot(&self, app: &AppId, day: Day) -> StoreResult<DaySnapshot> {
        let snapshot = self.inner.day_snapshot(app, day).await;
        self.land(day).await;
        snapshot
    }
}

#[tokio::test]
async fn an_event_landing_during_the_roll_keeps_its_day_marked() {
    let inner = fresh_store().await;
    let app = AppId::parse("app-a").unwrap();
    inner
        .register(&app, &AccountId::parse(OWNER).unwrap())
        .await
        .unwrap();
    let day = at("2026-11-20T00:00:00Z").day();
    let store = EventLandsDuringRoll {
        inner,
        times: AtomicU32::new(1),
        app: app.clone(),
    };
    store.land(day).await; // the day's first event
    // Every attempt of this run sees another event land after its snapshot.
    store.times.store(10, Ordering::SeqCst);
    let report = roll(&store).await;
    assert_eq!(
        (report.days_written, report.days_deferred),
        (0, 1),
        "{report:?}"
    );
    assert_eq!(pending(&store.inner).await.len(), 1, "still marked");
    // Without interference the next run rolls it, with every landed event.
    store.times.store(0, Ordering::SeqCst);
    assert_eq!(roll(&store).await.days_written, 1);
    let records = store.inner.days(&app, day, day).await.unwrap();
    assert!(records[0].is_rolled());
    assert_eq!(
        records[0]
            .rolled
            .mode(rtc_usage::domain::usage::RecordMode::SingleStream)
            .total(),
        4_000
    );
    // The first event and the three that landed during the first run's attempts.
}

#[tokio::test]
async fn backfill_recomputes_a_range_including_empty_days() {
    let store = fresh_store().await;
    let segments = ingest_random(&store, 25, 60, &anchors()).await;
    roll(&store).await;
    // Overwrite one rolled day with wrong totals, as a bug or a bad restore might.
    let app = AppId::parse("app-a").unwrap();
    let records = store
        .days(&app, window().0.day(), now().day())
        .await
        .unwrap();
    let victim = &records[0];
    let mut wrong = ModeUsage::default();
    wrong.add(
        rtc_usage::domain::usage::RecordMode::Mixed,
        rtc_usage::domain::usage::Tier::V1080,
        123_456,
    );
    assert_eq!(
        store
            .write_day(&app, victim.day, &wrong, victim.seq)
            .await
            .unwrap(),
        WriteDayOutcome::Written
    );
    // The backfill fixture's range, then the whole window for every app.
    let fixture_report = schedule::handle(
        &store,
        &Metrics::disabled(),
        &fixture("rollup-backfill.json"),
        Deadline::none(),
    )
    .await
    .unwrap();
    assert_eq!(fixture_report.mode, "backfill");
    let payload = serde_json::json!({"from": window().0.day().key(), "to": "2026-11-30"});
    let report = schedule::handle(&store, &Metrics::disabled(), &payload, Deadline::none())
        .await
        .unwrap();
    assert!(report.complete);
    assert_eq!(
        report.days_written,
        distinct_days(&segments),
        "days with data only; empty days create nothing"
    );
    check(&store, &segments).await;
    // One app only.
    let one =
        serde_json::json!({"from": window().0.day().key(), "to": "2026-11-23", "appId": "app-b"});
    let report = schedule::handle(&store, &Metrics::disabled(), &one, Deadline::none())
        .await
        .unwrap();
    let app_b_days = distinct_days(
        &segments
            .iter()
            .filter(|s| s.app == "app-b")
            .cloned()
            .collect::<Vec<_>>(),
    );
    assert_eq!(report.days_written, app_b_days);
}

#[tokio::test]
async fn malformed_rollup_payloads_are_refused_and_change_nothing() {
    let (store, meter) = fresh_metered_store().await;
    for bad in [
        serde_json::json!({"from": "2026-11-01"}),
        serde_json::json!({"from": "2026-11-02", "to": "2026-11-01"}),
        serde_json::json!({"from": "2025-01-01", "to": "2026-11-01"}),
        serde_json::json!({"from": "2026-11-31", "to": "2026-12-01"}),
        serde_json::json!({"detail-type": "Something Else", "source": "aws.events"}),
        serde_json::json!("rollup please"),
    ] {
        let err = schedule::handle(&store, &Metrics::disabled(), &bad, Deadline::none())
            .await
            .unwrap_err();
        assert!(err.to_string().starts_with("bad rollup request: "), "{err}");
    }
    assert_eq!(meter.total(), 0, "a refused payload sends no request");
}

#[tokio::test]
async fn an_idle_run_costs_two_requests_and_work_grows_with_changed_days_only() {
    let (store, meter) = fresh_metered_store().await;
    let scheduled = fixture("eventbridge-schedule.json");
    meter.reset();
    let idle = schedule::handle(&store, &Metrics::disabled(), &scheduled, Deadline::none())
        .await
        .unwrap();
    assert_eq!((idle.mode, idle.days_written), ("scheduled", 0));
    // One page of each work list: recording days, then apps to settle.
    assert_eq!(meter.total(), 2, "{:?}", meter.snapshot());
    let segments = ingest_random(&store, 26, 40, &anchors()).await;
    let days = distinct_days(&segments) as u64;
    meter.reset();
    let report = schedule::handle(&store, &Metrics::disabled(), &scheduled, Deadline::none())
        .await
        .unwrap();
    assert_eq!(report.days_written as u64, days);
    let counts = meter.snapshot().requests;
    assert_eq!(counts.get("TransactGetItems"), Some(&days));
    assert_eq!(counts.get("UpdateItem"), Some(&days));
    assert!(meter.total() <= 2 * days + 2 + days / 200, "{counts:?}");
}

#[tokio::test]
async fn retention_attributes_follow_the_data_model() {
    let store = fresh_store().await;
    let segments = ingest_random(&store, 27, 5, &anchors()).await;
    let seg = &segments[0];
    let client = store.client();
    let table = store.table().to_owned();
    let get = |pk: String, sk: String| {
        let request = client
            .get_item()
            .table_name(&table)
            .key("pk", AttributeValue::S(pk))
            .key("sk", AttributeValue::S(sk));
        async move { request.send().await.unwrap().item.unwrap() }
    };
    let app = AppId::parse(&seg.app).unwrap();
    let hour = get(
        rtc_usage::store::dynamo::app_pk(&app),
        rtc_usage::store::dynamo::hour_sk(seg.start.hour()),
    )
    .await;
    let expires = hour["expires_at"].as_n().unwrap().parse::<i64>().unwrap();
    assert_eq!(expires * 1000, seg.start.hour().start().0 + 369 * DAY_MS);
    let key = EventKey::of("/rtc/recorder/test", &seg.id);
    let dedupe = get(rtc_usage::store::dynamo::event_pk(&key), "EVT".into()).await;
    let expires = dedupe["expires_at"].as_n().unwrap().parse::<i64>().unwrap();
    assert_eq!(expires, (seg.start.0 + 367 * DAY_MS).div_euclid(1000));
    let day = get(
        rtc_usage::store::dynamo::app_pk(&app),
        rtc_usage::store::dynamo::day_sk(seg.start.day()),
    )
    .await;
    assert!(!day.contains_key("expires_at"), "daily aggregates are kept");
    let ttl = client
        .describe_time_to_live()
        .table_name(store.table())
        .send()
        .await
        .unwrap();
    assert_eq!(
        ttl.time_to_live_description()
            .and_then(|d| d.attribute_name()),
        Some("expires_at")
    );
}
