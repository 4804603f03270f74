//! The system under soak, started: the runner of `devstack up` on the soak's
//! clients, a capture queue on its bus, and the work queues' visibility
//! shortened once the runner has provisioned them.

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::run::{run_on, Output, RunConfig};
use crate::{add_subscriber, provision, DevstackError, LocalClients, QueueInfo, Template};

use super::redrive::DeadLetters;
use super::{load, stack};

pub struct System {
    pub table: String,
    pub bus: String,
    /// Every event the bus delivers (`source` clearing or pix).
    pub capture: QueueInfo,
    /// The queues the worker consumes: reprocessing jobs, Pix inputs.
    pub queues: [QueueInfo; 2],
    /// Each work queue with its dead-letter queue.
    pub dead_letters: Vec<DeadLetters>,
    /// The stream's on-failure destination (batches the publisher gave up on).
    pub outbox_failures: QueueInfo,
    runner: JoinHandle<Result<(), DevstackError>>,
    stop: oneshot::Sender<()>,
}

impl System {
    /// Provisions under `prefix`, starts the runner with its front on `port`
    /// and returns once the front answers.
    pub async fn start(
        clients: &LocalClients,
        prefix: &str,
        port: u16,
    ) -> Result<Self, DevstackError> {
        let template = Template::repo_default()?;
        let provisioned = provision(&template, prefix, clients).await?;
        let table = provisioned.table("ClearingTable")?.to_owned();
        let bus = provisioned.bus("ReconciliationBus")?.to_owned();
        let capture = add_subscriber(
            clients,
            &bus,
            &serde_json::json!({"source": ["clearing", "pix"]}),
            &format!("{prefix}Capture"),
        )
        .await?;
        let queues = [
            provisioned.queue("ReprocessingQueue")?.clone(),
            provisioned.queue("PixInputQueue")?.clone(),
        ];
        let dead_letters = [
            ("ReprocessingQueue", "ReprocessingDeadLetterQueue"),
            ("PixInputQueue", "PixInputDeadLetterQueue"),
        ]
        .into_iter()
        .map(|(source, dead_letters)| {
            Ok(DeadLetters {
                source: provisioned.queue(source)?.clone(),
                dead_letters: provisioned.queue(dead_letters)?.clone(),
            })
        })
        .collect::<Result<Vec<_>, DevstackError>>()?;
        let outbox_failures = provisioned.queue("OutboxFailureQueue")?.clone();
        let (stop, stopped) = oneshot::channel::<()>();
        let runner = tokio::spawn(run_on(
            clients.clone(),
            RunConfig {
                prefix: prefix.to_owned(),
                port,
            },
            Output::Quiet,
            async {
                let _ = stopped.await;
            },
        ));
        let system = Self {
            table,
            bus,
            capture,
            queues,
            dead_letters,
            outbox_failures,
            runner,
            stop,
        };
        if let Err(e) = load::wait_for_front(port, &system.runner).await {
            system.stop().await;
            return Err(e);
        }
        // Only now: the runner provisions the template's queues itself, which
        // brings their visibility timeout back to the template's 180 s; a
        // message failed during a fault would then wait 3 minutes, longer than
        // the soak waits for the system to settle.
        stack::shorten_visibility(clients, &system.queues, &system.capture).await?;
        Ok(system)
    }

    /// Stops the runner and waits for it.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.runner.await;
    }
}
