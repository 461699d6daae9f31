//! The usage API: every action the query endpoint answers, by name, and the
//! parameters of a request that passed its rules. The rules themselves are in
//! `validate`, in the contract's order; the answers of the console's actions
//! in `apps`, `trend`, `details` and `packages`. No I/O: the caller rule,
//! whether the app is registered to the caller (the last check, answered like
//! a malformed `AppId`), the reads and the package deduction happen in the
//! service.

mod alerts;
mod apps;
mod details;
pub(crate) mod packages;
mod serialize;
mod statements;
#[cfg(test)]
mod test_support;
mod trend;
mod validate;

pub use alerts::{AlertEntry, AlertsAnswer, MAX_ALERTS};
pub use apps::{AppEntry, AppsAnswer};
pub use details::{DetailsAnswer, DetailsRow, DetailsSummary, PackageCharge, RowUsage};
pub use packages::{PackageBalance, PackageStatus, PackagesAnswer};
pub use statements::{
    Adjustment, AudioVideoFigures, RecordingFiguresAnswer, StatementAnswer, StatementLine,
    StatementStatus, StatementsAnswer, StorageFigures,
};
pub use trend::{
    AudioVideoPoint, AudioVideoTrend, RecordingTrend, StoragePoint, StorageTrend, UsageDataAnswer,
};
pub use validate::{MAX_LOOKBACK_MS, MAX_SPAN_MS, MIN_SPAN_MS, validate_request};

use super::ids::{AppId, ClassId};
use super::query::{self, ValidQuery};
use super::statement::Month;
use super::time::{Day, Interval, UtcMillis};
use super::zone::BillingZone;
use serde::{Serialize, Serializer};
use std::ops::Range;

/// The highest `PageNumber`: with at most 100 rows a page, ten million rows.
pub const MAX_PAGE_NUMBER: u32 = 100_000;
/// The most rows one page holds.
pub const MAX_PAGE_SIZE: u32 = 100;
pub const DEFAULT_PAGE_SIZE: u32 = 20;
/// The largest CSV an export answers: Lambda's response limit is 6 MB, and
/// the headers and encoding need the rest.
pub const MAX_EXPORT_BYTES: usize = 5_000_000;

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
    /// `DescribeStatement`: one monthly statement with its adjustments.
    Statement,
    /// `DescribeStatements`: the current month's and the 12 before it.
    Statements,
    /// `DescribeAlerts`: an app's alerts, newest first.
    Alerts,
}

impl Action {
    pub const ALL: [Action; 9] = [
        Action::RecordUsage,
        Action::Apps,
        Action::UsageData,
        Action::UsageDetails,
        Action::ExportDetails,
        Action::Packages,
        Action::Statement,
        Action::Statements,
        Action::Alerts,
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
            Action::Statement => "DescribeStatement",
            Action::Statements => "DescribeStatements",
            Action::Alerts => "DescribeAlerts",
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
    /// The app's billing time zone: the buckets are its local days or
    /// hours. Validation cannot know it (UTC until the service has read
    /// the app's registration and set it).
    pub zone: BillingZone,
}

impl UsageDataQuery {
    /// The start of every bucket overlapping the window: the app's local
    /// days or clock hours, ascending.
    pub fn bucket_starts(&self) -> Vec<UtcMillis> {
        self.zone
            .buckets(self.interval, self.start, self.end)
            .into_iter()
            .map(|(start, _)| start)
            .collect()
    }

    /// The instants every bucket of the window lies within.
    pub fn covered(&self) -> (UtcMillis, UtcMillis) {
        let buckets = self.zone.buckets(self.interval, self.start, self.end);
        match (buckets.first(), buckets.last()) {
            (Some(first), Some(last)) => (first.0, last.1),
            _ => (self.start, self.end),
        }
    }
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
    /// The app's billing time zone, as for [`UsageDataQuery`]: rows are
    /// of its local days.
    pub zone: BillingZone,
}

impl DetailsQuery {
    /// The first and last local day whose rows the window holds: every
    /// day of the app's zone overlapping `[start, end)`.
    pub fn days(&self) -> (Day, Day) {
        self.zone.days_of(self.start, self.end)
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
    Statement { app: AppId, month: Month },
    Statements { app: AppId },
    Alerts { app: AppId },
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
            ApiRequest::Statement { .. } => Action::Statement,
            ApiRequest::Statements { .. } => Action::Statements,
            ApiRequest::Alerts { .. } => Action::Alerts,
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
            ApiRequest::Packages { app }
            | ApiRequest::Statement { app, .. }
            | ApiRequest::Statements { app }
            | ApiRequest::Alerts { app } => Some(app),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::*;
    use super::*;

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
            zone: BillingZone::utc(),
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
}
