//! Property tests: no input crashes the functions or escapes the contract.
//! Valid queries, generated on purpose over the whole accepted range, are
//! answered 200 with every bucket of their window; a valid query broken in
//! exactly one way gets exactly that rule's status and code; query parameters
//! of any kind get 200 or a contract error whose status goes with its code;
//! event bodies of any kind are counted or reported, never a panic.

use crate::support::*;
use crate::workload::{expected_buckets, query_time};
use proptest::prelude::*;
use rtc_usage::domain::ids::{AccountId, AppId};
use rtc_usage::domain::query::QueryParams;
use rtc_usage::domain::usage_api::{ApiRequest, validate_request};
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

/// Every error code of the query API with the one HTTP status it goes with:
/// no caller is 403, an unknown action 404, an unexpected failure 500, and
/// every other refusal (a missing or invalid parameter) 400.
const CODES: [(&str, u16); 12] = [
    ("Forbidden.RAM", 403),
    ("MissingParameter", 400),
    ("InvalidAction.NotFound", 404),
    ("InvalidStartTime.Malformed", 400),
    ("InvalidEndTime.Malformed", 400),
    ("InvalidEndTime.Mismatch", 400),
    ("InvalidTimeSpan", 400),
    ("InvalidStartTime.ValueNotSupported", 400),
    ("InvalidRecordModeParameter", 400),
    ("InvalidInterval.ValueNotSupported", 400),
    ("InvalidAppIdParameter", 400),
    ("InternalError", 500),
];

const ACTION: &str = "DescribeLiveRtcRecordUsageData";
const SECOND: i64 = 1_000;
const SPAN_MIN_S: i64 = 300;
const SPAN_MAX_S: i64 = 31 * 86_400;
const WINDOW_S: i64 = 366 * 86_400;

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
        if let Ok(ApiRequest::RecordUsage(q)) = validate_request(&QueryParams::from_pairs(pairs), now) {
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
        let event = api_event(api, &refs, with_caller.then_some(OWNER));
        let a = answer(rt.block_on(handle_event(&store, None, &event, now())));
        prop_assert_eq!(&a.content_type, "application/json");
        match a.status {
            200 => {
                prop_assert!(with_caller, "answered without a caller: {}", a.text);
                prop_assert!(a.body["Data"].is_array());
            }
            status => {
                let code = a.body["Code"].as_str().unwrap_or_default();
                let paired = CODES.iter().find(|(c, _)| *c == code).map(|(_, s)| *s);
                prop_assert_eq!(paired, Some(status), "status {} with code {:?} for {:?}: {}", status, code, pairs, a.text);
                prop_assert_ne!(status, 500, "no request makes the in-memory store fail: {}", a.text);
                for field in ["RequestId", "HostId", "Message", "Recommend"] {
                    prop_assert!(a.body[field].is_string());
                }
                if !with_caller {
                    prop_assert_eq!(code, "Forbidden.RAM", "no caller is refused before anything else");
                }
            }
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
            report.counted + report.duplicates + report.facts + report.failures.len(),
            messages.len()
        );
    }
}

/// app-1 is the caller's (OWNER), app-2 another account's.
fn registered_store(rt: &tokio::runtime::Runtime) -> MemoryStore {
    let store = MemoryStore::new();
    for (app, owner) in [("app-1", OWNER), ("app-2", OTHER_ACCOUNT)] {
        rt.block_on(store.register(
            &AppId::parse(app).unwrap(),
            &AccountId::parse(owner).unwrap(),
        ))
        .unwrap();
    }
    store
}

fn ask(
    rt: &tokio::runtime::Runtime,
    store: &MemoryStore,
    rest: bool,
    pairs: &[(String, String)],
    with_caller: bool,
) -> Answer {
    let refs: Vec<(&str, &str)> = pairs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let api = if rest { Api::Rest } else { Api::Http };
    let event = api_event(api, &refs, with_caller.then_some(OWNER));
    answer(rt.block_on(handle_event(store, None, &event, now())))
}

/// A query the contract accepts, in whole seconds: `StartTime` from
/// now − 366 days to now, a span of 5 minutes to 31 days, either record mode,
/// `Interval` 3600, 86400 or absent, the caller's registered app.
#[derive(Clone, Debug)]
struct ValidQuery {
    start: i64,
    end: i64,
    mode: &'static str,
    interval: Option<&'static str>,
}

impl ValidQuery {
    /// The bucket size in milliseconds: an absent `Interval` means hours.
    fn size(&self) -> i64 {
        match self.interval {
            Some("86400") => 86_400 * SECOND,
            _ => 3_600 * SECOND,
        }
    }

    fn pairs(&self) -> Vec<(String, String)> {
        let mut pairs = vec![
            ("Action".to_owned(), ACTION.to_owned()),
            ("AppId".to_owned(), "app-1".to_owned()),
            ("StartTime".to_owned(), query_time(self.start)),
            ("EndTime".to_owned(), query_time(self.end)),
            ("RecordMode".to_owned(), self.mode.to_owned()),
        ];
        if let Some(interval) = self.interval {
            pairs.push(("Interval".to_owned(), interval.to_owned()));
        }
        pairs
    }
}

/// Valid queries, with each range's edges drawn often: the oldest and the
/// newest accepted start, the shortest and the longest span.
fn valid_query() -> impl Strategy<Value = ValidQuery> {
    let now_s = now().0 / SECOND;
    let oldest = now_s - WINDOW_S;
    let start = prop_oneof![
        1 => Just(oldest),
        1 => Just(now_s),
        2 => (0..=WINDOW_S / 3_600).prop_map(move |h| now_s - h * 3_600),
        6 => oldest..=now_s,
    ];
    let span = prop_oneof![
        1 => Just(SPAN_MIN_S),
        1 => Just(SPAN_MAX_S),
        1 => proptest::sample::select(vec![3_600, 86_400, 7 * 86_400]),
        6 => SPAN_MIN_S..=SPAN_MAX_S,
    ];
    let interval = proptest::option::of(proptest::sample::select(vec!["3600", "86400"]));
    (
        start,
        span,
        proptest::sample::select(vec!["0", "1"]),
        interval,
    )
        .prop_map(|(start, span, mode, interval)| ValidQuery {
            start: start * SECOND,
            end: (start + span) * SECOND,
            mode,
            interval,
        })
}

/// One way to break a valid query; each breaks exactly one of the rules.
#[derive(Clone, Debug)]
enum Break {
    DropAction,
    EmptyAction,
    OtherAction(String),
    /// A parameter given twice with valid values, each time.
    Repeated(&'static str),
    /// A required parameter left out (`false`) or given empty (`true`).
    Missing(&'static str, bool),
    MalformedStart(Mangle),
    MalformedEnd(Mangle),
    /// `EndTime` this many seconds before `StartTime` (0: equal).
    EndNotAfterStart(i64),
    /// A span this many seconds long.
    Span(i64),
    /// `StartTime` this many seconds after now (a valid span kept).
    StartAfterNow(i64),
    /// `StartTime` this many seconds before now − 366 days.
    StartTooOld(i64),
    RecordMode(String),
    Interval(String),
    AppId(String),
}

/// How a valid time text is made malformed.
#[derive(Clone, Debug)]
enum Mangle {
    /// `+00:00` instead of `Z`.
    Offset,
    /// Milliseconds added.
    Fraction,
    /// A space instead of the `T`.
    Space,
    /// Lowercase `t` and `z`.
    Lowercase,
    /// No seconds.
    NoSeconds,
    /// No `Z`.
    NoZone,
    /// The date alone.
    DateOnly,
    /// Surrounded by a space.
    Padded,
    /// Epoch seconds.
    Epoch,
    /// A full-width digit for the first digit.
    FullWidth,
    /// The right shape, but no such date or time.
    Unreal(&'static str),
    /// Anything not shaped `dddd-dd-ddTdd:dd:ddZ`.
    Other(String),
}

impl Mangle {
    fn apply(&self, ms: i64) -> String {
        let t = query_time(ms);
        match self {
            Mangle::Offset => format!("{}+00:00", &t[..19]),
            Mangle::Fraction => format!("{}.000Z", &t[..19]),
            Mangle::Space => t.replace('T', " "),
            Mangle::Lowercase => t.replace('T', "t").replace('Z', "z"),
            Mangle::NoSeconds => format!("{}Z", &t[..16]),
            Mangle::NoZone => t[..19].to_owned(),
            Mangle::DateOnly => t[..10].to_owned(),
            Mangle::Padded => format!(" {t} "),
            Mangle::Epoch => (ms / SECOND).to_string(),
            Mangle::FullWidth => format!("\u{ff12}{}", &t[1..]),
            Mangle::Unreal(text) => (*text).to_owned(),
            Mangle::Other(text) => text.clone(),
        }
    }
}

/// `dddd-dd-ddTdd:dd:ddZ` with ASCII digits: only such a text can be a valid
/// query time, so anything else is malformed whatever the parser does.
fn shaped_like_a_query_time(text: &str) -> bool {
    text.len() == 20
        && text.bytes().enumerate().all(|(i, c)| match i {
            4 | 7 => c == b'-',
            10 => c == b'T',
            13 | 16 => c == b':',
            19 => c == b'Z',
            _ => c.is_ascii_digit(),
        })
}

fn mangle() -> impl Strategy<Value = Mangle> {
    prop_oneof![
        proptest::sample::select(vec![
            Mangle::Offset,
            Mangle::Fraction,
            Mangle::Space,
            Mangle::Lowercase,
            Mangle::NoSeconds,
            Mangle::NoZone,
            Mangle::DateOnly,
            Mangle::Padded,
            Mangle::Epoch,
            Mangle::FullWidth,
        ]),
        proptest::sample::select(vec![
            "2026-02-29T00:00:00Z",
            "2026-04-31T10:00:00Z",
            "2026-11-20T24:00:00Z",
            "2026-06-30T23:59:60Z",
            "2026-13-01T00:00:00Z",
            "2026-00-10T00:00:00Z",
            "2026-11-00T00:00:00Z",
            "2026-11-20T10:60:00Z",
        ])
        .prop_map(Mangle::Unreal),
        "\\PC{1,30}"
            .prop_filter("not shaped like a time", |t| !shaped_like_a_query_time(t))
            .prop_map(Mangle::Other),
    ]
}

/// The usage console's actions, which the same endpoint may serve: drawn as
/// "another action" they would not be unknown ones.
const OTHER_ACTIONS: [&str; 5] = [
    "DescribeApps",
    "DescribeUsageData",
    "DescribeUsageDetails",
    "ExportUsageDetails",
    "DescribeUsagePackages",
];

fn one_break() -> impl Strategy<Value = Break> {
    let required = || proptest::sample::select(vec!["StartTime", "EndTime", "AppId", "RecordMode"]);
    prop_oneof![
        Just(Break::DropAction),
        Just(Break::EmptyAction),
        prop_oneof![
            proptest::sample::select(vec![
                "DescribeLiveRtcRecordUsage",
                "describeLiveRtcRecordUsageData",
                "DescribeLiveRtcRecordUsageData ",
            ])
            .prop_map(str::to_owned),
            "\\PC{1,40}",
        ]
        .prop_filter("another action", |a| a != ACTION
            && !OTHER_ACTIONS.contains(&a.as_str()))
        .prop_map(Break::OtherAction),
        proptest::sample::select(vec![
            "Action",
            "StartTime",
            "EndTime",
            "AppId",
            "RecordMode",
            "Interval",
        ])
        .prop_map(Break::Repeated),
        (required(), any::<bool>()).prop_map(|(name, empty)| Break::Missing(name, empty)),
        mangle().prop_map(Break::MalformedStart),
        mangle().prop_map(Break::MalformedEnd),
        (0..=400 * 86_400i64).prop_map(Break::EndNotAfterStart),
        prop_oneof![
            1..SPAN_MIN_S,
            Just(SPAN_MIN_S - 1),
            Just(SPAN_MAX_S + 1),
            SPAN_MAX_S + 1..=10 * 366 * 86_400,
        ]
        .prop_map(Break::Span),
        prop_oneof![Just(1), 1..=10 * 366 * 86_400i64].prop_map(Break::StartAfterNow),
        prop_oneof![Just(1), 1..=10 * 366 * 86_400i64].prop_map(Break::StartTooOld),
        prop_oneof![
            proptest::sample::select(vec![
                "2", "00", "01", " 0", "1 ", "+0", "-0", "1.0", "\u{ff10}", "true",
            ])
            .prop_map(str::to_owned),
            "\\PC{1,8}",
        ]
        .prop_filter("not a record mode", |m| m != "0" && m != "1")
        .prop_map(Break::RecordMode),
        prop_oneof![
            proptest::sample::select(vec![
                "", "60", "1800", "3601", "03600", " 3600", "3600 ", "+3600", "3600.0", "86400.0",
                "604800",
            ])
            .prop_map(str::to_owned),
            "\\PC{0,8}",
        ]
        .prop_filter("not an interval", |i| i != "3600" && i != "86400")
        .prop_map(Break::Interval),
        prop_oneof![
            proptest::sample::select(vec![
                "app-2",
                "app-404",
                "app 1",
                "APP-1",
                "app-1 ",
                "\u{430}pp-1",
                "app-1\u{200b}",
                "app%2D1",
            ])
            .prop_map(str::to_owned),
            Just("a".repeat(65)),
            "[A-Za-z0-9._-]{1,64}",
            "\\PC{1,70}",
        ]
        .prop_filter("not the caller's app", |a| a != "app-1")
        .prop_map(Break::AppId),
    ]
}

/// The query `q` broken by `b`, and the status and code the rule it breaks
/// answers with.
fn broken(q: &ValidQuery, b: &Break) -> (Vec<(String, String)>, u16, &'static str) {
    let mut pairs = q.pairs();
    let set = |pairs: &mut Vec<(String, String)>, name: &str, value: String| {
        pairs.retain(|(k, _)| k != name);
        pairs.push((name.to_owned(), value));
    };
    let now_ms = now().0;
    let span = q.end - q.start;
    let expected = match b {
        Break::DropAction => {
            pairs.retain(|(k, _)| k != "Action");
            (400, "MissingParameter")
        }
        Break::EmptyAction => {
            set(&mut pairs, "Action", String::new());
            (400, "MissingParameter")
        }
        Break::OtherAction(action) => {
            set(&mut pairs, "Action", action.clone());
            (404, "InvalidAction.NotFound")
        }
        Break::Repeated(name) => {
            let value = match pairs.iter().find(|(k, _)| k == name) {
                Some((_, v)) => v.clone(),
                None => "3600".to_owned(),
            };
            if !pairs.iter().any(|(k, _)| k == name) {
                pairs.push(((*name).to_owned(), value.clone()));
            }
            pairs.push(((*name).to_owned(), value));
            match *name {
                "Action" => (404, "InvalidAction.NotFound"),
                "StartTime" => (400, "InvalidStartTime.Malformed"),
                "EndTime" => (400, "InvalidEndTime.Malformed"),
                "AppId" => (400, "InvalidAppIdParameter"),
                "RecordMode" => (400, "InvalidRecordModeParameter"),
                _ => (400, "InvalidInterval.ValueNotSupported"),
            }
        }
        Break::Missing(name, empty) => {
            if *empty {
                set(&mut pairs, name, String::new());
            } else {
                pairs.retain(|(k, _)| k != name);
            }
            (400, "MissingParameter")
        }
        Break::MalformedStart(m) => {
            set(&mut pairs, "StartTime", m.apply(q.start));
            (400, "InvalidStartTime.Malformed")
        }
        Break::MalformedEnd(m) => {
            set(&mut pairs, "EndTime", m.apply(q.end));
            (400, "InvalidEndTime.Malformed")
        }
        Break::EndNotAfterStart(s) => {
            set(&mut pairs, "EndTime", query_time(q.start - s * SECOND));
            (400, "InvalidEndTime.Mismatch")
        }
        Break::Span(s) => {
            set(&mut pairs, "EndTime", query_time(q.start + s * SECOND));
            (400, "InvalidTimeSpan")
        }
        Break::StartAfterNow(s) => {
            let start = now_ms + s * SECOND;
            set(&mut pairs, "StartTime", query_time(start));
            set(&mut pairs, "EndTime", query_time(start + span));
            (400, "InvalidStartTime.ValueNotSupported")
        }
        Break::StartTooOld(s) => {
            let start = now_ms - WINDOW_S * SECOND - s * SECOND;
            set(&mut pairs, "StartTime", query_time(start));
            set(&mut pairs, "EndTime", query_time(start + span));
            (400, "InvalidStartTime.ValueNotSupported")
        }
        Break::RecordMode(mode) => {
            set(&mut pairs, "RecordMode", mode.clone());
            (400, "InvalidRecordModeParameter")
        }
        Break::Interval(interval) => {
            set(&mut pairs, "Interval", interval.clone());
            (400, "InvalidInterval.ValueNotSupported")
        }
        Break::AppId(app) => {
            set(&mut pairs, "AppId", app.clone());
            (400, "InvalidAppIdParameter")
        }
    };
    (pairs, expected.0, expected.1)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    /// Every valid query is answered 200 with exactly the aligned buckets that
    /// overlap its window, ascending, for the mode and app asked.
    #[test]
    fn valid_queries_are_answered_with_every_bucket_of_their_window(q in valid_query(), rest in any::<bool>()) {
        let rt = runtime();
        let store = registered_store(&rt);
        let a = ask(&rt, &store, rest, &q.pairs(), true);
        prop_assert_eq!(a.status, 200, "{:?}: {}", q, a.text);
        prop_assert_eq!(&a.body["AppId"], "app-1");
        prop_assert_eq!(&a.body["RecordMode"], q.mode);
        let data = a.body["Data"].as_array().unwrap();
        let buckets = expected_buckets(q.start, q.end, q.size());
        prop_assert_eq!(data.len(), buckets.len(), "{:?}", q);
        // A 31-day window touches at most 745 hours or 32 days.
        let most = if q.size() == 3_600 * SECOND { 745 } else { 32 };
        prop_assert!(buckets.len() <= most, "{} buckets for {:?}", buckets.len(), q);
        for (point, bucket) in data.iter().zip(&buckets) {
            let want = query_time(*bucket);
            prop_assert_eq!(point["Timestamp"].as_str(), Some(want.as_str()), "{:?}", q);
        }
    }

    /// A valid query broken in exactly one way is refused by that rule: its
    /// status and code, the error body's fields; without a caller, 403
    /// `Forbidden.RAM` whatever else is wrong.
    #[test]
    fn a_query_broken_one_way_gets_that_rules_status_and_code(
        q in valid_query(),
        b in one_break(),
        rest in any::<bool>(),
        with_caller in proptest::bool::weighted(0.9),
    ) {
        let rt = runtime();
        let store = registered_store(&rt);
        let (pairs, status, code) = broken(&q, &b);
        let (status, code) = if with_caller { (status, code) } else { (403, "Forbidden.RAM") };
        prop_assert!(CODES.contains(&(code, status)), "the expectation itself pairs {} with {}", code, status);
        let a = ask(&rt, &store, rest, &pairs, with_caller);
        prop_assert_eq!(
            (a.status, a.body["Code"].as_str()),
            (status, Some(code)),
            "{:?} broken by {:?}: {}", q, b, a.text
        );
        prop_assert_eq!(&a.content_type, "application/json");
        for field in ["RequestId", "HostId", "Message", "Recommend"] {
            prop_assert!(a.body[field].as_str().is_some_and(|v| !v.is_empty()), "{}: {}", field, a.text);
        }
        if let (true, Break::Missing(name, _)) = (with_caller, &b) {
            let message = a.body["Message"].as_str().unwrap_or_default();
            prop_assert!(message.contains(&format!("\"{name}\"")), "the message names {}: {}", name, message);
        }
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
        counted += report.counted + report.facts;
        rejected += report.failures.len();
    }
    assert!(
        counted > 0 && rejected > 0,
        "counted {counted}, rejected {rejected}"
    );
}
