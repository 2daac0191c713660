//! The database as a specification: what import accepts, skips and reports, and what lookups
//! return.

use std::io::Write;

use serde_json::json;

use super::import::import;
use super::osv::Event;
use super::{VulnDb, VulnDbError};

fn record(id: &str, eco: &str, name: &str, fixed: &str) -> serde_json::Value {
    json!({
        "schema_version": "1.6.0", "id": id, "modified": "2024-01-02T00:00:00Z", "published": "2023-12-01T00:00:00Z",
        "aliases": [format!("CVE-2024-{}", id.len())], "summary": format!("{name} bug"),
        "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
        "affected": [{
            "package": {"ecosystem": eco, "name": name},
            "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": fixed}]},
                       {"type": "GIT", "repo": "https://example.org/x.git", "events": [{"introduced": "abc"}]}],
            "versions": ["1.0"],
            "database_specific": {"source": "x"}
        }],
        "references": [{"type": "ADVISORY", "url": format!("https://example.org/{id}")}],
        "database_specific": {"severity": "high"}
    })
}

fn write(dir: &std::path::Path, rel: &str, v: &serde_json::Value) {
    let p = dir.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, serde_json::to_vec(v).unwrap()).unwrap();
}

fn zip_of(entries: &[(&str, serde_json::Value)]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, v) in entries {
        w.start_file(*name, zip::write::SimpleFileOptions::default()).unwrap();
        w.write_all(&serde_json::to_vec(v).unwrap()).unwrap();
    }
    w.finish().unwrap().into_inner()
}

#[test]
fn import_reads_directories_files_and_osv_zips_and_lookups_find_records() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    write(
        &src,
        "PyPI/PYSEC-2021-1.json",
        &record("PYSEC-2021-1", "PyPI", "Django", "3.2.1"),
    );
    write(
        &src,
        "Debian/DSA-1.json",
        &record("DSA-1", "Debian:12", "openssl", "3.0.11-1~deb12u3"),
    );
    write(
        &src,
        "Ubuntu/USN-1.json",
        &record("USN-1", "Ubuntu:22.04:LTS", "openssl", "3.0.2-0ubuntu1.15"),
    );
    let mut upstream = record("DEBIAN-CVE-2023-5678", "Debian:11", "openssl", "3.0.13-1~deb12u1");
    upstream["aliases"] = json!([]);
    upstream["upstream"] = json!(["CVE-2023-5678"]);
    write(&src, "Debian/DEBIAN-CVE-2023-5678.json", &upstream);
    let zip = zip_of(&[
        (
            "GHSA-aaaa-bbbb-cccc.json",
            record("GHSA-aaaa-bbbb-cccc", "npm", "lodash", "4.17.21"),
        ),
        (
            "GHSA-dddd-eeee-ffff.json",
            record("GHSA-dddd-eeee-ffff", "npm", "minimist", "1.2.6"),
        ),
    ]);
    std::fs::write(tmp.path().join("all.zip"), zip).unwrap();
    let db_path = tmp.path().join("db/argus.vdb");
    let report = import(&[src.as_path(), tmp.path().join("all.zip").as_path()], &db_path).unwrap();
    assert_eq!(report.meta.records, 6);
    assert_eq!(report.meta.per_ecosystem.get("npm"), Some(&2));
    assert_eq!(report.meta.per_ecosystem.get("Debian"), Some(&2));
    assert_eq!(report.meta.git_ranges_ignored, 6);
    assert_eq!(report.meta.newest_modified.as_deref(), Some("2024-01-02T00:00:00Z"));
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);

    let db = VulnDb::open(&db_path).unwrap();
    assert_eq!(db.meta().version, report.meta.version);
    // PEP 503: any spelling of the name finds the record.
    let found = db.lookup("PyPI", "DJANGO").unwrap();
    assert_eq!(found.len(), 1);
    let adv = &found[0];
    assert_eq!(adv.id, "PYSEC-2021-1");
    assert_eq!(adv.severity_label.as_deref(), Some("HIGH"));
    assert_eq!(adv.affected[0].ranges.len(), 1, "GIT ranges are counted, not kept");
    assert_eq!(
        adv.affected[0].ranges[0].events,
        vec![Event::Introduced("0".into()), Event::Fixed("3.2.1".into())]
    );
    assert_eq!(
        db.lookup("Ubuntu:22.04", "openssl").unwrap()[0].id,
        "USN-1",
        "the :LTS suffix is not part of the key"
    );
    assert_eq!(db.lookup("Debian:12", "openssl").unwrap()[0].id, "DSA-1");
    let on_11 = db.lookup("Debian:11", "openssl").unwrap();
    assert_eq!(on_11.len(), 1, "releases do not mix");
    assert_eq!(
        on_11[0].aliases,
        vec!["CVE-2023-5678".to_string()],
        "upstream ids group like aliases"
    );
    assert!(db.lookup("Debian:10", "openssl").unwrap().is_empty());
    assert!(db.lookup("npm", "left-pad").unwrap().is_empty());
    assert!(db.has("npm", "minimist") && !db.has("npm", "Minimist"));
}

#[test]
fn withdrawn_invalid_and_duplicate_records_are_handled_and_reported_by_id() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    let mut withdrawn = record("GHSA-wwww-wwww-wwww", "npm", "x", "1.0.0");
    withdrawn["withdrawn"] = json!("2024-02-01T00:00:00Z");
    write(&src, "a/withdrawn.json", &withdrawn);
    let mut bad_event = record("GHSA-bad1-bad1-bad1", "npm", "y", "1.0.0");
    bad_event["affected"][0]["ranges"][0]["events"] = json!([{"introduced": "0", "fixed": "1"}]);
    write(&src, "a/bad-event.json", &bad_event);
    let mut no_modified = record("GHSA-bad2-bad2-bad2", "npm", "z", "1.0.0");
    no_modified.as_object_mut().unwrap().remove("modified");
    write(&src, "a/no-modified.json", &no_modified);
    std::fs::write(src.join("a/garbage.json"), b"{ not json").unwrap();
    let mut old = record("GHSA-dup0-dup0-dup0", "npm", "dup", "1.0.0");
    old["modified"] = json!("2020-01-01T00:00:00Z");
    let newer = record("GHSA-dup0-dup0-dup0", "npm", "dup", "2.0.0");
    write(&src, "b/new.json", &newer);
    write(&src, "c/old.json", &old);
    // An array of records in one file is read too.
    write(
        &src,
        "d/array.json",
        &json!([record("OSV-1", "crates.io", "smallvec", "1.6.1")]),
    );

    let db_path = tmp.path().join("argus.vdb");
    let report = import(&[src.as_path()], &db_path).unwrap();
    assert_eq!(report.meta.records, 2, "{:?}", report.meta);
    assert_eq!(report.meta.skipped.get("withdrawn"), Some(&1));
    assert_eq!(report.meta.skipped.get("schema"), Some(&2));
    assert_eq!(report.meta.skipped.get("invalid json"), Some(&1));
    let text: Vec<String> = report
        .warnings
        .iter()
        .map(|w| format!("{}: {}", w.source, w.message))
        .collect();
    assert!(
        text.iter()
            .any(|w| w.contains("GHSA-bad1-bad1-bad1") && w.contains("exactly one key")),
        "{text:?}"
    );
    assert!(
        text.iter()
            .any(|w| w.contains("GHSA-bad2-bad2-bad2") && w.contains("modified")),
        "{text:?}"
    );
    assert!(text.iter().any(|w| w.contains("garbage.json")), "{text:?}");
    let db = VulnDb::open(&db_path).unwrap();
    let dup = db.lookup("npm", "dup").unwrap();
    assert_eq!(dup.len(), 1);
    assert_eq!(
        dup[0].affected[0].ranges[0].events[1],
        Event::Fixed("2.0.0".into()),
        "the newer record wins"
    );
    assert!(db.lookup("npm", "x").unwrap().is_empty());
}

#[test]
fn epss_and_kev_are_imported_and_looked_up_by_cve() {
    let tmp = tempfile::tempdir().unwrap();
    let csv = "#model_version:v2023.03.01,score_date:2024-05-01T00:00:00+0000\ncve,epss,percentile\nCVE-2021-44228,0.97565,0.99990\nCVE-2024-1,0.00043,0.05\nCVE-bad,1,1\n";
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(csv.as_bytes()).unwrap();
    std::fs::write(tmp.path().join("epss.csv.gz"), gz.finish().unwrap()).unwrap();
    let kev = json!({"title": "CISA Catalog", "catalogVersion": "2024.05.01", "dateReleased": "2024-05-01T00:00:00Z",
        "count": 1, "vulnerabilities": [{"cveID": "CVE-2021-44228", "vendorProject": "Apache", "product": "Log4j2",
        "dateAdded": "2021-12-10", "dueDate": "2021-12-24", "knownRansomwareCampaignUse": "Known"}]});
    write(tmp.path(), "kev.json", &kev);
    let db_path = tmp.path().join("argus.vdb");
    let report = import(&[tmp.path().join("epss.csv.gz"), tmp.path().join("kev.json")], &db_path).unwrap();
    assert_eq!(report.meta.epss_entries, 2);
    assert_eq!(report.meta.epss_date.as_deref(), Some("2024-05-01T00:00:00+0000"));
    assert!(report.warnings.iter().any(|w| w.message.contains("1 malformed EPSS")));
    let db = VulnDb::open(&db_path).unwrap();
    let e = db.epss("CVE-2021-44228").unwrap();
    assert!((e.score - 0.97565).abs() < 1e-6 && (e.percentile - 0.9999).abs() < 1e-6);
    assert!(db.epss("CVE-2021-44229").is_none());
    assert_eq!(db.kev("CVE-2021-44228").unwrap().date_added, "2021-12-10");
    assert_eq!(db.meta().kev_version.as_deref(), Some("2024.05.01"));
}

#[test]
fn a_failed_import_leaves_the_old_database_and_no_temporary_file() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    write(&src, "r.json", &record("OSV-OLD", "npm", "a", "1.0.0"));
    let db_path = tmp.path().join("argus.vdb");
    let first = import(&[src.as_path()], &db_path).unwrap();
    let err = import(&[src.as_path(), tmp.path().join("missing").as_path()], &db_path).unwrap_err();
    assert!(matches!(err, VulnDbError::Io { .. }), "{err}");
    let db = VulnDb::open(&db_path).unwrap();
    assert_eq!(db.meta().version, first.meta.version);
    let leftovers: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name())
        .collect();
    assert_eq!(leftovers.len(), 2, "{leftovers:?}");
}

#[test]
fn same_content_gives_the_same_digest_and_corrupt_files_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    write(&src, "a.json", &record("OSV-A", "npm", "a", "1.0.0"));
    write(&src, "b.json", &record("OSV-B", "npm", "b", "1.0.0"));
    let one = import(&[src.join("a.json"), src.join("b.json")], &tmp.path().join("1.vdb")).unwrap();
    let two = import(&[src.join("b.json"), src.join("a.json")], &tmp.path().join("2.vdb")).unwrap();
    assert_eq!(
        one.meta.content_digest, two.meta.content_digest,
        "input order must not matter"
    );

    let bytes = std::fs::read(tmp.path().join("1.vdb")).unwrap();
    std::fs::write(tmp.path().join("cut.vdb"), &bytes[..bytes.len() / 2]).unwrap();
    assert!(matches!(
        VulnDb::open(&tmp.path().join("cut.vdb")),
        Err(VulnDbError::Corrupt { .. })
    ));
    std::fs::write(tmp.path().join("junk.vdb"), b"definitely not a database, but long enough to have a header............................................................................").unwrap();
    let err = VulnDb::open(&tmp.path().join("junk.vdb")).err().unwrap().to_string();
    assert!(err.contains("not an argus vulnerability database"), "{err}");
}

#[test]
fn corrupt_index_entries_give_nothing_rather_than_a_crash_or_a_huge_allocation() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    write(&src, "a.json", &record("OSV-A", "npm", "a", "1.0.0"));
    let path = tmp.path().join("x.vdb");
    import(&[src.as_path()], &path).unwrap();
    let mut bytes = std::fs::read(&path).unwrap();
    // Section 3 (the key table) starts where the header's fourth section entry says.
    let key_table = u64::from_le_bytes(bytes[16 + 3 * 16..16 + 3 * 16 + 8].try_into().unwrap()) as usize;
    bytes[key_table + 12..key_table + 16].copy_from_slice(&u32::MAX.to_le_bytes());
    bytes[key_table + 16..key_table + 24].copy_from_slice(&u64::MAX.to_le_bytes());
    std::fs::write(&path, &bytes).unwrap();
    let db = VulnDb::open(&path).unwrap();
    assert!(db.lookup("npm", "a").unwrap().is_empty());
    assert!(db.record(u32::MAX).is_err());
}

#[test]
fn diff_names_the_packages_of_added_changed_and_removed_advisories_only() {
    let tmp = tempfile::tempdir().unwrap();
    let (v1, v2) = (tmp.path().join("v1"), tmp.path().join("v2"));
    write(&v1, "a.json", &record("GHSA-same", "npm", "lodash", "4.17.21"));
    write(&v1, "b.json", &record("GHSA-changed", "PyPI", "Django", "3.2.1"));
    write(&v1, "c.json", &record("GHSA-removed", "crates.io", "time", "0.2.23"));
    write(&v2, "a.json", &record("GHSA-same", "npm", "lodash", "4.17.21"));
    write(&v2, "b.json", &record("GHSA-changed", "PyPI", "Django", "3.2.2"));
    write(&v2, "d.json", &record("GHSA-added", "Go", "golang.org/x/net", "0.7.0"));
    let (db1, db2) = (tmp.path().join("1.vdb"), tmp.path().join("2.vdb"));
    import(&[&v1], &db1).unwrap();
    import(&[&v2], &db2).unwrap();
    let (db1, db2) = (VulnDb::open(&db1).unwrap(), VulnDb::open(&db2).unwrap());
    let keys = super::diff::changed_keys(Some(&db1), &db2).unwrap();
    let expected: std::collections::BTreeSet<String> = [
        super::index_key("PyPI", "django"),
        super::index_key("crates.io", "time"),
        super::index_key("Go", "golang.org/x/net"),
    ]
    .into();
    assert_eq!(keys, expected);
    assert!(super::diff::changed_keys(Some(&db2), &db2).unwrap().is_empty());
    assert_eq!(super::diff::changed_keys(None, &db1).unwrap().len(), 3);
}
