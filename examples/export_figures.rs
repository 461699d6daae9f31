//! Figures of `ExportUsageDetails`, printed as Markdown, never asserted:
//!
//! - how many rows fit under the 5,000,000-byte limit, by the length of
//!   the names (the file's writer alone);
//! - an export of 10,000 rows against DynamoDB Local (5,000 classes, one
//!   lesson each over a 31-day window, an interactive and a playback row
//!   each): DynamoDB requests and read units, handler time, the handler's
//!   peak resident memory, the response's size.
//!
//! ```text
//! cargo run --release --example export_figures
//! ```

use futures::StreamExt;
use lambda_http::{Body, Request};
use rtc_usage::domain::class::{ClassFact, ClassFactEvent, UsageType};
use rtc_usage::domain::commit::{CommitGroup, RowAdd, RowKey};
use rtc_usage::domain::export::details_csv;
use rtc_usage::domain::ids::{AccountId, AppId, ClassId, Name};
use rtc_usage::domain::time::{Day, HOUR_MS, MINUTE_MS, UtcMillis};
use rtc_usage::domain::usage::Seconds;
use rtc_usage::domain::usage_api::{DetailsRow, MAX_EXPORT_BYTES};
use rtc_usage::entry::http;
use rtc_usage::store::UsageStore;
use rtc_usage::store::dynamo::{DynamoStore, RequestMeter};
use rtc_usage::testkit::LocalDynamo;
use serde_json::{Value, json};
use std::path::Path;
use std::time::{Duration, Instant};

const OWNER: &str = "111122223333";
const CLASSES: usize = 5_000;
const DAYS: i64 = 31;
/// Handler runs timed; the median is reported.
const RUNS: usize = 5;

fn at(text: &str) -> UtcMillis {
    UtcMillis::parse_query_time(text).expect("a query time")
}

fn parsed<T>(parse: fn(&str) -> Option<T>, text: &str) -> T {
    parse(text).unwrap_or_else(|| panic!("{text:?}"))
}

/// A name of 128 CJK characters: 384 bytes of UTF-8.
fn cjk_name() -> String {
    (0..128u32)
        .map(|i| char::from_u32(0x4E00 + i * 37).expect("CJK"))
        .collect()
}

/// A row with every cell filled: a class's facts, a dozen users, 45 minutes
/// and a fraction, none of it from packages.
fn sample_row(app_name: &str, class_name: &str) -> DetailsRow {
    DetailsRow {
        date: at("2026-11-20T00:00:00Z").day(),
        app_id: parsed(AppId::parse, "app-1"),
        app_name: Some(parsed(Name::parse, app_name)),
        class_id: Some(parsed(ClassId::parse, "class-00042")),
        class_name: Some(parsed(Name::parse, class_name)),
        start_time: Some("2026-11-20T10:00:00+00:00".to_owned()),
        end_time: Some("2026-11-20T10:45:00+00:00".to_owned()),
        usage_type: Some(UsageType::Interactive),
        user_count: Some(12),
        duration_seconds: Seconds(2_700_123),
        billable_minutes: 46,
        packages: vec![],
        package_minutes: 0,
        pay_as_you_go_minutes: 46,
    }
}

/// Rows of one kind under the limit: the size of one, and how many fit
/// (checked by writing that many, and one more).
fn rows_that_fit(row: &DetailsRow) -> (usize, usize) {
    let header = details_csv([], usize::MAX).expect("the header").len();
    let one = details_csv([row], usize::MAX).expect("a row").len() - header;
    let fit = (MAX_EXPORT_BYTES - header) / one;
    let rows = vec![row.clone(); fit + 1];
    assert!(details_csv(&rows[..fit], MAX_EXPORT_BYTES).is_ok());
    assert!(details_csv(&rows, MAX_EXPORT_BYTES).is_err());
    (one, fit)
}

fn status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Starts a new peak resident size at the current one (Linux).
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// The API Gateway (REST) fixture, asking for `pairs` as the owner.
fn request(pairs: &[(&str, &str)]) -> Request {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("events/apigw-rest-query.json");
    let mut event: Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("the fixture")).expect("JSON");
    let single: serde_json::Map<String, Value> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), json!(v)))
        .collect();
    let multi: serde_json::Map<String, Value> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), json!([v])))
        .collect();
    event["queryStringParameters"] = Value::Object(single);
    event["multiValueQueryStringParameters"] = Value::Object(multi);
    event["requestContext"]["identity"]["accountId"] = json!(OWNER);
    lambda_http::request::from_str(&event.to_string()).expect("an API Gateway payload")
}

/// 5,000 classes with their facts, two rows each, written straight through
/// the store.
async fn seed(store: &DynamoStore, app: &AppId, first: Day) {
    let owner = parsed(AccountId::parse, OWNER);
    store
        .register_named(app, &owner, Some(&parsed(Name::parse, "Demo School")))
        .await
        .expect("registered");
    let classes: Vec<(ClassId, Day)> = (0..CLASSES)
        .map(|i| {
            let class = parsed(ClassId::parse, &format!("class-{i:05}"));
            (class, Day(first.0 + i as i64 % DAYS))
        })
        .collect();
    let facts: Vec<ClassFactEvent> = classes
        .iter()
        .enumerate()
        .flat_map(|(i, (class, day))| {
            let start = UtcMillis(day.start().0 + 8 * HOUR_MS + (i as i64 % 600) * MINUTE_MS);
            let name = parsed(Name::parse, &format!("Lesson {i:05}"));
            let end = UtcMillis(start.0 + 45 * MINUTE_MS);
            [ClassFact::Started { name, start }, ClassFact::Ended { end }].map(|fact| {
                ClassFactEvent {
                    app: app.clone(),
                    class: class.clone(),
                    fact,
                }
            })
        })
        .collect();
    futures::stream::iter(&facts)
        .map(|fact| async move { store.apply_class_fact(fact).await.expect("a fact") })
        .buffer_unordered(32)
        .collect::<Vec<_>>()
        .await;
    let rows: Vec<(RowKey, RowAdd)> = classes
        .iter()
        .flat_map(|(class, day)| {
            UsageType::ALL.map(|usage| {
                let key = RowKey {
                    app: app.clone(),
                    day: *day,
                    class: class.clone(),
                    usage,
                };
                (
                    key,
                    RowAdd {
                        ms: 2_700_123,
                        users: 12,
                    },
                )
            })
        })
        .collect();
    let groups: Vec<CommitGroup> = rows
        .chunks(99)
        .map(|chunk| {
            let mut group = CommitGroup::default();
            for (key, add) in chunk {
                group.rows.insert(key.clone(), *add);
                group
                    .av_changes
                    .entry(app.clone())
                    .or_default()
                    .insert(key.day);
            }
            group
        })
        .collect();
    futures::stream::iter(&groups)
        .map(|group| async move { store.commit(group).await.expect("rows written") })
        .buffer_unordered(8)
        .collect::<Vec<_>>()
        .await;
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let cjk = cjk_name();
    println!("| names | bytes a row | rows under 5,000,000 bytes |");
    println!("| --- | ---: | ---: |");
    for (label, row) in [
        (
            "short ASCII (`Demo School`, `Lesson 00042`)",
            sample_row("Demo School", "Lesson 00042"),
        ),
        (
            "128 CJK characters for the class",
            sample_row("Demo School", &cjk),
        ),
        (
            "128 CJK characters for the class and the app",
            sample_row(&cjk, &cjk),
        ),
    ] {
        let (one, fit) = rows_that_fit(&row);
        println!("| {label} | {one} | {fit} |");
    }

    let meter = RequestMeter::default();
    let store = LocalDynamo::shared().fresh_store(Some(&meter)).await;
    let app = parsed(AppId::parse, "app-1");
    let first = at("2026-10-23T00:00:00Z").day();
    let seeding = Instant::now();
    seed(&store, &app, first).await;
    eprintln!("seeded in {:.1} s", seeding.elapsed().as_secs_f64());

    let pairs = [
        ("Action", "ExportUsageDetails"),
        ("StartTime", "2026-10-23T00:00:00Z"),
        ("EndTime", "2026-11-23T00:00:00Z"),
        ("AppId", "app-1"),
        ("ServiceType", "AudioVideo"),
    ];
    let now = at("2026-11-23T12:00:00Z");
    let mut times: Vec<Duration> = Vec::new();
    let mut peaks = Vec::new();
    let mut answer = None;
    for _ in 0..RUNS {
        let request = request(&pairs);
        meter.reset();
        let before = status_kib("VmRSS:");
        reset_peak();
        let started = Instant::now();
        let response = http::handle(&store, None, &request, now).await.0;
        times.push(started.elapsed());
        if let (Some(before), Some(peak)) = (before, status_kib("VmHWM:")) {
            peaks.push(peak.saturating_sub(before));
        }
        answer = Some((response, meter.snapshot()));
    }
    let (response, used) = answer.expect("a run");
    // The class facts alone, as the export reads them: 100 classes a request.
    let classes: Vec<ClassId> = (0..CLASSES)
        .map(|i| parsed(ClassId::parse, &format!("class-{i:05}")))
        .collect();
    let facts_started = Instant::now();
    let facts = store.class_facts(&app, &classes).await.expect("facts");
    let facts_time = facts_started.elapsed();
    assert_eq!(facts.len(), CLASSES);
    assert_eq!(response.status(), 200);
    let Body::Text(text) = response.into_body() else {
        panic!("a text body")
    };
    let rows = text.matches("\r\n").count() - 1;
    assert_eq!(rows, CLASSES * 2);
    times.sort();
    let median = times[RUNS / 2];
    // Lambda sends the body back as a JSON string inside its answer.
    let encoded = serde_json::to_string(&text).expect("JSON").len();
    println!("\n| export of {rows} rows | |");
    println!("| --- | --- |");
    let requests: Vec<String> = used
        .requests
        .iter()
        .map(|(op, n)| format!("{op} {n}"))
        .collect();
    println!(
        "| DynamoDB requests | {} ({}) |",
        used.total_requests(),
        requests.join(", ")
    );
    println!("| read units | {:.1} |", used.read_units);
    println!(
        "| handler time (median of {RUNS}, DynamoDB Local) | {:.0} ms |",
        median.as_secs_f64() * 1000.0
    );
    println!(
        "| of which the class facts ({} BatchGetItem, one after another) | {:.0} ms |",
        CLASSES.div_ceil(100),
        facts_time.as_secs_f64() * 1000.0
    );
    if let Some(peak) = peaks.iter().max() {
        println!(
            "| peak memory above the process's before the handler | {:.1} MiB |",
            *peak as f64 / 1024.0
        );
    }
    println!(
        "| response | {} bytes of CSV ({:.0} a row); {} bytes as the JSON string in Lambda's answer |",
        text.len(),
        text.len() as f64 / rows as f64,
        encoded
    );
}
