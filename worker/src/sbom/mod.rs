//! PLACEHOLDER: SBOM reading and writing (CycloneDX 1.4–1.6 JSON, SPDX 2.3 JSON).

use argus_proto::Inventory;

use crate::Result;

/// Whether a JSON document is an SBOM this module reads.
pub fn looks_like_sbom(_data: &[u8]) -> bool {
    false
}

/// Reads a CycloneDX or SPDX JSON document as an inventory.
pub fn read(_data: &[u8], target: &str) -> Result<Inventory> {
    Ok(Inventory::new(target))
}

/// Writes an inventory as CycloneDX 1.5 JSON.
pub fn to_cyclonedx(_inventory: &Inventory) -> serde_json::Value {
    serde_json::Value::Null
}

/// Writes an inventory as SPDX 2.3 JSON.
pub fn to_spdx(_inventory: &Inventory) -> serde_json::Value {
    serde_json::Value::Null
}
