//! An OTLP/gRPC receiver for tests: implements the collector's metrics and trace services,
//! keeps everything it is sent, and answers questions about it. It plays the OpenTelemetry
//! collector a deployment would run.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{ExportMetricsServiceRequest, ExportMetricsServiceResponse};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{TraceService, TraceServiceServer};
use opentelemetry_proto::tonic::collector::trace::v1::{ExportTraceServiceRequest, ExportTraceServiceResponse};
use opentelemetry_proto::tonic::common::v1::{any_value, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::{metric, number_data_point};
use tonic::{Request, Response, Status};

/// One data point of a gauge or sum, as received.
#[derive(Clone, Debug, PartialEq)]
pub struct Point {
    pub metric: String,
    pub unit: String,
    /// The resource's `service.name` and `service.instance.id`.
    pub service: String,
    pub instance: String,
    pub attributes: BTreeMap<String, String>,
    pub value: f64,
    pub time_unix_nano: u64,
}

/// One histogram data point's totals.
#[derive(Clone, Debug, PartialEq)]
pub struct HistogramPoint {
    pub metric: String,
    pub service: String,
    pub instance: String,
    pub count: u64,
    pub sum: f64,
    pub time_unix_nano: u64,
}

/// One span, as received.
#[derive(Clone, Debug, PartialEq)]
pub struct Span {
    pub service: String,
    pub name: String,
    pub trace_id: String,
    pub span_id: String,
    pub parent_span_id: String,
    pub attributes: BTreeMap<String, String>,
}

#[derive(Default)]
struct Received {
    points: Vec<Point>,
    histograms: Vec<HistogramPoint>,
    spans: Vec<Span>,
    metric_exports: usize,
}

#[derive(Clone, Default)]
struct Sink(Arc<Mutex<Received>>);

fn text(v: &Option<opentelemetry_proto::tonic::common::v1::AnyValue>) -> String {
    match v.as_ref().and_then(|v| v.value.as_ref()) {
        Some(any_value::Value::StringValue(s)) => s.clone(),
        Some(any_value::Value::IntValue(i)) => i.to_string(),
        Some(any_value::Value::DoubleValue(d)) => d.to_string(),
        Some(any_value::Value::BoolValue(b)) => b.to_string(),
        Some(other) => format!("{other:?}"),
        None => String::new(),
    }
}

fn attributes(kvs: &[KeyValue]) -> BTreeMap<String, String> {
    kvs.iter().map(|kv| (kv.key.clone(), text(&kv.value))).collect()
}

#[tonic::async_trait]
impl MetricsService for Sink {
    async fn export(
        &self,
        request: Request<ExportMetricsServiceRequest>,
    ) -> Result<Response<ExportMetricsServiceResponse>, Status> {
        let mut r = self.0.lock().unwrap();
        r.metric_exports += 1;
        for rm in request.into_inner().resource_metrics {
            let res = attributes(rm.resource.as_ref().map_or(&[][..], |r| &r.attributes));
            let service = res.get("service.name").cloned().unwrap_or_default();
            let instance = res.get("service.instance.id").cloned().unwrap_or_default();
            for sm in rm.scope_metrics {
                for m in sm.metrics {
                    let points = match &m.data {
                        Some(metric::Data::Gauge(g)) => &g.data_points,
                        Some(metric::Data::Sum(s)) => &s.data_points,
                        Some(metric::Data::Histogram(h)) => {
                            for p in &h.data_points {
                                r.histograms.push(HistogramPoint {
                                    metric: m.name.clone(),
                                    service: service.clone(),
                                    instance: instance.clone(),
                                    count: p.count,
                                    sum: p.sum.unwrap_or(0.0),
                                    time_unix_nano: p.time_unix_nano,
                                });
                            }
                            continue;
                        }
                        _ => continue,
                    };
                    for p in points {
                        let value = match p.value {
                            Some(number_data_point::Value::AsDouble(d)) => d,
                            Some(number_data_point::Value::AsInt(i)) => i as f64,
                            None => continue,
                        };
                        r.points.push(Point {
                            metric: m.name.clone(),
                            unit: m.unit.clone(),
                            service: service.clone(),
                            instance: instance.clone(),
                            attributes: attributes(&p.attributes),
                            value,
                            time_unix_nano: p.time_unix_nano,
                        });
                    }
                }
            }
        }
        Ok(Response::new(ExportMetricsServiceResponse::default()))
    }
}

#[tonic::async_trait]
impl TraceService for Sink {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        let mut r = self.0.lock().unwrap();
        for rs in request.into_inner().resource_spans {
            let res = attributes(rs.resource.as_ref().map_or(&[][..], |r| &r.attributes));
            let service = res.get("service.name").cloned().unwrap_or_default();
            for ss in rs.scope_spans {
                for s in ss.spans {
                    r.spans.push(Span {
                        service: service.clone(),
                        name: s.name.clone(),
                        trace_id: hex::encode(&s.trace_id),
                        span_id: hex::encode(&s.span_id),
                        parent_span_id: hex::encode(&s.parent_span_id),
                        attributes: attributes(&s.attributes),
                    });
                }
            }
        }
        Ok(Response::new(ExportTraceServiceResponse::default()))
    }
}

/// The items `key` selects (giving their process and export time) that belong to each
/// process's newest export.
fn newest_export<T: Clone>(items: &[T], key: impl Fn(&T) -> Option<(&str, u64)>) -> Vec<T> {
    let mut newest: BTreeMap<&str, u64> = BTreeMap::new();
    for (instance, time) in items.iter().filter_map(&key) {
        let t = newest.entry(instance).or_default();
        *t = (*t).max(time);
    }
    items
        .iter()
        .filter(|i| key(i).is_some_and(|(instance, time)| newest.get(instance) == Some(&time)))
        .cloned()
        .collect()
}

/// A running receiver; stops when dropped.
pub struct Receiver {
    /// `http://127.0.0.1:<port>`, for `OTEL_EXPORTER_OTLP_ENDPOINT`.
    pub endpoint: String,
    sink: Sink,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

impl Receiver {
    pub fn start() -> Receiver {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let sink = Sink::default();
        let listener = std::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let server = {
            let sink = sink.clone();
            async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
                tonic::transport::Server::builder()
                    .add_service(MetricsServiceServer::new(sink.clone()))
                    .add_service(TraceServiceServer::new(sink))
                    .serve_with_incoming(incoming)
                    .await
            }
        };
        // Spawned, not blocked on: the receiver may be started from inside a test's runtime.
        runtime.spawn(server);
        Receiver {
            endpoint: format!("http://{addr}"),
            sink,
            runtime: Some(runtime),
        }
    }

    /// Metric export requests received so far.
    pub fn metric_exports(&self) -> usize {
        self.sink.0.lock().unwrap().metric_exports
    }

    /// The points of `metric` from each process's newest export of it: a series the process
    /// no longer reports (a coverage reason no resource has any more) is not in it.
    pub fn latest(&self, metric: &str) -> Vec<Point> {
        let r = self.sink.0.lock().unwrap();
        newest_export(&r.points, |p| {
            (p.metric == metric).then_some((p.instance.as_str(), p.time_unix_nano))
        })
    }

    /// The series of histogram `metric` from each process's newest export of it.
    pub fn latest_histogram(&self, metric: &str) -> Vec<HistogramPoint> {
        let r = self.sink.0.lock().unwrap();
        newest_export(&r.histograms, |p| {
            (p.metric == metric).then_some((p.instance.as_str(), p.time_unix_nano))
        })
    }

    /// The newest value of `metric`, summed over its series and grouped by `attribute`.
    pub fn sum_by(&self, metric: &str, attribute: &str) -> BTreeMap<String, f64> {
        let mut out = BTreeMap::new();
        for p in self.latest(metric) {
            let key = p.attributes.get(attribute).cloned().unwrap_or_default();
            *out.entry(key).or_default() += p.value;
        }
        out
    }

    pub fn spans(&self) -> Vec<Span> {
        self.sink.0.lock().unwrap().spans.clone()
    }
}
