//! `pipeline`: the scan pipeline's control plane through a real nats-server — jobs dispatched
//! per second, results ingested per second (workers with no-op scans), the time to schedule a
//! first scan of every resource — and the time to re-evaluate N stored inventories after one
//! new advisory (workers re-matching for real, no fetch).
//!
//! One coordinator (Raft, fsync on), the scheduler, ingestion and the worker loops run in this
//! process, exactly the code `argus coordinator --nats` and `argus worker` run, against a
//! nats-server started here.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;
use argus_coordinator::config::Config;
use argus_coordinator::embedded::{Embedded, EmbeddedOptions, WorkerOptions};
use argus_proto::internal::v1::command::Kind as Cmd;
use argus_proto::internal::v1::Command;
use argus_proto::v1::{IngestScanResultsRequest, PutResourcesRequest, Resource, ResourceType, ScanOutcome, ScanResult};
use argus_proto::{Ecosystem, Inventory, Package, PackageManager};
use argus_tests::nats::NatsServer;
use argus_worker::queue::Queue;
use argus_worker::vulndb::{DbSlot, VulnDb};
use clap::Args;
use serde_json::json;

#[derive(Debug, Args)]
pub struct PipelineArgs {
    /// Distinct artifacts (one resource each) to schedule and scan.
    #[arg(long, default_value_t = 100_000)]
    artifacts: u64,
    /// In-process worker loops.
    #[arg(long, default_value_t = 2)]
    workers: usize,
    /// Jobs each worker runs at once.
    #[arg(long, default_value_t = 256)]
    concurrency: usize,
    /// Stored inventories for the re-evaluation measurement (0: skip it).
    #[arg(long, default_value_t = 100_000)]
    inventories: u64,
    /// Percent of those inventories holding the package the new advisory names.
    #[arg(long, default_value_t = 10)]
    hot_percent: u64,
    /// Use the in-process queue instead of NATS.
    #[arg(long)]
    memory_queue: bool,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

pub fn run(args: PipelineArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(run_async(args))
}

fn digest(prefix: u8, n: u64) -> String {
    format!("sha256:{prefix:02x}{n:062x}")
}

/// A database with one advisory naming `npm/<package>` below 9.0.0.
fn build_db(dir: &Path, name: &str, package: &str) -> anyhow::Result<VulnDb> {
    let src = dir.join(format!("{name}-src"));
    std::fs::create_dir_all(&src)?;
    let record = json!({
        "schema_version": "1.6.0", "id": format!("GHSA-load-{package}"), "modified": "2026-01-01T00:00:00Z",
        "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
        "affected": [{"package": {"ecosystem": "npm", "name": package},
                      "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "9.0.0"}]}]}]
    });
    std::fs::write(src.join("adv.json"), serde_json::to_vec(&record)?)?;
    let path = dir.join(format!("{name}.vdb"));
    argus_worker::vulndb::import::import(&[&src], &path)?;
    Ok(VulnDb::open(&path)?)
}

fn config(dir: &Path, artifacts: u64) -> Config {
    let mut c = Config::default();
    c.coordinator.data_dir = dir.join("coordinator");
    c.coordinator.listen = "127.0.0.1:0".parse().expect("addr");
    // Measure dispatch itself: the window holds every job.
    c.pipeline.dispatch_window = artifacts.max(1);
    c.pipeline.tick_ms = 50;
    c.pipeline.ingest_batch = 1024;
    c.queue.max_ack_pending = 100_000;
    c
}

async fn write(e: &Embedded, kind: Cmd) -> anyhow::Result<()> {
    let command = Command { kind: Some(kind) };
    argus_coordinator::state::State::validate(&command)?;
    e.node.write(command).await?;
    Ok(())
}

/// Puts resources in batches of 1000, 8 batches in flight.
async fn put_all(e: &Embedded, resources: Vec<Resource>) -> anyhow::Result<()> {
    use futures::StreamExt;
    let batches: Vec<Vec<Resource>> = resources.chunks(1000).map(|c| c.to_vec()).collect();
    let results: Vec<anyhow::Result<()>> = futures::stream::iter(batches)
        .map(|b| write(e, Cmd::PutResources(PutResourcesRequest { resources: b })))
        .buffer_unordered(8)
        .collect()
        .await;
    results.into_iter().collect()
}

async fn start(
    dir: &Path,
    args: &PipelineArgs,
    db: VulnDb,
    simulate: bool,
    nats: Option<&NatsServer>,
) -> anyhow::Result<Embedded> {
    let config = config(dir, args.artifacts.max(args.inventories));
    let queue = match nats {
        Some(n) => Some(Queue::connect_nats(&n.url(), config.queue.clone()).await?),
        None => None,
    };
    Ok(Embedded::start(
        &config,
        DbSlot::new(db),
        EmbeddedOptions {
            db_path: None,
            queue,
            workers: WorkerOptions {
                workers: args.workers,
                concurrency: args.concurrency,
                scan: Default::default(),
                simulate: simulate.then_some(Duration::ZERO),
                simulate_packages: argus_worker::synthetic::DEFAULT_PACKAGES,
            },
        },
    )
    .await?)
}

/// Waits until `cond` holds on the pipeline counters, returning when it first did.
async fn until(
    e: &Embedded,
    what: &str,
    timeout: Duration,
    cond: impl Fn(&argus_proto::internal::v1::PipelineCounters) -> bool,
) -> anyhow::Result<Instant> {
    let start = Instant::now();
    loop {
        let c = e.node.state.pipeline_counters()?;
        if cond(&c) {
            return Ok(Instant::now());
        }
        anyhow::ensure!(start.elapsed() < timeout, "timed out waiting for {what}: {c:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn run_async(args: PipelineArgs) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let nats = (!args.memory_queue).then(NatsServer::start);
    let mut report = serde_json::Map::new();
    report.insert("queue".into(), json!(if args.memory_queue { "memory" } else { "nats" }));

    // 1. Schedule, dispatch and ingest `artifacts` no-op scans.
    if args.artifacts > 0 {
        let db = build_db(dir.path(), "v1", "pkg-none")?;
        let e = start(&dir.path().join("dispatch"), &args, db, true, nats.as_ref()).await?;
        let resources: Vec<Resource> = (0..args.artifacts)
            .map(|i| Resource {
                r#type: ResourceType::ContainerImage as i32,
                resource_id: format!("img-{i}"),
                account_id: format!("{:012}", 100_000_000_000 + i % 2000),
                region: "eu-west-1".into(),
                artifact_digest: digest(1, i),
                artifact_locator: format!("registry:registry.example/app-{i}@{}", digest(1, i)),
                ..Default::default()
            })
            .collect();
        let t0 = Instant::now();
        put_all(&e, resources).await?;
        let put_done = Instant::now();
        let n = args.artifacts;
        let timeout = Duration::from_secs(3600);
        // One sampler for every milestone: they overlap in time.
        let (mut first_dispatch, mut all_dispatched, mut first_result, mut all_results) = (None, None, None, None);
        while all_results.is_none() {
            let c = e.node.state.pipeline_counters()?;
            let at = Some(Instant::now());
            if first_dispatch.is_none() && c.jobs_dispatched > 0 {
                first_dispatch = at;
            }
            if all_dispatched.is_none() && c.jobs_dispatched >= n {
                all_dispatched = at;
            }
            if first_result.is_none() && c.results_applied > 0 {
                first_result = at;
            }
            if c.results_applied >= n {
                all_results = at;
            }
            anyhow::ensure!(t0.elapsed() < timeout, "timed out: {c:?}");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let (first_dispatch, all_dispatched, first_result, all_results) = (
            first_dispatch.expect("set"),
            all_dispatched.expect("set"),
            first_result.expect("set"),
            all_results.expect("set"),
        );
        let secs = |a: Instant, b: Instant| b.duration_since(a).as_secs_f64().max(1e-9);
        report.insert("artifacts".into(), json!(n));
        report.insert("put_resources_per_s".into(), json!(n as f64 / secs(t0, put_done)));
        report.insert("schedule_all_s".into(), json!(secs(t0, all_dispatched)));
        report.insert(
            "jobs_dispatched_per_s".into(),
            json!(n as f64 / secs(first_dispatch, all_dispatched)),
        );
        report.insert(
            "results_ingested_per_s".into(),
            json!(n as f64 / secs(first_result, all_results)),
        );
        report.insert("end_to_end_s".into(), json!(secs(t0, all_results)));
        let c = e.node.state.pipeline_counters()?;
        report.insert("jobs_retried".into(), json!(c.jobs_retried));
        e.shutdown().await?;
    }

    // 2. Re-evaluate `inventories` stored inventories after one new advisory.
    if args.inventories > 0 {
        let old = build_db(dir.path(), "before", "pkg-none")?;
        let e = start(&dir.path().join("reevaluate"), &args, old, false, nats.as_ref()).await?;
        let n = args.inventories;
        let hot_every = (100 / args.hot_percent.clamp(1, 100)).max(1);
        // Resources without a locator: nothing is fetched; their results arrive through the API.
        let resources: Vec<Resource> = (0..n)
            .map(|i| Resource {
                r#type: ResourceType::Host as i32,
                resource_id: format!("host-{i}"),
                account_id: format!("{:012}", 200_000_000_000 + i % 2000),
                region: "eu-west-1".into(),
                artifact_digest: digest(2, i),
                ..Default::default()
            })
            .collect();
        put_all(&e, resources).await?;
        let mut batch = Vec::new();
        for i in 0..n {
            let mut inv = Inventory::new(format!("host-{i}"));
            for p in 0..20 {
                let name = if p == 0 && i % hot_every == 0 {
                    "pkg-hot".to_string()
                } else {
                    format!("pkg-{}", (i * 7 + p) % 5000)
                };
                inv.packages.push(Package::new(
                    name.clone(),
                    "1.0.0",
                    Ecosystem::npm(),
                    PackageManager::Npm,
                    format!("pkg:npm/{name}@1.0.0"),
                    "/app/package-lock.json",
                ));
            }
            batch.push(ScanResult {
                artifact_digest: digest(2, i),
                scanned_at: Some(std::time::SystemTime::now().into()),
                db_version: e.db.version(),
                outcome: ScanOutcome::Succeeded as i32,
                inventory: zstd::bulk::compress(&serde_json::to_vec(&inv)?, 3)?,
                ..Default::default()
            });
            if batch.len() == 200 || i + 1 == n {
                let results = std::mem::take(&mut batch);
                write(&e, Cmd::IngestScanResults(IngestScanResultsRequest { results })).await?;
            }
        }
        until(&e, "the baseline DB", Duration::from_secs(60), |c| {
            !c.reevaluated_db_version.is_empty()
        })
        .await?;
        let applied_before = e.node.state.pipeline_counters()?.results_applied;
        // Versions are stamped to the second.
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let new = build_db(dir.path(), "after", "pkg-hot")?;
        let version = new.meta().version.clone();
        let t0 = Instant::now();
        e.db.replace(new);
        let queued = until(&e, "re-evaluation", Duration::from_secs(600), |c| {
            c.reevaluated_db_version == version
        })
        .await?;
        let c = e.node.state.pipeline_counters()?;
        let rematched = c.reevaluation_rematched;
        let done = until(&e, "every re-match", Duration::from_secs(3600), |c| {
            c.results_applied >= applied_before + rematched
        })
        .await?;
        report.insert("inventories".into(), json!(n));
        report.insert("reevaluation_rematched".into(), json!(rematched));
        report.insert("reevaluation_total".into(), json!(c.reevaluation_total));
        report.insert(
            "reevaluation_queue_s".into(),
            json!(queued.duration_since(t0).as_secs_f64()),
        );
        report.insert(
            "reevaluation_done_s".into(),
            json!(done.duration_since(t0).as_secs_f64()),
        );
        e.shutdown().await.context("shutting down")?;
    }

    if args.json {
        println!("{}", serde_json::to_string_pretty(&serde_json::Value::Object(report))?);
    } else {
        for (k, v) in &report {
            match v.as_f64() {
                Some(f) if v.is_f64() => println!("{k:28} {f:.2}"),
                _ => println!("{k:28} {v}"),
            }
        }
    }
    Ok(())
}
