//! Types that cross process boundaries in Argus: what a worker reports about an artifact and
//! what a coordinator stores. The protobuf API (`argus.v1`) joins this crate when the
//! coordinators' gRPC surface lands; until then the inventory model is plain serde.

pub mod inventory;

pub use inventory::{Distro, Ecosystem, Inventory, OsInfo, Package, PackageManager};
