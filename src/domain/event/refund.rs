//! `rtc.package.refunded`: the app's package takes part in no deduction,
//! as if it had never been bought (CONTRACT §11).

use super::fields::{app_id, parse_data, required_string};
use crate::domain::class::Refund;
use crate::domain::ids::PackageId;
use serde::Deserialize;
use serde_json::Value;

/// The `data` of `rtc.package.refunded`, every field as given (see the
/// module root for why).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RefundData {
    app_id: Option<Value>,
    package_id: Option<Value>,
}

/// The refund in `data`: the same id rules as the purchase's.
pub(super) fn refund(data: &str) -> Result<Refund, String> {
    let data: RefundData = parse_data(data)?;
    let app = app_id(&data.app_id)?;
    let package = required_string(&data.package_id, "data.packageId")?;
    let package =
        PackageId::parse(package).ok_or("data.packageId must be 1-64 of A-Z a-z 0-9 - _ .")?;
    Ok(Refund { app, package })
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::{EventBody, TYPE_PACKAGE_REFUNDED, decode};
    use super::*;
    use crate::domain::ids::AppId;
    use serde_json::json;

    fn refund_data() -> Value {
        json!({"appId": "app-1", "packageId": "pkg-2026.11_a"})
    }

    #[test]
    fn a_refund_names_its_package() {
        assert_eq!(
            decoded(TYPE_PACKAGE_REFUNDED, refund_data()),
            EventBody::PackageRefunded(Refund {
                app: AppId::parse("app-1").unwrap(),
                package: PackageId::parse("pkg-2026.11_a").unwrap(),
            })
        );
    }

    #[test]
    fn bad_refunds_are_refused_naming_the_field() {
        let cases = [
            (without(refund_data(), "appId"), "data.appId"),
            (with(refund_data(), json!({"appId": "应用"})), "data.appId"),
            (without(refund_data(), "packageId"), "data.packageId"),
            (
                with(refund_data(), json!({"packageId": ""})),
                "data.packageId",
            ),
            (
                with(refund_data(), json!({"packageId": "pkg 1"})),
                "data.packageId",
            ),
            (
                with(refund_data(), json!({"packageId": "套餐"})),
                "data.packageId",
            ),
            (
                with(refund_data(), json!({"packageId": "p".repeat(65)})),
                "data.packageId",
            ),
            (
                with(refund_data(), json!({"packageId": 7})),
                "data.packageId",
            ),
        ];
        for (data, field) in cases {
            let reason = decode(&event(TYPE_PACKAGE_REFUNDED, data.clone()), now())
                .unwrap_err()
                .reason;
            assert!(reason.contains(field), "{data}: {reason}");
        }
        let twice = r#"{"appId":"a","packageId":"p","packageId":"q"}"#;
        assert!(
            decode(&raw_event(TYPE_PACKAGE_REFUNDED, twice), now())
                .unwrap_err()
                .reason
                .contains("duplicate")
        );
    }
}
