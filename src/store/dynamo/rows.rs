//! Details rows and user marks. A row (`AV#R#{day}#{classId}#{I or P}`)
//! adds up a class's audio/video milliseconds and users of one usage type
//! on one day; a user mark (in a partition of its own per row, keyed by a
//! digest of the user id) is created the first time a user is counted in a
//! row, so each user counts once. Both are written by the commit's transaction; the trait
//! implementation in `mod.rs` delegates the rows' read here.

use super::DynamoStore;
use super::item::{Item, ROW_MS, UpdateExpr, get_n, n};
use super::keys::*;
use crate::domain::commit::{RowAdd, RowKey, UserMark};
use crate::domain::ids::AppId;
use crate::domain::time::{Day, UtcMillis};
use crate::store::{RowRecord, StoreResult};
use aws_sdk_dynamodb::types::TransactWriteItem;

/// The users counted in a row (its milliseconds are the shared `ms`).
const ROW_USERS: &str = "users";

fn row_record(item: &Item) -> StoreResult<RowRecord> {
    let key: RowKey = row_of(item)?;
    Ok(RowRecord {
        key,
        ms: get_n(item, ROW_MS)?.unwrap_or(0),
        users: get_n(item, ROW_USERS)?.unwrap_or(0),
    })
}

impl DynamoStore {
    /// A user mark: created only if it does not exist, so a transaction
    /// holding it is cancelled if the user was counted in the row before.
    pub(super) fn user_mark_put(
        &self,
        mark: &UserMark,
        expires: UtcMillis,
    ) -> StoreResult<TransactWriteItem> {
        self.put_new(user_mark_key(mark), expires)
    }

    /// Adds to a row's milliseconds and users.
    pub(super) fn row_add(&self, row: &RowKey, add: &RowAdd) -> StoreResult<TransactWriteItem> {
        let RowAdd { ms, users } = add;
        let mut expr = UpdateExpr::default();
        expr.add(ROW_MS, n(ms)).add(ROW_USERS, n(users));
        self.update(key(app_pk(&row.app), av_row_sk(row)), expr)
    }

    pub(super) async fn av_rows_impl(
        &self,
        app: &AppId,
        first: Day,
        last: Day,
    ) -> StoreResult<Vec<RowRecord>> {
        let (from, to) = av_row_range(first, last);
        let items = self.query_range(app_pk(app), from, to).await?;
        items.iter().map(row_record).collect()
    }
}
