//! Host agent reports: the inventory becomes the resource's artifact, matched by a REMATCH of
//! the stored inventory; discovery putting the instance again keeps it; an EC2 instance without
//! an agent is UNMANAGED_EC2_INSTANCE.

use argus_proto::internal::v1::{JobKind, MarkStaleInventories, MarkStaleInventoriesResponse};
use argus_proto::v1::{
    AgentReport, CoverageReason, CoverageStatus, FindingStatus, InventorySource, ReportHostInventoryRequest,
    ReportHostInventoryResponse,
};
use argus_proto::{Ecosystem, Inventory, Package, PackageManager};

use super::*;

const ACC: &str = "123456789012";

/// The inventory of a Debian host with `openssl` at `version`, as the API edge stores it.
fn host(version: &str) -> (String, Vec<u8>) {
    let mut inv = Inventory::new("/");
    inv.packages.push(Package::new(
        "openssl",
        version,
        Ecosystem("Debian:12".into()),
        PackageManager::Dpkg,
        format!("pkg:deb/debian/openssl@{version}"),
        "/var/lib/dpkg/status",
    ));
    argus_worker::observe::host_artifact(inv)
}

fn report(id: &str, account: &str, version: &str) -> Cmd {
    let (digest, inventory) = host(version);
    Cmd::ReportHostInventory(ReportHostInventoryRequest {
        resource_id: id.into(),
        resource_type: ResourceType::AwsEc2Instance as i32,
        account_id: account.into(),
        region: "eu-west-1".into(),
        hostname: "web-1".into(),
        agent_version: "0.1.0".into(),
        inventory,
        artifact_digest: digest,
        ..Default::default()
    })
}

fn reported(res: Res) -> ReportHostInventoryResponse {
    match res {
        Res::ReportHostInventory(r) => r,
        other => panic!("unexpected {other:?}"),
    }
}

fn reason(f: &Fixture, id: &str) -> (CoverageStatus, CoverageReason) {
    let c = f.resource(id).coverage.unwrap();
    (c.status(), c.reason())
}

#[test]
fn an_instance_without_an_agent_is_unmanaged_and_its_report_makes_it_pending_with_a_rematch_due() {
    let f = open();
    f.run(10, put(vec![instance("i-1", ACC, "")]));
    assert_eq!(
        reason(&f, "i-1"),
        (CoverageStatus::CoverageInactive, CoverageReason::UnmanagedEc2Instance)
    );
    let r = reported(f.run(20, report("i-1", "", "3.0.11-1~deb12u2")));
    let (digest, inventory) = host("3.0.11-1~deb12u2");
    assert_eq!(
        (r.artifact_digest.as_str(), r.changed, r.packages),
        (digest.as_str(), true, 1)
    );
    let stored = f.resource("i-1");
    assert_eq!(stored.artifact_digest, digest);
    assert!(stored.artifact_locator.is_empty());
    assert_eq!(
        stored.agent,
        Some(AgentReport {
            agent_version: "0.1.0".into(),
            hostname: "web-1".into(),
            collected_at: None,
            reported_at: Some(ts(20)),
            packages: 1,
            source: InventorySource::Agent as i32,
        })
    );
    assert_eq!(
        stored.details,
        instance("i-1", ACC, "").details,
        "what discovery said stays"
    );
    assert_eq!(
        reason(&f, "i-1"),
        (CoverageStatus::CoverageActive, CoverageReason::PendingInitialScan)
    );
    // Nothing to fetch: the stored inventory is re-matched.
    let s = f.state.artifact_schedule(&digest).unwrap().unwrap();
    assert_eq!((s.due_kind(), s.due_at), (JobKind::Rematch, Some(ts(20))));
    assert_eq!(f.state.artifact_inventory(&digest).unwrap(), Some(inventory));
}

#[test]
fn the_result_of_the_rematch_gives_findings_and_a_changed_inventory_closes_them() {
    let f = open();
    f.run(10, report("i-1", ACC, "3.0.11-1~deb12u2"));
    let (old, _) = host("3.0.11-1~deb12u2");
    f.run(20, ingest(vec![result(&old, 20, vec![vuln("CVE-1", "openssl")])]));
    let id = fid(ACC, "i-1", "CVE-1", "openssl");
    assert_eq!(f.finding(&id).status(), FindingStatus::Active);
    assert_eq!(
        reason(&f, "i-1"),
        (CoverageStatus::CoverageActive, CoverageReason::Successful)
    );
    // An identical report changes nothing but the report time; no new match is queued.
    let r = reported(f.run(30, report("i-1", ACC, "3.0.11-1~deb12u2")));
    assert!(!r.changed);
    assert_eq!(f.resource("i-1").agent.unwrap().reported_at, Some(ts(30)));
    assert_eq!(
        f.state.artifact_schedule(&old).unwrap().unwrap().due_kind(),
        JobKind::Scan
    );
    // Upgraded: another artifact; once it is matched clean, the finding closes.
    let r = reported(f.run(40, report("i-1", ACC, "3.0.13-1~deb12u1")));
    assert!(r.changed);
    let (new, _) = host("3.0.13-1~deb12u1");
    assert!(
        f.state.artifact_schedule(&old).unwrap().is_none(),
        "nothing carries the old inventory"
    );
    f.run(50, ingest(vec![result(&new, 50, vec![])]));
    assert_eq!(f.finding(&id).status(), FindingStatus::Closed);
}

#[test]
fn identical_hosts_share_one_artifact_and_the_second_gets_the_stored_result_at_once() {
    let f = open();
    f.run(10, report("i-1", ACC, "3.0.11-1~deb12u2"));
    let (digest, _) = host("3.0.11-1~deb12u2");
    f.run(20, ingest(vec![result(&digest, 20, vec![vuln("CVE-1", "openssl")])]));
    f.run(30, report("i-2", ACC, "3.0.11-1~deb12u2"));
    assert_eq!(f.resource("i-2").artifact_digest, digest);
    assert_eq!(
        f.finding(&fid(ACC, "i-2", "CVE-1", "openssl")).status(),
        FindingStatus::Active
    );
}

#[test]
fn discovery_putting_the_instance_again_keeps_the_agents_artifact_and_findings() {
    let f = open();
    f.run(10, put(vec![instance("i-1", ACC, "")]));
    f.run(20, report("i-1", ACC, "3.0.11-1~deb12u2"));
    let (digest, _) = host("3.0.11-1~deb12u2");
    f.run(30, ingest(vec![result(&digest, 30, vec![vuln("CVE-1", "openssl")])]));
    let mut tagged = instance("i-1", ACC, "");
    tagged.tags.insert("team".into(), "web".into());
    f.run(40, put(vec![tagged]));
    let stored = f.resource("i-1");
    assert_eq!(stored.artifact_digest, digest);
    assert!(stored.agent.is_some());
    assert_eq!(stored.tags.get("team").map(String::as_str), Some("web"));
    assert_eq!(
        reason(&f, "i-1"),
        (CoverageStatus::CoverageActive, CoverageReason::Successful)
    );
    assert_eq!(
        f.finding(&fid(ACC, "i-1", "CVE-1", "openssl")).status(),
        FindingStatus::Active
    );
    // And discovery's fingerprint of the stored record is what it reads from AWS, so it does
    // not propose the instance again every cycle.
    let mut read = instance("i-1", ACC, "");
    read.tags.insert("team".into(), "web".into());
    assert_eq!(
        crate::discovery::diff::fingerprint(&f.resource("i-1")),
        crate::discovery::diff::fingerprint(&read)
    );
}

#[test]
fn a_report_for_an_unknown_resource_without_an_account_is_refused_and_changes_nothing() {
    let f = open();
    let before = f.dump();
    match f.run(10, report("host-9", "", "1")) {
        Res::Error(e) => {
            assert_eq!(e.code, "INVALID_ARGUMENT");
            assert!(e.message.contains("account_id"), "{}", e.message);
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(f.dump(), before);
}

#[test]
fn a_put_may_not_set_the_agent_report() {
    let mut r = instance("i-1", ACC, "");
    r.agent = Some(AgentReport::default());
    let err = State::validate(&Command {
        kind: Some(put(vec![r])),
    })
    .unwrap_err();
    assert!(err.to_string().contains("resources[0].agent"), "{err}");
}

fn from_ssm(cmd: Cmd) -> Cmd {
    match cmd {
        Cmd::ReportHostInventory(r) => Cmd::ReportHostInventory(ReportHostInventoryRequest {
            source: InventorySource::Ssm as i32,
            ..r
        }),
        other => other,
    }
}

#[test]
fn an_ssm_inventory_covers_an_instance_until_its_agent_reports_and_never_replaces_the_agent() {
    let f = open();
    f.run(10, put(vec![instance("i-1", ACC, "")]));
    let (ssm_digest, _) = host("3.0.11-1~deb12u1");
    let r = reported(f.run(20, from_ssm(report("i-1", ACC, "3.0.11-1~deb12u1"))));
    assert!(r.changed);
    let stored = f.resource("i-1");
    assert_eq!(stored.artifact_digest, ssm_digest);
    assert_eq!(stored.agent.as_ref().unwrap().source(), InventorySource::Ssm);
    assert_ne!(reason(&f, "i-1").1, CoverageReason::UnmanagedEc2Instance);

    // A newer SSM inventory replaces SSM's.
    let (newer, _) = host("3.0.11-1~deb12u2");
    f.run(30, from_ssm(report("i-1", ACC, "3.0.11-1~deb12u2")));
    assert_eq!(f.resource("i-1").artifact_digest, newer);

    // The agent takes over ...
    let (agent_digest, _) = host("3.0.13-1~deb12u1");
    f.run(40, report("i-1", ACC, "3.0.13-1~deb12u1"));
    assert_eq!(f.resource("i-1").agent.unwrap().source(), InventorySource::Agent);

    // ... and SSM's later view changes nothing at all.
    let before = f.dump();
    let r = reported(f.run(50, from_ssm(report("i-1", ACC, "3.0.11-1~deb12u1"))));
    assert!(!r.changed);
    assert_eq!(r.artifact_digest, agent_digest);
    assert_eq!(f.dump(), before);
}

#[test]
fn an_unknown_inventory_source_is_refused() {
    let mut cmd = report("i-1", ACC, "1");
    if let Cmd::ReportHostInventory(r) = &mut cmd {
        r.source = 99;
    }
    let err = State::validate(&Command { kind: Some(cmd) }).unwrap_err();
    assert!(err.to_string().contains("source"), "{err}");
}

fn sweep(before: i64, limit: u32) -> Cmd {
    Cmd::MarkStaleInventories(MarkStaleInventories {
        before: Some(ts(before)),
        limit,
    })
}

fn marked(res: Res) -> MarkStaleInventoriesResponse {
    match res {
        Res::MarkStaleInventories(r) => r,
        other => panic!("unexpected {other:?}"),
    }
}

const STALE: (CoverageStatus, CoverageReason) = (CoverageStatus::CoverageInactive, CoverageReason::StaleInventory);

#[test]
fn a_host_that_stops_reporting_goes_stale_keeps_its_findings_and_is_current_again_on_its_next_report() {
    let f = open();
    f.run(10, put(vec![instance("i-1", ACC, "")]));
    f.run(20, report("i-1", ACC, "3.0.11-1~deb12u2"));
    let (digest, _) = host("3.0.11-1~deb12u2");
    f.run(30, ingest(vec![result(&digest, 30, vec![vuln("CVE-1", "openssl")])]));
    assert_eq!(
        marked(f.run(40, sweep(20, 1000))).marked,
        0,
        "reported at 20, not before"
    );
    assert_eq!(
        marked(f.run(50, sweep(21, 1000))),
        MarkStaleInventoriesResponse { marked: 1, more: false }
    );
    assert_eq!(reason(&f, "i-1"), STALE);
    assert!(f
        .resource("i-1")
        .coverage
        .unwrap()
        .detail
        .contains("1970-01-01T00:00:20Z"));
    assert_eq!(
        f.finding(&fid(ACC, "i-1", "CVE-1", "openssl")).status(),
        FindingStatus::Active,
        "the last inventory's findings stand"
    );

    // Sweeping again changes nothing.
    let before = f.dump();
    assert_eq!(marked(f.run(60, sweep(55, 1000))).marked, 0);
    assert_eq!(f.dump(), before);

    // A re-match of the stored inventory (a new database) updates the findings and leaves the
    // coverage stale.
    f.run(
        70,
        ingest(vec![result(
            &digest,
            70,
            vec![vuln("CVE-1", "openssl"), vuln("CVE-2", "openssl")],
        )]),
    );
    assert_eq!(reason(&f, "i-1"), STALE);
    assert_eq!(
        f.finding(&fid(ACC, "i-1", "CVE-2", "openssl")).status(),
        FindingStatus::Active
    );

    // The same inventory reported again: current, and stale again only after another silence.
    f.run(80, report("i-1", ACC, "3.0.11-1~deb12u2"));
    assert_eq!(
        reason(&f, "i-1"),
        (CoverageStatus::CoverageActive, CoverageReason::Successful)
    );
    assert_eq!(marked(f.run(90, sweep(80, 1000))).marked, 0);
    assert_eq!(marked(f.run(100, sweep(81, 1000))).marked, 1);
    assert_eq!(reason(&f, "i-1"), STALE);
}

#[test]
fn the_sweep_goes_oldest_first_within_its_limit_and_passes_over_removed_hosts() {
    let f = open();
    for (t, id) in [(10, "i-1"), (11, "i-2"), (12, "i-3")] {
        f.run(t, report(id, ACC, "3.0.11-1~deb12u2"));
    }
    f.run(13, remove(&["i-2"]));
    assert_eq!(
        marked(f.run(20, sweep(100, 1))),
        MarkStaleInventoriesResponse { marked: 1, more: true }
    );
    assert_eq!(reason(&f, "i-1"), STALE);
    assert_ne!(reason(&f, "i-3"), STALE);
    // i-2's entry is dropped without marking the removed resource.
    assert_eq!(
        marked(f.run(21, sweep(100, 1))),
        MarkStaleInventoriesResponse { marked: 0, more: true }
    );
    assert!(f.resource("i-2").removed);
    assert_ne!(reason(&f, "i-2"), STALE);
    assert_eq!(
        marked(f.run(22, sweep(100, 1))),
        MarkStaleInventoriesResponse { marked: 1, more: false }
    );
    assert_eq!(reason(&f, "i-3"), STALE);
    assert_eq!(
        marked(f.run(23, sweep(100, 1))),
        MarkStaleInventoriesResponse { marked: 0, more: false }
    );
}
