//! `usage-rollup`: the daily schedule (or a backfill payload) → daily aggregates.

use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use rtc_usage::domain::time::UtcMillis;
use rtc_usage::entry::{
    config::{self, Config},
    logging, schedule,
};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    logging::init();
    let config = Config::from_env()?;
    let sdk = config::sdk_config(config::CredentialSource::LambdaEnvironment).await;
    let store = config.dynamo_store_with(&sdk);
    let metrics = config.metrics();
    let grace_seconds = config.statement_grace_seconds;
    let bus = config.alert_bus_with(&sdk)?;
    run(service_fn(|event: LambdaEvent<Value>| {
        let (store, bus, metrics) = (&store, &bus, &metrics);
        async move {
            let deadline = schedule::deadline_from_epoch_ms(event.context.deadline);
            let report = schedule::handle_scheduled(
                store,
                bus,
                metrics,
                &event.payload,
                deadline,
                UtcMillis::now(),
                grace_seconds,
            )
            .await?;
            Ok::<_, Error>(report)
        }
    }))
    .await
}
