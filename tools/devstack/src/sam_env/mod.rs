//! What `sam local start-api` / `sam local invoke` need to run the template's
//! functions on the local stack (`devstack-sam`, `./dev.sh sam-local`):
//!
//! - a folder SAM reads as built code: one `<LogicalId>/bootstrap` per
//!   function (its binary, linked from a cargo target folder) and
//!   `template.yaml`, the repository's template with each `CodeUri` pointing
//!   there (what `sam build` writes into `.aws-sam/build`);
//! - `env-vars.json` for `--env-vars`, SAM's format
//!   `{"FunctionLogicalId": {"VAR": "value"}}`, from the same environment the
//!   local runner gives the functions ([`crate::lambda_env`]).
//!
//! SAM passes a function only the variables its template declares (an
//! `--env-vars` entry for any other name is dropped), and passes a CloudFormation
//! dynamic reference (`{{resolve:secretsmanager:...}}`) unresolved, as text.
//! Hence: every local-only name (the local endpoints, Secrets Manager's
//! included: the functions read their secrets from moto at init by the ARNs
//! the template declares) is declared, blank, on every function of the
//! generated template, and every declared variable that holds a dynamic
//! reference and has no local value is given "" (absent: a placeholder must
//! never become a key or a secret).

mod relay;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_yaml::Value;

use crate::DevstackError;

pub use relay::{relay_endpoints, with_host, Relay};

pub const SERVERLESS_FUNCTION: &str = "AWS::Serverless::Function";

/// A function of the template, as `sam local` runs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SamFunction {
    pub logical: String,
    /// The cargo binary `sam build` puts in its `bootstrap` (`Metadata.BuildProperties.Binary`).
    pub binary: String,
    /// Its environment variables (the template's `Globals` and its own): name -> template value.
    pub declared: BTreeMap<String, Value>,
}

/// What [`write_sam_local`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SamLocal {
    pub dir: PathBuf,
    pub template: PathBuf,
    pub env_vars: PathBuf,
    /// Declared variables given "" because the template resolves them from a
    /// secret the local run does not have: `Function.VAR`.
    pub blanked: Vec<String>,
}

/// The template's functions, in logical id order.
pub fn sam_functions(doc: &Value) -> Result<Vec<SamFunction>, DevstackError> {
    let globals = variables(&doc["Globals"]["Function"]);
    let resources = doc["Resources"]
        .as_mapping()
        .ok_or_else(|| DevstackError::Template("no Resources".into()))?;
    let mut functions = Vec::new();
    for (logical, resource) in resources {
        if resource["Type"].as_str() != Some(SERVERLESS_FUNCTION) {
            continue;
        }
        let logical = logical.as_str().unwrap_or_default().to_owned();
        let binary = resource["Metadata"]["BuildProperties"]["Binary"]
            .as_str()
            .ok_or_else(|| {
                DevstackError::Template(format!(
                    "{logical}: no Metadata.BuildProperties.Binary (the cargo binary of its bootstrap)"
                ))
            })?
            .to_owned();
        let mut declared = globals.clone();
        declared.extend(variables(&resource["Properties"]));
        functions.push(SamFunction {
            logical,
            binary,
            declared,
        });
    }
    functions.sort_by(|a, b| a.logical.cmp(&b.logical));
    Ok(functions)
}

fn variables(function_properties: &Value) -> BTreeMap<String, Value> {
    function_properties["Environment"]["Variables"]
        .as_mapping()
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| Some((k.as_str()?.to_owned(), v.clone())))
        .collect()
}

/// A template value CloudFormation resolves from a secret or parameter store at deploy time.
fn is_dynamic_reference(value: &Value) -> bool {
    let text = match value {
        Value::String(s) => s.as_str(),
        Value::Mapping(m) if m.len() == 1 => m
            .get(Value::String("Fn::Sub".into()))
            .and_then(Value::as_str)
            .unwrap_or_default(),
        _ => "",
    };
    text.contains("{{resolve:")
}

/// The names of `env` that no function declares: local-only settings.
fn local_only<'a>(functions: &[SamFunction], env: &'a [(String, String)]) -> BTreeSet<&'a str> {
    env.iter()
        .map(|(k, _)| k.as_str())
        .filter(|k| !functions.iter().any(|f| f.declared.contains_key(*k)))
        .collect()
}

/// The `--env-vars` document, and the `Function.VAR`s given "" (see the module doc).
pub fn sam_env_vars(
    functions: &[SamFunction],
    env: &[(String, String)],
) -> (serde_json::Value, Vec<String>) {
    // A later pair wins, as in `shared::config::Env::from_pairs`.
    let values: BTreeMap<&str, &str> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let local_only = local_only(functions, env);
    let mut doc = serde_json::Map::new();
    let mut blanked = Vec::new();
    for f in functions {
        let mut vars = serde_json::Map::new();
        for (name, template_value) in &f.declared {
            if let Some(value) = values.get(name.as_str()) {
                vars.insert(name.clone(), (*value).into());
            } else if is_dynamic_reference(template_value) {
                vars.insert(name.clone(), "".into());
                blanked.push(format!("{}.{name}", f.logical));
            }
        }
        for name in &local_only {
            vars.insert((*name).to_owned(), values[name].into());
        }
        doc.insert(f.logical.clone(), vars.into());
    }
    (doc.into(), blanked)
}

/// The template as `sam local` reads it from `dir`: each function's code is
/// `<LogicalId>/` (no build metadata: it is built), and every local-only name
/// of `env` is declared, blank, on every function (`--env-vars` fills it).
pub fn sam_local_template(
    doc: &Value,
    functions: &[SamFunction],
    env: &[(String, String)],
) -> Value {
    let local_only = local_only(functions, env);
    let mut doc = doc.clone();
    for f in functions {
        let resource = &mut doc["Resources"][f.logical.as_str()];
        if let Some(r) = resource.as_mapping_mut() {
            r.remove("Metadata");
        }
        let properties = &mut resource["Properties"];
        properties["CodeUri"] = f.logical.clone().into();
        for name in &local_only {
            if !properties["Environment"]["Variables"].is_mapping() {
                properties["Environment"]["Variables"] = Value::Mapping(Default::default());
            }
            properties["Environment"]["Variables"][*name] = "".into();
        }
    }
    doc
}

/// `env` as the function containers need it: the local endpoints
/// (`AWS_ENDPOINT_URL_*`) at `host`, the address they reach this machine at
/// (see [`relay_endpoints`]).
pub fn container_env(env: &[(String, String)], host: &str) -> Vec<(String, String)> {
    env.iter()
        .map(|(k, v)| match k.starts_with("AWS_ENDPOINT_URL") {
            true => (k.clone(), with_host(v, host)),
            false => (k.clone(), v.clone()),
        })
        .collect()
}

/// Writes the folder `sam local` runs from (see the module doc) into `dir`:
/// `template.yaml`, `env-vars.json` and each function's `bootstrap`, a hard
/// link to `binaries/<binary>` (a copy across file systems).
pub fn write_sam_local(
    template: &Path,
    dir: &Path,
    binaries: &Path,
    env: &[(String, String)],
) -> Result<SamLocal, DevstackError> {
    let text = std::fs::read_to_string(template).map_err(|source| DevstackError::Read {
        path: template.to_owned(),
        source,
    })?;
    let doc: Value = serde_yaml::from_str(&text).map_err(|source| DevstackError::Yaml {
        path: template.to_owned(),
        source,
    })?;
    let functions = sam_functions(&doc)?;
    let write_error = |path: &Path, e: std::io::Error| DevstackError::Read {
        path: path.to_owned(),
        source: e,
    };
    for f in &functions {
        let code = dir.join(&f.logical);
        std::fs::create_dir_all(&code).map_err(|e| write_error(&code, e))?;
        let (from, to) = (binaries.join(&f.binary), code.join("bootstrap"));
        if !from.is_file() {
            return Err(DevstackError::Template(format!(
                "{}: {} is not built (cargo build -p {})",
                f.logical,
                from.display(),
                f.binary
            )));
        }
        // A fresh link each time: cargo replaces the binary rather than rewriting it.
        let _ = std::fs::remove_file(&to);
        if std::fs::hard_link(&from, &to).is_err() {
            std::fs::copy(&from, &to).map_err(|e| write_error(&to, e))?;
        }
    }
    let local = sam_local_template(&doc, &functions, env);
    let yaml = serde_yaml::to_string(&local).map_err(|source| DevstackError::Yaml {
        path: template.to_owned(),
        source,
    })?;
    let (env_vars, blanked) = sam_env_vars(&functions, env);
    let out = SamLocal {
        dir: dir.to_owned(),
        template: dir.join("template.yaml"),
        env_vars: dir.join("env-vars.json"),
        blanked,
    };
    let json = serde_json::to_string_pretty(&env_vars).unwrap_or_default();
    std::fs::write(&out.template, yaml).map_err(|e| write_error(&out.template, e))?;
    std::fs::write(&out.env_vars, json).map_err(|e| write_error(&out.env_vars, e))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEMPLATE: &str = r#"
Globals:
  Function:
    Environment:
      Variables:
        RUST_LOG: info
        TABLE_NAME:
          Ref: Table
Resources:
  Table:
    Type: AWS::DynamoDB::Table
  Hook:
    Type: AWS::Serverless::Function
    Metadata:
      BuildMethod: rust-cargolambda
      BuildProperties:
        Binary: hook
    Properties:
      CodeUri: .
      Environment:
        Variables:
          SECRET:
            Fn::Sub: "{{resolve:secretsmanager:${Arn}:SecretString}}"
          KEY:
            Fn::Sub: "{{resolve:secretsmanager:${KeyArn}:SecretString}}"
  Api:
    Type: AWS::Serverless::Function
    Metadata:
      BuildProperties:
        Binary: api
    Properties:
      CodeUri: .
"#;

    fn env() -> Vec<(String, String)> {
        [
            ("TABLE_NAME", "t-Table"),
            ("SECRET", "local-secret"),
            ("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:8000"),
            ("LOCAL_ONLY", "x"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    #[test]
    fn functions_declare_the_globals_and_their_own_variables() {
        let doc: Value = serde_yaml::from_str(TEMPLATE).unwrap();
        let functions = sam_functions(&doc).unwrap();
        let names: Vec<(&str, &str, Vec<&str>)> = functions
            .iter()
            .map(|f| {
                let vars = f.declared.keys().map(String::as_str).collect();
                (f.logical.as_str(), f.binary.as_str(), vars)
            })
            .collect();
        assert_eq!(
            names,
            [
                ("Api", "api", vec!["RUST_LOG", "TABLE_NAME"]),
                (
                    "Hook",
                    "hook",
                    vec!["KEY", "RUST_LOG", "SECRET", "TABLE_NAME"]
                )
            ]
        );
    }

    #[test]
    fn env_vars_give_local_values_blank_unresolvable_secrets_and_add_local_only_names() {
        let doc: Value = serde_yaml::from_str(TEMPLATE).unwrap();
        let functions = sam_functions(&doc).unwrap();
        let (vars, blanked) = sam_env_vars(&functions, &env());
        let local = serde_json::json!({
            "AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:8000", "LOCAL_ONLY": "x"
        });
        let mut hook = local.clone();
        hook["TABLE_NAME"] = "t-Table".into();
        hook["SECRET"] = "local-secret".into();
        hook["KEY"] = "".into();
        let mut api = local;
        api["TABLE_NAME"] = "t-Table".into();
        assert_eq!(vars, serde_json::json!({"Api": api, "Hook": hook}));
        assert_eq!(blanked, ["Hook.KEY"]);
    }

    #[test]
    fn containers_reach_the_endpoints_at_the_given_host() {
        let mut env = env();
        env.push((
            crate::SECRETS_MANAGER_ENDPOINT_VAR.to_owned(),
            "http://127.0.0.1:5000".to_owned(),
        ));
        env.push((
            "WEBHOOK_SECRETS_ARN".to_owned(),
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:x".to_owned(),
        ));
        let env = container_env(&env, "172.17.0.1");
        assert_eq!(env[2].1, "http://172.17.0.1:8000");
        // The secrets are read at init through the same relay as SQS (moto).
        assert_eq!(env[4].1, "http://172.17.0.1:5000");
        assert_eq!(env[0].1, "t-Table", "other settings unchanged");
        assert!(
            env[5].1.starts_with("arn:aws:"),
            "an ARN is not an endpoint"
        );
    }

    #[test]
    fn the_local_template_points_at_built_code_and_declares_the_local_only_names() {
        let doc: Value = serde_yaml::from_str(TEMPLATE).unwrap();
        let functions = sam_functions(&doc).unwrap();
        let local = sam_local_template(&doc, &functions, &env());
        for f in ["Hook", "Api"] {
            let r = &local["Resources"][f];
            assert_eq!(r["Properties"]["CodeUri"].as_str(), Some(f));
            assert!(r.get("Metadata").is_none(), "{f}");
            let vars = &r["Properties"]["Environment"]["Variables"];
            assert_eq!(vars["AWS_ENDPOINT_URL_DYNAMODB"].as_str(), Some(""));
            assert_eq!(vars["LOCAL_ONLY"].as_str(), Some(""));
            // Names the template declares keep the template's value.
            assert!(vars.get("TABLE_NAME").is_none(), "globals stay in Globals");
        }
        assert!(
            local["Resources"]["Hook"]["Properties"]["Environment"]["Variables"]["SECRET"]
                .is_mapping()
        );
        assert_eq!(local["Globals"], doc["Globals"]);
        assert_eq!(local["Resources"]["Table"], doc["Resources"]["Table"]);
    }
}
