//! The rollup: exact, idempotent, safe against events landing mid-roll,
//! bounded by a deadline read from a clock the tests move themselves.

use super::support::*;
use crate::domain::rollup::RollupRequest;
use crate::domain::time::{Day, HOUR_MS, Hour};
use crate::domain::usage::{ModeUsage, RecordMode, Tier};
use crate::service::rollup::{Clock, Deadline, ManualClock, RollupReport, run_rollup};
use crate::store::faulty::{FaultPlan, FaultyStore};
use crate::store::memory::{MemoryStore, PENDING_PAGE_SIZE};
use crate::store::*;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

const APPS: [&str; 3] = ["app-a", "app-b", "app-c"];

async fn roll(store: &impl UsageStore) -> RollupReport {
    run_rollup(store, &RollupRequest::Scheduled, Deadline::none()).await
}

async fn backfill(
    store: &impl UsageStore,
    from: &str,
    to: &str,
    app: Option<&str>,
) -> RollupReport {
    let request = RollupRequest::Backfill {
        from: Day::parse_key(from).unwrap(),
        to: Day::parse_key(to).unwrap(),
        app: app.map(super::support::app),
    };
    run_rollup(store, &request, Deadline::none()).await
}

/// Ingests the segments without faults.
async fn ingest(store: &impl UsageStore, segments: &[Seg]) {
    let bodies: Vec<String> = segments.iter().map(Seg::body).collect();
    let out = deliver(store, &mut rng(0), &bodies, 10).await;
    assert_eq!(out.counted, segments.len());
}

async fn random_workload(store: &impl UsageStore, seed: u64, n: usize) -> Vec<Seg> {
    let anchors = [
        "2026-11-03T00:00:00Z",
        "2026-11-10T12:00:00Z",
        "2026-11-20T23:00:00Z",
    ];
    let segments = random_segments(&mut rng(seed), n, &APPS, &anchors);
    ingest(store, &segments).await;
    segments
}

/// One hour of audio at noon of each of `days` consecutive days from `first`.
fn one_per_day(app: &str, first: &str, days: usize) -> Vec<Seg> {
    let first = Day::parse_key(first).unwrap();
    (0..days)
        .map(|i| Seg {
            id: format!("{app}-day-{i}"),
            app: app.to_owned(),
            mode: RecordMode::SingleStream,
            tier: Tier::Audio,
            start: Day(first.0 + i as i64).start().plus_ms(12 * HOUR_MS),
            end: Day(first.0 + i as i64).start().plus_ms(13 * HOUR_MS),
        })
        .collect()
}

/// Every day with data is rolled, its totals exactly the reference's, and
/// nothing is left marked.
async fn assert_all_rolled(store: &impl UsageStore, reference: &Reference, apps: &[&str]) {
    for name in apps {
        let records = stored_days(store, name).await;
        let want = reference.days_of(name);
        assert_eq!(
            records.keys().collect::<Vec<_>>(),
            want.keys().collect::<Vec<_>>(),
            "day records of {name}"
        );
        for (day, record) in &records {
            assert!(record.is_rolled(), "{name} {}: {record:?}", day.key());
            assert_eq!(record.rolled, want[day], "{name} {}", day.key());
        }
    }
    assert!(all_pending(store).await.is_empty(), "nothing left marked");
}

/// The (app, day) pairs rolled and exact, and those still waiting.
async fn split_rolled(
    store: &impl UsageStore,
    reference: &Reference,
    apps: &[&str],
) -> (usize, usize) {
    let (mut rolled, mut waiting) = (0, 0);
    for name in apps {
        let want = reference.days_of(name);
        for (day, record) in stored_days(store, name).await {
            if record.is_rolled() {
                assert_eq!(record.rolled, want[&day], "{name} {}", day.key());
                rolled += 1;
            } else {
                waiting += 1;
            }
        }
    }
    (rolled, waiting)
}

#[tokio::test]
async fn a_scheduled_run_rolls_every_changed_day_and_a_repeat_changes_nothing() {
    let store = registered_store().await;
    let segments = random_workload(&store, 7, 100).await;
    let reference = Reference::of(&segments);
    let days = reference.days().len();
    assert_eq!(
        all_pending(&store).await.len(),
        days,
        "every changed day is marked"
    );

    let first = roll(&store).await;
    assert_eq!(
        first,
        RollupReport {
            mode: "scheduled",
            aggregates_written: 2 * days,
            days_written: days,
            complete: true,
            ..RollupReport::default()
        }
    );
    assert_all_rolled(&store, &reference, &APPS).await;

    let before: Vec<_> = futures::future::join_all(APPS.map(|a| stored_days(&store, a))).await;
    let second = roll(&store).await;
    assert_eq!(
        second,
        RollupReport {
            mode: "scheduled",
            complete: true,
            ..RollupReport::default()
        }
    );
    let after: Vec<_> = futures::future::join_all(APPS.map(|a| stored_days(&store, a))).await;
    assert_eq!(before, after);
}

#[tokio::test]
async fn a_run_over_several_pages_of_work_rolls_every_page() {
    let store = registered_store().await;
    let segments: Vec<Seg> = APPS
        .iter()
        .flat_map(|a| one_per_day(a, "2026-06-01", 80))
        .collect();
    ingest(&store, &segments).await;
    assert!(all_pending(&store).await.len() > 2 * PENDING_PAGE_SIZE);
    let report = roll(&store).await;
    assert_eq!((report.days_written, report.complete), (240, true));
    assert_all_rolled(&store, &Reference::of(&segments), &APPS).await;
}

#[tokio::test]
async fn days_listed_by_a_lagging_work_list_are_found_already_rolled() {
    let store = Scripted::new(registered_store().await);
    let segments = random_workload(&store, 8, 40).await;
    let reference = Reference::of(&segments);
    let days = reference.days().len();
    let stale_page = store.inner.pending_days(None).await.unwrap();
    assert_eq!(stale_page.days.len(), days);
    roll(&store).await;
    // The index has not caught up with the removed marks: a second run
    // (or one overlapping the first) is given the same days again.
    store.lagging_pages.lock().unwrap().push_back(stale_page);
    let again = roll(&store).await;
    assert_eq!(
        (
            again.days_already_rolled,
            again.days_written,
            again.complete
        ),
        (days, 0, true),
        "{again:?}"
    );
    assert_all_rolled(&store, &reference, &APPS).await;
}

#[tokio::test]
async fn late_events_mark_only_their_days_and_the_next_run_takes_them_in() {
    let store = registered_store().await;
    let mut segments = random_workload(&store, 9, 60).await;
    roll(&store).await;
    let late: Vec<Seg> = one_per_day("app-b", "2026-11-02", 3)
        .into_iter()
        .map(|mut s| {
            s.id = format!("late-{}", s.id);
            s
        })
        .collect();
    ingest(&store, &late).await;
    segments.extend(late.iter().cloned());
    let marked: Vec<(String, Day)> = all_pending(&store)
        .await
        .into_iter()
        .map(|p| (p.app.as_str().to_owned(), p.day))
        .collect();
    assert_eq!(
        marked,
        Reference::of(&late).days().into_iter().collect::<Vec<_>>()
    );
    let report = roll(&store).await;
    assert_eq!(report.days_written, 3);
    assert_all_rolled(&store, &Reference::of(&segments), &APPS).await;
}

#[tokio::test]
async fn a_backfill_recomputes_its_range_for_every_app_or_for_one() {
    let store = registered_store().await;
    let segments = random_workload(&store, 10, 60).await;
    let reference = Reference::of(&segments);
    roll(&store).await;
    // Wrong totals on a rolled day, as a bug or a bad restore might leave them.
    let victim_app = app("app-a");
    let (victim, record) = stored_days(&store, "app-a")
        .await
        .into_iter()
        .next()
        .unwrap();
    let mut wrong = ModeUsage::default();
    wrong.add(RecordMode::Mixed, Tier::V1080, 123_456);
    assert_eq!(
        store
            .write_day(&victim_app, victim, &wrong, record.seq)
            .await
            .unwrap(),
        WriteDayOutcome::Written
    );

    // The whole window and empty days around it, every app.
    let report = backfill(&store, "2026-10-25", "2026-11-30", None).await;
    assert!(report.complete);
    assert_eq!(
        report.days_written,
        reference.days().len(),
        "days with data only"
    );
    assert_all_rolled(&store, &reference, &APPS).await;

    // One app only.
    let report = backfill(&store, "2026-10-25", "2026-11-30", Some("app-b")).await;
    assert_eq!(report.days_written, reference.days_of("app-b").len());

    // Days without data: nothing to write, nothing created.
    let report = backfill(&store, "2026-01-01", "2026-01-31", None).await;
    assert_eq!((report.days_written, report.complete), (0, true));
    let report = backfill(&store, "2026-01-01", "2026-01-31", Some("app-c")).await;
    assert_eq!((report.days_written, report.complete), (0, true));
    assert_all_rolled(&store, &reference, &APPS).await;
}

#[tokio::test]
async fn an_event_landing_between_snapshot_and_write_keeps_its_day_marked() {
    let store = Scripted::new(registered_store().await);
    let day = Day::parse_key("2026-11-20").unwrap();
    let hour = |h: i64| Hour(day.first_hour().0 + h);
    store
        .inner
        .commit(&one_event("first", "app-a", hour(1), 1_000))
        .await
        .unwrap();
    // Every attempt of this run sees another event land after its snapshot.
    store
        .land_after_snapshot
        .lock()
        .unwrap()
        .extend((2..=4).map(|h| one_event(&format!("landing-{h}"), "app-a", hour(h), 1_000)));
    let report = roll(&store).await;
    assert_eq!(
        (report.days_written, report.days_deferred, report.complete),
        (0, 1, true),
        "{report:?}"
    );
    assert!(
        store.land_after_snapshot.lock().unwrap().is_empty(),
        "three attempts"
    );
    assert_eq!(all_pending(&store).await.len(), 1, "still marked");
    let record = &stored_days(&store, "app-a").await[&day];
    assert!(!record.is_rolled(), "{record:?}");

    // One more lands during the next run's first attempt; its second writes
    // the day with every event in it.
    store
        .land_after_snapshot
        .lock()
        .unwrap()
        .push_back(one_event("landing-5", "app-a", hour(5), 1_000));
    let report = roll(&store).await;
    assert_eq!((report.days_written, report.days_deferred), (1, 0));
    let record = &stored_days(&store, "app-a").await[&day];
    assert!(record.is_rolled());
    assert_eq!(record.rolled.mode(RecordMode::SingleStream).total(), 5_000);
    assert!(all_pending(&store).await.is_empty());
}

/// A clock that moves one second per day written, and a deadline `budget`
/// seconds ahead on it.
fn timed(store: MemoryStore, budget: u64) -> (Scripted<MemoryStore>, Deadline) {
    let clock = Arc::new(ManualClock::new());
    let deadline = Deadline::before_on(
        clock.clone(),
        clock.now() + Duration::from_secs(budget),
        Duration::ZERO,
    );
    (
        Scripted::with_clock(store, clock, Duration::from_secs(1)),
        deadline,
    )
}

#[tokio::test]
async fn a_run_cut_by_its_deadline_did_work_left_work_and_the_next_finishes() {
    let segments = one_per_day("app-a", "2026-10-01", 40);
    let reference = Reference::of(&segments);
    let memory = registered_store().await;
    ingest(&memory, &segments).await;
    let (store, deadline) = timed(memory, 10);
    let cut = run_rollup(&store, &RollupRequest::Scheduled, deadline).await;
    assert!(!cut.complete, "{cut:?}");
    assert!(cut.days_written > 0 && cut.days_left > 0, "{cut:?}");
    // One page holds all 40, so every day is either written or counted left.
    assert_eq!(cut.days_written + cut.days_left, 40, "{cut:?}");
    assert_eq!(all_pending(&store).await.len(), cut.days_left);
    assert_eq!(
        split_rolled(&store, &reference, &["app-a"]).await,
        (cut.days_written, cut.days_left)
    );

    let rest = roll(&store).await;
    assert!(rest.complete, "{rest:?}");
    assert_eq!(rest.days_written, cut.days_left);
    assert_all_rolled(&store, &reference, &["app-a"]).await;
}

#[tokio::test]
async fn a_run_out_of_time_before_its_first_page_says_work_is_left() {
    let segments: Vec<Seg> = APPS
        .iter()
        .flat_map(|a| one_per_day(a, "2026-06-01", 50))
        .collect();
    let memory = registered_store().await;
    ingest(&memory, &segments).await;
    let (store, deadline) = timed(memory, 0);
    assert!(deadline.passed());
    let report = run_rollup(&store, &RollupRequest::Scheduled, deadline).await;
    // It read one page to count, took nothing, and cannot know the rest.
    assert_eq!(
        report,
        RollupReport {
            mode: "scheduled",
            days_left: PENDING_PAGE_SIZE,
            complete: false,
            ..RollupReport::default()
        }
    );
    assert_eq!(all_pending(&store).await.len(), 150, "nothing taken");

    // With nothing marked, a run out of time has nothing left either.
    let (idle, deadline) = timed(registered_store().await, 0);
    let report = run_rollup(&idle, &RollupRequest::Scheduled, deadline).await;
    assert_eq!((report.days_left, report.complete), (0, true));
}

#[tokio::test]
async fn a_run_cut_between_pages_counts_the_page_it_did_not_take() {
    let segments: Vec<Seg> = APPS
        .iter()
        .flat_map(|a| one_per_day(a, "2026-06-01", 50))
        .collect();
    let memory = registered_store().await;
    ingest(&memory, &segments).await;
    // Time for exactly one page's days, one at a time.
    let (store, deadline) = timed(memory, PENDING_PAGE_SIZE as u64);
    let report = run_rollup(&store, &RollupRequest::Scheduled, deadline).await;
    assert_eq!(
        (report.days_written, report.days_left, report.complete),
        (PENDING_PAGE_SIZE, 150 - PENDING_PAGE_SIZE, false),
        "{report:?}"
    );
    let rest = roll(&store).await;
    assert_eq!(
        (rest.days_written, rest.complete),
        (150 - PENDING_PAGE_SIZE, true)
    );
    assert_all_rolled(&store, &Reference::of(&segments), &APPS).await;
}

#[tokio::test]
async fn a_backfill_cut_by_its_deadline_counts_the_days_it_did_not_reach() {
    let segments = one_per_day("app-a", "2026-11-01", 10);
    let memory = registered_store().await;
    ingest(&memory, &segments).await;
    let (store, deadline) = timed(memory, 4);
    let request = RollupRequest::Backfill {
        from: Day::parse_key("2026-11-01").unwrap(),
        to: Day::parse_key("2026-11-10").unwrap(),
        app: None,
    };
    let cut = run_rollup(&store, &request, deadline).await;
    assert_eq!(
        (cut.days_written, cut.days_left, cut.complete),
        (4, 6, false),
        "{cut:?}"
    );
    let rest = backfill(&store, "2026-11-05", "2026-11-10", None).await;
    assert_eq!((rest.days_written, rest.complete), (6, true));
    assert_all_rolled(&store, &Reference::of(&segments), &["app-a"]).await;
}

/// Reads failing, writes failing before and after they land: each run
/// defers what failed, and repeated runs end with every day exact.
#[tokio::test]
async fn runs_through_storage_faults_end_exact() {
    let memory = registered_store().await;
    let segments = random_workload(&memory, 11, 80).await;
    let reference = Reference::of(&segments);
    let store = FaultyStore::new(
        memory,
        FaultPlan {
            fail_before_per_mille: 150,
            fail_after_per_mille: 150,
            throttle_per_mille: 50,
            seed: 5,
            ..FaultPlan::default()
        },
    );
    let (mut runs, mut deferred) = (0, 0);
    loop {
        let report = roll(&store).await;
        runs += 1;
        deferred += report.days_deferred;
        if report.complete && all_pending(store.inner()).await.is_empty() {
            break;
        }
        assert!(runs < 50, "the rollup does not converge");
    }
    assert!(deferred > 0 && store.counts.failed_after.load(Ordering::Relaxed) > 0);
    assert_all_rolled(store.inner(), &reference, &APPS).await;
}

#[test]
fn deadlines_read_their_clock() {
    let clock = Arc::new(ManualClock::new());
    let deadline = Deadline::before_on(
        clock.clone(),
        clock.now() + Duration::from_secs(10),
        Duration::from_secs(3),
    );
    assert!(!deadline.passed());
    clock.advance(Duration::from_millis(6_999));
    assert!(!deadline.passed());
    clock.advance(Duration::from_millis(1));
    assert!(deadline.passed(), "the margin is kept back");
    assert!(!Deadline::none().passed());
}
