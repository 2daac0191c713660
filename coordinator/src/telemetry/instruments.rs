//! The coordinator's instruments that count events as they happen (the rest is observed from
//! the replicated state, in `census.rs`). Created on first use, after the SDK is installed.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};

use argus_worker::telemetry::{meter, DURATION_BUCKETS};
use opentelemetry::metrics::{Counter, Histogram};
use opentelemetry::KeyValue;

pub struct Instruments {
    /// `argus.pipeline.latency`: from when an artifact needed a scan to its result's commit.
    pub latency: Histogram<f64>,
    snapshots: Counter<u64>,
}

pub fn instruments() -> &'static Instruments {
    static INSTRUMENTS: OnceLock<Instruments> = OnceLock::new();
    INSTRUMENTS.get_or_init(|| {
        let m = meter();
        Instruments {
            latency: m
                .f64_histogram("argus.pipeline.latency")
                .with_unit("s")
                .with_description("From when an artifact needed a scan to the commit of its result")
                .with_boundaries(DURATION_BUCKETS.to_vec())
                .build(),
            snapshots: m
                .u64_counter("argus.raft.snapshots")
                .with_unit("{snapshot}")
                .with_description("Snapshots this node built, or received and installed")
                .build(),
        }
    })
}

/// Counts a snapshot this node built (`built`) or installed (`installed`).
pub fn snapshot(action: &'static str) {
    instruments()
        .snapshots
        .add(1, &[KeyValue::new("raft.snapshot.action", action)]);
}

/// How far one feed subscription has got: the last change examined for it.
#[derive(Default)]
pub struct FeedProgress {
    pub cursor: AtomicU64,
}

fn subscriptions() -> &'static Mutex<Vec<Weak<FeedProgress>>> {
    static SUBSCRIPTIONS: OnceLock<Mutex<Vec<Weak<FeedProgress>>>> = OnceLock::new();
    SUBSCRIPTIONS.get_or_init(Default::default)
}

/// Registers a feed subscription starting after `cursor`; it counts until the handle drops.
pub fn subscribe(cursor: u64) -> Arc<FeedProgress> {
    let p = Arc::new(FeedProgress {
        cursor: AtomicU64::new(cursor),
    });
    let mut subs = subscriptions().lock().unwrap_or_else(|e| e.into_inner());
    subs.retain(|s| s.strong_count() > 0);
    subs.push(Arc::downgrade(&p));
    p
}

/// Open subscriptions, and the lowest cursor among them.
pub fn feed_positions() -> (u64, Option<u64>) {
    let mut subs = subscriptions().lock().unwrap_or_else(|e| e.into_inner());
    subs.retain(|s| s.strong_count() > 0);
    let lowest = subs
        .iter()
        .filter_map(Weak::upgrade)
        .map(|p| p.cursor.load(Ordering::Relaxed))
        .min();
    (subs.len() as u64, lowest)
}
