//! After the system settles, what an operator does after an outage: move the
//! work queues' dead-letter messages back to their source queues (SQS's DLQ
//! redrive), and count what the stream's on-failure destination holds.
//!
//! A message reaches a dead-letter queue after `maxReceiveCount` failed
//! receives. Deployed, that is 5 x 180 s of outage; the soak's 10 s
//! visibility (decision 0025) makes it 5 x 10 s, shorter than some of its
//! faults. Redriving keeps such a message from counting as lost, and the
//! figures are printed, so the soak never hides where a message waited.

use aws_sdk_sqs::types::MessageSystemAttributeName;

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
            // Sent before the delete: a crash in between leaves a copy, which
            // the worker's idempotent handling absorbs; never a loss.
            sqs.send_message()
                .queue_url(&pair.source.url)
                .message_body(message.body().unwrap_or_default())
                .set_message_attributes(message.message_attributes.clone())
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

#[cfg(test)]
mod tests {
    use super::*;

    async fn queue(clients: &LocalClients, name: &str) -> QueueInfo {
        let url = clients
            .sqs
            .create_queue()
            .queue_name(name)
            .send()
            .await
            .unwrap()
            .queue_url
            .unwrap();
        QueueInfo {
            name: name.to_owned(),
            arn: format!("arn:aws:sqs:us-east-1:123456789012:{name}"),
            url,
        }
    }

    /// Needs moto (the local stack): every dead letter lands on its source
    /// queue with its body and attributes, and the dead-letter queue is empty.
    #[tokio::test]
    async fn every_dead_letter_goes_back_to_its_source_queue_unchanged() {
        let clients = LocalClients::new().await;
        let run = uuid::Uuid::new_v4().simple().to_string();
        let pair = DeadLetters {
            source: queue(&clients, &format!("redrive-src-{run}")).await,
            dead_letters: queue(&clients, &format!("redrive-dlq-{run}")).await,
        };
        let attribute = aws_sdk_sqs::types::MessageAttributeValue::builder()
            .data_type("String")
            .string_value("close")
            .build()
            .unwrap();
        for n in 0..13 {
            clients
                .sqs
                .send_message()
                .queue_url(&pair.dead_letters.url)
                .message_body(format!("{{\"n\":{n}}}"))
                .message_attributes("kind", attribute.clone())
                .send()
                .await
                .unwrap();
        }
        let moved = redrive(&clients, std::slice::from_ref(&pair))
            .await
            .unwrap();
        assert_eq!(moved, vec![(pair.source.name.clone(), 13)]);
        assert_eq!(depth(&clients, &pair.dead_letters).await, Some(0));
        let mut bodies = Vec::new();
        while bodies.len() < 13 {
            let out = clients
                .sqs
                .receive_message()
                .queue_url(&pair.source.url)
                .max_number_of_messages(10)
                .message_attribute_names("All")
                .send()
                .await
                .unwrap();
            let messages = out.messages.unwrap_or_default();
            assert!(!messages.is_empty(), "only {} came back", bodies.len());
            for m in messages {
                assert_eq!(m.message_attributes.unwrap()["kind"], attribute);
                bodies.push(m.body.unwrap());
            }
        }
        bodies.sort();
        let mut expected: Vec<String> = (0..13).map(|n| format!("{{\"n\":{n}}}")).collect();
        expected.sort();
        assert_eq!(bodies, expected);
    }
}
