//! graphd's link-rule language.
//!
//! - [`path`]: field paths over JSON documents (`spec.volumes[].persistentVolumeClaim.claimName`).
//! - [`selector`]: Kubernetes label selectors, with the rule deciding what empty means.
//! - [`model`]: compiled rules and rule sets.
//! - [`load`]: parsing versioned YAML (`version: 1`) and validating it, reporting every error
//!   with its file, rule and field.
//! - [`eval`]: from one item to the references its rules plan.
//! - [`builtin`]: the rule sets shipped with graphd.
//!
//! This crate is pure: it never touches storage or the network, so evaluating rules costs
//! only CPU and can run anywhere.

pub mod builtin;
pub mod eval;
pub mod load;
pub mod model;
pub mod path;
pub mod selector;

pub use eval::{Lookup, PlannedRef, Source};
pub use load::{load, RuleError, RuleErrors};
pub use model::{KindPattern, LookIn, MatchField, Rule, RuleSet, Target, WhenEmpty};
