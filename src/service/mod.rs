//! The three use cases, over any [`crate::store::UsageStore`]. Entry points
//! translate Lambda payloads into these calls and nothing more.

mod access;
pub mod alerts;
pub mod ingest;
pub mod query;
pub mod rollup;
pub mod settle;
pub mod signed;
pub mod statements;
#[cfg(test)]
mod tests;
pub mod turns;
pub mod usage;
mod voids;
