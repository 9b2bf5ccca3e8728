//! A typed client for graphd's gRPC API.
//!
//! ```no_run
//! # async fn example() -> Result<(), graphd_client::Error> {
//! let mut graphd = graphd_client::Client::connect("http://127.0.0.1:7439").await?;
//! let pod = graphd.find("pod/kube-system/coredns-5d78c9869d-abcde", &Default::default()).await?;
//! let ancestors = graphd.walk_up(pod.id).await?;
//! # Ok(()) }
//! ```
//!
//! - [`Client`]: one method per call, taking ids and the request messages of `graphd.v1`;
//! - [`reference`]: naming items as people type them (`pod/ns/name`, `i-0abc`, `id:42`).
//!
//! The generated code is re-exported as [`pb`], for anything the typed methods leave out.

pub mod reference;

pub use graphd_proto::v1 as pb;
pub use reference::Narrowing;

use pb::admin_service_client::AdminServiceClient;
use pb::ingest_service_client::IngestServiceClient;
use pb::query_service_client::QueryServiceClient;
use tonic::transport::Channel;
use tonic::Streaming;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot reach graphd at {addr}: {source}")]
    Connect { addr: String, source: tonic::transport::Error },
    #[error("{}", .0.message())]
    Status(#[from] tonic::Status),
    /// An item reference that names no item, or more than one.
    #[error("{0}")]
    Reference(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A connection to one graphd. Cheap to clone: clones share the connection.
#[derive(Debug, Clone)]
pub struct Client {
    query: QueryServiceClient<Channel>,
    ingest: IngestServiceClient<Channel>,
    admin: AdminServiceClient<Channel>,
}

/// Messages this client sends and accepts, at most (graphd's own default limit).
const MAX_MESSAGE_BYTES: usize = 16 << 20;

impl Client {
    /// Connects to `addr`: `http://host:port`, or just `host:port`.
    pub async fn connect(addr: &str) -> Result<Client> {
        let uri = if addr.contains("://") { addr.to_owned() } else { format!("http://{addr}") };
        let connect_error = |source| Error::Connect { addr: addr.to_owned(), source };
        let channel = Channel::from_shared(uri)
            .map_err(|e| Error::Reference(format!("{addr:?} is not an address: {e}")))?
            .connect()
            .await
            .map_err(connect_error)?;
        Ok(Client::from_channel(channel))
    }

    /// A client over a channel made elsewhere (TLS, a custom connector).
    pub fn from_channel(channel: Channel) -> Client {
        Client {
            query: QueryServiceClient::new(channel.clone())
                .max_decoding_message_size(MAX_MESSAGE_BYTES)
                .max_encoding_message_size(MAX_MESSAGE_BYTES),
            ingest: IngestServiceClient::new(channel.clone())
                .max_decoding_message_size(MAX_MESSAGE_BYTES)
                .max_encoding_message_size(MAX_MESSAGE_BYTES),
            admin: AdminServiceClient::new(channel),
        }
    }

    /// The generated query client, for requests the typed methods do not cover.
    pub fn query_service(&mut self) -> &mut QueryServiceClient<Channel> {
        &mut self.query
    }

    /// The live item with `id`.
    pub async fn get(&mut self, id: u64) -> Result<pb::Item> {
        self.get_by(pb::GetRequest { by: Some(pb::get_request::By::Id(id)), ..Default::default() }).await
    }

    /// An item by id or external key, deleted or not, with or without its document.
    pub async fn get_by(&mut self, request: pb::GetRequest) -> Result<pb::Item> {
        Ok(self.query.get(request).await?.into_inner())
    }

    /// Items by natural name or short id.
    pub async fn lookup(&mut self, request: pb::LookupRequest) -> Result<Vec<pb::Item>> {
        Ok(self.query.lookup(request).await?.into_inner().items)
    }

    /// The one item `reference` names (see [`reference`]); none or several is an error that
    /// says which.
    pub async fn find(&mut self, reference: &str, narrowing: &Narrowing) -> Result<pb::Item> {
        reference::find(self, reference, narrowing).await
    }

    /// Items related to `request.id`, breadth-first.
    pub async fn related(&mut self, request: pb::RelatedRequest) -> Result<Vec<pb::RelatedHit>> {
        Ok(self.query.related(request).await?.into_inner().hits)
    }

    /// The live ancestors of `id`, up to clusters and accounts.
    pub async fn walk_up(&mut self, id: u64) -> Result<pb::WalkUpResponse> {
        self.walk_up_with(pb::WalkUpRequest { id, ..Default::default() }).await
    }

    pub async fn walk_up_with(&mut self, request: pb::WalkUpRequest) -> Result<pb::WalkUpResponse> {
        Ok(self.query.walk_up(request).await?.into_inner())
    }

    /// One page of items; pass `next_cursor` back as `cursor` for the next.
    pub async fn list(&mut self, request: pb::ListRequest) -> Result<pb::ListResponse> {
        Ok(self.query.list(request).await?.into_inner())
    }

    pub async fn count_by_health(&mut self, request: pb::HealthCountsRequest) -> Result<pb::HealthCounts> {
        Ok(self.query.count_by_health(request).await?.into_inner())
    }

    /// The shortest path between two items, edges followed either way.
    pub async fn path(&mut self, request: pb::PathRequest) -> Result<pb::PathResponse> {
        Ok(self.query.path(request).await?.into_inner())
    }

    /// Changes, newest first.
    pub async fn changes(&mut self, request: pb::ChangesRequest) -> Result<Vec<pb::Change>> {
        Ok(self.query.changes(request).await?.into_inner().changes)
    }

    /// Changes to `item` and everything related to it within `depth` steps, as they happen.
    pub async fn watch_item(&mut self, item: u64, depth: u32) -> Result<Streaming<pb::WatchEvent>> {
        self.watch(pb::WatchRequest { target: Some(pb::watch_request::Target::Item(item)), depth }).await
    }

    /// Changes to the items of a scope, as they happen.
    pub async fn watch_scope(&mut self, scope: pb::ScopeFilter) -> Result<Streaming<pb::WatchEvent>> {
        self.watch(pb::WatchRequest { target: Some(pb::watch_request::Target::Scope(scope)), depth: 0 }).await
    }

    async fn watch(&mut self, request: pb::WatchRequest) -> Result<Streaming<pb::WatchEvent>> {
        Ok(self.query.watch(request).await?.into_inner())
    }

    /// The scrapers the server runs and how each is doing.
    pub async fn scrapers(&mut self) -> Result<Vec<pb::ScraperStatus>> {
        Ok(self.query.scrapers(pb::ScrapersRequest {}).await?.into_inner().scrapers)
    }

    /// Asks the server to scrape the AWS source `name` again now, in every region (or to read
    /// the custom source `name` again).
    pub async fn rescrape(&mut self, name: &str) -> Result<()> {
        self.ingest.rescrape(pb::RescrapeRequest { name: name.to_owned() }).await?;
        Ok(())
    }

    /// Asks the server to write a checkpoint of its store to `dir` (on the server's machine, not
    /// existing yet); returns the stream sequence the checkpoint covers (0 without a stream).
    pub async fn checkpoint(&mut self, dir: &str) -> Result<u64> {
        let taken = self.admin.checkpoint(pb::CheckpointRequest { dir: dir.to_owned() }).await?.into_inner();
        Ok(taken.stream_sequence)
    }

    /// Opens an ingest stream fed by `batches`: one acknowledgement per batch, in order, as
    /// the server applies them (for senders that pace themselves by the acknowledgements).
    pub async fn ingest_stream(
        &mut self,
        batches: impl tokio_stream::Stream<Item = pb::IngestRequest> + Send + 'static,
    ) -> Result<Streaming<pb::IngestAck>> {
        Ok(self.ingest.ingest(batches).await?.into_inner())
    }

    /// Sends `batches` on one ingest stream and returns their acknowledgements, in order.
    pub async fn ingest(&mut self, batches: Vec<pb::IngestRequest>) -> Result<Vec<pb::IngestAck>> {
        let mut acks = self.ingest.ingest(tokio_stream::iter(batches)).await?.into_inner();
        let mut out = Vec::new();
        while let Some(ack) = acks.message().await? {
            out.push(ack);
        }
        Ok(out)
    }
}
