//! EventBridge buses and rules of the template, with their queue targets.

use aws_sdk_eventbridge::types::{RuleState, Target};

use super::{physical_name, Provisioned, RuleInfo};
use crate::template::{Reference, RuleSpec};
use crate::{DevstackError, LocalClients, Template};

pub(super) async fn create_bus(clients: &LocalClients, name: &str) -> Result<(), DevstackError> {
    match clients
        .eventbridge
        .create_event_bus()
        .name(name)
        .send()
        .await
    {
        Ok(_) => {
            tracing::info!(bus = name, "created event bus");
            Ok(())
        }
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_already_exists_exception()) =>
        {
            tracing::info!(bus = name, "event bus exists");
            Ok(())
        }
        Err(e) => Err(clients.aws_error("eventbridge", "CreateEventBus", name, e)),
    }
}

pub(super) async fn create_rule(
    clients: &LocalClients,
    prefix: &str,
    spec: &RuleSpec,
    template: &Template,
    out: &mut Provisioned,
) -> Result<RuleInfo, DevstackError> {
    let name = physical_name(prefix, &spec.logical, "", 64, "rule")?;
    let bus = match &spec.bus {
        Reference::Literal(bus) => bus.clone(),
        Reference::Logical(bus) => out.bus(bus)?.to_owned(),
    };
    let state = match spec.state.as_deref() {
        None | Some("ENABLED") => RuleState::Enabled,
        Some("DISABLED") => RuleState::Disabled,
        Some(other) => RuleState::from(other),
    };
    let arn = clients
        .eventbridge
        .put_rule()
        .name(&name)
        .event_bus_name(&bus)
        .set_event_pattern(spec.event_pattern.clone())
        .set_schedule_expression(spec.schedule_expression.clone())
        .set_description(spec.description.clone())
        .state(state)
        .send()
        .await
        .map_err(|e| clients.aws_error("eventbridge", "PutRule", &name, e))?
        .rule_arn
        .ok_or_else(|| DevstackError::NotReady {
            resource: format!("rule {name}"),
            detail: "PutRule returned no RuleArn".into(),
        })?;

    let mut targets = Vec::new();
    for target in &spec.targets {
        let target_arn = match &target.arn {
            Reference::Literal(arn) => arn.clone(),
            Reference::Logical(logical) => match out.queues.get(logical) {
                Some(queue) => queue.arn.clone(),
                None => {
                    let kind = template.kind_of(logical).unwrap_or("unknown type");
                    out.skipped.insert(
                        format!("{}/Targets/{}", spec.logical, target.id),
                        format!("targets {logical} ({kind}), which is not provisioned locally"),
                    );
                    continue;
                }
            },
        };
        targets.push(
            Target::builder()
                .id(&target.id)
                .arn(target_arn)
                .set_input(target.input.clone())
                .set_input_path(target.input_path.clone())
                .build()
                .map_err(|e| DevstackError::build(&spec.logical, e))?,
        );
    }
    if !targets.is_empty() {
        put_targets(clients, &bus, &name, targets).await?;
    }
    tracing::info!(rule = %name, bus = %bus, "rule ready");
    Ok(RuleInfo { name, bus, arn })
}

pub(super) async fn put_targets(
    clients: &LocalClients,
    bus: &str,
    rule: &str,
    targets: Vec<Target>,
) -> Result<(), DevstackError> {
    let out = clients
        .eventbridge
        .put_targets()
        .rule(rule)
        .event_bus_name(bus)
        .set_targets(Some(targets))
        .send()
        .await
        .map_err(|e| clients.aws_error("eventbridge", "PutTargets", rule, e))?;
    if out.failed_entry_count() > 0 {
        let failures: Vec<String> = out
            .failed_entries()
            .iter()
            .map(|f| {
                format!(
                    "{}: {}",
                    f.target_id().unwrap_or("?"),
                    f.error_message().unwrap_or("failed")
                )
            })
            .collect();
        return Err(DevstackError::Aws {
            service: "eventbridge",
            message: format!("PutTargets {rule}: {}", failures.join("; ")),
        });
    }
    Ok(())
}
