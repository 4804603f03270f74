//! What `sam local` needs to run the template's functions on the local stack
//! (`./dev.sh sam-local`, `./dev.sh sam-invoke`; see `devstack::sam_env`):
//!
//! - `devstack-sam [--prefix local-] [--dir .local/sam-local] [--binaries target/debug]
//!   [--template PATH] [--endpoint-host HOST]`: provisions the template's resources
//!   (as `devstack provision`) and writes the folder SAM runs from: the template
//!   pointing at the built binaries, and the `--env-vars` file. Prints both paths.
//! - `devstack-sam relay --host HOST`: relays HOST:port to each local stack
//!   endpoint bound to loopback, until Ctrl-C or SIGTERM.
//! - `devstack-sam sqs-event QUEUE [--prefix local-]`: takes the messages
//!   waiting on the template's queue QUEUE (logical id) and prints them as the
//!   SQS event Lambda delivers, for `sam local invoke -e` (SAM runs no event source).

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use aws_lambda_events::event::sqs::SqsEvent;
use devstack::{container_env, lambda_env, local_settings, provision, relay_endpoints};
use devstack::{write_sam_local, DevstackError, LocalClients, LocalEndpoints, Template};

const USAGE: &str = "usage: devstack-sam [--prefix P] [--dir DIR] [--binaries DIR] [--template PATH] [--endpoint-host HOST]
       devstack-sam relay --host HOST
       devstack-sam sqs-event QUEUE [--prefix P]
  --prefix P            physical names are {P}{LogicalId} (default: local-)
  --dir DIR             where to write template.yaml, env-vars.json and <LogicalId>/bootstrap (default: .local/sam-local)
  --binaries DIR        the cargo target folder holding the functions' binaries (default: target/debug)
  --template PATH       the SAM template (default: template.yaml at the workspace root)
  --endpoint-host HOST  the address the function containers reach the local stack at (default: as given to devstack)
  relay --host HOST     forward HOST:port to each local stack endpoint on loopback (Docker's bridge gateway)
  sqs-event QUEUE       take the messages on the template's queue QUEUE (e.g. ReprocessingQueue) off it and
                        print them as the SQS event Lambda delivers (for sam local invoke -e)";

#[derive(Debug, Default)]
struct Args {
    prefix: Option<String>,
    dir: Option<PathBuf>,
    binaries: Option<PathBuf>,
    template: Option<PathBuf>,
    endpoint_host: Option<String>,
    host: Option<IpAddr>,
    positional: Vec<String>,
}

fn parse_args(argv: &[String]) -> Result<(String, Args), String> {
    let command = match argv.first().map(String::as_str) {
        Some(c @ ("relay" | "sqs-event")) => c.to_owned(),
        _ => "write".to_owned(),
    };
    let mut args = Args::default();
    let mut rest = argv.iter().skip(usize::from(command != "write"));
    while let Some(arg) = rest.next() {
        if !arg.starts_with("--") {
            args.positional.push(arg.clone());
            continue;
        }
        let value = rest
            .next()
            .cloned()
            .ok_or_else(|| format!("{arg} needs a value"))?;
        match (command.as_str(), arg.as_str()) {
            ("write" | "sqs-event", "--prefix") => args.prefix = Some(value),
            ("write", "--dir") => args.dir = Some(value.into()),
            ("write", "--binaries") => args.binaries = Some(value.into()),
            ("write", "--template") => args.template = Some(value.into()),
            ("write", "--endpoint-host") => args.endpoint_host = Some(value),
            ("relay", "--host") => {
                let host = value
                    .parse()
                    .map_err(|_| format!("--host {value:?} is not an IP address"))?;
                args.host = Some(host);
            }
            (_, other) => return Err(format!("unknown argument {other:?} for {command}")),
        }
    }
    if command == "relay" && args.host.is_none() {
        return Err("relay needs --host".into());
    }
    let positional = if command == "sqs-event" { 1 } else { 0 };
    if args.positional.len() != positional {
        return Err(format!("unexpected arguments {:?}", args.positional));
    }
    Ok((command, args))
}

async fn write(args: &Args) -> Result<(), DevstackError> {
    let root = devstack::repo_root();
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    let template = args
        .template
        .clone()
        .unwrap_or_else(|| root.join("template.yaml"));
    let dir = args
        .dir
        .clone()
        .unwrap_or_else(|| root.join(".local/sam-local"));
    let binaries = args
        .binaries
        .clone()
        .unwrap_or_else(|| target.join("debug"));
    let clients = LocalClients::new().await;
    let provisioned = provision(&Template::load(&template)?, prefix(args), &clients).await?;
    let mut env = lambda_env(&provisioned, &local_settings()?, &clients.endpoints)?;
    if let Some(host) = &args.endpoint_host {
        env = container_env(&env, host);
    }
    let out = write_sam_local(&template, &dir, &binaries, &env)?;
    for name in &out.blanked {
        eprintln!("devstack-sam: {name}: the template resolves it from a secret when deployed; unset locally");
    }
    println!("template {}", out.template.display());
    println!("env-vars {}", out.env_vars.display());
    Ok(())
}

fn prefix(args: &Args) -> &str {
    args.prefix.as_deref().unwrap_or("local-")
}

async fn relay(host: IpAddr) -> Result<(), DevstackError> {
    let relays = relay_endpoints(host, &LocalEndpoints::from_env()).await?;
    for r in &relays {
        println!("relay {} -> {}", r.listen, r.target);
    }
    println!("ready");
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| DevstackError::Aws {
            service: "relay",
            message: format!("cannot wait for SIGTERM: {e}"),
        })?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    Ok(())
}

/// The messages on `queue` as one SQS event; they leave the queue, as the
/// event source deletes a batch the function has taken.
async fn sqs_event(queue: &str, args: &Args) -> Result<(), DevstackError> {
    let clients = LocalClients::new().await;
    let provisioned = provision(&Template::repo_default()?, prefix(args), &clients).await?;
    let queue = provisioned.queue(queue)?;
    let batch = devstack::receive_batch(&clients, queue, None).await?;
    if batch.is_empty() {
        return Err(DevstackError::Aws {
            service: "sqs",
            message: format!("no message waiting on {}", queue.name),
        });
    }
    let mut event = SqsEvent::default();
    event.records = batch.clone();
    println!(
        "{}",
        serde_json::to_string_pretty(&event).unwrap_or_default()
    );
    devstack::delete_batch(&clients, queue, &batch).await
}

async fn run(command: &str, args: &Args) -> Result<(), DevstackError> {
    match command {
        "relay" => relay(args.host.expect("parse_args requires --host")).await,
        "sqs-event" => sqs_event(&args.positional[0], args).await,
        _ => write(args).await,
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    if argv.iter().any(|a| a == "--help" || a == "-h") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let (command, args) = match parse_args(&argv) {
        Ok(parsed) => parsed,
        Err(e) => {
            eprintln!("devstack-sam: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(&command, &args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("devstack-sam: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(list: &[&str]) -> Result<(String, Args), String> {
        parse_args(&list.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn arguments() {
        let (command, args) = parse(&["--prefix", "p-", "--endpoint-host", "172.17.0.1"]).unwrap();
        assert_eq!((command.as_str(), prefix(&args)), ("write", "p-"));
        assert_eq!(args.endpoint_host.as_deref(), Some("172.17.0.1"));
        let (command, args) = parse(&["relay", "--host", "172.17.0.1"]).unwrap();
        assert_eq!(
            (command.as_str(), args.host),
            ("relay", Some("172.17.0.1".parse().unwrap()))
        );
        let (command, args) = parse(&["sqs-event", "ReprocessingQueue"]).unwrap();
        assert_eq!(
            (command.as_str(), args.positional.as_slice(), prefix(&args)),
            ("sqs-event", &["ReprocessingQueue".to_owned()][..], "local-")
        );
        for bad in [
            &["--prefix"][..],
            &["relay"],
            &["relay", "--host", "nowhere"],
            &["relay", "--dir", "d"],
            &["sqs-event"],
            &["sqs-event", "A", "B"],
            &["extra"],
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }
}
