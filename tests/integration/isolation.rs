//! Tenant isolation: for every way a caller can name an app, another account's
//! app is never answered with data — the answer is always the one an unknown
//! app gets. One test per trick.

use crate::support::*;
use rtc_usage::domain::ids::{AccountId, AppId};
use rtc_usage::service::ingest::{InboundMessage, ingest_batch};
use rtc_usage::store::UsageStore;
use rtc_usage::store::dynamo::DynamoStore;
use serde_json::json;

const VICTIM_APP: &str = "victim-app";

/// The victim (OTHER_ACCOUNT) owns `victim-app`, with usage; the attacker
/// (OWNER) owns `attacker-app`.
async fn world() -> DynamoStore {
    let store = fresh_store().await;
    store
        .register(
            &AppId::parse(VICTIM_APP).unwrap(),
            &AccountId::parse(OTHER_ACCOUNT).unwrap(),
        )
        .await
        .unwrap();
    store
        .register(
            &AppId::parse("attacker-app").unwrap(),
            &AccountId::parse(OWNER).unwrap(),
        )
        .await
        .unwrap();
    let body = json!({"specversion": "1.0", "id": "v1", "source": "/t", "type": "rtc.recording.segment",
        "data": {"appId": VICTIM_APP, "recordMode": "0", "media": "audio",
                 "startTime": "2026-11-20T10:00:00Z", "endTime": "2026-11-20T10:10:00Z"}});
    let report = ingest_batch(
        &store,
        &[InboundMessage {
            message_id: "m".into(),
            body: Some(body.to_string()),
        }],
        now(),
        Default::default(),
    )
    .await;
    assert_eq!(report.counted, 1);
    store
}

/// Asks with the raw (already URL-decoded) `AppId` values given, through both
/// payload kinds, and checks the answer is byte for byte the unknown-app answer.
async fn assert_refused_like_unknown(app_values: &[&str]) {
    let store = world().await;
    for api in [Api::Rest, Api::Http] {
        let mut pairs = query_pairs(&[]);
        pairs.retain(|(k, _)| *k != "AppId");
        let mut tricked = pairs.clone();
        for value in app_values {
            tricked.push(("AppId", value));
        }
        let mut unknown = pairs.clone();
        unknown.push(("AppId", "no-such-app"));
        let a = api_answer(&store, api, &tricked, Some(OWNER)).await;
        let b = api_answer(&store, api, &unknown, Some(OWNER)).await;
        assert_eq!(a.status, 400, "{app_values:?} via {api:?}: {}", a.text);
        assert_eq!(a.body["Code"], "InvalidAppIdParameter");
        assert_eq!(a.text, b.text, "{app_values:?} via {api:?}");
        assert!(!a.text.contains("Duration"), "no usage data");
    }
    // The victim itself is answered: the refusal above is about the caller.
    let victim = api_answer(
        &store,
        Api::Rest,
        &query_pairs(&[("AppId", VICTIM_APP)]),
        Some(OTHER_ACCOUNT),
    )
    .await;
    assert_eq!(victim.body["TotalSummaryDuration"], json!(600));
}

macro_rules! trick {
    ($name:ident, $values:expr) => {
        #[tokio::test]
        async fn $name() {
            assert_refused_like_unknown(&$values).await;
        }
    };
}

trick!(the_exact_name, [VICTIM_APP]);
trick!(upper_case, ["VICTIM-APP"]);
trick!(mixed_case, ["Victim-App"]);
trick!(leading_space, [" victim-app"]);
trick!(trailing_space, ["victim-app "]);
trick!(trailing_tab, ["victim-app\t"]);
trick!(trailing_newline, ["victim-app\n"]);
trick!(trailing_nul, ["victim-app\0"]);
trick!(cyrillic_look_alike, ["vіctim-app"]);
trick!(fullwidth_look_alike, ["ｖｉｃｔｉｍ-app"]);
trick!(zero_width_space, ["victim\u{200b}-app"]);
trick!(combining_mark, ["victim-app\u{0301}"]);
trick!(still_percent_encoded, ["%76ictim-app"]);
trick!(double_percent_encoded, ["%2576ictim-app"]);
trick!(plus_for_space, ["victim+app"]);
trick!(second_app_id_after_own, ["attacker-app", VICTIM_APP]);
trick!(second_app_id_before_own, [VICTIM_APP, "attacker-app"]);
trick!(same_app_id_twice, [VICTIM_APP, VICTIM_APP]);
trick!(comma_joined, ["attacker-app,victim-app"]);
trick!(path_traversal, ["../victim-app"]);
trick!(key_injection, ["victim-app#REGISTRATION"]);
trick!(sort_key_prefix, ["victim-app\u{0}REC#H#"]);

/// URL-encoding on the wire: API Gateway decodes before the function sees it,
/// so `%76ictim-app` on the wire *is* `victim-app` — refused like the name itself.
#[tokio::test]
async fn url_encoding_on_the_wire_is_decoded_before_the_check() {
    let store = world().await;
    let mut event = fixture("apigw-http-query.json");
    event["rawQueryString"] = json!(
        "Action=DescribeLiveRtcRecordUsageData&AppId=%76ictim%2Dapp&StartTime=2026-11-20T00%3A00%3A00Z&EndTime=2026-11-21T00%3A00%3A00Z&RecordMode=0"
    );
    event["requestContext"]["authorizer"]["iam"]["accountId"] = json!(OWNER);
    let a = answer(handle_event(&store, None, &event, now()).await);
    assert_eq!(a.body["Code"], "InvalidAppIdParameter", "{}", a.text);
    event["requestContext"]["authorizer"]["iam"]["accountId"] = json!(OTHER_ACCOUNT);
    let a = answer(handle_event(&store, None, &event, now()).await);
    assert_eq!(a.status, 200, "the owner, same encoding: {}", a.text);
}

/// The caller comes from the authorizer, never from parameters or headers.
#[tokio::test]
async fn caller_cannot_be_claimed_in_parameters_or_headers() {
    let store = world().await;
    let mut event = fixture("apigw-rest-query.json");
    event["queryStringParameters"]["AppId"] = json!(VICTIM_APP);
    event["multiValueQueryStringParameters"]["AppId"] = json!([VICTIM_APP]);
    event["queryStringParameters"]["AccountId"] = json!(OTHER_ACCOUNT);
    event["multiValueQueryStringParameters"]["AccountId"] = json!([OTHER_ACCOUNT]);
    event["headers"]["X-Amz-Account-Id"] = json!(OTHER_ACCOUNT);
    event["multiValueHeaders"]["X-Amz-Account-Id"] = json!([OTHER_ACCOUNT]);
    event["requestContext"]["accountId"] = json!(OTHER_ACCOUNT); // the API owner's account, not the caller's
    event["requestContext"]["identity"]["accountId"] = json!(OWNER);
    let a = answer(handle_event(&store, None, &event, now()).await);
    assert_eq!(a.body["Code"], "InvalidAppIdParameter", "{}", a.text);
}
