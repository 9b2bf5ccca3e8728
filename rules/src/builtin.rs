//! The rule sets shipped with graphd, compiled into the binary from `rules/builtin/*.yaml`:
//! link rules, and the health rules of `health.yaml`.

use crate::load::{load, RuleErrors};
use crate::model::RuleSet;

/// `(file name, YAML)` of every built-in rule file.
pub const FILES: &[(&str, &str)] = &[
    ("builtin/kubernetes.yaml", include_str!("../builtin/kubernetes.yaml")),
    ("builtin/gitops.yaml", include_str!("../builtin/gitops.yaml")),
    ("builtin/aws.yaml", include_str!("../builtin/aws.yaml")),
    ("builtin/cross-domain.yaml", include_str!("../builtin/cross-domain.yaml")),
    ("builtin/health.yaml", include_str!("../builtin/health.yaml")),
    ("builtin/aws-health.yaml", include_str!("../builtin/aws-health.yaml")),
    ("builtin/changes.yaml", include_str!("../builtin/changes.yaml")),
];

/// The built-in rules, validated.
pub fn rules() -> Result<RuleSet, RuleErrors> {
    let files: Vec<(String, String)> = FILES.iter().map(|(n, t)| (n.to_string(), t.to_string())).collect();
    load(&files)
}
