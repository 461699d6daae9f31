//! A batch's commit: the pre-check read of which events and users were
//! counted before, and the one `TransactWriteItems` that writes a group.
//! Its actions come one aggregate at a time, the conditional ones first
//! (event records, void records, user marks, parked records counted, checks
//! that an app is still unregistered, voids' effects on the events they
//! name) so that a cancellation's reasons name them by position. The trait implementation in `mod.rs` delegates
//! here.

use super::error::{built, cancellation_error, classify};
use super::item::{Item, get_n, get_s};
use super::keys::*;
use super::records::{APP, KIND, kept_by};
use super::rows::MARK_SESSIONS;
use super::{BATCH_GET_LIMIT, DynamoStore};
use crate::domain::commit::{CommitGroup, UserMark};
use crate::domain::event::EventKey;
use crate::store::{CommitOutcome, Seen, StoreResult};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::KeysAndAttributes;
use std::collections::HashMap;

/// What a key asked for in a pre-check read stands for.
enum Found {
    Event(EventKey),
    User(UserMark),
}

impl DynamoStore {
    /// One eventually consistent `BatchGetItem` per 100 keys. Keys DynamoDB
    /// leaves unprocessed (under throttling) are answered as not seen: this
    /// read only saves cost, and the transaction's conditions decide.
    pub(super) async fn seen_impl(
        &self,
        keys: &[EventKey],
        users: &[UserMark],
    ) -> StoreResult<Seen> {
        let pair = |item: &Item| {
            (
                get_s(item, PK).map(str::to_owned),
                get_s(item, SK).map(str::to_owned),
            )
        };
        let mut wanted = HashMap::new();
        let mut all: Vec<Item> = Vec::with_capacity(keys.len() + users.len());
        for (item, found) in keys
            .iter()
            .map(|k| (key(event_pk(k), EVENT_SK), Found::Event(*k)))
            .chain(
                users
                    .iter()
                    .map(|m| (user_mark_key(m), Found::User(m.clone()))),
            )
        {
            wanted.insert(pair(&item), found);
            all.push(item);
        }
        let mut found = Seen::default();
        for chunk in all.chunks(BATCH_GET_LIMIT) {
            let request = built(
                KeysAndAttributes::builder()
                    .set_keys(Some(chunk.to_vec()))
                    .projection_expression("#pk, #sk, #kind, #app, #n")
                    .expression_attribute_names("#pk", PK)
                    .expression_attribute_names("#sk", SK)
                    .expression_attribute_names("#kind", KIND)
                    .expression_attribute_names("#app", APP)
                    .expression_attribute_names("#n", MARK_SESSIONS)
                    .build(),
            )?;
            let (items, _unprocessed) = self.batch_get_once(request).await?;
            for item in items {
                match wanted.get(&pair(&item)) {
                    Some(Found::Event(k)) => {
                        found.events.insert(*k);
                        if let Some(app) = kept_by(&item) {
                            found.kept.insert(*k, app);
                        }
                    }
                    Some(Found::User(mark)) => {
                        // A mark written before marks held a count: one session.
                        let sessions = get_n(&item, MARK_SESSIONS)?.unwrap_or(1);
                        found.users.insert(mark.clone(), sessions);
                    }
                    None => {}
                }
            }
        }
        Ok(found)
    }

    pub(super) async fn commit_impl(&self, group: &CommitGroup) -> StoreResult<CommitOutcome> {
        let sign = group.sign;
        let mut actions = Vec::with_capacity(group.action_count());
        // The conditional actions come first, so that the cancellation
        // reasons (one per action, in order) name them by position.
        for event in &group.events {
            actions.push(self.event_put(event)?);
        }
        for void in &group.voids {
            actions.push(self.void_put(void)?);
        }
        for (mark, change) in &group.marks {
            actions.push(self.user_mark_change(mark, change, sign)?);
        }
        for (app, event) in &group.unparked {
            actions.push(self.parked_delete(app, event)?);
        }
        for app in &group.unfixed {
            actions.push(self.unregistered_check(app)?);
        }
        let effects_at = actions.len();
        for void in &group.voids {
            actions.extend(self.void_effect(void)?);
        }
        let effects_end = actions.len();
        for (event, usage) in &group.parked {
            actions.push(self.parked_put(event, usage)?);
        }
        for late in &group.late {
            actions.push(self.late_put(late)?);
        }
        for ((app, hour), add) in &group.av_hours {
            actions.push(self.av_hour_add(app, *hour, add, sign)?);
        }
        for ((app, day, class), ms) in &group.class_recordings {
            actions.push(self.class_recording_add(app, *day, class, *ms, sign)?);
        }
        for (row, add) in &group.rows {
            actions.push(self.row_add(row, add, sign)?);
        }
        for (app, days) in &group.av_changes {
            actions.push(self.state_touch(
                app,
                days.iter().copied(),
                group.billable_bound(app),
                false,
            )?);
        }
        for ((app, hour), add) in &group.hours {
            actions.push(self.hour_add(app, *hour, add, sign)?);
        }
        for (app, day) in &group.days {
            actions.push(self.day_touch(app, *day)?);
        }
        let err = match self
            .client
            .transact_write_items()
            .set_transact_items(Some(actions))
            .send()
            .await
        {
            Ok(_) => return Ok(CommitOutcome::Committed),
            Err(err) => err,
        };
        let Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) =
            err.as_service_error()
        else {
            return Err(classify(err));
        };
        // Reasons come one per action, in the order above.
        let reasons = cancelled.cancellation_reasons();
        let failed =
            |i: usize| reasons.get(i).and_then(|r| r.code()) == Some("ConditionalCheckFailed");
        let voids_at = group.events.len();
        let marks_at = voids_at + group.voids.len();
        let unparked_at = marks_at + group.marks.len();
        let checks_at = unparked_at + group.unparked.len();
        let records = group
            .events
            .iter()
            .map(|e| e.key)
            .chain(group.voids.iter().map(|v| v.key))
            .enumerate()
            .filter(|(i, _)| failed(*i))
            .map(|(_, key)| key);
        let unparked = group
            .unparked
            .iter()
            .enumerate()
            .filter(|(i, _)| failed(unparked_at + i))
            .map(|(_, (_, key))| *key);
        let seen: Vec<EventKey> = records.chain(unparked).collect();
        let users: Vec<UserMark> = (group.marks.keys().enumerate())
            .filter(|(i, _)| failed(marks_at + i))
            .map(|(_, mark)| mark.clone())
            .collect();
        let zone_fixed = (0..group.unfixed.len()).any(|i| failed(checks_at + i));
        let target_changed = (effects_at..effects_end).any(failed);
        if !seen.is_empty() {
            Ok(CommitOutcome::AlreadyCounted(seen))
        } else if !users.is_empty() {
            Ok(CommitOutcome::UsersSeen(users))
        } else if zone_fixed {
            Ok(CommitOutcome::ZoneFixed)
        } else if target_changed {
            Ok(CommitOutcome::VoidTargetChanged)
        } else {
            let detail = aws_sdk_dynamodb::error::DisplayErrorContext(&err).to_string();
            Err(cancellation_error(reasons, detail))
        }
    }
}
