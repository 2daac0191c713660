//! `argus worker`: a stateless scan worker. Pulls jobs from NATS JetStream, scans or re-matches,
//! publishes results; SIGTERM or SIGINT stops it gracefully (running jobs finish or go back).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use argus_worker::artifact::registry::RegistryOptions;
use argus_worker::queue::Queue;
use argus_worker::runner::{self, RunnerConfig};
use argus_worker::vulndb::{distribute, DbSlot, VulnDb};
use argus_worker::ScanOptions;
use clap::Args;

use argus_coordinator::config::Config;
use argus_coordinator::node::shutdown_signal;

#[derive(Debug, Args)]
pub struct WorkerArgs {
    /// NATS server URL (`nats://host:4222`).
    #[arg(long, env = "ARGUS_NATS")]
    pub nats: String,
    /// Jobs scanned at once (default: the number of CPUs).
    #[arg(long, env = "ARGUS_WORKER_CONCURRENCY")]
    pub concurrency: Option<usize>,
    /// Name recorded in every result (default: `<hostname>-<pid>`).
    #[arg(long, env = "ARGUS_WORKER_NAME")]
    pub name: Option<String>,
    /// A local vulnerability database file. Without it the worker downloads the newest one
    /// published with `argus db publish` (bucket `pipeline.db_bucket`) into `--db-dir` and
    /// switches to newer ones between jobs.
    #[arg(long, env = "ARGUS_DB")]
    pub db: Option<PathBuf>,
    /// Where downloaded databases are kept.
    #[arg(long, env = "ARGUS_DB_DIR", default_value = "argus-worker-db")]
    pub db_dir: PathBuf,
    /// Fault injection for tests: wait this long before each real scan (heartbeats continue),
    /// so that a worker can be killed mid-scan.
    #[arg(long, hide = true)]
    pub scan_delay_ms: Option<u64>,
    /// Do not fetch artifacts: sleep this long per job, then match a synthetic package
    /// inventory derived from the artifact digest against the database (load tests of the
    /// control plane with real findings; re-matches stay real).
    #[arg(long, env = "ARGUS_SIMULATE_SCAN_MS")]
    pub simulate_scan_ms: Option<u64>,
    /// Packages in each simulated scan's synthetic inventory (with `--simulate-scan-ms`).
    #[arg(long, env = "ARGUS_SIMULATE_PACKAGES", default_value_t = argus_worker::synthetic::DEFAULT_PACKAGES)]
    pub simulate_packages: usize,
    /// After SIGTERM, how long running jobs may finish before they are handed back.
    #[arg(long, env = "ARGUS_WORKER_SHUTDOWN_GRACE_SECS", default_value_t = 20)]
    pub shutdown_grace_secs: u64,
    /// Platform to pick from multi-platform images, as os/arch[/variant].
    #[arg(long, env = "ARGUS_PLATFORM")]
    pub platform: Option<String>,
    /// Talk plain HTTP to registries (only for registries on loopback without TLS).
    #[arg(long, env = "ARGUS_REGISTRY_PLAIN_HTTP")]
    pub plain_http: bool,
    /// Registry username. Credentials are the worker's own; jobs never carry any.
    #[arg(long, env = "ARGUS_REGISTRY_USERNAME")]
    pub registry_username: Option<String>,
    /// Registry password or access token.
    #[arg(long, env = "ARGUS_REGISTRY_PASSWORD", hide_env_values = true)]
    pub registry_password: Option<String>,
    /// A Bearer token sent to registries as is.
    #[arg(long, env = "ARGUS_REGISTRY_TOKEN", hide_env_values = true)]
    pub registry_token: Option<String>,
    /// Registry request timeout in seconds.
    #[arg(long, default_value_t = 60)]
    pub registry_timeout: u64,
}

pub fn default_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "worker".into());
    format!("{host}-{}", std::process::id())
}

/// The database this worker matches with: the local file given, or the newest published one,
/// followed in the background until `stop` (returned task).
async fn open_db(
    args: &WorkerArgs,
    config: &Config,
    stop: tokio::sync::watch::Receiver<bool>,
) -> anyhow::Result<(DbSlot, Option<tokio::task::JoinHandle<()>>)> {
    if let Some(path) = &args.db {
        let db =
            VulnDb::open(path).with_context(|| format!("opening the vulnerability database {}", path.display()))?;
        return Ok((DbSlot::new(db), None));
    }
    let js = distribute::connect(&args.nats).await?;
    let bucket = config.pipeline.db_bucket.clone();
    let mut backoff = Duration::from_millis(500);
    let path = loop {
        match distribute::fetch_latest(&js, &bucket, &args.db_dir).await {
            Ok(Some(path)) => break path,
            Ok(None) => tracing::warn!(%bucket, "no vulnerability database published yet (argus db publish); waiting"),
            Err(e) => tracing::warn!(%bucket, error = %e, "fetching the vulnerability database"),
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(30));
    };
    let slot = DbSlot::new(VulnDb::open(&path).with_context(|| format!("opening {}", path.display()))?);
    let (follower, dir) = (slot.clone(), args.db_dir.clone());
    let task = tokio::spawn(async move {
        let mut stop = stop;
        distribute::follow(&js, &bucket, &dir, follower, Duration::from_secs(60), async move {
            let _ = stop.wait_for(|s| *s).await;
        })
        .await
    });
    Ok((slot, Some(task)))
}

pub fn run(args: WorkerArgs, config: &Config) -> anyhow::Result<ExitCode> {
    let concurrency = args
        .concurrency
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
    anyhow::ensure!(concurrency > 0, "--concurrency must be at least 1");
    let queue_config = config.queue.clone();
    let cfg = RunnerConfig {
        name: args.name.clone().unwrap_or_else(default_name),
        concurrency,
        // Three heartbeats per ack_wait: one may be late or lost without a redelivery.
        progress_every: queue_config.ack_wait / 3,
        shutdown_grace: Duration::from_secs(args.shutdown_grace_secs),
        scan: ScanOptions {
            kind: None,
            limits: config.limits.clone(),
            platform: args.platform.clone(),
            registry: RegistryOptions {
                plain_http: args.plain_http,
                username: args.registry_username.clone(),
                password: args.registry_password.clone(),
                bearer_token: args.registry_token.clone(),
                timeout: Some(Duration::from_secs(args.registry_timeout)),
                endpoint: None,
            },
        },
        simulate: args.simulate_scan_ms.map(Duration::from_millis),
        simulate_packages: args.simulate_packages,
        scan_delay: args.scan_delay_ms.map(Duration::from_millis),
        retry_delay: Duration::from_secs(5),
        cloud: argus_worker::cloud::CloudAccess::new(config.artifact_access.clone()),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let stats = runtime.block_on(async {
        let queue = Queue::connect_nats(&args.nats, queue_config)
            .await
            .with_context(|| format!("connecting to NATS at {}", args.nats))?;
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let (db, follower) = open_db(&args, config, stopped).await?;
        tracing::info!(db_version = %db.version(), nats = %args.nats, "worker ready");
        let stats = runner::run(queue, db, cfg, shutdown_signal())
            .await
            .context("running the worker");
        let _ = stop.send(true);
        if let Some(f) = follower {
            let _ = f.await;
        }
        stats
    })?;
    // A scan cut short by the shutdown grace may still be reading in the blocking pool; its
    // job is already handed back, so the process need not wait for it.
    runtime.shutdown_timeout(Duration::from_secs(1));
    eprintln!(
        "worker stopped: {} succeeded, {} failed, {} handed back, {} discarded",
        stats.succeeded, stats.failed, stats.naked, stats.discarded
    );
    Ok(ExitCode::SUCCESS)
}
