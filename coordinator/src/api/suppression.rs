//! `argus.v1.SuppressionService`: rules written through Raft (the state machine suppresses and
//! restores the matching findings as it applies them), read from the local replica.

use std::sync::Arc;

use argus_proto::v1::suppression_service_server::SuppressionService;
use argus_proto::v1::*;
use tonic::{Request, Response, Status};

use super::command::apply;
use super::{read, required_id};
use crate::node::Node;

pub struct SuppressionApi {
    node: Arc<Node>,
}

impl SuppressionApi {
    pub fn new(node: Arc<Node>) -> Self {
        Self { node }
    }
}

#[tonic::async_trait]
impl SuppressionService for SuppressionApi {
    async fn put_suppression_rule(
        &self,
        request: Request<PutSuppressionRuleRequest>,
    ) -> Result<Response<PutSuppressionRuleResponse>, Status> {
        apply(&self.node, request.into_inner()).await.map(Response::new)
    }

    async fn get_suppression_rule(
        &self,
        request: Request<GetSuppressionRuleRequest>,
    ) -> Result<Response<GetSuppressionRuleResponse>, Status> {
        let name = required_id("name", &request.get_ref().name)?.to_string();
        let found = read(&self.node.state, {
            let name = name.clone();
            move |s| s.get_rule(&name)
        })
        .await?;
        match found {
            Some(rule) => Ok(Response::new(GetSuppressionRuleResponse { rule: Some(rule) })),
            None => Err(Status::not_found(format!("suppression rule {name} not found"))),
        }
    }

    async fn list_suppression_rules(
        &self,
        request: Request<ListSuppressionRulesRequest>,
    ) -> Result<Response<ListSuppressionRulesResponse>, Status> {
        let req = request.into_inner();
        read(&self.node.state, move |s| s.list_rules(&req))
            .await
            .map(Response::new)
    }

    async fn delete_suppression_rule(
        &self,
        request: Request<DeleteSuppressionRuleRequest>,
    ) -> Result<Response<DeleteSuppressionRuleResponse>, Status> {
        apply(&self.node, request.into_inner()).await.map(Response::new)
    }
}
