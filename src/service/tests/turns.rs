//! A busy app's writers take turns: in order, one at a time, and whatever
//! goes wrong with the line (a ticket or a pass whose reply is lost, a
//! holder that never passes on, a line that cannot be read, a wait that
//! runs out) still counts every event exactly once.

use super::support::*;
use crate::domain::usage::{RecordMode, Tier};
use crate::service::ingest::{IngestReport, IngestSettings, failed_message_ids, ingest_batch_in};
use crate::service::turns::{TurnPolicy, end_turn, join_line, wait_turn};
use crate::store::contended::{ContendedStore, Contention, ContentionCounts};
use crate::store::faulty::{FaultPlan, FaultyStore};
use crate::store::{TurnStore, UsageStore};
use rand::Rng;
use rand::seq::SliceRandom;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Turns from 10 events, with waits short enough for a test.
fn quick() -> TurnPolicy {
    TurnPolicy {
        min_events: 10,
        stall_after: Duration::from_millis(50),
        max_wait: Duration::from_secs(5),
        ..TurnPolicy::default()
    }
}

fn settings(turns: TurnPolicy) -> IngestSettings {
    IngestSettings {
        turns,
        ..IngestSettings::default()
    }
}

/// `n` segments of `app_name`, a minute apart, ids from `tag`.
fn segments(tag: &str, app_name: &str, n: usize) -> Vec<Seg> {
    (0..n)
        .map(|i| {
            Seg::new(
                &format!("{tag}-{i}"),
                app_name,
                RecordMode::SingleStream,
                Tier::Audio,
                "2026-11-20T10:00:00Z",
                1_000 + i as i64,
            )
        })
        .collect()
}

async fn ingest(
    store: &(impl UsageStore + 'static),
    segs: &[Seg],
    turns: TurnPolicy,
) -> IngestReport {
    let bodies: Vec<String> = segs.iter().map(Seg::body).collect();
    ingest_batch_in(store, &messages(&bodies), now(), retry(), &settings(turns)).await
}

#[tokio::test]
async fn the_line_serves_tickets_in_order_one_at_a_time() {
    let store = Arc::new(registered_store().await);
    let (active, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let order = Arc::new(Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    for i in 0..5 {
        // Joined in this order: ticket i + 1.
        let turn = join_line(store.as_ref(), &app("app-1")).await;
        let (store, active, most, order) =
            (store.clone(), active.clone(), most.clone(), order.clone());
        tasks.push(tokio::spawn(async move {
            let mut turn = turn;
            wait_turn(store.as_ref(), &mut turn, &quick()).await;
            assert!(turn.served, "every turn comes");
            let now_active = active.fetch_add(1, Ordering::SeqCst) + 1;
            most.fetch_max(now_active, Ordering::SeqCst);
            order.lock().unwrap().push(i);
            tokio::time::sleep(Duration::from_millis(15)).await;
            active.fetch_sub(1, Ordering::SeqCst);
            end_turn(store.as_ref(), turn).await;
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(most.load(Ordering::SeqCst), 1, "one holder at a time");
    assert_eq!(
        *order.lock().unwrap(),
        vec![0, 1, 2, 3, 4],
        "in ticket order"
    );
    assert_eq!(store.serving(&app("app-1")).await.unwrap(), 6);
    assert_eq!(
        store.serving(&app("app-2")).await.unwrap(),
        1,
        "each app has a line of its own"
    );
}

/// The deployed rule: 20 events of an app in a batch take a turn, 19 do not.
#[tokio::test]
async fn a_busy_app_counts_in_its_turn_and_a_quiet_one_takes_none() {
    let store = registered_store().await;
    let mut segs = segments("busy", "app-1", 20);
    segs.extend(segments("quiet", "app-2", 19));
    segs.shuffle(&mut rng(5));
    let report = ingest(&store, &segs, TurnPolicy::default()).await;
    assert_eq!((report.counted, report.turns), (39, 1), "{report:?}");
    assert!(report.failures.is_empty());
    assert_eq!(store.serving(&app("app-1")).await.unwrap(), 2, "passed on");
    assert_eq!(store.serving(&app("app-2")).await.unwrap(), 1, "no line");
    assert_hours_match(&store, &Reference::of(&segs), &["app-1", "app-2"]).await;
}

#[tokio::test]
async fn a_turn_nobody_passes_on_is_skipped_after_the_stall() {
    let store = registered_store().await;
    // A holder that timed out: its ticket (1) is never passed on.
    store.take_ticket(&app("app-1")).await.unwrap();
    let segs = segments("after-a-crash", "app-1", 12);
    let report = ingest(&store, &segs, quick()).await;
    assert_eq!((report.counted, report.turns), (12, 1), "{report:?}");
    assert!(report.turn_wait >= quick().stall_after, "{report:?}");
    assert_eq!(
        store.serving(&app("app-1")).await.unwrap(),
        3,
        "the stalled turn skipped, then its own passed on"
    );
    assert_hours_match(&store, &Reference::of(&segs), &["app-1"]).await;
}

#[tokio::test]
async fn a_ticket_whose_reply_is_lost_counts_without_a_turn_and_is_skipped_later() {
    let store = Scripted::new(registered_store().await);
    store.lost_tickets.store(1, Ordering::SeqCst);
    let first = segments("first", "app-1", 12);
    let report = ingest(&store, &first, quick()).await;
    assert_eq!((report.counted, report.turns), (12, 0), "{report:?}");
    // Its ticket stays in the line; the next batch skips it.
    let second = segments("second", "app-1", 12);
    let report = ingest(&store, &second, quick()).await;
    assert_eq!((report.counted, report.turns), (12, 1), "{report:?}");
    // The first batch again, as SQS might redeliver it: nothing new.
    let again = ingest(&store, &first, quick()).await;
    assert_eq!((again.counted, again.duplicates), (0, 12), "{again:?}");
    let all: Vec<Seg> = first.into_iter().chain(second).collect();
    assert_hours_match(&store, &Reference::of(&all), &["app-1"]).await;
}

#[tokio::test]
async fn a_refused_ticket_an_unreadable_line_or_a_lost_pass_still_count() {
    let store = Scripted::new(registered_store().await);
    let mut all = Vec::new();
    store.refused_turn_writes.store(1, Ordering::SeqCst);
    let refused = segments("refused", "app-1", 10);
    let report = ingest(&store, &refused, quick()).await;
    assert_eq!((report.counted, report.turns), (10, 0), "{report:?}");
    all.extend(refused);

    // Someone holds the turn; this invocation cannot read the line.
    store.take_ticket(&app("app-1")).await.unwrap();
    store.failed_line_reads.store(1, Ordering::SeqCst);
    let unread = segments("unread", "app-1", 10);
    let report = ingest(&store, &unread, quick()).await;
    assert_eq!((report.counted, report.turns), (10, 0), "{report:?}");
    all.extend(unread);
    assert_eq!(
        store.serving(&app("app-1")).await.unwrap(),
        1,
        "a turn never served is not passed on"
    );
    store.pass_turn(&app("app-1"), 1).await.unwrap();
    // Ticket 2 (the unread one) is orphaned: skipped after the stall.

    store.lost_passes.store(1, Ordering::SeqCst);
    let lost = segments("lost-pass", "app-1", 10);
    let report = ingest(&store, &lost, quick()).await;
    assert_eq!((report.counted, report.turns), (10, 1), "{report:?}");
    all.extend(lost);
    assert_eq!(
        store.serving(&app("app-1")).await.unwrap(),
        4,
        "the pass landed once, though its reply was lost"
    );
    assert!(report.failures.is_empty(), "{report:?}");
    assert_hours_match(&store, &Reference::of(&all), &["app-1"]).await;
}

#[tokio::test]
async fn a_wait_that_runs_out_counts_without_its_turn() {
    let store = registered_store().await;
    // A holder slower than the wait, though not stalled.
    store.take_ticket(&app("app-1")).await.unwrap();
    let policy = TurnPolicy {
        stall_after: Duration::from_secs(60),
        max_wait: Duration::from_millis(60),
        ..quick()
    };
    let segs = segments("impatient", "app-1", 10);
    let report = ingest(&store, &segs, policy).await;
    assert_eq!((report.counted, report.turns), (10, 0), "{report:?}");
    assert!(report.turn_wait >= policy.max_wait, "{report:?}");
    assert_hours_match(&store, &Reference::of(&segs), &["app-1"]).await;
}

/// Eight invocations start at once, each with 20 of one app's events, every
/// event in two of them, over a store that cancels concurrent transactions
/// on the same items as DynamoDB does. Without turns they conflict; with
/// them, none does, and the totals are exact either way.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_invocations_of_a_busy_app_conflict_only_without_turns() {
    let never = TurnPolicy {
        min_events: usize::MAX,
        ..TurnPolicy::default()
    };
    for (turns, conflicts_expected) in [(never, true), (TurnPolicy::default(), false)] {
        let store = Arc::new(ContendedStore::new(
            registered_store().await,
            Contention::default(),
        ));
        let segs = segments("hot", "app-1", 80);
        let bodies: Vec<String> = segs.iter().map(Seg::body).collect();
        let barrier = Arc::new(tokio::sync::Barrier::new(8));
        let mut tasks = Vec::new();
        for worker in 0..8 {
            let batch: Vec<String> = (0..20)
                .map(|j| bodies[(worker * 10 + j) % 80].clone())
                .collect();
            let (store, barrier) = (store.clone(), barrier.clone());
            tasks.push(tokio::spawn(async move {
                barrier.wait().await;
                ingest_batch_in(
                    store.as_ref(),
                    &messages(&batch),
                    now(),
                    retry(),
                    &settings(turns),
                )
                .await
            }));
        }
        let (mut counted, mut again) = (0, Vec::new());
        for (worker, task) in tasks.into_iter().enumerate() {
            let report = task.await.unwrap();
            // With turns, nothing is left to SQS.
            assert!(
                conflicts_expected || report.failures.is_empty(),
                "{report:?}"
            );
            counted += report.counted;
            again.extend(
                failed_message_ids(&report)
                    .iter()
                    .map(|id| id.trim_start_matches("msg-").parse::<usize>().unwrap())
                    .map(|j| bodies[(worker * 10 + j) % 80].clone()),
            );
        }
        // What was left comes back, as SQS redelivers it.
        while !again.is_empty() {
            let report = ingest_batch_in(
                store.as_ref(),
                &messages(&again),
                now(),
                retry(),
                &settings(turns),
            )
            .await;
            counted += report.counted;
            assert!(report.failures.is_empty(), "alone, it commits: {report:?}");
            again.clear();
        }
        let conflicts = ContentionCounts::get(&store.counts.conflicts);
        assert_eq!(
            conflicts > 0,
            conflicts_expected,
            "{conflicts} conflicts with {turns:?}"
        );
        assert_eq!(counted, 80, "each event counted by one invocation");
        assert_hours_match(store.inner(), &Reference::of(&segs), &["app-1"]).await;
    }
}

/// The exactly-once check of turns: segments of a busy app and a few quiet
/// ones, each delivered one to three times, shuffled, pulled in batches by
/// four invocations at once over a store that both conflicts as DynamoDB
/// does and fails calls (refused, or landed and reported lost: tickets,
/// passes and commits alike). Whatever an invocation reports failed comes
/// back, as SQS redelivers it, until nothing is left. Every hour must then
/// equal the plain reference.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn turns_count_exactly_once_whatever_is_repeated_reordered_or_lost() {
    let mut rng = rng(22);
    let apps = ["app-1", "app-1", "app-1", "app-1", "app-2", "app-a"];
    let segs = random_segments(&mut rng, 300, &apps, &["2026-11-20T10:00:00Z"]);
    let mut bodies: Vec<String> = Vec::new();
    for seg in &segs {
        for _ in 0..rng.random_range(1..=3) {
            bodies.push(seg.body());
        }
    }
    bodies.shuffle(&mut rng);
    let store = Arc::new(FaultyStore::new(
        ContendedStore::new(registered_store().await, Contention::default()),
        FaultPlan {
            fail_before_per_mille: 30,
            fail_after_per_mille: 30,
            throttle_per_mille: 20,
            stale_reads_per_mille: 0,
            seed: 22,
        },
    ));
    let queue = Arc::new(Mutex::new(bodies));
    let turns = TurnPolicy {
        min_events: 8,
        ..quick()
    };
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let (store, queue) = (store.clone(), queue.clone());
        tasks.push(tokio::spawn(async move {
            let mut served = 0;
            loop {
                let batch: Vec<String> = {
                    let mut queue = queue.lock().unwrap();
                    let take = queue.len().min(25);
                    queue.drain(..take).collect()
                };
                if batch.is_empty() {
                    return served;
                }
                let inbound = messages(&batch);
                let report =
                    ingest_batch_in(store.as_ref(), &inbound, now(), retry(), &settings(turns))
                        .await;
                served += report.turns;
                let failed = failed_message_ids(&report);
                let again = inbound
                    .into_iter()
                    .filter(|m| failed.contains(&m.message_id))
                    .filter_map(|m| m.body);
                queue.lock().unwrap().extend(again);
            }
        }));
    }
    let mut served = 0;
    for task in tasks {
        served += task.await.unwrap();
    }
    assert!(served > 0, "some batches counted in their turn");
    assert!(store.counts.injected() > 0, "faults were injected");
    let contended = store.inner();
    assert_hours_match(
        contended.inner(),
        &Reference::of(&segs),
        &["app-1", "app-2", "app-a"],
    )
    .await;
}
