//! Version ordering by each ecosystem's own rules. OSV ranges are only as right as the
//! comparison behind them: `1.0.0-rc1 < 1.0.0` in SemVer, `1.0~rc1 < 1.0` in dpkg, `1.0rc1 < 1.0`
//! in PEP 440, and so on. A version that cannot be parsed is an error, never a silent
//! "not affected".

use std::cmp::Ordering;

/// Equality and partial order of a version type taken from its `Ord`: every scheme's equality
/// is the ordering's (`1.0` equals `1.00` in dpkg, `1.0` equals `1-ga` in Maven), never string
/// equality.
macro_rules! eq_and_partial_ord_from_ord {
    ($ty:ty) => {
        impl PartialEq for $ty {
            fn eq(&self, other: &Self) -> bool {
                self.cmp(other) == std::cmp::Ordering::Equal
            }
        }

        impl Eq for $ty {}

        impl PartialOrd for $ty {
            fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
                Some(self.cmp(other))
            }
        }
    };
}

pub mod apk;
pub mod dpkg;
pub mod golang;
pub mod maven;
pub mod nuget;
pub mod packagist;
pub mod pep440;
pub mod rpm;
pub mod rubygems;
pub mod semver;

/// A version string the ecosystem's rules cannot read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{scheme} version {version:?} cannot be parsed: {reason}")]
pub struct VersionError {
    pub scheme: &'static str,
    pub version: String,
    pub reason: String,
}

impl VersionError {
    pub fn new(scheme: &'static str, version: &str, reason: impl Into<String>) -> Self {
        VersionError {
            scheme,
            version: version.to_string(),
            reason: reason.into(),
        }
    }
}

/// The comparison rules of an ecosystem.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    Dpkg,
    Apk,
    Rpm,
    Pep440,
    Semver,
    Go,
    Maven,
    RubyGems,
    Packagist,
    NuGet,
}

impl Scheme {
    /// The rules for an OSV ecosystem name (`Debian:12`, `PyPI`, `Red Hat:...`); `None` for an
    /// ecosystem Argus cannot order.
    pub fn for_ecosystem(ecosystem: &str) -> Option<Scheme> {
        let base = ecosystem.split(':').next().unwrap_or(ecosystem);
        Some(match base {
            "Debian" | "Ubuntu" => Scheme::Dpkg,
            "Alpine" | "Wolfi" | "Chainguard" => Scheme::Apk,
            "Red Hat" | "AlmaLinux" | "Rocky Linux" | "Amazon Linux" | "Fedora" | "openSUSE" | "SUSE"
            | "Oracle Linux" | "Mageia" | "CentOS" => Scheme::Rpm,
            "PyPI" => Scheme::Pep440,
            "npm" | "crates.io" => Scheme::Semver,
            "Go" => Scheme::Go,
            "Maven" => Scheme::Maven,
            "RubyGems" => Scheme::RubyGems,
            "Packagist" => Scheme::Packagist,
            "NuGet" => Scheme::NuGet,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Scheme::Dpkg => "dpkg",
            Scheme::Apk => "apk",
            Scheme::Rpm => "rpm",
            Scheme::Pep440 => "PEP 440",
            Scheme::Semver => "SemVer",
            Scheme::Go => "Go",
            Scheme::Maven => "Maven",
            Scheme::RubyGems => "RubyGems",
            Scheme::Packagist => "Packagist",
            Scheme::NuGet => "NuGet",
        }
    }

    /// Compares two versions under these rules.
    pub fn compare(self, a: &str, b: &str) -> Result<Ordering, VersionError> {
        match self {
            Scheme::Dpkg => dpkg::compare(a, b),
            Scheme::Apk => apk::compare(a, b),
            Scheme::Rpm => rpm::compare(a, b),
            Scheme::Pep440 => pep440::compare(a, b),
            Scheme::Semver => semver::compare(a, b),
            Scheme::Go => golang::compare(a, b),
            Scheme::Maven => maven::compare(a, b),
            Scheme::RubyGems => rubygems::compare(a, b),
            Scheme::Packagist => packagist::compare(a, b),
            Scheme::NuGet => nuget::compare(a, b),
        }
    }
}

/// Shared by the schemes' reference cross-check tests.
#[cfg(test)]
pub(crate) mod testutil {
    /// Deterministic pseudo-random versions built from `pieces` (xorshift, fixed seed), so the
    /// reference tool also judges combinations nobody thought of.
    pub fn generated_pairs(
        pieces: &[&str],
        max_pieces: u64,
        count: usize,
        keep: impl Fn(&str) -> bool,
    ) -> Vec<(String, String)> {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut version = || loop {
            let n = 1 + next() % max_pieces;
            let s: String = (0..n)
                .map(|_| pieces[(next() % pieces.len() as u64) as usize])
                .collect();
            if keep(&s) {
                return s;
            }
        };
        (0..count).map(|_| (version(), version())).collect()
    }
}
