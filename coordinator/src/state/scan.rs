//! Scan results and coverage. A result belongs to an artifact digest and applies to every live
//! resource carrying it, now and later (scan once, fan out). Each resource remembers, in
//! `coverage.last_scanned_at`, the newest result applied to it; a result that is not newer
//! changes nothing, which makes ingestion idempotent and immune to reordering.

use std::collections::BTreeMap;

use argus_proto::internal::v1::{SetCoverage, SetCoverageResponse};
use argus_proto::v1::{
    Coverage, CoverageReason, CoverageStatus, Finding, FindingType, IngestScanResultsRequest,
    IngestScanResultsResponse, Resource, ScanOutcome, ScanResult,
};

use super::apply::Ctx;
use super::filter::time_key;
use super::{findings, keys, network, reevaluation, schedule, score};
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
                // Matched with an older database than the one the cluster re-evaluated against
                // (a first scan in flight when the database changed, whose inventory
                // re-evaluation could not find yet, or a worker that had not switched): the
                // findings lack what the newer database added, so the inventory is re-matched.
                if let Some(current) = schedule::older_than_reevaluated(ctx, result) {
                    schedule::rematch(ctx, &result.artifact_digest, &current)?;
                }
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
    if coverage.reason == CoverageReason::StaleInventory as i32 {
        // A re-match of the last inventory a silent host reported: its findings follow the
        // database, its coverage keeps saying that the inventory is old.
        if failure.is_none() {
            coverage.db_version = result.db_version.clone();
            return reconcile_findings(ctx, resource, result, out);
        }
        return Ok(());
    }
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
/// closes the resource's open findings it no longer reports (reachability findings are not the
/// scan's). Scores are set for the resource's environment (`score.rs`).
fn reconcile_findings(
    ctx: &mut Ctx,
    resource: &Resource,
    result: &ScanResult,
    out: &mut IngestScanResultsResponse,
) -> Result<()> {
    let reach = network::reach_of(ctx, resource)?;
    // Two observations with one id (same vulnerability, package and path) are one finding:
    // the first one in the result is kept.
    let mut reported: BTreeMap<String, Finding> = BTreeMap::new();
    for obs in &result.vulnerabilities {
        let id = findings::id_of(resource, obs);
        if !reported.contains_key(&id) {
            let mut new = findings::observed(id.clone(), resource, obs, result);
            score::rescore(&mut new, reach);
            reported.insert(id, new);
        }
    }
    let known = findings::ids_of_resource(ctx, &resource.resource_id)?;
    let done = findings::reconcile(ctx, resource, reported, known, |f| {
        f.r#type != FindingType::NetworkReachability as i32
    })?;
    out.findings_created += done.created;
    out.findings_reopened += done.reopened;
    out.findings_updated += done.updated;
    out.findings_closed += done.closed;
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
        // A stale host's coverage stays stale while its last inventory is re-matched.
        if resource.removed || super::stale::is_stale(&resource) {
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
