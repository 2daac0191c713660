//! `estate`: the whole cluster at enterprise scale. A synthetic estate (accounts × regions ×
//! resources of three AWS types, digests shared with a long tail) goes through the real API to
//! three `argus coordinator`s, a nats-server and W `argus worker --simulate-scan-ms` processes
//! that match synthetic inventories against a synthetic database for real — or, with
//! `--embedded`, one `argus up` process holding all of them but NATS. Scenarios: initial
//! scan, steady change, a new advisory, kill -9 of the leader during ingestion, worker scale.
//! After each one, the findings the cluster holds are compared with the ones the deterministic
//! generator predicts (LOST / DUPLICATED).
//!
//! Latencies are measured from timestamps, not from the OTLP histograms: end to end is from a
//! put being sent to the first change of one of the resource's findings arriving on a feed
//! subscriber in this process; feed lag is that arrival minus the change's `changed_at`.

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use serde_json::json;

mod embedded;
mod feed;
mod model;
mod procs;
mod report;
mod scenarios;
mod verify;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Scenario {
    Initial,
    Steady,
    Advisory,
    LeaderKill,
    WorkerScale,
    All,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Engine {
    /// Workers sleep `--scan-ms` and match the digest's synthetic inventory: the control plane
    /// is measured.
    Simulated,
    /// Every artifact is written as a root filesystem (dpkg status, npm lockfile, pip
    /// requirements, os-release) and workers fetch, extract and match it for real.
    Real,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum VerifyMode {
    /// Every ACTIVE finding id compared (the default up to 200,000 resources).
    Full,
    /// ACTIVE findings counted per resource.
    Counts,
}

#[derive(Debug, Args)]
pub struct EstateArgs {
    /// Accounts the resources are spread over.
    #[arg(long, default_value_t = 2000)]
    pub accounts: u64,
    /// Regions per account (at most 17).
    #[arg(long, default_value_t = 17)]
    pub regions: u64,
    /// Resources in the estate (ECR images 50 %, EC2 instances 30 %, Lambda functions 20 %).
    #[arg(long, default_value_t = 1_000_000)]
    pub resources: u64,
    /// Distinct artifacts the initial resources draw from (default: resources / 10).
    #[arg(long)]
    pub artifacts: Option<u64>,
    /// Zipf exponent of the artifact popularity (1.0: the most used image is carried by twice
    /// as many resources as the second).
    #[arg(long, default_value_t = 1.0)]
    pub zipf: f64,
    /// Packages per synthetic inventory (passed to the workers).
    #[arg(long, default_value_t = argus_worker::synthetic::DEFAULT_PACKAGES)]
    pub packages: usize,
    /// Scenario to run after the initial scan (`all`: every one, in order).
    #[arg(long, value_enum, default_value = "all")]
    pub scenario: Scenario,
    /// Worker processes (the largest step of worker-scale).
    #[arg(long, default_value_t = 4)]
    pub workers: usize,
    /// Jobs each worker runs at once.
    #[arg(long, default_value_t = 32)]
    pub concurrency: usize,
    /// How workers scan: simulated, or the real engine on real files (then `--scan-ms` is
    /// unused, and with `--addresses` the workers must see `--work-dir` at the same path).
    #[arg(long, value_enum, default_value = "simulated")]
    pub engine: Engine,
    /// Simulated scan time per job, in milliseconds (before matching for real).
    #[arg(long, default_value_t = 50)]
    pub scan_ms: u64,
    /// Run against one embedded `argus up` process started here (one-node coordinator,
    /// in-process queue, `--workers` worker tasks; no NATS) instead of a cluster.
    #[arg(long, conflicts_with_all = ["addresses", "nats"])]
    pub embedded: bool,
    /// Coordinators to start.
    #[arg(long, default_value_t = 3)]
    pub coordinators: usize,
    /// The scheduler's dispatch window (most jobs outstanding).
    #[arg(long, default_value_t = 10_000)]
    pub dispatch_window: u64,
    /// Resources per PutResources request, and requests in flight.
    #[arg(long, default_value_t = 1000)]
    pub batch: usize,
    #[arg(long, default_value_t = 8)]
    pub put_concurrency: usize,
    /// steady: how long, and the percentage of resources given a new artifact per minute.
    #[arg(long, default_value_t = 60)]
    pub steady_secs: u64,
    #[arg(long, default_value_t = 1.0)]
    pub change_percent: f64,
    /// advisory: the percentage of artifacts the new advisory affects.
    #[arg(long, default_value_t = 10)]
    pub advisory_percent: u64,
    /// leader-kill: new resources put while the leader is killed (default: resources / 10).
    #[arg(long)]
    pub kill_batch: Option<u64>,
    /// worker-scale: new artifacts scanned at each step.
    #[arg(long, default_value_t = 5000)]
    pub scale_jobs: u64,
    /// How the findings are compared after each scenario.
    #[arg(long, value_enum)]
    pub verify: Option<VerifyMode>,
    /// A running cluster instead of starting one: coordinator addresses (comma-separated) and
    /// its NATS URL. Its workers must run `--simulate-scan-ms` with the same `--packages`.
    #[arg(long)]
    pub addresses: Option<String>,
    #[arg(long)]
    pub nats: Option<String>,
    /// Where databases are built (default: a temporary directory, removed at the end).
    #[arg(long)]
    pub work_dir: Option<PathBuf>,
    /// Give up on any wait after this many seconds.
    #[arg(long, default_value_t = 3600)]
    pub timeout_secs: u64,
    /// Print JSON instead of tables.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: EstateArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let report = runtime.block_on(scenarios::run(&args))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        report::print_table(&report);
    }
    anyhow::ensure!(
        report["exact"] == json!(true),
        "the cluster's findings differ from the expected ones (see the verdicts above)"
    );
    Ok(())
}
