//! Output for people (tree, table) and programs (JSON), from the answers of the gRPC API: the
//! command line shows the same thing whether it reads a data dir or asks a server.

mod table;
mod tree;

pub use table::table;
pub use tree::{related_tree, walk_up_tree};

use graphd_client::pb;
use graphd_core::Timestamp;

/// An age like kubectl's: `42s`, `17m`, `5h`, `12d`.
pub fn age(since: Timestamp, now: Timestamp) -> String {
    let secs = since.age(now).as_secs();
    match secs {
        s if s < 120 => format!("{s}s"),
        s if s < 7_200 => format!("{}m", s / 60),
        s if s < 172_800 => format!("{}h", s / 3_600),
        s => format!("{}d", s / 86_400),
    }
}

/// `Healthy`, `Warning`, `Unhealthy`, `Unknown`; `Deleted` for a tombstone.
pub fn health_word(item: &pb::Item) -> &'static str {
    if item.deleted_at != 0 {
        return "Deleted";
    }
    match pb::Health::try_from(item.health).unwrap_or(pb::Health::Unknown) {
        pb::Health::Healthy => "Healthy",
        pb::Health::Warning => "Warning",
        pb::Health::Unhealthy => "Unhealthy",
        pb::Health::Unknown => "Unknown",
    }
}

/// The JSON form of an item, as `-o json` prints it: empty parts left out.
pub fn item_json(item: &pb::Item) -> serde_json::Value {
    let mut json = serde_json::json!({
        "id": item.id,
        "kind": item.kind,
        "name": item.name,
        "health": health_word(item),
        "ready": item.ready,
        "created_at": item.created_at,
        "updated_at": item.updated_at,
    });
    let scope = item.scope.clone().unwrap_or_default();
    for (field, value) in [
        ("namespace", &item.namespace),
        ("cluster", &scope.cluster),
        ("account", &scope.account),
        ("region", &scope.region),
        ("status", &item.status),
    ] {
        if !value.is_empty() {
            json[field] = value.as_str().into();
        }
    }
    if !item.labels.is_empty() {
        json["labels"] = serde_json::to_value(&item.labels).expect("string maps serialise");
    }
    if item.deleted_at != 0 {
        json["deleted_at"] = item.deleted_at.into();
    }
    if !item.document_json.is_empty() {
        json["document"] = serde_json::from_str(&item.document_json).unwrap_or(serde_json::Value::Null);
    }
    json
}

/// A table row: kind, namespace, name, health, status, age, then `extra`.
pub fn item_row(item: &pb::Item, now: Timestamp, extra: &[String]) -> Vec<String> {
    let mut cells = vec![
        item.kind.clone(),
        item.namespace.clone(),
        item.name.clone(),
        health_word(item).to_owned(),
        item.status.clone(),
        age(Timestamp(item.created_at), now),
    ];
    cells.extend_from_slice(extra);
    cells
}

/// The header of [`item_row`]'s first columns.
pub const ITEM_COLUMNS: [&str; 6] = ["KIND", "NAMESPACE", "NAME", "HEALTH", "STATUS", "AGE"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_like_kubectl() {
        let now = Timestamp(10_000_000_000);
        assert_eq!(age(Timestamp(now.0 - 5_000), now), "5s");
        assert_eq!(age(Timestamp(now.0 - 600_000), now), "10m");
        assert_eq!(age(Timestamp(now.0 - 3 * 3_600_000), now), "3h");
        assert_eq!(age(Timestamp(now.0 - 5 * 86_400_000), now), "5d");
        assert_eq!(age(Timestamp(now.0 + 5_000), now), "0s", "a clock ahead of ours is not negative");
    }

    #[test]
    fn json_leaves_out_what_an_item_does_not_have() {
        let item = pb::Item { id: 7, kind: "AWS::Account".into(), name: "111".into(), ..Default::default() };
        let json = item_json(&item);
        assert_eq!(json["health"], "Unknown");
        assert!(json.get("namespace").is_none() && json.get("deleted_at").is_none(), "{json}");
        let deleted = item_json(&pb::Item { deleted_at: 5, ..item });
        assert_eq!((deleted["health"].as_str(), deleted["deleted_at"].as_u64()), (Some("Deleted"), Some(5)));
    }
}
