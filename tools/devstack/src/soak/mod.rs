//! The fault soak (`devstack soak`, `./dev.sh soak`): the whole local system
//! under load while its AWS services fail, then a check that nothing was
//! lost, applied twice or left unannounced.
//!
//! - `stack.rs`: its own DynamoDB Local (on disk, so a kill keeps the data)
//!   and moto, on its own ports; the faults act on these processes only.
//! - `faults.rs`: kill -9 and restart of DynamoDB Local, SIGSTOP/SIGCONT of
//!   either service, at seeded random points (see decision 0024).
//! - `load.rs`: clearing and authorization notifications and operators'
//!   requests through the HTTP front, Pix inputs on the bus, retried as their
//!   senders would.
//! - `truth.rs`: what was sent and what was acknowledged.
//! - `checks.rs`: the table and the captured events against the truth.
//!
//! The system is the runner of `devstack up` ([`crate::run::run_on`]) in this
//! process, on clients with timeouts so that a stopped service is a failed
//! call, not a hang.

mod checks;
mod faults;
mod load;
mod plan;
mod redrive;
mod stack;
mod system;
mod truth;

use std::sync::{Arc, Mutex};

use std::time::{Duration, Instant};

use aws_config::timeout::TimeoutConfig;

pub use checks::{check, Counts, Observed};
pub use system::System;
pub use truth::Truth;

use crate::{DevstackError, LocalClients, LocalEndpoints};

/// The soak's own names: nothing of `devstack up` or the tests is touched.
const PREFIX: &str = "soak-";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SoakConfig {
    pub records: usize,
    pub seed: u64,
    pub dynamodb_port: u16,
    pub moto_port: u16,
    /// The HTTP front's port.
    pub port: u16,
    /// Mean seconds between two faults (0: no faults).
    pub fault_every_seconds: u64,
}

impl Default for SoakConfig {
    fn default() -> Self {
        Self {
            records: 10_000,
            seed: 1,
            dynamodb_port: 8107,
            moto_port: 5107,
            port: 3107,
            fault_every_seconds: 6,
        }
    }
}

/// The soak's result: its counts, and what they were computed from.
pub struct Report {
    pub records: usize,
    pub faults: usize,
    pub counts: Counts,
    pub truth: Truth,
    pub observed: Observed,
}

impl Report {
    /// The soak's last line.
    pub fn summary(&self) -> String {
        summary_line(self.records, self.faults, &self.counts)
    }
}

pub fn summary_line(records: usize, faults: usize, counts: &Counts) -> String {
    format!(
        "soak: {records} records, {faults} faults, lost {}, duplicated {}, unannounced {}",
        counts.lost, counts.duplicated, counts.unannounced
    )
}

/// A small seeded generator (SplitMix64): the same seed gives the same run plan.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next_u64() % n
        }
    }

    /// True with probability `percent`/100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            items.swap(i, j);
        }
    }
}

/// Clients on the soak's stack whose calls give up: 1 s to connect, 5 s per
/// attempt, 15 s per operation with the SDK's retries (a SIGSTOPped server
/// accepts connections and never answers).
pub async fn clients_with_timeouts(dynamodb_port: u16, moto_port: u16) -> LocalClients {
    let moto = format!("http://127.0.0.1:{moto_port}");
    let endpoints = LocalEndpoints {
        dynamodb: format!("http://127.0.0.1:{dynamodb_port}"),
        sqs: moto.clone(),
        eventbridge: moto.clone(),
        secretsmanager: moto,
    };
    let sdk = crate::local_sdk_config()
        .await
        .into_builder()
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(1))
                .operation_attempt_timeout(Duration::from_secs(5))
                .operation_timeout(Duration::from_secs(15))
                .build(),
        )
        .build();
    LocalClients::with(sdk, endpoints)
}

/// Moves what reached the work queues' dead-letter queues back (as an
/// operator does after an outage) and prints the figures; returns how many moved.
async fn redrive_dead_letters(
    clients: &LocalClients,
    system: &System,
) -> Result<usize, DevstackError> {
    let moved = redrive::redrive(clients, &system.dead_letters).await?;
    let total = moved.iter().map(|(_, n)| n).sum();
    let each: Vec<String> = moved.iter().map(|(q, n)| format!("{n} to {q}")).collect();
    println!(
        "soak: redriven {total} from the dead-letter queues ({})",
        each.join(", ")
    );
    let failures = redrive::depth(clients, &system.outbox_failures).await;
    println!("soak: the stream's on-failure queue holds {failures:?} batches");
    Ok(total)
}

/// Runs the soak: starts its stack, the system, the faults and the load;
/// waits for the system to settle; checks. The stack is stopped on return.
pub async fn run(config: SoakConfig) -> Result<Report, DevstackError> {
    println!(
        "soak: seed {} ({} records; DynamoDB Local :{}, moto :{}, front :{})",
        config.seed, config.records, config.dynamodb_port, config.moto_port, config.port
    );
    let started = Instant::now();
    let stack = Arc::new(tokio::sync::Mutex::new(
        stack::SoakStack::start(config.dynamodb_port, config.moto_port).await?,
    ));
    let clients = clients_with_timeouts(config.dynamodb_port, config.moto_port).await;
    let system = System::start(&clients, PREFIX, config.port).await?;
    let (table, bus, queues) = (&system.table, &system.bus, &system.queues);

    let events = Arc::new(Mutex::new(Vec::new()));
    let capturing = tokio::spawn(load::capture(
        clients.clone(),
        system.capture.clone(),
        events.clone(),
    ));
    let faults = faults::Faults::start(stack.clone(), config.seed, config.fault_every_seconds);
    let plan = plan::Plan::new(config.records, config.seed);
    let truth = load::drive(plan, config.port, &clients, bus).await;
    let fault_count = faults.stop().await;
    let truth = truth?;
    println!(
        "soak: load done in {:.0?} ({} faults); waiting for the system to settle",
        started.elapsed(),
        fault_count
    );
    load::settle(&clients, queues, &events).await;
    let redriven = redrive_dead_letters(&clients, &system).await?;
    if redriven > 0 {
        load::settle(&clients, queues, &events).await;
    }
    let observed = checks::observe(&clients, table, &truth, &events).await?;
    let (counts, problems) = check(&truth, &observed);
    for problem in problems.iter().take(20) {
        println!("soak: {problem}");
    }
    for line in observed.notes(&truth) {
        println!("soak: {line}");
    }
    capturing.abort();
    system.stop().await;
    stack.lock().await.stop().await;
    println!("soak: finished in {:.0?}", started.elapsed());
    Ok(Report {
        records: truth.records(),
        faults: fault_count,
        counts,
        truth,
        observed,
    })
}
