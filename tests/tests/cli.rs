//! The `argus` binary: formats, detection, and a clear error for targets that are neither paths
//! nor image references (help on every level is `coordinator/tests/help.rs`).

use std::process::Command;

use argus_tests::{argus_bin, run_ok};

fn demo() -> String {
    format!("{}/demo/rootfs", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn demo_rootfs_inventory_in_every_format() {
    let table = run_ok(Command::new(argus_bin()).args(["sbom", &demo(), "--format", "table"]));
    assert!(table.contains("Debian GNU/Linux 12"), "{table}");
    assert!(
        table
            .lines()
            .any(|l| l.contains("libssl3") && l.contains("3.0.11-1~deb12u2") && l.contains("Debian:12")),
        "{table}"
    );
    assert!(
        table.lines().any(|l| l.contains("django") && l.contains("3.2.0")),
        "{table}"
    );
    assert!(
        table.lines().any(|l| l.contains("lodash") && l.contains("4.17.20")),
        "{table}"
    );

    let json: serde_json::Value = serde_json::from_str(&run_ok(Command::new(argus_bin()).args([
        "sbom",
        &demo(),
        "--format",
        "json",
    ])))
    .unwrap();
    let pkgs = json["packages"].as_array().unwrap();
    // 12 dpkg packages, 5 pinned requirements, 4 npm packages, 1 jar.
    assert_eq!(pkgs.len(), 22, "{json:#}");

    // Not a terminal: CycloneDX by default.
    let cdx: serde_json::Value =
        serde_json::from_str(&run_ok(Command::new(argus_bin()).args(["sbom", &demo()]))).unwrap();
    assert_eq!(cdx["bomFormat"], "CycloneDX");
    assert_eq!(cdx["specVersion"], "1.5");

    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("demo.spdx.json");
    run_ok(
        Command::new(argus_bin())
            .args(["sbom", &demo(), "-f", "spdx", "-o"])
            .arg(&out),
    );
    let spdx: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(spdx["spdxVersion"], "SPDX-2.3");

    // An SBOM written by argus reads back as the same inventory.
    let cdx_path = tmp.path().join("demo.cdx.json");
    std::fs::write(&cdx_path, serde_json::to_vec(&cdx).unwrap()).unwrap();
    let back: serde_json::Value = serde_json::from_str(&run_ok(
        Command::new(argus_bin()).args(["sbom", "-f", "json"]).arg(&cdx_path),
    ))
    .unwrap();
    let names = |v: &serde_json::Value| -> Vec<String> {
        let mut n: Vec<String> = v["packages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| format!("{}@{}", p["name"], p["version"]))
            .collect();
        n.sort();
        n
    };
    assert_eq!(names(&back), names(&json));
}

#[test]
fn unknown_targets_and_bad_config_fail_clearly() {
    let out = Command::new(argus_bin())
        .args(["sbom", "./no/such/path"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no/such/path"), "{err}");

    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("argus.toml");
    std::fs::write(&cfg, "[limits]\nmax_filez = 1\n").unwrap();
    let out = Command::new(argus_bin())
        .arg("--config")
        .arg(&cfg)
        .args(["sbom", &demo()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("max_filez"));
}
