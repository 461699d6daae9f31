//! `rtc.app.registered`: an app belongs to an owner account and may be
//! named by the first registration that carries a name.

use super::EventBody;
use super::fields::{app_id, optional_name, parse_data, required_string};
use crate::domain::ids::AccountId;
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
}

/// The registration in `data`.
pub(super) fn registration(data: &str) -> Result<EventBody, String> {
    let data: RegistrationData = parse_data(data)?;
    let app = app_id(&data.app_id)?;
    let owner = required_string(&data.owner_account_id, "data.ownerAccountId")?;
    let owner = AccountId::parse(owner).ok_or("data.ownerAccountId must be exactly 12 digits")?;
    let name = optional_name(&data.app_name, "data.appName")?;
    Ok(EventBody::AppRegistered { app, owner, name })
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
            matches!(e.body, EventBody::AppRegistered { ref owner, .. } if owner.as_str() == "123456789012")
        );
    }

    #[test]
    fn registration_names_are_optional() {
        let name_of = |data: Value| match decoded(TYPE_APP_REGISTERED, data) {
            EventBody::AppRegistered { name, .. } => name,
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
                "appName with a tab",
                register(json!({"appName": "my\tschool"})),
                "appName",
            ),
        ]);
    }
}
