//! What the rules planned for sources derived again for relabelled items.
//!
//! When a Pod's labels change, each selector source of its namespace (its Services, budgets
//! and policies) is derived again for that Pod alone. Such a source has not changed: reading
//! its record, reading and parsing its stored document and running its rules would find the
//! same references as the time before. So its plan is kept with the record it was made from,
//! for as long as no batch writes that record again (the store's liveness words say which
//! batch last did), and the next Pod relabelled in that namespace reads neither.

use crate::codec::ItemRecord;
use foldhash::HashMap;
use graphd_core::ItemId;
use graphd_rules::{Lookup, PlannedRef, RuleSet};
use std::sync::{Arc, Mutex, MutexGuard};

/// How many sources' plans are kept: a namespace's selectors for each of about a thousand
/// namespaces. Past it they are all dropped, and planned again when next needed.
const REMEMBERED: usize = 16_384;

/// Plans by source, for one rule set: new rules start with none.
#[derive(Debug, Default)]
pub(super) struct Plans(Mutex<HashMap<ItemId, Arc<Plan>>>);

/// The references the rules planned from one version of a source.
#[derive(Debug)]
pub(super) struct Plan {
    /// The source's record as planned from.
    pub(super) record: ItemRecord,
    /// The last batch the store held when the record was read.
    read_after: u64,
    /// Each reference with the index of its rule in the rule set.
    references: Vec<(usize, Lookup)>,
    /// Fields a rule could not read.
    pub(super) problems: usize,
}

impl Plans {
    /// The plan kept for `source`, if its record was read after `changed_in`, the batch that
    /// last wrote it.
    pub(super) fn get(&self, source: ItemId, changed_in: u64) -> Option<Arc<Plan>> {
        self.lock().get(&source).filter(|plan| changed_in <= plan.read_after).cloned()
    }

    /// Keeps what `rules` planned from `source` as `record` is now, read from the store as
    /// it was after batch `read_after`.
    pub(super) fn keep(
        &self,
        source: ItemId,
        record: &ItemRecord,
        read_after: u64,
        rules: &RuleSet,
        planned: &[PlannedRef<'_>],
        problems: usize,
    ) {
        let index_of = |rule| rules.rules.iter().position(|r| std::ptr::eq(r, rule));
        let Some(references) =
            planned.iter().map(|r| Some((index_of(r.rule)?, r.lookup.clone()))).collect::<Option<Vec<_>>>()
        else {
            // Planned by another rule set: nothing to keep for this one.
            return;
        };
        let mut plans = self.lock();
        if plans.len() >= REMEMBERED {
            plans.clear();
        }
        plans.insert(source, Arc::new(Plan { record: record.clone(), read_after, references, problems }));
    }

    /// Drops every plan: after a batch that could not be written, the next batch takes its
    /// sequence again, so a record read through the failed batch would pass for one the store
    /// holds.
    pub(super) fn clear(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<ItemId, Arc<Plan>>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Plan {
    /// The planned references, with their rules in `rules` (the rule set it was kept for).
    pub(super) fn references<'r>(&self, rules: &'r RuleSet) -> Vec<PlannedRef<'r>> {
        self.references
            .iter()
            .map(|(rule, lookup)| PlannedRef { rule: &rules.rules[*rule], lookup: lookup.clone() })
            .collect()
    }
}
