//! The gRPC server: queries, ingest, checkpoints, standard health checking and server
//! reflection, on one listener, until shutdown.

mod admin;
pub mod apply;
pub mod convert;
mod ingest;
mod metrics;
mod query;
mod status;
mod watch;

use crate::GraphStore;
use graphd_proto::v1::admin_service_server::AdminServiceServer;
use graphd_proto::v1::ingest_service_server::IngestServiceServer;
use graphd_proto::v1::query_service_server::QueryServiceServer;
use std::future::Future;
use std::sync::Arc;
use tokio::net::TcpListener;

pub use metrics::{serve_metrics, Metrics};

/// What one call may cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Results a related walk may return before it is refused as too broad.
    pub max_related: usize,
    /// The largest gRPC message accepted, in bytes (an ingest batch, mostly).
    pub max_message_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_related: 100_000, max_message_bytes: 16 << 20 }
    }
}

/// Accepted connections with Nagle's algorithm off: a small answer goes out at once instead of
/// waiting for the client's delayed ACK (≈40 ms per round trip otherwise).
fn incoming(listener: TcpListener) -> impl tokio_stream::Stream<Item = std::io::Result<tokio::net::TcpStream>> {
    use tokio_stream::StreamExt;
    tokio_stream::wrappers::TcpListenerStream::new(listener).map(|accepted| {
        let stream = accepted?;
        stream.set_nodelay(true)?;
        Ok(stream)
    })
}

/// Serves `store` on `listener` until `shutdown` completes, then drains in-flight calls.
pub async fn serve(
    store: Arc<GraphStore>,
    listener: TcpListener,
    limits: Limits,
    metrics: Arc<Metrics>,
    shutdown: impl Future<Output = ()> + Send,
) -> anyhow::Result<()> {
    let (stop_watches, stopping) = tokio::sync::watch::channel(false);
    let shutdown = async move {
        shutdown.await;
        // Watches never end by themselves; the server drains calls only once they have.
        let _ = stop_watches.send(true);
    };
    routes(store, limits, metrics, stopping).await?.serve_with_incoming_shutdown(incoming(listener), shutdown).await?;
    Ok(())
}

/// A channel to a server inside this process, over an in-memory pipe: the command line reads
/// a data dir through exactly the code that answers remote clients. The server ends when the
/// channel is dropped.
pub async fn in_process_channel(store: Arc<GraphStore>) -> anyhow::Result<tonic::transport::Channel> {
    let (client_io, server_io) = tokio::io::duplex(1 << 20);
    let (_, stopping) = tokio::sync::watch::channel(false);
    let routes = routes(store, Limits::default(), Arc::default(), stopping).await?;
    tokio::spawn(routes.serve_with_incoming(tokio_stream::once(Ok::<_, std::io::Error>(server_io))));
    let mut client_io = Some(client_io);
    let channel = tonic::transport::Endpoint::from_static("http://in-process")
        .connect_with_connector(tower::service_fn(move |_: tonic::transport::Uri| {
            let io = client_io.take().map(hyper_util::rt::TokioIo::new);
            async move { io.ok_or_else(|| std::io::Error::other("the in-process connection was already made")) }
        }))
        .await?;
    Ok(channel)
}

/// Every service graphd answers: queries, ingest, admin, health checking, reflection.
async fn routes(
    store: Arc<GraphStore>,
    limits: Limits,
    metrics: Arc<Metrics>,
    stopping: tokio::sync::watch::Receiver<bool>,
) -> anyhow::Result<tonic::transport::server::Router> {
    let (health_reporter, health) = tonic_health::server::health_reporter();
    health_reporter.set_serving::<QueryServiceServer<query::Queries>>().await;
    health_reporter.set_serving::<IngestServiceServer<ingest::Ingest>>().await;
    health_reporter.set_serving::<AdminServiceServer<admin::Admin>>().await;
    let feed = watch::Feed::attach(&store, stopping);
    // Both versions of reflection: grpcurl asks v1 first; Postman, Python's grpcio-reflection
    // and older tools only know v1alpha.
    let reflection = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(graphd_proto::v1::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
    };
    let router = tonic::transport::Server::builder()
        .add_service(health)
        .add_service(reflection().build_v1()?)
        .add_service(reflection().build_v1alpha()?)
        .add_service(
            QueryServiceServer::new(query::Queries::new(Arc::clone(&store), feed, limits, Arc::clone(&metrics)))
                .max_decoding_message_size(limits.max_message_bytes)
                .max_encoding_message_size(limits.max_message_bytes),
        )
        .add_service(
            IngestServiceServer::new(ingest::Ingest::new(Arc::clone(&store), metrics))
                .max_decoding_message_size(limits.max_message_bytes),
        )
        .add_service(AdminServiceServer::new(admin::Admin::new(store)));
    Ok(router)
}
