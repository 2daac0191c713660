//! Accounts and resources: batched upserts and removals.

use argus_proto::v1::{
    Account, Coverage, CoverageReason, CoverageStatus, PutAccountsRequest, PutAccountsResponse, PutResourcesRequest,
    PutResourcesResponse, RemoveAccountsRequest, RemoveAccountsResponse, RemoveResourcesRequest,
    RemoveResourcesResponse, Resource,
};

use super::apply::Ctx;
use super::{findings, keys, network, scan, schedule};
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
            _ => Some(pending_initial_scan()),
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
