//! `argus.v1.InventoryService`: accounts and resources, written in batches through Raft and
//! read from the local replica.

use std::sync::Arc;

use argus_proto::v1::inventory_service_server::InventoryService;
use argus_proto::v1::*;
use tonic::{Request, Response, Status};

use super::command::apply;
use super::{read, required_id};
use crate::node::Node;

pub struct InventoryApi {
    node: Arc<Node>,
}

impl InventoryApi {
    pub fn new(node: Arc<Node>) -> Self {
        Self { node }
    }
}

#[tonic::async_trait]
impl InventoryService for InventoryApi {
    async fn put_accounts(
        &self,
        request: Request<PutAccountsRequest>,
    ) -> Result<Response<PutAccountsResponse>, Status> {
        apply(&self.node, request.into_inner()).await.map(Response::new)
    }

    async fn remove_accounts(
        &self,
        request: Request<RemoveAccountsRequest>,
    ) -> Result<Response<RemoveAccountsResponse>, Status> {
        apply(&self.node, request.into_inner()).await.map(Response::new)
    }

    async fn get_account(&self, request: Request<GetAccountRequest>) -> Result<Response<GetAccountResponse>, Status> {
        let id = required_id("account_id", &request.get_ref().account_id)?.to_string();
        let found = read(&self.node.state, {
            let id = id.clone();
            move |s| s.get_account(&id)
        })
        .await?;
        match found {
            Some(account) => Ok(Response::new(GetAccountResponse { account: Some(account) })),
            None => Err(Status::not_found(format!("account {id} not found"))),
        }
    }

    async fn list_accounts(
        &self,
        request: Request<ListAccountsRequest>,
    ) -> Result<Response<ListAccountsResponse>, Status> {
        let req = request.into_inner();
        read(&self.node.state, move |s| s.list_accounts(&req))
            .await
            .map(Response::new)
    }

    async fn put_resources(
        &self,
        request: Request<PutResourcesRequest>,
    ) -> Result<Response<PutResourcesResponse>, Status> {
        apply(&self.node, request.into_inner()).await.map(Response::new)
    }

    async fn remove_resources(
        &self,
        request: Request<RemoveResourcesRequest>,
    ) -> Result<Response<RemoveResourcesResponse>, Status> {
        apply(&self.node, request.into_inner()).await.map(Response::new)
    }

    async fn report_host_inventory(
        &self,
        request: Request<ReportHostInventoryRequest>,
    ) -> Result<Response<ReportHostInventoryResponse>, Status> {
        let mut req = request.into_inner();
        // Decoded here, once, so that the state machine stores bytes it can read and every
        // replica applies the same digest without decompressing to compute it.
        let inventory = argus_worker::observe::decode_inventory(&req.inventory)
            .map_err(|e| Status::invalid_argument(format!("inventory: {e}")))?;
        let (digest, bytes) = argus_worker::observe::host_artifact(inventory);
        req.artifact_digest = digest;
        req.inventory = bytes;
        apply(&self.node, req).await.map(Response::new)
    }

    async fn get_resource(
        &self,
        request: Request<GetResourceRequest>,
    ) -> Result<Response<GetResourceResponse>, Status> {
        let id = required_id("resource_id", &request.get_ref().resource_id)?.to_string();
        let found = read(&self.node.state, {
            let id = id.clone();
            move |s| s.get_resource(&id)
        })
        .await?;
        match found {
            Some(resource) => Ok(Response::new(GetResourceResponse {
                resource: Some(resource),
            })),
            None => Err(Status::not_found(format!("resource {id} not found"))),
        }
    }

    async fn list_resources(
        &self,
        request: Request<ListResourcesRequest>,
    ) -> Result<Response<ListResourcesResponse>, Status> {
        let req = request.into_inner();
        read(&self.node.state, move |s| s.list_resources(&req))
            .await
            .map(Response::new)
    }
}
