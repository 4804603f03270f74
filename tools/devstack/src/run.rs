//! The whole system on one machine: the three functions wired as
//! template.yaml wires them, in one process, on the local stack. Each is
//! built by its own `from_config`, as its `main` builds it, from the
//! provisioned resources and the local-only settings of `local/local.env`.
//!
//! - The template's HTTP API on `127.0.0.1:<port>`, with the URL layout of its
//!   execute-api endpoint (`/<stage>/<route path>`): each request becomes the
//!   API Gateway HTTP API payload (version 2.0) the deployed function receives
//!   and goes to the function's own handler (see `http_front.rs`).
//! - The reprocessing and Pix input queues feed the worker's handler in
//!   batches of up to 10, as the SQS event source does: messages it reports
//!   as failed stay on the queue (and reach the dead-letter queue after
//!   `maxReceiveCount`), the others are deleted.
//! - The table's stream feeds the outbox publisher as Lambda's DynamoDB event
//!   source mapping does (`stream_source`): the events and jobs each write
//!   carries reach the bus and the work queue.
//! - A subscriber queue on the bus shows every event published.
//! - The authorization expiry sweep runs on its schedule's rate, with the
//!   payload EventBridge Scheduler delivers (`schedule`).

use std::sync::Arc;
use std::time::Duration;

use authorization_expiry::ExpiryFunction;
use clearing_webhook::WebhookService;
use reconciliation_api::ApiService;
use reprocessing_worker::WorkerService;
use shared::config::Env;
use tokio::net::TcpListener;

use crate::schedule::{run_schedule, ScheduleSpec};
use crate::{
    add_subscriber, delete_batch, dev_token, function_env, handler, local_settings, provision,
    receive_batch, run_worker_batch, DevstackError, Handler, HttpApi, HttpFront, LocalClients,
    QueueInfo, RunningPump, StreamPump, StreamSourceSpec, Template, LOCAL_ENV_FILE,
};

pub struct RunConfig {
    pub prefix: String,
    pub port: u16,
}

/// The template's HTTP functions (by logical id), each to its own handler.
pub fn http_functions(webhook: WebhookService, api: ApiService) -> Vec<(String, Handler)> {
    let (webhook, api) = (Arc::new(webhook), Arc::new(api));
    vec![
        (
            "ClearingWebhookFunction".to_owned(),
            handler(move |request| {
                let webhook = webhook.clone();
                async move { clearing_webhook::handle(&webhook, request).await }
            }),
        ),
        (
            "ReconciliationApiFunction".to_owned(),
            handler(move |request| {
                let api = api.clone();
                async move { reconciliation_api::handle(&api, request).await }
            }),
        ),
    ]
}

/// Runs until `shutdown` completes.
pub async fn run(
    config: RunConfig,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), DevstackError> {
    run_on(LocalClients::new().await, config, Output::Show, shutdown).await
}

/// What the runner prints while it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// Every request, worker batch and event (`devstack up`).
    Show,
    /// Only the start-up lines and errors (the soak, whose load would flood the terminal).
    Quiet,
}

/// [`run`] on `clients` (the soak's, on its own stack and with its timeouts).
pub async fn run_on(
    clients: LocalClients,
    config: RunConfig,
    output: Output,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), DevstackError> {
    println!(
        "==> provisioning tables, queues, bus and rules from template.yaml (prefix {})",
        config.prefix
    );
    let template = Template::repo_default()?;
    let p = provision(&template, &config.prefix, &clients).await?;
    let table = p.table("ClearingTable")?.to_owned();
    let bus = p.bus("ReconciliationBus")?.to_owned();
    let jobs = p.queue("ReprocessingQueue")?.clone();
    let pix_inputs = p.queue("PixInputQueue")?.clone();
    // Quiet, nobody reads the tap: it is not made (it would only load moto).
    let tap = match output {
        Output::Show => Some(
            add_subscriber(
                &clients,
                &bus,
                &serde_json::json!({"source": ["clearing", "pix"]}),
                &format!("{}EventsTap", config.prefix),
            )
            .await?,
        ),
        Output::Quiet => None,
    };

    let settings = local_settings()?;
    let env = Env::from_pairs(function_env(&p, &settings)?);
    // Each function built by its own `from_config`, as its `main` builds it.
    let aws = clients.aws();
    let mut front = HttpFront::new(
        HttpApi::from_template(&template)?,
        http_functions(
            WebhookService::from_config(&env, &aws).await?,
            ApiService::from_config(&env, &aws).await?,
        ),
    )?;
    if output == Output::Quiet {
        front = front.quiet();
    }
    let worker = Arc::new(WorkerService::from_config(&env, &aws)?);
    let publisher = start_publisher(&clients, &p, &template, &env).await?;
    let sweep = Arc::new(ExpiryFunction::from_config(&env, &aws)?);

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
    print_routes(front.api(), port);
    println!("DynamoDB table    {table}");
    println!("work queue        {}", jobs.url);
    println!("Pix input queue   {}", pix_inputs.url);
    println!("event bus         {bus}  (events are printed below as they are published)");
    let token = dev_token(&env)?;
    println!("dev token         {token}");
    // The fragment never reaches a server: the page keeps the token in the tab.
    println!("console           http://127.0.0.1:{port}/console/#token={token}");
    println!("ready: listening on 127.0.0.1:{port}");

    let mut tasks = tokio::task::JoinSet::new();
    tasks.spawn(Arc::new(front).serve(listener));
    for queue in [jobs, pix_inputs] {
        let (worker, clients) = (worker.clone(), clients.clone());
        tasks.spawn(async move { feed_worker(clients, queue, worker, output).await });
    }
    if let Some(tap) = tap {
        let clients = clients.clone();
        tasks.spawn(async move { show_events(clients, tap).await });
    }
    tasks.spawn(sweep_on_schedule(&template, sweep, output)?);
    shutdown.await;
    drop(publisher);
    tasks.shutdown().await;
    println!("stopped");
    Ok(())
}

/// The outbox publisher, fed by the table's stream as its template event source says.
pub async fn start_publisher(
    clients: &LocalClients,
    provisioned: &crate::Provisioned,
    template: &Template,
    env: &Env,
) -> Result<RunningPump, DevstackError> {
    let service = outbox_publisher::PublisherService::from_config(env, &clients.aws())?;
    let spec = StreamSourceSpec::of_function(template, "OutboxPublisherFunction")?;
    let pump = StreamPump::new(clients, provisioned, spec, Arc::new(service)).await?;
    Ok(RunningPump::spawn(pump))
}

/// The expiry sweep on its schedule's rate (template.yaml), as EventBridge Scheduler invokes it.
fn sweep_on_schedule(
    template: &Template,
    sweep: Arc<ExpiryFunction>,
    output: Output,
) -> Result<impl std::future::Future<Output = ()>, DevstackError> {
    let schedule = ScheduleSpec::of_function(template, "AuthorizationExpiryFunction")?;
    println!(
        "expiry sweep      every {} s, as its schedule says (`devstack expire-now` runs one now)",
        schedule.rate.as_secs()
    );
    Ok(run_schedule(schedule, move |payload| {
        let sweep = sweep.clone();
        async move { run_sweep(&sweep, &payload, output).await }
    }))
}

/// One sweep for a scheduled payload, as the function's handler runs it.
pub async fn run_sweep(sweep: &ExpiryFunction, payload: &serde_json::Value, output: Output) {
    let invocation = authorization_expiry::ScheduleInvocation::read(payload);
    match authorization_expiry::sweep(sweep, &invocation, chrono::Utc::now()).await {
        Ok(_) if output == Output::Quiet => {}
        Ok(report) => println!(
            "expiry sweep: {}",
            serde_json::to_string(&report).unwrap_or_default()
        ),
        Err(e) => eprintln!("expiry sweep failed: {e}"),
    }
}

/// The API's URL and every route, as a client of the deployed execute-api endpoint calls them.
fn print_routes(api: &HttpApi, port: u16) {
    let base = format!("http://127.0.0.1:{port}{}", api.url_path(""));
    println!(
        "HTTP API          {base}   (stage {} of template.yaml's HttpApi)",
        api.stage()
    );
    for route in api.routes() {
        println!(
            "  {:<5} {base}{}   -> {}",
            route.method, route.path, route.function
        );
    }
    println!("  webhooks: X-Webhook-Signature `devstack sign FILE` (secret in {LOCAL_ENV_FILE}); operator API: Authorization: Bearer <dev token>");
}

/// The SQS event source: batches of up to 10, partial batch failures stay on the queue.
async fn feed_worker(
    clients: LocalClients,
    queue: QueueInfo,
    worker: Arc<WorkerService>,
    output: Output,
) {
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
        match run_worker_batch(&worker, &clients, &queue, batch).await {
            Ok(_) if output == Output::Quiet => {}
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
