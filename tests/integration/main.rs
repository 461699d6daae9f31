//! Integration tests: the services and Lambda entry points against a real
//! DynamoDB API (moto's server), fed from the `events/` fixtures.

mod ingest;
mod isolation;
mod properties;
mod query;
mod rollup;
mod store_contract;
mod support;
mod workload;
