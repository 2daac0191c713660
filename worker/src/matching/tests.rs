//! Matching as a specification: every OSV event type, several and overlapping ranges, explicit
//! version lists, unparsable versions, distribution source packages, alias grouping, fixes,
//! scores, EPSS and KEV.

use std::collections::BTreeMap;

use argus_proto::{Ecosystem, Inventory, Package, PackageManager};

use super::*;
use crate::vulndb::osv::{Advisory, AffectedPackage, Event, OsvSeverity, Range, RangeKind};
use crate::vulndb::{Builder, KevEntry, VulnDb};

fn ev(pairs: &[(&str, &str)]) -> Vec<Event> {
    pairs
        .iter()
        .map(|(k, v)| match *k {
            "i" => Event::Introduced(v.to_string()),
            "f" => Event::Fixed(v.to_string()),
            "l" => Event::LastAffected(v.to_string()),
            _ => Event::Limit(v.to_string()),
        })
        .collect()
}

fn aff(eco: &str, name: &str, ranges: Vec<Vec<Event>>, versions: &[&str]) -> AffectedPackage {
    AffectedPackage {
        ecosystem: eco.into(),
        name: name.into(),
        ranges: ranges
            .into_iter()
            .map(|events| Range {
                kind: RangeKind::Ecosystem,
                events,
            })
            .collect(),
        versions: versions.iter().map(|s| s.to_string()).collect(),
        git_ranges: 0,
        severity: vec![],
    }
}

fn check(scheme: Scheme, a: &AffectedPackage, v: &str) -> (bool, Option<String>) {
    affects(scheme, a, v).unwrap()
}

#[test]
fn introduced_and_fixed_bound_a_half_open_interval() {
    let a = aff("npm", "x", vec![ev(&[("i", "1.2.0"), ("f", "1.4.0")])], &[]);
    assert_eq!(check(Scheme::Semver, &a, "1.1.9"), (false, None));
    assert_eq!(check(Scheme::Semver, &a, "1.2.0"), (true, Some("1.4.0".into())));
    assert_eq!(check(Scheme::Semver, &a, "1.3.9-rc.1"), (true, Some("1.4.0".into())));
    assert_eq!(
        check(Scheme::Semver, &a, "1.4.0-rc.1"),
        (true, Some("1.4.0".into())),
        "a prerelease of the fix is not the fix"
    );
    assert_eq!(check(Scheme::Semver, &a, "1.4.0"), (false, None));
}

#[test]
fn last_affected_includes_its_version_and_limit_excludes_its_own() {
    let a = aff("PyPI", "x", vec![ev(&[("i", "0"), ("l", "2.0")])], &[]);
    assert!(check(Scheme::Pep440, &a, "2.0").0);
    assert!(check(Scheme::Pep440, &a, "2.0.0").0, "2.0 == 2.0.0 in PEP 440");
    assert!(!check(Scheme::Pep440, &a, "2.0.post1").0);
    assert_eq!(check(Scheme::Pep440, &a, "1.0").1, None, "no fixed event, no fix");
    let b = aff("PyPI", "x", vec![ev(&[("i", "1.0"), ("lim", "1.5")])], &[]);
    assert!(check(Scheme::Pep440, &b, "1.4.9").0);
    assert!(!check(Scheme::Pep440, &b, "1.5").0);
}

#[test]
fn several_and_unsorted_ranges_and_reintroductions() {
    // Events out of order, a fix and a reintroduction in one range, a second overlapping range.
    let a = aff(
        "Debian:12",
        "openssl",
        vec![
            ev(&[
                ("f", "3.0.2-1"),
                ("i", "0"),
                ("i", "3.0.9-1"),
                ("f", "3.0.11-1~deb12u2"),
            ]),
            ev(&[("i", "3.0.10-1"), ("f", "3.0.13-1~deb12u1")]),
        ],
        &[],
    );
    assert_eq!(check(Scheme::Dpkg, &a, "3.0.1-1"), (true, Some("3.0.2-1".into())));
    assert_eq!(check(Scheme::Dpkg, &a, "3.0.5-1"), (false, None));
    assert_eq!(
        check(Scheme::Dpkg, &a, "3.0.9-1"),
        (true, Some("3.0.11-1~deb12u2".into())),
        "lowest fix above"
    );
    assert_eq!(
        check(Scheme::Dpkg, &a, "3.0.11-1~deb12u2"),
        (true, Some("3.0.13-1~deb12u1".into())),
        "second range"
    );
    assert_eq!(
        check(Scheme::Dpkg, &a, "3.0.11-1~deb12u1"),
        (true, Some("3.0.11-1~deb12u2".into())),
        "~ sorts before"
    );
    assert_eq!(check(Scheme::Dpkg, &a, "3.0.13-1~deb12u1"), (false, None));
}

#[test]
fn explicit_versions_match_exactly_without_ranges() {
    let a = aff("Maven", "g:a", vec![], &["1.0", "1.1"]);
    assert!(check(Scheme::Maven, &a, "1.1").0);
    assert!(!check(Scheme::Maven, &a, "1.2").0);
    let b = aff(
        "Maven",
        "org.apache.logging.log4j:log4j-core",
        vec![
            ev(&[("i", "2.0-beta9"), ("f", "2.3.1")]),
            ev(&[("i", "2.13.0"), ("f", "2.15.0")]),
        ],
        &[],
    );
    assert_eq!(check(Scheme::Maven, &b, "2.14.1"), (true, Some("2.15.0".into())));
    assert!(check(Scheme::Maven, &b, "2.0").0, "2.0 > 2.0-beta9");
    assert!(!check(Scheme::Maven, &b, "2.0-alpha1").0);
}

#[test]
fn unparsable_versions_are_errors_never_silent_misses() {
    let a = aff("PyPI", "x", vec![ev(&[("i", "0"), ("f", "2.0")])], &[]);
    assert!(affects(Scheme::Pep440, &a, "not a version!").is_err());
    let bad_record = aff("PyPI", "x", vec![ev(&[("i", "0"), ("f", "garbage!!")])], &[]);
    assert!(affects(Scheme::Pep440, &bad_record, "1.0").is_err());
}

fn pkg(eco: &str, name: &str, version: &str, pm: PackageManager) -> Package {
    Package {
        name: name.into(),
        version: version.into(),
        ecosystem: Ecosystem(eco.into()),
        package_manager: pm,
        purl: format!("pkg:generic/{name}@{version}"),
        file_path: "/app/lock".into(),
        layer_digest: None,
        source_name: None,
        source_version: None,
        epoch: None,
        release: None,
        arch: None,
    }
}

fn advisory(id: &str, aliases: &[&str], a: AffectedPackage, vector: Option<&str>, label: Option<&str>) -> Advisory {
    let severity = vector
        .map(|v| {
            let kind = if v.starts_with("CVSS:4") { "CVSS_V4" } else { "CVSS_V3" };
            vec![OsvSeverity {
                kind: kind.into(),
                score: v.into(),
            }]
        })
        .unwrap_or_default();
    Advisory {
        id: id.into(),
        aliases: aliases.iter().map(|s| s.to_string()).collect(),
        modified: "2024-01-01T00:00:00Z".into(),
        published: Some("2023-01-01T00:00:00Z".into()),
        summary: Some(format!("{id} summary")),
        details: None,
        severity,
        severity_label: label.map(str::to_string),
        affected: vec![a],
        references: vec![],
    }
}

fn db_of(dir: &std::path::Path, advisories: &[Advisory]) -> VulnDb {
    let path = dir.join("t.vdb");
    let mut b = Builder::new(&path).unwrap();
    for a in advisories {
        b.add(a).unwrap();
    }
    b.set_epss(
        vec![(crate::vulndb::store::cve_key("CVE-2021-44906").unwrap(), 0.5, 0.9)],
        None,
    );
    let mut kev = BTreeMap::new();
    kev.insert(
        "CVE-2021-44906".to_string(),
        KevEntry {
            date_added: "2022-01-01".into(),
            due_date: None,
            ransomware: None,
        },
    );
    b.set_kev(kev, None);
    b.finish().unwrap();
    VulnDb::open(&path).unwrap()
}

#[test]
fn aliases_group_into_one_finding_named_by_its_cve_with_scores_epss_and_kev() {
    let tmp = tempfile::tempdir().unwrap();
    let range = || aff("npm", "minimist", vec![ev(&[("i", "1.0.0"), ("f", "1.2.6")])], &[]);
    let critical = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H";
    let db = db_of(
        tmp.path(),
        &[
            advisory(
                "GHSA-xvch-5gv4-984h",
                &["CVE-2021-44906"],
                range(),
                Some(critical),
                Some("CRITICAL"),
            ),
            advisory(
                "OSV-EXTRA-1",
                &["GHSA-xvch-5gv4-984h"],
                aff("npm", "minimist", vec![ev(&[("i", "1.0.0"), ("f", "1.2.7")])], &[]),
                None,
                None,
            ),
            advisory("GHSA-label-only", &[], range(), None, Some("MODERATE")),
            advisory("GHSA-nothing-at-all", &[], range(), None, None),
        ],
    );
    let mut inv = Inventory::new("t");
    inv.packages.push(pkg("npm", "minimist", "1.2.5", PackageManager::Npm));
    let r = match_inventory(&db, &inv).unwrap();
    assert_eq!(r.matches.len(), 3, "{:#?}", r.matches);
    let m = r
        .matches
        .iter()
        .find(|m| m.vulnerability_id == "CVE-2021-44906")
        .expect("grouped under the CVE");
    assert_eq!(
        m.aliases,
        vec!["GHSA-xvch-5gv4-984h".to_string(), "OSV-EXTRA-1".to_string()]
    );
    assert_eq!(
        m.fixed_in_version.as_deref(),
        Some("1.2.6"),
        "the lowest fix among grouped advisories"
    );
    assert_eq!(m.fix_available, FixAvailable::Yes);
    assert_eq!(
        (m.severity.as_str(), m.score, m.severity_source),
        ("CRITICAL", Some(9.8), SeveritySource::Cvss)
    );
    assert_eq!(m.epss, Some(0.5));
    assert!(m.exploit_available);
    assert_eq!(m.kev_date_added.as_deref(), Some("2022-01-01"));
    assert!(m.remediation.contains("1.2.6"));
    let label = r
        .matches
        .iter()
        .find(|m| m.vulnerability_id == "GHSA-label-only")
        .unwrap();
    assert_eq!(
        (label.severity.as_str(), label.severity_source, label.score),
        ("MEDIUM", SeveritySource::RecordLabel, None)
    );
    let none = r
        .matches
        .iter()
        .find(|m| m.vulnerability_id == "GHSA-nothing-at-all")
        .unwrap();
    assert_eq!(
        (none.severity.as_str(), none.severity_source),
        ("UNTRIAGED", SeveritySource::None)
    );
}

#[test]
fn distribution_packages_match_on_source_package_and_release_only() {
    let tmp = tempfile::tempdir().unwrap();
    let db = db_of(
        tmp.path(),
        &[
            advisory(
                "DEBIAN-CVE-2023-5678",
                &["CVE-2023-5678"],
                aff(
                    "Debian:12",
                    "openssl",
                    vec![ev(&[("i", "0"), ("f", "3.0.13-1~deb12u1")])],
                    &[],
                ),
                None,
                None,
            ),
            advisory(
                "DEBIAN-CVE-2099-1",
                &[],
                aff("Debian:11", "openssl", vec![ev(&[("i", "0")])], &[]),
                None,
                None,
            ),
        ],
    );
    let mut libssl = pkg("Debian:12", "libssl3", "3.0.11-1~deb12u2", PackageManager::Dpkg);
    libssl.source_name = Some("openssl".into());
    let mut on_11 = pkg("Debian:11", "libssl1.1", "1.1.1w-0+deb11u1", PackageManager::Dpkg);
    on_11.source_name = Some("openssl-other".into());
    let mut inv = Inventory::new("t");
    inv.packages.push(libssl);
    inv.packages.push(on_11);
    inv.packages
        .push(pkg("Debian:12", "openssl-unrelated", "1", PackageManager::Dpkg));
    let r = match_inventory(&db, &inv).unwrap();
    assert_eq!(r.matches.len(), 1, "{:#?}", r.matches);
    assert_eq!(r.matches[0].package.name, "libssl3");
    assert_eq!(r.matches[0].vulnerability_id, "CVE-2023-5678");
    assert_eq!(r.matches[0].fixed_in_version.as_deref(), Some("3.0.13-1~deb12u1"));
}

#[test]
fn unparsable_installed_versions_are_reported_and_unknown_ecosystems_counted() {
    let tmp = tempfile::tempdir().unwrap();
    let db = db_of(
        tmp.path(),
        &[advisory(
            "PYSEC-1",
            &[],
            aff("PyPI", "django", vec![ev(&[("i", "0"), ("f", "3.2.1")])], &[]),
            None,
            None,
        )],
    );
    let mut inv = Inventory::new("t");
    inv.packages
        .push(pkg("PyPI", "Django", "3.2.0+weird!!", PackageManager::Pip));
    inv.packages.push(pkg("Hackage", "text", "1.0", PackageManager::Sbom));
    let r = match_inventory(&db, &inv).unwrap();
    assert!(r.matches.is_empty());
    assert_eq!(r.warnings.len(), 1, "{:?}", r.warnings);
    assert!(r.warnings[0].contains("PYSEC-1") && r.warnings[0].contains("3.2.0+weird!!"));
    assert_eq!(r.unsupported, 1);
}
