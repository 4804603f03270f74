//! SQS queues of the template (dead-letter queues first, redrive resolved) and
//! the subscribers' queues.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_sqs::types::QueueAttributeName;

use super::{physical_name, QueueInfo};
use crate::template::{QueueSpec, Reference};
use crate::{DevstackError, LocalClients};

pub(super) async fn create_queue(
    clients: &LocalClients,
    prefix: &str,
    spec: &QueueSpec,
    provisioned: &BTreeMap<String, QueueInfo>,
) -> Result<QueueInfo, DevstackError> {
    let name = physical_name(
        prefix,
        &spec.logical,
        if spec.fifo { ".fifo" } else { "" },
        80,
        "queue",
    )?;
    let mut attributes: HashMap<QueueAttributeName, String> = spec
        .attributes
        .iter()
        .map(|(k, v)| (QueueAttributeName::from(k.as_str()), v.clone()))
        .collect();
    if spec.fifo {
        attributes.insert(QueueAttributeName::FifoQueue, "true".to_owned());
    }
    if let Some(redrive) = &spec.redrive {
        let dead_letter_arn = match &redrive.dead_letter_target {
            Reference::Literal(arn) => arn.clone(),
            Reference::Logical(dlq) => provisioned
                .get(dlq)
                .map(|q| q.arn.clone())
                // Cannot happen: queues come in dependency order, checked against the template.
                .ok_or_else(|| {
                    DevstackError::Template(format!(
                        "{}: dead-letter queue {dlq} not provisioned first",
                        spec.logical
                    ))
                })?,
        };
        attributes.insert(
            QueueAttributeName::RedrivePolicy,
            serde_json::json!({"deadLetterTargetArn": dead_letter_arn, "maxReceiveCount": redrive.max_receive_count})
                .to_string(),
        );
    }
    ensure_queue(clients, &name, attributes).await
}

/// Creates the queue, or brings an existing one to `attributes`; returns its URL and ARN.
pub(super) async fn ensure_queue(
    clients: &LocalClients,
    name: &str,
    attributes: HashMap<QueueAttributeName, String>,
) -> Result<QueueInfo, DevstackError> {
    let created = clients
        .sqs
        .create_queue()
        .queue_name(name)
        .set_attributes(Some(attributes.clone()))
        .send()
        .await;
    let url = match created {
        Ok(out) => {
            tracing::info!(queue = name, "created queue");
            out.queue_url
        }
        // Same name, other attributes (an earlier template): align the attributes.
        Err(e)
            if e.as_service_error().is_some_and(|s| {
                s.is_queue_name_exists()
                    || matches!(s.code(), Some("QueueAlreadyExists" | "QueueNameExists"))
            }) =>
        {
            let url = clients
                .sqs
                .get_queue_url()
                .queue_name(name)
                .send()
                .await
                .map_err(|e| clients.aws_error("sqs", "GetQueueUrl", name, e))?
                .queue_url;
            if let Some(url) = &url {
                let settable: HashMap<_, _> = attributes
                    .into_iter()
                    .filter(|(k, _)| *k != QueueAttributeName::FifoQueue)
                    .collect();
                if !settable.is_empty() {
                    clients
                        .sqs
                        .set_queue_attributes()
                        .queue_url(url)
                        .set_attributes(Some(settable))
                        .send()
                        .await
                        .map_err(|e| clients.aws_error("sqs", "SetQueueAttributes", name, e))?;
                }
            }
            tracing::info!(queue = name, "queue exists; attributes aligned");
            url
        }
        Err(e) => return Err(clients.aws_error("sqs", "CreateQueue", name, e)),
    };
    let url = url.ok_or_else(|| DevstackError::NotReady {
        resource: format!("queue {name}"),
        detail: "no queue URL returned".into(),
    })?;
    let arn = clients
        .sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(|e| clients.aws_error("sqs", "GetQueueAttributes", name, e))?
        .attributes
        .and_then(|mut a| a.remove(&QueueAttributeName::QueueArn))
        .ok_or_else(|| DevstackError::NotReady {
            resource: format!("queue {name}"),
            detail: "no QueueArn attribute".into(),
        })?;
    Ok(QueueInfo {
        name: name.to_owned(),
        url,
        arn,
    })
}
