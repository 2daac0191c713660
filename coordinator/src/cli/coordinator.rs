//! `argus coordinator`: run one coordinator node.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use argus_coordinator::config::Config;
use argus_coordinator::discovery::Discovery;
use argus_coordinator::node::{shutdown_signal, Node};
use argus_coordinator::pipeline::{reevaluate, Pipeline};
use argus_coordinator::telemetry;
use argus_worker::queue::Queue;
use argus_worker::vulndb::distribute;
use clap::Args;
use tokio::net::TcpListener;
use tracing::info;

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
    /// NATS server for scan jobs and results (`nats://host:4222`); while this node leads it
    /// schedules scans and ingests results. Overrides `pipeline.nats_url`.
    #[arg(long, env = "ARGUS_NATS")]
    pub nats: Option<String>,
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
    let nats = args.nats.or_else(|| config.pipeline.nats_url.clone());
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        let listener = TcpListener::bind(c.listen)
            .await
            .with_context(|| format!("listening on {}", c.listen))?;
        let node = Node::start(c).await?;
        let pipeline = match nats {
            Some(url) => {
                let queue = Queue::connect_nats(&url, config.queue.clone())
                    .await
                    .with_context(|| format!("connecting to NATS at {url}"))?;
                telemetry::observe_node(&node, Some(queue.clone()), &config.telemetry);
                let mut pipeline = Pipeline::start(node.clone(), queue, config.pipeline.clone(), None);
                let js = distribute::connect(&url)
                    .await
                    .with_context(|| format!("connecting to NATS at {url}"))?;
                let (n, bucket) = (node.clone(), config.pipeline.db_bucket.clone());
                let dir = node.config.data_dir.join("vulndb");
                let tick = std::time::Duration::from_millis(config.pipeline.tick_ms.max(10));
                pipeline.spawn_with_stop(move |stopped| reevaluate::follow_store(n, js, bucket, dir, tick, stopped));
                Some(pipeline)
            }
            None => {
                telemetry::observe_node(&node, None, &config.telemetry);
                None
            }
        };
        let discovery = config
            .discovery
            .enabled
            .then(|| Discovery::start(node.clone(), config.discovery.clone()));
        info!(
            node_id = node.id,
            address = %node.address,
            pipeline = pipeline.is_some(),
            discovery = discovery.is_some(),
            "coordinator serving"
        );
        let served = node.serve(listener, shutdown_signal()).await;
        if let Some(d) = discovery {
            d.stop().await;
        }
        if let Some(p) = pipeline {
            p.stop().await;
        }
        served?;
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}
