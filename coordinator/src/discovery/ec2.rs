//! EC2 instances of one account and region, as inventory resources, and their network side for
//! the reachability snapshot (read from the same pages).

use std::collections::HashMap;

use argus_proto::v1::resource::Details;
use argus_proto::v1::{Coverage, CoverageReason, CoverageStatus, Ec2InstanceDetails, Resource, ResourceType};
use aws_sdk_ec2::types::{Instance, InstanceStateName};

use super::aws::aws_error;
use super::timestamp;
use crate::error::Result;
use crate::reachability::model::InstanceNetwork;

/// Every instance that is not terminated (or shutting down to be terminated). Stopped and
/// stopping instances are kept, held INACTIVE as EC2_INSTANCE_STOPPED.
pub async fn instances(
    client: &aws_sdk_ec2::Client,
    account_id: &str,
    region: &str,
) -> Result<(Vec<Resource>, Vec<InstanceNetwork>)> {
    let mut out = Vec::new();
    let mut networks = Vec::new();
    let mut pages = client.describe_instances().max_results(1000).into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| aws_error("ec2:DescribeInstances", e))?;
        for reservation in page.reservations() {
            for i in reservation.instances() {
                if let Some(r) = resource(i, account_id, region) {
                    out.push(r);
                    networks.extend(super::network::instance(i));
                }
            }
        }
    }
    Ok((out, networks))
}

fn resource(i: &Instance, account_id: &str, region: &str) -> Option<Resource> {
    let id = i.instance_id()?;
    let state = i.state().and_then(|s| s.name());
    if matches!(
        state,
        Some(InstanceStateName::Terminated | InstanceStateName::ShuttingDown)
    ) {
        return None;
    }
    let stopped = matches!(state, Some(InstanceStateName::Stopped | InstanceStateName::Stopping));
    let mut ip_v4 = Vec::new();
    let mut ip_v6 = Vec::new();
    let push = |list: &mut Vec<String>, ip: Option<&str>| {
        if let Some(ip) = ip.filter(|ip| !ip.is_empty()) {
            if !list.iter().any(|x| x == ip) {
                list.push(ip.to_string());
            }
        }
    };
    push(&mut ip_v4, i.private_ip_address());
    push(&mut ip_v4, i.public_ip_address());
    for ni in i.network_interfaces() {
        for p in ni.private_ip_addresses() {
            push(&mut ip_v4, p.private_ip_address());
            push(&mut ip_v4, p.association().and_then(|a| a.public_ip()));
        }
        push(&mut ip_v4, ni.association().and_then(|a| a.public_ip()));
        for a in ni.ipv6_addresses() {
            push(&mut ip_v6, a.ipv6_address());
        }
    }
    let mut security_groups: Vec<String> = i
        .security_groups()
        .iter()
        .filter_map(|g| g.group_id().map(str::to_string))
        .collect();
    security_groups.sort();
    security_groups.dedup();
    let tags: HashMap<String, String> = i
        .tags()
        .iter()
        .filter_map(|t| Some((t.key()?.to_string(), t.value().unwrap_or_default().to_string())))
        .collect();
    let platform = i
        .platform_details()
        .map(str::to_string)
        .or_else(|| i.platform().map(|p| p.as_str().to_string()))
        .unwrap_or_default();
    Some(Resource {
        r#type: ResourceType::AwsEc2Instance as i32,
        resource_id: id.to_string(),
        account_id: account_id.to_string(),
        region: region.to_string(),
        tags,
        details: Some(Details::Ec2Instance(Ec2InstanceDetails {
            ami_id: i.image_id().unwrap_or_default().to_string(),
            platform,
            state: state.map(|s| s.as_str().to_string()).unwrap_or_default(),
            vpc_id: i.vpc_id().unwrap_or_default().to_string(),
            subnet_id: i.subnet_id().unwrap_or_default().to_string(),
            ip_v4_addresses: ip_v4,
            security_groups,
            launched_at: i.launch_time().map(timestamp),
            ip_v6_addresses: ip_v6,
            instance_type: i.instance_type().map(|t| t.as_str().to_string()).unwrap_or_default(),
            // Filled in from SSM (`ssm::annotate`) when it is read.
            ssm: None,
        })),
        coverage: stopped.then(|| Coverage {
            status: CoverageStatus::CoverageInactive as i32,
            reason: CoverageReason::Ec2InstanceStopped as i32,
            ..Default::default()
        }),
        ..Default::default()
    })
}
