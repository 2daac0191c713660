//! `argus scan` end to end on the demo target and the demo vulnerability data: the findings a
//! user sees, every report format, and the CI gate.

use std::path::{Path, PathBuf};
use std::process::Command;

use argus_tests::{argus_bin, run_ok};

fn demo(rel: &str) -> String {
    format!("{}/demo/{rel}", env!("CARGO_MANIFEST_DIR"))
}

/// Builds the demo database in `dir` with `argus db import`.
fn demo_db(dir: &Path) -> PathBuf {
    let db = dir.join("demo.vdb");
    let out = run_ok(
        Command::new(argus_bin())
            .args(["db", "--db"])
            .arg(&db)
            .args(["import", &demo("vulndb")]),
    );
    assert!(out.contains("15 records") && out.contains("1 KEV"), "{out}");
    db
}

fn scan(db: &Path, extra: &[&str]) -> std::process::Output {
    Command::new(argus_bin())
        .args(["scan", "--db"])
        .arg(db)
        .arg(demo("rootfs"))
        .args(extra)
        .output()
        .unwrap()
}

#[test]
fn demo_scan_reports_real_findings_as_json() {
    let tmp = tempfile::tempdir().unwrap();
    let db = demo_db(tmp.path());
    let out = scan(&db, &["-f", "json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let findings = v["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 17, "{v:#}");
    let log4shell = findings
        .iter()
        .find(|f| f["vulnerability"]["id"] == "CVE-2021-44228")
        .expect("log4shell");
    assert_eq!(log4shell["severity"], "CRITICAL");
    assert_eq!(log4shell["score"], 10.0);
    assert_eq!(log4shell["cvssVector"], "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H");
    assert_eq!(log4shell["exploitAvailable"], true);
    assert_eq!(log4shell["kevDateAdded"], "2021-12-10");
    assert_eq!(log4shell["fixAvailable"], "YES");
    assert_eq!(log4shell["vulnerablePackages"][0]["fixedInVersion"], "2.15.0");
    assert_eq!(log4shell["vulnerability"]["aliases"][0], "GHSA-jfh8-c2jp-5v3q");
    // Two advisories (GHSA and PYSEC) for one urllib3 vulnerability are one finding.
    let urllib3: Vec<_> = findings
        .iter()
        .filter(|f| f["vulnerablePackages"][0]["name"] == "urllib3")
        .collect();
    assert_eq!(urllib3.len(), 1);
    assert_eq!(
        urllib3[0]["vulnerability"]["aliases"],
        serde_json::json!(["GHSA-q2q7-5pp4-w6pg", "PYSEC-2021-108"])
    );
    // The distribution advisory names the source package; both binaries built from it are hit.
    let openssl: Vec<_> = findings
        .iter()
        .filter(|f| f["vulnerability"]["id"] == "CVE-2023-5678")
        .map(|f| f["vulnerablePackages"][0]["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(openssl, ["libssl3", "openssl"]);
    let curl = findings
        .iter()
        .find(|f| f["vulnerability"]["id"] == "CVE-2024-2398")
        .unwrap();
    assert_eq!(curl["severity"], "UNTRIAGED");
    // Finding ids are stable across runs.
    let again: serde_json::Value = serde_json::from_slice(&scan(&db, &["-f", "json"]).stdout).unwrap();
    let ids = |v: &serde_json::Value| -> Vec<String> {
        v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["findingId"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(ids(&v), ids(&again));
}

#[test]
fn fail_on_severity_filter_and_ignore_file_gate_ci() {
    let tmp = tempfile::tempdir().unwrap();
    let db = demo_db(tmp.path());
    let out = scan(&db, &["-f", "json", "--fail-on", "CRITICAL"]);
    assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stderr));

    let only_high: serde_json::Value =
        serde_json::from_slice(&scan(&db, &["-f", "json", "--severity", "HIGH"]).stdout).unwrap();
    assert_eq!(only_high["findings"].as_array().unwrap().len(), 3);

    let ignore = tmp.path().join("ignore.toml");
    std::fs::write(
        &ignore,
        "[[ignore]]\nid = \"CVE-2021-44228\"\nreason = \"jar is not loaded\"\n\n\
         [[ignore]]\nid = \"GHSA-xvch-5gv4-984h\"\npackage = \"minimist\"\nreason = \"dev only\"\n\n\
         [[ignore]]\nid = \"CVE-2020-14343\"\nreason = \"expired acceptance\"\nexpires = 2020-01-01\n",
    )
    .unwrap();
    let out = scan(
        &db,
        &[
            "-f",
            "json",
            "--fail-on",
            "CRITICAL",
            "--ignore-file",
            ignore.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(3), "the expired entry no longer hides PyYAML");
    assert!(String::from_utf8_lossy(&out.stderr).contains("expired"));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["ignored"], 2);
    let crit: Vec<_> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["severity"] == "CRITICAL")
        .map(|f| f["vulnerability"]["id"].clone())
        .collect();
    assert_eq!(crit, [serde_json::json!("CVE-2020-14343")]);

    let out = scan(&db, &["--fail-on", "SEVERE"]);
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("unknown severity"));
}

#[test]
fn sarif_and_cyclonedx_reports_are_valid() {
    let tmp = tempfile::tempdir().unwrap();
    let db = demo_db(tmp.path());
    let sarif: serde_json::Value = serde_json::from_slice(&scan(&db, &["-f", "sarif"]).stdout).unwrap();
    assert_eq!(sarif["version"], "2.1.0");
    let run = &sarif["runs"][0];
    assert_eq!(run["results"].as_array().unwrap().len(), 17);
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    assert_eq!(
        rules.len(),
        14,
        "one rule per vulnerability (17 findings, three of them on two binaries)"
    );
    for r in run["results"].as_array().unwrap() {
        let idx = r["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(rules[idx]["id"], r["ruleId"]);
    }

    let bom_path = tmp.path().join("bom.json");
    run_ok(
        Command::new(argus_bin())
            .args(["scan", "--db"])
            .arg(&db)
            .arg(demo("rootfs"))
            .args(["-f", "cyclonedx", "-o"])
            .arg(&bom_path),
    );
    let bom: serde_json::Value = serde_json::from_slice(&std::fs::read(&bom_path).unwrap()).unwrap();
    let refs: Vec<&str> = bom["components"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["bom-ref"].as_str())
        .collect();
    for v in bom["vulnerabilities"].as_array().unwrap() {
        let r = v["affects"][0]["ref"].as_str().unwrap();
        assert!(refs.contains(&r), "vulnerability {} affects unknown ref {r}", v["id"]);
    }
    // The reference validator (cyclonedx-python-lib) accepts the document.
    let check = "import sys\nfrom cyclonedx.validation.json import JsonStrictValidator\nfrom cyclonedx.schema import SchemaVersion\n\
                 err = JsonStrictValidator(SchemaVersion.V1_5).validate_str(open(sys.argv[1]).read())\n\
                 sys.exit(str(err) if err else 0)\n";
    run_ok(Command::new("python3").args(["-c", check]).arg(&bom_path));
}
