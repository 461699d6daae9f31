//! The core: everything about usage that is true whatever stores or serves it.
//! No AWS types, no I/O, no clock reads (callers pass `now`).

pub mod access_key;
pub mod alert;
pub mod class;
pub mod commit;
#[cfg(test)]
mod contract_limits;
pub mod correction;
pub mod deduction;
pub mod details;
pub mod error;
pub mod event;
pub mod export;
pub mod ids;
pub mod params;
pub mod query;
pub mod registration;
pub mod retention;
pub mod rollup;
pub mod signature;
pub mod statement;
pub mod storage;
pub mod time;
pub mod usage;
pub mod usage_api;
pub mod zone;
