//! The difference between two JSON documents as an RFC 6902 JSON Patch: what an update changed.

use serde_json::{json, Map, Value};

/// The operations that turn `old` into `new`: `add`, `remove` and `replace`, by JSON Pointer.
/// Objects are compared key by key and arrays of one length element by element; an array that
/// changed length is replaced whole.
pub fn diff(old: &Value, new: &Value) -> Vec<Value> {
    let mut ops = Vec::new();
    walk(&mut String::new(), old, new, &mut ops);
    ops
}

fn walk(path: &mut String, old: &Value, new: &Value, ops: &mut Vec<Value>) {
    if old == new {
        return;
    }
    match (old, new) {
        (Value::Object(before), Value::Object(after)) => objects(path, before, after, ops),
        (Value::Array(before), Value::Array(after)) if before.len() == after.len() => {
            for (i, (a, b)) in before.iter().zip(after).enumerate() {
                let len = path.len();
                path.push_str(&format!("/{i}"));
                walk(path, a, b, ops);
                path.truncate(len);
            }
        }
        _ => ops.push(json!({"op": "replace", "path": path.as_str(), "value": new})),
    }
}

fn objects(path: &mut String, before: &Map<String, Value>, after: &Map<String, Value>, ops: &mut Vec<Value>) {
    for (key, old) in before {
        let len = path.len();
        push_key(path, key);
        match after.get(key) {
            None => ops.push(json!({"op": "remove", "path": path.as_str()})),
            Some(new) => walk(path, old, new, ops),
        }
        path.truncate(len);
    }
    for (key, new) in after.iter().filter(|(key, _)| !before.contains_key(*key)) {
        let len = path.len();
        push_key(path, key);
        ops.push(json!({"op": "add", "path": path.as_str(), "value": new}));
        path.truncate(len);
    }
}

/// `/key`, with `~` and `/` escaped as JSON Pointer says.
fn push_key(path: &mut String, key: &str) {
    path.push('/');
    path.push_str(&key.replace('~', "~0").replace('/', "~1"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_patch_names_what_was_added_removed_and_replaced() {
        let old = json!({"metadata": {"labels": {"app": "web", "app.kubernetes.io/tier": "front"}},
            "spec": {"containers": [{"image": "web:1"}, {"image": "log:1"}], "ports": [80]}});
        let new = json!({"metadata": {"labels": {"app": "web", "team": "shop"}},
            "spec": {"containers": [{"image": "web:2"}, {"image": "log:1"}], "ports": [80, 443]}});
        assert_eq!(
            diff(&old, &new),
            vec![
                json!({"op": "remove", "path": "/metadata/labels/app.kubernetes.io~1tier"}),
                json!({"op": "add", "path": "/metadata/labels/team", "value": "shop"}),
                json!({"op": "replace", "path": "/spec/containers/0/image", "value": "web:2"}),
                json!({"op": "replace", "path": "/spec/ports", "value": [80, 443]}),
            ]
        );
        assert!(diff(&old, &old).is_empty());
        assert_eq!(diff(&Value::Null, &json!({"a": 1})), vec![json!({"op": "replace", "path": "", "value": {"a": 1}})]);
    }
}
