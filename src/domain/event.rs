//! CloudEvents 1.0 usage events (one per SQS message, identified by `source`
//! and `id`): decoding, every validation rule,
//! and the split of a recording segment at UTC hour boundaries.
//!
//! Decoding is strict: a field given twice, of the wrong JSON type, or breaking
//! a range rule rejects the whole event with a reason an operator can act on.
//! An optional field given as `null` is absent; a required one is missing.

use super::class::{
    ClassFact, ClassFactEvent, MAX_PACKAGE_LOOKBACK_DAYS, MAX_PACKAGE_MINUTES,
    MAX_PACKAGE_VALIDITY_DAYS, Package, Role, Session, UsageType,
};
use super::ids::{AccountId, AppId, ClassId, Name, PackageId};
use super::storage::{MAX_BYTES, Measurement};
use super::time::{DAY_MS, Day, HOUR_MS, Hour, MINUTE_MS, UtcMillis, split_at_hours};
use super::usage::{RecordMode, Tier};
use chrono::{DateTime, Timelike};
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
/// The longest usage interval (recording segment or class session).
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
    /// The class the recording belongs to, when the producer says.
    pub class: Option<ClassId>,
    pub mode: RecordMode,
    pub tier: Tier,
    pub start: UtcMillis,
    pub end: UtcMillis,
}

impl Segment {
    /// The segment's milliseconds per UTC hour it touches; the parts always
    /// add up to `end - start`.
    pub fn hour_parts(&self) -> Vec<(Hour, u64)> {
        split_at_hours(self.start, self.end)
    }

    pub fn duration_ms(&self) -> u64 {
        (self.end.0 - self.start.0) as u64
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EventBody {
    /// The app belongs to `owner`; `name`, if given, names it unless an
    /// earlier registration already did.
    AppRegistered {
        app: AppId,
        owner: AccountId,
        name: Option<Name>,
    },
    RecordingSegment(Segment),
    ClassSession(Session),
    ClassFact(ClassFactEvent),
    PackagePurchased(Package),
    /// The app stored this many recording bytes at that instant.
    StorageMeasured(Measurement),
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

// The `data` of each type. Every field is an `Option<Value>` so that the
// derive refuses a field given twice while the checks below decide, field by
// field, what is missing, ill-typed or out of range. Unknown fields are
// ignored, so producers may send more than is used.

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RegistrationData {
    app_id: Option<Value>,
    owner_account_id: Option<Value>,
    app_name: Option<Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SegmentData {
    app_id: Option<Value>,
    class_id: Option<Value>,
    record_mode: Option<Value>,
    media: Option<Value>,
    width: Option<Value>,
    height: Option<Value>,
    start_time: Option<Value>,
    end_time: Option<Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ClassStartedData {
    app_id: Option<Value>,
    class_id: Option<Value>,
    class_name: Option<Value>,
    start_time: Option<Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ClassEndedData {
    app_id: Option<Value>,
    class_id: Option<Value>,
    end_time: Option<Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SessionData {
    app_id: Option<Value>,
    class_id: Option<Value>,
    user_id: Option<Value>,
    role: Option<Value>,
    usage_type: Option<Value>,
    start_time: Option<Value>,
    end_time: Option<Value>,
}

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

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MeasurementData {
    app_id: Option<Value>,
    bytes: Option<Value>,
    measured_at: Option<Value>,
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
        TYPE_APP_REGISTERED => {
            let data: RegistrationData = parse_data(data)?;
            let app = app_id(&data.app_id)?;
            let owner = required_string(&data.owner_account_id, "data.ownerAccountId")?;
            let owner =
                AccountId::parse(owner).ok_or("data.ownerAccountId must be exactly 12 digits")?;
            let name = optional_name(&data.app_name, "data.appName")?;
            EventBody::AppRegistered { app, owner, name }
        }
        TYPE_RECORDING_SEGMENT => {
            let data: SegmentData = parse_data(data)?;
            EventBody::RecordingSegment(segment(&data, now)?)
        }
        TYPE_CLASS_STARTED => {
            let data: ClassStartedData = parse_data(data)?;
            let app = app_id(&data.app_id)?;
            let class = class_id(&data.class_id)?;
            let name = required_name(&data.class_name, "data.className")?;
            let start = instant(&data.start_time, "data.startTime", now)?;
            EventBody::ClassFact(ClassFactEvent {
                app,
                class,
                fact: ClassFact::Started { name, start },
            })
        }
        TYPE_CLASS_ENDED => {
            let data: ClassEndedData = parse_data(data)?;
            let app = app_id(&data.app_id)?;
            let class = class_id(&data.class_id)?;
            let end = instant(&data.end_time, "data.endTime", now)?;
            EventBody::ClassFact(ClassFactEvent {
                app,
                class,
                fact: ClassFact::Ended { end },
            })
        }
        TYPE_CLASS_SESSION => {
            let data: SessionData = parse_data(data)?;
            EventBody::ClassSession(session(&data, now)?)
        }
        TYPE_PACKAGE_PURCHASED => {
            let data: PackageData = parse_data(data)?;
            EventBody::PackagePurchased(package(&data, now)?)
        }
        TYPE_STORAGE_MEASURED => {
            let data: MeasurementData = parse_data(data)?;
            EventBody::StorageMeasured(measurement(&data, now)?)
        }
        other => return Err(format!("unknown type {:?}", truncate(other, 64))),
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
    let (start, end) = usage_interval(&data.start_time, &data.end_time, now)?;
    let class = match &data.class_id {
        None | Some(Value::Null) => None,
        some => Some(class_id(some)?),
    };
    Ok(Segment {
        app,
        class,
        mode,
        tier,
        start,
        end,
    })
}

fn session(data: &SessionData, now: UtcMillis) -> Result<Session, String> {
    let app = app_id(&data.app_id)?;
    let class = class_id(&data.class_id)?;
    let user = required_name(&data.user_id, "data.userId")?;
    let role = required_string(&data.role, "data.role")?;
    let role = Role::parse(role).ok_or_else(|| {
        format!(
            "data.role must be teacher, assistant, student or spectator, not {:?}",
            truncate(role, 32)
        )
    })?;
    let usage = required_string(&data.usage_type, "data.usageType")?;
    let usage = UsageType::parse(usage).ok_or_else(|| {
        format!(
            "data.usageType must be interactive or playback, not {:?}",
            truncate(usage, 32)
        )
    })?;
    let (start, end) = usage_interval(&data.start_time, &data.end_time, now)?;
    Ok(Session {
        app,
        class,
        user,
        role,
        usage,
        start,
        end,
    })
}

fn package(data: &PackageData, now: UtcMillis) -> Result<Package, String> {
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
    if valid_from.0 < now.day().0 - MAX_PACKAGE_LOOKBACK_DAYS {
        return Err(format!(
            "data.validFrom is more than {MAX_PACKAGE_LOOKBACK_DAYS} days before today (UTC)"
        ));
    }
    Ok(Package {
        app,
        id,
        name,
        minutes,
        valid_from,
        valid_to,
    })
}

fn measurement(data: &MeasurementData, now: UtcMillis) -> Result<Measurement, String> {
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

/// The `[start, end)` of a usage interval (a recording segment or a class
/// session, which follow the same rules): each time truncated to the
/// millisecond, the end after the start, at most 48 hours long, starting no
/// earlier than now − 366 days and ending no later than now + 5 minutes.
fn usage_interval(
    start: &Option<Value>,
    end: &Option<Value>,
    now: UtcMillis,
) -> Result<(UtcMillis, UtcMillis), String> {
    let start = parse_rfc3339(required_string(start, "data.startTime")?, "data.startTime")?;
    let end = parse_rfc3339(required_string(end, "data.endTime")?, "data.endTime")?;
    if end <= start {
        return Err("data.endTime must be later than data.startTime (to the millisecond)".into());
    }
    if end.0 - start.0 > MAX_SEGMENT_MS {
        return Err("data.endTime is more than 48 hours after data.startTime".into());
    }
    not_too_old(start, "data.startTime", now)?;
    not_in_future(end, "data.endTime", now)?;
    Ok((start, end))
}

/// A single instant (a class's start or end), in the range usage intervals
/// are accepted in: no earlier than now − 366 days, no later than now + 5
/// minutes.
fn instant(value: &Option<Value>, name: &str, now: UtcMillis) -> Result<UtcMillis, String> {
    let time = parse_rfc3339(required_string(value, name)?, name)?;
    not_too_old(time, name, now)?;
    not_in_future(time, name, now)?;
    Ok(time)
}

fn not_too_old(time: UtcMillis, name: &str, now: UtcMillis) -> Result<(), String> {
    if time < now.minus_ms(MAX_LATENESS_MS) {
        return Err(format!("{name} is more than 366 days ago"));
    }
    Ok(())
}

fn not_in_future(time: UtcMillis, name: &str, now: UtcMillis) -> Result<(), String> {
    if time > now.plus_ms(MAX_CLOCK_SKEW_MS) {
        return Err(format!("{name} is more than 5 minutes in the future"));
    }
    Ok(())
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

fn class_id(value: &Option<Value>) -> Result<ClassId, String> {
    ClassId::parse(required_string(value, "data.classId")?)
        .ok_or_else(|| "data.classId must be 1-64 of A-Z a-z 0-9 - _ .".into())
}

/// A name or user id; an empty string breaks the length rule like any other.
fn required_name(value: &Option<Value>, name: &str) -> Result<Name, String> {
    optional_name(value, name)?.ok_or_else(|| format!("{name} is missing"))
}

/// `None` when absent or `null`; anything else must be a valid name.
fn optional_name(value: &Option<Value>, name: &str) -> Result<Option<Name>, String> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Name::parse(text).map(Some).ok_or_else(|| {
            format!(
                "{name} must be 1–{} characters without control characters",
                Name::MAX_CHARS
            )
        }),
        Some(_) => Err(format!("{name} must be a string")),
    }
}

/// Exactly `YYYY-MM-DD`, a real calendar date, taken as a UTC day.
fn day(value: &Option<Value>, name: &str) -> Result<Day, String> {
    Day::parse_key(required_string(value, name)?)
        .ok_or_else(|| format!("{name} must be a real date written YYYY-MM-DD"))
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
            class: None,
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

    // Interactive classes, packages and registrations with names.

    fn lcic_event(kind: &str, data: Value) -> String {
        json!({"specversion": "1.0", "id": "e-1", "source": "/lcic/1", "type": kind, "data": data})
            .to_string()
    }

    /// An event whose `data` is written as is, for what `json!` cannot
    /// express (a key given twice).
    fn raw_event(kind: &str, data: &str) -> String {
        format!(
            r#"{{"specversion":"1.0","id":"e-1","source":"/lcic/1","type":"{kind}","data":{data}}}"#
        )
    }

    fn started() -> Value {
        json!({"appId": "app-1", "classId": "class-1", "className": "Math 101",
               "startTime": "2026-11-23T09:00:00Z"})
    }

    fn ended() -> Value {
        json!({"appId": "app-1", "classId": "class-1", "endTime": "2026-11-23T10:00:00Z"})
    }

    fn session_data() -> Value {
        json!({"appId": "app-1", "classId": "class-1", "userId": "user-1", "role": "student",
               "usageType": "interactive",
               "startTime": "2026-11-23T09:00:00Z", "endTime": "2026-11-23T10:00:00Z"})
    }

    fn package_data() -> Value {
        json!({"appId": "app-1", "packageId": "pkg-1", "packageName": "Starter",
               "minutes": 1000, "validFrom": "2026-11-01", "validTo": "2027-10-31"})
    }

    fn registration_data() -> Value {
        json!({"appId": "app-1", "ownerAccountId": "123456789012"})
    }

    /// `base` with the fields of `patch` set (a `null` in `patch` sets `null`).
    fn with(base: Value, patch: Value) -> Value {
        let (Value::Object(mut base), Value::Object(patch)) = (base, patch) else {
            panic!("objects only")
        };
        base.extend(patch);
        Value::Object(base)
    }

    fn without(base: Value, field: &str) -> Value {
        let Value::Object(mut base) = base else {
            panic!("objects only")
        };
        assert!(base.remove(field).is_some(), "{field} was not there");
        Value::Object(base)
    }

    fn t(text: &str) -> UtcMillis {
        parse_rfc3339(text, "t").unwrap()
    }

    fn day(text: &str) -> Day {
        Day::parse_key(text).unwrap()
    }

    fn decoded(kind: &str, data: Value) -> EventBody {
        match decode(&lcic_event(kind, data.clone()), now()) {
            Ok(event) => event.body,
            Err(r) => panic!("{kind} {data} refused: {}", r.reason),
        }
    }

    #[test]
    fn decodes_a_class_start_with_an_offset_and_fractional_seconds() {
        let body = decoded(
            TYPE_CLASS_STARTED,
            with(
                started(),
                json!({"className": "🎓 数学 — مرحبا", "startTime": "2026-11-23T18:30:00.9999+08:00"}),
            ),
        );
        let EventBody::ClassFact(ClassFactEvent { app, class, fact }) = body else {
            panic!("{body:?}")
        };
        assert_eq!((app.as_str(), class.as_str()), ("app-1", "class-1"));
        assert_eq!(
            fact,
            ClassFact::Started {
                name: Name::parse("🎓 数学 — مرحبا").unwrap(),
                start: t("2026-11-23T10:30:00.999Z"),
            }
        );
    }

    #[test]
    fn decodes_a_class_end() {
        let body = decoded(TYPE_CLASS_ENDED, ended());
        let EventBody::ClassFact(ClassFactEvent { fact, .. }) = body else {
            panic!("{body:?}")
        };
        assert_eq!(
            fact,
            ClassFact::Ended {
                end: t("2026-11-23T10:00:00Z")
            }
        );
    }

    #[test]
    fn decodes_a_session_across_midnight() {
        let body = decoded(
            TYPE_CLASS_SESSION,
            with(
                session_data(),
                json!({"userId": "\u{5d0}\u{5d1}\u{5d2}-👩‍🏫", "role": "teacher", "usageType": "playback",
                       "startTime": "2026-11-21T23:59:30.5Z",
                       "endTime": "2026-11-22T08:10:00.123456+08:00"}),
            ),
        );
        let EventBody::ClassSession(session) = body else {
            panic!("{body:?}")
        };
        assert_eq!(session.user.as_str(), "\u{5d0}\u{5d1}\u{5d2}-👩‍🏫");
        assert_eq!(session.role, Role::Teacher);
        assert_eq!(session.usage, UsageType::Playback);
        assert_eq!(session.start, t("2026-11-21T23:59:30.500Z"));
        assert_eq!(session.end, t("2026-11-22T00:10:00.123Z"));
        assert_eq!(session.duration_ms(), 29_500 + 10 * 60_000 + 123);
        assert_eq!(session.days(), vec![day("2026-11-21"), day("2026-11-22")]);
        let parts: Vec<u64> = session.hour_parts().iter().map(|p| p.1).collect();
        assert_eq!(parts, [29_500, 600_123]);
    }

    #[test]
    fn every_role_and_usage_type_is_read() {
        for (text, role) in [
            ("teacher", Role::Teacher),
            ("assistant", Role::Assistant),
            ("student", Role::Student),
            ("spectator", Role::Spectator),
        ] {
            for (usage_text, usage) in [
                ("interactive", UsageType::Interactive),
                ("playback", UsageType::Playback),
            ] {
                let body = decoded(
                    TYPE_CLASS_SESSION,
                    with(
                        session_data(),
                        json!({"role": text, "usageType": usage_text}),
                    ),
                );
                let EventBody::ClassSession(session) = body else {
                    panic!("{body:?}")
                };
                assert_eq!((session.role, session.usage), (role, usage));
            }
        }
    }

    #[test]
    fn sessions_share_the_segments_range_edges() {
        // Exactly 48 hours, starting exactly 366 days ago, ending exactly
        // 5 minutes ahead: all accepted.
        for (start, end) in [
            ("2026-11-21T10:00:00Z", "2026-11-23T10:00:00Z"),
            ("2025-11-22T12:00:00Z", "2025-11-22T12:30:00Z"),
            ("2026-11-23T12:00:00Z", "2026-11-23T12:05:00Z"),
        ] {
            decoded(
                TYPE_CLASS_SESSION,
                with(session_data(), json!({"startTime": start, "endTime": end})),
            );
        }
    }

    #[test]
    fn class_times_have_the_sessions_range_edges() {
        let oldest = "2025-11-22T12:00:00Z";
        let latest = "2026-11-23T12:05:00Z";
        for time in [oldest, latest] {
            decoded(
                TYPE_CLASS_STARTED,
                with(started(), json!({"startTime": time})),
            );
            decoded(TYPE_CLASS_ENDED, with(ended(), json!({"endTime": time})));
        }
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
                valid_from: day("2026-11-01"),
                valid_to: day("2027-10-31"),
            })
        );
    }

    #[test]
    fn package_edges_are_accepted() {
        for patch in [
            json!({"minutes": 1}),
            json!({"minutes": 100_000_000}),
            // One day, the first day it may start (today − 366 days).
            json!({"validFrom": "2025-11-22", "validTo": "2025-11-22"}),
            // The longest validity: 366 days after the first.
            json!({"validFrom": "2026-11-23", "validTo": "2027-11-24"}),
            // Across a leap day.
            json!({"validFrom": "2027-03-01", "validTo": "2028-03-01"}),
        ] {
            decoded(TYPE_PACKAGE_PURCHASED, with(package_data(), patch));
        }
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

    /// Each malformed or out-of-range event, and the field its refusal must
    /// name.
    fn lcic_corpus() -> Vec<(&'static str, String, &'static str)> {
        let session = |patch: Value| lcic_event(TYPE_CLASS_SESSION, with(session_data(), patch));
        let package =
            |patch: Value| lcic_event(TYPE_PACKAGE_PURCHASED, with(package_data(), patch));
        let start = |patch: Value| lcic_event(TYPE_CLASS_STARTED, with(started(), patch));
        let end = |patch: Value| lcic_event(TYPE_CLASS_ENDED, with(ended(), patch));
        let register =
            |patch: Value| lcic_event(TYPE_APP_REGISTERED, with(registration_data(), patch));
        let long_name = "x".repeat(129);
        let long_id = "c".repeat(65);
        vec![
            // A key given twice.
            (
                "className twice",
                raw_event(
                    TYPE_CLASS_STARTED,
                    r#"{"appId":"app-1","classId":"c","className":"A","className":"B","startTime":"2026-11-23T09:00:00Z"}"#,
                ),
                "className",
            ),
            (
                "className twice, first null",
                raw_event(
                    TYPE_CLASS_STARTED,
                    r#"{"appId":"app-1","classId":"c","className":null,"className":"B","startTime":"2026-11-23T09:00:00Z"}"#,
                ),
                "className",
            ),
            (
                "userId twice",
                raw_event(
                    TYPE_CLASS_SESSION,
                    r#"{"appId":"app-1","classId":"c","userId":"u","userId":"u","role":"student","usageType":"interactive","startTime":"2026-11-23T09:00:00Z","endTime":"2026-11-23T10:00:00Z"}"#,
                ),
                "userId",
            ),
            (
                "minutes twice",
                raw_event(
                    TYPE_PACKAGE_PURCHASED,
                    r#"{"appId":"app-1","packageId":"p","packageName":"P","minutes":5,"minutes":5,"validFrom":"2026-11-01","validTo":"2026-11-30"}"#,
                ),
                "minutes",
            ),
            (
                "appName twice",
                raw_event(
                    TYPE_APP_REGISTERED,
                    r#"{"appId":"app-1","ownerAccountId":"123456789012","appName":"a","appName":"b"}"#,
                ),
                "appName",
            ),
            // Session ranges.
            (
                "session end equals start",
                session(json!({"endTime": "2026-11-23T09:00:00Z"})),
                "endTime",
            ),
            (
                "session end before start",
                session(json!({"endTime": "2026-11-23T08:59:59Z"})),
                "endTime",
            ),
            (
                "session ends in the same millisecond",
                session(
                    json!({"startTime": "2026-11-23T09:00:00.0001Z", "endTime": "2026-11-23T09:00:00.0009Z"}),
                ),
                "endTime",
            ),
            (
                "session end before start through offsets",
                session(
                    json!({"startTime": "2026-11-23T09:00:00Z", "endTime": "2026-11-23T10:00:00+02:00"}),
                ),
                "endTime",
            ),
            (
                "session 48 h + 1 ms",
                session(
                    json!({"startTime": "2026-11-21T10:00:00Z", "endTime": "2026-11-23T10:00:00.001Z"}),
                ),
                "endTime",
            ),
            (
                "session start older than 366 days",
                session(
                    json!({"startTime": "2025-11-22T11:59:59.999Z", "endTime": "2025-11-22T12:30:00Z"}),
                ),
                "startTime",
            ),
            (
                "session end more than 5 min ahead",
                session(
                    json!({"startTime": "2026-11-23T12:00:00Z", "endTime": "2026-11-23T12:05:00.001Z"}),
                ),
                "endTime",
            ),
            (
                "session startTime without offset",
                session(json!({"startTime": "2026-11-23T09:00:00"})),
                "startTime",
            ),
            (
                "session endTime a leap second",
                session(
                    json!({"startTime": "2026-06-30T23:59:00Z", "endTime": "2026-06-30T23:59:60Z"}),
                ),
                "endTime",
            ),
            (
                "session startTime epoch number",
                session(json!({"startTime": 1_795_428_000})),
                "startTime",
            ),
            // Roles and usage types.
            (
                "unknown role",
                session(json!({"role": "principal"})),
                "role",
            ),
            (
                "role in another case",
                session(json!({"role": "Teacher"})),
                "role",
            ),
            ("role number", session(json!({"role": 1})), "role"),
            (
                "unknown usageType",
                session(json!({"usageType": "live"})),
                "usageType",
            ),
            (
                "usageType as answers spell it",
                session(json!({"usageType": "Interactive"})),
                "usageType",
            ),
            (
                "usageType boolean",
                session(json!({"usageType": true})),
                "usageType",
            ),
            // Names.
            (
                "className NUL",
                start(json!({"className": "a\u{0}b"})),
                "className",
            ),
            (
                "className newline",
                start(json!({"className": "a\nb"})),
                "className",
            ),
            (
                "userId DEL",
                session(json!({"userId": "u\u{7f}"})),
                "userId",
            ),
            (
                "packageName NEL",
                package(json!({"packageName": "p\u{85}"})),
                "packageName",
            ),
            (
                "className 129 characters",
                start(json!({"className": long_name})),
                "className",
            ),
            (
                "userId 129 characters",
                session(json!({"userId": long_name})),
                "userId",
            ),
            (
                "packageName 129 characters",
                package(json!({"packageName": long_name})),
                "packageName",
            ),
            (
                "empty className",
                start(json!({"className": ""})),
                "className",
            ),
            ("empty userId", session(json!({"userId": ""})), "userId"),
            (
                "empty packageName",
                package(json!({"packageName": ""})),
                "packageName",
            ),
            (
                "className number",
                start(json!({"className": 101})),
                "className",
            ),
            ("userId number", session(json!({"userId": 42})), "userId"),
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
                "validFrom older than 366 days",
                package(json!({"validFrom": "2025-11-21", "validTo": "2026-01-01"})),
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
                "classId with a space",
                session(json!({"classId": "class 1"})),
                "classId",
            ),
            (
                "classId 65 characters",
                start(json!({"classId": long_id})),
                "classId",
            ),
            ("classId number", end(json!({"classId": 7})), "classId"),
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
            (
                "appId look-alike",
                session(json!({"appId": "аpp-1"})),
                "appId",
            ),
            // Missing and null.
            (
                "no userId",
                lcic_event(TYPE_CLASS_SESSION, without(session_data(), "userId")),
                "userId",
            ),
            (
                "no className",
                lcic_event(TYPE_CLASS_STARTED, without(started(), "className")),
                "className",
            ),
            (
                "no validTo",
                lcic_event(TYPE_PACKAGE_PURCHASED, without(package_data(), "validTo")),
                "validTo",
            ),
            (
                "no classId",
                lcic_event(TYPE_CLASS_ENDED, without(ended(), "classId")),
                "classId",
            ),
            ("null role", session(json!({"role": null})), "role"),
            (
                "null className",
                start(json!({"className": null})),
                "className",
            ),
            ("null minutes", package(json!({"minutes": null})), "minutes"),
            ("null endTime", end(json!({"endTime": null})), "endTime"),
            // Class times out of range.
            (
                "class start more than 5 min ahead",
                start(json!({"startTime": "2026-11-23T12:05:00.001Z"})),
                "startTime",
            ),
            (
                "class start older than 366 days",
                start(json!({"startTime": "2025-11-22T11:59:59.999Z"})),
                "startTime",
            ),
            (
                "class end more than 5 min ahead",
                end(json!({"endTime": "2026-11-23T20:05:01+08:00"})),
                "endTime",
            ),
            (
                "class end older than 366 days",
                end(json!({"endTime": "2025-01-01T00:00:00Z"})),
                "endTime",
            ),
            (
                "class start a leap second",
                start(json!({"startTime": "2026-06-30T23:59:60Z"})),
                "startTime",
            ),
            // Data not an object.
            (
                "session data an array",
                lcic_event(TYPE_CLASS_SESSION, json!([session_data()])),
                "data must be a JSON object",
            ),
            (
                "package data a string",
                lcic_event(TYPE_PACKAGE_PURCHASED, json!(package_data().to_string())),
                "data must be a JSON object",
            ),
            (
                "class end data null",
                lcic_event(TYPE_CLASS_ENDED, Value::Null),
                "data is missing",
            ),
            // Registration names.
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
        ]
    }

    #[test]
    fn malformed_class_session_package_and_registration_events_are_refused() {
        let corpus = lcic_corpus();
        assert!(corpus.len() >= 30);
        for (label, body, field) in corpus {
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

    #[test]
    fn reasons_never_echo_long_input() {
        let huge = "Teacher".repeat(10_000);
        let r = decode(
            &lcic_event(
                TYPE_CLASS_SESSION,
                with(session_data(), json!({"role": huge})),
            ),
            now(),
        )
        .unwrap_err();
        assert!(r.reason.contains("data.role"), "{}", r.reason);
        assert!(r.reason.len() < 200, "{}", r.reason);
        // Control characters in an echoed value are escaped, not written.
        let r = decode(
            &lcic_event(
                TYPE_CLASS_SESSION,
                with(session_data(), json!({"usageType": "live\nreplay"})),
            ),
            now(),
        )
        .unwrap_err();
        assert!(!r.reason.contains('\n'), "{}", r.reason);
    }
}
