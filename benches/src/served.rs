//! A store served over loopback gRPC in the bench's own process, and ingest through it.

use crate::BenchStore;
use graphd::server::Limits;
use graphd_proto::v1 as pb;
use graphd_proto::v1::ingest_service_client::IngestServiceClient;
use std::sync::Arc;
use std::time::Instant;
use tonic::transport::Channel;

/// `graphd::server::serve` on a free loopback port, until [`Served::stop`].
#[derive(Debug)]
pub struct Served {
    /// A connection to it, for clients of any service.
    pub channel: Channel,
    stop: tokio::sync::oneshot::Sender<()>,
    server: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Served {
    pub async fn start(store: Arc<BenchStore>) -> Served {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(graphd::server::serve(store, listener, Limits::default(), Arc::default(), async {
            let _ = stopped.await;
        }));
        let channel = Channel::from_shared(addr).unwrap().connect().await.unwrap();
        Served { channel, stop, server }
    }

    /// Sends `requests` on one ingest stream, every batch applied; the seconds until the last
    /// acknowledgement.
    pub async fn ingest(&self, requests: Vec<pb::IngestRequest>) -> f64 {
        let mut ingest = IngestServiceClient::new(self.channel.clone())
            .max_decoding_message_size(64 << 20)
            .max_encoding_message_size(64 << 20);
        let started = Instant::now();
        let mut acks = ingest.ingest(tokio_stream::iter(requests)).await.unwrap().into_inner();
        while let Some(ack) = acks.message().await.unwrap() {
            assert!(ack.applied, "{}", ack.error);
        }
        started.elapsed().as_secs_f64()
    }

    pub async fn stop(self) {
        let _ = self.stop.send(());
        self.server.await.unwrap().unwrap();
    }
}
