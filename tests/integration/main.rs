//! Integration tests over real RocksDB on disk, gathered in one binary so it links once.

mod concurrency;
mod durability;
mod fleet_grpc;
mod fleet_store;
mod linking;
mod order;
