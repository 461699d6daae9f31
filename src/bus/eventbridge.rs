//! The publishing port over Amazon EventBridge: `PutEvents` on the
//! deployment's bus (`ALERT_EVENT_BUS_NAME`), every entry with the
//! contract's source and detail type. Throttling, 5xx answers and timeouts
//! are retried inside the request by the SDK's standard retry (as the
//! DynamoDB client's, `entry::config::sdk_retry_config`); an entry the bus
//! failed alone comes back as not taken, for the service to publish again.

use super::{AlertBus, BusError, BusEvent};
use crate::domain::alert::{ALERT_DETAIL_TYPE, ALERT_SOURCE};
use aws_sdk_eventbridge::Client;
use aws_sdk_eventbridge::error::{DisplayErrorContext, SdkError};
use aws_sdk_eventbridge::types::PutEventsRequestEntry;

/// The bus's name, set by `template.yaml` from the bus resource.
pub const BUS_ENV: &str = "ALERT_EVENT_BUS_NAME";

#[derive(Clone, Debug)]
pub struct EventBridgeBus {
    client: Client,
    bus_name: String,
}

impl EventBridgeBus {
    pub fn new(client: Client, bus_name: impl Into<String>) -> Self {
        EventBridgeBus {
            client,
            bus_name: bus_name.into(),
        }
    }
}

impl AlertBus for EventBridgeBus {
    async fn put(&self, events: &[BusEvent]) -> Result<Vec<bool>, BusError> {
        let entries = events
            .iter()
            .map(|event| {
                PutEventsRequestEntry::builder()
                    .event_bus_name(&self.bus_name)
                    .source(ALERT_SOURCE)
                    .detail_type(ALERT_DETAIL_TYPE)
                    .detail(&event.detail)
                    .build()
            })
            .collect();
        let out = self
            .client
            .put_events()
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|err| {
                let detail = DisplayErrorContext(&err).to_string();
                match err {
                    // A request the service understood and refused as
                    // invalid will be refused again.
                    SdkError::ServiceError(ref e)
                        if e.raw().status().as_u16() == 400 && !detail.contains("Throttl") =>
                    {
                        BusError::Refused(detail)
                    }
                    _ => BusError::Unavailable(detail),
                }
            })?;
        let results = out.entries();
        // One result per entry, in order; a missing one is not known to
        // have been taken.
        Ok((0..events.len())
            .map(|i| {
                results
                    .get(i)
                    .is_some_and(|r| r.error_code().is_none() && r.event_id().is_some())
            })
            .collect())
    }
}
