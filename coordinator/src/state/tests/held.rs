//! Resources an inventory source holds inactive (excluded by tag, stopped instance): kept in
//! the inventory, not scanned, their findings closed; scanned again once put without the hold.

use argus_proto::v1::{Coverage, CoverageReason, CoverageStatus, FindingStatus};

use super::*;

const ACC: &str = "123456789012";

pub(super) fn held(mut r: Resource, reason: CoverageReason) -> Resource {
    r.coverage = Some(Coverage {
        status: CoverageStatus::CoverageInactive as i32,
        reason: reason as i32,
        ..Default::default()
    });
    r
}

fn located(id: &str, digest: &str) -> Resource {
    Resource {
        artifact_locator: format!("registry:example.com/app@{digest}"),
        ..image(id, ACC, digest)
    }
}

#[test]
fn an_excluded_resource_is_kept_inactive_and_its_artifact_is_not_scheduled() {
    let f = open();
    f.run(
        10,
        put(vec![held(located("img-a", &digest(1)), CoverageReason::ExcludedByTag)]),
    );
    let r = f.resource("img-a");
    let c = r.coverage.unwrap();
    assert_eq!(
        (c.status(), c.reason()),
        (CoverageStatus::CoverageInactive, CoverageReason::ExcludedByTag)
    );
    assert!(!r.removed);
    assert!(f.state.artifact_schedule(&digest(1)).unwrap().is_none());
    // A result for its digest (another resource's scan) does not reach it.
    f.run(
        20,
        ingest(vec![result(&digest(1), 100, vec![vuln("CVE-1", "openssl")])]),
    );
    assert!(f
        .state
        .get_finding(&fid(ACC, "img-a", "CVE-1", "openssl"))
        .unwrap()
        .is_none());
    assert_eq!(
        f.resource("img-a").coverage.unwrap().reason(),
        CoverageReason::ExcludedByTag
    );
}

#[test]
fn holding_a_scanned_resource_closes_its_findings_and_releasing_it_brings_them_back() {
    let f = open();
    f.run(10, put(vec![located("img-a", &digest(1))]));
    f.run(
        20,
        ingest(vec![result(&digest(1), 100, vec![vuln("CVE-1", "openssl")])]),
    );
    let id = fid(ACC, "img-a", "CVE-1", "openssl");
    assert_eq!(f.finding(&id).status(), FindingStatus::Active);

    f.run(
        30,
        put(vec![held(
            located("img-a", &digest(1)),
            CoverageReason::Ec2InstanceStopped,
        )]),
    );
    assert_eq!(f.finding(&id).status(), FindingStatus::Closed);
    assert!(
        f.state.artifact_schedule(&digest(1)).unwrap().is_none(),
        "no live resource carries it"
    );
    let c = f.resource("img-a").coverage.unwrap();
    assert_eq!(c.reason(), CoverageReason::Ec2InstanceStopped);
    // Putting the same hold again changes nothing.
    match f.run(
        40,
        put(vec![held(
            located("img-a", &digest(1)),
            CoverageReason::Ec2InstanceStopped,
        )]),
    ) {
        Res::PutResources(r) => assert_eq!(r.unchanged, 1),
        other => panic!("unexpected {other:?}"),
    }

    // Released: scheduled again, and the stored result applies at once.
    f.run(50, put(vec![located("img-a", &digest(1))]));
    assert!(f.state.artifact_schedule(&digest(1)).unwrap().is_some());
    assert_eq!(f.finding(&id).status(), FindingStatus::Active);
    assert_eq!(
        f.resource("img-a").coverage.unwrap().reason(),
        CoverageReason::Successful
    );
}

#[test]
fn coverage_other_than_a_hold_in_a_put_is_ignored() {
    let f = open();
    let mut r = located("img-a", &digest(1));
    r.coverage = Some(Coverage {
        status: CoverageStatus::CoverageActive as i32,
        reason: CoverageReason::Successful as i32,
        ..Default::default()
    });
    f.run(10, put(vec![r]));
    assert_eq!(
        f.resource("img-a").coverage.unwrap().reason(),
        CoverageReason::PendingInitialScan
    );
    assert!(f.state.artifact_schedule(&digest(1)).unwrap().is_some());
}
