//! Applying one proposal: validation, dispatch to the command modules, and the context they
//! share (the transaction, the proposal's `now`, the change-log cursor, the suppression rules).

use std::sync::Arc;

use argus_proto::internal::v1::command::Kind as Cmd;
use argus_proto::internal::v1::command_result::Kind as Res;
use argus_proto::internal::v1::{
    ChangeLogBounds, CommandError, CommandResult, PipelineCounters, Proposal, ProposalResponse,
};
use argus_proto::v1::{ChangeKind, Finding, FindingChange, IngestScanResultsRequest, SuppressionRule};
use prost_types::Timestamp;

use super::tally::{self, Tally, Totals};
use super::{
    changelog, inventory, keys, network, records, reevaluation, scan, schedule, stale, suppression, validate, Txn,
};
use crate::error::{Error, Result};

/// Everything one apply call's commands share.
pub(super) struct Ctx<'t> {
    pub txn: &'t mut Txn,
    /// The leader's clock when it proposed: the only time applying may use.
    pub now: Timestamp,
    bounds: ChangeLogBounds,
    bounds_dirty: bool,
    rules: Option<Arc<Vec<SuppressionRule>>>,
    /// Read with the bounds, written back at the end of the apply call when touched.
    counters: PipelineCounters,
    counters_dirty: bool,
    /// Read with the bounds, written back at the end of the apply call when a finding changed.
    totals: Totals,
    totals_dirty: bool,
}

impl<'t> Ctx<'t> {
    fn new(txn: &'t mut Txn, now: Timestamp) -> Result<Self> {
        let bounds = changelog::read_bounds_txn(txn)?;
        let counters = schedule::read_counters_txn(txn)?;
        let totals = tally::read_txn(txn)?;
        Ok(Self {
            txn,
            now,
            bounds,
            bounds_dirty: false,
            rules: None,
            counters,
            counters_dirty: false,
            totals,
            totals_dirty: false,
        })
    }

    pub fn bounds(&self) -> &ChangeLogBounds {
        &self.bounds
    }

    pub fn set_first_retained(&mut self, first: u64) {
        debug_assert!(first >= self.bounds.first && first <= self.bounds.next);
        self.bounds.first = first;
        self.bounds_dirty = true;
    }

    /// Stores `finding` and, when `change` is set, appends it to the change log under the next
    /// cursor. Cursors follow apply order, which is log order: identical on every replica.
    /// `before` is what the stored finding counted as (`None` when it is new), for the totals.
    pub fn write_finding(&mut self, before: Option<Tally>, finding: &mut Finding, change: Option<ChangeKind>) {
        let after = Tally::of(finding);
        if before != Some(after) || change.is_some() {
            self.totals.moved(before, after);
            if let Some(kind) = change {
                self.totals.changed(kind);
            }
            self.totals_dirty = true;
        }
        let id = finding.finding_id.clone();
        let Some(kind) = change else {
            self.txn.put_record(keys::FINDINGS, id.into_bytes(), finding);
            return;
        };
        let cursor = self.bounds.next;
        self.bounds.next += 1;
        self.bounds_dirty = true;
        let mut record = FindingChange {
            cursor,
            kind: kind as i32,
            changed_at: Some(self.now),
            finding: None,
        };
        let (stored, logged) = records::encode_finding_and_change(finding, &mut record);
        self.txn.put(keys::FINDINGS, id.into_bytes(), stored);
        self.txn.put(keys::CHANGES, keys::change(cursor).to_vec(), logged);
    }

    /// The suppression rules in name order, read once per apply and re-read after a rule change.
    pub fn rules(&mut self) -> Result<Arc<Vec<SuppressionRule>>> {
        if let Some(r) = &self.rules {
            return Ok(r.clone());
        }
        let rules = suppression::load_rules(self.txn)?;
        let rules = Arc::new(rules);
        self.rules = Some(rules.clone());
        Ok(rules)
    }

    pub fn rules_changed(&mut self) {
        self.rules = None;
    }

    /// The pipeline counters, read without marking them for writing.
    pub fn counters_now(&self) -> &PipelineCounters {
        &self.counters
    }

    pub fn counters(&mut self) -> &mut PipelineCounters {
        self.counters_dirty = true;
        &mut self.counters
    }

    fn finish(mut self) {
        if self.totals_dirty {
            tally::write(self.txn, &self.totals);
        }
        if self.counters_dirty {
            schedule::write_counters(self.txn, &mut self.counters);
        }
        if self.bounds_dirty {
            let mut bounds = self.bounds;
            changelog::write_bounds(self.txn, &mut bounds);
        }
    }
}

pub(super) fn proposal(txn: &mut Txn, proposal: &Proposal) -> Result<ProposalResponse> {
    if proposal.commands.is_empty() {
        return Ok(ProposalResponse::default());
    }
    let mut ctx = Ctx::new(txn, proposal.now.unwrap_or_default())?;
    let mut results = Vec::with_capacity(proposal.commands.len());
    for command in &proposal.commands {
        // Validation is pure, so every replica refuses the same commands; checking here too
        // means a command that reached the log without `State::validate` is refused whole.
        let kind = match validate::command(command) {
            Ok(()) => dispatch(&mut ctx, command.kind.as_ref().expect("validated"))?,
            Err(Error::InvalidArgument(message)) => refused("INVALID_ARGUMENT", message),
            Err(e) => return Err(e),
        };
        results.push(CommandResult { kind: Some(kind) });
    }
    ctx.finish();
    Ok(ProposalResponse { results })
}

pub(super) fn refused(code: &str, message: String) -> Res {
    Res::Error(CommandError {
        code: code.into(),
        message,
    })
}

fn dispatch(ctx: &mut Ctx, command: &Cmd) -> Result<Res> {
    Ok(match command {
        Cmd::PutAccounts(req) => Res::PutAccounts(inventory::put_accounts(ctx, req)?),
        Cmd::RemoveAccounts(req) => Res::RemoveAccounts(inventory::remove_accounts(ctx, req)?),
        Cmd::PutResources(req) => Res::PutResources(inventory::put_resources(ctx, req)?),
        Cmd::RemoveResources(req) => Res::RemoveResources(inventory::remove_resources(ctx, req)?),
        Cmd::IngestScanResults(req) => Res::IngestScanResults(scan::ingest(ctx, req)?),
        Cmd::SetCoverage(req) => Res::SetCoverage(scan::set_coverage(ctx, req)?),
        Cmd::PutSuppressionRule(req) => Res::PutSuppressionRule(suppression::put_rule(ctx, req)?),
        Cmd::DeleteSuppressionRule(req) => match suppression::delete_rule(ctx, req)? {
            Some(resp) => Res::DeleteSuppressionRule(resp),
            None => refused("NOT_FOUND", format!("suppression rule {:?} does not exist", req.name)),
        },
        Cmd::CompactChangeLog(req) => Res::CompactChangeLog(changelog::compact(ctx, req)?),
        Cmd::DispatchJobs(req) => Res::DispatchJobs(schedule::dispatch(ctx, req)?),
        Cmd::ExpireJobs(req) => {
            let (resp, failures) = schedule::expire(ctx, req)?;
            scan::ingest(ctx, &IngestScanResultsRequest { results: failures })?;
            Res::ExpireJobs(resp)
        }
        Cmd::RequestScans(req) => Res::RequestScans(schedule::request(ctx, req)?),
        Cmd::Reevaluate(req) => Res::Reevaluate(reevaluation::reevaluate(ctx, req)?),
        Cmd::SetNetworkExposures(req) => Res::SetNetworkExposures(network::set_exposures(ctx, req)?),
        Cmd::MarkStaleInventories(req) => Res::MarkStaleInventories(stale::mark(ctx, req)?),
        Cmd::ReportHostInventory(req) => match inventory::report_host_inventory(ctx, req)? {
            Some(resp) => Res::ReportHostInventory(resp),
            None => refused(
                "INVALID_ARGUMENT",
                format!(
                    "account_id: required for {:?}, which is not in the inventory",
                    req.resource_id
                ),
            ),
        },
    })
}
