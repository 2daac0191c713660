//! The server side of `argus.internal.v1.RaftService`: openraft messages from the other
//! coordinators, and writes a follower forwards to the leader.

use std::sync::Arc;

use argus_proto::internal::v1::raft_service_server::{RaftService, RaftServiceServer};
use argus_proto::internal::v1::{Command, CommandResult, ProposeRequest, ProposeResponse, RaftPayload};
use openraft::raft::{AppendEntriesRequest, InstallSnapshotRequest, VoteRequest};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tonic::{Request, Response, Status};

use super::network::MAX_MESSAGE_BYTES;
use super::{codec, NodeId, Raft, TypeConfig};
use crate::error::Error;

/// Applies a write forwarded by another coordinator (implemented by the node, which proposes it
/// when it leads and forwards it again otherwise).
#[tonic::async_trait]
pub trait ProposeHandler: Send + Sync + 'static {
    async fn propose(&self, command: Command) -> crate::Result<CommandResult>;
}

pub struct RaftRpc {
    raft: Raft,
    propose: Arc<dyn ProposeHandler>,
}

impl RaftRpc {
    pub fn new(raft: Raft, propose: Arc<dyn ProposeHandler>) -> Self {
        RaftRpc { raft, propose }
    }
}

/// The gRPC service, with message limits matching what `network` sends.
pub fn server(rpc: RaftRpc) -> RaftServiceServer<RaftRpc> {
    RaftServiceServer::new(rpc)
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES)
}

fn decode_request<T: DeserializeOwned>(request: Request<RaftPayload>) -> Result<T, Status> {
    codec::decode(&request.into_inner().data).map_err(|e| Status::invalid_argument(e.to_string()))
}

/// Openraft's answer, error included, goes back as payload: the caller tells a refusal by the
/// peer (a `RemoteError`) from a failed transport (a gRPC status).
fn encode_reply<T: Serialize>(answer: &T) -> Result<Response<RaftPayload>, Status> {
    let data = codec::encode(answer).map_err(|e| Status::internal(e.to_string()))?;
    Ok(Response::new(RaftPayload { data: data.into() }))
}

/// How a forwarded write's failure reaches the follower that forwarded it.
pub fn status_of(error: &Error) -> Status {
    let message = error.to_string();
    match error {
        Error::InvalidArgument(_) => Status::invalid_argument(message),
        Error::NotFound(_) => Status::not_found(message),
        Error::CursorExpired { .. } => Status::failed_precondition(message),
        // Unavailable tells the forwarding node to retry (against the new leader, if any).
        Error::NoLeader | Error::NotLeader { .. } | Error::Shutdown | Error::Transport(_) | Error::Raft(_) => {
            Status::unavailable(message)
        }
        Error::Forwarded(status) => status.clone(),
        _ => Status::internal(message),
    }
}

#[tonic::async_trait]
impl RaftService for RaftRpc {
    async fn append_entries(&self, request: Request<RaftPayload>) -> Result<Response<RaftPayload>, Status> {
        let rpc: AppendEntriesRequest<TypeConfig> = decode_request(request)?;
        encode_reply(&self.raft.append_entries(rpc).await)
    }

    async fn vote(&self, request: Request<RaftPayload>) -> Result<Response<RaftPayload>, Status> {
        let rpc: VoteRequest<NodeId> = decode_request(request)?;
        encode_reply(&self.raft.vote(rpc).await)
    }

    async fn install_snapshot(&self, request: Request<RaftPayload>) -> Result<Response<RaftPayload>, Status> {
        let rpc: InstallSnapshotRequest<TypeConfig> = decode_request(request)?;
        encode_reply(&self.raft.install_snapshot(rpc).await)
    }

    async fn propose(&self, request: Request<ProposeRequest>) -> Result<Response<ProposeResponse>, Status> {
        let command = request
            .into_inner()
            .command
            .ok_or_else(|| Status::invalid_argument("propose: the request carries no command"))?;
        let result = self.propose.propose(command).await.map_err(|e| status_of(&e))?;
        Ok(Response::new(ProposeResponse { result: Some(result) }))
    }
}
