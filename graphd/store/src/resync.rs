//! Resync: a source says "this is everything I have in this scope", and whatever of that scope
//! it did not report is tombstoned.
//!
//! The scope is a part of the external key space (a Kubernetes cluster, an AWS account and
//! region, a custom source), optionally narrowed to some kinds, so a watcher that re-lists one
//! resource type after `410 Gone` resyncs only that type. The caller collects the keys it
//! reported; a resync that does not finish (a dropped stream, a failed scrape) must simply not
//! call [`Store::resync`], and nothing is lost.

use crate::cf::Cf;
use crate::codec::ExternalEntry;
use crate::engine::{Engine, Snapshot};
use crate::error::Result;
use crate::keys::{self, put_str};
use crate::write::{Op, Outcome};
use crate::Store;
use graphd_core::{ExternalKey, Kind, Timestamp};
use std::collections::HashSet;

/// The part of the key space one source answers for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum KeyScope {
    Kubernetes {
        cluster: String,
    },
    /// An empty region is the account's global resources.
    Aws {
        account: String,
        region: String,
    },
    Custom {
        source: String,
    },
}

impl KeyScope {
    /// Whether `key` lies in this scope.
    pub fn contains(&self, key: &ExternalKey) -> bool {
        match (self, key) {
            (KeyScope::Kubernetes { cluster }, ExternalKey::Kubernetes { cluster: c, .. }) => cluster == c,
            (KeyScope::Aws { account, region }, ExternalKey::Aws { account: a, region: r, .. }) => {
                account == a && region == r
            }
            (KeyScope::Custom { source }, ExternalKey::Custom { source: s, .. }) => source == s,
            _ => false,
        }
    }

    /// The prefix every external key of this scope starts with (see [`keys::external`]).
    fn key_prefix(&self) -> Vec<u8> {
        let mut prefix = Vec::with_capacity(32);
        match self {
            KeyScope::Kubernetes { cluster } => {
                prefix.push(keys::EXTERNAL_KUBERNETES);
                put_str(&mut prefix, cluster);
            }
            KeyScope::Aws { account, region } => {
                prefix.push(keys::EXTERNAL_AWS);
                put_str(&mut prefix, account);
                put_str(&mut prefix, region);
            }
            KeyScope::Custom { source } => {
                prefix.push(keys::EXTERNAL_CUSTOM);
                put_str(&mut prefix, source);
            }
        }
        prefix
    }
}

impl std::fmt::Display for KeyScope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeyScope::Kubernetes { cluster } => write!(f, "cluster {cluster}"),
            KeyScope::Aws { account, region } if region.is_empty() => write!(f, "account {account}"),
            KeyScope::Aws { account, region } => write!(f, "account {account} region {region}"),
            KeyScope::Custom { source } => write!(f, "source {source}"),
        }
    }
}

/// The source of a resync's tombstones: why the items went.
pub fn resync_source(source: &str) -> String {
    format!("{source} (gone at resync)")
}

/// What a resync covers: a key scope, and the kinds in it (all when empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resync {
    pub scope: KeyScope,
    pub kinds: Vec<Kind>,
}

impl<E: Engine> Store<E> {
    /// Tombstones every live item of `resync` whose key is not in `reported`, as one batch,
    /// with changes attributed to `source`.
    pub fn resync(
        &self,
        resync: &Resync,
        reported: &HashSet<ExternalKey>,
        at: Timestamp,
        source: &str,
    ) -> Result<Outcome> {
        self.resync_tombstoning(resync, reported, at, source).map(|(outcome, _)| outcome)
    }

    /// [`Store::resync`], returning also the keys it tombstoned (for an agent to forward).
    pub fn resync_tombstoning(
        &self,
        resync: &Resync,
        reported: &HashSet<ExternalKey>,
        at: Timestamp,
        source: &str,
    ) -> Result<(Outcome, Vec<ExternalKey>)> {
        let gone = self.unreported(resync, reported)?;
        if gone.is_empty() {
            return Ok((Outcome::default(), gone));
        }
        let ops: Vec<Op> = gone.iter().cloned().map(Op::Delete).collect();
        Ok((self.apply(&ops, at, &resync_source(source))?, gone))
    }

    fn unreported(&self, resync: &Resync, reported: &HashSet<ExternalKey>) -> Result<Vec<ExternalKey>> {
        let names = self.names();
        // A kind no item ever had has nothing to tombstone.
        let kinds: Option<HashSet<_>> =
            (!resync.kinds.is_empty()).then(|| resync.kinds.iter().filter_map(|k| names.kind_id(k.as_str())).collect());
        if kinds.as_ref().is_some_and(HashSet::is_empty) {
            return Ok(Vec::new());
        }
        let snapshot = self.engine().snapshot();
        let mut gone = Vec::new();
        let mut failure = None;
        snapshot.scan_prefix(Cf::ExternalKeys, &resync.scope.key_prefix(), &mut |key, value| {
            let entry = match ExternalEntry::decode(value) {
                Ok(entry) => entry,
                Err(e) => {
                    failure = Some(e.into());
                    return false;
                }
            };
            if entry.deleted || kinds.as_ref().is_some_and(|k| !k.contains(&entry.kind)) {
                return true;
            }
            match keys::decode_external(key) {
                Ok(external) if !reported.contains(&external) => gone.push(external),
                Ok(_) => {}
                Err(e) => {
                    failure = Some(e.into());
                    return false;
                }
            }
            true
        })?;
        match failure {
            Some(e) => Err(e),
            None => Ok(gone),
        }
    }
}
