//! `argus.v1.CoverageService`: per-resource coverage and its statistics, from the local
//! replica.

use std::sync::Arc;

use argus_proto::v1::coverage_service_server::CoverageService;
use argus_proto::v1::*;
use tonic::{Request, Response, Status};

use super::read;
use crate::node::Node;

pub struct CoverageApi {
    node: Arc<Node>,
}

impl CoverageApi {
    pub fn new(node: Arc<Node>) -> Self {
        Self { node }
    }
}

#[tonic::async_trait]
impl CoverageService for CoverageApi {
    async fn list_coverage(
        &self,
        request: Request<ListCoverageRequest>,
    ) -> Result<Response<ListCoverageResponse>, Status> {
        let req = request.into_inner();
        read(&self.node.state, move |s| s.list_coverage(&req))
            .await
            .map(Response::new)
    }

    async fn get_coverage_statistics(
        &self,
        request: Request<GetCoverageStatisticsRequest>,
    ) -> Result<Response<GetCoverageStatisticsResponse>, Status> {
        let req = request.into_inner();
        read(&self.node.state, move |s| s.coverage_statistics(&req))
            .await
            .map(Response::new)
    }
}
