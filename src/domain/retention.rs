//! How long each kind of record must live, from the contract's windows:
//! queries reach back 366 days, late events are accepted for 366 days.
//! Storage expires records by TTL at these instants; nothing here reads a clock.

use super::time::{DAY_MS, Day, Hour, UtcMillis};

/// A redelivery arriving after this instant is refused by the 366-day
/// lateness rule before the dedupe record is consulted, so the record is no
/// longer needed; one day of margin on top.
pub fn dedupe_expiry(segment_start: UtcMillis) -> UtcMillis {
    segment_start.plus_ms(367 * DAY_MS)
}

/// An hour is needed by hourly queries (366 days back) and by the rollup of a
/// late event's day (366 days back, rolled up to a day later); three days of
/// margin on top.
pub fn hourly_expiry(hour: Hour) -> UtcMillis {
    hour.start().plus_ms(369 * DAY_MS)
}

/// A user mark of a day's row is needed while sessions touching that day can
/// still arrive: their start is at most 366 days old and before the day ends,
/// so a day's marks are needed until its end + 366 days; one day of margin.
pub fn user_mark_expiry(day: Day) -> UtcMillis {
    day.start().plus_ms(368 * DAY_MS)
}

/// A storage measurement is read by trends whose first bucket starts at most
/// 367 days before now (366 days of query reach, and the day bucket holding
/// the window's start), both inside a bucket and as the amount carried into
/// buckets up to 366 days after it (`storage::MAX_CARRY_MS`). So it is
/// needed until its instant + 733 days; one day of margin. No read looks
/// further back, so a measurement past this instant that TTL has not deleted
/// yet (DynamoDB deletes expired items within days, not at once) changes no
/// answer.
pub fn measurement_expiry(measured_at: UtcMillis) -> UtcMillis {
    measured_at.plus_ms(734 * DAY_MS)
}
