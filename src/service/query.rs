//! Who asks, validation, the registry check, and the action that answers:
//! `DescribeLiveRtcRecordUsageData` here, the usage page's actions in
//! `service::usage`.

use crate::domain::error::{ApiError, ErrorCode};
use crate::domain::export::CsvFile;
use crate::domain::ids::{AccountId, AppId};
use crate::domain::query::{QueryParams, UsageReport, ValidQuery};
use crate::domain::statement::DEFAULT_GRACE_SECONDS;
use crate::domain::time::{Day, Interval, UtcMillis};
use crate::domain::usage::TierMillis;
use crate::domain::usage_api::{
    Action, AlertsAnswer, ApiRequest, AppsAnswer, DetailsAnswer, MAX_ALERTS, PackagesAnswer,
    StatementAnswer, StatementsAnswer, UsageDataAnswer, validate_request,
};
use crate::service::access::{internal, owner_registration, read_as_owner};
use crate::service::statements;
use crate::service::usage;
use crate::store::{AlertStore, StoreError, UsageStore};
use serde::Serialize;
use std::collections::{BTreeSet, HashMap};

/// The answer of any action: serialized as the action's own body.
#[derive(Clone, Debug, Serialize)]
#[serde(untagged)]
pub enum Answer {
    RecordUsage(UsageReport),
    Apps(AppsAnswer),
    UsageData(UsageDataAnswer),
    Details(DetailsAnswer),
    /// `ExportUsageDetails`: a file, not a JSON body.
    Export(CsvFile),
    Packages(PackagesAnswer),
    Statement(StatementAnswer),
    Statements(StatementsAnswer),
    Alerts(AlertsAnswer),
}

/// [`answer_with`] in a deployment with the contract's default grace
/// period before a month's statement closes.
pub async fn answer<S: UsageStore + AlertStore>(
    store: &S,
    caller: Option<&str>,
    params: &QueryParams,
    request_id: &str,
    now: UtcMillis,
) -> Result<(Action, Answer), ApiError> {
    answer_with(
        store,
        caller,
        params,
        request_id,
        now,
        DEFAULT_GRACE_SECONDS,
    )
    .await
}

/// Answers one request for `caller` (the account the API authenticated):
/// no caller is refused before anything else is looked at, then the
/// action's rules, then the reads. `grace_seconds` is the deployment's
/// `STATEMENT_GRACE_SECONDS`.
pub async fn answer_with<S: UsageStore + AlertStore>(
    store: &S,
    caller: Option<&str>,
    params: &QueryParams,
    request_id: &str,
    now: UtcMillis,
    grace_seconds: i64,
) -> Result<(Action, Answer), ApiError> {
    let caller = caller
        .and_then(AccountId::parse)
        .ok_or_else(|| ApiError::new(ErrorCode::ForbiddenRam))?;
    let request = validate_request(params, now)?;
    let action = request.action();
    let answer = match request {
        ApiRequest::RecordUsage(query) => {
            Answer::RecordUsage(record_usage(store, &caller, &query, request_id).await?)
        }
        ApiRequest::Apps => Answer::Apps(usage::describe_apps(store, &caller, request_id).await?),
        ApiRequest::UsageData(query) => {
            Answer::UsageData(usage::usage_data(store, &caller, &query, request_id).await?)
        }
        ApiRequest::UsageDetails { query, page } => {
            Answer::Details(usage::usage_details(store, &caller, &query, page, request_id).await?)
        }
        ApiRequest::ExportDetails(query) => {
            Answer::Export(usage::export_details(store, &caller, &query).await?)
        }
        ApiRequest::Packages { app } => {
            Answer::Packages(usage::usage_packages(store, &caller, &app, request_id, now).await?)
        }
        ApiRequest::Statement { app, month } => Answer::Statement(
            statements::describe_statement(
                store,
                &caller,
                &app,
                month,
                grace_seconds,
                request_id,
                now,
            )
            .await?,
        ),
        ApiRequest::Statements { app } => Answer::Statements(
            statements::describe_statements(store, &caller, &app, grace_seconds, request_id, now)
                .await?,
        ),
        ApiRequest::Alerts { app } => {
            Answer::Alerts(describe_alerts(store, &caller, &app, request_id).await?)
        }
    };
    Ok((action, answer))
}

/// `DescribeAlerts`: the app's alerts, newest first, at most 100.
async fn describe_alerts<S: UsageStore + AlertStore>(
    store: &S,
    caller: &AccountId,
    app: &AppId,
    request_id: &str,
) -> Result<AlertsAnswer, ApiError> {
    let registration = owner_registration(store, caller, app).await?;
    let alerts = store
        .recent_alerts(app, MAX_ALERTS)
        .await
        .map_err(internal)?;
    Ok(AlertsAnswer::new(
        request_id,
        app,
        &registration.zone,
        alerts,
    ))
}

async fn record_usage<S: UsageStore>(
    store: &S,
    caller: &AccountId,
    query: &ValidQuery,
    request_id: &str,
) -> Result<UsageReport, ApiError> {
    let (_, usage) = read_as_owner!(store, caller, &query.app, read_usage(store, query))?;
    let usage = usage.map_err(internal)?;
    Ok(UsageReport::build(request_id, query, |bucket| {
        usage.get(&bucket).copied().unwrap_or_default()
    }))
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
