//! AWS events into the store: the account and its regions as items, each resource as its item
//! as it arrives; each complete scrape of a region is a resync of that account and region.

use super::{Sink, Writer};
use graphd_core::{EdgeWrite, ExternalKey, ItemWrite, Kind, Provenance, Scope};
use graphd_scrape_aws::{Event, Resource, KINDS};
use graphd_store::{Engine, KeyScope, Op, Resync, Store};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// Turns AWS [`Event`]s into store writes.
#[derive(Debug)]
pub struct AwsSink<E: Engine> {
    writer: Writer<E>,
    /// Keys reported by each scrape under way, by account and region: keys only.
    scrapes: HashMap<(Arc<str>, Arc<str>), HashSet<ExternalKey>>,
    /// The resyncs of a region's scrape, made once.
    kinds: Vec<Kind>,
}

impl<E: Engine> Sink<E> for AwsSink<E> {
    type Event = Event;

    fn writer(&mut self) -> &mut Writer<E> {
        &mut self.writer
    }

    fn handle(&mut self, event: Event) -> anyhow::Result<()> {
        match event {
            Event::Account { account, regions } => {
                let mut ops = vec![Op::Upsert(account_item(&account))];
                for region in &regions {
                    ops.push(Op::Upsert(region_item(&account, region)));
                    ops.push(link(region_key(&account, region), account_key(&account), &account, region));
                }
                self.writer.push(ops)?;
            }
            Event::ScrapeBegin { account, region } => {
                self.scrapes.insert((account, region), HashSet::new());
            }
            Event::Resource { account, region, resource } => {
                self.writer.report.objects += 1;
                let (item, in_region) = resource_item(&account, &region, resource);
                if let Some(seen) = self.scrapes.get_mut(&(Arc::clone(&account), Arc::clone(&region))) {
                    seen.insert(item.key.clone());
                }
                let parent =
                    in_region.then(|| link(item.key.clone(), region_key(&account, &region), &account, &region));
                self.writer.push(std::iter::once(Op::Upsert(item)).chain(parent))?;
            }
            Event::ScrapeEnd { account, region } => {
                self.writer.report.listings += 1;
                if let Some(reported) = self.scrapes.remove(&(Arc::clone(&account), Arc::clone(&region))) {
                    let scope = KeyScope::Aws { account: account.to_string(), region: region.to_string() };
                    let resync = Resync { scope, kinds: self.kinds.clone() };
                    self.writer.resync(&resync, &reported, &format!("aws/{account}/{region}"))?;
                }
            }
        }
        Ok(())
    }
}

impl<E: Engine> AwsSink<E> {
    pub fn new(store: Arc<Store<E>>) -> Self {
        let kinds = KINDS.iter().map(|k| Kind::new(*k).expect("the scraper's kinds are valid")).collect();
        AwsSink { writer: Writer::new(store, "aws"), scrapes: HashMap::new(), kinds }
    }
}

fn account_key(account: &str) -> ExternalKey {
    // An account's own resources are in no region.
    ExternalKey::aws(account, "", account)
}

fn region_key(account: &str, region: &str) -> ExternalKey {
    ExternalKey::aws(account, region, region)
}

fn scope(account: &str, region: Option<&str>) -> Scope {
    Scope { account: Some(account.to_owned()), region: region.map(str::to_owned), cluster: None }
}

/// The account: the root of walk-up for everything in it.
fn account_item(account: &str) -> ItemWrite {
    let mut item = ItemWrite::new(account_key(account), Kind::new("AWS::Account").expect("a valid kind"), account);
    item.scope = scope(account, None);
    item
}

fn region_item(account: &str, region: &str) -> ItemWrite {
    let kind = Kind::new("AWS::Region").expect("a valid kind");
    let mut item = ItemWrite::new(region_key(account, region), kind, region);
    item.scope = scope(account, Some(region));
    item
}

/// The item of `resource`, and whether its region is its parent.
fn resource_item(account: &str, region: &str, resource: Resource) -> (ItemWrite, bool) {
    let kind = Kind::new(resource.kind).expect("the scraper's kinds are valid");
    let mut item = ItemWrite::new(ExternalKey::aws(account, region, resource.id), kind, resource.name);
    item.scope = scope(account, Some(region));
    item.labels = resource.labels;
    item.document = resource.document;
    (item, resource.in_region)
}

/// `from` is a member of `to`, as the scraper of `account` and `region` saw it.
fn link(from: ExternalKey, to: ExternalKey, account: &str, region: &str) -> Op {
    let provenance = Provenance::Scraper(format!("aws/{account}/{region}"));
    Op::Link(EdgeWrite { from, relation: "member-of".into(), to, provenance })
}
