//! Naming items as people type them.
//!
//! - `id:42`: an item id;
//! - `KIND/NAMESPACE/NAME` or `KIND/NAME`, with KIND a full kind (`Kubernetes::Pod`) or a short
//!   word (`pod`, `deploy`, `node`, `instance`, …); a name without namespace matches any;
//! - anything else: a short id, such as an EC2 instance id `i-0abc123` or a Kubernetes uid.
//!
//! `--cluster`, `--account` and `--region` narrow the matches. More than one match is an error
//! that lists them, so the user can narrow further.

use graphd_core::{Item, ItemId, Kind};
use graphd_store::query::{NameQuery, Reader};
use graphd_store::Engine;

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

/// A kind from a full name or a short word.
pub fn parse_kind(word: &str) -> anyhow::Result<Kind> {
    if word.contains("::") {
        return Ok(Kind::new(word)?);
    }
    let lower = word.to_ascii_lowercase();
    ALIASES
        .iter()
        .find(|(words, _)| words.contains(&lower.as_str()))
        .map(|(_, kind)| Kind::new(*kind).expect("aliases are valid kinds"))
        .ok_or_else(|| {
            anyhow::anyhow!(
                "unknown kind {word:?}: use a full kind such as Kubernetes::Pod, or one of: {}",
                alias_words()
            )
        })
}

fn alias_words() -> String {
    ALIASES.iter().map(|(words, _)| words[0]).collect::<Vec<_>>().join(", ")
}

/// What narrows an item reference.
#[derive(Debug, Clone, Default)]
pub struct Narrowing {
    pub cluster: Option<String>,
    pub account: Option<String>,
    pub region: Option<String>,
    pub include_deleted: bool,
}

/// Finds the one item `reference` names.
pub fn resolve<E: Engine>(reader: &Reader<'_, E>, reference: &str, narrowing: &Narrowing) -> anyhow::Result<Item> {
    let deleted = narrowing.include_deleted;
    let mut matches = if let Some(id) = reference.strip_prefix("id:") {
        let id: u64 = id.parse().map_err(|_| anyhow::anyhow!("{reference:?}: an item id is a number, as in id:42"))?;
        reader.get(ItemId(id), deleted)?.into_iter().collect()
    } else if let Some((kind, rest)) = reference.split_once('/') {
        let kind = parse_kind(kind)?;
        let (namespace, name) = match rest.split_once('/') {
            Some((ns, name)) => (Some(ns.to_owned()), name.to_owned()),
            None => (None, rest.to_owned()),
        };
        let query = NameQuery { kind, name, namespace, cluster: narrowing.cluster.clone() };
        reader.find_by_name(&query, deleted)?
    } else {
        reader.find_by_short_id(reference, deleted)?
    };
    matches.retain(|item| {
        let same = |want: &Option<String>, have: &Option<String>| want.is_none() || want == have;
        same(&narrowing.cluster, &item.scope.cluster)
            && same(&narrowing.account, &item.scope.account)
            && same(&narrowing.region, &item.scope.region)
    });
    match matches.len() {
        0 => anyhow::bail!("no item matches {reference:?}{}", narrowing_words(narrowing)),
        1 => Ok(matches.remove(0)),
        n => {
            let listed: Vec<String> = matches.iter().take(10).map(crate::render::one_line).collect();
            anyhow::bail!(
                "{reference:?} matches {n} items; narrow it with a namespace, --cluster, --account or --region, or use id:N:\n  {}",
                listed.join("\n  ")
            )
        }
    }
}

fn narrowing_words(n: &Narrowing) -> String {
    let parts: Vec<String> = [("cluster", &n.cluster), ("account", &n.account), ("region", &n.region)]
        .into_iter()
        .filter_map(|(what, v)| v.as_ref().map(|v| format!("{what} {v}")))
        .collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!(" in {}", parts.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_from_words_and_full_names() {
        assert_eq!(parse_kind("pod").unwrap().as_str(), "Kubernetes::Pod");
        assert_eq!(parse_kind("Deploy").unwrap().as_str(), "Kubernetes::Deployment");
        assert_eq!(parse_kind("AWS::EC2::Instance").unwrap().as_str(), "AWS::EC2::Instance");
        let err = parse_kind("gizmo").unwrap_err().to_string();
        assert!(err.contains("unknown kind \"gizmo\"") && err.contains("pod"), "{err}");
        assert!(parse_kind("Bad::").is_err());
    }
}
