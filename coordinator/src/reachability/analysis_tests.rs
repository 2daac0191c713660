//! The analysis rule by rule, on a small VPC that each test changes in one place.

use proptest::prelude::*;

use super::*;
use crate::reachability::model::{InternetGateway, Route, SecurityGroup, SecurityGroupRule, Subnet, Vpc};

fn tcp(from: u16, to: u16) -> (Protocol, Option<PortRange>) {
    (Protocol::Tcp, Some(PortRange { from, to }))
}

fn sg_rule((protocol, port_range): (Protocol, Option<PortRange>), v4: &[&str], v6: &[&str]) -> SecurityGroupRule {
    SecurityGroupRule {
        protocol,
        port_range,
        cidrs_v4: v4.iter().map(|s| s.to_string()).collect(),
        cidrs_v6: v6.iter().map(|s| s.to_string()).collect(),
        source_group_ids: vec![],
        prefix_list_ids: vec![],
    }
}

fn group(id: &str, ingress: Vec<SecurityGroupRule>) -> SecurityGroup {
    SecurityGroup {
        group_id: id.into(),
        group_name: id.into(),
        vpc_id: "vpc-1".into(),
        ingress,
    }
}

fn entry(
    rule_number: i32,
    egress: bool,
    (protocol, port_range): (Protocol, Option<PortRange>),
    cidr: &str,
    allow: bool,
) -> AclEntry {
    AclEntry {
        rule_number,
        egress,
        protocol,
        port_range,
        cidr: cidr.into(),
        allow,
    }
}

const ALL: (Protocol, Option<PortRange>) = (Protocol::All, None);

fn route(destination: &str, target: &str) -> Route {
    Route {
        destination_cidr: destination.into(),
        target: target.into(),
        active: true,
    }
}

/// One VPC with an attached internet gateway, a main route table sending everything outside
/// the VPC to it, the default ACL allowing everything both ways, and one running instance with
/// a public IPv4 address in group `sg-web` (HTTPS from anywhere).
pub(crate) fn world() -> NetworkSnapshot {
    let open_acl = |id: &str, default: bool, subnets: Vec<String>| NetworkAcl {
        network_acl_id: id.into(),
        vpc_id: "vpc-1".into(),
        default,
        subnet_ids: subnets,
        entries: vec![
            entry(100, false, ALL, "0.0.0.0/0", true),
            entry(101, false, ALL, "::/0", true),
            entry(100, true, ALL, "0.0.0.0/0", true),
            entry(101, true, ALL, "::/0", true),
        ],
    };
    NetworkSnapshot {
        account_id: "123456789012".into(),
        region: "eu-west-1".into(),
        vpcs: vec![Vpc {
            vpc_id: "vpc-1".into(),
            cidr_v4: vec!["10.0.0.0/16".into()],
        }],
        subnets: vec![Subnet {
            subnet_id: "subnet-1".into(),
            vpc_id: "vpc-1".into(),
            cidr_v4: "10.0.1.0/24".into(),
        }],
        route_tables: vec![RouteTable {
            route_table_id: "rtb-main".into(),
            vpc_id: "vpc-1".into(),
            main: true,
            subnet_ids: vec![],
            routes: vec![
                route("10.0.0.0/16", "local"),
                route("0.0.0.0/0", "igw-1"),
                route("::/0", "igw-1"),
            ],
        }],
        internet_gateways: vec![InternetGateway {
            internet_gateway_id: "igw-1".into(),
            attached_vpc_ids: vec!["vpc-1".into()],
        }],
        network_acls: vec![open_acl("acl-default", true, vec![])],
        security_groups: vec![group("sg-web", vec![sg_rule(tcp(443, 443), &["0.0.0.0/0"], &[])])],
        instances: vec![InstanceNetwork {
            instance_id: "i-1".into(),
            state: "running".into(),
            vpc_id: "vpc-1".into(),
            subnet_id: "subnet-1".into(),
            private_ipv4: vec!["10.0.1.10".into()],
            public_ipv4: vec!["54.10.0.1".into()],
            ipv6: vec![],
            security_group_ids: vec!["sg-web".into()],
        }],
    }
}

/// (family, protocol, first port, last port) of every exposure.
fn opened(s: &NetworkSnapshot) -> Vec<(Family, Protocol, u16, u16)> {
    analyze(s)
        .iter()
        .map(|e| (e.family, e.protocol, e.ports.from, e.ports.to))
        .collect()
}

fn groups_of(e: &Exposure) -> Vec<&str> {
    e.path
        .iter()
        .filter(|c| c.kind == ComponentKind::SecurityGroup)
        .map(|c| c.id.as_str())
        .collect()
}

const V4_TCP: (Family, Protocol) = (Family::V4, Protocol::Tcp);

fn v4_tcp(from: u16, to: u16) -> (Family, Protocol, u16, u16) {
    (V4_TCP.0, V4_TCP.1, from, to)
}

fn set_groups(s: &mut NetworkSnapshot, groups: Vec<SecurityGroup>) {
    s.instances[0].security_group_ids = groups.iter().map(|g| g.group_id.clone()).collect();
    s.security_groups = groups;
}

fn set_inbound(s: &mut NetworkSnapshot, entries: Vec<AclEntry>) {
    let acl = &mut s.network_acls[0];
    acl.entries.retain(|e| e.egress);
    acl.entries.extend(entries);
}

#[test]
fn an_instance_with_a_public_address_and_https_open_to_everyone_is_exposed_with_its_path() {
    let exposures = analyze(&world());
    assert_eq!(exposures.len(), 1);
    let e = &exposures[0];
    assert_eq!(e.instance_id, "i-1");
    assert_eq!(
        (e.family, e.protocol, e.ports),
        (Family::V4, Protocol::Tcp, PortRange { from: 443, to: 443 })
    );
    let path: Vec<(ComponentKind, &str)> = e.path.iter().map(|c| (c.kind, c.id.as_str())).collect();
    assert_eq!(
        path,
        vec![
            (ComponentKind::InternetGateway, "igw-1"),
            (ComponentKind::RouteTable, "rtb-main"),
            (ComponentKind::NetworkAcl, "acl-default"),
            (ComponentKind::SecurityGroup, "sg-web"),
            (ComponentKind::Subnet, "subnet-1"),
            (ComponentKind::Instance, "i-1"),
            (ComponentKind::PublicAddress, "54.10.0.1"),
        ]
    );
}

#[test]
fn an_instance_without_a_public_address_is_not_exposed() {
    let mut s = world();
    s.instances[0].public_ipv4.clear();
    assert_eq!(opened(&s), vec![]);
}

#[test]
fn a_route_table_without_a_route_to_an_internet_gateway_exposes_nothing() {
    let mut s = world();
    s.route_tables[0].routes = vec![route("10.0.0.0/16", "local"), route("0.0.0.0/0", "nat-1")];
    assert_eq!(opened(&s), vec![]);
}

#[test]
fn a_blackhole_route_to_a_deleted_gateway_exposes_nothing() {
    let mut s = world();
    s.route_tables[0].routes[1].active = false;
    assert_eq!(opened(&s), vec![]);
}

#[test]
fn more_specific_routes_elsewhere_take_the_internet_away_from_the_gateway_route() {
    let mut s = world();
    s.route_tables[0].routes.push(route("0.0.0.0/1", "nat-1"));
    s.route_tables[0].routes.push(route("128.0.0.0/1", "nat-1"));
    assert_eq!(
        opened(&s),
        vec![],
        "every public source now routes through the NAT gateway"
    );
    s.route_tables[0].routes.pop();
    assert_eq!(
        opened(&s),
        vec![v4_tcp(443, 443)],
        "half the internet still routes back"
    );
}

#[test]
fn an_internet_gateway_attached_to_another_vpc_does_not_count() {
    let mut s = world();
    s.internet_gateways[0].attached_vpc_ids = vec!["vpc-2".into()];
    assert_eq!(opened(&s), vec![]);
    s.internet_gateways[0].attached_vpc_ids = vec![];
    assert_eq!(opened(&s), vec![], "a detached gateway neither");
}

#[test]
fn a_subnet_without_an_explicit_table_uses_the_vpc_main_table() {
    let mut s = world();
    // A private table exists but is associated with another subnet: subnet-1 still uses main.
    s.route_tables.push(RouteTable {
        route_table_id: "rtb-private".into(),
        vpc_id: "vpc-1".into(),
        main: false,
        subnet_ids: vec!["subnet-2".into()],
        routes: vec![route("10.0.0.0/16", "local")],
    });
    let e = analyze(&s);
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].path[1].id, "rtb-main");
    // Associating the private table with subnet-1 overrides the main one.
    s.route_tables[1].subnet_ids.push("subnet-1".into());
    assert_eq!(opened(&s), vec![]);
    // And an explicit table with an internet route is named in the path.
    s.route_tables[1].routes.push(route("0.0.0.0/0", "igw-1"));
    s.route_tables[0].routes.truncate(1);
    let e = analyze(&s);
    assert_eq!(e[0].path[1].id, "rtb-private");
}

#[test]
fn a_subnet_without_an_explicit_acl_uses_the_vpc_default_acl() {
    let mut s = world();
    s.network_acls.push(NetworkAcl {
        network_acl_id: "acl-closed".into(),
        vpc_id: "vpc-1".into(),
        default: false,
        subnet_ids: vec!["subnet-2".into()],
        entries: vec![],
    });
    assert_eq!(analyze(&s)[0].path[2].id, "acl-default");
    s.network_acls[1].subnet_ids = vec!["subnet-1".into()];
    assert_eq!(opened(&s), vec![], "the explicit ACL (no rules: implicit deny) applies");
}

#[test]
fn an_acl_deny_numbered_before_an_allow_wins_and_after_it_loses() {
    let mut s = world();
    set_groups(
        &mut s,
        vec![group("sg-a", vec![sg_rule(tcp(20, 25), &["0.0.0.0/0"], &[])])],
    );
    set_inbound(
        &mut s,
        vec![
            entry(100, false, ALL, "0.0.0.0/0", true),
            entry(90, false, tcp(22, 22), "0.0.0.0/0", false),
        ],
    );
    assert_eq!(opened(&s), vec![v4_tcp(20, 21), v4_tcp(23, 25)]);
    s.network_acls[0]
        .entries
        .iter_mut()
        .filter(|e| e.rule_number == 90)
        .for_each(|e| e.rule_number = 110);
    assert_eq!(opened(&s), vec![v4_tcp(20, 25)], "the allow at 100 now matches first");
}

#[test]
fn an_acl_deny_of_a_small_range_before_an_allow_leaves_the_rest_of_the_internet_in() {
    let mut s = world();
    set_inbound(
        &mut s,
        vec![
            entry(90, false, tcp(443, 443), "52.94.0.0/16", false),
            entry(100, false, ALL, "0.0.0.0/0", true),
        ],
    );
    assert_eq!(opened(&s), vec![v4_tcp(443, 443)]);
}

#[test]
fn acl_ports_no_rule_allows_are_implicitly_denied() {
    let mut s = world();
    set_groups(&mut s, vec![group("sg-any", vec![sg_rule(ALL, &["0.0.0.0/0"], &[])])]);
    set_inbound(&mut s, vec![entry(100, false, tcp(443, 443), "0.0.0.0/0", true)]);
    assert_eq!(
        opened(&s),
        vec![v4_tcp(443, 443)],
        "UDP and every other TCP port fall through to the deny"
    );
}

#[test]
fn an_acl_admitting_only_private_sources_exposes_nothing() {
    let mut s = world();
    set_inbound(&mut s, vec![entry(100, false, ALL, "10.0.0.0/8", true)]);
    assert_eq!(opened(&s), vec![]);
}

#[test]
fn replies_need_one_outbound_ephemeral_port() {
    let mut s = world();
    s.network_acls[0].entries.retain(|e| !e.egress);
    assert_eq!(opened(&s), vec![], "no outbound rule: replies are dropped");
    s.network_acls[0]
        .entries
        .push(entry(100, true, tcp(443, 443), "0.0.0.0/0", true));
    assert_eq!(opened(&s), vec![], "port 443 is not an ephemeral port");
    s.network_acls[0]
        .entries
        .push(entry(110, true, tcp(32768, 65535), "0.0.0.0/0", true));
    assert_eq!(opened(&s), vec![v4_tcp(443, 443)], "Linux's ephemeral range is enough");
    s.network_acls[0]
        .entries
        .push(entry(105, true, tcp(1024, 65535), "0.0.0.0/0", false));
    assert_eq!(opened(&s), vec![], "a deny numbered first takes it back");
}

#[test]
fn security_groups_that_do_not_admit_the_internet_expose_nothing() {
    let mut s = world();
    let mut sg = group(
        "sg-internal",
        vec![
            sg_rule(tcp(22, 22), &["10.0.0.0/16"], &[]),
            sg_rule(tcp(443, 443), &["52.94.0.0/16", "54.239.0.0/16"], &[]),
            sg_rule(tcp(8080, 8080), &["54.10.0.7/32"], &[]),
        ],
    );
    sg.ingress.push(SecurityGroupRule {
        source_group_ids: vec!["sg-lb".into()],
        prefix_list_ids: vec!["pl-1".into()],
        ..sg_rule(tcp(80, 80), &[], &[])
    });
    set_groups(&mut s, vec![sg]);
    assert_eq!(opened(&s), vec![]);
}

#[test]
fn broad_public_ranges_count_as_the_internet() {
    let mut s = world();
    set_groups(
        &mut s,
        vec![group(
            "sg-wide",
            vec![
                sg_rule(tcp(22, 22), &["0.0.0.0/1", "128.0.0.0/1"], &[]),
                sg_rule(tcp(80, 80), &["52.0.0.0/8"], &[]),
                sg_rule(tcp(81, 81), &["10.0.0.0/8"], &[]),
            ],
        )],
    );
    assert_eq!(opened(&s), vec![v4_tcp(22, 22), v4_tcp(80, 80)]);
}

#[test]
fn an_all_traffic_rule_opens_every_tcp_and_udp_port() {
    let mut s = world();
    set_groups(&mut s, vec![group("sg-any", vec![sg_rule(ALL, &["0.0.0.0/0"], &[])])]);
    assert_eq!(
        opened(&s),
        vec![v4_tcp(0, 65535), (Family::V4, Protocol::Udp, 0, 65535)]
    );
}

#[test]
fn icmp_and_other_protocols_are_not_reported() {
    let mut s = world();
    set_groups(
        &mut s,
        vec![group(
            "sg-ping",
            vec![
                sg_rule((Protocol::Icmp, None), &["0.0.0.0/0"], &[]),
                sg_rule((Protocol::Other(47), None), &["0.0.0.0/0"], &[]),
            ],
        )],
    );
    assert_eq!(opened(&s), vec![]);
}

#[test]
fn several_groups_are_a_union_and_each_range_names_the_groups_that_open_it() {
    let mut s = world();
    set_groups(
        &mut s,
        vec![
            group("sg-b", vec![sg_rule(tcp(25, 40), &["0.0.0.0/0"], &[])]),
            group("sg-a", vec![sg_rule(tcp(20, 30), &["0.0.0.0/0"], &[])]),
            group("sg-c", vec![sg_rule(tcp(8080, 8080), &["0.0.0.0/0"], &[])]),
            group("sg-d", vec![sg_rule(tcp(8080, 8080), &["10.0.0.0/8"], &[])]),
        ],
    );
    let e = analyze(&s);
    assert_eq!(opened(&s), vec![v4_tcp(20, 40), v4_tcp(8080, 8080)]);
    assert_eq!(groups_of(&e[0]), vec!["sg-a", "sg-b"]);
    assert_eq!(groups_of(&e[1]), vec!["sg-c"], "sg-d admits no internet source");
}

#[test]
fn halves_of_the_internet_in_two_groups_open_a_port_together() {
    let mut s = world();
    set_groups(
        &mut s,
        vec![
            group("sg-low", vec![sg_rule(tcp(22, 22), &["0.0.0.0/1"], &[])]),
            group("sg-high", vec![sg_rule(tcp(22, 22), &["128.0.0.0/1"], &[])]),
            group("sg-tiny", vec![sg_rule(tcp(22, 22), &["54.1.2.3/32"], &[])]),
        ],
    );
    let e = analyze(&s);
    assert_eq!(opened(&s), vec![v4_tcp(22, 22)]);
    assert_eq!(
        groups_of(&e[0]),
        vec!["sg-high", "sg-low"],
        "each alone is a /1: both are named"
    );
}

#[test]
fn the_open_range_is_the_intersection_of_group_and_acl_allowances() {
    let mut s = world();
    set_groups(
        &mut s,
        vec![group("sg-r", vec![sg_rule(tcp(1000, 2000), &["0.0.0.0/0"], &[])])],
    );
    set_inbound(&mut s, vec![entry(100, false, tcp(1500, 2500), "0.0.0.0/0", true)]);
    assert_eq!(opened(&s), vec![v4_tcp(1500, 2000)]);
}

#[test]
fn an_ipv6_only_instance_is_exposed_through_its_global_address() {
    let mut s = world();
    s.instances[0].public_ipv4.clear();
    s.instances[0].ipv6 = vec!["2600:1f18:4a3:6900::10".into(), "fe80::1".into()];
    set_groups(
        &mut s,
        vec![group("sg-v6", vec![sg_rule(tcp(443, 443), &["0.0.0.0/0"], &["::/0"])])],
    );
    let e = analyze(&s);
    assert_eq!(opened(&s), vec![(Family::V6, Protocol::Tcp, 443, 443)]);
    assert_eq!(
        e[0].path.last().unwrap().id,
        "2600:1f18:4a3:6900::10",
        "the link-local address is not public"
    );
    // Without an IPv6 route to the gateway, or with only non-global addresses, nothing.
    let mut no_route = s.clone();
    no_route.route_tables[0].routes.retain(|r| r.destination_cidr != "::/0");
    assert_eq!(opened(&no_route), vec![]);
    let mut egress_only = s.clone();
    egress_only.route_tables[0].routes[2].target = "eigw-1".into();
    assert_eq!(opened(&egress_only), vec![], "an egress-only gateway admits nothing");
    s.instances[0].ipv6 = vec!["fd00::10".into()];
    assert_eq!(opened(&s), vec![]);
}

#[test]
fn a_group_rule_for_ipv4_only_does_not_open_ipv6() {
    let mut s = world();
    s.instances[0].ipv6 = vec!["2600:1f18:4a3:6900::10".into()];
    assert_eq!(opened(&s), vec![v4_tcp(443, 443)]);
}

#[test]
fn stopped_and_other_non_running_instances_are_not_exposed() {
    for state in ["stopped", "stopping", "pending", "terminated", ""] {
        let mut s = world();
        s.instances[0].state = state.into();
        assert_eq!(opened(&s), vec![], "{state:?}");
    }
}

#[test]
fn malformed_blocks_match_nothing() {
    let mut s = world();
    s.security_groups.push(group(
        "sg-bad",
        vec![sg_rule(tcp(22, 22), &["not-a-cidr", "::/0"], &[])],
    ));
    s.instances[0].security_group_ids.push("sg-bad".into());
    assert_eq!(opened(&s), vec![v4_tcp(443, 443)]);
}

fn verdict(s: &NetworkSnapshot) -> Verdict {
    assess(s).into_iter().find(|(id, _)| id == "i-1").unwrap().1
}

#[test]
fn a_reachable_instance_whose_network_the_snapshot_lacks_is_unknown_not_unreachable() {
    assert!(matches!(verdict(&world()), Verdict::Exposed(_)));
    let mut no_group = world();
    no_group.instances[0].security_group_ids.push("sg-gone".into());
    assert_eq!(verdict(&no_group), Verdict::Unknown);
    let mut no_table = world();
    no_table.route_tables.clear();
    assert_eq!(verdict(&no_table), Verdict::Unknown);
    let mut no_acl = world();
    no_acl.network_acls.clear();
    assert_eq!(verdict(&no_acl), Verdict::Unknown);
    // Without a public address, or not running, nothing else matters.
    no_acl.instances[0].public_ipv4.clear();
    assert_eq!(verdict(&no_acl), Verdict::Unreachable);
    no_table.instances[0].state = "stopped".into();
    assert_eq!(verdict(&no_table), Verdict::Unreachable);
    // Complete data without an open port is a verdict.
    let mut closed = world();
    closed.security_groups[0].ingress.clear();
    assert_eq!(verdict(&closed), Verdict::Unreachable);
}

#[test]
fn the_command_lists_judged_instances_with_their_exposures_and_leaves_unknown_ones_out() {
    use argus_proto::internal::v1::command::Kind;
    use argus_proto::v1::{NetworkComponentType, NetworkProtocol};
    let mut s = world();
    let template = s.instances[0].clone();
    s.instances.push(InstanceNetwork {
        instance_id: "i-private".into(),
        public_ipv4: vec![],
        ..template.clone()
    });
    s.instances.push(InstanceNetwork {
        instance_id: "i-unknown".into(),
        security_group_ids: vec!["sg-not-read".into()],
        ..template
    });
    let at = prost_types::Timestamp {
        seconds: 1_700_000_000,
        nanos: 0,
    };
    let Some(Kind::SetNetworkExposures(cmd)) = crate::reachability::command(&s, at).kind else {
        panic!("a SetNetworkExposures command");
    };
    assert_eq!(
        (cmd.account_id.as_str(), cmd.region.as_str(), cmd.observed_at),
        ("123456789012", "eu-west-1", Some(at))
    );
    let listed: Vec<(&str, usize)> = cmd
        .instances
        .iter()
        .map(|i| (i.instance_id.as_str(), i.exposures.len()))
        .collect();
    assert_eq!(listed, vec![("i-1", 1), ("i-private", 0)]);
    assert_eq!(cmd.unknown_instance_ids, vec!["i-unknown".to_string()]);
    let d = &cmd.instances[0].exposures[0];
    assert_eq!(d.protocol(), NetworkProtocol::Tcp);
    assert_eq!(
        (d.open_port_range.unwrap().begin, d.open_port_range.unwrap().end),
        (443, 443)
    );
    let types: Vec<NetworkComponentType> = d.network_path.iter().map(|c| c.component_type()).collect();
    assert_eq!(
        types,
        vec![
            NetworkComponentType::InternetGateway,
            NetworkComponentType::RouteTable,
            NetworkComponentType::NetworkAcl,
            NetworkComponentType::SecurityGroup,
            NetworkComponentType::Subnet,
            NetworkComponentType::Ec2Instance,
            NetworkComponentType::PublicIpAddress,
        ]
    );
    crate::state::State::validate(&argus_proto::internal::v1::Command {
        kind: Some(Kind::SetNetworkExposures(cmd)),
    })
    .expect("the command the analysis builds is valid");
}

#[test]
fn the_result_does_not_depend_on_the_order_of_the_snapshot_lists() {
    let mut s = world();
    s.instances.push(InstanceNetwork {
        instance_id: "i-0".into(),
        ..s.instances[0].clone()
    });
    s.security_groups
        .push(group("sg-ssh", vec![sg_rule(tcp(22, 22), &["0.0.0.0/0"], &[])]));
    s.instances[0].security_group_ids.push("sg-ssh".into());
    let before = analyze(&s);
    s.instances.reverse();
    s.security_groups.reverse();
    s.instances.iter_mut().for_each(|i| i.security_group_ids.reverse());
    s.route_tables[0].routes.reverse();
    s.network_acls[0].entries.reverse();
    assert_eq!(analyze(&s), before);
    let ids: Vec<&str> = before.iter().map(|e| e.instance_id.as_str()).collect();
    assert_eq!(ids, vec!["i-0", "i-1", "i-1"]);
}

// Random rule sets over a small vocabulary of blocks and ports, for the monotonicity property.

const BLOCKS: &[&str] = &[
    "0.0.0.0/0",
    "0.0.0.0/1",
    "128.0.0.0/1",
    "52.0.0.0/8",
    "52.94.0.0/16",
    "10.0.0.0/8",
    "54.10.0.7/32",
];
const PORTS: &[(u16, u16)] = &[(22, 22), (20, 30), (80, 443), (443, 443), (1024, 65535), (0, 65535)];

fn protocol() -> impl Strategy<Value = Protocol> {
    prop_oneof![
        Just(Protocol::All),
        Just(Protocol::Tcp),
        Just(Protocol::Udp),
        Just(Protocol::Icmp)
    ]
}

fn ports() -> impl Strategy<Value = Option<PortRange>> {
    proptest::option::of((0..PORTS.len()).prop_map(|i| PortRange {
        from: PORTS[i].0,
        to: PORTS[i].1,
    }))
}

fn any_sg_rule() -> impl Strategy<Value = SecurityGroupRule> {
    (protocol(), ports(), proptest::collection::vec(0..BLOCKS.len(), 0..3)).prop_map(|(p, r, blocks)| {
        let blocks: Vec<&str> = blocks.iter().map(|i| BLOCKS[*i]).collect();
        sg_rule((p, r), &blocks, &[])
    })
}

fn any_acl_entry() -> impl Strategy<Value = AclEntry> {
    (
        1..200i32,
        any::<bool>(),
        protocol(),
        ports(),
        0..BLOCKS.len(),
        any::<bool>(),
    )
        .prop_map(|(n, egress, p, r, b, allow)| entry(n, egress, (p, r), BLOCKS[b], allow))
}

fn randomized(groups: Vec<Vec<SecurityGroupRule>>, acl: Vec<AclEntry>) -> NetworkSnapshot {
    let mut s = world();
    set_groups(
        &mut s,
        groups
            .into_iter()
            .enumerate()
            .map(|(i, rules)| group(&format!("sg-{i}"), rules))
            .collect(),
    );
    // Distinct numbers, as EC2 requires within one direction.
    let mut seen = BTreeSet::new();
    s.network_acls[0].entries = acl
        .into_iter()
        .filter(|e| seen.insert((e.egress, e.rule_number)))
        .collect();
    s
}

/// The open ports of every (family, protocol), as sets.
fn open_sets(s: &NetworkSnapshot) -> BTreeMap<(Family, Protocol), Ranges> {
    let mut out: BTreeMap<(Family, Protocol), Ranges> = BTreeMap::new();
    for e in analyze(s) {
        let set = out.entry((e.family, e.protocol)).or_default();
        *set = set.union(&Ranges::interval(e.ports.from.into(), e.ports.to.into()));
    }
    out
}

fn covers(bigger: &BTreeMap<(Family, Protocol), Ranges>, smaller: &BTreeMap<(Family, Protocol), Ranges>) -> bool {
    smaller
        .iter()
        .all(|(k, v)| v.subtract(bigger.get(k).unwrap_or(&Ranges::empty())).is_empty())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Adding an allow rule to a security group never closes a port.
    #[test]
    fn adding_a_group_allow_rule_never_removes_an_exposure(
        groups in proptest::collection::vec(proptest::collection::vec(any_sg_rule(), 0..4), 1..3),
        acl in proptest::collection::vec(any_acl_entry(), 0..8),
        extra in any_sg_rule(),
        target in 0..3usize,
    ) {
        let before = randomized(groups.clone(), acl.clone());
        let mut more = groups;
        let t = target % more.len();
        more[t].push(extra);
        let after = randomized(more, acl);
        prop_assert!(covers(&open_sets(&after), &open_sets(&before)));
    }

    /// Adding an ACL allow entry, whatever its number, never closes a port: under first-match
    /// it can only let in what a later rule (or the implicit deny) would have refused.
    #[test]
    fn adding_an_acl_allow_entry_never_removes_an_exposure(
        groups in proptest::collection::vec(proptest::collection::vec(any_sg_rule(), 0..4), 1..3),
        acl in proptest::collection::vec(any_acl_entry(), 0..8),
        extra in any_acl_entry(),
    ) {
        let before = randomized(groups.clone(), acl.clone());
        let mut extra = extra;
        extra.allow = true;
        // Pushed last: an entry already holding its number keeps it (EC2 would refuse the
        // duplicate), which leaves the ACL as it was.
        let mut more = acl;
        more.push(extra);
        let after = randomized(groups, more);
        prop_assert!(covers(&open_sets(&after), &open_sets(&before)));
    }

    /// Exposed ranges come out sorted, disjoint and merged per (family, protocol).
    #[test]
    fn exposures_are_sorted_disjoint_and_merged(
        groups in proptest::collection::vec(proptest::collection::vec(any_sg_rule(), 0..4), 1..3),
        acl in proptest::collection::vec(any_acl_entry(), 0..8),
    ) {
        let s = randomized(groups, acl);
        let e = analyze(&s);
        for w in e.windows(2) {
            let (a, b) = (&w[0], &w[1]);
            if (a.family, a.protocol) == (b.family, b.protocol) {
                prop_assert!(u32::from(a.ports.to) + 1 < u32::from(b.ports.from), "{:?} then {:?}", a.ports, b.ports);
            } else {
                prop_assert!((a.family, a.protocol) < (b.family, b.protocol));
            }
        }
    }
}

/// A region of `instances` instances over 50 subnets (each with its own ACL of 20 numbered
/// rules per direction) and 40 security groups of 20 rules each, every instance public and in
/// three groups.
pub(crate) fn large_region(instances: usize) -> NetworkSnapshot {
    let mut s = world();
    s.subnets.clear();
    s.network_acls.clear();
    s.security_groups.clear();
    s.instances.clear();
    for n in 0..50 {
        let subnet = format!("subnet-{n}");
        s.subnets.push(Subnet {
            subnet_id: subnet.clone(),
            vpc_id: "vpc-1".into(),
            cidr_v4: format!("10.0.{n}.0/24"),
        });
        let mut entries = Vec::new();
        for r in 0..19 {
            let port = 1000 + r * 100;
            entries.push(entry(
                i32::from(r) + 1,
                false,
                tcp(port, port + 50),
                BLOCKS[usize::from(r) % BLOCKS.len()],
                r % 3 != 0,
            ));
            entries.push(entry(i32::from(r) + 1, true, tcp(port, port + 50), "0.0.0.0/0", true));
        }
        entries.push(entry(100, false, ALL, "0.0.0.0/0", true));
        entries.push(entry(100, true, ALL, "0.0.0.0/0", true));
        s.network_acls.push(NetworkAcl {
            network_acl_id: format!("acl-{n}"),
            vpc_id: "vpc-1".into(),
            default: false,
            subnet_ids: vec![subnet],
            entries,
        });
    }
    for g in 0..40u16 {
        let rules = (0..20u16)
            .map(|r| {
                let port = 20 + g * 50 + r * 7;
                let blocks = [BLOCKS[usize::from(g + r) % BLOCKS.len()], "10.0.0.0/8"];
                sg_rule(
                    if r % 5 == 0 {
                        (Protocol::Udp, Some(PortRange { from: port, to: port }))
                    } else {
                        tcp(port, port + 3)
                    },
                    &blocks,
                    &[],
                )
            })
            .collect();
        s.security_groups.push(group(&format!("sg-{g}"), rules));
    }
    for i in 0..instances {
        s.instances.push(InstanceNetwork {
            instance_id: format!("i-{i:08}"),
            state: "running".into(),
            vpc_id: "vpc-1".into(),
            subnet_id: format!("subnet-{}", i % 50),
            private_ipv4: vec![],
            public_ipv4: vec![format!("54.{}.{}.{}", i / 65536 % 256, i / 256 % 256, i % 256)],
            ipv6: vec![],
            security_group_ids: (0..3).map(|k| format!("sg-{}", (i * 7 + k * 13) % 40)).collect(),
        });
    }
    s
}

/// Not an assertion: reports how long one region of 10,000 public instances takes to analyse.
#[test]
fn report_analysis_time() {
    let s = large_region(10_000);
    let start = std::time::Instant::now();
    let found = analyze(&s);
    let secs = start.elapsed().as_secs_f64();
    println!(
        "reachability analysis: 10000 instances, 50 subnets, 40 groups of 20 rules: {} exposures in {secs:.2}s",
        found.len()
    );
    assert!(!found.is_empty());
}
