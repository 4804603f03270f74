//! The local HTTP front: what API Gateway does in front of the functions,
//! on a real HTTP/1.1 server (hyper: chunked bodies, keep-alive).
//!
//! It serves the template's own HTTP API with the execute-api URL layout,
//! `http://127.0.0.1:<port>/<stage>/<route path>`, and beside it the view a
//! custom domain gives (the template's `ApiDomainMapping`: the domain's root
//! is the stage), `http://127.0.0.1:<port>/<route path>`: a request that no
//! route matches as execute-api is matched as through the custom domain
//! (see [`HttpFront::route`]). A request that matches no route either way gets API Gateway's 404; otherwise it becomes the payload 2.0 of
//! [`crate::payload`], goes through `lambda_http` exactly as `lambda_http::run`
//! hands an event to a deployed function's handler, and the function's answer
//! is mapped back to HTTP as API Gateway maps it.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use lambda_http::request::LambdaRequest;
use lambda_http::{Body, Context, LambdaEvent, Request, Response, Service};
use tokio::net::TcpListener;
use tokio::task::JoinSet;

use crate::payload::{gateway_answer, http_response, payload, HttpRequest, Invocation};
use crate::{DevstackError, HttpApi};

/// API Gateway's HTTP API payload limit (10 MB): a larger body is refused with 413.
pub const MAX_BODY_BYTES: usize = 10 * 1024 * 1024;

/// What a function's handler returns, boxed.
pub type HandlerFuture =
    Pin<Box<dyn Future<Output = Result<Response<Body>, lambda_http::Error>> + Send>>;

/// A function's handler, as its `main` hands it to `lambda_http::run`.
pub type Handler = Arc<dyn Fn(Request) -> HandlerFuture + Send + Sync>;

/// A [`Handler`] from an async function of a request.
pub fn handler<F, Fut>(f: F) -> Handler
where
    F: Fn(Request) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Response<Body>, lambda_http::Error>> + Send + 'static,
{
    Arc::new(move |request| Box::pin(f(request)))
}

/// The HTTP API's routes, each to its function's handler.
pub struct HttpFront {
    api: HttpApi,
    functions: BTreeMap<String, Handler>,
    log_requests: bool,
}

impl HttpFront {
    /// `functions`: handlers by the template's function logical id. Every
    /// function with a route needs one (a route nobody serves is an error
    /// here, not a 404 later).
    pub fn new(
        api: HttpApi,
        functions: impl IntoIterator<Item = (String, Handler)>,
    ) -> Result<Self, DevstackError> {
        let functions: BTreeMap<String, Handler> = functions.into_iter().collect();
        if let Some(route) = api
            .routes()
            .iter()
            .find(|r| !functions.contains_key(&r.function))
        {
            return Err(DevstackError::Template(format!(
                "route `{}` goes to {}, which the local front has no handler for",
                route.key(),
                route.function
            )));
        }
        Ok(Self {
            api,
            functions,
            log_requests: true,
        })
    }

    /// The same front without its line per request (the soak's load would flood the terminal).
    pub fn quiet(mut self) -> Self {
        self.log_requests = false;
        self
    }

    pub fn api(&self) -> &HttpApi {
        &self.api
    }

    /// Serves `listener` until the returned future is dropped (with every connection it holds).
    pub async fn serve(self: Arc<Self>, listener: TcpListener) {
        let mut connections = JoinSet::new();
        loop {
            let (stream, peer) = match listener.accept().await {
                Ok(accepted) => accepted,
                Err(e) => {
                    eprintln!("http: accept: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let front = self.clone();
            connections.spawn(async move {
                let service = hyper::service::service_fn(move |request| {
                    let front = front.clone();
                    async move { Ok::<_, Infallible>(front.serve_one(request, peer).await) }
                });
                // HTTP/1.1 with keep-alive, as a client of API Gateway gets it.
                if let Err(e) = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await
                {
                    eprintln!("http: {peer}: {e}");
                }
            });
            while connections.try_join_next().is_some() {}
        }
    }

    async fn serve_one(
        &self,
        request: hyper::Request<Incoming>,
        peer: SocketAddr,
    ) -> hyper::Response<Full<Bytes>> {
        let invocation = Invocation::now(&peer.ip().to_string());
        let target = request
            .uri()
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_owned();
        let method = request.method().as_str().to_owned();
        let response = match read(request).await {
            Ok(request) => self.answer(&request, &invocation).await,
            Err(status) => gateway_answer(status),
        };
        if self.log_requests {
            println!("{method} {target} -> {}", response.status().as_u16());
        }
        let (mut parts, body) = response.into_parts();
        // API Gateway names its request id on every answer.
        if let Ok(id) = invocation.request_id.parse() {
            parts.headers.insert("apigw-requestid", id);
        }
        hyper::Response::from_parts(parts, Full::new(Bytes::from(body)))
    }

    /// The answer to a request, as API Gateway gives it: 404 when no route
    /// matches; else the function's answer (500 if it failed).
    pub async fn answer(
        &self,
        request: &HttpRequest,
        invocation: &Invocation,
    ) -> http::Response<Vec<u8>> {
        let Some(matched) = self.route(request) else {
            return gateway_answer(404);
        };
        let Some(handler) = self.functions.get(&matched.route.function) else {
            return gateway_answer(500);
        };
        let event = payload(self.api.stage(), Some(&matched), request, invocation);
        match invoke(handler, event).await {
            Ok(answer) => http_response(&answer),
            Err(e) => {
                eprintln!("{}: {e}", matched.route.function);
                gateway_answer(500)
            }
        }
    }
}

impl HttpFront {
    /// The route of a request: on the execute-api layout (the stage in
    /// front), else through the custom domain, whose API mapping (no mapping
    /// key) puts the stage at the domain's root. API Gateway then sends the
    /// same payload as on execute-api except that `rawPath` is the path the
    /// client sent, without the stage, while `requestContext.stage` still
    /// names the stage and `domainName` is the custom domain (the `host`
    /// header, as for execute-api): [`payload`] builds exactly that from the
    /// request as sent.
    pub fn route(&self, request: &HttpRequest) -> Option<crate::http_api::RouteMatch> {
        self.api
            .resolve(&request.method, &request.path)
            .or_else(|| self.api.resolve_in_stage(&request.method, &request.path))
    }
}

/// The request, its body read whole (chunked or not); 413 past API Gateway's limit.
async fn read(request: hyper::Request<Incoming>) -> Result<HttpRequest, u16> {
    let (parts, body) = request.into_parts();
    let declared = parts
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES) {
        return Err(413);
    }
    let body = match Limited::new(body, MAX_BODY_BYTES).collect().await {
        Ok(collected) => collected.to_bytes().to_vec(),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => return Err(413),
        Err(_) => return Err(400),
    };
    let target = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let mut request = HttpRequest::new(parts.method.as_str(), target).body(body);
    for (name, value) in &parts.headers {
        request = request.header(name.as_str(), &String::from_utf8_lossy(value.as_bytes()));
    }
    Ok(request)
}

/// The function's handler on `event`, through `lambda_http`'s own adapter:
/// the event read as `lambda_http::run` reads it, the response serialized as
/// it sends it back (status, headers, `cookies` from `set-cookie`, body).
async fn invoke(handler: &Handler, event: serde_json::Value) -> Result<serde_json::Value, String> {
    let request: LambdaRequest =
        serde_json::from_value(event).map_err(|e| format!("unreadable event: {e}"))?;
    let handler = handler.clone();
    let mut adapter = lambda_http::Adapter::from(lambda_http::service_fn(move |r| handler(r)));
    let response = adapter
        .call(LambdaEvent::new(request, Context::default()))
        .await
        .map_err(|e| format!("the handler failed: {e}"))?;
    serde_json::to_value(response).map_err(|e| format!("unserializable answer: {e}"))
}
