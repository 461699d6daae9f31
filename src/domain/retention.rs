//! How long each kind of record must live, from the contract's windows:
//! queries reach back 366 days, late events are accepted for 366 days (both
//! the reach, [`REACH_MS`]), a signed request's timestamp may be 15 minutes
//! off. Each lifetime is the last instant a record can still be needed plus
//! a margin, so a change of the reach moves every lifetime with it.
//! Storage expires records by TTL at these instants; nothing here reads a clock.

use super::signature::SIGNATURE_WINDOW_MS;
use super::storage::MAX_CARRY_MS;
use super::time::{DAY_MS, Day, Hour, MINUTE_MS, REACH_MS, SECOND_MS, UtcMillis};

/// Margin on a dedupe record's lifetime.
const DEDUPE_MARGIN_MS: i64 = DAY_MS;
/// Margin on an hour's lifetime.
const HOURLY_MARGIN_MS: i64 = 3 * DAY_MS;
/// Margin on a user mark's lifetime.
const USER_MARK_MARGIN_MS: i64 = DAY_MS;
/// Margin on a storage measurement's lifetime.
const MEASUREMENT_MARGIN_MS: i64 = DAY_MS;

/// A redelivery arriving after this instant is refused by the lateness rule
/// (a start more than the reach, 366 days, ago) before the dedupe record is
/// consulted, so the record is no longer needed; one day of margin on top.
pub fn dedupe_expiry(segment_start: UtcMillis) -> UtcMillis {
    segment_start.plus_ms(REACH_MS + DEDUPE_MARGIN_MS)
}

/// A void's records (its own, and the one it keeps for an event that has
/// not arrived) outlive every event they could apply to: an event arriving
/// later starts after now − 366 days, and its own record lives as long.
pub fn void_expiry(now: UtcMillis) -> UtcMillis {
    now.plus_ms(REACH_MS + DEDUPE_MARGIN_MS)
}

/// An hour is needed by hourly queries (the reach, 366 days back) and by the
/// rollup of a late event's day (366 days back, rolled up to a day later);
/// three days of margin on top of the reach.
pub fn hourly_expiry(hour: Hour) -> UtcMillis {
    hour.start().plus_ms(REACH_MS + HOURLY_MARGIN_MS)
}

/// A user mark of a day's row is needed while sessions touching that day can
/// still arrive: their start is at most the reach (366 days) old and before
/// the day ends, so a day's marks are needed until its end + the reach; one
/// day of margin.
pub fn user_mark_expiry(day: Day) -> UtcMillis {
    day.next().start().plus_ms(REACH_MS + USER_MARK_MARGIN_MS)
}

/// A storage measurement is read by trends whose first bucket starts at most
/// the reach and a day before now (366 days of query reach, and the day
/// bucket holding the window's start), both inside a bucket and as the
/// amount carried into buckets up to [`MAX_CARRY_MS`] (the reach too) after
/// it. So it is needed until its instant + 733 days; one day of margin. No
/// read looks further back, so a measurement past this instant that TTL has
/// not deleted yet (DynamoDB deletes expired items within days, not at once)
/// changes no answer.
pub fn measurement_expiry(measured_at: UtcMillis) -> UtcMillis {
    let oldest_bucket_ms = REACH_MS + DAY_MS;
    measured_at.plus_ms(oldest_bucket_ms + MAX_CARRY_MS + MEASUREMENT_MARGIN_MS)
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
    use crate::domain::event::MAX_LATENESS_MS;
    use crate::domain::query::MAX_LOOKBACK_MS;
    use crate::domain::time::REACH_DAYS;

    /// An instant inside an hour and a day, none of them at an edge.
    fn at() -> UtcMillis {
        UtcMillis(1_795_428_123_456)
    }

    #[test]
    fn each_lifetime_is_the_reach_plus_its_margin() {
        // The windows the lifetimes follow are all the reach.
        assert_eq!(MAX_LOOKBACK_MS, REACH_MS);
        assert_eq!(MAX_LATENESS_MS, REACH_MS);
        assert_eq!(MAX_CARRY_MS, REACH_MS);
        let (at, hour, day) = (at(), at().hour(), at().day());
        // Refused as too late after the reach; a day of margin.
        assert_eq!(dedupe_expiry(at), at.plus_ms(REACH_MS + DAY_MS));
        // Queried and rolled up within the reach; three days of margin.
        assert_eq!(
            hourly_expiry(hour),
            hour.start().plus_ms(REACH_MS + 3 * DAY_MS)
        );
        // The day's end, then the reach; a day of margin.
        assert_eq!(
            user_mark_expiry(day),
            day.start().plus_ms(DAY_MS + REACH_MS + DAY_MS)
        );
        // The reach and the day bucket holding a window's start, the reach
        // of the carry; a day of margin.
        assert_eq!(
            measurement_expiry(at),
            at.plus_ms(REACH_MS + DAY_MS + REACH_MS + DAY_MS)
        );
    }

    #[test]
    fn lifetimes_in_days_change_only_with_a_reviewed_change_of_the_reach() {
        assert_eq!(REACH_DAYS, 366);
        let (at, hour, day) = (at(), at().hour(), at().day());
        assert_eq!(dedupe_expiry(at), at.plus_ms(367 * 86_400_000));
        assert_eq!(hourly_expiry(hour), hour.start().plus_ms(369 * 86_400_000));
        assert_eq!(user_mark_expiry(day), day.start().plus_ms(368 * 86_400_000));
        assert_eq!(measurement_expiry(at), at.plus_ms(734 * 86_400_000));
    }

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
