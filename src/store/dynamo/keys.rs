//! Where each item lives: the table's key layout.
//!
//! | item | pk | sk |
//! | --- | --- | --- |
//! | app registration | `APP#{appId}` | `REGISTRATION` |
//! | recording usage, hourly | `APP#{appId}` | `REC#H#{YYYY-MM-DDThh}` |
//! | recording usage, daily | `APP#{appId}` | `REC#D#{YYYY-MM-DD}` |
//! | a class's recording, daily | `APP#{appId}` | `REC#R#{YYYY-MM-DD}#{classId}` |
//! | event dedupe record | `EVT#{digest of source, id}` | `EVT` |
//! | audio/video usage, hourly | `APP#{appId}` | `AV#H#{YYYY-MM-DDThh}` |
//! | details row | `APP#{appId}` | `AV#R#{YYYY-MM-DD}#{classId}#{I or P}` |
//! | class facts | `APP#{appId}` | `AV#F#{classId}` |
//! | balance prepared for a day | `APP#{appId}` | `AV#L#B#{YYYY-MM-DD}` |
//! | package | `APP#{appId}` | `AV#L#P#{packageId}` |
//! | deduction state | `APP#{appId}` | `AV#L#S` |
//! | user mark | `AVU#{appId}#{YYYY-MM-DD}#{classId}#{I or P}` | digest of the user id |
//! | usage parked until the app's zone is fixed | `APP#{appId}` | `PARK#{event digest}` |
//! | storage measurement | `APP#{appId}` | `STO#M#{epoch ms, 15 digits}#{bytes, 16 digits}` |
//! | AccessKey | `AK#{accessKeyId}` | `AK` |
//! | nonce used with an AccessKey | `NONCE#{accessKeyId}#{SHA-256 of the nonce, hex}` | `NONCE` |
//! | an AccessKey's requests in one second | `RATE#{accessKeyId}#{epoch second}` | `RATE` |
//! | a busy app's line of writers | `TURN#{appId}` | `TURN` |
//!
//! An app's hours (and days, and rows) are one contiguous, sortable key
//! range, so a 31-day query is one `Query` page. User marks have partitions
//! of their own: they are written once per user and row, never read by a
//! query, and would otherwise grow the app's partition with its audience.
//! AccessKeys, nonces and request counters are each an item of their own
//! partition: each is read or written alone, by its whole key, and a
//! key's traffic spreads over a new partition key per nonce and per second.
//! A busy app's line of writers is a partition of its own too: it is
//! written twice a batch of that app's, beside the app's own hot items.
//!
//! This file holds the keys only (and the indexes' key attributes): each
//! aggregate's other attribute names live beside its requests, in its own
//! file (`registration.rs`, `recording.rs`, `classes.rs`, `ledger.rs`,
//! `rows.rs`, `av_hours.rs`, `access_keys.rs`), and the attributes several
//! share in `item.rs`.

use super::item::{Item, s};
use crate::domain::access_key::AccessKeyId;
use crate::domain::class::UsageType;
use crate::domain::commit::{RowKey, UserMark};
use crate::domain::event::EventKey;
use crate::domain::ids::{AppId, ClassId, PackageId};
use crate::domain::statement::Month;
use crate::domain::storage::{MAX_BYTES, Reading};
use crate::domain::time::{Day, Hour, UtcMillis};
use crate::store::{StoreError, StoreResult};
use sha2::{Digest, Sha256};
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
/// Registrations by owner account, with the app's name: the caller's apps.
pub const OWNER_INDEX: &str = "AppsByOwner";

/// The recording meter's name: the prefix of its items' sort keys and the
/// value of its days' `rollup_pending` mark.
pub const RECORDING_METER: &str = "REC";
pub const REGISTRATION_SK: &str = "REGISTRATION";
pub const EVENT_SK: &str = "EVT";
/// The audio/video meter's name: the value of its state's `rollup_pending`.
pub const AV_METER: &str = "AV";
/// The deduction's inputs sort together (`AV#L#`): the balances of a day and
/// later, every package and the state are one range, one `Query`.
pub const AV_STATE_SK: &str = "AV#L#S";
const AV_BALANCE_PREFIX: &str = "AV#L#B#";
const AV_HOUR_PREFIX: &str = "AV#H#";
const AV_ROW_PREFIX: &str = "AV#R#";
const AV_FACTS_PREFIX: &str = "AV#F#";
const AV_PACKAGE_PREFIX: &str = "AV#L#P#";
const USER_MARK_PREFIX: &str = "AVU#";
const PARKED_PREFIX: &str = "PARK#";
const LATE_PREFIX: &str = "LATE#";
const STATEMENT_PREFIX: &str = "STMT#";
const HOUR_PREFIX: &str = "REC#H#";
const CLASS_RECORDING_PREFIX: &str = "REC#R#";
const DAY_PREFIX: &str = "REC#D#";
const APP_PREFIX: &str = "APP#";
const TURN_PREFIX: &str = "TURN#";
pub const TURN_SK: &str = "TURN";
const EVENT_PREFIX: &str = "EVT#";

/// Late usage sorts by its acknowledgement instant (epoch ms, 15 digits),
/// then the event's key and its direction (`A` added, `T` taken back).
pub fn late_sk(acked: UtcMillis, event: &EventKey, taken: bool) -> String {
    let sign = if taken { 'T' } else { 'A' };
    format!("{LATE_PREFIX}{:015}#{}#{sign}", acked.0.max(0), event.hex())
}

/// Late usage acknowledged at `since` or after.
pub fn late_range(since: UtcMillis) -> (String, String) {
    (
        format!("{LATE_PREFIX}{:015}", since.0.max(0)),
        format!("{LATE_PREFIX}~"),
    )
}

pub fn statement_sk(month: Month) -> String {
    format!("{STATEMENT_PREFIX}{month}")
}

pub fn turn_pk(app: &AppId) -> String {
    format!("{TURN_PREFIX}{app}")
}

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
pub fn av_hour_sk(hour: Hour) -> String {
    format!("{AV_HOUR_PREFIX}{}", hour.key())
}

/// The hour of an audio/video hour item, from its sort key.
pub fn av_hour_of(item: &Item) -> StoreResult<Hour> {
    attr(item, SK)
        .and_then(|sk| sk.strip_prefix(AV_HOUR_PREFIX))
        .and_then(Hour::parse_key)
        .ok_or_else(|| StoreError::Corrupt("audio/video hour key".into()))
}

/// The first and last possible row keys of the days `first..=last`.
pub fn av_row_range(first: Day, last: Day) -> (String, String) {
    // `~` sorts after every character of a class id and after `#`.
    (
        format!("{AV_ROW_PREFIX}{}#", first.key()),
        format!("{AV_ROW_PREFIX}{}#~", last.key()),
    )
}

pub fn av_row_sk(row: &RowKey) -> String {
    format!(
        "{AV_ROW_PREFIX}{}#{}#{}",
        row.day.key(),
        row.class,
        row.usage.code()
    )
}

/// The row of a row item, from its keys.
pub fn row_of(item: &Item) -> StoreResult<RowKey> {
    let corrupt = || StoreError::Corrupt("row item key".into());
    let rest = attr(item, SK)
        .and_then(|sk| sk.strip_prefix(AV_ROW_PREFIX))
        .ok_or_else(corrupt)?;
    let (day, rest) = rest.split_once('#').ok_or_else(corrupt)?;
    let (class, usage) = rest.rsplit_once('#').ok_or_else(corrupt)?;
    let mut usage = usage.chars();
    Ok(RowKey {
        app: app_of(item)?,
        day: Day::parse_key(day).ok_or_else(corrupt)?,
        class: ClassId::parse(class).ok_or_else(corrupt)?,
        usage: match (usage.next().and_then(UsageType::from_code), usage.next()) {
            (Some(u), None) => u,
            _ => return Err(corrupt()),
        },
    })
}

pub fn parked_sk(event: &EventKey) -> String {
    format!("{PARKED_PREFIX}{}", event.hex())
}

/// The first and last possible parked-usage keys of an app.
pub fn parked_range() -> (String, String) {
    (PARKED_PREFIX.to_owned(), format!("{PARKED_PREFIX}~"))
}

/// The event of a parked-usage item, from its sort key.
pub fn parked_event_of(item: &Item) -> StoreResult<EventKey> {
    attr(item, SK)
        .and_then(|sk| sk.strip_prefix(PARKED_PREFIX))
        .and_then(EventKey::from_hex)
        .ok_or_else(|| StoreError::Corrupt("parked usage key".into()))
}

pub fn av_facts_sk(class: &ClassId) -> String {
    format!("{AV_FACTS_PREFIX}{class}")
}

/// The class of a facts item, from its sort key.
pub fn facts_class_of(item: &Item) -> StoreResult<ClassId> {
    attr(item, SK)
        .and_then(|sk| sk.strip_prefix(AV_FACTS_PREFIX))
        .and_then(ClassId::parse)
        .ok_or_else(|| StoreError::Corrupt("class facts key".into()))
}

pub fn av_package_sk(package: &PackageId) -> String {
    format!("{AV_PACKAGE_PREFIX}{package}")
}

pub fn av_balance_sk(day: Day) -> String {
    format!("{AV_BALANCE_PREFIX}{}", day.key())
}

/// Balances of `from` and later, every package and the state: one range.
pub fn ledger_range(from: Day) -> (String, String) {
    (av_balance_sk(from), AV_STATE_SK.to_owned())
}

/// What an item of a ledger range is.
pub enum LedgerItem {
    Balance(Day),
    Package,
    State,
}

pub fn ledger_item_of(item: &Item) -> StoreResult<LedgerItem> {
    let sk = attr(item, SK).unwrap_or_default();
    if sk == AV_STATE_SK {
        Ok(LedgerItem::State)
    } else if sk.starts_with(AV_PACKAGE_PREFIX) {
        Ok(LedgerItem::Package)
    } else {
        sk.strip_prefix(AV_BALANCE_PREFIX)
            .and_then(Day::parse_key)
            .map(LedgerItem::Balance)
            .ok_or_else(|| StoreError::Corrupt("ledger item key".into()))
    }
}

/// Every package key of an app sorts inside this range.
pub fn av_package_range() -> (String, String) {
    (
        AV_PACKAGE_PREFIX.to_owned(),
        format!("{AV_PACKAGE_PREFIX}~"),
    )
}

pub fn package_id_of(item: &Item) -> StoreResult<PackageId> {
    attr(item, SK)
        .and_then(|sk| sk.strip_prefix(AV_PACKAGE_PREFIX))
        .and_then(PackageId::parse)
        .ok_or_else(|| StoreError::Corrupt("package key".into()))
}

/// A user mark's key: one partition per row, the user as a digest (a user
/// id can be 128 characters of any script; the digest is fixed-size).
pub fn user_mark_key(mark: &UserMark) -> Item {
    let row = &mark.row;
    let digest = Sha256::digest(mark.user.as_str().as_bytes());
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    key(
        format!(
            "{USER_MARK_PREFIX}{}#{}#{}#{}",
            row.app,
            row.day.key(),
            row.class,
            row.usage.code()
        ),
        hex,
    )
}

pub fn class_recording_sk(day: Day, class: &ClassId) -> String {
    format!("{CLASS_RECORDING_PREFIX}{}#{class}", day.key())
}

/// The first and last possible class recording keys of the days `first..=last`.
pub fn class_recording_range(first: Day, last: Day) -> (String, String) {
    (
        format!("{CLASS_RECORDING_PREFIX}{}#", first.key()),
        format!("{CLASS_RECORDING_PREFIX}{}#~", last.key()),
    )
}

/// The day and class of a class recording item, from its sort key.
pub fn class_recording_of(item: &Item) -> StoreResult<(Day, ClassId)> {
    attr(item, SK)
        .and_then(|sk| sk.strip_prefix(CLASS_RECORDING_PREFIX))
        .and_then(|rest| rest.split_once('#'))
        .and_then(|(day, class)| Some((Day::parse_key(day)?, ClassId::parse(class)?)))
        .ok_or_else(|| StoreError::Corrupt("class recording key".into()))
}

/// The `UsageByDay` index key of a recording day item.
pub fn usage_day(day: Day) -> String {
    format!("{RECORDING_METER}#{}", day.key())
}

const MEASUREMENT_PREFIX: &str = "STO#M#";

/// A storage measurement's sort key. Both numbers are zero-padded, so keys
/// sort by instant, then bytes: a window is one `BETWEEN`, and the latest
/// reading before it (the largest of its instant) is the first item of a
/// descending `Query`. The bytes are part of the key, so storing the same
/// measurement again writes the same item: idempotent without a dedupe
/// record. 15 digits of milliseconds reach the year 33658; 16 digits hold
/// 2^53 − 1.
pub fn measurement_sk(reading: &Reading) -> String {
    format!(
        "{MEASUREMENT_PREFIX}{:015}#{:016}",
        reading.at.0.max(0),
        reading.bytes
    )
}

/// The lowest and highest possible sort keys of readings at instants
/// `first..=last`.
pub fn measurement_range(first: UtcMillis, last: UtcMillis) -> (String, String) {
    (
        measurement_sk(&Reading {
            at: first,
            bytes: 0,
        }),
        measurement_sk(&Reading {
            at: last,
            bytes: MAX_BYTES,
        }),
    )
}

/// The reading of a measurement item, from its sort key.
pub fn measurement_of(item: &Item) -> StoreResult<Reading> {
    attr(item, SK)
        .and_then(|sk| sk.strip_prefix(MEASUREMENT_PREFIX))
        .and_then(|rest| rest.split_once('#'))
        .filter(|(at, bytes)| at.len() == 15 && bytes.len() == 16)
        .and_then(|(at, bytes)| {
            let at = at
                .parse()
                .ok()
                .filter(|_| at.bytes().all(|b| b.is_ascii_digit()))?;
            let bytes = bytes
                .parse()
                .ok()
                .filter(|b| *b <= MAX_BYTES && bytes.bytes().all(|b| b.is_ascii_digit()))?;
            Some(Reading {
                at: UtcMillis(at),
                bytes,
            })
        })
        .ok_or_else(|| StoreError::Corrupt("storage measurement key".into()))
}

const ACCESS_KEY_PREFIX: &str = "AK#";
pub const ACCESS_KEY_SK: &str = "AK";
const NONCE_PREFIX: &str = "NONCE#";
pub const NONCE_SK: &str = "NONCE";
const RATE_PREFIX: &str = "RATE#";
pub const RATE_SK: &str = "RATE";

/// What follows `prefix` in the partition key of an item whose sort key is
/// `sk`: the AccessKeys' items are told apart by both.
fn pk_after<'a>(item: &'a Item, sk: &str, prefix: &str) -> Option<&'a str> {
    Some(item)
        .filter(|item| attr(item, SK) == Some(sk))
        .and_then(|item| attr(item, PK))
        .and_then(|pk| pk.strip_prefix(prefix))
}

pub fn access_key_key(id: &AccessKeyId) -> Item {
    key(format!("{ACCESS_KEY_PREFIX}{id}"), ACCESS_KEY_SK)
}

/// The AccessKey of an AccessKey item, from its key.
pub fn access_key_of(item: &Item) -> StoreResult<AccessKeyId> {
    pk_after(item, ACCESS_KEY_SK, ACCESS_KEY_PREFIX)
        .and_then(AccessKeyId::parse)
        .ok_or_else(|| StoreError::Corrupt("access key item key".into()))
}

/// A nonce's key: the nonce as its SHA-256 digest. A nonce is whatever
/// text the caller chose; as a digest it is always 64 hex characters, so a
/// huge nonce (DynamoDB refuses partition keys over 2,048 bytes) or one
/// holding `#` or odd Unicode can neither fail the write nor alias another
/// key, and the item stays far under 1 KB (one write unit).
pub fn nonce_key(id: &AccessKeyId, nonce: &str) -> Item {
    key(
        format!("{NONCE_PREFIX}{id}#{}", nonce_digest(nonce)),
        NONCE_SK,
    )
}

/// SHA-256 of the nonce's UTF-8 bytes, lowercase hex.
pub fn nonce_digest(nonce: &str) -> String {
    Sha256::digest(nonce.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The AccessKey and nonce digest of a nonce item, from its key.
pub fn nonce_of(item: &Item) -> StoreResult<(AccessKeyId, String)> {
    pk_after(item, NONCE_SK, NONCE_PREFIX)
        .and_then(|rest| rest.split_once('#'))
        .filter(|(_, digest)| {
            digest.len() == 64
                && digest
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        })
        .and_then(|(id, digest)| Some((AccessKeyId::parse(id)?, digest.to_owned())))
        .ok_or_else(|| StoreError::Corrupt("nonce item key".into()))
}

pub fn rate_key(id: &AccessKeyId, second: i64) -> Item {
    key(format!("{RATE_PREFIX}{id}#{second}"), RATE_SK)
}

/// The AccessKey and epoch second of a request counter, from its key.
pub fn rate_of(item: &Item) -> StoreResult<(AccessKeyId, i64)> {
    pk_after(item, RATE_SK, RATE_PREFIX)
        .and_then(|rest| rest.split_once('#'))
        .and_then(|(id, second)| {
            let parsed: i64 = second.parse().ok()?;
            // Only the form `rate_key` writes: no sign, no leading zeros.
            (parsed.to_string() == second).then_some(())?;
            Some((AccessKeyId::parse(id)?, parsed))
        })
        .ok_or_else(|| StoreError::Corrupt("request counter key".into()))
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

    #[test]
    fn access_key_items_round_trip_and_refuse_other_shapes() {
        let id = AccessKeyId::parse("RTCU0123456789ABCDEFGHIJ").unwrap();
        assert_eq!(access_key_of(&access_key_key(&id)).unwrap(), id);
        let item = nonce_key(&id, "a nonce");
        let (of, digest) = nonce_of(&item).unwrap();
        assert_eq!((of, digest.len()), (id.clone(), 64));
        assert_eq!(
            digest,
            nonce_digest("a nonce"),
            "the digest is of the nonce's text"
        );
        for second in [0, 1_795_428_000, -1] {
            assert_eq!(
                rate_of(&rate_key(&id, second)).unwrap(),
                (id.clone(), second)
            );
        }
        // One AccessKey's items are each their own partition, and none of
        // them reads as another kind.
        let items = [access_key_key(&id), nonce_key(&id, "n"), rate_key(&id, 7)];
        assert!(nonce_of(&items[0]).is_err() && rate_of(&items[0]).is_err());
        assert!(access_key_of(&items[1]).is_err() && rate_of(&items[1]).is_err());
        assert!(access_key_of(&items[2]).is_err() && nonce_of(&items[2]).is_err());
        for (pk, sk) in [
            ("AK#LTAI0123456789ABCDEFGHIJ", "AK"),
            ("AK#RTCU0123456789ABCDEFGHIJ", "NONCE"),
            ("RATE#RTCU0123456789ABCDEFGHIJ#007", "RATE"),
            ("RATE#RTCU0123456789ABCDEFGHIJ#+7", "RATE"),
            ("RATE#RTCU0123456789ABCDEFGHIJ", "RATE"),
            ("NONCE#RTCU0123456789ABCDEFGHIJ#ABCD", "NONCE"),
        ] {
            let item = key(pk.to_owned(), sk);
            assert!(
                access_key_of(&item).is_err()
                    && nonce_of(&item).is_err()
                    && rate_of(&item).is_err(),
                "{pk} {sk}"
            );
        }
    }

    #[test]
    fn any_nonce_is_a_fixed_size_key() {
        let id = AccessKeyId::parse("RTCU0123456789ABCDEFGHIJ").unwrap();
        let huge = "x".repeat(100_000);
        let nonces = ["", "#", "NONCE#RTCU#", "\u{0}", "é", "e\u{301}", &huge];
        let mut pks = std::collections::BTreeSet::new();
        for nonce in nonces {
            let item = nonce_key(&id, nonce);
            let pk = attr(&item, PK).unwrap().to_owned();
            assert_eq!(pk.len(), "NONCE#".len() + 24 + 1 + 64, "{nonce:?}");
            assert!(pks.insert(pk));
        }
    }

    #[test]
    fn row_keys_round_trip_and_sort_as_rows_are_listed() {
        let row = |class: &str, usage| RowKey {
            app: AppId::parse("app-1").unwrap(),
            day: Day::parse_key("2026-11-20").unwrap(),
            class: ClassId::parse(class).unwrap(),
            usage,
        };
        let rows = [
            row("c", UsageType::Interactive),
            row("c", UsageType::Playback),
            row("c-1", UsageType::Interactive),
            row("c.1", UsageType::Interactive),
            row("c1", UsageType::Interactive),
            row("cZ", UsageType::Interactive),
        ];
        let (from, to) = av_row_range(rows[0].day, rows[0].day);
        let mut previous = from.clone();
        for r in &rows {
            let item = key(app_pk(&r.app), av_row_sk(r));
            assert_eq!(&row_of(&item).unwrap(), r);
            let sk = av_row_sk(r);
            assert!(previous < sk && sk < to, "{previous} < {sk} < {to}");
            previous = sk;
        }
        let mut sorted = rows.clone();
        sorted.sort();
        assert_eq!(sorted, rows, "the key order is the rows' order");
    }

    #[test]
    fn measurement_keys_round_trip_and_sort_by_instant_then_bytes() {
        let app = AppId::parse("app-1").unwrap();
        let at = |ms: i64| UtcMillis(ms);
        let readings = [
            Reading {
                at: at(0),
                bytes: 0,
            },
            Reading {
                at: at(9),
                bytes: MAX_BYTES,
            },
            Reading {
                at: at(10),
                bytes: 0,
            },
            Reading {
                at: at(10),
                bytes: 9,
            },
            Reading {
                at: at(10),
                bytes: 10,
            },
            Reading {
                at: at(1_795_428_000_000),
                bytes: 1,
            },
            Reading {
                at: at(999_999_999_999_999),
                bytes: MAX_BYTES,
            },
        ];
        let mut previous = String::new();
        for r in &readings {
            let sk = measurement_sk(r);
            assert_eq!(measurement_of(&key(app_pk(&app), sk.clone())).unwrap(), *r);
            assert!(previous < sk, "{previous} < {sk}");
            previous = sk;
        }
        let (from, to) = measurement_range(at(10), at(10));
        for r in &readings {
            let sk = measurement_sk(r);
            assert_eq!(from <= sk && sk <= to, r.at == at(10), "{sk}");
        }
        for bad in [
            "STO#M#000000000000010#00000000000000001",
            "STO#M#00000000000001#0000000000000001",
            "STO#M#+00000000000010#0000000000000001",
            "STO#M#000000000000010#9007199254740992",
            "STO#M#000000000000010",
            "REC#H#2026-11-20T10",
        ] {
            assert!(measurement_of(&key(app_pk(&app), bad)).is_err(), "{bad}");
        }
    }
}
