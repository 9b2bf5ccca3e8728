//! Output for people (tree, table) and programs (JSON).

mod table;
mod tree;

pub use table::table;
pub use tree::{related_tree, walk_up_tree};

use graphd_core::{Item, Timestamp};

/// `Kind namespace/name` or `Kind name`.
pub fn one_line(item: &Item) -> String {
    match &item.namespace {
        Some(ns) => format!("{} {ns}/{} (id:{})", item.kind, item.name, item.id),
        None => format!("{} {} (id:{})", item.kind, item.name, item.id),
    }
}

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

/// The JSON form of an item, as `-o json` prints it.
pub fn item_json(item: &Item) -> serde_json::Value {
    serde_json::to_value(item).expect("items always serialise")
}

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
}
