//! `ExportUsageDetails` end to end, against the local DynamoDB API.
//!
//! - The file, parsed back by Python's `csv` module, is `DescribeUsageDetails`
//!   over all its pages, each row turned into cells here by the contract's
//!   rules (not by the service's code); the byte order mark and the CRLF line
//!   ends are checked byte for byte, and Python's writer, given the cells it
//!   read, writes the very same bytes (so the quoting is RFC 4180's minimal
//!   quoting). Events: the class fixture plus a generated workload of many
//!   classes whose names hold commas, quotes, line separators, a leading
//!   `=`, `+`, `-` or `@`, emoji and right-to-left text, through `ingest_batch`.
//! - The headers, through the HTTP entry point (both API Gateway payloads).
//! - The size limit: an export of exactly 5,000,000 bytes answers, one byte
//!   more is 400 `InvalidTimeSpan.TooManyRecords` (the contract's error
//!   body), and the limit is checked last.
//! - The validation order of the action.
//!
//! The export's figures (rows under the limit, the cost of 10,000 rows) are
//! printed by `examples/export_figures.rs`.

use crate::support::*;
use crate::workload::{fast_retry, rng, seconds_text};
use chrono::SecondsFormat;
use futures::StreamExt;
use rand::Rng;
use rand::rngs::StdRng;
use rtc_usage::domain::class::{ClassFact, ClassFactEvent, UsageType};
use rtc_usage::domain::commit::{CommitGroup, RowAdd, RowKey};
use rtc_usage::domain::error::ErrorCode;
use rtc_usage::domain::export::CsvFile;
use rtc_usage::domain::ids::{AccountId, AppId, ClassId, Name};
use rtc_usage::domain::query::QueryParams;
use rtc_usage::domain::time::{DAY_MS, Day, HOUR_MS, MINUTE_MS, UtcMillis};
use rtc_usage::domain::usage_api::MAX_EXPORT_BYTES;
use rtc_usage::service::ingest::{InboundMessage, ingest_batch};
use rtc_usage::service::query::{self, Answer};
use rtc_usage::store::dynamo::DynamoStore;
use rtc_usage::store::{AlertStore, SetOnceOutcome, UsageStore};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::io::Write;
use std::process::{Command, Stdio};

/// The class fixture's app: named "Demo School 演示学校".
const APP: &str = "app-1";
/// An app without a name, whose id begins with `-`: its `Application`
/// cells are the id, guarded.
const BARE_APP: &str = "-app.2";
/// An app of another account.
const OTHER_APP: &str = "other-app";

/// The contract's header, written out here.
const HEADER: [&str; 13] = [
    "Date",
    "Application",
    "ClassName",
    "ClassId",
    "StartTime",
    "EndTime",
    "UserCount",
    "UsageType",
    "DurationSeconds",
    "BillableMinutes",
    "Packages",
    "PackageMinutes",
    "PayAsYouGoMinutes",
];

/// Class names a spreadsheet could misread. A name cannot hold a control
/// character (so no CR, LF or tab), but it can hold the Unicode line and
/// paragraph separators.
const NAMES: [&str; 18] = [
    "-5",
    "Algebra, Part I",
    "The \"Best\" Class",
    "=HYPERLINK(\"http://example.com\",\"click\")",
    "+1 Maths",
    "@everyone",
    "🎓 Physics 👩‍🏫🏳️‍🌈",
    "الرياضيات للصف الأول",
    "שיעור, \"מתמטיקה\"",
    "line\u{2028}separator\u{2029}paragraph",
    "数学課 𠮷",
    "'already quoted",
    " leading space",
    "semi; colon",
    "-",
    "=",
    "\u{202E}reversed\u{202C}",
    "\"",
];

// ---------------------------------------------------------------------------
// Events.

fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .expect("a representable time")
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn envelope(id: &str, kind: &str, data: Value) -> String {
    json!({"specversion": "1.0", "id": id, "source": "/export/test", "type": kind,
           "time": "2026-11-23T11:59:00Z", "data": data})
    .to_string()
}

fn day_start(text: &str) -> i64 {
    at(&format!("{text}T00:00:00Z")).0
}

/// The class fixture's events.
fn fixture_bodies() -> Vec<String> {
    fixture("sqs-class-batch.json")["Records"]
        .as_array()
        .expect("records")
        .iter()
        .map(|r| r["body"].as_str().expect("a body").to_owned())
        .collect()
}

/// Classes of `app` on 2026-11-20 to 22: facts for most (some with an end,
/// some with an end alone, some with none), one to three sessions each
/// (interactive, sometimes playback the next day), recording segments for
/// every third class and some without a class.
fn class_bodies(
    rng: &mut StdRng,
    app: &str,
    classes: usize,
    id_of: impl Fn(usize) -> String,
) -> Vec<String> {
    let first_day = day_start("2026-11-20");
    let mut bodies = Vec::new();
    for i in 0..classes {
        let class = id_of(i);
        let name = NAMES[i % NAMES.len()];
        let day = first_day + (i % 3) as i64 * DAY_MS;
        let start = day + rng.random_range(0..21) * HOUR_MS + rng.random_range(0..60) * MINUTE_MS;
        let end = start + rng.random_range(30..120) * MINUTE_MS;
        let started = i % 5 != 4;
        if started {
            bodies.push(envelope(
                &format!("start-{app}-{i}"),
                "rtc.class.started",
                json!({"appId": app, "classId": class, "className": name,
                       "startTime": rfc3339(start)}),
            ));
        }
        if i % 2 == 0 {
            bodies.push(envelope(
                &format!("end-{app}-{i}"),
                "rtc.class.ended",
                json!({"appId": app, "classId": class, "endTime": rfc3339(end)}),
            ));
        }
        for k in 0..rng.random_range(1..=3) {
            let playback = k == 2 || rng.random_bool(0.2);
            let from = if playback { end + DAY_MS / 2 } else { start };
            let from = from + rng.random_range(0..600_000);
            let to = from + rng.random_range(1..90 * MINUTE_MS);
            bodies.push(envelope(
                &format!("session-{app}-{i}-{k}"),
                "rtc.class.session",
                json!({"appId": app, "classId": class, "userId": format!("user-{}", rng.random_range(0..4)),
                       "role": if k == 0 { "teacher" } else { "student" },
                       "usageType": if playback { "playback" } else { "interactive" },
                       "startTime": rfc3339(from), "endTime": rfc3339(to)}),
            ));
        }
        if i % 3 == 0 {
            let from = start + rng.random_range(0..600_000);
            bodies.push(envelope(
                &format!("segment-{app}-{i}"),
                "rtc.recording.segment",
                json!({"appId": app, "classId": class, "recordMode": if i % 2 == 0 { "0" } else { "1" },
                       "media": "audio", "startTime": rfc3339(from),
                       "endTime": rfc3339(from + rng.random_range(1..40 * MINUTE_MS))}),
            ));
        }
    }
    for d in 0..3 {
        let from = first_day + d * DAY_MS + 5 * HOUR_MS + rng.random_range(0..HOUR_MS);
        bodies.push(envelope(
            &format!("segment-{app}-none-{d}"),
            "rtc.recording.segment",
            json!({"appId": app, "recordMode": "0", "media": "video", "width": 1280, "height": 720,
                   "startTime": rfc3339(from), "endTime": rfc3339(from + 777_777)}),
        ));
    }
    bodies
}

fn generated_bodies() -> Vec<String> {
    let mut rng = rng(0x0e49_0127);
    let mut bodies = vec![
        envelope(
            "reg-bare",
            "rtc.app.registered",
            json!({"appId": BARE_APP, "ownerAccountId": OWNER}),
        ),
        envelope(
            "reg-other",
            "rtc.app.registered",
            json!({"appId": OTHER_APP, "ownerAccountId": OTHER_ACCOUNT, "appName": "Elsewhere"}),
        ),
        envelope(
            "pkg-2",
            "rtc.package.purchased",
            json!({"appId": APP, "packageId": "pkg-2", "packageName": "+Bonus, \"50\" min",
                   "minutes": 50, "validFrom": "2026-11-21", "validTo": "2026-11-30"}),
        ),
        envelope(
            "pkg-3",
            "rtc.package.purchased",
            json!({"appId": APP, "packageId": "pkg-3", "packageName": "@Team ☕ 🎓",
                   "minutes": 300, "validFrom": "2026-11-01", "validTo": "2026-11-25"}),
        ),
    ];
    // More than 100 classes: their facts take several BatchGetItem chunks.
    bodies.extend(class_bodies(&mut rng, APP, 230, |i| match i {
        0 => "-5".to_owned(),
        1 => "_x".to_owned(),
        2 => ".dot".to_owned(),
        _ => format!("c-{i:03}"),
    }));
    bodies.extend(class_bodies(&mut rng, BARE_APP, 25, |i| format!("-b{i}")));
    bodies
}

async fn ingest(store: &DynamoStore, bodies: Vec<String>) {
    let messages: Vec<InboundMessage> = bodies
        .into_iter()
        .enumerate()
        .map(|(i, body)| InboundMessage {
            message_id: format!("m-{i}"),
            body: Some(body),
        })
        .collect();
    for batch in messages.chunks(10) {
        let report = ingest_batch(store, batch, now(), fast_retry()).await;
        assert!(report.failures.is_empty(), "{:?}", report.failures);
    }
}

/// The fixture, then the generated workload.
async fn seeded() -> DynamoStore {
    let store = fresh_store().await;
    ingest(&store, fixture_bodies()).await;
    ingest(&store, generated_bodies()).await;
    store
}

// ---------------------------------------------------------------------------
// Asking.

fn params(pairs: &[(&str, &str)]) -> QueryParams {
    QueryParams::from_pairs(pairs.iter().copied())
}

async fn ask<S: UsageStore + AlertStore>(
    store: &S,
    pairs: &[(&str, &str)],
) -> Result<Answer, ErrorCode> {
    ask_as(store, OWNER, pairs).await
}

async fn ask_as<S: UsageStore + AlertStore>(
    store: &S,
    caller: &str,
    pairs: &[(&str, &str)],
) -> Result<Answer, ErrorCode> {
    query::answer(store, Some(caller), &params(pairs), "req-export", now())
        .await
        .map(|(_, answer)| answer)
        .map_err(|e| e.code)
}

async fn export<S: UsageStore + AlertStore>(
    store: &S,
    pairs: &[(&str, &str)],
) -> Result<CsvFile, ErrorCode> {
    let mut all = vec![("Action", "ExportUsageDetails")];
    all.extend_from_slice(pairs);
    match ask(store, &all).await? {
        Answer::Export(file) => Ok(file),
        other => panic!("not an export: {other:?}"),
    }
}

/// Every row of `DescribeUsageDetails` for `pairs`, page after page.
async fn all_pages<S: UsageStore + AlertStore>(store: &S, pairs: &[(&str, &str)]) -> Vec<Value> {
    let mut rows = Vec::new();
    for page in 1.. {
        let number = page.to_string();
        let mut all = vec![
            ("Action", "DescribeUsageDetails"),
            ("PageSize", "100"),
            ("PageNumber", number.as_str()),
        ];
        all.extend_from_slice(pairs);
        let Answer::Details(answer) = ask(store, &all).await.expect("details") else {
            panic!("not details");
        };
        let body = serde_json::to_value(&answer).expect("JSON");
        let records = body["Records"].as_array().expect("records").clone();
        if records.is_empty() {
            assert_eq!(body["TotalCount"], json!(rows.len()));
            return rows;
        }
        rows.extend(records);
    }
    unreachable!()
}

// ---------------------------------------------------------------------------
// Reading an export back.

/// Python's `csv` module reads the file (after checking its byte order
/// mark), and writes the cells it read again with CRLF line ends.
const PYTHON: &str = r#"
import csv, io, json, sys
data = sys.stdin.buffer.read()
if not data.startswith(b"\xef\xbb\xbf"):
    sys.exit("no byte order mark")
text = data[3:].decode("utf-8")
rows = list(csv.reader(io.StringIO(text, newline=""), strict=True))
out = io.StringIO(newline="")
csv.writer(out, lineterminator="\r\n").writerows(rows)
json.dump({"rows": rows, "rewritten": out.getvalue()}, sys.stdout)
"#;

/// The records of `text` as Python reads them, header first, after the
/// byte-level checks.
fn python_reads(text: &str) -> Vec<Vec<String>> {
    let bytes = text.as_bytes();
    assert_eq!(
        &bytes[..3],
        b"\xEF\xBB\xBF",
        "UTF-8's byte order mark first"
    );
    let mut child = Command::new("python3")
        .arg("-c")
        .arg(PYTHON)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    let mut stdin = child.stdin.take().expect("stdin");
    let input = bytes.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input).expect("write to python"));
    let out = child.wait_with_output().expect("python's output");
    writer.join().expect("writer thread");
    assert!(
        out.status.success(),
        "python: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let parsed: Value = serde_json::from_slice(&out.stdout).expect("python's JSON");
    let rows: Vec<Vec<String>> = serde_json::from_value(parsed["rows"].clone()).expect("rows");
    // Names hold no control character: every CR and LF is a line end, and
    // every line end is CRLF, the last line's too.
    let body = &text[3..];
    assert_eq!(
        body.matches("\r\n").count(),
        rows.len(),
        "one CRLF a record"
    );
    assert_eq!(body.matches('\r').count(), rows.len(), "no lone CR");
    assert_eq!(body.matches('\n').count(), rows.len(), "no lone LF");
    assert!(body.ends_with("\r\n"));
    // Python's minimal quoting writes the cells back byte for byte.
    assert_eq!(parsed["rewritten"].as_str(), Some(body), "RFC 4180 quoting");
    assert_eq!(
        rows.first().map(Vec::as_slice),
        Some(&HEADER.map(String::from)[..])
    );
    rows
}

/// The contract's formula guard.
fn guard(cell: String) -> String {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{cell}")
    } else {
        cell
    }
}

/// A `DescribeUsageDetails` record as the export's cells: `Application` the
/// name, else the id; nulls empty; seconds as the JSON answers write them;
/// the packages' names joined by `; `; every cell guarded.
fn cells_of(record: &Value) -> Vec<String> {
    let text = |name: &str| record[name].as_str().unwrap_or_default().to_owned();
    let integer = |name: &str| {
        record[name]
            .as_u64()
            .map(|n| n.to_string())
            .unwrap_or_default()
    };
    let application = if record["AppName"].is_null() {
        text("AppId")
    } else {
        text("AppName")
    };
    let seconds = record["DurationSeconds"].as_f64().expect("seconds");
    let packages: Vec<&str> = record["Packages"]
        .as_array()
        .expect("packages")
        .iter()
        .map(|p| p["PackageName"].as_str().expect("a package name"))
        .collect();
    [
        text("Date"),
        application,
        text("ClassName"),
        text("ClassId"),
        text("StartTime"),
        text("EndTime"),
        integer("UserCount"),
        text("UsageType"),
        seconds_text((seconds * 1000.0).round() as u64),
        integer("BillableMinutes"),
        packages.join("; "),
        integer("PackageMinutes"),
        integer("PayAsYouGoMinutes"),
    ]
    .into_iter()
    .map(guard)
    .collect()
}

/// The export of `window` and every page of the details of `window`, the
/// one read back by Python, the other turned into cells: equal, row for
/// row. Returns the file.
async fn assert_export_is_the_details<S: UsageStore + AlertStore>(
    store: &S,
    window: &[(&str, &str)],
) -> CsvFile {
    let file = export(store, window)
        .await
        .unwrap_or_else(|e| panic!("{window:?}: {e:?}"));
    let read = python_reads(&file.text);
    let details = all_pages(store, window).await;
    let expected: Vec<Vec<String>> = details.iter().map(cells_of).collect();
    assert_eq!(read[1..], expected[..], "{window:?}");
    assert_eq!(file.rows, details.len());
    file
}

#[tokio::test]
async fn the_export_is_every_row_of_the_details_as_python_reads_it() {
    let store = seeded().await;
    let full = [
        ("StartTime", "2026-11-20T00:00:00Z"),
        ("EndTime", "2026-11-23T00:00:00Z"),
    ];
    // Starting and ending inside a day: every day it overlaps is exported.
    let partial = [
        ("StartTime", "2026-11-20T13:00:00Z"),
        ("EndTime", "2026-11-21T00:05:00Z"),
    ];
    for service in ["AudioVideo", "Recording"] {
        for (app, classes) in [
            (
                APP,
                vec![None, Some("-5"), Some("c-003"), Some("no-such-class")],
            ),
            (BARE_APP, vec![None, Some("-b0")]),
        ] {
            for window in [&full[..], &partial[..]] {
                for class in &classes {
                    let mut pairs = window.to_vec();
                    pairs.extend([("AppId", app), ("ServiceType", service)]);
                    if let Some(class) = class {
                        pairs.push(("ClassId", class));
                    }
                    assert_export_is_the_details(&store, &pairs).await;
                }
            }
        }
    }

    // The workload did reach every case.
    let window = |service| {
        let mut pairs = full.to_vec();
        pairs.extend([("AppId", APP), ("ServiceType", service)]);
        pairs
    };
    let av = export(&store, &window("AudioVideo")).await.expect("export");
    assert!(av.rows > 200, "{} rows", av.rows);
    for quoted in [
        "\"Algebra, Part I\"",
        "\"The \"\"Best\"\" Class\"",
        "\"'=HYPERLINK(\"\"http://example.com\"\",\"\"click\"\")\"",
        ",'+1 Maths,",
        ",'@everyone,",
        ",'-5,'-5,",
        ",'-,",
        ",'=,",
        ",\"\"\"\",",
        "🎓 Physics 👩‍🏫🏳️‍🌈",
        "الرياضيات للصف الأول",
        "\"שיעור, \"\"מתמטיקה\"\"\"",
        "line\u{2028}separator\u{2029}paragraph",
        ",'already quoted,",
        ", leading space,",
        "semi; colon",
        // The fixture's row, its package and the generated packages.
        "2026-11-20,Demo School 演示学校,Algebra I,class-42,2026-11-20T10:00:00+00:00,\
         2026-11-20T11:00:00+00:00,3,Interactive,10580,177,",
        "\"'+Bonus, \"\"50\"\" min",
        "'@Team ☕ 🎓",
    ] {
        assert!(
            av.text.contains(quoted),
            "{quoted:?} not in the AudioVideo export"
        );
    }
    let details = all_pages(&store, &window("AudioVideo")).await;
    assert!(
        details
            .iter()
            .any(|r| r["Packages"].as_array().is_some_and(|p| p.len() > 1)),
        "a row paid by two packages"
    );
    let recording = export(&store, &window("Recording")).await.expect("export");
    assert!(recording.rows > 60, "{} rows", recording.rows);
    assert!(
        recording.text.contains(",'-5,'-5,"),
        "a class's recording row"
    );
    assert!(
        recording.text.contains(",Demo School 演示学校,,,,,,,"),
        "a row without a class"
    );
    let bare = export(
        &store,
        &[
            full[0],
            full[1],
            ("AppId", BARE_APP),
            ("ServiceType", "AudioVideo"),
        ],
    )
    .await
    .expect("export");
    assert!(
        bare.text.contains(",'-app.2,"),
        "the app id as the application, guarded"
    );
    assert_eq!(
        bare.file_name,
        "usage--app.2-AudioVideo-2026-11-20-2026-11-22.csv"
    );
}

#[tokio::test]
async fn an_empty_export_is_the_header_alone() {
    let store = fresh_store().await;
    ingest(&store, fixture_bodies()).await;
    for service in ["AudioVideo", "Recording"] {
        let file = export(
            &store,
            &[
                ("StartTime", "2026-11-01T00:00:00Z"),
                ("EndTime", "2026-11-02T00:00:00Z"),
                ("AppId", APP),
                ("ServiceType", service),
            ],
        )
        .await
        .expect("export");
        assert_eq!(
            python_reads(&file.text),
            vec![HEADER.map(String::from).to_vec()]
        );
        assert_eq!(file.text, format!("\u{FEFF}{}\r\n", HEADER.join(",")));
        assert_eq!(file.rows, 0);
    }
}

// ---------------------------------------------------------------------------
// Through the HTTP entry point, as the Lambda runtime receives the answer.

struct Response {
    status: u16,
    content_type: String,
    disposition: Option<String>,
    text: String,
    /// The body's bytes as API Gateway sends them on.
    bytes: Vec<u8>,
    is_base64_encoded: bool,
}

async fn handle<S: UsageStore + AlertStore>(
    store: &S,
    api: Api,
    pairs: &[(&str, &str)],
    account: Option<&str>,
) -> Response {
    let posted = handle_event(store, None, &api_event(api, pairs, account), now()).await;
    Response {
        status: posted.status,
        content_type: posted.header("content-type").unwrap_or_default().to_owned(),
        disposition: posted.header("content-disposition").map(str::to_owned),
        text: posted.text().to_owned(),
        is_base64_encoded: posted.is_base64_encoded,
        bytes: posted.body,
    }
}

/// The contract's error body, with `code`.
fn assert_error_body(response: &Response, status: u16, code: &str) {
    assert_eq!(response.status, status, "{}", response.text);
    assert_eq!(response.content_type, "application/json");
    assert_eq!(response.disposition, None);
    let body: Value = serde_json::from_str(&response.text).expect("a JSON error body");
    let keys: BTreeSet<&str> = body
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        BTreeSet::from(["RequestId", "HostId", "Code", "Message", "Recommend"]),
        "{}",
        response.text
    );
    assert_eq!(body["Code"], json!(code));
}

#[tokio::test]
async fn the_file_through_the_http_entry_point() {
    let store = fresh_store().await;
    ingest(&store, fixture_bodies()).await;
    let pairs = [
        ("Action", "ExportUsageDetails"),
        ("AppId", APP),
        ("StartTime", "2026-11-20T06:00:00Z"),
        ("EndTime", "2026-11-22T00:00:01Z"),
        ("ServiceType", "AudioVideo"),
        // Not the export's: ignored.
        ("PageNumber", "0"),
        ("Format", "JSON"),
    ];
    let from_service = export(&store, &pairs[1..]).await.expect("export");
    for api in [Api::Rest, Api::Http] {
        let response = handle(&store, api, &pairs, Some(OWNER)).await;
        assert_eq!(response.status, 200, "{}", response.text);
        assert_eq!(response.content_type, "text/csv; charset=utf-8");
        assert_eq!(
            response.disposition.as_deref(),
            Some("attachment; filename=\"usage-app-1-AudioVideo-2026-11-20-2026-11-22.csv\"")
        );
        // Text, not base64: API Gateway sends the body on as it is, with no
        // binary media type to configure and whatever the client's `Accept`.
        assert!(!response.is_base64_encoded);
        // Byte for byte the service's file: the byte order mark first.
        assert_eq!(response.bytes[..3], [0xEF, 0xBB, 0xBF], "{api:?}");
        assert_eq!(response.bytes, from_service.text.as_bytes());
        let rows = python_reads(&response.text);
        assert_eq!(rows.len(), 3, "the header and the fixture's two rows");
        assert_eq!(
            rows[1][1..4],
            ["Demo School 演示学校", "Algebra I", "class-42"]
        );
    }
    // A window ending at midnight ends on the day before.
    let mut recording = pairs.to_vec();
    recording.retain(|(k, _)| !["EndTime", "ServiceType"].contains(k));
    recording.extend([
        ("EndTime", "2026-11-22T00:00:00Z"),
        ("ServiceType", "Recording"),
    ]);
    let response = handle(&store, Api::Rest, &recording, Some(OWNER)).await;
    assert_eq!(
        response.disposition.as_deref(),
        Some("attachment; filename=\"usage-app-1-Recording-2026-11-20-2026-11-21.csv\"")
    );
    // Errors stay JSON: another account's caller, and no caller.
    assert_error_body(
        &handle(&store, Api::Http, &pairs, Some(OTHER_ACCOUNT)).await,
        400,
        "InvalidAppIdParameter",
    );
    assert_error_body(
        &handle(&store, Api::Rest, &pairs, None).await,
        403,
        "Forbidden.RAM",
    );
}

/// Parameters to set, and the answer they lead to.
type Step<'a> = (&'a [(&'a str, &'a str)], Result<(), ErrorCode>);

#[tokio::test]
async fn validation_runs_in_the_contracts_order() {
    let store = fresh_store().await;
    ingest(&store, fixture_bodies()).await;
    ingest(
        &store,
        vec![envelope(
            "reg-other",
            "rtc.app.registered",
            json!({"appId": OTHER_APP, "ownerAccountId": OTHER_ACCOUNT}),
        )],
    )
    .await;
    // Each required parameter in turn, the later ones missing too.
    let mut pairs = vec![("Action", "ExportUsageDetails")];
    for (name, value) in [
        ("StartTime", "bad"),
        ("EndTime", "bad"),
        ("AppId", "bad app"),
        ("ServiceType", "Storage"),
    ] {
        let err = query::answer(&store, Some(OWNER), &params(&pairs), "r", now())
            .await
            .expect_err("missing");
        assert_eq!(err.code, ErrorCode::MissingParameter, "{name}");
        assert!(
            err.message.contains(&format!("\"{name}\"")),
            "{name}: {}",
            err.message
        );
        pairs.push((name, value));
    }
    // Every parameter wrong; mending one at a time moves to the next rule.
    // `PageNumber`, `PageSize` and `Interval` are not the export's: ignored.
    pairs.extend([
        ("ClassId", "bad id"),
        ("PageNumber", "0"),
        ("PageSize", "0"),
        ("Interval", "7"),
    ]);
    let steps: [Step; 10] = [
        (&[], Err(ErrorCode::InvalidStartTimeMalformed)),
        (
            &[("StartTime", "2026-11-20T00:00:00Z")],
            Err(ErrorCode::InvalidEndTimeMalformed),
        ),
        (
            &[("EndTime", "2026-11-20T00:00:00Z")],
            Err(ErrorCode::InvalidEndTimeMismatch),
        ),
        (
            &[("EndTime", "2026-12-21T00:00:01Z")],
            Err(ErrorCode::InvalidTimeSpan),
        ),
        (
            &[
                ("StartTime", "2026-11-24T00:00:00Z"),
                ("EndTime", "2026-11-25T00:00:00Z"),
            ],
            Err(ErrorCode::InvalidStartTimeValueNotSupported),
        ),
        (
            &[
                ("StartTime", "2026-11-20T00:00:00Z"),
                ("EndTime", "2026-11-21T00:00:00Z"),
            ],
            Err(ErrorCode::InvalidServiceTypeValueNotSupported),
        ),
        (
            &[("ServiceType", "AudioVideo")],
            Err(ErrorCode::InvalidClassIdMalformed),
        ),
        (
            &[("ClassId", "class-42")],
            Err(ErrorCode::InvalidAppIdParameter),
        ),
        (
            &[("AppId", OTHER_APP)],
            Err(ErrorCode::InvalidAppIdParameter),
        ),
        (&[("AppId", APP)], Ok(())),
    ];
    let mut app_errors = Vec::new();
    for (mend, expected) in steps {
        for (name, value) in mend {
            pairs.retain(|(k, _)| k != name);
            pairs.push((name, value));
        }
        let answered = query::answer(&store, Some(OWNER), &params(&pairs), "r", now()).await;
        match (&answered, expected) {
            (Ok((_, Answer::Export(file))), Ok(())) => {
                assert_eq!(file.rows, 2, "class-42's two rows")
            }
            (Err(err), Err(code)) => {
                assert_eq!(err.code, code, "{pairs:?}");
                if code == ErrorCode::InvalidAppIdParameter {
                    app_errors.push(err.clone());
                }
            }
            _ => panic!("{pairs:?}: {answered:?}, expected {expected:?}"),
        }
    }
    // An empty optional parameter is present and invalid.
    pairs.retain(|(k, _)| *k != "ClassId");
    pairs.push(("ClassId", ""));
    assert_eq!(
        ask(&store, &pairs).await.map(|_| ()),
        Err(ErrorCode::InvalidClassIdMalformed)
    );
    // Malformed, unknown and another account's app: one identical answer.
    pairs.retain(|(k, _)| !["ClassId", "AppId"].contains(k));
    for app in ["nobody", "bad app"] {
        pairs.push(("AppId", app));
        let err = query::answer(&store, Some(OWNER), &params(&pairs), "r", now())
            .await
            .expect_err("refused");
        app_errors.push(err);
        pairs.pop();
    }
    assert!(
        app_errors.windows(2).all(|w| w[0] == w[1]),
        "{app_errors:?}"
    );
    // The size limit comes last: see the limit's own test.
}

// ---------------------------------------------------------------------------
// Rows written straight through the store, to reach megabytes fast.

/// `rows` of `app`, in transactions of at most 100 actions.
async fn write_rows(store: &DynamoStore, app: &AppId, rows: &[(RowKey, u64, u64)]) {
    for chunk in rows.chunks(99) {
        let mut group = CommitGroup::default();
        for (key, ms, users) in chunk {
            group.rows.insert(
                key.clone(),
                RowAdd {
                    ms: *ms,
                    users: *users,
                },
            );
            group
                .av_changes
                .entry(app.clone())
                .or_default()
                .insert(key.day);
        }
        store.commit(&group).await.expect("rows written");
    }
}

/// Every class's start (and, with `end`, its end) as facts, several at once.
async fn write_facts(
    store: &DynamoStore,
    app: &AppId,
    classes: Vec<(ClassId, Name, UtcMillis, Option<UtcMillis>)>,
) {
    let facts: Vec<ClassFactEvent> = classes
        .into_iter()
        .flat_map(|(class, name, start, end)| {
            let started = ClassFactEvent {
                app: app.clone(),
                class: class.clone(),
                fact: ClassFact::Started { name, start },
            };
            let ended = end.map(|end| ClassFactEvent {
                app: app.clone(),
                class,
                fact: ClassFact::Ended { end },
            });
            std::iter::once(started).chain(ended)
        })
        .collect();
    let outcomes: Vec<SetOnceOutcome> = futures::stream::iter(&facts)
        .map(|fact| async move { store.apply_class_fact(fact).await.expect("a fact") })
        .buffer_unordered(16)
        .collect()
        .await;
    assert!(outcomes.iter().all(|o| *o == SetOnceOutcome::Applied));
}

fn id<T>(parse: fn(&str) -> Option<T>, text: &str) -> T {
    parse(text).unwrap_or_else(|| panic!("{text:?}"))
}

/// A name of 128 CJK characters: 384 bytes of UTF-8.
fn cjk_name(seed: usize) -> String {
    (0..128)
        .map(|i| char::from_u32(0x4E00 + ((seed * 131 + i * 7) % 20_000) as u32).expect("CJK"))
        .collect()
}

/// The 31 days of the longest window, ending with the tests' yesterday.
fn month_window() -> [(&'static str, &'static str); 2] {
    [
        ("StartTime", "2026-10-23T00:00:00Z"),
        ("EndTime", "2026-11-23T00:00:00Z"),
    ]
}

#[tokio::test]
async fn an_export_of_exactly_five_million_bytes_answers_and_one_byte_more_does_not() {
    let store = fresh_store().await;
    let app = id(AppId::parse, "big-app");
    let owner = id(AccountId::parse, OWNER);
    store
        .register_named(&app, &owner, Some(&id(Name::parse, &cjk_name(0))))
        .await
        .expect("registered");
    let first = Day(at("2026-10-23T00:00:00Z").0.div_euclid(DAY_MS));
    // The bulk: 85 classes with 128-character names and 64-character ids,
    // a row of each usage type on each of the 31 days (about 900 bytes a row).
    let classes: Vec<ClassId> = (0..85)
        .map(|i| id(ClassId::parse, &format!("{i:0>64}")))
        .collect();
    let facts = classes
        .iter()
        .enumerate()
        .map(|(i, class)| {
            let start = UtcMillis(first.start().0 + i as i64 * MINUTE_MS);
            let name = id(Name::parse, &cjk_name(i + 1));
            (
                class.clone(),
                name,
                start,
                Some(UtcMillis(start.0 + HOUR_MS)),
            )
        })
        .collect();
    write_facts(&store, &app, facts).await;
    let mut bulk = Vec::new();
    for class in &classes {
        for day in 0..31 {
            for usage in UsageType::ALL {
                let key = RowKey {
                    app: app.clone(),
                    day: Day(first.0 + day),
                    class: class.clone(),
                    usage,
                };
                bulk.push((key, 9_000, 3));
            }
        }
    }
    write_rows(&store, &app, &bulk).await;
    let window = month_window();
    let pairs = [
        window[0],
        window[1],
        ("AppId", "big-app"),
        ("ServiceType", "AudioVideo"),
    ];
    let size = |file: &CsvFile| file.text.len();
    let bulk_size = size(&export(&store, &pairs).await.expect("the bulk fits"));
    assert!(bulk_size < MAX_EXPORT_BYTES - 20_000, "{bulk_size}");

    // Rows of classes without facts, their ids from 4 to 64 characters: a
    // probe gives a row's size less its id, then rows fill the rest exactly.
    let filler = |j: usize, len: usize| {
        let text = format!("f{j:03}{}", "x".repeat(len - 4));
        RowKey {
            app: app.clone(),
            day: first,
            class: id(ClassId::parse, &text),
            usage: UsageType::Interactive,
        }
    };
    write_rows(&store, &app, &[(filler(0, 4), 9_000, 1)]).await;
    let probed = size(&export(&store, &pairs).await.expect("fits"));
    let base = probed - bulk_size - 4;
    let gap = MAX_EXPORT_BYTES - probed;
    let count = gap.div_ceil(base + 64);
    assert!(count * (base + 4) <= gap, "{gap} bytes cannot be filled");
    let mut left = gap;
    let mut fillers = Vec::new();
    for j in 1..=count {
        let share = left / (count + 1 - j);
        fillers.push((filler(j, share - base), 9_000, 1));
        left -= share;
    }
    write_rows(&store, &app, &fillers).await;
    let exact = export(&store, &pairs)
        .await
        .expect("exactly the limit answers");
    assert_eq!(size(&exact), MAX_EXPORT_BYTES);
    assert_eq!(exact.rows, bulk.len() + 1 + count);
    assert!(exact.text.ends_with("\r\n"));

    // 9 s become 10 s in one row: one byte more.
    write_rows(
        &store,
        &app,
        &[(filler(1, fillers[0].0.class.as_str().len()), 1_000, 0)],
    )
    .await;
    assert_eq!(
        export(&store, &pairs).await.map(|f| f.rows),
        Err(ErrorCode::InvalidTimeSpanTooManyRecords)
    );
    let mut request = vec![("Action", "ExportUsageDetails")];
    request.extend(pairs);
    let refused = handle(&store, Api::Rest, &request, Some(OWNER)).await;
    assert_error_body(&refused, 400, "InvalidTimeSpan.TooManyRecords");
    let body: Value = serde_json::from_str(&refused.text).expect("JSON");
    assert!(
        body["Message"]
            .as_str()
            .is_some_and(|m| m.contains("shorter time span") && m.contains("ClassId")),
        "{}",
        refused.text
    );

    // The limit is the last rule: every other failure answers first, and a
    // shorter window or one class answers.
    assert_eq!(
        ask_as(&store, OTHER_ACCOUNT, &request).await.map(|_| ()),
        Err(ErrorCode::InvalidAppIdParameter)
    );
    let mut bad_class = request.clone();
    bad_class.push(("ClassId", "bad id"));
    assert_eq!(
        ask(&store, &bad_class).await.map(|_| ()),
        Err(ErrorCode::InvalidClassIdMalformed)
    );
    let mut one_class = pairs.to_vec();
    one_class.push(("ClassId", classes[0].as_str()));
    assert_eq!(export(&store, &one_class).await.map(|f| f.rows), Ok(62));
    let shorter = [
        ("StartTime", "2026-11-01T00:00:00Z"),
        ("EndTime", "2026-11-23T00:00:00Z"),
        ("AppId", "big-app"),
        ("ServiceType", "AudioVideo"),
    ];
    assert_eq!(
        export(&store, &shorter).await.map(|f| f.rows),
        Ok(85 * 2 * 22)
    );
}
