//! `argus up`: everything in one process — a one-node coordinator, the in-process queue and
//! N workers — scanning the targets of a targets file (and whatever arrives through the API).
//! Prints progress, then coverage and findings, and keeps serving the gRPC API.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context;
use argus_coordinator::client::Client;
use argus_coordinator::config::Config;
use argus_coordinator::embedded::{Embedded, EmbeddedOptions, WorkerOptions};
use argus_coordinator::targets::{Target, TargetsFile};
use argus_proto::internal::v1::command::Kind as Cmd;
use argus_proto::internal::v1::{Command, RequestScans};
use argus_proto::v1::{
    FindingFilter, FindingStatus, PutAccountsRequest, PutResourcesRequest, ResourceFilter, StringComparison,
    StringFilter,
};
use argus_worker::vulndb::{DbSlot, VulnDb};
use clap::Args;

use super::query::{coverage_table, findings_table, list_coverage, list_findings, severity_counts};

#[derive(Debug, Args)]
pub struct UpArgs {
    /// Targets file: TOML `[[target]]` entries (target, and optionally kind, id, account,
    /// region, type, tags).
    #[arg(long, env = "ARGUS_TARGETS")]
    pub targets: Option<PathBuf>,
    /// A target to scan besides the file's (a path or an image reference); repeatable.
    #[arg(long = "target")]
    pub target: Vec<String>,
    /// The vulnerability database; defaults to `vulndb.path` in the config.
    #[arg(long, env = "ARGUS_DB")]
    pub db: Option<PathBuf>,
    /// Where the coordinator keeps its state (default: the config's `coordinator.data_dir`).
    #[arg(long, env = "ARGUS_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Address to serve the gRPC API on.
    #[arg(long, env = "ARGUS_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// In-process workers.
    #[arg(long, default_value_t = 2)]
    pub workers: usize,
    /// Jobs each worker runs at once.
    #[arg(long, default_value_t = 2)]
    pub concurrency: usize,
    /// Load tests of the control plane: do not fetch artifacts, sleep this long per job and
    /// match a synthetic inventory derived from the digest (as `argus worker
    /// --simulate-scan-ms`; re-matches stay real).
    #[arg(long, env = "ARGUS_SIMULATE_SCAN_MS")]
    pub simulate_scan_ms: Option<u64>,
    /// Packages in each simulated scan's synthetic inventory (with `--simulate-scan-ms`).
    #[arg(long, env = "ARGUS_SIMULATE_PACKAGES", default_value_t = argus_worker::synthetic::DEFAULT_PACKAGES)]
    pub simulate_packages: usize,
    /// Exit after the summary instead of serving the API.
    #[arg(long)]
    pub exit_when_done: bool,
    /// Give up waiting for the scans after this many seconds.
    #[arg(long, default_value_t = 3600)]
    pub timeout: u64,
}

pub fn run(args: UpArgs, config: &Config) -> anyhow::Result<ExitCode> {
    let mut config = config.clone();
    if let Some(d) = &args.data_dir {
        config.coordinator.data_dir = d.clone();
    }
    if let Some(l) = args.listen {
        config.coordinator.listen = l;
    }
    let db_path = args.db.clone().unwrap_or_else(|| config.vulndb.path.clone());
    let db = VulnDb::open(&db_path).context("opening the vulnerability database (build one with `argus db import`)")?;
    let mut targets = match &args.targets {
        Some(p) => {
            let file = TargetsFile::load(p)?;
            let base = p.parent().map(PathBuf::from).unwrap_or_default();
            file.resources(&base)?
        }
        None => (Vec::new(), Vec::new()),
    };
    let extra = TargetsFile {
        targets: args.target.iter().map(Target::new).collect(),
    };
    let (accounts, resources) = extra.resources(&std::env::current_dir()?)?;
    for a in accounts {
        if !targets.0.iter().any(|b| b.account_id == a.account_id) {
            targets.0.push(a);
        }
    }
    targets.1.extend(resources);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(up(args, config, DbSlot::new(db), db_path, targets))
}

async fn up(
    args: UpArgs,
    config: Config,
    db: DbSlot,
    db_path: PathBuf,
    (accounts, resources): (Vec<argus_proto::v1::Account>, Vec<argus_proto::v1::Resource>),
) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let scan = argus_worker::ScanOptions {
        limits: config.limits.clone(),
        ..Default::default()
    };
    let embedded = Embedded::start(
        &config,
        db.clone(),
        EmbeddedOptions {
            db_path: Some(db_path),
            queue: None,
            workers: WorkerOptions {
                workers: args.workers,
                concurrency: args.concurrency,
                scan,
                simulate: args.simulate_scan_ms.map(Duration::from_millis),
                simulate_packages: args.simulate_packages,
            },
        },
    )
    .await?;
    let node = embedded.node.clone();
    let write = |kind: Cmd| {
        let node = node.clone();
        async move {
            let command = Command { kind: Some(kind) };
            argus_coordinator::state::State::validate(&command)?;
            node.write(command).await
        }
    };
    if !accounts.is_empty() {
        write(Cmd::PutAccounts(PutAccountsRequest { accounts })).await?;
    }
    let mut digests: Vec<String> = resources.iter().map(|r| r.artifact_digest.clone()).collect();
    digests.sort();
    digests.dedup();
    for chunk in resources.chunks(1000) {
        write(Cmd::PutResources(PutResourcesRequest {
            resources: chunk.to_vec(),
        }))
        .await?;
    }
    // Fresh results on every start: targets scanned by an earlier run are due again now.
    for chunk in digests.chunks(1000) {
        write(Cmd::RequestScans(RequestScans {
            artifact_digests: chunk.to_vec(),
        }))
        .await?;
    }
    eprintln!(
        "argus up: {} target(s), {} artifact(s), {} worker(s), DB {}",
        resources.len(),
        digests.len(),
        args.workers,
        db.version()
    );
    wait_for_scans(&embedded, &digests, Duration::from_secs(args.timeout)).await?;
    let client = Client::new(&[embedded.address.clone()])?;
    let ids: Vec<StringFilter> = resources
        .iter()
        .map(|r| StringFilter {
            comparison: StringComparison::Equals as i32,
            value: r.resource_id.clone(),
        })
        .collect();
    let findings = if ids.is_empty() {
        Vec::new()
    } else {
        let filter = FindingFilter {
            resource_id: ids.clone(),
            status: vec![FindingStatus::Active as i32],
            ..Default::default()
        };
        list_findings(&client, filter, usize::MAX).await?
    };
    let covered = if ids.is_empty() {
        Vec::new()
    } else {
        let filter = ResourceFilter {
            resource_id: ids,
            ..Default::default()
        };
        list_coverage(&client, filter, usize::MAX).await?
    };
    let mut per_resource: BTreeMap<String, usize> = covered.iter().map(|r| (r.resource_id.clone(), 0)).collect();
    for f in &findings {
        if let Some(r) = &f.resource {
            *per_resource.entry(r.resource_id.clone()).or_default() += 1;
        }
    }
    println!("\nCOVERAGE");
    print!("{}", coverage_table(&covered, &per_resource));
    println!("\nFINDINGS ({} active: {})", findings.len(), severity_counts(&findings));
    if !findings.is_empty() {
        print!("{}", findings_table(&findings));
    }
    eprintln!(
        "\nscanned in {:.1} s; gRPC API on {addr} (`argus findings --addr {addr} list`)",
        started.elapsed().as_secs_f64(),
        addr = embedded.address
    );
    if args.exit_when_done {
        embedded.shutdown().await?;
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!("serving until interrupted (Ctrl-C)");
    embedded.serve_until(argus_coordinator::node::shutdown_signal()).await?;
    Ok(ExitCode::SUCCESS)
}

/// Waits until every target artifact has a result from this run (or failed all its attempts),
/// showing progress.
async fn wait_for_scans(embedded: &Embedded, digests: &[String], timeout: Duration) -> anyhow::Result<()> {
    let bar = std::io::stderr().is_terminal().then(|| {
        let bar = indicatif::ProgressBar::new(digests.len() as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{spinner} scanning {pos}/{len} artifacts {wide_bar} {elapsed}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    });
    let deadline = Instant::now() + timeout;
    let mut last = usize::MAX;
    loop {
        let now = prost_types::Timestamp::from(SystemTime::now());
        let mut done = 0;
        for d in digests {
            // Finished: no job in flight and the next one is in the future (a rescan after a
            // result, or a backoff after a failure); a requested scan is due now.
            let finished = embedded.node.state.artifact_schedule(d)?.is_some_and(|s| {
                s.scanned && s.job.is_none() && s.due_at.is_none_or(|t| (t.seconds, t.nanos) > (now.seconds, now.nanos))
            });
            done += usize::from(finished);
        }
        if done != last {
            match &bar {
                Some(b) => b.set_position(done as u64),
                None => eprintln!("scanned {done}/{} artifacts", digests.len()),
            }
            last = done;
        }
        if done == digests.len() {
            if let Some(b) = &bar {
                b.finish_and_clear();
            }
            return Ok(());
        }
        anyhow::ensure!(Instant::now() < deadline, "scans did not finish within {timeout:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
