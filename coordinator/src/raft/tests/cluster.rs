//! A real cluster: three coordinators and a late learner, talking gRPC on loopback through
//! `network::Network` and `service::server`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use argus_proto::internal::v1::raft_service_client::RaftServiceClient;
use argus_proto::internal::v1::{
    command, command_result, Command, CommandResult, CompactChangeLog, ProposeRequest, SetCoverageResponse,
};
use openraft::{BasicNode, SnapshotPolicy};
use rocksdb::DB;
use tempfile::TempDir;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::{assert_same_state, empty_proposal, fill, open_at};
use crate::error::Error;
use crate::raft::network::Network;
use crate::raft::service::{self, ProposeHandler, RaftRpc};
use crate::raft::{NodeId, Raft, Reply};
use crate::state::State;

/// Records forwarded commands and answers each with how many it has seen; an empty command is
/// refused as an invalid argument.
#[derive(Default)]
struct RecordingHandler {
    seen: Mutex<Vec<Command>>,
}

#[tonic::async_trait]
impl ProposeHandler for RecordingHandler {
    async fn propose(&self, command: Command) -> crate::Result<CommandResult> {
        if command.kind.is_none() {
            return Err(Error::InvalidArgument("the command has no kind".into()));
        }
        let mut seen = self.seen.lock().unwrap();
        seen.push(command);
        Ok(CommandResult {
            kind: Some(command_result::Kind::SetCoverage(SetCoverageResponse {
                resources: seen.len() as u32,
            })),
        })
    }
}

struct TestNode {
    id: NodeId,
    addr: String,
    raft: Raft,
    db: Arc<DB>,
    state: Arc<State>,
    handler: Arc<RecordingHandler>,
    stop: oneshot::Sender<()>,
    server: JoinHandle<()>,
    _dir: TempDir,
}

impl TestNode {
    async fn start(id: NodeId, config: Arc<openraft::Config>) -> TestNode {
        let dir = tempfile::tempdir().unwrap();
        let (db, log, sm) = open_at(dir.path());
        let state = sm.state().clone();
        let raft = Raft::new(id, config, Network::new(), log, sm).await.unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let incoming = tonic::transport::server::TcpIncoming::from_listener(listener, true, None).unwrap();
        let handler = Arc::new(RecordingHandler::default());
        let rpc = service::server(RaftRpc::new(raft.clone(), handler.clone()));
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            tonic::transport::Server::builder()
                .add_service(rpc)
                .serve_with_incoming_shutdown(incoming, async {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
        });
        TestNode {
            id,
            addr,
            raft,
            db,
            state,
            handler,
            stop,
            server,
            _dir: dir,
        }
    }

    async fn applied_at_least(&self, index: u64) {
        self.raft
            .wait(Some(Duration::from_secs(30)))
            .applied_index_at_least(Some(index), format!("node {} applies {index}", self.id))
            .await
            .unwrap();
    }

    async fn stop(self) {
        self.raft.shutdown().await.unwrap();
        let _ = self.stop.send(());
        self.server.await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_three_node_cluster_replicates_and_a_new_learner_catches_up_by_snapshot() {
    let config = Arc::new(
        openraft::Config {
            heartbeat_interval: 100,
            election_timeout_min: 400,
            election_timeout_max: 800,
            snapshot_policy: SnapshotPolicy::Never,
            // Small chunks: the learner's snapshot arrives in many InstallSnapshot calls.
            snapshot_max_chunk_size: 64 << 10,
            max_in_snapshot_log_to_keep: 0,
            purge_batch_size: 1,
            install_snapshot_timeout: 2_000,
            ..Default::default()
        }
        .validate()
        .unwrap(),
    );
    let mut nodes = Vec::new();
    for id in 1..=3 {
        nodes.push(TestNode::start(id, config.clone()).await);
    }
    let members: BTreeMap<NodeId, BasicNode> = nodes.iter().map(|n| (n.id, BasicNode::new(&n.addr))).collect();
    nodes[0].raft.initialize(members).await.unwrap();
    let metrics = nodes[0]
        .raft
        .wait(Some(Duration::from_secs(30)))
        .metrics(|m| m.current_leader.is_some(), "a leader is elected")
        .await
        .unwrap();
    let leader_id = metrics.current_leader.unwrap();
    let leader = nodes.iter().find(|n| n.id == leader_id).unwrap();

    let mut last = None;
    for _ in 0..30 {
        let written = leader.raft.client_write(empty_proposal()).await.unwrap();
        assert_eq!(written.data, Reply::default());
        assert!(Some(written.log_id) > last);
        last = Some(written.log_id);
    }
    let last = last.unwrap();
    for node in &nodes {
        node.applied_at_least(last.index).await;
    }

    // Records only the leader holds (written beside Raft, on purpose): the learner can only get
    // them through the snapshot, so finding them there proves the snapshot travelled.
    fill(&leader.state, 3_000, 7);
    leader.raft.trigger().snapshot().await.unwrap();
    let snapshotted = leader
        .raft
        .wait(Some(Duration::from_secs(30)))
        .metrics(
            |m| m.snapshot.is_some_and(|s| s.index >= last.index),
            "the leader builds a snapshot",
        )
        .await
        .unwrap()
        .snapshot
        .unwrap();
    leader.raft.trigger().purge_log(snapshotted.index).await.unwrap();
    leader
        .raft
        .wait(Some(Duration::from_secs(30)))
        .metrics(
            |m| m.purged == Some(snapshotted),
            "the leader purges its log behind the snapshot",
        )
        .await
        .unwrap();

    let learner = TestNode::start(4, config.clone()).await;
    let added = leader
        .raft
        .add_learner(4, BasicNode::new(&learner.addr), true)
        .await
        .unwrap();
    learner.applied_at_least(added.log_id.index).await;
    leader.applied_at_least(added.log_id.index).await;
    let learner_metrics = learner.raft.metrics().borrow().clone();
    assert_eq!(
        learner_metrics.snapshot,
        Some(snapshotted),
        "the learner installed the leader's snapshot"
    );
    assert_eq!(assert_same_state(&leader.db, &learner.db), 3_000 + 2);

    // And it keeps up through the log afterwards.
    let written = leader.raft.client_write(empty_proposal()).await.unwrap();
    learner.applied_at_least(written.log_id.index).await;

    // A write forwarded to a follower reaches its handler; a malformed one is refused.
    let follower = nodes.iter().find(|n| n.id != leader_id).unwrap();
    let mut client = RaftServiceClient::connect(format!("http://{}", follower.addr))
        .await
        .unwrap();
    let command = Command {
        kind: Some(command::Kind::CompactChangeLog(CompactChangeLog {
            before: None,
            keep_last: 5,
        })),
    };
    let answer = client
        .propose(ProposeRequest {
            command: Some(command.clone()),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        answer.result.unwrap().kind,
        Some(command_result::Kind::SetCoverage(SetCoverageResponse { resources: 1 }))
    );
    assert_eq!(*follower.handler.seen.lock().unwrap(), vec![command]);
    let missing = client.propose(ProposeRequest { command: None }).await.unwrap_err();
    assert_eq!(missing.code(), tonic::Code::InvalidArgument);
    let refused = client
        .propose(ProposeRequest {
            command: Some(Command::default()),
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::InvalidArgument);

    learner.stop().await;
    for node in nodes {
        node.stop().await;
    }
}
