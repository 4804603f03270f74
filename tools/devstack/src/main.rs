//! The local run's tool:
//! - `devstack up [--port 3000] [--prefix local-]`: the whole system (see `run.rs`); Ctrl-C stops it.
//! - `devstack provision [--prefix P] [--template PATH]`: only create the template's resources.
//! - `devstack sign FILE`: the X-Webhook-Signature header value for a body, with the local secret.
//! - `devstack token`: a dev operator token.

use std::path::PathBuf;

use devstack::{provision, LocalClients, Template};

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut prefix = "local-".to_string();
    let mut port: u16 = 3000;
    let mut template = devstack::repo_root().join("template.yaml");
    let mut i = 0;
    let command = args.first().cloned().unwrap_or_default();
    while i < args.len() {
        match args[i].as_str() {
            "--prefix" if i + 1 < args.len() => {
                prefix = args[i + 1].clone();
                i += 1;
            }
            "--port" if i + 1 < args.len() => {
                port = args[i + 1].parse().unwrap_or(3000);
                i += 1;
            }
            "--template" if i + 1 < args.len() => {
                template = PathBuf::from(&args[i + 1]);
                i += 1;
            }
            _ => {}
        }
        i += 1;
    }
    match command.as_str() {
        "provision" => {}
        "up" => {
            let shutdown = async {
                let _ = tokio::signal::ctrl_c().await;
            };
            if let Err(e) = devstack::run::run(devstack::run::RunConfig { prefix, port }, shutdown).await {
                eprintln!("devstack: {e}");
                std::process::exit(1);
            }
            return;
        }
        "sign" => {
            let Some(path) = args.get(1) else {
                eprintln!("usage: devstack sign FILE");
                std::process::exit(2);
            };
            match std::fs::read(path) {
                Ok(body) => println!(
                    "{}",
                    shared::webhook_auth::sign(devstack::run::LOCAL_WEBHOOK_SECRET, chrono::Utc::now().timestamp(), &body)
                ),
                Err(e) => {
                    eprintln!("devstack: {path}: {e}");
                    std::process::exit(1);
                }
            }
            return;
        }
        "token" => {
            println!("{}", devstack::run::dev_token());
            return;
        }
        _ => {
            eprintln!("usage: devstack up [--port N] [--prefix P] | provision [--prefix P] [--template PATH] | sign FILE | token");
            std::process::exit(2);
        }
    }
    let result = async {
        let template = Template::load(&template)?;
        let clients = LocalClients::new().await;
        provision(&template, &prefix, &clients).await
    }
    .await;
    match result {
        Ok(p) => {
            println!("{}", serde_json::to_string_pretty(&p).unwrap_or_default());
            let env = [
                ("TABLE_NAME", p.tables.get("ClearingTable").cloned()),
                ("REPROCESSING_QUEUE_URL", p.queues.get("ReprocessingQueue").map(|q| q.url.clone())),
                ("PIX_INPUT_QUEUE_URL", p.queues.get("PixInputQueue").map(|q| q.url.clone())),
                ("EVENT_BUS_NAME", p.buses.get("ReconciliationBus").cloned()),
            ];
            for (k, v) in env {
                if let Some(v) = v {
                    println!("{k}={v}");
                }
            }
        }
        Err(e) => {
            eprintln!("devstack: {e}");
            std::process::exit(1);
        }
    }
}
