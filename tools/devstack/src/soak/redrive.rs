//! After the system settles, what an operator does after an outage: move the
//! work queues' dead-letter messages back to their source queues (SQS's DLQ
//! redrive), and count what the stream's on-failure destination holds.
//!
//! A message reaches a dead-letter queue after `maxReceiveCount` failed
//! receives. Deployed, that is 5 x 180 s of outage; the soak's 10 s
//! visibility (decision 0025) makes it 5 x 10 s, shorter than some of its
//! faults. Redriving keeps such a message from counting as lost, and the
//! figures are printed, so the soak never hides where a message waited.

use aws_sdk_sqs::types::{MessageAttributeValue, MessageSystemAttributeName};

use crate::{DevstackError, LocalClients, QueueInfo};

/// A work queue and its dead-letter queue.
pub struct DeadLetters {
    pub source: QueueInfo,
    pub dead_letters: QueueInfo,
}

/// Moves every message of each dead-letter queue to its source queue, body
/// and attributes unchanged; returns how many moved per source queue.
pub async fn redrive(
    clients: &LocalClients,
    pairs: &[DeadLetters],
) -> Result<Vec<(String, usize)>, DevstackError> {
    let mut moved = Vec::new();
    for pair in pairs {
        moved.push((pair.source.name.clone(), move_all(clients, pair).await?));
    }
    Ok(moved)
}

async fn move_all(clients: &LocalClients, pair: &DeadLetters) -> Result<usize, DevstackError> {
    let sqs = &clients.sqs;
    let mut moved = 0;
    loop {
        let out = sqs
            .receive_message()
            .queue_url(&pair.dead_letters.url)
            .max_number_of_messages(10)
            .message_attribute_names("All")
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .visibility_timeout(60)
            .send()
            .await
            .map_err(|e| clients.aws_error("sqs", "ReceiveMessage", &pair.dead_letters.name, e))?;
        let messages = out.messages.unwrap_or_default();
        if messages.is_empty() {
            return Ok(moved);
        }
        for message in messages {
            let attributes: Option<std::collections::HashMap<String, MessageAttributeValue>> =
                message.message_attributes.clone();
            // Sent before the delete: a crash in between leaves a copy, which
            // the worker's idempotent handling absorbs; never a loss.
            sqs.send_message()
                .queue_url(&pair.source.url)
                .message_body(message.body().unwrap_or_default())
                .set_message_attributes(attributes)
                .send()
                .await
                .map_err(|e| clients.aws_error("sqs", "SendMessage", &pair.source.name, e))?;
            sqs.delete_message()
                .queue_url(&pair.dead_letters.url)
                .receipt_handle(message.receipt_handle().unwrap_or_default())
                .send()
                .await
                .map_err(|e| {
                    clients.aws_error("sqs", "DeleteMessage", &pair.dead_letters.name, e)
                })?;
            moved += 1;
        }
    }
}

/// Messages a queue holds, visible or in flight (None if it cannot be read).
pub async fn depth(clients: &LocalClients, queue: &QueueInfo) -> Option<i64> {
    use aws_sdk_sqs::types::QueueAttributeName as A;
    let out = clients
        .sqs
        .get_queue_attributes()
        .queue_url(&queue.url)
        .attribute_names(A::ApproximateNumberOfMessages)
        .attribute_names(A::ApproximateNumberOfMessagesNotVisible)
        .send()
        .await
        .ok()?;
    let attributes = out.attributes()?;
    let count = |name: A| {
        attributes
            .get(&name)
            .and_then(|v| v.parse::<i64>().ok())
            .unwrap_or(0)
    };
    Some(count(A::ApproximateNumberOfMessages) + count(A::ApproximateNumberOfMessagesNotVisible))
}
