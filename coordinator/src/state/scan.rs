//! Scan results and coverage. A result belongs to an artifact digest and applies to every live
//! resource carrying it, now and later (scan once, fan out). Each resource remembers, in
//! `coverage.last_scanned_at`, the newest result applied to it; a result that is not newer
//! changes nothing, which makes ingestion idempotent and immune to reordering.

use std::collections::BTreeMap;

use argus_proto::internal::v1::{SetCoverage, SetCoverageResponse};
use argus_proto::v1::{
    ChangeKind, Coverage, CoverageReason, CoverageStatus, FindingStatus, IngestScanResultsRequest,
    IngestScanResultsResponse, ObservedVulnerability, Resource, ScanOutcome, ScanResult,
};

use super::apply::Ctx;
use super::filter::time_key;
use super::{findings, keys, reevaluation, schedule, suppression, Tally};
use crate::error::Result;

pub(super) fn ingest(ctx: &mut Ctx, req: &IngestScanResultsRequest) -> Result<IngestScanResultsResponse> {
    let mut out = IngestScanResultsResponse::default();
    for result in &req.results {
        let mut applied = false;
        let stored: Option<ScanResult> = ctx.txn.get_record(keys::ARTIFACTS, result.artifact_digest.as_bytes())?;
        let newer = stored.is_none_or(|s| time_key(s.scanned_at.as_ref()) < time_key(result.scanned_at.as_ref()));
        if schedule::on_result(ctx, result, newer)? == schedule::Verdict::Hold {
            out.ignored += 1;
            continue;
        }
        if newer {
            // What the artifact was last observed with, for resources that appear later; the
            // inventory is kept apart, for re-matching against a newer vulnerability DB.
            let mut copy = ScanResult {
                inventory: Default::default(),
                ..result.clone()
            };
            ctx.txn
                .put_record(keys::ARTIFACTS, result.artifact_digest.clone().into_bytes(), &mut copy);
            if !result.inventory.is_empty() {
                reevaluation::store_inventory(ctx, &result.artifact_digest, &result.inventory)?;
            }
            applied = true;
        }
        for resource_id in resources_carrying(ctx, &result.artifact_digest)? {
            let Some(mut resource) = load_resource(ctx, &resource_id)? else {
                continue;
            };
            if resource.removed || !is_newer(&resource, result) {
                continue;
            }
            apply_result(ctx, &mut resource, result, &mut out)?;
            ctx.txn
                .put_record(keys::RESOURCES, resource_id.into_bytes(), &mut resource);
            applied = true;
        }
        if applied {
            out.applied += 1;
        } else {
            out.ignored += 1;
        }
    }
    Ok(out)
}

/// Applies the stored result of the resource's artifact, if there is one it has not seen: a
/// resource that appears (or changes image) after its artifact was scanned gets its findings at
/// once. The caller writes `resource`.
pub(super) fn apply_stored_result(ctx: &mut Ctx, resource: &mut Resource) -> Result<()> {
    if resource.artifact_digest.is_empty() || resource.removed {
        return Ok(());
    }
    let stored: Option<ScanResult> = ctx
        .txn
        .get_record(keys::ARTIFACTS, resource.artifact_digest.as_bytes())?;
    if let Some(result) = stored.filter(|r| is_newer(resource, r)) {
        apply_result(ctx, resource, &result, &mut IngestScanResultsResponse::default())?;
    }
    Ok(())
}

fn is_newer(resource: &Resource, result: &ScanResult) -> bool {
    let last = resource.coverage.as_ref().and_then(|c| c.last_scanned_at.as_ref());
    time_key(last) < time_key(result.scanned_at.as_ref())
}

pub(super) fn resources_carrying(ctx: &Ctx, digest: &str) -> Result<Vec<String>> {
    let prefix = keys::by_artifact_prefix(digest);
    ctx.txn
        .iter_prefix(keys::BY_ARTIFACT, &prefix)
        .map(|item| item.map(|(k, _)| keys::suffix(&k, &prefix)))
        .collect()
}

/// Whether any live resource carries `digest` (reads one key, not the whole list).
pub(super) fn carried(ctx: &Ctx, digest: &str) -> Result<bool> {
    let prefix = keys::by_artifact_prefix(digest);
    Ok(ctx
        .txn
        .iter_prefix(keys::BY_ARTIFACT, &prefix)
        .next()
        .transpose()?
        .is_some())
}

fn load_resource(ctx: &Ctx, id: &str) -> Result<Option<Resource>> {
    ctx.txn.get_record(keys::RESOURCES, id.as_bytes())
}

/// Applies one (newer) result to one live resource: its coverage, and on success its findings.
/// A failed scan records why in the coverage and leaves the findings as they were.
fn apply_result(
    ctx: &mut Ctx,
    resource: &mut Resource,
    result: &ScanResult,
    out: &mut IngestScanResultsResponse,
) -> Result<()> {
    debug_assert!(!resource.removed && is_newer(resource, result));
    let coverage = resource.coverage.get_or_insert_with(Coverage::default);
    coverage.last_scanned_at = result.scanned_at;
    let failure = match ScanOutcome::try_from(result.outcome) {
        Ok(ScanOutcome::Succeeded) => None,
        Ok(ScanOutcome::Unsupported) => Some(CoverageReason::UnsupportedOs),
        Ok(ScanOutcome::AccessDenied) => Some(CoverageReason::AccessDenied),
        _ => Some(CoverageReason::ScanFailed),
    };
    if let Some(reason) = failure {
        coverage.status = CoverageStatus::CoverageInactive as i32;
        coverage.reason = reason as i32;
        coverage.detail = result.error.clone();
        return Ok(());
    }
    coverage.status = CoverageStatus::CoverageActive as i32;
    coverage.reason = CoverageReason::Successful as i32;
    coverage.db_version = result.db_version.clone();
    coverage.detail.clear();
    reconcile_findings(ctx, resource, result, out)
}

/// Creates, refreshes, updates and reopens the findings `result` reports on `resource`, and
/// closes the resource's open findings it no longer reports. Work happens in finding-id order.
fn reconcile_findings(
    ctx: &mut Ctx,
    resource: &Resource,
    result: &ScanResult,
    out: &mut IngestScanResultsResponse,
) -> Result<()> {
    let rules = ctx.rules()?;
    // Two observations with one id (same vulnerability, package and path) are one finding:
    // the first one in the result is kept.
    let mut reported: BTreeMap<String, &ObservedVulnerability> = BTreeMap::new();
    for obs in &result.vulnerabilities {
        reported.entry(findings::id_of(resource, obs)).or_insert(obs);
    }
    let known = findings::ids_of_resource(ctx, &resource.resource_id)?;
    for (id, obs) in &reported {
        let mut new = findings::observed(id.clone(), resource, obs, result);
        match findings::load(ctx, id)? {
            None => {
                new.first_observed_at = result.scanned_at;
                new.updated_at = Some(ctx.now);
                let kind = if suppression::judge(&rules, &mut new) {
                    ChangeKind::Suppressed
                } else {
                    ChangeKind::Created
                };
                ctx.txn.put(
                    keys::BY_RESOURCE,
                    keys::by_resource(&resource.resource_id, id),
                    Vec::new(),
                );
                ctx.write_finding(None, &mut new, Some(kind));
                out.findings_created += 1;
            }
            Some(old) if !findings::is_open(&old) => {
                new.first_observed_at = old.first_observed_at;
                new.updated_at = Some(ctx.now);
                suppression::judge(&rules, &mut new);
                ctx.write_finding(Some(Tally::of(&old)), &mut new, Some(ChangeKind::Reopened));
                out.findings_reopened += 1;
            }
            Some(mut old) if findings::same_observation(&old, &new) => {
                // A refresh: the finding is still there and says the same; no change event.
                let before = Tally::of(&old);
                old.last_observed_at = result.scanned_at;
                old.db_version = result.db_version.clone();
                ctx.write_finding(Some(before), &mut old, None);
            }
            Some(old) => {
                new.first_observed_at = old.first_observed_at;
                new.updated_at = Some(ctx.now);
                let was_suppressed = old.status == FindingStatus::Suppressed as i32;
                let kind = if suppression::judge(&rules, &mut new) && !was_suppressed {
                    ChangeKind::Suppressed
                } else {
                    ChangeKind::Updated
                };
                ctx.write_finding(Some(Tally::of(&old)), &mut new, Some(kind));
                out.findings_updated += 1;
            }
        }
    }
    for id in known.iter().filter(|id| !reported.contains_key(*id)) {
        if let Some(mut f) = findings::load(ctx, id)? {
            out.findings_closed += u32::from(findings::close(ctx, &mut f));
        }
    }
    Ok(())
}

/// Coverage the scheduler sets for every live resource carrying the artifact (e.g. SCAN_IN_
/// PROGRESS). `last_scanned_at` and `db_version` are kept when the update leaves them unset.
pub(super) fn set_coverage(ctx: &mut Ctx, req: &SetCoverage) -> Result<SetCoverageResponse> {
    let update = req.coverage.clone().expect("validated");
    let mut resources = 0;
    for resource_id in resources_carrying(ctx, &req.artifact_digest)? {
        let Some(mut resource) = load_resource(ctx, &resource_id)? else {
            continue;
        };
        if resource.removed {
            continue;
        }
        let old = resource.coverage.take().unwrap_or_default();
        let mut new = update.clone();
        if new.last_scanned_at.is_none() {
            new.last_scanned_at = old.last_scanned_at;
        }
        if new.db_version.is_empty() {
            new.db_version = old.db_version;
        }
        resource.coverage = Some(new);
        ctx.txn
            .put_record(keys::RESOURCES, resource_id.into_bytes(), &mut resource);
        resources += 1;
    }
    Ok(SetCoverageResponse { resources })
}
