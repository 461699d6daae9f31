//! The built functions as Lambda runs them: `usage-ingest` and `usage-query`
//! started as processes against a stand-in Lambda Runtime API and DynamoDB
//! Local, with `template.yaml`'s environment names and the variables Lambda
//! sets (region and the role's credentials). What they post to the
//! Runtime API is what API Gateway and SQS receive — so the export's bytes
//! are checked there, byte order mark first, and compared with the answer
//! the in-process boundary (`lambda_boundary::invoke`) gives the other tests.

use crate::support::*;
use rtc_usage::bus::eventbridge::BUS_ENV;
use rtc_usage::entry::config::TABLE_ENV;
use rtc_usage::store::dynamo::DynamoStore;
use rtc_usage::store::{TurnStore, UsageStore};
use rtc_usage::testkit::runtime_api::{self, RuntimeApi};
use rtc_usage::testkit::{LocalBus, LocalDynamo, LocalKms};
use serde_json::{Value, json};
use std::process::{Command, Stdio};
use std::time::Duration;

/// Runs `binary` over `events`, publishing alerts on the local bus
/// `bus_name`, and returns what it posted for each.
fn run_function(
    binary: &str,
    store: &DynamoStore,
    bus_name: &str,
    events: Vec<Value>,
) -> Vec<runtime_api::Posted> {
    let count = events.len();
    let runtime = RuntimeApi::serve(events);
    let mut child = Command::new(binary)
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", runtime.address.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", "local")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env(TABLE_ENV, store.table())
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "local")
        .env("AWS_SECRET_ACCESS_KEY", "local")
        .env("AWS_SESSION_TOKEN", "local-session")
        .env("AWS_ENDPOINT_URL_DYNAMODB", &LocalDynamo::shared().endpoint)
        .env(BUS_ENV, bus_name)
        .env("AWS_ENDPOINT_URL_EVENTBRIDGE", &LocalKms::shared().endpoint)
        .env("HOME", "/nonexistent")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the function starts");
    let posted: Vec<_> = (0..count)
        .map(|n| {
            runtime
                .next_posted(Duration::from_secs(30))
                .unwrap_or_else(|| panic!("{binary} posted nothing for invocation {n}"))
        })
        .collect();
    let _ = child.kill();
    let _ = child.wait();
    posted
}

fn response(posted: runtime_api::Posted) -> Posted {
    match posted {
        runtime_api::Posted::Response(raw) => Posted::parse(raw),
        runtime_api::Posted::Error(raw) => {
            panic!("the handler failed: {}", String::from_utf8_lossy(&raw))
        }
    }
}

fn export_event(api: Api) -> Value {
    api_event(
        api,
        &[
            ("Action", "ExportUsageDetails"),
            ("AppId", "app-1"),
            ("StartTime", "2026-11-20T00:00:00Z"),
            ("EndTime", "2026-11-22T00:00:00Z"),
            ("ServiceType", "AudioVideo"),
        ],
        Some(OWNER),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn the_export_leaves_the_function_with_its_byte_order_mark() {
    let store = fresh_store().await;
    let bus = LocalBus::create("runtime-export").await.bus_name;
    let (ingest, query) = (
        env!("CARGO_BIN_EXE_usage-ingest").to_owned(),
        env!("CARGO_BIN_EXE_usage-query").to_owned(),
    );
    // The class fixture through the ingest function: every message counted.
    let (runner, ingest_bus) = (store.clone(), bus.clone());
    let ingested = tokio::task::spawn_blocking(move || {
        run_function(
            &ingest,
            &runner,
            &ingest_bus,
            vec![fixture("sqs-class-batch.json")],
        )
    })
    .await
    .unwrap();
    let batch = ingested.into_iter().next().unwrap();
    let runtime_api::Posted::Response(raw) = batch else {
        panic!("ingest failed: {batch:?}")
    };
    let batch: Value = serde_json::from_slice(&raw).unwrap();
    assert_eq!(batch, json!({"batchItemFailures": []}));

    let events = vec![export_event(Api::Rest), export_event(Api::Http)];
    let runner = store.clone();
    let answers = tokio::task::spawn_blocking(move || run_function(&query, &runner, &bus, events))
        .await
        .unwrap();
    for (answer, api) in answers.into_iter().zip([Api::Rest, Api::Http]) {
        let posted = response(answer);
        assert_eq!(posted.status, 200, "{api:?}: {}", posted.text());
        assert_eq!(
            posted.header("content-type"),
            Some("text/csv; charset=utf-8")
        );
        assert_eq!(
            posted.header("content-disposition"),
            Some("attachment; filename=\"usage-app-1-AudioVideo-2026-11-20-2026-11-21.csv\"")
        );
        // Text, so API Gateway passes it on unchanged: no binary media type
        // needed, whatever the client's `Accept` says.
        assert_eq!(posted.json["isBase64Encoded"], json!(false));
        // The posted JSON carries the mark as the character itself, and the
        // body's bytes start with it.
        let raw_json = String::from_utf8(posted.raw.clone()).unwrap();
        assert!(
            raw_json.contains("\"body\":\"\u{feff}Date,Application,"),
            "{raw_json}"
        );
        assert_eq!(posted.body[..3], [0xEF, 0xBB, 0xBF]);
        assert!(posted.text().contains("Demo School 演示学校"));
        // The same bytes as the in-process boundary the other tests use.
        let in_process = handle_event(&store, None, &export_event(api), now()).await;
        assert_eq!(posted.body, in_process.body, "{api:?}");
    }
}

/// The built ingest function, configured as the template configures it,
/// publishes the alerts its batch raises on its bus, where the template's
/// rule hands them to the consumer queue before the invocation answers.
#[tokio::test(flavor = "multi_thread")]
async fn the_ingest_function_publishes_alerts_on_its_bus() {
    let store = fresh_store().await;
    let local = LocalBus::create("runtime-alerts").await;
    let body = |id: &str, kind: &str, data: Value| {
        json!({"specversion": "1.0", "id": id, "source": "/billing", "type": kind, "data": data})
            .to_string()
    };
    let records: Vec<Value> = [
        body("reg", "rtc.app.registered", json!({"appId": "app-bus", "ownerAccountId": OWNER})),
        body("buy", "rtc.package.purchased", json!({"appId": "app-bus", "packageId": "p",
            "packageName": "Trial", "minutes": 10, "validFrom": "2026-11-01", "validTo": "2026-12-31"})),
        body("s1", "rtc.class.session", json!({"appId": "app-bus", "classId": "c", "userId": "u",
            "role": "student", "usageType": "interactive",
            "startTime": "2026-11-20T10:00:00Z", "endTime": "2026-11-20T10:10:00Z"})),
    ]
    .iter()
    .enumerate()
    .map(|(i, body)| json!({"messageId": format!("m{i}"), "body": body}))
    .collect();
    let (binary, runner, bus) = (
        env!("CARGO_BIN_EXE_usage-ingest").to_owned(),
        store.clone(),
        local.bus_name.clone(),
    );
    let posted = tokio::task::spawn_blocking(move || {
        run_function(&binary, &runner, &bus, vec![json!({"Records": records})])
    })
    .await
    .unwrap();
    let runtime_api::Posted::Response(raw) = posted.into_iter().next().unwrap() else {
        panic!("ingest failed")
    };
    let answer: Value = serde_json::from_slice(&raw).unwrap();
    assert_eq!(answer, json!({"batchItemFailures": []}));
    let mut kinds: Vec<String> = local
        .receive()
        .await
        .iter()
        .map(|e| e["detail"]["Kind"].as_str().unwrap().to_owned())
        .collect();
    kinds.sort();
    assert_eq!(kinds, ["PackageExhausted", "PackageLow"]);
}

/// The built ingest function, configured as the template configures it,
/// counts `events/sqs-busy-app-batch.json` (24 sessions of one app) in the
/// app's turn: delivered twice, it answers no failure either time, its
/// line on DynamoDB Local served and passed on two turns, and the app's
/// rows hold each session once.
#[tokio::test(flavor = "multi_thread")]
async fn the_ingest_function_counts_a_busy_app_in_its_turns() {
    let store = fresh_store().await;
    let local = LocalBus::create("runtime-turns").await;
    let batch = fixture("sqs-busy-app-batch.json");
    let (binary, runner, bus) = (
        env!("CARGO_BIN_EXE_usage-ingest").to_owned(),
        store.clone(),
        local.bus_name.clone(),
    );
    let events = vec![batch.clone(), batch];
    let posted = tokio::task::spawn_blocking(move || run_function(&binary, &runner, &bus, events))
        .await
        .unwrap();
    for answer in posted {
        let runtime_api::Posted::Response(raw) = answer else {
            panic!("ingest failed")
        };
        let answer: Value = serde_json::from_slice(&raw).unwrap();
        assert_eq!(answer, json!({"batchItemFailures": []}));
    }
    let busy = rtc_usage::domain::ids::AppId::parse("busy-school").unwrap();
    assert_eq!(
        store.serving(&busy).await.unwrap(),
        3,
        "two turns taken and passed on"
    );
    let rows = store
        .av_rows(
            &busy,
            rtc_usage::service::settle::FIRST_DAY,
            rtc_usage::service::settle::LAST_DAY,
        )
        .await
        .unwrap();
    // 24 sessions: (5 min 30 s − i ms) each, i = 0..23.
    let expected: u64 = (0..24).map(|i| 330_000 - i).sum();
    assert_eq!(rows.iter().map(|r| r.ms).sum::<u64>(), expected);
}
