//! Test support, never in the Lambda binaries (feature `testkit`): Amazon's
//! DynamoDB Local for tests, the benchmark, the soak and local runs, and the
//! tables of `template.yaml`.

mod local_dynamo;
pub mod template;

pub use local_dynamo::LocalDynamo;

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
