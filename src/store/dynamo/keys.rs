//! Where each item lives: the table's key layout.
//!
//! | item | pk | sk |
//! | --- | --- | --- |
//! | app registration | `APP#{appId}` | `REGISTRATION` |
//! | recording usage, hourly | `APP#{appId}` | `REC#H#{YYYY-MM-DDThh}` |
//! | recording usage, daily | `APP#{appId}` | `REC#D#{YYYY-MM-DD}` |
//! | event dedupe record | `EVT#{digest of source, id}` | `EVT` |
//!
//! An app's hours (and days) are one contiguous, sortable key range, so a
//! 31-day query is one `Query` page.

use super::item::{Item, s};
use crate::domain::event::EventKey;
use crate::domain::ids::AppId;
use crate::domain::time::{Day, Hour};
use crate::store::{StoreError, StoreResult};
use std::collections::HashMap;

pub const PK: &str = "pk";
pub const SK: &str = "sk";
/// Set on a day item while it has changes the rollup has not taken in; the
/// key of the sparse `PendingRollup` index. Its value names the meter.
pub const ROLLUP_PENDING: &str = "rollup_pending";
/// Set on every day item; the key of the `UsageByDay` index.
pub const USAGE_DAY: &str = "usage_day";
pub const PENDING_INDEX: &str = "PendingRollup";
pub const DAY_INDEX: &str = "UsageByDay";

/// The recording meter's name: the prefix of its items' sort keys and the
/// value of its days' `rollup_pending` mark.
pub const RECORDING_METER: &str = "REC";
pub const REGISTRATION_SK: &str = "REGISTRATION";
pub const EVENT_SK: &str = "EVT";
const HOUR_PREFIX: &str = "REC#H#";
const DAY_PREFIX: &str = "REC#D#";
const APP_PREFIX: &str = "APP#";
const EVENT_PREFIX: &str = "EVT#";

pub fn app_pk(app: &AppId) -> String {
    format!("{APP_PREFIX}{app}")
}
pub fn hour_sk(hour: Hour) -> String {
    format!("{HOUR_PREFIX}{}", hour.key())
}
pub fn day_sk(day: Day) -> String {
    format!("{DAY_PREFIX}{}", day.key())
}
pub fn event_pk(key: &EventKey) -> String {
    format!("{EVENT_PREFIX}{}", key.hex())
}
/// The `UsageByDay` index key of a recording day item.
pub fn usage_day(day: Day) -> String {
    format!("{RECORDING_METER}#{}", day.key())
}

/// A primary key.
pub fn key(pk: String, sk: impl Into<String>) -> Item {
    HashMap::from([(PK.to_owned(), s(pk)), (SK.to_owned(), s(sk))])
}

fn attr<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
}

/// The app an item belongs to, from its partition key.
pub fn app_of(item: &Item) -> StoreResult<AppId> {
    attr(item, PK)
        .and_then(|pk| pk.strip_prefix(APP_PREFIX))
        .and_then(AppId::parse)
        .ok_or_else(|| StoreError::Corrupt("app item key".into()))
}

/// The hour of an hourly item, from its sort key.
pub fn hour_of(item: &Item) -> StoreResult<Hour> {
    attr(item, SK)
        .and_then(|sk| sk.strip_prefix(HOUR_PREFIX))
        .and_then(Hour::parse_key)
        .ok_or_else(|| StoreError::Corrupt("hour item key".into()))
}

/// The day of a day item, from its sort key.
pub fn day_of(item: &Item) -> StoreResult<Day> {
    attr(item, SK)
        .and_then(|sk| sk.strip_prefix(DAY_PREFIX))
        .and_then(Day::parse_key)
        .ok_or_else(|| StoreError::Corrupt("day item key".into()))
}

/// The event of a dedupe record, from its partition key.
pub fn event_of(item: &Item) -> Option<EventKey> {
    attr(item, PK)
        .and_then(|pk| pk.strip_prefix(EVENT_PREFIX))
        .and_then(EventKey::from_hex)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip() {
        let app = AppId::parse("app-1").unwrap();
        let day = Day::parse_key("2024-02-29").unwrap();
        let hour = day.first_hour();
        let item = key(app_pk(&app), day_sk(day));
        assert_eq!(
            (app_of(&item).unwrap(), day_of(&item).unwrap()),
            (app.clone(), day)
        );
        assert_eq!(hour_of(&key(app_pk(&app), hour_sk(hour))).unwrap(), hour);
        assert!(
            day_of(&key(app_pk(&app), hour_sk(hour))).is_err(),
            "an hour is not a day"
        );
        let event = EventKey::of("src", "id");
        assert_eq!(event_of(&key(event_pk(&event), EVENT_SK)), Some(event));
        assert_eq!(usage_day(day), "REC#2024-02-29");
    }
}
