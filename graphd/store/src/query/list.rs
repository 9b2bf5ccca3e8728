//! Lists by scope, kind, labels and health, paged with a stable cursor; counts by health.
//!
//! The most selective scope index the query allows is scanned (namespace, cluster, account,
//! region, else all items), narrowed to the kind when one is given; the other filters are
//! checked on each record. The cursor is the last index key returned, so pages stay stable
//! while items are added elsewhere.

use super::Reader;
use crate::cf::Cf;
use crate::codec::ItemRecord;
use crate::engine::{Engine, Snapshot};
use crate::error::{Result, StoreError};
use crate::keys::{self, ScopeTag};
use graphd_core::{Health, Item, Kind};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScopeFilter {
    pub cluster: Option<String>,
    pub account: Option<String>,
    pub region: Option<String>,
    pub namespace: Option<String>,
}

impl ScopeFilter {
    /// Whether `item` lies in this scope.
    pub fn matches(&self, item: &Item) -> bool {
        same(&self.cluster, &item.scope.cluster)
            && same(&self.account, &item.scope.account)
            && same(&self.region, &item.scope.region)
            && same(&self.namespace, &item.namespace)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListQuery {
    pub scope: ScopeFilter,
    pub kind: Option<Kind>,
    /// Every pair must match exactly.
    pub labels: BTreeMap<String, String>,
    pub health: Option<Health>,
    pub include_deleted: bool,
    /// Page size, at least 1.
    pub limit: usize,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Page {
    pub items: Vec<Item>,
    /// Pass back to get the next page; `None` on the last one.
    pub next_cursor: Option<String>,
}

/// Live items per health.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HealthCounts {
    pub healthy: u64,
    pub warning: u64,
    pub unhealthy: u64,
    pub unknown: u64,
}

impl HealthCounts {
    pub fn total(&self) -> u64 {
        self.healthy + self.warning + self.unhealthy + self.unknown
    }

    fn add(&mut self, health: Health) {
        match health {
            Health::Healthy => self.healthy += 1,
            Health::Warning => self.warning += 1,
            Health::Unhealthy => self.unhealthy += 1,
            Health::Unknown => self.unknown += 1,
        }
    }
}

impl<'a, E: Engine> Reader<'a, E> {
    pub fn list(&self, query: &ListQuery) -> Result<Page> {
        if query.limit == 0 {
            return Err(StoreError::query("limit", "must be at least 1"));
        }
        let Some(prefix) = self.index_prefix(&query.scope, query.kind.as_ref()) else {
            return Ok(Page::default());
        };
        let start = match &query.cursor {
            None => None,
            Some(cursor) => {
                let mut key = decode_cursor(cursor)
                    .filter(|k| k.starts_with(&prefix))
                    .ok_or_else(|| StoreError::query("cursor", "not a cursor of this query"))?;
                key.push(0); // the smallest key after the cursor
                Some(key)
            }
        };
        let mut page = Page::default();
        let mut last_key = None;
        let mut failure = None;
        self.snapshot.scan(Cf::Scope, &prefix, start.as_deref(), &mut |key, _| match self.matching(key, query) {
            Err(e) => {
                failure = Some(e);
                false
            }
            Ok(None) => true,
            Ok(Some(_)) if page.items.len() == query.limit => {
                page.next_cursor = last_key.take().map(|k: Vec<u8>| encode_cursor(&k));
                false
            }
            Ok(Some(item)) => {
                page.items.push(item);
                last_key = Some(key.to_vec());
                true
            }
        })?;
        match failure {
            Some(e) => Err(e),
            None => Ok(page),
        }
    }

    /// Live items per health in a scope, optionally of one kind.
    pub fn health_counts(&self, scope: &ScopeFilter, kind: Option<&Kind>) -> Result<HealthCounts> {
        let mut counts = HealthCounts::default();
        let Some(prefix) = self.index_prefix(scope, kind) else {
            return Ok(counts);
        };
        let query = ListQuery { scope: scope.clone(), kind: kind.cloned(), limit: 1, ..ListQuery::default() };
        let mut failure = None;
        self.snapshot.scan_prefix(Cf::Scope, &prefix, &mut |key, _| match self.matching_record(key, &query) {
            Ok(Some(record)) => {
                counts.add(record.health());
                true
            }
            Ok(None) => true,
            Err(e) => {
                failure = Some(e);
                false
            }
        })?;
        match failure {
            Some(e) => Err(e),
            None => Ok(counts),
        }
    }

    /// The scope-index prefix to scan, or `None` when the kind was never stored.
    fn index_prefix(&self, scope: &ScopeFilter, kind: Option<&Kind>) -> Option<Vec<u8>> {
        let (tag, values): (ScopeTag, Vec<&str>) = match scope {
            ScopeFilter { namespace: Some(ns), cluster: Some(c), .. } => (ScopeTag::Namespace, vec![c, ns]),
            ScopeFilter { cluster: Some(c), .. } => (ScopeTag::Cluster, vec![c]),
            ScopeFilter { account: Some(a), .. } => (ScopeTag::Account, vec![a]),
            ScopeFilter { region: Some(r), .. } => (ScopeTag::Region, vec![r]),
            _ => (ScopeTag::All, vec![]),
        };
        match kind {
            None => Some(keys::scope_prefix(tag, &values)),
            Some(kind) => Some(keys::scope_kind_prefix(tag, &values, self.kind_id(kind)?)),
        }
    }

    fn matching(&self, key: &[u8], query: &ListQuery) -> Result<Option<Item>> {
        let (_, id) = keys::decode_scope_tail(key)?;
        match self.matching_record(key, query)? {
            Some(record) => Ok(Some(self.to_item(id, record)?)),
            None => Ok(None),
        }
    }

    fn matching_record(&self, key: &[u8], query: &ListQuery) -> Result<Option<ItemRecord>> {
        let (_, id) = keys::decode_scope_tail(key)?;
        let Some(record) = self.record(id)? else {
            return Err(StoreError::Corrupt(format!("scope entry for missing item {id}")));
        };
        let scope = &query.scope;
        let keep = self.item_visible(&record, query.include_deleted)
            && same(&scope.cluster, &record.cluster)
            && same(&scope.account, &record.account)
            && same(&scope.region, &record.region)
            && same(&scope.namespace, &record.namespace)
            && query.health.is_none_or(|h| h == record.health())
            && query.labels.iter().all(|(k, v)| record.labels.iter().any(|(rk, rv)| rk == k && rv == v));
        Ok(keep.then_some(record))
    }
}

fn same(wanted: &Option<String>, actual: &Option<String>) -> bool {
    wanted.is_none() || wanted == actual
}

fn encode_cursor(key: &[u8]) -> String {
    key.iter().map(|b| format!("{b:02x}")).collect()
}

fn decode_cursor(cursor: &str) -> Option<Vec<u8>> {
    if !cursor.len().is_multiple_of(2) {
        return None;
    }
    (0..cursor.len()).step_by(2).map(|i| u8::from_str_radix(cursor.get(i..i + 2)?, 16).ok()).collect()
}
