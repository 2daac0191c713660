//! The Raft log and vote (openraft storage v2) in the `log` and `raft_meta` column families.
//!
//! Every method that writes awaits its RocksDB write before returning, and openraft calls them
//! one at a time (`&mut self`), so writes reach RocksDB in the order openraft issued them; the
//! blocking calls run on tokio's blocking pool, never on the executor threads.
//!
//! The newest entries are also kept decoded in memory ([`Recent`]): the leader reads each entry
//! back once per follower and once to apply it, a follower once to apply it, and decoding a
//! megabyte proposal every time was a visible share of both.

use std::collections::VecDeque;
use std::fmt::Debug;
use std::io;
use std::ops::{Bound, RangeBounds};
use std::sync::{Arc, Mutex};

use openraft::storage::{LogFlushed, LogState, RaftLogStorage};
use openraft::{Entry, LogId, RaftLogReader, StorageError, StorageIOError, Vote};
use rocksdb::{Direction, IteratorMode, WriteBatch, WriteOptions, DB};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::store::{CF_LOG, CF_RAFT_META};
use super::{blocking, codec, NodeId, TypeConfig};
use crate::error::{Error, Result};

const KEY_VOTE: &[u8] = b"vote";
const KEY_COMMITTED: &[u8] = b"committed";
const KEY_LAST_PURGED: &[u8] = b"last_purged";

type StorageResult<T> = std::result::Result<T, StorageError<NodeId>>;

/// Most bytes (encoded) of entries kept decoded in memory.
const RECENT_BYTES: usize = 32 << 20;

/// The log store. Clones share the database and the recent entries; a clone serves as the log
/// reader replication tasks use.
#[derive(Clone)]
pub struct LogStore {
    db: Arc<DB>,
    recent: Arc<Mutex<Recent>>,
}

/// The newest durable entries, consecutive, decoded. It only ever holds entries that are also
/// in RocksDB, so a read it cannot answer in full goes to RocksDB and gets the same entries.
#[derive(Default)]
struct Recent {
    entries: VecDeque<(Entry<TypeConfig>, usize)>,
    bytes: usize,
}

impl Recent {
    fn first_index(&self) -> Option<u64> {
        self.entries.front().map(|(e, _)| e.log_id.index)
    }

    /// Adds entries just made durable. A gap (after a truncation or a snapshot install) starts
    /// over, since the kept entries must stay consecutive.
    fn push(&mut self, entries: Vec<(Entry<TypeConfig>, usize)>) {
        if let (Some((last, _)), Some((next, _))) = (self.entries.back(), entries.first()) {
            if last.log_id.index + 1 != next.log_id.index {
                self.clear();
            }
        }
        for (entry, size) in entries {
            self.bytes += size;
            self.entries.push_back((entry, size));
        }
        while self.bytes > RECENT_BYTES && self.entries.len() > 1 {
            let (_, size) = self.entries.pop_front().expect("non-empty");
            self.bytes -= size;
        }
    }

    /// Entries `[start, end)` when every one of them is here.
    fn get(&self, start: u64, end: Option<u64>) -> Option<Vec<Entry<TypeConfig>>> {
        let first = self.first_index()?;
        let last = self.entries.back()?.0.log_id.index;
        let end = end.unwrap_or(last + 1);
        if start < first || end > last + 1 {
            return None;
        }
        let from = (start - first) as usize;
        let to = (end.max(start) - first) as usize;
        Some(self.entries.range(from..to).map(|(e, _)| e.clone()).collect())
    }

    /// Forgets entries from `index` on (a truncation).
    fn truncate(&mut self, index: u64) {
        while self.entries.back().is_some_and(|(e, _)| e.log_id.index >= index) {
            let (_, size) = self.entries.pop_back().expect("non-empty");
            self.bytes -= size;
        }
    }

    /// Forgets entries up to and including `index` (a purge).
    fn purge(&mut self, index: u64) {
        while self.entries.front().is_some_and(|(e, _)| e.log_id.index <= index) {
            let (_, size) = self.entries.pop_front().expect("non-empty");
            self.bytes -= size;
        }
    }

    fn clear(&mut self) {
        self.entries.clear();
        self.bytes = 0;
    }
}

impl LogStore {
    pub fn new(db: Arc<DB>) -> Result<LogStore> {
        for cf in [CF_LOG, CF_RAFT_META] {
            if db.cf_handle(cf).is_none() {
                return Err(Error::Raft(format!("column family {cf} is not open")));
            }
        }
        Ok(LogStore {
            db,
            recent: Default::default(),
        })
    }

    async fn run<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&DB) -> Result<T> + Send + 'static,
    {
        let db = self.db.clone();
        blocking(move || f(&db)).await
    }

    async fn put_meta<T: Serialize>(&self, key: &'static [u8], value: &T, sync: bool) -> Result<()> {
        let bytes = codec::encode(value)?;
        self.run(move |db| {
            let mut opts = WriteOptions::default();
            opts.set_sync(sync);
            let mut batch = WriteBatch::default();
            batch.put_cf(cf(db, CF_RAFT_META), key, bytes);
            Ok(db.write_opt(batch, &opts)?)
        })
        .await
    }

    async fn get_meta<T: DeserializeOwned + Send + 'static>(&self, key: &'static [u8]) -> Result<Option<T>> {
        self.run(move |db| read_meta(db, key)).await
    }
}

pub(crate) fn cf<'a>(db: &'a DB, name: &str) -> &'a rocksdb::ColumnFamily {
    db.cf_handle(name)
        .unwrap_or_else(|| panic!("column family {name} is opened with the database"))
}

pub(crate) fn read_meta<T: DeserializeOwned>(db: &DB, key: &[u8]) -> Result<Option<T>> {
    match db.get_cf(cf(db, CF_RAFT_META), key)? {
        Some(bytes) => Ok(Some(codec::decode(&bytes)?)),
        None => Ok(None),
    }
}

/// Makes an empty log start where a restored snapshot ends: purged up to and committed at
/// `last`, and a vote in `last`'s term cast for nobody. Synced, one batch.
///
/// Why each key: openraft reads the log state at start-up and takes `last_purged` as the last
/// log id when no entry is stored, so the node agrees with its snapshot about where the log
/// ends. `committed` equal to the applied id means nothing is re-applied. The vote carries the
/// term because openraft campaigns in the vote's term plus one: with the default vote (term 0)
/// the first leader after a restore would be elected in term 1 and append entries whose log ids
/// sort below the snapshot's last one, which breaks the ordering every Raft check relies on.
/// Node id 0 is no member (ids start at 1), so the node has voted for no candidate of that term
/// and grants its vote in the next one.
pub(crate) fn record_restored(db: &DB, last: LogId<NodeId>) -> Result<()> {
    let meta = cf(db, CF_RAFT_META);
    let mut batch = WriteBatch::default();
    batch.put_cf(meta, KEY_LAST_PURGED, codec::encode(&last)?);
    batch.put_cf(meta, KEY_COMMITTED, codec::encode(&Some(last))?);
    batch.put_cf(
        meta,
        KEY_VOTE,
        codec::encode(&Vote::<NodeId>::new(last.leader_id.term, 0))?,
    );
    let mut opts = WriteOptions::default();
    opts.set_sync(true);
    Ok(db.write_opt(batch, &opts)?)
}

fn index_key(index: u64) -> [u8; 8] {
    index.to_be_bytes()
}

fn decode_entry(key: &[u8], value: &[u8]) -> Result<Entry<TypeConfig>> {
    let entry: Entry<TypeConfig> = codec::decode(value)?;
    let stored_at = <[u8; 8]>::try_from(key)
        .map(u64::from_be_bytes)
        .map_err(|_| Error::Corrupt {
            cf: CF_LOG,
            detail: format!("key of {} bytes", key.len()),
        })?;
    if stored_at != entry.log_id.index {
        return Err(Error::Corrupt {
            cf: CF_LOG,
            detail: format!("entry {} stored under index {stored_at}", entry.log_id),
        });
    }
    Ok(entry)
}

fn last_entry_id(db: &DB) -> Result<Option<LogId<NodeId>>> {
    match db.iterator_cf(cf(db, CF_LOG), IteratorMode::End).next() {
        Some(item) => {
            let (k, v) = item?;
            Ok(Some(decode_entry(&k, &v)?.log_id))
        }
        None => Ok(None),
    }
}

fn read_range(db: &DB, start: u64, end: Option<u64>) -> Result<Vec<Entry<TypeConfig>>> {
    let mut out = Vec::new();
    if end.is_some_and(|end| end <= start) {
        return Ok(out);
    }
    let key = index_key(start);
    for item in db.iterator_cf(cf(db, CF_LOG), IteratorMode::From(&key, Direction::Forward)) {
        let (k, v) = item?;
        let entry = decode_entry(&k, &v)?;
        if end.is_some_and(|end| entry.log_id.index >= end) {
            break;
        }
        debug_assert!(
            out.last()
                .is_none_or(|prev: &Entry<TypeConfig>| prev.log_id.index + 1 == entry.log_id.index),
            "hole in the log before {}",
            entry.log_id
        );
        out.push(entry);
    }
    Ok(out)
}

/// Deletes every log key from `from` (inclusive) on.
fn delete_from(db: &DB, batch: &mut WriteBatch, from: u64) {
    let log = cf(db, CF_LOG);
    batch.delete_range_cf(log, index_key(from), index_key(u64::MAX));
    batch.delete_cf(log, index_key(u64::MAX));
}

fn read_err(e: Error) -> StorageError<NodeId> {
    StorageIOError::read_logs(&e).into()
}

fn write_err(e: Error) -> StorageError<NodeId> {
    StorageIOError::write_logs(&e).into()
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + Send>(
        &mut self,
        range: RB,
    ) -> StorageResult<Vec<Entry<TypeConfig>>> {
        let start = match range.start_bound() {
            Bound::Included(&s) => s,
            Bound::Excluded(&s) => s.saturating_add(1),
            Bound::Unbounded => 0,
        };
        let end = match range.end_bound() {
            Bound::Included(&e) => Some(e.saturating_add(1)),
            Bound::Excluded(&e) => Some(e),
            Bound::Unbounded => None,
        };
        if let Some(entries) = self.recent.lock().expect("recent entries lock").get(start, end) {
            return Ok(entries);
        }
        self.run(move |db| read_range(db, start, end)).await.map_err(read_err)
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogStore;

    async fn get_log_state(&mut self) -> StorageResult<LogState<TypeConfig>> {
        self.run(|db| {
            let last_purged_log_id: Option<LogId<NodeId>> = read_meta(db, KEY_LAST_PURGED)?;
            let last_log_id = last_entry_id(db)?.or(last_purged_log_id);
            Ok(LogState {
                last_purged_log_id,
                last_log_id,
            })
        })
        .await
        .map_err(read_err)
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote<NodeId>) -> StorageResult<()> {
        // Synced: a vote granted and then forgotten in a crash would let this node vote twice
        // in one term.
        self.put_meta(KEY_VOTE, vote, true)
            .await
            .map_err(|e| StorageIOError::write_vote(&e).into())
    }

    async fn read_vote(&mut self) -> StorageResult<Option<Vote<NodeId>>> {
        self.get_meta(KEY_VOTE)
            .await
            .map_err(|e| StorageIOError::read_vote(&e).into())
    }

    async fn save_committed(&mut self, committed: Option<LogId<NodeId>>) -> StorageResult<()> {
        // Not synced: it only lets a restarted node re-apply its committed entries before a
        // leader tells it the commit index again. Losing the newest value in a crash re-applies
        // less at start-up, never something uncommitted. It still rides on the next synced
        // append, which syncs the whole shared WAL.
        self.put_meta(KEY_COMMITTED, &committed, false)
            .await
            .map_err(|e| StorageIOError::write(&e).into())
    }

    async fn read_committed(&mut self) -> StorageResult<Option<LogId<NodeId>>> {
        let stored: Option<Option<LogId<NodeId>>> = self
            .get_meta(KEY_COMMITTED)
            .await
            .map_err(|e| StorageIOError::read(&e))?;
        Ok(stored.flatten())
    }

    async fn append<I>(&mut self, entries: I, callback: LogFlushed<TypeConfig>) -> StorageResult<()>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + Send,
        I::IntoIter: Send,
    {
        let mut encoded = Vec::new();
        let mut decoded = Vec::new();
        for entry in entries {
            let bytes = codec::encode(&entry).map_err(|e| StorageIOError::write_log_entry(entry.log_id, &e))?;
            encoded.push((entry.log_id.index, bytes));
            decoded.push(entry);
        }
        debug_assert!(
            encoded.windows(2).all(|w| w[0].0 + 1 == w[1].0),
            "appended entries are consecutive"
        );
        // DURABILITY: openraft counts an entry toward the commit quorum once `callback` reports
        // it flushed, so the callback runs only after a synced write has returned: the entries
        // (and, through the WAL, every earlier log and Raft-metadata write) are on disk by
        // then. State writes skip the WAL and are not covered (`State::commit`).
        let res = self
            .run(move |db| {
                let log = cf(db, CF_LOG);
                let mut batch = WriteBatch::default();
                for (index, bytes) in &encoded {
                    batch.put_cf(log, index_key(*index), bytes);
                }
                let mut opts = WriteOptions::default();
                opts.set_sync(true);
                db.write_opt(batch, &opts)?;
                Ok(encoded.into_iter().map(|(_, bytes)| bytes.len()).collect::<Vec<_>>())
            })
            .await;
        match res {
            Ok(sizes) => {
                // After the write: the recent entries are a copy of what is durable, never ahead.
                self.recent
                    .lock()
                    .expect("recent entries lock")
                    .push(decoded.into_iter().zip(sizes).collect());
                callback.log_io_completed(Ok(()));
                Ok(())
            }
            Err(e) => {
                callback.log_io_completed(Err(io::Error::other(e.to_string())));
                Err(write_err(e))
            }
        }
    }

    async fn truncate(&mut self, log_id: LogId<NodeId>) -> StorageResult<()> {
        // Synced so that entries this node dropped as conflicting cannot come back after a
        // crash and be mistaken for the ones that replace them. The in-memory copies go first,
        // so no reader is served an entry that is being deleted.
        self.recent.lock().expect("recent entries lock").truncate(log_id.index);
        self.run(move |db| {
            let mut batch = WriteBatch::default();
            delete_from(db, &mut batch, log_id.index);
            let mut opts = WriteOptions::default();
            opts.set_sync(true);
            Ok(db.write_opt(batch, &opts)?)
        })
        .await
        .map_err(write_err)
    }

    async fn purge(&mut self, log_id: LogId<NodeId>) -> StorageResult<()> {
        let marker = codec::encode(&log_id).map_err(write_err)?;
        self.recent.lock().expect("recent entries lock").purge(log_id.index);
        // Not synced: purging only happens behind a snapshot that is already durable, so a purge
        // lost in a crash merely keeps entries that are no longer needed. The purge point and
        // the deletion are one batch, so the log state never claims a purge that did not happen.
        self.run(move |db| {
            if cfg!(debug_assertions) {
                let before: Option<LogId<NodeId>> = read_meta(db, KEY_LAST_PURGED)?;
                debug_assert!(
                    before <= Some(log_id),
                    "purge point moves forward: {before:?} -> {log_id}"
                );
            }
            let log = cf(db, CF_LOG);
            let mut batch = WriteBatch::default();
            batch.put_cf(cf(db, CF_RAFT_META), KEY_LAST_PURGED, marker);
            batch.delete_range_cf(log, index_key(0), index_key(log_id.index.saturating_add(1)));
            if log_id.index == u64::MAX {
                batch.delete_cf(log, index_key(u64::MAX));
            }
            Ok(db.write(batch)?)
        })
        .await
        .map_err(write_err)
    }
}
