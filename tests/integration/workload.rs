//! Random usage workloads, a straightforward reference computation of what
//! the query must answer, and an SQS-like delivery loop.

use crate::support::*;
use chrono::{FixedOffset, SecondsFormat};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rtc_usage::domain::time::{DAY_MS, HOUR_MS, UtcMillis};
use rtc_usage::entry::http;
use rtc_usage::service::ingest::{
    FailureKind, InboundMessage, IngestReport, RetryPolicy, ingest_batch,
};
use rtc_usage::store::UsageStore;
use serde_json::json;
use std::collections::HashMap;
use std::time::Duration;

pub const TIERS: [&str; 4] = ["Audio", "V480", "V720", "V1080"];

#[derive(Clone, Debug)]
pub struct Seg {
    pub id: String,
    pub app: String,
    pub mode: &'static str,
    /// Index into TIERS.
    pub tier: usize,
    pub start: UtcMillis,
    pub end: UtcMillis,
}

pub fn rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

/// `n` segments of `apps`, starting near `anchors` (± 36 h) with random
/// millisecond boundaries, from 1 ms to 48 h long.
pub fn random_segments(
    rng: &mut StdRng,
    n: usize,
    apps: &[&str],
    anchors: &[UtcMillis],
) -> Vec<Seg> {
    (0..n)
        .map(|i| {
            let anchor = anchors[rng.random_range(0..anchors.len())];
            let start = anchor.plus_ms(rng.random_range(-36 * HOUR_MS..36 * HOUR_MS));
            let len = match rng.random_range(0..10) {
                0 => rng.random_range(1..1_000),
                1 => 48 * HOUR_MS,
                2..=3 => rng.random_range(HOUR_MS..48 * HOUR_MS),
                _ => rng.random_range(1_000..2 * HOUR_MS),
            };
            Seg {
                id: format!("seg-{i}-{}", rng.random::<u32>()),
                app: apps[rng.random_range(0..apps.len())].to_owned(),
                mode: if rng.random_bool(0.5) { "0" } else { "1" },
                tier: rng.random_range(0..4),
                start,
                end: start.plus_ms(len),
            }
        })
        .collect()
}

/// RFC 3339 in a random offset, sometimes with sub-millisecond digits that
/// the service must truncate.
fn rfc3339(rng: &mut StdRng, at: UtcMillis) -> String {
    let offsets = [0, 8 * 3600, -5 * 3600 - 1800, 14 * 3600, -12 * 3600];
    let offset = FixedOffset::east_opt(offsets[rng.random_range(0..offsets.len())]).unwrap();
    let mut text = at
        .to_datetime()
        .with_timezone(&offset)
        .to_rfc3339_opts(SecondsFormat::Millis, true);
    if rng.random_bool(0.3) {
        // "…:05.123+08:00" → "…:05.123999+08:00": the same millisecond.
        let dot = text.find('.').expect("fraction");
        text.insert_str(dot + 4, "999");
    }
    text
}

pub fn segment_body(rng: &mut StdRng, seg: &Seg) -> String {
    let (media, size) = match seg.tier {
        0 => ("audio", None),
        1 => ("video", Some((640, 480))),
        2 => ("video", Some((1280, 720))),
        _ => ("video", Some((1920, 1080))),
    };
    let mut data = json!({"appId": seg.app, "recordMode": seg.mode, "media": media,
        "startTime": rfc3339(rng, seg.start), "endTime": rfc3339(rng, seg.end)});
    if let Some((w, h)) = size {
        data["width"] = json!(w);
        data["height"] = json!(h);
    }
    json!({"specversion": "1.0", "id": seg.id, "source": "/rtc/recorder/test", "type": "rtc.recording.segment",
           "time": rfc3339(rng, seg.end), "data": data})
    .to_string()
}

pub fn registration_body(app: &str, owner: &str) -> String {
    json!({"specversion": "1.0", "id": format!("reg-{app}"), "source": "/rtc/console", "type": "rtc.app.registered",
           "data": {"appId": app, "ownerAccountId": owner}})
    .to_string()
}

/// (app, mode, tier, bucket start) → milliseconds, by plain overlap of each
/// segment with each bucket: no splitting code shared with the service.
#[derive(Default)]
pub struct Reference {
    pub hourly: HashMap<(String, &'static str, usize, i64), u64>,
    pub daily: HashMap<(String, &'static str, usize, i64), u64>,
}

impl Reference {
    pub fn of(segments: &[Seg]) -> Self {
        let mut r = Reference::default();
        for s in segments {
            for (size, map) in [(HOUR_MS, &mut r.hourly), (DAY_MS, &mut r.daily)] {
                let mut bucket = s.start.0.div_euclid(size) * size;
                while bucket < s.end.0 {
                    let overlap = s.end.0.min(bucket + size) - s.start.0.max(bucket);
                    if overlap > 0 {
                        *map.entry((s.app.clone(), s.mode, s.tier, bucket))
                            .or_default() += overlap as u64;
                    }
                    bucket += size;
                }
            }
        }
        r
    }
}

/// Seconds as the API writes them, from milliseconds.
pub fn seconds(ms: u64) -> serde_json::Value {
    serde_json::from_str(&rtc_usage::domain::usage::Seconds(ms).to_json_number()).unwrap()
}

/// Asks the query handler about every bucket of `[from, to)` for every app and
/// mode, at both intervals, and compares each point with the reference.
pub async fn assert_queries_match<S: UsageStore>(
    store: &S,
    reference: &Reference,
    apps: &[&str],
    from: UtcMillis,
    to: UtcMillis,
    now: UtcMillis,
) {
    let mut checked = 0;
    for app in apps {
        for mode in ["0", "1"] {
            for (interval, size, map) in [
                ("3600", HOUR_MS, &reference.hourly),
                ("86400", DAY_MS, &reference.daily),
            ] {
                let mut start = UtcMillis(from.0.div_euclid(size) * size);
                while start < to {
                    let end = start
                        .plus_ms(31 * DAY_MS)
                        .min(UtcMillis(to.0.div_euclid(size) * size + size));
                    let (start_text, end_text) =
                        (start.format_query_time(), end.format_query_time());
                    let pairs = query_pairs(&[
                        ("AppId", app),
                        ("RecordMode", mode),
                        ("Interval", interval),
                        ("StartTime", &start_text),
                        ("EndTime", &end_text),
                    ]);
                    let a = answer(
                        http::handle(
                            store,
                            None,
                            &api_request(Api::Rest, &pairs, Some(OWNER)),
                            now,
                        )
                        .await,
                    );
                    assert_eq!(a.status, 200, "{}", a.text);
                    let mut sums = [0u64; 4];
                    for point in a.body["Data"].as_array().unwrap() {
                        let bucket = at(point["Timestamp"].as_str().unwrap()).0;
                        let mut total = 0;
                        for (tier, name) in TIERS.iter().enumerate() {
                            let want = map
                                .get(&(app.to_string(), mode, tier, bucket))
                                .copied()
                                .unwrap_or(0);
                            assert_eq!(
                                point[format!("{name}Duration")],
                                seconds(want),
                                "{app} mode {mode} {name} at {} (interval {interval})",
                                point["Timestamp"]
                            );
                            sums[tier] += want;
                            total += want;
                        }
                        assert_eq!(point["TotalDuration"], seconds(total));
                        checked += 1;
                    }
                    for (tier, name) in TIERS.iter().enumerate() {
                        assert_eq!(
                            a.body[format!("{name}SummaryDuration")],
                            seconds(sums[tier])
                        );
                    }
                    assert_eq!(a.body["TotalSummaryDuration"], seconds(sums.iter().sum()));
                    start = end;
                }
            }
        }
    }
    assert!(checked > 0);
}

pub fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        attempts: 3,
        first_backoff: Duration::from_millis(1),
    }
}

/// Totals of what an SQS-like delivery loop saw.
#[derive(Debug, Default)]
pub struct Delivered {
    pub invocations: usize,
    pub redeliveries: usize,
    pub counted: usize,
    pub duplicates: usize,
    pub invalid: Vec<String>,
}

/// Delivers every message at least once, in random batches of up to
/// `batch` messages in random order, redelivering what the function reports
/// as failed (transient) until each is acknowledged; invalid messages go to
/// the "dead-letter queue" (`invalid`).
pub async fn deliver<S: UsageStore>(
    store: &S,
    rng: &mut StdRng,
    bodies: Vec<String>,
    batch: usize,
    now: UtcMillis,
) -> Delivered {
    let mut queue: Vec<InboundMessage> = bodies
        .into_iter()
        .enumerate()
        .map(|(i, body)| InboundMessage {
            message_id: format!("msg-{i}"),
            body: Some(body),
        })
        .collect();
    let mut out = Delivered::default();
    while !queue.is_empty() {
        assert!(out.invocations < 10_000, "delivery does not converge");
        queue.shuffle(rng);
        let take = rng.random_range(1..=batch).min(queue.len());
        let inflight: Vec<InboundMessage> = queue.drain(..take).collect();
        let report: IngestReport = ingest_batch(store, &inflight, now, fast_retry()).await;
        out.invocations += 1;
        out.counted += report.counted;
        out.duplicates += report.duplicates;
        for failure in &report.failures {
            let message = inflight
                .iter()
                .find(|m| m.message_id == failure.message_id)
                .unwrap()
                .clone();
            match failure.kind {
                FailureKind::Invalid => out.invalid.push(message.message_id),
                FailureKind::Transient => {
                    out.redeliveries += 1;
                    if !queue.iter().any(|m| m.message_id == message.message_id) {
                        queue.push(message);
                    }
                }
            }
        }
    }
    out
}

/// Each body 1–3 times, shuffled: at-least-once delivery.
pub fn with_duplicates(rng: &mut StdRng, bodies: &[String]) -> Vec<String> {
    let mut all = Vec::new();
    for body in bodies {
        for _ in 0..rng.random_range(1..=3) {
            all.push(body.clone());
        }
    }
    all.shuffle(rng);
    all
}
