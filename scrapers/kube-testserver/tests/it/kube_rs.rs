//! kube-rs against the test server, the way graphd's scraper uses it: a client from a
//! kubeconfig, `Discovery::run`, a `watcher` per resource, metadata-only for Secrets.

use crate::raw::PATIENCE;
use crate::{fixture, pod};
use futures::{Stream, StreamExt};
use graphd_kube_testserver::TestApiServer;
use k8s_openapi::api::core::v1::{Pod, Secret};
use kube::api::{Api, DynamicObject, ListParams, PartialObjectMeta};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::discovery::{verbs, ApiCapabilities, ApiResource, Discovery, Scope};
use kube::runtime::watcher::{self, watcher, Event};
use kube::runtime::WatchStreamExt;
use kube::{Client, Config, ResourceExt};
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::mpsc;
use tokio::time::timeout;

async fn client(server: &TestApiServer) -> Client {
    let kubeconfig = Kubeconfig::from_yaml(&server.kubeconfig("kind-test")).expect("kubeconfig parses");
    let options = KubeConfigOptions { context: Some("kind-test".into()), ..Default::default() };
    let config = Config::from_custom_kubeconfig(kubeconfig, &options).await.expect("kubeconfig is usable");
    Client::try_from(config).expect("client")
}

fn resolve(discovery: &Discovery, api_version: &str, kind: &str) -> (ApiResource, ApiCapabilities) {
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    let gvk = kube::api::GroupVersionKind::gvk(group, version, kind);
    discovery.resolve_gvk(&gvk).unwrap_or_else(|| panic!("discovery finds {api_version} {kind}"))
}

/// A watcher's events as a test reads them. The watcher runs in its own task, as in a
/// scraper, so it goes on watching between the test's reads; errors (410s, cut
/// connections) are counted and skipped, as a scraper's loop would after logging them.
struct Follower<K> {
    events: mpsc::UnboundedReceiver<Event<K>>,
    errors: Arc<AtomicUsize>,
}

impl<K: ResourceExt + Send + 'static> Follower<K> {
    fn new(stream: impl Stream<Item = Result<Event<K>, watcher::Error>> + Send + 'static) -> Self {
        let (tx, events) = mpsc::unbounded_channel();
        let errors = Arc::new(AtomicUsize::new(0));
        let counted = errors.clone();
        tokio::spawn(async move {
            let mut stream = std::pin::pin!(stream.default_backoff());
            while let Some(item) = stream.next().await {
                match item {
                    Ok(event) => {
                        if tx.send(event).is_err() {
                            return;
                        }
                    }
                    Err(_) => {
                        counted.fetch_add(1, Ordering::SeqCst);
                    }
                }
            }
        });
        Follower { events, errors }
    }

    fn errors(&self) -> usize {
        self.errors.load(Ordering::SeqCst)
    }

    /// The next event; panics after [`PATIENCE`].
    async fn next(&mut self) -> Event<K> {
        let next = timeout(PATIENCE, self.events.recv()).await.expect("the next event within PATIENCE");
        next.expect("a watcher never ends")
    }

    /// Reads a whole listing, `Init` to `InitDone`, and returns its objects.
    async fn listing(&mut self) -> Vec<K> {
        assert!(matches!(self.next().await, Event::Init), "a listing starts with Init");
        let mut objects = Vec::new();
        loop {
            match self.next().await {
                Event::InitApply(object) => objects.push(object),
                Event::InitDone => return objects,
                _ => panic!("only InitApply within a listing"),
            }
        }
    }
}

fn names<K: ResourceExt>(objects: &[K]) -> BTreeSet<String> {
    objects.iter().map(|o| format!("{}/{}", o.namespace().unwrap_or_default(), o.name_any())).collect()
}

/// The server's pods, as namespace/name.
async fn pods_now(client: &Client) -> BTreeSet<String> {
    names(&Api::<Pod>::all(client.clone()).list(&ListParams::default()).await.expect("typed list").items)
}

#[tokio::test]
async fn discovery_finds_built_in_and_custom_kinds() {
    let server = TestApiServer::start().await;
    server.load_list(&fixture("k3s-troubleshoot-real-snapshot.json"));
    let client = client(&server).await;

    let started = Instant::now();
    let discovery = Discovery::new(client.clone()).run().await.expect("discovery");
    eprintln!("legacy discovery: {:?}, {} requests", started.elapsed(), server.requests().len());
    for (api_version, kind, scope) in [
        ("v1", "Pod", Scope::Namespaced),
        ("v1", "Node", Scope::Cluster),
        ("apps/v1", "Deployment", Scope::Namespaced),
        ("helm.cattle.io/v1", "HelmChart", Scope::Namespaced),
        ("k3s.cattle.io/v1", "Addon", Scope::Namespaced),
        ("storage.k8s.io/v1", "StorageClass", Scope::Cluster),
    ] {
        let (resource, caps) = resolve(&discovery, api_version, kind);
        assert_eq!(caps.scope, scope, "{kind}");
        assert!(caps.supports_operation(verbs::LIST) && caps.supports_operation(verbs::WATCH), "{kind}");
        assert_eq!(resource.api_version, api_version);
    }
    assert!(!discovery.has_group("example.com"));

    // The aggregated flavour sees the same resources.
    let aggregated = Discovery::new(client.clone()).run_aggregated().await.expect("aggregated discovery");
    let kinds = |d: &Discovery| -> BTreeSet<String> {
        d.groups()
            .flat_map(|g| g.recommended_resources())
            .map(|(r, _)| format!("{}/{}", r.api_version, r.kind))
            .collect()
    };
    assert_eq!(kinds(&aggregated), kinds(&discovery));

    // A CRD appearing mid-run is found by the next discovery, and its objects listed.
    server.add_resource("example.com", "v1alpha1", "Widget", "widgets", true);
    server.apply(serde_json::json!({"apiVersion": "example.com/v1alpha1", "kind": "Widget", "metadata": {"name": "w", "namespace": "a"}}));
    let discovery = Discovery::new(client.clone()).run().await.expect("discovery");
    let (widgets, _) = resolve(&discovery, "example.com/v1alpha1", "Widget");
    let listed = Api::<DynamicObject>::all_with(client, &widgets).list(&ListParams::default()).await.unwrap();
    assert_eq!(listed.items[0].name_any(), "w");
}

#[tokio::test]
async fn watcher_lists_in_pages_then_follows_changes() {
    let server = TestApiServer::start().await;
    server.load_list(&fixture("k3s-troubleshoot-real-snapshot.json"));
    server.set_page_size_cap(4);
    let client = client(&server).await;
    let discovery = Discovery::new(client.clone()).run().await.expect("discovery");
    let (pods, _) = resolve(&discovery, "v1", "Pod");
    server.clear_requests();

    let api = Api::<DynamicObject>::all_with(client.clone(), &pods);
    let mut follower = Follower::new(watcher(api, watcher::Config::default()));
    let listed = follower.listing().await;
    assert_eq!(listed.len(), 13);
    assert_eq!(names(&listed), pods_now(&client).await);
    let pages = server.requests().iter().filter(|r| r.starts_with("GET /api/v1/pods?&limit=500")).count();
    assert_eq!(pages, 4, "13 pods in pages of 4: {:?}", server.requests());

    let started = Instant::now();
    server.apply(pod("default", "added", "nginx:1"));
    match follower.next().await {
        Event::Apply(object) => assert_eq!(object.name_any(), "added"),
        other => panic!("expected Apply, got {other:?}"),
    }
    eprintln!("apply seen after {:?}", started.elapsed());

    let started = Instant::now();
    server.apply(pod("default", "added", "nginx:2"));
    match follower.next().await {
        Event::Apply(object) => assert_eq!(object.data["spec"]["containers"][0]["image"], "nginx:2"),
        other => panic!("expected Apply, got {other:?}"),
    }
    eprintln!("modify seen after {:?}", started.elapsed());

    let started = Instant::now();
    assert!(server.delete("v1", "Pod", Some("default"), "added"));
    match follower.next().await {
        Event::Delete(object) => assert_eq!(object.name_any(), "added"),
        other => panic!("expected Delete, got {other:?}"),
    }
    eprintln!("delete seen after {:?}", started.elapsed());
    assert_eq!(follower.errors(), 0);
}

#[tokio::test]
async fn watcher_resumes_after_a_cut_and_relists_after_compaction() {
    let server = TestApiServer::start().await;
    server.load_list(&fixture("k3s-troubleshoot-real-snapshot.json"));
    server.set_page_size_cap(5);
    let client = client(&server).await;
    let api = Api::<Pod>::all(client.clone());
    let mut follower = Follower::new(watcher(api, watcher::Config::default()));
    let listed = names(&follower.listing().await);
    assert_eq!(listed, pods_now(&client).await);

    // A cut watch resumes from its last resourceVersion and replays what it missed: no
    // new listing.
    let opened = timeout(PATIENCE, server.wait_for_watches(|c| c.open == 1)).await.expect("the watch opens").opened;
    server.drop_connections();
    server.apply(pod("default", "while-cut", "x"));
    match follower.next().await {
        Event::Apply(object) => assert_eq!(object.name_any(), "while-cut"),
        other => panic!("a resumed watch replays, got {other:?}"),
    }
    let resumed = timeout(PATIENCE, server.wait_for_watches(|c| c.opened > opened)).await.expect("resumed");
    assert_eq!(resumed.opened, opened + 1);

    // After a compaction, the cut watch cannot resume: the watcher lists again.
    let started = Instant::now();
    assert!(server.delete("v1", "Pod", Some("default"), "while-cut"));
    server.apply(pod("kube-system", "after", "x"));
    server.compact();
    server.drop_connections();
    loop {
        match follower.next().await {
            // The changes themselves, if the watch saw them before the cut.
            Event::Apply(_) | Event::Delete(_) => {}
            Event::Init => break,
            other => panic!("unexpected {other:?}"),
        }
    }
    let mut relisted = Vec::new();
    loop {
        match follower.next().await {
            Event::InitApply(object) => relisted.push(object),
            Event::InitDone => break,
            other => panic!("only InitApply within a listing, got {other:?}"),
        }
    }
    eprintln!("re-listed after {:?} ({} errors on the way)", started.elapsed(), follower.errors());
    assert!(follower.errors() >= 1, "the 410 shows as an error");
    assert_eq!(names(&relisted), pods_now(&client).await);
    assert!(names(&relisted).contains("kube-system/after") && !names(&relisted).contains("default/while-cut"));
    let watches: Vec<String> = server.requests().into_iter().filter(|r| r.contains("watch=true")).collect();
    assert!(watches.len() >= 3, "{watches:?}");
}

#[tokio::test]
async fn metadata_watcher_never_receives_secret_data() {
    let server = TestApiServer::start().await;
    server.load_list(&fixture("openshift-vsphere-mustgather-monitoring-pv.json"));
    server.set_page_size_cap(20);
    let client = client(&server).await;
    // kube 5's form of `metadata_watcher` (deprecated): a watcher over PartialObjectMeta.
    let secrets = Api::<PartialObjectMeta<Secret>>::all(client.clone());
    let mut follower = Follower::new(watcher(secrets, watcher::Config::default()));
    let listed = follower.listing().await;
    assert_eq!(listed.len(), 77);
    for secret in &listed {
        let types = secret.types.as_ref().expect("typed");
        assert_eq!((types.kind.as_str(), types.api_version.as_str()), ("PartialObjectMetadata", "meta.k8s.io/v1"));
    }

    server.apply(serde_json::json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "token", "namespace": "default"},
        "data": {"token": "c2VjcmV0"},
    }));
    match follower.next().await {
        Event::Apply(secret) => {
            assert_eq!(secret.name_any(), "token");
            assert_eq!(secret.types.unwrap().kind, "PartialObjectMetadata");
        }
        other => panic!("expected Apply, got {other:?}"),
    }

    // A full (typed) get of the same Secret still has its data: the server kept it.
    let full = Api::<Secret>::namespaced(client, "default").get("token").await.expect("get");
    assert!(full.data.unwrap().contains_key("token"));
}

#[tokio::test]
async fn streaming_list_watcher_gets_the_same_listing() {
    let server = TestApiServer::start().await;
    server.load_list(&fixture("k3s-troubleshoot-real-snapshot.json"));
    let client = client(&server).await;
    let config = watcher::Config::default().streaming_lists();
    let mut follower = Follower::new(watcher(Api::<Pod>::all(client.clone()), config));
    let listed = follower.listing().await;
    assert_eq!(names(&listed), pods_now(&client).await);
    assert!(server.requests().iter().any(|r| r.contains("sendInitialEvents=true")), "{:?}", server.requests());
    server.apply(pod("default", "late", "x"));
    match follower.next().await {
        Event::Apply(object) => assert_eq!(object.name_any(), "late"),
        other => panic!("expected Apply, got {other:?}"),
    }
}
