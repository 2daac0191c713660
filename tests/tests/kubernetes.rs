//! The Kubernetes manifests of deploy/kubernetes, checked offline: no cluster, kubectl, kustomize
//! or Helm runs here, so these tests hold the files to what the API server and the controllers
//! require (support/kube.rs) and to what Argus really offers: its command line read from the
//! clap definitions, its configuration parsed by `Config::load`, its queue names, health
//! services and cluster membership rules. `check` lists every problem of a directory tree; the
//! tests run it on the real tree, and on copies broken on purpose to show that each kind of
//! mistake is caught.

#[path = "support/argus.rs"]
mod argus;
#[path = "support/cli.rs"]
mod cli;
#[path = "support/kube.rs"]
mod kube;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use argus::{flag_values, port_of, Argus};
use argus_coordinator::config::Config;
use kube::{bytes, find, seq, strings, text, Doc};
use serde_yaml::Value;

const NAMESPACE: &str = "argus";

fn kube_dir() -> PathBuf {
    kube::repo().join("deploy/kubernetes")
}

/// A deploy/kubernetes tree (the real one or a copy).
struct Tree {
    kustomization: Value,
    /// What `kubectl apply -k` applies.
    base: Vec<Doc>,
    keda_kustomization: Value,
    /// The overlay's own manifests.
    keda: Vec<Doc>,
    /// `secrets/*.example.yaml`: applied by hand, after filling in.
    examples: Vec<Doc>,
    /// Helm values for the NATS chart.
    nats: Value,
}

fn first(docs: Vec<Doc>) -> Value {
    docs.into_iter().next().map(|d| d.v).unwrap_or(Value::Null)
}

fn load_tree(root: &Path, problems: &mut Vec<String>) -> Tree {
    let kustomization = first(kube::load(root, "kustomization.yaml", problems));
    let base = strings(&kustomization["resources"])
        .iter()
        .filter(|r| root.join(r).is_file())
        .flat_map(|r| kube::load(root, r, problems))
        .collect();
    for dir in kube::subdirectories(root) {
        if !["keda", "nats", "secrets"].contains(&dir.as_str()) {
            problems.push(format!("{dir}/: no check knows this directory"));
        }
    }
    let keda_kustomization = first(kube::load(root, "keda/kustomization.yaml", problems));
    let keda = strings(&keda_kustomization["resources"])
        .iter()
        .filter(|r| !r.ends_with('/') && root.join("keda").join(r).is_file())
        .flat_map(|r| kube::load(root, &format!("keda/{r}"), problems))
        .collect();
    let mut examples = Vec::new();
    for f in kube::yaml_files(&root.join("secrets")) {
        if !f.ends_with(".example.yaml") {
            problems.push(format!("secrets/{f}: only examples (*.example.yaml) belong here"));
        }
        examples.extend(kube::load(root, &format!("secrets/{f}"), problems));
    }
    if kube::yaml_files(&root.join("nats")) != ["values.yaml"] {
        problems.push("nats/ must hold values.yaml only".into());
    }
    let nats = first(kube::load(root, "nats/values.yaml", problems));
    Tree {
        kustomization,
        base,
        keda_kustomization,
        keda,
        examples,
        nats,
    }
}

/// Every problem of the tree at `root`.
fn check(root: &Path) -> Vec<String> {
    let mut p = Vec::new();
    let t = load_tree(root, &mut p);
    let base: Vec<&Doc> = t.base.iter().collect();
    let examples: Vec<&Doc> = t.examples.iter().collect();
    let keda: Vec<&Doc> = t.keda.iter().collect();
    let all: Vec<&Doc> = base.iter().chain(&keda).chain(&examples).copied().collect();

    kube::check_kustomization_lists(root, &t.kustomization, "", &mut p);
    kube::check_kustomization_lists(&root.join("keda"), &t.keda_kustomization, "keda/", &mut p);
    for (k, rel) in [(&t.kustomization, ""), (&t.keda_kustomization, "keda/")] {
        if k["kind"] != "Kustomization" {
            p.push(format!("{rel}kustomization.yaml: not a Kustomization"));
        }
    }
    if t.kustomization["namespace"].as_str() != Some(NAMESPACE) {
        p.push(format!("kustomization.yaml: namespace is not `{NAMESPACE}`"));
    }
    if !strings(&t.keda_kustomization["resources"]).contains(&"../".to_string()) {
        p.push("keda/kustomization.yaml: does not build on ../".into());
    }
    kube::check_documents(&all, NAMESPACE, &mut p);
    if base.iter().filter(|d| d.kind() == "Namespace").count() != 1 {
        p.push("kustomization: not exactly one Namespace".into());
    }
    kube::check_pods(&base, &examples, &mut p);
    kube::check_selectors(&base, &mut p);
    kube::check_autoscalers(&base, &base, &mut p);
    kube::check_autoscalers(&keda, &base, &mut p);

    let nats_url = check_nats_values(&t.nats, &mut p);
    let configs = argus::check_argus_containers(&base, &examples, &nats_url, &mut p);
    let members = argus::check_coordinators(&base, &mut p);
    argus::check_cluster_init(&base, &members, &mut p);
    check_workers(&t, &base, &configs, &mut p);
    check_keda(&keda, &t.nats, &mut p);
    check_vulndb_refresh(&base, &configs, &mut p);
    check_collector(&base, &mut p);
    check_images(&t.kustomization, &all, &mut p);
    p
}

// ---------------------------------------------------------------------------------------------
// Workers, their scalers, the database refresh

/// `argus worker`'s default for a flag, read from its clap definition (`default_value_t = N`).
fn worker_default(field: &str) -> Option<u64> {
    let src = std::fs::read_to_string(kube::repo().join("coordinator/src/cli/worker.rs")).unwrap();
    let at = src.find(&format!("pub {field}:"))?;
    let attr = src[..at].rsplit("#[arg(").next()?;
    attr.split("default_value_t = ")
        .nth(1)?
        .split([',', ')'])
        .next()?
        .trim()
        .parse()
        .ok()
}

fn check_workers(t: &Tree, base: &[&Doc], configs: &BTreeMap<String, Config>, problems: &mut Vec<String>) {
    let mut ignored = Vec::new();
    let all = argus::argus_containers(base, &mut ignored);
    let found: Vec<&Argus> = all.iter().filter(|a| a.subcommand() == "worker").collect();
    let [a] = found.as_slice() else {
        problems.push(format!("{} containers run `argus worker`, expected one", found.len()));
        return;
    };
    let (id, d) = (&a.id, a.w.doc);
    if d.kind() != "Deployment" {
        problems.push(format!("{id}: workers are a Deployment"));
    }
    let grace = flag_values(&a.argv, "--shutdown-grace-secs")
        .pop()
        .and_then(|v| v.parse().ok())
        .or_else(|| worker_default("shutdown_grace_secs"))
        .unwrap_or(u64::MAX);
    let period = a.w.spec()["terminationGracePeriodSeconds"].as_u64().unwrap_or(30);
    if grace + 5 > period {
        problems.push(format!(
            "{id}: terminationGracePeriodSeconds {period} leaves the {grace} s shutdown grace no margin"
        ));
    }
    let db_dir = flag_values(&a.argv, "--db-dir").pop().unwrap_or_default();
    match a.mount_of(&db_dir) {
        Some(m) if m["readOnly"] != Value::Bool(true) => {}
        _ => problems.push(format!("{id}: --db-dir {db_dir:?} is not on a writable volume")),
    }
    let concurrency: Option<u64> = flag_values(&a.argv, "--concurrency").pop().and_then(|v| v.parse().ok());
    let memory = a.c["resources"]["limits"]["memory"].as_str().and_then(bytes);
    match (concurrency, memory, configs.get("worker")) {
        (Some(n), Some(limit), Some(c)) if n * c.limits.max_kept_bytes < limit => {}
        (None, ..) => problems.push(format!(
            "{id}: --concurrency must be set (the default is the node's CPUs)"
        )),
        _ => problems.push(format!(
            "{id}: --concurrency × limits.max_kept_bytes must stay below the memory limit"
        )),
    }
    let hpas: Vec<&&Doc> = base
        .iter()
        .filter(|h| {
            h.kind() == "HorizontalPodAutoscaler" && kube::scale_target(h, base).is_some_and(|t| t.id() == d.id())
        })
        .collect();
    if hpas.len() != 1 {
        problems.push(format!(
            "{id}: {} HorizontalPodAutoscalers scale it, expected one",
            hpas.len()
        ));
    }
    if !d.v["spec"]["replicas"].is_null() {
        problems.push(format!("{id}: `replicas` is set, but an autoscaler owns it"));
    }
    let keda: Vec<&Doc> = t.keda.iter().collect();
    let scaled = keda
        .iter()
        .any(|s| s.kind() == "ScaledObject" && kube::scale_target(s, base).is_some_and(|x| x.id() == d.id()));
    if !scaled {
        problems.push(format!("{id}: no ScaledObject in keda/ scales it"));
    }
    // The overlay must drop the HPA: two scalers on one Deployment fight over its replicas.
    let deleted: Vec<(String, String)> = seq(&t.keda_kustomization["patches"])
        .iter()
        .filter(|p| p["patch"].as_str().is_some_and(|s| s.contains("$patch: delete")))
        .map(|p| {
            let target = &p["target"];
            (
                target["kind"].as_str().unwrap_or("").into(),
                target["name"].as_str().unwrap_or("").into(),
            )
        })
        .collect();
    for h in hpas {
        if !deleted.contains(&(h.kind().to_string(), h.name().to_string())) {
            problems.push(format!("keda/kustomization.yaml: does not delete {}", h.id()));
        }
    }
    if !base.iter().any(|p| {
        p.kind() == "PodDisruptionBudget"
            && kube::labels(&p.v["spec"]["selector"]["matchLabels"])
                .iter()
                .all(|(k, v)| a.w.labels().get(k) == Some(v))
    }) {
        problems.push(format!("{id}: no PodDisruptionBudget"));
    }
}

/// The KEDA trigger reads the pending count of the real job consumer, from the monitoring
/// endpoint of the NATS the Helm values install.
fn check_keda(keda: &[&Doc], nats: &Value, problems: &mut Vec<String>) {
    use argus_worker::queue::{JOBS_CONSUMER, JOBS_STREAM};
    let full = nats["fullnameOverride"].as_str().unwrap_or("");
    let ns = nats["namespaceOverride"].as_str().unwrap_or("");
    let port = nats["config"]["monitor"]["port"].as_u64().unwrap_or(8222);
    let hosts = [
        format!("{full}-headless.{ns}.svc.cluster.local:{port}"),
        format!("{full}-headless.{ns}.svc:{port}"),
    ];
    let mut triggers = 0;
    for d in keda.iter().filter(|d| d.kind() == "ScaledObject") {
        for trig in seq(&d.v["spec"]["triggers"]) {
            let m = &trig["metadata"];
            if trig["type"] != "nats-jetstream" {
                problems.push(format!("{}: trigger {:?} is not nats-jetstream", d.id(), trig["type"]));
                continue;
            }
            triggers += 1;
            for (key, want) in [("stream", JOBS_STREAM), ("consumer", JOBS_CONSUMER), ("account", "$G")] {
                if m[key].as_str() != Some(want) {
                    problems.push(format!("{}: {key} {:?}, the job queue's is {want}", d.id(), m[key]));
                }
            }
            let endpoint = m["natsServerMonitoringEndpoint"].as_str().unwrap_or("");
            if !hosts.iter().any(|h| h == endpoint) {
                problems.push(format!(
                    "{}: monitoring endpoint {endpoint}, expected {}",
                    d.id(),
                    hosts[0]
                ));
            }
            if m["lagThreshold"]
                .as_str()
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
                == 0
            {
                problems.push(format!("{}: lagThreshold must be a positive number", d.id()));
            }
        }
        if d.v["spec"]["minReplicaCount"].as_u64().unwrap_or(0) == 0 {
            problems.push(format!(
                "{}: scaling to zero would hand every running scan back",
                d.id()
            ));
        }
    }
    if triggers == 0 {
        problems.push("keda/: no nats-jetstream trigger".into());
    }
    // "$G" is NATS's account when none is configured.
    if nats["config"]["resolver"]["enabled"] == Value::Bool(true) || !nats["config"]["merge"]["accounts"].is_null() {
        problems.push("nats/values.yaml: accounts are configured; the KEDA account is $G".into());
    }
}

/// `argus db update` then `argus db publish` on the same file, in one CronJob.
fn check_vulndb_refresh(base: &[&Doc], configs: &BTreeMap<String, Config>, problems: &mut Vec<String>) {
    let mut ignored = Vec::new();
    let all = argus::argus_containers(base, &mut ignored);
    let step = |name: &str| {
        all.iter()
            .find(|a| a.w.doc.kind() == "CronJob" && a.subcommand() == "db" && a.argv.contains(&name.to_string()))
    };
    let (Some(update), Some(publish)) = (step("update"), step("publish")) else {
        problems.push("no CronJob runs `argus db update` and `argus db publish`".into());
        return;
    };
    let id = update.w.doc.id();
    if update.w.doc.id() != publish.w.doc.id() {
        problems.push(format!("{id}: update and publish must run in one CronJob"));
    }
    let is_init = |a: &Argus| seq(&a.w.spec()["initContainers"]).iter().any(|c| std::ptr::eq(c, a.c));
    if !is_init(update) || is_init(publish) {
        problems.push(format!(
            "{id}: update must be an init container, publish the container after it"
        ));
    }
    if update.w.doc.v["spec"]["concurrencyPolicy"] != "Forbid" {
        problems.push(format!("{id}: two runs at once would rebuild the same files"));
    }
    let db = |a: &Argus| flag_values(&a.argv, "--db").pop().unwrap_or_default();
    if db(update) != db(publish) || db(update).is_empty() {
        problems.push(format!("{id}: publish must read the --db update writes"));
    }
    let volume = |a: &Argus| {
        a.mount_of(&db(a))
            .map(|m| (m["name"].clone(), m["readOnly"] == Value::Bool(true)))
    };
    match (volume(update), volume(publish)) {
        (Some((u, false)), Some((p, _))) if u == p => {}
        _ => problems.push(format!("{id}: the database must be on one volume, writable by update")),
    }
    let bucket = flag_values(&publish.argv, "--bucket")
        .pop()
        .unwrap_or(argus_worker::vulndb::distribute::DEFAULT_BUCKET.to_string());
    for (sub, c) in configs {
        if matches!(sub.as_str(), "coordinator" | "worker") && c.pipeline.db_bucket != bucket {
            problems.push(format!(
                "{sub}s follow bucket {}, the CronJob publishes to {bucket}",
                c.pipeline.db_bucket
            ));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// NATS values, the collector, images

/// The keys these manifests rely on; returns the client URL the chart's Service gives.
fn check_nats_values(v: &Value, problems: &mut Vec<String>) -> String {
    let c = &v["config"];
    let mut need = |ok: bool, what: &str| {
        if !ok {
            problems.push(format!("nats/values.yaml: {what}"));
        }
    };
    need(
        c["cluster"]["enabled"] == Value::Bool(true),
        "config.cluster.enabled must be true",
    );
    need(
        c["cluster"]["replicas"].as_u64().unwrap_or(0) >= 3,
        "config.cluster.replicas must be at least 3",
    );
    need(
        c["jetstream"]["enabled"] == Value::Bool(true),
        "config.jetstream.enabled must be true",
    );
    let fs = &c["jetstream"]["fileStore"];
    need(
        fs["enabled"] != Value::Bool(false) && fs["pvc"]["enabled"] != Value::Bool(false),
        "JetStream must store files on a PVC",
    );
    need(
        fs["pvc"]["size"].as_str().and_then(bytes).is_some(),
        "config.jetstream.fileStore.pvc.size must be a size",
    );
    need(
        c["monitor"]["enabled"] != Value::Bool(false),
        "config.monitor must stay enabled (KEDA reads it)",
    );
    let tag = v["container"]["image"]["tag"].as_str().unwrap_or("");
    need(
        !tag.is_empty() && !tag.starts_with("latest"),
        "container.image.tag must pin a version",
    );
    let full = v["fullnameOverride"].as_str().unwrap_or("");
    need(
        !full.is_empty(),
        "fullnameOverride fixes the Service names the manifests use",
    );
    need(
        v["namespaceOverride"].as_str() == Some(NAMESPACE),
        "namespaceOverride must be the Argus namespace",
    );
    let port = c["nats"]["port"].as_u64().unwrap_or(4222);
    format!("nats://{full}.{NAMESPACE}.svc:{port}")
}

/// The collector runs deploy/otel/collector.yaml, the image compose pins, and receives OTLP/gRPC
/// on the port the argus pods export to.
fn check_collector(base: &[&Doc], problems: &mut Vec<String>) {
    let repo = kube::repo();
    let read = |rel: &str| serde_yaml::from_str::<Value>(&std::fs::read_to_string(repo.join(rel)).unwrap()).unwrap();
    let reference = read("deploy/otel/collector.yaml");
    let mut compose = read("deploy/compose/docker-compose.yml");
    compose.apply_merge().unwrap();
    let image = compose["services"]["otel-collector"]["image"].as_str().unwrap_or("?");
    let Some(w) = kube::workloads(base).into_iter().find(|w| {
        w.containers().iter().any(|c| {
            c["image"]
                .as_str()
                .is_some_and(|i| i.contains("opentelemetry-collector"))
        })
    }) else {
        problems.push("no collector Deployment".into());
        return;
    };
    let id = w.doc.id();
    let c = w.containers()[0];
    if c["image"].as_str() != Some(image) {
        problems.push(format!("{id}: image {:?}, compose pins {image}", c["image"]));
    }
    if w.doc.v["spec"]["replicas"].as_u64() != Some(1) {
        problems.push(format!("{id}: one replica, or each would export part of the series"));
    }
    let path = strings(&c["args"])
        .iter()
        .find_map(|a| a.strip_prefix("--config=").map(String::from))
        .unwrap_or_default();
    let (dir, key) = path.rsplit_once('/').unwrap_or(("", ""));
    let mount = seq(&c["volumeMounts"]).iter().find(|m| m["mountPath"] == dir);
    let cm = mount
        .and_then(|m| seq(&w.spec()["volumes"]).iter().find(|v| v["name"] == m["name"]))
        .and_then(|v| find(base, "ConfigMap", v["configMap"]["name"].as_str().unwrap_or("")));
    match cm
        .and_then(|cm| cm.v["data"][key].as_str())
        .map(serde_yaml::from_str::<Value>)
    {
        Some(Ok(config)) if config == reference => {}
        Some(Ok(_)) => problems.push(format!(
            "{id}: its configuration differs from deploy/otel/collector.yaml"
        )),
        Some(Err(e)) => problems.push(format!("{id}: configuration: {e}")),
        None => problems.push(format!("{id}: --config={path} is no key of a mounted ConfigMap")),
    }
    let grpc = port_of(
        reference["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"]
            .as_str()
            .unwrap_or(""),
    )
    .unwrap_or(0);
    let service = find(base, "Service", "otel-collector");
    let exported = service.is_some_and(|s| {
        seq(&s.v["spec"]["ports"]).iter().any(|p| {
            p["port"].as_u64() == Some(4317)
                && w.ports().iter().any(|(n, num)| {
                    *num == grpc && (p["targetPort"] == n.as_str() || p["targetPort"].as_u64() == Some(grpc))
                })
        })
    });
    if !exported {
        problems.push(format!(
            "Service otel-collector: port 4317 does not reach the collector's OTLP/gRPC port {grpc}"
        ));
    }
}

/// Third-party images are pinned; the argus image is placed by the kustomization.
fn check_images(kustomization: &Value, docs: &[&Doc], problems: &mut Vec<String>) {
    let placed = seq(&kustomization["images"])
        .iter()
        .any(|i| i["name"] == "argus" && !i["newName"].is_null() && !i["newTag"].is_null());
    if !placed {
        problems.push("kustomization.yaml: no images entry places `argus`".into());
    }
    for w in kube::workloads(docs) {
        for c in w.containers() {
            let image = c["image"].as_str().unwrap_or("");
            let tag = image.rsplit_once(':').map(|(_, t)| t).unwrap_or("");
            if image != "argus" && (tag.is_empty() || tag == "latest" || tag.contains('/')) {
                problems.push(format!("{}: image {image} is not pinned to a version", w.doc.id()));
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The tests

#[test]
fn the_kubernetes_manifests_pass_every_check() {
    let problems = check(&kube_dir());
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

#[test]
fn the_manifests_define_what_the_deploy_guide_describes() {
    let mut problems = Vec::new();
    let t = load_tree(&kube_dir(), &mut problems);
    assert!(problems.is_empty(), "{problems:?}");
    let have = |docs: &[Doc]| -> BTreeSet<(String, String)> {
        docs.iter()
            .map(|d| (d.kind().to_string(), d.name().to_string()))
            .collect()
    };
    let want = |list: &[(&str, &str)]| -> BTreeSet<(String, String)> {
        list.iter().map(|(k, n)| (k.to_string(), n.to_string())).collect()
    };
    assert_eq!(
        have(&t.base),
        want(&[
            ("Namespace", "argus"),
            ("ConfigMap", "argus-config"),
            ("ConfigMap", "otel-collector-config"),
            ("Deployment", "otel-collector"),
            ("Service", "otel-collector"),
            ("Service", "argus-coordinator-headless"),
            ("Service", "argus-coordinator"),
            ("StatefulSet", "argus-coordinator"),
            ("PodDisruptionBudget", "argus-coordinator"),
            ("Job", "argus-cluster-init"),
            ("Deployment", "argus-worker"),
            ("PodDisruptionBudget", "argus-worker"),
            ("HorizontalPodAutoscaler", "argus-worker"),
            ("PersistentVolumeClaim", "argus-vulndb"),
            ("CronJob", "argus-vulndb-refresh"),
        ])
    );
    assert_eq!(have(&t.keda), want(&[("ScaledObject", "argus-worker")]));
    assert_eq!(
        have(&t.examples),
        want(&[("Secret", "argus-registry"), ("Secret", "argus-aws")])
    );
    // Placeholders stay placeholders: an example never carries something that looks real.
    for d in &t.examples {
        for (k, v) in d.v["stringData"].as_mapping().unwrap() {
            let (k, v) = (text(k).unwrap(), text(v).unwrap());
            assert!(v.starts_with("PLACEHOLDER") || k == "AWS_REGION", "{}: {k}={v}", d.id());
        }
    }
}

/// Copies `deploy/kubernetes` to a temporary directory.
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.path().is_dir() {
            copy_tree(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

/// One mistake per case, made in a copy of the tree: `check` must name it. The replaced text
/// must occur exactly once, so that every case really changes the file.
#[test]
fn the_checker_catches_each_broken_copy() {
    let cases: &[(&str, &str, &str, &str)] = &[
        (
            "coordinator.yaml",
            "serviceName: argus-coordinator-headless",
            "serviceName: argus-coordinator-peers",
            "serviceName `argus-coordinator-peers` names no Service",
        ),
        (
            "worker.yaml",
            "      labels:\n        app.kubernetes.io/name: argus\n        app.kubernetes.io/component: worker\n        app.kubernetes.io/part-of: argus\n    spec:",
            "      labels:\n        app.kubernetes.io/name: argus\n        app.kubernetes.io/component: scanner\n        app.kubernetes.io/part-of: argus\n    spec:",
            "does not match the pod labels",
        ),
        ("config.yaml", "max_kept_bytes = 536870912", "max_kept_byte = 536870912", "unknown field `max_kept_byte`"),
        ("config.yaml", "rescan_after_secs = 86400", "rescan_after_secs = \"a day\"", "invalid type: string \"a day\""),
        ("cluster-init.yaml", "            - init\n", "            - initialize\n", "is not a subcommand"),
        ("worker.yaml", "            - --concurrency\n", "            - --jobs\n", "`--jobs` is not a flag"),
        ("kustomization.yaml", "  - vulndb.yaml\n", "", "vulndb.yaml is not listed in kustomization.yaml"),
        ("coordinator.yaml", "              port: 7400\n              service: \"\"", "              port: 7401\n              service: \"\"", "readinessProbe port"),
        ("coordinator.yaml", "              service: \"\"", "              service: argus.v1.FindingsService", "readiness asks `argus.v1.FindingsService`"),
        ("coordinator.yaml", "podManagementPolicy: Parallel", "podManagementPolicy: OrderedReady", "podManagementPolicy must be Parallel"),
        ("coordinator.yaml", "\"$(( ${POD_NAME##*-} + 1 ))\"", "\"${POD_NAME##*-}\"", "derive the node id"),
        ("coordinator.yaml", "  maxUnavailable: 1\n", "  maxUnavailable: 2\n", "keeps all but one coordinator up"),
        ("cluster-init.yaml", "3=argus-coordinator-2.", "3=argus-coordinator-3.", "but the coordinators are"),
        ("worker.yaml", "      terminationGracePeriodSeconds: 40", "      terminationGracePeriodSeconds: 20", "leaves the 25 s shutdown grace no margin"),
        ("worker.yaml", "                name: argus-registry\n                optional: true", "                name: argus-registry", "the reference must be optional"),
        ("worker.yaml", "                name: argus-aws", "                name: argus-cloud", "no Secret `argus-cloud`"),
        ("worker.yaml", "            name: argus-config", "            name: argus-configuration", "no ConfigMap `argus-configuration`"),
        ("worker.yaml", "              memory: 2Gi", "              memory: 1Gi", "must stay below the memory limit"),
        ("worker-hpa.yaml", "    name: argus-worker\n  minReplicas", "    name: argus-workers\n  minReplicas", "resolves to no workload"),
        ("keda/worker-scaledobject.yaml", "stream: ARGUS_JOBS", "stream: ARGUS_JOB", "the job queue's is ARGUS_JOBS"),
        ("keda/worker-scaledobject.yaml", "nats-headless.argus", "nats.argus", "monitoring endpoint"),
        ("keda/kustomization.yaml", "      $patch: delete\n", "", "does not delete HorizontalPodAutoscaler/argus-worker"),
        ("nats/values.yaml", "  cluster:\n    enabled: true", "  cluster:\n    enabled: false", "config.cluster.enabled must be true"),
        ("nats/values.yaml", "fullnameOverride: nats", "fullnameOverride: nats-js", "but NATS is at nats://nats-js.argus.svc:4222"),
        ("otel-collector.yaml", "      limit_percentage: 80", "      limit_percentage: 90", "differs from deploy/otel/collector.yaml"),
        ("otel-collector.yaml", "      targetPort: otlp-grpc", "      targetPort: otlp-http", "does not reach the collector's OTLP/gRPC port"),
        ("vulndb.yaml", "  concurrencyPolicy: Forbid", "  concurrencyPolicy: Allow", "two runs at once"),
        ("vulndb.yaml", "claimName: argus-vulndb", "claimName: argus-db", "no PersistentVolumeClaim `argus-db`"),
        ("otel-collector.yaml", "      targetPort: prometheus", "      targetPort: metrics", "targetPort String(\"metrics\") is not declared"),
        ("otel-collector.yaml", "collector-contrib:0.111.0", "collector-contrib:latest", "is not pinned to a version"),
        ("worker-hpa.yaml", "name: argus-worker\n  namespace", "name: Argus-Worker\n  namespace", "is not a DNS label"),
        ("coordinator.yaml", "            readOnlyRootFilesystem: true\n            capabilities:\n              drop: [\"ALL\"]\n          volumeMounts:\n            - name: data", "            readOnlyRootFilesystem: false\n            capabilities:\n              drop: [\"ALL\"]\n          volumeMounts:\n            - name: data", "readOnlyRootFilesystem is not true"),
        ("coordinator.yaml", "  namespace: argus\n  labels:\n    app.kubernetes.io/name: argus\n    app.kubernetes.io/component: coordinator\n    app.kubernetes.io/part-of: argus\nspec:\n  type: ClusterIP", "  namespace: default\n  labels:\n    app.kubernetes.io/name: argus\n    app.kubernetes.io/component: coordinator\n    app.kubernetes.io/part-of: argus\nspec:\n  type: ClusterIP", "metadata.namespace Some(\"default\")"),
    ];
    let tmp = tempfile::tempdir().unwrap();
    let pristine = tmp.path().join("pristine");
    copy_tree(&kube_dir(), &pristine);
    assert_eq!(check(&pristine), Vec::<String>::new(), "the unbroken copy must pass");
    for (i, (file, from, to, expect)) in cases.iter().enumerate() {
        let dir = tmp.path().join(format!("case{i}"));
        copy_tree(&kube_dir(), &dir);
        let path = dir.join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            text.matches(from).count(),
            1,
            "case {i}: {from:?} must occur once in {file}"
        );
        std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
        let problems = check(&dir);
        assert!(
            problems.iter().any(|p| p.contains(expect)),
            "case {i} ({file}: {from:?} → {to:?}): no problem mentions {expect:?}; got:\n{}",
            problems.join("\n")
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

/// The `argus` command lines of a Markdown text: in fenced blocks, whatever follows the program
/// `argus` on a line (also behind `kubectl exec ... --` and `compose exec <service>`), comments
/// cut; inline, spans that start with `argus `, give flags and elide nothing (`...`).
fn guide_commands(markdown: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut fenced = false;
    for line in markdown.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced {
            let code = line.split(" #").next().unwrap();
            let words: Vec<&str> = code.split_whitespace().collect();
            // The program, not a value (`-n argus`): first on the line, after `--`, or after
            // `exec <service>`.
            let program = |at: usize| {
                words[at] == "argus" && (at == 0 || words[at - 1] == "--" || (at >= 2 && words[at - 2] == "exec"))
            };
            if let Some(at) = (0..words.len()).find(|at| program(*at)) {
                out.push(words[at + 1..].iter().map(|w| w.to_string()).collect());
            }
        } else {
            for span in line.split('`').skip(1).step_by(2) {
                if let Some(rest) = span.strip_prefix("argus ") {
                    // A bare `argus cluster` names the command group in prose.
                    if !span.contains("...") && span.contains(" --") {
                        out.push(rest.split_whitespace().map(String::from).collect());
                    }
                }
            }
        }
    }
    out.retain(|argv: &Vec<String>| !argv.is_empty());
    out
}

#[test]
fn the_deploy_guide_uses_only_existing_argus_commands() {
    let model = cli::parse_cli(&kube::repo());
    let guide = std::fs::read_to_string(kube::repo().join("docs/deploy.md")).unwrap();
    let commands = guide_commands(&guide);
    assert!(
        commands.len() >= 15,
        "only {} argus commands found in docs/deploy.md",
        commands.len()
    );
    for argv in &commands {
        model
            .check(argv)
            .unwrap_or_else(|e| panic!("docs/deploy.md: `argus {}`: {e}", argv.join(" ")));
    }
    // The reader of this test: the extraction finds commands behind kubectl and compose too.
    let sample = "```sh\nkubectl -n argus exec p -- argus cluster --addr a:1 status   # note\ncargo build --bin argus\nhelm install n --namespace argus -f v.yaml\n```\nthen `argus findings --addr a:1 list`, not `argus cluster ... status` or `argus cluster`.";
    assert_eq!(
        guide_commands(sample),
        [
            vec!["cluster", "--addr", "a:1", "status"],
            vec!["findings", "--addr", "a:1", "list"]
        ]
    );
}

#[test]
fn flag_values_are_read_in_both_spellings() {
    let argv: Vec<String> = ["db", "--db", "/a", "publish", "--nats=nats://n:4222"]
        .map(String::from)
        .into();
    assert_eq!(flag_values(&argv, "--db"), ["/a"]);
    assert_eq!(flag_values(&argv, "--nats"), ["nats://n:4222"]);
    assert!(flag_values(&argv, "--bucket").is_empty());
}

#[test]
fn the_worker_default_shutdown_grace_is_read_from_its_flag_definition() {
    assert_eq!(worker_default("shutdown_grace_secs"), Some(20));
    assert_eq!(worker_default("no_such_flag"), None);
}
