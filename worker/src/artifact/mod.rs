//! Readers for the places artifacts live. Each feeds entries into a [`FileSet`]; none writes
//! anything to disk.

pub mod dir;
pub mod image;
pub mod layer;
pub mod reference;
pub mod registry;
pub mod zip;

pub use crate::fileset::FileSet;

/// Reports how many input bytes have been consumed, for progress bars.
pub trait Progress: Send + Sync {
    /// The total expected, when known.
    fn set_total(&self, _bytes: u64) {}
    fn advance(&self, _bytes: u64) {}
    fn message(&self, _msg: &str) {}
}

/// A [`Progress`] that reports nothing.
pub struct NoProgress;
impl Progress for NoProgress {}
