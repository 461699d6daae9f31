//! The answer of `DescribeUsagePackages`: each package of an app, what the
//! app's rows took from it, and where it stands on the request's day.

use super::serialize::{day_key, day_key_or_null, display};
use crate::domain::alert::run_out_dates;
use crate::domain::class::Package;
use crate::domain::deduction::Ledger;
use crate::domain::ids::{AppId, Name, PackageId};
use crate::domain::time::Day;
use crate::domain::zone::BillingZone;
use serde::Serialize;

/// Where a package stands on a given UTC day: the first that applies.
#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq, Hash)]
pub enum PackageStatus {
    /// Refunded: it takes part in no deduction.
    Refunded,
    /// The day is before `ValidFrom`.
    NotStarted,
    /// The day is after `ValidTo`.
    Expired,
    /// Nothing left.
    Exhausted,
    Active,
}

impl PackageStatus {
    pub fn on(today: Day, package: &Package, remaining_minutes: u64) -> Self {
        let (valid_from, valid_to) = (package.valid_from, package.valid_to);
        if package.refunded.is_some() {
            PackageStatus::Refunded
        } else if today < valid_from {
            PackageStatus::NotStarted
        } else if today > valid_to {
            PackageStatus::Expired
        } else if remaining_minutes == 0 {
            PackageStatus::Exhausted
        } else {
            PackageStatus::Active
        }
    }
}

/// One package of `DescribeUsagePackages`.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct PackageBalance {
    #[serde(serialize_with = "display")]
    pub package_id: PackageId,
    #[serde(serialize_with = "display")]
    pub package_name: Name,
    pub minutes: u64,
    pub used_minutes: u64,
    pub remaining_minutes: u64,
    #[serde(serialize_with = "day_key")]
    pub valid_from: Day,
    #[serde(serialize_with = "day_key")]
    pub valid_to: Day,
    pub status: PackageStatus,
    /// For an `Active` package, the local day the app's recent rate would
    /// use it up (`alert::run_out_dates`); null otherwise.
    #[serde(serialize_with = "day_key_or_null")]
    pub run_out_date: Option<Day>,
}

impl PackageBalance {
    /// `package` after rows took `used_minutes` from it, as it stands on
    /// `today` (the app's local date of the request).
    pub fn new(
        package: &Package,
        used_minutes: u64,
        today: Day,
        run_out_date: Option<Day>,
    ) -> Self {
        debug_assert!(
            used_minutes <= package.minutes,
            "a package paid more than it holds"
        );
        let remaining = package.minutes.saturating_sub(used_minutes);
        PackageBalance {
            package_id: package.id.clone(),
            package_name: package.name.clone(),
            minutes: package.minutes,
            used_minutes,
            remaining_minutes: remaining,
            valid_from: package.valid_from,
            valid_to: package.valid_to,
            status: PackageStatus::on(today, package, remaining),
            run_out_date,
        }
    }
}

/// `DescribeUsagePackages`.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct PackagesAnswer {
    pub request_id: String,
    #[serde(serialize_with = "display")]
    pub app_id: AppId,
    /// The app's zone: `ValidFrom`, `ValidTo` and today are its dates.
    #[serde(serialize_with = "display")]
    pub time_zone: BillingZone,
    pub packages: Vec<PackageBalance>,
}

impl PackagesAnswer {
    /// `packages` as given: they are listed in deduction order.
    pub fn new(
        request_id: &str,
        app: &AppId,
        zone: &BillingZone,
        packages: Vec<PackageBalance>,
    ) -> Self {
        PackagesAnswer {
            request_id: request_id.to_owned(),
            app_id: app.clone(),
            time_zone: zone.clone(),
            packages,
        }
    }

    /// Every package of `ledger`, after every row of the app has been taken
    /// from it, as it stands on `today` (the app's local date of the
    /// request); `recent_minutes` are the billable minutes of the app's
    /// last 7 complete local days, which project the run-out dates.
    pub fn from_ledger(
        request_id: &str,
        app: &AppId,
        zone: &BillingZone,
        ledger: &Ledger,
        today: Day,
        recent_minutes: u64,
    ) -> Self {
        let dates = run_out_dates(ledger, today, recent_minutes);
        let packages = ledger
            .packages()
            .iter()
            .zip(dates)
            .enumerate()
            .map(|(index, (package, date))| {
                PackageBalance::new(package, ledger.used(index), today, date)
            })
            .collect();
        Self::new(request_id, app, zone, packages)
    }
}

#[cfg(test)]
mod tests {
    use super::super::PackageCharge;
    use super::super::test_support::*;
    use super::*;
    use crate::domain::time::UtcMillis;

    fn package(id: &str, minutes: u64, from: &str, to: &str) -> Package {
        Package {
            app: app("app-1"),
            id: PackageId::parse(id).unwrap(),
            name: name(&format!("Package {id}")),
            minutes,
            valid_from: day(from),
            valid_to: day(to),
            acked: UtcMillis(0),
            refunded: None,
        }
    }

    #[test]
    fn package_status_on_the_request_day_first_that_applies() {
        let p = package("p", 100, "2026-11-10", "2026-11-20");
        let on = |today: &str, remaining| PackageStatus::on(day(today), &p, remaining);
        assert_eq!(on("2026-11-09", 0), PackageStatus::NotStarted);
        assert_eq!(on("2026-11-10", 5), PackageStatus::Active);
        assert_eq!(on("2026-11-10", 0), PackageStatus::Exhausted);
        assert_eq!(on("2026-11-20", 1), PackageStatus::Active);
        assert_eq!(on("2026-11-21", 0), PackageStatus::Expired);
        assert_eq!(on("2026-11-21", 5), PackageStatus::Expired);
        // A refunded package is Refunded whatever the day.
        let refunded = Package {
            refunded: Some(UtcMillis(1)),
            ..p.clone()
        };
        for today in ["2026-11-09", "2026-11-15", "2026-11-21"] {
            assert_eq!(
                PackageStatus::on(day(today), &refunded, 100),
                PackageStatus::Refunded
            );
        }
    }

    #[test]
    fn a_refunded_package_pays_nothing_and_shows_all_its_minutes() {
        let mut refunded = package("p-a", 500, "2026-11-01", "2026-12-31");
        refunded.refunded = Some(UtcMillis(1));
        let mut ledger = Ledger::new([refunded, package("p-b", 100, "2026-11-01", "2026-12-31")]);
        let taken = ledger.take(day("2026-11-05"), 150);
        assert_eq!((taken.package_minutes(), taken.pay_as_you_go), (100, 50));
        let answer: serde_json::Value = serde_json::to_value(PackagesAnswer::from_ledger(
            "r",
            &app("app-1"),
            &BillingZone::utc(),
            &ledger,
            day("2026-11-06"),
            0,
        ))
        .unwrap();
        let first = &answer["Packages"][0];
        assert_eq!(first["PackageId"], "p-a", "in its usual place");
        assert_eq!(
            (
                &first["Status"],
                &first["UsedMinutes"],
                &first["RemainingMinutes"]
            ),
            (
                &serde_json::json!("Refunded"),
                &serde_json::json!(0),
                &serde_json::json!(500)
            )
        );
    }

    #[test]
    fn describe_usage_packages_answer() {
        // Given in any order; the ledger keeps them in deduction order.
        let mut ledger = Ledger::new([
            package("p-b", 500, "2026-11-01", "2026-12-31"),
            package("p-next", 60, "2026-12-01", "2026-12-31"),
            package("p-a", 500, "2026-11-01", "2026-12-31"),
            package("p-old", 100, "2026-01-01", "2026-06-30"),
        ]);
        ledger.take(day("2026-03-01"), 40);
        let november = ledger.take(day("2026-11-05"), 620);
        assert_eq!(
            json(&PackageCharge::of(&ledger, &november)),
            concat!(
                r#"[{"PackageId":"p-a","PackageName":"Package p-a","Minutes":500},"#,
                r#"{"PackageId":"p-b","PackageName":"Package p-b","Minutes":120}]"#
            )
        );
        let shanghai = BillingZone::parse("Asia/Shanghai").unwrap();
        let answer = PackagesAnswer::from_ledger(
            "req-1",
            &app("app-1"),
            &shanghai,
            &ledger,
            day("2026-11-23"),
            0,
        );
        assert_eq!(
            json(&answer),
            concat!(
                r#"{"RequestId":"req-1","AppId":"app-1","TimeZone":"Asia/Shanghai","Packages":["#,
                r#"{"PackageId":"p-old","PackageName":"Package p-old","Minutes":100,"UsedMinutes":40,"RemainingMinutes":60,"ValidFrom":"2026-01-01","ValidTo":"2026-06-30","Status":"Expired","RunOutDate":null},"#,
                r#"{"PackageId":"p-a","PackageName":"Package p-a","Minutes":500,"UsedMinutes":500,"RemainingMinutes":0,"ValidFrom":"2026-11-01","ValidTo":"2026-12-31","Status":"Exhausted","RunOutDate":null},"#,
                r#"{"PackageId":"p-b","PackageName":"Package p-b","Minutes":500,"UsedMinutes":120,"RemainingMinutes":380,"ValidFrom":"2026-11-01","ValidTo":"2026-12-31","Status":"Active","RunOutDate":null},"#,
                r#"{"PackageId":"p-next","PackageName":"Package p-next","Minutes":60,"UsedMinutes":0,"RemainingMinutes":60,"ValidFrom":"2026-12-01","ValidTo":"2026-12-31","Status":"NotStarted","RunOutDate":null}]}"#
            )
        );
        // 70 minutes over the last 7 days: 10 a day use up p-a's nothing
        // and p-b's 380 on the 38th day from today.
        let busy = PackagesAnswer::from_ledger(
            "req-1",
            &app("app-1"),
            &shanghai,
            &ledger,
            day("2026-11-23"),
            70,
        );
        let dates: Vec<Option<String>> = busy
            .packages
            .iter()
            .map(|p| p.run_out_date.map(|d| d.key()))
            .collect();
        assert_eq!(dates, [None, None, Some("2026-12-30".into()), None]);
        assert_eq!(
            json(&PackagesAnswer::new(
                "req-2",
                &app("app-1"),
                &BillingZone::utc(),
                vec![]
            )),
            r#"{"RequestId":"req-2","AppId":"app-1","TimeZone":"UTC","Packages":[]}"#
        );
    }
}
