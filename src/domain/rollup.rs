//! What the rollup is asked to do: the scheduled run, or a backfill of a day range.

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
    /// Accepts EventBridge's scheduled-event payload, or
    /// `{"from": "YYYY-MM-DD", "to": "YYYY-MM-DD", "appId": optional}` and nothing else.
    pub fn parse(payload: &Value) -> Result<Self, String> {
        let Some(object) = payload.as_object() else {
            return Err("the payload must be a JSON object".into());
        };
        let is_backfill = ["from", "to", "appId"]
            .iter()
            .any(|k| object.contains_key(*k));
        if !is_backfill {
            let scheduled = object.get("detail-type").and_then(Value::as_str)
                == Some("Scheduled Event")
                && object.get("source").and_then(Value::as_str) == Some("aws.events");
            return if scheduled {
                Ok(RollupRequest::Scheduled)
            } else {
                Err(
                    "expected an EventBridge scheduled event or {\"from\", \"to\", \"appId\"?}"
                        .into(),
                )
            };
        }
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
    fn scheduled_event_and_backfill() {
        let scheduled = json!({"version": "0", "id": "x", "detail-type": "Scheduled Event",
            "source": "aws.events", "time": "2026-11-23T00:10:00Z", "detail": {}});
        assert_eq!(
            RollupRequest::parse(&scheduled),
            Ok(RollupRequest::Scheduled)
        );
        let backfill =
            RollupRequest::parse(&json!({"from": "2024-02-28", "to": "2024-03-01", "appId": "a"}))
                .unwrap();
        let RollupRequest::Backfill { from, to, app } = backfill else {
            panic!()
        };
        assert_eq!((to.0 - from.0, app.unwrap().as_str()), (2, "a"));
    }

    #[test]
    fn malformed_payloads_are_refused() {
        for bad in [
            json!(null),
            json!([]),
            json!({}),
            json!({"detail-type": "Scheduled Event"}),
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
            assert!(RollupRequest::parse(&bad).is_err(), "{bad}");
        }
        assert!(RollupRequest::parse(&json!({"from": "2025-01-02", "to": "2026-01-02"})).is_ok());
    }
}
