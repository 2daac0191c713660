//! Hosts whose inventory stopped arriving: a resource covered by inventory reports (an agent's,
//! or SSM's through discovery) that has had none since a cut-off becomes INACTIVE /
//! STALE_INVENTORY. Its findings stay as the last inventory gave them, and re-evaluation against
//! a new database still updates them, but the coverage says the picture may be old. The next
//! report makes it current again.
//!
//! `reported` holds one key per resource whose last report is not yet stale, ordered by the
//! time of that report, so that the sweep reads only the reports older than its cut-off. The
//! cut-off travels in the command (`MarkStaleInventories.before`), chosen by the leader from its
//! clock and configuration, so every replica marks exactly the same resources.

use argus_proto::internal::v1::{MarkStaleInventories, MarkStaleInventoriesResponse};
use argus_proto::v1::{Coverage, CoverageReason, CoverageStatus, Resource, ScanOutcome, ScanResult};
use prost_types::Timestamp;

use super::apply::Ctx;
use super::inventory::is_live;
use super::keys;
use crate::error::Result;

/// `seconds (sign-flipped, big-endian) nanos resource_id`: ordered by time.
fn key(at: &Timestamp, resource_id: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(12 + resource_id.len());
    k.extend_from_slice(&((at.seconds as u64) ^ (1 << 63)).to_be_bytes());
    k.extend_from_slice(&(at.nanos.max(0) as u32).to_be_bytes());
    k.extend_from_slice(resource_id.as_bytes());
    k
}

fn time_of(key: &[u8]) -> Option<Timestamp> {
    let seconds = u64::from_be_bytes(key.get(0..8)?.try_into().ok()?) ^ (1 << 63);
    let nanos = u32::from_be_bytes(key.get(8..12)?.try_into().ok()?);
    Some(Timestamp {
        seconds: seconds as i64,
        nanos: nanos as i32,
    })
}

/// Records that `resource_id` was reported at `now`, replacing the key of its previous report.
pub(super) fn reported(ctx: &mut Ctx, old: Option<&Resource>, resource_id: &str) {
    if let Some(at) = old.and_then(|o| o.agent.as_ref()).and_then(|a| a.reported_at.as_ref()) {
        ctx.txn.delete(keys::REPORTED, key(at, resource_id));
    }
    let now = ctx.now;
    ctx.txn.put(keys::REPORTED, key(&now, resource_id), Vec::new());
}

pub(super) fn is_stale(r: &Resource) -> bool {
    r.coverage
        .as_ref()
        .is_some_and(|c| c.reason == CoverageReason::StaleInventory as i32)
}

/// The coverage a stale resource returns to when a report arrives again: what the stored
/// result of its artifact says, or PENDING_INITIAL_SCAN while there is none.
pub(super) fn refreshed(stale: &Coverage, stored: Option<&ScanResult>) -> Coverage {
    match stored {
        Some(r) if r.outcome == ScanOutcome::Succeeded as i32 => Coverage {
            status: CoverageStatus::CoverageActive as i32,
            reason: CoverageReason::Successful as i32,
            detail: String::new(),
            ..stale.clone()
        },
        _ => Coverage {
            status: CoverageStatus::CoverageActive as i32,
            reason: CoverageReason::PendingInitialScan as i32,
            detail: String::new(),
            ..stale.clone()
        },
    }
}

/// Marks the resources last reported before `req.before` (at most `req.limit`, oldest first) as
/// STALE_INVENTORY. A key whose resource is gone, removed, held by its source or reported
/// since is dropped without marking anything.
pub(super) fn mark(ctx: &mut Ctx, req: &MarkStaleInventories) -> Result<MarkStaleInventoriesResponse> {
    let before = req.before.unwrap_or_default();
    let limit = req.limit.max(1) as usize;
    let mut due = Vec::new();
    let mut more = false;
    for item in ctx.txn.iter_prefix(keys::REPORTED, b"") {
        let (k, _) = item?;
        let Some(at) = time_of(&k) else { continue };
        if (at.seconds, at.nanos) >= (before.seconds, before.nanos) {
            break;
        }
        if due.len() == limit {
            more = true;
            break;
        }
        due.push((k.clone(), at, String::from_utf8_lossy(&k[12..]).into_owned()));
    }
    let mut out = MarkStaleInventoriesResponse { marked: 0, more };
    for (k, at, id) in due {
        ctx.txn.delete(keys::REPORTED, k);
        let Some(mut r): Option<Resource> = ctx.txn.get_record(keys::RESOURCES, id.as_bytes())? else {
            continue;
        };
        let current = r.agent.as_ref().and_then(|a| a.reported_at.as_ref()) == Some(&at);
        if !current || !is_live(&r) || is_stale(&r) {
            continue;
        }
        let old = r.coverage.take().unwrap_or_default();
        r.coverage = Some(Coverage {
            status: CoverageStatus::CoverageInactive as i32,
            reason: CoverageReason::StaleInventory as i32,
            detail: format!("no inventory report since {}", rfc3339(&at)),
            ..old
        });
        ctx.txn.put_record(keys::RESOURCES, id.into_bytes(), &mut r);
        out.marked += 1;
    }
    Ok(out)
}

fn rfc3339(t: &Timestamp) -> String {
    chrono::DateTime::from_timestamp(t.seconds, t.nanos.max(0) as u32)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}
