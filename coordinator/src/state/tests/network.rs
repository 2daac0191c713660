//! NETWORK_REACHABILITY findings through their lifecycle, and context scores of package
//! findings following an instance's exposure.

use argus_proto::internal::v1::command_result::Kind as Res;
use argus_proto::internal::v1::{Command, SetNetworkExposuresResponse};
use argus_proto::v1::{
    ChangeKind, FindingFilter, FindingStatus, FindingType, ListFindingsRequest, NetworkProtocol, PortRangeFilter,
    Severity,
};

use super::*;
use crate::error::Error;

const ACC: &str = "123456789012";
const TCP: NetworkProtocol = NetworkProtocol::Tcp;

fn applied(res: Res) -> SetNetworkExposuresResponse {
    match res {
        Res::SetNetworkExposures(r) => r,
        other => panic!("unexpected {other:?}"),
    }
}

/// The id of the IPv4 TCP finding for `begin..=end` on `instance`.
fn nid(instance: &str, begin: u32, end: u32) -> String {
    argus_proto::finding_id(ACC, instance, &format!("NETWORK/IPV4/TCP/{begin}-{end}"), "", "")
}

fn kinds(f: &Fixture) -> Vec<(ChangeKind, String)> {
    f.changes()
        .into_iter()
        .map(|c| (c.kind(), c.finding.unwrap().finding_id))
        .collect()
}

/// Instance i-1 in the inventory with SSH (22) and HTTPS (443) open, analysed at t=100.
fn exposed() -> Fixture {
    let f = open();
    f.run(10, put(vec![instance("i-1", ACC, &digest(1))]));
    f.run(
        20,
        exposures(
            ACC,
            100,
            vec![(
                "i-1",
                vec![open_ports(TCP, 443, 443, "sg-web"), open_ports(TCP, 22, 22, "sg-ssh")],
            )],
        ),
    );
    f
}

#[test]
fn an_exposure_creates_an_active_reachability_finding_with_its_port_range_and_path() {
    let f = exposed();
    let ssh = f.finding(&nid("i-1", 22, 22));
    assert_eq!(ssh.r#type(), FindingType::NetworkReachability);
    assert_eq!(ssh.status(), FindingStatus::Active);
    assert_eq!(ssh.severity(), Severity::Medium, "SSH is a remote-administration port");
    assert_eq!(ssh.title, "TCP port 22 reachable from the internet over IPV4");
    assert_eq!(ssh.vulnerability.as_ref().unwrap().id, "NETWORK/IPV4/TCP/22-22");
    assert_eq!(
        (ssh.first_observed_at, ssh.last_observed_at),
        (Some(ts(100)), Some(ts(100)))
    );
    assert_eq!(ssh.updated_at, Some(ts(20)));
    assert_eq!(ssh.account_id, ACC);
    assert_eq!(ssh.resource.as_ref().unwrap().resource_id, "i-1");
    let details = ssh.network_reachability.unwrap();
    assert_eq!(details, open_ports(TCP, 22, 22, "sg-ssh"));
    assert!(ssh.description.contains("security group sg-ssh"), "{}", ssh.description);
    let https = f.finding(&nid("i-1", 443, 443));
    assert_eq!(https.severity(), Severity::Low, "a web port is meant to be public");
    let mut created = vec![
        (ChangeKind::Created, nid("i-1", 22, 22)),
        (ChangeKind::Created, nid("i-1", 443, 443)),
    ];
    created.sort_by(|a, b| a.1.cmp(&b.1));
    assert_eq!(kinds(&f), created, "created in id order");
    assert_eq!(f.state.finding_totals().unwrap().change_count(ChangeKind::Created), 2);
}

#[test]
fn a_newer_analysis_that_sees_the_same_exposure_refreshes_it_without_a_change() {
    let f = exposed();
    let r = applied(f.run(
        30,
        exposures(
            ACC,
            200,
            vec![(
                "i-1",
                vec![open_ports(TCP, 22, 22, "sg-ssh"), open_ports(TCP, 443, 443, "sg-web")],
            )],
        ),
    ));
    assert!(r.applied);
    assert_eq!((r.findings_created, r.findings_updated, r.findings_closed), (0, 0, 0));
    let ssh = f.finding(&nid("i-1", 22, 22));
    assert_eq!(
        (ssh.first_observed_at, ssh.last_observed_at),
        (Some(ts(100)), Some(ts(200)))
    );
    assert_eq!(ssh.updated_at, Some(ts(20)));
    assert_eq!(f.changes().len(), 2);
}

#[test]
fn applying_an_analysis_twice_or_an_older_one_changes_nothing() {
    let f = exposed();
    let cmd = || exposures(ACC, 200, vec![("i-1", vec![open_ports(TCP, 22, 22, "sg-ssh")])]);
    f.run(30, cmd());
    let once = f.dump();
    let again = applied(f.run(30, cmd()));
    assert!(!again.applied);
    assert!(f.dump() == once, "the same command again changes no byte");
    let older = applied(f.run(40, exposures(ACC, 150, vec![("i-1", vec![])])));
    assert!(!older.applied);
    assert!(f.dump() == once, "an older analysis changes no byte");
}

#[test]
fn an_exposure_that_is_gone_closes_and_returns_under_the_same_id() {
    let f = exposed();
    let r = applied(f.run(
        30,
        exposures(ACC, 200, vec![("i-1", vec![open_ports(TCP, 443, 443, "sg-web")])]),
    ));
    assert_eq!(r.findings_closed, 1);
    let ssh = f.finding(&nid("i-1", 22, 22));
    assert_eq!(ssh.status(), FindingStatus::Closed);
    assert_eq!(ssh.last_observed_at, Some(ts(100)));
    let r = applied(f.run(
        40,
        exposures(
            ACC,
            300,
            vec![(
                "i-1",
                vec![open_ports(TCP, 22, 22, "sg-ssh"), open_ports(TCP, 443, 443, "sg-web")],
            )],
        ),
    ));
    assert_eq!((r.findings_reopened, r.findings_created), (1, 0));
    let ssh = f.finding(&nid("i-1", 22, 22));
    assert_eq!(ssh.status(), FindingStatus::Active);
    assert_eq!(
        (ssh.first_observed_at, ssh.last_observed_at),
        (Some(ts(100)), Some(ts(300)))
    );
    let tail: Vec<_> = kinds(&f).into_iter().skip(2).collect();
    assert_eq!(
        tail,
        vec![
            (ChangeKind::Closed, nid("i-1", 22, 22)),
            (ChangeKind::Reopened, nid("i-1", 22, 22))
        ]
    );
}

#[test]
fn a_different_path_to_the_same_ports_updates_the_finding() {
    let f = exposed();
    let r = applied(f.run(
        30,
        exposures(
            ACC,
            200,
            vec![(
                "i-1",
                vec![open_ports(TCP, 22, 22, "sg-other"), open_ports(TCP, 443, 443, "sg-web")],
            )],
        ),
    ));
    assert_eq!(r.findings_updated, 1);
    let ssh = f.finding(&nid("i-1", 22, 22));
    assert_eq!(
        ssh.network_reachability.unwrap().network_path[3].component_id,
        "sg-other"
    );
    assert_eq!(ssh.updated_at, Some(ts(30)));
    assert_eq!(kinds(&f).last().unwrap(), &(ChangeKind::Updated, nid("i-1", 22, 22)));
}

#[test]
fn a_widened_range_is_a_new_finding_and_the_narrow_one_closes() {
    let f = exposed();
    f.run(
        30,
        exposures(
            ACC,
            200,
            vec![(
                "i-1",
                vec![open_ports(TCP, 20, 25, "sg-ssh"), open_ports(TCP, 443, 443, "sg-web")],
            )],
        ),
    );
    assert_eq!(f.finding(&nid("i-1", 22, 22)).status(), FindingStatus::Closed);
    assert_eq!(f.finding(&nid("i-1", 20, 25)).status(), FindingStatus::Active);
}

#[test]
fn an_instance_left_out_of_the_analysis_has_its_reachability_findings_closed() {
    let f = exposed();
    let r = applied(f.run(30, exposures(ACC, 200, vec![])));
    assert_eq!(r.findings_closed, 2);
    assert_eq!(f.finding(&nid("i-1", 443, 443)).status(), FindingStatus::Closed);
}

#[test]
fn an_instance_the_analysis_could_not_judge_keeps_what_was_known_of_it() {
    let f = scanned_instance();
    f.run(
        30,
        exposures(ACC, 200, vec![("i-1", vec![open_ports(TCP, 22, 22, "sg-ssh")])]),
    );
    let n = f.changes().len();
    let mut unknown = exposures(ACC, 300, vec![]);
    if let Cmd::SetNetworkExposures(r) = &mut unknown {
        r.unknown_instance_ids = vec!["i-1".into()];
    }
    let r = applied(f.run(40, unknown));
    assert!(r.applied);
    assert_eq!(f.changes().len(), n, "nothing closed, nothing re-scored");
    let ssh = f.finding(&nid("i-1", 22, 22));
    assert_eq!(
        (ssh.status(), ssh.last_observed_at),
        (FindingStatus::Active, Some(ts(200)))
    );
    // Listed nowhere next time: gone from the analysis.
    f.run(50, exposures(ACC, 400, vec![]));
    assert_eq!(f.finding(&nid("i-1", 22, 22)).status(), FindingStatus::Closed);
}

#[test]
fn another_account_or_region_is_a_separate_analysis() {
    let f = exposed();
    // Account 2's analysis does not list i-1: it says nothing about it.
    f.run(30, exposures("210987654321", 200, vec![]));
    assert_eq!(f.finding(&nid("i-1", 22, 22)).status(), FindingStatus::Active);
    let mut other_region = exposures(ACC, 200, vec![]);
    if let Cmd::SetNetworkExposures(r) = &mut other_region {
        r.region = "us-east-1".into();
    }
    f.run(31, other_region);
    assert_eq!(f.finding(&nid("i-1", 22, 22)).status(), FindingStatus::Active);
}

#[test]
fn an_instance_analysed_before_it_is_in_the_inventory_gets_its_findings_when_it_appears() {
    let f = open();
    let r = applied(f.run(
        10,
        exposures(ACC, 100, vec![("i-late", vec![open_ports(TCP, 22, 22, "sg-ssh")])]),
    ));
    assert_eq!((r.applied, r.findings_created), (true, 0));
    assert!(f.state.get_finding(&nid("i-late", 22, 22)).unwrap().is_none());
    f.run(20, put(vec![instance("i-late", ACC, "")]));
    let x = f.finding(&nid("i-late", 22, 22));
    assert_eq!(x.status(), FindingStatus::Active);
    assert_eq!(x.first_observed_at, Some(ts(100)));
    // Putting it again unchanged changes no finding.
    f.run(30, put(vec![instance("i-late", ACC, "")]));
    assert_eq!(f.changes().len(), 1);
}

#[test]
fn removing_the_instance_closes_its_reachability_findings_and_a_later_analysis_does_not_reopen_them() {
    let f = exposed();
    f.run(30, remove(&["i-1"]));
    assert_eq!(f.finding(&nid("i-1", 22, 22)).status(), FindingStatus::Closed);
    f.run(
        40,
        exposures(ACC, 200, vec![("i-1", vec![open_ports(TCP, 22, 22, "sg-ssh")])]),
    );
    assert_eq!(f.finding(&nid("i-1", 22, 22)).status(), FindingStatus::Closed);
    // The instance coming back takes the stored exposures again.
    f.run(50, put(vec![instance("i-1", ACC, &digest(1))]));
    assert_eq!(f.finding(&nid("i-1", 22, 22)).status(), FindingStatus::Active);
    assert_eq!(f.finding(&nid("i-1", 443, 443)).status(), FindingStatus::Closed);
}

#[test]
fn an_instance_held_out_of_scanning_has_no_reachability_findings_until_it_is_put_live_again() {
    use super::held::held;
    use argus_proto::v1::CoverageReason;
    let f = exposed();
    let excluded = || held(instance("i-1", ACC, &digest(1)), CoverageReason::ExcludedByTag);
    f.run(30, put(vec![excluded()]));
    assert_eq!(f.finding(&nid("i-1", 22, 22)).status(), FindingStatus::Closed);
    // A newer analysis of the excluded instance records its exposures but opens nothing.
    let r = applied(f.run(
        40,
        exposures(ACC, 200, vec![("i-1", vec![open_ports(TCP, 22, 22, "sg-ssh")])]),
    ));
    assert_eq!((r.applied, r.findings_created, r.findings_reopened), (true, 0, 0));
    assert_eq!(f.finding(&nid("i-1", 22, 22)).status(), FindingStatus::Closed);
    f.run(
        50,
        put(vec![held(
            instance("i-1", ACC, &digest(1)),
            CoverageReason::Ec2InstanceStopped,
        )]),
    );
    assert_eq!(f.finding(&nid("i-1", 22, 22)).status(), FindingStatus::Closed);
    // Put without the hold, it takes the stored analysis at once: SSH open, HTTPS gone.
    f.run(60, put(vec![instance("i-1", ACC, &digest(1))]));
    assert_eq!(f.finding(&nid("i-1", 22, 22)).status(), FindingStatus::Active);
    assert_eq!(f.finding(&nid("i-1", 443, 443)).status(), FindingStatus::Closed);
}

#[test]
fn images_and_resources_of_other_types_get_no_reachability_findings() {
    let f = open();
    f.run(10, put(vec![image("i-img", ACC, &digest(2))]));
    f.run(
        20,
        exposures(ACC, 100, vec![("i-img", vec![open_ports(TCP, 22, 22, "sg")])]),
    );
    assert!(f.changes().is_empty());
}

#[test]
fn a_package_scan_and_a_network_analysis_do_not_close_each_others_findings() {
    let f = exposed();
    f.run(
        30,
        ingest(vec![result(&digest(1), 100, vec![vuln("CVE-1", "openssl")])]),
    );
    f.run(40, ingest(vec![result(&digest(1), 200, vec![])]));
    assert_eq!(f.finding(&nid("i-1", 22, 22)).status(), FindingStatus::Active);
    assert_eq!(
        f.finding(&fid(ACC, "i-1", "CVE-1", "openssl")).status(),
        FindingStatus::Closed
    );
    f.run(
        50,
        ingest(vec![result(&digest(1), 300, vec![vuln("CVE-1", "openssl")])]),
    );
    f.run(60, exposures(ACC, 200, vec![("i-1", vec![])]));
    assert_eq!(
        f.finding(&fid(ACC, "i-1", "CVE-1", "openssl")).status(),
        FindingStatus::Active
    );
    assert_eq!(f.finding(&nid("i-1", 22, 22)).status(), FindingStatus::Closed);
}

#[test]
fn suppression_rules_and_filters_apply_to_reachability_findings() {
    let f = exposed();
    let by_type = FindingFilter {
        finding_type: vec![FindingType::NetworkReachability as i32],
        ..Default::default()
    };
    let list = |filter: FindingFilter| -> Vec<String> {
        let mut ids: Vec<String> = f
            .state
            .list_findings(&ListFindingsRequest {
                filter: Some(filter),
                ..Default::default()
            })
            .unwrap()
            .findings
            .into_iter()
            .map(|x| x.finding_id)
            .collect();
        ids.sort();
        ids
    };
    let mut both = vec![nid("i-1", 22, 22), nid("i-1", 443, 443)];
    both.sort();
    assert_eq!(list(by_type.clone()), both);
    let ssh_only = FindingFilter {
        open_port_range: vec![PortRangeFilter {
            begin_inclusive: 0,
            end_inclusive: 100,
        }],
        network_protocol: vec![TCP as i32],
        ..by_type.clone()
    };
    assert_eq!(list(ssh_only.clone()), vec![nid("i-1", 22, 22)]);
    let udp = FindingFilter {
        network_protocol: vec![NetworkProtocol::Udp as i32],
        ..Default::default()
    };
    assert_eq!(list(udp), Vec::<String>::new());
    f.run(30, rule("no-ssh-alerts", ssh_only));
    let x = f.finding(&nid("i-1", 22, 22));
    assert_eq!(
        (x.status(), x.suppressed_by.as_str()),
        (FindingStatus::Suppressed, "no-ssh-alerts")
    );
    // A refresh keeps it suppressed; a new exposure matching the rule is born suppressed.
    f.run(
        40,
        exposures(
            ACC,
            200,
            vec![(
                "i-1",
                vec![open_ports(TCP, 22, 22, "sg-ssh"), open_ports(TCP, 23, 23, "sg-ssh")],
            )],
        ),
    );
    assert_eq!(f.finding(&nid("i-1", 22, 22)).status(), FindingStatus::Suppressed);
    assert_eq!(f.finding(&nid("i-1", 23, 23)).status(), FindingStatus::Suppressed);
    assert_eq!(
        kinds(&f).iter().filter(|(k, _)| *k == ChangeKind::Suppressed).count(),
        2
    );
}

// Context scores.

const ADJACENT_SCORE: f64 = 6.5; // CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N/MAV:A

/// i-1 carries CVE-1 (AV:N, 7.5 HIGH) from a scan at t=100; nothing is known of its network.
fn scanned_instance() -> Fixture {
    let f = open();
    f.run(10, put(vec![instance("i-1", ACC, &digest(1))]));
    f.run(
        20,
        ingest(vec![result(&digest(1), 100, vec![vuln("CVE-1", "openssl")])]),
    );
    f
}

#[test]
fn a_network_vector_finding_on_an_instance_never_analysed_keeps_its_base_score() {
    let f = scanned_instance();
    let x = f.finding(&fid(ACC, "i-1", "CVE-1", "openssl"));
    assert_eq!(
        (x.score, x.severity(), x.base_score, x.base_severity()),
        (7.5, Severity::High, 7.5, Severity::High)
    );
    assert!(x.adjustments.is_empty() && x.scoring_vector.is_empty());
}

#[test]
fn an_av_n_finding_on_an_unexposed_instance_is_lowered_with_the_adjustment_listed() {
    let f = scanned_instance();
    let r = applied(f.run(30, exposures(ACC, 200, vec![("i-1", vec![])])));
    assert_eq!(r.scores_changed, 1);
    let id = fid(ACC, "i-1", "CVE-1", "openssl");
    let x = f.finding(&id);
    assert_eq!((x.score, x.severity()), (ADJACENT_SCORE, Severity::Medium));
    assert_eq!((x.base_score, x.base_severity()), (7.5, Severity::High));
    assert_eq!(x.cvss_vector, "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N");
    assert_eq!(x.scoring_vector, "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N/MAV:A");
    assert_eq!(x.adjustments.len(), 1);
    assert_eq!(x.adjustments[0].metric, "MAV");
    assert_eq!(x.updated_at, Some(ts(30)));
    assert_eq!(x.last_observed_at, Some(ts(100)), "re-scoring is not an observation");
    assert_eq!(kinds(&f).last().unwrap(), &(ChangeKind::Updated, id.clone()));
    // The totals moved the finding from HIGH to MEDIUM.
    let totals = f.state.finding_totals().unwrap();
    let by_severity = |s: Severity| -> u64 {
        totals
            .findings
            .iter()
            .filter(|(k, _)| k.severity == s as i32)
            .map(|(_, n)| *n)
            .sum()
    };
    assert_eq!((by_severity(Severity::High), by_severity(Severity::Medium)), (0, 1));
    // A newer scan that sees the same vulnerability is a refresh: the score stays adjusted.
    f.run(
        40,
        ingest(vec![result(&digest(1), 300, vec![vuln("CVE-1", "openssl")])]),
    );
    let y = f.finding(&id);
    assert_eq!(
        (y.score, y.last_observed_at, y.updated_at),
        (ADJACENT_SCORE, Some(ts(300)), Some(ts(30)))
    );
}

#[test]
fn an_av_n_finding_on_an_exposed_instance_is_unchanged() {
    let f = scanned_instance();
    let r = applied(f.run(
        30,
        exposures(ACC, 200, vec![("i-1", vec![open_ports(TCP, 443, 443, "sg-web")])]),
    ));
    assert_eq!(r.scores_changed, 0);
    let x = f.finding(&fid(ACC, "i-1", "CVE-1", "openssl"));
    assert_eq!((x.score, x.severity()), (7.5, Severity::High));
    assert!(x.adjustments.is_empty());
}

#[test]
fn an_exposure_appearing_raises_the_score_back_with_an_updated_change_and_disappearing_lowers_it() {
    let f = scanned_instance();
    let id = fid(ACC, "i-1", "CVE-1", "openssl");
    f.run(30, exposures(ACC, 200, vec![("i-1", vec![])]));
    assert_eq!(f.finding(&id).score, ADJACENT_SCORE);
    let r = applied(f.run(
        40,
        exposures(ACC, 300, vec![("i-1", vec![open_ports(TCP, 22, 22, "sg-ssh")])]),
    ));
    assert_eq!((r.scores_changed, r.findings_created), (1, 1));
    let x = f.finding(&id);
    assert_eq!((x.score, x.severity()), (7.5, Severity::High));
    assert!(x.adjustments.is_empty() && x.scoring_vector.is_empty());
    assert_eq!(x.updated_at, Some(ts(40)));
    let updated: Vec<ChangeKind> = f
        .changes()
        .into_iter()
        .filter(|c| c.finding.as_ref().unwrap().finding_id == id)
        .map(|c| c.kind())
        .collect();
    assert_eq!(
        updated,
        vec![ChangeKind::Created, ChangeKind::Updated, ChangeKind::Updated]
    );
    // The feed carries the score with each change.
    let scores: Vec<f64> = f
        .changes()
        .into_iter()
        .filter(|c| c.finding.as_ref().unwrap().finding_id == id)
        .map(|c| c.finding.unwrap().score)
        .collect();
    assert_eq!(scores, vec![7.5, ADJACENT_SCORE, 7.5]);
    // Unchanged reachability on the next analysis re-scores nothing.
    let r = applied(f.run(
        50,
        exposures(ACC, 400, vec![("i-1", vec![open_ports(TCP, 22, 22, "sg-ssh")])]),
    ));
    assert_eq!(r.scores_changed, 0);
    // Unreachable again, then left out of the analysis: unknown, so the base score.
    f.run(60, exposures(ACC, 500, vec![("i-1", vec![])]));
    assert_eq!(f.finding(&id).score, ADJACENT_SCORE);
    let r = applied(f.run(70, exposures(ACC, 600, vec![])));
    assert_eq!(r.scores_changed, 1);
    assert_eq!(f.finding(&id).score, 7.5);
}

#[test]
fn a_scan_of_an_instance_already_known_unreachable_creates_its_findings_lowered() {
    let f = open();
    f.run(10, put(vec![instance("i-1", ACC, &digest(1))]));
    f.run(20, exposures(ACC, 50, vec![("i-1", vec![])]));
    f.run(
        30,
        ingest(vec![result(&digest(1), 100, vec![vuln("CVE-1", "openssl")])]),
    );
    let id = fid(ACC, "i-1", "CVE-1", "openssl");
    let x = f.finding(&id);
    assert_eq!((x.score, x.base_score, x.adjustments.len()), (ADJACENT_SCORE, 7.5, 1));
    assert_eq!(kinds(&f), vec![(ChangeKind::Created, id)]);
}

#[test]
fn the_same_artifact_on_an_image_and_an_unreachable_instance_is_scored_per_resource() {
    let f = open();
    f.run(
        10,
        put(vec![instance("i-1", ACC, &digest(1)), image("img-1", ACC, &digest(1))]),
    );
    f.run(20, exposures(ACC, 50, vec![("i-1", vec![])]));
    f.run(
        30,
        ingest(vec![result(&digest(1), 100, vec![vuln("CVE-1", "openssl")])]),
    );
    assert_eq!(f.finding(&fid(ACC, "i-1", "CVE-1", "openssl")).score, ADJACENT_SCORE);
    assert_eq!(f.finding(&fid(ACC, "img-1", "CVE-1", "openssl")).score, 7.5);
}

#[test]
fn closed_package_findings_are_not_rescored_and_reopen_with_the_current_context() {
    let f = scanned_instance();
    let id = fid(ACC, "i-1", "CVE-1", "openssl");
    f.run(30, ingest(vec![result(&digest(1), 200, vec![])]));
    let n = f.changes().len();
    let r = applied(f.run(40, exposures(ACC, 300, vec![("i-1", vec![])])));
    assert_eq!(r.scores_changed, 0);
    assert_eq!(f.changes().len(), n);
    f.run(
        50,
        ingest(vec![result(&digest(1), 400, vec![vuln("CVE-1", "openssl")])]),
    );
    let x = f.finding(&id);
    assert_eq!((x.status(), x.score), (FindingStatus::Active, ADJACENT_SCORE));
}

#[test]
fn a_suppression_rule_on_severity_follows_the_context_score() {
    let f = scanned_instance();
    let id = fid(ACC, "i-1", "CVE-1", "openssl");
    f.run(
        20,
        rule(
            "mute-medium",
            FindingFilter {
                severity: vec![Severity::Medium as i32],
                ..Default::default()
            },
        ),
    );
    assert_eq!(f.finding(&id).status(), FindingStatus::Active);
    f.run(30, exposures(ACC, 200, vec![("i-1", vec![])]));
    assert_eq!(f.finding(&id).status(), FindingStatus::Suppressed, "now MEDIUM");
    assert_eq!(kinds(&f).last().unwrap(), &(ChangeKind::Suppressed, id.clone()));
    f.run(
        40,
        exposures(ACC, 300, vec![("i-1", vec![open_ports(TCP, 443, 443, "sg-web")])]),
    );
    assert_eq!(f.finding(&id).status(), FindingStatus::Active, "HIGH again");
}

#[test]
fn an_analysed_snapshot_gives_findings_exactly_for_the_exposed_instance_and_ports() {
    use crate::reachability::analysis::tests::world;
    let mut snapshot = world();
    snapshot.account_id = ACC.into();
    let mut hidden = snapshot.instances[0].clone();
    hidden.instance_id = "i-2".into();
    hidden.public_ipv4.clear();
    snapshot.instances.push(hidden);
    let f = open();
    f.run(
        10,
        put(vec![instance("i-1", ACC, &digest(1)), instance("i-2", ACC, &digest(1))]),
    );
    f.run(
        20,
        ingest(vec![result(&digest(1), 100, vec![vuln("CVE-1", "openssl")])]),
    );
    let command = crate::reachability::command(&snapshot, ts(200));
    let Some(kind) = command.kind else { panic!("a command") };
    let r = applied(f.run(30, kind));
    assert_eq!((r.instances, r.findings_created, r.scores_changed), (2, 1, 1));
    let network: Vec<(String, String)> = f
        .state
        .list_findings(&ListFindingsRequest {
            filter: Some(FindingFilter {
                finding_type: vec![FindingType::NetworkReachability as i32],
                ..Default::default()
            }),
            ..Default::default()
        })
        .unwrap()
        .findings
        .into_iter()
        .map(|x| (x.resource.unwrap().resource_id, x.vulnerability.unwrap().id))
        .collect();
    assert_eq!(
        network,
        vec![("i-1".to_string(), "NETWORK/IPV4/TCP/443-443".to_string())]
    );
    assert_eq!(f.finding(&fid(ACC, "i-1", "CVE-1", "openssl")).score, 7.5, "exposed");
    assert_eq!(
        f.finding(&fid(ACC, "i-2", "CVE-1", "openssl")).score,
        ADJACENT_SCORE,
        "no public address"
    );
}

#[test]
fn malformed_analyses_are_refused_whole_with_the_field_named() {
    let refused = |cmd: Cmd| match State::validate(&Command { kind: Some(cmd) }) {
        Err(Error::InvalidArgument(m)) => m,
        other => panic!("expected InvalidArgument, got {other:?}"),
    };
    let with = |edit: &dyn Fn(&mut argus_proto::internal::v1::SetNetworkExposures)| {
        let mut cmd = exposures(
            ACC,
            100,
            vec![("i-1", vec![open_ports(TCP, 22, 22, "sg")]), ("i-2", vec![])],
        );
        if let Cmd::SetNetworkExposures(r) = &mut cmd {
            edit(r);
        }
        cmd
    };
    State::validate(&Command {
        kind: Some(with(&|_| {})),
    })
    .unwrap();
    assert_eq!(refused(with(&|r| r.account_id.clear())), "account_id: empty");
    assert_eq!(refused(with(&|r| r.observed_at = None)), "observed_at: missing");
    assert_eq!(
        refused(with(&|r| r.instances[1].instance_id = "i-1".into())),
        "instances[1].instance_id: duplicate of instances[0]"
    );
    assert_eq!(
        refused(with(&|r| r.instances[0].exposures[0]
            .open_port_range
            .as_mut()
            .unwrap()
            .end = 70000)),
        "instances[0].exposures[0].open_port_range: port 70000 is above 65535"
    );
    assert_eq!(
        refused(with(&|r| r.instances[0].exposures[0]
            .open_port_range
            .as_mut()
            .unwrap()
            .begin = 23)),
        "instances[0].exposures[0].open_port_range: begins at 23, after its end 22"
    );
    assert_eq!(
        refused(with(&|r| r.instances[0].exposures[0].protocol = 0)),
        "instances[0].exposures[0].protocol: unspecified"
    );
    assert_eq!(
        refused(with(&|r| r.instances[0].exposures[0].network_path[2]
            .component_id
            .clear())),
        "instances[0].exposures[0].network_path[2].component_id: empty"
    );
    assert_eq!(
        refused(with(&|r| {
            let again = r.instances[0].exposures[0].clone();
            r.instances[0].exposures.push(again);
        })),
        "instances[0].exposures[1]: same family, protocol and ports as exposures[0]"
    );
    assert_eq!(
        refused(with(&|r| r.unknown_instance_ids = vec!["i-9".into(), "i-2".into()])),
        "unknown_instance_ids[1]: also in instances[1]"
    );
    assert_eq!(
        refused(with(&|r| r.unknown_instance_ids = vec!["i-9".into(), "i-9".into()])),
        "unknown_instance_ids[1]: duplicate of unknown_instance_ids[0]"
    );
    let mut scanned = vuln("CVE-1", "openssl");
    scanned.r#type = FindingType::NetworkReachability as i32;
    assert_eq!(
        refused(ingest(vec![result(&digest(1), 1, vec![scanned])])),
        "results[0].vulnerabilities[0].type: NETWORK_REACHABILITY findings come from the network analysis, not from scans"
    );
    let bad_filter = FindingFilter {
        open_port_range: vec![PortRangeFilter {
            begin_inclusive: 10,
            end_inclusive: 5,
        }],
        ..Default::default()
    };
    assert_eq!(
        refused(rule("r", bad_filter)),
        "rule.filter.open_port_range[0]: begins at 10, after its end 5"
    );
}

fn parts_of(snapshot: &crate::reachability::NetworkSnapshot, at: i64) -> Vec<Cmd> {
    crate::reachability::commands(snapshot, ts(at))
        .into_iter()
        .map(|c| c.kind.unwrap())
        .collect()
}

/// Every finding as (id, status, last observed, details), in id order.
fn findings_of(f: &Fixture) -> Vec<(String, i32, Option<prost_types::Timestamp>, f64)> {
    let view = crate::state::view::View::new(f.state.db());
    view.iter_from(crate::state::keys::FINDINGS, b"")
        .map(|item| {
            let (_, v) = item.unwrap();
            let x: argus_proto::v1::Finding = crate::state::records::decode(crate::state::keys::FINDINGS, &v).unwrap();
            (x.finding_id, x.status, x.last_observed_at, x.score)
        })
        .collect()
}

#[test]
fn an_analysis_in_parts_ends_in_the_same_state_as_in_one_command() {
    use crate::reachability::analysis::tests::large_region;
    let mut snapshot = large_region(300);
    snapshot.account_id = ACC.into();
    let setup = || {
        let f = open();
        let instances: Vec<_> = snapshot
            .instances
            .iter()
            .map(|i| instance(&i.instance_id, ACC, &digest(1)))
            .collect();
        f.run(10, put(instances));
        f.run(20, ingest(vec![result(&digest(1), 50, vec![vuln("CVE-1", "openssl")])]));
        // An earlier analysis knew an instance that the new one no longer lists.
        f.run(
            30,
            exposures(
                ACC,
                60,
                vec![("i-00000000", vec![]), ("i-gone", vec![open_ports(TCP, 22, 22, "sg")])],
            ),
        );
        f
    };
    let (whole, parted) = (setup(), setup());
    let Some(kind) = crate::reachability::command(&snapshot, ts(100)).kind else {
        unreachable!()
    };
    whole.run(40, kind);
    let parts = parts_of(&snapshot, 100);
    assert!(parts.len() > 2, "{} parts", parts.len());
    for (i, part) in parts.iter().enumerate() {
        parted.run(40 + i as i64, part.clone());
        if i + 1 < parts.len() {
            let exposures: Vec<_> = parted
                .state
                .db()
                .iterator_cf(
                    parted.state.db().cf_handle("exposures").unwrap(),
                    rocksdb::IteratorMode::Start,
                )
                .map(|kv| kv.unwrap().0.to_vec())
                .filter(|k| k.ends_with(b"i-gone"))
                .collect();
            assert_eq!(exposures.len(), 1, "nothing is retired before the last part");
        }
        // Each part applied again changes nothing.
        let once = parted.dump();
        parted.run(40 + i as i64, part.clone());
        assert!(parted.dump() == once, "part {i} re-applied changed the state");
    }
    assert_eq!(findings_of(&parted), findings_of(&whole));
    let dump = |f: &Fixture| -> Vec<_> { f.dump().into_iter().filter(|(cf, _, _)| cf == "exposures").collect() };
    assert!(dump(&parted) == dump(&whole), "same stored exposures");
}

#[test]
fn a_part_of_an_analysis_older_than_the_last_complete_one_changes_nothing() {
    let f = exposed();
    let mut part = exposures(ACC, 50, vec![("i-1", vec![])]);
    if let Cmd::SetNetworkExposures(r) = &mut part {
        r.partial = true;
    }
    let before = f.dump();
    assert!(!applied(f.run(30, part)).applied);
    assert!(f.dump() == before);
}

#[test]
fn the_last_part_retires_instances_no_part_listed() {
    let f = open();
    f.run(
        10,
        put(vec![
            instance("i-1", ACC, ""),
            instance("i-2", ACC, ""),
            instance("i-3", ACC, ""),
        ]),
    );
    fn ssh(id: &str) -> (&str, Vec<argus_proto::v1::NetworkReachabilityDetails>) {
        (id, vec![open_ports(TCP, 22, 22, "sg-ssh")])
    }
    let first: Vec<(&str, _)> = vec![ssh("i-1"), ssh("i-2"), ssh("i-3")];
    f.run(20, exposures(ACC, 100, first));
    let mut part = exposures(ACC, 200, vec![ssh("i-1")]);
    if let Cmd::SetNetworkExposures(r) = &mut part {
        r.partial = true;
    }
    let r = applied(f.run(30, part));
    assert_eq!((r.applied, r.instances, r.findings_closed), (true, 1, 0));
    let r = applied(f.run(31, exposures(ACC, 200, vec![ssh("i-2")])));
    assert_eq!((r.instances, r.findings_closed), (1, 1));
    let status = |id: &str| f.finding(&nid(id, 22, 22)).status();
    assert_eq!(
        (status("i-1"), status("i-2"), status("i-3")),
        (FindingStatus::Active, FindingStatus::Active, FindingStatus::Closed)
    );
}

/// Not an assertion: reports how long applying one region's analysis takes — 10,000 instances
/// in the inventory, first (findings created) and again later (findings refreshed).
#[test]
fn report_exposure_apply_time() {
    use crate::reachability::analysis::tests::large_region;
    let mut snapshot = large_region(10_000);
    snapshot.account_id = ACC.into();
    let f = open();
    let instances: Vec<_> = snapshot
        .instances
        .iter()
        .map(|i| instance(&i.instance_id, ACC, ""))
        .collect();
    for chunk in instances.chunks(5_000) {
        f.run(10, put(chunk.to_vec()));
    }
    for (label, at) in [("first analysis", 100), ("same analysis later", 200)] {
        let parts = parts_of(&snapshot, at);
        let start = std::time::Instant::now();
        let mut created = 0;
        for part in &parts {
            created += applied(f.run(at, part.clone())).findings_created;
        }
        let secs = start.elapsed().as_secs_f64();
        println!(
            "SetNetworkExposures ({label}): 10000 instances in {} parts, {created} findings created, {secs:.2}s",
            parts.len()
        );
    }
}
