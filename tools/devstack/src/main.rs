//! `devstack provision [--prefix P] [--template PATH]`: creates the template's
//! tables, queues, bus and rules on the local stack and prints where they are.

use std::path::PathBuf;

use devstack::{provision, LocalClients, Template};

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut prefix = "local-".to_string();
    let mut template = devstack::repo_root().join("template.yaml");
    let mut i = 0;
    let command = args.first().cloned().unwrap_or_default();
    while i < args.len() {
        match args[i].as_str() {
            "--prefix" if i + 1 < args.len() => {
                prefix = args[i + 1].clone();
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
    if command != "provision" {
        eprintln!("usage: devstack provision [--prefix P] [--template PATH]");
        std::process::exit(2);
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
