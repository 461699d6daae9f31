//! A batch's commit: the pre-check read of which events and users were
//! counted before, and the one `TransactWriteItems` that writes a group.
//! Its actions come one aggregate at a time, the conditional ones first
//! (event dedupe records, user marks, parked records counted, checks that
//! an app is still unregistered) so that a cancellation's reasons name them
//! by position. The trait implementation in `mod.rs` delegates
//! here.

use super::error::{built, cancellation_error, classify};
use super::item::{Item, get_s};
use super::keys::*;
use super::{BATCH_GET_LIMIT, DynamoStore};
use crate::domain::commit::{CommitGroup, UserMark};
use crate::domain::event::EventKey;
use crate::domain::time::UtcMillis;
use crate::store::{CommitOutcome, Seen, StoreResult};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{KeysAndAttributes, TransactWriteItem};
use std::collections::HashMap;

/// What a key asked for in a pre-check read stands for.
enum Found {
    Event(EventKey),
    User(UserMark),
}

impl DynamoStore {
    /// The dedupe record of an event: created only if it does not exist, so
    /// a transaction holding it is cancelled if the event was counted before.
    fn dedupe_put(&self, event: &EventKey, expires: UtcMillis) -> StoreResult<TransactWriteItem> {
        self.put_new(key(event_pk(event), EVENT_SK), expires)
    }

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
                    .projection_expression("#pk, #sk")
                    .expression_attribute_names("#pk", PK)
                    .expression_attribute_names("#sk", SK)
                    .build(),
            )?;
            let (items, _unprocessed) = self.batch_get_once(request).await?;
            for item in items {
                match wanted.get(&pair(&item)) {
                    Some(Found::Event(k)) => {
                        found.events.insert(*k);
                    }
                    Some(Found::User(mark)) => {
                        found.users.insert(mark.clone());
                    }
                    None => {}
                }
            }
        }
        Ok(found)
    }

    pub(super) async fn commit_impl(&self, group: &CommitGroup) -> StoreResult<CommitOutcome> {
        let mut actions = Vec::with_capacity(group.action_count());
        for (event, expires) in &group.events {
            actions.push(self.dedupe_put(event, *expires)?);
        }
        // The conditional puts come first, so that the cancellation reasons
        // (one per action, in order) name them by position.
        for (mark, expires) in &group.new_users {
            actions.push(self.user_mark_put(mark, *expires)?);
        }
        for (app, event) in &group.unparked {
            actions.push(self.parked_delete(app, event)?);
        }
        for app in &group.unfixed {
            actions.push(self.unregistered_check(app)?);
        }
        for (event, usage) in &group.parked {
            actions.push(self.parked_put(event, usage)?);
        }
        for ((app, hour), add) in &group.av_hours {
            actions.push(self.av_hour_add(app, *hour, add)?);
        }
        for ((app, day, class), ms) in &group.class_recordings {
            actions.push(self.class_recording_add(app, *day, class, *ms)?);
        }
        for (row, add) in &group.rows {
            actions.push(self.row_add(row, add)?);
        }
        for (app, days) in &group.av_changes {
            actions.push(self.state_touch(app, days.iter().copied())?);
        }
        for ((app, hour), add) in &group.hours {
            actions.push(self.hour_add(app, *hour, add)?);
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
        // Reasons come one per action, in order: the dedupe puts, the user
        // marks, the parked records counted, the registration checks.
        let reasons = cancelled.cancellation_reasons();
        let failed =
            |i: usize| reasons.get(i).and_then(|r| r.code()) == Some("ConditionalCheckFailed");
        let marks_at = group.events.len();
        let unparked_at = marks_at + group.new_users.len();
        let checks_at = unparked_at + group.unparked.len();
        let seen: Vec<EventKey> = (group.events.iter().map(|(key, _)| key))
            .chain(group.unparked.iter().map(|(_, key)| key))
            .enumerate()
            .filter(|(i, _)| {
                if *i < marks_at {
                    failed(*i)
                } else {
                    failed(*i - marks_at + unparked_at)
                }
            })
            .map(|(_, key)| *key)
            .collect();
        let users: Vec<UserMark> = (group.new_users.keys().enumerate())
            .filter(|(i, _)| failed(marks_at + i))
            .map(|(_, mark)| mark.clone())
            .collect();
        let zone_fixed = (0..group.unfixed.len()).any(|i| failed(checks_at + i));
        if !seen.is_empty() {
            Ok(CommitOutcome::AlreadyCounted(seen))
        } else if !users.is_empty() {
            Ok(CommitOutcome::UsersSeen(users))
        } else if zone_fixed {
            Ok(CommitOutcome::ZoneFixed)
        } else {
            let detail = aws_sdk_dynamodb::error::DisplayErrorContext(&err).to_string();
            Err(cancellation_error(reasons, detail))
        }
    }
}
