//! `argus agent`: runs on a host (an EC2 instance or any server), reads its package databases
//! with the scan engine's extractors and reports the inventory to the coordinators when it
//! changes and at least every `report_interval`. The coordinators match it like any other
//! artifact (a REMATCH of the reported inventory: nothing is fetched from the host).

pub mod imds;

use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use argus_proto::v1::{ReportHostInventoryRequest, ReportHostInventoryResponse, ResourceType};
use argus_worker::host::{self, HostScope};
use argus_worker::Limits;
use tokio::sync::watch;
use tracing::{info, warn};

use crate::client::Client;

/// Everything `argus agent` is told.
#[derive(Debug, Clone)]
pub struct AgentConfig {
    /// Coordinator addresses (any node; writes are forwarded to the leader).
    pub coordinators: Vec<String>,
    /// The host's root filesystem (`/`).
    pub root: PathBuf,
    pub scope: HostScope,
    /// The resource this host is. Without it: the EC2 instance id from instance metadata, or
    /// else the host name.
    pub resource_id: Option<String>,
    /// The account and region of a new resource; instance metadata fills them on EC2.
    pub account_id: Option<String>,
    pub region: Option<String>,
    /// Where instance metadata is asked (`http://169.254.169.254`); `None` never asks.
    pub imds_endpoint: Option<String>,
    /// How often the package databases are read again to see whether they changed.
    pub check_interval: Duration,
    /// The longest time between two reports, changed or not.
    pub report_interval: Duration,
    pub limits: Limits,
}

/// Who the agent reports as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostIdentity {
    pub resource_id: String,
    pub resource_type: ResourceType,
    pub account_id: String,
    pub region: String,
    pub hostname: String,
}

/// The host's name, as the kernel has it.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// Configured values first, then instance metadata; a host that is neither configured nor on
/// EC2 is a HOST named by its host name.
pub fn identify(config: &AgentConfig) -> HostIdentity {
    let imds = config
        .imds_endpoint
        .as_deref()
        .and_then(|e| imds::identity(e, Duration::from_secs(1)));
    let hostname = hostname();
    let on_ec2 = imds.is_some();
    let (id, account, region) = match imds {
        Some(i) => (i.instance_id, i.account_id, i.region),
        None => (hostname.clone(), String::new(), String::new()),
    };
    let resource_id = config.resource_id.clone().unwrap_or(id);
    let looks_like_instance = resource_id.starts_with("i-") && resource_id[2..].chars().all(|c| c.is_ascii_hexdigit());
    HostIdentity {
        resource_type: if on_ec2 || looks_like_instance {
            ResourceType::AwsEc2Instance
        } else {
            ResourceType::Host
        },
        resource_id,
        account_id: config.account_id.clone().unwrap_or(account),
        region: config.region.clone().unwrap_or(region),
        hostname,
    }
}

/// Reads the host once and builds its report; the digest is what the coordinators will
/// compute, so an unchanged host is recognised without asking them.
pub fn read_report(
    config: &AgentConfig,
    who: &HostIdentity,
) -> crate::error::Result<(String, ReportHostInventoryRequest)> {
    let collected_at = SystemTime::now();
    let inventory = host::read(&config.root, config.scope, &config.limits)?;
    let (digest, bytes) = argus_worker::observe::host_artifact(inventory);
    let request = ReportHostInventoryRequest {
        resource_id: who.resource_id.clone(),
        resource_type: who.resource_type as i32,
        account_id: who.account_id.clone(),
        region: who.region.clone(),
        hostname: who.hostname.clone(),
        agent_version: env!("CARGO_PKG_VERSION").to_string(),
        collected_at: Some(collected_at.into()),
        inventory: bytes,
        ..Default::default()
    };
    Ok((digest, request))
}

/// Sends one report, moving between coordinators while they are unreachable.
pub async fn report(
    client: &Client,
    request: ReportHostInventoryRequest,
) -> Result<ReportHostInventoryResponse, tonic::Status> {
    client
        .retry(|c| {
            let request = request.clone();
            async move { c.inventory().report_host_inventory(request).await }
        })
        .await
}

/// Reports until `stopped` turns true: at once, then whenever a check finds the inventory
/// changed, and at least every `report_interval`. A failed report is tried again at the next
/// check; the agent never exits on a coordinator outage.
pub async fn run(config: AgentConfig, mut stopped: watch::Receiver<bool>) -> crate::error::Result<()> {
    let client = Client::new(&config.coordinators).map_err(|e| crate::error::Error::Config(e.message().into()))?;
    let who = tokio::task::spawn_blocking({
        let config = config.clone();
        move || identify(&config)
    })
    .await
    .expect("identify does not panic");
    if who.account_id.is_empty() {
        warn!(resource_id = %who.resource_id, "no account known (not on EC2 and none configured): reports are refused until the resource is in the inventory");
    }
    info!(resource_id = %who.resource_id, resource_type = who.resource_type.as_str_name(), account_id = %who.account_id, "agent started");
    let mut last: Option<(String, Instant)> = None;
    loop {
        let read = tokio::task::spawn_blocking({
            let (config, who) = (config.clone(), who.clone());
            move || read_report(&config, &who)
        })
        .await
        .expect("reading the host does not panic");
        match read {
            Err(e) => warn!(error = %e, "reading the host failed"),
            Ok((digest, request)) => {
                let due = match &last {
                    None => true,
                    Some((d, at)) => *d != digest || at.elapsed() >= config.report_interval,
                };
                if due {
                    match report(&client, request).await {
                        Ok(r) => {
                            info!(artifact_digest = %r.artifact_digest, changed = r.changed, packages = r.packages, "inventory reported");
                            last = Some((digest, Instant::now()));
                        }
                        Err(s) => warn!(code = ?s.code(), message = s.message(), "inventory report failed"),
                    }
                }
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(config.check_interval) => {}
            _ = stopped.changed() => {}
        }
        if *stopped.borrow() {
            return Ok(());
        }
    }
}
