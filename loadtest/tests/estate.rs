//! `argus-loadtest estate` end to end on a tiny estate: three real coordinators, nats-server and
//! two simulated-scan workers started by the load test (or one embedded `argus up`), every
//! scenario run, and the findings held after each compared with the ones the deterministic
//! generator predicts. No wall-clock figure is asserted: only that nothing is lost, duplicated
//! or invented.

use std::process::Command;

use serde_json::Value;

fn run_estate(extra: &[&str]) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_argus-loadtest"))
        .arg("estate")
        .args(extra)
        .args([
            "--accounts",
            "3",
            "--regions",
            "2",
            "--resources",
            "360",
            "--workers",
            "2",
            "--concurrency",
            "8",
            "--scan-ms",
            "20",
            "--steady-secs",
            "5",
            "--change-percent",
            "60",
            "--kill-batch",
            "300",
            "--scale-jobs",
            "60",
            "--timeout-secs",
            "300",
            "--json",
        ])
        .env("ARGUS_BIN", argus_tests::argus_bin())
        .output()
        .expect("running argus-loadtest");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "argus-loadtest estate failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

fn assert_exact(what: &str, v: &Value) {
    let n = |k: &str| v[k].as_u64().unwrap_or_else(|| panic!("{what}: no {k} in {v}"));
    assert!(n("expected") > 0, "{what}: the estate has findings: {v}");
    assert_eq!(n("found"), n("expected"), "{what}: {v}");
    assert_eq!((n("lost"), n("unexpected"), n("duplicated")), (0, 0, 0), "{what}: {v}");
}

#[test]
fn t01_a_tiny_estate_through_every_scenario_holds_exactly_the_expected_findings() {
    let report = run_estate(&[]);
    let s = &report["scenarios"];
    assert_exact("after the initial scan", &s["initial"]["verdict"]);
    assert_eq!(s["initial"]["findings"], s["initial"]["verdict"]["expected"]);
    assert_exact("after steady changes", &s["steady"]["verdict"]);
    assert!(s["steady"]["changed"].as_u64().unwrap() > 0, "{}", s["steady"]);

    // The new advisory: exactly its holders re-matched, exactly the predicted new findings.
    let a = &s["advisory"];
    assert_exact("after the advisory", &a["verdict"]);
    assert!(a["new_findings_expected"].as_u64().unwrap() > 0, "{a}");
    assert_eq!(a["new_findings"], a["new_findings_expected"], "{a}");
    assert_eq!(a["rematched"], a["rematched_expected"], "{a}");

    // Leader killed mid-ingestion: the survivors and the restarted node hold the same.
    let k = &s["leader_kill"];
    assert_exact("after the leader kill", &k["verdict"]);
    assert_exact("on the restarted node", &k["verdict_restarted_node"]);
    assert_ne!(k["killed_leader"], k["new_leader"], "{k}");

    assert_exact("after worker scale", &s["worker_scale"]["verdict"]);
    assert_eq!(
        s["worker_scale"]["steps"].as_array().unwrap().len(),
        2,
        "1 and 2 workers"
    );

    assert_eq!(report["feed_duplicates"], 0, "no finding created twice on the feed");
    assert_eq!(
        (report["lost"].as_u64(), report["duplicated"].as_u64()),
        (Some(0), Some(0))
    );
    assert_eq!(report["exact"], true);
}

#[test]
fn t02_the_embedded_process_killed_mid_ingestion_and_restarted_loses_and_duplicates_nothing() {
    let report = run_estate(&["--embedded"]);
    assert_eq!(report["parameters"]["coordinators"], "embedded");
    let s = &report["scenarios"];
    assert_exact("after the initial scan", &s["initial"]["verdict"]);
    assert_exact("after steady changes", &s["steady"]["verdict"]);
    // The new database reaches the process through the file it watches.
    let a = &s["advisory"];
    assert_exact("after the advisory", &a["verdict"]);
    assert!(a["new_findings_expected"].as_u64().unwrap() > 0, "{a}");
    assert_eq!(a["rematched"], a["rematched_expected"], "{a}");
    // kill -9 of the one process during puts and ingestion: its queue is gone, its log is not.
    assert_exact("after the kill and restart", &s["leader_kill"]["verdict"]);
    assert!(s["worker_scale"]["skipped"].is_string(), "{}", s["worker_scale"]);
    assert_eq!(report["feed_duplicates"], 0, "no finding created twice on the feed");
    assert_eq!(report["exact"], true);
}

#[test]
fn t03_real_scans_of_written_artifacts_hold_exactly_the_expected_findings() {
    // Workers fetch, extract and match every artifact for real: the written root filesystems
    // must come back as the synthetic inventories, or the findings differ.
    let report = run_estate(&["--engine", "real", "--scenario", "advisory"]);
    assert_eq!(report["parameters"]["engine"], "real");
    assert!(report["artifacts_written"].as_u64().unwrap() > 0, "{report}");
    let s = &report["scenarios"];
    assert_exact("after the initial scan", &s["initial"]["verdict"]);
    let a = &s["advisory"];
    assert_exact("after the advisory", &a["verdict"]);
    assert_eq!(a["new_findings"], a["new_findings_expected"], "{a}");
    assert_eq!(report["exact"], true);
}
