//! One cluster: connect, discover its resources (again and again, for new CRDs), and scrape
//! each in its own task.

use crate::discover::discover;
use crate::watch::{scrape_resource, Target, ONCE_ATTEMPTS};
use crate::{Event, KubernetesSource, Mode, Resource};
use graphd_core::scrape::ScrapeStatus;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

/// Retries of a failed connection or discovery start at this delay and double up to a minute.
const FIRST_RETRY: Duration = Duration::from_millis(500);
const LAST_RETRY: Duration = Duration::from_secs(60);

/// Scrapes the cluster `source` into `events`. In [`Mode::Once`] it returns after one listing
/// of every resource (or after giving up on the ones that keep failing); in [`Mode::Watch`]
/// it runs until the receiver is dropped.
pub async fn run_cluster(source: KubernetesSource, mode: Mode, events: mpsc::Sender<Event>, status: Arc<ScrapeStatus>) {
    let cluster: Arc<str> = source.name.clone().into();
    let filter = source.filter();
    let mut started: HashSet<Resource> = HashSet::new();
    let mut tasks = JoinSet::new();
    let mut retry = FIRST_RETRY;
    let mut failed_attempts = 0;
    loop {
        let discovered = match connect(&source).await {
            Ok(client) => discover(client.clone(), &filter).await.map(|r| (client, r)).map_err(|e| e.to_string()),
            Err(e) => Err(e),
        };
        match discovered {
            Err(error) => {
                tracing::warn!(%cluster, %error, "cannot discover the cluster's resources, retrying");
                status.error(format!("{cluster}: {error}"));
                failed_attempts += 1;
                if mode == Mode::Once && failed_attempts >= ONCE_ATTEMPTS {
                    return;
                }
            }
            Ok((client, resources)) => {
                retry = FIRST_RETRY;
                failed_attempts = 0;
                let new: Vec<Resource> = resources.into_iter().filter(|r| !started.contains(r)).collect();
                if !new.is_empty() {
                    tracing::info!(%cluster, resources = new.len(), "scraping new resources");
                }
                status.resources_added(new.len());
                if !new.is_empty() {
                    let resources = started.iter().chain(&new).map(Resource::group_kind).collect();
                    if events.send(Event::Discovered { cluster: Arc::clone(&cluster), resources }).await.is_err() {
                        return;
                    }
                }
                for resource in new {
                    started.insert(resource.clone());
                    tasks.spawn(scrape_resource(Target {
                        client: client.clone(),
                        resource,
                        cluster: Arc::clone(&cluster),
                        page_size: source.page_size,
                        mode,
                        events: events.clone(),
                        status: Arc::clone(&status),
                    }));
                }
                if mode == Mode::Once {
                    while tasks.join_next().await.is_some() {}
                    return;
                }
            }
        }
        let pause = if status.snapshot().resources == 0 { retry } else { source.rediscover_every() };
        retry = (retry * 2).min(LAST_RETRY);
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = events.closed() => return,
        }
    }
}

async fn connect(source: &KubernetesSource) -> Result<Client, String> {
    let mut config = if source.in_cluster {
        Config::incluster().map_err(|e| format!("in-cluster configuration: {e}"))?
    } else {
        let kubeconfig = match &source.kubeconfig {
            Some(path) => Kubeconfig::read_from(path),
            None => Kubeconfig::read(),
        }
        .map_err(|e| format!("kubeconfig: {e}"))?;
        let options = KubeConfigOptions { context: source.context.clone(), ..Default::default() };
        Config::from_custom_kubeconfig(kubeconfig, &options).await.map_err(|e| format!("kubeconfig: {e}"))?
    };
    // The client would retry a 503 or 429 itself, for minutes, with nothing in the status:
    // graphd's own retries (with back-off) report each failure as it happens.
    config.default_retry = false;
    Client::try_from(config).map_err(|e| format!("client: {e}"))
}
