//! What the decoding tests of every event family share: a fixed `now`,
//! events built around a `data` object, `data` objects patched field by
//! field, and the check that a list of bad events is refused naming the field.

use super::fields::parse_rfc3339;
use super::{EventBody, decode};
use crate::domain::time::{Day, UtcMillis};
use serde_json::{Value, json};

/// The instant every decoding test runs at.
pub fn now() -> UtcMillis {
    UtcMillis::parse_query_time("2026-11-23T12:00:00Z").unwrap()
}

/// An event of type `kind` (id `e-1`) carrying `data`.
pub fn event(kind: &str, data: Value) -> String {
    json!({"specversion": "1.0", "id": "e-1", "source": "/lcic/1", "type": kind, "data": data})
        .to_string()
}

/// An event whose `data` is written as is, for what `json!` cannot
/// express (a key given twice, a number's exact spelling).
pub fn raw_event(kind: &str, data: &str) -> String {
    format!(
        r#"{{"specversion":"1.0","id":"e-1","source":"/lcic/1","type":"{kind}","data":{data}}}"#
    )
}

/// `base` with the fields of `patch` set (a `null` in `patch` sets `null`).
pub fn with(base: Value, patch: Value) -> Value {
    let (Value::Object(mut base), Value::Object(patch)) = (base, patch) else {
        panic!("objects only")
    };
    base.extend(patch);
    Value::Object(base)
}

/// `base` without `field`, which must have been there.
pub fn without(base: Value, field: &str) -> Value {
    let Value::Object(mut base) = base else {
        panic!("objects only")
    };
    assert!(base.remove(field).is_some(), "{field} was not there");
    Value::Object(base)
}

/// An instant written in RFC 3339.
pub fn t(text: &str) -> UtcMillis {
    parse_rfc3339(text, "t").unwrap()
}

/// A UTC day written `YYYY-MM-DD`.
pub fn utc_day(text: &str) -> Day {
    Day::parse_key(text).unwrap()
}

/// The body of an event of type `kind` carrying `data`, which must be valid.
pub fn decoded(kind: &str, data: Value) -> EventBody {
    match decode(&event(kind, data.clone()), now()) {
        Ok(event) => event.body,
        Err(r) => panic!("{kind} {data} refused: {}", r.reason),
    }
}

/// Each `(label, event, field)` is refused, with the event's id, a reason
/// that names `field` and stays short.
pub fn assert_refused_naming(cases: Vec<(&str, String, &str)>) {
    assert!(!cases.is_empty());
    for (label, body, field) in cases {
        let rejection = match decode(&body, now()) {
            Ok(event) => panic!("{label}: accepted as {:?}", event.body),
            Err(r) => r,
        };
        assert_eq!(rejection.event_id.as_deref(), Some("e-1"), "{label}");
        assert!(
            rejection.reason.contains(field),
            "{label}: {:?} does not name {field}",
            rejection.reason
        );
        assert!(
            rejection.reason.chars().count() <= 200,
            "{label}: {}",
            rejection.reason
        );
    }
}
