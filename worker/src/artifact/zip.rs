//! Zip archives: Lambda deployment packages and layers, jars handed over directly.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use super::{FileSet, Progress};
use crate::fileset::EntryKind;
use crate::{Error, Result};

/// Offers every entry of the zip at `path`. Sizes are checked against the limits before a byte
/// is inflated, and again while inflating, because headers can lie.
pub fn read(path: &Path, files: &mut FileSet<'_>, progress: &dyn Progress) -> Result<()> {
    read_under(path, "", files, progress)
}

/// [`read`], every entry offered under `prefix` (`opt/` for a Lambda layer, which the runtime
/// unpacks there).
pub fn read_under(path: &Path, prefix: &str, files: &mut FileSet<'_>, progress: &dyn Progress) -> Result<()> {
    let artifact = files.artifact().to_string();
    let limits = files.limits().clone();
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    progress.set_total(file.metadata().map(|m| m.len()).unwrap_or(0));
    let mut archive = zip::ZipArchive::new(file).map_err(|e| Error::malformed(&artifact, format!("zip: {e}")))?;
    if archive.len() as u64 > limits.max_entries {
        return Err(Error::limit(
            &artifact,
            format!("{} entries, more than {}", archive.len(), limits.max_entries),
        ));
    }
    let mut budget = limits.max_uncompressed_bytes;
    for i in 0..archive.len() {
        let mut entry = match archive.by_index(i) {
            Ok(e) => e,
            Err(e) => {
                files.warn(format!("zip entry {i}: {e}"));
                continue;
            }
        };
        let name = format!("{prefix}{}", String::from_utf8_lossy(entry.name_raw()));
        progress.advance(entry.compressed_size());
        if entry.is_dir() {
            files.offer(&name, EntryKind::Dir, 0, None, &mut std::io::empty())?;
            continue;
        }
        let size = entry.size();
        let ratio = size / entry.compressed_size().max(1);
        if ratio > limits.max_compression_ratio && size > (1 << 20) {
            files.warn(format!(
                "{name}: compression ratio {ratio}:1 exceeds {}:1; skipped",
                limits.max_compression_ratio
            ));
            continue;
        }
        if size > budget {
            return Err(Error::limit(
                &artifact,
                format!("{name}: uncompressed size exceeds the configured limit"),
            ));
        }
        budget -= size;
        let mode = entry.unix_mode();
        let is_link = mode.map(|m| m & 0o170000 == 0o120000).unwrap_or(false);
        if is_link {
            let mut target = String::new();
            entry.by_ref().take(4096).read_to_string(&mut target).ok();
            files.offer(&name, EntryKind::Symlink, 0, Some(&target), &mut std::io::empty())?;
            continue;
        }
        let executable = mode.map(|m| m & 0o111 != 0).unwrap_or(false);
        // `take` bounds what a lying header can make us inflate.
        let mut bounded = entry.by_ref().take(size);
        files.offer(&name, EntryKind::File { executable }, size, None, &mut bounded)?;
    }
    Ok(())
}
