//! The scheduler: every tick, the leader reads the artifacts whose timer has come and
//! - dispatches the first attempt of a due job, within the dispatch window, shards taken in
//!   turn (fairness);
//! - dispatches the next attempt of a job whose deadline or retry time has come;
//! - expires a job whose last attempt's deadline passed (SCAN_FAILED, then backoff).
//!
//! A dispatch is proposed to Raft first; only the dispatches the state machine accepted are
//! published. A publish that fails is retried on the next ticks with the same message id until
//! the attempt's deadline, after which the next attempt takes over: a queue outage delays scans
//! and never loses one.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use argus_proto::internal::v1::command::Kind as Cmd;
use argus_proto::internal::v1::command_result::Kind as Res;
use argus_proto::internal::v1::{
    ArtifactSchedule, Command, Dispatch, DispatchJobs, ExpireJobs, ExpiredJob, JobKind, ScanJob,
};
use bytes::Bytes;
use futures::StreamExt;
use prost::Message;
use prost_types::Timestamp;
use tokio::sync::watch;
use tracing::{debug, info, warn, Instrument};

use argus_worker::queue::Queue;

use crate::config::PipelineConfig;
use crate::error::{Error, Result};
use crate::node::Node;

/// Most dispatches in one command.
const DISPATCH_CHUNK: usize = 1000;
/// Publishes in flight at once.
const PUBLISH_CONCURRENCY: usize = 256;
/// Dispatch commands proposed at once.
const CHUNKS_IN_FLIGHT: usize = 4;

/// The NATS message id of one attempt: a retried publish of the same attempt is stored once,
/// while the next attempt is a new message.
pub fn message_id(job_id: &str, attempt: u32) -> String {
    format!("{job_id}/{attempt}")
}

pub async fn run(node: Arc<Node>, queue: Queue, config: PipelineConfig, mut stopped: watch::Receiver<bool>) {
    let mut scheduler = Scheduler {
        node,
        queue,
        config,
        unpublished: HashMap::new(),
        adopted: false,
    };
    let mut tick = tokio::time::interval(Duration::from_millis(scheduler.config.tick_ms.max(10)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = super::stopping(&mut stopped) => return,
        }
        if !scheduler.node.is_leader() {
            scheduler.unpublished.clear();
            scheduler.adopted = false;
            continue;
        }
        if !scheduler.adopted {
            match scheduler.adopt_in_flight().await {
                Ok(()) => scheduler.adopted = true,
                Err(e) => {
                    warn!(error = %e, "taking over the jobs in flight failed; retrying");
                    continue;
                }
            }
        }
        if let Err(e) = scheduler.round().await {
            warn!(error = %e, "scheduler round failed");
        }
    }
}

struct Scheduler {
    node: Arc<Node>,
    queue: Queue,
    config: PipelineConfig,
    /// Jobs recorded in Raft whose publish has not succeeded yet, by artifact.
    unpublished: HashMap<String, ScanJob>,
    /// Whether this leadership has taken over the jobs in flight (`adopt_in_flight`).
    adopted: bool,
}

impl Scheduler {
    async fn round(&mut self) -> Result<()> {
        self.republish().await;
        let now: Timestamp = SystemTime::now().into();
        let counters = self.node.state.pipeline_counters()?;
        let mut room = self.config.dispatch_window.saturating_sub(counters.in_flight) as usize;
        let per_shard = (self.config.dispatch_window as usize / crate::state::SHARDS as usize).clamp(16, 4096);
        let due = self.node.state.due_artifacts(&now, per_shard)?;
        if due.is_empty() {
            return Ok(());
        }
        let mut dispatches = Vec::new();
        let mut expired = Vec::new();
        let mut records: HashMap<String, ArtifactSchedule> = HashMap::new();
        for r in due {
            match &r.job {
                None if room > 0 => {
                    room -= 1;
                    dispatches.push(self.dispatch(&r, format!("{}#{}", r.artifact_digest, r.generation + 1), 1, &now));
                }
                None => {}
                Some(job) if job.attempt < job.max_attempts => {
                    dispatches.push(self.dispatch(&r, job.job_id.clone(), job.attempt + 1, &now));
                }
                Some(job) if job.retry_at.is_none() => {
                    self.unpublished.remove(&r.artifact_digest);
                    expired.push(ExpiredJob {
                        artifact_digest: r.artifact_digest.clone(),
                        job_id: job.job_id.clone(),
                        attempt: job.attempt,
                        error: format!(
                            "no result within {} s on attempt {} of {}{}",
                            self.config.job_timeout_secs,
                            job.attempt,
                            job.max_attempts,
                            if job.last_error.is_empty() {
                                String::new()
                            } else {
                                format!(" (last error: {})", job.last_error)
                            }
                        ),
                    });
                }
                // A failure on the last attempt is booked by ingestion, not here.
                Some(_) => {}
            }
            records.insert(r.artifact_digest.clone(), r);
        }
        for chunk in expired.chunks(DISPATCH_CHUNK) {
            let command = Cmd::ExpireJobs(ExpireJobs { jobs: chunk.to_vec() });
            if let Res::ExpireJobs(r) = self.write(command).await? {
                if r.expired > 0 {
                    info!(expired = r.expired, "jobs expired after their last attempt");
                }
            }
        }
        // Chunks are proposed concurrently (group commit puts them in few log entries) and each
        // is published as soon as it is committed.
        let chunks: Vec<Vec<Dispatch>> = dispatches.chunks(DISPATCH_CHUNK).map(<[Dispatch]>::to_vec).collect();
        let outcomes: Vec<Result<Vec<ScanJob>>> = {
            let (this, records) = (&*self, &records);
            let futures: Vec<_> = chunks
                .into_iter()
                .map(|chunk| this.dispatch_chunk(records, chunk, now))
                .collect();
            futures::stream::iter(futures)
                .buffer_unordered(CHUNKS_IN_FLIGHT)
                .collect()
                .await
        };
        for outcome in outcomes {
            for job in outcome? {
                self.unpublished.insert(job.artifact_digest.clone(), job);
            }
        }
        Ok(())
    }

    /// Records one chunk of dispatches and publishes what the state machine accepted; returns
    /// the jobs whose publish failed.
    async fn dispatch_chunk(
        &self,
        records: &HashMap<String, ArtifactSchedule>,
        chunk: Vec<Dispatch>,
        now: Timestamp,
    ) -> Result<Vec<ScanJob>> {
        let command = Cmd::DispatchJobs(DispatchJobs { jobs: chunk.clone() });
        let Res::DispatchJobs(resp) = self.write(command).await? else {
            return Err(Error::Raft("dispatch answered with another result".into()));
        };
        let by_digest: HashMap<&str, &Dispatch> = chunk.iter().map(|d| (d.artifact_digest.as_str(), d)).collect();
        let mut jobs = Vec::with_capacity(resp.dispatched.len());
        for digest in &resp.dispatched {
            let (Some(d), Some(r)) = (by_digest.get(digest.as_str()), records.get(digest)) else {
                continue;
            };
            jobs.push(self.job(r, d, &now)?);
        }
        debug!(dispatched = jobs.len(), skipped = resp.skipped, "jobs recorded");
        Ok(publish(&self.queue, jobs).await)
    }

    fn dispatch(&self, r: &ArtifactSchedule, job_id: String, attempt: u32, now: &Timestamp) -> Dispatch {
        Dispatch {
            artifact_digest: r.artifact_digest.clone(),
            job_id,
            attempt,
            deadline: Some(Timestamp {
                seconds: now.seconds + self.config.job_timeout_secs as i64,
                nanos: now.nanos,
            }),
            max_attempts: self.config.max_attempts.max(1),
            rescan_after_secs: self.config.rescan_after(r.resource_type),
            retry_base_ms: self.config.retry_base_ms,
        }
    }

    /// The message a worker gets for a recorded dispatch.
    fn job(&self, r: &ArtifactSchedule, d: &Dispatch, now: &Timestamp) -> Result<ScanJob> {
        // The kind and DB floor are the ones the state machine recorded: for a first attempt
        // they come from what was due, for a retry from the job in flight.
        let (kind, min_db_version, requested_at) = match &r.job {
            Some(j) => (j.kind, j.min_db_version.clone(), j.requested_at),
            None => (r.due_kind, r.due_min_db_version.clone(), r.requested_at),
        };
        let inventory = if kind == JobKind::Rematch as i32 {
            self.node
                .state
                .artifact_inventory(&r.artifact_digest)?
                .unwrap_or_default()
        } else {
            Vec::new()
        };
        // Nothing stored to re-match: fetch and scan it instead.
        let kind = if kind == JobKind::Rematch as i32 && inventory.is_empty() {
            JobKind::Scan as i32
        } else {
            kind
        };
        Ok(ScanJob {
            job_id: d.job_id.clone(),
            artifact_digest: r.artifact_digest.clone(),
            kind,
            attempt: d.attempt,
            deadline: d.deadline,
            locator: r.locator.clone(),
            resource_type: r.resource_type,
            inventory,
            min_db_version,
            shard: r.shard.clone(),
            requested_at: requested_at.or(Some(*now)),
        })
    }

    async fn publish(&mut self, jobs: Vec<ScanJob>) {
        for job in publish(&self.queue, jobs).await {
            self.unpublished.insert(job.artifact_digest.clone(), job);
        }
    }

    /// A new leader cannot know which jobs its predecessor recorded but had not yet published
    /// (it may have died between the commit and the publish, or NATS may have been down): it
    /// publishes every job in flight again under the same message id. JetStream drops the
    /// copies it still holds within its duplicate window; a job consumed long ago and published
    /// again is scanned twice, and its second result changes nothing. Without this, such a job
    /// would wait for its deadline (`job_timeout_secs`) before its next attempt.
    async fn adopt_in_flight(&mut self) -> Result<()> {
        self.node.leader_caught_up().await?;
        let now: Timestamp = SystemTime::now().into();
        // Deadlines were set by the previous leader's clock: look a little further than one
        // timeout ahead.
        let horizon = Timestamp {
            seconds: now.seconds + 2 * self.config.job_timeout_secs as i64 + 60,
            nanos: now.nanos,
        };
        let records = self.node.state.in_flight_jobs(&now, &horizon)?;
        for r in &records {
            let Some(j) = &r.job else { continue };
            let d = Dispatch {
                artifact_digest: r.artifact_digest.clone(),
                job_id: j.job_id.clone(),
                attempt: j.attempt,
                deadline: j.deadline,
                ..Default::default()
            };
            let job = self.job(r, &d, &now)?;
            self.unpublished.insert(job.artifact_digest.clone(), job);
        }
        if !records.is_empty() {
            info!(jobs = records.len(), "new leader publishes the jobs in flight again");
        }
        Ok(())
    }

    /// Publishes again what failed to publish, while the attempt is still the current one.
    async fn republish(&mut self) {
        if self.unpublished.is_empty() {
            return;
        }
        let now: Timestamp = SystemTime::now().into();
        let pending: Vec<ScanJob> = std::mem::take(&mut self.unpublished).into_values().collect();
        let mut current = Vec::new();
        for job in pending {
            let live = match self.node.state.artifact_schedule(&job.artifact_digest) {
                Ok(r) => r
                    .and_then(|r| r.job)
                    .is_some_and(|j| j.job_id == job.job_id && j.attempt == job.attempt),
                Err(e) => {
                    // Unknown for now: keep it for the next round rather than drop it.
                    warn!(job_id = %job.job_id, error = %e, "reading the schedule for a republish");
                    true
                }
            };
            let before_deadline = job
                .deadline
                .is_some_and(|d| (d.seconds, d.nanos) > (now.seconds, now.nanos));
            if live && before_deadline {
                current.push(job);
            }
        }
        self.publish(current).await;
    }

    async fn write(&self, kind: Cmd) -> Result<Res> {
        let result = self.node.write(Command { kind: Some(kind) }).await?;
        match result.kind {
            Some(Res::Error(e)) => Err(Error::FailedPrecondition(format!("{}: {}", e.code, e.message))),
            Some(r) => Ok(r),
            None => Err(Error::Raft("empty command result".into())),
        }
    }
}

/// Publishes `jobs` concurrently; returns those whose publish failed.
async fn publish(queue: &Queue, jobs: Vec<ScanJob>) -> Vec<ScanJob> {
    futures::stream::iter(jobs)
        .map(|job| async move {
            // One scan is one trace, and it starts here: the worker and ingestion continue it
            // from the context the message headers carry.
            let span = tracing::info_span!(
                parent: None,
                "scan.dispatch",
                otel.kind = "producer",
                job.id = %job.job_id,
                job.attempt = job.attempt,
                artifact.digest = %job.artifact_digest,
            );
            let headers = argus_worker::telemetry::inject(&span);
            let payload = Bytes::from(job.encode_to_vec());
            let id = message_id(&job.job_id, job.attempt);
            let published = queue
                .publish_job_with(&job.shard, &id, payload, &headers)
                .instrument(span)
                .await;
            match published {
                Ok(()) => None,
                Err(e) => {
                    warn!(job_id = %job.job_id, attempt = job.attempt, error = %e, "job publish failed; retrying");
                    Some(job)
                }
            }
        })
        .buffer_unordered(PUBLISH_CONCURRENCY)
        .filter_map(|f| async move { f })
        .collect()
        .await
}
