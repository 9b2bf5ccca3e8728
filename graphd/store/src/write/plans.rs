//! What the rules planned for sources derived again for relabelled items.
//!
//! When a Pod's labels change, each selector source of its namespace (its Services, budgets
//! and policies) is derived again for that Pod alone. Such a source has not changed: planning
//! it means reading and parsing its stored document, and running its rules, to find the same
//! references as the time before. So its plan is kept, for the version of the source it was
//! made from, and the next Pod relabelled in that namespace reuses it.

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
    /// The planned version's content hash: it covers everything a plan reads (the document,
    /// kind, name, namespace and labels), and an upsert that leaves it as it was writes nothing.
    content_hash: u64,
    /// Each reference with the index of its rule in the rule set.
    references: Vec<(usize, Lookup)>,
    /// Fields a rule could not read.
    pub(super) problems: usize,
}

impl Plans {
    /// The plan of `source` as `record` is now, if one was kept.
    pub(super) fn get(&self, source: ItemId, record: &ItemRecord) -> Option<Arc<Plan>> {
        self.lock().get(&source).filter(|plan| plan.content_hash == record.content_hash).cloned()
    }

    /// Keeps what `rules` planned from `source` as `record` is now.
    pub(super) fn keep(
        &self,
        source: ItemId,
        record: &ItemRecord,
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
        plans.insert(source, Arc::new(Plan { content_hash: record.content_hash, references, problems }));
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
