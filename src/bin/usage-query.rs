//! `usage-query`: API Gateway → the usage API (`DescribeLiveRtcRecordUsageData`
//! and the usage page's actions, IAM or Alibaba-signed) and the usage console.

use lambda_http::{Error, Request, run, service_fn};
use rtc_usage::domain::time::UtcMillis;
use rtc_usage::entry::{config, config::Config, http, logging};
use rtc_usage::secrets::SecretCache;
use rtc_usage::secrets::kms::KmsSealer;

#[tokio::main]
async fn main() -> Result<(), Error> {
    logging::init();
    let config = Config::from_env()?;
    let sdk = config::sdk_config(config::CredentialSource::LambdaEnvironment).await;
    let store = config.dynamo_store_with(&sdk);
    // AccessKey secrets, opened once per key for the life of this instance;
    // the KMS client is built when the first one is opened.
    let secrets = SecretCache::new(KmsSealer::opener(sdk));
    let settings = config.query_settings();
    run(service_fn(|request: Request| {
        let (store, secrets, settings) = (&store, &secrets, &settings);
        async move {
            Ok::<_, Error>(
                http::serve_with(store, secrets, settings, &request, UtcMillis::now()).await,
            )
        }
    }))
    .await
}
