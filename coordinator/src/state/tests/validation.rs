//! Validation: each class of bad input is refused with a message naming the field.

use argus_proto::internal::v1::command::Kind as Cmd;
use argus_proto::internal::v1::{Command, SetCoverage};
use argus_proto::v1::{
    AggregateFindingsRequest, Coverage, DateFilter, DeleteSuppressionRuleRequest, FindingFilter, FindingSort,
    ListFindingsRequest, ListResourcesRequest, MapFilter, NumberFilter, PutSuppressionRuleRequest,
    RemoveResourcesRequest, ResourceFilter, StringComparison, StringFilter, SuppressionRule,
};

use super::*;
use crate::error::Error;

fn refused(kind: Cmd) -> String {
    match State::validate(&Command { kind: Some(kind) }) {
        Err(Error::InvalidArgument(m)) => m,
        other => panic!("expected InvalidArgument, got {other:?}"),
    }
}

fn ok(kind: Cmd) {
    State::validate(&Command { kind: Some(kind) }).unwrap();
}

#[test]
fn ids_must_be_present_short_printable_and_unique() {
    assert_eq!(
        refused(put(vec![image("", "1", "")])),
        "resources[0].resource_id: empty"
    );
    assert_eq!(
        refused(put(vec![image("a", "1", ""), image(&"x".repeat(2049), "1", "")])),
        "resources[1].resource_id: 2049 bytes, at most 2048"
    );
    assert_eq!(
        refused(put(vec![image("a\nb", "1", "")])),
        "resources[0].resource_id: contains the control character '\\n'"
    );
    assert_eq!(
        refused(put(vec![image("a", &"1".repeat(129), "")])),
        "resources[0].account_id: 129 bytes, at most 128"
    );
    assert_eq!(
        refused(put(vec![image("a", "1", ""), image("b", "1", ""), image("a", "1", "")])),
        "resources[2].resource_id: duplicate of resources[0]"
    );
    assert_eq!(
        refused(remove(&["a", "a"])),
        "resource_ids[1]: duplicate of resource_ids[0]"
    );
    assert_eq!(
        refused(Cmd::RemoveResources(RemoveResourcesRequest {
            resource_ids: vec!["r".into(); 10_001],
        })),
        "resource_ids: 10001 entries, at most 10000"
    );
    ok(put(vec![image(
        "arn:aws:ecr:eu-west-1:1:repository/x@sha256:ab",
        "123456789012",
        &digest(1),
    )]));
}

#[test]
fn enums_must_be_known_and_specified() {
    let mut r = image("a", "1", "");
    r.r#type = 0;
    assert_eq!(refused(put(vec![r.clone()])), "resources[0].type: unspecified");
    r.r#type = 99;
    assert_eq!(refused(put(vec![r])), "resources[0].type: unknown value 99");
    let mut v = vuln("CVE-1", "p");
    v.severity = 42;
    assert_eq!(
        refused(ingest(vec![result(&digest(1), 1, vec![vuln("CVE-0", "p"), v])])),
        "results[0].vulnerabilities[1].severity: unknown value 42"
    );
    let mut res = result(&digest(1), 1, vec![]);
    res.outcome = 0;
    assert_eq!(refused(ingest(vec![res])), "results[0].outcome: unspecified");
    assert_eq!(
        refused(Cmd::SetCoverage(SetCoverage {
            artifact_digest: digest(1),
            coverage: Some(Coverage {
                status: 1,
                reason: 77,
                ..Default::default()
            }),
        })),
        "coverage.reason: unknown value 77"
    );
}

#[test]
fn digests_must_be_algorithm_and_hex_of_the_right_length() {
    for (bad, why) in [
        ("latest", "is not a digest"),
        ("sha256:ABCD", "not lowercase hex"),
        ("sha256:abcd", "sha256 digest has 4 hex digits, not 64"),
        ("SHA256:abcd", "not lowercase alphanumeric"),
        (":abcd", "not lowercase alphanumeric"),
    ] {
        let m = refused(ingest(vec![result(bad, 1, vec![])]));
        assert!(
            m.starts_with("results[0].artifact_digest: ") && m.contains(why),
            "{bad}: {m}"
        );
    }
    ok(ingest(vec![result(&format!("blake3:{}", "ab".repeat(32)), 1, vec![])]));
}

#[test]
fn scan_batches_and_results_are_bounded_and_complete() {
    let many = (0..1001).map(|i| result(&digest(i), 1, vec![])).collect();
    assert_eq!(refused(ingest(many)), "results: 1001 entries, at most 1000");
    let vulns = (0..10_001).map(|i| vuln(&format!("CVE-{i}"), "p")).collect();
    assert_eq!(
        refused(ingest(vec![result(&digest(1), 1, vulns)])),
        "results[0].vulnerabilities: 10001 entries, at most 10000"
    );
    let mut undated = result(&digest(1), 1, vec![]);
    undated.scanned_at = None;
    assert_eq!(refused(ingest(vec![undated])), "results[0].scanned_at: missing");
    let mut v = vuln("CVE-1", "p");
    v.score = f64::NAN;
    assert_eq!(
        refused(ingest(vec![result(&digest(1), 1, vec![v])])),
        "results[0].vulnerabilities[0].score: NaN is not within 0..=10"
    );
}

#[test]
fn filters_that_cannot_match_are_refused_in_rules_and_queries() {
    let bad_filters = [
        (
            FindingFilter {
                score: Some(NumberFilter {
                    lower_inclusive: Some(9.0),
                    upper_inclusive: Some(1.0),
                }),
                ..Default::default()
            },
            "filter.score: lower bound 9 is above upper bound 1: nothing can match",
        ),
        (
            FindingFilter {
                updated_at: Some(DateFilter {
                    start_inclusive: Some(ts(10)),
                    end_inclusive: Some(ts(5)),
                }),
                ..Default::default()
            },
            "filter.updated_at: start is after end: nothing can match",
        ),
        (
            FindingFilter {
                title: vec![StringFilter {
                    comparison: 0,
                    value: "x".into(),
                }],
                ..Default::default()
            },
            "filter.title[0].comparison: unspecified",
        ),
        (
            FindingFilter {
                resource_tags: vec![MapFilter {
                    key: String::new(),
                    value: "x".into(),
                    comparison: StringComparison::Equals as i32,
                }],
                ..Default::default()
            },
            "filter.resource_tags[0].key: empty",
        ),
        (
            FindingFilter {
                status: vec![0],
                ..Default::default()
            },
            "filter.status[0]: unspecified",
        ),
    ];
    let f = open();
    for (filter, message) in bad_filters {
        let rule_message = refused(Cmd::PutSuppressionRule(PutSuppressionRuleRequest {
            rule: Some(SuppressionRule {
                name: "r".into(),
                filter: Some(filter.clone()),
                ..Default::default()
            }),
        }));
        assert_eq!(rule_message, format!("rule.{message}"));
        let query = f.state.list_findings(&ListFindingsRequest {
            filter: Some(filter.clone()),
            ..Default::default()
        });
        assert!(matches!(query, Err(Error::InvalidArgument(m)) if m == message));
        let agg = f.state.aggregate_findings(&AggregateFindingsRequest {
            aggregation: 1,
            filter: Some(filter.clone()),
            ..Default::default()
        });
        assert!(matches!(agg, Err(Error::InvalidArgument(m)) if m == message));
        let feed = f.state.changes_after(0, Some(&filter), 10);
        assert!(matches!(feed, Err(Error::InvalidArgument(m)) if m == message));
    }
    let sort = f.state.list_findings(&ListFindingsRequest {
        sort: Some(FindingSort { field: 50, order: 1 }),
        ..Default::default()
    });
    assert!(matches!(sort, Err(Error::InvalidArgument(m)) if m == "sort.field: unknown value 50"));
    let huge = f.state.list_findings(&ListFindingsRequest {
        page_size: 100_000,
        ..Default::default()
    });
    assert!(matches!(huge, Err(Error::InvalidArgument(m)) if m == "page_size: 100000, at most 1000"));
    let agg = f.state.aggregate_findings(&AggregateFindingsRequest::default());
    assert!(matches!(agg, Err(Error::InvalidArgument(m)) if m == "aggregation: unspecified"));
    let resources = f.state.list_resources(&ListResourcesRequest {
        filter: Some(ResourceFilter {
            coverage_reason: vec![1000],
            ..Default::default()
        }),
        ..Default::default()
    });
    assert!(
        matches!(resources, Err(Error::InvalidArgument(m)) if m == "filter.coverage_reason[0]: unknown value 1000")
    );
}

#[test]
fn rule_names_are_one_to_128_characters() {
    let filter = FindingFilter {
        severity: vec![5],
        ..Default::default()
    };
    let put_named = |name: String| {
        Cmd::PutSuppressionRule(PutSuppressionRuleRequest {
            rule: Some(SuppressionRule {
                name,
                filter: Some(filter.clone()),
                ..Default::default()
            }),
        })
    };
    assert_eq!(refused(put_named(String::new())), "rule.name: empty");
    assert_eq!(
        refused(put_named("é".repeat(129))),
        "rule.name: 129 characters, at most 128"
    );
    ok(put_named("é".repeat(128)));
    assert_eq!(
        refused(Cmd::DeleteSuppressionRule(DeleteSuppressionRuleRequest {
            name: String::new()
        })),
        "name: empty"
    );
    assert_eq!(
        refused(Cmd::PutSuppressionRule(PutSuppressionRuleRequest {
            rule: Some(SuppressionRule {
                name: "everything".into(),
                filter: None,
                ..Default::default()
            }),
        })),
        "rule.filter: empty (a rule must say which findings it suppresses)"
    );
}

#[test]
fn an_empty_command_is_refused() {
    match State::validate(&Command { kind: None }) {
        Err(Error::InvalidArgument(m)) => assert_eq!(m, "command: empty"),
        other => panic!("{other:?}"),
    }
}
