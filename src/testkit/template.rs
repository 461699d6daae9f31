//! The tables and function environments of `template.yaml`, read from the
//! template itself: it is the one description of the table schema. Tests,
//! the benchmark, the soak and the local run create their tables through
//! [`Template::create_table`], so a schema change in the template is what they
//! all run against, and nothing else holds a copy.
//!
//! This reads what the template uses, not CloudFormation in general: tables
//! (`AWS::DynamoDB::Table`) with their attribute definitions, key schema,
//! global secondary indexes, billing mode and time to live; functions'
//! `Environment.Variables` (merged over `Globals.Function`), whose values are
//! strings, or `!Ref` to a table or to an event bus (`AWS::Events::EventBus`,
//! which local runs stand up under its logical id); `!Ref` to a parameter
//! is its default. Anything else in those places is an error,
//! so the template cannot drift from what local runs stand up.
//! Point-in-time recovery, encryption and deletion policies have no local
//! meaning and are skipped.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, TimeToLiveSpecification,
};
use serde_yaml_ng::Value;
use std::collections::BTreeMap;
use std::path::Path;

type Error = String;

/// Table properties without a local meaning.
const SKIPPED_TABLE_PROPERTIES: [&str; 2] =
    ["PointInTimeRecoverySpecification", "SSESpecification"];

#[derive(Clone, Debug, PartialEq)]
pub struct TableSpec {
    pub logical_id: String,
    pub attributes: Vec<(String, ScalarAttributeType)>,
    pub key_schema: Vec<(String, KeyType)>,
    pub indexes: Vec<IndexSpec>,
    pub billing_mode: BillingMode,
    pub ttl_attribute: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct IndexSpec {
    pub name: String,
    pub key_schema: Vec<(String, KeyType)>,
    pub projection: ProjectionType,
    /// With `INCLUDE`: the attributes projected besides the keys.
    pub non_key_attributes: Vec<String>,
}

/// A function as the template builds it: its binary and its environment,
/// each `!Ref` to a table or an event bus named by the resource's logical
/// id (as local runs name them).
#[derive(Clone, Debug, PartialEq)]
pub struct FunctionSpec {
    pub logical_id: String,
    pub binary: String,
    /// Variable → either a literal or the logical id of a table or bus.
    pub environment: BTreeMap<String, EnvValue>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum EnvValue {
    Literal(String),
    ResourceRef(String),
}

/// An HTTP API (`AWS::Serverless::HttpApi`): the stage variables its
/// `$default` stage hands the function with every request, which a local
/// stand-in for the API must hand it too.
#[derive(Clone, Debug, PartialEq)]
pub struct HttpApiSpec {
    pub logical_id: String,
    pub stage_variables: BTreeMap<String, String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Template {
    pub tables: Vec<TableSpec>,
    /// The logical ids of the event buses.
    pub event_buses: Vec<String>,
    pub functions: Vec<FunctionSpec>,
    pub http_apis: Vec<HttpApiSpec>,
}

impl Template {
    /// The project's own `template.yaml`.
    pub fn project() -> Result<Self, Error> {
        Self::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("template.yaml"))
    }

    pub fn load(path: &Path) -> Result<Self, Error> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        Self::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    pub fn parse(text: &str) -> Result<Self, Error> {
        let doc: Value = serde_yaml_ng::from_str(text).map_err(|e| e.to_string())?;
        let resources = doc
            .get("Resources")
            .and_then(Value::as_mapping)
            .ok_or("no Resources")?;
        let global_env = doc
            .get("Globals")
            .and_then(|g| g.get("Function"))
            .and_then(|f| f.get("Environment"));
        let mut tables = Vec::new();
        let mut functions = Vec::new();
        let mut http_apis = Vec::new();
        let mut event_buses = Vec::new();
        for (id, resource) in resources {
            let id = id.as_str().ok_or("a resource id is not a string")?;
            let within = |e: Error| format!("{id}: {e}");
            match resource.get("Type").and_then(Value::as_str) {
                Some("AWS::DynamoDB::Table") => {
                    tables.push(table(id, resource.get("Properties")).map_err(within)?)
                }
                Some("AWS::Serverless::Function") => {
                    functions.push(function(id, resource, global_env).map_err(within)?)
                }
                Some("AWS::Serverless::HttpApi") => {
                    http_apis.push(http_api(id, resource.get("Properties")).map_err(within)?)
                }
                Some("AWS::Events::EventBus") => event_buses.push(id.to_owned()),
                _ => {}
            }
        }
        // A `!Ref` to a parameter is the parameter's default, as a stack
        // deployed without overrides has it.
        let defaults: BTreeMap<String, String> = doc
            .get("Parameters")
            .and_then(Value::as_mapping)
            .into_iter()
            .flatten()
            .filter_map(|(name, spec)| {
                let default = spec.get("Default")?;
                let default = match default {
                    Value::String(s) => s.clone(),
                    Value::Number(n) => n.to_string(),
                    _ => return None,
                };
                Some((name.as_str()?.to_owned(), default))
            })
            .collect();
        for f in &mut functions {
            for value in f.environment.values_mut() {
                if let EnvValue::ResourceRef(t) = value
                    && let Some(default) = defaults.get(t)
                {
                    *value = EnvValue::Literal(default.clone());
                }
            }
        }
        for f in &functions {
            for value in f.environment.values() {
                if let EnvValue::ResourceRef(t) = value
                    && !tables.iter().any(|table| &table.logical_id == t)
                    && !event_buses.contains(t)
                {
                    return Err(format!(
                        "{}: !Ref {t} names no table or event bus",
                        f.logical_id
                    ));
                }
            }
        }
        Ok(Template {
            tables,
            event_buses,
            functions,
            http_apis,
        })
    }

    pub fn table(&self, logical_id: &str) -> Option<&TableSpec> {
        self.tables.iter().find(|t| t.logical_id == logical_id)
    }

    /// The one table the functions use (the template has exactly one).
    pub fn only_table(&self) -> &TableSpec {
        match self.tables.as_slice() {
            [table] => table,
            other => panic!("expected one table in template.yaml, found {}", other.len()),
        }
    }
}

fn text<'a>(value: Option<&'a Value>, what: &str) -> Result<&'a str, Error> {
    value
        .and_then(Value::as_str)
        .ok_or_else(|| format!("{what} must be a string"))
}

fn list<'a>(value: Option<&'a Value>, what: &str) -> Result<&'a Vec<Value>, Error> {
    value
        .and_then(Value::as_sequence)
        .ok_or_else(|| format!("{what} must be a list"))
}

fn only_keys(value: &Value, allowed: &[&str], what: &str) -> Result<(), Error> {
    let map = value
        .as_mapping()
        .ok_or_else(|| format!("{what} must be a mapping"))?;
    for key in map.keys() {
        let key = key.as_str().unwrap_or("?");
        if !allowed.contains(&key) {
            return Err(format!("{what}: {key} is not supported locally"));
        }
    }
    Ok(())
}

fn key_schema(value: Option<&Value>) -> Result<Vec<(String, KeyType)>, Error> {
    list(value, "KeySchema")?
        .iter()
        .map(|k| {
            let name = text(k.get("AttributeName"), "AttributeName")?;
            let kind = match text(k.get("KeyType"), "KeyType")? {
                "HASH" => KeyType::Hash,
                "RANGE" => KeyType::Range,
                other => return Err(format!("KeyType {other}")),
            };
            Ok((name.to_owned(), kind))
        })
        .collect()
}

/// Stage variables are plain strings here; anything else (an intrinsic
/// function) could not be handed over locally, so it is refused.
fn http_api(id: &str, properties: Option<&Value>) -> Result<HttpApiSpec, Error> {
    let mut stage_variables = BTreeMap::new();
    if let Some(variables) = properties.and_then(|p| p.get("StageVariables")) {
        let variables = variables
            .as_mapping()
            .ok_or("StageVariables is not a mapping")?;
        for (name, value) in variables {
            let name = name
                .as_str()
                .ok_or("a stage variable name is not a string")?;
            let value = match value {
                Value::String(text) => text,
                _ => return Err(format!("stage variable {name} is not a plain string")),
            };
            stage_variables.insert(name.to_owned(), value.to_owned());
        }
    }
    Ok(HttpApiSpec {
        logical_id: id.to_owned(),
        stage_variables,
    })
}

fn table(id: &str, properties: Option<&Value>) -> Result<TableSpec, Error> {
    let p = properties.ok_or("no Properties")?;
    let mut allowed = vec![
        "BillingMode",
        "AttributeDefinitions",
        "KeySchema",
        "GlobalSecondaryIndexes",
        "TimeToLiveSpecification",
    ];
    allowed.extend(SKIPPED_TABLE_PROPERTIES);
    only_keys(p, &allowed, "table Properties")?;
    let attributes = list(p.get("AttributeDefinitions"), "AttributeDefinitions")?
        .iter()
        .map(|a| {
            let name = text(a.get("AttributeName"), "AttributeName")?;
            let kind = match text(a.get("AttributeType"), "AttributeType")? {
                "S" => ScalarAttributeType::S,
                "N" => ScalarAttributeType::N,
                "B" => ScalarAttributeType::B,
                other => return Err(format!("AttributeType {other}")),
            };
            Ok((name.to_owned(), kind))
        })
        .collect::<Result<_, Error>>()?;
    let indexes = match p.get("GlobalSecondaryIndexes") {
        None => Vec::new(),
        some => list(some, "GlobalSecondaryIndexes")?
            .iter()
            .map(|index| {
                only_keys(index, &["IndexName", "KeySchema", "Projection"], "index")?;
                let projection = index.get("Projection").ok_or("index without Projection")?;
                only_keys(
                    projection,
                    &["ProjectionType", "NonKeyAttributes"],
                    "Projection",
                )?;
                let non_key_attributes = match projection.get("NonKeyAttributes") {
                    None => Vec::new(),
                    some => list(some, "NonKeyAttributes")?
                        .iter()
                        .map(|a| text(Some(a), "NonKeyAttributes").map(str::to_owned))
                        .collect::<Result<_, Error>>()?,
                };
                let projection = match text(projection.get("ProjectionType"), "ProjectionType")? {
                    "KEYS_ONLY" => ProjectionType::KeysOnly,
                    "ALL" => ProjectionType::All,
                    "INCLUDE" => ProjectionType::Include,
                    other => return Err(format!("ProjectionType {other}")),
                };
                Ok(IndexSpec {
                    name: text(index.get("IndexName"), "IndexName")?.to_owned(),
                    key_schema: key_schema(index.get("KeySchema"))?,
                    projection,
                    non_key_attributes,
                })
            })
            .collect::<Result<_, Error>>()?,
    };
    let billing_mode = match p.get("BillingMode").map(|b| text(Some(b), "BillingMode")) {
        None => return Err("no BillingMode (provisioned tables are not supported locally)".into()),
        Some(mode) => match mode? {
            "PAY_PER_REQUEST" => BillingMode::PayPerRequest,
            other => return Err(format!("BillingMode {other}")),
        },
    };
    let ttl_attribute = match p.get("TimeToLiveSpecification") {
        None => None,
        Some(ttl) => (ttl.get("Enabled").and_then(Value::as_bool) == Some(true))
            .then(|| text(ttl.get("AttributeName"), "TTL AttributeName").map(str::to_owned))
            .transpose()?,
    };
    Ok(TableSpec {
        logical_id: id.to_owned(),
        attributes,
        key_schema: key_schema(p.get("KeySchema"))?,
        indexes,
        billing_mode,
        ttl_attribute,
    })
}

fn environment(
    environment: Option<&Value>,
    into: &mut BTreeMap<String, EnvValue>,
) -> Result<(), Error> {
    let Some(variables) = environment.and_then(|e| e.get("Variables")) else {
        return Ok(());
    };
    let variables = variables
        .as_mapping()
        .ok_or("Environment.Variables must be a mapping")?;
    for (name, value) in variables {
        let name = name.as_str().ok_or("a variable name is not a string")?;
        let value = match value {
            Value::String(s) => EnvValue::Literal(s.clone()),
            Value::Number(n) => EnvValue::Literal(n.to_string()),
            Value::Bool(b) => EnvValue::Literal(b.to_string()),
            Value::Tagged(tagged) if tagged.tag == "Ref" => {
                EnvValue::ResourceRef(text(Some(&tagged.value), "!Ref")?.to_owned())
            }
            _ => {
                return Err(format!(
                    "{name}: only strings and !Ref to a table or event bus are supported locally"
                ));
            }
        };
        into.insert(name.to_owned(), value);
    }
    Ok(())
}

fn function(id: &str, resource: &Value, global_env: Option<&Value>) -> Result<FunctionSpec, Error> {
    let binary = text(
        resource
            .get("Metadata")
            .and_then(|m| m.get("BuildProperties"))
            .and_then(|b| b.get("Binary")),
        "Metadata.BuildProperties.Binary",
    )?;
    let mut env = BTreeMap::new();
    environment(global_env, &mut env)?;
    environment(
        resource
            .get("Properties")
            .and_then(|p| p.get("Environment")),
        &mut env,
    )?;
    Ok(FunctionSpec {
        logical_id: id.to_owned(),
        binary: binary.to_owned(),
        environment: env,
    })
}

impl TableSpec {
    /// Creates this table under `name` (tables are named by CloudFormation in
    /// AWS; locally each test or run picks its own).
    pub async fn create(&self, client: &Client, name: &str) -> Result<(), Error> {
        let key = |(attr, kind): &(String, KeyType)| {
            KeySchemaElement::builder()
                .attribute_name(attr)
                .key_type(kind.clone())
                .build()
                .map_err(|e| e.to_string())
        };
        let keys =
            |schema: &[(String, KeyType)]| schema.iter().map(key).collect::<Result<Vec<_>, _>>();
        let mut request = client
            .create_table()
            .table_name(name)
            .billing_mode(self.billing_mode.clone())
            .set_key_schema(Some(keys(&self.key_schema)?));
        for (attr, kind) in &self.attributes {
            request = request.attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name(attr)
                    .attribute_type(kind.clone())
                    .build()
                    .map_err(|e| e.to_string())?,
            );
        }
        for index in &self.indexes {
            request = request.global_secondary_indexes(
                GlobalSecondaryIndex::builder()
                    .index_name(&index.name)
                    .set_key_schema(Some(keys(&index.key_schema)?))
                    .projection(
                        Projection::builder()
                            .projection_type(index.projection.clone())
                            .set_non_key_attributes(
                                (!index.non_key_attributes.is_empty())
                                    .then(|| index.non_key_attributes.clone()),
                            )
                            .build(),
                    )
                    .build()
                    .map_err(|e| e.to_string())?,
            );
        }
        request.send().await.map_err(|e| {
            format!(
                "create table {name}: {}",
                aws_sdk_dynamodb::error::DisplayErrorContext(e)
            )
        })?;
        if let Some(attr) = &self.ttl_attribute {
            client
                .update_time_to_live()
                .table_name(name)
                .time_to_live_specification(
                    TimeToLiveSpecification::builder()
                        .attribute_name(attr)
                        .enabled(true)
                        .build()
                        .map_err(|e| e.to_string())?,
                )
                .send()
                .await
                .map_err(|e| {
                    format!(
                        "time to live on {name}: {}",
                        aws_sdk_dynamodb::error::DisplayErrorContext(e)
                    )
                })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_project_template_declares_what_the_store_uses() {
        let template = Template::project().unwrap();
        let table = template.only_table();
        assert_eq!(table.logical_id, "UsageTable");
        assert_eq!(
            table.key_schema,
            vec![("pk".into(), KeyType::Hash), ("sk".into(), KeyType::Range)]
        );
        assert_eq!(table.ttl_attribute.as_deref(), Some("expires_at"));
        let names: Vec<&str> = table.indexes.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(names, ["PendingRollup", "AppsByOwner", "UsageByDay"]);
        for f in &template.functions {
            assert_eq!(
                f.environment.get("USAGE_TABLE_NAME"),
                Some(&EnvValue::ResourceRef("UsageTable".into())),
                "{}",
                f.logical_id
            );
        }
        let mut binaries: Vec<&str> = template
            .functions
            .iter()
            .map(|f| f.binary.as_str())
            .collect();
        binaries.sort();
        assert_eq!(binaries, ["usage-ingest", "usage-query", "usage-rollup"]);
        let apis: Vec<(&str, Vec<(&str, &str)>)> = template
            .http_apis
            .iter()
            .map(|api| {
                let variables = api
                    .stage_variables
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                (api.logical_id.as_str(), variables)
            })
            .collect();
        assert_eq!(
            apis,
            [(
                "AlibabaApi",
                vec![("callerAuthentication", "AlibabaSignature")]
            )]
        );
    }

    #[test]
    fn stage_variables_must_be_plain_strings() {
        let with = |variables: &str| {
            Template::parse(&format!(
                "Resources:\n  A:\n    Type: AWS::Serverless::HttpApi\n    Properties:\n      StageVariables: {variables}\n"
            ))
        };
        assert_eq!(
            with("{a: b}").unwrap().http_apis[0].stage_variables["a"],
            "b"
        );
        assert!(with("{a: !Ref X}").is_err());
        assert!(with("[a]").is_err());
    }

    #[test]
    fn what_has_no_local_meaning_is_refused_not_ignored() {
        let with = |properties: &str| {
            Template::parse(&format!(
                "Resources:\n  T:\n    Type: AWS::DynamoDB::Table\n    Properties:\n{properties}"
            ))
        };
        let base = "      BillingMode: PAY_PER_REQUEST\n      AttributeDefinitions: [{AttributeName: pk, AttributeType: S}]\n      KeySchema: [{AttributeName: pk, KeyType: HASH}]\n";
        assert!(with(base).is_ok());
        assert!(
            with(&format!(
                "{base}      StreamSpecification: {{StreamViewType: NEW_IMAGE}}\n"
            ))
            .is_err()
        );
        assert!(with(&base.replace("PAY_PER_REQUEST", "PROVISIONED")).is_err());
        assert!(with(&base.replace("HASH", "SORT")).is_err());
        let function = |value: &str| {
            Template::parse(&format!(
                "Resources:\n  F:\n    Type: AWS::Serverless::Function\n    Metadata: {{BuildProperties: {{Binary: b}}}}\n    Properties:\n      Environment: {{Variables: {{X: {value}}}}}\n"
            ))
        };
        assert!(function("plain").is_ok());
        assert!(function("!Ref Missing").is_err(), "a !Ref to no table");
        assert!(function("!GetAtt T.Arn").is_err());
        let with_bus = Template::parse(
            "Resources:\n  Bus:\n    Type: AWS::Events::EventBus\n    Properties: {Name: x}\n  F:\n    Type: AWS::Serverless::Function\n    Metadata: {BuildProperties: {Binary: b}}\n    Properties:\n      Environment: {Variables: {X: !Ref Bus}}\n",
        )
        .unwrap();
        assert_eq!(with_bus.event_buses, ["Bus"]);
        assert_eq!(
            with_bus.functions[0].environment["X"],
            EnvValue::ResourceRef("Bus".into()),
            "a bus goes by its logical id, as a table"
        );
    }
}
