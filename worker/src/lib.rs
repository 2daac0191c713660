//! The Argus scan engine: turns an artifact (directory tree, container image, zip archive, SBOM)
//! into a package inventory.
//!
//! The flow is `artifact` (read entries from whatever holds them, keeping only the files some
//! extractor wants) → `fileset` (the merged view after layers and whiteouts) → `extract` (one
//! parser per package database or lockfile) → [`argus_proto::Inventory`].

pub mod artifact;
pub mod cloud;
pub mod error;
pub mod extract;
pub mod fileset;
pub mod host;
pub mod limits;
pub mod matching;
pub mod observe;
pub mod purl;
pub mod queue;
pub mod report;
pub mod runner;
pub mod sbom;
pub mod scan;
pub mod score;
pub mod ssm;
pub mod synthetic;
pub mod telemetry;
#[cfg(test)]
mod testutil;
pub mod version;
pub mod vulndb;

pub use error::{Error, Result};
pub use limits::Limits;
pub use scan::{scan_target, ScanOptions, TargetKind};
