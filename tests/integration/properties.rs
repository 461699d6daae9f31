//! Property tests: no input crashes the functions or escapes the contract.
//! Query parameters of any kind always get 200 or a contract error body;
//! event bodies of any kind are counted or reported, never a panic.

use crate::support::*;
use proptest::prelude::*;
use rtc_usage::domain::ids::{AccountId, AppId};
use rtc_usage::domain::query::{QueryParams, validate};
use rtc_usage::entry::http;
use rtc_usage::service::ingest::{FailureKind, InboundMessage, RetryPolicy, ingest_batch};
use rtc_usage::store::UsageStore;
use rtc_usage::store::memory::MemoryStore;
use serde_json::{Value, json};

const NAMES: [&str; 8] = [
    "Action",
    "StartTime",
    "EndTime",
    "AppId",
    "RecordMode",
    "Interval",
    "appid",
    "Format",
];
const CODES: [&str; 12] = [
    "Forbidden.RAM",
    "MissingParameter",
    "InvalidAction.NotFound",
    "InvalidStartTime.Malformed",
    "InvalidEndTime.Malformed",
    "InvalidEndTime.Mismatch",
    "InvalidTimeSpan",
    "InvalidStartTime.ValueNotSupported",
    "InvalidRecordModeParameter",
    "InvalidInterval.ValueNotSupported",
    "InvalidAppIdParameter",
    "InternalError",
];

fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("DescribeLiveRtcRecordUsageData".to_owned()),
        Just("app-1".to_owned()),
        Just("0".to_owned()),
        Just("86400".to_owned()),
        Just("".to_owned()),
        "20[0-9]{2}-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9]Z",
        "[0-9]{1,25}",
        any::<String>(),
        "\\PC{0,300}",
        Just("9".repeat(5_000)),
    ]
}

fn pairs() -> impl Strategy<Value = Vec<(String, String)>> {
    let name = prop_oneof![4 => proptest::sample::select(NAMES.to_vec()).prop_map(str::to_owned), 1 => any::<String>()];
    proptest::collection::vec((name, value()), 0..12)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    /// The validator alone: never panics; what it accepts is within the contract.
    #[test]
    fn validation_accepts_only_what_the_contract_allows(pairs in pairs()) {
        let now = now();
        if let Ok(q) = validate(&QueryParams::from_pairs(pairs), now) {
            prop_assert!(q.end > q.start);
            prop_assert!(q.end.0 - q.start.0 >= 300_000 && q.end.0 - q.start.0 <= 2_678_400_000);
            prop_assert!(q.start <= now && q.start.0 >= now.0 - 366 * 86_400_000);
        }
    }

    /// Through the HTTP entry point, both payload kinds: 200 or a contract error.
    #[test]
    fn every_request_gets_a_contract_answer(pairs in pairs(), rest in any::<bool>(), with_caller in any::<bool>()) {
        let store = MemoryStore::new();
        let rt = runtime();
        rt.block_on(store.register(&AppId::parse("app-1").unwrap(), &AccountId::parse(OWNER).unwrap())).unwrap();
        let refs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let api = if rest { Api::Rest } else { Api::Http };
        let request = api_request(api, &refs, with_caller.then_some(OWNER));
        let a = answer(rt.block_on(http::handle(&store, None, &request, now())));
        prop_assert_eq!(&a.content_type, "application/json");
        match a.status {
            200 => prop_assert!(a.body["Data"].is_array()),
            400 | 403 | 404 => {
                let code = a.body["Code"].as_str().unwrap_or_default();
                prop_assert!(CODES.contains(&code), "unknown code {}", code);
                for field in ["RequestId", "HostId", "Message", "Recommend"] {
                    prop_assert!(a.body[field].is_string());
                }
            }
            other => prop_assert!(false, "status {} for {:?}: {}", other, pairs, a.text),
        }
    }

    /// Arbitrary message bodies: each is counted or reported, nothing panics.
    #[test]
    fn arbitrary_bodies_are_counted_or_reported(bodies in proptest::collection::vec(body(), 1..10)) {
        let store = MemoryStore::new();
        let messages: Vec<InboundMessage> = bodies
            .iter()
            .enumerate()
            .map(|(i, b)| InboundMessage { message_id: format!("m{i}"), body: b.clone() })
            .collect();
        let report = runtime().block_on(ingest_batch(&store, &messages, now(), RetryPolicy::default()));
        prop_assert!(report.failures.iter().all(|f| f.kind == FailureKind::Invalid));
        prop_assert_eq!(
            report.counted + report.duplicates + report.registrations + report.failures.len(),
            messages.len()
        );
    }
}

/// Bodies from "anything" to "almost a valid event", so both paths are hit.
fn body() -> impl Strategy<Value = Option<String>> {
    let field = prop_oneof![
        Just(Value::Null),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        any::<String>().prop_map(Value::String),
        Just(json!("2026-11-20T10:00:00Z")),
        Just(json!("2026-11-20T10:30:00.5+08:00")),
        Just(json!("video")),
        Just(json!("0")),
        Just(json!(1280)),
    ];
    // A valid event with 0–3 fields replaced by anything or removed.
    let mutations = proptest::collection::vec(
        (
            proptest::sample::select(vec![
                "appId",
                "recordMode",
                "media",
                "width",
                "height",
                "startTime",
                "endTime",
                "ownerAccountId",
            ]),
            proptest::option::of(field),
        ),
        0..4,
    );
    let envelope = (mutations, any::<bool>(), "\\PC{1,40}", 0..10u8).prop_map(|(mutations, segment, id, version)| {
        let mut data = if segment {
            json!({"appId": "app-1", "recordMode": "0", "media": "video", "width": 1280, "height": 720,
                   "startTime": "2026-11-20T10:00:00Z", "endTime": "2026-11-20T10:30:00.5+00:00"})
        } else {
            json!({"appId": "app-1", "ownerAccountId": OWNER})
        };
        for (key, value) in mutations {
            match value {
                Some(v) => data[key] = v,
                None => {
                    data.as_object_mut().unwrap().remove(key);
                }
            }
        }
        json!({"specversion": if version > 0 { "1.0" } else { "0.3" }, "id": id, "source": "/p",
               "type": if segment { "rtc.recording.segment" } else { "rtc.app.registered" }, "data": data})
        .to_string()
    });
    prop_oneof![
        1 => Just(None),
        2 => any::<String>().prop_map(Some),
        2 => "[\\[\\]{}\",:0-9a-z ]{0,200}".prop_map(Some),
        6 => envelope.prop_map(Some),
    ]
}

/// The body generator reaches both outcomes, so the property above is not vacuous.
#[test]
fn the_body_generator_yields_counted_and_rejected_events() {
    use proptest::strategy::ValueTree;
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let store = MemoryStore::new();
    let rt = runtime();
    let (mut counted, mut rejected) = (0, 0);
    for i in 0..2_000 {
        let body = body().new_tree(&mut runner).unwrap().current();
        let report = rt.block_on(ingest_batch(
            &store,
            &[InboundMessage {
                message_id: format!("m{i}"),
                body,
            }],
            now(),
            RetryPolicy::default(),
        ));
        counted += report.counted + report.registrations;
        rejected += report.failures.len();
    }
    assert!(
        counted > 0 && rejected > 0,
        "counted {counted}, rejected {rejected}"
    );
}
