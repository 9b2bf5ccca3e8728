//! Trees like kube-lineage's: one line per item with kind, namespace/name, relation, health,
//! status and age; an item reached twice is printed once and then referred to.

use super::age;
use graphd_core::{Item, ItemId, Orientation, Timestamp};
use graphd_store::query::{Reader, RelatedResult, WalkUp};
use graphd_store::Engine;
use std::collections::{HashMap, HashSet};

/// One line of a tree: the item and how it hangs from its tree parent.
struct Line {
    item: Item,
    relation: String,
}

fn describe(line: &Line, now: Timestamp) -> String {
    let item = &line.item;
    let name = match &item.namespace {
        Some(ns) => format!("{ns}/{}", item.name),
        None => item.name.clone(),
    };
    let mut parts = vec![format!("{} {name}", item.kind)];
    if !line.relation.is_empty() {
        parts.push(format!("[{}]", line.relation));
    }
    parts.push(item.health.to_string());
    if !item.status.is_empty() {
        parts.push(item.status.clone());
    }
    parts.push(age(item.created_at, now));
    if let Some(deleted) = item.deleted_at {
        parts.push(format!("(deleted {} ago)", age(deleted, now)));
    }
    parts.push(format!("id:{}", item.id));
    parts.join("  ")
}

/// Prints `root` and, below it, `children(id)` recursively with box-drawing branches.
fn draw(
    out: &mut String,
    id: ItemId,
    lines: &HashMap<ItemId, Line>,
    children: &HashMap<ItemId, Vec<(ItemId, String)>>,
    prefix: &str,
    shown: &mut HashSet<ItemId>,
    now: Timestamp,
) {
    let Some(kids) = children.get(&id) else {
        return;
    };
    for (i, (kid, relation)) in kids.iter().enumerate() {
        let last = i + 1 == kids.len();
        let (branch, next) = if last { ("└── ", "    ") } else { ("├── ", "│   ") };
        let Some(line) = lines.get(kid) else { continue };
        let line = Line { item: line.item.clone(), relation: relation.clone() };
        if !shown.insert(*kid) {
            out.push_str(&format!(
                "{prefix}{branch}{} {} [{}] (see above)\n",
                line.item.kind, line.item.name, relation
            ));
            continue;
        }
        out.push_str(&format!("{prefix}{branch}{}\n", describe(&line, now)));
        draw(out, *kid, lines, children, &format!("{prefix}{next}"), shown, now);
    }
}

fn relation_word<E: Engine>(reader: &Reader<'_, E>, rel: u16, towards_parent: bool) -> String {
    let Some(relation) = reader.names().relation(rel) else {
        return format!("relation#{rel}");
    };
    match (relation.orientation(), towards_parent) {
        (Orientation::Down, true) => format!("← {}", relation.name()),
        (_, true) => format!("{} →", relation.name()),
        (_, false) => relation.name().to_owned(),
    }
}

/// The walk-up of `root` as a tree: each item's parents below it.
pub fn walk_up_tree<E: Engine>(
    reader: &Reader<'_, E>,
    root: &Item,
    up: &WalkUp,
    now: Timestamp,
) -> anyhow::Result<String> {
    let mut lines = HashMap::new();
    for node in &up.nodes {
        if let Some(item) = reader.get(node.id, true)? {
            lines.insert(node.id, Line { item, relation: String::new() });
        }
    }
    let mut children: HashMap<ItemId, Vec<(ItemId, String)>> = HashMap::new();
    for link in &up.links {
        children.entry(link.child).or_default().push((link.parent, relation_word(reader, link.relation, true)));
    }
    let mut out = describe(&Line { item: root.clone(), relation: String::new() }, now) + "\n";
    let mut shown = HashSet::from([root.id]);
    draw(&mut out, root.id, &lines, &children, "", &mut shown, now);
    Ok(out)
}

/// Related items as a tree: each hit below the item it was reached from.
pub fn related_tree<E: Engine>(
    reader: &Reader<'_, E>,
    root: &Item,
    related: &RelatedResult,
    now: Timestamp,
) -> anyhow::Result<String> {
    let mut lines = HashMap::new();
    let mut children: HashMap<ItemId, Vec<(ItemId, String)>> = HashMap::new();
    for hit in &related.hits {
        if let Some(item) = reader.get(hit.id, true)? {
            lines.insert(hit.id, Line { item, relation: String::new() });
        }
        let (near, word) = if hit.outgoing {
            (hit.via.from, format!("{} →", relation_word(reader, hit.via.relation, false)))
        } else {
            (hit.via.to, format!("← {}", relation_word(reader, hit.via.relation, false)))
        };
        children.entry(near).or_default().push((hit.id, word));
    }
    let mut out = describe(&Line { item: root.clone(), relation: String::new() }, now) + "\n";
    let mut shown = HashSet::from([root.id]);
    draw(&mut out, root.id, &lines, &children, "", &mut shown, now);
    if related.truncated {
        out.push_str("… more items: the limit cut the walk short (raise --limit)\n");
    }
    Ok(out)
}
