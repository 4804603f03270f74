//! The operators' console: static files embedded in this binary, served
//! without a token (they hold no data; every API call the page makes carries
//! the operator's token) at `GET /console` (a redirect to `/console/`),
//! `GET /console/` and `GET /console/{proxy+}`.
//!
//! Every answer carries a strict Content-Security-Policy (only this origin's
//! scripts and styles, no inline code, API calls to this origin and to the
//! configured identity provider), `nosniff` and no framing. Files are
//! revalidated by ETag (`no-cache`), so a new deployment is seen at once.

use std::sync::LazyLock;

use lambda_http::{Body, Request, Response};

use shared::config::Env;
use shared::http::stage_relative_path;

/// The identity provider the console signs in with, when deployed (the
/// Cognito hosted UI: authorization code with PKCE). Without it, the console
/// asks for a token (the local dev token).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConsoleSignIn {
    /// `https://<prefix>.auth.<region>.amazoncognito.com` or a custom auth domain.
    pub auth_domain: Option<String>,
    pub client_id: Option<String>,
    /// Space-separated OAuth scopes the console asks for.
    pub scopes: Option<String>,
}

impl ConsoleSignIn {
    /// `CONSOLE_AUTH_DOMAIN`, `CONSOLE_CLIENT_ID`, `CONSOLE_SCOPES` (all optional).
    pub fn from_config(env: &Env) -> Self {
        let domain = env
            .optional("CONSOLE_AUTH_DOMAIN")
            .map(|d| d.trim_end_matches('/').to_owned())
            .map(|d| {
                if d.starts_with("https://") {
                    d
                } else {
                    format!("https://{d}")
                }
            });
        Self {
            auth_domain: domain,
            client_id: env.optional("CONSOLE_CLIENT_ID"),
            scopes: env.optional("CONSOLE_SCOPES"),
        }
    }

    fn hosted_ui(&self) -> Option<(&str, &str)> {
        Some((self.auth_domain.as_deref()?, self.client_id.as_deref()?))
    }

    /// `config.json`: what the page needs to sign in.
    fn config_json(&self) -> String {
        let value = match self.hosted_ui() {
            Some((domain, client)) => serde_json::json!({
                "signIn": "hosted-ui",
                "authDomain": domain,
                "clientId": client,
                "scopes": self.scopes.as_deref().unwrap_or("openid"),
            }),
            None => serde_json::json!({"signIn": "token"}),
        };
        value.to_string()
    }

    /// The policy: the identity provider's token endpoint is the only other origin.
    fn content_security_policy(&self) -> String {
        let idp = self
            .hosted_ui()
            .map(|(d, _)| format!(" {d}"))
            .unwrap_or_default();
        format!(
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             connect-src 'self'{idp}; form-action 'self'{idp}; base-uri 'none'; frame-ancestors 'none'"
        )
    }
}

struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static str,
}

macro_rules! asset {
    ($name:literal, $type:expr) => {
        Asset {
            name: $name,
            content_type: $type,
            body: include_str!(concat!("../console/", $name)),
        }
    };
}

const JS: &str = "text/javascript; charset=utf-8";

static ASSETS: &[Asset] = &[
    asset!("index.html", "text/html; charset=utf-8"),
    asset!("console.css", "text/css; charset=utf-8"),
    asset!("favicon.svg", "image/svg+xml"),
    asset!("app.js", JS),
    asset!("api.js", JS),
    asset!("auth.js", JS),
    asset!("ui.js", JS),
    asset!("messages.js", JS),
    asset!("queue.js", JS),
    asset!("message.js", JS),
    asset!("writeoffs.js", JS),
    asset!("reports.js", JS),
    asset!("pix.js", JS),
];

/// Each asset's ETag: a hash of its bytes (FNV-1a), computed once.
static ETAGS: LazyLock<Vec<String>> = LazyLock::new(|| {
    ASSETS
        .iter()
        .map(|a| format!("\"{:016x}\"", fnv1a(a.body.as_bytes())))
        .collect()
});

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The console path of a request (`""` for `/console`, `"/"` for
/// `/console/`, `"/app.js"`...), or None when it is not for the console.
pub fn console_path(request: &Request) -> Option<&str> {
    let path = stage_relative_path(request).strip_prefix("/console")?;
    (path.is_empty() || path.starts_with('/')).then_some(path)
}

/// The answer to a console request: the file, a redirect, 304, 404 or 405.
pub fn serve(sign_in: &ConsoleSignIn, request: &Request, path: &str) -> Response<Body> {
    let csp = sign_in.content_security_policy();
    let method = request.method().as_str();
    if method != "GET" && method != "HEAD" {
        return plain(405, &csp, "method not allowed").unwrap_or_else(fallback);
    }
    let answer = match path {
        // Relative: `/v1/console` -> `/v1/console/`, `/console` -> `/console/`.
        "" => base(302, &csp)
            .header("location", "console/")
            .body(Body::Empty),
        "/config.json" => base(200, &csp)
            .header("content-type", "application/json")
            .header("cache-control", "no-store")
            .body(Body::Text(sign_in.config_json())),
        _ => return file(request, path, &csp),
    };
    answer.unwrap_or_else(fallback)
}

fn file(request: &Request, path: &str, csp: &str) -> Response<Body> {
    let name = match path.trim_start_matches('/') {
        "" => "index.html",
        other => other,
    };
    let Some(index) = ASSETS.iter().position(|a| a.name == name) else {
        return plain(404, csp, "no such console file").unwrap_or_else(fallback);
    };
    let (asset, etag) = (&ASSETS[index], &ETAGS[index]);
    let fresh = request
        .headers()
        .get("if-none-match")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    let builder = base(if fresh { 304 } else { 200 }, csp)
        .header("content-type", asset.content_type)
        .header("cache-control", "no-cache")
        .header("etag", etag.as_str());
    let body = if fresh || request.method() == "HEAD" {
        Body::Empty
    } else {
        Body::Text(asset.body.to_owned())
    };
    builder.body(body).unwrap_or_else(fallback)
}

fn base(status: u16, csp: &str) -> http::response::Builder {
    Response::builder()
        .status(status)
        .header("content-security-policy", csp)
        .header("x-content-type-options", "nosniff")
        .header("referrer-policy", "no-referrer")
        .header("x-frame-options", "DENY")
}

fn plain(status: u16, csp: &str, text: &str) -> Result<Response<Body>, http::Error> {
    base(status, csp)
        .header("content-type", "text/plain; charset=utf-8")
        .header("cache-control", "no-store")
        .body(Body::Text(text.to_owned()))
}

fn fallback<T>(_: T) -> Response<Body> {
    Response::new(Body::Empty)
}

#[cfg(test)]
mod tests;
