//! `graphd import`: kubectl output into the store, linked by the built-in rules and any given.

use crate::import::{import, link_summary, parse_objects};
use crate::sample::stderr_progress;
use anyhow::Context;
use clap::Args;
use std::path::{Path, PathBuf};

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The cluster the objects belong to: the scope of their items.
    #[arg(long)]
    pub cluster: String,
    /// More rule files, on top of the built-in ones.
    #[arg(long = "rules")]
    pub rules: Vec<PathBuf>,
    /// `kubectl get -o json|yaml` output: a List, a single object, or multi-document YAML.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
}

pub fn run(data_dir: &Path, args: &ImportArgs) -> anyhow::Result<()> {
    let rules = super::rules::load_with_builtin(&args.rules)?;
    let store = crate::open_store(data_dir)?;
    store.set_rules(rules)?;
    super::relink::relink_if_rules_changed(&store)?;
    for file in &args.files {
        let text = std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
        let objects = parse_objects(&text).with_context(|| format!("parsing {}", file.display()))?;
        let report = import(&store, &args.cluster, &objects, stderr_progress("importing"))?;
        let o = &report.outcome;
        println!(
            "{}: {} objects: {} items created, {} updated, {} unchanged; {} edges added, {} removed; {} skipped",
            file.display(),
            report.objects,
            o.created,
            o.updated,
            o.unchanged,
            o.edges_added,
            o.edges_removed,
            report.skipped.len()
        );
        for (object, reason) in &report.skipped {
            println!("  skipped {object}: {reason}");
        }
        if o.rule_problems > 0 {
            println!("  {} objects had a field a rule could not read (see the log)", o.rule_problems);
        }
        let summary = link_summary(&store, &report.items)?;
        println!("  edges of these items, by relation: {}", counts(&summary.edges_by_relation));
        println!("  references waiting for a target, by rule: {}", counts(&summary.waiting_by_rule));
    }
    store.flush()?;
    Ok(())
}

/// `name count, name count, …`, largest first; `none` when empty.
fn counts(by_name: &std::collections::BTreeMap<String, usize>) -> String {
    let mut pairs: Vec<(&String, &usize)> = by_name.iter().collect();
    pairs.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    if pairs.is_empty() {
        return "none".into();
    }
    pairs.iter().map(|(name, n)| format!("{name} {n}")).collect::<Vec<_>>().join(", ")
}
