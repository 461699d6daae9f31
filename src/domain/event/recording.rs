//! `rtc.recording.segment`: one recording segment, validated, and its split
//! at UTC hour boundaries.

use super::fields::{
    app_id, class_id, optional_positive_integer, parse_data, required_string, usage_interval,
};
use crate::domain::ids::{AppId, ClassId};
use crate::domain::time::{Hour, UtcMillis, split_at_hours};
use crate::domain::usage::{RecordMode, Tier};
use serde::Deserialize;
use serde_json::Value;

/// One recording segment, validated: `[start, end)` in whole milliseconds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Segment {
    pub app: AppId,
    /// The class the recording belongs to, when the producer says.
    pub class: Option<ClassId>,
    pub mode: RecordMode,
    pub tier: Tier,
    pub start: UtcMillis,
    pub end: UtcMillis,
}

impl Segment {
    /// The segment's milliseconds per UTC hour it touches; the parts always
    /// add up to `end - start`.
    pub fn hour_parts(&self) -> Vec<(Hour, u64)> {
        split_at_hours(self.start, self.end)
    }

    pub fn duration_ms(&self) -> u64 {
        (self.end.0 - self.start.0) as u64
    }
}

/// The `data` of `rtc.recording.segment`, every field as given (see the
/// module root for why).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SegmentData {
    app_id: Option<Value>,
    class_id: Option<Value>,
    record_mode: Option<Value>,
    media: Option<Value>,
    width: Option<Value>,
    height: Option<Value>,
    start_time: Option<Value>,
    end_time: Option<Value>,
}

/// The segment in `data`, at time `now`.
pub(super) fn segment(data: &str, now: UtcMillis) -> Result<Segment, String> {
    let data: SegmentData = parse_data(data)?;
    let app = app_id(&data.app_id)?;
    let mode = required_string(&data.record_mode, "data.recordMode")?;
    let mode = RecordMode::parse(mode).ok_or("data.recordMode must be \"0\" or \"1\"")?;
    let width = optional_positive_integer(&data.width, "data.width")?;
    let height = optional_positive_integer(&data.height, "data.height")?;
    let tier = match required_string(&data.media, "data.media")? {
        "audio" => Tier::Audio,
        "video" => match (width, height) {
            (Some(w), Some(h)) => Tier::for_video(w, h),
            _ => return Err("data.width and data.height are required for video".into()),
        },
        _ => return Err("data.media must be \"audio\" or \"video\"".into()),
    };
    let (start, end) = usage_interval(&data.start_time, &data.end_time, now)?;
    let class = match &data.class_id {
        None | Some(Value::Null) => None,
        some => Some(class_id(some)?),
    };
    Ok(Segment {
        app,
        class,
        mode,
        tier,
        start,
        end,
    })
}

#[cfg(test)]
mod tests {
    use super::super::testing::now;
    use super::super::{EventBody, EventKey, TYPE_RECORDING_SEGMENT, decode};
    use super::*;
    use crate::domain::time::HOUR_MS;
    use serde_json::json;

    fn segment_event(data: Value) -> String {
        json!({"specversion": "1.0", "id": "e-1", "source": "/recorder/1",
               "type": TYPE_RECORDING_SEGMENT, "time": "2026-11-23T11:00:00Z", "data": data})
        .to_string()
    }

    fn video(start: &str, end: &str) -> Value {
        json!({"appId": "app-1", "recordMode": "1", "media": "video", "width": 1280, "height": 720,
               "startTime": start, "endTime": end})
    }

    #[test]
    fn decodes_a_video_segment_with_offsets_and_fractions() {
        let e = decode(
            &segment_event(video(
                "2026-11-23T18:30:00.1239+08:00",
                "2026-11-23T10:31:00Z",
            )),
            now(),
        )
        .unwrap();
        let EventBody::RecordingSegment(s) = e.body else {
            panic!()
        };
        assert_eq!(s.tier, Tier::V720);
        assert_eq!(s.mode, RecordMode::Mixed);
        assert_eq!(s.duration_ms(), 60_000 - 123);
        assert_eq!(e.key, EventKey::of("/recorder/1", "e-1"));
    }

    #[test]
    fn split_parts_sum_to_whole_across_hour_day_and_year_ends() {
        let start = UtcMillis::parse_query_time("2026-12-31T22:59:59Z")
            .unwrap()
            .plus_ms(999);
        let seg = Segment {
            class: None,
            app: AppId::parse("a").unwrap(),
            mode: RecordMode::SingleStream,
            tier: Tier::Audio,
            start,
            end: start.plus_ms(2 * HOUR_MS + 5),
        };
        let parts = seg.hour_parts();
        let keys: Vec<String> = parts.iter().map(|(h, _)| h.key()).collect();
        assert_eq!(
            keys,
            [
                "2026-12-31T22",
                "2026-12-31T23",
                "2027-01-01T00",
                "2027-01-01T01"
            ]
        );
        assert_eq!(
            parts.iter().map(|p| p.1).collect::<Vec<_>>(),
            [1, 3_600_000, 3_600_000, 4]
        );
        assert_eq!(parts.iter().map(|p| p.1).sum::<u64>(), seg.duration_ms());
    }

    #[test]
    fn range_rules() {
        let cases = [
            ("2026-11-23T10:00:00Z", "2026-11-23T10:00:00Z", "later than"),
            (
                "2026-11-23T10:00:00.0001Z",
                "2026-11-23T10:00:00.0009Z",
                "later than",
            ),
            (
                "2026-11-21T10:00:00Z",
                "2026-11-23T10:00:00.001Z",
                "48 hours",
            ),
            (
                "2025-11-22T11:59:59.999Z",
                "2025-11-22T12:30:00Z",
                "366 days",
            ),
            ("2026-11-23T12:00:00Z", "2026-11-23T12:05:00.001Z", "future"),
        ];
        for (start, end, why) in cases {
            let r = decode(&segment_event(video(start, end)), now()).unwrap_err();
            assert!(r.reason.contains(why), "{start}..{end}: {}", r.reason);
            assert_eq!(r.event_id.as_deref(), Some("e-1"));
        }
        for (start, end) in [
            ("2026-11-21T10:00:00Z", "2026-11-23T10:00:00Z"),
            ("2025-11-22T12:00:00Z", "2025-11-22T12:30:00Z"),
            ("2026-11-23T12:00:00Z", "2026-11-23T12:05:00Z"),
        ] {
            assert!(
                decode(&segment_event(video(start, end)), now()).is_ok(),
                "{start}..{end}"
            );
        }
    }
}
