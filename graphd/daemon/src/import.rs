//! Importing `kubectl get -o json|yaml` output: a `List`, a single object, or multi-document
//! YAML. Each object becomes an item of its cluster; Secret values and noise are dropped
//! before anything is stored; malformed objects are counted and skipped while the rest lands.

use graphd_core::{EdgeWrite, ExternalKey, Health, ItemId, ItemWrite, Kind, Provenance, Scope, Timestamp};
use graphd_store::{Engine, Op, Outcome, Store};
use serde_json::Value;
use std::collections::BTreeMap;

/// Objects per atomic batch.
pub const IMPORT_BATCH: usize = 1_000;

/// Every object in `text`, whatever of the three shapes it is in.
pub fn parse_objects(text: &str) -> anyhow::Result<Vec<Value>> {
    // The documents as a custom source reads them; a `List` among them stands for its items.
    let docs = graphd_scrape_custom::parse_documents(text).map_err(anyhow::Error::msg)?;
    let mut objects = Vec::new();
    for doc in docs {
        match doc {
            Value::Array(items) => objects.extend(items),
            Value::Object(ref map)
                if map.get("kind").and_then(Value::as_str).is_some_and(|k| k.ends_with("List"))
                    && map.contains_key("items") =>
            {
                objects.extend(map["items"].as_array().cloned().unwrap_or_default());
            }
            other => objects.push(other),
        }
    }
    Ok(objects)
}

/// The key of an object in `cluster`: its uid, or for objects without one (hand-written
/// manifests) its kind, namespace and name.
pub fn object_key(cluster: &str, object: &Value) -> Result<ExternalKey, String> {
    let kind_word = object.get("kind").and_then(Value::as_str).ok_or("no kind")?;
    let meta = object.get("metadata").ok_or("no metadata")?;
    let name = meta.get("name").and_then(Value::as_str).filter(|n| !n.is_empty()).ok_or("no metadata.name")?;
    let uid = match meta.get("uid").and_then(Value::as_str) {
        Some(uid) if !uid.is_empty() => uid.to_owned(),
        _ => format!("{kind_word}/{}/{name}", meta.get("namespace").and_then(Value::as_str).unwrap_or_default()),
    };
    Ok(ExternalKey::kubernetes(cluster, uid))
}

/// The item an object becomes in `cluster`, or why it cannot be one.
pub fn to_item(cluster: &str, object: &Value) -> Result<ItemWrite, String> {
    let key = object_key(cluster, object)?;
    let kind_word = object.get("kind").and_then(Value::as_str).ok_or("no kind")?;
    let kind = Kind::new(format!("Kubernetes::{kind_word}")).map_err(|e| e.to_string())?;
    let meta = object.get("metadata").ok_or("no metadata")?;
    let name = meta.get("name").and_then(Value::as_str).ok_or("no metadata.name")?;
    let namespace = meta.get("namespace").and_then(Value::as_str).map(str::to_owned);
    let labels: BTreeMap<String, String> = meta
        .get("labels")
        .and_then(Value::as_object)
        .map(|m| m.iter().filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned()))).collect())
        .unwrap_or_default();
    let mut item = ItemWrite::new(key, kind, name);
    item.namespace = namespace;
    item.scope = Scope { cluster: Some(cluster.to_owned()), ..Scope::default() };
    item.labels = labels;
    item.health = Health::Unknown;
    item.document = scrub(kind_word, object.clone());
    Ok(item)
}

/// The item of the cluster itself, the root of walk-up for its objects.
pub fn cluster_item(cluster: &str) -> ItemWrite {
    let key = ExternalKey::kubernetes(cluster, format!("cluster/{cluster}"));
    let mut item = ItemWrite::new(key, Kind::new("Kubernetes::Cluster").expect("a valid kind"), cluster);
    item.scope.cluster = Some(cluster.to_owned());
    item
}

/// The operations that store one object of `cluster`: its item, and for a cluster-scoped
/// object the cluster's `contains` edge to it. `source` is recorded as the edge's provenance.
pub fn object_ops(cluster: &str, object: &Value, source: &str) -> Result<Vec<Op>, String> {
    let item = to_item(cluster, object)?;
    let top_level = item.namespace.is_none();
    let key = item.key.clone();
    let mut ops = vec![Op::Upsert(item)];
    if top_level {
        ops.push(Op::Link(EdgeWrite {
            from: cluster_item(cluster).key,
            relation: "contains".into(),
            to: key,
            provenance: Provenance::Scraper(source.into()),
        }));
    }
    Ok(ops)
}

/// Drops what must never be stored (Secret values, including the copy kubectl keeps in an
/// annotation) and what only adds churn (managed fields).
pub fn scrub(kind: &str, mut object: Value) -> Value {
    if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("managedFields");
        if let Some(annotations) = meta.get_mut("annotations").and_then(Value::as_object_mut) {
            annotations.remove("kubectl.kubernetes.io/last-applied-configuration");
        }
    }
    if kind == "Secret" {
        if let Some(map) = object.as_object_mut() {
            map.remove("data");
            map.remove("stringData");
        }
    }
    object
}

/// What an import did.
#[derive(Debug, Default)]
pub struct ImportReport {
    pub objects: usize,
    pub outcome: Outcome,
    /// (object, reason) of every object skipped.
    pub skipped: Vec<(String, String)>,
    /// The items the objects became (and the cluster's).
    pub items: Vec<ItemId>,
}

/// What the imported items are linked to now: their outgoing edges by relation, and by rule
/// the references that find no target (yet).
#[derive(Debug, Default)]
pub struct LinkSummary {
    pub edges_by_relation: BTreeMap<String, usize>,
    pub waiting_by_rule: BTreeMap<String, usize>,
}

/// The [`LinkSummary`] of `items` in `store`.
pub fn link_summary<E: Engine>(store: &Store<E>, items: &[ItemId]) -> anyhow::Result<LinkSummary> {
    let mut summary = LinkSummary { waiting_by_rule: store.waiting_references(items)?, ..LinkSummary::default() };
    let reader = store.read();
    for &id in items {
        for edge in reader.edges(id, true, false)? {
            *summary.edges_by_relation.entry(edge.relation).or_default() += 1;
        }
    }
    Ok(summary)
}

/// Imports `objects` into `store` as cluster `cluster`, with a cluster item that contains its
/// namespaces and cluster-scoped objects. `progress` gets (objects done, objects total).
pub fn import<E: Engine>(
    store: &Store<E>,
    cluster: &str,
    objects: &[Value],
    mut progress: impl FnMut(usize, usize),
) -> anyhow::Result<ImportReport> {
    let mut report = ImportReport { objects: objects.len(), ..ImportReport::default() };
    let cluster_batch = store.apply(&[Op::Upsert(cluster_item(cluster))], Timestamp::now(), "import")?;
    report.outcome.add_counts(&cluster_batch);
    report.items.extend(cluster_batch.upserted);
    let mut skipped = Vec::new();
    let batches = objects.chunks(IMPORT_BATCH).map(|chunk| {
        let mut ops = Vec::new();
        for object in chunk {
            match object_ops(cluster, object, "import") {
                Err(reason) => skipped.push((describe(object), reason)),
                Ok(object_ops) => ops.extend(object_ops),
            }
        }
        (ops, Timestamp::now())
    });
    store.apply_all(batches, "import", |n, batch| {
        report.outcome.add_counts(&batch);
        report.items.extend(batch.upserted);
        progress(((n + 1) * IMPORT_BATCH).min(objects.len()), objects.len());
    })?;
    report.skipped = skipped;
    Ok(report)
}

/// `Kind name` of an object, for messages about it.
pub(crate) fn describe(object: &Value) -> String {
    let kind = object.get("kind").and_then(Value::as_str).unwrap_or("?");
    let name = object.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("?");
    format!("{kind} {name}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lists_single_objects_and_multi_document_yaml() {
        let list = r#"{"apiVersion":"v1","kind":"List","items":[{"kind":"Pod","metadata":{"name":"a"}},{"kind":"Pod","metadata":{"name":"b"}}]}"#;
        assert_eq!(parse_objects(list).unwrap().len(), 2);
        assert_eq!(parse_objects(r#"{"kind":"Node","metadata":{"name":"n"}}"#).unwrap().len(), 1);
        let yaml = "kind: Pod\nmetadata: {name: a}\n---\nkind: Service\nmetadata: {name: s}\n---\n";
        let objects = parse_objects(yaml).unwrap();
        assert_eq!(objects.len(), 2);
        assert_eq!(objects[1]["kind"], "Service");
        assert!(parse_objects("{not json").is_err());
    }

    #[test]
    fn secrets_lose_their_values_and_objects_their_noise() {
        let secret = json!({
            "kind": "Secret",
            "metadata": {"name": "db", "namespace": "ns", "uid": "u1", "managedFields": [{}],
                "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{\"data\":{\"password\":\"aHVudGVyMg==\"}}", "keep": "me"}},
            "data": {"password": "aHVudGVyMg=="},
            "stringData": {"token": "plain"},
            "type": "Opaque"
        });
        let item = to_item("c1", &secret).unwrap();
        let text = item.document.to_string();
        for leaked in ["aHVudGVyMg", "plain", "managedFields", "last-applied"] {
            assert!(!text.contains(leaked), "{leaked} reached the document: {text}");
        }
        assert_eq!(item.document["metadata"]["annotations"]["keep"], "me");
        assert_eq!(item.document["type"], "Opaque");
    }

    #[test]
    fn objects_without_what_an_item_needs_say_why() {
        assert_eq!(to_item("c", &json!({"metadata": {"name": "x"}})).unwrap_err(), "no kind");
        assert_eq!(to_item("c", &json!({"kind": "Pod", "metadata": {}})).unwrap_err(), "no metadata.name");
        let no_uid = to_item("c", &json!({"kind": "Pod", "metadata": {"name": "p", "namespace": "ns"}})).unwrap();
        assert_eq!(no_uid.key, ExternalKey::kubernetes("c", "Pod/ns/p"));
    }
}
