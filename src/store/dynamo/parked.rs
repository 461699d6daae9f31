//! Usage parked until its app's zone is fixed (`PARK#{event}` in the app's
//! partition): the whole segment or session, written with the event's
//! dedupe record while the app has no registration, and removed in the
//! transaction that counts it in the zone the registration fixed. The trait
//! implementation in `mod.rs` delegates here.

use super::DynamoStore;
use super::error::built;
use super::item::Item;
use super::keys::*;
use super::records::{put_usage, usage_in};
use crate::domain::commit::{Counted, NewEvent};
use crate::domain::event::EventKey;
use crate::domain::ids::AppId;
use crate::store::StoreResult;
use aws_sdk_dynamodb::types::{Delete, Put, TransactWriteItem};

fn item_of(event: &EventKey, usage: &Counted) -> Item {
    let mut item = key(app_pk(usage.app()), parked_sk(event));
    put_usage(&mut item, usage);
    item
}

fn usage_of(item: &Item) -> StoreResult<Counted> {
    usage_in(item, app_of(item)?)
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
