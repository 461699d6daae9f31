//! Requests as Alibaba Cloud's SDKs send them: `GET` or `POST`, parameters in
//! the query string or a form body or both, the action in the `x-acs-action`
//! header. Every action answers them exactly as the plain `GET`, through both
//! API Gateway payloads; a name given twice fails its own rule.

use crate::support::*;
use rtc_usage::domain::ids::{AccountId, AppId};
use rtc_usage::store::UsageStore;
use rtc_usage::store::dynamo::DynamoStore;
use rtc_usage::testkit::alibaba_signer::{percent_encode, query_string};
use serde_json::{Value, json};

/// app-1 (OWNER) with the fixture's recordings and class; app-2 of another account.
async fn world() -> DynamoStore {
    let store = fresh_store().await;
    for batch in ["sqs-usage-batch.json", "sqs-class-batch.json"] {
        let batch: aws_lambda_events::event::sqs::SqsEvent =
            serde_json::from_value(fixture(batch)).expect("SQS fixture");
        let (response, _) = handle_sqs(&store, batch).await;
        assert!(response.batch_item_failures.is_empty());
    }
    store
        .register(
            &AppId::parse("app-2").unwrap(),
            &AccountId::parse(OTHER_ACCOUNT).unwrap(),
        )
        .await
        .unwrap();
    store
}

const WINDOW: [(&str, &str); 2] = [
    ("StartTime", "2026-11-20T00:00:00Z"),
    ("EndTime", "2026-11-21T00:00:00Z"),
];

/// One request of every action, as `(name, value)` pairs with `Action` first.
fn every_action() -> Vec<Vec<(&'static str, &'static str)>> {
    let mut requests = vec![
        vec![
            ("Action", "DescribeLiveRtcRecordUsageData"),
            ("AppId", "app-1"),
            ("RecordMode", "0"),
            ("Interval", "3600"),
        ],
        vec![("Action", "DescribeApps")],
        vec![
            ("Action", "DescribeUsageData"),
            ("AppId", "app-1"),
            ("ServiceType", "AudioVideo"),
        ],
        vec![
            ("Action", "DescribeUsageDetails"),
            ("AppId", "app-1"),
            ("ServiceType", "AudioVideo"),
            ("PageSize", "1"),
            ("PageNumber", "2"),
        ],
        vec![
            ("Action", "ExportUsageDetails"),
            ("AppId", "app-1"),
            ("ServiceType", "Recording"),
        ],
        vec![("Action", "DescribeUsagePackages"), ("AppId", "app-1")],
    ];
    for request in &mut requests[..] {
        if !matches!(request[0].1, "DescribeApps" | "DescribeUsagePackages") {
            request.extend(WINDOW);
        }
    }
    requests
}

/// How the parameters travel.
#[derive(Clone, Copy, Debug)]
enum Shape {
    /// All in the query string of a `POST` without a body.
    PostQuery,
    /// All in a form body.
    PostForm,
    /// All in a form body, sent base64-encoded by API Gateway.
    PostFormBase64,
    /// Alternately in the query string and the body.
    PostSplit,
    /// `Action` left out; the action in `x-acs-action`.
    GetHeader,
    /// `Action` left out of a form body; the action in `x-acs-action`.
    PostFormHeader,
}

const SHAPES: [Shape; 6] = [
    Shape::PostQuery,
    Shape::PostForm,
    Shape::PostFormBase64,
    Shape::PostSplit,
    Shape::GetHeader,
    Shape::PostFormHeader,
];

fn set_header(api: Api, event: &mut Value, name: &str, value: &str) {
    event["headers"][name] = json!(value);
    if api == Api::Rest {
        event["multiValueHeaders"][name] = json!([value]);
    }
}

fn set_method(api: Api, event: &mut Value, method: &str) {
    match api {
        Api::Rest => {
            event["httpMethod"] = json!(method);
            event["requestContext"]["httpMethod"] = json!(method);
        }
        Api::Http => event["requestContext"]["http"]["method"] = json!(method),
    }
}

/// The payload of `pairs` sent in `shape`, by OWNER.
fn shaped(api: Api, shape: Shape, pairs: &[(&str, &str)]) -> Value {
    let (query, body, header): (Vec<_>, Vec<_>, Option<&str>) = match shape {
        Shape::PostQuery => (pairs.to_vec(), vec![], None),
        Shape::PostForm | Shape::PostFormBase64 => (vec![], pairs.to_vec(), None),
        Shape::PostSplit => {
            let (q, b): (Vec<_>, Vec<_>) = pairs.iter().enumerate().partition(|(i, _)| i % 2 == 0);
            (
                q.into_iter().map(|(_, p)| *p).collect(),
                b.into_iter().map(|(_, p)| *p).collect(),
                None,
            )
        }
        Shape::GetHeader | Shape::PostFormHeader => {
            let action = pairs.iter().find(|(k, _)| *k == "Action").map(|(_, v)| *v);
            let rest: Vec<_> = pairs
                .iter()
                .filter(|(k, _)| *k != "Action")
                .copied()
                .collect();
            match shape {
                Shape::GetHeader => (rest, vec![], action),
                _ => (vec![], rest, action),
            }
        }
    };
    let mut event = api_event(api, &query, Some(OWNER));
    if !matches!(shape, Shape::GetHeader) {
        set_method(api, &mut event, "POST");
    }
    if !body.is_empty() || matches!(shape, Shape::PostFormHeader) {
        let text = query_string(&body);
        set_header(
            api,
            &mut event,
            "Content-Type",
            "application/x-www-form-urlencoded; charset=UTF-8",
        );
        if matches!(shape, Shape::PostFormBase64) {
            use base64::Engine as _;
            event["body"] = json!(base64::engine::general_purpose::STANDARD.encode(text));
            event["isBase64Encoded"] = json!(true);
        } else {
            event["body"] = json!(text);
        }
    }
    if let Some(action) = header {
        set_header(api, &mut event, "x-acs-action", action);
    }
    event
}

async fn send(store: &DynamoStore, event: &Value) -> (u16, String) {
    let posted = handle_event(store, None, event, now()).await;
    assert!(!posted.is_base64_encoded);
    (posted.status, posted.text().to_owned())
}

/// The answer without its RequestId, which differs per request.
fn comparable(text: &str) -> String {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(mut map)) => {
            map.remove("RequestId");
            Value::Object(map).to_string()
        }
        _ => text.to_owned(),
    }
}

#[tokio::test]
async fn every_action_answers_every_shape_as_the_plain_get() {
    let store = world().await;
    for api in [Api::Rest, Api::Http] {
        for pairs in every_action() {
            let (status, plain) = send(&store, &api_event(api, &pairs, Some(OWNER))).await;
            assert_eq!(status, 200, "{api:?} {pairs:?}: {plain}");
            for shape in SHAPES {
                let (status, text) = send(&store, &shaped(api, shape, &pairs)).await;
                assert_eq!(
                    (status, comparable(&text)),
                    (200, comparable(&plain)),
                    "{api:?} {shape:?} {pairs:?}"
                );
            }
        }
    }
}

/// A name in both the query string and the body counts as given twice and
/// fails its own rule, as a repeat in the query string does.
#[tokio::test]
async fn a_name_in_both_query_and_body_is_a_repeat() {
    let store = world().await;
    let base = [
        ("Action", "DescribeLiveRtcRecordUsageData"),
        ("AppId", "app-1"),
        ("RecordMode", "0"),
        WINDOW[0],
        WINDOW[1],
    ];
    let repeats = [
        ("Action", 404, "InvalidAction.NotFound"),
        ("AppId", 400, "InvalidAppIdParameter"),
        ("RecordMode", 400, "InvalidRecordModeParameter"),
        ("StartTime", 400, "InvalidStartTime.Malformed"),
    ];
    for api in [Api::Rest, Api::Http] {
        for (name, status, code) in repeats {
            let value = base.iter().find(|(k, _)| *k == name).unwrap().1;
            let mut event = shaped(api, Shape::PostForm, &base);
            let mut query = event["queryStringParameters"]
                .as_object()
                .cloned()
                .unwrap_or_default();
            query.insert(name.to_owned(), json!(value));
            event["queryStringParameters"] = Value::Object(query);
            match api {
                Api::Rest => event["multiValueQueryStringParameters"] = json!({ name: [value] }),
                Api::Http => {
                    event["rawQueryString"] = json!(format!("{}={}", name, percent_encode(value)))
                }
            }
            let (got, text) = send(&store, &event).await;
            let body: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(
                (got, body["Code"].as_str()),
                (status, Some(code)),
                "{api:?} {name}: {text}"
            );
        }
    }
}

#[tokio::test]
async fn an_action_header_that_differs_from_action_names_no_action() {
    let store = world().await;
    let pairs = [("Action", "DescribeApps")];
    for api in [Api::Rest, Api::Http] {
        let mut event = api_event(api, &pairs, Some(OWNER));
        set_header(api, &mut event, "x-acs-action", "DescribeUsagePackages");
        let (status, text) = send(&store, &event).await;
        assert_eq!(status, 404, "{text}");
        assert!(text.contains("InvalidAction.NotFound"), "{text}");
        // The same action in both is one action.
        set_header(api, &mut event, "x-acs-action", "DescribeApps");
        let (status, text) = send(&store, &event).await;
        assert_eq!(status, 200, "{text}");
    }
}

/// Only a form `POST` carries parameters: a form body on `GET`, or a body of
/// another type, is not read.
#[tokio::test]
async fn bodies_that_are_not_form_posts_are_not_parameters() {
    let store = world().await;
    let pairs = [("Action", "DescribeApps")];
    for api in [Api::Rest, Api::Http] {
        let mut get = shaped(api, Shape::PostForm, &pairs);
        set_method(api, &mut get, "GET");
        let mut json_body = shaped(api, Shape::PostForm, &pairs);
        set_header(api, &mut json_body, "Content-Type", "application/json");
        json_body["body"] = json!(r#"{"Action":"DescribeApps"}"#);
        let mut text_plain = shaped(api, Shape::PostForm, &pairs);
        set_header(api, &mut text_plain, "Content-Type", "text/plain");
        for event in [get, json_body, text_plain] {
            let (status, text) = send(&store, &event).await;
            assert_eq!(status, 400, "{api:?}: {text}");
            assert!(text.contains("MissingParameter"), "{text}");
        }
    }
}

/// Unicode and reserved characters survive the form encoding; a body that is
/// not valid UTF-8 or not valid percent-encoding never panics and answers
/// with a contract error.
#[tokio::test]
async fn nasty_form_bodies_answer_contract_errors() {
    let store = world().await;
    let bodies = [
        "Action=DescribeUsagePackages&AppId=%E4%B8%AD%E6%96%87",
        "Action=DescribeUsagePackages&AppId=app-1%00",
        "Action=DescribeUsagePackages&AppId=%ZZ",
        "Action=DescribeUsagePackages&AppId=app%2D2",
        "Action=DescribeUsagePackages&AppId=app-2",
        "Action=DescribeUsagePackages&&&=&AppId=app-9",
        "Action=DescribeUsagePackages&AppId=%FF%FE",
    ];
    for api in [Api::Rest, Api::Http] {
        for body in bodies {
            let mut event = shaped(api, Shape::PostForm, &[("Action", "DescribeApps")]);
            event["body"] = json!(body);
            let (status, text) = send(&store, &event).await;
            let answer: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(
                (status, answer["Code"].as_str()),
                (400, Some("InvalidAppIdParameter")),
                "{api:?} {body}: {text}"
            );
        }
    }
}
