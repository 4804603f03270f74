//! IAM policy evaluation, small and pure: identity-based statements only
//! (Allow/Deny, Action, Resource, with `*` and `?` wildcards). What a role
//! does not have is not modelled: resource policies, permission boundaries,
//! SCPs, conditions. A statement using NotAction, NotResource or Condition is
//! refused rather than guessed at.

use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    pub allow: bool,
    pub actions: Vec<String>,
    pub resources: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allowed,
    /// No statement allows it.
    ImplicitDeny,
    /// A Deny statement matches (wins over any Allow).
    ExplicitDeny,
}

impl Decision {
    pub fn allowed(self) -> bool {
        self == Decision::Allowed
    }
}

/// IAM wildcard match of a whole string: `*` any run of characters, `?` one.
pub fn wildcard(pattern: &str, value: &str) -> bool {
    let (p, v): (Vec<char>, Vec<char>) = (pattern.chars().collect(), value.chars().collect());
    // Greedy match with one backtrack point (the last `*`), linear in practice.
    let (mut i, mut j) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while j < v.len() {
        if i < p.len() && (p[i] == '?' || p[i] == v[j]) {
            i += 1;
            j += 1;
        } else if i < p.len() && p[i] == '*' {
            star = Some((i, j));
            i += 1;
        } else if let Some((si, sj)) = star {
            i = si + 1;
            j = sj + 1;
            star = Some((si, sj + 1));
        } else {
            return false;
        }
    }
    p[i..].iter().all(|c| *c == '*')
}

/// Actions compare case-insensitively (`dynamodb:query` is `dynamodb:Query`);
/// resources (ARNs) exactly.
fn matches(statement: &Statement, action: &str, resource: &str) -> bool {
    let action = action.to_ascii_lowercase();
    statement
        .actions
        .iter()
        .any(|a| wildcard(&a.to_ascii_lowercase(), &action))
        && statement.resources.iter().any(|r| wildcard(r, resource))
}

/// The decision of `statements` (all the policies of one role) on one request.
pub fn decide(statements: &[Statement], action: &str, resource: &str) -> Decision {
    let hits: Vec<&Statement> = statements
        .iter()
        .filter(|s| matches(s, action, resource))
        .collect();
    if hits.iter().any(|s| !s.allow) {
        Decision::ExplicitDeny
    } else if hits.is_empty() {
        Decision::ImplicitDeny
    } else {
        Decision::Allowed
    }
}

/// The statements of a policy document; `resolve` turns each Resource entry
/// (a string or an intrinsic function) into an ARN pattern.
pub fn statements(
    document: &Value,
    resolve: &dyn Fn(&Value) -> Result<String, String>,
) -> Result<Vec<Statement>, String> {
    let list = match &document["Statement"] {
        Value::Array(list) => list.clone(),
        Value::Object(_) => vec![document["Statement"].clone()],
        other => return Err(format!("policy without statements: {other}")),
    };
    list.iter()
        .filter_map(configured)
        .map(|s| statement(&s, resolve))
        .collect()
}

/// A statement the template includes conditionally (`Fn::If: [condition,
/// statement, AWS::NoValue]`) is read as in a deployment with that option
/// configured: the first branch, unless it is `AWS::NoValue`.
fn configured(s: &Value) -> Option<Value> {
    let Some(branches) = s.get("Fn::If").and_then(Value::as_array) else {
        return Some(s.clone());
    };
    let chosen = branches.get(1)?;
    (chosen.get("Ref").and_then(Value::as_str) != Some("AWS::NoValue")).then(|| chosen.clone())
}

fn statement(
    s: &Value,
    resolve: &dyn Fn(&Value) -> Result<String, String>,
) -> Result<Statement, String> {
    for unsupported in ["NotAction", "NotResource", "Condition", "NotPrincipal"] {
        if s.get(unsupported).is_some() {
            return Err(format!("{unsupported} is not evaluated here: {s}"));
        }
    }
    let allow = match s["Effect"].as_str() {
        Some("Allow") => true,
        Some("Deny") => false,
        _ => return Err(format!("statement without Effect: {s}")),
    };
    let one_or_many = |v: &Value| -> Vec<Value> {
        match v {
            Value::Array(items) => items.clone(),
            Value::Null => vec![],
            other => vec![other.clone()],
        }
    };
    let actions = one_or_many(&s["Action"])
        .iter()
        .map(|a| a.as_str().map(str::to_owned).ok_or(format!("action {a}")))
        .collect::<Result<_, _>>()?;
    let resources = one_or_many(&s["Resource"])
        .iter()
        .map(resolve)
        .collect::<Result<_, _>>()?;
    Ok(Statement {
        allow,
        actions,
        resources,
    })
}

/// The documents of the AWS managed policies SAM attaches to the functions'
/// roles (as published by AWS; they are not in the template). A managed
/// policy not listed here fails the check, so it is added knowingly.
pub fn aws_managed_policy(arn: &str) -> Option<Value> {
    let logs = [
        "logs:CreateLogGroup",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
    ];
    let allow_all = |actions: &[&str]| serde_json::json!({"Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}]});
    Some(match arn {
        "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole" => allow_all(&logs),
        "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess" => allow_all(&[
            "xray:PutTraceSegments",
            "xray:PutTelemetryRecords",
            "xray:GetSamplingRules",
            "xray:GetSamplingTargets",
            "xray:GetSamplingStatisticSummaries",
        ]),
        // What SAM attaches for a DynamoDB stream event source (the mapping reads the stream).
        "arn:aws:iam::aws:policy/service-role/AWSLambdaDynamoDBExecutionRole" => allow_all(&[
            "dynamodb:DescribeStream",
            "dynamodb:GetRecords",
            "dynamodb:GetShardIterator",
            "dynamodb:ListStreams",
            logs[0],
            logs[1],
            logs[2],
        ]),
        "arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole" => allow_all(&[
            "sqs:ReceiveMessage",
            "sqs:DeleteMessage",
            "sqs:GetQueueAttributes",
            logs[0],
            logs[1],
            logs[2],
        ]),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &str = "arn:aws:dynamodb:us-east-1:123456789012:table/T";

    fn allow(actions: &[&str], resources: &[&str]) -> Statement {
        Statement {
            allow: true,
            actions: actions.iter().map(|s| s.to_string()).collect(),
            resources: resources.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn wildcards_match_whole_strings() {
        assert!(wildcard("*", ""));
        assert!(wildcard("*", "anything"));
        assert!(wildcard("dynamodb:*", "dynamodb:Query"));
        assert!(wildcard("a?c", "abc"));
        assert!(!wildcard("a?c", "ac"));
        assert!(wildcard("a*b*c", "a-b-b-c"));
        assert!(!wildcard("a*b*c", "a-b-b-"));
        assert!(wildcard(
            &format!("{TABLE}/index/*"),
            &format!("{TABLE}/index/ByCard")
        ));
        assert!(!wildcard(&format!("{TABLE}/index/*"), TABLE));
        assert!(!wildcard(TABLE, &format!("{TABLE}/index/ByCard")));
        assert!(!wildcard("abc", "abcd"));
    }

    #[test]
    fn an_index_grant_does_not_cover_the_base_table() {
        let policy = [allow(&["dynamodb:Query"], &[&format!("{TABLE}/index/*")])];
        assert_eq!(
            decide(&policy, "dynamodb:Query", &format!("{TABLE}/index/ByCard")),
            Decision::Allowed
        );
        assert_eq!(
            decide(&policy, "dynamodb:Query", TABLE),
            Decision::ImplicitDeny
        );
        assert_eq!(
            decide(
                &policy,
                "dynamodb:GetItem",
                &format!("{TABLE}/index/ByCard")
            ),
            Decision::ImplicitDeny
        );
    }

    #[test]
    fn actions_ignore_case_and_deny_wins() {
        let mut policy = vec![allow(&["DynamoDB:query", "sqs:*"], &["*"])];
        assert!(decide(&policy, "dynamodb:Query", TABLE).allowed());
        assert!(decide(&policy, "sqs:SendMessage", "arn:aws:sqs:us-east-1:1:q").allowed());
        policy.push(Statement {
            allow: false,
            ..allow(&["dynamodb:Query"], &[TABLE])
        });
        assert_eq!(
            decide(&policy, "dynamodb:Query", TABLE),
            Decision::ExplicitDeny
        );
    }

    #[test]
    fn documents_read_one_or_many_actions_and_resources() {
        let doc = serde_json::json!({"Statement": [
            {"Effect": "Allow", "Action": "events:PutEvents", "Resource": {"Ref": "Bus"}},
            {"Effect": "Deny", "Action": ["a:B", "a:C"], "Resource": ["x", "y"]}
        ]});
        let resolve = |v: &Value| match v.as_str() {
            Some(s) => Ok(s.to_owned()),
            None => Ok(format!("bus:{}", v["Ref"].as_str().unwrap())),
        };
        let s = statements(&doc, &resolve).unwrap();
        assert_eq!(s[0], allow(&["events:PutEvents"], &["bus:Bus"]));
        assert!(!s[1].allow);
        assert_eq!(s[1].resources, ["x", "y"]);
        let conditional = serde_json::json!({"Statement": {"Effect": "Allow", "Action": "a:B",
            "Resource": "*", "Condition": {}}});
        assert!(statements(&conditional, &resolve).is_err());
    }

    #[test]
    fn the_managed_policies_sam_attaches_are_known() {
        let sqs = aws_managed_policy(
            "arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole",
        )
        .unwrap();
        let s = statements(&sqs, &|v| Ok(v.as_str().unwrap().to_owned())).unwrap();
        assert!(decide(&s, "sqs:ReceiveMessage", "arn:aws:sqs:us-east-1:1:q").allowed());
        assert!(!decide(&s, "sqs:SendMessage", "arn:aws:sqs:us-east-1:1:q").allowed());
        assert!(aws_managed_policy("arn:aws:iam::aws:policy/AdministratorAccess").is_none());
    }
}
