//! Composer (Packagist) version ordering. A version is first normalized the way Composer's
//! `VersionParser::normalize` does it (`v1.0-beta2` → `1.0.0.0-beta2`, `1.0-pl3` → `1.0.0.0-patch3`,
//! `2.1.x-dev` → `2.1.9999999.9999999-dev`, `master` → `dev-master`, dates like `2010-01-02`,
//! aliases `1.0 as 2.0`, `@stability` flags and build metadata stripped), then compared as PHP's
//! `version_compare` compares the normalized strings (Composer's `Comparator`), which gives the
//! stability order dev < alpha < beta < RC < stable < patch.
//!
//! `version_compare` is not a total order for some branch names; to keep `Ord` lawful, an empty
//! trailing part (`dev-foo-`) is dropped and a word starting with `#` (only reachable through
//! branch names such as `dev-1#x`) counts as an unknown word instead of as a number.

use std::cmp::Ordering;
use std::hash::{Hash, Hasher};

use super::VersionError;

const SCHEME: &str = "packagist";

/// One part of a canonicalized version: a number (saturated like C's `strtol`) or a word, of
/// which only its rank among PHP's special forms matters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Token {
    Num(i64),
    Word(i8),
}

/// The rank `version_compare` gives a number when it meets a word.
const NUMBER_RANK: i8 = 4;

/// Sort key of a token; `None` is the end of the shorter version, which PHP compares as a
/// number-ranked word: below any number, above dev/alpha/beta/RC, below patch.
fn key(t: Option<Token>) -> (i8, i64) {
    match t {
        Some(Token::Num(n)) => (NUMBER_RANK, n),
        Some(Token::Word(rank)) => (rank, 0),
        None => (NUMBER_RANK, -1),
    }
}

/// PHP's special forms, checked in this order as prefixes of a word (case-sensitive).
const SPECIAL_FORMS: &[(&[u8], i8)] = &[
    (b"dev", 0),
    (b"alpha", 1),
    (b"a", 1),
    (b"beta", 2),
    (b"b", 2),
    (b"RC", 3),
    (b"rc", 3),
    (b"#", NUMBER_RANK),
    (b"pl", 5),
    (b"p", 5),
];

fn word_rank(prefix: &[u8]) -> i8 {
    for (form, rank) in SPECIAL_FORMS {
        if prefix.starts_with(form) {
            // See the module comment: `#…` words would make the order inconsistent.
            return if *rank == NUMBER_RANK { -1 } else { *rank };
        }
    }
    -1
}

const INLINE: usize = 12;

/// Tokens of a version; ordinary versions fit inline, so parsing does not allocate.
#[derive(Clone, Debug)]
struct Tokens {
    inline: [Token; INLINE],
    len: usize,
    spill: Vec<Token>,
}

impl Tokens {
    fn new() -> Self {
        Tokens {
            inline: [Token::Num(0); INLINE],
            len: 0,
            spill: Vec::new(),
        }
    }

    fn push(&mut self, t: Token) {
        match self.inline.get_mut(self.len) {
            Some(slot) => {
                *slot = t;
                self.len += 1;
            }
            None => self.spill.push(t),
        }
    }

    fn iter(&self) -> impl Iterator<Item = Token> + '_ {
        self.inline.iter().take(self.len).chain(self.spill.iter()).copied()
    }
}

fn compare_tokens(a: &Tokens, b: &Tokens) -> Ordering {
    let mut x = a.iter();
    let mut y = b.iter();
    loop {
        let (l, r) = (x.next(), y.next());
        if l.is_none() && r.is_none() {
            return Ordering::Equal;
        }
        match key(l).cmp(&key(r)) {
            Ordering::Equal => {}
            other => return other,
        }
    }
}

enum Current {
    Empty,
    Number(i64),
    Word([u8; 5], usize),
}

/// PHP's `php_canonicalize_version` followed by the split on `.`: `-`, `_` and `+` become
/// separators, a separator goes between digits and non-digits, other punctuation becomes a
/// separator unless it directly follows a digit (then PHP keeps it as the start of a word).
struct Canon<'t> {
    out: &'t mut Tokens,
    started: bool,
    last_in: u8,
    last_out: u8,
    cur: Current,
}

impl<'t> Canon<'t> {
    fn new(out: &'t mut Tokens) -> Self {
        Canon {
            out,
            started: false,
            last_in: 0,
            last_out: 0,
            cur: Current::Empty,
        }
    }

    fn emit(&mut self, c: u8) {
        self.last_out = c;
        if c == b'.' {
            self.finish();
            return;
        }
        match &mut self.cur {
            Current::Empty => {
                self.cur = if c.is_ascii_digit() {
                    Current::Number(i64::from(c - b'0'))
                } else {
                    let mut prefix = [0u8; 5];
                    prefix[0] = c;
                    Current::Word(prefix, 1)
                }
            }
            Current::Number(n) => {
                if c.is_ascii_digit() {
                    *n = n.saturating_mul(10).saturating_add(i64::from(c - b'0'));
                }
            }
            Current::Word(prefix, len) => {
                if let Some(slot) = prefix.get_mut(*len) {
                    *slot = c;
                    *len += 1;
                }
            }
        }
    }

    fn separator(&mut self) {
        if self.last_out != b'.' {
            self.emit(b'.');
        }
    }

    fn push(&mut self, c: u8) {
        if !self.started {
            self.started = true;
            self.last_in = c;
            self.emit(c);
            return;
        }
        let is_dig = |x: u8| x.is_ascii_digit();
        let is_ndig = |x: u8| !x.is_ascii_digit() && x != b'.';
        let lp = self.last_in;
        if matches!(c, b'-' | b'_' | b'+') {
            self.separator();
        } else if (is_ndig(lp) && is_dig(c)) || (is_dig(lp) && is_ndig(c)) {
            self.separator();
            self.emit(c);
        } else if !c.is_ascii_alphanumeric() {
            self.separator();
        } else {
            self.emit(c);
        }
        self.last_in = c;
    }

    fn push_all(&mut self, s: &[u8]) {
        for &c in s {
            self.push(c);
        }
    }

    fn finish(&mut self) {
        match std::mem::replace(&mut self.cur, Current::Empty) {
            Current::Empty => {}
            Current::Number(n) => self.out.push(Token::Num(n)),
            Current::Word(prefix, len) => self.out.push(Token::Word(word_rank(prefix.get(..len).unwrap_or(&[])))),
        }
    }
}

/// The numeric part of a normalized version.
enum Numbers<'a> {
    /// Four parts, as `major.minor.patch.build`.
    Parts([&'a str; 4]),
    /// A date(time) whose separators become dots.
    Date(&'a str),
}

/// A version normalized the way Composer does it, borrowing the input.
enum Normalized<'a> {
    /// `dev-<name>`.
    Branch(&'a str),
    Numbered {
        numbers: Numbers<'a>,
        /// The expanded stability word and its numbers (`beta`, `2`).
        stability: Option<(&'a str, &'a str)>,
        dev: bool,
    },
}

impl Normalized<'_> {
    /// Feeds the normalized string, piece by piece.
    fn write(&self, sink: &mut dyn FnMut(&[u8])) {
        match self {
            Normalized::Branch(name) => {
                sink(b"dev-");
                sink(name.as_bytes());
            }
            Normalized::Numbered {
                numbers,
                stability,
                dev,
            } => {
                match numbers {
                    Numbers::Parts(parts) => {
                        for (i, part) in parts.iter().enumerate() {
                            if i > 0 {
                                sink(b".");
                            }
                            sink(part.as_bytes());
                        }
                    }
                    Numbers::Date(date) => {
                        for c in date.bytes() {
                            sink(if c.is_ascii_digit() {
                                std::slice::from_ref(&c)
                            } else {
                                b"."
                            });
                        }
                    }
                }
                if let Some((word, number)) = stability {
                    sink(b"-");
                    sink(word.as_bytes());
                    sink(number.as_bytes());
                }
                if *dev {
                    sink(b"-dev");
                }
            }
        }
    }

    fn tokens(&self) -> Tokens {
        let mut tokens = Tokens::new();
        let mut canon = Canon::new(&mut tokens);
        self.write(&mut |piece| canon.push_all(piece));
        canon.finish();
        tokens
    }
}

fn is_php_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\0' | '\x0b')
}

fn is_pcre_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0b' | '\x0c')
}

/// `^([^,\s]++) ++as ++([^,\s]++)$`: the aliased version.
fn strip_alias(s: &str) -> &str {
    let Some(end) = s.find(|c: char| c == ',' || is_pcre_space(c)) else {
        return s;
    };
    let (first, rest) = s.split_at(end);
    let rest = rest.trim_start_matches(' ');
    if first.is_empty() || rest.len() == s.len() - end {
        return s;
    }
    let Some(after_as) = rest.strip_prefix("as") else {
        return s;
    };
    let second = after_as.trim_start_matches(' ');
    if second.len() == after_as.len() || second.is_empty() || second.contains(|c: char| c == ',' || is_pcre_space(c)) {
        return s;
    }
    first
}

/// Case-insensitive `strip_suffix`.
fn strip_suffix_ci<'a>(s: &'a str, suffix: &str) -> Option<&'a str> {
    let cut = s.len().checked_sub(suffix.len())?;
    let tail = s.get(cut..)?;
    tail.eq_ignore_ascii_case(suffix).then(|| s.get(..cut)).flatten()
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| s.get(prefix.len()..))
        .flatten()
}

fn digits_end(b: &[u8], from: usize) -> usize {
    let mut i = from;
    while b.get(i).is_some_and(u8::is_ascii_digit) {
        i += 1;
    }
    i
}

/// What the modifier pattern `[._-]?(?:(stable|beta|b|RC|alpha|a|patch|pl|p)((?:[.-]?\d+)*+)?)?([.-]?dev)?$`
/// (case-insensitive) captured: stability word as written, its numbers, and the dev flag.
type Modifier<'a> = (Option<&'a str>, &'a str, bool);

fn match_dev_tail(s: &str) -> Option<bool> {
    if s.is_empty() {
        return Some(false);
    }
    let s = s.strip_prefix(['.', '-']).unwrap_or(s);
    s.eq_ignore_ascii_case("dev").then_some(true)
}

fn match_modifier(s: &str) -> Option<Modifier<'_>> {
    let after_sep = s.strip_prefix(['.', '_', '-']);
    after_sep
        .and_then(match_modifier_body)
        .or_else(|| match_modifier_body(s))
}

fn match_modifier_body(s: &str) -> Option<Modifier<'_>> {
    const WORDS: &[&str] = &["stable", "beta", "b", "RC", "alpha", "a", "patch", "pl", "p"];
    for word in WORDS {
        let Some(rest) = strip_prefix_ci(s, word) else { continue };
        let b = rest.as_bytes();
        // The numbers after the word are possessive: as many `[.-]?\d+` as there are.
        let mut end = 0;
        loop {
            let start = if matches!(b.get(end), Some(b'.' | b'-')) {
                end + 1
            } else {
                end
            };
            let stop = digits_end(b, start);
            if stop == start {
                break;
            }
            end = stop;
        }
        let (number, tail) = rest.split_at(end);
        if let Some(dev) = match_dev_tail(tail) {
            return Some((s.get(..word.len()), number, dev));
        }
    }
    match_dev_tail(s).map(|dev| (None, "", dev))
}

/// `^v?(\d{1,5})(\.\d+)?(\.\d+)?(\.\d+)?` + modifier.
fn match_classical(s: &str) -> Option<([&str; 4], Modifier<'_>)> {
    let s = s.strip_prefix(['v', 'V']).unwrap_or(s);
    let b = s.as_bytes();
    let major_end = digits_end(b, 0);
    if major_end == 0 || major_end > 5 {
        return None;
    }
    let mut parts = ["0"; 4];
    parts[0] = s.get(..major_end)?;
    let mut pos = major_end;
    for part in parts.iter_mut().skip(1) {
        if b.get(pos) != Some(&b'.') {
            break;
        }
        let end = digits_end(b, pos + 1);
        if end == pos + 1 {
            break;
        }
        *part = s.get(pos + 1..end)?;
        pos = end;
    }
    Some((parts, match_modifier(s.get(pos..)?)?))
}

/// Whether `\d{4}(?:[.:-]?\d{2}){1,6}(?:[.:-]?\d{1,3}){0,2}` matches all of `b`.
fn date_body_matches(b: &[u8]) -> bool {
    /// Where a group may start: after an optional separator.
    fn starts(b: &[u8], pos: usize) -> impl Iterator<Item = usize> {
        let sep = matches!(b.get(pos), Some(b'.' | b':' | b'-'));
        [Some(pos), sep.then_some(pos + 1)].into_iter().flatten()
    }
    fn digits(b: &[u8], start: usize, width: usize) -> bool {
        b.get(start..start + width)
            .is_some_and(|d| d.iter().all(u8::is_ascii_digit))
    }
    fn short_groups(b: &[u8], pos: usize, done: usize) -> bool {
        pos == b.len()
            || (done < 2
                && starts(b, pos).any(|s| (1..=3).any(|w| digits(b, s, w) && short_groups(b, s + w, done + 1))))
    }
    fn pair_groups(b: &[u8], pos: usize, done: usize) -> bool {
        (done >= 1 && short_groups(b, pos, 0))
            || (done < 6 && starts(b, pos).any(|s| digits(b, s, 2) && pair_groups(b, s + 2, done + 1)))
    }
    // Longer than the pattern can ever match: no search needed.
    b.len() <= 4 + 6 * 3 + 2 * 4 && digits(b, 0, 4) && pair_groups(b, 4, 0)
}

/// `^v?(date)` + modifier, where only one split of digits and modifier can ever match: the date
/// ends at the last digit of the leading run of digits and `.:-` separators.
fn match_date(s: &str) -> Option<(&str, Modifier<'_>)> {
    let s = s.strip_prefix(['v', 'V']).unwrap_or(s);
    let b = s.as_bytes();
    let run = b
        .iter()
        .position(|c| !matches!(c, b'0'..=b'9' | b'.' | b':' | b'-'))
        .unwrap_or(b.len());
    let end = b.get(..run)?.iter().rposition(u8::is_ascii_digit)? + 1;
    let (date, rest) = s.split_at(end);
    if !date_body_matches(date.as_bytes()) {
        return None;
    }
    Some((date, match_modifier(rest)?))
}

/// `normalizeBranch` for a numeric branch (`2.1.x` → `2.1.9999999.9999999`).
fn match_numeric_branch(name: &str) -> Option<[&str; 4]> {
    let name = name.trim_matches(is_php_space);
    let name = name.strip_prefix(['v', 'V']).unwrap_or(name);
    let mut parts = ["9999999"; 4];
    for (i, part) in name.split('.').enumerate() {
        let slot = parts.get_mut(i)?;
        if part.is_empty() {
            return None;
        }
        if part.bytes().all(|c| c.is_ascii_digit()) {
            *slot = part;
        } else if i == 0 || !matches!(part, "x" | "X" | "*") {
            return None;
        }
    }
    Some(parts)
}

fn expand_stability(word: &str) -> &str {
    const EXPANSIONS: &[(&str, &str)] = &[
        ("a", "alpha"),
        ("alpha", "alpha"),
        ("b", "beta"),
        ("beta", "beta"),
        ("p", "patch"),
        ("pl", "patch"),
        ("patch", "patch"),
        ("rc", "RC"),
        ("stable", "stable"),
    ];
    EXPANSIONS
        .iter()
        .find(|(from, _)| from.eq_ignore_ascii_case(word))
        .map(|(_, to)| *to)
        .unwrap_or(word)
}

fn numbered<'a>(numbers: Numbers<'a>, (word, number, dev): Modifier<'a>) -> Normalized<'a> {
    let stability = match word {
        // Composer checks for `stable` case-sensitively, so `STABLE` survives as a word.
        Some("stable") => {
            return Normalized::Numbered {
                numbers,
                stability: None,
                dev: false,
            }
        }
        Some(word) => Some((expand_stability(word), number.trim_start_matches(['.', '-']))),
        None => None,
    };
    Normalized::Numbered {
        numbers,
        stability,
        dev,
    }
}

fn normalize_view(input: &str) -> Result<Normalized<'_>, String> {
    let mut s = input.trim_matches(is_php_space);
    s = strip_alias(s);
    for flag in ["stable", "RC", "beta", "alpha", "dev"] {
        if let Some(rest) = strip_suffix_ci(s, flag) {
            if let Some(rest) = rest.strip_suffix('@') {
                s = rest;
                break;
            }
        }
    }
    if matches!(s, "master" | "trunk" | "default") {
        return Ok(Normalized::Branch(s));
    }
    if let Some(name) = strip_prefix_ci(s, "dev-") {
        return Ok(Normalized::Branch(name));
    }
    if let Some((version, metadata)) = s.split_once('+') {
        if !version.is_empty()
            && !version.contains(|c: char| c == ',' || is_pcre_space(c))
            && !metadata.is_empty()
            && !metadata.contains(is_pcre_space)
        {
            s = version;
        }
    }
    if let Some((parts, modifier)) = match_classical(s) {
        return Ok(numbered(Numbers::Parts(parts), modifier));
    }
    if let Some((date, modifier)) = match_date(s) {
        return Ok(numbered(Numbers::Date(date), modifier));
    }
    if let Some(base) = strip_suffix_ci(s, "dev") {
        let base = base.strip_suffix(['.', '-']).unwrap_or(base);
        if let Some(parts) = match_numeric_branch(base) {
            return Ok(Normalized::Numbered {
                numbers: Numbers::Parts(parts),
                stability: None,
                dev: true,
            });
        }
    }
    Err("not a Composer version".to_string())
}

/// A parsed Composer version; equality and ordering are those of `version_compare` on the
/// normalized forms.
#[derive(Clone, Debug)]
pub struct Version {
    tokens: Tokens,
}

eq_and_partial_ord_from_ord!(Version);

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        compare_tokens(&self.tokens, &other.tokens)
    }
}

impl Hash for Version {
    fn hash<H: Hasher>(&self, state: &mut H) {
        for t in self.tokens.iter() {
            key(Some(t)).hash(state);
        }
    }
}

/// Composer's normalized form of a version (`v1.0-RC1` → `1.0.0.0-RC1`).
pub fn normalize(s: &str) -> Result<String, VersionError> {
    let n = normalize_view(s).map_err(|reason| VersionError::new(SCHEME, s, reason))?;
    let mut out = Vec::with_capacity(s.len() + 8);
    n.write(&mut |piece| out.extend_from_slice(piece));
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// Parses a Composer version.
pub fn parse(s: &str) -> Result<Version, VersionError> {
    let n = normalize_view(s).map_err(|reason| VersionError::new(SCHEME, s, reason))?;
    Ok(Version { tokens: n.tokens() })
}

/// Compares two Composer versions.
pub fn compare(a: &str, b: &str) -> Result<Ordering, VersionError> {
    Ok(parse(a)?.cmp(&parse(b)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    const NORMALIZED: &[(&str, &str)] = &[
        ("1.0.0", "1.0.0.0"),
        ("1", "1.0.0.0"),
        ("1.2", "1.2.0.0"),
        ("1.2.3.4", "1.2.3.4"),
        ("v1.0.0", "1.0.0.0"),
        ("V2.1", "2.1.0.0"),
        ("1.0.0-beta2", "1.0.0.0-beta2"),
        ("1.0.0beta2", "1.0.0.0-beta2"),
        ("1.0.0-b2", "1.0.0.0-beta2"),
        ("1.0.0.beta.2", "1.0.0.0-beta2"),
        ("1.0.0-beta.2.3", "1.0.0.0-beta2.3"),
        ("1.0-a1", "1.0.0.0-alpha1"),
        ("1.0.0-ALPHA", "1.0.0.0-alpha"),
        ("1.0-RC", "1.0.0.0-RC"),
        ("1.0.0-rc1", "1.0.0.0-RC1"),
        ("1.0.0-RC.1", "1.0.0.0-RC1"),
        ("1.0.0-pl3", "1.0.0.0-patch3"),
        ("1.0.0-p3", "1.0.0.0-patch3"),
        ("1.0.0-patch.3", "1.0.0.0-patch3"),
        ("1.0.0-stable", "1.0.0.0"),
        ("1.0-stable1", "1.0.0.0"),
        ("1.0-STABLE", "1.0.0.0-stable"),
        ("1.0.0-dev", "1.0.0.0-dev"),
        ("1.0.0.dev", "1.0.0.0-dev"),
        ("1.0-DEV", "1.0.0.0-dev"),
        ("1.0--dev", "1.0.0.0-dev"),
        ("1.0.0-beta2-dev", "1.0.0.0-beta2-dev"),
        ("1.0.0-rc1.dev", "1.0.0.0-RC1-dev"),
        ("1.0.0+build.5", "1.0.0.0"),
        ("1.0.0-beta+exp.sha.5114f85", "1.0.0.0-beta"),
        ("1.0.0@beta", "1.0.0.0"),
        ("1.0.0-beta1@dev", "1.0.0.0-beta1"),
        ("1.0 as 2.0", "1.0.0.0"),
        ("1.0.", "1.0.0.0"),
        ("1.0-", "1.0.0.0"),
        ("  1.0.0\n", "1.0.0.0"),
        ("12345", "12345.0.0.0"),
        ("2010-01-02", "2010.01.02"),
        ("2010.01.02", "2010.01.02.0"),
        ("123456", "123456"),
        ("2010-01-02-03-04-05-06-07", "2010.01.02.03.04.05.06.07"),
        ("20100102.1", "20100102.1"),
        // Composer 2.x allows two short trailing groups in a date (older releases one).
        ("20100102.1.2", "20100102.1.2"),
        ("1.0.0-alpha.1.dev", "1.0.0.0-alpha1-dev"),
        ("1.0-p", "1.0.0.0-patch"),
        ("1.0_beta", "1.0.0.0-beta"),
        ("1.0-b.1", "1.0.0.0-beta1"),
        ("1.0@DEV", "1.0.0.0"),
        ("v1.x-dev", "1.9999999.9999999.9999999-dev"),
        ("dev-foo bar", "dev-foo bar"),
        ("2010:01:02", "2010.01.02"),
        ("20100102", "20100102"),
        ("20100102203040", "20100102203040"),
        ("2010-01-02.5", "2010.01.02.5"),
        ("2010-01-02-beta", "2010.01.02-beta"),
        ("123456.1", "123456.1"),
        ("1.x-dev", "1.9999999.9999999.9999999-dev"),
        ("2.1.x-dev", "2.1.9999999.9999999-dev"),
        ("2.1.*-dev", "2.1.9999999.9999999-dev"),
        ("v3.X-dev", "3.9999999.9999999.9999999-dev"),
        ("1.2.3.x-dev", "1.2.3.9999999-dev"),
        ("dev-master", "dev-master"),
        ("DEV-feature/foo", "dev-feature/foo"),
        ("master", "dev-master"),
        ("trunk", "dev-trunk"),
        ("default", "dev-default"),
        ("dev-1.x", "dev-1.x"),
        ("dev-foo+bar", "dev-foo+bar"),
    ];

    const LESS: &[(&str, &str)] = &[
        ("1.0.0", "1.0.1"),
        ("1.0.9", "1.0.10"),
        ("1.9", "1.10"),
        ("1.0.0", "1.0.0.1"),
        ("1.0.0-dev", "1.0.0-alpha"),
        ("1.0.0-alpha", "1.0.0-alpha1"),
        ("1.0.0-alpha1", "1.0.0-alpha2"),
        ("1.0.0-alpha2", "1.0.0-alpha10"),
        ("1.0.0-alpha10", "1.0.0-beta"),
        ("1.0.0-beta", "1.0.0-beta.1"),
        ("1.0.0-beta2", "1.0.0-RC1"),
        ("1.0.0-RC1", "1.0.0-rc2"),
        ("1.0.0-RC2", "1.0.0"),
        ("1.0.0", "1.0.0-patch1"),
        ("1.0.0-p1", "1.0.0-pl2"),
        ("1.0.0-patch1", "1.0.1"),
        ("1.0.0-beta1-dev", "1.0.0-beta1"),
        ("1.0.0-alpha2", "1.0.0-beta1-dev"),
        ("1.0.0-dev", "1.0.0"),
        ("0.9.9", "1.0.0-dev"),
        ("v1.0.0", "1.0.1"),
        ("1.0.0-beta2.3", "1.0.0-beta2.4"),
        ("1.0.0-beta2", "1.0.0-beta2.1"),
        ("1.0-STABLE", "1.0"),
        ("dev-master", "0.0.1"),
        ("dev-feature", "1.0.0-dev"),
        ("dev-a", "dev-b"),
        ("dev-develop", "dev-alpha"),
        ("dev-foo1", "dev-foo2"),
        ("dev-master", "dev-patch"),
        ("5.4.99", "5.x-dev"),
        ("5.x-dev", "6.0.0-dev"),
        ("5.4.x-dev", "5.5.0"),
        ("2010-01-02", "2010-01-03"),
        ("2010-01-02", "2010.01.02.1"),
        ("12345.0.0", "123456"),
        ("4.4.49", "5.0.0-BETA1"),
        ("6.4.0-RC1", "6.4.0"),
        ("6.4.9", "6.4.10"),
        ("2.10.0", "10.0.0"),
    ];

    const EQUAL: &[(&str, &str)] = &[
        ("1.0.0", "1.0"),
        ("1.0.0", "1.0.0.0"),
        ("1", "v1.0.0"),
        ("1.0.0-beta2", "1.0.0.beta.2"),
        ("1.0.0-b2", "1.0.0-beta2"),
        ("1.0.0-RC1", "1.0.0-rc.1"),
        ("1.0.0-pl1", "1.0.0-patch1"),
        ("1.0.0-stable", "1.0.0"),
        ("1.0.0+build", "1.0.0"),
        ("1.0.0@stable", "1.0.0"),
        ("1.0.0-beta2.3", "1.0.0-beta.2-3"),
        ("01.02.03", "1.2.3"),
        ("master", "dev-master"),
        ("dev-master", "dev-trunk"),
        ("2010-01-02", "2010:01:02"),
    ];

    const INVALID: &[&str] = &[
        "",
        "   ",
        "foo",
        "1.0.0-foo",
        "1.0.0-beta-foo",
        "1.0._dev",
        "1.0.0.0.0",
        ".1.0",
        "1..0",
        "1.0 2.0",
        "1.0,2.0",
        "v",
        "x.1",
        "dev",
        "feature-dev",
        "1.x",
        "1.0.0-beta2-beta3",
        "2010:01:02 10:20",
        "2010-1-2",
        "2010-01-02-03-04-05-06-07-08-09",
        "2010-01-02 10:20",
        "1.0-beta2.dev.dev",
        "1.0 as 2.0 as 3.0",
        "1.0.0 as",
        "1.0.0+",
        "+1.0.0",
        "1.0.0-é",
    ];

    #[test]
    fn normalizes_like_composer() {
        for (input, want) in NORMALIZED {
            assert_eq!(normalize(input).as_deref(), Ok(*want), "{input:?}");
        }
    }

    #[test]
    fn ordering_table_follows_version_compare_with_composer_stabilities() {
        for (a, b) in LESS {
            assert_eq!(compare(a, b), Ok(Ordering::Less), "{a} < {b}");
            assert_eq!(compare(b, a), Ok(Ordering::Greater), "{b} > {a}");
        }
        for (a, b) in EQUAL {
            assert_eq!(compare(a, b), Ok(Ordering::Equal), "{a} == {b}");
            assert_eq!(compare(b, a), Ok(Ordering::Equal), "{b} == {a}");
            let (x, y) = (parse(a).unwrap(), parse(b).unwrap());
            assert_eq!(x, y);
            let state = std::collections::hash_map::RandomState::new();
            use std::hash::BuildHasher;
            assert_eq!(state.hash_one(&x), state.hash_one(&y), "{a} and {b} hash alike");
        }
    }

    #[test]
    fn invalid_versions_are_errors() {
        for v in INVALID {
            let err = parse(v).expect_err(v);
            assert_eq!(err.scheme, "packagist");
            assert_eq!(err.version, *v);
            assert!(normalize(v).is_err(), "{v:?}");
            assert!(compare("1.0.0", v).is_err(), "{v:?}");
        }
    }

    #[test]
    fn odd_branch_names_still_give_a_total_order() {
        let mut vs: Vec<Version> = [
            "dev-foo-", "dev-foo", "dev-1#x", "dev-1#2", "1.0.0", "dev-#", "dev-1", "dev-2", "dev-a1b2",
        ]
        .iter()
        .map(|v| parse(v).unwrap())
        .collect();
        for a in &vs {
            assert_eq!(a.cmp(a), Ordering::Equal);
            for b in &vs {
                assert_eq!(a.cmp(b), b.cmp(a).reverse());
                for c in &vs {
                    if a < b && b < c {
                        assert!(a < c);
                    }
                }
            }
        }
        vs.sort();
        assert_eq!(vs.last(), Some(&parse("1.0.0").unwrap()));
    }

    #[test]
    fn long_hostile_input_is_refused_quickly() {
        let long = "1.".repeat(100_000);
        assert!(parse(&long).is_err());
        let date = format!("2010{}", "-01".repeat(50_000));
        assert!(parse(&date).is_err());
        let branch = format!("dev-{}", "a1".repeat(100_000));
        assert!(parse(&branch).is_ok());
        let beta = format!("1.0-beta{}", ".1".repeat(100_000));
        assert_eq!(compare(&beta, "1.0-beta1"), Ok(Ordering::Greater));
    }

    /// Asks PHP about every version: Composer's own `VersionParser::normalize`
    /// (`apt-get install -y php-cli php-composer-semver`) and `version_compare` on the normalized
    /// forms for every pair, in one `php` process.
    #[test]
    fn php_composer_agrees_on_normalization_and_every_pair() {
        let mut versions: Vec<&str> = NORMALIZED.iter().map(|(v, _)| *v).collect();
        for (a, b) in LESS.iter().chain(EQUAL) {
            versions.push(a);
            versions.push(b);
        }
        versions.extend(INVALID);
        // Lines are the protocol; our deliberate deviations for odd branch names stay out.
        // The installed Composer may predate the second short date group.
        versions.retain(|v| !v.contains('\n') && !v.contains('#') && !v.ends_with('-') && *v != "20100102.1.2");
        versions.sort();
        versions.dedup();

        let script = r#"
$autoload = '/usr/share/php/Composer/Semver/autoload.php';
if (!is_file($autoload)) { echo "MISSING\n"; exit(0); }
require $autoload;
$parser = new Composer\Semver\VersionParser();
$vs = explode("\n", stream_get_contents(STDIN));
array_pop($vs);
$norm = array();
foreach ($vs as $v) {
    try { $norm[] = $parser->normalize($v); } catch (Exception $e) { $norm[] = null; }
}
$good = array_values(array_filter($norm, function ($n) { return $n !== null; }));
foreach ($norm as $n) {
    if ($n === null) { echo "invalid\n"; continue; }
    $row = array();
    foreach ($good as $m) { $row[] = version_compare($n, $m); }
    echo $n, "\t", implode(',', $row), "\n";
}
"#;
        let input = versions.join(
            "
",
        ) + "
";
        let text = crate::testutil::pipe_through(
            Command::new("php").args(["-r", script]),
            &input,
            "apt-get install -y php-cli php-composer-semver",
        );
        assert!(
            !text.starts_with("MISSING"),
            "composer/semver is missing: apt-get install -y php-composer-semver"
        );

        let valid: Vec<&str> = versions.iter().copied().filter(|v| parse(v).is_ok()).collect();
        let mut lines = text.lines();
        for a in &versions {
            let line = lines.next().expect("one line per version");
            if line == "invalid" {
                assert!(parse(a).is_err(), "Composer rejects {a:?}, we accept it");
                continue;
            }
            let (normalized, row) = line.split_once('\t').unwrap();
            assert_eq!(normalize(a).as_deref(), Ok(normalized), "normalization of {a:?}");
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
