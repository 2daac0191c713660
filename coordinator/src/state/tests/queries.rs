//! Queries: filters, every sort order, paging, page tokens, aggregations, inventory and
//! coverage lists.

use std::collections::BTreeSet;

use argus_proto::v1::{
    AggregateFindingsRequest, AggregationType, CoverageGroupBy, CoverageStatus, DateFilter, Finding, FindingFilter,
    FindingSort, FindingSortField, FindingStatus, GetCoverageStatisticsRequest, ListFindingsRequest,
    ListResourcesRequest, ListSuppressionRulesRequest, MapFilter, NumberFilter, ResourceFilter, Severity, SortOrder,
    StringComparison, StringFilter,
};

use super::*;
use crate::error::Error;

fn sf(comparison: StringComparison, value: &str) -> StringFilter {
    StringFilter {
        comparison: comparison as i32,
        value: value.into(),
    }
}

/// 3 accounts × 4 images × 6 vulnerabilities with varied severity, score and EPSS; image 3 of
/// each account is rescanned later with one vulnerability gone (closed).
fn estate() -> Fixture {
    let f = open();
    let mut n = 0u64;
    for a in 0..3 {
        let account = format!("{a}00000000000");
        let images: Vec<_> = (0..4)
            .map(|i| image(&format!("img-{a}-{i}"), &account, &digest(n + i)))
            .collect();
        f.run(10, put(images));
        let mut results = Vec::new();
        for i in 0..4u64 {
            let vulns = (0..6)
                .map(|v| {
                    let mut o = vuln(&format!("CVE-{v}"), &format!("pkg{}", v % 3));
                    o.severity = [Severity::Low, Severity::Medium, Severity::High, Severity::Critical]
                        [(v + i as usize) % 4] as i32;
                    o.score = ((v * 7 + i as usize * 3) % 100) as f64 / 10.0;
                    o.epss_score = ((v + i as usize) % 5) as f64 / 5.0;
                    o
                })
                .collect();
            results.push(result(&digest(n + i), 100 + i as i64, vulns));
        }
        f.run(20 + a as i64, ingest(results));
        f.run(
            30 + a as i64,
            ingest(vec![result(
                &digest(n + 3),
                200,
                (0..5)
                    .map(|v| vuln(&format!("CVE-{v}"), &format!("pkg{}", v % 3)))
                    .collect(),
            )]),
        );
        n += 4;
    }
    f
}

fn all_findings(f: &Fixture) -> Vec<Finding> {
    f.state
        .list_findings(&ListFindingsRequest {
            page_size: 1000,
            filter: Some(FindingFilter {
                status: vec![1, 2, 3],
                ..Default::default()
            }),
            ..Default::default()
        })
        .unwrap()
        .findings
}

fn list(f: &Fixture, filter: FindingFilter) -> Vec<Finding> {
    f.state
        .list_findings(&ListFindingsRequest {
            filter: Some(filter),
            page_size: 1000,
            ..Default::default()
        })
        .unwrap()
        .findings
}

#[test]
fn filters_and_keys_within_a_key_or_and_exclusions_must_all_hold() {
    let f = estate();
    let everything = all_findings(&f);
    assert_eq!(everything.len(), 72);
    let by = |filter: FindingFilter| list(&f, filter).len();
    let acct0 = sf(StringComparison::Equals, "000000000000");
    assert_eq!(
        by(FindingFilter {
            account_id: vec![acct0.clone()],
            ..Default::default()
        }),
        24
    );
    assert_eq!(
        by(FindingFilter {
            account_id: vec![acct0.clone(), sf(StringComparison::Prefix, "1")],
            ..Default::default()
        }),
        48,
        "values of one key are ORed"
    );
    assert_eq!(
        by(FindingFilter {
            account_id: vec![acct0.clone()],
            package_name: vec![sf(StringComparison::Equals, "pkg0")],
            ..Default::default()
        }),
        8,
        "keys are ANDed"
    );
    assert_eq!(
        by(FindingFilter {
            package_name: vec![
                sf(StringComparison::NotEquals, "pkg0"),
                sf(StringComparison::NotEquals, "pkg1")
            ],
            ..Default::default()
        }),
        24,
        "every NOT_EQUALS must hold"
    );
    assert_eq!(
        by(FindingFilter {
            status: vec![FindingStatus::Closed as i32],
            ..Default::default()
        }),
        3
    );
    let high_score = NumberFilter {
        lower_inclusive: Some(2.0),
        upper_inclusive: Some(3.0),
    };
    let expected = everything.iter().filter(|x| (2.0..=3.0).contains(&x.score)).count();
    assert!(expected > 0);
    assert_eq!(
        by(FindingFilter {
            score: Some(high_score),
            status: vec![1, 2, 3],
            ..Default::default()
        }),
        expected
    );
    assert_eq!(
        by(FindingFilter {
            resource_tags: vec![MapFilter {
                key: "team".into(),
                value: "payments".into(),
                comparison: 0
            }],
            ..Default::default()
        }),
        72
    );
    assert_eq!(
        by(FindingFilter {
            resource_tags: vec![MapFilter {
                key: "team".into(),
                value: "pay".into(),
                comparison: StringComparison::Equals as i32
            }],
            ..Default::default()
        }),
        0
    );
    assert_eq!(
        by(FindingFilter {
            last_observed_at: Some(DateFilter {
                start_inclusive: Some(ts(200)),
                end_inclusive: None
            }),
            ..Default::default()
        }),
        15
    );
    assert_eq!(
        by(FindingFilter {
            image_repository: vec![sf(StringComparison::Equals, "repo-img-0-")],
            severity: vec![Severity::Critical as i32],
            ..Default::default()
        }),
        everything
            .iter()
            .filter(|x| x.account_id.starts_with('0') && x.severity() == Severity::Critical)
            .count()
    );
}

fn page_through(f: &Fixture, field: FindingSortField, order: SortOrder, page_size: u32) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut token = String::new();
    loop {
        let resp = f
            .state
            .list_findings(&ListFindingsRequest {
                filter: Some(FindingFilter {
                    status: vec![1, 2, 3],
                    ..Default::default()
                }),
                sort: Some(FindingSort {
                    field: field as i32,
                    order: order as i32,
                }),
                page_size,
                page_token: token,
            })
            .unwrap();
        assert!(resp.findings.len() <= page_size as usize);
        out.extend(resp.findings);
        if resp.next_page_token.is_empty() {
            return out;
        }
        token = resp.next_page_token;
    }
}

fn sort_value(field: FindingSortField, x: &Finding) -> String {
    use FindingSortField as F;
    let t = |t: Option<prost_types::Timestamp>| format!("{:020}", t.unwrap().seconds);
    match field {
        F::SortBySeverity => x.severity.to_string(),
        F::SortByScore => format!("{:06.2}", x.score),
        F::SortByEpssScore => format!("{:06.3}", x.epss_score),
        F::SortByFirstObservedAt => t(x.first_observed_at),
        F::SortByLastObservedAt => t(x.last_observed_at),
        F::SortByUpdatedAt => t(x.updated_at),
        F::SortByAccountId => x.account_id.clone(),
        F::SortByResourceId => x.resource.as_ref().unwrap().resource_id.clone(),
        F::SortByVulnerabilityId => x.vulnerability.as_ref().unwrap().id.clone(),
        F::SortByFindingId | F::Unspecified => x.finding_id.clone(),
    }
}

#[test]
fn paging_by_every_sort_order_yields_each_finding_once_in_order() {
    let f = estate();
    let ids: BTreeSet<String> = all_findings(&f).into_iter().map(|x| x.finding_id).collect();
    for field in 1..=10 {
        let field = FindingSortField::try_from(field).unwrap();
        for order in [SortOrder::Asc, SortOrder::Desc] {
            let paged = page_through(&f, field, order, 7);
            let seen: Vec<String> = paged.iter().map(|x| x.finding_id.clone()).collect();
            assert_eq!(seen.len(), ids.len(), "{field:?} {order:?}: no duplicates");
            assert_eq!(
                seen.iter().cloned().collect::<BTreeSet<_>>(),
                ids,
                "{field:?} {order:?}"
            );
            for w in paged.windows(2) {
                let (a, b) = (sort_value(field, &w[0]), sort_value(field, &w[1]));
                let in_order = match order {
                    SortOrder::Desc => a > b || (a == b && w[0].finding_id < w[1].finding_id),
                    _ => a < b || (a == b && w[0].finding_id < w[1].finding_id),
                };
                assert!(in_order, "{field:?} {order:?}: {a} then {b}");
            }
        }
    }
}

#[test]
fn the_default_is_finding_id_order_and_a_page_of_one_works() {
    let f = estate();
    let default: Vec<String> = page_through(&f, FindingSortField::Unspecified, SortOrder::Unspecified, 1)
        .into_iter()
        .map(|x| x.finding_id)
        .collect();
    let mut sorted = default.clone();
    sorted.sort();
    assert_eq!(default, sorted);
    assert_eq!(default.len(), 72);
}

#[test]
fn foreign_or_garbage_page_tokens_are_invalid_arguments() {
    let f = estate();
    let first = f
        .state
        .list_findings(&ListFindingsRequest {
            page_size: 5,
            ..Default::default()
        })
        .unwrap();
    assert!(!first.next_page_token.is_empty());
    let with = |token: &str, filter: Option<FindingFilter>, sort: Option<FindingSort>| {
        f.state.list_findings(&ListFindingsRequest {
            page_size: 5,
            page_token: token.into(),
            filter,
            sort,
        })
    };
    assert!(with(&first.next_page_token, None, None).is_ok());
    let other_filter = Some(FindingFilter {
        severity: vec![Severity::High as i32],
        ..Default::default()
    });
    let other_sort = Some(FindingSort {
        field: FindingSortField::SortByScore as i32,
        order: 0,
    });
    let truncated = &first.next_page_token[..first.next_page_token.len() - 2];
    for (token, filter, sort) in [
        (first.next_page_token.as_str(), other_filter, None),
        (first.next_page_token.as_str(), None, other_sort),
        ("zz-not-hex", None, None),
        ("01", None, None),
        (truncated, None, None),
    ] {
        match with(token, filter, sort) {
            Err(Error::InvalidArgument(m)) => assert!(m.starts_with("page_token: "), "{m}"),
            other => panic!("{token}: expected InvalidArgument, got {other:?}"),
        }
    }
    let rules = f.state.list_rules(&ListSuppressionRulesRequest {
        page_size: 1,
        page_token: first.next_page_token.clone(),
    });
    assert!(
        matches!(rules, Err(Error::InvalidArgument(_))),
        "a token from another list"
    );
}

#[test]
fn aggregations_count_active_findings_by_severity_and_sort_buckets() {
    let f = estate();
    let active: Vec<Finding> = list(
        &f,
        FindingFilter {
            status: vec![FindingStatus::Active as i32],
            ..Default::default()
        },
    );
    let agg = |aggregation: AggregationType, page_size: u32, token: String| {
        f.state
            .aggregate_findings(&AggregateFindingsRequest {
                aggregation: aggregation as i32,
                filter: None,
                page_size,
                page_token: token,
            })
            .unwrap()
    };
    let by_account = agg(AggregationType::AggregateByAccount, 100, String::new());
    assert_eq!(by_account.buckets.len(), 3);
    assert_eq!(by_account.total.unwrap().all, active.len() as u64);
    assert_eq!(by_account.total.unwrap().all, 69);
    for b in &by_account.buckets {
        let mine: Vec<&Finding> = active.iter().filter(|x| x.account_id == b.key).collect();
        let c = b.counts.unwrap();
        assert_eq!(c.all, mine.len() as u64);
        assert_eq!(
            c.critical,
            mine.iter().filter(|x| x.severity() == Severity::Critical).count() as u64
        );
        assert_eq!(
            c.low,
            mine.iter().filter(|x| x.severity() == Severity::Low).count() as u64
        );
    }
    // Paged one bucket at a time, the buckets come in (critical, high, ...) descending order.
    let mut token = String::new();
    let mut keys = Vec::new();
    let mut ranks = Vec::new();
    loop {
        let page = agg(AggregationType::AggregateByResource, 1, token);
        for b in &page.buckets {
            let c = b.counts.unwrap();
            keys.push(b.key.clone());
            ranks.push(([c.critical, c.high, c.medium, c.low, c.all], b.key.clone()));
        }
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(keys.len(), 12);
    assert_eq!(keys.iter().collect::<BTreeSet<_>>().len(), 12);
    for w in ranks.windows(2) {
        assert!(w[0].0 > w[1].0 || (w[0].0 == w[1].0 && w[0].1 < w[1].1), "{w:?}");
    }
    let by_package = agg(AggregationType::AggregateByPackage, 100, String::new());
    assert_eq!(
        by_package
            .buckets
            .iter()
            .map(|b| b.key.as_str())
            .collect::<BTreeSet<_>>(),
        ["pkg0", "pkg1", "pkg2"].into()
    );
    let by_repo = agg(AggregationType::AggregateByImageRepository, 100, String::new());
    assert_eq!(by_repo.buckets.len(), 3, "repository names are 'repo-img-<a>-'");
    let by_type = agg(AggregationType::AggregateByResourceType, 100, String::new());
    assert_eq!(by_type.buckets[0].key, "AWS_ECR_CONTAINER_IMAGE");
    let by_vuln = agg(AggregationType::AggregateByVulnerability, 100, String::new());
    assert_eq!(
        by_vuln
            .buckets
            .iter()
            .find(|b| b.key == "CVE-5")
            .unwrap()
            .counts
            .unwrap()
            .all,
        9
    );
}

#[test]
fn resources_and_coverage_list_and_count_with_filters() {
    let f = estate();
    f.run(50, remove(&["img-0-0"]));
    let list = |filter: Option<ResourceFilter>| {
        f.state
            .list_resources(&ListResourcesRequest {
                filter,
                page_size: 5,
                page_token: String::new(),
            })
            .unwrap()
    };
    let first = list(None);
    assert_eq!(first.resources.len(), 5);
    let second = f
        .state
        .list_resources(&ListResourcesRequest {
            filter: None,
            page_size: 100,
            page_token: first.next_page_token.clone(),
        })
        .unwrap();
    assert_eq!(second.resources.len(), 6, "the removed one is left out");
    assert!(second.next_page_token.is_empty());
    let removed_too = list(Some(ResourceFilter {
        include_removed: true,
        ..Default::default()
    }));
    assert_eq!(removed_too.resources[0].resource_id, "img-0-0");

    let stats = f
        .state
        .coverage_statistics(&GetCoverageStatisticsRequest {
            filter: Some(ResourceFilter {
                include_removed: true,
                ..Default::default()
            }),
            group_by: CoverageGroupBy::CoverageByReason as i32,
        })
        .unwrap();
    assert_eq!(stats.total, 12);
    let groups: Vec<(&str, u64, u64)> = stats
        .counts
        .iter()
        .map(|c| (c.group_key.as_str(), c.count, c.covered))
        .collect();
    assert_eq!(groups, vec![("RESOURCE_TERMINATED", 1, 0), ("SUCCESSFUL", 11, 11)]);
    let by_account = f
        .state
        .coverage_statistics(&GetCoverageStatisticsRequest {
            filter: Some(ResourceFilter {
                coverage_status: vec![CoverageStatus::CoverageActive as i32],
                ..Default::default()
            }),
            group_by: CoverageGroupBy::CoverageByAccount as i32,
        })
        .unwrap();
    assert_eq!(
        by_account.counts.iter().map(|c| c.count).collect::<Vec<_>>(),
        vec![3, 4, 4]
    );
}
