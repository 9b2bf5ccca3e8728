//! Column families, listed once. Every engine creates exactly these.

/// A column family: one key space with one purpose. `keys` has the key shape of each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Cf {
    /// `id` → item record (no document).
    Items,
    /// `id` → source document (JSON).
    Documents,
    /// `external key` → `id`.
    ExternalKeys,
    /// `kind · field · value · id` → empty: natural keys and, later, rule targets.
    Lookup,
    /// `from · relation · to` → edge value.
    EdgesOut,
    /// `to · relation · from` → edge value.
    EdgesIn,
    /// `tag · value · kind · id` → empty: items by cluster, account, region, namespace.
    Scope,
    /// `id · !time · !seq` → change record, newest first.
    Changes,
    /// Rule references, by the 64-bit hash of their signature: `r · signature · source` →
    /// empty (who waits for what) and `s · source` → its signatures (what a source references).
    Pending,
    /// Counters, interned kinds and relations, the tombstone queue.
    Meta,
}

impl Cf {
    pub const ALL: [Cf; 10] = [
        Cf::Items,
        Cf::Documents,
        Cf::ExternalKeys,
        Cf::Lookup,
        Cf::EdgesOut,
        Cf::EdgesIn,
        Cf::Scope,
        Cf::Changes,
        Cf::Pending,
        Cf::Meta,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Cf::Items => "items",
            Cf::Documents => "documents",
            Cf::ExternalKeys => "external_keys",
            Cf::Lookup => "lookup",
            Cf::EdgesOut => "edges_out",
            Cf::EdgesIn => "edges_in",
            Cf::Scope => "scope",
            Cf::Changes => "changes",
            Cf::Pending => "pending",
            Cf::Meta => "meta",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }
}
