//! `rtc.app.registered`: an app belongs to an owner account, may be named
//! by the first registration that carries a name, and bills in the time zone
//! its first registration fixes.

use super::EventBody;
use super::fields::{app_id, optional_name, parse_data, required_string, truncate};
use crate::domain::ids::AccountId;
use crate::domain::registration::RegistrationRequest;
use crate::domain::zone::BillingZone;
use serde::Deserialize;
use serde_json::Value;

/// The `data` of `rtc.app.registered`, every field as given (see the
/// module root for why).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RegistrationData {
    app_id: Option<Value>,
    owner_account_id: Option<Value>,
    app_name: Option<Value>,
    time_zone: Option<Value>,
}

/// The registration in `data`.
pub(super) fn registration(data: &str) -> Result<EventBody, String> {
    let data: RegistrationData = parse_data(data)?;
    let app = app_id(&data.app_id)?;
    let owner = required_string(&data.owner_account_id, "data.ownerAccountId")?;
    let owner = AccountId::parse(owner).ok_or("data.ownerAccountId must be exactly 12 digits")?;
    let name = optional_name(&data.app_name, "data.appName")?;
    let zone = match &data.time_zone {
        None | Some(Value::Null) => None,
        Some(Value::String(text)) => Some(BillingZone::parse(text).ok_or_else(|| {
            format!(
                "data.timeZone must be a name of the IANA time zone database \
                 (such as Asia/Shanghai or UTC), not {:?}",
                truncate(text, 64)
            )
        })?),
        Some(_) => return Err("data.timeZone must be a string".into()),
    };
    Ok(EventBody::AppRegistered {
        app,
        request: RegistrationRequest { owner, name, zone },
    })
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::{TYPE_APP_REGISTERED, decode};
    use super::*;
    use crate::domain::ids::Name;
    use serde_json::json;

    fn registration_data() -> Value {
        json!({"appId": "app-1", "ownerAccountId": "123456789012"})
    }

    #[test]
    fn decodes_a_registration() {
        let body = json!({"specversion": "1.0", "id": "r", "source": "s", "type": TYPE_APP_REGISTERED,
                          "data": {"appId": "app-1", "ownerAccountId": "123456789012"}});
        let e = decode(&body.to_string(), now()).unwrap();
        assert!(
            matches!(e.body, EventBody::AppRegistered { ref request, .. } if request.owner.as_str() == "123456789012")
        );
    }

    #[test]
    fn registration_names_are_optional() {
        let name_of = |data: Value| match decoded(TYPE_APP_REGISTERED, data) {
            EventBody::AppRegistered { request, .. } => request.name,
            other => panic!("{other:?}"),
        };
        assert_eq!(name_of(registration_data()), None);
        assert_eq!(
            name_of(with(registration_data(), json!({"appName": null}))),
            None
        );
        let long = "x".repeat(128);
        for text in ["My school", "🏫 مدرسة שלום", long.as_str()] {
            assert_eq!(
                name_of(with(registration_data(), json!({"appName": text}))),
                Some(Name::parse(text).unwrap())
            );
        }
    }

    #[test]
    fn registration_zones_are_database_names() {
        let zone_of = |data: Value| match decoded(TYPE_APP_REGISTERED, data) {
            EventBody::AppRegistered { request, .. } => request.zone.map(|z| z.name()),
            other => panic!("{other:?}"),
        };
        assert_eq!(zone_of(registration_data()), None);
        assert_eq!(
            zone_of(with(registration_data(), json!({"timeZone": null}))),
            None
        );
        for name in ["Asia/Shanghai", "Asia/Calcutta", "UTC", "America/New_York"] {
            assert_eq!(
                zone_of(with(registration_data(), json!({"timeZone": name}))),
                Some(name)
            );
        }
    }

    #[test]
    fn malformed_registrations_are_refused() {
        let register = |patch: Value| event(TYPE_APP_REGISTERED, with(registration_data(), patch));
        let long_name = "x".repeat(129);
        assert_refused_naming(vec![
            (
                "appName twice",
                raw_event(
                    TYPE_APP_REGISTERED,
                    r#"{"appId":"app-1","ownerAccountId":"123456789012","appName":"a","appName":"b"}"#,
                ),
                "appName",
            ),
            (
                "appName number",
                register(json!({"appName": 42})),
                "appName",
            ),
            (
                "appName object",
                register(json!({"appName": {"en": "School"}})),
                "appName",
            ),
            ("empty appName", register(json!({"appName": ""})), "appName"),
            (
                "appName 129 characters",
                register(json!({"appName": long_name})),
                "appName",
            ),
            (
                "timeZone empty",
                register(json!({"timeZone": ""})),
                "timeZone",
            ),
            (
                "timeZone a fixed offset",
                register(json!({"timeZone": "+08:00"})),
                "timeZone",
            ),
            (
                "timeZone UTC+8",
                register(json!({"timeZone": "UTC+8"})),
                "timeZone",
            ),
            (
                "timeZone unknown",
                register(json!({"timeZone": "Asia/Atlantis"})),
                "timeZone",
            ),
            (
                "timeZone lower case",
                register(json!({"timeZone": "asia/shanghai"})),
                "timeZone",
            ),
            (
                "timeZone a number",
                register(json!({"timeZone": 8})),
                "timeZone",
            ),
            (
                "timeZone an object",
                register(json!({"timeZone": {"name": "UTC"}})),
                "timeZone",
            ),
            (
                "timeZone twice",
                raw_event(
                    TYPE_APP_REGISTERED,
                    r#"{"appId":"app-1","ownerAccountId":"123456789012","timeZone":"UTC","timeZone":"Asia/Tokyo"}"#,
                ),
                "timeZone",
            ),
            (
                "timeZone with Unicode",
                register(json!({"timeZone": "Asia/上海"})),
                "timeZone",
            ),
            (
                "appName with a tab",
                register(json!({"appName": "my\tschool"})),
                "appName",
            ),
        ]);
    }
}
