//! Kinds in `Domain::Kind` form: `Kubernetes::Pod`, `AWS::EC2::Instance`, `Custom::Service`.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A validated kind name: two or more `::`-separated segments, each starting with a letter and
/// made of ASCII letters, digits, `.`, `_` or `-`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Kind(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("kind {kind:?} is not in Domain::Kind form ({reason})")]
pub struct KindError {
    pub kind: String,
    pub reason: &'static str,
}

impl Kind {
    pub fn new(name: impl Into<String>) -> Result<Self, KindError> {
        let name = name.into();
        let fail = |reason| Err(KindError { kind: name.clone(), reason });
        let segments: Vec<&str> = name.split("::").collect();
        if segments.len() < 2 {
            return fail("expected at least one '::', as in Kubernetes::Pod");
        }
        for segment in &segments {
            let mut chars = segment.chars();
            match chars.next() {
                None => return fail("empty segment"),
                Some(c) if !c.is_ascii_alphabetic() => return fail("each segment must start with a letter"),
                _ => {}
            }
            if !chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')) {
                return fail("segments may hold only letters, digits, '.', '_' and '-'");
            }
        }
        Ok(Kind(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The first segment: `Kubernetes`, `AWS`, `Custom`.
    pub fn domain(&self) -> &str {
        self.0.split("::").next().unwrap_or_default()
    }

    /// The last segment: `Pod`, `Instance`.
    pub fn short_name(&self) -> &str {
        self.0.rsplit("::").next().unwrap_or_default()
    }
}

impl TryFrom<String> for Kind {
    type Error = KindError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Kind::new(value)
    }
}

impl From<Kind> for String {
    fn from(kind: Kind) -> String {
        kind.0
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_domain_kind_names() {
        for ok in ["Kubernetes::Pod", "AWS::EC2::Instance", "Custom::Service", "Kubernetes::HelmChart.v1"] {
            Kind::new(ok).unwrap();
        }
    }

    #[test]
    fn rejects_other_shapes_with_a_reason() {
        for bad in ["Pod", "Kubernetes::", "::Pod", "Kubernetes::Pod Name", "9x::Pod"] {
            let err = Kind::new(bad).unwrap_err();
            assert_eq!(err.kind, bad);
            assert!(!err.reason.is_empty());
        }
    }

    #[test]
    fn splits_domain_and_short_name() {
        let kind = Kind::new("AWS::EC2::Instance").unwrap();
        assert_eq!(kind.domain(), "AWS");
        assert_eq!(kind.short_name(), "Instance");
    }
}
