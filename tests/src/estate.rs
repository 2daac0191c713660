//! Synthetic inventory and scan results for cluster tests: deterministic from their arguments.

use argus_proto::v1::{
    ContainerImageDetails, FixAvailable, ObservedVulnerability, Resource, ResourceType, ScanOutcome, ScanResult,
    Severity, Vulnerability, VulnerablePackage,
};

pub fn digest(n: u64) -> String {
    format!("sha256:{:064x}", n)
}

pub fn account(n: u64) -> String {
    format!("{:012}", 100_000_000_000 + n)
}

/// A container image resource in `account`, carrying the artifact `digest(artifact)`.
pub fn image(id: &str, account_n: u64, artifact: u64) -> Resource {
    Resource {
        r#type: ResourceType::AwsEcrContainerImage as i32,
        resource_id: id.to_string(),
        account_id: account(account_n),
        region: "eu-west-1".into(),
        artifact_digest: digest(artifact),
        details: Some(argus_proto::v1::resource::Details::ContainerImage(
            ContainerImageDetails {
                registry: format!("{}.dkr.ecr.eu-west-1.amazonaws.com", account(account_n)),
                repository: format!("repo-{}", artifact % 7),
                tags: vec!["latest".into()],
                ..Default::default()
            },
        )),
        ..Default::default()
    }
}

/// A successful scan of `digest(artifact)` at `at_secs` that observed `vulns` vulnerabilities.
pub fn scan(artifact: u64, at_secs: i64, vulns: u32) -> ScanResult {
    let severities = [Severity::Critical, Severity::High, Severity::Medium, Severity::Low];
    ScanResult {
        artifact_digest: digest(artifact),
        job_id: format!("job-{artifact}-{at_secs}"),
        scanned_at: Some(prost_types::Timestamp {
            seconds: at_secs,
            nanos: 0,
        }),
        db_version: "test-1".into(),
        outcome: ScanOutcome::Succeeded as i32,
        error: String::new(),
        vulnerabilities: (0..vulns)
            .map(|v| ObservedVulnerability {
                r#type: argus_proto::v1::FindingType::PackageVulnerability as i32,
                title: format!("CVE-2024-{v:05} in pkg{v}"),
                severity: severities[v as usize % 4] as i32,
                score: 9.5 - (v % 4) as f64 * 2.0,
                vulnerability: Some(Vulnerability {
                    id: format!("CVE-2024-{v:05}"),
                    source: "NVD".into(),
                    ..Default::default()
                }),
                package: Some(VulnerablePackage {
                    name: format!("pkg{v}"),
                    version: "1.0.0".into(),
                    ecosystem: "npm".into(),
                    package_manager: "NPM".into(),
                    file_path: "app/package-lock.json".into(),
                    fixed_in_version: "1.0.1".into(),
                    ..Default::default()
                }),
                fix_available: FixAvailable::Yes as i32,
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}
