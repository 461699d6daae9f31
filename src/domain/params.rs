//! The query parameters as received: every value of every name, and the
//! action named by the `x-acs-action` header where the query names none. The
//! rules that judge them are in `usage_api`.

use std::collections::BTreeMap;

/// The parameter that names the action.
pub(super) const ACTION_PARAM: &str = "Action";

/// The query string as received: every value of every parameter name
/// (names are case-sensitive, as in the seed).
#[derive(Clone, Debug, Default)]
pub struct QueryParams(BTreeMap<String, Vec<String>>);

/// One parameter as the validation rules see it. A parameter given more than
/// once is ambiguous; it counts as present but fails its own format rule, so a
/// second `AppId` can never select another app.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Param<'a> {
    Absent,
    One(&'a str),
    Repeated,
}

impl<'a> Param<'a> {
    pub(super) fn present_non_empty(self) -> bool {
        !matches!(self, Param::Absent | Param::One(""))
    }

    pub(super) fn one(self) -> Option<&'a str> {
        match self {
            Param::One(value) => Some(value),
            _ => None,
        }
    }
}

impl QueryParams {
    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (name, value) in pairs {
            map.entry(name.into()).or_default().push(value.into());
        }
        QueryParams(map)
    }

    /// Alibaba's V3 signature carries the action in the `x-acs-action`
    /// header rather than an `Action` parameter. The header names the action
    /// when `Action` is absent (or empty); when both name one and they
    /// differ, or the header is repeated, the request names two actions, which
    /// fails like a repeated `Action` (`InvalidAction.NotFound`).
    pub fn with_action_header<'a>(mut self, header: impl IntoIterator<Item = &'a str>) -> Self {
        let header: Vec<&str> = header.into_iter().collect();
        if header.is_empty() {
            return self;
        }
        let values = self.0.entry(ACTION_PARAM.to_owned()).or_default();
        if values.is_empty() || values == &[""] {
            values.clear();
            values.extend(header.iter().map(|v| (*v).to_owned()));
        } else if header.iter().any(|v| values != &[*v]) {
            values.extend(header.iter().map(|v| (*v).to_owned()));
        }
        self
    }

    pub(super) fn get(&self, name: &str) -> Param<'_> {
        match self.0.get(name).map(Vec::as_slice) {
            None | Some([]) => Param::Absent,
            Some([one]) => Param::One(one),
            Some(_) => Param::Repeated,
        }
    }
}
