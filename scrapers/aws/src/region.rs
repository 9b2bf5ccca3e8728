//! One full scrape of one region of an account: every kind, every page.

use crate::client::Account;
use crate::documents::{self, labels, name};
use crate::{Event, Resource};
use aws_sdk_ec2::error::DisplayErrorContext;
use aws_sdk_ec2::types::{Filter, InstanceStateName, InstanceStatus, Tag};
use graphd_core::scrape::ScrapeStatus;
use serde_json::Value;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use tokio::sync::mpsc;

/// Values per filter of a DescribeImages call: the API's limit.
const FILTER_VALUES: usize = 200;

/// Why a region's scrape stopped before its end.
#[derive(Debug)]
pub enum Failure {
    /// A call failed (after the SDK's retries): what it was and why.
    Call(String),
    /// The consumer is gone: the scrape is over.
    Closed,
}

/// What a complete scrape of a region reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scraped {
    pub objects: u64,
    /// Whether it was the region's first complete scrape.
    pub first: bool,
}

/// A region being scraped; it lives as long as the account's scraper, so it knows which kinds
/// have been listed before (for the status).
#[derive(Debug)]
pub struct RegionScraper {
    pub account: Arc<str>,
    pub region: Arc<str>,
    pub page_size: i32,
    pub events: mpsc::Sender<Event>,
    pub status: Arc<ScrapeStatus>,
    listed: HashSet<&'static str>,
    /// Resources reported by the scrape under way.
    reported: u64,
    complete_once: bool,
}

impl RegionScraper {
    pub fn new(
        account: Arc<str>,
        region: Arc<str>,
        page_size: i32,
        events: mpsc::Sender<Event>,
        status: Arc<ScrapeStatus>,
    ) -> Self {
        status.resources_added(crate::KINDS.len());
        RegionScraper {
            account,
            region,
            page_size,
            events,
            status,
            listed: HashSet::new(),
            reported: 0,
            complete_once: false,
        }
    }

    /// Lists every kind of the region in full, between a [`Event::ScrapeBegin`] and an
    /// [`Event::ScrapeEnd`]; a failure ends it without the end, and is recorded in the status.
    pub async fn scrape(&mut self, account: &Account) -> Result<Scraped, Failure> {
        let ec2 = account.ec2(&self.region);
        self.reported = 0;
        let begin = Event::ScrapeBegin { account: Arc::clone(&self.account), region: Arc::clone(&self.region) };
        self.send(begin).await?;
        let listed = self.list_all(&ec2).await;
        if let Err(Failure::Call(error)) = &listed {
            tracing::warn!(account = %self.account, region = %self.region, %error, "region scrape failed");
            self.status.error(format!("{}/{}: {error}", self.account, self.region));
        }
        listed?;
        self.send(Event::ScrapeEnd { account: Arc::clone(&self.account), region: Arc::clone(&self.region) }).await?;
        let first = !std::mem::replace(&mut self.complete_once, true);
        Ok(Scraped { objects: self.reported, first })
    }

    async fn list_all(&mut self, ec2: &aws_sdk_ec2::Client) -> Result<(), Failure> {
        self.vpcs(ec2).await?;
        self.subnets(ec2).await?;
        self.security_groups(ec2).await?;
        let images = self.instances(ec2).await?;
        self.volumes(ec2).await?;
        self.network_interfaces(ec2).await?;
        self.images(ec2, images).await
    }

    async fn vpcs(&mut self, ec2: &aws_sdk_ec2::Client) -> Result<(), Failure> {
        let mut pages = ec2.describe_vpcs().max_results(self.page_size).into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| failed("DescribeVpcs", e))?;
            for vpc in page.vpcs() {
                let Some(id) = vpc.vpc_id() else { continue };
                self.emit("AWS::EC2::VPC", id, vpc.tags(), documents::vpc(vpc), true).await?;
            }
        }
        self.listed("AWS::EC2::VPC");
        Ok(())
    }

    async fn subnets(&mut self, ec2: &aws_sdk_ec2::Client) -> Result<(), Failure> {
        let mut pages = ec2.describe_subnets().max_results(self.page_size).into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| failed("DescribeSubnets", e))?;
            for subnet in page.subnets() {
                let Some(id) = subnet.subnet_id() else { continue };
                self.emit("AWS::EC2::Subnet", id, subnet.tags(), documents::subnet(subnet), false).await?;
            }
        }
        self.listed("AWS::EC2::Subnet");
        Ok(())
    }

    async fn security_groups(&mut self, ec2: &aws_sdk_ec2::Client) -> Result<(), Failure> {
        let mut pages = ec2.describe_security_groups().max_results(self.page_size).into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| failed("DescribeSecurityGroups", e))?;
            for group in page.security_groups() {
                let Some(id) = group.group_id() else { continue };
                let document = documents::security_group(group);
                self.emit("AWS::EC2::SecurityGroup", id, group.tags(), document, false).await?;
            }
        }
        self.listed("AWS::EC2::SecurityGroup");
        Ok(())
    }

    /// Instances with their status checks; returns the images they run.
    async fn instances(&mut self, ec2: &aws_sdk_ec2::Client) -> Result<BTreeSet<String>, Failure> {
        let checks = self.status_checks(ec2).await?;
        let mut images = BTreeSet::new();
        let mut pages = ec2.describe_instances().max_results(self.page_size).into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| failed("DescribeInstances", e))?;
            for instance in page.reservations().iter().flat_map(|r| r.instances()) {
                let Some(id) = instance.instance_id() else { continue };
                // A terminated instance stays listed for about an hour, but it is gone: left
                // out, it is tombstoned at the end of this scrape.
                if instance.state().and_then(|s| s.name()) == Some(&InstanceStateName::Terminated) {
                    continue;
                }
                images.extend(instance.image_id().map(str::to_owned));
                let document = documents::instance(instance, checks.get(id));
                self.emit("AWS::EC2::Instance", id, instance.tags(), document, false).await?;
            }
        }
        self.listed("AWS::EC2::Instance");
        Ok(images)
    }

    async fn status_checks(&self, ec2: &aws_sdk_ec2::Client) -> Result<HashMap<String, InstanceStatus>, Failure> {
        let mut checks = HashMap::new();
        let call = ec2.describe_instance_status().include_all_instances(true).max_results(self.page_size);
        let mut pages = call.into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| failed("DescribeInstanceStatus", e))?;
            for status in page.instance_statuses() {
                if let Some(id) = status.instance_id() {
                    checks.insert(id.to_owned(), status.clone());
                }
            }
        }
        Ok(checks)
    }

    async fn volumes(&mut self, ec2: &aws_sdk_ec2::Client) -> Result<(), Failure> {
        let mut pages = ec2.describe_volumes().max_results(self.page_size).into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| failed("DescribeVolumes", e))?;
            for volume in page.volumes() {
                let Some(id) = volume.volume_id() else { continue };
                self.emit("AWS::EC2::Volume", id, volume.tags(), documents::volume(volume), true).await?;
            }
        }
        self.listed("AWS::EC2::Volume");
        Ok(())
    }

    async fn network_interfaces(&mut self, ec2: &aws_sdk_ec2::Client) -> Result<(), Failure> {
        let mut pages = ec2.describe_network_interfaces().max_results(self.page_size).into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| failed("DescribeNetworkInterfaces", e))?;
            for interface in page.network_interfaces() {
                let Some(id) = interface.network_interface_id() else { continue };
                let document = documents::network_interface(interface);
                self.emit("AWS::EC2::NetworkInterface", id, interface.tag_set(), document, false).await?;
            }
        }
        self.listed("AWS::EC2::NetworkInterface");
        Ok(())
    }

    /// The images that instances of the region run (not every public image the region offers).
    async fn images(&mut self, ec2: &aws_sdk_ec2::Client, in_use: BTreeSet<String>) -> Result<(), Failure> {
        let in_use: Vec<String> = in_use.into_iter().collect();
        for ids in in_use.chunks(FILTER_VALUES) {
            // A filter, not ImageIds: an id of a deregistered image is then left out instead
            // of failing the whole call.
            let filter = Filter::builder().name("image-id").set_values(Some(ids.to_vec())).build();
            let call = ec2.describe_images().filters(filter).include_deprecated(true).max_results(self.page_size);
            let mut pages = call.into_paginator().send();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| failed("DescribeImages", e))?;
                for image in page.images() {
                    let Some(id) = image.image_id() else { continue };
                    self.emit("AWS::EC2::Image", id, image.tags(), documents::image(image), true).await?;
                }
            }
        }
        self.listed("AWS::EC2::Image");
        Ok(())
    }

    async fn emit(
        &mut self,
        kind: &'static str,
        id: &str,
        tags: &[Tag],
        document: Value,
        in_region: bool,
    ) -> Result<(), Failure> {
        self.status.object();
        self.reported += 1;
        let resource =
            Resource { kind, id: id.to_owned(), name: name(tags, id), labels: labels(tags), document, in_region };
        self.send(Event::Resource { account: Arc::clone(&self.account), region: Arc::clone(&self.region), resource })
            .await
    }

    async fn send(&self, event: Event) -> Result<(), Failure> {
        self.events.send(event).await.map_err(|_closed| Failure::Closed)
    }

    fn listed(&mut self, kind: &'static str) {
        let first = self.listed.insert(kind);
        self.status.listed(first);
    }
}

fn failed(call: &str, error: impl std::error::Error) -> Failure {
    Failure::Call(format!("ec2:{call}: {}", DisplayErrorContext(error)))
}
