//! Snapshots of the state machine as files, built and installed by streaming: the state can hold
//! millions of findings, so nothing here holds more than one record (or one bounded write batch)
//! in memory. The file format is in [`file`].
//!
//! A file is written under a temporary name, fsynced, renamed, and the directory fsynced; only
//! the newest complete snapshot is kept.

mod file;

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use openraft::{
    BasicNode, RaftSnapshotBuilder, Snapshot, SnapshotMeta, StorageError, StorageIOError, StoredMembership,
};
use rocksdb::{IteratorMode, WriteBatch, WriteOptions, DB};
use serde::{Deserialize, Serialize};
use tracing::{info, warn};

use self::file::{open, read_file, read_header, verify_file, write_file};
use super::log_store::{cf, read_meta};
use super::state_machine::{applied_state_from, SmMeta, CF_SM_META};
use super::store::CF_RAFT_META;
use super::{blocking, codec, NodeId, TypeConfig};
use crate::error::{Error, Result};
use crate::state;

/// Bytes of records per write batch while installing.
const INSTALL_BATCH_BYTES: usize = 4 << 20;
const FINAL_PREFIX: &str = "snapshot-";
const FINAL_SUFFIX: &str = ".snap";
const TEMP_SUFFIX: &str = ".part";

/// `raft_meta` key of the install marker: present while the state column families are being
/// replaced by a snapshot, so a crash in the middle is finished at the next start.
pub(crate) const KEY_INSTALLING: &[u8] = b"installing";

type Meta = SnapshotMeta<NodeId, openraft::BasicNode>;

/// Which snapshot is being installed, by file names inside the snapshot directory: the source
/// is renamed to `target` once the state holds it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct InstallMarker {
    pub source: String,
    pub target: String,
}

/// The snapshot files of one node, and the operations on them.
pub struct SnapshotStore {
    db: Arc<DB>,
    dir: PathBuf,
    /// Serializes renames, pruning and choosing the current file, which a concurrent build and
    /// an install would otherwise interleave.
    files: Mutex<()>,
    /// Held while an install replaces the state column families, so that a snapshot build
    /// (which runs beside the state machine) never takes its view of half an install.
    replacing: Mutex<()>,
    /// Files handed out by `begin_receiving`, so `install` can adopt one instead of copying it.
    receiving: Mutex<Vec<PathBuf>>,
    seq: AtomicU64,
}

impl SnapshotStore {
    /// Opens the snapshot directory and finishes an install a crash interrupted. Returns whether
    /// it replaced the state (the caller then reloads what it caches).
    pub fn open(db: Arc<DB>, dir: PathBuf) -> Result<(Arc<SnapshotStore>, bool)> {
        fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let store = Arc::new(SnapshotStore {
            db,
            dir,
            files: Mutex::new(()),
            replacing: Mutex::new(()),
            receiving: Mutex::new(Vec::new()),
            seq: AtomicU64::new(0),
        });
        let marker: Option<InstallMarker> = read_meta(&store.db, KEY_INSTALLING)?;
        let resumed = match marker {
            Some(marker) => {
                warn!(source = %marker.source, "resuming an interrupted snapshot install");
                let source = store.dir.join(&marker.source);
                let target = store.dir.join(&marker.target);
                let from = if source.exists() { source } else { target };
                let meta = verify_file(&from)?;
                store.install_from(&from, &meta, &marker)?;
                true
            }
            None => false,
        };
        store.remove_stale_temp_files()?;
        Ok((store, resumed))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn temp_path(&self, kind: &str) -> PathBuf {
        let seq = self.seq.fetch_add(1, Ordering::Relaxed);
        self.dir.join(format!("{kind}-{}-{seq}{TEMP_SUFFIX}", unix_millis()))
    }

    fn remove_stale_temp_files(&self) -> Result<()> {
        for entry in fs::read_dir(&self.dir).map_err(|e| Error::io(&self.dir, e))? {
            let path = entry.map_err(|e| Error::io(&self.dir, e))?.path();
            if path.extension().is_some_and(|x| x == "part") {
                fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
            }
        }
        Ok(())
    }

    /// Complete snapshot files with their metadata.
    fn finals(&self) -> Result<Vec<(PathBuf, Meta)>> {
        let mut out = Vec::new();
        for entry in fs::read_dir(&self.dir).map_err(|e| Error::io(&self.dir, e))? {
            let path = entry.map_err(|e| Error::io(&self.dir, e))?.path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            if name.starts_with(FINAL_PREFIX) && name.ends_with(FINAL_SUFFIX) {
                // A damaged file is not a snapshot; the next build replaces it.
                match read_header(&mut BufReader::new(open(&path)?)) {
                    Ok(meta) => out.push((path, meta)),
                    Err(e) => warn!(path = %path.display(), error = %e, "unreadable snapshot file ignored"),
                }
            }
        }
        Ok(out)
    }

    /// Deletes every complete snapshot but `keep` (or, without one, but the newest).
    fn prune(&self, keep: Option<&Path>) -> Result<()> {
        let mut finals = self.finals()?;
        let keep = match keep {
            Some(path) => path.to_path_buf(),
            None => {
                finals.sort_by(|a, b| (&a.1.last_log_id, &a.0).cmp(&(&b.1.last_log_id, &b.0)));
                match finals.last() {
                    Some((path, _)) => path.clone(),
                    None => return Ok(()),
                }
            }
        };
        for (path, _) in finals {
            if path != keep {
                fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
            }
        }
        sync_dir(&self.dir)
    }

    fn final_path(&self, meta: &Meta) -> PathBuf {
        let id: String = meta
            .snapshot_id
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        self.dir.join(format!("{FINAL_PREFIX}{id}{FINAL_SUFFIX}"))
    }

    /// The newest complete snapshot, opened at its start.
    pub fn current(&self) -> Result<Option<(Meta, File)>> {
        let _files = self.files.lock().expect("snapshot file lock");
        let newest = self
            .finals()?
            .into_iter()
            .max_by(|a, b| (&a.1.last_log_id, &a.0).cmp(&(&b.1.last_log_id, &b.0)));
        match newest {
            Some((path, meta)) => Ok(Some((meta, open(&path)?))),
            None => Ok(None),
        }
    }

    /// Writes a snapshot of the current state and makes it the current one.
    pub fn build(&self) -> Result<(Meta, File)> {
        let db = &self.db;
        // A point-in-time view: applying goes on while the file is written, and the applied log
        // id and membership are read from the same view as the data.
        let view = {
            let _replacing = self.replacing.lock().expect("install lock");
            db.snapshot()
        };
        let (last_log_id, last_membership) = applied_state_from(|key| Ok(view.get_cf(cf(db, CF_SM_META), key)?))?;
        let snapshot_id = format!(
            "{}-{}-{}",
            last_log_id.map(|id| id.to_string()).unwrap_or_else(|| "none".into()),
            unix_millis(),
            self.seq.fetch_add(1, Ordering::Relaxed)
        );
        let meta = Meta {
            last_log_id,
            last_membership,
            snapshot_id,
        };

        let temp = self.temp_path("build");
        let written = std::thread::scope(|scope| {
            // DURABILITY: once this snapshot exists openraft may purge the log up to its last
            // log id, so everything the view holds must be in table files before it is
            // published below: applying writes without the WAL (`State::commit`). The flush
            // covers every write made before it started, so every write the view sees. It runs
            // beside the writing of the file, which reads the view and not the memtables (at
            // 1,000,000 findings a build took 3.2-3.3 s before state writes skipped the WAL and
            // 3.4-4.7 s with the flush ahead of the file).
            let flushing = scope.spawn(|| state::persist(db));
            let written = write_file(&temp, &meta, |out| {
                for name in state::COLUMN_FAMILIES {
                    out.column_family(name)?;
                    for item in view.iterator_cf(cf(db, name), IteratorMode::Start) {
                        let (k, v) = item?;
                        out.record(&k, &v)?;
                    }
                }
                Ok(())
            });
            let flushed = flushing.join().expect("state flush thread");
            written.and_then(|records| flushed.map(|()| records))
        });
        let records = match written {
            Ok(records) => records,
            Err(e) => {
                let _ = fs::remove_file(&temp);
                return Err(e);
            }
        };
        let target = self.final_path(&meta);
        {
            let _files = self.files.lock().expect("snapshot file lock");
            fs::rename(&temp, &target).map_err(|e| Error::io(&target, e))?;
            sync_dir(&self.dir)?;
            self.prune(None)?;
        }
        info!(snapshot_id = %meta.snapshot_id, records, "snapshot built");
        Ok((meta, open(&target)?))
    }

    /// A fresh file in the snapshot directory for openraft to write a received snapshot into.
    pub fn begin_receiving(&self) -> Result<File> {
        let path = self.temp_path("recv");
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        let mut receiving = self.receiving.lock().expect("receiving lock");
        // Openraft receives one snapshot at a time, so earlier files belong to abandoned
        // streams. Should one still be in use after all, its open handle keeps the data and
        // `install` copies it from there.
        for abandoned in receiving.drain(..) {
            let _ = fs::remove_file(&abandoned);
        }
        receiving.push(path);
        Ok(file)
    }

    /// Replaces the state column families with the snapshot in `file` and makes it the current
    /// snapshot. The file is checked completely before anything is changed, so a corrupt or
    /// truncated one leaves the state as it was.
    pub fn install(&self, meta: &Meta, mut file: File) -> Result<()> {
        let source = self.adopt(&mut file)?;
        let checked = verify_file(&source).and_then(|found| {
            if &found == meta {
                Ok(found)
            } else {
                Err(Error::Corrupt {
                    cf: "snapshot",
                    detail: format!("file holds snapshot {found}, expected {meta}"),
                })
            }
        });
        if let Err(e) = checked {
            let _ = fs::remove_file(&source);
            return Err(e);
        }
        let marker = InstallMarker {
            source: file_name(&source),
            target: file_name(&self.final_path(meta)),
        };
        self.install_from(&source, meta, &marker)?;
        info!(snapshot_id = %meta.snapshot_id, "snapshot installed");
        Ok(())
    }

    /// The received data as a file of this directory: the file `begin_receiving` created if it
    /// is that one, otherwise a copy (openraft may hand over any readable file).
    fn adopt(&self, file: &mut File) -> Result<PathBuf> {
        let handle = file.metadata().map_err(|e| Error::io(&self.dir, e))?;
        let mut receiving = self.receiving.lock().expect("receiving lock");
        let known = receiving
            .iter()
            .position(|path| fs::metadata(path).is_ok_and(|m| m.dev() == handle.dev() && m.ino() == handle.ino()));
        let path = match known {
            Some(pos) => {
                let path = receiving.swap_remove(pos);
                file.sync_all().map_err(|e| Error::io(&path, e))?;
                path
            }
            None => {
                drop(receiving);
                let path = self.temp_path("recv");
                let copied = (|| {
                    file.seek(SeekFrom::Start(0))?;
                    let mut out = File::create(&path)?;
                    io::copy(file, &mut out)?;
                    out.sync_all()
                })();
                if let Err(e) = copied {
                    let _ = fs::remove_file(&path);
                    return Err(Error::io(&path, e));
                }
                path
            }
        };
        // The install marker will name this file: its directory entry must be durable too.
        sync_dir(&self.dir)?;
        Ok(path)
    }

    /// The install proper, also run at start-up to finish an interrupted one: marker, clear,
    /// load, rename, unmark. Every step can be repeated.
    fn install_from(&self, source: &Path, meta: &Meta, marker: &InstallMarker) -> Result<()> {
        let db = &self.db;
        let _replacing = self.replacing.lock().expect("install lock");
        let synced = || {
            let mut opts = WriteOptions::default();
            opts.set_sync(true);
            opts
        };
        // DURABILITY: the marker is on disk before the first state key changes, so a crash
        // anywhere below restarts the install instead of leaving a mixture of two states.
        let mut batch = WriteBatch::default();
        batch.put_cf(cf(db, CF_RAFT_META), KEY_INSTALLING, codec::encode(marker)?);
        db.write_opt(batch, &synced())?;

        // DURABILITY: the clearing below goes through the WAL, and so would be replayed after a
        // crash on top of the table files. Applied writes that never reached them (applying
        // skips the WAL) would then be lost while older values of the same keys came back,
        // outside the range `clear_cf` computed from the current data. Persisting them first
        // makes the table files hold exactly what the clearing sees.
        state::persist(db)?;
        for name in state::COLUMN_FAMILIES {
            clear_cf(db, name)?;
        }
        let mut batch = WriteBatch::default();
        read_file(source, |name, key, value| {
            batch.put_cf(cf(db, name), key, value);
            if batch.size_in_bytes() >= INSTALL_BATCH_BYTES {
                // Not synced: the final synced write below syncs the WAL these went to.
                db.write(std::mem::take(&mut batch))?;
            }
            Ok(())
        })?;
        // The snapshot's own sm_meta already says this; writing it from the header keeps the
        // applied state exactly what openraft was told, whatever the data section held.
        SmMeta {
            applied: meta.last_log_id,
            membership: Some(meta.last_membership.clone()),
        }
        .put(db, &mut batch)?;
        db.write_opt(batch, &synced())?;

        let target = self.dir.join(&marker.target);
        {
            let _files = self.files.lock().expect("snapshot file lock");
            if source != target {
                fs::rename(source, &target).map_err(|e| Error::io(&target, e))?;
            }
            sync_dir(&self.dir)?;
            self.prune(Some(&target))?;
        }
        let mut batch = WriteBatch::default();
        batch.delete_cf(cf(db, CF_RAFT_META), KEY_INSTALLING);
        db.write_opt(batch, &synced())?;
        Ok(())
    }
}

impl SnapshotStore {
    /// Installs the snapshot file `backup`, whose metadata the caller verified as `meta`, into
    /// an empty store: the state column families hold it and a copy of it becomes the current
    /// snapshot. With
    /// `membership`, the applied membership is replaced by it and the snapshot rebuilt, so the
    /// file this node later sends to new members says the same as its state. Returns the
    /// metadata of the current snapshot afterwards.
    pub(crate) fn restore(
        &self,
        backup: &Path,
        meta: &Meta,
        membership: Option<StoredMembership<NodeId, BasicNode>>,
    ) -> Result<Meta> {
        let copy = self.temp_path("restore");
        let copied = (|| {
            let mut out = OpenOptions::new().write(true).create_new(true).open(&copy)?;
            io::copy(&mut File::open(backup)?, &mut out)?;
            out.sync_all()
        })();
        if let Err(e) = copied {
            let _ = fs::remove_file(&copy);
            return Err(Error::io(&copy, e));
        }
        sync_dir(&self.dir)?;
        // The copy is what gets installed, so the copy is what is checked: the bytes installed
        // are the bytes verified even if the backup file changed after the caller checked it.
        let checked = verify_file(&copy).and_then(|found| {
            if &found == meta {
                Ok(())
            } else {
                Err(file::corrupt(format!(
                    "{} changed while it was copied",
                    backup.display()
                )))
            }
        });
        if let Err(e) = checked {
            let _ = fs::remove_file(&copy);
            return Err(e);
        }
        let marker = InstallMarker {
            source: file_name(&copy),
            target: file_name(&self.final_path(meta)),
        };
        self.install_from(&copy, meta, &marker)?;
        let Some(membership) = membership else {
            return Ok(meta.clone());
        };
        // The original file is dropped before the rebuild, so that the rebuilt one is the only
        // snapshot whatever the two files' names (their ids embed two machines' clocks).
        let original = self.dir.join(&marker.target);
        fs::remove_file(&original).map_err(|e| Error::io(&original, e))?;
        sync_dir(&self.dir)?;
        let mut batch = WriteBatch::default();
        SmMeta {
            applied: meta.last_log_id,
            membership: Some(membership),
        }
        .put(&self.db, &mut batch)?;
        let mut opts = WriteOptions::default();
        opts.set_sync(true);
        self.db.write_opt(batch, &opts)?;
        let (rebuilt, _) = self.build()?;
        Ok(rebuilt)
    }
}

/// Checks a whole snapshot file, as a node checks one before installing it, and returns its
/// metadata. Nothing is changed.
pub fn verify(path: &Path) -> Result<Meta> {
    verify_file(path)
}

/// Builds snapshots for openraft; it runs concurrently with applying.
pub struct SnapshotBuilder {
    pub(crate) store: Arc<SnapshotStore>,
}

impl RaftSnapshotBuilder<TypeConfig> for SnapshotBuilder {
    async fn build_snapshot(&mut self) -> std::result::Result<Snapshot<TypeConfig>, StorageError<NodeId>> {
        let store = self.store.clone();
        let (meta, file) = blocking(move || store.build())
            .await
            .map_err(|e| StorageIOError::write_snapshot(None, &e))?;
        crate::telemetry::instruments::snapshot("built");
        Ok(Snapshot {
            meta,
            snapshot: Box::new(tokio::fs::File::from_std(file)),
        })
    }
}

/// Deletes every key of a state column family: one range tombstone from the first key to the
/// last, plus the last key itself (the range end is exclusive).
fn clear_cf(db: &DB, name: &str) -> Result<()> {
    let handle = cf(db, name);
    let first = db.iterator_cf(handle, IteratorMode::Start).next().transpose()?;
    let last = db.iterator_cf(handle, IteratorMode::End).next().transpose()?;
    if let (Some((first, _)), Some((last, _))) = (first, last) {
        let mut batch = WriteBatch::default();
        batch.delete_range_cf(handle, &first, &last);
        batch.delete_cf(handle, &last);
        db.write(batch)?;
    }
    Ok(())
}

fn unix_millis() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or_default()
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io(dir, e))
}
