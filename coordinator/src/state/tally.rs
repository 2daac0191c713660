//! Finding totals kept as findings are written (by type, status, severity, fix and exploit;
//! and change events by kind), so the metrics read a few hundred numbers instead of scanning
//! millions of findings. Every finding write passes through `Ctx::write_finding` with what the
//! finding counted as before, which keeps the totals exact; they are part of the replicated
//! state, so every replica holds the same ones.

use std::collections::BTreeMap;

use argus_proto::internal::v1::{FindingCounters, FindingTally};
use argus_proto::v1::{ChangeKind, Finding, FixAvailable};

use super::view::View;
use super::{keys, records, Txn};
use crate::error::Result;

const COUNTERS_VERSION: u32 = 1;

/// What one finding counts as.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Tally {
    pub r#type: i32,
    pub status: i32,
    pub severity: i32,
    pub fix: bool,
    pub exploit: bool,
}

impl Tally {
    pub fn of(f: &Finding) -> Tally {
        Tally {
            r#type: f.r#type,
            status: f.status,
            severity: f.severity,
            fix: f.fix_available == FixAvailable::Yes as i32 || f.fix_available == FixAvailable::Partial as i32,
            exploit: f.exploit_available,
        }
    }
}

/// The totals as the apply works on them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    pub findings: BTreeMap<Tally, u64>,
    /// Indexed by `ChangeKind` (0 unused).
    pub changes: [u64; 6],
}

impl Totals {
    /// `before` → `after` for one finding (`before` is `None` for a new finding).
    pub fn moved(&mut self, before: Option<Tally>, after: Tally) {
        if before == Some(after) {
            return;
        }
        if let Some(b) = before {
            let n = self.findings.get_mut(&b);
            debug_assert!(n.as_ref().is_some_and(|n| **n > 0), "finding totals lost a finding");
            if let Some(n) = n {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    self.findings.remove(&b);
                }
            }
        }
        *self.findings.entry(after).or_default() += 1;
    }

    pub fn changed(&mut self, kind: ChangeKind) {
        self.changes[kind as usize] += 1;
    }

    pub fn change_count(&self, kind: ChangeKind) -> u64 {
        self.changes[kind as usize]
    }

    fn from_record(c: FindingCounters) -> Totals {
        let mut t = Totals::default();
        for tally in c.tallies {
            let key = Tally {
                r#type: tally.r#type,
                status: tally.status,
                severity: tally.severity,
                fix: tally.fix,
                exploit: tally.exploit,
            };
            t.findings.insert(key, tally.count);
        }
        t.changes[ChangeKind::Created as usize] = c.created;
        t.changes[ChangeKind::Updated as usize] = c.updated;
        t.changes[ChangeKind::Closed as usize] = c.closed;
        t.changes[ChangeKind::Suppressed as usize] = c.suppressed;
        t.changes[ChangeKind::Reopened as usize] = c.reopened;
        t
    }

    fn to_record(&self) -> FindingCounters {
        FindingCounters {
            version: COUNTERS_VERSION,
            tallies: self
                .findings
                .iter()
                .map(|(k, count)| FindingTally {
                    r#type: k.r#type,
                    status: k.status,
                    severity: k.severity,
                    fix: k.fix,
                    exploit: k.exploit,
                    count: *count,
                })
                .collect(),
            created: self.change_count(ChangeKind::Created),
            updated: self.change_count(ChangeKind::Updated),
            closed: self.change_count(ChangeKind::Closed),
            suppressed: self.change_count(ChangeKind::Suppressed),
            reopened: self.change_count(ChangeKind::Reopened),
        }
    }
}

/// The stored totals. A state written before the totals existed has none: they are counted
/// once from the findings. That happens at the same log position on every replica (the first
/// apply that needs them), over the same findings, so the result is the same everywhere.
pub(super) fn read_txn(txn: &Txn) -> Result<Totals> {
    if let Some(c) = txn.get_record::<FindingCounters>(keys::SM_META, keys::FINDING_COUNTERS)? {
        return Ok(Totals::from_record(c));
    }
    let mut t = Totals::default();
    for item in txn.iter_prefix(keys::FINDINGS, b"") {
        let (_, value) = item?;
        let f: Finding = records::decode(keys::FINDINGS, &value)?;
        t.moved(None, Tally::of(&f));
    }
    Ok(t)
}

pub(super) fn write(txn: &mut Txn, totals: &Totals) {
    let mut record = totals.to_record();
    txn.put_record(keys::SM_META, keys::FINDING_COUNTERS.to_vec(), &mut record);
}

/// The totals as of the last applied entry (absent before the first finding was written).
pub(super) fn read(view: &View) -> Result<Totals> {
    Ok(view
        .get_record::<FindingCounters>(keys::SM_META, keys::FINDING_COUNTERS)?
        .map(Totals::from_record)
        .unwrap_or_default())
}
