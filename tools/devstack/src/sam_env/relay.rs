//! Relays that let `sam local`'s function containers reach the local stack.
//!
//! SAM runs each function in a container on Docker's default bridge network
//! (SAM CLI 1.170 publishes the emulator's port and, for `--docker-network
//! host`, only skips joining another network: the container keeps its own
//! loopback). A service the local stack binds to 127.0.0.1 (moto) is then out
//! of reach; one that binds every interface (DynamoDB Local) is reachable at
//! the bridge's gateway address already. A relay listens on the gateway
//! address, port for port, and forwards to loopback.

use std::net::IpAddr;

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use crate::{DevstackError, LocalEndpoints};

/// One forwarded port; the relay stops when this is dropped.
#[derive(Debug)]
pub struct Relay {
    pub listen: String,
    pub target: String,
    task: JoinHandle<()>,
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// `http://127.0.0.1:5000` -> (`127.0.0.1`, 5000).
fn host_port(url: &str) -> Option<(&str, u16)> {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split('/').next()?;
    let (host, port) = authority.rsplit_once(':')?;
    Some((host, port.parse().ok()?))
}

/// `url` with its host replaced by `host` (the endpoint as a container reaches it).
pub fn with_host(url: &str, host: &str) -> String {
    match (url.split_once("://"), host_port(url)) {
        (Some((scheme, rest)), Some((_, port))) => {
            let path = rest.find('/').map_or("", |i| &rest[i..]);
            format!("{scheme}://{host}:{port}{path}")
        }
        _ => url.to_owned(),
    }
}

/// Relays `host:port` to each distinct endpoint of `endpoints`, except where
/// `host:port` already answers (a service bound to every interface).
pub async fn relay_endpoints(
    host: IpAddr,
    endpoints: &LocalEndpoints,
) -> Result<Vec<Relay>, DevstackError> {
    let mut targets: Vec<(String, u16)> = Vec::new();
    let urls = [
        &endpoints.dynamodb,
        &endpoints.sqs,
        &endpoints.eventbridge,
        &endpoints.secretsmanager,
    ];
    for url in urls {
        let (target_host, port) = host_port(url).ok_or_else(|| relay_error(url, "no host:port"))?;
        if !targets.iter().any(|(_, p)| *p == port) {
            targets.push((target_host.to_owned(), port));
        }
    }
    let mut relays = Vec::new();
    for (target_host, port) in targets {
        let target = format!("{target_host}:{port}");
        let listener = match TcpListener::bind((host, port)).await {
            Ok(listener) => listener,
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
                if TcpStream::connect((host, port)).await.is_ok() {
                    continue;
                }
                return Err(relay_error(&format!("{host}:{port}"), &e.to_string()));
            }
            Err(e) => return Err(relay_error(&format!("{host}:{port}"), &e.to_string())),
        };
        let task = tokio::spawn(forward(listener, target.clone()));
        relays.push(Relay {
            listen: format!("{host}:{port}"),
            target,
            task,
        });
    }
    Ok(relays)
}

async fn forward(listener: TcpListener, target: String) {
    loop {
        let Ok((mut inbound, _)) = listener.accept().await else {
            continue;
        };
        let target = target.clone();
        tokio::spawn(async move {
            if let Ok(mut outbound) = TcpStream::connect(&target).await {
                let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
            }
        });
    }
}

fn relay_error(what: &str, detail: &str) -> DevstackError {
    DevstackError::Aws {
        service: "relay",
        message: format!("cannot relay {what}: {detail}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_rewritten_for_the_containers() {
        assert_eq!(
            with_host("http://127.0.0.1:5000", "172.17.0.1"),
            "http://172.17.0.1:5000"
        );
        assert_eq!(
            with_host("http://localhost:8000/x/y", "172.17.0.1"),
            "http://172.17.0.1:8000/x/y"
        );
        assert_eq!(with_host("not a url", "h"), "not a url");
    }

    #[tokio::test]
    async fn a_relay_forwards_and_a_reachable_port_is_left_alone() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let service = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = service.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = service.accept().await {
                let _ = s.write_all(b"pong").await;
            }
        });
        // The service itself answers on 127.0.0.1: nothing to relay there.
        let url = format!("http://127.0.0.1:{port}");
        let endpoints = LocalEndpoints {
            dynamodb: url.clone(),
            sqs: url.clone(),
            eventbridge: url.clone(),
            secretsmanager: url,
        };
        let loopback: IpAddr = "127.0.0.1".parse().unwrap();
        assert!(relay_endpoints(loopback, &endpoints)
            .await
            .unwrap()
            .is_empty());
        // Another local address (127.0.0.2 is loopback too on Linux) gets a relay.
        let other: IpAddr = "127.0.0.2".parse().unwrap();
        let relays = relay_endpoints(other, &endpoints).await.unwrap();
        assert_eq!(relays.len(), 1, "one relay per distinct port");
        let mut s = TcpStream::connect((other, port)).await.unwrap();
        let mut answer = String::new();
        s.read_to_string(&mut answer).await.unwrap();
        assert_eq!(answer, "pong");
    }
}
