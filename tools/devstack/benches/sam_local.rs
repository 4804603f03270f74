//! The seed notification (`POST /v1/webhooks/mastercard/clearing`, signed)
//! through `sam local start-api` (`./dev.sh sam-local`: warm containers,
//! started by the first request to each function) and through `devstack up`
//! (the local front of `./dev.sh up`): the first request after start and the
//! warm ones, medians of several rounds, each round a fresh start of both.
//! Both run the functions' debug builds, the binaries `./dev.sh sam-local`
//! runs; `--profile dev` (see `./dev.sh sam-bench`) spares an optimized build
//! of a harness that only sends HTTP requests.
//!
//! `SAM_BENCH_ROUNDS` (default 5) rounds of `SAM_BENCH_WARM` (default 20) warm
//! requests, after one round not counted (it builds SAM's invoke image).
//! Needs the local stack; installs and starts Docker as `./dev.sh sam-local` does.

#[path = "../tests/sam_support/mod.rs"]
mod sam_support;

use std::time::{Duration, Instant};

use devstack::{local_settings, relay_endpoints, LocalEndpoints};
use sam_support::{build_functions, free_port, http, sam_cli, sam_folder, Docker, SamApi, Up};
use shared::config::Env;

fn setting(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// One signed delivery of the seed notification; its latency.
fn deliver(base: &str, body: &[u8], secret: &str) -> Duration {
    let signature = shared::webhook_auth::sign(secret, chrono::Utc::now().timestamp(), body);
    let headers = [("x-webhook-signature", signature)];
    let url = format!("{base}/v1/webhooks/mastercard/clearing");
    let start = Instant::now();
    let answer = http(&url, "POST", &headers, body);
    let took = start.elapsed();
    assert_eq!(
        answer.status,
        200,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    took
}

/// (first request, warm requests) against `base`.
fn round(base: &str, body: &[u8], secret: &str, warm: usize) -> (Duration, Vec<Duration>) {
    let first = deliver(base, body, secret);
    (
        first,
        (0..warm).map(|_| deliver(base, body, secret)).collect(),
    )
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values[values.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

fn main() {
    let (rounds, warm) = (
        setting("SAM_BENCH_ROUNDS", 5),
        setting("SAM_BENCH_WARM", 20),
    );
    let docker = Docker::ensure();
    build_functions();
    let (image, gateway, sam) = (docker.base_image(), docker.gateway(), sam_cli());
    let rt = tokio::runtime::Runtime::new().unwrap();
    let _relays = rt
        .block_on(relay_endpoints(gateway, &LocalEndpoints::from_env()))
        .unwrap();
    let tag = std::process::id();
    let dir =
        std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("sam-bench-{tag}"));
    let binaries = sam_support::target_dir().join("debug");
    let (_, _, folder) = rt.block_on(sam_folder(
        &format!("sambench{tag}-"),
        &dir,
        &binaries,
        gateway,
    ));
    let body = std::fs::read(
        sam_support::repo().join("spec/mastercard-clearing-notification.example.json"),
    )
    .unwrap();
    let secret =
        devstack::signing_secret(&Env::from_pairs(local_settings().unwrap()), "mastercard")
            .unwrap();

    let (mut sam_first, mut sam_warm, mut up_first, mut up_warm) = (vec![], vec![], vec![], vec![]);
    for n in 0..=rounds {
        let api = SamApi::start(&sam, &folder, &image, free_port());
        let (first, warm_times) = round(&api.base, &body, &secret, warm);
        drop(api);
        let up = Up::start(&format!("upbench{tag}-"));
        let (up_1, up_w) = round(&up.base, &body, &secret, warm);
        drop(up);
        eprintln!(
            "round {n}{}: sam local {} then {}; devstack up {} then {}",
            if n == 0 { " (not counted)" } else { "" },
            ms(first),
            ms(median(warm_times.clone())),
            ms(up_1),
            ms(median(up_w.clone()))
        );
        if n > 0 {
            sam_first.push(first);
            sam_warm.extend(warm_times);
            up_first.push(up_1);
            up_warm.extend(up_w);
        }
    }
    println!("seed notification, signed (POST /v1/webhooks/mastercard/clearing): medians of {rounds} rounds, {warm} warm requests each");
    println!(
        "  {:<44} {:>16} {:>14}",
        "", "first request", "warm request"
    );
    println!(
        "  {:<44} {:>16} {:>14}",
        "sam local start-api (container start)",
        ms(median(sam_first)),
        ms(median(sam_warm))
    );
    println!(
        "  {:<44} {:>16} {:>14}",
        "devstack up (./dev.sh up's front)",
        ms(median(up_first)),
        ms(median(up_warm))
    );
    let _ = std::fs::remove_dir_all(&dir);
    drop(docker);
}
