//! Kubernetes manifests read the way kustomize and the API server read them, and the structural
//! rules they must follow whatever application they run: required fields, names, namespaces,
//! selectors that select, ports and probes that point at declared ports, references to
//! ConfigMaps, Secrets and claims that resolve. Every rule reports a problem instead of
//! panicking, so that one run lists everything wrong with a directory.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_yaml::Value;

/// One document of a manifest file.
pub struct Doc {
    pub file: String,
    pub v: Value,
}

impl Doc {
    pub fn kind(&self) -> &str {
        self.v["kind"].as_str().unwrap_or("")
    }
    pub fn name(&self) -> &str {
        self.v["metadata"]["name"].as_str().unwrap_or("")
    }
    /// `Kind/name (file)`, for messages.
    pub fn id(&self) -> String {
        format!("{}/{} ({})", self.kind(), self.name(), self.file)
    }
}

/// The documents of a YAML stream: the text between `---` lines, comment-only parts dropped.
pub fn documents(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut start, mut at) = (0, 0);
    for line in text.split_inclusive('\n') {
        if line.trim_end() == "---" {
            out.push(&text[start..at]);
            start = at + line.len();
        }
        at += line.len();
    }
    out.push(&text[start..]);
    out.retain(|d| {
        d.lines()
            .any(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
    });
    out
}

/// Every document of `root/rel`; unreadable files and unparsable documents become problems.
pub fn load(root: &Path, rel: &str, problems: &mut Vec<String>) -> Vec<Doc> {
    let path = root.join(rel);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) => {
            problems.push(format!("{rel}: cannot be read: {e}"));
            return vec![];
        }
    };
    let mut out = Vec::new();
    for (i, doc) in documents(&text).into_iter().enumerate() {
        match serde_yaml::from_str::<Value>(doc) {
            Ok(v) if v.is_mapping() => out.push(Doc {
                file: rel.to_string(),
                v,
            }),
            Ok(_) => problems.push(format!("{rel}: document {} is not a mapping", i + 1)),
            Err(e) => problems.push(format!("{rel}: document {}: {e}", i + 1)),
        }
    }
    out
}

/// The YAML files directly in `dir` (names relative to it), sorted.
pub fn yaml_files(dir: &Path) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter(|e| e.path().is_file())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".yaml") || n.ends_with(".yml"))
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

pub fn subdirectories(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter(|e| e.path().is_dir())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

pub fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

pub fn seq(v: &Value) -> &[Value] {
    v.as_sequence().map(Vec::as_slice).unwrap_or(&[])
}

pub fn strings(v: &Value) -> Vec<String> {
    seq(v).iter().filter_map(text).collect()
}

pub fn labels(v: &Value) -> BTreeMap<String, String> {
    v.as_mapping()
        .map(|m| m.iter().filter_map(|(k, v)| Some((text(k)?, text(v)?))).collect())
        .unwrap_or_default()
}

/// A Kubernetes quantity in bytes (`512Mi`, `2Gi`, `1G`, `1000`).
pub fn bytes(q: &str) -> Option<u64> {
    let units: [(&str, u64); 6] = [
        ("Ki", 1 << 10),
        ("Mi", 1 << 20),
        ("Gi", 1 << 30),
        ("K", 1_000),
        ("M", 1_000_000),
        ("G", 1_000_000_000),
    ];
    for (suffix, factor) in units {
        if let Some(n) = q.strip_suffix(suffix) {
            return n.parse::<u64>().ok().map(|n| n * factor);
        }
    }
    q.parse().ok()
}

fn dns_label(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.starts_with('-')
        && !name.ends_with('-')
}

/// The apiVersion each kind these manifests may use is served under.
const KINDS: [(&str, &str); 13] = [
    ("Namespace", "v1"),
    ("ConfigMap", "v1"),
    ("Secret", "v1"),
    ("Service", "v1"),
    ("PersistentVolumeClaim", "v1"),
    ("StatefulSet", "apps/v1"),
    ("Deployment", "apps/v1"),
    ("Job", "batch/v1"),
    ("CronJob", "batch/v1"),
    ("HorizontalPodAutoscaler", "autoscaling/v2"),
    ("PodDisruptionBudget", "policy/v1"),
    ("ScaledObject", "keda.sh/v1alpha1"),
    ("Kustomization", "kustomize.config.k8s.io/v1beta1"),
];

/// apiVersion, kind, a valid name, the namespace; no kind/name twice.
pub fn check_documents(docs: &[&Doc], namespace: &str, problems: &mut Vec<String>) {
    let mut seen = BTreeSet::new();
    for d in docs {
        let id = d.id();
        let api = d.v["apiVersion"].as_str().unwrap_or("");
        match KINDS.iter().find(|(k, _)| *k == d.kind()) {
            None => problems.push(format!("{id}: kind `{}` is not one these checks know", d.kind())),
            Some((_, want)) if *want != api => problems.push(format!("{id}: apiVersion `{api}`, expected `{want}`")),
            _ => {}
        }
        if !dns_label(d.name()) {
            problems.push(format!("{id}: metadata.name `{}` is not a DNS label", d.name()));
        }
        let ns = d.v["metadata"]["namespace"].as_str();
        if d.kind() == "Namespace" {
            if d.name() != namespace {
                problems.push(format!("{id}: the namespace is `{namespace}`"));
            }
        } else if ns != Some(namespace) {
            problems.push(format!("{id}: metadata.namespace {ns:?}, expected `{namespace}`"));
        }
        for (k, v) in d.v["metadata"]["labels"].as_mapping().into_iter().flatten() {
            if !v.is_string() {
                problems.push(format!("{id}: label {k:?} is not a string"));
            }
        }
        if !seen.insert((d.kind().to_string(), d.name().to_string())) {
            problems.push(format!("{id}: defined twice"));
        }
    }
}

/// A workload and its pod template.
pub struct Workload<'a> {
    pub doc: &'a Doc,
    /// `spec.template` (for a CronJob, `spec.jobTemplate.spec.template`).
    pub template: &'a Value,
}

impl<'a> Workload<'a> {
    pub fn labels(&self) -> BTreeMap<String, String> {
        labels(&self.template["metadata"]["labels"])
    }
    pub fn spec(&self) -> &'a Value {
        &self.template["spec"]
    }
    /// Containers and init containers.
    pub fn containers(&self) -> Vec<&'a Value> {
        seq(&self.spec()["initContainers"])
            .iter()
            .chain(seq(&self.spec()["containers"]))
            .collect()
    }
    /// Ports (name, number) declared by the containers.
    pub fn ports(&self) -> Vec<(String, u64)> {
        self.containers()
            .iter()
            .flat_map(|c| seq(&c["ports"]))
            .map(|p| {
                (
                    p["name"].as_str().unwrap_or("").to_string(),
                    p["containerPort"].as_u64().unwrap_or(0),
                )
            })
            .collect()
    }
}

pub fn workloads<'a>(docs: &[&'a Doc]) -> Vec<Workload<'a>> {
    docs.iter()
        .filter_map(|d| {
            let template = match d.kind() {
                "StatefulSet" | "Deployment" | "Job" => &d.v["spec"]["template"],
                "CronJob" => &d.v["spec"]["jobTemplate"]["spec"]["template"],
                _ => return None,
            };
            Some(Workload { doc: d, template })
        })
        .collect()
}

fn subset(small: &BTreeMap<String, String>, big: &BTreeMap<String, String>) -> bool {
    !small.is_empty() && small.iter().all(|(k, v)| big.get(k) == Some(v))
}

pub fn find<'a>(docs: &[&'a Doc], kind: &str, name: &str) -> Option<&'a Doc> {
    docs.iter().copied().find(|d| d.kind() == kind && d.name() == name)
}

/// Whether a port reference (number or name) names one of `ports`.
fn port_declared(r: &Value, ports: &[(String, u64)]) -> bool {
    match r {
        Value::Number(n) => ports.iter().any(|(_, p)| Some(*p) == n.as_u64()),
        Value::String(s) => ports.iter().any(|(name, _)| name == s),
        _ => false,
    }
}

/// Containers, ports, probes, mounts, resources, security, and every reference a pod makes to
/// ConfigMaps, Secrets and claims. `optional_only` are objects that exist only as examples:
/// a reference to one must be optional, or a default install would not start.
pub fn check_pods(docs: &[&Doc], optional_only: &[&Doc], problems: &mut Vec<String>) {
    for w in workloads(docs) {
        let id = w.doc.id();
        let spec = w.spec();
        let restart = spec["restartPolicy"].as_str().unwrap_or("Always");
        let batch = matches!(w.doc.kind(), "Job" | "CronJob");
        if batch != (restart != "Always") {
            problems.push(format!("{id}: restartPolicy {restart} for a {}", w.doc.kind()));
        }
        if spec["containers"].as_sequence().is_none_or(|c| c.is_empty()) {
            problems.push(format!("{id}: no containers"));
        }
        let mut volumes: BTreeSet<String> = seq(&spec["volumes"])
            .iter()
            .filter_map(|v| v["name"].as_str().map(String::from))
            .collect();
        volumes.extend(
            seq(&w.doc.v["spec"]["volumeClaimTemplates"])
                .iter()
                .filter_map(|v| v["metadata"]["name"].as_str().map(String::from)),
        );
        let pod_sc = &spec["securityContext"];
        let mut names = BTreeSet::new();
        for c in w.containers() {
            let cname = c["name"].as_str().unwrap_or("");
            let cid = format!("{id} container `{cname}`");
            if cname.is_empty() || !names.insert(cname) {
                problems.push(format!("{cid}: missing or repeated name"));
            }
            if c["image"].as_str().is_none_or(str::is_empty) {
                problems.push(format!("{cid}: no image"));
            }
            let ports: Vec<(String, u64)> = seq(&c["ports"])
                .iter()
                .map(|p| {
                    (
                        p["name"].as_str().unwrap_or("").to_string(),
                        p["containerPort"].as_u64().unwrap_or(0),
                    )
                })
                .collect();
            for (name, number) in &ports {
                if *number == 0 || *number > 65535 || name.len() > 15 {
                    problems.push(format!("{cid}: port {name:?} {number} is not valid"));
                }
            }
            for probe in ["startupProbe", "livenessProbe", "readinessProbe"] {
                let p = &c[probe];
                if p.is_null() {
                    continue;
                }
                let handlers: Vec<&str> = ["grpc", "httpGet", "tcpSocket", "exec"]
                    .into_iter()
                    .filter(|h| !p[*h].is_null())
                    .collect();
                if handlers.len() != 1 {
                    problems.push(format!("{cid}: {probe} must have one handler, has {handlers:?}"));
                    continue;
                }
                let port = &p[handlers[0]]["port"];
                // A gRPC probe takes a port number only.
                let ok = match handlers[0] {
                    "grpc" => port.is_number() && port_declared(port, &ports),
                    "exec" => true,
                    _ => port_declared(port, &ports),
                };
                if !ok {
                    problems.push(format!(
                        "{cid}: {probe} port {port:?} is not a port the container declares"
                    ));
                }
            }
            let mut paths = BTreeSet::new();
            for m in seq(&c["volumeMounts"]) {
                let name = m["name"].as_str().unwrap_or("");
                if !volumes.contains(name) {
                    problems.push(format!("{cid}: mounts volume `{name}`, which the pod does not have"));
                }
                if !paths.insert(m["mountPath"].as_str().unwrap_or("")) {
                    problems.push(format!("{cid}: two mounts at {:?}", m["mountPath"]));
                }
            }
            let r = &c["resources"];
            for (section, what) in [("requests", "cpu"), ("requests", "memory"), ("limits", "memory")] {
                if r[section][what].is_null() {
                    problems.push(format!("{cid}: no resources.{section}.{what}"));
                }
            }
            let sc = &c["securityContext"];
            let either = |key: &str| if sc[key].is_null() { &pod_sc[key] } else { &sc[key] };
            if either("runAsNonRoot") != &Value::Bool(true) {
                problems.push(format!("{cid}: runAsNonRoot is not true"));
            }
            if either("seccompProfile")["type"].as_str() != Some("RuntimeDefault") {
                problems.push(format!("{cid}: seccompProfile is not RuntimeDefault"));
            }
            if sc["allowPrivilegeEscalation"] != Value::Bool(false) {
                problems.push(format!("{cid}: allowPrivilegeEscalation is not false"));
            }
            if sc["readOnlyRootFilesystem"] != Value::Bool(true) {
                problems.push(format!("{cid}: readOnlyRootFilesystem is not true"));
            }
            if !strings(&sc["capabilities"]["drop"]).contains(&"ALL".to_string()) {
                problems.push(format!("{cid}: capabilities do not drop ALL"));
            }
            for e in seq(&c["env"]) {
                for (how, kind) in [("configMapKeyRef", "ConfigMap"), ("secretKeyRef", "Secret")] {
                    let r = &e["valueFrom"][how];
                    if r.is_mapping() {
                        let (name, key) = (r["name"].as_str().unwrap_or(""), r["key"].as_str().unwrap_or(""));
                        reference(
                            &cid,
                            kind,
                            name,
                            Some(key),
                            &r["optional"],
                            docs,
                            optional_only,
                            problems,
                        );
                    }
                }
            }
            for e in seq(&c["envFrom"]) {
                for (how, kind) in [("configMapRef", "ConfigMap"), ("secretRef", "Secret")] {
                    let r = &e[how];
                    if r.is_mapping() {
                        let name = r["name"].as_str().unwrap_or("");
                        reference(&cid, kind, name, None, &r["optional"], docs, optional_only, problems);
                    }
                }
            }
        }
        for v in seq(&spec["volumes"]) {
            let vid = format!("{id} volume `{}`", v["name"].as_str().unwrap_or(""));
            if v["configMap"].is_mapping() {
                let name = v["configMap"]["name"].as_str().unwrap_or("");
                reference(
                    &vid,
                    "ConfigMap",
                    name,
                    None,
                    &v["configMap"]["optional"],
                    docs,
                    optional_only,
                    problems,
                );
                for item in seq(&v["configMap"]["items"]) {
                    let key = item["key"].as_str();
                    reference(
                        &vid,
                        "ConfigMap",
                        name,
                        key,
                        &Value::Null,
                        docs,
                        optional_only,
                        problems,
                    );
                }
            }
            if v["secret"].is_mapping() {
                let name = v["secret"]["secretName"].as_str().unwrap_or("");
                reference(
                    &vid,
                    "Secret",
                    name,
                    None,
                    &v["secret"]["optional"],
                    docs,
                    optional_only,
                    problems,
                );
            }
            if v["persistentVolumeClaim"].is_mapping() {
                let name = v["persistentVolumeClaim"]["claimName"].as_str().unwrap_or("");
                reference(
                    &vid,
                    "PersistentVolumeClaim",
                    name,
                    None,
                    &Value::Null,
                    docs,
                    &[],
                    problems,
                );
            }
        }
    }
}

/// The keys a ConfigMap or Secret holds.
pub fn data_keys(d: &Doc) -> BTreeSet<String> {
    ["data", "stringData", "binaryData"]
        .iter()
        .flat_map(|s| d.v[*s].as_mapping().into_iter().flatten())
        .filter_map(|(k, _)| text(k))
        .collect()
}

#[allow(clippy::too_many_arguments)]
fn reference(
    from: &str,
    kind: &str,
    name: &str,
    key: Option<&str>,
    optional: &Value,
    docs: &[&Doc],
    optional_only: &[&Doc],
    problems: &mut Vec<String>,
) {
    let target = match (find(docs, kind, name), find(optional_only, kind, name)) {
        (Some(d), _) => d,
        (None, Some(d)) => {
            if optional != &Value::Bool(true) {
                problems.push(format!(
                    "{from}: {kind} `{name}` is only an example ({}): the reference must be optional",
                    d.file
                ));
            }
            d
        }
        (None, None) => {
            problems.push(format!("{from}: no {kind} `{name}`"));
            return;
        }
    };
    if let Some(key) = key {
        if !data_keys(target).contains(key) {
            problems.push(format!("{from}: {kind} `{name}` has no key `{key}`"));
        }
    }
}

/// Selectors select their own pods and no one else's; StatefulSets name a headless Service of
/// their own pods and mount their claim templates.
pub fn check_selectors(docs: &[&Doc], problems: &mut Vec<String>) {
    let ws = workloads(docs);
    for w in &ws {
        let id = w.doc.id();
        if !matches!(w.doc.kind(), "StatefulSet" | "Deployment") {
            continue;
        }
        let selector = labels(&w.doc.v["spec"]["selector"]["matchLabels"]);
        if !subset(&selector, &w.labels()) {
            problems.push(format!(
                "{id}: selector {selector:?} does not match the pod labels {:?}",
                w.labels()
            ));
        }
        for other in ws.iter().filter(|o| o.doc.id() != id) {
            if subset(&selector, &other.labels()) {
                problems.push(format!("{id}: selector also matches the pods of {}", other.doc.id()));
            }
        }
    }
    for d in docs.iter().filter(|d| d.kind() == "StatefulSet") {
        let id = d.id();
        let service = d.v["spec"]["serviceName"].as_str().unwrap_or("");
        let pods = labels(&d.v["spec"]["template"]["metadata"]["labels"]);
        match find(docs, "Service", service) {
            None => problems.push(format!("{id}: serviceName `{service}` names no Service")),
            Some(s) => {
                if s.v["spec"]["clusterIP"].as_str() != Some("None") {
                    problems.push(format!("{id}: serviceName `{service}` is not a headless Service"));
                }
                if !subset(&labels(&s.v["spec"]["selector"]), &pods) {
                    problems.push(format!("{id}: serviceName `{service}` does not select its pods"));
                }
            }
        }
        let templates = seq(&d.v["spec"]["volumeClaimTemplates"]);
        if templates.is_empty() {
            problems.push(format!("{id}: no volumeClaimTemplates"));
        }
        let mounted: BTreeSet<String> = seq(&d.v["spec"]["template"]["spec"]["containers"])
            .iter()
            .flat_map(|c| seq(&c["volumeMounts"]))
            .filter_map(|m| m["name"].as_str().map(String::from))
            .collect();
        for t in templates {
            let name = t["metadata"]["name"].as_str().unwrap_or("");
            if t["spec"]["resources"]["requests"]["storage"].is_null() || strings(&t["spec"]["accessModes"]).is_empty()
            {
                problems.push(format!(
                    "{id}: claim template `{name}` lacks accessModes or a storage request"
                ));
            }
            if !mounted.contains(name) {
                problems.push(format!("{id}: claim template `{name}` is mounted by no container"));
            }
        }
    }
    for s in docs.iter().filter(|d| d.kind() == "Service") {
        let id = s.id();
        let selector = labels(&s.v["spec"]["selector"]);
        let selected: Vec<&Workload> = ws.iter().filter(|w| subset(&selector, &w.labels())).collect();
        if selected.is_empty() {
            problems.push(format!("{id}: selector {selector:?} selects no pods"));
        }
        let ports = seq(&s.v["spec"]["ports"]);
        if ports.is_empty() {
            problems.push(format!("{id}: no ports"));
        }
        for p in ports {
            let target = if p["targetPort"].is_null() {
                &p["port"]
            } else {
                &p["targetPort"]
            };
            for w in &selected {
                if !port_declared(target, &w.ports()) {
                    problems.push(format!("{id}: targetPort {target:?} is not declared by {}", w.doc.id()));
                }
            }
        }
    }
    for pdb in docs.iter().filter(|d| d.kind() == "PodDisruptionBudget") {
        let selector = labels(&pdb.v["spec"]["selector"]["matchLabels"]);
        let n = ws.iter().filter(|w| subset(&selector, &w.labels())).count();
        if n != 1 {
            problems.push(format!(
                "{}: selector {selector:?} matches {n} workloads, not one",
                pdb.id()
            ));
        }
        if pdb.v["spec"]["maxUnavailable"].is_null() == pdb.v["spec"]["minAvailable"].is_null() {
            problems.push(format!(
                "{}: needs exactly one of maxUnavailable and minAvailable",
                pdb.id()
            ));
        }
    }
}

/// The workload a HorizontalPodAutoscaler or ScaledObject scales.
pub fn scale_target<'a>(d: &Doc, docs: &[&'a Doc]) -> Option<&'a Doc> {
    let r = &d.v["spec"]["scaleTargetRef"];
    let kind = r["kind"].as_str().unwrap_or("Deployment");
    let api = r["apiVersion"].as_str().unwrap_or("apps/v1");
    find(docs, kind, r["name"].as_str().unwrap_or("")).filter(|t| t.v["apiVersion"].as_str() == Some(api))
}

/// Autoscalers scale something that exists; a CPU utilization target needs CPU requests.
pub fn check_autoscalers(docs: &[&Doc], targets: &[&Doc], problems: &mut Vec<String>) {
    for d in docs
        .iter()
        .filter(|d| matches!(d.kind(), "HorizontalPodAutoscaler" | "ScaledObject"))
    {
        let Some(target) = scale_target(d, targets) else {
            problems.push(format!(
                "{}: scaleTargetRef {:?} resolves to no workload",
                d.id(),
                d.v["spec"]["scaleTargetRef"]
            ));
            continue;
        };
        let utilization = seq(&d.v["spec"]["metrics"])
            .iter()
            .any(|m| m["resource"]["name"] == "cpu" && m["resource"]["target"]["type"] == "Utilization");
        if utilization {
            for c in seq(&target.v["spec"]["template"]["spec"]["containers"]) {
                if c["resources"]["requests"]["cpu"].is_null() {
                    problems.push(format!(
                        "{}: CPU utilization of {} needs CPU requests",
                        d.id(),
                        target.id()
                    ));
                }
            }
        }
        if d.kind() == "HorizontalPodAutoscaler" {
            let (min, max) = (
                d.v["spec"]["minReplicas"].as_u64().unwrap_or(1),
                d.v["spec"]["maxReplicas"].as_u64().unwrap_or(0),
            );
            if max < min.max(1) {
                problems.push(format!("{}: maxReplicas {max} below minReplicas {min}", d.id()));
            }
        }
    }
}

/// `kustomization.yaml` lists exactly the manifest files beside it.
pub fn check_kustomization_lists(dir: &Path, kustomization: &Value, rel: &str, problems: &mut Vec<String>) {
    let listed: BTreeSet<String> = strings(&kustomization["resources"])
        .into_iter()
        .filter(|r| !r.ends_with('/'))
        .collect();
    let present: BTreeSet<String> = yaml_files(dir)
        .into_iter()
        .filter(|f| f != "kustomization.yaml")
        .collect();
    for f in present.difference(&listed) {
        problems.push(format!("{rel}{f} is not listed in {rel}kustomization.yaml"));
    }
    for f in listed.difference(&present) {
        problems.push(format!("{rel}kustomization.yaml lists {f}, which is not there"));
    }
}

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}
