//! What the usage API's tests share: fixed instants and ids, a valid request
//! of each action, edits of its parameters, and running the validation.

use super::{Action, ApiRequest, validate_request};
use crate::domain::error::{ApiError, ErrorCode};
use crate::domain::ids::{AppId, Name};
use crate::domain::query::QueryParams;
use crate::domain::time::{Day, UtcMillis};
use serde::Serialize;

pub(super) const NOW: &str = "2026-11-23T12:00:00Z";

pub(super) fn t(text: &str) -> UtcMillis {
    UtcMillis::parse_query_time(text).unwrap()
}

pub(super) fn now() -> UtcMillis {
    t(NOW)
}

pub(super) fn app(text: &str) -> AppId {
    AppId::parse(text).unwrap()
}

pub(super) fn name(text: &str) -> Name {
    Name::parse(text).unwrap()
}

pub(super) fn day(key: &str) -> Day {
    Day::parse_key(key).unwrap()
}

pub(super) type Pairs = Vec<(String, String)>;
/// Parameters to replace (`Some`) or remove (`None`).
pub(super) type Changes<'a> = &'a [(&'a str, Option<&'a str>)];

/// A valid request of `action`, every optional parameter absent.
pub(super) fn valid(action: Action) -> Pairs {
    let window = [
        ("StartTime", "2026-11-20T00:00:00Z"),
        ("EndTime", "2026-11-21T00:00:00Z"),
        ("AppId", "app-1"),
    ];
    let mut pairs = vec![("Action", action.as_str())];
    match action {
        Action::RecordUsage => pairs.extend(window.into_iter().chain([("RecordMode", "0")])),
        Action::Apps => {}
        Action::UsageData | Action::UsageDetails | Action::ExportDetails => {
            pairs.extend(window.into_iter().chain([("ServiceType", "AudioVideo")]))
        }
        Action::Packages | Action::Statements | Action::Alerts => pairs.push(("AppId", "app-1")),
        Action::Statement => pairs.extend([("AppId", "app-1"), ("Month", "2026-11")]),
    }
    pairs
        .into_iter()
        .map(|(n, v)| (n.to_owned(), v.to_owned()))
        .collect()
}

/// `pairs` with each named parameter replaced (`Some`) or removed (`None`).
pub(super) fn with(mut pairs: Pairs, changes: Changes) -> Pairs {
    for (name, value) in changes {
        pairs.retain(|(n, _)| n != name);
        if let Some(v) = value {
            pairs.push(((*name).to_owned(), (*v).to_owned()));
        }
    }
    pairs
}

/// `pairs` with one more value for `name`.
pub(super) fn plus(mut pairs: Pairs, name: &str, value: &str) -> Pairs {
    pairs.push((name.to_owned(), value.to_owned()));
    pairs
}

pub(super) fn run(pairs: &Pairs) -> Result<ApiRequest, ApiError> {
    validate_request(&QueryParams::from_pairs(pairs.clone()), now())
}

pub(super) fn ok(pairs: &Pairs) -> ApiRequest {
    run(pairs).unwrap_or_else(|e| panic!("{pairs:?} refused: {e}"))
}

pub(super) fn err(pairs: &Pairs) -> &'static str {
    run(pairs).expect_err("must be refused").code.code()
}

/// The parameter a `MissingParameter` names.
pub(super) fn missing(pairs: &Pairs) -> String {
    let e = run(pairs).expect_err("must be refused");
    assert_eq!(e.code, ErrorCode::MissingParameter, "{pairs:?}");
    e.message.split('"').nth(1).unwrap().to_owned()
}

/// Starting from `state`, applies each step's changes in turn and checks
/// the rule that answers after it (None: the request passes): each rule
/// is shown to answer before every rule after it.
pub(super) fn walk(state: Pairs, steps: &[(Changes, Option<&str>)]) -> ApiRequest {
    let mut state = state;
    let mut last = None;
    for (changes, expected) in steps {
        state = with(state, changes);
        match expected {
            Some(code) => assert_eq!(err(&state), *code, "after {changes:?}"),
            None => last = Some(ok(&state)),
        }
    }
    last.expect("the walk ends with a valid request")
}

/// The answer as exact JSON text.
pub(super) fn json(value: &impl Serialize) -> String {
    serde_json::to_string(value).unwrap()
}
