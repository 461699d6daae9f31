//! `DescribeLiveRtcRecordUsageData`: who asks, validation, the registry check,
//! and the reads behind the answer.

use crate::domain::error::{ApiError, ErrorCode};
use crate::domain::query::{QueryParams, UsageReport, ValidQuery, validate};
use crate::domain::time::{Day, Interval, UtcMillis};
use crate::domain::usage::TierMillis;
use crate::store::{StoreError, UsageStore};
use std::collections::{BTreeSet, HashMap};

/// Answers one query for `caller` (the AWS account API Gateway authenticated).
pub async fn describe_record_usage<S: UsageStore>(
    store: &S,
    caller: Option<&str>,
    params: &QueryParams,
    request_id: &str,
    now: UtcMillis,
) -> Result<UsageReport, ApiError> {
    let caller = caller
        .filter(|c| !c.is_empty())
        .ok_or_else(|| ApiError::new(ErrorCode::ForbiddenRam))?;
    let query = validate(params, now)?;
    // The registry read and the usage read go out together: the answer costs
    // one round trip. Usage of an app the caller does not own is dropped unseen.
    let (owner, usage) = tokio::join!(store.owner_of(&query.app), read_usage(store, &query));
    let owner = owner.map_err(internal)?;
    if owner.as_ref().map(|o| o.as_str()) != Some(caller) {
        return Err(ApiError::new(ErrorCode::InvalidAppIdParameter));
    }
    let usage = usage.map_err(internal)?;
    Ok(UsageReport::build(request_id, &query, |bucket| {
        usage.get(&bucket).copied().unwrap_or_default()
    }))
}

fn internal(err: StoreError) -> ApiError {
    tracing::error!(error = %err, "store read failed");
    ApiError::new(ErrorCode::InternalError)
}

/// Usage of the query's mode per bucket start; absent buckets are zero.
async fn read_usage<S: UsageStore>(
    store: &S,
    query: &ValidQuery,
) -> Result<HashMap<UtcMillis, TierMillis>, StoreError> {
    let last_ms = query.end.minus_ms(1);
    match query.interval {
        Interval::Hour => {
            let hours = store
                .hours(&query.app, query.start.hour(), last_ms.hour())
                .await?;
            Ok(hours
                .into_iter()
                .map(|h| (h.hour.start(), *h.usage.mode(query.mode)))
                .collect())
        }
        Interval::Day => {
            let records = store
                .days(&query.app, query.start.day(), last_ms.day())
                .await?;
            let mut usage: HashMap<UtcMillis, TierMillis> = HashMap::new();
            let mut unrolled: BTreeSet<Day> = BTreeSet::new();
            for record in records {
                if record.is_rolled() {
                    usage.insert(record.day.start(), *record.rolled.mode(query.mode));
                } else {
                    unrolled.insert(record.day);
                }
            }
            // Freshness: days with changes the rollup has not taken in yet are
            // summed from their hours, all of them with one more read.
            if let (Some(first), Some(last)) = (unrolled.first(), unrolled.last()) {
                let hours = store
                    .hours(&query.app, first.first_hour(), last.last_hour())
                    .await?;
                for hour in hours
                    .into_iter()
                    .filter(|h| unrolled.contains(&h.hour.day()))
                {
                    *usage.entry(hour.hour.day().start()).or_default() +=
                        *hour.usage.mode(query.mode);
                }
            }
            Ok(usage)
        }
    }
}
