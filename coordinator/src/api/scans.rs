//! `argus.v1.ScanService`: on-demand scans (through Raft: the artifacts become due and the
//! leader's scheduler dispatches them) and the pipeline's totals from the local replica.

use std::sync::Arc;

use argus_proto::internal::v1::command_result::Kind as Res;
use argus_proto::internal::v1::{command, Command, RequestScans};
use argus_proto::v1::scan_service_server::ScanService;
use argus_proto::v1::*;
use tonic::{Request, Response, Status};

use super::read;
use super::status::command_error_status;
use crate::node::Node;
use crate::state::State;

pub struct ScanApi {
    node: Arc<Node>,
}

impl ScanApi {
    pub fn new(node: Arc<Node>) -> Self {
        Self { node }
    }
}

#[tonic::async_trait]
impl ScanService for ScanApi {
    async fn scan_now(&self, request: Request<ScanNowRequest>) -> Result<Response<ScanNowResponse>, Status> {
        let req = request.into_inner();
        // Resource ids become the digests they carry. What the replica does not track, or
        // cannot fetch, is reported rather than proposed.
        let (digests, unknown) = read(&self.node.state, move |s| {
            let mut digests = Vec::new();
            let mut unknown = Vec::new();
            for id in &req.resource_ids {
                match s.get_resource(id)? {
                    Some(r) if !r.removed && !r.artifact_digest.is_empty() => digests.push(r.artifact_digest),
                    _ => unknown.push(id.clone()),
                }
            }
            digests.extend(req.artifact_digests);
            digests.sort();
            digests.dedup();
            let mut known = Vec::new();
            for d in digests {
                match s.artifact_schedule(&d)? {
                    Some(r) if !r.locator.is_empty() => known.push(d),
                    _ => unknown.push(d),
                }
            }
            Ok((known, unknown))
        })
        .await?;
        let mut out = ScanNowResponse {
            unknown,
            ..Default::default()
        };
        for chunk in digests.chunks(1000) {
            let command = Command {
                kind: Some(command::Kind::RequestScans(RequestScans {
                    artifact_digests: chunk.to_vec(),
                })),
            };
            State::validate(&command)?;
            match self.node.write(command).await?.kind {
                Some(Res::RequestScans(r)) => {
                    out.requested += r.requested;
                    out.in_flight += r.in_flight;
                }
                Some(Res::Error(e)) => return Err(command_error_status(&e)),
                _ => return Err(Status::internal("the state machine answered with another result")),
            }
        }
        Ok(Response::new(out))
    }

    async fn get_pipeline_status(
        &self,
        _request: Request<GetPipelineStatusRequest>,
    ) -> Result<Response<GetPipelineStatusResponse>, Status> {
        let c = read(&self.node.state, |s| s.pipeline_counters()).await?;
        Ok(Response::new(GetPipelineStatusResponse {
            artifacts: c.artifacts,
            in_flight: c.in_flight,
            never_scanned: c.never_scanned,
            failed: c.failed,
            jobs_dispatched: c.jobs_dispatched,
            results_applied: c.results_applied,
            jobs_retried: c.jobs_retried,
            newest_db_version: c.newest_db_version,
            reevaluated_db_version: c.reevaluated_db_version,
            reevaluation_rematched: c.reevaluation_rematched,
            reevaluation_total: c.reevaluation_total,
        }))
    }
}
