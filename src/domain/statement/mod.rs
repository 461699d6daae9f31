//! Monthly statements (CONTRACT §11): one per app and calendar month of its
//! zone, open until the month's end plus a grace period, frozen after.
//! What a statement holds is decided by when each event was acknowledged:
//! usage acknowledged after its month closed is an adjustment of that month
//! in the statement of the month it was acknowledged in.
//!
//! Here: months and their closes, which months an acknowledged event is
//! late for, and the figures (with their differences, for adjustments).
//! Reading what the figures are computed from is the service's.

mod figures;

pub use figures::{MonthInputs, month_figures};

use super::time::{DAY_MS, Day, UtcMillis};
use super::zone::BillingZone;
use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::ops::Sub;

/// The contract's default grace period: 72 hours.
pub const DEFAULT_GRACE_SECONDS: i64 = 259_200;
/// Statements answered: the app's current month and the 12 before it.
pub const MONTHS_BACK: i32 = 12;

/// A calendar month of an app's zone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Month {
    pub year: i32,
    /// 1–12.
    pub month: u32,
}

impl Month {
    /// Exactly `YYYY-MM`: four digits, a dash, two digits from 01 to 12.
    pub fn parse(text: &str) -> Option<Month> {
        let bytes = text.as_bytes();
        if bytes.len() != 7 || bytes[4] != b'-' {
            return None;
        }
        let digits = |range: std::ops::Range<usize>| {
            bytes[range.clone()]
                .iter()
                .all(u8::is_ascii_digit)
                .then(|| text[range].parse::<u32>().ok())
                .flatten()
        };
        let (year, month) = (digits(0..4)?, digits(5..7)?);
        (1..=12).contains(&month).then_some(Month {
            year: year as i32,
            month,
        })
    }

    /// The month a local day lies in.
    pub fn of(day: Day) -> Month {
        let date = day.start().to_datetime().date_naive();
        Month {
            year: date.year(),
            month: date.month(),
        }
    }

    pub fn first_day(self) -> Day {
        let date = NaiveDate::from_ymd_opt(self.year, self.month, 1).expect("a month's first day");
        Day(date
            .and_hms_opt(0, 0, 0)
            .expect("midnight")
            .and_utc()
            .timestamp_millis()
            .div_euclid(DAY_MS))
    }

    pub fn last_day(self) -> Day {
        Day(self.next().first_day().0 - 1)
    }

    pub fn next(self) -> Month {
        match self.month {
            12 => Month {
                year: self.year + 1,
                month: 1,
            },
            m => Month {
                year: self.year,
                month: m + 1,
            },
        }
    }

    pub fn prev(self) -> Month {
        match self.month {
            1 => Month {
                year: self.year - 1,
                month: 12,
            },
            m => Month {
                year: self.year,
                month: m - 1,
            },
        }
    }

    /// The month's first instant in `zone`.
    pub fn starts_at(self, zone: &BillingZone) -> UtcMillis {
        zone.day_start(self.first_day())
    }

    /// The first instant after the month, in `zone`.
    pub fn ends_at(self, zone: &BillingZone) -> UtcMillis {
        self.next().starts_at(zone)
    }

    /// Months from `self` back, newest first.
    pub fn back(self, count: i32) -> Vec<Month> {
        let mut months = vec![self];
        for _ in 0..count {
            let last = *months.last().expect("one month");
            months.push(last.prev());
        }
        months
    }
}

impl fmt::Display for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

/// When statements close: each month's end plus the grace period.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Calendar {
    pub zone: BillingZone,
    pub grace_ms: i64,
}

impl Calendar {
    pub fn new(zone: BillingZone, grace_seconds: i64) -> Self {
        Calendar {
            zone,
            grace_ms: grace_seconds * 1_000,
        }
    }

    /// The instant `month`'s statement closes.
    pub fn closes_at(&self, month: Month) -> UtcMillis {
        month.ends_at(&self.zone).plus_ms(self.grace_ms)
    }

    pub fn is_closed(&self, month: Month, now: UtcMillis) -> bool {
        now >= self.closes_at(month)
    }

    /// The month an instant lies in.
    pub fn month_of(&self, at: UtcMillis) -> Month {
        Month::of(self.zone.day_of(at))
    }

    /// The statement an event acknowledged at `acked` whose usage lies in
    /// `month` counts in: that month's, or, once it has closed, the one of
    /// the month it was acknowledged in (as an adjustment).
    pub fn statement_of(&self, month: Month, acked: UtcMillis) -> Month {
        if self.is_closed(month, acked) {
            self.month_of(acked)
        } else {
            month
        }
    }

    /// Whether usage on local `days`, acknowledged at `acked`, touches a
    /// month whose statement had closed: such usage is recorded as late,
    /// so the closed statement can be told without it.
    pub fn is_late(&self, days: impl IntoIterator<Item = Day>, acked: UtcMillis) -> bool {
        days.into_iter()
            .any(|day| self.is_closed(Month::of(day), acked))
    }
}

/// Audio/video figures of a month, as §6's details summary would answer
/// them; signed, so an adjustment (a difference) is one too.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AvFigures {
    pub duration_ms: i64,
    pub billable_minutes: i64,
    pub package_minutes: i64,
    pub pay_as_you_go_minutes: i64,
}

/// Recording figures of a month: §6's recording summary and the
/// milliseconds per tier (Audio, V480, V720, V1080).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordingFigures {
    pub duration_ms: i64,
    pub billable_minutes: i64,
    pub tier_ms: [i64; 4],
}

/// What a statement says of one month.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Figures {
    pub av: AvFigures,
    pub recording: RecordingFigures,
}

impl Sub for Figures {
    type Output = Figures;

    fn sub(self, o: Figures) -> Figures {
        let mut tier_ms = [0; 4];
        for (i, ms) in tier_ms.iter_mut().enumerate() {
            *ms = self.recording.tier_ms[i] - o.recording.tier_ms[i];
        }
        Figures {
            av: AvFigures {
                duration_ms: self.av.duration_ms - o.av.duration_ms,
                billable_minutes: self.av.billable_minutes - o.av.billable_minutes,
                package_minutes: self.av.package_minutes - o.av.package_minutes,
                pay_as_you_go_minutes: self.av.pay_as_you_go_minutes - o.av.pay_as_you_go_minutes,
            },
            recording: RecordingFigures {
                duration_ms: self.recording.duration_ms - o.recording.duration_ms,
                billable_minutes: self.recording.billable_minutes - o.recording.billable_minutes,
                tier_ms,
            },
        }
    }
}

impl Figures {
    pub fn is_zero(&self) -> bool {
        *self == Figures::default()
    }

    /// `self` plus `other` (a statement's own figures and its adjustments).
    pub fn plus(self, other: Figures) -> Figures {
        self - (Figures::default() - other)
    }
}

/// A statement's content: a function of the events and their
/// acknowledgement instants alone, so the same whoever computes it; kept as
/// it is once closed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatementBody {
    pub month: Month,
    pub own: Figures,
    /// The month's largest stored amount, in bytes.
    pub peak_bytes: u64,
    /// Per earlier closed month, ascending, what the events acknowledged
    /// during this month changed in it (months with no change left out).
    pub adjustments: Vec<(Month, Figures)>,
}

impl StatementBody {
    /// What the statement bills: its own month plus the adjustments.
    pub fn billed(&self) -> Figures {
        self.adjustments
            .iter()
            .fold(self.own, |sum, (_, adjustment)| sum.plus(*adjustment))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn month(text: &str) -> Month {
        Month::parse(text).unwrap()
    }

    #[test]
    fn months_parse_strictly_and_step() {
        for bad in [
            "2026-13",
            "2026-00",
            "2026-1",
            "26-01",
            "2026/01",
            "2026-011",
            "２０２６-01",
            "",
            "2026-0a",
            "+202-01",
        ] {
            assert_eq!(Month::parse(bad), None, "{bad}");
        }
        assert_eq!(month("2026-12").next(), month("2027-01"));
        assert_eq!(month("2026-01").prev(), month("2025-12"));
        assert_eq!(
            month("2024-02").last_day(),
            Day::parse_key("2024-02-29").unwrap()
        );
        assert_eq!(month("2026-11").to_string(), "2026-11");
        assert_eq!(
            month("2026-11").back(12).last().copied(),
            Some(month("2025-11"))
        );
    }

    #[test]
    fn a_statement_closes_its_grace_after_the_local_month_ends() {
        let shanghai = Calendar::new(BillingZone::parse("Asia/Shanghai").unwrap(), 259_200);
        let november = month("2026-11");
        let close = shanghai.closes_at(november);
        // December 1st 00:00 in Shanghai is 16:00 UTC the day before; + 72 h.
        assert_eq!(
            close,
            UtcMillis::parse_query_time("2026-12-03T16:00:00Z").unwrap()
        );
        assert!(!shanghai.is_closed(november, close.minus_ms(1)));
        assert!(shanghai.is_closed(november, close));
        assert_eq!(shanghai.statement_of(november, close.minus_ms(1)), november);
        assert_eq!(shanghai.statement_of(november, close), month("2026-12"));
        let late_day = Day::parse_key("2026-11-30").unwrap();
        assert!(!shanghai.is_late([late_day], close.minus_ms(1)));
        assert!(shanghai.is_late([late_day], close));
    }

    #[test]
    fn figures_subtract_into_adjustments_and_add_back() {
        let a = Figures {
            av: AvFigures {
                duration_ms: 90_000,
                billable_minutes: 2,
                package_minutes: 2,
                pay_as_you_go_minutes: 0,
            },
            recording: RecordingFigures {
                duration_ms: 5,
                billable_minutes: 1,
                tier_ms: [5, 0, 0, 0],
            },
        };
        let d = Figures::default() - a;
        assert_eq!(d.av.billable_minutes, -2);
        assert!(a.plus(d).is_zero());
        let body = StatementBody {
            month: month("2026-12"),
            own: a,
            peak_bytes: 0,
            adjustments: vec![(month("2026-11"), d)],
        };
        assert!(body.billed().is_zero());
    }
}
