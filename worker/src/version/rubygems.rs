//! RubyGems version ordering (`Gem::Version#<=>`). A version is split into numeric and letter
//! segments (on `.` and at every letter/digit boundary, with `-` read as `.pre.` the way RubyGems
//! rewrites it); any letter makes it a prerelease, which sorts before the release. Trailing zero
//! segments do not count, neither at the end of the leading numeric run nor at the end of the
//! whole version, so `1.0.a == 1.a` and `1.0 == 1`. Where one version is longer the missing
//! segments are zeros; text sorts before any number, numbers compare by value, text bytewise.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::iter::Peekable;

use super::VersionError;

const SCHEME: &str = "rubygems";

/// A parsed gem version; equality and ordering are `Gem::Version`'s.
#[derive(Debug, Clone)]
pub struct Version {
    /// The version without surrounding blanks, already checked against RubyGems' pattern.
    text: Box<str>,
}

impl Version {
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// True when the version has a letter, which is RubyGems' definition of a prerelease.
    pub fn is_prerelease(&self) -> bool {
        self.text.bytes().any(|c| c.is_ascii_alphabetic() || c == b'-')
    }
}

eq_and_partial_ord_from_ord!(Version);

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        compare_checked(&self.text, &other.text)
    }
}

impl Hash for Version {
    // Hashes the canonical segments so that `1.0.a` and `1.a` hash alike, as they compare equal.
    fn hash<H: Hasher>(&self, state: &mut H) {
        let mut pending_zeros = 0usize;
        let mut seen_text = false;
        for seg in Segments::new(&self.text) {
            match seg {
                Segment::Num("") => pending_zeros += 1,
                Segment::Num(n) => {
                    for _ in 0..pending_zeros {
                        0u8.hash(state);
                    }
                    pending_zeros = 0;
                    1u8.hash(state);
                    n.hash(state);
                }
                Segment::Text(t) => {
                    // Zeros just before the first text segment end the numeric run: they vanish.
                    if seen_text {
                        for _ in 0..pending_zeros {
                            0u8.hash(state);
                        }
                    }
                    pending_zeros = 0;
                    seen_text = true;
                    2u8.hash(state);
                    t.hash(state);
                }
            }
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Segment<'a> {
    /// Digits without leading zeros (empty for zero).
    Num(&'a str),
    Text(&'a str),
}

/// The segments of a version that passed `check`.
struct Segments<'a> {
    rest: &'a [u8],
    text: &'a str,
    pos: usize,
}

impl<'a> Segments<'a> {
    fn new(text: &'a str) -> Self {
        Segments {
            rest: text.as_bytes(),
            text,
            pos: 0,
        }
    }
}

impl<'a> Iterator for Segments<'a> {
    type Item = Segment<'a>;

    fn next(&mut self) -> Option<Segment<'a>> {
        loop {
            let c = *self.rest.get(self.pos)?;
            if c == b'-' {
                // RubyGems rewrites every `-` to `.pre.`.
                self.pos += 1;
                return Some(Segment::Text("pre"));
            }
            if c == b'.' {
                self.pos += 1;
                continue;
            }
            let start = self.pos;
            let digit = c.is_ascii_digit();
            while let Some(&d) = self.rest.get(self.pos) {
                if d.is_ascii_digit() != digit || !d.is_ascii_alphanumeric() {
                    break;
                }
                self.pos += 1;
            }
            let run = self.text.get(start..self.pos)?;
            return Some(if digit {
                Segment::Num(run.trim_start_matches('0'))
            } else {
                Segment::Text(run)
            });
        }
    }
}

/// Checks RubyGems' version pattern
/// `[0-9]+(\.[0-9a-zA-Z]+)*(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?` and strips the blanks it allows.
fn check(s: &str) -> Result<&str, String> {
    let t = s.trim_matches(|c: char| matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0b' | '\x0c'));
    match t.bytes().next() {
        None => return Err("empty version".into()),
        Some(c) if !c.is_ascii_digit() => return Err("does not start with a digit".into()),
        Some(_) => {}
    }
    let (main, pre) = match t.split_once('-') {
        Some((main, pre)) => (main, Some(pre)),
        None => (t, None),
    };
    let mut parts = main.split('.');
    if !parts
        .next()
        .is_some_and(|first| first.bytes().all(|c| c.is_ascii_digit()))
    {
        return Err("first segment is not a number".into());
    }
    for part in parts {
        if part.is_empty() || !part.bytes().all(|c| c.is_ascii_alphanumeric()) {
            return Err(format!("segment {part:?} is empty or not alphanumeric"));
        }
    }
    if let Some(pre) = pre {
        for part in pre.split('.') {
            if part.is_empty() || !part.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-') {
                return Err(format!(
                    "prerelease segment {part:?} is empty or has characters other than [0-9A-Za-z-]"
                ));
            }
        }
    }
    Ok(t)
}

fn compare_numbers(a: &str, b: &str) -> Ordering {
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

fn next_number<'a, I: Iterator<Item = Segment<'a>>>(it: &mut Peekable<I>) -> Option<&'a str> {
    match it.peek() {
        Some(&Segment::Num(n)) => {
            it.next();
            Some(n)
        }
        _ => None,
    }
}

/// Compares two versions that passed `check`, without allocating.
fn compare_checked(a: &str, b: &str) -> Ordering {
    let mut x = Segments::new(a).peekable();
    let mut y = Segments::new(b).peekable();
    // The leading numeric runs, zero-padded: dropping their trailing zeros and padding the
    // shorter side with zeros give the same answer as RubyGems' canonical segments.
    loop {
        match (next_number(&mut x), next_number(&mut y)) {
            (None, None) => break,
            (l, r) => match compare_numbers(l.unwrap_or(""), r.unwrap_or("")) {
                Ordering::Equal => {}
                other => return other,
            },
        }
    }
    // From the first text segment on, missing segments count as zero as well.
    loop {
        let (l, r) = match (x.next(), y.next()) {
            (None, None) => return Ordering::Equal,
            (l, r) => (l.unwrap_or(Segment::Num("")), r.unwrap_or(Segment::Num(""))),
        };
        let ord = match (l, r) {
            (Segment::Num(p), Segment::Num(q)) => compare_numbers(p, q),
            (Segment::Text(_), Segment::Num(_)) => Ordering::Less,
            (Segment::Num(_), Segment::Text(_)) => Ordering::Greater,
            (Segment::Text(p), Segment::Text(q)) => p.cmp(q),
        };
        if ord != Ordering::Equal {
            return ord;
        }
    }
}

/// Parses a gem version. Unlike RubyGems, an empty version is an error rather than `0`.
pub fn parse(s: &str) -> Result<Version, VersionError> {
    let t = check(s).map_err(|reason| VersionError::new(SCHEME, s, reason))?;
    Ok(Version { text: t.into() })
}

/// Compares two gem versions.
pub fn compare(a: &str, b: &str) -> Result<Ordering, VersionError> {
    let x = check(a).map_err(|reason| VersionError::new(SCHEME, a, reason))?;
    let y = check(b).map_err(|reason| VersionError::new(SCHEME, b, reason))?;
    Ok(compare_checked(x, y))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    const LESS: &[(&str, &str)] = &[
        ("1.0", "1.0.1"),
        ("1.0.9", "1.0.10"),
        ("1.9", "1.10"),
        ("0.9.9", "1"),
        ("1.0.0.0.1", "1.1"),
        ("1.0.a", "1.0"),
        ("1.0.a", "1.0.0"),
        ("1.0.0.a", "1.0"),
        ("1.0.a", "1.0.b"),
        ("1.0.a1", "1.0.a2"),
        ("1.0.a2", "1.0.a10"),
        ("1.0.a", "1.0.a1"),
        ("1.0.alpha", "1.0.beta"),
        ("1.0.beta", "1.0.rc1"),
        ("1.0.rc1", "1.0"),
        ("1.0.0.rc1", "1.0.0"),
        ("1.0.0.pre", "1.0.0.rc"),
        ("1.0.0-rc1", "1.0.0.rc1"),
        ("1.0.0-rc1", "1.0.0"),
        ("1.0.0-1", "1.0.0"),
        ("1.0.0-beta", "1.0.0.pre.beta.1"),
        ("1.0.A", "1.0.a"),
        ("1.0.Z", "1.0.a"),
        ("1.0.rc", "1.0.rc.0.1"),
        ("1.a", "1.0.1"),
        ("1.0b1", "1.0"),
        ("1.0b1", "1.0b2"),
        ("1.0b", "1.0c"),
        ("2.0.0.rc1", "2.0.0.rc10"),
        ("2.0.0.rc9", "2.0.0.rc10"),
        ("1.2.3.beta.a", "1.2.3.beta.1"),
        ("1.2.3.a.b", "1.2.3.a.1"),
        ("1.2.3.a", "1.2.3.a.0.1"),
        ("1.0.0.pre1", "1.0.0.pre10"),
        ("0.0.1", "0.0.1.1"),
        ("99999999999999999999", "100000000000000000000"),
        ("1.00009", "1.10"),
        ("3.2.22.5", "4.0.0.beta1"),
        ("4.2.11.3", "5.0.0.racecar1"),
        ("5.2.4.rc1", "5.2.4"),
        ("6.1.7.3", "6.1.7.10"),
        ("7.0.0.alpha2", "7.0.0.rc1"),
    ];

    const EQUAL: &[(&str, &str)] = &[
        ("1", "1.0"),
        ("1.0", "1.0.0.0"),
        ("1.0.a", "1.a"),
        ("1.0.0.a", "1.a"),
        ("1.a.0", "1.a"),
        ("1.a.0.0", "1.0.a"),
        ("1.0b1", "1.0.b.1"),
        ("1.0b1", "1.0.b1"),
        ("1.0.0-rc1", "1.0.0.pre.rc1"),
        ("1.01", "1.1"),
        ("01.1", "1.1"),
        (" 1.2.3 ", "1.2.3"),
        ("\t1.2.3\n", "1.2.3"),
        ("1.0.rc1", "1.rc.1"),
    ];

    const INVALID: &[&str] = &[
        "",
        "   ",
        "a",
        "a1.0",
        "1a",
        "v1.0",
        ".1",
        "1.",
        "1..0",
        "1.0-",
        "1.0 1",
        "1.0_1",
        "1.0+build",
        "1.0.a..b",
        "1.0-a..b",
        "1.0-a_b",
        "1.0.é",
        "-1",
        "1,0",
    ];

    #[test]
    fn ordering_table_follows_gem_version() {
        for (a, b) in LESS {
            assert_eq!(compare(a, b), Ok(Ordering::Less), "{a} < {b}");
            assert_eq!(compare(b, a), Ok(Ordering::Greater), "{b} > {a}");
            assert_eq!(parse(a).unwrap().cmp(&parse(b).unwrap()), Ordering::Less, "{a} < {b}");
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
            assert_eq!(err.scheme, "rubygems");
            assert_eq!(err.version, *v);
            assert!(compare("1.0", v).is_err(), "{v}");
        }
    }

    #[test]
    fn equal_versions_hash_alike() {
        use std::collections::HashSet;
        for (a, b) in EQUAL {
            let set: HashSet<Version> = [parse(a).unwrap(), parse(b).unwrap()].into_iter().collect();
            assert_eq!(set.len(), 1, "{a} and {b}");
        }
        let set: HashSet<Version> = ["1.0", "1.0.1", "1.a", "1.b", "1.0.a.1"]
            .iter()
            .map(|v| parse(v).unwrap())
            .collect();
        assert_eq!(set.len(), 5);
    }

    #[test]
    fn prerelease_means_any_letter() {
        assert!(parse("1.0.0.rc1").unwrap().is_prerelease());
        assert!(parse("1.0.0-1").unwrap().is_prerelease());
        assert!(!parse("1.0.0").unwrap().is_prerelease());
        assert_eq!(parse(" 1.2 ").unwrap().as_str(), "1.2");
    }

    /// Asks Ruby's own `Gem::Version` (`apt-get install -y ruby`) about validity and every pair
    /// of the table's versions, in one `ruby` process.
    #[test]
    fn ruby_gem_version_agrees_on_every_pair() {
        let mut versions: Vec<&str> = Vec::new();
        for (a, b) in LESS.iter().chain(EQUAL) {
            versions.push(a);
            versions.push(b);
        }
        // RubyGems reads a blank version as 0 where we refuse it; newlines would split the input.
        versions.extend(INVALID.iter().filter(|v| !v.trim().is_empty()));
        versions.retain(|v| !v.contains('\n'));
        versions.sort();
        versions.dedup();

        let script = r#"
vs = STDIN.read.split("\n", -1)[0...-1]
good = vs.select { |v| Gem::Version.correct?(v) }.map { |v| Gem::Version.new(v) }
vs.each do |v|
  if Gem::Version.correct?(v)
    a = Gem::Version.new(v)
    puts good.map { |b| a <=> b }.join(",")
  else
    puts "invalid"
  end
end
"#;
        let input = versions.join(
            "
",
        ) + "
";
        let text = crate::testutil::pipe_through(
            Command::new("ruby").args(["-e", script]),
            &input,
            "apt-get install -y ruby",
        );

        let valid: Vec<&str> = versions.iter().copied().filter(|v| parse(v).is_ok()).collect();
        let mut lines = text.lines();
        for a in &versions {
            let row = lines.next().expect("one line per version");
            if row == "invalid" {
                assert!(parse(a).is_err(), "RubyGems rejects {a:?}, we accept it");
                continue;
            }
            assert!(parse(a).is_ok(), "RubyGems accepts {a:?}, we reject it");
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
