//! AWS discovery, run by the Raft leader every `interval_secs`: the accounts (the
//! organization's or a configured list), each entered with its own credentials or an assumed
//! role, their regions, and in each region the EC2 instances, ECR images and Lambda functions.
//! Each account's findings are compared with the replicated inventory (`diff.rs`) and only the
//! changes are proposed, through Raft like any other write.
//!
//! An account that cannot be entered is recorded ACCESS_DENIED on its account record and its
//! resources stay as they were; the other accounts proceed. Accounts run `account_concurrency`
//! at a time and the regions of one account `region_concurrency` at a time; every listing is
//! paginated and every call retried by the SDK on throttling.

pub mod aws;
pub mod diff;
pub mod ec2;
pub mod ecr;
pub mod lambda;
pub mod network;
pub mod organization;
pub mod ssm;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use argus_proto::internal::v1::command::Kind as Cmd;
use argus_proto::internal::v1::command_result::Kind as Res;
use argus_proto::internal::v1::Command;
use argus_proto::v1::{
    Account, Coverage, CoverageReason, CoverageStatus, PutAccountsRequest, PutResourcesRequest, RemoveResourcesRequest,
    ReportHostInventoryRequest, Resource, ResourceType,
};
use futures::StreamExt;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::{info, warn};

use self::aws::{AccountAccess, Aws};
use self::diff::{Scope, Stored};
use self::organization::OrgAccount;
use crate::config::DiscoveryConfig;
use crate::error::{Error, Result};
use crate::node::Node;
use crate::reachability::model::NetworkSnapshot;

/// The discovery task of one node; it acts only while the node leads.
pub struct Discovery {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Discovery {
    pub fn start(node: Arc<Node>, config: DiscoveryConfig) -> Discovery {
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(run(node, config, stopped));
        Discovery { stop, task }
    }

    /// Stops after the call in flight; a cycle cut short proposed only complete changes.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

/// How a cycle went, for the log, the metrics and the benchmark.
#[derive(Debug, Default, Clone)]
pub struct CycleReport {
    pub accounts: usize,
    pub accounts_denied: usize,
    pub accounts_failed: usize,
    /// Account × region pairs read.
    pub regions: usize,
    pub added: usize,
    pub updated: usize,
    pub removed: usize,
    pub unchanged: usize,
    /// Instances whose SSM inventory was proposed as their host inventory.
    pub ssm_inventories: usize,
    /// API call attempts by service and operation during the cycle.
    pub calls: BTreeMap<(String, String), u64>,
    pub took: Duration,
}

impl CycleReport {
    pub fn api_calls(&self) -> u64 {
        self.calls.values().sum()
    }
}

/// The discovery loop: a cycle every `interval_secs` while this node leads, until `stopped`.
pub async fn run(node: Arc<Node>, config: DiscoveryConfig, mut stopped: watch::Receiver<bool>) {
    let interval = Duration::from_secs(config.interval_secs.max(1));
    let mut aws: Option<Aws> = None;
    let mut next = Instant::now();
    let mut leading = false;
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stopped.wait_for(|s| *s) => return,
        }
        let leader = node.is_leader();
        if leader && !leading {
            // A new leader discovers at once rather than waiting out an interval it did not
            // start.
            next = Instant::now();
        }
        leading = leader;
        if !leader || Instant::now() < next {
            continue;
        }
        next = Instant::now() + interval;
        if aws.is_none() {
            match Aws::connect(&config).await {
                Ok(a) => {
                    info!(account_id = %a.own_account, "discovery credentials loaded");
                    aws = Some(a);
                }
                Err(e) => {
                    warn!(error = %e, "discovery cannot load its AWS credentials; retrying");
                    next = Instant::now() + interval.min(Duration::from_secs(30));
                    continue;
                }
            }
        }
        let aws = aws.as_ref().expect("connected");
        let cycle = tokio::select! {
            r = cycle(&node, aws, &config) => r,
            _ = stopped.wait_for(|s| *s) => return,
        };
        match cycle {
            Ok(report) => {
                let outcome = if report.accounts_denied + report.accounts_failed == 0 {
                    "ok"
                } else {
                    "partial"
                };
                crate::telemetry::discovery::cycle(outcome, report.took);
                info!(
                    accounts = report.accounts,
                    accounts_denied = report.accounts_denied,
                    accounts_failed = report.accounts_failed,
                    regions = report.regions,
                    added = report.added,
                    updated = report.updated,
                    removed = report.removed,
                    unchanged = report.unchanged,
                    ssm_inventories = report.ssm_inventories,
                    api_calls = report.api_calls(),
                    calls = %calls_summary(&report.calls),
                    took_ms = report.took.as_millis() as u64,
                    "discovery cycle finished"
                );
            }
            Err(e) => {
                crate::telemetry::discovery::cycle("failed", Duration::ZERO);
                warn!(error = %e, "discovery cycle failed");
            }
        }
    }
}

/// `service:Operation=n` pairs, for the log line.
pub fn calls_summary(calls: &BTreeMap<(String, String), u64>) -> String {
    calls
        .iter()
        .map(|((s, o), n)| format!("{s}:{o}={n}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// One pass over every account. Fails only when the account list cannot be read or the
/// inventory cannot be; one account's failure is recorded on that account.
pub async fn cycle(node: &Node, aws: &Aws, config: &DiscoveryConfig) -> Result<CycleReport> {
    let started = Instant::now();
    let calls_before = aws.counter.snapshot();
    let accounts = account_list(node, aws, config).await?;
    let mut stored: HashMap<String, Stored> = HashMap::new();
    node.state.for_each_resource(|r| diff::add(&mut stored, r))?;
    // The futures are made first and then streamed: a stream `map` closure over borrowed
    // state makes the task's future not `Send` (rust-lang/rust#102211).
    let futures: Vec<_> = accounts
        .into_iter()
        .map(|a| {
            let stored = stored.remove(&a.account_id);
            discover_account(node, aws, config, a, stored)
        })
        .collect();
    let results: Vec<Result<AccountOutcome>> = futures::stream::iter(futures)
        .buffer_unordered(config.account_concurrency.max(1))
        .collect()
        .await;
    let mut report = CycleReport::default();
    for r in results {
        let o = r?;
        report.accounts += 1;
        match o.reason {
            CoverageReason::Successful => crate::telemetry::discovery::account("ok"),
            CoverageReason::AccessDenied => {
                report.accounts_denied += 1;
                crate::telemetry::discovery::account("access_denied");
            }
            _ => {
                report.accounts_failed += 1;
                crate::telemetry::discovery::account("failed");
            }
        }
        report.regions += o.regions;
        report.added += o.changes.added;
        report.updated += o.changes.updated;
        report.removed += o.changes.removed;
        report.unchanged += o.changes.unchanged;
        report.ssm_inventories += o.ssm_inventories;
    }
    for ((service, operation), n) in aws.counter.snapshot() {
        let before = calls_before
            .get(&(service.clone(), operation.clone()))
            .copied()
            .unwrap_or(0);
        if n > before {
            report.calls.insert((service, operation), n - before);
        }
    }
    report.took = started.elapsed();
    Ok(report)
}

/// The configured accounts (named as the inventory already knows them), or the organization's.
async fn account_list(node: &Node, aws: &Aws, config: &DiscoveryConfig) -> Result<Vec<OrgAccount>> {
    if config.accounts.is_empty() {
        return organization::accounts(aws).await;
    }
    let mut out = Vec::new();
    for id in &config.accounts {
        let known = node.state.get_account(id)?.unwrap_or_default();
        out.push(OrgAccount {
            account_id: id.clone(),
            name: known.name,
            organization_unit: known.organization_unit,
            tags: known.tags,
        });
    }
    Ok(out)
}

#[derive(Debug, Default, Clone, Copy)]
struct ChangeCounts {
    added: usize,
    updated: usize,
    removed: usize,
    unchanged: usize,
}

struct AccountOutcome {
    reason: CoverageReason,
    regions: usize,
    changes: ChangeCounts,
    ssm_inventories: usize,
}

/// Discovers one account and proposes its changes. `Err` only when Raft refuses a write (e.g.
/// this node lost the lead): AWS errors become the account's coverage.
async fn discover_account(
    node: &Node,
    aws: &Aws,
    config: &DiscoveryConfig,
    org: OrgAccount,
    stored: Option<Stored>,
) -> Result<AccountOutcome> {
    let known = node.state.get_account(&org.account_id)?;
    let mut account = Account {
        account_id: org.account_id.clone(),
        name: org.name.clone(),
        organization_unit: org.organization_unit.clone(),
        tags: org.tags.clone(),
        // Until the account is read again, the regions last read stand.
        regions: known.as_ref().map(|k| k.regions.clone()).unwrap_or_default(),
        ..Default::default()
    };
    let entered = match aws.enter(&org.account_id).await {
        Ok(access) => aws.regions(&access).await.map(|regions| (access, regions)),
        Err(e) => Err(e),
    };
    let (access, regions) = match entered {
        Ok(x) => x,
        Err(e) => {
            let reason = failure_reason(&e);
            warn!(account_id = %org.account_id, error = %e, "discovery cannot enter the account");
            account.coverage = Some(inactive(reason, e.to_string()));
            put_account_if_changed(node, known.as_ref(), account).await?;
            return Ok(AccountOutcome {
                reason,
                regions: 0,
                changes: ChangeCounts::default(),
                ssm_inventories: 0,
            });
        }
    };
    account.regions = regions.clone();
    let futures: Vec<_> = regions
        .iter()
        .map(|region| discover_region(aws, &access, config, region))
        .collect();
    let read: Vec<RegionRead> = futures::stream::iter(futures)
        .buffer_unordered(config.region_concurrency.max(1))
        .collect()
        .await;
    let mut scopes = Vec::new();
    let mut failures = Vec::new();
    let mut networks = Vec::new();
    let mut host_reports = Vec::new();
    for (scope, result) in read.into_iter().flat_map(|r| {
        networks.extend(r.network);
        host_reports.extend(r.host_reports);
        r.scopes
    }) {
        match result {
            Ok(resources) => scopes.push((scope, Some(resources))),
            Err(e) => {
                warn!(account_id = %org.account_id, region = %scope.region, error = %e, "discovery read failed");
                failures.push((scope.clone(), e));
                scopes.push((scope, None));
            }
        }
    }
    let changes = diff::diff(stored.as_ref(), scopes);
    let counts = write_changes(node, config, &changes).await?;
    // After the resources, so that an instance seen for the first time is in the inventory when
    // its exposures are applied (either order converges; this one avoids a second reconcile).
    for (snapshot, observed_at) in &networks {
        for command in crate::reachability::commands(snapshot, *observed_at) {
            write(node, command.kind.expect("reachability commands carry a kind")).await?;
        }
    }
    // Also after the resources: a report names an instance the state machine must know.
    let mut ssm_inventories = 0;
    // Half the stale window: an SSM-covered instance is reported again well before it would
    // go stale, even when its packages do not change.
    let refresh_before = match node.config.inventory_stale_after_secs {
        0 => prost_types::Timestamp {
            seconds: i64::MIN,
            nanos: 0,
        },
        secs => (std::time::SystemTime::now() - Duration::from_secs(secs / 2)).into(),
    };
    for report in host_reports {
        if ssm::needed(
            node.state.get_resource(&report.resource_id)?.as_ref(),
            &report,
            &refresh_before,
        ) {
            write(node, Cmd::ReportHostInventory(report)).await?;
            ssm_inventories += 1;
        }
    }
    // Failures are named in a stable order so that the account record changes only when they do.
    failures.sort_by(|a, b| a.0.cmp(&b.0));
    let reason = match failures.first() {
        None => {
            account.coverage = Some(Coverage {
                status: CoverageStatus::CoverageActive as i32,
                reason: CoverageReason::Successful as i32,
                ..Default::default()
            });
            CoverageReason::Successful
        }
        Some((_, first)) => {
            let reason = failure_reason(first);
            let detail = failures
                .iter()
                .map(|(s, e)| format!("{} in {}: {e}", type_name(s.resource_type), s.region))
                .collect::<Vec<_>>()
                .join("; ");
            account.coverage = Some(inactive(reason, detail));
            reason
        }
    };
    put_account_if_changed(node, known.as_ref(), account).await?;
    Ok(AccountOutcome {
        reason,
        regions: regions.len(),
        changes: counts,
        ssm_inventories,
    })
}

/// What one region read gave: a result per resource type, each complete or failed on its own,
/// and the network snapshot with the time it was read when the network could be read whole.
struct RegionRead {
    scopes: Vec<(Scope, Result<Vec<Resource>>)>,
    network: Option<(NetworkSnapshot, prost_types::Timestamp)>,
    /// Host inventories from SSM for the region's managed instances.
    host_reports: Vec<ReportHostInventoryRequest>,
}

/// Reads one region.
async fn discover_region(aws: &Aws, access: &AccountAccess, config: &DiscoveryConfig, region: &String) -> RegionRead {
    let account = &access.account_id;
    let mut out = Vec::new();
    let mut network = None;
    let mut host_reports = Vec::new();
    let wants = |s: &str| config.services.iter().any(|x| x.eq_ignore_ascii_case(s));
    let scope = |t: ResourceType| Scope {
        region: region.clone(),
        resource_type: t as i32,
    };
    if wants("ec2") {
        let client = aws.ec2(access, region);
        let r = match ec2::instances(&client, account, region).await {
            Ok((mut resources, networks)) => {
                if wants("ssm") {
                    // SSM is optional context: when it cannot be read, the instances are put
                    // without their SSM status and keep the inventories they have.
                    match ssm::read(&aws.ssm(access, region)).await {
                        Ok(read) => {
                            ssm::annotate(&mut resources, &read);
                            host_reports = ssm::reports(&read, &resources);
                        }
                        Err(e) => warn!(account_id = %account, region = %region, error = %e, "ssm read failed"),
                    }
                }
                if wants("network") {
                    // The network is read for the reachability analysis; a failure there leaves
                    // the instances as read and the stored analysis as it was. The time is taken
                    // before the read so that a later cycle's analysis always supersedes it.
                    let observed_at = prost_types::Timestamp::from(std::time::SystemTime::now());
                    match network::snapshot(&client, account, region, networks).await {
                        Ok(snapshot) => network = Some((snapshot, observed_at)),
                        Err(e) => warn!(account_id = %account, region = %region, error = %e, "network read failed"),
                    }
                }
                Ok(resources)
            }
            Err(e) => Err(e),
        };
        out.push((scope(ResourceType::AwsEc2Instance), r));
    }
    if wants("ecr") {
        let r = ecr::images(&aws.ecr(access, region), account, region).await;
        out.push((scope(ResourceType::AwsEcrContainerImage), r));
    }
    if wants("lambda") {
        let r = lambda::functions(&aws.lambda(access, region), account, region).await;
        out.push((scope(ResourceType::AwsLambdaFunction), r));
    }
    for (_, r) in &mut out {
        if let Ok(resources) = r {
            for res in resources.iter_mut() {
                exclude(&config.exclude_tags, res);
            }
        }
    }
    RegionRead {
        scopes: out,
        network,
        host_reports,
    }
}

/// Marks a resource EXCLUDED_BY_TAG when one of its tags is configured as an exclusion.
pub fn exclude(exclude_tags: &BTreeMap<String, String>, r: &mut Resource) {
    let excluded = exclude_tags
        .iter()
        .any(|(k, v)| r.tags.get(k).is_some_and(|value| v == "*" || v == value));
    if excluded {
        r.coverage = Some(Coverage {
            status: CoverageStatus::CoverageInactive as i32,
            reason: CoverageReason::ExcludedByTag as i32,
            ..Default::default()
        });
    }
}

/// ACCESS_DENIED for the errors AWS gives when credentials or permissions are refused;
/// SCAN_FAILED for anything else (a network error, a throttle that outlasted the retries).
fn failure_reason(e: &Error) -> CoverageReason {
    const REFUSED: &[&str] = &[
        "AccessDenied",
        "AccessDeniedException",
        "UnauthorizedOperation",
        "AuthFailure",
        "InvalidClientTokenId",
        "ExpiredToken",
        "UnrecognizedClientException",
        "AWSOrganizationsNotInUseException",
        "HTTP 401",
        "HTTP 403",
    ];
    match e {
        Error::Aws { code, .. } if REFUSED.contains(&code.as_str()) => CoverageReason::AccessDenied,
        _ => CoverageReason::ScanFailed,
    }
}

fn inactive(reason: CoverageReason, detail: String) -> Coverage {
    Coverage {
        status: CoverageStatus::CoverageInactive as i32,
        reason: reason as i32,
        detail,
        ..Default::default()
    }
}

fn type_name(t: i32) -> &'static str {
    ResourceType::try_from(t).map_or("RESOURCE_TYPE_UNSPECIFIED", |t| t.as_str_name())
}

/// Proposes the account record when it differs from the stored one in what discovery sets.
async fn put_account_if_changed(node: &Node, known: Option<&Account>, account: Account) -> Result<()> {
    if let Some(k) = known {
        let same = Account {
            first_seen_at: k.first_seen_at,
            last_seen_at: k.last_seen_at,
            ..account.clone()
        };
        if same == *k {
            return Ok(());
        }
    }
    write(
        node,
        Cmd::PutAccounts(PutAccountsRequest {
            accounts: vec![account],
        }),
    )
    .await?;
    Ok(())
}

async fn write_changes(node: &Node, config: &DiscoveryConfig, changes: &diff::Changes) -> Result<ChangeCounts> {
    let batch = config.batch_size.clamp(1, crate::state::MAX_BATCH);
    for chunk in changes.added.chunks(batch).chain(changes.updated.chunks(batch)) {
        write(
            node,
            Cmd::PutResources(PutResourcesRequest {
                resources: chunk.to_vec(),
            }),
        )
        .await?;
    }
    for chunk in changes.removed.chunks(batch) {
        write(
            node,
            Cmd::RemoveResources(RemoveResourcesRequest {
                resource_ids: chunk.to_vec(),
            }),
        )
        .await?;
    }
    for t in diff::OWNED {
        let of = |rs: &[Resource]| rs.iter().filter(|r| r.r#type == t as i32).count() as u64;
        crate::telemetry::discovery::changes("added", Some(t.as_str_name()), of(&changes.added));
        crate::telemetry::discovery::changes("updated", Some(t.as_str_name()), of(&changes.updated));
    }
    crate::telemetry::discovery::changes("removed", None, changes.removed.len() as u64);
    Ok(ChangeCounts {
        added: changes.added.len(),
        updated: changes.updated.len(),
        removed: changes.removed.len(),
        unchanged: changes.unchanged,
    })
}

/// One command through Raft, only while this node leads: a deposed leader's cycle stops
/// proposing rather than racing the new leader's.
async fn write(node: &Node, kind: Cmd) -> Result<Res> {
    if !node.is_leader() {
        return Err(Error::NotLeader {
            leader_id: node.leader().map(|(id, _)| id),
            leader_addr: node.leader().map(|(_, a)| a),
        });
    }
    let result = node.write(Command { kind: Some(kind) }).await?;
    match result.kind {
        Some(Res::Error(e)) => Err(Error::FailedPrecondition(format!("{}: {}", e.code, e.message))),
        Some(r) => Ok(r),
        None => Err(Error::Raft("empty command result".into())),
    }
}

/// An SDK time as a protobuf timestamp.
pub(crate) fn timestamp(t: &aws_smithy_types::DateTime) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: t.secs(),
        nanos: t.subsec_nanos() as i32,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_exclusion_matches_by_value_or_by_star() {
        let config: BTreeMap<String, String> = [
            ("Scan".to_string(), "no".to_string()),
            ("Legacy".to_string(), "*".to_string()),
        ]
        .into();
        let with = |k: &str, v: &str| {
            let mut r = Resource {
                tags: [(k.to_string(), v.to_string())].into(),
                ..Default::default()
            };
            exclude(&config, &mut r);
            r.coverage.map(|c| c.reason)
        };
        assert_eq!(with("Scan", "no"), Some(CoverageReason::ExcludedByTag as i32));
        assert_eq!(with("Scan", "yes"), None);
        assert_eq!(with("Legacy", "anything"), Some(CoverageReason::ExcludedByTag as i32));
        assert_eq!(with("Other", "no"), None);
    }

    #[test]
    fn refused_credentials_are_access_denied_and_other_errors_scan_failed() {
        let err = |code: &str| Error::Aws {
            operation: "sts:AssumeRole",
            code: code.into(),
            message: "m".into(),
        };
        assert_eq!(failure_reason(&err("AccessDenied")), CoverageReason::AccessDenied);
        assert_eq!(
            failure_reason(&err("UnauthorizedOperation")),
            CoverageReason::AccessDenied
        );
        assert_eq!(failure_reason(&err("HTTP 403")), CoverageReason::AccessDenied);
        assert_eq!(failure_reason(&err("HTTP 503")), CoverageReason::ScanFailed);
        assert_eq!(failure_reason(&err("ThrottlingException")), CoverageReason::ScanFailed);
        assert_eq!(failure_reason(&err("")), CoverageReason::ScanFailed);
    }
}
