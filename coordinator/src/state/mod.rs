//! The replicated state machine: accounts, resources and their coverage, findings with their
//! lifecycle, suppression rules and the finding change log, in RocksDB column families.
//! Applying is deterministic: everything time-dependent comes from the proposal (`now`, set by
//! the leader), so every replica computes the same bytes.
//!
//! INTERFACE STUB: the bodies are written on the `helper-state` branch.

mod txn;

use std::sync::Arc;

use argus_proto::internal::v1::{ChangeLogBounds, Command, Proposal, ProposalResponse};
use argus_proto::v1;
use rocksdb::DB;
use tokio::sync::watch;

use crate::error::Result;
pub use txn::Txn;

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
];

pub struct State {
    db: Arc<DB>,
    /// The last assigned change cursor, for feed subscribers to wait on.
    cursor: watch::Sender<u64>,
}

impl State {
    pub fn new(db: Arc<DB>) -> Result<Self> {
        let (cursor, _) = watch::channel(0);
        Ok(Self { db, cursor })
    }

    pub fn db(&self) -> &Arc<DB> {
        &self.db
    }

    pub fn begin(&self) -> Txn {
        Txn::new(self.db.clone())
    }

    /// Adds the effects of one proposal to `txn`; one result per command.
    pub fn apply(&self, _txn: &mut Txn, _proposal: &Proposal) -> Result<ProposalResponse> {
        unimplemented!("helper-state")
    }

    /// Writes `txn` (not synced: the Raft log is, and applying is replayed from it) and wakes
    /// feed subscribers.
    pub fn commit(&self, txn: Txn) -> Result<()> {
        let (db, batch) = txn.into_batch();
        db.write(batch)?;
        self.reloaded()
    }

    /// Re-reads cached values after the column families were replaced by a snapshot install.
    pub fn reloaded(&self) -> Result<()> {
        let _ = &self.cursor;
        Ok(())
    }

    /// Checks a command before it is proposed: anything refused here is refused as a whole.
    pub fn validate(_command: &Command) -> Result<()> {
        unimplemented!("helper-state")
    }

    pub fn watch_cursor(&self) -> watch::Receiver<u64> {
        self.cursor.subscribe()
    }

    pub fn change_log_bounds(&self) -> Result<ChangeLogBounds> {
        unimplemented!("helper-state")
    }

    /// Up to `limit` changes after `cursor` that match `filter`, and the last cursor examined.
    pub fn changes_after(
        &self,
        _cursor: u64,
        _filter: Option<&v1::FindingFilter>,
        _limit: usize,
    ) -> Result<(Vec<v1::FindingChange>, u64)> {
        unimplemented!("helper-state")
    }

    pub fn list_findings(&self, _req: &v1::ListFindingsRequest) -> Result<v1::ListFindingsResponse> {
        unimplemented!("helper-state")
    }

    pub fn get_finding(&self, _id: &str) -> Result<Option<v1::Finding>> {
        unimplemented!("helper-state")
    }

    pub fn aggregate_findings(&self, _req: &v1::AggregateFindingsRequest) -> Result<v1::AggregateFindingsResponse> {
        unimplemented!("helper-state")
    }

    pub fn get_account(&self, _id: &str) -> Result<Option<v1::Account>> {
        unimplemented!("helper-state")
    }

    pub fn list_accounts(&self, _req: &v1::ListAccountsRequest) -> Result<v1::ListAccountsResponse> {
        unimplemented!("helper-state")
    }

    pub fn get_resource(&self, _id: &str) -> Result<Option<v1::Resource>> {
        unimplemented!("helper-state")
    }

    pub fn list_resources(&self, _req: &v1::ListResourcesRequest) -> Result<v1::ListResourcesResponse> {
        unimplemented!("helper-state")
    }

    pub fn list_coverage(&self, _req: &v1::ListCoverageRequest) -> Result<v1::ListCoverageResponse> {
        unimplemented!("helper-state")
    }

    pub fn coverage_statistics(
        &self,
        _req: &v1::GetCoverageStatisticsRequest,
    ) -> Result<v1::GetCoverageStatisticsResponse> {
        unimplemented!("helper-state")
    }

    pub fn get_rule(&self, _name: &str) -> Result<Option<v1::SuppressionRule>> {
        unimplemented!("helper-state")
    }

    pub fn list_rules(&self, _req: &v1::ListSuppressionRulesRequest) -> Result<v1::ListSuppressionRulesResponse> {
        unimplemented!("helper-state")
    }
}
