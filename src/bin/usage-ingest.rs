//! `usage-ingest`: SQS batches of CloudEvents → usage counted exactly once.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use rtc_usage::domain::time::UtcMillis;
use rtc_usage::entry::{
    config::{self, Config},
    logging, sqs,
};

#[tokio::main]
async fn main() -> Result<(), Error> {
    logging::init();
    let config = Config::from_env()?;
    let sdk = config::sdk_config(config::CredentialSource::LambdaEnvironment).await;
    let store = config.dynamo_store_with(&sdk);
    let metrics = config.metrics();
    let settings = config.ingest_settings();
    let bus = config.alert_bus_with(&sdk)?;
    run(service_fn(|event: LambdaEvent<SqsEvent>| {
        let (store, bus, metrics, settings) = (&store, &bus, &metrics, &settings);
        async move {
            let (response, _) = sqs::handle(
                store,
                bus,
                metrics,
                event.payload,
                UtcMillis::now(),
                settings,
            )
            .await;
            Ok::<SqsBatchResponse, Error>(response)
        }
    }))
    .await
}
