//! `argus scan <target>`: inventory, match against the local database, report, and gate CI.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use argus_worker::matching::{match_inventory, Match};
use argus_worker::report::{self, severity_rank, SEVERITIES};
use argus_worker::vulndb::VulnDb;
use clap::{Args, ValueEnum};
use serde::Deserialize;

use super::output;
use super::target::TargetArgs;
use argus_coordinator::config::Config;

/// Exit status when findings at or above `--fail-on` remain.
pub const EXIT_FINDINGS: u8 = 3;

#[derive(Debug, Args)]
pub struct ScanArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// The vulnerability database; defaults to `vulndb.path` in the config.
    #[arg(long, env = "ARGUS_DB")]
    pub db: Option<PathBuf>,
    /// Output format; a table on a terminal, JSON otherwise.
    #[arg(short, long, value_enum)]
    pub format: Option<ScanFormat>,
    /// Write to this file instead of stdout.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// Report only these severities (comma-separated: CRITICAL,HIGH,MEDIUM,LOW,UNTRIAGED).
    #[arg(long, value_delimiter = ',')]
    pub severity: Vec<String>,
    /// Exit with status 3 when a reported finding is at or above this severity.
    #[arg(long)]
    pub fail_on: Option<String>,
    /// Accepted risks (TOML `[[ignore]]` entries: id, optional package, reason, optional
    /// expires = YYYY-MM-DD).
    #[arg(long)]
    pub ignore_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum ScanFormat {
    Table,
    /// Findings as Argus names them (Inspector's shape).
    Json,
    /// SARIF 2.1.0.
    Sarif,
    /// CycloneDX 1.5 with vulnerabilities.
    Cyclonedx,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct IgnoreFile {
    #[serde(default)]
    ignore: Vec<IgnoreEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct IgnoreEntry {
    /// A vulnerability id or any of its aliases.
    id: String,
    /// Only for this package name.
    #[serde(default)]
    package: Option<String>,
    reason: String,
    /// The acceptance ends after this day (a TOML date or a `YYYY-MM-DD` string).
    #[serde(default)]
    expires: Option<toml::Value>,
}

fn load_ignores(path: &Path) -> anyhow::Result<Vec<IgnoreEntry>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let file: IgnoreFile = toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    let today = chrono::Utc::now().date_naive();
    let mut kept = Vec::new();
    for e in file.ignore {
        if let Some(value) = &e.expires {
            let text = match value {
                toml::Value::String(s) => s.clone(),
                toml::Value::Datetime(d) => d.to_string(),
                other => bail!("{}: expires for {} must be a date, not {other}", path.display(), e.id),
            };
            let date = chrono::NaiveDate::parse_from_str(&text, "%Y-%m-%d")
                .with_context(|| format!("{}: expires for {} must be YYYY-MM-DD", path.display(), e.id))?;
            if date < today {
                eprintln!(
                    "warning: ignore entry for {} expired on {date}; the finding is reported again",
                    e.id
                );
                continue;
            }
        }
        kept.push(e);
    }
    Ok(kept)
}

fn ignored(m: &Match, entries: &[IgnoreEntry]) -> Option<String> {
    entries
        .iter()
        .find(|e| {
            (e.id == m.vulnerability_id || m.aliases.contains(&e.id))
                && e.package.as_ref().is_none_or(|p| *p == m.package.name)
        })
        .map(|e| e.reason.clone())
}

pub fn run(args: ScanArgs, config: &Config) -> anyhow::Result<ExitCode> {
    let db_path = args.db.clone().unwrap_or_else(|| config.vulndb.path.clone());
    let db = VulnDb::open(&db_path).context("opening the vulnerability database (build one with `argus db import`)")?;
    for s in args.severity.iter().chain(args.fail_on.iter()) {
        if severity_rank(s) >= SEVERITIES.len() {
            bail!("unknown severity {s:?}; use one of {}", SEVERITIES.join(", "));
        }
    }
    let ignores = match &args.ignore_file {
        Some(p) => load_ignores(p)?,
        None => Vec::new(),
    };
    let inventory = args.target.inventory(config)?;
    let matched = match_inventory(&db, &inventory)?;
    for w in &matched.warnings {
        eprintln!("warning: {w}");
    }
    let mut kept = Vec::new();
    let mut suppressed = 0;
    for m in matched.matches {
        if !args.severity.is_empty() && !args.severity.iter().any(|s| s.eq_ignore_ascii_case(&m.severity)) {
            continue;
        }
        if let Some(reason) = ignored(&m, &ignores) {
            tracing::debug!(id = %m.vulnerability_id, package = %m.package.name, %reason, "ignored");
            suppressed += 1;
            continue;
        }
        kept.push(m);
    }
    kept.sort_by(|a, b| {
        severity_rank(&a.severity)
            .cmp(&severity_rank(&b.severity))
            .then(b.score.unwrap_or(0.0).total_cmp(&a.score.unwrap_or(0.0)))
            .then(a.vulnerability_id.cmp(&b.vulnerability_id))
            .then(a.package.name.cmp(&b.package.name))
    });
    let to_terminal = args.output.is_none() && std::io::stdout().is_terminal();
    let format = args.format.unwrap_or(if to_terminal {
        ScanFormat::Table
    } else {
        ScanFormat::Json
    });
    let rendered = match format {
        ScanFormat::Table => table(&inventory, &kept, suppressed, db.meta().version.as_str()),
        ScanFormat::Json => {
            let out = serde_json::json!({
                "target": inventory.target,
                "artifactDigest": inventory.artifact_digest,
                "dbVersion": db.meta().version,
                "packages": inventory.packages.len(),
                "findings": report::findings(&inventory, &kept),
                "ignored": suppressed,
            });
            serde_json::to_string_pretty(&out)? + "\n"
        }
        ScanFormat::Sarif => serde_json::to_string_pretty(&report::sarif(&inventory, &kept))? + "\n",
        ScanFormat::Cyclonedx => serde_json::to_string_pretty(&report::cyclonedx(&inventory, &kept))? + "\n",
    };
    output::write(args.output.as_deref(), &rendered)?;
    if let Some(threshold) = &args.fail_on {
        let limit = severity_rank(threshold);
        let failing = kept.iter().filter(|m| severity_rank(&m.severity) <= limit).count();
        if failing > 0 {
            eprintln!("argus: {failing} finding(s) at or above {threshold}");
            return Ok(ExitCode::from(EXIT_FINDINGS));
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn table(inv: &argus_proto::Inventory, matches: &[Match], suppressed: usize, db_version: &str) -> String {
    let mut rows: Vec<[String; 6]> = vec![[
        "SEVERITY".into(),
        "VULNERABILITY".into(),
        "PACKAGE".into(),
        "INSTALLED".into(),
        "FIXED IN".into(),
        "PATH".into(),
    ]];
    for m in matches {
        let sev = match m.score {
            Some(s) => format!("{} {s:.1}", m.severity),
            None => m.severity.clone(),
        };
        let id = if m.exploit_available {
            format!("{} (KEV)", m.vulnerability_id)
        } else {
            m.vulnerability_id.clone()
        };
        rows.push([
            sev,
            id,
            m.package.name.clone(),
            m.package.version.clone(),
            m.fixed_in_version.clone().unwrap_or_else(|| "-".into()),
            m.package.file_path.clone(),
        ]);
    }
    let mut counts = [0usize; SEVERITIES.len()];
    for m in matches {
        if let Some(c) = counts.get_mut(severity_rank(&m.severity)) {
            *c += 1;
        }
    }
    let summary: Vec<String> = SEVERITIES
        .iter()
        .zip(counts)
        .filter(|(_, n)| *n > 0)
        .map(|(s, n)| format!("{n} {s}"))
        .collect();
    format!(
        "{}  {} packages  {} findings ({})  db {db_version}{}\n\n{}",
        inv.target,
        inv.packages.len(),
        matches.len(),
        if summary.is_empty() {
            "none".to_string()
        } else {
            summary.join(", ")
        },
        if suppressed > 0 {
            format!("  {suppressed} ignored")
        } else {
            String::new()
        },
        output::columns(&rows)
    )
}
