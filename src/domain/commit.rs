//! Turning a batch of new segments into as few storage writes as the store's
//! transaction rules allow: the exactly-once unit is a [`CommitGroup`], one
//! transaction holding a dedupe record per event and one counter update per
//! (app, hour) and per (app, day) the events touch. The plan also decides
//! how long each record it creates lives (from [`retention`]), so storage
//! only carries the decision out.
//!
//! Where usage lands depends on the app's billing time zone (rows and user
//! marks per local day, each hour's part before its cut kept apart). Usage
//! of an app whose zone is not fixed yet (no registration so far) is
//! *parked*: kept whole, with its dedupe record, under the condition that
//! the zone is still unfixed, and counted in place once the registration
//! fixes it, each parked record removed in the transaction that counts it.

use super::class::{Session, UsageType};
use super::event::{EventKey, Segment};
use super::ids::{AppId, ClassId, Name};
use super::retention;
use super::statement::Calendar;
use super::time::{Day, Hour, UtcMillis};
use super::usage::ModeUsage;
use super::zone::{BillingZone, Part};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// The most actions one event can need. A recording segment: its dedupe
/// (or parked) record, the 49 hours a 48-hour segment can touch, the 3 UTC
/// days those hours fall on and, with a class, the class's recording on
/// each of the up to 4 local days (a 23-hour day in the middle). A class
/// session: its record, 49 hours, and on each of its up to 4 local days a
/// row and a user mark, plus the app's deduction state. A void of either
/// takes the same counters back, and writes up to three records where the
/// event wrote one: its own, the voided event's, and a check or removal of
/// the event's parked record. Either may be late for a closed statement:
/// one more record. A store whose transactions hold fewer could not count
/// every event, or void it.
pub const MAX_ACTIONS_PER_EVENT: usize = 3 + 49 + 4 + 4 + 1 + 1;

/// What a new event counts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Counted {
    Segment(Segment),
    Session(Session),
}

impl Counted {
    pub fn app(&self) -> &AppId {
        match self {
            Counted::Segment(s) => &s.app,
            Counted::Session(s) => &s.app,
        }
    }

    /// `[start, end)` of the usage.
    pub fn interval(&self) -> (UtcMillis, UtcMillis) {
        match self {
            Counted::Segment(s) => (s.start, s.end),
            Counted::Session(s) => (s.start, s.end),
        }
    }
}

/// Where an event about to be counted comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// A delivery: counted with a new dedupe record.
    Delivered,
    /// A parked record of an earlier delivery (its dedupe record exists):
    /// counted by removing the parked record.
    Parked,
}

/// A new event about to be counted.
#[derive(Clone, Debug)]
pub struct NewEvent {
    pub key: EventKey,
    pub usage: Counted,
    pub origin: Origin,
}

impl NewEvent {
    pub fn segment(key: EventKey, segment: Segment) -> Self {
        NewEvent {
            key,
            usage: Counted::Segment(segment),
            origin: Origin::Delivered,
        }
    }

    pub fn session(key: EventKey, session: Session) -> Self {
        NewEvent {
            key,
            usage: Counted::Session(session),
            origin: Origin::Delivered,
        }
    }

    /// An event parked earlier, to be counted now.
    pub fn parked(key: EventKey, usage: Counted) -> Self {
        NewEvent {
            key,
            usage,
            origin: Origin::Parked,
        }
    }

    pub fn app(&self) -> &AppId {
        self.usage.app()
    }

    fn start(&self) -> UtcMillis {
        match &self.usage {
            Counted::Segment(s) => s.start,
            Counted::Session(s) => s.start,
        }
    }
}

/// The billing time zone of each app whose zone is fixed.
pub type Zones = HashMap<AppId, BillingZone>;

/// The user marks a session would create in its zone: one per local day it
/// touches. None for a segment, or an app whose zone is not known.
pub fn marks_of(usage: &Counted, zones: &Zones) -> Vec<UserMark> {
    match (usage, zones.get(usage.app())) {
        (Counted::Session(session), Some(zone)) => session
            .days(zone)
            .into_iter()
            .map(|day| UserMark {
                row: RowKey {
                    app: session.app.clone(),
                    day,
                    class: session.class.clone(),
                    usage: session.usage,
                },
                user: session.user.clone(),
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// One details row of audio/video usage: a class's sessions of one usage
/// type on one local day of the app.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RowKey {
    pub app: AppId,
    pub day: Day,
    pub class: ClassId,
    pub usage: UsageType,
}

/// That a user has been counted in a row: created once, with the session
/// that first brings the user, so a user who rejoins, or two sessions of
/// the same user, never count twice.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UserMark {
    pub row: RowKey,
    pub user: Name,
}

/// What a group adds to one row.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RowAdd {
    pub ms: u64,
    /// Users new to the row: one per user mark the group creates for it.
    pub users: u64,
}

/// Audio/video milliseconds of one bucket, by usage type.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AvMillis {
    pub interactive: u64,
    pub playback: u64,
}

impl AvMillis {
    pub fn add(&mut self, usage: UsageType, ms: u64) {
        match usage {
            UsageType::Interactive => self.interactive += ms,
            UsageType::Playback => self.playback += ms,
        }
    }

    pub fn total(&self) -> u64 {
        self.interactive + self.playback
    }
}

impl std::ops::Sub for AvMillis {
    type Output = AvMillis;

    /// Part of a total less another part of it: never below zero.
    fn sub(self, other: Self) -> AvMillis {
        AvMillis {
            interactive: self.interactive.saturating_sub(other.interactive),
            playback: self.playback.saturating_sub(other.playback),
        }
    }
}

impl std::ops::AddAssign for AvMillis {
    fn add_assign(&mut self, other: Self) {
        self.interactive += other.interactive;
        self.playback += other.playback;
    }
}

/// Audio/video usage added to one (app, hour), of it the part before the
/// hour's cut, and when that hour's record may expire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AvHourAdd {
    pub usage: AvMillis,
    pub head: AvMillis,
    pub expires: UtcMillis,
}

/// Whether a group adds its usage or takes it back (a void's).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Sign {
    #[default]
    Add,
    Take,
}

/// An event's record: created only if the key holds nothing yet (or only a
/// void that another app kept under it), with the usage the event counts,
/// so a later void can take exactly that back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventWrite {
    pub key: EventKey,
    pub expires: UtcMillis,
    pub usage: Counted,
    /// The usage is parked with it (its app has no zone yet).
    pub parked: bool,
    /// The instant the invocation that writes it acknowledged it: which
    /// statement it counts in (kept for audit; a statement reads the late
    /// usage, which carries it too).
    pub acked: UtcMillis,
}

impl EventWrite {
    /// The record of a new segment, living as its dedupe record must.
    pub fn segment(key: EventKey, segment: Segment) -> Self {
        EventWrite {
            key,
            expires: retention::dedupe_expiry(segment.start),
            usage: Counted::Segment(segment),
            parked: false,
            acked: UtcMillis(0),
        }
    }
}

/// How many live (not voided) sessions each known user mark counts.
pub type Known = HashMap<UserMark, u64>;

/// A change of one user mark's count of live sessions: `by` more (or, in a
/// [`Sign::Take`] group, fewer) than the `from` the plan read. A user enters
/// a row's `users` when their mark goes up from 0, and leaves it when it
/// comes back down to 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MarkChange {
    pub from: u64,
    pub by: u64,
    pub expires: UtcMillis,
}

/// What a void does to the event it names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VoidEffect {
    /// The event is not known: a record saying it is voided is created
    /// under its key (only if the key still holds nothing).
    Kept,
    /// The event was counted: its record is marked voided (only if it is
    /// not yet), and its usage is taken back by this group. `parked` says
    /// the event was once parked: it must not be parked any more.
    Counted { parked: bool },
    /// The event is still parked: its record is marked voided and its
    /// parked record removed (only if it is still there).
    Parked,
}

/// A void's writes: its own record (only if it does not exist yet), and
/// its effect on the event it names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VoidWrite {
    pub key: EventKey,
    pub app: AppId,
    pub voided: EventKey,
    pub expires: UtcMillis,
    pub effect: VoidEffect,
}

impl VoidWrite {
    fn action_count(&self) -> usize {
        match self.effect {
            VoidEffect::Kept | VoidEffect::Counted { parked: false } => 2,
            VoidEffect::Counted { parked: true } | VoidEffect::Parked => 3,
        }
    }
}

/// The instant the events of a batch are acknowledged, and the grace after
/// a month's end before its statement closes: usage acknowledged after a
/// month it touches had closed is kept apart as [`LateWrite`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Acknowledged {
    pub at: UtcMillis,
    pub grace_seconds: i64,
}

impl Acknowledged {
    /// Whether usage on these local days of `zone` is late: acknowledged
    /// after the statement of a month among them closed.
    fn is_late(&self, zone: &BillingZone, days: impl IntoIterator<Item = Day>) -> bool {
        Calendar::new(zone.clone(), self.grace_seconds).is_late(days, self.at)
    }
}

/// Usage acknowledged after a month it touches had closed (added, or taken
/// back by a void), by acknowledgement instant: what a closed statement
/// leaves out, and what the statement of the month it was acknowledged in
/// shows as an adjustment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LateWrite {
    pub key: EventKey,
    pub acked: UtcMillis,
    pub usage: Counted,
    pub sign: Sign,
}

/// One atomic write: either all of it lands or none of it. Every counter
/// change goes in the direction of `sign`: a group either adds new events'
/// usage or takes voided events' usage back, never both.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CommitGroup {
    pub sign: Sign,
    /// Records of new events.
    pub events: Vec<EventWrite>,
    /// Recording usage to add per (app, hour).
    pub hours: BTreeMap<(AppId, Hour), HourAdd>,
    /// Days whose hourly recording usage changes: their change counter is
    /// bumped and they are marked for the rollup.
    pub days: BTreeSet<(AppId, Day)>,
    /// Recording milliseconds (both modes, every tier) to add per (app, UTC
    /// day, class), for segments that name their class. A day's segments
    /// without a class are its recording total less these.
    pub class_recordings: BTreeMap<(AppId, Day, ClassId), u64>,
    /// Audio/video usage to add per (app, hour), for the trend.
    pub av_hours: BTreeMap<(AppId, Hour), AvHourAdd>,
    /// What to add to each details row.
    pub rows: BTreeMap<RowKey, RowAdd>,
    /// User marks whose count of live sessions changes (each conditional on
    /// the count the plan read).
    pub marks: BTreeMap<UserMark, MarkChange>,
    /// Per app, the days whose rows change: the app's deduction state records
    /// them, so whatever was prepared for later days is known to be stale.
    pub av_changes: BTreeMap<AppId, BTreeSet<Day>>,
    /// Events of apps whose zone is not fixed: kept whole until it is (each
    /// also has its dedupe record in `events`).
    pub parked: Vec<(EventKey, Counted)>,
    /// Apps whose zone must still be unfixed for the group to commit.
    pub unfixed: BTreeSet<AppId>,
    /// Parked records counted by this group: each must still exist, and is
    /// removed.
    pub unparked: Vec<(AppId, EventKey)>,
    /// Voids applied by this group (a [`Sign::Take`] group).
    pub voids: Vec<VoidWrite>,
    /// Usage of the group that is late for a closed statement.
    pub late: Vec<LateWrite>,
}

/// Usage added to one (app, hour), of it the part before the hour's cut,
/// and when that hour's record may expire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HourAdd {
    pub usage: ModeUsage,
    pub head: ModeUsage,
    pub expires: UtcMillis,
}

impl CommitGroup {
    /// At most how many billable minutes this group adds to the app's rows:
    /// a row's minutes grow by at most its added milliseconds rounded up
    /// (⌈a + b⌉ ≤ ⌈a⌉ + ⌈b⌉), and a group that takes usage back adds none.
    /// What the app's alert watch counts (`domain::alert`).
    pub fn billable_bound(&self, app: &AppId) -> u64 {
        if self.sign == Sign::Take {
            return 0;
        }
        self.rows
            .iter()
            .filter(|(row, _)| &row.app == app)
            .map(|(_, add)| super::deduction::billable_minutes(add.ms))
            .sum()
    }

    pub fn action_count(&self) -> usize {
        self.events.len()
            + self.hours.len()
            + self.days.len()
            + self.class_recordings.len()
            + self.av_hours.len()
            + self.rows.len()
            + self.marks.len()
            + self.av_changes.len()
            + self.parked.len()
            + self.unfixed.len()
            + self.unparked.len()
            + self
                .voids
                .iter()
                .map(VoidWrite::action_count)
                .sum::<usize>()
            + self.late.len()
    }

    /// The events this group counts or parks (new and unparked), and the
    /// voids it applies.
    pub fn keys(&self) -> impl Iterator<Item = EventKey> + '_ {
        self.events
            .iter()
            .map(|e| e.key)
            .chain(self.unparked.iter().map(|(_, k)| *k))
            .chain(self.voids.iter().map(|v| v.key))
    }

    /// Actions `solo` (one event's own group) adds to this group.
    fn new_actions(&self, solo: &CommitGroup) -> usize {
        fn absent<K: Ord, V>(mine: &BTreeMap<K, V>, theirs: &BTreeMap<K, V>) -> usize {
            theirs.keys().filter(|k| !mine.contains_key(k)).count()
        }
        solo.events.len()
            + absent(&self.hours, &solo.hours)
            + solo.days.difference(&self.days).count()
            + absent(&self.class_recordings, &solo.class_recordings)
            + absent(&self.av_hours, &solo.av_hours)
            + absent(&self.rows, &solo.rows)
            + absent(&self.marks, &solo.marks)
            + absent(&self.av_changes, &solo.av_changes)
            + solo.parked.len()
            + solo.unfixed.difference(&self.unfixed).count()
            + solo.unparked.len()
            + solo
                .voids
                .iter()
                .map(VoidWrite::action_count)
                .sum::<usize>()
            + solo.late.len()
    }

    fn is_empty(&self) -> bool {
        self.events.is_empty() && self.unparked.is_empty() && self.voids.is_empty()
    }

    /// Adds one event. `known` holds the live sessions of the user marks
    /// read before planning; a mark not in it is taken to count none.
    fn add(&mut self, event: &NewEvent, known: &Known, zones: &Zones, ack: &Acknowledged) {
        let app = event.app();
        let record = |parked| EventWrite {
            key: event.key,
            expires: retention::dedupe_expiry(event.start()),
            usage: event.usage.clone(),
            parked,
            acked: ack.at,
        };
        let Some(zone) = zones.get(app) else {
            // Not registered yet: the whole event waits for its zone.
            self.events.push(record(true));
            self.parked.push((event.key, event.usage.clone()));
            self.unfixed.insert(app.clone());
            return;
        };
        match event.origin {
            Origin::Delivered => self.events.push(record(false)),
            Origin::Parked => self.unparked.push((app.clone(), event.key)),
        }
        self.count(&event.usage, zone, known);
        self.if_late(event.key, &event.usage, zone, ack);
    }

    /// Keeps `usage` apart as late if its acknowledgement comes after the
    /// close of a month it touches.
    fn if_late(&mut self, key: EventKey, usage: &Counted, zone: &BillingZone, ack: &Acknowledged) {
        let (start, end) = usage.interval();
        let days = days_of(&zone.split(start, end));
        if ack.is_late(zone, days) {
            self.late.push(LateWrite {
                key,
                acked: ack.at,
                usage: usage.clone(),
                sign: self.sign,
            });
        }
    }

    /// Adds one void: its writes, and the usage it takes back.
    fn void(&mut self, void: &PlannedVoid, known: &Known, zones: &Zones, ack: &Acknowledged) {
        self.voids.push(void.write.clone());
        if let (VoidEffect::Counted { .. }, Some(usage)) = (void.write.effect, &void.usage)
            && let Some(zone) = zones.get(usage.app())
        {
            self.count(usage, zone, known);
            self.if_late(void.write.key, usage, zone, ack);
        }
    }

    /// The counters `usage` changes in `zone`, in the group's direction.
    fn count(&mut self, usage: &Counted, zone: &BillingZone, known: &Known) {
        match usage {
            Counted::Segment(seg) => {
                for part in zone.split(seg.start, seg.end) {
                    let add = self
                        .hours
                        .entry((seg.app.clone(), part.hour))
                        .or_insert_with(|| HourAdd {
                            usage: ModeUsage::default(),
                            head: ModeUsage::default(),
                            expires: retention::hourly_expiry(part.hour),
                        });
                    add.usage.add(seg.mode, seg.tier, part.ms);
                    if part.head {
                        add.head.add(seg.mode, seg.tier, part.ms);
                    }
                    // §1's days stay UTC days.
                    self.days.insert((seg.app.clone(), part.hour.day()));
                    if let Some(class) = &seg.class {
                        *self
                            .class_recordings
                            .entry((seg.app.clone(), part.day, class.clone()))
                            .or_default() += part.ms;
                    }
                }
            }
            Counted::Session(session) => {
                let row = |day: Day| RowKey {
                    app: session.app.clone(),
                    day,
                    class: session.class.clone(),
                    usage: session.usage,
                };
                let parts = zone.split(session.start, session.end);
                for part in &parts {
                    let add = self
                        .av_hours
                        .entry((session.app.clone(), part.hour))
                        .or_insert_with(|| AvHourAdd {
                            usage: AvMillis::default(),
                            head: AvMillis::default(),
                            expires: retention::hourly_expiry(part.hour),
                        });
                    add.usage.add(session.usage, part.ms);
                    if part.head {
                        add.head.add(session.usage, part.ms);
                    }
                    self.rows.entry(row(part.day)).or_default().ms += part.ms;
                }
                let days = days_of(&parts);
                for day in &days {
                    let mark = UserMark {
                        row: row(*day),
                        user: session.user.clone(),
                    };
                    let from = known.get(&mark).copied().unwrap_or(0);
                    let change = self.marks.entry(mark).or_insert(MarkChange {
                        from,
                        by: 0,
                        expires: retention::user_mark_expiry(*day),
                    });
                    change.by += 1;
                    // The user enters the row with their first live
                    // session, and leaves it with their last.
                    let crosses_zero = match self.sign {
                        Sign::Add => change.from == 0 && change.by == 1,
                        Sign::Take => change.by == change.from,
                    };
                    if crosses_zero {
                        self.rows.entry(row(*day)).or_default().users += 1;
                    }
                }
                self.av_changes
                    .entry(session.app.clone())
                    .or_default()
                    .extend(days);
            }
        }
    }
}

/// The local days the parts lie in, ascending, each once.
pub fn days_of(parts: &[Part]) -> Vec<Day> {
    let mut days: Vec<Day> = parts.iter().map(|p| p.day).collect();
    days.dedup();
    days
}

/// Groups events, in order, into as few transactions as `max_actions` (the
/// store's limit per transaction) allows; events that add to the same item
/// share one update. `known` holds the live sessions of the user marks read
/// before planning; `zones` the zone of every app whose zone is fixed (the
/// others' events are parked). With `max_actions` of at least
/// [`MAX_ACTIONS_PER_EVENT`], every event fits in a group of its own.
pub fn plan_commits<'a>(
    events: impl IntoIterator<Item = &'a NewEvent>,
    known: &Known,
    zones: &Zones,
    ack: &Acknowledged,
    max_actions: usize,
) -> Vec<CommitGroup> {
    plan(events, Sign::Add, max_actions, |group, event| {
        group.add(event, known, zones, ack)
    })
}

/// [`plan_commits`] for each app apart: every app's groups, in order. A
/// transaction then touches one app's items only, so one cancelled by a
/// concurrent writer of that app takes no other app's events with it, and
/// different apps' transactions can be in flight side by side. It costs no
/// write unit more: every item an event writes is its app's (or its own
/// record).
pub fn plan_commits_by_app<'a>(
    events: impl IntoIterator<Item = &'a NewEvent>,
    known: &Known,
    zones: &Zones,
    ack: &Acknowledged,
    max_actions: usize,
) -> Vec<Vec<CommitGroup>> {
    let mut per_app: BTreeMap<&AppId, Vec<&NewEvent>> = BTreeMap::new();
    for event in events {
        per_app.entry(event.app()).or_default().push(event);
    }
    per_app
        .into_values()
        .map(|events| plan_commits(events, known, zones, ack, max_actions))
        .collect()
}

/// A void about to be applied: its writes, and the usage of the event it
/// names when that event was counted.
#[derive(Clone, Debug)]
pub struct PlannedVoid {
    pub write: VoidWrite,
    pub usage: Option<Counted>,
}

/// Voids into [`Sign::Take`] groups that fit the store's transactions, as
/// [`plan_commits`] groups new events. A void takes back what its event
/// counted, so it fits wherever that event did (and two actions more).
pub fn plan_voids<'a>(
    voids: impl IntoIterator<Item = &'a PlannedVoid>,
    known: &Known,
    zones: &Zones,
    ack: &Acknowledged,
    max_actions: usize,
) -> Vec<CommitGroup> {
    plan(voids, Sign::Take, max_actions, |group, void| {
        group.void(void, known, zones, ack)
    })
}

/// Items, in order, into groups of at most `max_actions` actions.
fn plan<'a, T: 'a>(
    items: impl IntoIterator<Item = &'a T>,
    sign: Sign,
    max_actions: usize,
    add: impl Fn(&mut CommitGroup, &T),
) -> Vec<CommitGroup> {
    assert!(
        max_actions >= MAX_ACTIONS_PER_EVENT,
        "a transaction of {max_actions} actions cannot hold every event"
    );
    let empty = || CommitGroup {
        sign,
        ..CommitGroup::default()
    };
    let mut groups = Vec::new();
    let mut current = empty();
    for item in items {
        let mut solo = empty();
        add(&mut solo, item);
        if !current.is_empty() && current.action_count() + current.new_actions(&solo) > max_actions
        {
            groups.push(std::mem::replace(&mut current, empty()));
        }
        add(&mut current, item);
    }
    if !current.is_empty() {
        groups.push(current);
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::time::HOUR_MS;
    use crate::domain::usage::{RecordMode, Tier};

    /// DynamoDB's limit, the store the planner is used with.
    const LIMIT: usize = 100;
    /// Acknowledged at the epoch: no month had closed yet.
    const NEVER_LATE: Acknowledged = Acknowledged {
        at: UtcMillis(0),
        grace_seconds: 0,
    };

    /// Every app of `events` in UTC.
    fn utc(events: &[NewEvent]) -> Zones {
        events
            .iter()
            .map(|e| (e.app().clone(), BillingZone::utc()))
            .collect()
    }

    fn event(n: u32, app: &str, start: UtcMillis, ms: i64, mode: RecordMode) -> NewEvent {
        NewEvent::segment(
            EventKey::of("src", &n.to_string()),
            Segment {
                app: AppId::parse(app).unwrap(),
                class: None,
                mode,
                tier: Tier::Audio,
                start,
                end: start.plus_ms(ms),
            },
        )
    }

    fn session(n: u32, class: &str, user: &str, start: UtcMillis, ms: i64) -> NewEvent {
        NewEvent::session(
            EventKey::of("src", &format!("s{n}")),
            Session {
                app: AppId::parse("app").unwrap(),
                class: ClassId::parse(class).unwrap(),
                user: Name::parse(user).unwrap(),
                role: crate::domain::class::Role::Student,
                usage: UsageType::Interactive,
                start,
                end: start.plus_ms(ms),
            },
        )
    }

    fn t0() -> UtcMillis {
        UtcMillis::parse_query_time("2026-11-20T10:00:00Z").unwrap()
    }

    #[test]
    fn a_busy_hour_becomes_one_counter_update() {
        let events: Vec<NewEvent> = (0..10)
            .map(|n| {
                let mode = if n % 2 == 0 {
                    RecordMode::Mixed
                } else {
                    RecordMode::SingleStream
                };
                event(n, "busy", t0().plus_ms(i64::from(n) * 1000), 500, mode)
            })
            .collect();
        let groups = plan_commits(&events, &Known::new(), &utc(&events), &NEVER_LATE, LIMIT);
        assert_eq!(groups.len(), 1);
        assert_eq!(groups[0].action_count(), 10 + 1 + 1);
        let usage = groups[0].hours.values().next().unwrap().usage;
        assert_eq!(usage.mode(RecordMode::Mixed).total(), 2500);
        assert_eq!(usage.mode(RecordMode::SingleStream).total(), 2500);
    }

    #[test]
    fn groups_respect_the_action_limit_and_keep_every_millisecond() {
        let events: Vec<NewEvent> = (0..40)
            .map(|n| {
                event(
                    n,
                    &format!("app{}", n % 7),
                    t0().plus_ms(i64::from(n) * 7_919),
                    48 * HOUR_MS,
                    RecordMode::SingleStream,
                )
            })
            .collect();
        let groups = plan_commits(&events, &Known::new(), &utc(&events), &NEVER_LATE, LIMIT);
        assert!(groups.len() > 1);
        let mut total = 0;
        for g in &groups {
            assert!(g.action_count() <= LIMIT, "{}", g.action_count());
            total += g
                .hours
                .values()
                .map(|add| add.usage.mode(RecordMode::SingleStream).total())
                .sum::<u64>();
        }
        assert_eq!(total, 40 * 48 * HOUR_MS as u64);
        assert_eq!(groups.iter().map(|g| g.events.len()).sum::<usize>(), 40);
    }

    #[test]
    fn a_user_counts_once_per_row_however_often_they_join() {
        let events = vec![
            session(1, "c", "ann", t0(), 60_000),
            session(2, "c", "ann", t0().plus_ms(120_000), 60_000),
            session(3, "c", "bob", t0(), 30_000),
            session(4, "d", "ann", t0(), 30_000),
        ];
        let groups = plan_commits(&events, &Known::new(), &utc(&events), &NEVER_LATE, LIMIT);
        assert_eq!(groups.len(), 1);
        let g = &groups[0];
        let row_of = |class: &str| RowKey {
            app: AppId::parse("app").unwrap(),
            day: t0().day(),
            class: ClassId::parse(class).unwrap(),
            usage: UsageType::Interactive,
        };
        assert_eq!(
            g.rows[&row_of("c")],
            RowAdd {
                ms: 150_000,
                users: 2
            }
        );
        assert_eq!(
            g.rows[&row_of("d")],
            RowAdd {
                ms: 30_000,
                users: 1
            }
        );
        assert_eq!(g.marks.len(), 3);
        assert_eq!(
            g.av_hours
                .values()
                .map(|a| a.usage.interactive)
                .sum::<u64>(),
            180_000
        );
        assert_eq!(g.av_changes.len(), 1, "one state update per app");

        // A user already counted in the row brings no mark and no user.
        let known = Known::from([(
            UserMark {
                row: row_of("c"),
                user: Name::parse("ann").unwrap(),
            },
            1,
        )]);
        let g = &plan_commits(&events, &known, &utc(&events), &NEVER_LATE, LIMIT)[0];
        assert_eq!(g.rows[&row_of("c")].users, 1);
        // Ann's mark counts her two more sessions; she is not new to the row.
        assert_eq!(g.marks.len(), 3);
        let ann = &g.marks[&UserMark {
            row: row_of("c"),
            user: Name::parse("ann").unwrap(),
        }];
        assert_eq!((ann.from, ann.by), (1, 2));
    }

    #[test]
    fn a_session_across_midnight_counts_its_user_on_both_days() {
        let midnight = t0().day().next().start();
        let events = vec![session(1, "c", "ann", midnight.minus_ms(1_000), 3_000)];
        let g = &plan_commits(&events, &Known::new(), &utc(&events), &NEVER_LATE, LIMIT)[0];
        let per_day: Vec<(Day, RowAdd)> = g.rows.iter().map(|(k, v)| (k.day, *v)).collect();
        assert_eq!(
            per_day,
            [
                (
                    t0().day(),
                    RowAdd {
                        ms: 1_000,
                        users: 1
                    }
                ),
                (
                    midnight.day(),
                    RowAdd {
                        ms: 2_000,
                        users: 1
                    }
                )
            ]
        );
    }

    #[test]
    fn the_longest_session_fits_one_transaction() {
        let events = vec![session(1, "c", "ann", t0().plus_ms(1), 48 * HOUR_MS)];
        let g = &plan_commits(&events, &Known::new(), &utc(&events), &NEVER_LATE, LIMIT)[0];
        assert_eq!(g.action_count(), 1 + 49 + 3 + 3 + 1);
        let many: Vec<NewEvent> = (0..30)
            .map(|n| session(n, &format!("c{n}"), "ann", t0().plus_ms(1), 48 * HOUR_MS))
            .collect();
        for g in plan_commits(&many, &Known::new(), &utc(&many), &NEVER_LATE, LIMIT) {
            assert!(g.action_count() <= LIMIT);
        }
    }

    #[test]
    fn the_plan_decides_every_lifetime() {
        let events = [session(1, "c", "ann", t0(), 1_000)];
        let g = &plan_commits(&events, &Known::new(), &utc(&events), &NEVER_LATE, LIMIT)[0];
        assert_eq!(g.events[0].expires, retention::dedupe_expiry(t0()));
        let (hour, add) = g.av_hours.iter().next().unwrap();
        assert_eq!(add.expires, retention::hourly_expiry(hour.1));
        assert_eq!(
            g.marks.values().next().unwrap().expires,
            retention::user_mark_expiry(t0().day())
        );
    }

    fn in_zone(events: &[NewEvent], name: &str) -> Zones {
        events
            .iter()
            .map(|e| (e.app().clone(), BillingZone::parse(name).unwrap()))
            .collect()
    }

    #[test]
    fn a_kolkata_session_lands_on_two_local_days_and_keeps_its_head_apart() {
        let start = UtcMillis::parse_query_time("2026-11-30T18:00:00Z").unwrap();
        let events = [session(1, "c", "ann", start, HOUR_MS)];
        let g = &plan_commits(
            &events,
            &Known::new(),
            &in_zone(&events, "Asia/Kolkata"),
            &NEVER_LATE,
            LIMIT,
        )[0];
        let days: Vec<(String, u64, u64)> = g
            .rows
            .iter()
            .map(|(k, v)| (k.day.key(), v.ms, v.users))
            .collect();
        assert_eq!(
            days,
            [
                ("2026-11-30".to_owned(), 1_800_000, 1),
                ("2026-12-01".to_owned(), 1_800_000, 1)
            ]
        );
        let add = g.av_hours.values().next().unwrap();
        assert_eq!(add.usage.interactive, 3_600_000);
        assert_eq!(add.head.interactive, 1_800_000);
        assert_eq!(g.marks.len(), 2);
        // One hour item, as in UTC: the head is an attribute, not an item.
        assert_eq!(g.av_hours.len(), 1);
    }

    #[test]
    fn a_shanghai_morning_is_its_own_local_day() {
        // 07:30 in Shanghai is 23:30Z on the day before.
        let start = UtcMillis::parse_query_time("2026-11-30T23:30:00Z").unwrap();
        let events = [session(1, "c", "ann", start, 60_000)];
        let g = &plan_commits(
            &events,
            &Known::new(),
            &in_zone(&events, "Asia/Shanghai"),
            &NEVER_LATE,
            LIMIT,
        )[0];
        assert_eq!(g.rows.keys().next().unwrap().day.key(), "2026-12-01");
        assert!(g.av_hours.values().all(|a| a.head == AvMillis::default()));
        assert_eq!(
            g.av_changes
                .values()
                .next()
                .unwrap()
                .iter()
                .next()
                .unwrap()
                .key(),
            "2026-12-01"
        );
    }

    #[test]
    fn usage_of_an_app_without_a_zone_is_parked_whole() {
        let events = [
            session(1, "c", "ann", t0(), 60_000),
            event(2, "app", t0(), 5_000, RecordMode::Mixed),
        ];
        let g = &plan_commits(&events, &Known::new(), &Zones::new(), &NEVER_LATE, LIMIT)[0];
        assert_eq!(g.parked.len(), 2);
        assert_eq!(g.events.len(), 2, "each keeps its dedupe record");
        assert_eq!(g.unfixed.len(), 1, "one check of the app's registration");
        assert!(g.rows.is_empty() && g.hours.is_empty() && g.av_hours.is_empty());
        assert_eq!(g.action_count(), 5);

        // Once the zone is known, a parked event is counted by removing its
        // parked record; it needs no new dedupe record.
        let parked: Vec<NewEvent> = g
            .parked
            .iter()
            .map(|(k, usage)| NewEvent::parked(*k, usage.clone()))
            .collect();
        let g = &plan_commits(&parked, &Known::new(), &utc(&parked), &NEVER_LATE, LIMIT)[0];
        assert!(g.events.is_empty());
        assert_eq!(g.unparked.len(), 2);
        assert_eq!(g.rows.len(), 1);
        assert_eq!(g.keys().count(), 2);
    }
}
