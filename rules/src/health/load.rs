//! Compiling one entry of a file's `health:` list into a [`HealthRule`]. The YAML is walked by
//! hand rather than through serde so that every error names its field exactly
//! (`when[2].if.any[0].path`) and every error of the rule is reported at once.

use super::{Applies, Clause, Comparison, Condition, HealthRule, Literal, Number, Operand, Ready, Status};
use crate::load::RuleError;
use crate::path::FieldPath;
use graphd_core::parse_duration;
use graphd_core::Health;
use serde_yaml::{Mapping, Value};

const RULE_FIELDS: &[&str] = &["name", "kind", "override", "when"];
const CLAUSE_FIELDS: &[&str] = &["if", "health", "status", "ready"];
const OPERATORS: &str = "path (with equals, in or older-than), exists, missing, compare, any, all, not";

/// The name a rule is known by in messages: its own, or its place in the file.
pub(crate) fn display_name(position: usize, raw: &Value) -> String {
    raw.get("name").and_then(Value::as_str).map(str::to_owned).unwrap_or_else(|| format!("health #{}", position + 1))
}

/// Validates one health rule, collecting every problem.
pub(crate) fn compile(file: &str, position: usize, raw: &Value) -> Result<HealthRule, Vec<RuleError>> {
    let mut c = Compiler { file, rule: display_name(position, raw), errors: Vec::new() };
    let Some(map) = raw.as_mapping() else {
        c.err(None, "expected a mapping with name, kind and when".into());
        return Err(c.errors);
    };
    for key in map.keys() {
        let key = key.as_str().unwrap_or("?");
        if !RULE_FIELDS.contains(&key) {
            c.err(Some(key), format!("unknown field; expected {}", RULE_FIELDS.join(", ")));
        }
    }
    let name = match map.get("name") {
        Some(Value::String(name)) if !name.is_empty() => Some(name.clone()),
        _ => {
            c.err(Some("name"), "missing or not a string; every health rule has a name".into());
            None
        }
    };
    let applies = match map.get("kind") {
        Some(Value::String(kind)) => c.applies("kind", kind),
        _ => {
            c.err(Some("kind"), "expected a kind (Kubernetes::Pod), a domain (Kubernetes::*) or *".into());
            None
        }
    };
    let overrides = match map.get("override") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            c.err(Some("override"), "expected true or false".into());
            false
        }
    };
    let mut clauses = Vec::new();
    match map.get("when") {
        Some(Value::Sequence(raw)) if !raw.is_empty() => {
            let mut always_at = None;
            for (i, raw) in raw.iter().enumerate() {
                let field = format!("when[{i}]");
                if let Some(earlier) = always_at {
                    c.err(Some(&field), format!("never reached: when[{earlier}] has no `if` and always decides"));
                }
                if let Some(clause) = c.clause(&field, raw) {
                    if clause.condition.is_none() {
                        always_at.get_or_insert(i);
                    }
                    clauses.push(clause);
                }
            }
        }
        _ => c.err(Some("when"), "expected a non-empty list of clauses ({if: …, health: …, status: …})".into()),
    }
    match (name, applies) {
        (Some(name), Some(applies)) if c.errors.is_empty() => {
            Ok(HealthRule { name, file: file.to_owned(), applies, overrides, clauses })
        }
        _ => Err(c.errors),
    }
}

struct Compiler<'a> {
    file: &'a str,
    rule: String,
    errors: Vec<RuleError>,
}

impl Compiler<'_> {
    fn err(&mut self, field: Option<&str>, message: String) {
        self.errors.push(RuleError {
            file: self.file.to_owned(),
            rule: Some(self.rule.clone()),
            field: field.map(str::to_owned),
            message,
        });
    }

    fn applies(&mut self, field: &str, kind: &str) -> Option<Applies> {
        Applies::parse(kind).map_err(|message| self.err(Some(field), message)).ok()
    }

    fn path(&mut self, field: &str, raw: &Value) -> Option<FieldPath> {
        let Some(text) = raw.as_str() else {
            self.err(Some(field), "expected a field path, as in status.phase".into());
            return None;
        };
        match FieldPath::parse(text) {
            Ok(path) => Some(path),
            Err(e) => {
                self.err(Some(field), e.to_string());
                None
            }
        }
    }

    fn literal(&mut self, field: &str, raw: &Value) -> Option<Literal> {
        match raw {
            Value::String(s) => Some(Literal::text(s.clone())),
            Value::Number(n) => Some(Literal::text(n.to_string())),
            Value::Bool(b) => Some(Literal::boolean(*b)),
            _ => {
                self.err(Some(field), "expected a string, number or boolean".into());
                None
            }
        }
    }

    fn clause(&mut self, field: &str, raw: &Value) -> Option<Clause> {
        let Some(map) = raw.as_mapping() else {
            self.err(Some(field), "expected a clause: {if: …, health: …, status: …, ready: …}".into());
            return None;
        };
        for key in map.keys() {
            let key = key.as_str().unwrap_or("?");
            if !CLAUSE_FIELDS.contains(&key) {
                self.err(
                    Some(&format!("{field}.{key}")),
                    format!("unknown field; expected {}", CLAUSE_FIELDS.join(", ")),
                );
            }
        }
        let before = self.errors.len();
        let condition = map.get("if").map(|raw| self.condition(&format!("{field}.if"), raw));
        let health = match map.get("health") {
            Some(Value::String(word)) => Health::parse(word).or_else(|| {
                self.err(
                    Some(&format!("{field}.health")),
                    format!("unknown health {word:?}: expected Healthy, Warning, Unhealthy or Unknown"),
                );
                None
            }),
            _ => {
                self.err(
                    Some(&format!("{field}.health")),
                    "missing; expected Healthy, Warning, Unhealthy or Unknown".into(),
                );
                None
            }
        };
        let status = self.status(&format!("{field}.status"), map.get("status"));
        let ready = match map.get("ready") {
            None => Some(Ready::Fixed(false)),
            Some(Value::Bool(b)) => Some(Ready::Fixed(*b)),
            Some(raw @ (Value::Mapping(_) | Value::Sequence(_))) => {
                self.condition(&format!("{field}.ready"), raw).map(Ready::When)
            }
            Some(_) => {
                self.err(Some(&format!("{field}.ready")), "expected true, false or a condition".into());
                None
            }
        };
        if self.errors.len() > before {
            return None;
        }
        Some(Clause { condition: condition.flatten(), health: health?, status: status?, ready: ready? })
    }

    fn status(&mut self, field: &str, raw: Option<&Value>) -> Option<Status> {
        match raw {
            Some(Value::String(word)) if !word.is_empty() => Some(Status::Literal(word.clone())),
            Some(Value::Mapping(map)) => {
                for key in map.keys() {
                    let key = key.as_str().unwrap_or("?");
                    if !["from", "default"].contains(&key) {
                        self.err(Some(&format!("{field}.{key}")), "unknown field; expected from, default".into());
                    }
                }
                let path = match map.get("from") {
                    Some(raw) => self.path(&format!("{field}.from"), raw),
                    None => {
                        self.err(Some(&format!("{field}.from")), "missing; the path the status is read from".into());
                        None
                    }
                };
                let default = match map.get("default") {
                    None => Some("Unknown".to_owned()),
                    Some(Value::String(word)) if !word.is_empty() => Some(word.clone()),
                    Some(_) => {
                        self.err(Some(&format!("{field}.default")), "expected a word".into());
                        None
                    }
                };
                Some(Status::From { path: path?, default: default? })
            }
            _ => {
                self.err(Some(field), "expected a word (Running) or {from: PATH, default: WORD}".into());
                None
            }
        }
    }

    fn condition(&mut self, field: &str, raw: &Value) -> Option<Condition> {
        match raw {
            Value::Sequence(items) => self.conditions(field, items).map(Condition::All),
            Value::Mapping(map) => self.operator(field, map),
            _ => {
                self.err(
                    Some(field),
                    "expected a condition such as {path: status.phase, equals: Running}, or a list of them (all hold)"
                        .into(),
                );
                None
            }
        }
    }

    fn conditions(&mut self, field: &str, items: &[Value]) -> Option<Vec<Condition>> {
        if items.is_empty() {
            self.err(Some(field), "expected at least one condition".into());
            return None;
        }
        let compiled: Vec<Option<Condition>> =
            items.iter().enumerate().map(|(i, raw)| self.condition(&format!("{field}[{i}]"), raw)).collect();
        compiled.into_iter().collect()
    }

    fn operator(&mut self, field: &str, map: &Mapping) -> Option<Condition> {
        let keys: Vec<&str> = map.keys().map(|k| k.as_str().unwrap_or("?")).collect();
        let known = ["path", "equals", "in", "older-than", "exists", "missing", "compare", "any", "all", "not"];
        let unknown: Vec<&str> = keys.iter().copied().filter(|k| !known.contains(k)).collect();
        for key in &unknown {
            self.err(
                Some(&format!("{field}.{key}")),
                format!("unknown condition operator {key:?}: expected {OPERATORS}"),
            );
        }
        if !unknown.is_empty() {
            return None;
        }
        let at = |key: &str| format!("{field}.{key}");
        if keys.contains(&"path") {
            let tests: Vec<&str> = keys.iter().copied().filter(|k| *k != "path").collect();
            let path = self.path(&at("path"), &map["path"]);
            let [test] = tests.as_slice() else {
                self.err(Some(field), format!("path goes with exactly one of equals, in, older-than; found {tests:?}"));
                return None;
            };
            let raw = &map[*test];
            return match *test {
                "equals" => {
                    let literal = self.literal(&at("equals"), raw);
                    Some(Condition::Equals(path?, literal?))
                }
                "in" => {
                    let literals = match raw {
                        Value::Sequence(items) if !items.is_empty() => items
                            .iter()
                            .enumerate()
                            .map(|(i, raw)| self.literal(&format!("{field}.in[{i}]"), raw))
                            .collect::<Vec<_>>()
                            .into_iter()
                            .collect::<Option<Vec<_>>>(),
                        _ => {
                            self.err(Some(&at("in")), "expected a non-empty list of values".into());
                            None
                        }
                    };
                    Some(Condition::In(path?, literals?))
                }
                "older-than" => {
                    let millis = match raw.as_str().map(parse_duration) {
                        Some(Ok(duration)) => Some(u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)),
                        Some(Err(e)) => {
                            self.err(Some(&at("older-than")), format!("bad duration {e}"));
                            None
                        }
                        None => {
                            self.err(Some(&at("older-than")), "expected a duration, as in 5m".into());
                            None
                        }
                    };
                    Some(Condition::OlderThan(path?, millis?))
                }
                other => {
                    self.err(
                        Some(&at(other)),
                        format!("{other} does not go with path; expected equals, in or older-than"),
                    );
                    None
                }
            };
        }
        let [key] = keys.as_slice() else {
            self.err(Some(field), format!("expected one operator ({OPERATORS}); found {keys:?}"));
            return None;
        };
        let raw = &map[*key];
        match *key {
            "exists" => self.path(&at("exists"), raw).map(Condition::Exists),
            "missing" => self.path(&at("missing"), raw).map(Condition::Missing),
            "compare" => self.compare(&at("compare"), raw),
            "any" | "all" => {
                let Value::Sequence(items) = raw else {
                    self.err(Some(&at(key)), "expected a list of conditions".into());
                    return None;
                };
                let all = self.conditions(&at(key), items)?;
                Some(if *key == "any" { Condition::Any(all) } else { Condition::All(all) })
            }
            "not" => self.condition(&at("not"), raw).map(|c| Condition::Not(Box::new(c))),
            other => {
                self.err(Some(&at(other)), format!("{other} needs a path: {{path: …, {other}: …}}"));
                None
            }
        }
    }

    /// `LEFT OP RIGHT`, each side a field path or a number.
    fn compare(&mut self, field: &str, raw: &Value) -> Option<Condition> {
        const SHAPE: &str = "expected `PATH OP PATH` or `PATH OP NUMBER`, OP one of < <= > >= == !=";
        let Some(text) = raw.as_str() else {
            self.err(Some(field), SHAPE.into());
            return None;
        };
        let words: Vec<&str> = text.split_whitespace().collect();
        let [left, op, right] = words.as_slice() else {
            self.err(Some(field), format!("{text:?}: {SHAPE}"));
            return None;
        };
        let comparison = Comparison::parse(op);
        if comparison.is_none() {
            self.err(Some(field), format!("{text:?}: unknown comparison {op:?}; {SHAPE}"));
        }
        let left = self.operand(field, left);
        let right = self.operand(field, right);
        Some(Condition::Compare(left?, comparison?, right?))
    }

    fn operand(&mut self, field: &str, word: &str) -> Option<Operand> {
        if word.starts_with(|c: char| c.is_ascii_digit() || c == '-') {
            return match word.parse::<f64>() {
                Ok(n) if n.is_finite() => Some(Operand::Number(Number(n))),
                _ => {
                    self.err(Some(field), format!("{word:?} is not a number"));
                    None
                }
            };
        }
        self.path(field, &Value::String(word.to_owned())).map(Operand::Path)
    }
}

#[cfg(test)]
mod tests {
    use crate::load::{load, RuleErrors};
    use crate::model::RuleSet;

    fn load_one(text: &str) -> Result<RuleSet, RuleErrors> {
        load(&[("custom.yaml".to_string(), text.to_string())])
    }

    #[test]
    fn every_error_names_file_rule_and_field_and_all_come_at_once() {
        let text = r#"
version: 1
health:
  - name: bad-path
    kind: Kubernetes::Pod
    when:
      - if: {path: "status..phase", equals: Running}
        health: Healthy
        status: Running
  - name: bad-health
    kind: Kubernetes::Pod
    when:
      - health: Sick
        status: Sick
  - name: bad-duration
    kind: Kubernetes::Pod
    when:
      - if: {path: metadata.creationTimestamp, older-than: 5 minutes}
        health: Warning
        status: Old
  - name: bad-operator
    kind: Kubernetes::Pod
    when:
      - if:
          any:
            - {path: status.phase, equals: Running}
            - {path: status.phase, matches: "Run.*"}
        health: Healthy
        status: Running
  - name: bad-kind
    kind: Pod
    when:
      - {health: Healthy, status: Fine}
  - name: bad-compare
    kind: Kubernetes::Deployment
    when:
      - if: {compare: "status.readyReplicas ≤ spec.replicas"}
        health: Warning
        status: {from: "status.conditions[type=Ready.reason"}
        ready: maybe
  - name: unreachable
    kind: "*"
    shape: round
    when:
      - {health: Unknown, status: Unknown}
      - {if: {exists: status}, health: Healthy, status: Fine, colour: red}
  - name: bad-path
    kind: Kubernetes::Service
    when:
      - {if: {path: spec.type}, health: Healthy, status: Active}
      - {if: {exists: spec.type, missing: spec.ports}, health: Healthy, status: Active}
      - {if: {equals: Running}, health: Healthy}
  - kind: Kubernetes::Node
"#;
        let errors = load_one(text).unwrap_err().0;
        let has = |rule: &str, field: &str, words: &str| {
            errors.iter().any(|e| {
                e.file == "custom.yaml"
                    && e.rule.as_deref() == Some(rule)
                    && e.field.as_deref() == Some(field)
                    && e.message.contains(words)
            })
        };
        assert!(has("bad-path", "when[0].if.path", "status..phase"), "{errors:#?}");
        assert!(has("bad-health", "when[0].health", "unknown health \"Sick\""), "{errors:#?}");
        assert!(has("bad-duration", "when[0].if.older-than", "bad duration \"5 minutes\""), "{errors:#?}");
        assert!(
            has("bad-operator", "when[0].if.any[1].matches", "unknown condition operator \"matches\""),
            "{errors:#?}"
        );
        assert!(has("bad-kind", "kind", "Domain::Kind"), "{errors:#?}");
        assert!(has("bad-compare", "when[0].if.compare", "unknown comparison \"≤\""), "{errors:#?}");
        assert!(has("bad-compare", "when[0].status.from", "unclosed ["), "{errors:#?}");
        assert!(has("bad-compare", "when[0].ready", "expected true, false or a condition"), "{errors:#?}");
        assert!(has("unreachable", "shape", "unknown field"), "{errors:#?}");
        assert!(has("unreachable", "when[1]", "never reached"), "{errors:#?}");
        assert!(has("unreachable", "when[1].colour", "unknown field"), "{errors:#?}");
        assert!(has("bad-path", "name", "another rule has this name"), "{errors:#?}");
        assert!(has("bad-path", "when[0].if", "exactly one of equals, in, older-than"), "{errors:#?}");
        assert!(has("bad-path", "when[1].if", "expected one operator"), "{errors:#?}");
        assert!(has("bad-path", "when[2].if.equals", "needs a path"), "{errors:#?}");
        assert!(has("bad-path", "when[2].status", "expected a word"), "{errors:#?}");
        assert!(has("health #9", "name", "missing"), "{errors:#?}");
        assert!(has("health #9", "when", "non-empty list"), "{errors:#?}");
        let shown = RuleErrors(errors.clone()).to_string();
        assert!(
            shown.contains("custom.yaml: rule bad-health: when[0].health: unknown health \"Sick\": expected Healthy"),
            "{shown}"
        );
    }

    #[test]
    fn the_readme_example_loads() {
        let readme = include_str!("../../README.md");
        let block = readme
            .split("```yaml\n")
            .filter_map(|part| part.split_once("```").map(|(yaml, _)| yaml))
            .find(|yaml| yaml.contains("\nhealth:"))
            .expect("README has a health example");
        let set = load_one(block).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(set.health.len(), 3);
        assert_eq!(set.health[0].name, "k8s-terminating-health", "override rules are tried first");
    }

    #[test]
    fn health_must_be_a_list_and_sits_beside_rules() {
        let errors = load_one("version: 1\nhealth: {name: x}\n").unwrap_err().0;
        assert_eq!(errors[0].field.as_deref(), Some("health"), "{errors:?}");
        let errors = load_one("version: 1\nhealthz: []\n").unwrap_err().0;
        assert!(errors[0].message.contains("expected version, relations, rules, health"), "{errors:?}");
    }

    #[test]
    fn every_condition_form_compiles() {
        let set = load_one(
            r#"
version: 1
health:
  - name: everything
    kind: Custom::*
    override: true
    when:
      - if:
          - {path: status.phase, equals: Running}
          - {path: status.phase, in: [Running, Pending]}
          - {exists: status.phase}
          - {missing: metadata.deletionTimestamp}
          - {compare: "status.readyReplicas >= spec.replicas"}
          - {compare: "status.failed == 0"}
          - {path: metadata.creationTimestamp, older-than: 90s}
          - any: [{path: spec.paused, equals: true}, {not: {path: spec.paused, equals: true}}]
          - all: [{exists: status}]
        health: healthy
        status: {from: status.phase, default: Running}
        ready: [{path: "status.conditions[type=Ready].status", equals: True}]
"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let rule = &set.health[0];
        assert!(rule.overrides);
        assert_eq!(rule.applies, super::Applies::Domain("Custom".into()));
        assert_eq!(rule.clauses[0].health, graphd_core::Health::Healthy, "health words ignore case");
    }
}
