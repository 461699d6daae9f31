//! A busy app's line of writers (`store::turns`): one item of its own
//! partition, `TURN#{appId}`, with two counters. `taken` is the last
//! ticket handed out (an `ADD`, so taking one is never refused); `serving`
//! the ticket whose turn it is, moved on only by a conditional update from
//! the value the caller saw, so a turn is passed on at most once.

use super::DynamoStore;
use super::error::classify;
use super::item::{Item, UpdateExpr, get_n, n};
use super::keys::{TURN_SK, key, turn_pk};
use crate::domain::ids::AppId;
use crate::store::{StoreResult, Ticket, TurnStore};
use aws_sdk_dynamodb::types::ReturnValue;

const TAKEN: &str = "taken";
const SERVING: &str = "serving";

fn turn_key(app: &AppId) -> Item {
    key(turn_pk(app), TURN_SK)
}

/// The ticket served by an item as stored: 1 before any was taken.
fn serving_of(item: Option<&Item>) -> StoreResult<u64> {
    Ok(match item {
        Some(item) => get_n(item, SERVING)?.unwrap_or(1),
        None => 1,
    })
}

impl TurnStore for DynamoStore {
    async fn take_ticket(&self, app: &AppId) -> StoreResult<Ticket> {
        let mut expr = UpdateExpr::default();
        let (taken, serving, one) = (expr.name(TAKEN), expr.name(SERVING), expr.value(n(1)));
        let out = self
            .client()
            .update_item()
            .table_name(self.table())
            .set_key(Some(turn_key(app)))
            .update_expression(format!(
                "ADD {taken} {one} SET {serving} = if_not_exists({serving}, {one})"
            ))
            .set_expression_attribute_names(Some(expr.names))
            .set_expression_attribute_values(Some(expr.values))
            .return_values(ReturnValue::AllNew)
            .send()
            .await
            .map_err(classify)?;
        let item = out.attributes();
        let number = item
            .map(|item| get_n(item, TAKEN))
            .transpose()?
            .flatten()
            .unwrap_or(1);
        Ok(Ticket {
            number,
            serving: serving_of(item)?,
        })
    }

    async fn serving(&self, app: &AppId) -> StoreResult<u64> {
        let out = self
            .client()
            .get_item()
            .table_name(self.table())
            .set_key(Some(turn_key(app)))
            .consistent_read(true)
            .projection_expression("#serving")
            .expression_attribute_names("#serving", SERVING)
            .send()
            .await
            .map_err(classify)?;
        serving_of(out.item())
    }

    async fn pass_turn(&self, app: &AppId, from: u64) -> StoreResult<bool> {
        let mut expr = UpdateExpr::default();
        let (serving, seen, next) = (
            expr.name(SERVING),
            expr.value(n(from)),
            expr.value(n(from + 1)),
        );
        self.update_if(
            turn_key(app),
            format!("{serving} = {seen}"),
            format!("SET {serving} = {next}"),
            expr,
        )
        .await
    }
}
