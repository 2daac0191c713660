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
        // Resource ids become the digests they carry; unknown or removed ones are reported.
        let (digests, mut unknown) = read(&self.node.state, move |s| {
            let mut digests = req.artifact_digests.clone();
            let mut unknown = Vec::new();
            for id in &req.resource_ids {
                match s.get_resource(id)? {
                    Some(r) if !r.removed && !r.artifact_digest.is_empty() => digests.push(r.artifact_digest),
                    _ => unknown.push(id.clone()),
                }
            }
            digests.sort();
            digests.dedup();
            Ok((digests, unknown))
        })
        .await?;
        let mut out = ScanNowResponse::default();
        for chunk in digests.chunks(1000) {
            let command = Command {
                kind: Some(command::Kind::RequestScans(RequestScans {
                    artifact_digests: chunk.to_vec(),
                })),
            };
            State::validate(&command)?;
            let result = self.node.write(command).await?;
            match result.kind {
                Some(Res::RequestScans(r)) => {
                    out.requested += r.requested;
                    out.in_flight += r.in_flight;
                    if r.unknown > 0 {
                        // Which ones: those the replica does not track (or cannot fetch).
                        let chunk = chunk.to_vec();
                        let missing = read(&self.node.state, move |s| {
                            let mut missing = Vec::new();
                            for d in chunk {
                                if s.artifact_schedule(&d)?.is_none_or(|r| r.locator.is_empty()) {
                                    missing.push(d);
                                }
                            }
                            Ok(missing)
                        })
                        .await?;
                        unknown.extend(missing);
                    }
                }
                Some(Res::Error(e)) => return Err(command_error_status(&e)),
                _ => return Err(Status::internal("the state machine answered with another result")),
            }
        }
        out.unknown = unknown;
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
