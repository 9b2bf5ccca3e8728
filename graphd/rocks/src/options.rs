//! RocksDB options for graphd's column families.

use graphd_store::Cf;
use rocksdb::compaction_filter::Decision as CompactionDecision;
use rocksdb::{BlockBasedOptions, Cache, ColumnFamilyDescriptor, DBCompressionType, Options, SliceTransform};

/// Settings a deployment may want to change.
#[derive(Debug, Clone)]
pub struct RocksOptions {
    /// Shared block cache for all column families.
    pub block_cache_bytes: usize,
    /// Memtable size per column family before it is flushed.
    pub write_buffer_bytes: usize,
    /// `fsync` the write-ahead log on every batch. Off, an acknowledged batch survives a crash
    /// of the process (the log is in the OS page cache) but not a power loss.
    pub sync_writes: bool,
}

impl Default for RocksOptions {
    fn default() -> Self {
        RocksOptions { block_cache_bytes: 256 << 20, write_buffer_bytes: 32 << 20, sync_writes: false }
    }
}

/// The prefix every scan of `cf` reads under, if all have one length: its files keep a bloom
/// filter of those prefixes, so a scan of a prefix a file lacks skips it unread. A scan of a
/// shorter prefix must not trust them.
pub(crate) fn scan_prefix_len(cf: Cf) -> Option<usize> {
    match cf {
        // All entries of one item: its 8-byte id.
        Cf::EdgesOut | Cf::EdgesIn | Cf::Changes => Some(8),
        // The sources of one signature (`r · signature`), the signatures of one source
        // (`s · source`): what a batch reads for each item it changes.
        Cf::Pending => Some(9),
        _ => None,
    }
}

/// Column family options RocksDB's C API cannot set, as names and values of its options
/// strings: set on every family right after the database opens, for writing.
pub(crate) const SET_AFTER_OPEN: &[(&str, &str)] = &[
    // Once no snapshot needs a file of the last level to keep its sequence numbers, RocksDB
    // rewrites the whole file to zero them (a "BottommostFiles" compaction). The writer holds
    // a snapshot for each batch it builds, so during a load every file that reached the last
    // level was written a second time, soon after the first: nearly a third of the load's
    // compaction work on fleet L, for nothing a reader sees. An hour later the store is
    // usually quiet, and a file compacted meanwhile for its own reasons never pays it.
    ("bottommost_file_compaction_delay", "3600"),
];

/// The database options and one descriptor per column family.
pub(crate) fn build(settings: &RocksOptions) -> (Options, Vec<ColumnFamilyDescriptor>) {
    let mut db = Options::default();
    db.create_if_missing(true);
    db.create_missing_column_families(true);
    db.increase_parallelism(2);
    db.set_max_background_jobs(2);
    db.set_keep_log_file_num(3);
    // A flush writes every column family's memtable at one point of the write sequence. The
    // write-ahead log makes that unneeded for logged batches, but a load's batches are not
    // logged (`Engine::write_unlogged`): flushed one family at a time, a crash during a load
    // could leave an item's record without its edges.
    db.set_atomic_flush(true);
    let cache = Cache::new_lru_cache(settings.block_cache_bytes);
    let descriptors =
        Cf::ALL.iter().map(|&cf| ColumnFamilyDescriptor::new(cf.name(), cf_options(cf, settings, &cache))).collect();
    (db, descriptors)
}

fn cf_options(cf: Cf, settings: &RocksOptions, cache: &Cache) -> Options {
    let mut table = BlockBasedOptions::default();
    table.set_block_cache(cache);
    table.set_bloom_filter(10.0, false);
    // Index and filter blocks stay in the table readers, not the block cache: a large file's
    // filter (several MiB) is bigger than one shard of the cache, would never be admitted,
    // and would be read from disk again on every lookup.
    table.set_cache_index_and_filter_blocks(false);
    let mut opts = Options::default();
    opts.set_compression_type(DBCompressionType::Lz4);
    opts.set_write_buffer_size(settings.write_buffer_bytes);
    if let Some(len) = scan_prefix_len(cf) {
        // The prefix bloom lets a scan of an item with no edges, or of a signature no source
        // references, skip files without reading them. The memtable has none: walks read the
        // in-memory adjacency, not these, and its upkeep was a twentieth of each write.
        opts.set_prefix_extractor(SliceTransform::create_fixed_prefix(len));
        table.set_whole_key_filtering(true);
    }
    if crate::groups::is_grouped(cf) {
        opts.set_merge_operator(crate::groups::MERGE_OPERATOR, crate::groups::full_merge, crate::groups::partial_merge);
        // A group whose entries were all deleted (its edges purged) is dropped when compacted.
        opts.set_compaction_filter("graphd.empty_edge_groups", |_level, _key, value: &[u8]| {
            if value.is_empty() {
                CompactionDecision::Remove
            } else {
                CompactionDecision::Keep
            }
        });
    }
    opts.set_block_based_table_factory(&table);
    opts
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What RocksDB runs with is what it writes to its newest `OPTIONS-` file: every column
    /// family there has each option set after open.
    #[test]
    fn every_column_family_runs_with_the_options_set_after_open() {
        let dir = tempfile::tempdir().unwrap();
        let _engine = crate::RocksEngine::open(dir.path(), &RocksOptions::default()).unwrap();
        let newest = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|entry| entry.unwrap().file_name().into_string().unwrap())
            .filter_map(|name| Some((name.strip_prefix("OPTIONS-")?.parse::<u64>().ok()?, name)))
            .max()
            .expect("RocksDB writes an OPTIONS file")
            .1;
        let text = std::fs::read_to_string(dir.path().join(newest)).unwrap();
        for cf in Cf::ALL {
            let header = format!("[CFOptions \"{}\"]", cf.name());
            let section = text.split(&header).nth(1).unwrap_or_else(|| panic!("no section for {}", cf.name()));
            let section = section.split("\n[").next().unwrap();
            for (name, value) in SET_AFTER_OPEN {
                let line = format!("{name}={value}");
                assert!(section.lines().any(|l| l.trim() == line), "{} lacks {line}", cf.name());
            }
        }
    }
}
