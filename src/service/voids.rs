//! Applying voids exactly once. A void reads what its own key and its
//! event's key hold (strongly consistent), decides by `correction::decide`,
//! and commits its writes with the usage it takes back in one transaction
//! whose conditions fail if either record, or a user mark it counts on,
//! changed since the read. A cancelled commit is read and decided again in
//! the next round; a void applied already (its own record exists) is a
//! duplicate. Voids run after the batch's usage events, so a void and its
//! event in one batch apply in that order.

use super::ingest::{
    FailureKind, IngestReport, RetryPolicy, Rounds, commit_failed, fail, fail_unfinished,
};
use crate::domain::commit::{
    Acknowledged, Counted, Known, PlannedVoid, VoidEffect, VoidWrite, Zones, marks_of, plan_voids,
};
use crate::domain::correction::{Void, VoidDecision, decide};
use crate::domain::event::EventKey;
use crate::domain::ids::AppId;
use crate::domain::retention;
use crate::domain::time::UtcMillis;
use crate::store::{CommitOutcome, StoreError, UsageStore};
use std::collections::{BTreeMap, BTreeSet};

/// The usage a void takes back, and whether its event was parked when it
/// arrived; `None` when the event is not known yet.
type Target = Option<(Counted, bool)>;

/// A distinct void of the batch and every message that carried it.
pub(super) struct VoidDelivery {
    pub void: Void,
    pub event_id: String,
    pub message_ids: Vec<String>,
}

/// Applies the batch's voids (keyed by their own event keys), reporting
/// each message as applied, duplicate or failed.
pub(super) async fn apply_voids<S: UsageStore>(
    store: &S,
    mut pending: BTreeMap<EventKey, VoidDelivery>,
    ack: &Acknowledged,
    retry: RetryPolicy,
    report: &mut IngestReport,
) {
    let mut zones = Zones::new();
    let mut known = Known::new();
    let mut last_error: Option<StoreError> = None;
    let mut rounds = Rounds::new(retry);
    while !pending.is_empty() && rounds.next(&last_error, report).await {
        last_error = None;
        let keys: Vec<EventKey> = pending
            .iter()
            .flat_map(|(key, d)| [*key, d.void.voided])
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let records = match store.records(&keys).await {
            Ok(records) => records,
            Err(err) => {
                last_error = Some(err);
                continue;
            }
        };
        let mut planned: Vec<(EventKey, VoidDecision)> = Vec::new();
        for (key, delivery) in &pending {
            if records.contains_key(key) {
                planned.push((*key, VoidDecision::Nothing));
            } else {
                let target = records.get(&delivery.void.voided);
                planned.push((*key, decide(&delivery.void, target)));
            }
        }
        let mut voids = Vec::new();
        // One void per voided event a round: two voids of one event would
        // write its record twice in one transaction (which DynamoDB
        // refuses), and the second must find the first's work anyway.
        let mut targets = BTreeSet::new();
        for (key, decision) in planned {
            let first_of_its_event = pending
                .get(&key)
                .is_some_and(|d| targets.insert(d.void.voided));
            match decision {
                VoidDecision::Nothing => finish(&mut pending, key, false, report),
                VoidDecision::Refuse(reason) => {
                    if let Some(delivery) = pending.remove(&key) {
                        for message_id in &delivery.message_ids {
                            fail(
                                report,
                                message_id,
                                Some(delivery.event_id.clone()),
                                FailureKind::Invalid,
                                format!("void refused: {reason}"),
                            );
                        }
                    }
                }
                // The others wait for the next round.
                _ if !first_of_its_event => {}
                VoidDecision::Keep => voids.push((key, None)),
                VoidDecision::Apply { usage, parked } => voids.push((key, Some((usage, parked)))),
            }
        }
        if let Err(err) = read_zones(store, &voids, &mut zones).await {
            last_error = Some(err);
            continue;
        }
        let planned: Vec<PlannedVoid> = voids
            .into_iter()
            .filter_map(|(key, target)| {
                let void = &pending.get(&key)?.void;
                Some(plan_one(key, void, target, &zones, ack.at))
            })
            .collect();
        let marks: Vec<_> = planned
            .iter()
            .filter(|v| matches!(v.write.effect, VoidEffect::Counted { .. }))
            .filter_map(|v| v.usage.as_ref())
            .flat_map(|usage| marks_of(usage, &zones))
            .filter(|mark| !known.contains_key(mark))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        if !marks.is_empty() {
            match store.seen(&[], &marks).await {
                Ok(seen) => known.extend(seen.users),
                Err(err) => {
                    last_error = Some(err);
                    continue;
                }
            }
        }
        for group in plan_voids(&planned, &known, &zones, ack, S::MAX_COMMIT_ACTIONS) {
            match store.commit(&group).await {
                Ok(CommitOutcome::Committed) => {
                    for mark in group.marks.keys() {
                        // The counts changed: read them again if needed.
                        known.remove(mark);
                    }
                    for key in group.keys() {
                        finish(&mut pending, key, true, report);
                    }
                }
                Ok(CommitOutcome::UsersSeen(marks)) => {
                    for mark in marks {
                        known.remove(&mark);
                    }
                }
                // Nothing was written; the next round reads every record again.
                Ok(
                    CommitOutcome::AlreadyCounted(_)
                    | CommitOutcome::VoidTargetChanged
                    | CommitOutcome::ZoneFixed,
                ) => {}
                Err(err) => commit_failed(err, &group, &mut last_error, report),
            }
        }
    }
    let unfinished = pending.into_values().map(|d| (d.event_id, d.message_ids));
    fail_unfinished(report, unfinished, last_error);
}

/// The zones of the apps whose counted usage the voids take back.
async fn read_zones<S: UsageStore>(
    store: &S,
    voids: &[(EventKey, Target)],
    zones: &mut Zones,
) -> Result<(), StoreError> {
    let unknown: Vec<AppId> = voids
        .iter()
        .filter_map(|(_, target)| target.as_ref().map(|(usage, _)| usage.app().clone()))
        .filter(|app| !zones.contains_key(app))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    if !unknown.is_empty() {
        zones.extend(store.zones(&unknown).await?);
    }
    Ok(())
}

/// One void's writes: kept for its event, or taking back what the event
/// counted (in its app's zone), or removing it from where it is parked
/// (its app has no zone yet).
fn plan_one(
    key: EventKey,
    void: &Void,
    target: Target,
    zones: &Zones,
    now: UtcMillis,
) -> PlannedVoid {
    let effect = match &target {
        None => VoidEffect::Kept,
        Some((usage, _)) if !zones.contains_key(usage.app()) => VoidEffect::Parked,
        Some((_, parked)) => VoidEffect::Counted { parked: *parked },
    };
    PlannedVoid {
        write: VoidWrite {
            key,
            app: void.app.clone(),
            voided: void.voided,
            expires: retention::void_expiry(now),
            effect,
        },
        usage: target.map(|(usage, _)| usage),
    }
}

/// A void done: applied now (`applied`), or known to need nothing.
fn finish(
    pending: &mut BTreeMap<EventKey, VoidDelivery>,
    key: EventKey,
    applied: bool,
    report: &mut IngestReport,
) {
    let Some(delivery) = pending.remove(&key) else {
        return;
    };
    let copies = delivery.message_ids.len();
    if applied {
        report.voids += 1;
        report.duplicates += copies - 1;
    } else {
        report.duplicates += copies;
    }
}
