//! `graphd relink`: derive every item's edges again under the link rules as they are now
//! (built-in, the config's and `--rules`), after rules were added, changed or removed.
//!
//! `import`, `scrape` and `serve` do the same on their own when the store's items were linked
//! by other rules than those they start with; this command does it on demand, with progress.

use crate::config::Config;
use crate::open::GraphStore;
use crate::sample::{at_each_tenth, stderr_progress};
use clap::Args;
use graphd_core::Timestamp;
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Debug, Args)]
pub struct RelinkArgs {
    /// A config file whose data_dir and rules to use.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// More rule files, on top of the built-in ones and those of the config.
    #[arg(long = "rules")]
    pub rules: Vec<PathBuf>,
}

pub fn run(data_dir: Option<&Path>, args: &RelinkArgs) -> anyhow::Result<()> {
    let mut config = match &args.config {
        Some(path) => Config::load(path)?,
        None => Config::default(),
    };
    if let Some(dir) = data_dir {
        config.data_dir = dir.to_path_buf();
    }
    config.rules.extend(args.rules.iter().cloned());
    let rules = super::rules::load_with_builtin(&config.rules)?;
    let store = crate::open_store(&config.data_dir)?;
    store.set_rules(rules)?;
    relink(&store, stderr_progress("relinking"))?;
    store.flush()?;
    Ok(())
}

/// Relinks every item of `store` under the rules set on it, and prints what changed.
fn relink(store: &GraphStore, progress: impl FnMut(usize, usize)) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let outcome = store.relink(Timestamp::now(), progress)?;
    println!(
        "relinked in {:.1}s: {} edges added, {} removed{}",
        started.elapsed().as_secs_f64(),
        outcome.edges_added,
        outcome.edges_removed,
        match outcome.rule_problems {
            0 => String::new(),
            n => format!("; {n} items had a field a rule could not read"),
        }
    );
    Ok(())
}

/// After `set_rules`: when the store's items were linked by other rules, relinks them now,
/// with progress on stderr (for the commands that run in the foreground).
pub(super) fn relink_if_rules_changed(store: &GraphStore) -> anyhow::Result<()> {
    if !store.linked_by_current_rules()? {
        eprintln!("the link rules differ from those the stored items were linked by: relinking them");
        relink(store, stderr_progress("relinking"))?;
    }
    Ok(())
}

/// For `serve`: the same, on a thread of its own, so that queries and ingest go on meanwhile
/// (each relink batch holds the writer only for itself); progress and the result go to the
/// log.
pub(super) fn relink_in_background_if_rules_changed(store: &Arc<GraphStore>) -> anyhow::Result<()> {
    if store.linked_by_current_rules()? {
        return Ok(());
    }
    tracing::warn!(
        "the link rules differ from those the stored items were linked by: relinking them in the background"
    );
    let store = Arc::clone(store);
    std::thread::Builder::new().name("relink".into()).spawn(move || {
        let progress = at_each_tenth(|done, total, _| tracing::info!(done, total, "relinking"));
        match store.relink(Timestamp::now(), progress) {
            Ok(o) => tracing::info!(edges_added = o.edges_added, edges_removed = o.edges_removed, "relinked"),
            Err(e) => tracing::error!(error = %e, "relinking failed; it is tried again at the next start"),
        }
    })?;
    Ok(())
}
