//! The storage port: what the services need from a store, in domain types.
//! `dynamo` is the production adapter; `memory` a fast in-process stand-in
//! for unit tests; `faulty` wraps either to inject failures. The last two are
//! test support: built for tests and with the `testkit` feature only.

pub mod dynamo;
#[cfg(any(test, feature = "testkit"))]
pub mod faulty;
#[cfg(any(test, feature = "testkit"))]
pub mod memory;

use crate::domain::commit::CommitGroup;
use crate::domain::event::EventKey;
use crate::domain::ids::{AccountId, AppId};
use crate::domain::time::{Day, Hour};
use crate::domain::usage::ModeUsage;
use std::collections::HashSet;
use std::future::Future;

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    #[error("throttled: {0}")]
    Throttled(String),
    #[error("transaction conflict: {0}")]
    Conflict(String),
    /// The request may or may not have taken effect (a timeout, a lost reply).
    #[error("outcome unknown: {0}")]
    Ambiguous(String),
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    #[error("unexpected stored data: {0}")]
    Corrupt(String),
    /// A request this adapter built was malformed (refused by the SDK's
    /// builders, or by DynamoDB as invalid): a defect in the code, not a
    /// storage condition. Retrying cannot help; report it and stop.
    #[error("malformed storage request (a defect): {0}")]
    Bug(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RegisterOutcome {
    Registered,
    /// The same registration was there already.
    Unchanged,
    /// The app is registered to another account; nothing was written.
    OwnedByAnother,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CommitOutcome {
    Committed,
    /// Nothing was written: these events of the group were counted before.
    AlreadyCounted(Vec<EventKey>),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HourRecord {
    pub hour: Hour,
    pub usage: ModeUsage,
}

/// A day's record: the rolled totals, and the change counter ingestion bumps
/// with every commit that touches the day. The totals are exact when
/// `rolled_seq == Some(seq)`; otherwise the day's hours are the truth.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DayRecord {
    pub day: Day,
    pub rolled: ModeUsage,
    pub seq: u64,
    pub rolled_seq: Option<u64>,
}

impl DayRecord {
    pub fn is_rolled(&self) -> bool {
        self.rolled_seq == Some(self.seq)
    }
}

/// A consistent snapshot of one day: its record (if any) and its hours.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DaySnapshot {
    pub record: Option<DayRecord>,
    pub hours: Vec<HourRecord>,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PendingDay {
    pub app: AppId,
    pub day: Day,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PendingPage {
    pub days: Vec<PendingDay>,
    /// Where the next page starts; `None` when this was the last.
    pub next: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteDayOutcome {
    Written,
    /// The day changed since its snapshot; nothing was written.
    Changed,
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Everything the three functions need from storage. Reads used for answers
/// are strongly consistent: an acknowledged event shows in the next query.
pub trait UsageStore: Send + Sync {
    /// The most actions one [`UsageStore::commit`] can hold: the store's
    /// transaction limit, which the commit planner packs groups up to.
    const MAX_COMMIT_ACTIONS: usize;

    fn owner_of(&self, app: &AppId) -> impl Future<Output = StoreResult<Option<AccountId>>> + Send;

    fn register(
        &self,
        app: &AppId,
        owner: &AccountId,
    ) -> impl Future<Output = StoreResult<RegisterOutcome>> + Send;

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

    /// Which of these events have been counted. May miss a very recent one
    /// (it is a cost saver; `commit` is what guarantees exactly once).
    fn counted(
        &self,
        keys: &[EventKey],
    ) -> impl Future<Output = StoreResult<HashSet<EventKey>>> + Send;

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
}
