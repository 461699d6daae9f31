//! CPU cost of the core, per event, per answer and per deduction:
//! `cargo bench --bench core`.
//! (`cargo test` runs each benchmark once, so they never rot.)

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rtc_usage::domain::class::{Package, UsageType};
use rtc_usage::domain::commit::{Acknowledged, Known, Zones};
use rtc_usage::domain::commit::{NewEvent, plan_commits};
use rtc_usage::domain::deduction::{Ledger, RowOrder};
use rtc_usage::domain::event::{EventBody, decode};
use rtc_usage::domain::ids::{AppId, ClassId, Name, PackageId};
use rtc_usage::domain::query::{QueryParams, UsageReport, ValidQuery};
use rtc_usage::domain::statement::DEFAULT_GRACE_SECONDS;
use rtc_usage::domain::time::{Day, HOUR_MS, MINUTE_MS, UtcMillis};
use rtc_usage::domain::usage::{Tier, TierMillis};
use rtc_usage::domain::usage_api::{ApiRequest, validate_request};
use rtc_usage::domain::zone::BillingZone;
use rtc_usage::store::UsageStore;
use rtc_usage::store::dynamo::DynamoStore;
use serde_json::json;
use std::hint::black_box;

fn now() -> UtcMillis {
    UtcMillis::parse_query_time("2026-11-23T12:00:00Z").unwrap()
}

/// A batch of 10 segments of one app, crossing an hour now and then.
fn batch() -> Vec<String> {
    (0..10)
        .map(|i| {
            let start = now().minus_ms(3 * HOUR_MS).plus_ms(i * 7 * 60_000);
            json!({"specversion": "1.0", "id": format!("seg-{i}"), "source": "/rtc/recorder/us-east-1/task-7",
                "type": "rtc.recording.segment", "time": "2026-11-23T11:00:00Z",
                "data": {"appId": "app-1", "recordMode": "0", "media": "video", "width": 1280, "height": 720,
                         "startTime": start.to_datetime().to_rfc3339(),
                         "endTime": start.plus_ms(25 * 60_000 + 123).to_datetime().to_rfc3339()}})
            .to_string()
        })
        .collect()
}

fn ingest_path(c: &mut Criterion) {
    let bodies = batch();
    let zones: Zones = bodies
        .iter()
        .filter_map(|body| match decode(body, now()).expect("valid").body {
            EventBody::RecordingSegment(segment) => Some((segment.app, BillingZone::utc())),
            _ => None,
        })
        .collect();
    let mut group = c.benchmark_group("ingest");
    group.throughput(Throughput::Elements(bodies.len() as u64));
    group.bench_function("decode + validate + split + coalesce, batch of 10", |b| {
        b.iter(|| {
            let events: Vec<NewEvent> = bodies
                .iter()
                .map(|body| decode(black_box(body), now()).expect("valid"))
                .filter_map(|e| match e.body {
                    EventBody::RecordingSegment(segment) => Some(NewEvent::segment(e.key, segment)),
                    _ => None,
                })
                .collect();
            black_box(plan_commits(
                &events,
                &Known::new(),
                &zones,
                &Acknowledged {
                    at: now(),
                    grace_seconds: DEFAULT_GRACE_SECONDS,
                },
                <DynamoStore as UsageStore>::MAX_COMMIT_ACTIONS,
            ))
        })
    });
    group.finish();
}

/// The query a valid `DescribeLiveRtcRecordUsageData` asks.
fn record_query(params: &QueryParams) -> ValidQuery {
    match validate_request(params, now()).expect("valid") {
        ApiRequest::RecordUsage(query) => query,
        other => panic!("not the record usage query: {other:?}"),
    }
}

fn answer_path(c: &mut Criterion) {
    let params = QueryParams::from_pairs([
        ("Action", "DescribeLiveRtcRecordUsageData"),
        ("AppId", "app-1"),
        ("StartTime", "2026-10-23T00:00:00Z"),
        ("EndTime", "2026-11-23T00:00:00Z"),
        ("RecordMode", "0"),
    ]);
    let query = record_query(&params);
    c.bench_function(
        "validate + build + serialize the answer, 744 hourly buckets",
        |b| {
            b.iter(|| {
                let query = record_query(black_box(&params));
                let report = UsageReport::build("req", &query, |bucket| {
                    let mut usage = TierMillis::default();
                    usage.add(Tier::V720, (bucket.0 / 1000) as u64 % 3_600_000);
                    usage
                });
                black_box(serde_json::to_string(&report).expect("json"))
            })
        },
    );
    assert_eq!(
        query.interval.bucket_starts(query.start, query.end).len(),
        744
    );
}

/// Rows of an app's history: `rows` rows over 300 days, about 333 a day
/// (classes with an interactive row, some with a playback row too), 5% of
/// their classes with no start known yet, each row its billable minutes;
/// and 12 packages of overlapping validity, the small ones used up early.
fn history(rows: usize) -> (Vec<Package>, Vec<(RowOrder, u64)>) {
    const DAYS: i64 = 300;
    let mut rng = StdRng::seed_from_u64(7);
    let first = now().day().0 - DAYS + 1;
    // About what a day's rows bill.
    let per_day = rows as u64 / DAYS as u64 * 90;
    let packages = (0..12)
        .map(|i| {
            let from = first + i * 25;
            Package {
                app: AppId::parse("app-1").unwrap(),
                id: PackageId::parse(&format!("pkg-{i:02}")).unwrap(),
                name: Name::parse(&format!("Package {i}")).unwrap(),
                minutes: if i % 2 == 0 {
                    per_day * 8
                } else {
                    per_day * 40
                },
                valid_from: Day(from),
                valid_to: Day(from + 60),
                acked: UtcMillis(0),
                refunded: None,
            }
        })
        .collect();
    let mut history = Vec::with_capacity(rows);
    let mut class = 0;
    while history.len() < rows {
        let day = Day(first + (history.len() as i64 * DAYS / rows as i64));
        let start = day
            .start()
            .plus_ms(rng.random_range(0..20 * HOUR_MS) / MINUTE_MS * MINUTE_MS);
        let class_start = rng.random_bool(0.95).then_some(start);
        let order = |usage| RowOrder {
            day,
            class_start,
            class: ClassId::parse(&format!("class-{class:06}")).unwrap(),
            usage,
        };
        history.push((order(UsageType::Interactive), rng.random_range(1..200)));
        if rng.random_bool(0.2) {
            history.push((order(UsageType::Playback), rng.random_range(1..60)));
        }
        class += 1;
    }
    history.truncate(rows);
    (packages, history)
}

fn deduction(c: &mut Criterion) {
    const ROWS: usize = 100_000;
    let (packages, rows) = history(ROWS);
    // As a store returns them: by day, then class id.
    let mut stored = rows.clone();
    stored.sort_by(|(a, _), (b, _)| (a.day, a.class.as_str()).cmp(&(b.day, b.class.as_str())));
    let mut shuffled = rows;
    shuffled.shuffle(&mut StdRng::seed_from_u64(8));
    // The packages must run out part way, or every take is the easy case.
    let mut ledger = Ledger::new(packages.clone());
    for (order, minutes) in &stored {
        ledger.take(order.day, *minutes);
    }
    let used_up = (0..packages.len())
        .filter(|&i| ledger.used(i) == ledger.packages()[i].minutes)
        .count();
    assert!(0 < used_up && used_up < packages.len(), "{used_up} used up");
    let mut group = c.benchmark_group("deduction");
    group.throughput(Throughput::Elements(ROWS as u64));
    group.bench_function(
        "100,000 rows over 300 days, 12 packages: sort in allocation order + Ledger::take each",
        |b| {
            b.iter_batched(
                || shuffled.clone(),
                |mut rows| {
                    rows.sort_by(|(a, _), (b, _)| a.cmp(b));
                    let mut ledger = Ledger::new(packages.clone());
                    let paid: u64 = rows
                        .iter()
                        .map(|(order, minutes)| ledger.take(order.day, *minutes).pay_as_you_go)
                        .sum();
                    black_box((ledger, paid))
                },
                BatchSize::LargeInput,
            )
        },
    );
    // The sort's share of the above: the same rows already in order.
    let mut ordered = shuffled.clone();
    ordered.sort_by(|(a, _), (b, _)| a.cmp(b));
    group.bench_function(
        "the same 100,000 rows, already in order: Ledger::take each",
        |b| {
            b.iter(|| {
                let mut ledger = Ledger::new(packages.clone());
                let paid: u64 = ordered
                    .iter()
                    .map(|(order, minutes)| ledger.take(order.day, *minutes).pay_as_you_go)
                    .sum();
                black_box((ledger, paid))
            })
        },
    );
    group.bench_function(
        "the same 100,000 rows: a day's total, then settle_day, for each of 300 days",
        |b| {
            b.iter(|| {
                let mut ledger = Ledger::new(packages.clone());
                let mut paid = 0;
                for day in stored.chunk_by(|(a, _), (b, _)| a.day == b.day) {
                    let total = day.iter().map(|(_, minutes)| minutes).sum();
                    paid += ledger.settle_day(day[0].0.day, total).pay_as_you_go;
                }
                black_box((ledger, paid))
            })
        },
    );
    group.finish();
}

/// Verifying a signed request, as the official SDK sent it (the captured
/// vectors): reading the signature, recomputing it, comparing in constant
/// time, checking the timestamp. What a warm function spends besides its
/// three DynamoDB requests (no KMS call: the secret is cached).
fn signature_check(c: &mut Criterion) {
    use rtc_usage::domain::signature::{HttpRequest, presented, timestamp_ok, verify};
    let root =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/domain/signature/vectors");
    let mut group = c.benchmark_group("signature");
    for name in ["acs3_post_query", "rpc_post_query"] {
        let vector: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(root.join(format!("{name}.json"))).unwrap(),
        )
        .unwrap();
        let r = &vector["request"];
        let headers: Vec<(&str, &str)> = r["headers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| (h[0].as_str().unwrap(), h[1].as_str().unwrap()))
            .collect();
        let request = HttpRequest {
            method: r["method"].as_str().unwrap(),
            path: r["path"].as_str().unwrap(),
            raw_query: r["raw_query"].as_str().unwrap(),
            headers,
            body: b"",
        };
        let secret = vector["access_key_secret"].as_str().unwrap();
        let signed = presented(&request).unwrap().unwrap();
        let at = signed.timestamp.unwrap();
        assert!(verify(&request, &signed, secret));
        group.bench_function(format!("read, verify and check the time: {name}"), |b| {
            b.iter(|| {
                let p = presented(black_box(&request)).unwrap().unwrap();
                black_box(verify(&request, &p, secret) && timestamp_ok(&p, at))
            })
        });
    }
    group.finish();
}

criterion_group!(
    benches,
    ingest_path,
    answer_path,
    deduction,
    signature_check
);
criterion_main!(benches);
