//! An app's billing time zone through the services: what a registration
//! fixes and what it may not change, hand-worked answers in Shanghai, and
//! usage that arrives before the registration.

use super::support::*;
use crate::domain::query::QueryParams;
use crate::domain::time::UtcMillis;
use crate::domain::zone::BillingZone;
use crate::service::ingest::{
    FailureKind, InboundMessage, IngestSettings, ingest_batch, ingest_batch_in,
};
use crate::service::query::{Answer, answer};
use crate::store::UsageStore;
use crate::store::memory::MemoryStore;
use serde_json::{Value, json};

fn message(id: &str, body: String) -> InboundMessage {
    InboundMessage {
        message_id: id.to_owned(),
        body: Some(body),
    }
}

fn register(app: &str, id: &str, data: Value) -> String {
    let mut data = data;
    data["appId"] = json!(app);
    data["ownerAccountId"] = json!(OWNER);
    json!({"specversion": "1.0", "id": id, "source": "/rtc/console",
           "type": "rtc.app.registered", "data": data})
    .to_string()
}

fn session(app: &str, id: &str, start: &str, end: &str) -> String {
    json!({"specversion": "1.0", "id": id, "source": "/lcic/classroom",
           "type": "rtc.class.session",
           "data": {"appId": app, "classId": "morning", "userId": "ann", "role": "student",
                    "usageType": "interactive", "startTime": start, "endTime": end}})
    .to_string()
}

fn package(app: &str, id: &str, from: &str, to: &str) -> String {
    json!({"specversion": "1.0", "id": id, "source": "/lcic/billing",
           "type": "rtc.package.purchased",
           "data": {"appId": app, "packageId": id, "packageName": "December",
                    "minutes": 100, "validFrom": from, "validTo": to}})
    .to_string()
}

async fn ask(store: &MemoryStore, pairs: &[(&str, &str)]) -> Value {
    ask_at(store, pairs, now()).await
}

async fn ask_at(store: &MemoryStore, pairs: &[(&str, &str)], at: UtcMillis) -> Value {
    let params = QueryParams::from_pairs(pairs.iter().copied());
    let (_, answer) = answer(store, Some(OWNER), &params, "req-1", at)
        .await
        .unwrap_or_else(|e| panic!("{pairs:?}: {e:?}"));
    match answer {
        Answer::Apps(a) => serde_json::to_value(a),
        Answer::UsageData(a) => serde_json::to_value(a),
        Answer::Details(a) => serde_json::to_value(a),
        Answer::Packages(a) => serde_json::to_value(a),
        Answer::RecordUsage(a) => serde_json::to_value(a),
        Answer::Statement(a) => serde_json::to_value(a),
        Answer::Statements(a) => serde_json::to_value(a),
        Answer::Alerts(a) => serde_json::to_value(a),
        Answer::Export(_) => panic!("a file"),
    }
    .unwrap()
}

async fn ingest(store: &MemoryStore, messages: &[InboundMessage]) -> Vec<(String, FailureKind)> {
    ingest_at(store, messages, now()).await
}

async fn ingest_at(
    store: &MemoryStore,
    messages: &[InboundMessage],
    at: UtcMillis,
) -> Vec<(String, FailureKind)> {
    ingest_batch(store, messages, at, retry())
        .await
        .failures
        .into_iter()
        .map(|f| (f.message_id, f.kind))
        .collect()
}

/// A Shanghai package valid from 2026-12-01 covers a session at
/// 2026-11-30T16:30Z (00:30 on 1 December in Shanghai), whose row is on
/// that local day; in UTC the same session is on 30 November and the
/// package does not cover it.
#[tokio::test]
async fn a_shanghai_package_from_december_covers_a_session_at_16_30z_on_november_30() {
    let store = MemoryStore::new();
    let batch = [
        message(
            "r1",
            register("sh", "r-sh", json!({"timeZone": "Asia/Shanghai"})),
        ),
        message("r2", register("utc", "r-utc", json!({}))),
        message(
            "s1",
            session("sh", "s-sh", "2026-11-30T16:30:00Z", "2026-11-30T16:40:00Z"),
        ),
        message(
            "s2",
            session(
                "utc",
                "s-utc",
                "2026-11-30T16:30:00Z",
                "2026-11-30T16:40:00Z",
            ),
        ),
        message("p1", package("sh", "p-sh", "2026-12-01", "2026-12-31")),
        message("p2", package("utc", "p-utc", "2026-12-01", "2026-12-31")),
    ];
    // Early in December, when those days have passed.
    let later = at("2026-12-02T00:00:00Z");
    assert_eq!(ingest_at(&store, &batch, later).await, []);
    let details = |app: &'static str| {
        [
            ("Action", "DescribeUsageDetails"),
            ("StartTime", "2026-11-30T00:00:00Z"),
            ("EndTime", "2026-12-01T00:00:00Z"),
            ("AppId", app),
            ("ServiceType", "AudioVideo"),
        ]
    };
    let sh = ask_at(&store, &details("sh"), later).await;
    assert_eq!(sh["TimeZone"], "Asia/Shanghai");
    assert_eq!(sh["Records"][0]["Date"], "2026-12-01");
    assert_eq!(sh["Records"][0]["PackageMinutes"], 10);
    assert_eq!(sh["Records"][0]["PayAsYouGoMinutes"], 0);
    let utc = ask_at(&store, &details("utc"), later).await;
    assert_eq!(utc["TimeZone"], "UTC");
    assert_eq!(utc["Records"][0]["Date"], "2026-11-30");
    assert_eq!(utc["Records"][0]["PackageMinutes"], 0);
    assert_eq!(utc["Records"][0]["PayAsYouGoMinutes"], 10);

    // The daily trend: Shanghai's day starts at 16:00Z and is written so.
    let trend = ask_at(
        &store,
        &[
            ("Action", "DescribeUsageData"),
            ("StartTime", "2026-11-30T16:00:00Z"),
            ("EndTime", "2026-12-01T16:00:00Z"),
            ("AppId", "sh"),
            ("ServiceType", "AudioVideo"),
            ("Interval", "86400"),
        ],
        later,
    )
    .await;
    assert_eq!(trend["Data"].as_array().unwrap().len(), 1);
    assert_eq!(trend["Data"][0]["Timestamp"], "2026-12-01T00:00:00+08:00");
    assert_eq!(trend["Data"][0]["InteractiveDuration"], 600);
    let apps = ask(&store, &[("Action", "DescribeApps")]).await;
    assert_eq!(
        apps["Apps"],
        json!([{"AppId": "sh", "AppName": null, "TimeZone": "Asia/Shanghai"},
               {"AppId": "utc", "AppName": null, "TimeZone": "UTC"}])
    );
}

/// A second registration naming another zone is refused and changes
/// nothing, its name included; one naming a link to the same zone, or no
/// zone, is taken (and names the app, which had no name).
#[tokio::test]
async fn a_registration_cannot_change_the_zone() {
    let store = MemoryStore::new();
    let first = [message(
        "r1",
        register("k", "r-1", json!({"timeZone": "Asia/Kolkata"})),
    )];
    assert_eq!(ingest(&store, &first).await, []);
    let other = [
        message(
            "r2",
            register(
                "k",
                "r-2",
                json!({"timeZone": "Asia/Kathmandu", "appName": "Not applied"}),
            ),
        ),
        message(
            "r3",
            register(
                "k",
                "r-3",
                json!({"timeZone": "UTC", "appName": "Nor this"}),
            ),
        ),
    ];
    let report = ingest_batch(&store, &other, now(), retry()).await;
    let refused: Vec<(&str, FailureKind)> = report
        .failures
        .iter()
        .map(|f| (f.message_id.as_str(), f.kind))
        .collect();
    assert_eq!(
        refused,
        [("r2", FailureKind::Invalid), ("r3", FailureKind::Invalid)]
    );
    assert!(
        report.failures[0].reason.contains("Asia/Kolkata"),
        "{}",
        report.failures[0].reason
    );
    let registration = store.registration(&app("k")).await.unwrap().unwrap();
    assert_eq!(registration.zone.name(), "Asia/Kolkata");
    assert_eq!(
        registration.name, None,
        "nothing of a refused one is applied"
    );

    let same = [message(
        "r4",
        register(
            "k",
            "r-4",
            json!({"timeZone": "Asia/Calcutta", "appName": "Named"}),
        ),
    )];
    assert_eq!(ingest(&store, &same).await, []);
    let registration = store.registration(&app("k")).await.unwrap().unwrap();
    assert_eq!(
        registration.zone.name(),
        "Asia/Kolkata",
        "the name first fixed stays"
    );
    assert_eq!(registration.name.unwrap().as_str(), "Named");
}

/// Usage before the registration is counted in the zone the registration
/// then fixes: the deployment's default when it names none.
#[tokio::test]
async fn usage_before_the_registration_lands_in_the_zone_it_fixes() {
    let store = MemoryStore::new();
    let early = [message(
        "s1",
        session(
            "early",
            "s-1",
            "2026-11-20T23:30:00Z",
            "2026-11-20T23:45:00Z",
        ),
    )];
    let tokyo = BillingZone::parse("Asia/Tokyo").unwrap();
    let in_tokyo = IngestSettings {
        default_zone: tokyo.clone(),
        ..IngestSettings::default()
    };
    let report = ingest_batch_in(&store, &early, now(), retry(), &in_tokyo).await;
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    assert_eq!(report.counted, 1, "acknowledged and parked");
    assert_eq!(store.parked(&app("early")).await.unwrap().len(), 1);
    // The same event again: already counted.
    let report = ingest_batch_in(&store, &early, now(), retry(), &in_tokyo).await;
    assert_eq!((report.counted, report.duplicates), (0, 1));

    let registration = [message("r1", register("early", "r-1", json!({})))];
    let report = ingest_batch_in(&store, &registration, now(), retry(), &in_tokyo).await;
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    assert!(store.parked(&app("early")).await.unwrap().is_empty());
    let details = ask(
        &store,
        &[
            ("Action", "DescribeUsageDetails"),
            ("StartTime", "2026-11-20T00:00:00Z"),
            ("EndTime", "2026-11-22T00:00:00Z"),
            ("AppId", "early"),
            ("ServiceType", "AudioVideo"),
        ],
    )
    .await;
    assert_eq!(details["TimeZone"], "Asia/Tokyo");
    assert_eq!(details["TotalCount"], 1);
    // 23:30Z is 08:30 the next morning in Tokyo.
    assert_eq!(details["Records"][0]["Date"], "2026-11-21");
    assert_eq!(details["Records"][0]["DurationSeconds"], 900);
}
