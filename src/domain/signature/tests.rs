//! The SDK's own requests verify; nothing else does.

use super::encoding::{Pair, form_pairs, percent_encode};
use super::*;
use crate::domain::time::SECOND_MS;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use proptest::prelude::*;
use proptest::sample::Index;
use serde::Deserialize;

#[derive(Deserialize)]
struct Vector {
    name: String,
    access_key_id: String,
    access_key_secret: String,
    request: Captured,
}

#[derive(Deserialize)]
struct Captured {
    method: String,
    path: String,
    raw_query: String,
    headers: Vec<(String, String)>,
    body_base64: String,
}

const VECTOR_FILES: [&str; 8] = [
    include_str!("vectors/acs3_post_query.json"),
    include_str!("vectors/acs3_get_query.json"),
    include_str!("vectors/acs3_post_form.json"),
    include_str!("vectors/acs3_get_empty_value.json"),
    include_str!("vectors/rpc_post_query.json"),
    include_str!("vectors/rpc_get_query.json"),
    include_str!("vectors/rpc_post_form.json"),
    include_str!("vectors/rpc_get_empty_value.json"),
];

/// A request this test owns, to change at will and view as an [`HttpRequest`].
#[derive(Clone, Debug)]
struct Owned {
    method: String,
    path: String,
    raw_query: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Owned {
    fn view(&self) -> HttpRequest<'_> {
        HttpRequest {
            method: &self.method,
            path: &self.path,
            raw_query: &self.raw_query,
            headers: self
                .headers
                .iter()
                .map(|(n, v)| (n.as_str(), v.as_str()))
                .collect(),
            body: &self.body,
        }
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn set_header(&mut self, name: &str, value: &str) {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.headers.push((name.to_owned(), value.to_owned()));
    }

    fn is_acs3(&self) -> bool {
        self.header("authorization").is_some()
    }

    /// Whether the body is parameters (the SDK's form body).
    fn has_form_body(&self) -> bool {
        !self.body.is_empty()
            && self.header("content-type") == Some("application/x-www-form-urlencoded")
    }
}

struct Case {
    name: String,
    access_key_id: String,
    secret: String,
    /// As API Gateway's HTTP API delivers it: header names in lower case.
    request: Owned,
    /// As the SDK sent it: header names in its own letter case.
    as_sent: Owned,
}

fn cases() -> Vec<Case> {
    VECTOR_FILES
        .iter()
        .map(|text| {
            let vector: Vector = serde_json::from_str(text).expect("a vector file parses");
            let captured = vector.request;
            let as_sent = Owned {
                method: captured.method,
                path: captured.path,
                raw_query: captured.raw_query,
                headers: captured.headers,
                body: STANDARD
                    .decode(captured.body_base64)
                    .expect("the body is base64"),
            };
            let mut request = as_sent.clone();
            for (name, _) in &mut request.headers {
                *name = name.to_ascii_lowercase();
            }
            Case {
                name: vector.name,
                access_key_id: vector.access_key_id,
                secret: vector.access_key_secret,
                request,
                as_sent,
            }
        })
        .collect()
}

/// The vector `name`.
fn case_named(name: &str) -> Case {
    cases()
        .into_iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no vector {name}"))
}

/// Whether the request verifies with `secret`, from start to end.
fn accepts(request: &Owned, secret: &str) -> bool {
    let view = request.view();
    match presented(&view) {
        Ok(Some(p)) => verify(&view, &p, secret),
        _ => false,
    }
}

fn present(request: &Owned) -> Presented {
    presented(&request.view())
        .expect("readable")
        .expect("signed")
}

/// `name=value&…` with the SDK's encoding of each (spaces as `%20`, which
/// decodes as the SDK's `+` does).
fn serialize(pairs: &[Pair]) -> String {
    let mut out = String::new();
    for (index, (name, value)) in pairs.iter().enumerate() {
        if index > 0 {
            out.push('&');
        }
        percent_encode(name, &mut out);
        out.push('=');
        percent_encode(value, &mut out);
    }
    out
}

fn query_param(request: &Owned, name: &str) -> Option<String> {
    form_pairs(request.raw_query.as_bytes())
        .into_iter()
        .find(|(n, _)| n == name.as_bytes())
        .map(|(_, v)| String::from_utf8(v).expect("UTF-8"))
}

// ---------------------------------------------------------------- the vectors

#[test]
fn every_captured_request_verifies() {
    let cases = cases();
    assert_eq!(cases.len(), 8);
    for case in &cases {
        for request in [&case.request, &case.as_sent] {
            let p = present(request);
            let rpc = case.name.starts_with("rpc_");
            let scheme = if rpc {
                Scheme::RpcHmacSha1
            } else {
                Scheme::Acs3HmacSha256
            };
            assert_eq!(p.scheme, scheme, "{}", case.name);
            assert_eq!(p.access_key_id, case.access_key_id, "{}", case.name);
            let (nonce, date) = if rpc {
                (
                    query_param(request, "SignatureNonce").unwrap(),
                    query_param(request, "Timestamp").unwrap(),
                )
            } else {
                (
                    request.header("x-acs-signature-nonce").unwrap().to_owned(),
                    request.header("x-acs-date").unwrap().to_owned(),
                )
            };
            assert_eq!(p.nonce, nonce, "{}", case.name);
            assert_eq!(
                p.timestamp,
                UtcMillis::parse_query_time(&date),
                "{}",
                case.name
            );
            assert!(p.timestamp.is_some(), "{}", case.name);
            assert_eq!(
                p.signature().len(),
                if rpc { 20 } else { 32 },
                "{}",
                case.name
            );
            assert!(verify(&request.view(), &p, &case.secret), "{}", case.name);
        }
    }
}

#[test]
fn no_captured_request_verifies_with_another_secret() {
    for case in cases() {
        let p = present(&case.request);
        for secret in [
            "",
            "fake-secret-for-signature-vectors ",
            "Fake-secret-for-signature-vectors",
            "fake-secret-for-signature-vector",
            "fake-secret-for-signature-vectors&",
        ] {
            assert!(!verify(&case.request.view(), &p, secret), "{}", case.name);
        }
    }
}

#[test]
fn the_acs3_canonical_request_is_the_sdks() {
    // `Utils.get_authorization`'s canonical request for `acs3_post_query`,
    // printed by the SDK from the captured request's decoded parameters.
    let expected = "POST\n/\nAppId=app%20%C3%BCn%C3%AF%2A~%2B%2F%20%E6%B5%8B%E8%AF%95%20a%3Db%26c%25&EndTime=2026-11-20T12%3A00%3A00Z&Interval=3600&RecordMode=0&StartTime=2026-11-20T10%3A00%3A00Z\naccept:application/json\nhost:127.0.0.1:39845\nuser-agent:AlibabaCloud (Linux; x86_64) Python/3.11.7 Core/0.4.3 TeaDSL/2\nx-acs-action:DescribeLiveRtcRecordUsageData\nx-acs-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\nx-acs-credentials-provider:static_ak\nx-acs-date:2026-11-24T03:36:03Z\nx-acs-signature-nonce:e3926c5ac632a14ff6792f602b7ec1b4\nx-acs-version:2016-11-01\n\naccept;host;user-agent;x-acs-action;x-acs-content-sha256;x-acs-credentials-provider;x-acs-date;x-acs-signature-nonce;x-acs-version\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    let case = case_named("acs3_post_query");
    let p = present(&case.request);
    let canonical = acs3::canonical_request(&case.request.view(), &p.signed_headers);
    assert_eq!(canonical.as_deref(), Some(expected));
}

#[test]
fn the_rpc_string_to_sign_is_the_sdks() {
    // `Utils.get_rpcsignature`'s string to sign for `rpc_post_form`, query
    // and body parameters together.
    let expected = "POST&%2F&AccessKeyId%3DFakeKeyIdForVectors01%26Action%3DDescribeLiveRtcRecordUsageData%26AppId%3Dapp%2520%25C3%25BCn%25C3%25AF%252A~%252B%252F%2520%25E6%25B5%258B%25E8%25AF%2595%2520a%253Db%2526c%2525%26EndTime%3D2026-11-20T12%253A00%253A00Z%26Format%3Djson%26Interval%3D3600%26RecordMode%3D0%26SignatureMethod%3DHMAC-SHA1%26SignatureNonce%3D423ba55755904029780fd3cea3d436ab%26SignatureVersion%3D1.0%26StartTime%3D2026-11-20T10%253A00%253A00Z%26Timestamp%3D2026-11-24T03%253A36%253A03Z%26Version%3D2016-11-01";
    let case = case_named("rpc_post_form");
    assert_eq!(rpc::string_to_sign(&case.request.view()), expected);
}

#[test]
fn what_the_sdk_sends() {
    for case in cases() {
        let r = &case.request;
        // Always the path `/`, the action and version as headers, and the
        // parameters in the query string unless the caller gives a body.
        assert_eq!(r.path, "/");
        assert_eq!(
            r.header("x-acs-action"),
            Some("DescribeLiveRtcRecordUsageData")
        );
        assert_eq!(r.header("x-acs-version"), Some("2016-11-01"));
        assert!(r.header("host").is_some());
        if case.name.starts_with("acs3_") {
            // V3: no Action, Version or Format parameter at all.
            for name in ["Action", "Version", "Format", "Signature", "AccessKeyId"] {
                assert_eq!(query_param(r, name), None, "{}: {name}", case.name);
            }
            assert!(r.header("x-acs-content-sha256").is_some());
        } else {
            assert_eq!(
                query_param(r, "Action").as_deref(),
                Some("DescribeLiveRtcRecordUsageData")
            );
            assert_eq!(query_param(r, "Format").as_deref(), Some("json"));
            assert_eq!(query_param(r, "Version").as_deref(), Some("2016-11-01"));
            assert_eq!(r.header("authorization"), None);
            assert_eq!(r.header("x-acs-signature-nonce"), None);
        }
        assert_eq!(
            r.has_form_body(),
            case.name.ends_with("_form"),
            "{}",
            case.name
        );
        assert_eq!(
            r.header("content-type").is_some(),
            case.name.ends_with("_form"),
            "{}",
            case.name
        );
    }
}

// ------------------------------------------------- what the signature covers

#[test]
fn reencoding_the_query_or_the_form_body_changes_nothing() {
    let mut respelled = 0;
    for case in cases() {
        let mut request = case.request.clone();
        request.raw_query = serialize(&form_pairs(request.raw_query.as_bytes()));
        respelled += usize::from(request.raw_query != case.request.raw_query);
        assert!(accepts(&request, &case.secret), "{}", case.name);
        if request.has_form_body() && !request.is_acs3() {
            request.body = serialize(&form_pairs(&request.body)).into_bytes();
            assert_ne!(request.body, case.request.body);
            assert!(accepts(&request, &case.secret), "{}", case.name);
        }
    }
    // The SDK's `+` for a space became `%20`.
    assert!(respelled >= 4, "{respelled}");
}

#[test]
fn headers_api_gateway_adds_or_changes_unsigned_do_not_matter() {
    for case in cases() {
        let mut request = case.request.clone();
        request
            .headers
            .push(("x-forwarded-for".into(), "203.0.113.7".into()));
        request
            .headers
            .push(("x-forwarded-proto".into(), "https".into()));
        request
            .headers
            .push(("x-amzn-trace-id".into(), "Root=1-0-0".into()));
        request.headers.retain(|(n, _)| n != "accept-encoding");
        request.set_header("content-length", "999");
        assert!(accepts(&request, &case.secret), "{}", case.name);
    }
}

#[test]
fn appending_a_parameter_anywhere_breaks_the_signature() {
    for case in cases() {
        let mut request = case.request.clone();
        request.raw_query.push_str("&ClassId=1");
        assert!(!accepts(&request, &case.secret), "{}", case.name);

        let mut request = case.request.clone();
        request.raw_query.push_str("&AppId=other");
        assert!(!accepts(&request, &case.secret), "{}: a repeat", case.name);

        if case.request.has_form_body() {
            let mut request = case.request.clone();
            request.body.extend_from_slice(b"&ClassId=1");
            assert!(!accepts(&request, &case.secret), "{}: body", case.name);
        }
    }
}

#[test]
fn rpc_signs_neither_the_path_nor_any_header() {
    for case in cases().into_iter().filter(|c| !c.request.is_acs3()) {
        let mut request = case.request.clone();
        request.path = "/other".into();
        request.set_header("host", "elsewhere.example");
        request.set_header("x-acs-action", "DescribeApps");
        assert!(accepts(&request, &case.secret), "{}", case.name);
    }
}

#[test]
fn acs3_must_sign_host_every_x_acs_header_and_content_type() {
    for case in cases().into_iter().filter(|c| c.request.is_acs3()) {
        let p = present(&case.request);
        let resign = |request: &mut Owned, signed: &[String]| {
            let canonical = acs3::canonical_request(&request.view(), signed).unwrap();
            let signature = acs3::sign(&canonical, &case.secret).unwrap();
            set_authorization(request, &case, signed, &encoding::hex_lower(&signature));
        };

        // Re-signing with the SDK's own list gives the SDK's own header.
        let mut request = case.request.clone();
        resign(&mut request, &p.signed_headers);
        assert_eq!(
            request.header("authorization"),
            case.request.header("authorization"),
            "{}",
            case.name
        );

        // Correct signatures that leave out a header this API reads.
        for left_out in [
            "host",
            "x-acs-action",
            "x-acs-date",
            "x-acs-signature-nonce",
        ] {
            let signed: Vec<String> = p
                .signed_headers
                .iter()
                .filter(|h| *h != left_out)
                .cloned()
                .collect();
            let mut request = case.request.clone();
            resign(&mut request, &signed);
            assert!(
                !accepts(&request, &case.secret),
                "{}: {left_out}",
                case.name
            );
        }
        // ... or one the request gained after signing.
        for added in ["x-acs-security-token", "content-type", "X-Acs-Other"] {
            let mut request = case.request.clone();
            request
                .headers
                .push((added.into(), "application/json".into()));
            assert!(!accepts(&request, &case.secret), "{}: {added}", case.name);
        }
        // Headers this API does not read may go unsigned.
        let signed: Vec<String> = p
            .signed_headers
            .iter()
            .filter(|h| *h != "user-agent" && *h != "accept")
            .cloned()
            .collect();
        let mut request = case.request.clone();
        resign(&mut request, &signed);
        assert!(accepts(&request, &case.secret), "{}", case.name);
        // A signed header the request does not have never verifies.
        let mut signed = p.signed_headers.clone();
        signed.push("zz-absent".into());
        let mut request = case.request.clone();
        resign_absent(&mut request, &case, &signed);
        assert!(!accepts(&request, &case.secret), "{}", case.name);
    }
}

/// An ACS3 `Authorization` of `case`'s key, naming `signed`, with
/// `signature` (hex).
fn set_authorization(request: &mut Owned, case: &Case, signed: &[String], signature: &str) {
    let authorization = format!(
        "ACS3-HMAC-SHA256 Credential={},SignedHeaders={},Signature={signature}",
        case.access_key_id,
        signed.join(";"),
    );
    request.set_header("authorization", &authorization);
}

/// An `Authorization` naming `signed`, with any signature: nothing can
/// sign a header that is not there.
fn resign_absent(request: &mut Owned, case: &Case, signed: &[String]) {
    set_authorization(request, case, signed, &"0".repeat(64));
    assert!(acs3::canonical_request(&request.view(), signed).is_none());
}

#[test]
fn acs3_signs_the_body_received_not_the_hash_claimed() {
    for case in cases().into_iter().filter(|c| c.request.is_acs3()) {
        let mut request = case.request.clone();
        request.body.extend_from_slice(b"&x=1");
        assert!(!accepts(&request, &case.secret), "{}", case.name);
    }
}

#[test]
fn repeated_header_values_are_sorted_and_comma_joined_like_the_sdk() {
    // What `get_canonicalized_headers` does with a name given twice: each
    // value trimmed, sorted, joined with `,`: the same with API Gateway's one
    // comma-joined entry as with two entries.
    let case = case_named("acs3_get_query");
    let p = present(&case.request);
    let mut two = case.request.clone();
    two.headers.push(("user-agent".into(), " Extra/1 ".into()));
    let mut joined = case.request.clone();
    let agent = joined.header("user-agent").unwrap().to_owned();
    joined.set_header("user-agent", &format!("{agent},Extra/1"));
    let left = acs3::canonical_request(&two.view(), &p.signed_headers).unwrap();
    let right = acs3::canonical_request(&joined.view(), &p.signed_headers).unwrap();
    assert!(
        left.contains(&format!("\nuser-agent:{agent},Extra/1\n")),
        "{left}"
    );
    assert_eq!(left, right);
}

// ------------------------------------------------------------ single changes

fn any_case() -> impl Strategy<Value = usize> {
    0..VECTOR_FILES.len()
}

fn acs3_cases() -> impl Strategy<Value = usize> {
    let cases = cases();
    proptest::sample::select(
        (0..cases.len())
            .filter(|&i| cases[i].request.is_acs3())
            .collect::<Vec<_>>(),
    )
}

fn cases_with_a_body() -> impl Strategy<Value = usize> {
    let cases = cases();
    proptest::sample::select(
        (0..cases.len())
            .filter(|&i| !cases[i].request.body.is_empty())
            .collect::<Vec<_>>(),
    )
}

/// A printable ASCII character other than `original`.
fn other_ascii(original: char, pick: u8) -> char {
    let c = char::from(0x21 + pick % 94);
    if c == original {
        char::from(0x21 + (pick.wrapping_add(1)) % 94)
    } else {
        c
    }
}

/// `text` with the character at `at` replaced by another printable one.
fn replace_char(text: &str, at: Index, pick: u8) -> String {
    let chars: Vec<char> = text.chars().collect();
    let at = at.index(chars.len());
    chars
        .iter()
        .enumerate()
        .map(|(i, &c)| if i == at { other_ascii(c, pick) } else { c })
        .collect()
}

/// `bytes` with the byte at `at` replaced by another byte (any of 256), or,
/// when empty, one byte instead.
fn replace_byte(bytes: &[u8], at: Index, pick: u8) -> Vec<u8> {
    if bytes.is_empty() {
        return vec![pick];
    }
    let mut out = bytes.to_vec();
    let at = at.index(out.len());
    out[at] = if out[at] == pick {
        pick.wrapping_add(1)
    } else {
        pick
    };
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn another_secret_never_verifies(index in any_case(), secret in ".{0,64}") {
        let case = &cases()[index];
        prop_assume!(secret != case.secret);
        prop_assert!(!accepts(&case.request, &secret));
    }

    #[test]
    fn a_changed_method_never_verifies(index in any_case(), at in any::<Index>(), pick in any::<u8>()) {
        let case = &cases()[index];
        let mut request = case.request.clone();
        request.method = replace_char(&request.method, at, pick);
        prop_assert!(!accepts(&request, &case.secret));
    }

    #[test]
    fn a_changed_path_breaks_acs3_only(index in any_case(), at in any::<Index>(), pick in any::<u8>()) {
        let case = &cases()[index];
        let mut request = case.request.clone();
        request.path = replace_char(&request.path, at, pick);
        // RPC's string to sign fixes the path as `%2F`.
        prop_assert_eq!(accepts(&request, &case.secret), !request.is_acs3());
    }

    #[test]
    fn a_changed_signed_header_never_verifies(
        index in acs3_cases(), which in any::<Index>(), at in any::<Index>(), pick in any::<u8>()
    ) {
        let case = &cases()[index];
        let signed = present(&case.request).signed_headers;
        let name = &signed[which.index(signed.len())];
        let mut request = case.request.clone();
        let value = replace_char(request.header(name).unwrap(), at, pick);
        request.set_header(name, &value);
        prop_assert!(!accepts(&request, &case.secret), "{} {}", name, value);
    }

    #[test]
    fn a_changed_unsigned_header_does_not_matter(
        index in any_case(), which in any::<Index>(), at in any::<Index>(), pick in any::<u8>()
    ) {
        let case = &cases()[index];
        let signed = if case.request.is_acs3() {
            present(&case.request).signed_headers
        } else {
            Vec::new()
        };
        // Unsigned: not in SignedHeaders, not the signature itself, and for
        // RPC not `content-type` (it decides whether the body is parameters).
        let unsigned: Vec<String> = case
            .request
            .headers
            .iter()
            .map(|(n, _)| n.clone())
            .filter(|n| !signed.contains(n) && n != "authorization" && n != "content-type")
            .collect();
        prop_assume!(!unsigned.is_empty());
        let name = &unsigned[which.index(unsigned.len())];
        let mut request = case.request.clone();
        let value = replace_char(request.header(name).unwrap(), at, pick);
        request.set_header(name, &value);
        prop_assert!(accepts(&request, &case.secret), "{} {}", name, value);
    }

    #[test]
    fn a_changed_parameter_name_or_value_never_verifies(
        index in any_case(),
        which in any::<Index>(),
        name_not_value in any::<bool>(),
        at in any::<Index>(),
        pick in any::<u8>(),
    ) {
        let case = &cases()[index];
        let mut request = case.request.clone();
        let mut query = form_pairs(request.raw_query.as_bytes());
        let mut body = if request.has_form_body() { form_pairs(&request.body) } else { Vec::new() };
        let total = query.len() + body.len();
        let which = which.index(total);
        let pair = if which < query.len() {
            &mut query[which]
        } else {
            &mut body[which - query.len()]
        };
        if name_not_value {
            pair.0 = replace_byte(&pair.0, at, pick);
        } else {
            pair.1 = replace_byte(&pair.1, at, pick);
        }
        request.raw_query = serialize(&query);
        if request.has_form_body() {
            request.body = serialize(&body).into_bytes();
        }
        prop_assert!(!accepts(&request, &case.secret));
    }

    /// Both signatures sign the decoded parameters: a changed byte of the raw
    /// query string breaks the signature exactly when it changes what the
    /// parameters are.
    #[test]
    fn a_changed_query_byte_breaks_the_signature_iff_it_changes_a_parameter(
        index in any_case(), at in any::<Index>(), pick in any::<u8>()
    ) {
        let case = &cases()[index];
        let mut request = case.request.clone();
        request.raw_query = replace_char(&request.raw_query, at, pick);
        let same = form_pairs(request.raw_query.as_bytes())
            == form_pairs(case.request.raw_query.as_bytes());
        prop_assert_eq!(accepts(&request, &case.secret), same, "{}", request.raw_query);
    }

    /// ACS3 signs the body's bytes (through its hash), RPC the parameters a
    /// form body holds.
    #[test]
    fn a_changed_body_byte(index in cases_with_a_body(), at in any::<Index>(), pick in any::<u8>()) {
        let case = &cases()[index];
        let mut request = case.request.clone();
        request.body = replace_byte(&request.body, at, pick);
        let same = form_pairs(&request.body) == form_pairs(&case.request.body);
        let expected = !request.is_acs3() && same;
        prop_assert_eq!(accepts(&request, &case.secret), expected);
    }

    #[test]
    fn a_changed_signature_never_verifies(index in any_case(), at in any::<Index>(), pick in any::<u8>()) {
        let case = &cases()[index];
        let mut request = case.request.clone();
        if request.is_acs3() {
            let authorization = request.header("authorization").unwrap().to_owned();
            let (head, signature) = authorization.rsplit_once('=').unwrap();
            let signature = replace_char(signature, at, pick);
            request.set_header("authorization", &format!("{head}={signature}"));
        } else {
            let mut query = form_pairs(request.raw_query.as_bytes());
            let pair = query.iter_mut().find(|(n, _)| n == b"Signature").unwrap();
            pair.1 = replace_byte(&pair.1, at, pick);
            request.raw_query = serialize(&query);
        }
        prop_assert!(!accepts(&request, &case.secret));
    }

    /// Whatever arrives, reading and verifying never panic, and nothing
    /// arbitrary verifies.
    #[test]
    fn arbitrary_requests_never_panic(
        method in "[A-Z]{0,8}",
        raw_query in ".{0,200}",
        authorization in proptest::option::of(".{0,300}"),
        headers in proptest::collection::vec(("[a-zA-Z-]{0,24}", ".{0,80}"), 0..8),
        body in proptest::collection::vec(any::<u8>(), 0..200),
        secret in ".{0,40}",
    ) {
        let mut request = Owned {
            method,
            path: "/".into(),
            raw_query,
            headers,
            body,
        };
        if let Some(authorization) = authorization {
            request.headers.push(("authorization".into(), authorization));
        }
        let view = request.view();
        if let Ok(Some(p)) = presented(&view) {
            prop_assert!(!verify(&view, &p, &secret));
            let _ = timestamp_ok(&p, UtcMillis(0));
        }
    }

    #[test]
    fn arbitrary_authorization_headers_are_refused_with_a_documented_code(
        fields in proptest::collection::vec("(Credential|SignedHeaders|Signature|[^,=]{0,12})=[^,]{0,80}", 0..6),
        separator in "(,|, | ,|;)",
        algorithm in "(ACS3-HMAC-SHA256|ACS3-HMAC-SM3|acs3-hmac-sha256|\\PC{0,20})",
    ) {
        let authorization = format!("{algorithm} {}", fields.join(&separator));
        let case = &cases()[0];
        let mut request = case.request.clone();
        request.set_header("authorization", &authorization);
        match presented(&request.view()) {
            Ok(Some(p)) => prop_assert!(!verify(&request.view(), &p, &case.secret)),
            Ok(None) => prop_assert!(false, "an Authorization header is an attempt"),
            Err(e) => prop_assert!(matches!(
                e.code(),
                ErrorCode::SignatureDoesNotMatch | ErrorCode::InvalidAccessKeyIdNotFound
            )),
        }
    }
}

// --------------------------------------------------------------- timestamps

fn at_offset(case: &Case, offset_ms: i64) -> bool {
    let p = present(&case.request);
    timestamp_ok(&p, p.timestamp.unwrap().plus_ms(offset_ms))
}

#[test]
fn fifteen_minutes_either_way_and_not_a_millisecond_more() {
    for case in cases() {
        for minutes in [0, 1, 14, 15] {
            assert!(at_offset(&case, minutes * MINUTE_MS), "{}", case.name);
            assert!(at_offset(&case, -minutes * MINUTE_MS), "{}", case.name);
        }
        assert!(!at_offset(&case, SIGNATURE_WINDOW_MS + 1));
        assert!(!at_offset(&case, -SIGNATURE_WINDOW_MS - 1));
        for minutes in [16, 60, 24 * 60] {
            assert!(!at_offset(&case, minutes * MINUTE_MS), "{}", case.name);
            assert!(!at_offset(&case, -minutes * MINUTE_MS), "{}", case.name);
        }
    }
    assert_eq!(SIGNATURE_WINDOW_MS, 15 * 60 * SECOND_MS);
}

#[test]
fn a_missing_or_unreadable_timestamp_is_read_but_never_within_the_window() {
    let case = case_named("acs3_get_query");
    for date in [
        "",
        "2026-11-24 03:36:03",
        "2026-11-24T03:36:03.000Z",
        "2026-11-24T03:36:03+00:00",
        "1732419363",
    ] {
        let mut request = case.request.clone();
        request.set_header("x-acs-date", date);
        let p = present(&request);
        assert_eq!(p.timestamp, None, "{date}");
        assert!(!timestamp_ok(&p, UtcMillis::now()), "{date}");
    }
    let mut request = case.request.clone();
    request.headers.retain(|(n, _)| n != "x-acs-date");
    assert_eq!(present(&request).timestamp, None);

    let case = case_named("rpc_get_query");
    let mut request = case.request.clone();
    let pairs: Vec<Pair> = form_pairs(request.raw_query.as_bytes())
        .into_iter()
        .filter(|(n, _)| n != b"Timestamp")
        .collect();
    request.raw_query = serialize(&pairs);
    assert_eq!(present(&request).timestamp, None);
}

// ------------------------------------------------------------- refusals

fn with_authorization(value: &str) -> Result<Option<Presented>, SignatureError> {
    let mut request = case_named("acs3_get_query").request;
    request.set_header("authorization", value);
    presented(&request.view())
}

#[test]
fn unsigned_requests_present_nothing() {
    let case = case_named("acs3_get_query");
    // The SDK's anonymous call: date, nonce and hash headers, no Authorization.
    let mut request = case.request.clone();
    request.headers.retain(|(n, _)| n != "authorization");
    assert_eq!(presented(&request.view()), Ok(None));
    let bare = Owned {
        method: "GET".into(),
        path: "/".into(),
        raw_query: "Action=DescribeLiveRtcRecordUsageData&AppId=a&Timestamp=2026-11-24T03:36:03Z&Format=json".into(),
        headers: vec![("host".into(), "example.com".into())],
        body: Vec::new(),
    };
    assert_eq!(presented(&bare.view()), Ok(None));
}

#[test]
fn malformed_authorization_headers() {
    let key = "FakeKeyIdForVectors01";
    let sig = "953ddb47be26e0883fe2ea6bdecacc0a5082111a3e53117c38d9db5f099eb04c";
    let sh = "host;x-acs-date";
    let huge = "A".repeat(1 << 20);
    let unicode_key =
        format!("ACS3-HMAC-SHA256 Credential=ключ,SignedHeaders={sh},Signature={sig}");
    let long_key = format!(
        "ACS3-HMAC-SHA256 Credential={},SignedHeaders={sh},Signature={sig}",
        "K".repeat(129)
    );
    let huge_field =
        format!("ACS3-HMAC-SHA256 Credential={key},SignedHeaders={sh},Signature={huge}");
    let huge_header = format!("ACS3-HMAC-SHA256 {huge}");
    let cases: Vec<(String, SignatureError)> = vec![
        (String::new(), SignatureError::UnsupportedAlgorithm),
        ("   ".into(), SignatureError::UnsupportedAlgorithm),
        (huge.clone(), SignatureError::UnsupportedAlgorithm),
        (
            "ACS3-HMAC-SHA256".into(),
            SignatureError::MalformedAuthorization,
        ),
        (
            "ACS3-HMAC-SHA256 ".into(),
            SignatureError::MalformedAuthorization,
        ),
        (huge_header, SignatureError::MalformedAuthorization),
        (
            format!("acs3-hmac-sha256 Credential={key},SignedHeaders={sh},Signature={sig}"),
            SignatureError::UnsupportedAlgorithm,
        ),
        (
            format!("ACS3-HMAC-SM3 Credential={key},SignedHeaders={sh},Signature={sig}"),
            SignatureError::UnsupportedAlgorithm,
        ),
        (
            format!("ACS3-RSA-SHA256 Credential={key},SignedHeaders={sh},Signature={sig}"),
            SignatureError::UnsupportedAlgorithm,
        ),
        (
            format!(
                "AWS4-HMAC-SHA256 Credential={key}/20261124/us-east-1/execute-api/aws4_request, SignedHeaders={sh}, Signature={sig}"
            ),
            SignatureError::UnsupportedAlgorithm,
        ),
        (
            format!("acs {key}:c2lnbmF0dXJl"),
            SignatureError::UnsupportedAlgorithm,
        ),
        (
            format!("\u{FEFF}ACS3-HMAC-SHA256 Credential={key},SignedHeaders={sh},Signature={sig}"),
            SignatureError::UnsupportedAlgorithm,
        ),
        (
            format!("ACS3-HMAC-SHA256 Credential={key},SignedHeaders={sh}"),
            SignatureError::MalformedAuthorization,
        ),
        (
            format!("ACS3-HMAC-SHA256 Credential={key},Signature={sig}"),
            SignatureError::MalformedAuthorization,
        ),
        (
            format!("ACS3-HMAC-SHA256 Credential={key};SignedHeaders={sh};Signature={sig}"),
            SignatureError::MalformedAuthorization,
        ),
        (
            format!("ACS3-HMAC-SHA256 Credential={key},SignedHeaders={sh},Signature={sig},"),
            SignatureError::MalformedAuthorization,
        ),
        (
            format!("ACS3-HMAC-SHA256 Credential={key},SignedHeaders={sh},Signature={sig},Extra=1"),
            SignatureError::MalformedAuthorization,
        ),
        (
            format!("ACS3-HMAC-SHA256 credential={key},SignedHeaders={sh},Signature={sig}"),
            SignatureError::MalformedAuthorization,
        ),
        (
            format!(
                "ACS3-HMAC-SHA256 Credential={key},SignedHeaders={sh},Signature={sig},Credential={key}"
            ),
            SignatureError::Repeated,
        ),
        (
            format!(
                "ACS3-HMAC-SHA256 Credential={key},SignedHeaders={sh},Signature={sig},Signature={sig}"
            ),
            SignatureError::Repeated,
        ),
        (
            format!("ACS3-HMAC-SHA256 SignedHeaders={sh},Signature={sig}"),
            SignatureError::NoAccessKeyId,
        ),
        (
            format!("ACS3-HMAC-SHA256 Credential=,SignedHeaders={sh},Signature={sig}"),
            SignatureError::NoAccessKeyId,
        ),
        (
            format!("ACS3-HMAC-SHA256 Credential=a b,SignedHeaders={sh},Signature={sig}"),
            SignatureError::NoAccessKeyId,
        ),
        (unicode_key, SignatureError::NoAccessKeyId),
        (long_key, SignatureError::NoAccessKeyId),
        (
            format!("ACS3-HMAC-SHA256 Credential={key},SignedHeaders=,Signature={sig}"),
            SignatureError::MalformedSignedHeaders,
        ),
        (
            format!(
                "ACS3-HMAC-SHA256 Credential={key},SignedHeaders=x-acs-date;host,Signature={sig}"
            ),
            SignatureError::MalformedSignedHeaders,
        ),
        (
            format!("ACS3-HMAC-SHA256 Credential={key},SignedHeaders=host;host,Signature={sig}"),
            SignatureError::MalformedSignedHeaders,
        ),
        (
            format!(
                "ACS3-HMAC-SHA256 Credential={key},SignedHeaders=Host;x-acs-date,Signature={sig}"
            ),
            SignatureError::MalformedSignedHeaders,
        ),
        (
            format!(
                "ACS3-HMAC-SHA256 Credential={key},SignedHeaders=host;;x-acs-date,Signature={sig}"
            ),
            SignatureError::MalformedSignedHeaders,
        ),
        (
            format!("ACS3-HMAC-SHA256 Credential={key},SignedHeaders=höst,Signature={sig}"),
            SignatureError::MalformedSignedHeaders,
        ),
        (
            format!("ACS3-HMAC-SHA256 Credential={key},SignedHeaders={sh},Signature="),
            SignatureError::MalformedSignature,
        ),
        (
            format!(
                "ACS3-HMAC-SHA256 Credential={key},SignedHeaders={sh},Signature={}",
                sig.to_uppercase()
            ),
            SignatureError::MalformedSignature,
        ),
        (
            format!(
                "ACS3-HMAC-SHA256 Credential={key},SignedHeaders={sh},Signature={}",
                &sig[2..]
            ),
            SignatureError::MalformedSignature,
        ),
        (
            format!("ACS3-HMAC-SHA256 Credential={key},SignedHeaders={sh},Signature={sig}00"),
            SignatureError::MalformedSignature,
        ),
        (
            format!(
                "ACS3-HMAC-SHA256 Credential={key},SignedHeaders={sh},Signature=ü{}",
                &sig[2..]
            ),
            SignatureError::MalformedSignature,
        ),
        (huge_field, SignatureError::MalformedSignature),
    ];
    for (value, error) in cases {
        let shown: String = value.chars().take(80).collect();
        assert_eq!(with_authorization(&value), Err(error), "{shown}");
    }
    // Spaces around fields are tolerated: the SDK's header with `, `.
    let case = case_named("acs3_get_query");
    let sdk = case
        .request
        .header("authorization")
        .unwrap()
        .replace(',', ", ");
    let mut request = case.request.clone();
    request.set_header("authorization", &sdk);
    assert!(accepts(&request, &case.secret));
}

#[test]
fn repeated_or_missing_signature_headers() {
    let case = case_named("acs3_get_query");
    let mut twice = case.request.clone();
    let authorization = twice.header("authorization").unwrap().to_owned();
    twice
        .headers
        .push(("Authorization".into(), authorization.clone()));
    assert_eq!(presented(&twice.view()), Err(SignatureError::Repeated));
    // API Gateway's comma-joined form of the same.
    let mut joined = case.request.clone();
    joined.set_header("authorization", &format!("{authorization},{authorization}"));
    assert_eq!(
        presented(&joined.view()),
        Err(SignatureError::MalformedAuthorization)
    );

    for name in ["x-acs-signature-nonce", "x-acs-date"] {
        let mut request = case.request.clone();
        request.headers.push((name.into(), "again".into()));
        assert_eq!(
            presented(&request.view()),
            Err(SignatureError::Repeated),
            "{name}"
        );
    }
    for nonce in [String::new(), "a\u{7}b".into(), "n".repeat(257)] {
        let mut request = case.request.clone();
        request.set_header("x-acs-signature-nonce", &nonce);
        assert_eq!(
            presented(&request.view()),
            Err(SignatureError::MalformedNonce)
        );
    }
    let mut request = case.request.clone();
    request
        .headers
        .retain(|(n, _)| n != "x-acs-signature-nonce");
    assert_eq!(
        presented(&request.view()),
        Err(SignatureError::MalformedNonce)
    );
    let mut request = case.request.clone();
    request.set_header("x-acs-signature-nonce", &"n".repeat(256));
    assert!(present(&request).nonce.len() == 256);
}

fn rpc_with(change: impl Fn(&mut Vec<Pair>)) -> Result<Option<Presented>, SignatureError> {
    let case = case_named("rpc_get_query");
    let mut request = case.request;
    let mut pairs = form_pairs(request.raw_query.as_bytes());
    change(&mut pairs);
    request.raw_query = serialize(&pairs);
    presented(&request.view())
}

fn set(pairs: &mut Vec<Pair>, name: &str, value: &[u8]) {
    pairs.retain(|(n, _)| n != name.as_bytes());
    pairs.push((name.as_bytes().to_vec(), value.to_vec()));
}

fn remove(pairs: &mut Vec<Pair>, name: &str) {
    pairs.retain(|(n, _)| n != name.as_bytes());
}

#[test]
fn malformed_rpc_signatures() {
    use SignatureError as E;
    let twenty = STANDARD.encode([7u8; 20]);
    type Change = Box<dyn Fn(&mut Vec<Pair>)>;
    let checks: Vec<(&str, Change, E)> = vec![
        (
            "no AccessKeyId",
            Box::new(|p| remove(p, "AccessKeyId")),
            E::NoAccessKeyId,
        ),
        (
            "empty AccessKeyId",
            Box::new(|p| set(p, "AccessKeyId", b"")),
            E::NoAccessKeyId,
        ),
        (
            "Unicode AccessKeyId",
            Box::new(|p| set(p, "AccessKeyId", "ключ".as_bytes())),
            E::NoAccessKeyId,
        ),
        (
            "binary AccessKeyId",
            Box::new(|p| set(p, "AccessKeyId", &[0xff, 0x41])),
            E::NoAccessKeyId,
        ),
        (
            "long AccessKeyId",
            Box::new(|p| set(p, "AccessKeyId", &[b'K'; 129])),
            E::NoAccessKeyId,
        ),
        (
            "AccessKeyId twice",
            Box::new(|p| p.push((b"AccessKeyId".to_vec(), b"x".to_vec()))),
            E::Repeated,
        ),
        (
            "Signature twice",
            Box::new(|p| p.push((b"Signature".to_vec(), b"x".to_vec()))),
            E::Repeated,
        ),
        (
            "SignatureNonce twice",
            Box::new(|p| p.push((b"SignatureNonce".to_vec(), b"x".to_vec()))),
            E::Repeated,
        ),
        (
            "Timestamp twice",
            Box::new(|p| p.push((b"Timestamp".to_vec(), b"x".to_vec()))),
            E::Repeated,
        ),
        (
            "HMAC-SHA256",
            Box::new(|p| set(p, "SignatureMethod", b"HMAC-SHA256")),
            E::UnsupportedAlgorithm,
        ),
        (
            "lower-case method",
            Box::new(|p| set(p, "SignatureMethod", b"hmac-sha1")),
            E::UnsupportedAlgorithm,
        ),
        (
            "no SignatureMethod",
            Box::new(|p| remove(p, "SignatureMethod")),
            E::UnsupportedAlgorithm,
        ),
        (
            "version 2.0",
            Box::new(|p| set(p, "SignatureVersion", b"2.0")),
            E::UnsupportedAlgorithm,
        ),
        (
            "no SignatureVersion",
            Box::new(|p| remove(p, "SignatureVersion")),
            E::UnsupportedAlgorithm,
        ),
        (
            "no Signature",
            Box::new(|p| remove(p, "Signature")),
            E::MalformedSignature,
        ),
        (
            "empty Signature",
            Box::new(|p| set(p, "Signature", b"")),
            E::MalformedSignature,
        ),
        (
            "not base64",
            Box::new(|p| set(p, "Signature", b"not base64!")),
            E::MalformedSignature,
        ),
        (
            "32 bytes",
            Box::new(|p| set(p, "Signature", STANDARD.encode([7u8; 32]).as_bytes())),
            E::MalformedSignature,
        ),
        (
            "unpadded",
            Box::new(move |p| set(p, "Signature", twenty.trim_end_matches('=').as_bytes())),
            E::MalformedSignature,
        ),
        (
            "no SignatureNonce",
            Box::new(|p| remove(p, "SignatureNonce")),
            E::MalformedNonce,
        ),
        (
            "empty SignatureNonce",
            Box::new(|p| set(p, "SignatureNonce", b"")),
            E::MalformedNonce,
        ),
        (
            "binary SignatureNonce",
            Box::new(|p| set(p, "SignatureNonce", &[0xc3, 0x28])),
            E::MalformedNonce,
        ),
        (
            "control SignatureNonce",
            Box::new(|p| set(p, "SignatureNonce", b"a\nb")),
            E::MalformedNonce,
        ),
    ];
    for (what, change, error) in checks {
        assert_eq!(rpc_with(change), Err(error), "{what}");
        assert!(!matches!(error.code(), ErrorCode::ForbiddenRam));
    }
    // A request is RPC-signed as soon as any signature parameter is there.
    let unsign = |p: &mut Vec<Pair>| {
        p.retain(|(n, _)| !SIGNATURE_NAMES.contains(&String::from_utf8_lossy(n).as_ref()))
    };
    for only in SIGNATURE_NAMES {
        let outcome = rpc_with(|p| {
            unsign(p);
            p.push((only.as_bytes().to_vec(), b"x".to_vec()));
        });
        assert!(!matches!(outcome, Ok(None)), "{only}");
    }
    assert_eq!(rpc_with(unsign), Ok(None));
}

const SIGNATURE_NAMES: [&str; 6] = [
    "AccessKeyId",
    "Signature",
    "SignatureMethod",
    "SignatureVersion",
    "SignatureNonce",
    "SignatureType",
];

#[test]
fn rpc_body_parameters_count_only_in_a_form_post() {
    let case = case_named("rpc_post_form");
    // Without the form type, the body is not parameters: the signed AppId
    // and RecordMode are missing.
    for content_type in ["text/plain", "application/json", "multipart/form-data"] {
        let mut request = case.request.clone();
        request.set_header("content-type", content_type);
        assert!(!accepts(&request, &case.secret), "{content_type}");
    }
    for content_type in [
        "application/x-www-form-urlencoded; charset=UTF-8",
        "Application/X-WWW-Form-Urlencoded",
    ] {
        let mut request = case.request.clone();
        request.set_header("content-type", content_type);
        assert!(accepts(&request, &case.secret), "{content_type}");
    }
    // The first Content-Type decides, as in the query API.
    let mut request = case.request.clone();
    request
        .headers
        .push(("content-type".into(), "text/plain".into()));
    assert!(accepts(&request, &case.secret));
    let mut request = case.request.clone();
    request
        .headers
        .insert(0, ("content-type".into(), "text/plain".into()));
    assert!(!accepts(&request, &case.secret));
    // A GET's body is never parameters.
    let mut request = case.request.clone();
    request.method = "GET".into();
    assert!(!accepts(&request, &case.secret));
    // Signature parameters in the body are read as the SDK's in the query.
    let mut request = case.request.clone();
    let mut query = form_pairs(request.raw_query.as_bytes());
    let mut body = form_pairs(&request.body);
    let at = query.iter().position(|(n, _)| n == b"Signature").unwrap();
    body.push(query.remove(at));
    request.raw_query = serialize(&query);
    request.body = serialize(&body).into_bytes();
    assert!(accepts(&request, &case.secret));
}

#[test]
fn refusal_codes() {
    assert_eq!(
        SignatureError::NoAccessKeyId.code(),
        ErrorCode::InvalidAccessKeyIdNotFound
    );
    for error in [
        SignatureError::UnsupportedAlgorithm,
        SignatureError::MalformedAuthorization,
        SignatureError::MalformedSignedHeaders,
        SignatureError::MalformedSignature,
        SignatureError::MalformedNonce,
        SignatureError::Repeated,
    ] {
        assert_eq!(error.code(), ErrorCode::SignatureDoesNotMatch, "{error}");
    }
}

#[test]
fn debug_output_never_shows_the_nonce_or_the_signature() {
    for case in cases() {
        let p = present(&case.request);
        let shown = format!("{p:?}");
        assert!(!shown.contains(&p.nonce), "{shown}");
        assert!(
            !shown.contains(&encoding::hex_lower(p.signature())),
            "{shown}"
        );
        assert!(!shown.contains(&STANDARD.encode(p.signature())), "{shown}");
        assert!(!shown.contains(&format!("{:?}", p.signature())), "{shown}");
        assert!(shown.contains(&p.access_key_id), "{shown}");
    }
}
