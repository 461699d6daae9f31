//! The rows of `DescribeUsageDetails` and `ExportUsageDetails`: a row's usage,
//! what each package paid for it, the row as answered with the app's and the
//! class's names and facts, the summary over every row, and one page of them.

use super::serialize::{day_key, display, display_or_null, usage_type_or_null};
use super::{DetailsQuery, DetailsService, Page};
use crate::domain::class::{ClassFacts, UsageType};
use crate::domain::deduction::{Deduction, Ledger, billable_minutes};
use crate::domain::ids::{AppId, ClassId, Name, PackageId};
use crate::domain::time::Day;
use crate::domain::usage::Seconds;
use crate::domain::zone::BillingZone;
use serde::Serialize;

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
    /// The class's facts, with the app's offset at that instant.
    pub start_time: Option<String>,
    pub end_time: Option<String>,
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
        zone: &BillingZone,
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
            start_time: facts.and_then(|f| f.start).map(|at| zone.format(at)),
            end_time: facts.and_then(|f| f.end).map(|at| zone.format(at)),
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
    #[serde(serialize_with = "display")]
    pub time_zone: BillingZone,
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
            time_zone: query.zone.clone(),
            service_type: query.service,
            total_count,
            page_number: page.number,
            page_size: page.size,
            summary,
            records,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::*;

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
            zone: BillingZone::utc(),
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
                &BillingZone::utc(),
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
                &BillingZone::utc(),
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
                r#"{"RequestId":"req-1","AppId":"app-1","TimeZone":"UTC","ServiceType":"AudioVideo","TotalCount":3,"PageNumber":1,"PageSize":2,"#,
                r#""Summary":{"DurationSeconds":7260.501,"BillableMinutes":123,"PackageMinutes":120,"PayAsYouGoMinutes":3},"#,
                r#""Records":[{"Date":"2026-11-20","AppId":"app-1","AppName":"My App","ClassId":"class-1","ClassName":"Math","#,
                r#""StartTime":"2026-11-20T09:00:01+00:00","EndTime":"2026-11-20T10:00:00+00:00","UsageType":"Interactive","UserCount":3,"#,
                r#""DurationSeconds":7200.5,"BillableMinutes":121,"Packages":[{"PackageId":"p-1","PackageName":"Starter","Minutes":100},"#,
                r#"{"PackageId":"p-2","PackageName":"Extra","Minutes":20}],"PackageMinutes":120,"PayAsYouGoMinutes":1},"#,
                r#"{"Date":"2026-11-20","AppId":"app-1","AppName":"My App","ClassId":"class-1","ClassName":"Math","#,
                r#""StartTime":"2026-11-20T09:00:01+00:00","EndTime":"2026-11-20T10:00:00+00:00","UsageType":"Playback","UserCount":3,"#,
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
                r#"{"RequestId":"req-4","AppId":"app-1","TimeZone":"UTC","ServiceType":"AudioVideo","TotalCount":0,"PageNumber":1,"PageSize":20,"#,
                r#""Summary":{"DurationSeconds":0,"BillableMinutes":0,"PackageMinutes":0,"PayAsYouGoMinutes":0},"Records":[]}"#
            )
        );
    }

    #[test]
    fn recording_rows_have_no_usage_type_users_or_packages() {
        let row = DetailsRow::new(
            &app("app-1"),
            None,
            &BillingZone::utc(),
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
                r#"{"RequestId":"req-1","AppId":"app-1","TimeZone":"UTC","ServiceType":"Recording","TotalCount":1,"PageNumber":1,"PageSize":20,"#,
                r#""Summary":{"DurationSeconds":90,"BillableMinutes":2,"PackageMinutes":0,"PayAsYouGoMinutes":2},"#,
                r#""Records":[{"Date":"2026-11-20","AppId":"app-1","AppName":null,"ClassId":null,"ClassName":null,"#,
                r#""StartTime":null,"EndTime":null,"UsageType":null,"UserCount":null,"#,
                r#""DurationSeconds":90,"BillableMinutes":2,"Packages":[],"PackageMinutes":0,"PayAsYouGoMinutes":2}]}"#
            )
        );
    }
}
