//! Command-line surface of the `argus` binary.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use argus_coordinator::config::Config;
use argus_coordinator::telemetry::Identity;

mod agent;
mod backup;
mod cluster;
mod coordinator;
mod db;
mod output;
mod progress;
mod query;
mod sbom;
mod scan;
mod target;
mod up;
mod worker;

#[derive(Debug, Parser)]
#[command(
    name = "argus",
    version,
    about = "Self-hosted vulnerability management: inventory, scan and track findings"
)]
pub struct Cli {
    /// Configuration file (TOML); defaults apply when absent.
    #[arg(long, global = true, env = "ARGUS_CONFIG")]
    pub config: Option<PathBuf>,
    /// More log output (-v debug, -vv trace); RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Inventory the packages in a directory, image, archive or SBOM and write them out.
    Sbom(sbom::SbomArgs),
    /// Inventory a target and match it against the vulnerability database.
    Scan(scan::ScanArgs),
    /// Build and inspect the vulnerability database.
    Db(db::DbArgs),
    /// Run a coordinator node (Raft, state machine, gRPC API).
    Coordinator(coordinator::CoordinatorArgs),
    /// Form and inspect a coordinator cluster.
    Cluster(cluster::ClusterArgs),
    /// Run everything in one process (coordinator, queue, workers), scan the targets, report,
    /// and keep serving the API.
    Up(up::UpArgs),
    /// Query findings from a running Argus.
    Findings(query::FindingsArgs),
    /// Coverage of every resource, from a running Argus.
    Coverage(query::CoverageArgs),
    /// Ask for a scan of resources or artifacts now.
    ScanNow(query::ScanNowArgs),
    /// Run a scan worker: pull jobs from NATS, scan, publish results.
    Worker(worker::WorkerArgs),
    /// Run the host agent: report this host's package inventory to the coordinators.
    Agent(agent::AgentArgs),
}

/// Who this process is, for the telemetry resource.
pub fn identity(command: &Command, config: &Config) -> Identity {
    match command {
        Command::Coordinator(a) => Identity {
            service: "argus-coordinator",
            instance: format!("node-{}", a.node_id.unwrap_or(config.coordinator.node_id)),
        },
        Command::Worker(a) => Identity {
            service: "argus-worker",
            instance: a.name.clone().unwrap_or_else(worker::default_name),
        },
        _ => Identity {
            service: "argus",
            instance: worker::default_name(),
        },
    }
}

pub fn run(command: Command, config: Config) -> anyhow::Result<ExitCode> {
    match command {
        Command::Sbom(args) => sbom::run(args, &config),
        Command::Db(args) => db::run(args, &config),
        Command::Scan(args) => scan::run(args, &config),
        Command::Coordinator(args) => coordinator::run(args, &config),
        Command::Cluster(args) => cluster::run(args, &config),
        Command::Up(args) => up::run(args, &config),
        Command::Findings(args) => query::run_findings(args),
        Command::Coverage(args) => query::run_coverage(args),
        Command::ScanNow(args) => query::run_scan_now(args),
        Command::Worker(args) => worker::run(args, &config),
        Command::Agent(args) => agent::run(args, &config),
    }
}
