//! Network reachability: which ports of which EC2 instances the internet can reach, computed
//! from what discovery read about one account and region (security groups, network ACLs, route
//! tables, internet gateways, public addresses).

pub mod analysis;
pub mod cidr;
pub mod model;

pub use analysis::{analyze, ComponentKind, Exposure, PathComponent};
pub use model::NetworkSnapshot;
