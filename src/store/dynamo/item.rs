//! Items and their attributes: encoding domain values into DynamoDB
//! attributes, decoding them back, and building update expressions. The
//! attributes here are those several aggregates share (the expiry, the
//! usage counters, a row's milliseconds); every other attribute name lives
//! in the file of the aggregate whose items carry it.

use crate::domain::commit::Sign;
use crate::domain::time::UtcMillis;
use crate::domain::usage::{ModeUsage, RecordMode, Tier};
use crate::store::{StoreError, StoreResult};
use aws_sdk_dynamodb::types::AttributeValue;
use std::collections::HashMap;
use std::str::FromStr;

pub type Item = HashMap<String, AttributeValue>;

/// TTL attribute (epoch seconds) of hourly items, dedupe records, user
/// marks and storage measurements, and of nonces and request counters.
pub const EXPIRES_AT: &str = "expires_at";
/// Milliseconds of a details row: an audio/video row, or a class's
/// recording on one day.
pub const ROW_MS: &str = "ms";

/// `r{mode}_{tier}`, e.g. `r1_720`: milliseconds of mode 1 (mixed) at 720p.
pub fn counter_attr(mode: RecordMode, tier: Tier) -> String {
    format!("r{}_{}", mode.as_str(), tier.short_name())
}

pub fn s(text: impl Into<String>) -> AttributeValue {
    AttributeValue::S(text.into())
}
pub fn n(number: impl ToString) -> AttributeValue {
    AttributeValue::N(number.to_string())
}
/// DynamoDB's TTL is epoch seconds.
pub fn epoch_seconds(at: UtcMillis) -> AttributeValue {
    n(at.0.div_euclid(1000))
}

pub fn get_s<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
}

pub fn get_n(item: &Item, name: &str) -> StoreResult<Option<u64>> {
    number(item, name, || {
        StoreError::Corrupt(format!("{name} is not a whole number"))
    })
}

/// A number attribute as a `T`, if present; `corrupt()` if it is not one.
pub(super) fn number<T: FromStr>(
    item: &Item,
    name: &str,
    corrupt: impl FnOnce() -> StoreError,
) -> StoreResult<Option<T>> {
    match item.get(name) {
        None => Ok(None),
        Some(v) => v
            .as_n()
            .ok()
            .and_then(|t| t.parse().ok())
            .map(Some)
            .ok_or_else(corrupt),
    }
}

/// The usage counters of an hour or day item, absent ones as zero.
/// `h{mode}_{tier}`: of an hour's milliseconds, those before the hour's
/// cut (a local hour of the app's zone starting inside the UTC hour).
pub fn head_attr(mode: RecordMode, tier: Tier) -> String {
    format!("h{}_{}", mode.as_str(), tier.short_name())
}

pub fn usage_of(item: &Item) -> StoreResult<ModeUsage> {
    counters_of(item, counter_attr)
}

/// The part before the hour's cut, of an hour item.
pub fn head_of(item: &Item) -> StoreResult<ModeUsage> {
    counters_of(item, head_attr)
}

fn counters_of(item: &Item, attr: fn(RecordMode, Tier) -> String) -> StoreResult<ModeUsage> {
    let mut usage = ModeUsage::default();
    for mode in RecordMode::ALL {
        for tier in Tier::ALL {
            if let Some(ms) = get_n(item, &attr(mode, tier))? {
                usage.add(mode, tier, ms);
            }
        }
    }
    Ok(usage)
}

/// How [`UpdateExpr::counters`] writes the usage counters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CounterWrite {
    /// `ADD` each non-zero counter (adding zero would only cost bytes).
    Add,
    /// `SET` every counter, zeros included, replacing what is stored.
    Set,
}

/// An update expression under construction: attribute names and values go
/// through numbered placeholders, so any attribute name is safe and no two
/// clauses collide. Conditions use the same placeholders ([`Self::name`],
/// [`Self::value`]).
#[derive(Debug, Default)]
pub struct UpdateExpr {
    pub names: HashMap<String, String>,
    pub values: HashMap<String, AttributeValue>,
    add: Vec<String>,
    set: Vec<String>,
    remove: Vec<String>,
    /// Usage counters are taken back rather than added (a void's group).
    take: bool,
}

impl UpdateExpr {
    /// An expression whose usage counters ([`Self::count`]) go in the
    /// direction of `sign`.
    pub fn counting(sign: Sign) -> Self {
        UpdateExpr {
            take: sign == Sign::Take,
            ..UpdateExpr::default()
        }
    }

    /// `ADD`s `ms` to a usage counter, or takes it back: DynamoDB's `ADD`
    /// of a negative number.
    pub fn count(&mut self, attr: &str, ms: u64) -> &mut Self {
        let value = if self.take {
            AttributeValue::N(format!("-{ms}"))
        } else {
            n(ms)
        };
        self.add(attr, value)
    }

    /// The placeholder of an attribute name.
    pub fn name(&mut self, attr: &str) -> String {
        let placeholder = format!("#a{}", self.names.len());
        self.names.insert(placeholder.clone(), attr.to_owned());
        placeholder
    }

    /// The placeholder of a value.
    pub fn value(&mut self, value: AttributeValue) -> String {
        let placeholder = format!(":v{}", self.values.len());
        self.values.insert(placeholder.clone(), value);
        placeholder
    }

    pub fn add(&mut self, attr: &str, value: AttributeValue) -> &mut Self {
        let clause = format!("{} {}", self.name(attr), self.value(value));
        self.add.push(clause);
        self
    }

    pub fn set(&mut self, attr: &str, value: AttributeValue) -> &mut Self {
        let clause = format!("{} = {}", self.name(attr), self.value(value));
        self.set.push(clause);
        self
    }

    pub fn remove(&mut self, attr: &str) -> &mut Self {
        let clause = self.name(attr);
        self.remove.push(clause);
        self
    }

    /// The usage counters of both record modes.
    /// Adds the part before an hour's cut (the counters not zero).
    pub fn head_counters(&mut self, head: &ModeUsage) -> &mut Self {
        for (mode, tier, ms) in head.counters() {
            self.count(&head_attr(mode, tier), ms);
        }
        self
    }

    pub fn counters(&mut self, usage: &ModeUsage, how: CounterWrite) -> &mut Self {
        for mode in RecordMode::ALL {
            for tier in Tier::ALL {
                let ms = usage.mode(mode).get(tier);
                match how {
                    CounterWrite::Add if ms == 0 => {}
                    CounterWrite::Add => {
                        self.count(&counter_attr(mode, tier), ms);
                    }
                    CounterWrite::Set => {
                        self.set(&counter_attr(mode, tier), n(ms));
                    }
                }
            }
        }
        self
    }

    /// `ADD … SET … REMOVE …`, the clauses present.
    pub fn expression(&self) -> String {
        [
            ("ADD", &self.add),
            ("SET", &self.set),
            ("REMOVE", &self.remove),
        ]
        .into_iter()
        .filter(|(_, clauses)| !clauses.is_empty())
        .map(|(verb, clauses)| format!("{verb} {}", clauses.join(", ")))
        .collect::<Vec<_>>()
        .join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::dynamo::recording::{ROLLED_SEQ, SEQ};

    #[test]
    fn counters_added_skip_zeros_and_counters_set_write_all() {
        let mut usage = ModeUsage::default();
        usage.add(RecordMode::Mixed, Tier::V720, 1500);
        let mut added = UpdateExpr::default();
        added
            .counters(&usage, CounterWrite::Add)
            .set(EXPIRES_AT, n(7));
        assert_eq!(added.expression(), "ADD #a0 :v0 SET #a1 = :v1");
        assert_eq!(added.names["#a0"], "r1_720");
        assert_eq!(added.values[":v0"], n(1500));

        let mut set = UpdateExpr::default();
        set.counters(&usage, CounterWrite::Set).remove(SEQ);
        assert_eq!(set.values.len(), 8, "every counter, zeros included");
        assert!(set.expression().starts_with("SET #a0 = :v0, "));
        assert!(set.expression().ends_with(" REMOVE #a8"));
    }

    #[test]
    fn a_void_takes_counters_back_with_negative_adds() {
        let mut usage = ModeUsage::default();
        usage.add(RecordMode::Mixed, Tier::V720, 1500);
        let mut taken = UpdateExpr::counting(Sign::Take);
        taken.counters(&usage, CounterWrite::Add).add(SEQ, n(1));
        assert_eq!(taken.values[":v0"], n("-1500"));
        assert_eq!(taken.values[":v1"], n(1), "only usage counters change sign");
    }

    #[test]
    fn stored_numbers_that_are_not_whole_are_corrupt() {
        let item = Item::from([(SEQ.to_owned(), n("1.5"))]);
        assert!(get_n(&item, SEQ).is_err());
        assert_eq!(get_n(&item, ROLLED_SEQ), Ok(None));
    }
}
