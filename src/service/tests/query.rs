//! The query service's answers: every bucket exact at both intervals, the
//! same whether or not the rollup ran, and one answer for every app the
//! caller may not see.

use super::support::*;
use crate::domain::error::{ApiError, ErrorCode};
use crate::domain::query::{QueryParams, UsageReport};
use crate::domain::rollup::RollupRequest;
use crate::domain::time::{DAY_MS, HOUR_MS, UtcMillis};
use crate::domain::usage::{RecordMode, Seconds, Tier};
use crate::service::query::{Answer, answer};
use crate::service::rollup::{Deadline, run_rollup};
use crate::store::UsageStore;
use crate::store::faulty::{FaultPlan, FaultyStore};
use crate::store::memory::MemoryStore;
use std::collections::BTreeMap;

const APPS: [&str; 2] = ["app-1", "app-2"];
const WINDOW: (&str, &str) = ("2026-10-24T00:00:00Z", "2026-11-23T00:00:00Z");

fn params(app: &str, start: &str, end: &str, mode: &str, interval: Option<&str>) -> QueryParams {
    let mut pairs = vec![
        ("Action", "DescribeLiveRtcRecordUsageData"),
        ("AppId", app),
        ("StartTime", start),
        ("EndTime", end),
        ("RecordMode", mode),
    ];
    if let Some(interval) = interval {
        pairs.push(("Interval", interval));
    }
    QueryParams::from_pairs(pairs)
}

async fn ask(
    store: &(impl UsageStore + crate::store::AlertStore),
    caller: Option<&str>,
    params: &QueryParams,
) -> Result<UsageReport, ApiError> {
    match answer(store, caller, params, "req-1", now()).await? {
        (_, Answer::RecordUsage(report)) => Ok(report),
        (action, _) => panic!("answered as {action:?}"),
    }
}

/// app-1 belongs to the caller, app-2 to another account; both have usage.
async fn two_owners(seed: u64) -> (MemoryStore, Vec<Seg>) {
    let store = MemoryStore::new();
    let anchors = ["2026-10-30T00:00:00Z", "2026-11-21T23:00:00Z"];
    let segments = random_segments(&mut rng(seed), 80, &APPS, &anchors);
    let mut bodies = vec![
        registration_body("app-1", OWNER),
        registration_body("app-2", OTHER_ACCOUNT),
    ];
    bodies.extend(segments.iter().map(Seg::body));
    let out = deliver(&store, &mut rng(seed), &bodies, 10).await;
    assert!(out.invalid.is_empty());
    (store, segments)
}

/// Every point of the answer against the reference: bucket by bucket,
/// zeros included, each total the sum of its tiers, each summary the sum of
/// its column.
fn assert_answer(
    answer: &UsageReport,
    reference: &BTreeMap<(String, UtcMillis), crate::domain::usage::ModeUsage>,
    app: &str,
    mode: RecordMode,
    size: i64,
) {
    let (start, end) = (at(WINDOW.0), at(WINDOW.1));
    let expected_points = ((end.0 - start.0) / size) as usize;
    assert_eq!(answer.data.len(), expected_points);
    let tiers = [Tier::Audio, Tier::V480, Tier::V720, Tier::V1080];
    let mut sums = [0u64; 4];
    for (i, point) in answer.data.iter().enumerate() {
        let bucket = UtcMillis(start.0 + i as i64 * size);
        assert_eq!(point.timestamp, bucket.format_query_time());
        let want = reference
            .get(&(app.to_owned(), bucket))
            .map(|u| *u.mode(mode))
            .unwrap_or_default();
        let got = [
            point.audio_duration,
            point.v480_duration,
            point.v720_duration,
            point.v1080_duration,
        ];
        for (t, tier) in tiers.iter().enumerate() {
            assert_eq!(
                got[t],
                Seconds(want.get(*tier)),
                "{app} {tier:?} at {}",
                point.timestamp
            );
            sums[t] += want.get(*tier);
        }
        assert_eq!(point.total_duration, Seconds(want.total()));
    }
    assert_eq!(
        [
            answer.audio_summary_duration,
            answer.v480_summary_duration,
            answer.v720_summary_duration,
            answer.v1080_summary_duration,
        ],
        sums.map(Seconds)
    );
    assert_eq!(answer.total_summary_duration, Seconds(sums.iter().sum()));
}

async fn all_answers(
    store: &(impl UsageStore + crate::store::AlertStore),
    interval: &str,
) -> Vec<UsageReport> {
    let mut answers = Vec::new();
    for mode in ["0", "1"] {
        let p = params("app-1", WINDOW.0, WINDOW.1, mode, Some(interval));
        answers.push(ask(store, Some(OWNER), &p).await.unwrap());
    }
    answers
}

#[tokio::test]
async fn hourly_and_daily_answers_equal_the_reference() {
    let (store, segments) = two_owners(31).await;
    let reference = Reference::of(&segments);
    for (mode, text) in [(RecordMode::SingleStream, "0"), (RecordMode::Mixed, "1")] {
        let hourly = ask(
            &store,
            Some(OWNER),
            &params("app-1", WINDOW.0, WINDOW.1, text, None),
        )
        .await
        .unwrap();
        assert_eq!(
            (hourly.app_id.as_str(), hourly.record_mode.as_str()),
            ("app-1", text)
        );
        assert_answer(&hourly, &reference.hourly, "app-1", mode, HOUR_MS);
        let daily = ask(
            &store,
            Some(OWNER),
            &params("app-1", WINDOW.0, WINDOW.1, text, Some("86400")),
        )
        .await
        .unwrap();
        assert_answer(&daily, &reference.daily, "app-1", mode, DAY_MS);
    }
}

#[tokio::test]
async fn answers_are_the_same_before_and_after_the_rollup_and_after_late_events() {
    let (store, mut segments) = two_owners(32).await;
    let hourly = all_answers(&store, "3600").await;
    let daily = all_answers(&store, "86400").await;
    let report = run_rollup(&store, &RollupRequest::Scheduled, Deadline::none()).await;
    assert!(report.days_written > 0);
    assert_eq!(all_answers(&store, "3600").await, hourly);
    assert_eq!(
        all_answers(&store, "86400").await,
        daily,
        "rolled days answer as their hours did"
    );

    // A late event into a rolled day: answered at once, before any rollup,
    // while the other days come from their rolled totals.
    let start = segments
        .iter()
        .find(|s| s.app == "app-1" && s.start >= at(WINDOW.0))
        .expect("app-1 has usage in the window")
        .start;
    let (first, last) = whole_range();
    let rolled = store
        .days(&app("app-1"), first.day(), last.day())
        .await
        .unwrap();
    assert!(rolled.iter().any(|d| d.day == start.day() && d.is_rolled()));
    let late = Seg {
        id: "late".into(),
        app: "app-1".into(),
        mode: RecordMode::Mixed,
        tier: Tier::V480,
        start,
        end: start.plus_ms(90_250),
    };
    deliver(&store, &mut rng(1), &[late.body()], 1).await;
    segments.push(late);
    let reference = Reference::of(&segments);
    let daily = all_answers(&store, "86400").await;
    assert_answer(
        &daily[1],
        &reference.daily,
        "app-1",
        RecordMode::Mixed,
        DAY_MS,
    );
    assert_answer(
        &daily[0],
        &reference.daily,
        "app-1",
        RecordMode::SingleStream,
        DAY_MS,
    );
    run_rollup(&store, &RollupRequest::Scheduled, Deadline::none()).await;
    assert_eq!(all_answers(&store, "86400").await, daily);
}

#[tokio::test]
async fn an_app_of_another_account_answers_exactly_like_an_unknown_one() {
    let (store, _) = two_owners(33).await;
    let answer = |app: &'static str| {
        let store = &store;
        async move {
            ask(
                store,
                Some(OWNER),
                &params(app, WINDOW.0, WINDOW.1, "0", None),
            )
            .await
        }
    };
    let expected = Err(ApiError::new(ErrorCode::InvalidAppIdParameter));
    assert_eq!(
        answer("app-2").await,
        expected,
        "another account's app, with usage"
    );
    assert_eq!(answer("app-nobody").await, expected, "never registered");
    assert_eq!(answer("app 1").await, expected, "malformed");
    // The owner of app-2 is answered.
    let theirs = ask(
        &store,
        Some(OTHER_ACCOUNT),
        &params("app-2", WINDOW.0, WINDOW.1, "0", None),
    )
    .await;
    assert!(theirs.is_ok());
}

#[tokio::test]
async fn a_request_without_a_caller_is_refused_first() {
    let (store, _) = two_owners(34).await;
    let bad = params("app-1", "not a time", WINDOW.1, "0", None);
    for caller in [None, Some("")] {
        let err = ask(&store, caller, &bad).await.unwrap_err();
        assert_eq!(err.code, ErrorCode::ForbiddenRam);
    }
}

#[tokio::test]
async fn a_storage_failure_answers_internal_error() {
    let (memory, _) = two_owners(35).await;
    let store = FaultyStore::new(
        memory,
        FaultPlan {
            fail_before_per_mille: 1_000,
            ..FaultPlan::default()
        },
    );
    let err = ask(
        &store,
        Some(OWNER),
        &params("app-1", WINDOW.0, WINDOW.1, "0", None),
    )
    .await
    .unwrap_err();
    assert_eq!(err, ApiError::new(ErrorCode::InternalError));
}
