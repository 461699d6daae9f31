//! The rules of all six actions, in the contract's order: the action first,
//! then the action's required parameters, the window, `ServiceType` or
//! `RecordMode`, `Interval`, `ClassId`, `PageNumber`, `PageSize`, and
//! `AppId`'s syntax last. The rules the actions share (the action, required
//! parameters, the window, optional parameters, `Interval`, `AppId`) are
//! written once here and used by each action's rules.

use super::{
    Action, ApiRequest, DetailsQuery, DetailsService, MAX_PAGE_NUMBER, MAX_PAGE_SIZE, Page,
    ServiceType, UsageDataQuery,
};
use crate::domain::error::{ApiError, ErrorCode};
use crate::domain::ids::{AppId, ClassId};
use crate::domain::params::{ACTION_PARAM, Param, QueryParams};
use crate::domain::query::ValidQuery;
use crate::domain::statement::Month;
use crate::domain::time::{Interval, MINUTE_MS, REACH_MS, SECOND_MS, UtcMillis};
use crate::domain::usage::RecordMode;
use crate::domain::zone::BillingZone;
use std::ops::RangeInclusive;

/// The shortest window: 5 minutes.
pub const MIN_SPAN_MS: i64 = 5 * MINUTE_MS;
/// The longest window: 31 days.
pub const MAX_SPAN_MS: i64 = 2_678_400 * SECOND_MS;
/// How far back a window may start: the contract's reach, 366 days before now.
pub const MAX_LOOKBACK_MS: i64 = REACH_MS;

/// The required parameters of the three actions over a window, in the order
/// they are checked.
const WINDOW_ACTION_PARAMS: [&str; 4] = ["StartTime", "EndTime", "AppId", "ServiceType"];

/// Applies the rules of the action the request names, in order; the first
/// that fails answers. The action itself first (missing, or none of the six);
/// then the action's required parameters, the first missing or empty one
/// named; the window (`StartTime`, `EndTime`); `ServiceType`; `Interval`;
/// `ClassId`; `PageNumber`; `PageSize`; and `AppId`'s syntax last. A rule
/// about a parameter the action does not take is skipped, and the parameter
/// ignored like any unknown one. An optional parameter given empty is
/// present and invalid; a parameter given twice fails its own rule.
pub fn validate_request(params: &QueryParams, now: UtcMillis) -> Result<ApiRequest, ApiError> {
    let action = Action::parse(action_name(params)?)
        .ok_or_else(|| ApiError::new(ErrorCode::InvalidActionNotFound))?;
    match action {
        Action::RecordUsage => record_usage(params, now).map(ApiRequest::RecordUsage),
        Action::Apps => Ok(ApiRequest::Apps),
        Action::UsageData => {
            require(params, &WINDOW_ACTION_PARAMS)?;
            let (start, end) = window(params, now)?;
            let service = service_type(params, ServiceType::parse)?;
            let interval = interval(params)?;
            let app = app_id(params)?;
            Ok(ApiRequest::UsageData(UsageDataQuery {
                app,
                start,
                end,
                service,
                interval,
                zone: BillingZone::utc(),
            }))
        }
        Action::UsageDetails => {
            let (query, page) = details(params, now, true)?;
            Ok(ApiRequest::UsageDetails { query, page })
        }
        Action::ExportDetails => {
            let (query, _) = details(params, now, false)?;
            Ok(ApiRequest::ExportDetails(query))
        }
        Action::Packages => {
            require(params, &["AppId"])?;
            let app = app_id(params)?;
            Ok(ApiRequest::Packages { app })
        }
        Action::Statement => {
            require(params, &["AppId", "Month"])?;
            // Where the other actions check ServiceType: after the required
            // parameters, before AppId's syntax.
            let month = params
                .get("Month")
                .one()
                .and_then(Month::parse)
                .ok_or_else(|| ApiError::new(ErrorCode::InvalidMonthMalformed))?;
            let app = app_id(params)?;
            Ok(ApiRequest::Statement { app, month })
        }
        Action::Statements => {
            require(params, &["AppId"])?;
            let app = app_id(params)?;
            Ok(ApiRequest::Statements { app })
        }
        Action::Alerts => {
            require(params, &["AppId"])?;
            let app = app_id(params)?;
            Ok(ApiRequest::Alerts { app })
        }
    }
}

/// The rules of `DescribeLiveRtcRecordUsageData` after the action, in order.
fn record_usage(params: &QueryParams, now: UtcMillis) -> Result<ValidQuery, ApiError> {
    require(params, &["StartTime", "EndTime", "AppId", "RecordMode"])?;
    let (start, end) = window(params, now)?;
    // RecordMode is exactly 0 or 1.
    let mode = params
        .get("RecordMode")
        .one()
        .and_then(RecordMode::parse)
        .ok_or_else(|| ApiError::new(ErrorCode::InvalidRecordModeParameter))?;
    let interval = interval(params)?;
    let app = app_id(params)?;
    Ok(ValidQuery {
        app,
        start,
        end,
        mode,
        interval,
    })
}

/// The rules of the two details actions; only `DescribeUsageDetails` is
/// `paged` (takes `PageNumber` and `PageSize`).
fn details(
    params: &QueryParams,
    now: UtcMillis,
    paged: bool,
) -> Result<(DetailsQuery, Page), ApiError> {
    require(params, &WINDOW_ACTION_PARAMS)?;
    let (start, end) = window(params, now)?;
    let service = service_type(params, DetailsService::parse)?;
    // ClassId, if given, is an id: 1–64 of A–Z a–z 0–9 - _ .
    let class = optional(
        params,
        "ClassId",
        None,
        |text| ClassId::parse(text).map(Some),
        ErrorCode::InvalidClassIdMalformed,
    )?;
    let page = if paged {
        Page {
            number: optional(
                params,
                "PageNumber",
                Page::DEFAULT.number,
                |text| whole_number(text, 1..=MAX_PAGE_NUMBER),
                ErrorCode::InvalidPageNumberValueNotSupported,
            )?,
            size: optional(
                params,
                "PageSize",
                Page::DEFAULT.size,
                |text| whole_number(text, 1..=MAX_PAGE_SIZE),
                ErrorCode::InvalidPageSizeValueNotSupported,
            )?,
        }
    } else {
        Page::DEFAULT
    };
    let app = app_id(params)?;
    Ok((
        DetailsQuery {
            app,
            start,
            end,
            service,
            class,
            zone: BillingZone::utc(),
        },
        page,
    ))
}

/// The name `Action` gives. Missing or empty, the request names no action; a
/// repeated `Action` names none of the valid ones.
fn action_name(params: &QueryParams) -> Result<&str, ApiError> {
    match params.get(ACTION_PARAM) {
        Param::Absent | Param::One("") => Err(ApiError::missing(ACTION_PARAM)),
        Param::One(name) => Ok(name),
        Param::Repeated => Err(ApiError::new(ErrorCode::InvalidActionNotFound)),
    }
}

/// Every required parameter present and non-empty, checked in the order
/// given; the message names the first that is not. A repeated parameter is
/// present: its own rule refuses it later.
fn require(params: &QueryParams, names: &[&str]) -> Result<(), ApiError> {
    match names
        .iter()
        .find(|name| !params.get(name).present_non_empty())
    {
        Some(name) => Err(ApiError::missing(name)),
        None => Ok(()),
    }
}

/// `StartTime` and `EndTime`: each exactly `YYYY-MM-DDThh:mm:ssZ` (a real UTC
/// date and time), the end after the start, a span of 5 minutes to 31 days,
/// and a start neither in the future nor more than 366 days ago; checked in
/// that order.
fn window(params: &QueryParams, now: UtcMillis) -> Result<(UtcMillis, UtcMillis), ApiError> {
    let start = params
        .get("StartTime")
        .one()
        .and_then(UtcMillis::parse_query_time)
        .ok_or_else(|| ApiError::new(ErrorCode::InvalidStartTimeMalformed))?;
    let end = params
        .get("EndTime")
        .one()
        .and_then(UtcMillis::parse_query_time)
        .ok_or_else(|| ApiError::new(ErrorCode::InvalidEndTimeMalformed))?;
    if end <= start {
        return Err(ApiError::new(ErrorCode::InvalidEndTimeMismatch));
    }
    let span = end.0 - start.0;
    if !(MIN_SPAN_MS..=MAX_SPAN_MS).contains(&span) {
        return Err(ApiError::new(ErrorCode::InvalidTimeSpan));
    }
    if start > now || start < now.minus_ms(MAX_LOOKBACK_MS) {
        return Err(ApiError::new(ErrorCode::InvalidStartTimeValueNotSupported));
    }
    Ok((start, end))
}

/// `ServiceType`, already known present: exactly one of the action's values.
fn service_type<T>(
    params: &QueryParams,
    parse: impl FnOnce(&str) -> Option<T>,
) -> Result<T, ApiError> {
    params
        .get("ServiceType")
        .one()
        .and_then(parse)
        .ok_or_else(|| ApiError::new(ErrorCode::InvalidServiceTypeValueNotSupported))
}

/// An optional parameter: `default` when absent; otherwise its one value must
/// parse, or `code` answers. Given empty or more than once, it is present and
/// invalid: an empty value never means "use the default".
fn optional<T>(
    params: &QueryParams,
    name: &str,
    default: T,
    parse: impl FnOnce(&str) -> Option<T>,
    code: ErrorCode,
) -> Result<T, ApiError> {
    match params.get(name) {
        Param::Absent => Ok(default),
        Param::One(value) => parse(value).ok_or_else(|| ApiError::new(code)),
        Param::Repeated => Err(ApiError::new(code)),
    }
}

/// `Interval`, if given, is exactly 3600 or 86400; absent, hourly buckets.
fn interval(params: &QueryParams) -> Result<Interval, ApiError> {
    optional(
        params,
        "Interval",
        Interval::Hour,
        |text| match text {
            "3600" => Some(Interval::Hour),
            "86400" => Some(Interval::Day),
            _ => None,
        },
        ErrorCode::InvalidIntervalValueNotSupported,
    )
}

/// `AppId` is 1–64 of A–Z a–z 0–9 - _ . ; whether it is registered to the
/// caller is checked with the registry, and answered the same way.
fn app_id(params: &QueryParams) -> Result<AppId, ApiError> {
    params
        .get("AppId")
        .one()
        .and_then(AppId::parse)
        .ok_or_else(|| ApiError::new(ErrorCode::InvalidAppIdParameter))
}

/// An integer in `range` written as plain ASCII decimal digits: no sign, no
/// leading zero, no spaces, no exponent or fraction.
fn whole_number(text: &str, range: RangeInclusive<u32>) -> Option<u32> {
    let plain = text.bytes().all(|c| c.is_ascii_digit()) && !text.starts_with('0');
    if !plain {
        return None;
    }
    // Too many digits for a u32 is out of range too.
    text.parse::<u32>().ok().filter(|n| range.contains(n))
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::*;
    use crate::domain::query::ACTION;

    fn details_of(request: ApiRequest) -> (DetailsQuery, Page) {
        match request {
            ApiRequest::UsageDetails { query, page } => (query, page),
            other => panic!("not details: {other:?}"),
        }
    }

    // ---- the action ---------------------------------------------------

    #[test]
    fn every_action_by_its_exact_name() {
        for action in Action::ALL {
            assert_eq!(Action::parse(action.as_str()), Some(action));
            assert_eq!(ok(&valid(action)).action(), action);
        }
        for bad in [
            "describeApps",
            "DescribeApps ",
            "DESCRIBEAPPS",
            "DescribeUsage",
            "ExportUsageData",
            "X",
        ] {
            let p = with(valid(Action::Apps), &[("Action", Some(bad))]);
            assert_eq!(err(&p), "InvalidAction.NotFound", "{bad:?}");
        }
        assert_eq!(
            missing(&with(valid(Action::Apps), &[("Action", None)])),
            "Action"
        );
        assert_eq!(
            missing(&with(valid(Action::Apps), &[("Action", Some(""))])),
            "Action"
        );
        // Two Actions, even the same one twice, name no action.
        assert_eq!(
            err(&plus(valid(Action::Apps), "Action", "DescribeApps")),
            "InvalidAction.NotFound"
        );
    }

    #[test]
    fn the_action_before_anything_else() {
        let everything_wrong = vec![
            ("Action".to_owned(), "DescribeNothing".to_owned()),
            ("StartTime".to_owned(), "x".to_owned()),
            ("AppId".to_owned(), "bad app".to_owned()),
        ];
        assert_eq!(err(&everything_wrong), "InvalidAction.NotFound");
        assert_eq!(
            missing(&with(everything_wrong, &[("Action", None)])),
            "Action"
        );
    }

    #[test]
    fn describe_apps_needs_no_other_parameter_and_ignores_the_rest() {
        assert_eq!(ok(&valid(Action::Apps)), ApiRequest::Apps);
        let noisy = with(
            valid(Action::Apps),
            &[
                ("StartTime", Some("x")),
                ("EndTime", Some("")),
                ("AppId", Some("bad app")),
                ("ServiceType", Some("Nope")),
                ("Interval", Some("1")),
                ("ClassId", Some("bad class")),
                ("PageNumber", Some("0")),
                ("PageSize", Some("0")),
                ("RecordMode", Some("9")),
            ],
        );
        assert_eq!(ok(&plus(noisy, "AppId", "again")), ApiRequest::Apps);
        assert_eq!(ApiRequest::Apps.app(), None);
    }

    #[test]
    fn describe_usage_packages_needs_only_the_app() {
        let request = ok(&valid(Action::Packages));
        assert_eq!(request, ApiRequest::Packages { app: app("app-1") });
        assert_eq!(request.app(), Some(&app("app-1")));
        assert_eq!(
            missing(&with(valid(Action::Packages), &[("AppId", None)])),
            "AppId"
        );
        assert_eq!(
            missing(&with(valid(Action::Packages), &[("AppId", Some(""))])),
            "AppId"
        );
        // Every other parameter is ignored, however wrong; the app's syntax
        // is the one rule.
        let state = with(
            valid(Action::Packages),
            &[
                ("AppId", Some("bad app")),
                ("StartTime", Some("x")),
                ("ServiceType", Some("Nope")),
                ("Interval", Some("1")),
                ("ClassId", Some("bad class")),
                ("PageNumber", Some("0")),
                ("PageSize", Some("101")),
            ],
        );
        walk(
            state,
            &[
                (&[], Some("InvalidAppIdParameter")),
                (&[("AppId", Some("app-1"))], None),
            ],
        );
        assert_eq!(
            err(&plus(valid(Action::Packages), "AppId", "app-2")),
            "InvalidAppIdParameter"
        );
    }

    #[test]
    fn describe_statement_needs_the_app_and_a_month_written_yyyy_mm() {
        let request = ok(&valid(Action::Statement));
        assert_eq!(
            request,
            ApiRequest::Statement {
                app: app("app-1"),
                month: Month::parse("2026-11").unwrap()
            }
        );
        assert_eq!(request.app(), Some(&app("app-1")));
        for name in ["AppId", "Month"] {
            for value in [None, Some("")] {
                assert_eq!(
                    missing(&with(valid(Action::Statement), &[(name, value)])),
                    name
                );
            }
        }
        // AppId is missing before Month is looked at.
        assert_eq!(
            missing(&with(
                valid(Action::Statement),
                &[("AppId", None), ("Month", Some("bad"))]
            )),
            "AppId"
        );
        for bad in [
            "2026-13",
            "2026-00",
            "2026-1",
            "2026-011",
            " 2026-11",
            "2026-11 ",
            "２０２６-11",
            "2026/11",
            "2026-11-01",
            "11-2026",
            "+026-11",
            "2026-1١",
        ] {
            assert_eq!(
                err(&with(valid(Action::Statement), &[("Month", Some(bad))])),
                "InvalidMonth.Malformed",
                "{bad:?}"
            );
        }
        // Month where ServiceType is checked: before the app's syntax.
        walk(
            with(
                valid(Action::Statement),
                &[("Month", Some("2026-13")), ("AppId", Some("bad app"))],
            ),
            &[
                (&[], Some("InvalidMonth.Malformed")),
                (&[("Month", Some("2026-12"))], Some("InvalidAppIdParameter")),
                (&[("AppId", Some("app-1"))], None),
            ],
        );
        assert_eq!(
            err(&plus(valid(Action::Statement), "Month", "2026-10")),
            "InvalidMonth.Malformed",
            "a month given twice"
        );
    }

    #[test]
    fn describe_statements_needs_only_the_app() {
        let request = ok(&valid(Action::Statements));
        assert_eq!(request, ApiRequest::Statements { app: app("app-1") });
        assert_eq!(
            missing(&with(valid(Action::Statements), &[("AppId", None)])),
            "AppId"
        );
        // Month and the rest are ignored, however wrong.
        let noisy = with(
            valid(Action::Statements),
            &[("Month", Some("bad")), ("ServiceType", Some("Nope"))],
        );
        assert_eq!(ok(&noisy), request);
    }

    #[test]
    fn describe_alerts_needs_only_the_app() {
        let request = ok(&valid(Action::Alerts));
        assert_eq!(request, ApiRequest::Alerts { app: app("app-1") });
        assert_eq!(
            missing(&with(valid(Action::Alerts), &[("AppId", None)])),
            "AppId"
        );
        assert_eq!(
            err(&with(valid(Action::Alerts), &[("AppId", Some("app 1"))])),
            "InvalidAppIdParameter"
        );
        let noisy = with(
            valid(Action::Alerts),
            &[("Month", Some("bad")), ("PageSize", Some("-1"))],
        );
        assert_eq!(ok(&noisy), request);
    }

    // ---- required parameters ------------------------------------------

    #[test]
    fn required_parameters_named_in_order_for_each_window_action() {
        for action in [
            Action::UsageData,
            Action::UsageDetails,
            Action::ExportDetails,
        ] {
            // Optional parameters, however wrong, wait for the required ones.
            let mut state = with(
                valid(action),
                &[
                    ("StartTime", None),
                    ("EndTime", None),
                    ("AppId", None),
                    ("ServiceType", None),
                    ("Interval", Some("1")),
                    ("ClassId", Some("bad class")),
                    ("PageNumber", Some("0")),
                    ("PageSize", Some("0")),
                ],
            );
            for (name, value) in [
                ("StartTime", "x"),
                ("EndTime", "y"),
                ("AppId", "bad app"),
                ("ServiceType", "Nope"),
            ] {
                assert_eq!(missing(&state), name, "{action:?}");
                // Given empty, it is still missing.
                assert_eq!(missing(&with(state.clone(), &[(name, Some(""))])), name);
                state = with(state, &[(name, Some(value))]);
            }
            // All present: the format rules start.
            assert_eq!(err(&state), "InvalidStartTime.Malformed", "{action:?}");
        }
    }

    #[test]
    fn record_mode_is_not_required_by_the_usage_actions() {
        for action in [
            Action::UsageData,
            Action::UsageDetails,
            Action::ExportDetails,
        ] {
            let p = with(valid(action), &[("RecordMode", Some("9"))]);
            assert!(run(&p).is_ok(), "{action:?}");
        }
    }

    // ---- the order of the rules, action by action ----------------------

    #[test]
    fn describe_usage_data_rule_order() {
        let state = with(
            valid(Action::UsageData),
            &[
                ("StartTime", Some("x")),
                ("EndTime", Some("y")),
                ("AppId", Some("bad app")),
                ("ServiceType", Some("Video")),
                ("Interval", Some("60")),
                // Not parameters of this action: ignored.
                ("ClassId", Some("bad class")),
                ("PageNumber", Some("0")),
                ("PageSize", Some("0")),
                ("RecordMode", Some("9")),
            ],
        );
        let request = walk(
            state,
            &[
                (&[], Some("InvalidStartTime.Malformed")),
                (
                    &[("StartTime", Some("2020-01-01T00:00:00Z"))],
                    Some("InvalidEndTime.Malformed"),
                ),
                (
                    &[("EndTime", Some("2020-01-01T00:00:00Z"))],
                    Some("InvalidEndTime.Mismatch"),
                ),
                (
                    &[("EndTime", Some("2020-01-01T00:04:59Z"))],
                    Some("InvalidTimeSpan"),
                ),
                (
                    &[("EndTime", Some("2020-01-02T00:00:00Z"))],
                    Some("InvalidStartTime.ValueNotSupported"),
                ),
                (
                    &[
                        ("StartTime", Some("2026-11-20T00:00:00Z")),
                        ("EndTime", Some("2026-11-21T00:00:00Z")),
                    ],
                    Some("InvalidServiceType.ValueNotSupported"),
                ),
                (
                    &[("ServiceType", Some("Storage"))],
                    Some("InvalidInterval.ValueNotSupported"),
                ),
                (
                    &[("Interval", Some("86400"))],
                    Some("InvalidAppIdParameter"),
                ),
                (&[("AppId", Some("app-1"))], None),
            ],
        );
        assert_eq!(
            request,
            ApiRequest::UsageData(UsageDataQuery {
                app: app("app-1"),
                start: t("2026-11-20T00:00:00Z"),
                end: t("2026-11-21T00:00:00Z"),
                service: ServiceType::Storage,
                interval: Interval::Day,
                zone: BillingZone::utc(),
            })
        );
    }

    #[test]
    fn describe_usage_details_rule_order() {
        let state = with(
            valid(Action::UsageDetails),
            &[
                ("StartTime", Some("x")),
                ("EndTime", Some("y")),
                ("AppId", Some("bad app")),
                ("ServiceType", Some("Storage")),
                ("ClassId", Some("bad class")),
                ("PageNumber", Some("0")),
                ("PageSize", Some("101")),
                // Not a parameter of this action: ignored.
                ("Interval", Some("60")),
            ],
        );
        let request = walk(
            state,
            &[
                (&[], Some("InvalidStartTime.Malformed")),
                (
                    &[("StartTime", Some("2020-01-01T00:00:00Z"))],
                    Some("InvalidEndTime.Malformed"),
                ),
                (
                    &[("EndTime", Some("2019-12-31T00:00:00Z"))],
                    Some("InvalidEndTime.Mismatch"),
                ),
                (
                    &[("EndTime", Some("2020-02-01T00:00:01Z"))],
                    Some("InvalidTimeSpan"),
                ),
                (
                    &[("EndTime", Some("2020-02-01T00:00:00Z"))],
                    Some("InvalidStartTime.ValueNotSupported"),
                ),
                (
                    &[
                        ("StartTime", Some("2026-11-20T00:00:00Z")),
                        ("EndTime", Some("2026-11-21T00:00:00Z")),
                    ],
                    Some("InvalidServiceType.ValueNotSupported"),
                ),
                (
                    &[("ServiceType", Some("Recording"))],
                    Some("InvalidClassId.Malformed"),
                ),
                (
                    &[("ClassId", Some("class-1"))],
                    Some("InvalidPageNumber.ValueNotSupported"),
                ),
                (
                    &[("PageNumber", Some("3"))],
                    Some("InvalidPageSize.ValueNotSupported"),
                ),
                (&[("PageSize", Some("7"))], Some("InvalidAppIdParameter")),
                (&[("AppId", Some("app-1"))], None),
            ],
        );
        assert_eq!(
            request,
            ApiRequest::UsageDetails {
                query: DetailsQuery {
                    app: app("app-1"),
                    start: t("2026-11-20T00:00:00Z"),
                    end: t("2026-11-21T00:00:00Z"),
                    service: DetailsService::Recording,
                    class: Some(ClassId::parse("class-1").unwrap()),
                    zone: BillingZone::utc(),
                },
                page: Page { number: 3, size: 7 },
            }
        );
    }

    #[test]
    fn export_usage_details_rule_order() {
        let state = with(
            valid(Action::ExportDetails),
            &[
                ("StartTime", Some("x")),
                ("EndTime", Some("y")),
                ("AppId", Some("bad app")),
                ("ServiceType", Some("Storage")),
                ("ClassId", Some("")),
                // Not parameters of this action: ignored.
                ("PageNumber", Some("0")),
                ("PageSize", Some("0")),
                ("Interval", Some("60")),
            ],
        );
        let request = walk(
            state,
            &[
                (&[], Some("InvalidStartTime.Malformed")),
                (
                    &[("StartTime", Some("2026-11-24T00:00:00Z"))],
                    Some("InvalidEndTime.Malformed"),
                ),
                (
                    &[("EndTime", Some("2026-11-23T00:00:00Z"))],
                    Some("InvalidEndTime.Mismatch"),
                ),
                (
                    &[("EndTime", Some("2026-11-24T00:01:00Z"))],
                    Some("InvalidTimeSpan"),
                ),
                (
                    &[("EndTime", Some("2026-11-25T00:00:00Z"))],
                    Some("InvalidStartTime.ValueNotSupported"),
                ),
                (
                    &[
                        ("StartTime", Some("2026-11-20T00:00:00Z")),
                        ("EndTime", Some("2026-11-21T00:00:00Z")),
                    ],
                    Some("InvalidServiceType.ValueNotSupported"),
                ),
                (
                    &[("ServiceType", Some("AudioVideo"))],
                    Some("InvalidClassId.Malformed"),
                ),
                (&[("ClassId", None)], Some("InvalidAppIdParameter")),
                (&[("AppId", Some("app-1"))], None),
            ],
        );
        assert_eq!(
            request,
            ApiRequest::ExportDetails(DetailsQuery {
                app: app("app-1"),
                start: t("2026-11-20T00:00:00Z"),
                end: t("2026-11-21T00:00:00Z"),
                service: DetailsService::AudioVideo,
                class: None,
                zone: BillingZone::utc(),
            })
        );
    }

    #[test]
    fn the_window_rules_are_those_of_the_record_usage_query() {
        let windows = [
            ("2026-11-20T00:00:00", "2026-11-21T00:00:00Z"),
            ("2026-11-20T00:00:00Z", "2026-02-30T00:00:00Z"),
            ("2026-11-20T00:00:00Z", "2026-11-20T00:00:00Z"),
            ("2026-11-20T00:00:00Z", "2026-11-20T00:05:00Z"),
            ("2026-11-20T00:00:00Z", "2026-11-20T00:04:59Z"),
            ("2026-10-20T00:00:00Z", "2026-11-20T00:00:00Z"),
            ("2026-10-20T00:00:00Z", "2026-11-20T00:00:01Z"),
            ("2026-11-23T12:00:00Z", "2026-11-23T13:00:00Z"),
            ("2026-11-23T12:00:01Z", "2026-11-23T13:00:00Z"),
            ("2025-11-22T12:00:00Z", "2025-11-23T00:00:00Z"),
            ("2025-11-22T11:59:59Z", "2025-11-23T00:00:00Z"),
        ];
        for (start, end) in windows {
            let change = [("StartTime", Some(start)), ("EndTime", Some(end))];
            let expected = run(&with(valid(Action::RecordUsage), &change)).err();
            for action in [
                Action::UsageData,
                Action::UsageDetails,
                Action::ExportDetails,
            ] {
                assert_eq!(
                    run(&with(valid(action), &change)).err(),
                    expected,
                    "{action:?} {start} {end}"
                );
            }
        }
    }

    // ---- the record usage query through the one entry point -----------

    #[test]
    fn record_usage_answers_exactly_as_its_own_validation() {
        let base = valid(Action::RecordUsage);
        let cases = [
            with(base.clone(), &[]),
            with(base.clone(), &[("StartTime", None), ("RecordMode", None)]),
            with(base.clone(), &[("RecordMode", Some(""))]),
            with(base.clone(), &[("StartTime", Some("x"))]),
            with(base.clone(), &[("EndTime", Some("2026-11-19T00:00:00Z"))]),
            with(base.clone(), &[("RecordMode", Some("2"))]),
            with(base.clone(), &[("Interval", Some(""))]),
            with(base.clone(), &[("Interval", Some("86400"))]),
            with(base.clone(), &[("AppId", Some("bad app"))]),
            with(
                base.clone(),
                &[("ServiceType", Some("Nope")), ("ClassId", Some(""))],
            ),
            plus(base.clone(), "AppId", "app-2"),
            plus(base.clone(), "Interval", "3600"),
        ];
        for pairs in cases {
            let params = QueryParams::from_pairs(pairs.clone());
            let one = record_usage(&params, now());
            let all = validate_request(&params, now());
            match (one, all) {
                (Ok(q), Ok(request)) => assert_eq!(request, ApiRequest::RecordUsage(q)),
                (Err(a), Err(b)) => assert_eq!(a, b, "{pairs:?}"),
                (a, b) => panic!("{pairs:?}: {a:?} vs {b:?}"),
            }
        }
        let q = match ok(&valid(Action::RecordUsage)) {
            ApiRequest::RecordUsage(q) => q,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            (q.mode, q.interval),
            (RecordMode::SingleStream, Interval::Hour)
        );
    }

    // ---- each rule ----------------------------------------------------

    #[test]
    fn service_type_values_per_action() {
        for (service, expected) in [
            ("AudioVideo", ServiceType::AudioVideo),
            ("Recording", ServiceType::Recording),
            ("Storage", ServiceType::Storage),
        ] {
            match ok(&with(
                valid(Action::UsageData),
                &[("ServiceType", Some(service))],
            )) {
                ApiRequest::UsageData(q) => assert_eq!(q.service, expected),
                other => panic!("{other:?}"),
            }
        }
        for action in [Action::UsageDetails, Action::ExportDetails] {
            for service in ["AudioVideo", "Recording"] {
                let request = ok(&with(valid(action), &[("ServiceType", Some(service))]));
                let query = match request {
                    ApiRequest::UsageDetails { query, .. } | ApiRequest::ExportDetails(query) => {
                        query
                    }
                    other => panic!("{other:?}"),
                };
                assert_eq!(query.service.as_str(), service);
            }
            assert_eq!(
                err(&with(valid(action), &[("ServiceType", Some("Storage"))])),
                "InvalidServiceType.ValueNotSupported"
            );
        }
        for action in [
            Action::UsageData,
            Action::UsageDetails,
            Action::ExportDetails,
        ] {
            for bad in [
                "audiovideo",
                "AUDIOVIDEO",
                "AudioVideo ",
                " Recording",
                "Audio",
                "1",
            ] {
                assert_eq!(
                    err(&with(valid(action), &[("ServiceType", Some(bad))])),
                    "InvalidServiceType.ValueNotSupported",
                    "{action:?} {bad:?}"
                );
            }
            assert_eq!(
                err(&plus(valid(action), "ServiceType", "AudioVideo")),
                "InvalidServiceType.ValueNotSupported",
                "a repeat, even of the same value"
            );
        }
    }

    #[test]
    fn interval_of_the_trend() {
        let interval_of = |value: Option<&str>| match run(&with(
            valid(Action::UsageData),
            &[("Interval", value)],
        )) {
            Ok(ApiRequest::UsageData(q)) => Ok(q.interval),
            Ok(other) => panic!("{other:?}"),
            Err(e) => Err(e.code.code()),
        };
        assert_eq!(interval_of(None), Ok(Interval::Hour));
        assert_eq!(interval_of(Some("3600")), Ok(Interval::Hour));
        assert_eq!(interval_of(Some("86400")), Ok(Interval::Day));
        for bad in ["", "60", "03600", "3600.0", "86400 ", "+3600"] {
            assert_eq!(
                interval_of(Some(bad)),
                Err("InvalidInterval.ValueNotSupported"),
                "{bad:?}"
            );
        }
        assert_eq!(
            err(&plus(
                with(valid(Action::UsageData), &[("Interval", Some("3600"))]),
                "Interval",
                "3600"
            )),
            "InvalidInterval.ValueNotSupported"
        );
    }

    #[test]
    fn class_id_optional_but_an_id_when_given() {
        for action in [Action::UsageDetails, Action::ExportDetails] {
            let class_of = |pairs: &Pairs| match ok(pairs) {
                ApiRequest::UsageDetails { query, .. } | ApiRequest::ExportDetails(query) => {
                    query.class
                }
                other => panic!("{other:?}"),
            };
            assert_eq!(class_of(&valid(action)), None);
            let long = "c".repeat(64);
            for good in ["class-1.a_B", "0", long.as_str()] {
                assert_eq!(
                    class_of(&with(valid(action), &[("ClassId", Some(good))])),
                    ClassId::parse(good)
                );
            }
            let too_long = "c".repeat(65);
            for bad in ["", "class 1", "class/1", "клас", " c", too_long.as_str()] {
                assert_eq!(
                    err(&with(valid(action), &[("ClassId", Some(bad))])),
                    "InvalidClassId.Malformed",
                    "{bad:?}"
                );
            }
            let twice = plus(
                with(valid(action), &[("ClassId", Some("c1"))]),
                "ClassId",
                "c1",
            );
            assert_eq!(err(&twice), "InvalidClassId.Malformed");
        }
    }

    #[test]
    fn page_number_and_size_defaults_and_edges() {
        let page_of = |changes: &[(&str, Option<&str>)]| {
            run(&with(valid(Action::UsageDetails), changes))
                .map(|r| details_of(r).1)
                .map_err(|e| e.code.code())
        };
        assert_eq!(
            page_of(&[]),
            Ok(Page {
                number: 1,
                size: 20
            })
        );
        assert_eq!(page_of(&[]), Ok(Page::DEFAULT));
        for (text, number) in [("1", 1), ("2", 2), ("99999", 99_999), ("100000", 100_000)] {
            assert_eq!(
                page_of(&[("PageNumber", Some(text))]),
                Ok(Page { number, size: 20 })
            );
        }
        for (text, size) in [("1", 1), ("20", 20), ("99", 99), ("100", 100)] {
            assert_eq!(
                page_of(&[("PageSize", Some(text))]),
                Ok(Page { number: 1, size })
            );
        }
        let not_integers = [
            "", "0", "00", "01", "+1", "-1", " 1", "1 ", "1.0", "1e3", "0x10", "１", "one",
        ];
        for bad in not_integers
            .iter()
            .chain(&["100001", "4294967296", "99999999999999999999"])
        {
            assert_eq!(
                page_of(&[("PageNumber", Some(bad))]),
                Err("InvalidPageNumber.ValueNotSupported"),
                "{bad:?}"
            );
        }
        for bad in not_integers.iter().chain(&["101", "020", "1000"]) {
            assert_eq!(
                page_of(&[("PageSize", Some(bad))]),
                Err("InvalidPageSize.ValueNotSupported"),
                "{bad:?}"
            );
        }
        // Repeats, even of the same valid value.
        let base = valid(Action::UsageDetails);
        let twice = |name: &str| plus(with(base.clone(), &[(name, Some("5"))]), name, "5");
        assert_eq!(
            err(&twice("PageNumber")),
            "InvalidPageNumber.ValueNotSupported"
        );
        assert_eq!(err(&twice("PageSize")), "InvalidPageSize.ValueNotSupported");
        // The page number before the page size.
        assert_eq!(
            page_of(&[("PageNumber", Some("0")), ("PageSize", Some("0"))]),
            Err("InvalidPageNumber.ValueNotSupported")
        );
    }

    #[test]
    fn a_repeated_parameter_fails_its_own_rule() {
        let cases = [
            (Action::UsageData, "StartTime", "InvalidStartTime.Malformed"),
            (Action::UsageData, "EndTime", "InvalidEndTime.Malformed"),
            (Action::UsageData, "AppId", "InvalidAppIdParameter"),
            (
                Action::UsageDetails,
                "StartTime",
                "InvalidStartTime.Malformed",
            ),
            (Action::UsageDetails, "AppId", "InvalidAppIdParameter"),
            (Action::ExportDetails, "EndTime", "InvalidEndTime.Malformed"),
            (Action::ExportDetails, "AppId", "InvalidAppIdParameter"),
            (Action::Packages, "AppId", "InvalidAppIdParameter"),
            (Action::Statement, "AppId", "InvalidAppIdParameter"),
            (Action::Statements, "AppId", "InvalidAppIdParameter"),
            (Action::Alerts, "AppId", "InvalidAppIdParameter"),
        ];
        for (action, name, code) in cases {
            let value = valid(action)
                .into_iter()
                .find(|(n, _)| n == name)
                .unwrap()
                .1;
            assert_eq!(
                err(&plus(valid(action), name, &value)),
                code,
                "{action:?} {name}"
            );
        }
    }

    #[test]
    fn the_app_answer_does_not_depend_on_the_app_id() {
        for action in Action::ALL.into_iter().filter(|a| *a != Action::Apps) {
            let refusals: Vec<ApiError> = ["bad app", "x/y", "アプリ", &"a".repeat(65)]
                .into_iter()
                .map(|bad| run(&with(valid(action), &[("AppId", Some(bad))])).unwrap_err())
                .collect();
            for refusal in &refusals {
                assert_eq!(refusal, &ApiError::new(ErrorCode::InvalidAppIdParameter));
                assert_eq!(
                    refusal.recommend(),
                    ApiError::new(ErrorCode::InvalidAppIdParameter).recommend()
                );
            }
        }
    }

    #[test]
    fn unknown_and_case_variant_parameters_are_ignored() {
        let p = with(
            valid(Action::UsageDetails),
            &[
                ("serviceType", Some("Nope")),
                ("pageNumber", Some("0")),
                ("classid", Some("bad class")),
                ("Format", Some("JSON")),
            ],
        );
        assert!(run(&p).is_ok());
    }

    // ---- the record usage query's rules, one by one --------------------

    /// A valid `DescribeLiveRtcRecordUsageData` with `changes` made.
    fn record_with(changes: Changes) -> Pairs {
        with(valid(Action::RecordUsage), changes)
    }

    /// The query a valid `DescribeLiveRtcRecordUsageData` asks.
    fn record(pairs: &Pairs) -> ValidQuery {
        match ok(pairs) {
            ApiRequest::RecordUsage(q) => q,
            other => panic!("not the record usage query: {other:?}"),
        }
    }

    /// The action a request names, with the `x-acs-action` header values given.
    fn action_with_header(action: &[&str], header: &[&str]) -> Result<String, ErrorCode> {
        let params = QueryParams::from_pairs(action.iter().map(|v| ("Action", *v)))
            .with_action_header(header.iter().copied());
        action_name(&params).map(str::to_owned).map_err(|e| e.code)
    }

    #[test]
    fn the_action_header_names_the_action_only_where_action_is_absent() {
        let missing = Err(ErrorCode::MissingParameter);
        let two = Err(ErrorCode::InvalidActionNotFound);
        type Case<'a> = (&'a [&'a str], &'a [&'a str], Result<String, ErrorCode>);
        let cases: [Case; 12] = [
            (&[], &[], missing.clone()),
            (&[""], &[], missing.clone()),
            (&[], &[ACTION], Ok(ACTION.into())),
            (&[""], &[ACTION], Ok(ACTION.into())),
            (&[ACTION], &[], Ok(ACTION.into())),
            (&[ACTION], &[ACTION], Ok(ACTION.into())),
            (&[ACTION], &["DescribeApps"], two.clone()),
            (&["DescribeApps"], &[ACTION], two.clone()),
            (&[], &[ACTION, ACTION], two.clone()),
            (&[], &[ACTION, "DescribeApps"], two.clone()),
            (&[ACTION, ACTION], &[ACTION], two.clone()),
            (&["", ACTION], &[ACTION], two.clone()),
        ];
        for (action, header, expected) in cases {
            assert_eq!(
                action_with_header(action, header),
                expected,
                "Action {action:?}, x-acs-action {header:?}"
            );
        }
        // The header's value meets the action rules like the parameter's.
        assert_eq!(
            action_with_header(&[], &["describeliveRtcRecordUsageData"]).unwrap(),
            "describeliveRtcRecordUsageData"
        );
        assert_eq!(action_with_header(&[], &[""]), missing);
    }

    #[test]
    fn valid_request_passes_with_hourly_default() {
        let q = record(&record_with(&[]));
        assert_eq!(q.interval, Interval::Hour);
        assert_eq!(q.mode, RecordMode::SingleStream);
        assert_eq!(q.app.as_str(), "app-1");
    }

    #[test]
    fn the_action_first() {
        assert_eq!(err(&record_with(&[("Action", None)])), "MissingParameter");
        assert_eq!(
            err(&record_with(&[("Action", Some(""))])),
            "MissingParameter"
        );
        for bad in [
            "describeLiveRtcRecordUsageData",
            "DescribeLiveRtcRecordUsageData ",
            "X",
        ] {
            assert_eq!(
                err(&record_with(&[("Action", Some(bad))])),
                "InvalidAction.NotFound"
            );
        }
        let twice = plus(valid(Action::RecordUsage), "Action", ACTION);
        assert_eq!(err(&twice), "InvalidAction.NotFound");
    }

    #[test]
    fn missing_parameters_named_in_order() {
        let all_missing = record_with(&[
            ("StartTime", None),
            ("EndTime", None),
            ("AppId", None),
            ("RecordMode", None),
        ]);
        assert_eq!(missing(&all_missing), "StartTime");
        for (name, rest) in [
            (
                "EndTime",
                vec![("EndTime", None), ("AppId", None), ("RecordMode", None)],
            ),
            ("AppId", vec![("AppId", Some("")), ("RecordMode", None)]),
            ("RecordMode", vec![("RecordMode", Some(""))]),
        ] {
            assert_eq!(missing(&record_with(&rest)), name);
        }
        // The action is checked before the required parameters.
        assert_eq!(
            err(&record_with(&[
                ("Action", Some("Nope")),
                ("StartTime", None)
            ])),
            "InvalidAction.NotFound"
        );
    }

    #[test]
    fn start_and_end_time_exact_format() {
        for bad in [
            "2026-11-20T00:00:00",
            "2026-11-20T00:00:00+08:00",
            "2026-02-30T00:00:00Z",
            "2026-11-20T24:00:00Z",
            "2026-13-01T00:00:00Z",
            "2026-11-20T00:00:00.000Z",
            "yesterday",
        ] {
            assert_eq!(
                err(&record_with(&[("StartTime", Some(bad))])),
                "InvalidStartTime.Malformed",
                "{bad}"
            );
            assert_eq!(
                err(&record_with(&[("EndTime", Some(bad))])),
                "InvalidEndTime.Malformed",
                "{bad}"
            );
        }
        // StartTime is judged before EndTime.
        assert_eq!(
            err(&record_with(&[
                ("StartTime", Some("x")),
                ("EndTime", Some("y"))
            ])),
            "InvalidStartTime.Malformed"
        );
        // Every required parameter is checked for presence before any format.
        assert_eq!(
            err(&record_with(&[
                ("StartTime", Some("x")),
                ("RecordMode", None)
            ])),
            "MissingParameter"
        );
    }

    #[test]
    fn end_after_start() {
        assert_eq!(
            err(&record_with(&[("EndTime", Some("2026-11-20T00:00:00Z"))])),
            "InvalidEndTime.Mismatch"
        );
        assert_eq!(
            err(&record_with(&[("EndTime", Some("2026-11-19T23:59:59Z"))])),
            "InvalidEndTime.Mismatch"
        );
    }

    #[test]
    fn span_edges_exactly() {
        let span = |end: &'static str| record_with(&[("EndTime", Some(end))]);
        assert_eq!(err(&span("2026-11-20T00:04:59Z")), "InvalidTimeSpan");
        assert!(run(&span("2026-11-20T00:05:00Z")).is_ok());
        let start = [("StartTime", Some("2026-10-20T00:00:00Z"))];
        let mut edge = start.to_vec();
        edge.push(("EndTime", Some("2026-11-20T00:00:00Z"))); // exactly 31 days
        assert!(run(&record_with(&edge)).is_ok());
        edge[1] = ("EndTime", Some("2026-11-20T00:00:01Z"));
        assert_eq!(err(&record_with(&edge)), "InvalidTimeSpan");
        // An end not after the start is reported before the span.
        assert_eq!(
            err(&span("2026-11-19T23:59:00Z")),
            "InvalidEndTime.Mismatch"
        );
    }

    #[test]
    fn start_between_366_days_ago_and_now() {
        let at = |s: &'static str, e: &'static str| {
            record_with(&[("StartTime", Some(s)), ("EndTime", Some(e))])
        };
        assert!(run(&at(NOW, "2026-11-23T13:00:00Z")).is_ok());
        assert_eq!(
            err(&at("2026-11-23T12:00:01Z", "2026-11-23T13:00:00Z")),
            "InvalidStartTime.ValueNotSupported"
        );
        // now - 366 days = 2025-11-22T12:00:00Z (2026 is not a leap year).
        assert!(run(&at("2025-11-22T12:00:00Z", "2025-11-23T00:00:00Z")).is_ok());
        assert_eq!(
            err(&at("2025-11-22T11:59:59Z", "2025-11-23T00:00:00Z")),
            "InvalidStartTime.ValueNotSupported"
        );
        // The span is checked before how far back the window starts.
        assert_eq!(
            err(&at("2030-01-01T00:00:00Z", "2030-01-01T00:01:00Z")),
            "InvalidTimeSpan"
        );
    }

    #[test]
    fn record_mode() {
        for bad in ["2", "00", " 0", "single", "1.0"] {
            assert_eq!(
                err(&record_with(&[("RecordMode", Some(bad))])),
                "InvalidRecordModeParameter"
            );
        }
        assert_eq!(
            record(&record_with(&[("RecordMode", Some("1"))])).mode,
            RecordMode::Mixed
        );
        // How far back is checked before the record mode.
        assert_eq!(
            err(&record_with(&[
                ("RecordMode", Some("9")),
                ("StartTime", Some("2020-01-01T00:00:00Z")),
                ("EndTime", Some("2020-01-02T00:00:00Z"))
            ])),
            "InvalidStartTime.ValueNotSupported"
        );
    }

    #[test]
    fn interval_of_the_record_usage_query() {
        assert_eq!(
            record(&record_with(&[("Interval", Some("86400"))])).interval,
            Interval::Day
        );
        assert_eq!(
            record(&record_with(&[("Interval", Some("3600"))])).interval,
            Interval::Hour
        );
        for bad in ["", "60", "300", "03600", "3600.0", "86400 ", "day"] {
            assert_eq!(
                err(&record_with(&[("Interval", Some(bad))])),
                "InvalidInterval.ValueNotSupported",
                "{bad:?}"
            );
        }
        // The record mode is checked before the interval.
        assert_eq!(
            err(&record_with(&[
                ("Interval", Some("1")),
                ("RecordMode", Some("x"))
            ])),
            "InvalidRecordModeParameter"
        );
    }

    #[test]
    fn app_id_syntax_last() {
        let too_long = "a".repeat(65);
        for bad in ["app 1", "app/1", too_long.as_str(), "アプリ"] {
            assert_eq!(
                err(&record_with(&[("AppId", Some(bad))])),
                "InvalidAppIdParameter",
                "{bad:?}"
            );
        }
        let second = plus(valid(Action::RecordUsage), "AppId", "app-2");
        assert_eq!(err(&second), "InvalidAppIdParameter");
        // The interval is checked before the app.
        assert_eq!(
            err(&record_with(&[
                ("Interval", Some("1")),
                ("AppId", Some("bad app"))
            ])),
            "InvalidInterval.ValueNotSupported"
        );
    }

    #[test]
    fn unknown_and_case_variant_parameters_are_ignored_by_the_record_usage_query() {
        let mut p = valid(Action::RecordUsage);
        for (name, value) in [("appid", "other"), ("Format", "JSON"), ("Signature", "x")] {
            p = plus(p, name, value);
        }
        assert_eq!(record(&p).app.as_str(), "app-1");
    }
}
