//! The storage port: what the services need from a store, in domain types.
//! `dynamo` is the production adapter; `memory` a fast in-process stand-in
//! for unit tests; `faulty` wraps either to inject failures. The last two are
//! test support: built for tests and with the `testkit` feature only.
//! [`access_keys`] is the AccessKeys' port, which both stores implement too.

pub mod access_keys;
pub mod alerts;
#[cfg(any(test, feature = "testkit"))]
pub mod contended;
pub mod dynamo;
#[cfg(any(test, feature = "testkit"))]
pub mod faulty;
#[cfg(any(test, feature = "testkit"))]
pub mod memory;
mod records;
pub mod turns;

use crate::domain::class::{ClassFactEvent, ClassFacts, Package, Refund};
use crate::domain::commit::{CommitGroup, LateWrite, NewEvent, UserMark, Zones};
use crate::domain::correction::Recorded;
use crate::domain::deduction::{Balance, Settled};
use crate::domain::event::EventKey;
use crate::domain::ids::{AccountId, AppId, ClassId, Name};
use crate::domain::registration::RegistrationRequest;
use crate::domain::statement::{Month, StatementBody};
use crate::domain::storage::{Measurement, Readings};
use crate::domain::time::{Day, Hour, UtcMillis};
use crate::domain::usage::ModeUsage;
use crate::domain::zone::BillingZone;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::future::Future;

/// One details row as stored: the services' reads return it, the domain
/// assembles the answered rows from it.
pub use crate::domain::details::RowRecord;
pub use access_keys::{AccessKeyRecord, AccessKeyStatus, AccessKeyStore, StoredAccessKey};
pub use alerts::{AlertStore, AlertWatch, ExpiryEntry, RaiseOutcome};
pub use turns::{Ticket, TurnStore};

pub use records::{
    AvHour, CommitOutcome, DayRecord, DaySnapshot, HourRecord, LedgerInputs, PendingDay,
    PendingPage, RegisterOutcome, Registration, Seen, SetOnceOutcome, StoreError, StoreResult,
    WriteDayOutcome,
};

/// Everything the three functions need from storage. Reads used for answers
/// are strongly consistent: an acknowledged event shows in the next query.
/// Every store also keeps the busy apps' lines of writers ([`TurnStore`]).
pub trait UsageStore: TurnStore + Send + Sync {
    /// The most actions one [`UsageStore::commit`] can hold: the store's
    /// transaction limit, which the commit planner packs groups up to.
    const MAX_COMMIT_ACTIONS: usize;

    fn registration(
        &self,
        app: &AppId,
    ) -> impl Future<Output = StoreResult<Option<Registration>>> + Send;

    fn owner_of(&self, app: &AppId) -> impl Future<Output = StoreResult<Option<AccountId>>> + Send {
        async move { Ok(self.registration(app).await?.map(|r| r.owner)) }
    }

    /// Takes a registration as `registration::decide` says: the first fixes
    /// the owner and zone (the request's, else `default_zone`) without
    /// opening the app; later ones only name an unnamed app.
    fn register_app(
        &self,
        app: &AppId,
        request: &RegistrationRequest,
        default_zone: &BillingZone,
    ) -> impl Future<Output = StoreResult<RegisterOutcome>> + Send;

    /// Opens an app whose registration was accepted: from now on answers
    /// show it. Call once its parked usage is counted. Repeating it is a
    /// no-op.
    fn open_app(&self, app: &AppId) -> impl Future<Output = StoreResult<()>> + Send;

    /// Registers and opens an app in UTC with nothing parked: for tests and
    /// tools that set an owner up directly.
    fn register(
        &self,
        app: &AppId,
        owner: &AccountId,
    ) -> impl Future<Output = StoreResult<RegisterOutcome>> + Send {
        self.register_named(app, owner, None)
    }

    /// [`UsageStore::register`] with a name.
    fn register_named(
        &self,
        app: &AppId,
        owner: &AccountId,
        name: Option<&Name>,
    ) -> impl Future<Output = StoreResult<RegisterOutcome>> + Send {
        async move {
            let request = RegistrationRequest {
                owner: owner.clone(),
                name: name.cloned(),
                zone: None,
            };
            let outcome = self
                .register_app(app, &request, &BillingZone::utc())
                .await?;
            if matches!(outcome, RegisterOutcome::Accepted { .. }) {
                self.open_app(app).await?;
            }
            Ok(outcome)
        }
    }

    /// The zones of these apps that have one fixed (apps without are not
    /// registered yet). A zone never changes once fixed, so an adapter may
    /// remember it.
    fn zones(&self, apps: &[AppId]) -> impl Future<Output = StoreResult<Zones>> + Send;

    /// The usage of the app parked while its zone was not fixed.
    fn parked(&self, app: &AppId) -> impl Future<Output = StoreResult<Vec<NewEvent>>> + Send;

    /// The apps registered to `owner`, in app id order. Read from an index
    /// by owner: other accounts' apps are never read.
    fn apps_of(
        &self,
        owner: &AccountId,
    ) -> impl Future<Output = StoreResult<Vec<(AppId, Registration)>>> + Send;

    /// Hours `first..=last` of the app that have usage, ascending.
    fn hours(
        &self,
        app: &AppId,
        first: Hour,
        last: Hour,
    ) -> impl Future<Output = StoreResult<Vec<HourRecord>>> + Send;

    /// Day records `first..=last` of the app, ascending.
    fn days(
        &self,
        app: &AppId,
        first: Day,
        last: Day,
    ) -> impl Future<Output = StoreResult<Vec<DayRecord>>> + Send;

    /// Which of these events have been counted and which user marks exist.
    /// May miss very recent ones (it is a cost saver; `commit`'s conditions
    /// are what guarantee exactly once).
    fn seen(
        &self,
        keys: &[EventKey],
        users: &[UserMark],
    ) -> impl Future<Output = StoreResult<Seen>> + Send;

    /// What each of these keys holds (absent: nothing), read strongly
    /// consistent: a void decides by it, under conditions that cancel its
    /// commit if a record changed since.
    fn records(
        &self,
        keys: &[EventKey],
    ) -> impl Future<Output = StoreResult<HashMap<EventKey, Recorded>>> + Send;

    /// Which of these events have been counted (see [`UsageStore::seen`]).
    fn counted(
        &self,
        keys: &[EventKey],
    ) -> impl Future<Output = StoreResult<HashSet<EventKey>>> + Send {
        async move { Ok(self.seen(keys, &[]).await?.events) }
    }

    /// Sets a class fact once: the same value again changes nothing; a
    /// different value, or an end not after the start, is a conflict.
    fn apply_class_fact(
        &self,
        fact: &ClassFactEvent,
    ) -> impl Future<Output = StoreResult<SetOnceOutcome>> + Send;

    /// Stores a package once: the same purchase again changes nothing; other
    /// data under the same package id is a conflict.
    fn put_package(
        &self,
        package: &Package,
    ) -> impl Future<Output = StoreResult<SetOnceOutcome>> + Send;

    /// Marks a package refunded at `at` (a refund again keeps the first
    /// instant), even before its purchase is stored: the purchase, when it
    /// comes, keeps the mark. The deduction is marked changed.
    fn refund_package(
        &self,
        refund: &Refund,
        at: UtcMillis,
    ) -> impl Future<Output = StoreResult<()>> + Send;

    /// The app's packages, in package id order.
    fn packages(&self, app: &AppId) -> impl Future<Output = StoreResult<Vec<Package>>> + Send;

    /// The balances prepared for `from` and later days, the packages and the
    /// deduction state, read at once (strongly consistent).
    fn ledger_inputs(
        &self,
        app: &AppId,
        from: Day,
    ) -> impl Future<Output = StoreResult<LedgerInputs>> + Send;

    /// The balance prepared for one day, if any.
    fn balance(
        &self,
        app: &AppId,
        day: Day,
    ) -> impl Future<Output = StoreResult<Option<Balance>>> + Send;

    /// Stores prepared balances, each unless a balance prepared at a later
    /// change counter is there: `false` if one was (a newer run has written;
    /// this one is stale and must stop).
    fn write_balances(
        &self,
        app: &AppId,
        balances: &[Balance],
    ) -> impl Future<Output = StoreResult<bool>> + Send;

    /// Records that balances were prepared as `settled` says and forgets the
    /// changed days `seen`, only if the app's change counter is still
    /// `settled.seq`; clears the app's rollup mark when nothing is left.
    fn settle(
        &self,
        app: &AppId,
        settled: Settled,
        seen: &BTreeSet<Day>,
    ) -> impl Future<Output = StoreResult<WriteDayOutcome>> + Send;

    /// Apps whose deduction inputs changed since they were last settled, a
    /// page at a time.
    fn pending_apps(
        &self,
        cursor: Option<String>,
    ) -> impl Future<Output = StoreResult<(Vec<AppId>, Option<String>)>> + Send;

    /// What is known of these classes of the app (absent: nothing yet).
    fn class_facts(
        &self,
        app: &AppId,
        classes: &[ClassId],
    ) -> impl Future<Output = StoreResult<BTreeMap<ClassId, ClassFacts>>> + Send;

    /// Audio/video usage of the hours `first..=last` that have any, ascending.
    fn av_hours(
        &self,
        app: &AppId,
        first: Hour,
        last: Hour,
    ) -> impl Future<Output = StoreResult<Vec<AvHour>>> + Send;

    /// Recording milliseconds per (local day, class) of the days
    /// `first..=last`, for segments that named their class; ascending.
    fn class_recordings(
        &self,
        app: &AppId,
        first: Day,
        last: Day,
    ) -> impl Future<Output = StoreResult<Vec<(Day, ClassId, u64)>>> + Send;

    /// Details rows of the days `first..=last`, in key order: by day, then
    /// class id, then usage type.
    fn av_rows(
        &self,
        app: &AppId,
        first: Day,
        last: Day,
    ) -> impl Future<Output = StoreResult<Vec<RowRecord>>> + Send;

    /// Writes the whole group atomically, or nothing.
    fn commit(
        &self,
        group: &CommitGroup,
    ) -> impl Future<Output = StoreResult<CommitOutcome>> + Send;

    /// Days marked for the rollup, a page at a time.
    fn pending_days(
        &self,
        cursor: Option<String>,
    ) -> impl Future<Output = StoreResult<PendingPage>> + Send;

    /// Apps with a day record on this day (for backfills over every app).
    fn apps_with_usage(&self, day: Day) -> impl Future<Output = StoreResult<Vec<AppId>>> + Send;

    fn day_snapshot(
        &self,
        app: &AppId,
        day: Day,
    ) -> impl Future<Output = StoreResult<DaySnapshot>> + Send;

    /// Stores the day's totals as rolled at change counter `seq` and clears its
    /// rollup mark, only if the day is still at `seq`.
    fn write_day(
        &self,
        app: &AppId,
        day: Day,
        totals: &ModeUsage,
        seq: u64,
    ) -> impl Future<Output = StoreResult<WriteDayOutcome>> + Send;

    /// Stores storage measurements. Idempotent: a measurement stored again,
    /// or another with the same app, instant and bytes, changes nothing, so
    /// a failed or repeated call may simply be made again.
    fn put_measurements(
        &self,
        measurements: &[Measurement],
    ) -> impl Future<Output = StoreResult<()>> + Send;

    /// The app's usage that was late for a closed statement, acknowledged
    /// at `since` or after, in acknowledgement order (strongly consistent).
    fn late_usage(
        &self,
        app: &AppId,
        since: UtcMillis,
    ) -> impl Future<Output = StoreResult<Vec<LateWrite>>> + Send;

    /// A closed statement as it was first prepared, if it was.
    fn statement(
        &self,
        app: &AppId,
        month: Month,
    ) -> impl Future<Output = StoreResult<Option<StatementBody>>> + Send;

    /// Keeps a closed statement, unless one is kept already: a statement,
    /// once closed, never changes.
    fn put_statement(
        &self,
        app: &AppId,
        body: &StatementBody,
    ) -> impl Future<Output = StoreResult<()>> + Send;

    /// The app's storage readings for a trend over `[from, to)`: the latest
    /// reading in `[since, from)` (of that instant's, the largest), and every
    /// reading in `[from, to)` ascending by instant, then bytes. Strongly
    /// consistent.
    fn measurements(
        &self,
        app: &AppId,
        since: UtcMillis,
        from: UtcMillis,
        to: UtcMillis,
    ) -> impl Future<Output = StoreResult<Readings>> + Send;
}

/// Writes the methods of [`UsageStore`] named in the list as plain calls to
/// the same method of `self.$inner`: for test wrappers that change a few
/// methods and pass the rest through.
#[cfg(any(test, feature = "testkit"))]
#[macro_export]
macro_rules! forward_store_methods {
    ($inner:ident; $($method:ident),* $(,)?) => {
        $( $crate::forward_store_methods!(@one $inner $method); )*
    };
    (@one $inner:ident registration) => {
        async fn registration(&self, app: &$crate::domain::ids::AppId)
            -> $crate::store::StoreResult<Option<$crate::store::Registration>> {
            self.$inner.registration(app).await
        }
    };
    (@one $inner:ident register_app) => {
        async fn register_app(&self, app: &$crate::domain::ids::AppId,
            request: &$crate::domain::registration::RegistrationRequest,
            default_zone: &$crate::domain::zone::BillingZone)
            -> $crate::store::StoreResult<$crate::store::RegisterOutcome> {
            self.$inner.register_app(app, request, default_zone).await
        }
    };
    (@one $inner:ident open_app) => {
        async fn open_app(&self, app: &$crate::domain::ids::AppId)
            -> $crate::store::StoreResult<()> {
            self.$inner.open_app(app).await
        }
    };
    (@one $inner:ident zones) => {
        async fn zones(&self, apps: &[$crate::domain::ids::AppId])
            -> $crate::store::StoreResult<$crate::domain::commit::Zones> {
            self.$inner.zones(apps).await
        }
    };
    (@one $inner:ident parked) => {
        async fn parked(&self, app: &$crate::domain::ids::AppId)
            -> $crate::store::StoreResult<Vec<$crate::domain::commit::NewEvent>> {
            self.$inner.parked(app).await
        }
    };
    (@one $inner:ident apps_of) => {
        async fn apps_of(&self, owner: &$crate::domain::ids::AccountId)
            -> $crate::store::StoreResult<Vec<($crate::domain::ids::AppId,
                $crate::store::Registration)>> {
            self.$inner.apps_of(owner).await
        }
    };
    (@one $inner:ident ledger_inputs) => {
        async fn ledger_inputs(&self, app: &$crate::domain::ids::AppId,
            from: $crate::domain::time::Day)
            -> $crate::store::StoreResult<$crate::store::LedgerInputs> {
            self.$inner.ledger_inputs(app, from).await
        }
    };
    (@one $inner:ident balance) => {
        async fn balance(&self, app: &$crate::domain::ids::AppId, day: $crate::domain::time::Day)
            -> $crate::store::StoreResult<Option<$crate::domain::deduction::Balance>> {
            self.$inner.balance(app, day).await
        }
    };
    (@one $inner:ident write_balances) => {
        async fn write_balances(&self, app: &$crate::domain::ids::AppId,
            balances: &[$crate::domain::deduction::Balance])
            -> $crate::store::StoreResult<bool> {
            self.$inner.write_balances(app, balances).await
        }
    };
    (@one $inner:ident settle) => {
        async fn settle(&self, app: &$crate::domain::ids::AppId,
            settled: $crate::domain::deduction::Settled,
            seen: &std::collections::BTreeSet<$crate::domain::time::Day>)
            -> $crate::store::StoreResult<$crate::store::WriteDayOutcome> {
            self.$inner.settle(app, settled, seen).await
        }
    };
    (@one $inner:ident pending_apps) => {
        async fn pending_apps(&self, cursor: Option<String>)
            -> $crate::store::StoreResult<(Vec<$crate::domain::ids::AppId>, Option<String>)> {
            self.$inner.pending_apps(cursor).await
        }
    };
    (@one $inner:ident class_recordings) => {
        async fn class_recordings(&self, app: &$crate::domain::ids::AppId,
            first: $crate::domain::time::Day, last: $crate::domain::time::Day)
            -> $crate::store::StoreResult<Vec<($crate::domain::time::Day,
                $crate::domain::ids::ClassId, u64)>> {
            self.$inner.class_recordings(app, first, last).await
        }
    };
    (@one $inner:ident hours) => {
        async fn hours(&self, app: &$crate::domain::ids::AppId, first: $crate::domain::time::Hour,
            last: $crate::domain::time::Hour)
            -> $crate::store::StoreResult<Vec<$crate::store::HourRecord>> {
            self.$inner.hours(app, first, last).await
        }
    };
    (@one $inner:ident days) => {
        async fn days(&self, app: &$crate::domain::ids::AppId, first: $crate::domain::time::Day,
            last: $crate::domain::time::Day)
            -> $crate::store::StoreResult<Vec<$crate::store::DayRecord>> {
            self.$inner.days(app, first, last).await
        }
    };
    (@one $inner:ident seen) => {
        async fn seen(&self, keys: &[$crate::domain::event::EventKey],
            users: &[$crate::domain::commit::UserMark])
            -> $crate::store::StoreResult<$crate::store::Seen> {
            self.$inner.seen(keys, users).await
        }
    };
    (@one $inner:ident records) => {
        async fn records(&self, keys: &[$crate::domain::event::EventKey])
            -> $crate::store::StoreResult<std::collections::HashMap<
                $crate::domain::event::EventKey, $crate::domain::correction::Recorded>> {
            self.$inner.records(keys).await
        }
    };
    (@one $inner:ident commit) => {
        async fn commit(&self, group: &$crate::domain::commit::CommitGroup)
            -> $crate::store::StoreResult<$crate::store::CommitOutcome> {
            self.$inner.commit(group).await
        }
    };
    (@one $inner:ident apply_class_fact) => {
        async fn apply_class_fact(&self, fact: &$crate::domain::class::ClassFactEvent)
            -> $crate::store::StoreResult<$crate::store::SetOnceOutcome> {
            self.$inner.apply_class_fact(fact).await
        }
    };
    (@one $inner:ident refund_package) => {
        async fn refund_package(&self, refund: &$crate::domain::class::Refund,
            at: $crate::domain::time::UtcMillis) -> $crate::store::StoreResult<()> {
            self.$inner.refund_package(refund, at).await
        }
    };
    (@one $inner:ident put_package) => {
        async fn put_package(&self, package: &$crate::domain::class::Package)
            -> $crate::store::StoreResult<$crate::store::SetOnceOutcome> {
            self.$inner.put_package(package).await
        }
    };
    (@one $inner:ident packages) => {
        async fn packages(&self, app: &$crate::domain::ids::AppId)
            -> $crate::store::StoreResult<Vec<$crate::domain::class::Package>> {
            self.$inner.packages(app).await
        }
    };
    (@one $inner:ident class_facts) => {
        async fn class_facts(&self, app: &$crate::domain::ids::AppId,
            classes: &[$crate::domain::ids::ClassId])
            -> $crate::store::StoreResult<std::collections::BTreeMap<
                $crate::domain::ids::ClassId, $crate::domain::class::ClassFacts>> {
            self.$inner.class_facts(app, classes).await
        }
    };
    (@one $inner:ident av_hours) => {
        async fn av_hours(&self, app: &$crate::domain::ids::AppId,
            first: $crate::domain::time::Hour, last: $crate::domain::time::Hour)
            -> $crate::store::StoreResult<Vec<$crate::store::AvHour>> {
            self.$inner.av_hours(app, first, last).await
        }
    };
    (@one $inner:ident av_rows) => {
        async fn av_rows(&self, app: &$crate::domain::ids::AppId,
            first: $crate::domain::time::Day, last: $crate::domain::time::Day)
            -> $crate::store::StoreResult<Vec<$crate::store::RowRecord>> {
            self.$inner.av_rows(app, first, last).await
        }
    };
    (@one $inner:ident pending_days) => {
        async fn pending_days(&self, cursor: Option<String>)
            -> $crate::store::StoreResult<$crate::store::PendingPage> {
            self.$inner.pending_days(cursor).await
        }
    };
    (@one $inner:ident apps_with_usage) => {
        async fn apps_with_usage(&self, day: $crate::domain::time::Day)
            -> $crate::store::StoreResult<Vec<$crate::domain::ids::AppId>> {
            self.$inner.apps_with_usage(day).await
        }
    };
    (@one $inner:ident day_snapshot) => {
        async fn day_snapshot(&self, app: &$crate::domain::ids::AppId,
            day: $crate::domain::time::Day)
            -> $crate::store::StoreResult<$crate::store::DaySnapshot> {
            self.$inner.day_snapshot(app, day).await
        }
    };
    (@one $inner:ident write_day) => {
        async fn write_day(&self, app: &$crate::domain::ids::AppId,
            day: $crate::domain::time::Day, totals: &$crate::domain::usage::ModeUsage, seq: u64)
            -> $crate::store::StoreResult<$crate::store::WriteDayOutcome> {
            self.$inner.write_day(app, day, totals, seq).await
        }
    };
    (@one $inner:ident late_usage) => {
        async fn late_usage(&self, app: &$crate::domain::ids::AppId,
            since: $crate::domain::time::UtcMillis)
            -> $crate::store::StoreResult<Vec<$crate::domain::commit::LateWrite>> {
            self.$inner.late_usage(app, since).await
        }
    };
    (@one $inner:ident statement) => {
        async fn statement(&self, app: &$crate::domain::ids::AppId,
            month: $crate::domain::statement::Month)
            -> $crate::store::StoreResult<Option<$crate::domain::statement::StatementBody>> {
            self.$inner.statement(app, month).await
        }
    };
    (@one $inner:ident put_statement) => {
        async fn put_statement(&self, app: &$crate::domain::ids::AppId,
            body: &$crate::domain::statement::StatementBody)
            -> $crate::store::StoreResult<()> {
            self.$inner.put_statement(app, body).await
        }
    };
    (@one $inner:ident put_measurements) => {
        async fn put_measurements(&self,
            measurements: &[$crate::domain::storage::Measurement])
            -> $crate::store::StoreResult<()> {
            self.$inner.put_measurements(measurements).await
        }
    };
    (@one $inner:ident measurements) => {
        async fn measurements(&self, app: &$crate::domain::ids::AppId,
            since: $crate::domain::time::UtcMillis, from: $crate::domain::time::UtcMillis,
            to: $crate::domain::time::UtcMillis)
            -> $crate::store::StoreResult<$crate::domain::storage::Readings> {
            self.$inner.measurements(app, since, from, to).await
        }
    };
}
