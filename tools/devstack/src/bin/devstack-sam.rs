//! What `sam local` needs to run the template's functions on the local stack
//! (`./dev.sh sam-local`, `./dev.sh sam-invoke`; see `devstack::sam_env`):
//!
//! - `devstack-sam [--prefix local-] [--dir .local/sam-local] [--binaries target/debug]
//!   [--template PATH] [--endpoint-host HOST]`: provisions the template's resources
//!   (as `devstack provision`) and writes the folder SAM runs from: the template
//!   pointing at the built binaries, and the `--env-vars` file. Prints both paths.
//! - `devstack-sam relay --host HOST`: relays HOST:port to each local stack
//!   endpoint bound to loopback, until Ctrl-C or SIGTERM.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use devstack::{container_env, lambda_env, local_settings, provision, relay_endpoints};
use devstack::{write_sam_local, DevstackError, LocalClients, LocalEndpoints, Template};

const USAGE: &str = "usage: devstack-sam [--prefix P] [--dir DIR] [--binaries DIR] [--template PATH] [--endpoint-host HOST]
       devstack-sam relay --host HOST
  --prefix P            physical names are {P}{LogicalId} (default: local-)
  --dir DIR             where to write template.yaml, env-vars.json and <LogicalId>/bootstrap (default: .local/sam-local)
  --binaries DIR        the cargo target folder holding the functions' binaries (default: target/debug)
  --template PATH       the SAM template (default: template.yaml at the workspace root)
  --endpoint-host HOST  the address the function containers reach the local stack at (default: as given to devstack)
  relay --host HOST     forward HOST:port to each local stack endpoint on loopback (Docker's bridge gateway)";

#[derive(Debug)]
enum Command {
    Write {
        prefix: String,
        dir: PathBuf,
        binaries: PathBuf,
        template: PathBuf,
        endpoint_host: Option<String>,
    },
    Relay {
        host: IpAddr,
    },
}

fn parse_args(argv: &[String]) -> Result<Command, String> {
    let root = devstack::repo_root();
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    let relay = argv.first().map(String::as_str) == Some("relay");
    let (mut prefix, mut dir) = ("local-".to_owned(), root.join(".local/sam-local"));
    let (mut binaries, mut template) = (target.join("debug"), root.join("template.yaml"));
    let (mut endpoint_host, mut host) = (None, None);
    let mut rest = argv.iter().skip(usize::from(relay));
    while let Some(flag) = rest.next() {
        let value = rest
            .next()
            .cloned()
            .ok_or_else(|| format!("{flag} needs a value"))?;
        match (relay, flag.as_str()) {
            (false, "--prefix") => prefix = value,
            (false, "--dir") => dir = value.into(),
            (false, "--binaries") => binaries = value.into(),
            (false, "--template") => template = value.into(),
            (false, "--endpoint-host") => endpoint_host = Some(value),
            (true, "--host") => {
                host = Some(
                    value
                        .parse()
                        .map_err(|_| format!("--host {value:?} is not an IP address"))?,
                )
            }
            (_, other) => return Err(format!("unknown argument {other:?}")),
        }
    }
    if relay {
        return Ok(Command::Relay {
            host: host.ok_or("relay needs --host")?,
        });
    }
    Ok(Command::Write {
        prefix,
        dir,
        binaries,
        template,
        endpoint_host,
    })
}

async fn write(
    prefix: &str,
    dir: &Path,
    binaries: &Path,
    template: &Path,
    endpoint_host: Option<&str>,
) -> Result<(), DevstackError> {
    let clients = LocalClients::new().await;
    let provisioned = provision(&Template::load(template)?, prefix, &clients).await?;
    let mut env = lambda_env(&provisioned, &local_settings()?, &clients.endpoints)?;
    if let Some(host) = endpoint_host {
        env = container_env(&env, host);
    }
    let out = write_sam_local(template, dir, binaries, &env)?;
    for name in &out.blanked {
        eprintln!("devstack-sam: {name}: the template resolves it from a secret when deployed; unset locally");
    }
    println!("template {}", out.template.display());
    println!("env-vars {}", out.env_vars.display());
    Ok(())
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

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    if argv.iter().any(|a| a == "--help" || a == "-h") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let result = match parse_args(&argv) {
        Ok(Command::Write {
            prefix,
            dir,
            binaries,
            template,
            endpoint_host,
        }) => {
            write(
                &prefix,
                &dir,
                &binaries,
                &template,
                endpoint_host.as_deref(),
            )
            .await
        }
        Ok(Command::Relay { host }) => relay(host).await,
        Err(e) => {
            eprintln!("devstack-sam: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("devstack-sam: {e}");
            ExitCode::FAILURE
        }
    }
}
