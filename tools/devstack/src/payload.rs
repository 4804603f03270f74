//! The API Gateway HTTP API Lambda proxy payload, format 2.0, built as API
//! Gateway builds it ("Working with AWS Lambda proxy integrations for HTTP
//! APIs", AWS documentation), and the function's answer mapped back to HTTP as
//! API Gateway maps it. One builder for the local front, the sample events of
//! `events/` and the integration tests' requests.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

use crate::http_api::{RouteMatch, DEFAULT_STAGE};

/// Moto's account, which the local queues' ARNs carry too.
pub const LOCAL_ACCOUNT_ID: &str = "123456789012";
pub const LOCAL_API_ID: &str = "local";

/// An HTTP request as it reaches API Gateway.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HttpRequest {
    pub method: String,
    /// The path as sent (percent-encoded), the stage in front on a named stage.
    pub path: String,
    /// The query string as sent, without `?`.
    pub query: String,
    /// As sent, in order; names in any case.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpRequest {
    /// `target` is the request target: the path and the query string, as sent.
    pub fn new(method: &str, target: &str) -> Self {
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        Self {
            method: method.to_owned(),
            path: path.to_owned(),
            query: query.to_owned(),
            ..Self::default()
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }
}

/// What API Gateway adds to a request: where it came from, its id and time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    pub account_id: String,
    pub api_id: String,
    pub request_id: String,
    pub time: DateTime<Utc>,
    pub source_ip: String,
    pub protocol: String,
    /// The client certificate of a mutual TLS custom domain, as API Gateway verified it.
    pub client_cert: Option<ClientCert>,
}

/// A verified client certificate (`requestContext.authentication.clientCert`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCert {
    pub pem: String,
    pub subject_dn: String,
    pub issuer_dn: String,
    pub serial_number: String,
    pub not_before: String,
    pub not_after: String,
}

impl Invocation {
    /// A request arriving now from `source_ip`, with a fresh id.
    pub fn now(source_ip: &str) -> Self {
        Self {
            account_id: LOCAL_ACCOUNT_ID.to_owned(),
            api_id: LOCAL_API_ID.to_owned(),
            request_id: uuid::Uuid::new_v4().to_string(),
            time: Utc::now(),
            source_ip: source_ip.to_owned(),
            protocol: "HTTP/1.1".to_owned(),
            client_cert: None,
        }
    }
}

/// The payload (format 2.0) of `request` on `stage` for the route it matched;
/// `None` is a `$default` route (no route key, no path parameters).
pub fn payload(
    stage: &str,
    route: Option<&RouteMatch>,
    request: &HttpRequest,
    invocation: &Invocation,
) -> Value {
    let route_key = route.map_or_else(|| DEFAULT_STAGE.to_owned(), |m| m.route.key());
    let (headers, cookies) = headers_and_cookies(&request.headers);
    let header = |name: &str| headers.get(name).and_then(Value::as_str).unwrap_or("");
    // requestContext as the payload 2.0 documents it: domainName is the host
    // the client called, domainPrefix its first label.
    let domain = header("host").split(':').next().unwrap_or("").to_owned();
    let domain_prefix = domain.split('.').next().unwrap_or("").to_owned();
    let mut event = json!({
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": request.path,
        "rawQueryString": request.query,
        "headers": headers,
        "requestContext": {
            "accountId": invocation.account_id,
            "apiId": invocation.api_id,
            "domainName": domain,
            "domainPrefix": domain_prefix,
            "http": {
                "method": request.method,
                "path": request.path,
                "protocol": invocation.protocol,
                "sourceIp": invocation.source_ip,
                "userAgent": header("user-agent"),
            },
            "requestId": invocation.request_id,
            "routeKey": route_key,
            "stage": stage,
            "time": invocation.time.format("%d/%b/%Y:%H:%M:%S %z").to_string(),
            "timeEpoch": invocation.time.timestamp_millis(),
        },
        "isBase64Encoded": false,
    });
    if let Some(cert) = &invocation.client_cert {
        event["requestContext"]["authentication"] = json!({"clientCert": {
            "clientCertPem": cert.pem,
            "subjectDN": cert.subject_dn,
            "issuerDN": cert.issuer_dn,
            "serialNumber": cert.serial_number,
            "validity": {"notBefore": cert.not_before, "notAfter": cert.not_after},
        }});
    }
    // Payload 2.0 leaves out cookies, queryStringParameters, pathParameters and
    // body when there are none.
    if !cookies.is_empty() {
        event["cookies"] = json!(cookies);
    }
    let query = query_parameters(&request.query);
    if !query.is_empty() {
        event["queryStringParameters"] = Value::Object(query);
    }
    if let Some(m) = route.filter(|m| !m.path_parameters.is_empty()) {
        event["pathParameters"] = json!(m.path_parameters);
    }
    if !request.body.is_empty() {
        // Payload 2.0: a text body as is, anything else base64 with isBase64Encoded.
        match std::str::from_utf8(&request.body) {
            Ok(text) => event["body"] = json!(text),
            Err(_) => {
                event["body"] = json!(BASE64.encode(&request.body));
                event["isBase64Encoded"] = json!(true);
            }
        }
    }
    event
}

/// Payload 2.0: header names lower-cased, a repeated header's values joined
/// with commas ("Format 2.0 doesn't have multiValueHeaders"); the `cookie`
/// header becomes the `cookies` array, one entry per cookie.
fn headers_and_cookies(headers: &[(String, String)]) -> (Map<String, Value>, Vec<String>) {
    let mut joined: Map<String, Value> = Map::new();
    let mut cookies = Vec::new();
    for (name, value) in headers {
        let name = name.to_ascii_lowercase();
        if name == "cookie" {
            cookies.extend(
                value
                    .split(';')
                    .map(str::trim)
                    .filter(|c| !c.is_empty())
                    .map(str::to_owned),
            );
            continue;
        }
        match joined.get_mut(&name) {
            Some(Value::String(existing)) => {
                existing.push(',');
                existing.push_str(value);
            }
            _ => {
                joined.insert(name, Value::String(value.clone()));
            }
        }
    }
    (joined, cookies)
}

/// Payload 2.0 `queryStringParameters`: names and values decoded (`%2B` is
/// `+`; as in any form-encoded query a `+` is a space), a repeated name's
/// values joined with commas. `rawQueryString` keeps the query as sent.
fn query_parameters(raw: &str) -> Map<String, Value> {
    let mut params: Map<String, Value> = Map::new();
    for (name, value) in form_urlencoded::parse(raw.as_bytes()) {
        match params.get_mut(name.as_ref()) {
            Some(Value::String(existing)) => {
                existing.push(',');
                existing.push_str(&value);
            }
            _ => {
                params.insert(name.into_owned(), Value::String(value.into_owned()));
            }
        }
    }
    params
}

/// An answer API Gateway gives itself (no route, body too large, the
/// function failed): its status and `{"message": ...}`.
pub fn gateway_answer(status: u16) -> http::Response<Vec<u8>> {
    let message = match status {
        404 => "Not Found",
        413 => "Request Entity Too Large",
        503 => "Service Unavailable",
        _ => "Internal Server Error",
    };
    http::Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(json!({ "message": message }).to_string().into_bytes())
        .unwrap_or_default()
}

/// The function's answer as the HTTP response API Gateway sends (the
/// "Lambda function response for format 2.0" of the same AWS page):
/// `statusCode`, `headers` (and `multiValueHeaders`), each of `cookies` as a
/// `set-cookie` header, `body` (base64-decoded when `isBase64Encoded`). A
/// valid JSON answer without `statusCode` is a 200 whose body is that JSON.
/// An answer that cannot be mapped is API Gateway's 500.
pub fn http_response(answer: &Value) -> http::Response<Vec<u8>> {
    let Some(status) = answer.get("statusCode") else {
        return http::Response::builder()
            .status(200)
            .header("content-type", "application/json")
            .body(answer.to_string().into_bytes())
            .unwrap_or_default();
    };
    mapped_response(status, answer).unwrap_or_else(|| gateway_answer(500))
}

fn mapped_response(status: &Value, answer: &Value) -> Option<http::Response<Vec<u8>>> {
    let status = u16::try_from(status.as_u64()?).ok()?;
    let mut builder = http::Response::builder().status(status);
    if let Some(headers) = answer.get("headers").and_then(Value::as_object) {
        for (name, value) in headers {
            builder = builder.header(name.as_str(), value.as_str()?);
        }
    }
    if let Some(headers) = answer.get("multiValueHeaders").and_then(Value::as_object) {
        for (name, values) in headers {
            for value in values.as_array()? {
                builder = builder.header(name.as_str(), value.as_str()?);
            }
        }
    }
    for cookie in answer
        .get("cookies")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        builder = builder.header("set-cookie", cookie.as_str()?);
    }
    let text = answer.get("body").and_then(Value::as_str).unwrap_or("");
    let body = if answer.get("isBase64Encoded") == Some(&Value::Bool(true)) {
        BASE64.decode(text).ok()?
    } else {
        text.as_bytes().to_vec()
    };
    builder.body(body).ok()
}

#[cfg(test)]
mod tests;
