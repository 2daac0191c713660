//! The Raft command one analysis becomes: what the discovery cycle proposes for each account
//! and region it read.

use argus_proto::internal::v1::command::Kind;
use argus_proto::internal::v1::{Command, InstanceExposures, SetNetworkExposures};
use argus_proto::v1::{
    IpVersion, NetworkComponentType, NetworkPathComponent, NetworkProtocol, NetworkReachabilityDetails, PortRange,
};
use prost_types::Timestamp;

use super::analysis::{assess, ComponentKind, Exposure, Verdict};
use super::cidr::Family;
use super::model::{NetworkSnapshot, Protocol};

/// `SetNetworkExposures` for the snapshot's account and region, observed at `observed_at`. Pure:
/// every instance the analysis could judge is listed once, in id order, with its exposures
/// (none: known unreachable). An instance whose route table, ACL or security groups the
/// snapshot lacks is listed as unknown instead: its scores are never lowered on missing data,
/// and what was known of it stays as it was.
pub fn command(snapshot: &NetworkSnapshot, observed_at: Timestamp) -> Command {
    Command {
        kind: Some(Kind::SetNetworkExposures(exposures(snapshot, observed_at))),
    }
}

pub fn exposures(snapshot: &NetworkSnapshot, observed_at: Timestamp) -> SetNetworkExposures {
    let mut instances = Vec::new();
    let mut unknown_instance_ids = Vec::new();
    for (instance_id, verdict) in assess(snapshot) {
        if instance_id.is_empty() {
            continue;
        }
        let exposures = match verdict {
            Verdict::Exposed(e) => e.iter().map(details).collect(),
            Verdict::Unreachable => Vec::new(),
            Verdict::Unknown => {
                unknown_instance_ids.push(instance_id);
                continue;
            }
        };
        instances.push(InstanceExposures { instance_id, exposures });
    }
    SetNetworkExposures {
        account_id: snapshot.account_id.clone(),
        region: snapshot.region.clone(),
        observed_at: Some(observed_at),
        instances,
        unknown_instance_ids,
    }
}

/// One exposure as the findings API describes it.
pub fn details(e: &Exposure) -> NetworkReachabilityDetails {
    NetworkReachabilityDetails {
        protocol: match e.protocol {
            Protocol::Udp => NetworkProtocol::Udp,
            _ => NetworkProtocol::Tcp,
        } as i32,
        open_port_range: Some(PortRange {
            begin: e.ports.from.into(),
            end: e.ports.to.into(),
        }),
        ip_version: match e.family {
            Family::V4 => IpVersion::Ipv4,
            Family::V6 => IpVersion::Ipv6,
        } as i32,
        network_path: e
            .path
            .iter()
            .map(|c| NetworkPathComponent {
                component_id: c.id.clone(),
                component_type: component_type(c.kind) as i32,
            })
            .collect(),
    }
}

fn component_type(kind: ComponentKind) -> NetworkComponentType {
    match kind {
        ComponentKind::InternetGateway => NetworkComponentType::InternetGateway,
        ComponentKind::RouteTable => NetworkComponentType::RouteTable,
        ComponentKind::NetworkAcl => NetworkComponentType::NetworkAcl,
        ComponentKind::SecurityGroup => NetworkComponentType::SecurityGroup,
        ComponentKind::Subnet => NetworkComponentType::Subnet,
        ComponentKind::Instance => NetworkComponentType::Ec2Instance,
        ComponentKind::PublicAddress => NetworkComponentType::PublicIpAddress,
    }
}
