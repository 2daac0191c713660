//! Metrics observed from the replicated state and from Raft (docs/metrics.md).
//!
//! Coverage, findings and pipeline totals are one truth for the cluster, so only the leader
//! reports them; a follower reports its own Raft position and feed subscribers only. Finding
//! and pipeline totals are kept by the state machine and read at each export. Coverage needs a
//! pass over every resource, which the leader makes every `census_interval_ms` on the blocking
//! pool; exports in between report the last pass.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use argus_proto::v1::{ChangeKind, CoverageReason, CoverageStatus, FindingStatus, FindingType, ResourceType, Severity};
use argus_worker::queue::{Backlog, Queue};
use argus_worker::telemetry::meter;
use opentelemetry::metrics::{AsyncInstrument, Meter};
use opentelemetry::KeyValue;
use tracing::warn;

use super::instruments::feed_positions;
use crate::config::TelemetryConfig;
use crate::node::Node;
use crate::state::State;

/// Set by `init` when metrics are exported; without it nothing is observed or computed.
static EXPORTING: AtomicBool = AtomicBool::new(false);

pub(super) fn exporting() {
    EXPORTING.store(true, Ordering::Release);
}

/// Coverage as of one pass over the resources.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Census {
    /// (type, region, status, reason, account or empty) → live resources.
    pub resources: BTreeMap<[String; 5], u64>,
    pub by_type: BTreeMap<String, TypeCensus>,
    /// How long the pass took.
    pub took: Duration,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct TypeCensus {
    pub total: u64,
    pub covered: u64,
    pub never_scanned: u64,
    /// Seconds since the epoch of the oldest last scan.
    pub oldest_scan: Option<i64>,
}

fn name<E: Copy>(
    value: i32,
    decode: impl Fn(i32) -> Option<E>,
    text: impl Fn(E) -> &'static str,
    prefix: &str,
) -> String {
    decode(value)
        .map(|e| text(e).trim_start_matches(prefix).to_string())
        .unwrap_or_else(|| format!("{value}"))
}

pub fn resource_type_name(t: i32) -> String {
    name(t, |v| ResourceType::try_from(v).ok(), |e| e.as_str_name(), "")
}

pub fn severity_name(s: i32) -> String {
    name(s, |v| Severity::try_from(v).ok(), |e| e.as_str_name(), "")
}

/// Counts the live resources of `state` by type, region, coverage status and reason (and
/// account when `by_account`).
pub fn take_census(state: &State, by_account: bool) -> crate::Result<Census> {
    let started = Instant::now();
    let mut census = Census::default();
    state.for_each_resource(|r| {
        if r.removed {
            return;
        }
        let coverage = r.coverage.clone().unwrap_or_default();
        let rtype = resource_type_name(r.r#type);
        let status = name(
            coverage.status,
            |v| CoverageStatus::try_from(v).ok(),
            |e| e.as_str_name(),
            "COVERAGE_",
        );
        let reason = name(
            coverage.reason,
            |v| CoverageReason::try_from(v).ok(),
            |e| e.as_str_name(),
            "",
        );
        let account = if by_account {
            r.account_id.clone()
        } else {
            String::new()
        };
        *census
            .resources
            .entry([rtype.clone(), r.region.clone(), status, reason, account])
            .or_default() += 1;
        let t = census.by_type.entry(rtype).or_default();
        t.total += 1;
        t.covered += u64::from(coverage.status == CoverageStatus::CoverageActive as i32);
        match coverage.last_scanned_at {
            None => t.never_scanned += 1,
            Some(at) => t.oldest_scan = Some(t.oldest_scan.map_or(at.seconds, |o| o.min(at.seconds))),
        }
    })?;
    census.took = started.elapsed();
    Ok(census)
}

/// One node's observed sources.
struct Observed {
    node: Weak<Node>,
    queue: Option<Queue>,
    config: TelemetryConfig,
    census: Mutex<Option<Census>>,
    /// Jobs and results queues, as last asked.
    backlog: Mutex<Option<(Backlog, Backlog)>>,
    /// Every coverage series reported so far. The SDK keeps exporting a series' last value
    /// once it was observed, so one that empties (no resource has that reason any more) must
    /// be observed as 0 rather than left out.
    seen: Mutex<std::collections::BTreeSet<[String; 5]>>,
}

impl Observed {
    /// The node, when it is alive and leads.
    fn leader(&self) -> Option<Arc<Node>> {
        self.node.upgrade().filter(|n| n.is_leader())
    }
}

fn registry() -> &'static Mutex<Vec<Weak<Observed>>> {
    static REGISTRY: OnceLock<Mutex<Vec<Weak<Observed>>>> = OnceLock::new();
    REGISTRY.get_or_init(Default::default)
}

fn each(mut f: impl FnMut(&Observed)) {
    let list: Vec<Arc<Observed>> = {
        let mut r = registry().lock().unwrap_or_else(|e| e.into_inner());
        r.retain(|w| w.strong_count() > 0);
        r.iter().filter_map(Weak::upgrade).collect()
    };
    for o in list {
        f(&o);
    }
}

/// Reports `node`'s metrics while it lives (and its queue's depth, when it runs the pipeline).
/// Does nothing unless metrics are exported. Must run inside a tokio runtime.
pub fn observe_node(node: &Arc<Node>, queue: Option<Queue>, config: &TelemetryConfig) {
    if !EXPORTING.load(Ordering::Acquire) {
        return;
    }
    register_instruments();
    let observed = Arc::new(Observed {
        node: Arc::downgrade(node),
        queue,
        config: config.clone(),
        census: Mutex::new(None),
        backlog: Mutex::new(None),
        seen: Mutex::new(Default::default()),
    });
    registry()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(Arc::downgrade(&observed));
    tokio::spawn(refresh(observed));
}

/// Keeps the leader's coverage census and queue depths current; clears them on a follower so
/// that it reports none.
async fn refresh(observed: Arc<Observed>) {
    let census_every = Duration::from_millis(observed.config.census_interval_ms.max(100));
    let tick = census_every.min(Duration::from_secs(5));
    let mut last_census: Option<Instant> = None;
    loop {
        let Some(node) = observed.node.upgrade() else { return };
        if !node.is_leader() {
            *observed.census.lock().unwrap_or_else(|e| e.into_inner()) = None;
            *observed.backlog.lock().unwrap_or_else(|e| e.into_inner()) = None;
            last_census = None;
        } else {
            if last_census.is_none_or(|t| t.elapsed() >= census_every) {
                let (state, by_account) = (node.state.clone(), observed.config.coverage_by_account);
                match tokio::task::spawn_blocking(move || take_census(&state, by_account)).await {
                    Ok(Ok(c)) => *observed.census.lock().unwrap_or_else(|e| e.into_inner()) = Some(c),
                    Ok(Err(e)) => warn!(error = %e, "coverage census failed"),
                    Err(e) => warn!(error = %e, "coverage census crashed"),
                }
                last_census = Some(Instant::now());
            }
            if let Some(q) = &observed.queue {
                match (q.jobs_backlog().await, q.results_backlog().await) {
                    (Ok(j), Ok(r)) => *observed.backlog.lock().unwrap_or_else(|e| e.into_inner()) = Some((j, r)),
                    (Err(e), _) | (_, Err(e)) => warn!(error = %e, "reading the queue depth failed"),
                }
            }
        }
        drop(node);
        tokio::time::sleep(tick).await;
    }
}

type Observer<'a> = &'a dyn AsyncInstrument<u64>;

/// A u64 gauge whose value comes from each observed node.
fn gauge(m: &Meter, name: &'static str, unit: &'static str, description: &'static str, f: fn(&Observed, Observer)) {
    m.u64_observable_gauge(name)
        .with_unit(unit)
        .with_description(description)
        .with_callback(move |o| each(|n| f(n, o)))
        .build();
}

fn counter(m: &Meter, name: &'static str, unit: &'static str, description: &'static str, f: fn(&Observed, Observer)) {
    m.u64_observable_counter(name)
        .with_unit(unit)
        .with_description(description)
        .with_callback(move |o| each(|n| f(n, o)))
        .build();
}

fn with_census(n: &Observed, f: impl FnOnce(&Census)) {
    if n.leader().is_none() {
        return;
    }
    if let Some(c) = n.census.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
        f(c);
    }
}

fn with_totals(n: &Observed, f: impl FnOnce(&crate::state::FindingTotals)) {
    let Some(node) = n.leader() else { return };
    match node.state.finding_totals() {
        Ok(t) => f(&t),
        Err(e) => warn!(error = %e, "reading finding totals for metrics"),
    }
}

fn with_counters(n: &Observed, f: impl FnOnce(&argus_proto::internal::v1::PipelineCounters)) {
    let Some(node) = n.leader() else { return };
    match node.state.pipeline_counters() {
        Ok(c) => f(&c),
        Err(e) => warn!(error = %e, "reading pipeline counters for metrics"),
    }
}

/// Findings matching `keep`, summed by severity.
fn by_severity(t: &crate::state::FindingTotals, keep: impl Fn(&crate::state::Tally) -> bool) -> BTreeMap<i32, u64> {
    let mut out: BTreeMap<i32, u64> = SEVERITIES.iter().map(|s| (*s as i32, 0)).collect();
    for (k, n) in t.findings.iter().filter(|(k, _)| keep(k)) {
        *out.entry(k.severity).or_default() += n;
    }
    out
}

fn observe_by_severity(o: Observer, counts: BTreeMap<i32, u64>) {
    for (severity, n) in counts {
        o.observe(n, &[KeyValue::new("finding.severity", severity_name(severity))]);
    }
}

const ACTIVE: i32 = FindingStatus::Active as i32;

const SEVERITIES: [Severity; 5] = [
    Severity::Critical,
    Severity::High,
    Severity::Medium,
    Severity::Low,
    Severity::Untriaged,
];

fn register_instruments() {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        let m = meter();
        coverage_instruments(&m);
        finding_instruments(&m);
        pipeline_instruments(&m);
        raft_instruments(&m);
    });
}

fn coverage_instruments(m: &Meter) {
    gauge(
        m,
        "argus.coverage.resources",
        "{resource}",
        "Live resources by type, region and coverage",
        |n, o| {
            with_census(n, |c| {
                let mut seen = n.seen.lock().unwrap_or_else(|e| e.into_inner());
                seen.extend(c.resources.keys().cloned());
                for key in seen.iter() {
                    let count = c.resources.get(key).copied().unwrap_or(0);
                    let [rtype, region, status, reason, account] = key;
                    let mut attributes = vec![
                        KeyValue::new("resource.type", rtype.clone()),
                        KeyValue::new("cloud.region", region.clone()),
                        KeyValue::new("coverage.status", status.clone()),
                        KeyValue::new("coverage.reason", reason.clone()),
                    ];
                    if n.config.coverage_by_account {
                        attributes.push(KeyValue::new("cloud.account.id", account.clone()));
                    }
                    o.observe(count, &attributes);
                }
            })
        },
    );
    gauge(
        m,
        "argus.coverage.never_scanned",
        "{resource}",
        "Live resources never scanned",
        |n, o| {
            with_census(n, |c| {
                for (rtype, t) in &c.by_type {
                    o.observe(t.never_scanned, &[KeyValue::new("resource.type", rtype.clone())]);
                }
            })
        },
    );
    m.f64_observable_gauge("argus.coverage.ratio")
        .with_unit("1")
        .with_description("Covered (ACTIVE) over all live resources, per type")
        .with_callback(|o| {
            each(|n| {
                with_census(n, |c| {
                    for (rtype, t) in &c.by_type {
                        let ratio = if t.total == 0 {
                            0.0
                        } else {
                            t.covered as f64 / t.total as f64
                        };
                        o.observe(ratio, &[KeyValue::new("resource.type", rtype.clone())]);
                    }
                })
            })
        })
        .build();
    m.f64_observable_gauge("argus.coverage.oldest_scan_age")
        .with_unit("s")
        .with_description("Age of the oldest last scan among scanned live resources, per type")
        .with_callback(|o| {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default()
                .as_secs() as i64;
            each(|n| {
                with_census(n, |c| {
                    for (rtype, t) in &c.by_type {
                        if let Some(oldest) = t.oldest_scan {
                            o.observe(
                                (now - oldest).max(0) as f64,
                                &[KeyValue::new("resource.type", rtype.clone())],
                            );
                        }
                    }
                })
            })
        })
        .build();
    m.f64_observable_gauge("argus.coverage.census.duration")
        .with_unit("s")
        .with_description("How long the last coverage recomputation took")
        .with_callback(|o| each(|n| with_census(n, |c| o.observe(c.took.as_secs_f64(), &[]))))
        .build();
}

fn finding_instruments(m: &Meter) {
    gauge(
        m,
        "argus.findings.active",
        "{finding}",
        "ACTIVE findings by severity and type",
        |n, o| {
            with_totals(n, |t| {
                // Every severity and type, zeros included: a series once reported keeps its last
                // value in the SDK until it is observed again.
                let mut counts: BTreeMap<(i32, i32), u64> = BTreeMap::new();
                for severity in SEVERITIES {
                    for ftype in [FindingType::PackageVulnerability, FindingType::NetworkReachability] {
                        counts.insert((severity as i32, ftype as i32), 0);
                    }
                }
                for (k, c) in t.findings.iter().filter(|(k, _)| k.status == ACTIVE) {
                    *counts.entry((k.severity, k.r#type)).or_default() += c;
                }
                for ((severity, ftype), c) in counts {
                    let ftype = name(ftype, |v| FindingType::try_from(v).ok(), |e| e.as_str_name(), "");
                    o.observe(
                        c,
                        &[
                            KeyValue::new("finding.severity", severity_name(severity)),
                            KeyValue::new("finding.type", ftype),
                        ],
                    );
                }
            })
        },
    );
    gauge(
        m,
        "argus.findings.suppressed",
        "{finding}",
        "SUPPRESSED findings by severity",
        |n, o| {
            with_totals(n, |t| {
                observe_by_severity(o, by_severity(t, |k| k.status == FindingStatus::Suppressed as i32))
            })
        },
    );
    gauge(
        m,
        "argus.findings.fix_available",
        "{finding}",
        "ACTIVE findings with a fix",
        |n, o| {
            with_totals(n, |t| {
                observe_by_severity(o, by_severity(t, |k| k.status == ACTIVE && k.fix))
            })
        },
    );
    gauge(
        m,
        "argus.findings.kev",
        "{finding}",
        "ACTIVE findings known to be exploited",
        |n, o| {
            with_totals(n, |t| {
                observe_by_severity(o, by_severity(t, |k| k.status == ACTIVE && k.exploit))
            })
        },
    );
    counter(
        m,
        "argus.findings.changes",
        "{change}",
        "Finding changes by kind",
        |n, o| {
            with_totals(n, |t| {
                for kind in [
                    ChangeKind::Created,
                    ChangeKind::Updated,
                    ChangeKind::Closed,
                    ChangeKind::Suppressed,
                    ChangeKind::Reopened,
                ] {
                    let label = kind.as_str_name().trim_start_matches("CHANGE_KIND_");
                    o.observe(t.change_count(kind), &[KeyValue::new("change.kind", label)]);
                }
            })
        },
    );
}

fn pipeline_instruments(m: &Meter) {
    gauge(
        m,
        "argus.pipeline.artifacts",
        "{artifact}",
        "Distinct artifacts tracked",
        |n, o| with_counters(n, |c| o.observe(c.artifacts, &[])),
    );
    gauge(
        m,
        "argus.pipeline.artifacts.failed",
        "{artifact}",
        "Artifacts whose last job failed",
        |n, o| with_counters(n, |c| o.observe(c.failed, &[])),
    );
    gauge(
        m,
        "argus.pipeline.jobs.in_flight",
        "{job}",
        "Jobs dispatched and without a result",
        |n, o| with_counters(n, |c| o.observe(c.in_flight, &[])),
    );
    counter(
        m,
        "argus.pipeline.jobs.dispatched",
        "{job}",
        "Job attempts recorded and published",
        |n, o| with_counters(n, |c| o.observe(c.jobs_dispatched, &[])),
    );
    counter(
        m,
        "argus.pipeline.jobs.retried",
        "{job}",
        "Attempts after the first",
        |n, o| with_counters(n, |c| o.observe(c.jobs_retried, &[])),
    );
    counter(
        m,
        "argus.pipeline.results.applied",
        "{result}",
        "Results that changed the state",
        |n, o| with_counters(n, |c| o.observe(c.results_applied, &[])),
    );
    counter(
        m,
        "argus.pipeline.reevaluations",
        "{run}",
        "Re-evaluations started",
        |n, o| with_counters(n, |c| o.observe(c.reevaluations, &[])),
    );
    gauge(
        m,
        "argus.pipeline.reevaluation.rematched",
        "{artifact}",
        "Artifacts the latest re-evaluation queued",
        |n, o| {
            with_counters(n, |c| {
                if !c.reevaluated_db_version.is_empty() {
                    let version = KeyValue::new("vulndb.version", c.reevaluated_db_version.clone());
                    o.observe(c.reevaluation_rematched, &[version]);
                }
            })
        },
    );
    gauge(
        m,
        "argus.pipeline.jobs.queued",
        "{job}",
        "Jobs in the queue not delivered yet",
        |n, o| {
            if n.leader().is_some() {
                if let Some((jobs, _)) = *n.backlog.lock().unwrap_or_else(|e| e.into_inner()) {
                    o.observe(jobs.waiting, &[]);
                }
            }
        },
    );
    gauge(
        m,
        "argus.pipeline.results.queued",
        "{result}",
        "Results waiting for ingestion",
        |n, o| {
            if n.leader().is_some() {
                if let Some((_, results)) = *n.backlog.lock().unwrap_or_else(|e| e.into_inner()) {
                    o.observe(results.waiting + results.unacked, &[]);
                }
            }
        },
    );
}

fn raft_instruments(m: &Meter) {
    gauge(m, "argus.raft.term", "{term}", "Current Raft term", |n, o| {
        if let Some(node) = n.node.upgrade() {
            o.observe(node.raft.metrics().borrow().current_term, &[]);
        }
    });
    gauge(m, "argus.raft.is_leader", "1", "1 on the leader", |n, o| {
        if let Some(node) = n.node.upgrade() {
            o.observe(u64::from(node.is_leader()), &[]);
        }
    });
    gauge(m, "argus.raft.index", "{entry}", "Raft log positions", |n, o| {
        let Some(node) = n.node.upgrade() else { return };
        let metrics = node.raft.metrics();
        let m = metrics.borrow();
        let positions = [
            ("last_log", m.last_log_index),
            ("applied", m.last_applied.map(|l| l.index)),
            ("snapshot", m.snapshot.map(|l| l.index)),
            ("purged", m.purged.map(|l| l.index)),
        ];
        for (which, index) in positions {
            o.observe(index.unwrap_or(0), &[KeyValue::new("raft.index", which)]);
        }
    });
    gauge(
        m,
        "argus.raft.replication.lag",
        "{entry}",
        "Entries a follower has not matched",
        |n, o| {
            let Some(node) = n.node.upgrade() else { return };
            let metrics = node.raft.metrics();
            let m = metrics.borrow();
            let (Some(replication), Some(last)) = (m.replication.as_ref(), m.last_log_index) else {
                return;
            };
            for (follower, matched) in replication.iter() {
                if *follower == node.id {
                    continue;
                }
                let lag = last.saturating_sub(matched.map_or(0, |l| l.index));
                o.observe(lag, &[KeyValue::new("raft.follower", follower.to_string())]);
            }
        },
    );
    gauge(
        m,
        "argus.feed.subscribers",
        "{subscriber}",
        "Open Subscribe streams",
        |n, o| {
            if n.node.upgrade().is_some() {
                o.observe(feed_positions().0, &[]);
            }
        },
    );
    gauge(
        m,
        "argus.feed.lag",
        "{change}",
        "Most committed changes a subscriber has not been sent",
        |n, o| {
            let Some(node) = n.node.upgrade() else { return };
            let head = *node.state.watch_cursor().borrow();
            let lag = feed_positions().1.map_or(0, |lowest| head.saturating_sub(lowest));
            o.observe(lag, &[]);
        },
    );
}
