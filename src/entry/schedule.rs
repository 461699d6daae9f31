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

/// Converts the invocation's deadline (epoch milliseconds) into a monotonic one.
pub fn deadline_from_epoch_ms(deadline_ms: u64) -> Deadline {
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    let left = Duration::from_millis(deadline_ms.saturating_sub(now_ms));
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
