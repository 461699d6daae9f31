//! How long each kind of record must live, from the contract's windows:
//! queries reach back 366 days, late events are accepted for 366 days, a
//! signed request's timestamp may be 15 minutes off.
//! Storage expires records by TTL at these instants; nothing here reads a clock.

use super::signature::SIGNATURE_WINDOW_MS;
use super::time::{DAY_MS, Day, Hour, MINUTE_MS, SECOND_MS, UtcMillis};

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

/// Margin on a nonce's lifetime: the window's edge is inclusive, storage
/// keeps expiry in whole seconds, and the clocks of function instances that
/// check the same nonce may differ.
const NONCE_MARGIN_MS: i64 = MINUTE_MS;

/// Until when a used nonce must be remembered (it is in use at every instant
/// before this one), for a request signed at `timestamp` whose signature was
/// verified at `now`, the timestamp inside the window
/// ([`SIGNATURE_WINDOW_MS`], 15 minutes either way, edges included). The
/// request itself, replayed as it is, passes the timestamp check through
/// `timestamp` + 15 min; and the contract refuses a nonce reused within
/// 15 minutes whatever timestamp the reuse carries, so also through `now` +
/// 15 min. The later of the two, and a minute of margin. A timestamp inside
/// the window is at most 15 minutes ahead, so this is at most 31 minutes
/// after `now`: a nonce item lives about half an hour (TTL deletes it later
/// still, lazily; the store treats an item past this instant as absent).
pub fn nonce_expiry(timestamp: UtcMillis, now: UtcMillis) -> UtcMillis {
    timestamp
        .max(now)
        .plus_ms(SIGNATURE_WINDOW_MS + NONCE_MARGIN_MS)
}

/// A per-second request counter is consulted only by requests in its own
/// second, so it lives two seconds past the last request it counted (each
/// counted request moves its expiry): past its second's end, with a second
/// more for instances whose clocks disagree at the edge. Nothing reads a
/// counter past its second, so TTL deleting it late changes nothing, and
/// deleting it early could at worst let that second start over.
pub fn rate_counter_expiry(counted_at: UtcMillis) -> UtcMillis {
    counted_at.plus_ms(2 * SECOND_MS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nonce_outlives_every_replay_the_timestamp_window_lets_through() {
        let now = UtcMillis(1_795_428_000_000);
        for offset in [-SIGNATURE_WINDOW_MS, -1, 0, 1, SIGNATURE_WINDOW_MS] {
            let timestamp = now.plus_ms(offset);
            let until = nonce_expiry(timestamp, now);
            // The last instant a replay passes the window check (inclusive).
            let last_replay = timestamp.plus_ms(SIGNATURE_WINDOW_MS);
            assert!(until > last_replay, "{offset}: replay at the edge");
            assert!(until > now.plus_ms(SIGNATURE_WINDOW_MS), "{offset}");
            assert!(until <= now.plus_ms(31 * MINUTE_MS), "{offset}: bounded");
        }
        assert_eq!(
            nonce_expiry(now.minus_ms(SIGNATURE_WINDOW_MS), now),
            now.plus_ms(16 * MINUTE_MS)
        );
        assert_eq!(
            nonce_expiry(now.plus_ms(SIGNATURE_WINDOW_MS), now),
            now.plus_ms(31 * MINUTE_MS)
        );
    }

    #[test]
    fn a_rate_counter_outlives_its_second() {
        let second_start = UtcMillis(1_795_428_000_000);
        for within in [0, 1, 999] {
            let counted_at = second_start.plus_ms(within);
            assert!(rate_counter_expiry(counted_at) >= second_start.plus_ms(2_000));
            assert!(rate_counter_expiry(counted_at) < second_start.plus_ms(3_000));
        }
    }
}
