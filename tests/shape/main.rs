//! The deployed shape, tested rather than assumed: `template.yaml` after the
//! SAM transform (what CloudFormation deploys), checked against this repo's
//! code.
//!
//! What the local stack cannot enforce, and this test stands in for:
//! - IAM. DynamoDB Local and moto accept every call, whatever the role would
//!   allow: a call the deployed policy denies passes every other local test
//!   and fails in AWS with AccessDenied. Here each function's flows run on
//!   clients that log every AWS call (`shared::adapters::call_log`), and each
//!   call is evaluated against that function's own role in the transformed
//!   template (`iam.rs`: identity policies only; resource policies,
//!   boundaries and SCPs are not modelled).
//! - Stages. Locally the routes are served without the stage; deployed, HTTP
//!   API payloads carry it (`rawPath` `/v1/v1/...` on stage `v1`). Here each
//!   route of the transformed API is called, on each stage, with the payload
//!   API Gateway would send, through its integration's own handler.
//! - Custom domains (and their mutual TLS) exist only in AWS: not checked
//!   here beyond the stage-less path the router also accepts.
//!
//! Needs the local stack (`local/stack.sh env`) and the pinned Lambda tools
//! (`local/lambda-tools.sh install`; `./dev.sh test` installs both).

mod cfn;
mod flows;
mod iam;
mod routes;
mod schedule;
mod transform;

use std::collections::BTreeSet;

use shared::adapters::call_log::CallResource;

use cfn::Cfn;
use flows::{recorded, Recorded, API, EXPIRY, PUBLISHER, WEBHOOK, WORKER};
use iam::Decision;
use transform::{deployed, deployed_without};

/// One permission a function needs, and what its role says.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Verdict {
    function: &'static str,
    /// The SDK operation (or `lambda:EventSourceMapping` for the queue polling Lambda does).
    operation: String,
    action: String,
    resource: String,
    allowed: bool,
}

/// The ARN of a recorded resource, through the local names back to the
/// template's logical ids.
fn arn_of(resource: &CallResource, recorded: &Recorded, cfn: &Cfn) -> String {
    let p = &recorded.provisioned;
    let logical = |name: &str, names: Vec<(&String, &String)>| {
        let found = names.into_iter().find(|(_, n)| n.as_str() == name);
        found.map(|(logical, _)| cfn.arn(logical).unwrap())
    };
    let found = match resource {
        CallResource::Table { name, index } => {
            logical(name, p.tables.iter().collect()).map(|table| match index {
                Some(index) => format!("{table}/index/{index}"),
                None => table,
            })
        }
        CallResource::Queue { name } => {
            logical(name, p.queues.iter().map(|(l, q)| (l, &q.name)).collect())
        }
        CallResource::Bus { name } => logical(name, p.buses.iter().collect()),
        CallResource::Unknown => None,
    };
    found.unwrap_or_else(|| format!("(not a resource of the template: {resource:?})"))
}

/// Every permission each function needs (the calls its code made, and the
/// queue polling of its event source mappings), decided by its own role.
fn evaluate(cfn: &Cfn, recorded: &Recorded) -> Vec<Verdict> {
    let mut needed = BTreeSet::new();
    for (function, calls) in &recorded.calls {
        for call in calls {
            let resource = arn_of(&call.resource, recorded, cfn);
            needed.insert((
                *function,
                call.operation.clone(),
                call.action.clone(),
                resource,
            ));
        }
        for source in cfn.event_sources(function) {
            let arn = cfn.resolve(&source["EventSourceArn"]).unwrap();
            // What Lambda's mapping does with the function's role: poll a queue,
            // or read a table's stream and record a batch it gave up on.
            let actions: &[&str] = if arn.contains("/stream/") {
                &[
                    "dynamodb:DescribeStream",
                    "dynamodb:GetShardIterator",
                    "dynamodb:GetRecords",
                    "dynamodb:ListStreams",
                ]
            } else {
                &[
                    "sqs:ReceiveMessage",
                    "sqs:DeleteMessage",
                    "sqs:GetQueueAttributes",
                ]
            };
            let operation = "lambda:EventSourceMapping".to_owned();
            for action in actions {
                needed.insert((
                    *function,
                    operation.clone(),
                    (*action).to_owned(),
                    arn.clone(),
                ));
            }
            let on_failure = &source["DestinationConfig"]["OnFailure"]["Destination"];
            if !on_failure.is_null() {
                let queue = cfn.resolve(on_failure).unwrap();
                needed.insert((
                    *function,
                    operation.clone(),
                    "sqs:SendMessage".into(),
                    queue,
                ));
            }
        }
    }
    let mut policies = std::collections::BTreeMap::new();
    needed
        .into_iter()
        .map(|(function, operation, action, resource)| {
            let statements = policies
                .entry(function)
                .or_insert_with(|| cfn.statements_of(function).unwrap());
            let allowed = iam::decide(statements, &action, &resource) == Decision::Allowed;
            Verdict {
                function,
                operation,
                action,
                resource,
                allowed,
            }
        })
        .collect()
}

fn table(verdicts: &[Verdict]) -> String {
    verdicts
        .iter()
        .map(|v| {
            format!(
                "{:<27} {:<31} {:<28} {:<78} {}\n",
                v.function,
                v.operation,
                v.action,
                v.resource,
                if v.allowed { "allowed" } else { "DENIED" }
            )
        })
        .collect()
}

fn denied(verdicts: &[Verdict]) -> Vec<Verdict> {
    verdicts.iter().filter(|v| !v.allowed).cloned().collect()
}

/// What `mutated` denies that the deployed template allows.
fn newly_denied(mutated: &Cfn) -> Vec<Verdict> {
    let before = evaluate(deployed(), recorded());
    let after = evaluate(mutated, recorded());
    println!("{}", table(&denied(&after)));
    denied(&after)
        .into_iter()
        .filter(|v| {
            before.iter().any(|b| {
                b.allowed
                    && Verdict {
                        allowed: false,
                        ..b.clone()
                    } == *v
            })
        })
        .collect()
}

#[test]
fn every_aws_call_of_each_function_is_allowed_by_its_own_policy() {
    let verdicts = evaluate(deployed(), recorded());
    println!("{}", table(&verdicts));
    for function in [WEBHOOK, API, WORKER, PUBLISHER, EXPIRY] {
        assert!(
            verdicts.iter().any(|v| v.function == function),
            "{function} made no call"
        );
    }
    let denied = denied(&verdicts);
    assert!(
        denied.is_empty(),
        "denied by the deployed template:\n{}",
        table(&denied)
    );
}

/// Removing a needed statement must make the check fail, or it checks nothing.
#[test]
fn without_the_publishers_put_events_statement_the_check_fails() {
    let denied = newly_denied(&deployed_without(PUBLISHER, "events:PutEvents"));
    assert!(
        denied
            .iter()
            .any(|v| v.function == PUBLISHER && v.action == "events:PutEvents"),
        "{}",
        table(&denied)
    );
}

/// The outbox: only the publisher announces and queues. A writer that calls
/// PutEvents or SendMessage itself (or is still granted them) fails here.
#[test]
fn only_the_outbox_publisher_puts_events_and_sends_jobs() {
    let outbound = ["events:PutEvents", "sqs:SendMessage"];
    let recorded = recorded();
    for function in [WEBHOOK, API, WORKER, EXPIRY] {
        let calls: Vec<_> = recorded.calls[function]
            .iter()
            .filter(|c| outbound.contains(&c.action.as_str()))
            .collect();
        assert!(calls.is_empty(), "{function} calls {calls:?}");
        for s in deployed().statements_of(function).unwrap() {
            assert!(
                !s.actions.iter().any(|a| outbound.contains(&a.as_str())),
                "{function} is still granted {s:?}"
            );
        }
    }
    let made: BTreeSet<&str> = recorded.calls[PUBLISHER]
        .iter()
        .map(|c| c.action.as_str())
        .collect();
    assert_eq!(made, BTreeSet::from(outbound), "the publisher's calls");
}

#[test]
fn without_the_apis_query_statement_the_check_fails() {
    let cfn = deployed_without(API, "dynamodb:Query");
    let base_table = cfn.arn("ClearingTable").unwrap();
    let denied = newly_denied(&cfn);
    assert!(
        denied
            .iter()
            .any(|v| v.function == API && v.action == "dynamodb:Query" && v.resource == base_table),
        "{}",
        table(&denied)
    );
}

/// The recording is only as good as its coverage: every SDK operation the
/// adapters call, and a Query of the base table and of each of its indexes.
#[test]
fn the_flows_make_every_kind_of_call_the_adapters_have() {
    let recorded = recorded();
    let made: BTreeSet<&str> = recorded
        .calls
        .values()
        .flatten()
        .filter_map(|c| c.operation.split_once(':').map(|(_, op)| op))
        .collect();
    let dir = devstack::repo_root().join("shared/src/adapters");
    let in_code = sdk_operations_in(&dir);
    assert!(
        in_code.contains("Query") && in_code.contains("PutEvents"),
        "{in_code:?}"
    );
    // Secrets are read once at init, before a flow's recorder is attached;
    // their statements name each function's own secret (see the template).
    let missing: Vec<&String> = in_code
        .iter()
        .filter(|op| !made.contains(op.as_str()) && op.as_str() != "GetSecretValue")
        .collect();
    assert!(missing.is_empty(), "no flow makes {missing:?}");

    let cfn = deployed();
    let mut targets = vec![None];
    for index in cfn.resource("ClearingTable").unwrap()["Properties"]["GlobalSecondaryIndexes"]
        .as_array()
        .unwrap()
    {
        targets.push(index["IndexName"].as_str());
    }
    let queried: BTreeSet<Option<&str>> = recorded
        .calls
        .values()
        .flatten()
        .filter(|c| c.action == "dynamodb:Query")
        .filter_map(|c| match &c.resource {
            CallResource::Table { index, .. } => Some(index.as_deref()),
            _ => None,
        })
        .collect();
    for target in targets {
        assert!(queried.contains(&target), "no flow queries {target:?}");
    }
}

/// `client.operation()` calls in the adapters' sources, as SDK operation names.
fn sdk_operations_in(dir: &std::path::Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(sdk_operations_in(&path));
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        for (at, _) in text.match_indices(".client") {
            let rest = &text[at + ".client".len()..];
            let Some(rest) = rest.trim_start().strip_prefix('.') else {
                continue;
            };
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if rest[name.len()..].starts_with("()") {
                out.insert(name.split('_').map(capitalized).collect());
            }
        }
    }
    out
}

fn capitalized(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
        .unwrap_or_default()
}

/// Least privilege stays: data actions are named (no `dynamodb:*`) and are
/// granted on the template's resources, never on `*`. (The stream reads of
/// SAM's AWSLambdaDynamoDBExecutionRole are the event source mapping's, on
/// `*` by AWS's definition; the publisher's code makes none.)
#[test]
fn data_actions_are_named_and_granted_on_named_resources() {
    let cfn = deployed();
    let mapping_reads = [
        "dynamodb:DescribeStream",
        "dynamodb:GetRecords",
        "dynamodb:GetShardIterator",
        "dynamodb:ListStreams",
    ];
    for function in [WEBHOOK, API, WORKER, PUBLISHER, EXPIRY] {
        for s in cfn.statements_of(function).unwrap() {
            for action in &s.actions {
                assert!(!action.contains('*'), "{function}: {action} in {s:?}");
                if function == PUBLISHER && mapping_reads.contains(&action.as_str()) {
                    continue;
                }
                let data = action.starts_with("dynamodb:")
                    || action.starts_with("events:")
                    || action == "sqs:SendMessage";
                assert!(
                    !(data
                        && s.resources
                            .iter()
                            .any(|r| r.contains('*') && !r.contains("/index/"))),
                    "{function}: {action} on {:?}",
                    s.resources
                );
            }
        }
    }
}

/// The publisher's mapping after the transform is the one the local stream
/// reader follows: the table's stream, from its oldest record, partial batch
/// responses, bisect, bounded retries and the on-failure queue.
#[test]
fn the_publisher_reads_the_table_stream_as_the_outbox_needs() {
    let cfn = deployed();
    let sources = cfn.event_sources(PUBLISHER);
    assert_eq!(sources.len(), 1, "{sources:?}");
    let m = sources[0];
    let stream = cfn.resolve(&m["EventSourceArn"]).unwrap();
    assert!(
        stream.starts_with(&cfn.arn("ClearingTable").unwrap()) && stream.contains("/stream/"),
        "{stream}"
    );
    assert_eq!(m["StartingPosition"], "TRIM_HORIZON");
    assert_eq!(
        m["FunctionResponseTypes"],
        serde_json::json!(["ReportBatchItemFailures"])
    );
    assert_eq!(m["BisectBatchOnFunctionError"], true);
    assert_eq!(m["MaximumRetryAttempts"], 10);
    assert_eq!(
        cfn.resolve(&m["DestinationConfig"]["OnFailure"]["Destination"])
            .unwrap(),
        cfn.arn("OutboxFailureQueue").unwrap()
    );
    let table = cfn.resource("ClearingTable").unwrap();
    assert_eq!(
        table["Properties"]["StreamSpecification"]["StreamViewType"],
        "NEW_AND_OLD_IMAGES"
    );
}
