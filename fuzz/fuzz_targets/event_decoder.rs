//! Any message body: decoded and validated or refused with a reason, never a
//! panic; a segment's hour parts always add up to its duration and fit one
//! transaction.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rtc_usage::domain::zone::BillingZone;
use rtc_usage::domain::commit::{Acknowledged, NewEvent, plan_commits};
use rtc_usage::domain::event::{EventBody, decode};
use rtc_usage::domain::time::UtcMillis;
use rtc_usage::store::UsageStore;
use rtc_usage::store::dynamo::DynamoStore;

/// The limit the functions plan with: DynamoDB's.
const LIMIT: usize = <DynamoStore as UsageStore>::MAX_COMMIT_ACTIONS;

fuzz_target!(|data: &[u8]| {
    let Ok(body) = std::str::from_utf8(data) else { return };
    let now = UtcMillis::parse_query_time("2026-11-23T12:00:00Z").unwrap();
    match decode(body, now) {
        Err(rejection) => assert!(!rejection.reason.is_empty()),
        Ok(event) => {
            if let EventBody::RecordingSegment(segment) = event.body {
                let parts = segment.hour_parts();
                assert_eq!(parts.iter().map(|(_, ms)| ms).sum::<u64>(), segment.duration_ms());
                assert!(parts.iter().all(|(_, ms)| *ms > 0));
                let zones = [(segment.app.clone(), BillingZone::utc())].into();
                let event = NewEvent::segment(event.key, segment);
                // Acknowledged a year later: the usage is late for its month.
                let ack = Acknowledged { at: now.plus_ms(366 * 86_400_000), grace_seconds: 0 };
                let groups = plan_commits([&event], &Default::default(), &zones, &ack, LIMIT);
                assert_eq!(groups.len(), 1);
                assert!(groups[0].action_count() <= LIMIT);
            }
        }
    }
});
