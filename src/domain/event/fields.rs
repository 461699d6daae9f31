//! The field parsers every event family shares: strings, names and
//! identifiers, dates and instants, and the accepted range of an instant or
//! of a usage interval. Each refuses with a reason that names the field.

use crate::domain::ids::{AppId, ClassId, Name};
use crate::domain::time::{Day, HOUR_MS, MINUTE_MS, REACH_DAYS, REACH_MS, UtcMillis};
use chrono::{DateTime, Timelike};
use serde::Deserialize;
use serde_json::Value;

/// The longest usage interval (recording segment or class session).
pub const MAX_SEGMENT_MS: i64 = 48 * HOUR_MS;
/// Late events are accepted until their start is this old: the contract's
/// reach.
pub const MAX_LATENESS_MS: i64 = REACH_MS;
/// Producers' clocks may run this far ahead of ours.
pub const MAX_CLOCK_SKEW_MS: i64 = 5 * MINUTE_MS;

/// An event's `data`, which must be a JSON object, into its family's fields.
pub(super) fn parse_data<'de, T: Deserialize<'de>>(data: &'de str) -> Result<T, String> {
    if !data.trim_start().starts_with('{') {
        return Err("data must be a JSON object".into());
    }
    serde_json::from_str(data).map_err(|e| format!("data: {e}"))
}

/// The `[start, end)` of a usage interval (a recording segment or a class
/// session, which follow the same rules): each time truncated to the
/// millisecond, the end after the start, at most 48 hours long, starting no
/// earlier than now − 366 days and ending no later than now + 5 minutes.
pub(super) fn usage_interval(
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
pub(super) fn instant(
    value: &Option<Value>,
    name: &str,
    now: UtcMillis,
) -> Result<UtcMillis, String> {
    let time = parse_rfc3339(required_string(value, name)?, name)?;
    not_too_old(time, name, now)?;
    not_in_future(time, name, now)?;
    Ok(time)
}

fn not_too_old(time: UtcMillis, name: &str, now: UtcMillis) -> Result<(), String> {
    if time < now.minus_ms(MAX_LATENESS_MS) {
        return Err(format!("{name} is more than {REACH_DAYS} days ago"));
    }
    Ok(())
}

fn not_in_future(time: UtcMillis, name: &str, now: UtcMillis) -> Result<(), String> {
    if time > now.plus_ms(MAX_CLOCK_SKEW_MS) {
        return Err(format!("{name} is more than 5 minutes in the future"));
    }
    Ok(())
}

pub(super) fn required_string<'v>(value: &'v Option<Value>, name: &str) -> Result<&'v str, String> {
    match value {
        None | Some(Value::Null) => Err(format!("{name} is missing")),
        Some(Value::String(s)) if s.is_empty() => Err(format!("{name} is empty")),
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(format!("{name} must be a string")),
    }
}

pub(super) fn optional_positive_integer(
    value: &Option<Value>,
    name: &str,
) -> Result<Option<u64>, String> {
    match value {
        None => Ok(None),
        Some(v) => match v.as_u64() {
            Some(n) if n > 0 => Ok(Some(n)),
            _ => Err(format!("{name} must be a positive integer")),
        },
    }
}

pub(super) fn app_id(value: &Option<Value>) -> Result<AppId, String> {
    AppId::parse(required_string(value, "data.appId")?)
        .ok_or_else(|| "data.appId must be 1-64 of A-Z a-z 0-9 - _ .".into())
}

pub(super) fn class_id(value: &Option<Value>) -> Result<ClassId, String> {
    ClassId::parse(required_string(value, "data.classId")?)
        .ok_or_else(|| "data.classId must be 1-64 of A-Z a-z 0-9 - _ .".into())
}

/// A name or user id; an empty string breaks the length rule like any other.
pub(super) fn required_name(value: &Option<Value>, name: &str) -> Result<Name, String> {
    optional_name(value, name)?.ok_or_else(|| format!("{name} is missing"))
}

/// `None` when absent or `null`; anything else must be a valid name.
pub(super) fn optional_name(value: &Option<Value>, name: &str) -> Result<Option<Name>, String> {
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

/// Exactly `YYYY-MM-DD`, a real calendar date (a day of the app's zone).
pub(super) fn day(value: &Option<Value>, name: &str) -> Result<Day, String> {
    Day::parse_key(required_string(value, name)?)
        .ok_or_else(|| format!("{name} must be a real date written YYYY-MM-DD"))
}

/// RFC 3339 with any offset and fractional seconds, truncated to the millisecond.
pub(super) fn parse_rfc3339(text: &str, name: &str) -> Result<UtcMillis, String> {
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

    #[test]
    fn truncate_respects_char_boundaries() {
        assert_eq!(truncate("héllo", 2), "hé…");
        assert_eq!(truncate("hé", 2), "hé");
    }
}
