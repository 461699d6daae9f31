//! Section 12: one busy app's events pulled from a queue by N ingest
//! invocations at once, over a store that applies DynamoDB's rules for
//! concurrent writers (`store::contended`: a transaction touching an item
//! another has in flight is cancelled, an item takes 1,000 write units a
//! second, every request takes a table's latency). The queue behaves as
//! SQS does for `usage-ingest`: a batch of up to 10 messages is invisible
//! while an invocation holds it; the messages it reports failed come back
//! after the visibility timeout (scaled down), the rest are deleted.

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rtc_usage::bus::memory::RecordingBus;
use rtc_usage::domain::time::{HOUR_MS, MINUTE_MS, UtcMillis};
use rtc_usage::service::alerts::{Check, PublishPolicy, check_apps};
use rtc_usage::service::ingest::{
    InboundMessage, IngestSettings, RetryPolicy, failed_message_ids, ingest_batch_in,
};
use rtc_usage::service::turns::TurnPolicy;
use rtc_usage::store::UsageStore;
use rtc_usage::store::contended::{ContendedStore, Contention, ContentionCounts};
use rtc_usage::store::memory::MemoryStore;
use serde_json::json;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub const HOT_APP: &str = "hot-app";
/// The visibility timeout, scaled: 181 s in the template.
pub const VISIBILITY: Duration = Duration::from_millis(250);
/// Invocations start spread over this long, as pollers come up one by one
/// (SQS's Lambda pollers add concurrency over seconds, not all at once).
pub const RAMP: Duration = Duration::from_millis(500);

/// One simulated run's figures.
pub struct Run {
    pub invocations: usize,
    pub events: usize,
    pub deliveries: usize,
    pub elapsed: Duration,
    pub transactions: u64,
    pub conflicts: u64,
    /// Of those, the ones on the busy app's items.
    pub busy_conflicts: u64,
    pub throttles: u64,
    pub write_units: u64,
    pub retry_rounds: usize,
    pub redeliveries: usize,
    /// Time all invocations spent waiting in the busy app's line, summed.
    pub turn_wait: Duration,
    /// (ms since the start, age of the oldest message in ms), every 20 ms.
    pub queue_age: Vec<(u64, u64)>,
}

/// `events` sessions: 90% of one app's (across `classes` classes, its
/// users rejoining), the rest spread over 100 other apps; 10% delivered
/// twice; shuffled. Each session is a few minutes inside the hour before
/// `now`. The apps and the expected milliseconds per app.
pub fn workload(
    events: usize,
    classes: usize,
    now: UtcMillis,
) -> (Vec<String>, BTreeMap<String, u64>) {
    let mut rng = StdRng::seed_from_u64(2212);
    let start = UtcMillis(now.0 - now.0.rem_euclid(HOUR_MS) - HOUR_MS);
    let mut bodies = Vec::new();
    let mut expected: BTreeMap<String, u64> = BTreeMap::new();
    for i in 0..events {
        let app = if i % 10 == 9 {
            format!("tail-{:02}", rng.random_range(0..100))
        } else {
            HOT_APP.to_owned()
        };
        let class = format!("class-{}", rng.random_range(0..classes));
        let from = start.0 + rng.random_range(0..HOUR_MS - 10 * MINUTE_MS);
        let ms = rng.random_range(MINUTE_MS..5 * MINUTE_MS);
        *expected.entry(app.clone()).or_default() += ms as u64;
        let time = |t: i64| UtcMillis(t).to_datetime().to_rfc3339();
        bodies.push(
            json!({"specversion": "1.0", "id": format!("s-{i}"), "source": "/bench/hot",
                "type": "rtc.class.session",
                "data": {"appId": app, "classId": class, "userId": format!("u-{}", i % 300),
                         "role": "student", "usageType": "interactive",
                         "startTime": time(from), "endTime": time(from + ms)}})
            .to_string(),
        );
    }
    let again: Vec<String> = bodies.iter().step_by(10).cloned().collect();
    bodies.extend(again);
    bodies.shuffle(&mut rng);
    (bodies, expected)
}

struct Message {
    id: String,
    body: String,
    sent: Instant,
    visible_at: Instant,
    /// A FIFO queue's message group; none on a standard queue.
    group: Option<String>,
}

/// How the queue hands out messages.
#[derive(Clone, Copy, Debug)]
pub enum QueueKind {
    /// SQS standard: any visible message, to any invocation.
    Standard,
    /// SQS FIFO, the message group an app's (`1`) or one of `k` per app
    /// (chosen by the event): a group's messages go to one invocation at a
    /// time, and stay blocked while any of them is in flight or waiting
    /// out its visibility timeout.
    Fifo(u32),
}

struct Queue {
    waiting: VecDeque<Message>,
    in_flight: HashMap<String, Message>,
}

impl Queue {
    /// Up to a batch of visible messages, made invisible; on a FIFO queue,
    /// only of groups nothing else holds.
    fn receive(&mut self, now: Instant, size: usize) -> Vec<(String, String)> {
        let blocked: std::collections::HashSet<String> = self
            .in_flight
            .values()
            .chain(self.waiting.iter().filter(|m| m.visible_at > now))
            .filter_map(|m| m.group.clone())
            .collect();
        let mut batch = Vec::new();
        let mut kept = VecDeque::new();
        while let Some(message) = self.waiting.pop_front() {
            let free = message.group.as_ref().is_none_or(|g| !blocked.contains(g));
            if batch.len() < size && message.visible_at <= now && free {
                batch.push((message.id.clone(), message.body.clone()));
                self.in_flight.insert(message.id.clone(), message);
            } else {
                kept.push_back(message);
            }
        }
        self.waiting = kept;
        batch
    }

    fn oldest_age(&self, now: Instant) -> Duration {
        self.waiting
            .iter()
            .chain(self.in_flight.values())
            .map(|m| now - m.sent)
            .max()
            .unwrap_or_default()
    }

    fn is_empty(&self) -> bool {
        self.waiting.is_empty() && self.in_flight.is_empty()
    }
}

/// What a run simulates: the queue, its batch size, the table, and how
/// a busy app's writers line up (`TurnPolicy::min_events` past any batch:
/// never, as before turns).
#[derive(Clone, Copy, Debug)]
pub struct Setup {
    pub kind: QueueKind,
    pub batch_size: usize,
    pub contention: Contention,
    pub turns: TurnPolicy,
}

/// A message's FIFO group: its app's, or one of `k` per app by its event.
fn group_of(kind: QueueKind, body: &str) -> Option<String> {
    let QueueKind::Fifo(k) = kind else {
        return None;
    };
    let event: serde_json::Value = serde_json::from_str(body).expect("an event");
    let app = event["data"]["appId"].as_str().expect("an app");
    let id = event["id"].as_str().expect("an id");
    let n: u32 = id.bytes().map(u32::from).sum::<u32>() % k.max(1);
    Some(format!("{app}#{n}"))
}

/// Runs the deliveries through `invocations` concurrent invocations; checks
/// every app's total against `expected` (exactly once) and answers the
/// figures.
pub async fn run(
    setup: Setup,
    invocations: usize,
    events: usize,
    deliveries: &[String],
    expected: &BTreeMap<String, u64>,
    now: UtcMillis,
) -> Run {
    let Setup {
        kind,
        batch_size,
        contention,
        turns,
    } = setup;
    let settings = Arc::new(IngestSettings {
        turns,
        ..IngestSettings::default()
    });
    let memory = MemoryStore::new();
    let owner = rtc_usage::domain::ids::AccountId::parse("111122223333").unwrap();
    for app in expected.keys() {
        let app = rtc_usage::domain::ids::AppId::parse(app).unwrap();
        memory.register(&app, &owner).await.unwrap();
    }
    let store = Arc::new(ContendedStore::new(memory, contention));
    let started = Instant::now();
    let queue = Arc::new(Mutex::new(Queue {
        waiting: deliveries
            .iter()
            .enumerate()
            .map(|(i, body)| Message {
                id: format!("m{i}"),
                body: body.clone(),
                sent: started,
                visible_at: started,
                group: group_of(kind, body),
            })
            .collect(),
        in_flight: HashMap::new(),
    }));
    let totals = Arc::new(Mutex::new((0usize, 0usize, Duration::ZERO)));
    let mut tasks = Vec::new();
    for i in 0..invocations {
        let (store, queue, totals) = (store.clone(), queue.clone(), totals.clone());
        let settings = settings.clone();
        let stagger = RAMP.mul_f64(i as f64 / invocations as f64);
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep(stagger).await;
            let bus = RecordingBus::new();
            loop {
                let batch = {
                    let mut queue = queue.lock().unwrap();
                    if queue.is_empty() {
                        return Instant::now();
                    }
                    queue.receive(Instant::now(), batch_size)
                };
                if batch.is_empty() {
                    tokio::time::sleep(Duration::from_millis(2)).await;
                    continue;
                }
                let messages: Vec<InboundMessage> = batch
                    .iter()
                    .map(|(id, body)| InboundMessage {
                        message_id: id.clone(),
                        body: Some(body.clone()),
                    })
                    .collect();
                let report = ingest_batch_in(
                    store.as_ref(),
                    &messages,
                    now,
                    RetryPolicy::default(),
                    &settings,
                )
                .await;
                let checks: BTreeMap<_, Check> = (report.alert_checks.iter())
                    .map(|(app, c)| (app.clone(), c.check))
                    .collect();
                check_apps(store.as_ref(), &bus, &checks, now, PublishPolicy::default()).await;
                let failed = failed_message_ids(&report);
                let mut queue = queue.lock().unwrap();
                for (id, _) in &batch {
                    let message = queue.in_flight.remove(id).expect("held");
                    if failed.contains(id) {
                        queue.waiting.push_back(Message {
                            visible_at: Instant::now() + VISIBILITY,
                            ..message
                        });
                    }
                }
                let mut totals = totals.lock().unwrap();
                totals.0 += report.retries;
                totals.1 += failed.len();
                totals.2 += report.turn_wait;
            }
        }));
    }
    let mut queue_age = Vec::new();
    loop {
        let done = tasks.iter().all(|t| t.is_finished());
        let age = queue.lock().unwrap().oldest_age(Instant::now());
        queue_age.push((started.elapsed().as_millis() as u64, age.as_millis() as u64));
        if done {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // From the start to the last message deleted (not to the sampler's
    // next tick).
    let mut finished = started;
    for task in tasks {
        finished = finished.max(task.await.expect("an invocation"));
    }
    let elapsed = finished - started;
    // Exactly once: every app's rows hold exactly its sessions' milliseconds.
    for (app, ms) in expected {
        let app = rtc_usage::domain::ids::AppId::parse(app).unwrap();
        let rows = store
            .inner()
            .av_rows(
                &app,
                rtc_usage::service::settle::FIRST_DAY,
                rtc_usage::service::settle::LAST_DAY,
            )
            .await
            .unwrap();
        let counted: u64 = rows.iter().map(|r| r.ms).sum();
        assert_eq!(counted, *ms, "{app}: counted exactly once");
    }
    let (retry_rounds, redeliveries, turn_wait) = *totals.lock().unwrap();
    let counts = &store.counts;
    Run {
        invocations,
        events,
        deliveries: deliveries.len(),
        elapsed,
        transactions: ContentionCounts::get(&counts.transactions),
        conflicts: ContentionCounts::get(&counts.conflicts),
        busy_conflicts: (counts.conflicted_items.lock().unwrap().iter())
            .filter(|item| item.starts_with(HOT_APP))
            .count() as u64,
        throttles: ContentionCounts::get(&counts.throttles),
        write_units: ContentionCounts::get(&counts.write_units),
        retry_rounds,
        redeliveries,
        turn_wait,
        queue_age,
    }
}
