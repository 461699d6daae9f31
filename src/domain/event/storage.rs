//! `rtc.storage.measured`: how many recording bytes an app stored at an
//! instant.

use super::fields::{app_id, instant, parse_data};
use crate::domain::storage::{MAX_BYTES, Measurement};
use crate::domain::time::UtcMillis;
use serde::Deserialize;
use serde_json::Value;

/// The `data` of `rtc.storage.measured`, every field as given (see the
/// module root for why).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MeasurementData {
    app_id: Option<Value>,
    bytes: Option<Value>,
    measured_at: Option<Value>,
}

/// The measurement in `data`, at time `now`.
pub(super) fn measurement(data: &str, now: UtcMillis) -> Result<Measurement, String> {
    let data: MeasurementData = parse_data(data)?;
    let app = app_id(&data.app_id)?;
    // Only a JSON integer every parser reads exactly: `1.5`, `1.0`, `"5"`
    // and 2^53 are refused rather than rounded.
    let bytes = match &data.bytes {
        None | Some(Value::Null) => return Err("data.bytes is missing".into()),
        Some(value) => value
            .as_u64()
            .filter(|b| *b <= MAX_BYTES)
            .ok_or_else(|| format!("data.bytes must be an integer from 0 to {MAX_BYTES}"))?,
    };
    let at = instant(&data.measured_at, "data.measuredAt", now)?;
    Ok(Measurement { app, bytes, at })
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::{EventBody, TYPE_STORAGE_MEASURED};
    use super::*;
    use crate::domain::time::DAY_MS;
    use serde_json::json;

    fn data() -> Value {
        json!({"appId": "app-1", "bytes": 1_048_576, "measuredAt": "2026-11-23T10:00:00Z"})
    }

    /// A measurement event with the fields of `patch` set.
    fn measured(patch: Value) -> String {
        event(TYPE_STORAGE_MEASURED, with(data(), patch))
    }

    fn missing(field: &str) -> String {
        event(TYPE_STORAGE_MEASURED, without(data(), field))
    }

    fn raw(data: &str) -> String {
        raw_event(TYPE_STORAGE_MEASURED, data)
    }

    fn decoded_with(patch: Value) -> Measurement {
        match decoded(TYPE_STORAGE_MEASURED, with(data(), patch)) {
            EventBody::StorageMeasured(m) => m,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn decodes_a_measurement_with_any_offset_truncated_to_the_millisecond() {
        let m = decoded_with(json!({"measuredAt": "2026-11-23T18:00:00.1239+08:00"}));
        assert_eq!(m.app.as_str(), "app-1");
        assert_eq!(m.bytes, 1_048_576);
        assert_eq!(m.at, t("2026-11-23T10:00:00Z").plus_ms(123));
        // The edges of every range.
        assert_eq!(decoded_with(json!({"bytes": 0})).bytes, 0);
        assert_eq!(decoded_with(json!({"bytes": MAX_BYTES})).bytes, MAX_BYTES);
        let oldest = decoded_with(json!({"measuredAt": "2025-11-22T12:00:00Z"}));
        assert_eq!(oldest.at, now().minus_ms(366 * DAY_MS));
        let latest = decoded_with(json!({"measuredAt": "2026-11-23T12:05:00Z"}));
        assert_eq!(latest.at, now().plus_ms(5 * 60_000));
        // Unknown fields are ignored, as for every event.
        decoded_with(json!({"region": "us-east-1"}));
    }

    #[test]
    fn malformed_measurements_are_refused_naming_the_field() {
        assert_refused_naming(vec![
            ("bytes -1", measured(json!({"bytes": -1})), "bytes"),
            (
                "bytes 2^53",
                measured(json!({"bytes": MAX_BYTES + 1})),
                "bytes",
            ),
            (
                "bytes u64 max",
                measured(json!({"bytes": u64::MAX})),
                "bytes",
            ),
            ("bytes 1.5", measured(json!({"bytes": 1.5})), "bytes"),
            (
                "bytes 1.0",
                raw(r#"{"appId":"app-1","bytes":1.0,"measuredAt":"2026-11-23T10:00:00Z"}"#),
                "bytes",
            ),
            (
                "bytes 1e3",
                raw(r#"{"appId":"app-1","bytes":1e3,"measuredAt":"2026-11-23T10:00:00Z"}"#),
                "bytes",
            ),
            (
                "bytes beyond 64 bits",
                raw(
                    r#"{"appId":"app-1","bytes":18446744073709551616,"measuredAt":"2026-11-23T10:00:00Z"}"#,
                ),
                "bytes",
            ),
            ("bytes string", measured(json!({"bytes": "5"})), "bytes"),
            ("bytes boolean", measured(json!({"bytes": true})), "bytes"),
            ("bytes null", measured(json!({"bytes": null})), "bytes"),
            ("no bytes", missing("bytes"), "bytes"),
            (
                "bytes twice",
                raw(r#"{"appId":"app-1","bytes":5,"bytes":5,"measuredAt":"2026-11-23T10:00:00Z"}"#),
                "bytes",
            ),
            (
                "measuredAt 366 days + 1 ms ago",
                measured(json!({"measuredAt": "2025-11-22T11:59:59.999Z"})),
                "measuredAt",
            ),
            (
                "measuredAt 5 min + 1 ms ahead",
                measured(json!({"measuredAt": "2026-11-23T12:05:00.001Z"})),
                "measuredAt",
            ),
            (
                "measuredAt without offset",
                measured(json!({"measuredAt": "2026-11-23T10:00:00"})),
                "measuredAt",
            ),
            (
                "measuredAt a leap second",
                measured(json!({"measuredAt": "2026-06-30T23:59:60Z"})),
                "measuredAt",
            ),
            (
                "measuredAt a number",
                measured(json!({"measuredAt": 1_795_428_000})),
                "measuredAt",
            ),
            (
                "measuredAt null",
                measured(json!({"measuredAt": null})),
                "measuredAt",
            ),
            ("no measuredAt", missing("measuredAt"), "measuredAt"),
            (
                "measuredAt twice",
                raw(
                    r#"{"appId":"app-1","bytes":5,"measuredAt":"2026-11-23T10:00:00Z","measuredAt":"2026-11-23T10:00:00Z"}"#,
                ),
                "measuredAt",
            ),
            ("no appId", missing("appId"), "appId"),
            (
                "appId with a space",
                measured(json!({"appId": "app 1"})),
                "appId",
            ),
            ("appId number", measured(json!({"appId": 1})), "appId"),
            (
                "data an array",
                event(TYPE_STORAGE_MEASURED, json!([data()])),
                "data must be a JSON object",
            ),
            (
                "data null",
                event(TYPE_STORAGE_MEASURED, Value::Null),
                "data is missing",
            ),
        ]);
    }
}
