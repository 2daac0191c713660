//! The network of one account and region as discovery read it from the EC2 API. Discovery
//! fills it; the analysis reads it. Everything is plain data so that an analysis is a pure
//! function of its input, identical on every run (and testable without AWS).

use serde::{Deserialize, Serialize};

/// Everything in one account and region that decides whether an instance is exposed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkSnapshot {
    pub account_id: String,
    pub region: String,
    pub vpcs: Vec<Vpc>,
    pub subnets: Vec<Subnet>,
    pub route_tables: Vec<RouteTable>,
    pub internet_gateways: Vec<InternetGateway>,
    pub network_acls: Vec<NetworkAcl>,
    pub security_groups: Vec<SecurityGroup>,
    pub instances: Vec<InstanceNetwork>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vpc {
    pub vpc_id: String,
    pub cidr_v4: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subnet {
    pub subnet_id: String,
    pub vpc_id: String,
    pub cidr_v4: String,
}

/// A route table; `main` applies to every subnet of its VPC that no other table names.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteTable {
    pub route_table_id: String,
    pub vpc_id: String,
    pub main: bool,
    pub subnet_ids: Vec<String>,
    pub routes: Vec<Route>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Route {
    /// IPv4 or IPv6 CIDR, e.g. `0.0.0.0/0`, `::/0`, `10.0.0.0/16`.
    pub destination_cidr: String,
    /// The gateway id as EC2 reports it: `igw-…`, `local`, `nat-…`, `eni-…`, `pcx-…`, `tgw-…`.
    pub target: String,
    /// False for a blackhole route (its target is gone).
    pub active: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InternetGateway {
    pub internet_gateway_id: String,
    /// VPCs it is attached to (state `available` or `attached`).
    pub attached_vpc_ids: Vec<String>,
}

/// A network ACL; `default` applies to every subnet of its VPC not associated with another.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkAcl {
    pub network_acl_id: String,
    pub vpc_id: String,
    pub default: bool,
    pub subnet_ids: Vec<String>,
    pub entries: Vec<AclEntry>,
}

/// One numbered ACL rule; rules are evaluated in ascending `rule_number`, the first match wins,
/// and an unmatched packet is denied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AclEntry {
    pub rule_number: i32,
    pub egress: bool,
    pub protocol: Protocol,
    /// Inclusive; `None` means all ports (and for protocols without ports).
    pub port_range: Option<PortRange>,
    /// IPv4 or IPv6 CIDR.
    pub cidr: String,
    pub allow: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecurityGroup {
    pub group_id: String,
    pub group_name: String,
    pub vpc_id: String,
    pub ingress: Vec<SecurityGroupRule>,
}

/// One ingress permission; security groups only allow, and an instance's groups are a union.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecurityGroupRule {
    pub protocol: Protocol,
    /// Inclusive; `None` means all ports (EC2's `-1` / absent ports).
    pub port_range: Option<PortRange>,
    pub cidrs_v4: Vec<String>,
    pub cidrs_v6: Vec<String>,
    /// Other groups whose members are allowed; never the internet.
    pub source_group_ids: Vec<String>,
    /// Managed prefix lists; treated as not the internet.
    pub prefix_list_ids: Vec<String>,
}

/// The network side of one EC2 instance (the resource itself is in the inventory).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceNetwork {
    pub instance_id: String,
    /// `running`, `stopped`, … as EC2 reports it.
    pub state: String,
    pub vpc_id: String,
    pub subnet_id: String,
    pub private_ipv4: Vec<String>,
    pub public_ipv4: Vec<String>,
    pub ipv6: Vec<String>,
    pub security_group_ids: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Protocol {
    /// EC2's `-1`.
    All,
    Tcp,
    Udp,
    Icmp,
    Icmpv6,
    /// Any other IP protocol number.
    Other(u8),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct PortRange {
    pub from: u16,
    pub to: u16,
}
