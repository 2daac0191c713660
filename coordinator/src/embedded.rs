//! The embedded stack `argus up` runs: one single-node coordinator, the in-process queue (the
//! same delivery semantics as JetStream: ack, redelivery after ack_wait, attempts) and N worker
//! loops, all in one process. The scheduler and ingestion are the very ones a cluster runs.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use argus_worker::queue::Queue;
use argus_worker::runner::{self, RunnerConfig};
use argus_worker::vulndb::DbSlot;
use openraft::BasicNode;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::{info, warn};

use crate::config::Config;
use crate::error::{Error, Result};
use crate::node::Node;
use crate::pipeline::Pipeline;

/// How the embedded workers run.
pub struct WorkerOptions {
    pub workers: usize,
    /// Jobs each worker runs at once.
    pub concurrency: usize,
    pub scan: argus_worker::ScanOptions,
    /// Sleep this long instead of fetching and scanning (the control plane's load test).
    pub simulate: Option<Duration>,
    /// Packages in a simulated scan's synthetic inventory.
    pub simulate_packages: usize,
}

pub struct EmbeddedOptions {
    /// Watched when given: a newer database written there (`argus db import`) is switched to
    /// between jobs and triggers re-evaluation.
    pub db_path: Option<std::path::PathBuf>,
    /// The queue; the in-process one when unset (the load test passes a NATS one).
    pub queue: Option<Queue>,
    pub workers: WorkerOptions,
}

pub struct Embedded {
    pub node: Arc<Node>,
    pub queue: Queue,
    pub db: DbSlot,
    pub address: String,
    pipeline: Option<Pipeline>,
    workers: Vec<JoinHandle<()>>,
    stop_workers: watch::Sender<bool>,
    server: JoinHandle<Result<()>>,
    stop_server: watch::Sender<bool>,
}

impl Embedded {
    /// Starts everything and returns once the node leads its one-node cluster.
    pub async fn start(config: &Config, db: DbSlot, options: EmbeddedOptions) -> Result<Embedded> {
        let EmbeddedOptions {
            db_path,
            queue,
            workers,
        } = options;
        let listener = TcpListener::bind(config.coordinator.listen)
            .await
            .map_err(|e| Error::io(format!("listen {}", config.coordinator.listen), e))?;
        let mut coordinator = config.coordinator.clone();
        // The port actually bound (the configuration may ask for port 0).
        let bound = listener.local_addr().map_err(|e| Error::io("listener", e))?;
        if coordinator.advertise.is_none() {
            coordinator.advertise = Some(bound.to_string());
        }
        let node = Node::start(coordinator).await?;
        let members = BTreeMap::from([(node.id, BasicNode::new(&node.address))]);
        // Asked of the Raft core, which has loaded the log: the metrics may not show a
        // restarted node's membership yet, and initializing it again would be refused.
        let initialized = node
            .raft
            .is_initialized()
            .await
            .map_err(|e| Error::Raft(e.to_string()))?;
        if !initialized {
            info!(node_id = node.id, "initializing the one-node cluster");
            node.raft
                .initialize(members)
                .await
                .map_err(|e| Error::Raft(e.to_string()))?;
        }
        node.raft
            .wait(Some(Duration::from_secs(30)))
            .metrics(|m| m.current_leader == Some(m.id), "embedded node leads")
            .await
            .map_err(|e| Error::Raft(e.to_string()))?;

        let (stop_server, mut server_stopped) = watch::channel(false);
        let server = tokio::spawn(node.clone().serve(listener, async move {
            let _ = server_stopped.wait_for(|s| *s).await;
        }));

        let queue = queue.unwrap_or_else(|| Queue::memory(config.queue.clone()));
        crate::telemetry::observe_node(&node, Some(queue.clone()), &config.telemetry);
        let mut pipeline = Pipeline::start(node.clone(), queue.clone(), config.pipeline.clone(), Some(db.clone()));
        if let Some(path) = db_path {
            let (slot, every) = (db.clone(), Duration::from_secs(2));
            pipeline
                .spawn_with_stop(move |stopped| crate::pipeline::reevaluate::watch_file(path, slot, every, stopped));
        }
        if config.discovery.enabled {
            let (n, c) = (node.clone(), config.discovery.clone());
            pipeline.spawn_with_stop(move |stopped| crate::discovery::run(n, c, stopped));
        }

        let (stop_workers, workers_stopped) = watch::channel(false);
        // One access for all workers: entered accounts and ECR logins are shared.
        let cloud = argus_worker::cloud::CloudAccess::new(config.artifact_access.clone());
        let handles = (0..workers.workers.max(1))
            .map(|i| {
                let cfg = RunnerConfig {
                    concurrency: workers.concurrency.max(1),
                    scan: workers.scan.clone(),
                    simulate: workers.simulate,
                    simulate_packages: workers.simulate_packages,
                    cloud: cloud.clone(),
                    // Well within ack_wait, or a long scan would be delivered a second time.
                    progress_every: (config.queue.ack_wait / 3).max(Duration::from_millis(50)),
                    ..RunnerConfig::new(format!("embedded-{}", i + 1))
                };
                let queue = queue.clone();
                let db = db.clone();
                let mut stopped = workers_stopped.clone();
                tokio::spawn(async move {
                    let shutdown = async move {
                        let _ = stopped.wait_for(|s| *s).await;
                    };
                    if let Err(e) = runner::run(queue, db, cfg, shutdown).await {
                        warn!(error = %e, "embedded worker stopped");
                    }
                })
            })
            .collect();
        Ok(Embedded {
            address: node.address.clone(),
            node,
            queue,
            db,
            pipeline: Some(pipeline),
            workers: handles,
            stop_workers,
            server,
            stop_server,
        })
    }

    /// Stops the workers (finishing or handing back their jobs), the pipeline and the server.
    pub async fn shutdown(mut self) -> Result<()> {
        let _ = self.stop_workers.send(true);
        for w in self.workers.drain(..) {
            let _ = w.await;
        }
        if let Some(p) = self.pipeline.take() {
            p.stop().await;
        }
        let _ = self.stop_server.send(true);
        match self.server.await {
            Ok(r) => r,
            Err(e) => Err(Error::Raft(format!("server task: {e}"))),
        }
    }

    /// Runs until `signal` resolves, then shuts down.
    pub async fn serve_until(self, signal: impl Future<Output = ()>) -> Result<()> {
        signal.await;
        self.shutdown().await
    }
}
