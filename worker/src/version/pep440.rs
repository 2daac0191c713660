//! PEP 440 ordering for PyPI versions: epochs, release segments with insignificant trailing
//! zeros, pre-, post- and dev-releases in all the spellings PEP 440 normalizes, and local versions.
//! Parsing and ordering come from the `pep440_rs` crate, which implements the PEP's normalization
//! and sort rules the way `packaging.version.Version` does; a string that is not a PEP 440
//! version (`1.0-foo-bar`) is an error rather than a guess.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use super::VersionError;

const SCHEME: &str = "pep440";

/// A parsed PEP 440 version; `1.0 == 1.0.0 == v1.0`, and `Ord` is the PEP's total order.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version(pep440_rs::Version);

impl Version {
    pub fn inner(&self) -> &pep440_rs::Version {
        &self.0
    }
}

impl fmt::Display for Version {
    /// The normalized form (`1.0a1.post2.dev3+abc.1`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Parses a PEP 440 version, normalizing case, spelling and separators as the PEP prescribes.
pub fn parse(s: &str) -> Result<Version, VersionError> {
    pep440_rs::Version::from_str(s)
        .map(Version)
        .map_err(|e| VersionError::new(SCHEME, s, e.to_string()))
}

/// Compares two PEP 440 versions.
pub fn compare(a: &str, b: &str) -> Result<Ordering, VersionError> {
    Ok(parse(a)?.cmp(&parse(b)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    const LESS: &[(&str, &str)] = &[
        ("1.0", "1.0.1"),
        ("1.0.9", "1.0.10"),
        ("1.9", "1.10"),
        ("1.0", "2"),
        ("2.0", "1!0.1"),
        ("1!1.0", "2!0.0.1"),
        ("1.0.dev0", "1.0.dev1"),
        ("1.0.dev1", "1.0a1"),
        ("1.0.dev456", "1.0a1.dev1"),
        ("1.0a1.dev1", "1.0a1"),
        ("1.0a1", "1.0a2.dev456"),
        ("1.0a2.dev456", "1.0a12.dev456"),
        ("1.0a12.dev456", "1.0a12"),
        ("1.0a12", "1.0b1.dev456"),
        ("1.0b1.dev456", "1.0b2"),
        ("1.0b2", "1.0b2.post345.dev456"),
        ("1.0b2.post345.dev456", "1.0b2.post345"),
        ("1.0b2.post345", "1.0b2-346"),
        ("1.0b2-346", "1.0c1.dev456"),
        ("1.0c1.dev456", "1.0c1"),
        ("1.0c1", "1.0rc2"),
        ("1.0rc2", "1.0c3"),
        ("1.0c3", "1.0"),
        ("1.0", "1.0.post456.dev34"),
        ("1.0.post456.dev34", "1.0.post456"),
        ("1.0.post456", "1.0.post457"),
        ("1.0.post1.dev1", "1.0.post1"),
        ("1.0", "1.0.post1.dev1"),
        ("1.0.post1", "1.0.1.dev0"),
        ("1.0rc1", "1.0"),
        ("1.0rc1.post1", "1.0"),
        ("1.0alpha1", "1.0beta1"),
        ("1.0-preview.1", "1.0"),
        ("1.0.0-alpha", "1.0.0-beta"),
        ("1.0", "1.0+local"),
        ("1.0+abc", "1.0+abc.1"),
        ("1.0+abc.1", "1.0+abc.2"),
        ("1.0+abc.2", "1.0+abc.10"),
        ("1.0+abc", "1.0+abd"),
        ("1.0+zzz", "1.0+1"),
        ("1.0+abc.zzz", "1.0+abc.0"),
        ("1.0+1", "1.0+2"),
        ("1.0+9", "1.0+10"),
        ("1.0+1.a", "1.0+1.0"),
        ("1.0+local", "1.0.post1"),
        ("1.0a1+local", "1.0a1.post1"),
        ("1.0.dev1+local", "1.0a1"),
        ("0.9", "1.0.dev0"),
        ("1.0-1", "1.0-2"),
        ("1.0rev1", "1.0.r2"),
        ("1.0.post", "1.0.post1"),
        ("1.0.dev", "1.0.dev1"),
        ("1.0a", "1.0a1"),
        ("v1.0", "1.1"),
        ("1.0", "1.0.0.0.1"),
        ("2023.10.1", "2023.11"),
        ("1.0.post99", "1.1.dev1"),
        ("1!1.0.dev1", "1!1.0+local"),
        ("1.0a1.post1.dev1", "1.0a1.post1"),
        ("1.0a1.post1", "1.0a2.dev0"),
        ("1.0rc1+local.7", "1.0rc1.post0.dev0"),
        ("1.0.0.dev0", "1.0.0.0.1.dev0"),
    ];

    const EQUAL: &[(&str, &str)] = &[
        ("1.0", "1.0.0"),
        ("1", "1.0.0.0"),
        ("0!1.0", "1.0"),
        ("v1.0", "1.0"),
        ("V1.0", "1.0"),
        ("1.0ALPHA1", "1.0a1"),
        ("1.0alpha1", "1.0a1"),
        ("1.0-a1", "1.0a1"),
        ("1.0_a_1", "1.0a1"),
        ("1.0.a.1", "1.0a1"),
        ("1.0a", "1.0a0"),
        ("1.0beta2", "1.0b2"),
        ("1.0c1", "1.0rc1"),
        ("1.0pre1", "1.0rc1"),
        ("1.0preview1", "1.0rc1"),
        ("1.0-1", "1.0.post1"),
        ("1.0post1", "1.0.post1"),
        ("1.0-post-1", "1.0.post1"),
        ("1.0rev1", "1.0.post1"),
        ("1.0r1", "1.0.post1"),
        ("1.0.post", "1.0.post0"),
        ("1.0dev", "1.0.dev0"),
        ("1.0-dev-2", "1.0.dev2"),
        ("1.0+ABC", "1.0+abc"),
        ("1.0+abc-1_2", "1.0+abc.1.2"),
        ("1.0+007", "1.0+7"),
        ("01.002", "1.2"),
        (" 1.0 ", "1.0"),
    ];

    const INVALID: &[&str] = &[
        "",
        "1.0-foo-bar",
        "1.0foo",
        "french toast",
        "1.0+",
        "1.0+a+b",
        "1.0+_abc",
        "1..0",
        "1.0.",
        ".1.0",
        "1!",
        "!1.0",
        "1.0.*",
        "1.0a1a2",
        "1.0.dev1.post1",
        "1.0+abc..1",
        "vv1.0",
        "1.0-",
        "1.0 1",
    ];

    #[test]
    fn ordering_table_follows_pep_440() {
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
    fn invalid_versions_are_errors() {
        for v in INVALID {
            let err = parse(v).expect_err(v);
            assert_eq!(err.scheme, "pep440");
            assert_eq!(err.version, *v);
            assert!(compare("1.0", v).is_err(), "{v}");
        }
    }

    #[test]
    fn parse_normalizes_spelling() {
        assert_eq!(
            parse("V1.0-Preview_2.POST.3-dev4+Ubuntu-1").unwrap().to_string(),
            "1.0rc2.post3.dev4+ubuntu.1"
        );
        assert_eq!(parse("2!1.0-1").unwrap().to_string(), "2!1.0.post1");
    }

    /// Asks `packaging.version.Version` (`pip install packaging`) about validity and every pair of
    /// the table's versions, in one `python3` process.
    #[test]
    fn python_packaging_agrees_on_every_pair() {
        let mut versions: Vec<&str> = Vec::new();
        for (a, b) in LESS.iter().chain(EQUAL) {
            versions.push(a);
            versions.push(b);
        }
        versions.extend(INVALID);
        versions.sort();
        versions.dedup();

        let script = r#"
import sys
try:
    from packaging.version import Version, InvalidVersion
except ImportError:
    print("MISSING")
    sys.exit(0)
vs = sys.stdin.read().split("\n")[:-1]
parsed = []
for v in vs:
    try:
        parsed.append(Version(v))
    except InvalidVersion:
        parsed.append(None)
good = [p for p in parsed if p is not None]
for v, p in zip(vs, parsed):
    if p is None:
        print("invalid")
    else:
        print(",".join(str((p > q) - (p < q)) for q in good))
"#;
        let input = versions.join(
            "
",
        ) + "
";
        let text = crate::testutil::pipe_through(
            Command::new("python3").args(["-c", script]),
            &input,
            "install python3 and `pip install packaging`",
        );
        assert!(
            !text.starts_with("MISSING"),
            "python package packaging is missing: run `pip install packaging`"
        );

        let valid: Vec<&str> = versions.iter().copied().filter(|v| parse(v).is_ok()).collect();
        let mut lines = text.lines();
        for a in &versions {
            let row = lines.next().expect("one line per version");
            if row == "invalid" {
                assert!(parse(a).is_err(), "packaging rejects {a:?}, we accept it");
                continue;
            }
            assert!(parse(a).is_ok(), "packaging accepts {a:?}, we reject it");
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
