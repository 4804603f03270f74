//! The reprocessing work queue on SQS.

use async_trait::async_trait;
use aws_sdk_sqs::Client;

use crate::jobs::ReprocessingJob;
use crate::ports::{QueueError, WorkQueue};

#[derive(Clone)]
pub struct SqsWorkQueue {
    client: Client,
    queue_url: String,
}

impl SqsWorkQueue {
    pub fn new(client: Client, queue_url: impl Into<String>) -> Self {
        Self {
            client,
            queue_url: queue_url.into(),
        }
    }
}

#[async_trait]
impl WorkQueue for SqsWorkQueue {
    async fn enqueue(&self, job: &ReprocessingJob) -> Result<(), QueueError> {
        let body = serde_json::to_string(job).map_err(|e| QueueError(e.to_string()))?;
        self.client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(body)
            .message_attributes(
                "kind",
                aws_sdk_sqs::types::MessageAttributeValue::builder()
                    .data_type("String")
                    .string_value("reprocessing_job")
                    .build()
                    .map_err(|e| QueueError(e.to_string()))?,
            )
            .send()
            .await
            .map_err(|e| QueueError(format!("{e:?}").chars().take(400).collect()))?;
        Ok(())
    }
}
