//! What the `sam local` conformance test and the `sam_local` bench share:
//! Docker (through `local/sam-local.sh`), `sam local start-api` and
//! `sam local invoke` over a folder written by `devstack::write_sam_local`,
//! `devstack up` (the local HTTP front), and a small HTTP client.
//! Needs the local stack (`./dev.sh test` starts it).

#![allow(dead_code)] // each of the test and the bench uses its own part

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{IpAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use devstack::{container_env, lambda_env, local_settings, provision, write_sam_local};
use devstack::{LocalClients, Provisioned, Template};

pub fn repo() -> PathBuf {
    devstack::repo_root()
}

/// The cargo target folder of this build.
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("target"))
}

/// Runs `local/sam-local.sh ARGS`; its stdout. Fails the test with the script's
/// own words when it cannot (e.g. Docker cannot be installed or started).
pub fn script(args: &[&str]) -> String {
    let out = Command::new(repo().join("local/sam-local.sh"))
        .args(args)
        .stderr(Stdio::inherit())
        .output()
        .unwrap_or_else(|e| panic!("local/sam-local.sh {args:?}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "local/sam-local.sh {args:?} failed ({}): {stdout}",
        out.status
    );
    stdout
}

fn last_line(text: &str) -> String {
    text.lines().last().unwrap_or_default().trim().to_owned()
}

/// Docker installed and its daemon answering; a daemon this guard started is
/// stopped when it is dropped (declare it first: dropped last).
pub struct Docker {
    started: bool,
}

impl Docker {
    pub fn ensure() -> Self {
        let state = last_line(&script(&["docker"]));
        Self {
            started: state == "dockerd started",
        }
    }

    /// The base image `sam local` builds its invoke image on (built if missing).
    pub fn base_image(&self) -> String {
        last_line(&script(&["image"]))
    }

    /// The address the function containers reach this machine at.
    pub fn gateway(&self) -> IpAddr {
        let text = last_line(&script(&["gateway"]));
        text.parse().unwrap_or_else(|_| panic!("gateway {text:?}"))
    }
}

impl Drop for Docker {
    fn drop(&mut self) {
        if self.started {
            script(&["docker-stop"]);
        }
    }
}

/// The pinned SAM CLI (installed if missing).
pub fn sam_cli() -> PathBuf {
    let tools = repo().join("local/lambda-tools.sh");
    let ok = Command::new(&tools).arg("install").status().unwrap();
    assert!(ok.success(), "local/lambda-tools.sh install");
    let bin = Command::new(&tools).arg("bin").output().unwrap();
    PathBuf::from(String::from_utf8_lossy(&bin.stdout).trim()).join("sam")
}

/// The functions' binaries (debug, as `./dev.sh sam-local` runs them): every
/// `Binary` the template names, as `local/sam-local.sh` packs them.
pub fn build_functions() {
    let template = std::fs::read_to_string(repo().join("template.yaml")).unwrap();
    let packages: Vec<&str> = template
        .lines()
        .filter_map(|l| l.trim().strip_prefix("Binary:"))
        .map(str::trim)
        .collect();
    assert!(!packages.is_empty(), "the template names its binaries");
    let status = Command::new(env!("CARGO"))
        .arg("build")
        .args(packages.iter().flat_map(|p| ["-p", p]))
        .current_dir(repo())
        .status()
        .unwrap();
    assert!(status.success(), "the functions build");
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A fresh copy of the template's resources under `prefix`, and the folder
/// `sam local` runs from in `dir` (`binaries` holds each function's binary).
pub async fn sam_folder(
    prefix: &str,
    dir: &Path,
    binaries: &Path,
    gateway: IpAddr,
) -> (LocalClients, Provisioned, PathBuf) {
    let clients = LocalClients::new().await;
    let template = Template::repo_default().unwrap();
    let provisioned = provision(&template, prefix, &clients).await.unwrap();
    let env = lambda_env(&provisioned, &local_settings().unwrap(), &clients.endpoints).unwrap();
    let env = container_env(&env, &gateway.to_string());
    let template = repo().join("template.yaml");
    let out = write_sam_local(&template, dir, binaries, &env).unwrap();
    (clients, provisioned, out.dir)
}

/// `sam local start-api` over a folder written by `write_sam_local`; stopped
/// (SIGTERM: SAM removes its containers) when dropped.
pub struct SamApi {
    child: Child,
    pub base: String,
    log: PathBuf,
}

impl SamApi {
    pub fn start(sam: &Path, dir: &Path, image: &str, port: u16) -> Self {
        let log = dir.join("sam-start-api.log");
        let file = std::fs::File::create(&log).unwrap();
        let child = Command::new(sam)
            .args(["local", "start-api", "--host", "127.0.0.1", "--port"])
            .arg(port.to_string())
            .args(["--warm-containers", "LAZY"])
            .args(sam_folder_args(dir, image))
            .env("SAM_CLI_TELEMETRY", "0")
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .spawn()
            .unwrap();
        let mut api = Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
            log,
        };
        api.wait_ready(port);
        api
    }

    fn wait_ready(&mut self, port: u16) {
        let deadline = Instant::now() + Duration::from_secs(120);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(exit)) = self.child.try_wait() {
                panic!("sam local start-api exited ({exit}): {}", self.log_text());
            }
            assert!(
                Instant::now() < deadline,
                "sam local start-api did not listen: {}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for SamApi {
    fn drop(&mut self) {
        stop(&mut self.child, "-TERM", Duration::from_secs(30));
    }
}

fn sam_folder_args(dir: &Path, image: &str) -> Vec<String> {
    [
        "-t",
        &dir.join("template.yaml").display().to_string(),
        "--env-vars",
        &dir.join("env-vars.json").display().to_string(),
        "--invoke-image",
        image,
        "--skip-pull-image",
    ]
    .map(str::to_owned)
    .to_vec()
}

/// Sends `signal` (as `kill` names it), waits up to `grace`, then kills.
fn stop(child: &mut Child, signal: &str, grace: Duration) {
    let _ = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status();
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// `sam local invoke FUNCTION -e EVENT` over a folder; the function's answer (stdout) as JSON.
pub fn sam_invoke(
    sam: &Path,
    dir: &Path,
    image: &str,
    function: &str,
    event: &Path,
) -> serde_json::Value {
    let out = Command::new(sam)
        .args(["local", "invoke", function, "-e"])
        .arg(event)
        .args(sam_folder_args(dir, image))
        .env("SAM_CLI_TELEMETRY", "0")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "sam local invoke {function} -e {}: {}\n{stdout}\n{}",
        event.display(),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{function}: {e}: {stdout}"))
}

/// `devstack up` (the local HTTP front of `./dev.sh up`) on its own prefix;
/// Ctrl-C (SIGINT) when dropped.
pub struct Up {
    child: Child,
    /// The HTTP API's base URL as `devstack up` prints it (its `HTTP API` line).
    pub base: String,
    pub token: String,
}

impl Up {
    pub fn start(prefix: &str) -> Self {
        let port = free_port();
        let mut child = Command::new(env!("CARGO_BIN_EXE_devstack"))
            .args(["up", "--port", &port.to_string(), "--prefix", prefix])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, lines) = mpsc::channel::<String>();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let (mut base, mut token) = (String::new(), String::new());
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let line = lines
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                .expect("devstack up prints `ready`");
            if let Some(rest) = line.strip_prefix("HTTP API") {
                let url = rest.split_whitespace().find(|w| w.starts_with("http://"));
                base = url.unwrap_or_default().trim_end_matches('/').to_owned();
            }
            if let Some(t) = line.strip_prefix("dev token") {
                token = t.trim().to_owned();
            }
            if line.starts_with("ready:") {
                break;
            }
        }
        assert!(
            !base.is_empty() && !token.is_empty(),
            "devstack up printed its URL and a token"
        );
        Self { child, base, token }
    }
}

impl Drop for Up {
    fn drop(&mut self) {
        stop(&mut self.child, "-INT", Duration::from_secs(15));
    }
}

/// An HTTP answer: status, content type, body bytes.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub content_type: String,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|_| {
            serde_json::Value::String(String::from_utf8_lossy(&self.body).into_owned())
        })
    }
}

/// One HTTP/1.1 request on its own connection (`connection: close`).
pub fn http(url: &str, method: &str, headers: &[(&str, String)], body: &[u8]) -> Answer {
    let rest = url.strip_prefix("http://").expect("http:// URL");
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let path = if path.is_empty() { "/" } else { path };
    let mut stream = TcpStream::connect(authority).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(120)))
        .unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nhost: {authority}\r\nconnection: close\r\ncontent-length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    parse_response(&raw)
}

fn parse_response(raw: &[u8]) -> Answer {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("HTTP head");
    let head = String::from_utf8_lossy(&raw[..split]);
    let mut body = raw[split + 4..].to_vec();
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    let header = |name: &str| {
        head.lines()
            .filter_map(|l| l.split_once(':'))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim().to_owned())
    };
    if let Some(length) = header("content-length").and_then(|l| l.parse().ok()) {
        body.truncate(length);
    }
    Answer {
        status,
        content_type: header("content-type").unwrap_or_default(),
        body,
    }
}

/// `value` with what legitimately differs between two runs of the same
/// requests on two stacks replaced by placeholders: RFC 3339 instants
/// (`received_at`, history `at`, ...), UUIDs (request and event ids) and
/// paging cursors (opaque; they carry the arrival instant).
pub fn normalize(value: &serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    let cursor = |k: &str, v: &Value| v.is_string() && k.to_ascii_lowercase().contains("cursor");
    match value {
        Value::String(s) if chrono::DateTime::parse_from_rfc3339(s).is_ok() => "<instant>".into(),
        Value::String(s) if is_uuid(s) => "<uuid>".into(),
        Value::Array(items) => items.iter().map(normalize).collect(),
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| match cursor(k, v) {
                true => (k.clone(), "<cursor>".into()),
                false => (k.clone(), normalize(v)),
            })
            .collect(),
        other => other.clone(),
    }
}

fn is_uuid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12])
        && groups
            .iter()
            .all(|g| g.chars().all(|c| c.is_ascii_hexdigit()))
}
