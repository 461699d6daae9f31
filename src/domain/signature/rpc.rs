//! The RPC signature, `SignatureMethod=HMAC-SHA1`, `SignatureVersion=1.0`:
//! what `alibabacloud-tea-openapi`'s `do_rpcrequest` sends (a client made
//! with `Config(signature_algorithm='v2')`) and `Utils.get_rpcsignature`
//! signs.
//!
//! ```text
//! CanonicalizedQuery = sorted "percentEncode(name)=percentEncode(value)" joined with "&",
//!                      over every parameter but Signature (query string and form body)
//! StringToSign       = Method & "%2F" & percentEncode(CanonicalizedQuery)
//! Signature          = base64(hmac_sha1(secret + "&", StringToSign))
//! ```
//!
//! The SDK puts `Action`, `Format=json`, `Version`, `Timestamp`,
//! `SignatureNonce`, `SignatureMethod`, `SignatureVersion`, `AccessKeyId`,
//! the action's own parameters and finally `Signature` in the query string;
//! parameters given as a body (a generic `call_api` with
//! `OpenApiRequest(body=…)`) go in an `application/x-www-form-urlencoded`
//! body and are signed too. Nothing else is signed: not the path (the string
//! to sign fixes it as `%2F`), not one header (not `host`, not
//! `x-acs-action`). Whoever reads the action of an RPC-signed request must
//! read it from the signed `Action` parameter.

use super::encoding::{Pair, canonical_pairs, form_pairs, percent_encode};
use super::{HttpRequest, Presented, Scheme, SignatureError, access_key_id, nonce, timestamp};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha1::Sha1;

/// The parameters whose presence means the request tries to be RPC-signed.
const SIGNATURE_PARAMETERS: [&str; 6] = [
    "AccessKeyId",
    "Signature",
    "SignatureMethod",
    "SignatureVersion",
    "SignatureNonce",
    "SignatureType",
];

/// Every parameter the request carries, decoded: the query string's, then,
/// on a `POST` whose `Content-Type` is `application/x-www-form-urlencoded`
/// (the only body the query API reads parameters from, and the one the SDK
/// sends), the body's.
pub(super) fn parameters(request: &HttpRequest<'_>) -> Vec<Pair> {
    let mut pairs = form_pairs(request.raw_query.as_bytes());
    if request.method == "POST" && is_form(request) {
        pairs.extend(form_pairs(request.body));
    }
    pairs
}

/// Whether the first `Content-Type` (the one the query API reads) has the
/// form media type, parameters such as `; charset=UTF-8` aside. The body's
/// parameters are signed exactly when the query API uses them.
fn is_form(request: &HttpRequest<'_>) -> bool {
    request
        .header_values("content-type")
        .next()
        .and_then(|value| value.split(';').next())
        .is_some_and(|essence| {
            essence
                .trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

pub(super) fn tries_to_sign(parameters: &[Pair]) -> bool {
    parameters.iter().any(|(name, _)| {
        SIGNATURE_PARAMETERS
            .iter()
            .any(|p| p.as_bytes() == name.as_slice())
    })
}

/// The one value of a parameter that must not be given twice.
fn single<'p>(parameters: &'p [Pair], name: &str) -> Result<Option<&'p [u8]>, SignatureError> {
    let mut values = parameters
        .iter()
        .filter(|(n, _)| n.as_slice() == name.as_bytes())
        .map(|(_, v)| v.as_slice());
    let first = values.next();
    match values.next() {
        Some(_) => Err(SignatureError::Repeated),
        None => Ok(first),
    }
}

pub(super) fn presented(parameters: &[Pair]) -> Result<Presented, SignatureError> {
    let key = single(parameters, "AccessKeyId")?;
    let signature = single(parameters, "Signature")?;
    let method = single(parameters, "SignatureMethod")?;
    let version = single(parameters, "SignatureVersion")?;
    let nonce_value = single(parameters, "SignatureNonce")?;
    let time = single(parameters, "Timestamp")?;
    let access_key_id = access_key_id(key)?;
    if method != Some(b"HMAC-SHA1".as_slice()) || version != Some(b"1.0".as_slice()) {
        return Err(SignatureError::UnsupportedAlgorithm);
    }
    let signature = signature
        .and_then(|s| STANDARD.decode(s).ok())
        .filter(|bytes| bytes.len() == 20)
        .ok_or(SignatureError::MalformedSignature)?;
    Ok(Presented {
        scheme: Scheme::RpcHmacSha1,
        access_key_id,
        nonce: nonce(nonce_value)?,
        timestamp: timestamp(time),
        signature,
        signed_headers: Vec::new(),
    })
}

/// The string to sign: `get_rpcsignature` sorts the names, joins
/// `quote(k, safe='~')=quote(v, safe='~')` with `&`, and signs
/// `f'{method}&%2F&{quote_plus(joined, safe="~")}'` (the joined string has no
/// spaces, so `quote_plus` encodes it as `quote` would).
pub(super) fn string_to_sign(request: &HttpRequest<'_>) -> String {
    let parameters = parameters(request);
    let signed = parameters.iter().filter(|(name, _)| name != b"Signature");
    let mut out = String::new();
    out.push_str(request.method);
    out.push_str("&%2F&");
    percent_encode(canonical_pairs(signed).as_bytes(), &mut out);
    out
}

/// The signature `secret` makes for `request`: the key is the secret and an
/// `&` (`bytes(secret + '&')`).
pub(super) fn expected(request: &HttpRequest<'_>, secret: &str) -> Option<[u8; 20]> {
    let key = format!("{secret}&");
    // HMAC takes a key of any length: this never returns `None`.
    let mut mac = Hmac::<Sha1>::new_from_slice(key.as_bytes()).ok()?;
    mac.update(string_to_sign(request).as_bytes());
    Some(mac.finalize().into_bytes().into())
}
