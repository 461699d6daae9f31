//! Usage parked until its app's zone is fixed (`PARK#{event}` in the app's
//! partition): the whole segment or session, written with the event's
//! dedupe record while the app has no registration, and removed in the
//! transaction that counts it in the zone the registration fixed. The trait
//! implementation in `mod.rs` delegates here.

use super::DynamoStore;
use super::error::built;
use super::item::{Item, get_n, get_s, n, s};
use super::keys::*;
use crate::domain::class::{Role, Session, UsageType};
use crate::domain::commit::{Counted, NewEvent};
use crate::domain::event::{EventKey, Segment};
use crate::domain::ids::{AppId, ClassId, Name};
use crate::domain::time::UtcMillis;
use crate::domain::usage::{RecordMode, Tier};
use crate::store::{StoreError, StoreResult};
use aws_sdk_dynamodb::types::{Delete, Put, TransactWriteItem};

const KIND: &str = "kind";
const SEGMENT: &str = "segment";
const SESSION: &str = "session";
const CLASS: &str = "class";
const MODE: &str = "mode";
const TIER: &str = "tier";
const USER: &str = "user";
const ROLE: &str = "role";
const USAGE: &str = "usage";
const START: &str = "start";
const END: &str = "end";

fn item_of(event: &EventKey, usage: &Counted) -> Item {
    let mut item = key(app_pk(usage.app()), parked_sk(event));
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
    item
}

fn usage_of(item: &Item) -> StoreResult<Counted> {
    let corrupt = |what: &str| StoreError::Corrupt(format!("parked usage {what}"));
    let app = app_of(item)?;
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

impl DynamoStore {
    /// Parks an event's usage (its dedupe record is written beside it).
    pub(super) fn parked_put(
        &self,
        event: &EventKey,
        usage: &Counted,
    ) -> StoreResult<TransactWriteItem> {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item_of(event, usage)))
            .build();
        Ok(TransactWriteItem::builder().put(built(put)?).build())
    }

    /// Removes a parked event as it is counted: only if it is still parked,
    /// so a second fold of the same event is cancelled rather than counted.
    pub(super) fn parked_delete(
        &self,
        app: &AppId,
        event: &EventKey,
    ) -> StoreResult<TransactWriteItem> {
        let delete = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(key(app_pk(app), parked_sk(event))))
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .build();
        Ok(TransactWriteItem::builder().delete(built(delete)?).build())
    }

    pub(super) async fn parked_impl(&self, app: &AppId) -> StoreResult<Vec<NewEvent>> {
        let (from, to) = parked_range();
        self.query_range(app_pk(app), from, to)
            .await?
            .iter()
            .map(|item| Ok(NewEvent::parked(parked_event_of(item)?, usage_of(item)?)))
            .collect()
    }
}
