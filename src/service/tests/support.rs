//! What the service tests share: events as producers send them, a reference
//! computed by plain overlap (no splitting code shared with the service), an
//! SQS-like delivery loop, and a store wrapper that interferes on cue.

use crate::domain::alert::Alert;
use crate::domain::commit::{CommitGroup, EventWrite, HourAdd, UserMark};
use crate::domain::event::{EventKey, Segment};
use crate::domain::ids::{AccountId, AppId};
use crate::domain::retention;
use crate::domain::time::{DAY_MS, Day, HOUR_MS, Hour, UtcMillis};
use crate::domain::usage::{ModeUsage, RecordMode, Tier};
use crate::service::ingest::{FailureKind, InboundMessage, RetryPolicy, ingest_batch};
use crate::service::rollup::ManualClock;
use crate::store::memory::MemoryStore;
use crate::store::*;
use chrono::SecondsFormat;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub const OWNER: &str = "111122223333";
pub const OTHER_ACCOUNT: &str = "444455556666";
pub const SOURCE: &str = "/rtc/recorder/test";

pub fn at(text: &str) -> UtcMillis {
    UtcMillis::parse_query_time(text).unwrap_or_else(|| panic!("bad time {text}"))
}

/// The tests' "now": every event and query is judged against it.
pub fn now() -> UtcMillis {
    at("2026-11-23T12:00:00Z")
}

pub fn app(name: &str) -> AppId {
    AppId::parse(name).unwrap_or_else(|| panic!("bad app id {name}"))
}

pub fn account(id: &str) -> AccountId {
    AccountId::parse(id).unwrap_or_else(|| panic!("bad account id {id}"))
}

pub fn rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

/// Short backoffs: the tests wait on nothing real.
pub fn retry() -> RetryPolicy {
    RetryPolicy {
        first_backoff: Duration::from_millis(1),
        ..RetryPolicy::default()
    }
}

/// A recording segment as its producer describes it.
#[derive(Clone, Debug)]
pub struct Seg {
    pub id: String,
    pub app: String,
    pub mode: RecordMode,
    pub tier: Tier,
    pub start: UtcMillis,
    pub end: UtcMillis,
}

impl Seg {
    pub fn new(id: &str, app: &str, mode: RecordMode, tier: Tier, start: &str, ms: i64) -> Self {
        let start = at(start);
        Seg {
            id: id.to_owned(),
            app: app.to_owned(),
            mode,
            tier,
            start,
            end: start.plus_ms(ms),
        }
    }

    pub fn body(&self) -> String {
        self.body_from(SOURCE)
    }

    /// The CloudEvent of this segment as `source` would send it.
    pub fn body_from(&self, source: &str) -> String {
        let (media, size) = match self.tier {
            Tier::Audio => ("audio", None),
            Tier::V480 => ("video", Some((640, 480))),
            Tier::V720 => ("video", Some((1280, 720))),
            Tier::V1080 => ("video", Some((1920, 1080))),
        };
        let time = |t: UtcMillis| t.to_datetime().to_rfc3339_opts(SecondsFormat::Millis, true);
        let mode = match self.mode {
            RecordMode::SingleStream => "0",
            RecordMode::Mixed => "1",
        };
        let mut data = json!({"appId": self.app, "recordMode": mode, "media": media,
            "startTime": time(self.start), "endTime": time(self.end)});
        if let Some((w, h)) = size {
            data["width"] = json!(w);
            data["height"] = json!(h);
        }
        json!({"specversion": "1.0", "id": self.id, "source": source,
               "type": "rtc.recording.segment", "time": time(self.end), "data": data})
        .to_string()
    }
}

/// The apps these tests count usage of.
pub const TEST_APPS: [&str; 5] = ["app-1", "app-2", "app-a", "app-b", "app-c"];

/// A store where every app of [`TEST_APPS`] is registered (in UTC) to
/// [`OWNER`], so their usage is counted at once rather than parked
/// until a registration arrives.
pub async fn registered_store() -> MemoryStore {
    let store = MemoryStore::new();
    for name in TEST_APPS {
        store
            .register(&app(name), &account(OWNER))
            .await
            .expect("register");
    }
    store
}

pub fn registration_body(app: &str, owner: &str) -> String {
    json!({"specversion": "1.0", "id": format!("reg-{app}-{owner}"), "source": "/rtc/console",
           "type": "rtc.app.registered", "data": {"appId": app, "ownerAccountId": owner}})
    .to_string()
}

/// `n` segments of `apps` starting within 36 hours of one of `anchors`, with
/// millisecond boundaries, 1 ms to 48 h long, all inside the accepted range.
pub fn random_segments(rng: &mut StdRng, n: usize, apps: &[&str], anchors: &[&str]) -> Vec<Seg> {
    let tiers = [Tier::Audio, Tier::V480, Tier::V720, Tier::V1080];
    let mut segments = Vec::new();
    while segments.len() < n {
        let anchor = at(anchors[rng.random_range(0..anchors.len())]);
        let start = anchor.plus_ms(rng.random_range(-36 * HOUR_MS..36 * HOUR_MS));
        let len = match rng.random_range(0..10) {
            0 => rng.random_range(1..1_000),
            1 => 48 * HOUR_MS,
            2..=3 => rng.random_range(HOUR_MS..48 * HOUR_MS),
            _ => rng.random_range(1_000..2 * HOUR_MS),
        };
        let seg = Seg {
            id: format!("seg-{}-{}", segments.len(), rng.random::<u32>()),
            app: apps[rng.random_range(0..apps.len())].to_owned(),
            mode: if rng.random_bool(0.5) {
                RecordMode::SingleStream
            } else {
                RecordMode::Mixed
            },
            tier: tiers[rng.random_range(0..tiers.len())],
            start,
            end: start.plus_ms(len),
        };
        if seg.end <= now() {
            segments.push(seg);
        }
    }
    segments
}

/// What the store must hold: per (app, bucket start), the overlap of each
/// segment with each aligned bucket, computed directly.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Reference {
    pub hourly: BTreeMap<(String, UtcMillis), ModeUsage>,
    pub daily: BTreeMap<(String, UtcMillis), ModeUsage>,
}

impl Reference {
    pub fn of(segments: &[Seg]) -> Self {
        let mut r = Reference::default();
        for s in segments {
            for (size, map) in [(HOUR_MS, &mut r.hourly), (DAY_MS, &mut r.daily)] {
                let mut bucket = s.start.0.div_euclid(size) * size;
                while bucket < s.end.0 {
                    let overlap = s.end.0.min(bucket + size) - s.start.0.max(bucket);
                    map.entry((s.app.clone(), UtcMillis(bucket)))
                        .or_default()
                        .add(s.mode, s.tier, overlap as u64);
                    bucket += size;
                }
            }
        }
        r
    }

    /// The (app, day) pairs the segments touch.
    pub fn days(&self) -> BTreeSet<(String, Day)> {
        self.daily
            .keys()
            .map(|(app, start)| (app.clone(), start.day()))
            .collect()
    }

    pub fn hours_of(&self, app: &str) -> BTreeMap<Hour, ModeUsage> {
        self.hourly
            .iter()
            .filter(|((a, _), _)| a == app)
            .map(|((_, start), usage)| (start.hour(), *usage))
            .collect()
    }

    pub fn days_of(&self, app: &str) -> BTreeMap<Day, ModeUsage> {
        self.daily
            .iter()
            .filter(|((a, _), _)| a == app)
            .map(|((_, start), usage)| (start.day(), *usage))
            .collect()
    }
}

/// Far enough back and ahead to hold every test's data.
pub fn whole_range() -> (Hour, Hour) {
    (
        now().minus_ms(370 * DAY_MS).hour(),
        now().plus_ms(DAY_MS).hour(),
    )
}

/// The app's stored hours, as a map.
pub async fn stored_hours(store: &impl UsageStore, app_name: &str) -> BTreeMap<Hour, ModeUsage> {
    let (first, last) = whole_range();
    store
        .hours(&app(app_name), first, last)
        .await
        .unwrap()
        .into_iter()
        .map(|h| (h.hour, h.usage))
        .collect()
}

/// The app's stored day records, as a map.
pub async fn stored_days(store: &impl UsageStore, app_name: &str) -> BTreeMap<Day, DayRecord> {
    let (first, last) = whole_range();
    store
        .days(&app(app_name), first.day(), last.day())
        .await
        .unwrap()
        .into_iter()
        .map(|d| (d.day, d))
        .collect()
}

/// Every stored hour of these apps equals the reference, to the millisecond.
pub async fn assert_hours_match(store: &impl UsageStore, reference: &Reference, apps: &[&str]) {
    for name in apps {
        assert_eq!(
            stored_hours(store, name).await,
            reference.hours_of(name),
            "hours of {name}"
        );
    }
}

/// The whole work list, every page.
pub async fn all_pending(store: &impl UsageStore) -> BTreeSet<PendingDay> {
    let mut all = BTreeSet::new();
    let mut cursor = None;
    loop {
        let page = store.pending_days(cursor).await.unwrap();
        all.extend(page.days);
        match page.next {
            Some(next) => cursor = Some(next),
            None => return all,
        }
    }
}

pub fn messages(bodies: &[String]) -> Vec<InboundMessage> {
    bodies
        .iter()
        .enumerate()
        .map(|(i, body)| InboundMessage {
            message_id: format!("msg-{i}"),
            body: Some(body.clone()),
        })
        .collect()
}

/// Totals of what an SQS-like delivery loop saw.
#[derive(Debug, Default)]
pub struct Delivered {
    pub invocations: usize,
    pub redeliveries: usize,
    pub counted: usize,
    pub duplicates: usize,
    /// Message ids reported invalid: what the redrive policy would dead-letter.
    pub invalid: Vec<String>,
}

/// Delivers every message at least once, in random batches of up to `batch`
/// messages in random order, redelivering each message reported as a
/// transient failure until it is acknowledged, as SQS does after the
/// visibility timeout.
pub async fn deliver(
    store: &impl UsageStore,
    rng: &mut StdRng,
    bodies: &[String],
    batch: usize,
) -> Delivered {
    let mut queue = messages(bodies);
    let mut out = Delivered::default();
    while !queue.is_empty() {
        assert!(out.invocations < 10_000, "delivery does not converge");
        queue.shuffle(rng);
        let take = rng.random_range(1..=batch).min(queue.len());
        let inflight: Vec<InboundMessage> = queue.drain(..take).collect();
        let report = ingest_batch(store, &inflight, now(), retry()).await;
        out.invocations += 1;
        out.counted += report.counted;
        out.duplicates += report.duplicates;
        let mut failed = HashSet::new();
        for failure in &report.failures {
            match failure.kind {
                FailureKind::Invalid => out.invalid.push(failure.message_id.clone()),
                FailureKind::Transient => {
                    if failed.insert(failure.message_id.clone()) {
                        out.redeliveries += 1;
                        let message = inflight
                            .iter()
                            .find(|m| m.message_id == failure.message_id)
                            .expect("a failure names a message of the batch");
                        queue.push(message.clone());
                    }
                }
                FailureKind::Defect => panic!("a defect reported: {failure:?}"),
            }
        }
    }
    out
}

/// A group that adds `ms` of single-stream audio to `hour` of `app`, as one
/// new event `id` would.
pub fn one_event(id: &str, app_name: &str, hour: Hour, ms: u64) -> CommitGroup {
    let mut usage = ModeUsage::default();
    usage.add(RecordMode::SingleStream, Tier::Audio, ms);
    let mut group = CommitGroup::default();
    group.events.push(EventWrite::segment(
        EventKey::of(SOURCE, id),
        Segment {
            app: app(app_name),
            class: None,
            mode: RecordMode::SingleStream,
            tier: Tier::Audio,
            start: hour.start(),
            end: hour.start().plus_ms(ms as i64),
        },
    ));
    group.hours.insert(
        (app(app_name), hour),
        HourAdd {
            usage,
            head: ModeUsage::default(),
            expires: retention::hourly_expiry(hour),
        },
    );
    group.days.insert((app(app_name), hour.day()));
    group
}

/// Delegates to `inner`, interfering on cue the ways the services must
/// withstand: replies lost after a commit landed, conflicts, throttling,
/// lagging reads, events landing in the middle of a roll, and time passing
/// while days are rolled. Each cue is a count of calls it applies to, used
/// up one call at a time.
pub struct Scripted<S> {
    pub inner: S,
    /// Commits that land but answer as a lost reply (outcome unknown).
    pub lost_replies: AtomicU32,
    /// Commits cancelled by a concurrent transaction; nothing is written.
    pub conflicts: AtomicU32,
    /// Commits refused as throttled; nothing is written.
    pub throttles: AtomicU32,
    /// `counted` reads that see none of the events, as a lagging read may.
    pub stale_reads: AtomicU32,
    /// Committed one per day snapshot, right after it: an event landing
    /// between a roll's snapshot and its conditional write.
    pub land_after_snapshot: Mutex<VecDeque<CommitGroup>>,
    /// Answered by `pending_days` before asking `inner`: an index that has
    /// not caught up with writes yet.
    pub lagging_pages: Mutex<VecDeque<PendingPage>>,
    /// Moved by `step` at every `write_day`: the time a day's roll takes.
    pub clock: Option<(Arc<ManualClock>, Duration)>,
    /// Alert decisions stored whose reply is lost (a timeout after the
    /// write landed).
    pub lost_alert_replies: AtomicU32,
    /// Alert decisions refused before anything is written.
    pub refused_alert_writes: AtomicU32,
    /// Tickets taken whose reply is lost: the line holds a ticket nobody
    /// will pass on.
    pub lost_tickets: AtomicU32,
    /// Turns passed on whose reply is lost.
    pub lost_passes: AtomicU32,
    /// Writes to a line (tickets, passes) refused before anything is written.
    pub refused_turn_writes: AtomicU32,
    /// Reads of a line that fail.
    pub failed_line_reads: AtomicU32,
}

impl<S: UsageStore> Scripted<S> {
    pub fn new(inner: S) -> Self {
        Scripted {
            inner,
            lost_replies: AtomicU32::new(0),
            conflicts: AtomicU32::new(0),
            throttles: AtomicU32::new(0),
            stale_reads: AtomicU32::new(0),
            land_after_snapshot: Mutex::new(VecDeque::new()),
            lagging_pages: Mutex::new(VecDeque::new()),
            clock: None,
            lost_alert_replies: AtomicU32::new(0),
            refused_alert_writes: AtomicU32::new(0),
            lost_tickets: AtomicU32::new(0),
            lost_passes: AtomicU32::new(0),
            refused_turn_writes: AtomicU32::new(0),
            failed_line_reads: AtomicU32::new(0),
        }
    }

    pub fn with_clock(inner: S, clock: Arc<ManualClock>, step: Duration) -> Self {
        Scripted {
            clock: Some((clock, step)),
            ..Self::new(inner)
        }
    }
}

/// Uses up one call of a cue; false once it is spent.
fn take(counter: &AtomicU32) -> bool {
    counter
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
}

impl<S: UsageStore + AlertStore> AlertStore for Scripted<S> {
    async fn raise_alert(&self, alert: &Alert) -> StoreResult<RaiseOutcome> {
        if take(&self.refused_alert_writes) {
            return Err(StoreError::Throttled("scripted: nothing written".into()));
        }
        let outcome = self.inner.raise_alert(alert).await?;
        if take(&self.lost_alert_replies) {
            return Err(StoreError::Ambiguous(
                "scripted: the decision landed".into(),
            ));
        }
        Ok(outcome)
    }
    async fn alert_watches(&self, apps: &[AppId]) -> StoreResult<HashMap<AppId, AlertWatch>> {
        self.inner.alert_watches(apps).await
    }
    async fn raised_alerts(&self, app: &AppId) -> StoreResult<Vec<Alert>> {
        self.inner.raised_alerts(app).await
    }
    async fn recent_alerts(&self, app: &AppId, limit: usize) -> StoreResult<Vec<Alert>> {
        self.inner.recent_alerts(app, limit).await
    }
    async fn set_alert_limit(&self, app: &AppId, epoch: u64, limit: u64) -> StoreResult<bool> {
        self.inner.set_alert_limit(app, epoch, limit).await
    }
    async fn alert_published(&self, alert: &Alert) -> StoreResult<()> {
        self.inner.alert_published(alert).await
    }
    async fn unpublished_alerts(
        &self,
        cursor: Option<String>,
    ) -> StoreResult<(Vec<Alert>, Option<String>)> {
        self.inner.unpublished_alerts(cursor).await
    }
    async fn expiring_packages(&self, through: Day) -> StoreResult<Vec<ExpiryEntry>> {
        self.inner.expiring_packages(through).await
    }
    async fn forget_expiry(&self, entry: &ExpiryEntry) -> StoreResult<()> {
        self.inner.forget_expiry(entry).await
    }
}

impl<S: UsageStore> crate::store::TurnStore for Scripted<S> {
    async fn take_ticket(&self, app: &AppId) -> StoreResult<crate::store::Ticket> {
        if take(&self.refused_turn_writes) {
            return Err(StoreError::Throttled("scripted: nothing written".into()));
        }
        let ticket = self.inner.take_ticket(app).await?;
        if take(&self.lost_tickets) {
            return Err(StoreError::Ambiguous(
                "scripted: the ticket was taken".into(),
            ));
        }
        Ok(ticket)
    }
    async fn serving(&self, app: &AppId) -> StoreResult<u64> {
        if take(&self.failed_line_reads) {
            return Err(StoreError::Unavailable("scripted".into()));
        }
        self.inner.serving(app).await
    }
    async fn pass_turn(&self, app: &AppId, from: u64) -> StoreResult<bool> {
        if take(&self.refused_turn_writes) {
            return Err(StoreError::Throttled("scripted: nothing written".into()));
        }
        let moved = self.inner.pass_turn(app, from).await?;
        if take(&self.lost_passes) {
            return Err(StoreError::Ambiguous(
                "scripted: the turn was passed".into(),
            ));
        }
        Ok(moved)
    }
}

impl<S: UsageStore> UsageStore for Scripted<S> {
    const MAX_COMMIT_ACTIONS: usize = S::MAX_COMMIT_ACTIONS;

    crate::forward_store_methods!(inner; records, late_usage, statement, put_statement, refund_package, registration, open_app, zones, parked, apps_of, class_recordings, ledger_inputs, balance, write_balances, settle, pending_apps, register_app, hours, days,
        apply_class_fact, put_package, packages, class_facts, av_hours, av_rows, apps_with_usage, put_measurements, measurements);

    async fn seen(&self, keys: &[EventKey], users: &[UserMark]) -> StoreResult<Seen> {
        let seen = self.inner.seen(keys, users).await?;
        Ok(if take(&self.stale_reads) {
            Seen::default()
        } else {
            seen
        })
    }
    async fn commit(&self, group: &CommitGroup) -> StoreResult<CommitOutcome> {
        if take(&self.conflicts) {
            return Err(StoreError::Conflict("scripted".into()));
        }
        if take(&self.throttles) {
            return Err(StoreError::Throttled("scripted".into()));
        }
        let outcome = self.inner.commit(group).await?;
        if outcome == CommitOutcome::Committed && take(&self.lost_replies) {
            return Err(StoreError::Ambiguous("scripted: reply lost".into()));
        }
        Ok(outcome)
    }
    async fn pending_days(&self, cursor: Option<String>) -> StoreResult<PendingPage> {
        let lagging = self.lagging_pages.lock().unwrap().pop_front();
        match lagging {
            Some(page) => Ok(page),
            None => self.inner.pending_days(cursor).await,
        }
    }
    async fn day_snapshot(&self, app: &AppId, day: Day) -> StoreResult<DaySnapshot> {
        let snapshot = self.inner.day_snapshot(app, day).await?;
        let landing = self.land_after_snapshot.lock().unwrap().pop_front();
        if let Some(group) = landing {
            let outcome = self.inner.commit(&group).await?;
            assert_eq!(outcome, CommitOutcome::Committed, "a landing event is new");
        }
        Ok(snapshot)
    }
    async fn write_day(
        &self,
        app: &AppId,
        day: Day,
        totals: &ModeUsage,
        seq: u64,
    ) -> StoreResult<WriteDayOutcome> {
        let outcome = self.inner.write_day(app, day, totals, seq).await;
        if let Some((clock, step)) = &self.clock {
            clock.advance(*step);
        }
        outcome
    }
}
