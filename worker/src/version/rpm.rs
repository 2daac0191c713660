//! PLACEHOLDER: replaced by the implementation.

use std::cmp::Ordering;

use super::VersionError;

/// Compares two versions.
pub fn compare(a: &str, b: &str) -> Result<Ordering, VersionError> {
    Err(VersionError::new("rpm", a, format!("not implemented (comparing with {b})")))
}
