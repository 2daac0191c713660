//! The replicated state machine: accounts, resources and their coverage, findings with their
//! lifecycle, suppression rules and the finding change log, in RocksDB column families.
//! Applying is deterministic: everything time-dependent comes from the proposal (`now`, set by
//! the leader), so every replica computes the same bytes.
//!
//! Writes go through [`Txn`] (`apply.rs` and the command modules); reads for the API go through
//! a RocksDB snapshot ([`view::View`]) so that a page, an aggregation or a feed batch sees one
//! consistent state while applies continue.

mod aggregate;
mod apply;
mod attach;
mod changelog;
mod coverage;
mod filter;
mod findings;
mod inventory;
mod keys;
mod network;
mod page;
mod query;
mod records;
mod reevaluation;
mod scan;
mod schedule;
mod score;
mod stale;
mod suppression;
mod tally;
mod txn;
mod validate;
mod view;

#[cfg(test)]
pub(crate) mod tests;

use std::sync::Arc;

use argus_proto::internal::v1::{
    ArtifactSchedule, ChangeLogBounds, Command, PipelineCounters, Proposal, ProposalResponse,
};
use argus_proto::v1;
use rocksdb::{FlushOptions, WriteOptions, DB};
use tokio::sync::watch;

use crate::error::Result;
pub use inventory::held_coverage;
pub use schedule::{shard_of, SHARDS};
pub use tally::{Tally, Totals as FindingTotals};
pub use txn::{PrefixIter, Txn};
pub use validate::{single_scan_result as validate_scan_result, MAX_BATCH, MAX_SCAN_RESULTS};

/// The column families the state machine owns; every one of them is part of a snapshot.
/// `sm_meta` also holds the Raft bookkeeping the state machine must persist atomically with
/// its data (last applied log id, membership), written by `raft::state_machine`.
pub const COLUMN_FAMILIES: &[&str] = &[
    "sm_meta",
    "accounts",
    "resources",
    "findings",
    "by_resource",
    "by_artifact",
    "artifacts",
    "rules",
    "changes",
    "schedule",
    "timers",
    "inventories",
    "packages",
    "exposures",
    "reported",
];

/// Writes every state column family's memtable to table files, atomically, and waits: after
/// this, everything applied before the call survives a crash without the WAL that
/// [`State::commit`] does not write.
pub fn persist(db: &DB) -> Result<()> {
    let handles: Vec<_> = COLUMN_FAMILIES
        .iter()
        .map(|name| db.cf_handle(name).expect("state column family opened"))
        .collect();
    let mut opts = FlushOptions::default();
    opts.set_wait(true);
    db.flush_cfs_opt(&handles, &opts)?;
    Ok(())
}

/// Most entries in one page of any list; a larger `page_size` is INVALID_ARGUMENT.
pub const MAX_PAGE_SIZE: usize = 1000;
/// Entries in a page when the request leaves the size unset.
pub const DEFAULT_PAGE_SIZE: usize = 100;

pub struct State {
    db: Arc<DB>,
    /// The last assigned change cursor, for feed subscribers to wait on.
    cursor: watch::Sender<u64>,
}

impl State {
    pub fn new(db: Arc<DB>) -> Result<Self> {
        let (cursor, _) = watch::channel(0);
        let state = Self { db, cursor };
        state.reloaded()?;
        Ok(state)
    }

    pub fn db(&self) -> &Arc<DB> {
        &self.db
    }

    pub fn begin(&self) -> Txn {
        Txn::new(self.db.clone())
    }

    /// Adds the effects of one proposal to `txn`; one result per command. A command that is
    /// invalid or refused gets a `CommandResult::Error` and changes nothing; `Err` means storage
    /// failed and the apply must not be committed.
    pub fn apply(&self, txn: &mut Txn, proposal: &Proposal) -> Result<ProposalResponse> {
        apply::proposal(txn, proposal)
    }

    /// Writes `txn` and wakes feed subscribers.
    ///
    /// DURABILITY: without the write-ahead log. The Raft log is the durable copy of everything
    /// applied (synced before openraft reports it flushed), and a restarted node re-applies
    /// its committed entries from there (`save_committed`), so the state's WAL records were a
    /// second copy: they were two thirds of the bytes every synced log append had to write and
    /// about 4 % of a follower's CPU. What this relies on:
    /// - the database flushes atomically (`raft::store`), so a crash leaves the state column
    ///   families at one common applied point, never the findings of one batch without their
    ///   change-log entries;
    /// - no log entry is purged before the state it produced is in table files: a snapshot is
    ///   built only after [`persist`] (`raft::snapshot`), and openraft purges behind snapshots;
    /// - a write that goes through the WAL on top of WAL-less ones (a snapshot install) is
    ///   preceded by [`persist`], so a recovery cannot replay it on top of older table data.
    pub fn commit(&self, txn: Txn) -> Result<()> {
        let (db, batch) = txn.into_batch();
        let mut opts = WriteOptions::default();
        opts.disable_wal(true);
        db.write_opt(batch, &opts)?;
        self.reloaded()
    }

    /// Re-reads cached values after the column families were replaced by a snapshot install.
    pub fn reloaded(&self) -> Result<()> {
        let last = changelog::read_bounds(&view::View::new(&self.db))?.next - 1;
        self.cursor.send_if_modified(|c| {
            let changed = *c != last;
            *c = last;
            changed
        });
        Ok(())
    }

    /// Checks a command before it is proposed: anything refused here is refused as a whole.
    /// `apply` checks again, so a command that skipped this is refused there, not half-applied.
    pub fn validate(command: &Command) -> Result<()> {
        validate::command(command)
    }

    pub fn watch_cursor(&self) -> watch::Receiver<u64> {
        self.cursor.subscribe()
    }

    pub fn change_log_bounds(&self) -> Result<ChangeLogBounds> {
        changelog::read_bounds(&view::View::new(&self.db))
    }

    /// Up to `limit` changes after `cursor` that match `filter`, and the last cursor examined
    /// (pass it as the next `cursor`: a filtered consumer advances even when nothing matched).
    /// Cursor 0 starts at the oldest retained change; a cursor the log no longer reaches back to
    /// is `Error::CursorExpired`.
    pub fn changes_after(
        &self,
        cursor: u64,
        filter: Option<&v1::FindingFilter>,
        limit: usize,
    ) -> Result<(Vec<v1::FindingChange>, u64)> {
        changelog::changes_after(&view::View::new(&self.db), cursor, filter, limit)
    }

    pub fn list_findings(&self, req: &v1::ListFindingsRequest) -> Result<v1::ListFindingsResponse> {
        query::list_findings(&view::View::new(&self.db), req)
    }

    /// A finding with its resource's current record attached.
    pub fn get_finding(&self, id: &str) -> Result<Option<v1::Finding>> {
        let view = view::View::new(&self.db);
        let Some(mut finding) = view.get_record(keys::FINDINGS, id.as_bytes())? else {
            return Ok(None);
        };
        attach::from_view(&view).attach(&mut finding)?;
        Ok(Some(finding))
    }

    pub fn aggregate_findings(&self, req: &v1::AggregateFindingsRequest) -> Result<v1::AggregateFindingsResponse> {
        aggregate::aggregate_findings(&view::View::new(&self.db), req)
    }

    pub fn get_account(&self, id: &str) -> Result<Option<v1::Account>> {
        view::View::new(&self.db).get_record(keys::ACCOUNTS, id.as_bytes())
    }

    pub fn list_accounts(&self, req: &v1::ListAccountsRequest) -> Result<v1::ListAccountsResponse> {
        query::list_accounts(&view::View::new(&self.db), req)
    }

    /// A resource by id, removed ones included (they say `removed`).
    pub fn get_resource(&self, id: &str) -> Result<Option<v1::Resource>> {
        view::View::new(&self.db).get_record(keys::RESOURCES, id.as_bytes())
    }

    pub fn list_resources(&self, req: &v1::ListResourcesRequest) -> Result<v1::ListResourcesResponse> {
        let (resources, next_page_token) = self.resources_page(req.filter.as_ref(), req.page_size, &req.page_token)?;
        Ok(v1::ListResourcesResponse {
            resources,
            next_page_token,
        })
    }

    /// Coverage is part of each resource record: the same page, under the coverage API.
    pub fn list_coverage(&self, req: &v1::ListCoverageRequest) -> Result<v1::ListCoverageResponse> {
        let (resources, next_page_token) = self.resources_page(req.filter.as_ref(), req.page_size, &req.page_token)?;
        Ok(v1::ListCoverageResponse {
            resources,
            next_page_token,
        })
    }

    fn resources_page(
        &self,
        filter: Option<&v1::ResourceFilter>,
        page_size: u32,
        token: &str,
    ) -> Result<(Vec<v1::Resource>, String)> {
        query::list_resources(&view::View::new(&self.db), filter, page_size, token)
    }

    pub fn coverage_statistics(
        &self,
        req: &v1::GetCoverageStatisticsRequest,
    ) -> Result<v1::GetCoverageStatisticsResponse> {
        coverage::statistics(&view::View::new(&self.db), req)
    }

    pub fn get_rule(&self, name: &str) -> Result<Option<v1::SuppressionRule>> {
        view::View::new(&self.db).get_record(keys::RULES, name.as_bytes())
    }

    pub fn list_rules(&self, req: &v1::ListSuppressionRulesRequest) -> Result<v1::ListSuppressionRulesResponse> {
        query::list_rules(&view::View::new(&self.db), req)
    }

    /// Artifacts the scheduler must look at now: due for a job, or with a job whose deadline or
    /// retry time has come. At most `per_shard` per shard, shards interleaved.
    pub fn due_artifacts(&self, now: &prost_types::Timestamp, per_shard: usize) -> Result<Vec<ArtifactSchedule>> {
        schedule::due(&view::View::new(&self.db), now, per_shard)
    }

    /// Jobs in flight with a deadline in `(now, horizon]` (see `schedule::in_flight`).
    pub fn in_flight_jobs(
        &self,
        now: &prost_types::Timestamp,
        horizon: &prost_types::Timestamp,
    ) -> Result<Vec<ArtifactSchedule>> {
        schedule::in_flight(&view::View::new(&self.db), now, horizon)
    }

    pub fn artifact_schedule(&self, digest: &str) -> Result<Option<ArtifactSchedule>> {
        view::View::new(&self.db).get_record(keys::SCHEDULE, digest.as_bytes())
    }

    /// The stored package inventory of the artifact's newest successful scan, as reported
    /// (zstd-compressed JSON).
    pub fn artifact_inventory(&self, digest: &str) -> Result<Option<Vec<u8>>> {
        view::View::new(&self.db).get(keys::INVENTORIES, digest.as_bytes())
    }

    /// Calls `f` with every resource, removed ones included, from one consistent snapshot.
    pub fn for_each_resource(&self, mut f: impl FnMut(&v1::Resource)) -> Result<()> {
        let view = view::View::new(&self.db);
        for item in view.iter_from(keys::RESOURCES, b"") {
            let (_, value) = item?;
            let r: v1::Resource = records::decode(keys::RESOURCES, &value)?;
            f(&r);
        }
        Ok(())
    }

    /// Findings by type, status, severity, fix and exploit, and change events by kind.
    pub fn finding_totals(&self) -> Result<FindingTotals> {
        tally::read(&view::View::new(&self.db))
    }

    pub fn pipeline_counters(&self) -> Result<PipelineCounters> {
        Ok(view::View::new(&self.db)
            .get_record(keys::SM_META, keys::PIPELINE_COUNTERS)?
            .unwrap_or_default())
    }
}
