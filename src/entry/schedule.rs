//! EventBridge schedule or a backfill payload → the rollup service.

use crate::domain::rollup::RollupRequest;
use crate::entry::metrics::Metrics;
use crate::service::rollup::{Deadline, RollupReport, run_rollup};
use crate::store::UsageStore;
use serde_json::Value;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Time kept back from the Lambda deadline to finish the day in flight and answer.
pub const DEADLINE_MARGIN: Duration = Duration::from_secs(3);

#[derive(Debug, thiserror::Error)]
pub enum RollupError {
    #[error("bad rollup request: {0}")]
    BadRequest(String),
}

/// Lambda's deadline is epoch milliseconds; anything before 2001 cannot be
/// one. Local emulators (`cargo lambda watch`) send the time budget itself.
const EARLIEST_EPOCH_DEADLINE_MS: u64 = 1_000_000_000_000;

/// Converts the invocation's deadline into a monotonic one.
pub fn deadline_from_epoch_ms(deadline_ms: u64) -> Deadline {
    let left = if deadline_ms < EARLIEST_EPOCH_DEADLINE_MS {
        tracing::warn!(
            deadline_ms,
            "the invocation deadline is not an epoch time; taken as a time budget"
        );
        Duration::from_millis(deadline_ms)
    } else {
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        Duration::from_millis(deadline_ms.saturating_sub(now_ms))
    };
    Deadline::before(Instant::now() + left, DEADLINE_MARGIN)
}

pub async fn handle<S: UsageStore>(
    store: &S,
    metrics: &Metrics,
    payload: &Value,
    deadline: Deadline,
) -> Result<RollupReport, RollupError> {
    let request = RollupRequest::parse(payload).map_err(RollupError::BadRequest)?;
    let report = run_rollup(store, &request, deadline).await;
    tracing::info!(
        mode = report.mode,
        aggregates_written = report.aggregates_written,
        days_written = report.days_written,
        days_already_rolled = report.days_already_rolled,
        days_deferred = report.days_deferred,
        days_expired = report.days_expired,
        days_left = report.days_left,
        complete = report.complete,
        "rollup run finished"
    );
    metrics.emit(&[
        ("AggregatesWritten", report.aggregates_written as u64),
        ("DaysDeferred", report.days_deferred as u64),
        ("DaysLeft", report.days_left as u64),
    ]);
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadlines_from_lambda_and_from_emulators() {
        let epoch_ms = |d: Duration| {
            (SystemTime::now() + d)
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_millis() as u64
        };
        assert!(!deadline_from_epoch_ms(epoch_ms(Duration::from_secs(60))).passed());
        assert!(
            deadline_from_epoch_ms(epoch_ms(Duration::from_secs(2))).passed(),
            "inside the margin"
        );
        assert!(deadline_from_epoch_ms(epoch_ms(Duration::ZERO) - 1000).passed());
        assert!(
            !deadline_from_epoch_ms(600_000).passed(),
            "a 10-minute budget"
        );
        assert!(
            deadline_from_epoch_ms(1_000).passed(),
            "a budget inside the margin"
        );
    }
}
