//! Systems Manager in one account and region: which EC2 instances are managed nodes (their
//! SSM status goes into the instance's details) and, for managed Linux instances, the packages
//! SSM inventory holds (`AWS:Application`). Those become the instance's host inventory, like an
//! `argus agent` report, unless an agent reports the instance itself.
//!
//! Two listings per region, whatever the number of instances: DescribeInstanceInformation and,
//! only when it lists a managed instance, GetInventory (50 instances' packages per page).

use std::collections::HashMap;

use argus_proto::v1::resource::Details;
use argus_proto::v1::{InventorySource, ReportHostInventoryRequest, Resource, ResourceType, SsmManagedStatus};
use aws_sdk_ssm::types::ResultAttribute;
use prost_types::Timestamp;

use super::aws::aws_error;
use crate::error::{Error, Result};

/// The inventory type that lists installed packages.
const APPLICATIONS: &str = "AWS:Application";

/// One managed instance as DescribeInstanceInformation lists it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Managed {
    pub status: SsmManagedStatus,
    pub computer_name: String,
}

/// The `AWS:Application` inventory of one instance.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Applications {
    /// When SSM Agent collected it (RFC 3339), when SSM says.
    pub captured_at: Option<String>,
    pub entries: Vec<HashMap<String, String>>,
}

/// What SSM knows of one region's EC2 instances.
#[derive(Debug, Clone, Default)]
pub struct SsmRead {
    pub managed: HashMap<String, Managed>,
    pub applications: HashMap<String, Applications>,
}

/// Reads the managed instances and, when there are any, their package inventories.
pub async fn read(client: &aws_sdk_ssm::Client) -> Result<SsmRead> {
    let mut out = SsmRead::default();
    let mut pages = client
        .describe_instance_information()
        .max_results(50)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| aws_error("ssm:DescribeInstanceInformation", e))?;
        for info in page.instance_information_list() {
            // Hybrid nodes (`mi-…`) are not EC2 instances and have no resource to attach to.
            let Some(id) = info.instance_id().filter(|id| id.starts_with("i-")) else {
                continue;
            };
            let status = SsmManagedStatus {
                ping_status: info.ping_status().map(|p| p.as_str().to_string()).unwrap_or_default(),
                agent_version: info.agent_version().unwrap_or_default().to_string(),
                platform_name: info.platform_name().unwrap_or_default().to_string(),
                platform_version: info.platform_version().unwrap_or_default().to_string(),
            };
            let computer_name = info.computer_name().unwrap_or_default().to_string();
            out.managed.insert(id.to_string(), Managed { status, computer_name });
        }
    }
    if out.managed.is_empty() {
        return Ok(out);
    }
    let attribute = ResultAttribute::builder()
        .type_name(APPLICATIONS)
        .build()
        .map_err(|e| Error::Aws {
            operation: "ssm:GetInventory",
            code: String::new(),
            message: e.to_string(),
        })?;
    let mut pages = client
        .get_inventory()
        .result_attributes(attribute)
        .max_results(50)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| aws_error("ssm:GetInventory", e))?;
        for entity in page.entities() {
            let (Some(id), Some(item)) = (entity.id(), entity.data().and_then(|d| d.get(APPLICATIONS))) else {
                continue;
            };
            out.applications.insert(
                id.to_string(),
                Applications {
                    captured_at: item.capture_time().map(str::to_string),
                    entries: item.content().to_vec(),
                },
            );
        }
    }
    Ok(out)
}

/// Puts each managed instance's SSM status into its details.
pub fn annotate(resources: &mut [Resource], read: &SsmRead) {
    for r in resources.iter_mut() {
        if let (Some(Details::Ec2Instance(d)), Some(m)) = (r.details.as_mut(), read.managed.get(&r.resource_id)) {
            d.ssm = Some(m.status.clone());
        }
    }
}

/// The host inventory reports for the instances read in one region that SSM has packages for,
/// with the artifact digest set as the API edge sets it for an agent's report. Instances of an
/// operating system Argus does not match (Windows) and instances without entries get none.
pub fn reports(read: &SsmRead, instances: &[Resource]) -> Vec<ReportHostInventoryRequest> {
    let mut out = Vec::new();
    for r in instances {
        if r.r#type() != ResourceType::AwsEc2Instance {
            continue;
        }
        let (Some(m), Some(apps)) = (read.managed.get(&r.resource_id), read.applications.get(&r.resource_id)) else {
            continue;
        };
        if apps.entries.is_empty() {
            continue;
        }
        let Some(os) = argus_worker::ssm::os_of(&m.status.platform_name, &m.status.platform_version) else {
            continue;
        };
        let inventory = argus_worker::ssm::inventory(&r.resource_id, os, &apps.entries);
        let (digest, bytes) = argus_worker::observe::host_artifact(inventory);
        let collected_at = apps
            .captured_at
            .as_deref()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .map(|t| prost_types::Timestamp {
                seconds: t.timestamp(),
                nanos: t.timestamp_subsec_nanos() as i32,
            });
        out.push(ReportHostInventoryRequest {
            resource_id: r.resource_id.clone(),
            resource_type: ResourceType::AwsEc2Instance as i32,
            account_id: r.account_id.clone(),
            region: r.region.clone(),
            hostname: m.computer_name.clone(),
            agent_version: format!("amazon-ssm-agent/{}", m.status.agent_version),
            collected_at,
            inventory: bytes,
            artifact_digest: digest,
            source: InventorySource::Ssm as i32,
            ..Default::default()
        });
    }
    out
}

/// Whether a report is worth a Raft write: not when an agent reports the instance (the state
/// machine would ignore it anyway), nor when SSM's inventory is the one already stored and was
/// reported after `refresh_before`. So an unchanged estate proposes nothing, except the refresh
/// that keeps SSM-covered instances from going stale (`inventory_stale_after_secs`).
pub fn needed(stored: Option<&Resource>, report: &ReportHostInventoryRequest, refresh_before: &Timestamp) -> bool {
    let Some(stored) = stored else {
        return true;
    };
    match &stored.agent {
        Some(a) if a.source() != InventorySource::Ssm => false,
        Some(a) => {
            let reported = a.reported_at.as_ref().map(|t| (t.seconds, t.nanos));
            stored.artifact_digest != report.artifact_digest
                || reported.is_none_or(|t| t < (refresh_before.seconds, refresh_before.nanos))
        }
        None => true,
    }
}

#[cfg(test)]
mod tests;
