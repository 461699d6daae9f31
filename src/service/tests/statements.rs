//! Monthly statements with an injected clock, on the in-process store: the
//! figures of a month before its close equal those after it; usage, voids
//! and packages acknowledged after the close show as adjustments of that
//! month in the statement of the month they came in, and nowhere else.

use super::support::*;
use crate::domain::ids::AccountId;
use crate::domain::statement::{Calendar, Figures, Month};
use crate::domain::time::UtcMillis;
use crate::domain::zone::BillingZone;
use crate::service::ingest::{InboundMessage, IngestReport, IngestSettings, ingest_batch_in};
use crate::service::statements::{describe_statement, describe_statements, statement};
use crate::store::UsageStore;
use crate::store::memory::MemoryStore;
use serde_json::json;

const GRACE: i64 = 259_200;
const SHANGHAI: &str = "Asia/Shanghai";

fn settings() -> IngestSettings {
    IngestSettings {
        default_zone: BillingZone::parse(SHANGHAI).unwrap(),
        grace_seconds: GRACE,
        ..IngestSettings::default()
    }
}

fn calendar() -> Calendar {
    Calendar::new(BillingZone::parse(SHANGHAI).unwrap(), GRACE)
}

fn month(text: &str) -> Month {
    Month::parse(text).unwrap()
}

fn session(id: &str, user: &str, start: &str, minutes: i64) -> String {
    let start = at(start);
    let time = |t: UtcMillis| {
        chrono::DateTime::from_timestamp_millis(t.0)
            .unwrap()
            .to_rfc3339()
    };
    json!({"specversion": "1.0", "id": id, "source": "/lcic", "type": "rtc.class.session",
           "data": {"appId": "app-1", "classId": "c1", "userId": user, "role": "student",
                    "usageType": "interactive", "startTime": time(start),
                    "endTime": time(start.plus_ms(minutes * 60_000))}})
    .to_string()
}

fn void(id: &str, voided: &str) -> String {
    json!({"specversion": "1.0", "id": id, "source": "/fix", "type": "rtc.usage.voided",
           "data": {"appId": "app-1", "voidedSource": "/lcic", "voidedId": voided}})
    .to_string()
}

async fn ingest_at(store: &MemoryStore, acked: &str, bodies: &[String]) -> IngestReport {
    let messages: Vec<InboundMessage> = bodies
        .iter()
        .enumerate()
        .map(|(i, b)| InboundMessage {
            message_id: format!("m{i}"),
            body: Some(b.clone()),
        })
        .collect();
    let report = ingest_batch_in(store, &messages, at(acked), retry(), &settings()).await;
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    report
}

async fn shanghai_store() -> MemoryStore {
    let store = MemoryStore::new();
    let registration = json!({"specversion": "1.0", "id": "reg", "source": "/console",
        "type": "rtc.app.registered",
        "data": {"appId": "app-1", "ownerAccountId": OWNER, "timeZone": SHANGHAI}})
    .to_string();
    ingest_at(&store, "2026-10-01T00:00:00Z", &[registration]).await;
    store
}

async fn figures(store: &MemoryStore, of: &str, now: &str) -> (Figures, Vec<(Month, Figures)>) {
    let body = statement(store, &app("app-1"), &calendar(), month(of), at(now))
        .await
        .unwrap();
    (body.own, body.adjustments)
}

#[tokio::test]
async fn a_month_closes_with_the_figures_it_had_and_late_usage_adjusts_the_next() {
    let store = shanghai_store().await;
    // November (Shanghai): 10 + 20 minutes, acknowledged in November.
    ingest_at(
        &store,
        "2026-11-25T00:00:00Z",
        &[
            session("s1", "ann", "2026-11-20T02:00:00Z", 10),
            session("s2", "bob", "2026-11-21T02:00:00Z", 20),
        ],
    )
    .await;
    let (open, none) = figures(&store, "2026-11", "2026-11-28T00:00:00Z").await;
    assert_eq!(open.av.billable_minutes, 30);
    assert_eq!(open.av.duration_ms, 30 * 60_000);
    assert!(none.is_empty());
    // After the month's end, before its close (2026-12-03T16:00Z): still
    // November's own.
    ingest_at(
        &store,
        "2026-12-02T00:00:00Z",
        &[session("s3", "cy", "2026-11-22T02:00:00Z", 5)],
    )
    .await;
    let (before_close, _) = figures(&store, "2026-11", "2026-12-03T15:59:59Z").await;
    assert_eq!(before_close.av.billable_minutes, 35);
    // After the close: a late session of November, and a void of one of its
    // sessions, both acknowledged in December.
    ingest_at(
        &store,
        "2026-12-05T00:00:00Z",
        &[session("s4", "dan", "2026-11-23T02:00:00Z", 7)],
    )
    .await;
    ingest_at(&store, "2026-12-06T00:00:00Z", &[void("v1", "s1")]).await;
    let (after_close, _) = figures(&store, "2026-11", "2026-12-10T00:00:00Z").await;
    assert_eq!(after_close, before_close, "a closed month never changes");
    assert_eq!(
        store
            .statement(&app("app-1"), month("2026-11"))
            .await
            .unwrap(),
        None,
        "queries compute a closed statement; only the rollup keeps it"
    );
    let prepared = crate::service::statements::prepare_closed(
        &store,
        [app("app-1")],
        GRACE,
        at("2026-12-10T00:00:00Z"),
    )
    .await
    .unwrap();
    assert_eq!(prepared, 1);
    let kept = store
        .statement(&app("app-1"), month("2026-11"))
        .await
        .unwrap()
        .expect("kept by the rollup's step");
    assert_eq!(kept.own, before_close);
    // December's statement carries November's adjustment: +7 − 10 minutes.
    let (december, adjustments) = figures(&store, "2026-12", "2026-12-10T00:00:00Z").await;
    assert_eq!(december.av.billable_minutes, 0);
    assert_eq!(adjustments.len(), 1, "{adjustments:?}");
    let (of, change) = adjustments[0];
    assert_eq!(of, month("2026-11"));
    assert_eq!(change.av.billable_minutes, 7 - 10);
    assert_eq!(change.av.duration_ms, (7 - 10) * 60_000);
    assert_eq!(change.av.pay_as_you_go_minutes, -3);
    // What each statement bills: its own month plus what it carries.
    let answer = describe_statements(
        &store,
        &AccountId::parse(OWNER).unwrap(),
        &app("app-1"),
        GRACE,
        "req",
        at("2026-12-10T00:00:00Z"),
    )
    .await
    .unwrap();
    let billed: Vec<(String, i64, &str)> = answer
        .statements
        .iter()
        .take(2)
        .map(|s| {
            (
                s.month.to_string(),
                s.audio_video_billable_minutes,
                match s.status {
                    crate::domain::usage_api::StatementStatus::Open => "Open",
                    crate::domain::usage_api::StatementStatus::Closed => "Closed",
                },
            )
        })
        .collect();
    assert_eq!(
        billed,
        [
            ("2026-12".to_owned(), -3, "Open"),
            ("2026-11".to_owned(), 35, "Closed")
        ]
    );
    assert_eq!(answer.statements.len(), 13);
}

#[tokio::test]
async fn months_outside_the_thirteen_answered_are_refused() {
    let store = shanghai_store().await;
    let ask = |m: &'static str| {
        let store = &store;
        async move {
            describe_statement(
                store,
                &AccountId::parse(OWNER).unwrap(),
                &app("app-1"),
                month(m),
                GRACE,
                "req",
                at("2026-12-01T00:00:00Z"),
            )
            .await
            .map(|a| a.month.to_string())
            .map_err(|e| e.code)
        }
    };
    assert_eq!(ask("2026-12").await, Ok("2026-12".into()));
    assert_eq!(ask("2025-12").await, Ok("2025-12".into()));
    for m in ["2025-11", "2027-01"] {
        assert_eq!(
            ask(m).await,
            Err(crate::domain::error::ErrorCode::InvalidMonthValueNotSupported),
            "{m}"
        );
    }
}
