//! App registrations: one item per app (`REGISTRATION` in the app's
//! partition) holding its owner account and, once given, its name. The
//! owner attribute is the key of the `AppsByOwner` index, so an account's
//! apps are one `Query`. The trait implementation in `mod.rs` delegates here.

use super::DynamoStore;
use super::error::{classify, condition_failed};
use super::item::{UpdateExpr, get_s, s};
use super::keys::*;
use crate::domain::ids::{AccountId, AppId, Name};
use crate::store::{RegisterOutcome, Registration, StoreError, StoreResult};
use aws_sdk_dynamodb::types::ReturnValue;

/// The account that registered the app; the key of the `AppsByOwner`
/// index, so only registrations carry it.
pub const OWNER: &str = "owner_account";
/// The app's name, set by the first registration that carries one.
pub const APP_NAME: &str = "app_name";

impl DynamoStore {
    pub(super) async fn registration_impl(&self, app: &AppId) -> StoreResult<Option<Registration>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(app_pk(app), REGISTRATION_SK)))
            .consistent_read(true)
            .send()
            .await
            .map_err(classify)?;
        match out.item {
            None => Ok(None),
            Some(item) => {
                let owner = get_s(&item, OWNER)
                    .and_then(AccountId::parse)
                    .ok_or_else(|| StoreError::Corrupt("registration owner".into()))?;
                let name = get_s(&item, APP_NAME).and_then(Name::parse);
                Ok(Some(Registration { owner, name }))
            }
        }
    }

    /// One conditional `UpdateItem`: the owner and the name are each set
    /// only if absent, so the first name given stays.
    pub(super) async fn register_app_impl(
        &self,
        app: &AppId,
        owner: &AccountId,
        name: Option<&Name>,
    ) -> StoreResult<RegisterOutcome> {
        let mut expr = UpdateExpr::default();
        let condition = {
            let (pk, own) = (expr.name(PK), expr.name(OWNER));
            let value = expr.value(s(owner.as_str()));
            let mut set = vec![format!("{own} = if_not_exists({own}, {value})")];
            if let Some(name) = name {
                let (attr, value) = (expr.name(APP_NAME), expr.value(s(name.as_str())));
                set.push(format!("{attr} = if_not_exists({attr}, {value})"));
            }
            (
                format!("attribute_not_exists({pk}) OR {own} = {value}"),
                set.join(", "),
            )
        };
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(app_pk(app), REGISTRATION_SK)))
            .condition_expression(condition.0)
            .update_expression(format!("SET {}", condition.1))
            .set_expression_attribute_names(Some(expr.names))
            .set_expression_attribute_values(Some(expr.values))
            .return_values(ReturnValue::AllOld)
            .send()
            .await;
        match result {
            Ok(out) if out.attributes.is_some() => Ok(RegisterOutcome::Unchanged),
            Ok(_) => Ok(RegisterOutcome::Registered),
            Err(err) if condition_failed(&err) => Ok(RegisterOutcome::OwnedByAnother),
            Err(err) => Err(classify(err)),
        }
    }

    /// The account's registrations, from the `AppsByOwner` index.
    pub(super) async fn apps_of_impl(
        &self,
        owner: &AccountId,
    ) -> StoreResult<Vec<(AppId, Option<Name>)>> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(OWNER_INDEX)
            .key_condition_expression("#owner = :owner")
            .expression_attribute_names("#owner", OWNER)
            .expression_attribute_values(":owner", s(owner.as_str()));
        self.query_all(query)
            .await?
            .iter()
            .map(|item| Ok((app_of(item)?, get_s(item, APP_NAME).and_then(Name::parse))))
            .collect()
    }
}
