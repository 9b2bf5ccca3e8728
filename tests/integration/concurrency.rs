//! Queries run while the writer writes, each on one consistent snapshot.

use graphd_core::{EdgeWrite, ExternalKey, ItemWrite, Kind, Provenance, Timestamp};
use graphd_rocks::{RocksEngine, RocksOptions};
use graphd_store::query::{Direction, RelatedQuery};
use graphd_store::{Op, Store};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

fn pair_item(which: &str, generation: u64) -> ItemWrite {
    let mut item = ItemWrite::new(ExternalKey::custom("pairs", which), Kind::new("Custom::Pair").unwrap(), which);
    item.labels.insert("generation".into(), generation.to_string());
    item
}

#[test]
fn readers_never_see_half_of_a_batch() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(RocksEngine::open(dir.path(), &RocksOptions::default()).unwrap()).unwrap());
    store.apply(&[Op::Upsert(pair_item("a", 0)), Op::Upsert(pair_item("b", 0))], Timestamp(1), "test").unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let (store, done) = (Arc::clone(&store), Arc::clone(&done));
            std::thread::spawn(move || {
                let mut checks = 0u64;
                let mut last_seen = 0u64;
                while !done.load(Ordering::Acquire) || checks == 0 {
                    let reader = store.read();
                    let generation = |which: &str| -> u64 {
                        let item = reader.get_by_key(&ExternalKey::custom("pairs", which), false).unwrap().unwrap();
                        item.labels["generation"].parse().unwrap()
                    };
                    let (a, b) = (generation("a"), generation("b"));
                    assert_eq!(a, b, "one snapshot shows both items of a batch or neither");
                    let members = |which: &str| -> usize {
                        let id = reader.get_by_key(&ExternalKey::custom("pairs", which), false).unwrap().unwrap().id;
                        reader.related(id, &RelatedQuery::new(Direction::Incoming, 1)).unwrap().hits.len()
                    };
                    assert_eq!(members("a") as u64, a, "walks see exactly the snapshot's edges");
                    assert_eq!(members("b") as u64, a);
                    assert!(a >= last_seen, "snapshots never go back in time");
                    last_seen = a;
                    checks += 1;
                }
                checks
            })
        })
        .collect();
    for generation in 1..=300 {
        let member = ItemWrite::new(
            ExternalKey::custom("pairs", format!("m{generation}")),
            Kind::new("Custom::Member").unwrap(),
            "m",
        );
        let link = |to: &str| {
            Op::Link(EdgeWrite {
                from: member.key.clone(),
                relation: "member-of".into(),
                to: ExternalKey::custom("pairs", to),
                provenance: Provenance::Api("test".into()),
            })
        };
        let ops = [
            Op::Upsert(pair_item("a", generation)),
            Op::Upsert(member.clone()),
            link("a"),
            link("b"),
            Op::Upsert(pair_item("b", generation)),
        ];
        store.apply(&ops, Timestamp(generation + 1), "test").unwrap();
    }
    done.store(true, Ordering::Release);
    for reader in readers {
        assert!(reader.join().expect("reader thread") > 0);
    }
}
