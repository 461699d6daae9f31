//! What an event key holds (`EVT#{digest}`/`EVT`): a usage event's record
//! with the usage it counted (so a void can take exactly that back), a
//! void's own record, or a void kept for an event that has not arrived.
//! The usage is written in the same attributes a parked record uses. The
//! commit (`commit.rs`) writes these records; a void reads them here.

use super::error::built;
use super::item::{EXPIRES_AT, Item, UpdateExpr, epoch_seconds, get_n, get_s, n, s};
use super::keys::*;
use super::{BATCH_GET_LIMIT, DynamoStore};
use crate::domain::class::{Role, Session, UsageType};
use crate::domain::commit::{Counted, EventWrite, VoidEffect, VoidWrite};
use crate::domain::correction::Recorded;
use crate::domain::event::{EventKey, Segment};
use crate::domain::ids::{AppId, ClassId, Name};
use crate::domain::time::UtcMillis;
use crate::domain::usage::{RecordMode, Tier};
use crate::store::{StoreError, StoreResult};
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, Delete, KeysAndAttributes, Put, TransactWriteItem,
};
use std::collections::HashMap;

/// What a record or parked item holds: `segment`, `session`, `void` or
/// `kept` (a void kept for its event).
pub(super) const KIND: &str = "kind";
const SEGMENT: &str = "segment";
const SESSION: &str = "session";
const VOID: &str = "void";
const KEPT: &str = "kept";
/// The app of a record (a parked item's app is its partition's).
pub(super) const APP: &str = "app";
/// When the invocation that wrote the record acknowledged the event, epoch ms.
const ACKED: &str = "acked";
/// Set on the record of an event written while its app had no zone.
const PARKED: &str = "parked";
/// Set on a voided event's record and on a kept void: the void's key.
const VOIDED_BY: &str = "voided_by";
const CLASS: &str = "class";
const MODE: &str = "mode";
const TIER: &str = "tier";
const USER: &str = "user";
const ROLE: &str = "role";
const USAGE: &str = "usage";
const START: &str = "start";
const END: &str = "end";

/// Writes `usage` into `item`'s attributes.
pub(super) fn put_usage(item: &mut Item, usage: &Counted) {
    let mut put = |name: &str, value| {
        item.insert(name.to_owned(), value);
    };
    match usage {
        Counted::Segment(seg) => {
            put(KIND, s(SEGMENT));
            if let Some(class) = &seg.class {
                put(CLASS, s(class.as_str()));
            }
            put(MODE, s(seg.mode.as_str()));
            put(TIER, s(seg.tier.short_name()));
            put(START, n(seg.start.0));
            put(END, n(seg.end.0));
        }
        Counted::Session(ses) => {
            put(KIND, s(SESSION));
            put(CLASS, s(ses.class.as_str()));
            put(USER, s(ses.user.as_str()));
            put(ROLE, s(ses.role.as_str()));
            put(USAGE, s(ses.usage.code().to_string()));
            put(START, n(ses.start.0));
            put(END, n(ses.end.0));
        }
    }
}

/// The usage `item` holds, of `app`.
pub(super) fn usage_in(item: &Item, app: AppId) -> StoreResult<Counted> {
    let corrupt = |what: &str| StoreError::Corrupt(format!("recorded usage {what}"));
    let millis = |name| -> StoreResult<UtcMillis> {
        let ms = get_n(item, name)?.ok_or_else(|| corrupt(name))?;
        i64::try_from(ms).map(UtcMillis).map_err(|_| corrupt(name))
    };
    let (start, end) = (millis(START)?, millis(END)?);
    match get_s(item, KIND) {
        Some(SEGMENT) => Ok(Counted::Segment(Segment {
            app,
            class: match get_s(item, CLASS) {
                None => None,
                Some(class) => Some(ClassId::parse(class).ok_or_else(|| corrupt(CLASS))?),
            },
            mode: get_s(item, MODE)
                .and_then(RecordMode::parse)
                .ok_or_else(|| corrupt(MODE))?,
            tier: get_s(item, TIER)
                .and_then(Tier::from_short_name)
                .ok_or_else(|| corrupt(TIER))?,
            start,
            end,
        })),
        Some(SESSION) => Ok(Counted::Session(Session {
            app,
            class: get_s(item, CLASS)
                .and_then(ClassId::parse)
                .ok_or_else(|| corrupt(CLASS))?,
            user: get_s(item, USER)
                .and_then(Name::parse)
                .ok_or_else(|| corrupt(USER))?,
            role: get_s(item, ROLE)
                .and_then(Role::parse)
                .ok_or_else(|| corrupt(ROLE))?,
            usage: get_s(item, USAGE)
                .and_then(|u| u.chars().next())
                .and_then(UsageType::from_code)
                .ok_or_else(|| corrupt(USAGE))?,
            start,
            end,
        })),
        _ => Err(corrupt(KIND)),
    }
}

fn record_app(item: &Item) -> StoreResult<AppId> {
    get_s(item, APP)
        .and_then(AppId::parse)
        .ok_or_else(|| StoreError::Corrupt("record app".into()))
}

/// What a record item holds.
fn recorded(item: &Item) -> StoreResult<Recorded> {
    Ok(match get_s(item, KIND) {
        // Written before records held their usage.
        None => Recorded::Bare,
        Some(VOID) => Recorded::Void {
            app: record_app(item)?,
        },
        Some(KEPT) => Recorded::Kept {
            app: record_app(item)?,
        },
        Some(_) => Recorded::Usage {
            usage: usage_in(item, record_app(item)?)?,
            voided: item.contains_key(VOIDED_BY),
            parked: item.contains_key(PARKED),
        },
    })
}

/// A kept void's app, if `item` (read with [`SEEN_PROJECTION`]) is one.
pub(super) fn kept_by(item: &Item) -> Option<AppId> {
    (get_s(item, KIND) == Some(KEPT))
        .then(|| get_s(item, APP).and_then(AppId::parse))
        .flatten()
}

fn record_key(event: &EventKey) -> Item {
    key(event_pk(event), EVENT_SK)
}

impl DynamoStore {
    fn put_when(
        &self,
        item: Item,
        condition: &str,
        expr: UpdateExpr,
    ) -> StoreResult<TransactWriteItem> {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(condition)
            .set_expression_attribute_names(Some(expr.names))
            .set_expression_attribute_values((!expr.values.is_empty()).then_some(expr.values))
            .build();
        Ok(TransactWriteItem::builder().put(built(put)?).build())
    }

    /// A new event's record: created only if the key holds nothing, or only
    /// a void another app kept (which never applies to this event), so a
    /// transaction holding it is cancelled if the event was counted before
    /// or its own app voided it first.
    pub(super) fn event_put(&self, event: &EventWrite) -> StoreResult<TransactWriteItem> {
        let mut item = record_key(&event.key);
        put_usage(&mut item, &event.usage);
        item.insert(APP.to_owned(), s(event.usage.app().as_str()));
        item.insert(EXPIRES_AT.to_owned(), epoch_seconds(event.expires));
        if event.parked {
            item.insert(PARKED.to_owned(), AttributeValue::Bool(true));
        }
        item.insert(ACKED.to_owned(), n(event.acked.0));
        let mut expr = UpdateExpr::default();
        let (pk, kind, app) = (expr.name(PK), expr.name(KIND), expr.name(APP));
        let (kept, mine) = (
            expr.value(s(KEPT)),
            expr.value(s(event.usage.app().as_str())),
        );
        let condition =
            format!("attribute_not_exists({pk}) OR ({kind} = {kept} AND {app} <> {mine})");
        self.put_when(item, &condition, expr)
    }

    /// A void's own record: created only if it does not exist (a void,
    /// like any event, counts once).
    pub(super) fn void_put(&self, void: &VoidWrite) -> StoreResult<TransactWriteItem> {
        let mut item = record_key(&void.key);
        item.insert(KIND.to_owned(), s(VOID));
        item.insert(APP.to_owned(), s(void.app.as_str()));
        item.insert(EXPIRES_AT.to_owned(), epoch_seconds(void.expires));
        let mut expr = UpdateExpr::default();
        let condition = format!("attribute_not_exists({})", expr.name(PK));
        self.put_when(item, &condition, expr)
    }

    /// What a void does to the record of the event it names (and to its
    /// parked record), each only if that record is as the void read it.
    pub(super) fn void_effect(&self, void: &VoidWrite) -> StoreResult<Vec<TransactWriteItem>> {
        let by = s(void.key.hex());
        if void.effect == VoidEffect::Kept {
            let mut item = record_key(&void.voided);
            item.insert(KIND.to_owned(), s(KEPT));
            item.insert(APP.to_owned(), s(void.app.as_str()));
            item.insert(VOIDED_BY.to_owned(), by);
            item.insert(EXPIRES_AT.to_owned(), epoch_seconds(void.expires));
            let mut expr = UpdateExpr::default();
            let condition = format!("attribute_not_exists({})", expr.name(PK));
            return Ok(vec![self.put_when(item, &condition, expr)?]);
        }
        let mut expr = UpdateExpr::default();
        let (kind, voided_by) = (expr.name(KIND), expr.name(VOIDED_BY));
        let (segment, session) = (expr.value(s(SEGMENT)), expr.value(s(SESSION)));
        let condition =
            format!("{kind} IN ({segment}, {session}) AND attribute_not_exists({voided_by})");
        expr.set(VOIDED_BY, by);
        let mut actions = vec![self.update_when(record_key(&void.voided), expr, condition)?];
        let parked = key(app_pk(&void.app), parked_sk(&void.voided));
        match void.effect {
            VoidEffect::Parked => {
                let delete = Delete::builder()
                    .table_name(&self.table)
                    .set_key(Some(parked))
                    .condition_expression("attribute_exists(#pk)")
                    .expression_attribute_names("#pk", PK)
                    .build();
                actions.push(TransactWriteItem::builder().delete(built(delete)?).build());
            }
            // Counted out of its parked record: that record must be gone,
            // or the usage this void takes back was never added.
            VoidEffect::Counted { parked: true } => {
                let check = ConditionCheck::builder()
                    .table_name(&self.table)
                    .set_key(Some(parked))
                    .condition_expression("attribute_not_exists(#pk)")
                    .expression_attribute_names("#pk", PK)
                    .build();
                actions.push(
                    TransactWriteItem::builder()
                        .condition_check(built(check)?)
                        .build(),
                );
            }
            VoidEffect::Counted { parked: false } | VoidEffect::Kept => {}
        }
        Ok(actions)
    }

    /// One strongly consistent `BatchGetItem` per 100 keys. A key DynamoDB
    /// leaves unprocessed (under throttling) is answered as holding nothing:
    /// the void then plans to keep itself under it, which its condition
    /// refuses if the key holds a record, and the next round reads again.
    pub(super) async fn records_impl(
        &self,
        keys: &[EventKey],
    ) -> StoreResult<HashMap<EventKey, Recorded>> {
        let mut found = HashMap::new();
        for chunk in keys.chunks(BATCH_GET_LIMIT) {
            let request = built(
                KeysAndAttributes::builder()
                    .set_keys(Some(chunk.iter().map(record_key).collect()))
                    .consistent_read(true)
                    .build(),
            )?;
            let (items, _unprocessed) = self.batch_get_once(request).await?;
            for item in &items {
                let key = event_of(item).ok_or_else(|| StoreError::Corrupt("record key".into()))?;
                found.insert(key, recorded(item)?);
            }
        }
        Ok(found)
    }
}
