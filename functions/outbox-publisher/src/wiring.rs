//! The publisher built from its configuration, in one place: the Lambda
//! `main`, the local runner and the tests all call [`PublisherService::from_config`].

use std::sync::Arc;

use shared::adapters::{AwsClients, EventBridgeBus, SqsWorkQueue};
use shared::config::{ConfigError, Env};

use crate::PublisherService;

impl PublisherService {
    /// `EVENT_BUS_NAME` and `REPROCESSING_QUEUE_URL`.
    pub fn from_config(env: &Env, clients: &AwsClients) -> Result<Self, ConfigError> {
        Ok(Self {
            bus: Arc::new(EventBridgeBus::new(
                clients.eventbridge(),
                env.required("EVENT_BUS_NAME")?,
            )),
            queue: Arc::new(SqsWorkQueue::new(
                clients.sqs(),
                env.required("REPROCESSING_QUEUE_URL")?,
            )),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_publisher_names_a_missing_setting() {
        let clients = AwsClients::from_environment().await.unwrap();
        let settings = [
            ("EVENT_BUS_NAME", "t-ReconciliationBus"),
            ("REPROCESSING_QUEUE_URL", "http://localhost/q"),
        ];
        assert!(PublisherService::from_config(&Env::from_pairs(settings), &clients).is_ok());
        for missing in ["EVENT_BUS_NAME", "REPROCESSING_QUEUE_URL"] {
            let env = Env::from_pairs(settings.iter().filter(|(k, _)| *k != missing).copied());
            let e = PublisherService::from_config(&env, &clients).err().unwrap();
            assert!(e.to_string().contains(missing), "{e}");
        }
    }
}
