//! What the rollup is asked to do: the scheduled run, or a backfill of a day
//! range. Which trigger asked (a schedule's payload) is the entry point's
//! business; the backfill request is this service's own format.

use super::ids::AppId;
use super::time::Day;
use serde_json::Value;

pub const MAX_BACKFILL_DAYS: i64 = 366;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RollupRequest {
    /// Roll every (app, day) whose hourly usage changed since it was last rolled.
    Scheduled,
    /// Recompute these days (inclusive), for one app or every app with usage.
    Backfill {
        from: Day,
        to: Day,
        app: Option<AppId>,
    },
}

impl RollupRequest {
    /// Accepts `{"from": "YYYY-MM-DD", "to": "YYYY-MM-DD", "appId": optional}`
    /// and nothing else: both days inclusive, `to` not before `from`, at most
    /// [`MAX_BACKFILL_DAYS`] days.
    pub fn parse_backfill(payload: &Value) -> Result<Self, String> {
        let Some(object) = payload.as_object() else {
            return Err("the payload must be a JSON object".into());
        };
        if let Some(unknown) = object
            .keys()
            .find(|k| !["from", "to", "appId"].contains(&k.as_str()))
        {
            return Err(format!("unknown field {unknown:?} in a backfill request"));
        }
        let day = |name: &str| -> Result<Day, String> {
            object
                .get(name)
                .and_then(Value::as_str)
                .and_then(Day::parse_key)
                .ok_or_else(|| format!("{name} must be a date YYYY-MM-DD"))
        };
        let (from, to) = (day("from")?, day("to")?);
        if to < from {
            return Err("to must not be before from".into());
        }
        if to.0 - from.0 + 1 > MAX_BACKFILL_DAYS {
            return Err(format!(
                "a backfill covers at most {MAX_BACKFILL_DAYS} days"
            ));
        }
        let app = match object.get("appId") {
            None => None,
            Some(v) => Some(
                v.as_str()
                    .and_then(AppId::parse)
                    .ok_or("appId must be 1-64 of A-Z a-z 0-9 - _ .")?,
            ),
        };
        Ok(RollupRequest::Backfill { from, to, app })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn backfill() {
        let backfill = RollupRequest::parse_backfill(
            &json!({"from": "2024-02-28", "to": "2024-03-01", "appId": "a"}),
        )
        .unwrap();
        let RollupRequest::Backfill { from, to, app } = backfill else {
            panic!()
        };
        assert_eq!((to.0 - from.0, app.unwrap().as_str()), (2, "a"));
    }

    #[test]
    fn malformed_backfills_are_refused() {
        for bad in [
            json!(null),
            json!([]),
            json!({}),
            json!({"from": "2026-01-01"}),
            json!({"from": "2026-01-02", "to": "2026-01-01"}),
            json!({"from": "2025-01-01", "to": "2026-01-02"}),
            json!({"from": "2026-02-30", "to": "2026-03-01"}),
            json!({"from": "2026-1-1", "to": "2026-01-02"}),
            json!({"from": 20260101, "to": "2026-01-02"}),
            json!({"from": "2026-01-01", "to": "2026-01-02", "appId": "bad app"}),
            json!({"from": "2026-01-01", "to": "2026-01-02", "appId": 7}),
            json!({"from": "2026-01-01", "to": "2026-01-02", "app": "a"}),
        ] {
            assert!(RollupRequest::parse_backfill(&bad).is_err(), "{bad}");
        }
        assert!(
            RollupRequest::parse_backfill(&json!({"from": "2025-01-02", "to": "2026-01-02"}))
                .is_ok(),
            "366 days inclusive"
        );
    }
}
