//! RPM version ordering: `rpmvercmp` of rpm 4.15 and later (with `~` and `^`), applied to
//! `[epoch:]version[-release]` strings the way rpm splits them (`parseEVR`) and orders the parts
//! (`rpm.labelCompare`).
//!
//! The epoch is the run of leading digits when a colon follows it; a missing epoch is `0`. The
//! release is everything after the last hyphen. A missing release sorts before any present
//! release, as `labelCompare` orders a `None` release; this keeps the order total (rpm's
//! dependency matching instead ignores the release when one side lacks it, which is not an
//! order). rpm itself accepts any string; here the empty string, an empty version part and
//! strings holding a nul byte (which rpm would silently cut short) are errors.

use std::cmp::Ordering;

use super::VersionError;

const SCHEME: &str = "rpm";

/// A parsed EVR borrowing the string it came from.
#[derive(Debug, Clone, Copy)]
pub struct Version<'a> {
    /// Decimal digits; empty when the version has no epoch (which counts as `0`).
    pub epoch: &'a str,
    pub version: &'a str,
    pub release: Option<&'a str>,
}

/// Splits an `[epoch:]version[-release]` string.
pub fn parse(s: &str) -> Result<Version<'_>, VersionError> {
    if s.is_empty() {
        return Err(VersionError::new(SCHEME, s, "version string is empty"));
    }
    if s.as_bytes().contains(&0) {
        return Err(VersionError::new(SCHEME, s, "version string contains a nul byte"));
    }
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    let (epoch, rest) = match (s.get(..digits), s.get(digits..)) {
        (Some(e), Some(rest)) if rest.starts_with(':') => (e, rest.get(1..).unwrap_or_default()),
        _ => ("", s),
    };
    let (version, release) = match rest.rsplit_once('-') {
        Some((v, r)) => (v, Some(r)),
        None => (rest, None),
    };
    if version.is_empty() {
        return Err(VersionError::new(SCHEME, s, "version part is empty"));
    }
    Ok(Version {
        epoch,
        version,
        release,
    })
}

/// Compares two EVR strings.
pub fn compare(a: &str, b: &str) -> Result<Ordering, VersionError> {
    Ok(parse(a)?.cmp(&parse(b)?))
}

eq_and_partial_ord_from_ord!(Version<'_>);

impl Ord for Version<'_> {
    fn cmp(&self, other: &Self) -> Ordering {
        let ea = self.epoch.trim_start_matches('0').as_bytes();
        let eb = other.epoch.trim_start_matches('0').as_bytes();
        ea.len()
            .cmp(&eb.len())
            .then_with(|| ea.cmp(eb))
            .then_with(|| rpmvercmp(self.version, other.version))
            .then_with(|| match (self.release, other.release) {
                (Some(ra), Some(rb)) => rpmvercmp(ra, rb),
                (ra, rb) => ra.is_some().cmp(&rb.is_some()),
            })
    }
}

fn is_separator(c: u8) -> bool {
    !c.is_ascii_alphanumeric() && c != b'~' && c != b'^'
}

/// The length of the leading run of `s` whose bytes satisfy `class`.
fn run_len(s: &[u8], class: fn(&u8) -> bool) -> usize {
    s.iter().take_while(|c| class(c)).count()
}

/// rpm's segment comparison of one version or release string.
pub fn rpmvercmp(a: &str, b: &str) -> Ordering {
    let (mut a, mut b) = (a.as_bytes(), b.as_bytes());
    if a == b {
        return Ordering::Equal;
    }
    loop {
        a = a.get(run_len(a, |&c| is_separator(c))..).unwrap_or_default();
        b = b.get(run_len(b, |&c| is_separator(c))..).unwrap_or_default();
        let (ca, cb) = (a.first().copied(), b.first().copied());

        // `~` sorts before everything, even the end of the string.
        if ca == Some(b'~') || cb == Some(b'~') {
            if ca != Some(b'~') {
                return Ordering::Greater;
            }
            if cb != Some(b'~') {
                return Ordering::Less;
            }
            a = a.get(1..).unwrap_or_default();
            b = b.get(1..).unwrap_or_default();
            continue;
        }

        // `^` sorts after the end of the string but before any other continuation.
        if ca == Some(b'^') || cb == Some(b'^') {
            if ca.is_none() {
                return Ordering::Less;
            }
            if cb.is_none() {
                return Ordering::Greater;
            }
            if ca != Some(b'^') {
                return Ordering::Greater;
            }
            if cb != Some(b'^') {
                return Ordering::Less;
            }
            a = a.get(1..).unwrap_or_default();
            b = b.get(1..).unwrap_or_default();
            continue;
        }

        let Some(first) = ca else { break };
        if cb.is_none() {
            break;
        }
        let numeric = first.is_ascii_digit();
        let class: fn(&u8) -> bool = if numeric {
            u8::is_ascii_digit
        } else {
            u8::is_ascii_alphabetic
        };
        let (la, lb) = (run_len(a, class), run_len(b, class));
        let (seg_a, seg_b) = (a.get(..la).unwrap_or_default(), b.get(..lb).unwrap_or_default());
        a = a.get(la..).unwrap_or_default();
        b = b.get(lb..).unwrap_or_default();

        // A numeric segment facing an alphabetic one is newer.
        if seg_b.is_empty() {
            return if numeric { Ordering::Greater } else { Ordering::Less };
        }
        let ord = if numeric {
            let za = run_len(seg_a, |&c| c == b'0');
            let zb = run_len(seg_b, |&c| c == b'0');
            let (na, nb) = (seg_a.get(za..).unwrap_or_default(), seg_b.get(zb..).unwrap_or_default());
            na.len().cmp(&nb.len()).then_with(|| na.cmp(nb))
        } else {
            seg_a.cmp(seg_b)
        };
        if ord != Ordering::Equal {
            return ord;
        }
    }
    // Whoever still has characters left wins; separators alone count as nothing left.
    match (a.is_empty(), b.is_empty()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        _ => Ordering::Greater,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::{Equal, Greater, Less};

    const TABLE: &[(&str, Ordering, &str)] = &[
        ("1.0", Equal, "1.0"),
        ("1.0", Less, "2.0"),
        ("2.0", Greater, "1.0"),
        ("2.0.1", Greater, "2.0"),
        ("2.0.1a", Greater, "2.0.1"),
        ("5.5p1", Less, "5.5p2"),
        ("5.5p10", Greater, "5.5p1"),
        ("10xyz", Less, "10.1xyz"),
        ("xyz10", Less, "xyz10.1"),
        ("xyz.4", Less, "8"),
        ("xyz.4", Less, "2"),
        ("5.5p2", Less, "5.6p1"),
        ("5.6p1", Less, "6.5p1"),
        ("6.0.rc1", Greater, "6.0"),
        ("10b2", Greater, "10a1"),
        ("10a2", Less, "10b2"),
        ("1.0aa", Less, "1.0aaa"),
        ("10.0001", Equal, "10.1"),
        ("10.0001", Less, "10.0039"),
        ("4.999.9", Less, "5.0"),
        ("20101121", Less, "20101121.0"),
        ("1.0", Equal, "1_0"),
        ("1.0", Equal, "1..0"),
        ("1+a", Equal, "1_a"),
        ("a", Less, "1"),
        ("A", Less, "a"),
        ("1.0~rc1", Less, "1.0"),
        ("1.0~rc1", Less, "1.0~rc2"),
        ("1.0~rc1~git123", Less, "1.0~rc1"),
        ("1.0~", Less, "1.0"),
        ("~", Greater, "~~"),
        ("1.0^", Greater, "1.0"),
        ("1.0^git1", Greater, "1.0"),
        ("1.0^git1", Less, "1.01"),
        ("1.0^20160101", Less, "1.0.1"),
        ("1.0^20160101^git1", Greater, "1.0^20160101"),
        ("1.0^20160102", Greater, "1.0^20160101^git1"),
        ("1.0~rc1^git1", Less, "1.0~rc1^git2"),
        ("1.0~rc1^git1", Greater, "1.0~rc1"),
        ("1.0^git1~pre", Less, "1.0^git1"),
        ("1.0^git1", Less, "1.0.0"),
        ("1.0^", Less, "1.0a"),
        ("1.0~", Less, "1.0^"),
        ("1.999999999999999999999999", Less, "1.1000000000000000000000000"),
        ("1.000000000000000000000000000000000007", Equal, "1.7"),
        ("0:1.0", Equal, "1.0"),
        ("1:1.0", Greater, "2.0"),
        ("1:1.0", Greater, "0:9.9"),
        ("10:1", Greater, "9:1"),
        ("0010:1", Equal, "10:1"),
        ("100000000000000000000000:1", Greater, "99999999999999999999999:1"),
        (":1.0", Equal, "0:1.0"),
        ("1.0-1", Less, "1.0-2"),
        ("1.0-1.el8", Less, "1.0-1.el8_1"),
        ("1.0-1.el8_9", Less, "1.0-1.el8_10"),
        ("1.0-1.el9", Greater, "1.0-1.el8"),
        ("1.0", Less, "1.0-0"),
        ("1.0-", Less, "1.0-0"),
        ("1.0", Less, "1.0-"),
        ("1.0-10", Greater, "1.0-9"),
        ("2.1.0-1.fc39", Less, "2.1.0-1.fc40"),
        ("1.2-3-4", Greater, "1.2-4"),
        ("a:1", Less, "1"),
        ("1:2:3", Greater, "1:2"),
        ("3.0.7-16.el9_2", Less, "3.0.7-18.el9_2"),
        ("1.1.1k-7.el8_6", Greater, "1.1.1k-6.el8_5"),
        ("1.1.1g", Less, "1.1.1k"),
        ("2.02-148.el8", Greater, "2.02-99.el8"),
        ("4.18.0-477.10.1.el8_8", Greater, "4.18.0-477.el8"),
        ("9.18.0", Less, "9.18.0-"),
    ];

    #[test]
    fn ordering_table_follows_rpmvercmp() {
        for &(a, want, b) in TABLE {
            assert_eq!(compare(a, b), Ok(want), "{a} vs {b}");
            assert_eq!(compare(b, a), Ok(want.reverse()), "{b} vs {a}");
        }
    }

    #[test]
    fn parse_splits_leading_digit_epoch_and_last_hyphen_release() {
        let v = parse("2:1.0-rc-3.el9").unwrap();
        assert_eq!((v.epoch, v.version, v.release), ("2", "1.0-rc", Some("3.el9")));
        let v = parse("x1:2").unwrap();
        assert_eq!((v.epoch, v.version, v.release), ("", "x1:2", None));
        let v = parse(":5-").unwrap();
        assert_eq!((v.epoch, v.version, v.release), ("", "5", Some("")));
    }

    #[test]
    fn empty_versions_and_nul_bytes_are_errors() {
        for bad in ["", "1:", "-1", "1:-1", "1.0\0-1"] {
            assert!(parse(bad).is_err(), "{bad:?} should be rejected");
            assert!(compare(bad, "1").is_err());
        }
    }

    #[test]
    fn parsed_versions_sort_like_compare() {
        let mut vs: Vec<Version> = ["1.0-1", "1.0^git1-1", "1:0.1-1", "1.0~rc1-1", "0.9-1"]
            .iter()
            .map(|s| parse(s).unwrap())
            .collect();
        vs.sort();
        let got: Vec<&str> = vs.iter().map(|v| v.version).collect();
        assert_eq!(got, ["0.9", "1.0~rc1", "1.0", "1.0^git1", "0.1"]);
    }

    #[test]
    fn hostile_input_does_not_panic() {
        let long = "7".repeat(100_000);
        assert_eq!(compare(&long, &format!("{long}.0")), Ok(Less));
        for s in [
            "~",
            "^",
            "^^~~",
            "-",
            ":",
            "::",
            "0:",
            "é",
            "1é2",
            "\u{10ffff}-\u{feff}",
            "~-~",
        ] {
            let _ = compare(s, "1^");
            let _ = compare(s, s);
        }
    }

    /// rpm's own `labelCompare` (python3-rpm) on each pair, every string split by rpm's own
    /// `rpm.ver`, all in one Python process.
    fn label_compare(pairs: &[(&str, &str)]) -> Vec<Ordering> {
        use std::process::Command;
        let script = "import sys, rpm\n\
            for line in sys.stdin.read().split('\\n')[:-1]:\n\
            \x20   a, b = line.split('\\t')\n\
            \x20   va, vb = rpm.ver(a), rpm.ver(b)\n\
            \x20   print(rpm.labelCompare((va.e, va.v, va.r), (vb.e, vb.v, vb.r)))\n";
        let input: String = pairs.iter().map(|(a, b)| format!("{a}\t{b}\n")).collect();
        // Debian's python3-rpm is importable by the system interpreter only.
        let text = crate::testutil::pipe_through(
            Command::new("/usr/bin/python3").args(["-c", script]),
            &input,
            "apt-get install -y python3-rpm",
        );
        let results: Vec<Ordering> = text
            .lines()
            .map(|line| match line {
                "-1" => Less,
                "0" => Equal,
                "1" => Greater,
                other => panic!("unexpected labelCompare output {other:?}"),
            })
            .collect();
        assert_eq!(results.len(), pairs.len());
        results
    }

    #[test]
    fn ordering_table_agrees_with_rpm_label_compare() {
        let pairs: Vec<(&str, &str)> = TABLE.iter().map(|&(a, _, b)| (a, b)).collect();
        for (&(a, want, b), rpm) in TABLE.iter().zip(label_compare(&pairs)) {
            assert_eq!(rpm, want, "rpm disagrees with the table on {a} vs {b}");
        }
    }

    use crate::version::testutil::generated_pairs;

    /// Generated versions get the same ordering from rpm and from this module (versions this
    /// module rejects for an empty version part are left out; rpm has no notion of invalid).
    #[test]
    fn generated_versions_agree_with_rpm_label_compare() {
        let pieces = [
            "0", "1", "2", "00", "9", ".", "-", "~", "^", "_", "a", "b", "Z", ":", "1",
        ];
        let pairs = generated_pairs(&pieces, 8, 3000, |s| parse(s).is_ok());
        let borrowed: Vec<(&str, &str)> = pairs.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        for ((a, b), rpm) in borrowed.iter().zip(label_compare(&borrowed)) {
            assert_eq!(compare(a, b), Ok(rpm), "{a:?} vs {b:?}");
        }
    }
}
