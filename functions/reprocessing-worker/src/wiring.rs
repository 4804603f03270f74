//! The worker built from its configuration, in one place: the Lambda `main`,
//! the local runner and the tests all call [`WorkerService::from_config`].

use std::sync::Arc;

use shared::adapters::{AwsClients, DynamoDbClearingStore};
use shared::config::{rules_in_force, ConfigError, Env};

use crate::{SourceQueues, WorkerService};

impl WorkerService {
    /// `TABLE_NAME`, the ARNs of the two queues it consumes
    /// (`REPROCESSING_QUEUE_ARN`, `PIX_INPUT_QUEUE_ARN`), and `MATCHING_RULES` and
    /// `RULES_CACHE_SECONDS` (optional; see [`rules_in_force`]).
    pub fn from_config(env: &Env, clients: &AwsClients) -> Result<Self, ConfigError> {
        let queues = SourceQueues {
            jobs: env.required("REPROCESSING_QUEUE_ARN")?,
            pix_inputs: env.required("PIX_INPUT_QUEUE_ARN")?,
        };
        let store = Arc::new(DynamoDbClearingStore::new(
            clients.dynamodb(),
            env.required("TABLE_NAME")?,
        ));
        Ok(Self {
            rules: Arc::new(rules_in_force(env, store.clone())?),
            store: store.clone(),
            pix: store,
            queues,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_worker_knows_its_two_queues() {
        let clients = AwsClients::from_environment().await.unwrap();
        let settings = [
            ("TABLE_NAME", "t-ClearingTable"),
            ("REPROCESSING_QUEUE_ARN", "arn:jobs"),
            ("PIX_INPUT_QUEUE_ARN", "arn:pix"),
        ];
        let worker = WorkerService::from_config(&Env::from_pairs(settings), &clients).unwrap();
        assert_eq!(
            worker.queues,
            SourceQueues {
                jobs: "arn:jobs".into(),
                pix_inputs: "arn:pix".into()
            }
        );
        for missing in [
            "REPROCESSING_QUEUE_ARN",
            "PIX_INPUT_QUEUE_ARN",
            "TABLE_NAME",
        ] {
            let env = Env::from_pairs(settings.iter().filter(|(k, _)| *k != missing).copied());
            let e = WorkerService::from_config(&env, &clients).err().unwrap();
            assert!(e.to_string().contains(missing), "{e}");
        }
    }
}
