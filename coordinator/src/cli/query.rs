//! Client commands against a running Argus (embedded or cluster): `argus findings list`,
//! `argus coverage`, `argus scan-now`; and the summary `argus up` prints, rendered the same way.

use std::collections::BTreeMap;
use std::process::ExitCode;

use anyhow::Context;
use argus_coordinator::client::Client;
use argus_proto::v1::{
    CoverageReason, CoverageStatus, Finding, FindingFilter, FindingSort, FindingSortField, FindingStatus,
    ListCoverageRequest, ListFindingsRequest, Resource, ResourceFilter, ResourceType, ScanNowRequest, Severity,
    SortOrder, StringComparison, StringFilter,
};
use clap::{Args, Subcommand};

use super::output::columns;

#[derive(Debug, Args)]
pub struct Coordinators {
    /// Coordinator addresses (host:port), comma-separated; any node will do.
    #[arg(
        long,
        env = "ARGUS_COORDINATORS",
        value_delimiter = ',',
        default_value = "127.0.0.1:7400"
    )]
    pub addr: Vec<String>,
}

#[derive(Debug, Args)]
pub struct FindingsArgs {
    #[command(flatten)]
    pub coordinators: Coordinators,
    #[command(subcommand)]
    pub command: FindingsCommand,
}

#[derive(Debug, Subcommand)]
pub enum FindingsCommand {
    /// Findings, most severe first.
    List(ListArgs),
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only these severities (comma-separated: CRITICAL,HIGH,MEDIUM,LOW,UNTRIAGED).
    #[arg(long, value_delimiter = ',')]
    pub severity: Vec<String>,
    /// Only these statuses (ACTIVE, SUPPRESSED, CLOSED); default ACTIVE.
    #[arg(long, value_delimiter = ',')]
    pub status: Vec<String>,
    /// Only findings on these resources.
    #[arg(long = "resource")]
    pub resources: Vec<String>,
    /// Only these vulnerability ids.
    #[arg(long = "vulnerability")]
    pub vulnerabilities: Vec<String>,
    /// Only these accounts.
    #[arg(long = "account")]
    pub accounts: Vec<String>,
    /// At most this many findings.
    #[arg(long, default_value_t = 1000)]
    pub limit: usize,
    /// JSON (one finding per line) instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct CoverageArgs {
    #[command(flatten)]
    pub coordinators: Coordinators,
    /// JSON (one resource per line) instead of a table.
    #[arg(long)]
    pub json: bool,
    /// At most this many resources.
    #[arg(long, default_value_t = 1000)]
    pub limit: usize,
}

#[derive(Debug, Args)]
pub struct ScanNowArgs {
    #[command(flatten)]
    pub coordinators: Coordinators,
    /// Scan the artifacts of these resources.
    #[arg(long = "resource")]
    pub resources: Vec<String>,
    /// Scan these artifacts (by digest).
    #[arg(long = "digest")]
    pub digests: Vec<String>,
}

fn eq(value: &str) -> StringFilter {
    StringFilter {
        comparison: StringComparison::Equals as i32,
        value: value.to_string(),
    }
}

fn enum_values<E>(names: &[String], parse: impl Fn(&str) -> Option<E>, what: &str) -> anyhow::Result<Vec<i32>>
where
    E: Into<i32>,
{
    names
        .iter()
        .map(|n| {
            parse(&n.to_ascii_uppercase())
                .map(Into::into)
                .with_context(|| format!("unknown {what} {n:?}"))
        })
        .collect()
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread().enable_all().build()?)
}

pub fn run_findings(args: FindingsArgs) -> anyhow::Result<ExitCode> {
    let FindingsCommand::List(list) = args.command;
    let rt = runtime()?;
    // Channels are made lazily on the runtime that uses them.
    let _rt = rt.enter();
    let client = Client::new(&args.coordinators.addr)?;
    let statuses = if list.status.is_empty() {
        vec![FindingStatus::Active as i32]
    } else {
        enum_values(&list.status, FindingStatus::from_str_name, "status")?
    };
    let filter = FindingFilter {
        severity: enum_values(&list.severity, Severity::from_str_name, "severity")?,
        status: statuses,
        resource_id: list.resources.iter().map(|r| eq(r)).collect(),
        vulnerability_id: list.vulnerabilities.iter().map(|v| eq(v)).collect(),
        account_id: list.accounts.iter().map(|a| eq(a)).collect(),
        ..Default::default()
    };
    let findings = rt.block_on(list_findings(&client, filter, list.limit))?;
    if list.json {
        for f in &findings {
            println!("{}", serde_json::to_string(&finding_json(f))?);
        }
    } else {
        print!("{}", findings_table(&findings));
    }
    Ok(ExitCode::SUCCESS)
}

pub fn run_coverage(args: CoverageArgs) -> anyhow::Result<ExitCode> {
    let rt = runtime()?;
    let _rt = rt.enter();
    let client = Client::new(&args.coordinators.addr)?;
    let resources = rt.block_on(list_coverage(&client, ResourceFilter::default(), args.limit))?;
    if args.json {
        for r in &resources {
            let c = r.coverage.clone().unwrap_or_default();
            let line = serde_json::json!({
                "resourceId": r.resource_id,
                "resourceType": ResourceType::try_from(r.r#type).map(|t| t.as_str_name()).unwrap_or("?"),
                "accountId": r.account_id,
                "status": CoverageStatus::try_from(c.status).map(|s| s.as_str_name()).unwrap_or("?"),
                "reason": CoverageReason::try_from(c.reason).map(|s| s.as_str_name()).unwrap_or("?"),
                "lastScannedAt": c.last_scanned_at.map(|t| t.to_string()),
                "dbVersion": c.db_version,
                "detail": c.detail,
            });
            println!("{line}");
        }
    } else {
        print!("{}", coverage_table(&resources, &BTreeMap::new()));
    }
    Ok(ExitCode::SUCCESS)
}

pub fn run_scan_now(args: ScanNowArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(
        !args.resources.is_empty() || !args.digests.is_empty(),
        "name at least one --resource or --digest"
    );
    let rt = runtime()?;
    let _rt = rt.enter();
    let client = Client::new(&args.coordinators.addr)?;
    let req = ScanNowRequest {
        resource_ids: args.resources,
        artifact_digests: args.digests,
    };
    let resp = rt.block_on(client.retry(|c| {
        let req = req.clone();
        async move { c.scans().scan_now(req).await }
    }))?;
    println!(
        "{} artifact(s) due now, {} already being scanned",
        resp.requested, resp.in_flight
    );
    for u in &resp.unknown {
        eprintln!("warning: {u} is unknown or has nothing to fetch");
    }
    Ok(if resp.unknown.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Findings matching `filter`, most severe (then highest score) first.
pub async fn list_findings(client: &Client, filter: FindingFilter, limit: usize) -> anyhow::Result<Vec<Finding>> {
    let mut out = Vec::new();
    let mut token = String::new();
    loop {
        let req = ListFindingsRequest {
            filter: Some(filter.clone()),
            sort: Some(FindingSort {
                field: FindingSortField::SortBySeverity as i32,
                order: SortOrder::Desc as i32,
            }),
            page_size: 1000.min(limit.saturating_sub(out.len())).max(1) as u32,
            page_token: token.clone(),
        };
        let page = client
            .retry(|c| {
                let req = req.clone();
                async move { c.findings().list_findings(req).await }
            })
            .await?;
        out.extend(page.findings);
        token = page.next_page_token;
        if token.is_empty() || out.len() >= limit {
            out.truncate(limit);
            // Within a severity, the highest score first.
            out.sort_by(|a, b| {
                b.severity
                    .cmp(&a.severity)
                    .then(b.score.total_cmp(&a.score))
                    .then_with(|| a.finding_id.cmp(&b.finding_id))
            });
            return Ok(out);
        }
    }
}

pub async fn list_coverage(client: &Client, filter: ResourceFilter, limit: usize) -> anyhow::Result<Vec<Resource>> {
    let mut out = Vec::new();
    let mut token = String::new();
    loop {
        let req = ListCoverageRequest {
            filter: Some(filter.clone()),
            page_size: 1000.min(limit.saturating_sub(out.len())).max(1) as u32,
            page_token: token.clone(),
        };
        let page = client
            .retry(|c| {
                let req = req.clone();
                async move { c.coverage().list_coverage(req).await }
            })
            .await?;
        out.extend(page.resources);
        token = page.next_page_token;
        if token.is_empty() || out.len() >= limit {
            out.truncate(limit);
            return Ok(out);
        }
    }
}

fn severity_name(s: i32) -> &'static str {
    Severity::try_from(s).map(|s| s.as_str_name()).unwrap_or("?")
}

pub fn findings_table(findings: &[Finding]) -> String {
    let mut rows = vec![[
        "SEVERITY".to_string(),
        "VULNERABILITY".into(),
        "PACKAGE".into(),
        "INSTALLED".into(),
        "FIXED IN".into(),
        "RESOURCE".into(),
    ]];
    for f in findings {
        let p = f.package.clone().unwrap_or_default();
        let sev = if f.score > 0.0 {
            format!("{} {:.1}", severity_name(f.severity), f.score)
        } else {
            severity_name(f.severity).to_string()
        };
        let mut id = f.vulnerability.as_ref().map(|v| v.id.clone()).unwrap_or_default();
        if f.exploit_available {
            id.push_str(" (exploited)");
        }
        rows.push([
            sev,
            id,
            p.name,
            p.version,
            if p.fixed_in_version.is_empty() {
                "-".into()
            } else {
                p.fixed_in_version
            },
            f.resource.as_ref().map(|r| r.resource_id.clone()).unwrap_or_default(),
        ]);
    }
    columns(&rows)
}

/// One line per resource; `findings` gives the active findings per resource id when known.
pub fn coverage_table(resources: &[Resource], findings: &BTreeMap<String, usize>) -> String {
    let mut rows = vec![[
        "RESOURCE".to_string(),
        "TYPE".into(),
        "STATUS".into(),
        "REASON".into(),
        "LAST SCANNED".into(),
        "FINDINGS".into(),
    ]];
    for r in resources {
        let c = r.coverage.clone().unwrap_or_default();
        let mut reason = CoverageReason::try_from(c.reason)
            .map(|s| s.as_str_name().to_string())
            .unwrap_or_default();
        if !c.detail.is_empty() {
            reason = format!("{reason}: {}", c.detail);
        }
        rows.push([
            r.resource_id.clone(),
            ResourceType::try_from(r.r#type)
                .map(|t| t.as_str_name().to_string())
                .unwrap_or_default(),
            CoverageStatus::try_from(c.status)
                .map(|s| s.as_str_name().trim_start_matches("COVERAGE_").to_string())
                .unwrap_or_default(),
            reason,
            c.last_scanned_at.map(|t| t.to_string()).unwrap_or_else(|| "-".into()),
            findings
                .get(&r.resource_id)
                .map(|n| n.to_string())
                .unwrap_or_else(|| "-".into()),
        ]);
    }
    columns(&rows)
}

/// Counts by severity, most severe first: `CRITICAL 1, HIGH 3`.
pub fn severity_counts(findings: &[Finding]) -> String {
    let mut counts: BTreeMap<i32, usize> = BTreeMap::new();
    for f in findings {
        *counts.entry(f.severity).or_default() += 1;
    }
    let parts: Vec<String> = counts
        .iter()
        .rev()
        .map(|(s, n)| format!("{} {n}", severity_name(*s)))
        .collect();
    if parts.is_empty() {
        "none".into()
    } else {
        parts.join(", ")
    }
}

fn finding_json(f: &Finding) -> serde_json::Value {
    let p = f.package.clone().unwrap_or_default();
    serde_json::json!({
        "findingId": f.finding_id,
        "accountId": f.account_id,
        "resourceId": f.resource.as_ref().map(|r| r.resource_id.clone()),
        "severity": severity_name(f.severity),
        "score": f.score,
        "status": FindingStatus::try_from(f.status).map(|s| s.as_str_name()).unwrap_or("?"),
        "vulnerabilityId": f.vulnerability.as_ref().map(|v| v.id.clone()),
        "title": f.title,
        "package": { "name": p.name, "version": p.version, "fixedInVersion": p.fixed_in_version,
                     "ecosystem": p.ecosystem, "filePath": p.file_path },
        "exploitAvailable": f.exploit_available,
        "firstObservedAt": f.first_observed_at.map(|t| t.to_string()),
        "lastObservedAt": f.last_observed_at.map(|t| t.to_string()),
        "dbVersion": f.db_version,
    })
}
