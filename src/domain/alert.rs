//! Alerts (CONTRACT §12): a package running low, out, or about to expire,
//! decided from §7's deduction as it stands after an acknowledged event.
//!
//! Each alert is raised at most once, ever, for its (app, kind, package):
//! a later void, refund or late session that makes its condition false and
//! then true again raises nothing new. So what is decided here is only ever
//! "which conditions hold now that have never been raised"; the store keeps
//! the once.
//!
//! Deciding needs the whole deduction, which reads the app's rows. To keep
//! that off the path of the ordinary event, a decision also says how many
//! more billable minutes the app can use, anywhere in its history, before a
//! condition not yet raised could hold ([`Decision::headroom`]). That bound
//! is sound because the deduction is monotone: adding billable minutes to
//! any row never lowers what any package has paid, and raises the total paid
//! by at most the minutes added, so no package moves further towards a
//! threshold than the minutes added since. Ingestion adds an upper bound of
//! each commit's billable minutes to a counter; only when the counter
//! reaches the limit is the deduction read again. A new package or a refund
//! moves minutes between packages without adding any, so either makes the
//! invocation that acknowledges it decide afresh.

use super::class::Package;
use super::deduction::Ledger;
use super::ids::{AccountId, AppId, Name, PackageId};
use super::time::{Day, UtcMillis};
use super::usage_api::packages::PackageStatus;
use super::zone::BillingZone;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;

/// What the bus carries alerts as (CONTRACT §12).
pub const ALERT_SOURCE: &str = "rtc.usage";
pub const ALERT_DETAIL_TYPE: &str = "rtc.usage.alert";

/// A package expiring this many days after the app's today, or fewer, is
/// `PackageExpiring`.
pub const EXPIRING_WITHIN_DAYS: i64 = 7;

/// The complete local days before today whose average rate projects a
/// package's run-out date.
pub const RUN_OUT_RATE_DAYS: i64 = 7;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum AlertKind {
    /// At most a fifth of the package's minutes left.
    PackageLow,
    /// Nothing left: the app's usage goes pay-as-you-go from here on.
    PackageExhausted,
    /// An active package ends within [`EXPIRING_WITHIN_DAYS`] local days.
    PackageExpiring,
}

impl AlertKind {
    pub const ALL: [AlertKind; 3] = [
        AlertKind::PackageLow,
        AlertKind::PackageExhausted,
        AlertKind::PackageExpiring,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::PackageLow => "PackageLow",
            AlertKind::PackageExhausted => "PackageExhausted",
            AlertKind::PackageExpiring => "PackageExpiring",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == text)
    }
}

/// What identifies an alert within its app: raised at most once, ever.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AlertKey {
    pub kind: AlertKind,
    pub package: PackageId,
}

/// An alert as decided: everything every delivery of it carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Alert {
    pub app: AppId,
    pub key: AlertKey,
    pub package_name: Name,
    pub raised_at: UtcMillis,
    /// The package's minutes left when it was raised.
    pub remaining_minutes: u64,
}

impl Alert {
    /// The same on every delivery, and for every decision of the same
    /// (app, kind, package): a digest of the three, so a consumer can dedupe
    /// on it without asking this service.
    pub fn id(&self) -> String {
        alert_id(&self.app, &self.key)
    }

    /// The event's `Detail`, with `RaisedAt` in the app's zone.
    pub fn detail(&self, owner: &AccountId, zone: &BillingZone) -> AlertDetail {
        AlertDetail {
            alert_id: self.id(),
            app_id: self.app.to_string(),
            owner_account_id: owner.to_string(),
            kind: self.key.kind,
            package_id: self.key.package.to_string(),
            package_name: self.package_name.to_string(),
            raised_at: zone.format(self.raised_at),
            remaining_minutes: self.remaining_minutes,
        }
    }
}

pub fn alert_id(app: &AppId, key: &AlertKey) -> String {
    // Ids cannot hold a NUL, so the parts cannot run into each other.
    let mut digest = Sha256::new();
    for part in [app.as_str(), key.kind.as_str(), key.package.as_str()] {
        digest.update(part.as_bytes());
        digest.update([0]);
    }
    let hash = digest.finalize();
    let hex: String = hash[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("alert-{hex}")
}

/// The EventBridge event's `Detail` (CONTRACT §12).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AlertDetail {
    pub alert_id: String,
    pub app_id: String,
    pub owner_account_id: String,
    pub kind: AlertKind,
    pub package_id: String,
    pub package_name: String,
    pub raised_at: String,
    pub remaining_minutes: u64,
}

/// What the deduction shows, against the alerts raised before.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Decision {
    /// Conditions that hold and were never raised, in deduction order.
    pub raise: Vec<Alert>,
    /// Billable minutes the app can add before a condition not raised (by
    /// now or by this decision) could hold; `None` when none ever can (every
    /// package's low and exhausted alerts raised, or no packages).
    pub headroom: Option<u64>,
}

/// Decides the alerts of `ledger` (every row of the app taken) on the app's
/// local `today`, at the instant `at`. `raised` are the alerts raised
/// before. `PackageExpiring` is part of every decision: any invocation that
/// decides may raise it first.
pub fn decide(
    app: &AppId,
    ledger: &Ledger,
    today: Day,
    raised: &BTreeSet<AlertKey>,
    at: UtcMillis,
) -> Decision {
    let mut decision = Decision::default();
    for (index, package) in ledger.packages().iter().enumerate() {
        if package.refunded.is_some() {
            continue;
        }
        let remaining = package.minutes - ledger.used(index);
        let status = PackageStatus::on(today, package, remaining);
        for kind in AlertKind::ALL {
            let key = AlertKey {
                kind,
                package: package.id.clone(),
            };
            if raised.contains(&key) {
                continue;
            }
            match distance(kind, package, remaining, status, today) {
                Some(0) => decision.raise.push(Alert {
                    app: app.clone(),
                    key,
                    package_name: package.name.clone(),
                    raised_at: at,
                    remaining_minutes: remaining,
                }),
                Some(minutes) => {
                    decision.headroom = Some(decision.headroom.map_or(minutes, |h| h.min(minutes)))
                }
                None => {}
            }
        }
    }
    decision
}

/// How many more minutes the package must pay before `kind` holds: 0 when
/// it holds now; `None` when minutes alone never make it hold.
fn distance(
    kind: AlertKind,
    package: &Package,
    remaining: u64,
    status: PackageStatus,
    today: Day,
) -> Option<u64> {
    match kind {
        // RemainingMinutes × 5 ≤ Minutes, i.e. remaining ≤ ⌊minutes / 5⌋.
        AlertKind::PackageLow => Some(remaining.saturating_sub(package.minutes / 5)),
        AlertKind::PackageExhausted => Some(remaining),
        AlertKind::PackageExpiring => (status == PackageStatus::Active
            && package.valid_to.0 - today.0 <= EXPIRING_WITHIN_DAYS)
            .then_some(0),
    }
}

/// `RunOutDate` of each package of `ledger`, in its order: for an `Active`
/// package on `today`, the first local day on which the app's billable
/// minutes, continuing from today at the average of the last
/// [`RUN_OUT_RATE_DAYS`] complete days (`recent_minutes` in all), would use
/// up what is left of it and of every package before it in deduction order
/// that can still pay (not refunded, not expired); `None` when that day is
/// after its `validTo`, when the average is 0, and for any other status.
pub fn run_out_dates(ledger: &Ledger, today: Day, recent_minutes: u64) -> Vec<Option<Day>> {
    let mut left_before = 0u64;
    let mut dates = Vec::with_capacity(ledger.packages().len());
    for (index, package) in ledger.packages().iter().enumerate() {
        let remaining = package.minutes - ledger.used(index);
        let can_pay = package.refunded.is_none() && package.valid_to >= today;
        if can_pay {
            left_before += remaining;
        }
        let status = PackageStatus::on(today, package, remaining);
        let date = (status == PackageStatus::Active && recent_minutes > 0)
            .then(|| {
                // Today is the first day at the average rate: the day on
                // which `days × recent / RATE_DAYS ≥ left`.
                let needed = u128::from(left_before) * RUN_OUT_RATE_DAYS as u128;
                let days = needed.div_ceil(u128::from(recent_minutes));
                let offset = i64::try_from(days).unwrap_or(i64::MAX).saturating_sub(1);
                Day(today.0.saturating_add(offset))
            })
            .filter(|day| *day <= package.valid_to);
        dates.push(date);
    }
    dates
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app() -> AppId {
        AppId::parse("app-1").unwrap()
    }

    fn package(id: &str, minutes: u64, from: i64, to: i64) -> Package {
        Package {
            app: app(),
            id: PackageId::parse(id).unwrap(),
            name: Name::parse(&format!("Package {id}")).unwrap(),
            minutes,
            valid_from: Day(from),
            valid_to: Day(to),
            acked: UtcMillis(0),
            refunded: None,
        }
    }

    fn kinds(decision: &Decision) -> Vec<(AlertKind, String, u64)> {
        decision
            .raise
            .iter()
            .map(|a| (a.key.kind, a.key.package.to_string(), a.remaining_minutes))
            .collect()
    }

    #[test]
    fn low_is_a_fifth_or_less_and_exhausted_is_nothing_left() {
        let today = Day(100);
        let decide_after = |used: u64| {
            let mut ledger = Ledger::new([package("p", 100, 0, 400)]);
            ledger.take(Day(50), used);
            decide(&app(), &ledger, today, &BTreeSet::new(), UtcMillis(7))
        };
        let nothing = decide_after(79);
        assert!(nothing.raise.is_empty());
        assert_eq!(nothing.headroom, Some(1), "one minute from low");
        let low = decide_after(80);
        assert_eq!(kinds(&low), [(AlertKind::PackageLow, "p".into(), 20)]);
        assert_eq!(low.headroom, Some(20), "twenty minutes from exhausted");
        let out = decide_after(100);
        assert_eq!(
            kinds(&out),
            [
                (AlertKind::PackageLow, "p".into(), 0),
                (AlertKind::PackageExhausted, "p".into(), 0)
            ],
            "a package emptied at once has both held"
        );
        assert_eq!(out.headroom, None);
        // A package of fewer than 5 minutes is low only when empty.
        let mut small = Ledger::new([package("s", 4, 0, 400)]);
        small.take(Day(50), 3);
        assert!(
            decide(&app(), &small, today, &BTreeSet::new(), UtcMillis(0))
                .raise
                .is_empty()
        );
    }

    #[test]
    fn raised_alerts_are_never_raised_again_and_refunded_packages_never() {
        let mut ledger = Ledger::new([package("p", 100, 0, 400), package("q", 10, 0, 300)]);
        ledger.take(Day(50), 105);
        let raised: BTreeSet<AlertKey> = [AlertKind::PackageLow, AlertKind::PackageExhausted]
            .into_iter()
            .map(|kind| AlertKey {
                kind,
                package: PackageId::parse("q").unwrap(),
            })
            .collect();
        let decision = decide(&app(), &ledger, Day(100), &raised, UtcMillis(0));
        assert_eq!(kinds(&decision), [(AlertKind::PackageLow, "p".into(), 5)]);
        assert_eq!(decision.headroom, Some(5));
        let mut refunded = package("r", 10, 0, 400);
        refunded.refunded = Some(UtcMillis(1));
        let ledger = Ledger::new([refunded]);
        let decision = decide(&app(), &ledger, Day(100), &BTreeSet::new(), UtcMillis(0));
        assert_eq!(decision, Decision::default());
    }

    #[test]
    fn expiring_is_an_active_package_ending_within_seven_local_days() {
        let today = Day(100);
        let at = |to: i64, from: i64, used: u64| {
            let mut ledger = Ledger::new([package("p", 100, from, to)]);
            ledger.take(Day(from), used);
            kinds(&decide(
                &app(),
                &ledger,
                today,
                &BTreeSet::new(),
                UtcMillis(0),
            ))
            .into_iter()
            .filter(|(k, _, _)| *k == AlertKind::PackageExpiring)
            .count()
        };
        assert_eq!(at(107, 0, 0), 1, "seven days after today");
        assert_eq!(at(100, 0, 0), 1, "its last day");
        assert_eq!(at(108, 0, 0), 0, "eight days after today");
        assert_eq!(at(99, 0, 0), 0, "expired");
        assert_eq!(at(105, 101, 0), 0, "not started");
        assert_eq!(at(105, 0, 100), 0, "exhausted");
    }

    #[test]
    fn headroom_is_the_nearest_threshold_of_any_package() {
        let mut ledger = Ledger::new([package("a", 1000, 0, 200), package("b", 50, 0, 100)]);
        ledger.take(Day(10), 30);
        // b comes first (ends first): 20 left, low at 10: 10 away; a: 1000
        // left, low at 200: 800 away.
        let decision = decide(&app(), &ledger, Day(10), &BTreeSet::new(), UtcMillis(0));
        assert!(decision.raise.is_empty());
        assert_eq!(decision.headroom, Some(10));
        let empty = decide(
            &app(),
            &Ledger::new([]),
            Day(10),
            &BTreeSet::new(),
            UtcMillis(0),
        );
        assert_eq!(empty.headroom, None);
    }

    #[test]
    fn ids_are_stable_and_distinct_and_details_carry_every_field() {
        let key = |kind, p: &str| AlertKey {
            kind,
            package: PackageId::parse(p).unwrap(),
        };
        let a = alert_id(&app(), &key(AlertKind::PackageLow, "p"));
        assert_eq!(a, alert_id(&app(), &key(AlertKind::PackageLow, "p")));
        assert_eq!(a.len(), "alert-".len() + 32);
        assert_ne!(a, alert_id(&app(), &key(AlertKind::PackageExhausted, "p")));
        assert_ne!(
            a,
            alert_id(
                &AppId::parse("app-2").unwrap(),
                &key(AlertKind::PackageLow, "p")
            )
        );
        let alert = Alert {
            app: app(),
            key: key(AlertKind::PackageExhausted, "pkg-1.a_b"),
            package_name: Name::parse("年度套餐 🎓").unwrap(),
            raised_at: UtcMillis(1_764_462_600_999),
            remaining_minutes: 0,
        };
        let zone = BillingZone::parse("Asia/Shanghai").unwrap();
        let owner = AccountId::parse("123456789012").unwrap();
        let json = serde_json::to_value(alert.detail(&owner, &zone)).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "AlertId": alert.id(), "AppId": "app-1", "OwnerAccountId": "123456789012",
                "Kind": "PackageExhausted", "PackageId": "pkg-1.a_b", "PackageName": "年度套餐 🎓",
                "RaisedAt": "2025-11-30T08:30:00+08:00", "RemainingMinutes": 0
            })
        );
    }

    /// `events/eventbridge-alert.json` is an alert as the consumer queue
    /// receives it: its detail has exactly the fields an alert carries.
    #[test]
    fn the_sample_alert_event_is_an_alert_as_published() {
        let event: serde_json::Value =
            serde_json::from_str(include_str!("../../events/eventbridge-alert.json")).unwrap();
        assert_eq!(event["source"], ALERT_SOURCE);
        assert_eq!(event["detail-type"], ALERT_DETAIL_TYPE);
        let detail = &event["detail"];
        let alert = Alert {
            app: AppId::parse(detail["AppId"].as_str().unwrap()).unwrap(),
            key: AlertKey {
                kind: AlertKind::parse(detail["Kind"].as_str().unwrap()).unwrap(),
                package: PackageId::parse(detail["PackageId"].as_str().unwrap()).unwrap(),
            },
            package_name: Name::parse(detail["PackageName"].as_str().unwrap()).unwrap(),
            raised_at: UtcMillis(1_795_170_605_000),
            remaining_minutes: detail["RemainingMinutes"].as_u64().unwrap(),
        };
        let owner = AccountId::parse(detail["OwnerAccountId"].as_str().unwrap()).unwrap();
        let zone = BillingZone::parse("Asia/Shanghai").unwrap();
        assert_eq!(
            &serde_json::to_value(alert.detail(&owner, &zone)).unwrap(),
            detail
        );
    }

    #[test]
    fn run_out_dates_project_the_last_seven_days_rate() {
        let today = Day(100);
        // Deduction order: a (ends 120), b (ends 300).
        let mut ledger = Ledger::new([package("a", 100, 0, 120), package("b", 700, 0, 300)]);
        ledger.take(Day(95), 30);
        // 70 left on a, 700 on b; 70 minutes over 7 days: 10 a day.
        let dates = run_out_dates(&ledger, today, 70);
        assert_eq!(dates, [Some(Day(106)), Some(Day(176))]);
        // No recent usage: never.
        assert_eq!(run_out_dates(&ledger, today, 0), [None, None]);
        // A day past validTo: none.
        assert_eq!(run_out_dates(&ledger, today, 1), [None, None]);
        // A rate that uses a up today: today.
        assert_eq!(run_out_dates(&ledger, today, 490)[0], Some(today));
        // An expired package's leftovers cannot pay, and have no date.
        let mut ledger = Ledger::new([package("old", 100, 0, 50), package("b", 70, 0, 300)]);
        ledger.take(Day(10), 1);
        assert_eq!(run_out_dates(&ledger, today, 70), [None, Some(Day(106))]);
    }
}
