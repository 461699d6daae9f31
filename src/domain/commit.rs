//! Turning a batch of new segments into as few storage writes as the store's
//! transaction rules allow: the exactly-once unit is a [`CommitGroup`], one
//! transaction holding a dedupe record per event and one counter update per
//! (app, hour) and per (app, day) the events touch. The plan also decides
//! how long each record it creates lives (from [`retention`]), so storage
//! only carries the decision out.

use super::event::{EventKey, Segment};
use super::ids::AppId;
use super::retention;
use super::time::{Day, Hour, UtcMillis};
use super::usage::ModeUsage;
use std::collections::{BTreeMap, BTreeSet};

/// The most actions one event can need: its dedupe record, the 49 hours a
/// 48-hour segment can touch and the 3 days those hours fall on. A store
/// whose transactions hold fewer could not count every event.
pub const MAX_ACTIONS_PER_EVENT: usize = 1 + 49 + 3;

/// A new event about to be counted.
#[derive(Clone, Debug)]
pub struct NewEvent {
    pub key: EventKey,
    pub segment: Segment,
}

/// One atomic write: either all of it lands or none of it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CommitGroup {
    /// Dedupe records to create (each conditional on not existing yet), with
    /// the time they may expire.
    pub events: Vec<(EventKey, UtcMillis)>,
    /// Usage to add per (app, hour).
    pub hours: BTreeMap<(AppId, Hour), HourAdd>,
    /// Days whose hourly usage changes: their change counter is bumped and
    /// they are marked for the rollup.
    pub days: BTreeSet<(AppId, Day)>,
}

/// Usage added to one (app, hour), and when that hour's record may expire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HourAdd {
    pub usage: ModeUsage,
    pub expires: UtcMillis,
}

impl CommitGroup {
    pub fn action_count(&self) -> usize {
        self.events.len() + self.hours.len() + self.days.len()
    }

    fn actions_if_added(&self, segment: &Segment, parts: &[(Hour, u64)]) -> usize {
        let new_hours = parts
            .iter()
            .filter(|(h, _)| !self.hours.contains_key(&(segment.app.clone(), *h)))
            .count();
        let new_days = parts
            .iter()
            .map(|(h, _)| h.day())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .filter(|d| !self.days.contains(&(segment.app.clone(), *d)))
            .count();
        self.action_count() + 1 + new_hours + new_days
    }

    fn add(&mut self, event: &NewEvent, parts: &[(Hour, u64)]) {
        let seg = &event.segment;
        self.events
            .push((event.key, retention::dedupe_expiry(seg.start)));
        for (hour, ms) in parts {
            self.hours
                .entry((seg.app.clone(), *hour))
                .or_insert_with(|| HourAdd {
                    usage: ModeUsage::default(),
                    expires: retention::hourly_expiry(*hour),
                })
                .usage
                .add(seg.mode, seg.tier, *ms);
            self.days.insert((seg.app.clone(), hour.day()));
        }
    }
}

/// Groups events, in order, into as few transactions as `max_actions` (the
/// store's limit per transaction) allows; events that add to the same
/// (app, hour) share one counter update. With `max_actions` of at least
/// [`MAX_ACTIONS_PER_EVENT`], every event fits in a group of its own.
pub fn plan_commits<'a>(
    events: impl IntoIterator<Item = &'a NewEvent>,
    max_actions: usize,
) -> Vec<CommitGroup> {
    assert!(
        max_actions >= MAX_ACTIONS_PER_EVENT,
        "a transaction of {max_actions} actions cannot hold every event"
    );
    let mut groups = Vec::new();
    let mut current = CommitGroup::default();
    for event in events {
        let parts = event.segment.hour_parts();
        if !current.events.is_empty()
            && current.actions_if_added(&event.segment, &parts) > max_actions
        {
            groups.push(std::mem::take(&mut current));
        }
        current.add(event, &parts);
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
        NewEvent {
            key: EventKey::of("src", &n.to_string()),
            segment: Segment {
                app: AppId::parse(app).unwrap(),
                mode,
                tier: Tier::Audio,
                start,
                end: start.plus_ms(ms),
            },
        }
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
        let groups = plan_commits(&events, LIMIT);
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
        let groups = plan_commits(&events, LIMIT);
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
}
