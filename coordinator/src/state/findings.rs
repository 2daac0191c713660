//! Findings as records: building one from an observation, deciding whether an observation
//! changes it, the lifecycle every source of findings shares (`reconcile`), and closing. The
//! sources are scan results (`scan.rs`) and network exposures (`network.rs`); removal is in
//! `inventory.rs` and suppression in `suppression.rs`.

use std::collections::BTreeMap;

use argus_proto::v1::{ChangeKind, Finding, FindingStatus, ObservedVulnerability, Resource, ScanResult};

use super::apply::Ctx;
use super::{attach, keys, suppression, Tally};
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
        resource: Some(attach::reference(resource)),
        vulnerability: obs.vulnerability.clone(),
        package: obs.package.clone(),
        fix_available: obs.fix_available,
        exploit_available: obs.exploit_available,
        epss_score: obs.epss_score,
        remediation: obs.remediation.clone(),
        suppressed_by: String::new(),
        db_version: result.db_version.clone(),
        ..Default::default()
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
        && old.network_reachability == new.network_reachability
        && old.base_score.to_bits() == new.base_score.to_bits()
        && old.base_severity == new.base_severity
        && old.scoring_vector == new.scoring_vector
        && old.adjustments == new.adjustments
}

/// What one reconciliation did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(super) struct Reconciled {
    pub created: u32,
    pub reopened: u32,
    pub updated: u32,
    pub closed: u32,
}

/// Brings one source's findings on `resource` in line with what it observes now. Each
/// finding of `observed` (by id; carrying the observation, `last_observed_at` and `db_version`)
/// is created, reopened, updated (a material change) or refreshed (the same observation: no
/// change event). Each id of `previous` that is not observed is closed when `owned` says the
/// stored finding is this source's (a scan does not close reachability findings, nor the
/// other way round). Work happens in finding-id order.
pub(super) fn reconcile(
    ctx: &mut Ctx,
    resource: &Resource,
    observed: BTreeMap<String, Finding>,
    previous: impl IntoIterator<Item = String>,
    owned: impl Fn(&Finding) -> bool,
) -> Result<Reconciled> {
    let rules = ctx.rules()?;
    let mut out = Reconciled::default();
    let mut gone: Vec<String> = previous.into_iter().filter(|id| !observed.contains_key(id)).collect();
    gone.sort_unstable();
    gone.dedup();
    for (id, mut new) in observed {
        match load(ctx, &id)? {
            None => {
                new.first_observed_at = new.last_observed_at;
                new.updated_at = Some(ctx.now);
                let kind = if suppression::judge(&rules, &mut new, resource) {
                    ChangeKind::Suppressed
                } else {
                    ChangeKind::Created
                };
                ctx.txn.put(
                    keys::BY_RESOURCE,
                    keys::by_resource(&resource.resource_id, &id),
                    Vec::new(),
                );
                ctx.write_finding(None, &mut new, Some(kind));
                out.created += 1;
            }
            Some(old) if !is_open(&old) => {
                new.first_observed_at = old.first_observed_at;
                new.updated_at = Some(ctx.now);
                suppression::judge(&rules, &mut new, resource);
                ctx.write_finding(Some(Tally::of(&old)), &mut new, Some(ChangeKind::Reopened));
                out.reopened += 1;
            }
            Some(mut old) if same_observation(&old, &new) => {
                let before = Tally::of(&old);
                old.last_observed_at = new.last_observed_at;
                old.db_version = new.db_version;
                ctx.write_finding(Some(before), &mut old, None);
            }
            Some(old) => {
                new.first_observed_at = old.first_observed_at;
                new.updated_at = Some(ctx.now);
                let was_suppressed = old.status == FindingStatus::Suppressed as i32;
                let kind = if suppression::judge(&rules, &mut new, resource) && !was_suppressed {
                    ChangeKind::Suppressed
                } else {
                    ChangeKind::Updated
                };
                ctx.write_finding(Some(Tally::of(&old)), &mut new, Some(kind));
                out.updated += 1;
            }
        }
    }
    for id in gone {
        if let Some(mut f) = load(ctx, &id)? {
            if owned(&f) {
                out.closed += u32::from(close(ctx, &mut f));
            }
        }
    }
    Ok(out)
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
