//! The console's routes through the REST API payloads in `events/`: the page
//! and its files, and who the caller is on the console's data route (the
//! Cognito claim) against the IAM route (the claim ignored).

use crate::support::*;
use rtc_usage::domain::ids::{AccountId, AppId};
use rtc_usage::store::UsageStore;
use rtc_usage::store::dynamo::DynamoStore;
use serde_json::{Value, json};

const CONSOLE_API: &str = "apigw-rest-console-api.json";
const CONSOLE_PAGE: &str = "apigw-rest-console-page.json";
const OWNER_APP: &str = "owner-app";
const OTHER_APP: &str = "other-app";

/// OWNER and OTHER_ACCOUNT each own one app; the console route's sample
/// request (OWNER's claim), to change.
async fn world() -> (DynamoStore, Value) {
    let store = fresh_store().await;
    for (app, account) in [(OWNER_APP, OWNER), (OTHER_APP, OTHER_ACCOUNT)] {
        store
            .register(
                &AppId::parse(app).unwrap(),
                &AccountId::parse(account).unwrap(),
            )
            .await
            .unwrap();
    }
    (store, fixture(CONSOLE_API))
}

fn claims(event: &mut Value) -> &mut Value {
    &mut event["requestContext"]["authorizer"]["claims"]
}

fn iam_account(event: &mut Value) -> &mut Value {
    &mut event["requestContext"]["identity"]["accountId"]
}

async fn ask(store: &DynamoStore, event: &Value, dev_caller: Option<&AccountId>) -> Answer {
    answer(handle_event(store, dev_caller, event, now()).await)
}

fn apps(a: &Answer) -> Vec<String> {
    assert_eq!(a.status, 200, "{}", a.text);
    a.body["Apps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|app| app["AppId"].as_str().unwrap().to_owned())
        .collect()
}

fn assert_forbidden(a: &Answer) {
    assert_eq!(a.status, 403, "{}", a.text);
    assert_eq!(a.body["Code"], "Forbidden.RAM", "{}", a.text);
}

#[tokio::test]
async fn the_sample_payload_is_a_cognito_request_on_the_console_route() {
    let event = fixture(CONSOLE_API);
    assert_eq!(event["resource"], "/console/api");
    assert_eq!(event["requestContext"]["resourcePath"], "/console/api");
    assert!(event["requestContext"]["identity"]["accountId"].is_null());
    assert_eq!(
        event["requestContext"]["authorizer"]["claims"]["custom:accountId"],
        OWNER
    );
    assert_eq!(event["queryStringParameters"]["Action"], "DescribeApps");
}

/// The claim names the caller on the console's data route.
#[tokio::test]
async fn a_cognito_claim_is_the_caller_on_the_console_route() {
    let (store, mut event) = world().await;
    assert_eq!(apps(&ask(&store, &event, None).await), [OWNER_APP]);
    *claims(&mut event) = json!({"custom:accountId": OTHER_ACCOUNT, "token_use": "id"});
    assert_eq!(apps(&ask(&store, &event, None).await), [OTHER_APP]);
}

/// The same claim on the IAM route is ignored: without an IAM identity the
/// request has no caller.
#[tokio::test]
async fn the_same_claim_on_the_iam_route_is_ignored() {
    let (store, mut event) = world().await;
    event["resource"] = json!("/");
    event["path"] = json!("/");
    event["requestContext"]["resourcePath"] = json!("/");
    event["requestContext"]["path"] = json!("/Prod/");
    assert_forbidden(&ask(&store, &event, None).await);
    // An IAM identity there is the caller, whatever the claim says.
    *iam_account(&mut event) = json!(OTHER_ACCOUNT);
    assert_eq!(apps(&ask(&store, &event, None).await), [OTHER_APP]);
}

/// A claim never overrides an IAM identity, even on the console route.
#[tokio::test]
async fn a_claim_never_overrides_an_iam_identity() {
    let (store, mut event) = world().await;
    *iam_account(&mut event) = json!(OTHER_ACCOUNT);
    assert_eq!(apps(&ask(&store, &event, None).await), [OTHER_APP]);
}

/// Without a claim, an IAM identity or a development caller: 403.
#[tokio::test]
async fn a_missing_or_malformed_identity_is_refused() {
    let (store, mut event) = world().await;
    let malformed = [
        json!(null),
        json!(""),
        json!("11112222333"),
        json!("1111222233334"),
        json!("1111-2222-333"),
        json!(" 111122223333"),
        json!("１１１１２２２２３３３３"),
        json!("١١١١٢٢٢٢٣٣٣٣"),
        json!(111122223333u64),
        json!([OWNER]),
    ];
    for claim in malformed {
        *claims(&mut event) = json!({"custom:accountId": claim, "token_use": "id"});
        assert_forbidden(&ask(&store, &event, None).await);
    }
    // Another claim naming an account is not the account claim.
    *claims(&mut event) = json!({"accountId": OWNER, "custom:accountid": OWNER, "sub": OWNER});
    assert_forbidden(&ask(&store, &event, None).await);
    event["requestContext"]["authorizer"] = json!(null);
    assert_forbidden(&ask(&store, &event, None).await);
    // Locally the development caller stands in, as for the API.
    let dev = AccountId::parse(OTHER_ACCOUNT).unwrap();
    assert_eq!(apps(&ask(&store, &event, Some(&dev)).await), [OTHER_APP]);
}

/// The console route answers every action with the API's own rules: another
/// account's app is refused like an unknown one.
#[tokio::test]
async fn the_console_route_keeps_the_apis_rules() {
    let (store, mut event) = world().await;
    let mut refusals = Vec::new();
    for app in [OTHER_APP, "no-such-app"] {
        let query = json!({"Action": "DescribeUsagePackages", "AppId": app});
        event["queryStringParameters"] = query.clone();
        event["multiValueQueryStringParameters"] =
            json!({"Action": ["DescribeUsagePackages"], "AppId": [app]});
        let a = ask(&store, &event, None).await;
        assert_eq!(a.status, 400, "{}", a.text);
        refusals.push((a.body["Code"].clone(), a.body["Message"].clone()));
    }
    assert_eq!(refusals[0], refusals[1]);
    assert_eq!(refusals[0].0, "InvalidAppIdParameter");
}

/// A console route's answer as the runtime posts it; the page and its files
/// go as text, never base64.
fn page_response(event: &Value) -> Posted {
    let posted = futures::executor::block_on(async {
        let store = rtc_usage::store::memory::MemoryStore::default();
        handle_event(&store, None, event, now()).await
    });
    assert!(!posted.is_base64_encoded);
    posted
}

fn header<'a>(response: &'a Posted, name: &str) -> &'a str {
    response
        .header(name)
        .unwrap_or_else(|| panic!("no {name} header"))
}

fn body_text(response: &Posted) -> &str {
    response.text()
}

#[test]
fn the_page_is_served_without_sign_in_with_its_policy() {
    let event = fixture(CONSOLE_PAGE);
    assert!(event["requestContext"]["identity"]["accountId"].is_null());
    let response = page_response(&event);
    assert_eq!(response.status, 200);
    assert_eq!(
        header(&response, "content-type"),
        "text/html; charset=utf-8"
    );
    let csp = header(&response, "content-security-policy");
    assert!(csp.contains("script-src 'self';"), "{csp}");
    assert!(csp.contains("default-src 'none';"), "{csp}");
    let html = body_text(&response);
    assert!(html.contains(r#"<script src="console/assets/console.js" defer></script>"#));
    // The template's stage variables carry the sign-in settings.
    let domain = event["stageVariables"]["consoleSignInDomain"]
        .as_str()
        .unwrap();
    let client = event["stageVariables"]["consoleClientId"].as_str().unwrap();
    assert!(html.contains(&format!(
        r#"name="rtc-usage-sign-in-domain" content="{domain}""#
    )));
    assert!(html.contains(&format!(
        r#"name="rtc-usage-sign-in-client" content="{client}""#
    )));
    assert!(
        csp.contains(&format!("connect-src 'self' https://{domain};")),
        "{csp}"
    );
}

#[test]
fn sign_in_settings_that_are_not_plain_names_are_left_out() {
    let mut event = fixture(CONSOLE_PAGE);
    for bad in [
        r#"x"><script>alert(1)</script>"#,
        "evil.example.com; script-src *",
        "",
        "dömain.example",
    ] {
        event["stageVariables"]["consoleSignInDomain"] = json!(bad);
        let response = page_response(&event);
        assert_eq!(response.status, 200);
        let html = body_text(&response);
        assert!(!html.contains("rtc-usage-sign-in"), "{bad}");
        assert!(!html.contains("alert(1)"));
        let csp = header(&response, "content-security-policy");
        assert!(csp.contains("connect-src 'self';"), "{csp}");
    }
}

#[test]
fn the_pages_files_are_served_and_nothing_else() {
    let mut event = fixture(CONSOLE_PAGE);
    event["resource"] = json!("/console/assets/{file}");
    event["requestContext"]["resourcePath"] = json!("/console/assets/{file}");
    for (file, content_type) in [
        ("console.js", "text/javascript; charset=utf-8"),
        ("uPlot.iife.min.js", "text/javascript; charset=utf-8"),
        ("console.css", "text/css; charset=utf-8"),
        ("uPlot.min.css", "text/css; charset=utf-8"),
    ] {
        event["pathParameters"] = json!({ "file": file });
        event["path"] = json!(format!("/console/assets/{file}"));
        let response = page_response(&event);
        assert_eq!(response.status, 200, "{file}");
        assert_eq!(header(&response, "content-type"), content_type);
        assert_eq!(header(&response, "x-content-type-options"), "nosniff");
        let on_disk = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("console")
                .join(if file.starts_with("uPlot") {
                    "vendor"
                } else {
                    ""
                })
                .join(file),
        )
        .unwrap();
        assert_eq!(body_text(&response), on_disk, "{file}");
    }
    for missing in [
        "index.html",
        "../index.html",
        "console.js.map",
        "CONSOLE.JS",
        "",
    ] {
        event["pathParameters"] = json!({ "file": missing });
        assert_eq!(page_response(&event).status, 404, "{missing}");
    }
}

/// The vendored chart library is the npm package pinned in package.json,
/// byte for byte, with its license.
#[test]
fn the_vendored_chart_library_is_the_pinned_package() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let package: Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("package.json")).unwrap()).unwrap();
    let pinned = package["devDependencies"]["uplot"].as_str().unwrap();
    let installed: Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("node_modules/uplot/package.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(installed["version"], pinned);
    for (vendored, shipped) in [
        ("uPlot.iife.min.js", "dist/uPlot.iife.min.js"),
        ("uPlot.min.css", "dist/uPlot.min.css"),
        ("uPlot.LICENSE", "LICENSE"),
    ] {
        assert_eq!(
            std::fs::read(root.join("console/vendor").join(vendored)).unwrap(),
            std::fs::read(root.join("node_modules/uplot").join(shipped)).unwrap(),
            "console/vendor/{vendored} is not uplot {pinned}'s {shipped}"
        );
    }
    let script = std::fs::read_to_string(root.join("console/vendor/uPlot.iife.min.js")).unwrap();
    assert!(script.starts_with(&format!(
        "/*! https://github.com/leeoniya/uPlot (v{pinned}) */"
    )));
}
