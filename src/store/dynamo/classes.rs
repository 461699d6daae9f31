//! Class facts: one item per class (`AV#F#{classId}`) holding its name,
//! start and end, each set once. A fact that contradicts a stored one is
//! refused, and the stored item says which. The trait implementation in
//! `mod.rs` delegates here.

use super::error::{built, classify};
use super::item::{Item, UpdateExpr, get_n, get_s, n, s};
use super::keys::*;
use super::{BATCH_GET_LIMIT, DynamoStore};
use crate::domain::class::{ClassFact, ClassFactEvent, ClassFacts};
use crate::domain::ids::{AppId, ClassId, Name};
use crate::domain::time::UtcMillis;
use crate::store::{SetOnceOutcome, StoreResult};
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{KeysAndAttributes, ReturnValuesOnConditionCheckFailure};
use std::collections::BTreeMap;

/// A class's name, and its start and end (epoch milliseconds).
const CLASS_NAME: &str = "class_name";
const START_MS: &str = "start_ms";
const END_MS: &str = "end_ms";

fn facts_of(item: &Item) -> StoreResult<ClassFacts> {
    let time = |name: &str| -> StoreResult<Option<UtcMillis>> {
        Ok(get_n(item, name)?.map(|ms| UtcMillis(ms as i64)))
    };
    Ok(ClassFacts {
        name: get_s(item, CLASS_NAME).and_then(Name::parse),
        start: time(START_MS)?,
        end: time(END_MS)?,
    })
}

impl DynamoStore {
    pub(super) async fn apply_class_fact_impl(
        &self,
        event: &ClassFactEvent,
    ) -> StoreResult<SetOnceOutcome> {
        let mut expr = UpdateExpr::default();
        let condition = match &event.fact {
            ClassFact::Started { name, start } => {
                let (cn, st, en) = (
                    expr.name(CLASS_NAME),
                    expr.name(START_MS),
                    expr.name(END_MS),
                );
                let (nv, sv) = (expr.value(s(name.as_str())), expr.value(n(start.0)));
                expr.set(CLASS_NAME, s(name.as_str()))
                    .set(START_MS, n(start.0));
                format!(
                    "(attribute_not_exists({cn}) OR {cn} = {nv}) AND \
                     (attribute_not_exists({st}) OR {st} = {sv}) AND \
                     (attribute_not_exists({en}) OR {en} > {sv})"
                )
            }
            ClassFact::Ended { end } => {
                let (st, en) = (expr.name(START_MS), expr.name(END_MS));
                let ev = expr.value(n(end.0));
                expr.set(END_MS, n(end.0));
                format!(
                    "(attribute_not_exists({en}) OR {en} = {ev}) AND \
                     (attribute_not_exists({st}) OR {st} < {ev})"
                )
            }
        };
        let result = self
            .client()
            .update_item()
            .table_name(self.table())
            .set_key(Some(key(app_pk(&event.app), av_facts_sk(&event.class))))
            .condition_expression(condition)
            .update_expression(expr.expression())
            .set_expression_attribute_names(Some(expr.names))
            .set_expression_attribute_values(Some(expr.values))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(SetOnceOutcome::Applied),
            Err(err) => {
                let stored = match err.as_service_error() {
                    Some(UpdateItemError::ConditionalCheckFailedException(failed)) => {
                        Some(failed.item.clone().unwrap_or_default())
                    }
                    _ => None,
                };
                match stored {
                    // Say which fact it conflicts with, from the stored item.
                    Some(item) => Ok(SetOnceOutcome::Conflict(
                        facts_of(&item)?
                            .with(&event.fact)
                            .err()
                            .unwrap_or_else(|| "the class's facts changed meanwhile".into()),
                    )),
                    None => Err(classify(err)),
                }
            }
        }
    }

    pub(super) async fn class_facts_impl(
        &self,
        app: &AppId,
        classes: &[ClassId],
    ) -> StoreResult<BTreeMap<ClassId, ClassFacts>> {
        let mut unique: Vec<&ClassId> = classes.iter().collect();
        unique.sort();
        unique.dedup();
        let mut found = BTreeMap::new();
        for chunk in unique.chunks(BATCH_GET_LIMIT) {
            let mut request = Some(built(
                KeysAndAttributes::builder()
                    .set_keys(Some(
                        chunk
                            .iter()
                            .map(|c| key(app_pk(app), av_facts_sk(c)))
                            .collect(),
                    ))
                    .consistent_read(true)
                    .build(),
            )?);
            // Unprocessed keys are asked again: an answer needs every fact.
            while let Some(keys) = request.take() {
                let (items, unprocessed) = self.batch_get_once(keys).await?;
                for item in items {
                    found.insert(facts_class_of(&item)?, facts_of(&item)?);
                }
                request = unprocessed;
            }
        }
        Ok(found)
    }
}
