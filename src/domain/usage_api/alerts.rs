//! The answer of `DescribeAlerts` (CONTRACT §12): an app's alerts, newest
//! first, as the bus carried them (less what names the app and its owner,
//! which the request already did).

use super::serialize::display;
use crate::domain::alert::{Alert, AlertKind};
use crate::domain::ids::AppId;
use crate::domain::zone::BillingZone;
use serde::Serialize;

/// The most alerts one answer lists.
pub const MAX_ALERTS: usize = 100;

#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct AlertEntry {
    pub alert_id: String,
    pub kind: AlertKind,
    pub package_id: String,
    pub package_name: String,
    /// In the app's zone, as the bus's `RaisedAt`.
    pub raised_at: String,
    pub remaining_minutes: u64,
}

#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct AlertsAnswer {
    pub request_id: String,
    #[serde(serialize_with = "display")]
    pub app_id: AppId,
    #[serde(serialize_with = "display")]
    pub time_zone: BillingZone,
    pub alerts: Vec<AlertEntry>,
}

impl AlertsAnswer {
    /// `alerts` newest first (ties by kind, then package, so the order is
    /// the same on every read), at most [`MAX_ALERTS`].
    pub fn new(request_id: &str, app: &AppId, zone: &BillingZone, mut alerts: Vec<Alert>) -> Self {
        alerts.sort_by(|a, b| {
            b.raised_at
                .cmp(&a.raised_at)
                .then_with(|| a.key.cmp(&b.key))
        });
        alerts.truncate(MAX_ALERTS);
        let alerts = alerts
            .iter()
            .map(|alert| AlertEntry {
                alert_id: alert.id(),
                kind: alert.key.kind,
                package_id: alert.key.package.to_string(),
                package_name: alert.package_name.to_string(),
                raised_at: zone.format(alert.raised_at),
                remaining_minutes: alert.remaining_minutes,
            })
            .collect();
        AlertsAnswer {
            request_id: request_id.to_owned(),
            app_id: app.clone(),
            time_zone: zone.clone(),
            alerts,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::alert::AlertKey;
    use crate::domain::ids::{Name, PackageId};
    use crate::domain::time::UtcMillis;

    fn alert(kind: AlertKind, package: &str, at: i64) -> Alert {
        Alert {
            app: AppId::parse("app-1").unwrap(),
            key: AlertKey {
                kind,
                package: PackageId::parse(package).unwrap(),
            },
            package_name: Name::parse("Annual").unwrap(),
            raised_at: UtcMillis(at),
            remaining_minutes: 3,
        }
    }

    #[test]
    fn newest_first_at_most_a_hundred_in_the_apps_zone() {
        let zone = BillingZone::parse("America/New_York").unwrap();
        let app = AppId::parse("app-1").unwrap();
        let mut alerts: Vec<Alert> = (0..150)
            .map(|i| {
                alert(
                    AlertKind::PackageLow,
                    &format!("p{i}"),
                    1_764_000_000_000 + i,
                )
            })
            .collect();
        alerts.push(alert(
            AlertKind::PackageExhausted,
            "p149",
            1_764_000_000_149,
        ));
        let answer = AlertsAnswer::new("r", &app, &zone, alerts);
        assert_eq!(answer.alerts.len(), MAX_ALERTS);
        assert_eq!(answer.alerts[0].package_id, "p149");
        assert_eq!(answer.alerts[0].kind, AlertKind::PackageLow, "ties by kind");
        assert_eq!(answer.alerts[1].kind, AlertKind::PackageExhausted);
        assert_eq!(answer.alerts[99].package_id, "p51");
        let json = serde_json::to_value(&answer).unwrap();
        assert_eq!(json["TimeZone"], "America/New_York");
        assert_eq!(json["Alerts"][0]["RaisedAt"], "2025-11-24T11:00:00-05:00");
        let keys: Vec<&str> = json["Alerts"][0]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            [
                "AlertId",
                "Kind",
                "PackageId",
                "PackageName",
                "RaisedAt",
                "RemainingMinutes"
            ]
        );
    }
}
