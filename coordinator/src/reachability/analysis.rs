//! Which TCP and UDP ports of which running instances the internet can reach, computed from
//! one account and region's network (see "Network reachability" in docs/ARCHITECTURE.md for
//! the rules and what is not modelled).
//!
//! The analysis works on sets of source addresses. For one instance, address family, protocol
//! and port, the sources that get through are those that
//! 1. are public (not private, shared, loopback, link-local, documentation, multicast or
//!    reserved space; for IPv6, global unicast `2000::/3` outside `2001:db8::/32`),
//! 2. the subnet's route table sends back to an internet gateway attached to the VPC (the
//!    longest matching route decides, so a more specific route to a NAT gateway or a blackhole
//!    takes those sources away),
//! 3. the subnet's network ACL lets in on that port (numbered rules, first match wins, anything
//!    unmatched is denied),
//! 4. the ACL lets the reply out to (any destination port in 1024–65535: the client picks its
//!    own source port, so one allowed ephemeral port is enough for an attacker), and
//! 5. one of the instance's security groups allows in on that port.
//!
//! A port is open to the internet when those sources number at least a /8's worth of IPv4
//! addresses (2^24) or a /16's worth of IPv6 addresses (2^112). So a rule for `0.0.0.0/0`, a
//! pair `0.0.0.0/1` + `128.0.0.0/1`, or a whole public /8 counts; a rule for a partner's /16 or
//! a single address does not, and neither does `0.0.0.0/0` behind an ACL that only admits
//! `10.0.0.0/8`.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::cidr::{parse_address, Cidr, Family, Ranges};
use super::model::{AclEntry, InstanceNetwork, NetworkAcl, NetworkSnapshot, PortRange, Protocol, RouteTable};

/// Fewest reaching sources that make a port open: a /8 of IPv4, a /16 of IPv6.
fn threshold(family: Family) -> u128 {
    match family {
        Family::V4 => 1 << 24,
        Family::V6 => 1 << 112,
    }
}

/// IPv4 space that is never an internet source (RFC 6890 special-purpose blocks that are not
/// globally reachable, plus multicast and the reserved 240/4).
const NOT_PUBLIC_V4: &[&str] = &[
    "0.0.0.0/8",
    "10.0.0.0/8",
    "100.64.0.0/10",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "172.16.0.0/12",
    "192.0.0.0/24",
    "192.0.2.0/24",
    "192.168.0.0/16",
    "198.18.0.0/15",
    "198.51.100.0/24",
    "203.0.113.0/24",
    "224.0.0.0/4",
    "240.0.0.0/4",
];

/// The internet's source addresses of one family.
fn public_space(family: Family) -> Ranges {
    let parse = |s: &str| Cidr::parse(s).expect("constant CIDR").ranges();
    match family {
        Family::V4 => NOT_PUBLIC_V4
            .iter()
            .fold(Family::V4.all(), |space, block| space.subtract(&parse(block))),
        Family::V6 => parse("2000::/3").subtract(&parse("2001:db8::/32")),
    }
}

/// The kinds of component on an exposure's path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ComponentKind {
    InternetGateway,
    RouteTable,
    NetworkAcl,
    SecurityGroup,
    Subnet,
    Instance,
    PublicAddress,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PathComponent {
    pub kind: ComponentKind,
    pub id: String,
}

/// One port range of one instance open to the internet over one protocol and address family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exposure {
    pub instance_id: String,
    pub family: Family,
    /// `Tcp` or `Udp`.
    pub protocol: Protocol,
    pub ports: PortRange,
    /// In order: internet gateway, route table, network ACL, security group(s), subnet,
    /// instance, public address(es).
    pub path: Vec<PathComponent>,
}

/// Every exposure in the snapshot, sorted by instance, family, protocol and first port. Pure:
/// the same snapshot always gives the same list, whatever the order of its lists.
pub fn analyze(snapshot: &NetworkSnapshot) -> Vec<Exposure> {
    assess(snapshot)
        .into_iter()
        .flat_map(|(_, verdict)| match verdict {
            Verdict::Exposed(e) => e,
            _ => Vec::new(),
        })
        .collect()
}

/// What the analysis can say about one instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// These ports are open to the internet (sorted by family, protocol and first port).
    Exposed(Vec<Exposure>),
    /// Not running, no public address, or no path from the internet to any port.
    Unreachable,
    /// Running with a public address, but the snapshot lacks the subnet's route table or
    /// network ACL, or one of the instance's security groups: nothing can be concluded.
    Unknown,
}

/// A verdict for every instance of the snapshot (listed once, by id), in id order.
pub fn assess(snapshot: &NetworkSnapshot) -> Vec<(String, Verdict)> {
    let index = Index::new(snapshot);
    let mut instances: Vec<&InstanceNetwork> = snapshot.instances.iter().collect();
    instances.sort_by(|a, b| a.instance_id.cmp(&b.instance_id));
    instances.dedup_by(|a, b| a.instance_id == b.instance_id);
    // Instances of one subnet with the same groups share everything but their addresses.
    let mut cache: HashMap<(Family, &str, &str, Vec<&str>), Found> = HashMap::new();
    let mut out = Vec::new();
    for instance in instances {
        let verdict = if instance.state != "running" {
            Verdict::Unreachable
        } else {
            assess_running(&index, instance, &mut cache)
        };
        out.push((instance.instance_id.clone(), verdict));
    }
    out
}

fn assess_running<'s>(
    index: &Index<'s>,
    instance: &'s InstanceNetwork,
    cache: &mut HashMap<(Family, &'s str, &'s str, Vec<&'s str>), Found>,
) -> Verdict {
    let groups = index.groups(instance);
    let mut exposures = Vec::new();
    for family in [Family::V4, Family::V6] {
        let addresses = public_addresses(instance, family);
        if addresses.is_empty() {
            continue;
        }
        if groups.len() < instance.security_group_ids.iter().collect::<BTreeSet<_>>().len() {
            return Verdict::Unknown;
        }
        let key = (
            family,
            instance.subnet_id.as_str(),
            instance.vpc_id.as_str(),
            groups.clone(),
        );
        let found = cache
            .entry(key)
            .or_insert_with(|| index.reach(instance, family, &groups));
        let reach = match found {
            Found::Missing => return Verdict::Unknown,
            Found::Closed => continue,
            Found::Open(reach) => reach,
        };
        for open in &reach.open {
            let mut path = Vec::new();
            for igw in &reach.gateways {
                path.push(component(ComponentKind::InternetGateway, igw));
            }
            path.push(component(ComponentKind::RouteTable, &reach.route_table));
            path.push(component(ComponentKind::NetworkAcl, &reach.acl));
            for group in &open.groups {
                path.push(component(ComponentKind::SecurityGroup, group));
            }
            path.push(component(ComponentKind::Subnet, &instance.subnet_id));
            path.push(component(ComponentKind::Instance, &instance.instance_id));
            for address in &addresses {
                path.push(component(ComponentKind::PublicAddress, address));
            }
            exposures.push(Exposure {
                instance_id: instance.instance_id.clone(),
                family,
                protocol: open.protocol,
                ports: open.ports,
                path,
            });
        }
    }
    if exposures.is_empty() {
        Verdict::Unreachable
    } else {
        Verdict::Exposed(exposures)
    }
}

fn component(kind: ComponentKind, id: &str) -> PathComponent {
    PathComponent {
        kind,
        id: id.to_string(),
    }
}

/// The instance's public IPv4 addresses, or its global unicast IPv6 addresses, sorted.
fn public_addresses(instance: &InstanceNetwork, family: Family) -> Vec<String> {
    let candidates = match family {
        Family::V4 => &instance.public_ipv4,
        Family::V6 => &instance.ipv6,
    };
    let global = public_space(family);
    let mut out: BTreeSet<String> = BTreeSet::new();
    for text in candidates {
        let Some((f, value)) = parse_address(text) else {
            continue;
        };
        // EC2 says which IPv4 addresses are public; an IPv6 address is reachable only if global.
        if f == family && (family == Family::V4 || global.contains(value)) {
            out.insert(text.trim().to_string());
        }
    }
    out.into_iter().collect()
}

/// What one subnet, family and set of groups come to.
enum Found {
    /// The subnet's route table or network ACL is not in the snapshot.
    Missing,
    Closed,
    Open(Reach),
}

/// What one subnet, family and set of groups expose.
struct Reach {
    gateways: Vec<String>,
    route_table: String,
    acl: String,
    open: Vec<Open>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Open {
    protocol: Protocol,
    ports: PortRange,
    groups: Vec<String>,
}

/// One rule of an ACL or a security group, read for one family and one protocol.
#[derive(Debug, Clone)]
struct Rule {
    ports: (u16, u16),
    sources: Ranges,
    allow: bool,
}

impl Rule {
    fn covers(&self, port: u16) -> bool {
        (self.ports.0..=self.ports.1).contains(&port)
    }
}

/// The ports a rule of `protocol` applies to when the traffic is `wanted` (TCP or UDP), or
/// `None` when it does not apply. EC2 ignores ports for "all traffic".
fn ports_for(protocol: Protocol, range: Option<PortRange>, wanted: Protocol) -> Option<(u16, u16)> {
    let applies = match protocol {
        Protocol::All => return Some((0, u16::MAX)),
        Protocol::Tcp | Protocol::Other(6) => wanted == Protocol::Tcp,
        Protocol::Udp | Protocol::Other(17) => wanted == Protocol::Udp,
        _ => false,
    };
    if !applies {
        return None;
    }
    Some(range.map_or((0, u16::MAX), |r| (r.from.min(r.to), r.from.max(r.to))))
}

/// The CIDR's addresses when it belongs to `family`; a block that does not parse matches
/// nothing.
fn block(text: &str, family: Family) -> Option<Ranges> {
    Cidr::parse(text).filter(|c| c.family == family).map(|c| c.ranges())
}

/// ACL entries of one direction, family and protocol, in evaluation order.
fn acl_rules(acl: &NetworkAcl, egress: bool, family: Family, protocol: Protocol) -> Vec<Rule> {
    let mut entries: Vec<&AclEntry> = acl.entries.iter().filter(|e| e.egress == egress).collect();
    // Stable: two entries with one number (EC2 refuses that) keep their listed order.
    entries.sort_by_key(|e| e.rule_number);
    entries
        .into_iter()
        .filter_map(|e| {
            Some(Rule {
                ports: ports_for(e.protocol, e.port_range, protocol)?,
                sources: block(&e.cidr, family)?,
                allow: e.allow,
            })
        })
        .collect()
}

/// The sources the first-match rules allow for `port`; everything unmatched is denied.
fn first_match(rules: &[Rule], family: Family, port: u16) -> Ranges {
    let mut remaining = family.all();
    let mut allowed = Ranges::empty();
    for rule in rules.iter().filter(|r| r.covers(port)) {
        let matched = remaining.intersect(&rule.sources);
        if rule.allow {
            allowed = allowed.union(&matched);
        }
        remaining = remaining.subtract(&rule.sources);
        if remaining.is_empty() {
            break;
        }
    }
    allowed
}

/// Splits `lo..=hi` into intervals on which every rule either covers all ports or none.
fn elementary<'r>(rules: impl Iterator<Item = &'r Rule>, lo: u16, hi: u16) -> Vec<(u16, u16)> {
    let mut cuts: BTreeSet<u32> = BTreeSet::from([u32::from(lo), u32::from(hi) + 1]);
    for r in rules {
        for cut in [u32::from(r.ports.0), u32::from(r.ports.1) + 1] {
            if cut > u32::from(lo) && cut <= u32::from(hi) {
                cuts.insert(cut);
            }
        }
    }
    let cuts: Vec<u32> = cuts.into_iter().collect();
    cuts.windows(2).map(|w| (w[0] as u16, (w[1] - 1) as u16)).collect()
}

/// The destinations the ACL lets replies out to: any one port in 1024–65535 is enough.
fn reply_destinations(acl: &NetworkAcl, family: Family, protocol: Protocol) -> Ranges {
    let rules = acl_rules(acl, true, family, protocol);
    elementary(rules.iter(), 1024, u16::MAX)
        .into_iter()
        .fold(Ranges::empty(), |all, (first, _)| {
            all.union(&first_match(&rules, family, first))
        })
}

/// The snapshot's components by id, lists sorted so that lookups do not depend on input order.
struct Index<'s> {
    subnets: BTreeMap<&'s str, &'s str>,
    route_tables: Vec<&'s RouteTable>,
    acls: Vec<&'s NetworkAcl>,
    igw_vpcs: BTreeMap<&'s str, BTreeSet<&'s str>>,
    groups: BTreeMap<&'s str, &'s super::model::SecurityGroup>,
}

impl<'s> Index<'s> {
    fn new(s: &'s NetworkSnapshot) -> Self {
        let mut route_tables: Vec<&RouteTable> = s.route_tables.iter().collect();
        route_tables.sort_by(|a, b| a.route_table_id.cmp(&b.route_table_id));
        let mut acls: Vec<&NetworkAcl> = s.network_acls.iter().collect();
        acls.sort_by(|a, b| a.network_acl_id.cmp(&b.network_acl_id));
        let mut igw_vpcs: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        for igw in &s.internet_gateways {
            igw_vpcs
                .entry(igw.internet_gateway_id.as_str())
                .or_default()
                .extend(igw.attached_vpc_ids.iter().map(String::as_str));
        }
        Self {
            subnets: s
                .subnets
                .iter()
                .map(|n| (n.subnet_id.as_str(), n.vpc_id.as_str()))
                .collect(),
            route_tables,
            acls,
            igw_vpcs,
            groups: s.security_groups.iter().map(|g| (g.group_id.as_str(), g)).collect(),
        }
    }

    /// The instance's known security groups, sorted and without repeats.
    fn groups(&self, instance: &'s InstanceNetwork) -> Vec<&'s str> {
        let ids: BTreeSet<&str> = instance
            .security_group_ids
            .iter()
            .map(String::as_str)
            .filter(|id| self.groups.contains_key(id))
            .collect();
        ids.into_iter().collect()
    }

    /// The subnet's VPC as the subnet says, else as the instance says.
    fn vpc_of(&self, instance: &'s InstanceNetwork) -> &'s str {
        self.subnets
            .get(instance.subnet_id.as_str())
            .copied()
            .unwrap_or(instance.vpc_id.as_str())
    }

    /// The table explicitly associated with the subnet, else the VPC's main table.
    fn route_table(&self, subnet: &str, vpc: &str) -> Option<&'s RouteTable> {
        self.route_tables
            .iter()
            .find(|t| t.subnet_ids.iter().any(|s| s == subnet))
            .or_else(|| self.route_tables.iter().find(|t| t.main && t.vpc_id == vpc))
            .copied()
    }

    /// The ACL explicitly associated with the subnet, else the VPC's default ACL.
    fn acl(&self, subnet: &str, vpc: &str) -> Option<&'s NetworkAcl> {
        self.acls
            .iter()
            .find(|a| a.subnet_ids.iter().any(|s| s == subnet))
            .or_else(|| self.acls.iter().find(|a| a.default && a.vpc_id == vpc))
            .copied()
    }

    fn attached(&self, igw: &str, vpc: &str) -> bool {
        self.igw_vpcs.get(igw).is_some_and(|vpcs| vpcs.contains(vpc))
    }

    /// The destinations the table routes to an internet gateway of the VPC (longest prefix
    /// first, so a more specific route of another kind, or a blackhole, takes its addresses
    /// away), and the gateways that carry them.
    fn internet_routes(&self, table: &RouteTable, vpc: &str, family: Family) -> (Ranges, Vec<String>) {
        let mut routes: Vec<(Cidr, usize)> = table
            .routes
            .iter()
            .enumerate()
            .filter_map(|(i, r)| Some((Cidr::parse(&r.destination_cidr).filter(|c| c.family == family)?, i)))
            .collect();
        routes.sort_by_key(|(c, i)| (std::cmp::Reverse(c.prefix_len), *i));
        let mut remaining = family.all();
        let mut routed = Ranges::empty();
        let mut gateways = BTreeSet::new();
        for (cidr, i) in routes {
            let route = &table.routes[i];
            let matched = remaining.intersect(&cidr.ranges());
            if matched.is_empty() {
                continue;
            }
            remaining = remaining.subtract(&cidr.ranges());
            if route.active && route.target.starts_with("igw-") && self.attached(&route.target, vpc) {
                routed = routed.union(&matched);
                gateways.insert(route.target.clone());
            }
        }
        (routed, gateways.into_iter().collect())
    }

    fn reach(&self, instance: &'s InstanceNetwork, family: Family, groups: &[&str]) -> Found {
        let vpc = self.vpc_of(instance);
        let (Some(table), Some(acl)) = (
            self.route_table(&instance.subnet_id, vpc),
            self.acl(&instance.subnet_id, vpc),
        ) else {
            return Found::Missing;
        };
        let (routed, gateways) = self.internet_routes(table, vpc, family);
        let internet = routed.intersect(&public_space(family));
        if internet.is_empty() {
            return Found::Closed;
        }
        let mut open = Vec::new();
        for protocol in [Protocol::Tcp, Protocol::Udp] {
            let base = internet.intersect(&reply_destinations(acl, family, protocol));
            if base.is_empty() {
                continue;
            }
            open.extend(self.open_ports(acl, &base, groups, family, protocol));
        }
        if open.is_empty() {
            return Found::Closed;
        }
        Found::Open(Reach {
            gateways,
            route_table: table.route_table_id.clone(),
            acl: acl.network_acl_id.clone(),
            open,
        })
    }

    /// The merged port ranges open to `base` sources through the ACL's inbound rules and the
    /// groups, each with the groups that open it.
    fn open_ports(
        &self,
        acl: &NetworkAcl,
        base: &Ranges,
        groups: &[&str],
        family: Family,
        protocol: Protocol,
    ) -> Vec<Open> {
        let inbound = acl_rules(acl, false, family, protocol);
        let group_rules: Vec<(&str, Vec<Rule>)> = groups
            .iter()
            .map(|id| (*id, group_rules(self.groups[id], family, protocol)))
            .collect();
        let all_rules = inbound.iter().chain(group_rules.iter().flat_map(|(_, r)| r.iter()));
        let mut open: Vec<Open> = Vec::new();
        for (first, last) in elementary(all_rules, 0, u16::MAX) {
            let through_acl = base.intersect(&first_match(&inbound, family, first));
            if through_acl.is_empty() {
                continue;
            }
            let mut total = Ranges::empty();
            let mut reaching: Vec<(&str, u128)> = Vec::new();
            for (id, rules) in &group_rules {
                let allowed = rules
                    .iter()
                    .filter(|r| r.covers(first))
                    .fold(Ranges::empty(), |all, r| all.union(&r.sources));
                let reach = allowed.intersect(&through_acl);
                if !reach.is_empty() {
                    reaching.push((id, reach.size()));
                    total = total.union(&reach);
                }
            }
            if total.size() < threshold(family) {
                continue;
            }
            // The groups that open the port by themselves; when only their union does, all
            // the groups that contribute.
            let alone: Vec<String> = reaching
                .iter()
                .filter(|(_, n)| *n >= threshold(family))
                .map(|(id, _)| id.to_string())
                .collect();
            let groups = if alone.is_empty() {
                reaching.iter().map(|(id, _)| id.to_string()).collect()
            } else {
                alone
            };
            match open.last_mut() {
                Some(prev) if u32::from(prev.ports.to) + 1 == u32::from(first) => {
                    prev.ports.to = last;
                    let merged: BTreeSet<String> = prev.groups.drain(..).chain(groups).collect();
                    prev.groups = merged.into_iter().collect();
                }
                _ => open.push(Open {
                    protocol,
                    ports: PortRange { from: first, to: last },
                    groups,
                }),
            }
        }
        open
    }
}

/// A security group's ingress permissions for one family and protocol. Sources named by group
/// or by prefix list are other instances or managed ranges, never the internet.
fn group_rules(group: &super::model::SecurityGroup, family: Family, protocol: Protocol) -> Vec<Rule> {
    group
        .ingress
        .iter()
        .filter_map(|rule| {
            let ports = ports_for(rule.protocol, rule.port_range, protocol)?;
            let cidrs = match family {
                Family::V4 => &rule.cidrs_v4,
                Family::V6 => &rule.cidrs_v6,
            };
            let sources = cidrs
                .iter()
                .filter_map(|c| block(c, family))
                .fold(Ranges::empty(), |all, r| all.union(&r));
            Some(Rule {
                ports,
                sources,
                allow: true,
            })
        })
        .collect()
}

#[cfg(test)]
#[path = "analysis_tests.rs"]
pub(crate) mod tests;
