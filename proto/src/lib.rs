//! Types that cross process boundaries in Argus: the `argus.v1` protobuf API served by the
//! coordinators, the `argus.internal.v1` messages coordinators exchange and replicate, and the
//! package-inventory model a worker reports about an artifact.

pub mod inventory;

pub use inventory::{Distro, Ecosystem, Inventory, OsInfo, Package, PackageManager};

/// The public API, package `argus.v1`.
#[allow(clippy::all)]
pub mod v1 {
    tonic::include_proto!("argus.v1");
}

/// Between coordinators only, package `argus.internal.v1`.
pub mod internal {
    #[allow(clippy::all)]
    pub mod v1 {
        tonic::include_proto!("argus.internal.v1");
    }
}

/// Every message and service above, for gRPC server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("argus_descriptor");

/// The stable id of a finding: the same problem on the same resource is one finding forever,
/// whichever scan, worker or coordinator observes it.
pub fn finding_id(account: &str, resource: &str, vulnerability: &str, package: &str, path: &str) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for part in [account, resource, vulnerability, package, path] {
        h.update(part.as_bytes());
        h.update([0u8]);
    }
    hex::encode(&h.finalize()[..16])
}
