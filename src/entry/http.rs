//! API Gateway → the query service, and the one place answers and errors
//! become HTTP: JSON bodies, and the export's CSV file, handed to the Lambda
//! runtime exactly as built ([`HttpAnswer`]).

use crate::domain::error::{ApiError, ErrorCode};
use crate::domain::export::{self, CsvFile};
use crate::domain::ids::AccountId;
use crate::domain::query::QueryParams;
use crate::domain::signature::{HttpRequest, Scheme};
use crate::domain::statement::DEFAULT_GRACE_SECONDS;
use crate::domain::time::UtcMillis;
use crate::entry::console::{self, Route};
use crate::secrets::{SecretCache, SecretSealer};
use crate::service::query::{Answer, answer_with};
use crate::service::signed;
use crate::store::access_keys::AccessKeyStore;
use crate::store::{AlertStore, UsageStore};
use lambda_http::request::RequestContext;
use lambda_http::{Body, IntoResponse, Request, RequestExt, Response};
use serde::Serialize;
use std::future::Future;
use std::pin::Pin;

/// Who is asking and under which ids, as API Gateway says.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Caller {
    pub account: Option<String>,
    pub request_id: String,
    pub host_id: String,
}

/// The claim of the console's Cognito ID token that names the account a
/// person acts for (a custom attribute only the operator can set).
pub const ACCOUNT_CLAIM: &str = "custom:accountId";

/// Who asks. The AWS account API Gateway authenticated with IAM comes first:
/// REST API payloads carry it in `identity`, HTTP API payloads in
/// `authorizer.iam`. Only on the console's data route, and only without an
/// IAM identity, the Cognito authorizer's `custom:accountId` claim names the
/// caller: a claim can never override an IAM identity, and a claim on any
/// other route is ignored.
pub fn caller_of(request: &Request, route: Route) -> Caller {
    let (iam_account, claim, api_request_id, domain) = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV1(ctx)) => (
            ctx.identity.account_id.clone(),
            ctx.authorizer
                .fields
                .get("claims")
                .and_then(|claims| claims.get(ACCOUNT_CLAIM))
                .and_then(|v| v.as_str())
                .map(str::to_owned),
            ctx.request_id.clone(),
            ctx.domain_name.clone(),
        ),
        Some(RequestContext::ApiGatewayV2(ctx)) => (
            ctx.authorizer
                .as_ref()
                .and_then(|a| a.iam.as_ref())
                .and_then(|iam| iam.account_id.clone()),
            None,
            ctx.request_id.clone(),
            ctx.domain_name.clone(),
        ),
        _ => (None, None, None, None),
    };
    let claimed = claim
        .filter(|_| route == Route::ConsoleApi)
        .and_then(|c| AccountId::parse(&c))
        .map(|a| a.as_str().to_owned());
    let request_id = api_request_id
        .filter(|id| !id.is_empty())
        .or_else(|| request.lambda_context_ref().map(|c| c.request_id.clone()))
        .unwrap_or_default();
    Caller {
        account: iam_account.filter(|a| !a.is_empty()).or(claimed),
        request_id,
        host_id: domain.unwrap_or_else(|| "rtc-usage".to_owned()),
    }
}

/// The request's parameters as Alibaba Cloud's SDKs send them: the query
/// string, and on a `POST` an `application/x-www-form-urlencoded` body merged
/// with it (a name in both counts as given twice); the action from the
/// `x-acs-action` header when `Action` is absent. Any other body is not
/// parameters and is ignored.
pub fn params_of(request: &Request) -> QueryParams {
    let (pairs, action_header) = parameters(request);
    QueryParams::from_pairs(pairs).with_action_header(action_header)
}

/// The parameters as `(name, value)` pairs (query string, then form body),
/// and the values of the `x-acs-action` header.
fn parameters(request: &Request) -> (Vec<(String, String)>, Vec<&str>) {
    let mut pairs: Vec<(String, String)> = request
        .query_string_parameters_ref()
        .into_iter()
        .flat_map(|q| q.iter())
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    if let Some(body) = form_body(request) {
        pairs.extend(form_urlencoded::parse(body).map(|(k, v)| (k.into_owned(), v.into_owned())));
    }
    let action_header = request
        .headers()
        .get_all(ACTION_HEADER)
        .iter()
        .map(|v| v.to_str().unwrap_or("\u{fffd}"))
        .collect();
    (pairs, action_header)
}

/// The parameter that names the action.
const ACTION: &str = "Action";

/// Where Alibaba's V3 signature puts the action.
const ACTION_HEADER: &str = "x-acs-action";

/// The body of a form `POST`, as bytes (API Gateway may have base64-encoded it;
/// `lambda_http` decodes that).
fn form_body(request: &Request) -> Option<&[u8]> {
    if request.method() != lambda_http::http::Method::POST {
        return None;
    }
    let content_type = request
        .headers()
        .get(lambda_http::http::header::CONTENT_TYPE)?;
    let essence = content_type.to_str().ok()?.split(';').next()?.trim();
    if !essence.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
        return None;
    }
    Some(body_bytes(request))
}

/// The request's body as bytes (API Gateway may have base64-encoded it;
/// `lambda_http` decodes that).
fn body_bytes(request: &Request) -> &[u8] {
    match request.body() {
        Body::Text(text) => text.as_bytes(),
        Body::Binary(bytes) => bytes,
        _ => &[],
    }
}

/// What a deployment decides about answers, read once at init: the
/// development caller (local development only) and the grace period after
/// a month's end before its statement closes (`STATEMENT_GRACE_SECONDS`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuerySettings {
    pub dev_caller: Option<AccountId>,
    pub grace_seconds: i64,
}

impl QuerySettings {
    /// `dev_caller`, and the contract's default grace period.
    pub fn with_dev_caller(dev_caller: Option<&AccountId>) -> Self {
        QuerySettings {
            dev_caller: dev_caller.cloned(),
            grace_seconds: DEFAULT_GRACE_SECONDS,
        }
    }
}

/// Answers one API Gateway request: the console's page and files, or the
/// usage API. `dev_caller` stands in for a missing identity in local
/// development only.
pub async fn handle<S: UsageStore + AlertStore>(
    store: &S,
    dev_caller: Option<&AccountId>,
    request: &Request,
    now: UtcMillis,
) -> HttpAnswer {
    handle_with(
        store,
        &QuerySettings::with_dev_caller(dev_caller),
        request,
        now,
    )
    .await
}

/// [`handle`] with the deployment's settings.
pub async fn handle_with<S: UsageStore + AlertStore>(
    store: &S,
    settings: &QuerySettings,
    request: &Request,
    now: UtcMillis,
) -> HttpAnswer {
    let dev_caller = settings.dev_caller.as_ref();
    let route = console::route_of(request);
    if !matches!(route, Route::Api | Route::ConsoleApi) {
        return HttpAnswer(console::respond(route, request));
    }
    let mut caller = caller_of(request, route);
    if caller.account.is_none() {
        caller.account = dev_caller.map(|a| a.as_str().to_owned());
    }
    HttpAnswer(
        respond(
            store,
            &caller,
            params_of(request),
            now,
            settings.grace_seconds,
        )
        .await,
    )
}

/// Answers a request on the Alibaba-signed API (contract section 9): the
/// caller is the account of the AccessKey whose signature the request
/// carries, checked before any usage rule; nothing else names a caller here,
/// not even the development caller.
pub async fn handle_signed<S, K>(
    store: &S,
    secrets: &SecretCache<K>,
    request: &Request,
    now: UtcMillis,
    grace_seconds: i64,
) -> HttpAnswer
where
    S: UsageStore + AccessKeyStore + AlertStore,
    K: SecretSealer,
{
    HttpAnswer(signed_answer(store, secrets, request, now, grace_seconds).await)
}

/// [`handle_signed`]'s answer, before it is handed over.
async fn signed_answer<S, K>(
    store: &S,
    secrets: &SecretCache<K>,
    request: &Request,
    now: UtcMillis,
    grace_seconds: i64,
) -> Response<Body>
where
    S: UsageStore + AccessKeyStore + AlertStore,
    K: SecretSealer,
{
    let mut caller = caller_of(request, Route::Api);
    caller.account = None;
    let headers: Vec<(&str, &str)> = request
        .headers()
        .iter()
        .filter_map(|(name, value)| Some((name.as_str(), value.to_str().ok()?)))
        .collect();
    let view = HttpRequest {
        method: request.method().as_str(),
        path: request.raw_http_path(),
        raw_query: request.uri().query().unwrap_or_default(),
        headers,
        body: body_bytes(request),
    };
    let signed = match signed::authenticate(store, secrets, &view, now).await {
        Ok(signed) => signed,
        Err(error) => return refused(&caller, &error, "signed request"),
    };
    caller.account = Some(signed.account.as_str().to_owned());
    let (pairs, action_header) = parameters(request);
    // The RPC signature covers the parameters but no header: its action
    // must be a signed `Action` parameter, so that an unsigned
    // `x-acs-action` can refuse the request but never choose what it does.
    if signed.scheme == Scheme::RpcHmacSha1
        && !pairs.iter().any(|(k, v)| k == ACTION && !v.is_empty())
    {
        return refused(&caller, &ApiError::missing(ACTION), "signed request");
    }
    let params = QueryParams::from_pairs(pairs).with_action_header(action_header);
    respond(store, &caller, params, now, grace_seconds).await
}

/// An answer as the function hands it to the Lambda runtime: the status,
/// headers and body built here, unchanged.
///
/// A plain `Response` would not arrive as built. `lambda_http` (1.3) passes
/// the body of every answer whose `Content-Type` starts with `text` (or is
/// JSON, JavaScript, XML or YAML) through `encoding_rs`'s `decode`, which
/// sniffs a byte order mark and removes it: the export's CSV, which the
/// contract opens with one (so that spreadsheet programs read its names as
/// UTF-8), would lose it before API Gateway ever saw it. Every body here is
/// already what API Gateway must receive — UTF-8 text (`Body::Text`, sent with
/// `isBase64Encoded: false`) or nothing — so this answer skips that
/// conversion; the runtime serializes it as it is.
#[derive(Debug)]
pub struct HttpAnswer(pub Response<Body>);

impl IntoResponse for HttpAnswer {
    fn into_response(self) -> Pin<Box<dyn Future<Output = Response<Body>> + Send>> {
        Box::pin(std::future::ready(self.0))
    }
}

/// Answers one request of whichever API it came through.
pub async fn serve<S, K>(
    store: &S,
    secrets: &SecretCache<K>,
    dev_caller: Option<&AccountId>,
    request: &Request,
    now: UtcMillis,
) -> HttpAnswer
where
    S: UsageStore + AccessKeyStore + AlertStore,
    K: SecretSealer,
{
    let settings = QuerySettings::with_dev_caller(dev_caller);
    serve_with(store, secrets, &settings, request, now).await
}

/// [`serve`] with the deployment's settings.
pub async fn serve_with<S, K>(
    store: &S,
    secrets: &SecretCache<K>,
    settings: &QuerySettings,
    request: &Request,
    now: UtcMillis,
) -> HttpAnswer
where
    S: UsageStore + AccessKeyStore + AlertStore,
    K: SecretSealer,
{
    if is_alibaba_signed_api(request) {
        handle_signed(store, secrets, request, now, settings.grace_seconds).await
    } else {
        handle_with(store, settings, request, now).await
    }
}

/// The stage variable that marks the API whose requests must carry an
/// Alibaba AccessKey signature (template.yaml sets it on that API's stage).
pub const CALLER_AUTHENTICATION_VARIABLE: &str = "callerAuthentication";
pub const ALIBABA_SIGNATURE: &str = "AlibabaSignature";

pub fn is_alibaba_signed_api(request: &Request) -> bool {
    request
        .stage_variables_ref()
        .and_then(|v| v.first(CALLER_AUTHENTICATION_VARIABLE))
        == Some(ALIBABA_SIGNATURE)
}

/// The usage API's answer to `caller`, as HTTP.
async fn respond<S: UsageStore + AlertStore>(
    store: &S,
    caller: &Caller,
    params: QueryParams,
    now: UtcMillis,
    grace_seconds: i64,
) -> Response<Body> {
    let answered = answer_with(
        store,
        caller.account.as_deref(),
        &params,
        &caller.request_id,
        now,
        grace_seconds,
    )
    .await;
    match answered {
        Ok((action, Answer::Export(file))) => {
            // What was exported, never what it says.
            tracing::info!(
                request_id = %caller.request_id,
                action = action.as_str(),
                status = 200,
                rows = file.rows,
                bytes = file.text.len(),
                "usage export answered"
            );
            csv_response(file)
        }
        Ok((action, body)) => {
            tracing::info!(
                request_id = %caller.request_id,
                action = action.as_str(),
                status = 200,
                "usage query answered"
            );
            json_response(200, &body)
        }
        Err(error) => refused(caller, &error, "usage query"),
    }
}

/// The error's answer, logged as `{what} refused` with the request id,
/// status and code: what operators need, and nothing the caller sent.
fn refused(caller: &Caller, error: &ApiError, what: &str) -> Response<Body> {
    tracing::info!(
        request_id = %caller.request_id,
        status = error.code.http_status(),
        code = error.code.code(),
        "{what} refused"
    );
    error_response(caller, error)
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ErrorBody<'a> {
    request_id: &'a str,
    host_id: &'a str,
    code: &'a str,
    message: &'a str,
    recommend: &'a str,
}

pub fn error_response(caller: &Caller, error: &ApiError) -> Response<Body> {
    let body = ErrorBody {
        request_id: &caller.request_id,
        host_id: &caller.host_id,
        code: error.code.code(),
        message: &error.message,
        recommend: error.recommend(),
    };
    json_response(error.code.http_status(), &body)
}

fn json_response(status: u16, body: &impl Serialize) -> Response<Body> {
    let (status, text) = match serde_json::to_string(body) {
        Ok(text) => (status, text),
        Err(err) => {
            tracing::error!(error = %err, "could not serialize a response");
            let internal = ApiError::new(ErrorCode::InternalError);
            (
                500,
                format!(
                    r#"{{"Code":"{}","Message":"{}"}}"#,
                    internal.code.code(),
                    internal.message
                ),
            )
        }
    };
    Response::builder()
        .status(status)
        .header("Content-Type", "application/json")
        .body(Body::Text(text))
        .unwrap_or_else(|_| Response::new(Body::Empty))
}

/// An export: the file as a download, under its name.
fn csv_response(file: CsvFile) -> Response<Body> {
    let disposition = file.content_disposition();
    Response::builder()
        .status(200)
        .header("Content-Type", export::CONTENT_TYPE)
        .header("Content-Disposition", disposition)
        .body(Body::Text(file.text))
        .unwrap_or_else(|_| Response::new(Body::Empty))
}
