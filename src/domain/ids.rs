//! Identifiers that cross the service's boundary, validated once on the way in.

use std::fmt;

/// An application id: 1–64 characters of `A–Z a–z 0–9 - _ .`, case-sensitive.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AppId(String);

impl AppId {
    pub fn parse(text: &str) -> Option<Self> {
        let ok = (1..=64).contains(&text.len())
            && text
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'));
        ok.then(|| AppId(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AppId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An AWS account id: exactly 12 ASCII digits.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AccountId(String);

impl AccountId {
    pub fn parse(text: &str) -> Option<Self> {
        (text.len() == 12 && text.bytes().all(|c| c.is_ascii_digit()))
            .then(|| AccountId(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_id_charset_and_length() {
        for good in ["a", "app-1", "A.b_C-9", &"x".repeat(64)] {
            assert!(AppId::parse(good).is_some(), "{good}");
        }
        for bad in [
            "",
            &"x".repeat(65),
            "app 1",
            " app",
            "app\n",
            "app/1",
            "app#1",
            "app%2D1",
            "аpp",
            "app\u{200b}",
            "app\0",
            "ａｐｐ",
        ] {
            assert!(AppId::parse(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn account_id_is_twelve_digits() {
        assert!(AccountId::parse("123456789012").is_some());
        for bad in [
            "",
            "12345678901",
            "1234567890123",
            "12345678901a",
            "１２３４５６７８９０１２",
        ] {
            assert!(AccountId::parse(bad).is_none(), "{bad:?}");
        }
    }
}
