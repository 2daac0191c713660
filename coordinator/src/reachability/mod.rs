//! Network reachability: which ports of which EC2 instances the internet can reach, computed
//! from what discovery read about one account and region (security groups, network ACLs, route
//! tables, internet gateways, public addresses), and the Raft command that records it. The
//! findings it gives and the context scores it changes are the state machine's
//! (`state/network.rs`, `state/score.rs`).

pub mod analysis;
pub mod cidr;
pub mod command;
pub mod model;

pub use analysis::{analyze, assess, ComponentKind, Exposure, PathComponent, Verdict};
pub use command::{command, commands};
pub use model::NetworkSnapshot;
