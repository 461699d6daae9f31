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
