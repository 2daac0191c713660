//! The scan pipeline the Raft leader runs: the scheduler turns due artifacts into jobs
//! (recorded in Raft, then published), and ingestion turns workers' results into Raft
//! proposals (acknowledged to the queue only after commit). Both run on every coordinator and
//! act only while it leads, so a new leader picks up from the replicated state.

pub mod ingest;
pub mod scheduler;

use std::sync::Arc;

use argus_worker::queue::Queue;
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
    pub fn start(node: Arc<Node>, queue: Queue, config: PipelineConfig) -> Self {
        let (stop, stopped) = watch::channel(false);
        let tasks = vec![
            tokio::spawn(scheduler::run(
                node.clone(),
                queue.clone(),
                config.clone(),
                stopped.clone(),
            )),
            tokio::spawn(ingest::run(node, queue, config, stopped)),
        ];
        Self { stop, tasks }
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
