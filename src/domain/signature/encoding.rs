//! The byte-level encodings both signatures are built from, written out here
//! so that every rule is visible and matches the SDKs' own.
//!
//! - Parameters are read the way the SDKs write them and the way the query
//!   API reads them (`application/x-www-form-urlencoded` as in the WHATWG URL
//!   standard, like the `form_urlencoded` crate): split at `&`, empty pieces
//!   skipped, name and value split at the first `=` (a piece without one is a
//!   name with an empty value), `+` is a space, `%XX` is the byte `0xXX`, and a
//!   `%` not followed by two hex digits stays a literal `%`. The SDKs write
//!   query strings and form bodies with Python's `urllib.parse.urlencode`
//!   (spaces as `+`, everything else outside `A–Z a–z 0–9 - _ . ~` as `%XX`).
//! - Decoding yields bytes, not text: a value that is not UTF-8 is re-encoded
//!   byte for byte, so two different byte strings never look alike to the
//!   signature.
//! - Names and values are signed in the RFC 3986 encoding both algorithms
//!   use (`quote(value, safe='~')` in the Python SDK, `percentEncode` in the
//!   others): `A–Z a–z 0–9 - _ . ~` as themselves, every other byte as `%XX`
//!   with upper-case hex digits, a space as `%20` (never `+`), `*` as `%2A`.

/// One decoded parameter: name and value, as bytes.
pub(super) type Pair = (Vec<u8>, Vec<u8>);

/// RFC 3986's unreserved characters, the only ones signed unencoded.
fn is_unreserved(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~')
}

const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";
const HEX_LOWER: &[u8; 16] = b"0123456789abcdef";

/// Appends `bytes` in the RFC 3986 encoding the signatures use.
pub(super) fn percent_encode(bytes: &[u8], out: &mut String) {
    for &byte in bytes {
        if is_unreserved(byte) {
            out.push(char::from(byte));
        } else {
            out.push('%');
            out.push(char::from(HEX_UPPER[usize::from(byte >> 4)]));
            out.push(char::from(HEX_UPPER[usize::from(byte & 0x0f)]));
        }
    }
}

fn hex_value(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

/// Decodes one form-encoded name or value: `+` is a space, `%XX` a byte, any
/// other `%` itself.
pub(super) fn form_decode(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        match input[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let high = input.get(i + 1).copied().and_then(hex_value);
                let low = input.get(i + 2).copied().and_then(hex_value);
                if let (Some(high), Some(low)) = (high, low) {
                    out.push(high << 4 | low);
                    i += 3;
                    continue;
                }
                out.push(b'%');
            }
            byte => out.push(byte),
        }
        i += 1;
    }
    out
}

/// Every parameter of a query string or form body, in the order given
/// (repeats kept: each one is signed).
pub(super) fn form_pairs(input: &[u8]) -> Vec<Pair> {
    input
        .split(|&b| b == b'&')
        .filter(|piece| !piece.is_empty())
        .map(|piece| match piece.iter().position(|&b| b == b'=') {
            Some(at) => (form_decode(&piece[..at]), form_decode(&piece[at + 1..])),
            None => (form_decode(piece), Vec::new()),
        })
        .collect()
}

/// `name=value&…` over the pairs sorted by name, then value (bytewise, which
/// for UTF-8 is code point order: Python's `sorted` over the names), each
/// percent-encoded. The SDKs sign a map, so they never repeat a name; a
/// repeat here is kept and ordered by value, so that every parameter the
/// request carries is covered by the signature.
pub(super) fn canonical_pairs<'p>(pairs: impl IntoIterator<Item = &'p Pair>) -> String {
    let mut sorted: Vec<&Pair> = pairs.into_iter().collect();
    sorted.sort();
    let mut out = String::new();
    for (index, (name, value)) in sorted.into_iter().enumerate() {
        if index > 0 {
            out.push('&');
        }
        percent_encode(name, &mut out);
        out.push('=');
        percent_encode(value, &mut out);
    }
    out
}

/// Lower-case hex, the form of `x-acs-content-sha256` and of the ACS3
/// signature.
pub(super) fn hex_lower(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for &byte in bytes {
        out.push(char::from(HEX_LOWER[usize::from(byte >> 4)]));
        out.push(char::from(HEX_LOWER[usize::from(byte & 0x0f)]));
    }
    out
}

/// Decodes exactly `N` bytes of lower-case hex (the SDKs' only spelling).
pub(super) fn hex_lower_decode<const N: usize>(text: &str) -> Option<[u8; N]> {
    let bytes = text.as_bytes();
    if bytes.len() != 2 * N {
        return None;
    }
    let digit = |byte: u8| match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        _ => None,
    };
    let mut out = [0u8; N];
    for (slot, pair) in out.iter_mut().zip(bytes.chunks_exact(2)) {
        *slot = digit(pair[0])? << 4 | digit(pair[1])?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(bytes: &[u8]) -> String {
        let mut out = String::new();
        percent_encode(bytes, &mut out);
        out
    }

    #[test]
    fn rfc3986_like_pythons_quote_with_only_tilde_safe() {
        // Expected strings from `urllib.parse.quote(s, safe='~')`.
        assert_eq!(encoded(b"AZaz09-_.~"), "AZaz09-_.~");
        assert_eq!(encoded(b" *+/=&%:"), "%20%2A%2B%2F%3D%26%25%3A");
        assert_eq!(encoded("ü测".as_bytes()), "%C3%BC%E6%B5%8B");
        assert_eq!(encoded(&[0x00, 0xff]), "%00%FF");
    }

    #[test]
    fn form_decoding_like_the_whatwg_standard() {
        assert_eq!(form_decode(b"a+b%20c"), b"a b c");
        assert_eq!(form_decode(b"%2a%2A"), b"**");
        assert_eq!(form_decode(b"%"), b"%");
        assert_eq!(form_decode(b"%4"), b"%4");
        assert_eq!(form_decode(b"%zz"), b"%zz");
        assert_eq!(form_decode(b"%C3%BC"), "ü".as_bytes());
        assert_eq!(form_decode(b"%FF"), [0xff]);
    }

    #[test]
    fn pairs_split_at_the_first_equals_and_skip_empty_pieces() {
        let pairs = form_pairs(b"&a=1=2&&b&c=&=d&");
        let expected: Vec<Pair> = vec![
            (b"a".to_vec(), b"1=2".to_vec()),
            (b"b".to_vec(), vec![]),
            (b"c".to_vec(), vec![]),
            (vec![], b"d".to_vec()),
        ];
        assert_eq!(pairs, expected);
        assert!(form_pairs(b"").is_empty());
    }

    #[test]
    fn canonical_pairs_sort_by_name_then_value() {
        let pairs = form_pairs(b"b=2&a=z&a=y&A=1&c");
        assert_eq!(canonical_pairs(&pairs), "A=1&a=y&a=z&b=2&c=");
        assert_eq!(canonical_pairs(&[]), "");
    }

    #[test]
    fn hex_round_trip_only_in_lower_case() {
        let bytes = [0x00, 0x9f, 0xab, 0xff];
        assert_eq!(hex_lower(&bytes), "009fabff");
        assert_eq!(hex_lower_decode::<4>("009fabff"), Some(bytes));
        assert_eq!(hex_lower_decode::<4>("009FABFF"), None);
        assert_eq!(hex_lower_decode::<4>("009fab"), None);
        assert_eq!(hex_lower_decode::<2>("zz00"), None);
        assert_eq!(hex_lower_decode::<1>("é"), None);
    }
}
