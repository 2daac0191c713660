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
///
/// Everything goes into one command; a region with many exposures makes a large Raft entry, so
/// the discovery cycle should propose [`commands`] instead.
pub fn command(snapshot: &NetworkSnapshot, observed_at: Timestamp) -> Command {
    Command {
        kind: Some(Kind::SetNetworkExposures(exposures(snapshot, observed_at))),
    }
}

/// Encoded size above which [`commands`] starts another part, like the ingestion's batches.
pub const MAX_COMMAND_BYTES: usize = 256 << 10;

/// The same analysis as [`command`] in parts of at most [`MAX_COMMAND_BYTES`] (an instance
/// larger than that alone in its part), all `partial` but the last, which carries the unknown
/// instances. Propose them in order; applying the last retires what no part listed. Pure.
pub fn commands(snapshot: &NetworkSnapshot, observed_at: Timestamp) -> Vec<Command> {
    split(exposures(snapshot, observed_at), MAX_COMMAND_BYTES)
}

fn split(all: SetNetworkExposures, max_bytes: usize) -> Vec<Command> {
    use prost::Message;
    let mut parts = Vec::new();
    let mut part = SetNetworkExposures {
        account_id: all.account_id.clone(),
        region: all.region.clone(),
        observed_at: all.observed_at,
        partial: true,
        ..Default::default()
    };
    for instance in all.instances {
        if !part.instances.is_empty() && part.encoded_len() + instance.encoded_len() + 8 > max_bytes {
            let next = SetNetworkExposures {
                instances: Vec::new(),
                ..part.clone()
            };
            parts.push(std::mem::replace(&mut part, next));
        }
        part.instances.push(instance);
    }
    part.partial = false;
    part.unknown_instance_ids = all.unknown_instance_ids;
    parts.push(part);
    parts
        .into_iter()
        .map(|p| Command {
            kind: Some(Kind::SetNetworkExposures(p)),
        })
        .collect()
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
        partial: false,
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
