//! The answers of `DescribeStatement` and `DescribeStatements` (CONTRACT
//! §11): a statement's figures as the contract writes them, from the
//! [`StatementBody`] the service computed or read back.

use super::serialize::display;
use crate::domain::ids::AppId;
use crate::domain::statement::{Calendar, Figures, Month, StatementBody};
use crate::domain::time::UtcMillis;
use crate::domain::usage::SignedSeconds;
use crate::domain::zone::BillingZone;
use serde::Serialize;

/// Open until its close, then frozen.
#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq)]
pub enum StatementStatus {
    Open,
    Closed,
}

impl StatementStatus {
    pub fn of(calendar: &Calendar, month: Month, now: UtcMillis) -> Self {
        if calendar.is_closed(month, now) {
            StatementStatus::Closed
        } else {
            StatementStatus::Open
        }
    }
}

#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct AudioVideoFigures {
    pub duration_seconds: SignedSeconds,
    pub billable_minutes: i64,
    pub package_minutes: i64,
    pub pay_as_you_go_minutes: i64,
}

#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct RecordingFiguresAnswer {
    pub duration_seconds: SignedSeconds,
    pub billable_minutes: i64,
    pub audio_seconds: SignedSeconds,
    #[serde(rename = "V480Seconds")]
    pub v480_seconds: SignedSeconds,
    #[serde(rename = "V720Seconds")]
    pub v720_seconds: SignedSeconds,
    #[serde(rename = "V1080Seconds")]
    pub v1080_seconds: SignedSeconds,
}

fn audio_video(figures: &Figures) -> AudioVideoFigures {
    let av = &figures.av;
    AudioVideoFigures {
        duration_seconds: SignedSeconds(av.duration_ms),
        billable_minutes: av.billable_minutes,
        package_minutes: av.package_minutes,
        pay_as_you_go_minutes: av.pay_as_you_go_minutes,
    }
}

fn recording(figures: &Figures) -> RecordingFiguresAnswer {
    let rec = &figures.recording;
    RecordingFiguresAnswer {
        duration_seconds: SignedSeconds(rec.duration_ms),
        billable_minutes: rec.billable_minutes,
        audio_seconds: SignedSeconds(rec.tier_ms[0]),
        v480_seconds: SignedSeconds(rec.tier_ms[1]),
        v720_seconds: SignedSeconds(rec.tier_ms[2]),
        v1080_seconds: SignedSeconds(rec.tier_ms[3]),
    }
}

#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct StorageFigures {
    pub peak_bytes: u64,
}

#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct Adjustment {
    #[serde(serialize_with = "display")]
    pub month: Month,
    pub audio_video: AudioVideoFigures,
    pub recording: RecordingFiguresAnswer,
}

/// `DescribeStatement`.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct StatementAnswer {
    pub request_id: String,
    #[serde(serialize_with = "display")]
    pub app_id: AppId,
    #[serde(serialize_with = "display")]
    pub time_zone: BillingZone,
    #[serde(serialize_with = "display")]
    pub month: Month,
    pub status: StatementStatus,
    pub closes_at: String,
    pub audio_video: AudioVideoFigures,
    pub recording: RecordingFiguresAnswer,
    pub storage: StorageFigures,
    pub adjustments: Vec<Adjustment>,
}

impl StatementAnswer {
    pub fn new(
        request_id: &str,
        app: &AppId,
        calendar: &Calendar,
        body: &StatementBody,
        now: UtcMillis,
    ) -> Self {
        StatementAnswer {
            request_id: request_id.to_owned(),
            app_id: app.clone(),
            time_zone: calendar.zone.clone(),
            month: body.month,
            status: StatementStatus::of(calendar, body.month, now),
            closes_at: calendar.zone.format(calendar.closes_at(body.month)),
            audio_video: audio_video(&body.own),
            recording: recording(&body.own),
            storage: StorageFigures {
                peak_bytes: body.peak_bytes,
            },
            adjustments: body
                .adjustments
                .iter()
                .map(|(month, figures)| Adjustment {
                    month: *month,
                    audio_video: audio_video(figures),
                    recording: recording(figures),
                })
                .collect(),
        }
    }
}

/// One month of `DescribeStatements`: what its statement bills.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct StatementLine {
    #[serde(serialize_with = "display")]
    pub month: Month,
    pub status: StatementStatus,
    pub closes_at: String,
    pub audio_video_billable_minutes: i64,
    pub audio_video_pay_as_you_go_minutes: i64,
    pub recording_billable_minutes: i64,
}

/// `DescribeStatements`.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct StatementsAnswer {
    pub request_id: String,
    #[serde(serialize_with = "display")]
    pub app_id: AppId,
    #[serde(serialize_with = "display")]
    pub time_zone: BillingZone,
    pub statements: Vec<StatementLine>,
}

impl StatementsAnswer {
    /// `bodies` newest first.
    pub fn new(
        request_id: &str,
        app: &AppId,
        calendar: &Calendar,
        bodies: &[StatementBody],
        now: UtcMillis,
    ) -> Self {
        StatementsAnswer {
            request_id: request_id.to_owned(),
            app_id: app.clone(),
            time_zone: calendar.zone.clone(),
            statements: bodies
                .iter()
                .map(|body| {
                    let billed = body.billed();
                    StatementLine {
                        month: body.month,
                        status: StatementStatus::of(calendar, body.month, now),
                        closes_at: calendar.zone.format(calendar.closes_at(body.month)),
                        audio_video_billable_minutes: billed.av.billable_minutes,
                        audio_video_pay_as_you_go_minutes: billed.av.pay_as_you_go_minutes,
                        recording_billable_minutes: billed.recording.billable_minutes,
                    }
                })
                .collect(),
        }
    }
}
