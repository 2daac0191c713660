//! CIDR blocks and sets of addresses (or ports) as sorted, disjoint, inclusive intervals.
//!
//! Addresses of both families are held as `u128` (an IPv4 address is its 32-bit value), and a
//! set is only ever combined with sets of its own family, so the analysis can compute "which
//! sources get through" with plain interval arithmetic.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// An IP address family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Family {
    V4,
    V6,
}

impl Family {
    /// The highest address of the family.
    pub fn max(self) -> u128 {
        match self {
            Family::V4 => u128::from(u32::MAX),
            Family::V6 => u128::MAX,
        }
    }

    fn bits(self) -> u8 {
        match self {
            Family::V4 => 32,
            Family::V6 => 128,
        }
    }

    /// Every address of the family.
    pub fn all(self) -> Ranges {
        Ranges::interval(0, self.max())
    }
}

/// One CIDR block: a family and the first and last address it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    pub family: Family,
    pub prefix_len: u8,
    pub first: u128,
    pub last: u128,
}

impl Cidr {
    /// Reads `a.b.c.d/n` or `x:y::/n`; a bare address is a host (/32 or /128). Host bits set
    /// below the prefix are ignored (EC2 itself stores the network address). `None` when the
    /// text is not a CIDR.
    pub fn parse(text: &str) -> Option<Cidr> {
        let text = text.trim();
        let (addr, prefix) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text, None),
        };
        let (family, value) = match addr.parse::<IpAddr>().ok()? {
            IpAddr::V4(a) => (Family::V4, u128::from(u32::from(a))),
            IpAddr::V6(a) => (Family::V6, u128::from(a)),
        };
        let prefix_len = match prefix {
            None => family.bits(),
            // Digits only: `u8::from_str` would also take a leading `+`.
            Some(p) if !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()) => p.parse().ok()?,
            Some(_) => return None,
        };
        Cidr::from_parts(family, value, prefix_len)
    }

    pub fn from_parts(family: Family, value: u128, prefix_len: u8) -> Option<Cidr> {
        if prefix_len > family.bits() || value > family.max() {
            return None;
        }
        let host_bits = u32::from(family.bits() - prefix_len);
        let host_mask = if host_bits == 128 {
            u128::MAX
        } else {
            (1u128 << host_bits) - 1
        };
        let first = value & !host_mask & family.max();
        Some(Cidr {
            family,
            prefix_len,
            first,
            last: first | host_mask,
        })
    }

    pub fn ranges(&self) -> Ranges {
        Ranges::interval(self.first, self.last)
    }

    pub fn contains(&self, family: Family, value: u128) -> bool {
        self.family == family && (self.first..=self.last).contains(&value)
    }
}

/// Reads an address (no prefix) into its family and value.
pub fn parse_address(text: &str) -> Option<(Family, u128)> {
    match text.trim().parse::<IpAddr>().ok()? {
        IpAddr::V4(a) => Some((Family::V4, u128::from(u32::from(a)))),
        IpAddr::V6(a) => Some((Family::V6, u128::from(a))),
    }
}

/// Writes an address of `family` back as text.
pub fn format_address(family: Family, value: u128) -> String {
    match family {
        Family::V4 => Ipv4Addr::from(value as u32).to_string(),
        Family::V6 => Ipv6Addr::from(value).to_string(),
    }
}

/// A set of values as sorted, disjoint, non-adjacent inclusive intervals.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ranges(Vec<(u128, u128)>);

impl Ranges {
    pub fn empty() -> Ranges {
        Ranges(Vec::new())
    }

    pub fn interval(first: u128, last: u128) -> Ranges {
        if first > last {
            return Ranges::empty();
        }
        Ranges(vec![(first, last)])
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn intervals(&self) -> &[(u128, u128)] {
        &self.0
    }

    /// How many values the set holds, saturating at `u128::MAX` (the whole IPv6 space holds one
    /// more than that).
    pub fn size(&self) -> u128 {
        self.0
            .iter()
            .fold(0u128, |n, (a, b)| n.saturating_add((b - a).saturating_add(1)))
    }

    pub fn contains(&self, value: u128) -> bool {
        self.0.iter().any(|(a, b)| (*a..=*b).contains(&value))
    }

    pub fn union(&self, other: &Ranges) -> Ranges {
        let mut all: Vec<(u128, u128)> = self.0.iter().chain(&other.0).copied().collect();
        all.sort_unstable();
        let mut out: Vec<(u128, u128)> = Vec::with_capacity(all.len());
        for (a, b) in all {
            match out.last_mut() {
                // Overlapping or adjacent (`a` right after `last`) intervals become one.
                Some((_, last)) if a <= last.saturating_add(1) => *last = (*last).max(b),
                _ => out.push((a, b)),
            }
        }
        Ranges(out)
    }

    pub fn intersect(&self, other: &Ranges) -> Ranges {
        let (mut i, mut j) = (0, 0);
        let mut out = Vec::new();
        while i < self.0.len() && j < other.0.len() {
            let (a1, b1) = self.0[i];
            let (a2, b2) = other.0[j];
            let (a, b) = (a1.max(a2), b1.min(b2));
            if a <= b {
                out.push((a, b));
            }
            if b1 < b2 {
                i += 1;
            } else {
                j += 1;
            }
        }
        Ranges(out)
    }

    pub fn subtract(&self, other: &Ranges) -> Ranges {
        let mut out = Vec::new();
        let mut j = 0;
        for &(a, b) in &self.0 {
            let mut start = a;
            let mut done = false;
            while j < other.0.len() && other.0[j].1 < start {
                j += 1;
            }
            let mut k = j;
            while k < other.0.len() && other.0[k].0 <= b {
                let (c, d) = other.0[k];
                if c > start {
                    out.push((start, c - 1));
                }
                if d >= b {
                    done = true;
                    break;
                }
                start = start.max(d + 1);
                k += 1;
            }
            if !done && start <= b {
                out.push((start, b));
            }
        }
        Ranges(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cidr(s: &str) -> Cidr {
        Cidr::parse(s).unwrap_or_else(|| panic!("{s} parses"))
    }

    #[test]
    fn ipv4_blocks_cover_their_network_and_broadcast_addresses() {
        let c = cidr("10.1.0.0/16");
        assert_eq!(c.family, Family::V4);
        assert_eq!(c.prefix_len, 16);
        assert_eq!(format_address(Family::V4, c.first), "10.1.0.0");
        assert_eq!(format_address(Family::V4, c.last), "10.1.255.255");
        let all = cidr("0.0.0.0/0");
        assert_eq!((all.first, all.last), (0, u128::from(u32::MAX)));
        assert_eq!(all.ranges().size(), 1 << 32);
    }

    #[test]
    fn ipv6_blocks_and_the_whole_ipv6_space() {
        let c = cidr("2600:1f18:abcd::/48");
        assert_eq!(c.family, Family::V6);
        assert_eq!(format_address(Family::V6, c.first), "2600:1f18:abcd::");
        assert_eq!(c.last - c.first, (1u128 << 80) - 1);
        let all = cidr("::/0");
        assert_eq!((all.first, all.last), (0, u128::MAX));
        assert_eq!(all.ranges().size(), u128::MAX, "saturates");
    }

    #[test]
    fn host_bits_are_masked_and_bare_addresses_are_hosts() {
        assert_eq!(cidr("10.1.2.3/8"), cidr("10.0.0.0/8"));
        let host = cidr("54.1.2.3");
        assert_eq!((host.prefix_len, host.first, host.last), (32, host.first, host.first));
        assert_eq!(cidr("2001:db8::1").prefix_len, 128);
    }

    #[test]
    fn malformed_blocks_are_refused() {
        for bad in [
            "",
            "10.0.0.0/33",
            "::/129",
            "10.0.0/8",
            "10.0.0.0/",
            "10.0.0.0/+8",
            "10.0.0.0/8/8",
            "igw-123",
            "0.0.0.0/-1",
        ] {
            assert_eq!(Cidr::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn union_merges_overlapping_and_adjacent_intervals() {
        let a = Ranges(vec![(0, 5), (10, 20)]);
        let b = Ranges(vec![(6, 8), (15, 30), (40, 41)]);
        assert_eq!(a.union(&b), Ranges(vec![(0, 8), (10, 30), (40, 41)]));
        let full = Ranges::interval(0, u128::MAX);
        assert_eq!(full.union(&a), full);
    }

    #[test]
    fn intersection_and_subtraction_partition_a_set() {
        let a = Ranges(vec![(0, 100), (200, 300)]);
        let b = Ranges(vec![(50, 250), (290, 290)]);
        assert_eq!(a.intersect(&b), Ranges(vec![(50, 100), (200, 250), (290, 290)]));
        assert_eq!(a.subtract(&b), Ranges(vec![(0, 49), (251, 289), (291, 300)]));
        assert_eq!(
            a.intersect(&b).union(&a.subtract(&b)),
            a,
            "the two parts make the whole"
        );
        let full = Ranges::interval(0, u128::MAX);
        assert_eq!(full.subtract(&full), Ranges::empty());
        assert_eq!(full.subtract(&Ranges::interval(0, 9)), Ranges::interval(10, u128::MAX));
        assert_eq!(full.subtract(&Ranges::interval(5, u128::MAX)), Ranges::interval(0, 4));
    }

    #[test]
    fn set_operations_agree_with_a_bitmap_on_small_universes() {
        // Exhaustive over a 12-value universe: every pair of 2-interval sets.
        let mut sets = vec![Ranges::empty()];
        for a in 0..12u128 {
            for b in a..12 {
                sets.push(Ranges::interval(a, b));
                for c in (b + 2)..12 {
                    sets.push(Ranges(vec![(a, b), (c, c)]));
                }
            }
        }
        let bits = |r: &Ranges| (0..12u128).map(|v| r.contains(v)).collect::<Vec<_>>();
        for x in &sets {
            for y in &sets {
                let (bx, by) = (bits(x), bits(y));
                let want = |f: fn(bool, bool) -> bool| bx.iter().zip(&by).map(|(p, q)| f(*p, *q)).collect::<Vec<_>>();
                assert_eq!(bits(&x.union(y)), want(|p, q| p || q));
                assert_eq!(bits(&x.intersect(y)), want(|p, q| p && q));
                assert_eq!(bits(&x.subtract(y)), want(|p, q| p && !q));
                assert_eq!(x.intersect(y).size() + x.subtract(y).size(), x.size());
            }
        }
    }
}
