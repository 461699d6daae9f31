//! EventBridge schedule or a backfill payload → the rollup service.

use crate::bus::AlertBus;
use crate::domain::rollup::RollupRequest;
use crate::domain::time::UtcMillis;
use crate::entry::metrics::Metrics;
use crate::service::alerts::{PublishPolicy, scheduled};
use crate::service::rollup::{Deadline, RollupReport, run_rollup};
use crate::service::statements::prepare_closed;
use crate::store::{AlertStore, UsageStore};
use serde_json::Value;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Time kept back from the Lambda deadline to finish the day in flight and answer.
pub const DEADLINE_MARGIN: Duration = Duration::from_secs(3);

#[derive(Debug, thiserror::Error)]
pub enum RollupError {
    #[error("bad rollup request: {0}")]
    BadRequest(String),
    /// Part of the run could not be finished: invoke it again (the
    /// schedule's asynchronous retries do).
    #[error("rollup run unfinished: {0}")]
    Unfinished(String),
}

/// The rollup's request from the invocation payload: EventBridge's
/// scheduled-event payload (`"source": "aws.events"`, `"detail-type":
/// "Scheduled Event"`) is the nightly run; anything else must be a backfill
/// request.
pub fn rollup_request(payload: &Value) -> Result<RollupRequest, RollupError> {
    let field = |name: &str| payload.get(name).and_then(Value::as_str);
    if field("source") == Some("aws.events") && field("detail-type") == Some("Scheduled Event") {
        return Ok(RollupRequest::Scheduled);
    }
    RollupRequest::parse_backfill(payload).map_err(|e| {
        RollupError::BadRequest(format!(
            "expected an EventBridge scheduled event or {{\"from\", \"to\", \"appId\"?}}: {e}"
        ))
    })
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
    handle_with(store, metrics, payload, deadline, None).await
}

/// [`handle`], and with `statements` (the run's instant and the
/// deployment's grace period, in seconds) a scheduled run also prepares the
/// closed statements of the apps it took up.
pub async fn handle_with<S: UsageStore>(
    store: &S,
    metrics: &Metrics,
    payload: &Value,
    deadline: Deadline,
    statements: Option<(UtcMillis, i64)>,
) -> Result<RollupReport, RollupError> {
    let request = rollup_request(payload)?;
    let mut report = run_rollup(store, &request, deadline).await;
    if let (Some((now, grace_seconds)), RollupRequest::Scheduled) = (statements, &request) {
        let apps = std::mem::take(&mut report.apps.0);
        match prepare_closed(store, apps, grace_seconds, now).await {
            Ok(prepared) => report.statements_prepared = prepared,
            Err(err) => {
                tracing::warn!(error = %err, "statements not prepared; the next run or a query will");
            }
        }
    }
    tracing::info!(
        mode = report.mode,
        aggregates_written = report.aggregates_written,
        days_written = report.days_written,
        days_already_rolled = report.days_already_rolled,
        days_deferred = report.days_deferred,
        days_expired = report.days_expired,
        days_left = report.days_left,
        apps_settled = report.apps_settled,
        apps_deferred = report.apps_deferred,
        statements_prepared = report.statements_prepared,
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

/// The nightly function's whole run: [`handle_with`] (statements
/// included), and on the schedule the alerts — packages nearing their end
/// decided, and whatever any app left unpublished published. An alert left
/// pending fails the run, so Lambda's asynchronous retries try again (every
/// part of the run is safe to repeat).
pub async fn handle_scheduled<S, B>(
    store: &S,
    bus: &B,
    metrics: &Metrics,
    payload: &Value,
    deadline: Deadline,
    now: UtcMillis,
    grace_seconds: i64,
) -> Result<RollupReport, RollupError>
where
    S: UsageStore + AlertStore,
    B: AlertBus,
{
    let mut report = Box::pin(handle_with(
        store,
        metrics,
        payload,
        deadline,
        Some((now, grace_seconds)),
    ))
    .await?;
    if rollup_request(payload)? != RollupRequest::Scheduled {
        return Ok(report);
    }
    // Boxed: the rollup's and the alerts' futures nested in one another
    // are deeper than the compiler lays out by default.
    let alerts = Box::pin(scheduled(store, bus, now, PublishPolicy::default()))
        .await
        .map_err(|err| RollupError::Unfinished(format!("alerts not checked: {err}")))?;
    tracing::info!(
        alerts_raised = alerts.alerts_raised,
        alerts_published = alerts.alerts_published,
        alerts_pending_apps = alerts.alerts_pending_apps,
        "scheduled alerts checked"
    );
    metrics.emit(&[
        ("AlertsRaised", alerts.alerts_raised as u64),
        ("AlertsPublished", alerts.alerts_published as u64),
    ]);
    let pending = alerts.alerts_pending_apps;
    report.alerts = Some(alerts);
    if pending > 0 {
        return Err(RollupError::Unfinished(format!(
            "alerts of {pending} apps are not published yet"
        )));
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn scheduled_events_and_backfills() {
        let scheduled = json!({"version": "0", "id": "x", "detail-type": "Scheduled Event",
            "source": "aws.events", "time": "2026-11-23T00:10:00Z", "detail": {}});
        assert_eq!(
            rollup_request(&scheduled).unwrap(),
            RollupRequest::Scheduled
        );
        let fixture: Value =
            serde_json::from_str(include_str!("../../events/eventbridge-schedule.json")).unwrap();
        assert_eq!(rollup_request(&fixture).unwrap(), RollupRequest::Scheduled);
        assert!(matches!(
            rollup_request(&json!({"from": "2026-01-01", "to": "2026-01-02"})),
            Ok(RollupRequest::Backfill { .. })
        ));
        for bad in [
            json!({"detail-type": "Scheduled Event"}),
            json!({"source": "aws.events", "detail-type": "Object Created"}),
            json!({"source": "aws.s3", "detail-type": "Scheduled Event"}),
            json!({}),
        ] {
            assert!(rollup_request(&bad).is_err(), "{bad}");
        }
    }

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
