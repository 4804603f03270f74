//! The console's browser tests' harness: the whole local system in this
//! process (`devstack::run::run`, as `./dev.sh up` runs it, on a free port
//! and its own resource prefix on the local stack), and headless Chromium
//! from the system packages driven over WebDriver (chromedriver, fantoccini).
//! `local/browser.sh install` installs Chromium when it is missing
//! (`./dev.sh test` runs it).

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use devstack::run::{run, RunConfig};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};
use shared::config::Env;
use tokio::sync::oneshot;

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One HTTP/1.1 exchange on its own connection: status and body text.
pub fn http(
    port: u16,
    method: &str,
    target: &str,
    headers: &[(&str, String)],
    body: &str,
) -> (u16, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut request = format!(
        "{method} {target} HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\ncontent-length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let response = String::from_utf8_lossy(&response).into_owned();
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_owned();
    (status, body)
}

/// The local system (the three functions over the local stack) in this process.
pub struct System {
    pub port: u16,
    pub prefix: String,
    pub settings: Env,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl System {
    pub async fn start(name: &str) -> Self {
        let port = free_port();
        let prefix = format!("{name}{}-", &uuid::Uuid::new_v4().simple().to_string()[..8]);
        let (stop, stopped) = oneshot::channel::<()>();
        let config = RunConfig {
            prefix: prefix.clone(),
            port,
        };
        let task = tokio::spawn(async move {
            if let Err(e) = run(config, async {
                let _ = stopped.await;
            })
            .await
            {
                panic!("devstack run: {e}");
            }
        });
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let ready = TcpStream::connect(("127.0.0.1", port)).is_ok()
                && http(port, "GET", "/console/config.json", &[], "").0 == 200;
            if ready {
                break;
            }
            assert!(Instant::now() < deadline, "the local system did not start");
            assert!(!task.is_finished(), "the local system stopped");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        Self {
            port,
            prefix,
            settings: Env::from_pairs(devstack::local_settings().unwrap()),
            stop: Some(stop),
            task: Some(task),
        }
    }

    pub fn table(&self) -> String {
        format!("{}ClearingTable", self.prefix)
    }

    /// The console's URL through the custom-domain view, signed in with `token`.
    pub fn console_url(&self, token: &str, page: &str) -> String {
        format!(
            "http://127.0.0.1:{}/console/#token={token}&then={}",
            self.port,
            encode(page)
        )
    }

    pub fn token(&self, subject: &str) -> String {
        devstack::operator_token(&self.settings, subject, devstack::ALL_SCOPES).unwrap()
    }

    /// A signed notification to the webhook (`clearing` or `authorizations`); 200 expected.
    pub fn notify(&self, kind: &str, body: &str) -> Value {
        let secret = devstack::signing_secret(&self.settings, "mastercard").unwrap();
        let signature =
            shared::webhook_auth::sign(&secret, chrono::Utc::now().timestamp(), body.as_bytes());
        let (status, text) = http(
            self.port,
            "POST",
            &format!("/v1/v1/webhooks/mastercard/{kind}"),
            &[
                ("content-type", "application/json".into()),
                ("x-webhook-signature", signature),
            ],
            body,
        );
        assert_eq!(status, 200, "{kind}: {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    /// An API call through the execute-api view; (status, JSON body).
    pub fn api(&self, token: &str, method: &str, path: &str, body: &str) -> (u16, Value) {
        let (status, text) = http(
            self.port,
            method,
            &format!("/v1{path}"),
            &[
                ("authorization", format!("Bearer {token}")),
                ("content-type", "application/json".into()),
            ],
            body,
        );
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// Every message of a list query, all pages.
    pub fn list_all(&self, token: &str, query: &str) -> Vec<Value> {
        let mut items = Vec::new();
        let mut cursor = String::new();
        loop {
            let path = format!("/v1/clearing-messages?{query}&limit=100{cursor}");
            let (status, page) = self.api(token, "GET", &path, "");
            assert_eq!(status, 200, "{path}: {page}");
            items.extend(page["items"].as_array().cloned().unwrap_or_default());
            match page["next_cursor"].as_str().or(page["nextCursor"].as_str()) {
                Some(next) => cursor = format!("&cursor={}", encode(next)),
                None => return items,
            }
        }
    }

    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
        }
    }
}

pub fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// An authorization notification with `(transUid, card, amount)` entries (USD, MCC 4111).
pub fn authorizations(entries: &[(String, String, String)]) -> String {
    let items: Vec<String> = entries
        .iter()
        .map(|(uid, card, amount)| {
            format!(
                r#"{{"transUid": "{uid}", "cardReference": "{card}", "financialNetworkCode": "MCF",
                   "referenceNumber": "REF{uid}", "settlementDate": "2024-04-26", "transactionAmount": {amount},
                   "transactionCurrency": "USD", "merchantCategoryCode": "4111",
                   "authorizationDateTime": "2024-04-24T16:00:00Z", "status": "APPROVED"}}"#
            )
        })
        .collect();
    format!(r#"{{"authorizations": [{}]}}"#, items.join(","))
}

/// A valid clearing record (JSON object text).
pub fn clearing_record(id: &str, trans_uid: &str, card: &str, amount: &str) -> String {
    let card = Value::from(card).to_string();
    format!(
        r#"{{"cardReference": {card}, "referenceNumber": "REF{trans_uid}", "transactionAmount": {amount},
            "transactionCurrency": "USD", "transactionLocalDate": "2024-04-24", "transactionLocalTime": "16:01:00",
            "settlementDate": "2024-04-26", "transactionType": "05", "merchantName": "CENTRA",
            "cardAcceptorCity": "NEW YORK", "cardAcceptorState": "NY", "merchantCountryCode": "USA",
            "merchantCategoryCode": "4111", "acquirerId": "123456", "transUid": "{trans_uid}",
            "cardholderAmount": {amount}, "cardholderCurrency": "USD", "financialNetworkCode": "MCF",
            "processDate": "2024-04-25", "clearingUniqueId": "{id}", "functionCode": "200",
            "messageReasonCode": "1401", "banknetDate": "0424"}}"#
    )
}

/// `count` clearing records without an authorization yet (PENDING
/// AUTHORIZATION_NOT_FOUND once notified), each on its own card: (id, transUid, card, amount).
pub fn pending_batch(tag: &str, count: usize) -> Vec<(String, String, String, String)> {
    (0..count)
        .map(|i| {
            let cents = 1000 + i * 7;
            (
                format!("{tag}{i:04}"),
                format!("{tag}U{i:04}"),
                format!("card-{tag}-{i:04}"),
                format!("{}.{:02}", cents / 100, cents % 100),
            )
        })
        .collect()
}

/// Notifies `records` in batches of 25.
pub fn notify_records(system: &System, records: &[(String, String, String, String)]) {
    for chunk in records.chunks(25) {
        let body: Vec<String> = chunk
            .iter()
            .map(|(id, uid, card, amount)| clearing_record(id, uid, card, amount))
            .collect();
        system.notify(
            "clearing",
            &format!(r#"{{"clearing": [{}]}}"#, body.join(",")),
        );
    }
}

/// Headless Chromium through chromedriver, at 1280 x 900.
pub struct Browser {
    pub client: Client,
    driver: Child,
    pub downloads: PathBuf,
}

impl Browser {
    pub async fn start() -> Self {
        for tool in ["chromium", "chromedriver"] {
            assert!(
                Command::new(tool)
                    .arg("--version")
                    .stdout(Stdio::null())
                    .status()
                    .is_ok(),
                "{tool} is missing: run local/browser.sh install (./dev.sh test does)"
            );
        }
        let port = free_port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not listen");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let downloads =
            std::env::temp_dir().join(format!("console-dl-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&downloads).unwrap();
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--window-size=1280,900", "--lang=en-US"],
                "prefs": {
                    "download.default_directory": downloads.to_string_lossy(),
                    "download.prompt_for_download": false,
                },
            },
        });
        let Value::Object(capabilities) = capabilities else {
            unreachable!()
        };
        let client = ClientBuilder::rustls()
            .expect("TLS roots")
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("a WebDriver session");
        Self {
            client,
            driver,
            downloads,
        }
    }

    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.unwrap();
    }

    /// The text of the first element matching `css` once `ready` holds for it (20 s at most).
    pub async fn wait_text(&self, css: &str, ready: impl Fn(&str) -> bool) -> String {
        self.wait_text_for(css, Duration::from_secs(20), ready)
            .await
    }

    pub async fn wait_text_for(
        &self,
        css: &str,
        wait: Duration,
        ready: impl Fn(&str) -> bool,
    ) -> String {
        let deadline = Instant::now() + wait;
        let mut last = String::new();
        loop {
            if let Ok(element) = self.client.find(Locator::Css(css)).await {
                if let Ok(text) = element.text().await {
                    if ready(&text) {
                        return text;
                    }
                    last = text;
                }
            }
            if Instant::now() > deadline {
                let status = self.text("#status").await;
                panic!(
                    "{css}: not ready after {wait:?}; last text {last:?}; status line {status:?}"
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn text(&self, css: &str) -> String {
        match self.client.find(Locator::Css(css)).await {
            Ok(e) => e.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        }
    }

    pub async fn count(&self, css: &str) -> usize {
        self.client
            .find_all(Locator::Css(css))
            .await
            .map_or(0, |v| v.len())
    }

    pub async fn click(&self, css: &str) {
        self.client
            .wait()
            .at_most(Duration::from_secs(20))
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"))
            .click()
            .await
            .unwrap_or_else(|e| panic!("click {css}: {e}"));
    }

    pub async fn fill(&self, css: &str, text: &str) {
        let element = self
            .client
            .wait()
            .at_most(Duration::from_secs(20))
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"));
        element.clear().await.unwrap();
        element.send_keys(text).await.unwrap();
    }

    /// A screenshot of the page into docs/console/NAME.png (shown in the README).
    pub async fn screenshot(&self, name: &str) {
        let png = self.client.screenshot().await.unwrap();
        // Into .local/ so a test run leaves the tree clean; SCREENSHOTS_DIR=docs/console
        // refreshes the README's pictures.
        let dir = devstack::repo_root().join(
            std::env::var("SCREENSHOTS_DIR")
                .unwrap_or_else(|_| ".local/console-screenshots".into()),
        );
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
    }

    /// The file the page downloaded (waits for it to be complete).
    pub async fn downloaded(&self) -> PathBuf {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let done: Vec<PathBuf> = std::fs::read_dir(&self.downloads)
                .unwrap()
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| !p.to_string_lossy().ends_with(".crdownload"))
                .collect();
            if let [file] = done.as_slice() {
                return file.clone();
            }
            assert!(
                Instant::now() < deadline,
                "no download in {}",
                self.downloads.display()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    pub async fn close(self) {
        let _ = self.client.clone().close().await;
        let _ = std::fs::remove_dir_all(&self.downloads);
    }
}

/// A test that panics never reaches `close`: its chromedriver (and the
/// browser it started, which ends with it) is stopped here.
impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// RFC 4180 rows (quoted cells, doubled quotes, CRLF or LF line ends).
pub fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let (mut row, mut cell, mut quoted) = (Vec::new(), String::new(), false);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cell.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => row.push(std::mem::take(&mut cell)),
            ('\r', false) => {}
            ('\n', false) => {
                row.push(std::mem::take(&mut cell));
                rows.push(std::mem::take(&mut row));
            }
            (c, _) => cell.push(c),
        }
    }
    if !cell.is_empty() || !row.is_empty() {
        row.push(cell);
        rows.push(row);
    }
    rows
}

pub fn repo_path(relative: &str) -> PathBuf {
    Path::new(&devstack::repo_root()).join(relative)
}
