//! Stored recording bytes: measurements of how much an app stores at an
//! instant, and the trend's peak per bucket computed from them.
//!
//! A measurement's amount holds from its instant until the next measurement
//! (0 before the first; of two at the same instant, the larger), for at most
//! [`MAX_CARRY_MS`]. Measurements arrive in any order and any number of
//! times; the peak of a bucket depends only on the set of measurements, so
//! storing one twice, or out of order, changes no answer.

use super::ids::AppId;
use super::time::{Interval, REACH_MS, UtcMillis};

/// The most bytes a measurement can report: the largest integer a JSON
/// number holds exactly (2^53 − 1), so every producer's parser agrees on it.
pub const MAX_BYTES: u64 = (1 << 53) - 1;

/// How long a measurement's amount carries on when no later one comes. The
/// carry has to end somewhere for measurements to expire at all (see
/// `retention::measurement_expiry`); the contract's reach (366 days) is as
/// far back as answers look, and producers measure far more often than once
/// a year.
pub const MAX_CARRY_MS: i64 = REACH_MS;

/// One valid `rtc.storage.measured` event: the app stored `bytes` at `at`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Measurement {
    pub app: AppId,
    pub bytes: u64,
    pub at: UtcMillis,
}

impl Measurement {
    pub fn reading(&self) -> Reading {
        Reading {
            at: self.at,
            bytes: self.bytes,
        }
    }
}

/// A stored measurement of one app. Ordered by instant, then bytes: the
/// order storage keeps them in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Reading {
    pub at: UtcMillis,
    pub bytes: u64,
}

/// What a trend needs from storage, for buckets from `from` to `to`: the
/// amount in effect at `from` (the latest reading before it, no older than
/// [`MAX_CARRY_MS`]; the largest of that instant's), and every reading in
/// `[from, to)`, ascending.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Readings {
    pub before: Option<Reading>,
    pub inside: Vec<Reading>,
}

impl Readings {
    pub fn all(&self) -> impl Iterator<Item = Reading> + '_ {
        self.before.iter().chain(&self.inside).copied()
    }
}

/// The window `[from, to)` a trend reads: from the start of the bucket
/// holding `start` to the end of the bucket holding `end − 1 ms`, since
/// every bucket is answered whole.
pub fn read_window(interval: Interval, start: UtcMillis, end: UtcMillis) -> (UtcMillis, UtcMillis) {
    let buckets = interval.bucket_starts(start, end);
    let from = buckets.first().copied().unwrap_or(start);
    let to = buckets
        .last()
        .map_or(end, |last| last.plus_ms(interval.millis()));
    (from, to)
}

/// [`peaks`] over buckets of any lengths (an app's local days or hours),
/// given as (start, end), ascending and adjoining.
pub fn peaks_in(
    readings: impl IntoIterator<Item = Reading>,
    buckets: &[(UtcMillis, UtcMillis)],
) -> Vec<(UtcMillis, u64)> {
    // One amount per instant: the largest measured then.
    let mut instants: Vec<Reading> = readings.into_iter().collect();
    instants.sort_unstable_by(|a, b| a.at.cmp(&b.at).then(b.bytes.cmp(&a.bytes)));
    instants.dedup_by_key(|r| r.at);

    let mut next = 0; // the first instant at or after the current bucket's start
    let mut carried: Option<Reading> = None; // the latest instant before it
    buckets
        .iter()
        .map(|&(bucket, bucket_end)| {
            while next < instants.len() && instants[next].at < bucket {
                carried = Some(instants[next]);
                next += 1;
            }
            // A reading exactly at the bucket's start replaces the carried
            // amount at that very instant; it is counted as inside.
            let replaced = instants.get(next).is_some_and(|r| r.at == bucket);
            let at_start = carried
                .filter(|r| !replaced && r.at >= bucket.minus_ms(MAX_CARRY_MS))
                .map_or(0, |r| r.bytes);
            let inside = instants[next..]
                .iter()
                .take_while(|r| r.at < bucket_end)
                .map(|r| r.bytes)
                .max()
                .unwrap_or(0);
            (bucket, at_start.max(inside))
        })
        .collect()
}

/// The peak of every bucket overlapping `[start, end)`, ascending by bucket
/// start: the largest amount stored at any instant of the bucket, which is
/// the larger of the amount in effect at its start and every measurement
/// inside it.
///
/// `readings` may come in any order and repeat. They must hold every reading
/// inside the buckets and the latest one before the first bucket (the
/// largest of its instant); any others before it change nothing. A reading
/// carries into a bucket only if it is at most [`MAX_CARRY_MS`] older than
/// the bucket's start, so a bucket's peak never depends on the window it is
/// asked in.
pub fn peaks(
    readings: impl IntoIterator<Item = Reading>,
    interval: Interval,
    start: UtcMillis,
    end: UtcMillis,
) -> Vec<(UtcMillis, u64)> {
    let buckets: Vec<(UtcMillis, UtcMillis)> = interval
        .bucket_starts(start, end)
        .into_iter()
        .map(|b| (b, b.plus_ms(interval.millis())))
        .collect();
    peaks_in(readings, &buckets)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::time::HOUR_MS;

    fn t(text: &str) -> UtcMillis {
        UtcMillis::parse_query_time(text).unwrap_or_else(|| panic!("{text}"))
    }

    fn r(at: &str, bytes: u64) -> Reading {
        Reading { at: t(at), bytes }
    }

    fn r_ms(at: UtcMillis, bytes: u64) -> Reading {
        Reading { at, bytes }
    }

    fn values(points: &[(UtcMillis, u64)]) -> Vec<u64> {
        points.iter().map(|p| p.1).collect()
    }

    /// The same answer whatever the order and however often each reading
    /// comes; returned for the test to check.
    fn peaks_any_order(
        readings: &[Reading],
        interval: Interval,
        start: &str,
        end: &str,
    ) -> Vec<(UtcMillis, u64)> {
        let want = peaks(readings.iter().copied(), interval, t(start), t(end));
        let mut reversed: Vec<Reading> = readings.iter().rev().copied().collect();
        assert_eq!(peaks(reversed.clone(), interval, t(start), t(end)), want);
        reversed.extend(readings.iter().copied());
        let turn = (readings.len() / 2 + 1) % reversed.len().max(1);
        reversed.rotate_left(turn);
        assert_eq!(
            peaks(reversed, interval, t(start), t(end)),
            want,
            "duplicated and shuffled"
        );
        want
    }

    /// A plain reference: the amount in effect at an instant is the largest
    /// reading of the latest instant at or before it, if no older than the
    /// carry; a bucket's peak is the largest amount at its start or at any
    /// reading inside it.
    fn reference(readings: &[Reading], interval: Interval, start: &str, end: &str) -> Vec<u64> {
        let amount = |at: UtcMillis| {
            let latest = readings
                .iter()
                .filter(|r| r.at <= at && at.0 - r.at.0 <= MAX_CARRY_MS)
                .map(|r| r.at)
                .max();
            readings
                .iter()
                .filter(|r| Some(r.at) == latest)
                .map(|r| r.bytes)
                .max()
                .unwrap_or(0)
        };
        interval
            .bucket_starts(t(start), t(end))
            .into_iter()
            .map(|b| {
                let e = b.plus_ms(interval.millis());
                readings
                    .iter()
                    .filter(|r| b <= r.at && r.at < e)
                    .map(|r| amount(r.at))
                    .chain([amount(b)])
                    .max()
                    .unwrap()
            })
            .collect()
    }

    #[test]
    fn no_readings_are_zeros() {
        let p = peaks(
            [],
            Interval::Hour,
            t("2026-11-20T00:00:00Z"),
            t("2026-11-20T03:00:00Z"),
        );
        assert_eq!(values(&p), [0, 0, 0]);
        assert_eq!(p[0].0, t("2026-11-20T00:00:00Z"));
        assert_eq!(p[2].0, t("2026-11-20T02:00:00Z"));
    }

    #[test]
    fn out_of_order_and_duplicated_readings_give_one_answer() {
        let readings = [
            r("2026-11-20T02:30:00Z", 300),
            r("2026-11-20T00:15:00Z", 100),
            r("2026-11-20T01:45:00Z", 50),
            r("2026-11-20T00:15:00Z", 100),
            r("2026-11-20T02:30:00Z", 300),
        ];
        let p = peaks_any_order(
            &readings,
            Interval::Hour,
            "2026-11-20T00:00:00Z",
            "2026-11-20T04:00:00Z",
        );
        // 00h: 0 then 100; 01h: 100 carried, 50 later; 02h: 50 then 300; 03h: 300.
        assert_eq!(values(&p), [100, 100, 300, 300]);
    }

    #[test]
    fn several_in_one_bucket_take_the_largest_and_the_last_carries() {
        let readings = [
            r("2026-11-20T10:05:00Z", 10),
            r("2026-11-20T10:20:00Z", 900),
            r("2026-11-20T10:40:00Z", 30),
            r("2026-11-20T10:59:59Z", 20),
        ];
        let p = peaks_any_order(
            &readings,
            Interval::Hour,
            "2026-11-20T10:00:00Z",
            "2026-11-20T12:00:00Z",
        );
        assert_eq!(
            values(&p),
            [900, 20],
            "the next hour starts at the last one"
        );
        let p = peaks_any_order(
            &readings,
            Interval::Day,
            "2026-11-20T00:00:00Z",
            "2026-11-22T00:00:00Z",
        );
        assert_eq!(values(&p), [900, 20]);
    }

    #[test]
    fn a_window_without_readings_carries_the_amount_before_it() {
        let readings = [r("2026-11-01T08:00:00Z", 4_096)];
        let p = peaks_any_order(
            &readings,
            Interval::Hour,
            "2026-11-20T10:00:00Z",
            "2026-11-20T13:00:00Z",
        );
        assert_eq!(values(&p), [4_096, 4_096, 4_096]);
    }

    #[test]
    fn a_reading_at_a_bucket_boundary_belongs_to_the_bucket_it_starts() {
        // Exactly 11:00: in effect from then on, so in 11h (and not in 10h).
        let readings = [
            r("2026-11-20T10:30:00Z", 5),
            r("2026-11-20T11:00:00Z", 7),
            r("2026-11-20T12:00:00Z", 2),
        ];
        let p = peaks_any_order(
            &readings,
            Interval::Hour,
            "2026-11-20T10:00:00Z",
            "2026-11-20T14:00:00Z",
        );
        // 12:00 replaces 7 at its very instant: 7 is never stored in 12h.
        assert_eq!(values(&p), [5, 7, 2, 2]);
        // One millisecond earlier, it is 10h's and carries into 11h.
        let early = [r_ms(t("2026-11-20T11:00:00Z").minus_ms(1), 9)];
        let p = peaks(
            early,
            Interval::Hour,
            t("2026-11-20T10:00:00Z"),
            t("2026-11-20T12:00:00Z"),
        );
        assert_eq!(values(&p), [9, 9]);
        // A measurement at midnight is the new day's.
        let midnight = [r("2026-11-21T00:00:00Z", 3)];
        let p = peaks(
            midnight,
            Interval::Day,
            t("2026-11-20T00:00:00Z"),
            t("2026-11-22T00:00:00Z"),
        );
        assert_eq!(values(&p), [0, 3]);
    }

    #[test]
    fn two_at_one_instant_the_larger_wins() {
        let readings = [
            r("2026-11-20T09:00:00Z", 1_000),
            r("2026-11-20T10:00:00Z", 1),
            r("2026-11-20T10:00:00Z", 500),
            r("2026-11-20T10:00:00Z", 40),
        ];
        let p = peaks_any_order(
            &readings,
            Interval::Hour,
            "2026-11-20T10:00:00Z",
            "2026-11-20T12:00:00Z",
        );
        // 10h: at its start 500 (the larger at that instant) replaces 1,000.
        assert_eq!(values(&p), [500, 500]);
        // And carried from before the window, the larger of the instant too.
        let before = [r("2026-11-20T08:00:00Z", 8), r("2026-11-20T08:00:00Z", 80)];
        let p = peaks_any_order(
            &before,
            Interval::Hour,
            "2026-11-20T10:00:00Z",
            "2026-11-20T11:00:00Z",
        );
        assert_eq!(values(&p), [80]);
    }

    #[test]
    fn a_reading_months_before_the_window_carries_into_it() {
        let readings = [r("2026-06-01T00:00:00Z", 77), r("2026-11-20T12:30:00Z", 10)];
        let p = peaks_any_order(
            &readings,
            Interval::Day,
            "2026-11-18T00:00:00Z",
            "2026-11-22T00:00:00Z",
        );
        // 77 holds until the 20th's 12:30, so that day's peak is still 77.
        assert_eq!(values(&p), [77, 77, 77, 10]);
    }

    #[test]
    fn a_reading_carries_for_at_most_366_days() {
        let at = t("2025-11-20T10:00:00Z");
        let last_ms = at.plus_ms(MAX_CARRY_MS);
        let readings = [r_ms(at, 6)];
        // The hour holding the last carried instant still sees it; the next
        // hour starts past the carry.
        let p = peaks(
            readings,
            Interval::Hour,
            last_ms.minus_ms(HOUR_MS),
            last_ms.plus_ms(2 * HOUR_MS),
        );
        assert_eq!(values(&p), [6, 6, 0]);
        // A day bucket starting within the carry sees it whole.
        let p = peaks(readings, Interval::Day, last_ms, last_ms.plus_ms(1));
        assert_eq!(values(&p), [6]);
    }

    #[test]
    fn a_zero_measurement_ends_what_came_before() {
        let readings = [r("2026-11-20T10:00:00Z", 50), r("2026-11-20T10:30:00Z", 0)];
        let p = peaks_any_order(
            &readings,
            Interval::Hour,
            "2026-11-20T10:00:00Z",
            "2026-11-20T12:00:00Z",
        );
        assert_eq!(values(&p), [50, 0]);
    }

    #[test]
    fn peaks_agree_with_a_plain_reference_on_many_layouts() {
        // A small deterministic generator: no dependency needed.
        let mut seed = 0x9E37_79B9_7F4A_7C15_u64;
        let mut next = |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        let base = t("2026-10-01T00:00:00Z");
        for case in 0..300 {
            let count = next(12) as usize;
            let readings: Vec<Reading> = (0..count)
                .map(|_| {
                    // On the hour now and then, often at the same instants.
                    let at = match next(4) {
                        0 => base.plus_ms(next(60 * 24) as i64 * HOUR_MS),
                        1 => base.plus_ms(next(8) as i64 * 7 * 24 * HOUR_MS),
                        _ => base.plus_ms(next(60 * 24 * HOUR_MS as u64) as i64),
                    };
                    r_ms(at, next(5) * 1_000 + next(3))
                })
                .collect();
            for (interval, start, end) in [
                (
                    Interval::Hour,
                    "2026-10-20T05:30:00Z",
                    "2026-10-22T00:00:00Z",
                ),
                (
                    Interval::Day,
                    "2026-10-03T10:00:00Z",
                    "2026-11-03T10:00:00Z",
                ),
                (
                    Interval::Hour,
                    "2026-11-28T00:00:00Z",
                    "2026-11-28T07:00:00Z",
                ),
            ] {
                let got = peaks_any_order(&readings, interval, start, end);
                assert_eq!(
                    values(&got),
                    reference(&readings, interval, start, end),
                    "case {case}: {readings:?} {interval:?} {start}..{end}"
                );
                // The store reads only the latest before and those inside:
                // the answer must be the same from that alone.
                let (from, to) = read_window(interval, t(start), t(end));
                let before = readings
                    .iter()
                    .filter(|r| r.at < from && r.at >= from.minus_ms(MAX_CARRY_MS))
                    .max()
                    .copied();
                let inside = readings.iter().filter(|r| from <= r.at && r.at < to);
                let reduced = Readings {
                    before,
                    inside: inside.copied().collect(),
                };
                assert_eq!(peaks(reduced.all(), interval, t(start), t(end)), got);
            }
        }
    }

    #[test]
    fn the_read_window_covers_whole_buckets() {
        let (from, to) = read_window(
            Interval::Day,
            t("2026-11-20T10:30:00Z"),
            t("2026-11-22T00:00:01Z"),
        );
        assert_eq!(
            (from, to),
            (t("2026-11-20T00:00:00Z"), t("2026-11-23T00:00:00Z"))
        );
        let (from, to) = read_window(
            Interval::Hour,
            t("2026-11-20T10:30:00Z"),
            t("2026-11-20T11:00:00Z"),
        );
        assert_eq!(
            (from, to),
            (t("2026-11-20T10:00:00Z"), t("2026-11-20T11:00:00Z"))
        );
    }

    #[test]
    fn every_measurement_a_valid_query_reads_is_still_alive() {
        use crate::domain::query::MAX_LOOKBACK_MS;
        use crate::domain::retention::measurement_expiry;
        // The oldest windows the query allows (starting at now − 366 days),
        // at every minute offset into a day, at both intervals.
        for minutes in (0..24 * 60).step_by(7) {
            let now = t("2026-11-23T00:00:00Z").plus_ms(minutes * 60_000);
            let start = now.minus_ms(MAX_LOOKBACK_MS);
            for interval in [Interval::Hour, Interval::Day] {
                let (from, _) = read_window(interval, start, start.plus_ms(5 * 60_000));
                let since = from.minus_ms(MAX_CARRY_MS);
                assert!(measurement_expiry(since) > now, "{now} {interval:?}");
            }
        }
    }
}
