//! CloudEvents 1.0 usage events (one per SQS message, identified by `source`
//! and `id`): decoding, every validation rule,
//! and the split of a recording segment at UTC hour boundaries.
//!
//! Decoding is strict: a field given twice, of the wrong JSON type, or breaking
//! a range rule rejects the whole event with a reason an operator can act on.

use super::ids::{AccountId, AppId};
use super::time::{DAY_MS, HOUR_MS, Hour, MINUTE_MS, UtcMillis};
use super::usage::{RecordMode, Tier};
use chrono::{DateTime, Timelike};
use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};
use std::fmt;

pub const TYPE_APP_REGISTERED: &str = "rtc.app.registered";
pub const TYPE_RECORDING_SEGMENT: &str = "rtc.recording.segment";
pub const MAX_SEGMENT_MS: i64 = 48 * HOUR_MS;
/// Late events are accepted until their start is this old.
pub const MAX_LATENESS_MS: i64 = 366 * DAY_MS;
/// Producers' clocks may run this far ahead of ours.
pub const MAX_CLOCK_SKEW_MS: i64 = 5 * MINUTE_MS;

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

/// One recording segment, validated: `[start, end)` in whole milliseconds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Segment {
    pub app: AppId,
    pub mode: RecordMode,
    pub tier: Tier,
    pub start: UtcMillis,
    pub end: UtcMillis,
}

impl Segment {
    /// The segment's milliseconds per UTC hour it touches; the parts always
    /// add up to `end - start`.
    pub fn hour_parts(&self) -> Vec<(Hour, u64)> {
        let mut parts = Vec::new();
        let mut from = self.start;
        while from < self.end {
            let hour = from.hour();
            let to = hour.end().min(self.end);
            parts.push((hour, (to.0 - from.0) as u64));
            from = to;
        }
        parts
    }

    pub fn duration_ms(&self) -> u64 {
        (self.end.0 - self.start.0) as u64
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EventBody {
    AppRegistered { app: AppId, owner: AccountId },
    RecordingSegment(Segment),
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

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RegistrationData {
    app_id: Option<Value>,
    owner_account_id: Option<Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SegmentData {
    app_id: Option<Value>,
    record_mode: Option<Value>,
    media: Option<Value>,
    width: Option<Value>,
    height: Option<Value>,
    start_time: Option<Value>,
    end_time: Option<Value>,
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
    let body = match kind {
        TYPE_APP_REGISTERED => {
            let data: RegistrationData = parse_data(data).map_err(fail)?;
            let app = app_id(&data.app_id).map_err(fail)?;
            let owner =
                required_string(&data.owner_account_id, "data.ownerAccountId").map_err(fail)?;
            let owner = AccountId::parse(owner)
                .ok_or_else(|| fail("data.ownerAccountId must be exactly 12 digits".into()))?;
            EventBody::AppRegistered { app, owner }
        }
        TYPE_RECORDING_SEGMENT => {
            let data: SegmentData = parse_data(data).map_err(fail)?;
            EventBody::RecordingSegment(segment(&data, now).map_err(fail)?)
        }
        other => return Err(fail(format!("unknown type {:?}", truncate(other, 64)))),
    };
    Ok(UsageEvent {
        id: id.to_owned(),
        source: source.to_owned(),
        key: EventKey::of(source, id),
        body,
    })
}

fn parse_data<'de, T: Deserialize<'de>>(data: &'de str) -> Result<T, String> {
    if !data.trim_start().starts_with('{') {
        return Err("data must be a JSON object".into());
    }
    serde_json::from_str(data).map_err(|e| format!("data: {e}"))
}

fn segment(data: &SegmentData, now: UtcMillis) -> Result<Segment, String> {
    let app = app_id(&data.app_id)?;
    let mode = required_string(&data.record_mode, "data.recordMode")?;
    let mode = RecordMode::parse(mode).ok_or("data.recordMode must be \"0\" or \"1\"")?;
    let width = optional_positive_integer(&data.width, "data.width")?;
    let height = optional_positive_integer(&data.height, "data.height")?;
    let tier = match required_string(&data.media, "data.media")? {
        "audio" => Tier::Audio,
        "video" => match (width, height) {
            (Some(w), Some(h)) => Tier::for_video(w, h),
            _ => return Err("data.width and data.height are required for video".into()),
        },
        _ => return Err("data.media must be \"audio\" or \"video\"".into()),
    };
    let start = parse_rfc3339(
        required_string(&data.start_time, "data.startTime")?,
        "data.startTime",
    )?;
    let end = parse_rfc3339(
        required_string(&data.end_time, "data.endTime")?,
        "data.endTime",
    )?;
    if end <= start {
        return Err("data.endTime must be later than data.startTime (to the millisecond)".into());
    }
    if end.0 - start.0 > MAX_SEGMENT_MS {
        return Err("segment longer than 48 hours".into());
    }
    if start < now.minus_ms(MAX_LATENESS_MS) {
        return Err("data.startTime is more than 366 days ago".into());
    }
    if end > now.plus_ms(MAX_CLOCK_SKEW_MS) {
        return Err("data.endTime is more than 5 minutes in the future".into());
    }
    Ok(Segment {
        app,
        mode,
        tier,
        start,
        end,
    })
}

fn required_string<'v>(value: &'v Option<Value>, name: &str) -> Result<&'v str, String> {
    match value {
        None | Some(Value::Null) => Err(format!("{name} is missing")),
        Some(Value::String(s)) if s.is_empty() => Err(format!("{name} is empty")),
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(format!("{name} must be a string")),
    }
}

fn optional_positive_integer(value: &Option<Value>, name: &str) -> Result<Option<u64>, String> {
    match value {
        None => Ok(None),
        Some(v) => match v.as_u64() {
            Some(n) if n > 0 => Ok(Some(n)),
            _ => Err(format!("{name} must be a positive integer")),
        },
    }
}

fn app_id(value: &Option<Value>) -> Result<AppId, String> {
    AppId::parse(required_string(value, "data.appId")?)
        .ok_or_else(|| "data.appId must be 1-64 of A-Z a-z 0-9 - _ .".into())
}

/// RFC 3339 with any offset and fractional seconds, truncated to the millisecond.
fn parse_rfc3339(text: &str, name: &str) -> Result<UtcMillis, String> {
    let time = DateTime::parse_from_rfc3339(text)
        .map_err(|_| format!("{name} must be an RFC 3339 date-time"))?;
    if time.nanosecond() >= 1_000_000_000 {
        return Err(format!("{name} is a leap second, which is not accepted"));
    }
    Ok(UtcMillis::from_datetime(&time))
}

/// Shortens producer-supplied text before it reaches a log line.
pub fn truncate(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        None => text.to_owned(),
        Some((cut, _)) => format!("{}…", &text[..cut]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn now() -> UtcMillis {
        UtcMillis::parse_query_time("2026-11-23T12:00:00Z").unwrap()
    }

    fn segment_event(data: Value) -> String {
        json!({"specversion": "1.0", "id": "e-1", "source": "/recorder/1",
               "type": TYPE_RECORDING_SEGMENT, "time": "2026-11-23T11:00:00Z", "data": data})
        .to_string()
    }

    fn video(start: &str, end: &str) -> Value {
        json!({"appId": "app-1", "recordMode": "1", "media": "video", "width": 1280, "height": 720,
               "startTime": start, "endTime": end})
    }

    #[test]
    fn decodes_a_video_segment_with_offsets_and_fractions() {
        let e = decode(
            &segment_event(video(
                "2026-11-23T18:30:00.1239+08:00",
                "2026-11-23T10:31:00Z",
            )),
            now(),
        )
        .unwrap();
        let EventBody::RecordingSegment(s) = e.body else {
            panic!()
        };
        assert_eq!(s.tier, Tier::V720);
        assert_eq!(s.mode, RecordMode::Mixed);
        assert_eq!(s.duration_ms(), 60_000 - 123);
        assert_eq!(e.key, EventKey::of("/recorder/1", "e-1"));
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
    fn event_key_is_unambiguous() {
        assert_ne!(EventKey::of("ab", "c"), EventKey::of("a", "bc"));
        assert_eq!(
            EventKey::from_hex(&EventKey::of("a", "b").hex()),
            Some(EventKey::of("a", "b"))
        );
    }

    #[test]
    fn split_parts_sum_to_whole_across_hour_day_and_year_ends() {
        let start = UtcMillis::parse_query_time("2026-12-31T22:59:59Z")
            .unwrap()
            .plus_ms(999);
        let seg = Segment {
            app: AppId::parse("a").unwrap(),
            mode: RecordMode::SingleStream,
            tier: Tier::Audio,
            start,
            end: start.plus_ms(2 * HOUR_MS + 5),
        };
        let parts = seg.hour_parts();
        let keys: Vec<String> = parts.iter().map(|(h, _)| h.key()).collect();
        assert_eq!(
            keys,
            [
                "2026-12-31T22",
                "2026-12-31T23",
                "2027-01-01T00",
                "2027-01-01T01"
            ]
        );
        assert_eq!(
            parts.iter().map(|p| p.1).collect::<Vec<_>>(),
            [1, 3_600_000, 3_600_000, 4]
        );
        assert_eq!(parts.iter().map(|p| p.1).sum::<u64>(), seg.duration_ms());
    }

    #[test]
    fn range_rules() {
        let cases = [
            ("2026-11-23T10:00:00Z", "2026-11-23T10:00:00Z", "later than"),
            (
                "2026-11-23T10:00:00.0001Z",
                "2026-11-23T10:00:00.0009Z",
                "later than",
            ),
            (
                "2026-11-21T10:00:00Z",
                "2026-11-23T10:00:00.001Z",
                "48 hours",
            ),
            (
                "2025-11-22T11:59:59.999Z",
                "2025-11-22T12:30:00Z",
                "366 days",
            ),
            ("2026-11-23T12:00:00Z", "2026-11-23T12:05:00.001Z", "future"),
        ];
        for (start, end, why) in cases {
            let r = decode(&segment_event(video(start, end)), now()).unwrap_err();
            assert!(r.reason.contains(why), "{start}..{end}: {}", r.reason);
            assert_eq!(r.event_id.as_deref(), Some("e-1"));
        }
        for (start, end) in [
            ("2026-11-21T10:00:00Z", "2026-11-23T10:00:00Z"),
            ("2025-11-22T12:00:00Z", "2025-11-22T12:30:00Z"),
            ("2026-11-23T12:00:00Z", "2026-11-23T12:05:00Z"),
        ] {
            assert!(
                decode(&segment_event(video(start, end)), now()).is_ok(),
                "{start}..{end}"
            );
        }
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

    #[test]
    fn truncate_respects_char_boundaries() {
        assert_eq!(truncate("héllo", 2), "hé…");
        assert_eq!(truncate("hé", 2), "hé");
    }
}
