//! The alerts' storage port (CONTRACT §12): which alerts were raised (each
//! once, ever), which are still to be published, and the watch that tells
//! ingestion whether an app's deduction needs deciding at all. A port of its
//! own, so [`super::UsageStore`] does not grow with it; both stores
//! implement both.
//!
//! The watch lives on the app's deduction state, which every commit that
//! adds audio/video rows already updates: the commit adds an upper bound of
//! its billable minutes to `spent` in the same write, so the ordinary
//! event's check is one strongly consistent read of that item and no write.

use super::StoreResult;
use crate::domain::alert::{Alert, AlertKey};
use crate::domain::ids::{AppId, PackageId};
use crate::domain::time::Day;
use std::collections::{BTreeSet, HashMap};
use std::future::Future;

/// What ingestion reads of an app before deciding its alerts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AlertWatch {
    /// Upper bounds of the billable minutes every commit added, summed.
    pub spent: u64,
    /// Decide again once `spent` reaches this; `None`: never decided (or
    /// the decision was lost), decide now.
    pub limit: Option<u64>,
    /// Bumped by every purchase and refund: a limit is set only against
    /// the epoch it was computed under, so a decision that read the
    /// packages before one of them changed never stands.
    pub epoch: u64,
    /// Alerts decided and not yet known to be published.
    pub pending: BTreeSet<AlertKey>,
}

impl AlertWatch {
    /// Whether the deduction must be read and decided.
    pub fn is_due(&self) -> bool {
        self.limit.is_none_or(|limit| self.spent >= limit)
    }
}

/// The limit that means "no condition can come to hold by minutes alone".
pub const NEVER: u64 = u64::MAX;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RaiseOutcome {
    /// Decided here: stored, and pending until published.
    Raised,
    /// Another decision raised it first; it publishes it.
    AlreadyRaised,
}

/// A package whose `PackageExpiring` may come due: kept from its purchase
/// until it is raised or can no longer be.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ExpiryEntry {
    pub valid_to: Day,
    pub app: AppId,
    pub package: PackageId,
}

pub trait AlertStore: Send + Sync {
    /// The watches of `apps`, strongly consistent (an app never seen has the
    /// default: due).
    fn alert_watches(
        &self,
        apps: &[AppId],
    ) -> impl Future<Output = StoreResult<HashMap<AppId, AlertWatch>>> + Send;

    /// Every alert the app has raised, in any order.
    fn raised_alerts(&self, app: &AppId) -> impl Future<Output = StoreResult<Vec<Alert>>> + Send;

    /// The app's newest alerts first, at most `limit`.
    fn recent_alerts(
        &self,
        app: &AppId,
        limit: usize,
    ) -> impl Future<Output = StoreResult<Vec<Alert>>> + Send;

    /// Stores `alert` unless its (app, kind, package) was raised before, and
    /// marks it pending on the app's watch and in the deployment's list of
    /// alerts to publish — all at once, or none of it.
    fn raise_alert(&self, alert: &Alert) -> impl Future<Output = StoreResult<RaiseOutcome>> + Send;

    /// Sets the app's limit, unless a purchase or refund changed the epoch
    /// since `epoch` was read. Whether it was set.
    fn set_alert_limit(
        &self,
        app: &AppId,
        epoch: u64,
        limit: u64,
    ) -> impl Future<Output = StoreResult<bool>> + Send;

    /// The alert was published: no longer pending anywhere.
    fn alert_published(&self, alert: &Alert) -> impl Future<Output = StoreResult<()>> + Send;

    /// Alerts of every app still to be published, a page at a time.
    fn unpublished_alerts(
        &self,
        cursor: Option<String>,
    ) -> impl Future<Output = StoreResult<(Vec<Alert>, Option<String>)>> + Send;

    /// Packages whose last day is `through` or earlier, still watched for
    /// `PackageExpiring`.
    fn expiring_packages(
        &self,
        through: Day,
    ) -> impl Future<Output = StoreResult<Vec<ExpiryEntry>>> + Send;

    /// Stops watching a package for `PackageExpiring`.
    fn forget_expiry(&self, entry: &ExpiryEntry) -> impl Future<Output = StoreResult<()>> + Send;
}

/// Writes every method of [`AlertStore`] as a plain call to the same method
/// of `self.$inner`: for test wrappers of the usage port, which change
/// none of the alerts'.
#[cfg(any(test, feature = "testkit"))]
#[macro_export]
macro_rules! forward_alert_store {
    ($inner:ident) => {
        async fn alert_watches(
            &self,
            apps: &[$crate::domain::ids::AppId],
        ) -> $crate::store::StoreResult<
            std::collections::HashMap<$crate::domain::ids::AppId, $crate::store::AlertWatch>,
        > {
            self.$inner.alert_watches(apps).await
        }
        async fn raised_alerts(
            &self,
            app: &$crate::domain::ids::AppId,
        ) -> $crate::store::StoreResult<Vec<$crate::domain::alert::Alert>> {
            self.$inner.raised_alerts(app).await
        }
        async fn recent_alerts(
            &self,
            app: &$crate::domain::ids::AppId,
            limit: usize,
        ) -> $crate::store::StoreResult<Vec<$crate::domain::alert::Alert>> {
            self.$inner.recent_alerts(app, limit).await
        }
        async fn raise_alert(
            &self,
            alert: &$crate::domain::alert::Alert,
        ) -> $crate::store::StoreResult<$crate::store::RaiseOutcome> {
            self.$inner.raise_alert(alert).await
        }
        async fn set_alert_limit(
            &self,
            app: &$crate::domain::ids::AppId,
            epoch: u64,
            limit: u64,
        ) -> $crate::store::StoreResult<bool> {
            self.$inner.set_alert_limit(app, epoch, limit).await
        }
        async fn alert_published(
            &self,
            alert: &$crate::domain::alert::Alert,
        ) -> $crate::store::StoreResult<()> {
            self.$inner.alert_published(alert).await
        }
        async fn unpublished_alerts(
            &self,
            cursor: Option<String>,
        ) -> $crate::store::StoreResult<(Vec<$crate::domain::alert::Alert>, Option<String>)> {
            self.$inner.unpublished_alerts(cursor).await
        }
        async fn expiring_packages(
            &self,
            through: $crate::domain::time::Day,
        ) -> $crate::store::StoreResult<Vec<$crate::store::ExpiryEntry>> {
            self.$inner.expiring_packages(through).await
        }
        async fn forget_expiry(
            &self,
            entry: &$crate::store::ExpiryEntry,
        ) -> $crate::store::StoreResult<()> {
            self.$inner.forget_expiry(entry).await
        }
    };
}
