//! Storage measurements end to end: `rtc.storage.measured` events go in
//! through `ingest_batch` (delivered 1–3 times, in random order and batches,
//! through a store that fails the ways DynamoDB fails, with SQS-like
//! redelivery); `DescribeUsageData` with `ServiceType=Storage` answers at
//! both intervals, compared point by point with a reference computed here by
//! brute force from the contract's rule (an amount holds from its instant to
//! the next; of two at one instant, the larger). Then malformed events, the
//! items' lifetime, and what a 31-day trend costs.

use crate::local_time::LocalTime;
use crate::support::*;
use crate::workload::{deliver, query_time, registration_body, rng, with_duplicates};

use rand::Rng;
use rand::rngs::StdRng;
use rtc_usage::domain::retention::measurement_expiry;
use rtc_usage::domain::storage::{MAX_BYTES, Measurement, Reading};
use rtc_usage::domain::time::{DAY_MS, HOUR_MS, MINUTE_MS, UtcMillis};
use rtc_usage::service::ingest::{FailureKind, InboundMessage, ingest_batch};
use rtc_usage::store::dynamo::{app_pk, key, measurement_sk};
use rtc_usage::store::faulty::{FaultPlan, FaultyStore};
use rtc_usage::store::{AlertStore, UsageStore};
use rtc_usage::testkit::register_apps;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::sync::atomic::Ordering;

const SOURCE: &str = "/rtc/storage/test";

/// One measurement as the test sends it.
#[derive(Clone, Debug)]
struct Meas {
    id: String,
    app: &'static str,
    at: i64,
    bytes: u64,
}

fn body(rng: &mut StdRng, m: &Meas) -> String {
    json!({"specversion": "1.0", "id": m.id, "source": SOURCE, "type": "rtc.storage.measured",
           "time": rfc3339(rng, m.at),
           "data": {"appId": m.app, "bytes": m.bytes, "measuredAt": rfc3339(rng, m.at)}})
    .to_string()
}

fn ms(text: &str) -> i64 {
    at(text).0
}

/// The largest amount in effect at `t`: the largest reading of the latest
/// instant at or before it (no older than 366 days), else 0. Plain scans.
fn amount(readings: &[&Meas], t: i64) -> u64 {
    let latest = readings
        .iter()
        .filter(|m| m.at <= t && t - m.at <= 366 * DAY_MS)
        .map(|m| m.at)
        .max();
    readings
        .iter()
        .filter(|m| Some(m.at) == latest)
        .map(|m| m.bytes)
        .max()
        .unwrap_or(0)
}

/// A bucket's peak: the amount at its start, or at any reading inside it.
fn reference_peak(readings: &[&Meas], start: i64, end: i64) -> u64 {
    readings
        .iter()
        .filter(|m| start <= m.at && m.at < end)
        .map(|m| amount(readings, m.at))
        .chain([amount(readings, start)])
        .max()
        .unwrap()
}

async fn ask<S: UsageStore + AlertStore>(
    store: &S,
    app: &str,
    start: i64,
    end: i64,
    interval: &str,
) -> Value {
    let (start, end) = (query_time(start), query_time(end));
    let pairs = [
        ("Action", "DescribeUsageData"),
        ("StartTime", start.as_str()),
        ("EndTime", end.as_str()),
        ("AppId", app),
        ("ServiceType", "Storage"),
        ("Interval", interval),
    ];
    let text = owner_asks(store, &pairs, "r", now())
        .await
        .unwrap_or_else(|e| panic!("{app} {start}..{end}: {e:?}"));
    serde_json::from_str(&text).unwrap()
}

/// One answer against the reference: exactly the buckets overlapping the
/// window (the app's local hours, or local days when `daily`), in order,
/// each peak, and the summary the largest of them.
fn assert_trend(
    answer: &Value,
    readings: &[&Meas],
    app: &str,
    zone: LocalTime,
    (start, end): (i64, i64),
    daily: bool,
) {
    let context = format!(
        "{app} in {} {} [{}, {})",
        zone.name(),
        if daily { "daily" } else { "hourly" },
        query_time(start),
        query_time(end)
    );
    assert_eq!(answer["AppId"], app, "{context}");
    assert_eq!(answer["TimeZone"], zone.name(), "{context}");
    assert_eq!(answer["ServiceType"], "Storage", "{context}");
    assert_eq!(
        answer["Interval"],
        if daily { 86_400 } else { 3_600 },
        "{context}"
    );
    let points = answer["Data"].as_array().expect("Data");
    let starts = zone.buckets(start, end, daily);
    let ends = zone.buckets(start, end + 30 * HOUR_MS, daily);
    assert_eq!(points.len(), starts.len(), "{context}: every bucket");
    let mut peak = 0;
    for (i, (point, bucket)) in points.iter().zip(&starts).enumerate() {
        let keys: Vec<&String> = point.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["PeakBytes", "Timestamp"], "{context}");
        assert_eq!(point["Timestamp"], zone.text(*bucket), "{context}");
        let want = reference_peak(readings, *bucket, ends[i + 1]);
        assert_eq!(
            point["PeakBytes"].as_u64(),
            Some(want),
            "{context}: bucket {}",
            zone.text(*bucket)
        );
        peak = peak.max(want);
    }
    assert_eq!(answer["PeakSummaryBytes"].as_u64(), Some(peak), "{context}");
}

/// Asks for `[from, to)` at both intervals in consecutive windows (the
/// first 2 days 1 h 30 min 13 s long, so later ones start inside buckets;
/// then 31 days, the longest span) and checks each answer.
async fn assert_trends_match<S: UsageStore + AlertStore>(
    store: &S,
    all: &[Meas],
    (app, zone): (&str, LocalTime),
    from: i64,
    to: i64,
) {
    let readings: Vec<&Meas> = all.iter().filter(|m| m.app == app).collect();
    let mut checked = 0;
    for (interval, daily) in [("3600", false), ("86400", true)] {
        let mut start = from;
        let mut span = 2 * DAY_MS + HOUR_MS + 30 * MINUTE_MS + 13_000;
        while start < to {
            let end = (start + span).min(to).max(start + 5 * MINUTE_MS);
            let answer = ask(store, app, start, end, interval).await;
            assert_trend(&answer, &readings, app, zone, (start, end), daily);
            checked += 1;
            start = end;
            span = 31 * DAY_MS;
        }
    }
    assert!(checked > 20, "{checked}");
}

/// The oldest measurement accepted, months-old ones, a two-month gap, a
/// zero, a busy hour, readings on hour, day and month boundaries, three at
/// one instant, one reading under two event ids, and random ones in the last
/// two months (up to 4 minutes ahead of now, which is accepted).
fn workload(rng: &mut StdRng) -> Vec<Meas> {
    let mut list: Vec<(&'static str, i64, u64)> = vec![
        ("app-s", now().0 - 366 * DAY_MS, 1_000),
        ("app-s", ms("2025-12-25T18:00:00Z"), 2_000_000),
        ("app-s", ms("2026-02-28T23:59:59Z") + 999, 3_000),
        ("app-s", ms("2026-05-01T03:17:00Z") + 123, 5_000_000_000),
        ("app-s", ms("2026-07-14T00:00:00Z"), 12_345),
        // Nothing from 07-14 to 09-20: those windows carry 12,345.
        ("app-s", ms("2026-09-20T06:00:00Z"), 0),
        ("app-s", ms("2026-10-01T00:00:00Z"), MAX_BYTES),
        ("app-s", ms("2026-10-01T00:00:00Z") + 1, 40),
        ("app-s", ms("2026-11-12T00:00:00Z"), 77),
        ("app-s", ms("2026-11-12T01:00:00Z"), 78),
        ("app-s", ms("2026-11-15T08:00:00Z") + 500, 10),
        ("app-s", ms("2026-11-15T08:00:00Z") + 500, 900),
        ("app-s", ms("2026-11-15T08:00:00Z") + 500, 300),
        ("app-s", ms("2026-11-16T08:00:00Z"), 600),
        ("app-s", ms("2026-11-16T08:00:00Z"), 600),
        // Another app, in Kolkata, never in app-s's answers: readings
        // either side of its local midnight (18:30Z) and hour starts (:30).
        ("app-t", ms("2026-11-10T10:30:00Z"), 1 << 40),
        ("app-t", ms("2026-08-01T00:00:00Z"), 5),
        ("app-t", ms("2026-11-18T18:30:00Z") - 1, 9_000),
        ("app-t", ms("2026-11-18T18:30:00Z"), 8),
        ("app-t", ms("2026-11-19T02:29:59Z"), 70_000),
        ("app-t", ms("2026-11-19T02:30:00Z"), 6),
    ];
    let busy = ms("2026-11-10T10:00:00Z");
    for _ in 0..8 {
        list.push((
            "app-s",
            busy + rng.random_range(0..HOUR_MS),
            rng.random_range(0..1u64 << 45),
        ));
    }
    let (low, high) = (ms("2026-09-21T00:00:00Z"), now().0 + 4 * MINUTE_MS);
    for _ in 0..120 {
        let bytes = match rng.random_range(0..10) {
            0 => 0,
            1 => MAX_BYTES - rng.random_range(0..1_000),
            _ => rng.random_range(0..1u64 << 40),
        };
        list.push(("app-s", rng.random_range(low..high), bytes));
    }
    list.into_iter()
        .enumerate()
        .map(|(i, (app, at, bytes))| Meas {
            id: format!("sto-{i}"),
            app,
            at,
            bytes,
        })
        .collect()
}

#[tokio::test]
async fn storage_trend_matches_the_reference_under_duplicates_reordering_and_faults() {
    let plan = FaultPlan {
        fail_before_per_mille: 100,
        fail_after_per_mille: 150,
        throttle_per_mille: 100,
        stale_reads_per_mille: 300,
        seed: 17,
    };
    let store = FaultyStore::new(fresh_store().await, plan);
    let mut rng = rng(23);
    let measurements = workload(&mut rng);
    let mut bodies: Vec<String> = measurements.iter().map(|m| body(&mut rng, m)).collect();
    bodies.push(registration_body("app-s", OWNER));
    bodies.push(
        json!({"specversion": "1.0", "id": "reg-app-t", "source": "/rtc/console",
               "type": "rtc.app.registered",
               "data": {"appId": "app-t", "ownerAccountId": OWNER, "timeZone": "Asia/Kolkata"}})
        .to_string(),
    );
    let deliveries = with_duplicates(&mut rng, &bodies);
    assert!(deliveries.len() > bodies.len());
    let out = deliver(&store, &mut rng, deliveries, 10, now()).await;
    assert!(out.invalid.is_empty(), "{:?}", out.invalid);
    assert_eq!(out.counted, 0, "measurements need no dedupe record");
    assert!(out.redeliveries > 0, "faults must have forced redeliveries");
    assert!(
        store.counts.failed_after.load(Ordering::Relaxed) > 0,
        "writes that landed but were reported failed were exercised"
    );

    let oldest = now().0 - 366 * DAY_MS;
    let to = now().0 + HOUR_MS;
    let (utc, kolkata) = (LocalTime::new("UTC"), LocalTime::new("Asia/Kolkata"));
    assert_trends_match(store.inner(), &measurements, ("app-s", utc), oldest, to).await;
    assert_trends_match(store.inner(), &measurements, ("app-t", kolkata), oldest, to).await;

    // What the rule means, independent of the reference: a window months
    // after the last reading before it, with none inside, carries it.
    let answer = ask(
        store.inner(),
        "app-s",
        ms("2026-08-01T00:00:00Z"),
        ms("2026-08-31T00:00:00Z"),
        "86400",
    )
    .await;
    let peaks: Vec<u64> = answer["Data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["PeakBytes"].as_u64().unwrap())
        .collect();
    assert_eq!(peaks, vec![12_345; 30]);
}

#[tokio::test]
async fn malformed_storage_events_are_reported_and_nothing_is_applied() {
    let store = fresh_store().await;
    register_apps(&store, ["app-bad", "app-ok"], OWNER).await;
    let data = |patch: Value| {
        let mut data =
            json!({"appId": "app-bad", "bytes": 5, "measuredAt": "2026-11-23T10:00:00Z"});
        for (k, v) in patch.as_object().unwrap() {
            if v.is_null() && k.starts_with('-') {
                data.as_object_mut().unwrap().remove(&k[1..]);
            } else {
                data[k] = v.clone();
            }
        }
        json!({"specversion": "1.0", "id": "bad", "source": SOURCE, "type": "rtc.storage.measured",
               "data": data})
        .to_string()
    };
    let raw = |data: &str| {
        format!(
            r#"{{"specversion":"1.0","id":"bad","source":"{SOURCE}","type":"rtc.storage.measured","data":{data}}}"#
        )
    };
    let cases: Vec<(&str, String)> = vec![
        ("bytes -1", data(json!({"bytes": -1}))),
        ("bytes 2^53", data(json!({"bytes": MAX_BYTES + 1}))),
        ("bytes 1.5", data(json!({"bytes": 1.5}))),
        ("bytes \"5\"", data(json!({"bytes": "5"}))),
        (
            "bytes 1e3",
            raw(r#"{"appId":"app-bad","bytes":1e3,"measuredAt":"2026-11-23T10:00:00Z"}"#),
        ),
        ("bytes null", data(json!({"bytes": null}))),
        ("bytes missing", data(json!({"-bytes": null}))),
        (
            "bytes twice",
            raw(r#"{"appId":"app-bad","bytes":5,"bytes":6,"measuredAt":"2026-11-23T10:00:00Z"}"#),
        ),
        (
            "measuredAt too old",
            data(json!({"measuredAt": "2025-11-22T11:59:59.999Z"})),
        ),
        (
            "measuredAt too far ahead",
            data(json!({"measuredAt": "2026-11-23T12:05:00.001Z"})),
        ),
        ("measuredAt missing", data(json!({"-measuredAt": null}))),
        (
            "measuredAt not RFC 3339",
            data(json!({"measuredAt": "2026-11-23 10:00:00"})),
        ),
        ("appId missing", data(json!({"-appId": null}))),
        ("appId malformed", data(json!({"appId": "app bad"}))),
    ];
    let mut messages: Vec<InboundMessage> = cases
        .iter()
        .enumerate()
        .map(|(i, (_, body))| InboundMessage {
            message_id: format!("bad-{i}"),
            body: Some(body.clone()),
        })
        .collect();
    messages.push(InboundMessage {
        message_id: "good".into(),
        body: Some(
            json!({"specversion": "1.0", "id": "good", "source": SOURCE, "type": "rtc.storage.measured",
                   "data": {"appId": "app-ok", "bytes": 5, "measuredAt": "2026-11-23T10:00:00Z"}})
            .to_string(),
        ),
    });
    let report = ingest_batch(&store, &messages, now(), crate::workload::fast_retry()).await;
    assert_eq!(report.facts, 1, "the valid measurement is taken in");
    let failed: BTreeSet<&str> = report
        .failures
        .iter()
        .map(|f| f.message_id.as_str())
        .collect();
    assert_eq!(failed.len(), cases.len(), "{:?}", report.failures);
    for (i, (label, _)) in cases.iter().enumerate() {
        let failure = report
            .failures
            .iter()
            .find(|f| f.message_id == format!("bad-{i}"))
            .unwrap_or_else(|| panic!("{label}: not reported"));
        assert_eq!(failure.kind, FailureKind::Invalid, "{label}");
        assert_eq!(failure.event_id.as_deref(), Some("bad"), "{label}");
    }

    // Nothing of app-bad's is stored; app-ok's one reading is.
    let everything = |app: &str| {
        let store = &store;
        let app = rtc_usage::domain::ids::AppId::parse(app).unwrap();
        async move {
            store
                .measurements(&app, UtcMillis(0), UtcMillis(1), now().plus_ms(DAY_MS))
                .await
                .unwrap()
        }
    };
    assert_eq!(everything("app-bad").await, Default::default());
    assert_eq!(
        everything("app-ok").await.inside,
        [Reading {
            at: at("2026-11-23T10:00:00Z"),
            bytes: 5
        }]
    );
    let (start, end) = (ms("2026-11-22T00:00:00Z"), now().0);
    let answer = ask(&store, "app-bad", start, end, "3600").await;
    assert_eq!(answer["PeakSummaryBytes"], 0);
    let answer = ask(&store, "app-ok", start, end, "3600").await;
    assert_eq!(answer["PeakSummaryBytes"], 5);
}

/// Each reading is one item with the lifetime `retention` gives it, and a
/// reading stored twice is still one item.
#[tokio::test]
async fn storage_items_are_one_per_reading_with_their_lifetime() {
    let store = fresh_store().await;
    let measured_at = at("2026-11-20T10:00:00Z").plus_ms(7);
    let m = Measurement {
        app: rtc_usage::domain::ids::AppId::parse("app-1").unwrap(),
        bytes: 42,
        at: measured_at,
    };
    store
        .put_measurements(&[m.clone(), m.clone()])
        .await
        .unwrap();
    store
        .put_measurements(std::slice::from_ref(&m))
        .await
        .unwrap();
    let out = client()
        .query()
        .table_name(store.table())
        .key_condition_expression("pk = :pk")
        .expression_attribute_values(
            ":pk",
            aws_sdk_dynamodb::types::AttributeValue::S(app_pk(&m.app)),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(out.items().len(), 1, "{:?}", out.items());
    let item = &out.items()[0];
    assert_eq!(item, &{
        let mut want = key(app_pk(&m.app), measurement_sk(&m.reading()));
        want.insert(
            "expires_at".into(),
            aws_sdk_dynamodb::types::AttributeValue::N(
                (measurement_expiry(measured_at).0 / 1_000).to_string(),
            ),
        );
        want
    });
}

/// A 31-day Storage trend is three requests (the registration, the window's
/// readings, the reading before it), sent together, at either interval.
#[tokio::test]
async fn storage_trend_of_31_days_costs_at_most_three_requests() {
    let (store, meter) = fresh_metered_store().await;
    register_apps(&store, ["app-hourly", "app-5min"], OWNER).await;
    let app = |name: &str| rtc_usage::domain::ids::AppId::parse(name).unwrap();
    // An hourly producer for 40 days, one every 5 minutes for 32 days, and
    // months-old readings for both.
    let mut all = Vec::new();
    for (name, every, days) in [("app-hourly", HOUR_MS, 40), ("app-5min", 5 * MINUTE_MS, 32)] {
        let first = now().0 - days * DAY_MS;
        let mut t = first;
        let mut n = 0u64;
        while t <= now().0 {
            all.push(Measurement {
                app: app(name),
                bytes: 1_000_000 + n * 37 % 5_000,
                at: UtcMillis(t),
            });
            t += every;
            n += 1;
        }
        all.push(Measurement {
            app: app(name),
            bytes: 9,
            at: UtcMillis(now().0 - 200 * DAY_MS),
        });
    }
    store.put_measurements(&all).await.unwrap();

    let (start, end) = (now().0 - 31 * DAY_MS, now().0);
    for name in ["app-hourly", "app-5min"] {
        for interval in ["3600", "86400"] {
            meter.reset();
            let answer = ask(&store, name, start, end, interval).await;
            let used = meter.snapshot();
            println!(
                "31-day Storage trend, {name}, Interval={interval}: {} requests {:?}, {} read units",
                used.total_requests(),
                used.requests,
                used.read_units
            );
            assert!(used.total_requests() <= 3, "{used:?}");
            assert_eq!(used.requests.get("GetItem"), Some(&1), "{used:?}");
            assert_eq!(used.requests.get("Query"), Some(&2), "{used:?}");
            assert!(answer["PeakSummaryBytes"].as_u64().unwrap() >= 1_000_000);
        }
    }
}
