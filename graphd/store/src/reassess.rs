//! Health that changes with time alone: a Pod Pending for longer than its grace period turns
//! Warning without any change to the Pod. The health rules name the kinds whose assessment
//! reads the clock; their live items are assessed again as of now.

use crate::query::ListQuery;
use crate::{Engine, Result, Store};
use graphd_core::{ItemWrite, Timestamp};
use graphd_rules::Assessment;

impl<E: Engine> Store<E> {
    /// The writes that bring health up to date as of `now`, for each live item of a kind whose
    /// health rules read the clock, whose health, status and readiness are what the rules said
    /// when it was last written (so they came from the rules, not from whoever wrote it), and
    /// whose assessment at `now` differs.
    ///
    /// Each write carries the item's document as stored: the caller applies them as the only
    /// writer of those items (the scrape sink), or a newer document could be overwritten.
    pub fn health_due(&self, now: Timestamp) -> Result<Vec<ItemWrite>> {
        let Some(rules) = self.lock_writer().rules.clone() else { return Ok(Vec::new()) };
        let reader = self.read();
        let mut due = Vec::new();
        for kind in rules.kinds_assessed_by_age() {
            let mut query = ListQuery { kind: Some(kind.clone()), limit: 10_000, ..ListQuery::default() };
            loop {
                let page = reader.list(&query)?;
                for item in page.items {
                    let Some(document) = reader.document(item.id)? else { continue };
                    let stored = Assessment { health: item.health, status: item.status.clone(), ready: item.ready };
                    let from_rules = rules.assess(kind.as_str(), &document, item.updated_at).as_ref() == Some(&stored);
                    let Some(current) = rules.assess(kind.as_str(), &document, now) else { continue };
                    if from_rules && current != stored {
                        due.push(ItemWrite {
                            key: item.key,
                            kind: item.kind,
                            name: item.name,
                            namespace: item.namespace,
                            scope: item.scope,
                            labels: item.labels,
                            health: current.health,
                            status: current.status,
                            ready: current.ready,
                            document,
                            created_at: Some(item.created_at),
                        });
                    }
                }
                match page.next_cursor {
                    Some(cursor) => query.cursor = Some(cursor),
                    None => break,
                }
            }
        }
        Ok(due)
    }
}

#[cfg(test)]
mod tests {
    use crate::query::NameQuery;
    use crate::{MemEngine, Op, Store};
    use graphd_core::{ExternalKey, Health, ItemWrite, Kind, Scope, Timestamp};
    use serde_json::json;

    const MINUTE: u64 = 60_000;

    fn pending_pod(name: &str, health: Health) -> ItemWrite {
        ItemWrite {
            key: ExternalKey::kubernetes("c1", format!("uid-{name}")),
            kind: Kind::new("Kubernetes::Pod").unwrap(),
            name: name.to_owned(),
            namespace: Some("ns".into()),
            scope: Scope { cluster: Some("c1".into()), ..Scope::default() },
            labels: Default::default(),
            health,
            status: String::new(),
            ready: false,
            document: json!({"metadata": {"name": name, "creationTimestamp": "2025-01-01T12:00:00Z"},
                "status": {"phase": "Pending"}}),
            created_at: None,
        }
    }

    #[test]
    fn a_pod_pending_past_its_grace_period_turns_warning_with_nothing_else_changing() {
        let store = Store::open(MemEngine::new()).unwrap();
        store.set_rules(graphd_rules::builtin::rules().unwrap()).unwrap();
        let created = graphd_rules::health::time::parse_rfc3339("2025-01-01T12:00:00Z").unwrap();
        let written = Timestamp(created.0 + MINUTE);
        let ops =
            [Op::Upsert(pending_pod("by-rules", Health::Unknown)), Op::Upsert(pending_pod("by-hand", Health::Healthy))];
        store.apply(&ops, written, "test").unwrap();

        assert!(store.health_due(Timestamp(written.0 + MINUTE)).unwrap().is_empty(), "still in its grace period");
        let later = Timestamp(created.0 + 10 * MINUTE);
        let due = store.health_due(later).unwrap();
        assert_eq!(due.len(), 1, "only the pod whose health came from the rules: {due:?}");
        assert_eq!(
            (due[0].name.as_str(), due[0].health, due[0].status.as_str()),
            ("by-rules", Health::Warning, "Pending")
        );

        store.apply(&[Op::Upsert(due[0].clone())], later, "test").unwrap();
        let query = NameQuery {
            kind: Kind::new("Kubernetes::Pod").unwrap(),
            name: "by-rules".into(),
            namespace: None,
            cluster: Some("c1".into()),
        };
        let pod = store.read().find_by_name(&query, false).unwrap().remove(0);
        assert_eq!(pod.health, Health::Warning);
        let changes = store.read().changes(&[pod.id], &crate::query::ChangeFilter::newest(10)).unwrap();
        assert!(changes.iter().any(|c| c.summary == "health Unknown → Warning"), "{changes:?}");
        assert!(store.health_due(Timestamp(later.0 + MINUTE)).unwrap().is_empty(), "done once");
    }
}
