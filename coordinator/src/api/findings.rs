//! `argus.v1.FindingsService`: scan results ingested through Raft; findings listed, fetched
//! and aggregated from the local replica.

use std::sync::Arc;

use argus_proto::v1::findings_service_server::FindingsService;
use argus_proto::v1::*;
use tonic::{Request, Response, Status};

use super::command::apply;
use super::{read, required_id};
use crate::node::Node;

pub struct FindingsApi {
    node: Arc<Node>,
}

impl FindingsApi {
    pub fn new(node: Arc<Node>) -> Self {
        Self { node }
    }
}

#[tonic::async_trait]
impl FindingsService for FindingsApi {
    async fn ingest_scan_results(
        &self,
        request: Request<IngestScanResultsRequest>,
    ) -> Result<Response<IngestScanResultsResponse>, Status> {
        apply(&self.node, request.into_inner()).await.map(Response::new)
    }

    async fn list_findings(
        &self,
        request: Request<ListFindingsRequest>,
    ) -> Result<Response<ListFindingsResponse>, Status> {
        let req = request.into_inner();
        read(&self.node.state, move |s| s.list_findings(&req))
            .await
            .map(Response::new)
    }

    async fn get_finding(&self, request: Request<GetFindingRequest>) -> Result<Response<GetFindingResponse>, Status> {
        let id = required_id("finding_id", &request.get_ref().finding_id)?.to_string();
        let found = read(&self.node.state, {
            let id = id.clone();
            move |s| s.get_finding(&id)
        })
        .await?;
        match found {
            Some(finding) => Ok(Response::new(GetFindingResponse { finding: Some(finding) })),
            None => Err(Status::not_found(format!("finding {id} not found"))),
        }
    }

    async fn aggregate_findings(
        &self,
        request: Request<AggregateFindingsRequest>,
    ) -> Result<Response<AggregateFindingsResponse>, Status> {
        let req = request.into_inner();
        read(&self.node.state, move |s| s.aggregate_findings(&req))
            .await
            .map(Response::new)
    }
}
