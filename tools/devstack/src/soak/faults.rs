//! Outages of the soak's services at seeded random points, each one of what
//! an AWS outage looks like to a client (decision 0024):
//! - DynamoDB Local killed -9 and restarted from its files after a while:
//!   connections refused, then everything it acknowledged is there;
//! - DynamoDB Local or moto stopped (SIGSTOP) and continued: connections
//!   accepted and never answered, calls time out; nothing is lost.
//!
//! moto is never killed: it keeps queues, rules and messages in memory only,
//! and AWS never loses an accepted SQS message or EventBridge event.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Mutex;
use tokio::task::JoinHandle;

use super::stack::{Service, SoakStack};
use super::Rng;

pub struct Faults {
    stop: Arc<AtomicBool>,
    task: Option<JoinHandle<usize>>,
    stack: Arc<Mutex<SoakStack>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    KillDynamoDb,
    Pause(Service),
}

impl Faults {
    /// Starts injecting faults, one every `every_seconds` on average (none when 0).
    pub fn start(stack: Arc<Mutex<SoakStack>>, seed: u64, every_seconds: u64) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let task = (every_seconds > 0).then(|| {
            let (stop, stack) = (stop.clone(), stack.clone());
            tokio::spawn(inject(stack, Rng::new(seed ^ 0xFA17), every_seconds, stop))
        });
        Self { stop, task, stack }
    }

    /// Ends the current fault (services answering again) and returns how many there were.
    pub async fn stop(mut self) -> usize {
        self.stop.store(true, Ordering::SeqCst);
        let count = match self.task.take() {
            Some(task) => task.await.unwrap_or(0),
            None => 0,
        };
        let mut stack = self.stack.lock().await;
        stack.resume(Service::DynamoDb);
        stack.resume(Service::Moto);
        if !stack.dynamodb_running() {
            if let Err(e) = stack.start_dynamodb().await {
                eprintln!("soak: {e}");
            }
        }
        count
    }
}

async fn inject(
    stack: Arc<Mutex<SoakStack>>,
    mut rng: Rng,
    every_seconds: u64,
    stop: Arc<AtomicBool>,
) -> usize {
    let mut count = 0;
    loop {
        // Uniform between half and one and a half times the mean, in 100 ms steps.
        let wait = every_seconds * 500 + rng.below(every_seconds * 1000);
        if sleep_unless_stopped(Duration::from_millis(wait), &stop).await {
            return count;
        }
        let fault = match rng.below(10) {
            0..=3 => Fault::KillDynamoDb,
            4..=6 => Fault::Pause(Service::DynamoDb),
            _ => Fault::Pause(Service::Moto),
        };
        let outage = Duration::from_millis(500 + rng.below(4_000));
        count += 1;
        println!("soak: fault {count}: {fault:?} for {outage:.1?}");
        match fault {
            Fault::KillDynamoDb => {
                stack.lock().await.kill_dynamodb().await;
                tokio::time::sleep(outage).await;
                if let Err(e) = stack.lock().await.start_dynamodb().await {
                    eprintln!("soak: restarting DynamoDB Local: {e}");
                }
            }
            Fault::Pause(service) => {
                stack.lock().await.pause(service);
                tokio::time::sleep(outage).await;
                stack.lock().await.resume(service);
            }
        }
    }
}

/// Sleeps `duration`; true if `stop` was set meanwhile.
async fn sleep_unless_stopped(duration: Duration, stop: &AtomicBool) -> bool {
    let step = Duration::from_millis(100);
    let mut slept = Duration::ZERO;
    while slept < duration {
        if stop.load(Ordering::SeqCst) {
            return true;
        }
        tokio::time::sleep(step).await;
        slept += step;
    }
    stop.load(Ordering::SeqCst)
}
