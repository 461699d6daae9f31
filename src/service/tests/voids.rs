//! Voids through the ingest service, on the in-process store: what a void
//! takes back (a user leaves a row only with their last session in it),
//! every order of a void and its event, repeats, refusals that change
//! nothing, parked usage, and a commit whose reply was lost.

use super::support::*;
use crate::domain::class::UsageType;
use crate::domain::time::Day;
use crate::service::ingest::{FailureKind, InboundMessage, IngestReport, ingest_batch};
use crate::store::memory::MemoryStore;
use crate::store::{RowRecord, UsageStore};
use serde_json::json;
use std::sync::atomic::Ordering;

const CLASSROOM: &str = "/lcic/classroom";

fn session(app_name: &str, id: &str, user: &str, start: &str, minutes: i64) -> String {
    let start = at(start);
    json!({"specversion": "1.0", "id": id, "source": CLASSROOM, "type": "rtc.class.session",
           "data": {"appId": app_name, "classId": "morning", "userId": user,
                    "role": "student", "usageType": "interactive",
                    "startTime": rfc3339(start), "endTime": rfc3339(start.plus_ms(minutes * 60_000))}})
    .to_string()
}

fn void(app_name: &str, id: &str, source: &str, voided: &str) -> String {
    json!({"specversion": "1.0", "id": id, "source": "/billing/corrections",
           "type": "rtc.usage.voided",
           "data": {"appId": app_name, "voidedSource": source, "voidedId": voided,
                    "reason": "Ünïcode reason, 重复计费 🚫"}})
    .to_string()
}

fn rfc3339(t: crate::domain::time::UtcMillis) -> String {
    chrono::DateTime::from_timestamp_millis(t.0)
        .unwrap()
        .to_rfc3339()
}

async fn ingest(store: &impl UsageStore, bodies: &[String]) -> IngestReport {
    let messages: Vec<InboundMessage> = bodies
        .iter()
        .enumerate()
        .map(|(i, body)| InboundMessage {
            message_id: format!("m{i}"),
            body: Some(body.clone()),
        })
        .collect();
    ingest_batch(store, &messages, now(), retry()).await
}

/// The app's rows of 2026-11-20 as (ms, users).
async fn rows(store: &impl UsageStore, app_name: &str) -> Vec<(u64, u64)> {
    let day = Day::parse_key("2026-11-20").unwrap();
    store
        .av_rows(&app(app_name), day, day)
        .await
        .unwrap()
        .into_iter()
        .map(|RowRecord { key, ms, users }| {
            assert_eq!(key.usage, UsageType::Interactive);
            (ms, users)
        })
        .collect()
}

const MIN: u64 = 60_000;

#[tokio::test]
async fn a_user_leaves_a_row_only_with_their_last_session_in_it() {
    let store = registered_store().await;
    let report = ingest(
        &store,
        &[
            session("app-1", "s1", "ann", "2026-11-20T09:00:00Z", 10),
            session("app-1", "s2", "bob", "2026-11-20T09:00:00Z", 20),
            session("app-1", "s3", "ann", "2026-11-20T10:00:00Z", 30),
        ],
    )
    .await;
    assert_eq!(report.counted, 3);
    assert_eq!(rows(&store, "app-1").await, [(60 * MIN, 2)]);

    let report = ingest(&store, &[void("app-1", "v1", CLASSROOM, "s1")]).await;
    assert_eq!((report.voids, report.failures.len()), (1, 0));
    assert_eq!(rows(&store, "app-1").await, [(50 * MIN, 2)], "ann stays");

    let report = ingest(&store, &[void("app-1", "v3", CLASSROOM, "s3")]).await;
    assert_eq!(report.voids, 1);
    assert_eq!(rows(&store, "app-1").await, [(20 * MIN, 1)], "ann leaves");

    // The same void again, another void of the same session, the session
    // again: nothing changes.
    let report = ingest(
        &store,
        &[
            void("app-1", "v3", CLASSROOM, "s3"),
            void("app-1", "v3-again", CLASSROOM, "s3"),
            session("app-1", "s3", "ann", "2026-11-20T10:00:00Z", 30),
        ],
    )
    .await;
    assert_eq!(
        (report.voids, report.duplicates, report.counted),
        (0, 3, 0),
        "{report:?}"
    );
    assert_eq!(rows(&store, "app-1").await, [(20 * MIN, 1)]);

    // Bob's only session voided: the row is gone.
    ingest(&store, &[void("app-1", "v2", CLASSROOM, "s2")]).await;
    assert_eq!(rows(&store, "app-1").await, []);
    // And a new session of Ann brings the row and her back.
    ingest(
        &store,
        &[session("app-1", "s4", "ann", "2026-11-20T11:00:00Z", 5)],
    )
    .await;
    assert_eq!(rows(&store, "app-1").await, [(5 * MIN, 1)]);
}

#[tokio::test]
async fn a_void_before_its_event_keeps_it_from_ever_counting() {
    let store = registered_store().await;
    let report = ingest(&store, &[void("app-1", "v1", CLASSROOM, "s1")]).await;
    assert_eq!((report.voids, report.failures.len()), (1, 0));
    for _ in 0..2 {
        let report = ingest(
            &store,
            &[session("app-1", "s1", "ann", "2026-11-20T09:00:00Z", 10)],
        )
        .await;
        assert_eq!((report.counted, report.duplicates), (0, 1));
    }
    assert_eq!(rows(&store, "app-1").await, []);
    // A void and its event in one batch, the void first: the event counts,
    // then the void takes it back.
    let report = ingest(
        &store,
        &[
            void("app-1", "v2", CLASSROOM, "s2"),
            session("app-1", "s2", "bob", "2026-11-20T09:00:00Z", 10),
        ],
    )
    .await;
    assert_eq!((report.counted, report.voids), (1, 1));
    assert_eq!(rows(&store, "app-1").await, []);
    // A void of an event that never arrives changes nothing else.
    ingest(&store, &[void("app-1", "v9", CLASSROOM, "never")]).await;
    ingest(
        &store,
        &[session("app-1", "s3", "cy", "2026-11-20T09:00:00Z", 1)],
    )
    .await;
    assert_eq!(rows(&store, "app-1").await, [(MIN, 1)]);
}

fn refused(report: &IngestReport, reason: &str) {
    assert_eq!(report.failures.len(), 1, "{report:?}");
    let failure = &report.failures[0];
    assert_eq!(failure.kind, FailureKind::Invalid);
    assert!(failure.reason.contains(reason), "{}", failure.reason);
    assert_eq!(report.voids, 0);
}

#[tokio::test]
async fn invalid_voids_are_reported_and_change_nothing() {
    let store = registered_store().await;
    ingest(
        &store,
        &[
            session("app-1", "s1", "ann", "2026-11-20T09:00:00Z", 10),
            session("app-2", "s2", "bob", "2026-11-20T09:00:00Z", 10),
        ],
    )
    .await;
    ingest(&store, &[void("app-1", "v1", CLASSROOM, "never")]).await;
    // Another app's event; a void; a voided event named by a void of the
    // right app but through the wrong source (another event, not known).
    refused(
        &ingest(&store, &[void("app-1", "x1", CLASSROOM, "s2")]).await,
        "another app",
    );
    refused(
        &ingest(&store, &[void("app-1", "x2", "/billing/corrections", "v1")]).await,
        "cannot be voided",
    );
    ingest(&store, &[void("app-1", "x3", "/elsewhere", "s1")]).await;
    assert_eq!(rows(&store, "app-1").await, [(10 * MIN, 1)]);
    assert_eq!(rows(&store, "app-2").await, [(10 * MIN, 1)]);
    // Malformed voids are refused by decoding, before any storage.
    for data in [
        json!({"appId": "app-1", "voidedSource": CLASSROOM}),
        json!({"appId": "app-1", "voidedSource": CLASSROOM, "voidedId": "s1", "reason": ""}),
        json!({"appId": "app-1", "voidedSource": CLASSROOM, "voidedId": "s1", "reason": "a\u{0007}"}),
        json!({"appId": "app 1", "voidedSource": CLASSROOM, "voidedId": "s1"}),
    ] {
        let body = json!({"specversion": "1.0", "id": "bad", "source": "/b",
                          "type": "rtc.usage.voided", "data": data})
        .to_string();
        refused(&ingest(&store, &[body]).await, "data.");
    }
    assert_eq!(rows(&store, "app-1").await, [(10 * MIN, 1)]);
}

#[tokio::test]
async fn a_void_another_app_kept_never_applies_to_this_apps_event() {
    let store = registered_store().await;
    // app-2 voids an event of its own that has not arrived; app-1's event
    // with the same source and id arrives and counts.
    ingest(&store, &[void("app-2", "v1", CLASSROOM, "s1")]).await;
    let report = ingest(
        &store,
        &[session("app-1", "s1", "ann", "2026-11-20T09:00:00Z", 10)],
    )
    .await;
    assert_eq!(report.counted, 1, "{report:?}");
    assert_eq!(rows(&store, "app-1").await, [(10 * MIN, 1)]);
}

#[tokio::test]
async fn a_parked_event_voided_before_its_registration_never_counts() {
    let store = MemoryStore::new();
    ingest(
        &store,
        &[
            session("late-app", "s1", "ann", "2026-11-20T09:00:00Z", 10),
            session("late-app", "s2", "bob", "2026-11-20T09:00:00Z", 10),
        ],
    )
    .await;
    let report = ingest(&store, &[void("late-app", "v1", CLASSROOM, "s1")]).await;
    assert_eq!(report.voids, 1, "{report:?}");
    assert_eq!(store.parked(&app("late-app")).await.unwrap().len(), 1);
    let report = ingest(&store, &[registration_body("late-app", OWNER)]).await;
    assert!(report.failures.is_empty(), "{report:?}");
    assert_eq!(rows(&store, "late-app").await, [(10 * MIN, 1)]);
    // Voided after its parked usage was counted.
    ingest(&store, &[void("late-app", "v2", CLASSROOM, "s2")]).await;
    assert_eq!(rows(&store, "late-app").await, []);
}

#[tokio::test]
async fn a_void_whose_commit_landed_but_answered_failed_applies_once() {
    let store = Scripted::new(registered_store().await);
    ingest(
        &store,
        &[session("app-1", "s1", "ann", "2026-11-20T09:00:00Z", 10)],
    )
    .await;
    store.lost_replies.store(1, Ordering::SeqCst);
    let first = ingest(&store, &[void("app-1", "v1", CLASSROOM, "s1")]).await;
    // The reply was lost: reported for redelivery, yet it landed.
    assert_eq!(first.failures.len(), 1, "{first:?}");
    assert_eq!(first.failures[0].kind, FailureKind::Transient);
    assert_eq!(rows(&store.inner, "app-1").await, []);
    let again = ingest(&store, &[void("app-1", "v1", CLASSROOM, "s1")]).await;
    assert_eq!((again.voids, again.duplicates), (0, 1));
    assert_eq!(rows(&store.inner, "app-1").await, []);
}

#[tokio::test]
async fn two_voids_of_one_event_in_one_batch_take_it_back_once() {
    let store = registered_store().await;
    ingest(
        &store,
        &[
            session("app-1", "s1", "ann", "2026-11-20T09:00:00Z", 10),
            session("app-1", "s2", "bob", "2026-11-20T09:00:00Z", 20),
        ],
    )
    .await;
    // Counted already; and not arrived yet.
    let report = ingest(
        &store,
        &[
            void("app-1", "a", CLASSROOM, "s1"),
            void("app-1", "b", CLASSROOM, "s1"),
            void("app-1", "c", CLASSROOM, "s1"),
            void("app-1", "d", CLASSROOM, "s9"),
            void("app-1", "e", CLASSROOM, "s9"),
        ],
    )
    .await;
    assert!(report.failures.is_empty(), "{report:?}");
    assert_eq!((report.voids, report.duplicates), (2, 3), "{report:?}");
    assert_eq!(rows(&store, "app-1").await, [(20 * MIN, 1)]);
    let report = ingest(
        &store,
        &[session("app-1", "s9", "cy", "2026-11-20T09:00:00Z", 5)],
    )
    .await;
    assert_eq!(report.counted, 0);
    assert_eq!(rows(&store, "app-1").await, [(20 * MIN, 1)]);
}
