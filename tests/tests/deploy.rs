//! The deploy assets, checked offline: no Docker engine, collector, Prometheus or Grafana runs
//! here, so these tests read the files and hold them to what those programs require and to what
//! Argus really offers: the compose commands against the `argus` command line (read from its
//! clap definitions), the dashboard's queries against the metric catalogue in docs/metrics.md.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_yaml::Value;

#[path = "support/cli.rs"]
mod cli;
// For its YAML stream splitting; the Kubernetes checks in it are the other binary's.
#[allow(dead_code)]
#[path = "support/kube.rs"]
mod kube;

use kube::documents;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn deploy() -> PathBuf {
    repo().join("deploy")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// A YAML file with its `<<` merge keys applied, as docker compose reads it.
fn yaml(path: &Path) -> Value {
    let mut v: Value = serde_yaml::from_str(&read(path)).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    v.apply_merge()
        .unwrap_or_else(|e| panic!("{}: merge keys: {e}", path.display()));
    v
}

/// The documents of a YAML stream: the text between `---` lines (empty ones dropped).
fn collector() -> Value {
    yaml(&deploy().join("otel/collector.yaml"))
}

fn compose() -> Value {
    yaml(&deploy().join("compose/docker-compose.yml"))
}

fn dashboard() -> serde_json::Value {
    let path = deploy().join("grafana/dashboards/argus.json");
    serde_json::from_str(&read(&path)).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files_under(&path, out);
        } else {
            out.push(path);
        }
    }
}

fn str_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        other => panic!("expected a scalar, found {other:?}"),
    }
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_mapping()
        .map(|m| m.keys().map(str_of).collect())
        .unwrap_or_default()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_sequence()
        .map(|s| s.iter().map(str_of).collect())
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// Every file parses

#[test]
fn every_yaml_and_json_file_under_deploy_parses() {
    let mut files = Vec::new();
    files_under(&deploy(), &mut files);
    let (mut yamls, mut jsons) = (0, 0);
    for f in &files {
        match f.extension().and_then(|e| e.to_str()) {
            Some("yaml" | "yml") => {
                // Kubernetes manifests hold several documents (kubernetes.rs checks them).
                for doc in documents(&read(f)) {
                    let mut v: Value = serde_yaml::from_str(doc).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
                    v.apply_merge()
                        .unwrap_or_else(|e| panic!("{}: merge keys: {e}", f.display()));
                    assert!(v.is_mapping(), "{}: a document is not a mapping", f.display());
                }
                yamls += 1;
            }
            Some("json") => {
                serde_json::from_str::<serde_json::Value>(&read(f)).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
                jsons += 1;
            }
            _ => {}
        }
    }
    // Collector, Prometheus, two Grafana provisioning files, compose; the dashboard.
    assert!(yamls >= 5, "only {yamls} YAML files under deploy/");
    assert!(jsons >= 1, "no dashboard JSON under deploy/");
}

// ---------------------------------------------------------------------------------------------
// Collector

#[test]
fn collector_receives_otlp_grpc_and_exports_prometheus_with_the_documented_naming() {
    let c = collector();
    let grpc = &c["receivers"]["otlp"]["protocols"]["grpc"];
    assert!(grpc.is_mapping(), "the otlp receiver has no grpc protocol");
    assert_eq!(str_of(&grpc["endpoint"]), "0.0.0.0:4317");
    let prom = &c["exporters"]["prometheus"];
    assert!(prom.is_mapping(), "no prometheus exporter");
    assert!(str_of(&prom["endpoint"]).ends_with(":8889"), "{prom:?}");
    // The naming rule of deploy/README.md and of the dashboard: OTel names with `.` as `_`.
    assert_eq!(
        prom["add_metric_suffixes"],
        Value::Bool(false),
        "suffixes would rename every metric"
    );
    assert!(
        prom["namespace"].is_null() || prom["namespace"] == Value::String(String::new()),
        "a namespace would prefix every metric"
    );
    assert_eq!(prom["resource_to_telemetry_conversion"]["enabled"], Value::Bool(true));
}

/// A component id is `type` or `type/name`; the pipeline must name one defined in its section.
#[test]
fn collector_pipelines_use_only_defined_components() {
    let c = collector();
    let pipelines = &c["service"]["pipelines"];
    for signal in ["metrics", "traces"] {
        let p = &pipelines[signal];
        assert!(p.is_mapping(), "no {signal} pipeline");
        for (role, section) in [
            ("receivers", "receivers"),
            ("processors", "processors"),
            ("exporters", "exporters"),
        ] {
            let used = strings(&p[role]);
            assert!(
                !used.is_empty() || role == "processors",
                "{signal} pipeline has no {role}"
            );
            let defined = keys(&c[section]);
            for id in used {
                assert!(
                    defined.contains(&id),
                    "{signal} pipeline uses {section} `{id}`, not defined"
                );
            }
        }
    }
    assert!(strings(&pipelines["metrics"]["exporters"]).contains(&"prometheus".to_string()));
    assert!(strings(&pipelines["metrics"]["receivers"]).contains(&"otlp".to_string()));
    assert!(strings(&pipelines["traces"]["receivers"]).contains(&"otlp".to_string()));
    // The memory limiter only protects the collector when it comes first.
    for signal in ["metrics", "traces"] {
        let processors = strings(&pipelines[signal]["processors"]);
        assert_eq!(
            processors.first().map(String::as_str),
            Some("memory_limiter"),
            "{signal}"
        );
    }
    let defined = keys(&c["extensions"]);
    for ext in strings(&c["service"]["extensions"]) {
        assert!(defined.contains(&ext), "extension `{ext}` not defined");
    }
}

// ---------------------------------------------------------------------------------------------
// Prometheus and Grafana wiring

fn host_port(s: &str) -> (String, String) {
    let s = s.split("://").last().unwrap();
    let s = s.split('/').next().unwrap();
    let (h, p) = s.rsplit_once(':').unwrap_or_else(|| panic!("{s}: no port"));
    (h.to_string(), p.to_string())
}

#[test]
fn prometheus_scrapes_the_collectors_exporter_every_15_seconds() {
    let p = yaml(&deploy().join("prometheus/prometheus.yml"));
    let (_, exporter_port) = host_port(&str_of(&collector()["exporters"]["prometheus"]["endpoint"]));
    let services = keys(&compose()["services"]);
    let jobs = p["scrape_configs"].as_sequence().expect("scrape_configs");
    let mut scraped = false;
    for job in jobs {
        let interval = job["scrape_interval"]
            .as_str()
            .or(p["global"]["scrape_interval"].as_str());
        assert_eq!(interval, Some("15s"), "{job:?}");
        for sc in job["static_configs"].as_sequence().into_iter().flatten() {
            for t in strings(&sc["targets"]) {
                let (host, port) = host_port(&t);
                assert!(services.contains(&host), "target {t}: no compose service `{host}`");
                if host == "otel-collector" && port == exporter_port {
                    scraped = true;
                    // Otherwise each series' job/instance (the argus process) would be replaced
                    // by the collector's.
                    assert_eq!(job["honor_labels"], Value::Bool(true), "{job:?}");
                }
            }
        }
    }
    assert!(scraped, "nothing scrapes otel-collector:{exporter_port}");
}

/// Container path → host path (relative to the compose file) of a service's bind mounts.
fn bind_mounts(service: &Value) -> BTreeMap<String, String> {
    strings(&service["volumes"])
        .into_iter()
        .filter(|v| v.starts_with('.') || v.starts_with('/'))
        .map(|v| {
            let mut parts = v.split(':');
            let (host, container) = (parts.next().unwrap(), parts.next().unwrap());
            (container.to_string(), host.to_string())
        })
        .collect()
}

#[test]
fn grafana_provisioning_loads_the_dashboard_from_the_provisioned_prometheus() {
    let prov = deploy().join("grafana/provisioning");
    let ds = yaml(&prov.join("datasources/prometheus.yaml"));
    let sources = ds["datasources"].as_sequence().expect("datasources");
    let prom = sources
        .iter()
        .find(|d| d["type"] == Value::String("prometheus".into()))
        .expect("a prometheus datasource");
    let uid = str_of(&prom["uid"]);
    let (host, port) = host_port(&str_of(&prom["url"]));
    let compose = compose();
    assert!(
        compose["services"][host.as_str()].is_mapping(),
        "datasource host `{host}` is no service"
    );
    assert_eq!(port, "9090");

    let grafana = &compose["services"]["grafana"];
    let mounts = bind_mounts(grafana);
    assert_eq!(
        mounts.get("/etc/grafana/provisioning").map(String::as_str),
        Some("../grafana/provisioning")
    );
    let providers = yaml(&prov.join("dashboards/argus.yaml"));
    let provider = &providers["providers"][0];
    assert_eq!(str_of(&provider["type"]), "file");
    let path = str_of(&provider["options"]["path"]);
    assert_eq!(
        mounts.get(&path).map(String::as_str),
        Some("../grafana/dashboards"),
        "the provider reads {path}, where compose does not mount deploy/grafana/dashboards"
    );

    let d = dashboard();
    assert_eq!(d["uid"], "argus-overview");
    assert_eq!(d["title"], "Argus overview");
    let mut ids = BTreeSet::new();
    for p in panels(&d) {
        assert!(
            ids.insert(p["id"].as_u64().expect("panel id")),
            "panel id {} twice",
            p["id"]
        );
        let g = &p["gridPos"];
        assert!(
            g["x"].as_u64().unwrap() + g["w"].as_u64().unwrap() <= 24,
            "{} wider than the grid",
            p["title"]
        );
        if p["type"] == "row" {
            continue;
        }
        assert_eq!(p["datasource"]["uid"], uid.as_str(), "panel {}", p["title"]);
        for t in p["targets"].as_array().expect("targets") {
            assert_eq!(t["datasource"]["uid"], uid.as_str(), "panel {}", p["title"]);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Compose

#[test]
fn compose_references_only_defined_services_volumes_and_networks() {
    let c = compose();
    let services = c["services"].as_mapping().expect("services");
    let names = keys(&c["services"]);
    let volumes = keys(&c["volumes"]);
    let networks = keys(&c["networks"]);
    for (name, s) in services {
        let name = str_of(name);
        let deps: Vec<String> = match &s["depends_on"] {
            Value::Sequence(_) => strings(&s["depends_on"]),
            Value::Mapping(_) => keys(&s["depends_on"]).into_iter().collect(),
            Value::Null => vec![],
            other => panic!("{name}: depends_on {other:?}"),
        };
        for d in deps {
            assert!(names.contains(&d), "{name} depends on `{d}`, no such service");
            assert_ne!(d, name, "{name} depends on itself");
        }
        for v in strings(&s["volumes"]) {
            let source = v.split(':').next().unwrap();
            if !(source.starts_with('.') || source.starts_with('/')) {
                assert!(
                    volumes.contains(source),
                    "{name} mounts volume `{source}`, not declared"
                );
            }
        }
        let used: Vec<String> = match &s["networks"] {
            Value::Sequence(_) => strings(&s["networks"]),
            Value::Mapping(_) => keys(&s["networks"]).into_iter().collect(),
            _ => vec![],
        };
        for n in used {
            assert!(networks.contains(&n), "{name} joins network `{n}`, not declared");
        }
    }
}

#[test]
fn compose_bind_mounts_and_build_context_name_files_in_the_repository() {
    let dir = deploy().join("compose");
    let c = compose();
    let mut mounts = 0;
    for (name, s) in c["services"].as_mapping().unwrap() {
        for (container, host) in bind_mounts(s) {
            let path = dir.join(&host);
            assert!(
                path.exists(),
                "{}: {host} (for {container}) does not exist",
                str_of(name)
            );
            mounts += 1;
        }
        if s["build"].is_mapping() {
            let ctx = dir.join(str_of(&s["build"]["context"]));
            let file = s["build"]["dockerfile"].as_str().unwrap_or("Dockerfile");
            assert!(
                ctx.join(file).is_file(),
                "{}: no {file} in the build context",
                str_of(name)
            );
        }
    }
    assert!(
        mounts >= 4,
        "collector, prometheus and grafana configuration are not all mounted"
    );
    // The compose file mounts the collector configuration that the tests above check.
    assert_eq!(
        bind_mounts(&c["services"]["otel-collector"])
            .values()
            .next()
            .map(String::as_str),
        Some("../otel/collector.yaml")
    );
}

/// Services running the argus image, with their argument lists (after the `argus` entrypoint).
fn argus_services(c: &Value) -> Vec<(String, &Value, Vec<String>)> {
    c["services"]
        .as_mapping()
        .unwrap()
        .iter()
        .filter(|(_, s)| s["image"].as_str().is_some_and(|i| i.starts_with("argus:")))
        .map(|(n, s)| (str_of(n), s, strings(&s["command"])))
        .collect()
}

#[test]
fn every_argus_service_exports_telemetry_to_the_collector() {
    let c = compose();
    let services = argus_services(&c);
    assert!(services.len() >= 5, "{} argus services", services.len());
    let (_, port) = host_port(&str_of(
        &collector()["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"],
    ));
    for (name, s, _) in services {
        let env = &s["environment"];
        assert!(env.is_mapping(), "{name}: environment must be a mapping");
        assert_eq!(
            env["OTEL_EXPORTER_OTLP_ENDPOINT"].as_str(),
            Some(format!("http://otel-collector:{port}").as_str()),
            "{name}"
        );
        assert!(
            env["OTEL_RESOURCE_ATTRIBUTES"]
                .as_str()
                .is_some_and(|a| a.contains('=')),
            "{name}: no OTEL_RESOURCE_ATTRIBUTES"
        );
    }
}

fn flag_value(args: &[String], flag: &str) -> Vec<String> {
    args.windows(2).filter(|w| w[0] == flag).map(|w| w[1].clone()).collect()
}

#[test]
fn compose_runs_three_coordinators_that_init_joins_into_one_cluster() {
    let c = compose();
    let services = argus_services(&c);
    let mut coordinators = BTreeMap::new();
    for (name, _, args) in &services {
        if args.first().map(String::as_str) == Some("coordinator") {
            let id = flag_value(args, "--node-id").pop().expect("--node-id");
            let advertise = flag_value(args, "--advertise").pop().expect("--advertise");
            let (host, _) = host_port(&advertise);
            assert_eq!(&host, name, "{name} advertises another host");
            assert!(
                !flag_value(args, "--nats").is_empty(),
                "{name} has no NATS: it would never schedule"
            );
            assert!(
                coordinators.insert(id.clone(), advertise).is_none(),
                "node id {id} twice"
            );
        }
    }
    assert_eq!(coordinators.len(), 3, "{coordinators:?}");
    let (_, _, init) = services
        .iter()
        .find(|(_, _, a)| a.first().map(String::as_str) == Some("cluster") && a.contains(&"init".to_string()))
        .expect("a service running `argus cluster init`");
    let members: BTreeMap<String, String> = flag_value(init, "--member")
        .into_iter()
        .map(|m| {
            let (id, addr) = m.split_once('=').unwrap();
            (id.to_string(), addr.to_string())
        })
        .collect();
    assert_eq!(members, coordinators, "init's members are not the coordinators");
}

// ---------------------------------------------------------------------------------------------
// The argus command line, read from its clap definitions in coordinator/src/cli

#[test]
fn the_cli_model_read_from_source_accepts_real_commands_and_rejects_wrong_ones() {
    let cli = cli::parse_cli(&repo());
    let ok = |s: &str| cli.check(&s.split(' ').map(String::from).collect::<Vec<_>>());
    ok("coordinator --node-id 1 --listen 0.0.0.0:7400 --data-dir /d --nats nats://n:4222").unwrap();
    ok("cluster --addr a:1 init --member 1=a:1 --member 2=b:1").unwrap();
    ok("db --db /x update").unwrap();
    ok("db update --db /x").unwrap();
    ok("worker --nats nats://n:4222 --db-dir /d --plain-http").unwrap();
    ok("--config /c.toml worker --nats=nats://n:4222").unwrap();
    ok("coordinator --node-ids 1").unwrap_err();
    ok("cluster init --member 1=a:1 --addr a:1").unwrap_err();
    ok("cluster start").unwrap_err();
    ok("cluster").unwrap_err();
    ok("coordinator extra").unwrap_err();
}

#[test]
fn compose_argus_commands_use_only_existing_subcommands_and_flags() {
    let cli = cli::parse_cli(&repo());
    let c = compose();
    let services = argus_services(&c);
    let sources = cli::sources(&repo());
    for (name, s, args) in &services {
        assert!(!args.is_empty(), "{name}: no command");
        cli.check(args).unwrap_or_else(|e| panic!("service {name}: {e}"));
        for var in keys(&s["environment"]).into_iter().filter(|k| k.starts_with("ARGUS_")) {
            assert!(
                sources.contains(&format!("env = \"{var}\"")),
                "service {name}: {var} is read by no flag"
            );
        }
    }
    let subcommands: BTreeSet<&str> = services.iter().map(|(_, _, a)| a[0].as_str()).collect();
    for expected in ["coordinator", "worker", "cluster", "db"] {
        assert!(subcommands.contains(expected), "no service runs `argus {expected}`");
    }
}

// ---------------------------------------------------------------------------------------------
// Dashboard against the metric catalogue

/// A metric of docs/metrics.md: its kind and the Prometheus labels of its attributes.
struct Documented {
    kind: String,
    labels: BTreeSet<String>,
}

/// Documented metrics by OTel name, from the tables of docs/metrics.md (name, kind, unit,
/// attributes, ...). Attribute names are the backticked dotted words of the attributes column.
fn documented_metrics() -> BTreeMap<String, Documented> {
    let text = read(&repo().join("docs/metrics.md"));
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("| `argus.") else {
            continue;
        };
        let cols: Vec<&str> = line.split('|').map(str::trim).collect();
        let name = format!("argus.{}", rest.split('`').next().unwrap());
        let labels = cols[4]
            .split('`')
            .skip(1)
            .step_by(2)
            .filter(|w| w.contains('.'))
            .map(|w| w.replace('.', "_"))
            .collect();
        let doc = Documented {
            kind: cols[2].to_string(),
            labels,
        };
        out.insert(name, doc);
    }
    assert!(
        out.len() > 20,
        "docs/metrics.md tables not found ({} metrics)",
        out.len()
    );
    out
}

/// The Prometheus names the collector's exporter produces with `add_metric_suffixes: false`:
/// the OTel name with `.` as `_`; a histogram only as its `_bucket`, `_sum` and `_count`.
fn prometheus_names(documented: &BTreeMap<String, Documented>) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (name, doc) in documented {
        let base = name.replace('.', "_");
        if doc.kind == "histogram" {
            for s in ["_bucket", "_sum", "_count"] {
                out.insert(format!("{base}{s}"), name.clone());
            }
        } else {
            out.insert(base, name.clone());
        }
    }
    out
}

fn panels(d: &serde_json::Value) -> Vec<&serde_json::Value> {
    let mut out = Vec::new();
    for p in d["panels"].as_array().expect("panels") {
        out.push(p);
        out.extend(p["panels"].as_array().into_iter().flatten());
    }
    out
}

/// Every (panel title, PromQL expression) of the dashboard.
fn queries(d: &serde_json::Value) -> Vec<(String, String)> {
    panels(d)
        .into_iter()
        .flat_map(|p| {
            let title = p["title"].as_str().unwrap_or_default().to_string();
            p["targets"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(move |t| t["expr"].as_str().map(|e| (title.clone(), e.to_string())))
        })
        .collect()
}

/// Metric names an expression selects: identifiers starting `argus_` outside string literals
/// and label matchers (label names and values never name a metric).
fn metric_names(expr: &str) -> Vec<String> {
    let mut cleaned = String::new();
    let (mut in_str, mut braces, mut escaped) = (false, 0, false);
    for ch in expr.chars() {
        if in_str {
            if escaped {
                escaped = false;
            } else if ch == '\\' {
                escaped = true;
            } else if ch == '"' {
                in_str = false;
            }
            cleaned.push(' ');
            continue;
        }
        match ch {
            '"' => in_str = true,
            '{' => braces += 1,
            '}' => braces -= 1,
            _ if braces == 0 => {
                cleaned.push(ch);
                continue;
            }
            _ => {}
        }
        cleaned.push(' ');
    }
    let mut names = Vec::new();
    let mut prev = ' ';
    let mut word = String::new();
    for ch in cleaned.chars().chain([' ']) {
        if ch.is_ascii_alphanumeric() || ch == '_' || ch == ':' {
            if word.is_empty() && prev == '$' {
                word.push('$');
            }
            word.push(ch);
        } else {
            if word.starts_with("argus_") {
                names.push(std::mem::take(&mut word));
            }
            word.clear();
        }
        prev = ch;
    }
    names
}

#[test]
fn dashboard_queries_only_documented_metrics() {
    let prom = collector();
    // The mapping below is the exporter's only with this setting (checked above as well).
    assert_eq!(
        prom["exporters"]["prometheus"]["add_metric_suffixes"],
        Value::Bool(false)
    );
    let known = prometheus_names(&documented_metrics());
    let qs = queries(&dashboard());
    assert!(qs.len() > 20, "{} queries", qs.len());
    for (title, expr) in qs {
        let used = metric_names(&expr);
        assert!(!used.is_empty(), "panel {title:?}: `{expr}` selects no argus metric");
        for m in used {
            assert!(
                known.contains_key(&m),
                "panel {title:?}: `{m}` is not a Prometheus name of any metric in docs/metrics.md"
            );
        }
    }
}

#[test]
fn dashboard_has_panels_for_coverage_findings_by_severity_queue_depth_and_latency() {
    let documented = documented_metrics();
    let qs = queries(&dashboard());
    let panel_using = |metric: &str, also: &str| {
        qs.iter()
            .any(|(_, e)| metric_names(e).iter().any(|m| m == metric) && e.contains(also))
    };
    // The metrics issue 6 names for the dashboard, and how each must be shown.
    for (otel, prom, also) in [
        ("argus.coverage.ratio", "argus_coverage_ratio", ""),
        (
            "argus.findings.active",
            "argus_findings_active",
            "by (finding_severity)",
        ),
        ("argus.pipeline.jobs.queued", "argus_pipeline_jobs_queued", ""),
        (
            "argus.pipeline.latency",
            "argus_pipeline_latency_bucket",
            "histogram_quantile(0.99",
        ),
        (
            "argus.pipeline.latency",
            "argus_pipeline_latency_bucket",
            "histogram_quantile(0.5",
        ),
    ] {
        assert!(documented.contains_key(otel), "{otel} is no longer in docs/metrics.md");
        assert!(panel_using(prom, also), "no panel queries {prom} with `{also}`");
    }
    // And the rest of the brief: one leader at a time, throughput, DB age.
    for prom in [
        "argus_coverage_resources",
        "argus_coverage_never_scanned",
        "argus_coverage_oldest_scan_age",
        "argus_findings_kev",
        "argus_findings_fix_available",
        "argus_findings_changes",
        "argus_pipeline_jobs_in_flight",
        "argus_worker_scan_duration_bucket",
        "argus_worker_jobs",
        "argus_worker_busy",
        "argus_worker_capacity",
        "argus_worker_vulndb_age",
        "argus_raft_is_leader",
        "argus_raft_term",
        "argus_raft_replication_lag",
        "argus_feed_lag",
    ] {
        assert!(panel_using(prom, ""), "no panel queries {prom}");
    }
}

/// Label names an expression groups by (`by (..)`, `without (..)`) or matches (`{name="..."}`).
fn label_names(expr: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let ident = |s: &str| s.trim().chars().all(|c| c.is_ascii_alphanumeric() || c == '_') && !s.trim().is_empty();
    for kw in ["by", "without"] {
        let mut rest = expr;
        while let Some(at) = rest.find(kw) {
            let before = rest[..at].chars().next_back();
            let after = rest[at + kw.len()..].trim_start();
            rest = &rest[at + kw.len()..];
            if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') || !after.starts_with('(') {
                continue;
            }
            let list = &after[1..after.find(')').unwrap()];
            out.extend(list.split(',').filter(|l| ident(l)).map(|l| l.trim().to_string()));
        }
    }
    let mut rest = expr;
    while let Some(open) = rest.find('{') {
        let close = open + rest[open..].find('}').expect("unclosed {");
        for matcher in rest[open + 1..close].split(',') {
            let name = matcher.split(['=', '!']).next().unwrap();
            if ident(name) {
                out.insert(name.trim().to_string());
            }
        }
        rest = &rest[close + 1..];
    }
    out
}

/// Labels in a legend format (`{{name}}`).
fn legend_labels(legend: &str) -> BTreeSet<String> {
    legend
        .split("{{")
        .skip(1)
        .map(|s| s.split("}}").next().unwrap().trim().to_string())
        .collect()
}

/// Labels every series carries besides its attributes: the exporter's `job` and `instance`
/// (service.name, service.instance.id), the resource attributes turned into labels, and a
/// histogram bucket's `le`.
const SERIES_LABELS: [&str; 6] = [
    "job",
    "instance",
    "service_name",
    "service_instance_id",
    "deployment_environment",
    "le",
];

#[test]
fn dashboard_splits_only_by_documented_attributes() {
    let documented = documented_metrics();
    let prom = prometheus_names(&documented);
    for p in panels(&dashboard()) {
        for t in p["targets"].as_array().into_iter().flatten() {
            let expr = t["expr"].as_str().unwrap_or_default();
            let mut allowed: BTreeSet<String> = SERIES_LABELS.iter().map(|s| s.to_string()).collect();
            for m in metric_names(expr) {
                if let Some(otel) = prom.get(&m) {
                    allowed.extend(documented[otel].labels.iter().cloned());
                }
            }
            let legend = t["legendFormat"].as_str().unwrap_or_default();
            for l in label_names(expr).into_iter().chain(legend_labels(legend)) {
                assert!(
                    allowed.contains(&l),
                    "panel {}: label `{l}` is no attribute of the metrics in `{expr}` (docs/metrics.md)",
                    p["title"]
                );
            }
        }
    }
}

#[test]
fn label_names_are_read_from_groupings_and_matchers() {
    let expr = r#"sum by (le, job_kind) (max without (instance) (rate(argus_x_bucket{a="b", c!~"d"}[5m]))) by(e)"#;
    let want: BTreeSet<String> = ["le", "job_kind", "instance", "a", "c", "e"].map(String::from).into();
    assert_eq!(label_names(expr), want);
    assert_eq!(
        legend_labels("p50 {{job_kind}} {{ le }}"),
        ["job_kind", "le"].map(String::from).into()
    );
}

#[test]
fn metric_names_are_read_outside_label_matchers_and_strings() {
    assert_eq!(
        metric_names(r#"sum by (le) (rate(argus_a_bucket{x="argus_b", y=~"a\"argus_c"}[$__rate_interval])) / argus_d"#),
        ["argus_a_bucket", "argus_d"]
    );
    assert!(metric_names("$argus_var").is_empty());
}
