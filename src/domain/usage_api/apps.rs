//! The answer of `DescribeApps`: the caller's apps and their names.

use super::serialize::{display, display_or_null};
use crate::domain::ids::{AppId, Name};
use crate::domain::zone::BillingZone;
use serde::Serialize;

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
    /// The app's billing time zone.
    #[serde(serialize_with = "display")]
    pub time_zone: BillingZone,
}

impl AppsAnswer {
    /// The caller's apps, listed in `AppId` byte order whatever order they
    /// come in.
    pub fn new(
        request_id: &str,
        apps: impl IntoIterator<Item = (AppId, Option<Name>, BillingZone)>,
    ) -> Self {
        let mut apps: Vec<AppEntry> = apps
            .into_iter()
            .map(|(app_id, app_name, time_zone)| AppEntry {
                app_id,
                app_name,
                time_zone,
            })
            .collect();
        apps.sort_by(|a, b| a.app_id.cmp(&b.app_id));
        AppsAnswer {
            request_id: request_id.to_owned(),
            apps,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::*;

    #[test]
    fn describe_apps_answer() {
        let answer = AppsAnswer::new(
            "req-1",
            [
                (app("a_1"), None, BillingZone::utc()),
                (
                    app("a-1"),
                    Some(name("Math \"101\" — 数学")),
                    BillingZone::parse("Asia/Calcutta").unwrap(),
                ),
                (app("B"), Some(name("b")), BillingZone::utc()),
            ],
        );
        assert_eq!(
            json(&answer),
            r#"{"RequestId":"req-1","Apps":[{"AppId":"B","AppName":"b","TimeZone":"UTC"},{"AppId":"a-1","AppName":"Math \"101\" — 数学","TimeZone":"Asia/Calcutta"},{"AppId":"a_1","AppName":null,"TimeZone":"UTC"}]}"#
        );
        assert_eq!(
            json(&AppsAnswer::new("req-2", [])),
            r#"{"RequestId":"req-2","Apps":[]}"#
        );
    }
}
