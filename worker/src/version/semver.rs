//! SemVer 2.0 precedence, as npm and crates.io order versions. Parsing and precedence come from
//! the `semver` crate (the one Cargo uses); this module adds npm's tolerance of one leading `v` or
//! `=` and makes build metadata irrelevant to equality, as the specification requires.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};

use super::VersionError;

const SCHEME: &str = "semver";

/// A parsed SemVer 2.0 version. Equality and ordering are SemVer precedence: `1.0.0+a == 1.0.0+b`.
#[derive(Debug, Clone)]
pub struct Version(::semver::Version);

impl Version {
    /// The version without the tolerated prefix, build metadata included.
    pub fn inner(&self) -> &::semver::Version {
        &self.0
    }
}

eq_and_partial_ord_from_ord!(Version);

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.cmp_precedence(&other.0)
    }
}

impl Hash for Version {
    // Build metadata is left out so that hashing agrees with precedence equality.
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.major.hash(state);
        self.0.minor.hash(state);
        self.0.patch.hash(state);
        self.0.pre.hash(state);
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Parses a SemVer 2.0 version; one leading `v` or `=` is accepted (npm writes both), nothing else
/// that the specification does not allow (no whitespace, no `V`, no leading zeros, no `1.2`).
pub fn parse(s: &str) -> Result<Version, VersionError> {
    let body = s.strip_prefix(['v', '=']).unwrap_or(s);
    ::semver::Version::parse(body)
        .map(Version)
        .map_err(|e| VersionError::new(SCHEME, s, e.to_string()))
}

/// Compares two versions by SemVer precedence.
pub fn compare(a: &str, b: &str) -> Result<Ordering, VersionError> {
    Ok(parse(a)?.cmp(&parse(b)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    const LESS: &[(&str, &str)] = &[
        ("0.0.0", "0.0.1"),
        ("0.0.9", "0.1.0"),
        ("0.9.9", "1.0.0"),
        ("1.2.3", "1.2.4"),
        ("1.2.9", "1.2.10"),
        ("1.9.0", "1.10.0"),
        ("9.0.0", "10.0.0"),
        ("1.0.0-alpha", "1.0.0"),
        ("1.0.0-alpha", "1.0.0-alpha.1"),
        ("1.0.0-alpha.1", "1.0.0-alpha.beta"),
        ("1.0.0-alpha.beta", "1.0.0-beta"),
        ("1.0.0-beta", "1.0.0-beta.2"),
        ("1.0.0-beta.2", "1.0.0-beta.11"),
        ("1.0.0-beta.11", "1.0.0-rc.1"),
        ("1.0.0-rc.1", "1.0.0"),
        ("1.0.0-1", "1.0.0-a"),
        ("1.0.0-2", "1.0.0-10"),
        ("1.0.0-99999", "1.0.0-a"),
        ("1.0.0-A", "1.0.0-a"),
        ("1.0.0-Z", "1.0.0-a"),
        ("1.0.0--", "1.0.0-0a"),
        ("1.0.0-a.b", "1.0.0-a-b"),
        ("1.0.0-rc.1", "1.0.0-rc1"),
        ("1.0.0-rc10", "1.0.0-rc9"),
        ("1.0.0-x.7.z.92", "1.0.0-x.7.z.93"),
        ("1.0.0-0", "1.0.0-0.0"),
        ("1.0.0-beta.9", "1.0.0-beta.a"),
        ("1.0.0-999", "1.0.0"),
        ("2.0.0-rc.1", "2.0.0"),
        ("1.99.99", "2.0.0-alpha"),
        ("1.0.0-alpha+build.9", "1.0.0-alpha.1+build.1"),
        ("1.0.0+zzz", "1.0.1+aaa"),
        ("v1.0.0", "1.0.1"),
        ("=1.0.0", "v1.0.1"),
        ("1.0.0", "18446744073709551615.0.0"),
        ("1.0.0-9223372036854775807", "1.0.0-18446744073709551616"),
    ];

    const EQUAL: &[(&str, &str)] = &[
        ("1.0.0", "1.0.0"),
        ("1.0.0", "1.0.0+build.1"),
        ("1.0.0+a", "1.0.0+b"),
        ("1.0.0-rc.1+x", "1.0.0-rc.1+y.z"),
        ("v1.2.3", "1.2.3"),
        ("=1.2.3", "1.2.3"),
        ("1.0.0+001", "1.0.0"),
    ];

    const INVALID: &[&str] = &[
        "",
        "v",
        "1",
        "1.2",
        "1.2.3.4",
        "01.2.3",
        "1.02.3",
        "1.2.03",
        "1.2.3-01",
        "1.2.3-",
        "1.2.3+",
        "1.2.3-a..b",
        "1.2.3+a..b",
        "1.2.3-a_b",
        " 1.2.3",
        "1.2.3 ",
        "V1.2.3",
        "vv1.2.3",
        "==1.2.3",
        "v=1.2.3",
        "=v1.2.3",
        "1.2.3-é",
        "-1.2.3",
        "1.2.x",
        "18446744073709551616.0.0",
    ];

    #[test]
    fn ordering_table_follows_semver_precedence() {
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
    fn build_metadata_is_ignored_for_equality_and_hash() {
        use std::collections::HashSet;
        let a = parse("1.2.3-rc.1+linux").unwrap();
        let b = parse("1.2.3-rc.1+darwin.7").unwrap();
        assert_eq!(a, b);
        let set: HashSet<Version> = [a, b].into_iter().collect();
        assert_eq!(set.len(), 1);
        assert_eq!(parse("v1.2.3+x").unwrap().to_string(), "1.2.3+x");
    }

    #[test]
    fn invalid_versions_are_errors() {
        for v in INVALID {
            let err = parse(v).expect_err(v);
            assert_eq!(err.scheme, "semver");
            assert_eq!(err.version, *v);
            assert!(compare(v, "1.0.0").is_err(), "{v}");
            assert!(compare("1.0.0", v).is_err(), "{v}");
        }
    }

    #[test]
    fn parsed_versions_sort_in_precedence_order() {
        let mut vs: Vec<Version> = [
            "1.0.0",
            "1.0.0-rc.1",
            "0.9.0",
            "1.0.0-alpha",
            "1.0.0-alpha.1",
            "1.0.0-beta.11",
        ]
        .iter()
        .map(|v| parse(v).unwrap())
        .collect();
        vs.sort();
        let got: Vec<String> = vs.iter().map(|v| v.to_string()).collect();
        assert_eq!(
            got,
            [
                "0.9.0",
                "1.0.0-alpha",
                "1.0.0-alpha.1",
                "1.0.0-beta.11",
                "1.0.0-rc.1",
                "1.0.0"
            ]
        );
    }

    /// Asks npm's own `semver` package (installed with `npm install -g semver`) about every pair
    /// of the table's versions, in one `node` process.
    #[test]
    fn npm_semver_package_agrees_on_every_pair() {
        let mut versions: Vec<&str> = Vec::new();
        for (a, b) in LESS.iter().chain(EQUAL) {
            versions.push(a);
            versions.push(b);
        }
        // npm's strict parser refuses `=` and surrounding blanks are trimmed by it, and it caps
        // numbers at 2^53 (numeric identifiers beyond become text): those cases stay out.
        let huge = |v: &str| v.split(|c: char| !c.is_ascii_digit()).any(|run| run.len() > 15);
        let npm_differs = |v: &&str| v.starts_with('=') || v.contains(' ') || huge(v);
        versions.retain(|v| !npm_differs(v));
        versions.extend(INVALID.iter().filter(|v| !npm_differs(v)));
        versions.sort();
        versions.dedup();

        let root = Command::new("npm")
            .args(["root", "-g"])
            .output()
            .expect("npm must be installed");
        let root = String::from_utf8(root.stdout).unwrap().trim().to_string();
        let script = r#"
            let semver;
            try { semver = require('semver'); } catch (e) { console.log('MISSING'); process.exit(0); }
            const vs = require('fs').readFileSync(0, 'utf8').split('\n').slice(0, -1);
            const out = [];
            for (const a of vs) {
                if (semver.valid(a) === null) { out.push(a + '\tinvalid'); continue; }
                const row = vs.filter(b => semver.valid(b) !== null).map(b => semver.compare(a, b));
                out.push(a + '\t' + row.join(','));
            }
            console.log(out.join('\n'));
        "#;
        let input = versions.join(
            "
",
        ) + "
";
        let text = crate::testutil::pipe_through(
            Command::new("node").args(["-e", script]).env("NODE_PATH", &root),
            &input,
            "install node and `npm install -g semver`",
        );
        assert!(
            !text.starts_with("MISSING"),
            "npm package semver is missing: run `npm install -g semver`"
        );

        let valid: Vec<&str> = versions.iter().copied().filter(|v| parse(v).is_ok()).collect();
        let mut lines = text.lines();
        for a in &versions {
            let line = lines.next().expect("one line per version");
            let (name, row) = line.split_once('\t').unwrap();
            assert_eq!(name, *a);
            if row == "invalid" {
                assert!(parse(a).is_err(), "npm rejects {a:?}, we accept it");
                continue;
            }
            assert!(parse(a).is_ok(), "npm accepts {a:?}, we reject it");
            let signs: Vec<&str> = row.split(',').collect();
            assert_eq!(signs.len(), valid.len(), "{a}");
            for (b, sign) in valid.iter().zip(signs) {
                let want = match sign {
                    "-1" => Ordering::Less,
                    "0" => Ordering::Equal,
                    _ => Ordering::Greater,
                };
                assert_eq!(compare(a, b).unwrap(), want, "{a} vs {b}");
            }
        }
    }
}
