//! Turning a batch of new segments into as few storage writes as the store's
//! transaction rules allow: the exactly-once unit is a [`CommitGroup`], one
//! transaction holding a dedupe record per event and one counter update per
//! (app, hour) and per (app, day) the events touch. The plan also decides
//! how long each record it creates lives (from [`retention`]), so storage
//! only carries the decision out.

use super::class::{Session, UsageType};
use super::event::{EventKey, Segment};
use super::ids::{AppId, ClassId, Name};
use super::retention;
use super::time::{Day, Hour, UtcMillis};
use super::usage::ModeUsage;
use std::collections::{BTreeMap, BTreeSet, HashSet};

/// The most actions one event can need. A recording segment: its dedupe
/// record, the 49 hours a 48-hour segment can touch, the 3 days those hours
/// fall on and, with a class, the class's recording on each of them. A class session: its dedupe record, 49 hours, and on each
/// of its 3 days a row and a user mark, plus the app's deduction state.
/// A store whose transactions hold fewer could not count every event.
pub const MAX_ACTIONS_PER_EVENT: usize = 1 + 49 + 3 + 3 + 1;

/// What a new event counts.
#[derive(Clone, Debug)]
pub enum Counted {
    Segment(Segment),
    Session(Session),
}

/// A new event about to be counted.
#[derive(Clone, Debug)]
pub struct NewEvent {
    pub key: EventKey,
    pub usage: Counted,
}

impl NewEvent {
    pub fn segment(key: EventKey, segment: Segment) -> Self {
        NewEvent {
            key,
            usage: Counted::Segment(segment),
        }
    }

    pub fn session(key: EventKey, session: Session) -> Self {
        NewEvent {
            key,
            usage: Counted::Session(session),
        }
    }

    fn start(&self) -> UtcMillis {
        match &self.usage {
            Counted::Segment(s) => s.start,
            Counted::Session(s) => s.start,
        }
    }
}

/// One details row of audio/video usage: a class's sessions of one usage
/// type on one UTC day.
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

impl std::ops::AddAssign for AvMillis {
    fn add_assign(&mut self, other: Self) {
        self.interactive += other.interactive;
        self.playback += other.playback;
    }
}

/// Audio/video usage added to one (app, hour), and when that hour's record
/// may expire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AvHourAdd {
    pub usage: AvMillis,
    pub expires: UtcMillis,
}

/// One atomic write: either all of it lands or none of it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CommitGroup {
    /// Dedupe records to create (each conditional on not existing yet), with
    /// the time they may expire.
    pub events: Vec<(EventKey, UtcMillis)>,
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
    /// User marks to create (each conditional on not existing yet), with the
    /// time they may expire.
    pub new_users: BTreeMap<UserMark, UtcMillis>,
    /// Per app, the days whose rows change: the app's deduction state records
    /// them, so whatever was prepared for later days is known to be stale.
    pub av_changes: BTreeMap<AppId, BTreeSet<Day>>,
}

/// Usage added to one (app, hour), and when that hour's record may expire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HourAdd {
    pub usage: ModeUsage,
    pub expires: UtcMillis,
}

impl CommitGroup {
    pub fn action_count(&self) -> usize {
        self.events.len()
            + self.hours.len()
            + self.days.len()
            + self.class_recordings.len()
            + self.av_hours.len()
            + self.rows.len()
            + self.new_users.len()
            + self.av_changes.len()
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
            + absent(&self.new_users, &solo.new_users)
            + absent(&self.av_changes, &solo.av_changes)
    }

    /// Adds one event. A user is new to a row unless `known` says it was
    /// counted there before or this group already counts it.
    fn add(&mut self, event: &NewEvent, known: &HashSet<UserMark>) {
        self.events
            .push((event.key, retention::dedupe_expiry(event.start())));
        match &event.usage {
            Counted::Segment(seg) => {
                for (hour, ms) in seg.hour_parts() {
                    self.hours
                        .entry((seg.app.clone(), hour))
                        .or_insert_with(|| HourAdd {
                            usage: ModeUsage::default(),
                            expires: retention::hourly_expiry(hour),
                        })
                        .usage
                        .add(seg.mode, seg.tier, ms);
                    self.days.insert((seg.app.clone(), hour.day()));
                    if let Some(class) = &seg.class {
                        *self
                            .class_recordings
                            .entry((seg.app.clone(), hour.day(), class.clone()))
                            .or_default() += ms;
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
                for (hour, ms) in session.hour_parts() {
                    self.av_hours
                        .entry((session.app.clone(), hour))
                        .or_insert_with(|| AvHourAdd {
                            usage: AvMillis::default(),
                            expires: retention::hourly_expiry(hour),
                        })
                        .usage
                        .add(session.usage, ms);
                    self.rows.entry(row(hour.day())).or_default().ms += ms;
                }
                for day in session.days() {
                    let mark = UserMark {
                        row: row(day),
                        user: session.user.clone(),
                    };
                    if !known.contains(&mark) && !self.new_users.contains_key(&mark) {
                        self.new_users
                            .insert(mark, retention::user_mark_expiry(day));
                        self.rows.entry(row(day)).or_default().users += 1;
                    }
                }
                self.av_changes
                    .entry(session.app.clone())
                    .or_default()
                    .extend(session.days());
            }
        }
    }
}

/// Groups events, in order, into as few transactions as `max_actions` (the
/// store's limit per transaction) allows; events that add to the same item
/// share one update. `known` holds the user marks known to exist. With
/// `max_actions` of at least [`MAX_ACTIONS_PER_EVENT`], every event fits in
/// a group of its own.
pub fn plan_commits<'a>(
    events: impl IntoIterator<Item = &'a NewEvent>,
    known: &HashSet<UserMark>,
    max_actions: usize,
) -> Vec<CommitGroup> {
    assert!(
        max_actions >= MAX_ACTIONS_PER_EVENT,
        "a transaction of {max_actions} actions cannot hold every event"
    );
    let mut groups = Vec::new();
    let mut current = CommitGroup::default();
    for event in events {
        let mut solo = CommitGroup::default();
        solo.add(event, known);
        if !current.events.is_empty()
            && current.action_count() + current.new_actions(&solo) > max_actions
        {
            groups.push(std::mem::take(&mut current));
        }
        current.add(event, known);
    }
    if !current.events.is_empty() {
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
        let groups = plan_commits(&events, &HashSet::new(), LIMIT);
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
        let groups = plan_commits(&events, &HashSet::new(), LIMIT);
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
        let groups = plan_commits(&events, &HashSet::new(), LIMIT);
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
        assert_eq!(g.new_users.len(), 3);
        assert_eq!(
            g.av_hours
                .values()
                .map(|a| a.usage.interactive)
                .sum::<u64>(),
            180_000
        );
        assert_eq!(g.av_changes.len(), 1, "one state update per app");

        // A user already counted in the row brings no mark and no user.
        let known = HashSet::from([UserMark {
            row: row_of("c"),
            user: Name::parse("ann").unwrap(),
        }]);
        let g = &plan_commits(&events, &known, LIMIT)[0];
        assert_eq!(g.rows[&row_of("c")].users, 1);
        assert_eq!(g.new_users.len(), 2);
    }

    #[test]
    fn a_session_across_midnight_counts_its_user_on_both_days() {
        let midnight = t0().day().next().start();
        let events = vec![session(1, "c", "ann", midnight.minus_ms(1_000), 3_000)];
        let g = &plan_commits(&events, &HashSet::new(), LIMIT)[0];
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
        let g = &plan_commits(&events, &HashSet::new(), LIMIT)[0];
        assert_eq!(g.action_count(), MAX_ACTIONS_PER_EVENT);
        let many: Vec<NewEvent> = (0..30)
            .map(|n| session(n, &format!("c{n}"), "ann", t0().plus_ms(1), 48 * HOUR_MS))
            .collect();
        for g in plan_commits(&many, &HashSet::new(), LIMIT) {
            assert!(g.action_count() <= LIMIT);
        }
    }

    #[test]
    fn the_plan_decides_every_lifetime() {
        let g = &plan_commits(
            &[session(1, "c", "ann", t0(), 1_000)],
            &HashSet::new(),
            LIMIT,
        )[0];
        assert_eq!(g.events[0].1, retention::dedupe_expiry(t0()));
        let (hour, add) = g.av_hours.iter().next().unwrap();
        assert_eq!(add.expires, retention::hourly_expiry(hour.1));
        assert_eq!(
            *g.new_users.values().next().unwrap(),
            retention::user_mark_expiry(t0().day())
        );
    }
}
