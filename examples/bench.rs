//! The benchmark suite: cost per event, query cost, rollup cost, a busy
//! class (its app in UTC and in other billing time zones), a year of class
//! history (in UTC and in Asia/Shanghai), recording details and the caller's
//! apps, cold start, what an Alibaba-signed request's check adds, against
//! the local DynamoDB API, with the naive design beside ours in the same
//! run. Run it with `scripts/bench` (release build, full workload) or
//! `scripts/bench --quick` (debug build, small workload; CI runs this so the
//! suite never rots); `--only 4,5` runs those sections alone.
//! Figures are printed, never asserted; what is asserted is that every
//! design and every answer counts exactly what was sent.

use aws_sdk_dynamodb::types::AttributeValue;
use futures::stream::{self, StreamExt};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rtc_usage::bus::AlertBus;
use rtc_usage::bus::memory::RecordingBus;
use rtc_usage::domain::class::UsageType;
use rtc_usage::domain::commit::{Acknowledged, Known, Zones};
use rtc_usage::domain::commit::{NewEvent, RowKey, plan_commits};
use rtc_usage::domain::event::{EventBody, decode};
use rtc_usage::domain::ids::{AccountId, AppId, ClassId, Name};
use rtc_usage::domain::query::QueryParams;
use rtc_usage::domain::registration::RegistrationRequest;
use rtc_usage::domain::rollup::RollupRequest;
use rtc_usage::domain::statement::DEFAULT_GRACE_SECONDS;
use rtc_usage::domain::time::{DAY_MS, Day, HOUR_MS, MINUTE_MS, UtcMillis};
use rtc_usage::domain::zone::BillingZone;
use rtc_usage::service::alerts::{AlertReport, Check, PublishPolicy, check_apps};
use rtc_usage::service::ingest::{InboundMessage, RetryPolicy, ingest_batch};
use rtc_usage::service::query::{Answer, answer};
use rtc_usage::service::rollup::{Deadline, run_rollup};
use rtc_usage::service::turns::TurnPolicy;
use rtc_usage::store::dynamo::{
    CapacityUse, DynamoStore, REGISTRATION_SK, RequestMeter, av_row_sk, item_size,
};
use rtc_usage::store::{CommitOutcome, RegisterOutcome, UsageStore};
use rtc_usage::testkit::{LocalBus, LocalDynamo, register_apps};
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const OWNER: &str = "111122223333";

#[path = "bench_support/hot_app.rs"]
mod hot_app;

struct Scale {
    events: usize,
    apps: usize,
    queries: usize,
    launches: usize,
    /// Sessions of the busy class, and how many users bring them.
    class_sessions: usize,
    class_users: usize,
    /// Sessions pulled by the concurrent invocations of section 12, at
    /// least, and at least this many batches for each invocation.
    hot_app_sessions: usize,
    hot_app_batches_each: usize,
    /// The year of history: days, classes a day, messages per batch.
    history_days: i64,
    history_classes: usize,
    history_batch: usize,
    /// A month of recordings: classes a day (each recorded in both modes).
    recording_classes: usize,
    /// `DescribeApps`: the caller's apps, and the other accounts' apps in
    /// the table at each measurement (ascending).
    caller_apps: usize,
    other_apps: [usize; 3],
}

#[tokio::main]
async fn main() {
    // An answer that fails says only InternalError; the error log says why.
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(tracing::Level::ERROR)
        .init();
    let quick = std::env::args().any(|a| a == "--quick");
    let scale = if quick {
        Scale {
            events: 100,
            apps: 20,
            queries: 20,
            launches: 3,
            class_sessions: 100,
            class_users: 30,
            hot_app_sessions: 1_200,
            hot_app_batches_each: 0,
            // Longer than the 31-day window, as in the full run, so the
            // answers take the same path.
            history_days: 35,
            history_classes: 3,
            history_batch: 100,
            recording_classes: 3,
            caller_apps: 50,
            other_apps: [50, 500, 1_950],
        }
    } else {
        Scale {
            events: 1_000,
            apps: 200,
            queries: 200,
            launches: 20,
            class_sessions: 1_000,
            class_users: 300,
            hot_app_sessions: 6_000,
            hot_app_batches_each: 8,
            history_days: 300,
            history_classes: 30,
            history_batch: 100,
            recording_classes: 30,
            caller_apps: 1_000,
            other_apps: [1_000, 10_000, 99_000],
        }
    };
    let local = LocalDynamo::start();
    // `--cold-start [DIR]`: the cold start section alone, and with DIR, the
    // same binaries of another build launched in turn with these.
    let args: Vec<String> = std::env::args().collect();
    if let Some(at) = args.iter().position(|a| a == "--cold-start") {
        let other = args.get(at + 1).filter(|a| !a.starts_with("--"));
        cold_start(&local, &scale, other.map(PathBuf::from).as_deref());
        return;
    }
    let now = UtcMillis::now();
    println!(
        "# rtc-usage benchmark ({} mode), {}",
        if quick { "quick" } else { "full" },
        now.format_query_time()
    );
    println!(
        "machine: {} cores; local DynamoDB API: Amazon DynamoDB Local (in memory) on loopback\n",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );

    // `--only 4,5`: those sections alone (2 and 3 need 1's table, so any of
    // them runs all three).
    let only: Option<Vec<u32>> = args.iter().position(|a| a == "--only").map(|at| {
        args.get(at + 1)
            .expect("--only takes section numbers: --only 4,5")
            .split(',')
            .map(|n| n.trim().parse().expect("a section number"))
            .collect()
    });
    let wanted = |section: u32| only.as_ref().is_none_or(|only| only.contains(&section));
    if wanted(1) || wanted(2) || wanted(3) {
        ingest_query_rollup(&local, &scale, now).await;
    }
    if wanted(4) {
        busy_class(&local, &scale, now).await;
    }
    if wanted(5) {
        history_in_zones(&local, &scale).await;
    }
    if wanted(6) {
        recordings_and_apps(&local, &scale, now).await;
    }
    if wanted(7) {
        cold_start(&local, &scale, None);
    }
    if wanted(8) {
        signed_access(&local, &scale, now).await;
    }
    if wanted(9) {
        voids(&local, &scale, now).await;
    }
    if wanted(10) {
        statements(&local, &scale).await;
    }
    if wanted(11) {
        alerts(&local, &scale, now).await;
    }
    if wanted(12) {
        hot_app_at_scale(&scale, now).await;
    }
}

/// Sections 1 to 3: the ingest cost of both designs, then the query and
/// rollup cost over the busy app's table.
async fn ingest_query_rollup(local: &LocalDynamo, scale: &Scale, now: UtcMillis) {
    let busy = busy_workload(scale, now);
    let spread = spread_workload(scale, now);
    println!(
        "## 1. Ingest cost (10% of events delivered twice; units and requests per distinct event)\n"
    );
    println!(
        "| workload | design | write units/event | requests/event | read units/event | events/s |"
    );
    println!("| --- | --- | --- | --- | --- | --- |");
    let mut busy_store = None;
    let mut busy_units = Vec::new();
    // (c) is (a) in the deployed batch size: SQS hands the function up to 100
    // messages, so a busy app's transaction holds up to 98 events.
    let both = [Design::Coalesced, Design::Naive];
    for (name, workload, batch, designs) in [
        ("(a) busy app, 1 hour, batches of 10", &busy, 10, &both[..]),
        ("(b) spread, 48 h, batches of 10", &spread, 10, &both[..]),
        (
            "(c) busy app, 1 hour, batches of 100",
            &busy,
            100,
            &both[..1],
        ),
    ] {
        let mut per_event = Vec::new();
        for &design in designs {
            let (store, meter) = metered_store(local).await;
            register_apps(&store, &workload.apps, OWNER).await;
            meter.reset();
            let started = Instant::now();
            deliver(&store, design, &workload.deliveries, batch, now).await;
            let elapsed = started.elapsed().as_secs_f64();
            let used = meter.snapshot();
            let events = workload.unique as f64;
            let wcu = used.write_units / events;
            println!(
                "| {name} | {} | {:.2} | {:.2} | {:.2} | {:.0} |",
                design.label(),
                wcu,
                used.total_requests() as f64 / events,
                used.read_units / events,
                workload.deliveries.len() as f64 / elapsed
            );
            per_event.push(wcu);
            if design == Design::Coalesced && name.contains("busy") {
                busy_units.push((batch, wcu));
            }
            check_same_totals(&store, workload).await;
            if design == Design::Coalesced && name.starts_with("(a)") {
                busy_store = Some((store, meter));
            }
        }
        if let [ours, naive] = per_event[..] {
            println!("| {name} | naive ÷ ours | {:.2}× | | | |", naive / ours);
        }
    }
    let busy_units: Vec<String> = busy_units
        .iter()
        .map(|(batch, wcu)| format!("{wcu:.2} in batches of {batch}"))
        .collect();
    println!(
        "\nBusy app, ours, write units per distinct event: {} (by formula, full batches of 100 \
         hold 98 events: (98 + 2) × 2 / 98 ≈ 2.04).",
        busy_units.join(", ")
    );
    let (store, meter) = busy_store.expect("busy store");
    let (largest, _) = largest_item(&store).await;
    println!(
        "Largest item written: {largest} bytes (≤ 1,024: every write is one unit, two in a transaction).\n"
    );

    query_and_rollup_cost(&store, &meter, &busy, scale, now).await;
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Design {
    Coalesced,
    Naive,
}

impl Design {
    fn label(self) -> &'static str {
        match self {
            Design::Coalesced => "ours: pre-check + one transaction per batch",
            Design::Naive => "naive: one transaction per event",
        }
    }
}

struct Workload {
    apps: Vec<String>,
    deliveries: Vec<String>,
    unique: usize,
    /// (app, first hour, last hour, total ms) to check both designs agree.
    total_ms: u64,
}

fn segment(id: String, app: &str, start: UtcMillis, ms: i64, rng: &mut StdRng) -> String {
    let (media, size) = match rng.random_range(0..4) {
        0 => ("audio", (0, 0)),
        1 => ("video", (640, 480)),
        2 => ("video", (1280, 720)),
        _ => ("video", (1920, 1080)),
    };
    let mut data = json!({"appId": app, "recordMode": if rng.random_bool(0.5) { "0" } else { "1" }, "media": media,
        "startTime": start.to_datetime().to_rfc3339(), "endTime": start.plus_ms(ms).to_datetime().to_rfc3339()});
    if media == "video" {
        data["width"] = json!(size.0);
        data["height"] = json!(size.1);
    }
    json!({"specversion": "1.0", "id": id, "source": "/bench/recorder", "type": "rtc.recording.segment", "data": data}).to_string()
}

/// Every event once, 10% of them twice, shuffled.
fn with_redeliveries(rng: &mut StdRng, mut events: Vec<String>) -> Vec<String> {
    let again: Vec<String> = events
        .iter()
        .filter(|_| rng.random_bool(0.1))
        .cloned()
        .collect();
    events.extend(again);
    events.shuffle(rng);
    events
}

fn busy_workload(scale: &Scale, now: UtcMillis) -> Workload {
    let mut rng = StdRng::seed_from_u64(1);
    let hour = now.minus_ms(2 * HOUR_MS).hour().start();
    let mut total_ms = 0;
    let events = (0..scale.events)
        .map(|i| {
            let ms = rng.random_range(1_000..300_000);
            total_ms += ms as u64;
            let start = hour.plus_ms(rng.random_range(0..HOUR_MS - ms));
            segment(format!("busy-{i}"), "busy-app", start, ms, &mut rng)
        })
        .collect();
    Workload {
        apps: vec!["busy-app".into()],
        deliveries: with_redeliveries(&mut rng, events),
        unique: scale.events,
        total_ms,
    }
}

fn spread_workload(scale: &Scale, now: UtcMillis) -> Workload {
    let mut rng = StdRng::seed_from_u64(2);
    let apps: Vec<String> = (0..scale.apps).map(|i| format!("app-{i:03}")).collect();
    // Zipf-like popularity: app k is chosen with weight 1/(k+1).
    let weights: Vec<f64> = (0..apps.len()).map(|k| 1.0 / (k as f64 + 1.0)).collect();
    let sum: f64 = weights.iter().sum();
    let mut total_ms = 0;
    let events = (0..scale.events)
        .map(|i| {
            let mut pick = rng.random_range(0.0..sum);
            let app = weights.iter().position(|w| {
                pick -= w;
                pick < 0.0
            });
            let app = &apps[app.unwrap_or(0)];
            // Recording segments of 10 s to 20 min, log-uniform.
            let ms = (10_000f64 * 120f64.powf(rng.random_range(0.0..1.0))) as i64;
            total_ms += ms as u64;
            let start = now.minus_ms(rng.random_range(ms..48 * HOUR_MS));
            segment(format!("spread-{i}"), app, start, ms, &mut rng)
        })
        .collect();
    Workload {
        apps,
        deliveries: with_redeliveries(&mut rng, events),
        unique: scale.events,
        total_ms,
    }
}

async fn metered_store(local: &LocalDynamo) -> (DynamoStore, RequestMeter) {
    let meter = RequestMeter::default();
    (local.fresh_store(Some(&meter)).await, meter)
}

/// Hands the deliveries to the function `batch` messages at a time, in order.
async fn deliver(
    store: &DynamoStore,
    design: Design,
    deliveries: &[String],
    batch: usize,
    now: UtcMillis,
) {
    for (b, batch) in deliveries.chunks(batch).enumerate() {
        let messages: Vec<InboundMessage> = batch
            .iter()
            .enumerate()
            .map(|(i, body)| InboundMessage {
                message_id: format!("{b}-{i}"),
                body: Some(body.clone()),
            })
            .collect();
        match design {
            Design::Coalesced => {
                let report = ingest_batch(store, &messages, now, RetryPolicy::default()).await;
                assert!(report.failures.is_empty(), "{:?}", report.failures);
            }
            Design::Naive => naive_batch(store, &messages, now).await,
        }
    }
}

/// The design this service replaces: one transaction per event (its dedupe
/// record and each item it adds to), no pre-check, no coalescing. A session
/// also changes its user's mark, conditionally: when the user was counted in
/// the row before, the transaction is cancelled, the mark read, and the
/// transaction sent again (reading nothing first, the design learns it only
/// from the cancellation).
async fn naive_batch(store: &DynamoStore, messages: &[InboundMessage], now: UtcMillis) {
    let limit = <DynamoStore as UsageStore>::MAX_COMMIT_ACTIONS;
    for message in messages {
        let event = decode(message.body.as_deref().unwrap_or_default(), now).expect("valid event");
        let new = match event.body {
            EventBody::RecordingSegment(segment) => NewEvent::segment(event.key, segment),
            EventBody::ClassSession(session) => NewEvent::session(event.key, session),
            _ => continue,
        };
        let mut known = Known::new();
        let ack = Acknowledged {
            at: now,
            grace_seconds: DEFAULT_GRACE_SECONDS,
        };
        loop {
            let zones = Zones::from([(new.app().clone(), BillingZone::utc())]);
            let [group] = &plan_commits([&new], &known, &zones, &ack, limit)[..] else {
                panic!("one event is one transaction");
            };
            match store.commit(group).await.expect("commit") {
                // The marks' counts are read only after the cancellation.
                CommitOutcome::UsersSeen(users) => {
                    known.extend(store.seen(&[], &users).await.expect("read marks").users)
                }
                // A redelivery is cancelled by its dedupe record: counted before.
                CommitOutcome::Committed | CommitOutcome::AlreadyCounted(_) => break,
                CommitOutcome::ZoneFixed | CommitOutcome::VoidTargetChanged => {
                    unreachable!("every app's zone is given, and no void runs")
                }
            }
        }
    }
}

/// Both designs must count the same milliseconds.
async fn check_same_totals(store: &DynamoStore, workload: &Workload) {
    let now = UtcMillis::now();
    let mut total = 0;
    for app in &workload.apps {
        let hours = store
            .hours(
                &AppId::parse(app).unwrap(),
                now.minus_ms(3 * DAY_MS).hour(),
                now.hour(),
            )
            .await
            .unwrap();
        total += hours
            .iter()
            .map(|h| h.usage.0.iter().map(|t| t.total()).sum::<u64>())
            .sum::<u64>();
    }
    assert_eq!(
        total, workload.total_ms,
        "a design lost or double-counted usage"
    );
}

/// The largest item stored, by DynamoDB's size rules, and its key.
async fn largest_item(store: &DynamoStore) -> (usize, String) {
    largest_item_where(store, |_| true).await
}

/// The largest stored item whose sort key `wanted` accepts, and its key.
async fn largest_item_where(store: &DynamoStore, wanted: impl Fn(&str) -> bool) -> (usize, String) {
    let mut largest = (0, String::new());
    let mut start = None;
    loop {
        let page = store
            .client()
            .scan()
            .table_name(store.table())
            .set_exclusive_start_key(start)
            .send()
            .await
            .unwrap();
        for item in page.items() {
            let sk = match item.get("sk") {
                Some(AttributeValue::S(sk)) => sk.as_str(),
                _ => "",
            };
            if !wanted(sk) {
                continue;
            }
            let as_json: serde_json::Map<String, serde_json::Value> = item
                .iter()
                .map(|(k, v)| (k.clone(), attribute_json(v)))
                .collect();
            let size = item_size(&serde_json::Value::Object(as_json));
            if size > largest.0 {
                let pk = match item.get("pk") {
                    Some(AttributeValue::S(pk)) => pk.as_str(),
                    _ => "",
                };
                largest = (size, format!("{pk} / {sk}"));
            }
        }
        start = page.last_evaluated_key;
        if start.is_none() {
            return largest;
        }
    }
}

/// An attribute value in DynamoDB's JSON form, which `item_size` measures.
fn attribute_json(value: &AttributeValue) -> serde_json::Value {
    match value {
        AttributeValue::S(s) => json!({"S": s}),
        AttributeValue::N(n) => json!({"N": n}),
        AttributeValue::Ss(set) => json!({"SS": set}),
        AttributeValue::Ns(set) => json!({"NS": set}),
        AttributeValue::Bool(b) => json!({"BOOL": b}),
        AttributeValue::Null(_) => json!({"NULL": true}),
        AttributeValue::L(list) => {
            json!({"L": list.iter().map(attribute_json).collect::<Vec<_>>()})
        }
        AttributeValue::M(map) => json!({"M": map
            .iter()
            .map(|(k, v)| (k.clone(), attribute_json(v)))
            .collect::<serde_json::Map<_, _>>()}),
        // Binary values are not stored by this service; count their bytes.
        AttributeValue::B(bytes) => json!({"B": "x".repeat(bytes.as_ref().len())}),
        other => json!({"S": format!("{other:?}")}),
    }
}

fn query(app: &str, from: UtcMillis, to: UtcMillis, interval: &str) -> QueryParams {
    QueryParams::from_pairs([
        ("Action", "DescribeLiveRtcRecordUsageData"),
        ("AppId", app),
        ("StartTime", &from.format_query_time()),
        ("EndTime", &to.format_query_time()),
        ("RecordMode", "0"),
        ("Interval", interval),
    ])
}

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    samples[((samples.len() - 1) as f64 * p).round() as usize]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

async fn query_and_rollup_cost(
    store: &DynamoStore,
    meter: &RequestMeter,
    busy: &Workload,
    scale: &Scale,
    now: UtcMillis,
) {
    let app = AppId::parse(&busy.apps[0]).unwrap();
    let end = now.hour().start();
    let start = end.minus_ms(31 * DAY_MS);
    let hourly = query(app.as_str(), start, end, "3600");
    let daily = query(
        app.as_str(),
        start.day().start(),
        start.day().start().plus_ms(31 * DAY_MS),
        "86400",
    );
    let cost = |params: &QueryParams| {
        let params = params.clone();
        async move {
            meter.reset();
            let (_, answered) = answer(store, Some(OWNER), &params, "bench", now)
                .await
                .expect("query");
            let Answer::RecordUsage(report) = answered else {
                panic!("a record usage answer");
            };
            let used = meter.snapshot();
            format!(
                "{} | {} | {}",
                report.data.len(),
                used.total_requests(),
                used.read_units
            )
        }
    };
    let latency = |params: &QueryParams| {
        let params = params.clone();
        async move {
            let mut samples = Vec::new();
            for _ in 0..scale.queries {
                let t = Instant::now();
                answer(store, Some(OWNER), &params, "bench", now)
                    .await
                    .expect("query");
                samples.push(t.elapsed());
            }
            (
                percentile(&mut samples, 0.5),
                percentile(&mut samples, 0.99),
            )
        }
    };
    let mut floor = Vec::new();
    for _ in 0..scale.queries {
        let t = Instant::now();
        store.owner_of(&app).await.unwrap();
        floor.push(t.elapsed());
    }
    let floor_p50 = percentile(&mut floor, 0.5);

    println!("## 2. Query cost (31-day windows of the busy app; strongly consistent reads)\n");
    println!("| data | query | points | requests | read units |");
    println!("| --- | --- | --- | --- | --- |");
    let mut latencies = Vec::new();
    let mut rollups = Vec::new();
    // First the busy app as ingested (one busy hour), then with a month of
    // history added (a segment in every hour): the most a 31-day query reads.
    for data in ["one busy hour", "a month of hours"] {
        if data == "a month of hours" {
            let mut rng = StdRng::seed_from_u64(3);
            let history: Vec<String> = (0..31 * 24)
                .map(|h| {
                    segment(
                        format!("history-{h}"),
                        app.as_str(),
                        start.plus_ms(h * HOUR_MS + 60_000),
                        60_000,
                        &mut rng,
                    )
                })
                .collect();
            deliver(store, Design::Coalesced, &history, 10, now).await;
        }
        println!("| {data} | Interval=3600 | {} |", cost(&hourly).await);
        println!(
            "| {data} | Interval=86400, before the rollup | {} |",
            cost(&daily).await
        );
        meter.reset();
        let rolled = run_rollup(store, &RollupRequest::Scheduled, Deadline::none()).await;
        rollups.push((
            data,
            rolled.days_written,
            rolled.aggregates_written,
            meter.snapshot().total_requests(),
        ));
        println!(
            "| {data} | Interval=86400, after the rollup | {} |",
            cost(&daily).await
        );
        latencies.push((data, "Interval=3600", latency(&hourly).await));
        latencies.push((
            data,
            "bare Query of the same 744 hours",
            bare_reads(scale, || {
                store.hours(&app, start.hour(), end.minus_ms(1).hour())
            })
            .await,
        ));
        latencies.push((data, "Interval=86400", latency(&daily).await));
        latencies.push((
            data,
            "bare Query of the same 31 days",
            bare_reads(scale, || {
                store.days(
                    &app,
                    start.day(),
                    rtc_usage::domain::time::Day(start.day().0 + 30),
                )
            })
            .await,
        ));
    }

    println!(
        "\nHandler latency over {} queries each, next to a bare GetItem to the same local server (the floor):\n",
        scale.queries
    );
    println!("| data | query | p50 | p99 | p50 ÷ floor |");
    println!("| --- | --- | --- | --- | --- |");
    println!(
        "| | bare GetItem (floor) | {} | {} | 1.00 |",
        ms(floor_p50),
        ms(percentile(&mut floor, 0.99))
    );
    for (data, label, (p50, p99)) in latencies {
        if label.starts_with("bare") {
            println!(
                "| {data} | {label} | {} | {} | {:.2} |",
                ms(p50),
                ms(p99),
                p50.as_secs_f64() / floor_p50.as_secs_f64()
            );
            continue;
        }
        println!(
            "| {data} | {label} | {} | {} | {:.2} |",
            ms(p50),
            ms(p99),
            p50.as_secs_f64() / floor_p50.as_secs_f64()
        );
    }

    println!("\n## 3. Rollup cost\n");
    println!(
        "| data | changed (app, day) | requests | per changed (app, day) | per (app, mode, day) |"
    );
    println!("| --- | --- | --- | --- | --- |");
    for (data, days, aggregates, requests) in rollups {
        println!(
            "| {data} | {days} | {requests} | {:.2} | {:.2} |",
            requests as f64 / days.max(1) as f64,
            requests as f64 / aggregates.max(1) as f64
        );
    }
    meter.reset();
    run_rollup(store, &RollupRequest::Scheduled, Deadline::none()).await;
    println!(
        "\nA run with nothing to do: {} request(s).\n",
        meter.snapshot().total_requests()
    );
}

/// p50 and p99 of a store read alone: the server's share of a query.
async fn bare_reads<F, Fut, T>(scale: &Scale, read: F) -> (Duration, Duration)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = rtc_usage::store::StoreResult<T>>,
{
    let mut samples = Vec::new();
    for _ in 0..scale.queries {
        let t = Instant::now();
        read().await.expect("read");
        samples.push(t.elapsed());
    }
    (
        percentile(&mut samples, 0.5),
        percentile(&mut samples, 0.99),
    )
}

const CLASS_APP: &str = "class-app";
const CLASS_SOURCE: &str = "/bench/classroom";

/// A `rtc.class.session` of `user` (a teacher when the id says so).
fn session_event(
    id: &str,
    app: &str,
    class: &str,
    user: &str,
    usage: &str,
    start: UtcMillis,
    end: UtcMillis,
) -> String {
    let role = if user.starts_with("teacher") {
        "teacher"
    } else {
        "student"
    };
    json!({"specversion": "1.0", "id": id, "source": CLASS_SOURCE, "type": "rtc.class.session",
        "data": {"appId": app, "classId": class, "userId": user, "role": role, "usageType": usage,
                 "startTime": start.to_datetime().to_rfc3339(), "endTime": end.to_datetime().to_rfc3339()}})
    .to_string()
}

/// Sessions of one class, and what its rows must say once they are counted.
struct ClassWorkload {
    deliveries: Vec<String>,
    unique: usize,
    users: usize,
    /// Per (local) day the sessions touch: the row's milliseconds and its
    /// users.
    expected: BTreeMap<Day, (u64, BTreeSet<String>)>,
    /// UTC hours the two hours touch.
    utc_hours: usize,
}

/// Where a busy class's two hours lie in its app's calendar. A class across
/// a local midnight has a row and user marks on each day, so each placement
/// is chosen from the time of day to measure the same shape in every run.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ClassHours {
    /// Two whole UTC hours inside one local day (in a zone with a part-hour
    /// offset, each holds a local hour's start: the hour's cut).
    UtcHoursInOneDay,
    /// Two local clock hours inside one local day.
    LocalHoursInOneDay,
    /// Two hours from a UTC half hour, inside one local day: three UTC hours.
    HalfPastInOneDay,
    /// The local clock hour before a local midnight and the one after it.
    AcrossMidnight,
}

impl ClassHours {
    fn label(self) -> &'static str {
        match self {
            ClassHours::UtcHoursInOneDay => "2 whole UTC hours in one local day",
            ClassHours::LocalHoursInOneDay => "2 local clock hours in one local day",
            ClassHours::HalfPastInOneDay => "2 hours from a UTC half hour, in one local day",
            ClassHours::AcrossMidnight => "across a local midnight (1 local hour each side)",
        }
    }

    /// The first instant of the two hours: hours that have passed.
    fn first(self, zone: &BillingZone, now: UtcMillis) -> UtcMillis {
        let in_one_day =
            |first: UtcMillis| zone.day_of(first) == zone.day_of(first.plus_ms(2 * HOUR_MS - 1));
        match self {
            ClassHours::UtcHoursInOneDay => {
                let mut first = now.hour().start().minus_ms(3 * HOUR_MS);
                while !in_one_day(first) {
                    first = first.minus_ms(HOUR_MS);
                }
                first
            }
            ClassHours::HalfPastInOneDay => {
                let mut first = now.hour().start().minus_ms(3 * HOUR_MS + 30 * MINUTE_MS);
                while !in_one_day(first) {
                    first = first.minus_ms(HOUR_MS);
                }
                first
            }
            ClassHours::LocalHoursInOneDay => {
                let mut first = zone.hour_start(now.minus_ms(3 * HOUR_MS));
                while !in_one_day(first) {
                    first = zone.hour_start(first.minus_ms(1));
                }
                first
            }
            ClassHours::AcrossMidnight => {
                // The latest local midnight an hour or more ago.
                let midnight = zone.day_start(zone.day_of(now.minus_ms(HOUR_MS)));
                zone.hour_start(midnight.minus_ms(1))
            }
        }
    }
}

/// `sessions` sessions of one class over the two hours from `first`, from
/// `users` users (each joins at least once; the rest are rejoins), 10%
/// delivered twice, with the rows they make in `zone`'s days. The same seed
/// gives the same sessions relative to `first`.
fn busy_class_workload(
    sessions: usize,
    users: usize,
    zone: &BillingZone,
    first: UtcMillis,
    seed: u64,
) -> ClassWorkload {
    assert!(sessions >= users, "every user joins at least once");
    let mut rng = StdRng::seed_from_u64(seed);
    let mut who: Vec<usize> = (0..sessions)
        .map(|i| {
            if i < users {
                i
            } else {
                rng.random_range(0..users)
            }
        })
        .collect();
    who.shuffle(&mut rng);
    let mut expected: BTreeMap<Day, (u64, BTreeSet<String>)> = BTreeMap::new();
    let events = who
        .iter()
        .enumerate()
        .map(|(i, &u)| {
            let user = if u == 0 {
                "teacher-0".to_owned()
            } else {
                format!("student-{u}")
            };
            let ms = rng.random_range(MINUTE_MS..30 * MINUTE_MS);
            let start = first.plus_ms(rng.random_range(0..2 * HOUR_MS - ms));
            let end = start.plus_ms(ms);
            // The row of each local day the session touches.
            let mut at = start;
            while at < end {
                let day = zone.day_of(at);
                let part_end = end.min(zone.day_start(day.next()));
                let row = expected.entry(day).or_default();
                row.0 += (part_end.0 - at.0) as u64;
                row.1.insert(user.clone());
                at = part_end;
            }
            let id = format!("class-{seed}-{i}");
            session_event(
                &id,
                CLASS_APP,
                "busy-class",
                &user,
                "interactive",
                start,
                end,
            )
        })
        .collect();
    ClassWorkload {
        deliveries: with_redeliveries(&mut rng, events),
        unique: sessions,
        users,
        expected,
        utc_hours: (first.hour().0..=first.plus_ms(2 * HOUR_MS - 1).hour().0).count(),
    }
}

/// The class's rows as `DescribeUsageDetails` answers them: exactly the
/// milliseconds and distinct users sent, whichever design counted them.
async fn check_class_rows(
    store: &DynamoStore,
    workload: &ClassWorkload,
    zone: &BillingZone,
    now: UtcMillis,
) {
    let first = *workload.expected.keys().next().expect("a day");
    let params = QueryParams::from_pairs([
        ("Action", "DescribeUsageDetails"),
        ("AppId", CLASS_APP),
        ("ServiceType", "AudioVideo"),
        ("StartTime", &zone.day_start(first).format_query_time()),
        ("EndTime", &now.day().next().start().format_query_time()),
        ("PageSize", "100"),
    ]);
    let (_, answered) = answer(store, Some(OWNER), &params, "bench", now)
        .await
        .expect("details");
    let Answer::Details(details) = answered else {
        panic!("a details answer");
    };
    let rows: BTreeMap<Day, (u64, u64)> = details
        .records
        .iter()
        .map(|r| (r.date, (r.duration_seconds.0, r.user_count.unwrap_or(0))))
        .collect();
    let expected: BTreeMap<Day, (u64, u64)> = workload
        .expected
        .iter()
        .map(|(day, (ms, users))| (*day, (*ms, users.len() as u64)))
        .collect();
    assert_eq!(
        rows, expected,
        "a design lost or double-counted a session or a user"
    );
}

/// What one run of a busy class cost and left in the table.
struct ClassRun {
    used: CapacityUse,
    /// The largest item the sessions wrote (the registration, written
    /// before, aside), and its key.
    largest: (usize, String),
    /// The size of the class's row on its last day.
    row: usize,
    /// The largest audio/video hour item.
    hour: usize,
    events_per_second: f64,
}

/// One busy class through ingestion in a fresh table, its app registered in
/// `zone`; checks its rows against what was sent.
async fn class_run(
    local: &LocalDynamo,
    design: Design,
    workload: &ClassWorkload,
    zone: &BillingZone,
    now: UtcMillis,
) -> ClassRun {
    let (store, meter) = metered_store(local).await;
    register_in(&store, CLASS_APP, zone).await;
    meter.reset();
    let started = Instant::now();
    deliver(&store, design, &workload.deliveries, 10, now).await;
    let elapsed = started.elapsed().as_secs_f64();
    let used = meter.snapshot();
    check_class_rows(&store, workload, zone, now).await;
    let largest = largest_item_where(&store, |sk| sk != REGISTRATION_SK).await;
    let (hour, _) = largest_item_where(&store, |sk| sk.starts_with("AV#H#")).await;
    // The class's row: its size must not depend on how many users the
    // class had.
    let row_sk = av_row_sk(&RowKey {
        app: AppId::parse(CLASS_APP).unwrap(),
        day: *workload.expected.keys().last().expect("a day"),
        class: ClassId::parse("busy-class").unwrap(),
        usage: UsageType::Interactive,
    });
    let (row, _) = largest_item_where(&store, |sk| sk == row_sk).await;
    ClassRun {
        used,
        largest,
        row,
        hour,
        events_per_second: workload.deliveries.len() as f64 / elapsed,
    }
}

/// Registers and opens `app` for the bench's owner in `zone`, as its first
/// registration would.
async fn register_in(store: &DynamoStore, app: &str, zone: &BillingZone) {
    let app = AppId::parse(app).expect("app id");
    let request = RegistrationRequest {
        owner: AccountId::parse(OWNER).expect("account"),
        name: None,
        zone: Some(zone.clone()),
    };
    let outcome = store
        .register_app(&app, &request, &BillingZone::utc())
        .await
        .expect("register");
    assert!(
        matches!(&outcome, RegisterOutcome::Accepted { zone: fixed, .. } if fixed == zone),
        "{app}: {outcome:?}"
    );
    store.open_app(&app).await.expect("open");
}

/// One busy class through ingestion, ours and the naive design, with users
/// who rejoin and with a new user per session; then ours with the app in
/// other billing time zones.
async fn busy_class(local: &LocalDynamo, scale: &Scale, now: UtcMillis) {
    let utc = BillingZone::utc();
    let first = ClassHours::UtcHoursInOneDay.first(&utc, now);
    let rejoining = busy_class_workload(scale.class_sessions, scale.class_users, &utc, first, 4);
    let new_users = busy_class_workload(scale.class_sessions, scale.class_sessions, &utc, first, 5);
    println!(
        "## 4. A busy class ({} sessions of one class over two hours, batches of 10, 10% delivered twice; \
         units and requests per distinct event)\n",
        scale.class_sessions
    );
    println!(
        "| users | design | write units/event | requests/event | read units/event | largest item | the class's row | events/s |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- |");
    let mut largest_overall = (0, String::new());
    for (name, workload) in [
        (format!("{} who rejoin", rejoining.users), &rejoining),
        (
            format!("{}: each session a new user", new_users.users),
            &new_users,
        ),
    ] {
        let mut per_event = Vec::new();
        for design in [Design::Coalesced, Design::Naive] {
            let run = class_run(local, design, workload, &utc, now).await;
            let events = workload.unique as f64;
            let wcu = run.used.write_units / events;
            println!(
                "| {name} | {} | {:.2} | {:.2} | {:.2} | {} B | {} B | {:.0} |",
                design.label(),
                wcu,
                run.used.total_requests() as f64 / events,
                run.used.read_units / events,
                run.largest.0,
                run.row,
                run.events_per_second
            );
            per_event.push(wcu);
            if run.largest.0 > largest_overall.0 {
                largest_overall = run.largest;
            }
        }
        if let [ours, naive] = per_event[..] {
            println!("| {name} | naive ÷ ours | {:.2}× | | | | | |", naive / ours);
        }
    }
    println!(
        "\nGoal for ours with rejoining users: ≤ 3.5 write units per distinct event (3.49 before \
         user marks counted live sessions, which voids need: see docs/benchmarks.md). The naive \
         transaction holds the event's dedupe put, its hour update(s), its row update, its user \
         mark and the app's deduction state (5–6 items, 10–12 units), and a rejoining user's is \
         cancelled by the mark and sent again without it. Largest item written in any of these \
         runs: {} bytes ({}); a row holds a counter of its users, not the users, so its size is \
         the same for {} users as for {}.\n",
        largest_overall.0, largest_overall.1, rejoining.users, new_users.users
    );
    class_in_zones(local, scale, now).await;
}

/// The busy class with rejoining users (the same sessions, seed 4, relative
/// to the first of their two hours), ours, its app in UTC, in a zone whose
/// offset is a whole number of hours and in one with a half-hour offset;
/// placed in one local day and across a local midnight.
async fn class_in_zones(local: &LocalDynamo, scale: &Scale, now: UtcMillis) {
    println!(
        "### Billing time zones: the busy class with {} rejoining users, ours\n",
        scale.class_users
    );
    println!(
        "| zone | the two hours | UTC hours | rows / user marks | write units/event | vs UTC | \
         requests/event | read units/event | largest hour item | largest item |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    let runs = [
        ("UTC", ClassHours::UtcHoursInOneDay),
        ("UTC", ClassHours::AcrossMidnight),
        ("UTC", ClassHours::HalfPastInOneDay),
        ("Asia/Shanghai", ClassHours::UtcHoursInOneDay),
        ("Asia/Shanghai", ClassHours::AcrossMidnight),
        ("Asia/Kolkata", ClassHours::UtcHoursInOneDay),
        ("Asia/Kolkata", ClassHours::LocalHoursInOneDay),
        ("Asia/Kolkata", ClassHours::AcrossMidnight),
    ];
    let utc = BillingZone::utc();
    // UTC's write units per event, by whether the two hours cross midnight
    // and how many UTC hours they touch.
    let mut utc_units: BTreeMap<(bool, usize), f64> = BTreeMap::new();
    for (name, hours) in runs {
        let zone = BillingZone::parse(name).expect("a zone");
        let first = hours.first(&zone, now);
        let workload =
            busy_class_workload(scale.class_sessions, scale.class_users, &zone, first, 4);
        let run = class_run(local, Design::Coalesced, &workload, &zone, now).await;
        let events = workload.unique as f64;
        let wcu = run.used.write_units / events;
        let across = hours == ClassHours::AcrossMidnight;
        if name == "UTC" {
            utc_units.insert((across, workload.utc_hours), wcu);
        }
        // Against UTC's run of the same shape; where UTC has none touching
        // as many UTC hours, against its two hours, the extra items a
        // transaction writes beside it.
        let versus = match utc_units.get(&(across, workload.utc_hours)) {
            Some(_) if name == "UTC" && workload.utc_hours == 2 => "—".to_owned(),
            Some(utc) if name != "UTC" => format!("{:+.2}", wcu - utc),
            _ => {
                let utc = utc_units[&(across, 2)];
                let transactions = run
                    .used
                    .requests
                    .get("TransactWriteItems")
                    .copied()
                    .unwrap_or(1) as f64;
                format!(
                    "{:+.2} against 2 UTC hours ({:+.2} items a transaction)",
                    wcu - utc,
                    (wcu - utc) * events / 2.0 / transactions
                )
            }
        };
        let marks: usize = workload
            .expected
            .values()
            .map(|(_, users)| users.len())
            .sum();
        println!(
            "| {name} | {}: {}–{} local, {}–{} UTC | {} | {} / {marks} | {wcu:.2} | {versus} | {:.2} | {:.2} | {} B | {} B |",
            hours.label(),
            &zone.format(first)[11..16],
            &zone.format(first.plus_ms(2 * HOUR_MS))[11..16],
            &utc.format(first)[11..16],
            &utc.format(first.plus_ms(2 * HOUR_MS))[11..16],
            workload.utc_hours,
            workload.expected.len(),
            run.used.total_requests() as f64 / events,
            run.used.read_units / events,
            run.hour,
            run.largest.0,
        );
    }
    println!(
        "\n\"vs UTC\": write units per event minus UTC's with the same sessions placed alike (in \
         one day or across midnight, touching as many UTC hours). Goal: Asia/Shanghai equal to \
         UTC; Asia/Kolkata at most one more item per UTC hour a transaction touches (the part \
         before a local hour's start inside a UTC hour is an attribute of that hour's item, so \
         the same UTC hours cost the same). Two local hours of Asia/Kolkata touch three UTC \
         hours, and a third hour item is what any app pays for them.\n"
    );
}

const HISTORY_APP: &str = "history-app";

/// An app's year of classes, as the messages that build it.
struct History {
    /// The registration and the packages, then every day before today, a
    /// class at a time: its start, its sessions, its end.
    past: Vec<String>,
    /// Today's classes, the same way.
    today: Vec<String>,
    sessions: usize,
    facts: usize,
    /// Rows of each day: one per class, and a playback row for every fifth.
    rows_per_day: usize,
    interactive_rows: usize,
    playback_rows: usize,
}

/// A class fact event (`rtc.class.started` or `rtc.class.ended`).
fn class_fact(id: &str, data: serde_json::Value, kind: &str) -> String {
    json!({"specversion": "1.0", "id": id, "source": CLASS_SOURCE, "type": kind, "data": data})
        .to_string()
}

/// `history_days` days ending today (`zone`'s days), `history_classes`
/// classes a day (each within its day: one interactive row, every fifth also
/// a playback row), and 12 packages of overlapping validity, alternately
/// small (used up within days) and large. Today's classes lie in the first
/// `today_span` ms of the day, which must have gone by `now`.
fn history(scale: &Scale, zone: &BillingZone, now: UtcMillis, today_span: i64) -> History {
    let mut rng = StdRng::seed_from_u64(6);
    let today = zone.day_of(now);
    let days = scale.history_days;
    let classes = scale.history_classes;
    let first = Day(today.0 - days + 1);
    let mut registration = json!({"specversion": "1.0", "id": "history-registration",
        "source": "/bench/console", "type": "rtc.app.registered",
        "data": {"appId": HISTORY_APP, "ownerAccountId": OWNER, "appName": "A year of classes"}});
    // UTC is the deployment's default: its registration names no zone.
    if *zone != BillingZone::utc() {
        registration["data"]["timeZone"] = json!(zone.name());
    }
    let mut history = History {
        past: vec![registration.to_string()],
        today: Vec::new(),
        sessions: 0,
        facts: 0,
        rows_per_day: classes + classes.div_ceil(5),
        interactive_rows: 0,
        playback_rows: 0,
    };
    // About what a day's rows bill: three sessions of up to 36 minutes a class.
    let per_day = classes as u64 * 100;
    let step = days as f64 / 12.0;
    for i in 0..12 {
        let from = Day(first.0 + (i as f64 * step) as i64);
        let to = Day(from.0 + (2.4 * step).ceil() as i64);
        let minutes = if i % 2 == 0 {
            per_day * 8
        } else {
            per_day * 40
        };
        history.past.push(
            json!({"specversion": "1.0", "id": format!("history-package-{i}"), "source": "/bench/billing",
                "type": "rtc.package.purchased",
                "data": {"appId": HISTORY_APP, "packageId": format!("pkg-{i:02}"),
                         "packageName": format!("Package {i}"), "minutes": minutes,
                         "validFrom": from.key(), "validTo": to.key()}})
            .to_string(),
        );
    }
    let at = |t: UtcMillis| t.to_datetime().to_rfc3339();
    for d in 0..days {
        let day = Day(first.0 + d);
        // Past days: classes from 01:00 over 20 hours. Today: over a part
        // of the day already gone, so every session has ended by `now`.
        let (offset, span) = if day == today {
            (0, today_span - MINUTE_MS)
        } else {
            (HOUR_MS, 20 * HOUR_MS)
        };
        let slot = span / classes as i64;
        let length = (45 * MINUTE_MS).min(slot * 9 / 10);
        let limit = zone.day_start(day).plus_ms(offset + span);
        let messages = if day == today {
            &mut history.today
        } else {
            &mut history.past
        };
        for k in 0..classes {
            let class = format!("c{d:03}-{k:02}");
            let start = zone.day_start(day).plus_ms(offset + slot * k as i64);
            let end = start.plus_ms(length);
            let id = |what: &str| format!("history-{class}-{what}");
            messages.push(class_fact(
                &id("start"),
                json!({"appId": HISTORY_APP, "classId": class,
                       "className": format!("Class {k} of {}", day.key()), "startTime": at(start)}),
                "rtc.class.started",
            ));
            let partial = start.plus_ms((length as f64 * rng.random_range(0.5..1.0)) as i64);
            let mut sessions = vec![
                ("teacher", "interactive", start, end),
                ("student-a", "interactive", start.plus_ms(length / 10), end),
                ("student-b", "interactive", start, partial),
            ];
            if k % 5 == 0 {
                sessions.push((
                    "viewer",
                    "playback",
                    end,
                    end.plus_ms(length / 2).min(limit),
                ));
                history.playback_rows += 1;
            }
            history.interactive_rows += 1;
            for (user, usage, from, to) in sessions {
                let user = format!("{user}-{class}");
                messages.push(session_event(
                    &id(&user),
                    HISTORY_APP,
                    &class,
                    &user,
                    usage,
                    from,
                    to,
                ));
                history.sessions += 1;
            }
            messages.push(class_fact(
                &id("end"),
                json!({"appId": HISTORY_APP, "classId": class, "endTime": at(end)}),
                "rtc.class.ended",
            ));
            history.facts += 2;
        }
    }
    history
}

/// Requests and their kinds, e.g. `4 (1 BatchGetItem, 1 GetItem, 2 Query)`.
fn requests_by_kind(used: &CapacityUse) -> String {
    let kinds: Vec<String> = used
        .requests
        .iter()
        .map(|(kind, n)| format!("{n} {kind}"))
        .collect();
    format!("{} ({})", used.total_requests(), kinds.join(", "))
}

/// One answer's cost, median time and body.
struct Measured {
    used: CapacityUse,
    took: Duration,
    body: String,
}

/// Answers `params` `repeats` times (at least once).
async fn measure(
    store: &DynamoStore,
    meter: &RequestMeter,
    params: &QueryParams,
    now: UtcMillis,
    repeats: usize,
) -> Measured {
    meter.reset();
    let mut times = Vec::new();
    let mut body = String::new();
    // The meter counts the first answer; the others only add timings.
    let mut used = None;
    for _ in 0..repeats.max(1) {
        let started = Instant::now();
        let (_, answered) = answer(store, Some(OWNER), params, "bench", now)
            .await
            .expect("answer");
        times.push(started.elapsed());
        used.get_or_insert_with(|| meter.snapshot());
        body = serde_json::to_string(&answered).expect("json");
    }
    Measured {
        used: used.expect("one answer"),
        took: percentile(&mut times, 0.5),
        body,
    }
}

/// A year of history with its app in UTC, then in `Asia/Shanghai` (+08:00),
/// and the two apps' costs side by side: the same answers over the same
/// classes, each at the same local time of its app's days.
async fn history_in_zones(local: &LocalDynamo, scale: &Scale) {
    let zones = [
        BillingZone::utc(),
        BillingZone::parse("Asia/Shanghai").unwrap(),
    ];
    // Today's classes over the same part of each app's local day (the least
    // gone so far of the two), so that both apps hold the same usage.
    let now = UtcMillis::now();
    let today_span = zones
        .iter()
        .map(|zone| now.0 - zone.day_start(zone.day_of(now)).0)
        .min()
        .expect("zones");
    let mut runs = Vec::new();
    for zone in &zones {
        runs.push(year_of_history(local, scale, zone, today_span).await);
    }
    let [utc, other] = &runs[..] else {
        unreachable!("two zones")
    };
    println!(
        "### The same year with the app in {} and in {}: requests / read units\n",
        zones[0], zones[1]
    );
    println!("| answer | state | {} | {} | equal |", zones[0], zones[1]);
    println!("| --- | --- | --- | --- | --- |");
    for ((name, utc_states), (_, other_states)) in utc.iter().zip(other) {
        for ((state, a), (_, b)) in utc_states.iter().zip(other_states) {
            let same = a.total_requests() == b.total_requests() && a.read_units == b.read_units;
            println!(
                "| {name} | {state} | {} / {:.1} | {} / {:.1} | {} |",
                a.total_requests(),
                a.read_units,
                b.total_requests(),
                b.read_units,
                if same { "yes" } else { "**no**" }
            );
        }
    }
    println!();
}

/// What the usage page's answers cost over an app with a long history: built
/// through ingestion, then answered in each state the rollup can leave it in.
async fn year_of_history(
    local: &LocalDynamo,
    scale: &Scale,
    zone: &BillingZone,
    today_span: i64,
) -> Vec<(String, Vec<(&'static str, CapacityUse)>)> {
    // Today's classes must have ended by now: give the local day two minutes.
    let mut now = UtcMillis::now();
    let into_day = now.0 - zone.day_start(zone.day_of(now)).0;
    if into_day < 2 * MINUTE_MS {
        tokio::time::sleep(Duration::from_millis((2 * MINUTE_MS - into_day) as u64)).await;
        now = UtcMillis::now();
    }
    let into_day = now.0 - zone.day_start(zone.day_of(now)).0;
    let today = zone.day_of(now);
    let history = history(
        scale,
        zone,
        now,
        today_span.min(into_day).max(2 * MINUTE_MS),
    );
    println!(
        "## 5. A year of history, the app in {zone} ({} days × {} classes: {} interactive and \
         {} playback rows, {} sessions, {} class facts, 12 packages; ingested through the \
         ingest function in batches of {})\n",
        scale.history_days,
        scale.history_classes,
        history.interactive_rows,
        history.playback_rows,
        history.sessions,
        history.facts,
        scale.history_batch
    );
    // A 31-day window ending with today, in the app's days.
    let end = zone.day_start(today.next());
    let window = [
        ("AppId", HISTORY_APP.to_owned()),
        (
            "StartTime",
            zone.day_start(Day(today.0 - 30)).format_query_time(),
        ),
        ("EndTime", end.format_query_time()),
        ("ServiceType", "AudioVideo".to_owned()),
    ];
    let details = |page: u32| {
        let mut pairs = window.to_vec();
        pairs.extend([
            ("Action", "DescribeUsageDetails".to_owned()),
            ("PageSize", "20".to_owned()),
            ("PageNumber", page.to_string()),
        ]);
        QueryParams::from_pairs(pairs)
    };
    let mut daily = window.to_vec();
    daily.extend([
        ("Action", "DescribeUsageData".to_owned()),
        ("Interval", "86400".to_owned()),
    ]);
    let daily = QueryParams::from_pairs(daily);
    let packages =
        QueryParams::from_pairs([("Action", "DescribeUsagePackages"), ("AppId", HISTORY_APP)]);
    let total = history.rows_per_day * scale.history_days.min(31) as usize;
    let pages = total.div_ceil(20).max(1) as u32;
    let middle = (pages / 2 + 1).min(pages);
    // Goals in requests: (with changes not rolled up yet, after the rollup).
    let details_goal = ("≤ 6", "≤ 4");
    let queries = [
        (
            format!("DescribeUsageDetails, page 1 of {pages}"),
            details(1),
            details_goal,
        ),
        (
            format!("DescribeUsageDetails, page {middle} of {pages}"),
            details(middle),
            details_goal,
        ),
        ("DescribeUsagePackages".to_owned(), packages, ("≤ 3", "≤ 3")),
        (
            "DescribeUsageData AudioVideo, daily".to_owned(),
            daily,
            ("", ""),
        ),
    ];
    let measure_all = async |store: &DynamoStore, meter: &RequestMeter| {
        let mut measured = Vec::new();
        for (_, params, _) in &queries {
            measured.push(measure(store, meter, params, now, scale.queries / 40).await);
        }
        measured
    };
    let rollup = async |store: &DynamoStore, meter: &RequestMeter| {
        meter.reset();
        let started = Instant::now();
        run_rollup(store, &RollupRequest::Scheduled, Deadline::none()).await;
        format!(
            "{} in {:.1} s",
            requests_by_kind(&meter.snapshot()),
            started.elapsed().as_secs_f64()
        )
    };

    let (store, meter) = metered_store(local).await;
    let started = Instant::now();
    deliver(
        &store,
        Design::Coalesced,
        &history.past,
        scale.history_batch,
        now,
    )
    .await;
    let took = started.elapsed();
    let used = meter.snapshot();
    println!(
        "- Ingesting the days before today: {} messages in {:.1} s ({:.0} messages/s), {} \
         requests, {:.2} write units per session.",
        history.past.len(),
        took.as_secs_f64(),
        history.past.len() as f64 / took.as_secs_f64(),
        used.total_requests(),
        used.write_units / history.sessions as f64
    );
    // Each state: its name, whether everything is rolled up, its answers.
    let mut states = vec![(
        "(0) the days before today, never rolled up",
        false,
        measure_all(&store, &meter).await,
    )];
    println!("- The first rollup: {}.", rollup(&store, &meter).await);
    meter.reset();
    deliver(
        &store,
        Design::Coalesced,
        &history.today,
        scale.history_batch,
        now,
    )
    .await;
    println!(
        "- Then today's classes: {} messages, {} requests.",
        history.today.len(),
        meter.snapshot().total_requests()
    );
    states.push((
        "(a) today's rows not rolled up yet",
        false,
        measure_all(&store, &meter).await,
    ));
    println!("- The next rollup: {}.", rollup(&store, &meter).await);
    states.push((
        "(b) after the rollup",
        true,
        measure_all(&store, &meter).await,
    ));
    // A session arriving late, before the window: every balance after its
    // day is stale until the next rollup.
    let late_day = Day(today.0 - 40).max(Day(today.0 - scale.history_days + 1));
    let late_start = zone.day_start(late_day).plus_ms(HOUR_MS + 10 * MINUTE_MS);
    let late = session_event(
        "history-late",
        HISTORY_APP,
        &format!("c{:03}-00", late_day.0 - (today.0 - scale.history_days + 1)),
        "late-user",
        "interactive",
        late_start,
        late_start.plus_ms(10 * MINUTE_MS),
    );
    deliver(&store, Design::Coalesced, &[late], 1, now).await;
    states.push((
        "(c) a late session on a day before the window, not rolled up yet",
        false,
        measure_all(&store, &meter).await,
    ));
    println!(
        "- A late session on {}, then the rollup: {}.\n",
        late_day.key(),
        rollup(&store, &meter).await
    );
    states.push((
        "(d) after the rollup",
        true,
        measure_all(&store, &meter).await,
    ));

    let answered: u64 = serde_json::from_str::<serde_json::Value>(&states[1].2[0].body)
        .expect("json")["TotalCount"]
        .as_u64()
        .expect("TotalCount");
    assert_eq!(answered, total as u64, "the window's rows");
    println!(
        "31-day window ending today ({total} rows), strongly consistent reads; requests and \
         read units of one answer, the median time of {}:\n",
        (scale.queries / 40).max(1)
    );
    println!("| answer | state | requests | read units | time (median) | goal (requests) |");
    println!("| --- | --- | --- | --- | --- | --- |");
    for (i, (name, _, (goal_before, goal_after))) in queries.iter().enumerate() {
        for (state, rolled, measured) in &states {
            let m = &measured[i];
            let goal = if *rolled { goal_after } else { goal_before };
            println!(
                "| {name} | {state} | {} | {:.1} | {} | {goal} |",
                requests_by_kind(&m.used),
                m.used.read_units,
                ms(m.took),
            );
        }
        // What a rollup prepares must never change an answer.
        assert_eq!(
            states[1].2[i].body, states[2].2[i].body,
            "{name}: (a) ≠ (b)"
        );
        assert_eq!(
            states[3].2[i].body, states[4].2[i].body,
            "{name}: (c) ≠ (d)"
        );
    }
    let statuses: BTreeMap<String, usize> =
        serde_json::from_str::<serde_json::Value>(&states[2].2[2].body).expect("json")["Packages"]
            .as_array()
            .expect("packages")
            .iter()
            .fold(BTreeMap::new(), |mut counts, p| {
                *counts
                    .entry(p["Status"].as_str().unwrap_or("?").to_owned())
                    .or_default() += 1;
                counts
            });
    let statuses: Vec<String> = statuses
        .iter()
        .map(|(status, n)| format!("{n} {status}"))
        .collect();
    let (largest, which) = largest_item(&store).await;
    println!(
        "\nPackages today: {}. Every answer is the same before and after a rollup. Largest item \
         in the table: {largest} bytes ({which}).\n",
        statuses.join(", ")
    );
    queries
        .iter()
        .enumerate()
        .map(|(i, (name, _, _))| {
            let by_state = states
                .iter()
                .map(|(state, _, measured)| (*state, measured[i].used.clone()))
                .collect();
            (name.clone(), by_state)
        })
        .collect()
}

const RECORDING_APP: &str = "recording-app";
/// Segments without a class on each day of the month of recordings.
const UNCLASSED_PER_DAY: usize = 4;

/// A recording segment of `mode`, naming `class` when given (tier random).
fn recording_segment(
    id: String,
    class: Option<&str>,
    mode: &str,
    start: UtcMillis,
    ms: i64,
    rng: &mut StdRng,
) -> String {
    let mut event: serde_json::Value =
        serde_json::from_str(&segment(id, RECORDING_APP, start, ms, rng)).expect("json");
    event["data"]["recordMode"] = json!(mode);
    if let Some(class) = class {
        event["data"]["classId"] = json!(class);
    }
    event.to_string()
}

/// A month of class recordings, as the messages that build it, and what the
/// details must then answer.
struct Recordings {
    messages: Vec<String>,
    /// A row per class and day, and a day's row of segments without a class.
    rows: usize,
    total_ms: u64,
}

/// The 31 days before today: `classes` classes a day, each with its start
/// and end and one segment per record mode (the second from 5 minutes in),
/// and segments naming no class in the evening.
fn recordings(classes: usize, now: UtcMillis) -> Recordings {
    let mut rng = StdRng::seed_from_u64(7);
    let today = now.day();
    let at = |t: UtcMillis| t.to_datetime().to_rfc3339();
    let mut out = Recordings {
        messages: vec![
            json!({"specversion": "1.0", "id": "recording-registration", "source": "/bench/console",
                "type": "rtc.app.registered",
                "data": {"appId": RECORDING_APP, "ownerAccountId": OWNER, "appName": "Recorded classes"}})
            .to_string(),
        ],
        rows: 0,
        total_ms: 0,
    };
    let slot = 20 * HOUR_MS / classes as i64;
    let length = (45 * MINUTE_MS).min(slot * 9 / 10);
    for d in 0..31 {
        let day = Day(today.0 - 31 + d);
        for k in 0..classes {
            let class = format!("r{d:02}-{k:02}");
            let start = day.start().plus_ms(HOUR_MS + slot * k as i64);
            let end = start.plus_ms(length);
            let id = |what: &str| format!("recording-{class}-{what}");
            out.messages.push(class_fact(
                &id("start"),
                json!({"appId": RECORDING_APP, "classId": class,
                       "className": format!("Recorded class {k} of {}", day.key()), "startTime": at(start)}),
                "rtc.class.started",
            ));
            for (mode, from) in [("0", start), ("1", start.plus_ms(5 * MINUTE_MS))] {
                let ms = end.0 - from.0;
                out.messages.push(recording_segment(
                    id(mode),
                    Some(&class),
                    mode,
                    from,
                    ms,
                    &mut rng,
                ));
                out.total_ms += ms as u64;
            }
            out.messages.push(class_fact(
                &id("end"),
                json!({"appId": RECORDING_APP, "classId": class, "endTime": at(end)}),
                "rtc.class.ended",
            ));
        }
        for j in 0..UNCLASSED_PER_DAY {
            let start = day
                .start()
                .plus_ms(21 * HOUR_MS + j as i64 * 10 * MINUTE_MS);
            let mode = if j % 2 == 0 { "0" } else { "1" };
            let id = format!("recording-{}-other-{j}", day.key());
            out.messages.push(recording_segment(
                id,
                None,
                mode,
                start,
                5 * MINUTE_MS,
                &mut rng,
            ));
            out.total_ms += 5 * MINUTE_MS as u64;
        }
        out.rows += classes + 1;
    }
    out
}

/// `1234567` as `1,234,567`.
fn grouped(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// Registers apps 16 at a time, each new.
async fn register_all(store: &DynamoStore, apps: Vec<(AppId, AccountId, Option<Name>)>) {
    stream::iter(apps)
        .map(|(app, owner, name)| async move {
            let outcome = store
                .register_named(&app, &owner, name.as_ref())
                .await
                .expect("register");
            assert!(matches!(outcome, RegisterOutcome::Accepted { .. }), "{app}");
        })
        .buffer_unordered(16)
        .collect::<Vec<()>>()
        .await;
}

/// Two answers whose reads are not bounded by a page: the recording details
/// of a busy month (the window's hours and class recordings are read whole,
/// the facts of the page's days only), and `DescribeApps`, read from the
/// index by owner, as other accounts' apps fill the table.
async fn recordings_and_apps(local: &LocalDynamo, scale: &Scale, now: UtcMillis) {
    let classes = scale.recording_classes;
    println!(
        "## 6. Recording details and the caller's apps (31 days × {classes} classes, each \
         recorded in both modes, and {UNCLASSED_PER_DAY} segments a day without a class; an \
         account with {} apps among {})\n",
        grouped(scale.caller_apps),
        grouped(scale.caller_apps + scale.other_apps[2])
    );
    let repeats = (scale.queries / 20).max(1);
    let mut measured: Vec<(String, String, Measured)> = Vec::new();

    let month = recordings(classes, now);
    let (store, meter) = metered_store(local).await;
    let started = Instant::now();
    deliver(&store, Design::Coalesced, &month.messages, 100, now).await;
    println!(
        "- Ingesting the month: {} messages in {:.1} s.",
        grouped(month.messages.len()),
        started.elapsed().as_secs_f64()
    );
    let end = now.day().start();
    let details = |class: Option<String>| {
        let mut pairs = vec![
            ("Action", "DescribeUsageDetails".to_owned()),
            ("AppId", RECORDING_APP.to_owned()),
            ("StartTime", end.minus_ms(31 * DAY_MS).format_query_time()),
            ("EndTime", end.format_query_time()),
            ("ServiceType", "Recording".to_owned()),
            ("PageNumber", "1".to_owned()),
            ("PageSize", "20".to_owned()),
        ];
        pairs.extend(class.map(|c| ("ClassId", c)));
        QueryParams::from_pairs(pairs)
    };
    let all = measure(&store, &meter, &details(None), now, repeats).await;
    let answered: serde_json::Value = serde_json::from_str(&all.body).expect("json");
    assert_eq!(
        answered["TotalCount"],
        json!(month.rows),
        "the month's rows"
    );
    let seconds = answered["Summary"]["DurationSeconds"]
        .as_f64()
        .expect("seconds");
    assert_eq!(
        (seconds * 1000.0).round() as u64,
        month.total_ms,
        "every segment's milliseconds"
    );
    assert!(
        answered["Records"][0]["ClassName"].is_string(),
        "the page's facts"
    );
    let class = format!("r15-{:02}", classes / 2);
    let one = measure(&store, &meter, &details(Some(class.clone())), now, repeats).await;
    let answered: serde_json::Value = serde_json::from_str(&one.body).expect("json");
    assert_eq!(answered["TotalCount"], json!(1), "one class, one day");
    measured.push((
        format!(
            "`DescribeUsageDetails` Recording, 31 days, page 1 of {}",
            month.rows.div_ceil(20)
        ),
        format!("{} rows", grouped(month.rows)),
        all,
    ));
    measured.push((
        format!("the same with `ClassId={class}`"),
        "1 row".to_owned(),
        one,
    ));

    let (store, meter) = metered_store(local).await;
    let caller = AccountId::parse(OWNER).expect("account");
    let mine: Vec<(AppId, AccountId, Option<Name>)> = (0..scale.caller_apps)
        .map(|i| {
            (
                AppId::parse(&format!("mine-{i:05}")).expect("app id"),
                caller.clone(),
                Name::parse(&format!("Caller's app {i}")),
            )
        })
        .collect();
    let started = Instant::now();
    register_all(&store, mine).await;
    let mut took = started.elapsed();
    let apps = QueryParams::from_pairs([("Action", "DescribeApps")]);
    let mut registered = 0;
    // Requests and read units of `DescribeApps` at each size of the table.
    let mut by_others = Vec::new();
    for &others in &scale.other_apps {
        // Other accounts' apps, a thousand accounts, every other one named.
        let batch: Vec<(AppId, AccountId, Option<Name>)> = (registered..others)
            .map(|i| {
                (
                    AppId::parse(&format!("other-{i:06}")).expect("app id"),
                    AccountId::parse(&format!("9{:011}", i % 1_000)).expect("account"),
                    (i % 2 == 0).then(|| Name::parse(&format!("App {i}")).expect("name")),
                )
            })
            .collect();
        let started = Instant::now();
        register_all(&store, batch).await;
        took += started.elapsed();
        registered = others;
        let answer = measure(&store, &meter, &apps, now, repeats).await;
        let listed: serde_json::Value = serde_json::from_str(&answer.body).expect("json");
        let listed = listed["Apps"].as_array().expect("apps");
        assert!(
            listed.len() == scale.caller_apps
                && listed.iter().all(|app| app["AppId"]
                    .as_str()
                    .is_some_and(|id| id.starts_with("mine-"))),
            "the caller's apps, and only them"
        );
        by_others.push(format!(
            "{} other apps: {} / {:.1}",
            grouped(others),
            answer.used.total_requests(),
            answer.used.read_units
        ));
        measured.push((
            "`DescribeApps`".to_owned(),
            format!(
                "{} of the caller's among {} apps",
                grouped(scale.caller_apps),
                grouped(scale.caller_apps + others)
            ),
            answer,
        ));
    }
    println!(
        "- Registering {} apps with `register_app`, 16 at a time: {:.1} s ({:.0} a second).\n",
        grouped(scale.caller_apps + registered),
        took.as_secs_f64(),
        (scale.caller_apps + registered) as f64 / took.as_secs_f64()
    );

    println!(
        "Strongly consistent reads except the index (eventually consistent, half the units); \
         requests and read units of one answer, the median time of {repeats}:\n"
    );
    println!("| answer | data | requests | read units | time (median) |");
    println!("| --- | --- | --- | --- | --- |");
    for (name, data, m) in &measured {
        println!(
            "| {name} | {data} | {} | {:.1} | {} |",
            requests_by_kind(&m.used),
            m.used.read_units,
            ms(m.took)
        );
    }
    println!(
        "\n`DescribeApps` requests / read units, by how many apps other accounts have: {} (the \
         index by owner holds the caller's apps together: it reads those alone).\n",
        by_others.join("; ")
    );
}

/// Time from process start to the first poll of a stand-in Lambda Runtime API.
/// With `other`, a folder of another build's binaries, each of this build's
/// launches is paired with one of the other's, in turn, so that both see the
/// same machine; the ratio is this build's median over the other's.
fn cold_start(local: &LocalDynamo, scale: &Scale, other: Option<&Path>) {
    let bin_dir: PathBuf = std::env::current_exe()
        .unwrap()
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .to_path_buf();
    println!(
        "## 7. Cold start ({} launches each; binaries in {})\n",
        scale.launches,
        bin_dir.file_name().unwrap().to_string_lossy()
    );
    match other {
        None => {
            println!("| binary | median to first poll | min | size |");
            println!("| --- | --- | --- | --- |");
        }
        Some(dir) => {
            println!(
                "Paired, launched in turn with the binaries in {}.\n",
                dir.display()
            );
            println!(
                "| binary | median to first poll | min | size | other build's median | min | size | ratio |"
            );
            println!("| --- | --- | --- | --- | --- | --- | --- | --- |");
        }
    }
    for name in ["usage-query", "usage-ingest", "usage-rollup"] {
        let path = bin_dir.join(name);
        if !path.exists() {
            println!("| {name} | not built ({}) | | |", path.display());
            continue;
        }
        let other_path = other.map(|dir| dir.join(name));
        let (mut ours, mut theirs) = (Vec::new(), Vec::new());
        for _ in 0..scale.launches {
            ours.push(launch_until_first_poll(&path, local));
            if let Some(other_path) = &other_path {
                theirs.push(launch_until_first_poll(other_path, local));
            }
        }
        let size = |path: &Path| std::fs::metadata(path).map(|m| m.len()).unwrap_or(0) as f64 / 1e6;
        let min = *ours.iter().min().unwrap();
        let median = percentile(&mut ours, 0.5);
        print!(
            "| {name} | {} | {} | {:.1} MB |",
            ms(median),
            ms(min),
            size(&path)
        );
        if let Some(other_path) = &other_path {
            let other_min = *theirs.iter().min().unwrap();
            let other_median = percentile(&mut theirs, 0.5);
            print!(
                " {} | {} | {:.1} MB | {:.2} |",
                ms(other_median),
                ms(other_min),
                size(other_path),
                median.as_secs_f64() / other_median.as_secs_f64()
            );
        }
        println!();
    }
}

fn launch_until_first_poll(binary: &Path, local: &LocalDynamo) -> Duration {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let started = Instant::now();
    let mut child = Command::new(binary)
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", address.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", binary.file_name().unwrap())
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "bench")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "bench")
        .env("USAGE_TABLE_NAME", "bench")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "local")
        .env("AWS_SECRET_ACCESS_KEY", "local")
        .env("AWS_ENDPOINT_URL_DYNAMODB", &local.endpoint)
        // The functions that publish alerts refuse to start without a bus.
        .env("ALERT_EVENT_BUS_NAME", "bench")
        .env("HOME", "/nonexistent")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("launch");
    // A function that exits instead of polling (its configuration refused)
    // fails the benchmark rather than leaving it waiting.
    listener.set_nonblocking(true).unwrap();
    let mut stream = loop {
        match listener.accept() {
            Ok((stream, _)) => break stream,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if let Some(status) = child.try_wait().unwrap() {
                    panic!("{} exited before polling: {status}", binary.display());
                }
                std::thread::sleep(Duration::from_micros(200));
            }
            Err(e) => panic!("accept: {e}"),
        }
    };
    stream.set_nonblocking(false).unwrap();
    let mut line = String::new();
    BufReader::new(&mut stream).read_line(&mut line).unwrap();
    let elapsed = started.elapsed();
    assert!(
        line.contains("/runtime/invocation/next"),
        "first request: {line}"
    );
    let _ = stream.write_all(b"HTTP/1.1 500 Internal Server Error\r\ncontent-length: 0\r\n\r\n");
    let _ = child.kill();
    let _ = child.wait();
    elapsed
}

/// What checking an Alibaba-signed request adds to a call: its DynamoDB
/// requests and units (the key, the nonce, the second's counter) and its KMS
/// calls, on the first call of a function instance and on warm ones; beside
/// it, the verification's CPU from `cargo bench --bench core -- signature`.
async fn signed_access(local: &LocalDynamo, scale: &Scale, now: UtcMillis) {
    use rtc_usage::domain::access_key::AccessKeyId;
    use rtc_usage::domain::signature::HttpRequest;
    use rtc_usage::secrets::memory::MemorySealer;
    use rtc_usage::secrets::{SecretCache, SecretSealer};
    use rtc_usage::service::signed::authenticate;
    use rtc_usage::store::access_keys::{AccessKeyRecord, AccessKeyStore};
    use rtc_usage::testkit::alibaba_signer::{query_string, rpc_signature};

    println!("\n## 8. Alibaba-signed access: what verifying a request adds\n");
    let (store, meter) = metered_store(local).await;
    let id = AccessKeyId::parse("RTCUBENCH000000000000001").expect("key id");
    let secret = "bench-secret-0123456789abcdefg";
    let sealer = MemorySealer::new();
    store
        .put_access_key(&AccessKeyRecord {
            sealed_secret: sealer.seal(&id, secret.as_bytes()).await.expect("seal"),
            id: id.clone(),
            account: AccountId::parse(OWNER).expect("account"),
            created_at: now,
        })
        .await
        .expect("put key");
    let secrets = SecretCache::new(sealer);
    let stamp = chrono::DateTime::from_timestamp_millis(now.0)
        .expect("now")
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let signed_query = |nonce: usize| {
        let mut params: Vec<(String, String)> = [
            ("Action", "DescribeApps"),
            ("AccessKeyId", id.as_str()),
            ("SignatureMethod", "HMAC-SHA1"),
            ("SignatureVersion", "1.0"),
            ("Timestamp", stamp.as_str()),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        params.push(("SignatureNonce".to_owned(), format!("bench-{nonce}")));
        let signature = rpc_signature("GET", &params, secret);
        params.push(("Signature".to_owned(), signature));
        query_string(&params)
    };
    println!("| call | requests | write units | read units | KMS calls | time (median) |");
    println!("| --- | --- | --- | --- | --- | --- |");
    let calls = scale.queries.min(10);
    for (name, range) in [("first (cold)", 0..1), ("warm", 1..calls)] {
        meter.reset();
        let opens_before = secrets.sealer().opens();
        let mut times = Vec::new();
        for n in range.clone() {
            let query = signed_query(n);
            let request = HttpRequest {
                method: "GET",
                path: "/",
                raw_query: &query,
                headers: vec![],
                body: b"",
            };
            // Each call in its own second's counter: the limit is not measured here.
            let at = now.plus_ms(1000 * n as i64);
            let started = Instant::now();
            authenticate(&store, &secrets, &request, at)
                .await
                .expect("a verified request");
            times.push(started.elapsed());
        }
        let used = meter.snapshot();
        let per = range.len() as f64;
        println!(
            "| {name} | {:.1} per call ({}) | {:.1} | {:.1} | {:.1} | {} |",
            used.total_requests() as f64 / per,
            requests_by_kind(&used),
            used.write_units / per,
            used.read_units / per,
            (secrets.sealer().opens() - opens_before) as f64 / per,
            ms(percentile(&mut times, 0.5)),
        );
    }
}

/// A void of a delivered session of the busy class.
fn void_event(n: usize, session: &str) -> String {
    json!({"specversion": "1.0", "id": format!("void-{n}"), "source": "/bench/corrections",
        "type": "rtc.usage.voided",
        "data": {"appId": CLASS_APP, "voidedSource": CLASS_SOURCE, "voidedId": session}})
    .to_string()
}

/// The distinct event ids of `deliveries`, in order of first delivery.
fn distinct_ids(deliveries: &[String]) -> Vec<String> {
    let mut seen = BTreeSet::new();
    deliveries
        .iter()
        .map(|body| {
            let event: serde_json::Value = serde_json::from_str(body).expect("an event");
            event["id"].as_str().expect("an id").to_owned()
        })
        .filter(|id| seen.insert(id.clone()))
        .collect()
}

/// One row of section 9: units and requests per event of one phase.
fn void_row(what: &str, used: &CapacityUse, events: usize) {
    let n = events as f64;
    println!(
        "| {what} | {events} | {:.2} | {:.2} | {:.2} |",
        used.write_units / n,
        used.total_requests() as f64 / n,
        used.read_units / n
    );
}

/// Section 9: what a void costs beside the session it takes back, in the
/// busy class's batches of 10 and alone; and what being able to void costs
/// the sessions themselves (section 4's figures, compared in the docs).
async fn voids(local: &LocalDynamo, scale: &Scale, now: UtcMillis) {
    let utc = BillingZone::utc();
    let first = ClassHours::UtcHoursInOneDay.first(&utc, now);
    let workload = busy_class_workload(scale.class_sessions, scale.class_users, &utc, first, 4);
    let ids = distinct_ids(&workload.deliveries);
    println!(
        "## 9. Voids ({} sessions of the busy class with {} rejoining users, then every tenth \
         voided; units and requests per event)\n",
        workload.unique, workload.users
    );
    println!("| what | events | write units/event | requests/event | read units/event |");
    println!("| --- | --- | --- | --- | --- |");
    let (store, meter) = metered_store(local).await;
    register_in(&store, CLASS_APP, &utc).await;
    meter.reset();
    deliver(&store, Design::Coalesced, &workload.deliveries, 10, now).await;
    void_row(
        "sessions, batches of 10 (10% delivered twice)",
        &meter.snapshot(),
        workload.unique,
    );
    let voids: Vec<String> = ids
        .iter()
        .step_by(10)
        .enumerate()
        .map(|(n, id)| void_event(n, id))
        .collect();
    meter.reset();
    deliver(&store, Design::Coalesced, &voids, 10, now).await;
    void_row(
        "voids of every tenth, batches of 10",
        &meter.snapshot(),
        voids.len(),
    );
    // Alone: each event its own batch, so nothing is shared with another.
    let alone = 20.min(ids.len());
    let (store, meter) = metered_store(local).await;
    register_in(&store, CLASS_APP, &utc).await;
    let mut firsts = BTreeSet::new();
    let sessions: Vec<String> = (workload.deliveries.iter())
        .filter(|body| firsts.insert(distinct_ids(std::slice::from_ref(body))))
        .take(alone)
        .cloned()
        .collect();
    meter.reset();
    deliver(&store, Design::Coalesced, &sessions, 1, now).await;
    let used = meter.snapshot();
    void_row("a session alone (a batch of 1)", &used, alone);
    let voids: Vec<String> = distinct_ids(&sessions)
        .iter()
        .enumerate()
        .map(|(n, id)| void_event(n, id))
        .collect();
    meter.reset();
    deliver(&store, Design::Coalesced, &voids, 1, now).await;
    void_row(
        "its void alone (a batch of 1)",
        &meter.snapshot(),
        voids.len(),
    );
    println!(
        "\nGoal: a void costs no more write units than the event it voids. A void writes what \
         its session wrote (the hour, the row, the user mark, the deduction state) with the \
         signs turned, and two records where the session wrote one: its own (so a void counts \
         once, and a void of a void is known) and the voided event's mark. Every other session \
         is unchanged but for one thing, shown in section 4: a user mark now counts its \
         user's live sessions, so a rejoining user's session writes the mark too.\n"
    );
}

/// When a history message was acknowledged, if each day's usage is taken
/// in an hour after the day's last class: the day of its `startTime` (or,
/// for the registration and the packages, the first day).
fn acknowledged_at(body: &str, zone: &BillingZone, first: Day) -> UtcMillis {
    let event: serde_json::Value = serde_json::from_str(body).expect("an event");
    let day = event["data"]["startTime"]
        .as_str()
        .or(event["data"]["endTime"].as_str())
        .and_then(|text| chrono::DateTime::parse_from_rfc3339(text).ok())
        .map(|at| UtcMillis(at.timestamp_millis()))
        .map_or(first, |at| zone.day_of(at));
    zone.day_start(day.next()).plus_ms(HOUR_MS)
}

/// Section 10: what `DescribeStatement` costs for a busy app with a year
/// of history (section 5's app, each day's usage acknowledged the day
/// after): this month's open statement, last month's closed one the first
/// time (computed and kept) and after (read back), and the 13 months of
/// `DescribeStatements`.
async fn statements(local: &LocalDynamo, scale: &Scale) {
    use rtc_usage::domain::statement::{Calendar, Month};
    use rtc_usage::service::statements::{describe_statement, describe_statements};
    let zone = BillingZone::utc();
    let now = UtcMillis::now();
    let history = history(scale, &zone, now, 2 * MINUTE_MS);
    let first = Day(zone.day_of(now).0 - scale.history_days + 1);
    let (store, meter) = metered_store(local).await;
    let mut by_day: BTreeMap<UtcMillis, Vec<String>> = BTreeMap::new();
    for body in &history.past {
        by_day
            .entry(acknowledged_at(body, &zone, first).min(now))
            .or_default()
            .push(body.clone());
    }
    for (acked, bodies) in &by_day {
        deliver(
            &store,
            Design::Coalesced,
            bodies,
            scale.history_batch,
            *acked,
        )
        .await;
    }
    run_rollup(&store, &RollupRequest::Scheduled, Deadline::none()).await;
    let calendar = Calendar::new(zone.clone(), DEFAULT_GRACE_SECONDS);
    let current = calendar.month_of(now);
    let closed = (1..=12)
        .map(|back| current.back(back)[back as usize])
        .find(|m: &Month| calendar.is_closed(*m, now))
        .expect("a closed month");
    let owner = AccountId::parse(OWNER).expect("account");
    let app = AppId::parse(HISTORY_APP).expect("app");
    println!(
        "## 10. Monthly statements of a busy app ({} days × {} classes, each day acknowledged \
         the day after; UTC; requests and read units per answer)\n",
        scale.history_days, scale.history_classes
    );
    println!("| answer | requests | read units | write units | ms |");
    println!("| --- | --- | --- | --- | --- |");
    let row = |what: String, used: CapacityUse, took: Duration| {
        println!(
            "| {what} | {} | {:.1} | {:.1} | {:.1} |",
            requests_by_kind(&used),
            used.read_units,
            used.write_units,
            took.as_secs_f64() * 1000.0
        );
    };
    for (what, month, prepare_first) in [
        (
            format!("DescribeStatement {current} (open)"),
            current,
            false,
        ),
        (
            format!("DescribeStatement {closed} (closed, before the rollup kept it: computed)"),
            closed,
            false,
        ),
        (
            format!("DescribeStatement {closed} (closed, kept by the rollup)"),
            closed,
            true,
        ),
    ] {
        if prepare_first {
            rtc_usage::service::statements::prepare(&store, &app, &calendar, closed, now)
                .await
                .expect("kept");
        }
        meter.reset();
        let started = Instant::now();
        let answer = describe_statement(
            &store,
            &owner,
            &app,
            month,
            DEFAULT_GRACE_SECONDS,
            "bench",
            now,
        )
        .await
        .expect("a statement");
        let took = started.elapsed();
        assert!(
            answer.audio_video.billable_minutes > 0,
            "{what}: the month has usage"
        );
        row(what, meter.snapshot(), took);
    }
    meter.reset();
    let started = Instant::now();
    describe_statements(&store, &owner, &app, DEFAULT_GRACE_SECONDS, "bench", now)
        .await
        .expect("statements");
    row(
        "DescribeStatements (13 months; one closed month kept)".to_owned(),
        meter.snapshot(),
        started.elapsed(),
    );
    println!(
        "\nGoal: a closed statement in at most 2 requests (the registration and the kept \
         statement). An open one reads what the month's details read: the month's rows and \
         hours, and the deduction's inputs at its start.\n"
    );
}

/// One batch through ingestion, then its apps' alerts checked as the SQS
/// entry point checks them (`decide`: as a design that reads the deduction
/// after every batch would).
async fn ingest_and_alert<B: AlertBus>(
    store: &DynamoStore,
    bus: &B,
    body: &str,
    now: UtcMillis,
    decide: bool,
) -> AlertReport {
    let messages = [InboundMessage {
        message_id: "m".into(),
        body: Some(body.to_owned()),
    }];
    let report = ingest_batch(store, &messages, now, RetryPolicy::default()).await;
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    let checks: BTreeMap<AppId, Check> = (report.alert_checks.iter())
        .map(|(app, c)| {
            let check = Check {
                decide: decide || c.check.decide,
            };
            (app.clone(), check)
        })
        .collect();
    check_apps(store, bus, &checks, now, PublishPolicy::default()).await
}

/// Section 11: what checking alerts adds to a session event that raises
/// nothing (beside deciding after every batch, the naive design), what
/// one raised alert costs, and the time from the causing event's
/// acknowledgement to the alert on the consumer queue (a local EventBridge:
/// moto's server, with the template's rule and queue).
async fn alerts(local: &LocalDynamo, scale: &Scale, now: UtcMillis) {
    const APP: &str = "bench-alerts";
    let n = (scale.class_sessions / 10).clamp(10, 100);
    println!(
        "## 11. Alerts ({n} sessions alone, a batch of 1 each, an app with a 100,000-minute \
         package and three expired ones; units and requests per event)\n"
    );
    println!("| what | write units/event | read units/event | requests/event | PutEvents |");
    println!("| --- | --- | --- | --- | --- |");
    let start = Day(now.day().0 - 3).start().plus_ms(9 * HOUR_MS);
    let package = |id: &str, minutes: u64, from: Day, to: Day| {
        json!({"specversion": "1.0", "id": format!("buy-{id}"), "source": "/bench/billing",
            "type": "rtc.package.purchased",
            "data": {"appId": APP, "packageId": id, "packageName": id, "minutes": minutes,
                     "validFrom": from.key(), "validTo": to.key()}})
        .to_string()
    };
    let session = |tag: &str, i: usize| {
        let at = start.plus_ms(i as i64 * MINUTE_MS);
        session_event(
            &format!("{tag}-{i}"),
            APP,
            "c-1",
            &format!("u-{tag}-{i}"),
            "interactive",
            at,
            at.plus_ms(MINUTE_MS),
        )
    };
    let today = now.day();
    let mut rows = Vec::new();
    for (what, tag, decide) in [
        ("ingestion alone (no alert check)", "plain", None),
        (
            "with the alert check (the watch: one read)",
            "watched",
            Some(false),
        ),
        (
            "naive: the deduction decided after every batch",
            "naive",
            Some(true),
        ),
    ] {
        let (store, meter) = metered_store(local).await;
        register_apps(&store, [APP], OWNER).await;
        let bus = RecordingBus::new();
        let mut packages = vec![package(
            "big",
            100_000,
            Day(today.0 - 30),
            Day(today.0 + 300),
        )];
        for k in 0..3 {
            let from = Day(today.0 - 200 + k * 40);
            packages.push(package(&format!("old-{k}"), 500, from, Day(from.0 + 30)));
        }
        for body in &packages {
            ingest_and_alert(&store, &bus, body, now, false).await;
        }
        meter.reset();
        for i in 0..n {
            let body = session(tag, i);
            match decide {
                None => {
                    let messages = [InboundMessage {
                        message_id: "m".into(),
                        body: Some(body),
                    }];
                    ingest_batch(&store, &messages, now, RetryPolicy::default()).await;
                }
                Some(decide) => {
                    let report = ingest_and_alert(&store, &bus, &body, now, decide).await;
                    assert_eq!(report.raised, 0, "no threshold is near");
                }
            }
        }
        let used = meter.snapshot();
        let per = |x: f64| x / n as f64;
        rows.push((what, per(used.write_units), per(used.read_units)));
        println!(
            "| {what} | {:.2} | {:.2} | {:.2} | {} |",
            per(used.write_units),
            per(used.read_units),
            per(used.total_requests() as f64),
            bus.calls()
        );
    }
    // One session that takes a package below a fifth: decided, stored,
    // published, marked published.
    let (store, meter) = metered_store(local).await;
    register_apps(&store, [APP], OWNER).await;
    let bus = RecordingBus::new();
    ingest_and_alert(
        &store,
        &bus,
        &package("small", 10, Day(today.0 - 30), Day(today.0 + 300)),
        now,
        false,
    )
    .await;
    let crossing = session_event(
        "cross",
        APP,
        "c-1",
        "u-cross",
        "interactive",
        start,
        start.plus_ms(8 * MINUTE_MS),
    );
    let plain = session_event(
        "plain",
        APP,
        "c-2",
        "u-plain",
        "interactive",
        start,
        start.plus_ms(MINUTE_MS),
    );
    let messages = [InboundMessage {
        message_id: "m".into(),
        body: Some(plain),
    }];
    ingest_batch(&store, &messages, now, RetryPolicy::default()).await;
    meter.reset();
    let report = ingest_and_alert(&store, &bus, &crossing, now, false).await;
    assert_eq!((report.raised, report.published), (1, 1));
    let raised = meter.snapshot();
    println!(
        "| a session that raises one alert (PackageLow) | {:.2} | {:.2} | {} | {} |",
        raised.write_units,
        raised.read_units,
        raised.total_requests(),
        bus.calls()
    );
    println!(
        "\nRequests of the session that raised it: {}.",
        requests_by_kind(&raised)
    );
    let added = rows[1].1 - rows[0].1;
    let read = rows[1].2 - rows[0].2;
    println!(
        "\nGoal: the check adds 0 writes and at most 1 read unit to a session that raises \
         nothing: measured {added:+.2} write units and {read:+.2} read units per event (one \
         strongly consistent read of the app's deduction state, under 4 KB).\n"
    );
    // The time from acknowledgement to the consumer queue, locally.
    let local_bus = LocalBus::create(&format!("bench-alerts-{}", now.0)).await;
    let bus = local_bus.bus();
    let store = local.fresh_store(None).await;
    register_apps(&store, [APP], OWNER).await;
    let mut samples = Vec::new();
    for k in 0..5 {
        let id = format!("p{k}");
        ingest_and_alert(
            &store,
            &bus,
            &package(&id, 10, Day(today.0 - 30), Day(today.0 + 300)),
            now,
            false,
        )
        .await;
        let body = session_event(
            &format!("lat-{k}"),
            APP,
            &format!("lat-{k}"),
            "u",
            "interactive",
            start.plus_ms(k * HOUR_MS),
            start.plus_ms(k * HOUR_MS + 10 * MINUTE_MS),
        );
        let acknowledged = Instant::now();
        let report = ingest_and_alert(&store, &bus, &body, now, false).await;
        let answered = acknowledged.elapsed();
        let received = local_bus.receive().await;
        let on_queue = acknowledged.elapsed();
        assert!(report.raised >= 1 && !received.is_empty(), "{report:?}");
        samples.push((answered, on_queue, received.len()));
    }
    println!(
        "| alert | invocation (ack to answer) | ack to received from the consumer queue | events received |"
    );
    println!("| --- | --- | --- | --- |");
    for (k, (answered, on_queue, count)) in samples.iter().enumerate() {
        println!(
            "| {} | {} | {} | {count} |",
            k + 1,
            ms(*answered),
            ms(*on_queue)
        );
    }
    println!(
        "\nGoal: the alert is on the consumer queue when the invocation that acknowledged its \
         event answers. Every alert above was received by the first receive after the answer: \
         PutEvents ran inside the invocation (locally, moto delivers to the queue before \
         PutEvents answers; in AWS the rule's delivery adds EventBridge's own latency, \
         typically well under a second, untested here).\n"
    );
}

/// Section 12: one busy app at scale — its events pulled by N concurrent
/// ingest invocations over a store with DynamoDB's rules for concurrent
/// writers (see `bench_support/hot_app.rs`).
async fn hot_app_at_scale(scale: &Scale, now: UtcMillis) {
    let base = scale.hot_app_sessions;
    let mut workloads: BTreeMap<usize, (Vec<String>, BTreeMap<String, u64>)> = BTreeMap::new();
    let contention = rtc_usage::store::contended::Contention::default();
    println!(
        "## 12. One busy app at scale ({base} sessions, or {} batches for each invocation if \
         more; 90% of them one app's over 40 classes, the rest over 100 apps; 10% delivered \
         twice; a table with {} ms a request, {} ms a write in flight, {} write units a \
         second per item; invocations start spread over {} ms; visibility timeout scaled to \
         {} ms)\n",
        scale.hot_app_batches_each,
        contention.latency.as_millis(),
        contention.write_latency.as_millis(),
        contention.item_units_per_second,
        hot_app::RAMP.as_millis(),
        hot_app::VISIBILITY.as_millis()
    );
    println!(
        "| design | invocations | sessions | events/s | busy app's events/s | write units/event | \
         conflicts/transaction (on the busy app's items) | throttles/event | retry rounds | redeliveries | \
         waited in line, summed | oldest message, max |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    use hot_app::QueueKind::{Fifo, Standard};
    let never = TurnPolicy {
        min_events: usize::MAX,
        ..TurnPolicy::default()
    };
    let lined = TurnPolicy::default();
    let designs = [
        ("before turns: batches of 10", Standard, 10, 1, never),
        ("before turns: batches of 100", Standard, 100, 1, never),
        (
            "what-if: hour and state in 8 items, batches of 10",
            Standard,
            10,
            8,
            never,
        ),
        (
            "FIFO, one message group per app, batches of 10",
            Fifo(1),
            10,
            1,
            never,
        ),
        (
            "FIFO, 4 message groups per app, batches of 10",
            Fifo(4),
            10,
            1,
            never,
        ),
        (
            "chosen: the app's turns, batches of 100 (the template's)",
            Standard,
            100,
            1,
            lined,
        ),
        (
            "the operator's next step: turns, batches of 500",
            Standard,
            500,
            1,
            lined,
        ),
    ];
    for (design, kind, batch, shards, turns) in designs {
        // BENCH_DESIGN=text: only the designs whose name holds it.
        if std::env::var("BENCH_DESIGN").is_ok_and(|d| !design.contains(&d)) {
            continue;
        }
        let contention = rtc_usage::store::contended::Contention {
            hot_item_shards: shards,
            ..contention
        };
        for n in [1, 4, 16, 64] {
            // Enough batches that most of the run is steady, not the
            // first batch of every invocation at once.
            // (capped: a run stays under a minute).
            let events = base.max((n * batch * scale.hot_app_batches_each).min(64_000));
            // Every tenth session is another app's.
            let busy = events - events / 10;
            let (deliveries, expected) = workloads
                .entry(events)
                .or_insert_with(|| hot_app::workload(events, 40, now));
            let setup = hot_app::Setup {
                kind,
                batch_size: batch,
                contention,
                turns,
            };
            let run = hot_app::run(setup, n, events, deliveries, expected, now).await;
            let max_age = run.queue_age.iter().map(|(_, age)| *age).max().unwrap_or(0);
            let seconds = run.elapsed.as_secs_f64();
            println!(
                "| {design} | {} | {} | {:.0} | {:.0} | {:.2} | {:.4} ({}) | {:.3} | {} | {} | {:.1} s | {} ms |",
                run.invocations,
                run.events,
                run.events as f64 / seconds,
                busy as f64 / seconds,
                run.write_units as f64 / run.events as f64,
                run.conflicts as f64 / run.transactions.max(1) as f64,
                run.busy_conflicts,
                run.throttles as f64 / run.events as f64,
                run.retry_rounds,
                run.redeliveries,
                run.turn_wait.as_secs_f64(),
                max_age
            );
            let _ = run.deliveries;
        }
    }
    println!(
        "\nEvery transaction of the busy app writes its audio/video hour and its deduction \
         state, so concurrent invocations of it conflict on those two items; the what-if \
         rows spread them over 8 items each (the stored data unchanged: only the conflicts \
         and units are simulated). Exactly once held in every run (every app's milliseconds \
         checked).\n"
    );
}
