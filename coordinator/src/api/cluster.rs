//! `argus.v1.ClusterService`: cluster membership through Raft, and this node's view of the
//! cluster. Membership changes run on the leader; a follower relays them there.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use argus_proto::internal::v1::ChangeLogBounds;
use argus_proto::v1::cluster_service_client::ClusterServiceClient;
use argus_proto::v1::cluster_service_server::ClusterService;
use argus_proto::v1::{
    AddLearnerRequest, AddLearnerResponse, BackupChunk, BackupRequest, ClusterStatusRequest, ClusterStatusResponse,
    InitClusterRequest, InitClusterResponse, MemberStatus, NodeRole, PromoteRequest, PromoteResponse,
    RemoveNodeRequest, RemoveNodeResponse, TriggerSnapshotRequest, TriggerSnapshotResponse,
};
use futures::stream::{BoxStream, StreamExt};
use openraft::error::{ChangeMembershipError, ClientWriteError, Fatal, InitializeError, RaftError};
use openraft::metrics::WaitError;
use openraft::{BasicNode, ChangeMembers, LogId, RaftMetrics, ServerState, Snapshot, StoredMembership};
use tokio::io::AsyncReadExt;
use tonic::metadata::MetadataValue;
use tonic::transport::{Channel, Endpoint};
use tonic::{Request, Response, Status};
use tracing::info;

use super::read;
use crate::error::Error;
use crate::node::{Node, MAX_MESSAGE_BYTES};
use crate::raft::{NodeId, Raft, TypeConfig};

/// Marks an admin request relayed by a follower, so that the receiver does not relay it again
/// (two nodes that each believe the other leads would otherwise bounce it between them).
pub const FORWARDED_METADATA: &str = "argus-forwarded";

/// How long a backup waits for the snapshot it asked for; building one is a pass over the
/// whole state.
const BACKUP_BUILD_WAIT: Duration = Duration::from_secs(600);
/// Bounds on one backup chunk: the configured snapshot chunk size, within what a gRPC message
/// may carry.
const BACKUP_CHUNK_MIN: u64 = 64 << 10;
const BACKUP_CHUNK_MAX: u64 = (MAX_MESSAGE_BYTES / 2) as u64;

/// How long InitCluster waits for the first leader before answering.
const INIT_LEADER_WAIT: Duration = Duration::from_secs(3);

type Client = ClusterServiceClient<Channel>;
type Metrics = RaftMetrics<NodeId, BasicNode>;

pub struct ClusterApi {
    node: Arc<Node>,
}

impl ClusterApi {
    pub fn new(node: Arc<Node>) -> Self {
        Self { node }
    }

    fn metrics(&self) -> Metrics {
        self.node.raft.metrics().borrow().clone()
    }

    fn membership(&self) -> Arc<StoredMembership<NodeId, BasicNode>> {
        self.node.raft.metrics().borrow().membership_config.clone()
    }

    /// Runs a membership change here when this node leads, or relays the request to the leader.
    async fn on_leader<Req, Resp, Here, HereFut, Relay, RelayFut>(
        &self,
        request: Request<Req>,
        here: Here,
        relay_call: Relay,
    ) -> Result<Response<Resp>, Status>
    where
        Req: Clone,
        Here: FnOnce(Req) -> HereFut,
        HereFut: Future<Output = Result<Resp, Error>>,
        Relay: FnOnce(Client, Request<Req>) -> RelayFut,
        RelayFut: Future<Output = Result<Response<Resp>, Status>>,
    {
        let forwarded = request.metadata().contains_key(FORWARDED_METADATA);
        let req = request.into_inner();
        let leader = if self.node.is_leader() {
            match here(req.clone()).await {
                Ok(resp) => return Ok(Response::new(resp)),
                // Leadership moved before the change was appended: nothing happened here.
                Err(Error::NotLeader {
                    leader_addr: Some(addr),
                    ..
                }) if !forwarded => addr,
                Err(e) => return Err(e.into()),
            }
        } else {
            match self.node.leader() {
                Some((_, addr)) if !forwarded => addr,
                Some((id, addr)) => {
                    return Err(Error::NotLeader {
                        leader_id: Some(id),
                        leader_addr: Some(addr),
                    }
                    .into())
                }
                None => return Err(Error::NoLeader.into()),
            }
        };
        relay(&leader, req, relay_call).await
    }

    async fn add_learner_here(&self, req: AddLearnerRequest) -> Result<AddLearnerResponse, Error> {
        let (id, node) = member(req.node.as_ref())?;
        if let Some(existing) = self.membership().membership().get_node(&id) {
            if existing.addr != node.addr {
                return Err(Error::InvalidArgument(format!(
                    "node {id} is already a member at {}: remove it before adding it at another address",
                    existing.addr
                )));
            }
        }
        info!(node_id = id, address = %node.addr, wait = req.wait_caught_up, "adding learner");
        let resp = self
            .node
            .raft
            .add_learner(id, node, req.wait_caught_up)
            .await
            .map_err(write_error)?;
        Ok(AddLearnerResponse {
            log_index: resp.log_id.index,
        })
    }

    async fn promote_here(&self, req: PromoteRequest) -> Result<PromoteResponse, Error> {
        let id = req.node_id;
        let stored = self.membership();
        if stored.membership().get_node(&id).is_none() {
            return Err(Error::InvalidArgument(format!(
                "node {id} is not a member of the cluster: add it as a learner first"
            )));
        }
        if stored.membership().voter_ids().any(|v| v == id) {
            // Already a voter: promoting again changes nothing.
            return Ok(PromoteResponse {
                log_index: stored.log_id().map_or(0, |l| l.index),
            });
        }
        info!(node_id = id, "promoting learner to voter");
        let resp = self
            .node
            .raft
            .change_membership(ChangeMembers::AddVoterIds(BTreeSet::from([id])), false)
            .await
            .map_err(write_error)?;
        Ok(PromoteResponse {
            log_index: resp.log_id.index,
        })
    }

    async fn remove_here(&self, req: RemoveNodeRequest) -> Result<RemoveNodeResponse, Error> {
        let id = req.node_id;
        let stored = self.membership();
        let membership = stored.membership();
        if membership.get_node(&id).is_none() {
            return Err(Error::InvalidArgument(format!(
                "node {id} is not a member of the cluster"
            )));
        }
        let mut log_index = stored.log_id().map_or(0, |l| l.index);
        let mut still_member = true;
        if membership.voter_ids().any(|v| v == id) {
            info!(node_id = id, "removing voter");
            // Not retained as a learner: the node leaves the membership altogether.
            let resp = self
                .node
                .raft
                .change_membership(ChangeMembers::RemoveVoters(BTreeSet::from([id])), false)
                .await
                .map_err(write_error)?;
            log_index = resp.log_id.index;
            still_member = resp.membership.as_ref().is_none_or(|m| m.get_node(&id).is_some());
        }
        if still_member {
            info!(node_id = id, "removing learner");
            let resp = self
                .node
                .raft
                .change_membership(ChangeMembers::RemoveNodes(BTreeSet::from([id])), false)
                .await
                .map_err(write_error)?;
            log_index = resp.log_id.index;
        }
        Ok(RemoveNodeResponse { log_index })
    }

    async fn init_here(&self, req: InitClusterRequest) -> Result<InitClusterResponse, Error> {
        let members = if req.members.is_empty() {
            BTreeMap::from([(self.node.id, BasicNode::new(&self.node.address))])
        } else {
            let mut members = BTreeMap::new();
            for m in &req.members {
                let (id, node) = member(Some(m))?;
                if members.insert(id, node).is_some() {
                    return Err(Error::InvalidArgument(format!("node {id} is listed twice")));
                }
            }
            members
        };
        if !members.contains_key(&self.node.id) {
            return Err(Error::InvalidArgument(format!(
                "the members must include the node receiving the request (node {})",
                self.node.id
            )));
        }
        if is_initialized(&self.membership()) {
            return already_initialized(&self.membership(), &members);
        }
        info!(members = ?members, "initializing cluster");
        match self.node.raft.initialize(members.clone()).await {
            Ok(()) => {}
            // Another request initialized it in the meantime.
            Err(RaftError::APIError(InitializeError::NotAllowed(_))) => {
                return already_initialized(&self.membership(), &members);
            }
            Err(RaftError::APIError(InitializeError::NotInMembers(e))) => {
                return Err(Error::InvalidArgument(e.to_string()));
            }
            Err(RaftError::Fatal(f)) => return Err(fatal_error(f)),
        }
        // Answer once a leader is known, so that writes sent right after succeed quickly; a
        // cluster whose other members are not up yet elects one later.
        let _ = self
            .node
            .raft
            .wait(Some(INIT_LEADER_WAIT))
            .metrics(|m| m.current_leader.is_some(), "first leader")
            .await;
        Ok(InitClusterResponse {})
    }
}

#[tonic::async_trait]
impl ClusterService for ClusterApi {
    type BackupStream = BoxStream<'static, Result<BackupChunk, Status>>;

    async fn init_cluster(
        &self,
        request: Request<InitClusterRequest>,
    ) -> Result<Response<InitClusterResponse>, Status> {
        // Not relayed: initializing concerns the node that receives it.
        self.init_here(request.into_inner())
            .await
            .map(Response::new)
            .map_err(Status::from)
    }

    async fn add_learner(&self, request: Request<AddLearnerRequest>) -> Result<Response<AddLearnerResponse>, Status> {
        member(request.get_ref().node.as_ref())?;
        self.on_leader(
            request,
            |req| self.add_learner_here(req),
            |mut c: Client, r| async move { c.add_learner(r).await },
        )
        .await
    }

    async fn promote(&self, request: Request<PromoteRequest>) -> Result<Response<PromoteResponse>, Status> {
        node_id(request.get_ref().node_id)?;
        self.on_leader(
            request,
            |req| self.promote_here(req),
            |mut c: Client, r| async move { c.promote(r).await },
        )
        .await
    }

    async fn remove_node(&self, request: Request<RemoveNodeRequest>) -> Result<Response<RemoveNodeResponse>, Status> {
        node_id(request.get_ref().node_id)?;
        self.on_leader(
            request,
            |req| self.remove_here(req),
            |mut c: Client, r| async move { c.remove_node(r).await },
        )
        .await
    }

    async fn trigger_snapshot(
        &self,
        _request: Request<TriggerSnapshotRequest>,
    ) -> Result<Response<TriggerSnapshotResponse>, Status> {
        // Not relayed: every node builds its own snapshots. Raft builds it in the background;
        // ClusterStatus shows the new snapshot index once it is done.
        info!(node_id = self.node.id, "snapshot requested");
        self.node.raft.trigger().snapshot().await.map_err(fatal_error)?;
        Ok(Response::new(TriggerSnapshotResponse {}))
    }

    async fn backup(&self, _request: Request<BackupRequest>) -> Result<Response<Self::BackupStream>, Status> {
        // Not relayed: the node asked serves its own applied state, whatever its role.
        let Some(applied) = self.metrics().last_applied else {
            return Err(Error::FailedPrecondition(
                "this node has applied nothing yet: there is nothing to back up".into(),
            )
            .into());
        };
        info!(node_id = self.node.id, applied = %applied, "backup requested");
        let snapshot = snapshot_at_least(&self.node.raft, applied).await?;
        let meta = snapshot.meta;
        let mut file = *snapshot.snapshot;
        let total = file.metadata().await.map_err(|e| Error::io("snapshot file", e))?.len();
        let last = meta.last_log_id.expect("a snapshot at or after an applied log id");
        let head = BackupChunk {
            node_id: self.node.id,
            last_log_index: last.index,
            last_log_term: last.leader_id.term,
            snapshot_id: meta.snapshot_id.clone(),
            total_bytes: total,
            offset: 0,
            data: Vec::new(),
        };
        info!(node_id = self.node.id, snapshot_id = %meta.snapshot_id, bytes = total, "backup streaming");
        let chunk = self
            .node
            .config
            .snapshot_chunk_bytes
            .clamp(BACKUP_CHUNK_MIN, BACKUP_CHUNK_MAX) as usize;
        let (tx, rx) = tokio::sync::mpsc::channel(2);
        // The open handle keeps the file readable even if a newer snapshot replaces it meanwhile.
        tokio::spawn(async move {
            let mut offset = 0u64;
            loop {
                let mut data = vec![0u8; chunk];
                let mut filled = 0;
                while filled < chunk {
                    match file.read(&mut data[filled..]).await {
                        Ok(0) => break,
                        Ok(n) => filled += n,
                        Err(e) => {
                            let _ = tx
                                .send(Err(Status::internal(format!("reading the snapshot: {e}"))))
                                .await;
                            return;
                        }
                    }
                }
                if filled == 0 {
                    break;
                }
                data.truncate(filled);
                let piece = BackupChunk {
                    offset,
                    data,
                    ..head.clone()
                };
                offset += filled as u64;
                if tx.send(Ok(piece)).await.is_err() {
                    // The client went away.
                    return;
                }
            }
            if offset != total {
                let _ = tx
                    .send(Err(Status::internal(format!(
                        "the snapshot file ended at {offset} of {total} bytes"
                    ))))
                    .await;
            }
        });
        Ok(Response::new(tokio_stream::wrappers::ReceiverStream::new(rx).boxed()))
    }

    async fn cluster_status(
        &self,
        _request: Request<ClusterStatusRequest>,
    ) -> Result<Response<ClusterStatusResponse>, Status> {
        let bounds = read(&self.node.state, |s| s.change_log_bounds()).await?;
        Ok(Response::new(cluster_status(self.node.id, &self.metrics(), &bounds)))
    }
}

/// The node's current snapshot once it includes `applied`, building one as needed: a snapshot
/// being built when the request came may stop short of it, so the build is asked for again
/// until one reaches it.
async fn snapshot_at_least(raft: &Raft, applied: LogId<NodeId>) -> Result<Snapshot<TypeConfig>, Error> {
    let deadline = tokio::time::Instant::now() + BACKUP_BUILD_WAIT;
    loop {
        let current = raft.get_snapshot().await.map_err(|e| match e {
            RaftError::APIError(never) => match never {},
            RaftError::Fatal(f) => fatal_error(f),
        })?;
        let before = match current {
            Some(s) if s.meta.last_log_id >= Some(applied) => return Ok(s),
            Some(s) => s.meta.last_log_id,
            None => None,
        };
        raft.trigger().snapshot().await.map_err(fatal_error)?;
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        raft.wait(Some(left))
            .metrics(|m| m.snapshot != before, "a snapshot is built")
            .await
            .map_err(|e| match e {
                WaitError::ShuttingDown => Error::Shutdown,
                WaitError::Timeout(..) => Error::Raft(format!(
                    "no snapshot including log index {} was built within {BACKUP_BUILD_WAIT:?}",
                    applied.index
                )),
            })?;
    }
}

/// Sends `req` to the leader at `addr` and passes its answer through unchanged.
async fn relay<Req, Resp, Call, Fut>(addr: &str, req: Req, call: Call) -> Result<Response<Resp>, Status>
where
    Call: FnOnce(Client, Request<Req>) -> Fut,
    Fut: Future<Output = Result<Response<Resp>, Status>>,
{
    let channel = Endpoint::from_shared(format!("http://{addr}"))
        .map_err(|e| Error::Transport(format!("leader address {addr}: {e}")))?
        .connect_timeout(Duration::from_secs(2))
        .connect()
        .await
        .map_err(|e| Error::Transport(format!("cannot reach the leader at {addr}: {e}")))?;
    let client = ClusterServiceClient::new(channel)
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES);
    let mut request = Request::new(req);
    request
        .metadata_mut()
        .insert(FORWARDED_METADATA, MetadataValue::from_static("1"));
    call(client, request).await
}

fn node_id(id: NodeId) -> Result<NodeId, Error> {
    if id == 0 {
        return Err(Error::InvalidArgument("node_id must be a positive integer".into()));
    }
    Ok(id)
}

/// A member as a request names it: a non-zero id and a `host:port` address.
fn member(node: Option<&argus_proto::v1::Node>) -> Result<(NodeId, BasicNode), Error> {
    let node = node.ok_or_else(|| Error::InvalidArgument("node is required".into()))?;
    let id = node_id(node.node_id)?;
    let addr = node.address.trim();
    if addr.is_empty() {
        return Err(Error::InvalidArgument(format!("node {id}: address is required")));
    }
    let valid = addr
        .rsplit_once(':')
        .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0))
        && !addr.contains(['/', ' ', '\t', '\n']);
    if !valid {
        return Err(Error::InvalidArgument(format!(
            "node {id}: address {addr:?} is not host:port"
        )));
    }
    Ok((id, BasicNode::new(addr)))
}

fn is_initialized(stored: &StoredMembership<NodeId, BasicNode>) -> bool {
    stored.membership().nodes().next().is_some()
}

/// A repeated InitCluster with the membership the cluster already has succeeds; any other
/// fails, since a cluster is initialized once.
fn already_initialized(
    stored: &StoredMembership<NodeId, BasicNode>,
    members: &BTreeMap<NodeId, BasicNode>,
) -> Result<InitClusterResponse, Error> {
    let membership = stored.membership();
    let voters: BTreeSet<NodeId> = membership.voter_ids().collect();
    let same = voters == members.keys().copied().collect::<BTreeSet<_>>()
        && members
            .iter()
            .all(|(id, n)| membership.get_node(id).is_some_and(|m| m.addr == n.addr));
    if same {
        return Ok(InitClusterResponse {});
    }
    let current: Vec<String> = membership
        .nodes()
        .map(|(id, n)| format!("{id}@{}{}", n.addr, if voters.contains(id) { "" } else { " (learner)" }))
        .collect();
    Err(Error::FailedPrecondition(format!(
        "the cluster is already initialized with members [{}]: change it with add-learner, promote and remove",
        current.join(", ")
    )))
}

fn write_error(e: RaftError<NodeId, ClientWriteError<NodeId, BasicNode>>) -> Error {
    match e {
        RaftError::APIError(ClientWriteError::ForwardToLeader(f)) => Error::NotLeader {
            leader_id: f.leader_id,
            leader_addr: f.leader_node.map(|n| n.addr),
        },
        RaftError::APIError(ClientWriteError::ChangeMembershipError(e)) => match e {
            ChangeMembershipError::InProgress(p) => Error::FailedPrecondition(format!(
                "another membership change is in progress ({p}): retry once it completes"
            )),
            ChangeMembershipError::EmptyMembership(_) => {
                Error::InvalidArgument("the cluster must keep at least one voter".into())
            }
            ChangeMembershipError::LearnerNotFound(l) => Error::InvalidArgument(format!(
                "node {} is not a learner of the cluster: add it as a learner first",
                l.node_id
            )),
        },
        RaftError::Fatal(f) => fatal_error(f),
    }
}

fn fatal_error(f: Fatal<NodeId>) -> Error {
    match f {
        Fatal::Stopped => Error::Shutdown,
        other => Error::Raft(other.to_string()),
    }
}

fn server_state(s: ServerState) -> &'static str {
    match s {
        ServerState::Learner => "Learner",
        ServerState::Follower => "Follower",
        ServerState::Candidate => "Candidate",
        ServerState::Leader => "Leader",
        ServerState::Shutdown => "Shutdown",
    }
}

/// This node's view of the cluster. Replication progress (matched index, lag) is known on the
/// leader only.
fn cluster_status(node_id: NodeId, m: &Metrics, bounds: &ChangeLogBounds) -> ClusterStatusResponse {
    let membership = m.membership_config.membership();
    let voters: BTreeSet<NodeId> = membership.voter_ids().collect();
    let last_log = m.last_log_index;
    let members = membership
        .nodes()
        .map(|(id, node)| {
            let matched = m.replication.as_ref().and_then(|r| match r.get(id) {
                Some(matched) => Some(matched.map_or(0, |l| l.index)),
                // The leader tracks itself implicitly: it has its whole log.
                None if *id == node_id => last_log,
                None => None,
            });
            let role = if voters.contains(id) {
                NodeRole::Voter
            } else {
                NodeRole::Learner
            };
            MemberStatus {
                node: Some(argus_proto::v1::Node {
                    node_id: *id,
                    address: node.addr.clone(),
                }),
                role: role as i32,
                matched_index: matched,
                lag: matched.map(|i| last_log.unwrap_or(0).saturating_sub(i)),
            }
        })
        .collect();
    ClusterStatusResponse {
        node_id,
        state: server_state(m.state).to_string(),
        leader_id: m.current_leader,
        leader_address: m
            .current_leader
            .and_then(|id| membership.get_node(&id))
            .map(|n| n.addr.clone())
            .unwrap_or_default(),
        term: m.current_term,
        last_log_index: last_log,
        last_applied: m.last_applied.map(|l| l.index),
        snapshot_index: m.snapshot.map(|l| l.index),
        purged_index: m.purged.map(|l| l.index),
        members,
        change_log_first: bounds.first,
        change_log_last: bounds.next.saturating_sub(1),
    }
}

#[cfg(test)]
mod tests {
    use openraft::{CommittedLeaderId, LogId, Membership};

    use super::*;

    fn log_id(index: u64) -> LogId<NodeId> {
        LogId::new(CommittedLeaderId::new(3, 1), index)
    }

    fn three_nodes_and_a_learner() -> Membership<NodeId, BasicNode> {
        let nodes = BTreeMap::from([
            (1, BasicNode::new("127.0.0.1:7401")),
            (2, BasicNode::new("127.0.0.1:7402")),
            (3, BasicNode::new("127.0.0.1:7403")),
            (4, BasicNode::new("127.0.0.1:7404")),
        ]);
        Membership::new(vec![BTreeSet::from([1, 2, 3])], nodes)
    }

    fn leader_metrics() -> Metrics {
        let mut m = Metrics::new_initial(1);
        m.state = ServerState::Leader;
        m.current_leader = Some(1);
        m.current_term = 3;
        m.last_log_index = Some(120);
        m.last_applied = Some(log_id(120));
        m.snapshot = Some(log_id(100));
        m.purged = Some(log_id(90));
        m.membership_config = Arc::new(StoredMembership::new(Some(log_id(7)), three_nodes_and_a_learner()));
        m.replication = Some(BTreeMap::from([
            (1, Some(log_id(120))),
            (2, Some(log_id(118))),
            (3, None),
            (4, Some(log_id(60))),
        ]));
        m
    }

    fn bounds(first: u64, next: u64) -> ChangeLogBounds {
        ChangeLogBounds {
            version: 1,
            first,
            next,
        }
    }

    #[test]
    fn the_leader_reports_every_members_role_and_lag() {
        let s = cluster_status(1, &leader_metrics(), &bounds(5, 501));
        assert_eq!((s.node_id, s.state.as_str(), s.term), (1, "Leader", 3));
        assert_eq!((s.leader_id, s.leader_address.as_str()), (Some(1), "127.0.0.1:7401"));
        assert_eq!(
            (s.last_log_index, s.last_applied, s.snapshot_index, s.purged_index),
            (Some(120), Some(120), Some(100), Some(90))
        );
        assert_eq!((s.change_log_first, s.change_log_last), (5, 500));
        let members: Vec<(u64, i32, Option<u64>, Option<u64>)> = s
            .members
            .iter()
            .map(|m| (m.node.as_ref().unwrap().node_id, m.role, m.matched_index, m.lag))
            .collect();
        assert_eq!(
            members,
            [
                (1, NodeRole::Voter as i32, Some(120), Some(0)),
                (2, NodeRole::Voter as i32, Some(118), Some(2)),
                // Nothing replicated yet: the whole log is outstanding.
                (3, NodeRole::Voter as i32, Some(0), Some(120)),
                (4, NodeRole::Learner as i32, Some(60), Some(60)),
            ]
        );
    }

    #[test]
    fn a_follower_reports_members_without_replication_progress() {
        let mut m = leader_metrics();
        m.id = 2;
        m.state = ServerState::Follower;
        m.replication = None;
        let s = cluster_status(2, &m, &bounds(1, 1));
        assert_eq!(s.state, "Follower");
        assert_eq!(s.leader_address, "127.0.0.1:7401");
        assert!(s.members.iter().all(|m| m.matched_index.is_none() && m.lag.is_none()));
        // An empty change log: nothing assigned yet.
        assert_eq!((s.change_log_first, s.change_log_last), (1, 0));
    }

    #[test]
    fn a_node_awaiting_init_reports_no_leader_and_no_members() {
        let s = cluster_status(9, &Metrics::new_initial(9), &bounds(1, 1));
        assert_eq!((s.leader_id, s.leader_address.as_str()), (None, ""));
        assert!(s.members.is_empty());
    }

    #[test]
    fn members_need_a_positive_id_and_a_host_port_address() {
        let node = |id: u64, address: &str| argus_proto::v1::Node {
            node_id: id,
            address: address.into(),
        };
        assert_eq!(
            member(Some(&node(2, "10.0.0.2:7400"))).unwrap(),
            (2, BasicNode::new("10.0.0.2:7400"))
        );
        assert_eq!(member(Some(&node(2, "[::1]:7400"))).unwrap().1.addr, "[::1]:7400");
        for (id, address) in [
            (0, "10.0.0.2:7400"),
            (2, ""),
            (2, "10.0.0.2"),
            (2, ":7400"),
            (2, "h:0"),
            (2, "h:99999"),
            (2, "http://h:7400"),
        ] {
            let e = member(Some(&node(id, address))).unwrap_err();
            assert!(matches!(e, Error::InvalidArgument(_)), "{id} {address:?}: {e}");
        }
        assert!(matches!(member(None), Err(Error::InvalidArgument(_))));
        assert!(matches!(node_id(0), Err(Error::InvalidArgument(_))));
    }

    #[test]
    fn a_second_init_succeeds_only_with_the_same_members() {
        let stored = StoredMembership::new(Some(log_id(1)), three_nodes_and_a_learner());
        let same = BTreeMap::from([
            (1, BasicNode::new("127.0.0.1:7401")),
            (2, BasicNode::new("127.0.0.1:7402")),
            (3, BasicNode::new("127.0.0.1:7403")),
        ]);
        assert!(already_initialized(&stored, &same).is_ok());

        let mut moved = same.clone();
        moved.insert(3, BasicNode::new("127.0.0.1:9999"));
        let mut fewer = same.clone();
        fewer.remove(&3);
        for other in [moved, fewer, BTreeMap::from([(1, BasicNode::new("127.0.0.1:7401"))])] {
            let e = already_initialized(&stored, &other).unwrap_err();
            assert!(matches!(e, Error::FailedPrecondition(_)), "{e}");
        }
        assert!(is_initialized(&stored));
        assert!(!is_initialized(&StoredMembership::default()));
    }

    #[test]
    fn raft_refusals_become_client_errors() {
        let forward = RaftError::APIError(ClientWriteError::ForwardToLeader(openraft::error::ForwardToLeader {
            leader_id: Some(2),
            leader_node: Some(BasicNode::new("127.0.0.1:7402")),
        }));
        assert!(matches!(
            write_error(forward),
            Error::NotLeader { leader_id: Some(2), leader_addr: Some(a) } if a == "127.0.0.1:7402"
        ));
        let not_learner = RaftError::APIError(ClientWriteError::ChangeMembershipError(
            ChangeMembershipError::LearnerNotFound(openraft::error::LearnerNotFound { node_id: 7 }),
        ));
        assert!(matches!(write_error(not_learner), Error::InvalidArgument(m) if m.contains('7')));
        let empty = RaftError::APIError(ClientWriteError::ChangeMembershipError(
            ChangeMembershipError::EmptyMembership(openraft::error::EmptyMembership {}),
        ));
        assert!(matches!(write_error(empty), Error::InvalidArgument(_)));
        let busy = RaftError::APIError(ClientWriteError::ChangeMembershipError(
            ChangeMembershipError::InProgress(openraft::error::InProgress {
                committed: Some(log_id(4)),
                membership_log_id: Some(log_id(5)),
            }),
        ));
        assert!(matches!(write_error(busy), Error::FailedPrecondition(_)));
        assert!(matches!(write_error(RaftError::Fatal(Fatal::Stopped)), Error::Shutdown));
        assert!(matches!(write_error(RaftError::Fatal(Fatal::Panicked)), Error::Raft(_)));
    }
}
