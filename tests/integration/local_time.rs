//! An app's billing time zone as the references in these tests compute it:
//! plainly, from the zone database's offsets alone, sharing no code with
//! the service. Every boundary a zone of the workloads has (local
//! midnights, local clock hours, offset changes) falls on a quarter hour, so
//! the references find them by stepping through quarter hours and asking
//! where the local date (or date, hour and offset) changes.

use chrono::{DateTime, NaiveDate, Offset, Timelike};
use chrono_tz::Tz;

const QUARTER_MS: i64 = 15 * 60_000;
const HOUR_MS: i64 = 3_600_000;

#[derive(Clone, Copy, Debug)]
pub struct LocalTime {
    tz: Tz,
    name: &'static str,
}

impl LocalTime {
    pub fn new(name: &'static str) -> Self {
        LocalTime {
            tz: name.parse().expect("a zone of the database"),
            name,
        }
    }

    /// The name an app registered with it is answered under.
    pub fn name(&self) -> &'static str {
        self.name
    }

    fn at(&self, ms: i64) -> DateTime<Tz> {
        DateTime::from_timestamp_millis(ms)
            .expect("a representable instant")
            .with_timezone(&self.tz)
    }

    /// The local date of an instant, as days since 1970-01-01.
    pub fn day(&self, ms: i64) -> i64 {
        let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("the epoch");
        (self.at(ms).date_naive() - epoch).num_days()
    }

    /// What stays the same through one local clock hour.
    fn hour_key(&self, ms: i64) -> (i64, u32, i32) {
        let t = self.at(ms);
        (self.day(ms), t.hour(), t.offset().fix().local_minus_utc())
    }

    /// The next local-hour boundary after `ms` (local midnights included).
    pub fn next_hour_boundary(&self, ms: i64) -> i64 {
        let mut q = ms - ms.rem_euclid(QUARTER_MS) + QUARTER_MS;
        while self.hour_key(q) == self.hour_key(q - 1) {
            q += QUARTER_MS;
        }
        q
    }

    /// The buckets (local days when `daily`, else local clock hours)
    /// overlapping `[start, end)`, by their starts.
    pub fn buckets(&self, start: i64, end: i64, daily: bool) -> Vec<i64> {
        let changes = |q: i64| {
            if daily {
                self.day(q) != self.day(q - 1)
            } else {
                self.hour_key(q) != self.hour_key(q - 1)
            }
        };
        let mut boundaries = Vec::new();
        let mut q = start - start.rem_euclid(QUARTER_MS) - 26 * HOUR_MS;
        while q < end + 26 * HOUR_MS {
            if changes(q) {
                boundaries.push(q);
            }
            q += QUARTER_MS;
        }
        boundaries
            .windows(2)
            .filter(|w| w[0] < end && w[1] > start)
            .map(|w| w[0])
            .collect()
    }

    /// RFC 3339 with the offset in force, truncated to the second.
    pub fn text(&self, ms: i64) -> String {
        self.at(ms - ms.rem_euclid(1_000))
            .format("%Y-%m-%dT%H:%M:%S%:z")
            .to_string()
    }
}
