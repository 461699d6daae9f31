//! Shared by the integration tests: the local DynamoDB API (one server per
//! test binary, a table per test), the `events/` fixtures, API Gateway
//! requests built from them, and the query function's answers as the Lambda
//! runtime posts them (`rtc_usage::testkit::lambda_boundary`): every
//! HTTP-facing test reads an answer there, after `lambda_http`'s conversion,
//! never the `Response` a handler built.

use aws_sdk_dynamodb::Client;
use rtc_usage::domain::error::ErrorCode;
use rtc_usage::domain::ids::AccountId;
use rtc_usage::domain::time::UtcMillis;
use rtc_usage::entry::http;
use rtc_usage::secrets::{SecretCache, SecretSealer};
use rtc_usage::store::access_keys::AccessKeyStore;
use rtc_usage::store::dynamo::{DynamoStore, RequestMeter};
use rtc_usage::store::{AlertStore, UsageStore};
use rtc_usage::testkit::LocalDynamo;
use rtc_usage::testkit::alibaba_signer::query_string;
pub use rtc_usage::testkit::lambda_boundary::{Posted, invoke};
use serde_json::Value;
use std::path::Path;

pub const OWNER: &str = "111122223333";
pub const OTHER_ACCOUNT: &str = "444455556666";

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A client for the local API; made per test, as each test has its own runtime.
pub fn client() -> Client {
    LocalDynamo::shared().client(None)
}

/// A store over a new, empty table (one per test).
pub async fn fresh_store() -> DynamoStore {
    LocalDynamo::shared().fresh_store(None).await
}

/// A store over a new table whose client counts the requests it sends.
pub async fn fresh_metered_store() -> (DynamoStore, RequestMeter) {
    let meter = RequestMeter::default();
    let store = LocalDynamo::shared().fresh_store(Some(&meter)).await;
    meter.reset(); // creating the table is not the test's traffic
    (store, meter)
}

pub fn at(text: &str) -> UtcMillis {
    UtcMillis::parse_query_time(text).unwrap_or_else(|| panic!("bad time {text}"))
}

/// The tests' "now": 2026-11-23T12:00:00Z.
pub fn now() -> UtcMillis {
    at("2026-11-23T12:00:00Z")
}

pub fn fixture(name: &str) -> Value {
    let path = repo().join("events").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("fixture JSON")
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Api {
    Rest,
    Http,
}

/// The API Gateway fixture with its query string and caller replaced.
/// `account: None` removes the IAM identity.
pub fn api_event(api: Api, pairs: &[(&str, &str)], account: Option<&str>) -> Value {
    let mut event = match api {
        Api::Rest => fixture("apigw-rest-query.json"),
        Api::Http => fixture("apigw-http-query.json"),
    };
    let mut single = serde_json::Map::new();
    let mut multi = serde_json::Map::new();
    for (k, v) in pairs {
        single.insert((*k).to_owned(), Value::String((*v).to_owned()));
        multi
            .entry((*k).to_owned())
            .or_insert_with(|| Value::Array(vec![]))
            .as_array_mut()
            .unwrap()
            .push(Value::String((*v).to_owned()));
    }
    match api {
        Api::Rest => {
            event["queryStringParameters"] = Value::Object(single);
            event["multiValueQueryStringParameters"] = Value::Object(multi);
            event["requestContext"]["identity"]["accountId"] =
                account.map_or(Value::Null, |a| Value::String(a.to_owned()));
        }
        Api::Http => {
            event["rawQueryString"] = Value::String(query_string(pairs));
            event["queryStringParameters"] = Value::Object(single);
            match account {
                Some(a) => {
                    event["requestContext"]["authorizer"]["iam"]["accountId"] =
                        Value::String(a.to_owned())
                }
                None => {
                    event["requestContext"]
                        .as_object_mut()
                        .unwrap()
                        .remove("authorizer");
                }
            }
        }
    }
    event
}

pub fn query_pairs<'a>(overrides: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut pairs = vec![
        ("Action", "DescribeLiveRtcRecordUsageData"),
        ("AppId", "app-1"),
        ("StartTime", "2026-11-20T00:00:00Z"),
        ("EndTime", "2026-11-21T00:00:00Z"),
        ("RecordMode", "0"),
    ];
    for (k, v) in overrides {
        pairs.retain(|(name, _)| name != k);
        pairs.push((k, v));
    }
    pairs
}

/// What `http::handle` (the API Gateway APIs with IAM or the console's
/// sign-in; `dev_caller` as the local development caller) posts to the
/// runtime for `event`.
pub async fn handle_event<S: UsageStore + AlertStore>(
    store: &S,
    dev_caller: Option<&AccountId>,
    event: &Value,
    now: UtcMillis,
) -> Posted {
    invoke(event, |request| async move {
        http::handle(store, dev_caller, &request, now).await
    })
    .await
}

/// What `http::serve` (whichever API the event came through, the
/// Alibaba-signed one included) posts to the runtime for `event`.
pub async fn serve_event<S, K>(
    store: &S,
    secrets: &SecretCache<K>,
    dev_caller: Option<&AccountId>,
    event: &Value,
    now: UtcMillis,
) -> Posted
where
    S: UsageStore + AccessKeyStore + AlertStore,
    K: SecretSealer,
{
    invoke(event, |request| async move {
        http::serve(store, secrets, dev_caller, &request, now).await
    })
    .await
}

/// A JSON answer as the caller receives it.
pub struct Answer {
    pub status: u16,
    pub body: Value,
    pub text: String,
    pub content_type: String,
}

/// Reads a posted JSON answer: text (never base64), and JSON.
pub fn answer(posted: Posted) -> Answer {
    assert!(
        !posted.is_base64_encoded,
        "a JSON answer goes as text: {}",
        String::from_utf8_lossy(&posted.raw)
    );
    let text = posted.text().to_owned();
    let body = serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"));
    Answer {
        status: posted.status,
        body,
        text,
        content_type: posted.header("content-type").unwrap_or_default().to_owned(),
    }
}

/// The owner's request of `pairs` (a REST payload carrying `request_id`) at
/// `at`, as the runtime posts the answer: the body of a 200 (JSON, or the
/// export's CSV), or the refusal's code.
pub async fn owner_asks<S: UsageStore + AlertStore>(
    store: &S,
    pairs: &[(&str, &str)],
    request_id: &str,
    at: UtcMillis,
) -> Result<String, ErrorCode> {
    let mut event = api_event(Api::Rest, pairs, Some(OWNER));
    event["requestContext"]["requestId"] = Value::String(request_id.to_owned());
    let posted = handle_event(store, None, &event, at).await;
    assert!(!posted.is_base64_encoded, "answers go as text");
    if posted.status == 200 {
        return Ok(posted.text().to_owned());
    }
    let body: Value = serde_json::from_str(posted.text()).expect("a JSON refusal");
    let code = body["Code"].as_str().expect("the refusal's Code");
    Err(ErrorCode::ALL
        .into_iter()
        .find(|c| c.code() == code)
        .unwrap_or_else(|| panic!("a code the contract does not have: {code}")))
}

/// The usage API's JSON answer to `pairs` through `api`, with `account` as
/// the IAM caller.
pub async fn api_answer<S: UsageStore + AlertStore>(
    store: &S,
    api: Api,
    pairs: &[(&str, &str)],
    account: Option<&str>,
) -> Answer {
    answer(handle_event(store, None, &api_event(api, pairs, account), now()).await)
}

/// RFC 3339 in a random offset, sometimes with sub-millisecond digits that
/// must be truncated: the same instant however it is written.
pub fn rfc3339(rng: &mut rand::rngs::StdRng, ms: i64) -> String {
    use chrono::{FixedOffset, SecondsFormat};
    use rand::Rng;
    let offsets = [0, 8 * 3600, -5 * 3600 - 1800, 14 * 3600, -12 * 3600];
    let offset = FixedOffset::east_opt(offsets[rng.random_range(0..offsets.len())]).unwrap();
    let mut text = chrono::DateTime::from_timestamp_millis(ms)
        .unwrap()
        .with_timezone(&offset)
        .to_rfc3339_opts(SecondsFormat::Millis, true);
    if rng.random_bool(0.3) {
        let dot = text.find('.').expect("a fraction");
        text.insert_str(dot + 4, "999");
    }
    text
}

/// An SQS batch of `bodies`, as Lambda hands it to `usage-ingest`: message
/// ids `m0`, `m1`, …
pub fn sqs_batch(bodies: &[String]) -> aws_lambda_events::event::sqs::SqsEvent {
    let mut event = aws_lambda_events::event::sqs::SqsEvent::default();
    for (i, body) in bodies.iter().enumerate() {
        let mut message = aws_lambda_events::event::sqs::SqsMessage::default();
        message.message_id = Some(format!("m{i}"));
        message.body = Some(body.clone());
        event.records.push(message);
    }
    event
}

/// The alerts of the apps `report`'s batch touched, checked as the SQS
/// entry point checks them after counting (on `bus`, acknowledged now).
pub async fn check_alerts<S: UsageStore + AlertStore>(
    store: &S,
    bus: &rtc_usage::bus::memory::RecordingBus,
    report: &rtc_usage::service::ingest::IngestReport,
) -> rtc_usage::service::alerts::AlertReport {
    let checks = report
        .alert_checks
        .iter()
        .map(|(app, c)| (app.clone(), c.check))
        .collect();
    rtc_usage::service::alerts::check_apps(
        store,
        bus,
        &checks,
        now(),
        rtc_usage::service::alerts::PublishPolicy::default(),
    )
    .await
}

/// A batch through the SQS entry point as `usage-ingest` runs it (metrics
/// off), in a deployment whose default billing time zone is UTC, its
/// alerts published on a recording bus.
pub async fn handle_sqs<S: UsageStore + AlertStore>(
    store: &S,
    batch: aws_lambda_events::event::sqs::SqsEvent,
) -> (
    aws_lambda_events::event::sqs::SqsBatchResponse,
    rtc_usage::service::ingest::IngestReport,
) {
    rtc_usage::entry::sqs::handle(
        store,
        &rtc_usage::bus::memory::RecordingBus::new(),
        &rtc_usage::entry::metrics::Metrics::disabled(),
        batch,
        now(),
        &rtc_usage::service::ingest::IngestSettings::default(),
    )
    .await
}
