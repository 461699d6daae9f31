//! SQS batch → the ingest service → a partial batch response.

use crate::domain::time::UtcMillis;
use crate::entry::metrics::Metrics;
use crate::service::ingest::{
    FailureKind, InboundMessage, IngestReport, IngestSettings, RetryPolicy, failed_message_ids,
    ingest_batch_in,
};
use crate::store::UsageStore;
use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};

/// Takes in one SQS batch, with the deployment's settings (read once, at
/// init).
pub async fn handle<S: UsageStore>(
    store: &S,
    metrics: &Metrics,
    event: SqsEvent,
    now: UtcMillis,
    settings: &IngestSettings,
) -> (SqsBatchResponse, IngestReport) {
    let messages: Vec<InboundMessage> = event
        .records
        .into_iter()
        .map(|m| InboundMessage {
            message_id: m.message_id.unwrap_or_default(),
            body: m.body,
        })
        .collect();
    let report = ingest_batch_in(store, &messages, now, RetryPolicy::default(), settings).await;
    tracing::info!(
        messages = messages.len(),
        counted = report.counted,
        duplicates = report.duplicates,
        facts = report.facts,
        failed = report.failures.len(),
        retries = report.retries,
        conflicts = report.conflicts,
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
