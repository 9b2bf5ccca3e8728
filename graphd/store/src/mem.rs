//! An in-memory engine: ordered maps per column family, copy-on-write snapshots.
//!
//! It exists so that tests of everything above the engine run without RocksDB, and so that the
//! conformance suite has a second, obviously correct engine to agree with.

use crate::cf::Cf;
use crate::engine::{scan_start, within, Engine, EngineError, Snapshot, WriteBatch, WriteOp};
use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::{Arc, RwLock};

type Tables = Vec<BTreeMap<Vec<u8>, Vec<u8>>>;

#[derive(Debug)]
pub struct MemEngine {
    // A snapshot holds an `Arc` of the tables; a write clones them only while a snapshot is
    // alive. That is O(size) per such write: fine for tests, not for production.
    tables: RwLock<Arc<Tables>>,
}

impl Default for MemEngine {
    fn default() -> Self {
        MemEngine { tables: RwLock::new(Arc::new(vec![BTreeMap::new(); Cf::ALL.len()])) }
    }
}

impl MemEngine {
    pub fn new() -> Self {
        MemEngine::default()
    }
}

#[derive(Debug)]
pub struct MemSnapshot {
    tables: Arc<Tables>,
}

impl Snapshot for MemSnapshot {
    fn get(&self, cf: Cf, key: &[u8]) -> Result<Option<Vec<u8>>, EngineError> {
        Ok(self.tables[cf.index()].get(key).cloned())
    }

    fn scan(
        &self,
        cf: Cf,
        prefix: &[u8],
        start: Option<&[u8]>,
        visit: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<(), EngineError> {
        let from = scan_start(prefix, start);
        let range = self.tables[cf.index()].range::<[u8], _>((Bound::Included(from), Bound::Unbounded));
        for (key, value) in range {
            if !within(key, prefix) || !visit(key, value) {
                break;
            }
        }
        Ok(())
    }
}

impl Engine for MemEngine {
    type Snapshot<'a> = MemSnapshot;

    fn snapshot(&self) -> MemSnapshot {
        let tables = self.tables.read().unwrap_or_else(|e| e.into_inner());
        MemSnapshot { tables: Arc::clone(&tables) }
    }

    fn write(&self, batch: &WriteBatch) -> Result<(), EngineError> {
        let mut guard = self.tables.write().unwrap_or_else(|e| e.into_inner());
        let tables = Arc::make_mut(&mut guard);
        for WriteOp { cf, key, value } in batch.ops().iter() {
            match value {
                Some(value) => tables[cf.index()].insert(key.to_vec(), value.to_vec()),
                None => tables[cf.index()].remove(key),
            };
        }
        Ok(())
    }
}

#[cfg(test)]
mod conformance {
    /// Memory engines reopen as themselves: there is nothing to lose.
    struct MemHarness;

    impl crate::conformance::Harness for MemHarness {
        type E = super::MemEngine;
        fn fresh(&mut self) -> super::MemEngine {
            super::MemEngine::new()
        }
        fn reopen(&mut self, engine: super::MemEngine) -> super::MemEngine {
            engine
        }
    }

    crate::conformance_tests!(MemHarness);
}
