//! Backups and restores of a node's replicated state.
//!
//! A backup is a snapshot file (the format in `snapshot/file.rs`): the state column families as
//! of one applied log id, with that id and the membership in its header, checksummed. Restoring
//! one makes a new data directory whose node starts exactly where the snapshot ends, as if it
//! had installed the snapshot from a leader and purged its log behind it.
//!
//! What openraft 0.9 reads when `Raft::new` opens the restored directory, and what it finds:
//! - `RaftLogStorage::get_log_state`: no entries, `last_purged` = the snapshot's last log id,
//!   so the last log id is that id too (see `log_store::record_restored`);
//! - `read_committed`: the same id, so nothing is re-applied;
//! - `RaftStateMachine::applied_state`: the same id and the snapshot's membership (or the
//!   rewritten one), written by the install from the snapshot header;
//! - `get_current_snapshot`: the installed (or rebuilt) file, at the same id; openraft requires
//!   last purged ≤ snapshot ≤ committed ≤ last log id, which all hold with equality;
//! - `read_vote`: the snapshot's term, voted for nobody (why: `record_restored`).
//!
//! A restore runs only into an empty directory. It writes [`RESTORE_MARKER`] first and
//! removes it last; a directory holding the marker is an interrupted restore, which a node
//! refuses to start from and which the next restore into it replaces.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File};
use std::path::Path;

use openraft::{BasicNode, Membership, SnapshotMeta, StoredMembership};
use tracing::info;

use super::snapshot::{self, SnapshotStore};
use super::{log_store, store, NodeId, DB_DIR, SNAPSHOT_DIR};
use crate::error::{Error, Result};

/// File in a data directory while a restore is writing it.
pub const RESTORE_MARKER: &str = "restore.incomplete";

/// Entries a fresh filesystem may hold that do not make a directory "used".
const IGNORED_ENTRIES: &[&str] = &["lost+found"];

pub type Meta = SnapshotMeta<NodeId, BasicNode>;

/// How the restored node joins.
#[derive(Clone, Debug)]
pub enum RestoredMembership {
    /// The backup's membership unchanged: every member is restored from the same file, under its
    /// own id and address.
    Keep,
    /// This node alone (id and advertised address) as the only voter. The other members are
    /// forgotten; new ones join with add-learner and promote.
    SingleNode { address: String },
}

/// Checks a backup file as a node checks a snapshot before installing it: structure, record
/// stream, checksum. Returns its metadata.
pub fn verify(path: &Path) -> Result<Meta> {
    let meta = snapshot::verify(path)
        .map_err(|e| Error::InvalidArgument(format!("backup {} is not usable: {e}", path.display())))?;
    if meta.last_log_id.is_none() {
        return Err(Error::InvalidArgument(format!(
            "backup {} holds no applied entry: there is nothing to restore",
            path.display()
        )));
    }
    Ok(meta)
}

/// Fails when `data_dir` holds an interrupted restore, which must not be started from.
pub fn check_no_interrupted_restore(data_dir: &Path) -> Result<()> {
    if data_dir.join(RESTORE_MARKER).exists() {
        return Err(Error::FailedPrecondition(format!(
            "{} holds an interrupted restore ({RESTORE_MARKER} is present): run the restore again",
            data_dir.display()
        )));
    }
    Ok(())
}

/// Restores `backup` as the state of node `node_id` in the empty directory `data_dir`; returns
/// the metadata of the snapshot the node will start from.
pub fn restore(data_dir: &Path, backup: &Path, node_id: NodeId, membership: &RestoredMembership) -> Result<Meta> {
    if node_id == 0 {
        return Err(Error::InvalidArgument("node id must be at least 1".into()));
    }
    // Everything that can be refused is refused before the directory is touched.
    let meta = verify(backup)?;
    let rewritten = match membership {
        RestoredMembership::Keep => {
            check_member(&meta, node_id)?;
            None
        }
        RestoredMembership::SingleNode { address } => Some(single_node(&meta, node_id, address)?),
    };
    prepare_dir(data_dir)?;

    let marker = data_dir.join(RESTORE_MARKER);
    File::create(&marker)
        .and_then(|f| f.sync_all())
        .map_err(|e| Error::io(&marker, e))?;
    sync_dir(data_dir)?;

    let restored = {
        let db = store::open(&data_dir.join(DB_DIR))?;
        let (snapshots, resumed) = SnapshotStore::open(db.clone(), data_dir.join(SNAPSHOT_DIR))?;
        debug_assert!(!resumed, "a fresh database has no install to resume");
        let restored = snapshots.restore(backup, &meta, rewritten)?;
        let last = restored.last_log_id.expect("verified: the backup has a last log id");
        log_store::record_restored(&db, last)?;
        restored
        // The database closes here; its writes above were synced.
    };

    fs::remove_file(&marker).map_err(|e| Error::io(&marker, e))?;
    sync_dir(data_dir)?;
    info!(
        data_dir = %data_dir.display(),
        node_id,
        last_log_id = %meta.last_log_id.expect("checked"),
        snapshot_id = %restored.snapshot_id,
        "backup restored"
    );
    Ok(restored)
}

/// The backup's members, for messages.
fn members(meta: &Meta) -> String {
    let m = meta.last_membership.membership();
    let voters: BTreeSet<NodeId> = m.voter_ids().collect();
    m.nodes()
        .map(|(id, n)| format!("{id}@{}{}", n.addr, if voters.contains(id) { "" } else { " (learner)" }))
        .collect::<Vec<_>>()
        .join(", ")
}

fn check_member(meta: &Meta, node_id: NodeId) -> Result<()> {
    if meta.last_membership.membership().get_node(&node_id).is_none() {
        return Err(Error::InvalidArgument(format!(
            "node {node_id} is not a member of the backed-up cluster [{}]: restore every member \
             under its own id, or restore one node with --single-node",
            members(meta)
        )));
    }
    Ok(())
}

/// The membership of a single-node restore: this node as the only voter. It keeps the log id of
/// the membership it replaces (no log entry carries the new one; it exists only in the state).
fn single_node(meta: &Meta, node_id: NodeId, address: &str) -> Result<StoredMembership<NodeId, BasicNode>> {
    let address = address.trim();
    let valid = address
        .rsplit_once(':')
        .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0));
    if !valid {
        return Err(Error::InvalidArgument(format!("address {address:?} is not host:port")));
    }
    let membership = Membership::new(
        vec![BTreeSet::from([node_id])],
        BTreeMap::from([(node_id, BasicNode::new(address))]),
    );
    Ok(StoredMembership::new(*meta.last_membership.log_id(), membership))
}

/// Makes sure `dir` exists and is empty, or holds only an interrupted restore, which is
/// cleared.
fn prepare_dir(dir: &Path) -> Result<()> {
    fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let mut names = Vec::new();
    for entry in fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let name = entry.map_err(|e| Error::io(dir, e))?.file_name();
        let name = name.to_string_lossy().into_owned();
        if !IGNORED_ENTRIES.contains(&name.as_str()) {
            names.push(name);
        }
    }
    if names.is_empty() {
        return Ok(());
    }
    let interrupted = names.iter().any(|n| n == RESTORE_MARKER)
        && names
            .iter()
            .all(|n| [RESTORE_MARKER, DB_DIR, SNAPSHOT_DIR].contains(&n.as_str()));
    if !interrupted {
        names.sort();
        return Err(Error::FailedPrecondition(format!(
            "data directory {} is not empty (it holds {}): a backup is restored only into an empty \
             directory, so that no node's state is overwritten",
            dir.display(),
            names.join(", ")
        )));
    }
    info!(data_dir = %dir.display(), "clearing an interrupted restore");
    for sub in [DB_DIR, SNAPSHOT_DIR] {
        let path = dir.join(sub);
        if path.exists() {
            fs::remove_dir_all(&path).map_err(|e| Error::io(&path, e))?;
        }
    }
    sync_dir(dir)
}

fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io(dir, e))
}
