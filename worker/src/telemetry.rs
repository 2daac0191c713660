//! The worker's side of telemetry: its metrics (see docs/metrics.md) and the trace context that
//! travels with jobs and results in message headers.
//!
//! Only the OpenTelemetry API is used here. The `argus` binary installs the SDK (exporters,
//! propagator) at start; until then, and when no endpoint is configured, every instrument and
//! the propagator are no-ops.

use std::sync::{Arc, Mutex, OnceLock, Weak};

use opentelemetry::metrics::{Counter, Histogram, Meter};
use opentelemetry::propagation::{Extractor, Injector};
use opentelemetry::KeyValue;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::vulndb::DbSlot;

/// Message headers carrying a trace context (`traceparent`, `tracestate`).
pub type Headers = Vec<(String, String)>;

/// Buckets for durations in seconds: 5 ms to 30 min, for scans and end-to-end latency alike.
pub const DURATION_BUCKETS: [f64; 18] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 1800.0,
];

struct Carrier<'a>(&'a mut Headers);

impl Injector for Carrier<'_> {
    fn set(&mut self, key: &str, value: String) {
        self.0.push((key.to_string(), value));
    }
}

struct Reader<'a>(&'a [(String, String)]);

impl Extractor for Reader<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.iter().map(|(k, _)| k.as_str()).collect()
    }
}

/// The headers that make the receiver's spans children of `span`.
pub fn inject(span: &tracing::Span) -> Headers {
    let cx = span.context();
    let mut headers = Headers::new();
    opentelemetry::global::get_text_map_propagator(|p| p.inject_context(&cx, &mut Carrier(&mut headers)));
    headers
}

/// Makes `span` a child of the context `headers` carry (if any).
pub fn adopt(span: &tracing::Span, headers: &[(String, String)]) {
    if headers.is_empty() {
        return;
    }
    let cx = opentelemetry::global::get_text_map_propagator(|p| p.extract(&Reader(headers)));
    span.set_parent(cx);
}

/// The meter every Argus component reports through.
pub fn meter() -> Meter {
    opentelemetry::global::meter("argus")
}

/// The worker's instruments, created on first use (after the binary installed the SDK).
pub struct WorkerMetrics {
    pub jobs: Counter<u64>,
    pub redelivered: Counter<u64>,
    pub scan_duration: Histogram<f64>,
    /// Every running worker loop, for the observable gauges; dead ones are skipped.
    workers: Mutex<Vec<Weak<WorkerGauge>>>,
}

/// What one worker loop reports through the observable gauges.
pub struct WorkerGauge {
    pub name: String,
    pub capacity: u64,
    pub busy: std::sync::atomic::AtomicU64,
    pub db: DbSlot,
}

pub fn worker_metrics() -> &'static WorkerMetrics {
    static METRICS: OnceLock<WorkerMetrics> = OnceLock::new();
    METRICS.get_or_init(|| {
        let m = meter();
        let metrics = WorkerMetrics {
            jobs: m
                .u64_counter("argus.worker.jobs")
                .with_unit("{job}")
                .with_description("Jobs finished and acknowledged, by outcome")
                .build(),
            redelivered: m
                .u64_counter("argus.worker.jobs.redelivered")
                .with_unit("{job}")
                .with_description("Jobs received on a second or later delivery")
                .build(),
            scan_duration: m
                .f64_histogram("argus.worker.scan.duration")
                .with_unit("s")
                .with_description("Fetch, extract and match of one job")
                .with_boundaries(DURATION_BUCKETS.to_vec())
                .build(),
            workers: Mutex::new(Vec::new()),
        };
        m.u64_observable_gauge("argus.worker.busy")
            .with_unit("{job}")
            .with_description("Jobs running now")
            .with_callback(|o| {
                each_worker(|w| {
                    let busy = w.busy.load(std::sync::atomic::Ordering::Relaxed);
                    o.observe(busy, &[KeyValue::new("worker.name", w.name.clone())]);
                })
            })
            .build();
        m.u64_observable_gauge("argus.worker.capacity")
            .with_unit("{job}")
            .with_description("Jobs the worker runs at once")
            .with_callback(|o| each_worker(|w| o.observe(w.capacity, &[KeyValue::new("worker.name", w.name.clone())])))
            .build();
        m.f64_observable_gauge("argus.worker.vulndb.age")
            .with_unit("s")
            .with_description("Age of the vulnerability DB the worker matches with")
            .with_callback(|o| {
                each_worker(|w| {
                    let db = w.db.get();
                    let meta = db.meta();
                    let Some(age) = age_secs(&meta.built_at) else { return };
                    o.observe(
                        age,
                        &[
                            KeyValue::new("worker.name", w.name.clone()),
                            KeyValue::new("vulndb.version", meta.version.clone()),
                        ],
                    );
                })
            })
            .build();
        metrics
    })
}

fn each_worker(mut f: impl FnMut(&WorkerGauge)) {
    let mut workers = worker_metrics().workers.lock().unwrap_or_else(|p| p.into_inner());
    workers.retain(|w| w.strong_count() > 0);
    for w in workers.iter().filter_map(Weak::upgrade) {
        f(&w);
    }
}

/// Registers a running worker loop with the gauges; it is dropped from them with the returned
/// handle.
pub fn register_worker(name: &str, capacity: usize, db: DbSlot) -> Arc<WorkerGauge> {
    let gauge = Arc::new(WorkerGauge {
        name: name.to_string(),
        capacity: capacity as u64,
        busy: Default::default(),
        db,
    });
    let metrics = worker_metrics();
    metrics
        .workers
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(Arc::downgrade(&gauge));
    gauge
}

/// Seconds since an RFC 3339 time; `None` when it does not parse.
fn age_secs(rfc3339: &str) -> Option<f64> {
    let at = chrono::DateTime::parse_from_rfc3339(rfc3339).ok()?;
    let age = chrono::Utc::now().signed_duration_since(at);
    Some(age.num_milliseconds().max(0) as f64 / 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_read_case_insensitively_and_ages_parse() {
        let h: Headers = vec![("Traceparent".into(), "00-abc".into())];
        assert_eq!(Reader(&h).get("traceparent"), Some("00-abc"));
        assert_eq!(Reader(&h).get("tracestate"), None);
        assert!(age_secs("2020-01-01T00:00:00Z").unwrap() > 1e8);
        assert_eq!(age_secs("yesterday"), None);
    }
}
