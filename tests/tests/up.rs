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
            .or_else(|| f["vulnerabilityId"].as_str());
        if let Some(id) = id {
            assert!(out.contains(id), "{id} missing from the summary:\n{out}");
        }
    }
}

#[test]
fn t02_a_running_up_answers_findings_coverage_and_scan_now_from_another_process() {
    let dir = tempfile::tempdir().unwrap();
    let db = demo_db(dir.path());
    let per_host = findings_per_demo_host(&db);
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let log = dir.path().join("up.log");
    let mut up = ChildGuard::spawn(
        "argus up",
        Command::new(argus_bin())
            .args(["up", "--listen", &addr, "--db"])
            .arg(&db)
            .arg("--targets")
            .arg(targets_file(dir.path()))
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap()),
    );
    wait_for("argus up to finish scanning", Duration::from_secs(120), || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .contains("serving until interrupted")
    });
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
