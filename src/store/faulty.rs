//! A store wrapper that makes a chosen share of calls fail, the ways DynamoDB
//! calls fail: refused before anything happened (unavailable, throttled), or
//! applied but reported as failed (a timeout after the commit). Used by the
//! exactly-once tests, the soak and the benchmark; deterministic per seed.
//! It wraps the AccessKeys' port too.

use super::*;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// Shares of calls, in per mille, that fail each way.
#[derive(Clone, Copy, Debug, Default)]
pub struct FaultPlan {
    pub fail_before_per_mille: u32,
    /// Writes only: the write lands, the caller is told it may not have.
    pub fail_after_per_mille: u32,
    pub throttle_per_mille: u32,
    /// `counted` answers as an eventually consistent read may: seeing none of
    /// the events. Exactly-once must then come from the transaction alone.
    pub stale_reads_per_mille: u32,
    pub seed: u64,
}

#[derive(Debug, Default)]
pub struct FaultCounts {
    pub failed_before: AtomicU64,
    pub failed_after: AtomicU64,
    pub throttled: AtomicU64,
    pub stale_reads: AtomicU64,
    pub calls: AtomicU64,
}

impl FaultCounts {
    pub fn injected(&self) -> u64 {
        self.failed_before.load(Ordering::Relaxed)
            + self.failed_after.load(Ordering::Relaxed)
            + self.throttled.load(Ordering::Relaxed)
    }
}

pub struct FaultyStore<S> {
    inner: S,
    plan: Mutex<FaultPlan>,
    rng: Mutex<u64>,
    pub counts: FaultCounts,
}

enum Draw {
    Pass,
    Before,
    After,
    Throttle,
}

impl<S: UsageStore> FaultyStore<S> {
    pub fn new(inner: S, plan: FaultPlan) -> Self {
        FaultyStore {
            inner,
            rng: Mutex::new(plan.seed | 1),
            plan: Mutex::new(plan),
            counts: FaultCounts::default(),
        }
    }

    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// Changes the plan, e.g. to stop injecting once a test's faulty phase ends.
    pub fn set_plan(&self, plan: FaultPlan) {
        *self.plan.lock().expect("plan lock") = plan;
    }

    fn draw(&self) -> Draw {
        self.counts.calls.fetch_add(1, Ordering::Relaxed);
        let plan = *self.plan.lock().expect("plan lock");
        let roll = self.roll();
        let before = plan.fail_before_per_mille;
        let after = before + plan.fail_after_per_mille;
        let throttle = after + plan.throttle_per_mille;
        if roll < before {
            Draw::Before
        } else if roll < after {
            Draw::After
        } else if roll < throttle {
            Draw::Throttle
        } else {
            Draw::Pass
        }
    }

    /// A number in 0..1000 (xorshift64*: enough for fault schedules, no dependency).
    fn roll(&self) -> u32 {
        let mut x = self.rng.lock().expect("rng lock");
        *x ^= *x >> 12;
        *x ^= *x << 25;
        *x ^= *x >> 27;
        ((x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 33) % 1000) as u32
    }

    async fn read<T>(&self, call: impl Future<Output = StoreResult<T>>) -> StoreResult<T> {
        match self.draw() {
            Draw::Pass => call.await,
            Draw::Throttle => {
                self.counts.throttled.fetch_add(1, Ordering::Relaxed);
                Err(StoreError::Throttled("injected".into()))
            }
            Draw::Before | Draw::After => {
                self.counts.failed_before.fetch_add(1, Ordering::Relaxed);
                Err(StoreError::Unavailable("injected".into()))
            }
        }
    }

    async fn write<T>(&self, call: impl Future<Output = StoreResult<T>>) -> StoreResult<T> {
        match self.draw() {
            Draw::After => {
                let _ = call.await;
                self.counts.failed_after.fetch_add(1, Ordering::Relaxed);
                Err(StoreError::Ambiguous("injected after the write".into()))
            }
            _ => self.read(call).await,
        }
    }
}

impl<S: UsageStore> UsageStore for FaultyStore<S> {
    const MAX_COMMIT_ACTIONS: usize = S::MAX_COMMIT_ACTIONS;

    async fn registration(&self, app: &AppId) -> StoreResult<Option<Registration>> {
        self.read(self.inner.registration(app)).await
    }
    async fn register_app(
        &self,
        app: &AppId,
        request: &RegistrationRequest,
        default_zone: &BillingZone,
    ) -> StoreResult<RegisterOutcome> {
        self.write(self.inner.register_app(app, request, default_zone))
            .await
    }
    async fn open_app(&self, app: &AppId) -> StoreResult<()> {
        self.write(self.inner.open_app(app)).await
    }
    async fn zones(&self, apps: &[AppId]) -> StoreResult<Zones> {
        self.read(self.inner.zones(apps)).await
    }
    async fn parked(&self, app: &AppId) -> StoreResult<Vec<NewEvent>> {
        self.read(self.inner.parked(app)).await
    }
    async fn ledger_inputs(&self, app: &AppId, from: Day) -> StoreResult<LedgerInputs> {
        self.read(self.inner.ledger_inputs(app, from)).await
    }
    async fn balance(&self, app: &AppId, day: Day) -> StoreResult<Option<Balance>> {
        self.read(self.inner.balance(app, day)).await
    }
    async fn write_balances(&self, app: &AppId, balances: &[Balance]) -> StoreResult<bool> {
        self.write(self.inner.write_balances(app, balances)).await
    }
    async fn settle(
        &self,
        app: &AppId,
        settled: Settled,
        seen: &BTreeSet<Day>,
    ) -> StoreResult<WriteDayOutcome> {
        self.write(self.inner.settle(app, settled, seen)).await
    }
    async fn pending_apps(
        &self,
        cursor: Option<String>,
    ) -> StoreResult<(Vec<AppId>, Option<String>)> {
        self.read(self.inner.pending_apps(cursor)).await
    }
    async fn apps_of(&self, owner: &AccountId) -> StoreResult<Vec<(AppId, Registration)>> {
        self.read(self.inner.apps_of(owner)).await
    }
    async fn apply_class_fact(&self, fact: &ClassFactEvent) -> StoreResult<SetOnceOutcome> {
        self.write(self.inner.apply_class_fact(fact)).await
    }
    async fn put_package(&self, package: &Package) -> StoreResult<SetOnceOutcome> {
        self.write(self.inner.put_package(package)).await
    }
    async fn packages(&self, app: &AppId) -> StoreResult<Vec<Package>> {
        self.read(self.inner.packages(app)).await
    }
    async fn class_facts(
        &self,
        app: &AppId,
        classes: &[ClassId],
    ) -> StoreResult<BTreeMap<ClassId, ClassFacts>> {
        self.read(self.inner.class_facts(app, classes)).await
    }
    async fn av_hours(&self, app: &AppId, first: Hour, last: Hour) -> StoreResult<Vec<AvHour>> {
        self.read(self.inner.av_hours(app, first, last)).await
    }
    async fn class_recordings(
        &self,
        app: &AppId,
        first: Day,
        last: Day,
    ) -> StoreResult<Vec<(Day, ClassId, u64)>> {
        self.read(self.inner.class_recordings(app, first, last))
            .await
    }
    async fn av_rows(&self, app: &AppId, first: Day, last: Day) -> StoreResult<Vec<RowRecord>> {
        self.read(self.inner.av_rows(app, first, last)).await
    }
    async fn hours(&self, app: &AppId, first: Hour, last: Hour) -> StoreResult<Vec<HourRecord>> {
        self.read(self.inner.hours(app, first, last)).await
    }
    async fn days(&self, app: &AppId, first: Day, last: Day) -> StoreResult<Vec<DayRecord>> {
        self.read(self.inner.days(app, first, last)).await
    }
    async fn seen(&self, keys: &[EventKey], users: &[UserMark]) -> StoreResult<Seen> {
        let seen = self.read(self.inner.seen(keys, users)).await?;
        let stale = self.plan.lock().expect("plan lock").stale_reads_per_mille;
        if stale > 0 && self.roll() < stale {
            self.counts.stale_reads.fetch_add(1, Ordering::Relaxed);
            return Ok(Seen::default());
        }
        Ok(seen)
    }
    async fn refund_package(&self, refund: &Refund, at: UtcMillis) -> StoreResult<()> {
        self.write(self.inner.refund_package(refund, at)).await
    }
    async fn late_usage(&self, app: &AppId, since: UtcMillis) -> StoreResult<Vec<LateWrite>> {
        self.read(self.inner.late_usage(app, since)).await
    }
    async fn statement(&self, app: &AppId, month: Month) -> StoreResult<Option<StatementBody>> {
        self.read(self.inner.statement(app, month)).await
    }
    async fn put_statement(&self, app: &AppId, body: &StatementBody) -> StoreResult<()> {
        self.write(self.inner.put_statement(app, body)).await
    }
    async fn records(&self, keys: &[EventKey]) -> StoreResult<HashMap<EventKey, Recorded>> {
        self.read(self.inner.records(keys)).await
    }
    async fn commit(&self, group: &CommitGroup) -> StoreResult<CommitOutcome> {
        self.write(self.inner.commit(group)).await
    }
    async fn pending_days(&self, cursor: Option<String>) -> StoreResult<PendingPage> {
        self.read(self.inner.pending_days(cursor)).await
    }
    async fn apps_with_usage(&self, day: Day) -> StoreResult<Vec<AppId>> {
        self.read(self.inner.apps_with_usage(day)).await
    }
    async fn day_snapshot(&self, app: &AppId, day: Day) -> StoreResult<DaySnapshot> {
        self.read(self.inner.day_snapshot(app, day)).await
    }
    async fn write_day(
        &self,
        app: &AppId,
        day: Day,
        totals: &ModeUsage,
        seq: u64,
    ) -> StoreResult<WriteDayOutcome> {
        self.write(self.inner.write_day(app, day, totals, seq))
            .await
    }
    async fn put_measurements(&self, measurements: &[Measurement]) -> StoreResult<()> {
        self.write(self.inner.put_measurements(measurements)).await
    }
    async fn measurements(
        &self,
        app: &AppId,
        since: UtcMillis,
        from: UtcMillis,
        to: UtcMillis,
    ) -> StoreResult<Readings> {
        self.read(self.inner.measurements(app, since, from, to))
            .await
    }
}

/// The AccessKeys' operations fail the same ways: reads before anything
/// happened; writes before, or after they landed.
impl<S: UsageStore + AccessKeyStore> AccessKeyStore for FaultyStore<S> {
    async fn put_access_key(&self, record: &AccessKeyRecord) -> StoreResult<()> {
        self.write(self.inner.put_access_key(record)).await
    }
    async fn access_key(
        &self,
        id: &crate::domain::access_key::AccessKeyId,
    ) -> StoreResult<Option<StoredAccessKey>> {
        self.read(self.inner.access_key(id)).await
    }
    async fn revoke_access_key(
        &self,
        id: &crate::domain::access_key::AccessKeyId,
        at: UtcMillis,
    ) -> StoreResult<bool> {
        self.write(self.inner.revoke_access_key(id, at)).await
    }
    async fn use_nonce(
        &self,
        key: &crate::domain::access_key::AccessKeyId,
        nonce: &str,
        until: UtcMillis,
        now: UtcMillis,
    ) -> StoreResult<bool> {
        self.write(self.inner.use_nonce(key, nonce, until, now))
            .await
    }
    async fn count_request(
        &self,
        key: &crate::domain::access_key::AccessKeyId,
        second: i64,
        limit: u32,
        now: UtcMillis,
    ) -> StoreResult<bool> {
        self.write(self.inner.count_request(key, second, limit, now))
            .await
    }
}

/// The line's operations fail the same ways: a ticket can be taken and
/// reported lost, and so can a turn passed on.
impl<S: UsageStore> TurnStore for FaultyStore<S> {
    async fn take_ticket(&self, app: &AppId) -> StoreResult<Ticket> {
        self.write(self.inner.take_ticket(app)).await
    }
    async fn serving(&self, app: &AppId) -> StoreResult<u64> {
        self.read(self.inner.serving(app)).await
    }
    async fn pass_turn(&self, app: &AppId, from: u64) -> StoreResult<bool> {
        self.write(self.inner.pass_turn(app, from)).await
    }
}

/// The alerts' operations fail the same ways: a decision can land and be
/// reported lost, and so can its publication mark.
impl<S: UsageStore + AlertStore> AlertStore for FaultyStore<S> {
    async fn alert_watches(&self, apps: &[AppId]) -> StoreResult<HashMap<AppId, AlertWatch>> {
        self.read(self.inner.alert_watches(apps)).await
    }
    async fn raised_alerts(&self, app: &AppId) -> StoreResult<Vec<crate::domain::alert::Alert>> {
        self.read(self.inner.raised_alerts(app)).await
    }
    async fn recent_alerts(
        &self,
        app: &AppId,
        limit: usize,
    ) -> StoreResult<Vec<crate::domain::alert::Alert>> {
        self.read(self.inner.recent_alerts(app, limit)).await
    }
    async fn raise_alert(&self, alert: &crate::domain::alert::Alert) -> StoreResult<RaiseOutcome> {
        self.write(self.inner.raise_alert(alert)).await
    }
    async fn set_alert_limit(&self, app: &AppId, epoch: u64, limit: u64) -> StoreResult<bool> {
        self.write(self.inner.set_alert_limit(app, epoch, limit))
            .await
    }
    async fn alert_published(&self, alert: &crate::domain::alert::Alert) -> StoreResult<()> {
        self.write(self.inner.alert_published(alert)).await
    }
    async fn unpublished_alerts(
        &self,
        cursor: Option<String>,
    ) -> StoreResult<(Vec<crate::domain::alert::Alert>, Option<String>)> {
        self.read(self.inner.unpublished_alerts(cursor)).await
    }
    async fn expiring_packages(&self, through: Day) -> StoreResult<Vec<ExpiryEntry>> {
        self.read(self.inner.expiring_packages(through)).await
    }
    async fn forget_expiry(&self, entry: &ExpiryEntry) -> StoreResult<()> {
        self.write(self.inner.forget_expiry(entry)).await
    }
}
