//! A running host's own inventory, as `argus agent` reads it: its package databases (dpkg, rpm,
//! apk) and operating system, or its whole tree as `argus sbom` reads a directory.

use std::path::Path;

use argus_proto::Inventory;

use crate::artifact::{dir, FileSet, NoProgress};
use crate::extract::{self, os_release};
use crate::fileset::EntryKind;
use crate::scan::inventory_of;
use crate::{Error, Limits, Result};

/// What of a host the agent reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostScope {
    /// The operating system's package databases only: a few files, read in milliseconds.
    Os,
    /// The whole tree below the root (language lockfiles, jars, Go binaries as well), skipping
    /// /proc, /sys and /dev: as thorough as scanning an image, and as slow as walking the disk.
    All,
}

impl std::str::FromStr for HostScope {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "os" => Ok(HostScope::Os),
            "all" => Ok(HostScope::All),
            other => Err(format!("unknown scope {other:?}; expected os or all")),
        }
    }
}

/// The package database files read for [`HostScope::Os`], besides `/var/lib/dpkg/status.d/*`.
const OS_PACKAGE_DATABASES: &[&str] = &[
    "/var/lib/dpkg/status",
    "/lib/apk/db/installed",
    "/var/lib/rpm/rpmdb.sqlite",
    "/usr/lib/sysimage/rpm/rpmdb.sqlite",
];

const DPKG_STATUS_D: &str = "/var/lib/dpkg/status.d";

/// Reads the host below `root` (`/` on the host itself).
pub fn read(root: &Path, scope: HostScope, limits: &Limits) -> Result<Inventory> {
    let extractors = extract::all();
    let target = root.display().to_string();
    let mut files = FileSet::new(target.clone(), &extractors, limits.clone());
    match scope {
        HostScope::All => dir::read(root, &mut files, &NoProgress)?,
        HostScope::Os => {
            let mut paths: Vec<String> = os_release::OS_FILES
                .iter()
                .chain(OS_PACKAGE_DATABASES)
                .map(|p| p.to_string())
                .collect();
            if let Ok(entries) = std::fs::read_dir(root.join(&DPKG_STATUS_D[1..])) {
                for e in entries.flatten() {
                    paths.push(format!("{DPKG_STATUS_D}/{}", e.file_name().to_string_lossy()));
                }
            }
            for path in paths {
                offer(root, &path, &mut files)?;
            }
        }
    }
    let mut inv = inventory_of(&target, files.into_parts(), &extractors, limits);
    inv.normalize();
    Ok(inv)
}

/// Offers one absolute path of the host, if it exists. A symlink is offered as one, so the file
/// set resolves it inside `root` (`/etc/os-release` → `../usr/lib/os-release`) the way it does
/// for images.
fn offer(root: &Path, path: &str, files: &mut FileSet<'_>) -> Result<()> {
    let full = root.join(&path[1..]);
    let Ok(meta) = std::fs::symlink_metadata(&full) else {
        return Ok(());
    };
    if meta.file_type().is_symlink() {
        let target = std::fs::read_link(&full).map_err(|e| Error::io(&full, e))?;
        return files.offer(
            path,
            EntryKind::Symlink,
            0,
            Some(&target.to_string_lossy()),
            &mut std::io::empty(),
        );
    }
    if !meta.is_file() {
        return Ok(());
    }
    match std::fs::File::open(&full) {
        Ok(mut f) => files.offer(path, EntryKind::File { executable: false }, meta.len(), None, &mut f),
        Err(e) => {
            files.warn(format!("{path}: {e}"));
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATUS: &str =
        "Package: openssl\nStatus: install ok installed\nVersion: 3.0.11-1~deb12u2\nArchitecture: amd64\n\n\
Package: removed-one\nStatus: deinstall ok config-files\nVersion: 1.0\n\n";

    fn rootfs() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let w = |p: &str, data: &str| {
            let full = dir.path().join(p);
            std::fs::create_dir_all(full.parent().unwrap()).unwrap();
            std::fs::write(full, data).unwrap();
        };
        w("usr/lib/os-release", "ID=debian\nVERSION_ID=\"12\"\n");
        std::fs::create_dir_all(dir.path().join("etc")).unwrap();
        std::os::unix::fs::symlink("../usr/lib/os-release", dir.path().join("etc/os-release")).unwrap();
        w("var/lib/dpkg/status", STATUS);
        w(
            "var/lib/dpkg/status.d/tzdata",
            "Package: tzdata\nStatus: install ok installed\nVersion: 2024a-0+deb12u1\n\n",
        );
        w("srv/app/requirements.txt", "django==4.2.1\n");
        dir
    }

    fn names(inv: &Inventory) -> Vec<(String, String, String)> {
        inv.packages
            .iter()
            .map(|p| (p.ecosystem.0.clone(), p.name.clone(), p.version.clone()))
            .collect()
    }

    #[test]
    fn the_os_scope_reads_the_package_databases_through_a_symlinked_os_release_and_nothing_else() {
        let dir = rootfs();
        let inv = read(dir.path(), HostScope::Os, &Limits::default()).unwrap();
        assert_eq!(
            names(&inv),
            vec![
                ("Debian:12".into(), "openssl".into(), "3.0.11-1~deb12u2".into()),
                ("Debian:12".into(), "tzdata".into(), "2024a-0+deb12u1".into()),
            ]
        );
        assert_eq!(inv.os.as_ref().map(|o| o.version_id.clone()), Some("12".to_string()));
    }

    #[test]
    fn the_all_scope_adds_what_the_tree_holds() {
        let dir = rootfs();
        let inv = read(dir.path(), HostScope::All, &Limits::default()).unwrap();
        let got = names(&inv);
        assert!(
            got.contains(&("PyPI".into(), "django".into(), "4.2.1".into())),
            "{got:?}"
        );
        assert!(got.iter().any(|p| p.1 == "openssl"), "{got:?}");
    }

    #[test]
    fn a_root_without_package_databases_is_an_empty_inventory_not_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let inv = read(dir.path(), HostScope::Os, &Limits::default()).unwrap();
        assert!(inv.packages.is_empty());
        assert!(inv.os.is_none());
    }
}
