use serde_json::{json, Value};

use super::*;
use crate::clearing::ManualAction;

/// The files that declare detail-types: every `pub const NAME: &str = "...";`
/// in them whose name does not end in `_SOURCE` is one.
const DECLARING_FILES: [&str; 3] = [
    include_str!("../events.rs"),
    include_str!("../pix/event.rs"),
    include_str!("../event_catalogue.rs"),
];

fn declared_detail_types() -> Vec<String> {
    let mut found = Vec::new();
    for file in DECLARING_FILES {
        for line in file.lines() {
            let Some(rest) = line.trim().strip_prefix("pub const ") else {
                continue;
            };
            let Some((name, value)) = rest.split_once(": &str = ") else {
                continue;
            };
            if name.ends_with("_SOURCE") {
                continue;
            }
            found.push(value.trim_end_matches(';').trim_matches('"').to_string());
        }
    }
    found
}

#[test]
fn every_declared_detail_type_is_documented() {
    let declared = declared_detail_types();
    assert!(declared.len() >= ALL_EVENTS.len(), "{declared:?}");
    for detail_type in &declared {
        assert!(
            ALL_EVENTS.iter().any(|e| e.detail_type == detail_type),
            "{detail_type} is emitted but not in ALL_EVENTS"
        );
    }
    for e in ALL_EVENTS {
        assert!(declared.iter().any(|d| d == e.detail_type), "{e:?}");
    }
}

#[test]
fn every_manual_action_event_is_documented() {
    // A new action breaks this match, so it cannot be forgotten here.
    let all = |a: ManualAction| match a {
        ManualAction::ForceMatch
        | ManualAction::UndoMatch
        | ManualAction::WriteOffRequested
        | ManualAction::WriteOffApproved
        | ManualAction::WriteOffRejected => a,
    };
    for action in [
        ManualAction::ForceMatch,
        ManualAction::UndoMatch,
        ManualAction::WriteOffRequested,
        ManualAction::WriteOffApproved,
        ManualAction::WriteOffRejected,
    ] {
        let detail_type = manual_event_type(all(action));
        assert!(
            documented(CLEARING_EVENT_SOURCE, detail_type).is_some(),
            "{detail_type}"
        );
    }
}

/// The subset of EventBridge patterns the sample rules use: arrays of exact
/// values, `{"prefix": ..}`, `{"exists": ..}`, nested objects.
fn matches(pattern: &Value, event: &Value) -> bool {
    let (Some(pattern), Some(event)) = (pattern.as_object(), event.as_object()) else {
        return false;
    };
    pattern.iter().all(|(key, want)| {
        let got = event.get(key);
        match want {
            Value::Object(_) => got.is_some_and(|g| matches(want, g)),
            Value::Array(options) => options.iter().any(|o| match (o, got) {
                (Value::Object(op), got) => match (op.get("prefix"), op.get("exists")) {
                    (Some(Value::String(p)), _) => got
                        .and_then(Value::as_str)
                        .is_some_and(|g| g.starts_with(p)),
                    (_, Some(Value::Bool(e))) => got.is_some() == *e,
                    _ => false,
                },
                (o, Some(g)) => o == g,
                (_, None) => false,
            }),
            _ => false,
        }
    })
}

use super::examples_tests::examples;

#[test]
fn each_example_is_documented_and_selected_by_its_rule() {
    let examples = examples();
    for example in &examples {
        let own = documented(&example.source, &example.detail_type)
            .unwrap_or_else(|| panic!("{} is not documented", example.detail_type));
        for e in ALL_EVENTS {
            assert_eq!(
                matches(&e.rule(), &envelope(example)),
                e == own,
                "rule of {} against the example of {}",
                e.detail_type,
                example.detail_type
            );
        }
    }
    // The README's alerting rule selects the seed's pending event.
    let alert = json!({"source": ["clearing"], "detail-type": ["clearing_message.pending"],
        "detail": {"pending_reason": {"code": ["AUTHORIZATION_NOT_FOUND"]}}});
    assert!(
        matches(&alert, &envelope(&examples[0])),
        "{}",
        examples[0].detail
    );
}

#[test]
fn every_documented_detail_type_has_an_example_made_by_the_code() {
    let examples = examples();
    for e in ALL_EVENTS {
        assert!(
            examples
                .iter()
                .any(|x| x.source == e.source && x.detail_type == e.detail_type),
            "no example of {} / {}",
            e.source,
            e.detail_type
        );
    }
}

#[test]
fn each_example_is_the_entry_the_bus_adapter_sends() {
    for example in examples() {
        let entry = crate::adapters::eventbridge::put_events_entry("ReconciliationBus", &example);
        let seen = envelope(&example);
        assert_eq!(seen["source"], example.source);
        assert_eq!(seen["detail-type"], example.detail_type);
        assert_eq!(seen["resources"], json!([example.resource()]));
        assert_eq!(entry.detail(), Some(example.detail.as_str()));
        let detail: Value = serde_json::from_str(&example.detail).unwrap();
        assert_eq!(seen["detail"], detail);
        // Every clearing and Pix event carries its stable id in `resources`.
        assert!(example.resource().ends_with(&example.id.to_string()));
    }
}

fn bare(e: &DocumentedEvent) -> Value {
    json!({"source": e.source, "detail-type": e.detail_type, "detail": {}})
}

#[test]
fn each_sample_rule_matches_its_event_and_no_other() {
    for e in ALL_EVENTS {
        for other in ALL_EVENTS {
            assert_eq!(
                matches(&e.rule(), &bare(other)),
                e == other,
                "rule of {} against {}",
                e.detail_type,
                other.detail_type
            );
        }
    }
}

#[test]
fn the_matcher_refuses_what_a_rule_does_not_select() {
    let rule = json!({"source": ["clearing"], "detail": {"code": [{"prefix": "AUTH"}], "x": [{"exists": false}]}});
    let event = |code: &str| json!({"source": "clearing", "detail": {"code": code}});
    assert!(matches(&rule, &event("AUTHORIZATION_NOT_FOUND")));
    assert!(!matches(&rule, &event("AMOUNT")));
    assert!(!matches(
        &rule,
        &json!({"source": "clearing", "detail": {"code": "AUTH", "x": 1}})
    ));
    assert!(!matches(
        &rule,
        &json!({"source": "pix", "detail": {"code": "AUTH"}})
    ));
}

#[test]
fn docs_events_md_is_rendered_from_the_catalogue() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/events.md");
    let rendered = render_markdown(&examples());
    if std::env::var_os("UPDATE_EVENT_DOCS").is_some() {
        std::fs::write(path, &rendered).expect("write docs/events.md");
    }
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        committed == rendered,
        "docs/events.md differs from the catalogue: run with UPDATE_EVENT_DOCS=1"
    );
}

/// The sample rules of the README's Events section (its ```json blocks).
fn readme_rules() -> Vec<Value> {
    let readme = include_str!("../../../README.md");
    let start = readme
        .find("\n## Events\n")
        .expect("README has an Events section");
    let section = &readme[start + 1..];
    let section = &section[..section[1..].find("\n## ").map_or(section.len(), |i| i + 1)];
    section
        .split("```json\n")
        .skip(1)
        .map(|block| serde_json::from_str(&block[..block.find("```").unwrap()]).unwrap())
        .collect()
}

#[test]
fn each_readme_rule_selects_an_example_made_by_the_code() {
    let rules = readme_rules();
    assert!(rules.len() >= 4, "{rules:?}");
    let examples = examples();
    for rule in rules {
        assert!(
            examples.iter().any(|e| matches(&rule, &envelope(e))),
            "the README's rule {rule} selects none of the examples"
        );
    }
}
