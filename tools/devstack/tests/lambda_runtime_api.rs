//! Each function's real `main` and the real Lambda runtime client, fed the
//! sample events of `events/` through a Lambda Runtime API on loopback (what
//! `cargo lambda watch` and the Lambda service provide), against the local
//! stack: what `./dev.sh lambda` + `./dev.sh invoke FUNCTION EVENT` do by hand.
//! Needs the local stack (`./dev.sh test` starts it).

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use devstack::{lambda_env, local_settings, provision, LocalClients, Provisioned, Template};

/// One HTTP/1.1 request on a keep-alive connection: (method, path, body).
fn read_request(reader: &mut BufReader<TcpStream>) -> Option<(String, String, Vec<u8>)> {
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next()?.to_owned(), parts.next()?.to_owned());
    let mut length = 0usize;
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).ok()?;
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().ok()?;
            }
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some((method, path, body))
}

fn respond(stream: &mut TcpStream, status: u16, headers: &[(&str, String)], body: &[u8]) {
    let mut head = format!(
        "HTTP/1.1 {status} OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(body);
}

/// An event of `events/`, as its file holds it.
fn sample(file: &str) -> (String, Vec<u8>) {
    let body =
        std::fs::read(devstack::repo_root().join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
    (file.to_owned(), body)
}

/// A sample SQS event of `events/reprocessing-worker`, its records pointed at
/// `provisioned`'s queues: the samples name the queues `./dev.sh lambda`
/// provisions (prefix `local-`), and the worker reads a record by its queue.
fn worker_sample(file: &str, provisioned: &Provisioned) -> (String, Vec<u8>) {
    let (name, body) = sample(file);
    let mut event: serde_json::Value = serde_json::from_slice(&body).unwrap();
    devstack::retarget_sample_event(&mut event, provisioned)
        .unwrap_or_else(|e| panic!("{file}: {e}"));
    (name, serde_json::to_vec(&event).unwrap())
}

/// The Lambda Runtime API for one function: hands out `queue`'s events one
/// `next` at a time and passes each answer (path, body) to `answers`.
fn serve_runtime_api(
    listener: TcpListener,
    mut queue: VecDeque<(String, Vec<u8>)>,
    answers: mpsc::Sender<(String, Vec<u8>)>,
) {
    // The runtime client keeps one connection; serve it request by request.
    for stream in listener.incoming() {
        let Ok(mut stream) = stream else { return };
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        while let Some((method, path, body)) = read_request(&mut reader) {
            if method == "GET" && path.ends_with("/invocation/next") {
                let Some((id, event)) = queue.pop_front() else {
                    // No more events: the function waits here, as on Lambda.
                    std::thread::sleep(Duration::from_secs(3600));
                    return;
                };
                let deadline = chrono::Utc::now().timestamp_millis() + 30_000;
                respond(
                    &mut stream,
                    200,
                    &[
                        ("lambda-runtime-aws-request-id", id),
                        ("lambda-runtime-deadline-ms", deadline.to_string()),
                        (
                            "lambda-runtime-invoked-function-arn",
                            "arn:aws:lambda:us-east-1:000000000000:function:runtime-api-test"
                                .to_owned(),
                        ),
                        (
                            "lambda-runtime-trace-id",
                            "Root=1-00000000-000000000000000000000000".to_owned(),
                        ),
                    ],
                    &event,
                );
            } else {
                // .../invocation/{id}/response, or /error, or /init/error.
                respond(&mut stream, 202, &[], b"{}");
                let _ = answers.send((path, body));
            }
        }
    }
}

/// Runs `binary` as Lambda would, hands it `events` (name, body) one
/// invocation at a time over the Runtime API, and returns what it answered to each.
fn invoke_all(
    binary: &Path,
    env: &[(String, String)],
    events: &[(String, Vec<u8>)],
) -> Vec<serde_json::Value> {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let queue: VecDeque<(String, Vec<u8>)> = events
        .iter()
        .enumerate()
        .map(|(i, (_, body))| (format!("request-{i}"), body.clone()))
        .collect();
    let (answers_tx, answers) = mpsc::channel::<(String, Vec<u8>)>();
    let mut child = Command::new(binary)
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .env("AWS_LAMBDA_RUNTIME_API", address.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", "runtime-api-test")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "runtime-api-test")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "runtime-api-test")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{}: {e}", binary.display()));
    std::thread::spawn(move || serve_runtime_api(listener, queue, answers_tx));
    let mut out = Vec::new();
    for (i, (event, _)) in events.iter().enumerate() {
        let (path, body) = answers
            .recv_timeout(Duration::from_secs(120))
            .unwrap_or_else(|_| panic!("{} answered nothing to {}", binary.display(), event));
        assert_eq!(
            path,
            format!("/2018-06-01/runtime/invocation/request-{i}/response"),
            "{} failed on {}: {}",
            binary.display(),
            event,
            String::from_utf8_lossy(&body)
        );
        out.push(serde_json::from_slice(&body).unwrap());
    }
    let _ = child.kill();
    let _ = child.wait();
    out
}

/// An API Gateway response's status and JSON body.
fn http_answer(answer: &serde_json::Value) -> (u64, serde_json::Value) {
    let body = answer["body"].as_str().unwrap_or("null");
    (
        answer["statusCode"].as_u64().unwrap_or(0),
        serde_json::from_str(body).unwrap_or(serde_json::Value::Null),
    )
}

/// The binaries as `cargo lambda watch` would run them (dev profile); their directory.
fn build_functions() -> PathBuf {
    let status = Command::new(env!("CARGO"))
        .args([
            "build",
            "-p",
            "clearing-webhook",
            "-p",
            "reconciliation-api",
            "-p",
            "reprocessing-worker",
            "-p",
            "outbox-publisher",
            "-p",
            "authorization-expiry",
        ])
        .current_dir(devstack::repo_root())
        .status()
        .unwrap();
    assert!(status.success(), "the functions build");
    std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| devstack::repo_root().join("target"))
        .join("debug")
}

/// The seed's authorization, then the seed itself: stored PENDING (month 24).
fn webhook_stores_the_seed_pending(target: &Path, env: &[(String, String)]) {
    let webhook = invoke_all(
        &target.join("clearing-webhook"),
        env,
        &[
            sample("events/clearing-webhook/authorization-seed.json"),
            sample("events/clearing-webhook/clearing-seed.json"),
        ],
    );
    let (s, ack) = http_answer(&webhook[0]);
    assert_eq!((s, ack["stored"].as_u64()), (200, Some(1)), "{ack}");
    let (s, ack) = http_answer(&webhook[1]);
    assert_eq!(s, 200, "{ack}");
    assert_eq!(ack["results"][0]["status"], "PENDING");
    assert_eq!(ack["results"][0]["pendingReason"]["code"], "INVALID_FIELD");
    assert_eq!(
        ack["results"][0]["pendingReason"]["fields"][0]["field"],
        "transactionLocalDate"
    );
}

/// Every API sample: the seed listed, found by each search, and its fix accepted.
fn api_lists_the_seed_and_accepts_its_fix(target: &Path, env: &[(String, String)]) {
    let api = invoke_all(
        &target.join("reconciliation-api"),
        env,
        &[
            sample("events/reconciliation-api/list-pending.json"),
            sample("events/reconciliation-api/reconcile-seed.json"),
            sample("events/reconciliation-api/get-message.json"),
            sample("events/reconciliation-api/list-card.json"),
            sample("events/reconciliation-api/search-trans-uid.json"),
            sample("events/reconciliation-api/search-cursor.json"),
        ],
    );
    let (s, pending) = http_answer(&api[0]);
    assert_eq!(s, 200);
    assert_eq!(
        pending["items"][0]["clearing_unique_id"],
        "202404261024009777553"
    );
    let (s, accepted) = http_answer(&api[1]);
    assert_eq!(
        (s, accepted["message"].as_str()),
        (
            202,
            Some("The message has been received and is being processed.")
        )
    );
    let (s, message) = http_answer(&api[2]);
    assert_eq!((s, message["status"].as_str()), (200, Some("REPROCESSING")));
    for (answer, list) in [
        (&api[3], "items"),
        (&api[4], "clearing"),
        (&api[5], "clearing"),
    ] {
        let (s, body) = http_answer(answer);
        assert_eq!(s, 200, "{body}");
        assert_eq!(
            body[list][0]["clearing_unique_id"], "202404261024009777553",
            "{body}"
        );
    }
}

const JOB_SAMPLE: &str = "events/reprocessing-worker/sqs-reprocessing-job.json";

/// The job the API queued, as SQS delivers it to the worker (the job sample's envelope).
async fn queued_job(clients: &LocalClients, provisioned: &Provisioned) -> (String, Vec<u8>) {
    let received = clients
        .sqs
        .receive_message()
        .queue_url(&provisioned.queue("ReprocessingQueue").unwrap().url)
        .wait_time_seconds(5)
        .send()
        .await
        .unwrap();
    let job = received.messages().first().expect("the API queued a job");
    let (_, sample_job) = worker_sample(JOB_SAMPLE, provisioned);
    let mut queued: serde_json::Value = serde_json::from_slice(&sample_job).unwrap();
    queued["Records"][0]["body"] = job.body().unwrap().into();
    queued["Records"][0]["messageId"] = job.message_id().unwrap().into();
    let name = "the job the API queued".to_owned();
    (name, serde_json::to_vec(&queued).unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn every_function_serves_its_sample_events_through_its_real_main_and_the_runtime_api() {
    let target = build_functions();
    let template = Template::load(devstack::repo_root().join("template.yaml")).unwrap();
    let clients = LocalClients::new().await;
    let prefix = format!("rt{}-", std::process::id());
    let provisioned = provision(&template, &prefix, &clients).await.unwrap();
    // The functions' environment as `./dev.sh lambda` writes it (local/local.env's secrets).
    let env = lambda_env(&provisioned, &local_settings().unwrap(), &clients.endpoints).unwrap();

    webhook_stores_the_seed_pending(&target, &env);
    api_lists_the_seed_and_accepts_its_fix(&target, &env);

    // The table's stream takes the job the API wrote to the queue (the outbox
    // publisher, fed as the runner feeds it).
    let publisher = devstack::run::start_publisher(
        &clients,
        &provisioned,
        &template,
        &shared::config::Env::from_pairs(env.clone()),
    )
    .await
    .unwrap();
    // The worker gets the job the API queued beside the samples, each from its own queue.
    let queued = queued_job(&clients, &provisioned).await;
    drop(publisher);
    let worker = invoke_all(
        &target.join("reprocessing-worker"),
        &env,
        &[
            worker_sample(JOB_SAMPLE, &provisioned),
            queued,
            worker_sample(
                "events/reprocessing-worker/sqs-pix-transaction.json",
                &provisioned,
            ),
            worker_sample(
                "events/reprocessing-worker/sqs-pix-provider-entry.json",
                &provisioned,
            ),
            worker_sample(
                "events/reprocessing-worker/sqs-pix-report-closed.json",
                &provisioned,
            ),
        ],
    );
    for answer in &worker {
        assert_eq!(
            answer["batchItemFailures"],
            serde_json::json!([]),
            "{answer}"
        );
    }

    // The reconciled message, read back through the API's real main.
    let api = invoke_all(
        &target.join("reconciliation-api"),
        &env,
        &[sample("events/reconciliation-api/get-message.json")],
    );
    let (s, message) = http_answer(&api[0]);
    assert_eq!(
        (s, message["status"].as_str()),
        (200, Some("MATCHED")),
        "{message}"
    );
    stream_and_schedule_samples(&target, &env);
}

/// The outbox publisher's stream sample and the sweep's Scheduler sample,
/// each through its function's real main.
fn stream_and_schedule_samples(target: &Path, env: &[(String, String)]) {
    let published = invoke_all(
        &target.join("outbox-publisher"),
        env,
        &[sample("events/outbox-publisher/stream-seed-pending.json")],
    );
    assert_eq!(
        published[0],
        serde_json::json!({"batchItemFailures": []}),
        "the seed's event published"
    );
    let sweep = invoke_all(
        &target.join("authorization-expiry"),
        env,
        &[sample("events/authorization-expiry/scheduler-run.json")],
    );
    // The seed's authorization, stored today, is not due at the sample's
    // scheduled time (tests/authorization_expiry.rs runs one that is).
    assert_eq!(sweep[0]["failed"], serde_json::json!([]), "{}", sweep[0]);
    assert_eq!(sweep[0]["expired"], 0, "{}", sweep[0]);
}
