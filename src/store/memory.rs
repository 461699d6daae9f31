//! An in-process store with the same semantics as the DynamoDB adapter
//! (atomic groups, conditional day writes, consistent snapshots), for fast
//! unit tests of the services. Never the only proof: the integration tests
//! run the same services against a real DynamoDB API.

use super::access_keys::{nonce_expired, nonce_expiry_second};
use super::alerts::{AlertStore, AlertWatch, ExpiryEntry, RaiseOutcome};
use super::*;
use crate::domain::access_key::AccessKeyId;
use crate::domain::alert::{Alert, AlertKey};
use crate::domain::commit::{AvMillis, Counted, LateWrite, RowKey, Sign, VoidEffect};
use crate::domain::correction::Recorded;
use crate::domain::deduction::{Balance, DeductionState, Settled};
use crate::domain::ids::PackageId;
use crate::domain::registration::{Decision, RegistrationState, decide};
use crate::domain::statement::{Month, StatementBody};
use crate::domain::storage::Reading;
use std::collections::{BTreeSet, HashMap};
use std::ops::Bound;
use std::sync::Mutex;

/// Marked days per page of [`UsageStore::pending_days`]. Smaller than
/// DynamoDB's page on purpose: the services' paging is then exercised by
/// small unit tests too.
pub const PENDING_PAGE_SIZE: usize = 100;

#[derive(Default)]
struct State {
    owners: HashMap<AppId, RegistrationState>,
    /// Per app: the last ticket taken and the ticket served.
    turns: HashMap<AppId, (u64, u64)>,
    parked: BTreeMap<(AppId, EventKey), Counted>,
    head_hours: BTreeMap<(AppId, Hour), ModeUsage>,
    av_heads: BTreeMap<(AppId, Hour), AvMillis>,
    facts: HashMap<(AppId, ClassId), ClassFacts>,
    packages: BTreeMap<(AppId, PackageId), Package>,
    av_hours: BTreeMap<(AppId, Hour), AvMillis>,
    rows: BTreeMap<RowKey, (u64, u64)>,
    class_recordings: BTreeMap<(AppId, Day, ClassId), u64>,
    /// Live sessions per user mark.
    users: HashMap<UserMark, u64>,
    av_state: BTreeMap<AppId, DeductionState>,
    balances: BTreeMap<(AppId, Day), Balance>,
    hours: BTreeMap<(AppId, Hour), ModeUsage>,
    days: BTreeMap<(AppId, Day), DayRecord>,
    pending: BTreeSet<PendingDay>,
    /// What each event key holds.
    records: HashMap<EventKey, Recorded>,
    /// Refunds by package, with the first one's instant (kept before the
    /// purchase too).
    refunds: HashMap<(AppId, PackageId), UtcMillis>,
    /// Late usage per app, by acknowledgement instant and key.
    late: BTreeMap<(AppId, UtcMillis, EventKey, bool), LateWrite>,
    statements: HashMap<(AppId, Month), StatementBody>,
    /// Storage readings per app, in the order DynamoDB keeps them.
    measurements: BTreeSet<(AppId, Reading)>,
    access_keys: HashMap<AccessKeyId, StoredAccessKey>,
    /// Used nonces per AccessKey, with their expiry as DynamoDB stores it
    /// (whole seconds); expired ones stay until overwritten, as under TTL.
    nonces: HashMap<(AccessKeyId, String), i64>,
    /// Requests counted per AccessKey and epoch second.
    requests: HashMap<(AccessKeyId, i64), u32>,
    alert_watches: HashMap<AppId, AlertWatch>,
    /// Every alert raised, by app and key.
    alerts: BTreeMap<(AppId, AlertKey), Alert>,
    /// Alerts of every app still to be published.
    unpublished: BTreeSet<(AppId, AlertKey)>,
    expiry: BTreeSet<ExpiryEntry>,
}

impl State {
    /// Hours `first..=last` of the app that have usage, ascending.
    fn hours_of(&self, app: &AppId, first: Hour, last: Hour) -> Vec<HourRecord> {
        self.hours
            .range((app.clone(), first)..=(app.clone(), last))
            .map(|(key, usage)| HourRecord {
                hour: key.1,
                usage: *usage,
                head: self.head_hours.get(key).copied().unwrap_or_default(),
            })
            .collect()
    }
}

impl State {
    /// Why `group` cannot commit, as DynamoDB's conditions would say it.
    fn refusal(&self, group: &CommitGroup) -> Option<CommitOutcome> {
        let seen: Vec<EventKey> = group
            .events
            .iter()
            .filter(|e| match self.records.get(&e.key) {
                None => false,
                // A void another app kept is replaced by the event.
                Some(Recorded::Kept { app }) => app == e.usage.app(),
                Some(_) => true,
            })
            .map(|e| e.key)
            .chain(
                group
                    .voids
                    .iter()
                    .filter(|v| self.records.contains_key(&v.key))
                    .map(|v| v.key),
            )
            .collect();
        if !seen.is_empty() {
            return Some(CommitOutcome::AlreadyCounted(seen));
        }
        let users: Vec<UserMark> = group
            .marks
            .iter()
            .filter(|(mark, change)| {
                let now = self.users.get(*mark).copied();
                !match (group.sign, change.from) {
                    (Sign::Add, 0) => now.unwrap_or(0) == 0,
                    (Sign::Add, _) => now.is_some_and(|n| n > 0),
                    (Sign::Take, from) => now == Some(from),
                }
            })
            .map(|(mark, _)| mark.clone())
            .collect();
        if !users.is_empty() {
            return Some(CommitOutcome::UsersSeen(users));
        }
        let gone: Vec<EventKey> = group
            .unparked
            .iter()
            .filter(|(app, key)| !self.parked.contains_key(&(app.clone(), *key)))
            .map(|(_, key)| *key)
            .collect();
        if !gone.is_empty() {
            return Some(CommitOutcome::AlreadyCounted(gone));
        }
        let target_changed = group.voids.iter().any(|v| {
            let live = matches!(
                self.records.get(&v.voided),
                Some(Recorded::Usage { voided: false, .. })
            );
            let parked = self.parked.contains_key(&(v.app.clone(), v.voided));
            match v.effect {
                VoidEffect::Kept => self.records.contains_key(&v.voided),
                VoidEffect::Counted { parked: false } => !live,
                VoidEffect::Counted { parked: true } => !live || parked,
                VoidEffect::Parked => !live || !parked,
            }
        });
        if target_changed {
            return Some(CommitOutcome::VoidTargetChanged);
        }
        if group
            .unfixed
            .iter()
            .any(|app| self.owners.contains_key(app))
        {
            return Some(CommitOutcome::ZoneFixed);
        }
        None
    }

    /// Writes `group`, whose conditions hold.
    fn apply(&mut self, group: &CommitGroup) {
        fn change<T: std::ops::AddAssign + std::ops::Sub<Output = T> + Copy>(
            sign: Sign,
            total: &mut T,
            by: T,
        ) {
            match sign {
                Sign::Add => *total += by,
                Sign::Take => *total = *total - by,
            }
        }
        let sign = group.sign;
        for event in &group.events {
            self.records.insert(
                event.key,
                Recorded::Usage {
                    usage: event.usage.clone(),
                    voided: false,
                    parked: event.parked,
                },
            );
        }
        for void in &group.voids {
            self.records.insert(
                void.key,
                Recorded::Void {
                    app: void.app.clone(),
                },
            );
            match void.effect {
                VoidEffect::Kept => {
                    self.records.insert(
                        void.voided,
                        Recorded::Kept {
                            app: void.app.clone(),
                        },
                    );
                }
                VoidEffect::Counted { .. } | VoidEffect::Parked => {
                    if let Some(Recorded::Usage { voided, .. }) = self.records.get_mut(&void.voided)
                    {
                        *voided = true;
                    }
                    self.parked.remove(&(void.app.clone(), void.voided));
                }
            }
        }
        for (key, usage) in &group.parked {
            self.parked
                .insert((usage.app().clone(), *key), usage.clone());
        }
        for late in &group.late {
            let at = (
                late.usage.app().clone(),
                late.acked,
                late.key,
                late.sign == Sign::Take,
            );
            self.late.insert(at, late.clone());
        }
        for (app, key) in &group.unparked {
            self.parked.remove(&(app.clone(), *key));
        }
        for (mark, by) in &group.marks {
            change(sign, self.users.entry(mark.clone()).or_default(), by.by);
        }
        for (key, ms) in &group.class_recordings {
            change(
                sign,
                self.class_recordings.entry(key.clone()).or_default(),
                *ms,
            );
        }
        for (key, add) in &group.av_hours {
            change(
                sign,
                self.av_hours.entry(key.clone()).or_default(),
                add.usage,
            );
            change(
                sign,
                self.av_heads.entry(key.clone()).or_default(),
                add.head,
            );
        }
        for (key, add) in &group.rows {
            let row = self.rows.entry(key.clone()).or_default();
            change(sign, &mut row.0, add.ms);
            change(sign, &mut row.1, add.users);
        }
        for (app, days) in &group.av_changes {
            let state = self.av_state.entry(app.clone()).or_default();
            state.seq += 1;
            state.dirty.extend(days);
            self.alert_watches.entry(app.clone()).or_default().spent += group.billable_bound(app);
        }
        for (key, add) in &group.hours {
            change(sign, self.hours.entry(key.clone()).or_default(), add.usage);
            change(
                sign,
                self.head_hours.entry(key.clone()).or_default(),
                add.head,
            );
        }
        for (app, day) in &group.days {
            let record = self
                .days
                .entry((app.clone(), *day))
                .or_insert_with(|| DayRecord {
                    day: *day,
                    ..DayRecord::default()
                });
            record.seq += 1;
            self.pending.insert(PendingDay {
                app: app.clone(),
                day: *day,
            });
        }
    }
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
    /// As DynamoDB's, so that plans made for either are the same.
    const MAX_COMMIT_ACTIONS: usize = 100;

    async fn registration(&self, app: &AppId) -> StoreResult<Option<Registration>> {
        Ok(self.with(|s| {
            s.owners.get(app).filter(|r| r.open).map(|r| Registration {
                owner: r.owner.clone(),
                name: r.name.clone(),
                zone: r.zone.clone(),
            })
        }))
    }

    async fn register_app(
        &self,
        app: &AppId,
        request: &RegistrationRequest,
        default_zone: &BillingZone,
    ) -> StoreResult<RegisterOutcome> {
        Ok(
            self.with(|s| match decide(s.owners.get(app), request, default_zone) {
                Decision::Claim(state) => {
                    let zone = state.zone.clone();
                    s.owners.insert(app.clone(), state);
                    RegisterOutcome::Accepted { zone, open: false }
                }
                Decision::Keep { name } => {
                    let state = s.owners.get_mut(app).expect("decided on it");
                    if name.is_some() {
                        state.name = name;
                    }
                    RegisterOutcome::Accepted {
                        zone: state.zone.clone(),
                        open: state.open,
                    }
                }
                Decision::OwnedByAnother => RegisterOutcome::OwnedByAnother,
                Decision::OtherZone(zone) => RegisterOutcome::OtherZone(zone),
            }),
        )
    }

    async fn open_app(&self, app: &AppId) -> StoreResult<()> {
        self.with(|s| {
            if let Some(state) = s.owners.get_mut(app) {
                state.open = true;
            }
        });
        Ok(())
    }

    async fn zones(&self, apps: &[AppId]) -> StoreResult<Zones> {
        Ok(self.with(|s| {
            apps.iter()
                .filter_map(|app| Some((app.clone(), s.owners.get(app)?.zone.clone())))
                .collect()
        }))
    }

    async fn parked(&self, app: &AppId) -> StoreResult<Vec<NewEvent>> {
        Ok(self.with(|s| {
            s.parked
                .iter()
                .filter(|((a, _), _)| a == app)
                .map(|((_, key), usage)| NewEvent::parked(*key, usage.clone()))
                .collect()
        }))
    }

    async fn hours(&self, app: &AppId, first: Hour, last: Hour) -> StoreResult<Vec<HourRecord>> {
        Ok(self.with(|s| s.hours_of(app, first, last)))
    }

    async fn days(&self, app: &AppId, first: Day, last: Day) -> StoreResult<Vec<DayRecord>> {
        Ok(self.with(|s| {
            s.days
                .range((app.clone(), first)..=(app.clone(), last))
                .map(|(_, record)| record.clone())
                .collect()
        }))
    }

    async fn apps_of(&self, owner: &AccountId) -> StoreResult<Vec<(AppId, Registration)>> {
        let mut apps: Vec<(AppId, Registration)> = self.with(|s| {
            s.owners
                .iter()
                .filter(|(_, r)| r.owner == *owner && r.open)
                .map(|(app, r)| {
                    let registration = Registration {
                        owner: r.owner.clone(),
                        name: r.name.clone(),
                        zone: r.zone.clone(),
                    };
                    (app.clone(), registration)
                })
                .collect()
        });
        apps.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(apps)
    }

    async fn seen(&self, keys: &[EventKey], users: &[UserMark]) -> StoreResult<Seen> {
        Ok(self.with(|s| Seen {
            events: keys
                .iter()
                .filter(|k| s.records.contains_key(k))
                .copied()
                .collect(),
            kept: keys
                .iter()
                .filter_map(|k| match s.records.get(k) {
                    Some(Recorded::Kept { app }) => Some((*k, app.clone())),
                    _ => None,
                })
                .collect(),
            users: users
                .iter()
                .filter_map(|u| s.users.get(u).map(|n| (u.clone(), *n)))
                .collect(),
        }))
    }

    async fn records(&self, keys: &[EventKey]) -> StoreResult<HashMap<EventKey, Recorded>> {
        Ok(self.with(|s| {
            keys.iter()
                .filter_map(|k| s.records.get(k).map(|r| (*k, r.clone())))
                .collect()
        }))
    }

    async fn apply_class_fact(&self, fact: &ClassFactEvent) -> StoreResult<SetOnceOutcome> {
        Ok(self.with(|s| {
            let facts = s
                .facts
                .entry((fact.app.clone(), fact.class.clone()))
                .or_default();
            match facts.with(&fact.fact) {
                Ok(next) => {
                    *facts = next;
                    SetOnceOutcome::Applied
                }
                Err(reason) => SetOnceOutcome::Conflict(reason),
            }
        }))
    }

    async fn put_package(&self, package: &Package) -> StoreResult<SetOnceOutcome> {
        Ok(self.with(|s| {
            let key = (package.app.clone(), package.id.clone());
            // The same purchase again keeps its first acknowledgement.
            let same = |stored: &Package| {
                Package {
                    acked: stored.acked,
                    refunded: stored.refunded,
                    ..package.clone()
                } == *stored
            };
            match s.packages.get(&key) {
                Some(stored) if same(stored) => SetOnceOutcome::Applied,
                Some(_) => SetOnceOutcome::Conflict(format!(
                    "package {} already exists with other data",
                    package.id
                )),
                None => {
                    s.packages.insert(key, package.clone());
                    let state = s.av_state.entry(package.app.clone()).or_default();
                    state.seq += 1;
                    state.dirty.insert(package.valid_from);
                    s.alert_watches
                        .entry(package.app.clone())
                        .or_default()
                        .epoch += 1;
                    s.expiry.insert(ExpiryEntry {
                        valid_to: package.valid_to,
                        app: package.app.clone(),
                        package: package.id.clone(),
                    });
                    SetOnceOutcome::Applied
                }
            }
        }))
    }

    async fn packages(&self, app: &AppId) -> StoreResult<Vec<Package>> {
        Ok(self.with(|s| {
            s.packages
                .iter()
                .filter(|((a, _), _)| a == app)
                .map(|(key, p)| Package {
                    refunded: s.refunds.get(key).copied(),
                    ..p.clone()
                })
                .collect()
        }))
    }

    async fn refund_package(&self, refund: &Refund, at: UtcMillis) -> StoreResult<()> {
        self.with(|s| {
            let key = (refund.app.clone(), refund.package.clone());
            s.refunds.entry(key.clone()).or_insert(at);
            let from = s.packages.get(&key).map_or(Day(0), |p| p.valid_from);
            let state = s.av_state.entry(refund.app.clone()).or_default();
            state.seq += 1;
            state.dirty.insert(from);
            s.alert_watches.entry(refund.app.clone()).or_default().epoch += 1;
        });
        Ok(())
    }

    async fn ledger_inputs(&self, app: &AppId, from: Day) -> StoreResult<LedgerInputs> {
        let packages = self.packages(app).await?;
        Ok(self.with(|s| LedgerInputs {
            balances: s
                .balances
                .range((app.clone(), from)..)
                .take_while(|((a, _), _)| a == app)
                .map(|(_, b)| b.clone())
                .collect(),
            packages,
            state: s.av_state.get(app).cloned().unwrap_or_default(),
        }))
    }

    async fn balance(&self, app: &AppId, day: Day) -> StoreResult<Option<Balance>> {
        Ok(self.with(|s| s.balances.get(&(app.clone(), day)).cloned()))
    }

    async fn write_balances(&self, app: &AppId, balances: &[Balance]) -> StoreResult<bool> {
        Ok(self.with(|s| {
            for balance in balances {
                let key = (app.clone(), balance.day);
                if s.balances.get(&key).is_some_and(|b| b.seq > balance.seq) {
                    return false;
                }
                s.balances.insert(key, balance.clone());
            }
            true
        }))
    }

    async fn settle(
        &self,
        app: &AppId,
        settled: Settled,
        seen: &BTreeSet<Day>,
    ) -> StoreResult<WriteDayOutcome> {
        Ok(self.with(|s| match s.av_state.get_mut(app) {
            Some(state) if state.seq == settled.seq => {
                state.settled = Some(settled);
                state.dirty.retain(|d| !seen.contains(d));
                WriteDayOutcome::Written
            }
            _ => WriteDayOutcome::Changed,
        }))
    }

    async fn pending_apps(
        &self,
        cursor: Option<String>,
    ) -> StoreResult<(Vec<AppId>, Option<String>)> {
        let after = cursor
            .map(|c| AppId::parse(&c).ok_or_else(|| StoreError::Corrupt("app cursor".into())))
            .transpose()?;
        Ok(self.with(|s| {
            let mut apps = s
                .av_state
                .iter()
                .filter(|(app, state)| {
                    !state.dirty.is_empty() && after.as_ref().is_none_or(|a| *app > a)
                })
                .map(|(app, _)| app.clone());
            let page: Vec<AppId> = apps.by_ref().take(PENDING_PAGE_SIZE).collect();
            let next = apps.next().and(page.last().map(|a| a.to_string()));
            (page, next)
        }))
    }

    async fn class_facts(
        &self,
        app: &AppId,
        classes: &[ClassId],
    ) -> StoreResult<BTreeMap<ClassId, ClassFacts>> {
        Ok(self.with(|s| {
            classes
                .iter()
                .filter_map(|c| {
                    let facts = s.facts.get(&(app.clone(), c.clone()))?;
                    Some((c.clone(), facts.clone()))
                })
                .collect()
        }))
    }

    async fn av_hours(&self, app: &AppId, first: Hour, last: Hour) -> StoreResult<Vec<AvHour>> {
        Ok(self.with(|s| {
            s.av_hours
                .range((app.clone(), first)..=(app.clone(), last))
                .map(|(key, usage)| AvHour {
                    hour: key.1,
                    usage: *usage,
                    head: s.av_heads.get(key).copied().unwrap_or_default(),
                })
                .collect()
        }))
    }

    async fn class_recordings(
        &self,
        app: &AppId,
        first: Day,
        last: Day,
    ) -> StoreResult<Vec<(Day, ClassId, u64)>> {
        Ok(self.with(|s| {
            s.class_recordings
                .iter()
                .filter(|((a, day, _), ms)| a == app && first <= *day && *day <= last && **ms > 0)
                .map(|((_, day, class), ms)| (*day, class.clone(), *ms))
                .collect()
        }))
    }

    async fn av_rows(&self, app: &AppId, first: Day, last: Day) -> StoreResult<Vec<RowRecord>> {
        Ok(self.with(|s| {
            s.rows
                .iter()
                .filter(|(k, _)| k.app == *app && first <= k.day && k.day <= last)
                .map(|(key, (ms, users))| RowRecord {
                    key: key.clone(),
                    ms: *ms,
                    users: *users,
                })
                .filter(RowRecord::counts)
                .collect()
        }))
    }

    async fn commit(&self, group: &CommitGroup) -> StoreResult<CommitOutcome> {
        Ok(self.with(|s| {
            if let Some(outcome) = s.refusal(group) {
                return outcome;
            }
            s.apply(group);
            CommitOutcome::Committed
        }))
    }

    /// The cursor names the last day of the previous page, as DynamoDB's
    /// `LastEvaluatedKey` does, rather than counting days: the rollup clears
    /// the marks of each page before asking for the next, and an offset would
    /// then skip as many unread days as it had cleared.
    async fn pending_days(&self, cursor: Option<String>) -> StoreResult<PendingPage> {
        let after = match cursor {
            None => None,
            Some(text) => {
                let (app, day): (String, i64) = serde_json::from_str(&text)
                    .map_err(|_| StoreError::Corrupt("pending cursor".into()))?;
                let app = AppId::parse(&app)
                    .ok_or_else(|| StoreError::Corrupt("pending cursor".into()))?;
                Some(PendingDay { app, day: Day(day) })
            }
        };
        Ok(self.with(|s| {
            let mut rest = match &after {
                None => s.pending.range::<PendingDay, _>(..),
                Some(after) => s.pending.range((Bound::Excluded(after), Bound::Unbounded)),
            };
            let days: Vec<PendingDay> = rest.by_ref().take(PENDING_PAGE_SIZE).cloned().collect();
            let next = match (rest.next(), days.last()) {
                (Some(_), Some(last)) => Some(
                    serde_json::to_string(&(last.app.as_str(), last.day.0))
                        .expect("a pair of a string and a number"),
                ),
                _ => None,
            };
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

    /// The record and the hours are read under one lock, as DynamoDB's
    /// `TransactGetItems` reads them in one transaction: the rollup sums these
    /// hours and writes the totals conditionally on this record's counter, so
    /// a commit landing between two separate reads would have it store totals
    /// that miss (or double) that commit's usage under a counter that vouches
    /// for them.
    async fn day_snapshot(&self, app: &AppId, day: Day) -> StoreResult<DaySnapshot> {
        Ok(self.with(|s| DaySnapshot {
            record: s.days.get(&(app.clone(), day)).cloned(),
            hours: s.hours_of(app, day.first_hour(), day.last_hour()),
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

    async fn put_measurements(&self, measurements: &[Measurement]) -> StoreResult<()> {
        self.with(|s| {
            s.measurements
                .extend(measurements.iter().map(|m| (m.app.clone(), m.reading())));
        });
        Ok(())
    }

    async fn late_usage(&self, app: &AppId, since: UtcMillis) -> StoreResult<Vec<LateWrite>> {
        Ok(self.with(|s| {
            s.late
                .iter()
                .filter(|((a, acked, _, _), _)| a == app && *acked >= since)
                .map(|(_, late)| late.clone())
                .collect()
        }))
    }

    async fn statement(&self, app: &AppId, month: Month) -> StoreResult<Option<StatementBody>> {
        Ok(self.with(|s| s.statements.get(&(app.clone(), month)).cloned()))
    }

    async fn put_statement(&self, app: &AppId, body: &StatementBody) -> StoreResult<()> {
        self.with(|s| {
            s.statements
                .entry((app.clone(), body.month))
                .or_insert_with(|| body.clone());
        });
        Ok(())
    }

    async fn measurements(
        &self,
        app: &AppId,
        since: UtcMillis,
        from: UtcMillis,
        to: UtcMillis,
    ) -> StoreResult<Readings> {
        let at = |at: UtcMillis| (app.clone(), Reading { at, bytes: 0 });
        Ok(self.with(|s| Readings {
            before: (since < from)
                .then(|| s.measurements.range(at(since)..at(from)).next_back())
                .flatten()
                .map(|(_, r)| *r),
            inside: if from < to {
                s.measurements
                    .range(at(from)..at(to))
                    .map(|(_, r)| *r)
                    .collect()
            } else {
                Vec::new()
            },
        }))
    }
}

impl TurnStore for MemoryStore {
    async fn take_ticket(&self, app: &AppId) -> StoreResult<Ticket> {
        Ok(self.with(|s| {
            let (taken, serving) = s.turns.entry(app.clone()).or_insert((0, 1));
            *taken += 1;
            Ticket {
                number: *taken,
                serving: *serving,
            }
        }))
    }

    async fn serving(&self, app: &AppId) -> StoreResult<u64> {
        Ok(self.with(|s| s.turns.get(app).map_or(1, |(_, serving)| *serving)))
    }

    async fn pass_turn(&self, app: &AppId, from: u64) -> StoreResult<bool> {
        // As DynamoDB's conditional update: a line nobody joined has no
        // item, so nothing moves.
        Ok(self.with(|s| match s.turns.get_mut(app) {
            Some((_, serving)) if *serving == from => {
                *serving += 1;
                true
            }
            _ => false,
        }))
    }
}

impl AlertStore for MemoryStore {
    async fn alert_watches(&self, apps: &[AppId]) -> StoreResult<HashMap<AppId, AlertWatch>> {
        Ok(self.with(|s| {
            apps.iter()
                .map(|app| {
                    let watch = s.alert_watches.get(app).cloned().unwrap_or_default();
                    (app.clone(), watch)
                })
                .collect()
        }))
    }

    async fn raised_alerts(&self, app: &AppId) -> StoreResult<Vec<Alert>> {
        Ok(self.with(|s| {
            s.alerts
                .iter()
                .filter(|((a, _), _)| a == app)
                .map(|(_, alert)| alert.clone())
                .collect()
        }))
    }

    async fn recent_alerts(&self, app: &AppId, limit: usize) -> StoreResult<Vec<Alert>> {
        let mut alerts = self.raised_alerts(app).await?;
        alerts.sort_by(|a, b| {
            b.raised_at
                .cmp(&a.raised_at)
                .then_with(|| a.key.cmp(&b.key))
        });
        alerts.truncate(limit);
        Ok(alerts)
    }

    async fn raise_alert(&self, alert: &Alert) -> StoreResult<RaiseOutcome> {
        Ok(self.with(|s| {
            let key = (alert.app.clone(), alert.key.clone());
            if s.alerts.contains_key(&key) {
                return RaiseOutcome::AlreadyRaised;
            }
            s.alerts.insert(key.clone(), alert.clone());
            s.unpublished.insert(key);
            let watch = s.alert_watches.entry(alert.app.clone()).or_default();
            watch.pending.insert(alert.key.clone());
            RaiseOutcome::Raised
        }))
    }

    async fn set_alert_limit(&self, app: &AppId, epoch: u64, limit: u64) -> StoreResult<bool> {
        Ok(self.with(|s| {
            let watch = s.alert_watches.entry(app.clone()).or_default();
            let set = watch.epoch == epoch;
            if set {
                watch.limit = Some(limit);
            }
            set
        }))
    }

    async fn alert_published(&self, alert: &Alert) -> StoreResult<()> {
        self.with(|s| {
            s.unpublished
                .remove(&(alert.app.clone(), alert.key.clone()));
            if let Some(watch) = s.alert_watches.get_mut(&alert.app) {
                watch.pending.remove(&alert.key);
            }
        });
        Ok(())
    }

    async fn unpublished_alerts(
        &self,
        cursor: Option<String>,
    ) -> StoreResult<(Vec<Alert>, Option<String>)> {
        // One page holds them all: the cursor is never given back.
        debug_assert!(cursor.is_none());
        Ok(self.with(|s| {
            let alerts = s
                .unpublished
                .iter()
                .map(|key| s.alerts[key].clone())
                .collect();
            (alerts, None)
        }))
    }

    async fn expiring_packages(&self, through: Day) -> StoreResult<Vec<ExpiryEntry>> {
        Ok(self.with(|s| {
            s.expiry
                .iter()
                .take_while(|e| e.valid_to <= through)
                .cloned()
                .collect()
        }))
    }

    async fn forget_expiry(&self, entry: &ExpiryEntry) -> StoreResult<()> {
        self.with(|s| s.expiry.remove(entry));
        Ok(())
    }
}

impl AccessKeyStore for MemoryStore {
    async fn put_access_key(&self, record: &AccessKeyRecord) -> StoreResult<()> {
        self.with(|s| {
            if s.access_keys.contains_key(&record.id) {
                return Err(StoreError::Conflict(format!(
                    "an AccessKey with id {} exists; nothing was written",
                    record.id
                )));
            }
            let stored = StoredAccessKey {
                record: record.clone(),
                status: AccessKeyStatus::Active,
            };
            s.access_keys.insert(record.id.clone(), stored);
            Ok(())
        })
    }

    async fn access_key(&self, id: &AccessKeyId) -> StoreResult<Option<StoredAccessKey>> {
        Ok(self.with(|s| s.access_keys.get(id).cloned()))
    }

    async fn revoke_access_key(&self, id: &AccessKeyId, at: UtcMillis) -> StoreResult<bool> {
        Ok(self.with(|s| match s.access_keys.get_mut(id) {
            None => false,
            Some(key) => {
                if key.status == AccessKeyStatus::Active {
                    key.status = AccessKeyStatus::Revoked { at };
                }
                true
            }
        }))
    }

    async fn use_nonce(
        &self,
        key: &AccessKeyId,
        nonce: &str,
        until: UtcMillis,
        now: UtcMillis,
    ) -> StoreResult<bool> {
        Ok(self.with(|s| {
            let entry = s.nonces.entry((key.clone(), nonce.to_owned()));
            match entry {
                std::collections::hash_map::Entry::Occupied(mut used) => {
                    if !nonce_expired(*used.get(), now) {
                        return false;
                    }
                    used.insert(nonce_expiry_second(until));
                }
                std::collections::hash_map::Entry::Vacant(fresh) => {
                    fresh.insert(nonce_expiry_second(until));
                }
            }
            true
        }))
    }

    async fn count_request(
        &self,
        key: &AccessKeyId,
        second: i64,
        limit: u32,
        _now: UtcMillis,
    ) -> StoreResult<bool> {
        Ok(self.with(|s| {
            let counted = s.requests.entry((key.clone(), second)).or_default();
            if *counted >= limit {
                return false;
            }
            *counted += 1;
            true
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::commit::{EventWrite, HourAdd};
    use crate::domain::event::Segment;
    use crate::domain::retention::hourly_expiry;

    use crate::domain::usage::{RecordMode, Tier};
    use futures::executor::block_on;
    use std::sync::Arc;

    fn app() -> AppId {
        AppId::parse("app-1").unwrap()
    }

    fn day() -> Day {
        Day::parse_key("2026-11-20").unwrap()
    }

    /// One event adding a second of audio to hour `n % 24` of the day.
    fn one_second(n: u64) -> CommitGroup {
        let mut group = CommitGroup::default();
        let hour = Hour(day().first_hour().0 + (n % 24) as i64);
        group.events.push(EventWrite::segment(
            EventKey::of("/test", &n.to_string()),
            Segment {
                app: app(),
                class: None,
                mode: RecordMode::SingleStream,
                tier: Tier::Audio,
                start: hour.start(),
                end: hour.start().plus_ms(1_000),
            },
        ));
        let mut usage = ModeUsage::default();
        usage.add(RecordMode::SingleStream, Tier::Audio, 1_000);
        let expires = hourly_expiry(hour);
        group.hours.insert(
            (app(), hour),
            HourAdd {
                usage,
                head: ModeUsage::default(),
                expires,
            },
        );
        group.days.insert((app(), day()));
        group
    }

    /// Every commit adds one second and bumps the change counter once, so in
    /// any consistent snapshot the hours sum to exactly `seq` seconds. A
    /// snapshot that read the hours and the record at different moments
    /// would, with commits landing in between, sooner or later show a
    /// counter ahead of (or behind) its hours.
    #[test]
    fn a_snapshot_is_never_torn_by_concurrent_commits() {
        const COMMITS: u64 = 8_000;
        let store = Arc::new(MemoryStore::new());
        let writer = {
            let store = Arc::clone(&store);
            std::thread::spawn(move || {
                for n in 0..COMMITS {
                    let outcome = block_on(store.commit(&one_second(n))).unwrap();
                    assert_eq!(outcome, CommitOutcome::Committed);
                }
            })
        };
        let mut snapshots = 0;
        while !writer.is_finished() {
            let snapshot = block_on(store.day_snapshot(&app(), day())).unwrap();
            let seq = snapshot.record.map_or(0, |r| r.seq);
            let ms: u64 = snapshot
                .hours
                .iter()
                .map(|h| h.usage.mode(RecordMode::SingleStream).total())
                .sum();
            assert_eq!(ms, seq * 1_000, "torn snapshot after {snapshots} snapshots");
            snapshots += 1;
        }
        writer.join().unwrap();
        assert!(snapshots > 0);
    }
}
