//! The local run's tool (endpoints from `AWS_ENDPOINT_URL_*`, else 127.0.0.1:8000 / :5000):
//! - `devstack up [--port 3000] [--prefix local-]`: the whole system (see `run.rs`); Ctrl-C stops it.
//! - `devstack provision [--prefix P] [--template PATH] [--env-file PATH]`: only create the
//!   template's tables, queues, bus and rules; prints the `Provisioned` as JSON, and writes the
//!   functions' environment (KEY=VALUE lines, for `cargo lambda watch --env-file`) to PATH.
//! - `devstack soak [--records N] [--seed S]`: the fault soak (see `soak/`); its last line is
//!   the counts, its exit status non-zero when any is.
//! - `devstack sign FILE`: the X-Webhook-Signature header value for a body, with the local secret.
//! - `devstack token`: a dev operator token.
//! - `devstack expire-now [--prefix P]`: one authorization expiry sweep now, with the payload
//!   its schedule delivers; prints what it did (JSON).
//! - `devstack sample-events [--check]`: writes the sample events of `events/` (with
//!   `--check`, only says which differ from what it would write).
//!
//! The local secrets and token settings are those of `local/local.env`.

use std::path::PathBuf;
use std::process::ExitCode;

use devstack::{lambda_env, local_settings, provision, DevstackError, LocalClients, Template};
use shared::config::Env;

const USAGE: &str =
    "usage: devstack up [--port N] [--prefix P] | provision [--prefix P] [--template PATH] [--env-file PATH] | soak [--records N] [--seed S] | sign FILE | token | expire-now [--prefix P] | sample-events [--check]
  up                the three functions over the local stack; the HTTP API on http://127.0.0.1:N/<stage>/ (N: 3000 by default); Ctrl-C stops
  provision         create the template's tables, queues, bus and rules; print them (JSON) and the env lines
  --prefix P        physical names are {P}{LogicalId} (default: local-)
  --template PATH   the SAM template (default: template.yaml at the workspace root)
  --env-file PATH   write the functions' environment there (for `cargo lambda watch --env-file`)
  soak              the fault soak on its own DynamoDB Local (:8107) and moto (:5107), front on :3107;
                    --records N (10000), --seed S (from the clock), --faults-every SECONDS (6; 0: none)
  sign FILE         X-Webhook-Signature value for the body in FILE (local secret)
  token             a dev operator token
  expire-now        one authorization expiry sweep now (as its schedule invokes it); prints what it did
  sample-events     write events/'s samples (built as the HTTP front builds its payloads); --check: only compare
The local secrets and token settings come from local/local.env.";

#[derive(Debug, PartialEq)]
enum Command {
    Up {
        prefix: String,
        port: u16,
    },
    Provision {
        prefix: String,
        template: PathBuf,
        env_file: Option<PathBuf>,
    },
    Sign {
        file: PathBuf,
    },
    Token,
    ExpireNow {
        prefix: String,
    },
    Soak(devstack::soak::SoakConfig),
    SampleEvents {
        check: bool,
    },
}

fn parse_args(args: &[String]) -> Result<Command, String> {
    let mut rest = args.iter();
    let command = rest.next().map(String::as_str).ok_or("no command")?;
    let mut prefix = "local-".to_owned();
    let mut template = devstack::repo_root().join("template.yaml");
    let mut port: u16 = 3000;
    let mut env_file = None;
    let mut check = false;
    let mut positional = Vec::new();
    if command == "soak" {
        return parse_soak(&args[1..]).map(Command::Soak);
    }
    while let Some(arg) = rest.next() {
        let mut value = |flag: &str| {
            rest.next()
                .cloned()
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        match (command, arg.as_str()) {
            ("up" | "provision" | "expire-now", "--prefix") => prefix = value("--prefix")?,
            ("provision", "--template") => template = PathBuf::from(value("--template")?),
            ("provision", "--env-file") => env_file = Some(PathBuf::from(value("--env-file")?)),
            ("up", "--port") => {
                let text = value("--port")?;
                port = text
                    .parse()
                    .map_err(|_| format!("--port {text:?} is not a port number"))?;
            }
            ("sign", a) if !a.starts_with("--") => positional.push(a.to_owned()),
            ("sample-events", "--check") => check = true,
            (_, other) => return Err(format!("unknown argument {other:?} for {command}")),
        }
    }
    match command {
        "up" => Ok(Command::Up { prefix, port }),
        "provision" => Ok(Command::Provision {
            prefix,
            template,
            env_file,
        }),
        "sign" => match positional.as_slice() {
            [file] => Ok(Command::Sign {
                file: PathBuf::from(file),
            }),
            _ => Err("sign takes one FILE".to_owned()),
        },
        "token" => Ok(Command::Token),
        "expire-now" => Ok(Command::ExpireNow { prefix }),
        "sample-events" => Ok(Command::SampleEvents { check }),
        other => Err(format!("unknown command {other:?}")),
    }
}

fn parse_soak(args: &[String]) -> Result<devstack::soak::SoakConfig, String> {
    let mut config = devstack::soak::SoakConfig {
        seed: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_secs()),
        ..Default::default()
    };
    let mut rest = args.iter();
    while let Some(flag) = rest.next() {
        let text = rest.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let number = |what: &str| -> Result<u64, String> {
            text.parse()
                .map_err(|_| format!("{flag} {text:?} is not {what}"))
        };
        match flag.as_str() {
            "--records" => config.records = number("a number of records")? as usize,
            "--seed" => config.seed = number("a number")?,
            "--faults-every" => config.fault_every_seconds = number("a number of seconds")?,
            "--port" => {
                config.port = number("a port")?
                    .try_into()
                    .map_err(|_| "--port is not a port")?
            }
            "--dynamodb-port" => {
                config.dynamodb_port = number("a port")?
                    .try_into()
                    .map_err(|_| "--dynamodb-port is not a port")?
            }
            "--moto-port" => {
                config.moto_port = number("a port")?
                    .try_into()
                    .map_err(|_| "--moto-port is not a port")?
            }
            other => return Err(format!("unknown argument {other:?} for soak")),
        }
    }
    Ok(config)
}

/// The soak; its last line is the counts, and it fails when one is not zero.
async fn soak(config: devstack::soak::SoakConfig) -> ExitCode {
    // Ctrl-C drops the run, and with it the services it started.
    let outcome = tokio::select! {
        outcome = devstack::soak::run(config) => outcome,
        _ = tokio::signal::ctrl_c() => {
            eprintln!("devstack: soak interrupted");
            return ExitCode::from(130);
        }
    };
    match outcome {
        Ok(report) => {
            println!("{}", report.summary());
            if report.counts.all_zero() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("devstack: soak: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run_provision(prefix: &str, template: &PathBuf, env_file: Option<&PathBuf>) -> ExitCode {
    let result = async {
        let template = Template::load(template)?;
        let clients = LocalClients::new().await;
        let provisioned = provision(&template, prefix, &clients).await?;
        let env = lambda_env(&provisioned, &local_settings()?, &clients.endpoints)?;
        Ok::<_, DevstackError>((provisioned, env))
    }
    .await;
    let (provisioned, env) = match result {
        Ok(p) => p,
        Err(e) => {
            eprintln!("devstack: {e}");
            return ExitCode::FAILURE;
        }
    };
    match serde_json::to_string_pretty(&provisioned) {
        Ok(json) => println!("{json}"),
        Err(e) => {
            eprintln!("devstack: cannot print the result as JSON: {e}");
            return ExitCode::FAILURE;
        }
    }
    if let Some(path) = env_file {
        // Quoted: values such as `CN=clearing.mastercard.com` are not bare dotenv words.
        let text: String = env.iter().map(|(k, v)| format!("{k}='{v}'\n")).collect();
        if let Err(e) = std::fs::write(path, text) {
            eprintln!("devstack: {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
        eprintln!(
            "devstack: the functions' environment is in {}",
            path.display()
        );
    }
    ExitCode::SUCCESS
}

#[tokio::main]
async fn main() -> ExitCode {
    // The soak's faults make every function log errors by the hundred: it says
    // what counts itself (RUST_LOG still chooses).
    let default_log = if std::env::args().nth(1).as_deref() == Some("soak") {
        "off"
    } else {
        "warn"
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_log)),
        )
        .init();

    let argv: Vec<String> = std::env::args().skip(1).collect();
    if argv.iter().any(|a| a == "--help" || a == "-h") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let command = match parse_args(&argv) {
        Ok(command) => command,
        Err(e) => {
            eprintln!("devstack: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match command {
        Command::Provision {
            prefix,
            template,
            env_file,
        } => run_provision(&prefix, &template, env_file.as_ref()).await,
        Command::Up { prefix, port } => {
            let shutdown = async {
                let _ = tokio::signal::ctrl_c().await;
            };
            match devstack::run::run(devstack::run::RunConfig { prefix, port }, shutdown).await {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("devstack: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Soak(config) => soak(config).await,
        Command::Sign { file } => print_or_fail(sign(&file)),
        Command::Token => {
            print_or_fail(local_settings().and_then(|s| devstack::dev_token(&Env::from_pairs(s))))
        }
        Command::SampleEvents { check } => sample_events(check),
        Command::ExpireNow { prefix } => expire_now(&prefix).await,
    }
}

/// One expiry sweep on the local stack now, with its schedule's payload.
async fn expire_now(prefix: &str) -> ExitCode {
    let result = async {
        let template = Template::repo_default()?;
        let clients = LocalClients::new().await;
        let provisioned = provision(&template, prefix, &clients).await?;
        let env = Env::from_pairs(devstack::function_env(&provisioned, &local_settings()?)?);
        let sweep = authorization_expiry::ExpiryFunction::from_config(&env, &clients.aws())?;
        let spec = devstack::schedule::ScheduleSpec::of_function(
            &template,
            "AuthorizationExpiryFunction",
        )?;
        let payload = spec.payload(chrono::Utc::now());
        let invocation = authorization_expiry::ScheduleInvocation::read(&payload);
        authorization_expiry::sweep(&sweep, &invocation, chrono::Utc::now())
            .await
            .map_err(|e| DevstackError::Aws {
                service: "dynamodb",
                message: format!("the expiry sweep failed: {e}"),
            })
    }
    .await;
    match result {
        Ok(report) => {
            println!(
                "{}",
                serde_json::to_string_pretty(&report).unwrap_or_default()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("devstack: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Writes (or with `check`, compares) the sample events of `events/`.
fn sample_events(check: bool) -> ExitCode {
    use devstack::samples::{sample_events, stale_samples, write_samples};
    let dir = devstack::repo_root().join("events");
    let result = local_settings().and_then(|settings| {
        let samples = sample_events(
            &devstack::HttpApi::repo_default()?,
            &Env::from_pairs(settings),
        )?;
        let stale: Vec<String> = stale_samples(&dir, &samples)
            .into_iter()
            .map(str::to_owned)
            .collect();
        if !check {
            write_samples(&dir, &samples)?;
        }
        Ok(stale)
    });
    match result {
        Ok(stale) if stale.is_empty() => ExitCode::SUCCESS,
        Ok(stale) if check => {
            eprintln!(
                "devstack: stale sample events (run `devstack sample-events`): {}",
                stale.join(", ")
            );
            ExitCode::FAILURE
        }
        Ok(stale) => {
            println!("written: {}", stale.join(", "));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("devstack: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The X-Webhook-Signature value for the body in `file`, signed now with the local mastercard secret.
fn sign(file: &PathBuf) -> Result<String, DevstackError> {
    let body = std::fs::read(file).map_err(|source| DevstackError::Read {
        path: file.clone(),
        source,
    })?;
    let secret = devstack::signing_secret(&Env::from_pairs(local_settings()?), "mastercard")?;
    let now = chrono::Utc::now().timestamp();
    Ok(shared::webhook_auth::sign(&secret, now, &body))
}

fn print_or_fail(result: Result<String, DevstackError>) -> ExitCode {
    match result {
        Ok(text) => {
            println!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("devstack: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(list: &[&str]) -> Result<Command, String> {
        parse_args(&list.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn arguments() {
        match parse(&["provision"]) {
            Ok(Command::Provision {
                prefix,
                template,
                env_file: None,
            }) => {
                assert_eq!(prefix, "local-");
                assert!(template.ends_with("template.yaml"));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            parse(&[
                "provision",
                "--prefix",
                "x-",
                "--template",
                "/t.yaml",
                "--env-file",
                ".local/lambda.env"
            ]),
            Ok(Command::Provision {
                prefix: "x-".into(),
                template: "/t.yaml".into(),
                env_file: Some(".local/lambda.env".into())
            })
        );
        assert_eq!(
            parse(&["up"]),
            Ok(Command::Up {
                prefix: "local-".into(),
                port: 3000
            })
        );
        assert_eq!(
            parse(&["up", "--port", "4000", "--prefix", "p-"]),
            Ok(Command::Up {
                prefix: "p-".into(),
                port: 4000
            })
        );
        assert_eq!(
            parse(&["sign", "body.json"]),
            Ok(Command::Sign {
                file: "body.json".into()
            })
        );
        assert_eq!(parse(&["token"]), Ok(Command::Token));
        assert_eq!(
            parse(&["sample-events"]),
            Ok(Command::SampleEvents { check: false })
        );
        assert_eq!(
            parse(&["sample-events", "--check"]),
            Ok(Command::SampleEvents { check: true })
        );
        match parse(&[
            "soak",
            "--records",
            "2000",
            "--seed",
            "7",
            "--faults-every",
            "0",
        ]) {
            Ok(Command::Soak(config)) => {
                assert_eq!((config.records, config.seed), (2000, 7));
                assert_eq!(config.fault_every_seconds, 0);
                assert_eq!(
                    (config.dynamodb_port, config.moto_port, config.port),
                    (8107, 5107, 3107)
                );
            }
            other => panic!("{other:?}"),
        }
        for bad in [
            &["soak", "--records"][..],
            &["soak", "--records", "many"],
            &["soak", "--port", "70000"],
            &["soak", "--prefix", "x-"],
            &["provision", "--prefix"],
            &["provision", "--bogus"],
            &["provision", "--port", "1"],
            &["up", "--port", "http"],
            &["up", "--template", "t.yaml"],
            &["sign"],
            &["token", "extra"],
            &["sample-events", "--write"],
            &["deploy"],
            &[],
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }
}
