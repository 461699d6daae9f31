//! The usage console's routes: which part of the service a request is for,
//! and the page with its script, style and chart library, embedded in the
//! binary so that nothing is fetched from elsewhere at run time.
//!
//! The page asks the usage API at `console/api` (relative to itself), so the
//! same files work under API Gateway's stage path and behind a local function
//! URL. The Content-Security-Policy lets only the page's own files run: no
//! inline script or style, no event handler attributes, nothing from another
//! origin except the token endpoint of the sign-in domain when one is set.

use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};

/// What a request is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    /// The usage API with the IAM caller (`GET /`, and any path not below).
    Api,
    /// The usage API for the console: the caller may come from the Cognito
    /// authorizer's `custom:accountId` claim.
    ConsoleApi,
    /// `GET /console`: the page.
    ConsolePage,
    /// `GET /console/`: the page's relative links need `/console` itself.
    ConsoleSlash,
    /// `GET /console/assets/{file}`, by file.
    ConsoleAsset(&'static Asset),
    /// `GET /console/assets/{file}` for a file the page does not have.
    ConsoleAssetMissing,
}

/// One file of the page, as it is served.
#[derive(Debug, PartialEq, Eq)]
pub struct Asset {
    pub name: &'static str,
    pub content_type: &'static str,
    pub body: &'static str,
}

const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

/// Every file the page loads besides itself. uPlot is vendored as its npm
/// package ships it (version pinned in package.json, license beside it).
pub static ASSETS: [Asset; 4] = [
    Asset {
        name: "console.js",
        content_type: JS,
        body: include_str!("../../console/console.js"),
    },
    Asset {
        name: "console.css",
        content_type: CSS,
        body: include_str!("../../console/console.css"),
    },
    Asset {
        name: "uPlot.iife.min.js",
        content_type: JS,
        body: include_str!("../../console/vendor/uPlot.iife.min.js"),
    },
    Asset {
        name: "uPlot.min.css",
        content_type: CSS,
        body: include_str!("../../console/vendor/uPlot.min.css"),
    },
];

/// The page; `<!--sign-in-->` becomes the sign-in settings where there are some.
pub const PAGE: &str = include_str!("../../console/index.html");
const SIGN_IN_MARK: &str = "<!--sign-in-->";

/// Stage variables of the REST API that carry the console's sign-in settings
/// (the template sets them; they cannot be function environment variables,
/// as the app client's callback URL already depends on the API).
pub const CLIENT_ID_VARIABLE: &str = "consoleClientId";
pub const SIGN_IN_DOMAIN_VARIABLE: &str = "consoleSignInDomain";

const ASSETS_PREFIX: &str = "/console/assets/";

/// The route of a request. REST API payloads name their resource (the
/// template's path, whatever the stage or custom domain); other payloads (the
/// HTTP API, function URLs) give the path as called.
pub fn route_of(request: &Request) -> Route {
    let path = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV1(ctx)) => match ctx.resource_path.as_deref() {
            Some("/console/assets/{file}") => format!(
                "{ASSETS_PREFIX}{}",
                request
                    .path_parameters_ref()
                    .and_then(|p| p.first("file"))
                    .unwrap_or_default()
            ),
            Some(resource) => resource.to_owned(),
            None => request.raw_http_path().to_owned(),
        },
        _ => request.raw_http_path().to_owned(),
    };
    route_of_path(&path)
}

fn route_of_path(path: &str) -> Route {
    match path {
        "/console" => Route::ConsolePage,
        "/console/" => Route::ConsoleSlash,
        "/console/api" | "/console/api/" => Route::ConsoleApi,
        _ => match path.strip_prefix(ASSETS_PREFIX) {
            Some(name) => ASSETS
                .iter()
                .find(|asset| asset.name == name)
                .map_or(Route::ConsoleAssetMissing, Route::ConsoleAsset),
            None => Route::Api,
        },
    }
}

/// Where the page sends people to sign in: Amazon Cognito's hosted UI.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignIn {
    pub domain: String,
    pub client_id: String,
}

impl SignIn {
    /// From the request's stage variables; none locally. Values that are not
    /// a plain host name and client id are refused rather than escaped: they
    /// go into the page and into its Content-Security-Policy.
    pub fn of(request: &Request) -> Option<SignIn> {
        let variables = request.stage_variables_ref()?;
        let domain = variables.first(SIGN_IN_DOMAIN_VARIABLE)?;
        let client_id = variables.first(CLIENT_ID_VARIABLE)?;
        let plain = |text: &str, extra: &[u8]| {
            !text.is_empty()
                && text.len() <= 253
                && text
                    .bytes()
                    .all(|c| c.is_ascii_alphanumeric() || extra.contains(&c))
        };
        if plain(domain, b".-") && plain(client_id, b"") {
            Some(SignIn {
                domain: domain.to_owned(),
                client_id: client_id.to_owned(),
            })
        } else {
            tracing::error!("the console's sign-in stage variables are malformed; sign-in is off");
            None
        }
    }
}

/// The page's policy: its own files only; the API and, when sign-in is set,
/// the sign-in domain's token endpoint as the only places it may connect to.
pub fn content_security_policy(sign_in: Option<&SignIn>) -> String {
    let connect = match sign_in {
        Some(s) => format!("'self' https://{}", s.domain),
        None => "'self'".to_owned(),
    };
    format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
         connect-src {connect}; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
}

/// The page, with the sign-in settings in meta tags the script reads.
pub fn page(sign_in: Option<&SignIn>) -> String {
    let settings = sign_in.map_or_else(String::new, |s| {
        format!(
            r#"<meta name="rtc-usage-sign-in-domain" content="{}"><meta name="rtc-usage-sign-in-client" content="{}">"#,
            s.domain, s.client_id
        )
    });
    PAGE.replacen(SIGN_IN_MARK, &settings, 1)
}

/// The answer to a console route other than the API.
pub fn respond(route: Route, request: &Request) -> Response<Body> {
    let builder = Response::builder()
        .header("X-Content-Type-Options", "nosniff")
        .header("Referrer-Policy", "no-referrer");
    let built = match route {
        Route::ConsolePage => {
            let sign_in = SignIn::of(request);
            builder
                .status(200)
                .header("Content-Type", "text/html; charset=utf-8")
                .header(
                    "Content-Security-Policy",
                    content_security_policy(sign_in.as_ref()),
                )
                // The page carries the sign-in settings of its stage.
                .header("Cache-Control", "no-cache")
                .body(Body::Text(page(sign_in.as_ref())))
        }
        Route::ConsoleAsset(asset) => builder
            .status(200)
            .header("Content-Type", asset.content_type)
            // Deployed with the function: a new deployment shows within minutes.
            .header("Cache-Control", "public, max-age=300")
            .body(Body::Text(asset.body.to_owned())),
        Route::ConsoleSlash => builder
            .status(308)
            .header("Location", "../console")
            .body(Body::Empty),
        Route::ConsoleAssetMissing | Route::Api | Route::ConsoleApi => builder
            .status(404)
            .header("Content-Type", "text/plain; charset=utf-8")
            .body(Body::Text("not found\n".to_owned())),
    };
    built.unwrap_or_else(|_| Response::new(Body::Empty))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_route_to_the_page_its_files_and_the_api() {
        assert_eq!(route_of_path("/console"), Route::ConsolePage);
        assert_eq!(route_of_path("/console/"), Route::ConsoleSlash);
        assert_eq!(route_of_path("/console/api"), Route::ConsoleApi);
        assert_eq!(
            route_of_path("/console/assets/console.js"),
            Route::ConsoleAsset(&ASSETS[0])
        );
        assert_eq!(
            route_of_path("/console/assets/../template.yaml"),
            Route::ConsoleAssetMissing
        );
        assert_eq!(
            route_of_path("/console/assets/"),
            Route::ConsoleAssetMissing
        );
        for api in ["/", "", "/Prod/", "/consoles", "/api", "/console/apis"] {
            assert_eq!(route_of_path(api), Route::Api, "{api}");
        }
    }

    #[test]
    fn the_page_links_every_asset_and_nothing_else() {
        for asset in &ASSETS {
            let link = format!("\"console/assets/{}\"", asset.name);
            assert!(
                PAGE.contains(&link),
                "the page does not load {}",
                asset.name
            );
        }
        assert_eq!(PAGE.matches("console/assets/").count(), ASSETS.len());
        assert_eq!(PAGE.matches(SIGN_IN_MARK).count(), 1);
    }

    #[test]
    fn the_page_has_no_inline_script_style_or_handler() {
        let lower = PAGE.to_ascii_lowercase();
        assert_eq!(lower.matches("<script").count(), 2);
        assert_eq!(lower.matches("<script src=").count(), 2);
        assert!(!lower.contains("<style"));
        assert!(!lower.contains(" style="));
        for tag in lower.split('<').skip(1) {
            let attributes = tag.split('>').next().unwrap_or_default();
            assert!(
                !attributes
                    .split_whitespace()
                    .any(|a| a.starts_with("on") && a.contains('=')),
                "an inline event handler in <{attributes}>"
            );
        }
        assert!(!lower.contains("http:") && !lower.contains("https:"));
    }

    #[test]
    fn sign_in_settings_reach_the_page_and_its_policy() {
        let sign_in = SignIn {
            domain: "rtc-usage-123456789012.auth.us-east-1.amazoncognito.com".to_owned(),
            client_id: "4lq1t2example0client0id".to_owned(),
        };
        let html = page(Some(&sign_in));
        assert!(html.contains(
            r#"<meta name="rtc-usage-sign-in-domain" content="rtc-usage-123456789012.auth.us-east-1.amazoncognito.com">"#
        ));
        assert!(html.contains(r#"content="4lq1t2example0client0id""#));
        let csp = content_security_policy(Some(&sign_in));
        assert!(csp.contains(
            "connect-src 'self' https://rtc-usage-123456789012.auth.us-east-1.amazoncognito.com;"
        ));
        let local = content_security_policy(None);
        assert!(local.contains("script-src 'self';") && local.contains("connect-src 'self';"));
        assert!(!page(None).contains("rtc-usage-sign-in"));
    }
}
