//! Integration tests: the services and Lambda entry points against a real
//! DynamoDB API (Amazon's DynamoDB Local), fed from the `events/` fixtures.

mod access_keys;
mod alerts;
mod classes;
mod console;
mod exact_json;
mod export;
mod ingest;
mod isolation;
mod local_time;
mod properties;
mod query;
mod recording_oracle;
mod rollup;
mod runtime_api;
mod sdk_requests;
mod settle;
mod signed;
mod statements;
mod storage;
mod store_contract;
mod support;
mod voids;
mod workload;
