//! What changed between two database versions, as the index keys (ecosystem, package) of every
//! advisory added, changed or removed: re-evaluation re-matches exactly the stored inventories
//! that hold one of these keys. EPSS and KEV changes are not advisory changes; they reach the
//! findings with the next periodic scan.

use std::collections::{BTreeSet, HashMap};

use sha2::{Digest, Sha256};

use super::osv::Advisory;
use super::{index_key, VulnDb, VulnDbError};

/// Keys named by advisories that differ between `old` and `new` (all of `new`'s when there is
/// no old version).
pub fn changed_keys(old: Option<&VulnDb>, new: &VulnDb) -> Result<BTreeSet<String>, VulnDbError> {
    let mut keys = BTreeSet::new();
    let before: HashMap<String, ([u8; 32], u32)> = match old {
        Some(db) => fingerprints(db)?,
        None => HashMap::new(),
    };
    let mut seen: HashMap<String, ()> = HashMap::with_capacity(before.len());
    for n in 0..new.record_count() {
        let adv = new.record(n)?;
        let print = fingerprint(&adv);
        match before.get(&adv.id) {
            Some((old_print, _)) if *old_print == print => {}
            Some((_, old_n)) => {
                // Changed: what it named before and what it names now.
                add_keys(&mut keys, &old.expect("had it").record(*old_n)?);
                add_keys(&mut keys, &adv);
            }
            None => add_keys(&mut keys, &adv),
        }
        seen.insert(adv.id, ());
    }
    if let Some(db) = old {
        for (id, (_, n)) in &before {
            if !seen.contains_key(id) {
                add_keys(&mut keys, &db.record(*n)?);
            }
        }
    }
    Ok(keys)
}

fn fingerprints(db: &VulnDb) -> Result<HashMap<String, ([u8; 32], u32)>, VulnDbError> {
    let mut out = HashMap::with_capacity(db.record_count() as usize);
    for n in 0..db.record_count() {
        let adv = db.record(n)?;
        let print = fingerprint(&adv);
        out.insert(adv.id, (print, n));
    }
    Ok(out)
}

fn fingerprint(adv: &Advisory) -> [u8; 32] {
    let json = serde_json::to_vec(adv).unwrap_or_default();
    Sha256::digest(&json).into()
}

fn add_keys(keys: &mut BTreeSet<String>, adv: &Advisory) {
    for a in &adv.affected {
        keys.insert(index_key(&a.ecosystem, &a.name));
    }
}
