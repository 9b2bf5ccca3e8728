//! Loading rule files in two steps: parse the versioned YAML, then validate into a
//! [`RuleSet`]. Every error is reported at once, each naming the file, the rule and the field.
//! Link rules (`rules:`) are validated here, health rules (`health:`) in [`crate::health`],
//! volatile fields (`volatile:`) in [`crate::volatile`], change rules (`changes:`) in
//! [`crate::changes`], event rules (`events:`) in [`crate::events`].

use crate::health;
use crate::model::{Capture, KindPattern, LookIn, MatchField, Rule, RuleSet, Target, Values, WhenEmpty};
use crate::path::FieldPath;
use graphd_core::{relation, Kind, Orientation, Relation};
use serde::Deserialize;
use std::collections::{BTreeMap, HashSet};
use std::fmt;

/// One thing wrong with a rule file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleError {
    pub file: String,
    /// The rule's name, or its position when it has none.
    pub rule: Option<String>,
    /// The field, as a path inside the rule (`to.scope`).
    pub field: Option<String>,
    pub message: String,
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(rule) = &self.rule {
            write!(f, ": rule {rule}")?;
        }
        if let Some(field) = &self.field {
            write!(f, ": {field}")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// All the errors of a load, in file order.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct RuleErrors(pub Vec<RuleError>);

impl fmt::Display for RuleErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lines: Vec<String> = self.0.iter().map(ToString::to_string).collect();
        write!(f, "{} error(s) in rules:\n  {}", self.0.len(), lines.join("\n  "))
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRelation {
    name: String,
    points: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSource {
    kind: String,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    /// Field path → the value it must hold.
    #[serde(default)]
    fields: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTarget {
    kind: Option<String>,
    #[serde(rename = "match")]
    match_field: String,
    values: Option<String>,
    cel: Option<String>,
    /// `namespace`: the value is the source's own namespace.
    own: Option<String>,
    capture: Option<String>,
    selector: Option<String>,
    empty: Option<String>,
    namespace: Option<String>,
    scope: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    name: String,
    from: RawSource,
    relation: String,
    #[serde(default)]
    reverse: bool,
    to: RawTarget,
}

/// The only rule-file version this build reads.
pub const VERSION: u64 = 1;

/// Loads `(file name, YAML text)` pairs into one rule set, or every error found.
pub fn load(files: &[(String, String)]) -> Result<RuleSet, RuleErrors> {
    let mut errors = Vec::new();
    let mut set = RuleSet::default();
    let mut raw_rules = Vec::new();
    let mut raw_health = Vec::new();
    for (file, text) in files {
        let err = |rule: Option<String>, field: Option<&str>, message: String| RuleError {
            file: file.clone(),
            rule,
            field: field.map(str::to_owned),
            message,
        };
        let doc: serde_yaml::Value = match serde_yaml::from_str(text) {
            Ok(doc) => doc,
            Err(e) => {
                errors.push(err(None, None, format!("not YAML: {e}")));
                continue;
            }
        };
        match doc.get("version").and_then(serde_yaml::Value::as_u64) {
            Some(VERSION) => {}
            Some(v) => errors.push(err(
                None,
                Some("version"),
                format!("version {v} is not supported; this build reads version {VERSION}"),
            )),
            None => errors.push(err(None, Some("version"), format!("missing; write `version: {VERSION}`"))),
        }
        if let Some(map) = doc.as_mapping() {
            for key in map.keys() {
                let key = key.as_str().unwrap_or("?");
                if !["version", "relations", "rules", "health", "volatile", "changes", "events"].contains(&key) {
                    errors.push(err(
                        None,
                        Some(key),
                        "unknown top-level field; expected version, relations, rules, health, volatile, changes, events"
                            .into(),
                    ));
                }
            }
        }
        for (i, raw) in doc.get("relations").and_then(|r| r.as_sequence()).into_iter().flatten().enumerate() {
            let at = Some(format!("relations[{i}]"));
            match serde_yaml::from_value::<RawRelation>(raw.clone()) {
                Err(e) => errors.push(err(None, at.as_deref(), e.to_string())),
                Ok(r) => match (orientation(&r.points), Relation::new(&r.name, Orientation::Across)) {
                    (None, _) => errors.push(err(
                        None,
                        Some(&format!("relations[{i}].points")),
                        format!("{:?}: expected up, down or across", r.points),
                    )),
                    (_, Err(e)) => errors.push(err(None, Some(&format!("relations[{i}].name")), e.to_string())),
                    (Some(o), Ok(_)) => set.relations.push(Relation::new(r.name, o).expect("checked above")),
                },
            }
        }
        for (i, raw) in doc.get("rules").and_then(|r| r.as_sequence()).into_iter().flatten().enumerate() {
            let name =
                raw.get("name").and_then(|n| n.as_str()).map(str::to_owned).unwrap_or_else(|| format!("#{}", i + 1));
            match serde_yaml::from_value::<RawRule>(raw.clone()) {
                Err(e) => errors.push(err(Some(name), None, e.to_string())),
                Ok(rule) => raw_rules.push((file.clone(), rule)),
            }
        }
        match doc.get("health") {
            None => {}
            Some(serde_yaml::Value::Sequence(list)) => {
                raw_health.extend(list.iter().enumerate().map(|(i, raw)| (file.clone(), i, raw.clone())));
            }
            Some(_) => errors.push(err(None, Some("health"), "expected a list of health rules".into())),
        }
        let volatile = compile_list(file, &doc, "volatile", "volatile-field rules", crate::volatile::compile);
        let changes = compile_list(file, &doc, "changes", "change rules", crate::changes::compile);
        let events = compile_list(file, &doc, "events", "event rules", crate::events::compile);
        set.volatile.extend(volatile.0);
        set.changes.extend(changes.0);
        set.events.extend(events.0);
        errors.extend([volatile.1, changes.1, events.1].into_iter().flatten());
    }
    let known: HashSet<String> = relation::BUILTIN
        .iter()
        .map(|(n, _)| n.to_string())
        .chain(set.relations.iter().map(|r| r.name().to_owned()))
        .collect();
    for rule in &set.events {
        if !known.contains(&rule.about) {
            errors.push(RuleError {
                file: rule.file.clone(),
                rule: Some(rule.name.clone()),
                field: Some("about".into()),
                message: format!("unknown relation {:?}; declare it under `relations:`", rule.about),
            });
        }
    }
    let mut names = HashSet::new();
    for (file, raw) in raw_rules {
        if !names.insert(raw.name.clone()) {
            errors.push(RuleError {
                file: file.clone(),
                rule: Some(raw.name.clone()),
                field: Some("name".into()),
                message: "another rule has this name".into(),
            });
        }
        match compile(&file, raw, &known) {
            Ok(rule) => set.rules.push(rule),
            Err(mut errs) => errors.append(&mut errs),
        }
    }
    for (file, i, raw) in raw_health {
        let name = health::load::display_name(i, &raw);
        if raw.get("name").is_some() && !names.insert(name.clone()) {
            errors.push(RuleError {
                file: file.clone(),
                rule: Some(name),
                field: Some("name".into()),
                message: "another rule has this name".into(),
            });
        }
        match health::load::compile(&file, i, &raw) {
            Ok(rule) => set.health.push(rule),
            Err(mut errs) => errors.append(&mut errs),
        }
    }
    // A stable sort: equal ranks keep load order.
    set.health.sort_by_key(|rule| (!rule.overrides, std::cmp::Reverse(rule.applies.rank())));
    if errors.is_empty() {
        Ok(set)
    } else {
        Err(RuleErrors(errors))
    }
}

/// Each entry of the list under `field` of a file, compiled by `compile`, and every error met
/// (`what` names the entries in the message for a field that is not a list).
fn compile_list<T>(
    file: &str,
    doc: &serde_yaml::Value,
    field: &str,
    what: &str,
    compile: impl Fn(&str, usize, &serde_yaml::Value) -> Result<T, Vec<RuleError>>,
) -> (Vec<T>, Vec<RuleError>) {
    let (mut compiled, mut errors) = (Vec::new(), Vec::new());
    match doc.get(field) {
        None => {}
        Some(serde_yaml::Value::Sequence(list)) => {
            for (i, raw) in list.iter().enumerate() {
                match compile(file, i, raw) {
                    Ok(rule) => compiled.push(rule),
                    Err(mut errs) => errors.append(&mut errs),
                }
            }
        }
        Some(_) => errors.push(RuleError {
            file: file.to_owned(),
            rule: None,
            field: Some(field.to_owned()),
            message: format!("expected a list of {what}"),
        }),
    }
    (compiled, errors)
}

/// What `to.own: namespace` asks of the rest of a target: the source's namespace names a
/// target by its name, in the source's cluster, and nothing is read from the document.
fn own_namespace_checks(to: &RawTarget, look_in: Option<LookIn>, err: &mut impl FnMut(&str, String)) {
    // A labels match says itself that it takes no values.
    if to.match_field == "labels" {
        return;
    }
    if to.match_field == "uid" {
        err("to.match", "own: namespace is the name of the target: write match: name".into());
    }
    if look_in.is_some_and(|look_in| look_in != LookIn::Cluster) {
        err("to.scope", "own: namespace names a target in the source's cluster: write scope: cluster".into());
    }
    if to.namespace.is_some() {
        err("to.namespace", "own: namespace is the target's namespace too: leave to.namespace out".into());
    }
    if to.capture.is_some() {
        err("to.capture", "own: namespace is taken whole: leave to.capture out".into());
    }
}

fn orientation(word: &str) -> Option<Orientation> {
    match word {
        "up" => Some(Orientation::Up),
        "down" => Some(Orientation::Down),
        "across" => Some(Orientation::Across),
        _ => None,
    }
}

/// Validates one parsed rule, collecting every problem.
fn compile(file: &str, raw: RawRule, known_relations: &HashSet<String>) -> Result<Rule, Vec<RuleError>> {
    let mut errors = Vec::new();
    let mut err = |field: &str, message: String| {
        errors.push(RuleError {
            file: file.to_owned(),
            rule: Some(raw.name.clone()),
            field: Some(field.to_owned()),
            message,
        })
    };
    let source = match raw.from.kind.strip_suffix("::*") {
        Some(domain) if !domain.is_empty() && !domain.contains("::") => Some(KindPattern::Domain(domain.to_owned())),
        _ => match Kind::new(raw.from.kind.clone()) {
            Ok(kind) => Some(KindPattern::Exact(kind)),
            Err(e) => {
                err("from.kind", e.to_string());
                None
            }
        },
    };
    if !known_relations.contains(&raw.relation) {
        err(
            "relation",
            format!("unknown relation {:?}: use a built-in one or declare it under `relations`", raw.relation),
        );
    }
    let look_in = match raw.to.scope.as_str() {
        "namespace" => Some(LookIn::Namespace),
        "cluster" => Some(LookIn::Cluster),
        "account" => Some(LookIn::Account),
        "region" => Some(LookIn::Region),
        "anywhere" => Some(LookIn::Anywhere),
        other => {
            err(
                "to.scope",
                format!("unknown scope {other:?}: expected namespace, cluster, account, region or anywhere"),
            );
            None
        }
    };
    let mut path = |field: &str, text: &Option<String>| -> Option<FieldPath> {
        let text = text.as_ref()?;
        match FieldPath::parse(text) {
            Ok(p) => Some(p),
            Err(e) => {
                err(field, e.to_string());
                None
            }
        }
    };
    let mut source_fields = Vec::new();
    for (text, value) in &raw.from.fields {
        if let Some(p) = path(&format!("from.fields.{text}"), &Some(text.clone())) {
            source_fields.push((p, value.clone()));
        }
    }
    let values_path = path("to.values", &raw.to.values);
    let selector = path("to.selector", &raw.to.selector);
    let namespace = path("to.namespace", &raw.to.namespace);
    let values = match (values_path, raw.to.cel.as_deref()) {
        (Some(_), Some(_)) => {
            err("to.cel", "give the values by a field path (to.values) or by CEL (to.cel), not both".into());
            None
        }
        (Some(path), None) => Some(Values::Path(path)),
        (None, Some(text)) => match crate::expression::Expression::compile(text) {
            Ok(expression) => Some(Values::Cel(expression)),
            Err(e) => {
                err("to.cel", e);
                None
            }
        },
        (None, None) => None,
    };
    let values = match raw.to.own.as_deref() {
        None => values,
        Some(_) if raw.to.values.is_some() || raw.to.cel.is_some() => {
            err(
                "to.own",
                "the values are the source's own namespace (to.own) or given by to.values or to.cel, not both".into(),
            );
            None
        }
        Some("namespace") => {
            own_namespace_checks(&raw.to, look_in, &mut err);
            Some(Values::OwnNamespace)
        }
        Some(other) => {
            err("to.own", format!("{other:?}: expected namespace"));
            None
        }
    };
    let capture = match raw.to.capture.as_deref().map(regex::Regex::new) {
        None => None,
        Some(Ok(re)) => Some(Capture(re)),
        Some(Err(e)) => {
            err("to.capture", format!("not a regular expression: {e}"));
            None
        }
    };
    let kind = match raw.to.kind.as_deref() {
        None | Some("*") => None,
        Some(k) => match Kind::new(k) {
            Ok(kind) => Some(kind),
            Err(e) => {
                err("to.kind", e.to_string());
                None
            }
        },
    };
    let target = match (raw.to.match_field.as_str(), look_in) {
        (_, None) => None,
        ("labels", Some(look_in)) => {
            let when_empty = match raw.to.empty.as_deref() {
                Some("nothing") | None => Some(WhenEmpty::Nothing),
                Some("everything") => Some(WhenEmpty::Everything),
                Some(other) => {
                    err("to.empty", format!("{other:?}: expected nothing or everything"));
                    None
                }
            };
            if raw.to.values.is_some() || raw.to.cel.is_some() || raw.to.own.is_some() {
                err("to.values", "a labels match reads a selector (to.selector), not values".into());
            }
            if raw.to.selector.is_none() {
                err("to.selector", "a labels match needs the path of the selector".into());
            }
            if raw.to.kind.is_none() {
                err("to.kind", "a labels match needs the kind it selects".into());
            }
            match (kind.clone(), selector, when_empty) {
                (Some(kind), Some(selector), Some(when_empty)) => {
                    Some(Target::Selector { kind, selector, when_empty, look_in })
                }
                _ => None,
            }
        }
        (word @ ("name" | "uid"), Some(look_in)) => {
            if raw.to.selector.is_some() || raw.to.empty.is_some() {
                err("to.selector", format!("a {word} match reads values, not a selector"));
            }
            if raw.to.values.is_none() && raw.to.cel.is_none() && raw.to.own.is_none() {
                err(
                    "to.values",
                    format!(
                        "a {word} match needs its values: a field path (to.values), CEL (to.cel) or the source's own \
                         namespace (to.own)"
                    ),
                );
            }
            if word == "name" && raw.to.kind.is_none() {
                err("to.kind", "a name match needs the target kind (names repeat across kinds)".into());
            }
            let field = if word == "name" { MatchField::Name } else { MatchField::Uid };
            values.map(|values| Target::Field { kind: kind.clone(), field, values, capture, namespace, look_in })
        }
        (other, Some(_)) => {
            err("to.match", format!("{other:?}: expected name, uid or labels"));
            None
        }
    };
    match (source, target) {
        (Some(source), Some(target)) if errors.is_empty() => Ok(Rule {
            name: raw.name,
            file: file.to_owned(),
            source,
            source_labels: raw.from.labels,
            source_fields,
            relation: raw.relation,
            reverse: raw.reverse,
            target,
        }),
        _ => Err(errors),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_one(text: &str) -> Result<RuleSet, RuleErrors> {
        load(&[("custom.yaml".to_string(), text.to_string())])
    }

    #[test]
    fn every_error_is_reported_with_file_rule_and_field() {
        let text = r#"
version: 1
relations:
  - {name: scheduled-by, points: sideways}
rules:
  - name: bad-scope
    from: {kind: "Kubernetes::Pod"}
    relation: runs-on
    to: {kind: "Kubernetes::Node", match: name, values: spec.nodeName, scope: galaxy}
  - name: bad-path
    from: {kind: "Kubernetes::Pod"}
    relation: mounts
    to: {kind: "Kubernetes::ConfigMap", match: name, values: "spec..volumes", scope: namespace}
  - name: bad-kind
    from: {kind: Pod}
    relation: no-such-relation
    to: {kind: "Kubernetes::Node", match: name, values: spec.nodeName, scope: cluster}
  - name: unknown-field
    from: {kind: "Kubernetes::Pod"}
    relation: uses
    to: {kind: "Kubernetes::Node", match: name, values: spec.nodeName, scope: cluster, colour: red}
  - name: selector-without-path
    from: {kind: "Kubernetes::Service"}
    relation: selects
    to: {kind: "Kubernetes::Pod", match: labels, scope: namespace}
  - name: bad-scope
    from: {kind: "Kubernetes::Pod"}
    relation: uses
    to: {kind: "Kubernetes::Node", match: name, values: spec.nodeName, scope: cluster}
  - name: bad-cel
    from: {kind: "Kubernetes::Node"}
    relation: runs-on
    to: {kind: "AWS::EC2::Instance", match: uid, cel: "object.spec.providerID.split(", scope: anywhere}
  - name: bad-capture
    from: {kind: "Kubernetes::Node"}
    relation: runs-on
    to: {kind: "AWS::EC2::Instance", match: uid, values: spec.providerID, capture: "(i-", scope: anywhere}
"#;
        let errors = load_one(text).unwrap_err().0;
        let has = |rule: Option<&str>, field: Option<&str>, words: &str| {
            errors.iter().any(|e| {
                e.file == "custom.yaml"
                    && e.rule.as_deref() == rule
                    && e.field.as_deref() == field
                    && e.message.contains(words)
            })
        };
        assert!(has(None, Some("relations[0].points"), "sideways"), "{errors:#?}");
        assert!(has(Some("bad-scope"), Some("to.scope"), "galaxy"), "{errors:#?}");
        assert!(has(Some("bad-path"), Some("to.values"), "spec..volumes"), "{errors:#?}");
        assert!(has(Some("bad-kind"), Some("from.kind"), "Domain::Kind"), "{errors:#?}");
        assert!(has(Some("bad-kind"), Some("relation"), "no-such-relation"), "{errors:#?}");
        assert!(has(Some("unknown-field"), None, "colour"), "{errors:#?}");
        assert!(has(Some("selector-without-path"), Some("to.selector"), "needs the path"), "{errors:#?}");
        assert!(has(Some("bad-scope"), Some("name"), "another rule has this name"), "{errors:#?}");
        assert!(has(Some("bad-capture"), Some("to.capture"), "not a regular expression"), "{errors:#?}");
        assert!(has(Some("bad-cel"), Some("to.cel"), "CEL does not compile"), "{errors:#?}");
        let shown = RuleErrors(errors.clone()).to_string();
        assert!(shown.contains("custom.yaml: rule bad-scope: to.scope: unknown scope \"galaxy\""), "{shown}");
    }

    #[test]
    fn a_target_named_by_the_sources_own_namespace_is_checked() {
        let text = r#"
version: 1
rules:
  - name: own-uid
    from: {kind: "Kubernetes::*"}
    relation: contains
    to: {kind: "Kubernetes::Namespace", match: uid, own: namespace, scope: cluster}
  - name: own-anywhere
    from: {kind: "Kubernetes::*"}
    relation: contains
    to: {kind: "Kubernetes::Namespace", match: name, own: namespace, scope: anywhere}
  - name: own-and-values
    from: {kind: "Kubernetes::*"}
    relation: contains
    to: {kind: "Kubernetes::Namespace", match: name, own: namespace, values: metadata.namespace, scope: cluster}
  - name: own-what
    from: {kind: "Kubernetes::*"}
    relation: contains
    to: {kind: "Kubernetes::Namespace", match: name, own: cluster, scope: cluster}
  - name: own-captured
    from: {kind: "Kubernetes::*"}
    relation: contains
    to: {kind: "Kubernetes::Namespace", match: name, own: namespace, capture: "^a", scope: cluster}
  - name: own-selected
    from: {kind: "Kubernetes::Service"}
    relation: selects
    to: {kind: "Kubernetes::Pod", match: labels, selector: spec.selector, own: namespace, scope: namespace}
"#;
        let errors = load_one(text).unwrap_err().0;
        let has = |rule: &str, field: &str, words: &str| {
            errors.iter().any(|e| {
                e.rule.as_deref() == Some(rule) && e.field.as_deref() == Some(field) && e.message.contains(words)
            })
        };
        assert!(has("own-uid", "to.match", "match: name"), "{errors:#?}");
        assert!(has("own-anywhere", "to.scope", "scope: cluster"), "{errors:#?}");
        assert!(has("own-and-values", "to.own", "not both"), "{errors:#?}");
        assert!(has("own-what", "to.own", "expected namespace"), "{errors:#?}");
        assert!(has("own-captured", "to.capture", "leave to.capture out"), "{errors:#?}");
        assert!(has("own-selected", "to.values", "not values"), "{errors:#?}");
        assert_eq!(errors.len(), 6, "one error each: {errors:#?}");

        let set = load_one(
            r#"
version: 1
rules:
  - name: in-namespace
    from: {kind: "Kubernetes::*"}
    relation: contains
    reverse: true
    to: {kind: "Kubernetes::Namespace", match: name, own: namespace, scope: cluster}
"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(set.rules[0].looks_up_own_namespace());
    }

    #[test]
    fn versions_and_yaml_errors_are_named() {
        let missing = load_one("rules: []").unwrap_err().0;
        assert_eq!(missing[0].field.as_deref(), Some("version"));
        let future = load_one("version: 2\nrules: []").unwrap_err().0;
        assert!(future[0].message.contains("version 2 is not supported"));
        let broken = load_one("version: 1\nrules: [").unwrap_err().0;
        assert!(broken[0].message.starts_with("not YAML"), "{broken:?}");
    }

    #[test]
    fn declared_relations_can_be_used_and_come_back_with_their_orientation() {
        let set = load_one(
            r#"
version: 1
relations: [{name: scheduled-by, points: up}]
rules:
  - name: custom
    from: {kind: "Custom::Job"}
    relation: scheduled-by
    to: {kind: "Custom::Scheduler", match: name, values: spec.scheduler, scope: anywhere}
"#,
        )
        .unwrap();
        assert_eq!(set.relations[0].orientation(), Orientation::Up);
        assert_eq!(set.rules[0].relation, "scheduled-by");
    }

    #[test]
    fn every_builtin_file_loads() {
        let set = crate::builtin::rules().unwrap_or_else(|e| panic!("{e}"));
        assert!(set.rules.len() >= 30, "{} rules", set.rules.len());
        let health: Vec<&str> = set.health.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(health.first(), Some(&"k8s-terminating-health"), "Terminating is tried first");
        assert_eq!(health.last(), Some(&"conditions-health"), "the generic rule is tried last");
        assert_eq!(health.len(), 16 + 7, "Kubernetes and EC2: {health:?}");
    }
}
