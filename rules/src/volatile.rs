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
use crate::path::FieldPath;
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
    /// `document` without the volatile fields of `kind`, or `None` when it has none of them
    /// (the document compares as it is).
    pub fn stable_document(&self, kind: &str, document: &Value) -> Option<Value> {
        let mut rules = self.volatile.iter().filter(|rule| rule.applies.matches(kind)).peekable();
        rules.peek()?;
        let mut stable = document.clone();
        let mut removed = false;
        for path in rules.flat_map(|rule| &rule.paths) {
            removed |= path.remove(&mut stable);
        }
        removed.then_some(stable)
    }
}

#[cfg(test)]
mod tests {
    use crate::load;
    use serde_json::json;

    fn files(text: &str) -> Vec<(String, String)> {
        vec![("volatile.yaml".to_owned(), text.to_owned())]
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
        let stable = set.stable_document("Kubernetes::Node", &node).unwrap();
        assert_eq!(
            stable,
            json!({"metadata": {"name": "n"}, "status": {"conditions": [{"type": "Ready", "status": "True"}]}})
        );
        let pod = json!({"metadata": {"name": "p", "resourceVersion": "8"}, "status": {"lastHeartbeatTime": "t"}});
        assert_eq!(set.stable_document("Kubernetes::Pod", &pod).unwrap()["status"]["lastHeartbeatTime"], "t");
        assert_eq!(
            set.stable_document("Kubernetes::Pod", &json!({"metadata": {"name": "p"}})),
            None,
            "nothing to drop"
        );
        assert_eq!(set.stable_document("AWS::EC2::Instance", &node), None, "another domain");
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
