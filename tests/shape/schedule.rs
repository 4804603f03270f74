//! The expiry sweep's schedule after the transform: an EventBridge Scheduler
//! schedule invoking the sweep with the Input its handler reads, a retry
//! policy and a dead-letter queue, on a role that may do exactly that; and
//! the sparse index the sweep queries.

use serde_json::Value;

use crate::cfn::Cfn;
use crate::flows::EXPIRY;
use crate::iam::{self, Decision};
use crate::transform::deployed;

/// The one schedule whose target is the sweep.
fn sweep_schedule(cfn: &Cfn) -> &Value {
    let function = cfn.arn(EXPIRY).unwrap();
    let schedules: Vec<&Value> = cfn
        .of_type("AWS::Scheduler::Schedule")
        .map(|(_, s)| &s["Properties"])
        .filter(|p| cfn.resolve(&p["Target"]["Arn"]).as_deref() == Ok(function.as_str()))
        .collect();
    assert_eq!(schedules.len(), 1, "{schedules:?}");
    schedules[0]
}

#[test]
fn the_expiry_sweep_runs_hourly_with_retries_and_a_dead_letter_queue() {
    let cfn = deployed();
    let schedule = sweep_schedule(cfn);
    assert_eq!(schedule["ScheduleExpression"], "rate(1 hour)");
    assert_eq!(schedule["FlexibleTimeWindow"]["Mode"], "OFF");
    assert!(
        schedule.get("Name").is_none(),
        "a fixed name clashes across stacks"
    );
    let target = &schedule["Target"];
    let retry = &target["RetryPolicy"];
    assert!(
        retry["MaximumRetryAttempts"].as_u64().unwrap() >= 1,
        "{retry}"
    );
    assert!(
        retry["MaximumEventAgeInSeconds"].as_u64().unwrap() <= 3600,
        "{retry}"
    );
    let dlq = cfn.resolve(&target["DeadLetterConfig"]["Arn"]).unwrap();
    assert_eq!(dlq, cfn.arn("AuthorizationExpiryDeadLetterQueue").unwrap());
    // The handler reads the scheduled time from this Input, as Scheduler fills it in.
    let input: Value = serde_json::from_str(target["Input"].as_str().unwrap()).unwrap();
    assert_eq!(input["scheduled_time"], "<aws.scheduler.scheduled-time>");
    let read = authorization_expiry::ScheduleInvocation::read(&input);
    assert_eq!(
        read.scheduled_time.as_deref(),
        Some("<aws.scheduler.scheduled-time>")
    );

    // Its role: invoke the sweep and write the dead-letter queue, nothing else.
    let role = Cfn::target(&target["RoleArn"]).unwrap();
    let properties = &cfn.resource(role).unwrap()["Properties"];
    assert!(properties["ManagedPolicyArns"].is_null(), "{properties}");
    let resolve = |v: &Value| cfn.resolve(v);
    let statements: Vec<iam::Statement> = properties["Policies"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| iam::statements(&p["PolicyDocument"], &resolve).unwrap())
        .collect();
    let function = cfn.arn(EXPIRY).unwrap();
    assert_eq!(
        iam::decide(&statements, "lambda:InvokeFunction", &function),
        Decision::Allowed
    );
    assert_eq!(
        iam::decide(&statements, "sqs:SendMessage", &dlq),
        Decision::Allowed
    );
    let mut granted: Vec<(String, String)> = statements
        .iter()
        .flat_map(|s| {
            s.actions
                .iter()
                .flat_map(move |a| s.resources.iter().map(move |r| (a.clone(), r.clone())))
        })
        .collect();
    granted.sort();
    assert_eq!(
        granted,
        [
            ("lambda:InvokeFunction".to_owned(), function),
            ("sqs:SendMessage".to_owned(), dlq)
        ],
        "least privilege"
    );
}

#[test]
fn the_sweep_queries_a_sparse_keys_only_index_of_the_table() {
    let cfn = deployed();
    let table = cfn.resource("ClearingTable").unwrap();
    let index = table["Properties"]["GlobalSecondaryIndexes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["IndexName"] == shared::adapters::dynamodb::INDEX_BY_EXPIRY)
        .expect("the ByExpiry index");
    assert_eq!(index["Projection"]["ProjectionType"], "KEYS_ONLY");
    let keys: Vec<&str> = index["KeySchema"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["AttributeName"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["expiry_pk", "expiry_sk"]);
    // The sweep's own Query is allowed on that index only, never the table.
    let statements = cfn.statements_of(EXPIRY).unwrap();
    let arn = cfn.arn("ClearingTable").unwrap();
    assert_eq!(
        iam::decide(
            &statements,
            "dynamodb:Query",
            &format!("{arn}/index/ByExpiry")
        ),
        Decision::Allowed
    );
    assert_ne!(
        iam::decide(&statements, "dynamodb:Query", &arn),
        Decision::Allowed
    );
    assert_ne!(
        iam::decide(&statements, "dynamodb:Scan", &arn),
        Decision::Allowed
    );
}
