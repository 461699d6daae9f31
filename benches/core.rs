//! CPU cost of the core, per event and per answer: `cargo bench --bench core`.
//! (`cargo test` runs each benchmark once, so they never rot.)

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rtc_usage::domain::commit::{NewEvent, plan_commits};
use rtc_usage::domain::event::{EventBody, decode};
use rtc_usage::domain::query::{QueryParams, UsageReport, validate};
use rtc_usage::domain::time::{HOUR_MS, UtcMillis};
use rtc_usage::domain::usage::{Tier, TierMillis};
use rtc_usage::store::UsageStore;
use rtc_usage::store::dynamo::DynamoStore;
use serde_json::json;
use std::collections::HashSet;
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
                &HashSet::new(),
                <DynamoStore as UsageStore>::MAX_COMMIT_ACTIONS,
            ))
        })
    });
    group.finish();
}

fn answer_path(c: &mut Criterion) {
    let params = QueryParams::from_pairs([
        ("Action", "DescribeLiveRtcRecordUsageData"),
        ("AppId", "app-1"),
        ("StartTime", "2026-10-23T00:00:00Z"),
        ("EndTime", "2026-11-23T00:00:00Z"),
        ("RecordMode", "0"),
    ]);
    let query = validate(&params, now()).expect("valid");
    c.bench_function(
        "validate + build + serialize the answer, 744 hourly buckets",
        |b| {
            b.iter(|| {
                let query = validate(black_box(&params), now()).expect("valid");
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

criterion_group!(benches, ingest_path, answer_path);
criterion_main!(benches);
