//! The Raft state machine (openraft storage v2): applies committed entries to [`State`] and
//! keeps the applied log id and membership beside the data, in the same atomic write.

use std::path::PathBuf;
use std::sync::Arc;

use openraft::storage::RaftStateMachine;
use openraft::{
    BasicNode, Entry, EntryPayload, LogId, Snapshot, SnapshotMeta, StorageError, StorageIOError, StoredMembership,
};
use rocksdb::{WriteBatch, DB};

use super::log_store::cf;
use super::snapshot::{SnapshotBuilder, SnapshotStore};
use super::{blocking, codec, NodeId, Reply, TypeConfig};
use crate::error::{Error, Result};
use crate::state::{self, State};

/// The state machine's bookkeeping column family (shared with `state`, which owns every key not
/// prefixed `raft.`).
pub(crate) const CF_SM_META: &str = "sm_meta";
const KEY_APPLIED: &[u8] = b"raft.applied";
const KEY_MEMBERSHIP: &[u8] = b"raft.membership";

type Membership = StoredMembership<NodeId, BasicNode>;
type StorageResult<T> = std::result::Result<T, StorageError<NodeId>>;

/// The Raft bookkeeping stored in `sm_meta`.
pub(crate) struct SmMeta {
    pub applied: Option<LogId<NodeId>>,
    /// `None` leaves the stored membership as it is.
    pub membership: Option<Membership>,
}

impl SmMeta {
    fn records(&self) -> Result<Vec<(&'static [u8], Vec<u8>)>> {
        let mut out = vec![(KEY_APPLIED, codec::encode(&self.applied)?)];
        if let Some(membership) = &self.membership {
            out.push((KEY_MEMBERSHIP, codec::encode(membership)?));
        }
        Ok(out)
    }

    pub fn put(&self, db: &DB, batch: &mut WriteBatch) -> Result<()> {
        for (key, value) in self.records()? {
            batch.put_cf(cf(db, CF_SM_META), key, value);
        }
        Ok(())
    }
}

/// Reads the applied log id and membership through `get` (the database or a point-in-time view
/// of it); absent keys mean nothing was applied yet.
pub(crate) fn applied_state_from(
    get: impl Fn(&[u8]) -> Result<Option<Vec<u8>>>,
) -> Result<(Option<LogId<NodeId>>, Membership)> {
    let applied = match get(KEY_APPLIED)? {
        Some(bytes) => codec::decode(&bytes)?,
        None => None,
    };
    let membership = match get(KEY_MEMBERSHIP)? {
        Some(bytes) => codec::decode(&bytes)?,
        None => Membership::default(),
    };
    Ok((applied, membership))
}

pub struct StateMachine {
    db: Arc<DB>,
    state: Arc<State>,
    snapshots: Arc<SnapshotStore>,
    applied: Option<LogId<NodeId>>,
    membership: Membership,
}

impl StateMachine {
    /// Opens the state machine over `db`, finishing a snapshot install a crash interrupted.
    pub fn open(db: Arc<DB>, state: Arc<State>, snapshot_dir: PathBuf) -> Result<StateMachine> {
        debug_assert!(state::COLUMN_FAMILIES.contains(&CF_SM_META));
        let (snapshots, resumed) = SnapshotStore::open(db.clone(), snapshot_dir)?;
        if resumed {
            state.reloaded()?;
        }
        let (applied, membership) = applied_state_from(|key| Ok(db.get_cf(cf(&db, CF_SM_META), key)?))?;
        Ok(StateMachine {
            db,
            state,
            snapshots,
            applied,
            membership,
        })
    }

    pub fn state(&self) -> &Arc<State> {
        &self.state
    }

    pub fn snapshot_dir(&self) -> &std::path::Path {
        self.snapshots.dir()
    }
}

/// Applies `entries` in one transaction. Errors name the entry that failed.
fn apply_batch(
    state: &State,
    entries: &[Entry<TypeConfig>],
    mut membership: Membership,
) -> std::result::Result<(Vec<Reply>, Membership), (LogId<NodeId>, Error)> {
    let last = entries.last().expect("a non-empty batch").log_id;
    let mut txn = state.begin();
    let mut replies = Vec::with_capacity(entries.len());
    let mut membership_changed = false;
    for entry in entries {
        let reply = match &entry.payload {
            EntryPayload::Blank => Reply::default(),
            // An empty proposal changes nothing; answering it here keeps it from reaching the
            // state's command dispatch at all.
            EntryPayload::Normal(request) if request.proposal().commands.is_empty() => Reply::default(),
            EntryPayload::Normal(request) => Reply(
                state
                    .apply(&mut txn, request.proposal())
                    .map_err(|e| (entry.log_id, e))?,
            ),
            EntryPayload::Membership(m) => {
                membership = StoredMembership::new(Some(entry.log_id), m.clone());
                membership_changed = true;
                Reply::default()
            }
        };
        replies.push(reply);
    }
    let meta = SmMeta {
        applied: Some(last),
        membership: membership_changed.then(|| membership.clone()),
    };
    for (key, value) in meta.records().map_err(|e| (last, e))? {
        txn.put(CF_SM_META, key, value);
    }
    // DURABILITY: one atomic write, without the WAL (`State::commit`). The entries are in the
    // synced Raft log, and at start-up openraft re-applies every committed entry after the
    // applied id that survived, so losing this write in a crash only repeats work. The log is
    // never purged past an applied id that is not in table files: building a snapshot
    // flushes the state before purging can start (see `snapshot`). An entry is applied only
    // after its synced append returned (`log_store::append`), so a recovered state never
    // runs ahead of the recovered log.
    state.commit(txn).map_err(|e| (last, e))?;
    Ok((replies, membership))
}

impl RaftStateMachine<TypeConfig> for StateMachine {
    type SnapshotBuilder = SnapshotBuilder;

    async fn applied_state(&mut self) -> StorageResult<(Option<LogId<NodeId>>, Membership)> {
        Ok((self.applied, self.membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> StorageResult<Vec<Reply>>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + Send,
        I::IntoIter: Send,
    {
        let entries: Vec<Entry<TypeConfig>> = entries.into_iter().collect();
        let Some(last) = entries.last().map(|e| e.log_id) else {
            return Ok(Vec::new());
        };
        debug_assert!(
            entries.windows(2).all(|w| w[0].log_id.index + 1 == w[1].log_id.index)
                && self
                    .applied
                    .is_none_or(|applied| applied.index < entries[0].log_id.index),
            "entries are applied once, in order"
        );
        let state = self.state.clone();
        let membership = self.membership.clone();
        // Applying is CPU work over RocksDB reads: off the executor.
        let (replies, membership) = tokio::task::spawn_blocking(move || apply_batch(&state, &entries, membership))
            .await
            .map_err(|e| StorageIOError::apply(last, &Error::Raft(format!("apply task failed: {e}"))))?
            .map_err(|(log_id, e)| StorageIOError::apply(log_id, &e))?;
        self.applied = Some(last);
        self.membership = membership;
        Ok(replies)
    }

    async fn get_snapshot_builder(&mut self) -> SnapshotBuilder {
        SnapshotBuilder {
            store: self.snapshots.clone(),
        }
    }

    async fn begin_receiving_snapshot(&mut self) -> StorageResult<Box<tokio::fs::File>> {
        let snapshots = self.snapshots.clone();
        let file = blocking(move || snapshots.begin_receiving())
            .await
            .map_err(|e| StorageIOError::write_snapshot(None, &e))?;
        Ok(Box::new(tokio::fs::File::from_std(file)))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta<NodeId, BasicNode>,
        snapshot: Box<tokio::fs::File>,
    ) -> StorageResult<()> {
        let signature = Some(meta.signature());
        let io_err = |e: &Error| StorageError::from(StorageIOError::write_snapshot(signature.clone(), e));
        let mut file = *snapshot;
        // Writes openraft made through the async handle may still be in flight.
        tokio::io::AsyncWriteExt::flush(&mut file)
            .await
            .map_err(|e| io_err(&Error::io(self.snapshots.dir(), e)))?;
        let file = file.into_std().await;
        let snapshots = self.snapshots.clone();
        let state = self.state.clone();
        let owned_meta = meta.clone();
        blocking(move || {
            snapshots.install(&owned_meta, file)?;
            state.reloaded()
        })
        .await
        .map_err(|e| io_err(&e))?;
        crate::telemetry::instruments::snapshot("installed");
        self.applied = meta.last_log_id;
        self.membership = meta.last_membership.clone();
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> StorageResult<Option<Snapshot<TypeConfig>>> {
        let snapshots = self.snapshots.clone();
        let current = blocking(move || snapshots.current())
            .await
            .map_err(|e| StorageIOError::read_snapshot(None, &e))?;
        Ok(current.map(|(meta, file)| Snapshot {
            meta,
            snapshot: Box::new(tokio::fs::File::from_std(file)),
        }))
    }
}

impl StateMachine {
    /// The database this state machine writes, for tests and diagnostics.
    pub fn db(&self) -> &Arc<DB> {
        &self.db
    }
}
