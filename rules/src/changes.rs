//! Change rules: which field of a kind's documents, when it changes, is a change of its own
//! type beside `Updated` (an image digest behind an unchanged tag, a replica count).
//!
//! ```yaml
//! version: 1
//! changes:
//!   - name: k8s-pod-image-digest
//!     kind: Kubernetes::Pod               # a kind, a domain (Kubernetes::*) or *
//!     type: ImageDigestChanged            # when the values at `field` differ
//!     field: "status.containerStatuses[].imageID"
//!   - name: aws-instance-state
//!     kind: AWS::EC2::Instance
//!     type: StateChanged                  # as ImageDigestChanged, another name
//!     field: State.Name
//!   - name: k8s-deployment-replicas
//!     kind: Kubernetes::Deployment
//!     type: Scaled                        # ScaledUp or ScaledDown, by the number at `field`
//!     field: spec.replicas
//! ```

use crate::health::Applies;
use crate::load::RuleError;
use crate::model::RuleSet;
use crate::path::FieldPath;
use graphd_core::ChangeType;
use serde::Deserialize;
use serde_json::Value;

/// What a change rule looks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detect {
    /// The values at the field differ, and there were some before (a value that appears for
    /// the first time, such as the digest of a container that just started, is no change).
    Changed(ChangeType),
    /// The number at the field went up or down.
    Scaled,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeRule {
    pub name: String,
    pub applies: Applies,
    pub detect: Detect,
    pub field: FieldPath,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawChange {
    name: String,
    kind: String,
    #[serde(rename = "type")]
    change_type: String,
    field: String,
}

/// Compiles entry `i` of a file's `changes:` list, or says everything wrong with it.
pub(crate) fn compile(file: &str, i: usize, raw: &serde_yaml::Value) -> Result<ChangeRule, Vec<RuleError>> {
    let err = |rule: Option<&str>, field: &str, message: String| RuleError {
        file: file.to_owned(),
        rule: rule.map(str::to_owned),
        field: Some(field.to_owned()),
        message,
    };
    let raw: RawChange =
        serde_yaml::from_value(raw.clone()).map_err(|e| vec![err(None, &format!("changes[{i}]"), e.to_string())])?;
    let name = Some(raw.name.as_str());
    let mut errors = Vec::new();
    let applies = Applies::parse(&raw.kind).map_err(|message| errors.push(err(name, "kind", message))).ok();
    let detect = match raw.change_type.as_str() {
        "Scaled" => Some(Detect::Scaled),
        "ImageDigestChanged" => Some(Detect::Changed(ChangeType::ImageDigestChanged)),
        "StateChanged" => Some(Detect::Changed(ChangeType::StateChanged)),
        other => {
            let message =
                format!("{other:?}: expected ImageDigestChanged or StateChanged (the field's values differ) or Scaled");
            errors.push(err(name, "type", message));
            None
        }
    };
    let field = FieldPath::parse(&raw.field).map_err(|e| errors.push(err(name, "field", e.to_string()))).ok();
    match (applies, detect, field) {
        (Some(applies), Some(detect), Some(field)) if errors.is_empty() => {
            Ok(ChangeRule { name: raw.name, applies, detect, field })
        }
        _ => Err(errors),
    }
}

impl ChangeRule {
    /// The change of its type between `old` and `new`, with a one-line summary.
    fn between(&self, old: &Value, new: &Value) -> Option<(ChangeType, String)> {
        match self.detect {
            Detect::Changed(change_type) => {
                let (before, after) = (self.field.strings(old), self.field.strings(new));
                (!before.is_empty() && before != after)
                    .then(|| (change_type, format!("{}: {} → {}", self.field, before.join(", "), after.join(", "))))
            }
            Detect::Scaled => {
                let number = |doc: &Value| self.field.first(doc).and_then(Value::as_f64);
                let (before, after) = (number(old)?, number(new)?);
                let change_type = if after > before {
                    ChangeType::ScaledUp
                } else if after < before {
                    ChangeType::ScaledDown
                } else {
                    return None;
                };
                Some((change_type, format!("{}: {before} → {after}", self.field)))
            }
        }
    }
}

impl RuleSet {
    /// The kind-specific changes from `old` to `new`, a document of `kind`, in rule order.
    pub fn changes_between(&self, kind: &str, old: &Value, new: &Value) -> Vec<(ChangeType, String)> {
        self.changes
            .iter()
            .filter(|rule| rule.applies.matches(kind))
            .filter_map(|rule| rule.between(old, new))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use crate::load;
    use graphd_core::ChangeType;
    use serde_json::json;

    fn set(text: &str) -> Result<crate::RuleSet, crate::RuleErrors> {
        load(&[("changes.yaml".to_owned(), text.to_owned())])
    }

    #[test]
    fn digests_and_replica_counts_are_changes_of_their_own() {
        let rules = set("version: 1\nchanges:\n  - {name: digest, kind: Kubernetes::Pod, type: ImageDigestChanged, \
                         field: \"status.containerStatuses[].imageID\"}\n  - {name: replicas, kind: \"Kubernetes::*\", \
                         type: Scaled, field: spec.replicas}\n")
        .unwrap();
        let pod = |digest: Option<&str>| match digest {
            Some(d) => json!({"status": {"containerStatuses": [{"name": "app", "imageID": d}]}}),
            None => json!({"status": {}}),
        };
        let changes = rules.changes_between("Kubernetes::Pod", &pod(Some("sha256:aa")), &pod(Some("sha256:bb")));
        assert_eq!(
            changes,
            [(ChangeType::ImageDigestChanged, "status.containerStatuses[].imageID: sha256:aa → sha256:bb".into())]
        );
        assert!(rules.changes_between("Kubernetes::Pod", &pod(None), &pod(Some("sha256:aa"))).is_empty(), "started");
        assert!(rules.changes_between("Kubernetes::Pod", &pod(Some("sha256:aa")), &pod(Some("sha256:aa"))).is_empty());
        let deployment = |n: u32| json!({"spec": {"replicas": n}});
        let up = rules.changes_between("Kubernetes::Deployment", &deployment(2), &deployment(5));
        assert_eq!(up, [(ChangeType::ScaledUp, "spec.replicas: 2 → 5".into())]);
        let down = rules.changes_between("Kubernetes::Deployment", &deployment(5), &deployment(0));
        assert_eq!(down[0].0, ChangeType::ScaledDown);
        // The domain rule speaks about every Kubernetes kind, and about nothing else.
        let replicas = |n: u32| json!({"spec": {"replicas": n}});
        assert_eq!(rules.changes_between("Kubernetes::Node", &replicas(1), &replicas(2))[0].0, ChangeType::ScaledUp);
        assert!(rules.changes_between("AWS::EC2::Instance", &replicas(1), &replicas(2)).is_empty());
    }

    #[test]
    fn errors_name_the_rule_and_the_field() {
        let errors = set("version: 1\nchanges:\n  - {name: bad, kind: Pod, type: Renamed, field: \"a..b\"}\n  \
                          - {name: typo, kind: \"*\", type: Scaled, feld: spec.replicas}\n")
        .unwrap_err()
        .to_string();
        for expected in [
            "rule bad: kind: ",
            "rule bad: type: \"Renamed\": expected",
            "rule bad: field: bad field path",
            "changes[1]: unknown field `feld`",
        ] {
            assert!(errors.contains(expected), "{expected:?} in:\n{errors}");
        }
    }
}
