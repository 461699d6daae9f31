//! `rtc.package.purchased`: a prepaid package of minutes and the days
//! (dates of the app's billing time zone) it is valid on.

use super::fields::{app_id, day, parse_data, required_name, required_string};
use crate::domain::class::{
    MAX_PACKAGE_LOOKBACK_DAYS, MAX_PACKAGE_MINUTES, MAX_PACKAGE_VALIDITY_DAYS, Package,
};
use crate::domain::ids::PackageId;
use crate::domain::time::{DAY_MS, UtcMillis};
use serde::Deserialize;
use serde_json::Value;

/// The `data` of `rtc.package.purchased`, every field as given (see the
/// module root for why).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PackageData {
    app_id: Option<Value>,
    package_id: Option<Value>,
    package_name: Option<Value>,
    minutes: Option<Value>,
    valid_from: Option<Value>,
    valid_to: Option<Value>,
}

/// The package in `data`, at time `now`.
pub(super) fn package(data: &str, now: UtcMillis) -> Result<Package, String> {
    let data: PackageData = parse_data(data)?;
    let app = app_id(&data.app_id)?;
    let id = required_string(&data.package_id, "data.packageId")?;
    let id = PackageId::parse(id).ok_or("data.packageId must be 1-64 of A-Z a-z 0-9 - _ .")?;
    let name = required_name(&data.package_name, "data.packageName")?;
    // Only a JSON integer: `1.0`, `"5"` and `1e3` are refused rather than
    // guessed at, since a package's minutes are money.
    let minutes = match &data.minutes {
        None | Some(Value::Null) => return Err("data.minutes is missing".into()),
        Some(value) => value
            .as_u64()
            .filter(|m| (1..=MAX_PACKAGE_MINUTES).contains(m))
            .ok_or_else(|| {
                format!("data.minutes must be an integer from 1 to {MAX_PACKAGE_MINUTES}")
            })?,
    };
    let valid_from = day(&data.valid_from, "data.validFrom")?;
    let valid_to = day(&data.valid_to, "data.validTo")?;
    if valid_to < valid_from {
        return Err("data.validTo must not be before data.validFrom".into());
    }
    if valid_to.0 - valid_from.0 > MAX_PACKAGE_VALIDITY_DAYS {
        return Err(format!(
            "data.validTo is more than {MAX_PACKAGE_VALIDITY_DAYS} days after data.validFrom"
        ));
    }
    if valid_from < now.minus_ms(MAX_PACKAGE_LOOKBACK_DAYS * DAY_MS).day() {
        return Err(format!(
            "data.validFrom is before the UTC date of {MAX_PACKAGE_LOOKBACK_DAYS} days ago"
        ));
    }
    Ok(Package {
        app,
        id,
        name,
        minutes,
        valid_from,
        valid_to,
        // Stamped when it is taken in.
        acked: UtcMillis(0),
        refunded: None,
    })
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::{EventBody, TYPE_PACKAGE_PURCHASED};
    use super::*;
    use crate::domain::ids::{AppId, Name};
    use serde_json::json;

    fn package_data() -> Value {
        json!({"appId": "app-1", "packageId": "pkg-1", "packageName": "Starter",
               "minutes": 1000, "validFrom": "2026-11-01", "validTo": "2027-10-31"})
    }

    #[test]
    fn decodes_a_package() {
        let name = "é".repeat(128);
        let body = decoded(
            TYPE_PACKAGE_PURCHASED,
            with(package_data(), json!({"packageName": name})),
        );
        assert_eq!(
            body,
            EventBody::PackagePurchased(Package {
                app: AppId::parse("app-1").unwrap(),
                id: PackageId::parse("pkg-1").unwrap(),
                name: Name::parse(&name).unwrap(),
                minutes: 1000,
                valid_from: utc_day("2026-11-01"),
                valid_to: utc_day("2027-10-31"),
                acked: UtcMillis(0),
                refunded: None,
            })
        );
    }

    #[test]
    fn package_edges_are_accepted() {
        for patch in [
            json!({"minutes": 1}),
            json!({"minutes": 100_000_000}),
            // One day, the first day it may start (the UTC date of now −
            // 367 days).
            json!({"validFrom": "2025-11-21", "validTo": "2025-11-21"}),
            // The longest validity: 366 days after the first.
            json!({"validFrom": "2026-11-23", "validTo": "2027-11-24"}),
            // Across a leap day.
            json!({"validFrom": "2027-03-01", "validTo": "2028-03-01"}),
        ] {
            decoded(TYPE_PACKAGE_PURCHASED, with(package_data(), patch));
        }
    }

    #[test]
    fn malformed_packages_are_refused() {
        let package = |patch: Value| event(TYPE_PACKAGE_PURCHASED, with(package_data(), patch));
        let long_name = "x".repeat(129);
        let long_id = "c".repeat(65);
        assert_refused_naming(vec![
            // A key given twice.
            (
                "minutes twice",
                raw_event(
                    TYPE_PACKAGE_PURCHASED,
                    r#"{"appId":"app-1","packageId":"p","packageName":"P","minutes":5,"minutes":5,"validFrom":"2026-11-01","validTo":"2026-11-30"}"#,
                ),
                "minutes",
            ),
            // Names.
            (
                "packageName NEL",
                package(json!({"packageName": "p\u{85}"})),
                "packageName",
            ),
            (
                "packageName 129 characters",
                package(json!({"packageName": long_name})),
                "packageName",
            ),
            (
                "empty packageName",
                package(json!({"packageName": ""})),
                "packageName",
            ),
            (
                "packageName array",
                package(json!({"packageName": ["P"]})),
                "packageName",
            ),
            // Minutes.
            ("minutes 0", package(json!({"minutes": 0})), "minutes"),
            (
                "minutes 100000001",
                package(json!({"minutes": 100_000_001})),
                "minutes",
            ),
            ("minutes 1.5", package(json!({"minutes": 1.5})), "minutes"),
            ("minutes 1.0", package(json!({"minutes": 1.0})), "minutes"),
            (
                "minutes string",
                package(json!({"minutes": "10"})),
                "minutes",
            ),
            (
                "minutes negative",
                package(json!({"minutes": -5})),
                "minutes",
            ),
            (
                "minutes exponent",
                raw_event(
                    TYPE_PACKAGE_PURCHASED,
                    r#"{"appId":"app-1","packageId":"p","packageName":"P","minutes":1e3,"validFrom":"2026-11-01","validTo":"2026-11-30"}"#,
                ),
                "minutes",
            ),
            (
                "minutes beyond 64 bits",
                raw_event(
                    TYPE_PACKAGE_PURCHASED,
                    r#"{"appId":"app-1","packageId":"p","packageName":"P","minutes":18446744073709551616,"validFrom":"2026-11-01","validTo":"2026-11-30"}"#,
                ),
                "minutes",
            ),
            // Validity.
            (
                "validTo before validFrom",
                package(json!({"validFrom": "2026-11-10", "validTo": "2026-11-09"})),
                "validTo",
            ),
            (
                "validTo 367 days after validFrom",
                package(json!({"validFrom": "2026-11-23", "validTo": "2027-11-25"})),
                "validTo",
            ),
            (
                "validFrom before the UTC date of 367 days ago",
                package(json!({"validFrom": "2025-11-20", "validTo": "2026-01-01"})),
                "validFrom",
            ),
            (
                "validFrom 30 February",
                package(json!({"validFrom": "2026-02-30", "validTo": "2026-12-01"})),
                "validFrom",
            ),
            (
                "validTo one-digit month",
                package(json!({"validTo": "2027-1-01"})),
                "validTo",
            ),
            (
                "validFrom without dashes",
                package(json!({"validFrom": "20261101"})),
                "validFrom",
            ),
            (
                "validFrom with a time",
                package(json!({"validFrom": "2026-11-01T00:00:00Z"})),
                "validFrom",
            ),
            (
                "validFrom number",
                package(json!({"validFrom": 20_261_101})),
                "validFrom",
            ),
            // Identifiers.
            (
                "packageId with a slash",
                package(json!({"packageId": "pkg/1"})),
                "packageId",
            ),
            (
                "packageId 65 characters",
                package(json!({"packageId": long_id})),
                "packageId",
            ),
            // Missing and null.
            (
                "no validTo",
                event(TYPE_PACKAGE_PURCHASED, without(package_data(), "validTo")),
                "validTo",
            ),
            ("null minutes", package(json!({"minutes": null})), "minutes"),
            // Data not an object.
            (
                "package data a string",
                event(TYPE_PACKAGE_PURCHASED, json!(package_data().to_string())),
                "data must be a JSON object",
            ),
        ]);
    }
}
