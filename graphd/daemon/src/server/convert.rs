//! Conversions between the gRPC contract and the domain, in one place. Conversions from
//! requests name the field that is wrong.

use graphd_core::{Change, EdgeWrite, ExternalKey, Health, Item, ItemWrite, Kind, Provenance, Scope, Timestamp};
use graphd_proto::v1 as pb;
use graphd_store::{KeyScope, Op, Resync};
use std::collections::BTreeMap;

/// A request field that cannot become a domain value.
#[derive(Debug, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct FieldError {
    pub field: String,
    pub reason: String,
}

fn bad(field: impl Into<String>, reason: impl Into<String>) -> FieldError {
    FieldError { field: field.into(), reason: reason.into() }
}

pub fn key_from(key: Option<&pb::ExternalKey>, field: &str) -> Result<ExternalKey, FieldError> {
    let key = match key.and_then(|k| k.source.as_ref()) {
        None => return Err(bad(field, "missing")),
        Some(pb::external_key::Source::Kubernetes(k)) => ExternalKey::kubernetes(&k.cluster, &k.uid),
        Some(pb::external_key::Source::Aws(k)) => ExternalKey::aws(&k.account, &k.region, &k.resource_id),
        Some(pb::external_key::Source::Custom(k)) => ExternalKey::custom(&k.source, &k.id),
    };
    key.validate().map_err(|reason| bad(field, reason))?;
    Ok(key)
}

pub fn key_to(key: &ExternalKey) -> pb::ExternalKey {
    use pb::external_key::Source;
    let source = match key {
        ExternalKey::Kubernetes { cluster, uid } => {
            Source::Kubernetes(pb::KubernetesKey { cluster: cluster.clone(), uid: uid.clone() })
        }
        ExternalKey::Aws { account, region, resource_id } => Source::Aws(pb::AwsKey {
            account: account.clone(),
            region: region.clone(),
            resource_id: resource_id.clone(),
        }),
        ExternalKey::Custom { source, id } => Source::Custom(pb::CustomKey { source: source.clone(), id: id.clone() }),
    };
    pb::ExternalKey { source: Some(source) }
}

pub fn kind_from(kind: &str, field: &str) -> Result<Kind, FieldError> {
    Kind::new(kind).map_err(|e| bad(field, e.to_string()))
}

pub fn health_to(health: Health) -> pb::Health {
    match health {
        Health::Unknown => pb::Health::Unknown,
        Health::Healthy => pb::Health::Healthy,
        Health::Warning => pb::Health::Warning,
        Health::Unhealthy => pb::Health::Unhealthy,
    }
}

pub fn health_from(health: i32, field: &str) -> Result<Health, FieldError> {
    match pb::Health::try_from(health).map_err(|_| bad(field, format!("unknown health {health}")))? {
        pb::Health::Unknown => Ok(Health::Unknown),
        pb::Health::Healthy => Ok(Health::Healthy),
        pb::Health::Warning => Ok(Health::Warning),
        pb::Health::Unhealthy => Ok(Health::Unhealthy),
    }
}

fn non_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_owned())
}

fn scope_to(scope: &Scope) -> pb::Scope {
    pb::Scope {
        cluster: scope.cluster.clone().unwrap_or_default(),
        account: scope.account.clone().unwrap_or_default(),
        region: scope.region.clone().unwrap_or_default(),
    }
}

/// Empty strings are absent parts of the scope.
fn scope_from(scope: Option<&pb::Scope>) -> Scope {
    let scope = scope.cloned().unwrap_or_default();
    Scope { cluster: non_empty(&scope.cluster), account: non_empty(&scope.account), region: non_empty(&scope.region) }
}

pub fn item_to(item: &Item, document: Option<&serde_json::Value>) -> pb::Item {
    pb::Item {
        id: item.id.0,
        key: Some(key_to(&item.key)),
        kind: item.kind.to_string(),
        name: item.name.clone(),
        namespace: item.namespace.clone().unwrap_or_default(),
        scope: Some(scope_to(&item.scope)),
        labels: item.labels.clone().into_iter().collect(),
        health: health_to(item.health) as i32,
        status: item.status.clone(),
        ready: item.ready,
        created_at: item.created_at.0,
        updated_at: item.updated_at.0,
        deleted_at: item.deleted_at.map_or(0, |t: Timestamp| t.0),
        document_json: document.map(|d| d.to_string()).unwrap_or_default(),
    }
}

fn item_write_from(w: &pb::ItemWrite, field: &str) -> Result<ItemWrite, FieldError> {
    let key = key_from(w.key.as_ref(), &format!("{field}.key"))?;
    let kind = kind_from(&w.kind, &format!("{field}.kind"))?;
    if w.name.is_empty() {
        return Err(bad(format!("{field}.name"), "empty"));
    }
    let document = if w.document_json.is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::from_str(&w.document_json)
            .map_err(|e| bad(format!("{field}.document_json"), format!("not JSON: {e}")))?
    };
    let mut item = ItemWrite::new(key, kind, &w.name);
    item.namespace = non_empty(&w.namespace);
    item.scope = scope_from(w.scope.as_ref());
    item.labels = w.labels.clone().into_iter().collect::<BTreeMap<_, _>>();
    item.health = health_from(w.health, &format!("{field}.health"))?;
    item.status = w.status.clone();
    item.ready = w.ready;
    item.document = document;
    Ok(item)
}

fn edge_from(e: &pb::EdgeWrite, field: &str, source: &str) -> Result<EdgeWrite, FieldError> {
    if e.relation.is_empty() {
        return Err(bad(format!("{field}.relation"), "empty"));
    }
    Ok(EdgeWrite {
        from: key_from(e.from.as_ref(), &format!("{field}.from"))?,
        relation: e.relation.clone(),
        to: key_from(e.to.as_ref(), &format!("{field}.to"))?,
        provenance: Provenance::Api(source.to_owned()),
    })
}

/// An item write as a client sends it.
pub fn item_write_to(item: &ItemWrite) -> pb::ItemWrite {
    pb::ItemWrite {
        key: Some(key_to(&item.key)),
        kind: item.kind.to_string(),
        name: item.name.clone(),
        namespace: item.namespace.clone().unwrap_or_default(),
        scope: Some(scope_to(&item.scope)),
        labels: item.labels.clone().into_iter().collect(),
        health: health_to(item.health) as i32,
        status: item.status.clone(),
        ready: item.ready,
        document_json: if item.document.is_null() { String::new() } else { item.document.to_string() },
    }
}

/// A store operation as a client sends it (the provenance of links is the request's source).
pub fn operation_to(op: &Op) -> pb::Operation {
    use pb::operation::Op as P;
    let edge = |e: &EdgeWrite| pb::EdgeWrite {
        from: Some(key_to(&e.from)),
        relation: e.relation.clone(),
        to: Some(key_to(&e.to)),
    };
    let op = match op {
        Op::Upsert(item) => P::Upsert(item_write_to(item)),
        Op::Delete(key) => P::Delete(key_to(key)),
        Op::Link(e) => P::Link(edge(e)),
        Op::Unlink(e) => P::Unlink(edge(e)),
    };
    pb::Operation { op: Some(op) }
}

/// The operations of one ingest request.
pub fn operations_from(request: &pb::IngestRequest) -> Result<Vec<Op>, FieldError> {
    use pb::operation::Op as P;
    request
        .operations
        .iter()
        .enumerate()
        .map(|(i, op)| {
            let field = format!("operations[{i}]");
            match &op.op {
                None => Err(bad(field, "empty operation")),
                Some(P::Upsert(w)) => Ok(Op::Upsert(item_write_from(w, &format!("{field}.upsert"))?)),
                Some(P::Delete(k)) => Ok(Op::Delete(key_from(Some(k), &format!("{field}.delete"))?)),
                Some(P::Link(e)) => Ok(Op::Link(edge_from(e, &format!("{field}.link"), &request.source)?)),
                Some(P::Unlink(e)) => Ok(Op::Unlink(edge_from(e, &format!("{field}.unlink"), &request.source)?)),
            }
        })
        .collect()
}

pub fn change_to(change: &Change) -> pb::Change {
    pb::Change {
        item: change.item.0,
        at: change.at.0,
        r#type: change.change_type.as_str().to_owned(),
        summary: change.summary.clone(),
        source: change.source.clone(),
        patch_json: change.patch.as_ref().map(ToString::to_string).unwrap_or_default(),
    }
}

pub fn resync_from(scope: &pb::ResyncScope) -> Result<Resync, FieldError> {
    use pb::resync_scope::Scope as S;
    let non_empty = |value: &str, field: &str| {
        if value.is_empty() {
            Err(bad(format!("begin_resync.{field}"), "empty"))
        } else {
            Ok(value.to_owned())
        }
    };
    let key_scope = match &scope.scope {
        None => return Err(bad("begin_resync.scope", "give a cluster, an AWS account and region, or a custom source")),
        Some(S::Cluster(cluster)) => KeyScope::Kubernetes { cluster: non_empty(cluster, "cluster")? },
        Some(S::Aws(aws)) => {
            KeyScope::Aws { account: non_empty(&aws.account, "aws.account")?, region: aws.region.clone() }
        }
        Some(S::CustomSource(source)) => KeyScope::Custom { source: non_empty(source, "custom_source")? },
    };
    let kinds = scope.kinds.iter().map(|k| kind_from(k, "begin_resync.kinds")).collect::<Result<_, _>>()?;
    Ok(Resync { scope: key_scope, kinds })
}
