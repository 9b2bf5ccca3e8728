//! Building the fleet.

use crate::{Fleet, FleetEdge, FleetItem, FleetSize};
use graphd_core::{ExternalKey, Health, ItemWrite, Kind, Scope, Timestamp};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;

/// Clusters per AWS account; each account spans two regions.
const CLUSTERS_PER_ACCOUNT: usize = 10;
const REGIONS: [&str; 2] = ["us-east-1", "eu-west-1"];
const VPCS_PER_REGION: usize = 2;
const SUBNETS_PER_VPC: usize = 3;
const SECURITY_GROUPS_PER_VPC: usize = 4;
const NODES_PER_CLUSTER: usize = 20;
const NAMESPACES_PER_CLUSTER: usize = 9;
const DEPLOYMENTS_PER_NAMESPACE: usize = 8;
const REVISIONS_PER_DEPLOYMENT: usize = 3;
const PODS_PER_DEPLOYMENT: usize = 6;
const STATEFUL_PODS: usize = 2;
/// Share of items tombstoned, taken from kinds that come and go (Pods, ReplicaSets, …).
const DELETED_SHARE: f64 = 0.03;
const CREATED: Timestamp = Timestamp(1_767_225_600_000); // 2026-01-01

/// Generates the fleet of `size` from `seed`.
pub fn generate(size: FleetSize, seed: u64) -> Fleet {
    let mut g = Generator { rng: ChaCha8Rng::seed_from_u64(seed), fleet: Fleet::default() };
    let clusters = size.clusters();
    let accounts = clusters.div_ceil(CLUSTERS_PER_ACCOUNT);
    let mut estates = Vec::new();
    for a in 0..accounts {
        estates.extend(g.account(a));
    }
    for c in 0..clusters {
        let estate = &estates[c % estates.len()];
        let estate = estate.clone();
        g.cluster(c, &estate);
    }
    g.tombstone_some();
    g.fleet
}

/// The AWS side one cluster lives in.
#[derive(Debug, Clone)]
struct RegionEstate {
    account: String,
    region: &'static str,
    region_item: usize,
    subnets: Vec<usize>,
    security_groups: Vec<usize>,
}

struct Generator {
    rng: ChaCha8Rng,
    fleet: Fleet,
}

fn kind(name: &str) -> Kind {
    Kind::new(name).expect("generator kinds are valid")
}

impl Generator {
    fn push(&mut self, mut write: ItemWrite, parent: Option<usize>) -> usize {
        write.created_at = Some(CREATED);
        if write.health == Health::Unknown {
            write.health = if self.rng.gen_bool(0.05) { Health::Unhealthy } else { Health::Healthy };
            write.ready = write.health == Health::Healthy;
        }
        let uuid = uuid::Builder::from_random_bytes(self.rng.gen()).into_uuid();
        self.fleet.items.push(FleetItem { write, uuid, parent, deleted: false });
        self.fleet.items.len() - 1
    }

    fn edge(&mut self, from: usize, relation: &'static str, to: usize) {
        self.fleet.edges.push(FleetEdge { from, relation, to });
    }

    fn hex(&mut self, len: usize) -> String {
        (0..len).map(|_| char::from_digit(self.rng.gen_range(0..16), 16).expect("hex digit")).collect()
    }

    // ---- AWS ------------------------------------------------------------------------------

    fn aws_item(&mut self, account: &str, region: &str, id: String, kind_name: &str) -> ItemWrite {
        let mut write = ItemWrite::new(ExternalKey::aws(account, region, id.clone()), kind(kind_name), id);
        write.scope = Scope {
            account: Some(account.to_owned()),
            region: (!region.is_empty()).then(|| region.to_owned()),
            cluster: None,
        };
        write
    }

    fn account(&mut self, index: usize) -> Vec<RegionEstate> {
        let account = format!("{:012}", 100_000_000_000u64 + index as u64);
        let account_item = self.aws_item(&account, "", account.clone(), "AWS::Account");
        let account_item = self.push(account_item, None);
        let mut estates = Vec::new();
        for region in REGIONS {
            let region_write = self.aws_item(&account, region, region.to_owned(), "AWS::Region");
            let region_item = self.push(region_write, Some(account_item));
            self.edge(region_item, "member-of", account_item);
            let mut estate = RegionEstate {
                account: account.clone(),
                region,
                region_item,
                subnets: Vec::new(),
                security_groups: Vec::new(),
            };
            for _ in 0..VPCS_PER_REGION {
                let id = format!("vpc-{}", self.hex(17));
                let vpc_write = self.aws_item(&account, region, id, "AWS::EC2::VPC");
                let vpc = self.push(vpc_write, Some(region_item));
                self.edge(vpc, "member-of", region_item);
                for s in 0..SUBNETS_PER_VPC {
                    let id = format!("subnet-{}", self.hex(17));
                    let mut write = self.aws_item(&account, region, id, "AWS::EC2::Subnet");
                    write.labels.insert("availability-zone".into(), format!("{region}{}", ['a', 'b', 'c'][s]));
                    let subnet = self.push(write, Some(vpc));
                    self.edge(subnet, "member-of", vpc);
                    estate.subnets.push(subnet);
                }
                let first_group = self.fleet.items.len();
                for g in 0..SECURITY_GROUPS_PER_VPC {
                    let id = format!("sg-{}", self.hex(17));
                    let group = self.aws_item(&account, region, id, "AWS::EC2::SecurityGroup");
                    let group = self.push(group, Some(vpc));
                    self.edge(group, "member-of", vpc);
                    if g > 0 {
                        // Each group admits traffic from the first one (group-to-group rules).
                        self.edge(group, "uses", first_group);
                    }
                    estate.security_groups.push(group);
                }
            }
            estates.push(estate);
        }
        estates
    }

    fn volume(&mut self, estate: &RegionEstate, gib: u32) -> usize {
        let id = format!("vol-{}", self.hex(17));
        let mut write = self.aws_item(&estate.account, estate.region, id, "AWS::EC2::Volume");
        write.labels.insert("size-gib".into(), gib.to_string());
        let volume = self.push(write, Some(estate.region_item));
        self.edge(volume, "member-of", estate.region_item);
        volume
    }

    // ---- Kubernetes -----------------------------------------------------------------------

    fn k8s_item(&mut self, cluster: &str, kind_name: &str, name: String, namespace: Option<&str>) -> ItemWrite {
        let uid = uuid::Builder::from_random_bytes(self.rng.gen()).into_uuid().to_string();
        let mut write =
            ItemWrite::new(ExternalKey::kubernetes(cluster, uid), kind(&format!("Kubernetes::{kind_name}")), name);
        write.namespace = namespace.map(str::to_owned);
        write.scope = Scope { cluster: Some(cluster.to_owned()), account: None, region: None };
        write
    }

    fn cluster(&mut self, index: usize, estate: &RegionEstate) {
        let name = format!("cluster-{index:04}");
        let mut write = self.k8s_item(&name, "Cluster", name.clone(), None);
        write.scope.account = Some(estate.account.clone());
        write.scope.region = Some(estate.region.to_owned());
        let cluster = self.push(write, Some(estate.region_item));
        self.edge(cluster, "member-of", estate.region_item);

        let mut nodes = Vec::new();
        for n in 0..NODES_PER_CLUSTER {
            let subnet = estate.subnets[n % estate.subnets.len()];
            let instance_id = format!("i-{}", self.hex(17));
            let mut instance = self.aws_item(&estate.account, estate.region, instance_id.clone(), "AWS::EC2::Instance");
            instance.labels.insert("eks:cluster-name".into(), name.clone());
            instance.status = "running".into();
            let instance = self.push(instance, Some(subnet));
            self.edge(instance, "member-of", subnet);
            for g in 0..2 {
                let group = estate.security_groups[(n + g) % estate.security_groups.len()];
                self.edge(instance, "uses", group);
            }
            let root = self.volume(estate, 100);
            self.edge(instance, "mounts", root);

            let node_name = format!("ip-10-{}-{}-{}", index % 256, n / 256, n % 256 + 1);
            let mut node = self.k8s_item(&name, "Node", node_name, None);
            node.document =
                serde_json::json!({"spec": {"providerID": format!("aws:///{}a/{instance_id}", estate.region)}});
            let node = self.push(node, Some(instance));
            self.edge(node, "runs-on", instance);
            self.edge(cluster, "contains", node);
            nodes.push(node);
        }
        let priority_classes: Vec<usize> = ["system-critical", "batch-low"]
            .into_iter()
            .map(|pc| {
                let write = self.k8s_item(&name, "PriorityClass", pc.to_owned(), None);
                let item = self.push(write, Some(cluster));
                self.edge(cluster, "contains", item);
                item
            })
            .collect();
        let ctx = ClusterCtx { name, cluster, nodes, priority_classes };
        for ns in 0..NAMESPACES_PER_CLUSTER {
            self.namespace(&ctx, estate, ns);
        }
    }

    fn namespace(&mut self, ctx: &ClusterCtx, estate: &RegionEstate, index: usize) {
        let ns_name = format!("team-{index}");
        let ns_write = self.k8s_item(&ctx.name, "Namespace", ns_name.clone(), None);
        let ns = self.push(ns_write, Some(ctx.cluster));
        self.edge(ctx.cluster, "contains", ns);
        let ns_ctx = NamespaceCtx {
            name: ns_name.clone(),
            ns,
            service_account: self.child(ctx, &ns_name, ns, "ServiceAccount", "default".into()),
            root_ca: self.child(ctx, &ns_name, ns, "ConfigMap", "kube-root-ca.crt".into()),
            policy: self.child(ctx, &ns_name, ns, "NetworkPolicy", "default-deny".into()),
        };
        let mut services = Vec::new();
        for d in 0..DEPLOYMENTS_PER_NAMESPACE {
            services.push(self.deployment(ctx, &ns_ctx, d));
        }
        self.stateful_set(ctx, &ns_ctx, estate);
        let ingress = self.child(ctx, &ns_name, ns, "Ingress", format!("{ns_name}-ingress"));
        for &service in services.iter().take(2) {
            self.edge(ingress, "routes-to", service);
        }
    }

    /// A namespaced item contained by its namespace.
    fn child(&mut self, ctx: &ClusterCtx, ns_name: &str, ns: usize, kind_name: &str, name: String) -> usize {
        let write = self.k8s_item(&ctx.name, kind_name, name, Some(ns_name));
        let item = self.push(write, Some(ns));
        self.edge(ns, "contains", item);
        item
    }

    /// A Deployment with its revisions, Pods, Service, EndpointSlice, PDB, ConfigMaps, Secrets.
    /// Returns the Service.
    fn deployment(&mut self, ctx: &ClusterCtx, ns: &NamespaceCtx, index: usize) -> usize {
        let app = format!("app-{index}");
        let deploy = self.child(ctx, &ns.name, ns.ns, "Deployment", app.clone());
        let mut replica_sets = Vec::new();
        for _ in 0..REVISIONS_PER_DEPLOYMENT {
            let hash = self.hex(10);
            let rs = self.child(ctx, &ns.name, ns.ns, "ReplicaSet", format!("{app}-{hash}"));
            self.fleet.items[rs].parent = Some(deploy);
            self.edge(deploy, "owns", rs);
            replica_sets.push(rs);
        }
        let current = *replica_sets.last().expect("at least one revision");
        let configs: Vec<usize> =
            (0..2).map(|c| self.child(ctx, &ns.name, ns.ns, "ConfigMap", format!("{app}-config-{c}"))).collect();
        let secrets: Vec<usize> =
            (0..2).map(|s| self.child(ctx, &ns.name, ns.ns, "Secret", format!("{app}-secret-{s}"))).collect();
        let service = self.child(ctx, &ns.name, ns.ns, "Service", app.clone());
        let slice_name = format!("{app}-{}", self.hex(5));
        let slice = self.child(ctx, &ns.name, ns.ns, "EndpointSlice", slice_name);
        self.edge(service, "owns", slice);
        self.fleet.items[slice].parent = Some(service);
        let pdb = self.child(ctx, &ns.name, ns.ns, "PodDisruptionBudget", app.clone());
        let rs_name = self.fleet.items[current].write.name.clone();
        for _ in 0..PODS_PER_DEPLOYMENT {
            let pod_name = format!("{rs_name}-{}", self.hex(5));
            let pod = self.pod(ctx, ns, pod_name, current);
            self.edge(current, "owns", pod);
            for &config in &configs {
                self.edge(pod, "mounts", config);
            }
            for &secret in &secrets {
                self.edge(pod, "mounts", secret);
            }
            self.edge(service, "selects", pod);
            self.edge(slice, "routes-to", pod);
            self.edge(pdb, "selects", pod);
        }
        service
    }

    /// A Pod with the links every Pod has: namespace, node, ServiceAccount, root CA,
    /// PriorityClass, NetworkPolicy.
    fn pod(&mut self, ctx: &ClusterCtx, ns: &NamespaceCtx, name: String, owner: usize) -> usize {
        let mut write = self.k8s_item(&ctx.name, "Pod", name, Some(&ns.name));
        write.status = "Running".into();
        let pod = self.push(write, Some(owner));
        if self.fleet.items[pod].write.health == Health::Unhealthy {
            self.fleet.items[pod].write.status = "CrashLoopBackOff".into();
        }
        self.edge(ns.ns, "contains", pod);
        let node = ctx.nodes[self.rng.gen_range(0..ctx.nodes.len())];
        self.edge(pod, "runs-on", node);
        self.edge(pod, "uses", ns.service_account);
        self.edge(pod, "mounts", ns.root_ca);
        let priority = ctx.priority_classes[self.rng.gen_range(0..ctx.priority_classes.len())];
        self.edge(pod, "uses", priority);
        self.edge(ns.policy, "selects", pod);
        pod
    }

    fn stateful_set(&mut self, ctx: &ClusterCtx, ns: &NamespaceCtx, estate: &RegionEstate) {
        let sts = self.child(ctx, &ns.name, ns.ns, "StatefulSet", "db".into());
        for p in 0..STATEFUL_PODS {
            let pod = self.pod(ctx, ns, format!("db-{p}"), sts);
            self.edge(sts, "owns", pod);
            let pvc = self.child(ctx, &ns.name, ns.ns, "PersistentVolumeClaim", format!("data-db-{p}"));
            self.edge(pod, "mounts", pvc);
            let pv_name = format!("pvc-{}", uuid::Builder::from_random_bytes(self.rng.gen()).into_uuid());
            let pv_write = self.k8s_item(&ctx.name, "PersistentVolume", pv_name, None);
            let pv = self.push(pv_write, Some(ctx.cluster));
            self.edge(ctx.cluster, "contains", pv);
            self.edge(pvc, "binds", pv);
            let volume = self.volume(estate, 50);
            self.edge(pv, "backed-by", volume);
        }
    }

    /// Tombstones a share of the items of kinds that come and go.
    fn tombstone_some(&mut self) {
        const TRANSIENT: [&str; 5] = [
            "Kubernetes::Pod",
            "Kubernetes::ReplicaSet",
            "Kubernetes::ConfigMap",
            "Kubernetes::Secret",
            "Kubernetes::EndpointSlice",
        ];
        let mut candidates: Vec<usize> = (0..self.fleet.items.len())
            .filter(|&i| {
                let item = &self.fleet.items[i].write;
                TRANSIENT.contains(&item.kind.as_str()) && item.name != "kube-root-ca.crt"
            })
            .collect();
        candidates.shuffle(&mut self.rng);
        let count = (self.fleet.items.len() as f64 * DELETED_SHARE).round() as usize;
        for &i in candidates.iter().take(count) {
            self.fleet.items[i].deleted = true;
        }
    }
}

struct ClusterCtx {
    name: String,
    cluster: usize,
    nodes: Vec<usize>,
    priority_classes: Vec<usize>,
}

struct NamespaceCtx {
    name: String,
    ns: usize,
    service_account: usize,
    root_ca: usize,
    policy: usize,
}

/// Item counts by kind: what a fleet holds, for summaries.
pub fn kind_counts(fleet: &Fleet) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for item in &fleet.items {
        *counts.entry(item.write.kind.to_string()).or_default() += 1;
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_fleet() {
        let (a, b) = (generate(FleetSize::Clusters(2), 7), generate(FleetSize::Clusters(2), 7));
        assert_eq!(a.items.len(), b.items.len());
        assert!(a
            .items
            .iter()
            .zip(&b.items)
            .all(|(x, y)| x.write == y.write && x.uuid == y.uuid && x.deleted == y.deleted));
        assert_eq!(a.edges, b.edges);
        let c = generate(FleetSize::Clusters(2), 8);
        assert_ne!(a.items[0].uuid, c.items[0].uuid);
    }

    #[test]
    fn size_s_has_the_promised_shape() {
        let fleet = generate(FleetSize::S, 1);
        let n = fleet.items.len();
        assert!((9_000..=12_000).contains(&n), "S has {n} items");
        let per_item = fleet.edges.len() as f64 / n as f64;
        assert!(per_item >= 5.0, "{per_item:.2} edges per item");
        let deleted = fleet.items.iter().filter(|i| i.deleted).count() as f64 / n as f64;
        assert!((0.025..=0.035).contains(&deleted), "{deleted:.3} deleted");
        let counts = kind_counts(&fleet);
        for kind in [
            "AWS::EC2::Instance",
            "AWS::EC2::Volume",
            "Kubernetes::Node",
            "Kubernetes::PersistentVolume",
            "Kubernetes::Ingress",
        ] {
            assert!(counts.get(kind).copied().unwrap_or(0) > 0, "{kind} missing");
        }
    }

    #[test]
    fn every_edge_joins_existing_items_and_parents_come_first() {
        let fleet = generate(FleetSize::Clusters(3), 2);
        for edge in &fleet.edges {
            assert!(edge.from < fleet.items.len() && edge.to < fleet.items.len());
            assert_ne!(edge.from, edge.to);
        }
        for (i, item) in fleet.items.iter().enumerate() {
            if let Some(parent) = item.parent {
                assert!(parent < i, "item {i} has a parent generated after it");
            }
        }
    }
}
