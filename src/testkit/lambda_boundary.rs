//! An API Gateway answer as the caller's side receives it: the JSON a
//! function built on `lambda_http` posts to the Lambda Runtime API.
//!
//! Checking the `Response` a handler builds is one step too early:
//! `lambda_http` converts it (by its `IntoResponse`, then into API Gateway's
//! response shape) before the runtime serializes it, and that conversion can
//! change bytes — it once removed the export's byte order mark. So every
//! HTTP-facing test goes through [`invoke`], which drives the handler with
//! `lambda_http`'s own adapter (the code `lambda_http::run` runs for each
//! event) and serializes the result as the runtime does (`serde_json`), and
//! reads the answer back with [`Posted`] the way API Gateway does.

use base64::Engine;
use lambda_http::request::LambdaRequest;
use lambda_http::{Adapter, Context, IntoResponse, LambdaEvent, Request, Service, service_fn};
use serde_json::Value;
use std::convert::Infallible;
use std::future::Future;

/// What the function posted for one event, and the HTTP answer API Gateway
/// makes of it.
#[derive(Clone, Debug)]
pub struct Posted {
    /// The posted JSON, byte for byte.
    pub raw: Vec<u8>,
    /// The posted JSON, parsed.
    pub json: Value,
    pub status: u16,
    /// Every header with its values, from `headers` and `multiValueHeaders`
    /// (a REST answer carries them in the second, an HTTP API answer in the
    /// first), names lowercased.
    pub headers: Vec<(String, String)>,
    pub is_base64_encoded: bool,
    /// The body's bytes: the posted `body` string as UTF-8, or decoded from
    /// base64 where `isBase64Encoded` says so; empty when there is none.
    pub body: Vec<u8>,
}

impl Posted {
    /// Reads a posted answer as API Gateway does.
    pub fn parse(raw: Vec<u8>) -> Posted {
        let json: Value = serde_json::from_slice(&raw).expect("the posted answer is JSON");
        let status = json["statusCode"]
            .as_u64()
            .and_then(|s| u16::try_from(s).ok())
            .expect("statusCode");
        let mut headers = Vec::new();
        if let Some(single) = json["headers"].as_object() {
            for (name, value) in single {
                headers.push((name.to_ascii_lowercase(), as_text(value)));
            }
        }
        if let Some(multi) = json["multiValueHeaders"].as_object() {
            for (name, values) in multi {
                for value in values.as_array().expect("multiValueHeaders values") {
                    headers.push((name.to_ascii_lowercase(), as_text(value)));
                }
            }
        }
        let is_base64_encoded = json["isBase64Encoded"].as_bool().unwrap_or(false);
        let body = match &json["body"] {
            Value::Null => Vec::new(),
            Value::String(text) if is_base64_encoded => base64::engine::general_purpose::STANDARD
                .decode(text)
                .expect("a base64 body"),
            Value::String(text) => text.as_bytes().to_vec(),
            other => panic!("body is not a string: {other}"),
        };
        Posted {
            raw,
            json,
            status,
            headers,
            is_base64_encoded,
            body,
        }
    }

    /// The values of one header (any case).
    pub fn header_values(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The one value of a header, if given; a panic if given twice.
    pub fn header(&self, name: &str) -> Option<&str> {
        let values = self.header_values(name);
        assert!(values.len() <= 1, "{name} given {} times", values.len());
        values.first().copied()
    }

    /// The body as text: it must be UTF-8.
    pub fn text(&self) -> &str {
        std::str::from_utf8(&self.body).expect("a UTF-8 body")
    }
}

fn as_text(value: &Value) -> String {
    value
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| value.to_string())
}

/// Answers one API Gateway event (REST or HTTP API payload, as JSON) with
/// `handler`, through `lambda_http`'s adapter, and returns what the runtime
/// would post.
pub async fn invoke<F, Fut, R>(event: &Value, handler: F) -> Posted
where
    F: FnMut(Request) -> Fut,
    Fut: Future<Output = R> + Send,
    R: IntoResponse,
{
    let payload: LambdaRequest =
        serde_json::from_value(event.clone()).expect("an API Gateway payload");
    let mut handler = handler;
    let service = service_fn(move |request: Request| {
        let answer = handler(request);
        async move { Ok::<R, Infallible>(answer.await) }
    });
    let mut adapter = Adapter::from(service);
    let answered = adapter
        .call(LambdaEvent::new(payload, Context::default()))
        .await
        .unwrap_or_else(|never| match never {});
    Posted::parse(serde_json::to_vec(&answered).expect("the answer serializes"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::{Body, Response};

    fn rest_event() -> Value {
        serde_json::json!({
            "resource": "/",
            "path": "/",
            "httpMethod": "GET",
            "headers": {},
            "multiValueHeaders": {},
            "queryStringParameters": null,
            "multiValueQueryStringParameters": null,
            "requestContext": {
                "accountId": "123456789012",
                "resourceId": "r",
                "stage": "prod",
                "requestId": "req-1",
                "identity": {"sourceIp": "127.0.0.1"},
                "resourcePath": "/",
                "httpMethod": "GET",
                "apiId": "api"
            },
            "body": null,
            "isBase64Encoded": false
        })
    }

    fn text_answer(content_type: &'static str, text: &'static str) -> Response<Body> {
        Response::builder()
            .header("Content-Type", content_type)
            .body(Body::Text(text.to_owned()))
            .unwrap()
    }

    /// The behaviour the project works around, pinned so that an upgrade of
    /// `lambda_http` that changes it is seen: a plain `Response` loses a
    /// leading byte order mark on the way to the runtime.
    #[tokio::test]
    async fn lambda_http_strips_a_byte_order_mark_from_a_plain_text_response() {
        let posted = invoke(&rest_event(), |_| async {
            text_answer("text/csv; charset=utf-8", "\u{feff}a,b\r\n")
        })
        .await;
        assert_eq!(posted.text(), "a,b\r\n");
        assert!(!posted.is_base64_encoded);
        assert_eq!(
            posted.header("content-type"),
            Some("text/csv; charset=utf-8")
        );
    }

    #[tokio::test]
    async fn a_rest_answer_carries_its_headers_as_multi_value_headers() {
        let posted = invoke(&rest_event(), |_| async {
            Response::builder()
                .status(404)
                .header("X-One", "1")
                .header("X-Two", "a")
                .header("X-Two", "b")
                .body(Body::Empty)
                .unwrap()
        })
        .await;
        assert_eq!(posted.status, 404);
        assert_eq!(posted.json["headers"], serde_json::json!({}));
        assert_eq!(posted.header_values("x-two"), ["a", "b"]);
        assert_eq!(posted.header("x-one"), Some("1"));
        // Through the conversion an empty body becomes an empty string.
        assert_eq!(posted.json["body"], "");
    }

    fn http_api_event() -> Value {
        serde_json::json!({
            "version": "2.0",
            "routeKey": "$default",
            "rawPath": "/",
            "rawQueryString": "",
            "headers": {},
            "requestContext": {
                "accountId": "123456789012",
                "apiId": "api",
                "domainName": "api.example.com",
                "http": {"method": "GET", "path": "/", "protocol": "HTTP/1.1",
                         "sourceIp": "127.0.0.1", "userAgent": "test"},
                "requestId": "req-1",
                "routeKey": "$default",
                "stage": "$default",
                "time": "23/Nov/2026:12:00:00 +0000",
                "timeEpoch": 1_795_435_200_000_i64
            },
            "isBase64Encoded": false
        })
    }

    /// Found here: although `lambda_http` says repeated headers are joined
    /// with commas for an HTTP API, its serializer posts the first value
    /// alone. The project never repeats a response header.
    #[tokio::test]
    async fn an_http_api_answer_keeps_only_the_first_of_repeated_headers() {
        let posted = invoke(&http_api_event(), |_| async {
            Response::builder()
                .header("X-Two", "a")
                .header("X-Two", "b")
                .body(Body::Empty)
                .unwrap()
        })
        .await;
        assert_eq!(posted.json["headers"]["x-two"], "a", "{}", posted.json);
        assert_eq!(posted.header_values("x-two"), ["a"]);
    }

    /// Non-ASCII text is posted as the characters themselves (JSON allows
    /// it; API Gateway reads the string as UTF-8).
    #[tokio::test]
    async fn non_ascii_text_is_posted_unescaped() {
        let posted = invoke(&rest_event(), |_| async {
            text_answer("application/json", "{\"Name\":\"演示学校 😀\"}")
        })
        .await;
        let raw = String::from_utf8(posted.raw.clone()).unwrap();
        assert!(raw.contains("演示学校 😀"), "{raw}");
        assert_eq!(posted.text(), "{\"Name\":\"演示学校 😀\"}");
    }

    /// A content type `lambda_http` does not count as text goes as base64,
    /// which a REST API passes on decoded only for its `BinaryMediaTypes`.
    #[tokio::test]
    async fn a_body_of_another_content_type_goes_as_base64() {
        let posted = invoke(&rest_event(), |_| async {
            text_answer("application/octet-stream", "\u{feff}a,b")
        })
        .await;
        assert!(posted.is_base64_encoded);
        assert_eq!(posted.body, "\u{feff}a,b".as_bytes());
    }

    /// What the query function hands over instead: the body and headers as
    /// built, the mark kept, an empty body left out.
    #[tokio::test]
    async fn an_http_answer_is_posted_as_built() {
        use crate::entry::http::HttpAnswer;
        let posted = invoke(&rest_event(), |_| async {
            HttpAnswer(text_answer("text/csv; charset=utf-8", "\u{feff}a,b\r\n"))
        })
        .await;
        assert_eq!(posted.body, "\u{feff}a,b\r\n".as_bytes());
        assert!(!posted.is_base64_encoded);
        let empty = invoke(&rest_event(), |_| async {
            HttpAnswer(Response::builder().status(204).body(Body::Empty).unwrap())
        })
        .await;
        assert!(empty.json.get("body").is_none(), "{}", empty.json);
        assert!(empty.body.is_empty());
    }
}
