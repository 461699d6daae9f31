//! Test support, never in the Lambda binaries (feature `testkit`): Amazon's
//! DynamoDB Local for tests, the benchmark, the soak and local runs, the
//! tables of `template.yaml`, moto's server as a local KMS and a local EventBridge bus with its
//! consumer queue for tests, a
//! signer of Alibaba-signed requests, API Gateway answers as the Lambda
//! runtime posts them, and a stand-in Lambda Runtime API to run the built
//! functions against.

pub mod alibaba_signer;
pub mod lambda_boundary;
mod launcher;
mod local_bus;
mod local_dynamo;
mod local_kms;
pub mod runtime_api;
pub mod template;

pub use local_bus::LocalBus;
pub use local_dynamo::LocalDynamo;
pub use local_kms::LocalKms;

use crate::domain::ids::{AccountId, AppId};
use crate::store::UsageStore;

/// Registers each app to `owner` (valid ids, or a panic: test data).
pub async fn register_apps<S: UsageStore>(
    store: &S,
    apps: impl IntoIterator<Item = impl AsRef<str>>,
    owner: &str,
) {
    let owner = AccountId::parse(owner).expect("owner account id");
    for app in apps {
        let app = AppId::parse(app.as_ref()).expect("app id");
        store.register(&app, &owner).await.expect("register");
    }
}
