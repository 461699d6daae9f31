//! A store wrapper that applies what DynamoDB does to concurrent writers of
//! the same items, which DynamoDB Local never does (it runs one transaction
//! at a time): test support, beside the fault-injecting wrapper, for the
//! simulation of many ingest invocations at once (`scripts/bench`).
//!
//! - **Transaction conflicts.** A `TransactWriteItems` that touches an item
//!   another transaction is still writing is cancelled
//!   (`TransactionConflict`), nothing written; the AWS SDK does not retry it.
//! - **Per-item throughput.** An item takes at most 1,000 write units a
//!   second (a partition's limit; one hot item cannot be spread). A
//!   transaction's write costs 2 units an item (1 KB or less), a single
//!   write (a busy app's line of writers) 1; one that would pass the limit
//!   in the current second is refused as throttled, nothing written.
//! - **Latency.** Every request takes `latency` before it is answered; a
//!   transaction holds its items for `write_latency` while in flight.
//!
//! Everything else goes to the wrapped store as it is.

use super::alerts::{AlertStore, AlertWatch, ExpiryEntry, RaiseOutcome};
use super::*;
use crate::domain::alert::Alert;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// What the wrapper applies.
#[derive(Clone, Copy, Debug)]
pub struct Contention {
    /// Every request's round trip.
    pub latency: Duration,
    /// How long a transaction holds its items.
    pub write_latency: Duration,
    /// Write units an item takes per second.
    pub item_units_per_second: u64,
    /// What-if, for choosing a design: an app's hour and deduction state
    /// written as this many items, each transaction picking one at random
    /// (1: as stored today). Only the conflicts and units change; what is
    /// stored is the wrapped store's.
    pub hot_item_shards: u32,
}

impl Default for Contention {
    /// A table in the same region: a few ms a request, ~8 ms a write in
    /// flight, DynamoDB's 1,000 units per item per second.
    fn default() -> Self {
        Contention {
            latency: Duration::from_millis(3),
            write_latency: Duration::from_millis(8),
            item_units_per_second: 1_000,
            hot_item_shards: 1,
        }
    }
}

#[derive(Debug, Default)]
pub struct ContentionCounts {
    /// Transactions sent (cancelled ones included).
    pub transactions: AtomicU64,
    /// Cancelled by a transaction in flight on one of their items.
    pub conflicts: AtomicU64,
    /// The item each conflict was on, in order.
    pub conflicted_items: Mutex<Vec<String>>,
    /// Refused: an item past its units this second.
    pub throttles: AtomicU64,
    /// Write units of the transactions that landed (2 an item).
    pub write_units: AtomicU64,
    /// Every request, reads included.
    pub requests: AtomicU64,
}

impl ContentionCounts {
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}

pub struct ContendedStore<S> {
    inner: S,
    contention: Contention,
    in_flight: Mutex<HashSet<String>>,
    /// Per item: the second its units are counted in, and the units.
    units: Mutex<HashMap<String, (u64, u64)>>,
    started: Instant,
    pub counts: ContentionCounts,
}

impl<S: UsageStore> ContendedStore<S> {
    pub fn new(inner: S, contention: Contention) -> Self {
        ContendedStore {
            inner,
            contention,
            in_flight: Mutex::new(HashSet::new()),
            units: Mutex::new(HashMap::new()),
            started: Instant::now(),
            counts: ContentionCounts::default(),
        }
    }

    pub fn inner(&self) -> &S {
        &self.inner
    }

    async fn request<T>(&self, call: impl Future<Output = StoreResult<T>>) -> StoreResult<T> {
        self.counts.requests.fetch_add(1, Ordering::Relaxed);
        tokio::time::sleep(self.contention.latency).await;
        call.await
    }

    /// Claims `items` for a transaction, or says why it is refused.
    fn claim(&self, items: &[String]) -> Result<(), StoreError> {
        let mut in_flight = self.in_flight.lock().expect("in-flight lock");
        if let Some(busy) = items.iter().find(|item| in_flight.contains(*item)) {
            self.counts.conflicts.fetch_add(1, Ordering::Relaxed);
            (self.counts.conflicted_items.lock())
                .expect("conflicts lock")
                .push(busy.clone());
            return Err(StoreError::Conflict(format!(
                "TransactionConflict: another transaction is writing {busy}"
            )));
        }
        self.charge(items, 2)?;
        in_flight.extend(items.iter().cloned());
        Ok(())
    }

    /// Takes `each` write units of every item in the current second, or
    /// refuses them all as throttled.
    fn charge(&self, items: &[String], each: u64) -> Result<(), StoreError> {
        let second = self.started.elapsed().as_secs();
        let mut units = self.units.lock().expect("units lock");
        let over = items.iter().any(|item| {
            let (at, used) = units.get(item).copied().unwrap_or((second, 0));
            let used = if at == second { used } else { 0 };
            used + each > self.contention.item_units_per_second
        });
        if over {
            self.counts.throttles.fetch_add(1, Ordering::Relaxed);
            return Err(StoreError::Throttled(
                "ThrottlingException: an item is past its write units this second".into(),
            ));
        }
        for item in items {
            let entry = units.entry(item.clone()).or_insert((second, 0));
            if entry.0 != second {
                *entry = (second, 0);
            }
            entry.1 += each;
        }
        Ok(())
    }

    /// A single-item write outside any transaction (a turn of the writers'
    /// line): a request's latency, one write unit of the item.
    async fn single_write<T>(
        &self,
        item: String,
        call: impl Future<Output = StoreResult<T>>,
    ) -> StoreResult<T> {
        self.counts.requests.fetch_add(1, Ordering::Relaxed);
        tokio::time::sleep(self.contention.latency).await;
        self.charge(&[item], 1)?;
        self.counts.write_units.fetch_add(1, Ordering::Relaxed);
        call.await
    }

    /// The what-if shard of the next transaction's hot items, if sharded.
    fn next_shard(&self) -> Option<u64> {
        let shards = u64::from(self.contention.hot_item_shards);
        (shards > 1).then(|| {
            // A cheap spread: the transaction counter through a mix.
            let n = self.counts.transactions.load(Ordering::Relaxed);
            n.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(17) % shards
        })
    }

    fn release(&self, items: &[String]) {
        let mut in_flight = self.in_flight.lock().expect("in-flight lock");
        for item in items {
            in_flight.remove(item);
        }
    }
}

/// Every item a commit writes, named as DynamoDB keys them apart.
pub fn items_of(group: &CommitGroup) -> Vec<String> {
    let mut items: Vec<String> = Vec::new();
    items.extend(
        group
            .events
            .iter()
            .map(|e| format!("event {}", e.key.hex())),
    );
    items.extend(group.voids.iter().map(|v| format!("event {}", v.key.hex())));
    items.extend(
        group
            .voids
            .iter()
            .map(|v| format!("event {}", v.voided.hex())),
    );
    items.extend(
        group
            .hours
            .keys()
            .map(|(app, hour)| format!("{app} hour {}", hour.0)),
    );
    items.extend(
        group
            .days
            .iter()
            .map(|(app, day)| format!("{app} day {}", day.0)),
    );
    items.extend(
        group
            .av_hours
            .keys()
            .map(|(app, hour)| format!("{app} av hour {}", hour.0)),
    );
    items.extend(group.rows.keys().map(|row| {
        format!(
            "{} row {} {} {:?}",
            row.app, row.day.0, row.class, row.usage
        )
    }));
    items.extend(group.marks.keys().map(|mark| format!("mark {mark:?}")));
    items.extend(group.av_changes.keys().map(|app| format!("{app} state")));
    items.extend(
        group
            .class_recordings
            .keys()
            .map(|(app, day, class)| format!("{app} recording {} {class}", day.0)),
    );
    items.extend(
        group
            .parked
            .iter()
            .map(|(key, _)| format!("parked {}", key.hex())),
    );
    items.extend(
        group
            .unparked
            .iter()
            .map(|(_, key)| format!("parked {}", key.hex())),
    );
    items.extend(
        group
            .unfixed
            .iter()
            .map(|app| format!("{app} registration")),
    );
    items.extend(
        group
            .late
            .iter()
            .map(|late| format!("late {} {:?}", late.key.hex(), late.sign)),
    );
    items.sort();
    items.dedup();
    items
}

impl<S: UsageStore> UsageStore for ContendedStore<S> {
    const MAX_COMMIT_ACTIONS: usize = S::MAX_COMMIT_ACTIONS;

    async fn registration(&self, app: &AppId) -> StoreResult<Option<Registration>> {
        self.request(self.inner.registration(app)).await
    }
    async fn register_app(
        &self,
        app: &AppId,
        request: &RegistrationRequest,
        default_zone: &BillingZone,
    ) -> StoreResult<RegisterOutcome> {
        self.request(self.inner.register_app(app, request, default_zone))
            .await
    }
    async fn open_app(&self, app: &AppId) -> StoreResult<()> {
        self.request(self.inner.open_app(app)).await
    }
    async fn zones(&self, apps: &[AppId]) -> StoreResult<Zones> {
        self.request(self.inner.zones(apps)).await
    }
    async fn parked(&self, app: &AppId) -> StoreResult<Vec<NewEvent>> {
        self.request(self.inner.parked(app)).await
    }
    async fn apps_of(&self, owner: &AccountId) -> StoreResult<Vec<(AppId, Registration)>> {
        self.request(self.inner.apps_of(owner)).await
    }
    async fn hours(&self, app: &AppId, first: Hour, last: Hour) -> StoreResult<Vec<HourRecord>> {
        self.request(self.inner.hours(app, first, last)).await
    }
    async fn days(&self, app: &AppId, first: Day, last: Day) -> StoreResult<Vec<DayRecord>> {
        self.request(self.inner.days(app, first, last)).await
    }
    async fn seen(&self, keys: &[EventKey], users: &[UserMark]) -> StoreResult<Seen> {
        self.request(self.inner.seen(keys, users)).await
    }
    async fn records(&self, keys: &[EventKey]) -> StoreResult<HashMap<EventKey, Recorded>> {
        self.request(self.inner.records(keys)).await
    }
    async fn counted(&self, keys: &[EventKey]) -> StoreResult<HashSet<EventKey>> {
        self.request(self.inner.counted(keys)).await
    }
    async fn apply_class_fact(&self, fact: &ClassFactEvent) -> StoreResult<SetOnceOutcome> {
        self.request(self.inner.apply_class_fact(fact)).await
    }
    async fn put_package(&self, package: &Package) -> StoreResult<SetOnceOutcome> {
        self.request(self.inner.put_package(package)).await
    }
    async fn refund_package(&self, refund: &Refund, at: UtcMillis) -> StoreResult<()> {
        self.request(self.inner.refund_package(refund, at)).await
    }
    async fn packages(&self, app: &AppId) -> StoreResult<Vec<Package>> {
        self.request(self.inner.packages(app)).await
    }
    async fn ledger_inputs(&self, app: &AppId, from: Day) -> StoreResult<LedgerInputs> {
        self.request(self.inner.ledger_inputs(app, from)).await
    }
    async fn balance(&self, app: &AppId, day: Day) -> StoreResult<Option<Balance>> {
        self.request(self.inner.balance(app, day)).await
    }
    async fn write_balances(&self, app: &AppId, balances: &[Balance]) -> StoreResult<bool> {
        self.request(self.inner.write_balances(app, balances)).await
    }
    async fn settle(
        &self,
        app: &AppId,
        settled: Settled,
        seen: &BTreeSet<Day>,
    ) -> StoreResult<WriteDayOutcome> {
        self.request(self.inner.settle(app, settled, seen)).await
    }
    async fn pending_apps(
        &self,
        cursor: Option<String>,
    ) -> StoreResult<(Vec<AppId>, Option<String>)> {
        self.request(self.inner.pending_apps(cursor)).await
    }
    async fn class_facts(
        &self,
        app: &AppId,
        classes: &[ClassId],
    ) -> StoreResult<BTreeMap<ClassId, ClassFacts>> {
        self.request(self.inner.class_facts(app, classes)).await
    }
    async fn av_hours(&self, app: &AppId, first: Hour, last: Hour) -> StoreResult<Vec<AvHour>> {
        self.request(self.inner.av_hours(app, first, last)).await
    }
    async fn class_recordings(
        &self,
        app: &AppId,
        first: Day,
        last: Day,
    ) -> StoreResult<Vec<(Day, ClassId, u64)>> {
        self.request(self.inner.class_recordings(app, first, last))
            .await
    }
    async fn av_rows(&self, app: &AppId, first: Day, last: Day) -> StoreResult<Vec<RowRecord>> {
        self.request(self.inner.av_rows(app, first, last)).await
    }
    async fn commit(&self, group: &CommitGroup) -> StoreResult<CommitOutcome> {
        self.counts.requests.fetch_add(1, Ordering::Relaxed);
        self.counts.transactions.fetch_add(1, Ordering::Relaxed);
        let shard = self.next_shard();
        let items: Vec<String> = items_of(group)
            .into_iter()
            .map(|item| match shard {
                Some(k) if item.ends_with(" state") || item.contains(" av hour ") => {
                    format!("{item} #{k}")
                }
                _ => item,
            })
            .collect();
        tokio::time::sleep(self.contention.latency).await;
        self.claim(&items)?;
        // In flight: whoever else touches these items now is cancelled.
        tokio::time::sleep(self.contention.write_latency).await;
        let outcome = self.inner.commit(group).await;
        self.release(&items);
        if let Ok(CommitOutcome::Committed) = outcome {
            self.counts
                .write_units
                .fetch_add(2 * items.len() as u64, Ordering::Relaxed);
        }
        outcome
    }
    async fn pending_days(&self, cursor: Option<String>) -> StoreResult<PendingPage> {
        self.request(self.inner.pending_days(cursor)).await
    }
    async fn apps_with_usage(&self, day: Day) -> StoreResult<Vec<AppId>> {
        self.request(self.inner.apps_with_usage(day)).await
    }
    async fn day_snapshot(&self, app: &AppId, day: Day) -> StoreResult<DaySnapshot> {
        self.request(self.inner.day_snapshot(app, day)).await
    }
    async fn write_day(
        &self,
        app: &AppId,
        day: Day,
        usage: &ModeUsage,
        seq: u64,
    ) -> StoreResult<WriteDayOutcome> {
        self.request(self.inner.write_day(app, day, usage, seq))
            .await
    }
    async fn put_measurements(&self, measurements: &[Measurement]) -> StoreResult<()> {
        self.request(self.inner.put_measurements(measurements))
            .await
    }
    async fn late_usage(&self, app: &AppId, since: UtcMillis) -> StoreResult<Vec<LateWrite>> {
        self.request(self.inner.late_usage(app, since)).await
    }
    async fn statement(&self, app: &AppId, month: Month) -> StoreResult<Option<StatementBody>> {
        self.request(self.inner.statement(app, month)).await
    }
    async fn put_statement(&self, app: &AppId, body: &StatementBody) -> StoreResult<()> {
        self.request(self.inner.put_statement(app, body)).await
    }
    async fn measurements(
        &self,
        app: &AppId,
        since: UtcMillis,
        from: UtcMillis,
        to: UtcMillis,
    ) -> StoreResult<Readings> {
        self.request(self.inner.measurements(app, since, from, to))
            .await
    }
}

/// The line's writes are single-item writes of the app's turn item; the
/// read of whose turn it is takes a request's latency.
impl<S: UsageStore> TurnStore for ContendedStore<S> {
    async fn take_ticket(&self, app: &AppId) -> StoreResult<Ticket> {
        self.single_write(format!("{app} turn"), self.inner.take_ticket(app))
            .await
    }
    async fn serving(&self, app: &AppId) -> StoreResult<u64> {
        self.request(self.inner.serving(app)).await
    }
    async fn pass_turn(&self, app: &AppId, from: u64) -> StoreResult<bool> {
        self.single_write(format!("{app} turn"), self.inner.pass_turn(app, from))
            .await
    }
}

/// The alerts' operations take a request's latency each.
impl<S: UsageStore + AlertStore> AlertStore for ContendedStore<S> {
    async fn alert_watches(&self, apps: &[AppId]) -> StoreResult<HashMap<AppId, AlertWatch>> {
        self.request(self.inner.alert_watches(apps)).await
    }
    async fn raised_alerts(&self, app: &AppId) -> StoreResult<Vec<Alert>> {
        self.request(self.inner.raised_alerts(app)).await
    }
    async fn recent_alerts(&self, app: &AppId, limit: usize) -> StoreResult<Vec<Alert>> {
        self.request(self.inner.recent_alerts(app, limit)).await
    }
    async fn raise_alert(&self, alert: &Alert) -> StoreResult<RaiseOutcome> {
        self.request(self.inner.raise_alert(alert)).await
    }
    async fn set_alert_limit(&self, app: &AppId, epoch: u64, limit: u64) -> StoreResult<bool> {
        self.request(self.inner.set_alert_limit(app, epoch, limit))
            .await
    }
    async fn alert_published(&self, alert: &Alert) -> StoreResult<()> {
        self.request(self.inner.alert_published(alert)).await
    }
    async fn unpublished_alerts(
        &self,
        cursor: Option<String>,
    ) -> StoreResult<(Vec<Alert>, Option<String>)> {
        self.request(self.inner.unpublished_alerts(cursor)).await
    }
    async fn expiring_packages(&self, through: Day) -> StoreResult<Vec<ExpiryEntry>> {
        self.request(self.inner.expiring_packages(through)).await
    }
    async fn forget_expiry(&self, entry: &ExpiryEntry) -> StoreResult<()> {
        self.request(self.inner.forget_expiry(entry)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::class::UsageType;
    use crate::domain::commit::RowAdd;
    use crate::domain::commit::RowKey;
    use crate::store::memory::MemoryStore;

    fn row_group(class: &str) -> CommitGroup {
        let mut group = CommitGroup::default();
        let key = RowKey {
            app: AppId::parse("app").unwrap(),
            day: Day(20_000),
            class: ClassId::parse(class).unwrap(),
            usage: UsageType::Interactive,
        };
        group.rows.insert(
            key,
            RowAdd {
                ms: 60_000,
                users: 1,
            },
        );
        group
            .av_changes
            .insert(AppId::parse("app").unwrap(), [Day(20_000)].into());
        group
    }

    #[tokio::test]
    async fn a_transaction_on_an_item_in_flight_is_cancelled_and_nothing_written() {
        let store = ContendedStore::new(MemoryStore::new(), Contention::default());
        // Both write the app's deduction state: the second is cancelled.
        let (first, second) = (row_group("a"), row_group("b"));
        let (a, b) = tokio::join!(store.commit(&first), store.commit(&second));
        let outcomes = [a, b];
        assert_eq!(
            outcomes
                .iter()
                .filter(|o| matches!(o, Ok(CommitOutcome::Committed)))
                .count(),
            1
        );
        assert_eq!(
            outcomes
                .iter()
                .filter(|o| matches!(o, Err(StoreError::Conflict(_))))
                .count(),
            1
        );
        assert_eq!(ContentionCounts::get(&store.counts.conflicts), 1);
        let rows = store
            .av_rows(&AppId::parse("app").unwrap(), Day(20_000), Day(20_000))
            .await
            .unwrap();
        assert_eq!(rows.len(), 1, "only the committed row");
        // One after the other, both land.
        store.commit(&row_group("b")).await.unwrap();
        assert_eq!(ContentionCounts::get(&store.counts.transactions), 3);
    }

    #[tokio::test]
    async fn an_item_takes_its_units_a_second_and_no_more() {
        let contention = Contention {
            latency: Duration::ZERO,
            write_latency: Duration::ZERO,
            item_units_per_second: 6,
            hot_item_shards: 1,
        };
        let store = ContendedStore::new(MemoryStore::new(), contention);
        // Each commit writes the state at 2 units: three fit in a second.
        let mut throttled = 0;
        for class in ["a", "b", "c", "d"] {
            if let Err(StoreError::Throttled(_)) = store.commit(&row_group(class)).await {
                throttled += 1;
            }
        }
        // The second may turn while the loop runs: at least the fourth is
        // refused unless it did.
        let elapsed_second = store.started.elapsed().as_secs() > 0;
        assert!(throttled == 1 || elapsed_second, "{throttled}");
        assert_eq!(items_of(&row_group("a")).len(), 2, "the row and the state");
    }
}
