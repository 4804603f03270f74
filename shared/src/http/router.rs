//! Routing on (method, path template). API Gateway names the route it
//! matched in the payload's `routeKey`; without one (`$default`) the path is
//! matched relative to the stage.

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

    /// The route of a request. When its `routeKey` names a route of this
    /// table (`POST /v1/webhooks/{network}/clearing`), that is the route API
    /// Gateway matched, with its `pathParameters`: right on any stage and on
    /// a custom domain, where the path alone cannot say whether a first
    /// segment is the stage. Otherwise (`$default`) [`Self::resolve`] on the
    /// path relative to the stage.
    pub fn resolve_request(&self, request: &Request) -> Result<Matched<R>, ApiError> {
        match self.by_route_key(request) {
            Some(matched) => Ok(matched),
            None => self.resolve(request.method().as_str(), stage_relative_path(request)),
        }
    }

    fn by_route_key(&self, request: &Request) -> Option<Matched<R>> {
        let key = match request.request_context_ref()? {
            RequestContext::ApiGatewayV2(ctx) => ctx.route_key.as_deref()?,
            _ => return None,
        };
        let (method, template) = key.split_once(' ')?;
        let entry = self
            .entries
            .iter()
            .find(|e| e.method == method && e.template == template)?;
        let given = request.path_parameters_ref();
        let params = entry
            .segments
            .iter()
            .filter_map(|s| match s {
                Segment::Param(name) => Some(*name),
                Segment::Literal(_) => None,
            })
            .map(|name| {
                let value = given?.first(name).filter(|v| !v.is_empty())?;
                Some((name, value.to_owned()))
            })
            .collect::<Option<Vec<_>>>()?;
        Some(Matched {
            route: entry.route.clone(),
            params: PathParams(params),
        })
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

    /// An API Gateway HTTP API payload (2.0) as the function receives it.
    fn event(
        route_key: &str,
        stage: &str,
        raw_path: &str,
        path_params: serde_json::Value,
    ) -> Request {
        let event = serde_json::json!({
            "version": "2.0",
            "routeKey": route_key,
            "rawPath": raw_path,
            "rawQueryString": "",
            "headers": {},
            "pathParameters": path_params,
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

    const ONE: &str = "GET /v1/clearing-messages/{clearingUniqueId}";

    /// The three shapes API Gateway delivers. Named stage on the execute-api
    /// endpoint: the stage in front of `rawPath` (lambda_http's fixture
    /// `apigw_v2_proxy_request_with_stage_in_path`), the route in `routeKey`.
    #[test]
    fn a_named_stage_on_execute_api_routes_by_route_key() {
        let request = event(
            ONE,
            "v1",
            "/v1/v1/clearing-messages/abc",
            serde_json::json!({"clearingUniqueId": "abc"}),
        );
        assert_eq!(stage_relative_path(&request), "/v1/clearing-messages/abc");
        let m = router().resolve_request(&request).unwrap();
        assert_eq!(
            (m.route, m.params.get("clearingUniqueId")),
            (R::One, Some("abc"))
        );
    }

    /// Through a custom domain's API mapping there is no stage in `rawPath`,
    /// yet `stage` is still `v1`: the path alone would lose its `/v1`; the
    /// route key does not.
    #[test]
    fn a_custom_domain_routes_by_route_key_although_the_path_has_no_stage() {
        let request = event(
            ONE,
            "v1",
            "/v1/clearing-messages/abc",
            serde_json::json!({"clearingUniqueId": "abc"}),
        );
        let m = router().resolve_request(&request).unwrap();
        assert_eq!(
            (m.route, m.params.get("clearingUniqueId")),
            (R::One, Some("abc"))
        );
        let post = event(
            "POST /v1/clearing-reconciliation",
            "v1",
            "/v1/clearing-reconciliation",
            serde_json::Value::Null,
        );
        assert_eq!(router().resolve_request(&post).unwrap().route, R::Post);
    }

    /// `$default` (a catch-all route, or the `$default` stage without routes):
    /// the path relative to the stage is matched here.
    #[test]
    fn the_default_route_key_routes_on_the_path_relative_to_the_stage() {
        let none = serde_json::Value::Null;
        let default = event(
            "$default",
            "$default",
            "/v1/clearing-messages/abc",
            none.clone(),
        );
        let m = router().resolve_request(&default).unwrap();
        assert_eq!(
            (m.route, m.params.get("clearingUniqueId")),
            (R::One, Some("abc"))
        );
        let staged = event("$default", "v1", "/v1/v1/clearing-messages", none.clone());
        assert_eq!(router().resolve_request(&staged).unwrap().route, R::List);
        // A route key this table does not have (a greedy catch-all) is matched by path too.
        let greedy = event(
            "ANY /{proxy+}",
            "$default",
            "/v1/clearing-messages/x",
            none.clone(),
        );
        assert_eq!(router().resolve_request(&greedy).unwrap().route, R::One);
        let unknown = event("$default", "v1", "/v1/v1/nothing", none);
        let e = router().resolve_request(&unknown).unwrap_err();
        assert_eq!((e.status(), e.code()), (404, "BTN0302"));
        assert_eq!(
            stage_relative_path(&event(
                "$default",
                "Prod",
                "/Prod/my/path",
                serde_json::Value::Null
            )),
            "/my/path"
        );
    }
}
