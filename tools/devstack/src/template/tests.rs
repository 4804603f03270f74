//! Reading template.yaml into specs.

use super::*;

#[test]
fn repo_template_parses_into_specs() {
    let t = Template::repo_default().expect("template.yaml");
    let tables = t.tables().expect("tables");
    assert_eq!(tables.len(), 1);
    assert_eq!(tables[0].logical, "ClearingTable");
    let gsis: Vec<&str> = tables[0]
        .global_secondary_indexes
        .iter()
        .map(|i| i.name.as_str())
        .collect();
    assert_eq!(
        gsis,
        [
            "ByCard",
            "ByOpenStatus",
            "ByTransUid",
            "ByQueue",
            "ByExpiry"
        ]
    );
    // The console's queue index projects what a list row shows; the others only keys.
    assert!(tables[0]
        .global_secondary_indexes
        .iter()
        .all(|i| i.projection_type
            == if i.name == "ByQueue" {
                "INCLUDE"
            } else {
                "KEYS_ONLY"
            }));

    let queues = t.queues_in_dependency_order().expect("queues");
    let position = |name: &str| queues.iter().position(|q| q.logical == name).expect(name);
    assert!(position("ReprocessingDeadLetterQueue") < position("ReprocessingQueue"));
    assert!(position("PixInputDeadLetterQueue") < position("PixInputQueue"));
    let reprocessing = &queues[position("ReprocessingQueue")];
    assert_eq!(
        reprocessing
            .attributes
            .get("VisibilityTimeout")
            .map(String::as_str),
        Some("180")
    );
    let redrive = reprocessing.redrive.as_ref().expect("redrive");
    assert_eq!(
        redrive.dead_letter_target,
        Reference::Logical("ReprocessingDeadLetterQueue".into())
    );
    assert_eq!(redrive.max_receive_count, 5);

    assert_eq!(t.buses(), ["ReconciliationBus"]);
    let rules = t.rules().expect("rules");
    let divergent = rules
        .iter()
        .find(|r| r.logical == "PixDivergentResultsRule")
        .expect("rule");
    assert_eq!(
        divergent.bus,
        Reference::Logical("ReconciliationBus".into())
    );
    let pattern: serde_json::Value =
        serde_json::from_str(divergent.event_pattern.as_deref().unwrap_or("")).expect("json");
    assert_eq!(
        pattern["detail"]["result_description"][0],
        "TRANSACTION_AMOUNT_DIVERGENT"
    );
    assert_eq!(
        divergent.targets[0].arn,
        Reference::Logical("PixDivergenceAlertQueue".into())
    );
}

#[test]
fn chains_of_dead_letter_queues_are_ordered_and_cycles_rejected() {
    let chain = r#"
Resources:
  A: {Type: "AWS::SQS::Queue", Properties: {RedrivePolicy: {deadLetterTargetArn: {"Fn::GetAtt": [B, Arn]}, maxReceiveCount: "3"}}}
  B: {Type: "AWS::SQS::Queue", Properties: {RedrivePolicy: '{"deadLetterTargetArn": {"Fn::GetAtt": "C.Arn"}, "maxReceiveCount": 2}'}}
  C: {Type: "AWS::SQS::Queue"}
"#;
    let order: Vec<String> = Template::parse(chain, "chain.yaml")
        .and_then(|t| t.queues_in_dependency_order())
        .expect("ordered")
        .into_iter()
        .map(|q| q.logical)
        .collect();
    assert_eq!(order, ["C", "B", "A"]);

    let cycle = r#"
Resources:
  A: {Type: "AWS::SQS::Queue", Properties: {RedrivePolicy: {deadLetterTargetArn: !GetAtt B.Arn, maxReceiveCount: 1}}}
  B: {Type: "AWS::SQS::Queue", Properties: {RedrivePolicy: {deadLetterTargetArn: !GetAtt A.Arn, maxReceiveCount: 1}}}
"#;
    let err = Template::parse(cycle, "cycle.yaml").and_then(|t| t.queues_in_dependency_order());
    assert!(matches!(err, Err(DevstackError::Template(m)) if m.contains("cycle")));
}

#[test]
fn dangling_references_are_template_errors() {
    let dangling = r#"
Resources:
  Q: {Type: "AWS::SQS::Queue", Properties: {RedrivePolicy: {deadLetterTargetArn: {"Fn::GetAtt": Nope.Arn}, maxReceiveCount: 5}}}
"#;
    let err = Template::parse(dangling, "d.yaml").and_then(|t| t.queues_in_dependency_order());
    assert!(matches!(err, Err(DevstackError::Template(m)) if m.contains("Nope")));

    let no_bus = r#"
Resources:
  R: {Type: "AWS::Events::Rule", Properties: {EventBusName: {Ref: Missing}, EventPattern: {source: [x]}}}
"#;
    let err = Template::parse(no_bus, "r.yaml").and_then(|t| t.rules());
    assert!(matches!(err, Err(DevstackError::Template(m)) if m.contains("Missing")));

    let bad_table =
        "Resources:\n  T: {Type: \"AWS::DynamoDB::Table\", Properties: {KeySchema: []}}\n";
    let err = Template::parse(bad_table, "t.yaml").and_then(|t| t.tables());
    assert!(
        matches!(err, Err(DevstackError::Template(m)) if m.contains("T (AWS::DynamoDB::Table)"))
    );
}
