//! `graphd rules …`: link-rule files.

use clap::Subcommand;
use std::path::PathBuf;

#[derive(Debug, Subcommand)]
pub enum RulesCommand {
    /// Check rule files together with the built-in rules; report every error at once, each with
    /// its file, rule and field.
    Validate {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

pub fn run(command: &RulesCommand) -> anyhow::Result<()> {
    match command {
        RulesCommand::Validate { files } => validate(files),
    }
}

/// The built-in rules and the rule files at `paths`, validated together.
pub fn load_with_builtin(paths: &[PathBuf]) -> anyhow::Result<graphd_rules::RuleSet> {
    let mut files: Vec<(String, String)> =
        graphd_rules::builtin::FILES.iter().map(|(n, t)| (n.to_string(), t.to_string())).collect();
    for path in paths {
        let text = std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        files.push((path.display().to_string(), text));
    }
    Ok(graphd_rules::load(&files)?)
}

fn validate(paths: &[PathBuf]) -> anyhow::Result<()> {
    let set = load_with_builtin(paths)?;
    let builtin = graphd_rules::builtin::rules()?;
    println!(
        "ok: {} link rules and {} health rules in {} file(s), besides {} and {} built-in",
        set.rules.len() - builtin.rules.len(),
        set.health.len() - builtin.health.len(),
        paths.len(),
        builtin.rules.len(),
        builtin.health.len()
    );
    Ok(())
}
