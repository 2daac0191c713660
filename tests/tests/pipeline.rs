//! The scan pipeline across processes: three coordinators, `argus worker` processes and a real
//! nats-server on loopback. Jobs are recorded in Raft before they are published and results
//! are acknowledged only after their commit, so crashes of workers, of NATS (even losing its
//! store) and of the leader delay scans but lose and duplicate nothing.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use argus_coordinator::client::Client;
use argus_proto::v1::{
    ChangeKind, CoverageReason, GetPipelineStatusRequest, GetPipelineStatusResponse, ListCoverageRequest,
    PutResourcesRequest, Resource, ResourceType, SubscribeRequest,
};
use argus_tests::cluster::{all_findings, Cluster};
use argus_tests::nats::NatsServer;
use argus_tests::pipeline::{demo_db, findings_per_demo_host, host_dirs, host_resource, Workers};
use futures::StreamExt;

/// Short timings so that retries and redeliveries happen within a test.
fn pipeline_config(nats_url: &str, job_timeout_secs: u64) -> String {
    format!(
        r#"
[pipeline]
nats_url = "{nats_url}"
job_timeout_secs = {job_timeout_secs}
max_attempts = 3
retry_base_ms = 300
tick_ms = 100
[queue]
ack_wait_ms = 2000
"#
    )
}

struct Setup {
    nats: NatsServer,
    cluster: Cluster,
    workers: Workers,
    db: std::path::PathBuf,
}

async fn setup(workers: usize, worker_args: &[&str]) -> Setup {
    setup_with(workers, worker_args, 8).await
}

async fn setup_with(workers: usize, worker_args: &[&str], job_timeout_secs: u64) -> Setup {
    let nats = NatsServer::start();
    let rest = pipeline_config(&nats.url(), job_timeout_secs);
    let cluster = Cluster::start_with(3, "", &rest).await;
    let db = demo_db(cluster.dir.path());
    let mut args = vec!["--config", cluster.config.to_str().unwrap()];
    args.extend_from_slice(worker_args);
    let workers = Workers::start(workers, cluster.dir.path(), &nats.url(), &db, &args);
    Setup {
        nats,
        cluster,
        workers,
        db,
    }
}

async fn put(client: &Client, resources: Vec<Resource>) {
    let req = PutResourcesRequest { resources };
    client
        .retry(|c| {
            let r = req.clone();
            async move { c.inventory().put_resources(r).await }
        })
        .await
        .expect("put resources");
}

async fn pipeline_status(client: &Client) -> GetPipelineStatusResponse {
    client
        .retry(|c| async move { c.scans().get_pipeline_status(GetPipelineStatusRequest {}).await })
        .await
        .expect("pipeline status")
}

/// Coverage reason of every resource a node knows.
async fn coverage(client: &Client) -> BTreeMap<String, (CoverageReason, String)> {
    let resp = client
        .retry(|c| async move {
            c.coverage()
                .list_coverage(ListCoverageRequest {
                    page_size: 1000,
                    ..Default::default()
                })
                .await
        })
        .await
        .expect("coverage");
    resp.resources
        .into_iter()
        .map(|r| {
            let c = r.coverage.unwrap_or_default();
            (r.resource_id, (c.reason(), c.detail))
        })
        .collect()
}

async fn finding_count(client: &Client) -> usize {
    all_findings(client).await.len()
}

/// Waits until every resource on node `id` is covered with `reason`, or panics with the logs.
async fn wait_covered(s: &Setup, id: u64, resources: usize, reason: CoverageReason, timeout: Duration) {
    let start = Instant::now();
    loop {
        let c = coverage(&s.cluster.client_for(id)).await;
        if c.len() == resources && c.values().all(|(r, _)| *r == reason) {
            return;
        }
        if start.elapsed() > timeout {
            panic!(
                "node {id}: coverage not all {reason:?} after {timeout:?}: {c:?}\n{}\n{}",
                s.cluster.log_tails(30),
                s.workers.log_tails()
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The whole change log of a node through the feed (its backlog): (kind, finding id) in cursor
/// order. Called once the node holds every expected finding.
async fn feed(client: &Client, expected: usize) -> Vec<(ChangeKind, String)> {
    let mut out = Vec::new();
    let mut stream = client
        .feed()
        .subscribe(SubscribeRequest {
            after_cursor: 0,
            backlog_only: true,
            ..Default::default()
        })
        .await
        .expect("subscribe")
        .into_inner();
    while let Some(msg) = stream.next().await {
        let c = msg.expect("feed message").change.expect("a change");
        out.push((c.kind(), c.finding.unwrap_or_default().finding_id));
    }
    assert!(
        out.len() >= expected,
        "feed backlog has {} of {expected} changes",
        out.len()
    );
    out
}

/// Every finding was created exactly once, and nothing else happened to any of them.
fn assert_created_once(changes: &[(ChangeKind, String)], findings: usize) {
    let mut per_id: BTreeMap<&str, Vec<ChangeKind>> = BTreeMap::new();
    for (kind, id) in changes {
        per_id.entry(id).or_default().push(*kind);
    }
    assert_eq!(per_id.len(), findings, "distinct findings in the change log");
    for (id, kinds) in per_id {
        assert_eq!(kinds, vec![ChangeKind::Created], "finding {id}");
    }
}

fn hosts(dir: &Path, n: usize) -> Vec<Resource> {
    host_dirs(dir, n)
        .iter()
        .enumerate()
        .map(|(i, d)| host_resource(d, &format!("{:012}", 100_000_000_000u64 + (i % 3) as u64)))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t01_inventory_becomes_findings_on_every_coordinator() {
    let s = setup(2, &[]).await;
    let per_host = findings_per_demo_host(&s.db);
    assert!(per_host > 0, "the demo root filesystem has findings");
    let mut resources = hosts(s.cluster.dir.path(), 6);
    // A seventh resource carrying the first one's artifact: scanned once, findings on both.
    let mut twin = resources[0].clone();
    twin.resource_id = "twin-of-host-0".into();
    twin.r#type = ResourceType::Host as i32;
    resources.push(twin);
    put(&s.cluster.client(), resources).await;
    for id in 1..=3 {
        wait_covered(&s, id, 7, CoverageReason::Successful, Duration::from_secs(120)).await;
    }
    let status = pipeline_status(&s.cluster.client()).await;
    assert_eq!(status.artifacts, 6);
    assert_eq!(status.results_applied, 6, "one scan per artifact: {status:?}");
    for id in 1..=3 {
        let client = s.cluster.client_for(id);
        assert_eq!(finding_count(&client).await, per_host * 7, "node {id}");
        let changes = feed(&client, per_host * 7).await;
        assert_created_once(&changes, per_host * 7);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t02_a_worker_killed_mid_scan_leaves_its_jobs_to_the_other() {
    let mut s = setup(2, &["--concurrency", "4", "--scan-delay-ms", "1500"]).await;
    let per_host = findings_per_demo_host(&s.db);
    put(&s.cluster.client(), hosts(s.cluster.dir.path(), 8)).await;
    // Every job dispatched: both workers hold some of them mid-scan.
    let start = Instant::now();
    while pipeline_status(&s.cluster.client()).await.in_flight < 8 {
        assert!(start.elapsed() < Duration::from_secs(30), "jobs not dispatched");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    s.workers.kill(0);
    wait_covered(&s, 1, 8, CoverageReason::Successful, Duration::from_secs(120)).await;
    let status = pipeline_status(&s.cluster.client()).await;
    assert_eq!(status.results_applied, 8, "{status:?}");
    let client = s.cluster.client_for(2);
    assert_eq!(finding_count(&client).await, per_host * 8);
    assert_created_once(&feed(&client, per_host * 8).await, per_host * 8);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t03_nats_restarted_with_an_empty_store_loses_no_scan() {
    let mut s = setup(1, &["--concurrency", "2", "--scan-delay-ms", "1000"]).await;
    let per_host = findings_per_demo_host(&s.db);
    put(&s.cluster.client(), hosts(s.cluster.dir.path(), 6)).await;
    let start = Instant::now();
    while pipeline_status(&s.cluster.client()).await.in_flight < 6 {
        assert!(start.elapsed() < Duration::from_secs(30), "jobs not dispatched");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Jobs are queued and running: NATS loses everything it held.
    s.nats.restart_empty();
    wait_covered(&s, 1, 6, CoverageReason::Successful, Duration::from_secs(180)).await;
    let status = pipeline_status(&s.cluster.client()).await;
    assert_eq!(status.results_applied, 6, "{status:?}");
    assert!(status.jobs_retried > 0, "lost jobs were dispatched again: {status:?}");
    let client = s.cluster.client_for(3);
    assert_eq!(finding_count(&client).await, per_host * 6);
    assert_created_once(&feed(&client, per_host * 6).await, per_host * 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t04_leader_killed_during_ingestion_loses_and_duplicates_nothing() {
    let mut s = setup(2, &["--concurrency", "2", "--scan-delay-ms", "100"]).await;
    let per_host = findings_per_demo_host(&s.db);
    let n = 30;
    put(&s.cluster.client(), hosts(s.cluster.dir.path(), n)).await;
    let start = Instant::now();
    loop {
        let applied = pipeline_status(&s.cluster.client()).await.results_applied;
        if applied >= 3 {
            assert!(
                applied < n as u64,
                "all results were in before the kill; make scans slower"
            );
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(60), "no result ingested");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let leader = s.cluster.wait_leader(None).await;
    s.cluster.kill(leader);
    let new_leader = s.cluster.wait_leader(Some(leader)).await;
    wait_covered(&s, new_leader, n, CoverageReason::Successful, Duration::from_secs(180)).await;
    for id in (1..=3).filter(|id| *id != leader) {
        let client = s.cluster.client_for(id);
        assert_eq!(finding_count(&client).await, per_host * n, "node {id}");
        assert_created_once(&feed(&client, per_host * n).await, per_host * n);
    }
    // The killed leader comes back and holds the same.
    s.cluster.restart(leader);
    let client = s.cluster.client_for(leader);
    let start = Instant::now();
    while finding_count(&client).await != per_host * n {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "restarted node did not catch up"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_created_once(&feed(&client, per_host * n).await, per_host * n);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t05_a_poison_artifact_ends_scan_failed_after_its_attempts() {
    let s = setup(1, &[]).await;
    let bad = argus_tests::write_file(
        s.cluster.dir.path(),
        "poison/image.tar",
        b"this is not a tarball at all",
    );
    let locator = format!("docker-archive:{}", bad.display());
    let resource = Resource {
        r#type: ResourceType::ContainerImage as i32,
        resource_id: "poison".into(),
        account_id: "100000000000".into(),
        region: "eu-west-1".into(),
        artifact_digest: argus_tests::sha256(locator.as_bytes()),
        artifact_locator: locator,
        ..Default::default()
    };
    put(&s.cluster.client(), vec![resource]).await;
    wait_covered(&s, 1, 1, CoverageReason::ScanFailed, Duration::from_secs(60)).await;
    let (_, detail) = coverage(&s.cluster.client_for(2)).await.remove("poison").unwrap();
    assert!(detail.contains("image.tar"), "the error names the file: {detail}");
    let status = pipeline_status(&s.cluster.client()).await;
    assert_eq!(
        (status.jobs_dispatched, status.jobs_retried, status.failed),
        (3, 2, 1),
        "{status:?}"
    );
    // No hot loop: the next try waits for a backoff longer than the retries before it.
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(pipeline_status(&s.cluster.client()).await.jobs_dispatched, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t06_a_published_db_reaches_workers_and_a_new_advisory_rematches_only_its_holders() {
    use argus_tests::{argus_bin, run_ok, write_file};
    use std::process::Command;

    let nats = NatsServer::start();
    let cluster = Cluster::start_with(3, "", &pipeline_config(&nats.url(), 8)).await;
    let dir = cluster.dir.path().to_path_buf();
    let dir = dir.as_path();
    let db = demo_db(dir);
    let url = nats.url();
    let publish = |db: &Path| {
        run_ok(
            Command::new(argus_bin())
                .args(["db", "publish", "--nats", &url, "--db"])
                .arg(db),
        )
    };
    publish(&db);
    // No --db: the workers download the published database.
    let config = cluster.config.to_str().unwrap().to_string();
    let workers = Workers::start_from_store(2, dir, &nats.url(), &["--config", &config]);
    let s = Setup {
        nats,
        cluster,
        workers,
        db: db.clone(),
    };
    // Three hosts; only the first two hold the npm package the new advisory will name.
    let mut resources = Vec::new();
    for (i, packages) in [&["left-pad"][..], &["left-pad", "is-odd"], &["is-odd"]]
        .iter()
        .enumerate()
    {
        let mut entries = serde_json::Map::new();
        entries.insert("".into(), serde_json::json!({"name": "app", "version": "1.0.0"}));
        for p in *packages {
            entries.insert(format!("node_modules/{p}"), serde_json::json!({"version": "1.1.0"}));
        }
        let lock = serde_json::json!({"name": "app", "lockfileVersion": 3, "packages": entries});
        let host = dir.join(format!("npm-host-{i}"));
        write_file(&host, "srv/app/package-lock.json", serde_json::to_vec(&lock).unwrap());
        resources.push(host_resource(&host, "100000000000"));
    }
    put(&s.cluster.client(), resources).await;
    wait_covered(&s, 1, 3, CoverageReason::Successful, Duration::from_secs(120)).await;
    assert_eq!(finding_count(&s.cluster.client()).await, 0);

    // A newer database with an advisory for left-pad.
    let advisories = dir.join("advisories-v2");
    write_file(
        &advisories,
        "npm/GHSA-test-left-pad.json",
        serde_json::to_vec(&serde_json::json!({
            "schema_version": "1.6.0", "id": "GHSA-test-left-pad", "modified": "2026-11-01T00:00:00Z",
            "affected": [{"package": {"ecosystem": "npm", "name": "left-pad"},
                          "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.3.0"}]}]}]
        }))
        .unwrap(),
    );
    std::thread::sleep(Duration::from_millis(1100));
    let db2 = dir.join("demo-v2.vdb");
    run_ok(
        Command::new(argus_bin())
            .args(["db", "--db"])
            .arg(&db2)
            .arg("import")
            .arg(argus_tests::pipeline::demo_dir().join("vulndb"))
            .arg(&advisories),
    );
    publish(&db2);
    let start = Instant::now();
    loop {
        let status = pipeline_status(&s.cluster.client()).await;
        let findings = finding_count(&s.cluster.client()).await;
        if findings == 2 && status.reevaluation_rematched == 2 {
            assert_eq!(status.reevaluation_total, 3, "{status:?}");
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "re-evaluation: {findings} findings, {status:?}\n{}\n{}",
            s.cluster.log_tails(30),
            s.workers.log_tails()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Every node holds the same two findings, each created once.
    for id in 1..=3 {
        let client = s.cluster.client_for(id);
        let start = Instant::now();
        while finding_count(&client).await != 2 {
            assert!(start.elapsed() < Duration::from_secs(30), "node {id} did not converge");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_created_once(&feed(&client, 2).await, 2);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t07_a_new_leader_publishes_the_jobs_its_predecessor_recorded_but_never_queued() {
    // Jobs time out only after ten minutes: a scan that waits for its deadline fails the test.
    let mut s = setup_with(1, &[], 600).await;
    let per_host = findings_per_demo_host(&s.db);
    let n = 6;
    // With NATS down the leader records every dispatch in Raft but cannot queue one.
    s.nats.kill();
    put(&s.cluster.client(), hosts(s.cluster.dir.path(), n)).await;
    let start = Instant::now();
    while pipeline_status(&s.cluster.client()).await.in_flight < n as u64 {
        assert!(start.elapsed() < Duration::from_secs(30), "jobs not dispatched");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The only node that knew the jobs were unqueued dies with that knowledge.
    let leader = s.cluster.wait_leader(None).await;
    s.cluster.kill(leader);
    s.nats.restart();
    let new_leader = s.cluster.wait_leader(Some(leader)).await;
    wait_covered(&s, new_leader, n, CoverageReason::Successful, Duration::from_secs(120)).await;
    let status = pipeline_status(&s.cluster.client_for(new_leader)).await;
    assert_eq!(status.results_applied, n as u64, "{status:?}");
    assert_eq!(
        status.jobs_retried, 0,
        "the recorded attempts themselves were queued: {status:?}"
    );
    let client = s.cluster.client_for(new_leader);
    assert_eq!(finding_count(&client).await, per_host * n);
    assert_created_once(&feed(&client, per_host * n).await, per_host * n);
}
