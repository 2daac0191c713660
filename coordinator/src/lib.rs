//! The Argus coordinator: Raft-replicated inventory, findings and coverage (openraft on
//! RocksDB), the `argus.v1` gRPC API and the resumable findings feed. The `argus` binary's
//! command-line surface lives in `src/cli` beside it.

pub mod agent;
pub mod api;
pub mod client;
pub mod config;
pub mod discovery;
pub mod embedded;
pub mod error;
pub mod node;
pub mod pipeline;
pub mod proposer;
pub mod raft;
pub mod reachability;
pub mod state;
pub mod targets;
pub mod telemetry;

pub use error::{Error, Result};
