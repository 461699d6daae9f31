//! The benchmark suite: cost per event, query cost, rollup cost, cold start,
//! against the local DynamoDB API, with the naive design beside ours in the
//! same run. Run it with `scripts/bench` (release build, full workload) or
//! `scripts/bench --quick` (debug build, small workload; CI runs this so the
//! suite never rots). Figures are printed, never asserted.

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rtc_usage::domain::commit::{NewEvent, plan_commits};
use rtc_usage::domain::event::{EventBody, decode};
use rtc_usage::domain::ids::AppId;
use rtc_usage::domain::query::QueryParams;
use rtc_usage::domain::rollup::RollupRequest;
use rtc_usage::domain::time::{DAY_MS, HOUR_MS, UtcMillis};
use rtc_usage::service::ingest::{InboundMessage, RetryPolicy, ingest_batch};
use rtc_usage::service::query::describe_record_usage;
use rtc_usage::service::rollup::{Deadline, run_rollup};
use rtc_usage::store::UsageStore;
use rtc_usage::store::dynamo::{DynamoStore, RequestMeter, item_size};
use rtc_usage::testkit::{LocalDynamo, register_apps};
use serde_json::json;
use std::collections::HashSet;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const OWNER: &str = "111122223333";

struct Scale {
    events: usize,
    apps: usize,
    queries: usize,
    launches: usize,
}

#[tokio::main]
async fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let scale = if quick {
        Scale {
            events: 100,
            apps: 20,
            queries: 20,
            launches: 3,
        }
    } else {
        Scale {
            events: 1_000,
            apps: 200,
            queries: 200,
            launches: 20,
        }
    };
    let local = LocalDynamo::start();
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

    let busy = busy_workload(&scale, now);
    let spread = spread_workload(&scale, now);
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
            let (store, meter) = metered_store(&local).await;
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
    let largest = largest_item(&store).await;
    println!(
        "Largest item written: {largest} bytes (≤ 1,024: every write is one unit, two in a transaction).\n"
    );

    query_and_rollup_cost(&store, &meter, &busy, &scale, now).await;
    cold_start(&local, &scale);
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
/// record and each bucket it touches), no pre-check, no coalescing.
async fn naive_batch(store: &DynamoStore, messages: &[InboundMessage], now: UtcMillis) {
    for message in messages {
        let event = decode(message.body.as_deref().unwrap_or_default(), now).expect("valid event");
        let EventBody::RecordingSegment(segment) = event.body else {
            continue;
        };
        let new = NewEvent::segment(event.key, segment);
        let limit = <DynamoStore as UsageStore>::MAX_COMMIT_ACTIONS;
        for group in plan_commits([&new], &HashSet::new(), limit) {
            store.commit(&group).await.expect("commit");
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

async fn largest_item(store: &DynamoStore) -> usize {
    let mut largest = 0;
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
            let as_json: serde_json::Map<String, serde_json::Value> = item
                .iter()
                .map(|(k, v)| {
                    let v = match v {
                        aws_sdk_dynamodb::types::AttributeValue::S(s) => json!({"S": s}),
                        aws_sdk_dynamodb::types::AttributeValue::N(n) => json!({"N": n}),
                        other => json!({"S": format!("{other:?}")}),
                    };
                    (k.clone(), v)
                })
                .collect();
            largest = largest.max(item_size(&serde_json::Value::Object(as_json)));
        }
        start = page.last_evaluated_key;
        if start.is_none() {
            return largest;
        }
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
            let report = describe_record_usage(store, Some(OWNER), &params, "bench", now)
                .await
                .expect("query");
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
                describe_record_usage(store, Some(OWNER), &params, "bench", now)
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

/// Time from process start to the first poll of a stand-in Lambda Runtime API.
fn cold_start(local: &LocalDynamo, scale: &Scale) {
    let bin_dir: PathBuf = std::env::current_exe()
        .unwrap()
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .to_path_buf();
    println!(
        "## 4. Cold start ({} launches each; binaries in {})\n",
        scale.launches,
        bin_dir.file_name().unwrap().to_string_lossy()
    );
    println!("| binary | median to first poll | min | size |");
    println!("| --- | --- | --- | --- |");
    for name in ["usage-query", "usage-ingest", "usage-rollup"] {
        let path = bin_dir.join(name);
        if !path.exists() {
            println!("| {name} | not built ({}) | | |", path.display());
            continue;
        }
        let mut samples: Vec<Duration> = (0..scale.launches)
            .map(|_| launch_until_first_poll(&path, local))
            .collect();
        let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        let min = *samples.iter().min().unwrap();
        println!(
            "| {name} | {} | {} | {:.1} MB |",
            ms(percentile(&mut samples, 0.5)),
            ms(min),
            size as f64 / 1e6
        );
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
        .env("HOME", "/nonexistent")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("launch");
    let (mut stream, _) = listener.accept().expect("the runtime polls");
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
