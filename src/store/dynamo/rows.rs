//! Details rows and user marks. A row (`AV#R#{day}#{classId}#{I or P}`)
//! adds up a class's audio/video milliseconds and users of one usage type
//! on one day; a user mark (in a partition of its own per row, keyed by a
//! digest of the user id) counts the user's live sessions in the row, so
//! each user counts once, and leaves the row when a void takes back their
//! last session there. Both are written by the commit's transaction; the trait
//! implementation in `mod.rs` delegates the rows' read here.

use super::DynamoStore;
use super::item::{EXPIRES_AT, Item, ROW_MS, UpdateExpr, epoch_seconds, get_n, n};
use super::keys::*;
use crate::domain::commit::{MarkChange, RowAdd, RowKey, Sign, UserMark};
use crate::domain::ids::AppId;
use crate::domain::time::Day;
use crate::store::{RowRecord, StoreResult};
use aws_sdk_dynamodb::types::TransactWriteItem;

/// The users counted in a row (its milliseconds are the shared `ms`).
const ROW_USERS: &str = "users";
/// A user mark's count of live (not voided) sessions in its row.
pub(super) const MARK_SESSIONS: &str = "n";

fn row_record(item: &Item) -> StoreResult<RowRecord> {
    let key: RowKey = row_of(item)?;
    Ok(RowRecord {
        key,
        ms: get_n(item, ROW_MS)?.unwrap_or(0),
        users: get_n(item, ROW_USERS)?.unwrap_or(0),
    })
}

impl DynamoStore {
    /// A user mark's count of live sessions changed, only if it still
    /// holds the count the plan read: a user enters a row when the count
    /// goes up from 0 (absent is 0), and leaves it when it comes back to 0,
    /// so no concurrent change can count a user twice or drop them wrongly.
    /// A mark written before marks held a count reads as one session.
    pub(super) fn user_mark_change(
        &self,
        mark: &UserMark,
        change: &MarkChange,
        sign: Sign,
    ) -> StoreResult<TransactWriteItem> {
        let mut expr = UpdateExpr::default();
        let sessions = expr.name(MARK_SESSIONS);
        let condition = match (sign, change.from) {
            (Sign::Add, 0) => {
                let (pk, zero) = (expr.name(PK), expr.value(n(0)));
                expr.set(EXPIRES_AT, epoch_seconds(change.expires));
                format!("attribute_not_exists({pk}) OR {sessions} = {zero}")
            }
            (Sign::Add, _) => {
                let (pk, zero) = (expr.name(PK), expr.value(n(0)));
                format!("attribute_exists({pk}) AND NOT {sessions} = {zero}")
            }
            (Sign::Take, 1) => {
                let (pk, one) = (expr.name(PK), expr.value(n(1)));
                format!(
                    "{sessions} = {one} OR (attribute_exists({pk}) AND attribute_not_exists({sessions}))"
                )
            }
            (Sign::Take, from) => format!("{sessions} = {}", expr.value(n(from))),
        };
        match sign {
            Sign::Add => expr.add(MARK_SESSIONS, n(change.by)),
            // The count is pinned by the condition: set, never below zero.
            Sign::Take => expr.set(MARK_SESSIONS, n(change.from.saturating_sub(change.by))),
        };
        self.update_when(user_mark_key(mark), expr, condition)
    }

    /// Adds to a row's milliseconds and users (or takes them back).
    pub(super) fn row_add(
        &self,
        row: &RowKey,
        add: &RowAdd,
        sign: Sign,
    ) -> StoreResult<TransactWriteItem> {
        let RowAdd { ms, users } = add;
        let mut expr = UpdateExpr::counting(sign);
        expr.count(ROW_MS, *ms).count(ROW_USERS, *users);
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
        let rows: StoreResult<Vec<RowRecord>> = items.iter().map(row_record).collect();
        Ok(rows?.into_iter().filter(RowRecord::counts).collect())
    }
}
