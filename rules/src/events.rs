//! Event rules: items that report something about another item (a Kubernetes Event about its
//! Pod) become changes of that item, one per event, kept after the event item is gone.
//!
//! ```yaml
//! version: 1
//! events:
//!   - name: k8s-events
//!     kind: Kubernetes::Event
//!     about: describes                    # the relation from the event to what it is about
//!     summary: [type, reason, message]    # the line shown: these fields, joined by spaces
//!     count: count                        # how many times it happened (default 1)
//!     first_seen: [firstTimestamp, eventTime, metadata.creationTimestamp]   # the first that is set
//!     last_seen: [lastTimestamp, eventTime, metadata.creationTimestamp]
//! ```

use crate::health::time::parse_rfc3339;
use crate::health::Applies;
use crate::load::RuleError;
use crate::model::RuleSet;
use crate::path::FieldPath;
use graphd_core::Timestamp;
use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRule {
    pub name: String,
    /// The file it came from, for messages.
    pub file: String,
    pub applies: Applies,
    /// The relation from an event item to the items it is about.
    pub about: String,
    summary: Vec<FieldPath>,
    count: Option<FieldPath>,
    first_seen: Vec<FieldPath>,
    last_seen: Vec<FieldPath>,
}

/// What one event says, as the change it becomes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventNote {
    /// `Warning BackOff Back-off restarting failed container (×12, last 2025-09-11T20:50:35Z)`.
    pub summary: String,
    /// When it first happened: where the change sits in the item's history.
    pub first_seen: Option<Timestamp>,
    pub count: u64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEvent {
    name: String,
    kind: String,
    about: String,
    summary: Vec<String>,
    #[serde(default)]
    count: Option<String>,
    #[serde(default)]
    first_seen: Vec<String>,
    #[serde(default)]
    last_seen: Vec<String>,
}

/// Compiles entry `i` of a file's `events:` list, or says everything wrong with it.
pub(crate) fn compile(file: &str, i: usize, raw: &serde_yaml::Value) -> Result<EventRule, Vec<RuleError>> {
    let err = |rule: Option<&str>, field: String, message: String| RuleError {
        file: file.to_owned(),
        rule: rule.map(str::to_owned),
        field: Some(field),
        message,
    };
    let raw: RawEvent =
        serde_yaml::from_value(raw.clone()).map_err(|e| vec![err(None, format!("events[{i}]"), e.to_string())])?;
    let name = Some(raw.name.as_str());
    let mut errors = Vec::new();
    let applies = Applies::parse(&raw.kind).map_err(|message| errors.push(err(name, "kind".into(), message))).ok();
    let mut paths = |field: &str, texts: &[String]| -> Vec<FieldPath> {
        let mut out = Vec::new();
        for (n, text) in texts.iter().enumerate() {
            match FieldPath::parse(text) {
                Ok(path) => out.push(path),
                Err(e) => errors.push(err(name, format!("{field}[{n}]"), e.to_string())),
            }
        }
        out
    };
    let summary = paths("summary", &raw.summary);
    let first_seen = paths("first_seen", &raw.first_seen);
    let last_seen = paths("last_seen", &raw.last_seen);
    let count = raw.count.as_deref().and_then(|text| {
        FieldPath::parse(text).map_err(|e| errors.push(err(name, "count".into(), e.to_string()))).ok()
    });
    if raw.summary.is_empty() {
        errors.push(err(name, "summary".into(), "names no field: the change would say nothing".into()));
    }
    match applies {
        Some(applies) if errors.is_empty() => {
            let file = file.to_owned();
            Ok(EventRule { name: raw.name, file, applies, about: raw.about, summary, count, first_seen, last_seen })
        }
        _ => Err(errors),
    }
}

impl EventRule {
    /// What the event `document` says.
    pub fn note(&self, document: &Value) -> EventNote {
        let words: Vec<String> = self.summary.iter().flat_map(|path| path.strings(document)).collect();
        let count = self.count.as_ref().and_then(|path| path.first(document)).and_then(Value::as_u64).unwrap_or(1);
        let time = |paths: &[FieldPath]| {
            paths.iter().find_map(|path| path.first(document).and_then(Value::as_str).and_then(parse_rfc3339))
        };
        let last_seen = self.last_seen.iter().find_map(|path| path.first(document).and_then(Value::as_str));
        let mut summary = words.join(" ");
        match (count, last_seen) {
            (1, _) => {}
            (n, Some(last)) => summary.push_str(&format!(" (×{n}, last {last})")),
            (n, None) => summary.push_str(&format!(" (×{n})")),
        }
        EventNote { summary, first_seen: time(&self.first_seen), count }
    }
}

impl RuleSet {
    /// The event rule for items of `kind`, if there is one (the first in load order).
    pub fn event_rule(&self, kind: &str) -> Option<&EventRule> {
        self.events.iter().find(|rule| rule.applies.matches(kind))
    }
}

#[cfg(test)]
mod tests {
    use crate::load;
    use serde_json::json;

    const RULE: &str = "version: 1\nrelations: [{name: describes, points: across}]\nevents:\n  - name: k8s-events\n    kind: Kubernetes::Event\n    about: describes\n    \
                        summary: [type, reason, message]\n    count: count\n    first_seen: [firstTimestamp, eventTime]\n    \
                        last_seen: [lastTimestamp, eventTime]\n";

    #[test]
    fn an_event_says_what_happened_how_often_and_since_when() {
        let rules = load(&[("events.yaml".into(), RULE.into())]).unwrap();
        let rule = rules.event_rule("Kubernetes::Event").unwrap();
        assert_eq!(rule.about, "describes");
        let backoff = json!({"type": "Warning", "reason": "BackOff", "message": "Back-off restarting failed container",
            "count": 12, "firstTimestamp": "2025-09-11T20:00:00Z", "lastTimestamp": "2025-09-11T20:50:35Z"});
        let note = rule.note(&backoff);
        assert_eq!(
            note.summary,
            "Warning BackOff Back-off restarting failed container (×12, last 2025-09-11T20:50:35Z)"
        );
        assert_eq!(note.count, 12);
        assert_eq!(note.first_seen, crate::health::time::parse_rfc3339("2025-09-11T20:00:00Z"));
        let once =
            json!({"type": "Normal", "reason": "Pulled", "message": "pulled", "eventTime": "2025-09-11T20:00:00Z"});
        assert_eq!(rule.note(&once).summary, "Normal Pulled pulled");
        assert!(rules.event_rule("Kubernetes::Pod").is_none());
    }

    #[test]
    fn errors_name_the_rule_and_the_field() {
        let bad = "version: 1\nevents:\n  - {name: bad, kind: Event, about: describes, summary: [], first_seen: [\"a..b\"]}\n";
        let errors = load(&[("events.yaml".into(), bad.into())]).unwrap_err().to_string();
        for expected in
            ["rule bad: kind: ", "rule bad: first_seen[0]: bad field path", "rule bad: summary: names no field"]
        {
            assert!(errors.contains(expected), "{expected:?} in:\n{errors}");
        }
    }
}
