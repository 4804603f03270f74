//! The payload as API Gateway builds it, and answers mapped back.

use std::collections::BTreeMap;

use lambda_http::RequestExt;

use super::*;
use crate::http_api::HttpRoute;

fn matched(method: &str, path: &str, params: &[(&str, &str)]) -> RouteMatch {
    RouteMatch {
        route: HttpRoute {
            function: "F".into(),
            method: method.into(),
            path: path.into(),
        },
        path_parameters: params
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<BTreeMap<_, _>>(),
    }
}

fn invocation() -> Invocation {
    Invocation {
        time: "2026-11-22T10:00:00Z".parse().unwrap(),
        request_id: "r-1".into(),
        ..Invocation::now("203.0.113.10")
    }
}

#[test]
fn a_named_stage_request_carries_its_stage_route_key_and_path_parameters() {
    let request = HttpRequest::new(
        "GET",
        "/v1/v1/clearing-messages/abc?card_hash=a%2Bb&s=x+y&k=1&k=2&flag",
    )
    .header("Host", "127.0.0.1:3000")
    .header("User-Agent", "curl/8")
    .header("X-Many", "a")
    .header("x-many", "b")
    .header("Cookie", "a=1; b=2");
    let m = matched(
        "GET",
        "/v1/clearing-messages/{clearingUniqueId}",
        &[("clearingUniqueId", "abc")],
    );
    let event = payload("v1", Some(&m), &request, &invocation());
    assert_eq!(event["version"], "2.0");
    assert_eq!(
        event["routeKey"],
        "GET /v1/clearing-messages/{clearingUniqueId}"
    );
    assert_eq!(event["rawPath"], "/v1/v1/clearing-messages/abc");
    assert_eq!(
        event["rawQueryString"],
        "card_hash=a%2Bb&s=x+y&k=1&k=2&flag"
    );
    assert_eq!(
        event["queryStringParameters"],
        json!({"card_hash": "a+b", "s": "x y", "k": "1,2", "flag": ""})
    );
    assert_eq!(event["pathParameters"], json!({"clearingUniqueId": "abc"}));
    assert_eq!(
        event["headers"],
        json!({"host": "127.0.0.1:3000", "user-agent": "curl/8", "x-many": "a,b"})
    );
    assert_eq!(event["cookies"], json!(["a=1", "b=2"]));
    let context = &event["requestContext"];
    assert_eq!(context["stage"], "v1");
    assert_eq!(context["routeKey"], event["routeKey"]);
    assert_eq!(
        (
            context["domainName"].as_str(),
            context["domainPrefix"].as_str()
        ),
        (Some("127.0.0.1"), Some("127"))
    );
    assert_eq!(
        context["http"],
        json!({"method": "GET", "path": "/v1/v1/clearing-messages/abc", "protocol": "HTTP/1.1",
               "sourceIp": "203.0.113.10", "userAgent": "curl/8"})
    );
    assert_eq!(
        (context["requestId"].as_str(), context["accountId"].as_str()),
        (Some("r-1"), Some(LOCAL_ACCOUNT_ID))
    );
    assert_eq!(context["time"], "22/Nov/2026:10:00:00 +0000");
    assert_eq!(context["timeEpoch"], 1_795_341_600_000i64);
    assert!(event.get("body").is_none(), "no body, no field");
    assert_eq!(event["isBase64Encoded"], false);

    // lambda_http reads it as a deployed function does.
    let parsed = lambda_http::request::from_str(&event.to_string()).unwrap();
    assert_eq!(parsed.raw_http_path(), "/v1/v1/clearing-messages/abc");
    assert_eq!(
        parsed.query_string_parameters().first("card_hash"),
        Some("a+b")
    );
    assert_eq!(
        parsed.path_parameters().first("clearingUniqueId"),
        Some("abc")
    );
    assert_eq!(parsed.headers()["cookie"], "a=1; b=2");
}

#[test]
fn bodies_are_text_or_base64_and_the_default_route_has_no_parameters() {
    let text = HttpRequest::new("POST", "/x").body("{\"a\": 1}");
    let event = payload("$default", None, &text, &invocation());
    assert_eq!(
        (event["body"].as_str(), &event["isBase64Encoded"]),
        (Some("{\"a\": 1}"), &json!(false))
    );
    assert_eq!(event["routeKey"], "$default");
    assert_eq!(event["requestContext"]["stage"], "$default");
    for absent in ["pathParameters", "queryStringParameters", "cookies"] {
        assert!(event.get(absent).is_none(), "{absent}");
    }
    let binary = HttpRequest::new("POST", "/x").body(vec![0xff, 0x00, 0x41]);
    let event = payload("$default", None, &binary, &invocation());
    assert_eq!(
        (event["body"].as_str(), &event["isBase64Encoded"]),
        (Some("/wBB"), &json!(true))
    );
    let parsed = lambda_http::request::from_str(&event.to_string()).unwrap();
    assert_eq!(parsed.body().as_ref(), [0xff, 0x00, 0x41]);
}

#[test]
fn answers_map_back_as_api_gateway_maps_them() {
    let answer = json!({
        "statusCode": 202,
        "headers": {"content-type": "application/json", "x-one": "1"},
        "multiValueHeaders": {},
        "cookies": ["a=1; Path=/", "b=2"],
        "body": "{\"ok\":true}",
        "isBase64Encoded": false
    });
    let response = http_response(&answer);
    assert_eq!(response.status(), 202);
    assert_eq!(response.headers()["x-one"], "1");
    let cookies: Vec<_> = response.headers().get_all("set-cookie").iter().collect();
    assert_eq!(cookies, ["a=1; Path=/", "b=2"]);
    assert_eq!(response.body(), b"{\"ok\":true}");

    let binary = json!({"statusCode": 200, "body": "/wBB", "isBase64Encoded": true, "cookies": []});
    assert_eq!(http_response(&binary).body(), &[0xff, 0x00, 0x41]);

    // Valid JSON without statusCode: 200, the JSON as the body.
    let bare = http_response(&json!({"hello": "world"}));
    assert_eq!(
        (bare.status().as_u16(), bare.body().as_slice()),
        (200, &b"{\"hello\":\"world\"}"[..])
    );

    for broken in [
        json!({"statusCode": "x"}),
        json!({"statusCode": 200, "body": "!", "isBase64Encoded": true}),
    ] {
        let r = http_response(&broken);
        assert_eq!(
            (r.status().as_u16(), r.body().as_slice()),
            (500, &b"{\"message\":\"Internal Server Error\"}"[..])
        );
    }
    assert_eq!(gateway_answer(404).body(), b"{\"message\":\"Not Found\"}");
}
