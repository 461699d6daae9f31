//! CloudWatch Embedded Metric Format: one JSON line per invocation on stdout,
//! which CloudWatch Logs turns into metrics with no API call and no latency.

use serde_json::{Map, Value, json};
use std::time::{SystemTime, UNIX_EPOCH};

pub const NAMESPACE: &str = "RtcUsage";

#[derive(Clone, Debug)]
pub struct Metrics {
    function_name: Option<String>,
}

impl Metrics {
    /// Emits under the dimension `FunctionName` (from `AWS_LAMBDA_FUNCTION_NAME`,
    /// read once at start by the caller).
    pub fn to_stdout(function_name: impl Into<String>) -> Self {
        Metrics {
            function_name: Some(function_name.into()),
        }
    }

    /// Emits nothing (tests, tools).
    pub fn disabled() -> Self {
        Metrics {
            function_name: None,
        }
    }

    /// The EMF document for these counts, or `None` when disabled.
    pub fn document(&self, counts: &[(&str, u64)]) -> Option<Value> {
        let function_name = self.function_name.as_ref()?;
        let timestamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let definitions: Vec<Value> = counts
            .iter()
            .map(|(name, _)| json!({"Name": name, "Unit": "Count"}))
            .collect();
        let mut document = Map::new();
        document.insert(
            "_aws".into(),
            json!({
                "Timestamp": timestamp,
                "CloudWatchMetrics": [{
                    "Namespace": NAMESPACE,
                    "Dimensions": [["FunctionName"]],
                    "Metrics": definitions,
                }],
            }),
        );
        document.insert("FunctionName".into(), json!(function_name));
        for (name, value) in counts {
            document.insert((*name).to_owned(), json!(value));
        }
        Some(Value::Object(document))
    }

    pub fn emit(&self, counts: &[(&str, u64)]) {
        if let Some(document) = self.document(counts) {
            println!("{document}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn document_follows_the_embedded_metric_format() {
        let doc = Metrics::to_stdout("usage-ingest")
            .document(&[("EventsCounted", 9), ("DuplicatesSkipped", 1)])
            .unwrap();
        assert_eq!(doc["FunctionName"], "usage-ingest");
        assert_eq!(doc["EventsCounted"], 9);
        let definition = &doc["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(definition["Namespace"], NAMESPACE);
        assert_eq!(definition["Dimensions"], json!([["FunctionName"]]));
        assert_eq!(
            definition["Metrics"][1],
            json!({"Name": "DuplicatesSkipped", "Unit": "Count"})
        );
        assert!(doc["_aws"]["Timestamp"].as_u64().unwrap() > 1_700_000_000_000);
        assert!(Metrics::disabled().document(&[("X", 1)]).is_none());
    }
}
