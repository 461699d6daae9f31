//! Alibaba Cloud's request signatures, verified exactly as the official SDKs
//! compute them (contract §9): `ACS3-HMAC-SHA256` (the "V3" signature, the
//! SDKs' default) and the RPC `HMAC-SHA1` signature version 1.0.
//!
//! The rules were read from the SDKs' source (`alibabacloud-tea-openapi`'s
//! `Client.do_request` / `do_rpcrequest` and `Utils.get_authorization` /
//! `get_rpcsignature`; `alibabacloud-openapi-util` for the older releases,
//! same algorithms) and are pinned down by requests the real SDK sent, kept in
//! `vectors/` (how they were made: `vectors/README.md`).
//!
//! How a caller uses this module, in §9's order:
//!
//! 1. [`presented`]: `Ok(None)` — the request carries no signature at all
//!    (403 `Forbidden.RAM`); `Err(e)` — it tries to be signed but cannot be
//!    read ([`SignatureError::code`]); `Ok(Some(p))` — scheme, AccessKey ID,
//!    nonce, timestamp and signature.
//! 2. Look up `p.access_key_id`: unknown or revoked → `InvalidAccessKeyId.NotFound`.
//! 3. [`verify`] with that key's secret: `false` → `SignatureDoesNotMatch`.
//! 4. [`timestamp_ok`]: `false` → `InvalidTimeStamp.Expired`.
//! 5. The nonce, per AccessKey, remembered until
//!    [`crate::domain::retention::nonce_expiry`]: seen before → `SignatureNonceUsed`.
//!
//! Everything here is pure: no I/O, no clock (the caller passes `now`), and
//! nothing is logged. [`Presented`]'s `Debug` leaves out the nonce and the
//! signature, and [`SignatureError`] holds no request data, so neither can
//! carry a secret, a signature or a nonce into a log line.

mod acs3;
mod encoding;
mod rpc;
#[cfg(test)]
mod tests;

use crate::domain::error::ErrorCode;
use crate::domain::time::{MINUTE_MS, UtcMillis};
use std::fmt;
use subtle::ConstantTimeEq;

/// How far a request's timestamp may be from now, either way, and still be
/// accepted (§9: "more than 15 minutes off" is refused, so exactly 15 minutes
/// passes). The one constant both the timestamp check and the nonce lifetime
/// derive from.
pub const SIGNATURE_WINDOW_MS: i64 = 15 * MINUTE_MS;

/// The longest AccessKey ID or nonce that is read at all; anything longer is
/// refused before any lookup or storage (the SDKs' IDs are about 30
/// characters, their nonces 32 to 36).
const MAX_ACCESS_KEY_ID_BYTES: usize = 128;
const MAX_NONCE_BYTES: usize = 256;

/// A request as the HTTP layer received it: everything either signature
/// covers, and nothing else. From an API Gateway HTTP API (payload 2.0)
/// event: `requestContext.http.method`, `rawPath`, `rawQueryString`,
/// `headers`, and `body` (base64-decoded when `isBase64Encoded`).
#[derive(Clone, Debug)]
pub struct HttpRequest<'a> {
    /// As received (`GET`, `POST`): both signatures sign it as sent.
    pub method: &'a str,
    /// The path exactly as sent, still percent-encoded (`rawPath`); empty
    /// means `/`.
    pub path: &'a str,
    /// The query string exactly as sent, without the `?` (`rawQueryString`).
    /// The raw form, not decoded parameters: repeats, empty values and the
    /// bytes of every value must all reach the signature.
    pub raw_query: &'a str,
    /// Every header, in any letter case: one entry per received header, or
    /// API Gateway's one entry per name with repeats comma-joined (the SDKs
    /// never repeat a header, so both forms verify alike).
    pub headers: Vec<(&'a str, &'a str)>,
    /// The body's bytes.
    pub body: &'a [u8],
}

impl<'a> HttpRequest<'a> {
    /// The values of every header called `name` (ASCII case-insensitively).
    fn header_values<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'a str> + 's {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
    }

    /// The one value of a header that must not be given twice: `Ok(None)`
    /// when absent, `Err` when repeated.
    fn single_header(&self, name: &str) -> Result<Option<&'a str>, SignatureError> {
        let mut values = self.header_values(name);
        let first = values.next();
        match values.next() {
            Some(_) => Err(SignatureError::Repeated),
            None => Ok(first),
        }
    }
}

/// The signature schemes a request can present.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    /// `Authorization: ACS3-HMAC-SHA256 Credential=…,SignedHeaders=…,Signature=…`
    Acs3HmacSha256,
    /// `AccessKeyId`, `Signature`, `SignatureMethod=HMAC-SHA1`,
    /// `SignatureVersion=1.0`, `SignatureNonce` and `Timestamp` parameters.
    RpcHmacSha1,
}

/// What a signed request claims: who signed it, when, with which nonce, and
/// the signature itself. Only [`verify`] decides whether the claim holds.
#[derive(Clone, PartialEq, Eq)]
pub struct Presented {
    pub scheme: Scheme,
    /// Non-empty printable ASCII, at most 128 bytes.
    pub access_key_id: String,
    /// Non-empty, at most 256 bytes, no control characters. Never log it.
    pub nonce: String,
    /// `None` when the timestamp (`x-acs-date` or `Timestamp`) is missing or
    /// not `YYYY-MM-DDThh:mm:ssZ`: such a request is refused by
    /// [`timestamp_ok`], after the key and signature checks, as §9 orders
    /// them, with `InvalidTimeStamp.Expired` (Alibaba's own
    /// `InvalidTimeStamp.Format` is not among the contract's codes; it is a
    /// 400 too).
    pub timestamp: Option<UtcMillis>,
    /// The signature's bytes: 32 (HMAC-SHA256) or 20 (HMAC-SHA1).
    signature: Vec<u8>,
    /// ACS3 only: the `SignedHeaders` list, lower case and ascending.
    signed_headers: Vec<String>,
}

impl Presented {
    /// The signature's bytes as presented. Never log them.
    pub fn signature(&self) -> &[u8] {
        &self.signature
    }
}

impl fmt::Debug for Presented {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Presented")
            .field("scheme", &self.scheme)
            .field("access_key_id", &self.access_key_id)
            .field("nonce", &"<redacted>")
            .field("timestamp", &self.timestamp)
            .field("signature", &"<redacted>")
            .field("signed_headers", &self.signed_headers)
            .finish()
    }
}

/// Why a request that tries to be signed cannot even be read as a signed
/// request. Decided before the key is looked up, in this order: first what
/// makes the signature's fields ambiguous or unreadable, then the AccessKey
/// ID, then the rest of the signature's form. So a well-formed request
/// answers by §9's order (key first), and a garbled one as a wrong signature.
///
/// Alibaba answers some of these with codes of its own that the contract
/// does not list (`IncompleteSignature`, for one); the contract's codes are
/// used instead: the 403s, as anything about who signed and how is there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignatureError {
    /// No AccessKey ID (`Credential` / `AccessKeyId` absent or empty), or one
    /// no issued key can have (longer than 128 bytes, not printable ASCII).
    /// → `InvalidAccessKeyId.NotFound`: the answer a lookup would give, given
    /// without one.
    NoAccessKeyId,
    /// `Authorization` names another algorithm (`ACS3-HMAC-SM3`,
    /// `ACS3-RSA-SHA256`, `AWS4-HMAC-SHA256`, the ROA `acs …`, an empty
    /// value), or `SignatureMethod` / `SignatureVersion` are not `HMAC-SHA1`
    /// / `1.0`. → `SignatureDoesNotMatch`: not a signature this API checks.
    UnsupportedAlgorithm,
    /// `Authorization` is not `ACS3-HMAC-SHA256 ` followed by exactly the
    /// fields `Credential`, `SignedHeaders` and `Signature`, comma-separated
    /// `Name=Value`. → `SignatureDoesNotMatch`.
    MalformedAuthorization,
    /// `SignedHeaders` is not a list of lower-case header names, ascending
    /// and without repeats, as the SDKs write it. → `SignatureDoesNotMatch`.
    MalformedSignedHeaders,
    /// The signature is missing or not what the algorithm yields: 64
    /// lower-case hex digits, or standard base64 of 20 bytes. →
    /// `SignatureDoesNotMatch`.
    MalformedSignature,
    /// No nonce (`x-acs-signature-nonce` / `SignatureNonce`), or an empty,
    /// over-long or non-text one. Every SDK sends one; without it the request
    /// cannot be protected against replay. → `SignatureDoesNotMatch`.
    MalformedNonce,
    /// `Authorization`, `x-acs-date`, `x-acs-signature-nonce`, or one of the
    /// RPC signature parameters given more than once: which one was signed is
    /// ambiguous. → `SignatureDoesNotMatch`.
    Repeated,
}

impl SignatureError {
    /// The contract's code for this refusal.
    pub fn code(self) -> ErrorCode {
        match self {
            SignatureError::NoAccessKeyId => ErrorCode::InvalidAccessKeyIdNotFound,
            SignatureError::UnsupportedAlgorithm
            | SignatureError::MalformedAuthorization
            | SignatureError::MalformedSignedHeaders
            | SignatureError::MalformedSignature
            | SignatureError::MalformedNonce
            | SignatureError::Repeated => ErrorCode::SignatureDoesNotMatch,
        }
    }
}

impl fmt::Display for SignatureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SignatureError::NoAccessKeyId => "no usable AccessKey ID",
            SignatureError::UnsupportedAlgorithm => "unsupported signature algorithm",
            SignatureError::MalformedAuthorization => "malformed Authorization header",
            SignatureError::MalformedSignedHeaders => "malformed SignedHeaders",
            SignatureError::MalformedSignature => "malformed signature",
            SignatureError::MalformedNonce => "missing or malformed signature nonce",
            SignatureError::Repeated => "a signature field is given more than once",
        })
    }
}

impl std::error::Error for SignatureError {}

/// Which signature, if any, the request presents.
///
/// A request tries to be signed when it has an `Authorization` header (any
/// value: then it is read as ACS3, whatever else it carries), or otherwise
/// when any of the RPC signature parameters `AccessKeyId`, `Signature`,
/// `SignatureMethod`, `SignatureVersion`, `SignatureNonce`, `SignatureType`
/// is in the query string or the form body. The SDK's anonymous calls send
/// `x-acs-date` and `x-acs-signature-nonce` with no `Authorization`: those
/// present no signature (`Ok(None)`).
pub fn presented(request: &HttpRequest<'_>) -> Result<Option<Presented>, SignatureError> {
    if let Some(authorization) = request.single_header("authorization")? {
        return acs3::presented(request, authorization).map(Some);
    }
    let parameters = rpc::parameters(request);
    if rpc::tries_to_sign(&parameters) {
        return rpc::presented(&parameters).map(Some);
    }
    Ok(None)
}

/// Whether `presented` (as [`presented`] read it from this same `request`)
/// is the signature the AccessKey `secret` makes for `request`. The expected
/// signature is recomputed and compared in constant time.
pub fn verify(request: &HttpRequest<'_>, presented: &Presented, secret: &str) -> bool {
    let expected = match presented.scheme {
        Scheme::Acs3HmacSha256 => {
            acs3::expected(request, &presented.signed_headers, secret).map(|mac| mac.to_vec())
        }
        Scheme::RpcHmacSha1 => rpc::expected(request, secret).map(|mac| mac.to_vec()),
    };
    let Some(expected) = expected else {
        return false;
    };
    expected.len() == presented.signature.len()
        && bool::from(expected.ct_eq(presented.signature.as_slice()))
}

/// Whether the request's timestamp is at most [`SIGNATURE_WINDOW_MS`] from
/// `now`, either way. A missing or unreadable timestamp is never within it.
pub fn timestamp_ok(presented: &Presented, now: UtcMillis) -> bool {
    presented
        .timestamp
        .is_some_and(|t| t.0.abs_diff(now.0) <= SIGNATURE_WINDOW_MS.unsigned_abs())
}

/// An AccessKey ID as the request gives it, if any issued key could have it.
fn access_key_id(raw: Option<&[u8]>) -> Result<String, SignatureError> {
    match raw {
        Some(bytes)
            if !bytes.is_empty()
                && bytes.len() <= MAX_ACCESS_KEY_ID_BYTES
                && bytes.iter().all(|b| b.is_ascii_graphic()) =>
        {
            Ok(String::from_utf8_lossy(bytes).into_owned())
        }
        _ => Err(SignatureError::NoAccessKeyId),
    }
}

/// A nonce as the request gives it, if it is one.
fn nonce(raw: Option<&[u8]>) -> Result<String, SignatureError> {
    let text = raw
        .filter(|b| !b.is_empty() && b.len() <= MAX_NONCE_BYTES)
        .and_then(|b| std::str::from_utf8(b).ok())
        .filter(|t| !t.chars().any(char::is_control));
    text.map(str::to_owned)
        .ok_or(SignatureError::MalformedNonce)
}

/// `x-acs-date` / `Timestamp`: the SDKs write `YYYY-MM-DDThh:mm:ssZ`
/// (`datetime.utcnow().strftime("%Y-%m-%dT%H:%M:%SZ")`), the query API's own
/// time format.
fn timestamp(raw: Option<&[u8]>) -> Option<UtcMillis> {
    UtcMillis::parse_query_time(std::str::from_utf8(raw?).ok()?)
}
