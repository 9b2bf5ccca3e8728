//! Compiled rules: what a validated rule file becomes.

use crate::health::HealthRule;
use crate::path::FieldPath;
use graphd_core::{Kind, Relation};
use std::collections::BTreeMap;

/// Which items a rule reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KindPattern {
    /// One kind: `Kubernetes::Pod`.
    Exact(Kind),
    /// Every kind of a domain: `Kubernetes::*`.
    Domain(String),
}

impl KindPattern {
    pub fn matches(&self, kind: &Kind) -> bool {
        match self {
            KindPattern::Exact(k) => k == kind,
            KindPattern::Domain(d) => kind.domain() == d,
        }
    }
}

/// Where a target is looked for, relative to the source item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LookIn {
    /// The source's namespace (or the one the rule reads from the document), in its cluster.
    Namespace,
    Cluster,
    Account,
    Region,
    Anywhere,
}

/// Which property of a target the extracted values are compared with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchField {
    Name,
    /// A Kubernetes uid (or any source's own id).
    Uid,
}

/// What an empty selector selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhenEmpty {
    /// A Service without selector selects no Pod.
    Nothing,
    /// A NetworkPolicy's empty `podSelector` selects every Pod of its namespace.
    Everything,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Targets whose `field` equals a value the path extracts.
    Field {
        /// `None`: any kind (uids are unique across kinds).
        kind: Option<Kind>,
        field: MatchField,
        values: Values,
        /// Keep only what this pattern matches in each value, its first group if it has one:
        /// the instance id in `aws:///us-east-1a/i-0abc`.
        capture: Option<Capture>,
        /// Read the target's namespace from the document instead of using the source's.
        namespace: Option<FieldPath>,
        look_in: LookIn,
    },
    /// Targets whose labels match the selector found at `selector`.
    Selector { kind: Kind, selector: FieldPath, when_empty: WhenEmpty, look_in: LookIn },
}

/// Where a field target's values come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Values {
    /// `to.values`: the strings a field path reaches.
    Path(FieldPath),
    /// `to.cel`: what an expression over the document gives, each value with its own target
    /// namespace when the expression names one.
    Cel(crate::expression::Expression),
    /// `to.own: namespace`: the source's own namespace, as the store holds it. Every item of a
    /// namespace references it, so the store answers these from its scope index instead of
    /// indexing each reference: see [`Rule::looks_up_own_namespace`].
    OwnNamespace,
}

/// A compiled pattern, compared by its text.
#[derive(Debug, Clone)]
pub struct Capture(pub regex::Regex);

impl PartialEq for Capture {
    fn eq(&self, other: &Self) -> bool {
        self.0.as_str() == other.0.as_str()
    }
}

impl Eq for Capture {}

impl Capture {
    /// What the pattern keeps of `value`, if it matches.
    pub fn apply(&self, value: &str) -> Option<String> {
        let found = self.0.captures(value)?;
        let kept = found.get(1).or_else(|| found.get(0))?;
        Some(kept.as_str().to_owned()).filter(|s| !s.is_empty())
    }
}

/// One link rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub name: String,
    /// The file it came from, for messages.
    pub file: String,
    pub source: KindPattern,
    /// Labels the source must carry (all of them).
    pub source_labels: BTreeMap<String, String>,
    /// Fields the source document must hold, each with this exact value.
    pub source_fields: Vec<(FieldPath, String)>,
    pub relation: String,
    /// `false`: the edge is `source → target`; `true`: `target → source` (a Namespace contains
    /// the Pod that names it).
    pub reverse: bool,
    pub target: Target,
}

impl Rule {
    /// Whether the rule looks its targets up by the source's own namespace. Who references a
    /// target it finds is then known without an index of references: the items of the
    /// namespace the target names, in its cluster.
    pub fn looks_up_own_namespace(&self) -> bool {
        matches!(self.target, Target::Field { values: Values::OwnNamespace, .. })
    }
}

/// Every rule and declared relation of a set of files.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuleSet {
    pub rules: Vec<Rule>,
    /// Relations the files declare beyond the built-in ones.
    pub relations: Vec<Relation>,
    /// Health rules in the order [`RuleSet::assess`] tries them: `override` first, then by
    /// how specific their kind is, then in load order.
    pub health: Vec<HealthRule>,
    /// Fields left out when documents are compared, by kind.
    pub volatile: Vec<crate::volatile::VolatileRule>,
    /// Fields whose change is a change of its own type, by kind.
    pub changes: Vec<crate::changes::ChangeRule>,
    /// Items that become changes of the items they are about.
    pub events: Vec<crate::events::EventRule>,
}
