//! Unit tests of the three services over the in-memory store and the
//! fault-injecting wrapper: the services' behaviour in milliseconds, with no
//! DynamoDB. The integration tests run the same services against DynamoDB
//! Local, and the store contract suite keeps the two stores alike.

mod alerts;
mod ingest;
mod query;
mod rollup;
mod statements;
mod support;
mod turns;
mod voids;
mod zones;
