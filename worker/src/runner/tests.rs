//! The worker loop as a specification, on the in-process queue, with real scans of directory
//! trees and a real (small) vulnerability database.

use std::path::{Path, PathBuf};
use std::time::Duration;

use argus_proto::internal::v1::{JobKind, ScanJob};
use argus_proto::v1::{FixAvailable, ScanOutcome, ScanResult, Severity};
use prost::Message;
use serde_json::json;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::*;
use crate::queue::{Backlog, QueueConfig};
use crate::vulndb::import::import;

/// Debian 12's openssl before the fix of the advisory below.
const INSTALLED: &str = "3.0.11-1~deb12u1";
const FIXED: &str = "3.0.11-1~deb12u2";

fn vulndb(dir: &Path) -> DbSlot {
    let src = dir.join("osv");
    std::fs::create_dir_all(&src).unwrap();
    let advisory = json!({
        "schema_version": "1.6.0", "id": "DSA-5000-1", "modified": "2024-01-02T00:00:00Z",
        "aliases": ["CVE-2024-0001"], "summary": "openssl: crash on crafted certificate",
        "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H"}],
        "affected": [{
            "package": {"ecosystem": "Debian:12", "name": "openssl"},
            "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": FIXED}]}]
        }],
        "references": [{"type": "ADVISORY", "url": "https://security-tracker.debian.org/tracker/DSA-5000-1"}]
    });
    std::fs::write(src.join("DSA-5000-1.json"), serde_json::to_vec(&advisory).unwrap()).unwrap();
    let dest = dir.join("vulndb.vdb");
    import(&[&src], &dest).unwrap();
    DbSlot::new(VulnDb::open(&dest).unwrap())
}

fn rootfs(dir: &Path) -> PathBuf {
    let root = dir.join("rootfs");
    std::fs::create_dir_all(root.join("etc")).unwrap();
    std::fs::create_dir_all(root.join("var/lib/dpkg")).unwrap();
    std::fs::write(
        root.join("etc/os-release"),
        "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID=\"12\"\n",
    )
    .unwrap();
    std::fs::write(
        root.join("var/lib/dpkg/status"),
        format!(
            "Package: openssl\nStatus: install ok installed\nArchitecture: amd64\nVersion: {INSTALLED}\n\n\
             Package: base-files\nStatus: install ok installed\nArchitecture: amd64\nVersion: 12.4+deb12u5\n"
        ),
    )
    .unwrap();
    root
}

fn scan_job(id: &str, kind: JobKind, locator: &str) -> ScanJob {
    ScanJob {
        job_id: format!("sha256:{id}#1"),
        artifact_digest: format!("sha256:{id}"),
        kind: kind as i32,
        attempt: 1,
        locator: locator.to_string(),
        shard: "acct".into(),
        ..Default::default()
    }
}

async fn publish(q: &Queue, job: &ScanJob) {
    let msg_id = format!("{}/{}", job.job_id, job.attempt);
    q.publish_job(&job.shard, &msg_id, job.encode_to_vec().into())
        .await
        .unwrap();
}

fn config() -> RunnerConfig {
    RunnerConfig {
        concurrency: 2,
        progress_every: Duration::from_millis(100),
        shutdown_grace: Duration::from_secs(10),
        retry_delay: Duration::from_millis(10),
        ..RunnerConfig::new("test-worker")
    }
}

struct Running {
    stop: oneshot::Sender<()>,
    handle: JoinHandle<queue::Result<RunStats>>,
}

fn start(q: &Queue, db: &DbSlot, cfg: RunnerConfig) -> Running {
    let (stop, stopped) = oneshot::channel::<()>();
    let handle = tokio::spawn(run(q.clone(), db.clone(), cfg, async {
        let _ = stopped.await;
    }));
    Running { stop, handle }
}

impl Running {
    async fn stop(self) -> RunStats {
        let _ = self.stop.send(());
        self.handle.await.unwrap().unwrap()
    }
}

/// Polls `cond` until it holds; a minute is "never" for these tests.
async fn wait_until<F: std::future::Future<Output = bool>>(what: &str, mut cond: impl FnMut() -> F) {
    let give_up = tokio::time::Instant::now() + Duration::from_secs(60);
    while !cond().await {
        assert!(tokio::time::Instant::now() < give_up, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn next_result(q: &Queue) -> ScanResult {
    let results = q.results().await.unwrap();
    let got = results.fetch(1, Duration::from_secs(60)).await.unwrap();
    let d = got.first().expect("a result within a minute");
    d.ack().await.unwrap();
    ScanResult::decode(d.payload.clone()).unwrap()
}

async fn jobs_pending(q: &Queue) -> u64 {
    q.pending_jobs().await.unwrap()
}

#[tokio::test]
async fn a_scan_job_publishes_its_findings_and_inventory_then_is_acked() {
    let tmp = tempfile::tempdir().unwrap();
    let db = vulndb(tmp.path());
    let root = rootfs(tmp.path());
    let q = Queue::memory(QueueConfig::default());
    publish(&q, &scan_job("a1", JobKind::Scan, &format!("dir:{}", root.display()))).await;
    let w = start(&q, &db, config());

    let r = next_result(&q).await;
    assert_eq!(r.outcome, ScanOutcome::Succeeded as i32, "{}", r.error);
    assert_eq!(
        (r.job_id.as_str(), r.artifact_digest.as_str()),
        ("sha256:a1#1", "sha256:a1")
    );
    assert_eq!(r.attempt, 1);
    assert_eq!(r.db_version, db.version());
    assert_eq!(r.scanned_by, "test-worker");
    assert!(r.scanned_at.is_some());
    assert_eq!(r.vulnerabilities.len(), 1, "{:?}", r.vulnerabilities);
    let v = &r.vulnerabilities[0];
    let vuln = v.vulnerability.as_ref().unwrap();
    assert_eq!(vuln.id, "CVE-2024-0001");
    assert_eq!(vuln.aliases, vec!["DSA-5000-1"]);
    assert_eq!(v.severity, Severity::High as i32);
    assert_eq!(v.score, 7.5);
    assert_eq!(v.fix_available, FixAvailable::Yes as i32);
    let p = v.package.as_ref().unwrap();
    assert_eq!((p.name.as_str(), p.version.as_str()), ("openssl", INSTALLED));
    assert_eq!(
        (p.ecosystem.as_str(), p.package_manager.as_str()),
        ("Debian:12", "DPKG")
    );
    assert_eq!(
        (p.file_path.as_str(), p.fixed_in_version.as_str()),
        ("/var/lib/dpkg/status", FIXED)
    );
    let inv = observe::decode_inventory(&r.inventory).unwrap();
    let names: Vec<&str> = inv.packages.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["base-files", "openssl"]);

    wait_until("the job is acked", || async { jobs_pending(&q).await == 0 }).await;
    let stats = w.stop().await;
    assert_eq!(
        stats,
        RunStats {
            succeeded: 1,
            ..Default::default()
        }
    );
}

#[tokio::test]
async fn a_target_that_cannot_be_read_yields_failed_with_the_error_and_is_acked() {
    let tmp = tempfile::tempdir().unwrap();
    let db = vulndb(tmp.path());
    let missing = tmp.path().join("no-such-rootfs");
    let q = Queue::memory(QueueConfig::default());
    publish(
        &q,
        &scan_job("b1", JobKind::Scan, &format!("dir:{}", missing.display())),
    )
    .await;
    let w = start(&q, &db, config());

    let r = next_result(&q).await;
    assert_eq!(r.outcome, ScanOutcome::Failed as i32);
    assert!(r.error.contains("no-such-rootfs"), "{}", r.error);
    assert!(r.vulnerabilities.is_empty());
    assert!(r.inventory.is_empty());
    wait_until("the job is acked", || async { jobs_pending(&q).await == 0 }).await;
    assert_eq!(
        w.stop().await,
        RunStats {
            failed: 1,
            ..Default::default()
        }
    );
}

#[tokio::test]
async fn a_rematch_job_matches_the_inventory_it_carries_without_reading_the_artifact() {
    let tmp = tempfile::tempdir().unwrap();
    let db = vulndb(tmp.path());
    let root = rootfs(tmp.path());
    let locator = format!("dir:{}", root.display());
    let inv = scan_target(root.to_str().unwrap(), &ScanOptions::default(), &NoProgress).unwrap();
    // Gone: a job that went to the artifact would fail.
    std::fs::remove_dir_all(&root).unwrap();
    let q = Queue::memory(QueueConfig::default());
    let mut job = scan_job("c1", JobKind::Rematch, &locator);
    job.inventory = observe::encode_inventory(&inv);
    job.min_db_version = db.version();
    publish(&q, &job).await;
    let w = start(&q, &db, config());

    let r = next_result(&q).await;
    assert_eq!(r.outcome, ScanOutcome::Succeeded as i32, "{}", r.error);
    let ids: Vec<&str> = r
        .vulnerabilities
        .iter()
        .map(|v| v.vulnerability.as_ref().unwrap().id.as_str())
        .collect();
    assert_eq!(ids, ["CVE-2024-0001"]);
    assert_eq!(observe::decode_inventory(&r.inventory).unwrap(), inv);
    wait_until("the job is acked", || async { jobs_pending(&q).await == 0 }).await;
    assert_eq!(w.stop().await.succeeded, 1);
}

#[tokio::test]
async fn a_rematch_needing_a_newer_database_is_handed_back_until_the_queue_gives_up() {
    let tmp = tempfile::tempdir().unwrap();
    let db = vulndb(tmp.path());
    let q = Queue::memory(QueueConfig {
        max_deliver: 3,
        ..Default::default()
    });
    let mut job = scan_job("d1", JobKind::Rematch, "dir:/nonexistent");
    job.inventory = observe::encode_inventory(&Inventory::new("dir:/nonexistent"));
    job.min_db_version = "99991231T235959Z-ffffffffffff".into();
    publish(&q, &job).await;
    let w = start(&q, &db, config());

    wait_until("the job is dropped after max_deliver", || async {
        jobs_pending(&q).await == 0
    })
    .await;
    assert_eq!(
        w.stop().await,
        RunStats {
            naked: 3,
            ..Default::default()
        }
    );
    assert_eq!(q.results_backlog().await.unwrap(), Backlog::default(), "no result");
}

#[tokio::test]
async fn a_job_whose_result_cannot_be_published_is_not_acked() {
    let tmp = tempfile::tempdir().unwrap();
    let db = vulndb(tmp.path());
    let root = rootfs(tmp.path());
    // Ingestion has stalled: the results stream is full.
    let q = Queue::memory(QueueConfig {
        max_results: 1,
        max_deliver: 2,
        ..Default::default()
    });
    q.publish_result("earlier/1", bytes::Bytes::from_static(b"earlier"))
        .await
        .unwrap();
    publish(&q, &scan_job("e1", JobKind::Scan, &format!("dir:{}", root.display()))).await;
    let w = start(&q, &db, config());

    // Each delivery was handed back unacked, until max_deliver.
    wait_until("the job is dropped after max_deliver", || async {
        jobs_pending(&q).await == 0
    })
    .await;
    assert_eq!(
        w.stop().await,
        RunStats {
            naked: 2,
            ..Default::default()
        }
    );
    let results = q.results().await.unwrap();
    let only = results.fetch(10, Duration::ZERO).await.unwrap();
    assert_eq!(only.len(), 1);
    assert_eq!(only[0].msg_id, "earlier/1");
}

#[tokio::test]
async fn a_message_that_is_not_a_job_is_acked_and_dropped() {
    let tmp = tempfile::tempdir().unwrap();
    let db = vulndb(tmp.path());
    let q = Queue::memory(QueueConfig::default());
    q.publish_job("acct", "garbage", bytes::Bytes::from_static(&[0xff, 0xff, 0xff]))
        .await
        .unwrap();
    let w = start(&q, &db, config());
    wait_until("the message is gone", || async { jobs_pending(&q).await == 0 }).await;
    assert_eq!(
        w.stop().await,
        RunStats {
            discarded: 1,
            ..Default::default()
        }
    );
    assert_eq!(q.results_backlog().await.unwrap(), Backlog::default());
}

#[tokio::test]
async fn shutdown_hands_unfinished_jobs_back_at_once() {
    let tmp = tempfile::tempdir().unwrap();
    let db = vulndb(tmp.path());
    // Only a nak can make a job deliverable again within this test.
    let q = Queue::memory(QueueConfig {
        ack_wait: Duration::from_secs(3600),
        ..Default::default()
    });
    for id in ["f1", "f2", "f3"] {
        publish(&q, &scan_job(id, JobKind::Scan, "dir:/srv")).await;
    }
    let w = start(
        &q,
        &db,
        RunnerConfig {
            simulate: Some(Duration::from_secs(3600)),
            shutdown_grace: Duration::from_millis(50),
            ..config()
        },
    );
    wait_until("both slots are busy", || async {
        q.jobs_backlog().await.unwrap() == Backlog { waiting: 1, unacked: 2 }
    })
    .await;
    assert_eq!(
        w.stop().await,
        RunStats {
            naked: 2,
            ..Default::default()
        }
    );
    let jobs = q.jobs().await.unwrap();
    let mut delivered: Vec<u32> = jobs
        .fetch(10, Duration::ZERO)
        .await
        .unwrap()
        .iter()
        .map(|d| d.delivered)
        .collect();
    delivered.sort();
    assert_eq!(
        delivered,
        [1, 2, 2],
        "the two running jobs came back, the third was never taken"
    );
}

#[tokio::test]
async fn progress_keeps_a_long_job_from_being_delivered_again() {
    let tmp = tempfile::tempdir().unwrap();
    let db = vulndb(tmp.path());
    let q = Queue::memory(QueueConfig {
        ack_wait: Duration::from_secs(1),
        ..Default::default()
    });
    publish(&q, &scan_job("g1", JobKind::Scan, "dir:/srv")).await;
    let w = start(
        &q,
        &db,
        RunnerConfig {
            concurrency: 1,
            simulate: Some(Duration::from_secs(3)),
            progress_every: Duration::from_millis(100),
            ..config()
        },
    );
    wait_until("the worker has the job", || async {
        q.jobs_backlog().await.unwrap().unacked == 1
    })
    .await;
    // A second worker polling all along never sees it: three ack_waits pass under heartbeats.
    let jobs = q.jobs().await.unwrap();
    let results = q.results().await.unwrap();
    let result = loop {
        let stolen = jobs.fetch(1, Duration::from_millis(100)).await.unwrap();
        assert!(stolen.is_empty(), "delivered again while running: {stolen:?}");
        if let Some(r) = results.fetch(1, Duration::ZERO).await.unwrap().pop() {
            break ScanResult::decode(r.payload.clone()).unwrap();
        }
    };
    assert_eq!(result.outcome, ScanOutcome::Succeeded as i32);
    assert!(result.vulnerabilities.is_empty());
    assert_eq!(observe::decode_inventory(&result.inventory).unwrap().target, "dir:/srv");
    assert_eq!(w.stop().await.succeeded, 1);
}

#[test]
fn locators_name_their_kind_and_anything_else_is_an_image_reference() {
    assert_eq!(parse_locator("dir:/srv/root"), (TargetKind::Dir, "/srv/root"));
    assert_eq!(parse_locator("oci-layout:/l"), (TargetKind::OciLayout, "/l"));
    assert_eq!(
        parse_locator("docker-archive:/a.tar"),
        (TargetKind::DockerArchive, "/a.tar")
    );
    assert_eq!(parse_locator("zip:/f.zip"), (TargetKind::Zip, "/f.zip"));
    assert_eq!(parse_locator("sbom:/s.json"), (TargetKind::Sbom, "/s.json"));
    assert_eq!(
        parse_locator("registry:ghcr.io/org/app@sha256:ab"),
        (TargetKind::Registry, "ghcr.io/org/app@sha256:ab")
    );
    assert_eq!(
        parse_locator("localhost:5000/app:1"),
        (TargetKind::Registry, "localhost:5000/app:1")
    );
    assert_eq!(parse_locator("debian:12"), (TargetKind::Registry, "debian:12"));
}

#[test]
fn errors_map_to_outcomes_where_they_tell() {
    let denied = std::io::Error::from(std::io::ErrorKind::PermissionDenied);
    assert_eq!(outcome_of(&Error::io("/x", denied)), ScanOutcome::AccessDenied);
    let missing = std::io::Error::from(std::io::ErrorKind::NotFound);
    assert_eq!(outcome_of(&Error::io("/x", missing)), ScanOutcome::Failed);
    let registry = |m: &str| Error::Registry {
        registry: "r.example".into(),
        message: m.into(),
    };
    assert_eq!(
        outcome_of(&registry("GET /v2/a/manifests/1: access denied (HTTP 403)")),
        ScanOutcome::AccessDenied
    );
    assert_eq!(
        outcome_of(&registry("registry wants Basic credentials and none are configured")),
        ScanOutcome::AccessDenied
    );
    assert_eq!(
        outcome_of(&registry("GET /v2/a/manifests/1: not found (HTTP 404)")),
        ScanOutcome::Failed
    );
    assert_eq!(
        outcome_of(&Error::Unsupported("platform".into())),
        ScanOutcome::Unsupported
    );
    assert_eq!(outcome_of(&Error::malformed("x", "bad")), ScanOutcome::Failed);
}
