//! CloudEvents 1.0 usage events (one per SQS message, identified by `source`
//! and `id`): the envelope, the identity of an event, and the dispatch of its
//! `data` to the family its `type` names. Each family's fields and rules are
//! in its own file; the field parsers they share are in `fields`.
//!
//! Decoding is strict: a field given twice, of the wrong JSON type, or breaking
//! a range rule rejects the whole event with a reason an operator can act on.
//! An optional field given as `null` is absent; a required one is missing.
//!
//! Every family reads its `data` into a struct whose fields are all
//! `Option<Value>`, so that the derive refuses a field given twice while the
//! checks decide, field by field, what is missing, ill-typed or out of range.
//! Unknown fields are ignored, so producers may send more than is used.

mod app;
mod class;
mod fields;
mod package;
mod recording;
mod refund;
mod storage;
#[cfg(test)]
mod testing;
mod void;

pub use fields::{MAX_CLOCK_SKEW_MS, MAX_LATENESS_MS, MAX_SEGMENT_MS, truncate};
pub use recording::Segment;

use super::class::{ClassFactEvent, Package, Refund, Session};
use super::correction::Void;
use super::ids::AppId;
use super::registration::RegistrationRequest;
use super::storage::Measurement;
use super::time::UtcMillis;
use fields::{parse_rfc3339, required_string};
use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};
use std::fmt;

pub const TYPE_APP_REGISTERED: &str = "rtc.app.registered";
pub const TYPE_RECORDING_SEGMENT: &str = "rtc.recording.segment";
pub const TYPE_CLASS_STARTED: &str = "rtc.class.started";
pub const TYPE_CLASS_ENDED: &str = "rtc.class.ended";
pub const TYPE_CLASS_SESSION: &str = "rtc.class.session";
pub const TYPE_PACKAGE_PURCHASED: &str = "rtc.package.purchased";
pub const TYPE_STORAGE_MEASURED: &str = "rtc.storage.measured";
pub const TYPE_USAGE_VOIDED: &str = "rtc.usage.voided";
pub const TYPE_PACKAGE_REFUNDED: &str = "rtc.package.refunded";

/// What identifies an event for exactly-once counting: a digest of
/// (`source`, `id`). Fixed-size whatever the producer sends, unambiguous
/// (the source's length is hashed first), 128 bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EventKey(pub [u8; 16]);

impl EventKey {
    pub fn of(source: &str, id: &str) -> Self {
        let mut hasher = Sha256::new();
        hasher.update((source.len() as u64).to_be_bytes());
        hasher.update(source.as_bytes());
        hasher.update(id.as_bytes());
        let digest = hasher.finalize();
        let mut key = [0u8; 16];
        key.copy_from_slice(&digest[..16]);
        EventKey(key)
    }

    pub fn hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    pub fn from_hex(text: &str) -> Option<Self> {
        if text.len() != 32 || !text.is_ascii() {
            return None;
        }
        let mut key = [0u8; 16];
        for (i, byte) in key.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok()?;
        }
        Some(EventKey(key))
    }
}

impl fmt::Display for EventKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.hex())
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EventBody {
    /// The app belongs to the request's owner and bills in its zone (see
    /// `registration::decide`).
    AppRegistered {
        app: AppId,
        request: RegistrationRequest,
    },
    RecordingSegment(Segment),
    ClassSession(Session),
    ClassFact(ClassFactEvent),
    PackagePurchased(Package),
    /// The app stored this many recording bytes at that instant.
    StorageMeasured(Measurement),
    /// An earlier usage event of the app is taken back.
    UsageVoided(Void),
    /// A package of the app is refunded.
    PackageRefunded(Refund),
}

/// A valid usage event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UsageEvent {
    pub id: String,
    pub source: String,
    pub key: EventKey,
    pub body: EventBody,
}

/// Why an event was refused; `event_id` is there when the envelope had one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    pub event_id: Option<String>,
    pub reason: String,
}

#[derive(Deserialize)]
struct Envelope<'a> {
    specversion: Option<Value>,
    id: Option<Value>,
    source: Option<Value>,
    #[serde(rename = "type")]
    kind: Option<Value>,
    time: Option<Value>,
    #[serde(borrow)]
    data: Option<&'a RawValue>,
}

/// Decodes and validates one SQS message body at time `now`.
pub fn decode(body: &str, now: UtcMillis) -> Result<UsageEvent, Rejection> {
    let reject = |event_id: Option<&str>, reason: String| Rejection {
        event_id: event_id.map(str::to_owned),
        reason,
    };
    let envelope: Envelope = serde_json::from_str(body)
        .map_err(|e| reject(None, format!("not a CloudEvents JSON object: {e}")))?;
    let id = required_string(&envelope.id, "id").map_err(|r| reject(None, r))?;
    let fail = |reason: String| reject(Some(id), reason);
    if required_string(&envelope.specversion, "specversion").map_err(fail)? != "1.0" {
        return Err(fail("specversion must be \"1.0\"".into()));
    }
    let source = required_string(&envelope.source, "source").map_err(fail)?;
    let kind = required_string(&envelope.kind, "type").map_err(fail)?;
    if let Some(time) = &envelope.time {
        let text = time
            .as_str()
            .ok_or_else(|| fail("time must be an RFC 3339 string".into()))?;
        parse_rfc3339(text, "time").map_err(fail)?;
    }
    let data = envelope
        .data
        .ok_or_else(|| fail("data is missing".into()))?
        .get();
    let body = decode_data(kind, data, now).map_err(fail)?;
    Ok(UsageEvent {
        id: id.to_owned(),
        source: source.to_owned(),
        key: EventKey::of(source, id),
        body,
    })
}

/// The body of an event of type `kind` from its `data`.
fn decode_data(kind: &str, data: &str, now: UtcMillis) -> Result<EventBody, String> {
    Ok(match kind {
        TYPE_APP_REGISTERED => app::registration(data)?,
        TYPE_RECORDING_SEGMENT => EventBody::RecordingSegment(recording::segment(data, now)?),
        TYPE_CLASS_STARTED => EventBody::ClassFact(class::started(data, now)?),
        TYPE_CLASS_ENDED => EventBody::ClassFact(class::ended(data, now)?),
        TYPE_CLASS_SESSION => EventBody::ClassSession(class::session(data, now)?),
        TYPE_PACKAGE_PURCHASED => EventBody::PackagePurchased(package::package(data, now)?),
        TYPE_STORAGE_MEASURED => EventBody::StorageMeasured(storage::measurement(data, now)?),
        TYPE_USAGE_VOIDED => EventBody::UsageVoided(void::void(data)?),
        TYPE_PACKAGE_REFUNDED => EventBody::PackageRefunded(refund::refund(data)?),
        other => return Err(format!("unknown type {:?}", truncate(other, 64))),
    })
}

#[cfg(test)]
mod tests {
    use super::testing::now;
    use super::*;

    #[test]
    fn event_key_is_unambiguous() {
        assert_ne!(EventKey::of("ab", "c"), EventKey::of("a", "bc"));
        assert_eq!(
            EventKey::from_hex(&EventKey::of("a", "b").hex()),
            Some(EventKey::of("a", "b"))
        );
    }

    #[test]
    fn duplicate_fields_are_refused() {
        let body = r#"{"specversion":"1.0","id":"x","source":"s","type":"rtc.app.registered","data":{"appId":"a","appId":"b","ownerAccountId":"123456789012"}}"#;
        assert!(
            decode(body, now())
                .unwrap_err()
                .reason
                .contains("duplicate")
        );
        let body = r#"{"specversion":"1.0","id":"x","id":"y","source":"s","type":"rtc.app.registered","data":{}}"#;
        assert!(decode(body, now()).is_err());
    }
}
