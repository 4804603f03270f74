use super::*;

/// A payload 2.0 GET as API Gateway sends it on stage `v1`.
fn get(raw_path: &str, headers: serde_json::Value) -> Request {
    let event = serde_json::json!({
        "version": "2.0", "routeKey": "GET /console/{proxy+}", "rawPath": raw_path,
        "rawQueryString": "", "headers": headers,
        "requestContext": {
            "accountId": "123456789012", "apiId": "id", "domainName": "console.example.com",
            "domainPrefix": "console",
            "http": {"method": "GET", "path": raw_path, "protocol": "HTTP/1.1", "sourceIp": "IP", "userAgent": "a"},
            "requestId": "id", "routeKey": "GET /console/{proxy+}", "stage": "v1",
            "time": "12/Mar/2020:19:03:58 +0000", "timeEpoch": 1583348638390i64
        },
        "isBase64Encoded": false
    });
    lambda_http::request::from_str(&event.to_string()).unwrap()
}

fn answer(sign_in: &ConsoleSignIn, raw_path: &str) -> Response<Body> {
    let request = get(raw_path, serde_json::json!({}));
    let path = console_path(&request).expect("a console path");
    serve(sign_in, &request, path)
}

fn header<'a>(r: &'a Response<Body>, name: &str) -> &'a str {
    r.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

fn text(r: &Response<Body>) -> String {
    match r.body() {
        Body::Text(t) => t.clone(),
        Body::Empty => String::new(),
        Body::Binary(b) => String::from_utf8_lossy(b).into_owned(),
        _ => String::new(),
    }
}

#[test]
fn the_console_is_found_on_the_stage_and_through_the_custom_domain() {
    for (path, expected) in [
        ("/v1/console/app.js", Some("/app.js")),
        ("/console/app.js", Some("/app.js")),
        ("/v1/console/", Some("/")),
        ("/v1/console", Some("")),
        ("/v1/consoles/x", None),
        ("/v1/v1/clearing-messages", None),
    ] {
        assert_eq!(
            console_path(&get(path, serde_json::json!({}))),
            expected,
            "{path}"
        );
    }
}

#[test]
fn files_have_their_content_type_a_strict_policy_and_revalidation() {
    let sign_in = ConsoleSignIn::default();
    for (path, kind) in [
        ("/v1/console/", "text/html; charset=utf-8"),
        ("/v1/console/index.html", "text/html; charset=utf-8"),
        ("/v1/console/app.js", "text/javascript; charset=utf-8"),
        ("/v1/console/console.css", "text/css; charset=utf-8"),
        ("/v1/console/favicon.svg", "image/svg+xml"),
    ] {
        let r = answer(&sign_in, path);
        assert_eq!(r.status(), 200, "{path}");
        assert_eq!(header(&r, "content-type"), kind, "{path}");
        assert_eq!(header(&r, "cache-control"), "no-cache", "{path}");
        assert!(header(&r, "etag").starts_with('"'), "{path}");
        let csp = header(&r, "content-security-policy");
        assert!(
            csp.contains("default-src 'none'") && csp.contains("script-src 'self'"),
            "{csp}"
        );
        assert!(
            !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
            "{csp}"
        );
        assert_eq!(header(&r, "x-content-type-options"), "nosniff");
        assert!(!text(&r).is_empty());
    }
    assert!(
        text(&answer(&sign_in, "/v1/console/")).contains("<script type=\"module\" src=\"app.js\">")
    );
}

#[test]
fn a_known_etag_is_304_and_unknown_files_are_404() {
    let sign_in = ConsoleSignIn::default();
    let etag = header(&answer(&sign_in, "/v1/console/app.js"), "etag").to_owned();
    let request = get(
        "/v1/console/app.js",
        serde_json::json!({"if-none-match": etag}),
    );
    let r = serve(&sign_in, &request, "/app.js");
    assert_eq!((r.status().as_u16(), text(&r)), (304, String::new()));
    assert_eq!(answer(&sign_in, "/v1/console/../lib.rs").status(), 404);
    assert_eq!(answer(&sign_in, "/v1/console/nothing.js").status(), 404);
}

#[test]
fn the_bare_path_redirects_relatively_to_the_directory() {
    let r = answer(&ConsoleSignIn::default(), "/v1/console");
    assert_eq!(
        (r.status().as_u16(), header(&r, "location")),
        (302, "console/")
    );
}

#[test]
fn config_names_the_hosted_ui_only_when_configured_and_the_policy_allows_it() {
    let local = answer(&ConsoleSignIn::default(), "/v1/console/config.json");
    assert_eq!(text(&local), r#"{"signIn":"token"}"#);
    let env = Env::from_pairs([
        (
            "CONSOLE_AUTH_DOMAIN",
            "ops.auth.us-east-1.amazoncognito.com",
        ),
        ("CONSOLE_CLIENT_ID", "abc123"),
    ]);
    let sign_in = ConsoleSignIn::from_config(&env);
    let r = answer(&sign_in, "/v1/console/config.json");
    let config: serde_json::Value = serde_json::from_str(&text(&r)).unwrap();
    assert_eq!(config["signIn"], "hosted-ui");
    assert_eq!(
        config["authDomain"],
        "https://ops.auth.us-east-1.amazoncognito.com"
    );
    assert_eq!(config["clientId"], "abc123");
    assert!(header(&r, "content-security-policy")
        .contains("connect-src 'self' https://ops.auth.us-east-1.amazoncognito.com"));
    // A domain without a client id is not enough to sign in with.
    let half = ConsoleSignIn::from_config(&Env::from_pairs([("CONSOLE_AUTH_DOMAIN", "x")]));
    assert_eq!(
        text(&answer(&half, "/v1/console/config.json")),
        r#"{"signIn":"token"}"#
    );
}

#[test]
fn only_get_and_head_are_answered() {
    let mut request = get("/v1/console/app.js", serde_json::json!({}));
    *request.method_mut() = http::Method::POST;
    let r = serve(&ConsoleSignIn::default(), &request, "/app.js");
    assert_eq!(r.status(), 405);
}
