//! The in-process queue for the embedded mode: JetStream's WorkQueue delivery semantics (ack,
//! redelivery after ack_wait, progress, nak with delay, max_deliver, de-duplication by message
//! id, max_ack_pending) kept in memory.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::Notify;
use tokio::time::Instant;

use super::{Backlog, Delivery, QueueConfig, QueueError, Result, Which};

#[derive(Clone)]
pub struct MemoryQueue {
    shared: Arc<Shared>,
}

struct Shared {
    cfg: QueueConfig,
    jobs: Log,
    results: Log,
}

impl Shared {
    fn log(&self, which: Which) -> &Log {
        match which {
            Which::Jobs => &self.jobs,
            Which::Results => &self.results,
        }
    }
}

/// One stream with its one consumer.
struct Log {
    which: Which,
    /// Most messages stored at once; a publish beyond it fails.
    capacity: Option<u64>,
    state: Mutex<LogState>,
    /// Woken when a message may have become deliverable.
    changed: Notify,
}

#[derive(Default)]
struct LogState {
    next_seq: u64,
    messages: HashMap<u64, Stored>,
    /// Deliverable now, oldest first.
    ready: BTreeSet<u64>,
    /// When a message changes state by itself: its ack deadline passes, or its nak delay ends.
    /// Exactly one entry per message in state `Out` or `Delayed`.
    timers: BTreeSet<(Instant, u64)>,
    in_flight: usize,
    /// Message ids stored within the duplicate window, and the order they expire in.
    seen: HashMap<String, Instant>,
    seen_order: VecDeque<(Instant, String)>,
}

struct Stored {
    subject: String,
    msg_id: String,
    payload: Bytes,
    headers: crate::telemetry::Headers,
    delivered: u32,
    state: State,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum State {
    Ready,
    /// Nak'd with a delay: deliverable again at that instant.
    Delayed(Instant),
    /// Delivered; delivered again unless settled or progressed by that instant.
    Out(Instant),
}

impl LogState {
    /// Applies every timer due by `now`.
    fn advance(&mut self, now: Instant, cfg: &QueueConfig) {
        while let Some(&(at, seq)) = self.timers.first() {
            if at > now {
                break;
            }
            self.timers.pop_first();
            let Some(m) = self.messages.get(&seq) else {
                debug_assert!(false, "timer for a removed message");
                continue;
            };
            match m.state {
                State::Out(d) if d == at => {
                    self.in_flight -= 1;
                    self.requeue(seq, None, now, cfg);
                }
                State::Delayed(d) if d == at => self.requeue(seq, None, now, cfg),
                state => debug_assert!(false, "stale timer for a message in state {state:?}"),
            }
        }
    }

    /// Makes a message that is not out deliverable again (now or after `delay`), or drops it
    /// when it has been delivered `max_deliver` times.
    fn requeue(&mut self, seq: u64, delay: Option<Duration>, now: Instant, cfg: &QueueConfig) {
        let Some(m) = self.messages.get_mut(&seq) else { return };
        if m.delivered >= cfg.max_deliver {
            tracing::debug!(msg_id = %m.msg_id, delivered = m.delivered, "message reached max_deliver; dropped");
            self.messages.remove(&seq);
            return;
        }
        match delay.filter(|d| !d.is_zero()) {
            None => {
                m.state = State::Ready;
                self.ready.insert(seq);
            }
            Some(d) => {
                let at = now + d;
                m.state = State::Delayed(at);
                self.timers.insert((at, seq));
            }
        }
    }

    /// Takes the message out of whatever state it is in, before removing or re-queueing it.
    fn unschedule(&mut self, seq: u64) {
        let Some(m) = self.messages.get(&seq) else { return };
        match m.state {
            State::Ready => {
                self.ready.remove(&seq);
            }
            State::Delayed(at) => {
                self.timers.remove(&(at, seq));
            }
            State::Out(at) => {
                self.timers.remove(&(at, seq));
                self.in_flight -= 1;
            }
        }
    }

    fn forget_expired_ids(&mut self, now: Instant, window: Duration) {
        while let Some((at, _)) = self.seen_order.front() {
            if *at + window > now {
                break;
            }
            let (at, id) = self.seen_order.pop_front().expect("front exists");
            if self.seen.get(&id) == Some(&at) {
                self.seen.remove(&id);
            }
        }
    }
}

fn lock(log: &Log) -> MutexGuard<'_, LogState> {
    log.state.lock().unwrap_or_else(|p| p.into_inner())
}

impl MemoryQueue {
    pub fn new(cfg: QueueConfig) -> Self {
        let log = |which, capacity| Log {
            which,
            capacity,
            state: Mutex::new(LogState::default()),
            changed: Notify::new(),
        };
        let results_capacity = (cfg.max_results > 0).then_some(cfg.max_results);
        MemoryQueue {
            shared: Arc::new(Shared {
                jobs: log(Which::Jobs, None),
                results: log(Which::Results, results_capacity),
                cfg,
            }),
        }
    }

    pub fn config(&self) -> &QueueConfig {
        &self.shared.cfg
    }

    pub(super) fn publish(
        &self,
        which: Which,
        subject: String,
        msg_id: &str,
        payload: Bytes,
        headers: &[(String, String)],
    ) -> Result<()> {
        let log = self.shared.log(which);
        let now = Instant::now();
        {
            let mut st = lock(log);
            st.forget_expired_ids(now, self.shared.cfg.duplicate_window);
            if !msg_id.is_empty() && st.seen.contains_key(msg_id) {
                return Ok(());
            }
            if let Some(limit) = log.capacity {
                if st.messages.len() as u64 >= limit {
                    return Err(QueueError::Full {
                        stream: log.which.stream(),
                        limit,
                    });
                }
            }
            let seq = st.next_seq;
            st.next_seq += 1;
            st.messages.insert(
                seq,
                Stored {
                    subject,
                    msg_id: msg_id.to_string(),
                    payload,
                    headers: headers.to_vec(),
                    delivered: 0,
                    state: State::Ready,
                },
            );
            st.ready.insert(seq);
            if !msg_id.is_empty() {
                st.seen.insert(msg_id.to_string(), now);
                st.seen_order.push_back((now, msg_id.to_string()));
            }
        }
        log.changed.notify_waiters();
        Ok(())
    }

    pub(super) fn consumer(&self, which: Which) -> MemoryConsumer {
        MemoryConsumer {
            shared: self.shared.clone(),
            which,
        }
    }

    pub(super) fn backlog(&self, which: Which) -> Backlog {
        let mut st = lock(self.shared.log(which));
        st.advance(Instant::now(), &self.shared.cfg);
        let waiting = st.messages.values().filter(|m| m.delivered == 0).count() as u64;
        Backlog {
            waiting,
            unacked: st.messages.len() as u64 - waiting,
        }
    }
}

#[derive(Clone)]
pub struct MemoryConsumer {
    shared: Arc<Shared>,
    which: Which,
}

impl MemoryConsumer {
    pub(super) async fn fetch(&self, max: usize, wait: Duration) -> Vec<Delivery> {
        let log = self.shared.log(self.which);
        let cfg = &self.shared.cfg;
        let deadline = Instant::now() + wait;
        loop {
            // Registered before looking, so a publish between the look and the wait still wakes.
            let notified = log.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let now = Instant::now();
            let (taken, wake) = {
                let mut st = lock(log);
                st.advance(now, cfg);
                let mut taken = Vec::new();
                while taken.len() < max && st.in_flight < cfg.max_ack_pending as usize {
                    let Some(seq) = st.ready.pop_first() else { break };
                    let ack_deadline = now + cfg.ack_wait;
                    let m = st.messages.get_mut(&seq).expect("ready messages are stored");
                    m.delivered += 1;
                    m.state = State::Out(ack_deadline);
                    taken.push(Delivery {
                        payload: m.payload.clone(),
                        subject: m.subject.clone(),
                        delivered: m.delivered,
                        msg_id: m.msg_id.clone(),
                        headers: m.headers.clone(),
                        ticket: super::Ticket::Memory(Ticket {
                            shared: self.shared.clone(),
                            which: self.which,
                            seq,
                            delivery: m.delivered,
                        }),
                    });
                    st.timers.insert((ack_deadline, seq));
                    st.in_flight += 1;
                }
                (taken, st.timers.first().map(|t| t.0))
            };
            if !taken.is_empty() || now >= deadline {
                return taken;
            }
            let until = wake.map_or(deadline, |w| w.min(deadline));
            tokio::select! {
                _ = notified => {}
                _ = tokio::time::sleep_until(until) => {}
            }
        }
    }
}

/// Settles one delivery of one message.
pub struct Ticket {
    shared: Arc<Shared>,
    which: Which,
    seq: u64,
    /// Which delivery this is: nak and progress from an earlier delivery than the current one
    /// change nothing.
    delivery: u32,
}

impl Ticket {
    fn settle(&self, f: impl FnOnce(&mut LogState, Instant, &QueueConfig)) {
        let log = self.shared.log(self.which);
        f(&mut lock(log), Instant::now(), &self.shared.cfg);
        log.changed.notify_waiters();
    }

    fn is_current(&self, st: &LogState) -> bool {
        st.messages
            .get(&self.seq)
            .is_some_and(|m| m.delivered == self.delivery && matches!(m.state, State::Out(_)))
    }

    /// Like JetStream, an ack removes the message even when it came late (after the message
    /// was handed out again): the work is done.
    pub(super) fn ack(&self) {
        self.settle(|st, _, _| {
            st.unschedule(self.seq);
            st.messages.remove(&self.seq);
        });
    }

    pub(super) fn nak(&self, delay: Option<Duration>) {
        self.settle(|st, now, cfg| {
            if self.is_current(st) {
                st.unschedule(self.seq);
                st.requeue(self.seq, delay, now, cfg);
            }
        });
    }

    pub(super) fn progress(&self) {
        self.settle(|st, now, cfg| {
            if self.is_current(st) {
                st.unschedule(self.seq);
                let at = now + cfg.ack_wait;
                st.messages.get_mut(&self.seq).expect("current").state = State::Out(at);
                st.timers.insert((at, self.seq));
                st.in_flight += 1;
            }
        });
    }
}
