//! A directory tree: a host's root filesystem, an unpacked function or project.

use std::fs::File;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use walkdir::WalkDir;

use super::{FileSet, Progress};
use crate::fileset::EntryKind;
use crate::{Error, Result};

/// Kernel and device filesystems that are never package databases and can be endless.
const SKIPPED_AT_ROOT: &[&str] = &["proc", "sys", "dev"];

/// Walks `root` without following symlinks (a link is recorded and resolved inside the tree,
/// never outside it) and offers every entry to `files`.
pub fn read(root: &Path, files: &mut FileSet<'_>, progress: &dyn Progress) -> Result<()> {
    let walker = WalkDir::new(root)
        .follow_links(false)
        .same_file_system(false)
        .into_iter()
        .filter_entry(|e| {
            !(e.depth() == 1 && e.file_type().is_dir() && SKIPPED_AT_ROOT.iter().any(|s| e.file_name() == *s))
        });
    for entry in walker {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                files.warn(format!(
                    "{}: {e}",
                    e.path().map(|p| p.display().to_string()).unwrap_or_default()
                ));
                continue;
            }
        };
        if entry.depth() == 0 {
            continue;
        }
        let rel = match entry.path().strip_prefix(root) {
            Ok(r) => r.to_string_lossy().into_owned(),
            Err(_) => continue,
        };
        let ft = entry.file_type();
        if ft.is_dir() {
            files.offer(&rel, EntryKind::Dir, 0, None, &mut std::io::empty())?;
        } else if ft.is_symlink() {
            let target = std::fs::read_link(entry.path()).map_err(|e| Error::io(entry.path(), e))?;
            files.offer(
                &rel,
                EntryKind::Symlink,
                0,
                Some(&target.to_string_lossy()),
                &mut std::io::empty(),
            )?;
        } else if ft.is_file() {
            let meta = entry
                .metadata()
                .map_err(|e| Error::io(entry.path(), std::io::Error::other(e)))?;
            let executable = meta.permissions().mode() & 0o111 != 0;
            let kind = EntryKind::File { executable };
            // Open lazily: most files are neither wanted nor executables worth probing.
            if !files.wanted(&format!("/{rel}")) && (!executable && !rel.ends_with(".so")) && meta.len() > 0 {
                files.offer(&rel, kind, meta.len(), None, &mut std::io::empty())?;
                progress.advance(meta.len());
                continue;
            }
            match File::open(entry.path()) {
                Ok(mut f) => files.offer(&rel, kind, meta.len(), None, &mut f)?,
                Err(e) => files.warn(format!("/{rel}: {e}")),
            }
            progress.advance(meta.len());
        } else {
            files.offer(&rel, EntryKind::Other, 0, None, &mut std::io::empty())?;
        }
    }
    Ok(())
}
