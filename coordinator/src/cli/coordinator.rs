//! `argus coordinator`: run one coordinator node.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use argus_coordinator::config::Config;

#[derive(Debug, Args)]
pub struct CoordinatorArgs {
    /// This node's Raft id (unique in the cluster, never reused).
    #[arg(long, env = "ARGUS_NODE_ID")]
    pub node_id: Option<u64>,
    /// Address to serve the API and Raft on.
    #[arg(long, env = "ARGUS_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// host:port the other nodes and clients reach this node at (default: --listen).
    #[arg(long, env = "ARGUS_ADVERTISE")]
    pub advertise: Option<String>,
    /// Directory for the RocksDB store and snapshots.
    #[arg(long, env = "ARGUS_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
}

pub fn run(args: CoordinatorArgs, config: &Config) -> anyhow::Result<ExitCode> {
    let mut c = config.coordinator.clone();
    if let Some(v) = args.node_id {
        c.node_id = v;
    }
    if let Some(v) = args.listen {
        c.listen = v;
    }
    if let Some(v) = args.advertise {
        c.advertise = Some(v);
    }
    if let Some(v) = args.data_dir {
        c.data_dir = v;
    }
    anyhow::ensure!(c.node_id > 0, "--node-id must be at least 1");
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(argus_coordinator::node::run(c))?;
    Ok(ExitCode::SUCCESS)
}
