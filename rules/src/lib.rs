//! graphd's rule language: link rules (which items reference which) and health rules (how an
//! item is doing).
//!
//! - [`path`]: field paths over JSON documents (`spec.volumes[].persistentVolumeClaim.claimName`).
//! - [`expression`]: CEL expressions over a document, where a field path cannot say it.
//! - [`selector`]: Kubernetes label selectors, with the rule deciding what empty means.
//! - [`model`]: compiled rules and rule sets.
//! - [`load`](mod@load): parsing versioned YAML (`version: 1`) and validating it, reporting every error
//!   with its file, rule and field.
//! - [`eval`]: from one item to the references its rules plan.
//! - [`health`]: health rules, and [`RuleSet::assess`]: from one item's document to its health,
//!   status word and readiness.
//! - [`changes`]: fields whose change is a change of its own type (an image digest, a replica
//!   count), and [`RuleSet::changes_between`].
//! - [`events`]: items that report about other items (Kubernetes Events), recorded as changes
//!   of those items.
//! - [`volatile`]: fields that change while the object does not, dropped before documents are
//!   compared.
//! - [`builtin`]: the rule sets shipped with graphd.
//!
//! This crate is pure: it never touches storage or the network, so evaluating rules costs
//! only CPU and can run anywhere.

pub mod builtin;
pub mod changes;
pub mod eval;
pub mod events;
pub mod expression;
pub mod health;
pub mod load;
pub mod model;
pub mod path;
pub mod selector;
pub mod volatile;

pub use eval::{Lookup, PlannedRef, Source};
pub use health::{Assessment, HealthRule};
pub use load::{load, RuleError, RuleErrors};
pub use model::{KindPattern, LookIn, MatchField, Rule, RuleSet, Target, Values, WhenEmpty};
