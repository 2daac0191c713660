//! Re-evaluate, don't rescan: each artifact's newest inventory is stored with an index from the
//! packages it holds (by the key the matcher looks them up with) to the artifact. When a new
//! vulnerability DB changes the advisories naming some packages, exactly the artifacts holding
//! one of them are queued for a REMATCH job that carries the stored inventory.

use std::collections::BTreeSet;

use argus_proto::internal::v1::{Reevaluate, ReevaluateResponse};
use argus_proto::Inventory;

use super::apply::Ctx;
use super::{keys, schedule};
use crate::error::Result;

/// Largest decompressed inventory the index reads; a bigger one is stored but not indexed (its
/// artifact is then re-evaluated only by its periodic scan).
const MAX_INVENTORY_BYTES: usize = 64 << 20;

/// The package keys of a stored inventory (zstd-compressed JSON), or `None` when it cannot be
/// read. Pure: every replica computes the same set.
fn package_keys(stored: &[u8]) -> Option<BTreeSet<String>> {
    let json = zstd::bulk::decompress(stored, MAX_INVENTORY_BYTES).ok()?;
    let inventory: Inventory = serde_json::from_slice(&json).ok()?;
    Some(
        inventory
            .packages
            .iter()
            .map(argus_worker::matching::lookup_key)
            .collect(),
    )
}

/// How many packages a stored inventory holds (0 when it cannot be read). Pure.
pub(super) fn package_count(stored: &[u8]) -> u32 {
    zstd::bulk::decompress(stored, MAX_INVENTORY_BYTES)
        .ok()
        .and_then(|json| serde_json::from_slice::<Inventory>(&json).ok())
        .map_or(0, |i| i.packages.len() as u32)
}

/// Replaces the artifact's stored inventory and moves its index entries.
pub(super) fn store_inventory(ctx: &mut Ctx, digest: &str, inventory: &[u8]) -> Result<()> {
    let old = ctx.txn.get(keys::INVENTORIES, digest.as_bytes())?;
    if old.as_deref() == Some(inventory) {
        return Ok(());
    }
    let before = old.as_deref().and_then(package_keys).unwrap_or_default();
    let after = package_keys(inventory).unwrap_or_default();
    for k in before.difference(&after) {
        ctx.txn.delete(keys::PACKAGES, keys::package(k, digest));
    }
    for k in after.difference(&before) {
        ctx.txn.put(keys::PACKAGES, keys::package(k, digest), Vec::new());
    }
    ctx.txn
        .put(keys::INVENTORIES, digest.as_bytes().to_vec(), inventory.to_vec());
    Ok(())
}

pub(super) fn reevaluate(ctx: &mut Ctx, req: &Reevaluate) -> Result<ReevaluateResponse> {
    let mut digests = BTreeSet::new();
    for key in &req.package_keys {
        let prefix = keys::package_prefix(key);
        for item in ctx.txn.iter_prefix(keys::PACKAGES, &prefix) {
            let (k, _) = item?;
            digests.insert(keys::suffix(&k, &prefix));
        }
    }
    let mut rematched = 0;
    for digest in &digests {
        rematched += u32::from(schedule::rematch(ctx, digest, &req.db_version)?);
    }
    let counters = ctx.counters();
    if counters.reevaluated_db_version != req.db_version {
        counters.reevaluated_db_version = req.db_version.clone();
        counters.reevaluation_rematched = 0;
        counters.reevaluations += 1;
    }
    counters.reevaluation_rematched += u64::from(rematched);
    counters.reevaluation_total = counters.artifacts;
    Ok(ReevaluateResponse {
        rematched,
        total: counters.artifacts,
    })
}
