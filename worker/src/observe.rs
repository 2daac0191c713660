//! What a scan result carries to the coordinators: each match as an
//! `argus.v1.ObservedVulnerability` (the part of a finding that does not depend on which
//! resource carries the artifact), and the package inventory, kept per artifact for re-matching.

use std::cell::RefCell;
use std::io::Read;

use argus_proto::v1::{FindingType, FixAvailable, ObservedVulnerability, Severity, Vulnerability, VulnerablePackage};
use argus_proto::Inventory;

use crate::matching::{self, Match};

/// Largest inventory JSON a stored inventory may decompress to.
pub const MAX_INVENTORY_BYTES: u64 = 256 << 20;

thread_local! {
    // A compression context is costly to set up and workers encode one inventory per job.
    static COMPRESSOR: RefCell<Option<zstd::bulk::Compressor<'static>>> = const { RefCell::new(None) };
}

/// `ScanResult.inventory`: the inventory as JSON, zstd-compressed.
pub fn encode_inventory(inv: &Inventory) -> Vec<u8> {
    let json = serde_json::to_vec(inv).expect("an inventory always serializes");
    COMPRESSOR.with(|c| {
        let mut c = c.borrow_mut();
        if c.is_none() {
            *c = zstd::bulk::Compressor::new(3).ok();
        }
        match c.as_mut().map(|c| c.compress(&json)) {
            Some(Ok(out)) => out,
            _ => zstd::stream::encode_all(&json[..], 3).expect("compressing into memory"),
        }
    })
}

/// A host agent's inventory as the coordinators store it, and its digest: the content address
/// of what the host runs (operating system and packages), not of where or when it was read, so
/// that identical hosts share one artifact and one match. The target becomes the digest and the
/// read warnings are dropped for the same reason.
pub fn host_artifact(mut inv: Inventory) -> (String, Vec<u8>) {
    use sha2::Digest;
    inv.normalize();
    let mut h = sha2::Sha256::new();
    h.update(serde_json::to_vec(&(&inv.os, &inv.packages)).expect("an inventory always serializes"));
    let digest = format!("sha256:{}", hex::encode(h.finalize()));
    inv.target = digest.clone();
    inv.artifact_digest = Some(digest.clone());
    inv.platform = None;
    inv.warnings.clear();
    (digest, encode_inventory(&inv))
}

/// Reads `ScanResult.inventory` (or a REMATCH job's) back; bounded by [`MAX_INVENTORY_BYTES`].
pub fn decode_inventory(bytes: &[u8]) -> Result<Inventory, String> {
    let decoder = zstd::stream::read::Decoder::new(bytes).map_err(|e| format!("inventory: {e}"))?;
    let mut json = Vec::new();
    decoder
        .take(MAX_INVENTORY_BYTES + 1)
        .read_to_end(&mut json)
        .map_err(|e| format!("inventory: {e}"))?;
    if json.len() as u64 > MAX_INVENTORY_BYTES {
        return Err(format!("inventory: larger than {MAX_INVENTORY_BYTES} bytes"));
    }
    serde_json::from_slice(&json).map_err(|e| format!("inventory: {e}"))
}

/// The protobuf severity for the matcher's word. A CVSS base score of 0.0 (`NONE`) says nothing
/// is at risk, which Inspector's scale has no level for: it stays UNTRIAGED like an unscored
/// advisory.
pub fn severity(word: &str) -> Severity {
    match word {
        "CRITICAL" => Severity::Critical,
        "HIGH" => Severity::High,
        "MEDIUM" => Severity::Medium,
        "LOW" => Severity::Low,
        _ => Severity::Untriaged,
    }
}

/// Where a vulnerability id comes from: NVD for CVEs, else the database its prefix names
/// (`GHSA`, `PYSEC`, `RUSTSEC`, `GO`, `DSA`, `USN`, `ALSA`, ...).
pub fn source(id: &str) -> String {
    if id.starts_with("CVE-") {
        return "NVD".to_string();
    }
    id.split_once('-').map_or(id, |(prefix, _)| prefix).to_string()
}

pub fn observed(m: &Match) -> ObservedVulnerability {
    let p = &m.package;
    ObservedVulnerability {
        r#type: FindingType::PackageVulnerability as i32,
        title: m.title.clone(),
        description: m.description.clone().unwrap_or_default(),
        severity: severity(&m.severity) as i32,
        score: m.score.unwrap_or(0.0),
        cvss_vector: m.vector.clone().unwrap_or_default(),
        vulnerability: Some(Vulnerability {
            id: m.vulnerability_id.clone(),
            aliases: m.aliases.clone(),
            source: source(&m.vulnerability_id),
            urls: m.urls.clone(),
        }),
        package: Some(VulnerablePackage {
            name: p.name.clone(),
            version: p.version.clone(),
            epoch: p.epoch.unwrap_or(0),
            release: p.release.clone().unwrap_or_default(),
            arch: p.arch.clone().unwrap_or_default(),
            ecosystem: p.ecosystem.to_string(),
            package_manager: p.package_manager.as_str().to_string(),
            file_path: p.file_path.clone(),
            fixed_in_version: m.fixed_in_version.clone().unwrap_or_default(),
            source_layer_digest: p.layer_digest.clone().unwrap_or_default(),
        }),
        fix_available: match m.fix_available {
            matching::FixAvailable::Yes => FixAvailable::Yes,
            matching::FixAvailable::No => FixAvailable::No,
        } as i32,
        exploit_available: m.exploit_available,
        epss_score: m.epss.map_or(0.0, f64::from),
        remediation: m.remediation.clone(),
    }
}

#[cfg(test)]
mod tests {
    use argus_proto::{Ecosystem, Package, PackageManager};

    use super::*;
    use crate::matching::SeveritySource;

    fn sample() -> Match {
        Match {
            vulnerability_id: "CVE-2024-0001".into(),
            aliases: vec!["DSA-5000-1".into()],
            package: Package {
                name: "openssl".into(),
                version: "3.0.11-1~deb12u1".into(),
                ecosystem: Ecosystem("Debian:12".into()),
                package_manager: PackageManager::Dpkg,
                purl: "pkg:deb/debian/openssl@3.0.11-1~deb12u1".into(),
                file_path: "/var/lib/dpkg/status".into(),
                layer_digest: Some("sha256:aa".into()),
                source_name: None,
                source_version: None,
                epoch: Some(1),
                release: None,
                arch: Some("amd64".into()),
            },
            fixed_in_version: Some("3.0.11-1~deb12u2".into()),
            fix_available: matching::FixAvailable::Yes,
            severity: "HIGH".into(),
            severity_source: SeveritySource::Cvss,
            score: Some(7.5),
            vector: Some("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H".into()),
            title: "CVE-2024-0001 in openssl".into(),
            description: Some("a crash".into()),
            urls: vec!["https://example.org/CVE-2024-0001".into()],
            remediation: "Upgrade openssl to 3.0.11-1~deb12u2".into(),
            epss: Some(0.25),
            epss_percentile: Some(0.9),
            exploit_available: true,
            kev_date_added: Some("2024-02-01".into()),
            published: None,
        }
    }

    #[test]
    fn every_observed_field_comes_from_the_match() {
        let o = observed(&sample());
        assert_eq!(o.r#type, FindingType::PackageVulnerability as i32);
        assert_eq!(o.severity, Severity::High as i32);
        assert_eq!(o.score, 7.5);
        assert!(o.cvss_vector.starts_with("CVSS:3.1/"));
        assert_eq!(o.fix_available, FixAvailable::Yes as i32);
        assert!(o.exploit_available);
        assert_eq!(o.epss_score, 0.25);
        assert_eq!(o.description, "a crash");
        let v = o.vulnerability.unwrap();
        assert_eq!((v.id.as_str(), v.source.as_str()), ("CVE-2024-0001", "NVD"));
        assert_eq!(v.aliases, vec!["DSA-5000-1"]);
        assert_eq!(v.urls, vec!["https://example.org/CVE-2024-0001"]);
        let p = o.package.unwrap();
        assert_eq!(p.ecosystem, "Debian:12");
        assert_eq!(p.package_manager, "DPKG");
        assert_eq!(p.file_path, "/var/lib/dpkg/status");
        assert_eq!(p.fixed_in_version, "3.0.11-1~deb12u2");
        assert_eq!(p.source_layer_digest, "sha256:aa");
        assert_eq!((p.epoch, p.arch.as_str(), p.release.as_str()), (1, "amd64", ""));
    }

    #[test]
    fn inventories_round_trip_and_garbage_is_refused() {
        let mut inv = Inventory::new("dir:/srv/rootfs");
        inv.packages.push(sample().package);
        let bytes = encode_inventory(&inv);
        assert_eq!(decode_inventory(&bytes).unwrap(), inv);
        assert_eq!(
            decode_inventory(&encode_inventory(&inv)).unwrap(),
            inv,
            "the reused context"
        );
        assert!(decode_inventory(b"not zstd").is_err());
        let not_json = zstd::stream::encode_all(&b"[1,2"[..], 3).unwrap();
        assert!(decode_inventory(&not_json).is_err());
    }

    #[test]
    fn unscored_and_zero_scored_matches_are_untriaged_and_sources_follow_the_id() {
        assert_eq!(severity("NONE"), Severity::Untriaged);
        assert_eq!(severity("UNTRIAGED"), Severity::Untriaged);
        assert_eq!(severity("CRITICAL"), Severity::Critical);
        assert_eq!(source("GHSA-xxxx-yyyy-zzzz"), "GHSA");
        assert_eq!(source("PYSEC-2021-1"), "PYSEC");
        assert_eq!(source("OSV2024"), "OSV2024");
        let mut m = sample();
        m.fix_available = matching::FixAvailable::No;
        m.fixed_in_version = None;
        m.score = None;
        m.epss = None;
        let o = observed(&m);
        assert_eq!(o.fix_available, FixAvailable::No as i32);
        assert_eq!((o.score, o.epss_score), (0.0, 0.0));
        assert_eq!(o.package.unwrap().fixed_in_version, "");
    }
}
