//! How the answers write their fields. Field names and order are the
//! contract's; integers are JSON integers, durations exact seconds, days
//! `YYYY-MM-DD`, unknowns `null`. Instants are written by the app's zone
//! (`BillingZone::format`: RFC 3339 with its offset, truncated to the second)
//! where the answer is built. One place for these writers, so every answer writes an id,
//! a day or an interval the same way.

use crate::domain::class::UsageType;
use crate::domain::time::{Day, Interval, SECOND_MS};
use serde::Serializer;
use std::fmt;

/// Writes a value by its `Display` text: ids, names and instants.
pub(super) fn display<T: fmt::Display, S: Serializer>(
    value: &T,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.collect_str(value)
}

pub(super) fn display_or_null<T: fmt::Display, S: Serializer>(
    value: &Option<T>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match value {
        Some(value) => serializer.collect_str(value),
        None => serializer.serialize_none(),
    }
}

pub(super) fn day_key<S: Serializer>(day: &Day, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&day.key())
}

pub(super) fn day_key_or_null<S: Serializer>(
    day: &Option<Day>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match day {
        Some(day) => serializer.serialize_str(&day.key()),
        None => serializer.serialize_none(),
    }
}

pub(super) fn usage_type_or_null<S: Serializer>(
    value: &Option<UsageType>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match value {
        Some(usage) => serializer.serialize_str(usage.as_str()),
        None => serializer.serialize_none(),
    }
}

/// `Interval`: the buckets' length in seconds, a JSON integer.
pub(super) fn interval_seconds<S: Serializer>(
    interval: &Interval,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_i64(interval.millis() / SECOND_MS)
}
