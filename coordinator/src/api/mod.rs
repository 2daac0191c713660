//! The `argus.v1` gRPC services, `grpc.health.v1` and server reflection. Any node serves
//! reads and the feed from its own replica; writes go through Raft from any node (forwarded to
//! the leader by [`Node::write`]); cluster administration is relayed to the leader.

mod cluster;
mod command;
mod coverage;
mod feed;
mod findings;
mod health;
mod inventory;
mod scans;
mod status;
mod suppression;

use std::future::Future;
use std::sync::Arc;

use argus_proto::v1::{
    cluster_service_server::ClusterServiceServer, coverage_service_server::CoverageServiceServer,
    feed_service_server::FeedServiceServer, findings_service_server::FindingsServiceServer,
    inventory_service_server::InventoryServiceServer, scan_service_server::ScanServiceServer,
    suppression_service_server::SuppressionServiceServer,
};
use futures::future::{BoxFuture, Shared};
use futures::FutureExt;
use tonic::server::NamedService;
use tonic::service::Routes;
use tonic::Status;
use tracing::warn;

pub use status::LEADER_METADATA;

use crate::node::{Node, MAX_MESSAGE_BYTES};
use crate::state::State;

/// Resolves when the server is shutting down; live feed subscriptions end then, so that a
/// graceful shutdown does not wait for subscribers that never leave.
pub(crate) type Stop = Shared<BoxFuture<'static, ()>>;

/// Every service this node serves besides Raft's. Live feed subscriptions last until their
/// consumer leaves; see [`routes_until`] to end them at shutdown.
pub fn routes(node: &Arc<Node>) -> Routes {
    routes_until(node, std::future::pending())
}

/// [`routes`], with live feed subscriptions ended (UNAVAILABLE: reconnect with your cursor)
/// once `stop` resolves. Must be called within a Tokio runtime: it starts the task that keeps
/// the health status in step with Raft.
pub fn routes_until(node: &Arc<Node>, stop: impl Future<Output = ()> + Send + 'static) -> Routes {
    let stop: Stop = stop.boxed().shared();
    let inventory = InventoryServiceServer::new(inventory::InventoryApi::new(node.clone()))
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES);
    let findings = FindingsServiceServer::new(findings::FindingsApi::new(node.clone()))
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES);
    let coverage = CoverageServiceServer::new(coverage::CoverageApi::new(node.clone()))
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES);
    let suppression = SuppressionServiceServer::new(suppression::SuppressionApi::new(node.clone()))
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES);
    let feed = FeedServiceServer::new(feed::FeedApi::new(node.state.clone(), stop))
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES);
    let scans = ScanServiceServer::new(scans::ScanApi::new(node.clone()));
    let cluster = ClusterServiceServer::new(cluster::ClusterApi::new(node.clone()))
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES);

    let names = [
        <InventoryServiceServer<inventory::InventoryApi> as NamedService>::NAME,
        <FindingsServiceServer<findings::FindingsApi> as NamedService>::NAME,
        <CoverageServiceServer<coverage::CoverageApi> as NamedService>::NAME,
        <SuppressionServiceServer<suppression::SuppressionApi> as NamedService>::NAME,
        <FeedServiceServer<feed::FeedApi> as NamedService>::NAME,
        <ClusterServiceServer<cluster::ClusterApi> as NamedService>::NAME,
        <ScanServiceServer<scans::ScanApi> as NamedService>::NAME,
    ];
    let health = health::serve(node.raft.metrics(), &names);

    let mut routes = Routes::new(inventory)
        .add_service(findings)
        .add_service(coverage)
        .add_service(suppression)
        .add_service(feed)
        .add_service(cluster)
        .add_service(scans)
        .add_service(health);
    match reflection().build_v1() {
        Ok(service) => routes = routes.add_service(service),
        Err(e) => warn!(error = %e, "server reflection v1 unavailable"),
    }
    match reflection().build_v1alpha() {
        Ok(service) => routes = routes.add_service(service),
        Err(e) => warn!(error = %e, "server reflection v1alpha unavailable"),
    }
    routes
}

/// Reflection over the public and internal Argus API and the health service.
fn reflection() -> tonic_reflection::server::Builder<'static> {
    tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(argus_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
}

/// Runs a read of the local replica off the async workers: every read is RocksDB work.
pub(crate) async fn read<T, F>(state: &Arc<State>, f: F) -> Result<T, Status>
where
    F: FnOnce(&State) -> crate::Result<T> + Send + 'static,
    T: Send + 'static,
{
    let state = state.clone();
    match tokio::task::spawn_blocking(move || f(&state)).await {
        Ok(result) => result.map_err(Status::from),
        Err(e) => {
            warn!(error = %e, "read task failed");
            Err(Status::internal("the read failed on this node"))
        }
    }
}

/// The id a Get request names, refused when empty.
pub(crate) fn required_id<'a>(field: &str, value: &'a str) -> Result<&'a str, Status> {
    if value.is_empty() {
        return Err(Status::invalid_argument(format!("{field} is required")));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use prost::Message;
    use tonic::Code;

    use super::*;

    #[test]
    fn reflection_serves_both_protocol_versions_from_the_descriptor_set() {
        assert!(reflection().build_v1().is_ok());
        assert!(reflection().build_v1alpha().is_ok());
    }

    #[test]
    fn the_descriptor_set_carries_every_argus_file_and_its_imports() {
        let set = prost_types::FileDescriptorSet::decode(argus_proto::FILE_DESCRIPTOR_SET).unwrap();
        let names: Vec<&str> = set.file.iter().map(|f| f.name()).collect();
        for wanted in [
            "argus/v1/common.proto",
            "argus/v1/inventory.proto",
            "argus/v1/findings.proto",
            "argus/v1/cluster.proto",
            "argus/v1/scans.proto",
            "argus/internal/v1/raft.proto",
            "argus/internal/v1/pipeline.proto",
            // Reflection clients resolve imports by file name: the import must be served too.
            "google/protobuf/timestamp.proto",
        ] {
            assert!(names.contains(&wanted), "{wanted} missing from {names:?}");
        }
    }

    #[test]
    fn an_empty_id_is_refused() {
        assert_eq!(required_id("finding_id", "").unwrap_err().code(), Code::InvalidArgument);
        assert_eq!(required_id("finding_id", "abc").unwrap(), "abc");
    }
}
