//! Routing on (method, path template): on the route API Gateway says it
//! matched (`routeKey`), else on the path relative to the stage.

use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};

use crate::api_error::ApiError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Segment {
    Literal(&'static str),
    /// `{name}`: one non-empty path segment.
    Param(&'static str),
}

struct Entry<R> {
    method: &'static str,
    template: &'static str,
    segments: Vec<Segment>,
    route: R,
}

/// The path parameters of a matched route, by template name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PathParams(Vec<(&'static str, String)>);

impl PathParams {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A request's route and its path parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matched<R> {
    pub route: R,
    pub params: PathParams,
}

/// A route table: (method, path template such as
/// `/v1/clearing-messages/{clearingUniqueId}`) to a route value.
pub struct Router<R> {
    entries: Vec<Entry<R>>,
}

impl<R> Default for Router<R> {
    fn default() -> Self {
        Self {
            entries: Vec::new(),
        }
    }
}

impl<R: Clone> Router<R> {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a route. Templates are static, so a malformed one is a programming error.
    pub fn route(mut self, method: &'static str, template: &'static str, route: R) -> Self {
        let segments = split(template)
            .map(
                |s| match s.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                    Some(name) if !name.is_empty() => Segment::Param(name),
                    _ => {
                        assert!(
                            !s.contains(['{', '}']),
                            "malformed route template `{template}`"
                        );
                        Segment::Literal(s)
                    }
                },
            )
            .collect();
        self.entries.push(Entry {
            method,
            template,
            segments,
            route,
        });
        self
    }

    /// The route for `method` and `path` (relative to the stage); 404 BTN0302 if none.
    pub fn resolve(&self, method: &str, path: &str) -> Result<Matched<R>, ApiError> {
        let parts: Vec<&str> = split(path).collect();
        let mut allowed: Vec<&str> = Vec::new();
        for entry in &self.entries {
            let Some(params) = entry.params(&parts) else {
                continue;
            };
            if entry.method == method {
                return Ok(Matched {
                    route: entry.route.clone(),
                    params,
                });
            }
            allowed.push(entry.method);
        }
        Err(ApiError::RouteNotFound(if allowed.is_empty() {
            format!("no route for {method} {path}")
        } else {
            format!("{path} only accepts {}", allowed.join(", "))
        }))
    }

    /// The route of a request. API Gateway names the route it matched in
    /// `routeKey` (`POST /v1/webhooks/{network}/clearing`); that route is
    /// taken, its parameters read from the end of the path, whatever comes
    /// before it (a named stage, or nothing: custom domain mappings and
    /// `sam local` pass the path without the stage while naming it). A
    /// `$default` route key (catch-all route, the local runner) routes on the
    /// path relative to the stage, [`Self::resolve`].
    pub fn resolve_request(&self, request: &Request) -> Result<Matched<R>, ApiError> {
        let method = request.method().as_str();
        if let Some((key_method, template)) = route_key(request) {
            let entry = self
                .entries
                .iter()
                .find(|e| e.method == key_method && e.method == method && e.template == template);
            let parts: Vec<&str> = split(request.raw_http_path()).collect();
            let tail = parts
                .len()
                .checked_sub(entry.map_or(0, |e| e.segments.len()));
            if let (Some(entry), Some(tail)) = (entry, tail) {
                if let Some(params) = entry.params(&parts[tail..]) {
                    return Ok(Matched {
                        route: entry.route.clone(),
                        params,
                    });
                }
            }
        }
        self.resolve(method, stage_relative_path(request))
    }
}

/// The (method, path template) of the payload 2.0 `routeKey`, unless `$default`.
fn route_key(request: &Request) -> Option<(&str, &str)> {
    match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx.route_key.as_deref()?.split_once(' '),
        _ => None,
    }
}

impl<R> Entry<R> {
    fn params(&self, parts: &[&str]) -> Option<PathParams> {
        if parts.len() != self.segments.len() {
            return None;
        }
        let mut params = Vec::new();
        for (segment, part) in self.segments.iter().zip(parts) {
            match segment {
                Segment::Literal(l) if l == part => {}
                Segment::Param(name) if !part.is_empty() => {
                    params.push((*name, (*part).to_owned()))
                }
                _ => return None,
            }
        }
        Some(PathParams(params))
    }
}

fn split(path: &str) -> impl Iterator<Item = &str> {
    path.trim_matches('/').split('/')
}

/// The request's path without the API Gateway stage. On a named stage the
/// HTTP API's payload 2.0 carries the stage in front (`rawPath`
/// `/v1/v1/webhooks/...` on stage `v1`); on `$default` there is none.
pub fn stage_relative_path(request: &Request) -> &str {
    let stage = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx.stage.as_deref(),
        _ => None,
    };
    strip_stage(request.raw_http_path(), stage)
}

fn strip_stage<'a>(path: &'a str, stage: Option<&str>) -> &'a str {
    let Some(stage) = stage.filter(|s| !s.is_empty() && *s != "$default") else {
        return path;
    };
    match path.strip_prefix('/').and_then(|p| p.strip_prefix(stage)) {
        Some("") => "/",
        Some(rest) if rest.starts_with('/') => rest,
        // A custom domain's API mapping already took the stage off.
        _ => path,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum R {
        One,
        List,
        Post,
    }

    fn router() -> Router<R> {
        Router::new()
            .route("GET", "/v1/clearing-messages/{clearingUniqueId}", R::One)
            .route("GET", "/v1/clearing-messages", R::List)
            .route("POST", "/v1/clearing-reconciliation", R::Post)
    }

    #[test]
    fn routes_by_method_and_template_with_path_parameters() {
        let m = router()
            .resolve("GET", "/v1/clearing-messages/abc")
            .unwrap();
        assert_eq!(m.route, R::One);
        assert_eq!(m.params.get("clearingUniqueId"), Some("abc"));
        assert_eq!(m.params.get("other"), None);
        assert_eq!(
            router()
                .resolve("GET", "/v1/clearing-messages/")
                .unwrap()
                .route,
            R::List
        );
        assert_eq!(
            router()
                .resolve("POST", "/v1/clearing-reconciliation")
                .unwrap()
                .route,
            R::Post
        );
    }

    #[test]
    fn unknown_paths_and_methods_are_404_route_not_found() {
        for (method, path) in [
            ("GET", "/v1/nothing"),
            ("GET", "/v1/clearing-messages/a/b"),
            ("GET", "/v1/clearing-reconciliation"),
            ("DELETE", "/v1/clearing-messages/abc"),
        ] {
            let e = router().resolve(method, path).unwrap_err();
            assert_eq!((e.status(), e.code()), (404, "BTN0302"), "{method} {path}");
        }
        assert_eq!(
            router()
                .resolve("GET", "/v1/clearing-reconciliation")
                .unwrap_err()
                .to_string(),
            "/v1/clearing-reconciliation only accepts POST"
        );
    }

    #[test]
    fn the_stage_is_taken_off_the_front_unless_it_is_default() {
        assert_eq!(
            strip_stage("/v1/v1/webhooks/x", Some("v1")),
            "/v1/webhooks/x"
        );
        assert_eq!(strip_stage("/Prod/my/path", Some("Prod")), "/my/path");
        assert_eq!(strip_stage("/Prod", Some("Prod")), "/");
        assert_eq!(
            strip_stage("/v1/webhooks", Some("$default")),
            "/v1/webhooks"
        );
        assert_eq!(strip_stage("/v1/webhooks", None), "/v1/webhooks");
        // Only a whole first segment is the stage.
        assert_eq!(strip_stage("/Production/x", Some("Prod")), "/Production/x");
        assert_eq!(strip_stage("/my/path", Some("Prod")), "/my/path");
    }

    fn event(stage: &str, raw_path: &str) -> Request {
        event_on_route(stage, raw_path, "$default")
    }

    fn event_on_route(stage: &str, raw_path: &str, route_key: &str) -> Request {
        let event = serde_json::json!({
            "version": "2.0",
            "routeKey": route_key,
            "rawPath": raw_path,
            "rawQueryString": "",
            "headers": {},
            "requestContext": {
                "accountId": "123456789012", "apiId": "api-id",
                "domainName": "id.execute-api.us-east-1.amazonaws.com", "domainPrefix": "id",
                "http": {"method": "GET", "path": raw_path, "protocol": "HTTP/1.1", "sourceIp": "IP", "userAgent": "agent"},
                "requestId": "id", "routeKey": route_key, "stage": stage,
                "time": "12/Mar/2020:19:03:58 +0000", "timeEpoch": 1583348638390i64
            },
            "isBase64Encoded": false
        });
        lambda_http::request::from_str(&event.to_string()).unwrap()
    }

    /// The two shapes of API Gateway's payload 2.0: a named stage in front of
    /// the path (lambda_http's `apigw_v2_proxy_request_with_stage_in_path`),
    /// and `$default` without it.
    #[test]
    fn requests_route_on_their_path_relative_to_the_stage() {
        let named = event("v1", "/v1/v1/clearing-messages/abc");
        assert_eq!(stage_relative_path(&named), "/v1/clearing-messages/abc");
        let m = router().resolve_request(&named).unwrap();
        assert_eq!(m.params.get("clearingUniqueId"), Some("abc"));
        let default = event("$default", "/v1/clearing-messages/abc");
        assert_eq!(stage_relative_path(&default), "/v1/clearing-messages/abc");
        assert_eq!(router().resolve_request(&default).unwrap().route, R::One);
        assert_eq!(
            stage_relative_path(&event("Prod", "/Prod/my/path")),
            "/my/path"
        );
    }

    /// With a route key, the route API Gateway matched is taken whatever
    /// precedes its path: the stage (deployed URL), nothing although the stage
    /// is named (`sam local start-api`, a custom domain's API mapping).
    #[test]
    fn requests_with_a_route_key_take_that_route() {
        let key = "GET /v1/clearing-messages/{clearingUniqueId}";
        for raw_path in [
            "/v1/v1/clearing-messages/abc",
            "/v1/clearing-messages/abc",
            "/mapping/v1/clearing-messages/abc",
        ] {
            let m = router()
                .resolve_request(&event_on_route("v1", raw_path, key))
                .unwrap();
            assert_eq!(m.route, R::One, "{raw_path}");
            assert_eq!(m.params.get("clearingUniqueId"), Some("abc"), "{raw_path}");
        }
        let list = event_on_route("v1", "/v1/clearing-messages", "GET /v1/clearing-messages");
        assert_eq!(router().resolve_request(&list).unwrap().route, R::List);
        // A key the table does not have, or a path that does not end in the
        // key's route: routed on the path as without a key.
        let other = event_on_route("v1", "/v1/v1/clearing-messages", "GET /v2/other");
        assert_eq!(router().resolve_request(&other).unwrap().route, R::List);
        let short = event_on_route("v1", "/abc", key);
        let e = router().resolve_request(&short).unwrap_err();
        assert_eq!((e.status(), e.code()), (404, "BTN0302"));
    }
}
