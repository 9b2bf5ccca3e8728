//! Custom sources: a service catalog kept as files (watched), served over HTTP (with a header
//! and a bearer token) and printed by a command, each mapped to `Custom::Service` items by
//! CEL and linked by a rule to the Kubernetes Deployments that carry the service's label.

mod support;

use graphd::scrape::Scrapers;
use graphd::GraphStore;
use graphd_core::scrape::{Mode, StatusSnapshot};
use graphd_core::{ExternalKey, Health, Item};
use graphd_scrape_custom::CustomSource;
use graphd_store::query::{Direction, RelatedQuery};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use support::{fixture, open};

/// Catalog services own the Deployments whose labels their `selector` names.
const CATALOG_RULES: &str = r#"
version: 1
rules:
  - name: catalog-service-deployments
    from: {kind: "Custom::Service"}
    relation: manages
    to: {kind: "Kubernetes::Deployment", match: labels, selector: selector, scope: anywhere}
"#;

/// The k3s snapshot as cluster `c1`, with the built-in rules and the catalog's.
fn store_with_cluster(dir: &Path) -> Arc<GraphStore> {
    let store = open(dir);
    let mut rules = graphd_rules::builtin::rules().unwrap();
    let catalog = graphd_rules::load(&[("catalog.yaml".into(), CATALOG_RULES.into())]).unwrap();
    rules.rules.extend(catalog.rules);
    store.set_rules(rules).unwrap();
    let objects = fixture("k3s-troubleshoot-real-snapshot.json")["items"].as_array().unwrap().clone();
    let report = graphd::import::import(&store, "c1", &objects, |_, _| {}).unwrap();
    assert!(report.skipped.is_empty());
    store
}

/// A source named `name` reading `input` (YAML), with the catalog's mapping.
fn source(name: &str, input: &str) -> CustomSource {
    let text = format!(
        r#"
name: {name}
{input}
records: "type(object) == list ? object : object.services"
map:
  id: object.id
  kind: "'Custom::Service'"
  name: object.name
  namespace: object.team
  labels: "{{'tier': object.tier}}"
  health: "object.up ? 'Healthy' : 'Unhealthy'"
  status: "object.up ? 'serving' : 'down'"
  ready: object.up
"#
    );
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

fn scrapers(sources: Vec<CustomSource>) -> graphd::config::Scrapers {
    graphd::config::Scrapers { custom: sources, ..Default::default() }
}

fn service(store: &GraphStore, source: &str, id: &str) -> Option<Item> {
    store.read().get_by_key(&ExternalKey::custom(source, id), true).unwrap()
}

/// Names of the live Deployments `item` manages.
fn managed_deployments(store: &GraphStore, item: &Item) -> Vec<String> {
    let mut query = RelatedQuery::new(Direction::Outgoing, 1);
    query.relations = vec!["manages".into()];
    let reader = store.read();
    let hits = reader.related(item.id, &query).unwrap().hits;
    let mut names: Vec<String> = hits.iter().map(|h| reader.get(h.id, false).unwrap().unwrap().name).collect();
    names.sort();
    names
}

async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while !check() {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn status(scrapers: &Scrapers, name: &str) -> StatusSnapshot {
    let rows = scrapers.handles.board.rows();
    let row = rows.iter().find(|r| r.scraper == "custom" && r.name == name).expect("a status row per source");
    row.status.snapshot()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watched_folder_of_files_becomes_linked_items_and_bad_files_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_cluster(&dir.path().join("data"));
    let folder = dir.path().join("catalog");
    std::fs::create_dir(&folder).unwrap();
    std::fs::write(
        folder.join("backend.yaml"),
        "- {id: svc-backend, name: backend-api, team: payments, tier: 1, up: true, selector: {app: backend-api}}\n\
         - {id: svc-cpu, name: cpu-hog, team: lab, tier: 3, up: false, selector: {app: cpu-hog}}\n",
    )
    .unwrap();
    std::fs::write(
        folder.join("dns.json"),
        r#"{"services": [{"id": "svc-dns", "name": "dns", "team": "platform", "tier": 0, "up": true,
                          "selector": {"k8s-app": "kube-dns"}}]}"#,
    )
    .unwrap();
    std::fs::write(folder.join("README.md"), "not a catalog file").unwrap();
    let catalog = source("catalog", &format!("files: {{path: {}, watch_secs: 1}}", folder.display()));
    let running = Scrapers::start(Arc::clone(&store), &scrapers(vec![catalog]), Mode::Watch);

    eventually("the three services are stored", || service(&store, "catalog", "svc-dns").is_some()).await;
    let backend = service(&store, "catalog", "svc-backend").unwrap();
    assert_eq!((backend.kind.as_str(), backend.name.as_str()), ("Custom::Service", "backend-api"));
    assert_eq!(backend.namespace.as_deref(), Some("payments"));
    assert_eq!(backend.labels.get("tier").map(String::as_str), Some("1"));
    assert_eq!((backend.health, backend.status.as_str(), backend.ready), (Health::Healthy, "serving", true));
    let document = store.read().document(backend.id).unwrap().unwrap();
    assert_eq!(document["selector"]["app"], "backend-api", "the record is the item's document");
    let cpu = service(&store, "catalog", "svc-cpu").unwrap();
    assert_eq!((cpu.health, cpu.ready), (Health::Unhealthy, false));
    assert_eq!(managed_deployments(&store, &backend), ["backend-api"]);
    assert_eq!(managed_deployments(&store, &service(&store, "catalog", "svc-dns").unwrap()), ["coredns"]);
    let deployment = store.read().related(backend.id, &RelatedQuery::new(Direction::Outgoing, 1)).unwrap().hits;
    let up = store.read().walk_up(deployment[0].id, false).unwrap();
    assert!(up.nodes.iter().any(|n| n.id == backend.id), "walk-up from the Deployment reaches its catalog entry");

    // An edit: cpu-hog recovers, backend leaves the catalog.
    std::fs::write(
        folder.join("backend.yaml"),
        "- {id: svc-cpu, name: cpu-hog, team: lab, tier: 3, up: true, selector: {app: cpu-hog}}\n",
    )
    .unwrap();
    eventually("the edit is read", || {
        service(&store, "catalog", "svc-backend").is_some_and(|s| s.deleted_at.is_some())
    })
    .await;
    assert_eq!(service(&store, "catalog", "svc-cpu").unwrap().health, Health::Healthy);
    let mut managers = RelatedQuery::new(Direction::Incoming, 1);
    managers.relations = vec!["manages".into()];
    let deployment_managers = store.read().related(deployment[0].id, &managers).unwrap().hits;
    assert!(deployment_managers.is_empty(), "a gone service's edges are tombstoned: {deployment_managers:?}");

    // A file that does not parse: its error is shown and nothing of the source is taken for gone.
    let listings = status(&running, "catalog").listings;
    std::fs::write(folder.join("backend.yaml"), "- {id: svc-cpu, name: [unclosed\n").unwrap();
    eventually("the broken file is reported", || status(&running, "catalog").last_error.is_some()).await;
    let error = status(&running, "catalog").last_error.unwrap();
    assert!(error.contains("backend.yaml") && error.contains("not JSON or YAML"), "{error}");
    assert_eq!(status(&running, "catalog").listings, listings, "an incomplete reading is no listing");
    assert!(service(&store, "catalog", "svc-cpu").unwrap().deleted_at.is_none(), "kept while its file is broken");
    assert!(service(&store, "catalog", "svc-dns").unwrap().deleted_at.is_none());

    // A record that does not map: skipped and counted, the rest of the reading lands, nothing is gone.
    std::fs::write(
        folder.join("backend.yaml"),
        "- {name: no-id, team: lab, tier: 3, up: true}\n- {id: svc-new, name: new, team: lab, tier: 2, up: true}\n",
    )
    .unwrap();
    eventually("the new record lands", || service(&store, "catalog", "svc-new").is_some()).await;
    let error = status(&running, "catalog").last_error.unwrap();
    assert!(error.contains("record 0: map.id gave nothing"), "{error}");
    assert!(service(&store, "catalog", "svc-cpu").unwrap().deleted_at.is_none(), "kept: the reading was not whole");
    let report = running.stop().await.unwrap();
    assert!(report.skipped >= 1, "{report:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http_endpoint_with_headers_and_a_bearer_token_from_the_environment() {
    use axum::http::{HeaderMap, StatusCode};
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_cluster(&dir.path().join("data"));
    let app = axum::Router::new().route(
        "/services",
        axum::routing::get(|headers: HeaderMap| async move {
            let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
            if header("authorization") != "Bearer s3cret" || header("x-team") != "sre" {
                return (StatusCode::UNAUTHORIZED, "who are you?".to_string());
            }
            let body = r#"[{"id": "svc-backend", "name": "backend-api", "team": "payments", "tier": 1, "up": true,
                            "selector": {"app": "backend-api"}}]"#;
            (StatusCode::OK, body.to_string())
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/services", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    // One variable per test: tests of this file share the process environment.
    std::env::set_var("GRAPHD_TEST_CATALOG_TOKEN", "s3cret\n");
    let http = |token_env: &str| {
        format!("http: {{url: '{url}', headers: {{X-Team: sre}}, bearer_token_env: {token_env}, timeout_secs: 5}}")
    };
    let good = source("cmdb", &http("GRAPHD_TEST_CATALOG_TOKEN"));
    let unset = source("cmdb-unset", &http("GRAPHD_TEST_NO_SUCH_TOKEN"));
    let mut wrong = source("cmdb-wrong", &http("GRAPHD_TEST_CATALOG_TOKEN"));
    if let graphd_scrape_custom::Input::Http(h) = &mut wrong.input {
        h.headers.insert("X-Team".into(), "someone-else".into());
    }
    let running = Scrapers::start(Arc::clone(&store), &scrapers(vec![good, unset, wrong]), Mode::Once);
    let board = Arc::clone(&running.handles.board);
    let report = running.finish().await.unwrap();
    assert_eq!(report.listings, 1, "only the source that answered lists: {report:?}");
    let backend = service(&store, "cmdb", "svc-backend").expect("read over HTTP");
    assert_eq!(managed_deployments(&store, &backend), ["backend-api"]);
    let error_of = |name: &str| {
        let rows = board.rows();
        rows.iter().find(|r| r.name == name).unwrap().status.snapshot().last_error.unwrap_or_default()
    };
    assert!(
        error_of("cmdb-unset").contains("bearer_token_env GRAPHD_TEST_NO_SUCH_TOKEN is not set"),
        "{}",
        error_of("cmdb-unset")
    );
    assert!(error_of("cmdb-wrong").contains("401 Unauthorized: who are you?"), "{}", error_of("cmdb-wrong"));
    assert!(error_of("cmdb").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_s_output_and_a_failing_command() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_cluster(&dir.path().join("data"));
    let printing = source(
        "inventory",
        r#"command: {run: [sh, -c, "printf 'services:\n  - {id: svc-mem, name: memory, team: lab, tier: 2, up: true, selector: {app: memory-test}}\n'"]}"#,
    );
    let running = Scrapers::start(Arc::clone(&store), &scrapers(vec![printing]), Mode::Once);
    running.finish().await.unwrap();
    let memory = service(&store, "inventory", "svc-mem").expect("read from the command's output");
    assert_eq!(managed_deployments(&store, &memory), ["memory-hungry-app"]);

    // The same source failing: its error says why, and its items stay.
    let failing = source("inventory", r#"command: {run: [sh, -c, "echo 'cmdb unreachable' >&2; exit 3"]}"#);
    let running = Scrapers::start(Arc::clone(&store), &scrapers(vec![failing]), Mode::Once);
    let board = Arc::clone(&running.handles.board);
    running.finish().await.unwrap();
    let error = board.rows()[0].status.snapshot().last_error.unwrap();
    assert!(error.contains("exit status: 3") && error.contains("cmdb unreachable"), "{error}");
    assert!(service(&store, "inventory", "svc-mem").unwrap().deleted_at.is_none());
}
