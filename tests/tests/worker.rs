//! The `argus worker` process against a real nats-server: it takes a scan job, publishes the
//! result with what it found, acks the job, and stops cleanly on SIGTERM.

use std::process::{Command, Stdio};
use std::time::Duration;

use argus_proto::internal::v1::{JobKind, ScanJob};
use argus_proto::v1::{ScanOutcome, ScanResult};
use argus_tests::nats::NatsServer;
use argus_tests::{argus_bin, wait_for, write_file};
use argus_worker::queue::{Queue, QueueConfig};
use prost::Message;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_process_scans_a_job_publishes_the_result_and_stops_on_sigterm() {
    let tmp = tempfile::tempdir().unwrap();
    let advisory = json!({
        "id": "DSA-5000-1", "modified": "2024-01-02T00:00:00Z", "aliases": ["CVE-2024-0001"],
        "affected": [{"package": {"ecosystem": "Debian:12", "name": "openssl"},
                      "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "3.0.11-1~deb12u2"}]}]}]
    });
    write_file(
        tmp.path(),
        "osv/DSA-5000-1.json",
        serde_json::to_vec(&advisory).unwrap(),
    );
    let db = tmp.path().join("vulndb.vdb");
    argus_worker::vulndb::import::import(&[tmp.path().join("osv")], &db).unwrap();
    let root = tmp.path().join("rootfs");
    write_file(&root, "etc/os-release", "ID=debian\nVERSION_ID=\"12\"\n");
    write_file(
        &root,
        "var/lib/dpkg/status",
        "Package: openssl\nStatus: install ok installed\nArchitecture: amd64\nVersion: 3.0.11-1~deb12u1\n",
    );

    let nats = NatsServer::start();
    let stderr = std::fs::File::create(tmp.path().join("worker.log")).unwrap();
    let mut worker = Command::new(argus_bin())
        .args([
            "worker",
            "--nats",
            &nats.url(),
            "--concurrency",
            "1",
            "--name",
            "w1",
            "--db",
        ])
        .arg(&db)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .unwrap();
    let log = || std::fs::read_to_string(tmp.path().join("worker.log")).unwrap_or_default();

    let q = Queue::connect_nats(&nats.url(), QueueConfig::default()).await.unwrap();
    let job = ScanJob {
        job_id: "sha256:r1#1".into(),
        artifact_digest: "sha256:r1".into(),
        kind: JobKind::Scan as i32,
        attempt: 1,
        locator: format!("dir:{}", root.display()),
        shard: "acct".into(),
        ..Default::default()
    };
    q.publish_job("acct", "sha256:r1#1/1", job.encode_to_vec().into())
        .await
        .unwrap();
    let results = q.results().await.unwrap();
    let got = results.fetch(1, Duration::from_secs(60)).await.unwrap();
    assert_eq!(got.len(), 1, "no result; worker log:\n{}", log());
    got[0].ack().await.unwrap();
    assert_eq!(got[0].msg_id, "sha256:r1#1/1");
    let r = ScanResult::decode(got[0].payload.clone()).unwrap();
    assert_eq!(r.outcome, ScanOutcome::Succeeded as i32, "{}", r.error);
    assert_eq!(r.scanned_by, "w1");
    let ids: Vec<&str> = r
        .vulnerabilities
        .iter()
        .filter_map(|v| v.vulnerability.as_ref())
        .map(|v| v.id.as_str())
        .collect();
    assert_eq!(ids, ["CVE-2024-0001"]);
    for _ in 0..600 {
        if q.pending_jobs().await.unwrap() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(q.pending_jobs().await.unwrap(), 0, "the job is acked");

    let pid = worker.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let mut status = None;
    wait_for("the worker to exit after SIGTERM", Duration::from_secs(60), || {
        status = worker.try_wait().unwrap();
        status.is_some()
    });
    assert!(status.unwrap().success(), "worker log:\n{}", log());
    assert!(
        log().contains("worker stopped: 1 succeeded, 0 failed, 0 handed back, 0 discarded"),
        "{}",
        log()
    );
}
