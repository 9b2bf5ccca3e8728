//! Kubernetes label selectors: `matchLabels` and `matchExpressions` (`In`, `NotIn`, `Exists`,
//! `DoesNotExist`), or a plain map as in a Service's `spec.selector`.
//!
//! What an *empty* selector means differs by resource, and the rule says which: a Service with
//! no selector selects nothing; a NetworkPolicy's empty `podSelector` selects every Pod of
//! its namespace.

use serde_json::Value;
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requirement {
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    DoesNotExist(String),
}

/// A parsed selector. `None` from [`Selector::from_value`] means "absent".
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Selector {
    pub requirements: Vec<Requirement>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed label selector: {0}")]
pub struct SelectorError(pub String);

impl Selector {
    /// Reads a selector in `LabelSelector` form (`matchLabels` / `matchExpressions`) or as a
    /// plain label map.
    pub fn from_value(value: &Value) -> Result<Selector, SelectorError> {
        let Value::Object(map) = value else {
            return Err(SelectorError(format!("expected an object, got {value}")));
        };
        let is_label_selector = map.contains_key("matchLabels") || map.contains_key("matchExpressions");
        let mut requirements = Vec::new();
        let labels = if is_label_selector { map.get("matchLabels") } else { Some(value) };
        if let Some(Value::Object(labels)) = labels {
            for (k, v) in labels {
                let v = v.as_str().ok_or_else(|| SelectorError(format!("label {k} is not a string")))?;
                requirements.push(Requirement::In(k.clone(), vec![v.to_owned()]));
            }
        }
        if let Some(expressions) = map.get("matchExpressions") {
            let Value::Array(expressions) = expressions else {
                return Err(SelectorError("matchExpressions is not a list".into()));
            };
            for e in expressions {
                requirements.push(expression(e)?);
            }
        }
        Ok(Selector { requirements })
    }

    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    /// Whether `labels` satisfy every requirement (an empty selector matches everything; the
    /// caller decides whether empty selects at all).
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.matches_by(|key| labels.get(key).map(String::as_str))
    }

    /// [`Selector::matches`] for labels kept in any form: `label` gives the value of a key, if
    /// it is set.
    pub fn matches_by<'l>(&self, label: impl Fn(&str) -> Option<&'l str>) -> bool {
        let among = |values: &[String], v: &str| values.iter().any(|value| value == v);
        self.requirements.iter().all(|r| match r {
            Requirement::In(k, values) => label(k).is_some_and(|v| among(values, v)),
            Requirement::NotIn(k, values) => label(k).is_none_or(|v| !among(values, v)),
            Requirement::Exists(k) => label(k).is_some(),
            Requirement::DoesNotExist(k) => label(k).is_none(),
        })
    }
}

fn expression(e: &Value) -> Result<Requirement, SelectorError> {
    let key = e.get("key").and_then(Value::as_str).ok_or_else(|| SelectorError("expression without key".into()))?;
    let op = e
        .get("operator")
        .and_then(Value::as_str)
        .ok_or_else(|| SelectorError(format!("expression on {key} without operator")))?;
    let values = || -> Result<Vec<String>, SelectorError> {
        e.get("values")
            .and_then(Value::as_array)
            .map(|vs| vs.iter().filter_map(Value::as_str).map(str::to_owned).collect())
            .ok_or_else(|| SelectorError(format!("{op} on {key} needs values")))
    };
    Ok(match op {
        "In" => Requirement::In(key.to_owned(), values()?),
        "NotIn" => Requirement::NotIn(key.to_owned(), values()?),
        "Exists" => Requirement::Exists(key.to_owned()),
        "DoesNotExist" => Requirement::DoesNotExist(key.to_owned()),
        other => return Err(SelectorError(format!("unknown operator {other:?} on {key}"))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn plain_maps_and_label_selectors() {
        let web = labels(&[("app", "web"), ("tier", "front")]);
        let db = labels(&[("app", "db")]);
        let service = Selector::from_value(&json!({"app": "web"})).unwrap();
        assert!(service.matches(&web) && !service.matches(&db));
        let expr = Selector::from_value(&json!({
            "matchLabels": {"tier": "front"},
            "matchExpressions": [
                {"key": "app", "operator": "In", "values": ["web", "api"]},
                {"key": "canary", "operator": "DoesNotExist"}
            ]
        }))
        .unwrap();
        assert!(expr.matches(&web));
        assert!(!expr.matches(&labels(&[("app", "web"), ("tier", "front"), ("canary", "1")])));
        let not_in =
            Selector::from_value(&json!({"matchExpressions": [{"key": "app", "operator": "NotIn", "values": ["db"]}]}))
                .unwrap();
        assert!(not_in.matches(&web) && !not_in.matches(&db) && not_in.matches(&labels(&[])));
    }

    #[test]
    fn empty_selectors_are_visible_as_such() {
        assert!(Selector::from_value(&json!({})).unwrap().is_empty());
        assert!(Selector::from_value(&json!({"matchLabels": {}})).unwrap().is_empty());
    }

    #[test]
    fn malformed_selectors_are_errors() {
        assert!(Selector::from_value(&json!("app=web")).is_err());
        assert!(Selector::from_value(&json!({"matchExpressions": [{"key": "a", "operator": "Near"}]})).is_err());
        assert!(Selector::from_value(&json!({"matchExpressions": [{"key": "a", "operator": "In"}]})).is_err());
    }
}
