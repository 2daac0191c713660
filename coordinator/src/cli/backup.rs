//! `argus cluster backup` and `argus cluster restore`.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use argus_coordinator::client::Client;
use argus_coordinator::config::CoordinatorConfig;
use argus_coordinator::raft::backup::{self, RestoredMembership};
use argus_proto::v1::{BackupChunk, BackupRequest};
use clap::Args;

#[derive(Debug, Args)]
pub struct BackupArgs {
    /// File to write; it appears only once complete and verified.
    #[arg(long)]
    pub out: PathBuf,
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// The backup file (`argus cluster backup --out`).
    #[arg(long)]
    pub from: PathBuf,
    /// The node's data directory; it must be empty or absent (default: the configuration's
    /// `coordinator.data_dir`).
    #[arg(long, env = "ARGUS_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// The id of the node being restored: its id in the backed-up cluster (default: the
    /// configuration's `coordinator.node_id`).
    #[arg(long, env = "ARGUS_NODE_ID")]
    pub node_id: Option<u64>,
    /// UNSAFE BY DESIGN: make this node the only member of the cluster, forgetting every other
    /// member of the backup. Only for when the other nodes are gone for good; new nodes then
    /// join with `add-learner` and `promote`. Never start a forgotten node's old data again.
    #[arg(long)]
    pub single_node: bool,
    /// With --single-node: host:port the other nodes and clients reach this node at (default:
    /// the configuration's `coordinator.advertise`, else `coordinator.listen`).
    #[arg(long, env = "ARGUS_ADVERTISE", requires = "single_node")]
    pub address: Option<String>,
}

/// Asks the node at `client` for a backup and writes it to `args.out`: streamed into
/// `<out>.part`, fsynced, verified as a node verifies a snapshot, then renamed into place.
pub async fn download(client: &Client, args: &BackupArgs) -> anyhow::Result<()> {
    let part = part_path(&args.out);
    let result = write_part(client, &part).await;
    let head = match result {
        Ok(head) => head,
        Err(e) => {
            let _ = fs::remove_file(&part);
            return Err(e);
        }
    };
    let meta = match backup::verify(&part) {
        Ok(meta) => meta,
        Err(e) => {
            let _ = fs::remove_file(&part);
            bail!("the downloaded backup failed verification: {e}");
        }
    };
    let last = meta.last_log_id.expect("verified");
    if (last.index, last.leader_id.term) != (head.last_log_index, head.last_log_term) {
        let _ = fs::remove_file(&part);
        bail!(
            "the node announced log index {} (term {}) but the file holds {last}",
            head.last_log_index,
            head.last_log_term
        );
    }
    fs::rename(&part, &args.out).with_context(|| format!("renaming {} into place", part.display()))?;
    sync_parent(&args.out)?;
    println!(
        "backup of node {} at log index {} (term {}): {} bytes, snapshot {}, written to {}",
        head.node_id,
        head.last_log_index,
        head.last_log_term,
        head.total_bytes,
        meta.snapshot_id,
        args.out.display()
    );
    Ok(())
}

/// Streams the backup into `part` and syncs it; returns the first chunk's description.
async fn write_part(client: &Client, part: &Path) -> anyhow::Result<BackupChunk> {
    let mut stream = client
        .retry(|c| async move { c.cluster().backup(BackupRequest {}).await })
        .await
        .context("asking for a backup")?;
    let mut out = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(part)
        .with_context(|| format!("creating {}", part.display()))?;
    let mut head: Option<BackupChunk> = None;
    let mut written = 0u64;
    while let Some(chunk) = stream.message().await.context("receiving the backup")? {
        if let Some(h) = &head {
            let same = (
                h.node_id,
                h.last_log_index,
                h.last_log_term,
                &h.snapshot_id,
                h.total_bytes,
            ) == (
                chunk.node_id,
                chunk.last_log_index,
                chunk.last_log_term,
                &chunk.snapshot_id,
                chunk.total_bytes,
            );
            if !same {
                bail!("the backup stream changed snapshot midway");
            }
        }
        if chunk.offset != written {
            bail!("backup chunk at offset {} where {written} was expected", chunk.offset);
        }
        out.write_all(&chunk.data)
            .with_context(|| format!("writing {}", part.display()))?;
        written += chunk.data.len() as u64;
        if head.is_none() {
            head = Some(BackupChunk {
                data: Vec::new(),
                ..chunk
            });
        }
    }
    let Some(head) = head else {
        bail!("the node sent an empty backup");
    };
    if written != head.total_bytes {
        bail!("the backup stream ended at {written} of {} bytes", head.total_bytes);
    }
    out.sync_all().with_context(|| format!("syncing {}", part.display()))?;
    Ok(head)
}

pub fn restore(args: RestoreArgs, config: &CoordinatorConfig) -> anyhow::Result<()> {
    let data_dir = args.data_dir.unwrap_or_else(|| config.data_dir.clone());
    let node_id = args.node_id.unwrap_or(config.node_id);
    let membership = if args.single_node {
        RestoredMembership::SingleNode {
            address: args.address.unwrap_or_else(|| config.advertised()),
        }
    } else {
        RestoredMembership::Keep
    };
    let meta = backup::restore(&data_dir, &args.from, node_id, &membership)
        .with_context(|| format!("restoring {} into {}", args.from.display(), data_dir.display()))?;
    let last = meta.last_log_id.expect("a restored snapshot has a last log id");
    let members: Vec<String> = meta
        .last_membership
        .membership()
        .nodes()
        .map(|(id, n)| format!("{id}@{}", n.addr))
        .collect();
    println!(
        "node {node_id} restored at log index {} (term {}) into {}; members: {}",
        last.index,
        last.leader_id.term,
        data_dir.display(),
        members.join(", ")
    );
    if args.single_node {
        println!("this node is now the cluster's only member: add new nodes with add-learner and promote");
    }
    Ok(())
}

fn part_path(out: &Path) -> PathBuf {
    let mut name = out.as_os_str().to_owned();
    name.push(".part");
    PathBuf::from(name)
}

fn sync_parent(path: &Path) -> anyhow::Result<()> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    File::open(parent)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("syncing {}", parent.display()))
}
