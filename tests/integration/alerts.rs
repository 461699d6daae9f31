//! Alerts end to end, on DynamoDB Local and a local EventBridge (moto's
//! server: an event bus, the template's rule for `rtc.usage.alert` and its
//! SQS consumer queue): what the consumer queue receives after batches go
//! through `usage-ingest`'s entry point with the real EventBridge adapter,
//! against `DescribeAlerts` through the API; a bus that fails before and
//! after taking the events; and the scheduled run. The alerts' items are
//! in the store contract suite.

use crate::support::*;
use rtc_usage::bus::memory::BusFault;
use rtc_usage::bus::{AlertBus, BusError, BusEvent};
use rtc_usage::domain::time::UtcMillis;
use rtc_usage::entry::metrics::Metrics;
use rtc_usage::entry::{schedule, sqs};
use rtc_usage::service::ingest::IngestSettings;
use rtc_usage::service::rollup::Deadline;
use rtc_usage::store::dynamo::DynamoStore;
use rtc_usage::testkit::{LocalBus, register_apps};
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Instant;

fn session(app: &str, id: &str, start: &str, minutes: i64) -> String {
    let start = at(start);
    let time = |ms: i64| {
        chrono::DateTime::from_timestamp_millis(ms)
            .unwrap()
            .to_rfc3339()
    };
    json!({"specversion": "1.0", "id": id, "source": "/lcic/classroom", "type": "rtc.class.session",
           "data": {"appId": app, "classId": "c-1", "userId": format!("u-{id}"), "role": "student",
                    "usageType": "interactive", "startTime": time(start.0),
                    "endTime": time(start.0 + minutes * 60_000)}})
    .to_string()
}

fn package(app: &str, id: &str, minutes: u64, from: &str, to: &str) -> String {
    json!({"specversion": "1.0", "id": format!("buy-{id}"), "source": "/billing",
           "type": "rtc.package.purchased",
           "data": {"appId": app, "packageId": id, "packageName": "年卡 \"Gold\" 🎓",
                    "minutes": minutes, "validFrom": from, "validTo": to}})
    .to_string()
}

/// A batch through `usage-ingest`'s entry point: the failed message ids.
async fn ingest<B: AlertBus>(store: &DynamoStore, bus: &B, bodies: &[String]) -> Vec<String> {
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

async fn described(store: &DynamoStore, app: &str) -> Vec<Value> {
    let answer = api_answer(
        store,
        Api::Rest,
        &[("Action", "DescribeAlerts"), ("AppId", app)],
        Some(OWNER),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    answer.body["Alerts"].as_array().unwrap().clone()
}

/// Each received event is the contract's, its detail a listed alert's.
fn assert_delivered(received: &[Value], listed: &[Value], app: &str) {
    for event in received {
        assert_eq!(event["source"], "rtc.usage");
        assert_eq!(event["detail-type"], "rtc.usage.alert");
        let detail = &event["detail"];
        let alert = listed
            .iter()
            .find(|a| a["AlertId"] == detail["AlertId"])
            .unwrap_or_else(|| panic!("{detail} is not listed"));
        let mut want = alert.clone();
        want["AppId"] = json!(app);
        want["OwnerAccountId"] = json!(OWNER);
        assert_eq!(detail, &want);
    }
}

#[tokio::test]
async fn alerts_reach_the_consumer_queue_in_the_invocation_that_raises_them() {
    const APP: &str = "alert-e2e";
    let store = fresh_store().await;
    register_apps(&store, [APP], OWNER).await;
    let local = LocalBus::create("alerts-e2e").await;
    let bus = local.bus();
    assert!(
        ingest(
            &store,
            &bus,
            &[package(APP, "gold", 100, "2026-11-01", "2026-12-31")]
        )
        .await
        .is_empty()
    );
    assert!(
        ingest(
            &store,
            &bus,
            &[session(APP, "s1", "2026-11-20T10:00:00Z", 60)]
        )
        .await
        .is_empty()
    );
    assert!(
        local.receive().await.is_empty(),
        "40 minutes left: nothing to say"
    );
    // The session that leaves a fifth: on the queue when the invocation ends.
    let acknowledged = Instant::now();
    assert!(
        ingest(
            &store,
            &bus,
            &[session(APP, "s2", "2026-11-20T12:00:00Z", 20)]
        )
        .await
        .is_empty()
    );
    let received = local.receive().await;
    println!("acknowledged to received: {:?}", acknowledged.elapsed());
    assert_eq!(received.len(), 1, "{received:?}");
    let listed = described(&store, APP).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["Kind"], "PackageLow");
    assert_eq!(listed[0]["RemainingMinutes"], 20);
    assert_eq!(listed[0]["PackageName"], "年卡 \"Gold\" 🎓");
    assert_eq!(listed[0]["RaisedAt"], "2026-11-23T12:00:00+00:00");
    assert_delivered(&received, &listed, APP);
    // Delivered again by SQS: nothing new on the bus.
    ingest(
        &store,
        &bus,
        &[session(APP, "s2", "2026-11-20T12:00:00Z", 20)],
    )
    .await;
    assert!(local.receive().await.is_empty());
    // Used up: exhausted, once.
    ingest(
        &store,
        &bus,
        &[session(APP, "s3", "2026-11-21T10:00:00Z", 30)],
    )
    .await;
    let received = local.receive().await;
    let listed = described(&store, APP).await;
    assert_eq!(received.len(), 1);
    assert_eq!(received[0]["detail"]["Kind"], "PackageExhausted");
    assert_eq!(listed.len(), 2);
    assert_delivered(&received, &listed, APP);
}

/// The local bus, failing as a script says before passing requests on.
struct Flaky<'a> {
    inner: rtc_usage::bus::eventbridge::EventBridgeBus,
    faults: Mutex<VecDeque<BusFault>>,
    _local: &'a LocalBus,
}

impl AlertBus for Flaky<'_> {
    async fn put(&self, events: &[BusEvent]) -> Result<Vec<bool>, BusError> {
        let fault = self.faults.lock().unwrap().pop_front();
        match fault {
            None => self.inner.put(events).await,
            Some(BusFault::Unavailable) => Err(BusError::Unavailable("throttled".into())),
            Some(BusFault::EntriesFailed) => Ok(vec![false; events.len()]),
            Some(BusFault::TakenThenTimeout) => {
                self.inner.put(events).await?;
                Err(BusError::Unavailable("timed out".into()))
            }
        }
    }
}

#[tokio::test]
async fn a_failing_bus_is_retried_until_the_alert_is_on_the_queue() {
    const APP: &str = "alert-flaky";
    let store = fresh_store().await;
    register_apps(&store, [APP], OWNER).await;
    let local = LocalBus::create("alerts-flaky").await;
    let flaky = Flaky {
        inner: local.bus(),
        faults: Mutex::new(VecDeque::new()),
        _local: &local,
    };
    ingest(
        &store,
        &flaky,
        &[package(APP, "p", 10, "2026-11-01", "2026-12-31")],
    )
    .await;
    // Throttled, entries failed, throttled: the invocation gives up, its
    // message goes back to the queue with the decision stored.
    flaky.faults.lock().unwrap().extend([
        BusFault::Unavailable,
        BusFault::EntriesFailed,
        BusFault::Unavailable,
    ]);
    let batch = [session(APP, "s1", "2026-11-20T10:00:00Z", 9)];
    assert_eq!(ingest(&store, &flaky, &batch).await, ["m0"]);
    assert!(local.receive().await.is_empty());
    assert_eq!(
        described(&store, APP).await.len(),
        1,
        "decided before publishing"
    );
    // The redelivery publishes it, but its reply is lost: published again
    // in the next round, the same alert.
    flaky
        .faults
        .lock()
        .unwrap()
        .push_back(BusFault::TakenThenTimeout);
    assert!(ingest(&store, &flaky, &batch).await.is_empty());
    let received = local.receive().await;
    assert_eq!(received.len(), 2, "at least once");
    assert_eq!(received[0]["detail"], received[1]["detail"]);
    assert_delivered(&received, &described(&store, APP).await, APP);
    // Nothing pending: another delivery publishes nothing.
    assert!(ingest(&store, &flaky, &batch).await.is_empty());
    assert!(local.receive().await.is_empty());
}

#[tokio::test]
async fn the_scheduled_run_publishes_expiring_packages_on_the_bus() {
    const APP: &str = "alert-expiring";
    let store = fresh_store().await;
    register_apps(&store, [APP], OWNER).await;
    let local = LocalBus::create("alerts-expiring").await;
    let bus = local.bus();
    // Ending 8 days after today: not yet expiring.
    ingest(
        &store,
        &bus,
        &[package(APP, "p", 100, "2026-11-01", "2026-12-01")],
    )
    .await;
    assert!(local.receive().await.is_empty());
    let scheduled = json!({"version": "0", "id": "x", "detail-type": "Scheduled Event",
        "source": "aws.events", "time": "2026-11-24T00:10:00Z", "detail": {}});
    let tomorrow = at("2026-11-24T00:10:00Z");
    let run = |at: UtcMillis| {
        let (store, bus, scheduled) = (&store, &bus, &scheduled);
        async move {
            schedule::handle_scheduled(
                store,
                bus,
                &Metrics::disabled(),
                scheduled,
                Deadline::none(),
                at,
                259_200,
            )
            .await
            .unwrap()
        }
    };
    let report = run(now()).await;
    assert_eq!(report.alerts.unwrap().alerts_raised, 0);
    let report = run(tomorrow).await;
    assert_eq!(report.alerts.as_ref().unwrap().alerts_raised, 1);
    let answer = serde_json::to_value(&report).unwrap();
    assert_eq!(answer["alertsRaised"], 1, "in the run's answer: {answer}");
    let received = local.receive().await;
    assert_eq!(received.len(), 1);
    assert_eq!(received[0]["detail"]["Kind"], "PackageExpiring");
    assert_eq!(
        received[0]["detail"]["RaisedAt"],
        "2026-11-24T00:10:00+00:00"
    );
    assert_delivered(&received, &described(&store, APP).await, APP);
    // EventBridge may fire twice: nothing new.
    assert_eq!(run(tomorrow).await.alerts.unwrap().alerts_raised, 0);
    assert!(local.receive().await.is_empty());
}
