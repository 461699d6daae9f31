//! The alerts' publishing port (CONTRACT §12): putting alert events on the
//! deployment's EventBridge bus. `eventbridge` is the production adapter;
//! `memory` a recording stand-in with injectable failures, test support
//! only (the `testkit` feature).
//!
//! The port only carries events: which alert to publish, when to try
//! again and what stays pending is the alerts service's.

pub mod eventbridge;
#[cfg(any(test, feature = "testkit"))]
pub mod memory;

use std::future::Future;

/// The most entries one `PutEvents` request takes.
pub const MAX_ENTRIES_PER_PUT: usize = 10;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BusError {
    /// The request failed as a whole (throttled past the SDK's retries, a
    /// timeout, the service unavailable): nothing is known to be on the
    /// bus. Publish again later.
    #[error("the event bus did not take the request: {0}")]
    Unavailable(String),
    /// This function built a request the bus refuses: a defect.
    #[error("the event bus refused the request: {0}")]
    Refused(String),
}

/// One event for the bus: its `Detail` JSON (its source and detail type
/// are the contract's for every alert).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BusEvent {
    pub detail: String,
}

pub trait AlertBus: Send + Sync {
    /// Puts at most [`MAX_ENTRIES_PER_PUT`] events on the bus; for each, in
    /// order, whether the bus took it (an entry can fail alone, as with
    /// `FailedEntryCount` > 0).
    fn put(&self, events: &[BusEvent]) -> impl Future<Output = Result<Vec<bool>, BusError>> + Send;
}
