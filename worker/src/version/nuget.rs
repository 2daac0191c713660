//! NuGet version ordering (NuGet.Versioning's `NuGetVersion` with the default comparer): one to
//! four numeric parts where missing parts are zero (`1.0 == 1.0.0 == 1.0.0.0`), SemVer 2.0
//! release labels compared case-insensitively with numeric labels before text, and build
//! metadata ignored.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};

use super::VersionError;

const SCHEME: &str = "nuget";

/// A parsed NuGet version; equality and ordering follow NuGet's default comparer.
#[derive(Debug, Clone)]
pub struct Version {
    parts: [u32; 4],
    /// Release labels joined by `.`, empty for a release.
    release: Box<str>,
}

/// A parse that borrows the input, so that a one-off comparison allocates nothing.
#[derive(Clone, Copy)]
struct View<'a> {
    parts: [u32; 4],
    release: &'a str,
}

impl Version {
    fn view(&self) -> View<'_> {
        View {
            parts: self.parts,
            release: &self.release,
        }
    }
}

eq_and_partial_ord_from_ord!(Version);

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        compare_views(self.view(), other.view())
    }
}

impl Hash for Version {
    // Labels hash the way they compare: numbers by value, text without case.
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.parts.hash(state);
        for label in self.release.split('.').filter(|l| !l.is_empty()) {
            match label_number(label) {
                Some(n) => n.hash(state),
                None => {
                    for b in label.bytes() {
                        b.to_ascii_uppercase().hash(state);
                    }
                    0xffu8.hash(state);
                }
            }
        }
    }
}

impl fmt::Display for Version {
    /// The normalized form: three parts, a fourth when it is not zero, then the labels.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d] = self.parts;
        write!(f, "{a}.{b}.{c}")?;
        if d != 0 {
            write!(f, ".{d}")?;
        }
        if !self.release.is_empty() {
            write!(f, "-{}", self.release)?;
        }
        Ok(())
    }
}

fn is_label_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'-'
}

fn parse_view(s: &str) -> Result<View<'_>, String> {
    let s = s.trim_matches(|c: char| c.is_ascii_whitespace());
    let (main, metadata) = match s.split_once('+') {
        Some((main, metadata)) => (main, Some(metadata)),
        None => (s, None),
    };
    let (numbers, release) = match main.split_once('-') {
        Some((numbers, release)) => (numbers, Some(release)),
        None => (main, None),
    };
    let mut parts = [0u32; 4];
    for (i, part) in numbers.split('.').enumerate() {
        let slot = parts.get_mut(i).ok_or("more than four numeric parts")?;
        if part.is_empty() || !part.bytes().all(|c| c.is_ascii_digit()) {
            return Err(format!("numeric part {part:?} is not a number"));
        }
        // NuGet keeps each part in a signed 32-bit integer.
        *slot = part
            .parse::<i32>()
            .map_err(|_| format!("numeric part {part:?} is too large"))? as u32;
    }
    if let Some(release) = release {
        for label in release.split('.') {
            if label.is_empty() || !label.bytes().all(is_label_char) {
                return Err(format!(
                    "release label {label:?} is empty or has characters other than [0-9A-Za-z-]"
                ));
            }
            if label.len() > 1 && label.starts_with('0') && label.bytes().all(|c| c.is_ascii_digit()) {
                return Err(format!("numeric release label {label:?} has a leading zero"));
            }
        }
    }
    if let Some(metadata) = metadata {
        for part in metadata.split('.') {
            if part.is_empty() || !part.bytes().all(is_label_char) {
                return Err(format!(
                    "metadata part {part:?} is empty or has characters other than [0-9A-Za-z-]"
                ));
            }
        }
    }
    Ok(View {
        parts,
        release: release.unwrap_or(""),
    })
}

/// NuGet reads a label as a number when .NET's `Int32.TryParse` does: an optional minus sign
/// and digits within the 32-bit range.
fn label_number(label: &str) -> Option<i32> {
    let digits = label.strip_prefix('-').unwrap_or(label);
    if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    label.parse::<i32>().ok()
}

fn compare_labels(a: &str, b: &str) -> Ordering {
    match (label_number(a), label_number(b)) {
        (Some(x), Some(y)) => x.cmp(&y),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => {
            let x = a.bytes().map(|c| c.to_ascii_uppercase());
            let y = b.bytes().map(|c| c.to_ascii_uppercase());
            x.cmp(y)
        }
    }
}

fn compare_views(a: View<'_>, b: View<'_>) -> Ordering {
    a.parts
        .cmp(&b.parts)
        .then_with(|| match (a.release.is_empty(), b.release.is_empty()) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Greater,
            (false, true) => Ordering::Less,
            (false, false) => {
                let mut x = a.release.split('.');
                let mut y = b.release.split('.');
                loop {
                    match (x.next(), y.next()) {
                        (None, None) => return Ordering::Equal,
                        (None, Some(_)) => return Ordering::Less,
                        (Some(_), None) => return Ordering::Greater,
                        (Some(l), Some(r)) => match compare_labels(l, r) {
                            Ordering::Equal => {}
                            other => return other,
                        },
                    }
                }
            }
        })
}

/// Parses a NuGet version (surrounding blanks are ignored, as NuGet does).
pub fn parse(s: &str) -> Result<Version, VersionError> {
    let v = parse_view(s).map_err(|reason| VersionError::new(SCHEME, s, reason))?;
    Ok(Version {
        parts: v.parts,
        release: v.release.into(),
    })
}

/// Compares two NuGet versions.
pub fn compare(a: &str, b: &str) -> Result<Ordering, VersionError> {
    let x = parse_view(a).map_err(|reason| VersionError::new(SCHEME, a, reason))?;
    let y = parse_view(b).map_err(|reason| VersionError::new(SCHEME, b, reason))?;
    Ok(compare_views(x, y))
}

#[cfg(test)]
mod tests {
    use super::*;

    const LESS: &[(&str, &str)] = &[
        ("1.0.0", "1.0.1"),
        ("1.0.9", "1.0.10"),
        ("1.9", "1.10"),
        ("1", "1.0.0.1"),
        ("1.0.0", "1.0.0.1"),
        ("1.0.0.9", "1.0.0.10"),
        ("1.0.0.2147483647", "1.0.1"),
        ("1.0.0-alpha", "1.0.0"),
        ("1.0.0-alpha", "1.0.0.0"),
        ("1.0.0.1-alpha", "1.0.0.1"),
        ("1.0.0-alpha", "1.0.0-alpha.1"),
        ("1.0.0-alpha.1", "1.0.0-alpha.beta"),
        ("1.0.0-alpha.beta", "1.0.0-beta"),
        ("1.0.0-beta.2", "1.0.0-beta.11"),
        ("1.0.0-beta.11", "1.0.0-rc.1"),
        ("1.0.0-rc.1", "1.0.0"),
        ("1.0.0-1", "1.0.0-a"),
        ("1.0.0-2", "1.0.0-10"),
        ("1.0.0-alpha", "1.0.0-Beta"),
        ("1.0.0-ALPHA", "1.0.0-beta"),
        ("1.0.0-rc10", "1.0.0-rc9"),
        ("1.0.0-beta-1", "1.0.0-beta1"),
        ("1.0.0-a-b", "1.0.0-aa"),
        ("1.0.0-2147483647", "1.0.0-2147483648"),
        ("1.0.0-99999999999", "1.0.0-a"),
        ("1.0.0-0.3.7", "1.0.0-0.3.8"),
        ("1.0.0-x.7.z.92", "1.0.0-x.7.z.93"),
        ("2.0.0-preview.1.20101.1", "2.0.0-preview.2.20201.5"),
        ("5.0.0-preview.8.20407.11", "5.0.0-rc.1.20451.14"),
        ("5.0.0-rc.2.20475.5", "5.0.0"),
        ("1.0.0+zzz", "1.0.1+aaa"),
        ("1.0.0-alpha+2", "1.0.0-alpha.1+1"),
        ("01.02.03", "1.2.4"),
    ];

    const EQUAL: &[(&str, &str)] = &[
        ("1.0.0", "1.0.0.0"),
        ("1.0", "1.0.0"),
        ("1", "1.0.0.0"),
        ("1.0.0", "1.0.0+build.5"),
        ("1.0.0+a", "1.0.0+b"),
        ("1.0.0-RC.1", "1.0.0-rc.1"),
        ("1.0.0-Alpha", "1.0.0-ALPHA"),
        ("1.0.0-beta+x", "1.0.0.0-BETA+y"),
        ("01.002.0003", "1.2.3"),
        (" 1.0.0 ", "1.0.0"),
    ];

    const INVALID: &[&str] = &[
        "",
        "v1.0.0",
        "1.0.0.0.0",
        "1..0",
        "1.0.",
        ".1",
        "1.0.0-",
        "1.0.0+",
        "1.0.0-01",
        "1.0.0-alpha..1",
        "1.0.0-alpha_1",
        "1.0.0+meta..1",
        "1.0.0+meta_1",
        "1.a.0",
        "-1.0.0",
        "2147483648.0.0",
        "1.0.0-é",
        "1.0 .0",
    ];

    #[test]
    fn ordering_table_follows_nuget_rules() {
        for (a, b) in LESS {
            assert_eq!(compare(a, b), Ok(Ordering::Less), "{a} < {b}");
            assert_eq!(compare(b, a), Ok(Ordering::Greater), "{b} > {a}");
            assert_eq!(parse(a).unwrap().cmp(&parse(b).unwrap()), Ordering::Less, "{a} < {b}");
        }
        for (a, b) in EQUAL {
            assert_eq!(compare(a, b), Ok(Ordering::Equal), "{a} == {b}");
            assert_eq!(compare(b, a), Ok(Ordering::Equal), "{b} == {a}");
            assert_eq!(parse(a).unwrap(), parse(b).unwrap(), "{a} == {b}");
        }
    }

    #[test]
    fn invalid_versions_are_errors() {
        for v in INVALID {
            let err = parse(v).expect_err(v);
            assert_eq!(err.scheme, "nuget");
            assert_eq!(err.version, *v);
            assert!(compare("1.0.0", v).is_err(), "{v}");
            assert!(compare(v, "1.0.0").is_err(), "{v}");
        }
    }

    #[test]
    fn equal_versions_hash_alike_and_display_normalized() {
        use std::collections::HashSet;
        let set: HashSet<Version> = ["1.0.0-RC.1+a", "1.0.0.0-rc.1", "1.0-Rc.1"]
            .iter()
            .map(|v| parse(v).unwrap())
            .collect();
        assert_eq!(set.len(), 1);
        assert_eq!(parse("1.0-Rc.1+meta").unwrap().to_string(), "1.0.0-Rc.1");
        assert_eq!(parse("1.2.3.4").unwrap().to_string(), "1.2.3.4");
    }
}
