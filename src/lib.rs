//! rtc-usage: usage metering for a real-time-communication platform.
//!
//! - [`domain`]: the core — time buckets, tiers, validation, usage arithmetic
//!   in integer milliseconds, errors. No AWS types, no I/O.
//! - [`store`]: the storage port ([`store::UsageStore`]) and its adapters
//!   (DynamoDB, in-memory, fault-injecting).
//! - [`service`]: the three use cases — query, ingest, rollup — over any store.
//! - [`entry`]: what the Lambda binaries share — configuration, logging, and
//!   the mapping of API Gateway / SQS / EventBridge payloads onto the services.

pub mod domain;
pub mod entry;
pub mod service;
pub mod store;
pub mod testkit;
