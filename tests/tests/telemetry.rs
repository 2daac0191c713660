//! Telemetry end to end: a running `argus up` exports over OTLP to a receiver started here (the
//! role an OpenTelemetry collector plays), and what arrives agrees with the API.

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use argus_coordinator::client::Client;
use argus_proto::v1::{FindingStatus, ListCoverageRequest, ListFindingsRequest};
use argus_tests::cluster::every_finding;
use argus_tests::otlp::{Receiver, Span};
use argus_tests::pipeline::{demo_db, demo_dir};
use argus_tests::{argus_bin, free_port, wait_for, write_file, ChildGuard};

const PATIENCE: Duration = Duration::from_secs(90);

/// Polls `check` until it returns `Ok`, or fails with its last complaint.
async fn eventually<T>(what: &str, mut check: impl AsyncFnMut() -> Result<T, String>) -> T {
    let deadline = Instant::now() + PATIENCE;
    loop {
        match check().await {
            Ok(v) => return v,
            Err(why) if Instant::now() > deadline => panic!("{what}: {why}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(250)).await,
        }
    }
}

/// Coverage reasons of every resource, counted, through ListCoverage pages.
async fn coverage_by_reason(client: &Client) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    let mut token = String::new();
    loop {
        let req = ListCoverageRequest {
            page_token: token.clone(),
            ..Default::default()
        };
        let page = client
            .retry(|c| {
                let r = req.clone();
                async move { c.coverage().list_coverage(r).await }
            })
            .await
            .unwrap();
        for r in page.resources {
            let reason = r.coverage.unwrap_or_default().reason().as_str_name().to_string();
            *out.entry(reason).or_default() += 1.0;
        }
        if page.next_page_token.is_empty() {
            return out;
        }
        token = page.next_page_token;
    }
}

/// ACTIVE findings by severity name.
async fn active_by_severity(client: &Client) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    for f in every_finding(client).await {
        if f.status == FindingStatus::Active as i32 {
            *out.entry(f.severity().as_str_name().to_string()).or_default() += 1.0;
        }
    }
    out
}

/// Series reported as 0 are series that emptied: the same as absent.
fn nonzero(mut sums: BTreeMap<String, f64>) -> BTreeMap<String, f64> {
    sums.retain(|_, v| *v != 0.0);
    sums
}

/// The trace holding every span of one scan, scheduler to commit, if one has arrived.
fn one_scan_trace(spans: &[Span]) -> Result<Vec<Span>, String> {
    let mut traces: BTreeMap<&str, Vec<&Span>> = BTreeMap::new();
    for s in spans {
        traces.entry(&s.trace_id).or_default().push(s);
    }
    let wanted = [
        "scan.dispatch",
        "scan.job",
        "scan.fetch",
        "scan.extract",
        "scan.match",
        "scan.ingest",
        "scan.commit",
    ];
    traces
        .values()
        .find(|t| wanted.iter().all(|w| t.iter().any(|s| s.name == *w)))
        .map(|t| t.iter().map(|s| (*s).clone()).collect())
        .ok_or_else(|| {
            let names: Vec<Vec<&str>> = traces
                .values()
                .map(|t| t.iter().map(|s| s.name.as_str()).collect())
                .collect();
            format!("no trace holds all of {wanted:?}; traces: {names:?}")
        })
}

fn span<'a>(trace: &'a [Span], name: &str) -> &'a Span {
    trace.iter().find(|s| s.name == name).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t01_an_embedded_instance_exports_what_the_api_says_and_one_trace_per_scan() {
    let receiver = Receiver::start();
    let dir = tempfile::tempdir().unwrap();
    let db = demo_db(dir.path());
    let rootfs = demo_dir().join("rootfs");
    // Two resources on one artifact that scans, and one on an SBOM that does not parse
    // (SCAN_FAILED): two coverage reasons to compare.
    let broken = write_file(dir.path(), "broken.json", "{ \"bomFormat\": \"CycloneDX\", broken");
    let targets = write_file(
        dir.path(),
        "targets.toml",
        format!(
            "[[target]]\ntarget = \"{r}\"\nid = \"host-a\"\n\n[[target]]\ntarget = \"{r}\"\nid = \"host-b\"\n\n\
             [[target]]\ntarget = \"{broken}\"\nkind = \"sbom\"\ntype = \"HOST\"\nid = \"broken-sbom\"\n",
            r = rootfs.display(),
            broken = broken.display()
        ),
    );
    let config = write_file(
        dir.path(),
        "argus.toml",
        // One attempt, and the failed artifact's next job far beyond the test: coverage holds still.
        "[pipeline]\nmax_attempts = 1\nretry_base_ms = 600000\n[telemetry]\ncensus_interval_ms = 200\n",
    );
    let addr = format!("127.0.0.1:{}", free_port());
    let log = dir.path().join("up.log");
    let _up = ChildGuard::spawn(
        "argus up",
        Command::new(argus_bin())
            .args(["up", "--listen", &addr, "--db"])
            .arg(&db)
            .arg("--targets")
            .arg(&targets)
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .arg("--config")
            .arg(&config)
            .env("OTEL_EXPORTER_OTLP_ENDPOINT", &receiver.endpoint)
            .env("OTEL_METRIC_EXPORT_INTERVAL", "300")
            .env("OTEL_BSP_SCHEDULE_DELAY", "100")
            .env("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=test")
            .env("RUST_LOG", "info,argus_worker::runner=debug")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap()),
    );
    wait_for("argus up to finish scanning", PATIENCE, || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .contains("serving until interrupted")
    });
    let client = Client::new(&[addr.clone()]).unwrap();

    // Coverage: the leader's census equals ListCoverage, reason by reason.
    let coverage = coverage_by_reason(&client).await;
    assert_eq!(coverage.get("SUCCESSFUL"), Some(&2.0), "{coverage:?}");
    assert_eq!(coverage.get("SCAN_FAILED"), Some(&1.0), "{coverage:?}");
    eventually("coverage metrics equal ListCoverage", async || {
        let got = nonzero(receiver.sum_by("argus.coverage.resources", "coverage.reason"));
        (got == coverage)
            .then_some(())
            .ok_or(format!("{got:?} != {coverage:?}"))
    })
    .await;
    let ratio = receiver.latest("argus.coverage.ratio");
    assert_eq!(ratio.len(), 1, "{ratio:?}");
    assert!((ratio[0].value - 2.0 / 3.0).abs() < 1e-9, "{ratio:?}");
    assert_eq!(ratio[0].attributes["resource.type"], "HOST");
    assert_eq!(ratio[0].unit, "1");
    let never = receiver.sum_by("argus.coverage.never_scanned", "resource.type");
    assert_eq!(never.get("HOST"), Some(&0.0), "every resource got a result: {never:?}");

    // Findings: ACTIVE by severity equals ListFindings; every one was created once.
    let findings = active_by_severity(&client).await;
    let total: f64 = findings.values().sum();
    assert!(total > 0.0, "the demo host has findings");
    eventually("finding metrics equal ListFindings", async || {
        let got = nonzero(receiver.sum_by("argus.findings.active", "finding.severity"));
        (got == findings)
            .then_some(())
            .ok_or(format!("{got:?} != {findings:?}"))
    })
    .await;
    let changes = receiver.sum_by("argus.findings.changes", "change.kind");
    assert_eq!(changes.get("CREATED"), Some(&total), "{changes:?}");
    assert_eq!(changes.get("CLOSED"), Some(&0.0), "{changes:?}");

    // Pipeline and Raft: one artifact scanned, one failed; this node leads.
    let jobs = receiver.sum_by("argus.worker.jobs", "scan.outcome");
    assert_eq!(jobs.get("SUCCEEDED"), Some(&1.0), "{jobs:?}");
    assert_eq!(jobs.get("FAILED"), Some(&1.0), "{jobs:?}");
    let scans = receiver.latest_histogram("argus.worker.scan.duration");
    assert_eq!(scans.iter().map(|h| h.count).sum::<u64>(), 2, "{scans:?}");
    let latency = receiver.latest_histogram("argus.pipeline.latency");
    assert!(latency.iter().map(|h| h.count).sum::<u64>() >= 2, "{latency:?}");
    assert_eq!(
        receiver.sum_by("argus.pipeline.artifacts", ""),
        BTreeMap::from([(String::new(), 2.0)])
    );
    assert_eq!(
        receiver.sum_by("argus.raft.is_leader", ""),
        BTreeMap::from([(String::new(), 1.0)])
    );
    let points = receiver.latest("argus.raft.is_leader");
    assert_eq!(points[0].service, "argus", "the service name Argus sets");

    // Traces: one scan is one trace, each span the child of the step before it.
    let trace = eventually("a complete scan trace", async || one_scan_trace(&receiver.spans())).await;
    let parent_of = |child: &str, parent: &str| {
        assert_eq!(
            span(&trace, child).parent_span_id,
            span(&trace, parent).span_id,
            "{child} is a child of {parent}: {trace:#?}"
        );
    };
    assert!(
        span(&trace, "scan.dispatch").parent_span_id.is_empty(),
        "the dispatch starts the trace"
    );
    parent_of("scan.job", "scan.dispatch");
    parent_of("scan.fetch", "scan.job");
    parent_of("scan.extract", "scan.job");
    parent_of("scan.match", "scan.job");
    parent_of("scan.ingest", "scan.job");
    parent_of("scan.commit", "scan.ingest");
    let job = span(&trace, "scan.job");
    assert_eq!(job.attributes["job.attempt"], "1", "{job:?}");

    // Logs: a line written during that scan carries its trace id.
    let trace_id = &trace[0].trace_id;
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.lines()
            .any(|l| l.contains("job started") && l.ends_with(&format!("trace_id={trace_id}"))),
        "no log line of the scan carries trace_id={trace_id}:\n{text}"
    );

    // The API: a gRPC call made with a trace context joins that trace.
    let mut findings_client = client.findings();
    let mut request = tonic::Request::new(ListFindingsRequest::default());
    let caller_trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    request.metadata_mut().insert(
        "traceparent",
        format!("00-{caller_trace}-00f067aa0ba902b7-01").parse().unwrap(),
    );
    findings_client.list_findings(request).await.unwrap();
    let server = eventually("a server span for the API call", async || {
        receiver
            .spans()
            .into_iter()
            .find(|s| s.trace_id == caller_trace)
            .ok_or_else(|| "not yet".to_string())
    })
    .await;
    assert_eq!(server.name, "argus.v1.FindingsService/ListFindings");
    assert_eq!(server.parent_span_id, "00f067aa0ba902b7");
    assert!(receiver.metric_exports() > 0);
}

/// The same pipeline across processes: three `argus coordinator`s, an `argus worker` and
/// nats-server, all exporting to the receiver (configured in the shared configuration file).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t02_one_trace_spans_coordinator_and_worker_processes_and_only_the_leader_reports_coverage() {
    use argus_proto::v1::PutResourcesRequest;
    use argus_tests::cluster::Cluster;
    use argus_tests::nats::NatsServer;
    use argus_tests::pipeline::{host_dirs, host_resource, Workers};

    let receiver = Receiver::start();
    let nats = NatsServer::start();
    let rest = format!(
        "[pipeline]\nnats_url = \"{}\"\ntick_ms = 100\n[telemetry]\notlp_endpoint = \"{}\"\n\
         export_interval_ms = 300\ncensus_interval_ms = 200\n",
        nats.url(),
        receiver.endpoint
    );
    let cluster = Cluster::start_with(3, "", &rest).await;
    let leader = cluster.wait_leader(None).await;
    let db = demo_db(cluster.dir.path());
    let config = cluster.config.to_str().unwrap().to_string();
    let _workers = Workers::start(1, cluster.dir.path(), &nats.url(), &db, &["--config", &config]);
    let resources = host_dirs(cluster.dir.path(), 2)
        .iter()
        .map(|d| host_resource(d, "100000000001"))
        .collect();
    let req = PutResourcesRequest { resources };
    cluster
        .client()
        .retry(|c| {
            let r = req.clone();
            async move { c.inventory().put_resources(r).await }
        })
        .await
        .unwrap();

    let trace = eventually("a complete scan trace", async || one_scan_trace(&receiver.spans())).await;
    assert_eq!(span(&trace, "scan.dispatch").service, "argus-coordinator");
    assert_eq!(span(&trace, "scan.job").service, "argus-worker");
    assert_eq!(span(&trace, "scan.match").service, "argus-worker");
    assert_eq!(span(&trace, "scan.commit").service, "argus-coordinator");
    assert_eq!(
        span(&trace, "scan.job").parent_span_id,
        span(&trace, "scan.dispatch").span_id,
        "the worker continues the coordinator's trace through NATS"
    );
    assert_eq!(
        span(&trace, "scan.ingest").parent_span_id,
        span(&trace, "scan.job").span_id,
        "ingestion continues the worker's trace through NATS"
    );

    // Coverage comes from the leader alone; every coordinator reports its Raft position.
    eventually("both resources covered in the metrics", async || {
        let got = nonzero(receiver.sum_by("argus.coverage.resources", "coverage.reason"));
        (got.get("SUCCESSFUL") == Some(&2.0))
            .then_some(())
            .ok_or(format!("{got:?}"))
    })
    .await;
    let reporters: std::collections::BTreeSet<String> = receiver
        .latest("argus.coverage.resources")
        .into_iter()
        .map(|p| p.instance)
        .collect();
    assert_eq!(
        reporters,
        [format!("node-{leader}")].into(),
        "only the leader reports coverage"
    );
    let nodes = eventually("every coordinator reports its term", async || {
        let nodes: std::collections::BTreeSet<String> = receiver
            .latest("argus.raft.term")
            .into_iter()
            .map(|p| p.instance)
            .collect();
        (nodes.len() == 3).then_some(nodes.clone()).ok_or(format!("{nodes:?}"))
    })
    .await;
    assert!(nodes.contains(&format!("node-{leader}")));
    let leaders: f64 = receiver.latest("argus.raft.is_leader").iter().map(|p| p.value).sum();
    assert_eq!(leaders, 1.0);
}
