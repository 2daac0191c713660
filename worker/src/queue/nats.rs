//! The queues on NATS JetStream, using only what nats-server 2.9 offers: two WorkQueue streams
//! with one unfiltered durable pull consumer each (a WorkQueue stream takes only consumers with
//! disjoint filters), explicit acks, `Nats-Msg-Id` de-duplication.
//!
//! NATS may come back from a restart with an empty store, so the streams and consumers are
//! re-created whenever an operation finds them gone; async-nats reconnects by itself.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::{self, consumer, context::Publish, stream, AckKind};
use bytes::Bytes;
use futures::StreamExt;
use tokio::sync::Mutex;
use tokio::time::Instant;
use tracing::{debug, warn};

use super::{Backlog, Delivery, QueueConfig, QueueError, Result, Which, RESULTS_SUBJECT};

/// The longest pause between two retries of one operation.
const MAX_BACKOFF: Duration = Duration::from_secs(1);
/// The longest one pull request waits; a long fetch is several, with a check that the consumer
/// still exists after each empty one.
const POLL_CHUNK: Duration = Duration::from_secs(5);
/// How far past its wait a fetch may run while the server does not answer.
const FETCH_MARGIN: Duration = Duration::from_secs(1);

#[derive(Clone)]
pub struct NatsQueue {
    inner: Arc<Inner>,
}

struct Inner {
    client: async_nats::Client,
    js: jetstream::Context,
    cfg: QueueConfig,
    /// Connections made so far: a consumer looked up before the latest one may be gone (the
    /// server came back with an empty store).
    connections: Arc<AtomicU64>,
    /// The consumers as last created or looked up, with the connection they were seen on;
    /// dropped when an operation on them fails so the next one creates them again.
    jobs: Mutex<Option<(consumer::PullConsumer, u64)>>,
    results: Mutex<Option<(consumer::PullConsumer, u64)>>,
}

fn backoff_after(prev: Duration) -> Duration {
    (prev * 2).min(MAX_BACKOFF)
}

impl NatsQueue {
    pub(super) async fn connect(url: &str, cfg: QueueConfig) -> Result<Self> {
        cfg.validate()?;
        let connections = Arc::new(AtomicU64::new(0));
        let counter = connections.clone();
        let client = async_nats::ConnectOptions::new()
            .name("argus")
            .event_callback(move |event| {
                if matches!(event, async_nats::Event::Connected) {
                    counter.fetch_add(1, Ordering::SeqCst);
                }
                std::future::ready(())
            })
            // Connects in the background when the server is not up yet; operations retry.
            .retry_on_initial_connect()
            .reconnect_delay_callback(|attempts| {
                Duration::from_millis(50u64.saturating_mul(1 << attempts.min(10))).min(MAX_BACKOFF)
            })
            .connect(url)
            .await
            .map_err(|e| QueueError::nats("connect", e))?;
        let js = jetstream::new(client.clone());
        let queue = NatsQueue {
            inner: Arc::new(Inner {
                client,
                js,
                cfg,
                connections,
                jobs: Mutex::new(None),
                results: Mutex::new(None),
            }),
        };
        queue.retrying("nats not ready", || queue.ensure_streams()).await?;
        Ok(queue)
    }

    /// Runs `op` until it succeeds, fails for a reason other than NATS (a full stream), or
    /// `retry_for` has passed. A request in flight when the server goes away times out even if
    /// the server is back a moment later: one attempt is not enough to give up on.
    async fn retrying<T, F, Fut>(&self, what: &'static str, mut op: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T>>,
    {
        let deadline = Instant::now() + self.inner.cfg.retry_for;
        let mut backoff = Duration::from_millis(50);
        loop {
            match op().await {
                Ok(v) => return Ok(v),
                Err(e) if !matches!(e, QueueError::Nats { .. }) => return Err(e),
                Err(e) if Instant::now() + backoff >= deadline => return Err(e),
                Err(e) => {
                    debug!(error = %e, what, "retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = backoff_after(backoff);
                }
            }
        }
    }

    pub fn config(&self) -> &QueueConfig {
        &self.inner.cfg
    }

    fn stream_config(&self, which: Which) -> stream::Config {
        let cfg = &self.inner.cfg;
        // File storage survives a clean restart, but 2.9 acknowledges a publish before the
        // write is synced and cannot be told otherwise: nothing here is the record. Jobs live
        // in Raft first and results are acked only after their Raft commit.
        let base = stream::Config {
            name: which.stream().to_string(),
            retention: stream::RetentionPolicy::WorkQueue,
            storage: stream::StorageType::File,
            duplicate_window: cfg.duplicate_window,
            num_replicas: 1,
            ..Default::default()
        };
        match which {
            Which::Jobs => stream::Config {
                subjects: vec![super::JOBS_SUBJECTS.to_string()],
                ..base
            },
            Which::Results => stream::Config {
                subjects: vec![RESULTS_SUBJECT.to_string()],
                // A full results stream refuses new results rather than dropping old ones.
                max_messages: if cfg.max_results == 0 {
                    -1
                } else {
                    cfg.max_results as i64
                },
                discard: stream::DiscardPolicy::New,
                ..base
            },
        }
    }

    /// Creates both streams unless they exist (an existing stream is left as configured).
    async fn ensure_streams(&self) -> Result<()> {
        for which in [Which::Jobs, Which::Results] {
            self.inner
                .js
                .get_or_create_stream(self.stream_config(which))
                .await
                .map_err(|e| QueueError::nats("create stream", e))?;
        }
        Ok(())
    }

    fn slot(&self, which: Which) -> &Mutex<Option<(consumer::PullConsumer, u64)>> {
        match which {
            Which::Jobs => &self.inner.jobs,
            Which::Results => &self.inner.results,
        }
    }

    /// The durable consumer, created (with its stream) when missing.
    async fn pull_consumer(&self, which: Which) -> Result<consumer::PullConsumer> {
        let mut slot = self.slot(which).lock().await;
        let connection = self.inner.connections.load(Ordering::SeqCst);
        match slot.as_ref() {
            Some((c, seen_on)) if *seen_on == connection => return Ok(c.clone()),
            _ => {}
        }
        let cfg = &self.inner.cfg;
        let stream = self
            .inner
            .js
            .get_or_create_stream(self.stream_config(which))
            .await
            .map_err(|e| QueueError::nats("create stream", e))?;
        let config = consumer::pull::Config {
            durable_name: Some(which.consumer().to_string()),
            ack_policy: consumer::AckPolicy::Explicit,
            ack_wait: cfg.ack_wait,
            max_deliver: i64::from(cfg.max_deliver),
            max_ack_pending: i64::from(cfg.max_ack_pending),
            deliver_policy: consumer::DeliverPolicy::All,
            ..Default::default()
        };
        let c = stream
            .get_or_create_consumer(which.consumer(), config)
            .await
            .map_err(|e| QueueError::nats("create consumer", e))?;
        *slot = Some((c.clone(), connection));
        Ok(c)
    }

    async fn forget_consumer(&self, which: Which) {
        *self.slot(which).lock().await = None;
    }

    /// Publishes with `Nats-Msg-Id`, retrying through outages for `retry_for`: a retry of a
    /// publish that did get stored is a duplicate the stream drops.
    pub(super) async fn publish(
        &self,
        which: Which,
        subject: String,
        msg_id: &str,
        payload: Bytes,
        headers: &[(String, String)],
    ) -> Result<()> {
        self.retrying("publish failed", || async {
            let mut publish = Publish::build().payload(payload.clone());
            if !msg_id.is_empty() {
                publish = publish.message_id(msg_id);
            }
            for (name, value) in headers {
                publish = publish.header(name.as_str(), value.as_str());
            }
            let attempt = async {
                let ack = self.inner.js.send_publish(subject.clone(), publish).await?;
                ack.await
            };
            let err = match attempt.await {
                Ok(_) => return Ok(()),
                Err(e) => e,
            };
            if is_stream_full(&err) {
                return Err(QueueError::Full {
                    stream: which.stream(),
                    limit: self.inner.cfg.max_results,
                });
            }
            warn!(subject = %subject, error = %err, "publish failed");
            if err.kind() == jetstream::context::PublishErrorKind::StreamNotFound {
                // The server lost its store: the stream comes back empty, the scheduler
                // re-publishes what was in it.
                if let Err(e) = self.ensure_streams().await {
                    debug!(error = %e, "re-creating streams failed");
                }
                self.forget_consumer(which).await;
            }
            Err(QueueError::nats("publish", err))
        })
        .await
    }

    /// The consumer handle, once the server has it (retried for `retry_for`); later fetches
    /// re-create it whenever the server lost it.
    pub(super) async fn consumer(&self, which: Which) -> Result<NatsConsumer> {
        self.retrying("consumer not ready", || self.pull_consumer(which))
            .await?;
        Ok(NatsConsumer {
            queue: self.clone(),
            which,
        })
    }

    /// Asks the server for the consumer; forgets it when that fails, so the next operation
    /// creates it again.
    async fn verify_consumer(&self, which: Which) -> Result<()> {
        self.backlog(which).await.map(|_| ())
    }

    pub(super) async fn backlog(&self, which: Which) -> Result<Backlog> {
        let mut c = self.pull_consumer(which).await?;
        match c.info().await {
            Ok(info) => Ok(Backlog {
                waiting: info.num_pending,
                unacked: info.num_ack_pending as u64,
            }),
            Err(e) => {
                self.forget_consumer(which).await;
                Err(QueueError::nats("consumer info", e))
            }
        }
    }

    fn delivery(&self, message: jetstream::Message) -> Result<Delivery> {
        let delivered = message.info().map_err(|e| QueueError::nats("fetch", e))?.delivered;
        let msg_id = message
            .headers
            .as_ref()
            .and_then(|h| h.get(async_nats::header::NATS_MESSAGE_ID))
            .map(|v| v.to_string())
            .unwrap_or_default();
        // The application's headers; the server's and the client's own (`Nats-*`) stay out.
        let headers = message
            .headers
            .iter()
            .flat_map(|h| h.iter())
            .filter(|(name, _)| !AsRef::<str>::as_ref(*name).starts_with("Nats-"))
            .flat_map(|(name, values)| values.iter().map(move |v| (name.to_string(), v.to_string())))
            .collect();
        let reply = message
            .reply
            .clone()
            .ok_or_else(|| QueueError::nats("fetch", "message without a reply subject"))?;
        let (message, _) = message.split();
        Ok(Delivery {
            payload: message.payload,
            subject: message.subject.to_string(),
            delivered: u32::try_from(delivered).unwrap_or(u32::MAX),
            msg_id,
            headers,
            ticket: super::Ticket::Nats(Ticket {
                client: self.inner.client.clone(),
                reply,
            }),
        })
    }
}

/// Whether the stream refused the message because it is at its message limit.
fn is_stream_full(err: &jetstream::context::PublishError) -> bool {
    use std::error::Error as _;
    err.source()
        .and_then(|s| s.downcast_ref::<jetstream::Error>())
        .is_some_and(|e| e.error_code() == jetstream::ErrorCode::STREAM_STORE_FAILED)
}

#[derive(Clone)]
pub struct NatsConsumer {
    queue: NatsQueue,
    which: Which,
}

impl NatsConsumer {
    /// Fetches, re-creating the consumer and retrying within `wait` when the server lost it
    /// or the connection is down.
    pub(super) async fn fetch(&self, max: usize, wait: Duration) -> Result<Vec<Delivery>> {
        let deadline = Instant::now() + wait;
        // Requests to a server that is down wait for their own timeouts; the caller's wait
        // bounds them all.
        tokio::time::timeout_at(deadline + FETCH_MARGIN, self.fetch_until(max, deadline))
            .await
            .unwrap_or_else(|_| Err(QueueError::nats("fetch", "no answer from the server")))
    }

    async fn fetch_until(&self, max: usize, deadline: Instant) -> Result<Vec<Delivery>> {
        let mut backoff = Duration::from_millis(25);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.fetch_once(max, left.min(POLL_CHUNK)).await {
                Ok(d) if !d.is_empty() => return Ok(d),
                Ok(_) => {
                    // A pull request for a consumer the server no longer has (restarted with an
                    // empty store) is swallowed by JetStream's API subscription: nothing
                    // answers, so only asking tells.
                    if let Err(e) = self.queue.verify_consumer(self.which).await {
                        debug!(error = %e, consumer = self.which.consumer(), "consumer is gone; re-creating it");
                    }
                    if Instant::now() >= deadline {
                        return Ok(Vec::new());
                    }
                }
                Err(e) => {
                    self.queue.forget_consumer(self.which).await;
                    if Instant::now() + backoff >= deadline {
                        return Err(e);
                    }
                    debug!(error = %e, consumer = self.which.consumer(), "fetch failed; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = backoff_after(backoff);
                }
            }
        }
    }

    /// One pull request in 2.9's one-shot form (`no_wait` with `expires`): the server answers
    /// as soon as it has any message, with what it has up to `max`, or ends the request empty
    /// at `expires`. No request is left open on the server to deliver into an inbox nobody
    /// reads any more.
    async fn fetch_once(&self, max: usize, wait: Duration) -> Result<Vec<Delivery>> {
        let consumer = self.queue.pull_consumer(self.which).await?;
        // Without `expires` a no_wait request still waits while redeliveries are pending.
        let wait = wait.max(Duration::from_millis(10));
        let mut batch = consumer
            .fetch()
            .max_messages(max)
            .expires(wait)
            .messages()
            .await
            .map_err(|e| QueueError::nats("fetch", e))?;
        // The server ends the request at `expires`; the margin covers a server that is gone.
        let until = Instant::now() + wait + Duration::from_secs(2);
        let mut out = Vec::new();
        loop {
            match tokio::time::timeout_at(until, batch.next()).await {
                Ok(Some(Ok(m))) => out.push(self.queue.delivery(m)?),
                Ok(Some(Err(e))) if out.is_empty() => return Err(QueueError::nats("fetch", e)),
                // Deliveries already taken must reach the caller: an error now only ends it.
                Ok(Some(Err(e))) => {
                    debug!(error = %e, "fetch ended early");
                    break;
                }
                Ok(None) | Err(_) => break,
            }
        }
        Ok(out)
    }
}

/// Settles one delivery through its JetStream reply subject.
pub struct Ticket {
    client: async_nats::Client,
    reply: async_nats::Subject,
}

impl Ticket {
    /// An ack the server confirms: sent as a request, answered once the consumer applied it.
    /// No answer (the consumer is gone, the connection is down) is an error.
    pub(super) async fn ack(&self) -> Result<()> {
        let ack: Bytes = AckKind::Ack.into();
        self.client
            .request(self.reply.clone(), ack)
            .await
            .map(|_| ())
            .map_err(|e| QueueError::nats("ack", e))
    }

    pub(super) async fn ack_unconfirmed(&self) -> Result<()> {
        self.send(AckKind::Ack, "ack").await
    }

    pub(super) async fn nak(&self, delay: Option<Duration>) -> Result<()> {
        self.send(AckKind::Nak(delay.filter(|d| !d.is_zero())), "nak").await
    }

    pub(super) async fn progress(&self) -> Result<()> {
        self.send(AckKind::Progress, "progress").await
    }

    async fn send(&self, kind: AckKind, op: &'static str) -> Result<()> {
        self.client
            .publish(self.reply.clone(), kind.into())
            .await
            .map_err(|e| QueueError::nats(op, e))
    }
}
