//! Accounts and resources: batched upserts and removals.

use argus_proto::v1::{
    Account, AgentReport, Coverage, CoverageReason, CoverageStatus, InventorySource, PutAccountsRequest,
    PutAccountsResponse, PutResourcesRequest, PutResourcesResponse, RemoveAccountsRequest, RemoveAccountsResponse,
    RemoveResourcesRequest, RemoveResourcesResponse, ReportHostInventoryRequest, ReportHostInventoryResponse, Resource,
    ResourceType, ScanResult,
};

use super::apply::Ctx;
use super::{findings, keys, network, reevaluation, scan, schedule, stale, suppression};
use crate::error::Result;

pub(super) fn put_accounts(ctx: &mut Ctx, req: &PutAccountsRequest) -> Result<PutAccountsResponse> {
    let mut out = PutAccountsResponse::default();
    for input in &req.accounts {
        let old: Option<Account> = ctx.txn.get_record(keys::ACCOUNTS, input.account_id.as_bytes())?;
        let mut account = Account {
            first_seen_at: Some(old.as_ref().and_then(|o| o.first_seen_at).unwrap_or(ctx.now)),
            last_seen_at: Some(ctx.now),
            ..input.clone()
        };
        if old.is_some() {
            out.updated += 1;
        } else {
            out.created += 1;
        }
        ctx.txn
            .put_record(keys::ACCOUNTS, account.account_id.clone().into_bytes(), &mut account);
    }
    Ok(out)
}

/// Removes the account records only. Resources name their account by id and stay, with their
/// findings: removing inventory is explicit (`RemoveResources`), so dropping an account from an
/// organization listing never silently closes findings.
pub(super) fn remove_accounts(ctx: &mut Ctx, req: &RemoveAccountsRequest) -> Result<RemoveAccountsResponse> {
    let mut out = RemoveAccountsResponse::default();
    for id in &req.account_ids {
        if ctx.txn.get(keys::ACCOUNTS, id.as_bytes())?.is_some() {
            ctx.txn.delete(keys::ACCOUNTS, id.clone().into_bytes());
            out.removed += 1;
        }
    }
    Ok(out)
}

fn pending_initial_scan() -> Coverage {
    Coverage {
        status: CoverageStatus::CoverageActive as i32,
        reason: CoverageReason::PendingInitialScan as i32,
        ..Default::default()
    }
}

/// An EC2 instance with nothing to scan: neither an agent nor SSM reports its inventory, so it
/// is known but not covered.
fn unmanaged() -> Coverage {
    Coverage {
        status: CoverageStatus::CoverageInactive as i32,
        reason: CoverageReason::UnmanagedEc2Instance as i32,
        ..Default::default()
    }
}

/// The coverage a live resource starts with.
fn initial_coverage(r: &Resource) -> Coverage {
    if r.r#type == ResourceType::AwsEc2Instance as i32 && r.artifact_digest.is_empty() {
        unmanaged()
    } else {
        pending_initial_scan()
    }
}

/// A put without an artifact (discovery re-reading an instance, which knows nothing of its
/// agent) keeps the artifact the resource's agent reported. Everything else is the put's.
fn keep_agent_artifact<'a>(input: &'a Resource, old: Option<&Resource>) -> std::borrow::Cow<'a, Resource> {
    match old.filter(|o| o.agent.is_some() && o.r#type == input.r#type) {
        Some(o) if input.agent.is_none() && input.artifact_digest.is_empty() => std::borrow::Cow::Owned(Resource {
            artifact_digest: o.artifact_digest.clone(),
            artifact_locator: String::new(),
            agent: o.agent.clone(),
            ..input.clone()
        }),
        _ => std::borrow::Cow::Borrowed(input),
    }
}

/// The coverage an inventory source may set on a resource it puts: INACTIVE with
/// EXCLUDED_BY_TAG or EC2_INSTANCE_STOPPED. Any other coverage in a put is the coordinators'
/// to compute and is ignored.
pub fn held_coverage(input: &Resource) -> Option<CoverageReason> {
    let c = input.coverage.as_ref()?;
    if c.status != CoverageStatus::CoverageInactive as i32 {
        return None;
    }
    match CoverageReason::try_from(c.reason) {
        Ok(r @ (CoverageReason::ExcludedByTag | CoverageReason::Ec2InstanceStopped)) => Some(r),
        _ => None,
    }
}

/// A stored resource that is scanned: not removed and not held inactive by its source.
pub(super) fn is_live(r: &Resource) -> bool {
    !r.removed && held_coverage(r).is_none()
}

/// Upserts by resource id. The caller's description (type, account, region, tags, digest,
/// details) replaces the stored one; first_seen_at is kept and last_seen_at is now; a removed
/// resource comes back. Coverage starts over (PENDING_INITIAL_SCAN, nothing scanned) when the
/// resource is new, returns, or now carries another artifact or account, so that the stored
/// result of its artifact applies to it at once.
///
/// A resource put with a held coverage (excluded by tag, stopped instance) is kept in the
/// inventory with that coverage but is not scanned: it carries no artifact for the scheduler
/// and its open findings close. Put again without it, it is scanned like a returning resource.
pub(super) fn put_resources(ctx: &mut Ctx, req: &PutResourcesRequest) -> Result<PutResourcesResponse> {
    let mut out = PutResourcesResponse::default();
    for input in &req.resources {
        let old: Option<Resource> = ctx.txn.get_record(keys::RESOURCES, input.resource_id.as_bytes())?;
        let input = &*keep_agent_artifact(input, old.as_ref());
        let held = held_coverage(input);
        let was_live = old.as_ref().is_some_and(is_live);
        let live = held.is_none();
        let coverage = match (&old, held) {
            (_, Some(reason)) => Some(Coverage {
                status: CoverageStatus::CoverageInactive as i32,
                reason: reason as i32,
                ..old
                    .as_ref()
                    .and_then(|o| o.coverage.clone())
                    .map(|c| Coverage {
                        detail: String::new(),
                        ..c
                    })
                    .unwrap_or_default()
            }),
            (Some(o), None)
                if was_live && o.artifact_digest == input.artifact_digest && o.account_id == input.account_id =>
            {
                o.coverage.clone()
            }
            _ => Some(initial_coverage(input)),
        };
        let mut resource = Resource {
            r#type: input.r#type,
            resource_id: input.resource_id.clone(),
            account_id: input.account_id.clone(),
            region: input.region.clone(),
            tags: input.tags.clone(),
            artifact_digest: input.artifact_digest.clone(),
            artifact_locator: input.artifact_locator.clone(),
            details: input.details.clone(),
            first_seen_at: Some(old.as_ref().and_then(|o| o.first_seen_at).unwrap_or(ctx.now)),
            last_seen_at: Some(ctx.now),
            removed: false,
            removed_at: None,
            coverage,
            agent: input.agent.clone(),
        };
        let old_digest = old.as_ref().map(|o| o.artifact_digest.as_str()).unwrap_or("");
        match &old {
            None => out.created += 1,
            Some(o) => {
                let seen_again = Resource {
                    last_seen_at: resource.last_seen_at,
                    ..o.clone()
                };
                if seen_again == resource {
                    out.unchanged += 1;
                } else {
                    out.updated += 1;
                }
            }
        }
        // `by_artifact` lists the live resources of each artifact: the scheduler tracks an
        // artifact while the list is not empty.
        let digest_changed = old_digest != resource.artifact_digest;
        if was_live && !old_digest.is_empty() && (!live || digest_changed) {
            ctx.txn
                .delete(keys::BY_ARTIFACT, keys::by_artifact(old_digest, &resource.resource_id));
            schedule::untrack_if_unused(ctx, old_digest)?;
        }
        if was_live && !live {
            findings::close_all_of_resource(ctx, &resource.resource_id)?;
        }
        if live && !resource.artifact_digest.is_empty() {
            if !was_live || digest_changed {
                ctx.txn.put(
                    keys::BY_ARTIFACT,
                    keys::by_artifact(&resource.artifact_digest, &resource.resource_id),
                    Vec::new(),
                );
            }
            let locator_changed = old
                .as_ref()
                .is_some_and(|o| o.artifact_locator != resource.artifact_locator);
            if !was_live || digest_changed || locator_changed {
                schedule::track(ctx, &resource)?;
            }
            scan::apply_stored_result(ctx, &mut resource)?;
        }
        let appeared = live
            && old.as_ref().is_none_or(|o| {
                !was_live
                    || o.r#type != resource.r#type
                    || o.account_id != resource.account_id
                    || o.region != resource.region
            });
        if appeared {
            network::resource_appeared(ctx, &resource)?;
        }
        // Findings refer to their resource (`attach.rs`), so suppression rules see the new
        // tags at once; the findings they now hold or release change status here.
        if live
            && old.as_ref().is_some_and(|o| {
                o.tags != resource.tags || o.region != resource.region || o.details != resource.details
            })
        {
            suppression::rejudge_resource(ctx, &resource)?;
        }
        ctx.txn.put_record(
            keys::RESOURCES,
            resource.resource_id.clone().into_bytes(),
            &mut resource,
        );
    }
    Ok(out)
}

/// Marks resources removed (INACTIVE / RESOURCE_TERMINATED) and closes their open findings.
/// Unknown and already removed ids change nothing, so a repeated removal is harmless.
pub(super) fn remove_resources(ctx: &mut Ctx, req: &RemoveResourcesRequest) -> Result<RemoveResourcesResponse> {
    let mut out = RemoveResourcesResponse::default();
    for id in &req.resource_ids {
        let Some(mut resource): Option<Resource> = ctx.txn.get_record(keys::RESOURCES, id.as_bytes())? else {
            continue;
        };
        if resource.removed {
            continue;
        }
        resource.removed = true;
        resource.removed_at = Some(ctx.now);
        let coverage = resource.coverage.get_or_insert_with(Coverage::default);
        coverage.status = CoverageStatus::CoverageInactive as i32;
        coverage.reason = CoverageReason::ResourceTerminated as i32;
        coverage.detail.clear();
        out.findings_closed += findings::close_all_of_resource(ctx, id)?;
        if !resource.artifact_digest.is_empty() {
            ctx.txn
                .delete(keys::BY_ARTIFACT, keys::by_artifact(&resource.artifact_digest, id));
            schedule::untrack_if_unused(ctx, &resource.artifact_digest)?;
        }
        ctx.txn
            .put_record(keys::RESOURCES, id.clone().into_bytes(), &mut resource);
        out.removed += 1;
    }
    Ok(out)
}

/// A host agent's report (its digest and canonical bytes set by the API edge). The resource
/// (created when new, with the report's type, account, region and tags; otherwise as stored)
/// now carries the inventory as its artifact, like a put with that digest. The inventory is
/// stored for the artifact and, when no result for it is stored yet, queued for a REMATCH: a
/// worker matches it without fetching anything, and every host with the same inventory gets the
/// findings. A repeated report changes only `agent.reported_at` and `last_seen_at`.
///
/// `Ok(None)`: refused, the resource is new and the report names no account.
pub(super) fn report_host_inventory(
    ctx: &mut Ctx,
    req: &ReportHostInventoryRequest,
) -> Result<Option<ReportHostInventoryResponse>> {
    debug_assert!(!req.artifact_digest.is_empty(), "the API edge sets the digest");
    let old: Option<Resource> = ctx.txn.get_record(keys::RESOURCES, req.resource_id.as_bytes())?;
    let source = match InventorySource::try_from(req.source) {
        Ok(InventorySource::Ssm) => InventorySource::Ssm,
        _ => InventorySource::Agent,
    };
    if source == InventorySource::Ssm {
        // The agent reads the host itself, more often and with source packages: SSM's view
        // never replaces it. Its report stands until the agent reports again.
        if let Some(agent) = old.as_ref().and_then(|o| o.agent.as_ref()) {
            if agent.source() != InventorySource::Ssm {
                return Ok(Some(ReportHostInventoryResponse {
                    artifact_digest: old.as_ref().map(|o| o.artifact_digest.clone()).unwrap_or_default(),
                    changed: false,
                    packages: agent.packages,
                }));
            }
        }
    }
    let packages = reevaluation::package_count(&req.inventory);
    let report = AgentReport {
        agent_version: req.agent_version.clone(),
        hostname: req.hostname.clone(),
        collected_at: req.collected_at,
        reported_at: Some(ctx.now),
        packages,
        source: source as i32,
    };
    let input = match &old {
        Some(o) => Resource {
            artifact_digest: req.artifact_digest.clone(),
            artifact_locator: String::new(),
            agent: Some(report),
            // A hold (excluded by tag, stopped) stays; any other coverage is recomputed.
            coverage: o.coverage.clone().filter(|_| held_coverage(o).is_some()),
            ..o.clone()
        },
        None => {
            if req.account_id.is_empty() {
                return Ok(None);
            }
            let r#type = match ResourceType::try_from(req.resource_type) {
                Ok(ResourceType::AwsEc2Instance) => ResourceType::AwsEc2Instance,
                _ => ResourceType::Host,
            };
            Resource {
                r#type: r#type as i32,
                resource_id: req.resource_id.clone(),
                account_id: req.account_id.clone(),
                region: req.region.clone(),
                tags: req.tags.clone(),
                artifact_digest: req.artifact_digest.clone(),
                agent: Some(report),
                ..Default::default()
            }
        }
    };
    let changed = old.as_ref().is_none_or(|o| o.artifact_digest != req.artifact_digest);
    reevaluation::store_inventory(ctx, &req.artifact_digest, &req.inventory)?;
    put_resources(ctx, &PutResourcesRequest { resources: vec![input] })?;
    stale::reported(ctx, old.as_ref(), &req.resource_id);
    let stored: Option<ScanResult> = ctx.txn.get_record(keys::ARTIFACTS, req.artifact_digest.as_bytes())?;
    // A stale host reporting the same inventory kept its coverage through the put: it is
    // current again.
    let mut now: Resource = ctx
        .txn
        .get_record(keys::RESOURCES, req.resource_id.as_bytes())?
        .expect("just put");
    if stale::is_stale(&now) {
        let c = stale::refreshed(now.coverage.as_ref().expect("stale"), stored.as_ref());
        now.coverage = Some(c);
        ctx.txn
            .put_record(keys::RESOURCES, req.resource_id.clone().into_bytes(), &mut now);
    }
    if stored.is_none() {
        // Nothing to fetch: the stored inventory is what a worker matches. `rematch` finds no
        // schedule (and does nothing) when the resource is held.
        schedule::rematch(ctx, &req.artifact_digest, "")?;
    }
    Ok(Some(ReportHostInventoryResponse {
        artifact_digest: req.artifact_digest.clone(),
        changed,
        packages,
    }))
}
