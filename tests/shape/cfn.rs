//! The transformed template (CloudFormation JSON) as this test reads it:
//! intrinsic functions resolved to the names and ARNs the deployed resources
//! would have, in one fixed account and region, each resource named by its
//! logical id (`table/ClearingTable`): what matters is that the policy and the
//! call name the same resource, not the name CloudFormation would generate.

use serde_json::{Map, Value};

use crate::iam::{self, Statement};

pub const REGION: &str = "us-east-1";
pub const ACCOUNT: &str = "123456789012";

pub struct Cfn {
    template: Value,
}

/// Where requests for an HTTP API arrive: a host, the stage the payload
/// names, and what comes before the route's path in the payload's `rawPath`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entrance {
    pub domain: String,
    pub stage: String,
    pub path_prefix: String,
}

/// One route of an HTTP API, as API Gateway would match it.
#[derive(Debug, Clone)]
pub struct Route {
    pub api: String,
    pub method: String,
    /// The OpenAPI path template, e.g. `/v1/clearing-messages/{clearingUniqueId}`.
    pub path: String,
    /// The logical id of the function its integration invokes.
    pub function: String,
}

impl Cfn {
    pub fn new(template: Value) -> Self {
        Self { template }
    }

    fn resources(&self) -> &Map<String, Value> {
        self.template["Resources"]
            .as_object()
            .expect("a template with Resources")
    }

    pub fn resource(&self, logical: &str) -> Result<&Value, String> {
        self.resources()
            .get(logical)
            .ok_or_else(|| format!("no resource {logical} in the transformed template"))
    }

    pub fn of_type<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = (&'a str, &'a Value)> {
        self.resources()
            .iter()
            .filter(move |(_, r)| r["Type"] == kind)
            .map(|(k, r)| (k.as_str(), r))
    }

    fn kind(&self, logical: &str) -> Result<&str, String> {
        Ok(self.resource(logical)?["Type"].as_str().unwrap_or_default())
    }

    /// `Fn::GetAtt X.Arn`.
    pub fn arn(&self, logical: &str) -> Result<String, String> {
        let arn =
            |service: &str, rest: String| format!("arn:aws:{service}:{REGION}:{ACCOUNT}:{rest}");
        Ok(match self.kind(logical)? {
            "AWS::DynamoDB::Table" => arn("dynamodb", format!("table/{logical}")),
            "AWS::SQS::Queue" => arn("sqs", logical.to_owned()),
            "AWS::Events::EventBus" => arn("events", format!("event-bus/{logical}")),
            "AWS::Events::Rule" => arn("events", format!("rule/{logical}")),
            "AWS::Lambda::Function" => arn("lambda", format!("function:{logical}")),
            "AWS::IAM::Role" => format!("arn:aws:iam::{ACCOUNT}:role/{logical}"),
            other => return Err(format!("no ARN known for {logical} ({other})")),
        })
    }

    /// `Ref X`: a parameter's default, a pseudo parameter, or the resource's
    /// name (a queue's Ref is its URL).
    pub fn reference(&self, name: &str) -> Result<String, String> {
        match name {
            "AWS::Region" => return Ok(REGION.into()),
            "AWS::AccountId" => return Ok(ACCOUNT.into()),
            "AWS::Partition" => return Ok("aws".into()),
            "AWS::URLSuffix" => return Ok("amazonaws.com".into()),
            "AWS::StackName" => return Ok("clearing-recon".into()),
            _ => {}
        }
        if let Some(parameter) = self.template["Parameters"].get(name) {
            return parameter["Default"]
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| format!("parameter {name} has no default"));
        }
        let properties = &self.resource(name)?["Properties"];
        match self.kind(name)? {
            "AWS::SQS::Queue" => Ok(format!(
                "https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{name}"
            )),
            "AWS::ApiGatewayV2::Stage" => self.resolve(&properties["StageName"]),
            "AWS::ApiGatewayV2::DomainName" => self.resolve(&properties["DomainName"]),
            _ => Ok(name.to_owned()),
        }
    }

    /// A value of the template, its intrinsic functions resolved, as a string.
    pub fn resolve(&self, value: &Value) -> Result<String, String> {
        let Value::Object(o) = value else {
            return value
                .as_str()
                .map(str::to_owned)
                .or_else(|| value.is_number().then(|| value.to_string()))
                .ok_or_else(|| format!("not a string: {value}"));
        };
        if let Some(name) = o.get("Ref").and_then(Value::as_str) {
            return self.reference(name);
        }
        if let Some(target) = o.get("Fn::GetAtt") {
            let (logical, attribute) = match target {
                Value::String(s) => s.split_once('.').ok_or(format!("GetAtt {s}"))?,
                Value::Array(a) => (
                    a[0].as_str().unwrap_or_default(),
                    a[1].as_str().unwrap_or_default(),
                ),
                other => return Err(format!("GetAtt {other}")),
            };
            return match attribute {
                "Arn" => self.arn(logical),
                // A table's stream: one label per stream, any value here.
                "StreamArn" => Ok(format!(
                    "{}/stream/2026-01-01T00:00:00.000",
                    self.arn(logical)?
                )),
                other => Err(format!(
                    "attribute {other} of {logical} is not resolved here"
                )),
            };
        }
        if let Some(sub) = o.get("Fn::Sub") {
            return self.sub(sub);
        }
        if let Some(join) = o.get("Fn::Join") {
            let separator = join[0].as_str().unwrap_or_default();
            let parts: Vec<String> = join[1]
                .as_array()
                .ok_or(format!("Join {join}"))?
                .iter()
                .map(|p| self.resolve(p))
                .collect::<Result<_, _>>()?;
            return Ok(parts.join(separator));
        }
        Err(format!("intrinsic not resolved here: {value}"))
    }

    /// `Fn::Sub "text ${X} ${X.Arn}"` or `Fn::Sub [text, {var: value}]`.
    fn sub(&self, sub: &Value) -> Result<String, String> {
        let (text, vars) = match sub {
            Value::String(s) => (s.as_str(), Map::new()),
            Value::Array(a) => (
                a[0].as_str().ok_or(format!("Sub {sub}"))?,
                a[1].as_object().cloned().unwrap_or_default(),
            ),
            other => return Err(format!("Sub {other}")),
        };
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let end = rest[start..].find('}').ok_or(format!("Sub {text}"))? + start;
            let name = &rest[start + 2..end];
            out.push_str(&match (vars.get(name), name.split_once('.')) {
                (Some(v), _) => self.resolve(v)?,
                (None, Some((logical, "Arn"))) => self.arn(logical)?,
                (None, _) => self.reference(name)?,
            });
            rest = &rest[end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }

    /// The logical id `Ref X` / `Fn::GetAtt [X, Arn]` points at.
    pub fn target(value: &Value) -> Option<&str> {
        match value.get("Ref").or_else(|| value.get("Fn::GetAtt"))? {
            Value::String(s) => Some(s.split('.').next().unwrap_or(s)),
            Value::Array(a) => a.first()?.as_str(),
            _ => None,
        }
    }

    /// Every statement of `function`'s execution role: its inline policies,
    /// its managed policies (from the template, else AWS's, see
    /// [`iam::aws_managed_policy`]) and any AWS::IAM::Policy attached to it.
    pub fn statements_of(&self, function: &str) -> Result<Vec<Statement>, String> {
        let role_ref = &self.resource(function)?["Properties"]["Role"];
        let role =
            Cfn::target(role_ref).ok_or(format!("{function} has no role in the template"))?;
        let properties = &self.resource(role)?["Properties"];
        let resolve = |v: &Value| self.resolve(v);
        let mut out = Vec::new();
        for policy in properties["Policies"].as_array().into_iter().flatten() {
            out.extend(iam::statements(&policy["PolicyDocument"], &resolve)?);
        }
        for managed in properties["ManagedPolicyArns"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let document = match Cfn::target(managed) {
                Some(logical) => self.resource(logical)?["Properties"]["PolicyDocument"].clone(),
                None => {
                    let arn = self.resolve(managed)?;
                    iam::aws_managed_policy(&arn)
                        .ok_or(format!("managed policy {arn}: add its document to iam.rs"))?
                }
            };
            out.extend(iam::statements(&document, &resolve)?);
        }
        for (_, policy) in self.of_type("AWS::IAM::Policy") {
            let roles = policy["Properties"]["Roles"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            if roles.iter().any(|r| Cfn::target(r) == Some(role)) {
                out.extend(iam::statements(
                    &policy["Properties"]["PolicyDocument"],
                    &resolve,
                )?);
            }
        }
        Ok(out)
    }

    /// Every route of every HTTP API: the paths and methods of its OpenAPI
    /// body, each with the function its Lambda proxy integration invokes.
    pub fn routes(&self) -> Result<Vec<Route>, String> {
        let mut routes = Vec::new();
        for (api, resource) in self.of_type("AWS::ApiGatewayV2::Api") {
            let paths = resource["Properties"]["Body"]["paths"]
                .as_object()
                .ok_or(format!("{api} has no OpenAPI body with paths"))?;
            for (path, methods) in paths {
                for (method, operation) in methods.as_object().into_iter().flatten() {
                    let uri = &operation["x-amazon-apigateway-integration"]["uri"];
                    routes.push(Route {
                        api: api.to_owned(),
                        method: method.to_ascii_uppercase(),
                        path: path.clone(),
                        function: self.integration_function(uri)?,
                    });
                }
            }
        }
        Ok(routes)
    }

    /// `arn:aws:apigateway:<region>:lambda:path/2015-03-31/functions/<function ARN>/invocations`
    /// to the function's logical id.
    fn integration_function(&self, uri: &Value) -> Result<String, String> {
        let uri = self.resolve(uri)?;
        let function_arn = uri
            .split_once("/functions/")
            .and_then(|(_, rest)| rest.strip_suffix("/invocations"))
            .ok_or(format!("not a Lambda integration: {uri}"))?;
        self.of_type("AWS::Lambda::Function")
            .map(|(logical, _)| logical)
            .find(|logical| self.arn(logical).as_deref() == Ok(function_arn))
            .map(str::to_owned)
            .ok_or(format!(
                "integration {uri} names no function of the template"
            ))
    }

    /// Every way a request reaches `api`: its default endpoint on each stage,
    /// and each custom domain's API mapping.
    pub fn entrances(&self, api: &str) -> Result<Vec<Entrance>, String> {
        let mut out = Vec::new();
        if self.resource(api)?["Properties"]["DisableExecuteApiEndpoint"] != true {
            for stage in self.stages(api)? {
                out.push(Entrance {
                    domain: format!("{}.execute-api.{REGION}.amazonaws.com", api.to_lowercase()),
                    // On a named stage the payload's path starts with it.
                    path_prefix: match stage.as_str() {
                        "$default" => String::new(),
                        named => format!("/{named}"),
                    },
                    stage,
                });
            }
        }
        for (_, mapping) in self.of_type("AWS::ApiGatewayV2::ApiMapping") {
            let p = &mapping["Properties"];
            if Cfn::target(&p["ApiId"]) != Some(api) {
                continue;
            }
            // The mapping took the stage off; a mapping key stays in the path.
            let key = p["ApiMappingKey"].as_str().unwrap_or_default();
            out.push(Entrance {
                domain: self.resolve(&p["DomainName"])?,
                stage: self.resolve(&p["Stage"])?,
                path_prefix: if key.is_empty() {
                    String::new()
                } else {
                    format!("/{key}")
                },
            });
        }
        Ok(out)
    }

    /// The names of `api`'s stages.
    pub fn stages(&self, api: &str) -> Result<Vec<String>, String> {
        self.of_type("AWS::ApiGatewayV2::Stage")
            .filter(|(_, s)| Cfn::target(&s["Properties"]["ApiId"]) == Some(api))
            .map(|(_, s)| self.resolve(&s["Properties"]["StageName"]))
            .collect()
    }

    /// The event source mappings that invoke `function`.
    pub fn event_sources(&self, function: &str) -> Vec<&Value> {
        self.of_type("AWS::Lambda::EventSourceMapping")
            .filter(|(_, m)| Cfn::target(&m["Properties"]["FunctionName"]) == Some(function))
            .map(|(_, m)| &m["Properties"])
            .collect()
    }

    /// The resolved value of one of `function`'s environment variables.
    pub fn env_var(&self, function: &str, name: &str) -> Result<String, String> {
        let value = &self.resource(function)?["Properties"]["Environment"]["Variables"][name];
        self.resolve(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn template() -> Cfn {
        Cfn::new(json!({
            "Parameters": {"Stage": {"Type": "String", "Default": "v1"}},
            "Resources": {
                "T": {"Type": "AWS::DynamoDB::Table"},
                "Q": {"Type": "AWS::SQS::Queue"},
                "B": {"Type": "AWS::Events::EventBus"},
                "F": {"Type": "AWS::Lambda::Function", "Properties": {
                    "Role": {"Fn::GetAtt": ["FRole", "Arn"]},
                    "Environment": {"Variables": {"QUEUE": {"Fn::GetAtt": "Q.Arn"}}}}},
                "FRole": {"Type": "AWS::IAM::Role", "Properties": {
                    "ManagedPolicyArns": ["arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"],
                    "Policies": [{"PolicyDocument": {"Statement": [
                        {"Effect": "Allow", "Action": "dynamodb:Query",
                         "Resource": {"Fn::Sub": "${T.Arn}/index/*"}}]}}]}},
                "Extra": {"Type": "AWS::IAM::Policy", "Properties": {"Roles": [{"Ref": "FRole"}],
                    "PolicyDocument": {"Statement": [
                        {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": {"Fn::GetAtt": "Q.Arn"}}]}}},
                "Api": {"Type": "AWS::ApiGatewayV2::Api", "Properties": {"Body": {"paths": {
                    "/v1/things/{id}": {"get": {"x-amazon-apigateway-integration": {"uri": {"Fn::Sub":
                        "arn:${AWS::Partition}:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${F.Arn}/invocations"}}}}}}}},
                "ApiStage": {"Type": "AWS::ApiGatewayV2::Stage",
                    "Properties": {"ApiId": {"Ref": "Api"}, "StageName": {"Ref": "Stage"}}},
                "Domain": {"Type": "AWS::ApiGatewayV2::DomainName",
                    "Properties": {"DomainName": "api.example.com"}},
                "Mapping": {"Type": "AWS::ApiGatewayV2::ApiMapping", "Properties": {
                    "ApiId": {"Ref": "Api"}, "DomainName": {"Ref": "Domain"}, "Stage": {"Ref": "ApiStage"}}}
            }
        }))
    }

    #[test]
    fn intrinsics_resolve_to_names_and_arns() {
        let t = template();
        let table = "arn:aws:dynamodb:us-east-1:123456789012:table/T";
        assert_eq!(t.resolve(&json!({"Fn::GetAtt": "T.Arn"})).unwrap(), table);
        assert_eq!(
            t.resolve(&json!({"Fn::GetAtt": ["T", "Arn"]})).unwrap(),
            table
        );
        assert_eq!(
            t.resolve(&json!({"Fn::Sub": "${T.Arn}/index/${Name}"}))
                .unwrap_err(),
            "no resource Name in the transformed template"
        );
        assert_eq!(
            t.resolve(&json!({"Fn::Sub": ["${T.Arn}/index/${Name}", {"Name": "ByCard"}]}))
                .unwrap(),
            format!("{table}/index/ByCard")
        );
        assert_eq!(t.resolve(&json!({"Ref": "T"})).unwrap(), "T");
        assert_eq!(
            t.resolve(&json!({"Ref": "Q"})).unwrap(),
            "https://sqs.us-east-1.amazonaws.com/123456789012/Q"
        );
        assert_eq!(t.resolve(&json!({"Ref": "Stage"})).unwrap(), "v1");
        assert_eq!(
            t.resolve(&json!({"Fn::Join": [":", ["a", {"Ref": "AWS::Region"}]]}))
                .unwrap(),
            "a:us-east-1"
        );
        assert_eq!(
            t.env_var("F", "QUEUE").unwrap(),
            "arn:aws:sqs:us-east-1:123456789012:Q"
        );
    }

    #[test]
    fn a_functions_statements_are_its_roles_inline_managed_and_attached_policies() {
        let s = template().statements_of("F").unwrap();
        let actions: Vec<&str> = s
            .iter()
            .flat_map(|s| &s.actions)
            .map(String::as_str)
            .collect();
        assert_eq!(
            actions,
            [
                "dynamodb:Query",
                "logs:CreateLogGroup",
                "logs:CreateLogStream",
                "logs:PutLogEvents",
                "sqs:SendMessage"
            ]
        );
        assert_eq!(
            s[0].resources,
            ["arn:aws:dynamodb:us-east-1:123456789012:table/T/index/*"]
        );
    }

    #[test]
    fn routes_lead_to_the_integrations_function_on_each_stage() {
        let t = template();
        let routes = t.routes().unwrap();
        assert_eq!(routes.len(), 1);
        assert_eq!(
            (
                routes[0].api.as_str(),
                routes[0].method.as_str(),
                routes[0].path.as_str(),
                routes[0].function.as_str()
            ),
            ("Api", "GET", "/v1/things/{id}", "F")
        );
        assert_eq!(t.stages("Api").unwrap(), ["v1"]);
        let entrance = |domain: &str, prefix: &str| Entrance {
            domain: domain.into(),
            stage: "v1".into(),
            path_prefix: prefix.into(),
        };
        assert_eq!(
            t.entrances("Api").unwrap(),
            [
                entrance("api.execute-api.us-east-1.amazonaws.com", "/v1"),
                entrance("api.example.com", "")
            ]
        );
    }
}
