//! The AWS scraper: the EC2 estate of many accounts and regions, as a stream of [`Event`]s.
//!
//! Each configured account runs on its own ([`run_account`]): it is reached with the default
//! credentials or by assuming a role, asked who it is (STS), and which regions to scrape (the
//! configured ones, or every enabled one); then each region is scraped in its own task, one
//! kind after another, every call paginated and retried with back-off when throttled. Each
//! complete scrape of a region is framed by [`Event::ScrapeBegin`] and [`Event::ScrapeEnd`],
//! so the consumer can tombstone what the region no longer has; a scrape that fails part-way
//! never sends its end, so nothing is taken for gone because a call failed.
//!
//! An account or region that fails (denied, opt-in region, throttled for too long) shows its
//! error in its [`ScrapeStatus`](graphd_core::scrape::ScrapeStatus) and never holds up another.

mod account;
mod client;
pub mod config;
mod documents;
mod region;

pub use account::run_account;
pub use config::AwsSource;

use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The kinds of item a region's scrape reports, each listed in full every time.
pub const KINDS: [&str; 7] = [
    "AWS::EC2::VPC",
    "AWS::EC2::Subnet",
    "AWS::EC2::SecurityGroup",
    "AWS::EC2::Instance",
    "AWS::EC2::Volume",
    "AWS::EC2::NetworkInterface",
    "AWS::EC2::Image",
];

/// What a scrape tells its consumer, in order per region.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// An account answered: its id, and the regions that are scraped in it.
    Account { account: Arc<str>, regions: Vec<String> },
    /// A full scrape of a region of an account starts.
    ScrapeBegin { account: Arc<str>, region: Arc<str> },
    /// A resource as it is now.
    Resource { account: Arc<str>, region: Arc<str>, resource: Resource },
    /// The scrape that began last listed every kind in full: any resource of the region that
    /// it did not report is gone.
    ScrapeEnd { account: Arc<str>, region: Arc<str> },
}

/// One EC2 resource: what its item is made of.
#[derive(Debug, Clone, PartialEq)]
pub struct Resource {
    /// One of [`KINDS`].
    pub kind: &'static str,
    /// The resource id (`i-0abc…`, `vpc-0abc…`): with the account and region, its key.
    pub id: String,
    /// Its `Name` tag, or else its id.
    pub name: String,
    /// Its tags.
    pub labels: BTreeMap<String, String>,
    /// In the EC2 API's own shape.
    pub document: Value,
    /// Whether its region is its parent: true for the kinds that no link rule places inside
    /// another resource (VPCs, volumes, images); subnets, instances and the rest are placed by
    /// the rules (instance → subnet → VPC).
    pub in_region: bool,
}
