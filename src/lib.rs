//! rtc-usage: usage metering for a real-time-communication platform.
//!
//! - [`domain`]: the core — time buckets, tiers, validation, usage arithmetic
//!   in integer milliseconds, errors. No AWS types, no I/O.
//! - [`store`]: the storage port ([`store::UsageStore`]) and its adapters
//!   (DynamoDB, in-memory, fault-injecting).
//! - [`bus`]: the alerts' publishing port ([`bus::AlertBus`]) and its
//!   EventBridge adapter.
//! - [`secrets`]: AccessKey secrets at rest — the sealing port
//!   ([`secrets::SecretSealer`]), its KMS adapter, and the cache of opened
//!   secrets.
//! - [`service`]: the three use cases — query, ingest, rollup — over any store.
//! - [`entry`]: what the Lambda binaries share — configuration, logging, and
//!   the mapping of API Gateway / SQS / EventBridge payloads onto the services.
//! - [`testkit`] (feature `testkit`, never in the Lambda binaries): the local
//!   DynamoDB and the tables of `template.yaml`, for tests and tools.

pub mod bus;
pub mod domain;
pub mod entry;
pub mod secrets;
pub mod service;
pub mod store;
#[cfg(feature = "testkit")]
pub mod testkit;
