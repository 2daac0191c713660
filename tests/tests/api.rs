//! The argus.v1 API of a single coordinator process: validation, suppression rules, health.

use argus_proto::v1::{
    DateFilter, DeleteSuppressionRuleRequest, FindingFilter, FindingStatus, GetFindingRequest, GetResourceRequest,
    IngestScanResultsRequest, ListFindingsRequest, NumberFilter, PutResourcesRequest, PutSuppressionRuleRequest,
    RemoveResourcesRequest, Resource, StringFilter, SuppressionRule,
};
use argus_tests::cluster::Cluster;
use argus_tests::estate::{image, scan};
use tonic::Code;

fn filter_vuln(id: &str) -> FindingFilter {
    FindingFilter {
        vulnerability_id: vec![StringFilter {
            comparison: 1,
            value: id.into(),
        }],
        ..Default::default()
    }
}

async fn count(client: &argus_coordinator::client::Client, filter: FindingFilter) -> usize {
    let req = ListFindingsRequest {
        filter: Some(filter),
        page_size: 1000,
        ..Default::default()
    };
    client
        .findings()
        .list_findings(req)
        .await
        .unwrap()
        .into_inner()
        .findings
        .len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_are_invalid_argument_and_apply_nothing() {
    let cluster = Cluster::start(1, "").await;
    let client = cluster.client();
    let mut bad_type = image("img-bad", 1, 1);
    bad_type.r#type = 99;
    let mut bad_digest = image("img-bad2", 1, 1);
    bad_digest.artifact_digest = "not-a-digest".into();
    let empty_id = Resource {
        resource_id: String::new(),
        ..image("x", 1, 1)
    };
    for resources in [
        vec![image("img-ok", 1, 1), bad_type],
        vec![image("img-ok", 1, 1), bad_digest],
        vec![image("img-ok", 1, 1), empty_id],
        vec![image("img-ok", 1, 1), image("img-ok", 1, 1)],
        (0..10_001).map(|n| image(&format!("img-{n}"), 1, 1)).collect(),
    ] {
        let err = client
            .inventory()
            .put_resources(PutResourcesRequest { resources })
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
        assert!(!err.message().is_empty());
    }
    let err = client
        .inventory()
        .get_resource(GetResourceRequest {
            resource_id: "img-ok".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound, "nothing of the refused batches was applied");

    for req in [
        ListFindingsRequest {
            page_token: "garbage".into(),
            ..Default::default()
        },
        ListFindingsRequest {
            page_size: 100_000,
            ..Default::default()
        },
        ListFindingsRequest {
            filter: Some(FindingFilter {
                score: Some(NumberFilter {
                    lower_inclusive: Some(9.0),
                    upper_inclusive: Some(1.0),
                }),
                ..Default::default()
            }),
            ..Default::default()
        },
        ListFindingsRequest {
            filter: Some(FindingFilter {
                first_observed_at: Some(DateFilter {
                    start_inclusive: Some(prost_types::Timestamp { seconds: 20, nanos: 0 }),
                    end_inclusive: Some(prost_types::Timestamp { seconds: 10, nanos: 0 }),
                }),
                ..Default::default()
            }),
            ..Default::default()
        },
        ListFindingsRequest {
            filter: Some(FindingFilter {
                severity: vec![42],
                ..Default::default()
            }),
            ..Default::default()
        },
    ] {
        let err = client.findings().list_findings(req).await.unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suppression_rule_holds_existing_and_later_findings_until_deleted() {
    let cluster = Cluster::start(1, "").await;
    let client = cluster.client();
    client
        .inventory()
        .put_resources(PutResourcesRequest {
            resources: vec![image("img-1", 1, 1), image("img-2", 2, 2)],
        })
        .await
        .unwrap();
    client
        .findings()
        .ingest_scan_results(IngestScanResultsRequest {
            results: vec![scan(1, 1_700_000_000, 3)],
        })
        .await
        .unwrap();
    let rule = SuppressionRule {
        name: "accepted-risk".into(),
        filter: Some(filter_vuln("CVE-2024-00001")),
        reason: "not reachable".into(),
        owner: "secops".into(),
        ..Default::default()
    };
    let put = client
        .suppression()
        .put_suppression_rule(PutSuppressionRuleRequest { rule: Some(rule) })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(put.findings_suppressed, 1);
    // A finding that appears later on another resource is suppressed as it is created.
    client
        .findings()
        .ingest_scan_results(IngestScanResultsRequest {
            results: vec![scan(2, 1_700_000_000, 3)],
        })
        .await
        .unwrap();
    let suppressed = FindingFilter {
        status: vec![FindingStatus::Suppressed as i32],
        ..Default::default()
    };
    assert_eq!(count(&client, suppressed.clone()).await, 2);

    let deleted = client
        .suppression()
        .delete_suppression_rule(DeleteSuppressionRuleRequest {
            name: "accepted-risk".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(deleted.findings_restored, 2);
    assert_eq!(count(&client, suppressed).await, 0);
    let err = client
        .suppression()
        .delete_suppression_rule(DeleteSuppressionRuleRequest {
            name: "accepted-risk".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);

    // Removing a resource closes its findings; the ids stay.
    client
        .inventory()
        .remove_resources(RemoveResourcesRequest {
            resource_ids: vec!["img-1".into()],
        })
        .await
        .unwrap();
    let closed = FindingFilter {
        status: vec![FindingStatus::Closed as i32],
        ..Default::default()
    };
    assert_eq!(count(&client, closed).await, 3);
    let id = argus_proto::finding_id(
        &argus_tests::estate::account(1),
        "img-1",
        "CVE-2024-00000",
        "pkg0",
        "app/package-lock.json",
    );
    let f = client
        .findings()
        .get_finding(GetFindingRequest { finding_id: id })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(f.finding.unwrap().status, FindingStatus::Closed as i32);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_reports_serving() {
    use tonic_health::pb::health_client::HealthClient;
    use tonic_health::pb::HealthCheckRequest;
    let cluster = Cluster::start(1, "").await;
    let mut health = HealthClient::new(cluster.client().channel());
    let r = health
        .check(HealthCheckRequest { service: String::new() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.status, 1, "SERVING");
    let r = health
        .check(HealthCheckRequest {
            service: "argus.v1.FindingsService".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.status, 1, "SERVING");
}

/// `argus cluster` end to end: one node initialized alone, a second added as a learner,
/// promoted to voter, reported by `status` from either node, then removed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_cli_grows_and_shrinks_the_membership() {
    use argus_tests::{argus_bin, run_ok};
    let mut cluster = Cluster::new("");
    let a = cluster.add_process();
    let b = cluster.add_process();
    let addr = |id: u64| cluster.nodes.iter().find(|c| c.id == id).unwrap().address();
    let (addr_a, addr_b) = (addr(a), addr(b));
    let cli = |args: &[&str]| {
        let mut cmd = std::process::Command::new(argus_bin());
        cmd.arg("cluster")
            .arg("--addr")
            .arg(format!("{addr_a},{addr_b}"))
            .args(args);
        run_ok(&mut cmd)
    };
    cli(&["init", "--member", &format!("{a}={addr_a}")]);
    cli(&["add-learner", "--node-id", &b.to_string(), "--address", &addr_b]);
    cli(&["promote", "--node-id", &b.to_string()]);
    let status: serde_json::Value = serde_json::from_str(&cli(&["status", "--json"])).unwrap();
    let roles: Vec<(u64, String)> = status["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["nodeId"].as_u64().unwrap(), m["role"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(
        roles,
        vec![(a, "VOTER".to_string()), (b, "VOTER".to_string())],
        "{status}"
    );
    assert_eq!(status["leaderId"].as_u64(), Some(a));
    cli(&["remove", "--node-id", &b.to_string()]);
    let status: serde_json::Value = serde_json::from_str(&cli(&["status", "--json"])).unwrap();
    assert_eq!(status["members"].as_array().unwrap().len(), 1, "{status}");
}
