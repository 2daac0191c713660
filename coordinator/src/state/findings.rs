//! Findings as records: building one from an observation, deciding whether an observation
//! changes it, and closing. The lifecycle decisions themselves are in `scan.rs`,
//! `inventory.rs` (removal) and `suppression.rs`.

use argus_proto::v1::{ChangeKind, Finding, FindingStatus, ObservedVulnerability, Resource, ScanResult};

use super::apply::Ctx;
use super::keys;
use crate::error::Result;

/// The stable id of the finding `obs` describes on `resource`.
pub(super) fn id_of(resource: &Resource, obs: &ObservedVulnerability) -> String {
    let vuln = obs.vulnerability.as_ref().map_or("", |v| v.id.as_str());
    let (pkg, path) = obs
        .package
        .as_ref()
        .map_or(("", ""), |p| (p.name.as_str(), p.file_path.as_str()));
    argus_proto::finding_id(&resource.account_id, &resource.resource_id, vuln, pkg, path)
}

/// The resource as a finding embeds it: without coverage, which changes with every scan and
/// would make every refresh rewrite every finding's resource.
pub(super) fn embedded(resource: &Resource) -> Resource {
    Resource {
        coverage: None,
        ..resource.clone()
    }
}

/// A finding carrying what `obs` observed; status, timestamps and suppression are the caller's.
pub(super) fn observed(id: String, resource: &Resource, obs: &ObservedVulnerability, result: &ScanResult) -> Finding {
    Finding {
        finding_id: id,
        account_id: resource.account_id.clone(),
        r#type: obs.r#type,
        title: obs.title.clone(),
        description: obs.description.clone(),
        severity: obs.severity,
        score: obs.score,
        cvss_vector: obs.cvss_vector.clone(),
        status: FindingStatus::Active as i32,
        first_observed_at: None,
        last_observed_at: result.scanned_at,
        updated_at: None,
        resource: Some(embedded(resource)),
        vulnerability: obs.vulnerability.clone(),
        package: obs.package.clone(),
        fix_available: obs.fix_available,
        exploit_available: obs.exploit_available,
        epss_score: obs.epss_score,
        remediation: obs.remediation.clone(),
        suppressed_by: String::new(),
        db_version: result.db_version.clone(),
    }
}

/// Whether `old` already says everything `new` observed. Any observed field counts (severity,
/// score, vector, fix, fixed-in and installed version, EPSS, exploit, title, description, and
/// the rest of the advisory), so a consumer of the change log always holds the current content;
/// a scan that only sees the finding again is a refresh and emits no change.
pub(super) fn same_observation(old: &Finding, new: &Finding) -> bool {
    old.r#type == new.r#type
        && old.title == new.title
        && old.description == new.description
        && old.severity == new.severity
        && old.score.to_bits() == new.score.to_bits()
        && old.cvss_vector == new.cvss_vector
        && old.vulnerability == new.vulnerability
        && old.package == new.package
        && old.fix_available == new.fix_available
        && old.exploit_available == new.exploit_available
        && old.epss_score.to_bits() == new.epss_score.to_bits()
        && old.remediation == new.remediation
}

pub(super) fn is_open(f: &Finding) -> bool {
    f.status != FindingStatus::Closed as i32
}

/// Closes `finding` (no longer observed, or its resource is gone); true when it was open.
pub(super) fn close(ctx: &mut Ctx, finding: &mut Finding) -> bool {
    if !is_open(finding) {
        return false;
    }
    let before = super::Tally::of(finding);
    finding.status = FindingStatus::Closed as i32;
    finding.suppressed_by.clear();
    finding.updated_at = Some(ctx.now);
    ctx.write_finding(Some(before), finding, Some(ChangeKind::Closed));
    true
}

/// The ids of every finding ever recorded on `resource_id`, in id order.
pub(super) fn ids_of_resource(ctx: &Ctx, resource_id: &str) -> Result<Vec<String>> {
    let prefix = keys::by_resource_prefix(resource_id);
    ctx.txn
        .iter_prefix(keys::BY_RESOURCE, &prefix)
        .map(|item| item.map(|(k, _)| keys::suffix(&k, &prefix)))
        .collect()
}

pub(super) fn load(ctx: &Ctx, id: &str) -> Result<Option<Finding>> {
    ctx.txn.get_record(keys::FINDINGS, id.as_bytes())
}

/// Closes every open finding of `resource_id`; returns how many.
pub(super) fn close_all_of_resource(ctx: &mut Ctx, resource_id: &str) -> Result<u32> {
    let mut closed = 0;
    for id in ids_of_resource(ctx, resource_id)? {
        if let Some(mut f) = load(ctx, &id)? {
            closed += u32::from(close(ctx, &mut f));
        }
    }
    Ok(closed)
}
