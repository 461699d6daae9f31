//! What a client's DynamoDB requests cost, by AWS's billing rules, computed
//! from the requests actually sent (and, for `Query`, the items returned):
//! a write unit per KB of each item written, twice inside a transaction,
//! cancelled transactions included; a read unit per 4 KB read strongly
//! consistent, half that eventually consistent. For the tests and the benchmark:
//! attach it with `aws_sdk_dynamodb::config::Builder::interceptor`.
//!
//! An `UpdateItem`'s size is taken from what the request sends (key and
//! values), a lower bound of the item it writes; the benchmark checks that
//! every stored item is under 1 KB, where the two agree (one unit).

use aws_sdk_dynamodb::config::interceptors::{
    AfterDeserializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
};
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;
use aws_smithy_types::config_bag::{Storable, StoreReplace};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// Totals since the last reset.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CapacityUse {
    pub requests: BTreeMap<String, u64>,
    pub write_units: f64,
    pub read_units: f64,
}

impl CapacityUse {
    pub fn total_requests(&self) -> u64 {
        self.requests.values().sum()
    }
}

#[derive(Clone, Debug, Default)]
pub struct RequestMeter {
    totals: Arc<Mutex<CapacityUse>>,
}

/// What the request side knew, handed to the response side.
#[derive(Clone, Debug)]
struct PendingRead {
    consistent: bool,
}

impl Storable for PendingRead {
    type Storer = StoreReplace<Self>;
}

impl RequestMeter {
    pub fn snapshot(&self) -> CapacityUse {
        self.totals.lock().expect("meter lock").clone()
    }

    pub fn total(&self) -> u64 {
        self.snapshot().total_requests()
    }

    pub fn reset(&self) {
        *self.totals.lock().expect("meter lock") = CapacityUse::default();
    }

    /// Adds units, and a request of `operation` if there is one.
    fn add(&self, operation: Option<&str>, write_units: f64, read_units: f64) {
        let mut totals = self.totals.lock().expect("meter lock");
        if let Some(operation) = operation {
            *totals.requests.entry(operation.to_owned()).or_default() += 1;
        }
        totals.write_units += write_units;
        totals.read_units += read_units;
    }
}

impl Intercept for RequestMeter {
    fn name(&self) -> &'static str {
        "RequestMeter"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let request = context.request();
        let operation = request
            .headers()
            .get("x-amz-target")
            .and_then(|t| t.rsplit('.').next())
            .unwrap_or("unknown")
            .to_owned();
        let body = json_body(request.body());
        let consistent = body["ConsistentRead"].as_bool().unwrap_or(false);
        let read_factor = if consistent { 1.0 } else { 0.5 };
        let (writes, reads) = match operation.as_str() {
            "TransactWriteItems" => (
                items(&body["TransactItems"])
                    .map(|a| 2.0 * write_units(action_size(a)))
                    .sum(),
                0.0,
            ),
            "PutItem" => (write_units(item_size(&body["Item"])), 0.0),
            "UpdateItem" => (write_units(update_size(&body)), 0.0),
            "DeleteItem" => (1.0, 0.0),
            "BatchWriteItem" => {
                let requests = body["RequestItems"]
                    .as_object()
                    .into_iter()
                    .flat_map(|t| t.values());
                (
                    requests
                        .flat_map(items)
                        .map(|r| write_units(item_size(&r["PutRequest"]["Item"])))
                        .sum(),
                    0.0,
                )
            }
            // Items of this service are far below 4 KB: one unit per item.
            "GetItem" => (0.0, read_factor),
            "BatchGetItem" => {
                let tables = body["RequestItems"]
                    .as_object()
                    .into_iter()
                    .flat_map(|t| t.values());
                let reads = tables
                    .map(|t| {
                        items(&t["Keys"]).count() as f64
                            * if t["ConsistentRead"].as_bool() == Some(true) {
                                1.0
                            } else {
                                0.5
                            }
                    })
                    .sum();
                (0.0, reads)
            }
            "TransactGetItems" => (0.0, 2.0 * items(&body["TransactItems"]).count() as f64),
            "Query" | "Scan" => {
                cfg.interceptor_state()
                    .store_put(PendingRead { consistent });
                (0.0, 0.0)
            }
            _ => (0.0, 0.0),
        };
        self.add(Some(&operation), writes, reads);
        Ok(())
    }

    fn read_after_deserialization(
        &self,
        context: &AfterDeserializationInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(pending) = cfg.load::<PendingRead>().cloned() else {
            return Ok(());
        };
        let body = json_body(context.response().body());
        let bytes: usize = items(&body["Items"]).map(item_size).sum();
        let units = (bytes as f64 / 4096.0).ceil().max(1.0);
        self.add(
            None,
            0.0,
            if pending.consistent {
                units
            } else {
                units / 2.0
            },
        );
        Ok(())
    }
}

fn json_body(body: &aws_smithy_types::body::SdkBody) -> Value {
    body.bytes()
        .and_then(|b| serde_json::from_slice(b).ok())
        .unwrap_or(Value::Null)
}

fn items(value: &Value) -> impl Iterator<Item = &Value> {
    value.as_array().into_iter().flatten()
}

fn write_units(bytes: usize) -> f64 {
    (bytes as f64 / 1024.0).ceil().max(1.0)
}

fn action_size(action: &Value) -> usize {
    if action["Put"].is_object() {
        item_size(&action["Put"]["Item"])
    } else if action["Update"].is_object() {
        update_size(&action["Update"])
    } else {
        item_size(&action["Delete"]["Key"]).max(item_size(&action["ConditionCheck"]["Key"]))
    }
}

/// The key, plus every value the update sets, under its attribute name.
fn update_size(update: &Value) -> usize {
    let names = update["ExpressionAttributeNames"].as_object();
    let values = update["ExpressionAttributeValues"].as_object();
    let named: usize = names
        .into_iter()
        .flatten()
        .map(|(_, n)| n.as_str().map_or(0, str::len))
        .sum();
    let valued: usize = values
        .into_iter()
        .flatten()
        .map(|(_, v)| value_size(v))
        .sum();
    item_size(&update["Key"]) + named + valued
}

/// DynamoDB's item size: attribute names plus values, as AWS documents it.
pub fn item_size(item: &Value) -> usize {
    item.as_object()
        .into_iter()
        .flatten()
        .map(|(name, value)| name.len() + value_size(value))
        .sum()
}

fn value_size(value: &Value) -> usize {
    let Some((kind, inner)) = value.as_object().and_then(|o| o.iter().next()) else {
        return 0;
    };
    match kind.as_str() {
        "S" | "B" => inner.as_str().map_or(0, str::len),
        "N" => number_size(inner.as_str().unwrap_or("0")),
        "BOOL" | "NULL" => 1,
        "SS" | "BS" => items(inner).map(|s| s.as_str().map_or(0, str::len)).sum(),
        "NS" => items(inner)
            .map(|n| number_size(n.as_str().unwrap_or("0")))
            .sum(),
        "L" => 3 + items(inner).map(|v| 1 + value_size(v)).sum::<usize>(),
        "M" => {
            3 + inner
                .as_object()
                .into_iter()
                .flatten()
                .map(|(k, v)| 1 + k.len() + value_size(v))
                .sum::<usize>()
        }
        _ => 0,
    }
}

/// One byte per two significant digits, plus one.
fn number_size(number: &str) -> usize {
    let digits: String = number.chars().filter(char::is_ascii_digit).collect();
    let significant = digits
        .trim_start_matches('0')
        .trim_end_matches('0')
        .len()
        .max(1);
    significant.div_ceil(2) + 1
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sizes_follow_the_documented_rules() {
        assert_eq!(item_size(&json!({"pk": {"S": "APP#a"}})), 2 + 5);
        assert_eq!(number_size("3600000"), 1 + 1, "trailing zeros are trimmed");
        assert_eq!(number_size("3600001"), 4 + 1);
        assert_eq!(number_size("123456789"), 5 + 1);
        assert_eq!(write_units(1024), 1.0);
        assert_eq!(write_units(1025), 2.0);
        assert_eq!(write_units(0), 1.0);
    }
}
