//! `argus db update` against a real HTTP server on loopback (Python's `http.server`, which
//! answers conditional requests): first run downloads, second run is told nothing changed, a
//! changed file is fetched again, and a broken download never replaces a good cached copy.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use argus_tests::{argus_bin, free_port, port_open, run_ok, wait_for, write_file, ChildGuard};
use serde_json::json;

fn osv_zip(records: &[serde_json::Value]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for r in records {
        w.start_file(
            format!("{}.json", r["id"].as_str().unwrap()),
            zip::write::SimpleFileOptions::default(),
        )
        .unwrap();
        w.write_all(&serde_json::to_vec(r).unwrap()).unwrap();
    }
    w.finish().unwrap().into_inner()
}

fn record(id: &str, eco: &str, name: &str) -> serde_json::Value {
    json!({"id": id, "modified": "2024-01-01T00:00:00Z", "aliases": [],
           "affected": [{"package": {"ecosystem": eco, "name": name}, "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "9.9"}]}]}]})
}

fn set_mtime(path: &Path, secs_from_now: i64) {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
        + secs_from_now;
    run_ok(Command::new("touch").arg("-d").arg(format!("@{t}")).arg(path));
}

#[test]
fn update_downloads_then_uses_conditional_requests_and_keeps_good_copies() {
    let tmp = tempfile::tempdir().unwrap();
    let www = tmp.path().join("www");
    write_file(
        &www,
        "osv/PyPI/all.zip",
        osv_zip(&[record("PYSEC-1", "PyPI", "django"), record("PYSEC-2", "PyPI", "flask")]),
    );
    write_file(&www, "osv/npm/all.zip", osv_zip(&[record("GHSA-1", "npm", "lodash")]));
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(b"#model_version:v1,score_date:2024-01-01T00:00:00+0000\ncve,epss,percentile\nCVE-2021-1,0.5,0.9\n")
        .unwrap();
    write_file(&www, "epss.csv.gz", gz.finish().unwrap());
    write_file(
        &www,
        "kev.json",
        serde_json::to_vec(
            &json!({"catalogVersion": "1", "vulnerabilities": [{"cveID": "CVE-2021-1", "dateAdded": "2021-01-01"}]}),
        )
        .unwrap(),
    );
    for f in ["osv/PyPI/all.zip", "osv/npm/all.zip", "epss.csv.gz", "kev.json"] {
        set_mtime(&www.join(f), -3600);
    }
    let port = free_port();
    let _server = ChildGuard::spawn(
        "http.server",
        Command::new("python3")
            .args([
                "-m",
                "http.server",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--directory",
            ])
            .arg(&www)
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    wait_for("http.server to listen", Duration::from_secs(20), || port_open(port));
    let config = write_file(
        tmp.path(),
        "argus.toml",
        format!(
            "[vulndb.sources]\nosv_base_url = \"http://127.0.0.1:{port}/osv\"\nepss_url = \"http://127.0.0.1:{port}/epss.csv.gz\"\n\
             kev_url = \"http://127.0.0.1:{port}/kev.json\"\necosystems = [\"PyPI\", \"npm\"]\n"
        ),
    );
    let db = tmp.path().join("data/argus.vdb");
    let update = || {
        Command::new(argus_bin())
            .arg("--config")
            .arg(&config)
            .args(["db", "--db"])
            .arg(&db)
            .arg("update")
            .output()
            .unwrap()
    };
    let first = update();
    let out = String::from_utf8_lossy(&first.stdout).to_string();
    assert!(
        first.status.success(),
        "{out}\n{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert_eq!(out.matches("downloaded ").count(), 4, "{out}");
    assert!(out.contains("3 records, 1 EPSS scores, 1 KEV entries"), "{out}");

    let second = String::from_utf8_lossy(&update().stdout).to_string();
    assert_eq!(second.matches("not modified ").count(), 4, "{second}");
    assert!(second.contains("3 records"), "{second}");

    // npm's export changes: only it is fetched again.
    write_file(
        &www,
        "osv/npm/all.zip",
        osv_zip(&[record("GHSA-1", "npm", "lodash"), record("GHSA-2", "npm", "minimist")]),
    );
    set_mtime(&www.join("osv/npm/all.zip"), 5);
    let third = String::from_utf8_lossy(&update().stdout).to_string();
    assert_eq!(third.matches("downloaded ").count(), 1, "{third}");
    assert!(third.contains("4 records"), "{third}");

    // A broken export is refused; the database and the cached copy stay as they were.
    write_file(&www, "osv/PyPI/all.zip", b"PK\x03\x04 this is not a whole zip");
    set_mtime(&www.join("osv/PyPI/all.zip"), 10);
    let broken = update();
    assert!(!broken.status.success());
    assert!(
        String::from_utf8_lossy(&broken.stderr).contains("not a valid zip"),
        "{}",
        String::from_utf8_lossy(&broken.stderr)
    );
    let info = run_ok(
        Command::new(argus_bin())
            .args(["db", "--db"])
            .arg(&db)
            .args(["info", "--json"]),
    );
    let info: serde_json::Value = serde_json::from_str(&info).unwrap();
    assert_eq!(info["records"], 4);
    assert_eq!(info["per_ecosystem"]["PyPI"], 2);
}
