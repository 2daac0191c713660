//! `grpc.health.v1`: every argus service reports SERVING (reads and the feed work from the
//! local replica); the server as a whole ("") reports NOT_SERVING while this node, once a
//! cluster member, knows no leader, because writes then cannot complete.

use futures::FutureExt;
use openraft::{BasicNode, RaftMetrics, ServerState};
use tokio::sync::watch;
use tonic_health::pb::health_server::{Health, HealthServer};
use tonic_health::server::{health_reporter, HealthReporter};
use tonic_health::ServingStatus;

use crate::raft::NodeId;

type Metrics = RaftMetrics<NodeId, BasicNode>;

/// The health service for `services`, kept in step with Raft's metrics by a spawned task that
/// ends when Raft stops.
pub(super) fn serve(metrics: watch::Receiver<Metrics>, services: &[&'static str]) -> HealthServer<impl Health> {
    let (mut reporter, server) = health_reporter();
    let overall = overall_status(&metrics.borrow());
    // Nothing else holds the reporter's lock before the server runs, so these complete at
    // once and the statuses are in place before the first request; the task below sets them
    // again in case one did not.
    let initial: Vec<(&'static str, ServingStatus)> = services
        .iter()
        .map(|s| (*s, ServingStatus::Serving))
        .chain([("", overall)])
        .collect();
    for (name, status) in &initial {
        let _ = reporter.set_service_status(name, *status).now_or_never();
    }
    tokio::spawn(follow(reporter, metrics, initial));
    server
}

async fn follow(
    mut reporter: HealthReporter,
    mut metrics: watch::Receiver<Metrics>,
    initial: Vec<(&'static str, ServingStatus)>,
) {
    for (name, status) in initial {
        reporter.set_service_status(name, status).await;
    }
    let mut reported = None;
    loop {
        let status = overall_status(&metrics.borrow_and_update());
        if reported != Some(status) {
            reporter.set_service_status("", status).await;
            reported = Some(status);
        }
        if metrics.changed().await.is_err() {
            // Raft has stopped.
            reporter.set_service_status("", ServingStatus::NotServing).await;
            return;
        }
    }
}

/// SERVING while a leader is known. A node that belongs to no cluster yet is SERVING too: it
/// is up and waiting for `argus cluster init` or `add-learner`, which tooling sends once the
/// node reports healthy.
fn overall_status(m: &Metrics) -> ServingStatus {
    let member_of_a_cluster = m.membership_config.membership().nodes().next().is_some();
    if m.state == ServerState::Shutdown || m.running_state.is_err() {
        ServingStatus::NotServing
    } else if member_of_a_cluster && m.current_leader.is_none() {
        ServingStatus::NotServing
    } else {
        ServingStatus::Serving
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};
    use std::sync::Arc;

    use openraft::{Membership, StoredMembership};

    use super::*;

    fn member_metrics(leader: Option<NodeId>) -> Metrics {
        let mut m = Metrics::new_initial(1);
        let nodes = BTreeMap::from([
            (1, BasicNode::new("127.0.0.1:7401")),
            (2, BasicNode::new("127.0.0.1:7402")),
        ]);
        let membership = Membership::new(vec![BTreeSet::from([1, 2])], nodes);
        m.membership_config = Arc::new(StoredMembership::new(None, membership));
        m.state = ServerState::Follower;
        m.current_leader = leader;
        m
    }

    #[test]
    fn a_member_is_serving_only_while_it_knows_a_leader() {
        assert_eq!(overall_status(&member_metrics(Some(2))), ServingStatus::Serving);
        assert_eq!(overall_status(&member_metrics(None)), ServingStatus::NotServing);
    }

    #[test]
    fn a_node_awaiting_init_is_serving() {
        assert_eq!(overall_status(&Metrics::new_initial(1)), ServingStatus::Serving);
    }

    #[test]
    fn a_stopped_node_is_not_serving() {
        let mut m = member_metrics(Some(1));
        m.state = ServerState::Shutdown;
        assert_eq!(overall_status(&m), ServingStatus::NotServing);
    }
}
