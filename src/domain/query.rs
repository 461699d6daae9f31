//! `DescribeLiveRtcRecordUsageData`, the query Alibaba's API defines: its
//! action name, the request its rules let through, and its answer's shape,
//! every bucket of the window per tier. Its rules, with those of the other
//! actions, are in `usage_api`; the reads happen in the service.

pub use super::params::QueryParams;
// The window's bounds, shared by every action over a window, where they
// were first defined.
pub use super::usage_api::{MAX_LOOKBACK_MS, MAX_SPAN_MS, MIN_SPAN_MS};

use super::ids::AppId;
use super::time::{Interval, UtcMillis};
use super::usage::{RecordMode, Seconds, TierMillis};
use serde::Serialize;

pub const ACTION: &str = "DescribeLiveRtcRecordUsageData";

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
        let (data, summary) = tier_series(
            query.interval.bucket_starts(query.start, query.end),
            UtcMillis::format_query_time,
            usage_of,
        );
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

/// One point per bucket (given by their starts, ascending, zeros included),
/// each stamped by `label`, and the column sums as one more point (its
/// timestamp unused).
pub(super) fn tier_series(
    buckets: Vec<UtcMillis>,
    label: impl Fn(UtcMillis) -> String,
    usage_of: impl Fn(UtcMillis) -> TierMillis,
) -> (Vec<UsagePoint>, UsagePoint) {
    let mut sums = TierMillis::default();
    let data = buckets
        .into_iter()
        .map(|bucket| {
            let usage = usage_of(bucket);
            sums += usage;
            point(label(bucket), &usage)
        })
        .collect();
    (data, point(String::new(), &sums))
}

fn point(timestamp: String, usage: &TierMillis) -> UsagePoint {
    use super::usage::Tier;
    UsagePoint {
        timestamp,
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

    #[test]
    fn report_has_every_bucket_and_consistent_sums() {
        use super::super::usage::Tier;
        let at = |text| UtcMillis::parse_query_time(text).unwrap();
        let q = ValidQuery {
            app: AppId::parse("app-1").unwrap(),
            start: at("2026-11-20T22:30:00Z"),
            end: at("2026-11-21T01:00:00Z"),
            mode: RecordMode::SingleStream,
            interval: Interval::Hour,
        };
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
