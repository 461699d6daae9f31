//! What the Lambda binaries share: configuration read once at start, logging,
//! the AWS client, and the translation of each trigger's payload onto a service.

pub mod config;
pub mod console;
pub mod http;
pub mod logging;
pub mod metrics;
pub mod schedule;
pub mod sqs;
