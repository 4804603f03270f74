//! DynamoDB tables of the template, with their indexes; an existing table
//! with another definition is reported, never reused.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType,
    LocalSecondaryIndex, Projection, ProjectionType, ScalarAttributeType, StreamSpecification,
    StreamViewType, TableStatus,
};

use crate::template::{IndexSpec, TableSpec};
use crate::{DevstackError, LocalClients};

fn key_schema(
    owner: &str,
    keys: &[(String, String)],
) -> Result<Vec<KeySchemaElement>, DevstackError> {
    keys.iter()
        .map(|(attribute, key_type)| {
            let key_type = match key_type.as_str() {
                "HASH" => KeyType::Hash,
                "RANGE" => KeyType::Range,
                other => {
                    return Err(DevstackError::Template(format!(
                        "{owner}: KeyType {other} (HASH or RANGE)"
                    )))
                }
            };
            KeySchemaElement::builder()
                .attribute_name(attribute)
                .key_type(key_type)
                .build()
                .map_err(|e| DevstackError::build(owner, e))
        })
        .collect()
}

fn projection(owner: &str, index: &IndexSpec) -> Result<Projection, DevstackError> {
    let projection_type = match index.projection_type.as_str() {
        "ALL" => ProjectionType::All,
        "KEYS_ONLY" => ProjectionType::KeysOnly,
        "INCLUDE" => ProjectionType::Include,
        other => {
            return Err(DevstackError::Template(format!(
                "{owner} index {}: ProjectionType {other} (ALL, KEYS_ONLY or INCLUDE)",
                index.name
            )))
        }
    };
    let non_key = (!index.non_key_attributes.is_empty()).then(|| index.non_key_attributes.clone());
    Ok(Projection::builder()
        .projection_type(projection_type)
        .set_non_key_attributes(non_key)
        .build())
}

pub(super) async fn create_table(
    clients: &LocalClients,
    spec: &TableSpec,
    name: &str,
) -> Result<(), DevstackError> {
    let owner = spec.logical.as_str();
    let attributes = spec
        .attribute_definitions
        .iter()
        .map(|(attribute, kind)| {
            let kind = match kind.as_str() {
                "S" => ScalarAttributeType::S,
                "N" => ScalarAttributeType::N,
                "B" => ScalarAttributeType::B,
                other => {
                    return Err(DevstackError::Template(format!(
                        "{owner}: AttributeType {other} (S, N or B)"
                    )))
                }
            };
            AttributeDefinition::builder()
                .attribute_name(attribute)
                .attribute_type(kind)
                .build()
                .map_err(|e| DevstackError::build(owner, e))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut request = clients
        .dynamodb
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .set_attribute_definitions(Some(attributes))
        .set_key_schema(Some(key_schema(owner, &spec.key_schema)?));
    for index in &spec.global_secondary_indexes {
        request = request.global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(&index.name)
                .set_key_schema(Some(key_schema(owner, &index.key_schema)?))
                .projection(projection(owner, index)?)
                .build()
                .map_err(|e| DevstackError::build(owner, e))?,
        );
    }
    for index in &spec.local_secondary_indexes {
        request = request.local_secondary_indexes(
            LocalSecondaryIndex::builder()
                .index_name(&index.name)
                .set_key_schema(Some(key_schema(owner, &index.key_schema)?))
                .projection(projection(owner, index)?)
                .build()
                .map_err(|e| DevstackError::build(owner, e))?,
        );
    }
    if let Some(view) = &spec.stream_view_type {
        request = request.stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::from(view.as_str()))
                .build()
                .map_err(|e| DevstackError::build(owner, e))?,
        );
    }
    match request.send().await {
        Ok(created) => {
            tracing::info!(table = name, "created table");
            let active = created.table_description().and_then(|d| d.table_status())
                == Some(&TableStatus::Active);
            if !active {
                wait_table_active(clients, name).await?;
            }
            Ok(())
        }
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_in_use_exception()) =>
        {
            check_existing_table(clients, spec, name).await?;
            tracing::info!(table = name, "table exists");
            wait_table_active(clients, name).await
        }
        Err(e) => Err(clients.aws_error("dynamodb", "CreateTable", name, e)),
    }
}

/// An existing table must have the template's keys and indexes (say so rather
/// than let the tests fail on a missing index).
async fn check_existing_table(
    clients: &LocalClients,
    spec: &TableSpec,
    name: &str,
) -> Result<(), DevstackError> {
    let described = clients
        .dynamodb
        .describe_table()
        .table_name(name)
        .send()
        .await
        .map_err(|e| clients.aws_error("dynamodb", "DescribeTable", name, e))?;
    let table = described.table().ok_or_else(|| DevstackError::NotReady {
        resource: format!("table {name}"),
        detail: "DescribeTable returned no description".into(),
    })?;
    let keys = |ks: &[KeySchemaElement]| -> Vec<(String, String)> {
        ks.iter()
            .map(|k| {
                (
                    k.attribute_name().to_owned(),
                    k.key_type().as_str().to_owned(),
                )
            })
            .collect()
    };
    let conflict = |detail: String| DevstackError::Conflict {
        resource: format!("table {name}"),
        detail,
    };
    if keys(table.key_schema()) != spec.key_schema {
        return Err(conflict(format!(
            "key schema {:?}, template {:?}",
            keys(table.key_schema()),
            spec.key_schema
        )));
    }
    let existing: BTreeMap<String, Vec<(String, String)>> = table
        .global_secondary_indexes()
        .iter()
        .map(|i| {
            (
                i.index_name().unwrap_or_default().to_owned(),
                keys(i.key_schema()),
            )
        })
        .collect();
    let wanted: BTreeMap<String, Vec<(String, String)>> = spec
        .global_secondary_indexes
        .iter()
        .map(|i| (i.name.clone(), i.key_schema.clone()))
        .collect();
    if existing != wanted {
        return Err(conflict(format!(
            "global secondary indexes {:?}, template {:?}",
            existing.keys().collect::<Vec<_>>(),
            wanted.keys().collect::<Vec<_>>()
        )));
    }
    Ok(())
}

async fn wait_table_active(clients: &LocalClients, name: &str) -> Result<(), DevstackError> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let described = clients
            .dynamodb
            .describe_table()
            .table_name(name)
            .send()
            .await
            .map_err(|e| clients.aws_error("dynamodb", "DescribeTable", name, e))?;
        let table = described.table();
        let status = table.and_then(|t| t.table_status()).cloned();
        let indexes_active = table.is_some_and(|t| {
            t.global_secondary_indexes().iter().all(|i| {
                i.index_status()
                    .is_none_or(|s| *s == aws_sdk_dynamodb::types::IndexStatus::Active)
            })
        });
        if status == Some(TableStatus::Active) && indexes_active {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(DevstackError::NotReady {
                resource: format!("table {name}"),
                detail: format!("status {status:?} after 30 s"),
            });
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
