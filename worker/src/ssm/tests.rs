use std::collections::HashMap;

use argus_proto::{Distro, PackageManager};

use super::*;
use crate::extract::dpkg::Dpkg;
use crate::extract::{ExtractInput, Extractor};
use crate::limits::Limits;

fn entry(fields: &[(&str, &str)]) -> HashMap<String, String> {
    fields.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[test]
fn platforms_become_the_os_release_a_scan_would_read() {
    let ubuntu = os_of("Ubuntu", "22.04").unwrap();
    assert_eq!(
        (ubuntu.distro, ubuntu.id.as_str(), ubuntu.version_id.as_str()),
        (Some(Distro::Ubuntu), "ubuntu", "22.04")
    );
    assert_eq!(ubuntu.ecosystem.unwrap().as_str(), "Ubuntu:22.04");
    let al = os_of("Amazon Linux", "2023").unwrap();
    assert_eq!(al.distro, Some(Distro::AmazonLinux));
    assert_eq!(al.ecosystem.unwrap().as_str(), "Amazon Linux:2023");
    let debian = os_of("Debian GNU/Linux", "12").unwrap();
    assert_eq!(debian.ecosystem.unwrap().as_str(), "Debian:12");
    assert_eq!(
        os_of("Red Hat Enterprise Linux Server", "9.3").unwrap().distro,
        Some(Distro::RedHat)
    );
    assert_eq!(os_of("Microsoft Windows Server 2022 Datacenter", "10.0.20348"), None);
    assert_eq!(os_of("", ""), None);
}

#[test]
fn a_deb_entry_is_the_package_the_dpkg_database_gives_but_for_its_source() {
    let os = os_of("Debian GNU/Linux", "12").unwrap();
    let status = "Package: zlib1g\nStatus: install ok installed\nArchitecture: amd64\n\
                  Version: 1:1.2.13.dfsg-1\n\n\
                  Package: libssl3\nStatus: install ok installed\nArchitecture: amd64\n\
                  Version: 3.0.13-1~deb12u1\n";
    let limits = Limits::default();
    let scanned = Dpkg
        .extract(&ExtractInput {
            path: "/var/lib/dpkg/status",
            data: status.as_bytes(),
            os: Some(&os),
            limits: &limits,
        })
        .unwrap()
        .packages;
    // SSM writes the epoch apart and the revision either apart or within the version.
    let entries = [
        entry(&[
            ("Name", "zlib1g"),
            ("Version", "1.2.13.dfsg"),
            ("Release", "1"),
            ("Epoch", "1"),
            ("Architecture", "amd64"),
        ]),
        entry(&[
            ("Name", "libssl3"),
            ("Version", "3.0.13-1~deb12u1"),
            ("Architecture", "amd64"),
        ]),
    ];
    let inv = inventory("i-0abc", os, &entries);
    assert!(inv.warnings.is_empty(), "{:?}", inv.warnings);
    assert_eq!(inv.target, "ssm:i-0abc");
    assert_eq!(inv.packages.len(), 2);
    for from_ssm in &inv.packages {
        let from_db = scanned.iter().find(|p| p.name == from_ssm.name).unwrap();
        assert_eq!(from_ssm.file_path, SOURCE_PATH);
        let same = |p: &Package| {
            (
                p.version.clone(),
                p.ecosystem.clone(),
                p.package_manager,
                p.purl.clone(),
                p.epoch,
                p.release.clone(),
                p.arch.clone(),
            )
        };
        assert_eq!(same(from_ssm), same(from_db), "{}", from_ssm.name);
    }
}

#[test]
fn an_rpm_entry_carries_epoch_and_release_like_the_rpm_database() {
    let os = os_of("Amazon Linux", "2023").unwrap();
    let entries = [
        entry(&[
            ("Name", "bash"),
            ("Version", "5.2.15"),
            ("Release", "1.amzn2023.0.2"),
            ("Architecture", "x86_64"),
        ]),
        entry(&[
            ("Name", "openssl-libs"),
            ("Version", "3.0.8"),
            ("Release", "1.amzn2023.0.14"),
            ("Epoch", "1"),
            ("Architecture", "x86_64"),
        ]),
        entry(&[("Name", "no-version")]),
        entry(&[("Version", "1.0")]),
    ];
    let inv = inventory("i-0def", os, &entries);
    assert_eq!(inv.warnings.len(), 2, "{:?}", inv.warnings);
    let got: Vec<(&str, &str, PackageManager, &str)> = inv
        .packages
        .iter()
        .map(|p| (p.name.as_str(), p.version.as_str(), p.package_manager, p.purl.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            (
                "bash",
                "5.2.15-1.amzn2023.0.2",
                PackageManager::Rpm,
                "pkg:rpm/amzn/bash@5.2.15-1.amzn2023.0.2?arch=x86_64&distro=amzn-2023"
            ),
            (
                "openssl-libs",
                "1:3.0.8-1.amzn2023.0.14",
                PackageManager::Rpm,
                "pkg:rpm/amzn/openssl-libs@3.0.8-1.amzn2023.0.14?arch=x86_64&distro=amzn-2023&epoch=1"
            ),
        ]
    );
    assert!(inv.packages.iter().all(|p| p.ecosystem.as_str() == "Amazon Linux:2023"));
}

#[test]
fn the_same_entries_in_another_order_give_the_same_inventory() {
    let os = os_of("Ubuntu", "22.04").unwrap();
    let a = entry(&[("Name", "curl"), ("Version", "7.81.0-1ubuntu1.15")]);
    let b = entry(&[("Name", "bash"), ("Version", "5.1-6ubuntu1.1")]);
    let one = inventory("i-1", os.clone(), &[a.clone(), b.clone(), a.clone()]);
    let two = inventory("i-1", os, &[b, a]);
    assert_eq!(one, two);
    assert_eq!(one.packages.len(), 2);
}
