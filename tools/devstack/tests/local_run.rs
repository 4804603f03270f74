//! The local run as a user starts it: `devstack up` (what `./dev.sh up` runs once
//! the stack is up), the README walk-through over HTTP on the URLs of the
//! deployed execute-api endpoint (stage `v1` in front of each route), then Ctrl-C.
//! Needs the local stack (`./dev.sh test` starts it).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

fn http(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, String)],
    body: &str,
) -> (u16, serde_json::Value) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\ncontent-length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response.split_whitespace().nth(1).unwrap().parse().unwrap();
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b)
        .unwrap_or("");
    (
        status,
        serde_json::from_str(body).unwrap_or(serde_json::Value::Null),
    )
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn the_walk_through_takes_the_seed_from_ingest_to_reconciled_and_ctrl_c_stops_it() {
    let port = free_port();
    let prefix = format!("run{}-", std::process::id());
    let mut child = Command::new(env!("CARGO_BIN_EXE_devstack"))
        .args(["up", "--port", &port.to_string(), "--prefix", &prefix])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let (lines_tx, lines) = mpsc::channel::<String>();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = lines_tx.send(line);
        }
    });
    let mut token = String::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let line = lines
            .recv_timeout(deadline - Instant::now())
            .expect("devstack up prints `ready`");
        if let Some(t) = line.strip_prefix("dev token") {
            token = t.trim().to_owned();
        }
        if line.starts_with("ready:") {
            break;
        }
    }
    assert!(!token.is_empty(), "the dev token is printed");

    let seed = std::fs::read_to_string(
        devstack::repo_root().join("spec/mastercard-clearing-notification.example.json"),
    )
    .unwrap();
    let auth = r#"{"authorizations":[{"transUid":"20240426O9EC2A","cardReference":"47r45e73-7dwe-43f9-bk6b-5096F5reb5cd","transactionAmount":12.34,"transactionCurrency":"USD","merchantCategoryCode":"4111","authorizationDateTime":"2024-04-24T16:01:00Z","status":"APPROVED"}]}"#;
    // Signed with the secret `devstack up` was given: the one in local/local.env.
    let settings = shared::config::Env::from_pairs(devstack::local_settings().unwrap());
    let secret = devstack::signing_secret(&settings, "mastercard").unwrap();
    let sign = |body: &str| {
        shared::webhook_auth::sign(&secret, chrono::Utc::now().timestamp(), body.as_bytes())
    };
    let (s, _) = http(
        port,
        "POST",
        "/v1/v1/webhooks/mastercard/authorizations",
        &[("x-webhook-signature", sign(auth))],
        auth,
    );
    assert_eq!(s, 200);
    let (s, ack) = http(
        port,
        "POST",
        "/v1/v1/webhooks/mastercard/clearing",
        &[("x-webhook-signature", sign(&seed))],
        &seed,
    );
    assert_eq!(s, 200);
    assert_eq!(ack["results"][0]["status"], "PENDING");
    let bearer = format!("Bearer {token}");
    let reconcile = r#"{"card_network":"MASTERCARD","card_hash":"47r45e73-7dwe-43f9-bk6b-5096F5reb5cd","reconciliation_reason":"month and day swapped","adjustments":[{"field":"transactionLocalDate","new_value":"2024-04-24"}]}"#;
    let (s, body) = http(
        port,
        "POST",
        "/v1/v1/clearing-reconciliation",
        &[("authorization", bearer.clone())],
        reconcile,
    );
    assert_eq!(
        (s, body["message"].as_str()),
        (
            202,
            Some("The message has been received and is being processed.")
        )
    );

    let deadline = Instant::now() + Duration::from_secs(20);
    let mut status = String::new();
    while Instant::now() < deadline && status != "MATCHED" {
        std::thread::sleep(Duration::from_millis(300));
        let (_, m) = http(
            port,
            "GET",
            "/v1/v1/clearing-messages/202404261024009777553",
            &[("authorization", bearer.clone())],
            "",
        );
        status = m["status"].as_str().unwrap_or_default().to_owned();
    }
    assert_eq!(status, "MATCHED", "the worker reconciled it");
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut saw_reconciled = false;
    while !saw_reconciled && Instant::now() < deadline {
        if let Ok(line) = lines.recv_timeout(Duration::from_millis(500)) {
            saw_reconciled = line.starts_with("event: clearing clearing_message.reconciled");
        }
    }
    assert!(saw_reconciled, "the reconciled event is shown");

    // Ctrl-C.
    Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(exit) = child.try_wait().unwrap() {
            assert!(exit.success(), "{exit:?}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "devstack up did not stop on Ctrl-C"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}
