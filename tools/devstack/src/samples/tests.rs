//! The committed samples are the builder's, and API Gateway's named-stage shape.

use super::*;
use crate::local_settings;

fn built() -> Vec<Sample> {
    let settings = Env::from_pairs(local_settings().unwrap());
    sample_events(&HttpApi::repo_default().unwrap(), &settings).unwrap()
}

#[test]
fn the_committed_samples_are_what_the_builder_makes() {
    let samples = built();
    let stale = stale_samples(&crate::repo_root().join("events"), &samples);
    assert!(
        stale.is_empty(),
        "{stale:?} differ from what `devstack sample-events` makes: run it and commit the result"
    );
}

#[test]
fn api_gateway_samples_are_named_stage_payloads_of_template_routes() {
    let api = HttpApi::repo_default().unwrap();
    let http: Vec<Sample> = built()
        .into_iter()
        .filter(|s| s.event.get("version").is_some())
        .collect();
    assert_eq!(http.len(), 8);
    for Sample { file, event } in &http {
        let context = &event["requestContext"];
        assert_eq!(context["stage"], "v1", "{file}");
        let raw_path = event["rawPath"].as_str().unwrap();
        assert!(raw_path.starts_with("/v1/v1/"), "{file}: {raw_path}");
        assert_eq!(context["http"]["path"], raw_path, "{file}");
        let key = event["routeKey"].as_str().unwrap();
        assert!(
            api.routes().iter().any(|r| r.key() == key),
            "{file}: {key} is a route of the template"
        );
        assert_eq!(context["routeKey"], key, "{file}");
        assert_eq!(
            event.get("pathParameters").is_some(),
            key.contains('{'),
            "{file}"
        );
    }
    let webhook = &http[0].event;
    assert_eq!(webhook["pathParameters"]["network"], "mastercard");
    assert_eq!(
        webhook["requestContext"]["authentication"]["clientCert"]["subjectDN"],
        "CN=clearing.mastercard.com"
    );
}
