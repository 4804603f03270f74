//! The template's HTTP API: its stage and its routes (each function's `Events`
//! of `Type: HttpApi`), and how API Gateway picks the route of a request.
//! The local front serves these, the sample events and the tests' requests are
//! built on them: one definition, the one that deploys.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_yaml::Value;

use crate::template::{reference, scalar_text, Reference, FUNCTION, HTTP_API};
use crate::{DevstackError, Template};

/// The stage name API Gateway gives an API without a named stage.
pub const DEFAULT_STAGE: &str = "$default";

/// The HTTP API of a template: one stage, its routes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpApi {
    stage: String,
    routes: Vec<HttpRoute>,
}

/// One route: `METHOD /path/{param}` to a function (logical id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRoute {
    pub function: String,
    /// Upper case; `ANY` matches every method.
    pub method: String,
    /// The path template, `/v1/clearing-messages/{clearingUniqueId}`; `$default` for the catch-all.
    pub path: String,
}

impl HttpRoute {
    /// API Gateway's route key: `POST /v1/webhooks/{network}/clearing`, or `$default`.
    pub fn key(&self) -> String {
        if self.path == DEFAULT_STAGE {
            DEFAULT_STAGE.to_owned()
        } else {
            format!("{} {}", self.method, self.path)
        }
    }
}

/// The route a request matched, with its path parameters (by name, decoded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteMatch {
    pub route: HttpRoute,
    pub path_parameters: BTreeMap<String, String>,
}

impl HttpApi {
    pub fn new(stage: impl Into<String>, routes: Vec<HttpRoute>) -> Self {
        Self {
            stage: stage.into(),
            routes,
        }
    }

    /// The repository's own `template.yaml`.
    pub fn repo_default() -> Result<Self, DevstackError> {
        Self::from_template(&Template::repo_default()?)
    }

    /// The routes of every function's `HttpApi` events and the stage of the
    /// API they belong to (its `StageName`; a `Ref` to a parameter is that
    /// parameter's default). Routes without `ApiId` are on SAM's implicit API,
    /// whose stage is `$default`. The local front serves one API.
    pub fn from_template(template: &Template) -> Result<Self, DevstackError> {
        let mut api: Option<Option<String>> = None;
        let mut routes = Vec::new();
        for (function, props) in template.of_kind(FUNCTION) {
            for event in http_events(function, props)? {
                if api.get_or_insert_with(|| event.api.clone()) != &event.api {
                    return Err(DevstackError::Template(format!(
                        "{function}.{}: the local HTTP front serves one HttpApi; routes name several",
                        event.name
                    )));
                }
                routes.push(event.route);
            }
        }
        let stage = match api.flatten() {
            None => DEFAULT_STAGE.to_owned(),
            Some(logical) => stage_of(template, &logical)?,
        };
        Ok(Self { stage, routes })
    }

    pub fn stage(&self) -> &str {
        &self.stage
    }

    pub fn routes(&self) -> &[HttpRoute] {
        &self.routes
    }

    /// The path a client sends on the execute-api endpoint for a path of the
    /// API: the stage in front, unless it is `$default`.
    pub fn url_path(&self, path: &str) -> String {
        if self.stage == DEFAULT_STAGE {
            path.to_owned()
        } else {
            format!("/{}{path}", self.stage)
        }
    }

    /// The route of a request on the execute-api endpoint (`raw_path` with the
    /// stage in front), or None (API Gateway's own 404).
    pub fn resolve(&self, method: &str, raw_path: &str) -> Option<RouteMatch> {
        let path = if self.stage == DEFAULT_STAGE {
            raw_path
        } else {
            match raw_path
                .strip_prefix('/')?
                .strip_prefix(self.stage.as_str())?
            {
                "" => "/",
                rest if rest.starts_with('/') => rest,
                _ => return None,
            }
        };
        self.resolve_in_stage(method, path)
    }

    /// The route of `path` (relative to the stage), selected as "Working with
    /// routes for HTTP APIs" (AWS documentation) describes: the most specific
    /// match first (literal segments over parameters, over a greedy
    /// `{proxy+}`), a route of the method over `ANY`, then the `$default`
    /// route if there is one.
    pub fn resolve_in_stage(&self, method: &str, path: &str) -> Option<RouteMatch> {
        let best = self
            .routes
            .iter()
            .filter(|r| r.path != DEFAULT_STAGE && (r.method == method || r.method == "ANY"))
            .filter_map(|r| {
                let (params, rank) = match_template(&r.path, path)?;
                Some(((rank, r.method == "ANY"), r, params))
            })
            .min_by_key(|(rank, _, _)| *rank);
        if let Some((_, route, path_parameters)) = best {
            return Some(RouteMatch {
                route: route.clone(),
                path_parameters,
            });
        }
        let fallback = self.routes.iter().find(|r| r.path == DEFAULT_STAGE)?;
        Some(RouteMatch {
            route: fallback.clone(),
            path_parameters: BTreeMap::new(),
        })
    }
}

/// The parameters of `path` under `template`, and how specific the match is
/// (greedy, then parameter segments: lower is more specific).
fn match_template(template: &str, path: &str) -> Option<(BTreeMap<String, String>, (u8, usize))> {
    let mut parts = path.strip_prefix('/')?.split('/');
    let mut params = BTreeMap::new();
    let mut rank = (0, 0);
    for segment in template.trim_start_matches('/').split('/') {
        let name = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}'));
        match name {
            Some(greedy) if greedy.ends_with('+') => {
                let rest: Vec<&str> = parts.by_ref().collect();
                if rest.is_empty() || rest.iter().all(|p| p.is_empty()) {
                    return None;
                }
                params.insert(
                    greedy.trim_end_matches('+').to_owned(),
                    decode(&rest.join("/")),
                );
                return Some((params, (1, rank.1)));
            }
            Some(name) => {
                let part = parts.next().filter(|p| !p.is_empty())?;
                params.insert(name.to_owned(), decode(part));
                rank.1 += 1;
            }
            None => (parts.next()? == segment).then_some(())?,
        }
    }
    parts.next().is_none().then_some((params, rank))
}

/// Path parameters arrive percent-decoded (`%20` is a space; a `+` stays a `+` in a path).
fn decode(segment: &str) -> String {
    percent_encoding::percent_decode_str(segment)
        .decode_utf8_lossy()
        .into_owned()
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct FunctionProps {
    #[serde(default)]
    events: BTreeMap<String, EventProps>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct EventProps {
    #[serde(rename = "Type")]
    kind: String,
    #[serde(default)]
    properties: Value,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct HttpApiEventProps {
    api_id: Option<Value>,
    method: Option<String>,
    path: Option<String>,
}

/// One `HttpApi` event of a function.
struct HttpEvent {
    name: String,
    /// The HttpApi's logical id; None for SAM's implicit API.
    api: Option<String>,
    route: HttpRoute,
}

/// A function's `HttpApi` events.
fn http_events(function: &str, props: &Value) -> Result<Vec<HttpEvent>, DevstackError> {
    let err =
        |event: &str, what: String| DevstackError::Template(format!("{function}.{event}: {what}"));
    let props: FunctionProps = Template::props(function, FUNCTION, props)?;
    let mut out = Vec::new();
    for (event, e) in props
        .events
        .into_iter()
        .filter(|(_, e)| e.kind == "HttpApi")
    {
        let p: HttpApiEventProps =
            serde_yaml::from_value(e.properties.clone()).map_err(|x| err(&event, x.to_string()))?;
        let api = match &p.api_id {
            None => None,
            Some(v) => match reference(v) {
                Some(Reference::Logical(api)) => Some(api),
                _ => return Err(err(&event, "ApiId must be a Ref to an HttpApi".into())),
            },
        };
        // Neither Path nor Method: SAM's `$default` route (the catch-all).
        let (method, path) = match (p.method, p.path) {
            (None, None) => ("ANY".to_owned(), DEFAULT_STAGE.to_owned()),
            (Some(m), Some(path)) => (m.to_ascii_uppercase(), path),
            _ => {
                return Err(err(
                    &event,
                    "an HttpApi event needs both Path and Method".into(),
                ))
            }
        };
        let route = HttpRoute {
            function: function.to_owned(),
            method,
            path,
        };
        out.push(HttpEvent {
            name: event,
            api,
            route,
        });
    }
    Ok(out)
}

/// The `StageName` of the HttpApi `logical` (literal, or a parameter's default).
fn stage_of(template: &Template, logical: &str) -> Result<String, DevstackError> {
    let err = |what: &str| DevstackError::Template(format!("{logical} ({HTTP_API}): {what}"));
    let (_, props) = template
        .of_kind(HTTP_API)
        .find(|(name, _)| *name == logical)
        .ok_or_else(|| err("the functions' ApiId names no HttpApi of the template"))?;
    let Some(stage) = props.get("StageName") else {
        return Ok(DEFAULT_STAGE.to_owned());
    };
    match reference(stage) {
        Some(Reference::Logical(param)) => template.parameter_default(&param).ok_or_else(|| {
            err(&format!(
                "StageName refers to {param}, a parameter without a Default"
            ))
        }),
        _ => scalar_text(stage).ok_or_else(|| err("StageName is not text or a Ref")),
    }
}

#[cfg(test)]
mod tests;
