//! AccessKeys for Alibaba-signed access: their ids and secrets, the formats
//! the operator's command issues and the signed API accepts. Pure: the
//! randomness is the caller's (the operator's command reads the OS's random
//! source), so nothing here reads a clock or does I/O.

use std::fmt;

/// Every AccessKey id this project issues starts with this (Alibaba's own
/// start with `LTAI`; a distinct prefix tells the two apart at a glance).
pub const ACCESS_KEY_ID_PREFIX: &str = "RTCU";
/// An AccessKey id's length, as Alibaba's: the prefix and 20 random characters.
pub const ACCESS_KEY_ID_LEN: usize = 24;
/// An AccessKey secret's length, as Alibaba's.
pub const ACCESS_KEY_SECRET_LEN: usize = 30;

const ID_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const SECRET_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// An AccessKey id: [`ACCESS_KEY_ID_PREFIX`], then 20 of `A–Z 0–9` (about
/// 103 random bits). Parsing is strict, so anything a request names that is
/// not in this shape is unknown without a storage read, and no id can carry
/// a key separator into the storage layout.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AccessKeyId(String);

impl AccessKeyId {
    pub fn parse(text: &str) -> Option<Self> {
        let rest = text.strip_prefix(ACCESS_KEY_ID_PREFIX)?;
        (text.len() == ACCESS_KEY_ID_LEN && rest.bytes().all(|b| ID_ALPHABET.contains(&b)))
            .then(|| AccessKeyId(text.to_owned()))
    }

    /// A new id from `random`, which fills a buffer with random bytes (the
    /// OS's random source in production).
    pub fn generate(random: impl FnMut(&mut [u8])) -> Self {
        let tail = uniform_chars(
            ID_ALPHABET,
            ACCESS_KEY_ID_LEN - ACCESS_KEY_ID_PREFIX.len(),
            random,
        );
        AccessKeyId(format!("{ACCESS_KEY_ID_PREFIX}{tail}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AccessKeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An AccessKey secret: 30 of `A–Z a–z 0–9` (about 178 random bits). It has
/// no `Display`, and its `Debug` hides it, so it cannot reach a log line by
/// a stray `{}` or `{:?}`; [`AccessKeySecret::expose`] is the one way out.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessKeySecret(String);

impl AccessKeySecret {
    pub fn generate(random: impl FnMut(&mut [u8])) -> Self {
        AccessKeySecret(uniform_chars(
            SECRET_ALPHABET,
            ACCESS_KEY_SECRET_LEN,
            random,
        ))
    }

    /// The secret's text: to seal it, and to show it to the operator once.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for AccessKeySecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccessKeySecret(<redacted>)")
    }
}

/// `len` characters drawn uniformly from `alphabet`: random bytes at or
/// above the largest multiple of the alphabet's size are dropped (rejection
/// sampling), so no character is likelier than another.
fn uniform_chars(alphabet: &[u8], len: usize, mut random: impl FnMut(&mut [u8])) -> String {
    let size = alphabet.len();
    let accept_below = 256 - 256 % size;
    let mut out = String::with_capacity(len);
    let mut buffer = [0u8; 64];
    while out.len() < len {
        random(&mut buffer);
        for &b in &buffer {
            if usize::from(b) < accept_below && out.len() < len {
                out.push(char::from(alphabet[usize::from(b) % size]));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic byte stream for tests: 0, 1, 2, … wrapping.
    fn counting() -> impl FnMut(&mut [u8]) {
        let mut next = 0u8;
        move |buf: &mut [u8]| {
            for b in buf {
                *b = next;
                next = next.wrapping_add(1);
            }
        }
    }

    #[test]
    fn generated_ids_have_the_format_and_parse_back() {
        let id = AccessKeyId::generate(counting());
        assert_eq!(id.as_str().len(), ACCESS_KEY_ID_LEN);
        assert!(id.as_str().starts_with(ACCESS_KEY_ID_PREFIX));
        assert_eq!(AccessKeyId::parse(id.as_str()), Some(id.clone()));
        assert_eq!(id.as_str(), "RTCUABCDEFGHIJKLMNOPQRST");
    }

    #[test]
    fn generated_secrets_have_the_format_and_never_show_in_debug() {
        let secret = AccessKeySecret::generate(counting());
        assert_eq!(secret.expose().len(), ACCESS_KEY_SECRET_LEN);
        assert!(secret.expose().bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_eq!(format!("{secret:?}"), "AccessKeySecret(<redacted>)");
        assert!(!format!("{:?}", Some(&secret)).contains(secret.expose()));
    }

    #[test]
    fn bytes_that_would_bias_a_character_are_dropped() {
        // 252 = 7 × 36 and 248 = 4 × 62: bytes from there up are rejected;
        // the stream gives only those first, then zeros.
        let biased = |from: u8| {
            let mut calls = 0;
            move |buf: &mut [u8]| {
                calls += 1;
                buf.fill(if calls == 1 { from } else { 0 });
            }
        };
        assert_eq!(
            AccessKeyId::generate(biased(252)).as_str(),
            "RTCUAAAAAAAAAAAAAAAAAAAA"
        );
        assert_eq!(
            AccessKeySecret::generate(biased(248)).expose(),
            "A".repeat(30)
        );
        // 251 and 247 are the last bytes kept: the alphabets' last characters.
        assert!(
            AccessKeyId::generate(biased(251))
                .as_str()
                .ends_with("99999")
        );
        assert!(
            AccessKeySecret::generate(biased(247))
                .expose()
                .starts_with("99999")
        );
    }

    #[test]
    fn every_character_of_the_alphabets_is_drawn() {
        // A xorshift stream: varied bytes, the same every run.
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut random = move |buf: &mut [u8]| {
            for b in buf {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                *b = state as u8;
            }
        };
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..50 {
            seen.extend(AccessKeyId::generate(&mut random).as_str()[4..].bytes());
        }
        assert_eq!(seen.len(), ID_ALPHABET.len());
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..50 {
            seen.extend(AccessKeySecret::generate(&mut random).expose().bytes());
        }
        assert_eq!(seen.len(), SECRET_ALPHABET.len());
    }

    #[test]
    fn parsing_is_strict() {
        assert!(AccessKeyId::parse("RTCU0123456789ABCDEFGHIJ").is_some());
        for bad in [
            "",
            "RTCU",
            "RTCU0123456789ABCDEFGHI",
            "RTCU0123456789ABCDEFGHIJK",
            "rtcu0123456789ABCDEFGHIJ",
            "RTCU0123456789abcdefghij",
            "LTAI0123456789ABCDEFGHIJ",
            "RTCU0123456789ABCDEFGHI#",
            "RTCU0123456789ABCDEFGH\u{0130}",
            "RTCU0123456789ABCDEFGHＩ",
            " RTCU0123456789ABCDEFGHI",
            "RTCU0123456789ABCDEFGHI\n",
        ] {
            assert!(AccessKeyId::parse(bad).is_none(), "{bad:?}");
        }
    }
}
