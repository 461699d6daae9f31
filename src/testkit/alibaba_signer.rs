//! Signing requests as Alibaba Cloud's SDKs do, written from Alibaba's
//! documentation independently of `domain::signature` (which only
//! verifies), so tests and the benchmark can make signed requests whose
//! acceptance proves the verifier agrees with the documented algorithms.

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Digest;

/// RFC 3986 percent-encoding: unreserved characters kept, the rest `%XX`.
pub fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `name=value&…`, each percent-encoded, in the order given.
pub fn query_string<K: AsRef<str>, V: AsRef<str>>(pairs: &[(K, V)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| {
            format!(
                "{}={}",
                percent_encode(k.as_ref()),
                percent_encode(v.as_ref())
            )
        })
        .collect::<Vec<_>>()
        .join("&")
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The RPC signature (`SignatureMethod=HMAC-SHA1`, `SignatureVersion=1.0`)
/// of every parameter given (all but `Signature`): sorted, encoded,
/// `METHOD&%2F&` + the encoded result, keyed with the secret and `&`.
pub fn rpc_signature(method: &str, params: &[(String, String)], secret: &str) -> String {
    let mut sorted: Vec<(String, String)> = params.to_vec();
    sorted.sort();
    let to_sign = format!("{method}&%2F&{}", percent_encode(&query_string(&sorted)));
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(format!("{secret}&").as_bytes())
        .expect("HMAC takes any key");
    mac.update(to_sign.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// The `Authorization` header of an `ACS3-HMAC-SHA256` request to `/`: the
/// query string as sent (already canonical: sorted, encoded) and the signed
/// headers, lower-case names in ascending order.
pub fn acs3_authorization(
    method: &str,
    canonical_query: &str,
    signed_headers: &[(&str, &str)],
    body: &[u8],
    key_id: &str,
    secret: &str,
) -> String {
    let canonical_headers: String = signed_headers
        .iter()
        .map(|(k, v)| format!("{k}:{}\n", v.trim()))
        .collect();
    let names = signed_headers
        .iter()
        .map(|(k, _)| *k)
        .collect::<Vec<_>>()
        .join(";");
    let body_hash = hex(&sha2::Sha256::digest(body));
    let canonical =
        format!("{method}\n/\n{canonical_query}\n{canonical_headers}\n{names}\n{body_hash}");
    let to_sign = format!(
        "ACS3-HMAC-SHA256\n{}",
        hex(&sha2::Sha256::digest(canonical.as_bytes()))
    );
    let mut mac =
        Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(to_sign.as_bytes());
    format!(
        "ACS3-HMAC-SHA256 Credential={key_id},SignedHeaders={names},Signature={}",
        hex(&mac.finalize().into_bytes())
    )
}
