//! Raft messages between coordinators over gRPC (`argus.internal.v1.RaftService`), each openraft
//! message carried as `codec` bytes in a `RaftPayload`.
//!
//! Error mapping, which decides how openraft retries: a request that never got an answer
//! (connection refused, reset, deadline) is `Unreachable`, so openraft backs off; an answer
//! carrying openraft's own error is `RemoteError`; an undecodable answer is `Network`.

use std::collections::HashMap;
use std::future::Future;
use std::io::SeekFrom;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use argus_proto::internal::v1::raft_service_client::RaftServiceClient;
use argus_proto::internal::v1::RaftPayload;
use openraft::error::{
    Fatal, InstallSnapshotError, NetworkError, PayloadTooLarge, RPCError, RaftError, RemoteError, ReplicationClosed,
    StreamingError, Unreachable,
};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse, SnapshotResponse,
    VoteRequest, VoteResponse,
};
use openraft::{BasicNode, ErrorSubject, ErrorVerb, Snapshot, StorageError, Vote};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tonic::transport::{Channel, Endpoint};
use tracing::warn;

use super::{codec, NodeId, TypeConfig};
use crate::error::Error;

/// Largest gRPC message either side accepts or sends between coordinators.
pub const MAX_MESSAGE_BYTES: usize = 256 << 20;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// HTTP/2 pings notice a peer that vanished without closing the connection, which is what
/// bounds the long wait for the last snapshot chunk below.
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(5);
const KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(10);
/// The receiver installs the snapshot before answering the last chunk; with millions of records
/// that takes far longer than openraft's per-chunk timeout.
const FINAL_CHUNK_TIMEOUT: Duration = Duration::from_secs(30 * 60);
const DEFAULT_CHUNK_BYTES: usize = 3 << 20;
/// Consecutive transient failures on one snapshot chunk before the transfer is abandoned (and
/// restarted later by openraft).
const CHUNK_RETRIES: u32 = 5;

/// Builds a connection per target; connections to the same address share one HTTP/2 channel.
#[derive(Clone, Default)]
pub struct Network {
    channels: Arc<Mutex<HashMap<String, Channel>>>,
}

impl Network {
    pub fn new() -> Network {
        Network::default()
    }

    fn channel(&self, addr: &str) -> Result<Channel, Error> {
        let mut channels = self.channels.lock().expect("channel cache lock");
        if let Some(channel) = channels.get(addr) {
            return Ok(channel.clone());
        }
        let endpoint = Endpoint::from_shared(format!("http://{addr}"))
            .map_err(|e| Error::Transport(format!("raft peer address {addr}: {e}")))?
            .connect_timeout(CONNECT_TIMEOUT)
            .tcp_nodelay(true)
            .http2_keep_alive_interval(KEEPALIVE_INTERVAL)
            .keep_alive_timeout(KEEPALIVE_TIMEOUT)
            .keep_alive_while_idle(true);
        // Lazy: connects on first use and reconnects after failures by itself.
        let channel = endpoint.connect_lazy();
        channels.insert(addr.to_string(), channel.clone());
        Ok(channel)
    }
}

impl RaftNetworkFactory<TypeConfig> for Network {
    type Network = Connection;

    async fn new_client(&mut self, target: NodeId, node: &BasicNode) -> Connection {
        let client = match self.channel(&node.addr) {
            Ok(channel) => Ok(RaftServiceClient::new(channel)
                .max_decoding_message_size(MAX_MESSAGE_BYTES)
                .max_encoding_message_size(MAX_MESSAGE_BYTES)),
            Err(e) => {
                warn!(target, addr = %node.addr, error = %e, "unusable raft peer address");
                Err(e.to_string())
            }
        };
        Connection {
            target,
            node: node.clone(),
            client,
        }
    }
}

/// Raft RPCs to one peer.
pub struct Connection {
    target: NodeId,
    node: BasicNode,
    /// An address that cannot even be parsed makes every request fail as unreachable.
    client: Result<RaftServiceClient<Channel>, String>,
}

#[derive(Clone, Copy, Debug)]
enum Call {
    AppendEntries,
    Vote,
    InstallSnapshot,
}

/// A request that failed before an answer came back.
enum Failure {
    Unreachable(Unreachable),
    Network(NetworkError),
}

impl<E: std::error::Error> From<Failure> for RPCError<NodeId, BasicNode, E> {
    fn from(f: Failure) -> Self {
        match f {
            Failure::Unreachable(e) => RPCError::Unreachable(e),
            Failure::Network(e) => RPCError::Network(e),
        }
    }
}

fn network_error(e: &Error) -> NetworkError {
    NetworkError::new(e)
}

impl Connection {
    /// Sends one encoded request and decodes the answer as openraft's `Result`, splitting
    /// remote errors from transport failures.
    async fn call<Req, Resp, E>(
        &mut self,
        call: Call,
        request: &Req,
        timeout: Duration,
    ) -> Result<Resp, RPCError<NodeId, BasicNode, E>>
    where
        Req: Serialize,
        Resp: DeserializeOwned,
        E: std::error::Error + DeserializeOwned,
    {
        let data = codec::encode(request).map_err(|e| Failure::Network(network_error(&e)))?;
        let answer = self.send(call, data, timeout).await?;
        let decoded: Result<Resp, E> = codec::decode(&answer).map_err(|e| Failure::Network(network_error(&e)))?;
        decoded.map_err(|e| RPCError::RemoteError(RemoteError::new_with_node(self.target, self.node.clone(), e)))
    }

    async fn send(&mut self, call: Call, data: Vec<u8>, timeout: Duration) -> Result<Vec<u8>, Failure> {
        let client = match &mut self.client {
            Ok(client) => client,
            Err(e) => return Err(Failure::Unreachable(Unreachable::new(&Error::Transport(e.clone())))),
        };
        let mut request = tonic::Request::new(RaftPayload { data: data.into() });
        request.set_timeout(timeout);
        let sent = tokio::time::timeout(timeout, async {
            match call {
                Call::AppendEntries => client.append_entries(request).await,
                Call::Vote => client.vote(request).await,
                Call::InstallSnapshot => client.install_snapshot(request).await,
            }
        })
        .await;
        match sent {
            Ok(Ok(response)) => Ok(response.into_inner().data.to_vec()),
            Ok(Err(status)) => Err(Failure::Unreachable(Unreachable::new(&Error::Transport(format!(
                "{call:?} to node {} at {}: {status}",
                self.target, self.node.addr
            ))))),
            Err(_) => Err(Failure::Unreachable(Unreachable::new(&Error::Transport(format!(
                "{call:?} to node {} at {}: no answer within {timeout:?}",
                self.target, self.node.addr
            ))))),
        }
    }
}

impl RaftNetwork<TypeConfig> for Connection {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<NodeId>, RPCError<NodeId, BasicNode, RaftError<NodeId>>> {
        let entries = rpc.entries.len() as u64;
        // A message over the limit would be refused by gRPC on every retry; telling openraft it
        // is too large makes it send fewer entries instead.
        let size: usize = rpc.entries.iter().map(approximate_size).sum();
        if entries > 1 && size > MAX_MESSAGE_BYTES / 2 {
            return Err(RPCError::PayloadTooLarge(PayloadTooLarge::new_entries_hint(
                entries / 2,
            )));
        }
        self.call(Call::AppendEntries, &rpc, option.hard_ttl()).await
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<InstallSnapshotResponse<NodeId>, RPCError<NodeId, BasicNode, RaftError<NodeId, InstallSnapshotError>>>
    {
        let timeout = if rpc.done {
            FINAL_CHUNK_TIMEOUT.max(option.hard_ttl())
        } else {
            option.hard_ttl()
        };
        self.call(Call::InstallSnapshot, &rpc, timeout).await
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<NodeId>,
        option: RPCOption,
    ) -> Result<VoteResponse<NodeId>, RPCError<NodeId, BasicNode, RaftError<NodeId>>> {
        self.call(Call::Vote, &rpc, option.hard_ttl()).await
    }

    /// Streams the snapshot file in chunks of `option.snapshot_chunk_size()`, reading one chunk
    /// at a time. Unlike openraft's default sender, the last chunk (whose answer waits for the
    /// receiver to install the whole snapshot) gets [`FINAL_CHUNK_TIMEOUT`].
    async fn full_snapshot(
        &mut self,
        vote: Vote<NodeId>,
        mut snapshot: Snapshot<TypeConfig>,
        cancel: impl Future<Output = ReplicationClosed> + Send + 'static,
        option: RPCOption,
    ) -> Result<SnapshotResponse<NodeId>, StreamingError<TypeConfig, Fatal<NodeId>>> {
        let signature = snapshot.meta.signature();
        let read_err = |e: std::io::Error| {
            StorageError::from_io_error(ErrorSubject::Snapshot(Some(signature.clone())), ErrorVerb::Read, e)
        };
        let chunk_size = option
            .snapshot_chunk_size()
            .unwrap_or(DEFAULT_CHUNK_BYTES)
            .clamp(1, MAX_MESSAGE_BYTES / 2);
        let end = snapshot.snapshot.seek(SeekFrom::End(0)).await.map_err(read_err)?;
        let mut cancel = std::pin::pin!(cancel);
        let mut offset = 0u64;
        let mut failures = 0u32;
        loop {
            snapshot
                .snapshot
                .seek(SeekFrom::Start(offset))
                .await
                .map_err(read_err)?;
            let mut data = Vec::with_capacity(chunk_size.min((end - offset) as usize));
            (&mut snapshot.snapshot)
                .take(chunk_size as u64)
                .read_to_end(&mut data)
                .await
                .map_err(read_err)?;
            let done = offset + data.len() as u64 >= end;
            let sent = data.len() as u64;
            let request = InstallSnapshotRequest {
                vote,
                meta: snapshot.meta.clone(),
                offset,
                data,
                done,
            };
            let answer = tokio::select! {
                closed = &mut cancel => return Err(closed.into()),
                answer = self.install_snapshot(request, option.clone()) => answer,
            };
            let transient: StreamingError<TypeConfig, Fatal<NodeId>> = match answer {
                Ok(resp) => {
                    if resp.vote > vote || done {
                        return Ok(SnapshotResponse::new(resp.vote));
                    }
                    offset += sent;
                    failures = 0;
                    continue;
                }
                Err(RPCError::RemoteError(remote)) => match remote.source {
                    RaftError::Fatal(fatal) => {
                        return Err(RemoteError {
                            target: remote.target,
                            target_node: remote.target_node,
                            source: fatal,
                        }
                        .into())
                    }
                    RaftError::APIError(InstallSnapshotError::SnapshotMismatch(mismatch)) => {
                        warn!(target = self.target, %mismatch, "snapshot stream out of step, restarting it");
                        offset = 0;
                        failures = 0;
                        continue;
                    }
                },
                Err(RPCError::Unreachable(e)) => e.into(),
                Err(RPCError::Network(e)) => e.into(),
                Err(RPCError::Timeout(e)) => e.into(),
                Err(RPCError::PayloadTooLarge(e)) => NetworkError::new(&e).into(),
            };
            failures += 1;
            if failures >= CHUNK_RETRIES {
                return Err(transient);
            }
            warn!(target = self.target, offset, failures, error = %transient, "snapshot chunk failed, retrying");
            tokio::time::sleep(Duration::from_millis(50 << failures.min(4))).await;
        }
    }
}

/// A cheap upper-bound-ish estimate of an entry's encoded size (its payload dominates).
fn approximate_size(entry: &openraft::Entry<TypeConfig>) -> usize {
    match &entry.payload {
        openraft::EntryPayload::Normal(request) => request.encoded_len() + 64,
        _ => 256,
    }
}
