//! The audio/video rollup prepares package balances per day; answers must be
//! the same whether or not it ran, and whatever arrives after it: a store that
//! is rolled up between batches answers exactly like one that never is.

use crate::support::*;
use rtc_usage::domain::time::{DAY_MS, HOUR_MS, UtcMillis};
use rtc_usage::entry::metrics::Metrics;
use rtc_usage::entry::schedule;
use rtc_usage::service::ingest::{InboundMessage, RetryPolicy, ingest_batch};
use rtc_usage::service::rollup::Deadline;
use rtc_usage::store::dynamo::{DynamoStore, RequestMeter};
use rtc_usage::testkit::register_apps;
use serde_json::{Value, json};

fn message(n: usize, kind: &str, data: Value) -> InboundMessage {
    InboundMessage {
        message_id: format!("m-{n}"),
        body: Some(
            json!({"specversion": "1.0", "id": format!("e-{n}"), "source": "/settle-test",
                "type": kind, "data": data})
            .to_string(),
        ),
    }
}

fn time(at: UtcMillis) -> String {
    at.to_datetime()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Ten days of classes before `now()`, three classes a day, a few users each.
fn history(first: usize) -> Vec<InboundMessage> {
    let mut messages = Vec::new();
    let mut n = first;
    let start = now().day().start().plus_ms(-10 * DAY_MS);
    for day in 0..10_i64 {
        for class in 0..3_i64 {
            let class_id = format!("c{day}-{class}");
            let begins = start.plus_ms(day * DAY_MS + (9 + class) * HOUR_MS);
            if class != 1 {
                messages.push(message(
                    n,
                    "rtc.class.started",
                    json!({"appId": "app-1",
                    "classId": class_id, "className": format!("Class {class_id}"),
                    "startTime": time(begins)}),
                ));
                n += 1;
            }
            for user in 0..3_i64 {
                let from = begins.plus_ms(user * 61_000);
                messages.push(message(n, "rtc.class.session", json!({"appId": "app-1",
                    "classId": class_id, "userId": format!("u{user}"), "role": "student",
                    "usageType": if user == 2 { "playback" } else { "interactive" },
                    "startTime": time(from), "endTime": time(from.plus_ms(25 * 60_000 + user * 7_001))})));
                n += 1;
            }
        }
    }
    messages.push(message(
        n,
        "rtc.package.purchased",
        json!({"appId": "app-1", "packageId": "p-a",
        "packageName": "A", "minutes": 300, "validFrom": start.day().key(),
        "validTo": now().day().key()}),
    ));
    messages.push(message(
        n + 1,
        "rtc.package.purchased",
        json!({"appId": "app-1", "packageId": "p-b",
        "packageName": "B", "minutes": 500, "validFrom": start.plus_ms(3 * DAY_MS).day().key(),
        "validTo": now().plus_ms(30 * DAY_MS).day().key()}),
    ));
    messages
}

async fn ingest(store: &DynamoStore, messages: &[InboundMessage]) {
    for batch in messages.chunks(10) {
        let report = ingest_batch(store, batch, now(), RetryPolicy::default()).await;
        assert!(report.failures.is_empty(), "{:?}", report.failures);
    }
}

async fn rollup(store: &DynamoStore) -> Value {
    let scheduled = fixture("eventbridge-schedule.json");
    let report = schedule::handle(store, &Metrics::disabled(), &scheduled, Deadline::none())
        .await
        .unwrap();
    serde_json::to_value(report).unwrap()
}

/// Every answer the usage page asks for, with the request id left out.
async fn answers(store: &DynamoStore) -> Vec<Value> {
    let day = |d: i64| now().day().start().plus_ms(d * DAY_MS).format_query_time();
    let mut out = Vec::new();
    let windows = [(day(-10), day(-5)), (day(-6), day(0)), (day(-3), day(1))];
    for (start, end) in &windows {
        for page in ["1", "2"] {
            for class in [None, Some("c8-1")] {
                let mut params = vec![
                    ("Action", "DescribeUsageDetails"),
                    ("AppId", "app-1"),
                    ("ServiceType", "AudioVideo"),
                    ("StartTime", start.as_str()),
                    ("EndTime", end.as_str()),
                    ("PageSize", "7"),
                    ("PageNumber", page),
                ];
                params.extend(class.map(|c| ("ClassId", c)));
                out.push(ask(store, &params).await);
            }
        }
    }
    out.push(
        ask(
            store,
            &[("Action", "DescribeUsagePackages"), ("AppId", "app-1")],
        )
        .await,
    );
    out
}

async fn ask(store: &DynamoStore, params: &[(&str, &str)]) -> Value {
    let text = owner_asks(store, params, "r", now()).await.unwrap();
    let mut body: Value = serde_json::from_str(&text).unwrap();
    body.as_object_mut().unwrap().remove("RequestId");
    body
}

async fn two_stores() -> (DynamoStore, DynamoStore, RequestMeter) {
    let (rolled, meter) = fresh_metered_store().await;
    let never = fresh_store().await;
    for store in [&rolled, &never] {
        register_apps(store, ["app-1"], OWNER).await;
    }
    (rolled, never, meter)
}

#[tokio::test]
async fn answers_are_the_same_whether_or_not_balances_were_prepared() {
    let (rolled, never, meter) = two_stores().await;
    let history = history(0);
    for store in [&rolled, &never] {
        ingest(store, &history).await;
    }
    let before = answers(&rolled).await;
    assert_eq!(before, answers(&never).await);

    let report = rollup(&rolled).await;
    assert_eq!(report["appsSettled"], json!(1), "{report}");
    assert_eq!(
        answers(&rolled).await,
        before,
        "preparing balances changes no answer"
    );

    // After the roll, a details page reads the registry, the deduction's
    // inputs with the balance of the day before the window, the window's rows
    // and its classes' facts: four requests, however long the history.
    meter.reset();
    let day = |d: i64| now().day().start().plus_ms(d * DAY_MS).format_query_time();
    let (start, end) = (day(-3), day(1));
    ask(
        &rolled,
        &[
            ("Action", "DescribeUsageDetails"),
            ("AppId", "app-1"),
            ("ServiceType", "AudioVideo"),
            ("StartTime", &start),
            ("EndTime", &end),
        ],
    )
    .await;
    assert_eq!(meter.total(), 4, "{:?}", meter.snapshot());
    meter.reset();
    ask(
        &rolled,
        &[("Action", "DescribeUsagePackages"), ("AppId", "app-1")],
    )
    .await;
    assert_eq!(meter.total(), 3, "{:?}", meter.snapshot());

    // Late arrivals change the balances of the days after them: a session on
    // the first day, a class's start time, a package bought late covering
    // past days. Each shows at once, rolled or not, and again after a roll.
    let late = [
        message(
            900,
            "rtc.class.session",
            json!({"appId": "app-1", "classId": "c0-1",
            "userId": "late", "role": "student", "usageType": "interactive",
            "startTime": time(now().day().start().plus_ms(-10 * DAY_MS + 8 * HOUR_MS)),
            "endTime": time(now().day().start().plus_ms(-10 * DAY_MS + 11 * HOUR_MS))}),
        ),
        message(
            901,
            "rtc.class.started",
            json!({"appId": "app-1", "classId": "c8-1",
            "className": "Late start", "startTime": time(now().day().start().plus_ms(-2 * DAY_MS))}),
        ),
        message(
            902,
            "rtc.package.purchased",
            json!({"appId": "app-1", "packageId": "p-0",
            "packageName": "Late", "minutes": 50,
            "validFrom": now().day().start().plus_ms(-9 * DAY_MS).day().key(),
            "validTo": now().day().start().plus_ms(-8 * DAY_MS).day().key()}),
        ),
    ];
    for (i, event) in late.iter().enumerate() {
        for store in [&rolled, &never] {
            ingest(store, std::slice::from_ref(event)).await;
        }
        let fresh = answers(&never).await;
        assert_ne!(fresh, before, "late event {i} changes the answers");
        assert_eq!(
            answers(&rolled).await,
            fresh,
            "late event {i}, before the next roll"
        );
        rollup(&rolled).await;
        assert_eq!(
            answers(&rolled).await,
            fresh,
            "late event {i}, after the next roll"
        );
    }
    let repeat = rollup(&rolled).await;
    assert_eq!(repeat["appsSettled"], json!(0), "nothing changed: {repeat}");
}

#[tokio::test]
async fn a_stale_run_never_overwrites_a_newer_runs_balances() {
    use rtc_usage::domain::deduction::Balance;
    use rtc_usage::domain::ids::AppId;
    use rtc_usage::store::UsageStore;
    let store = fresh_store().await;
    let app = AppId::parse("app-1").unwrap();
    let balance = |seq| Balance {
        day: now().day(),
        used: Default::default(),
        seq,
    };
    assert!(store.write_balances(&app, &[balance(5)]).await.unwrap());
    assert!(
        !store.write_balances(&app, &[balance(4)]).await.unwrap(),
        "older"
    );
    assert_eq!(
        store.balance(&app, now().day()).await.unwrap(),
        Some(balance(5))
    );
    assert!(
        store.write_balances(&app, &[balance(5)]).await.unwrap(),
        "the same run again"
    );
}
