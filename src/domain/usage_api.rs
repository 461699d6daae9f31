//! The usage API: every action the query endpoint answers, validated in the
//! contract's order into one typed request, and the answers of the console's
//! actions (apps, trends, details, packages). No I/O: the caller rule, whether
//! the app is registered to the caller (the last check, answered like a
//! malformed `AppId`), the reads and the package deduction happen in the service.

use super::class::{ClassFacts, Package, UsageType};
use super::commit::AvMillis;
use super::deduction::{Deduction, Ledger, billable_minutes};
use super::error::{ApiError, ErrorCode};
use super::ids::{AppId, ClassId, Name, PackageId};
use super::query::{self, QueryParams, UsagePoint, ValidQuery};
use super::time::{Day, Interval, SECOND_MS, UtcMillis};
use super::usage::{Seconds, TierMillis};
use serde::{Serialize, Serializer};
use std::fmt;
use std::ops::{Range, RangeInclusive};

/// The highest `PageNumber`: with at most 100 rows a page, ten million rows.
pub const MAX_PAGE_NUMBER: u32 = 100_000;
/// The most rows one page holds.
pub const MAX_PAGE_SIZE: u32 = 100;
pub const DEFAULT_PAGE_SIZE: u32 = 20;
/// The largest CSV an export answers: Lambda's response limit is 6 MB, and
/// the headers and encoding need the rest.
pub const MAX_EXPORT_BYTES: usize = 5_000_000;

/// The required parameters of the three actions over a window, in the order
/// they are checked.
const WINDOW_ACTION_PARAMS: [&str; 4] = ["StartTime", "EndTime", "AppId", "ServiceType"];

/// Every action the endpoint answers, by its `Action` name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    /// `DescribeLiveRtcRecordUsageData`: recording usage per tier, one record mode.
    RecordUsage,
    /// `DescribeApps`: the caller's apps.
    Apps,
    /// `DescribeUsageData`: one service's trend over a window.
    UsageData,
    /// `DescribeUsageDetails`: one page of the rows of a window.
    UsageDetails,
    /// `ExportUsageDetails`: every row of a window, as CSV.
    ExportDetails,
    /// `DescribeUsagePackages`: an app's packages and what is left of them.
    Packages,
}

impl Action {
    pub const ALL: [Action; 6] = [
        Action::RecordUsage,
        Action::Apps,
        Action::UsageData,
        Action::UsageDetails,
        Action::ExportDetails,
        Action::Packages,
    ];

    /// Exactly one of the names, case-sensitive.
    pub fn parse(name: &str) -> Option<Action> {
        Action::ALL
            .into_iter()
            .find(|action| action.as_str() == name)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Action::RecordUsage => query::ACTION,
            Action::Apps => "DescribeApps",
            Action::UsageData => "DescribeUsageData",
            Action::UsageDetails => "DescribeUsageDetails",
            Action::ExportDetails => "ExportUsageDetails",
            Action::Packages => "DescribeUsagePackages",
        }
    }
}

/// `ServiceType` of `DescribeUsageData`: which usage the trend shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ServiceType {
    /// Class sessions, interactive and playback.
    AudioVideo,
    /// Recording segments, per tier, both record modes together.
    Recording,
    /// Stored recording bytes.
    Storage,
}

impl ServiceType {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "AudioVideo" => Some(ServiceType::AudioVideo),
            "Recording" => Some(ServiceType::Recording),
            "Storage" => Some(ServiceType::Storage),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ServiceType::AudioVideo => "AudioVideo",
            ServiceType::Recording => "Recording",
            ServiceType::Storage => "Storage",
        }
    }
}

impl Serialize for ServiceType {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// `ServiceType` of the details and the export: the services that have rows
/// (storage is a level over time, not usage of a class on a day).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DetailsService {
    AudioVideo,
    Recording,
}

impl DetailsService {
    pub fn parse(text: &str) -> Option<Self> {
        match ServiceType::parse(text)? {
            ServiceType::AudioVideo => Some(DetailsService::AudioVideo),
            ServiceType::Recording => Some(DetailsService::Recording),
            ServiceType::Storage => None,
        }
    }

    pub fn service_type(self) -> ServiceType {
        match self {
            DetailsService::AudioVideo => ServiceType::AudioVideo,
            DetailsService::Recording => ServiceType::Recording,
        }
    }

    pub fn as_str(self) -> &'static str {
        self.service_type().as_str()
    }
}

impl Serialize for DetailsService {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// A valid `DescribeUsageData`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UsageDataQuery {
    pub app: AppId,
    pub start: UtcMillis,
    pub end: UtcMillis,
    pub service: ServiceType,
    pub interval: Interval,
}

/// A valid `DescribeUsageDetails` or `ExportUsageDetails` (the page aside).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DetailsQuery {
    pub app: AppId,
    pub start: UtcMillis,
    pub end: UtcMillis,
    pub service: DetailsService,
    /// Only this class's rows, when given.
    pub class: Option<ClassId>,
}

impl DetailsQuery {
    /// The first and last UTC day whose rows the window holds: every day
    /// overlapping `[start, end)`.
    pub fn days(&self) -> (Day, Day) {
        (self.start.day(), self.end.minus_ms(1).day())
    }

    /// `usage-{AppId}-{ServiceType}-{first day}-{last day}.csv`. Safe inside a
    /// quoted `Content-Disposition` value: an app id has no quote, space or
    /// non-ASCII character.
    pub fn export_file_name(&self) -> String {
        let (first, last) = self.days();
        format!(
            "usage-{}-{}-{}-{}.csv",
            self.app,
            self.service.as_str(),
            first.key(),
            last.key()
        )
    }
}

/// Which rows of the details one answer holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Page {
    /// 1 to `MAX_PAGE_NUMBER`.
    pub number: u32,
    /// 1 to `MAX_PAGE_SIZE`.
    pub size: u32,
}

impl Page {
    pub const DEFAULT: Page = Page {
        number: 1,
        size: DEFAULT_PAGE_SIZE,
    };

    /// The indexes of this page's rows among `total` rows; empty past the end.
    pub fn rows(self, total: usize) -> Range<usize> {
        let size = self.size as usize;
        let start = (self.number as usize)
            .saturating_sub(1)
            .saturating_mul(size)
            .min(total);
        start..start.saturating_add(size).min(total)
    }
}

/// A request that passed every rule, `AppId` (where the action has one)
/// well-formed. Whether the caller owns that app is the service's last check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ApiRequest {
    RecordUsage(ValidQuery),
    Apps,
    UsageData(UsageDataQuery),
    UsageDetails { query: DetailsQuery, page: Page },
    ExportDetails(DetailsQuery),
    Packages { app: AppId },
}

impl ApiRequest {
    pub fn action(&self) -> Action {
        match self {
            ApiRequest::RecordUsage(_) => Action::RecordUsage,
            ApiRequest::Apps => Action::Apps,
            ApiRequest::UsageData(_) => Action::UsageData,
            ApiRequest::UsageDetails { .. } => Action::UsageDetails,
            ApiRequest::ExportDetails(_) => Action::ExportDetails,
            ApiRequest::Packages { .. } => Action::Packages,
        }
    }

    /// The app the request asks about, which must be registered to the
    /// caller; `DescribeApps` names none.
    pub fn app(&self) -> Option<&AppId> {
        match self {
            ApiRequest::RecordUsage(query) => Some(&query.app),
            ApiRequest::Apps => None,
            ApiRequest::UsageData(query) => Some(&query.app),
            ApiRequest::UsageDetails { query, .. } | ApiRequest::ExportDetails(query) => {
                Some(&query.app)
            }
            ApiRequest::Packages { app } => Some(app),
        }
    }
}

/// Applies the rules of the action the request names, in order; the first
/// that fails answers. The action itself first (missing, or none of the six);
/// then the action's required parameters, the first missing or empty one
/// named; the window (`StartTime`, `EndTime`); `ServiceType`; `Interval`;
/// `ClassId`; `PageNumber`; `PageSize`; and `AppId`'s syntax last. A rule
/// about a parameter the action does not take is skipped, and the parameter
/// ignored like any unknown one. An optional parameter given empty is
/// present and invalid; a parameter given twice fails its own rule.
pub fn validate_request(params: &QueryParams, now: UtcMillis) -> Result<ApiRequest, ApiError> {
    let action = Action::parse(query::action_name(params)?)
        .ok_or_else(|| ApiError::new(ErrorCode::InvalidActionNotFound))?;
    match action {
        Action::RecordUsage => query::record_usage(params, now).map(ApiRequest::RecordUsage),
        Action::Apps => Ok(ApiRequest::Apps),
        Action::UsageData => {
            query::require(params, &WINDOW_ACTION_PARAMS)?;
            let (start, end) = query::window(params, now)?;
            let service = service_type(params, ServiceType::parse)?;
            let interval = query::interval(params)?;
            let app = query::app_id(params)?;
            Ok(ApiRequest::UsageData(UsageDataQuery {
                app,
                start,
                end,
                service,
                interval,
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
            query::require(params, &["AppId"])?;
            let app = query::app_id(params)?;
            Ok(ApiRequest::Packages { app })
        }
    }
}

/// The rules of the two details actions; only `DescribeUsageDetails` is
/// `paged` (takes `PageNumber` and `PageSize`).
fn details(
    params: &QueryParams,
    now: UtcMillis,
    paged: bool,
) -> Result<(DetailsQuery, Page), ApiError> {
    query::require(params, &WINDOW_ACTION_PARAMS)?;
    let (start, end) = query::window(params, now)?;
    let service = service_type(params, DetailsService::parse)?;
    // ClassId, if given, is an id: 1–64 of A–Z a–z 0–9 - _ .
    let class = query::optional(
        params,
        "ClassId",
        None,
        |text| ClassId::parse(text).map(Some),
        ErrorCode::InvalidClassIdMalformed,
    )?;
    let page = if paged {
        Page {
            number: query::optional(
                params,
                "PageNumber",
                Page::DEFAULT.number,
                |text| whole_number(text, 1..=MAX_PAGE_NUMBER),
                ErrorCode::InvalidPageNumberValueNotSupported,
            )?,
            size: query::optional(
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
    let app = query::app_id(params)?;
    Ok((
        DetailsQuery {
            app,
            start,
            end,
            service,
            class,
        },
        page,
    ))
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

// ---------------------------------------------------------------------------
// Answers. Field names and order are the contract's; integers are JSON
// integers, durations exact seconds, days `YYYY-MM-DD`, instants
// `YYYY-MM-DDThh:mm:ssZ` (truncated to the second), unknowns `null`.

/// Writes a value by its `Display` text: ids, names and instants.
fn display<T: fmt::Display, S: Serializer>(value: &T, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(value)
}

fn display_or_null<T: fmt::Display, S: Serializer>(
    value: &Option<T>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match value {
        Some(value) => serializer.collect_str(value),
        None => serializer.serialize_none(),
    }
}

fn day_key<S: Serializer>(day: &Day, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&day.key())
}

fn usage_type_or_null<S: Serializer>(
    value: &Option<UsageType>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match value {
        Some(usage) => serializer.serialize_str(usage.as_str()),
        None => serializer.serialize_none(),
    }
}

/// `Interval`: the buckets' length in seconds, a JSON integer.
fn interval_seconds<S: Serializer>(interval: &Interval, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_i64(interval.millis() / SECOND_MS)
}

/// `DescribeApps`.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct AppsAnswer {
    pub request_id: String,
    pub apps: Vec<AppEntry>,
}

#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct AppEntry {
    #[serde(serialize_with = "display")]
    pub app_id: AppId,
    /// As registered; null where no registration carried a name.
    #[serde(serialize_with = "display_or_null")]
    pub app_name: Option<Name>,
}

impl AppsAnswer {
    /// The caller's apps, listed in `AppId` byte order whatever order they
    /// come in.
    pub fn new(request_id: &str, apps: impl IntoIterator<Item = (AppId, Option<Name>)>) -> Self {
        let mut apps: Vec<AppEntry> = apps
            .into_iter()
            .map(|(app_id, app_name)| AppEntry { app_id, app_name })
            .collect();
        apps.sort_by(|a, b| a.app_id.cmp(&b.app_id));
        AppsAnswer {
            request_id: request_id.to_owned(),
            apps,
        }
    }
}

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
    #[serde(serialize_with = "display")]
    pub timestamp: UtcMillis,
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
    #[serde(serialize_with = "display")]
    pub timestamp: UtcMillis,
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
            .interval
            .bucket_starts(query.start, query.end)
            .into_iter()
            .map(|bucket| {
                let usage = usage_of(bucket);
                sums += usage;
                AudioVideoPoint {
                    timestamp: bucket,
                    interactive_duration: Seconds(usage.interactive),
                    playback_duration: Seconds(usage.playback),
                    total_duration: Seconds(usage.total()),
                }
            })
            .collect();
        UsageDataAnswer::AudioVideo(AudioVideoTrend {
            request_id: request_id.to_owned(),
            app_id: query.app.clone(),
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
        let (data, summary) = query::tier_series(query.interval, query.start, query.end, usage_of);
        UsageDataAnswer::Recording(RecordingTrend {
            request_id: request_id.to_owned(),
            app_id: query.app.clone(),
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
            .interval
            .bucket_starts(query.start, query.end)
            .into_iter()
            .map(|bucket| StoragePoint {
                timestamp: bucket,
                peak_bytes: peak_of(bucket),
            })
            .collect();
        UsageDataAnswer::Storage(StorageTrend {
            request_id: request_id.to_owned(),
            app_id: query.app.clone(),
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

/// What one package paid for one row.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct PackageCharge {
    #[serde(serialize_with = "display")]
    pub package_id: PackageId,
    #[serde(serialize_with = "display")]
    pub package_name: Name,
    pub minutes: u64,
}

impl PackageCharge {
    /// What each package of `ledger` paid in `deduction`, in deduction order.
    pub fn of(ledger: &Ledger, deduction: &Deduction) -> Vec<PackageCharge> {
        deduction
            .taken
            .iter()
            .map(|(index, minutes)| {
                let package = &ledger.packages()[*index];
                PackageCharge {
                    package_id: package.id.clone(),
                    package_name: package.name.clone(),
                    minutes: *minutes,
                }
            })
            .collect()
    }
}

/// A row's usage and its deduction, before the app's and the class's names
/// and facts are added to it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RowUsage {
    pub date: Day,
    /// None only for recording segments without a class.
    pub class: Option<ClassId>,
    /// None on recording rows.
    pub usage_type: Option<UsageType>,
    /// Distinct users of the row's sessions; None on recording rows.
    pub user_count: Option<u64>,
    pub duration_ms: u64,
    /// What each package paid, in deduction order; empty for recording rows.
    pub packages: Vec<PackageCharge>,
}

/// One row of the details.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct DetailsRow {
    #[serde(serialize_with = "day_key")]
    pub date: Day,
    #[serde(serialize_with = "display")]
    pub app_id: AppId,
    #[serde(serialize_with = "display_or_null")]
    pub app_name: Option<Name>,
    #[serde(serialize_with = "display_or_null")]
    pub class_id: Option<ClassId>,
    #[serde(serialize_with = "display_or_null")]
    pub class_name: Option<Name>,
    #[serde(serialize_with = "display_or_null")]
    pub start_time: Option<UtcMillis>,
    #[serde(serialize_with = "display_or_null")]
    pub end_time: Option<UtcMillis>,
    #[serde(serialize_with = "usage_type_or_null")]
    pub usage_type: Option<UsageType>,
    pub user_count: Option<u64>,
    pub duration_seconds: Seconds,
    pub billable_minutes: u64,
    pub packages: Vec<PackageCharge>,
    pub package_minutes: u64,
    pub pay_as_you_go_minutes: u64,
}

impl DetailsRow {
    /// The row as answered: the class's facts as far as they are known
    /// (`facts` None when nothing is known of the class), the duration
    /// rounded up to minutes, and what no package paid as pay-as-you-go.
    pub fn new(
        app: &AppId,
        app_name: Option<&Name>,
        facts: Option<&ClassFacts>,
        usage: RowUsage,
    ) -> Self {
        let billable = billable_minutes(usage.duration_ms);
        let from_packages: u64 = usage.packages.iter().map(|p| p.minutes).sum();
        debug_assert!(from_packages <= billable, "packages paid more than the row");
        DetailsRow {
            date: usage.date,
            app_id: app.clone(),
            app_name: app_name.cloned(),
            class_id: usage.class,
            class_name: facts.and_then(|f| f.name.clone()),
            start_time: facts.and_then(|f| f.start),
            end_time: facts.and_then(|f| f.end),
            usage_type: usage.usage_type,
            user_count: usage.user_count,
            duration_seconds: Seconds(usage.duration_ms),
            billable_minutes: billable,
            packages: usage.packages,
            package_minutes: from_packages,
            pay_as_you_go_minutes: billable.saturating_sub(from_packages),
        }
    }
}

/// The sums over every row of the window (after the `ClassId` filter, all
/// pages): each column added up row by row, so `BillableMinutes` is the sum
/// of the rows' rounded minutes, not the total duration rounded.
#[derive(Clone, Copy, Debug, Default, Serialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct DetailsSummary {
    pub duration_seconds: Seconds,
    pub billable_minutes: u64,
    pub package_minutes: u64,
    pub pay_as_you_go_minutes: u64,
}

impl DetailsSummary {
    pub fn of(rows: &[DetailsRow]) -> Self {
        rows.iter()
            .fold(DetailsSummary::default(), |sum, row| DetailsSummary {
                duration_seconds: Seconds(sum.duration_seconds.0 + row.duration_seconds.0),
                billable_minutes: sum.billable_minutes + row.billable_minutes,
                package_minutes: sum.package_minutes + row.package_minutes,
                pay_as_you_go_minutes: sum.pay_as_you_go_minutes + row.pay_as_you_go_minutes,
            })
    }
}

/// `DescribeUsageDetails`.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct DetailsAnswer {
    pub request_id: String,
    #[serde(serialize_with = "display")]
    pub app_id: AppId,
    pub service_type: DetailsService,
    pub total_count: u64,
    pub page_number: u32,
    pub page_size: u32,
    pub summary: DetailsSummary,
    pub records: Vec<DetailsRow>,
}

impl DetailsAnswer {
    /// One page of `rows`: every row of the window after the `ClassId`
    /// filter, in allocation order. `TotalCount` and `Summary` cover them
    /// all; a page past the end holds no records.
    pub fn new(
        request_id: &str,
        query: &DetailsQuery,
        page: Page,
        mut rows: Vec<DetailsRow>,
    ) -> Self {
        let summary = DetailsSummary::of(&rows);
        let total_count = rows.len() as u64;
        let records = rows.drain(page.rows(rows.len())).collect();
        DetailsAnswer {
            request_id: request_id.to_owned(),
            app_id: query.app.clone(),
            service_type: query.service,
            total_count,
            page_number: page.number,
            page_size: page.size,
            summary,
            records,
        }
    }
}

/// Where a package stands on a given UTC day: the first that applies.
#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq, Hash)]
pub enum PackageStatus {
    /// The day is before `ValidFrom`.
    NotStarted,
    /// The day is after `ValidTo`.
    Expired,
    /// Nothing left.
    Exhausted,
    Active,
}

impl PackageStatus {
    pub fn on(today: Day, valid_from: Day, valid_to: Day, remaining_minutes: u64) -> Self {
        if today < valid_from {
            PackageStatus::NotStarted
        } else if today > valid_to {
            PackageStatus::Expired
        } else if remaining_minutes == 0 {
            PackageStatus::Exhausted
        } else {
            PackageStatus::Active
        }
    }
}

/// One package of `DescribeUsagePackages`.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct PackageBalance {
    #[serde(serialize_with = "display")]
    pub package_id: PackageId,
    #[serde(serialize_with = "display")]
    pub package_name: Name,
    pub minutes: u64,
    pub used_minutes: u64,
    pub remaining_minutes: u64,
    #[serde(serialize_with = "day_key")]
    pub valid_from: Day,
    #[serde(serialize_with = "day_key")]
    pub valid_to: Day,
    pub status: PackageStatus,
}

impl PackageBalance {
    /// `package` after rows took `used_minutes` from it, as it stands on
    /// `today` (the request's UTC day).
    pub fn new(package: &Package, used_minutes: u64, today: Day) -> Self {
        debug_assert!(
            used_minutes <= package.minutes,
            "a package paid more than it holds"
        );
        let remaining = package.minutes.saturating_sub(used_minutes);
        PackageBalance {
            package_id: package.id.clone(),
            package_name: package.name.clone(),
            minutes: package.minutes,
            used_minutes,
            remaining_minutes: remaining,
            valid_from: package.valid_from,
            valid_to: package.valid_to,
            status: PackageStatus::on(today, package.valid_from, package.valid_to, remaining),
        }
    }
}

/// `DescribeUsagePackages`.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct PackagesAnswer {
    pub request_id: String,
    #[serde(serialize_with = "display")]
    pub app_id: AppId,
    pub packages: Vec<PackageBalance>,
}

impl PackagesAnswer {
    /// `packages` as given: they are listed in deduction order.
    pub fn new(request_id: &str, app: &AppId, packages: Vec<PackageBalance>) -> Self {
        PackagesAnswer {
            request_id: request_id.to_owned(),
            app_id: app.clone(),
            packages,
        }
    }

    /// Every package of `ledger`, after every row of the app has been taken
    /// from it, as it stands on `today` (the request's UTC day).
    pub fn from_ledger(request_id: &str, app: &AppId, ledger: &Ledger, today: Day) -> Self {
        let packages = ledger
            .packages()
            .iter()
            .enumerate()
            .map(|(index, package)| PackageBalance::new(package, ledger.used(index), today))
            .collect();
        Self::new(request_id, app, packages)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::query::validate;
    use crate::domain::usage::{RecordMode, Tier};

    const NOW: &str = "2026-11-23T12:00:00Z";

    fn t(text: &str) -> UtcMillis {
        UtcMillis::parse_query_time(text).unwrap()
    }

    fn now() -> UtcMillis {
        t(NOW)
    }

    fn app(text: &str) -> AppId {
        AppId::parse(text).unwrap()
    }

    fn name(text: &str) -> Name {
        Name::parse(text).unwrap()
    }

    fn day(key: &str) -> Day {
        Day::parse_key(key).unwrap()
    }

    type Pairs = Vec<(String, String)>;
    /// Parameters to replace (`Some`) or remove (`None`).
    type Changes<'a> = &'a [(&'a str, Option<&'a str>)];

    /// A valid request of `action`, every optional parameter absent.
    fn valid(action: Action) -> Pairs {
        let window = [
            ("StartTime", "2026-11-20T00:00:00Z"),
            ("EndTime", "2026-11-21T00:00:00Z"),
            ("AppId", "app-1"),
        ];
        let mut pairs = vec![("Action", action.as_str())];
        match action {
            Action::RecordUsage => pairs.extend(window.into_iter().chain([("RecordMode", "0")])),
            Action::Apps => {}
            Action::UsageData | Action::UsageDetails | Action::ExportDetails => {
                pairs.extend(window.into_iter().chain([("ServiceType", "AudioVideo")]))
            }
            Action::Packages => pairs.push(("AppId", "app-1")),
        }
        pairs
            .into_iter()
            .map(|(n, v)| (n.to_owned(), v.to_owned()))
            .collect()
    }

    /// `pairs` with each named parameter replaced (`Some`) or removed (`None`).
    fn with(mut pairs: Pairs, changes: Changes) -> Pairs {
        for (name, value) in changes {
            pairs.retain(|(n, _)| n != name);
            if let Some(v) = value {
                pairs.push(((*name).to_owned(), (*v).to_owned()));
            }
        }
        pairs
    }

    /// `pairs` with one more value for `name`.
    fn plus(mut pairs: Pairs, name: &str, value: &str) -> Pairs {
        pairs.push((name.to_owned(), value.to_owned()));
        pairs
    }

    fn run(pairs: &Pairs) -> Result<ApiRequest, ApiError> {
        validate_request(&QueryParams::from_pairs(pairs.clone()), now())
    }

    fn ok(pairs: &Pairs) -> ApiRequest {
        run(pairs).unwrap_or_else(|e| panic!("{pairs:?} refused: {e}"))
    }

    fn err(pairs: &Pairs) -> &'static str {
        run(pairs).expect_err("must be refused").code.code()
    }

    /// The parameter a `MissingParameter` names.
    fn missing(pairs: &Pairs) -> String {
        let e = run(pairs).expect_err("must be refused");
        assert_eq!(e.code, ErrorCode::MissingParameter, "{pairs:?}");
        e.message.split('"').nth(1).unwrap().to_owned()
    }

    /// Starting from `state`, applies each step's changes in turn and checks
    /// the rule that answers after it (None: the request passes): each rule
    /// is shown to answer before every rule after it.
    fn walk(state: Pairs, steps: &[(Changes, Option<&str>)]) -> ApiRequest {
        let mut state = state;
        let mut last = None;
        for (changes, expected) in steps {
            state = with(state, changes);
            match expected {
                Some(code) => assert_eq!(err(&state), *code, "after {changes:?}"),
                None => last = Some(ok(&state)),
            }
        }
        last.expect("the walk ends with a valid request")
    }

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
            with(base.clone(), &[("Action", None)]),
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
            let one = validate(&params, now());
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

    #[test]
    fn the_record_usage_validation_still_refuses_the_other_actions() {
        for action in Action::ALL
            .into_iter()
            .filter(|a| *a != Action::RecordUsage)
        {
            let params = QueryParams::from_pairs(valid(action));
            assert_eq!(
                validate(&params, now()).unwrap_err().code,
                ErrorCode::InvalidActionNotFound,
                "{action:?}"
            );
        }
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

    #[test]
    fn the_app_each_request_asks_about() {
        for action in Action::ALL {
            let expected = (action != Action::Apps).then(|| app("app-1"));
            assert_eq!(ok(&valid(action)).app().cloned(), expected, "{action:?}");
        }
    }

    // ---- paging and export names --------------------------------------

    #[test]
    fn pages_slice_the_rows_and_run_empty_past_the_end() {
        let page = |number, size| Page { number, size };
        assert_eq!(page(1, 20).rows(45), 0..20);
        assert_eq!(page(3, 20).rows(45), 40..45);
        assert_eq!(page(4, 20).rows(45), 45..45);
        assert_eq!(page(100_000, 100).rows(45), 45..45);
        assert_eq!(page(1, 20).rows(0), 0..0);
    }

    #[test]
    fn export_file_name_uses_the_days_of_start_and_end_minus_one_ms() {
        let query = DetailsQuery {
            app: app("app-1"),
            start: t("2026-11-20T10:00:00Z"),
            end: t("2026-11-23T00:00:00Z"),
            service: DetailsService::AudioVideo,
            class: None,
        };
        assert_eq!(query.days(), (day("2026-11-20"), day("2026-11-22")));
        assert_eq!(
            query.export_file_name(),
            "usage-app-1-AudioVideo-2026-11-20-2026-11-22.csv"
        );
        let one_day = DetailsQuery {
            end: t("2026-11-20T10:05:00Z"),
            service: DetailsService::Recording,
            ..query
        };
        assert_eq!(
            one_day.export_file_name(),
            "usage-app-1-Recording-2026-11-20-2026-11-20.csv"
        );
    }

    // ---- answers, as exact JSON text -----------------------------------

    fn json(value: &impl Serialize) -> String {
        serde_json::to_string(value).unwrap()
    }

    fn trend_query(service: ServiceType, interval: Interval) -> UsageDataQuery {
        UsageDataQuery {
            app: app("app-1"),
            start: t("2026-11-20T22:30:00Z"),
            end: t("2026-11-21T00:00:00Z"),
            service,
            interval,
        }
    }

    #[test]
    fn describe_apps_answer() {
        let answer = AppsAnswer::new(
            "req-1",
            [
                (app("a_1"), None),
                (app("a-1"), Some(name("Math \"101\" — 数学"))),
                (app("B"), Some(name("b"))),
            ],
        );
        assert_eq!(
            json(&answer),
            r#"{"RequestId":"req-1","Apps":[{"AppId":"B","AppName":"b"},{"AppId":"a-1","AppName":"Math \"101\" — 数学"},{"AppId":"a_1","AppName":null}]}"#
        );
        assert_eq!(
            json(&AppsAnswer::new("req-2", [])),
            r#"{"RequestId":"req-2","Apps":[]}"#
        );
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
                r#"{"RequestId":"req-1","AppId":"app-1","ServiceType":"AudioVideo","Interval":3600,"#,
                r#""InteractiveSummaryDuration":61.5,"PlaybackSummaryDuration":30.001,"TotalSummaryDuration":91.501,"#,
                r#""Data":[{"Timestamp":"2026-11-20T22:00:00Z","InteractiveDuration":1.5,"PlaybackDuration":0,"TotalDuration":1.5},"#,
                r#"{"Timestamp":"2026-11-20T23:00:00Z","InteractiveDuration":60,"PlaybackDuration":30.001,"TotalDuration":90.001}]}"#
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
                r#"{"RequestId":"req-2","AppId":"app-1","ServiceType":"AudioVideo","Interval":86400,"#,
                r#""InteractiveSummaryDuration":0,"PlaybackSummaryDuration":0,"TotalSummaryDuration":0,"#,
                r#""Data":[{"Timestamp":"2026-11-20T00:00:00Z","InteractiveDuration":0,"PlaybackDuration":0,"TotalDuration":0}]}"#
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
                r#"{"RequestId":"req-1","AppId":"app-1","ServiceType":"Recording","Interval":3600,"#,
                r#""TotalSummaryDuration":150.001,"AudioSummaryDuration":20,"V480SummaryDuration":30,"#,
                r#""V720SummaryDuration":40,"V1080SummaryDuration":60.001,"Data":["#,
                r#"{"Timestamp":"2026-11-20T22:00:00Z","TotalDuration":0,"AudioDuration":0,"V480Duration":0,"V720Duration":0,"V1080Duration":0},"#,
                r#"{"Timestamp":"2026-11-20T23:00:00Z","TotalDuration":150.001,"AudioDuration":20,"V480Duration":30,"V720Duration":40,"V1080Duration":60.001}]}"#
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
                r#"{"RequestId":"req-1","AppId":"app-1","ServiceType":"Storage","Interval":3600,"#,
                r#""PeakSummaryBytes":9007199254740991,"Data":["#,
                r#"{"Timestamp":"2026-11-20T22:00:00Z","PeakBytes":9007199254740991},"#,
                r#"{"Timestamp":"2026-11-20T23:00:00Z","PeakBytes":5}]}"#
            )
        );
    }

    fn charge(id: &str, package: &str, minutes: u64) -> PackageCharge {
        PackageCharge {
            package_id: PackageId::parse(id).unwrap(),
            package_name: name(package),
            minutes,
        }
    }

    fn details_query(service: DetailsService) -> DetailsQuery {
        DetailsQuery {
            app: app("app-1"),
            start: t("2026-11-20T00:00:00Z"),
            end: t("2026-11-21T00:00:00Z"),
            service,
            class: None,
        }
    }

    #[test]
    fn describe_usage_details_answer() {
        let facts = ClassFacts {
            name: Some(name("Math")),
            // Shown truncated to the second.
            start: Some(t("2026-11-20T09:00:00Z").plus_ms(1_999)),
            end: Some(t("2026-11-20T10:00:00Z")),
        };
        let class = ClassId::parse("class-1").unwrap();
        let app_name = name("My App");
        let row = |usage_type, duration_ms, packages| {
            DetailsRow::new(
                &app("app-1"),
                Some(&app_name),
                Some(&facts),
                RowUsage {
                    date: day("2026-11-20"),
                    class: Some(class.clone()),
                    usage_type: Some(usage_type),
                    user_count: Some(3),
                    duration_ms,
                    packages,
                },
            )
        };
        let rows = vec![
            // 2 h 0.5 s: 121 minutes, 100 from p-1 and 20 from p-2, 1 paid as you go.
            row(
                UsageType::Interactive,
                7_200_500,
                vec![charge("p-1", "Starter", 100), charge("p-2", "Extra", 20)],
            ),
            row(UsageType::Playback, 60_000, vec![]),
            // A class nothing is known of yet.
            DetailsRow::new(
                &app("app-1"),
                None,
                None,
                RowUsage {
                    date: day("2026-11-20"),
                    class: Some(ClassId::parse("class-2").unwrap()),
                    usage_type: Some(UsageType::Interactive),
                    user_count: Some(1),
                    duration_ms: 1,
                    packages: vec![],
                },
            ),
        ];
        let query = details_query(DetailsService::AudioVideo);
        let answer = DetailsAnswer::new("req-1", &query, Page { number: 1, size: 2 }, rows.clone());
        assert_eq!(
            json(&answer),
            concat!(
                r#"{"RequestId":"req-1","AppId":"app-1","ServiceType":"AudioVideo","TotalCount":3,"PageNumber":1,"PageSize":2,"#,
                r#""Summary":{"DurationSeconds":7260.501,"BillableMinutes":123,"PackageMinutes":120,"PayAsYouGoMinutes":3},"#,
                r#""Records":[{"Date":"2026-11-20","AppId":"app-1","AppName":"My App","ClassId":"class-1","ClassName":"Math","#,
                r#""StartTime":"2026-11-20T09:00:01Z","EndTime":"2026-11-20T10:00:00Z","UsageType":"Interactive","UserCount":3,"#,
                r#""DurationSeconds":7200.5,"BillableMinutes":121,"Packages":[{"PackageId":"p-1","PackageName":"Starter","Minutes":100},"#,
                r#"{"PackageId":"p-2","PackageName":"Extra","Minutes":20}],"PackageMinutes":120,"PayAsYouGoMinutes":1},"#,
                r#"{"Date":"2026-11-20","AppId":"app-1","AppName":"My App","ClassId":"class-1","ClassName":"Math","#,
                r#""StartTime":"2026-11-20T09:00:01Z","EndTime":"2026-11-20T10:00:00Z","UsageType":"Playback","UserCount":3,"#,
                r#""DurationSeconds":60,"BillableMinutes":1,"Packages":[],"PackageMinutes":0,"PayAsYouGoMinutes":1}]}"#
            )
        );
        let second = DetailsAnswer::new("req-2", &query, Page { number: 2, size: 2 }, rows.clone());
        assert_eq!(
            json(&second.records),
            concat!(
                r#"[{"Date":"2026-11-20","AppId":"app-1","AppName":null,"ClassId":"class-2","ClassName":null,"#,
                r#""StartTime":null,"EndTime":null,"UsageType":"Interactive","UserCount":1,"#,
                r#""DurationSeconds":0.001,"BillableMinutes":1,"Packages":[],"PackageMinutes":0,"PayAsYouGoMinutes":1}]"#
            )
        );
        // Past the end: no records, the count and the summary of them all.
        let past = DetailsAnswer::new("req-3", &query, Page { number: 3, size: 2 }, rows);
        assert!(past.records.is_empty());
        assert_eq!(
            (past.total_count, past.summary),
            (answer.total_count, answer.summary)
        );
        assert_eq!(
            json(&DetailsAnswer::new("req-4", &query, Page::DEFAULT, vec![])),
            concat!(
                r#"{"RequestId":"req-4","AppId":"app-1","ServiceType":"AudioVideo","TotalCount":0,"PageNumber":1,"PageSize":20,"#,
                r#""Summary":{"DurationSeconds":0,"BillableMinutes":0,"PackageMinutes":0,"PayAsYouGoMinutes":0},"Records":[]}"#
            )
        );
    }

    #[test]
    fn recording_rows_have_no_usage_type_users_or_packages() {
        let row = DetailsRow::new(
            &app("app-1"),
            None,
            None,
            RowUsage {
                date: day("2026-11-20"),
                class: None,
                usage_type: None,
                user_count: None,
                duration_ms: 90_000,
                packages: vec![],
            },
        );
        let answer = DetailsAnswer::new(
            "req-1",
            &details_query(DetailsService::Recording),
            Page::DEFAULT,
            vec![row],
        );
        assert_eq!(
            json(&answer),
            concat!(
                r#"{"RequestId":"req-1","AppId":"app-1","ServiceType":"Recording","TotalCount":1,"PageNumber":1,"PageSize":20,"#,
                r#""Summary":{"DurationSeconds":90,"BillableMinutes":2,"PackageMinutes":0,"PayAsYouGoMinutes":2},"#,
                r#""Records":[{"Date":"2026-11-20","AppId":"app-1","AppName":null,"ClassId":null,"ClassName":null,"#,
                r#""StartTime":null,"EndTime":null,"UsageType":null,"UserCount":null,"#,
                r#""DurationSeconds":90,"BillableMinutes":2,"Packages":[],"PackageMinutes":0,"PayAsYouGoMinutes":2}]}"#
            )
        );
    }

    fn package(id: &str, minutes: u64, from: &str, to: &str) -> Package {
        Package {
            app: app("app-1"),
            id: PackageId::parse(id).unwrap(),
            name: name(&format!("Package {id}")),
            minutes,
            valid_from: day(from),
            valid_to: day(to),
        }
    }

    #[test]
    fn package_status_on_the_request_day_first_that_applies() {
        let (from, to) = (day("2026-11-10"), day("2026-11-20"));
        let on = |today: &str, remaining| PackageStatus::on(day(today), from, to, remaining);
        assert_eq!(on("2026-11-09", 0), PackageStatus::NotStarted);
        assert_eq!(on("2026-11-10", 5), PackageStatus::Active);
        assert_eq!(on("2026-11-10", 0), PackageStatus::Exhausted);
        assert_eq!(on("2026-11-20", 1), PackageStatus::Active);
        assert_eq!(on("2026-11-21", 0), PackageStatus::Expired);
        assert_eq!(on("2026-11-21", 5), PackageStatus::Expired);
    }

    #[test]
    fn describe_usage_packages_answer() {
        // Given in any order; the ledger keeps them in deduction order.
        let mut ledger = Ledger::new([
            package("p-b", 500, "2026-11-01", "2026-12-31"),
            package("p-next", 60, "2026-12-01", "2026-12-31"),
            package("p-a", 500, "2026-11-01", "2026-12-31"),
            package("p-old", 100, "2026-01-01", "2026-06-30"),
        ]);
        ledger.take(day("2026-03-01"), 40);
        let november = ledger.take(day("2026-11-05"), 620);
        assert_eq!(
            json(&PackageCharge::of(&ledger, &november)),
            concat!(
                r#"[{"PackageId":"p-a","PackageName":"Package p-a","Minutes":500},"#,
                r#"{"PackageId":"p-b","PackageName":"Package p-b","Minutes":120}]"#
            )
        );
        let answer =
            PackagesAnswer::from_ledger("req-1", &app("app-1"), &ledger, day("2026-11-23"));
        assert_eq!(
            json(&answer),
            concat!(
                r#"{"RequestId":"req-1","AppId":"app-1","Packages":["#,
                r#"{"PackageId":"p-old","PackageName":"Package p-old","Minutes":100,"UsedMinutes":40,"RemainingMinutes":60,"ValidFrom":"2026-01-01","ValidTo":"2026-06-30","Status":"Expired"},"#,
                r#"{"PackageId":"p-a","PackageName":"Package p-a","Minutes":500,"UsedMinutes":500,"RemainingMinutes":0,"ValidFrom":"2026-11-01","ValidTo":"2026-12-31","Status":"Exhausted"},"#,
                r#"{"PackageId":"p-b","PackageName":"Package p-b","Minutes":500,"UsedMinutes":120,"RemainingMinutes":380,"ValidFrom":"2026-11-01","ValidTo":"2026-12-31","Status":"Active"},"#,
                r#"{"PackageId":"p-next","PackageName":"Package p-next","Minutes":60,"UsedMinutes":0,"RemainingMinutes":60,"ValidFrom":"2026-12-01","ValidTo":"2026-12-31","Status":"NotStarted"}]}"#
            )
        );
        assert_eq!(
            json(&PackagesAnswer::new("req-2", &app("app-1"), vec![])),
            r#"{"RequestId":"req-2","AppId":"app-1","Packages":[]}"#
        );
    }
}
