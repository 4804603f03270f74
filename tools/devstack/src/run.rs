//! The whole system on one machine: the three functions wired as
//! template.yaml wires them, in one process, on the local stack. Each is
//! built by its own `from_config`, as its `main` builds it, from the
//! provisioned resources and the local-only settings of `local/local.env`.
//!
//! - HTTP API on `127.0.0.1:<port>`: each request becomes the API Gateway HTTP
//!   API payload (version 2.0) the deployed function receives, parsed by
//!   `lambda_http` itself, and goes to the function's own handler.
//! - The reprocessing and Pix input queues feed the worker's handler in
//!   batches of up to 10, as the SQS event source does: messages it reports
//!   as failed stay on the queue (and reach the dead-letter queue after
//!   `maxReceiveCount`), the others are deleted.
//! - A subscriber queue on the bus shows every event published.

use std::sync::Arc;
use std::time::Duration;

use clearing_webhook::WebhookService;
use reconciliation_api::ApiService;
use reprocessing_worker::WorkerService;
use shared::config::Env;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

use crate::{
    add_subscriber, delete_batch, dev_token, function_env, local_settings, provision,
    receive_batch, run_worker_batch, DevstackError, LocalClients, QueueInfo, Template,
    LOCAL_ENV_FILE,
};

pub struct RunConfig {
    pub prefix: String,
    pub port: u16,
}

/// The three functions, each built by its own `from_config` as its `main` builds it.
struct Services {
    webhook: WebhookService,
    api: ApiService,
    worker: WorkerService,
}

/// Runs until `shutdown` completes.
pub async fn run(
    config: RunConfig,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), DevstackError> {
    println!(
        "==> provisioning tables, queues, bus and rules from template.yaml (prefix {})",
        config.prefix
    );
    let clients = LocalClients::new().await;
    let template = Template::repo_default()?;
    let p = provision(&template, &config.prefix, &clients).await?;
    let table = p.table("ClearingTable")?.to_owned();
    let bus = p.bus("ReconciliationBus")?.to_owned();
    let jobs = p.queue("ReprocessingQueue")?.clone();
    let pix_inputs = p.queue("PixInputQueue")?.clone();
    let tap = add_subscriber(
        &clients,
        &bus,
        &serde_json::json!({"source": ["clearing", "pix"]}),
        &format!("{}EventsTap", config.prefix),
    )
    .await?;

    let settings = local_settings()?;
    let env = Env::from_pairs(function_env(&p, &settings)?);
    let aws = clients.aws();
    let services = Arc::new(Services {
        webhook: WebhookService::from_config(&env, &aws).await?,
        api: ApiService::from_config(&env, &aws).await?,
        worker: WorkerService::from_config(&env, &aws)?,
    });

    let listener = TcpListener::bind(("127.0.0.1", config.port))
        .await
        .map_err(|e| DevstackError::Aws {
            service: "http",
            message: format!("cannot listen on port {}: {e}", config.port),
        })?;
    let port = listener
        .local_addr()
        .map(|a| a.port())
        .unwrap_or(config.port);
    println!();
    println!("HTTP API          http://127.0.0.1:{port}");
    println!("  POST /v1/webhooks/mastercard/clearing | /authorizations   (X-Webhook-Signature: `devstack sign FILE`; secret in {LOCAL_ENV_FILE})");
    println!("  POST /v1/clearing-reconciliation, GET /v1/clearing-messages[/{{id}}], GET /v1/clearing-search   (Bearer token)");
    println!("DynamoDB table    {table}");
    println!("work queue        {}", jobs.url);
    println!("Pix input queue   {}", pix_inputs.url);
    println!("event bus         {bus}  (events are printed below as they are published)");
    println!("dev token         {}", dev_token(&env)?);
    println!("ready: listening on 127.0.0.1:{port}");

    let mut tasks = tokio::task::JoinSet::new();
    {
        let services = services.clone();
        tasks.spawn(async move { serve(listener, services).await });
    }
    for queue in [jobs, pix_inputs] {
        let (services, clients) = (services.clone(), clients.clone());
        tasks.spawn(async move { feed_worker(clients, queue, services).await });
    }
    {
        let clients = clients.clone();
        tasks.spawn(async move { show_events(clients, tap).await });
    }
    shutdown.await;
    tasks.shutdown().await;
    println!("stopped");
    Ok(())
}

async fn serve(listener: TcpListener, services: Arc<Services>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let services = services.clone();
        tokio::spawn(async move {
            if let Err(e) = serve_one(stream, &services).await {
                eprintln!("http: {e}");
            }
        });
    }
}

/// One HTTP/1.1 request (Content-Length bodies), answered and closed.
async fn serve_one(stream: tokio::net::TcpStream, services: &Services) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    let mut line = String::new();
    reader.read_line(&mut line).await?;
    let mut parts = line.split_whitespace();
    let (method, target) = (
        parts.next().unwrap_or("GET").to_owned(),
        parts.next().unwrap_or("/").to_owned(),
    );
    let mut headers = serde_json::Map::new();
    let mut length = 0usize;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).await? == 0 || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            let (k, v) = (k.trim().to_ascii_lowercase(), v.trim().to_owned());
            if k == "content-length" {
                length = v.parse().unwrap_or(0);
            }
            headers.insert(k, serde_json::Value::String(v));
        }
    }
    let mut body = vec![0u8; length.min(16 * 1024 * 1024)];
    reader.read_exact(&mut body).await?;
    let event = api_gateway_event(&method, &target, headers, &body);
    let (status, text) = match lambda_http::request::from_str(&event.to_string()) {
        Ok(request) => {
            let response = if target.starts_with("/v1/webhooks/") {
                clearing_webhook::handle(&services.webhook, request).await
            } else {
                reconciliation_api::handle(&services.api, request).await
            };
            match response {
                Ok(r) => (
                    r.status().as_u16(),
                    String::from_utf8_lossy(r.body().as_ref()).into_owned(),
                ),
                Err(e) => (500, format!("{{\"code\":\"BTN0500\",\"message\":\"{e}\"}}")),
            }
        }
        Err(e) => (
            400,
            format!("{{\"code\":\"BTN0002\",\"message\":\"unreadable request: {e}\"}}"),
        ),
    };
    println!("{method} {target} -> {status}");
    let reply = format!(
        "HTTP/1.1 {status} {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{text}",
        reason(status),
        text.len()
    );
    write.write_all(reply.as_bytes()).await?;
    write.shutdown().await
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        202 => "Accepted",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        409 => "Conflict",
        503 => "Service Unavailable",
        _ => "Internal Server Error",
    }
}

/// The API Gateway HTTP API payload (2.0) for a request, as the deployed function receives it.
pub fn api_gateway_event(
    method: &str,
    target: &str,
    headers: serde_json::Map<String, serde_json::Value>,
    body: &[u8],
) -> serde_json::Value {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let params: serde_json::Map<String, serde_json::Value> = query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_owned(), serde_json::Value::String(v.to_owned())))
        .collect();
    let (body, base64) = match std::str::from_utf8(body) {
        Ok(text) => (text.to_owned(), false),
        Err(_) => {
            use base64::Engine;
            (base64::engine::general_purpose::STANDARD.encode(body), true)
        }
    };
    let mut event = serde_json::json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "headers": headers,
        "requestContext": {
            "accountId": "000000000000", "apiId": "local", "domainName": "127.0.0.1", "domainPrefix": "local",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "local"},
            "requestId": uuid_like(), "routeKey": "$default", "stage": "$default",
            "time": chrono::Utc::now().format("%d/%b/%Y:%H:%M:%S %z").to_string(),
            "timeEpoch": chrono::Utc::now().timestamp_millis()
        },
        "body": body,
        "isBase64Encoded": base64
    });
    if !params.is_empty() {
        event["queryStringParameters"] = serde_json::Value::Object(params);
    }
    event
}

fn uuid_like() -> String {
    format!(
        "{:x}",
        chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default()
    )
}

/// The SQS event source: batches of up to 10, partial batch failures stay on the queue.
async fn feed_worker(clients: LocalClients, queue: QueueInfo, services: Arc<Services>) {
    loop {
        let batch = match receive_batch(&clients, &queue, None).await {
            Ok(batch) if batch.is_empty() => continue,
            Ok(batch) => batch,
            Err(e) => {
                eprintln!("{e}");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        let size = batch.len();
        match run_worker_batch(&services.worker, &clients, &queue, batch).await {
            Ok(response) => println!(
                "worker: {size} from {} ({} failed)",
                queue.name,
                response.batch_item_failures.len()
            ),
            Err(e) => eprintln!("{e}"),
        }
    }
}

async fn show_events(clients: LocalClients, tap: QueueInfo) {
    loop {
        let Ok(batch) = receive_batch(&clients, &tap, None).await else {
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        };
        for record in &batch {
            let event: serde_json::Value =
                serde_json::from_str(record.body.as_deref().unwrap_or("null")).unwrap_or_default();
            println!(
                "event: {} {} {}",
                event["source"].as_str().unwrap_or(""),
                event["detail-type"].as_str().unwrap_or(""),
                event["detail"]
            );
        }
        let _ = delete_batch(&clients, &tap, &batch).await;
    }
}
