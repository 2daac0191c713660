//! Client library for the coordinators: give it every address you know and it finds one that
//! answers. Writes may go to any node (followers forward them to the leader); when a node is
//! down, restarting, or has no leader yet, the call is retried on the next address with
//! backoff until the deadline. Retrying a write is safe: every Argus command is idempotent.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Status};

use crate::node::MAX_MESSAGE_BYTES;

macro_rules! limits {
    ($client:expr) => {
        $client
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES)
    };
}

pub use argus_proto::v1::cluster_service_client::ClusterServiceClient;
pub use argus_proto::v1::coverage_service_client::CoverageServiceClient;
pub use argus_proto::v1::feed_service_client::FeedServiceClient;
pub use argus_proto::v1::findings_service_client::FindingsServiceClient;
pub use argus_proto::v1::inventory_service_client::InventoryServiceClient;
pub use argus_proto::v1::scan_service_client::ScanServiceClient;
pub use argus_proto::v1::suppression_service_client::SuppressionServiceClient;

#[derive(Clone, Debug)]
pub struct Client {
    endpoints: Vec<String>,
    channels: Vec<Channel>,
    current: std::sync::Arc<AtomicUsize>,
    /// How long one call keeps retrying.
    pub deadline: Duration,
}

/// Transient: the node is unreachable or cannot serve right now; another may.
fn retryable(s: &Status) -> bool {
    matches!(s.code(), Code::Unavailable | Code::Cancelled)
        || (s.code() == Code::Unknown && s.message().contains("transport"))
}

impl Client {
    /// `addresses` are host:port (or full http:// URLs). Connections are made lazily.
    pub fn new<S: AsRef<str>>(addresses: &[S]) -> Result<Self, Status> {
        if addresses.is_empty() {
            return Err(Status::invalid_argument("no coordinator address given"));
        }
        let mut endpoints = Vec::new();
        let mut channels = Vec::new();
        for a in addresses {
            let a = a.as_ref().trim();
            let url = if a.contains("://") {
                a.to_string()
            } else {
                format!("http://{a}")
            };
            let channel = Endpoint::from_shared(url.clone())
                .map_err(|e| Status::invalid_argument(format!("address {a}: {e}")))?
                .connect_timeout(Duration::from_secs(2))
                .tcp_nodelay(true)
                .connect_lazy();
            endpoints.push(url);
            channels.push(channel);
        }
        Ok(Self {
            endpoints,
            channels,
            current: Default::default(),
            deadline: Duration::from_secs(30),
        })
    }

    pub fn with_deadline(mut self, deadline: Duration) -> Self {
        self.deadline = deadline;
        self
    }

    /// The address calls currently go to.
    pub fn endpoint(&self) -> &str {
        &self.endpoints[self.current.load(Ordering::Relaxed) % self.endpoints.len()]
    }

    pub fn channel(&self) -> Channel {
        self.channels[self.current.load(Ordering::Relaxed) % self.channels.len()].clone()
    }

    pub fn inventory(&self) -> InventoryServiceClient<Channel> {
        limits!(InventoryServiceClient::new(self.channel()))
    }
    pub fn findings(&self) -> FindingsServiceClient<Channel> {
        limits!(FindingsServiceClient::new(self.channel()))
    }
    pub fn coverage(&self) -> CoverageServiceClient<Channel> {
        limits!(CoverageServiceClient::new(self.channel()))
    }
    pub fn suppression(&self) -> SuppressionServiceClient<Channel> {
        limits!(SuppressionServiceClient::new(self.channel()))
    }
    pub fn feed(&self) -> FeedServiceClient<Channel> {
        limits!(FeedServiceClient::new(self.channel()))
    }
    pub fn cluster(&self) -> ClusterServiceClient<Channel> {
        limits!(ClusterServiceClient::new(self.channel()))
    }
    pub fn scans(&self) -> ScanServiceClient<Channel> {
        limits!(ScanServiceClient::new(self.channel()))
    }

    /// Runs `call` against the current node, moving to the next one on transient failures
    /// until the deadline. `call` is invoked once per attempt with a fresh client handle.
    ///
    /// ```ignore
    /// let resp = client.retry(|c| async move { c.inventory().put_resources(req.clone()).await }).await?;
    /// ```
    pub async fn retry<T, F, Fut>(&self, mut call: F) -> Result<T, Status>
    where
        F: FnMut(Client) -> Fut,
        Fut: Future<Output = Result<tonic::Response<T>, Status>>,
    {
        let started = Instant::now();
        let mut backoff = Duration::from_millis(25);
        loop {
            match call(self.clone()).await {
                Ok(r) => return Ok(r.into_inner()),
                Err(s) if retryable(&s) && started.elapsed() + backoff < self.deadline => {
                    tracing::debug!(endpoint = self.endpoint(), status = %s, "retrying on next coordinator");
                    self.current.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(1));
                }
                Err(s) => return Err(s),
            }
        }
    }
}
