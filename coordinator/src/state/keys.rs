//! Column-family names and key layouts of the state machine.
//!
//! Ids never contain control characters (validation refuses them), so a 0x00 byte can separate
//! the parts of a composite key and a prefix scan over `id 0x00` finds exactly that id's rows.

pub const SM_META: &str = "sm_meta";
pub const ACCOUNTS: &str = "accounts";
pub const RESOURCES: &str = "resources";
pub const FINDINGS: &str = "findings";
pub const BY_RESOURCE: &str = "by_resource";
pub const BY_ARTIFACT: &str = "by_artifact";
pub const ARTIFACTS: &str = "artifacts";
pub const RULES: &str = "rules";
pub const CHANGES: &str = "changes";
/// Artifact digest → `ArtifactSchedule`.
pub const SCHEDULE: &str = "schedule";
/// `shard, time, digest` → nothing: when the scheduler must look at an artifact.
pub const TIMERS: &str = "timers";
/// Artifact digest → the package inventory of its newest successful scan (as reported).
pub const INVENTORIES: &str = "inventories";
/// `package index key 0x00 digest` → nothing: the artifacts whose stored inventory holds a
/// package, for re-evaluation.
pub const PACKAGES: &str = "packages";
/// Network exposures: `s account 0x00 region` → `ExposureScope` (when the account and region
/// were last analysed) and `i account 0x00 region 0x00 instance` → `InstanceExposureRecord`.
pub const EXPOSURES: &str = "exposures";
/// `time resource_id` → nothing: resources covered by inventory reports whose last report is
/// not yet stale, by the time of that report (`stale.rs`).
pub const REPORTED: &str = "reported";

/// Key of the [`ChangeLogBounds`](argus_proto::internal::v1::ChangeLogBounds) record in
/// `sm_meta`. Keys starting with `raft.` belong to the Raft side.
pub const CHANGE_LOG_BOUNDS: &[u8] = b"state.change_log";
/// Key of the [`PipelineCounters`](argus_proto::internal::v1::PipelineCounters) in `sm_meta`.
pub const PIPELINE_COUNTERS: &[u8] = b"state.pipeline";
/// Key of the [`FindingCounters`](argus_proto::internal::v1::FindingCounters) in `sm_meta`.
pub const FINDING_COUNTERS: &[u8] = b"state.findings";

const SEP: u8 = 0;

fn pair(a: &str, b: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(a.len() + 1 + b.len());
    k.extend_from_slice(a.as_bytes());
    k.push(SEP);
    k.extend_from_slice(b.as_bytes());
    k
}

/// `resource_id 0x00 finding_id`: the findings of one resource.
pub fn by_resource(resource_id: &str, finding_id: &str) -> Vec<u8> {
    pair(resource_id, finding_id)
}

pub fn by_resource_prefix(resource_id: &str) -> Vec<u8> {
    pair(resource_id, "")
}

/// `digest 0x00 resource_id`: the resources carrying one artifact.
pub fn by_artifact(digest: &str, resource_id: &str) -> Vec<u8> {
    pair(digest, resource_id)
}

pub fn by_artifact_prefix(digest: &str) -> Vec<u8> {
    pair(digest, "")
}

/// `key 0x00 digest` in `packages` (the index key itself holds one 0x00).
pub fn package(key: &str, digest: &str) -> Vec<u8> {
    pair(key, digest)
}

pub fn package_prefix(key: &str) -> Vec<u8> {
    pair(key, "")
}

/// `s account 0x00 region`: one account and region's last analysis.
pub fn exposure_scope(account: &str, region: &str) -> Vec<u8> {
    let mut k = vec![b's'];
    k.extend(pair(account, region));
    k
}

/// `i account 0x00 region 0x00 instance`: one instance's exposures.
pub fn exposure(account: &str, region: &str, instance: &str) -> Vec<u8> {
    let mut k = exposure_prefix(account, region);
    k.extend_from_slice(instance.as_bytes());
    k
}

/// The exposures of every instance of one account and region.
pub fn exposure_prefix(account: &str, region: &str) -> Vec<u8> {
    let mut k = vec![b'i'];
    k.extend(pair(account, region));
    k.push(SEP);
    k
}

/// The part of a composite key after `prefix` (which ends with the separator).
pub fn suffix(key: &[u8], prefix: &[u8]) -> String {
    debug_assert!(key.starts_with(prefix));
    String::from_utf8_lossy(&key[prefix.len()..]).into_owned()
}

/// Change-log keys are big-endian so that key order is cursor order.
pub fn change(cursor: u64) -> [u8; 8] {
    cursor.to_be_bytes()
}

pub fn change_cursor(key: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(key.try_into().ok()?))
}
