//! An in-process store with the same semantics as the DynamoDB adapter
//! (atomic groups, conditional day writes, consistent snapshots), for fast
//! unit tests of the services. Never the only proof: the integration tests
//! run the same services against a real DynamoDB API.

use super::*;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Mutex;

#[derive(Default)]
struct State {
    owners: HashMap<AppId, AccountId>,
    hours: BTreeMap<(AppId, Hour), ModeUsage>,
    days: BTreeMap<(AppId, Day), DayRecord>,
    pending: BTreeSet<PendingDay>,
    counted: HashSet<EventKey>,
}

#[derive(Default)]
pub struct MemoryStore {
    state: Mutex<State>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        f(&mut self.state.lock().expect("memory store lock"))
    }
}

impl UsageStore for MemoryStore {
    async fn owner_of(&self, app: &AppId) -> StoreResult<Option<AccountId>> {
        Ok(self.with(|s| s.owners.get(app).cloned()))
    }

    async fn register(&self, app: &AppId, owner: &AccountId) -> StoreResult<RegisterOutcome> {
        Ok(self.with(|s| match s.owners.get(app) {
            Some(existing) if existing == owner => RegisterOutcome::Unchanged,
            Some(_) => RegisterOutcome::OwnedByAnother,
            None => {
                s.owners.insert(app.clone(), owner.clone());
                RegisterOutcome::Registered
            }
        }))
    }

    async fn hours(&self, app: &AppId, first: Hour, last: Hour) -> StoreResult<Vec<HourRecord>> {
        Ok(self.with(|s| {
            s.hours
                .range((app.clone(), first)..=(app.clone(), last))
                .map(|((_, hour), usage)| HourRecord {
                    hour: *hour,
                    usage: *usage,
                })
                .collect()
        }))
    }

    async fn days(&self, app: &AppId, first: Day, last: Day) -> StoreResult<Vec<DayRecord>> {
        Ok(self.with(|s| {
            s.days
                .range((app.clone(), first)..=(app.clone(), last))
                .map(|(_, record)| record.clone())
                .collect()
        }))
    }

    async fn counted(&self, keys: &[EventKey]) -> StoreResult<HashSet<EventKey>> {
        Ok(self.with(|s| {
            keys.iter()
                .filter(|k| s.counted.contains(k))
                .copied()
                .collect()
        }))
    }

    async fn commit(&self, group: &CommitGroup) -> StoreResult<CommitOutcome> {
        Ok(self.with(|s| {
            let seen: Vec<EventKey> = group
                .events
                .iter()
                .map(|(k, _)| *k)
                .filter(|k| s.counted.contains(k))
                .collect();
            if !seen.is_empty() {
                return CommitOutcome::AlreadyCounted(seen);
            }
            s.counted.extend(group.events.iter().map(|(k, _)| *k));
            for (key, usage) in &group.hours {
                *s.hours.entry(key.clone()).or_default() += *usage;
            }
            for (app, day) in &group.days {
                let record = s
                    .days
                    .entry((app.clone(), *day))
                    .or_insert_with(|| DayRecord {
                        day: *day,
                        ..DayRecord::default()
                    });
                record.seq += 1;
                s.pending.insert(PendingDay {
                    app: app.clone(),
                    day: *day,
                });
            }
            CommitOutcome::Committed
        }))
    }

    async fn pending_days(&self, cursor: Option<String>) -> StoreResult<PendingPage> {
        const PAGE: usize = 100;
        let skip: usize = cursor
            .map_or(Ok(0), |c| c.parse())
            .map_err(|_| StoreError::Corrupt("cursor".into()))?;
        Ok(self.with(|s| {
            let days: Vec<PendingDay> = s.pending.iter().skip(skip).take(PAGE).cloned().collect();
            let next = (s.pending.len() > skip + PAGE).then(|| (skip + PAGE).to_string());
            PendingPage { days, next }
        }))
    }

    async fn apps_with_usage(&self, day: Day) -> StoreResult<Vec<AppId>> {
        Ok(self.with(|s| {
            s.days
                .keys()
                .filter(|(_, d)| *d == day)
                .map(|(a, _)| a.clone())
                .collect()
        }))
    }

    async fn day_snapshot(&self, app: &AppId, day: Day) -> StoreResult<DaySnapshot> {
        let hours = self.hours(app, day.first_hour(), day.last_hour()).await?;
        Ok(self.with(|s| DaySnapshot {
            record: s.days.get(&(app.clone(), day)).cloned(),
            hours,
        }))
    }

    async fn write_day(
        &self,
        app: &AppId,
        day: Day,
        totals: &ModeUsage,
        seq: u64,
    ) -> StoreResult<WriteDayOutcome> {
        Ok(self.with(|s| match s.days.get_mut(&(app.clone(), day)) {
            Some(record) if record.seq == seq => {
                record.rolled = *totals;
                record.rolled_seq = Some(seq);
                s.pending.remove(&PendingDay {
                    app: app.clone(),
                    day,
                });
                WriteDayOutcome::Written
            }
            _ => WriteDayOutcome::Changed,
        }))
    }
}
