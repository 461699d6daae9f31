//! Log hygiene: the functions' logs carry ids, counts, codes and reasons —
//! never a request or message body, credentials, or the caller's ARN.
//!
//! A test binary of its own: it installs a log subscriber, and tracing's
//! per-callsite caches make that unreliable while other tests log on other
//! threads of the same process.

#[allow(dead_code)]
#[path = "integration/support.rs"]
mod support;

use rtc_usage::domain::access_key::AccessKeyId;
use rtc_usage::entry::logging::json_subscriber;
use rtc_usage::entry::{metrics::Metrics, sqs};
use rtc_usage::secrets::memory::MemorySealer;
use rtc_usage::secrets::{SecretCache, SecretSealer};
use rtc_usage::store::access_keys::{AccessKeyRecord, AccessKeyStore};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use support::*;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// The sample signed event's AccessKey (`events/apigw-http-alibaba-signed.json`).
const SIGNED_KEY: &str = "RTCU7Q2M9X4K1B8N3V6C5Z0L";
const SIGNED_SECRET: &str = "FixtureSecretOnly4Events0abcde";

const SECRETS: [&str; 11] = [
    SIGNED_SECRET,
    "yB8HVxgcVC4bYNX69Zws7lF5tQQ",
    "6f1a3c9e-0d4b-4c55-9b1e-2f7d8a0c4e21",
    "0badc0ffee",
    "AKIAIOSFODNN7EXAMPLE",
    "arn:aws:iam::",
    "Signature=",
    "SESSION-TOKEN-SECRET",
    "BODY-MARKER",
    "AIDACKCEVSQ6C2EXAMPLE",
    "203.0.113.10",
];

#[tokio::test]
async fn logs_never_carry_bodies_credentials_or_caller_arns() {
    let captured = Captured::default();
    let _guard = tracing::subscriber::set_default(json_subscriber(captured.clone()));
    let store = fresh_store().await;

    // Ingest: valid and invalid events whose bodies carry a marker.
    let mut batch: aws_lambda_events::event::sqs::SqsEvent =
        serde_json::from_value(fixture("sqs-usage-batch.json")).unwrap();
    let template = batch.records[1].clone();
    let bodies = [
        json!({"specversion": "1.0", "id": "bad-1", "source": "/t", "type": "rtc.recording.segment",
               "data": {"appId": "app-1", "recordMode": "0", "media": "audio", "note": "BODY-MARKER",
                        "startTime": "2026-11-20T10:00:00Z", "endTime": "2026-11-20T09:00:00Z"}}).to_string(),
        json!({"specversion": "1.0", "id": "bad-2", "source": "/t", "type": "rtc.recording.segment",
               "data": {"appId": "BODY-MARKER app", "recordMode": "0", "media": "audio",
                        "startTime": "2026-11-20T10:00:00Z", "endTime": "2026-11-20T10:01:00Z"}}).to_string(),
        "{\"BODY-MARKER\": ".to_owned(),
        json!({"specversion": "1.0", "id": "ok-1", "source": "/t", "type": "rtc.recording.segment",
               "data": {"appId": "app-1", "recordMode": "0", "media": "audio", "comment": "BODY-MARKER",
                        "startTime": "2026-11-20T10:00:00Z", "endTime": "2026-11-20T10:01:00Z"}}).to_string(),
    ];
    for (i, body) in bodies.iter().enumerate() {
        let mut record = template.clone();
        record.message_id = Some(format!("hygiene-{i}"));
        record.body = Some(body.clone());
        batch.records.push(record);
    }
    let (response, _) = sqs::handle(
        &store,
        &rtc_usage::bus::memory::RecordingBus::new(),
        &Metrics::disabled(),
        batch,
        now(),
        &rtc_usage::service::ingest::IngestSettings::default(),
    )
    .await;
    assert_eq!(response.batch_item_failures.len(), 3);

    // Queries: answered, refused, and failed, each with credentials in the request.
    for (pairs, account) in [
        (query_pairs(&[]), Some(OWNER)),
        (query_pairs(&[("AppId", "BODY-MARKER")]), Some(OWNER)),
        (query_pairs(&[("StartTime", "BODY-MARKER")]), Some(OWNER)),
        (query_pairs(&[]), None),
    ] {
        let mut event = api_event(Api::Rest, &pairs, account);
        for (name, value) in [
            (
                "authorization",
                "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20261123/us-east-1/execute-api/aws4_request, SignedHeaders=host, Signature=deadbeef",
            ),
            ("x-amz-security-token", "SESSION-TOKEN-SECRET"),
        ] {
            event["headers"][name] = json!(value);
            event["multiValueHeaders"][name] = json!([value]);
        }
        handle_event(&store, None, &event, now()).await;
    }
    // Alibaba-signed requests: accepted, replayed, forged. Neither the
    // secret, nor a signature, nor a nonce may show.
    let fixture_key = AccessKeyId::parse(SIGNED_KEY).unwrap();
    let sealer = MemorySealer::new();
    store
        .put_access_key(&AccessKeyRecord {
            sealed_secret: sealer
                .seal(&fixture_key, SIGNED_SECRET.as_bytes())
                .await
                .unwrap(),
            id: fixture_key,
            account: rtc_usage::domain::ids::AccountId::parse(OWNER).unwrap(),
            created_at: now(),
        })
        .await
        .unwrap();
    let secrets = SecretCache::new(sealer);
    let signed = fixture("apigw-http-alibaba-signed.json");
    let mut forged = signed.clone();
    forged["headers"]["authorization"] = json!(
        "ACS3-HMAC-SHA256 Credential=RTCU7Q2M9X4K1B8N3V6C5Z0L,SignedHeaders=host,Signature=0badc0ffee"
    );
    for event in [&signed, &signed, &forged] {
        serve_event(&store, &secrets, None, event, at("2026-11-23T10:00:00Z")).await;
    }
    let broken = rtc_usage::store::dynamo::DynamoStore::new(client(), "missing-table");
    api_answer(&broken, Api::Http, &query_pairs(&[]), Some(OWNER)).await;

    let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert!(lines.len() >= 8, "{text}");
    for secret in SECRETS {
        assert!(!text.contains(secret), "logs leak {secret:?}:\n{text}");
    }
    // What operators need is there: each rejected event with its message id,
    // event id and reason; each query with its request id.
    let rejected: Vec<&Value> = lines
        .iter()
        .filter(|l| l["message"] == "usage event rejected")
        .collect();
    assert_eq!(rejected.len(), 3, "{text}");
    for line in &rejected {
        assert!(line["message_id"].as_str().unwrap().starts_with("hygiene-"));
        assert!(line["reason"].as_str().is_some_and(|r| !r.is_empty()));
        assert_eq!(line["level"], "ERROR");
    }
    assert!(rejected.iter().any(|l| l["event_id"] == "bad-1"));
    assert!(
        lines.iter().any(
            |l| l["request_id"] == "c6af9ac6-7b61-11e6-9a41-93e8deadbeef" && l["status"] == 200
        )
    );
    assert!(lines.iter().any(|l| l["message"] == "store read failed"));
    let signed: Vec<&str> = lines
        .iter()
        .filter(|l| l["message"] == "signed request refused")
        .filter_map(|l| l["code"].as_str())
        .collect();
    assert_eq!(
        signed,
        ["SignatureNonceUsed", "SignatureDoesNotMatch"],
        "{text}"
    );
}
