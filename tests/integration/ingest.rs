//! Usage events through the ingest service and its SQS entry point: every
//! acknowledged event counted exactly once, to the millisecond, through
//! replays, reordering, duplicates, failures and concurrent invocations.

use crate::support::*;
use crate::workload::*;
use rand::Rng;
use rtc_usage::domain::commit::CommitGroup;
use rtc_usage::domain::ids::AppId;
use rtc_usage::domain::time::{DAY_MS, HOUR_MS, UtcMillis};
use rtc_usage::service::ingest::{
    FailureKind, InboundMessage, IngestSettings, RetryPolicy, ingest_batch, ingest_batch_in,
};
use rtc_usage::service::turns::TurnPolicy;
use rtc_usage::store::TurnStore;
use rtc_usage::store::dynamo::DynamoStore;
use rtc_usage::store::faulty::{FaultPlan, FaultyStore};
use rtc_usage::store::{AlertStore, CommitOutcome, StoreError, StoreResult, UsageStore};
use rtc_usage::testkit::register_apps;
use serde_json::json;
use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// A "now" a little after a leap year, so that leap day, month ends and the
/// year end all lie inside the 366-day window.
fn leap_now() -> UtcMillis {
    at("2025-01-02T00:00:00Z")
}

fn leap_anchors() -> Vec<UtcMillis> {
    [
        "2024-02-29T00:00:00Z",
        "2024-03-31T23:00:00Z",
        "2024-12-31T12:00:00Z",
        "2024-06-15T12:00:00Z",
    ]
    .iter()
    .map(|t| at(t))
    .collect()
}

/// Segments inside the accepted range at `now` only.
fn accepted(segments: Vec<Seg>, now: UtcMillis) -> Vec<Seg> {
    segments
        .into_iter()
        .filter(|s| s.end <= now.plus_ms(5 * 60_000) && s.start >= now.minus_ms(366 * DAY_MS))
        .collect()
}

async fn check_around_anchors(
    store: &(impl UsageStore + AlertStore),
    segments: &[Seg],
    apps: &[&str],
    now: UtcMillis,
) {
    let reference = Reference::of(segments);
    for anchor in leap_anchors() {
        let from = anchor
            .minus_ms(2 * DAY_MS)
            .max(now.minus_ms(366 * DAY_MS - DAY_MS));
        let to = anchor.plus_ms(4 * DAY_MS).min(now);
        assert_queries_match(store, &reference, apps, from, to, now).await;
    }
}

#[tokio::test]
async fn fixture_batch_registers_and_counts_each_tier() {
    let store = fresh_store().await;
    let batch: aws_lambda_events::event::sqs::SqsEvent =
        serde_json::from_value(fixture("sqs-usage-batch.json")).unwrap();
    let (response, report) = handle_sqs(&store, batch.clone()).await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!((report.facts, report.counted, report.duplicates), (1, 4, 0));
    // The whole batch again: nothing more is counted, everything is acknowledged.
    let (response, report) = handle_sqs(&store, batch).await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!((report.facts, report.counted, report.duplicates), (1, 0, 4));
    let hours = store
        .hours(
            &AppId::parse("app-1").unwrap(),
            at("2026-11-20T00:00:00Z").hour(),
            at("2026-11-20T23:00:00Z").hour(),
        )
        .await
        .unwrap();
    let total: u64 = hours
        .iter()
        .map(|h| {
            h.usage
                .mode(rtc_usage::domain::usage::RecordMode::SingleStream)
                .total()
        })
        .sum();
    assert_eq!(total, 150_000);
}

/// Hundreds of random segments across hour, day, month, year ends
/// and leap day, each delivered 1–3 times in random order and random batches.
#[tokio::test]
async fn random_workload_with_duplicates_matches_the_reference() {
    let store = fresh_store().await;
    let apps = ["app-a", "app-b"];
    register_apps(&store, &apps, OWNER).await;
    let mut rng = rng(7);
    let segments = accepted(
        random_segments(&mut rng, 400, &apps, &leap_anchors()),
        leap_now(),
    );
    assert!(segments.len() > 250, "{}", segments.len());
    let bodies: Vec<String> = segments.iter().map(|s| segment_body(&mut rng, s)).collect();
    let deliveries = with_duplicates(&mut rng, &bodies);
    let total = deliveries.len();
    let out = deliver(&store, &mut rng, deliveries, 10, leap_now()).await;
    assert!(out.invalid.is_empty(), "{:?}", out.invalid);
    assert_eq!(out.counted, segments.len(), "every event counted once");
    assert_eq!(out.counted + out.duplicates, total);
    check_around_anchors(&store, &segments, &apps, leap_now()).await;
}

/// Failures before the commit, after it (the write landed but the reply
/// was lost), throttling and stale pre-check reads, with SQS-like redelivery.
#[tokio::test]
async fn injected_failures_never_lose_or_double_count() {
    let plan = FaultPlan {
        fail_before_per_mille: 100,
        fail_after_per_mille: 150,
        throttle_per_mille: 100,
        stale_reads_per_mille: 300,
        seed: 42,
    };
    let store = FaultyStore::new(fresh_store().await, plan);
    let apps = ["app-a", "app-b"];
    register_apps(store.inner(), &apps, OWNER).await;
    let mut rng = rng(11);
    let segments = accepted(
        random_segments(&mut rng, 250, &apps, &leap_anchors()),
        leap_now(),
    );
    let bodies: Vec<String> = segments.iter().map(|s| segment_body(&mut rng, s)).collect();
    let deliveries = with_duplicates(&mut rng, &bodies);
    let out = deliver(&store, &mut rng, deliveries, 10, leap_now()).await;
    assert!(out.invalid.is_empty());
    assert!(out.redeliveries > 0, "faults must have forced redeliveries");
    let counts = &store.counts;
    assert!(
        counts.failed_after.load(Ordering::Relaxed) > 10,
        "ambiguous commits were exercised"
    );
    assert!(counts.failed_before.load(Ordering::Relaxed) > 10);
    assert!(counts.throttled.load(Ordering::Relaxed) > 10);
    assert!(counts.stale_reads.load(Ordering::Relaxed) > 10);
    check_around_anchors(store.inner(), &segments, &apps, leap_now()).await;
}

/// A transaction cancelled because some of its events were counted before
/// (the pre-check missed them) is retried without them, in the same invocation.
#[tokio::test]
async fn a_cancelled_transaction_is_retried_without_the_counted_events() {
    let plan = FaultPlan {
        stale_reads_per_mille: 1000,
        seed: 3,
        ..FaultPlan::default()
    };
    let store = FaultyStore::new(fresh_store().await, plan);
    register_apps(store.inner(), &["app-a"], OWNER).await;
    let mut rng = rng(5);
    let segments = random_segments(&mut rng, 10, &["app-a"], &[at("2026-11-22T00:00:00Z")]);
    let segments = accepted(segments, now());
    let bodies: Vec<String> = segments.iter().map(|s| segment_body(&mut rng, s)).collect();
    let messages = |range: std::ops::Range<usize>| -> Vec<InboundMessage> {
        range
            .map(|i| InboundMessage {
                message_id: format!("m{i}"),
                body: Some(bodies[i].clone()),
            })
            .collect()
    };
    let half = bodies.len() / 2;
    let first = ingest_batch(&store, &messages(0..half), now(), fast_retry()).await;
    assert_eq!(first.counted, half);
    let second = ingest_batch(&store, &messages(0..bodies.len()), now(), fast_retry()).await;
    assert!(second.failures.is_empty(), "{:?}", second.failures);
    assert_eq!(
        (second.counted, second.duplicates),
        (bodies.len() - half, half)
    );
    let reference = Reference::of(&segments);
    assert_queries_match(
        store.inner(),
        &reference,
        &["app-a"],
        at("2026-11-20T00:00:00Z"),
        at("2026-11-23T12:00:00Z"),
        now(),
    )
    .await;
}

fn segment(data: serde_json::Value) -> String {
    json!({"specversion": "1.0", "id": "bad", "source": "/t", "type": "rtc.recording.segment", "data": data}).to_string()
}

fn video(overrides: serde_json::Value) -> serde_json::Value {
    let mut data = json!({"appId": "app-a", "recordMode": "0", "media": "video", "width": 640, "height": 480,
        "startTime": "2026-11-22T10:00:00Z", "endTime": "2026-11-22T10:01:00Z"});
    for (k, v) in overrides.as_object().unwrap() {
        if v.is_null() {
            data.as_object_mut().unwrap().remove(k);
        } else {
            data[k] = v.clone();
        }
    }
    data
}

fn malformed_corpus() -> Vec<(&'static str, Option<String>)> {
    let deep = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
    let huge =
        json!({"specversion": "1.0", "id": "huge", "source": "/t", "type": "rtc.recording.segment",
        "data": video(json!({"appId": "x".repeat(256 * 1024)}))})
        .to_string();
    vec![
        ("empty body", None),
        ("blank", Some(String::new())),
        ("not JSON", Some("recording 60s".into())),
        ("JSON array", Some("[1,2]".into())),
        ("JSON string", Some("\"x\"".into())),
        ("deep nesting", Some(deep)),
        ("256 KB appId", Some(huge)),
        ("specversion 0.3", Some(json!({"specversion": "0.3", "id": "a", "source": "/t", "type": "rtc.recording.segment", "data": video(json!({}))}).to_string())),
        ("no specversion", Some(json!({"id": "a", "source": "/t", "type": "rtc.recording.segment", "data": video(json!({}))}).to_string())),
        ("no id", Some(json!({"specversion": "1.0", "source": "/t", "type": "rtc.recording.segment", "data": video(json!({}))}).to_string())),
        ("numeric id", Some(json!({"specversion": "1.0", "id": 7, "source": "/t", "type": "rtc.recording.segment", "data": video(json!({}))}).to_string())),
        ("empty source", Some(json!({"specversion": "1.0", "id": "a", "source": "", "type": "rtc.recording.segment", "data": video(json!({}))}).to_string())),
        ("unknown type", Some(json!({"specversion": "1.0", "id": "a", "source": "/t", "type": "rtc.recording.started", "data": video(json!({}))}).to_string())),
        ("bad time", Some(json!({"specversion": "1.0", "id": "a", "source": "/t", "type": "rtc.recording.segment", "time": "today", "data": video(json!({}))}).to_string())),
        ("no data", Some(json!({"specversion": "1.0", "id": "a", "source": "/t", "type": "rtc.recording.segment"}).to_string())),
        ("data is a string", Some(json!({"specversion": "1.0", "id": "a", "source": "/t", "type": "rtc.recording.segment", "data": "{}"}).to_string())),
        ("data_base64", Some(json!({"specversion": "1.0", "id": "a", "source": "/t", "type": "rtc.recording.segment", "data_base64": "e30="}).to_string())),
        ("appId with space", Some(segment(video(json!({"appId": "app a"}))))),
        ("appId 65 chars", Some(segment(video(json!({"appId": "a".repeat(65)}))))),
        ("appId look-alike", Some(segment(video(json!({"appId": "аpp-a"}))))),
        ("no appId", Some(segment(video(json!({"appId": null}))))),
        ("recordMode 2", Some(segment(video(json!({"recordMode": "2"}))))),
        ("recordMode number", Some(segment(video(json!({"recordMode": 0}))))),
        ("media screen", Some(segment(video(json!({"media": "screen"}))))),
        ("video without width", Some(segment(video(json!({"width": null}))))),
        ("width 0", Some(segment(video(json!({"width": 0}))))),
        ("width negative", Some(segment(video(json!({"width": -640}))))),
        ("width fractional", Some(segment(video(json!({"width": 640.5}))))),
        ("width string", Some(segment(video(json!({"width": "640"}))))),
        ("startTime not RFC 3339", Some(segment(video(json!({"startTime": "2026-11-22 10:00:00"}))))),
        ("startTime without offset", Some(segment(video(json!({"startTime": "2026-11-22T10:00:00"}))))),
        ("startTime epoch number", Some(segment(video(json!({"startTime": 1795428000}))))),
        ("end equals start", Some(segment(video(json!({"endTime": "2026-11-22T10:00:00Z"}))))),
        ("end before start", Some(segment(video(json!({"endTime": "2026-11-22T09:00:00Z"}))))),
        ("same millisecond", Some(segment(video(json!({"startTime": "2026-11-22T10:00:00.0001Z", "endTime": "2026-11-22T10:00:00.0009Z"}))))),
        ("longer than 48 h", Some(segment(video(json!({"startTime": "2026-11-20T10:00:00Z", "endTime": "2026-11-22T10:00:00.001Z"}))))),
        ("start too old", Some(segment(video(json!({"startTime": "2025-11-22T11:59:59Z", "endTime": "2025-11-22T12:30:00Z"}))))),
        ("end in the future", Some(segment(video(json!({"startTime": "2026-11-23T12:00:00Z", "endTime": "2026-11-23T12:05:01Z"}))))),
        ("leap second", Some(segment(video(json!({"startTime": "2026-06-30T23:59:60Z", "endTime": "2026-07-01T00:01:00Z"}))))),
        ("duplicated field", Some(r#"{"specversion":"1.0","id":"d","source":"/t","type":"rtc.recording.segment","data":{"appId":"app-a","appId":"app-b","recordMode":"0","media":"audio","startTime":"2026-11-22T10:00:00Z","endTime":"2026-11-22T10:01:00Z"}}"#.into())),
        ("owner 11 digits", Some(json!({"specversion": "1.0", "id": "r", "source": "/t", "type": "rtc.app.registered", "data": {"appId": "app-z", "ownerAccountId": "11112222333"}}).to_string())),
        ("owner as number", Some(json!({"specversion": "1.0", "id": "r", "source": "/t", "type": "rtc.app.registered", "data": {"appId": "app-z", "ownerAccountId": 111122223333u64}}).to_string())),
        ("registration to another account", Some(registration_body("app-a", OTHER_ACCOUNT))),
    ]
}

/// Every malformed event is reported with its message id and counted
/// nowhere; valid events of the same batches are counted.
#[tokio::test]
async fn malformed_events_are_reported_and_never_counted() {
    let store = fresh_store().await;
    register_apps(&store, &["app-a", "app-b"], OWNER).await;
    let corpus = malformed_corpus();
    assert!(corpus.len() >= 30);
    let mut rng = rng(13);
    let valid = accepted(
        random_segments(&mut rng, 20, &["app-a"], &[at("2026-11-22T00:00:00Z")]),
        now(),
    );
    let mut messages: Vec<InboundMessage> = corpus
        .iter()
        .enumerate()
        .map(|(i, (_, body))| InboundMessage {
            message_id: format!("bad-{i}"),
            body: body.clone(),
        })
        .collect();
    messages.extend(valid.iter().enumerate().map(|(i, s)| InboundMessage {
        message_id: format!("ok-{i}"),
        body: Some(segment_body(&mut rng, s)),
    }));
    // An event id in odd Unicode is still an event.
    let odd = Seg {
        id: "\u{202e}évènement-𝕏-\u{0}-🙂".into(),
        ..valid[0].clone()
    };
    messages.push(InboundMessage {
        message_id: "ok-odd".into(),
        body: Some(segment_body(&mut rng, &odd)),
    });
    use rand::seq::SliceRandom;
    messages.shuffle(&mut rng);
    for batch in messages.chunks(10) {
        let report = ingest_batch(&store, batch, now(), fast_retry()).await;
        for failure in &report.failures {
            assert_eq!(failure.kind, FailureKind::Invalid, "{failure:?}");
            assert!(failure.message_id.starts_with("bad-"), "{failure:?}");
            assert!(!failure.reason.is_empty());
        }
        let bad_in_batch = batch
            .iter()
            .filter(|m| m.message_id.starts_with("bad-"))
            .count();
        assert_eq!(
            report.failures.len(),
            bad_in_batch,
            "each malformed message reported once: {:?}",
            report.failures
        );
    }
    let mut expected = valid.clone();
    expected.push(odd);
    assert_queries_match(
        &store,
        &Reference::of(&expected),
        &["app-a", "app-b"],
        at("2026-11-20T00:00:00Z"),
        at("2026-11-23T12:00:00Z"),
        now(),
    )
    .await;
    // The conflicting registration changed nothing.
    assert_eq!(
        store
            .owner_of(&AppId::parse("app-a").unwrap())
            .await
            .unwrap()
            .unwrap()
            .as_str(),
        OWNER
    );
    assert_eq!(
        store
            .owner_of(&AppId::parse("app-z").unwrap())
            .await
            .unwrap(),
        None
    );
}

/// Several invocations at once, all on one app's busy hour, with
/// overlapping duplicates.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_invocations_on_one_hot_bucket() {
    let store = Arc::new(fresh_store().await);
    register_apps(store.as_ref(), &["hot"], OWNER).await;
    let mut rng = rng(17);
    let segments = hot_segments(&mut rng, "hot", 240);
    let bodies: Vec<String> = segments.iter().map(|s| segment_body(&mut rng, s)).collect();
    let mut tasks = Vec::new();
    for worker in 0..6u64 {
        let store: Arc<DynamoStore> = store.clone();
        // Each worker gets half the events: every event reaches 3 workers.
        let share: Vec<String> = bodies
            .iter()
            .enumerate()
            .filter(|(i, _)| (*i as u64 + worker).is_multiple_of(2))
            .map(|(_, b)| b.clone())
            .collect();
        tasks.push(tokio::spawn(async move {
            let mut rng = crate::workload::rng(100 + worker);
            deliver(store.as_ref(), &mut rng, share, 10, now()).await
        }));
    }
    let mut counted = 0;
    for task in tasks {
        let out = task.await.unwrap();
        assert!(out.invalid.is_empty());
        counted += out.counted;
    }
    assert_eq!(
        counted,
        segments.len(),
        "each event counted by exactly one worker"
    );
    assert_queries_match(
        store.as_ref(),
        &Reference::of(&segments),
        &["hot"],
        at("2026-11-23T00:00:00Z"),
        at("2026-11-23T12:00:00Z"),
        now(),
    )
    .await;
}

/// The items a commit writes, by name: each event's dedupe record, each
/// (app, hour) item and each (app, day) item.
fn items_of(group: &CommitGroup) -> Vec<String> {
    let events = group.events.iter().map(|e| format!("event {:?}", e.key));
    let hours = group
        .hours
        .keys()
        .map(|(app, hour)| format!("{app} hour {}", hour.0));
    let days = group
        .days
        .iter()
        .map(|(app, day)| format!("{app} day {}", day.0));
    events.chain(hours).chain(days).collect()
}

/// One invocation's view of DynamoDB Local, with DynamoDB's transaction
/// conflict rule added. DynamoDB cancels a `TransactWriteItems` that touches
/// an item another transaction is still writing (reason `TransactionConflict`,
/// nothing written), and the AWS SDK does not retry that. DynamoDB Local
/// never does: it holds a lock on the whole table for each transaction, so
/// concurrent transactions simply wait for each other. So this wrapper keeps
/// the items of every commit in flight (shared by all invocations) and
/// cancels, before sending it, a commit that would touch one of them, exactly
/// as DynamoDB would; everything else goes to DynamoDB Local. It counts the
/// conflicts (its own and any DynamoDB Local reports) and the commits that
/// landed after a conflict, so the test does not take the service's word.
struct ConflictWatch {
    inner: Arc<DynamoStore>,
    in_flight: Arc<Mutex<HashSet<String>>>,
    conflicts: AtomicUsize,
    committed_after_conflict: AtomicUsize,
}

impl ConflictWatch {
    fn new(inner: Arc<DynamoStore>, in_flight: Arc<Mutex<HashSet<String>>>) -> Self {
        ConflictWatch {
            inner,
            in_flight,
            conflicts: AtomicUsize::new(0),
            committed_after_conflict: AtomicUsize::new(0),
        }
    }

    /// Claims the commit's items, or says which one another commit holds.
    fn claim(&self, items: &[String]) -> Result<(), String> {
        let mut in_flight = self.in_flight.lock().unwrap();
        if let Some(busy) = items.iter().find(|item| in_flight.contains(*item)) {
            return Err(busy.clone());
        }
        in_flight.extend(items.iter().cloned());
        Ok(())
    }

    fn release(&self, items: &[String]) {
        let mut in_flight = self.in_flight.lock().unwrap();
        for item in items {
            in_flight.remove(item);
        }
    }
}

impl AlertStore for ConflictWatch {
    rtc_usage::forward_alert_store!(inner);
}

impl rtc_usage::store::TurnStore for ConflictWatch {
    rtc_usage::forward_turn_store!(inner);
}

impl UsageStore for ConflictWatch {
    const MAX_COMMIT_ACTIONS: usize = DynamoStore::MAX_COMMIT_ACTIONS;

    rtc_usage::forward_store_methods!(inner; late_usage, statement, put_statement, refund_package, registration, open_app, zones, parked, apps_of, class_recordings, ledger_inputs, balance, write_balances, settle, pending_apps, register_app, seen, records, apply_class_fact, put_package, packages, class_facts, av_hours, av_rows, hours, days, pending_days, apps_with_usage, day_snapshot, write_day, put_measurements, measurements);

    async fn commit(&self, group: &CommitGroup) -> StoreResult<CommitOutcome> {
        let items = items_of(group);
        let outcome = match self.claim(&items) {
            Err(busy) => Err(StoreError::Conflict(format!(
                "TransactionConflict: another transaction is writing {busy}"
            ))),
            Ok(()) => {
                let outcome = self.inner.commit(group).await;
                self.release(&items);
                outcome
            }
        };
        match &outcome {
            Err(StoreError::Conflict(_)) => {
                self.conflicts.fetch_add(1, Ordering::Relaxed);
            }
            Ok(CommitOutcome::Committed) if self.conflicts.load(Ordering::Relaxed) > 0 => {
                self.committed_after_conflict
                    .fetch_add(1, Ordering::Relaxed);
            }
            _ => {}
        }
        outcome
    }
}

/// `n` segments of the app "hot", each under a minute, all inside the hour
/// 2026-11-23T10, ids `{prefix}-{i}`: every one adds to the same hour and
/// day items.
fn hot_segments(rng: &mut rand::rngs::StdRng, prefix: &str, n: usize) -> Vec<Seg> {
    let hour = at("2026-11-23T10:00:00Z");
    (0..n)
        .map(|i| {
            let start = hour.plus_ms(rng.random_range(0..HOUR_MS - 60_000));
            Seg {
                id: format!("{prefix}-{i}"),
                app: "hot".into(),
                mode: if i % 3 == 0 { "1" } else { "0" },
                tier: i % 4,
                start,
                end: start.plus_ms(rng.random_range(1..60_000)),
            }
        })
        .collect()
}

/// What one invocation of a concurrent round was given and answered, and
/// what its store saw.
struct Invocation {
    messages: Vec<InboundMessage>,
    report: rtc_usage::service::ingest::IngestReport,
    watch: ConflictWatch,
}

const WORKERS: usize = 8;

/// One round of `WORKERS` invocations started together at a barrier against
/// DynamoDB Local, each with `batch` of the app "hot"'s segments, every
/// segment in two of them (so one finds the other's dedupe records, too),
/// all adding to the same hour and day items, with DynamoDB's conflict rule
/// (see `ConflictWatch`). Answers the round's segments and invocations.
async fn concurrent_round(
    store: &Arc<DynamoStore>,
    rng: &mut rand::rngs::StdRng,
    round: usize,
    batch: usize,
    settings: &IngestSettings,
) -> (Vec<Seg>, Vec<Invocation>) {
    let per_round = WORKERS * batch / 2;
    let fresh = hot_segments(rng, &format!("round-{round}"), per_round);
    let bodies: Vec<String> = fresh.iter().map(|s| segment_body(rng, s)).collect();
    let barrier = Arc::new(tokio::sync::Barrier::new(WORKERS));
    let in_flight = Arc::new(Mutex::new(HashSet::new()));
    let mut tasks = Vec::new();
    for worker in 0..WORKERS {
        // Worker w carries events (batch / 2)·w onwards: each event twice.
        let messages: Vec<InboundMessage> = (0..batch)
            .map(|j| {
                let i = (worker * batch / 2 + j) % per_round;
                InboundMessage {
                    message_id: format!("r{round}-w{worker}-e{i}"),
                    body: Some(bodies[i].clone()),
                }
            })
            .collect();
        let watch = ConflictWatch::new(store.clone(), in_flight.clone());
        let (barrier, settings) = (barrier.clone(), settings.clone());
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            let report =
                ingest_batch_in(&watch, &messages, now(), RetryPolicy::default(), &settings).await;
            Invocation {
                messages,
                report,
                watch,
            }
        }));
    }
    let mut invocations = Vec::new();
    for task in tasks {
        let invocation = task.await.unwrap();
        let report = &invocation.report;
        assert_eq!(
            report.counted + report.duplicates + report.failures.len(),
            invocation.messages.len(),
            "every message counted, a duplicate, or reported: {report:?}"
        );
        assert_eq!(
            report.conflicts,
            invocation.watch.conflicts.load(Ordering::Relaxed),
            "the invocation reports every conflict its commits met"
        );
        invocations.push(invocation);
    }
    (fresh, invocations)
}

/// With a busy app's turns off (an app never has enough events in a batch
/// to take one), a transaction cancelled by a concurrent one on the same
/// items must be retried by the ingest service, in another round of the
/// same invocation, since the AWS SDK does not retry it.
///
/// Each round starts eight invocations together, ten events each.
/// Whatever an invocation reports failed is redelivered until counted, as
/// SQS would. Conflicts depend on timing, so after three rounds more follow
/// until an invocation was seen to hit a conflict and still settle its
/// whole batch in extra rounds (at most 20 rounds in all); then every total
/// must equal the plain reference exactly: conflicts lost nothing and
/// counted nothing twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn concurrent_invocations_conflict_retry_and_count_exactly_once() {
    const BATCH: usize = 10;
    const MIN_ROUNDS: usize = 3;
    const MAX_ROUNDS: usize = 20;
    let no_turns = IngestSettings {
        turns: TurnPolicy {
            min_events: usize::MAX,
            ..TurnPolicy::default()
        },
        ..IngestSettings::default()
    };
    let store = Arc::new(fresh_store().await);
    register_apps(store.as_ref(), &["hot"], OWNER).await;
    let mut rng = rng(29);
    let mut segments: Vec<Seg> = Vec::new();
    let (mut counted, mut conflicts, mut recovered, mut retry_rounds, mut redelivered) =
        (0, 0, 0, 0, 0);
    let mut committed_after_conflict = 0;
    let mut rounds = 0;
    while rounds < MIN_ROUNDS
        || ((recovered == 0 || committed_after_conflict == 0) && rounds < MAX_ROUNDS)
    {
        rounds += 1;
        let (fresh, invocations) =
            concurrent_round(&store, &mut rng, rounds, BATCH, &no_turns).await;
        segments.extend(fresh);
        let mut again = Vec::new();
        for Invocation {
            messages,
            report,
            watch,
        } in invocations
        {
            let seen = watch.conflicts.load(Ordering::Relaxed);
            conflicts += seen;
            committed_after_conflict += watch.committed_after_conflict.load(Ordering::Relaxed);
            retry_rounds += report.retries;
            if seen > 0 && report.failures.is_empty() {
                // Conflicts cancelled this invocation's transaction, yet it
                // counted or resolved every event before returning: the
                // retry rounds did their work.
                assert!(report.retries > 0, "a conflict was retried: {report:?}");
                recovered += 1;
            }
            counted += report.counted;
            for failure in &report.failures {
                assert_eq!(failure.kind, FailureKind::Transient, "{failure:?}");
                let message = messages
                    .iter()
                    .find(|m| m.message_id == failure.message_id)
                    .unwrap();
                again.push(message.body.clone().unwrap());
            }
        }
        // What was reported failed comes back, as SQS redelivers it.
        redelivered += again.len();
        let out = deliver(store.as_ref(), &mut rng, again, BATCH, now()).await;
        assert!(out.invalid.is_empty());
        counted += out.counted;
    }
    println!(
        "{rounds} round(s): {conflicts} conflict(s); {recovered} invocation(s) settled their \
         batch after one in {retry_rounds} extra round(s), {committed_after_conflict} commit(s) \
         landing after a conflict; {redelivered} message(s) redelivered"
    );
    assert!(
        recovered > 0 && committed_after_conflict > 0,
        "in {rounds} rounds ({conflicts} conflicts), no invocation met a transaction conflict \
         and then committed in a later round"
    );
    assert_eq!(
        counted,
        segments.len(),
        "each event counted by exactly one invocation"
    );
    assert_hot_matches(store.as_ref(), &segments).await;
}

/// The same rounds with the deployment's settings, 20 events of the busy
/// app in each invocation: every invocation counts them in the app's turn
/// on DynamoDB Local's line item, so no transaction meets a concurrent one
/// and nothing is left for SQS to redeliver.
#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn a_busy_app_takes_turns_and_meets_no_conflict() {
    const BATCH: usize = 20;
    let store = Arc::new(fresh_store().await);
    register_apps(store.as_ref(), &["hot"], OWNER).await;
    let mut rng = rng(30);
    let (mut segments, mut counted) = (Vec::new(), 0);
    for round in 1..=3 {
        let (fresh, invocations) =
            concurrent_round(&store, &mut rng, round, BATCH, &IngestSettings::default()).await;
        segments.extend(fresh);
        for Invocation { report, watch, .. } in invocations {
            assert!(
                report.failures.is_empty(),
                "nothing redelivered: {report:?}"
            );
            assert_eq!(watch.conflicts.load(Ordering::Relaxed), 0, "{report:?}");
            assert_eq!(report.turns, 1, "counted in its turn: {report:?}");
            counted += report.counted;
        }
    }
    assert_eq!(counted, segments.len(), "each event counted once");
    assert_eq!(
        store.serving(&AppId::parse("hot").unwrap()).await.unwrap(),
        3 * WORKERS as u64 + 1,
        "every turn passed on"
    );
    assert_hot_matches(store.as_ref(), &segments).await;
}

/// Every query of "hot" equals the plain reference of `segments`.
async fn assert_hot_matches(store: &DynamoStore, segments: &[Seg]) {
    assert_queries_match(
        store,
        &Reference::of(segments),
        &["hot"],
        at("2026-11-23T00:00:00Z"),
        at("2026-11-23T12:00:00Z"),
        now(),
    )
    .await;
}

#[tokio::test]
async fn the_batch_response_names_exactly_the_failed_messages() {
    let store = fresh_store().await;
    let mut batch: aws_lambda_events::event::sqs::SqsEvent =
        serde_json::from_value(fixture("sqs-usage-batch.json")).unwrap();
    let mut bad = batch.records[1].clone();
    bad.message_id = Some("bad-one".into());
    bad.body = Some("{\"specversion\":\"1.0\"}".into());
    batch.records.push(bad);
    let (response, report) = handle_sqs(&store, batch).await;
    let ids: Vec<&str> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    assert_eq!(ids, ["bad-one"]);
    assert_eq!(report.counted, 4);
    let json = serde_json::to_value(&response).unwrap();
    assert_eq!(
        json,
        json!({"batchItemFailures": [{"itemIdentifier": "bad-one"}]})
    );
}

/// An app registered before billing zones existed (its item has an owner
/// and no zone) is in UTC, with no migration: answers say so, its usage
/// counts in UTC at once, a registration naming no zone or UTC is taken,
/// and one naming another zone is refused.
#[tokio::test]
async fn an_app_registered_before_zones_is_in_utc() {
    use aws_sdk_dynamodb::types::AttributeValue;
    let store = fresh_store().await;
    let app = AppId::parse("legacy-app").unwrap();
    store
        .client()
        .put_item()
        .table_name(store.table())
        .item(
            "pk",
            AttributeValue::S(rtc_usage::store::dynamo::app_pk(&app)),
        )
        .item("sk", AttributeValue::S("REGISTRATION".into()))
        .item("owner_account", AttributeValue::S(OWNER.into()))
        .item("app_name", AttributeValue::S("Old school".into()))
        .send()
        .await
        .unwrap();
    let registration = store.registration(&app).await.unwrap().unwrap();
    assert_eq!(registration.zone.name(), "UTC");
    let zones = store.zones(std::slice::from_ref(&app)).await.unwrap();
    assert_eq!(zones[&app].name(), "UTC");
    let register = |id: &str, zone: Option<&str>| InboundMessage {
        message_id: id.to_owned(),
        body: Some(
            json!({"specversion": "1.0", "id": id, "source": "/rtc/console",
                   "type": "rtc.app.registered",
                   "data": {"appId": "legacy-app", "ownerAccountId": OWNER, "timeZone": zone}})
            .to_string(),
        ),
    };
    let session = InboundMessage {
        message_id: "s".into(),
        body: Some(
            json!({"specversion": "1.0", "id": "s", "source": "/lcic/classroom",
                   "type": "rtc.class.session",
                   "data": {"appId": "legacy-app", "classId": "c", "userId": "u",
                            "role": "student", "usageType": "interactive",
                            "startTime": "2026-11-20T23:30:00Z",
                            "endTime": "2026-11-21T00:30:00Z"}})
            .to_string(),
        ),
    };
    let batch = [
        register("r-none", None),
        register("r-utc", Some("Etc/UTC")),
        register("r-tokyo", Some("Asia/Tokyo")),
        session,
    ];
    let report = ingest_batch(&store, &batch, now(), RetryPolicy::default()).await;
    let failed: Vec<&str> = report
        .failures
        .iter()
        .map(|f| f.message_id.as_str())
        .collect();
    assert_eq!(failed, ["r-tokyo"], "{:?}", report.failures);
    assert_eq!(report.counted, 1);
    assert!(
        store.parked(&app).await.unwrap().is_empty(),
        "nothing parked"
    );
    let pairs = [
        ("Action", "DescribeUsageDetails"),
        ("StartTime", "2026-11-20T00:00:00Z"),
        ("EndTime", "2026-11-22T00:00:00Z"),
        ("AppId", "legacy-app"),
        ("ServiceType", "AudioVideo"),
    ];
    let details: serde_json::Value =
        serde_json::from_str(&owner_asks(&store, &pairs, "r", now()).await.unwrap()).unwrap();
    assert_eq!(details["TimeZone"], "UTC");
    let dates: Vec<&str> = details["Records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["Date"].as_str().unwrap())
        .collect();
    assert_eq!(dates, ["2026-11-20", "2026-11-21"]);
    let registration = store.registration(&app).await.unwrap().unwrap();
    assert_eq!(registration.zone.name(), "UTC");
    assert_eq!(registration.name.unwrap().as_str(), "Old school");
}

/// `events/sqs-busy-app-batch.json` (a registration and 24 sessions of one
/// app, two of them delivered twice) handed to two invocations at once, as
/// SQS may after a visibility timeout: each counts the app's sessions in
/// its turn, one after the other, on DynamoDB Local's line item. Nothing
/// conflicts, nothing is left for redelivery, and the rows hold each
/// session's milliseconds once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_busy_app_fixture_is_counted_in_turns_once() {
    let store = Arc::new(fresh_store().await);
    let batch: aws_lambda_events::event::sqs::SqsEvent =
        serde_json::from_value(fixture("sqs-busy-app-batch.json")).expect("SQS fixture");
    let mut sessions: BTreeMap<String, i64> = BTreeMap::new();
    for record in &batch.records {
        let event: serde_json::Value =
            serde_json::from_str(record.body.as_deref().unwrap()).unwrap();
        if event["type"] == "rtc.class.session" {
            let (start, end) = (&event["data"]["startTime"], &event["data"]["endTime"]);
            let instant = |t: &serde_json::Value| {
                chrono::DateTime::parse_from_rfc3339(t.as_str().unwrap())
                    .unwrap()
                    .timestamp_millis()
            };
            let ms = instant(end) - instant(start);
            sessions.insert(event["id"].as_str().unwrap().to_owned(), ms);
        }
    }
    assert_eq!(sessions.len(), 24);
    let in_flight = Arc::new(Mutex::new(HashSet::new()));
    let tasks: Vec<_> = (0..2)
        .map(|_| {
            let watch = ConflictWatch::new(store.clone(), in_flight.clone());
            let batch = batch.clone();
            tokio::spawn(async move {
                let (response, report) = handle_sqs(&watch, batch).await;
                (response, report, watch.conflicts.load(Ordering::Relaxed))
            })
        })
        .collect();
    let mut counted = 0;
    for task in tasks {
        let (response, report, conflicts) = task.await.unwrap();
        assert!(response.batch_item_failures.is_empty(), "{report:?}");
        assert_eq!((report.turns, conflicts), (1, 0), "{report:?}");
        counted += report.counted;
    }
    assert_eq!(counted, 24, "each session counted by one invocation");
    let busy = AppId::parse("busy-school").unwrap();
    assert_eq!(
        store.serving(&busy).await.unwrap(),
        3,
        "both turns passed on"
    );
    let rows = store
        .av_rows(
            &busy,
            rtc_usage::service::settle::FIRST_DAY,
            rtc_usage::service::settle::LAST_DAY,
        )
        .await
        .unwrap();
    let stored: u64 = rows.iter().map(|r| r.ms).sum();
    assert_eq!(stored, sessions.values().sum::<i64>() as u64);
}
