//! `usage-rollup`: the daily schedule (or a backfill payload) → daily aggregates.

use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use rtc_usage::domain::time::UtcMillis;
use rtc_usage::entry::{config::Config, logging, schedule};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    logging::init();
    let config = Config::from_env()?;
    let store = config.dynamo_store().await;
    let metrics = config.metrics();
    let grace_seconds = config.statement_grace_seconds;
    run(service_fn(|event: LambdaEvent<Value>| {
        let (store, metrics) = (&store, &metrics);
        async move {
            let deadline = schedule::deadline_from_epoch_ms(event.context.deadline);
            let statements = Some((UtcMillis::now(), grace_seconds));
            let report =
                schedule::handle_with(store, metrics, &event.payload, deadline, statements).await?;
            Ok::<_, Error>(report)
        }
    }))
    .await
}
