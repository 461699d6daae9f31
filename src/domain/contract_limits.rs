//! The contract's numeric limits, each pinned against the number the
//! contract writes, not against another constant: a change of any of them is
//! a change of the public contract and must show up here as a failing test.
//! Test-only; it reads each constant by its public path (the request rate
//! from the service that enforces it).

use crate::domain::class::{
    MAX_PACKAGE_LOOKBACK_DAYS, MAX_PACKAGE_MINUTES, MAX_PACKAGE_VALIDITY_DAYS,
};
use crate::domain::event::{MAX_CLOCK_SKEW_MS, MAX_LATENESS_MS, MAX_SEGMENT_MS};
use crate::domain::ids::Name;
use crate::domain::query::{MAX_LOOKBACK_MS, MAX_SPAN_MS, MIN_SPAN_MS};
use crate::domain::rollup::MAX_BACKFILL_DAYS;
use crate::domain::signature::SIGNATURE_WINDOW_MS;
use crate::domain::storage::MAX_BYTES;
use crate::domain::time::{REACH_DAYS, REACH_MS};
use crate::domain::usage_api::{
    DEFAULT_PAGE_SIZE, MAX_EXPORT_BYTES, MAX_PAGE_NUMBER, MAX_PAGE_SIZE,
};
use crate::service::signed::REQUESTS_PER_SECOND;

#[test]
fn queries_and_late_events_reach_back_366_days() {
    assert_eq!(REACH_DAYS, 366);
    assert_eq!(REACH_MS, 366 * 86_400_000);
    assert_eq!(MAX_LOOKBACK_MS, 366 * 86_400_000);
    assert_eq!(MAX_LATENESS_MS, 366 * 86_400_000);
}

#[test]
fn a_query_window_spans_5_minutes_to_31_days() {
    assert_eq!(MIN_SPAN_MS, 5 * 60 * 1000);
    assert_eq!(MAX_SPAN_MS, 2_678_400 * 1000);
}

#[test]
fn pages_and_exports() {
    assert_eq!(MAX_PAGE_NUMBER, 100_000);
    assert_eq!(MAX_PAGE_SIZE, 100);
    assert_eq!(DEFAULT_PAGE_SIZE, 20);
    assert_eq!(MAX_EXPORT_BYTES, 5_000_000);
}

#[test]
fn usage_intervals_last_at_most_48_hours_and_may_be_5_minutes_ahead() {
    assert_eq!(MAX_SEGMENT_MS, 48 * 3_600_000);
    assert_eq!(MAX_CLOCK_SKEW_MS, 5 * 60 * 1000);
}

#[test]
fn packages_storage_names_and_backfills() {
    assert_eq!(MAX_PACKAGE_MINUTES, 100_000_000);
    assert_eq!(MAX_PACKAGE_VALIDITY_DAYS, 366);
    assert_eq!(MAX_PACKAGE_LOOKBACK_DAYS, 367);
    assert_eq!(MAX_BYTES, 9_007_199_254_740_991);
    assert_eq!(Name::MAX_CHARS, 128);
    assert_eq!(MAX_BACKFILL_DAYS, 366);
}

#[test]
fn signed_requests_are_15_minutes_off_at_most_and_10_a_second() {
    assert_eq!(SIGNATURE_WINDOW_MS, 15 * 60 * 1000);
    assert_eq!(REQUESTS_PER_SECOND, 10);
}
