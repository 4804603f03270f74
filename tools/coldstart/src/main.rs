//! Cold-start figures of each function beside a bare `lambda_runtime`
//! hello-world built with the same (release) profile, in the same run:
//! time from process start to its first request to the Lambda Runtime API,
//! peak memory (VmHWM) at that moment, and the stripped binary size.
//! Targets: at most 1.5x the hello-world's start time, at most 32 MB.
//!
//! The webhook and the API read their secrets from Secrets Manager during
//! init, before their first `next`, so their start includes that request:
//! here it goes to a fake Secrets Manager on loopback (no network latency,
//! no TLS: what is measured is the function's own work for it).
//!
//! Run: `./dev.sh bench`, or `cargo build --release -p hello-lambda` (on its
//! own, so that it stays bare), then `cargo build --release -p clearing-webhook
//! -p reconciliation-api -p reprocessing-worker` and `cargo run --release -p coldstart`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const ROUNDS: usize = 41;
const FUNCTIONS: [&str; 4] = [
    "hello-lambda",
    "clearing-webhook",
    "reconciliation-api",
    "reprocessing-worker",
];

const WEBHOOK_SECRETS_ARN: &str =
    "arn:aws:secretsmanager:us-east-1:123456789012:secret:coldstart-webhook-AbCdEf";
const JWT_SIGNING_KEY_SECRET_ARN: &str =
    "arn:aws:secretsmanager:us-east-1:123456789012:secret:coldstart-jwt-AbCdEf";

/// The secret values the fake Secrets Manager holds, by ARN.
fn secret_value(arn: &str) -> Option<&'static str> {
    match arn {
        WEBHOOK_SECRETS_ARN => Some(r#"{"mastercard": ["coldstart"]}"#),
        JWT_SIGNING_KEY_SECRET_ARN => Some("coldstart"),
        _ => None,
    }
}

/// A fake Secrets Manager on loopback: answers GetSecretValue for the ARNs
/// above, each connection on its own thread, for the life of the process.
fn fake_secrets_manager() -> Result<SocketAddr, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || serve_secrets(stream));
        }
    });
    Ok(addr)
}

fn serve_secrets(stream: TcpStream) {
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    // Requests on a kept-alive connection, until the function exits.
    loop {
        let mut length = 0usize;
        let mut line = String::new();
        loop {
            line.clear();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let request: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        let arn = request["SecretId"].as_str().unwrap_or_default();
        let (status, answer) = match secret_value(arn) {
            Some(value) => (
                200,
                serde_json::json!({"ARN": arn, "Name": arn, "SecretString": value}),
            ),
            None => (
                400,
                serde_json::json!({"__type": "ResourceNotFoundException", "message": arn}),
            ),
        };
        let answer = answer.to_string();
        let response = format!(
            "HTTP/1.1 {status} X\r\ncontent-type: application/x-amz-json-1.1\r\ncontent-length: {}\r\n\r\n{answer}",
            answer.len()
        );
        if writer.write_all(response.as_bytes()).is_err() {
            return;
        }
    }
}

struct Sample {
    start: Duration,
    peak_kb: u64,
}

/// `binary` as Lambda starts it: the runtime API at `runtime_api`, the
/// functions' settings, secrets by ARN from `secrets_manager`.
fn function_command(
    binary: &Path,
    runtime_api: SocketAddr,
    secrets_manager: SocketAddr,
) -> Command {
    let mut command = Command::new(binary);
    command
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", runtime_api.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", "coldstart")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "coldstart")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "coldstart")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "local")
        .env("AWS_SECRET_ACCESS_KEY", "local")
        .env("TABLE_NAME", "coldstart-table")
        .env("EVENT_BUS_NAME", "coldstart-bus")
        .env("REPROCESSING_QUEUE_URL", "http://127.0.0.1:9/queue")
        .env(
            "REPROCESSING_QUEUE_ARN",
            "arn:aws:sqs:us-east-1:123456789012:coldstart-jobs",
        )
        .env(
            "PIX_INPUT_QUEUE_ARN",
            "arn:aws:sqs:us-east-1:123456789012:coldstart-pix",
        )
        .env("JWT_ISSUER", "https://auth.local/")
        .env("JWT_AUDIENCE", "clearing-reconciliation-api")
        .env("JWT_SIGNING_KEY_SECRET_ARN", JWT_SIGNING_KEY_SECRET_ARN)
        .env("WEBHOOK_SECRETS_ARN", WEBHOOK_SECRETS_ARN)
        .env(
            "AWS_ENDPOINT_URL_SECRETS_MANAGER",
            format!("http://{secrets_manager}"),
        )
        .env("RUST_LOG", "error")
        .stdout(Stdio::null());
    command
}

/// Before timing: `binary` reaches its first `next` (a function that fails
/// its init would leave the timed runs waiting forever); else its stderr.
fn preflight(binary: &Path, secrets_manager: SocketAddr) -> Result<(), String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    listener.set_nonblocking(true).map_err(|e| e.to_string())?;
    let mut child = function_command(binary, addr, secrets_manager)
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("{}: {e}", binary.display()))?;
    let deadline = Instant::now() + Duration::from_secs(20);
    let outcome = loop {
        if listener.accept().is_ok() {
            break Ok(());
        }
        if let Ok(Some(status)) = child.try_wait() {
            let mut stderr = String::new();
            if let Some(mut pipe) = child.stderr.take() {
                let _ = pipe.read_to_string(&mut stderr);
            }
            break Err(format!("exited ({status}) before its first next: {stderr}"));
        }
        if Instant::now() > deadline {
            break Err("no first next within 20 s".to_owned());
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let _ = child.kill();
    let _ = child.wait();
    outcome
}

/// Starts `binary` against a fake Runtime API and times its first `next` request.
fn one_start(binary: &Path, secrets_manager: SocketAddr) -> Result<Sample, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let started = Instant::now();
    let mut child = function_command(binary, addr, secrets_manager)
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("{}: {e}", binary.display()))?;
    listener.set_nonblocking(false).map_err(|e| e.to_string())?;
    let (stream, _) = listener.accept().map_err(|e| e.to_string())?;
    let mut line = String::new();
    BufReader::new(&stream)
        .read_line(&mut line)
        .map_err(|e| e.to_string())?;
    let start = started.elapsed();
    if !line.contains("/runtime/invocation/next") {
        return Err(format!("unexpected first request: {line}"));
    }
    let status =
        std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap_or_default();
    let peak_kb = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0);
    let _ = child.kill();
    let _ = child.wait();
    Ok(Sample { start, peak_kb })
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Copies the four binaries into a fresh directory and returns it. The linker
/// writes its output through a memory map, which leaves the file in the page
/// cache in small pieces; a freshly linked binary then takes more page faults
/// per start than the same bytes copied (measured: the hello-world 1.73 ms
/// linked against 1.55 ms copied, same run), and whichever binary was linked
/// last would be penalised. Copies put all four in the same state, that of
/// an unpacked deployment package.
fn copied_binaries(built: &Path) -> Result<PathBuf, String> {
    let dir = std::env::temp_dir().join(format!("coldstart-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for name in FUNCTIONS {
        std::fs::copy(built.join(name), dir.join(name))
            .map_err(|e| format!("{name}: {e} (build it with cargo build --release -p {name})"))?;
    }
    Ok(dir)
}

fn main() {
    let built = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/release");
    let (dir, secrets_manager) =
        match copied_binaries(&built).and_then(|dir| Ok((dir, fake_secrets_manager()?))) {
            Ok(ready) => ready,
            Err(e) => {
                eprintln!("{e}");
                std::process::exit(1);
            }
        };
    for name in FUNCTIONS {
        if let Err(e) = preflight(&dir.join(name), secrets_manager) {
            eprintln!("{name}: {e}");
            let _ = std::fs::remove_dir_all(&dir);
            std::process::exit(1);
        }
    }
    println!("cold start, {ROUNDS} rounds (median), release profile, x86_64 here:");
    // Rounds interleave the binaries (hello, webhook, api, worker, hello, ...) so
    // that whatever else the machine does in a moment weighs on all of them alike.
    let mut starts: Vec<Vec<Duration>> = vec![Vec::new(); FUNCTIONS.len()];
    let mut peaks = vec![0u64; FUNCTIONS.len()];
    for _ in 0..ROUNDS {
        for (i, name) in FUNCTIONS.iter().enumerate() {
            match one_start(&dir.join(name), secrets_manager) {
                Ok(s) => {
                    starts[i].push(s.start);
                    peaks[i] = peaks[i].max(s.peak_kb);
                }
                Err(e) => {
                    eprintln!("{name}: {e}");
                    let _ = std::fs::remove_dir_all(&dir);
                    std::process::exit(1);
                }
            }
        }
    }
    println!(
        "{:<22} {:>12} {:>9} {:>14} {:>12}",
        "function", "start", "vs hello", "peak memory", "binary"
    );
    let base = median(starts[0].clone());
    for (i, name) in FUNCTIONS.iter().enumerate() {
        let size = std::fs::metadata(dir.join(name))
            .map(|m| m.len())
            .unwrap_or(0);
        let start = median(starts[i].clone());
        println!(
            "{:<22} {:>9.2} ms {:>8.2}x {:>11.1} MB {:>9.1} MB",
            name,
            start.as_secs_f64() * 1e3,
            start.as_secs_f64() / base.as_secs_f64(),
            peaks[i] as f64 / 1024.0,
            size as f64 / 1_048_576.0
        );
    }
    println!("targets: start <= 1.5x hello-lambda, peak memory <= 32 MB");
    let _ = std::fs::remove_dir_all(&dir);
}
