//! From one record to one item, by the source's [`Mapping`].

use crate::config::{Cel, Mapping};
use graphd_core::{ExternalKey, Health, ItemWrite, Kind, Scope};
use serde_json::Value;
use std::collections::BTreeMap;

impl Mapping {
    /// The item `record` of `source` maps to, or what is wrong with it (naming the field).
    pub fn item(&self, source: &str, record: &Value) -> Result<ItemWrite, String> {
        let id = required(&self.id, "id", record)?;
        let kind = required(&self.kind, "kind", record)?;
        let kind = Kind::new(kind).map_err(|e| format!("map.kind: {e}"))?;
        let name = optional(self.name.as_ref(), "name", record)?.unwrap_or_else(|| id.clone());
        let mut item = ItemWrite::new(ExternalKey::custom(source, id), kind, name);
        item.namespace = optional(self.namespace.as_ref(), "namespace", record)?;
        item.scope = Scope {
            cluster: optional(self.cluster.as_ref(), "cluster", record)?,
            account: optional(self.account.as_ref(), "account", record)?,
            region: optional(self.region.as_ref(), "region", record)?,
        };
        if let Some(labels) = &self.labels {
            item.labels = labels_of(evaluate(labels, "labels", record)?)?;
        }
        if let Some(word) = optional(self.health.as_ref(), "health", record)? {
            item.health = Health::ALL
                .into_iter()
                .find(|h| h.as_str() == word)
                .ok_or_else(|| format!("map.health gave {word:?}: expected Healthy, Warning, Unhealthy or Unknown"))?;
        }
        item.status = optional(self.status.as_ref(), "status", record)?.unwrap_or_default();
        if let Some(ready) = &self.ready {
            item.ready = match evaluate(ready, "ready", record)? {
                Value::Bool(ready) => ready,
                Value::Null => false,
                other => return Err(format!("map.ready gave {other}: expected true or false")),
            };
        }
        item.document = record.clone();
        Ok(item)
    }
}

fn evaluate(cel: &Cel, field: &str, record: &Value) -> Result<Value, String> {
    cel.0.json(record).map_err(|e| format!("map.{field}: {e}"))
}

/// A string (numbers are written out); `None` for null or an empty string.
fn optional(cel: Option<&Cel>, field: &str, record: &Value) -> Result<Option<String>, String> {
    let Some(cel) = cel else { return Ok(None) };
    match evaluate(cel, field, record)? {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s).filter(|s| !s.is_empty())),
        Value::Number(n) => Ok(Some(n.to_string())),
        other => Err(format!("map.{field} gave {other}: expected a string")),
    }
}

fn required(cel: &Cel, field: &str, record: &Value) -> Result<String, String> {
    optional(Some(cel), field, record)?.ok_or_else(|| format!("map.{field} gave nothing for this record"))
}

fn labels_of(value: Value) -> Result<BTreeMap<String, String>, String> {
    match value {
        Value::Null => Ok(BTreeMap::new()),
        Value::Object(map) => Ok(map
            .into_iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, v)| match v {
                Value::String(s) => (k, s),
                other => (k, other.to_string()),
            })
            .collect()),
        other => Err(format!("map.labels gave {other}: expected a map")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn mapping(text: &str) -> Mapping {
        serde_yaml::from_str(text).unwrap()
    }

    #[test]
    fn maps_every_field() {
        let map = mapping(
            "{id: object.id, kind: \"'Custom::Service'\", name: object.name, namespace: object.team,
              labels: object.labels, health: \"object.up ? 'Healthy' : 'Unhealthy'\", status: \"object.up ? 'up' : 'down'\",
              ready: object.up, cluster: object.cluster}",
        );
        let record = json!({"id": 42, "name": "payments", "team": "pay", "labels": {"app": "payments", "tier": 1},
                            "up": false, "cluster": "prod"});
        let item = map.item("catalog", &record).unwrap();
        assert_eq!(item.key, ExternalKey::custom("catalog", "42"));
        assert_eq!((item.kind.as_str(), item.name.as_str()), ("Custom::Service", "payments"));
        assert_eq!(item.namespace.as_deref(), Some("pay"));
        assert_eq!(item.labels, BTreeMap::from([("app".into(), "payments".into()), ("tier".into(), "1".into())]));
        assert_eq!((item.health, item.status.as_str(), item.ready), (Health::Unhealthy, "down", false));
        assert_eq!(item.scope.cluster.as_deref(), Some("prod"));
        assert_eq!(item.document, record);
    }

    #[test]
    fn says_which_field_is_wrong() {
        let map = mapping("{id: object.id, kind: \"'Custom::Service'\", health: object.h, labels: object.l}");
        let missing = map.item("c", &json!({"name": "x"})).unwrap_err();
        assert_eq!(missing, "map.id gave nothing for this record");
        let health = map.item("c", &json!({"id": "a", "h": "Fine"})).unwrap_err();
        assert!(health.starts_with("map.health gave \"Fine\""), "{health}");
        let labels = map.item("c", &json!({"id": "a", "l": [1]})).unwrap_err();
        assert!(labels.starts_with("map.labels gave [1]"), "{labels}");
        let kind = mapping("{id: object.id, kind: \"'Service'\"}").item("c", &json!({"id": "a"})).unwrap_err();
        assert!(kind.starts_with("map.kind: "), "{kind}");
    }
}
