//! JSON compared as the contract fixes it: field names and values, numbers by
//! their exact text ("61.5", not 61.50), in any field order.

use serde_json::value::RawValue;
use std::collections::BTreeMap;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum J {
    Obj(BTreeMap<String, J>),
    Arr(Vec<J>),
    /// A string (re-escaped canonically), a number as written, true/false/null.
    Leaf(String),
}

pub fn parse_j(text: &str) -> J {
    fn from_json<T: serde::de::DeserializeOwned>(text: &str) -> T {
        serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
    }
    let text = text.trim();
    match text.as_bytes().first() {
        Some(b'{') => {
            let map: BTreeMap<String, Box<RawValue>> = from_json(text);
            J::Obj(
                map.into_iter()
                    .map(|(k, v)| (k, parse_j(v.get())))
                    .collect(),
            )
        }
        Some(b'[') => {
            let items: Vec<Box<RawValue>> = from_json(text);
            J::Arr(items.iter().map(|v| parse_j(v.get())).collect())
        }
        Some(b'"') => {
            let string: String = from_json(text);
            J::Leaf(serde_json::to_string(&string).unwrap())
        }
        _ => J::Leaf(text.to_owned()),
    }
}

pub fn obj<const N: usize>(fields: [(&str, J); N]) -> J {
    J::Obj(fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
}

pub fn s(text: &str) -> J {
    J::Leaf(serde_json::to_string(text).unwrap())
}

pub fn null() -> J {
    J::Leaf("null".into())
}

pub fn opt(text: Option<&str>) -> J {
    text.map_or_else(null, s)
}

pub fn secs(ms: u64) -> J {
    J::Leaf(crate::workload::seconds_text(ms))
}

fn show(j: &J) -> String {
    match j {
        J::Leaf(text) => text.clone(),
        other => format!("{other:?}"),
    }
}

/// Where `got` first differs from `want`, as a path.
pub fn difference(got: &J, want: &J, path: &str) -> Option<String> {
    match (got, want) {
        (J::Obj(a), J::Obj(b)) => {
            let (ka, kb): (Vec<&String>, Vec<&String>) = (a.keys().collect(), b.keys().collect());
            if ka != kb {
                return Some(format!("{path}: fields {ka:?}, expected {kb:?}"));
            }
            a.iter()
                .find_map(|(k, v)| difference(v, &b[k], &format!("{path}.{k}")))
        }
        (J::Arr(a), J::Arr(b)) => a
            .iter()
            .zip(b)
            .enumerate()
            .find_map(|(i, (x, y))| difference(x, y, &format!("{path}[{i}]")))
            .or_else(|| {
                (a.len() != b.len())
                    .then(|| format!("{path}: {} elements, expected {}", a.len(), b.len()))
            }),
        _ => (got != want).then(|| format!("{path}: got {}, expected {}", show(got), show(want))),
    }
}
