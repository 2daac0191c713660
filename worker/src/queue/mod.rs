//! The scan-job and scan-result queues: one API over NATS JetStream (the distributed engine) and
//! an in-process queue with the same delivery semantics (the embedded mode).
//!
//! Semantics both implementations keep, and `tests/tests/queue.rs` checks against both:
//! - a publish returns once the message is stored; a message id published again within
//!   [`QueueConfig::duplicate_window`] is stored once;
//! - each stream has one durable consumer (`workers` for jobs, `ingest` for results) that any
//!   number of fetchers share; a message is handed to one fetcher at a time;
//! - a delivered message that is neither acked nor progressed within [`QueueConfig::ack_wait`]
//!   is delivered again, with its delivery count raised; a nak hands it back at once or after a
//!   delay; after [`QueueConfig::max_deliver`] deliveries it is no longer delivered;
//! - an acked message is gone.
//!
//! The queue is transport, not the system of record: a job lost here (NATS restarted with an
//! empty store) is re-published by the scheduler when its deadline passes.

use std::time::Duration;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

pub mod memory;
pub mod nats;

/// The stream holding scan jobs, one subject per fairness shard.
pub const JOBS_STREAM: &str = "ARGUS_JOBS";
/// The stream holding scan results for the coordinators to ingest.
pub const RESULTS_STREAM: &str = "ARGUS_RESULTS";
/// The durable consumer every worker pulls jobs from.
pub const JOBS_CONSUMER: &str = "workers";
/// The durable consumer the coordinator leader pulls results from.
pub const RESULTS_CONSUMER: &str = "ingest";
/// Subjects of [`JOBS_STREAM`]; `argus.jobs.<shard>`.
pub const JOBS_SUBJECTS: &str = "argus.jobs.>";
/// The subject of [`RESULTS_STREAM`].
pub const RESULTS_SUBJECT: &str = "argus.results";

/// Result alias for queue operations.
pub type Result<T, E = QueueError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("invalid shard {0:?}: a shard is one subject token of letters, digits, '-' and '_'")]
    InvalidShard(String),
    #[error("stream {stream} is full ({limit} messages waiting)")]
    Full { stream: &'static str, limit: u64 },
    #[error("invalid queue configuration: {0}")]
    Config(String),
    #[error("nats {op}: {message}")]
    Nats { op: &'static str, message: String },
}

impl QueueError {
    pub(crate) fn nats(op: &'static str, err: impl std::fmt::Display) -> Self {
        QueueError::Nats {
            op,
            message: err.to_string(),
        }
    }
}

/// Delivery settings shared by both implementations (`[queue]` in the configuration file).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QueueConfig {
    /// A delivered message that is neither acked nor progressed within this time is delivered
    /// again. A worker sends progress well within it while a long scan runs.
    #[serde(rename = "ack_wait_ms", with = "millis")]
    pub ack_wait: Duration,
    /// Deliveries of one message before the queue stops delivering it. The scheduler's
    /// deadline publishes the job again as a new attempt, so this only bounds how often one
    /// message can crash workers.
    pub max_deliver: u32,
    /// A message id published again within this window is stored once (a retried publish, two
    /// workers finishing the same job).
    #[serde(rename = "duplicate_window_ms", with = "millis")]
    pub duplicate_window: Duration,
    /// Results waiting for ingestion before publishing another fails: when ingestion stalls,
    /// workers leave their jobs unacked instead of growing the backlog without bound.
    /// 0: unbounded.
    pub max_results: u64,
    /// Deliveries one consumer may have outstanding (unacked); fetches return nothing more
    /// until some are settled.
    pub max_ack_pending: u32,
    /// How long a NATS publish, connecting, or setting up a consumer keeps retrying through an
    /// outage (reconnects, a server that came back with an empty store) before it fails.
    #[serde(rename = "retry_for_ms", with = "millis")]
    pub retry_for: Duration,
}

impl Default for QueueConfig {
    fn default() -> Self {
        Self {
            ack_wait: Duration::from_secs(30),
            max_deliver: 4,
            duplicate_window: Duration::from_secs(120),
            max_results: 1_000_000,
            max_ack_pending: 20_000,
            retry_for: Duration::from_secs(30),
        }
    }
}

impl QueueConfig {
    pub fn validate(&self) -> Result<()> {
        let bad = |m: &str| Err(QueueError::Config(m.to_string()));
        if self.ack_wait < Duration::from_millis(100) {
            return bad("ack_wait_ms must be at least 100");
        }
        if self.max_deliver == 0 {
            return bad("max_deliver must be at least 1");
        }
        if self.duplicate_window < Duration::from_millis(100) {
            return bad("duplicate_window_ms must be at least 100");
        }
        if self.max_ack_pending == 0 {
            return bad("max_ack_pending must be at least 1");
        }
        Ok(())
    }
}

/// `Duration` as whole milliseconds in configuration files.
mod millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_millis() as u64)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_millis)
    }
}

/// The subject a job for `shard` is published under.
pub fn job_subject(shard: &str) -> Result<String> {
    let valid = !shard.is_empty()
        && shard.len() <= 128
        && shard
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !valid {
        return Err(QueueError::InvalidShard(shard.to_string()));
    }
    Ok(format!("argus.jobs.{shard}"))
}

/// Which of the two streams.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Which {
    Jobs,
    Results,
}

impl Which {
    pub(crate) fn stream(self) -> &'static str {
        match self {
            Which::Jobs => JOBS_STREAM,
            Which::Results => RESULTS_STREAM,
        }
    }
    pub(crate) fn consumer(self) -> &'static str {
        match self {
            Which::Jobs => JOBS_CONSUMER,
            Which::Results => RESULTS_CONSUMER,
        }
    }
}

/// A handle on the queues; clones share the connection (or the in-process state).
#[derive(Clone)]
pub enum Queue {
    Memory(memory::MemoryQueue),
    Nats(nats::NatsQueue),
}

impl Queue {
    /// An in-process queue. Nothing survives the process, as nothing survives a NATS server
    /// restarted with an empty store: the scheduler's deadlines cover both.
    pub fn memory(cfg: QueueConfig) -> Queue {
        Queue::Memory(memory::MemoryQueue::new(cfg))
    }

    /// Connects to NATS at `url` and creates the streams when they are missing. A server that is
    /// not up yet is retried for [`QueueConfig::retry_for`].
    pub async fn connect_nats(url: &str, cfg: QueueConfig) -> Result<Queue> {
        Ok(Queue::Nats(nats::NatsQueue::connect(url, cfg).await?))
    }

    pub fn config(&self) -> &QueueConfig {
        match self {
            Queue::Memory(q) => q.config(),
            Queue::Nats(q) => q.config(),
        }
    }

    /// Publishes a job under `argus.jobs.<shard>`; returns once the queue has stored it.
    pub async fn publish_job(&self, shard: &str, msg_id: &str, payload: Bytes) -> Result<()> {
        self.publish_job_with(shard, msg_id, payload, &[]).await
    }

    /// [`Queue::publish_job`] with message headers (the trace context), delivered with it.
    pub async fn publish_job_with(
        &self,
        shard: &str,
        msg_id: &str,
        payload: Bytes,
        headers: &[(String, String)],
    ) -> Result<()> {
        let subject = job_subject(shard)?;
        self.publish(Which::Jobs, subject, msg_id, payload, headers).await
    }

    /// Publishes a result under `argus.results`; returns once the queue has stored it.
    pub async fn publish_result(&self, msg_id: &str, payload: Bytes) -> Result<()> {
        self.publish_result_with(msg_id, payload, &[]).await
    }

    /// [`Queue::publish_result`] with message headers (the trace context), delivered with it.
    pub async fn publish_result_with(&self, msg_id: &str, payload: Bytes, headers: &[(String, String)]) -> Result<()> {
        let subject = RESULTS_SUBJECT.to_string();
        self.publish(Which::Results, subject, msg_id, payload, headers).await
    }

    async fn publish(
        &self,
        which: Which,
        subject: String,
        msg_id: &str,
        payload: Bytes,
        headers: &[(String, String)],
    ) -> Result<()> {
        match self {
            Queue::Memory(q) => q.publish(which, subject, msg_id, payload, headers),
            Queue::Nats(q) => q.publish(which, subject, msg_id, payload, headers).await,
        }
    }

    /// The shared durable consumer of jobs. On NATS, a server that does not answer is retried
    /// for [`QueueConfig::retry_for`].
    pub async fn jobs(&self) -> Result<Consumer> {
        self.consumer(Which::Jobs).await
    }

    /// The durable consumer of results.
    pub async fn results(&self) -> Result<Consumer> {
        self.consumer(Which::Results).await
    }

    async fn consumer(&self, which: Which) -> Result<Consumer> {
        Ok(match self {
            Queue::Memory(q) => Consumer::Memory(q.consumer(which)),
            Queue::Nats(q) => Consumer::Nats(q.consumer(which).await?),
        })
    }

    /// Jobs not yet delivered plus those delivered and not yet acked.
    pub async fn pending_jobs(&self) -> Result<u64> {
        self.jobs_backlog().await.map(|b| b.waiting + b.unacked)
    }

    pub async fn jobs_backlog(&self) -> Result<Backlog> {
        self.backlog(Which::Jobs).await
    }

    pub async fn results_backlog(&self) -> Result<Backlog> {
        self.backlog(Which::Results).await
    }

    async fn backlog(&self, which: Which) -> Result<Backlog> {
        match self {
            Queue::Memory(q) => Ok(q.backlog(which)),
            Queue::Nats(q) => q.backlog(which).await,
        }
    }
}

/// What one stream's consumer holds, for metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Backlog {
    /// Never delivered yet.
    pub waiting: u64,
    /// Delivered at least once and not acked yet: being worked on, or waiting for a
    /// redelivery (ack_wait passed, nak'd).
    pub unacked: u64,
}

/// One durable consumer; clones fetch from the same one.
#[derive(Clone)]
pub enum Consumer {
    Memory(memory::MemoryConsumer),
    Nats(nats::NatsConsumer),
}

impl Consumer {
    /// Up to `max` messages; waits up to `wait` for the first one. Returns as soon as one is
    /// there (with whatever else is ready), or empty after `wait`.
    pub async fn fetch(&self, max: usize, wait: Duration) -> Result<Vec<Delivery>> {
        if max == 0 {
            return Ok(Vec::new());
        }
        match self {
            Consumer::Memory(c) => Ok(c.fetch(max, wait).await),
            Consumer::Nats(c) => c.fetch(max, wait).await,
        }
    }
}

/// One delivery of one message, to be settled with exactly one of ack or nak (progress any
/// number of times before).
pub struct Delivery {
    pub payload: Bytes,
    pub subject: String,
    /// 1 for the first delivery of the message.
    pub delivered: u32,
    /// The id it was published with.
    pub msg_id: String,
    /// The headers it was published with, other than the queue's own.
    pub headers: crate::telemetry::Headers,
    pub(crate) ticket: Ticket,
}

pub(crate) enum Ticket {
    Memory(memory::Ticket),
    Nats(nats::Ticket),
}

impl std::fmt::Debug for Delivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Delivery")
            .field("subject", &self.subject)
            .field("msg_id", &self.msg_id)
            .field("delivered", &self.delivered)
            .field("bytes", &self.payload.len())
            .finish()
    }
}

impl Delivery {
    /// Removes the message; returns once the queue has confirmed it.
    pub async fn ack(&self) -> Result<()> {
        match &self.ticket {
            Ticket::Memory(t) => {
                t.ack();
                Ok(())
            }
            Ticket::Nats(t) => t.ack().await,
        }
    }

    /// Removes the message without waiting for the server to confirm it: for consumers whose
    /// processing is idempotent, where a lost ack only means one more delivery (ingestion).
    pub async fn ack_unconfirmed(&self) -> Result<()> {
        match &self.ticket {
            Ticket::Memory(t) => {
                t.ack();
                Ok(())
            }
            Ticket::Nats(t) => t.ack_unconfirmed().await,
        }
    }

    /// Hands the message back: delivered again at once, or after `delay`.
    pub async fn nak(&self, delay: Option<Duration>) -> Result<()> {
        match &self.ticket {
            Ticket::Memory(t) => {
                t.nak(delay);
                Ok(())
            }
            Ticket::Nats(t) => t.nak(delay).await,
        }
    }

    /// Still working on it: restarts the ack_wait clock.
    pub async fn progress(&self) -> Result<()> {
        match &self.ticket {
            Ticket::Memory(t) => {
                t.progress();
                Ok(())
            }
            Ticket::Nats(t) => t.progress().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_are_single_subject_tokens() {
        assert_eq!(job_subject("123456789012").unwrap(), "argus.jobs.123456789012");
        assert_eq!(job_subject("team-a_1").unwrap(), "argus.jobs.team-a_1");
        for bad in ["", "a.b", "*", ">", "a b", "ä"] {
            assert!(job_subject(bad).is_err(), "{bad:?} must be refused");
        }
    }

    #[test]
    fn config_reads_milliseconds_and_rejects_unknown_fields() {
        let c: QueueConfig = toml::from_str("ack_wait_ms = 1500\nmax_deliver = 2\n").unwrap();
        assert_eq!(c.ack_wait, Duration::from_millis(1500));
        assert_eq!(c.max_deliver, 2);
        assert_eq!(c.duplicate_window, QueueConfig::default().duplicate_window);
        assert!(toml::from_str::<QueueConfig>("ack_wait = 1\n").is_err());
        assert!(QueueConfig {
            max_deliver: 0,
            ..Default::default()
        }
        .validate()
        .is_err());
        QueueConfig::default().validate().unwrap();
    }
}
