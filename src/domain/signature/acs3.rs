//! `ACS3-HMAC-SHA256`, the SDKs' default signature ("V3"): what
//! `alibabacloud-tea-openapi`'s `do_request` sends and `Utils.get_authorization`
//! signs.
//!
//! ```text
//! CanonicalRequest = Method \n CanonicalURI \n CanonicalQueryString \n
//!                    CanonicalHeaders \n SignedHeaders \n HashedPayload
//! StringToSign     = "ACS3-HMAC-SHA256" \n hex(sha256(CanonicalRequest))
//! Signature        = hex(hmac_sha256(secret, StringToSign))
//! Authorization    = "ACS3-HMAC-SHA256 Credential=<AccessKeyId>,SignedHeaders=<h1;h2;…>,Signature=<hex>"
//! ```
//!
//! The SDK (Python, `tea-openapi` 0.4.6) signs every header it sets itself —
//! `accept`, `host`, `user-agent`, `x-acs-action`, `x-acs-content-sha256`,
//! `x-acs-credentials-provider`, `x-acs-date`, `x-acs-signature-nonce`,
//! `x-acs-version`, and `content-type` when there is a body — but not those
//! the HTTP library adds afterwards (`Accept-Encoding`, `Content-Length`) nor
//! those API Gateway adds (`x-forwarded-*`, `x-amzn-trace-id`). Clients that
//! follow Alibaba's V3 documentation may sign fewer (its examples sign `host`
//! and the `x-acs-*` headers). So the verifier recomputes the signature over
//! the headers the request's own `SignedHeaders` lists, and insists that the
//! list covers everything this API reads from headers: `host`, every
//! `x-acs-*` header present (the action, the date, the nonce, the body's
//! hash), and `content-type` when present (it decides whether the body holds
//! parameters).

use super::encoding::{Pair, canonical_pairs, form_pairs, hex_lower, hex_lower_decode};
use super::{HttpRequest, Presented, Scheme, SignatureError, access_key_id, nonce, timestamp};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

pub(super) const ALGORITHM: &str = "ACS3-HMAC-SHA256";

/// Reads the `Authorization` header and the nonce and date headers.
pub(super) fn presented(
    request: &HttpRequest<'_>,
    authorization: &str,
) -> Result<Presented, SignatureError> {
    // `f'{sign_type} Credential={ak},SignedHeaders={signed_headers},Signature={signature}'`
    let (algorithm, fields) = authorization.split_once(' ').unwrap_or((authorization, ""));
    if algorithm != ALGORITHM {
        return Err(SignatureError::UnsupportedAlgorithm);
    }
    let mut credential = None;
    let mut signed_headers = None;
    let mut signature = None;
    // Spaces around a field are tolerated (`, ` as other schemes write it);
    // nothing else is.
    for field in fields.split(',') {
        let (name, value) = field
            .trim_matches(' ')
            .split_once('=')
            .ok_or(SignatureError::MalformedAuthorization)?;
        let slot = match name {
            "Credential" => &mut credential,
            "SignedHeaders" => &mut signed_headers,
            "Signature" => &mut signature,
            _ => return Err(SignatureError::MalformedAuthorization),
        };
        if slot.replace(value).is_some() {
            return Err(SignatureError::Repeated);
        }
    }
    let (Some(signed_headers), Some(signature)) = (signed_headers, signature) else {
        return Err(SignatureError::MalformedAuthorization);
    };
    let access_key_id = access_key_id(credential.map(str::as_bytes))?;
    let signed_headers = parse_signed_headers(signed_headers)?;
    let signature = hex_lower_decode::<32>(signature).ok_or(SignatureError::MalformedSignature)?;
    let nonce = nonce(
        request
            .single_header("x-acs-signature-nonce")?
            .map(str::as_bytes),
    )?;
    let timestamp = timestamp(request.single_header("x-acs-date")?.map(str::as_bytes));
    Ok(Presented {
        scheme: Scheme::Acs3HmacSha256,
        access_key_id,
        nonce,
        timestamp,
        signature: signature.to_vec(),
        signed_headers,
    })
}

/// `';'.join(sorted(lower-cased names))`: the SDK's own spelling, the only
/// one accepted (a list in another order would sign the same headers in an
/// order no SDK uses).
fn parse_signed_headers(text: &str) -> Result<Vec<String>, SignatureError> {
    let names: Vec<&str> = text.split(';').collect();
    let well_formed = names.iter().all(|name| {
        !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_graphic() && !b.is_ascii_uppercase() && b != b':')
    });
    let ascending = names.windows(2).all(|pair| pair[0] < pair[1]);
    if !well_formed || !ascending {
        return Err(SignatureError::MalformedSignedHeaders);
    }
    Ok(names.into_iter().map(str::to_owned).collect())
}

/// Whether `SignedHeaders` covers every header this API reads.
fn covers_what_is_read(request: &HttpRequest<'_>, signed: &[String]) -> bool {
    let is_signed = |name: &str| signed.iter().any(|s| s.eq_ignore_ascii_case(name));
    is_signed("host")
        && request.headers.iter().all(|(name, _)| {
            let must = name.eq_ignore_ascii_case("content-type")
                || name
                    .get(..6)
                    .is_some_and(|prefix| prefix.eq_ignore_ascii_case("x-acs-"));
            !must || is_signed(name)
        })
}

/// The canonical request over the `signed` headers, or `None` when one of
/// them is not in the request (the SDKs sign only headers they send).
pub(super) fn canonical_request(request: &HttpRequest<'_>, signed: &[String]) -> Option<String> {
    let mut out = String::new();
    out.push_str(request.method);
    out.push('\n');
    // `request.pathname if request.pathname else '/'`: the path as sent. The
    // SDKs percent-encode path segments themselves before signing
    // (`get_encode_path` / `get_encode_param`) and send that very string, so
    // the raw path is the signed one, byte for byte.
    out.push_str(if request.path.is_empty() {
        "/"
    } else {
        request.path
    });
    out.push('\n');
    // `get_canonical_query_string`: names sorted, `name=quote(value, safe='~')`
    // joined with `&`, an empty value as `name=`. The SDK leaves names
    // unencoded; Alibaba's specification and the other SDKs encode them like
    // values. Parameter names are `A–Z a–z 0–9 .`, where both agree; the
    // specification's form is the one used. The body is not in it: the body
    // is signed through its hash.
    let pairs: Vec<Pair> = form_pairs(request.raw_query.as_bytes());
    out.push_str(&canonical_pairs(&pairs));
    out.push('\n');
    // `get_canonicalized_headers`: for each signed name, `name:value\n`, the
    // value trimmed (Python's `str.strip`), a name's several values sorted and
    // joined with `,`.
    for name in signed {
        let mut values: Vec<&str> = request.header_values(name).map(str::trim).collect();
        if values.is_empty() {
            return None;
        }
        values.sort_unstable();
        out.push_str(name);
        out.push(':');
        out.push_str(&values.join(","));
        out.push('\n');
    }
    out.push('\n');
    out.push_str(&signed.join(";"));
    out.push('\n');
    // The hashed payload is `x-acs-content-sha256`'s value, which the SDK
    // computes over the body it sends (the empty string's hash without one).
    // The body received is hashed here instead, so a body that is not the one
    // signed never verifies, whatever that header claims.
    out.push_str(&hex_lower(&Sha256::digest(request.body)));
    Some(out)
}

/// The signature `secret` makes for `request`, or `None` when the signed
/// headers leave out one this API reads or name one the request lacks.
pub(super) fn expected(
    request: &HttpRequest<'_>,
    signed: &[String],
    secret: &str,
) -> Option<[u8; 32]> {
    if !covers_what_is_read(request, signed) {
        return None;
    }
    sign(&canonical_request(request, signed)?, secret)
}

/// `hex(hmac_sha256(secret, "ACS3-HMAC-SHA256\n" + hex(sha256(canonical))))`,
/// as bytes.
pub(super) fn sign(canonical_request: &str, secret: &str) -> Option<[u8; 32]> {
    let string_to_sign = format!(
        "{ALGORITHM}\n{}",
        hex_lower(&Sha256::digest(canonical_request.as_bytes()))
    );
    // HMAC takes a key of any length: this never returns `None`.
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).ok()?;
    mac.update(string_to_sign.as_bytes());
    Some(mac.finalize().into_bytes().into())
}
