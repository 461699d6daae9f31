//! Who may see an app: only the account it is registered to. To any other
//! caller an app answers as an unknown app does, whatever its id, so no one
//! learns that another account's app exists. Alibaba's action reads through
//! [`read_as_owner!`] (the registration beside the usage, one round trip);
//! the usage page's actions through [`owner_registration`] first, since the
//! app's zone decides what they read. A failed store read answers
//! [`internal`].

use crate::domain::error::{ApiError, ErrorCode};
use crate::domain::ids::{AccountId, Name};
use crate::store::{Registration, StoreError, StoreResult};

/// `read_as_owner!(store, caller, app, read)` (or `…, first, second)`): an
/// action's reads of `app` for `caller`, as `(name, read)` (or
/// `(name, first, second)`) once the app proved to be the caller's, `name`
/// being the app's name if it has one.
///
/// The registration read goes out together with the action's own reads, so
/// the answer costs one round trip; what was read of an app the caller does
/// not own is dropped unseen. A failed registration read is answered first,
/// then a refusal; the reads' own failures are the caller's to map, after.
///
/// A macro rather than an `async fn`: the reads join the registration read
/// in the caller's own future, as one `tokio::join!`, with no future around
/// them (in unoptimised builds each such layer holds further copies of the
/// reads' futures on the stack, and the tests' deepest answers come near
/// its limit).
macro_rules! read_as_owner {
    ($store:expr, $caller:expr, $app:expr, $read:expr $(,)?) => {{
        let (registration, read) = ::tokio::join!($store.registration($app), $read);
        $crate::service::access::owned(registration, $caller).map(|name| (name, read))
    }};
    ($store:expr, $caller:expr, $app:expr, $first:expr, $second:expr $(,)?) => {{
        let (registration, first, second) =
            ::tokio::join!($store.registration($app), $first, $second);
        $crate::service::access::owned(registration, $caller).map(|name| (name, first, second))
    }};
}
pub(crate) use read_as_owner;

/// The app's name if the registration read found it registered to `caller`;
/// otherwise the one answer given for an unknown app (or, the read having
/// failed, an internal error).
/// The app's registration, if the caller owns it; otherwise the one answer
/// for malformed, unknown and other accounts' apps.
pub(crate) async fn owner_registration<S: crate::store::UsageStore>(
    store: &S,
    caller: &AccountId,
    app: &crate::domain::ids::AppId,
) -> Result<Registration, ApiError> {
    match store.registration(app).await.map_err(internal)? {
        Some(r) if r.owner == *caller => Ok(r),
        _ => Err(ApiError::new(ErrorCode::InvalidAppIdParameter)),
    }
}

pub(crate) fn owned(
    registration: StoreResult<Option<Registration>>,
    caller: &AccountId,
) -> Result<Option<Name>, ApiError> {
    match registration.map_err(internal)? {
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
    use crate::domain::ids::AppId;
    use crate::store::UsageStore;
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
            .register_named(&app("app-1"), &account("111122223333"), Some(&name))
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
        let app_1 = app("app-1");
        let (name, read) =
            read_as_owner!(&store, &owner, &app_1, async { 7 }).expect("the owner's app");
        assert_eq!(name.as_ref().map(Name::as_str), Some("Lessons"));
        assert_eq!(read, 7);
        let (_, first, second) =
            read_as_owner!(&store, &owner, &app_1, async { 7 }, async { "eight" })
                .expect("the owner's app");
        assert_eq!((first, second), (7, "eight"));
    }

    #[tokio::test]
    async fn another_accounts_app_answers_as_an_unknown_one() {
        let store = store().await;
        let owner = account("111122223333");
        let app_2 = app("app-2");
        let app_3 = app("app-3");
        let other = read_as_owner!(&store, &owner, &app_2, async { 7 });
        let unknown = read_as_owner!(&store, &owner, &app_3, async { 7 });
        assert_eq!(code(other), ErrorCode::InvalidAppIdParameter);
        assert_eq!(code(unknown), ErrorCode::InvalidAppIdParameter);
    }

    #[tokio::test]
    async fn the_refusal_comes_before_the_reads_own_failures() {
        let store = store().await;
        let owner = account("111122223333");
        let app_2 = app("app-2");
        let failed = || async { Err::<u32, _>(StoreError::Unavailable("down".into())) };
        let refused = read_as_owner!(&store, &owner, &app_2, failed(), failed());
        assert_eq!(
            refused.expect_err("refused").code,
            ErrorCode::InvalidAppIdParameter
        );
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
        let app_2 = app("app-2");
        let failed = read_as_owner!(&store, &owner, &app_2, async { 7 });
        assert_eq!(code(failed), ErrorCode::InternalError);
    }
}
