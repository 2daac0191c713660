//! Backup and restore of coordinators, with real `argus coordinator` processes on loopback and
//! the `argus cluster backup` / `argus cluster restore` commands as an operator runs them.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use argus_coordinator::client::Client;
use argus_proto::v1::{IngestScanResultsRequest, NodeRole, PutResourcesRequest};
use argus_tests::argus_bin;
use argus_tests::cluster::{all_findings, Cluster};
use argus_tests::estate::{image, scan};

/// Findings per scanned image.
const VULNS: u32 = 4;

/// Puts images `range` and their scans, in batches (one Raft entry each).
async fn put_scanned(client: &Client, range: std::ops::Range<u64>) {
    let ids: Vec<u64> = range.collect();
    for batch in ids.chunks(50) {
        let resources = PutResourcesRequest {
            resources: batch.iter().map(|&n| image(&format!("img-{n}"), n % 5, n)).collect(),
        };
        client
            .retry(|c| {
                let r = resources.clone();
                async move { c.inventory().put_resources(r).await }
            })
            .await
            .expect("put resources");
        let results = IngestScanResultsRequest {
            results: batch.iter().map(|&n| scan(n, 1_700_000_000, VULNS)).collect(),
        };
        client
            .retry(|c| {
                let r = results.clone();
                async move { c.findings().ingest_scan_results(r).await }
            })
            .await
            .expect("ingest");
    }
}

fn argus(args: &[&str]) -> Output {
    Command::new(argus_bin())
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run argus")
}

fn text(out: &Output) -> String {
    format!(
        "status {}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// `argus cluster backup` from one node; returns the log index and term the file holds.
fn backup(address: &str, out: &Path) -> (u64, u64) {
    let run = argus(&["cluster", "--addr", address, "backup", "--out", out.to_str().unwrap()]);
    assert!(run.status.success(), "backup failed: {}", text(&run));
    assert!(
        !part(out).exists(),
        "the partial file is gone once the backup is complete"
    );
    let stdout = String::from_utf8_lossy(&run.stdout);
    let number_after = |label: &str| -> u64 {
        stdout
            .split(label)
            .nth(1)
            .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no {label:?} in {stdout:?}"))
    };
    let size = std::fs::metadata(out).unwrap().len();
    assert!(
        stdout.contains(&format!("{size} bytes")),
        "{stdout:?} names the size {size}"
    );
    (number_after("at log index "), number_after("(term "))
}

fn part(out: &Path) -> PathBuf {
    PathBuf::from(format!("{}.part", out.display()))
}

fn restore(backup: &Path, data_dir: &Path, node_id: u64, extra: &[&str]) -> Output {
    let id = node_id.to_string();
    let mut args = vec![
        "cluster",
        "restore",
        "--from",
        backup.to_str().unwrap(),
        "--data-dir",
        data_dir.to_str().unwrap(),
        "--node-id",
        &id,
    ];
    args.extend_from_slice(extra);
    argus(&args)
}

fn restore_ok(backup: &Path, data_dir: &Path, node_id: u64, extra: &[&str]) {
    let run = restore(backup, data_dir, node_id, extra);
    assert!(run.status.success(), "restore of node {node_id} failed: {}", text(&run));
}

/// Kills every node and deletes its data directory.
fn lose_everything(cluster: &mut Cluster) {
    for id in cluster.nodes.iter().map(|c| c.id).collect::<Vec<_>>() {
        cluster.kill(id);
    }
    for node in &cluster.nodes {
        std::fs::remove_dir_all(&node.data_dir).expect("wipe data dir");
    }
}

async fn findings_of(cluster: &Cluster, id: u64) -> BTreeMap<String, i32> {
    all_findings(&cluster.client_for(id)).await
}

/// Waits until every running node has applied the leader's last entry.
async fn settle(cluster: &Cluster) {
    let leader = cluster.wait_leader(None).await;
    let last = cluster.status(leader).await.last_log_index.unwrap();
    cluster.wait_applied(last).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t01_whole_cluster_restored_from_a_followers_backup() {
    let mut cluster = Cluster::start(3, "").await;
    let client = cluster.client();
    put_scanned(&client, 0..300).await;
    settle(&cluster).await;
    let leader = cluster.wait_leader(None).await;
    let follower = (1..=3).find(|&id| id != leader).unwrap();
    let before = findings_of(&cluster, follower).await;
    assert_eq!(before.len(), 300 * VULNS as usize);

    let file = cluster.dir.path().join("cluster.backup");
    let applied = cluster.status(follower).await.last_applied.unwrap();
    let (index, backed_up_term) = backup(&cluster.nodes[follower as usize - 1].address(), &file);
    assert!(
        index >= applied,
        "the backup ({index}) includes what was applied when asked ({applied})"
    );
    // Written after the backup: must not come back.
    put_scanned(&client, 300..400).await;
    settle(&cluster).await;
    assert_eq!(findings_of(&cluster, leader).await.len(), 400 * VULNS as usize);

    lose_everything(&mut cluster);
    for id in 1..=3 {
        let dir = cluster.nodes[id as usize - 1].data_dir.clone();
        restore_ok(&file, &dir, id, &[]);
    }
    for id in 1..=3 {
        cluster.restart(id);
    }
    let leader = cluster.wait_leader(None).await;
    for id in 1..=3 {
        let s = cluster.status(id).await;
        assert!(
            s.last_applied.unwrap() >= index,
            "node {id} starts at the backup's index"
        );
        // The first election after the restore is in a later term than the log's last entry,
        // so new entries sort after the restored ones.
        assert!(
            s.term > backed_up_term,
            "node {id}: term {} after {backed_up_term}",
            s.term
        );
        let voters: BTreeSet<u64> = s
            .members
            .iter()
            .filter(|m| m.role == NodeRole::Voter as i32)
            .map(|m| m.node.as_ref().unwrap().node_id)
            .collect();
        assert_eq!(
            voters,
            BTreeSet::from([1, 2, 3]),
            "node {id} keeps the backed-up membership"
        );
        // all_findings fails on a finding listed twice.
        assert_eq!(
            findings_of(&cluster, id).await,
            before,
            "node {id} holds exactly the backup"
        );
    }

    // The restored cluster takes writes and replicates them.
    let client = cluster.client();
    put_scanned(&client, 1000..1100).await;
    settle(&cluster).await;
    let after = findings_of(&cluster, leader).await;
    assert_eq!(after.len(), 400 * VULNS as usize);
    assert!(before.keys().all(|id| after.contains_key(id)));
    for id in 1..=3 {
        assert_eq!(findings_of(&cluster, id).await, after, "node {id} after new writes");
    }
    // Resources written after the backup stay gone.
    let lost = cluster
        .client_for(leader)
        .retry(|c| async move {
            c.inventory()
                .get_resource(argus_proto::v1::GetResourceRequest {
                    resource_id: "img-350".into(),
                })
                .await
        })
        .await;
    assert_eq!(lost.unwrap_err().code(), tonic::Code::NotFound);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t02_one_node_restored_alone_then_grown_back_to_three() {
    let mut cluster = Cluster::start(3, "").await;
    put_scanned(&cluster.client(), 0..200).await;
    settle(&cluster).await;
    let leader = cluster.wait_leader(None).await;
    let before = findings_of(&cluster, leader).await;
    let file = cluster.dir.path().join("cluster.backup");
    backup(&cluster.nodes[leader as usize - 1].address(), &file);

    lose_everything(&mut cluster);
    let dir = cluster.nodes[0].data_dir.clone();
    let address = cluster.nodes[0].address();
    // Without the rewrite, another id than the members' is refused.
    let refused = restore(&file, &dir, 9, &[]);
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("not a member"),
        "{}",
        text(&refused)
    );
    restore_ok(&file, &dir, 1, &["--single-node", "--address", &address]);
    cluster.restart(1);
    assert_eq!(cluster.wait_leader(None).await, 1, "the only voter elects itself");

    let new4 = cluster.add_process();
    let new5 = cluster.add_process();
    for id in [new4, new5] {
        cluster.add_learner(id).await;
    }
    for id in [new4, new5] {
        cluster
            .client_for(1)
            .retry(|c| async move {
                c.cluster()
                    .promote(argus_proto::v1::PromoteRequest { node_id: id })
                    .await
            })
            .await
            .expect("promote");
    }
    settle(&cluster).await;
    let s = cluster.status(1).await;
    let voters: BTreeSet<u64> = s
        .members
        .iter()
        .filter(|m| m.role == NodeRole::Voter as i32)
        .map(|m| m.node.as_ref().unwrap().node_id)
        .collect();
    assert_eq!(voters, BTreeSet::from([1, new4, new5]));
    for id in [1, new4, new5] {
        assert_eq!(findings_of(&cluster, id).await, before, "node {id}");
    }

    // Writes commit on the new three-node cluster, also with the restored node down.
    cluster.kill(1);
    let leader = cluster.wait_leader(Some(1)).await;
    put_scanned(&cluster.client(), 500..550).await;
    settle(&cluster).await;
    let after = findings_of(&cluster, leader).await;
    assert_eq!(after.len(), before.len() + 50 * VULNS as usize);
    assert_eq!(
        findings_of(&cluster, if leader == new4 { new5 } else { new4 }).await,
        after
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_or_truncated_backup_is_refused_and_leaves_the_directory_empty() {
    let cluster = Cluster::start(1, "").await;
    put_scanned(&cluster.client(), 0..50).await;
    let file = cluster.dir.path().join("good.backup");
    backup(&cluster.nodes[0].address(), &file);
    let bytes = std::fs::read(&file).unwrap();

    let truncated = cluster.dir.path().join("truncated.backup");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let flipped = cluster.dir.path().join("flipped.backup");
    let mut damaged = bytes.clone();
    let middle = damaged.len() / 2;
    damaged[middle] ^= 0x40;
    std::fs::write(&flipped, &damaged).unwrap();
    let foreign = cluster.dir.path().join("foreign.backup");
    std::fs::write(&foreign, b"not a snapshot at all, just some text that is long enough").unwrap();

    for (bad, why) in [(&truncated, "truncated"), (&flipped, "flipped"), (&foreign, "foreign")] {
        let dir = cluster.dir.path().join(format!("restore-{why}"));
        let run = restore(bad, &dir, 1, &[]);
        assert!(!run.status.success(), "{why}: {}", text(&run));
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert!(
            stderr.contains("is not usable") && stderr.contains(bad.to_str().unwrap()),
            "{why}: the error names the file and says why: {stderr}"
        );
        let left = std::fs::read_dir(&dir).map(|d| d.count()).unwrap_or(0);
        assert_eq!(left, 0, "{why}: nothing written into {}", dir.display());
    }

    // The intact file restores into a fresh directory.
    let dir = cluster.dir.path().join("restore-good");
    restore_ok(&file, &dir, 1, &[]);
    assert!(dir.join("db").is_dir() && dir.join("snapshots").is_dir());
    assert!(!dir.join("restore.incomplete").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restoring_into_a_used_data_directory_is_refused() {
    let mut cluster = Cluster::start(1, "").await;
    put_scanned(&cluster.client(), 0..20).await;
    let file = cluster.dir.path().join("node.backup");
    backup(&cluster.nodes[0].address(), &file);
    let before = findings_of(&cluster, 1).await;
    cluster.kill(1);

    let dir = cluster.nodes[0].data_dir.clone();
    let listing = |dir: &Path| {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    let was = listing(&dir);
    let run = restore(&file, &dir, 1, &[]);
    assert!(!run.status.success());
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(stderr.contains("is not empty"), "{stderr}");
    assert_eq!(listing(&dir), was);

    // A stray file is enough to refuse.
    let other = cluster.dir.path().join("other");
    std::fs::create_dir_all(&other).unwrap();
    std::fs::write(other.join("notes.txt"), b"keep me").unwrap();
    assert!(!restore(&file, &other, 1, &[]).status.success());
    assert_eq!(std::fs::read(other.join("notes.txt")).unwrap(), b"keep me");

    // The node refused a restore over it and still starts with its own state.
    cluster.restart(1);
    cluster.wait_leader(None).await;
    assert_eq!(findings_of(&cluster, 1).await, before);
}
