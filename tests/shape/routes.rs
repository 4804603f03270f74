//! The HTTP API and the event sources as deployed: every route, on every
//! stage, reaches its function's own handler and may invoke it; the worker is
//! fed by both queues, which dead-letter what keeps failing.

use integration_tests::*;
use serde_json::{json, Value};

use crate::cfn::{Cfn, Entrance, Route, ACCOUNT, REGION};
use crate::flows::{API, WEBHOOK, WORKER};
use crate::iam;
use crate::transform::deployed;

/// The value a route's path parameter takes in these calls: the network the
/// webhook serves, any id elsewhere.
fn sample(parameter: &str) -> String {
    match parameter {
        "network" => clearing_webhook::CARD_NETWORKS[0].to_ascii_lowercase(),
        other => format!("sample-{other}"),
    }
}

/// The route's path with its parameters filled in, and the parameters.
fn concrete_path(route: &Route) -> (String, serde_json::Map<String, Value>) {
    let mut params = serde_json::Map::new();
    let path = route
        .path
        .split('/')
        .map(
            |segment| match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(name) => {
                    params.insert(name.to_owned(), Value::String(sample(name)));
                    sample(name)
                }
                None => segment.to_owned(),
            },
        )
        .collect::<Vec<_>>()
        .join("/");
    (path, params)
}

/// The payload 2.0 event API Gateway sends the integration for `route`
/// arriving through `entrance`, without credentials.
fn gateway_event(route: &Route, entrance: &Entrance) -> lambda_http::Request {
    let (path, params) = concrete_path(route);
    let raw_path = format!("{}{path}", entrance.path_prefix);
    let route_key = format!("{} {}", route.method, route.path);
    let domain = &entrance.domain;
    let mut event = json!({
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": raw_path,
        "rawQueryString": "",
        "headers": {"content-type": "application/json", "host": domain},
        "pathParameters": params,
        "requestContext": {
            "accountId": ACCOUNT, "apiId": route.api.to_lowercase(), "domainName": domain,
            "domainPrefix": domain.split('.').next(),
            "http": {"method": route.method, "path": raw_path, "protocol": "HTTP/1.1",
                     "sourceIp": "203.0.113.10", "userAgent": "deployed-shape-test"},
            "requestId": uuid::Uuid::new_v4().to_string(), "routeKey": route_key,
            "stage": entrance.stage,
            "time": "22/Nov/2026:10:00:00 +0000", "timeEpoch": 1795000000000i64
        },
        "isBase64Encoded": false
    });
    if route.method != "GET" {
        event["body"] = Value::String("{}".into());
    }
    if params.is_empty() {
        event.as_object_mut().unwrap().remove("pathParameters");
    }
    lambda_http::request::from_str(&event.to_string()).expect("a valid payload 2.0 event")
}

/// The binary a function is built from (`Metadata.BuildProperties.Binary`).
fn binary(cfn: &Cfn, function: &str) -> String {
    cfn.resource(function).unwrap()["Metadata"]["BuildProperties"]["Binary"]
        .as_str()
        .unwrap_or_else(|| panic!("{function} names no binary"))
        .to_owned()
}

#[tokio::test]
async fn every_route_on_every_stage_reaches_its_functions_own_handler() {
    let cfn = deployed();
    let routes = cfn.routes().unwrap();
    assert!(routes.len() >= 6, "{routes:?}");
    let stack = TestStack::new().await;
    let (webhook, api) = (stack.webhook(), stack.api());
    let mut answers = Vec::new();
    for route in &routes {
        let entrances = cfn.entrances(&route.api).unwrap();
        assert!(!entrances.is_empty(), "{} has no stage", route.api);
        for entrance in entrances {
            let request = gateway_event(route, &entrance);
            let response = match binary(cfn, &route.function).as_str() {
                "clearing-webhook" => clearing_webhook::handle(&webhook, request).await,
                "reconciliation-api" => reconciliation_api::handle(&api, request).await,
                other => panic!("{route:?}: {other} has no HTTP handler"),
            }
            .unwrap();
            if route.path.starts_with("/console") {
                // The console's static files need no token: the function's own answer.
                if response.headers().get("content-security-policy").is_none() {
                    answers.push(format!(
                        "{} {}: not the console's answer",
                        route.method, route.path
                    ));
                }
                continue;
            }
            let body = response_json(&response);
            let answer = format!(
                "{:>45} {:<6} {:<45} -> {} {}",
                format!("{}{}", entrance.domain, entrance.path_prefix),
                route.method,
                route.path,
                response.status(),
                body["code"]
            );
            println!("{answer}");
            // Without credentials the function's own 401 (BTN01xx), never its route-not-found.
            let code = body["code"].as_str().unwrap_or_default();
            if response.status() != 401 || !code.starts_with("BTN01") {
                answers.push(format!("{answer}  {body}"));
            }
        }
    }
    assert!(
        answers.is_empty(),
        "not answered by the handler:\n{}",
        answers.join("\n")
    );
}

/// API Gateway may invoke each route's function: a Lambda permission whose
/// source ARN covers the route on its stage.
#[test]
fn api_gateway_may_invoke_the_function_of_every_route() {
    let cfn = deployed();
    for route in cfn.routes().unwrap() {
        let (path, _) = concrete_path(&route);
        let api_id = cfn.reference(&route.api).unwrap();
        for stage in cfn.stages(&route.api).unwrap() {
            let source = format!(
                "arn:aws:execute-api:{REGION}:{ACCOUNT}:{api_id}/{stage}/{}{path}",
                route.method
            );
            let permitted = cfn.of_type("AWS::Lambda::Permission").any(|(_, p)| {
                let p = &p["Properties"];
                Cfn::target(&p["FunctionName"]) == Some(route.function.as_str())
                    && p["Action"] == "lambda:InvokeFunction"
                    && p["Principal"] == "apigateway.amazonaws.com"
                    && iam::wildcard(&cfn.resolve(&p["SourceArn"]).unwrap(), &source)
            });
            assert!(
                permitted,
                "nothing lets API Gateway invoke {} for {source}",
                route.function
            );
        }
    }
}

/// The worker reads a record as what its source queue carries (by
/// `eventSourceARN`): both queues must feed it, in batches of 10 with partial
/// batch failures, and each must dead-letter what keeps failing.
#[test]
fn the_worker_is_fed_by_both_queues_with_partial_failures_and_dead_letters() {
    let cfn = deployed();
    let sources = cfn.event_sources(WORKER);
    assert_eq!(sources.len(), 2, "{sources:?}");
    let timeout = cfn.resource(WORKER).unwrap()["Properties"]["Timeout"]
        .as_u64()
        .unwrap();
    for (variable, queue, dead_letters) in [
        (
            "REPROCESSING_QUEUE_ARN",
            "ReprocessingQueue",
            "ReprocessingDeadLetterQueue",
        ),
        (
            "PIX_INPUT_QUEUE_ARN",
            "PixInputQueue",
            "PixInputDeadLetterQueue",
        ),
    ] {
        let arn = cfn.env_var(WORKER, variable).unwrap();
        assert_eq!(arn, cfn.arn(queue).unwrap(), "{variable}");
        let source = sources
            .iter()
            .find(|s| cfn.resolve(&s["EventSourceArn"]).as_deref() == Ok(arn.as_str()))
            .unwrap_or_else(|| panic!("no event source mapping from {queue}"));
        assert_eq!(source["BatchSize"], 10, "{queue}");
        assert!(
            source["FunctionResponseTypes"]
                .as_array()
                .is_some_and(|t| t.iter().any(|t| t == "ReportBatchItemFailures")),
            "{queue}: {source}"
        );
        let properties = &cfn.resource(queue).unwrap()["Properties"];
        let redrive = &properties["RedrivePolicy"];
        assert_eq!(
            cfn.resolve(&redrive["deadLetterTargetArn"]).unwrap(),
            cfn.arn(dead_letters).unwrap(),
            "{queue}"
        );
        assert!(
            redrive["maxReceiveCount"].as_u64().is_some_and(|n| n > 0),
            "{queue}"
        );
        // AWS guidance for SQS event sources: visibility at least 6x the function's timeout.
        let visibility = properties["VisibilityTimeout"].as_u64().unwrap();
        assert!(
            visibility >= 6 * timeout,
            "{queue}: {visibility} s for a {timeout} s function"
        );
    }
    for function in [WEBHOOK, API] {
        assert!(cfn.event_sources(function).is_empty(), "{function}");
    }
}
