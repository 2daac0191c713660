//! An arbitrary byte stream as an image layer: decompression sniffing, tar parsing, whiteouts,
//! path normalization, then extraction over whatever was kept.
#![no_main]

use argus_worker::artifact::{layer, NoProgress};
use argus_worker::fileset::FileSet;
use argus_worker::{extract, scan, Limits};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let extractors = extract::all();
    let limits = Limits {
        max_uncompressed_bytes: 16 << 20,
        max_entries: 10_000,
        ..Limits::default()
    };
    let mut files = FileSet::new("fuzz", &extractors, limits.clone());
    if files.begin_layer("sha256:0").is_err() {
        return;
    }
    let mut budget = limits.max_uncompressed_bytes;
    let _ = layer::apply(&mut files, data, "fuzz", None, &mut budget, &NoProgress);
    let _ = scan::inventory_of("fuzz", files.into_parts(), &extractors, &limits);
});
