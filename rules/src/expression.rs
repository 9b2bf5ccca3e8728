//! CEL expressions over a document: in link rules, where a field path cannot say it (names
//! built from several fields, `<template>-<statefulset>-<ordinal>`; a target namespace per
//! value, the subjects of a RoleBinding; text taken apart, `spec.providerID.split("/")`), and
//! in custom sources, the mapping of a record to an item.
//!
//! The document is the variable `object`. The standard library is there with the `strings`
//! and `lists` extensions (`split`, `join`, `lists.range`, `flatten`, …). An expression gives a
//! string, a number, a list of them, or — when each value has its own target namespace — maps
//! `{"value": …, "namespace": …}`; `null` and an empty list give nothing.

use serde_json::Value as Json;
use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

/// The environment every expression is compiled and run in.
static ENV: LazyLock<Arc<cel::Env>> = LazyLock::new(|| {
    let mut env = cel::Env::stdlib();
    env.add_extension(cel::extensions::strings).expect("the strings extension declares no conflict");
    env.add_extension(cel::extensions::lists).expect("the lists extension declares no conflict");
    Arc::new(env)
});

/// A compiled expression, compared by its text.
#[derive(Clone)]
pub struct Expression {
    text: String,
    program: Arc<cel::Program>,
}

impl std::fmt::Debug for Expression {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cel({:?})", self.text)
    }
}

impl PartialEq for Expression {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl Eq for Expression {}

/// One value an expression gave, with the target namespace it named, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extracted {
    pub value: String,
    pub namespace: Option<String>,
}

impl Expression {
    /// Compiles `text`, or says what is wrong with it.
    pub fn compile(text: &str) -> Result<Self, String> {
        match ENV.compile(text) {
            Ok(program) => Ok(Expression { text: text.to_owned(), program: Arc::new(program) }),
            Err(e) => Err(format!("CEL does not compile: {}", e.to_string().replace('\n', "; "))),
        }
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    /// Runs the expression over `document` (the variable `object`).
    pub fn evaluate(&self, document: &Json) -> Result<cel::Value, cel::ExecutionError> {
        let mut context = cel::Context::with_env(Arc::clone(&ENV));
        context.add_variable_from_value("object", to_cel(document));
        self.program.execute(&context)
    }

    /// What the expression gives for `document`, as JSON; a field the document lacks gives
    /// `null`. Maps with keys other than strings have them written out as strings.
    pub fn json(&self, document: &Json) -> Result<Json, String> {
        match self.evaluate(document) {
            Ok(result) => to_json(&result).ok_or_else(|| format!("CEL {:?} gave a {:?}", self.text, result.type_of())),
            Err(cel::ExecutionError::NoSuchKey(_)) => Ok(Json::Null),
            Err(e) => Err(format!("CEL {:?}: {e}", self.text)),
        }
    }

    /// The values the expression gives for `document`. A field the document lacks gives
    /// nothing, as a field path that reaches nothing does; any other failure (a variable that
    /// is not `object`, a function applied to the wrong type, a result that is not a value)
    /// is returned for the caller to count.
    pub fn values(&self, document: &Json) -> Result<Vec<Extracted>, String> {
        let result = match self.evaluate(document) {
            Ok(result) => result,
            Err(cel::ExecutionError::NoSuchKey(_)) => return Ok(Vec::new()),
            Err(e) => return Err(format!("CEL {:?}: {e}", self.text)),
        };
        let mut out = Vec::new();
        let items = match &result {
            cel::Value::List(list) => list.iter().collect(),
            single => vec![single],
        };
        for item in items {
            match extracted(item) {
                Some(Ok(found)) if !out.contains(&found) => out.push(found),
                Some(Ok(_)) | None => {}
                Some(Err(what)) => return Err(format!("CEL {:?} gave {what}", self.text)),
            }
        }
        Ok(out)
    }
}

/// One element of a result: `None` for null or an empty string.
fn extracted(value: &cel::Value) -> Option<Result<Extracted, String>> {
    let value = match value {
        cel::Value::Map(map) => {
            let field = |name: &str| map.map.get(&cel::objects::Key::from(name));
            return match field("value") {
                None => Some(Err("a map without a \"value\" key".into())),
                Some(value) => {
                    scalar(value).map(|value| Ok(Extracted { value, namespace: field("namespace").and_then(scalar) }))
                }
            };
        }
        cel::Value::Null => return None,
        other => match scalar(other) {
            Some(value) => value,
            None => return Some(Err(format!("a {:?}, not a string, number or {{value, namespace}}", other.type_of()))),
        },
    };
    Some(Ok(Extracted { value, namespace: None }))
}

fn scalar(value: &cel::Value) -> Option<String> {
    let text = match value {
        cel::Value::String(s) => s.as_str().to_owned(),
        cel::Value::Int(n) => n.to_string(),
        cel::Value::UInt(n) => n.to_string(),
        _ => return None,
    };
    Some(text).filter(|s| !s.is_empty())
}

/// JSON as CEL sees it: whole numbers are `int` (so `lists.range(object.spec.replicas)` works),
/// others `double`.
fn to_cel(json: &Json) -> cel::Value {
    match json {
        Json::Null => cel::Value::Null,
        Json::Bool(b) => cel::Value::Bool(*b),
        Json::Number(n) => match n.as_i64() {
            Some(i) => cel::Value::Int(i),
            None => cel::Value::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        Json::String(s) => cel::Value::String(Arc::new(s.clone())),
        Json::Array(list) => cel::Value::List(Arc::new(list.iter().map(to_cel).collect())),
        Json::Object(map) => {
            let map: HashMap<cel::objects::Key, cel::Value> =
                map.iter().map(|(k, v)| (cel::objects::Key::from(k.as_str()), to_cel(v))).collect();
            cel::Value::Map(map.into())
        }
    }
}

/// A CEL value as JSON: `None` for what JSON has no word for (bytes, types, functions).
fn to_json(value: &cel::Value) -> Option<Json> {
    Some(match value {
        cel::Value::Null => Json::Null,
        cel::Value::Bool(b) => Json::Bool(*b),
        cel::Value::Int(n) => Json::from(*n),
        cel::Value::UInt(n) => Json::from(*n),
        cel::Value::Float(f) => serde_json::Number::from_f64(*f).map(Json::Number).unwrap_or(Json::Null),
        cel::Value::String(s) => Json::String(s.as_str().to_owned()),
        cel::Value::List(list) => Json::Array(list.iter().map(to_json).collect::<Option<_>>()?),
        cel::Value::Map(map) => Json::Object(
            map.map
                .iter()
                .map(|(key, value)| {
                    let key = match key {
                        cel::objects::Key::String(s) => s.as_str().to_owned(),
                        cel::objects::Key::Int(n) => n.to_string(),
                        cel::objects::Key::Uint(n) => n.to_string(),
                        cel::objects::Key::Bool(b) => b.to_string(),
                    };
                    Some((key, to_json(value)?))
                })
                .collect::<Option<_>>()?,
        ),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn values(text: &str, document: Json) -> Vec<(String, Option<String>)> {
        let expression = Expression::compile(text).unwrap();
        expression.values(&document).unwrap().into_iter().map(|e| (e.value, e.namespace)).collect()
    }

    #[test]
    fn takes_text_apart() {
        let node = json!({"spec": {"providerID": "aws:///eu-west-1a/i-0abc"}});
        assert_eq!(values("object.spec.providerID.split('/')[4]", node), [("i-0abc".into(), None)]);
    }

    #[test]
    fn builds_names_from_several_fields() {
        let set = json!({
            "metadata": {"name": "alertmanager-main"},
            "spec": {"replicas": 2, "volumeClaimTemplates": [{"metadata": {"name": "data"}}]}
        });
        let text = "object.spec.volumeClaimTemplates.map(t, lists.range(object.spec.replicas).map(i, \
                    t.metadata.name + '-' + object.metadata.name + '-' + string(i))).flatten()";
        let names: Vec<String> = values(text, set).into_iter().map(|(v, _)| v).collect();
        assert_eq!(names, ["data-alertmanager-main-0", "data-alertmanager-main-1"]);
    }

    #[test]
    fn gives_a_namespace_per_value() {
        let binding = json!({"subjects": [
            {"kind": "ServiceAccount", "name": "a", "namespace": "ns1"},
            {"kind": "User", "name": "alice"},
            {"kind": "ServiceAccount", "name": "b", "namespace": "ns2"},
        ]});
        let text =
            "object.subjects.filter(s, s.kind == 'ServiceAccount').map(s, {'value': s.name, 'namespace': s.namespace})";
        assert_eq!(values(text, binding), [("a".into(), Some("ns1".into())), ("b".into(), Some("ns2".into()))]);
    }

    #[test]
    fn a_missing_field_gives_nothing_and_a_misuse_is_an_error() {
        assert!(values("object.spec.nodeName", json!({"spec": {}})).is_empty());
        assert!(values("has(object.spec) ? object.spec.x : null", json!({})).is_empty());
        let unknown = Expression::compile("obj.spec").unwrap().values(&json!({})).unwrap_err();
        assert!(unknown.contains("obj"), "{unknown}");
        let not_a_value = Expression::compile("object.spec").unwrap().values(&json!({"spec": {"a": "b"}}));
        assert!(not_a_value.unwrap_err().contains("without a \"value\" key"));
        let wrong_type = Expression::compile("[true]").unwrap().values(&json!({})).unwrap_err();
        assert!(wrong_type.contains("not a string"), "{wrong_type}");
    }

    #[test]
    fn gives_json() {
        let record = json!({"svc": {"id": 7, "tags": {"team": "payments"}, "up": true}});
        let made = Expression::compile("{'id': string(object.svc.id), 'labels': object.svc.tags, 'ok': object.svc.up}")
            .unwrap()
            .json(&record)
            .unwrap();
        assert_eq!(made, json!({"id": "7", "labels": {"team": "payments"}, "ok": true}));
        assert_eq!(Expression::compile("object.missing").unwrap().json(&record).unwrap(), Json::Null);
    }

    #[test]
    fn a_syntax_error_is_reported_at_compile_time() {
        let error = Expression::compile("object.spec.(").unwrap_err();
        assert!(error.starts_with("CEL does not compile"), "{error}");
    }
}
