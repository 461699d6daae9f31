//! Interactive classes: `rtc.class.started` and `rtc.class.ended` (a
//! class's facts) and `rtc.class.session` (one user's presence, a usage
//! interval like a recording segment).

use super::fields::{
    app_id, class_id, instant, parse_data, required_name, required_string, truncate, usage_interval,
};
use crate::domain::class::{ClassFact, ClassFactEvent, Role, Session, UsageType};
use crate::domain::time::UtcMillis;
use serde::Deserialize;
use serde_json::Value;

/// The `data` of `rtc.class.started`, every field as given (see the module
/// root for why).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ClassStartedData {
    app_id: Option<Value>,
    class_id: Option<Value>,
    class_name: Option<Value>,
    start_time: Option<Value>,
}

/// The `data` of `rtc.class.ended`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ClassEndedData {
    app_id: Option<Value>,
    class_id: Option<Value>,
    end_time: Option<Value>,
}

/// The `data` of `rtc.class.session`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SessionData {
    app_id: Option<Value>,
    class_id: Option<Value>,
    user_id: Option<Value>,
    role: Option<Value>,
    usage_type: Option<Value>,
    start_time: Option<Value>,
    end_time: Option<Value>,
}

/// The class's name and start in `data`, at time `now`.
pub(super) fn started(data: &str, now: UtcMillis) -> Result<ClassFactEvent, String> {
    let data: ClassStartedData = parse_data(data)?;
    let app = app_id(&data.app_id)?;
    let class = class_id(&data.class_id)?;
    let name = required_name(&data.class_name, "data.className")?;
    let start = instant(&data.start_time, "data.startTime", now)?;
    Ok(ClassFactEvent {
        app,
        class,
        fact: ClassFact::Started { name, start },
    })
}

/// The class's end in `data`, at time `now`.
pub(super) fn ended(data: &str, now: UtcMillis) -> Result<ClassFactEvent, String> {
    let data: ClassEndedData = parse_data(data)?;
    let app = app_id(&data.app_id)?;
    let class = class_id(&data.class_id)?;
    let end = instant(&data.end_time, "data.endTime", now)?;
    Ok(ClassFactEvent {
        app,
        class,
        fact: ClassFact::Ended { end },
    })
}

/// The session in `data`, at time `now`.
pub(super) fn session(data: &str, now: UtcMillis) -> Result<Session, String> {
    let data: SessionData = parse_data(data)?;
    let app = app_id(&data.app_id)?;
    let class = class_id(&data.class_id)?;
    let user = required_name(&data.user_id, "data.userId")?;
    let role = required_string(&data.role, "data.role")?;
    let role = Role::parse(role).ok_or_else(|| {
        format!(
            "data.role must be teacher, assistant, student or spectator, not {:?}",
            truncate(role, 32)
        )
    })?;
    let usage = required_string(&data.usage_type, "data.usageType")?;
    let usage = UsageType::parse(usage).ok_or_else(|| {
        format!(
            "data.usageType must be interactive or playback, not {:?}",
            truncate(usage, 32)
        )
    })?;
    let (start, end) = usage_interval(&data.start_time, &data.end_time, now)?;
    Ok(Session {
        app,
        class,
        user,
        role,
        usage,
        start,
        end,
    })
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::{
        EventBody, TYPE_CLASS_ENDED, TYPE_CLASS_SESSION, TYPE_CLASS_STARTED, decode,
    };
    use super::*;
    use crate::domain::ids::Name;
    use serde_json::json;

    fn started() -> Value {
        json!({"appId": "app-1", "classId": "class-1", "className": "Math 101",
               "startTime": "2026-11-23T09:00:00Z"})
    }

    fn ended() -> Value {
        json!({"appId": "app-1", "classId": "class-1", "endTime": "2026-11-23T10:00:00Z"})
    }

    fn session_data() -> Value {
        json!({"appId": "app-1", "classId": "class-1", "userId": "user-1", "role": "student",
               "usageType": "interactive",
               "startTime": "2026-11-23T09:00:00Z", "endTime": "2026-11-23T10:00:00Z"})
    }

    #[test]
    fn decodes_a_class_start_with_an_offset_and_fractional_seconds() {
        let body = decoded(
            TYPE_CLASS_STARTED,
            with(
                started(),
                json!({"className": "🎓 数学 — مرحبا", "startTime": "2026-11-23T18:30:00.9999+08:00"}),
            ),
        );
        let EventBody::ClassFact(ClassFactEvent { app, class, fact }) = body else {
            panic!("{body:?}")
        };
        assert_eq!((app.as_str(), class.as_str()), ("app-1", "class-1"));
        assert_eq!(
            fact,
            ClassFact::Started {
                name: Name::parse("🎓 数学 — مرحبا").unwrap(),
                start: t("2026-11-23T10:30:00.999Z"),
            }
        );
    }

    #[test]
    fn decodes_a_class_end() {
        let body = decoded(TYPE_CLASS_ENDED, ended());
        let EventBody::ClassFact(ClassFactEvent { fact, .. }) = body else {
            panic!("{body:?}")
        };
        assert_eq!(
            fact,
            ClassFact::Ended {
                end: t("2026-11-23T10:00:00Z")
            }
        );
    }

    #[test]
    fn decodes_a_session_across_midnight() {
        let body = decoded(
            TYPE_CLASS_SESSION,
            with(
                session_data(),
                json!({"userId": "\u{5d0}\u{5d1}\u{5d2}-👩‍🏫", "role": "teacher", "usageType": "playback",
                       "startTime": "2026-11-21T23:59:30.5Z",
                       "endTime": "2026-11-22T08:10:00.123456+08:00"}),
            ),
        );
        let EventBody::ClassSession(session) = body else {
            panic!("{body:?}")
        };
        assert_eq!(session.user.as_str(), "\u{5d0}\u{5d1}\u{5d2}-👩‍🏫");
        assert_eq!(session.role, Role::Teacher);
        assert_eq!(session.usage, UsageType::Playback);
        assert_eq!(session.start, t("2026-11-21T23:59:30.500Z"));
        assert_eq!(session.end, t("2026-11-22T00:10:00.123Z"));
        assert_eq!(session.duration_ms(), 29_500 + 10 * 60_000 + 123);
        let utc = crate::domain::zone::BillingZone::utc();
        assert_eq!(
            session.days(&utc),
            vec![utc_day("2026-11-21"), utc_day("2026-11-22")]
        );
        let parts: Vec<u64> = utc
            .split(session.start, session.end)
            .iter()
            .map(|p| p.ms)
            .collect();
        assert_eq!(parts, [29_500, 600_123]);
    }

    #[test]
    fn every_role_and_usage_type_is_read() {
        for (text, role) in [
            ("teacher", Role::Teacher),
            ("assistant", Role::Assistant),
            ("student", Role::Student),
            ("spectator", Role::Spectator),
        ] {
            for (usage_text, usage) in [
                ("interactive", UsageType::Interactive),
                ("playback", UsageType::Playback),
            ] {
                let body = decoded(
                    TYPE_CLASS_SESSION,
                    with(
                        session_data(),
                        json!({"role": text, "usageType": usage_text}),
                    ),
                );
                let EventBody::ClassSession(session) = body else {
                    panic!("{body:?}")
                };
                assert_eq!((session.role, session.usage), (role, usage));
            }
        }
    }

    #[test]
    fn sessions_share_the_segments_range_edges() {
        // Exactly 48 hours, starting exactly 366 days ago, ending exactly
        // 5 minutes ahead: all accepted.
        for (start, end) in [
            ("2026-11-21T10:00:00Z", "2026-11-23T10:00:00Z"),
            ("2025-11-22T12:00:00Z", "2025-11-22T12:30:00Z"),
            ("2026-11-23T12:00:00Z", "2026-11-23T12:05:00Z"),
        ] {
            decoded(
                TYPE_CLASS_SESSION,
                with(session_data(), json!({"startTime": start, "endTime": end})),
            );
        }
    }

    #[test]
    fn class_times_have_the_sessions_range_edges() {
        let oldest = "2025-11-22T12:00:00Z";
        let latest = "2026-11-23T12:05:00Z";
        for time in [oldest, latest] {
            decoded(
                TYPE_CLASS_STARTED,
                with(started(), json!({"startTime": time})),
            );
            decoded(TYPE_CLASS_ENDED, with(ended(), json!({"endTime": time})));
        }
    }

    #[test]
    fn malformed_class_and_session_events_are_refused() {
        let session = |patch: Value| event(TYPE_CLASS_SESSION, with(session_data(), patch));
        let start = |patch: Value| event(TYPE_CLASS_STARTED, with(started(), patch));
        let end = |patch: Value| event(TYPE_CLASS_ENDED, with(ended(), patch));
        let long_name = "x".repeat(129);
        let long_id = "c".repeat(65);
        assert_refused_naming(vec![
            // A key given twice.
            (
                "className twice",
                raw_event(
                    TYPE_CLASS_STARTED,
                    r#"{"appId":"app-1","classId":"c","className":"A","className":"B","startTime":"2026-11-23T09:00:00Z"}"#,
                ),
                "className",
            ),
            (
                "className twice, first null",
                raw_event(
                    TYPE_CLASS_STARTED,
                    r#"{"appId":"app-1","classId":"c","className":null,"className":"B","startTime":"2026-11-23T09:00:00Z"}"#,
                ),
                "className",
            ),
            (
                "userId twice",
                raw_event(
                    TYPE_CLASS_SESSION,
                    r#"{"appId":"app-1","classId":"c","userId":"u","userId":"u","role":"student","usageType":"interactive","startTime":"2026-11-23T09:00:00Z","endTime":"2026-11-23T10:00:00Z"}"#,
                ),
                "userId",
            ),
            // Session ranges.
            (
                "session end equals start",
                session(json!({"endTime": "2026-11-23T09:00:00Z"})),
                "endTime",
            ),
            (
                "session end before start",
                session(json!({"endTime": "2026-11-23T08:59:59Z"})),
                "endTime",
            ),
            (
                "session ends in the same millisecond",
                session(
                    json!({"startTime": "2026-11-23T09:00:00.0001Z", "endTime": "2026-11-23T09:00:00.0009Z"}),
                ),
                "endTime",
            ),
            (
                "session end before start through offsets",
                session(
                    json!({"startTime": "2026-11-23T09:00:00Z", "endTime": "2026-11-23T10:00:00+02:00"}),
                ),
                "endTime",
            ),
            (
                "session 48 h + 1 ms",
                session(
                    json!({"startTime": "2026-11-21T10:00:00Z", "endTime": "2026-11-23T10:00:00.001Z"}),
                ),
                "endTime",
            ),
            (
                "session start older than 366 days",
                session(
                    json!({"startTime": "2025-11-22T11:59:59.999Z", "endTime": "2025-11-22T12:30:00Z"}),
                ),
                "startTime",
            ),
            (
                "session end more than 5 min ahead",
                session(
                    json!({"startTime": "2026-11-23T12:00:00Z", "endTime": "2026-11-23T12:05:00.001Z"}),
                ),
                "endTime",
            ),
            (
                "session startTime without offset",
                session(json!({"startTime": "2026-11-23T09:00:00"})),
                "startTime",
            ),
            (
                "session endTime a leap second",
                session(
                    json!({"startTime": "2026-06-30T23:59:00Z", "endTime": "2026-06-30T23:59:60Z"}),
                ),
                "endTime",
            ),
            (
                "session startTime epoch number",
                session(json!({"startTime": 1_795_428_000})),
                "startTime",
            ),
            // Roles and usage types.
            (
                "unknown role",
                session(json!({"role": "principal"})),
                "role",
            ),
            (
                "role in another case",
                session(json!({"role": "Teacher"})),
                "role",
            ),
            ("role number", session(json!({"role": 1})), "role"),
            (
                "unknown usageType",
                session(json!({"usageType": "live"})),
                "usageType",
            ),
            (
                "usageType as answers spell it",
                session(json!({"usageType": "Interactive"})),
                "usageType",
            ),
            (
                "usageType boolean",
                session(json!({"usageType": true})),
                "usageType",
            ),
            // Names.
            (
                "className NUL",
                start(json!({"className": "a\u{0}b"})),
                "className",
            ),
            (
                "className newline",
                start(json!({"className": "a\nb"})),
                "className",
            ),
            (
                "userId DEL",
                session(json!({"userId": "u\u{7f}"})),
                "userId",
            ),
            (
                "className 129 characters",
                start(json!({"className": long_name})),
                "className",
            ),
            (
                "userId 129 characters",
                session(json!({"userId": long_name})),
                "userId",
            ),
            (
                "empty className",
                start(json!({"className": ""})),
                "className",
            ),
            ("empty userId", session(json!({"userId": ""})), "userId"),
            (
                "className number",
                start(json!({"className": 101})),
                "className",
            ),
            ("userId number", session(json!({"userId": 42})), "userId"),
            // Identifiers.
            (
                "classId with a space",
                session(json!({"classId": "class 1"})),
                "classId",
            ),
            (
                "classId 65 characters",
                start(json!({"classId": long_id})),
                "classId",
            ),
            ("classId number", end(json!({"classId": 7})), "classId"),
            (
                "appId look-alike",
                session(json!({"appId": "аpp-1"})),
                "appId",
            ),
            // Missing and null.
            (
                "no userId",
                event(TYPE_CLASS_SESSION, without(session_data(), "userId")),
                "userId",
            ),
            (
                "no className",
                event(TYPE_CLASS_STARTED, without(started(), "className")),
                "className",
            ),
            (
                "no classId",
                event(TYPE_CLASS_ENDED, without(ended(), "classId")),
                "classId",
            ),
            ("null role", session(json!({"role": null})), "role"),
            (
                "null className",
                start(json!({"className": null})),
                "className",
            ),
            ("null endTime", end(json!({"endTime": null})), "endTime"),
            // Class times out of range.
            (
                "class start more than 5 min ahead",
                start(json!({"startTime": "2026-11-23T12:05:00.001Z"})),
                "startTime",
            ),
            (
                "class start older than 366 days",
                start(json!({"startTime": "2025-11-22T11:59:59.999Z"})),
                "startTime",
            ),
            (
                "class end more than 5 min ahead",
                end(json!({"endTime": "2026-11-23T20:05:01+08:00"})),
                "endTime",
            ),
            (
                "class end older than 366 days",
                end(json!({"endTime": "2025-01-01T00:00:00Z"})),
                "endTime",
            ),
            (
                "class start a leap second",
                start(json!({"startTime": "2026-06-30T23:59:60Z"})),
                "startTime",
            ),
            // Data not an object.
            (
                "session data an array",
                event(TYPE_CLASS_SESSION, json!([session_data()])),
                "data must be a JSON object",
            ),
            (
                "class end data null",
                event(TYPE_CLASS_ENDED, Value::Null),
                "data is missing",
            ),
        ]);
    }

    #[test]
    fn reasons_never_echo_long_input() {
        let huge = "Teacher".repeat(10_000);
        let r = decode(
            &event(
                TYPE_CLASS_SESSION,
                with(session_data(), json!({"role": huge})),
            ),
            now(),
        )
        .unwrap_err();
        assert!(r.reason.contains("data.role"), "{}", r.reason);
        assert!(r.reason.len() < 200, "{}", r.reason);
        // Control characters in an echoed value are escaped, not written.
        let r = decode(
            &event(
                TYPE_CLASS_SESSION,
                with(session_data(), json!({"usageType": "live\nreplay"})),
            ),
            now(),
        )
        .unwrap_err();
        assert!(!r.reason.contains('\n'), "{}", r.reason);
    }
}
