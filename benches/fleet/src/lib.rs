//! A seeded fleet generator: the same seed and size give the same graph, byte for byte.
//!
//! The fleet is shaped like a real estate: AWS accounts × regions with VPCs, subnets, security
//! groups, EC2 instances and EBS volumes; Kubernetes clusters whose Nodes run on those
//! instances; namespaces with Deployments (several ReplicaSet revisions), Pods, Services with
//! EndpointSlices, PodDisruptionBudgets, a NetworkPolicy, an Ingress, ConfigMaps and Secrets
//! mounted by Pods, StatefulSets with PVCs → PVs → EBS volumes; about 3% of items deleted.
//!
//! - [`generate`]: the graph itself ([`Fleet`]).
//! - [`csv`]: `items.csv` and `edges.csv`, to load other systems with exactly this graph.
//! - [`documents`]: Kubernetes documents for the items, from which the rules derive the edges.
//! - [`load`]: the graph as batches of store operations.

pub mod csv;
pub mod documents;
mod generate;
pub mod load;

use graphd_core::ItemWrite;
use uuid::Uuid;

pub use generate::{generate, kind_counts};

/// Named fleet sizes: S ≈ 10k items, M ≈ 200k, L ≈ 1M with ≥ 5M edges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FleetSize {
    S,
    M,
    L,
    /// A given number of clusters (≈ 1,420 items and 7,600 edges each, with their AWS estate).
    Clusters(usize),
}

impl FleetSize {
    pub fn clusters(self) -> usize {
        match self {
            FleetSize::S => 7,
            FleetSize::M => 141,
            FleetSize::L => 706,
            FleetSize::Clusters(n) => n.max(1),
        }
    }

    /// `s`, `m`, `l` or a number of clusters.
    pub fn parse(word: &str) -> Option<FleetSize> {
        match word.to_ascii_lowercase().as_str() {
            "s" => Some(FleetSize::S),
            "m" => Some(FleetSize::M),
            "l" => Some(FleetSize::L),
            n => n.parse().ok().filter(|n| *n > 0).map(FleetSize::Clusters),
        }
    }
}

/// One generated item.
#[derive(Debug, Clone)]
pub struct FleetItem {
    pub write: ItemWrite,
    /// A stable id for exports (the CSV files).
    pub uuid: Uuid,
    /// The index of its first parent on the way up, if it has one.
    pub parent: Option<usize>,
    pub deleted: bool,
}

/// One generated edge between items, by index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FleetEdge {
    pub from: usize,
    pub relation: &'static str,
    pub to: usize,
}

#[derive(Debug, Clone, Default)]
pub struct Fleet {
    pub items: Vec<FleetItem>,
    pub edges: Vec<FleetEdge>,
}

impl Fleet {
    /// An edge is deleted when either end is.
    pub fn edge_deleted(&self, edge: &FleetEdge) -> bool {
        self.items[edge.from].deleted || self.items[edge.to].deleted
    }

    /// Indices of items of `kind`, in generation order.
    pub fn indices_of_kind<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = usize> + 'a {
        self.items.iter().enumerate().filter(move |(_, i)| i.write.kind.as_str() == kind).map(|(n, _)| n)
    }

    /// `count` live items of `kind`, spread evenly over the fleet: fixed query starts for benches.
    pub fn sample_live(&self, kind: &str, count: usize) -> Vec<usize> {
        let live: Vec<usize> = self.indices_of_kind(kind).filter(|&i| !self.items[i].deleted).collect();
        if live.is_empty() {
            return Vec::new();
        }
        let step = (live.len() / count.max(1)).max(1);
        live.into_iter().step_by(step).take(count).collect()
    }
}
