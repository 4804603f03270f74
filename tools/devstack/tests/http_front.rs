//! The local HTTP front over real connections: every route of template.yaml
//! reaches its function on the execute-api URL layout, anything else gets API
//! Gateway's own 404, and what HTTP brings (percent-encoded queries, chunked
//! bodies, keep-alive, cookies) arrives as API Gateway delivers it.
//! The route test needs the local stack (`./dev.sh test` starts it).

use std::sync::Arc;

use clearing_webhook::WebhookService;
use devstack::run::http_functions;
use devstack::{handler, local_settings, provision, HttpApi, HttpFront, LocalClients, Template};
use lambda_http::{Body, Request, RequestExt, Response};
use reconciliation_api::ApiService;
use shared::config::Env;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// The front on a free port of loopback, until the test ends; its port.
async fn start(front: HttpFront) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(Arc::new(front).serve(listener));
    port
}

/// An answer: status, headers (lower-case names), body.
#[derive(Debug)]
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: serde_json::Value,
}

impl Answer {
    fn header(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

/// Sends `head` (request line and headers, without the blank line) and `body`
/// on `stream`, and reads one answer (the front always sends a content-length).
async fn exchange(stream: &mut BufReader<TcpStream>, head: &str, body: &[u8]) -> Answer {
    let request = [format!("{head}\r\n\r\n").as_bytes(), body].concat();
    stream.get_mut().write_all(&request).await.unwrap();
    let mut line = String::new();
    stream.read_line(&mut line).await.unwrap();
    let status = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    let mut headers = Vec::new();
    loop {
        line.clear();
        stream.read_line(&mut line).await.unwrap();
        let Some((name, value)) = line.trim_end().split_once(':') else {
            break;
        };
        headers.push((name.to_ascii_lowercase(), value.trim().to_owned()));
    }
    let length = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .map_or(0, |(_, v)| v.parse().unwrap());
    let mut body = vec![0; length];
    stream.read_exact(&mut body).await.unwrap();
    Answer {
        status,
        headers,
        body: serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null),
    }
}

async fn connect(port: u16) -> BufReader<TcpStream> {
    BufReader::new(TcpStream::connect(("127.0.0.1", port)).await.unwrap())
}

/// One request on its own connection, with a content-length body.
async fn call(port: u16, method: &str, target: &str, body: &str) -> Answer {
    let head = format!(
        "{method} {target} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: {}",
        body.len()
    );
    exchange(&mut connect(port).await, &head, body.as_bytes()).await
}

fn not_found() -> serde_json::Value {
    serde_json::json!({"message": "Not Found"})
}

#[tokio::test(flavor = "multi_thread")]
async fn every_route_of_the_template_reaches_its_function_under_the_stage() {
    let template = Template::repo_default().unwrap();
    let clients = LocalClients::new().await;
    let prefix = format!("front{}-", std::process::id());
    let provisioned = provision(&template, &prefix, &clients).await.unwrap();
    let env =
        Env::from_pairs(devstack::function_env(&provisioned, &local_settings().unwrap()).unwrap());
    let (aws, api) = (clients.aws(), HttpApi::from_template(&template).unwrap());
    let functions = http_functions(
        WebhookService::from_config(&env, &aws).await.unwrap(),
        ApiService::from_config(&env, &aws).await.unwrap(),
    );
    let port = start(HttpFront::new(api.clone(), functions).unwrap()).await;

    assert_eq!(api.stage(), "v1");
    assert!(!api.routes().is_empty());
    for route in api.routes() {
        // Every path parameter filled; no credentials: the function's own 401.
        let path = route.path.replace("{network}", "mastercard");
        let path = path
            .split('/')
            .map(|s| if s.starts_with('{') { "x" } else { s })
            .collect::<Vec<_>>()
            .join("/");
        let url = api.url_path(&path);
        assert_eq!(url, format!("/v1{path}"));
        let answer = call(port, &route.method, &url, "{}").await;
        assert_ne!(answer.body, not_found(), "{} {url}", route.method);
        if route.path.starts_with("/console") {
            // The console's static files need no token: the function's own answer.
            assert_eq!(answer.header("content-security-policy").len(), 1, "{url}");
            continue;
        }
        assert_ne!(
            answer.body["code"], "BTN0302",
            "{} {url}: {:?}",
            route.method, answer.body
        );
        assert_eq!(
            answer.status, 401,
            "{} {url}: {:?}",
            route.method, answer.body
        );
        assert!(answer.body["message"].is_string(), "{:?}", answer.body);
        assert_eq!(answer.header("apigw-requestid").len(), 1);
    }
    // An unknown path (on either view), an unknown method, another stage: API Gateway's 404.
    for (method, target) in [
        ("GET", "/nothing"),
        ("POST", "/webhooks/mastercard/clearing"),
        ("GET", "/v1/v1/nothing"),
        ("DELETE", "/v1/v1/clearing-messages/x"),
        ("GET", "/v2/v1/clearing-messages/x"),
    ] {
        let answer = call(port, method, target, "").await;
        assert_eq!(
            (answer.status, &answer.body),
            (404, &not_found()),
            "{method} {target}"
        );
    }
}

/// A handler that answers with what it was given, as its function would see it.
fn echo(request: Request) -> Result<Response<Body>, lambda_http::Error> {
    use lambda_http::request::RequestContext;
    let (stage, route_key, domain) = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(c)) => {
            (c.stage.clone(), c.route_key.clone(), c.domain_name.clone())
        }
        _ => (None, None, None),
    };
    let seen = serde_json::json!({
        "raw_path": request.raw_http_path(),
        "stage": stage,
        "domain": domain,
        "route_key": route_key,
        "card_hash": request.query_string_parameters().first("card_hash"),
        "id": request.path_parameters().first("clearingUniqueId"),
        "cookie": request.headers().get("cookie").and_then(|v| v.to_str().ok()),
        "body": String::from_utf8_lossy(request.body().as_ref()),
    });
    Ok(Response::builder()
        .status(200)
        .header("content-type", "application/json")
        .header("set-cookie", "a=1; Path=/")
        .header("set-cookie", "b=2")
        .body(Body::Text(seen.to_string()))?)
}

/// The template's routes, each function answered by [`echo`] (the reconciliation API fails).
async fn echo_front() -> u16 {
    let failing = handler(|_| async { Err::<Response<Body>, _>("boom".into()) });
    let front = HttpFront::new(
        HttpApi::repo_default().unwrap(),
        [
            (
                "ClearingWebhookFunction".to_owned(),
                handler(|r| async { echo(r) }),
            ),
            ("ReconciliationApiFunction".to_owned(), failing),
        ],
    )
    .unwrap();
    start(front).await
}

#[tokio::test]
async fn chunked_bodies_arrive_whole_on_a_keep_alive_connection_with_decoded_queries() {
    let port = echo_front().await;
    let mut connection = connect(port).await;
    let target = "/v1/v1/webhooks/mastercard/clearing?card_hash=a%2Bb";
    let head = format!(
        "POST {target} HTTP/1.1\r\nhost: 127.0.0.1\r\ntransfer-encoding: chunked\r\ncookie: s=1; t=2"
    );
    let chunked = b"5\r\n{\"a\":\r\n3\r\n 1}\r\n0\r\n\r\n";
    let first = exchange(&mut connection, &head, chunked).await;
    assert_eq!(first.status, 200, "{:?}", first.body);
    assert_eq!(first.body["body"], "{\"a\": 1}");
    assert_eq!(first.body["card_hash"], "a+b");
    assert_eq!(
        first.body["raw_path"],
        "/v1/v1/webhooks/mastercard/clearing"
    );
    assert_eq!(first.body["stage"], "v1");
    assert_eq!(
        first.body["route_key"],
        "POST /v1/webhooks/{network}/clearing"
    );
    assert_eq!(first.body["cookie"], "s=1; t=2");
    assert_eq!(first.header("set-cookie"), ["a=1; Path=/", "b=2"]);

    // The same connection, a second request.
    let head = "POST /v1/v1/webhooks/mastercard/authorizations HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-length: 2";
    let second = exchange(&mut connection, head, b"{}").await;
    assert_eq!(second.status, 200);
    assert_eq!(
        second.body["route_key"],
        "POST /v1/webhooks/{network}/authorizations"
    );
}

#[tokio::test]
async fn api_gateway_answers_itself_what_no_function_answers() {
    let port = echo_front().await;
    // Past API Gateway's 10 MB: 413 before the body is read.
    let head = "POST /v1/v1/webhooks/mastercard/clearing HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-length: 10485761";
    let answer = exchange(&mut connect(port).await, head, b"").await;
    assert_eq!(
        (answer.status, answer.body["message"].as_str()),
        (413, Some("Request Entity Too Large"))
    );
    // A function that fails: 500, API Gateway's message.
    let answer = call(port, "GET", "/v1/v1/clearing-messages/x", "").await;
    assert_eq!(
        (answer.status, answer.body["message"].as_str()),
        (500, Some("Internal Server Error"))
    );
    let answer = call(port, "GET", "/v1/v1/no-such-route", "").await;
    assert_eq!((answer.status, answer.body), (404, not_found()));
}

/// Without the stage in front, a request is routed as through the custom
/// domain of the template's `ApiDomainMapping` (the domain's root is the
/// stage): API Gateway then sends `rawPath` as the client sent it (no stage),
/// `requestContext.stage` still the stage, `domainName` the domain called,
/// and the same route key and path parameters as on execute-api.
#[tokio::test]
async fn a_path_without_the_stage_is_served_as_through_the_custom_domain() {
    let port = echo_front().await;
    let head = "POST /v1/webhooks/mastercard/clearing?card_hash=c HTTP/1.1\r\nhost: api.example.com\r\ncontent-length: 2";
    let custom = exchange(&mut connect(port).await, head, b"{}").await;
    assert_eq!(custom.status, 200, "{:?}", custom.body);
    assert_eq!(custom.body["raw_path"], "/v1/webhooks/mastercard/clearing");
    assert_eq!(custom.body["stage"], "v1");
    assert_eq!(custom.body["domain"], "api.example.com");
    assert_eq!(
        custom.body["route_key"],
        "POST /v1/webhooks/{network}/clearing"
    );
    assert_eq!(custom.body["card_hash"], "c");
    // The execute-api layout still wins where it matches.
    let staged = call(port, "POST", "/v1/v1/webhooks/mastercard/clearing", "{}").await;
    assert_eq!(
        staged.body["raw_path"],
        "/v1/v1/webhooks/mastercard/clearing"
    );
    assert_eq!(staged.body["domain"], "127.0.0.1");
}
