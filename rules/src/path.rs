//! Field paths over JSON documents: `spec.nodeName`, every
//! `spec.volumes[].persistentVolumeClaim.claimName`, `metadata.labels["app.kubernetes.io/name"]`.
//!
//! `[]` fans out over every element of an array; `[Key=value]` keeps only the elements whose
//! `Key` is `value` (`Tags[Key=eks:cluster-name].Value`); a quoted segment names a key that
//! holds dots or slashes. A path yields every string it reaches (numbers are rendered as text); missing
//! fields yield nothing, which is not an error: most Pods mount no PVC.

use serde_json::Value;
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Key(String),
    Each,
    /// The elements of an array whose field equals a value.
    Where(String, String),
}

impl Segment {
    /// Whether this segment, at an array, goes into `element`: `[]` into every one,
    /// `[field=value]` into those whose field has the value, a key into none.
    fn selects(&self, element: &Value) -> bool {
        match self {
            Segment::Key(_) => false,
            Segment::Each => true,
            Segment::Where(field, wanted) => element.get(field).and_then(Value::as_str) == Some(wanted.as_str()),
        }
    }
}

/// A parsed field path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldPath {
    text: String,
    segments: Vec<Segment>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad field path {path:?} at character {at}: {reason}")]
pub struct PathError {
    pub path: String,
    pub at: usize,
    pub reason: &'static str,
}

impl FieldPath {
    pub fn parse(text: &str) -> Result<FieldPath, PathError> {
        let fail = |at, reason| PathError { path: text.to_owned(), at, reason };
        let bytes = text.as_bytes();
        let mut segments = Vec::new();
        let mut i = 0;
        if text.is_empty() {
            return Err(fail(0, "empty path"));
        }
        while i < bytes.len() {
            match bytes[i] {
                b'[' if bytes.get(i + 1) == Some(&b']') => {
                    segments.push(Segment::Each);
                    i += 2;
                }
                b'[' if bytes.get(i + 1) == Some(&b'"') => {
                    let start = i + 2;
                    let end =
                        text[start..].find("\"]").map(|n| start + n).ok_or_else(|| fail(i, "unclosed [\"…\"]"))?;
                    if end == start {
                        return Err(fail(i, "empty quoted key"));
                    }
                    segments.push(Segment::Key(text[start..end].to_owned()));
                    i = end + 2;
                }
                b'[' => {
                    let end = text[i..].find(']').map(|n| i + n).ok_or_else(|| fail(i, "unclosed ["))?;
                    let (field, value) = text[i + 1..end]
                        .split_once('=')
                        .ok_or_else(|| fail(i, "expected [], [\"key\"] or [field=value]"))?;
                    if field.is_empty() || !field.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-') {
                        return Err(fail(i + 1, "a filter's field holds letters, digits, '_' and '-'"));
                    }
                    segments.push(Segment::Where(field.to_owned(), value.to_owned()));
                    i = end + 1;
                }
                b'.' => {
                    if i == 0 || i + 1 == bytes.len() || bytes[i + 1] == b'.' {
                        return Err(fail(i, "empty segment"));
                    }
                    i += 1;
                }
                _ => {
                    let start = i;
                    while i < bytes.len() && !matches!(bytes[i], b'.' | b'[') {
                        let c = bytes[i];
                        if !(c.is_ascii_alphanumeric() || c == b'_' || c == b'-') {
                            return Err(fail(i, "keys hold letters, digits, '_' and '-'; quote others as [\"…\"]"));
                        }
                        i += 1;
                    }
                    segments.push(Segment::Key(text[start..i].to_owned()));
                }
            }
        }
        Ok(FieldPath { text: text.to_owned(), segments })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Every string value the path reaches in `doc`, in document order.
    pub fn strings(&self, doc: &Value) -> Vec<String> {
        let mut out = Vec::new();
        self.any(doc, |value| {
            match value {
                Value::String(s) if !s.is_empty() => out.push(s.clone()),
                Value::Number(n) => out.push(n.to_string()),
                _ => {}
            }
            false
        });
        out
    }

    /// Whether `test` holds for some value the path reaches in `doc` (never `null`). Walks the
    /// document without collecting anything: health rules run it on every ingested object.
    pub fn any<'d>(&self, doc: &'d Value, mut test: impl FnMut(&'d Value) -> bool) -> bool {
        fn walk<'d>(segments: &[Segment], value: &'d Value, test: &mut dyn FnMut(&'d Value) -> bool) -> bool {
            let Some((segment, rest)) = segments.split_first() else {
                return !value.is_null() && test(value);
            };
            match (segment, value) {
                (Segment::Key(key), Value::Object(map)) => map.get(key).is_some_and(|v| walk(rest, v, test)),
                (Segment::Each | Segment::Where(..), Value::Array(items)) => {
                    items.iter().filter(|item| segment.selects(item)).any(|v| walk(rest, v, test))
                }
                _ => false,
            }
        }
        walk(&self.segments, doc, &mut test)
    }

    /// The first value the path reaches in `doc`, in document order.
    pub fn first<'d>(&self, doc: &'d Value) -> Option<&'d Value> {
        let mut found = None;
        self.any(doc, |v| {
            found = Some(v);
            true
        });
        found
    }

    /// Whether the path ends in a key, so that it names fields that can be removed.
    pub fn ends_in_key(&self) -> bool {
        matches!(self.segments.last(), Some(Segment::Key(_)))
    }

    /// Removes every field the path reaches in `doc` (the path ends in a key); returns whether
    /// there was one.
    pub fn remove(&self, doc: &mut Value) -> bool {
        fn walk(segments: &[Segment], value: &mut Value) -> bool {
            let Some((segment, rest)) = segments.split_first() else { return false };
            match (segment, value) {
                (Segment::Key(key), Value::Object(map)) if rest.is_empty() => map.remove(key).is_some(),
                (Segment::Key(key), Value::Object(map)) => map.get_mut(key).is_some_and(|v| walk(rest, v)),
                (Segment::Each | Segment::Where(..), Value::Array(items)) => {
                    items.iter_mut().filter(|item| segment.selects(item)).fold(false, |found, v| walk(rest, v) | found)
                }
                _ => false,
            }
        }
        walk(&self.segments, doc)
    }

    /// Every value the path reaches in `doc`, in document order.
    pub fn values<'d>(&self, doc: &'d Value) -> Vec<&'d Value> {
        let mut out = Vec::new();
        self.any(doc, |v| {
            out.push(v);
            false
        });
        out
    }
}

/// Appends `doc` as compact JSON to `out`, leaving out every field one of `paths` (each ending
/// in a key) reaches: the bytes `serde_json::to_vec` gives after [`FieldPath::remove`] of each
/// path, without copying the document. Returns whether it left any field out.
pub fn write_json_without(doc: &Value, paths: &[&FieldPath], out: &mut Vec<u8>) -> bool {
    let within: Vec<&[Segment]> = paths.iter().map(|path| path.segments.as_slice()).collect();
    let left_out = std::cell::Cell::new(false);
    let doc = Without { value: doc, paths: within, left_out: &left_out };
    serde::Serialize::serialize(&doc, &mut serde_json::Serializer::new(out)).expect("JSON values always serialise");
    left_out.get()
}

/// A value to serialise without the fields the rest of each path reaches within it.
struct Without<'a> {
    value: &'a Value,
    paths: Vec<&'a [Segment]>,
    left_out: &'a std::cell::Cell<bool>,
}

impl serde::Serialize for Without<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeSeq};
        if self.paths.is_empty() {
            return self.value.serialize(serializer);
        }
        let within = |value, paths| Without { value, paths, left_out: self.left_out };
        match self.value {
            Value::Object(map) => {
                let mut out = serializer.serialize_map(Some(map.len()))?;
                for (key, value) in map {
                    let rests: Vec<&[Segment]> = self
                        .paths
                        .iter()
                        .filter_map(|path| match path.split_first() {
                            Some((Segment::Key(k), rest)) if k == key => Some(rest),
                            _ => None,
                        })
                        .collect();
                    if rests.iter().any(|rest| rest.is_empty()) {
                        self.left_out.set(true);
                        continue;
                    }
                    out.serialize_entry(key, &within(value, rests))?;
                }
                out.end()
            }
            Value::Array(items) => {
                let mut out = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    let rests: Vec<&[Segment]> = self
                        .paths
                        .iter()
                        .filter_map(|path| path.split_first())
                        .filter(|(segment, rest)| segment.selects(item) && !rest.is_empty())
                        .map(|(_, rest)| rest)
                        .collect();
                    out.serialize_element(&within(item, rests))?;
                }
                out.end()
            }
            other => other.serialize(serializer),
        }
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn removes_every_field_it_reaches_and_nothing_else() {
        let mut node = json!({"status": {"conditions": [
            {"type": "Ready", "status": "True", "lastHeartbeatTime": "t1"},
            {"type": "DiskPressure", "status": "False", "lastHeartbeatTime": "t2"},
            {"type": "Custom", "status": "True"}
        ]}});
        let path = FieldPath::parse("status.conditions[].lastHeartbeatTime").unwrap();
        assert!(path.ends_in_key());
        assert!(path.remove(&mut node));
        assert_eq!(node["status"]["conditions"][1], json!({"type": "DiskPressure", "status": "False"}));
        assert!(!path.remove(&mut node), "nothing left to remove");
        let only_ready = FieldPath::parse("status.conditions[type=Ready].status").unwrap();
        assert!(only_ready.remove(&mut node));
        assert_eq!(node["status"]["conditions"][0], json!({"type": "Ready"}));
        assert_eq!(node["status"]["conditions"][2]["status"], "True");
        assert!(!FieldPath::parse("status.conditions[]").unwrap().ends_in_key());
    }

    #[test]
    fn reaches_nested_and_fanned_out_values() {
        let pod = json!({
            "spec": {
                "nodeName": "n1",
                "volumes": [
                    {"persistentVolumeClaim": {"claimName": "data"}},
                    {"configMap": {"name": "cfg"}},
                    {"persistentVolumeClaim": {"claimName": "logs"}}
                ]
            },
            "metadata": {"labels": {"app.kubernetes.io/name": "web"}}
        });
        let get = |p: &str| FieldPath::parse(p).unwrap().strings(&pod);
        assert_eq!(get("spec.nodeName"), ["n1"]);
        assert_eq!(get("spec.volumes[].persistentVolumeClaim.claimName"), ["data", "logs"]);
        assert_eq!(get("metadata.labels[\"app.kubernetes.io/name\"]"), ["web"]);
        let instance = json!({"Tags": [{"Key": "Name", "Value": "n1"}, {"Key": "eks:cluster-name", "Value": "prod"}]});
        let tag = FieldPath::parse("Tags[Key=eks:cluster-name].Value").unwrap();
        assert_eq!(tag.strings(&instance), ["prod"]);
        assert!(get("spec.absent.deeper").is_empty(), "missing fields yield nothing");
        assert!(get("spec.nodeName[]").is_empty(), "fanning out a string yields nothing");
    }

    #[test]
    fn bad_paths_say_where() {
        for (bad, at) in [
            ("", 0),
            (".a", 0),
            ("a..b", 1),
            ("a.", 1),
            ("a[0]", 1),
            ("a[\"x", 1),
            ("a b", 1),
            ("a[=x]", 2),
            ("a[k=v", 1),
        ] {
            let err = FieldPath::parse(bad).unwrap_err();
            assert_eq!(err.at, at, "{bad:?}: {err}");
        }
    }
}
