//! Re-evaluation on the leader: when the vulnerability DB the coordinator follows moves to a
//! newer version, the packages named by added, changed or removed advisories are computed
//! (a diff of the two versions) and proposed as `Reevaluate` commands; the state machine queues
//! a REMATCH for exactly the artifacts whose stored inventory holds one of them.
//!
//! The last version evaluated is replicated (pipeline counters), so a new leader does not
//! evaluate it again. A leader that does not hold the previous version (it was restarted)
//! diffs against nothing: every package any advisory names, which over-approximates but never
//! misses an artifact.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use argus_proto::internal::v1::command::Kind as Cmd;
use argus_proto::internal::v1::command_result::Kind as Res;
use argus_proto::internal::v1::{Command, Reevaluate};
use argus_worker::vulndb::{diff, DbSlot, VulnDb};
use tokio::sync::watch;
use tracing::{info, warn};

use crate::node::Node;

/// Package keys per command: a large DB update becomes several commands.
const KEYS_PER_COMMAND: usize = 5000;

pub async fn run(node: Arc<Node>, db: DbSlot, tick: Duration, mut stopped: watch::Receiver<bool>) {
    // The version this node held before the current one, to diff against.
    let mut previous: Option<Arc<VulnDb>> = None;
    let mut held = db.get();
    loop {
        tokio::select! {
            _ = tokio::time::sleep(tick) => {}
            _ = super::stopping(&mut stopped) => return,
        }
        let current = db.get();
        if current.meta().version != held.meta().version {
            previous = Some(std::mem::replace(&mut held, current.clone()));
        }
        if !node.is_leader() {
            continue;
        }
        let evaluated = match node.state.pipeline_counters() {
            Ok(c) => c.reevaluated_db_version,
            Err(e) => {
                warn!(error = %e, "reading pipeline counters");
                continue;
            }
        };
        let version = current.meta().version.clone();
        if version.as_str() <= evaluated.as_str() {
            continue;
        }
        // The first version a cluster sees is its baseline: whatever was scanned so far was
        // matched by workers with their own DB, and nothing here says what changed since.
        let baseline = evaluated.is_empty();
        let old = previous.clone().filter(|p| p.meta().version == evaluated && !baseline);
        if let Err(e) = reevaluate(&node, old, current, baseline).await {
            warn!(db_version = %version, error = %e, "re-evaluation failed; retrying");
        }
    }
}

/// Errors are only logged and retried; a message is all they carry.
async fn reevaluate(node: &Node, old: Option<Arc<VulnDb>>, new: Arc<VulnDb>, baseline: bool) -> Result<(), String> {
    let version = new.meta().version.clone();
    let from = old.as_ref().map(|o| o.meta().version.clone());
    let keys = if baseline {
        Default::default()
    } else {
        tokio::task::spawn_blocking(move || diff::changed_keys(old.as_deref(), &new))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?
    };
    let keys: Vec<String> = keys.into_iter().collect();
    let (mut rematched, mut total) = (0u64, 0u64);
    // An empty change still records the version as evaluated.
    let chunks: Vec<&[String]> = if keys.is_empty() {
        vec![&[]]
    } else {
        keys.chunks(KEYS_PER_COMMAND).collect()
    };
    for chunk in chunks {
        let command = Command {
            kind: Some(Cmd::Reevaluate(Reevaluate {
                db_version: version.clone(),
                package_keys: chunk.to_vec(),
            })),
        };
        match node.write(command).await.map_err(|e| e.to_string())?.kind {
            Some(Res::Reevaluate(r)) => {
                rematched += u64::from(r.rematched);
                total = r.total;
            }
            other => return Err(format!("unexpected answer {other:?}")),
        }
    }
    info!(
        db_version = %version,
        previous = from.as_deref().unwrap_or("none"),
        changed_packages = keys.len(),
        rematched,
        total,
        "re-evaluation queued"
    );
    Ok(())
}

/// Keeps `db` on the newest version of the database file at `path` (as `argus db import`
/// replaces it): the embedded mode's way of learning about a new DB.
pub async fn watch_file(path: PathBuf, db: DbSlot, every: Duration, mut stopped: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = super::stopping(&mut stopped) => return,
        }
        let current = db.version();
        let p = path.clone();
        match tokio::task::spawn_blocking(move || VulnDb::open(&p)).await {
            Ok(Ok(fresh)) if fresh.meta().version > current => {
                info!(db_version = %fresh.meta().version, "vulnerability DB replaced");
                db.replace(fresh);
            }
            Ok(Ok(_)) => {}
            Ok(Err(e)) => warn!(path = %path.display(), error = %e, "reading the vulnerability DB"),
            Err(e) => warn!(error = %e, "DB watch task failed"),
        }
    }
}

/// A cluster coordinator's way of learning about a new DB: download the newest version
/// published to the object store (`argus db publish`) into `dir`, keep following it, and
/// re-evaluate while this node leads.
pub async fn follow_store(
    node: Arc<Node>,
    js: async_nats::jetstream::Context,
    bucket: String,
    dir: PathBuf,
    tick: Duration,
    mut stopped: watch::Receiver<bool>,
) {
    use argus_worker::vulndb::distribute;
    let mut backoff = Duration::from_millis(500);
    let slot = loop {
        match distribute::fetch_latest(&js, &bucket, &dir).await {
            Ok(Some(path)) => match VulnDb::open(&path) {
                Ok(db) => break DbSlot::new(db),
                Err(e) => warn!(path = %path.display(), error = %e, "opening the fetched DB"),
            },
            Ok(None) => {} // nothing published yet
            Err(e) => warn!(bucket = %bucket, error = %e, "fetching the vulnerability DB"),
        }
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = super::stopping(&mut stopped) => return,
        }
        backoff = (backoff * 2).min(Duration::from_secs(30));
    };
    info!(db_version = %slot.version(), "following the published vulnerability DB");
    let mut stop = stopped.clone();
    let follow = distribute::follow(&js, &bucket, &dir, slot.clone(), Duration::from_secs(60), async move {
        super::stopping(&mut stop).await
    });
    tokio::join!(follow, run(node, slot, tick, stopped));
}
