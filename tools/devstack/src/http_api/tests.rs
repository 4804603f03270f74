//! Reading the HTTP API from a template, and route selection.

use super::*;

fn route(function: &str, method: &str, path: &str) -> HttpRoute {
    HttpRoute {
        function: function.into(),
        method: method.into(),
        path: path.into(),
    }
}

#[test]
fn the_repository_template_has_its_routes_on_stage_v1() {
    let api = HttpApi::repo_default().unwrap();
    assert_eq!(api.stage(), "v1");
    let keys: Vec<(String, &str)> = api
        .routes()
        .iter()
        .map(|r| (r.key(), r.function.as_str()))
        .collect();
    for (key, function) in [
        (
            "POST /v1/webhooks/{network}/clearing",
            "ClearingWebhookFunction",
        ),
        (
            "POST /v1/webhooks/{network}/authorizations",
            "ClearingWebhookFunction",
        ),
        (
            "POST /v1/clearing-reconciliation",
            "ReconciliationApiFunction",
        ),
        (
            "GET /v1/clearing-messages/{clearingUniqueId}",
            "ReconciliationApiFunction",
        ),
        ("GET /v1/clearing-messages", "ReconciliationApiFunction"),
        ("GET /v1/clearing-search", "ReconciliationApiFunction"),
        ("GET /console", "ReconciliationApiFunction"),
        ("GET /console/", "ReconciliationApiFunction"),
        ("GET /console/{proxy+}", "ReconciliationApiFunction"),
    ] {
        assert!(
            keys.contains(&(key.to_owned(), function)),
            "{key}: {keys:?}"
        );
    }
    // 2 webhook routes, 4 operator API routes, 3 console files, 12 console API routes.
    assert_eq!(api.routes().len(), 21);
}

const TEMPLATE: &str = r#"
Parameters:
  Stage: {Type: String, Default: prod}
Resources:
  Api:
    Type: AWS::Serverless::HttpApi
    Properties:
      StageName: {Ref: Stage}
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Events:
        One: {Type: HttpApi, Properties: {ApiId: {Ref: Api}, Method: get, Path: "/items/{id}"}}
        Queue: {Type: SQS, Properties: {Queue: arn}}
"#;

#[test]
fn the_stage_is_the_parameter_default_and_methods_are_upper_case() {
    let api = HttpApi::from_template(&Template::parse(TEMPLATE, "t.yaml").unwrap()).unwrap();
    assert_eq!(api.stage(), "prod");
    assert_eq!(api.routes(), [route("Fn", "GET", "/items/{id}")]);
    assert_eq!(api.url_path("/items/1"), "/prod/items/1");

    // Without ApiId: SAM's implicit API, on `$default`.
    let implicit = TEMPLATE.replace("ApiId: {Ref: Api}, ", "");
    let api = HttpApi::from_template(&Template::parse(&implicit, "t.yaml").unwrap()).unwrap();
    assert_eq!(api.stage(), "$default");
    assert_eq!(api.url_path("/items/1"), "/items/1");

    let literal = TEMPLATE.replace("{Ref: Stage}", "beta");
    let api = HttpApi::from_template(&Template::parse(&literal, "t.yaml").unwrap()).unwrap();
    assert_eq!(api.stage(), "beta");

    for broken in [
        TEMPLATE.replace("Method: get, ", ""),
        TEMPLATE.replace("{Ref: Stage}", "{Ref: Nothing}"),
        TEMPLATE.replace("{Ref: Api}", "{Ref: Other}"),
    ] {
        let t = Template::parse(&broken, "t.yaml").unwrap();
        assert!(HttpApi::from_template(&t).is_err(), "{broken}");
    }
}

#[test]
fn requests_resolve_under_the_stage_to_the_most_specific_route() {
    let api = HttpApi::new(
        "v1",
        vec![
            route("A", "GET", "/v1/items/{id}"),
            route("B", "GET", "/v1/items/special"),
            route("C", "ANY", "/v1/items/{id}"),
            route("D", "GET", "/v1/files/{path+}"),
        ],
    );
    let m = api.resolve("GET", "/v1/v1/items/a%20b").unwrap();
    assert_eq!(
        (m.route.function.as_str(), m.route.key()),
        ("A", "GET /v1/items/{id}".into())
    );
    assert_eq!(m.path_parameters["id"], "a b");
    assert_eq!(
        api.resolve("GET", "/v1/v1/items/special")
            .unwrap()
            .route
            .function,
        "B"
    );
    assert_eq!(
        api.resolve("DELETE", "/v1/v1/items/x")
            .unwrap()
            .route
            .function,
        "C"
    );
    let greedy = api.resolve("GET", "/v1/v1/files/a/b.txt").unwrap();
    assert_eq!(greedy.path_parameters["path"], "a/b.txt");
    for (method, path) in [
        ("GET", "/v1/items/x"),      // no stage
        ("GET", "/v2/v1/items/x"),   // another stage
        ("GET", "/v1x/v1/items/x"),  // not a whole segment
        ("GET", "/v1/v1/items/"),    // empty parameter
        ("GET", "/v1/v1/items/x/y"), // too long
        ("POST", "/v1/v1/files/a"),  // no route of that method
        ("GET", "/v1/v1/files/"),    // a greedy parameter is not empty
    ] {
        assert_eq!(api.resolve(method, path), None, "{method} {path}");
    }
}

#[test]
fn the_default_route_catches_what_no_other_route_matches() {
    let api = HttpApi::new(
        "$default",
        vec![route("A", "GET", "/items"), route("Z", "ANY", "$default")],
    );
    assert_eq!(api.resolve("GET", "/items").unwrap().route.function, "A");
    let m = api.resolve("POST", "/anything/else").unwrap();
    assert_eq!(
        (m.route.function.as_str(), m.route.key()),
        ("Z", "$default".into())
    );
}
