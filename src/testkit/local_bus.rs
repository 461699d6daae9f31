//! A local EventBridge bus with the template's example consumer: moto's
//! server (the one `LocalKms` starts) holds an event bus, a rule routing
//! `rtc.usage.alert` from it to an SQS queue, and the queue, as
//! `template.yaml` declares them. The functions publish to it through
//! their real EventBridge adapter; tests read what the consumer receives.

use super::LocalKms;
use crate::bus::eventbridge::EventBridgeBus;
use crate::domain::alert::{ALERT_DETAIL_TYPE, ALERT_SOURCE};
use serde_json::Value;

pub struct LocalBus {
    pub bus_name: String,
    pub queue_url: String,
    events: aws_sdk_eventbridge::Client,
    sqs: aws_sdk_sqs::Client,
}

impl LocalBus {
    /// A new bus named `name` (unique per test), its rule and its queue.
    pub async fn create(name: &str) -> Self {
        let sdk = LocalKms::shared().sdk_config();
        let events = aws_sdk_eventbridge::Client::new(&sdk);
        let sqs = aws_sdk_sqs::Client::new(&sdk);
        events
            .create_event_bus()
            .name(name)
            .send()
            .await
            .expect("create the event bus");
        let queue_url = sqs
            .create_queue()
            .queue_name(format!("{name}-consumer"))
            .send()
            .await
            .expect("create the consumer queue")
            .queue_url
            .expect("a queue url");
        let attributes = sqs
            .get_queue_attributes()
            .queue_url(&queue_url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
            .send()
            .await
            .expect("the queue's arn");
        let queue_arn = attributes
            .attributes()
            .and_then(|a| a.get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn))
            .expect("a queue arn")
            .clone();
        let pattern =
            serde_json::json!({"source": [ALERT_SOURCE], "detail-type": [ALERT_DETAIL_TYPE]});
        events
            .put_rule()
            .name(format!("{name}-alerts"))
            .event_bus_name(name)
            .event_pattern(pattern.to_string())
            .send()
            .await
            .expect("create the rule");
        events
            .put_targets()
            .rule(format!("{name}-alerts"))
            .event_bus_name(name)
            .targets(
                aws_sdk_eventbridge::types::Target::builder()
                    .id("consumer")
                    .arn(queue_arn)
                    .build()
                    .expect("a target"),
            )
            .send()
            .await
            .expect("route the rule to the queue");
        LocalBus {
            bus_name: name.to_owned(),
            queue_url,
            events,
            sqs,
        }
    }

    /// The functions' adapter, publishing to this bus.
    pub fn bus(&self) -> EventBridgeBus {
        EventBridgeBus::new(self.events.clone(), &self.bus_name)
    }

    /// Every event waiting on the consumer queue (each as EventBridge
    /// delivered it: `source`, `detail-type`, `detail`, …), taken off it.
    pub async fn receive(&self) -> Vec<Value> {
        let mut events = Vec::new();
        loop {
            let out = self
                .sqs
                .receive_message()
                .queue_url(&self.queue_url)
                .max_number_of_messages(10)
                .send()
                .await
                .expect("receive from the consumer queue");
            let messages = out.messages();
            if messages.is_empty() {
                return events;
            }
            for message in messages {
                let body = message.body().expect("a message body");
                events.push(serde_json::from_str(body).expect("an event as JSON"));
                self.sqs
                    .delete_message()
                    .queue_url(&self.queue_url)
                    .receipt_handle(message.receipt_handle().expect("a receipt handle"))
                    .send()
                    .await
                    .expect("delete the message");
            }
        }
    }
}
