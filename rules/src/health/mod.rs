//! Health rules: from an object's document to its [`Health`], a short status word and whether
//! it is ready.
//!
//! - `load`: compiling the `health:` lists of rule files, every error with its file, rule
//!   and field.
//! - [`eval`]: [`RuleSet::assess`](crate::RuleSet::assess), which tries the compiled rules in
//!   order.
//! - [`time`]: durations (`5m`) and RFC 3339 timestamps.
//!
//! A rule names the kinds it reads and lists `when` clauses; the first clause whose condition
//! holds decides. Rules are tried in this order: rules marked `override` (Terminating), then
//! rules for one kind, then rules for a domain (`Kubernetes::*`), then rules for every kind
//! (`*`); rules of equal rank in load order. A rule none of whose clauses holds passes the
//! object on to the next one.

pub mod eval;
pub(crate) mod load;
pub mod time;

pub use eval::Assessment;

use crate::path::FieldPath;
use graphd_core::{Health, Kind};

/// Which kinds a health rule reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applies {
    /// One kind: `Kubernetes::Pod`.
    Kind(Kind),
    /// Every kind of a domain: `Kubernetes::*`.
    Domain(String),
    /// Every kind: `*`.
    Any,
}

impl Applies {
    /// `Kubernetes::Pod`, a domain `Kubernetes::*`, or `*` for every kind.
    pub fn parse(kind: &str) -> Result<Applies, String> {
        if kind == "*" {
            return Ok(Applies::Any);
        }
        match kind.strip_suffix("::*") {
            Some(domain) if Kind::new(format!("{domain}::X")).is_ok() && !domain.contains("::") => {
                Ok(Applies::Domain(domain.to_owned()))
            }
            _ => Kind::new(kind)
                .map(Applies::Kind)
                .map_err(|e| format!("{e}; or write a domain (Kubernetes::*) or * for every kind")),
        }
    }

    pub fn matches(&self, kind: &str) -> bool {
        match self {
            Applies::Kind(k) => k.as_str() == kind,
            Applies::Domain(d) => kind.strip_prefix(d.as_str()).is_some_and(|rest| rest.starts_with("::")),
            Applies::Any => true,
        }
    }

    /// Higher is more specific, and is tried first.
    pub fn rank(&self) -> u8 {
        match self {
            Applies::Kind(_) => 2,
            Applies::Domain(_) => 1,
            Applies::Any => 0,
        }
    }
}

/// One health rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthRule {
    pub name: String,
    /// The file it came from, for messages.
    pub file: String,
    pub applies: Applies,
    /// Tried before every rule without it, whatever their kinds.
    pub overrides: bool,
    pub clauses: Vec<Clause>,
}

/// `if` this holds, the object has this health, status and readiness.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clause {
    /// `None`: always.
    pub condition: Option<Condition>,
    pub health: Health,
    pub status: Status,
    pub ready: Ready,
}

/// Where a clause's status word comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    Literal(String),
    /// The first string (or number) the path reaches; `default` when it reaches none.
    From {
        path: FieldPath,
        default: String,
    },
}

/// Whether the object is ready.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ready {
    Fixed(bool),
    /// Ready when the condition holds: `{path: "status.conditions[type=Ready].status", equals: "True"}`.
    When(Condition),
}

/// A test over an object's document (and the time of the assessment).
///
/// A path that fans out (`[]`) holds when *some* element passes: "not every container is
/// ready" is `{path: "status.containerStatuses[].ready", equals: false}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    /// Some value at the path is the literal.
    Equals(FieldPath, Literal),
    /// Some value at the path is one of the literals.
    In(FieldPath, Vec<Literal>),
    /// The path reaches a value that is not null, `""`, `[]` or `{}`.
    Exists(FieldPath),
    /// The opposite of `Exists`.
    Missing(FieldPath),
    /// `status.readyReplicas < spec.replicas`; a path that reaches nothing counts as 0
    /// (Kubernetes leaves zero counters out).
    Compare(Operand, Comparison, Operand),
    /// The RFC 3339 timestamp at the path lies more than this many milliseconds before now.
    OlderThan(FieldPath, u64),
    Any(Vec<Condition>),
    All(Vec<Condition>),
    Not(Box<Condition>),
}

/// One side of a comparison.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operand {
    Path(FieldPath),
    Number(Number),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    Less,
    LessOrEqual,
    Greater,
    GreaterOrEqual,
    Equal,
    NotEqual,
}

impl Comparison {
    pub fn parse(word: &str) -> Option<Comparison> {
        Some(match word {
            "<" => Comparison::Less,
            "<=" => Comparison::LessOrEqual,
            ">" => Comparison::Greater,
            ">=" => Comparison::GreaterOrEqual,
            "==" => Comparison::Equal,
            "!=" => Comparison::NotEqual,
            _ => return None,
        })
    }

    pub fn holds(self, left: f64, right: f64) -> bool {
        match self {
            Comparison::Less => left < right,
            Comparison::LessOrEqual => left <= right,
            Comparison::Greater => left > right,
            Comparison::GreaterOrEqual => left >= right,
            Comparison::Equal => left == right,
            Comparison::NotEqual => left != right,
        }
    }
}

/// A number in a rule, compared by its bits so that rules stay `Eq`.
#[derive(Debug, Clone, Copy)]
pub struct Number(pub f64);

impl PartialEq for Number {
    fn eq(&self, other: &Self) -> bool {
        self.0.to_bits() == other.0.to_bits()
    }
}

impl Eq for Number {}

/// A value a rule compares document values with, prepared at load time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Literal {
    /// As written: `Running`, `0`, `true`.
    pub text: String,
    /// Its value when it is a number: `0` also matches `0.0`.
    pub number: Option<Number>,
    /// Its value when the YAML wrote a boolean: `true` matches `true` and the strings `"true"`
    /// and `"True"` (YAML reads an unquoted `True` as a boolean; Kubernetes conditions hold it
    /// as a string).
    pub boolean: Option<bool>,
}

impl Literal {
    pub fn text(text: impl Into<String>) -> Literal {
        let text = text.into();
        let number = text.parse::<f64>().ok().filter(|n| n.is_finite()).map(Number);
        Literal { text, number, boolean: None }
    }

    pub fn boolean(value: bool) -> Literal {
        Literal { text: value.to_string(), number: None, boolean: Some(value) }
    }
}
