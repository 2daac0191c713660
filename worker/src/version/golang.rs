//! Go module and toolchain versions as OSV's Go ecosystem writes them: `1.2.3`,
//! pseudo-versions `0.0.0-20210101000000-abcdef123456`, `2.0.0+incompatible`, the standard
//! library's `1.21.0-rc.1`; the `v` that Go itself writes is accepted too. Go orders them by SemVer
//! precedence (golang.org/x/mod/semver): build metadata such as `+incompatible` does not count,
//! and a pseudo-version orders through its prerelease part like any other prerelease. Go's
//! shorthands `v1` and `v1.2` mean `v1.0.0` and `v1.2.0`.

use std::cmp::Ordering;
use std::fmt;

use super::VersionError;

const SCHEME: &str = "golang";

/// A parsed Go version; equality and ordering are SemVer precedence.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version(super::semver::Version);

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Parses a Go version, with or without its `v`.
pub fn parse(s: &str) -> Result<Version, VersionError> {
    let body = s.strip_prefix('v').unwrap_or(s);
    let err = |reason: String| VersionError::new(SCHEME, s, reason);
    // Go's shorthands carry no prerelease or build part; anything else must be a full version.
    let dots = body.bytes().filter(|&c| c == b'.').count();
    let plain = !body.is_empty() && body.bytes().all(|c| c.is_ascii_digit() || c == b'.');
    let padded;
    let full = match dots {
        0 if plain => {
            padded = format!("{body}.0.0");
            padded.as_str()
        }
        1 if plain => {
            padded = format!("{body}.0");
            padded.as_str()
        }
        _ => body,
    };
    // The `=` prefix npm tolerates is not Go syntax.
    if full.starts_with(['v', '=']) {
        return Err(err("not a semantic version".to_string()));
    }
    super::semver::parse(full).map(Version).map_err(|e| err(e.reason))
}

/// Compares two Go versions.
pub fn compare(a: &str, b: &str) -> Result<Ordering, VersionError> {
    Ok(parse(a)?.cmp(&parse(b)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    const LESS: &[(&str, &str)] = &[
        ("0.0.1", "0.1.0"),
        ("1.2.3", "1.2.4"),
        ("1.2.9", "1.2.10"),
        ("1.10.0", "1.11.0"),
        ("1.9.9", "2.0.0+incompatible"),
        ("2.0.0+incompatible", "2.0.1+incompatible"),
        ("2.0.0-rc.1+incompatible", "2.0.0+incompatible"),
        ("0.0.0-20210101000000-abcdef123456", "0.0.0-20210102000000-000000000000"),
        ("0.0.0-20210101000000-abcdef123456", "0.0.1"),
        ("0.0.0-20191109021931-daa7c04131f5", "0.0.0-20200101000000-000000000000"),
        ("0.0.0-20191109021931-daa7c04131f5", "0.1.0"),
        // A pseudo-version derived from a tag sorts after the tag and before the next patch.
        ("1.2.3", "1.2.4-0.20210101000000-abcdef123456"),
        ("1.2.4-0.20210101000000-abcdef123456", "1.2.4"),
        (
            "1.2.4-0.20210101000000-abcdef123456",
            "1.2.4-0.20210101000001-000000000000",
        ),
        // A pseudo-version on a prerelease sorts after that prerelease.
        ("1.2.4-pre", "1.2.4-pre.0.20210101000000-abcdef123456"),
        ("1.2.4-pre.0.20210101000000-abcdef123456", "1.2.4-pre.1"),
        ("1.2.4-pre.0.20210101000000-abcdef123456", "1.2.4"),
        ("1.21.0-rc.1", "1.21.0-rc.2"),
        ("1.21.0-rc.2", "1.21.0"),
        ("1.21.0", "1.21.1"),
        ("1.21.13", "1.22.0-rc.1"),
        ("1.22.3", "1.22.10"),
        ("v1.2.3", "1.2.4"),
        ("1.2.3", "v1.2.4"),
        ("1.0.0-alpha", "1.0.0-alpha.1"),
        ("1.0.0-alpha.1", "1.0.0-alpha.beta"),
        ("1.0.0-beta.2", "1.0.0-beta.11"),
        ("1.0.0-1", "1.0.0-a"),
        ("v1", "v1.0.1"),
        ("v1.2", "v1.2.1"),
        ("1.22", "1.22.1"),
        ("1.21.0-rc.1", "1.22"),
    ];

    const EQUAL: &[(&str, &str)] = &[
        ("1.2.3", "v1.2.3"),
        ("2.0.0+incompatible", "2.0.0"),
        ("2.0.0+incompatible", "v2.0.0+incompatible"),
        ("v1", "1.0.0"),
        ("v1.2", "1.2.0"),
        ("1.22", "1.22.0"),
        (
            "0.0.0-20210101000000-abcdef123456",
            "v0.0.0-20210101000000-abcdef123456",
        ),
    ];

    const INVALID: &[&str] = &[
        "",
        "v",
        "vv1.2.3",
        "=1.2.3",
        "V1.2.3",
        "go1.22.3",
        "1.2.3.4",
        "01.2.3",
        "1.02.3",
        "1.2.3-01",
        "1.2-pre",
        "1-pre",
        "1.2+incompatible",
        "1.2.3-",
        "1.2.3+",
        "1.2.3+incompatible+x",
        "1.2.",
        ".1.2",
        "1..2",
        "1.2.3 ",
        "latest",
        "(devel)",
    ];

    #[test]
    fn ordering_table_follows_go_semver_rules() {
        for (a, b) in LESS {
            assert_eq!(compare(a, b), Ok(Ordering::Less), "{a} < {b}");
            assert_eq!(compare(b, a), Ok(Ordering::Greater), "{b} > {a}");
        }
        for (a, b) in EQUAL {
            assert_eq!(compare(a, b), Ok(Ordering::Equal), "{a} == {b}");
            assert_eq!(compare(b, a), Ok(Ordering::Equal), "{b} == {a}");
        }
    }

    #[test]
    fn invalid_go_versions_are_errors() {
        for v in INVALID {
            let err = parse(v).expect_err(v);
            assert_eq!(err.scheme, "golang");
            assert_eq!(err.version, *v);
            assert!(compare("1.0.0", v).is_err(), "{v}");
        }
    }

    #[test]
    fn parsed_versions_sort_pseudo_versions_between_tags() {
        let mut vs: Vec<Version> = [
            "1.3.0",
            "1.2.4-0.20210101000000-abcdef123456",
            "v1.2.3",
            "1.2.4-rc.1",
            "0.0.0-20200101000000-aaaaaaaaaaaa",
        ]
        .iter()
        .map(|v| parse(v).unwrap())
        .collect();
        vs.sort();
        let got: Vec<String> = vs.iter().map(|v| v.to_string()).collect();
        assert_eq!(
            got,
            [
                "0.0.0-20200101000000-aaaaaaaaaaaa",
                "1.2.3",
                "1.2.4-0.20210101000000-abcdef123456",
                "1.2.4-rc.1",
                "1.3.0"
            ]
        );
    }
}
