//! What a failed DynamoDB request means for its caller.

use crate::store::{StoreError, StoreResult};
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::CancellationReason;
use std::fmt::Debug;

/// A request the SDK's builders refused: a required field this adapter did
/// not set. That is a defect in the adapter, never a storage condition, so
/// it is not reported as something a retry could fix.
pub fn built<T, E: std::fmt::Display>(result: Result<T, E>) -> Result<T, StoreError> {
    result.map_err(|e| StoreError::Bug(format!("a request could not be built: {e}")))
}

/// Maps an SDK failure onto what callers must do about it. By the time it
/// gets here the SDK has already retried what its retry policy covers.
/// Anything that is not a definite answer from DynamoDB may have taken effect.
pub fn classify<E, R>(err: SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: Debug,
{
    let detail = DisplayErrorContext(&err).to_string();
    match &err {
        SdkError::ServiceError(service) => match service.err().code() {
            Some(
                "ProvisionedThroughputExceededException"
                | "ThrottlingException"
                | "RequestLimitExceeded",
            ) => StoreError::Throttled(detail),
            Some("TransactionConflictException" | "TransactionInProgressException") => {
                StoreError::Conflict(detail)
            }
            Some("InternalServerError") => StoreError::Ambiguous(detail),
            // DynamoDB refused the request's shape: it will refuse it again.
            Some("ValidationException") => StoreError::Bug(detail),
            _ => StoreError::Unavailable(detail),
        },
        SdkError::ConstructionFailure(_) => StoreError::Bug(detail),
        _ => StoreError::Ambiguous(detail),
    }
}

/// Whether a request failed only because its condition did not hold: a
/// definite answer (nothing was written), not an error.
pub fn condition_failed<E, R>(err: &SdkError<E, R>) -> bool
where
    E: ProvideErrorMetadata,
{
    err.as_service_error().and_then(ProvideErrorMetadata::code)
        == Some("ConditionalCheckFailedException")
}

/// A conditional request's outcome: `true` if it was carried out, `false`
/// if only its condition did not hold; any other failure classified.
pub fn condition_held<T, E, R>(result: Result<T, SdkError<E, R>>) -> StoreResult<bool>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: Debug,
{
    match result {
        Ok(_) => Ok(true),
        Err(err) if condition_failed(&err) => Ok(false),
        Err(err) => Err(classify(err)),
    }
}

/// Why a cancelled transaction was cancelled, when it was not one of its
/// own conditions: the error the caller must act on.
pub fn cancellation_error(reasons: &[CancellationReason], detail: String) -> StoreError {
    let any = |codes: &[&str]| {
        reasons
            .iter()
            .any(|r| r.code().is_some_and(|c| codes.contains(&c)))
    };
    if any(&["ThrottlingError", "ProvisionedThroughputExceeded"]) {
        StoreError::Throttled(detail)
    } else if any(&["TransactionConflict"]) {
        StoreError::Conflict(detail)
    } else if any(&["ValidationError"]) {
        StoreError::Bug(detail)
    } else {
        StoreError::Unavailable(detail)
    }
}
