//! The answers of `DescribeUsageData`: one trend per `ServiceType`, every
//! bucket of the window with its usage and the window's summaries.

use super::serialize::{display, interval_seconds};
use super::{ServiceType, UsageDataQuery};
use crate::domain::commit::AvMillis;
use crate::domain::ids::AppId;
use crate::domain::query::{self, UsagePoint};
use crate::domain::time::{Interval, UtcMillis};
use crate::domain::usage::{Seconds, TierMillis};
use crate::domain::zone::BillingZone;
use serde::Serialize;

/// `DescribeUsageData`: one trend shape per `ServiceType`.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum UsageDataAnswer {
    AudioVideo(AudioVideoTrend),
    Recording(RecordingTrend),
    Storage(StorageTrend),
}

#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct AudioVideoTrend {
    pub request_id: String,
    #[serde(serialize_with = "display")]
    pub app_id: AppId,
    #[serde(serialize_with = "display")]
    pub time_zone: BillingZone,
    pub service_type: ServiceType,
    #[serde(serialize_with = "interval_seconds")]
    pub interval: Interval,
    pub interactive_summary_duration: Seconds,
    pub playback_summary_duration: Seconds,
    pub total_summary_duration: Seconds,
    pub data: Vec<AudioVideoPoint>,
}

#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct AudioVideoPoint {
    /// The bucket's start, with the app's offset.
    pub timestamp: String,
    pub interactive_duration: Seconds,
    pub playback_duration: Seconds,
    pub total_duration: Seconds,
}

/// Points and summaries named as `DescribeLiveRtcRecordUsageData`'s.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct RecordingTrend {
    pub request_id: String,
    #[serde(serialize_with = "display")]
    pub app_id: AppId,
    #[serde(serialize_with = "display")]
    pub time_zone: BillingZone,
    pub service_type: ServiceType,
    #[serde(serialize_with = "interval_seconds")]
    pub interval: Interval,
    pub total_summary_duration: Seconds,
    pub audio_summary_duration: Seconds,
    pub v480_summary_duration: Seconds,
    pub v720_summary_duration: Seconds,
    pub v1080_summary_duration: Seconds,
    pub data: Vec<UsagePoint>,
}

#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct StorageTrend {
    pub request_id: String,
    #[serde(serialize_with = "display")]
    pub app_id: AppId,
    #[serde(serialize_with = "display")]
    pub time_zone: BillingZone,
    pub service_type: ServiceType,
    #[serde(serialize_with = "interval_seconds")]
    pub interval: Interval,
    /// The largest point.
    pub peak_summary_bytes: u64,
    pub data: Vec<StoragePoint>,
}

#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct StoragePoint {
    /// The bucket's start, with the app's offset.
    pub timestamp: String,
    /// The most bytes stored at any instant of the bucket.
    pub peak_bytes: u64,
}

impl UsageDataAnswer {
    /// The sessions' trend: every bucket overlapping the window, ascending,
    /// zeros included, each with its whole usage from `usage_of(bucket
    /// start)`; each summary is its column's sum, every total the sum of the
    /// two usage types.
    pub fn audio_video(
        request_id: &str,
        query: &UsageDataQuery,
        usage_of: impl Fn(UtcMillis) -> AvMillis,
    ) -> Self {
        let mut sums = AvMillis::default();
        let data = query
            .bucket_starts()
            .into_iter()
            .map(|bucket| {
                let usage = usage_of(bucket);
                sums += usage;
                AudioVideoPoint {
                    timestamp: query.zone.format(bucket),
                    interactive_duration: Seconds(usage.interactive),
                    playback_duration: Seconds(usage.playback),
                    total_duration: Seconds(usage.total()),
                }
            })
            .collect();
        UsageDataAnswer::AudioVideo(AudioVideoTrend {
            request_id: request_id.to_owned(),
            app_id: query.app.clone(),
            time_zone: query.zone.clone(),
            service_type: ServiceType::AudioVideo,
            interval: query.interval,
            interactive_summary_duration: Seconds(sums.interactive),
            playback_summary_duration: Seconds(sums.playback),
            total_summary_duration: Seconds(sums.total()),
            data,
        })
    }

    /// The recording trend, buckets as for `audio_video`; `usage_of` gives a
    /// bucket's usage with both record modes added together.
    pub fn recording(
        request_id: &str,
        query: &UsageDataQuery,
        usage_of: impl Fn(UtcMillis) -> TierMillis,
    ) -> Self {
        let (data, summary) =
            query::tier_series(query.bucket_starts(), |b| query.zone.format(b), usage_of);
        UsageDataAnswer::Recording(RecordingTrend {
            request_id: request_id.to_owned(),
            app_id: query.app.clone(),
            time_zone: query.zone.clone(),
            service_type: ServiceType::Recording,
            interval: query.interval,
            total_summary_duration: summary.total_duration,
            audio_summary_duration: summary.audio_duration,
            v480_summary_duration: summary.v480_duration,
            v720_summary_duration: summary.v720_duration,
            v1080_summary_duration: summary.v1080_duration,
            data,
        })
    }

    /// The storage trend, buckets as for `audio_video`; `peak_of` gives the
    /// most bytes stored at any instant of the bucket starting there.
    pub fn storage(
        request_id: &str,
        query: &UsageDataQuery,
        peak_of: impl Fn(UtcMillis) -> u64,
    ) -> Self {
        let data: Vec<StoragePoint> = query
            .bucket_starts()
            .into_iter()
            .map(|bucket| StoragePoint {
                timestamp: query.zone.format(bucket),
                peak_bytes: peak_of(bucket),
            })
            .collect();
        UsageDataAnswer::Storage(StorageTrend {
            request_id: request_id.to_owned(),
            app_id: query.app.clone(),
            time_zone: query.zone.clone(),
            service_type: ServiceType::Storage,
            interval: query.interval,
            peak_summary_bytes: data.iter().map(|p| p.peak_bytes).max().unwrap_or(0),
            data,
        })
    }

    /// How many points `Data` holds.
    pub fn points(&self) -> usize {
        match self {
            UsageDataAnswer::AudioVideo(trend) => trend.data.len(),
            UsageDataAnswer::Recording(trend) => trend.data.len(),
            UsageDataAnswer::Storage(trend) => trend.data.len(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::*;
    use crate::domain::class::UsageType;
    use crate::domain::usage::Tier;

    fn trend_query(service: ServiceType, interval: Interval) -> UsageDataQuery {
        UsageDataQuery {
            app: app("app-1"),
            start: t("2026-11-20T22:30:00Z"),
            end: t("2026-11-21T00:00:00Z"),
            service,
            interval,
            zone: BillingZone::utc(),
        }
    }

    #[test]
    fn audio_video_trend_answer() {
        let answer = UsageDataAnswer::audio_video(
            "req-1",
            &trend_query(ServiceType::AudioVideo, Interval::Hour),
            |bucket| {
                let mut usage = AvMillis::default();
                if bucket == t("2026-11-20T22:00:00Z") {
                    usage.add(UsageType::Interactive, 1_500);
                } else {
                    usage.add(UsageType::Interactive, 60_000);
                    usage.add(UsageType::Playback, 30_001);
                }
                usage
            },
        );
        assert_eq!(answer.points(), 2);
        assert_eq!(
            json(&answer),
            concat!(
                r#"{"RequestId":"req-1","AppId":"app-1","TimeZone":"UTC","ServiceType":"AudioVideo","Interval":3600,"#,
                r#""InteractiveSummaryDuration":61.5,"PlaybackSummaryDuration":30.001,"TotalSummaryDuration":91.501,"#,
                r#""Data":[{"Timestamp":"2026-11-20T22:00:00+00:00","InteractiveDuration":1.5,"PlaybackDuration":0,"TotalDuration":1.5},"#,
                r#"{"Timestamp":"2026-11-20T23:00:00+00:00","InteractiveDuration":60,"PlaybackDuration":30.001,"TotalDuration":90.001}]}"#
            )
        );
        // Daily buckets: the one day the window overlaps, whole, zeros included.
        let daily = UsageDataAnswer::audio_video(
            "req-2",
            &trend_query(ServiceType::AudioVideo, Interval::Day),
            |_| AvMillis::default(),
        );
        assert_eq!(
            json(&daily),
            concat!(
                r#"{"RequestId":"req-2","AppId":"app-1","TimeZone":"UTC","ServiceType":"AudioVideo","Interval":86400,"#,
                r#""InteractiveSummaryDuration":0,"PlaybackSummaryDuration":0,"TotalSummaryDuration":0,"#,
                r#""Data":[{"Timestamp":"2026-11-20T00:00:00+00:00","InteractiveDuration":0,"PlaybackDuration":0,"TotalDuration":0}]}"#
            )
        );
    }

    #[test]
    fn recording_trend_answer() {
        let answer = UsageDataAnswer::recording(
            "req-1",
            &trend_query(ServiceType::Recording, Interval::Hour),
            |bucket| {
                let mut usage = TierMillis::default();
                if bucket == t("2026-11-20T23:00:00Z") {
                    usage.add(Tier::Audio, 20_000);
                    usage.add(Tier::V480, 30_000);
                    usage.add(Tier::V720, 40_000);
                    usage.add(Tier::V1080, 60_001);
                }
                usage
            },
        );
        assert_eq!(
            json(&answer),
            concat!(
                r#"{"RequestId":"req-1","AppId":"app-1","TimeZone":"UTC","ServiceType":"Recording","Interval":3600,"#,
                r#""TotalSummaryDuration":150.001,"AudioSummaryDuration":20,"V480SummaryDuration":30,"#,
                r#""V720SummaryDuration":40,"V1080SummaryDuration":60.001,"Data":["#,
                r#"{"Timestamp":"2026-11-20T22:00:00+00:00","TotalDuration":0,"AudioDuration":0,"V480Duration":0,"V720Duration":0,"V1080Duration":0},"#,
                r#"{"Timestamp":"2026-11-20T23:00:00+00:00","TotalDuration":150.001,"AudioDuration":20,"V480Duration":30,"V720Duration":40,"V1080Duration":60.001}]}"#
            )
        );
    }

    #[test]
    fn storage_trend_answer() {
        let answer = UsageDataAnswer::storage(
            "req-1",
            &trend_query(ServiceType::Storage, Interval::Hour),
            |bucket| {
                if bucket == t("2026-11-20T22:00:00Z") {
                    9_007_199_254_740_991
                } else {
                    5
                }
            },
        );
        assert_eq!(
            json(&answer),
            concat!(
                r#"{"RequestId":"req-1","AppId":"app-1","TimeZone":"UTC","ServiceType":"Storage","Interval":3600,"#,
                r#""PeakSummaryBytes":9007199254740991,"Data":["#,
                r#"{"Timestamp":"2026-11-20T22:00:00+00:00","PeakBytes":9007199254740991},"#,
                r#"{"Timestamp":"2026-11-20T23:00:00+00:00","PeakBytes":5}]}"#
            )
        );
    }
}
