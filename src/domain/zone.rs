//! An app's billing time zone: its local days and local clock hours.
//!
//! Usage is kept per UTC hour (Alibaba's API answers UTC hours and days for
//! every app). An app's own calendar follows its zone: a local day runs from
//! one local midnight to the next (23, 24 or 25 hours), and a local clock
//! hour is a span in which the local date, hour and UTC offset stay the same
//! (in `Asia/Kolkata` from hh:30 UTC to the next hh:30; on a day clocks go
//! back, the repeated hour is two buckets). Every such boundary either is a
//! UTC hour boundary or falls inside one UTC hour, at most once per hour for
//! every zone of the database (a test below checks all of them): that one
//! instant is the hour's *cut*, and usage before it is kept apart in the
//! hour's record, so local hours and days are exact to the millisecond
//! without another item.
//!
//! The zone database is compiled in (`chrono-tz`): no file is read at run
//! time, and the version is [`TZDB_VERSION`].

use super::time::{DAY_MS, Day, HOUR_MS, Hour, Interval, UtcMillis};
use chrono::{NaiveTime, Offset, TimeZone};
use chrono_tz::Tz;
use std::fmt;
use std::str::FromStr;

/// The IANA time zone database release the build carries.
pub const TZDB_VERSION: &str = chrono_tz::IANA_TZDB_VERSION;

/// A zone from the IANA database, under the name it was given (a link such
/// as `Asia/Calcutta` keeps its own name: the contract answers the name as
/// given).
#[derive(Clone, PartialEq, Eq)]
pub struct BillingZone {
    tz: Tz,
}

impl fmt::Debug for BillingZone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl fmt::Display for BillingZone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Default for BillingZone {
    fn default() -> Self {
        Self::utc()
    }
}

/// How a slice of usage inside one UTC hour lies in the app's calendar.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Part {
    pub hour: Hour,
    /// Before the hour's cut (the part a local hour starting inside this
    /// UTC hour does not hold).
    pub head: bool,
    /// The local day the part lies in.
    pub day: Day,
    pub ms: u64,
}

impl BillingZone {
    /// The zone of apps registered before zones existed, and the default
    /// when the deployment sets none.
    pub fn utc() -> Self {
        BillingZone { tz: Tz::UTC }
    }

    /// Exactly a name of the database (zones and links, case as written);
    /// fixed offsets (`+08:00`), abbreviations it lacks and anything else
    /// are refused.
    pub fn parse(name: &str) -> Option<Self> {
        Tz::from_str(name).ok().map(|tz| BillingZone { tz })
    }

    pub fn name(&self) -> &'static str {
        self.tz.name()
    }

    /// The same zone under another name: a link and the zone it names keep
    /// the same clock at every instant. Names differ, so the clocks are
    /// compared at every hour from 1970 to 2040 (the database's links carry
    /// identical rules; two zones whose clocks differ anywhere differ within
    /// that span, and usually within the first months).
    pub fn same_zone(&self, other: &BillingZone) -> bool {
        if self.tz == other.tz {
            return true;
        }
        let (from, to) = (0, 2_208_988_800_000 / HOUR_MS);
        (from..to).all(|h| {
            let at = UtcMillis(h * HOUR_MS);
            self.offset_ms(at) == other.offset_ms(at)
        })
    }

    /// Local time minus UTC at `at`, in milliseconds.
    pub fn offset_ms(&self, at: UtcMillis) -> i64 {
        let utc = at.to_datetime().naive_utc();
        i64::from(
            self.tz
                .offset_from_utc_datetime(&utc)
                .fix()
                .local_minus_utc(),
        ) * 1_000
    }

    /// Local time at `at`, as milliseconds on a UTC-like axis.
    fn local_ms(&self, at: UtcMillis) -> i64 {
        at.0 + self.offset_ms(at)
    }

    /// The local date of `at`.
    pub fn day_of(&self, at: UtcMillis) -> Day {
        Day(self.local_ms(at).div_euclid(DAY_MS))
    }

    /// The first instant of the local date `day`: its midnight, or where a
    /// clock change skips midnight, the instant the day begins.
    pub fn day_start(&self, day: Day) -> UtcMillis {
        let date = day.start().to_datetime().date_naive();
        // A gap starts and ends on a quarter hour: the first local time of
        // the day that exists is among them.
        for quarter in 0..96u32 {
            let time = NaiveTime::from_hms_opt(quarter / 4, (quarter % 4) * 15, 0)
                .unwrap_or(NaiveTime::MIN);
            if let Some(at) = self.tz.from_local_datetime(&date.and_time(time)).earliest() {
                return UtcMillis::from_datetime(&at);
            }
        }
        // No zone skips a whole day within the reach of usage; fall back to
        // the UTC-like reading rather than fail.
        UtcMillis(day.start().0 - self.offset_ms(day.start()))
    }

    /// The local days `[start, end)` touches, first and last.
    pub fn days_of(&self, start: UtcMillis, end: UtcMillis) -> (Day, Day) {
        (self.day_of(start), self.day_of(end.minus_ms(1)))
    }

    /// Where the offset changes in `(from, to]`, if it does (once at most
    /// within the hour or so this is asked about).
    fn change_within(&self, from: UtcMillis, to: UtcMillis) -> Option<UtcMillis> {
        let before = self.offset_ms(from);
        if self.offset_ms(to) == before {
            return None;
        }
        // The first instant after `from` with another offset.
        let (mut lo, mut hi) = (from.0, to.0);
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if self.offset_ms(UtcMillis(mid)) == before {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        Some(UtcMillis(hi))
    }

    /// The start of the local clock hour holding `at`.
    pub fn hour_start(&self, at: UtcMillis) -> UtcMillis {
        let local = self.local_ms(at);
        let candidate = UtcMillis(at.0 - local.rem_euclid(HOUR_MS));
        self.change_within(candidate, at).unwrap_or(candidate)
    }

    /// The end of the local clock hour starting at `start` (the next one's
    /// start).
    pub fn hour_end(&self, start: UtcMillis) -> UtcMillis {
        let local = self.local_ms(start);
        let candidate = UtcMillis(start.0 + HOUR_MS - local.rem_euclid(HOUR_MS));
        self.change_within(start, candidate.minus_ms(1))
            .unwrap_or(candidate)
    }

    /// The instant inside the UTC hour (after its start) where a local
    /// clock hour begins, if there is one: never in a zone whose offset is
    /// a whole number of hours throughout the hour.
    pub fn cut(&self, hour: Hour) -> Option<UtcMillis> {
        let (start, last) = (hour.start(), hour.end().minus_ms(1));
        let offset = self.offset_ms(start);
        if offset % HOUR_MS == 0 && self.offset_ms(last) == offset {
            return None;
        }
        let next = self.hour_end(self.hour_start(start));
        (next < hour.end()).then_some(next)
    }

    /// `[start, end)` split at every UTC hour and every hour's cut, each
    /// part with the local day it lies in; the parts add up to the whole.
    pub fn split(&self, start: UtcMillis, end: UtcMillis) -> Vec<Part> {
        let mut parts = Vec::new();
        let mut from = start;
        while from < end {
            let hour = from.hour();
            let cut = self.cut(hour).filter(|c| from < *c);
            let to = cut.unwrap_or(hour.end()).min(end);
            parts.push(Part {
                hour,
                head: cut.is_some(),
                day: self.day_of(from),
                ms: (to.0 - from.0) as u64,
            });
            from = to;
        }
        parts
    }

    /// A stored hour's usage, `total` of which `head` lies before the hour's
    /// cut, as (instant, usage) pieces that each lie in one local hour:
    /// the whole hour at its start, or the head at the start and the rest
    /// at the cut.
    pub fn pieces<T>(&self, hour: Hour, total: T, head: T) -> Vec<(UtcMillis, T)>
    where
        T: std::ops::Sub<Output = T> + Copy,
    {
        match self.cut(hour) {
            None => vec![(hour.start(), total)],
            Some(cut) => vec![(hour.start(), head), (cut, total - head)],
        }
    }

    /// The start of the bucket holding `at`: its local day or local hour.
    pub fn bucket_start(&self, interval: Interval, at: UtcMillis) -> UtcMillis {
        match interval {
            Interval::Hour => self.hour_start(at),
            Interval::Day => self.day_start(self.day_of(at)),
        }
    }

    /// The end of the bucket starting at `start`.
    pub fn bucket_end(&self, interval: Interval, start: UtcMillis) -> UtcMillis {
        match interval {
            Interval::Hour => self.hour_end(start),
            Interval::Day => self.day_start(self.day_of(start).next()),
        }
    }

    /// Every bucket overlapping `[start, end)`, as (start, end), ascending.
    pub fn buckets(
        &self,
        interval: Interval,
        start: UtcMillis,
        end: UtcMillis,
    ) -> Vec<(UtcMillis, UtcMillis)> {
        let mut buckets = Vec::new();
        let mut from = self.bucket_start(interval, start);
        while from < end {
            let to = self.bucket_end(interval, from);
            buckets.push((from, to));
            from = to;
        }
        buckets
    }

    /// RFC 3339 with the zone's offset at that instant, truncated to the
    /// second: `2026-11-30T08:30:00+08:00`; UTC is `+00:00`.
    pub fn format(&self, at: UtcMillis) -> String {
        let seconds = UtcMillis(at.0.div_euclid(1_000) * 1_000);
        seconds
            .to_datetime()
            .with_timezone(&self.tz)
            .format("%Y-%m-%dT%H:%M:%S%:z")
            .to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::time::MINUTE_MS;

    fn t(s: &str) -> UtcMillis {
        UtcMillis::parse_query_time(s).unwrap_or_else(|| panic!("{s}"))
    }

    fn zone(name: &str) -> BillingZone {
        BillingZone::parse(name).unwrap()
    }

    fn day(key: &str) -> Day {
        Day::parse_key(key).unwrap()
    }

    #[test]
    fn names_are_the_database_names_exactly() {
        for good in [
            "UTC",
            "Asia/Shanghai",
            "Asia/Kolkata",
            "Asia/Calcutta",
            "Asia/Kathmandu",
            "America/New_York",
            "Etc/GMT-8",
        ] {
            assert_eq!(zone(good).name(), good);
        }
        for bad in [
            "",
            "+08:00",
            "UTC+8",
            "GMT+08:00",
            "asia/shanghai",
            "Asia/Shanghai ",
            "Asia/Nowhere",
            "Beijing",
            "08:00",
            "Z",
            "Asia/上海",
        ] {
            assert_eq!(BillingZone::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_link_is_the_zone_it_names() {
        assert!(zone("Asia/Calcutta").same_zone(&zone("Asia/Kolkata")));
        assert!(zone("UTC").same_zone(&zone("Etc/UTC")));
        assert!(!zone("Asia/Kolkata").same_zone(&zone("Asia/Kathmandu")));
        assert!(!zone("Asia/Shanghai").same_zone(&zone("Asia/Taipei")));
        assert!(!zone("UTC").same_zone(&zone("Europe/London")));
    }

    #[test]
    fn shanghai_days_start_at_16_utc() {
        let z = zone("Asia/Shanghai");
        assert_eq!(z.day_start(day("2026-12-01")), t("2026-11-30T16:00:00Z"));
        assert_eq!(z.day_of(t("2026-11-30T16:30:00Z")), day("2026-12-01"));
        assert_eq!(z.day_of(t("2026-11-30T15:59:59Z")), day("2026-11-30"));
        assert_eq!(z.cut(t("2026-11-30T16:00:00Z").hour()), None);
        assert_eq!(
            z.format(t("2026-11-30T00:30:00Z")),
            "2026-11-30T08:30:00+08:00"
        );
    }

    #[test]
    fn a_kolkata_session_at_18_to_19_utc_splits_30_30_across_two_days() {
        let z = zone("Asia/Kolkata");
        let parts = z.split(t("2026-11-30T18:00:00Z"), t("2026-11-30T19:00:00Z"));
        let hour = t("2026-11-30T18:00:00Z").hour();
        assert_eq!(
            parts,
            vec![
                Part {
                    hour,
                    head: true,
                    day: day("2026-11-30"),
                    ms: 30 * MINUTE_MS as u64
                },
                Part {
                    hour,
                    head: false,
                    day: day("2026-12-01"),
                    ms: 30 * MINUTE_MS as u64
                },
            ]
        );
        assert_eq!(z.cut(hour), Some(t("2026-11-30T18:30:00Z")));
        assert_eq!(z.day_start(day("2026-12-01")), t("2026-11-30T18:30:00Z"));
        assert_eq!(
            z.format(t("2026-11-30T18:30:00Z")),
            "2026-12-01T00:00:00+05:30"
        );
    }

    #[test]
    fn kathmandu_hours_start_at_quarter_past() {
        let z = zone("Asia/Kathmandu");
        let hours = z.buckets(
            Interval::Hour,
            t("2026-11-30T18:00:00Z"),
            t("2026-11-30T20:00:00Z"),
        );
        let starts: Vec<String> = hours.iter().map(|(s, _)| s.to_string()).collect();
        assert_eq!(
            starts,
            [
                "2026-11-30T17:15:00Z",
                "2026-11-30T18:15:00Z",
                "2026-11-30T19:15:00Z"
            ]
        );
        assert_eq!(z.day_start(day("2026-12-01")), t("2026-11-30T18:15:00Z"));
    }

    #[test]
    fn new_york_2026_11_01_has_25_hours_and_2026_03_08_has_23() {
        let z = zone("America/New_York");
        for (date, hours) in [("2026-11-01", 25), ("2026-03-08", 23), ("2026-11-02", 24)] {
            let (start, end) = (z.day_start(day(date)), z.day_start(day(date).next()));
            assert_eq!((end.0 - start.0) / HOUR_MS, hours, "{date}");
            let buckets = z.buckets(Interval::Hour, start, end);
            assert_eq!(buckets.len() as i64, hours, "{date}");
            assert!(buckets.iter().all(|(s, e)| e.0 - s.0 == HOUR_MS));
            assert_eq!(z.buckets(Interval::Day, start, end).len(), 1);
        }
        assert_eq!(
            z.format(t("2026-11-01T05:00:00Z")),
            "2026-11-01T01:00:00-04:00"
        );
        assert_eq!(
            z.format(t("2026-11-01T06:00:00Z")),
            "2026-11-01T01:00:00-05:00"
        );
    }

    #[test]
    fn utc_is_written_with_a_zero_offset() {
        assert_eq!(
            BillingZone::utc().format(UtcMillis(1_999)),
            "1970-01-01T00:00:01+00:00"
        );
    }

    #[test]
    fn split_adds_up_and_every_part_stays_in_one_local_hour() {
        for name in [
            "UTC",
            "Asia/Shanghai",
            "Asia/Kolkata",
            "Asia/Kathmandu",
            "America/New_York",
            "Australia/Lord_Howe",
            "America/St_Johns",
        ] {
            let z = zone(name);
            let start = t("2026-03-06T00:00:00Z").plus_ms(1_234);
            let end = start.plus_ms(48 * HOUR_MS - 7);
            let parts = z.split(start, end);
            assert_eq!(
                parts.iter().map(|p| p.ms).sum::<u64>(),
                (end.0 - start.0) as u64
            );
            let mut at = start;
            for p in &parts {
                let hour = z.hour_start(at);
                assert_eq!(z.hour_start(at.plus_ms(p.ms as i64 - 1)), hour, "{name}");
                assert_eq!(z.day_of(at), p.day);
                at = at.plus_ms(p.ms as i64);
            }
        }
    }

    /// The stored form keeps one cut per UTC hour: no zone of the database
    /// starts two local hours inside one UTC hour, in the years usage can
    /// reach now and for years to come.
    #[test]
    fn no_zone_has_two_cuts_in_one_utc_hour() {
        let from = t("2025-01-01T00:00:00Z").hour().0;
        let to = t("2031-01-01T00:00:00Z").hour().0;
        for tz in chrono_tz::TZ_VARIANTS {
            let z = BillingZone { tz };
            // Offsets change rarely: only hours around a change, or in a
            // zone with a part-hour offset, need a closer look.
            for h in (from..to).step_by(24) {
                let (a, b) = (UtcMillis(h * HOUR_MS), UtcMillis((h + 24) * HOUR_MS));
                if z.offset_ms(a) % HOUR_MS == 0 && z.change_within(a, b).is_none() {
                    continue;
                }
                for hour in (h..h + 24).map(Hour) {
                    if let Some(cut) = z.cut(hour) {
                        assert!(
                            z.hour_end(cut) >= hour.end(),
                            "{} has two local hours starting inside {}",
                            z.name(),
                            hour.key()
                        );
                    }
                }
            }
        }
    }
}
