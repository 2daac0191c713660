//! `argus up`: the embedded single process (one-node coordinator, in-process queue, workers)
//! scanning a targets file, and the client commands querying it from another process.

use std::process::{Command, Stdio};
use std::time::Duration;

use argus_tests::pipeline::{demo_db, demo_dir, findings_per_demo_host};
use argus_tests::{argus_bin, free_port, run_ok, wait_for, write_file, ChildGuard};

fn targets_file(dir: &std::path::Path) -> std::path::PathBuf {
    let rootfs = demo_dir().join("rootfs");
    write_file(
        dir,
        "targets.toml",
        format!(
            "[[target]]\ntarget = \"{}\"\nid = \"demo-host\"\n\n[[target]]\ntarget = \"{}\"\nid = \"demo-host-twin\"\n",
            rootfs.display(),
            rootfs.display()
        ),
    )
}

/// `argus up` serving on `addr` (log in `dir/up.log`), returned once it has scanned its targets.
fn serve(dir: &std::path::Path, db: &std::path::Path, targets: &std::path::Path, addr: &str) -> ChildGuard {
    let log = dir.join("up.log");
    let up = ChildGuard::spawn(
        "argus up",
        Command::new(argus_bin())
            .args(["up", "--listen", addr, "--db"])
            .arg(db)
            .arg("--targets")
            .arg(targets)
            .arg("--data-dir")
            .arg(dir.join("data"))
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap()),
    );
    wait_for("argus up to finish scanning", Duration::from_secs(120), || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .contains("serving until interrupted")
    });
    up
}

#[test]
fn t01_up_scans_the_targets_and_reports_coverage_and_findings() {
    let dir = tempfile::tempdir().unwrap();
    let db = demo_db(dir.path());
    let per_host = findings_per_demo_host(&db);
    let out = run_ok(
        Command::new(argus_bin())
            .args([
                "up",
                "--exit-when-done",
                "--listen",
                "127.0.0.1:0",
                "--workers",
                "2",
                "--db",
            ])
            .arg(&db)
            .arg("--targets")
            .arg(targets_file(dir.path()))
            .arg("--data-dir")
            .arg(dir.path().join("data")),
    );
    // Both resources carry the same directory: one artifact, scanned once, findings on both.
    assert!(out.contains("COVERAGE"), "{out}");
    let covered: Vec<&str> = out.lines().filter(|l| l.contains("SUCCESSFUL")).collect();
    assert_eq!(covered.len(), 2, "{out}");
    assert!(
        out.contains(&format!("FINDINGS ({} active", per_host * 2)),
        "expected {} findings:\n{out}",
        per_host * 2
    );
    // What the single-shot scanner finds is what the pipeline finds.
    let scan: serde_json::Value = serde_json::from_str(&run_ok(
        Command::new(argus_bin())
            .args(["scan", "--format", "json", "--db"])
            .arg(&db)
            .arg(demo_dir().join("rootfs")),
    ))
    .unwrap();
    for f in scan["findings"].as_array().unwrap() {
        let id = f["vulnerability"]["id"]
            .as_str()
            .expect("a finding names its vulnerability");
        assert!(out.contains(id), "{id} missing from the summary:\n{out}");
    }
}

#[test]
fn t02_a_running_up_answers_findings_coverage_and_scan_now_from_another_process() {
    let dir = tempfile::tempdir().unwrap();
    let db = demo_db(dir.path());
    let per_host = findings_per_demo_host(&db);
    let addr = format!("127.0.0.1:{}", free_port());
    let mut up = serve(dir.path(), &db, &targets_file(dir.path()), &addr);
    let findings = run_ok(Command::new(argus_bin()).args(["findings", "--addr", &addr, "list", "--json"]));
    assert_eq!(findings.lines().count(), per_host * 2, "{findings}");
    let coverage = run_ok(Command::new(argus_bin()).args(["coverage", "--addr", &addr]));
    assert_eq!(
        coverage.lines().filter(|l| l.contains("SUCCESSFUL")).count(),
        2,
        "{coverage}"
    );
    let now = run_ok(Command::new(argus_bin()).args(["scan-now", "--addr", &addr, "--resource", "demo-host"]));
    assert!(now.contains("1 artifact(s) due now"), "{now}");
    // SIGTERM: a clean shutdown.
    let pid = up.child.id().to_string();
    run_ok(Command::new("kill").args(["-TERM", &pid]));
    let status = up.child.wait().unwrap();
    assert!(status.success(), "argus up exited with {status}");
}

/// A directory holding one npm lockfile with `packages` (name, version).
fn npm_host(dir: &std::path::Path, name: &str, packages: &[(&str, &str)]) -> std::path::PathBuf {
    let mut entries = serde_json::Map::new();
    entries.insert("".into(), serde_json::json!({"name": name, "version": "1.0.0"}));
    for (p, v) in packages {
        entries.insert(format!("node_modules/{p}"), serde_json::json!({ "version": v }));
    }
    let lock = serde_json::json!({"name": name, "version": "1.0.0", "lockfileVersion": 3, "packages": entries});
    write_file(
        &dir.join(name),
        "srv/app/package-lock.json",
        serde_json::to_vec_pretty(&lock).unwrap(),
    );
    dir.join(name)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t03_a_new_advisory_rematches_exactly_the_artifacts_holding_its_package() {
    use argus_coordinator::client::Client;
    use argus_proto::v1::{GetPipelineStatusRequest, GetResourceRequest, ListFindingsRequest};

    let dir = tempfile::tempdir().unwrap();
    let db = demo_db(dir.path());
    let hosts = [
        npm_host(dir.path(), "h0", &[("left-pad", "1.1.0")]),
        npm_host(dir.path(), "h1", &[("is-odd", "3.0.0")]),
        npm_host(dir.path(), "h2", &[("left-pad", "1.1.0"), ("is-even", "1.0.0")]),
    ];
    let targets: String = hosts
        .iter()
        .enumerate()
        .map(|(i, h)| format!("[[target]]\ntarget = \"{}\"\nid = \"h{i}\"\n", h.display()))
        .collect();
    let targets = write_file(dir.path(), "targets.toml", targets);
    let addr = format!("127.0.0.1:{}", free_port());
    let _up = serve(dir.path(), &db, &targets, &addr);
    let client = Client::new(&[addr.clone()]).unwrap();
    let scanned_at = |id: &'static str| {
        let client = client.clone();
        async move {
            let r = client
                .retry(|c| async move {
                    c.inventory()
                        .get_resource(GetResourceRequest { resource_id: id.into() })
                        .await
                })
                .await
                .unwrap();
            r.resource.unwrap().coverage.unwrap().last_scanned_at.unwrap()
        }
    };
    let h1_before = scanned_at("h1").await;
    let findings = || {
        let client = client.clone();
        async move {
            client
                .retry(|c| async move { c.findings().list_findings(ListFindingsRequest::default()).await })
                .await
                .unwrap()
                .findings
        }
    };
    assert!(findings().await.is_empty(), "no advisory names these packages yet");

    // A new advisory for left-pad: the DB file is replaced with a newer version.
    let advisories = dir.path().join("advisories-v2");
    write_file(
        &advisories,
        "npm/GHSA-test-left-pad.json",
        serde_json::to_vec(&serde_json::json!({
            "schema_version": "1.6.0", "id": "GHSA-test-left-pad", "modified": "2026-11-01T00:00:00Z",
            "aliases": ["CVE-2026-0001"], "summary": "left-pad pads wrongly",
            "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
            "affected": [{"package": {"ecosystem": "npm", "name": "left-pad"},
                          "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.3.0"}]}]}]
        }))
        .unwrap(),
    );
    // Versions are stamped to the second: the new one must sort after the old.
    std::thread::sleep(Duration::from_millis(1100));
    run_ok(
        Command::new(argus_bin())
            .args(["db", "--db"])
            .arg(&db)
            .arg("import")
            .arg(demo_dir().join("vulndb"))
            .arg(&advisories),
    );
    let start = std::time::Instant::now();
    loop {
        let f = findings().await;
        if f.len() == 2 {
            let mut on: Vec<String> = f.iter().map(|f| f.resource.clone().unwrap().resource_id).collect();
            on.sort();
            assert_eq!(on, ["h0", "h2"]);
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "findings after the new DB: {f:?}\n{}",
            std::fs::read_to_string(dir.path().join("up.log")).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let status = client
        .retry(|c| async move { c.scans().get_pipeline_status(GetPipelineStatusRequest {}).await })
        .await
        .unwrap();
    assert_eq!(
        (status.reevaluation_rematched, status.reevaluation_total),
        (2, 3),
        "{status:?}"
    );
    assert_eq!(
        scanned_at("h1").await,
        h1_before,
        "h1 holds no left-pad: not re-matched"
    );
}
