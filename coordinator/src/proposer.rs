//! Group commit on the leader. Every write waits for a synced Raft log append, and this
//! machine syncs a few hundred times a second; throughput comes from putting many commands in
//! one proposal (one log entry, one sync on each node) while earlier proposals are in flight.

use std::sync::Arc;
use std::time::SystemTime;

use argus_proto::internal::v1::{Command, CommandResult, Proposal};
use openraft::error::{ClientWriteError, RaftError};
use prost::Message;
use tokio::sync::{mpsc, oneshot, Semaphore};
use tracing::debug;

use crate::error::{Error, Result};
use crate::raft::{NodeId, Raft, Request};

struct Pending {
    command: Command,
    reply: oneshot::Sender<Result<CommandResult>>,
}

#[derive(Clone)]
pub struct Proposer {
    tx: mpsc::Sender<Pending>,
}

impl Proposer {
    /// Starts the batching task. `max_batch` commands at most go into one proposal, and at
    /// most `max_inflight` proposals await commit at once; commands arriving meanwhile queue
    /// and form the next batch.
    /// A batch also stops growing at `max_bytes` of encoded commands (a single larger command
    /// goes alone): followers must receive, decode and sync an entry within openraft's
    /// replication timeout, which is the heartbeat interval.
    pub fn start(raft: Raft, max_batch: usize, max_bytes: usize, max_inflight: usize) -> Self {
        let max_batch = max_batch.max(1);
        let (tx, rx) = mpsc::channel(max_batch * max_inflight.max(1) * 2);
        tokio::spawn(batch_loop(raft, rx, max_batch, max_bytes, max_inflight.max(1)));
        Self { tx }
    }

    /// Proposes one command (with whatever else is queued) and waits for it to be applied.
    /// Fails with `NotLeader` when this node is not the leader.
    pub async fn submit(&self, command: Command) -> Result<CommandResult> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Pending { command, reply })
            .await
            .map_err(|_| Error::Shutdown)?;
        rx.await.map_err(|_| Error::Shutdown)?
    }
}

async fn batch_loop(
    raft: Raft,
    mut rx: mpsc::Receiver<Pending>,
    max_batch: usize,
    max_bytes: usize,
    max_inflight: usize,
) {
    let permits = Arc::new(Semaphore::new(max_inflight));
    // A command that did not fit the previous batch starts the next one.
    let mut carried: Option<Pending> = None;
    loop {
        let first = match carried.take() {
            Some(p) => p,
            None => match rx.recv().await {
                Some(p) => p,
                None => return,
            },
        };
        let Ok(permit) = permits.clone().acquire_owned().await else {
            return;
        };
        // While we waited for a free slot more commands queued up: they ride along.
        let mut bytes = first.command.encoded_len();
        let mut batch = vec![first];
        while batch.len() < max_batch {
            match rx.try_recv() {
                Ok(p) => {
                    let len = p.command.encoded_len();
                    if bytes + len > max_bytes {
                        carried = Some(p);
                        break;
                    }
                    bytes += len;
                    batch.push(p);
                }
                Err(_) => break,
            }
        }
        let raft = raft.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let (commands, replies): (Vec<_>, Vec<_>) = batch.into_iter().map(|p| (p.command, p.reply)).unzip();
            let n = commands.len();
            let proposal = Proposal {
                now: Some(SystemTime::now().into()),
                commands,
            };
            match raft.client_write(Request::new(proposal)).await {
                Ok(resp) => {
                    let results = resp.data.0.results;
                    debug_assert_eq!(results.len(), n, "one result per command");
                    debug!(commands = n, index = resp.log_id.index, "proposal applied");
                    for (result, reply) in results.into_iter().zip(replies) {
                        let _ = reply.send(Ok(result));
                    }
                }
                Err(e) => {
                    for reply in replies {
                        let _ = reply.send(Err(write_error(&e)));
                    }
                }
            }
        });
    }
}

fn write_error(e: &RaftError<NodeId, ClientWriteError<NodeId, openraft::BasicNode>>) -> Error {
    match e {
        RaftError::APIError(ClientWriteError::ForwardToLeader(f)) => Error::NotLeader {
            leader_id: f.leader_id,
            leader_addr: f.leader_node.as_ref().map(|n| n.addr.clone()),
        },
        RaftError::Fatal(openraft::error::Fatal::Stopped) => Error::Shutdown,
        other => Error::Raft(other.to_string()),
    }
}
