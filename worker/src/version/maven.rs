//! Maven version ordering: `ComparableVersion` of maven-artifact 3.8 (the version Debian ships
//! and the tests cross-check against).
//!
//! A version is lowercased and cut into items at `.`, at `-` and at every digit/letter
//! transition. Numbers compare as numbers; qualifiers rank `alpha` (`a`) < `beta` (`b`) <
//! `milestone` (`m`) < `rc` (`cr`) < `snapshot` < release (`""`, `ga`, `final`, `release`) < `sp`,
//! with unknown qualifiers after those, lexically. `-` and a digit/letter transition open a
//! nested list, and a trailing qualifier after a dot is treated as if a hyphen preceded it.
//! Trailing zeros, release qualifiers and empty lists are dropped at the end of every list.
//!
//! Faithful oddities kept on purpose: numbers are typed by digit count as Java stores them
//! (up to 9 digits `int`, up to 18 `long`, beyond that `BigInteger`) and a longer type always
//! outranks a shorter one, so a run of 10 zeros is "more" than `0` unless it is trimmed.
//!
//! Deviations: `ComparableVersion` accepts any string; here the empty string is an error, and so
//! is any non-ASCII numeric character (Java would treat some as digits and others as letters;
//! this module only knows ASCII digits and refuses rather than guess).

use std::borrow::Cow;
use std::cmp::Ordering;

use super::VersionError;

const SCHEME: &str = "maven";

/// The qualifiers Maven knows, in order; index 5 is the release.
const QUALIFIERS: [&str; 7] = ["alpha", "beta", "milestone", "rc", "snapshot", "", "sp"];
const RELEASE: u8 = 5;

/// One item of the flattened item tree. A list's own items come first; its nested list, which
/// is always its last item, follows after a `Sub` marker.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    /// At most 9 digits after stripping leading zeros (all zeros keep their length).
    Int(u64),
    /// 10 to 18 digits.
    Long(u64),
    /// More than 18 digits; the significant digits (empty for zero).
    Big(Box<[u8]>),
    Known(u8),
    Unknown(Box<str>),
    Sub,
}

impl Tok {
    fn is_null(&self) -> bool {
        match self {
            Tok::Int(n) | Tok::Long(n) => *n == 0,
            Tok::Big(digits) => digits.is_empty(),
            Tok::Known(q) => *q == RELEASE,
            Tok::Unknown(_) => false,
            Tok::Sub => false,
        }
    }

    fn is_number(&self) -> bool {
        matches!(self, Tok::Int(_) | Tok::Long(_) | Tok::Big(_))
    }
}

/// A parsed Maven version.
#[derive(Debug, Clone)]
pub struct Version {
    items: Vec<Tok>,
}

/// Parses a Maven version.
pub fn parse(s: &str) -> Result<Version, VersionError> {
    if s.is_empty() {
        return Err(VersionError::new(SCHEME, s, "version string is empty"));
    }
    if s.chars().any(|c| !c.is_ascii() && c.is_numeric()) {
        return Err(VersionError::new(SCHEME, s, "non-ascii digits are not supported"));
    }
    let lower: Cow<str> = if s.bytes().any(|b| b.is_ascii_uppercase() || !b.is_ascii()) {
        Cow::Owned(s.to_lowercase())
    } else {
        s.into()
    };
    let mut parser = Parser {
        toks: Vec::new(),
        list_len: 0,
    };
    parser.run(&lower);
    let mut items = parser.toks;
    normalize(&mut items);
    Ok(Version { items })
}

/// Compares two Maven versions.
pub fn compare(a: &str, b: &str) -> Result<Ordering, VersionError> {
    Ok(parse(a)?.cmp(&parse(b)?))
}

struct Parser {
    toks: Vec<Tok>,
    /// Items in the list being filled (the one after the last `Sub`).
    list_len: usize,
}

impl Parser {
    fn push(&mut self, tok: Tok) {
        self.toks.push(tok);
        self.list_len += 1;
    }

    fn open_list(&mut self) {
        self.toks.push(Tok::Sub);
        self.list_len = 0;
    }

    fn push_item(&mut self, digits: bool, text: &str) {
        let tok = if digits { number(text) } else { qualifier(text, false) };
        self.push(tok);
    }

    fn run(&mut self, s: &str) {
        let mut start = 0usize;
        let mut digits = false;
        for (i, c) in s.char_indices() {
            let text = s.get(start..i).unwrap_or_default();
            match c {
                '.' | '-' => {
                    if text.is_empty() {
                        self.push(Tok::Int(0));
                    } else {
                        self.push_item(digits, text);
                    }
                    start = i + 1;
                    if c == '-' {
                        self.open_list();
                    }
                }
                '0'..='9' => {
                    if !digits && !text.is_empty() {
                        // `1.0.0.X1` ranks like `1.0.0-X1`: a qualifier that is not first in
                        // its list goes into a list of its own.
                        if self.list_len > 0 {
                            self.open_list();
                        }
                        self.push(qualifier(text, true));
                        start = i;
                        self.open_list();
                    }
                    digits = true;
                }
                _ => {
                    if digits && !text.is_empty() {
                        self.push(number(text));
                        start = i;
                        self.open_list();
                    }
                    digits = false;
                }
            }
        }
        let text = s.get(start..).unwrap_or_default();
        if !text.is_empty() {
            if !digits && self.list_len > 0 {
                self.open_list();
            }
            self.push_item(digits, text);
        }
    }
}

fn number(digits: &str) -> Tok {
    let significant = digits.trim_start_matches('0');
    // Java strips leading zeros only when a non-zero digit follows, so the type of an all-zero
    // run depends on its full length.
    let typed_len = if significant.is_empty() {
        digits.len()
    } else {
        significant.len()
    };
    if typed_len <= 9 {
        Tok::Int(significant.parse().unwrap_or(0))
    } else if typed_len <= 18 {
        Tok::Long(significant.parse().unwrap_or(0))
    } else {
        Tok::Big(significant.as_bytes().into())
    }
}

fn qualifier(text: &str, followed_by_digit: bool) -> Tok {
    let text = match text {
        "a" if followed_by_digit => "alpha",
        "b" if followed_by_digit => "beta",
        "m" if followed_by_digit => "milestone",
        "ga" | "final" | "release" => "",
        "cr" => "rc",
        other => other,
    };
    match QUALIFIERS.iter().position(|q| *q == text) {
        Some(i) => Tok::Known(i as u8),
        None => Tok::Unknown(text.into()),
    }
}

/// Drops trailing null items from every list (innermost first) and lists left empty.
fn normalize(toks: &mut Vec<Tok>) {
    // The deepest list that keeps a non-null item; every deeper list ends up empty and goes.
    let mut depth = 0usize;
    let mut keep_depth = 0usize;
    for t in toks.iter() {
        match t {
            Tok::Sub => depth += 1,
            t if !t.is_null() => keep_depth = depth,
            _ => {}
        }
    }
    let mut write = 0usize;
    let mut pending_nulls = 0usize;
    depth = 0;
    for read in 0..toks.len() {
        let is_sub = toks.get(read) == Some(&Tok::Sub);
        if is_sub {
            write = write.saturating_sub(pending_nulls);
            pending_nulls = 0;
            depth += 1;
            if depth > keep_depth {
                break;
            }
        } else if toks.get(read).is_some_and(Tok::is_null) {
            pending_nulls += 1;
        } else {
            pending_nulls = 0;
        }
        toks.swap(write, read);
        write += 1;
    }
    if depth <= keep_depth {
        write = write.saturating_sub(pending_nulls);
    }
    toks.truncate(write);
}

/// One element of a list: an item, or the nested list that ends it.
enum Elem<'a> {
    Item(&'a Tok),
    List(&'a [Tok]),
}

fn elem(list: &[Tok], i: usize) -> Option<Elem<'_>> {
    match list.get(i)? {
        Tok::Sub => Some(Elem::List(list.get(i + 1..).unwrap_or_default())),
        t => Some(Elem::Item(t)),
    }
}

fn number_rank(t: &Tok) -> u8 {
    match t {
        Tok::Int(_) => 0,
        Tok::Long(_) => 1,
        _ => 2,
    }
}

fn utf16_cmp(a: &str, b: &str) -> Ordering {
    a.encode_utf16().cmp(b.encode_utf16())
}

fn item_cmp(a: &Tok, b: &Tok) -> Ordering {
    match (a, b) {
        (Tok::Int(x), Tok::Int(y)) | (Tok::Long(x), Tok::Long(y)) => x.cmp(y),
        (Tok::Big(x), Tok::Big(y)) => x.len().cmp(&y.len()).then_with(|| x.cmp(y)),
        (x, y) if x.is_number() && y.is_number() => number_rank(x).cmp(&number_rank(y)),
        (x, _) if x.is_number() => Ordering::Greater,
        (_, y) if y.is_number() => Ordering::Less,
        (Tok::Known(x), Tok::Known(y)) => x.cmp(y),
        (Tok::Known(_), _) => Ordering::Less,
        (_, Tok::Known(_)) => Ordering::Greater,
        (Tok::Unknown(x), Tok::Unknown(y)) => utf16_cmp(x, y),
        _ => Ordering::Equal,
    }
}

/// An item against a missing one (the other list is shorter).
fn item_vs_nothing(a: &Tok) -> Ordering {
    match a {
        Tok::Known(q) => q.cmp(&RELEASE),
        Tok::Unknown(_) => Ordering::Greater,
        t if t.is_null() => Ordering::Equal,
        _ => Ordering::Greater,
    }
}

/// A whole list against a missing item: its first item that is not null decides.
fn list_vs_nothing(mut list: &[Tok]) -> Ordering {
    let mut i = 0usize;
    loop {
        match elem(list, i) {
            None => return Ordering::Equal,
            Some(Elem::List(inner)) => {
                list = inner;
                i = 0;
            }
            Some(Elem::Item(t)) => {
                let ord = item_vs_nothing(t);
                if ord != Ordering::Equal {
                    return ord;
                }
                i += 1;
            }
        }
    }
}

/// Compares two lists element by element; a nested list is always last in both, so descending
/// into it is a loop rather than recursion (hostile versions can nest thousands deep).
fn list_cmp(mut a: &[Tok], mut b: &[Tok]) -> Ordering {
    let mut i = 0usize;
    loop {
        let ord = match (elem(a, i), elem(b, i)) {
            (None, None) => return Ordering::Equal,
            (Some(Elem::List(la)), Some(Elem::List(lb))) => {
                a = la;
                b = lb;
                i = 0;
                continue;
            }
            (Some(Elem::List(la)), None) => return list_vs_nothing(la),
            (None, Some(Elem::List(lb))) => return list_vs_nothing(lb).reverse(),
            (Some(Elem::Item(x)), None) => item_vs_nothing(x),
            (None, Some(Elem::Item(y))) => item_vs_nothing(y).reverse(),
            (Some(Elem::Item(x)), Some(Elem::Item(y))) => item_cmp(x, y),
            // A list ranks below a number and above a qualifier.
            (Some(Elem::List(_)), Some(Elem::Item(y))) => {
                if y.is_number() {
                    Ordering::Less
                } else {
                    Ordering::Greater
                }
            }
            (Some(Elem::Item(x)), Some(Elem::List(_))) => {
                if x.is_number() {
                    Ordering::Greater
                } else {
                    Ordering::Less
                }
            }
        };
        if ord != Ordering::Equal {
            return ord;
        }
        i += 1;
    }
}

eq_and_partial_ord_from_ord!(Version);

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        list_cmp(&self.items, &other.items)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::{Equal, Greater, Less};

    const TABLE: &[(&str, Ordering, &str)] = &[
        ("1", Equal, "1.0"),
        ("1", Equal, "1.0.0"),
        ("1", Equal, "1-0"),
        ("1", Equal, "1.0-0.0"),
        ("1", Equal, "1-ga"),
        ("1", Equal, "1-GA"),
        ("1", Equal, "1.final"),
        ("1", Equal, "1-release"),
        ("1", Equal, "1.0.0-ga-0"),
        ("1", Equal, "1--"),
        ("1", Equal, "1...0"),
        ("1", Less, "1.1"),
        ("1.9", Less, "1.10"),
        ("1.0.1", Greater, "1"),
        ("1-alpha", Less, "1"),
        ("1-a1", Equal, "1-alpha-1"),
        ("1-a1", Equal, "1-alpha1"),
        ("1-a", Greater, "1-alpha"),
        ("1-alpha", Less, "1-beta"),
        ("1-b2", Equal, "1-beta-2"),
        ("1-beta", Less, "1-milestone"),
        ("1-m1", Equal, "1-milestone-1"),
        ("1-milestone", Less, "1-rc"),
        ("1-rc", Equal, "1-cr"),
        ("1-RC1", Equal, "1-cr-1"),
        ("1-rc", Less, "1-snapshot"),
        ("1-SNAPSHOT", Less, "1"),
        ("1", Less, "1-sp"),
        ("1-sp", Less, "1-sp1"),
        ("1-sp", Less, "1-abc"),
        ("1-abc", Less, "1-abd"),
        ("1-abc", Less, "1-xyz"),
        ("1-xyz", Less, "1-1"),
        ("1-1", Less, "1.1"),
        ("1-1", Equal, "1.0-1"),
        ("1-1", Less, "1-2"),
        ("1-1", Greater, "1-sp"),
        ("1.0-alpha-1", Less, "1.0"),
        ("1.0-alpha-1", Less, "1.0-alpha-2"),
        ("1.0-alpha-2", Less, "1.0-alpha-15"),
        ("1.0-alpha-15", Less, "1.0-beta-1"),
        ("1.0-beta-1", Less, "1.0-SNAPSHOT"),
        ("1.0-SNAPSHOT", Less, "1.0"),
        ("1.0", Less, "1.0-1"),
        ("1.0-1", Less, "1.0-2"),
        ("1.0.0", Less, "1.0-1"),
        ("2.0-1", Less, "2.0.1"),
        ("2.0.1-klm", Less, "2.0.1-lmn"),
        ("2.0.1", Less, "2.0.1-xyz"),
        ("2.0.1", Less, "2.0.1-123"),
        ("2.0.1-xyz", Less, "2.0.1-123"),
        ("1.0.0.Alpha1", Equal, "1.0.0-alpha-1"),
        ("1.0.0.Final", Equal, "1.0.0"),
        ("1.1.Final", Greater, "1.1.CR2"),
        ("5.4.2.Final", Greater, "5.4.2.CR1"),
        ("1.2.3.RELEASE", Equal, "1.2.3"),
        ("1.2.3.SR1", Greater, "1.2.3"),
        ("1.2.3.SR1", Less, "1.2.3.SR2"),
        ("2.13.4.2", Greater, "2.13.4"),
        ("2.13.4.1", Less, "2.13.4.2"),
        ("2.13.4", Greater, "2.13.4.rc1"),
        ("1.0.0.alpha", Less, "1.0.0"),
        ("1.a.1", Greater, "1"),
        ("1-ga.1", Greater, "1"),
        ("1-0.alpha", Less, "1"),
        ("1-0.sp", Greater, "1-sp"),
        ("1ga", Equal, "1"),
        ("1-ga-1", Greater, "1.sp1"),
        ("1-1.foo-bar1baz-.1", Greater, "1-1.foo-bar1baz"),
        ("1.0.0.00000000000000000000.1", Greater, "1.0.0.0.1"),
        ("1.0000000000.1", Greater, "1.0.1"),
        ("1.000000000.1", Equal, "1.0.1"),
        ("00000000000000000000", Equal, "0"),
        ("1.123456789", Less, "1.1234567890"),
        ("1.999999999", Less, "1.1000000000"),
        ("1.999999999999999999", Less, "1.1000000000000000000"),
        ("1.99999999999999999999999999", Less, "1.100000000000000000000000000"),
        ("1.0000000000000000000000000000042", Equal, "1.42"),
        ("1.2147483648", Greater, "1.2147483647"),
        ("1.9223372036854775808", Greater, "1.9223372036854775807"),
        ("1-Ä", Greater, "1-z"),
        ("1-\u{e000}", Greater, "1-\u{10000}"),
        ("1.0-jre", Greater, "1.0-android"),
        ("31.1-jre", Greater, "31.0.1-jre"),
        ("2.12.7.1", Greater, "2.12.7"),
        ("9.4.48.v20220622", Greater, "9.4.48"),
        ("9.4.48.v20220622", Less, "9.4.49.v20220914"),
    ];

    #[test]
    fn ordering_table_follows_comparable_version() {
        for &(a, want, b) in TABLE {
            assert_eq!(compare(a, b), Ok(want), "{a} vs {b}");
            assert_eq!(compare(b, a), Ok(want.reverse()), "{b} vs {a}");
        }
    }

    #[test]
    fn items_nest_at_hyphens_and_transitions_and_trailing_nulls_are_trimmed() {
        let v = parse("1-1.foo-bar1baz-.1").unwrap();
        let items = |words: &str| -> Vec<Tok> {
            words
                .split(' ')
                .map(|w| match w {
                    "[" => Tok::Sub,
                    w => match w.parse::<u64>() {
                        Ok(n) => Tok::Int(n),
                        Err(_) => qualifier(w, false),
                    },
                })
                .collect()
        };
        assert_eq!(v.items, items("1 [ 1 foo [ bar [ 1 [ baz [ 0 1"));
        assert_eq!(parse("1.0-final-0").unwrap().items, items("1"));
        assert_eq!(parse("1-ga-1").unwrap().items, items("1 [ [ 1"));
        assert_eq!(
            parse("1.Alpha").unwrap().items,
            vec![Tok::Int(1), Tok::Sub, Tok::Known(0)]
        );
    }

    #[test]
    fn empty_and_non_ascii_digit_versions_are_errors() {
        for bad in ["", "1.\u{0663}", "\u{0661}"] {
            assert!(parse(bad).is_err(), "{bad:?} should be rejected");
            assert!(compare("1", bad).is_err());
        }
    }

    #[test]
    fn parsed_versions_sort_like_compare() {
        let inputs = [
            "1.0",
            "1.0-SNAPSHOT",
            "1.0-sp1",
            "1.0-alpha1",
            "0.9",
            "1.0-rc1",
            "1.0.1",
            "1.0-beta",
        ];
        let mut vs: Vec<(Version, &str)> = inputs.iter().map(|s| (parse(s).unwrap(), *s)).collect();
        vs.sort_by(|x, y| x.0.cmp(&y.0));
        let got: Vec<&str> = vs.iter().map(|v| v.1).collect();
        assert_eq!(
            got,
            [
                "0.9",
                "1.0-alpha1",
                "1.0-beta",
                "1.0-rc1",
                "1.0-SNAPSHOT",
                "1.0",
                "1.0-sp1",
                "1.0.1"
            ]
        );
    }

    #[test]
    fn hostile_input_does_not_panic_or_overflow_the_stack() {
        let deep = "1-".repeat(200_000);
        let deeper = format!("{deep}1-2");
        assert_eq!(compare(&deep, &deeper), Ok(Less));
        let transitions = "a1".repeat(100_000);
        assert_eq!(compare(&transitions, &transitions), Ok(Equal));
        let long = "9".repeat(100_000);
        assert_eq!(compare(&long, &format!("{long}9")), Ok(Less));
        for s in ["-", ".", "--", "..", "-.-", "\u{10ffff}", "İ", "ß1", "\u{0}"] {
            let _ = compare(s, "1");
            let _ = compare(s, s);
        }
    }

    /// maven-artifact's own `ComparableVersion` main class on each pair, in one JVM: it compares
    /// each argument with the next, so pairs go in as `a1 b1 a2 b2 ...` and every second
    /// comparison line is one of ours.
    fn comparable_version(pairs: &[(&str, &str)]) -> Vec<Ordering> {
        use std::process::Command;
        let jar = "/usr/share/maven/lib/maven-artifact-3.x.jar";
        assert!(
            std::path::Path::new(jar).exists(),
            "{jar} must be installed (Debian package maven)"
        );
        let mut cmd = Command::new("java");
        cmd.args(["-cp", jar, "org.apache.maven.artifact.versioning.ComparableVersion"]);
        for (a, b) in pairs {
            cmd.args([a, b]);
        }
        let out = cmd.output().expect("java must be installed for this test");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let stdout = String::from_utf8(out.stdout).unwrap();
        let lines: Vec<&str> = stdout.lines().filter(|l| l.starts_with("   ")).collect();
        assert_eq!(lines.len(), pairs.len() * 2 - 1, "{stdout}");
        pairs
            .iter()
            .zip(lines.iter().step_by(2))
            .map(|((a, b), line)| {
                if *line == format!("   {a} < {b}") {
                    Less
                } else if *line == format!("   {a} > {b}") {
                    Greater
                } else if *line == format!("   {a} == {b}") {
                    Equal
                } else {
                    panic!("unexpected ComparableVersion output {line:?} for {a} vs {b}")
                }
            })
            .collect()
    }

    #[test]
    fn ordering_table_agrees_with_maven_comparable_version() {
        let pairs: Vec<(&str, &str)> = TABLE.iter().map(|&(a, _, b)| (a, b)).collect();
        for (&(a, want, b), maven) in TABLE.iter().zip(comparable_version(&pairs)) {
            assert_eq!(maven, want, "maven disagrees with the table on {a} vs {b}");
        }
    }

    use crate::version::testutil::generated_pairs;

    /// Generated versions get the same ordering from `ComparableVersion` and from this module.
    #[test]
    fn generated_versions_agree_with_maven_comparable_version() {
        let pieces = [
            "0",
            "1",
            "2",
            "00",
            "9",
            ".",
            "-",
            "a",
            "b",
            "m",
            "rc",
            "cr",
            "ga",
            "final",
            "sp",
            "snapshot",
            "x",
            "A",
            "1",
            ".",
            "-",
            "0000000000",
        ];
        let pairs = generated_pairs(&pieces, 7, 2000, |_| true);
        let borrowed: Vec<(&str, &str)> = pairs.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        for ((a, b), maven) in borrowed.iter().zip(comparable_version(&borrowed)) {
            assert_eq!(compare(a, b), Ok(maven), "{a:?} vs {b:?}");
        }
    }
}
