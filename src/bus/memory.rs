//! A recording bus for tests: keeps every event it took, in order, and fails
//! as a script says — the whole request, single entries (as with
//! `FailedEntryCount` > 0), or after taking the events (a timeout whose
//! request landed: the caller cannot tell, and publishes again).

use super::{AlertBus, BusError, BusEvent};
use std::collections::VecDeque;
use std::sync::Mutex;

/// What the next `put` does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BusFault {
    /// Takes nothing; the request fails (throttled past the SDK's retries).
    Unavailable,
    /// Takes nothing; every entry comes back failed.
    EntriesFailed,
    /// Takes every event, then the request fails (a timeout after it landed).
    TakenThenTimeout,
}

#[derive(Default)]
pub struct RecordingBus {
    taken: Mutex<Vec<serde_json::Value>>,
    faults: Mutex<VecDeque<BusFault>>,
    calls: Mutex<usize>,
}

impl RecordingBus {
    pub fn new() -> Self {
        Self::default()
    }

    /// The next `put`s fail as `faults` say, in order; then they succeed.
    pub fn fail_next(&self, faults: impl IntoIterator<Item = BusFault>) {
        self.faults.lock().unwrap().extend(faults);
    }

    /// Every event's `Detail` the bus took, in order (repeats included).
    pub fn taken(&self) -> Vec<serde_json::Value> {
        self.taken.lock().unwrap().clone()
    }

    /// `put` requests made.
    pub fn calls(&self) -> usize {
        *self.calls.lock().unwrap()
    }
}

impl AlertBus for RecordingBus {
    async fn put(&self, events: &[BusEvent]) -> Result<Vec<bool>, BusError> {
        assert!(
            events.len() <= super::MAX_ENTRIES_PER_PUT,
            "PutEvents takes at most 10"
        );
        *self.calls.lock().unwrap() += 1;
        let fault = self.faults.lock().unwrap().pop_front();
        let take = || {
            let mut taken = self.taken.lock().unwrap();
            for event in events {
                taken.push(serde_json::from_str(&event.detail).expect("a detail is JSON"));
            }
        };
        match fault {
            None => {
                take();
                Ok(vec![true; events.len()])
            }
            Some(BusFault::Unavailable) => Err(BusError::Unavailable("injected".into())),
            Some(BusFault::EntriesFailed) => Ok(vec![false; events.len()]),
            Some(BusFault::TakenThenTimeout) => {
                take();
                Err(BusError::Unavailable(
                    "injected timeout after the events landed".into(),
                ))
            }
        }
    }
}
