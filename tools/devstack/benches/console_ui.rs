//! The console's queue page at 10,000 pending messages, in headless
//! Chromium: time to first render (navigation to the rendered table, in the
//! browser's clock: the page, its modules, config, the summary and the first
//! page of the list) and to the next page (click to rendered), with the API
//! calls each view makes. The messages are written into DynamoDB Local by the
//! webhook's own ingest, in process (its events kept in memory, not published). Needs the local stack and Chromium:
//! `./dev.sh bench-console-ui`. Figures, not a test.

#[path = "../tests/browser/mod.rs"]
mod browser;

use browser::*;
use clearing_webhook::{ingest_clearing, WebhookService};
use serde_json::Value;
use shared::config::Env;

const PENDING: usize = 10_000;
const PER_NOTIFICATION: usize = 500;
const RUNS: usize = 7;

async fn load(system: &System) {
    let clients = devstack::LocalClients::new().await;
    let template = devstack::Template::repo_default().unwrap();
    // The system provisioned these already: this only finds them.
    let provisioned = devstack::provision(&template, &system.prefix, &clients)
        .await
        .unwrap();
    let env = Env::from_pairs(
        devstack::function_env(&provisioned, &devstack::local_settings().unwrap()).unwrap(),
    );
    // Straight into the table (the events ride in the items' outbox).
    let webhook = WebhookService::from_config(&env, &clients.aws())
        .await
        .unwrap();
    let bodies: Vec<String> = (0..PENDING / PER_NOTIFICATION)
        .map(|n| {
            let records: Vec<String> = (0..PER_NOTIFICATION)
                .map(|i| {
                    let k = n * PER_NOTIFICATION + i;
                    let amount = format!("{}.{:02}", 1 + k % 900, k % 100);
                    let r = clearing_record(
                        &format!("B{k:05}"),
                        &format!("NOAUTH{k}"),
                        &format!("card-{}", k % 50),
                        &amount,
                    );
                    // Every fourth is invalid (the seed's broken date): two reasons in the queue.
                    if k.is_multiple_of(4) {
                        r.replace("2024-04-24", "2024-24-04")
                    } else {
                        r
                    }
                })
                .collect();
            format!(r#"{{"clearing": [{}]}}"#, records.join(","))
        })
        .collect();
    for body in &bodies {
        ingest_clearing(&webhook, "MASTERCARD", body.as_bytes())
            .await
            .unwrap();
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Milliseconds from navigation start to the first rendered page, and the API calls made.
const FIRST: &str = r#"
const done = arguments[arguments.length - 1];
const poll = () => {
  const marks = performance.getEntriesByName('console:rendered');
  if (marks.length && document.querySelector('table.queue')) {
    const api = performance.getEntriesByType('resource').filter((r) => r.name.includes('/v1/'));
    done([marks[0].startTime, api.length, api.map((r) => `${new URL(r.name).pathname} ${r.duration.toFixed(0)} ms`).join(', ')]);
  } else setTimeout(poll, 5);
};
poll();
"#;

/// Milliseconds from clicking "Next page" to the next page rendered, and the API calls made.
const NEXT: &str = r#"
const done = arguments[arguments.length - 1];
const before = performance.getEntriesByName('console:rendered').length;
const calls = performance.getEntriesByType('resource').length;
const t0 = performance.now();
document.getElementById('next-page').click();
const poll = () => {
  const marks = performance.getEntriesByName('console:rendered');
  if (marks.length > before) {
    const api = performance.getEntriesByType('resource').slice(calls).filter((r) => r.name.includes('/v1/'));
    done([marks[marks.length - 1].startTime - t0, api.length, api.map((r) => `${new URL(r.name).pathname} ${r.duration.toFixed(0)} ms`).join(', ')]);
  } else setTimeout(poll, 5);
};
poll();
"#;

/// (milliseconds, API calls, each call's path and duration).
fn figures(v: Value) -> (f64, u64, String) {
    (
        v[0].as_f64().unwrap(),
        v[1].as_u64().unwrap(),
        v[2].as_str().unwrap_or_default().to_owned(),
    )
}

#[tokio::main(flavor = "multi_thread", worker_threads = 4)]
async fn main() {
    let system = System::start("uibench").await;
    let started = std::time::Instant::now();
    load(&system).await;
    println!(
        "loaded {PENDING} pending messages in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let token = system.token("bench");
    let browser = Browser::start().await;
    let (mut first, mut next) = (Vec::new(), Vec::new());
    let (mut first_calls, mut next_calls) = ((0, String::new()), (0, String::new()));
    for _ in 0..RUNS {
        browser.goto("about:blank").await;
        browser
            .goto(&system.console_url(&token, "#/queue?status=PENDING&limit=50"))
            .await;
        let (ms, calls, each) = figures(browser.client.execute_async(FIRST, vec![]).await.unwrap());
        first.push(ms);
        first_calls = (calls, each);
        let (ms, calls, each) = figures(browser.client.execute_async(NEXT, vec![]).await.unwrap());
        next.push(ms);
        next_calls = (calls, each);
    }
    let caption = browser.text("table.queue caption").await;
    println!("console queue page, {PENDING} pending, 50 a page, headless Chromium 1280x900, {RUNS} runs (median):");
    println!(
        "  first render   {:>7.1} ms  (navigation to rendered table; {} API calls, last run: {})",
        median(first),
        first_calls.0,
        first_calls.1
    );
    println!(
        "  next page      {:>7.1} ms  (click to rendered table; {} API calls, last run: {})",
        median(next),
        next_calls.0,
        next_calls.1
    );
    println!("  last page shown: {caption}");
    browser.close().await;
    system.stop().await;
}
