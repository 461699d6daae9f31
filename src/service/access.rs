//! Who may see an app: only the account it is registered to. To any other
//! caller an app answers as an unknown app does, whatever its id, so no one
//! learns that another account's app exists. Every action on one app reads
//! through [`read_as_owner`]; a failed store read answers [`internal`].

use crate::domain::error::{ApiError, ErrorCode};
use crate::domain::ids::{AccountId, AppId, Name};
use crate::store::{Registration, StoreError, UsageStore};
use std::future::Future;

/// Runs an action's `reads` of `app` for `caller`: the app's name (if it has
/// one) and what the reads returned, once the app proved to be the caller's.
///
/// The registration read goes out together with the action's own reads, so
/// the answer costs one round trip; what was read of an app the caller does
/// not own is dropped unseen. A failed registration read is answered first,
/// then a refusal; the reads' own failures are the caller's to map, after.
pub(crate) async fn read_as_owner<S, F>(
    store: &S,
    caller: &AccountId,
    app: &AppId,
    reads: F,
) -> Result<(Option<Name>, F::Output), ApiError>
where
    S: UsageStore,
    F: Future,
{
    let (registration, read) = tokio::join!(store.registration(app), reads);
    let name = refuse_unless_owner(registration.map_err(internal)?, caller)?;
    Ok((name, read))
}

/// The app's name if `caller` owns it; otherwise the one answer given for
/// an unknown app.
fn refuse_unless_owner(
    registration: Option<Registration>,
    caller: &AccountId,
) -> Result<Option<Name>, ApiError> {
    match registration {
        Some(r) if r.owner == *caller => Ok(r.name),
        _ => Err(ApiError::new(ErrorCode::InvalidAppIdParameter)),
    }
}

/// A store read that failed: logged, and answered as an internal error
/// without its details.
pub(crate) fn internal(err: StoreError) -> ApiError {
    tracing::error!(error = %err, "store read failed");
    ApiError::new(ErrorCode::InternalError)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::faulty::{FaultPlan, FaultyStore};
    use crate::store::memory::MemoryStore;

    fn account(id: &str) -> AccountId {
        AccountId::parse(id).expect("account id")
    }

    fn app(id: &str) -> AppId {
        AppId::parse(id).expect("app id")
    }

    /// app-1 is the owner's, named; app-2 another account's.
    async fn store() -> MemoryStore {
        let store = MemoryStore::new();
        let name = Name::parse("Lessons").expect("name");
        store
            .register_app(&app("app-1"), &account("111122223333"), Some(&name))
            .await
            .expect("register app-1");
        store
            .register(&app("app-2"), &account("444455556666"))
            .await
            .expect("register app-2");
        store
    }

    fn code(result: Result<(Option<Name>, u32), ApiError>) -> ErrorCode {
        result.expect_err("refused").code
    }

    #[tokio::test]
    async fn the_owner_gets_the_name_and_what_was_read() {
        let store = store().await;
        let owner = account("111122223333");
        let (name, read) = read_as_owner(&store, &owner, &app("app-1"), async { 7 })
            .await
            .expect("the owner's app");
        assert_eq!(name.as_ref().map(Name::as_str), Some("Lessons"));
        assert_eq!(read, 7);
    }

    #[tokio::test]
    async fn another_accounts_app_answers_as_an_unknown_one() {
        let store = store().await;
        let owner = account("111122223333");
        let other = read_as_owner(&store, &owner, &app("app-2"), async { 7 }).await;
        let unknown = read_as_owner(&store, &owner, &app("app-3"), async { 7 }).await;
        assert_eq!(code(other), ErrorCode::InvalidAppIdParameter);
        assert_eq!(code(unknown), ErrorCode::InvalidAppIdParameter);
    }

    #[tokio::test]
    async fn a_failed_registration_read_is_an_internal_error() {
        let store = FaultyStore::new(
            store().await,
            FaultPlan {
                fail_before_per_mille: 1000,
                ..FaultPlan::default()
            },
        );
        let owner = account("111122223333");
        let failed = read_as_owner(&store, &owner, &app("app-2"), async { 7 }).await;
        assert_eq!(code(failed), ErrorCode::InternalError);
    }
}
