//! Scan reports: findings shaped as Argus (and Inspector) names them, SARIF 2.1.0 for
//! code-scanning dashboards, and CycloneDX 1.5 with a `vulnerabilities` section.

use argus_proto::Inventory;
use serde::Serialize;
use serde_json::{json, Value};

use crate::matching::Match;

/// Severities from most to least severe; the order filters and `--fail-on` use.
pub const SEVERITIES: [&str; 6] = ["CRITICAL", "HIGH", "MEDIUM", "LOW", "UNTRIAGED", "NONE"];

/// Rank of a severity (0 = CRITICAL); unknown words rank last.
pub fn severity_rank(s: &str) -> usize {
    SEVERITIES
        .iter()
        .position(|x| x.eq_ignore_ascii_case(s))
        .unwrap_or(SEVERITIES.len())
}

pub use argus_proto::finding_id;

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VulnerablePackage {
    pub name: String,
    pub version: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub epoch: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub release: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arch: Option<String>,
    pub package_manager: String,
    pub file_path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fixed_in_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_layer_hash: Option<String>,
    pub purl: String,
    pub ecosystem: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FindingVulnerability {
    pub id: String,
    pub aliases: Vec<String>,
    pub source_urls: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub published: Option<String>,
}

/// A finding as `argus scan --format json` writes it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Finding {
    pub finding_id: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub title: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub severity: String,
    pub severity_source: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cvss_vector: Option<String>,
    pub status: &'static str,
    pub resource: Value,
    pub vulnerability: FindingVulnerability,
    pub vulnerable_packages: Vec<VulnerablePackage>,
    pub fix_available: String,
    pub exploit_available: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kev_date_added: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub epss_score: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub epss_percentile: Option<f32>,
    pub remediation: String,
}

fn resource_of(inv: &Inventory) -> (String, Value) {
    let id = inv.artifact_digest.clone().unwrap_or_else(|| inv.target.clone());
    let details = json!({
        "target": inv.target,
        "platform": inv.platform,
        "os": inv.os.as_ref().map(|o| o.pretty_name.clone()),
    });
    (id.clone(), json!({"type": "ARTIFACT", "id": id, "details": details}))
}

pub fn findings(inv: &Inventory, matches: &[Match]) -> Vec<Finding> {
    let (resource_id, resource) = resource_of(inv);
    matches
        .iter()
        .map(|m| {
            let p = &m.package;
            Finding {
                finding_id: finding_id("", &resource_id, &m.vulnerability_id, &p.name, &p.file_path),
                kind: "PACKAGE_VULNERABILITY",
                title: m.title.clone(),
                description: m.description.clone(),
                severity: m.severity.clone(),
                severity_source: serde_json::to_value(m.severity_source)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default(),
                score: m.score,
                cvss_vector: m.vector.clone(),
                status: "ACTIVE",
                resource: resource.clone(),
                vulnerability: FindingVulnerability {
                    id: m.vulnerability_id.clone(),
                    aliases: m.aliases.clone(),
                    source_urls: m.urls.clone(),
                    published: m.published.clone(),
                },
                vulnerable_packages: vec![VulnerablePackage {
                    name: p.name.clone(),
                    version: p.version.clone(),
                    epoch: p.epoch,
                    release: p.release.clone(),
                    arch: p.arch.clone(),
                    package_manager: p.package_manager.as_str().to_string(),
                    file_path: p.file_path.clone(),
                    fixed_in_version: m.fixed_in_version.clone(),
                    source_layer_hash: p.layer_digest.clone(),
                    purl: p.purl.clone(),
                    ecosystem: p.ecosystem.to_string(),
                }],
                fix_available: if m.fixed_in_version.is_some() { "YES" } else { "NO" }.to_string(),
                exploit_available: m.exploit_available,
                kev_date_added: m.kev_date_added.clone(),
                epss_score: m.epss,
                epss_percentile: m.epss_percentile,
                remediation: m.remediation.clone(),
            }
        })
        .collect()
}

fn sarif_level(severity: &str) -> &'static str {
    match severity_rank(severity) {
        0 | 1 => "error",
        2 => "warning",
        _ => "note",
    }
}

/// SARIF 2.1.0: one rule per vulnerability, one result per vulnerable package location.
pub fn sarif(inv: &Inventory, matches: &[Match]) -> Value {
    let (resource_id, _) = resource_of(inv);
    let mut rules: Vec<Value> = Vec::new();
    let mut rule_index = std::collections::BTreeMap::new();
    let mut results = Vec::new();
    for m in matches {
        let idx = *rule_index.entry(m.vulnerability_id.clone()).or_insert_with(|| {
            rules.push(json!({
                "id": m.vulnerability_id,
                "name": m.vulnerability_id.replace('-', ""),
                "shortDescription": {"text": m.title},
                "fullDescription": {"text": m.description.clone().unwrap_or_else(|| m.title.clone())},
                "helpUri": m.urls.first(),
                "help": {"text": m.remediation},
                "properties": {
                    "security-severity": format!("{:.1}", m.score.unwrap_or(0.0)),
                    "tags": ["security", "vulnerability", m.severity],
                }
            }));
            rules.len() - 1
        });
        let p = &m.package;
        results.push(json!({
            "ruleId": m.vulnerability_id,
            "ruleIndex": idx,
            "level": sarif_level(&m.severity),
            "message": {"text": format!("{} {} is affected by {} ({}). {}", p.name, p.version, m.vulnerability_id, m.severity, m.remediation)},
            "locations": [{"physicalLocation": {"artifactLocation": {"uri": p.file_path.trim_start_matches('/')}}}],
            "partialFingerprints": {"argusFindingId": finding_id("", &resource_id, &m.vulnerability_id, &p.name, &p.file_path)},
        }));
    }
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "argus", "version": env!("CARGO_PKG_VERSION"),
                "rules": rules,
            }},
            "results": results,
        }]
    })
}

/// CycloneDX 1.5 with the inventory as components and the matches as vulnerabilities that
/// reference them.
pub fn cyclonedx(inv: &Inventory, matches: &[Match]) -> Value {
    let mut bom = crate::sbom::to_cyclonedx(inv);
    let refs: Vec<(String, String, String)> = bom["components"]
        .as_array()
        .map(|cs| {
            cs.iter()
                .filter_map(|c| {
                    let purl = c.get("purl")?.as_str()?.to_string();
                    let r = c.get("bom-ref")?.as_str()?.to_string();
                    let path = c
                        .get("properties")
                        .and_then(|p| p.as_array())
                        .and_then(|ps| ps.iter().find(|p| p["name"] == "argus:file_path"))
                        .and_then(|p| p["value"].as_str())
                        .unwrap_or("")
                        .to_string();
                    Some((purl, path, r))
                })
                .collect()
        })
        .unwrap_or_default();
    let vulns: Vec<Value> = matches
        .iter()
        .map(|m| {
            let p = &m.package;
            let r = refs
                .iter()
                .find(|(purl, path, _)| *purl == p.purl && *path == p.file_path)
                .or_else(|| refs.iter().find(|(purl, _, _)| *purl == p.purl))
                .map(|(_, _, r)| r.clone())
                .unwrap_or_else(|| p.purl.clone());
            let mut rating = json!({"severity": m.severity.to_ascii_lowercase()});
            if let (Some(score), Some(vector)) = (m.score, &m.vector) {
                rating["score"] = json!(score);
                rating["vector"] = json!(vector);
                rating["method"] = json!(if vector.starts_with("CVSS:4") {
                    "CVSSv4"
                } else if vector.starts_with("CVSS:3.1") {
                    "CVSSv31"
                } else {
                    "CVSSv3"
                });
            }
            if rating["severity"] == "untriaged" {
                rating["severity"] = json!("unknown");
            }
            let mut v = json!({
                "bom-ref": format!("{}|{}", m.vulnerability_id, r),
                "id": m.vulnerability_id,
                "ratings": [rating],
                "description": m.title,
                "recommendation": m.remediation,
                "affects": [{"ref": r, "versions": [{"version": p.version, "status": "affected"}]}],
            });
            if !m.urls.is_empty() {
                v["advisories"] = json!(m.urls.iter().map(|u| json!({"url": u})).collect::<Vec<_>>());
            }
            if !m.aliases.is_empty() {
                v["references"] = json!(m
                    .aliases
                    .iter()
                    .map(|a| json!({"id": a, "source": {"name": "OSV"}}))
                    .collect::<Vec<_>>());
            }
            v
        })
        .collect();
    bom["vulnerabilities"] = json!(vulns);
    bom
}
