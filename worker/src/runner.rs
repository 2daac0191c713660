//! The worker loop: pull scan jobs, scan or re-match, publish the result, and only then ack the
//! job. A worker holds no state of its own: whatever it has not acked is delivered again,
//! to it or another worker, and a result published twice for the same attempt is stored once.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use argus_proto::internal::v1::{JobKind, ScanJob};
use argus_proto::v1::{ObservedVulnerability, ScanOutcome, ScanResult};
use argus_proto::Inventory;
use prost::Message;
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;
use tracing::{debug, info, warn, Instrument};

use crate::artifact::reference::Reference;
use crate::artifact::NoProgress;
use crate::cloud::{CloudAccess, CloudConfig, LambdaCode};
use crate::queue::{self, Delivery, Queue};
use crate::telemetry::{self, worker_metrics};
use crate::vulndb::{DbSlot, VulnDb};
use crate::{matching, observe, scan_target, synthetic, Error, ScanOptions, TargetKind};

/// How long one fetch waits for a job before the loop looks around again.
const FETCH_WAIT: Duration = Duration::from_secs(2);
/// The longest pause after failed fetches (the queue unreachable).
const MAX_FETCH_BACKOFF: Duration = Duration::from_secs(5);

#[derive(Clone, Debug)]
pub struct RunnerConfig {
    /// Written into every result as `scanned_by`.
    pub name: String,
    /// Jobs run at once.
    pub concurrency: usize,
    /// How often a running job tells the queue it is still being worked on; well below the
    /// queue's ack_wait.
    pub progress_every: Duration,
    /// On shutdown, how long running jobs may still finish before they are handed back.
    pub shutdown_grace: Duration,
    /// Limits, platform and registry credentials for scans. Credentials come from here, never
    /// from a job. The kind is taken from each job's locator.
    pub scan: ScanOptions,
    /// Sleep this long instead of fetching the artifact, then match the synthetic inventory its
    /// digest determines (`synthetic::inventory`) against the current database: the control
    /// plane's load test, with real findings. REMATCH jobs are re-matched as always.
    pub simulate: Option<Duration>,
    /// Packages in a simulated scan's synthetic inventory.
    pub simulate_packages: usize,
    /// How long a job handed back for a reason that takes time to clear (its result could not
    /// be published, this worker's vulnerability DB is older than the job needs) waits before
    /// it is delivered again.
    pub retry_delay: Duration,
    /// Fault injection for tests: wait this long before each real scan (heartbeats continue),
    /// so that a worker can be killed mid-scan.
    pub scan_delay: Option<Duration>,
    /// Access to artifacts in AWS (ECR images, Lambda packages) with the worker's credentials.
    pub cloud: CloudAccess,
}

impl RunnerConfig {
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            concurrency: 2,
            progress_every: Duration::from_secs(10),
            shutdown_grace: Duration::from_secs(20),
            scan: ScanOptions::default(),
            simulate: None,
            simulate_packages: synthetic::DEFAULT_PACKAGES,
            retry_delay: Duration::from_secs(5),
            scan_delay: None,
            cloud: CloudAccess::new(CloudConfig::default()),
        }
    }
}

/// What one run of the loop did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RunStats {
    /// Jobs whose SUCCEEDED result was published and which were acked.
    pub succeeded: u64,
    /// Jobs whose failure (FAILED, UNSUPPORTED, ACCESS_DENIED) was published and which were
    /// acked: the scheduler decides about retries.
    pub failed: u64,
    /// Jobs handed back to the queue unfinished.
    pub naked: u64,
    /// Messages that were not jobs (undecodable): acked and dropped, never retried.
    pub discarded: u64,
}

enum Outcome {
    Published(ScanOutcome),
    Naked,
    Discarded,
}

impl RunStats {
    fn record(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Published(ScanOutcome::Succeeded) => self.succeeded += 1,
            Outcome::Published(_) => self.failed += 1,
            Outcome::Naked => self.naked += 1,
            Outcome::Discarded => self.discarded += 1,
        }
    }
}

struct Ctx {
    queue: Queue,
    db: DbSlot,
    cfg: RunnerConfig,
    gauge: Arc<telemetry::WorkerGauge>,
}

/// Runs jobs from `queue` until `shutdown` completes, then stops fetching, gives running jobs
/// `shutdown_grace` to finish and hands the rest back. Fails only when the jobs consumer
/// cannot be set up within the queue's `retry_for`; later queue errors are logged and retried.
pub async fn run(
    queue: Queue,
    db: DbSlot,
    cfg: RunnerConfig,
    shutdown: impl Future<Output = ()>,
) -> queue::Result<RunStats> {
    let consumer = queue.jobs().await?;
    let gauge = telemetry::register_worker(&cfg.name, cfg.concurrency.max(1), db.clone());
    let slots = Arc::new(Semaphore::new(cfg.concurrency.max(1)));
    let grace = cfg.shutdown_grace;
    let ctx = Arc::new(Ctx { queue, db, cfg, gauge });
    let (stop, stopped) = watch::channel(false);
    let mut tasks: JoinSet<Outcome> = JoinSet::new();
    let mut stats = RunStats::default();
    let mut backoff = Duration::from_millis(100);
    tokio::pin!(shutdown);
    info!(name = %ctx.cfg.name, concurrency = ctx.cfg.concurrency, "worker started");
    loop {
        while let Some(done) = tasks.try_join_next() {
            record(&mut stats, done);
        }
        let first = tokio::select! {
            biased;
            _ = &mut shutdown => break,
            permit = slots.clone().acquire_owned() => permit.expect("the semaphore is never closed"),
        };
        let mut permits = vec![first];
        while let Ok(p) = slots.clone().try_acquire_owned() {
            permits.push(p);
        }
        let fetched = tokio::select! {
            biased;
            _ = &mut shutdown => break,
            r = consumer.fetch(permits.len(), FETCH_WAIT) => r,
        };
        match fetched {
            Ok(deliveries) => {
                backoff = Duration::from_millis(100);
                for (delivery, permit) in deliveries.into_iter().zip(permits) {
                    let ctx = ctx.clone();
                    let stopped = stopped.clone();
                    tasks.spawn(async move {
                        let outcome = job(&ctx, delivery, stopped).await;
                        drop(permit);
                        outcome
                    });
                }
            }
            Err(e) => {
                warn!(error = %e, "fetching jobs failed");
                tokio::select! {
                    _ = &mut shutdown => break,
                    _ = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(MAX_FETCH_BACKOFF);
            }
        }
    }
    info!(running = tasks.len(), "worker stopping");
    let grace_end = tokio::time::Instant::now() + grace;
    loop {
        tokio::select! {
            done = tasks.join_next() => match done {
                Some(done) => record(&mut stats, done),
                None => break,
            },
            _ = tokio::time::sleep_until(grace_end) => {
                let _ = stop.send(true);
                break;
            }
        }
    }
    while let Some(done) = tasks.join_next().await {
        record(&mut stats, done);
    }
    info!(?stats, "worker stopped");
    Ok(stats)
}

fn record(stats: &mut RunStats, done: Result<Outcome, tokio::task::JoinError>) {
    match done {
        Ok(outcome) => stats.record(outcome),
        // The delivery went down with the task unsettled: the queue delivers it again.
        Err(e) => warn!(error = %e, "job task failed"),
    }
}

/// One delivery: the work with progress heartbeats beside it, cut short (and handed back) when
/// the shutdown grace runs out.
async fn job(ctx: &Ctx, delivery: Delivery, mut stopped: watch::Receiver<bool>) -> Outcome {
    let heartbeat = async {
        let mut every = tokio::time::interval(ctx.cfg.progress_every);
        every.tick().await;
        loop {
            every.tick().await;
            if let Err(e) = delivery.progress().await {
                warn!(msg_id = %delivery.msg_id, error = %e, "progress heartbeat failed");
            }
        }
    };
    let stop = async {
        if stopped.wait_for(|s| *s).await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    let busy = Busy::start(&ctx.gauge);
    if delivery.delivered > 1 {
        let name = opentelemetry::KeyValue::new("worker.name", ctx.cfg.name.clone());
        worker_metrics().redelivered.add(1, &[name]);
    }
    // One scan is one trace: this span continues the scheduler's dispatch span.
    let span = tracing::info_span!(
        "scan.job",
        otel.kind = "consumer",
        job.id = tracing::field::Empty,
        job.attempt = tracing::field::Empty,
        messaging.delivery = delivery.delivered,
        worker.name = %ctx.cfg.name,
    );
    telemetry::adopt(&span, &delivery.headers);
    let outcome = tokio::select! {
        biased;
        outcome = handle(ctx, &delivery, &span).instrument(span.clone()) => outcome,
        _ = stop => {
            // Whatever ran in the blocking pool finishes unobserved; its result is never sent.
            nak(&delivery, None).await;
            Outcome::Naked
        }
        _ = heartbeat => unreachable!("the heartbeat never ends"),
    };
    drop(busy);
    outcome
}

/// Counts a running job in the worker's `busy` gauge for as long as it lives.
struct Busy<'a>(&'a telemetry::WorkerGauge);

impl<'a> Busy<'a> {
    fn start(gauge: &'a telemetry::WorkerGauge) -> Self {
        gauge.busy.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Busy(gauge)
    }
}

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        self.0.busy.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

async fn nak(delivery: &Delivery, delay: Option<Duration>) {
    if let Err(e) = delivery.nak(delay).await {
        // Unsettled, it is delivered again after ack_wait anyway.
        warn!(msg_id = %delivery.msg_id, error = %e, "nak failed");
    }
}

/// What scanning or matching produced.
struct Scanned {
    outcome: ScanOutcome,
    error: String,
    vulnerabilities: Vec<ObservedVulnerability>,
    inventory: Vec<u8>,
}

impl Scanned {
    fn failed(outcome: ScanOutcome, error: impl Into<String>) -> Self {
        Scanned {
            outcome,
            error: error.into(),
            vulnerabilities: Vec::new(),
            inventory: Vec::new(),
        }
    }
}

async fn handle(ctx: &Ctx, delivery: &Delivery, span: &tracing::Span) -> Outcome {
    let job = match ScanJob::decode(delivery.payload.clone()) {
        Ok(job) => job,
        Err(e) => {
            warn!(msg_id = %delivery.msg_id, subject = %delivery.subject, error = %e, "not a scan job; dropped");
            if let Err(e) = delivery.ack().await {
                warn!(msg_id = %delivery.msg_id, error = %e, "ack of a dropped message failed");
            }
            return Outcome::Discarded;
        }
    };
    // One database for the whole job: a switch to a newer one applies from the next job.
    let db = ctx.db.get();
    let db_version = db.meta().version.clone();
    let kind = JobKind::try_from(job.kind).unwrap_or(JobKind::Unspecified);
    if kind == JobKind::Rematch && db_version.as_str() < job.min_db_version.as_str() {
        // Versions start with their UTC build time, so they sort by age. Another worker may
        // already have the newer database; this one gets it soon.
        debug!(job_id = %job.job_id, %db_version, min = %job.min_db_version, "database older than the job needs");
        nak(delivery, Some(ctx.cfg.retry_delay)).await;
        return Outcome::Naked;
    }
    span.record("job.id", job.job_id.as_str());
    span.record("job.attempt", job.attempt);
    debug!(job_id = %job.job_id, attempt = job.attempt, delivered = delivery.delivered, "job started");
    let started = std::time::Instant::now();
    let scanned = match (ctx.cfg.simulate, kind) {
        (Some(pause), JobKind::Scan) => {
            tokio::time::sleep(pause).await;
            simulated(&job, ctx.cfg.simulate_packages, db).await
        }
        (None, JobKind::Scan) => {
            if let Some(delay) = ctx.cfg.scan_delay {
                tokio::time::sleep(delay).await;
            }
            scan(&ctx.cfg.scan, &ctx.cfg.cloud, &job, db).await
        }
        (_, JobKind::Rematch) => rematch(job.inventory.clone(), db).await,
        (_, other) => Scanned::failed(
            ScanOutcome::Unsupported,
            format!("job kind {} is not supported by this worker", other.as_str_name()),
        ),
    };
    let outcome = scanned.outcome;
    let attributes = [
        opentelemetry::KeyValue::new("worker.name", ctx.cfg.name.clone()),
        opentelemetry::KeyValue::new("job.kind", kind_name(kind)),
        opentelemetry::KeyValue::new("scan.outcome", outcome_name(outcome)),
    ];
    worker_metrics()
        .scan_duration
        .record(started.elapsed().as_secs_f64(), &attributes);
    if outcome != ScanOutcome::Succeeded {
        info!(job_id = %job.job_id, attempt = job.attempt, outcome = outcome.as_str_name(), error = %scanned.error, "scan failed");
    }
    let result = ScanResult {
        artifact_digest: job.artifact_digest.clone(),
        job_id: job.job_id.clone(),
        scanned_at: Some(prost_types::Timestamp::from(SystemTime::now())),
        db_version,
        outcome: outcome as i32,
        error: scanned.error,
        vulnerabilities: scanned.vulnerabilities,
        attempt: job.attempt,
        inventory: scanned.inventory,
        scanned_by: ctx.cfg.name.clone(),
        requested_at: job.requested_at,
    };
    let msg_id = format!("{}/{}", job.job_id, job.attempt);
    let headers = telemetry::inject(span);
    if let Err(e) = ctx
        .queue
        .publish_result_with(&msg_id, result.encode_to_vec().into(), &headers)
        .await
    {
        warn!(job_id = %job.job_id, error = %e, "publishing the result failed; the job goes back to the queue");
        nak(delivery, Some(ctx.cfg.retry_delay)).await;
        return Outcome::Naked;
    }
    if let Err(e) = delivery.ack().await {
        // The job is delivered again; its result, published again under the same id, is a
        // duplicate the queue drops and ingestion ignores.
        warn!(job_id = %job.job_id, error = %e, "ack after publishing the result failed");
    }
    worker_metrics().jobs.add(1, &attributes);
    debug!(job_id = %job.job_id, outcome = outcome.as_str_name(), "job done");
    Outcome::Published(outcome)
}

/// `SCAN`, `REMATCH`: the metric attribute values of job kinds.
fn kind_name(kind: JobKind) -> &'static str {
    kind.as_str_name().trim_start_matches("JOB_KIND_")
}

/// `SUCCEEDED`, `FAILED`, ...: the metric attribute values of outcomes.
fn outcome_name(outcome: ScanOutcome) -> &'static str {
    outcome.as_str_name().trim_start_matches("SCAN_OUTCOME_")
}

/// `<kind>:<target>` with a kind as [`TargetKind`] displays it; anything else is an image
/// reference.
pub fn parse_locator(locator: &str) -> (TargetKind, &str) {
    const KINDS: [TargetKind; 6] = [
        TargetKind::Dir,
        TargetKind::OciLayout,
        TargetKind::DockerArchive,
        TargetKind::Zip,
        TargetKind::Sbom,
        TargetKind::Registry,
    ];
    for kind in KINDS {
        let name = kind.to_string();
        if let Some(target) = locator.strip_prefix(name.as_str()).and_then(|r| r.strip_prefix(':')) {
            return (kind, target);
        }
    }
    (TargetKind::Registry, locator)
}

/// How a scan error reads as an outcome, where the error tells.
pub fn outcome_of(err: &Error) -> ScanOutcome {
    match err {
        Error::Unsupported(_) | Error::UnknownKind(_) => ScanOutcome::Unsupported,
        Error::Cloud { denied: true, .. } => ScanOutcome::AccessDenied,
        Error::Io { source, .. } if source.kind() == std::io::ErrorKind::PermissionDenied => ScanOutcome::AccessDenied,
        Error::Registry { message, .. }
            if message.contains("access denied")
                || message.contains("unauthorized")
                || message.contains("credentials") =>
        {
            ScanOutcome::AccessDenied
        }
        _ => ScanOutcome::Failed,
    }
}

fn matched(db: &VulnDb, inv: &Inventory) -> Scanned {
    let _span = tracing::info_span!("scan.match", packages = inv.packages.len()).entered();
    match matching::match_inventory(db, inv) {
        Ok(report) => Scanned {
            outcome: ScanOutcome::Succeeded,
            error: String::new(),
            vulnerabilities: report.matches.iter().map(observe::observed).collect(),
            inventory: observe::encode_inventory(inv),
        },
        Err(e) => Scanned::failed(ScanOutcome::Failed, format!("matching: {e}")),
    }
}

async fn scan(opts: &ScanOptions, cloud: &CloudAccess, job: &ScanJob, db: Arc<VulnDb>) -> Scanned {
    let locator = job.locator.clone();
    if locator.is_empty() {
        return Scanned::failed(ScanOutcome::Failed, "the job names no artifact locator");
    }
    if let Some(arn) = locator.strip_prefix("lambda:") {
        return lambda(opts, cloud, arn, &job.artifact_digest, db).await;
    }
    scan_locator(opts, cloud, locator, db).await
}

async fn scan_locator(opts: &ScanOptions, cloud: &CloudAccess, locator: String, db: Arc<VulnDb>) -> Scanned {
    let mut opts = opts.clone();
    let (kind, target) = parse_locator(&locator);
    if kind == TargetKind::Registry {
        // An ECR registry is entered with a login from its account; others as configured.
        if let Ok(reference) = Reference::parse(target) {
            match cloud.registry_options(&reference.registry, &opts.registry).await {
                Ok(o) => opts.registry = o,
                Err(e) => return Scanned::failed(outcome_of(&e), e.to_string()),
            }
        }
    }
    let span = tracing::Span::current();
    let work = tokio::task::spawn_blocking(move || {
        let _job = span.enter();
        let (kind, target) = parse_locator(&locator);
        opts.kind = Some(kind);
        // A directory walk reports an unreadable root as a warning and an empty inventory; for
        // a scheduled scan that would be a success that closes every finding of the artifact.
        if kind != TargetKind::Registry {
            if let Err(e) = std::fs::metadata(target) {
                let e = Error::io(target, e);
                return Scanned::failed(outcome_of(&e), e.to_string());
            }
        }
        match scan_target(target, &opts, &NoProgress) {
            Ok(inv) => matched(&db, &inv),
            Err(e) => Scanned::failed(outcome_of(&e), e.to_string()),
        }
    });
    work.await
        .unwrap_or_else(|e| Scanned::failed(ScanOutcome::Failed, format!("the scan crashed: {e}")))
}

/// A Lambda function as it is now: its package and layers downloaded and read together, or
/// its container image pulled. Refused when the function no longer runs the job's artifact,
/// so that findings never land on an artifact other than the one read.
async fn lambda(opts: &ScanOptions, cloud: &CloudAccess, arn: &str, digest: &str, db: Arc<VulnDb>) -> Scanned {
    let package = match cloud.lambda_package(arn).await {
        Ok(p) => p,
        Err(e) => return Scanned::failed(outcome_of(&e), e.to_string()),
    };
    if !digest.is_empty() && package.digest.as_deref() != Some(digest) {
        return Scanned::failed(
            ScanOutcome::Failed,
            format!(
                "{arn} runs {} now, not this job's artifact {digest}; the next discovery cycle schedules the new one",
                package.digest.as_deref().unwrap_or("a package without a CodeSha256")
            ),
        );
    }
    let (url, code_sha256) = match package.code {
        LambdaCode::Image { reference } => {
            return scan_locator(opts, cloud, format!("registry:{reference}"), db).await;
        }
        LambdaCode::Zip { url, code_sha256 } => (url, code_sha256),
    };
    let (opts, cloud, arn, layers) = (opts.clone(), cloud.clone(), arn.to_string(), package.layers);
    let span = tracing::Span::current();
    let work = tokio::task::spawn_blocking(move || {
        let _job = span.enter();
        let read = || -> crate::Result<Inventory> {
            let dir = tempfile::tempdir().map_err(|e| Error::io(std::env::temp_dir(), e))?;
            let code = dir.path().join("function.zip");
            cloud.download(&url, &code, &code_sha256)?;
            let mut zips = Vec::with_capacity(layers.len());
            for (i, layer) in layers.iter().enumerate() {
                let path = dir.path().join(format!("layer-{i}.zip"));
                cloud.download(&layer.url, &path, &layer.code_sha256)?;
                zips.push((layer.arn.clone(), path));
            }
            crate::scan::scan_lambda(&format!("lambda:{arn}"), &code, &zips, &opts)
        };
        match read() {
            Ok(inv) => matched(&db, &inv),
            Err(e) => Scanned::failed(outcome_of(&e), e.to_string()),
        }
    });
    work.await
        .unwrap_or_else(|e| Scanned::failed(ScanOutcome::Failed, format!("the scan crashed: {e}")))
}

/// A simulated scan: the synthetic inventory of the job's digest, matched for real.
async fn simulated(job: &ScanJob, packages: usize, db: Arc<VulnDb>) -> Scanned {
    let span = tracing::Span::current();
    let mut inv = synthetic::inventory(&job.artifact_digest, packages);
    // Named by what was (not) fetched, like a real scan's inventory.
    inv.target = job.locator.clone();
    let work = tokio::task::spawn_blocking(move || {
        let _job = span.enter();
        matched(&db, &inv)
    });
    work.await
        .unwrap_or_else(|e| Scanned::failed(ScanOutcome::Failed, format!("the simulated scan crashed: {e}")))
}

async fn rematch(inventory: Vec<u8>, db: Arc<VulnDb>) -> Scanned {
    let span = tracing::Span::current();
    let work = tokio::task::spawn_blocking(move || {
        let _job = span.enter();
        match observe::decode_inventory(&inventory) {
            Ok(inv) => matched(&db, &inv),
            Err(e) => Scanned::failed(ScanOutcome::Failed, e),
        }
    });
    work.await
        .unwrap_or_else(|e| Scanned::failed(ScanOutcome::Failed, format!("the re-match crashed: {e}")))
}

#[cfg(test)]
mod tests;
