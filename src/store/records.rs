//! What the storage port's operations take and give back, besides domain
//! types: the records reads return, the outcomes writes report, and what a
//! failed request means for the caller.

use crate::domain::class::Package;
use crate::domain::commit::{AvMillis, UserMark};
use crate::domain::deduction::{Balance, DeductionState};
use crate::domain::event::EventKey;
use crate::domain::ids::{AccountId, AppId, Name};
use crate::domain::time::{Day, Hour};
use crate::domain::usage::ModeUsage;
use crate::domain::zone::BillingZone;
use std::collections::{HashMap, HashSet};

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
    /// The app is the request's owner's, in `zone` (fixed now or before).
    /// `open`: its usage counted before the registration is in its zone's
    /// place and answers show the app; until then the registration is not
    /// done (see `UsageStore::open_app`).
    Accepted { zone: BillingZone, open: bool },
    /// The app is registered to another account; nothing was written.
    OwnedByAnother,
    /// The app's zone is this other one; nothing was written.
    OtherZone(BillingZone),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CommitOutcome {
    Committed,
    /// Nothing was written: these events of the group were counted before.
    AlreadyCounted(Vec<EventKey>),
    /// Nothing was written: these user marks no longer hold the count the
    /// plan read (another group or invocation changed them); read them
    /// again and plan anew.
    UsersSeen(Vec<UserMark>),
    /// Nothing was written: an event a void of the group names changed since
    /// it was read (it arrived, was voided by another void, or was counted
    /// out of its parked record); read it again and plan anew.
    VoidTargetChanged,
    /// Nothing was written: an app whose usage the group parked has had its
    /// zone fixed meanwhile; read the zones again and plan anew.
    ZoneFixed,
}

/// An app's registration as answers see it: its owner, its name once one
/// was given, and its billing time zone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Registration {
    pub owner: AccountId,
    pub name: Option<Name>,
    pub zone: BillingZone,
}

/// What a pre-check read found: which keys hold a record (an event
/// counted, a void, or a void kept for its event), of those the ones
/// holding a kept void with the app that kept it, and the live sessions of
/// each user mark present.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Seen {
    pub events: HashSet<EventKey>,
    pub kept: HashMap<EventKey, AppId>,
    pub users: HashMap<UserMark, u64>,
}

/// Whether a fact or a package was taken in, or refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SetOnceOutcome {
    /// Stored, or it was there already with the same value.
    Applied,
    /// Another value is stored; nothing was written.
    Conflict(String),
}

/// What the deduction needs at a day, read together: the balances prepared
/// for that day and later ones, the packages, and the deduction state.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LedgerInputs {
    /// Ascending by day.
    pub balances: Vec<Balance>,
    pub packages: Vec<Package>,
    pub state: DeductionState,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HourRecord {
    pub hour: Hour,
    pub usage: ModeUsage,
    /// Of `usage`, the part before the hour's cut in the app's zone (zero
    /// where no local hour starts inside the UTC hour).
    pub head: ModeUsage,
}

/// Audio/video usage of one UTC hour, as [`HourRecord`] for recording.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AvHour {
    pub hour: Hour,
    pub usage: AvMillis,
    pub head: AvMillis,
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
