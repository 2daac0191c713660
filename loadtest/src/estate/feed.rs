//! A feed consumer, as a security platform would run one: it follows `Subscribe` from cursor 0
//! through failovers (resuming from its cursor on any node) and measures
//! * feed lag: receipt time minus the change's `changed_at` (the leader's proposal time);
//! * end-to-end latency: from the moment a resource's put was sent to the first change of one
//!   of its findings received here (the resource's scan result committed and delivered);
//! * duplicates: a finding CREATED twice.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use argus_coordinator::client::Client;
use argus_proto::v1::{ChangeKind, SubscribeRequest};
use futures::StreamExt;

use super::model::id_number;

#[derive(Default)]
struct State {
    cursor: u64,
    changes: u64,
    lags_ms: Vec<f32>,
    created: HashMap<u128, u32>,
    /// Resource id → when its put was sent; removed at its first change.
    waiting: HashMap<String, Instant>,
    latencies_ms: Vec<f32>,
    resubscribed: u64,
}

#[derive(Clone)]
pub struct Feed(Arc<Mutex<State>>);

/// What the consumer saw in one interval (since the last [`Feed::take`]).
pub struct FeedStats {
    pub changes: u64,
    pub lag_ms: Vec<f32>,
    pub latency_ms: Vec<f32>,
}

impl Feed {
    /// Starts consuming from the oldest change on `client`'s nodes.
    pub fn start(client: Client) -> Feed {
        let feed = Feed(Arc::default());
        let state = feed.0.clone();
        tokio::spawn(async move {
            loop {
                let after = state.lock().unwrap().cursor;
                let req = SubscribeRequest {
                    after_cursor: after,
                    ..Default::default()
                };
                let stream = client
                    .retry(|c| {
                        let r = req.clone();
                        async move { c.feed().subscribe(r).await }
                    })
                    .await;
                let mut stream = match stream {
                    Ok(s) => s,
                    Err(_) => {
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        continue;
                    }
                };
                while let Some(msg) = stream.next().await {
                    let Ok(msg) = msg else { break };
                    let Some(change) = msg.change else { continue };
                    let now = Instant::now();
                    let wall = SystemTime::now();
                    let mut s = state.lock().unwrap();
                    if change.cursor <= s.cursor {
                        continue;
                    }
                    s.cursor = change.cursor;
                    s.changes += 1;
                    if let Some(at) = change.changed_at.and_then(|t| SystemTime::try_from(t).ok()) {
                        let lag = wall.duration_since(at).unwrap_or_default();
                        s.lags_ms.push(lag.as_secs_f32() * 1000.0);
                    }
                    let kind = change.kind();
                    let Some(f) = change.finding else { continue };
                    if kind == ChangeKind::Created {
                        *s.created.entry(id_number(&f.finding_id)).or_default() += 1;
                    }
                    if let Some(r) = f.resource {
                        if let Some(sent) = s.waiting.remove(&r.resource_id) {
                            let ms = now.duration_since(sent).as_secs_f32() * 1000.0;
                            s.latencies_ms.push(ms);
                        }
                    }
                }
                // The node went away or the stream broke: resume from the cursor elsewhere.
                state.lock().unwrap().resubscribed += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
        feed
    }

    /// Records that the puts of these resources are being sent now.
    pub fn expect(&self, resource_ids: impl IntoIterator<Item = String>) {
        let now = Instant::now();
        let mut s = self.0.lock().unwrap();
        for r in resource_ids {
            s.waiting.insert(r, now);
        }
    }

    /// The measurements since the last call; resources still waiting stay.
    pub fn take(&self) -> FeedStats {
        let mut s = self.0.lock().unwrap();
        FeedStats {
            changes: std::mem::take(&mut s.changes),
            lag_ms: std::mem::take(&mut s.lags_ms),
            latency_ms: std::mem::take(&mut s.latencies_ms),
        }
    }

    pub fn waiting(&self) -> usize {
        self.0.lock().unwrap().waiting.len()
    }

    pub fn cursor(&self) -> u64 {
        self.0.lock().unwrap().cursor
    }

    /// Findings created more than once, and how often the consumer had to resubscribe.
    pub fn duplicates(&self) -> (u64, u64) {
        let s = self.0.lock().unwrap();
        (s.created.values().filter(|n| **n > 1).count() as u64, s.resubscribed)
    }
}
