//! The package inventory of one artifact.
//!
//! Every field that names an ecosystem or a package uses the spelling OSV uses, so the matcher can
//! look advisories up without translating.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Version of the serialized [`Inventory`] layout; bumped when a field changes meaning.
pub const INVENTORY_FORMAT_VERSION: u32 = 1;

/// Linux distributions whose package databases Argus reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Distro {
    Debian,
    Ubuntu,
    Alpine,
    AmazonLinux,
    RedHat,
    CentOs,
    AlmaLinux,
    RockyLinux,
    Fedora,
    OracleLinux,
    OpenSuse,
    Wolfi,
    Chainguard,
}

impl Distro {
    /// The distribution for an os-release `ID` value.
    pub fn from_os_release_id(id: &str) -> Option<Distro> {
        Some(match id.trim().to_ascii_lowercase().as_str() {
            "debian" => Distro::Debian,
            "ubuntu" => Distro::Ubuntu,
            "alpine" => Distro::Alpine,
            "amzn" => Distro::AmazonLinux,
            "rhel" => Distro::RedHat,
            "centos" => Distro::CentOs,
            "almalinux" => Distro::AlmaLinux,
            "rocky" => Distro::RockyLinux,
            "fedora" => Distro::Fedora,
            "ol" => Distro::OracleLinux,
            "opensuse-leap" | "opensuse-tumbleweed" | "opensuse" | "sles" => Distro::OpenSuse,
            "wolfi" => Distro::Wolfi,
            "chainguard" => Distro::Chainguard,
            _ => return None,
        })
    }

    /// The OSV ecosystem name without a release suffix.
    pub fn osv_name(self) -> &'static str {
        match self {
            Distro::Debian => "Debian",
            Distro::Ubuntu => "Ubuntu",
            Distro::Alpine => "Alpine",
            Distro::AmazonLinux => "Amazon Linux",
            Distro::RedHat | Distro::CentOs => "Red Hat",
            Distro::AlmaLinux => "AlmaLinux",
            Distro::RockyLinux => "Rocky Linux",
            Distro::Fedora => "Fedora",
            Distro::OracleLinux => "Oracle Linux",
            Distro::OpenSuse => "openSUSE",
            Distro::Wolfi => "Wolfi",
            Distro::Chainguard => "Chainguard",
        }
    }

    /// The purl namespace used for this distribution's packages.
    pub fn purl_namespace(self) -> &'static str {
        match self {
            Distro::Debian => "debian",
            Distro::Ubuntu => "ubuntu",
            Distro::Alpine => "alpine",
            Distro::AmazonLinux => "amzn",
            Distro::RedHat => "redhat",
            Distro::CentOs => "centos",
            Distro::AlmaLinux => "almalinux",
            Distro::RockyLinux => "rocky",
            Distro::Fedora => "fedora",
            Distro::OracleLinux => "oracle",
            Distro::OpenSuse => "opensuse",
            Distro::Wolfi => "wolfi",
            Distro::Chainguard => "chainguard",
        }
    }
}

/// The operating system an artifact carries, from `/etc/os-release` (or its fallbacks).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct OsInfo {
    /// The distribution, when Argus knows it.
    pub distro: Option<Distro>,
    /// os-release `ID`.
    pub id: String,
    /// os-release `VERSION_ID` (e.g. `12`, `3.20.3`, `22.04`, `2023`).
    pub version_id: String,
    /// os-release `PRETTY_NAME`, for display.
    pub pretty_name: String,
    /// The OSV ecosystem for the distribution's packages, e.g. `Debian:12`, `Alpine:v3.20`.
    pub ecosystem: Option<Ecosystem>,
}

/// An OSV ecosystem, kept in OSV's spelling (`PyPI`, `npm`, `crates.io`, `Debian:12`, ...).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Ecosystem(pub String);

impl Ecosystem {
    pub fn pypi() -> Self {
        Self("PyPI".into())
    }
    pub fn npm() -> Self {
        Self("npm".into())
    }
    pub fn crates_io() -> Self {
        Self("crates.io".into())
    }
    pub fn go() -> Self {
        Self("Go".into())
    }
    pub fn maven() -> Self {
        Self("Maven".into())
    }
    pub fn rubygems() -> Self {
        Self("RubyGems".into())
    }
    pub fn packagist() -> Self {
        Self("Packagist".into())
    }

    /// The ecosystem of a distribution release, in OSV's spelling: `Debian:12`, `Ubuntu:22.04`,
    /// `Alpine:v3.20` (Alpine names the minor release with a `v` and no patch level),
    /// `Amazon Linux:2023`, `AlmaLinux:9`, `Rocky Linux:9`, `Red Hat` (unversioned: OSV's Red Hat
    /// ids carry the product stream instead).
    pub fn for_distro(distro: Distro, version_id: &str) -> Self {
        let name = distro.osv_name();
        let v = version_id.trim();
        match distro {
            Distro::Alpine => {
                let mut parts = v.split('.');
                match (parts.next(), parts.next()) {
                    (Some(maj), Some(min)) => Self(format!("{name}:v{maj}.{min}")),
                    _ if v.is_empty() => Self(name.into()),
                    _ => Self(format!("{name}:v{v}")),
                }
            }
            Distro::RedHat | Distro::CentOs | Distro::Wolfi | Distro::Chainguard => Self(name.into()),
            Distro::AlmaLinux | Distro::RockyLinux | Distro::OracleLinux => {
                let major = v.split('.').next().unwrap_or("");
                if major.is_empty() {
                    Self(name.into())
                } else {
                    Self(format!("{name}:{major}"))
                }
            }
            _ if v.is_empty() => Self(name.into()),
            _ => Self(format!("{name}:{v}")),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Ecosystem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The tool that installed a package, as Inspector names it (`packageManager`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PackageManager {
    Dpkg,
    Apk,
    Rpm,
    Pythonpkg,
    Pip,
    Poetry,
    Pipenv,
    Uv,
    Npm,
    Yarn,
    Pnpm,
    Nodepkg,
    Cargo,
    Gomod,
    Gobinary,
    Jar,
    Bundler,
    Gemspec,
    Composer,
    /// Declared by an SBOM rather than observed.
    Sbom,
}

impl PackageManager {
    pub fn as_str(self) -> &'static str {
        match self {
            PackageManager::Dpkg => "DPKG",
            PackageManager::Apk => "APK",
            PackageManager::Rpm => "RPM",
            PackageManager::Pythonpkg => "PYTHONPKG",
            PackageManager::Pip => "PIP",
            PackageManager::Poetry => "POETRY",
            PackageManager::Pipenv => "PIPENV",
            PackageManager::Uv => "UV",
            PackageManager::Npm => "NPM",
            PackageManager::Yarn => "YARN",
            PackageManager::Pnpm => "PNPM",
            PackageManager::Nodepkg => "NODEPKG",
            PackageManager::Cargo => "CARGO",
            PackageManager::Gomod => "GOMOD",
            PackageManager::Gobinary => "GOBINARY",
            PackageManager::Jar => "JAR",
            PackageManager::Bundler => "BUNDLER",
            PackageManager::Gemspec => "GEMSPEC",
            PackageManager::Composer => "COMPOSER",
            PackageManager::Sbom => "SBOM",
        }
    }
}

/// One installed or locked package.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Package {
    /// Name normalized the way OSV expects for the ecosystem (PEP 503 for PyPI,
    /// `group:artifact` for Maven, module path for Go).
    pub name: String,
    /// The full version as the ecosystem writes it; for dpkg and RPM this includes the epoch
    /// (`1:2.3-4`) and release, so it compares with OSV ranges directly.
    pub version: String,
    pub ecosystem: Ecosystem,
    pub package_manager: PackageManager,
    /// Package URL (purl).
    pub purl: String,
    /// Path of the file the package was read from, absolute within the artifact.
    pub file_path: String,
    /// For images: digest of the layer that introduced the package in its current version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layer_digest: Option<String>,
    /// Source package name (dpkg `Source`, apk origin, RPM source RPM name) when it differs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_name: Option<String>,
    /// Source package version, when the database records one different from `version`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_version: Option<String>,
    /// RPM epoch / dpkg epoch as recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epoch: Option<u32>,
    /// RPM release (or the dpkg revision) alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arch: Option<String>,
}

/// Everything Argus learned from one artifact.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Inventory {
    pub format_version: u32,
    /// What was read: a path, an image reference, a digest.
    pub target: String,
    /// Content digest of the artifact (image manifest digest, archive sha256), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_digest: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os: Option<OsInfo>,
    /// Image platform (`linux/amd64`) when the artifact is an image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    /// Packages, sorted and without exact duplicates.
    pub packages: Vec<Package>,
    /// Problems met on the way that did not stop the inventory, each naming the file.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

impl Package {
    /// A package with the fields every extractor sets; the optional ones are unset.
    pub fn new(
        name: impl Into<String>,
        version: impl Into<String>,
        ecosystem: Ecosystem,
        package_manager: PackageManager,
        purl: impl Into<String>,
        file_path: impl Into<String>,
    ) -> Self {
        Self {
            name: name.into(),
            version: version.into(),
            ecosystem,
            package_manager,
            purl: purl.into(),
            file_path: file_path.into(),
            layer_digest: None,
            source_name: None,
            source_version: None,
            epoch: None,
            release: None,
            arch: None,
        }
    }
}

impl Inventory {
    pub fn new(target: impl Into<String>) -> Self {
        Self {
            format_version: INVENTORY_FORMAT_VERSION,
            target: target.into(),
            ..Self::default()
        }
    }

    /// Sort packages into a stable order and drop exact duplicates, so that two scans of the
    /// same artifact serialize identically.
    pub fn normalize(&mut self) {
        self.packages.sort_by(|a, b| {
            (&a.ecosystem, &a.name, &a.version, &a.file_path, &a.layer_digest).cmp(&(
                &b.ecosystem,
                &b.name,
                &b.version,
                &b.file_path,
                &b.layer_digest,
            ))
        });
        self.packages.dedup();
        self.warnings.sort();
        self.warnings.dedup();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distro_ecosystems_use_osv_spelling() {
        assert_eq!(Ecosystem::for_distro(Distro::Debian, "12").as_str(), "Debian:12");
        assert_eq!(Ecosystem::for_distro(Distro::Alpine, "3.20.3").as_str(), "Alpine:v3.20");
        assert_eq!(Ecosystem::for_distro(Distro::Ubuntu, "22.04").as_str(), "Ubuntu:22.04");
        assert_eq!(
            Ecosystem::for_distro(Distro::AmazonLinux, "2023").as_str(),
            "Amazon Linux:2023"
        );
        assert_eq!(
            Ecosystem::for_distro(Distro::RockyLinux, "9.3").as_str(),
            "Rocky Linux:9"
        );
        assert_eq!(Ecosystem::for_distro(Distro::RedHat, "9.3").as_str(), "Red Hat");
    }
}
