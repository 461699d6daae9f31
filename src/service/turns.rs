//! Turns of a busy app's writers. When SQS hands one app's events to many
//! invocations at once, their transactions all touch the app's same few
//! items (its hour, its class rows, its deduction state) and DynamoDB
//! cancels all but one of those in flight at a time. An invocation with
//! many events of one app therefore takes a ticket in that app's line
//! (`store::turns`), waits until the line serves it, counts the app's
//! events, and passes the turn on: the app's transactions run one after
//! another, each with a whole batch's events, and none is cancelled.
//!
//! The line only orders writers; it never decides what is counted. So
//! whatever goes wrong with it (a ticket taken and its answer lost, a
//! holder that timed out, a wait that ran out) ends in counting without a
//! turn, which at worst costs a conflict and a retry round.

use crate::domain::ids::AppId;
use crate::store::{Ticket, TurnStore};
use std::time::Duration;
use tokio::time::Instant;

/// The one place that decides how writers line up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TurnPolicy {
    /// An app with at least this many distinct events to count in a batch
    /// takes a turn; fewer are counted at once. Two writes a turn, spread
    /// over the events: 0.1 write units an event at most (0.02 for a busy
    /// app's 90 or so in a batch of 100), and none in batches of 10. An
    /// app with fewer than this in a batch of 100 has fewer writers at
    /// once, and conflicts on its items are rarer.
    pub min_events: usize,
    /// A turn not passed on for this long is skipped by the ticket after
    /// it: its holder stopped (timed out, crashed) or is slower than any
    /// commit of a batch should be.
    pub stall_after: Duration,
    /// The longest an invocation waits in line before it counts without
    /// its turn.
    pub max_wait: Duration,
    /// How long a turn lasts, for a waiter's sleep per ticket ahead of
    /// it: a batch of 100's commit.
    pub turn_estimate: Duration,
    /// The sleep between two looks at the line when next in it, and the
    /// longest sleep when further back.
    pub min_poll: Duration,
    pub max_poll: Duration,
}

impl Default for TurnPolicy {
    /// A batch of 100 commits in well under a second; `usage-ingest` has
    /// 30 s (see template.yaml), so it waits at most 10 s and still has
    /// time to count.
    fn default() -> Self {
        TurnPolicy {
            min_events: 20,
            stall_after: Duration::from_secs(2),
            max_wait: Duration::from_secs(10),
            turn_estimate: Duration::from_millis(40),
            min_poll: Duration::from_millis(5),
            max_poll: Duration::from_millis(250),
        }
    }
}

/// A place in an app's line, then a turn to give back when done: the app
/// and the ticket, if one was taken.
#[derive(Debug)]
pub struct Turn {
    app: AppId,
    ticket: Option<Ticket>,
    joined: Instant,
    /// Whether the line served it (rather than the wait running out or the
    /// line failing).
    pub served: bool,
    /// How long it waited in line.
    pub waited: Duration,
}

/// Takes a ticket in `app`'s line. Never fails: without a ticket the turn
/// is never served, and the caller counts all the same.
pub async fn join_line<S: TurnStore>(store: &S, app: &AppId) -> Turn {
    let joined = Instant::now();
    let ticket = match store.take_ticket(app).await {
        Ok(ticket) => Some(ticket),
        Err(err) => {
            tracing::warn!(app = %app, error = %err, "no ticket in the app's line; counting without a turn");
            None
        }
    };
    Turn {
        app: app.clone(),
        ticket,
        joined,
        served: false,
        waited: Duration::ZERO,
    }
}

/// Waits until the line serves `turn`, skipping a turn that stalls just
/// before it, or until the wait runs out.
pub async fn wait_turn<S: TurnStore>(store: &S, turn: &mut Turn, policy: &TurnPolicy) {
    if let Some(ticket) = turn.ticket {
        turn.served = wait_served(store, &turn.app, ticket, policy, turn.joined).await;
    }
    turn.waited = turn.joined.elapsed();
}

async fn wait_served<S: TurnStore>(
    store: &S,
    app: &AppId,
    ticket: Ticket,
    policy: &TurnPolicy,
    started: Instant,
) -> bool {
    let mut serving = ticket.serving;
    // When `serving` was last seen to move.
    let mut since = Instant::now();
    loop {
        // Served, or skipped while it waited: its turn came.
        if serving >= ticket.number {
            return true;
        }
        if started.elapsed() >= policy.max_wait {
            tracing::warn!(app = %app, ticket = ticket.number, serving, "waited too long in the app's line; counting without a turn");
            return false;
        }
        // Far back, a look per turn expected ahead of it; next in line, a
        // look every `min_poll`, so a turn passed on is taken at once.
        let ahead = u32::try_from(ticket.number - serving).unwrap_or(u32::MAX);
        let nap =
            (policy.turn_estimate.saturating_mul(ahead - 1) + policy.min_poll).min(policy.max_poll);
        tokio::time::sleep(nap).await;
        match store.serving(app).await {
            Ok(now) if now > serving => {
                serving = now;
                since = Instant::now();
            }
            // Only the next ticket skips a stalled turn: one write for
            // it, not one per waiter; a ticket whose holder is gone is
            // skipped by the one after it in turn.
            Ok(_) if ahead == 1 && since.elapsed() >= policy.stall_after => {
                tracing::warn!(app = %app, stalled = serving, "skipping a turn not passed on");
                if let Err(err) = store.pass_turn(app, serving).await {
                    tracing::warn!(app = %app, error = %err, "could not skip a stalled turn");
                }
                since = Instant::now();
            }
            Ok(_) => {}
            Err(err) => {
                tracing::warn!(app = %app, error = %err, "could not read the app's line; counting without a turn");
                return false;
            }
        }
    }
}

/// Passes the turn on to the next ticket. If the line moved on without it
/// (it was skipped, or never served) this changes nothing.
pub async fn end_turn<S: TurnStore>(store: &S, turn: Turn) {
    let Some(ticket) = turn.ticket else {
        return;
    };
    if let Err(err) = store.pass_turn(&turn.app, ticket.number).await {
        // The next ticket skips it once it stalls.
        tracing::warn!(app = %turn.app, error = %err, "could not pass the turn on");
    }
}
