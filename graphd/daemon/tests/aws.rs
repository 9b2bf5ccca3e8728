//! The AWS scraper against moto (a local EC2 and STS endpoint): two accounts (the second
//! reached by assuming a role), two regions, networks, security groups that reference each
//! other, tagged instances and attached volumes; then what a rescrape does when an instance is
//! terminated and when a region fails; and the links between Kubernetes and EC2.

use aws_sdk_ec2::types::{IpPermission, ResourceType, Tag, TagSpecification, UserIdGroupPair};
mod http;
mod support;

use graphd::scrape::Scrapers;
use graphd::GraphStore;
use graphd_core::scrape::{Mode, StatusSnapshot};
use graphd_core::{ExternalKey, Health, Item};
use graphd_moto::{Moto, RegionBlocker, DEFAULT_ACCOUNT};
use graphd_scrape_aws::AwsSource;
use serde_json::json;
use std::collections::BTreeSet;
use std::sync::Arc;
use support::{graphd, open, text};

const SECOND_ACCOUNT: &str = "111111111111";

/// What one region of the estate was built with.
#[derive(Debug, Clone)]
struct RegionEstate {
    vpc: String,
    subnet: String,
    web_group: String,
    db_group: String,
    image: String,
    instance: String,
    volume: String,
}

/// A VPC with a subnet, a `db` security group that admits the `web` one, an instance named
/// `name` in the subnet and the web group, tagged as a node of EKS cluster `prod`, and a data
/// volume attached to it.
async fn build_region(ec2: &aws_sdk_ec2::Client, name: &str) -> RegionEstate {
    let vpc = ec2.create_vpc().cidr_block("10.0.0.0/16").send().await.unwrap();
    let vpc = vpc.vpc().unwrap().vpc_id().unwrap().to_owned();
    let subnet = ec2.create_subnet().vpc_id(&vpc).cidr_block("10.0.1.0/24").send().await.unwrap();
    let subnet = subnet.subnet().unwrap().clone();
    let group = |group_name: &'static str| {
        let call = ec2.create_security_group().group_name(group_name).description(group_name).vpc_id(&vpc);
        async move { call.send().await.unwrap().group_id().unwrap().to_owned() }
    };
    let (web_group, db_group) = (group("web").await, group("db").await);
    let from_web = UserIdGroupPair::builder().group_id(&web_group).build();
    let postgres =
        IpPermission::builder().ip_protocol("tcp").from_port(5432).to_port(5432).user_id_group_pairs(from_web);
    ec2.authorize_security_group_ingress().group_id(&db_group).ip_permissions(postgres.build()).send().await.unwrap();
    let images = ec2.describe_images().owners("amazon").send().await.unwrap();
    let image = images.images().first().and_then(|i| i.image_id()).expect("moto has Amazon images").to_owned();
    let tags = TagSpecification::builder()
        .resource_type(ResourceType::Instance)
        .tags(Tag::builder().key("Name").value(name).build())
        .tags(Tag::builder().key("eks:cluster-name").value("prod").build())
        .build();
    let run = ec2
        .run_instances()
        .image_id(&image)
        .instance_type(aws_sdk_ec2::types::InstanceType::T3Micro)
        .min_count(1)
        .max_count(1)
        .subnet_id(subnet.subnet_id().unwrap())
        .security_group_ids(&web_group)
        .tag_specifications(tags)
        .send()
        .await
        .unwrap();
    let instance = run.instances()[0].instance_id().unwrap().to_owned();
    let zone = subnet.availability_zone().unwrap();
    let volume = ec2.create_volume().availability_zone(zone).size(20).send().await.unwrap();
    let volume = volume.volume_id().unwrap().to_owned();
    ec2.attach_volume().volume_id(&volume).instance_id(&instance).device("/dev/sdf").send().await.unwrap();
    let subnet = subnet.subnet_id().unwrap().to_owned();
    RegionEstate { vpc, subnet, web_group, db_group, image, instance, volume }
}

/// `main`: the default account in two regions; `second`: another account, reached by
/// assuming a role in it.
fn sources(endpoint: &str) -> graphd::config::Scrapers {
    let main = AwsSource {
        regions: vec!["us-east-1".into(), "eu-west-1".into()],
        endpoint_url: Some(endpoint.to_owned()),
        max_attempts: 2,
        ..AwsSource::new("main")
    };
    let second = AwsSource {
        role_arn: Some(format!("arn:aws:iam::{SECOND_ACCOUNT}:role/graphd-reader")),
        external_id: Some("graphd".into()),
        regions: vec!["us-east-1".into()],
        endpoint_url: Some(endpoint.to_owned()),
        ..AwsSource::new("second")
    };
    graphd::config::Scrapers { aws: vec![main, second], ..Default::default() }
}

/// Scrapes every source once; returns each row of the status board by name.
async fn scrape_once(store: &Arc<GraphStore>, config: &graphd::config::Scrapers) -> Vec<(String, StatusSnapshot)> {
    let scrapers = Scrapers::start(Arc::clone(store), config, Mode::Once);
    let board = Arc::clone(&scrapers.handles.board);
    let report = scrapers.finish().await.unwrap();
    assert_eq!(report.skipped, 0, "{report:?}");
    board.rows().into_iter().map(|row| (row.name, row.status.snapshot())).collect()
}

fn item(store: &GraphStore, account: &str, region: &str, id: &str) -> Option<Item> {
    store.read().get_by_key(&ExternalKey::aws(account, region, id), true).unwrap()
}

fn alive(store: &GraphStore, account: &str, region: &str, id: &str) -> Item {
    let item = item(store, account, region, id).unwrap_or_else(|| panic!("{id} in {account}/{region} is stored"));
    assert!(!item.is_deleted(), "{id} in {account}/{region} is alive");
    item
}

/// (kind, name) of every ancestor of `item`.
fn walk_up(store: &GraphStore, item: &Item) -> BTreeSet<(String, String)> {
    let reader = store.read();
    let walk = reader.walk_up(item.id, false).unwrap();
    walk.nodes
        .iter()
        .filter(|n| n.id != item.id)
        .map(|n| {
            let ancestor = reader.get(n.id, false).unwrap().unwrap();
            (ancestor.kind.to_string(), ancestor.name)
        })
        .collect()
}

/// (relation, kind, name) of every live edge out of `item`.
fn edges_out(store: &GraphStore, item: &Item) -> BTreeSet<(String, String, String)> {
    let reader = store.read();
    let edges = reader.edges(item.id, true, false).unwrap();
    edges
        .into_iter()
        .map(|e| {
            let to = reader.get(e.to, false).unwrap().unwrap();
            (e.relation, to.kind.to_string(), to.name)
        })
        .collect()
}

fn pair(kind: &str, name: &str) -> (String, String) {
    (kind.to_owned(), name.to_owned())
}

fn edge(relation: &str, kind: &str, name: &str) -> (String, String, String) {
    (relation.to_owned(), kind.to_owned(), name.to_owned())
}

fn row<'a>(rows: &'a [(String, StatusSnapshot)], name: &str) -> &'a StatusSnapshot {
    rows.iter().find(|(n, _)| n == name).map(|(_, s)| s).unwrap_or_else(|| panic!("no status row {name}: {rows:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_accounts_and_two_regions_are_scraped_linked_and_kept_up_to_date() {
    let moto = Moto::start();
    let blocker = RegionBlocker::start(moto.addr).await;
    let east = build_region(&moto.ec2(DEFAULT_ACCOUNT, "us-east-1").await, "web-east").await;
    let west = build_region(&moto.ec2(DEFAULT_ACCOUNT, "eu-west-1").await, "web-west").await;
    let second = build_region(&moto.ec2(SECOND_ACCOUNT, "us-east-1").await, "web-second").await;
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let config = sources(&blocker.url());

    let rows = scrape_once(&store, &config).await;
    for name in ["main", "main/us-east-1", "main/eu-west-1", "second", "second/us-east-1"] {
        let status = row(&rows, name);
        assert_eq!((status.errors, status.syncing), (0, 0), "{name}: {status:?}");
        assert!(status.last_sync_ms.is_some(), "{name}: {status:?}");
    }
    assert!(row(&rows, "main/us-east-1").objects >= 7, "{rows:?}");

    // The instance: named by its Name tag, tags as labels, healthy because it runs.
    let instance = alive(&store, DEFAULT_ACCOUNT, "us-east-1", &east.instance);
    assert_eq!(instance.kind.as_str(), "AWS::EC2::Instance");
    assert_eq!(instance.name, "web-east");
    assert_eq!(instance.labels.get("eks:cluster-name").map(String::as_str), Some("prod"));
    assert_eq!(instance.scope.account.as_deref(), Some(DEFAULT_ACCOUNT));
    assert_eq!(instance.scope.region.as_deref(), Some("us-east-1"));
    assert_eq!((instance.health, instance.status.as_str(), instance.ready), (Health::Healthy, "running", true));

    // Walk-up: subnet → VPC → region → account.
    let ancestors = walk_up(&store, &instance);
    for expected in [
        pair("AWS::EC2::Subnet", &east.subnet),
        pair("AWS::EC2::VPC", &east.vpc),
        pair("AWS::Region", "us-east-1"),
        pair("AWS::Account", DEFAULT_ACCOUNT),
    ] {
        assert!(ancestors.contains(&expected), "walk-up reaches {expected:?}: {ancestors:?}");
    }
    // What it uses: its security group, its image, its volume, its network interface.
    let uses = edges_out(&store, &instance);
    assert!(uses.contains(&edge("uses", "AWS::EC2::SecurityGroup", &east.web_group)), "{uses:?}");
    assert!(uses.contains(&edge("uses", "AWS::EC2::Image", &east.image)), "{uses:?}");
    assert!(uses.contains(&edge("mounts", "AWS::EC2::Volume", &east.volume)), "{uses:?}");
    assert!(uses.iter().any(|(rel, kind, _)| rel == "uses" && kind == "AWS::EC2::NetworkInterface"), "{uses:?}");
    // Group-to-group references.
    let db = alive(&store, DEFAULT_ACCOUNT, "us-east-1", &east.db_group);
    let db_edges = edges_out(&store, &db);
    assert!(db_edges.contains(&edge("uses", "AWS::EC2::SecurityGroup", &east.web_group)), "{db_edges:?}");
    assert!(db_edges.contains(&edge("member-of", "AWS::EC2::VPC", &east.vpc)), "{db_edges:?}");
    let volume = alive(&store, DEFAULT_ACCOUNT, "us-east-1", &east.volume);
    assert_eq!((volume.health, volume.status.as_str()), (Health::Healthy, "in-use"));
    assert!(walk_up(&store, &volume).contains(&pair("AWS::Account", DEFAULT_ACCOUNT)));
    // The other region and the other account, each in its own scope.
    alive(&store, DEFAULT_ACCOUNT, "eu-west-1", &west.instance);
    let other = alive(&store, SECOND_ACCOUNT, "us-east-1", &second.instance);
    assert!(walk_up(&store, &other).contains(&pair("AWS::Account", SECOND_ACCOUNT)));
    assert!(item(&store, DEFAULT_ACCOUNT, "us-east-1", &second.instance).is_none(), "accounts are not mixed up");

    // A terminated instance is gone at the next scrape; what it left attached stays.
    let east_ec2 = moto.ec2(DEFAULT_ACCOUNT, "us-east-1").await;
    east_ec2.terminate_instances().instance_ids(&east.instance).send().await.unwrap();
    // And one in the other account is stopped: a change of its state.
    let second_ec2 = moto.ec2(SECOND_ACCOUNT, "us-east-1").await;
    second_ec2.stop_instances().instance_ids(&second.instance).send().await.unwrap();
    scrape_once(&store, &config).await;
    let stopped = alive(&store, SECOND_ACCOUNT, "us-east-1", &second.instance);
    let filter = graphd_store::query::ChangeFilter {
        types: vec![graphd_core::ChangeType::StateChanged],
        ..graphd_store::query::ChangeFilter::newest(10)
    };
    let state_changes = store.read().changes(&[stopped.id], &filter).unwrap();
    assert_eq!(state_changes.len(), 1, "{state_changes:?}");
    assert!(state_changes[0].summary.starts_with("State.Name: running → stop"), "{state_changes:?}");
    assert_ne!(stopped.status, "running");
    let terminated = item(&store, DEFAULT_ACCOUNT, "us-east-1", &east.instance).unwrap();
    assert!(terminated.is_deleted(), "a terminated instance is tombstoned");
    alive(&store, DEFAULT_ACCOUNT, "us-east-1", &east.vpc);
    alive(&store, SECOND_ACCOUNT, "us-east-1", &second.instance);

    // A region that fails is reported, and nothing of it is taken for gone, even what the
    // failed scrape would have found gone.
    moto.ec2(DEFAULT_ACCOUNT, "eu-west-1")
        .await
        .terminate_instances()
        .instance_ids(&west.instance)
        .send()
        .await
        .unwrap();
    blocker.block("eu-west-1");
    let rows = scrape_once(&store, &config).await;
    let failed = row(&rows, "main/eu-west-1");
    assert!(failed.errors >= 1, "{failed:?}");
    let error = failed.last_error.as_deref().unwrap_or_default();
    assert!(error.contains("eu-west-1") && error.contains("UnauthorizedOperation"), "{error}");
    assert_eq!(row(&rows, "main/us-east-1").errors, 0, "the other region is not held up");
    alive(&store, DEFAULT_ACCOUNT, "eu-west-1", &west.instance);
    alive(&store, DEFAULT_ACCOUNT, "eu-west-1", &west.volume);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubernetes_nodes_and_volumes_link_to_their_instances_in_either_order() {
    let moto = Moto::start();
    let east = build_region(&moto.ec2(DEFAULT_ACCOUNT, "us-east-1").await, "node-1").await;
    let objects = vec![
        json!({"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": "ip-10-0-1-5", "uid": "node-uid"},
            "spec": {"providerID": format!("aws:///us-east-1a/{}", east.instance)}}),
        json!({"apiVersion": "v1", "kind": "PersistentVolume",
            "metadata": {"name": "pv-data", "uid": "pv-uid"},
            "spec": {"csi": {"driver": "ebs.csi.aws.com", "volumeHandle": east.volume}}}),
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop", "uid": "ns-uid"}}),
        json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "checkout-0", "namespace": "shop", "uid": "pod-uid"},
            "spec": {"nodeName": "ip-10-0-1-5", "containers": [{"name": "app", "image": "shop/checkout:1"}]},
            "status": {"phase": "Running"}}),
    ];
    let config = graphd::config::Scrapers {
        aws: vec![AwsSource {
            regions: vec!["us-east-1".into()],
            endpoint_url: Some(moto.url()),
            ..AwsSource::new("main")
        }],
        ..Default::default()
    };
    let dir = tempfile::tempdir().unwrap();
    for kubernetes_first in [true, false] {
        let store = open(&dir.path().join(format!("kubernetes-first-{kubernetes_first}")));
        let import = || graphd::import::import(&store, "prod", &objects, |_, _| {}).unwrap();
        if kubernetes_first {
            import();
            scrape_once(&store, &config).await;
        } else {
            scrape_once(&store, &config).await;
            import();
        }
        let reader = store.read();
        let by_uid = |uid: &str| reader.get_by_key(&ExternalKey::kubernetes("prod", uid), false).unwrap().unwrap();
        let node_edges = edges_out(&store, &by_uid("node-uid"));
        assert!(node_edges.contains(&edge("runs-on", "AWS::EC2::Instance", "node-1")), "{node_edges:?}");
        let pv_edges = edges_out(&store, &by_uid("pv-uid"));
        assert!(pv_edges.contains(&edge("backed-by", "AWS::EC2::Volume", &east.volume)), "{pv_edges:?}");
        let ancestors = walk_up(&store, &by_uid("pod-uid"));
        for expected in [
            pair("Kubernetes::Node", "ip-10-0-1-5"),
            pair("AWS::EC2::Instance", "node-1"),
            pair("AWS::EC2::Subnet", &east.subnet),
            pair("AWS::EC2::VPC", &east.vpc),
            pair("AWS::Account", DEFAULT_ACCOUNT),
            pair("Kubernetes::Namespace", "shop"),
        ] {
            assert!(
                ancestors.contains(&expected),
                "kubernetes first: {kubernetes_first}: {expected:?} in {ancestors:?}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graphd_serve_scrapes_an_account_and_rescrapes_it_on_request() {
    let moto = Moto::start();
    let ec2 = moto.ec2(DEFAULT_ACCOUNT, "us-east-1").await;
    let first = build_region(&ec2, "first").await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("graphd.yaml");
    let yaml = format!(
        "data_dir: data\nlisten: 127.0.0.1:0\nmetrics_listen: 127.0.0.1:0\nscrapers:\n  aws:\n    - name: main\n      regions: [us-east-1]\n      \
         endpoint_url: {}\n      interval_secs: 3600\n",
        moto.url()
    );
    std::fs::write(&config, yaml).unwrap();
    let mut server = std::process::Command::new(env!("CARGO_BIN_EXE_graphd"))
        .args(["serve", "--config", &config.display().to_string()])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("start graphd serve");
    let stdout = server.stdout.take().unwrap();
    let read_two_lines = move || {
        let mut lines = std::io::BufRead::lines(std::io::BufReader::new(stdout));
        (lines.next().unwrap().unwrap(), lines.next().unwrap().unwrap())
    };
    let (first_line, second_line) = tokio::task::spawn_blocking(read_two_lines).await.unwrap();
    let addr = first_line.strip_prefix("graphd listening on ").unwrap_or_else(|| panic!("{first_line}")).to_owned();
    let metrics_addr = second_line.strip_prefix("metrics on http://").and_then(|a| a.strip_suffix("/metrics"));
    let metrics_addr = metrics_addr.unwrap_or_else(|| panic!("{second_line}")).to_owned();

    // `get` of an instance id until it is there, for at most 30 s.
    let found = |id: String| {
        let addr = addr.clone();
        async move {
            let started = std::time::Instant::now();
            loop {
                let out = graphd(&["query", "--addr", &addr, "get", &id, "-o", "json"]).await;
                if out.status.success() {
                    return serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap();
                }
                assert!(started.elapsed().as_secs() < 30, "{id} never appeared: {}", text(&out.stderr));
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
    };
    let item = found(first.instance.clone()).await;
    assert_eq!(item["name"], "first", "{item}");

    // A new instance shows up at the next scrape: an hour away, unless asked for now.
    let run = ec2.run_instances().image_id(&first.image).min_count(1).max_count(1).subnet_id(&first.subnet);
    let launched = run.send().await.unwrap();
    let second = launched.instances()[0].instance_id().unwrap().to_owned();
    let asked = graphd(&["query", "--addr", &addr, "rescrape", "main"]).await;
    assert!(asked.status.success(), "{}", text(&asked.stderr));
    assert!(text(&asked.stdout).contains("rescrape of main requested"), "{}", text(&asked.stdout));
    found(second).await;
    let unknown = graphd(&["query", "--addr", &addr, "rescrape", "nowhere"]).await;
    assert!(!unknown.status.success());
    assert!(text(&unknown.stderr).contains("no AWS or custom source named \"nowhere\""), "{}", text(&unknown.stderr));

    let statuses = graphd(&["query", "--addr", &addr, "scrapers", "-o", "json"]).await;
    let metrics = tokio::task::spawn_blocking(move || http::get(&metrics_addr, "/metrics")).await.unwrap();
    server.kill().unwrap();
    server.wait().unwrap();
    let statuses: serde_json::Value = serde_json::from_slice(&statuses.stdout).unwrap();
    let names: Vec<&str> =
        statuses["scrapers"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["main", "main/us-east-1"], "{statuses}");
    assert!(statuses["scrapers"][1]["listings"].as_u64().unwrap() >= 2 * 7, "two scrapes of every kind: {statuses}");
    let region_objects = metrics
        .lines()
        .find(|l| l.starts_with("graphd_scraper_objects_total") && l.contains("name=\"main/us-east-1\""))
        .unwrap_or_else(|| panic!("no objects counter for main/us-east-1:\n{metrics}"));
    assert!(region_objects.contains("scraper=\"aws\""), "{region_objects}");
    let count: f64 = region_objects.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(count >= 14.0, "two scrapes' resources: {region_objects}");
}
