//! Every transition of a finding, and the inventory and coverage commands around them.

use argus_proto::internal::v1::command::Kind as Cmd;
use argus_proto::internal::v1::command_result::Kind as Res;
use argus_proto::internal::v1::SetCoverage;
use argus_proto::v1::{
    Account, ChangeKind, Coverage, CoverageReason, CoverageStatus, DeleteSuppressionRuleRequest, FindingFilter,
    FindingStatus, IngestScanResultsResponse, ListFindingsRequest, MapFilter, PutAccountsRequest,
    RemoveAccountsRequest, ScanOutcome, Severity, StringComparison, StringFilter,
};

use super::*;

const ACC: &str = "123456789012";

fn ingested(res: Res) -> IngestScanResultsResponse {
    match res {
        Res::IngestScanResults(r) => r,
        other => panic!("unexpected {other:?}"),
    }
}

fn kinds(f: &Fixture) -> Vec<(ChangeKind, String)> {
    f.changes()
        .into_iter()
        .map(|c| (c.kind(), c.finding.unwrap().finding_id))
        .collect()
}

fn eq(value: &str) -> StringFilter {
    StringFilter {
        comparison: StringComparison::Equals as i32,
        value: value.into(),
    }
}

/// One image with one artifact scanned at t=100 with CVE-1 in openssl.
fn scanned() -> (Fixture, String) {
    let f = open();
    f.run(10, put(vec![image("img-a", ACC, &digest(1))]));
    f.run(
        20,
        ingest(vec![result(&digest(1), 100, vec![vuln("CVE-1", "openssl")])]),
    );
    (f, fid(ACC, "img-a", "CVE-1", "openssl"))
}

#[test]
fn a_new_finding_is_created_active_with_its_observation_and_the_resource() {
    let (f, id) = scanned();
    let x = f.finding(&id);
    assert_eq!(x.status(), FindingStatus::Active);
    assert_eq!(x.account_id, ACC);
    assert_eq!(x.first_observed_at, Some(ts(100)));
    assert_eq!(x.last_observed_at, Some(ts(100)));
    assert_eq!(x.updated_at, Some(ts(20)));
    assert_eq!(x.db_version, "db-100");
    let attached = x.resource.unwrap();
    assert_eq!(
        attached,
        Resource {
            coverage: None,
            ..f.resource("img-a")
        }
    );
    assert!(
        attached.coverage.is_none(),
        "findings show their resource without coverage"
    );
    assert_eq!(kinds(&f), vec![(ChangeKind::Created, id)]);
    let cov = f.resource("img-a").coverage.unwrap();
    assert_eq!(cov.status(), CoverageStatus::CoverageActive);
    assert_eq!(cov.reason(), CoverageReason::Successful);
    assert_eq!(cov.last_scanned_at, Some(ts(100)));
    assert_eq!(cov.db_version, "db-100");
}

#[test]
fn a_rescan_that_sees_the_same_finding_refreshes_it_without_a_change() {
    let (f, id) = scanned();
    let r = ingested(f.run(
        30,
        ingest(vec![result(&digest(1), 200, vec![vuln("CVE-1", "openssl")])]),
    ));
    assert_eq!((r.applied, r.findings_created, r.findings_updated), (1, 0, 0));
    let x = f.finding(&id);
    assert_eq!(x.last_observed_at, Some(ts(200)));
    assert_eq!(x.first_observed_at, Some(ts(100)));
    assert_eq!(x.updated_at, Some(ts(20)), "a refresh is not an update");
    assert_eq!(x.db_version, "db-200");
    assert_eq!(f.changes().len(), 1);
}

#[test]
fn a_material_change_updates_the_finding_and_emits_updated() {
    let (f, id) = scanned();
    let mut v = vuln("CVE-1", "openssl");
    v.severity = Severity::Critical as i32;
    v.score = 9.8;
    let r = ingested(f.run(30, ingest(vec![result(&digest(1), 200, vec![v])])));
    assert_eq!(r.findings_updated, 1);
    let x = f.finding(&id);
    assert_eq!(x.severity(), Severity::Critical);
    assert_eq!(x.updated_at, Some(ts(30)));
    assert_eq!(x.first_observed_at, Some(ts(100)));
    assert_eq!(kinds(&f).last().unwrap(), &(ChangeKind::Updated, id));
}

#[test]
fn a_finding_missing_from_a_newer_scan_is_closed_and_returns_under_the_same_id() {
    let (f, id) = scanned();
    let r = ingested(f.run(30, ingest(vec![result(&digest(1), 200, vec![])])));
    assert_eq!(r.findings_closed, 1);
    let x = f.finding(&id);
    assert_eq!(x.status(), FindingStatus::Closed);
    assert_eq!(x.updated_at, Some(ts(30)));
    assert_eq!(x.last_observed_at, Some(ts(100)));

    let r = ingested(f.run(
        40,
        ingest(vec![result(&digest(1), 300, vec![vuln("CVE-1", "openssl")])]),
    ));
    assert_eq!((r.findings_reopened, r.findings_created), (1, 0));
    let x = f.finding(&id);
    assert_eq!(x.status(), FindingStatus::Active);
    assert_eq!(
        x.first_observed_at,
        Some(ts(100)),
        "a reopened finding keeps its history"
    );
    assert_eq!(x.last_observed_at, Some(ts(300)));
    assert_eq!(
        kinds(&f),
        vec![
            (ChangeKind::Created, id.clone()),
            (ChangeKind::Closed, id.clone()),
            (ChangeKind::Reopened, id)
        ]
    );
}

#[test]
fn the_same_result_twice_or_an_older_one_after_a_newer_one_changes_nothing() {
    let (f, _) = scanned();
    f.run(
        30,
        ingest(vec![result(
            &digest(1),
            200,
            vec![vuln("CVE-1", "openssl"), vuln("CVE-2", "zlib")],
        )]),
    );
    let before = f.dump();
    let again = ingested(f.run(
        40,
        ingest(vec![result(&digest(1), 200, vec![vuln("CVE-1", "openssl")])]),
    ));
    assert_eq!((again.applied, again.ignored), (0, 1));
    let older = ingested(f.run(50, ingest(vec![result(&digest(1), 150, vec![])])));
    assert_eq!((older.applied, older.ignored), (0, 1));
    assert_eq!(f.dump(), before, "ignored results leave every column family untouched");
}

#[test]
fn one_result_fans_out_to_every_resource_carrying_the_artifact() {
    let f = open();
    f.run(
        10,
        put(vec![
            image("img-a", ACC, &digest(1)),
            image("img-b", "210987654321", &digest(1)),
        ]),
    );
    let r = ingested(f.run(
        20,
        ingest(vec![result(&digest(1), 100, vec![vuln("CVE-1", "openssl")])]),
    ));
    assert_eq!((r.applied, r.findings_created), (1, 2));
    assert_eq!(f.finding(&fid(ACC, "img-a", "CVE-1", "openssl")).account_id, ACC);
    assert_eq!(
        f.finding(&fid("210987654321", "img-b", "CVE-1", "openssl")).account_id,
        "210987654321"
    );
}

#[test]
fn a_resource_added_after_its_artifact_was_scanned_gets_the_findings_without_a_rescan() {
    let f = open();
    let r = ingested(f.run(
        10,
        ingest(vec![result(&digest(7), 100, vec![vuln("CVE-1", "openssl")])]),
    ));
    assert_eq!((r.applied, r.findings_created), (1, 0), "stored for later resources");
    f.run(20, put(vec![image("img-late", ACC, &digest(7))]));
    let x = f.finding(&fid(ACC, "img-late", "CVE-1", "openssl"));
    assert_eq!(x.status(), FindingStatus::Active);
    assert_eq!(x.first_observed_at, Some(ts(100)));
    assert_eq!(x.updated_at, Some(ts(20)));
    assert_eq!(
        f.resource("img-late").coverage.unwrap().reason(),
        CoverageReason::Successful
    );
}

#[test]
fn a_resource_that_changes_artifact_takes_the_new_artifacts_findings() {
    let (f, old_id) = scanned();
    f.run(30, ingest(vec![result(&digest(2), 50, vec![vuln("CVE-9", "curl")])]));
    f.run(40, put(vec![image("img-a", ACC, &digest(2))]));
    assert_eq!(f.finding(&old_id).status(), FindingStatus::Closed);
    let new = f.finding(&fid(ACC, "img-a", "CVE-9", "curl"));
    assert_eq!(new.status(), FindingStatus::Active);
    // Even though the new artifact's scan (t=50) is older than the old one's (t=100).
    assert_eq!(f.resource("img-a").coverage.unwrap().last_scanned_at, Some(ts(50)));
}

#[test]
fn removing_a_resource_closes_its_findings_and_repeating_it_is_harmless() {
    let (f, id) = scanned();
    let Res::RemoveResources(r) = f.run(30, remove(&["img-a"])) else {
        panic!()
    };
    assert_eq!((r.removed, r.findings_closed), (1, 1));
    let res = f.resource("img-a");
    assert!(res.removed);
    assert_eq!(res.removed_at, Some(ts(30)));
    let cov = res.coverage.unwrap();
    assert_eq!(cov.status(), CoverageStatus::CoverageInactive);
    assert_eq!(cov.reason(), CoverageReason::ResourceTerminated);
    assert_eq!(f.finding(&id).status(), FindingStatus::Closed);
    let before = f.dump();
    let Res::RemoveResources(r) = f.run(40, remove(&["img-a", "never-existed"])) else {
        panic!()
    };
    assert_eq!((r.removed, r.findings_closed), (0, 0));
    assert_eq!(f.dump(), before);
    // A scan of its artifact no longer touches a removed resource.
    f.run(
        50,
        ingest(vec![result(&digest(1), 500, vec![vuln("CVE-1", "openssl")])]),
    );
    assert_eq!(f.finding(&id).status(), FindingStatus::Closed);
}

#[test]
fn a_re_added_resource_comes_back_and_its_findings_reopen() {
    let (f, id) = scanned();
    f.run(30, remove(&["img-a"]));
    let Res::PutResources(r) = f.run(40, put(vec![image("img-a", ACC, &digest(1))])) else {
        panic!()
    };
    assert_eq!((r.created, r.updated), (0, 1));
    let res = f.resource("img-a");
    assert!(!res.removed && res.removed_at.is_none());
    assert_eq!(res.first_seen_at, Some(ts(10)));
    assert_eq!(res.coverage.unwrap().reason(), CoverageReason::Successful);
    assert_eq!(f.finding(&id).status(), FindingStatus::Active);
    assert_eq!(kinds(&f).last().unwrap(), &(ChangeKind::Reopened, id));
}

#[test]
fn resource_upserts_count_created_updated_and_unchanged() {
    let f = open();
    let Res::PutResources(r) = f.run(10, put(vec![image("a", ACC, &digest(1)), image("b", ACC, "")])) else {
        panic!()
    };
    assert_eq!((r.created, r.updated, r.unchanged), (2, 0, 0));
    let cov = f.resource("b").coverage.unwrap();
    assert_eq!(
        (cov.status(), cov.reason()),
        (CoverageStatus::CoverageActive, CoverageReason::PendingInitialScan)
    );
    let mut changed = image("b", ACC, "");
    changed.tags.insert("owner".into(), "alice".into());
    let Res::PutResources(r) = f.run(20, put(vec![image("a", ACC, &digest(1)), changed])) else {
        panic!()
    };
    assert_eq!((r.created, r.updated, r.unchanged), (0, 1, 1));
    let a = f.resource("a");
    assert_eq!((a.first_seen_at, a.last_seen_at), (Some(ts(10)), Some(ts(20))));
}

#[test]
fn accounts_are_upserted_keeping_first_seen_and_removed_without_touching_resources() {
    let f = open();
    let acct = |name: &str| Account {
        account_id: ACC.into(),
        name: name.into(),
        ..Default::default()
    };
    let Res::PutAccounts(r) = f.run(
        10,
        Cmd::PutAccounts(PutAccountsRequest {
            accounts: vec![acct("one")],
        }),
    ) else {
        panic!()
    };
    assert_eq!((r.created, r.updated), (1, 0));
    let Res::PutAccounts(r) = f.run(
        20,
        Cmd::PutAccounts(PutAccountsRequest {
            accounts: vec![acct("two")],
        }),
    ) else {
        panic!()
    };
    assert_eq!((r.created, r.updated), (0, 1));
    let a = f.state.get_account(ACC).unwrap().unwrap();
    assert_eq!(
        (a.name.as_str(), a.first_seen_at, a.last_seen_at),
        ("two", Some(ts(10)), Some(ts(20)))
    );
    f.run(25, put(vec![image("img-a", ACC, "")]));
    let remove = |id: &str| {
        Cmd::RemoveAccounts(RemoveAccountsRequest {
            account_ids: vec![id.into()],
        })
    };
    let Res::RemoveAccounts(r) = f.run(30, remove(ACC)) else {
        panic!()
    };
    assert_eq!(r.removed, 1);
    let Res::RemoveAccounts(r) = f.run(40, remove(ACC)) else {
        panic!()
    };
    assert_eq!(r.removed, 0);
    assert!(f.state.get_account(ACC).unwrap().is_none());
    assert!(!f.resource("img-a").removed);
}

#[test]
fn a_failed_scan_records_why_in_the_coverage_and_leaves_the_findings() {
    let (f, id) = scanned();
    let mut failed = result(&digest(1), 200, vec![]);
    failed.outcome = ScanOutcome::Failed as i32;
    failed.error = "manifest unknown".into();
    let r = ingested(f.run(30, ingest(vec![failed])));
    assert_eq!((r.applied, r.findings_closed), (1, 0));
    let cov = f.resource("img-a").coverage.unwrap();
    assert_eq!(cov.status(), CoverageStatus::CoverageInactive);
    assert_eq!(cov.reason(), CoverageReason::ScanFailed);
    assert_eq!(cov.detail, "manifest unknown");
    assert_eq!(
        cov.db_version, "db-100",
        "the findings still come from the last successful scan"
    );
    assert_eq!(f.finding(&id).status(), FindingStatus::Active);

    let mut denied = result(&digest(1), 300, vec![]);
    denied.outcome = ScanOutcome::AccessDenied as i32;
    f.run(40, ingest(vec![denied]));
    assert_eq!(
        f.resource("img-a").coverage.unwrap().reason(),
        CoverageReason::AccessDenied
    );
    let mut unsupported = result(&digest(1), 400, vec![]);
    unsupported.outcome = ScanOutcome::Unsupported as i32;
    f.run(50, ingest(vec![unsupported]));
    assert_eq!(
        f.resource("img-a").coverage.unwrap().reason(),
        CoverageReason::UnsupportedOs
    );
}

#[test]
fn set_coverage_reaches_every_live_resource_of_the_artifact_and_keeps_unset_fields() {
    let (f, _) = scanned();
    f.run(
        25,
        put(vec![image("img-b", ACC, &digest(1)), image("img-c", ACC, &digest(1))]),
    );
    f.run(26, remove(&["img-c"]));
    let Res::SetCoverage(r) = f.run(
        30,
        Cmd::SetCoverage(SetCoverage {
            artifact_digest: digest(1),
            coverage: Some(Coverage {
                status: CoverageStatus::CoverageActive as i32,
                reason: CoverageReason::ScanInProgress as i32,
                ..Default::default()
            }),
        }),
    ) else {
        panic!()
    };
    assert_eq!(r.resources, 2);
    let cov = f.resource("img-a").coverage.unwrap();
    assert_eq!(cov.reason(), CoverageReason::ScanInProgress);
    assert_eq!(cov.last_scanned_at, Some(ts(100)));
    assert_eq!(cov.db_version, "db-100");
    assert_eq!(
        f.resource("img-c").coverage.unwrap().reason(),
        CoverageReason::ResourceTerminated
    );
}

#[test]
fn a_rule_suppresses_matching_findings_and_deleting_it_restores_them() {
    let (f, id) = scanned();
    let filter = FindingFilter {
        vulnerability_id: vec![eq("CVE-1")],
        ..Default::default()
    };
    let Res::PutSuppressionRule(r) = f.run(30, rule("accept-cve-1", filter)) else {
        panic!()
    };
    assert_eq!((r.findings_suppressed, r.findings_restored), (1, 0));
    let stored = r.rule.unwrap();
    assert_eq!((stored.created_at, stored.updated_at), (Some(ts(30)), Some(ts(30))));
    let x = f.finding(&id);
    assert_eq!(x.status(), FindingStatus::Suppressed);
    assert_eq!(x.suppressed_by, "accept-cve-1");
    assert_eq!(x.updated_at, Some(ts(30)));

    let Res::DeleteSuppressionRule(r) = f.run(
        40,
        Cmd::DeleteSuppressionRule(DeleteSuppressionRuleRequest {
            name: "accept-cve-1".into(),
        }),
    ) else {
        panic!()
    };
    assert_eq!(r.findings_restored, 1);
    let x = f.finding(&id);
    assert_eq!(x.status(), FindingStatus::Active);
    assert!(x.suppressed_by.is_empty());
    assert_eq!(
        kinds(&f),
        vec![
            (ChangeKind::Created, id.clone()),
            (ChangeKind::Suppressed, id.clone()),
            (ChangeKind::Updated, id)
        ]
    );
}

#[test]
fn a_finding_that_appears_later_is_suppressed_by_an_existing_rule() {
    let f = open();
    let filter = FindingFilter {
        package_name: vec![eq("zlib")],
        ..Default::default()
    };
    f.run(5, rule("zlib-is-fine", filter));
    f.run(10, put(vec![image("img-a", ACC, &digest(1))]));
    f.run(
        20,
        ingest(vec![result(
            &digest(1),
            100,
            vec![vuln("CVE-1", "openssl"), vuln("CVE-2", "zlib")],
        )]),
    );
    let z = f.finding(&fid(ACC, "img-a", "CVE-2", "zlib"));
    assert_eq!(
        (z.status(), z.suppressed_by.as_str()),
        (FindingStatus::Suppressed, "zlib-is-fine")
    );
    assert_eq!(
        f.finding(&fid(ACC, "img-a", "CVE-1", "openssl")).status(),
        FindingStatus::Active
    );
    let mut created = kinds(&f);
    created.sort();
    let mut expected = vec![
        (ChangeKind::Created, fid(ACC, "img-a", "CVE-1", "openssl")),
        (ChangeKind::Suppressed, fid(ACC, "img-a", "CVE-2", "zlib")),
    ];
    expected.sort();
    assert_eq!(
        created, expected,
        "a new finding a rule matches is announced as SUPPRESSED"
    );
}

#[test]
fn a_closed_finding_stays_closed_under_a_rule_and_reopens_suppressed() {
    let (f, id) = scanned();
    f.run(30, ingest(vec![result(&digest(1), 200, vec![])]));
    let filter = FindingFilter {
        vulnerability_id: vec![eq("CVE-1")],
        ..Default::default()
    };
    let Res::PutSuppressionRule(r) = f.run(40, rule("r", filter)) else {
        panic!()
    };
    assert_eq!(r.findings_suppressed, 0);
    assert_eq!(f.finding(&id).status(), FindingStatus::Closed);
    f.run(
        50,
        ingest(vec![result(&digest(1), 300, vec![vuln("CVE-1", "openssl")])]),
    );
    let x = f.finding(&id);
    assert_eq!((x.status(), x.suppressed_by.as_str()), (FindingStatus::Suppressed, "r"));
    assert_eq!(kinds(&f).last().unwrap(), &(ChangeKind::Reopened, id));
}

#[test]
fn a_finding_shows_its_resource_as_it_is_now_and_tag_rules_follow_retagging() {
    let (f, id) = scanned();
    let env_test = FindingFilter {
        resource_tags: vec![MapFilter {
            key: "env".into(),
            value: "test".into(),
            comparison: StringComparison::Equals as i32,
        }],
        ..Default::default()
    };
    f.run(30, rule("test-envs", env_test.clone()));
    assert_eq!(f.finding(&id).status(), FindingStatus::Active);
    let listed = |filter: &FindingFilter| -> Vec<String> {
        let req = ListFindingsRequest {
            filter: Some(filter.clone()),
            ..Default::default()
        };
        let resp = f.state.list_findings(&req).unwrap();
        resp.findings.into_iter().map(|x| x.finding_id).collect()
    };
    let any_status = FindingFilter {
        status: vec![FindingStatus::Active as i32, FindingStatus::Suppressed as i32],
        ..env_test.clone()
    };
    assert!(listed(&any_status).is_empty());

    // Retagged to env=test: the rule holds the finding from this proposal on, and every
    // reader shows the new tags.
    let mut retagged = image("img-a", ACC, &digest(1));
    retagged.tags.insert("env".into(), "test".into());
    f.run(40, put(vec![retagged.clone()]));
    let x = f.finding(&id);
    assert_eq!(
        (x.status(), x.suppressed_by.as_str()),
        (FindingStatus::Suppressed, "test-envs")
    );
    assert_eq!(x.updated_at, Some(ts(40)));
    assert_eq!(x.resource.as_ref().unwrap().tags["env"], "test");
    assert_eq!(listed(&any_status), vec![id.clone()]);
    let last = f.changes().pop().unwrap();
    assert_eq!(last.kind(), ChangeKind::Suppressed);
    assert_eq!(last.finding.unwrap().resource.unwrap().tags["env"], "test");
    let (matching, _) = f.state.changes_after(0, Some(&any_status), 100).unwrap();
    assert_eq!(matching.len(), 2, "the feed filters on the tags as they are now");

    // The same tags again change nothing; back to env=prod releases the finding.
    f.run(45, put(vec![retagged]));
    assert_eq!(f.finding(&id).updated_at, Some(ts(40)));
    f.run(50, put(vec![image("img-a", ACC, &digest(1))]));
    let x = f.finding(&id);
    assert_eq!((x.status(), x.suppressed_by.as_str()), (FindingStatus::Active, ""));
    assert_eq!(kinds(&f).last().unwrap(), &(ChangeKind::Updated, id));
    assert!(listed(&any_status).is_empty());
}

#[test]
fn the_first_matching_rule_by_name_holds_a_finding_and_a_narrowed_rule_releases_it() {
    let (f, id) = scanned();
    let all_high = FindingFilter {
        severity: vec![Severity::High as i32],
        ..Default::default()
    };
    f.run(30, rule("b-high", all_high.clone()));
    f.run(31, rule("a-high", all_high));
    assert_eq!(f.finding(&id).suppressed_by, "a-high");
    let Res::PutSuppressionRule(r) = f.run(
        32,
        rule(
            "a-high",
            FindingFilter {
                severity: vec![Severity::Critical as i32],
                ..Default::default()
            },
        ),
    ) else {
        panic!()
    };
    assert_eq!(r.rule.unwrap().created_at, Some(ts(31)), "an upsert keeps created_at");
    let x = f.finding(&id);
    assert_eq!(
        (x.status(), x.suppressed_by.as_str()),
        (FindingStatus::Suppressed, "b-high")
    );
}

#[test]
fn a_refused_command_changes_nothing_and_the_rest_of_the_proposal_applies() {
    let f = open();
    let resp = f.propose(
        10,
        vec![
            Cmd::DeleteSuppressionRule(DeleteSuppressionRuleRequest { name: "nope".into() }),
            put(vec![image("", ACC, "")]),
            put(vec![image("img-a", ACC, &digest(1))]),
        ],
    );
    let kinds: Vec<_> = resp.results.into_iter().map(|r| r.kind.unwrap()).collect();
    match &kinds[0] {
        Res::Error(e) => assert_eq!(e.code, "NOT_FOUND"),
        other => panic!("{other:?}"),
    }
    match &kinds[1] {
        Res::Error(e) => {
            assert_eq!(e.code, "INVALID_ARGUMENT");
            assert_eq!(e.message, "resources[0].resource_id: empty");
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(kinds[2], Res::PutResources(_)));
    assert!(f.state.get_resource("img-a").unwrap().is_some());
}

#[test]
fn an_empty_proposal_answers_nothing_and_writes_nothing() {
    let f = open();
    let resp = f.propose(10, vec![]);
    assert!(resp.results.is_empty());
    assert!(f.dump().is_empty());
}

#[test]
fn commands_in_one_transaction_see_each_others_writes() {
    let f = open();
    let mut txn = f.state.begin();
    let p = |now: i64, k: Cmd| Proposal {
        now: Some(ts(now)),
        commands: vec![Command { kind: Some(k) }],
    };
    f.state
        .apply(&mut txn, &p(10, put(vec![image("img-a", ACC, &digest(1))])))
        .unwrap();
    f.state
        .apply(
            &mut txn,
            &p(20, ingest(vec![result(&digest(1), 100, vec![vuln("CVE-1", "x")])])),
        )
        .unwrap();
    f.state.apply(&mut txn, &p(30, remove(&["img-a"]))).unwrap();
    f.state.commit(txn).unwrap();
    let cursors: Vec<u64> = f.changes().iter().map(|c| c.cursor).collect();
    assert_eq!(cursors, vec![1, 2]);
    assert_eq!(*f.state.watch_cursor().borrow(), 2);
}
