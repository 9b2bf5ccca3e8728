//! LIST and GET: paged, consistent lists with opaque continue tokens that expire with
//! compaction, and the shapes of objects as the real server renders them.

use crate::request::Query;
use crate::status;
use crate::store::{Expired, ObjKey, ResourceType, Store};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{json, Map, Value};

/// How an object is rendered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    /// The whole object.
    Full,
    /// `PartialObjectMetadata`: `kind`, `apiVersion` and `metadata`, nothing else.
    Metadata,
}

/// `object` as `shape` asks, with its `kind` and `apiVersion`.
pub(crate) fn render(object: &Value, shape: Shape) -> Value {
    match shape {
        Shape::Full => object.clone(),
        Shape::Metadata => partial(object["metadata"].clone()),
    }
}

fn partial(metadata: Value) -> Value {
    json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": metadata})
}

/// A list item: like [`render`], but built-in kinds lose `kind` and `apiVersion`, as the
/// real server's typed lists (`PodList`) carry them only once, on the list.
fn list_item(rt: &ResourceType, object: &Value, shape: Shape) -> Value {
    let mut item = render(object, shape);
    if shape == Shape::Full && rt.builtin {
        if let Some(fields) = item.as_object_mut() {
            fields.remove("kind");
            fields.remove("apiVersion");
        }
    }
    item
}

/// The object a watch bookmark carries: the resource's kind and nothing but the
/// resourceVersion (plus annotations, for the end of a streaming list's initial events).
pub(crate) fn bookmark(rt: &ResourceType, shape: Shape, rv: u64, annotations: Option<Value>) -> Value {
    let mut metadata = Map::new();
    metadata.insert("resourceVersion".into(), Value::String(rv.to_string()));
    metadata.insert("creationTimestamp".into(), Value::Null);
    if let Some(annotations) = annotations {
        metadata.insert("annotations".into(), annotations);
    }
    match shape {
        Shape::Full => json!({"kind": rt.kind, "apiVersion": rt.api_version(), "metadata": metadata}),
        Shape::Metadata => partial(Value::Object(metadata)),
    }
}

/// Where a page starts: the resourceVersion the whole list is read at, and the last key
/// the previous page ended on. Encoded as hex of a small JSON document, as opaque as the
/// real server's base64 one.
fn encode_continue(rv: u64, after: &ObjKey) -> String {
    let doc = json!({"v": "meta.k8s.io/v1", "rv": rv, "after": [after.0, after.1]}).to_string();
    doc.bytes().map(|b| format!("{b:02x}")).collect()
}

fn decode_continue(token: &str) -> Option<(u64, ObjKey)> {
    let pairs = token.as_bytes().chunks_exact(2);
    if !pairs.remainder().is_empty() {
        return None;
    }
    let bytes: Vec<u8> =
        pairs.map(|pair| u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok()).collect::<Option<_>>()?;
    let doc: Value = serde_json::from_slice(&bytes).ok()?;
    let after = doc["after"].as_array()?;
    Some((doc["rv"].as_u64()?, (after.first()?.as_str()?.to_string(), after.get(1)?.as_str()?.to_string())))
}

/// A LIST of `rt`, in `namespace` or everywhere; `page_cap` bounds the `limit` asked for.
pub(crate) fn list(
    store: &Store,
    rt: &ResourceType,
    namespace: Option<&str>,
    query: &Query,
    shape: Shape,
    page_cap: Option<usize>,
) -> Response {
    let (at, after) = match &query.continue_token {
        Some(token) => match decode_continue(token) {
            Some((rv, after)) => (rv, Some(after)),
            None => return status::bad_request("continue key is not valid: the test server did not issue it"),
        },
        None => {
            let at = match (query.resource_version_match.as_deref(), query.resource_version_number()) {
                (_, Err(message)) => return status::bad_request(&message),
                (Some("Exact"), Ok(Some(rv))) => rv,
                _ => store.resource_version(),
            };
            (at, None)
        }
    };
    let limit = query.limit.map(|l| page_cap.map_or(l, |cap| l.min(cap))).unwrap_or(usize::MAX);
    let page = match store.page(&rt.gvr, namespace, at, after.as_ref(), limit) {
        Ok(page) => page,
        Err(Expired { requested, oldest }) if query.continue_token.is_some() => {
            let message = format!(
                "The provided continue parameter is too old to display a consistent list result. \
                 You can start a new list without the continue parameter. (list at {requested}, \
                 history starts at {oldest})"
            );
            return status::error(StatusCode::GONE, "Expired", &message);
        }
        Err(Expired { requested, oldest }) => {
            return status::json_response_as(StatusCode::GONE, &status::too_old(requested, oldest), "application/json")
        }
    };
    let mut metadata = json!({"resourceVersion": at.to_string()});
    if page.remaining > 0 {
        let (last, _) = page.items.last().expect("a limit is at least 1");
        metadata["continue"] = json!(encode_continue(at, last));
        metadata["remainingItemCount"] = json!(page.remaining);
    }
    let (kind, api_version) = match shape {
        Shape::Full => (format!("{}List", rt.kind), rt.api_version()),
        Shape::Metadata => ("PartialObjectMetadataList".to_string(), "meta.k8s.io/v1".to_string()),
    };
    let items: Vec<Value> = page.items.iter().map(|(_, object)| list_item(rt, object, shape)).collect();
    status::ok(&json!({"kind": kind, "apiVersion": api_version, "metadata": metadata, "items": items}))
}

/// A GET of one object.
pub(crate) fn get(store: &Store, rt: &ResourceType, namespace: Option<&str>, name: &str, shape: Shape) -> Response {
    let key = (namespace.unwrap_or_default().to_string(), name.to_string());
    match store.get(&rt.gvr, &key) {
        Some(object) => status::ok(&render(&object, shape)),
        None => status::not_found(&format!("{} \"{name}\" not found", rt.gvr.plural)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continue_tokens_round_trip() {
        let key = ("kube-system".to_string(), "coredns-\"x\"".to_string());
        let token = encode_continue(42, &key);
        assert!(token.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(decode_continue(&token), Some((42, key)));
        assert_eq!(decode_continue("zz"), None);
        assert_eq!(decode_continue("abc"), None);
    }
}
