//! Network exposures and the NETWORK_REACHABILITY findings they give, with the lifecycle of
//! package findings (`findings::reconcile`): one finding per instance, address family,
//! protocol and open port range, created ACTIVE, refreshed by every newer analysis that still
//! sees it, closed when it is gone, reopened under the same id when it returns.
//!
//! Each account and region's last analysis is kept (`keys::EXPOSURES`): its time, and each
//! instance's exposures. Those records also decide the context scores of the instance's
//! package findings (`score.rs`); when an instance turns reachable or unreachable, its open
//! package findings are re-scored here without a rescan.

use std::collections::{BTreeMap, BTreeSet};

use argus_proto::internal::v1::{
    ExposureScope, InstanceExposureRecord, SetNetworkExposures, SetNetworkExposuresResponse,
};
use argus_proto::v1::{
    Finding, FindingStatus, FindingType, IpVersion, NetworkComponentType, NetworkProtocol, NetworkReachabilityDetails,
    Resource, ResourceType, Severity, Vulnerability,
};
use prost_types::Timestamp;

use super::apply::Ctx;
use super::filter::time_key;
use super::findings::{self, Reconciled};
use super::score::{self, Reach};
use super::{attach, inventory, keys, records};
use crate::error::Result;

/// Records one analysis (or one part of it). An analysis newer than the account and region's
/// last complete one is applied; each listed instance is written unless its record is already
/// this new (an earlier part, or the same command again). The complete command (`partial`
/// false) then retires every instance no part of this analysis listed and that it does not
/// name as unknown, and becomes the account and region's last analysis.
pub(super) fn set_exposures(ctx: &mut Ctx, req: &SetNetworkExposures) -> Result<SetNetworkExposuresResponse> {
    let observed_at = req.observed_at.expect("validated");
    let at = time_key(Some(&observed_at));
    let scope_key = keys::exposure_scope(&req.account_id, &req.region);
    let scope: Option<ExposureScope> = ctx.txn.get_record(keys::EXPOSURES, &scope_key)?;
    if scope.is_some_and(|s| time_key(s.observed_at.as_ref()) >= at) {
        return Ok(SetNetworkExposuresResponse::default());
    }
    let mut out = SetNetworkExposuresResponse {
        applied: true,
        ..Default::default()
    };
    let mut done = Reconciled::default();
    for instance in &req.instances {
        let key = keys::exposure(&req.account_id, &req.region, &instance.instance_id);
        let old: Option<InstanceExposureRecord> = ctx.txn.get_record(keys::EXPOSURES, &key)?;
        if old.as_ref().is_some_and(|o| time_key(o.observed_at.as_ref()) >= at) {
            continue;
        }
        let mut record = InstanceExposureRecord {
            observed_at: Some(observed_at),
            exposures: canonical(&instance.exposures),
        };
        ctx.txn.put_record(keys::EXPOSURES, key, &mut record);
        out.instances += 1;
        out.scores_changed += changed(ctx, req, &instance.instance_id, old.as_ref(), Some(&record), &mut done)?;
    }
    if !req.partial {
        ctx.txn.put_record(
            keys::EXPOSURES,
            scope_key,
            &mut ExposureScope {
                observed_at: Some(observed_at),
            },
        );
        let unknown: BTreeSet<&str> = req.unknown_instance_ids.iter().map(String::as_str).collect();
        let prefix = keys::exposure_prefix(&req.account_id, &req.region);
        let mut retired = Vec::new();
        for item in ctx.txn.iter_prefix(keys::EXPOSURES, &prefix) {
            let (k, v) = item?;
            let id = keys::suffix(&k, &prefix);
            let record: InstanceExposureRecord = records::decode(keys::EXPOSURES, &v)?;
            if time_key(record.observed_at.as_ref()) < at && !unknown.contains(id.as_str()) {
                retired.push((id, record));
            }
        }
        for (id, old) in retired {
            ctx.txn
                .delete(keys::EXPOSURES, keys::exposure(&req.account_id, &req.region, &id));
            out.scores_changed += changed(ctx, req, &id, Some(&old), None, &mut done)?;
        }
    }
    out.findings_created = done.created;
    out.findings_closed = done.closed;
    out.findings_reopened = done.reopened;
    out.findings_updated = done.updated;
    Ok(out)
}

/// Exposures in one order (family, protocol, ports), so an unchanged analysis stores the same
/// bytes and findings are written in id order whatever the command's order.
fn canonical(exposures: &[NetworkReachabilityDetails]) -> Vec<NetworkReachabilityDetails> {
    let mut out = exposures.to_vec();
    out.sort_by_key(|d| {
        let r = d.open_port_range.unwrap_or_default();
        (d.ip_version, d.protocol, r.begin, r.end)
    });
    out
}

/// One instance's exposures went from `old` to `new` (`None`: not analysed): reconciles its
/// reachability findings and, when its reachability flips, re-scores its package findings.
/// Returns how many package findings changed score.
fn changed(
    ctx: &mut Ctx,
    req: &SetNetworkExposures,
    instance_id: &str,
    old: Option<&InstanceExposureRecord>,
    new: Option<&InstanceExposureRecord>,
    done: &mut Reconciled,
) -> Result<u32> {
    let resource: Option<Resource> = ctx.txn.get_record(keys::RESOURCES, instance_id.as_bytes())?;
    let Some(resource) = resource.filter(|r| {
        inventory::is_live(r)
            && r.r#type == ResourceType::AwsEc2Instance as i32
            && r.account_id == req.account_id
            && r.region == req.region
    }) else {
        // Not (or no longer) in the inventory, or held out of scanning (excluded by tag,
        // stopped) as its package findings are: the record waits for the resource to appear.
        return Ok(0);
    };
    let r = reconcile(ctx, &resource, old, new)?;
    done.created += r.created;
    done.closed += r.closed;
    done.reopened += r.reopened;
    done.updated += r.updated;
    let (before, after) = (reach(old), reach(new));
    if before == after {
        return Ok(0);
    }
    rescore_packages(ctx, &resource, after)
}

/// The reachability findings of `new` on the resource; those of `old` that `new` lacks close.
fn reconcile(
    ctx: &mut Ctx,
    resource: &Resource,
    old: Option<&InstanceExposureRecord>,
    new: Option<&InstanceExposureRecord>,
) -> Result<Reconciled> {
    let mut observed = BTreeMap::new();
    if let Some(new) = new {
        let at = new.observed_at.unwrap_or_default();
        for d in &new.exposures {
            let f = finding(resource, d, at);
            observed.insert(f.finding_id.clone(), f);
        }
    }
    let previous: BTreeSet<String> = old
        .iter()
        .flat_map(|o| o.exposures.iter())
        .map(|d| finding_id(resource, d))
        .collect();
    findings::reconcile(ctx, resource, observed, previous, |f| {
        f.r#type == FindingType::NetworkReachability as i32
    })
}

fn reach(record: Option<&InstanceExposureRecord>) -> Reach {
    match record {
        None => Reach::Unknown,
        Some(r) if r.exposures.is_empty() => Reach::Unreachable,
        Some(_) => Reach::Reachable,
    }
}

/// What the last analysis of the resource's account and region says about it.
pub(super) fn reach_of(ctx: &Ctx, resource: &Resource) -> Result<Reach> {
    if resource.r#type != ResourceType::AwsEc2Instance as i32 {
        return Ok(Reach::Unknown);
    }
    let record: Option<InstanceExposureRecord> = ctx.txn.get_record(
        keys::EXPOSURES,
        &keys::exposure(&resource.account_id, &resource.region, &resource.resource_id),
    )?;
    Ok(reach(record.as_ref()))
}

/// Re-scores the open package findings of the resource for `reach`; returns how many changed.
fn rescore_packages(ctx: &mut Ctx, resource: &Resource, reach: Reach) -> Result<u32> {
    let mut rescored = BTreeMap::new();
    for id in findings::ids_of_resource(ctx, &resource.resource_id)? {
        let Some(f) = findings::load(ctx, &id)? else { continue };
        if f.r#type != FindingType::PackageVulnerability as i32 || !findings::is_open(&f) {
            continue;
        }
        let mut g = f.clone();
        score::rescore(&mut g, reach);
        if !findings::same_observation(&f, &g) {
            rescored.insert(id, g);
        }
    }
    Ok(findings::reconcile(ctx, resource, rescored, [], |_| false)?.updated)
}

/// A resource appeared (new, back from removal, or moved to another account or region): its
/// reachability findings follow the stored exposures at once, as its package findings follow
/// its artifact's stored scan result. The caller writes the resource.
pub(super) fn resource_appeared(ctx: &mut Ctx, resource: &Resource) -> Result<()> {
    if resource.r#type != ResourceType::AwsEc2Instance as i32 || resource.removed {
        return Ok(());
    }
    let record: Option<InstanceExposureRecord> = ctx.txn.get_record(
        keys::EXPOSURES,
        &keys::exposure(&resource.account_id, &resource.region, &resource.resource_id),
    )?;
    if let Some(record) = record {
        reconcile(ctx, resource, None, Some(&record))?;
    }
    Ok(())
}

/// The vulnerability id of an exposure: `NETWORK/<IPV4|IPV6>/<TCP|UDP>/<first>-<last>`.
pub(super) fn vulnerability_id(d: &NetworkReachabilityDetails) -> String {
    let r = d.open_port_range.unwrap_or_default();
    format!("NETWORK/{}/{}/{}-{}", family_name(d), protocol_name(d), r.begin, r.end)
}

fn finding_id(resource: &Resource, d: &NetworkReachabilityDetails) -> String {
    argus_proto::finding_id(
        &resource.account_id,
        &resource.resource_id,
        &vulnerability_id(d),
        "",
        "",
    )
}

fn family_name(d: &NetworkReachabilityDetails) -> &'static str {
    match d.ip_version() {
        IpVersion::Ipv6 => "IPV6",
        _ => "IPV4",
    }
}

fn protocol_name(d: &NetworkReachabilityDetails) -> &'static str {
    match d.protocol() {
        NetworkProtocol::Udp => "UDP",
        _ => "TCP",
    }
}

/// Services commonly attacked from the internet (remote administration, file sharing,
/// databases, caches, container and search APIs), by protocol and port. An open range holding
/// one of them is MEDIUM; any other open range (e.g. a web server's 80 and 443) is LOW.
const SENSITIVE_TCP: &[u16] = &[
    20, 21, 22, 23, 135, 139, 445, 1433, 1521, 2375, 2376, 3306, 3389, 5432, 5900, 5985, 5986, 6379, 9200, 11211, 27017,
];
const SENSITIVE_UDP: &[u16] = &[69, 123, 137, 161, 389, 1900, 11211];

pub(super) fn severity(d: &NetworkReachabilityDetails) -> Severity {
    let r = d.open_port_range.unwrap_or_default();
    let ports = match d.protocol() {
        NetworkProtocol::Udp => SENSITIVE_UDP,
        _ => SENSITIVE_TCP,
    };
    if ports.iter().any(|p| (r.begin..=r.end).contains(&u32::from(*p))) {
        Severity::Medium
    } else {
        Severity::Low
    }
}

fn component_name(t: NetworkComponentType) -> &'static str {
    match t {
        NetworkComponentType::InternetGateway => "internet gateway",
        NetworkComponentType::RouteTable => "route table",
        NetworkComponentType::NetworkAcl => "network ACL",
        NetworkComponentType::SecurityGroup => "security group",
        NetworkComponentType::Subnet => "subnet",
        NetworkComponentType::Ec2Instance => "instance",
        NetworkComponentType::PublicIpAddress => "public address",
        NetworkComponentType::Unspecified => "component",
    }
}

/// The finding one exposure gives on `resource`, as observed at `at`.
fn finding(resource: &Resource, d: &NetworkReachabilityDetails, at: Timestamp) -> Finding {
    let r = d.open_port_range.unwrap_or_default();
    let ports = if r.begin == r.end {
        format!("port {}", r.begin)
    } else {
        format!("ports {}-{}", r.begin, r.end)
    };
    let (protocol, family) = (protocol_name(d), family_name(d));
    let path: Vec<String> = d
        .network_path
        .iter()
        .map(|c| format!("{} {}", component_name(c.component_type()), c.component_id))
        .collect();
    let vulnerability_id = vulnerability_id(d);
    Finding {
        finding_id: finding_id(resource, d),
        account_id: resource.account_id.clone(),
        r#type: FindingType::NetworkReachability as i32,
        title: format!("{protocol} {ports} reachable from the internet over {family}"),
        description: format!(
            "Instance {} accepts {protocol} on {ports} from the internet ({family}) through {}.",
            resource.resource_id,
            path.join(", ")
        ),
        severity: severity(d) as i32,
        status: FindingStatus::Active as i32,
        last_observed_at: Some(at),
        resource: Some(attach::reference(resource)),
        vulnerability: Some(Vulnerability {
            id: vulnerability_id,
            ..Default::default()
        }),
        remediation: format!(
            "If the service on {ports} is not meant to be public, remove or narrow the security group \
             rules that admit the internet to it, or deny it in the subnet's network ACL."
        ),
        network_reachability: Some(d.clone()),
        ..Default::default()
    }
}
