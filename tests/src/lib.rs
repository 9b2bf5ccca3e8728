//! Shared pieces of the integration tests: the batches the crash writer writes, so the test
//! that kills it can check exactly what each acknowledged batch must have left behind.

use graphd_core::{EdgeWrite, ExternalKey, ItemWrite, Kind, Provenance};
use graphd_store::Op;

/// Items per crash-writer batch.
pub const ITEMS_PER_BATCH: usize = 20;

/// The key of item `j` of batch `batch`.
pub fn crash_key(batch: u64, j: usize) -> ExternalKey {
    ExternalKey::custom("crash", format!("b{batch}-{j}"))
}

/// Batch `batch`: twenty items, a chain of nineteen edges between them, and a document big
/// enough that the batch spans several RocksDB writes' worth of bytes.
pub fn crash_batch(batch: u64) -> Vec<Op> {
    let kind = Kind::new("Custom::Thing").expect("valid kind");
    let mut ops: Vec<Op> = (0..ITEMS_PER_BATCH)
        .map(|j| {
            let mut item = ItemWrite::new(crash_key(batch, j), kind.clone(), format!("b{batch}-{j}"));
            item.document = serde_json_padding(batch, j);
            Op::Upsert(item)
        })
        .collect();
    ops.extend((1..ITEMS_PER_BATCH).map(|j| {
        Op::Link(EdgeWrite {
            from: crash_key(batch, j),
            relation: "member-of".into(),
            to: crash_key(batch, j - 1),
            provenance: Provenance::Api("crash-writer".into()),
        })
    }));
    ops
}

fn serde_json_padding(batch: u64, j: usize) -> serde_json::Value {
    serde_json::json!({"batch": batch, "item": j, "padding": "x".repeat(512)})
}
