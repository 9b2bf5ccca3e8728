//! The fleet as batches of store operations: items first, then edges, then deletions, so that
//! every link finds both its ends.

use crate::Fleet;
use graphd_core::{EdgeWrite, Provenance};
use graphd_store::Op;

/// The fleet's operations in batches of at most `batch_size`.
pub fn batches(fleet: &Fleet, batch_size: usize) -> impl Iterator<Item = Vec<Op>> + '_ {
    let upserts = fleet.items.iter().map(|item| Op::Upsert(item.write.clone()));
    let links = fleet.edges.iter().map(|edge| {
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
