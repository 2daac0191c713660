//! Host inventories from AWS Systems Manager: the `AWS:Application` inventory entries SSM
//! Agent collects on a managed instance, read into the same [`Inventory`] a scan of the host's
//! package databases gives, so that an instance without `argus agent` is matched all the same.
//!
//! SSM records the binary package only: no source package, which Debian and Ubuntu advisories
//! are keyed by. Packages whose source package has another name are therefore matched by their
//! own name only (docs/discovery.md says what that misses).

use std::collections::HashMap;

use argus_proto::{Distro, Inventory, OsInfo, Package, PackageManager};

use crate::extract::os_release::{self, os_context};

/// Where the packages of an SSM inventory are said to come from (`Package::file_path`).
pub const SOURCE_PATH: &str = "ssm:AWS:Application";

/// SSM platform names (lowercase prefixes) and the os-release `ID` of each.
const PLATFORMS: &[(&str, &str)] = &[
    ("ubuntu", "ubuntu"),
    ("debian", "debian"),
    ("amazon linux", "amzn"),
    ("red hat", "rhel"),
    ("rhel", "rhel"),
    ("centos", "centos"),
    ("rocky", "rocky"),
    ("almalinux", "almalinux"),
    ("oracle linux", "ol"),
    ("fedora", "fedora"),
    ("sles", "sles"),
    ("suse", "sles"),
];

/// The operating system SSM names (`PlatformName`, `PlatformVersion` of
/// DescribeInstanceInformation), as an os-release would describe it; `None` for systems
/// whose packages Argus cannot match (Windows, macOS, unknown Linux).
pub fn os_of(platform_name: &str, platform_version: &str) -> Option<OsInfo> {
    let name = platform_name.trim();
    let lower = name.to_ascii_lowercase();
    let (_, id) = PLATFORMS.iter().find(|(prefix, _)| lower.starts_with(prefix))?;
    let version = platform_version.trim().replace(['"', '\n'], "");
    let name = name.replace(['"', '\n'], "");
    // Through the os-release parser, so that the distribution, its ecosystem and version rules
    // (Debian's major version, Alpine's branch, ...) are exactly those of a scanned host.
    let text = format!("ID={id}\nVERSION_ID=\"{version}\"\nPRETTY_NAME=\"{name} {version}\"\n");
    os_release::parse(text.as_bytes())
}

/// The inventory of one instance of operating system `os` (from [`os_of`]) from its
/// `AWS:Application` entries. Entries without a name or version are skipped with a warning.
pub fn inventory(instance_id: &str, os: OsInfo, entries: &[HashMap<String, String>]) -> Inventory {
    let ctx = os_context(Some(&os), Distro::RedHat);
    let dpkg = matches!(os.distro, Some(Distro::Debian | Distro::Ubuntu));
    let mut packages = Vec::with_capacity(entries.len());
    let mut warnings = Vec::new();
    let field = |e: &HashMap<String, String>, k: &str| e.get(k).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
    for (i, e) in entries.iter().enumerate() {
        let (Some(name), Some(version)) = (field(e, "Name"), field(e, "Version")) else {
            warnings.push(format!("{SOURCE_PATH} entry {}: no Name or Version; skipped", i + 1));
            continue;
        };
        let epoch = field(e, "Epoch").and_then(|x| x.parse::<u32>().ok()).filter(|x| *x > 0);
        let release = field(e, "Release");
        let arch = field(e, "Architecture");
        let package = if dpkg {
            deb(&ctx, name, version, epoch, release, arch)
        } else {
            crate::extract::rpm::package(&ctx, name, version, release, epoch, arch, SOURCE_PATH)
        };
        packages.push(package);
    }
    let mut inv = Inventory::new(format!("ssm:{instance_id}"));
    inv.os = Some(os);
    inv.packages = packages;
    inv.warnings = warnings;
    inv.normalize();
    inv
}

/// A Debian package: SSM reports the upstream version and revision either joined in `Version`
/// or split into `Version` and `Release`, and the epoch apart.
fn deb(
    ctx: &os_release::OsContext,
    name: String,
    version: String,
    epoch: Option<u32>,
    release: Option<String>,
    arch: Option<String>,
) -> Package {
    let mut full = version;
    if let Some(r) = &release {
        if !full.ends_with(&format!("-{r}")) {
            full = format!("{full}-{r}");
        }
    }
    if let Some(e) = epoch {
        if !full.contains(':') {
            full = format!("{e}:{full}");
        }
    }
    let revision = full.rsplit_once('-').map(|(_, r)| r.to_string());
    let purl = crate::purl::purl(
        "deb",
        Some(&ctx.namespace),
        &name,
        &full,
        &[
            ("arch", arch.as_deref().unwrap_or("")),
            ("distro", &ctx.distro_qualifier),
        ],
    );
    Package {
        name,
        version: full,
        ecosystem: ctx.ecosystem.clone(),
        package_manager: PackageManager::Dpkg,
        purl,
        file_path: SOURCE_PATH.into(),
        layer_digest: None,
        source_name: None,
        source_version: None,
        epoch,
        release: revision,
        arch,
    }
}

#[cfg(test)]
mod tests;
