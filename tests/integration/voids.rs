//! Voids against DynamoDB Local where order and timing are not ours: a
//! void and the session it names delivered in two invocations at once,
//! each redelivered until acknowledged, as SQS would. Whatever the
//! interleaving, each voided session counts nowhere, its user leaves the row
//! only when no other live session of theirs is in it, and the rows equal a
//! plain reference of the sessions no void names.

use crate::support::*;
use crate::workload::fast_retry;
use rtc_usage::domain::ids::AppId;
use rtc_usage::domain::time::{Day, MINUTE_MS};
use rtc_usage::service::ingest::{InboundMessage, ingest_batch};
use rtc_usage::store::UsageStore;
use rtc_usage::store::dynamo::DynamoStore;
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};

const APP: &str = "void-race-app";

fn session(id: &str, class: &str, user: &str, start_minute: i64, minutes: i64) -> String {
    let start = at("2026-11-20T08:00:00Z").0 + start_minute * MINUTE_MS;
    let time = |ms: i64| {
        chrono::DateTime::from_timestamp_millis(ms)
            .unwrap()
            .to_rfc3339()
    };
    json!({"specversion": "1.0", "id": id, "source": "/lcic/classroom",
           "type": "rtc.class.session",
           "data": {"appId": APP, "classId": class, "userId": user, "role": "student",
                    "usageType": "interactive", "startTime": time(start),
                    "endTime": time(start + minutes * MINUTE_MS)}})
    .to_string()
}

fn void(id: &str, voided: &str) -> String {
    json!({"specversion": "1.0", "id": id, "source": "/billing", "type": "rtc.usage.voided",
           "data": {"appId": APP, "voidedSource": "/lcic/classroom", "voidedId": voided}})
    .to_string()
}

/// Delivers `body` until an invocation acknowledges it.
async fn until_acknowledged(store: &DynamoStore, name: String, body: String) -> usize {
    for attempt in 1..=20 {
        let message = InboundMessage {
            message_id: format!("{name}-{attempt}"),
            body: Some(body.clone()),
        };
        let report = ingest_batch(store, &[message], now(), fast_retry()).await;
        if report.failures.is_empty() {
            return attempt;
        }
    }
    panic!("{name} was never acknowledged");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_void_and_its_session_at_once_in_two_invocations() {
    let store = fresh_store().await;
    store
        .register(
            &AppId::parse(APP).unwrap(),
            &rtc_usage::domain::ids::AccountId::parse(OWNER).unwrap(),
        )
        .await
        .unwrap();
    // Per row: (ms, users) of the sessions no void names.
    let mut reference: BTreeMap<String, (u64, BTreeSet<String>)> = BTreeMap::new();
    let mut attempts = 0;
    for i in 0..24 {
        let class = format!("c{}", i % 3);
        let user = format!("u{}", i % 7);
        // A session that stays, of a user who may also have a voided one.
        let keep = session(&format!("k{i}"), &class, &format!("u{}", i % 5), i, 3);
        attempts += until_acknowledged(&store, format!("k{i}"), keep).await;
        let row = reference.entry(class.clone()).or_default();
        row.0 += 3 * MINUTE_MS as u64;
        row.1.insert(format!("u{}", i % 5));
        // The voided session and its void, at once; each then once more.
        let (s, v) = (
            session(&format!("s{i}"), &class, &user, 30 + i, 7),
            void(&format!("v{i}"), &format!("s{i}")),
        );
        let (a, b) = tokio::join!(
            until_acknowledged(&store, format!("s{i}"), s.clone()),
            until_acknowledged(&store, format!("v{i}"), v.clone()),
        );
        let (c, d) = tokio::join!(
            until_acknowledged(&store, format!("v{i}-again"), v),
            until_acknowledged(&store, format!("s{i}-again"), s),
        );
        attempts += a + b + c + d;
    }
    let day = Day::parse_key("2026-11-20").unwrap();
    let rows: BTreeMap<String, (u64, u64)> = store
        .av_rows(&AppId::parse(APP).unwrap(), day, day)
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.key.class.as_str().to_owned(), (r.ms, r.users)))
        .collect();
    let want: BTreeMap<String, (u64, u64)> = reference
        .into_iter()
        .map(|(class, (ms, users))| (class, (ms, users.len() as u64)))
        .collect();
    assert_eq!(rows, want);
    println!("{attempts} deliveries for 120 events");
}

/// `events/sqs-corrections-batch.json` through the SQS entry point: three
/// sessions of one class and a void of one, in one batch. The void applies
/// after the sessions count: the answer (as the API would post it) has the
/// two remaining users and their 50 minutes 0.5 seconds; the same batch
/// again changes nothing.
#[tokio::test]
async fn the_corrections_fixture_leaves_the_voided_session_out() {
    let store = fresh_store().await;
    let batch: aws_lambda_events::event::sqs::SqsEvent =
        serde_json::from_value(fixture("sqs-corrections-batch.json")).expect("SQS fixture");
    let (response, report) = handle_sqs(&store, batch.clone()).await;
    assert!(response.batch_item_failures.is_empty(), "{report:?}");
    assert_eq!((report.counted, report.voids, report.facts), (3, 1, 1));
    for round in 0..2 {
        let details = owner_asks(
            &store,
            &[
                ("Action", "DescribeUsageDetails"),
                ("StartTime", "2026-11-20T00:00:00Z"),
                ("EndTime", "2026-11-21T00:00:00Z"),
                ("AppId", "app-fix"),
                ("ServiceType", "AudioVideo"),
            ],
            "req-fix",
            now(),
        )
        .await
        .expect("an answer");
        let body: serde_json::Value = serde_json::from_str(&details).unwrap();
        let records = &body["Records"];
        assert_eq!(records.as_array().map(Vec::len), Some(1), "{body}");
        assert_eq!(records[0]["UserCount"], json!(2), "round {round}");
        assert_eq!(records[0]["DurationSeconds"], json!(3000.5));
        assert_eq!(records[0]["BillableMinutes"], json!(51));
        let (response, again) = handle_sqs(&store, batch.clone()).await;
        assert!(response.batch_item_failures.is_empty());
        assert_eq!((again.counted, again.voids, again.duplicates), (0, 0, 4));
    }
}
