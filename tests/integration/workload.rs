//! Random usage workloads, a straightforward reference computation of what
//! the query must answer, and an SQS-like delivery loop.

use crate::support::*;
use chrono::{FixedOffset, SecondsFormat};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rtc_usage::domain::time::{DAY_MS, HOUR_MS, UtcMillis};
use rtc_usage::service::ingest::{
    FailureKind, InboundMessage, IngestReport, IngestSettings, RetryPolicy, ingest_batch_in,
};
use rtc_usage::store::{AlertStore, UsageStore};
use serde_json::json;
use serde_json::value::RawValue;
use std::collections::{BTreeMap, HashMap};
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

/// `YYYY-MM-DDThh:mm:ssZ` for a whole second, written by chrono rather than
/// by the service's own formatter, so a formatting bug cannot hide itself.
pub fn query_time(ms: i64) -> String {
    assert_eq!(ms.rem_euclid(1_000), 0, "query times are whole seconds");
    chrono::DateTime::from_timestamp_millis(ms)
        .expect("a representable time")
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// Seconds as the contract writes them, from integer milliseconds, with no
/// floating point and none of the service's code: the whole seconds alone
/// when the milliseconds are a multiple of 1,000 ("150"), otherwise a point
/// and the significant millisecond digits only ("150.5", "0.25", "0.001").
pub fn seconds_text(ms: u64) -> String {
    let whole = ms / 1_000;
    let mut fraction = ms % 1_000;
    if fraction == 0 {
        return whole.to_string();
    }
    let mut digits = 3;
    while fraction.is_multiple_of(10) {
        fraction /= 10;
        digits -= 1;
    }
    format!("{whole}.{fraction:0digits$}")
}

/// Every aligned bucket of `size` milliseconds that overlaps `[start, end)`:
/// from the bucket holding `start` up to the last one starting before `end`.
pub fn expected_buckets(start: i64, end: i64, size: i64) -> Vec<i64> {
    let mut buckets = Vec::new();
    let mut bucket = start - start.rem_euclid(size);
    while bucket < end {
        buckets.push(bucket);
        bucket += size;
    }
    buckets
}

/// A JSON object with each value kept as the exact text the service wrote.
type RawObject = BTreeMap<String, Box<RawValue>>;

fn raw_object(text: &str) -> RawObject {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not a JSON object ({e}): {text}"))
}

fn raw_text(object: &RawObject, key: &str) -> String {
    object
        .get(key)
        .unwrap_or_else(|| panic!("no {key} in {object:?}"))
        .get()
        .to_owned()
}

/// A point's fields, in the sorted order a `RawObject` lists them.
const POINT_KEYS: [&str; 6] = [
    "AudioDuration",
    "Timestamp",
    "TotalDuration",
    "V1080Duration",
    "V480Duration",
    "V720Duration",
];

/// One query's window: `[start, end)` in buckets of `size` milliseconds,
/// asked for with `Interval=interval`.
struct Window {
    start: i64,
    end: i64,
    size: i64,
    interval: &'static str,
}

/// One window's answer against the reference: exactly the expected buckets,
/// in order, each value and sum byte for byte as the contract writes it.
fn assert_window(
    text: &str,
    map: &HashMap<(String, &'static str, usize, i64), u64>,
    app: &str,
    mode: &'static str,
    window: &Window,
) -> usize {
    let Window {
        start,
        end,
        size,
        interval,
    } = *window;
    let context = format!(
        "{app} mode {mode} interval {interval} [{}, {})",
        query_time(start),
        query_time(end)
    );
    let body = raw_object(text);
    assert_eq!(raw_text(&body, "AppId"), format!("\"{app}\""), "{context}");
    assert_eq!(
        raw_text(&body, "RecordMode"),
        format!("\"{mode}\""),
        "{context}"
    );
    let points: Vec<RawObject> = serde_json::from_str(&raw_text(&body, "Data")).unwrap();
    let buckets = expected_buckets(start, end, size);
    assert_eq!(
        points.len(),
        buckets.len(),
        "{context}: every overlapping bucket, no more, no fewer"
    );
    let mut sums = [0u64; 4];
    for (point, bucket) in points.iter().zip(&buckets) {
        let keys: Vec<&str> = point.keys().map(String::as_str).collect();
        assert_eq!(keys, POINT_KEYS, "{context}: a point's fields");
        let at_text = query_time(*bucket);
        assert_eq!(
            raw_text(point, "Timestamp"),
            format!("\"{at_text}\""),
            "{context}"
        );
        let mut total = 0;
        for (tier, name) in TIERS.iter().enumerate() {
            let want = map
                .get(&(app.to_owned(), mode, tier, *bucket))
                .copied()
                .unwrap_or(0);
            assert_eq!(
                raw_text(point, &format!("{name}Duration")),
                seconds_text(want),
                "{context}: {name} at {at_text}"
            );
            sums[tier] += want;
            total += want;
        }
        assert_eq!(
            raw_text(point, "TotalDuration"),
            seconds_text(total),
            "{context}: the total of the four tiers at {at_text}"
        );
    }
    for (tier, name) in TIERS.iter().enumerate() {
        assert_eq!(
            raw_text(&body, &format!("{name}SummaryDuration")),
            seconds_text(sums[tier]),
            "{context}: {name} summary = its column's sum"
        );
    }
    assert_eq!(
        raw_text(&body, "TotalSummaryDuration"),
        seconds_text(sums.iter().sum()),
        "{context}: total summary = the sum of the tiers"
    );
    points.len()
}

/// Asks the query handler about all of `[from, to)` for every app and mode,
/// at both intervals, in consecutive windows of at most 31 days, and checks
/// each answer against the reference. The first window is 2 days 1 h 30 min
/// 13 s long, so it ends inside a bucket and every later one (31 days, the
/// longest span, or up to the end of the range) starts inside one: partial
/// first and last buckets must be answered whole.
pub async fn assert_queries_match<S: UsageStore + AlertStore>(
    store: &S,
    reference: &Reference,
    apps: &[&str],
    from: UtcMillis,
    to: UtcMillis,
    now: UtcMillis,
) {
    const SPAN_MAX: i64 = 31 * DAY_MS;
    const SPAN_MIN: i64 = 5 * 60_000;
    let oldest = now.0 - 366 * DAY_MS;
    let mut checked = 0;
    for app in apps {
        for mode in ["0", "1"] {
            for (interval, size, map) in [
                ("3600", HOUR_MS, &reference.hourly),
                ("86400", DAY_MS, &reference.daily),
            ] {
                let last = to.0 + (size - to.0.rem_euclid(size)) % size;
                let mut start = (from.0 - from.0.rem_euclid(size)).max(oldest);
                let mut span = 2 * DAY_MS + HOUR_MS + 30 * 60_000 + 13_000;
                while start < to.0 {
                    let end = (start + span).min(last).max(start + SPAN_MIN);
                    let (start_text, end_text) = (query_time(start), query_time(end));
                    let pairs = query_pairs(&[
                        ("AppId", app),
                        ("RecordMode", mode),
                        ("Interval", interval),
                        ("StartTime", &start_text),
                        ("EndTime", &end_text),
                    ]);
                    let event = api_event(Api::Rest, &pairs, Some(OWNER));
                    let a = answer(handle_event(store, None, &event, now).await);
                    assert_eq!(a.status, 200, "{}", a.text);
                    let window = Window {
                        start,
                        end,
                        size,
                        interval,
                    };
                    checked += assert_window(&a.text, map, app, mode, &window);
                    start = end;
                    span = SPAN_MAX;
                }
            }
        }
    }
    assert!(checked > 0);
}

/// The production retry rounds with a short first backoff: the tests run
/// many invocations one after another.
pub fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        first_backoff: Duration::from_millis(1),
        ..RetryPolicy::default()
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
pub async fn deliver<S: UsageStore + AlertStore>(
    store: &S,
    rng: &mut StdRng,
    bodies: Vec<String>,
    batch: usize,
    now: UtcMillis,
) -> Delivered {
    deliver_in(store, rng, bodies, batch, now, &IngestSettings::default()).await
}

/// [`deliver`] with the deployment's settings.
pub async fn deliver_in<S: UsageStore + AlertStore>(
    store: &S,
    rng: &mut StdRng,
    bodies: Vec<String>,
    batch: usize,
    now: UtcMillis,
    settings: &IngestSettings,
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
        let report: IngestReport =
            ingest_batch_in(store, &inflight, now, fast_retry(), settings).await;
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
                // The service built a storage request DynamoDB refuses: a bug
                // to fix, never something a redelivery can cure.
                FailureKind::Defect => panic!("a defect: {failure:?}"),
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
