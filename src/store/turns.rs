//! The writers' line of one busy app: a ticket lock that ingestion takes
//! before counting many events of one app, so that concurrent invocations
//! commit that app's transactions one after another instead of cancelling
//! each other (`TransactionConflict`) on its hour, rows and deduction
//! state. A port of its own, which every [`super::UsageStore`] also is.
//!
//! The line is advisory: exactly-once comes from the transactions and the
//! events' records alone. A writer that never passes its turn on (its
//! invocation timed out) only delays the ones behind it until they skip it;
//! two writers at once only cost conflicts, never a wrong count.

use super::StoreResult;
use crate::domain::ids::AppId;
use std::future::Future;

/// A ticket taken, and the ticket served when it was taken. Tickets are
/// numbered from 1 in the order they were taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ticket {
    pub number: u64,
    pub serving: u64,
}

pub trait TurnStore: Send + Sync {
    /// Takes the app's next ticket (one write, never refused).
    fn take_ticket(&self, app: &AppId) -> impl Future<Output = StoreResult<Ticket>> + Send;

    /// The ticket the app's line serves now, strongly consistent (1 while
    /// nobody ever took one).
    fn serving(&self, app: &AppId) -> impl Future<Output = StoreResult<u64>> + Send;

    /// Moves the line on from `from` to the ticket after it, unless it has
    /// moved already; whether this call moved it. Its holder passes a turn
    /// on when done; a waiter skips a turn nobody passes on.
    fn pass_turn(&self, app: &AppId, from: u64) -> impl Future<Output = StoreResult<bool>> + Send;
}

/// Writes every method of [`TurnStore`] as a plain call to the same method
/// of `self.$inner`: for test wrappers of the usage port.
#[cfg(any(test, feature = "testkit"))]
#[macro_export]
macro_rules! forward_turn_store {
    ($inner:ident) => {
        async fn take_ticket(
            &self,
            app: &$crate::domain::ids::AppId,
        ) -> $crate::store::StoreResult<$crate::store::Ticket> {
            self.$inner.take_ticket(app).await
        }
        async fn serving(
            &self,
            app: &$crate::domain::ids::AppId,
        ) -> $crate::store::StoreResult<u64> {
            self.$inner.serving(app).await
        }
        async fn pass_turn(
            &self,
            app: &$crate::domain::ids::AppId,
            from: u64,
        ) -> $crate::store::StoreResult<bool> {
            self.$inner.pass_turn(app, from).await
        }
    };
}
