//! The query service: each call a thin adapter that runs a store query off the async threads.

use super::convert::{change_to, health_from, item_to, key_from, kind_from};
use super::status::{from_field, from_store};
use super::watch::{self, EventStream, Feed, Target};
use super::{Limits, Metrics};
use crate::GraphStore;
use graphd_core::{ChangeType, ItemId, Orientation, Timestamp};
use graphd_proto::v1 as pb;
use graphd_proto::v1::query_service_server::QueryService;
use graphd_store::query::{
    ChangeFilter, Direction, ListQuery, NameQuery, PathQuery, RelatedQuery, ScopeFilter, MAX_DEPTH,
};
use std::sync::Arc;
use std::time::Instant;
use tonic::{Request, Response, Status};

/// Changes a Changes call returns unless it asks for fewer.
const DEFAULT_CHANGES: usize = 100;
const MAX_CHANGES: usize = 10_000;

#[derive(Debug, Clone)]
pub struct Queries {
    store: Arc<GraphStore>,
    feed: Feed,
    limits: Limits,
    metrics: Arc<Metrics>,
}

impl Queries {
    pub fn new(store: Arc<GraphStore>, feed: Feed, limits: Limits, metrics: Arc<Metrics>) -> Self {
        Queries { store, feed, limits, metrics }
    }

    /// Runs `query` on the worker that received the request and records how long `method` took.
    ///
    /// Answers take microseconds (a walk-up ≈5 µs, a related walk to depth 3 a few µs up to a
    /// few hundred items), less than handing the call to another thread and back: through
    /// `block_in_place` a walk-up round trip took a third longer, through tokio's blocking
    /// pool longer still (benches/README.md). The largest walks (bounded by `max_related`)
    /// hold one worker for milliseconds while the others go on.
    async fn run<T: Send + 'static>(
        &self,
        method: &'static str,
        query: impl FnOnce(&GraphStore) -> Result<T, Status> + Send + 'static,
    ) -> Result<Response<T>, Status> {
        let started = Instant::now();
        let answer = query(&self.store);
        self.metrics.query_answered(method, started.elapsed());
        Ok(Response::new(answer?))
    }
}

fn scope_from(scope: Option<pb::ScopeFilter>) -> ScopeFilter {
    let s = scope.unwrap_or_default();
    let opt = |v: String| (!v.is_empty()).then_some(v);
    ScopeFilter { cluster: opt(s.cluster), namespace: opt(s.namespace), account: opt(s.account), region: opt(s.region) }
}

/// A reader of the graph now (`as_of` 0) or as it was at `as_of` (ms since the epoch).
fn read_as_of(store: &GraphStore, as_of: u64) -> graphd_store::query::Reader<'_, graphd_rocks::RocksEngine> {
    match as_of {
        0 => store.read(),
        at => store.read_as_of(Timestamp(at)),
    }
}

#[tonic::async_trait]
impl QueryService for Queries {
    type WatchStream = EventStream;

    async fn get(&self, request: Request<pb::GetRequest>) -> Result<Response<pb::Item>, Status> {
        let r = request.into_inner();
        self.run("get", move |store| {
            let reader = read_as_of(store, r.as_of);
            let item = match &r.by {
                Some(pb::get_request::By::Id(id)) => reader
                    .get(ItemId(*id), r.include_deleted)
                    .map_err(from_store)?
                    .ok_or_else(|| Status::not_found(format!("no item with id {id}")))?,
                Some(pb::get_request::By::Key(key)) => {
                    let key = key_from(Some(key), "key").map_err(from_field)?;
                    reader
                        .get_by_key(&key, r.include_deleted)
                        .map_err(from_store)?
                        .ok_or_else(|| Status::not_found(format!("no item with key {key}")))?
                }
                None => return Err(Status::invalid_argument("by: give an id or a key")),
            };
            let document = if r.with_document { reader.document(item.id).map_err(from_store)? } else { None };
            Ok(item_to(&item, document.as_ref()))
        })
        .await
    }

    async fn lookup(&self, request: Request<pb::LookupRequest>) -> Result<Response<pb::Items>, Status> {
        let r = request.into_inner();
        self.run("lookup", move |store| {
            let reader = read_as_of(store, r.as_of);
            let items = if r.kind.is_empty() {
                if r.short_id.is_empty() {
                    return Err(Status::invalid_argument("kind: give a kind and name, or a short_id"));
                }
                reader.find_by_short_id(&r.short_id, r.include_deleted).map_err(from_store)?
            } else {
                let query = NameQuery {
                    kind: kind_from(&r.kind, "kind").map_err(from_field)?,
                    name: r.name.clone(),
                    namespace: (!r.namespace.is_empty()).then(|| r.namespace.clone()),
                    cluster: (!r.cluster.is_empty()).then(|| r.cluster.clone()),
                };
                reader.find_by_name(&query, r.include_deleted).map_err(from_store)?
            };
            Ok(pb::Items { items: items.iter().map(|i| item_to(i, None)).collect() })
        })
        .await
    }

    async fn related(&self, request: Request<pb::RelatedRequest>) -> Result<Response<pb::RelatedResponse>, Status> {
        let r = request.into_inner();
        let max_related = self.limits.max_related;
        self.run("related", move |store| {
            let direction = match pb::Direction::try_from(r.direction) {
                Ok(pb::Direction::Outgoing) => Direction::Outgoing,
                Ok(pb::Direction::Incoming) => Direction::Incoming,
                Ok(pb::Direction::Both) => Direction::Both,
                _ => return Err(Status::invalid_argument("direction: OUTGOING, INCOMING or BOTH")),
            };
            let limit = match r.limit as usize {
                0 => max_related,
                n if n > max_related => return Err(Status::invalid_argument(format!("limit: at most {max_related}"))),
                n => n,
            };
            let kinds = r.kinds.iter().map(|k| kind_from(k, "kinds")).collect::<Result<_, _>>().map_err(from_field)?;
            let query = RelatedQuery { direction, depth: r.depth, relations: r.relations.clone(), kinds, include_deleted: r.include_deleted, limit };
            let reader = read_as_of(store, r.as_of);
            let result = reader.related(ItemId(r.id), &query).map_err(from_store)?;
            if result.truncated {
                return Err(Status::resource_exhausted(format!(
                    "related from item {} exceeds the limit of {limit} items: lower depth, filter by relations or kinds, or raise limit",
                    r.id
                )));
            }
            let names = reader.names();
            let mut hits = Vec::with_capacity(result.hits.len());
            for hit in result.hits {
                let item = reader.get(hit.id, true).map_err(from_store)?;
                let relation = names.relation_name(hit.via.relation).to_owned();
                hits.push(pb::RelatedHit {
                    item: item.as_ref().map(|i| item_to(i, None)),
                    depth: hit.depth,
                    outgoing: hit.outgoing,
                    via: Some(pb::Edge { from: hit.via.from.0, relation, to: hit.via.to.0 }),
                });
            }
            Ok(pb::RelatedResponse { hits })
        })
        .await
    }

    async fn walk_up(&self, request: Request<pb::WalkUpRequest>) -> Result<Response<pb::WalkUpResponse>, Status> {
        let r = request.into_inner();
        self.run("walk_up", move |store| {
            let reader = read_as_of(store, r.as_of);
            let up = reader.walk_up(ItemId(r.id), r.include_deleted).map_err(from_store)?;
            let start = reader.get(ItemId(r.id), true).map_err(from_store)?;
            let names = reader.names();
            let mut ancestors = Vec::with_capacity(up.nodes.len());
            for node in &up.nodes {
                let item = reader.get(node.id, true).map_err(from_store)?;
                ancestors.push(pb::Ancestor { item: item.as_ref().map(|i| item_to(i, None)), depth: node.depth });
            }
            let links = up
                .links
                .iter()
                .map(|l| pb::UpLink {
                    child: l.child.0,
                    relation: names.relation_name(l.relation).to_owned(),
                    parent: l.parent.0,
                    points_down: names.relation(l.relation).is_some_and(|r| r.orientation() == Orientation::Down),
                })
                .collect();
            Ok(pb::WalkUpResponse { start: start.as_ref().map(|i| item_to(i, None)), ancestors, links })
        })
        .await
    }

    async fn list(&self, request: Request<pb::ListRequest>) -> Result<Response<pb::ListResponse>, Status> {
        let r = request.into_inner();
        self.run("list", move |store| {
            let query = ListQuery {
                scope: scope_from(r.scope.clone()),
                kind: (!r.kind.is_empty()).then(|| kind_from(&r.kind, "kind")).transpose().map_err(from_field)?,
                labels: r.labels.clone().into_iter().collect(),
                health: r.has_health.then(|| health_from(r.health, "health")).transpose().map_err(from_field)?,
                include_deleted: r.include_deleted,
                limit: if r.limit == 0 { 100 } else { r.limit as usize },
                cursor: (!r.cursor.is_empty()).then(|| r.cursor.clone()),
            };
            let page = read_as_of(store, r.as_of).list(&query).map_err(from_store)?;
            Ok(pb::ListResponse {
                items: page.items.iter().map(|i| item_to(i, None)).collect(),
                next_cursor: page.next_cursor.unwrap_or_default(),
            })
        })
        .await
    }

    async fn count_by_health(
        &self,
        request: Request<pb::HealthCountsRequest>,
    ) -> Result<Response<pb::HealthCounts>, Status> {
        let r = request.into_inner();
        self.run("count_by_health", move |store| {
            let kind = (!r.kind.is_empty()).then(|| kind_from(&r.kind, "kind")).transpose().map_err(from_field)?;
            let c = store.read().health_counts(&scope_from(r.scope.clone()), kind.as_ref()).map_err(from_store)?;
            Ok(pb::HealthCounts { healthy: c.healthy, warning: c.warning, unhealthy: c.unhealthy, unknown: c.unknown })
        })
        .await
    }

    async fn path(&self, request: Request<pb::PathRequest>) -> Result<Response<pb::PathResponse>, Status> {
        let r = request.into_inner();
        self.run("path", move |store| {
            let max_depth = if r.max_depth == 0 { MAX_DEPTH } else { r.max_depth };
            let query = PathQuery { max_depth, relations: r.relations.clone(), include_deleted: r.include_deleted };
            let reader = store.read();
            let path = reader.path(ItemId(r.from), ItemId(r.to), &query).map_err(from_store)?.ok_or_else(|| {
                Status::not_found(format!("no path from item {} to item {} within {max_depth} steps", r.from, r.to))
            })?;
            let mut items = Vec::with_capacity(path.items.len());
            for id in &path.items {
                let item = reader.get(*id, true).map_err(from_store)?;
                items.extend(item.as_ref().map(|i| item_to(i, None)));
            }
            let names = reader.names();
            let edges = path
                .edges
                .iter()
                .map(|v| pb::Edge { from: v.from.0, relation: names.relation_name(v.relation).to_owned(), to: v.to.0 })
                .collect();
            Ok(pb::PathResponse { items, edges })
        })
        .await
    }

    async fn changes(&self, request: Request<pb::ChangesRequest>) -> Result<Response<pb::ChangesResponse>, Status> {
        let r = request.into_inner();
        let max_related = self.limits.max_related;
        self.run("changes", move |store| {
            let limit = match r.limit as usize {
                0 => DEFAULT_CHANGES,
                n if n > MAX_CHANGES => return Err(Status::invalid_argument(format!("limit: at most {MAX_CHANGES}"))),
                n => n,
            };
            let types = r
                .types
                .iter()
                .map(|t| {
                    ChangeType::from_name(t).ok_or_else(|| {
                        let known: Vec<_> = ChangeType::ALL.iter().map(|t| t.as_str()).collect();
                        Status::invalid_argument(format!(
                            "types: unknown change type {t:?}; known: {}",
                            known.join(", ")
                        ))
                    })
                })
                .collect::<Result<_, _>>()?;
            let reader = store.read();
            let start = ItemId(r.id);
            if reader.get(start, true).map_err(from_store)?.is_none() {
                return Err(Status::not_found(format!("no item with id {}", r.id)));
            }
            let mut ids = vec![start];
            if r.depth > 0 {
                let query = RelatedQuery {
                    include_deleted: true,
                    limit: max_related,
                    ..RelatedQuery::new(Direction::Both, r.depth)
                };
                ids.extend(reader.related(start, &query).map_err(from_store)?.hits.iter().map(|h| h.id));
            }
            let filter = ChangeFilter { since: Timestamp(r.since), types, limit };
            let changes = reader.changes(&ids, &filter).map_err(from_store)?;
            Ok(pb::ChangesResponse { changes: changes.iter().map(change_to).collect() })
        })
        .await
    }

    async fn watch(&self, request: Request<pb::WatchRequest>) -> Result<Response<EventStream>, Status> {
        let r = request.into_inner();
        let target = match r.target {
            None => return Err(Status::invalid_argument("target: give an item or a scope")),
            Some(pb::watch_request::Target::Scope(scope)) => Target::Scope(scope_from(Some(scope))),
            Some(pb::watch_request::Target::Item(id)) => {
                if r.depth > MAX_DEPTH {
                    return Err(Status::invalid_argument(format!("depth: must be 0..={MAX_DEPTH}, got {}", r.depth)));
                }
                let root = ItemId(id);
                self.run("watch", move |store| match store.read().get(root, false).map_err(from_store)? {
                    Some(_) => Ok(()),
                    None => Err(Status::not_found(format!("no item with id {id}"))),
                })
                .await?;
                Target::Subgraph { root, depth: r.depth }
            }
        };
        Ok(Response::new(watch::start(Arc::clone(&self.store), &self.feed, target)))
    }

    async fn scrapers(&self, _: Request<pb::ScrapersRequest>) -> Result<Response<pb::ScrapersResponse>, Status> {
        let scrapers = self
            .metrics
            .scrapers()
            .board
            .rows()
            .into_iter()
            .map(|row| {
                let s = row.status.snapshot();
                pb::ScraperStatus {
                    scraper: row.scraper.into(),
                    name: row.name,
                    resources: s.resources as u32,
                    syncing: s.syncing as u32,
                    listings: s.listings,
                    objects: s.objects,
                    errors: s.errors,
                    last_error: s.last_error.unwrap_or_default(),
                    last_sync_at: s.last_sync_ms.unwrap_or(0),
                }
            })
            .collect();
        Ok(Response::new(pb::ScrapersResponse { scrapers }))
    }
}
