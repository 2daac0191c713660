//! Alpine apk version ordering, following the token rules of apk-tools (2.14 / 3.x):
//! `digits{.digits}[letter]{_suffix[digits]}[~hexhash][-rdigits]`.
//!
//! Tokens are compared pairwise while both versions have a token of the same kind. The
//! pre-release suffixes `_alpha` < `_beta` < `_pre` < `_rc` sort before the release, the
//! post-release ones `_cvs` < `_svn` < `_git` < `_hg` < `_p` after it. A dotted number with a
//! leading zero on either side is compared as a string (`1.01` < `1.1`, `8.2.0015` < `8.2.002`),
//! other numbers numerically. When one version runs out of tokens of the same kind, the version
//! going on with a pre-release suffix is older; otherwise the one going on with the earlier
//! token kind (digit < letter < suffix < hash < revision < end) is newer.
//!
//! Versions that apk-tools' own validation rejects (`1.0bc`, `1.0_foo`, `1.0-r`, uppercase
//! letters, ...) are errors; apk compares them by a best-effort rule that is not an order.
//! Numbers of any length are compared exactly, where apk-tools wraps them at 64 bits.

use std::cmp::Ordering;

use super::VersionError;

const SCHEME: &str = "apk";

/// A validated apk version borrowing the string it came from.
#[derive(Debug, Clone, Copy)]
pub struct Version<'a>(&'a str);

impl<'a> Version<'a> {
    pub fn as_str(&self) -> &'a str {
        self.0
    }
}

/// Token kinds in the order apk-tools ranks them; a version must use them in this order
/// (digits may repeat, suffixes may repeat).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    InitialDigit,
    Digit,
    Letter,
    Suffix,
    SuffixNo,
    CommitHash,
    RevisionNo,
    End,
    Invalid,
}

/// Suffix ranks; `RELEASE` stands for "no suffix" and splits pre- from post-release suffixes.
const SUFFIXES: [(&str, u8); 9] = [
    ("alpha", 1),
    ("beta", 2),
    ("pre", 3),
    ("rc", 4),
    ("cvs", 6),
    ("svn", 7),
    ("git", 8),
    ("hg", 9),
    ("p", 10),
];
const RELEASE: u8 = 5;

#[derive(Debug, Clone, Copy)]
struct Token<'a> {
    kind: Kind,
    /// The token's text: the digits, the letter, the suffix name or the hash.
    value: &'a [u8],
    suffix: u8,
}

impl Token<'_> {
    /// A token without text (end of input, invalid input).
    fn bare(kind: Kind) -> Self {
        Token {
            kind,
            value: b"",
            suffix: 0,
        }
    }
}

/// Reads the tokens of one version from the front.
struct Tokens<'a> {
    rest: &'a [u8],
    last: Kind,
    started: bool,
}

impl<'a> Tokens<'a> {
    fn new(s: &'a str) -> Self {
        Tokens {
            rest: s.as_bytes(),
            last: Kind::InitialDigit,
            started: false,
        }
    }

    fn take_while(&mut self, pred: impl Fn(u8) -> bool) -> &'a [u8] {
        let n = self.rest.iter().take_while(|&&c| pred(c)).count();
        let (taken, rest) = self.rest.split_at(n.min(self.rest.len()));
        self.rest = rest;
        taken
    }

    fn skip(&mut self, n: usize) {
        self.rest = self.rest.get(n..).unwrap_or_default();
    }

    fn digits(&mut self, kind: Kind) -> Token<'a> {
        let value = self.take_while(|c| c.is_ascii_digit());
        let kind = if value.is_empty() { Kind::Invalid } else { kind };
        Token { kind, value, suffix: 0 }
    }

    fn invalid() -> Token<'a> {
        Token::bare(Kind::Invalid)
    }

    /// The next token; after `End` or `Invalid` it keeps returning that.
    fn next_token(&mut self) -> Token<'a> {
        let token = if self.started {
            self.scan()
        } else {
            self.started = true;
            self.digits(Kind::InitialDigit)
        };
        self.last = token.kind;
        token
    }

    fn scan(&mut self) -> Token<'a> {
        let prev = self.last;
        if matches!(prev, Kind::End | Kind::Invalid) {
            return Token::bare(prev);
        }
        let Some(&c) = self.rest.first() else {
            return Token::bare(Kind::End);
        };
        match c {
            b'a'..=b'z' if prev <= Kind::Digit => {
                let value = self.rest.get(..1).unwrap_or_default();
                self.skip(1);
                Token {
                    kind: Kind::Letter,
                    value,
                    suffix: 0,
                }
            }
            b'.' if prev <= Kind::Digit => {
                self.skip(1);
                self.digits(Kind::Digit)
            }
            b'0'..=b'9' if prev == Kind::Suffix => self.digits(Kind::SuffixNo),
            b'_' if prev <= Kind::SuffixNo => {
                self.skip(1);
                let value = self.take_while(|c| c.is_ascii_lowercase());
                match SUFFIXES.iter().find(|(name, _)| name.as_bytes() == value) {
                    Some(&(_, rank)) => Token {
                        kind: Kind::Suffix,
                        value,
                        suffix: rank,
                    },
                    None => Self::invalid(),
                }
            }
            b'~' if prev < Kind::CommitHash => {
                self.skip(1);
                let value = self.take_while(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'));
                if value.is_empty() {
                    Self::invalid()
                } else {
                    Token {
                        kind: Kind::CommitHash,
                        value,
                        suffix: 0,
                    }
                }
            }
            b'-' if prev < Kind::RevisionNo && self.rest.get(1) == Some(&b'r') => {
                self.skip(2);
                self.digits(Kind::RevisionNo)
            }
            // Digits right after digits cannot happen (runs are read whole); after a letter,
            // a revision number or a hash they are invalid, as is any other byte.
            _ => Self::invalid(),
        }
    }
}

/// Validates an apk version.
pub fn parse(s: &str) -> Result<Version<'_>, VersionError> {
    let mut tokens = Tokens::new(s);
    loop {
        let t = tokens.next_token();
        match t.kind {
            Kind::End => return Ok(Version(s)),
            Kind::Invalid => {
                return Err(VersionError::new(
                    SCHEME,
                    s,
                    format!("invalid token ending at byte {}", s.len() - tokens.rest.len()),
                ))
            }
            _ => {}
        }
    }
}

/// Compares two apk versions.
pub fn compare(a: &str, b: &str) -> Result<Ordering, VersionError> {
    Ok(parse(a)?.cmp(&parse(b)?))
}

fn compare_numbers(a: &[u8], b: &[u8]) -> Ordering {
    let za = a.iter().take_while(|&&c| c == b'0').count();
    let zb = b.iter().take_while(|&&c| c == b'0').count();
    let (a, b) = (a.get(za..).unwrap_or_default(), b.get(zb..).unwrap_or_default());
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

fn compare_tokens(a: &Token, b: &Token) -> Ordering {
    match a.kind {
        Kind::Digit if a.value.first() == Some(&b'0') || b.value.first() == Some(&b'0') => a.value.cmp(b.value),
        Kind::InitialDigit | Kind::Digit | Kind::SuffixNo | Kind::RevisionNo => compare_numbers(a.value, b.value),
        Kind::Suffix => a.suffix.cmp(&b.suffix),
        _ => a.value.cmp(b.value),
    }
}

eq_and_partial_ord_from_ord!(Version<'_>);

impl Ord for Version<'_> {
    fn cmp(&self, other: &Self) -> Ordering {
        let (mut ta, mut tb) = (Tokens::new(self.0), Tokens::new(other.0));
        loop {
            let (a, b) = (ta.next_token(), tb.next_token());
            if a.kind != b.kind {
                let pre_release = |t: &Token| t.kind == Kind::Suffix && t.suffix < RELEASE;
                if pre_release(&a) {
                    return Ordering::Less;
                }
                if pre_release(&b) {
                    return Ordering::Greater;
                }
                return b.kind.cmp(&a.kind);
            }
            if a.kind >= Kind::End {
                return Ordering::Equal;
            }
            let ord = compare_tokens(&a, &b);
            if ord != Ordering::Equal {
                return ord;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::{Equal, Greater, Less};

    const TABLE: &[(&str, Ordering, &str)] = &[
        ("1.0", Equal, "1.0"),
        ("1.0", Less, "1.1"),
        ("1.0", Less, "1.0.0"),
        ("1.9", Less, "1.10"),
        ("1.2.3", Less, "1.2.3.1"),
        ("2", Greater, "1.99.99"),
        ("01", Equal, "1"),
        ("1.01", Less, "1.1"),
        ("1.0", Less, "1.00"),
        ("1.001", Less, "1.01"),
        ("8.2.0", Less, "8.2.001"),
        ("8.2.0015", Less, "8.2.002"),
        ("1.05", Less, "1.1"),
        ("1.0", Less, "1.0a"),
        ("1.0a", Less, "1.0b"),
        ("1.0z", Less, "1.0.1"),
        ("1.0a", Greater, "1.0_p1"),
        ("1.0_alpha", Less, "1.0_beta"),
        ("1.0_beta", Less, "1.0_pre"),
        ("1.0_pre", Less, "1.0_rc"),
        ("1.0_rc", Less, "1.0"),
        ("1.0", Less, "1.0_cvs"),
        ("1.0_cvs", Less, "1.0_svn"),
        ("1.0_svn", Less, "1.0_git"),
        ("1.0_git", Less, "1.0_hg"),
        ("1.0_hg", Less, "1.0_p"),
        ("1.0_alpha", Less, "1.0_alpha1"),
        ("1.0_alpha1", Less, "1.0_alpha2"),
        ("1.0_alpha9", Less, "1.0_alpha10"),
        ("1.0_rc1", Less, "1.0.1_alpha1"),
        ("1.0_p9", Less, "1.0_p10"),
        ("1.0_p1", Greater, "1.0"),
        ("1.0_p1", Less, "1.0.1"),
        ("1.0_alpha_pre2", Less, "1.0_alpha"),
        ("1.0_alpha_p1", Greater, "1.0_alpha"),
        ("1.0_alpha_p1", Greater, "1.0_alpha1"),
        ("1.0_pre20191002222144", Less, "1.0_pre20210530193627"),
        ("1.0", Less, "1.0-r1"),
        ("1.0-r0", Greater, "1.0"),
        ("1.0-r1", Less, "1.0-r2"),
        ("1.0-r9", Less, "1.0-r10"),
        ("1.0-r100", Less, "1.0.1-r0"),
        ("1.0_rc1-r5", Less, "1.0-r0"),
        ("1.0_p1-r0", Greater, "1.0-r9"),
        ("1.0~1234", Less, "1.0~2345"),
        ("1.0~1234-r1", Greater, "1.0~1234-r0"),
        ("1.0~1234-r1", Less, "1.0~2345-r0"),
        ("1.0~abc", Greater, "1.0"),
        ("1.0~abc", Greater, "1.0-r5"),
        ("1.0~abc", Less, "1.0.1"),
        ("1.0_git20240101", Greater, "1.0_git20231231"),
        ("1.0_git20240101_pre1", Less, "1.0_git20240101"),
        ("3.1_p16", Less, "3.1_p17"),
        ("20240101", Greater, "2.0"),
        ("1.2.3b-r1", Greater, "1.2.3-r9"),
        ("99999999999999999999999", Less, "100000000000000000000000"),
        ("1.99999999999999999999999", Less, "1.100000000000000000000000"),
        ("1.0-r99999999999999999999999", Greater, "1.0-r99999999999999999999998"),
        ("0000000000000000000000001", Equal, "1"),
    ];

    #[test]
    fn ordering_table_follows_apk_tools_rules() {
        for &(a, want, b) in TABLE {
            assert_eq!(compare(a, b), Ok(want), "{a} vs {b}");
            assert_eq!(compare(b, a), Ok(want.reverse()), "{b} vs {a}");
        }
    }

    #[test]
    fn versions_apk_tools_rejects_are_errors() {
        for bad in [
            "",
            "a",
            ".1",
            "_pre1",
            "-r1",
            "1.",
            "1..2",
            "1.0bc",
            "1.0a1",
            "1.0a.1",
            "1.0A",
            "1.0_",
            "1.0_foo",
            "1.0_foo1",
            "1.0_Alpha",
            "1.0__alpha",
            "1.0_1_alpha",
            "1.0_-r0",
            "1.0-pre1",
            "1.0-r",
            "1.0-r1_pre1",
            "1.0-r2-r3",
            "1.0-r2.1",
            "1.0-r1~abc",
            "1.0~",
            "1.0~xyz",
            "1.0~ABC",
            "1.0~abc_pre1",
            "1.0~abc~def",
            "1.0 ",
            " 1.0",
            "1.0\0",
            "1,0",
            "1.0é",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} should be rejected");
            assert!(compare("1.0", bad).is_err());
        }
    }

    #[test]
    fn valid_chains_of_every_token_kind_parse() {
        for good in [
            "1",
            "1.2.3",
            "1.2a",
            "0.1_pre2",
            "0.1_p1_pre2",
            "0.1_alpha1_pre2",
            "1.2a_rc3_p4~0af9-r12",
        ] {
            assert_eq!(parse(good).map(|v| v.as_str()), Ok(good));
        }
    }

    #[test]
    fn parsed_versions_sort_like_compare() {
        let mut vs: Vec<Version> = ["1.0-r1", "1.0_rc1", "1.0_p1", "1.0", "0.9.9", "1.0a"]
            .iter()
            .map(|s| parse(s).unwrap())
            .collect();
        vs.sort();
        let got: Vec<&str> = vs.iter().map(|v| v.as_str()).collect();
        assert_eq!(got, ["0.9.9", "1.0_rc1", "1.0", "1.0-r1", "1.0_p1", "1.0a"]);
    }

    #[test]
    fn hostile_input_does_not_panic() {
        let long = format!("1.{}", "0".repeat(100_000));
        assert_eq!(compare(&long, &format!("{long}1")), Ok(Less));
        let many = "_p".repeat(50_000);
        assert!(parse(&format!("1{many}")).is_ok());
        for s in ["~", "-", "-r", "_", "\u{10ffff}", "1\u{feff}", "1-r\u{0}"] {
            let _ = compare(s, "1");
        }
    }
}
