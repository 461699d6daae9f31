//! Creates the tables of `template.yaml` on a local DynamoDB and prints each
//! function's environment as the template sets it (for `scripts/run-local`):
//!
//! ```text
//! cargo run --example local_tables -- --endpoint http://127.0.0.1:8000 [--template template.yaml]
//! ```
//!
//! Tables are named by their logical id (CloudFormation names them in AWS).
//! A table that already exists is left as it is. Prints one JSON document:
//! `{"tables": {"UsageTable": "UsageTable"}, "functions": {"UsageQueryFunction":
//! {"binary": "usage-query", "environment": {"USAGE_TABLE_NAME": "UsageTable"}}},
//! "httpApis": {"AlibabaApi": {"stageVariables": {"callerAuthentication": "AlibabaSignature"}}},
//! "eventBuses": ["AlertBus"]}`; an event bus, like a table, goes by its
//! logical id (run-local creates it on its local EventBridge).

use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use rtc_usage::testkit::template::{EnvValue, Template};
use serde_json::{Map, Value, json};
use std::path::PathBuf;

fn usage() -> ! {
    eprintln!("usage: local_tables --endpoint URL [--template FILE]");
    std::process::exit(2)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut endpoint = None;
    let mut template = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("template.yaml");
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--endpoint" => endpoint = Some(args.next().unwrap_or_else(|| usage())),
            "--template" => template = PathBuf::from(args.next().unwrap_or_else(|| usage())),
            _ => usage(),
        }
    }
    let endpoint = endpoint.unwrap_or_else(|| usage());
    let template = Template::load(&template).unwrap_or_else(|e| {
        eprintln!("local_tables: {e}");
        std::process::exit(1)
    });
    let client = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("local", "local", None, None, "local"))
            .endpoint_url(endpoint)
            .build(),
    );
    let existing = client
        .list_tables()
        .send()
        .await
        .map(|out| out.table_names.unwrap_or_default())
        .unwrap_or_else(|e| {
            eprintln!(
                "local_tables: {}",
                aws_sdk_dynamodb::error::DisplayErrorContext(e)
            );
            std::process::exit(1)
        });
    let mut tables = Map::new();
    for table in &template.tables {
        if !existing.contains(&table.logical_id)
            && let Err(e) = table.create(&client, &table.logical_id).await
        {
            eprintln!("local_tables: {e}");
            std::process::exit(1)
        }
        tables.insert(table.logical_id.clone(), json!(table.logical_id));
    }
    let mut functions = Map::new();
    for function in &template.functions {
        let environment: Map<String, Value> = function
            .environment
            .iter()
            .map(|(name, value)| {
                let value = match value {
                    EnvValue::Literal(text) => text.clone(),
                    // Tables and buses are named by their logical id here.
                    EnvValue::ResourceRef(table) => table.clone(),
                };
                (name.clone(), json!(value))
            })
            .collect();
        functions.insert(
            function.logical_id.clone(),
            json!({"binary": function.binary, "environment": environment}),
        );
    }
    let http_apis: Map<String, Value> = template
        .http_apis
        .iter()
        .map(|api| {
            let variables = json!(api.stage_variables);
            (
                api.logical_id.clone(),
                json!({ "stageVariables": variables }),
            )
        })
        .collect();
    println!(
        "{}",
        json!({"tables": tables, "functions": functions, "httpApis": http_apis,
            "eventBuses": template.event_buses})
    );
}
