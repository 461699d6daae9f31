//! SQS batch → the ingest service → a partial batch response.

use crate::bus::AlertBus;
use crate::domain::time::UtcMillis;
use crate::entry::metrics::Metrics;
use crate::service::alerts::{PublishPolicy, check_apps};
use crate::service::ingest::{
    FailureKind, InboundMessage, IngestReport, IngestSettings, RetryPolicy, failed_message_ids,
    ingest_batch_in,
};
use crate::store::{AlertStore, UsageStore};
use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};

/// Takes in one SQS batch, with the deployment's settings (read once, at
/// init), then decides and publishes the alerts the batch raised (or an
/// earlier delivery left pending) on `bus`.
pub async fn handle<S, B>(
    store: &S,
    bus: &B,
    metrics: &Metrics,
    event: SqsEvent,
    now: UtcMillis,
    settings: &IngestSettings,
) -> (SqsBatchResponse, IngestReport)
where
    S: UsageStore + AlertStore,
    B: AlertBus,
{
    let messages: Vec<InboundMessage> = event
        .records
        .into_iter()
        .map(|m| InboundMessage {
            message_id: m.message_id.unwrap_or_default(),
            body: m.body,
        })
        .collect();
    let mut report = ingest_batch_in(store, &messages, now, RetryPolicy::default(), settings).await;
    let checks = report
        .alert_checks
        .iter()
        .map(|(app, c)| (app.clone(), c.check))
        .collect();
    let alerts = check_apps(store, bus, &checks, now, PublishPolicy::default()).await;
    report.alerts_unfinished(&alerts.unfinished);
    tracing::info!(
        messages = messages.len(),
        counted = report.counted,
        duplicates = report.duplicates,
        facts = report.facts,
        failed = report.failures.len(),
        retries = report.retries,
        conflicts = report.conflicts,
        turns = report.turns,
        turn_wait_ms = report.turn_wait.as_millis() as u64,
        alerts_decided = alerts.decided,
        alerts_raised = alerts.raised,
        alerts_published = alerts.published,
        alerts_unfinished = alerts.unfinished.len(),
        "usage batch processed"
    );
    let rejected = report
        .failures
        .iter()
        .filter(|f| f.kind == FailureKind::Invalid)
        .count();
    metrics.emit(&[
        ("EventsCounted", report.counted as u64),
        ("DuplicatesSkipped", report.duplicates as u64),
        ("EventsRejected", rejected as u64),
        ("EventsDeferred", (report.failures.len() - rejected) as u64),
        ("StoreRetries", report.retries as u64),
        ("TransactionConflicts", report.conflicts as u64),
        ("BusyAppTurns", report.turns as u64),
        ("TurnWaitMilliseconds", report.turn_wait.as_millis() as u64),
        ("AlertsRaised", alerts.raised as u64),
        ("AlertsPublished", alerts.published as u64),
    ]);
    (batch_response(&report), report)
}

pub fn batch_response(report: &IngestReport) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    response.batch_item_failures = failed_message_ids(report)
        .into_iter()
        .map(|id| {
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = id;
            failure
        })
        .collect();
    response
}
