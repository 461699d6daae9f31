//! `usage-query`: API Gateway → `DescribeLiveRtcRecordUsageData`.

use lambda_http::{Error, Request, run, service_fn};
use rtc_usage::domain::time::UtcMillis;
use rtc_usage::entry::{config::Config, http, logging};

#[tokio::main]
async fn main() -> Result<(), Error> {
    logging::init();
    let config = Config::from_env()?;
    let store = config.dynamo_store().await;
    let dev_caller = config.dev_caller.as_ref();
    run(service_fn(|request: Request| {
        let store = &store;
        async move { Ok::<_, Error>(http::handle(store, dev_caller, &request, UtcMillis::now()).await) }
    }))
    .await
}
