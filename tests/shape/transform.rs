//! `template.yaml` through the SAM transform (`tools/sam-transform.py`, with
//! the pinned samtranslator of `local/lambda-tools.sh`), and the same
//! template with one policy statement taken out (the mutation check).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde_json::Value;

use crate::cfn::Cfn;

fn repo_root() -> PathBuf {
    devstack::repo_root()
}

/// The Python of the pinned Lambda tools (aws-sam-cli brings samtranslator).
fn python() -> PathBuf {
    let out = Command::new(repo_root().join("local/lambda-tools.sh"))
        .arg("bin")
        .output()
        .expect("local/lambda-tools.sh runs");
    let bin = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let python = Path::new(&bin).join("python");
    assert!(
        python.exists(),
        "{} is missing: run `local/lambda-tools.sh install` (./dev.sh test does)",
        python.display()
    );
    python
}

/// The CloudFormation template `path` becomes after the SAM transform.
pub fn transform(path: &Path) -> Cfn {
    let out = Command::new(python())
        .arg(repo_root().join("tools/sam-transform.py"))
        .arg(path)
        .output()
        .expect("tools/sam-transform.py runs");
    assert!(
        out.status.success(),
        "SAM transform of {} failed:\n{}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    Cfn::new(serde_json::from_slice(&out.stdout).expect("the transform prints JSON"))
}

/// This repository's `template.yaml`, transformed once per test binary.
pub fn deployed() -> &'static Cfn {
    static DEPLOYED: OnceLock<Cfn> = OnceLock::new();
    DEPLOYED.get_or_init(|| transform(&repo_root().join("template.yaml")))
}

/// `template.yaml` without the policy statements of `function` that grant
/// `action`, transformed. Panics if there was none to take out (the check
/// would prove nothing).
pub fn deployed_without(function: &str, action: &str) -> Cfn {
    let text = std::fs::read_to_string(repo_root().join("template.yaml")).unwrap();
    let mut template: Value = serde_yaml::from_str(&text).expect("template.yaml is YAML");
    let policies = &mut template["Resources"][function]["Properties"]["Policies"];
    let mut removed = 0;
    for policy in policies.as_array_mut().into_iter().flatten() {
        if let Some(statements) = policy["Statement"].as_array_mut() {
            let before = statements.len();
            statements.retain(|s| !grants(s, action));
            removed += before - statements.len();
        }
    }
    assert!(removed > 0, "{function} has no statement granting {action}");
    // JSON is YAML: the script reads it as it reads the template.
    let path = std::env::temp_dir().join(format!(
        "template-without-{function}-{}-{}.json",
        action.replace(':', "-"),
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::write(&path, serde_json::to_string_pretty(&template).unwrap()).unwrap();
    let cfn = transform(&path);
    let _ = std::fs::remove_file(&path);
    cfn
}

fn grants(statement: &Value, action: &str) -> bool {
    match &statement["Action"] {
        Value::String(a) => a == action,
        Value::Array(list) => list.iter().any(|a| a == action),
        _ => false,
    }
}
