//! The network of one account and region, read from EC2 into the reachability model: VPCs,
//! subnets, route tables, internet gateways, network ACLs, security groups, and each
//! instance's addresses (taken from the DescribeInstances pages discovery reads anyway).
//! Six paginated calls per region. Every list is sorted by id so that the same network gives
//! the same snapshot.

use aws_sdk_ec2::types::{Instance, InstanceStateName, IpPermission, NetworkAclEntry, RouteState, RuleAction};

use super::aws::aws_error;
use crate::error::Result;
use crate::reachability::model::{
    AclEntry, InstanceNetwork, InternetGateway, NetworkAcl, NetworkSnapshot, PortRange, Protocol, Route, RouteTable,
    SecurityGroup, SecurityGroupRule, Subnet, Vpc,
};

/// Reads everything but the instances, which the caller adds from its DescribeInstances.
pub async fn snapshot(
    client: &aws_sdk_ec2::Client,
    account_id: &str,
    region: &str,
    instances: Vec<InstanceNetwork>,
) -> Result<NetworkSnapshot> {
    let mut s = NetworkSnapshot {
        account_id: account_id.to_string(),
        region: region.to_string(),
        instances,
        ..Default::default()
    };

    let mut pages = client.describe_vpcs().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| aws_error("ec2:DescribeVpcs", e))?;
        for v in page.vpcs() {
            let mut cidr_v4: Vec<String> = v
                .cidr_block_association_set()
                .iter()
                .filter_map(|a| a.cidr_block().map(str::to_string))
                .collect();
            if let Some(c) = v.cidr_block() {
                cidr_v4.push(c.to_string());
            }
            cidr_v4.sort();
            cidr_v4.dedup();
            s.vpcs.push(Vpc {
                vpc_id: v.vpc_id().unwrap_or_default().to_string(),
                cidr_v4,
            });
        }
    }

    let mut pages = client.describe_subnets().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| aws_error("ec2:DescribeSubnets", e))?;
        s.subnets.extend(page.subnets().iter().map(|n| Subnet {
            subnet_id: n.subnet_id().unwrap_or_default().to_string(),
            vpc_id: n.vpc_id().unwrap_or_default().to_string(),
            cidr_v4: n.cidr_block().unwrap_or_default().to_string(),
        }));
    }

    let mut pages = client.describe_route_tables().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| aws_error("ec2:DescribeRouteTables", e))?;
        for t in page.route_tables() {
            let mut subnet_ids: Vec<String> = t
                .associations()
                .iter()
                .filter_map(|a| a.subnet_id().map(str::to_string))
                .collect();
            subnet_ids.sort();
            s.route_tables.push(RouteTable {
                route_table_id: t.route_table_id().unwrap_or_default().to_string(),
                vpc_id: t.vpc_id().unwrap_or_default().to_string(),
                main: t.associations().iter().any(|a| a.main() == Some(true)),
                subnet_ids,
                routes: t.routes().iter().filter_map(route).collect(),
            });
        }
    }

    let mut pages = client.describe_internet_gateways().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| aws_error("ec2:DescribeInternetGateways", e))?;
        for g in page.internet_gateways() {
            let mut attached_vpc_ids: Vec<String> = g
                .attachments()
                .iter()
                // AWS reports an internet gateway's attachment as `available`, which the SDK's
                // enum does not name: compare the text.
                .filter(|a| matches!(a.state().map(|s| s.as_str()), Some("available" | "attached")))
                .filter_map(|a| a.vpc_id().map(str::to_string))
                .collect();
            attached_vpc_ids.sort();
            s.internet_gateways.push(InternetGateway {
                internet_gateway_id: g.internet_gateway_id().unwrap_or_default().to_string(),
                attached_vpc_ids,
            });
        }
    }

    let mut pages = client.describe_network_acls().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| aws_error("ec2:DescribeNetworkAcls", e))?;
        for a in page.network_acls() {
            let mut subnet_ids: Vec<String> = a
                .associations()
                .iter()
                .filter_map(|x| x.subnet_id().map(str::to_string))
                .collect();
            subnet_ids.sort();
            let mut entries: Vec<AclEntry> = a.entries().iter().filter_map(acl_entry).collect();
            entries.sort_by_key(|e| (e.egress, e.rule_number));
            s.network_acls.push(NetworkAcl {
                network_acl_id: a.network_acl_id().unwrap_or_default().to_string(),
                vpc_id: a.vpc_id().unwrap_or_default().to_string(),
                default: a.is_default().unwrap_or(false),
                subnet_ids,
                entries,
            });
        }
    }

    let mut pages = client.describe_security_groups().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| aws_error("ec2:DescribeSecurityGroups", e))?;
        s.security_groups
            .extend(page.security_groups().iter().map(|g| SecurityGroup {
                group_id: g.group_id().unwrap_or_default().to_string(),
                group_name: g.group_name().unwrap_or_default().to_string(),
                vpc_id: g.vpc_id().unwrap_or_default().to_string(),
                ingress: g.ip_permissions().iter().map(sg_rule).collect(),
            }));
    }

    s.vpcs.sort_by(|a, b| a.vpc_id.cmp(&b.vpc_id));
    s.subnets.sort_by(|a, b| a.subnet_id.cmp(&b.subnet_id));
    s.route_tables.sort_by(|a, b| a.route_table_id.cmp(&b.route_table_id));
    s.internet_gateways
        .sort_by(|a, b| a.internet_gateway_id.cmp(&b.internet_gateway_id));
    s.network_acls.sort_by(|a, b| a.network_acl_id.cmp(&b.network_acl_id));
    s.security_groups.sort_by(|a, b| a.group_id.cmp(&b.group_id));
    s.instances.sort_by(|a, b| a.instance_id.cmp(&b.instance_id));
    Ok(s)
}

/// The network side of an instance, from the same DescribeInstances page as its resource.
pub fn instance(i: &Instance) -> Option<InstanceNetwork> {
    let state = i.state().and_then(|s| s.name());
    if matches!(state, Some(InstanceStateName::Terminated)) {
        return None;
    }
    let mut n = InstanceNetwork {
        instance_id: i.instance_id()?.to_string(),
        state: state.map(|s| s.as_str().to_string()).unwrap_or_default(),
        vpc_id: i.vpc_id().unwrap_or_default().to_string(),
        subnet_id: i.subnet_id().unwrap_or_default().to_string(),
        ..Default::default()
    };
    let add = |list: &mut Vec<String>, ip: Option<&str>| {
        if let Some(ip) = ip.filter(|ip| !ip.is_empty()) {
            if !list.iter().any(|x| x == ip) {
                list.push(ip.to_string());
            }
        }
    };
    add(&mut n.private_ipv4, i.private_ip_address());
    add(&mut n.public_ipv4, i.public_ip_address());
    for ni in i.network_interfaces() {
        for p in ni.private_ip_addresses() {
            add(&mut n.private_ipv4, p.private_ip_address());
            add(&mut n.public_ipv4, p.association().and_then(|a| a.public_ip()));
        }
        add(&mut n.public_ipv4, ni.association().and_then(|a| a.public_ip()));
        for a in ni.ipv6_addresses() {
            add(&mut n.ipv6, a.ipv6_address());
        }
        for g in ni.groups() {
            add(&mut n.security_group_ids, g.group_id());
        }
    }
    for g in i.security_groups() {
        add(&mut n.security_group_ids, g.group_id());
    }
    n.security_group_ids.sort();
    Some(n)
}

fn route(r: &aws_sdk_ec2::types::Route) -> Option<Route> {
    let destination = r.destination_cidr_block().or(r.destination_ipv6_cidr_block())?;
    let target = r
        .gateway_id()
        .or(r.nat_gateway_id())
        .or(r.egress_only_internet_gateway_id())
        .or(r.network_interface_id())
        .or(r.instance_id())
        .or(r.vpc_peering_connection_id())
        .or(r.transit_gateway_id())
        .or(r.local_gateway_id())
        .or(r.carrier_gateway_id())
        .unwrap_or_default();
    Some(Route {
        destination_cidr: destination.to_string(),
        target: target.to_string(),
        active: r.state() != Some(&RouteState::Blackhole),
    })
}

/// EC2 names protocols by name in security groups (`tcp`, `-1`) and by number in ACLs (`6`).
pub fn protocol(p: &str) -> Protocol {
    match p.to_ascii_lowercase().as_str() {
        "-1" | "all" => Protocol::All,
        "tcp" | "6" => Protocol::Tcp,
        "udp" | "17" => Protocol::Udp,
        "icmp" | "1" => Protocol::Icmp,
        "icmpv6" | "58" => Protocol::Icmpv6,
        other => other.parse::<u8>().map_or(Protocol::All, Protocol::Other),
    }
}

/// Ports only mean something for TCP and UDP; `-1` or an absent bound means all of them.
fn ports(protocol: Protocol, from: Option<i32>, to: Option<i32>) -> Option<PortRange> {
    if !matches!(protocol, Protocol::Tcp | Protocol::Udp) {
        return None;
    }
    let (from, to) = (from?, to?);
    if from < 0 || to < 0 || (from == 0 && to == 65535) {
        return None;
    }
    Some(PortRange {
        from: u16::try_from(from).ok()?,
        to: u16::try_from(to).ok()?,
    })
}

fn acl_entry(e: &NetworkAclEntry) -> Option<AclEntry> {
    let p = protocol(e.protocol().unwrap_or("-1"));
    let cidr = e.cidr_block().or(e.ipv6_cidr_block())?;
    Some(AclEntry {
        rule_number: e.rule_number()?,
        egress: e.egress().unwrap_or(false),
        protocol: p,
        port_range: e.port_range().and_then(|r| ports(p, r.from(), r.to())),
        cidr: cidr.to_string(),
        allow: e.rule_action() == Some(&RuleAction::Allow),
    })
}

fn sg_rule(p: &IpPermission) -> SecurityGroupRule {
    let proto = protocol(p.ip_protocol().unwrap_or("-1"));
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v.dedup();
        v
    };
    SecurityGroupRule {
        protocol: proto,
        port_range: ports(proto, p.from_port(), p.to_port()),
        cidrs_v4: sorted(
            p.ip_ranges()
                .iter()
                .filter_map(|r| r.cidr_ip().map(str::to_string))
                .collect(),
        ),
        cidrs_v6: sorted(
            p.ipv6_ranges()
                .iter()
                .filter_map(|r| r.cidr_ipv6().map(str::to_string))
                .collect(),
        ),
        source_group_ids: sorted(
            p.user_id_group_pairs()
                .iter()
                .filter_map(|g| g.group_id().map(str::to_string))
                .collect(),
        ),
        prefix_list_ids: sorted(
            p.prefix_list_ids()
                .iter()
                .filter_map(|l| l.prefix_list_id().map(str::to_string))
                .collect(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocols_are_read_by_name_and_by_number() {
        assert_eq!(protocol("-1"), Protocol::All);
        assert_eq!(protocol("tcp"), Protocol::Tcp);
        assert_eq!(protocol("6"), Protocol::Tcp);
        assert_eq!(protocol("17"), Protocol::Udp);
        assert_eq!(protocol("icmpv6"), Protocol::Icmpv6);
        assert_eq!(protocol("47"), Protocol::Other(47));
    }

    #[test]
    fn ports_exist_only_for_tcp_and_udp_and_the_full_range_is_all_ports() {
        assert_eq!(
            ports(Protocol::Tcp, Some(22), Some(22)),
            Some(PortRange { from: 22, to: 22 })
        );
        assert_eq!(ports(Protocol::Udp, Some(0), Some(65535)), None);
        assert_eq!(ports(Protocol::Tcp, Some(-1), Some(-1)), None);
        assert_eq!(ports(Protocol::Icmp, Some(8), Some(0)), None);
        assert_eq!(ports(Protocol::All, None, None), None);
    }

    #[test]
    fn a_blackhole_route_is_inactive_and_a_prefix_list_route_is_left_out() {
        let r = aws_sdk_ec2::types::Route::builder()
            .destination_cidr_block("0.0.0.0/0")
            .gateway_id("igw-1")
            .state(RouteState::Blackhole)
            .build();
        assert_eq!(
            route(&r),
            Some(Route {
                destination_cidr: "0.0.0.0/0".into(),
                target: "igw-1".into(),
                active: false
            })
        );
        let r = aws_sdk_ec2::types::Route::builder()
            .destination_prefix_list_id("pl-1")
            .gateway_id("vpce-1")
            .build();
        assert_eq!(route(&r), None);
    }
}
