//! The wire protocol, read byte by byte with the raw client: discovery documents, pages and
//! continue tokens, watch events, bookmarks, 410s, metadata-only answers, cut connections.

use crate::raw::{get, PATIENCE};
use crate::{fixture, pod};
use graphd_kube_testserver::{Options, TestApiServer};
use serde_json::{json, Value};
use std::time::Duration;
use tokio::time::timeout;

const KUBE_AGGREGATED: &str = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json";
const METADATA_LIST: &str = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1";
const METADATA: &str = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1";

async fn get_json(server: &TestApiServer, path: &str) -> (u16, Value) {
    let response = get(&server.url(), path, None).await;
    (response.status, response.json().await)
}

fn names(list: &Value) -> Vec<String> {
    list["items"].as_array().unwrap().iter().map(|i| i["metadata"]["name"].as_str().unwrap().to_string()).collect()
}

#[tokio::test]
async fn discovery_documents() {
    let server = TestApiServer::start().await;
    server.load_list(&fixture("k3s-troubleshoot-real-snapshot.json"));

    let (code, version) = get_json(&server, "/version").await;
    assert_eq!((code, version["major"].as_str()), (200, Some("1")));
    let (_, api) = get_json(&server, "/api").await;
    assert_eq!(api["versions"], json!(["v1"]));

    let (_, core) = get_json(&server, "/api/v1").await;
    let pods = core["resources"].as_array().unwrap().iter().find(|r| r["name"] == "pods").unwrap();
    assert_eq!((pods["kind"].as_str(), pods["namespaced"].as_bool()), (Some("Pod"), Some(true)));
    assert!(pods["verbs"].as_array().unwrap().contains(&json!("watch")));

    let (_, groups) = get_json(&server, "/apis").await;
    let group_names: Vec<&str> =
        groups["groups"].as_array().unwrap().iter().map(|g| g["name"].as_str().unwrap()).collect();
    for expected in ["apps", "helm.cattle.io", "k3s.cattle.io", "rbac.authorization.k8s.io"] {
        assert!(group_names.contains(&expected), "{expected} in {group_names:?}");
    }
    let (_, helm) = get_json(&server, "/apis/helm.cattle.io/v1").await;
    assert_eq!(helm["resources"][0]["name"], "helmcharts");
    let (code, _) = get_json(&server, "/apis/example.com/v1").await;
    assert_eq!(code, 404);

    // A CRD created mid-run shows from then on.
    server.add_resource("example.com", "v1", "Widget", "widgets", false);
    let (_, widgets) = get_json(&server, "/apis/example.com/v1").await;
    assert_eq!(widgets["resources"][0]["namespaced"], false);

    let aggregated = get(&server.url(), "/apis", Some(KUBE_AGGREGATED)).await;
    assert!(aggregated.header("content-type").unwrap().contains("as=APIGroupDiscoveryList"));
    let aggregated = aggregated.json().await;
    assert_eq!(aggregated["kind"], "APIGroupDiscoveryList");
    let apps = aggregated["items"].as_array().unwrap().iter().find(|g| g["metadata"]["name"] == "apps").unwrap();
    assert!(apps["versions"][0]["resources"].as_array().unwrap().iter().any(|r| r["resource"] == "deployments"));
}

#[tokio::test]
async fn lists_page_consistently_until_compacted() {
    let server = TestApiServer::start().await;
    server.load_list(&fixture("k3s-troubleshoot-real-snapshot.json"));
    server.set_page_size_cap(5);

    let (_, first) = get_json(&server, "/api/v1/pods?limit=500").await;
    assert_eq!(first["kind"], "PodList");
    assert_eq!(first["items"].as_array().unwrap().len(), 5);
    assert_eq!(first["metadata"]["remainingItemCount"], 8);
    assert!(first["items"][0].get("kind").is_none(), "built-in kinds are listed without kind");
    let list_rv = first["metadata"]["resourceVersion"].clone();

    // A change between pages does not show in later pages: the list reads at one version.
    server.apply(pod("kube-system", "zz-late", "x"));
    let mut all = names(&first);
    let mut token = first["metadata"]["continue"].as_str().unwrap().to_string();
    loop {
        let (code, page) = get_json(&server, &format!("/api/v1/pods?limit=500&continue={token}")).await;
        assert_eq!(code, 200);
        assert_eq!(page["metadata"]["resourceVersion"], list_rv);
        all.extend(names(&page));
        match page["metadata"]["continue"].as_str() {
            Some(next) => token = next.to_string(),
            None => break,
        }
    }
    assert_eq!(all.len(), 13);
    assert!(!all.contains(&"zz-late".to_string()));
    let mut sorted = all.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), 13, "no item twice");

    // Namespaced lists hold their namespace only; a custom kind's items keep their kind.
    let (_, kube_system) = get_json(&server, "/api/v1/namespaces/kube-system/pods?limit=100").await;
    assert!(kube_system["items"].as_array().unwrap().iter().all(|p| p["metadata"]["namespace"] == "kube-system"));
    let (_, charts) = get_json(&server, "/apis/helm.cattle.io/v1/helmcharts").await;
    assert_eq!(charts["items"][0]["kind"], "HelmChart");

    // A continue token from before a compaction is Gone.
    let (_, first) = get_json(&server, "/api/v1/pods?limit=5").await;
    server.compact();
    let token = first["metadata"]["continue"].as_str().unwrap();
    let (code, status) = get_json(&server, &format!("/api/v1/pods?limit=5&continue={token}")).await;
    assert_eq!((code, &status["reason"], &status["code"]), (410, &json!("Expired"), &json!(410)));
}

#[tokio::test]
async fn watches_replay_then_follow_with_bookmarks() {
    let options = Options { bookmark_interval: Duration::from_millis(50), ..Options::default() };
    let server = TestApiServer::start_with(options).await;
    server.load_list(&fixture("k3s-troubleshoot-real-snapshot.json"));
    let (_, list) = get_json(&server, "/api/v1/namespaces/default/pods").await;
    let list_rv: u64 = list["metadata"]["resourceVersion"].as_str().unwrap().parse().unwrap();

    // Missed while not watching: replayed.
    server.apply(pod("default", "early", "v1"));
    let path = format!("/api/v1/namespaces/default/pods?watch=1&resourceVersion={list_rv}&allowWatchBookmarks=true");
    let mut watch = get(&server.url(), &path, None).await;
    assert_eq!(watch.status, 200);
    let event = watch.next_json().await.unwrap();
    assert_eq!((&event["type"], &event["object"]["metadata"]["name"]), (&json!("ADDED"), &json!("early")));
    assert_eq!(event["object"]["kind"], "Pod", "watch events carry kind");

    // Live: other namespaces and kinds are not sent; modify and delete are.
    server.apply(pod("kube-system", "elsewhere", "v1"));
    server.apply(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "default"}}));
    server.apply(pod("default", "early", "v2"));
    let deleted_at = server.resource_version() + 1;
    assert!(server.delete("v1", "Pod", Some("default"), "early"));
    let mut seen = Vec::new();
    let mut bookmark = None;
    while bookmark.is_none() || seen.len() < 2 {
        let event = watch.next_json().await.expect("the watch goes on");
        match event["type"].as_str().unwrap() {
            "BOOKMARK" if seen.len() == 2 => bookmark = Some(event["object"].clone()),
            "BOOKMARK" => {}
            other => seen.push((other.to_string(), event["object"].clone())),
        }
    }
    assert_eq!(seen[0].0, "MODIFIED");
    assert_eq!(seen[0].1["spec"]["containers"][0]["image"], "v2");
    assert_eq!(seen[1].0, "DELETED");
    assert_eq!(seen[1].1["metadata"]["resourceVersion"], deleted_at.to_string(), "a deletion carries its own version");
    let bookmark = bookmark.unwrap();
    assert_eq!(bookmark["kind"], "Pod");
    assert_eq!(bookmark["metadata"]["resourceVersion"], server.resource_version().to_string());
    assert!(bookmark.get("spec").is_none());

    // From before a compaction: 200, one ERROR event, then a clean end.
    server.compact();
    let mut expired = get(&server.url(), &format!("/api/v1/pods?watch=true&resourceVersion={list_rv}"), None).await;
    assert_eq!(expired.status, 200);
    let event = expired.next_json().await.unwrap();
    assert_eq!(event["type"], "ERROR");
    assert_eq!((&event["object"]["code"], &event["object"]["reason"]), (&json!(410), &json!("Expired")));
    assert!(event["object"]["message"]
        .as_str()
        .unwrap()
        .starts_with(&format!("too old resource version: {list_rv} (")));
    assert_eq!(expired.next_json().await, None);

    // The open watch survived the compaction, and a drop cuts it without the last chunk.
    server.drop_connections();
    while watch.next_json().await.is_some() {}
    assert_eq!(watch.clean_end, Some(false));
}

#[tokio::test]
async fn watch_timeouts_and_initial_events_end_cleanly() {
    let server = TestApiServer::start().await;
    server.apply(pod("a", "p", "v1"));
    let mut watch = get(&server.url(), "/api/v1/pods?watch=true&timeoutSeconds=1", None).await;
    let event = watch.next_json().await.unwrap();
    assert_eq!(event["type"], "ADDED", "no resourceVersion: the state now first");
    assert_eq!(watch.next_json().await, None);
    assert_eq!(watch.clean_end, Some(true));

    let path = "/api/v1/pods?watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true&resourceVersion=";
    let mut streaming = get(&server.url(), path, None).await;
    assert_eq!(streaming.next_json().await.unwrap()["type"], "ADDED");
    let end = streaming.next_json().await.unwrap();
    assert_eq!(end["type"], "BOOKMARK");
    assert_eq!(end["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"], "true");
}

#[tokio::test]
async fn metadata_requests_never_carry_data() {
    let server = TestApiServer::start().await;
    server.load_list(&fixture("openshift-vsphere-mustgather-monitoring-pv.json"));
    let full = get(&server.url(), "/api/v1/secrets?limit=1", None).await.json().await;
    assert!(full["items"][0].get("data").is_some(), "the fixture's secrets have data");

    let list = get(&server.url(), "/api/v1/secrets", Some(METADATA_LIST)).await.json().await;
    assert_eq!((&list["kind"], &list["apiVersion"]), (&json!("PartialObjectMetadataList"), &json!("meta.k8s.io/v1")));
    assert_eq!(list["items"].as_array().unwrap().len(), 77);
    for item in list["items"].as_array().unwrap() {
        let keys: Vec<&String> = item.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["apiVersion", "kind", "metadata"]);
        assert_eq!(item["kind"], "PartialObjectMetadata");
    }

    let rv = list["metadata"]["resourceVersion"].as_str().unwrap();
    let mut watch = get(
        &server.url(),
        &format!("/api/v1/secrets?watch=true&resourceVersion={rv}&allowWatchBookmarks=true"),
        Some(METADATA),
    )
    .await;
    server.apply(json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "a"}, "data": {"k": "c2VjcmV0"}, "stringData": {"k": "secret"}}));
    let event = watch.next_json().await.unwrap();
    assert_eq!(event["type"], "ADDED");
    assert_eq!(event["object"]["kind"], "PartialObjectMetadata");
    assert!(!event.to_string().contains("secret"), "{event}");
}

#[tokio::test]
async fn refusing_and_the_request_log() {
    let server = TestApiServer::start().await;
    let mut watch = get(&server.url(), "/api/v1/pods?watch=true", None).await;
    let counts = timeout(PATIENCE, server.wait_for_watches(|c| c.open == 1)).await.expect("the watch opens");
    assert_eq!(counts.opened, 1);
    server.refuse(true);
    while watch.next_json().await.is_some() {}
    assert_eq!(watch.clean_end, Some(false), "refusing cuts open watches");
    let (code, status) = get_json(&server, "/api/v1/pods?limit=500").await;
    assert_eq!((code, &status["reason"]), (503, &json!("ServiceUnavailable")));
    server.refuse(false);
    let (code, _) = get_json(&server, "/api/v1/pods?limit=500").await;
    assert_eq!(code, 200);
    assert_eq!(
        server.requests(),
        ["GET /api/v1/pods?watch=true", "GET /api/v1/pods?limit=500", "GET /api/v1/pods?limit=500"]
    );
    server.clear_requests();
    assert!(server.requests().is_empty());
}

#[tokio::test]
async fn errors_look_like_the_real_servers() {
    let server = TestApiServer::start().await;
    server.load_list(&fixture("popeye-lint-crossrefs.json"));
    for (path, code) in [
        ("/api/v1/namespaces/default/nodes", 404),
        ("/api/v1/widgets", 404),
        ("/api/v1/namespaces/default/pods/p/log", 404),
        ("/api/v1/pods?labelSelector=a%3Db", 400),
        ("/api/v1/pods?watch=maybe", 400),
        ("/apis/metrics.k8s.io/v1beta1/pods?watch=true", 405),
        ("/api/v1/namespaces/default/pods/nope", 404),
    ] {
        let (actual, status) = get_json(&server, path).await;
        assert_eq!((actual, &status["kind"]), (code, &json!("Status")), "{path}: {status}");
    }
    // The metrics API lists, under its own plural names.
    let (code, metrics) = get_json(&server, "/apis/metrics.k8s.io/v1beta1/nodes").await;
    assert_eq!((code, metrics["kind"].as_str()), (200, Some("NodeMetricsList")));
}
