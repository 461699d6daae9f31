//! UTC time as integer milliseconds, the hour and day buckets usage is kept in,
//! and the strict `YYYY-MM-DDThh:mm:ssZ` format of the query API.
//!
//! Everything here is integer arithmetic on milliseconds since the Unix epoch:
//! usage is money, so no floating point. Usage is kept per UTC hour; an app's
//! own calendar (its billing time zone's days and hours) is `zone.rs`, and a
//! `Day` is a calendar date in whichever of the two a caller means.

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Timelike, Utc};
use std::fmt;

pub const SECOND_MS: i64 = 1_000;
pub const MINUTE_MS: i64 = 60 * SECOND_MS;
pub const HOUR_MS: i64 = 60 * MINUTE_MS;
pub const DAY_MS: i64 = 24 * HOUR_MS;

/// The contract's 366 days of reach: queries reach back this far
/// (`query::MAX_LOOKBACK_MS`) and late events are accepted until their start
/// is this old (`event::MAX_LATENESS_MS`). A storage measurement's amount
/// carries on this long (`storage::MAX_CARRY_MS`), as far back as answers
/// reach, and every lifetime in `retention` is this plus a margin. The
/// packages' 366-day limits (`class::MAX_PACKAGE_VALIDITY_DAYS`,
/// `class::MAX_PACKAGE_LOOKBACK_DAYS`) are rules of their own, not this one.
pub const REACH_DAYS: i64 = 366;
/// [`REACH_DAYS`] in milliseconds.
pub const REACH_MS: i64 = REACH_DAYS * DAY_MS;

/// The milliseconds of `[start, end)` in each UTC hour it touches, ascending;
/// the parts always add up to `end - start`.
pub fn split_at_hours(start: UtcMillis, end: UtcMillis) -> Vec<(Hour, u64)> {
    let mut parts = Vec::new();
    let mut from = start;
    while from < end {
        let hour = from.hour();
        let to = hour.end().min(end);
        parts.push((hour, (to.0 - from.0) as u64));
        from = to;
    }
    parts
}

/// An instant, in whole milliseconds since 1970-01-01T00:00:00Z.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UtcMillis(pub i64);

impl UtcMillis {
    /// Truncates (never rounds) to the millisecond, as the contract asks.
    pub fn from_datetime<Tz: TimeZone>(time: &DateTime<Tz>) -> Self {
        UtcMillis(time.timestamp_millis())
    }

    pub fn now() -> Self {
        Self::from_datetime(&Utc::now())
    }

    pub fn to_datetime(self) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(self.0).unwrap_or(DateTime::<Utc>::MIN_UTC)
    }

    pub fn plus_ms(self, ms: i64) -> Self {
        UtcMillis(self.0.saturating_add(ms))
    }

    pub fn minus_ms(self, ms: i64) -> Self {
        UtcMillis(self.0.saturating_sub(ms))
    }

    pub fn hour(self) -> Hour {
        Hour(self.0.div_euclid(HOUR_MS))
    }

    pub fn day(self) -> Day {
        Day(self.0.div_euclid(DAY_MS))
    }

    /// Parses the query API's one accepted form, `YYYY-MM-DDThh:mm:ssZ`: a literal
    /// `T` and `Z`, two-digit fields, and a real calendar date and clock time
    /// (no `24:00:00`, no leap second, no February 30th).
    pub fn parse_query_time(text: &str) -> Option<Self> {
        let b = text.as_bytes();
        if b.len() != 20 {
            return None;
        }
        let shape_ok = b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b'T',
            13 | 16 => *c == b':',
            19 => *c == b'Z',
            _ => c.is_ascii_digit(),
        });
        if !shape_ok {
            return None;
        }
        let num = |from: usize, to: usize| -> u32 {
            b[from..to]
                .iter()
                .fold(0, |acc, c| acc * 10 + u32::from(c - b'0'))
        };
        let date = NaiveDate::from_ymd_opt(num(0, 4) as i32, num(5, 7), num(8, 10))?;
        let time = NaiveTime::from_hms_opt(num(11, 13), num(14, 16), num(17, 19))?;
        Some(Self::from_datetime(
            &NaiveDateTime::new(date, time).and_utc(),
        ))
    }

    /// `YYYY-MM-DDThh:mm:ssZ`, the form the query API answers in.
    pub fn format_query_time(self) -> String {
        let t = self.to_datetime();
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            t.year(),
            t.month(),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        )
    }
}

impl fmt::Display for UtcMillis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.format_query_time())
    }
}

/// A UTC clock hour, counted in hours since the epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Hour(pub i64);

impl Hour {
    pub fn start(self) -> UtcMillis {
        UtcMillis(self.0 * HOUR_MS)
    }

    pub fn end(self) -> UtcMillis {
        UtcMillis((self.0 + 1) * HOUR_MS)
    }

    pub fn day(self) -> Day {
        Day(self.0.div_euclid(24))
    }

    pub fn next(self) -> Hour {
        Hour(self.0 + 1)
    }

    /// `YYYY-MM-DDThh`: sorts lexicographically in time order (years 0000–9999),
    /// which is what makes a range of hours one contiguous DynamoDB key range.
    pub fn key(self) -> String {
        let t = self.start().to_datetime();
        format!(
            "{:04}-{:02}-{:02}T{:02}",
            t.year(),
            t.month(),
            t.day(),
            t.hour()
        )
    }

    pub fn parse_key(key: &str) -> Option<Hour> {
        let (date, hour) = key.split_once('T')?;
        let day = Day::parse_key(date)?;
        if hour.len() != 2 || !hour.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        let hour: i64 = hour.parse().ok()?;
        (hour < 24).then(|| Hour(day.0 * 24 + hour))
    }
}

/// A UTC calendar day, counted in days since the epoch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Day(pub i64);

impl Day {
    pub fn start(self) -> UtcMillis {
        UtcMillis(self.0 * DAY_MS)
    }

    pub fn first_hour(self) -> Hour {
        Hour(self.0 * 24)
    }

    pub fn last_hour(self) -> Hour {
        Hour(self.0 * 24 + 23)
    }

    pub fn hours(self) -> impl Iterator<Item = Hour> {
        (self.0 * 24..self.0 * 24 + 24).map(Hour)
    }

    pub fn next(self) -> Day {
        Day(self.0 + 1)
    }

    /// `YYYY-MM-DD`.
    pub fn key(self) -> String {
        let t = self.start().to_datetime();
        format!("{:04}-{:02}-{:02}", t.year(), t.month(), t.day())
    }

    /// Parses exactly `YYYY-MM-DD` (a real calendar date).
    pub fn parse_key(key: &str) -> Option<Day> {
        let b = key.as_bytes();
        let shape_ok = b.len() == 10
            && b.iter().enumerate().all(|(i, c)| match i {
                4 | 7 => *c == b'-',
                _ => c.is_ascii_digit(),
            });
        if !shape_ok {
            return None;
        }
        let date = NaiveDate::parse_from_str(key, "%Y-%m-%d").ok()?;
        Some(UtcMillis::from_datetime(&date.and_time(NaiveTime::MIN).and_utc()).day())
    }
}

/// The query API's bucket sizes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Interval {
    Hour,
    Day,
}

impl Interval {
    pub fn millis(self) -> i64 {
        match self {
            Interval::Hour => HOUR_MS,
            Interval::Day => DAY_MS,
        }
    }

    /// The starts of every bucket overlapping `[start, end)`, ascending.
    pub fn bucket_starts(self, start: UtcMillis, end: UtcMillis) -> Vec<UtcMillis> {
        let size = self.millis();
        let first = start.0.div_euclid(size);
        let last = (end.0 - 1).div_euclid(size);
        (first..=last).map(|b| UtcMillis(b * size)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> UtcMillis {
        UtcMillis::parse_query_time(s).unwrap_or_else(|| panic!("{s} should parse"))
    }

    #[test]
    fn query_time_accepts_exact_utc_form() {
        assert_eq!(t("1970-01-01T00:00:00Z"), UtcMillis(0));
        assert_eq!(
            t("2026-11-20T10:00:00Z").format_query_time(),
            "2026-11-20T10:00:00Z"
        );
        assert_eq!(
            t("2024-02-29T23:59:59Z").format_query_time(),
            "2024-02-29T23:59:59Z"
        );
    }

    #[test]
    fn query_time_rejects_everything_else() {
        for bad in [
            "",
            "2026-11-20T10:00:00",
            "2026-11-20T10:00:00+00:00",
            "2026-11-20T10:00:00.000Z",
            "2026-11-20T10:00:00.5Z",
            "2026-11-20t10:00:00Z",
            "2026-11-20T10:00:00z",
            "2026-11-20 10:00:00Z",
            "2026-02-30T10:00:00Z",
            "2025-02-29T10:00:00Z",
            "2026-13-01T10:00:00Z",
            "2026-00-01T10:00:00Z",
            "2026-11-00T10:00:00Z",
            "2026-11-20T24:00:00Z",
            "2026-11-20T23:60:00Z",
            "2026-11-20T23:59:60Z",
            "2026-1-20T10:00:00Z",
            "+026-11-20T10:00:00Z",
            "2026-11-20T10:00:0Z ",
            " 2026-11-20T10:00:00Z",
            "２026-11-20T10:00:00Z",
            "2026/11/20T10:00:00Z",
            "20261120T100000Z",
        ] {
            assert_eq!(
                UtcMillis::parse_query_time(bad),
                None,
                "{bad:?} must be refused"
            );
        }
    }

    #[test]
    fn hour_and_day_keys_round_trip_and_sort() {
        let h = t("2024-02-29T23:00:00Z").hour();
        assert_eq!(h.key(), "2024-02-29T23");
        assert_eq!(Hour::parse_key(&h.key()), Some(h));
        assert_eq!(h.next().key(), "2024-03-01T00");
        assert_eq!(h.day().key(), "2024-02-29");
        assert_eq!(Day::parse_key("2024-02-29"), Some(h.day()));
        assert_eq!(Day::parse_key("2023-02-29"), None);
        assert_eq!(Day::parse_key("2023-2-28"), None);
        assert_eq!(Hour::parse_key("2024-02-29T24"), None);
        let mut keys: Vec<String> = (0..2000).map(|i| Hour(h.0 - 1000 + i).key()).collect();
        let sorted = {
            let mut k = keys.clone();
            k.sort();
            k
        };
        assert_eq!(keys, sorted);
        keys.dedup();
        assert_eq!(keys.len(), 2000);
    }

    #[test]
    fn buckets_align_to_utc_hours_and_days() {
        let b = Interval::Hour.bucket_starts(t("2026-12-31T22:30:00Z"), t("2027-01-01T01:00:00Z"));
        let keys: Vec<String> = b.iter().map(|m| m.format_query_time()).collect();
        assert_eq!(
            keys,
            [
                "2026-12-31T22:00:00Z",
                "2026-12-31T23:00:00Z",
                "2027-01-01T00:00:00Z"
            ]
        );
        let b = Interval::Day.bucket_starts(t("2024-02-28T23:59:59Z"), t("2024-03-01T00:00:01Z"));
        let keys: Vec<String> = b.iter().map(|m| m.format_query_time()).collect();
        assert_eq!(
            keys,
            [
                "2024-02-28T00:00:00Z",
                "2024-02-29T00:00:00Z",
                "2024-03-01T00:00:00Z"
            ]
        );
    }

    #[test]
    fn thirty_one_days_of_hours_is_744_buckets_when_aligned() {
        let start = t("2026-10-01T00:00:00Z");
        let end = start.plus_ms(31 * DAY_MS);
        assert_eq!(Interval::Hour.bucket_starts(start, end).len(), 744);
        assert_eq!(Interval::Day.bucket_starts(start, end).len(), 31);
        // Unaligned, the partial buckets at both ends are included.
        let start = t("2026-10-01T00:30:00Z");
        let end = start.plus_ms(31 * DAY_MS);
        assert_eq!(Interval::Hour.bucket_starts(start, end).len(), 745);
        assert_eq!(Interval::Day.bucket_starts(start, end).len(), 32);
    }

    #[test]
    fn end_is_exclusive() {
        let b = Interval::Hour.bucket_starts(t("2026-11-20T09:55:00Z"), t("2026-11-20T10:00:00Z"));
        assert_eq!(b, vec![t("2026-11-20T09:00:00Z")]);
        let b = Interval::Hour.bucket_starts(t("2026-11-20T09:55:00Z"), t("2026-11-20T10:00:01Z"));
        assert_eq!(b.len(), 2);
    }
}
