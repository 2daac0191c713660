//! Bounds on what one scan may read. Artifacts come from outside and are hostile until proven
//! otherwise: every archive, layer and file is read against these limits, and crossing one is a
//! clear error or warning naming the file, never unbounded memory or time.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Largest single file kept for an extractor (lockfile, package database, jar), in bytes.
    /// Larger files are skipped with a warning.
    pub max_file_bytes: u64,
    /// Total bytes of kept files for one artifact; the scan fails beyond it.
    pub max_kept_bytes: u64,
    /// Most entries read from one archive or layer (tar members, zip entries).
    pub max_entries: u64,
    /// Most uncompressed bytes read from all layers or archives of one artifact together;
    /// stops decompression bombs.
    pub max_uncompressed_bytes: u64,
    /// Largest ratio of uncompressed to compressed size accepted for a zip entry.
    pub max_compression_ratio: u64,
    /// How deep jars nested inside jars (or wars, ears) are opened.
    pub max_nesting_depth: u32,
    /// Largest manifest, config or index document fetched from a registry or read from a layout.
    pub max_document_bytes: u64,
    /// Most layers in one image.
    pub max_layers: usize,
    /// Most bytes scanned in one executable when looking for Go build information.
    pub max_binary_probe_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_file_bytes: 256 << 20,
            max_kept_bytes: 2 << 30,
            max_entries: 2_000_000,
            max_uncompressed_bytes: 64 << 30,
            max_compression_ratio: 200,
            max_nesting_depth: 4,
            max_document_bytes: 4 << 20,
            max_layers: 256,
            max_binary_probe_bytes: 512 << 20,
        }
    }
}
