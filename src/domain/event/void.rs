//! `rtc.usage.voided`: an app takes back one of its earlier usage events
//! (a recording segment or a class session), named by its `source` and `id`.

use super::EventKey;
use super::fields::{app_id, parse_data, required_string};
use crate::domain::correction::{MAX_REASON_CHARS, Void};
use serde::Deserialize;
use serde_json::Value;

/// The `data` of `rtc.usage.voided`, every field as given (see the module
/// root for why).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct VoidData {
    app_id: Option<Value>,
    voided_source: Option<Value>,
    voided_id: Option<Value>,
    reason: Option<Value>,
}

/// The void in `data`.
pub(super) fn void(data: &str) -> Result<Void, String> {
    let data: VoidData = parse_data(data)?;
    let app = app_id(&data.app_id)?;
    let source = required_string(&data.voided_source, "data.voidedSource")?;
    let id = required_string(&data.voided_id, "data.voidedId")?;
    let reason = match &data.reason {
        None | Some(Value::Null) => None,
        Some(Value::String(text)) => {
            let chars = text.chars().count();
            if !(1..=MAX_REASON_CHARS).contains(&chars) || text.chars().any(char::is_control) {
                return Err(format!(
                    "data.reason must be 1–{MAX_REASON_CHARS} characters without control characters"
                ));
            }
            Some(text.clone())
        }
        Some(_) => return Err("data.reason must be a string".into()),
    };
    Ok(Void {
        app,
        voided: EventKey::of(source, id),
        reason,
    })
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::{EventBody, TYPE_USAGE_VOIDED, decode};
    use super::*;
    use crate::domain::ids::AppId;
    use serde_json::json;

    fn void_data() -> Value {
        json!({"appId": "app-1", "voidedSource": "/rec/1", "voidedId": "seg-9"})
    }

    #[test]
    fn a_void_names_its_event_by_source_and_id() {
        let body = decoded(
            TYPE_USAGE_VOIDED,
            with(void_data(), json!({"reason": "測試 wrong room 🎥"})),
        );
        assert_eq!(
            body,
            EventBody::UsageVoided(Void {
                app: AppId::parse("app-1").unwrap(),
                voided: EventKey::of("/rec/1", "seg-9"),
                reason: Some("測試 wrong room 🎥".into()),
            })
        );
        let EventBody::UsageVoided(v) = decoded(TYPE_USAGE_VOIDED, void_data()) else {
            panic!("a void")
        };
        assert_eq!(v.reason, None);
    }

    #[test]
    fn bad_voids_are_refused_naming_the_field() {
        let long = "é".repeat(MAX_REASON_CHARS + 1);
        let cases = [
            (without(void_data(), "appId"), "data.appId"),
            (with(void_data(), json!({"appId": "bad id"})), "data.appId"),
            (without(void_data(), "voidedSource"), "data.voidedSource"),
            (
                with(void_data(), json!({"voidedSource": ""})),
                "data.voidedSource",
            ),
            (
                with(void_data(), json!({"voidedSource": 7})),
                "data.voidedSource",
            ),
            (without(void_data(), "voidedId"), "data.voidedId"),
            (
                with(void_data(), json!({"voidedId": ["x"]})),
                "data.voidedId",
            ),
            (with(void_data(), json!({"reason": ""})), "data.reason"),
            (with(void_data(), json!({"reason": long})), "data.reason"),
            (
                with(void_data(), json!({"reason": "tab\there"})),
                "data.reason",
            ),
            (with(void_data(), json!({"reason": 5})), "data.reason"),
        ];
        for (data, field) in cases {
            let reason = decode(&event(TYPE_USAGE_VOIDED, data.clone()), now())
                .unwrap_err()
                .reason;
            assert!(reason.contains(field), "{data}: {reason}");
        }
        let exact = "é".repeat(MAX_REASON_CHARS);
        decoded(
            TYPE_USAGE_VOIDED,
            with(void_data(), json!({"reason": exact})),
        );
        let twice = r#"{"appId":"a","voidedSource":"s","voidedId":"1","voidedId":"2"}"#;
        assert!(
            decode(&raw_event(TYPE_USAGE_VOIDED, twice), now())
                .unwrap_err()
                .reason
                .contains("duplicate")
        );
    }
}
