//! Ingestion: each event counted exactly once, whatever is delivered twice,
//! refused, lost on the way back, or read stale.

use super::support::*;
use crate::domain::rollup::RollupRequest;
use crate::domain::time::Day;
use crate::domain::usage::{ModeUsage, RecordMode, Tier};
use crate::service::ingest::{FailureKind, InboundMessage, ingest_batch};
use crate::service::rollup::{Deadline, run_rollup};
use crate::store::UsageStore;
use crate::store::faulty::{FaultPlan, FaultyStore};
use crate::store::memory::MemoryStore;
use rand::Rng;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::Ordering;

fn message(id: &str, body: &str) -> InboundMessage {
    InboundMessage {
        message_id: id.to_owned(),
        body: Some(body.to_owned()),
    }
}

/// Three segments: two of app-1 (one crossing an hour), one of app-2, which
/// nobody registered (its usage counts all the same).
fn three() -> [Seg; 3] {
    [
        Seg::new(
            "a",
            "app-1",
            RecordMode::SingleStream,
            Tier::Audio,
            "2026-11-20T10:00:00Z",
            30_500,
        ),
        Seg::new(
            "b",
            "app-1",
            RecordMode::Mixed,
            Tier::V720,
            "2026-11-20T10:59:30Z",
            60_001,
        ),
        Seg::new(
            "c",
            "app-2",
            RecordMode::SingleStream,
            Tier::V1080,
            "2026-11-21T23:59:59Z",
            2_000,
        ),
    ]
}

#[tokio::test]
async fn duplicates_within_and_across_batches_count_once() {
    let store = registered_store().await;
    let [a, b, c] = three();
    let first = [
        message("m1", &a.body()),
        message("m2", &a.body()),
        message("m3", &b.body()),
    ];
    let report = ingest_batch(&store, &first, now(), retry()).await;
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    assert_eq!((report.counted, report.duplicates), (2, 1));

    // b again (counted by the first batch), c twice in this one.
    let second = [
        message("m4", &b.body()),
        message("m5", &c.body()),
        message("m6", &c.body()),
    ];
    let report = ingest_batch(&store, &second, now(), retry()).await;
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    assert_eq!((report.counted, report.duplicates), (1, 2));

    // The whole of both again: nothing more.
    let all: Vec<InboundMessage> = first.iter().chain(&second).cloned().collect();
    let report = ingest_batch(&store, &all, now(), retry()).await;
    assert_eq!((report.counted, report.duplicates), (0, 6));
    assert_hours_match(&store, &Reference::of(&[a, b, c]), &["app-1", "app-2"]).await;
}

#[tokio::test]
async fn the_same_id_from_another_source_is_another_event() {
    let store = registered_store().await;
    let [a, ..] = three();
    let batch = [
        message("m1", &a.body_from("/rtc/recorder/one")),
        message("m2", &a.body_from("/rtc/recorder/two")),
    ];
    let report = ingest_batch(&store, &batch, now(), retry()).await;
    assert_eq!((report.counted, report.duplicates), (2, 0));
    assert_hours_match(&store, &Reference::of(&[a.clone(), a]), &["app-1"]).await;
}

#[tokio::test]
async fn invalid_events_are_reported_and_the_valid_rest_counted() {
    let store = registered_store().await;
    let [a, b, _] = three();
    let mut backwards = a.clone();
    backwards.id = "backwards".into();
    std::mem::swap(&mut backwards.start, &mut backwards.end);
    let mut too_long = a.clone();
    too_long.id = "too-long".into();
    too_long.end = too_long.start.plus_ms(48 * 3_600_000 + 1);
    let mut from_the_future = a.clone();
    from_the_future.id = "future".into();
    from_the_future.start = now();
    from_the_future.end = now().plus_ms(5 * 60_000 + 1);
    let unknown_type = a
        .body()
        .replace("rtc.recording.segment", "rtc.recording.started");
    let twice = a
        .body()
        .replacen("\"id\":\"a\"", "\"id\":\"x\",\"id\":\"y\"", 1);
    assert_ne!(twice, a.body(), "the body has a field given twice");
    let batch = vec![
        message("ok-reg", &registration_body("app-1", OWNER)),
        message("ok-a", &a.body()),
        message("not-json", "{\"specversion\": \"1.0\""),
        InboundMessage {
            message_id: "empty".into(),
            body: None,
        },
        message("backwards", &backwards.body()),
        message("too-long", &too_long.body()),
        message("future", &from_the_future.body()),
        message("unknown-type", &unknown_type),
        message("twice", &twice),
        message("other-owner", &registration_body("app-1", OTHER_ACCOUNT)),
        message("ok-b", &b.body()),
    ];
    let report = ingest_batch(&store, &batch, now(), retry()).await;
    let reported: BTreeSet<&str> = report
        .failures
        .iter()
        .map(|f| {
            assert_eq!(f.kind, FailureKind::Invalid, "{f:?}");
            assert!(!f.reason.is_empty(), "{f:?}");
            f.message_id.as_str()
        })
        .collect();
    let expected: BTreeSet<&str> = batch
        .iter()
        .map(|m| m.message_id.as_str())
        .filter(|id| !id.starts_with("ok-"))
        .collect();
    assert_eq!(reported, expected);
    assert_eq!(report.failures.len(), expected.len(), "each reported once");
    let event_id_of = |id: &str| {
        report
            .failures
            .iter()
            .find(|f| f.message_id == id)
            .unwrap()
            .event_id
            .clone()
    };
    assert_eq!(event_id_of("backwards").as_deref(), Some("backwards"));
    assert_eq!(event_id_of("not-json"), None, "no envelope to name it");
    assert_eq!((report.counted, report.facts), (2, 1));
    assert_hours_match(&store, &Reference::of(&[a, b]), &["app-1"]).await;
    assert_eq!(
        store.owner_of(&app("app-1")).await.unwrap(),
        Some(account(OWNER)),
        "a registration to another account changes nothing"
    );

    // Redelivered, the invalid ones are reported again and still count nothing.
    let invalid: Vec<InboundMessage> = batch
        .iter()
        .filter(|m| !m.message_id.starts_with("ok-"))
        .cloned()
        .collect();
    let again = ingest_batch(&store, &invalid, now(), retry()).await;
    assert_eq!(again.failures.len(), expected.len());
    assert_eq!(again.counted, 0);
}

#[tokio::test]
async fn a_commit_that_landed_but_answered_failed_counts_once() {
    let store = Scripted::new(registered_store().await);
    let [a, b, c] = three();
    let batch = [message("m1", &a.body()), message("m2", &b.body())];
    store.lost_replies.store(1, Ordering::SeqCst);
    let report = ingest_batch(&store, &batch, now(), retry()).await;
    // The outcome is unknown to the function: both are left for redelivery...
    assert_eq!(report.counted, 0);
    let mut failed: Vec<_> = report
        .failures
        .iter()
        .map(|f| (f.message_id.as_str(), f.kind))
        .collect();
    failed.sort_by_key(|(id, _)| *id);
    assert_eq!(
        failed,
        [
            ("m1", FailureKind::Transient),
            ("m2", FailureKind::Transient)
        ]
    );
    // ...though they did land, once.
    let reference = Reference::of(&[a.clone(), b.clone()]);
    assert_hours_match(&store, &reference, &["app-1"]).await;
    // The redelivery finds them counted.
    let report = ingest_batch(&store, &batch, now(), retry()).await;
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    assert_eq!((report.counted, report.duplicates), (0, 2));
    assert_hours_match(&store, &reference, &["app-1"]).await;

    // Again, and this time the redelivery's pre-check reads stale: the
    // transaction itself must refuse to count c twice.
    let batch = [message("m3", &c.body())];
    store.lost_replies.store(1, Ordering::SeqCst);
    let report = ingest_batch(&store, &batch, now(), retry()).await;
    assert_eq!(report.failures.len(), 1);
    store.stale_reads.store(1, Ordering::SeqCst);
    let report = ingest_batch(&store, &batch, now(), retry()).await;
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    assert_eq!((report.counted, report.duplicates), (0, 1));
    assert_eq!(
        store.stale_reads.load(Ordering::SeqCst),
        0,
        "the read was stale"
    );
    assert_hours_match(&store, &Reference::of(&[a, b, c]), &["app-1", "app-2"]).await;
}

#[tokio::test]
async fn a_stale_pre_check_alone_cannot_count_a_redelivery_twice() {
    let store = Scripted::new(registered_store().await);
    let [a, b, _] = three();
    ingest_batch(&store, &[message("m1", &a.body())], now(), retry()).await;
    // a was counted before; the pre-check misses it; b is new. The
    // cancelled transaction names a, and b is counted in the next round.
    store.stale_reads.store(1, Ordering::SeqCst);
    let batch = [message("m2", &a.body()), message("m3", &b.body())];
    let report = ingest_batch(&store, &batch, now(), retry()).await;
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    assert_eq!((report.counted, report.duplicates), (1, 1));
    assert_hours_match(&store, &Reference::of(&[a, b]), &["app-1"]).await;
}

#[tokio::test]
async fn a_transaction_conflict_is_retried_within_the_invocation() {
    let store = Scripted::new(registered_store().await);
    let [a, b, c] = three();
    // Each app's transaction apart: both are cancelled in the first round,
    // one of them again in the second.
    store.conflicts.store(3, Ordering::SeqCst);
    let batch = [
        message("m1", &a.body()),
        message("m2", &b.body()),
        message("m3", &c.body()),
    ];
    let report = ingest_batch(&store, &batch, now(), retry()).await;
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    assert_eq!(report.counted, 3);
    assert_eq!(report.conflicts, 3, "{report:?}");
    assert!(report.retries >= 2, "{report:?}");
    assert_hours_match(&store, &Reference::of(&[a, b, c]), &["app-1", "app-2"]).await;
}

#[tokio::test]
async fn throttling_is_left_to_redelivery_and_counted_then() {
    let store = Scripted::new(registered_store().await);
    let [a, ..] = three();
    let batch = [message("m1", &a.body())];
    store.throttles.store(1, Ordering::SeqCst);
    let report = ingest_batch(&store, &batch, now(), retry()).await;
    assert_eq!(report.counted, 0);
    assert_eq!(report.failures.len(), 1);
    assert_eq!(report.failures[0].kind, FailureKind::Transient);
    assert!(
        report.failures[0].reason.contains("throttled"),
        "{report:?}"
    );
    assert!(
        stored_hours(&store, "app-1").await.is_empty(),
        "nothing written"
    );
    let report = ingest_batch(&store, &batch, now(), retry()).await;
    assert_eq!((report.counted, report.failures.len()), (1, 0));
    assert_hours_match(&store, &Reference::of(&[a]), &["app-1"]).await;
}

/// Random segments, each delivered one to three times in random batches,
/// through a store failing before and after its writes, throttling, and
/// answering stale pre-checks; every failure redelivered as SQS would. Each
/// stored hour must equal the reference to the millisecond, and each touched
/// day must be marked for the rollup.
#[tokio::test]
async fn exactly_once_through_faults_and_redelivery() {
    const APPS: [&str; 3] = ["app-a", "app-b", "app-c"];
    let anchors = [
        "2026-11-01T00:00:00Z",
        "2026-11-15T23:30:00Z",
        "2026-11-22T12:00:00Z",
    ];
    let (mut after, mut stale, mut before, mut redeliveries) = (0, 0, 0, 0);
    for seed in 1..=3 {
        let mut rng = rng(seed);
        let segments = random_segments(&mut rng, 100, &APPS, &anchors);
        let mut bodies: Vec<String> = APPS.iter().map(|a| registration_body(a, OWNER)).collect();
        for seg in &segments {
            for _ in 0..rng.random_range(1..=3) {
                bodies.push(seg.body());
            }
        }
        // Nothing registered yet: each app's usage is parked until its
        // registration, shuffled among the rest, arrives and counts it.
        let store = FaultyStore::new(
            MemoryStore::new(),
            FaultPlan {
                fail_before_per_mille: 100,
                fail_after_per_mille: 100,
                throttle_per_mille: 50,
                stale_reads_per_mille: 300,
                seed,
            },
        );
        let out = deliver(&store, &mut rng, &bodies, 10).await;
        assert!(out.invalid.is_empty(), "{:?}", out.invalid);
        assert!(out.counted <= segments.len(), "never more than once");
        let reference = Reference::of(&segments);
        assert_hours_match(store.inner(), &reference, &APPS).await;
        let marked: BTreeSet<(String, Day)> = all_pending(store.inner())
            .await
            .into_iter()
            .map(|p| (p.app.as_str().to_owned(), p.day))
            .collect();
        assert_eq!(marked, reference.days(), "every touched day is marked");
        // The days' totals, summed by the rollup from those hours, are exact too.
        run_rollup(store.inner(), &RollupRequest::Scheduled, Deadline::none()).await;
        for name in APPS {
            let rolled: BTreeMap<Day, ModeUsage> = stored_days(store.inner(), name)
                .await
                .into_iter()
                .map(|(day, record)| (day, record.rolled))
                .collect();
            assert_eq!(rolled, reference.days_of(name), "days of {name}");
        }
        after += store.counts.failed_after.load(Ordering::Relaxed);
        before += store.counts.failed_before.load(Ordering::Relaxed);
        stale += store.counts.stale_reads.load(Ordering::Relaxed);
        redeliveries += out.redeliveries;
    }
    // The faults did happen: the test proves something.
    assert!(
        after > 0 && before > 0 && stale > 0 && redeliveries > 0,
        "after {after}, before {before}, stale {stale}, redeliveries {redeliveries}"
    );
}
