//! Debian version ordering (`[epoch:]upstream[-revision]`), as Debian policy §5.6.12 defines it
//! and as `dpkg --compare-versions` (dpkg 1.21) applies it.
//!
//! Validity follows `dpkg --compare-versions`: what dpkg rejects with an error is an error here
//! (empty string, empty / non-numeric / negative / too large epoch, nothing after the colon,
//! empty revision after a trailing hyphen, empty upstream part, embedded blanks); what dpkg only
//! warns about and then compares anyway (upstream not starting with a digit, characters outside
//! the policy set) is accepted and compared the way dpkg compares it. Real status files do carry
//! such versions, and refusing them would hide the package from matching. Bytes above 0x7f sort
//! as dpkg on amd64 sorts them (after letters, before ASCII punctuation).

use std::cmp::Ordering;

use super::VersionError;

const SCHEME: &str = "dpkg";

/// A parsed Debian version borrowing the string it came from.
#[derive(Debug, Clone, Copy)]
pub struct Version<'a> {
    pub epoch: u32,
    pub upstream: &'a str,
    /// Empty when the version has no revision; dpkg treats that the same as an empty revision.
    pub revision: &'a str,
}

/// Parses a Debian version.
pub fn parse(s: &str) -> Result<Version<'_>, VersionError> {
    let err = |reason: &str| Err(VersionError::new(SCHEME, s, reason));
    // dpkg trims blanks (space and tab only) on both ends.
    let v = s.trim_matches(|c| c == ' ' || c == '\t');
    if v.is_empty() {
        return err("version string is empty");
    }
    if v.bytes().any(|b| b == b' ' || b == b'\t') {
        return err("version string has embedded spaces");
    }
    if v.bytes().any(|b| b == 0) {
        return err("version string contains a nul byte");
    }
    let (epoch, rest) = match v.split_once(':') {
        Some((e, rest)) => {
            let epoch = parse_epoch(e).map_err(|reason| VersionError::new(SCHEME, s, reason))?;
            if rest.is_empty() {
                return err("nothing after colon in version number");
            }
            (epoch, rest)
        }
        None => (0, v),
    };
    let (upstream, revision) = match rest.rsplit_once('-') {
        Some((_, "")) => return err("revision number is empty"),
        Some((u, r)) => (u, r),
        None => (rest, ""),
    };
    if upstream.is_empty() {
        return err("version number is empty");
    }
    Ok(Version {
        epoch,
        upstream,
        revision,
    })
}

/// The epoch as C `strtol` reads it (optional sign, leading zeros allowed), limited to `INT_MAX`.
fn parse_epoch(e: &str) -> Result<u32, &'static str> {
    let (negative, digits) = match e.as_bytes().first() {
        Some(b'-') => (true, e.get(1..).unwrap_or_default()),
        Some(b'+') => (false, e.get(1..).unwrap_or_default()),
        _ => (false, e),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        // strtol stopping at the first byte means no number at all; stopping later, a bad number.
        return Err(if digits.bytes().next().is_some_and(|b| b.is_ascii_digit()) {
            "epoch in version is not number"
        } else {
            "epoch in version is empty"
        });
    }
    let significant = digits.trim_start_matches('0');
    if significant.is_empty() {
        return Ok(0);
    }
    if negative {
        return Err("epoch in version is negative");
    }
    match significant.parse::<u32>() {
        Ok(n) if n <= i32::MAX as u32 => Ok(n),
        _ => Err("epoch in version is too big"),
    }
}

/// Compares two Debian versions.
pub fn compare(a: &str, b: &str) -> Result<Ordering, VersionError> {
    Ok(parse(a)?.cmp(&parse(b)?))
}

eq_and_partial_ord_from_ord!(Version<'_>);

impl Ord for Version<'_> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.epoch
            .cmp(&other.epoch)
            .then_with(|| compare_part(self.upstream.as_bytes(), other.upstream.as_bytes()))
            .then_with(|| compare_part(self.revision.as_bytes(), other.revision.as_bytes()))
    }
}

/// Weight of one byte in the non-digit phase; `None` (end of string) and digits weigh 0 so that
/// `1.0` < `1.0a` but `1.0` > `1.0~`.
fn weight(c: Option<u8>) -> i32 {
    match c {
        None => 0,
        Some(c) if c.is_ascii_digit() => 0,
        Some(c) if c.is_ascii_alphabetic() => i32::from(c),
        Some(b'~') => -1,
        // dpkg reads bytes as signed char on amd64, so bytes >= 0x80 land at 128..=255.
        Some(c) if c >= 0x80 => i32::from(c),
        Some(c) => i32::from(c) + 256,
    }
}

/// The alternating non-digit / digit comparison of Debian policy.
fn compare_part(a: &[u8], b: &[u8]) -> Ordering {
    let (mut i, mut j) = (0usize, 0usize);
    while i < a.len() || j < b.len() {
        loop {
            let ca = a.get(i).copied();
            let cb = b.get(j).copied();
            let a_text = ca.is_some_and(|c| !c.is_ascii_digit());
            let b_text = cb.is_some_and(|c| !c.is_ascii_digit());
            if !a_text && !b_text {
                break;
            }
            let (wa, wb) = (weight(ca), weight(cb));
            if wa != wb {
                return wa.cmp(&wb);
            }
            // Equal weights imply both bytes are present here.
            i += 1;
            j += 1;
        }
        let (na, ni) = digit_run(a, i);
        let (nb, nj) = digit_run(b, j);
        let ord = compare_digits(na, nb);
        if ord != Ordering::Equal {
            return ord;
        }
        i = ni;
        j = nj;
    }
    Ordering::Equal
}

/// The digit run starting at `start` with leading zeros stripped, and the index after it.
fn digit_run(s: &[u8], start: usize) -> (&[u8], usize) {
    let rest = s.get(start..).unwrap_or_default();
    let len = rest.iter().take_while(|c| c.is_ascii_digit()).count();
    let run = rest.get(..len).unwrap_or_default();
    let zeros = run.iter().take_while(|&&c| c == b'0').count();
    (run.get(zeros..).unwrap_or_default(), start + len)
}

/// Numeric comparison of two digit strings without leading zeros, of any length.
fn compare_digits(a: &[u8], b: &[u8]) -> Ordering {
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pairs `(a, b)` with `a < b`, plus equal pairs marked by `Equal`.
    const TABLE: &[(&str, Ordering, &str)] = &[
        ("1.0", Ordering::Less, "1.1"),
        ("1.0", Ordering::Equal, "1.0"),
        ("1.0", Ordering::Equal, "1.00"),
        ("1.0", Ordering::Equal, "1.0-0"),
        ("1.0", Ordering::Equal, "0:1.0"),
        ("1.0", Ordering::Equal, "00:1.0"),
        ("1.0", Ordering::Less, "1.0-1"),
        ("1.0-1", Ordering::Less, "1.0-2"),
        ("1.0-9", Ordering::Less, "1.0-10"),
        ("1.2", Ordering::Less, "1.10"),
        ("1.01", Ordering::Equal, "1.1"),
        ("1:0.1", Ordering::Greater, "9.9"),
        ("2:1.0", Ordering::Greater, "1:9.9"),
        ("1:1.0", Ordering::Less, "10:0.1"),
        ("1.0~rc1", Ordering::Less, "1.0"),
        ("1.0~rc1", Ordering::Less, "1.0~rc2"),
        ("1.0~~", Ordering::Less, "1.0~"),
        ("1.0~~a", Ordering::Less, "1.0~"),
        ("1.0~", Ordering::Less, "1.0"),
        ("1.0", Ordering::Less, "1.0a"),
        ("1.0a", Ordering::Less, "1.0+"),
        ("1.0a", Ordering::Less, "1.0b"),
        ("1.0Z", Ordering::Less, "1.0a"),
        ("1.0+", Ordering::Less, "1.0."),
        ("1.0.", Ordering::Less, "1.0.1"),
        ("1.0+dfsg", Ordering::Less, "1.0.1"),
        ("1.0+dfsg-1", Ordering::Greater, "1.0-1"),
        ("1.0-1~bpo1", Ordering::Less, "1.0-1"),
        ("1.0-1+deb12u1", Ordering::Greater, "1.0-1"),
        ("1.0-1+b1", Ordering::Less, "1.0-1.1"),
        ("1.0-1ubuntu1", Ordering::Less, "1.0-1ubuntu2"),
        ("1.0-1ubuntu0.1", Ordering::Less, "1.0-1ubuntu1"),
        ("1.2-3-4", Ordering::Greater, "1.2-3"),
        ("1.2-3-4", Ordering::Greater, "1.2-4"),
        ("1:1:1", Ordering::Greater, "1:1"),
        ("1:1:1", Ordering::Less, "1:1:2"),
        ("2147483647:1", Ordering::Greater, "2147483646:1"),
        (
            "1.99999999999999999999999",
            Ordering::Less,
            "1.100000000000000000000000",
        ),
        ("1.000000000000000000000000000001", Ordering::Equal, "1.1"),
        (
            "123456789012345678901234567890",
            Ordering::Less,
            "123456789012345678901234567891",
        ),
        ("0", Ordering::Less, "0a"),
        ("1a", Ordering::Less, "1.0"),
        ("1.a", Ordering::Greater, "1.0"),
        ("a1", Ordering::Greater, "1"),
        ("1.0-@", Ordering::Greater, "1.0-z"),
        ("1.0é", Ordering::Greater, "1.0z"),
        ("1.0é", Ordering::Less, "1.0+"),
        ("1.0", Ordering::Equal, " 1.0\t"),
        ("7.6p2-4", Ordering::Greater, "7.6-0"),
        ("1.0.3-3", Ordering::Greater, "1.0-1"),
        ("1.3", Ordering::Greater, "1.2.2-2"),
        ("1.3", Ordering::Greater, "1.2.2"),
        ("0-pre", Ordering::Equal, "0-pre"),
        ("0-pre", Ordering::Less, "0-pree"),
        ("1.1.6r2-2", Ordering::Greater, "1.1.6r-1"),
        ("2.6b2-1", Ordering::Greater, "2.6b-2"),
        ("98.1p5-1", Ordering::Less, "98.1-pre2-b6-2"),
        ("0.4a6-2", Ordering::Greater, "0.4-1"),
        ("1:3.0.5-2", Ordering::Less, "1:3.0.5.1"),
        ("10.11.1.3-2", Ordering::Greater, "10.11.1.3-1"),
        ("0:0-0-0", Ordering::Greater, "0-0"),
        ("1.0~beta1~svn1245", Ordering::Less, "1.0~beta1"),
        ("+1:2", Ordering::Equal, "1:2"),
    ];

    #[test]
    fn ordering_table_follows_debian_policy() {
        for &(a, want, b) in TABLE {
            assert_eq!(compare(a, b), Ok(want), "{a} vs {b}");
            assert_eq!(compare(b, a), Ok(want.reverse()), "{b} vs {a}");
        }
    }

    #[test]
    fn parse_splits_epoch_at_first_colon_and_revision_at_last_hyphen() {
        let v = parse("3:1.2-rc:4-5-6").unwrap();
        assert_eq!((v.epoch, v.upstream, v.revision), (3, "1.2-rc:4-5", "6"));
        let v = parse("1.2").unwrap();
        assert_eq!((v.epoch, v.upstream, v.revision), (0, "1.2", ""));
        let v = parse("007:1").unwrap();
        assert_eq!(v.epoch, 7);
    }

    #[test]
    fn versions_dpkg_rejects_are_errors() {
        for bad in [
            "",
            "   ",
            "1.0 2",
            "1.0-",
            ":1.0",
            "a:1.0",
            "1.0-1:2",
            "1a:2",
            "1:",
            "-1",
            "1:-1",
            "-5:1",
            "2147483648:1",
            "99999999999999999999999:1",
            "1\0",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} should be rejected");
            assert!(compare("1.0", bad).is_err());
        }
    }

    #[test]
    fn versions_dpkg_only_warns_about_are_compared() {
        assert_eq!(compare("a1", "b1"), Ok(Ordering::Less));
        assert_eq!(compare("1.0_1", "1.0_1"), Ok(Ordering::Equal));
        assert_eq!(compare("~1", "1"), Ok(Ordering::Less));
    }

    #[test]
    fn parsed_versions_sort_like_compare() {
        let mut vs: Vec<Version> = ["1.0-1", "1:0.1", "1.0~rc1", "1.0", "1.0+b1", "0.9"]
            .iter()
            .map(|s| parse(s).unwrap())
            .collect();
        vs.sort();
        let got: Vec<&str> = vs.iter().map(|v| v.upstream).collect();
        assert_eq!(got, ["0.9", "1.0~rc1", "1.0", "1.0", "1.0+b1", "0.1"]);
    }

    #[test]
    fn hostile_input_does_not_panic() {
        let long = "9".repeat(100_000);
        assert_eq!(compare(&long, &format!("{long}0")), Ok(Ordering::Less));
        for s in ["~", "~~~~", "-", ":", "::", "0:", "\u{10ffff}", "1:\u{0}", "1-\u{feff}"] {
            let _ = compare(s, "1");
        }
    }

    /// `dpkg --compare-versions` on one pair; `Err` when dpkg rejects a version (exit status 2).
    fn dpkg_compare(a: &str, b: &str) -> Result<Ordering, ()> {
        use std::process::{Command, Stdio};
        let run = |op: &str| {
            Command::new("dpkg")
                .args(["--compare-versions", a, op, b])
                .stderr(Stdio::null())
                .status()
                .expect("dpkg must be installed for this test")
                .code()
        };
        match run("lt") {
            Some(0) => Ok(Ordering::Less),
            Some(1) if run("gt") == Some(0) => Ok(Ordering::Greater),
            Some(1) => Ok(Ordering::Equal),
            _ => Err(()),
        }
    }

    #[test]
    fn ordering_table_agrees_with_dpkg_compare_versions() {
        for &(a, want, b) in TABLE {
            assert_eq!(
                dpkg_compare(a, b),
                Ok(want),
                "dpkg disagrees with the table on {a} vs {b}"
            );
        }
    }

    use crate::version::testutil::generated_pairs;

    /// Generated versions, valid and invalid, get the same verdict from dpkg and from this module.
    #[test]
    fn generated_versions_agree_with_dpkg_compare_versions() {
        let pieces = ["0", "1", "2", "00", "9", ".", "-", "~", "+", "a", "b", "Z", ":", "1"];
        // A leading hyphen would make dpkg read the version as an option.
        for (a, b) in generated_pairs(&pieces, 8, 300, |s| !s.starts_with('-')) {
            assert_eq!(compare(&a, &b).map_err(|_| ()), dpkg_compare(&a, &b), "{a:?} vs {b:?}");
        }
    }
}
