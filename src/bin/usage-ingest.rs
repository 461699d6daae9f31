//! `usage-ingest`: SQS batches of CloudEvents → usage counted exactly once.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use rtc_usage::domain::time::UtcMillis;
use rtc_usage::entry::{config::Config, logging, sqs};

#[tokio::main]
async fn main() -> Result<(), Error> {
    logging::init();
    let config = Config::from_env()?;
    let store = config.dynamo_store().await;
    let metrics = config.metrics();
    let settings = config.ingest_settings();
    run(service_fn(|event: LambdaEvent<SqsEvent>| {
        let (store, metrics, settings) = (&store, &metrics, &settings);
        async move {
            let (response, _) =
                sqs::handle(store, metrics, event.payload, UtcMillis::now(), settings).await;
            Ok::<SqsBatchResponse, Error>(response)
        }
    }))
    .await
}
