//! The fleet as batches of store operations: items first, then edges, then deletions, so that
//! every link finds both its ends.

use crate::{Fleet, FleetEdge};
use graphd_core::{EdgeWrite, Provenance};
use graphd_store::Op;

/// The fleet's operations in batches of at most `batch_size`.
pub fn batches(fleet: &Fleet, batch_size: usize) -> impl Iterator<Item = Vec<Op>> + '_ {
    batches_linking(fleet, batch_size, |_| true)
}

/// As [`batches`], with a link only for the edges `linked` keeps: what a scraper sends when the
/// store's rules make the other edges from the items' documents.
pub fn batches_linking<'f>(
    fleet: &'f Fleet,
    batch_size: usize,
    linked: impl Fn(&FleetEdge) -> bool + 'f,
) -> impl Iterator<Item = Vec<Op>> + 'f {
    let upserts = fleet.items.iter().map(|item| Op::Upsert(item.write.clone()));
    let links = fleet.edges.iter().filter(move |edge| linked(edge)).map(|edge| {
        Op::Link(EdgeWrite {
            from: fleet.items[edge.from].write.key.clone(),
            relation: edge.relation.to_owned(),
            to: fleet.items[edge.to].write.key.clone(),
            provenance: Provenance::Scraper("fleet".into()),
        })
    });
    let deletes = fleet.items.iter().filter(|i| i.deleted).map(|item| Op::Delete(item.write.key.clone()));
    chunked(upserts.chain(links).chain(deletes), batch_size.max(1))
}

fn chunked<I: Iterator<Item = Op>>(mut ops: I, size: usize) -> impl Iterator<Item = Vec<Op>> {
    std::iter::from_fn(move || {
        let chunk: Vec<Op> = ops.by_ref().take(size).collect();
        (!chunk.is_empty()).then_some(chunk)
    })
}
