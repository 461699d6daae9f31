//! Identifiers that cross the service's boundary, validated once on the way in.

use std::fmt;

/// Whether `text` is 1–64 characters of `A–Z a–z 0–9 - _ .`: the rule for
/// every identifier that becomes part of a storage key.
fn is_slug(text: &str) -> bool {
    (1..=64).contains(&text.len())
        && text
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

macro_rules! slug_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(String);

        impl $name {
            pub fn parse(text: &str) -> Option<Self> {
                is_slug(text).then(|| $name(text.to_owned()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

slug_id!(
    /// An application id: 1–64 characters of `A–Z a–z 0–9 - _ .`, case-sensitive.
    AppId
);
slug_id!(
    /// A class id, unique within its app: the same rule as an app id.
    ClassId
);
slug_id!(
    /// A package id, unique within its app: the same rule as an app id.
    PackageId
);

/// A name or user id as people write them: 1–128 Unicode scalar values, none
/// of them a control character (Unicode general category Cc), so a name can
/// never break a log line, a CSV row or a page.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Name(String);

impl Name {
    pub const MAX_CHARS: usize = 128;

    pub fn parse(text: &str) -> Option<Self> {
        let chars = text.chars().count();
        ((1..=Self::MAX_CHARS).contains(&chars) && !text.chars().any(char::is_control))
            .then(|| Name(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Name {
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
    fn class_and_package_ids_follow_the_app_id_rule() {
        assert!(ClassId::parse("class-1.a_B").is_some());
        assert!(PackageId::parse(&"p".repeat(64)).is_some());
        assert!(ClassId::parse("class 1").is_none());
        assert!(PackageId::parse(&"p".repeat(65)).is_none());
    }

    #[test]
    fn names_are_1_to_128_scalar_values_without_controls() {
        for good in [
            "a",
            "Math 101 — 数学",
            "🎓 class",
            "مرحبا",
            &"é".repeat(128),
            " spaced ",
        ] {
            assert!(Name::parse(good).is_some(), "{good:?}");
        }
        for bad in [
            "",
            &"x".repeat(129),
            "tab\there",
            "new\nline",
            "nul\0",
            "del\u{7f}",
            "c1\u{85}",
        ] {
            assert!(Name::parse(bad).is_none(), "{bad:?}");
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
