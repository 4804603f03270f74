//! The load, sent as its senders send it: notifications signed as a network
//! signs them and retried on 5xx and timeouts until a 200 (for up to
//! [`GIVE_UP_AFTER`]), operators' requests with a token, Pix inputs put on
//! the bus and resent when the bus fails them. Also the capture of every
//! event the bus delivers, and the wait for the system to settle.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use aws_sdk_sqs::types::DeleteMessageBatchRequestEntry;
use shared::config::Env;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::plan::{Kind, Plan};
use super::truth::Truth;
use crate::{receive_batch, DevstackError, LocalClients, QueueInfo};

const GIVE_UP_AFTER: Duration = Duration::from_secs(600);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
const SENDERS: usize = 4;
const STAGE: &str = "/v1";

/// One HTTP/1.1 request to the front: status and body, or why there is none.
async fn post(
    port: u16,
    path: &str,
    headers: &[(&str, String)],
    body: &str,
) -> Result<(u16, serde_json::Value), String> {
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
        let mut request = format!(
            "POST {STAGE}{path} HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: {}\r\n",
            body.len()
        );
        for (name, value) in headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        request.push_str("\r\n");
        request.push_str(body);
        stream.write_all(request.as_bytes()).await?;
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await?;
        Ok::<_, std::io::Error>(String::from_utf8_lossy(&response).into_owned())
    };
    let text = tokio::time::timeout(REQUEST_TIMEOUT, exchange)
        .await
        .map_err(|_| "timed out".to_owned())?
        .map_err(|e| e.to_string())?;
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("no HTTP status in {:?}", text.get(..40)))?;
    let body = text.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    Ok((status, serde_json::from_str(body).unwrap_or_default()))
}

/// Sends until an answer below 500, as a network or an operator's tool retries.
/// `headers` is called before each attempt (a signature carries its time).
/// The number of attempts comes back with the answer (None: gave up).
async fn send_retrying(
    port: u16,
    path: &str,
    headers: impl Fn() -> Vec<(&'static str, String)>,
    body: &str,
) -> (usize, Option<(u16, serde_json::Value)>) {
    let deadline = Instant::now() + GIVE_UP_AFTER;
    let mut attempts = 0;
    let mut backoff = Duration::from_millis(200);
    while Instant::now() < deadline {
        attempts += 1;
        match post(port, path, &headers(), body).await {
            Ok((status, answer)) if status < 500 => return (attempts, Some((status, answer))),
            _ => {}
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(3));
    }
    (attempts, None)
}

/// Settings the senders need: the network's signing secret and an operator token.
struct Credentials {
    secret: String,
    token: String,
}

impl Credentials {
    fn local() -> Result<Self, DevstackError> {
        let settings = Env::from_pairs(crate::local_settings()?);
        Ok(Self {
            secret: crate::signing_secret(&settings, "mastercard")?,
            token: crate::dev_token(&settings)?,
        })
    }

    fn signed(&self, body: &str) -> Vec<(&'static str, String)> {
        let now = chrono::Utc::now().timestamp();
        vec![(
            "x-webhook-signature",
            shared::webhook_auth::sign(&self.secret, now, body.as_bytes()),
        )]
    }

    fn bearer(&self) -> Vec<(&'static str, String)> {
        vec![("authorization", format!("Bearer {}", self.token))]
    }
}

/// Authorizations of `kinds`, 100 a notification.
async fn send_authorizations(
    plan: &Plan,
    kinds: &[Kind],
    port: u16,
    credentials: &Credentials,
    truth: &mut Truth,
) {
    let chosen: Vec<String> = plan
        .records
        .iter()
        .filter(|r| kinds.contains(&r.kind))
        .map(|r| r.authorization_json())
        .collect();
    for chunk in chosen.chunks(100) {
        let body = format!(r#"{{"authorizations":[{}]}}"#, chunk.join(","));
        let path = "/v1/webhooks/mastercard/authorizations";
        match send_retrying(port, path, || credentials.signed(&body), &body).await {
            (_, Some((200, _))) => {}
            (_, Some((status, _))) => *truth.other_answers.entry(status).or_default() += 1,
            (_, None) => truth.gave_up += 1,
        }
    }
}

/// One sender's share of the clearing notifications (every `SENDERS`-th, from `first`).
async fn send_clearings(
    plan: Arc<Plan>,
    first: usize,
    port: u16,
    credentials: Arc<Credentials>,
) -> Truth {
    let mut truth = Truth::default();
    let path = "/v1/webhooks/mastercard/clearing";
    for k in (first..plan.notifications.len()).step_by(SENDERS) {
        let records: Vec<String> = plan.notifications[k]
            .iter()
            .map(|&i| plan.records[i].clearing_json())
            .collect();
        for &i in &plan.notifications[k] {
            truth
                .sent
                .insert(plan.records[i].id.clone(), plan.records[i].card.clone());
        }
        let body = format!(r#"{{"clearing":[{}]}}"#, records.join(","));
        let deliveries = if plan.redelivered.contains(&k) { 2 } else { 1 };
        for _ in 0..deliveries {
            match send_retrying(port, path, || credentials.signed(&body), &body).await {
                (_, Some((200, answer))) => {
                    let results = answer["results"].as_array().cloned().unwrap_or_default();
                    for result in results {
                        if let Some(id) = result["clearingUniqueId"].as_str() {
                            truth.acknowledged.insert(id.to_owned());
                        }
                    }
                }
                (_, Some((status, _))) => *truth.other_answers.entry(status).or_default() += 1,
                (_, None) => truth.gave_up += 1,
            }
        }
    }
    truth
}

/// One sender's share of the operators' requests.
async fn send_reconciliations(
    plan: Arc<Plan>,
    first: usize,
    port: u16,
    credentials: Arc<Credentials>,
) -> Truth {
    let mut truth = Truth::default();
    for record in plan.records.iter().skip(first).step_by(SENDERS) {
        let Some(body) = record.reconciliation_json() else {
            continue;
        };
        let path = "/v1/clearing-reconciliation";
        let (attempts, answer) = send_retrying(port, path, || credentials.bearer(), &body).await;
        *truth
            .reconcile_attempts
            .entry(record.card.clone())
            .or_default() += attempts;
        match answer {
            Some((202, _)) => {
                *truth
                    .reconcile_accepted
                    .entry(record.card.clone())
                    .or_default() += 1
            }
            Some((status, _)) => *truth.other_answers.entry(status).or_default() += 1,
            None => truth.gave_up += 1,
        }
    }
    truth
}

/// Pix inputs on the bus, 10 a call, paced over the load; entries the bus
/// fails are resent, as the platform's publisher would.
async fn send_pix(plan: Arc<Plan>, clients: LocalClients, bus: String) -> Truth {
    let mut truth = Truth::default();
    for chunk in plan.pix.chunks(10) {
        let mut pending: Vec<_> = chunk.iter().collect();
        let deadline = Instant::now() + GIVE_UP_AFTER;
        while !pending.is_empty() && Instant::now() < deadline {
            let entries = pending.iter().map(|input| {
                PutEventsRequestEntry::builder()
                    .event_bus_name(&bus)
                    .source("pix.inputs")
                    .detail_type(input.detail_type)
                    .detail(&input.detail)
                    .build()
            });
            match clients
                .eventbridge
                .put_events()
                .set_entries(Some(entries.collect()))
                .send()
                .await
            {
                Ok(out) => {
                    let results = out.entries();
                    let mut failed = Vec::new();
                    for (i, input) in pending.iter().enumerate() {
                        match results.get(i) {
                            Some(r) if r.error_code().is_none() => {
                                truth.pix_sent.extend(input.end_to_end_id.clone());
                            }
                            _ => failed.push(*input),
                        }
                    }
                    pending = failed;
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
            }
        }
        truth.gave_up += pending.len();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    truth
}

/// Sends the whole plan: authorizations that come first; the clearing
/// notifications (and the Pix inputs beside them); the late authorizations;
/// then the operators' requests.
pub async fn drive(
    plan: Plan,
    port: u16,
    clients: &LocalClients,
    bus: &str,
) -> Result<Truth, DevstackError> {
    let credentials = Arc::new(Credentials::local()?);
    let plan = Arc::new(plan);
    let mut truth = Truth::default();
    let pix = tokio::spawn(send_pix(plan.clone(), clients.clone(), bus.to_owned()));
    send_authorizations(
        &plan,
        &[Kind::Authorized, Kind::InvalidDate],
        port,
        &credentials,
        &mut truth,
    )
    .await;
    println!("soak: authorizations sent; sending clearing notifications");
    let senders: Vec<_> = (0..SENDERS)
        .map(|first| {
            tokio::spawn(send_clearings(
                plan.clone(),
                first,
                port,
                credentials.clone(),
            ))
        })
        .collect();
    for sender in senders {
        truth.merge(sender.await.unwrap_or_default());
    }
    println!(
        "soak: {} clearing records acknowledged; late authorizations and operators' requests",
        truth.acknowledged.len()
    );
    send_authorizations(
        &plan,
        &[Kind::AuthorizedLate],
        port,
        &credentials,
        &mut truth,
    )
    .await;
    let senders: Vec<_> = (0..SENDERS)
        .map(|first| {
            tokio::spawn(send_reconciliations(
                plan.clone(),
                first,
                port,
                credentials.clone(),
            ))
        })
        .collect();
    for sender in senders {
        truth.merge(sender.await.unwrap_or_default());
    }
    truth.merge(pix.await.unwrap_or_default());
    Ok(truth)
}

/// Waits until the front answers (or the runner has failed).
pub async fn wait_for_front(
    port: u16,
    runner: &tokio::task::JoinHandle<Result<(), DevstackError>>,
) -> Result<(), DevstackError> {
    let deadline = Instant::now() + Duration::from_secs(120);
    while Instant::now() < deadline {
        if runner.is_finished() {
            return Err(DevstackError::Worker(
                "the runner stopped during start-up".into(),
            ));
        }
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    Err(DevstackError::Worker(format!(
        "the front did not listen on {port} within 120 s"
    )))
}

/// Every event the capture queue receives (kept with its duplicates), until aborted.
pub async fn capture(
    clients: LocalClients,
    queue: QueueInfo,
    events: Arc<Mutex<Vec<serde_json::Value>>>,
) {
    loop {
        let Ok(batch) = receive_batch(&clients, &queue, None).await else {
            tokio::time::sleep(Duration::from_millis(500)).await;
            continue;
        };
        let bodies = batch
            .iter()
            .map(|r| serde_json::from_str(r.body.as_deref().unwrap_or("null")).unwrap_or_default());
        if let Ok(mut events) = events.lock() {
            events.extend(bodies);
        }
        // Undeleted, a message comes back after the visibility timeout: a duplicate, never a loss.
        let entries = batch.iter().enumerate().filter_map(|(i, r)| {
            DeleteMessageBatchRequestEntry::builder()
                .id(i.to_string())
                .receipt_handle(r.receipt_handle.clone()?)
                .build()
                .ok()
        });
        let entries: Vec<_> = entries.collect();
        if !entries.is_empty() {
            let delete = clients.sqs.delete_message_batch().queue_url(&queue.url);
            let _ = delete.set_entries(Some(entries)).send().await;
        }
    }
}

/// Waits until the work queues are empty and no event has arrived for 5 s;
/// gives up after 2 minutes without a new event (the worker is stuck).
pub async fn settle(
    clients: &LocalClients,
    queues: &[QueueInfo],
    events: &Mutex<Vec<serde_json::Value>>,
) {
    let started = Instant::now();
    let event_count = || events.lock().map(|e| e.len()).unwrap_or(0);
    let (mut last, mut quiet_since) = (event_count(), Instant::now());
    while quiet_since.elapsed() < Duration::from_secs(120) {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let now = event_count();
        if now != last {
            (last, quiet_since) = (now, Instant::now());
        }
        let mut backlogs = Vec::new();
        for queue in queues {
            backlogs.push(super::redrive::depth(clients, queue).await);
        }
        if backlogs.iter().all(|b| *b == Some(0)) && quiet_since.elapsed() >= Duration::from_secs(5)
        {
            return;
        }
        if started.elapsed().as_secs().is_multiple_of(15) {
            println!("soak: settling: {now} events captured, work queues hold {backlogs:?}");
        }
    }
    println!("soak: no event for 2 minutes and the work queues are not empty; checking as it is");
}
