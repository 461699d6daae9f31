//! Storage measurements: one item per (app, instant, bytes), written with
//! plain puts (the key makes a repeat harmless), read with two `Query`s
//! that go out together. The trait implementation in `mod.rs` delegates
//! here.

use super::error::{built, classify};
use super::item::{EXPIRES_AT, Item, epoch_seconds, s};
use super::keys::*;
use super::{BATCH_WRITE_LIMIT, DynamoStore};
use crate::domain::ids::AppId;
use crate::domain::retention;
use crate::domain::storage::{Measurement, Reading, Readings};
use crate::domain::time::UtcMillis;
use crate::store::{StoreError, StoreResult};
use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
use std::collections::BTreeSet;
use std::time::Duration;

/// Rounds of sending again what DynamoDB left unprocessed (under throttling)
/// before the call fails and the messages are redelivered.
const UNPROCESSED_ROUNDS: u32 = 5;

impl DynamoStore {
    /// `BatchWriteItem`s of plain puts. Not atomic, and it need not be:
    /// each put stands alone and repeating one changes nothing, so after a
    /// partial failure the whole call is simply made again.
    pub(super) async fn put_measurements_impl(
        &self,
        measurements: &[Measurement],
    ) -> StoreResult<()> {
        // A `BatchWriteItem` may not name an item twice.
        let distinct: BTreeSet<(&AppId, Reading)> =
            measurements.iter().map(|m| (&m.app, m.reading())).collect();
        let requests: Vec<WriteRequest> = distinct
            .into_iter()
            .map(|(app, reading)| {
                let mut item = key(app_pk(app), measurement_sk(&reading));
                item.insert(
                    EXPIRES_AT.to_owned(),
                    epoch_seconds(retention::measurement_expiry(reading.at)),
                );
                let put = built(PutRequest::builder().set_item(Some(item)).build())?;
                Ok(WriteRequest::builder().put_request(put).build())
            })
            .collect::<StoreResult<_>>()?;
        for chunk in requests.chunks(BATCH_WRITE_LIMIT) {
            let mut pending = chunk.to_vec();
            let mut backoff = Duration::from_millis(20);
            for round in 0.. {
                let out = self
                    .client()
                    .batch_write_item()
                    .request_items(self.table(), pending)
                    .send()
                    .await
                    .map_err(classify)?;
                pending = out
                    .unprocessed_items
                    .unwrap_or_default()
                    .remove(self.table())
                    .unwrap_or_default();
                if pending.is_empty() {
                    break;
                }
                if round + 1 == UNPROCESSED_ROUNDS {
                    return Err(StoreError::Throttled(format!(
                        "{} storage measurements left unprocessed",
                        pending.len()
                    )));
                }
                tokio::time::sleep(backoff).await;
                backoff *= 2;
            }
        }
        Ok(())
    }

    /// Two strongly consistent `Query`s, sent together: the window's
    /// readings (one `BETWEEN`, usually one page), and the one reading before
    /// it (descending, `Limit` 1: a single item read however long the app's
    /// history).
    pub(super) async fn measurements_impl(
        &self,
        app: &AppId,
        since: UtcMillis,
        from: UtcMillis,
        to: UtcMillis,
    ) -> StoreResult<Readings> {
        let before = async {
            if since >= from {
                return Ok(None);
            }
            let (low, high) = measurement_range(since, from.minus_ms(1));
            let out = self
                .client()
                .query()
                .table_name(self.table())
                .consistent_read(true)
                .key_condition_expression("#pk = :pk AND #sk BETWEEN :from AND :to")
                .expression_attribute_names("#pk", PK)
                .expression_attribute_names("#sk", SK)
                .expression_attribute_values(":pk", s(app_pk(app)))
                .expression_attribute_values(":from", s(low))
                .expression_attribute_values(":to", s(high))
                .scan_index_forward(false)
                .limit(1)
                .send()
                .await
                .map_err(classify)?;
            out.items().first().map(measurement_of).transpose()
        };
        let inside = async {
            if from >= to {
                return Ok(Vec::new());
            }
            let (low, high) = measurement_range(from, to.minus_ms(1));
            let items: Vec<Item> = self.query_range(app_pk(app), low, high).await?;
            items.iter().map(measurement_of).collect()
        };
        let (before, inside) = tokio::join!(before, inside);
        Ok(Readings {
            before: before?,
            inside: inside?,
        })
    }
}
