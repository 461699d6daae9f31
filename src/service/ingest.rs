//! Exactly-once ingestion of a batch of usage events.
//!
//! Every segment is counted in the same transaction that creates its dedupe
//! record, so an event is either fully counted and marked, or neither. Retries
//! are always safe: a transaction that committed but whose reply was lost is
//! cancelled on retry by its own dedupe records, and the events it holds are
//! then known to be counted.

use super::alerts::Check;
use super::turns::{TurnPolicy, end_turn, join_line, wait_turn};
use super::voids::{VoidDelivery, apply_voids};
use crate::domain::class::Package;
use crate::domain::commit::{
    Acknowledged, CommitGroup, Known, NewEvent, Origin, UserMark, Zones, marks_of,
    plan_commits_by_app,
};
use crate::domain::correction::kept_void_applies;
use crate::domain::event::{EventBody, EventKey, decode, truncate};
use crate::domain::ids::AppId;
use crate::domain::registration::RegistrationRequest;
use crate::domain::statement::DEFAULT_GRACE_SECONDS;
use crate::domain::storage::Measurement;
use crate::domain::time::UtcMillis;
use crate::domain::zone::BillingZone;
use crate::store::{
    CommitOutcome, RegisterOutcome, SetOnceOutcome, StoreError, StoreResult, UsageStore,
};
use futures::stream::{self, StreamExt};
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::time::Duration;

/// One SQS message.
#[derive(Clone, Debug)]
pub struct InboundMessage {
    pub message_id: String,
    pub body: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailureKind {
    /// The event can never be counted; redrive sends it to the dead-letter queue.
    Invalid,
    /// Storage failed; the message is redelivered and counted then.
    Transient,
    /// This function built a storage request DynamoDB cannot take: a defect
    /// in the code. The message goes back to the queue (and after five
    /// receives to the dead-letter queue), to be redriven once it is fixed.
    Defect,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageFailure {
    pub message_id: String,
    pub event_id: Option<String>,
    pub kind: FailureKind,
    pub reason: String,
}

#[derive(Clone, Debug, Default)]
pub struct IngestReport {
    pub failures: Vec<MessageFailure>,
    /// Events counted by this invocation.
    pub counted: usize,
    /// Deliveries of events that had been counted before (or earlier in the batch).
    pub duplicates: usize,
    /// Registrations, class facts, packages and storage measurements taken
    /// in (new or repeated).
    pub facts: usize,
    /// Extra rounds this invocation made: after a transaction conflict, or
    /// after a cancellation by events counted before.
    pub retries: usize,
    /// Transactions cancelled by a concurrent transaction on the same items.
    pub conflicts: usize,
    /// Busy apps whose events this invocation counted in their turn (see
    /// `service::turns`), and how long it waited in their lines.
    pub turns: usize,
    pub turn_wait: Duration,
    /// Voids applied by this invocation (taking usage back, or kept for
    /// an event not yet arrived).
    pub voids: usize,
    /// The apps whose alerts the batch may change (CONTRACT §12), with the
    /// messages that named them: checked once the batch is counted.
    pub alert_checks: BTreeMap<AppId, AlertCheck>,
}

/// An app the batch touched in a way that may raise an alert.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AlertCheck {
    pub check: Check,
    /// The messages (and their event ids) that named the app: redelivered
    /// if its alerts could not be finished.
    pub messages: Vec<(String, String)>,
}

impl IngestReport {
    /// Notes that a message of the batch touched `app`'s deduction; a
    /// purchase or refund (`decide`) makes it decide afresh.
    fn touches(&mut self, app: &AppId, decide: bool, message_id: &str, event_id: &str) {
        let entry = self.alert_checks.entry(app.clone()).or_default();
        entry.check.decide |= decide;
        entry
            .messages
            .push((message_id.to_owned(), event_id.to_owned()));
    }

    /// Reports the messages of apps whose alerts are unfinished, so SQS
    /// delivers them again and the next invocation publishes what is
    /// pending (their events are known counted by then: duplicates).
    pub fn alerts_unfinished(&mut self, apps: &BTreeSet<AppId>) {
        for app in apps {
            let Some(check) = self.alert_checks.get(app) else {
                continue;
            };
            for (message_id, event_id) in check.messages.clone() {
                fail(
                    self,
                    &message_id,
                    Some(event_id),
                    FailureKind::Transient,
                    format!("an alert of app {app} is not published yet"),
                );
            }
        }
    }
}

/// How many rounds one invocation makes to count its events. A round reads
/// which events were counted before, then commits the rest. A new round
/// starts only when a round made a definite answer that changes the plan:
/// a transaction cancelled because some of its events were counted before
/// (the rest retry at once), or cancelled by a concurrent transaction on
/// the same items (which the AWS SDK does not retry; the next round waits a
/// jittered backoff). Throttling, timeouts and 5xx answers are retried
/// inside each request by the SDK (see `entry::config::SDK_MAX_ATTEMPTS`);
/// when it gives up, the events are reported and SQS redelivers them later.
#[derive(Clone, Copy, Debug)]
pub struct RetryPolicy {
    pub rounds: u32,
    pub first_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            rounds: 4,
            first_backoff: Duration::from_millis(25),
        }
    }
}

/// A distinct event of the batch and every message that carried it.
struct Delivery {
    event: NewEvent,
    event_id: String,
    message_ids: Vec<String>,
}

/// What a deployment decides about ingestion: the zone a registration
/// without its own fixes, the grace after a month's end before its
/// statement closes (usage acknowledged later is kept apart as late), and
/// how a busy app's writers line up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IngestSettings {
    pub default_zone: BillingZone,
    pub grace_seconds: i64,
    pub turns: TurnPolicy,
}

impl Default for IngestSettings {
    /// UTC, and the contract's 72 hours.
    fn default() -> Self {
        IngestSettings {
            default_zone: BillingZone::utc(),
            grace_seconds: DEFAULT_GRACE_SECONDS,
            turns: TurnPolicy::default(),
        }
    }
}

/// [`ingest_batch_in`] with the default [`IngestSettings`].
pub async fn ingest_batch<S: UsageStore>(
    store: &S,
    messages: &[InboundMessage],
    now: UtcMillis,
    retry: RetryPolicy,
) -> IngestReport {
    ingest_batch_in(store, messages, now, retry, &IngestSettings::default()).await
}

/// Takes in one SQS batch, acknowledged at `now`.
pub async fn ingest_batch_in<S: UsageStore>(
    store: &S,
    messages: &[InboundMessage],
    now: UtcMillis,
    retry: RetryPolicy,
    settings: &IngestSettings,
) -> IngestReport {
    let ack = Acknowledged {
        at: now,
        grace_seconds: settings.grace_seconds,
    };
    let default_zone = &settings.default_zone;
    let mut report = IngestReport::default();
    let mut deliveries: BTreeMap<EventKey, Delivery> = BTreeMap::new();
    let mut measured: Vec<Measured> = Vec::new();
    let mut voids: BTreeMap<EventKey, VoidDelivery> = BTreeMap::new();
    for message in messages {
        let decoded = match message.body.as_deref() {
            Some(body) => decode(body, now),
            None => Err(crate::domain::event::Rejection {
                event_id: None,
                reason: "empty message body".into(),
            }),
        };
        let event = match decoded {
            Ok(event) => event,
            Err(rejection) => {
                fail(
                    &mut report,
                    &message.message_id,
                    rejection.event_id,
                    FailureKind::Invalid,
                    rejection.reason,
                );
                continue;
            }
        };
        // Only audio/video usage and packages move §7's deduction; a
        // registration counts the app's parked sessions.
        match &event.body {
            EventBody::AppRegistered { app, .. } => {
                report.touches(app, false, &message.message_id, &event.id)
            }
            EventBody::ClassSession(session) => {
                report.touches(&session.app, false, &message.message_id, &event.id)
            }
            EventBody::PackagePurchased(package) => {
                report.touches(&package.app, true, &message.message_id, &event.id)
            }
            EventBody::PackageRefunded(refund) => {
                report.touches(&refund.app, true, &message.message_id, &event.id)
            }
            _ => {}
        }
        // Registrations, class facts and packages are set once: applying one
        // again changes nothing, so they need no dedupe record. Usage is
        // counted below, exactly once.
        let set_once = match event.body {
            EventBody::AppRegistered { app, request } => {
                register(
                    store,
                    &app,
                    &request,
                    default_zone,
                    &ack,
                    retry,
                    &mut report,
                )
                .await
            }
            EventBody::ClassFact(fact) => store.apply_class_fact(&fact).await,
            // A purchase and a refund are acknowledged now: a statement
            // knows a package from then on.
            EventBody::PackagePurchased(package) => {
                let package = Package {
                    acked: now,
                    ..package
                };
                store.put_package(&package).await
            }
            EventBody::PackageRefunded(refund) => store
                .refund_package(&refund, now)
                .await
                .map(|()| SetOnceOutcome::Applied),
            EventBody::RecordingSegment(segment) => {
                deliver(
                    &mut deliveries,
                    NewEvent::segment(event.key, segment),
                    event.id,
                    message,
                );
                continue;
            }
            EventBody::ClassSession(session) => {
                deliver(
                    &mut deliveries,
                    NewEvent::session(event.key, session),
                    event.id,
                    message,
                );
                continue;
            }
            EventBody::UsageVoided(void) => {
                voids
                    .entry(event.key)
                    .or_insert_with(|| VoidDelivery {
                        void,
                        event_id: event.id,
                        message_ids: Vec::new(),
                    })
                    .message_ids
                    .push(message.message_id.clone());
                continue;
            }
            EventBody::StorageMeasured(measurement) => {
                measured.push(Measured {
                    measurement,
                    message_id: message.message_id.clone(),
                    event_id: event.id,
                });
                continue;
            }
        };
        match set_once {
            Ok(SetOnceOutcome::Applied) => report.facts += 1,
            Ok(SetOnceOutcome::Conflict(reason)) => fail(
                &mut report,
                &message.message_id,
                Some(event.id),
                FailureKind::Invalid,
                reason,
            ),
            Err(err) => fail(
                &mut report,
                &message.message_id,
                Some(event.id),
                store_failure(&err),
                err.to_string(),
            ),
        }
    }
    store_measurements(store, measured, &mut report).await;
    count_exactly_once(store, deliveries, &ack, retry, &settings.turns, &mut report).await;
    apply_voids(store, voids, &ack, retry, &mut report).await;
    report
}

/// A storage measurement of the batch and the message that carried it.
struct Measured {
    measurement: Measurement,
    message_id: String,
    event_id: String,
}

/// Storage measurements need no dedupe record: each is stored as an item
/// keyed by its app, instant and bytes, so storing it again (a redelivery,
/// another event with the same reading, a retry after a write that landed)
/// writes the same item, and the trend reads the largest of an instant. The
/// whole batch's measurements go out together; if that fails, every one is
/// reported and redelivered, the ones that landed included, harmlessly.
async fn store_measurements<S: UsageStore>(
    store: &S,
    measured: Vec<Measured>,
    report: &mut IngestReport,
) {
    if measured.is_empty() {
        return;
    }
    let measurements: Vec<Measurement> = measured.iter().map(|m| m.measurement.clone()).collect();
    match store.put_measurements(&measurements).await {
        Ok(()) => report.facts += measured.len(),
        Err(err) => {
            let kind = store_failure(&err);
            for m in measured {
                fail(
                    report,
                    &m.message_id,
                    Some(m.event_id),
                    kind,
                    err.to_string(),
                );
            }
        }
    }
}

/// One more message carrying `event` (several may carry the same one).
fn deliver(
    deliveries: &mut BTreeMap<EventKey, Delivery>,
    event: NewEvent,
    event_id: String,
    message: &InboundMessage,
) {
    let delivery = deliveries.entry(event.key).or_insert_with(|| Delivery {
        event,
        event_id,
        message_ids: Vec::new(),
    });
    delivery.message_ids.push(message.message_id.clone());
}

/// How a storage failure is reported: a defect, or something a redelivery
/// may get past.
fn store_failure(err: &StoreError) -> FailureKind {
    match err {
        StoreError::Bug(_) => FailureKind::Defect,
        _ => FailureKind::Transient,
    }
}

/// Takes a registration in. The first fixes the app's zone; usage that
/// arrived before it (parked) is then counted in that zone, and only then is
/// the app opened to answers and the registration acknowledged. A failure
/// on the way leaves the registration to its redelivery, which finishes the
/// work: what was counted stays counted, the rest is still parked.
async fn register<S: UsageStore>(
    store: &S,
    app: &AppId,
    request: &RegistrationRequest,
    default_zone: &BillingZone,
    ack: &Acknowledged,
    retry: RetryPolicy,
    report: &mut IngestReport,
) -> Result<SetOnceOutcome, StoreError> {
    let zone = match store.register_app(app, request, default_zone).await? {
        RegisterOutcome::Accepted { open: true, .. } => return Ok(SetOnceOutcome::Applied),
        RegisterOutcome::Accepted { zone, open: false } => zone,
        RegisterOutcome::OwnedByAnother => {
            return Ok(SetOnceOutcome::Conflict(format!(
                "app {app} is registered to another account"
            )));
        }
        RegisterOutcome::OtherZone(zone) => {
            let asked = request.zone.as_ref().map_or("", BillingZone::name);
            return Ok(SetOnceOutcome::Conflict(format!(
                "app {app} bills in the time zone {zone}; a registration cannot change it to {asked}"
            )));
        }
    };
    let parked: BTreeMap<EventKey, NewEvent> = store
        .parked(app)
        .await?
        .into_iter()
        .map(|event| (event.key, event))
        .collect();
    let mut zones = Zones::from([(app.clone(), zone)]);
    let (left, error) =
        commit_exactly_once(store, parked, &mut zones, ack, retry, report, |_, _, _| {}).await;
    if !left.is_empty() {
        return Err(error
            .unwrap_or_else(|| StoreError::Conflict("parked usage not all counted yet".into())));
    }
    store.open_app(app).await?;
    Ok(SetOnceOutcome::Applied)
}

/// Counts the batch's usage events exactly once and reports each message:
/// a busy app's events in its turn (`service::turns`), the others at once,
/// alongside.
async fn count_exactly_once<S: UsageStore>(
    store: &S,
    mut deliveries: BTreeMap<EventKey, Delivery>,
    ack: &Acknowledged,
    retry: RetryPolicy,
    turns: &TurnPolicy,
    report: &mut IngestReport,
) {
    // A busy app's events wait for its turn; the rest are counted at once.
    let mut per_app: BTreeMap<AppId, BTreeMap<EventKey, NewEvent>> = BTreeMap::new();
    for (key, delivery) in &deliveries {
        per_app
            .entry(delivery.event.app().clone())
            .or_default()
            .insert(*key, delivery.event.clone());
    }
    let (busy, quiet): (Vec<_>, Vec<_>) = per_app
        .into_iter()
        .partition(|(_, events)| events.len() >= turns.min_events);
    let quiet: BTreeMap<EventKey, NewEvent> = quiet.into_iter().flat_map(|(_, e)| e).collect();
    // The quiet apps are counted while the busy ones wait for their turns:
    // they touch other items. Each part keeps its own tally, added up below.
    let quiet_part = async {
        let mut part = Part::default();
        if !quiet.is_empty() {
            part.count(store, quiet, ack, retry).await;
        }
        part
    };
    // One turn at a time: waiting for a turn while holding another could
    // leave two invocations waiting for each other.
    let busy_part = async {
        let mut part = Part::default();
        for (app, events) in busy {
            let mut turn = join_line(store, &app).await;
            wait_turn(store, &mut turn, turns).await;
            part.report.turns += usize::from(turn.served);
            part.report.turn_wait += turn.waited;
            part.count(store, events, ack, retry).await;
            end_turn(store, turn).await;
        }
        part
    };
    let (quiet_part, busy_part) = futures::join!(quiet_part, busy_part);
    for part in [quiet_part, busy_part] {
        report.retries += part.report.retries;
        report.conflicts += part.report.conflicts;
        report.turns += part.report.turns;
        report.turn_wait += part.report.turn_wait;
        // Extra messages carrying an event already in the batch are
        // duplicates.
        for (key, counted_now) in part.settled {
            let Some(delivery) = deliveries.remove(&key) else {
                continue;
            };
            let copies = delivery.message_ids.len();
            if counted_now {
                report.counted += 1;
                report.duplicates += copies - 1;
            } else {
                report.duplicates += copies;
            }
        }
        for (left, last_error) in part.stopped {
            let unfinished = left
                .keys()
                .filter_map(|key| deliveries.remove(key))
                .map(|d| (d.event_id, d.message_ids));
            fail_unfinished(report, unfinished, last_error);
        }
    }
}

/// What one part of a batch's counting ended with: its rounds and
/// conflicts (in `report`), the zones it read, each event settled (counted
/// now, or known counted before), and what each call left uncounted.
#[derive(Default)]
struct Part {
    report: IngestReport,
    zones: Zones,
    settled: Vec<(EventKey, bool)>,
    stopped: Vec<(BTreeMap<EventKey, NewEvent>, Option<StoreError>)>,
}

impl Part {
    /// Counts `events` exactly once, into this part's tally.
    async fn count<S: UsageStore>(
        &mut self,
        store: &S,
        events: BTreeMap<EventKey, NewEvent>,
        ack: &Acknowledged,
        retry: RetryPolicy,
    ) {
        let settled = &mut self.settled;
        let stopped = commit_exactly_once(
            store,
            events,
            &mut self.zones,
            ack,
            retry,
            &mut self.report,
            |_, key, counted_now| settled.push((key, counted_now)),
        )
        .await;
        self.stopped.push(stopped);
    }
}

/// Reports every message of the events (or voids) still not done when the
/// rounds ended, as `(event id, message ids)`, with the failure that
/// stopped the last round: SQS redelivers them.
pub(super) fn fail_unfinished(
    report: &mut IngestReport,
    unfinished: impl IntoIterator<Item = (String, Vec<String>)>,
    last_error: Option<StoreError>,
) {
    let kind = last_error
        .as_ref()
        .map_or(FailureKind::Transient, store_failure);
    let reason = last_error.map_or_else(|| "retry rounds exhausted".to_owned(), |e| e.to_string());
    for (event_id, message_ids) in unfinished {
        for message_id in message_ids {
            fail(
                report,
                &message_id,
                Some(event_id.clone()),
                kind,
                reason.clone(),
            );
        }
    }
}

/// Counts `pending` exactly once, in rounds (see [`RetryPolicy`]), telling
/// `done` of each event once it is counted (`true`) or known counted before
/// (`false`). `zones` holds the zones known so far; the others are read,
/// and an app still without one has its usage parked. Answers the events
/// left uncounted and the failure that stopped the last round.
async fn commit_exactly_once<S: UsageStore>(
    store: &S,
    mut pending: BTreeMap<EventKey, NewEvent>,
    zones: &mut Zones,
    ack: &Acknowledged,
    retry: RetryPolicy,
    report: &mut IngestReport,
    mut done: impl FnMut(&mut IngestReport, EventKey, bool),
) -> (BTreeMap<EventKey, NewEvent>, Option<StoreError>) {
    let mut last_error: Option<StoreError> = None;
    let mut known_users = Known::new();
    let mut rounds = Rounds::new(retry);
    while !pending.is_empty() && rounds.next(&last_error, report).await {
        last_error = None;
        // The zones not known yet: a zone, once fixed, never changes.
        let unknown: Vec<AppId> = pending
            .values()
            .map(|e| e.app().clone())
            .filter(|app| !zones.contains_key(app))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        if !unknown.is_empty() {
            match store.zones(&unknown).await {
                Ok(found) => zones.extend(found),
                Err(err) => {
                    last_error = Some(err);
                    continue;
                }
            }
        }
        // A cheap read first: events counted before (redeliveries) never reach
        // a transaction, where a failed condition would cancel the rest and
        // still cost write capacity.
        let keys: Vec<EventKey> = pending.keys().copied().collect();
        // Each mark once: sessions of one user in one row share it, and a
        // read may not name a key twice.
        let marks: Vec<UserMark> = pending
            .values()
            .flat_map(|e| marks_of(&e.usage, zones))
            .filter(|m| !known_users.contains_key(m))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        match store.seen(&keys, &marks).await {
            Ok(seen) => {
                for key in seen.events {
                    // A parked event's dedupe record exists by design: it
                    // is counted by removing its parked record. A void its
                    // own app kept under its key makes it count as voided;
                    // one another app kept is replaced by it.
                    if pending.get(&key).is_some_and(|e| {
                        e.origin == Origin::Delivered
                            && seen
                                .kept
                                .get(&key)
                                .is_none_or(|app| kept_void_applies(app, e.app()))
                    }) {
                        pending.remove(&key);
                        done(report, key, false);
                    }
                }
                known_users.extend(seen.users);
            }
            Err(err) => {
                last_error = Some(err);
                continue;
            }
        }
        let by_app = plan_commits_by_app(
            pending.values(),
            &known_users,
            zones,
            ack,
            S::MAX_COMMIT_ACTIONS,
        );
        // Each app's groups one after another (they share its items),
        // apps side by side.
        let outcomes: Vec<(CommitGroup, StoreResult<CommitOutcome>)> = stream::iter(by_app)
            .map(|groups| async move {
                let mut outcomes = Vec::with_capacity(groups.len());
                for group in groups {
                    let outcome = store.commit(&group).await;
                    outcomes.push((group, outcome));
                }
                outcomes
            })
            .buffer_unordered(COMMITS_AT_ONCE)
            .flat_map(stream::iter)
            .collect()
            .await;
        for (group, outcome) in outcomes {
            match outcome {
                Ok(CommitOutcome::Committed) => {
                    for key in group.keys() {
                        if pending.remove(&key).is_some() {
                            done(report, key, true);
                        }
                    }
                }
                // Nothing was written; the rest of the group goes into the next round.
                Ok(CommitOutcome::AlreadyCounted(seen)) => {
                    for key in seen {
                        if pending.remove(&key).is_some() {
                            done(report, key, false);
                        }
                    }
                }
                // Nothing was written; the next round reads these marks again.
                Ok(CommitOutcome::UsersSeen(users)) => {
                    for mark in users {
                        known_users.remove(&mark);
                    }
                }
                // Nothing was written; the next round reads the zones again.
                Ok(CommitOutcome::ZoneFixed | CommitOutcome::VoidTargetChanged) => {}
                Err(err) => commit_failed(err, &group, &mut last_error, report),
            }
        }
    }
    (pending, last_error)
}

pub(super) fn fail(
    report: &mut IngestReport,
    message_id: &str,
    event_id: Option<String>,
    kind: FailureKind,
    reason: String,
) {
    let event_id = event_id.map(|id| truncate(&id, 128));
    match kind {
        FailureKind::Invalid => tracing::error!(
            message_id,
            event_id = event_id.as_deref(),
            reason = %truncate(&reason, 512),
            "usage event rejected"
        ),
        FailureKind::Defect => tracing::error!(
            message_id,
            event_id = event_id.as_deref(),
            reason = %truncate(&reason, 512),
            "usage event not counted: malformed storage request (a defect); left for redelivery"
        ),
        FailureKind::Transient => tracing::warn!(
            message_id,
            event_id = event_id.as_deref(),
            reason = %truncate(&reason, 512),
            "usage event not counted yet; left for redelivery"
        ),
    }
    report.failures.push(MessageFailure {
        message_id: message_id.to_owned(),
        event_id,
        kind,
        reason,
    });
}

/// A commit that failed: reported, and kept as the round's failure unless
/// a conflict (which outranks the others: the round after it may still
/// count everything) came first.
pub(super) fn commit_failed(
    err: StoreError,
    group: &CommitGroup,
    last_error: &mut Option<StoreError>,
    report: &mut IngestReport,
) {
    tracing::warn!(error = %err, events = group.keys().count(), "commit failed");
    if matches!(err, StoreError::Conflict(_)) {
        report.conflicts += 1;
    }
    if !matches!(last_error, Some(StoreError::Conflict(_))) {
        *last_error = Some(err);
    }
}

/// Apps whose transactions one invocation has in flight at once: enough to
/// cover a batch's other apps in a few round trips, few enough to leave the
/// SDK's connection pool and the function's memory alone.
const COMMITS_AT_ONCE: usize = 16;

/// The rounds of one invocation's exactly-once loop (see [`RetryPolicy`]).
pub(super) struct Rounds {
    policy: RetryPolicy,
    backoff: Duration,
    started: u32,
}

impl Rounds {
    pub(super) fn new(policy: RetryPolicy) -> Self {
        Rounds {
            policy,
            backoff: policy.first_backoff,
            started: 0,
        }
    }

    /// Whether another round starts, given the failure that ended the last
    /// one: none, or a conflict (after a jittered, doubling backoff). Any
    /// other failure leaves the rest to SQS's redelivery.
    pub(super) async fn next(
        &mut self,
        last_error: &Option<StoreError>,
        report: &mut IngestReport,
    ) -> bool {
        if self.started >= self.policy.rounds {
            return false;
        }
        let first = self.started == 0;
        self.started += 1;
        match last_error {
            Some(err) if !matches!(err, StoreError::Conflict(_)) => return false,
            Some(_) => {
                report.retries += 1;
                tokio::time::sleep(jitter(self.backoff)).await;
                self.backoff *= 2;
            }
            None if !first => report.retries += 1,
            None => {}
        }
        true
    }
}

/// Up to +50%, from the clock's sub-second noise: enough to spread retries of
/// concurrent invocations apart without a random-number dependency.
fn jitter(base: Duration) -> Duration {
    let noise = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    base + base.mul_f64(f64::from(noise % 500) / 1000.0)
}

/// Message ids of the failures, deduplicated, for the SQS batch response.
pub fn failed_message_ids(report: &IngestReport) -> Vec<String> {
    let mut seen = HashSet::new();
    report
        .failures
        .iter()
        .filter(|f| seen.insert(f.message_id.clone()))
        .map(|f| f.message_id.clone())
        .collect()
}
