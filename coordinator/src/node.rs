//! One coordinator node: RocksDB, Raft, the state machine, group commit, and the gRPC server
//! that carries both the public API and the Raft traffic between coordinators.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use argus_proto::internal::v1::raft_service_client::RaftServiceClient;
use argus_proto::internal::v1::{
    command, command_result, Command, CommandResult, CompactChangeLog, MarkStaleInventories, ProposeRequest,
};
use openraft::{BasicNode, SnapshotPolicy};
use tokio::net::TcpListener;
use tonic::transport::{Channel, Endpoint};
use tracing::warn;

use crate::config::CoordinatorConfig;
use crate::error::{Error, Result};
use crate::proposer::Proposer;
use crate::raft::service::ProposeHandler;
use crate::raft::{self, NodeId, Raft};
use crate::state::State;

/// Largest gRPC message accepted or sent (Raft batches, snapshot chunks, big pages).
pub const MAX_MESSAGE_BYTES: usize = 64 << 20;

pub struct Node {
    pub id: NodeId,
    /// host:port this node is reached at.
    pub address: String,
    pub raft: Raft,
    pub state: Arc<State>,
    pub config: CoordinatorConfig,
    proposer: Proposer,
    /// Connections to the leader for forwarded writes, by address.
    forward: Mutex<HashMap<String, RaftServiceClient<Channel>>>,
}

impl Node {
    /// Opens (or creates) the node's storage and starts Raft. A new node is not a cluster
    /// member until `argus cluster init` or `add-learner` makes it one.
    pub async fn start(config: CoordinatorConfig) -> Result<Arc<Node>> {
        let data = &config.data_dir;
        std::fs::create_dir_all(data).map_err(|e| Error::io(data, e))?;
        raft::backup::check_no_interrupted_restore(data)?;
        let db = raft::store::open(&data.join(raft::DB_DIR))?;
        let state = Arc::new(State::new(db.clone())?);
        let log_store = raft::log_store::LogStore::new(db.clone())?;
        let state_machine =
            raft::state_machine::StateMachine::open(db.clone(), state.clone(), data.join(raft::SNAPSHOT_DIR))?;
        let raft_config = openraft::Config {
            cluster_name: "argus".into(),
            heartbeat_interval: config.heartbeat_ms,
            election_timeout_min: config.election_timeout_min_ms,
            election_timeout_max: config.election_timeout_max_ms,
            snapshot_policy: SnapshotPolicy::LogsSinceLast(config.snapshot_every_entries),
            snapshot_max_chunk_size: config.snapshot_chunk_bytes,
            max_in_snapshot_log_to_keep: config.snapshot_keep_log_entries,
            max_payload_entries: config.max_payload_entries,
            install_snapshot_timeout: 30_000,
            ..Default::default()
        }
        .validate()
        .map_err(|e| Error::Config(e.to_string()))?;
        let raft = Raft::new(
            config.node_id,
            Arc::new(raft_config),
            raft::network::Network::new(),
            log_store,
            state_machine,
        )
        .await
        .map_err(|e| Error::Raft(e.to_string()))?;
        let proposer = Proposer::start(
            raft.clone(),
            config.max_batch_commands,
            config.max_batch_bytes,
            config.max_inflight_proposals,
        );
        let node = Arc::new(Node {
            id: config.node_id,
            address: config.advertised(),
            raft,
            state,
            config,
            proposer,
            forward: Mutex::new(HashMap::new()),
        });
        tokio::spawn(housekeeping(Arc::downgrade(&node)));
        Ok(node)
    }

    /// The current leader's id and address, as this node knows them.
    pub fn leader(&self) -> Option<(NodeId, String)> {
        // Every write asks: read under the borrow rather than cloning the whole metrics.
        let metrics = self.raft.metrics();
        let m = metrics.borrow();
        let id = m.current_leader?;
        let addr = m
            .membership_config
            .membership()
            .get_node(&id)
            .map(|n: &BasicNode| n.addr.clone())?;
        Some((id, addr))
    }

    pub fn is_leader(&self) -> bool {
        self.raft.metrics().borrow().current_leader == Some(self.id)
    }

    /// Returns once this node, still the leader, has applied every entry committed before
    /// (those of earlier leaders included): what a new leader reads of the state is then
    /// complete.
    pub async fn leader_caught_up(&self) -> Result<()> {
        self.raft
            .ensure_linearizable()
            .await
            .map(|_| ())
            .map_err(|e| Error::Raft(e.to_string()))
    }

    /// Applies one command through Raft from any node: the leader batches it, a follower
    /// forwards it to the leader. Retries across leader changes until `write_timeout_ms`;
    /// retrying is safe because every command is idempotent.
    pub async fn write(&self, command: Command) -> Result<CommandResult> {
        let deadline = Instant::now() + Duration::from_millis(self.config.write_timeout_ms);
        let mut backoff = Duration::from_millis(20);
        loop {
            let attempt = match self.leader() {
                Some((id, _)) if id == self.id => self.proposer.submit(command.clone()).await,
                Some((_, addr)) => self.forward(&addr, command.clone()).await,
                None => Err(Error::NoLeader),
            };
            match attempt {
                Err(e) if e.is_retryable() && Instant::now() + backoff < deadline => {
                    warn!(node_id = self.id, error = %e, "write retried");
                    // Wake early when the leader changes rather than sleeping the full backoff.
                    let mut metrics = self.raft.metrics();
                    let before = metrics.borrow().current_leader;
                    let _ = tokio::time::timeout(backoff, metrics.wait_for(|m| m.current_leader != before)).await;
                    backoff = (backoff * 2).min(Duration::from_millis(500));
                }
                other => return other,
            }
        }
    }

    async fn forward(&self, addr: &str, command: Command) -> Result<CommandResult> {
        let mut client = {
            let mut cache = self.forward.lock().expect("forward cache lock");
            match cache.get(addr) {
                Some(c) => c.clone(),
                None => {
                    let channel = Endpoint::from_shared(format!("http://{addr}"))
                        .map_err(|e| Error::Transport(e.to_string()))?
                        .connect_timeout(Duration::from_secs(2))
                        .timeout(Duration::from_millis(self.config.write_timeout_ms))
                        .connect_lazy();
                    let c = RaftServiceClient::new(channel)
                        .max_decoding_message_size(MAX_MESSAGE_BYTES)
                        .max_encoding_message_size(MAX_MESSAGE_BYTES);
                    cache.insert(addr.to_string(), c.clone());
                    c
                }
            }
        };
        let resp = client.propose(ProposeRequest { command: Some(command) }).await;
        match resp {
            Ok(r) => r
                .into_inner()
                .result
                .ok_or_else(|| Error::Transport("empty propose response".into())),
            Err(s) if s.code() == tonic::Code::Unavailable => Err(Error::Transport(s.message().to_string())),
            Err(s) => Err(Error::Forwarded(s)),
        }
    }

    /// Serves the gRPC API and Raft on `listener` until `shutdown` resolves, then stops Raft.
    pub async fn serve(self: Arc<Self>, listener: TcpListener, shutdown: impl Future<Output = ()>) -> Result<()> {
        let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
        let rpc = raft::service::RaftRpc::new(self.raft.clone(), self.clone());
        // Graceful shutdown waits for open streams; live feed subscriptions never end on their
        // own, so they are told to stop when shutdown begins.
        let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
        let stop = async move {
            let _ = stop_rx.wait_for(|s| *s).await;
        };
        let shutdown = async move {
            shutdown.await;
            let _ = stop_tx.send(true);
        };
        let result = tonic::transport::Server::builder()
            .tcp_nodelay(true)
            .trace_fn(server_span)
            .add_routes(crate::api::routes_until(&self, stop))
            .add_service(raft::service::server(rpc))
            .serve_with_incoming_shutdown(incoming, shutdown)
            .await
            .map_err(|e| Error::Transport(e.to_string()));
        if let Err(e) = self.raft.shutdown().await {
            warn!(node_id = self.id, error = %e, "raft shutdown");
        }
        result
    }
}

#[tonic::async_trait]
impl ProposeHandler for Node {
    async fn propose(&self, command: Command) -> Result<CommandResult> {
        self.write(command).await
    }
}

/// A server span for each public API call, joined to the caller's trace when the request
/// carries one. Raft traffic, health checks and reflection are left untraced: they are
/// frequent and say nothing about a user's operation.
fn server_span(request: &tonic::codegen::http::Request<()>) -> tracing::Span {
    let path = request.uri().path();
    let Some((service, method)) = path.strip_prefix('/').and_then(|p| p.split_once('/')) else {
        return tracing::Span::none();
    };
    if !service.starts_with("argus.v1.") {
        return tracing::Span::none();
    }
    let span = tracing::info_span!(
        "grpc.server",
        otel.name = %format_args!("{service}/{method}"),
        otel.kind = "server",
        rpc.system = "grpc",
        rpc.service = service,
        rpc.method = method,
    );
    let context: Vec<(String, String)> = ["traceparent", "tracestate"]
        .into_iter()
        .filter_map(|k| {
            let v = request.headers().get(k)?.to_str().ok()?;
            Some((k.to_string(), v.to_string()))
        })
        .collect();
    argus_worker::telemetry::adopt(&span, &context);
    span
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("install SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

/// The leader trims the change log and marks stale host inventories periodically. The
/// cut-offs travel in the commands, so every replica drops and marks exactly the same entries.
async fn housekeeping(node: std::sync::Weak<Node>) {
    let Some(every) = node.upgrade().map(|n| n.config.change_log_compact_interval_secs.max(1)) else {
        return;
    };
    let mut tick = tokio::time::interval(Duration::from_secs(every));
    tick.tick().await;
    loop {
        tick.tick().await;
        let Some(node) = node.upgrade() else { return };
        if !node.is_leader() {
            continue;
        }
        let before = SystemTime::now() - Duration::from_secs(node.config.change_log_retention_secs);
        let command = Command {
            kind: Some(command::Kind::CompactChangeLog(CompactChangeLog {
                before: Some(before.into()),
                keep_last: node.config.change_log_keep_last,
            })),
        };
        if let Err(e) = node.proposer.submit(command).await {
            warn!(node_id = node.id, error = %e, "change log compaction failed");
        }
        if node.config.inventory_stale_after_secs > 0 {
            mark_stale_inventories(&node).await;
        }
    }
}

/// Proposes `MarkStaleInventories` in bounded commands until no stale report is left.
async fn mark_stale_inventories(node: &Node) {
    let before = SystemTime::now() - Duration::from_secs(node.config.inventory_stale_after_secs);
    loop {
        let command = Command {
            kind: Some(command::Kind::MarkStaleInventories(MarkStaleInventories {
                before: Some(before.into()),
                limit: 1000,
            })),
        };
        match node.proposer.submit(command).await.map(|r| r.kind) {
            Ok(Some(command_result::Kind::MarkStaleInventories(r))) => {
                if r.marked > 0 {
                    tracing::info!(node_id = node.id, marked = r.marked, "host inventories marked stale");
                }
                if !r.more {
                    return;
                }
            }
            Ok(other) => {
                warn!(node_id = node.id, result = ?other, "marking stale inventories was refused");
                return;
            }
            Err(e) => {
                warn!(node_id = node.id, error = %e, "marking stale inventories failed");
                return;
            }
        }
    }
}
