//! Assessing one object: try the compiled health rules in order, first matching clause wins.
//! Pure and allocation-free until the status word is copied out.

use super::time::parse_rfc3339;
use super::{Applies, Clause, Condition, HealthRule, Literal, Operand, Ready, Status};
use crate::model::RuleSet;
use graphd_core::{Health, Kind, Timestamp};
use serde_json::Value;

/// What the health rules say about one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assessment {
    pub health: Health,
    /// A short word for people: `Running`, `CrashLoopBackOff`, `Terminating`.
    pub status: String,
    /// Whether the object does its job now (a Pod passes its readiness, a Deployment has every
    /// replica it wants available).
    pub ready: bool,
}

impl RuleSet {
    /// The health, status and readiness of an object of `kind` (`Kubernetes::Pod`) whose
    /// document is `document`, as of `now` (grace periods count from it).
    ///
    /// Rules marked `override` are tried first, then those for exactly `kind`, then those
    /// for its domain, then those for every kind; the first clause that holds decides. `None`
    /// when no clause of any rule for the kind holds, which for the built-in rules means no
    /// rule is written for the kind.
    ///
    /// Everything was parsed and checked at load time; this only walks the document.
    ///
    /// ```
    /// use graphd_core::{Health, Timestamp};
    ///
    /// let rules = graphd_rules::builtin::rules().unwrap();
    /// let pod = serde_json::json!({"status": {
    ///     "phase": "Running",
    ///     "containerStatuses": [{"ready": false, "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]
    /// }});
    /// let assessment = rules.assess("Kubernetes::Pod", &pod, Timestamp::now()).unwrap();
    /// assert_eq!(assessment.health, Health::Unhealthy);
    /// assert_eq!(assessment.status, "CrashLoopBackOff");
    /// assert!(!assessment.ready);
    /// assert_eq!(rules.assess("Kubernetes::ConfigMap", &serde_json::json!({}), Timestamp::now()), None);
    /// ```
    pub fn assess(&self, kind: &str, document: &Value, now: Timestamp) -> Option<Assessment> {
        self.health
            .iter()
            .filter(|rule| rule.applies.matches(kind))
            .flat_map(|rule| &rule.clauses)
            .find(|clause| clause.condition.as_ref().is_none_or(|c| c.holds(document, now)))
            .map(|clause| clause.decide(document, now))
    }
}

impl RuleSet {
    /// Kinds whose health rules read the clock (`older-than`): their assessment can change
    /// while the object does not, so it is worth making again from time to time. Only rules
    /// for one kind count; a clock-reading rule for a whole domain would mean every item.
    pub fn kinds_assessed_by_age(&self) -> Vec<Kind> {
        let by_age = |rule: &&HealthRule| {
            rule.clauses.iter().any(|clause| {
                clause.condition.as_ref().is_some_and(Condition::reads_clock)
                    || matches!(&clause.ready, Ready::When(condition) if condition.reads_clock())
            })
        };
        let mut kinds: Vec<Kind> = self
            .health
            .iter()
            .filter(by_age)
            .filter_map(|rule| match &rule.applies {
                Applies::Kind(kind) => Some(kind.clone()),
                Applies::Domain(_) | Applies::Any => None,
            })
            .collect();
        kinds.dedup();
        kinds
    }
}

impl Condition {
    fn reads_clock(&self) -> bool {
        match self {
            Condition::OlderThan(..) => true,
            Condition::Any(all) | Condition::All(all) => all.iter().any(Condition::reads_clock),
            Condition::Not(inner) => inner.reads_clock(),
            _ => false,
        }
    }
}

impl Clause {
    fn decide(&self, document: &Value, now: Timestamp) -> Assessment {
        let status = match &self.status {
            Status::Literal(word) => word.clone(),
            Status::From { path, default } => {
                let mut found = None;
                path.any(document, |v| {
                    found = match v {
                        Value::String(s) if !s.is_empty() => Some(s.clone()),
                        Value::Number(n) => Some(n.to_string()),
                        _ => None,
                    };
                    found.is_some()
                });
                found.unwrap_or_else(|| default.clone())
            }
        };
        let ready = match &self.ready {
            Ready::Fixed(ready) => *ready,
            Ready::When(condition) => condition.holds(document, now),
        };
        Assessment { health: self.health, status, ready }
    }
}

impl Condition {
    /// Whether the condition holds for `document` at `now`.
    pub fn holds(&self, document: &Value, now: Timestamp) -> bool {
        match self {
            Condition::Equals(path, literal) => path.any(document, |v| literal.matches(v)),
            Condition::In(path, literals) => path.any(document, |v| literals.iter().any(|l| l.matches(v))),
            Condition::Exists(path) => path.any(document, |v| !is_empty(v)),
            Condition::Missing(path) => !path.any(document, |v| !is_empty(v)),
            Condition::Compare(left, comparison, right) => {
                numbers(left, document, &mut |l| numbers(right, document, &mut |r| comparison.holds(l, r)))
            }
            Condition::OlderThan(path, millis) => path.any(document, |v| {
                v.as_str().and_then(parse_rfc3339).is_some_and(|at| now.0.saturating_sub(at.0) > *millis)
            }),
            Condition::Any(all) => all.iter().any(|c| c.holds(document, now)),
            Condition::All(all) => all.iter().all(|c| c.holds(document, now)),
            Condition::Not(inner) => !inner.holds(document, now),
        }
    }
}

impl Literal {
    /// Whether a document value is this literal.
    pub fn matches(&self, value: &Value) -> bool {
        match value {
            Value::String(s) => {
                *s == self.text
                    || self.boolean.is_some_and(|b| s.eq_ignore_ascii_case(if b { "true" } else { "false" }))
            }
            Value::Bool(b) => self.boolean == Some(*b),
            Value::Number(n) => self.number.is_some_and(|x| n.as_f64() == Some(x.0)),
            _ => false,
        }
    }
}

fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(items) => items.is_empty(),
        Value::Object(map) => map.is_empty(),
        _ => false,
    }
}

/// Whether `test` holds for some number of the operand; a path that reaches nothing is 0.
fn numbers(operand: &Operand, document: &Value, test: &mut dyn FnMut(f64) -> bool) -> bool {
    match operand {
        Operand::Number(n) => test(n.0),
        Operand::Path(path) => {
            let mut reached = false;
            let hit = path.any(document, |v| {
                reached = true;
                v.as_f64().is_some_and(&mut *test)
            });
            hit || (!reached && test(0.0))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Comparison, Number};
    use super::*;
    use crate::path::FieldPath;
    use serde_json::json;

    fn path(text: &str) -> FieldPath {
        FieldPath::parse(text).unwrap()
    }

    fn rules(text: &str) -> RuleSet {
        crate::load::load(&[("custom.yaml".to_string(), text.to_string())]).unwrap_or_else(|e| panic!("{e}"))
    }

    fn status(set: &RuleSet, kind: &str, document: Value) -> Option<String> {
        set.assess(kind, &document, Timestamp(0)).map(|a| a.status)
    }

    #[test]
    fn overrides_then_kind_then_domain_then_any_and_a_rule_that_says_nothing_passes_on() {
        // Written from least to most specific, to show that order in the file does not matter
        // across ranks.
        let set = rules(
            r#"
version: 1
health:
  - name: any
    kind: "*"
    when:
      - {if: {exists: status.conditions}, health: Unknown, status: FromAny}
  - name: domain
    kind: Kubernetes::*
    when:
      - {if: {path: status.phase, equals: Running}, health: Healthy, status: FromDomain}
  - name: pod
    kind: Kubernetes::Pod
    when:
      - {if: {path: status.phase, equals: Failed}, health: Unhealthy, status: FromPod}
  - name: deleting
    kind: "*"
    override: true
    when:
      - {if: {exists: metadata.deletionTimestamp}, health: Warning, status: Terminating}
"#,
        );
        let order: Vec<&str> = set.health.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(order, ["deleting", "pod", "domain", "any"]);
        let pod = |status: Value| json!({"status": status});
        assert_eq!(status(&set, "Kubernetes::Pod", pod(json!({"phase": "Failed"}))).as_deref(), Some("FromPod"));
        // The Pod rule says nothing about a Running Pod: the domain rule does.
        assert_eq!(status(&set, "Kubernetes::Pod", pod(json!({"phase": "Running"}))).as_deref(), Some("FromDomain"));
        let conditions = pod(json!({"phase": "Pending", "conditions": [{"type": "Ready", "status": "False"}]}));
        assert_eq!(status(&set, "Kubernetes::Pod", conditions).as_deref(), Some("FromAny"));
        assert_eq!(status(&set, "Kubernetes::Pod", pod(json!({"phase": "Pending"}))), None, "no clause holds");
        let deleting =
            json!({"metadata": {"deletionTimestamp": "2025-01-01T00:00:00Z"}, "status": {"phase": "Failed"}});
        assert_eq!(status(&set, "Kubernetes::Pod", deleting).as_deref(), Some("Terminating"));
        // `Kubernetes::*` is a domain, not a prefix of names.
        assert_eq!(status(&set, "KubernetesX::Pod", pod(json!({"phase": "Running"}))), None);
    }

    #[test]
    fn a_users_override_refines_the_builtin_rules_for_what_it_names() {
        let mut files: Vec<(String, String)> =
            crate::builtin::FILES.iter().map(|(n, t)| (n.to_string(), t.to_string())).collect();
        files.push((
            "mine.yaml".into(),
            r#"
version: 1
health:
  - name: batch-pods-may-wait
    kind: Kubernetes::Pod
    override: true
    when:
      - if: [{path: metadata.labels.tier, equals: batch}, {path: status.phase, equals: Pending}]
        health: Healthy
        status: Queued
"#
            .into(),
        ));
        let set = crate::load::load(&files).unwrap();
        let queued = json!({"metadata": {"labels": {"tier": "batch"}, "creationTimestamp": "2025-01-01T00:00:00Z"},
            "status": {"phase": "Pending"}});
        let a_day_later = Timestamp(1_735_689_600_000 + 86_400_000);
        assert_eq!(set.assess("Kubernetes::Pod", &queued, a_day_later).unwrap().status, "Queued");
        let running = json!({"status": {"phase": "Running", "containerStatuses": [{"ready": true}]}});
        assert_eq!(set.assess("Kubernetes::Pod", &running, a_day_later).unwrap().status, "Running");
    }

    #[test]
    fn unquoted_yaml_booleans_match_condition_strings() {
        let set = rules(
            r#"
version: 1
health:
  - name: ready
    kind: Custom::Thing
    when:
      - if: {path: "status.conditions[type=Ready].status", equals: True}
        health: Healthy
        status: {from: "status.conditions[type=Ready].reason"}
        ready: {path: spec.enabled, equals: true}
"#,
        );
        let thing = json!({"spec": {"enabled": true}, "status": {"conditions": [{"type": "Ready", "status": "True"}]}});
        let a = set.assess("Custom::Thing", &thing, Timestamp(0)).unwrap();
        assert_eq!(a, Assessment { health: Health::Healthy, status: "Unknown".into(), ready: true }, "default status");
    }

    #[test]
    fn fanned_out_paths_hold_when_some_element_does() {
        let pod = json!({"status": {"containerStatuses": [{"ready": true}, {"ready": false}]}});
        let some_not_ready = Condition::Equals(path("status.containerStatuses[].ready"), Literal::boolean(false));
        assert!(some_not_ready.holds(&pod, Timestamp(0)));
        let all_ready = json!({"status": {"containerStatuses": [{"ready": true}, {"ready": true}]}});
        assert!(!some_not_ready.holds(&all_ready, Timestamp(0)));
    }

    #[test]
    fn literals_match_across_yaml_and_json_spellings() {
        assert!(Literal::boolean(true).matches(&json!("True")), "a YAML `True` matches a condition's \"True\"");
        assert!(Literal::boolean(true).matches(&json!(true)));
        assert!(!Literal::boolean(true).matches(&json!("False")));
        assert!(Literal::text("0").matches(&json!(0)));
        assert!(Literal::text("0").matches(&json!(0.0)));
        assert!(Literal::text("0").matches(&json!("0")));
        assert!(!Literal::text("Running").matches(&json!({"Running": 1})));
    }

    #[test]
    fn missing_counters_count_as_zero_and_non_numbers_never_compare() {
        let less = |left: &str, right: &str| {
            Condition::Compare(Operand::Path(path(left)), Comparison::Less, Operand::Path(path(right)))
        };
        let deployment = json!({"spec": {"replicas": 1}, "status": {"replicas": 1, "name": "x"}});
        assert!(less("status.availableReplicas", "spec.replicas").holds(&deployment, Timestamp(0)));
        assert!(!less("spec.replicas", "status.replicas").holds(&deployment, Timestamp(0)));
        assert!(!less("status.name", "spec.replicas").holds(&deployment, Timestamp(0)), "a string is not 0");
        let above =
            Condition::Compare(Operand::Path(path("spec.replicas")), Comparison::Greater, Operand::Number(Number(0.5)));
        assert!(above.holds(&deployment, Timestamp(0)));
    }

    #[test]
    fn older_than_counts_from_now_and_ignores_what_is_not_a_time() {
        let created = |at: &str| json!({"metadata": {"creationTimestamp": at}});
        let old = Condition::OlderThan(path("metadata.creationTimestamp"), 300_000);
        let at = parse_rfc3339("2025-09-11T20:50:21Z").unwrap();
        assert!(!old.holds(&created("2025-09-11T20:50:21Z"), Timestamp(at.0 + 300_000)), "exactly 5m is not older");
        assert!(old.holds(&created("2025-09-11T20:50:21Z"), Timestamp(at.0 + 300_001)));
        assert!(!old.holds(&created("2025-09-11T20:50:21Z"), Timestamp(at.0 - 1)), "a future time is not old");
        assert!(!old.holds(&created("last week"), Timestamp(at.0 * 2)));
        assert!(!old.holds(&json!({}), Timestamp(at.0 * 2)));
    }
}
