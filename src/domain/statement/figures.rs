//! A month's figures as the world stood at an instant: the stored rows,
//! hours and class recordings with the late usage acknowledged at or after
//! that instant taken back out, deducted with the packages known then.
//! Usage acknowledged before a month closed is never late for it, so a
//! closed month's figures at its close are exact whenever they are told.

use super::{AvFigures, Figures, Month, RecordingFigures};
use crate::domain::class::Package;
use crate::domain::commit::{Counted, LateWrite, RowKey, Sign};
use crate::domain::deduction::{Ledger, billable_minutes};
use crate::domain::details::{RecordingRow, RowRecord, recording_rows};
use crate::domain::ids::ClassId;
use crate::domain::time::{Day, Hour};
use crate::domain::usage::{ModeUsage, Tier};
use crate::domain::zone::BillingZone;
use std::collections::BTreeMap;

/// What a month's figures are computed from, as stored now.
pub struct MonthInputs {
    /// Audio/video rows of every day up to the month's last (the deduction
    /// takes days in order), or of the month alone with `used_before`.
    pub rows: Vec<RowRecord>,
    /// The packages in deduction order, as known at the instant.
    pub packages: Vec<Package>,
    /// What each package had paid before the rows' first day, if the rows
    /// start later than the app's first.
    pub used_before: BTreeMap<crate::domain::ids::PackageId, u64>,
    /// The month's recording hours (usage and the part before each cut).
    pub hours: Vec<(Hour, ModeUsage, ModeUsage)>,
    /// The month's class recordings per local day.
    pub class_recordings: Vec<(Day, ClassId, u64)>,
    /// Late usage acknowledged at or after the instant: taken back out.
    pub late: Vec<LateWrite>,
}

/// Adds `ms` to `total` for usage that counts (`forward`), or takes it out.
fn shift(total: &mut i64, ms: u64, forward: bool) {
    if forward {
        *total += ms as i64;
    } else {
        *total -= ms as i64;
    }
}

/// The figures of `month` in `zone` from `inputs`.
pub fn month_figures(zone: &BillingZone, month: Month, inputs: MonthInputs) -> Figures {
    let (first, last) = (month.first_day(), month.last_day());
    // Audio/video: each row's milliseconds, less late sessions (a late
    // void's session is put back: it still counted then).
    let mut rows: BTreeMap<RowKey, i64> = BTreeMap::new();
    for row in inputs.rows {
        *rows.entry(row.key).or_default() += row.ms as i64;
    }
    // Recording: milliseconds per (local day, tier), and per (day, class).
    let mut tiers: BTreeMap<(Day, usize), i64> = BTreeMap::new();
    for (hour, usage, head) in &inputs.hours {
        for (at, ms) in zone.pieces(*hour, usage.both_modes(), head.both_modes()) {
            for tier in Tier::ALL {
                *tiers.entry((zone.day_of(at), tier.index())).or_default() += ms.get(tier) as i64;
            }
        }
    }
    let mut classes: BTreeMap<(Day, ClassId), i64> = BTreeMap::new();
    for (day, class, ms) in inputs.class_recordings {
        *classes.entry((day, class)).or_default() += ms as i64;
    }
    for late in &inputs.late {
        // Usage added late was not there at the instant; usage a late void
        // took back was.
        let forward = late.sign == Sign::Take;
        let (start, end) = late.usage.interval();
        for part in zone.split(start, end) {
            match &late.usage {
                Counted::Session(s) => {
                    let key = RowKey {
                        app: s.app.clone(),
                        day: part.day,
                        class: s.class.clone(),
                        usage: s.usage,
                    };
                    shift(rows.entry(key).or_default(), part.ms, forward);
                }
                Counted::Segment(s) => {
                    if !(first..=last).contains(&part.day) {
                        continue;
                    }
                    shift(
                        tiers.entry((part.day, s.tier.index())).or_default(),
                        part.ms,
                        forward,
                    );
                    if let Some(class) = &s.class {
                        shift(
                            classes.entry((part.day, class.clone())).or_default(),
                            part.ms,
                            forward,
                        );
                    }
                }
            }
        }
    }
    let mut av = AvFigures::default();
    let mut day_minutes: BTreeMap<Day, u64> = BTreeMap::new();
    for (key, ms) in &rows {
        let ms = (*ms).max(0) as u64;
        if ms == 0 || key.day > last {
            continue;
        }
        *day_minutes.entry(key.day).or_default() += billable_minutes(ms);
        if key.day >= first {
            av.duration_ms += ms as i64;
            av.billable_minutes += billable_minutes(ms) as i64;
        }
    }
    let mut ledger = Ledger::with_used(inputs.packages, &inputs.used_before);
    for (day, minutes) in day_minutes {
        let deduction = ledger.settle_day(day, minutes);
        if day >= first {
            av.package_minutes += deduction.package_minutes() as i64;
            av.pay_as_you_go_minutes += deduction.pay_as_you_go as i64;
        }
    }
    let mut recording = RecordingFigures::default();
    let mut per_day: BTreeMap<Day, u64> = BTreeMap::new();
    for ((day, tier), ms) in &tiers {
        if (first..=last).contains(day) {
            let ms = (*ms).max(0);
            recording.tier_ms[*tier] += ms;
            *per_day.entry(*day).or_default() += ms as u64;
        }
    }
    let class_days: Vec<(Day, ClassId, u64)> = classes
        .into_iter()
        .filter(|((day, _), ms)| (first..=last).contains(day) && *ms > 0)
        .map(|((day, class), ms)| (day, class, ms as u64))
        .collect();
    for RecordingRow { ms, .. } in recording_rows(per_day, class_days, None) {
        recording.duration_ms += ms as i64;
        recording.billable_minutes += billable_minutes(ms) as i64;
    }
    Figures { av, recording }
}
