//! Failure soak: several ingest workers and a rollup loop run at once against
//! the local DynamoDB API, through a store wrapper that fails a share of all
//! calls (before and after they land, throttling, stale reads), with SQS-like
//! redelivery of everything reported failed. At the end the stored hourly and
//! daily totals must equal a reference computed from the events alone.
//!
//! `scripts/soak [seconds]` (release); CI runs it for a minute in debug.
//! Bounded: producers stop at the deadline, workers drain, and the whole run
//! gives up (failing) at three times the deadline.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rtc_usage::domain::ids::AppId;
use rtc_usage::domain::rollup::RollupRequest;
use rtc_usage::domain::time::{DAY_MS, Day, HOUR_MS, Hour, UtcMillis};
use rtc_usage::domain::usage::{ModeUsage, RecordMode, Tier};
use rtc_usage::service::ingest::{FailureKind, InboundMessage, RetryPolicy, ingest_batch};
use rtc_usage::service::rollup::{Deadline, run_rollup};
use rtc_usage::store::UsageStore;
use rtc_usage::store::dynamo::DynamoStore;
use rtc_usage::store::faulty::{FaultPlan, FaultyStore};
use rtc_usage::testkit::{LocalDynamo, register_apps};
use serde_json::json;
use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const APPS: usize = 20;
const WORKERS: usize = 4;
const BATCH: usize = 10;

#[derive(Default)]
struct Shared {
    queue: Mutex<VecDeque<InboundMessage>>,
    producing: AtomicBool,
    deliveries: AtomicU64,
    redeliveries: AtomicU64,
    counted: AtomicU64,
    duplicates: AtomicU64,
    retries: AtomicU64,
    invocations: AtomicU64,
    rollup_runs: AtomicU64,
    reference: Mutex<BTreeMap<(String, Hour), ModeUsage>>,
}

fn plan(seed: u64) -> FaultPlan {
    FaultPlan {
        fail_before_per_mille: 50,
        fail_after_per_mille: 50,
        throttle_per_mille: 50,
        stale_reads_per_mille: 100,
        seed,
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let seconds: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(120);
    let local = LocalDynamo::start();
    let store = Arc::new(FaultyStore::new(local.fresh_store(None).await, plan(7)));
    register_apps(
        store.inner(),
        (0..APPS).map(|a| format!("soak-{a}")),
        "111122223333",
    )
    .await;
    let now = UtcMillis::now();
    let shared = Arc::new(Shared::default());
    shared.producing.store(true, Ordering::SeqCst);
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);

    let producer = tokio::spawn(produce(shared.clone(), now, deadline));
    let workers: Vec<_> = (0..WORKERS)
        .map(|w| tokio::spawn(work(shared.clone(), store.clone(), now, w as u64)))
        .collect();
    let rollups = tokio::spawn(roll_while_working(shared.clone(), store.clone()));
    producer.await.unwrap();
    for worker in workers {
        worker.await.unwrap();
    }
    rollups.await.unwrap();
    let elapsed = started.elapsed();

    // The faults stop; what is marked gets rolled; then compare everything.
    store.set_plan(FaultPlan::default());
    loop {
        let report = run_rollup(store.as_ref(), &RollupRequest::Scheduled, Deadline::none()).await;
        if report.complete && report.days_deferred == 0 {
            break;
        }
    }
    let (hours_checked, days_checked) = verify(store.inner(), &shared, now).await;

    let counts = &store.counts;
    let unique = shared.reference.lock().unwrap().len();
    println!(
        "# Failure soak: {seconds} s, {WORKERS} ingest workers + a rollup loop, batches of up to {BATCH}"
    );
    let deliveries = shared.deliveries.load(Ordering::Relaxed);
    let rows = [
        (
            "distinct events counted",
            shared.counted.load(Ordering::Relaxed),
        ),
        ("deliveries (10% sent twice, plus redeliveries)", deliveries),
        (
            "deliveries/s",
            (deliveries as f64 / elapsed.as_secs_f64()) as u64,
        ),
        (
            "duplicates skipped",
            shared.duplicates.load(Ordering::Relaxed),
        ),
        (
            "messages redelivered after a reported failure",
            shared.redeliveries.load(Ordering::Relaxed),
        ),
        (
            "store calls retried inside an invocation",
            shared.retries.load(Ordering::Relaxed),
        ),
        ("store calls", counts.calls.load(Ordering::Relaxed)),
        (
            "faults: failed before taking effect",
            counts.failed_before.load(Ordering::Relaxed),
        ),
        (
            "faults: took effect, reported failed",
            counts.failed_after.load(Ordering::Relaxed),
        ),
        (
            "faults: throttled",
            counts.throttled.load(Ordering::Relaxed),
        ),
        (
            "faults: stale pre-check reads",
            counts.stale_reads.load(Ordering::Relaxed),
        ),
        (
            "rollup runs during the soak",
            shared.rollup_runs.load(Ordering::Relaxed),
        ),
    ];
    println!("| figure | value |\n| --- | --- |");
    for (figure, value) in rows {
        println!("| {figure} | {value} |");
    }
    println!(
        "| (app, hour) totals checked / (app, day) totals checked | {hours_checked} / {days_checked} |"
    );
    println!(
        "| result | every total equals the reference: nothing lost, nothing counted twice ({unique} (app, hour) buckets) |"
    );
}

async fn produce(shared: Arc<Shared>, now: UtcMillis, deadline: Instant) {
    let mut rng = StdRng::seed_from_u64(11);
    let mut n = 0u64;
    while Instant::now() < deadline {
        // Keep the queue short so the run measures throughput, not a backlog.
        if shared.queue.lock().unwrap().len() > 200 {
            tokio::time::sleep(Duration::from_millis(5)).await;
            continue;
        }
        let app = format!("soak-{}", rng.random_range(0..APPS));
        let ms = rng.random_range(1_000..2 * HOUR_MS);
        let start = now.minus_ms(rng.random_range(ms..3 * DAY_MS));
        let mode = RecordMode::ALL[rng.random_range(0..2)];
        let tier = Tier::ALL[rng.random_range(0..4)];
        let (media, size) = match tier {
            Tier::Audio => ("audio", (0, 0)),
            Tier::V480 => ("video", (640, 480)),
            Tier::V720 => ("video", (1280, 720)),
            Tier::V1080 => ("video", (1920, 1080)),
        };
        let body = json!({"specversion": "1.0", "id": format!("soak-{n}"), "source": "/soak", "type": "rtc.recording.segment",
            "data": {"appId": app, "recordMode": mode.as_str(), "media": media, "width": size.0.max(1), "height": size.1.max(1),
                     "startTime": start.to_datetime().to_rfc3339(), "endTime": start.plus_ms(ms).to_datetime().to_rfc3339()}})
        .to_string();
        {
            let mut reference = shared.reference.lock().unwrap();
            let mut from = start;
            while from < start.plus_ms(ms) {
                let to = from.hour().end().min(start.plus_ms(ms));
                reference
                    .entry((app.clone(), from.hour()))
                    .or_default()
                    .add(mode, tier, (to.0 - from.0) as u64);
                from = to;
            }
        }
        let copies = if rng.random_bool(0.1) { 2 } else { 1 };
        let mut queue = shared.queue.lock().unwrap();
        for c in 0..copies {
            queue.push_back(InboundMessage {
                message_id: format!("{n}-{c}"),
                body: Some(body.clone()),
            });
        }
        n += 1;
    }
    shared.producing.store(false, Ordering::SeqCst);
}

async fn work(
    shared: Arc<Shared>,
    store: Arc<FaultyStore<DynamoStore>>,
    now: UtcMillis,
    seed: u64,
) {
    let mut rng = StdRng::seed_from_u64(100 + seed);
    let give_up = Instant::now() + Duration::from_secs(3 * 600);
    loop {
        assert!(Instant::now() < give_up, "the soak does not drain");
        let batch: Vec<InboundMessage> = {
            let mut queue = shared.queue.lock().unwrap();
            let take = rng.random_range(1..=BATCH).min(queue.len());
            queue.drain(..take).collect()
        };
        if batch.is_empty() {
            if !shared.producing.load(Ordering::SeqCst) && shared.queue.lock().unwrap().is_empty() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
            continue;
        }
        let policy = RetryPolicy {
            rounds: 3,
            first_backoff: Duration::from_millis(2),
        };
        let report = ingest_batch(store.as_ref(), &batch, now, policy).await;
        shared.invocations.fetch_add(1, Ordering::Relaxed);
        shared
            .deliveries
            .fetch_add(batch.len() as u64, Ordering::Relaxed);
        shared
            .counted
            .fetch_add(report.counted as u64, Ordering::Relaxed);
        shared
            .duplicates
            .fetch_add(report.duplicates as u64, Ordering::Relaxed);
        shared
            .retries
            .fetch_add(report.retries as u64, Ordering::Relaxed);
        for failure in report.failures {
            assert_ne!(
                failure.kind,
                FailureKind::Invalid,
                "a valid event was refused: {}",
                failure.reason
            );
            let message = batch
                .iter()
                .find(|m| m.message_id == failure.message_id)
                .unwrap()
                .clone();
            shared.redeliveries.fetch_add(1, Ordering::Relaxed);
            shared.queue.lock().unwrap().push_back(message);
        }
    }
}

async fn roll_while_working(shared: Arc<Shared>, store: Arc<FaultyStore<DynamoStore>>) {
    while shared.producing.load(Ordering::SeqCst) || !shared.queue.lock().unwrap().is_empty() {
        let deadline = Deadline::before(Instant::now() + Duration::from_secs(2), Duration::ZERO);
        run_rollup(store.as_ref(), &RollupRequest::Scheduled, deadline).await;
        shared.rollup_runs.fetch_add(1, Ordering::Relaxed);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Every (app, hour) and (app, day) total equals the reference, to the millisecond.
async fn verify(store: &DynamoStore, shared: &Shared, now: UtcMillis) -> (usize, usize) {
    let reference = shared.reference.lock().unwrap().clone();
    let first = now.minus_ms(4 * DAY_MS);
    let (mut hours_checked, mut days_checked) = (0, 0);
    for a in 0..APPS {
        let app = format!("soak-{a}");
        let id = AppId::parse(&app).unwrap();
        let stored: BTreeMap<Hour, ModeUsage> = store
            .hours(&id, first.hour(), now.hour())
            .await
            .unwrap()
            .into_iter()
            .map(|h| (h.hour, h.usage))
            .collect();
        let expected: BTreeMap<Hour, ModeUsage> = reference
            .iter()
            .filter(|((a, _), _)| *a == app)
            .map(|((_, h), u)| (*h, *u))
            .collect();
        assert_eq!(stored, expected, "hourly totals of {app}");
        hours_checked += expected.len();
        let mut expected_days: BTreeMap<Day, ModeUsage> = BTreeMap::new();
        for (hour, usage) in &expected {
            *expected_days.entry(hour.day()).or_default() += *usage;
        }
        let records = store.days(&id, first.day(), now.day()).await.unwrap();
        assert_eq!(
            records.len(),
            expected_days.len(),
            "days with usage of {app}"
        );
        for record in records {
            assert!(record.is_rolled(), "{app} {} not rolled", record.day.key());
            assert_eq!(
                Some(&record.rolled),
                expected_days.get(&record.day),
                "daily totals of {app} {}",
                record.day.key()
            );
            days_checked += 1;
        }
    }
    (hours_checked, days_checked)
}
