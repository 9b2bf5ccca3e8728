//! Volatile fields: parts of a document that change while the object does not (every object's
//! `resourceVersion`, a Node's heartbeats, a Lease's renewals). They are dropped before a new
//! document is compared with the stored one, so an object that only beat its heart records no
//! change and rewrites nothing.
//!
//! ```yaml
//! version: 1
//! volatile:
//!   - name: k8s-node-heartbeats
//!     kind: Kubernetes::Node          # a kind, a domain (Kubernetes::*) or *
//!     paths: ["status.conditions[].lastHeartbeatTime"]
//! ```

use crate::health::Applies;
use crate::load::RuleError;
use crate::model::RuleSet;
use crate::path::{write_json_without, FieldPath};
use serde::Deserialize;
use serde_json::Value;

/// Fields of the documents of some kinds that are not compared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolatileRule {
    pub name: String,
    pub applies: Applies,
    /// Each ends in a key: the field removed.
    pub paths: Vec<FieldPath>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVolatile {
    name: String,
    kind: String,
    paths: Vec<String>,
}

/// Compiles entry `i` of a file's `volatile:` list, or says everything wrong with it.
pub(crate) fn compile(file: &str, i: usize, raw: &serde_yaml::Value) -> Result<VolatileRule, Vec<RuleError>> {
    let err = |rule: Option<String>, field: Option<String>, message: String| RuleError {
        file: file.to_owned(),
        rule,
        field,
        message,
    };
    let raw: RawVolatile = serde_yaml::from_value(raw.clone())
        .map_err(|e| vec![err(None, Some(format!("volatile[{i}]")), e.to_string())])?;
    let mut errors = Vec::new();
    let applies = Applies::parse(&raw.kind)
        .map_err(|message| errors.push(err(Some(raw.name.clone()), Some("kind".into()), message)))
        .ok();
    let mut paths = Vec::new();
    for (n, text) in raw.paths.iter().enumerate() {
        let field = Some(format!("paths[{n}]"));
        match FieldPath::parse(text) {
            Err(e) => errors.push(err(Some(raw.name.clone()), field, e.to_string())),
            Ok(path) if !path.ends_in_key() => errors.push(err(
                Some(raw.name.clone()),
                field,
                format!("{text:?} must end in the field to drop, not in [] or a filter"),
            )),
            Ok(path) => paths.push(path),
        }
    }
    if raw.paths.is_empty() {
        errors.push(err(Some(raw.name.clone()), Some("paths".into()), "names no field".into()));
    }
    match applies {
        Some(applies) if errors.is_empty() => Ok(VolatileRule { name: raw.name, applies, paths }),
        _ => Err(errors),
    }
}

impl RuleSet {
    /// Appends `document`'s JSON to `out` without the volatile fields of `kind`; returns
    /// whether it left any out (if not, `out` got the document as it is). Written without a
    /// copy of the document: every Kubernetes object has a `resourceVersion`, and copying each
    /// to drop it was a large part of ingesting it.
    pub fn stable_json(&self, kind: &str, document: &Value, out: &mut Vec<u8>) -> bool {
        let paths: Vec<&FieldPath> =
            self.volatile.iter().filter(|rule| rule.applies.matches(kind)).flat_map(|rule| &rule.paths).collect();
        write_json_without(document, &paths, out)
    }
}

#[cfg(test)]
mod tests {
    use crate::load;
    use crate::model::RuleSet;
    use serde_json::{json, Value};

    fn files(text: &str) -> Vec<(String, String)> {
        vec![("volatile.yaml".to_owned(), text.to_owned())]
    }

    /// `stable_json` of `document`, and whether it left something out.
    fn stable(set: &RuleSet, kind: &str, document: &Value) -> (Value, bool) {
        let mut out = Vec::new();
        let left_out = set.stable_json(kind, document, &mut out);
        (serde_json::from_slice(&out).unwrap(), left_out)
    }

    #[test]
    fn volatile_fields_are_dropped_for_their_kinds_only() {
        let set = load(&files(
            "version: 1\nvolatile:\n  - name: beats\n    kind: Kubernetes::Node\n    \
             paths: [\"status.conditions[].lastHeartbeatTime\"]\n  - name: versions\n    kind: \"Kubernetes::*\"\n    \
             paths: [metadata.resourceVersion]\n",
        ))
        .unwrap();
        let node = json!({"metadata": {"name": "n", "resourceVersion": "7"},
            "status": {"conditions": [{"type": "Ready", "status": "True", "lastHeartbeatTime": "t"}]}});
        assert_eq!(
            stable(&set, "Kubernetes::Node", &node),
            (json!({"metadata": {"name": "n"}, "status": {"conditions": [{"type": "Ready", "status": "True"}]}}), true)
        );
        let pod = json!({"metadata": {"name": "p", "resourceVersion": "8"}, "status": {"lastHeartbeatTime": "t"}});
        assert_eq!(stable(&set, "Kubernetes::Pod", &pod).0["status"]["lastHeartbeatTime"], "t");
        let plain = json!({"metadata": {"name": "p"}});
        assert_eq!(stable(&set, "Kubernetes::Pod", &plain), (plain, false), "nothing to drop");
        assert_eq!(stable(&set, "AWS::EC2::Instance", &node), (node, false), "another domain");
    }

    /// The stable JSON is byte for byte the JSON of the document after removing each path: a
    /// stored content hash stays valid whichever way it was computed.
    #[test]
    fn stable_json_is_the_json_of_the_document_with_the_fields_removed() {
        let set = crate::builtin::rules().unwrap();
        let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/k8s");
        let mut compared = 0;
        for entry in std::fs::read_dir(&fixtures).expect("the Kubernetes fixtures beside the clone") {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|e| e != "json") {
                continue;
            }
            let list: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
            for object in list["items"].as_array().into_iter().flatten() {
                let kind = format!("Kubernetes::{}", object["kind"].as_str().unwrap_or_default());
                let mut removed = object.clone();
                let mut any = false;
                for rule in set.volatile.iter().filter(|rule| rule.applies.matches(&kind)) {
                    for field in &rule.paths {
                        any |= field.remove(&mut removed);
                    }
                }
                let mut out = Vec::new();
                assert_eq!(set.stable_json(&kind, object, &mut out), any, "{kind} in {}", path.display());
                assert_eq!(out, serde_json::to_vec(&removed).unwrap(), "{kind} in {}", path.display());
                compared += 1;
            }
        }
        assert!(compared > 100, "only {compared} objects in {}", fixtures.display());
    }

    #[test]
    fn errors_name_the_rule_and_the_field() {
        let errors = load(&files(
            "version: 1\nvolatile:\n  - name: bad\n    kind: Node\n    paths: [\"status.conditions[]\", \"a..b\"]\n  \
             - {name: empty, kind: \"*\", paths: []}\n  - {name: typo, kind: \"*\", path: [a]}\n",
        ))
        .unwrap_err()
        .to_string();
        for expected in [
            "volatile.yaml: rule bad: kind: ",
            "rule bad: paths[0]: \"status.conditions[]\" must end in the field to drop",
            "rule bad: paths[1]: bad field path",
            "rule empty: paths: names no field",
            "volatile[2]: unknown field `path`",
        ] {
            assert!(errors.contains(expected), "{expected:?} in:\n{errors}");
        }
    }
}
