//! Naming items as people type them.
//!
//! - `id:42`: an item id;
//! - `KIND/NAMESPACE/NAME` or `KIND/NAME`, with KIND a full kind (`Kubernetes::Pod`) or a short
//!   word (`pod`, `deploy`, `node`, `instance`, …); a name without namespace matches any;
//! - anything else: a short id, such as an EC2 instance id `i-0abc123` or a Kubernetes uid.
//!
//! [`Narrowing`] (`--cluster`, `--account`, `--region`) narrows the matches. More than one
//! match is an error that lists them, so the user can narrow further.

use crate::{pb, Client, Error, Result};

/// Short kind words and the kinds they stand for.
const ALIASES: &[(&[&str], &str)] = &[
    (&["pod", "pods", "po"], "Kubernetes::Pod"),
    (&["node", "nodes", "no"], "Kubernetes::Node"),
    (&["deployment", "deployments", "deploy"], "Kubernetes::Deployment"),
    (&["replicaset", "replicasets", "rs"], "Kubernetes::ReplicaSet"),
    (&["statefulset", "statefulsets", "sts"], "Kubernetes::StatefulSet"),
    (&["daemonset", "daemonsets", "ds"], "Kubernetes::DaemonSet"),
    (&["namespace", "namespaces", "ns"], "Kubernetes::Namespace"),
    (&["service", "services", "svc"], "Kubernetes::Service"),
    (&["configmap", "configmaps", "cm"], "Kubernetes::ConfigMap"),
    (&["secret", "secrets"], "Kubernetes::Secret"),
    (&["persistentvolumeclaim", "pvc"], "Kubernetes::PersistentVolumeClaim"),
    (&["persistentvolume", "pv"], "Kubernetes::PersistentVolume"),
    (&["ingress", "ing"], "Kubernetes::Ingress"),
    (&["cluster"], "Kubernetes::Cluster"),
    (&["instance", "ec2"], "AWS::EC2::Instance"),
    (&["vpc"], "AWS::EC2::VPC"),
    (&["subnet"], "AWS::EC2::Subnet"),
    (&["securitygroup", "sg"], "AWS::EC2::SecurityGroup"),
    (&["volume", "ebs"], "AWS::EC2::Volume"),
    (&["region"], "AWS::Region"),
    (&["account"], "AWS::Account"),
];

/// A full kind (`Kubernetes::Pod`, passed through for the server to check) or a short word.
pub fn parse_kind(word: &str) -> Result<String> {
    if word.contains("::") {
        return Ok(word.to_owned());
    }
    let lower = word.to_ascii_lowercase();
    ALIASES.iter().find(|(words, _)| words.contains(&lower.as_str())).map(|(_, kind)| (*kind).to_owned()).ok_or_else(
        || {
            let words: Vec<&str> = ALIASES.iter().map(|(words, _)| words[0]).collect();
            Error::Reference(format!(
                "unknown kind {word:?}: use a full kind such as Kubernetes::Pod, or one of: {}",
                words.join(", ")
            ))
        },
    )
}

/// What narrows an item reference.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Narrowing {
    pub cluster: Option<String>,
    pub account: Option<String>,
    pub region: Option<String>,
    pub include_deleted: bool,
    /// The graph as of this time, in ms since the epoch; 0: now.
    pub as_of: u64,
}

impl Narrowing {
    /// Whether `item` lies in the narrowed scope. An item without a cluster (an AWS resource)
    /// is not excluded by `--cluster`, nor a Kubernetes object by `--account`: one narrowing
    /// serves both ends of a path from a Pod to its account.
    fn admits(&self, item: &pb::Item) -> bool {
        let scope = item.scope.clone().unwrap_or_default();
        let same = |want: &Option<String>, have: &str| have.is_empty() || want.as_deref().is_none_or(|w| w == have);
        same(&self.cluster, &scope.cluster) && same(&self.account, &scope.account) && same(&self.region, &scope.region)
    }

    fn words(&self) -> String {
        let parts: Vec<String> = [("cluster", &self.cluster), ("account", &self.account), ("region", &self.region)]
            .into_iter()
            .filter_map(|(what, v)| v.as_ref().map(|v| format!("{what} {v}")))
            .collect();
        if parts.is_empty() {
            String::new()
        } else {
            format!(" in {}", parts.join(", "))
        }
    }
}

/// `Kind namespace/name (id:N)`, as lists of candidates show an item.
pub fn one_line(item: &pb::Item) -> String {
    if item.namespace.is_empty() {
        format!("{} {} (id:{})", item.kind, item.name, item.id)
    } else {
        format!("{} {}/{} (id:{})", item.kind, item.namespace, item.name, item.id)
    }
}

pub(crate) async fn find(client: &mut Client, reference: &str, narrowing: &Narrowing) -> Result<pb::Item> {
    let (include_deleted, as_of) = (narrowing.include_deleted, narrowing.as_of);
    if let Some(id) = reference.strip_prefix("id:") {
        // An id names exactly one item: narrowing does not apply to it.
        let id: u64 =
            id.parse().map_err(|_| Error::Reference(format!("{reference:?}: an item id is a number, as in id:42")))?;
        let by = Some(pb::get_request::By::Id(id));
        let request = pb::GetRequest { by, include_deleted, as_of, ..Default::default() };
        return match client.get_by(request).await {
            Err(Error::Status(status)) if status.code() == tonic::Code::NotFound => {
                Err(Error::Reference(format!("no item matches {reference:?}")))
            }
            found => found,
        };
    }
    let mut matches = if let Some((kind, rest)) = reference.split_once('/') {
        let (namespace, name) = rest.split_once('/').unwrap_or(("", rest));
        let request = pb::LookupRequest {
            kind: parse_kind(kind)?,
            name: name.to_owned(),
            namespace: namespace.to_owned(),
            cluster: narrowing.cluster.clone().unwrap_or_default(),
            include_deleted,
            as_of,
            ..Default::default()
        };
        client.lookup(request).await?
    } else {
        client
            .lookup(pb::LookupRequest { short_id: reference.to_owned(), include_deleted, as_of, ..Default::default() })
            .await?
    };
    matches.retain(|item| narrowing.admits(item));
    match matches.len() {
        0 => Err(Error::Reference(format!("no item matches {reference:?}{}", narrowing.words()))),
        1 => Ok(matches.remove(0)),
        n => {
            let listed: Vec<String> = matches.iter().take(10).map(one_line).collect();
            Err(Error::Reference(format!(
                "{reference:?} matches {n} items; narrow it with a namespace, --cluster, --account or --region, or use id:N:\n  {}",
                listed.join("\n  ")
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_from_words_and_full_names() {
        assert_eq!(parse_kind("pod").unwrap(), "Kubernetes::Pod");
        assert_eq!(parse_kind("Deploy").unwrap(), "Kubernetes::Deployment");
        assert_eq!(parse_kind("AWS::EC2::Instance").unwrap(), "AWS::EC2::Instance");
        let err = parse_kind("gizmo").unwrap_err().to_string();
        assert!(err.contains("unknown kind \"gizmo\"") && err.contains("pod"), "{err}");
    }

    #[test]
    fn narrowing_leaves_items_without_that_scope_alone() {
        let in_scope = |cluster: &str, account: &str| pb::Item {
            scope: Some(pb::Scope { cluster: cluster.into(), account: account.into(), ..Default::default() }),
            ..Default::default()
        };
        let prod = Narrowing { cluster: Some("prod".into()), ..Default::default() };
        assert!(prod.admits(&in_scope("prod", "")));
        assert!(!prod.admits(&in_scope("dev", "")));
        assert!(prod.admits(&in_scope("", "100000000000")), "an AWS account has no cluster");
    }
}
