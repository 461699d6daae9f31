//! The audio/video meter's usage per hour (`AV#H#{hour}`), for the trend:
//! interactive and playback milliseconds, each hour expiring in time.
//! Written by the commit's transaction; the trait implementation in
//! `mod.rs` delegates the read here.

use super::DynamoStore;
use super::item::{EXPIRES_AT, UpdateExpr, epoch_seconds, get_n};
use super::keys::*;
use crate::domain::commit::{AvHourAdd, AvMillis, Sign};
use crate::domain::ids::AppId;
use crate::domain::time::Hour;
use crate::store::{AvHour, StoreResult};
use aws_sdk_dynamodb::types::TransactWriteItem;

/// An hour's interactive and playback milliseconds.
const INTERACTIVE_MS: &str = "i";
const PLAYBACK_MS: &str = "p";
/// Of those, the milliseconds before the hour's cut (a local hour of the
/// app's zone starting inside the UTC hour).
const HEAD_INTERACTIVE_MS: &str = "hi";
const HEAD_PLAYBACK_MS: &str = "hp";

impl DynamoStore {
    /// Adds an hour's interactive and playback milliseconds (those not
    /// zero) and sets its expiry.
    pub(super) fn av_hour_add(
        &self,
        app: &AppId,
        hour: Hour,
        add: &AvHourAdd,
        sign: Sign,
    ) -> StoreResult<TransactWriteItem> {
        let AvHourAdd {
            usage,
            head,
            expires,
        } = add;
        let mut expr = UpdateExpr::counting(sign);
        for (attr, ms) in [
            (INTERACTIVE_MS, usage.interactive),
            (PLAYBACK_MS, usage.playback),
            (HEAD_INTERACTIVE_MS, head.interactive),
            (HEAD_PLAYBACK_MS, head.playback),
        ] {
            if ms > 0 {
                expr.count(attr, ms);
            }
        }
        expr.set(EXPIRES_AT, epoch_seconds(*expires));
        self.update(key(app_pk(app), av_hour_sk(hour)), expr)
    }

    pub(super) async fn av_hours_impl(
        &self,
        app: &AppId,
        first: Hour,
        last: Hour,
    ) -> StoreResult<Vec<AvHour>> {
        let items = self
            .query_range(app_pk(app), av_hour_sk(first), av_hour_sk(last))
            .await?;
        let millis = |item, interactive, playback| -> StoreResult<AvMillis> {
            Ok(AvMillis {
                interactive: get_n(item, interactive)?.unwrap_or(0),
                playback: get_n(item, playback)?.unwrap_or(0),
            })
        };
        items
            .iter()
            .map(|item| {
                Ok(AvHour {
                    hour: av_hour_of(item)?,
                    usage: millis(item, INTERACTIVE_MS, PLAYBACK_MS)?,
                    head: millis(item, HEAD_INTERACTIVE_MS, HEAD_PLAYBACK_MS)?,
                })
            })
            .collect()
    }
}
