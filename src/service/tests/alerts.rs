//! Alerts through the SQS entry point and the scheduled run, on the
//! in-process store and a recording bus: each alert raised once, in the
//! invocation whose event first makes its condition hold, whatever is
//! redelivered, voided or refunded later; failures of the bus and of the
//! store, before and after the decision is stored; the scheduled run.

use super::support::*;
use crate::bus::memory::{BusFault, RecordingBus};
use crate::domain::query::QueryParams;
use crate::entry::metrics::Metrics;
use crate::entry::sqs;
use crate::service::alerts::{AlertReport, Check, PublishPolicy, check_apps, scheduled};
use crate::service::ingest::{InboundMessage, IngestReport, IngestSettings, ingest_batch};
use crate::service::query::{Answer, answer};
use crate::store::memory::MemoryStore;
use crate::store::{AlertStore, UsageStore};
use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::time::Duration;

const APP: &str = "app-1";

fn session(id: &str, start: &str, minutes: i64) -> String {
    let start = at(start);
    json!({"specversion": "1.0", "id": id, "source": "/lcic/classroom", "type": "rtc.class.session",
           "data": {"appId": APP, "classId": "morning", "userId": format!("u-{id}"),
                    "role": "student", "usageType": "interactive",
                    "startTime": rfc3339(start), "endTime": rfc3339(start.plus_ms(minutes * 60_000))}})
    .to_string()
}

fn package(id: &str, minutes: u64, from: &str, to: &str) -> String {
    json!({"specversion": "1.0", "id": format!("buy-{id}"), "source": "/billing", "type": "rtc.package.purchased",
           "data": {"appId": APP, "packageId": id, "packageName": format!("套餐 {id}"),
                    "minutes": minutes, "validFrom": from, "validTo": to}})
    .to_string()
}

fn refund(id: &str) -> String {
    json!({"specversion": "1.0", "id": format!("refund-{id}"), "source": "/billing", "type": "rtc.package.refunded",
           "data": {"appId": APP, "packageId": id}})
    .to_string()
}

fn void(id: &str, voided: &str) -> String {
    json!({"specversion": "1.0", "id": id, "source": "/billing/corrections", "type": "rtc.usage.voided",
           "data": {"appId": APP, "voidedSource": "/lcic/classroom", "voidedId": voided}})
    .to_string()
}

fn rfc3339(t: crate::domain::time::UtcMillis) -> String {
    chrono::DateTime::from_timestamp_millis(t.0)
        .unwrap()
        .to_rfc3339()
}

fn fast() -> PublishPolicy {
    PublishPolicy {
        rounds: 3,
        first_backoff: Duration::from_millis(1),
    }
}

/// A registered app: its usage counts at once.
async fn store() -> MemoryStore {
    let store = MemoryStore::new();
    store.register(&app(APP), &account(OWNER)).await.unwrap();
    store
}

/// One batch counted, then its apps' alerts checked as the entry point
/// checks them.
async fn batch<S: UsageStore + AlertStore>(
    store: &S,
    bus: &RecordingBus,
    bodies: &[String],
) -> (IngestReport, AlertReport) {
    let messages: Vec<InboundMessage> = bodies
        .iter()
        .enumerate()
        .map(|(i, body)| InboundMessage {
            message_id: format!("m{i}"),
            body: Some(body.clone()),
        })
        .collect();
    let report = ingest_batch(store, &messages, now(), retry()).await;
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    let checks: BTreeMap<_, Check> = (report.alert_checks.iter())
        .map(|(app, c)| (app.clone(), c.check))
        .collect();
    let alerts = check_apps(store, bus, &checks, now(), fast()).await;
    (report, alerts)
}

/// `DescribeAlerts` as the owner asks it.
async fn described<S: UsageStore + AlertStore>(store: &S) -> Vec<Value> {
    let params = QueryParams::from_pairs([("Action", "DescribeAlerts"), ("AppId", APP)]);
    let (_, answered) = answer(store, Some(OWNER), &params, "r", now())
        .await
        .unwrap();
    let Answer::Alerts(alerts) = answered else {
        panic!("answered as another action")
    };
    let json = serde_json::to_value(alerts).unwrap();
    assert_eq!(json["TimeZone"], "UTC");
    json["Alerts"].as_array().unwrap().clone()
}

fn kinds(alerts: &[Value]) -> Vec<(String, String, u64)> {
    let mut kinds: Vec<_> = alerts
        .iter()
        .map(|a| {
            (
                a["Kind"].as_str().unwrap().to_owned(),
                a["PackageId"].as_str().unwrap().to_owned(),
                a["RemainingMinutes"].as_u64().unwrap(),
            )
        })
        .collect();
    kinds.sort();
    kinds
}

fn low(package: &str, left: u64) -> (String, String, u64) {
    ("PackageLow".into(), package.into(), left)
}

fn out(package: &str) -> (String, String, u64) {
    ("PackageExhausted".into(), package.into(), 0)
}

#[tokio::test]
async fn low_then_exhausted_each_raised_once_in_the_invocation_that_crosses_it() {
    let (store, bus) = (store().await, RecordingBus::new());
    batch(
        &store,
        &bus,
        &[package("p", 100, "2026-11-01", "2026-12-31")],
    )
    .await;
    let (_, first) = batch(&store, &bus, &[session("s1", "2026-11-20T10:00:00Z", 79)]).await;
    assert_eq!(
        first.raised, 0,
        "79 of 100 used: 21 left, more than a fifth"
    );
    assert!(bus.taken().is_empty());
    let (_, crossing) = batch(&store, &bus, &[session("s2", "2026-11-20T12:00:00Z", 1)]).await;
    assert_eq!((crossing.raised, crossing.published), (1, 1));
    let taken = bus.taken();
    assert_eq!(taken.len(), 1);
    let alert = &described(&store).await[0];
    assert_eq!(
        taken[0],
        json!({"AlertId": alert["AlertId"], "AppId": APP, "OwnerAccountId": OWNER,
               "Kind": "PackageLow", "PackageId": "p", "PackageName": "套餐 p",
               "RaisedAt": "2026-11-23T12:00:00+00:00", "RemainingMinutes": 20})
    );
    // The same events again: counted before, nothing raised or published.
    let (again, redelivered) = batch(
        &store,
        &bus,
        &[
            session("s1", "2026-11-20T10:00:00Z", 79),
            session("s2", "2026-11-20T12:00:00Z", 1),
        ],
    )
    .await;
    assert_eq!(again.duplicates, 2);
    assert_eq!((redelivered.raised, redelivered.published), (0, 0));
    let (_, emptied) = batch(&store, &bus, &[session("s3", "2026-11-21T10:00:00Z", 25)]).await;
    assert_eq!(emptied.raised, 1);
    assert_eq!(kinds(&described(&store).await), [out("p"), low("p", 20)]);
    assert_eq!(bus.taken().len(), 2, "each alert on the bus once");
}

#[tokio::test]
async fn an_event_that_raises_nothing_decides_nothing() {
    let (store, bus) = (store().await, RecordingBus::new());
    batch(
        &store,
        &bus,
        &[package("p", 1_000, "2026-11-01", "2026-12-31")],
    )
    .await;
    // 1,000 minutes, low at 200 left: 800 minutes of headroom.
    let (_, first) = batch(&store, &bus, &[session("s1", "2026-11-20T10:00:00Z", 60)]).await;
    assert_eq!(
        first.decided, 0,
        "the purchase's decision left 800 minutes of headroom"
    );
    for i in 0..10 {
        let id = format!("more-{i}");
        let (_, check) = batch(&store, &bus, &[session(&id, "2026-11-20T11:00:00Z", 60)]).await;
        assert_eq!(
            check.decided, 0,
            "{i}: 60 more minutes cannot reach a threshold"
        );
    }
    // 660 used; the next 140 minutes would cross: decided, nothing raised
    // until the threshold itself.
    let (_, near) = batch(
        &store,
        &bus,
        &[session("s-near", "2026-11-21T10:00:00Z", 140)],
    )
    .await;
    assert_eq!((near.decided, near.raised), (1, 1), "exactly 800 used: low");
    // An app without packages is decided once, then never again; one not
    // registered yet has nothing counted to decide.
    let (_, parked) = batch(&store, &bus, &[session_of("app-2", "x0")]).await;
    assert_eq!(parked.decided, 0);
    store
        .register(&app("app-2"), &account(OWNER))
        .await
        .unwrap();
    let (_, other) = batch(&store, &bus, &[session_of("app-2", "x1")]).await;
    let (_, later) = batch(&store, &bus, &[session_of("app-2", "x2")]).await;
    assert_eq!((other.decided, later.decided), (1, 0));
}

fn session_of(app_name: &str, id: &str) -> String {
    session(id, "2026-11-20T10:00:00Z", 5).replace(APP, app_name)
}

#[tokio::test]
async fn a_late_session_exhausts_an_expired_package_retroactively() {
    let (store, bus) = (store().await, RecordingBus::new());
    batch(
        &store,
        &bus,
        &[package("old", 30, "2026-10-01", "2026-10-31")],
    )
    .await;
    batch(&store, &bus, &[session("oct", "2026-10-10T10:00:00Z", 10)]).await;
    assert!(bus.taken().is_empty());
    // Arriving in November for an October day: October's package pays.
    let (_, late) = batch(&store, &bus, &[session("late", "2026-10-20T10:00:00Z", 20)]).await;
    assert_eq!(late.raised, 2);
    assert_eq!(kinds(&described(&store).await), [out("old"), low("old", 0)]);
}

#[tokio::test]
async fn voids_refunds_and_redeliveries_never_raise_an_alert_twice() {
    let (store, bus) = (store().await, RecordingBus::new());
    batch(
        &store,
        &bus,
        &[
            package("a", 50, "2026-11-01", "2026-12-15"),
            package("b", 100, "2026-11-01", "2026-12-31"),
        ],
    )
    .await;
    batch(&store, &bus, &[session("s1", "2026-11-20T10:00:00Z", 45)]).await;
    assert_eq!(kinds(&described(&store).await), [low("a", 5)]);
    // Voided: a has all its minutes again; its low alert stays, once.
    batch(&store, &bus, &[void("v1", "s1")]).await;
    batch(&store, &bus, &[session("s2", "2026-11-20T11:00:00Z", 46)]).await;
    assert_eq!(
        kinds(&described(&store).await),
        [low("a", 5)],
        "not raised again"
    );
    // Refunding a moves its 46 minutes to b; with 54 of b's 100 left and
    // then 30 more used, b is low — raised by the invocation that crosses.
    let (_, refunded) = batch(&store, &bus, &[refund("a")]).await;
    assert_eq!((refunded.decided, refunded.raised), (1, 0));
    let (_, crossing) = batch(&store, &bus, &[session("s3", "2026-11-21T10:00:00Z", 34)]).await;
    assert_eq!(crossing.raised, 1);
    assert_eq!(kinds(&described(&store).await), [low("a", 5), low("b", 20)]);
    // A refund that itself exhausts the next package raises it there.
    batch(
        &store,
        &bus,
        &[package("c", 10, "2026-11-01", "2026-12-10")],
    )
    .await;
    assert_eq!(
        kinds(&described(&store).await),
        [out("c"), low("a", 5), low("b", 20), low("c", 0)],
        "a package bought after its days were used is used up at once"
    );
    let (_, moved) = batch(&store, &bus, &[refund("c")]).await;
    assert_eq!(
        (moved.decided, moved.raised),
        (1, 0),
        "b pays c's 10 again: 20 left"
    );
    assert_eq!(bus.taken().len(), 4);
}

fn sqs_batch(bodies: &[String]) -> SqsEvent {
    let mut event = SqsEvent::default();
    for (i, body) in bodies.iter().enumerate() {
        let mut message = SqsMessage::default();
        message.message_id = Some(format!("msg-{i}"));
        message.body = Some(body.clone());
        event.records.push(message);
    }
    event
}

async fn through_sqs<S: UsageStore + AlertStore>(
    store: &S,
    bus: &RecordingBus,
    bodies: &[String],
) -> Vec<String> {
    let (response, _) = sqs::handle(
        store,
        bus,
        &Metrics::disabled(),
        sqs_batch(bodies),
        now(),
        &IngestSettings::default(),
    )
    .await;
    response
        .batch_item_failures
        .into_iter()
        .map(|f| f.item_identifier)
        .collect()
}

#[tokio::test]
async fn a_bus_that_fails_leaves_the_alert_pending_and_its_messages_redelivered() {
    let (store, bus) = (store().await, RecordingBus::new());
    through_sqs(
        &store,
        &bus,
        &[package("p", 10, "2026-11-01", "2026-12-31")],
    )
    .await;
    // Every round of the invocation fails: the session is counted, its
    // alerts decided and stored, and its message goes back to the queue.
    bus.fail_next([
        BusFault::Unavailable,
        BusFault::EntriesFailed,
        BusFault::Unavailable,
    ]);
    let bodies = [
        session("s1", "2026-11-20T10:00:00Z", 10),
        session("other-app", "2026-11-20T10:00:00Z", 1).replace(APP, "app-2"),
    ];
    let failed = through_sqs(&store, &bus, &bodies).await;
    assert_eq!(
        failed,
        ["msg-0"],
        "only the message of the app with a pending alert"
    );
    assert!(bus.taken().is_empty());
    assert_eq!(
        described(&store).await.len(),
        2,
        "decided and stored before publishing"
    );
    // SQS redelivers it: a duplicate now, and the pending alerts go out.
    let failed = through_sqs(&store, &bus, &bodies[..1]).await;
    assert!(failed.is_empty());
    let taken = bus.taken();
    assert_eq!(taken.len(), 2);
    let listed = described(&store).await;
    for detail in &taken {
        assert!(listed.iter().any(|a| a["AlertId"] == detail["AlertId"]));
    }
    // Nothing pending any more: another delivery publishes nothing.
    through_sqs(&store, &bus, &bodies[..1]).await;
    assert_eq!(bus.taken().len(), 2);
}

#[tokio::test]
async fn a_put_that_landed_but_timed_out_is_published_again_with_the_same_id() {
    let (store, bus) = (store().await, RecordingBus::new());
    through_sqs(
        &store,
        &bus,
        &[package("p", 10, "2026-11-01", "2026-12-31")],
    )
    .await;
    bus.fail_next([BusFault::TakenThenTimeout]);
    let failed = through_sqs(&store, &bus, &[session("s1", "2026-11-20T10:00:00Z", 8)]).await;
    assert!(
        failed.is_empty(),
        "the next round published it within the invocation"
    );
    let taken = bus.taken();
    assert_eq!(taken.len(), 2, "at least once: delivered twice");
    assert_eq!(taken[0], taken[1], "the same alert, the same AlertId");
    assert_eq!(described(&store).await.len(), 1);
}

#[tokio::test]
async fn a_decision_stored_but_reported_failed_is_published_once_and_never_decided_again() {
    let store = Scripted::new(store().await);
    let bus = RecordingBus::new();
    batch(
        &store,
        &bus,
        &[package("p", 10, "2026-11-01", "2026-12-31")],
    )
    .await;
    // The low alert's decision lands and its reply is lost: the invocation
    // cannot know, and its message is redelivered.
    store.lost_alert_replies.store(1, Ordering::SeqCst);
    let failed = through_sqs(&store, &bus, &[session("s1", "2026-11-20T10:00:00Z", 9)]).await;
    assert_eq!(failed, ["msg-0"]);
    assert!(bus.taken().is_empty());
    let first = described(&store.inner).await;
    assert_eq!(kinds(&first), [low("p", 1)]);
    // The redelivery, a minute later, finds the decision pending and
    // publishes it; deciding again raises nothing.
    let later = crate::domain::time::UtcMillis(now().0 + 60_000);
    let messages = [InboundMessage {
        message_id: "m".into(),
        body: Some(session("s1", "2026-11-20T10:00:00Z", 9)),
    }];
    let report = ingest_batch(&store, &messages, later, retry()).await;
    assert_eq!(report.duplicates, 1);
    let checks: BTreeMap<_, Check> = [(app(APP), Check { decide: true })].into();
    let again = check_apps(&store, &bus, &checks, later, fast()).await;
    assert!(again.unfinished.is_empty(), "{again:?}");
    assert_eq!((again.raised, again.published), (0, 1));
    assert_eq!(
        described(&store.inner).await,
        first,
        "decided once, at its first instant"
    );
    assert_eq!(bus.taken().len(), 1);
    assert_eq!(bus.taken()[0]["AlertId"], first[0]["AlertId"]);
}

#[tokio::test]
async fn a_decision_refused_before_it_is_stored_is_made_by_the_redelivery() {
    let store = Scripted::new(store().await);
    let bus = RecordingBus::new();
    batch(
        &store,
        &bus,
        &[package("p", 10, "2026-11-01", "2026-12-31")],
    )
    .await;
    // The decision's write is refused: nothing stored, nothing published,
    // the message goes back to the queue.
    store.refused_alert_writes.store(1, Ordering::SeqCst);
    let body = [session("s1", "2026-11-20T10:00:00Z", 9)];
    assert_eq!(through_sqs(&store, &bus, &body).await, ["msg-0"]);
    assert!(bus.taken().is_empty());
    assert!(described(&store.inner).await.is_empty());
    // The redelivery: the event is a duplicate, the watch still due, so
    // the alert is decided and published then.
    assert!(through_sqs(&store, &bus, &body).await.is_empty());
    assert_eq!(kinds(&described(&store.inner).await), [low("p", 1)]);
    assert_eq!(bus.taken().len(), 1);
}

#[tokio::test]
async fn two_invocations_deciding_at_once_raise_each_alert_once() {
    let (store, bus) = (store().await, RecordingBus::new());
    batch(
        &store,
        &bus,
        &[package("p", 10, "2026-11-01", "2026-12-31")],
    )
    .await;
    let messages = [InboundMessage {
        message_id: "m".into(),
        body: Some(session("s1", "2026-11-20T10:00:00Z", 10)),
    }];
    ingest_batch(&store, &messages, now(), retry()).await;
    let checks: BTreeMap<_, Check> = [(app(APP), Check { decide: true })].into();
    let (a, b) = tokio::join!(
        check_apps(&store, &bus, &checks, now(), fast()),
        check_apps(&store, &bus, &checks, now(), fast()),
    );
    assert_eq!(
        a.raised + b.raised,
        2,
        "low and exhausted, each by one of them"
    );
    assert_eq!(described(&store).await.len(), 2);
    let ids: std::collections::BTreeSet<_> = bus
        .taken()
        .into_iter()
        .map(|d| d["AlertId"].to_string())
        .collect();
    assert_eq!(ids.len(), 2);
}

#[tokio::test]
async fn the_scheduled_run_raises_expiring_packages_once_and_publishes_what_is_pending() {
    let (store, bus) = (store().await, RecordingBus::new());
    // Today is 2026-11-23: ending on the 30th is expiring (7 days), on
    // December 1st not yet, and a package already used up is not active.
    bus.fail_next([BusFault::Unavailable; 3]);
    batch(
        &store,
        &bus,
        &[
            package("soon", 100, "2026-11-01", "2026-11-30"),
            package("later", 100, "2026-11-01", "2026-12-01"),
        ],
    )
    .await;
    assert!(
        bus.taken().is_empty(),
        "the purchase's decision was not published"
    );
    let expiring = vec![("PackageExpiring".to_owned(), "soon".to_owned(), 100)];
    assert_eq!(
        kinds(&described(&store).await),
        expiring,
        "any invocation may raise it first"
    );
    // The nightly run publishes what the purchase's invocation left.
    let run = scheduled(&store, &bus, now(), fast()).await.unwrap();
    assert_eq!((run.alerts_raised, run.alerts_published), (0, 1));
    // A day later, `later` is 7 days from its end.
    let tomorrow = crate::domain::time::UtcMillis(now().0 + 86_400_000);
    let run = scheduled(&store, &bus, tomorrow, fast()).await.unwrap();
    assert_eq!((run.alerts_raised, run.alerts_published), (1, 1));
    let run = scheduled(&store, &bus, tomorrow, fast()).await.unwrap();
    assert_eq!(
        (run.alerts_raised, run.alerts_published),
        (0, 0),
        "never twice"
    );
    assert_eq!(
        store
            .expiring_packages(crate::domain::time::Day(i64::MAX / 2))
            .await
            .unwrap(),
        [],
        "both are raised: no longer watched"
    );
    let taken: Vec<_> = bus.taken().into_iter().map(|d| d["Kind"].clone()).collect();
    assert_eq!(taken, ["PackageExpiring", "PackageExpiring"]);
}
