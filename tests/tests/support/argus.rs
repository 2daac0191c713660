//! The rules for argus containers in the Kubernetes manifests: their command lines against the
//! clap definitions, their environment, the configuration file they load (parsed by
//! `Config::load`), and the coordinators and the cluster the init Job forms from them.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};

use argus_coordinator::config::Config;
use serde_yaml::Value;

use super::cli;
use super::kube::{self, find, labels, seq, strings, text, Doc, Workload};
use super::NAMESPACE;

/// `argus` containers either run the image's entrypoint (`tini -- argus`) with `args`, or this
/// wrapper, whose script ends by handing `args` to argus.
const WRAPPER: [&str; 4] = ["/usr/bin/tini", "--", "/bin/sh", "-c"];
const WRAPPER_EXEC: &str = "exec /usr/local/bin/argus \"$@\"";
/// How a coordinator's node id is derived from its pod name (`argus-coordinator-<ordinal>`).
const NODE_ID_LINE: &str = "export ARGUS_NODE_ID=\"$(( ${POD_NAME##*-} + 1 ))\"";

// ---------------------------------------------------------------------------------------------
// argus containers: command lines, environment, configuration

/// An `argus` container, with the argument list argus receives.
pub struct Argus<'a> {
    pub w: Workload<'a>,
    pub c: &'a Value,
    pub argv: Vec<String>,
    /// The wrapper's script, when the container uses it.
    pub script: Option<String>,
    pub id: String,
}

impl Argus<'_> {
    pub fn subcommand(&self) -> &str {
        self.argv
            .iter()
            .find(|a| !a.starts_with('-'))
            .map(String::as_str)
            .unwrap_or("")
    }
    pub fn env(&self, name: &str) -> Option<&Value> {
        seq(&self.c["env"]).iter().find(|e| e["name"] == name)
    }
    pub fn env_value(&self, name: &str) -> Option<String> {
        self.env(name).and_then(|e| text(&e["value"]))
    }
    /// The mount whose path is `path` or a parent directory of it.
    pub fn mount_of(&self, path: &str) -> Option<&Value> {
        seq(&self.c["volumeMounts"])
            .iter()
            .filter(|m| {
                let at = m["mountPath"].as_str().unwrap_or("?");
                path == at || path.starts_with(&format!("{}/", at.trim_end_matches('/')))
            })
            .max_by_key(|m| m["mountPath"].as_str().unwrap_or("").len())
    }
    pub fn volume(&self, name: &str) -> Option<&Value> {
        seq(&self.w.spec()["volumes"]).iter().find(|v| v["name"] == name)
    }
}

/// Values of `--flag value` and `--flag=value`.
pub fn flag_values(argv: &[String], flag: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (i, a) in argv.iter().enumerate() {
        if a == flag {
            out.extend(argv.get(i + 1).cloned());
        } else if let Some(v) = a.strip_prefix(&format!("{flag}=")) {
            out.push(v.to_string());
        }
    }
    out
}

pub fn port_of(addr: &str) -> Option<u64> {
    addr.rsplit_once(':').and_then(|(_, p)| p.parse().ok())
}

pub fn argus_containers<'a>(docs: &[&'a Doc], problems: &mut Vec<String>) -> Vec<Argus<'a>> {
    let mut out = Vec::new();
    for w in kube::workloads(docs) {
        for c in w.containers() {
            if c["image"] != "argus" {
                continue;
            }
            let id = format!("{} container `{}`", w.doc.id(), c["name"].as_str().unwrap_or(""));
            let command = strings(&c["command"]);
            let argv = strings(&c["args"]);
            let script = if command.is_empty() {
                None
            } else if command.len() == 6 && command[..4] == WRAPPER && command[5] == "argus" {
                let script = command[4].clone();
                if script.lines().rev().find(|l| !l.trim().is_empty()).map(str::trim) != Some(WRAPPER_EXEC) {
                    problems.push(format!("{id}: the wrapper script must end with `{WRAPPER_EXEC}`"));
                }
                Some(script)
            } else {
                problems.push(format!(
                    "{id}: command {command:?} is neither the image's entrypoint nor the sh wrapper"
                ));
                None
            };
            let w = Workload {
                doc: w.doc,
                template: w.template,
            };
            out.push(Argus { w, c, argv, script, id });
        }
    }
    out
}

/// The variables a container gets: `env`, every key of its `envFrom` objects, and what its
/// wrapper exports.
pub fn env_names(a: &Argus, docs: &[&Doc]) -> BTreeSet<String> {
    let mut names: BTreeSet<String> = seq(&a.c["env"])
        .iter()
        .filter_map(|e| e["name"].as_str().map(String::from))
        .collect();
    for e in seq(&a.c["envFrom"]) {
        for (how, kind) in [("configMapRef", "ConfigMap"), ("secretRef", "Secret")] {
            if let Some(d) = find(docs, kind, e[how]["name"].as_str().unwrap_or("")) {
                names.extend(kube::data_keys(d));
            }
        }
    }
    for line in a.script.iter().flat_map(|s| s.lines()) {
        if let Some(rest) = line.trim().strip_prefix("export ") {
            names.insert(rest.split('=').next().unwrap().to_string());
        }
    }
    names
}

/// Command lines, `ARGUS_*` variables, telemetry, the configuration file and the NATS URL of
/// every argus container. Returns the configurations they load, by subcommand.
pub fn check_argus_containers(
    base: &[&Doc],
    examples: &[&Doc],
    nats_url: &str,
    problems: &mut Vec<String>,
) -> BTreeMap<String, Config> {
    let model = cli::parse_cli(&kube::repo());
    let sources = cli::sources(&kube::repo());
    let everything: Vec<&Doc> = base.iter().chain(examples).copied().collect();
    let collector = format!("http://otel-collector.{NAMESPACE}.svc:4317");
    let mut configs = BTreeMap::new();
    let containers = argus_containers(base, problems);
    for a in &containers {
        let id = &a.id;
        if let Err(e) = model.check(&a.argv) {
            problems.push(format!("{id}: `argus {}`: {e}", a.argv.join(" ")));
        }
        for var in env_names(a, &everything)
            .into_iter()
            .filter(|v| v.starts_with("ARGUS_"))
        {
            if !sources.contains(&format!("env = \"{var}\"")) {
                problems.push(format!("{id}: {var} is read by no flag of argus"));
            }
        }
        if a.env_value("OTEL_EXPORTER_OTLP_ENDPOINT").as_deref() != Some(collector.as_str()) {
            problems.push(format!("{id}: OTEL_EXPORTER_OTLP_ENDPOINT is not {collector}"));
        }
        if !a.env_value("OTEL_RESOURCE_ATTRIBUTES").is_some_and(|v| v.contains('=')) {
            problems.push(format!("{id}: no OTEL_RESOURCE_ATTRIBUTES"));
        }
        for url in flag_values(&a.argv, "--nats") {
            if url != nats_url {
                problems.push(format!(
                    "{id}: --nats {url}, but NATS is at {nats_url} (nats/values.yaml)"
                ));
            }
        }
        let reads_config = matches!(a.subcommand(), "coordinator" | "worker" | "db");
        match a.env_value("ARGUS_CONFIG") {
            None if reads_config => problems.push(format!("{id}: no ARGUS_CONFIG")),
            None => {}
            Some(path) => match config_file(a, &path, base) {
                Err(e) => problems.push(format!("{id}: ARGUS_CONFIG {path}: {e}")),
                Ok(toml) => match load_config(&toml) {
                    Ok(c) => {
                        configs.insert(a.subcommand().to_string(), c);
                    }
                    Err(e) => problems.push(format!("{id}: ARGUS_CONFIG {path}: {e}")),
                },
            },
        }
    }
    for sub in ["coordinator", "worker", "cluster", "db"] {
        if !containers.iter().any(|a| a.subcommand() == sub) {
            problems.push(format!("no container runs `argus {sub}`"));
        }
    }
    configs
}

/// The text of the file at `path` inside the container: a key of a mounted ConfigMap.
pub fn config_file(a: &Argus, path: &str, docs: &[&Doc]) -> Result<String, String> {
    let m = a.mount_of(path).ok_or("not on a mounted volume")?;
    let key = path
        .strip_prefix(m["mountPath"].as_str().unwrap())
        .unwrap()
        .trim_start_matches('/');
    let v = a.volume(m["name"].as_str().unwrap_or("")).ok_or("no such volume")?;
    let cm = find(docs, "ConfigMap", v["configMap"]["name"].as_str().unwrap_or("")).ok_or("not a ConfigMap volume")?;
    text(&cm.v["data"][key]).ok_or_else(|| format!("ConfigMap {} has no key {key}", cm.name()))
}

/// The configuration as `argus` loads it: `Config::load` of the file.
pub fn load_config(toml: &str) -> Result<Config, String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let path = dir.path().join("argus.toml");
    std::fs::write(&path, toml).map_err(|e| e.to_string())?;
    Config::load(Some(&path)).map_err(|e| e.to_string())
}

// ---------------------------------------------------------------------------------------------
// Coordinators and the cluster they form

/// The one StatefulSet running `argus coordinator`, its container, and the Raft members it
/// forms: node id → advertised address, derived the way the wrapper derives them.
pub fn check_coordinators(base: &[&Doc], problems: &mut Vec<String>) -> BTreeMap<String, String> {
    let mut members = BTreeMap::new();
    let mut ignored = Vec::new();
    let all = argus_containers(base, &mut ignored);
    let found: Vec<&Argus> = all.iter().filter(|a| a.subcommand() == "coordinator").collect();
    let [a] = found.as_slice() else {
        problems.push(format!(
            "{} containers run `argus coordinator`, expected one",
            found.len()
        ));
        return members;
    };
    let (id, sts) = (&a.id, &a.w.doc.v);
    if a.w.doc.kind() != "StatefulSet" {
        problems.push(format!("{id}: coordinators must run in a StatefulSet"));
        return members;
    }
    let replicas = sts["spec"]["replicas"].as_u64().unwrap_or(1);
    if replicas < 3 || replicas % 2 == 0 {
        problems.push(format!(
            "{id}: {replicas} replicas; a quorum needs an odd number, at least 3"
        ));
    }
    if sts["spec"]["podManagementPolicy"] != "Parallel" {
        problems.push(format!(
            "{id}: podManagementPolicy must be Parallel (no node is ready alone)"
        ));
    }
    let service = sts["spec"]["serviceName"].as_str().unwrap_or("");
    if let Some(s) = find(base, "Service", service) {
        if s.v["spec"]["publishNotReadyAddresses"] != Value::Bool(true) {
            problems.push(format!(
                "{id}: {service} must publish not-ready addresses: peers need them to elect a leader"
            ));
        }
    }
    let field = |name: &str| {
        a.env(name)
            .and_then(|e| e["valueFrom"]["fieldRef"]["fieldPath"].as_str())
    };
    if field("POD_NAME") != Some("metadata.name") || field("POD_NAMESPACE") != Some("metadata.namespace") {
        problems.push(format!(
            "{id}: POD_NAME and POD_NAMESPACE must come from the pod's metadata"
        ));
    }
    let script = a.script.clone().unwrap_or_default();
    let lines: Vec<&str> = script.lines().map(str::trim).collect();
    if !lines.contains(&NODE_ID_LINE) {
        problems.push(format!("{id}: the wrapper must derive the node id as `{NODE_ID_LINE}`"));
    }
    for flag in ["--node-id", "--advertise"] {
        if !flag_values(&a.argv, flag).is_empty() {
            problems.push(format!("{id}: {flag} on the command line would override the wrapper's"));
        }
    }
    let listen = flag_values(&a.argv, "--listen").pop().unwrap_or_default();
    let port = port_of(&listen).unwrap_or(0);
    if !a.w.ports().iter().any(|(_, p)| *p == port) {
        problems.push(format!(
            "{id}: --listen {listen}: the container declares no port {port}"
        ));
    }
    let advertise = format!("${{POD_NAME}}.{service}.${{POD_NAMESPACE}}.svc:{port}");
    if !lines.contains(&format!("export ARGUS_ADVERTISE=\"{advertise}\"").as_str()) {
        problems.push(format!("{id}: the wrapper must advertise \"{advertise}\""));
    }
    let data = flag_values(&a.argv, "--data-dir").pop().unwrap_or_default();
    let claims: BTreeSet<&str> = seq(&sts["spec"]["volumeClaimTemplates"])
        .iter()
        .filter_map(|t| t["metadata"]["name"].as_str())
        .collect();
    match a.mount_of(&data) {
        Some(m) if claims.contains(m["name"].as_str().unwrap_or("")) && m["readOnly"] != Value::Bool(true) => {}
        _ => problems.push(format!(
            "{id}: --data-dir {data:?} is not on a writable claim-template volume"
        )),
    }
    check_health_probes(a, problems);
    if sts["spec"]["template"]["spec"]["terminationGracePeriodSeconds"].is_null() {
        problems.push(format!("{id}: no terminationGracePeriodSeconds"));
    }
    let pods = labels(&sts["spec"]["template"]["metadata"]["labels"]);
    let quorum_kept = base.iter().filter(|d| d.kind() == "PodDisruptionBudget").any(|pdb| {
        let sel = labels(&pdb.v["spec"]["selector"]["matchLabels"]);
        let selects = !sel.is_empty() && sel.iter().all(|(k, v)| pods.get(k) == Some(v));
        let spec = &pdb.v["spec"];
        selects
            && (spec["maxUnavailable"].as_u64() == Some(1) || spec["minAvailable"].as_u64() == Some(replicas / 2 + 1))
    });
    if !quorum_kept {
        problems.push(format!("{id}: no PodDisruptionBudget keeps all but one coordinator up"));
    }
    for ordinal in 0..replicas {
        let pod = format!("{}-{ordinal}", a.w.doc.name());
        let address = advertise
            .replace("${POD_NAME}", &pod)
            .replace("${POD_NAMESPACE}", NAMESPACE);
        members.insert((ordinal + 1).to_string(), address);
    }
    members
}

/// Liveness must not depend on a leader (a partitioned node is alive); readiness must (clients
/// should not be sent to a node that cannot write). coordinator/src/api/health.rs: named
/// services are SERVING while the server runs, "" only while a leader is known.
pub fn check_health_probes(a: &Argus, problems: &mut Vec<String>) {
    let id = &a.id;
    let proto: String = std::fs::read_dir(kube::repo().join("proto/argus/v1"))
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect();
    let served = std::fs::read_to_string(kube::repo().join("coordinator/src/api/mod.rs")).unwrap();
    for probe in ["startupProbe", "livenessProbe", "readinessProbe"] {
        let grpc = &a.c[probe]["grpc"];
        if !grpc.is_mapping() {
            problems.push(format!("{id}: {probe} must be a grpc.health.v1 probe"));
            continue;
        }
        let service = grpc["service"].as_str().unwrap_or("");
        if probe == "readinessProbe" {
            if !service.is_empty() {
                problems.push(format!(
                    "{id}: readiness asks `{service}`, which is SERVING without a leader; ask \"\""
                ));
            }
            continue;
        }
        let short = service.strip_prefix("argus.v1.").unwrap_or("");
        let known = !short.is_empty()
            && proto.contains(&format!("service {short} {{"))
            && served.contains(&format!("<{short}Server<"));
        if !known {
            problems.push(format!(
                "{id}: {probe} asks `{service}`, not a named argus.v1 service the node reports (\"\" needs a leader)"
            ));
        }
    }
}

/// One Job runs `argus cluster --addr <a member> init` with exactly the coordinators.
pub fn check_cluster_init(base: &[&Doc], members: &BTreeMap<String, String>, problems: &mut Vec<String>) {
    let mut ignored = Vec::new();
    let all = argus_containers(base, &mut ignored);
    let inits: Vec<&Argus> = all
        .iter()
        .filter(|a| a.subcommand() == "cluster" && a.argv.contains(&"init".to_string()))
        .collect();
    let [a] = inits.as_slice() else {
        problems.push(format!(
            "{} containers run `argus cluster init`, expected one",
            inits.len()
        ));
        return;
    };
    if a.w.doc.kind() != "Job" {
        problems.push(format!("{}: cluster init must be a one-shot Job", a.id));
    }
    let listed: BTreeMap<String, String> = flag_values(&a.argv, "--member")
        .iter()
        .filter_map(|m| m.split_once('='))
        .map(|(i, addr)| (i.to_string(), addr.to_string()))
        .collect();
    if &listed != members {
        problems.push(format!(
            "{}: members {listed:?}, but the coordinators are {members:?}",
            a.id
        ));
    }
    let addrs: Vec<String> = flag_values(&a.argv, "--addr")
        .iter()
        .flat_map(|v| v.split(',').map(String::from))
        .collect();
    if addrs.is_empty() || addrs.iter().any(|x| !members.values().any(|m| m == x)) {
        problems.push(format!(
            "{}: --addr {addrs:?} must name members (init goes to one of them)",
            a.id
        ));
    }
}
