//! Evaluation: from one source item to the references its rules plan. Pure: no store, no I/O.
//! The daemon turns each planned reference into edges to the items that match it now, and
//! keeps it waiting for the ones that arrive later.

use crate::model::{LookIn, MatchField, Rule, RuleSet, Target, Values, WhenEmpty};
use crate::selector::Selector;
use graphd_core::Kind;
use serde_json::Value;
use std::collections::BTreeMap;

/// What a rule reads of one item.
#[derive(Debug, Clone, Copy)]
pub struct Source<'a> {
    pub kind: &'a Kind,
    pub namespace: Option<&'a str>,
    pub labels: &'a BTreeMap<String, String>,
    pub document: &'a Value,
}

/// How to find the targets of one reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// Items of `kind` (any kind when `None`) whose `field` is `value`.
    Field { kind: Option<Kind>, field: MatchField, value: String, namespace: Option<String>, look_in: LookIn },
    /// Items of `kind` whose labels match; an empty selector that selects everything is kept
    /// as an empty `selector`.
    Selector { kind: Kind, selector: Selector, namespace: Option<String>, look_in: LookIn },
}

/// A reference a rule derived from a source item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedRef<'r> {
    pub rule: &'r Rule,
    pub lookup: Lookup,
}

/// A source item a rule could not read (a malformed selector): counted and skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvalProblem {
    pub rule: String,
    pub message: String,
}

impl RuleSet {
    /// Every reference the rules plan from `source`, and what they could not read.
    pub fn plan<'r>(&'r self, source: &Source<'_>) -> (Vec<PlannedRef<'r>>, Vec<EvalProblem>) {
        let mut planned = Vec::new();
        let mut problems = Vec::new();
        for rule in &self.rules {
            if !rule.source.matches(source.kind)
                || !rule.source_labels.iter().all(|(k, v)| source.labels.get(k) == Some(v))
                || !rule.source_fields.iter().all(|(path, v)| path.strings(source.document).iter().any(|s| s == v))
            {
                continue;
            }
            match &rule.target {
                Target::Field { kind, field, values, capture, namespace, look_in } => {
                    let namespace = match namespace {
                        Some(path) => path.strings(source.document).into_iter().next(),
                        None => source.namespace.map(str::to_owned),
                    };
                    let found: Vec<(String, Option<String>)> = match values {
                        Values::Path(path) => path.strings(source.document).into_iter().map(|v| (v, None)).collect(),
                        // As a path skips an empty string: `metadata.namespace: ""` names no namespace.
                        Values::OwnNamespace => source
                            .namespace
                            .filter(|ns| !ns.is_empty())
                            .map(|ns| (ns.to_owned(), None))
                            .into_iter()
                            .collect(),
                        Values::Cel(expression) => match expression.values(source.document) {
                            Ok(found) => found.into_iter().map(|e| (e.value, e.namespace)).collect(),
                            Err(message) => {
                                problems.push(EvalProblem { rule: rule.name.clone(), message });
                                continue;
                            }
                        },
                    };
                    let first = planned.len();
                    for (value, own_namespace) in found {
                        let value = match capture {
                            None => value,
                            Some(capture) => match capture.apply(&value) {
                                Some(kept) => kept,
                                None => continue,
                            },
                        };
                        let namespace = own_namespace.or_else(|| namespace.clone());
                        let repeated = planned[first..].iter().any(|earlier: &PlannedRef| {
                            matches!(&earlier.lookup, Lookup::Field { value: v, namespace: n, .. }
                                if *v == value && *n == namespace)
                        });
                        if repeated {
                            continue;
                        }
                        let lookup =
                            Lookup::Field { kind: kind.clone(), field: *field, value, namespace, look_in: *look_in };
                        planned.push(PlannedRef { rule, lookup });
                    }
                }
                Target::Selector { kind, selector, when_empty, look_in } => {
                    let Some(value) = selector.values(source.document).into_iter().next() else {
                        // No selector at all: selects nothing, whatever an empty one would.
                        continue;
                    };
                    match Selector::from_value(value) {
                        Err(e) => problems.push(EvalProblem { rule: rule.name.clone(), message: e.to_string() }),
                        Ok(s) if s.is_empty() && *when_empty == WhenEmpty::Nothing => {}
                        Ok(s) => planned.push(PlannedRef {
                            rule,
                            lookup: Lookup::Selector {
                                kind: kind.clone(),
                                selector: s,
                                namespace: source.namespace.map(str::to_owned),
                                look_in: *look_in,
                            },
                        }),
                    }
                }
            }
        }
        (planned, problems)
    }
}
