//! `argus-loadtest`: reproducible measurements of Argus.
//!
//! `image` measures the scan engine's image inventory throughput against the physical bound,
//! plain gzip decompression of the same layers, and its peak memory at two image sizes.

use clap::{Parser, Subcommand};

mod encoded;
mod estate;
mod image;
mod ingest;
mod matching;
mod pipeline;
mod process;

#[derive(Debug, Parser)]
#[command(name = "argus-loadtest", version, about = "Measure Argus")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Image inventory throughput (compressed MB/s) next to plain gzip decompression, and peak
    /// memory, on generated multi-layer images.
    Image(image::ImageArgs),
    /// Vulnerability database import and open time, and matching throughput, on a generated
    /// database of osv.dev's size.
    Match(matching::MatchArgs),
    /// Findings committed per second through a coordinator cluster started here, commit
    /// latency, snapshot and learner catch-up time, RSS and disk, and the failover gap.
    Ingest(ingest::IngestArgs),
    /// The scan pipeline through a real nats-server: jobs dispatched and results ingested per
    /// second with no-op scans, time to schedule every first scan, and re-evaluation time for
    /// stored inventories after one new advisory.
    Pipeline(pipeline::PipelineArgs),
    /// The whole cluster on a synthetic estate (three coordinators, NATS, simulated-scan
    /// workers started here, or a running cluster): initial scan, steady change, a new
    /// advisory, kill -9 of the leader, worker scale; throughput, latency, feed lag, failover
    /// gap, RSS and disk, and lost or duplicated findings against the expected ones.
    Estate(estate::EstateArgs),
    /// One step of `match` in this process (used by `match`).
    #[command(hide = true)]
    MatchStep {
        step: String,
        dir: std::path::PathBuf,
        #[arg(long)]
        packages: usize,
        #[arg(long)]
        records: usize,
        #[arg(long)]
        hit_percent: usize,
    },
    /// Inventory one image in this process and print seconds and peak RSS as JSON (used by
    /// `image` so each measurement has a process of its own).
    #[command(hide = true)]
    ScanOnce { layout: String },
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Image(args) => image::run(args),
        Command::ScanOnce { layout } => image::scan_once(&layout),
        Command::Match(args) => matching::run(args),
        Command::Ingest(args) => ingest::run(args),
        Command::Pipeline(args) => pipeline::run(args),
        Command::Estate(args) => estate::run(args),
        Command::MatchStep {
            step,
            dir,
            packages,
            records,
            hit_percent,
        } => matching::step(&step, &dir, packages, records, hit_percent),
    }
}
