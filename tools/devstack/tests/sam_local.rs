//! `sam local` conformance: the template's functions run by SAM CLI's own
//! emulator (`sam local start-api`, `sam local invoke`, in Docker on the base
//! image `local/sam-local.sh` builds) answer as the local HTTP front of
//! `./dev.sh up` (`devstack up`) and as the handlers called directly.
//!
//! 1. What SAM's emulator hands a function: the body bytes as sent (so a
//!    signature over them verifies), and every way its payload differs from
//!    the local front's, each named with what AWS documents.
//! 2. The README walk-through (authorization, seed notification, fix the
//!    date, reprocess, read MATCHED) through `sam local start-api` and
//!    through `devstack up`: same statuses and bodies, instants and UUIDs
//!    aside. SAM does not run SQS event sources: the job the API queued is
//!    handed to `sam local invoke ReprocessingWorkerFunction` as the SQS
//!    event Lambda would deliver; `devstack up` runs its worker itself.
//! 3. Every sample event of `events/` through `sam local invoke` and through
//!    the function's handler called directly, in the same order on two fresh
//!    stacks: same answers.
//!
//! Docker comes from the system packages (`local/sam-local.sh docker`
//! installs it with apt-get and starts dockerd when needed, and this test
//! stops a daemon it started); if it cannot run, the test fails saying why.
//! Needs the local stack (`./dev.sh test` starts it).

mod sam_support;

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use devstack::{local_settings, relay_endpoints, LocalClients, LocalEndpoints, Provisioned};
use sam_support::{build_functions, free_port, http, normalize, sam_cli, sam_folder, sam_invoke};
use sam_support::{Answer, Docker, SamApi, Up};
use serde_json::{json, Value};
use shared::config::Env;

const SEED: &str = "spec/mastercard-clearing-notification.example.json";
const SEED_ID: &str = "202404261024009777553";
const AUTHORIZATION: &str = r#"{"authorizations":[{"transUid":"20240426O9EC2A","cardReference":"47r45e73-7dwe-43f9-bk6b-5096F5reb5cd","transactionAmount":12.34,"transactionCurrency":"USD","merchantCategoryCode":"4111","authorizationDateTime":"2024-04-24T16:01:00Z","status":"APPROVED"}]}"#;
const RECONCILE: &str = r#"{"card_network":"MASTERCARD","card_hash":"47r45e73-7dwe-43f9-bk6b-5096F5reb5cd","reconciliation_reason":"month and day swapped","adjustments":[{"field":"transactionLocalDate","new_value":"2024-04-24"}]}"#;

/// Where the payload of `sam local start-api` (SAM CLI 1.170) and the local
/// front's may differ for the same request, and what AWS documents
/// (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html,
/// payload format 2.0). Both name the route matched (`routeKey`), its path
/// parameters and the stage, as AWS documents: any difference there fails.
/// The functions route on `routeKey` when it names a route, else on the path
/// relative to the stage (`shared::http::Router`), so both shapes reach the
/// same handler.
const NAMED_DIFFERENCES: &[(&str, &str)] = &[
    ("/rawPath", "SAM serves the routes without the stage in the URL and passes the path so (/v1/webhooks/...), while naming stage v1; AWS's URL for a named stage starts with the stage (/v1/v1/webhooks/... for stage v1) and so does rawPath"),
    ("/requestContext/http/path", "as rawPath"),
    ("/requestContext/timeEpoch", "SAM: seconds, fixed when SAM started; AWS documents milliseconds of the request"),
    ("header names", "SAM: as the client wrote them (X-Webhook-Signature); AWS documents lowercase names"),
    ("/requestContext/domainName", "each emulator's host name"),
    ("/requestContext/apiId", "each emulator's placeholder id"),
];

#[test]
fn sam_local_answers_as_the_local_front_and_as_the_handlers() {
    let begin = Instant::now();
    let docker = Docker::ensure();
    build_functions();
    let image = docker.base_image();
    let gateway = docker.gateway();
    let sam = sam_cli();
    let tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("sam-local-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let _relays = rt
        .block_on(relay_endpoints(gateway, &LocalEndpoints::from_env()))
        .expect("relay the local stack to Docker's bridge");
    let ctx = Ctx {
        sam,
        image,
        gateway,
        tmp,
        rt,
    };

    let up = Up::start(&ctx.prefix("front"));
    let (sam_stack, sam_dir) = ctx.folder("api", &ctx.target_debug());
    let api = SamApi::start(&ctx.sam, &sam_dir, &ctx.image, free_port());
    let echo = ctx.echo_api();
    let phase = |name: &str| eprintln!("sam_local: {name} done at {:.0?}", begin.elapsed());
    phase("docker, image, SAM start-api (twice), devstack up");
    events_reach_the_function_as_sent(&echo, &up);
    phase("payloads compared");
    the_walk_through_answers_alike(&ctx, &api, (&sam_stack, sam_dir.as_path()), &up);
    phase("walk-through");
    every_sample_event_answers_alike(&ctx);
    phase("sample events");
    drop((echo, api, up));
    drop(docker);
    // Kept when the test fails: the SAM logs are there.
    let _ = std::fs::remove_dir_all(&ctx.tmp);
}

/// What the phases share: the SAM CLI, the base image, and where the function
/// containers reach this machine.
struct Ctx {
    sam: PathBuf,
    image: String,
    gateway: IpAddr,
    tmp: PathBuf,
    rt: tokio::runtime::Runtime,
}

impl Ctx {
    fn prefix(&self, tag: &str) -> String {
        format!("sam{}{tag}-", std::process::id())
    }

    fn target_debug(&self) -> PathBuf {
        sam_support::target_dir().join("debug")
    }

    /// A fresh stack (prefix from `tag`) and the folder `sam local` runs from.
    fn folder(&self, tag: &str, binaries: &Path) -> ((LocalClients, Provisioned), PathBuf) {
        let dir = self.tmp.join(tag);
        let (clients, provisioned, dir) =
            self.rt
                .block_on(sam_folder(&self.prefix(tag), &dir, binaries, self.gateway));
        ((clients, provisioned), dir)
    }

    /// `sam local start-api` with every function's bootstrap the echo function.
    fn echo_api(&self) -> SamApi {
        let bins = self.tmp.join("echo-bin");
        std::fs::create_dir_all(&bins).unwrap();
        let text = std::fs::read_to_string(sam_support::repo().join("template.yaml")).unwrap();
        let doc: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
        for f in devstack::sam_functions(&doc).unwrap() {
            let (echo, to) = (env!("CARGO_BIN_EXE_lambda-echo"), bins.join(&f.binary));
            if std::fs::hard_link(echo, &to).is_err() {
                std::fs::copy(echo, &to).unwrap();
            }
        }
        let (_, dir) = self.folder("echo", &bins);
        SamApi::start(&self.sam, &dir, &self.image, free_port())
    }
}

fn local_env() -> Env {
    Env::from_pairs(local_settings().unwrap())
}

/// Headers of a webhook call signed as a mastercard sender signs it locally
/// (the current secret of `WEBHOOK_SECRETS` in `local/local.env`).
fn signed(body: &[u8]) -> Vec<(&'static str, String)> {
    let secret = devstack::signing_secret(&local_env(), "mastercard").unwrap();
    let now = chrono::Utc::now().timestamp();
    vec![
        (
            "X-Webhook-Signature",
            shared::webhook_auth::sign(&secret, now, body),
        ),
        ("Content-Type", "application/json".to_owned()),
    ]
}

/// The payload SAM builds for a signed webhook call, beside the local front's.
fn events_reach_the_function_as_sent(echo: &SamApi, up: &Up) {
    let mut body = std::fs::read(sam_support::repo().join(SEED)).unwrap();
    body.push(b'\n'); // a trailing newline is part of what is signed
    let headers = signed(&body);
    let route = "/v1/webhooks/mastercard/clearing";
    let answer = http(&format!("{}{route}", echo.base), "POST", &headers, &body);
    assert_eq!(answer.status, 200, "{}", echo.log_text());
    let sam: Value = serde_json::from_slice(&answer.body).unwrap();

    // The bytes signed are the bytes the function reads: SAM neither
    // base64-encodes (no binary media types) nor re-serializes the body.
    assert_eq!(sam["isBase64Encoded"], false);
    assert_eq!(sam["body"].as_str().map(str::as_bytes), Some(&body[..]));
    // The function's check, with the secret it reads from Secrets Manager
    // (provisioning stores local.env's WEBHOOK_SECRETS there).
    let env = local_env();
    let secrets = env.required("WEBHOOK_SECRETS").unwrap();
    let auth = shared::webhook_auth::WebhookAuth::from_config(&env, Some(&secrets)).unwrap();
    let signature = headers[0].1.as_str();
    let now = chrono::Utc::now().timestamp();
    assert_eq!(
        auth.verify(
            "mastercard",
            None,
            Some(signature),
            sam["body"].as_str().unwrap().as_bytes(),
            now
        ),
        Ok(())
    );
    // The stage is named but not in the path: why the router takes routeKey.
    assert_eq!(
        (
            sam["rawPath"].as_str(),
            sam["requestContext"]["stage"].as_str()
        ),
        (Some(route), Some("v1"))
    );
    assert_eq!(sam["routeKey"], "POST /v1/webhooks/{network}/clearing");

    let front = front_payload(up, route, &headers, &body);
    let differences = payload_differences(&sam, &front);
    for (field, sam_value, front_value) in &differences {
        let why = NAMED_DIFFERENCES
            .iter()
            .find(|(f, _)| f == field)
            .map(|(_, why)| *why);
        let why = why.unwrap_or_else(|| {
            panic!("unnamed difference {field}: SAM {sam_value}, front {front_value}")
        });
        println!("{field}: SAM {sam_value} | local front {front_value} -- {why}");
    }
}

/// The payload the local front of `up` builds for the same call (its own
/// builder, `devstack::payload`): the stage in front of the path, as on the
/// execute-api URL `devstack up` prints (`http://127.0.0.1:PORT/v1`).
fn front_payload(up: &Up, route: &str, headers: &[(&str, String)], body: &[u8]) -> Value {
    let (authority, stage_path) = up
        .base
        .strip_prefix("http://")
        .and_then(|r| r.find('/').map(|i| r.split_at(i)))
        .expect("devstack up's URL: http://HOST:PORT/STAGE");
    let api = devstack::HttpApi::repo_default().unwrap();
    let path = format!("{stage_path}{route}");
    // The front reads headers through hyper, which lowercases their names.
    let mut request = devstack::HttpRequest::new("POST", &path)
        .header("host", authority)
        .body(body);
    for (name, value) in headers {
        request = request.header(&name.to_ascii_lowercase(), value);
    }
    let matched = api.resolve("POST", &request.path);
    devstack::payload::payload(
        api.stage(),
        matched.as_ref(),
        &request,
        &devstack::Invocation::now("127.0.0.1"),
    )
}

/// (field, SAM's value, the front's value) wherever the two payloads differ.
fn payload_differences(sam: &Value, front: &Value) -> Vec<(String, Value, Value)> {
    let fields = [
        "/version",
        "/routeKey",
        "/rawPath",
        "/rawQueryString",
        "/body",
        "/isBase64Encoded",
        "/pathParameters",
        "/requestContext/routeKey",
        "/requestContext/stage",
        "/requestContext/http/method",
        "/requestContext/http/path",
        "/requestContext/domainName",
        "/requestContext/apiId",
    ];
    let mut out: Vec<(String, Value, Value)> = fields
        .iter()
        .map(|f| {
            (
                f.to_string(),
                sam.pointer(f).cloned().unwrap_or(Value::Null),
                front.pointer(f).cloned().unwrap_or(Value::Null),
            )
        })
        .filter(|(_, s, f)| s != f)
        .collect();
    let epoch_digits = |v: &Value| {
        v.pointer("/requestContext/timeEpoch")
            .map(|t| t.to_string().len())
    };
    if epoch_digits(sam) != epoch_digits(front) {
        let unit = |v: &Value| {
            v.pointer("/requestContext/timeEpoch")
                .cloned()
                .unwrap_or_default()
        };
        out.push(("/requestContext/timeEpoch".into(), unit(sam), unit(front)));
    }
    let names = |v: &Value| -> Vec<String> {
        v["headers"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, _)| k.clone())
            .collect()
    };
    let lowercase = |v: &Value| names(v).iter().all(|k| *k == k.to_ascii_lowercase());
    if lowercase(sam) != lowercase(front) {
        out.push((
            "header names".into(),
            json!(names(sam)),
            json!(names(front)),
        ));
    }
    let header = |v: &Value, name: &str| {
        v["headers"]
            .as_object()
            .into_iter()
            .flatten()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    for name in ["x-webhook-signature", "content-type"] {
        assert_eq!(header(sam, name), header(front, name), "header {name}");
    }
    out
}

/// One step of the walk-through: its name, status and normalized body.
type Step = (&'static str, u16, Value);

fn step(name: &'static str, answer: Answer) -> Step {
    (name, answer.status, normalize(&answer.json()))
}

/// Steps 1-3 of the README walk-through against `base`.
fn walk_through_requests(base: &str, token: &str) -> Vec<Step> {
    let seed = std::fs::read(sam_support::repo().join(SEED)).unwrap();
    let bearer = vec![("Authorization", format!("Bearer {token}"))];
    let auth = AUTHORIZATION.as_bytes();
    vec![
        step(
            "authorization",
            http(
                &format!("{base}/v1/webhooks/mastercard/authorizations"),
                "POST",
                &signed(auth),
                auth,
            ),
        ),
        step(
            "seed",
            http(
                &format!("{base}/v1/webhooks/mastercard/clearing"),
                "POST",
                &signed(&seed),
                &seed,
            ),
        ),
        step(
            "reconcile",
            http(
                &format!("{base}/v1/clearing-reconciliation"),
                "POST",
                &bearer,
                RECONCILE.as_bytes(),
            ),
        ),
    ]
}

fn read_seed(base: &str, token: &str) -> Answer {
    let bearer = vec![("Authorization", format!("Bearer {token}"))];
    http(
        &format!("{base}/v1/clearing-messages/{SEED_ID}"),
        "GET",
        &bearer,
        b"",
    )
}

fn the_walk_through_answers_alike(
    ctx: &Ctx,
    api: &SamApi,
    (stack, dir): (&(LocalClients, Provisioned), &Path),
    up: &Up,
) {
    let token = devstack::dev_token(&local_env()).unwrap();
    let mut sam_steps = walk_through_requests(&api.base, &token);
    let mut front_steps = walk_through_requests(&up.base, &up.token);

    // SAM runs no event source: the table's stream feeds the outbox publisher as
    // the local run feeds it, and the queued job goes to the worker as Lambda
    // would deliver it.
    let (clients, provisioned) = stack;
    let template = devstack::Template::repo_default().unwrap();
    let settings = devstack::local_settings().unwrap();
    let env =
        shared::config::Env::from_pairs(devstack::function_env(provisioned, &settings).unwrap());
    let _publisher = ctx
        .rt
        .block_on(devstack::run::start_publisher(
            clients,
            provisioned,
            &template,
            &env,
        ))
        .unwrap();
    let jobs = provisioned.queue("ReprocessingQueue").unwrap();
    let batch = ctx.rt.block_on(async {
        for _ in 0..10 {
            let batch = devstack::receive_batch(clients, jobs, None).await.unwrap();
            if !batch.is_empty() {
                return batch;
            }
        }
        Vec::new()
    });
    assert_eq!(batch.len(), 1, "the API queued one job");
    let event = ctx.tmp.join("queued-job.json");
    let mut sqs = aws_lambda_events::event::sqs::SqsEvent::default();
    sqs.records = batch.clone();
    std::fs::write(&event, serde_json::to_vec(&sqs).unwrap()).unwrap();
    let answer = sam_invoke(
        &ctx.sam,
        dir,
        &ctx.image,
        "ReprocessingWorkerFunction",
        &event,
    );
    assert_eq!(answer, json!({"batchItemFailures": []}));
    ctx.rt
        .block_on(devstack::delete_batch(clients, jobs, &batch))
        .unwrap();
    sam_steps.push(step("read MATCHED", read_seed(&api.base, &token)));

    let deadline = Instant::now() + Duration::from_secs(30);
    let mut front = read_seed(&up.base, &up.token);
    while front.json()["status"] != "MATCHED" && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(300));
        front = read_seed(&up.base, &up.token);
    }
    front_steps.push(step("read MATCHED", front));
    assert_eq!(sam_steps[3].2["status"], "MATCHED", "{}", api.log_text());
    for (sam, front) in sam_steps.iter().zip(&front_steps) {
        assert_eq!(
            sam, front,
            "walk-through step {}: sam local start-api vs devstack up",
            sam.0
        );
    }
}

/// The sample events in `events/<function's binary>/`, in path order.
fn samples() -> Vec<PathBuf> {
    let mut files = Vec::new();
    for dir in std::fs::read_dir(sam_support::repo().join("events")).unwrap() {
        let dir = dir.unwrap().path();
        if dir.is_dir() {
            files.extend(
                std::fs::read_dir(&dir)
                    .unwrap()
                    .map(|f| f.unwrap().path())
                    .filter(|p| p.extension().is_some_and(|e| e == "json")),
            );
        }
    }
    files.sort();
    files
}

fn every_sample_event_answers_alike(ctx: &Ctx) {
    let text = std::fs::read_to_string(sam_support::repo().join("template.yaml")).unwrap();
    let functions = devstack::sam_functions(&serde_yaml::from_str(&text).unwrap()).unwrap();
    let ((_, sam_stack), dir) = ctx.folder("samples", &ctx.target_debug());
    let direct = ctx
        .rt
        .block_on(direct::Handlers::new(&ctx.prefix("direct")));
    let files = samples();
    assert!(files.len() >= 10, "the samples of events/: {files:?}");
    for file in files {
        let folder = file
            .parent()
            .and_then(|d| d.file_name())
            .and_then(|d| d.to_str())
            .unwrap_or_default();
        let function = functions
            .iter()
            .find(|f| f.binary == folder)
            .unwrap_or_else(|| panic!("{}: no function builds {folder}", file.display()));
        let name = file
            .strip_prefix(sam_support::repo())
            .unwrap()
            .display()
            .to_string();
        let event: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
        let (sam_event, direct_event) = (
            retarget(&event, &sam_stack, &name),
            retarget(&event, &direct.provisioned, &name),
        );
        let path = ctx.tmp.join("sample.json");
        std::fs::write(&path, serde_json::to_vec(&sam_event).unwrap()).unwrap();
        let sam = answer_of(sam_invoke(
            &ctx.sam,
            &dir,
            &ctx.image,
            &function.logical,
            &path,
        ));
        let handler = ctx.rt.block_on(direct.answer(folder, direct_event));
        assert_eq!(
            sam, handler,
            "{name}: sam local invoke vs the handler called directly"
        );
        match folder {
            // Its record's outbox (the seed's PENDING event) went to the bus.
            "outbox-publisher" => assert_eq!(sam, json!({"batchItemFailures": []}), "{name}"),
            // A sweep report at the scheduled time, nothing failed.
            "authorization-expiry" => {
                assert_eq!(sam["failed"], json!([]), "{name}: {sam}");
                assert!(sam["examined"].is_u64(), "{name}: {sam}");
            }
            _ => {}
        }
    }
}

/// A worker sample pointed at `provisioned`'s queues; other events (the
/// stream's records among them) as they are.
fn retarget(event: &Value, provisioned: &Provisioned, name: &str) -> Value {
    let mut event = event.clone();
    if event["Records"][0]["eventSource"] == "aws:sqs" {
        devstack::retarget_sample_event(&mut event, provisioned)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    event
}

/// A function's answer as compared: an HTTP response's status, content type
/// and normalized JSON body; any other answer normalized.
fn answer_of(output: Value) -> Value {
    match output.get("statusCode") {
        Some(status) => {
            let body: Value = output["body"]
                .as_str()
                .map_or(Value::Null, |b| serde_json::from_str(b).unwrap_or(b.into()));
            json!({"status": status, "content-type": output["headers"]["content-type"], "body": normalize(&body)})
        }
        None => normalize(&output),
    }
}

/// The handlers called directly, built by their own `from_config` over a fresh stack.
mod direct {
    use super::*;
    use authorization_expiry::ExpiryFunction;
    use clearing_webhook::WebhookService;
    use outbox_publisher::PublisherService;
    use reconciliation_api::ApiService;
    use reprocessing_worker::WorkerService;

    pub struct Handlers {
        pub provisioned: Provisioned,
        webhook: WebhookService,
        api: ApiService,
        worker: WorkerService,
        publisher: PublisherService,
        sweep: ExpiryFunction,
    }

    impl Handlers {
        pub async fn new(prefix: &str) -> Self {
            let clients = LocalClients::new().await;
            let template = devstack::Template::repo_default().unwrap();
            let provisioned = devstack::provision(&template, prefix, &clients)
                .await
                .unwrap();
            let env = Env::from_pairs(
                devstack::function_env(&provisioned, &local_settings().unwrap()).unwrap(),
            );
            let aws = clients.aws();
            Self {
                webhook: WebhookService::from_config(&env, &aws).await.unwrap(),
                api: ApiService::from_config(&env, &aws).await.unwrap(),
                worker: WorkerService::from_config(&env, &aws).unwrap(),
                publisher: PublisherService::from_config(&env, &aws).unwrap(),
                sweep: ExpiryFunction::from_config(&env, &aws).unwrap(),
                provisioned,
            }
        }

        /// The answer of the function whose binary is `binary` to `event`, as [`answer_of`] shapes it.
        pub async fn answer(&self, binary: &str, event: Value) -> Value {
            let context = lambda_runtime::Context::default;
            if binary == "outbox-publisher" {
                let event = serde_json::from_value(event).unwrap();
                let event = lambda_runtime::LambdaEvent::new(event, context());
                let response = outbox_publisher::handle(&self.publisher, event).await;
                return normalize(&serde_json::to_value(response.unwrap()).unwrap());
            }
            if binary == "authorization-expiry" {
                let event = lambda_runtime::LambdaEvent::new(event, context());
                let report = authorization_expiry::handle(&self.sweep, event).await;
                return normalize(&serde_json::to_value(report.unwrap()).unwrap());
            }
            if binary == "reprocessing-worker" {
                let event = serde_json::from_value(event).unwrap();
                let context = lambda_runtime::Context::default();
                let response = reprocessing_worker::handle(
                    &self.worker,
                    lambda_runtime::LambdaEvent::new(event, context),
                )
                .await
                .unwrap();
                return normalize(&serde_json::to_value(response).unwrap());
            }
            let request = lambda_http::request::from_str(&event.to_string()).unwrap();
            let response = match binary {
                "clearing-webhook" => clearing_webhook::handle(&self.webhook, request).await,
                _ => reconciliation_api::handle(&self.api, request).await,
            }
            .unwrap();
            let content_type = response
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let body: Value =
                serde_json::from_slice(response.body().as_ref()).unwrap_or(Value::Null);
            json!({"status": response.status().as_u16(), "content-type": content_type, "body": normalize(&body)})
        }
    }
}
