//! Paying for audio/video minutes: prepaid packages first, then pay-as-you-go.
//!
//! The rules, per app, over all its rows of all days:
//! - rows are taken in allocation order ([`RowOrder`]): the UTC day; then the
//!   class's start time (classes whose start is not known yet after the
//!   others); then the class id; then interactive before playback;
//! - a package is eligible for a row when `valid_from ≤ day ≤ valid_to`;
//! - a row takes its billable minutes (its milliseconds rounded up to whole
//!   minutes) from its eligible packages that have minutes left, in the order
//!   (`valid_to`, `valid_from`, package id): all it can from the first, the
//!   rest from the next; what no package covers is pay-as-you-go.
//!
//! Every row of a day has the same eligible packages, in the same order, so
//! what a whole day takes from each package depends only on the day's total
//! billable minutes, not on the order of its rows. [`Ledger::settle_day`]
//! uses that: the balances after a day need no class facts, and only the days
//! whose rows are shown need their rows ordered.

use super::class::{Package, UsageType};
use super::ids::{ClassId, PackageId};
use super::time::{Day, MINUTE_MS, UtcMillis};
use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

/// Milliseconds rounded up to whole minutes.
pub fn billable_minutes(ms: u64) -> u64 {
    ms.div_ceil(MINUTE_MS as u64)
}

/// Where a row stands in allocation order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RowOrder {
    pub day: Day,
    pub class_start: Option<UtcMillis>,
    pub class: ClassId,
    pub usage: UsageType,
}

impl Ord for RowOrder {
    fn cmp(&self, other: &Self) -> Ordering {
        // A known start sorts before an unknown one.
        let start = |o: &RowOrder| (o.class_start.is_none(), o.class_start);
        self.day
            .cmp(&other.day)
            .then_with(|| start(self).cmp(&start(other)))
            .then_with(|| {
                self.class
                    .as_str()
                    .as_bytes()
                    .cmp(other.class.as_str().as_bytes())
            })
            .then_with(|| self.usage.cmp(&other.usage))
    }
}

impl PartialOrd for RowOrder {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// What one row (or one day) took from each package, and what was left to pay.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Deduction {
    /// (index into [`Ledger::packages`], minutes), in deduction order.
    pub taken: Vec<(usize, u64)>,
    pub pay_as_you_go: u64,
}

impl Deduction {
    pub fn package_minutes(&self) -> u64 {
        self.taken.iter().map(|(_, m)| m).sum()
    }
}

/// The app's packages in deduction order and what each has paid so far.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ledger {
    packages: Vec<Package>,
    used: Vec<u64>,
}

impl Ledger {
    /// Nothing used yet.
    pub fn new(packages: impl IntoIterator<Item = Package>) -> Self {
        Self::with_used(packages, &BTreeMap::new())
    }

    /// Balances carried over: `used` minutes per package (unknown ids ignored).
    pub fn with_used(
        packages: impl IntoIterator<Item = Package>,
        used: &BTreeMap<PackageId, u64>,
    ) -> Self {
        let mut packages: Vec<Package> = packages.into_iter().collect();
        packages.sort_by(|a, b| {
            (a.valid_to, a.valid_from, a.id.as_str().as_bytes()).cmp(&(
                b.valid_to,
                b.valid_from,
                b.id.as_str().as_bytes(),
            ))
        });
        let used = packages
            .iter()
            .map(|p| used.get(&p.id).copied().unwrap_or(0).min(p.minutes))
            .collect();
        Ledger { packages, used }
    }

    /// In deduction order.
    pub fn packages(&self) -> &[Package] {
        &self.packages
    }

    pub fn used(&self, index: usize) -> u64 {
        self.used[index]
    }

    /// Minutes used per package id.
    pub fn used_by_id(&self) -> BTreeMap<PackageId, u64> {
        self.packages
            .iter()
            .zip(&self.used)
            .map(|(p, used)| (p.id.clone(), *used))
            .collect()
    }

    /// Takes `minutes` billed on `day` from the eligible packages in order.
    pub fn take(&mut self, day: Day, minutes: u64) -> Deduction {
        let mut left = minutes;
        let mut taken = Vec::new();
        for (i, package) in self.packages.iter().enumerate() {
            if left == 0 {
                break;
            }
            if day < package.valid_from || day > package.valid_to || package.refunded.is_some() {
                continue;
            }
            let take = left.min(package.minutes - self.used[i]);
            if take > 0 {
                self.used[i] += take;
                taken.push((i, take));
                left -= take;
            }
        }
        Deduction {
            taken,
            pay_as_you_go: left,
        }
    }

    /// Takes a whole day's rows at once (see the module's note: the same as
    /// taking them one by one in any order).
    pub fn settle_day(&mut self, day: Day, billable_minutes: u64) -> Deduction {
        self.take(day, billable_minutes)
    }

    /// Minutes left on the eligible packages of `day`.
    pub fn available(&self, day: Day) -> u64 {
        self.packages
            .iter()
            .zip(&self.used)
            .filter(|(p, _)| p.valid_from <= day && day <= p.valid_to && p.refunded.is_none())
            .map(|(p, used)| p.minutes - used)
            .sum()
    }
}

/// What every package had paid by the end of `day`, as a rollup prepared
/// it at the app's change counter `seq`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Balance {
    pub day: Day,
    pub used: BTreeMap<PackageId, u64>,
    pub seq: u64,
}

/// What the deduction of an app depends on, as ingestion and the rollup
/// record it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeductionState {
    /// Bumped by every commit that changes a row or adds a package.
    pub seq: u64,
    /// The days whose rows or packages changed since the last settle.
    pub dirty: BTreeSet<Day>,
    /// The last rollup that prepared balances for this app.
    pub settled: Option<Settled>,
}

/// A rollup run that prepared balances: at change counter `seq`, for every
/// day `from..=through`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Settled {
    pub seq: u64,
    pub from: Day,
    pub through: Day,
}

impl DeductionState {
    /// Whether a prepared balance still says what the rows and packages say.
    ///
    /// Its day must be prepared (not after `through`) and come before every
    /// day changed since (a change on or before its day changes it). And a
    /// balance on or after the last run's `from` must be that run's own: a
    /// run that lost the race to a newer change (its settle was refused) may
    /// have left balances computed without that change; the change's day is
    /// then in `dirty`, and those of its balances on earlier days equal the
    /// winner's.
    pub fn trusts(&self, balance: &Balance) -> bool {
        let Some(settled) = self.settled else {
            return false;
        };
        balance.day <= settled.through
            && self.dirty.first().is_none_or(|first| balance.day < *first)
            && (balance.day < settled.from || balance.seq == settled.seq)
    }

    /// The latest day whose balance can be trusted, if any could be.
    pub fn latest_trusted_day(&self) -> Option<Day> {
        let settled = self.settled?;
        let before_dirty = self.dirty.first().map_or(settled.through, |d| Day(d.0 - 1));
        Some(Day(settled.through.0.min(before_dirty.0)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ids::{AppId, Name};

    fn package(id: &str, minutes: u64, from: i64, to: i64) -> Package {
        Package {
            app: AppId::parse("app").unwrap(),
            id: PackageId::parse(id).unwrap(),
            name: Name::parse(id).unwrap(),
            minutes,
            valid_from: Day(from),
            valid_to: Day(to),
            acked: UtcMillis(0),
            refunded: None,
        }
    }

    #[test]
    fn billable_minutes_round_up() {
        assert_eq!(billable_minutes(0), 0);
        assert_eq!(billable_minutes(1), 1);
        assert_eq!(billable_minutes(60_000), 1);
        assert_eq!(billable_minutes(60_001), 2);
    }

    #[test]
    fn packages_in_order_of_expiry_then_start_then_id() {
        let ledger = Ledger::new([
            package("b", 10, 0, 30),
            package("a", 10, 0, 30),
            package("c", 10, 5, 20),
            package("d", 10, 1, 30),
        ]);
        let ids: Vec<&str> = ledger.packages().iter().map(|p| p.id.as_str()).collect();
        assert_eq!(ids, ["c", "a", "b", "d"]);
    }

    #[test]
    fn a_row_splits_across_packages_then_pays_as_it_goes() {
        let mut ledger = Ledger::new([package("a", 30, 0, 10), package("b", 50, 0, 20)]);
        let d = ledger.take(Day(5), 100);
        assert_eq!(d.taken, vec![(0, 30), (1, 50)]);
        assert_eq!(d.pay_as_you_go, 20);
        assert_eq!(ledger.take(Day(5), 7).pay_as_you_go, 7, "all used up");
    }

    #[test]
    fn only_packages_valid_on_the_day_pay() {
        let mut ledger = Ledger::new([package("later", 100, 10, 20), package("over", 100, 0, 3)]);
        assert_eq!(ledger.take(Day(5), 40).pay_as_you_go, 40, "between the two");
        assert_eq!(ledger.take(Day(3), 40).taken, vec![(0, 40)], "its last day");
        assert_eq!(
            ledger.take(Day(10), 40).taken,
            vec![(1, 40)],
            "its first day"
        );
        assert_eq!(ledger.available(Day(10)), 60);
    }

    #[test]
    fn a_day_settled_at_once_equals_its_rows_one_by_one_in_any_order() {
        let packages = [package("a", 25, 0, 9), package("b", 40, 2, 9)];
        let rows = [7_u64, 19, 3, 30, 11];
        let mut one_by_one = Ledger::new(packages.clone());
        let mut paid = 0;
        for minutes in rows.iter().rev() {
            paid += one_by_one.take(Day(4), *minutes).pay_as_you_go;
        }
        let mut at_once = Ledger::new(packages);
        let day = at_once.settle_day(Day(4), rows.iter().sum());
        assert_eq!(at_once, one_by_one);
        assert_eq!(day.pay_as_you_go, paid);
    }

    #[test]
    fn carried_over_balances_never_exceed_a_package() {
        let used = BTreeMap::from([(PackageId::parse("a").unwrap(), 99)]);
        let ledger = Ledger::with_used([package("a", 10, 0, 9)], &used);
        assert_eq!(ledger.used(0), 10);
        assert_eq!(ledger.available(Day(1)), 0);
    }

    #[test]
    fn allocation_order() {
        let row = |day, start: Option<i64>, class: &str, usage| RowOrder {
            day: Day(day),
            class_start: start.map(UtcMillis),
            class: ClassId::parse(class).unwrap(),
            usage,
        };
        let mut rows = [
            row(2, Some(0), "a", UsageType::Interactive),
            row(1, None, "a", UsageType::Interactive),
            row(1, Some(9), "z", UsageType::Playback),
            row(1, Some(9), "z", UsageType::Interactive),
            row(1, Some(5), "y", UsageType::Interactive),
            row(1, Some(9), "B", UsageType::Interactive),
        ];
        rows.sort();
        let keys: Vec<(i64, &str, UsageType)> = rows
            .iter()
            .map(|r| (r.day.0, r.class.as_str(), r.usage))
            .collect();
        assert_eq!(
            keys,
            [
                (1, "y", UsageType::Interactive),
                (1, "B", UsageType::Interactive),
                (1, "z", UsageType::Interactive),
                (1, "z", UsageType::Playback),
                (1, "a", UsageType::Interactive),
                (2, "a", UsageType::Interactive),
            ]
        );
    }

    /// The worked example of `docs/classes.md`, row by row.
    #[test]
    fn the_worked_example() {
        let day = |d: i64| Day::parse_key("2026-11-01").unwrap().0 + d - 1;
        let mut ledger = Ledger::new([
            package("B", 100, day(15), day(61)),
            package("A", 60, day(1), day(30)),
        ]);
        fn taken(d: Deduction, ledger: &Ledger) -> (Vec<(String, u64)>, u64) {
            let named = d
                .taken
                .iter()
                .map(|(i, m)| (ledger.packages()[*i].id.as_str().to_owned(), *m))
                .collect();
            (named, d.pay_as_you_go)
        }
        let rows = [(20, 80), (20, 50), (20, 20), (21, 30)];
        let expected = [
            (vec![("A".to_owned(), 60), ("B".to_owned(), 20)], 0),
            (vec![("B".to_owned(), 50)], 0),
            (vec![("B".to_owned(), 20)], 0),
            (vec![("B".to_owned(), 10)], 20),
        ];
        for ((d, minutes), expected) in rows.into_iter().zip(expected) {
            let deduction = ledger.take(Day(day(d)), minutes);
            assert_eq!(taken(deduction, &ledger), expected, "day {d}");
        }
    }

    #[test]
    fn balances_are_trusted_until_a_change_on_or_before_their_day() {
        let state = DeductionState {
            seq: 9,
            dirty: BTreeSet::from([Day(20)]),
            settled: Some(Settled {
                seq: 7,
                from: Day(15),
                through: Day(25),
            }),
        };
        let balance = |day, seq| Balance {
            day: Day(day),
            used: BTreeMap::new(),
            seq,
        };
        assert!(
            state.trusts(&balance(19, 7)),
            "the last run's, before the change"
        );
        assert!(!state.trusts(&balance(20, 7)), "on the changed day");
        assert!(
            !state.trusts(&balance(17, 6)),
            "a losing run's, after the last run's from"
        );
        assert!(
            state.trusts(&balance(10, 3)),
            "an older run's, before the last run's from"
        );
        assert_eq!(state.latest_trusted_day(), Some(Day(19)));
        let settled_only = DeductionState {
            dirty: BTreeSet::new(),
            ..state.clone()
        };
        assert!(!settled_only.trusts(&balance(26, 7)), "not prepared");
        assert_eq!(settled_only.latest_trusted_day(), Some(Day(25)));
        assert!(
            !DeductionState::default().trusts(&balance(1, 0)),
            "never settled"
        );
    }
}
