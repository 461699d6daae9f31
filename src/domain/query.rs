//! The query parameters, the validation rules every action shares (the
//! action, required parameters, the window, `Interval`, `AppId`), and
//! `DescribeLiveRtcRecordUsageData`: its rules in the contract's order and its
//! answer's shape. The other actions are in `usage_api`. No I/O here: whether
//! the app is registered to the caller (the last check, answered like a
//! malformed `AppId`) and the reads happen in the service.

use super::error::{ApiError, ErrorCode};
use super::ids::AppId;
use super::time::{DAY_MS, Interval, MINUTE_MS, SECOND_MS, UtcMillis};
use super::usage::{RecordMode, Seconds, TierMillis};
use serde::Serialize;
use std::collections::BTreeMap;

pub const ACTION: &str = "DescribeLiveRtcRecordUsageData";
pub const MIN_SPAN_MS: i64 = 5 * MINUTE_MS;
pub const MAX_SPAN_MS: i64 = 2_678_400 * SECOND_MS;
pub const MAX_LOOKBACK_MS: i64 = super::time::REACH_DAYS * DAY_MS;

/// The parameter that names the action.
const ACTION_PARAM: &str = "Action";

/// The query string as received: every value of every parameter name
/// (names are case-sensitive, as in the seed).
#[derive(Clone, Debug, Default)]
pub struct QueryParams(BTreeMap<String, Vec<String>>);

/// One parameter as the validation rules see it. A parameter given more than
/// once is ambiguous; it counts as present but fails its own format rule, so a
/// second `AppId` can never select another app.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Param<'a> {
    Absent,
    One(&'a str),
    Repeated,
}

impl<'a> Param<'a> {
    pub(super) fn present_non_empty(self) -> bool {
        !matches!(self, Param::Absent | Param::One(""))
    }

    pub(super) fn one(self) -> Option<&'a str> {
        match self {
            Param::One(value) => Some(value),
            _ => None,
        }
    }
}

impl QueryParams {
    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (name, value) in pairs {
            map.entry(name.into()).or_default().push(value.into());
        }
        QueryParams(map)
    }

    /// Alibaba's V3 signature carries the action in the `x-acs-action`
    /// header rather than an `Action` parameter. The header names the action
    /// when `Action` is absent (or empty); when both name one and they
    /// differ, or the header is repeated, the request names two actions, which
    /// fails like a repeated `Action` (`InvalidAction.NotFound`).
    pub fn with_action_header<'a>(mut self, header: impl IntoIterator<Item = &'a str>) -> Self {
        let header: Vec<&str> = header.into_iter().collect();
        if header.is_empty() {
            return self;
        }
        let values = self.0.entry(ACTION_PARAM.to_owned()).or_default();
        if values.is_empty() || values == &[""] {
            values.clear();
            values.extend(header.iter().map(|v| (*v).to_owned()));
        } else if header.iter().any(|v| values != &[*v]) {
            values.extend(header.iter().map(|v| (*v).to_owned()));
        }
        self
    }

    pub(super) fn get(&self, name: &str) -> Param<'_> {
        match self.0.get(name).map(Vec::as_slice) {
            None | Some([]) => Param::Absent,
            Some([one]) => Param::One(one),
            Some(_) => Param::Repeated,
        }
    }
}

/// A request whose parameters all passed, `AppId` well-formed; whether the
/// caller owns the app is checked against the registry afterwards.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidQuery {
    pub app: AppId,
    pub start: UtcMillis,
    pub end: UtcMillis,
    pub mode: RecordMode,
    pub interval: Interval,
}

/// Applies the query's rules in the contract's order; the first that fails
/// answers. Only `DescribeLiveRtcRecordUsageData` passes here: every other
/// action, even a valid one, is `InvalidAction.NotFound`. The entry point for
/// every action is `usage_api::validate_request`.
pub fn validate(params: &QueryParams, now: UtcMillis) -> Result<ValidQuery, ApiError> {
    if action_name(params)? != ACTION {
        return Err(ApiError::new(ErrorCode::InvalidActionNotFound));
    }
    record_usage(params, now)
}

/// The rules of `DescribeLiveRtcRecordUsageData` after the action, in order.
pub(super) fn record_usage(params: &QueryParams, now: UtcMillis) -> Result<ValidQuery, ApiError> {
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

/// The name `Action` gives. Missing or empty, the request names no action; a
/// repeated `Action` names none of the valid ones.
pub(super) fn action_name(params: &QueryParams) -> Result<&str, ApiError> {
    match params.get(ACTION_PARAM) {
        Param::Absent | Param::One("") => Err(ApiError::missing(ACTION_PARAM)),
        Param::One(name) => Ok(name),
        Param::Repeated => Err(ApiError::new(ErrorCode::InvalidActionNotFound)),
    }
}

/// Every required parameter present and non-empty, checked in the order
/// given; the message names the first that is not. A repeated parameter is
/// present: its own rule refuses it later.
pub(super) fn require(params: &QueryParams, names: &[&str]) -> Result<(), ApiError> {
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
pub(super) fn window(
    params: &QueryParams,
    now: UtcMillis,
) -> Result<(UtcMillis, UtcMillis), ApiError> {
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

/// An optional parameter: `default` when absent; otherwise its one value must
/// parse, or `code` answers. Given empty or more than once, it is present and
/// invalid: an empty value never means "use the default".
pub(super) fn optional<T>(
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
pub(super) fn interval(params: &QueryParams) -> Result<Interval, ApiError> {
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
pub(super) fn app_id(params: &QueryParams) -> Result<AppId, ApiError> {
    params
        .get("AppId")
        .one()
        .and_then(AppId::parse)
        .ok_or_else(|| ApiError::new(ErrorCode::InvalidAppIdParameter))
}

/// One point of `Data`.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct UsagePoint {
    pub timestamp: String,
    pub total_duration: Seconds,
    pub audio_duration: Seconds,
    pub v480_duration: Seconds,
    pub v720_duration: Seconds,
    pub v1080_duration: Seconds,
}

/// The success body, field names, order and types as in the seed.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct UsageReport {
    pub request_id: String,
    pub record_mode: String,
    pub app_id: String,
    pub total_summary_duration: Seconds,
    pub audio_summary_duration: Seconds,
    pub v480_summary_duration: Seconds,
    pub v720_summary_duration: Seconds,
    pub v1080_summary_duration: Seconds,
    pub data: Vec<UsagePoint>,
}

impl UsageReport {
    /// Every bucket of the query, zeros included, from `usage_of(bucket start)`;
    /// the summaries are the column sums and every total the sum of its tiers.
    pub fn build(
        request_id: &str,
        query: &ValidQuery,
        usage_of: impl Fn(UtcMillis) -> TierMillis,
    ) -> Self {
        let (data, summary) = tier_series(query.interval, query.start, query.end, usage_of);
        UsageReport {
            request_id: request_id.to_owned(),
            record_mode: query.mode.as_str().to_owned(),
            app_id: query.app.as_str().to_owned(),
            total_summary_duration: summary.total_duration,
            audio_summary_duration: summary.audio_duration,
            v480_summary_duration: summary.v480_duration,
            v720_summary_duration: summary.v720_duration,
            v1080_summary_duration: summary.v1080_duration,
            data,
        }
    }
}

/// One point per bucket overlapping `[start, end)`, ascending, zeros
/// included, and the column sums as one more point (its timestamp unused).
pub(super) fn tier_series(
    interval: Interval,
    start: UtcMillis,
    end: UtcMillis,
    usage_of: impl Fn(UtcMillis) -> TierMillis,
) -> (Vec<UsagePoint>, UsagePoint) {
    let mut sums = TierMillis::default();
    let data = interval
        .bucket_starts(start, end)
        .into_iter()
        .map(|bucket| {
            let usage = usage_of(bucket);
            sums += usage;
            point(bucket, &usage)
        })
        .collect();
    (data, point(UtcMillis(0), &sums))
}

fn point(bucket: UtcMillis, usage: &TierMillis) -> UsagePoint {
    use super::usage::Tier;
    UsagePoint {
        timestamp: bucket.format_query_time(),
        total_duration: Seconds(usage.total()),
        audio_duration: Seconds(usage.get(Tier::Audio)),
        v480_duration: Seconds(usage.get(Tier::V480)),
        v720_duration: Seconds(usage.get(Tier::V720)),
        v1080_duration: Seconds(usage.get(Tier::V1080)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: &str = "2026-11-23T12:00:00Z";

    fn now() -> UtcMillis {
        UtcMillis::parse_query_time(NOW).unwrap()
    }

    fn valid_pairs() -> Vec<(&'static str, &'static str)> {
        vec![
            ("Action", ACTION),
            ("StartTime", "2026-11-20T00:00:00Z"),
            ("EndTime", "2026-11-21T00:00:00Z"),
            ("AppId", "app-1"),
            ("RecordMode", "0"),
        ]
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

    fn with(changes: &[(&'static str, Option<&'static str>)]) -> QueryParams {
        let mut pairs = valid_pairs();
        for (name, value) in changes {
            pairs.retain(|(n, _)| n != name);
            if let Some(v) = value {
                pairs.push((name, v));
            }
        }
        QueryParams::from_pairs(pairs)
    }

    fn code(params: &QueryParams) -> Result<ValidQuery, (&'static str, String)> {
        validate(params, now()).map_err(|e| (e.code.code(), e.message))
    }

    fn err(params: &QueryParams) -> &'static str {
        code(params).expect_err("must be refused").0
    }

    #[test]
    fn valid_request_passes_with_hourly_default() {
        let q = validate(&with(&[]), now()).unwrap();
        assert_eq!(q.interval, Interval::Hour);
        assert_eq!(q.mode, RecordMode::SingleStream);
        assert_eq!(q.app.as_str(), "app-1");
    }

    #[test]
    fn the_action_first() {
        assert_eq!(err(&with(&[("Action", None)])), "MissingParameter");
        assert_eq!(err(&with(&[("Action", Some(""))])), "MissingParameter");
        for bad in [
            "describeLiveRtcRecordUsageData",
            "DescribeLiveRtcRecordUsageData ",
            "X",
        ] {
            assert_eq!(
                err(&with(&[("Action", Some(bad))])),
                "InvalidAction.NotFound"
            );
        }
        let twice = QueryParams::from_pairs(valid_pairs().into_iter().chain([("Action", ACTION)]));
        assert_eq!(err(&twice), "InvalidAction.NotFound");
    }

    #[test]
    fn missing_parameters_named_in_order() {
        let all_missing = with(&[
            ("StartTime", None),
            ("EndTime", None),
            ("AppId", None),
            ("RecordMode", None),
        ]);
        let (c, msg) = code(&all_missing).unwrap_err();
        assert_eq!(c, "MissingParameter");
        assert!(msg.contains("\"StartTime\""), "{msg}");
        for (name, rest) in [
            (
                "EndTime",
                vec![("EndTime", None), ("AppId", None), ("RecordMode", None)],
            ),
            ("AppId", vec![("AppId", Some("")), ("RecordMode", None)]),
            ("RecordMode", vec![("RecordMode", Some(""))]),
        ] {
            let (c, msg) = code(&with(&rest)).unwrap_err();
            assert_eq!(c, "MissingParameter");
            assert!(msg.contains(&format!("\"{name}\"")), "{msg}");
        }
        // The action is checked before the required parameters.
        assert_eq!(
            err(&with(&[("Action", Some("Nope")), ("StartTime", None)])),
            "InvalidAction.NotFound"
        );
    }

    #[test]
    fn rules_3_and_4_exact_time_format() {
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
                err(&with(&[("StartTime", Some(bad))])),
                "InvalidStartTime.Malformed",
                "{bad}"
            );
            assert_eq!(
                err(&with(&[("EndTime", Some(bad))])),
                "InvalidEndTime.Malformed",
                "{bad}"
            );
        }
        // StartTime is judged before EndTime.
        assert_eq!(
            err(&with(&[("StartTime", Some("x")), ("EndTime", Some("y"))])),
            "InvalidStartTime.Malformed"
        );
        // Every required parameter is checked for presence before any format.
        assert_eq!(
            err(&with(&[("StartTime", Some("x")), ("RecordMode", None)])),
            "MissingParameter"
        );
    }

    #[test]
    fn end_after_start() {
        assert_eq!(
            err(&with(&[("EndTime", Some("2026-11-20T00:00:00Z"))])),
            "InvalidEndTime.Mismatch"
        );
        assert_eq!(
            err(&with(&[("EndTime", Some("2026-11-19T23:59:59Z"))])),
            "InvalidEndTime.Mismatch"
        );
    }

    #[test]
    fn span_edges_exactly() {
        let span = |end: &'static str| with(&[("EndTime", Some(end))]);
        assert_eq!(err(&span("2026-11-20T00:04:59Z")), "InvalidTimeSpan");
        assert!(code(&span("2026-11-20T00:05:00Z")).is_ok());
        let start = [("StartTime", Some("2026-10-20T00:00:00Z"))];
        let mut edge = start.to_vec();
        edge.push(("EndTime", Some("2026-11-20T00:00:00Z"))); // exactly 31 days
        assert!(code(&with(&edge)).is_ok());
        edge[1] = ("EndTime", Some("2026-11-20T00:00:01Z"));
        assert_eq!(err(&with(&edge)), "InvalidTimeSpan");
        // An end not after the start is reported before the span.
        assert_eq!(
            err(&span("2026-11-19T23:59:00Z")),
            "InvalidEndTime.Mismatch"
        );
    }

    #[test]
    fn start_between_366_days_ago_and_now() {
        let at = |s: &'static str, e: &'static str| {
            with(&[("StartTime", Some(s)), ("EndTime", Some(e))])
        };
        assert!(code(&at(NOW, "2026-11-23T13:00:00Z")).is_ok());
        assert_eq!(
            err(&at("2026-11-23T12:00:01Z", "2026-11-23T13:00:00Z")),
            "InvalidStartTime.ValueNotSupported"
        );
        // now - 366 days = 2025-11-22T12:00:00Z (2026 is not a leap year).
        assert!(code(&at("2025-11-22T12:00:00Z", "2025-11-23T00:00:00Z")).is_ok());
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
                err(&with(&[("RecordMode", Some(bad))])),
                "InvalidRecordModeParameter"
            );
        }
        assert_eq!(
            validate(&with(&[("RecordMode", Some("1"))]), now())
                .unwrap()
                .mode,
            RecordMode::Mixed
        );
        // How far back is checked before the record mode.
        assert_eq!(
            err(&with(&[
                ("RecordMode", Some("9")),
                ("StartTime", Some("2020-01-01T00:00:00Z")),
                ("EndTime", Some("2020-01-02T00:00:00Z"))
            ])),
            "InvalidStartTime.ValueNotSupported"
        );
    }

    #[test]
    fn interval() {
        assert_eq!(
            validate(&with(&[("Interval", Some("86400"))]), now())
                .unwrap()
                .interval,
            Interval::Day
        );
        assert_eq!(
            validate(&with(&[("Interval", Some("3600"))]), now())
                .unwrap()
                .interval,
            Interval::Hour
        );
        for bad in ["", "60", "300", "03600", "3600.0", "86400 ", "day"] {
            assert_eq!(
                err(&with(&[("Interval", Some(bad))])),
                "InvalidInterval.ValueNotSupported",
                "{bad:?}"
            );
        }
        // The record mode is checked before the interval.
        assert_eq!(
            err(&with(&[("Interval", Some("1")), ("RecordMode", Some("x"))])),
            "InvalidRecordModeParameter"
        );
    }

    #[test]
    fn app_id_syntax_last() {
        for bad in ["app 1", "app/1", &"a".repeat(65), "アプリ"] {
            let p = QueryParams::from_pairs(
                valid_pairs()
                    .into_iter()
                    .filter(|(n, _)| *n != "AppId")
                    .map(|(n, v)| (n.to_owned(), v.to_owned()))
                    .chain([("AppId".to_owned(), bad.to_owned())]),
            );
            assert_eq!(err(&p), "InvalidAppIdParameter", "{bad:?}");
        }
        let second = QueryParams::from_pairs(valid_pairs().into_iter().chain([("AppId", "app-2")]));
        assert_eq!(err(&second), "InvalidAppIdParameter");
        // The interval is checked before the app.
        assert_eq!(
            err(&with(&[
                ("Interval", Some("1")),
                ("AppId", Some("bad app"))
            ])),
            "InvalidInterval.ValueNotSupported"
        );
    }

    #[test]
    fn unknown_and_case_variant_parameters_are_ignored() {
        let p = QueryParams::from_pairs(valid_pairs().into_iter().chain([
            ("appid", "other"),
            ("Format", "JSON"),
            ("Signature", "x"),
        ]));
        assert_eq!(validate(&p, now()).unwrap().app.as_str(), "app-1");
    }

    #[test]
    fn report_has_every_bucket_and_consistent_sums() {
        use super::super::usage::Tier;
        let q = validate(
            &with(&[
                ("StartTime", Some("2026-11-20T22:30:00Z")),
                ("EndTime", Some("2026-11-21T01:00:00Z")),
            ]),
            now(),
        )
        .unwrap();
        let report = UsageReport::build("req", &q, |bucket| {
            let mut t = TierMillis::default();
            if bucket.format_query_time() == "2026-11-20T23:00:00Z" {
                t.add(Tier::Audio, 20_000);
                t.add(Tier::V480, 30_500);
                t.add(Tier::V720, 40_000);
                t.add(Tier::V1080, 1);
            }
            t
        });
        let stamps: Vec<&str> = report.data.iter().map(|p| p.timestamp.as_str()).collect();
        assert_eq!(
            stamps,
            [
                "2026-11-20T22:00:00Z",
                "2026-11-20T23:00:00Z",
                "2026-11-21T00:00:00Z"
            ]
        );
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["TotalSummaryDuration"], serde_json::json!(90.501));
        assert_eq!(json["V480SummaryDuration"], serde_json::json!(30.5));
        assert_eq!(json["Data"][0]["TotalDuration"], serde_json::json!(0));
        assert_eq!(json["Data"][1]["TotalDuration"], serde_json::json!(90.501));
        assert_eq!(json["RecordMode"], "0");
    }
}
