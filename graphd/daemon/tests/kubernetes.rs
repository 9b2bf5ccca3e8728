//! The Kubernetes scraper against a local API server that speaks the real list/watch protocol,
//! loaded with real objects: kube-rs connects to it through an ordinary kubeconfig.

mod http;
mod support;

use graphd::scrape::Scrapers;
use graphd::GraphStore;
use graphd_core::scrape::Mode;
use graphd_kube_testserver::TestApiServer;
use graphd_scrape_kubernetes::KubernetesSource;
use graphd_store::query::ListQuery;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::{fixture, graph_of, graphd, open, text};

/// A kubeconfig for `server` in `dir`, and the source that scrapes it as `cluster`.
/// A configuration that scrapes `sources` and nothing else.
fn clusters(sources: &[KubernetesSource]) -> graphd::config::Scrapers {
    graphd::config::Scrapers { kubernetes: sources.to_vec(), ..Default::default() }
}

fn source_for(server: &TestApiServer, cluster: &str, dir: &Path) -> KubernetesSource {
    let path: PathBuf = dir.join(format!("{cluster}.kubeconfig"));
    std::fs::write(&path, server.kubeconfig(cluster)).unwrap();
    KubernetesSource {
        kubeconfig: Some(path),
        context: Some(cluster.to_owned()),
        rediscover_secs: 1,
        page_size: 50,
        ..KubernetesSource::new(cluster)
    }
}

/// Waits until `check` holds, for at most `limit`; returns how long it took.
async fn eventually(limit: Duration, what: &str, mut check: impl FnMut() -> bool) -> Duration {
    let started = Instant::now();
    while !check() {
        assert!(started.elapsed() < limit, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    started.elapsed()
}

fn pod(name: &str, node: &str, image: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "default", "uid": format!("uid-{name}")},
        "spec": {"nodeName": node, "containers": [{"name": "app", "image": image}]},
        "status": {"phase": "Running"}
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_listing_gives_the_graph_of_an_import_of_the_same_objects() {
    let list = fixture("k3s-troubleshoot-real-snapshot.json");
    let server = TestApiServer::start().await;
    server.set_page_size_cap(40);
    server.load_list(&list);
    let dir = tempfile::tempdir().unwrap();

    let scraped = open(&dir.path().join("scraped"));
    let source = source_for(&server, "k3s", dir.path());
    let report = Scrapers::start(Arc::clone(&scraped), &clusters(&[source]), Mode::Once).finish().await.unwrap();
    assert_eq!(report.skipped, 0);
    assert!(server.requests().iter().any(|r| r.contains("continue=")), "listings were paged");

    let imported = open(&dir.path().join("imported"));
    let objects = graphd::import::parse_objects(&list.to_string()).unwrap();
    graphd::import::import(&imported, "k3s", &objects, |_, _| {}).unwrap();

    let (scraped_nodes, scraped_edges) = graph_of(&scraped, "k3s");
    let (imported_nodes, imported_edges) = graph_of(&imported, "k3s");
    assert_eq!(scraped_nodes, imported_nodes);
    assert_eq!(scraped_edges, imported_edges);
    assert!(scraped_edges.len() > 500, "a real graph: {} edges", scraped_edges.len());

    // Health from the rules: the fixture's crash-looping backend and its Deployment.
    let named = |kind: &str, name: &str| {
        let query = graphd_store::query::NameQuery {
            kind: graphd_core::Kind::new(kind).unwrap(),
            name: name.to_owned(),
            namespace: None,
            cluster: Some("k3s".into()),
        };
        scraped.read().find_by_name(&query, false).unwrap().remove(0)
    };
    let deployment = named("Kubernetes::Deployment", "backend-api");
    assert_eq!((deployment.health, deployment.ready), (graphd_core::Health::Unhealthy, false));
    let coredns = named("Kubernetes::Deployment", "coredns");
    assert_eq!((coredns.health, coredns.ready), (graphd_core::Health::Healthy, true));
    let node = scraped.read().list(&ListQuery {
        kind: Some(graphd_core::Kind::new("Kubernetes::Node").unwrap()),
        limit: 10,
        ..Default::default()
    });
    assert!(node.unwrap().items.iter().all(|n| n.health == graphd_core::Health::Healthy));
}

/// OLM serves ClusterServiceVersions only at `operators.coreos.com/v1alpha1`, in a group whose
/// preferred version is `v1`: they are scraped all the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kind_served_only_at_a_version_the_group_does_not_prefer_is_scraped() {
    let list = fixture("openshift-vsphere-mustgather-monitoring-pv.json");
    let server = TestApiServer::start().await;
    server.load_list(&list);
    let dir = tempfile::tempdir().unwrap();
    let scraped = open(&dir.path().join("scraped"));
    let source = source_for(&server, "ocp", dir.path());
    Scrapers::start(Arc::clone(&scraped), &clusters(&[source]), Mode::Once).finish().await.unwrap();
    let imported = open(&dir.path().join("imported"));
    graphd::import::import(&imported, "ocp", &graphd::import::parse_objects(&list.to_string()).unwrap(), |_, _| {})
        .unwrap();
    let (scraped, imported) = (graph_of(&scraped, "ocp"), graph_of(&imported, "ocp"));
    let csv = |(kind, _, _): &&support::Node| kind == "Kubernetes::ClusterServiceVersion";
    assert_eq!(scraped.0.iter().filter(csv).count(), 2, "both CSVs of the fixture");
    assert_eq!(scraped, imported);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watching_follows_changes_through_expiry_and_dropped_connections() {
    let server = TestApiServer::start().await;
    server.load_list(&fixture("k3s-troubleshoot-real-snapshot.json"));
    let secret_value = "c3VwZXItc2VjcmV0LXZhbHVlLTQyNDI0Mg=="; // "super-secret-value-424242"
    server.apply(json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "db-password", "namespace": "default", "uid": "uid-secret"},
        "data": {"password": secret_value}, "stringData": {"plain": "super-secret-plain-424242"}
    }));
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let store = open(&data);
    let scrapers =
        Scrapers::start(Arc::clone(&store), &clusters(&[source_for(&server, "k3s", dir.path())]), Mode::Watch);
    let status = Arc::clone(&scrapers.handles.board.rows()[0].status);
    let synced = || status.snapshot().last_sync_ms.is_some();
    eventually(Duration::from_secs(30), "first sync", synced).await;

    // (namespace, name) of every live pod.
    let pods = |store: &GraphStore| -> BTreeSet<(String, String)> {
        let query = ListQuery {
            kind: Some(graphd_core::Kind::new("Kubernetes::Pod").unwrap()),
            limit: usize::MAX,
            ..Default::default()
        };
        let items = store.read().list(&query).unwrap().items;
        items.into_iter().map(|i| (i.namespace.unwrap_or_default(), i.name)).collect()
    };
    let web = |name: &str| ("default".to_owned(), name.to_owned());
    // The status says listed when the objects are on their way; the store has them a moment later.
    eventually(Duration::from_secs(10), "the fixture's 13 pods stored", || pods(&store).len() == 13).await;
    let before = pods(&store);

    // Added, modified, deleted: each shows up while the watch runs.
    server.apply(pod("web-1", "missing-node", "nginx:1"));
    let took = eventually(Duration::from_secs(10), "added pod", || pods(&store).contains(&web("web-1"))).await;
    eprintln!("an added pod was in the store after {took:?}");
    server.apply(pod("web-1", "missing-node", "nginx:2"));
    let image = |store: &GraphStore| {
        let item = store.read().find_by_short_id("uid-web-1", false).unwrap();
        item.first()
            .and_then(|i| store.read().document(i.id).unwrap())
            .map(|d| d["spec"]["containers"][0]["image"].clone())
    };
    eventually(Duration::from_secs(10), "modified pod", || image(&store) == Some(json!("nginx:2"))).await;
    let victim = before.iter().next().unwrap().clone();
    assert!(server.delete("v1", "Pod", Some(&victim.0), &victim.1), "{victim:?} is a pod of the fixture");
    eventually(Duration::from_secs(10), "deleted pod", || !pods(&store).contains(&victim)).await;

    // History expires and connections drop; what changed meanwhile is found by the re-list.
    let listings = status.snapshot().listings;
    server.refuse(true);
    server.drop_connections();
    server.compact();
    server.apply(pod("web-2", "missing-node", "nginx:1"));
    assert!(server.delete("v1", "Pod", Some("default"), "web-1"));
    server.compact();
    server.refuse(false);
    eventually(Duration::from_secs(30), "re-list after 410", || status.snapshot().listings > listings).await;
    let mut expected = before.clone();
    expected.remove(&victim);
    expected.insert(web("web-2"));
    eventually(Duration::from_secs(10), "the graph after the gap", || pods(&store) == expected).await;

    // A CRD appears: discovered again and scraped without a restart.
    server.add_resource("example.com", "v1", "Widget", "widgets", true);
    server.apply(json!({
        "apiVersion": "example.com/v1", "kind": "Widget",
        "metadata": {"name": "w1", "namespace": "default", "uid": "uid-w1"}
    }));
    eventually(Duration::from_secs(15), "the new CRD's object", || {
        !store.read().find_by_short_id("uid-w1", false).unwrap().is_empty()
    })
    .await;

    // The Secret is in the graph, its values nowhere: not in its document, not in a file.
    let secret = store.read().find_by_short_id("uid-secret", false).unwrap();
    let document = store.read().document(secret[0].id).unwrap().unwrap();
    assert!(document.get("data").is_none() && document.get("stringData").is_none(), "{document}");
    scrapers.stop().await.unwrap();
    drop(store);
    for needle in [secret_value, "super-secret-value-424242", "super-secret-plain-424242"] {
        assert_eq!(files_containing(&data, needle.as_bytes()), Vec::<PathBuf>::new(), "{needle} leaked");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_that_refuses_connections_does_not_stop_the_other() {
    let healthy = TestApiServer::start().await;
    healthy.load_list(&fixture("openshift-vsphere-mustgather-monitoring-pv.json"));
    let broken = TestApiServer::start().await;
    broken.refuse(true);
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir.path().join("data"));
    let sources = [source_for(&broken, "broken", dir.path()), source_for(&healthy, "openshift", dir.path())];
    let report = Scrapers::start(Arc::clone(&store), &clusters(&sources), Mode::Once).finish().await.unwrap();
    assert!(report.objects > 200, "{report:?}");
    let (nodes, _) = graph_of(&store, "openshift");
    assert!(nodes.iter().any(|(kind, _, _)| kind == "Kubernetes::StatefulSet"), "{nodes:?}");
    assert!(graph_of(&store, "broken").0.is_empty());
}

/// Files under `dir` whose bytes contain `needle`.
fn files_containing(dir: &Path, needle: &[u8]) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(files_containing(&path, needle));
        } else if std::fs::read(&path).unwrap().windows(needle.len()).any(|w| w == needle) {
            found.push(path);
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graphd_scrape_once_and_serve_report_each_cluster() {
    let k3s = TestApiServer::start().await;
    k3s.load_list(&fixture("k3s-troubleshoot-real-snapshot.json"));
    let broken = TestApiServer::start().await;
    broken.refuse(true);
    let dir = tempfile::tempdir().unwrap();
    for (server, name) in [(&k3s, "k3s"), (&broken, "broken")] {
        std::fs::write(dir.path().join(format!("{name}.kubeconfig")), server.kubeconfig(name)).unwrap();
    }
    let config = dir.path().join("graphd.yaml");
    std::fs::write(
        &config,
        "data_dir: data\nlisten: 127.0.0.1:0\nmetrics_listen: 127.0.0.1:0\nscrapers:\n  kubernetes:\n    \
         - {name: k3s, kubeconfig: k3s.kubeconfig}\n    \
         - {name: broken, kubeconfig: broken.kubeconfig, context: broken}\n",
    )
    .unwrap();
    let config = config.display().to_string();

    // Once: everything k3s has is stored; the run fails, naming the cluster it could not list.
    let once = graphd(&["scrape", "--once", "--config", &config]).await;
    let (stdout, stderr) = (text(&once.stdout), text(&once.stderr));
    assert!(!once.status.success(), "a cluster was not listed: {stdout}");
    assert!(stderr.contains("not every resource of broken could be listed"), "{stderr}");
    let k3s_row = stdout.lines().find(|l| l.starts_with("kubernetes  k3s ")).unwrap_or_else(|| panic!("{stdout}"));
    assert_eq!(k3s_row.split_whitespace().nth(3), Some("476"), "every object of the fixture: {stdout}");
    let data = dir.path().join("data").display().to_string();
    let list = graphd(&["--data-dir", &data, "query", "list", "--kind", "pod", "--cluster", "k3s", "-o", "json"]).await;
    let list: Value = serde_json::from_slice(&list.stdout).unwrap_or_else(|_| panic!("{}", text(&list.stderr)));
    assert_eq!(list["items"].as_array().unwrap().len(), 13, "the fixture's pods");

    // Served: the same scrapers run live, and `query scrapers` shows each cluster's state.
    let mut server = std::process::Command::new(env!("CARGO_BIN_EXE_graphd"))
        .args(["serve", "--config", &config])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("start graphd serve");
    let stdout = server.stdout.take().unwrap();
    let (first, second) = tokio::task::spawn_blocking(move || {
        let mut lines = std::io::BufRead::lines(std::io::BufReader::new(stdout));
        (lines.next().unwrap().unwrap(), lines.next().unwrap().unwrap())
    })
    .await
    .unwrap();
    let addr = first.strip_prefix("graphd listening on ").unwrap_or_else(|| panic!("{first}")).to_owned();
    let metrics_addr = second
        .strip_prefix("metrics on http://")
        .and_then(|a| a.strip_suffix("/metrics"))
        .unwrap_or_else(|| panic!("{second}"))
        .to_owned();
    let query = |output: &str| graphd(&["query", "--addr", &addr, "scrapers", "-o", output]);
    let started = Instant::now();
    let statuses = loop {
        let out = query("json").await;
        let statuses: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("{}", text(&out.stderr)));
        if statuses["scrapers"][0]["last_sync_at"].as_u64().unwrap_or(0) > 0 {
            break statuses;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "k3s never synced: {statuses}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let table = text(&query("table").await.stdout);
    let metrics = tokio::task::spawn_blocking(move || http::get(&metrics_addr, "/metrics")).await.unwrap();
    server.kill().unwrap();
    server.wait().unwrap();
    let [k3s_status, broken_status] = [&statuses["scrapers"][0], &statuses["scrapers"][1]];
    assert_eq!((k3s_status["scraper"].as_str(), k3s_status["name"].as_str()), (Some("kubernetes"), Some("k3s")));
    assert_eq!(k3s_status["syncing"], 0, "{statuses}");
    assert!(k3s_status["objects"].as_u64().unwrap() >= 476, "{statuses}");
    assert_eq!(broken_status["name"], "broken");
    assert_eq!(broken_status["last_sync_at"], 0, "{statuses}");
    assert!(broken_status["errors"].as_u64().unwrap() > 0, "{statuses}");
    assert!(broken_status["last_error"].as_str().unwrap().contains("refusing"), "{statuses}");
    let k3s_line = table.lines().find(|l| l.contains(" k3s ")).unwrap_or_else(|| panic!("{table}"));
    assert!(k3s_line.starts_with("kubernetes") && !k3s_line.contains("never"), "{table}");
    let broken_line = table.lines().find(|l| l.contains(" broken ")).unwrap_or_else(|| panic!("{table}"));
    assert!(broken_line.contains("never") && broken_line.contains("refusing"), "{table}");

    let sample = |name: &str, cluster: &str| -> f64 {
        let line = metrics.lines().find(|l| l.starts_with(name) && l.contains(&format!("name=\"{cluster}\"")));
        let line = line.unwrap_or_else(|| panic!("no {name} for {cluster} in:\n{metrics}"));
        line.rsplit(' ').next().unwrap().parse().unwrap()
    };
    assert!(sample("graphd_scraper_objects_total", "k3s") >= 476.0, "{metrics}");
    assert_eq!(sample("graphd_scraper_syncing", "k3s"), 0.0);
    assert!(sample("graphd_scraper_last_sync_timestamp_seconds", "k3s") > 1.7e9);
    assert!(sample("graphd_scraper_errors_total", "broken") >= 1.0);
    assert_eq!(sample("graphd_scraper_last_sync_timestamp_seconds", "broken"), 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kinds_named_alike_in_two_groups_are_both_kept_and_events_are_read_once() {
    let server = TestApiServer::start().await;
    server.load_list(&fixture("k3s-troubleshoot-real-snapshot.json"));
    for group in ["a.example.com", "b.example.com"] {
        server.add_resource(group, "v1", "Widget", "widgets", true);
        server.apply(json!({
            "apiVersion": format!("{group}/v1"), "kind": "Widget",
            "metadata": {"name": "w", "namespace": "default", "uid": format!("uid-{group}")}
        }));
    }
    // The same Events again, through the newer API: a second view, not more objects.
    server.add_resource("events.k8s.io", "v1", "Event", "events", true);
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir.path().join("data"));
    let source = source_for(&server, "k3s", dir.path());
    let report = Scrapers::start(Arc::clone(&store), &clusters(&[source]), Mode::Once).finish().await.unwrap();

    assert_eq!(report.gone_at_resync, 0, "one group's listing tombstoned nothing of the other's");
    for uid in ["uid-a.example.com", "uid-b.example.com"] {
        assert_eq!(store.read().find_by_short_id(uid, false).unwrap().len(), 1, "{uid}");
    }
    let events_k8s_io = server.requests().into_iter().filter(|r| r.contains("/apis/events.k8s.io/v1/events")).count();
    assert_eq!(events_k8s_io, 0, "events.k8s.io is not listed beside core Events");
    assert!(server.requests().iter().any(|r| r.contains("/api/v1/events")), "core Events are");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_object_is_counted_and_skipped_and_its_deletion_harms_nothing() {
    let server = TestApiServer::start().await;
    server.add_resource("example.com", "v1", "9Lives", "ninelives", true);
    let bad = json!({"apiVersion": "example.com/v1", "kind": "9Lives",
        "metadata": {"name": "b", "namespace": "default", "uid": "uid-bad"}});
    server.apply(bad);
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir.path().join("data"));
    let scrapers =
        Scrapers::start(Arc::clone(&store), &clusters(&[source_for(&server, "k3s", dir.path())]), Mode::Watch);
    let status = Arc::clone(&scrapers.handles.board.rows()[0].status);
    eventually(Duration::from_secs(30), "first sync", || status.snapshot().last_sync_ms.is_some()).await;

    // Its deletion reaches the sink in a batch with a good Pod: the Pod must land.
    assert!(server.delete("example.com/v1", "9Lives", Some("default"), "b"));
    server.apply(pod("after", "n1", "nginx:1"));
    let stored = || !store.read().find_by_short_id("uid-after", false).unwrap().is_empty();
    eventually(Duration::from_secs(10), "the pod after the deletion", stored).await;
    let report = scrapers.stop().await.unwrap();
    assert_eq!(report.skipped, 1, "{report:?}");
    let (object, reason) = report.last_skipped.unwrap();
    assert!(object == "9Lives b" && reason.contains("Kubernetes::9Lives"), "{object}: {reason}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_only_reports_its_heartbeat_records_no_change() {
    let list = fixture("k3s-troubleshoot-real-snapshot.json");
    let node = list["items"].as_array().unwrap().iter().find(|o| o["kind"] == "Node").unwrap().clone();
    let server = TestApiServer::start().await;
    server.load_list(&list);
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir.path().join("data"));
    let scrapers =
        Scrapers::start(Arc::clone(&store), &clusters(&[source_for(&server, "k3s", dir.path())]), Mode::Watch);
    let uid = node["metadata"]["uid"].as_str().unwrap().to_owned();
    let stored = || store.read().find_by_short_id(&uid, false).unwrap().into_iter().next();
    eventually(Duration::from_secs(30), "the node stored", || stored().is_some()).await;

    // The kubelet's heartbeat: every condition reported again, nothing else different (the
    // server gives the object a new resourceVersion too).
    let beat = |mut node: Value, at: &str| {
        for condition in node["status"]["conditions"].as_array_mut().unwrap() {
            condition["lastHeartbeatTime"] = json!(at);
        }
        node
    };
    server.apply(beat(node.clone(), "2025-09-11T20:51:35Z"));
    server.apply(beat(node.clone(), "2025-09-11T20:52:35Z"));
    // Then it stops being Ready: the same watch, so it arrives after the heartbeats.
    let mut not_ready = beat(node, "2025-09-11T20:53:35Z");
    for condition in not_ready["status"]["conditions"].as_array_mut().unwrap() {
        if condition["type"] == "Ready" {
            condition["status"] = json!("False");
            condition["reason"] = json!("KubeletNotReady");
        }
    }
    server.apply(not_ready);
    let health = || stored().map(|n| n.health);
    eventually(Duration::from_secs(10), "the node not ready", || health() != Some(graphd_core::Health::Healthy)).await;
    scrapers.stop().await.unwrap();

    let node = stored().unwrap();
    let changes = store.read().changes(&[node.id], &graphd_store::query::ChangeFilter::newest(100)).unwrap();
    // (The fixture's Events about the node are changes of it too, of their own type.)
    let changes: Vec<_> = changes.iter().filter(|c| c.change_type != graphd_core::ChangeType::Event).collect();
    let mut types: Vec<&str> = changes.iter().map(|c| c.change_type.as_str()).collect();
    types.sort_unstable();
    assert_eq!(types, ["Created", "HealthChanged", "Updated"], "heartbeats are no change: {changes:?}");
}

#[test]
fn a_new_digest_behind_latest_and_a_rollout_are_changes_of_their_own() {
    let list = fixture("k3s-troubleshoot-real-snapshot.json");
    let objects = list["items"].as_array().unwrap().clone();
    let find = |kind: &str, name: &str| -> Value {
        let found = objects.iter().find(|o| o["kind"] == kind && o["metadata"]["name"] == name);
        found.unwrap_or_else(|| panic!("{kind} {name} in the fixture")).clone()
    };
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let import = |objects: &[Value]| graphd::import::import(&store, "k3s", objects, |_, _| {}).unwrap();
    import(&objects);
    // Change types of an item, with their summaries, oldest first.
    let changes_of = |object: &Value| -> Vec<(String, String)> {
        let uid = object["metadata"]["uid"].as_str().unwrap();
        let item = store.read().get_by_key(&graphd_core::ExternalKey::kubernetes("k3s", uid), false).unwrap().unwrap();
        let mut changes = store.read().changes(&[item.id], &graphd_store::query::ChangeFilter::newest(100)).unwrap();
        changes.reverse();
        changes.into_iter().map(|c| (c.change_type.to_string(), c.summary)).collect()
    };
    let count = |changes: &[(String, String)], wanted: &str| changes.iter().filter(|(t, _)| t == wanted).count();

    // A re-list of the same objects records nothing.
    let pod = find("Pod", "backend-api-75fb46b7bd-xtkrh");
    let before = changes_of(&pod).len();
    import(&objects);
    assert_eq!(changes_of(&pod).len(), before, "{:?}", changes_of(&pod));

    // The Pod runs alpine:latest; the tag now resolves to another digest.
    let mut pulled_again = pod.clone();
    let status = &mut pulled_again["status"]["containerStatuses"][0];
    assert_eq!(status["image"], "docker.io/library/alpine:latest");
    let new_digest = "docker.io/library/alpine@sha256:0000000000000000000000000000000000000000000000000000000000000001";
    status["imageID"] = json!(new_digest);
    import(&[pulled_again]);
    let changes = changes_of(&pod);
    assert_eq!(count(&changes, "ImageDigestChanged"), 1, "{changes:?}");
    let (_, summary) = changes.iter().find(|(t, _)| t == "ImageDigestChanged").unwrap();
    assert!(summary.contains("sha256:4bcff639") && summary.contains(new_digest), "{summary}");
    // The update's JSON Patch says exactly what changed.
    let item = store
        .read()
        .get_by_key(&graphd_core::ExternalKey::kubernetes("k3s", pod["metadata"]["uid"].as_str().unwrap()), false);
    let updated = graphd_store::query::ChangeFilter {
        types: vec![graphd_core::ChangeType::Updated],
        ..graphd_store::query::ChangeFilter::newest(1)
    };
    let update = store.read().changes(&[item.unwrap().unwrap().id], &updated).unwrap().remove(0);
    let patch = json!([{"op": "replace", "path": "/status/containerStatuses/0/imageID", "value": new_digest}]);
    assert_eq!(update.patch, Some(patch));

    // A rollout: a new ReplicaSet scales up while the old one scales down, step by step.
    let deployment = find("Deployment", "cpu-intensive-app");
    let old_rs = find("ReplicaSet", "cpu-intensive-app-7bcfc5d944");
    let mut new_rs = old_rs.clone();
    new_rs["metadata"]["name"] = json!("cpu-intensive-app-5d8f7c9b6a");
    new_rs["metadata"]["uid"] = json!("uid-new-replicaset");
    let replicas = |rs: &Value, n: u32| {
        let mut rs = rs.clone();
        rs["spec"]["replicas"] = json!(n);
        rs
    };
    let mut new_template = deployment.clone();
    new_template["spec"]["template"]["metadata"]["labels"]["rollout"] = json!("2");
    import(&[new_template, replicas(&new_rs, 1)]);
    import(&[replicas(&new_rs, 2), replicas(&old_rs, 2)]);
    import(&[replicas(&new_rs, 3), replicas(&old_rs, 1)]);
    import(&[replicas(&old_rs, 0)]);
    let (old, new, deployment) = (changes_of(&old_rs), changes_of(&new_rs), changes_of(&deployment));
    assert_eq!((count(&old, "ScaledDown"), count(&old, "ScaledUp")), (3, 0), "{old:?}");
    assert_eq!((count(&new, "Created"), count(&new, "ScaledUp"), count(&new, "ScaledDown")), (1, 2, 0), "{new:?}");
    assert!(old.iter().any(|(t, s)| t == "ScaledDown" && s == "spec.replicas: 1 → 0"), "{old:?}");
    assert_eq!(count(&deployment, "Updated"), 1, "the template changed: {deployment:?}");
    assert_eq!(
        count(&deployment, "ScaledUp") + count(&deployment, "ScaledDown"),
        0,
        "its size did not: {deployment:?}"
    );
}

#[test]
fn events_become_changes_of_what_they_are_about_counted_not_repeated() {
    let list = fixture("k3s-troubleshoot-real-snapshot.json");
    let objects = list["items"].as_array().unwrap().clone();
    let (events, others): (Vec<Value>, Vec<Value>) = objects.iter().cloned().partition(|o| o["kind"] == "Event");
    let uid_of = |kind: &str, name: &str| -> String {
        let object = objects.iter().find(|o| o["kind"] == kind && o["metadata"]["name"] == name).unwrap();
        object["metadata"]["uid"].as_str().unwrap().to_owned()
    };
    let about = |uid: &str| events.iter().filter(|e| e["involvedObject"]["uid"] == uid).count();
    let (pod, deployment) = (uid_of("Pod", "backend-api-75fb46b7bd-xtkrh"), uid_of("Deployment", "backend-api"));
    assert!(about(&pod) >= 5 && about(&deployment) >= 1, "the fixture has events about both");
    let dir = tempfile::tempdir().unwrap();
    // The Event changes of the item with `uid`, oldest first.
    let event_changes = |store: &GraphStore, uid: &str| -> Vec<String> {
        let key = graphd_core::ExternalKey::kubernetes("k3s", uid);
        let item = store.read().get_by_key(&key, false).unwrap().unwrap();
        let filter = graphd_store::query::ChangeFilter {
            types: vec![graphd_core::ChangeType::Event],
            ..graphd_store::query::ChangeFilter::newest(1000)
        };
        let mut changes = store.read().changes(&[item.id], &filter).unwrap();
        changes.reverse();
        changes.into_iter().map(|c| c.summary).collect()
    };
    // Events before or after what they are about: the same history.
    let mut stores = Vec::new();
    for events_first in [false, true] {
        let store = open(&dir.path().join(format!("events-first-{events_first}")));
        let (first, second) = if events_first { (&events, &others) } else { (&others, &events) };
        for part in [first, second] {
            graphd::import::import(&store, "k3s", part, |_, _| {}).unwrap();
        }
        for uid in [&pod, &deployment] {
            assert_eq!(event_changes(&store, uid).len(), about(uid), "events first: {events_first}");
        }
        stores.push(store);
    }
    assert_eq!(event_changes(&stores[0], &pod), event_changes(&stores[1], &pod));
    let store = stores.pop().unwrap();
    let summaries = event_changes(&store, &pod);
    assert!(summaries.iter().any(|s| s.starts_with("Warning BackOff ")), "{summaries:?}");

    // The kubelet reports a repeated event again: its count grows, its change is rewritten.
    let repeated =
        events.iter().find(|e| e["involvedObject"]["uid"] == pod.as_str() && e["count"].as_u64() > Some(1)).unwrap();
    let count = repeated["count"].as_u64().unwrap();
    assert!(summaries.iter().any(|s| s.contains(&format!("(×{count}, last "))), "{summaries:?}");
    let mut again = repeated.clone();
    again["count"] = json!(count + 1);
    again["lastTimestamp"] = json!("2025-09-11T21:30:00Z");
    graphd::import::import(&store, "k3s", &[again], |_, _| {}).unwrap();
    let summaries = event_changes(&store, &pod);
    assert_eq!(summaries.len(), about(&pod), "counted, not repeated: {summaries:?}");
    let counted = format!("(×{}, last 2025-09-11T21:30:00Z)", count + 1);
    assert!(summaries.iter().any(|s| s.ends_with(&counted)), "{counted} in {summaries:?}");

    // The Event object expires from the cluster; what it said stays in the Pod's history.
    let event_key = graphd_core::ExternalKey::kubernetes("k3s", repeated["metadata"]["uid"].as_str().unwrap());
    store.apply(&[graphd_store::Op::Delete(event_key)], graphd_core::Timestamp::now(), "test").unwrap();
    assert_eq!(event_changes(&store, &pod).len(), about(&pod));
}
