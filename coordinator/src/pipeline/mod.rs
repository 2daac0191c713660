//! The scan pipeline the Raft leader runs: the scheduler turns due artifacts into jobs
//! (recorded in Raft, then published), and ingestion turns workers' results into Raft
//! proposals (acknowledged to the queue only after commit). Both run on every coordinator and
//! act only while it leads, so a new leader picks up from the replicated state.

pub mod ingest;
pub mod reevaluate;
pub mod scheduler;

use std::sync::Arc;
use std::time::Duration;

use argus_worker::queue::Queue;
use argus_worker::vulndb::DbSlot;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::PipelineConfig;
use crate::node::Node;

/// The scheduler and ingestion tasks of one node.
pub struct Pipeline {
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Pipeline {
    /// Starts the scheduler and ingestion; with `db` (the vulnerability DB this node follows),
    /// also re-evaluation when it moves to a newer version.
    pub fn start(node: Arc<Node>, queue: Queue, config: PipelineConfig, db: Option<DbSlot>) -> Self {
        let (stop, stopped) = watch::channel(false);
        let mut tasks = vec![
            tokio::spawn(scheduler::run(
                node.clone(),
                queue.clone(),
                config.clone(),
                stopped.clone(),
            )),
            tokio::spawn(ingest::run(node.clone(), queue, config.clone(), stopped.clone())),
        ];
        if let Some(db) = db {
            let tick = Duration::from_millis(config.tick_ms.max(10));
            tasks.push(tokio::spawn(reevaluate::run(node, db, tick, stopped)));
        }
        Self { stop, tasks }
    }

    /// Runs `task` until the pipeline stops (e.g. the watch that keeps a DB slot current).
    pub fn spawn_with_stop<F, Fut>(&mut self, task: F)
    where
        F: FnOnce(watch::Receiver<bool>) -> Fut,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        self.tasks.push(tokio::spawn(task(self.stop.subscribe())));
    }

    /// Stops both tasks; work in flight stays recorded in Raft and in the queue.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

/// Resolves when `stopped` turns true.
pub(crate) async fn stopping(stopped: &mut watch::Receiver<bool>) {
    let _ = stopped.wait_for(|s| *s).await;
}
