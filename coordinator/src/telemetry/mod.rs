//! Telemetry: logs to stderr (with trace ids), and metrics and traces over OTLP/gRPC when an
//! endpoint is configured. The `argus` binary calls [`init`] once, before running a command.
//!
//! The exporters run on a small runtime of their own, so that exporting neither competes with
//! a command's runtime nor depends on it: the final export at exit happens after the command's
//! runtime is gone. docs/metrics.md lists every metric and span.

pub mod census;
pub mod discovery;
pub mod instruments;
mod logs;

use std::time::Duration;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry::KeyValue;
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::metrics::SdkMeterProvider;
use opentelemetry_sdk::trace::TracerProvider;
use opentelemetry_sdk::Resource;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::config::TelemetryConfig;

pub use census::observe_node;

/// Who this process is, for the OTLP resource (`OTEL_RESOURCE_ATTRIBUTES` and
/// `OTEL_SERVICE_NAME` take precedence).
pub struct Identity {
    /// `argus-coordinator`, `argus-worker`, `argus`.
    pub service: &'static str,
    /// `service.instance.id`: the node id, the worker's name.
    pub instance: String,
}

/// Keeps the exporters running; dropping it flushes what is pending (the last metrics, open
/// spans' batches) and stops them.
pub struct Telemetry {
    meters: Option<SdkMeterProvider>,
    tracers: Option<TracerProvider>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Telemetry {
    /// Whether metrics are exported at all.
    pub fn exporting_metrics(&self) -> bool {
        self.meters.is_some()
    }
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        if let Some(t) = self.tracers.take() {
            if let Err(e) = t.shutdown() {
                eprintln!("argus: flushing traces: {e}");
            }
        }
        if let Some(m) = self.meters.take() {
            if let Err(e) = m.shutdown() {
                eprintln!("argus: flushing metrics: {e}");
            }
        }
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_timeout(Duration::from_secs(5));
        }
    }
}

fn env_set(names: &[&str]) -> bool {
    names
        .iter()
        .any(|n| std::env::var(n).is_ok_and(|v| !v.trim().is_empty()))
}

/// Sets up logging, and the OTLP exporters when an endpoint is configured. `verbose` is the
/// `-v` count, used when `RUST_LOG` is unset.
pub fn init(config: &TelemetryConfig, verbose: u8, who: Identity) -> Telemetry {
    let configured = config.otlp_endpoint.as_deref().is_some_and(|e| !e.trim().is_empty());
    let disabled = std::env::var("OTEL_SDK_DISABLED").is_ok_and(|v| v.eq_ignore_ascii_case("true"));
    let metrics_on =
        !disabled && (configured || env_set(&["OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"]));
    let traces_on =
        !disabled && (configured || env_set(&["OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"]));

    let mut telemetry = Telemetry {
        meters: None,
        tracers: None,
        runtime: None,
    };
    let mut tracer = None;
    if metrics_on || traces_on {
        match tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("argus-otel")
            .enable_all()
            .build()
        {
            Ok(rt) => {
                let _entered = rt.enter();
                let resource = resource(&who);
                if metrics_on {
                    match meter_provider(config, resource.clone()) {
                        Ok(p) => {
                            opentelemetry::global::set_meter_provider(p.clone());
                            census::exporting();
                            telemetry.meters = Some(p);
                        }
                        Err(e) => eprintln!("argus: metrics export off: {e}"),
                    }
                }
                if traces_on {
                    match tracer_provider(config, resource) {
                        Ok(p) => {
                            opentelemetry::global::set_text_map_propagator(
                                opentelemetry_sdk::propagation::TraceContextPropagator::new(),
                            );
                            tracer = Some(p.tracer("argus"));
                            opentelemetry::global::set_tracer_provider(p.clone());
                            telemetry.tracers = Some(p);
                        }
                        Err(e) => eprintln!("argus: trace export off: {e}"),
                    }
                }
                drop(_entered);
                telemetry.runtime = Some(rt);
            }
            Err(e) => eprintln!("argus: telemetry off: {e}"),
        }
    }

    let default = match verbose {
        0 => "warn",
        1 => "debug",
        _ => "trace",
    };
    let log_filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .event_format(logs::WithTraceId::default())
        .with_filter(log_filter);
    let otel = tracer.map(|t| {
        let spans = EnvFilter::try_new(&config.trace_filter).unwrap_or_else(|e| {
            eprintln!(
                "argus: telemetry.trace_filter {:?}: {e}; using \"info\"",
                config.trace_filter
            );
            EnvFilter::new("info")
        });
        tracing_opentelemetry::layer().with_tracer(t).with_filter(spans)
    });
    let _ = tracing_subscriber::registry()
        .with(fmt)
        .with(otel)
        .with(logs::TraceIdLayer)
        .try_init();
    telemetry
}

/// The SDK's detected resource (environment variables first), with our service name unless
/// one was given.
fn resource(who: &Identity) -> Resource {
    let detected = Resource::default();
    let ours = Resource::new([
        KeyValue::new("service.name", who.service),
        KeyValue::new("service.instance.id", who.instance.clone()),
        KeyValue::new("service.version", env!("CARGO_PKG_VERSION")),
    ]);
    let merged = ours.merge(&detected);
    let named = detected
        .get(opentelemetry::Key::new("service.name"))
        .is_some_and(|v| !v.as_str().starts_with("unknown_service"));
    if named {
        merged
    } else {
        merged.merge(&Resource::new([KeyValue::new("service.name", who.service)]))
    }
}

fn meter_provider(config: &TelemetryConfig, resource: Resource) -> Result<SdkMeterProvider, String> {
    let mut exporter = opentelemetry_otlp::MetricExporter::builder().with_tonic();
    if let Some(e) = &config.otlp_endpoint {
        exporter = exporter.with_endpoint(e.clone());
    }
    let exporter = exporter.build().map_err(|e| e.to_string())?;
    let mut reader = opentelemetry_sdk::metrics::PeriodicReader::builder(exporter, opentelemetry_sdk::runtime::Tokio);
    if !env_set(&["OTEL_METRIC_EXPORT_INTERVAL"]) {
        reader = reader.with_interval(Duration::from_millis(config.export_interval_ms.max(100)));
    }
    Ok(SdkMeterProvider::builder()
        .with_reader(reader.build())
        .with_resource(resource)
        .build())
}

fn tracer_provider(config: &TelemetryConfig, resource: Resource) -> Result<TracerProvider, String> {
    let mut exporter = opentelemetry_otlp::SpanExporter::builder().with_tonic();
    if let Some(e) = &config.otlp_endpoint {
        exporter = exporter.with_endpoint(e.clone());
    }
    let exporter = exporter.build().map_err(|e| e.to_string())?;
    Ok(TracerProvider::builder()
        .with_batch_exporter(exporter, opentelemetry_sdk::runtime::Tokio)
        .with_resource(resource)
        .build())
}
