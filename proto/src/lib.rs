//! graphd's public gRPC contract: the code generated from `proto/graphd/v1/graph.proto`.
//!
//! This crate holds generated code and the descriptor set for reflection only; conversions to
//! domain types live with the server.

#[allow(missing_debug_implementations, clippy::all)]
pub mod v1 {
    tonic::include_proto!("graphd.v1");

    /// The encoded file descriptors, for gRPC server reflection.
    pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("graphd_v1_descriptor");
}
