//! Preparing an app's package balances per day, so that answers about
//! audio/video usage read the rows of their window rather than the app's whole
//! history. Answers never depend on it: a balance is used only while the
//! deduction state trusts it (`DeductionState::trusts`), and recomputed from
//! the rows otherwise.

use crate::domain::deduction::{Balance, DeductionState, Ledger, Settled, billable_minutes};
use crate::domain::ids::AppId;
use crate::domain::time::Day;
use crate::store::{StoreError, UsageStore, WriteDayOutcome};
use std::collections::BTreeMap;

/// The first day a row can have.
pub const FIRST_DAY: Day = Day(0);
/// A day after every row and balance: 9999-12-31.
pub const LAST_DAY: Day = Day(2_932_896);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SettleOutcome {
    /// Balances prepared for this many days.
    Settled(usize),
    /// The app changed meanwhile (or a newer run wrote first): left marked
    /// for the next run; nothing it wrote is trusted.
    Deferred,
}

/// Prepares the balances of every day from the earliest that may have changed
/// (`recompute`: from the first day) to the app's last day with rows.
pub async fn settle_app<S: UsageStore>(
    store: &S,
    app: &AppId,
    recompute: bool,
) -> Result<SettleOutcome, StoreError> {
    let inputs = store.ledger_inputs(app, LAST_DAY).await?;
    let state = inputs.state;
    let base = match state.latest_trusted_day() {
        Some(day) if !recompute => store
            .balance(app, day)
            .await?
            .filter(|balance| state.trusts(balance)),
        _ => None,
    };
    let first = base.as_ref().map_or(FIRST_DAY, |b| b.day.next());
    let mut totals: BTreeMap<Day, u64> = BTreeMap::new();
    for row in store.av_rows(app, first, LAST_DAY).await? {
        *totals.entry(row.key.day).or_default() += billable_minutes(row.ms);
    }
    let from = base
        .as_ref()
        .map(|b| b.day.next())
        .or_else(|| totals.keys().next().copied());
    let through = totals.keys().next_back().copied();
    let balances = match (from, through) {
        (Some(from), Some(through)) if from <= through => {
            let used = base.map(|b| b.used).unwrap_or_default();
            let mut ledger = Ledger::with_used(inputs.packages, &used);
            let mut balances = Vec::new();
            let mut day = from;
            while day <= through {
                ledger.settle_day(day, totals.get(&day).copied().unwrap_or(0));
                balances.push(Balance {
                    day,
                    used: ledger.used_by_id(),
                    seq: state.seq,
                });
                day = day.next();
            }
            balances
        }
        _ => Vec::new(),
    };
    if !store.write_balances(app, &balances).await? {
        return Ok(SettleOutcome::Deferred);
    }
    let settled = settled_after(&state, &balances);
    match store.settle(app, settled, &state.dirty).await? {
        WriteDayOutcome::Written => Ok(SettleOutcome::Settled(balances.len())),
        WriteDayOutcome::Changed => Ok(SettleOutcome::Deferred),
    }
}

/// What the state says after this run: the days it prepared, or, when it
/// prepared none (no rows after the trusted balances), the previous ones.
fn settled_after(state: &DeductionState, balances: &[Balance]) -> Settled {
    match (balances.first(), balances.last(), state.settled) {
        (Some(first), Some(last), _) => Settled {
            seq: state.seq,
            from: first.day,
            through: last.day,
        },
        (_, _, Some(previous)) => Settled {
            seq: state.seq,
            // Every day kept its balance: none was written by this run.
            from: Day(previous.through.0 + 1),
            through: previous.through,
        },
        _ => Settled {
            seq: state.seq,
            from: FIRST_DAY,
            through: Day(FIRST_DAY.0 - 1),
        },
    }
}
