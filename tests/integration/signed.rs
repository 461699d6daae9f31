//! The Alibaba-signed API (contract section 9) through `http::serve`, with
//! the payload 2.0 events API Gateway's HTTP API delivers
//! (`events/apigw-http-alibaba-signed.json`), against DynamoDB Local. The
//! requests are signed by `testkit::alibaba_signer`, written from Alibaba's
//! documentation apart from the verifier (RPC HMAC-SHA1 1.0 and
//! ACS3-HMAC-SHA256); the official Python SDK is the other proof
//! (`tests/sdk/`).

use crate::support::*;
use base64::Engine as _;
use rtc_usage::domain::access_key::AccessKeyId;
use rtc_usage::domain::ids::AccountId;
use rtc_usage::domain::time::UtcMillis;
use rtc_usage::secrets::memory::MemorySealer;
use rtc_usage::secrets::{SecretCache, SecretSealer};
use rtc_usage::store::access_keys::{AccessKeyRecord, AccessKeyStore};
use rtc_usage::store::dynamo::DynamoStore;
use rtc_usage::testkit::alibaba_signer::{acs3_authorization, hex, query_string, rpc_signature};
use serde_json::{Value, json};
use sha2::Digest;

const FIXTURE: &str = "apigw-http-alibaba-signed.json";
/// The fake AccessKey the sample event is signed with (for that file only).
const FIXTURE_KEY: &str = "RTCU7Q2M9X4K1B8N3V6C5Z0L";
const FIXTURE_SECRET: &str = "FixtureSecretOnly4Events0abcde";
const OWNER_KEY: &str = "RTCU0WNER0000000000000A1";
const OTHER_KEY: &str = "RTCU0THER0000000000000B2";
const REVOKED_KEY: &str = "RTCUREV0KED00000000000C3";
const SECRET: &str = "s3cret-of-the-owner-0123456789";
const OTHER_SECRET: &str = "s3cret-of-another-account-0000";

struct World {
    store: DynamoStore,
    secrets: SecretCache<MemorySealer>,
}

/// app-1 (OWNER) with the SQS fixture's usage; AccessKeys for OWNER (one of
/// them revoked, one the sample event's) and for OTHER_ACCOUNT.
async fn world() -> World {
    let store = fresh_store().await;
    let batch: aws_lambda_events::event::sqs::SqsEvent =
        serde_json::from_value(fixture("sqs-usage-batch.json")).expect("SQS fixture");
    let (response, _) = handle_sqs(&store, batch).await;
    assert!(response.batch_item_failures.is_empty());
    let sealer = MemorySealer::new();
    for (id, account, secret) in [
        (OWNER_KEY, OWNER, SECRET),
        (FIXTURE_KEY, OWNER, FIXTURE_SECRET),
        (REVOKED_KEY, OWNER, SECRET),
        (OTHER_KEY, OTHER_ACCOUNT, OTHER_SECRET),
    ] {
        let id = AccessKeyId::parse(id).unwrap();
        let sealed_secret = sealer.seal(&id, secret.as_bytes()).await.unwrap();
        store
            .put_access_key(&AccessKeyRecord {
                id,
                account: AccountId::parse(account).unwrap(),
                sealed_secret,
                created_at: now(),
            })
            .await
            .unwrap();
    }
    let revoked = AccessKeyId::parse(REVOKED_KEY).unwrap();
    assert!(store.revoke_access_key(&revoked, now()).await.unwrap());
    World {
        store,
        secrets: SecretCache::new(sealer),
    }
}

// ----------------------------------------------------------- signed events --

fn timestamp(at: UtcMillis) -> String {
    chrono::DateTime::from_timestamp_millis(at.0)
        .unwrap()
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// How a test request is signed and sent.
#[derive(Clone, Debug)]
struct Signing {
    key: &'static str,
    secret: &'static str,
    at: UtcMillis,
    nonce: String,
}

impl Signing {
    fn owner(at: UtcMillis, nonce: &str) -> Self {
        Signing {
            key: OWNER_KEY,
            secret: SECRET,
            at,
            nonce: nonce.to_owned(),
        }
    }

    /// The owner's key signed with a secret that is not its own.
    fn forged(at: UtcMillis, nonce: &str) -> Self {
        Signing {
            secret: OTHER_SECRET,
            ..Signing::owner(at, nonce)
        }
    }

    /// OTHER_ACCOUNT's key.
    fn other(at: UtcMillis, nonce: &str) -> Self {
        Signing {
            key: OTHER_KEY,
            secret: OTHER_SECRET,
            ..Signing::owner(at, nonce)
        }
    }
}

/// The payload of an RPC-signed request: the action's parameters and the
/// signature's in the query string (`GET`) or a form body (`POST`).
fn rpc_event(method: &str, action: &[(&str, &str)], signing: &Signing) -> Value {
    let mut params: Vec<(String, String)> = action
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    for (k, v) in [
        ("AccessKeyId", signing.key.to_owned()),
        ("Format", "JSON".to_owned()),
        ("Version", "2016-11-01".to_owned()),
        ("SignatureMethod", "HMAC-SHA1".to_owned()),
        ("SignatureVersion", "1.0".to_owned()),
        ("SignatureNonce", signing.nonce.clone()),
        ("Timestamp", timestamp(signing.at)),
    ] {
        params.push((k.to_owned(), v));
    }
    let signature = rpc_signature(method, &params, signing.secret);
    params.push(("Signature".to_owned(), signature));
    let mut event = base_event(method);
    if method == "GET" {
        event["rawQueryString"] = json!(query_string(&params));
    } else {
        set_body(
            &mut event,
            "application/x-www-form-urlencoded",
            &query_string(&params),
        );
    }
    event
}

/// The payload of an ACS3-signed request: parameters in the query string,
/// the action in `x-acs-action`, signed headers `host` and `x-acs-*`.
fn acs3_event(method: &str, action: &[(&str, &str)], signing: &Signing) -> Value {
    let name = action.iter().find(|(k, _)| *k == "Action").unwrap().1;
    let mut params: Vec<(String, String)> = action
        .iter()
        .filter(|(k, _)| *k != "Action")
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    params.sort();
    let query = query_string(&params);
    let body_hash = hex(&sha2::Sha256::digest(b""));
    let host = "k1l2m3n4o5.execute-api.us-east-1.amazonaws.com";
    let date = timestamp(signing.at);
    let signed = [
        ("host", host),
        ("x-acs-action", name),
        ("x-acs-content-sha256", body_hash.as_str()),
        ("x-acs-date", date.as_str()),
        ("x-acs-signature-nonce", signing.nonce.as_str()),
        ("x-acs-version", "2016-11-01"),
    ];
    let authorization =
        acs3_authorization(method, &query, &signed, b"", signing.key, signing.secret);
    let mut event = base_event(method);
    event["rawQueryString"] = json!(query);
    for (k, v) in signed {
        event["headers"][k] = json!(v);
    }
    event["headers"]["authorization"] = json!(authorization);
    event
}

/// The sample event with its request replaced: no parameters, no signature.
fn base_event(method: &str) -> Value {
    let mut event = fixture(FIXTURE);
    event["rawQueryString"] = json!("");
    event
        .as_object_mut()
        .unwrap()
        .remove("queryStringParameters");
    event["requestContext"]["http"]["method"] = json!(method);
    event["routeKey"] = json!(format!("{method} /"));
    event["requestContext"]["routeKey"] = json!(format!("{method} /"));
    event["headers"]
        .as_object_mut()
        .unwrap()
        .retain(|k, _| !k.starts_with("x-acs-"));
    event
}

/// As an HTTP API hands a body over: base64-encoded.
fn set_body(event: &mut Value, content_type: &str, body: &str) {
    event["headers"]["content-type"] = json!(content_type);
    event["body"] = json!(base64::engine::general_purpose::STANDARD.encode(body));
    event["isBase64Encoded"] = json!(true);
}

/// Sends through `http::serve` with a development caller set: on the signed
/// API it must never stand in.
async fn send(world: &World, event: &Value, at: UtcMillis) -> Answer {
    let dev = AccountId::parse(OWNER).unwrap();
    answer(serve_event(&world.store, &world.secrets, Some(&dev), event, at).await)
}

fn assert_refused(a: &Answer, status: u16, code: &str) {
    assert_eq!(
        (a.status, a.body["Code"].as_str()),
        (status, Some(code)),
        "{}",
        a.text
    );
}

/// The IAM API's answer to the same parameters, without its RequestId.
async fn iam_answer(world: &World, pairs: &[(&str, &str)]) -> Value {
    let a = api_answer(&world.store, Api::Http, pairs, Some(OWNER)).await;
    assert_eq!(a.status, 200, "{}", a.text);
    without_request_id(&a)
}

fn without_request_id(a: &Answer) -> Value {
    let mut body = a.body.clone();
    body.as_object_mut().unwrap().remove("RequestId");
    body
}

const QUERY: [(&str, &str); 6] = [
    ("Action", "DescribeLiveRtcRecordUsageData"),
    ("AppId", "app-1"),
    ("StartTime", "2026-11-20T00:00:00Z"),
    ("EndTime", "2026-11-21T00:00:00Z"),
    ("RecordMode", "0"),
    ("Interval", "3600"),
];

#[tokio::test]
async fn the_sample_event_verifies_with_its_documented_key() {
    let world = world().await;
    let event = fixture(FIXTURE);
    assert_eq!(
        event["stageVariables"]["callerAuthentication"],
        "AlibabaSignature"
    );
    let signed_at = at("2026-11-23T10:00:00Z");
    let a = send(&world, &event, signed_at).await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.body["TotalSummaryDuration"], 150, "{}", a.text);
    // Replayed: its nonce is used up.
    assert_refused(
        &send(&world, &event, signed_at).await,
        400,
        "SignatureNonceUsed",
    );
}

#[tokio::test]
async fn both_signatures_and_both_methods_answer_as_the_iam_api() {
    let world = world().await;
    let expected = iam_answer(&world, &QUERY).await;
    let t = now();
    let events = [
        (
            "RPC GET",
            rpc_event("GET", &QUERY, &Signing::owner(t, "n-1")),
        ),
        (
            "RPC POST form",
            rpc_event("POST", &QUERY, &Signing::owner(t, "n-2")),
        ),
        (
            "ACS3 GET",
            acs3_event("GET", &QUERY, &Signing::owner(t, "n-3")),
        ),
        (
            "ACS3 POST",
            acs3_event("POST", &QUERY, &Signing::owner(t, "n-4")),
        ),
    ];
    for (name, event) in events {
        let a = send(&world, &event, t).await;
        assert_eq!(a.status, 200, "{name}: {}", a.text);
        assert_eq!(without_request_id(&a), expected, "{name}");
    }
}

/// Each refusal, and that the earlier check answers when two would fail.
#[tokio::test]
async fn refusals_answer_in_the_contracts_order() {
    let world = world().await;
    let t = now();
    let minutes = |m: i64| t.plus_ms(m * 60_000);
    let mut n = 0;
    let mut nonce = || {
        n += 1;
        format!("nonce-{n}")
    };
    let signing = |key, secret, at, nonce: String| Signing {
        key,
        secret,
        at,
        nonce,
    };

    // No signature at all: 403 Forbidden.RAM, the development caller unused.
    let unsigned = {
        let mut event = base_event("GET");
        event["rawQueryString"] = json!(query_string(&QUERY));
        event
    };
    let a = send(&world, &unsigned, t).await;
    assert_refused(&a, 403, "Forbidden.RAM");
    // What to do about it on this API: sign with an AccessKey, not with AWS.
    let recommend = a.body["Recommend"].as_str().unwrap();
    assert!(
        recommend.contains("AccessKey") && !recommend.contains("AWS"),
        "{recommend}"
    );

    let cases: Vec<(&str, Signing, u16, &str)> = vec![
        (
            "unknown key",
            signing("RTCU00000000000000000000", SECRET, t, nonce()),
            403,
            "InvalidAccessKeyId.NotFound",
        ),
        (
            "not a key id",
            signing("LTAI5tQ8fVx2", SECRET, t, nonce()),
            403,
            "InvalidAccessKeyId.NotFound",
        ),
        (
            "revoked key",
            signing(REVOKED_KEY, SECRET, t, nonce()),
            403,
            "InvalidAccessKeyId.NotFound",
        ),
        (
            "unknown key, old timestamp",
            signing("RTCU00000000000000000000", SECRET, minutes(-60), nonce()),
            403,
            "InvalidAccessKeyId.NotFound",
        ),
        (
            "wrong secret",
            signing(OWNER_KEY, OTHER_SECRET, t, nonce()),
            403,
            "SignatureDoesNotMatch",
        ),
        (
            "wrong secret, old timestamp",
            signing(OWNER_KEY, OTHER_SECRET, minutes(-60), nonce()),
            403,
            "SignatureDoesNotMatch",
        ),
        (
            "16 minutes old",
            signing(OWNER_KEY, SECRET, minutes(-16), nonce()),
            400,
            "InvalidTimeStamp.Expired",
        ),
        (
            "16 minutes ahead",
            signing(OWNER_KEY, SECRET, minutes(16), nonce()),
            400,
            "InvalidTimeStamp.Expired",
        ),
    ];
    for (name, signing, status, code) in cases {
        for event in [
            rpc_event("GET", &QUERY, &signing),
            acs3_event("POST", &QUERY, &signing),
        ] {
            let a = send(&world, &event, t).await;
            assert_eq!(
                (a.status, a.body["Code"].as_str()),
                (status, Some(code)),
                "{name}: {}",
                a.text
            );
        }
    }
    for offset in [-14, 14] {
        let a = send(
            &world,
            &rpc_event("GET", &QUERY, &Signing::owner(minutes(offset), &nonce())),
            t,
        )
        .await;
        assert_eq!(a.status, 200, "{offset} minutes: {}", a.text);
    }
}

/// A nonce is used up only by a request whose signature matched, and then
/// refused within the window even under a new timestamp.
#[tokio::test]
async fn a_nonce_is_used_once_and_only_by_a_verified_request() {
    let world = world().await;
    let t = now();
    let forged = Signing::forged(t, "shared-nonce");
    assert_refused(
        &send(&world, &rpc_event("GET", &QUERY, &forged), t).await,
        403,
        "SignatureDoesNotMatch",
    );
    let first = send(
        &world,
        &rpc_event("GET", &QUERY, &Signing::owner(t, "shared-nonce")),
        t,
    )
    .await;
    assert_eq!(first.status, 200, "{}", first.text);
    for (method, later) in [("GET", 1), ("POST", 5), ("GET", 14)] {
        let at = t.plus_ms(later * 60_000);
        let again = rpc_event(method, &QUERY, &Signing::owner(at, "shared-nonce"));
        assert_refused(&send(&world, &again, at).await, 400, "SignatureNonceUsed");
    }
    // The same nonce through the other signature is the same nonce of the key.
    let acs3 = acs3_event("GET", &QUERY, &Signing::owner(t, "shared-nonce"));
    assert_refused(&send(&world, &acs3, t).await, 400, "SignatureNonceUsed");
    // Another key's same nonce is its own.
    let other = Signing::other(t, "shared-nonce");
    let a = send(
        &world,
        &rpc_event("GET", &[("Action", "DescribeApps")], &other),
        t,
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.text);
    // A replayed request past the window is refused by its timestamp first.
    let late = t.plus_ms(16 * 60_000);
    let replay = rpc_event("GET", &QUERY, &Signing::owner(t, "shared-nonce"));
    assert_refused(
        &send(&world, &replay, late).await,
        400,
        "InvalidTimeStamp.Expired",
    );
}

/// Ten requests per second per AccessKey; forged requests do not count; the
/// next second starts over; another key has its own ten.
#[tokio::test]
async fn the_eleventh_request_within_a_second_is_throttled() {
    let world = world().await;
    let second = UtcMillis(now().0 - now().0.rem_euclid(1000));
    let apps = [("Action", "DescribeApps")];
    for i in 0..5 {
        let forged = Signing::forged(second, &format!("forged-{i}"));
        let a = send(&world, &rpc_event("GET", &apps, &forged), second.plus_ms(i)).await;
        assert_refused(&a, 403, "SignatureDoesNotMatch");
    }
    for i in 0..10 {
        let at = second.plus_ms(100 + i * 50);
        let a = send(
            &world,
            &rpc_event("GET", &apps, &Signing::owner(at, &format!("ok-{i}"))),
            at,
        )
        .await;
        assert_eq!(a.status, 200, "request {}: {}", i + 1, a.text);
    }
    let at = second.plus_ms(999);
    let eleventh = send(
        &world,
        &rpc_event("GET", &apps, &Signing::owner(at, "eleventh")),
        at,
    )
    .await;
    assert_refused(&eleventh, 429, "Throttling.User");
    let other = Signing::other(at, "other-key");
    assert_eq!(
        send(&world, &rpc_event("GET", &apps, &other), at)
            .await
            .status,
        200
    );
    let next = second.plus_ms(1000);
    let a = send(
        &world,
        &rpc_event("GET", &apps, &Signing::owner(next, "next-second")),
        next,
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.text);
}

/// Through this API too, another account's app answers exactly like an app
/// that does not exist.
#[tokio::test]
async fn another_accounts_app_answers_like_an_unknown_app() {
    let world = world().await;
    let t = now();
    let other = Signing::other(t, "theirs");
    let theirs = send(&world, &rpc_event("GET", &QUERY, &other), t).await;
    let mut unknown_query = QUERY;
    unknown_query[1] = ("AppId", "no-such-app");
    let unknown = send(
        &world,
        &acs3_event("GET", &unknown_query, &Signing::owner(t, "mine")),
        t,
    )
    .await;
    assert_refused(&theirs, 400, "InvalidAppIdParameter");
    assert_eq!(
        (
            &theirs.body["Code"],
            &theirs.body["Message"],
            &theirs.body["Recommend"]
        ),
        (
            &unknown.body["Code"],
            &unknown.body["Message"],
            &unknown.body["Recommend"]
        )
    );
}

/// RPC signs parameters, not headers: its action must be a signed `Action`;
/// an unsigned `x-acs-action` may refuse a request but never choose its
/// action. ACS3 signs the header, so it may name the action.
#[tokio::test]
async fn an_unsigned_header_never_chooses_the_action() {
    let world = world().await;
    let t = now();
    let no_action: Vec<(&str, &str)> = vec![("AppId", "app-1")];
    let mut event = rpc_event("GET", &no_action, &Signing::owner(t, "h-1"));
    event["headers"]["x-acs-action"] = json!("DescribeUsagePackages");
    let a = send(&world, &event, t).await;
    assert_refused(&a, 400, "MissingParameter");
    let mut differs = rpc_event(
        "GET",
        &[("Action", "DescribeApps")],
        &Signing::owner(t, "h-2"),
    );
    differs["headers"]["x-acs-action"] = json!("DescribeUsagePackages");
    assert_refused(
        &send(&world, &differs, t).await,
        404,
        "InvalidAction.NotFound",
    );
    let packages = [("Action", "DescribeUsagePackages"), ("AppId", "app-1")];
    let a = send(
        &world,
        &acs3_event("GET", &packages, &Signing::owner(t, "h-3")),
        t,
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.text);
}

/// A signature is no identity on the IAM API: without the stage variable
/// the same signed request has no caller.
#[tokio::test]
async fn a_signature_is_no_caller_on_the_iam_api() {
    let world = world().await;
    let t = now();
    let mut event = rpc_event("GET", &QUERY, &Signing::owner(t, "iam"));
    event.as_object_mut().unwrap().remove("stageVariables");
    let a = answer(serve_event(&world.store, &world.secrets, None, &event, t).await);
    assert_refused(&a, 403, "Forbidden.RAM");
}

/// A warm function opens each key's secret once.
#[tokio::test]
async fn a_warm_function_opens_each_secret_once() {
    let world = world().await;
    let t = now();
    for i in 0..5 {
        let a = send(
            &world,
            &rpc_event(
                "GET",
                &[("Action", "DescribeApps")],
                &Signing::owner(t, &format!("w-{i}")),
            ),
            t,
        )
        .await;
        assert_eq!(a.status, 200, "{}", a.text);
    }
    assert_eq!(world.secrets.sealer().opens(), 1);
}
