//! Trees like kube-lineage's: one line per item with kind, namespace/name, relation, health,
//! status and age; an item reached twice is printed once and then referred to.

use super::{age, health_word};
use graphd_client::pb;
use graphd_core::Timestamp;
use std::collections::{HashMap, HashSet};

fn describe(item: &pb::Item, relation: &str, now: Timestamp) -> String {
    let name = if item.namespace.is_empty() { item.name.clone() } else { format!("{}/{}", item.namespace, item.name) };
    let mut parts = vec![format!("{} {name}", item.kind)];
    if !relation.is_empty() {
        parts.push(format!("[{relation}]"));
    }
    parts.push(health_word(item).to_owned());
    if !item.status.is_empty() {
        parts.push(item.status.clone());
    }
    parts.push(age(Timestamp(item.created_at), now));
    if item.deleted_at != 0 {
        parts.push(format!("(deleted {} ago)", age(Timestamp(item.deleted_at), now)));
    }
    parts.push(format!("id:{}", item.id));
    parts.join("  ")
}

/// The items of a tree and, for each, the items drawn below it with the relation word.
struct Tree<'a> {
    items: HashMap<u64, &'a pb::Item>,
    children: HashMap<u64, Vec<(u64, String)>>,
}

impl Tree<'_> {
    fn draw(&self, root: &pb::Item, now: Timestamp) -> String {
        let mut out = describe(root, "", now) + "\n";
        let mut shown = HashSet::from([root.id]);
        self.draw_below(&mut out, root.id, "", &mut shown, now);
        out
    }

    fn draw_below(&self, out: &mut String, id: u64, prefix: &str, shown: &mut HashSet<u64>, now: Timestamp) {
        let Some(kids) = self.children.get(&id) else {
            return;
        };
        for (i, (kid, relation)) in kids.iter().enumerate() {
            let (branch, next) = if i + 1 == kids.len() { ("└── ", "    ") } else { ("├── ", "│   ") };
            let Some(item) = self.items.get(kid) else { continue };
            if !shown.insert(*kid) {
                out.push_str(&format!("{prefix}{branch}{} {} [{relation}] (see above)\n", item.kind, item.name));
                continue;
            }
            out.push_str(&format!("{prefix}{branch}{}\n", describe(item, relation, now)));
            self.draw_below(out, *kid, &format!("{prefix}{next}"), shown, now);
        }
    }
}

/// The walk-up from `up.start` as a tree: each item's parents below it, the arrow showing
/// which way the stored edge points.
pub fn walk_up_tree(up: &pb::WalkUpResponse, now: Timestamp) -> String {
    let Some(start) = &up.start else {
        return String::new();
    };
    let items = up.ancestors.iter().filter_map(|a| a.item.as_ref()).map(|i| (i.id, i)).collect();
    let mut children: HashMap<u64, Vec<(u64, String)>> = HashMap::new();
    for link in &up.links {
        let word = if link.points_down { format!("← {}", link.relation) } else { format!("{} →", link.relation) };
        children.entry(link.child).or_default().push((link.parent, word));
    }
    Tree { items, children }.draw(start, now)
}

/// Related items as a tree: each hit below the item it was reached from.
pub fn related_tree(root: &pb::Item, hits: &[pb::RelatedHit], now: Timestamp) -> String {
    let items = hits.iter().filter_map(|h| h.item.as_ref()).map(|i| (i.id, i)).collect();
    let mut children: HashMap<u64, Vec<(u64, String)>> = HashMap::new();
    for hit in hits {
        let (Some(item), Some(via)) = (&hit.item, &hit.via) else { continue };
        let (near, word) = if hit.outgoing {
            (via.from, format!("{} →", via.relation))
        } else {
            (via.to, format!("← {}", via.relation))
        };
        children.entry(near).or_default().push((item.id, word));
    }
    Tree { items, children }.draw(root, now)
}
