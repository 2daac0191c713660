//! Coordinator clusters of real `argus coordinator` processes on loopback: leader crashes,
//! learners catching up by snapshot, and the feed resumed on another node.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use argus_coordinator::client::Client;
use argus_proto::v1::{
    FindingChange, FindingFilter, FindingStatus, IngestScanResultsRequest, ListFindingsRequest, ListResourcesRequest,
    PutResourcesRequest, ResourceFilter, SubscribeRequest,
};
use argus_tests::cluster::{all_findings, Cluster};
use argus_tests::estate::{image, scan};
use futures::StreamExt;

/// Puts one image resource and its scan (`vulns` findings); both are idempotent, so the
/// client may retry them across a leader change.
async fn put_scanned(client: &Client, n: u64, vulns: u32) -> Result<(), tonic::Status> {
    let resources = PutResourcesRequest {
        resources: vec![image(&format!("img-{n}"), n % 10, n)],
    };
    client
        .retry(|c| {
            let r = resources.clone();
            async move { c.inventory().put_resources(r).await }
        })
        .await?;
    let results = IngestScanResultsRequest {
        results: vec![scan(n, 1_700_000_000, vulns)],
    };
    client
        .retry(|c| {
            let r = results.clone();
            async move { c.findings().ingest_scan_results(r).await }
        })
        .await?;
    Ok(())
}

async fn all_resource_ids(client: &Client) -> Vec<String> {
    let mut out = Vec::new();
    let mut token = String::new();
    loop {
        let req = ListResourcesRequest {
            filter: Some(ResourceFilter::default()),
            page_size: 1000,
            page_token: token.clone(),
        };
        let page = client
            .retry(|c| {
                let r = req.clone();
                async move { c.inventory().list_resources(r).await }
            })
            .await
            .unwrap();
        out.extend(page.resources.into_iter().map(|r| r.resource_id));
        if page.next_page_token.is_empty() {
            return out;
        }
        token = page.next_page_token;
    }
}

/// The whole retained change log of one node, read through the feed.
async fn change_log(client: &Client, after: u64) -> Vec<FindingChange> {
    let req = SubscribeRequest {
        after_cursor: after,
        filter: None,
        backlog_only: true,
    };
    let mut stream = client.feed().subscribe(req).await.expect("subscribe").into_inner();
    let mut out = Vec::new();
    while let Some(msg) = stream.next().await {
        out.push(msg.expect("feed message").change.expect("change"));
    }
    out
}

fn fingerprint(log: &[FindingChange]) -> Vec<(u64, i32, String, i32)> {
    log.iter()
        .map(|c| {
            let f = c.finding.as_ref().unwrap();
            (c.cursor, c.kind, f.finding_id.clone(), f.status)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t01_leader_kill_loses_no_acknowledged_write() {
    let mut cluster = Cluster::start(3, "").await;
    let client = cluster.client();
    let acked: Arc<Mutex<BTreeSet<u64>>> = Default::default();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));

    // Four writers, each writing its own resources until told to stop.
    let mut writers = Vec::new();
    for w in 0..4u64 {
        let (client, acked, stop) = (client.clone(), acked.clone(), stop.clone());
        writers.push(tokio::spawn(async move {
            let mut n = w;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                if put_scanned(&client, n, 5).await.is_ok() {
                    acked.lock().unwrap().insert(n);
                }
                n += 4;
            }
        }));
    }
    let wait_acked = |count: usize| {
        let acked = acked.clone();
        async move {
            let start = Instant::now();
            while acked.lock().unwrap().len() < count {
                assert!(start.elapsed() < Duration::from_secs(120), "writes stalled at {count}");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    };
    wait_acked(100).await;
    let old = cluster.wait_leader(None).await;
    cluster.kill(old);
    let killed_at = acked.lock().unwrap().len();
    let new = cluster.wait_leader(Some(old)).await;
    assert_ne!(new, old);
    wait_acked(killed_at + 100).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for w in writers {
        w.await.unwrap();
    }
    cluster.restart(old);

    let acked = acked.lock().unwrap().clone();
    let last = cluster.status(new).await.last_log_index.unwrap();
    cluster.wait_applied(last).await;
    let mut logs = Vec::new();
    for id in 1..=3 {
        let c = cluster.client_for(id);
        let resources: BTreeSet<String> = all_resource_ids(&c).await.into_iter().collect();
        for n in &acked {
            assert!(
                resources.contains(&format!("img-{n}")),
                "node {id} lost acknowledged resource img-{n}"
            );
        }
        let findings = all_findings(&c).await;
        assert!(
            findings.len() >= acked.len() * 5,
            "node {id}: {} findings for {} scans",
            findings.len(),
            acked.len()
        );
        assert!(findings.values().all(|s| *s == FindingStatus::Active as i32));
        logs.push(fingerprint(&change_log(&c, 0).await));
    }
    assert_eq!(logs[0], logs[1], "change logs of node 1 and 2 differ");
    assert_eq!(logs[0], logs[2], "change logs of node 1 and 3 differ");
    let cursors: Vec<u64> = logs[0].iter().map(|x| x.0).collect();
    assert_eq!(
        cursors,
        (1..=cursors.len() as u64).collect::<Vec<_>>(),
        "cursors are gapless"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t02_learner_added_after_100k_findings_catches_up_by_snapshot() {
    let mut cluster = Cluster::start(3, "snapshot_every_entries = 20\nsnapshot_keep_log_entries = 0").await;
    let client = cluster.client();
    // 2,000 images × 50 vulnerabilities = 100,000 findings, in requests of 50 results.
    let mut puts = Vec::new();
    for chunk in (0..2000u64).collect::<Vec<_>>().chunks(100) {
        let resources = chunk.iter().map(|n| image(&format!("img-{n}"), n % 10, *n)).collect();
        puts.push(PutResourcesRequest { resources });
    }
    for req in puts {
        client
            .retry(|c| {
                let r = req.clone();
                async move { c.inventory().put_resources(r).await }
            })
            .await
            .unwrap();
    }
    let mut tasks = Vec::new();
    for chunk in (0..2000u64).collect::<Vec<_>>().chunks(50) {
        let req = IngestScanResultsRequest {
            results: chunk.iter().map(|n| scan(*n, 1_700_000_000, 50)).collect(),
        };
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            client
                .retry(|c| {
                    let r = req.clone();
                    async move { c.findings().ingest_scan_results(r).await }
                })
                .await
                .unwrap()
        }));
    }
    let mut created = 0;
    for t in tasks {
        created += t.await.unwrap().findings_created;
    }
    assert_eq!(created, 100_000);

    let leader = cluster.wait_leader(None).await;
    let status = cluster.status(leader).await;
    assert!(
        status.purged_index.is_some(),
        "the leader purged its log behind a snapshot: {status:?}"
    );

    let learner = cluster.add_process();
    cluster.add_learner(learner).await;
    let last = cluster.status(leader).await.last_log_index.unwrap();
    cluster.wait_applied(last).await;
    let learned = cluster.status(learner).await;
    assert!(
        learned.snapshot_index.is_some(),
        "the learner installed a snapshot: {learned:?}"
    );

    let expected = all_findings(&cluster.client_for(leader)).await;
    assert_eq!(expected.len(), 100_000);
    assert_eq!(all_findings(&cluster.client_for(learner)).await, expected);
    // The same query, page by page, answers the same on both.
    for sort in [2, 3, 5] {
        let req = ListFindingsRequest {
            sort: Some(argus_proto::v1::FindingSort { field: sort, order: 2 }),
            page_size: 500,
            filter: Some(FindingFilter {
                severity: vec![5, 4],
                ..Default::default()
            }),
            ..Default::default()
        };
        let a = cluster
            .client_for(leader)
            .findings()
            .list_findings(req.clone())
            .await
            .unwrap()
            .into_inner();
        let b = cluster
            .client_for(learner)
            .findings()
            .list_findings(req)
            .await
            .unwrap()
            .into_inner();
        assert_eq!(a, b, "sort {sort}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t03_feed_switched_to_another_node_is_gapless_and_duplicate_free() {
    let cluster = Cluster::start(3, "").await;
    let client = cluster.client();
    for n in 0..50 {
        put_scanned(&client, n, 4).await.unwrap();
    }
    // Keep writing while the consumer switches nodes.
    let writer = {
        let client = client.clone();
        tokio::spawn(async move {
            for n in 50..150 {
                put_scanned(&client, n, 4).await.unwrap();
            }
        })
    };
    let mut seen: Vec<u64> = Vec::new();
    let req = SubscribeRequest {
        after_cursor: 0,
        filter: None,
        backlog_only: false,
    };
    let mut on_a = cluster.client_for(1).feed().subscribe(req).await.unwrap().into_inner();
    while seen.len() < 150 {
        let c = on_a.next().await.unwrap().unwrap().change.unwrap();
        seen.push(c.cursor);
    }
    drop(on_a);
    let cursor = *seen.last().unwrap();
    let req = SubscribeRequest {
        after_cursor: cursor,
        filter: None,
        backlog_only: false,
    };
    let mut on_b = cluster.client_for(2).feed().subscribe(req).await.unwrap().into_inner();
    writer.await.unwrap();
    let total = 150 * 4;
    while seen.len() < total {
        let c = tokio::time::timeout(Duration::from_secs(30), on_b.next())
            .await
            .expect("feed stalled");
        seen.push(c.unwrap().unwrap().change.unwrap().cursor);
    }
    assert_eq!(seen, (1..=total as u64).collect::<Vec<_>>());
    let last = cluster.status(1).await.last_log_index.unwrap();
    cluster.wait_applied(last).await;
    let log = change_log(&cluster.client_for(3), 0).await;
    assert_eq!(log.iter().map(|c| c.cursor).collect::<Vec<_>>(), seen);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t04_expired_cursor_is_failed_precondition() {
    let cluster = Cluster::start(
        1,
        "change_log_retention_secs = 0\nchange_log_keep_last = 10\nchange_log_compact_interval_secs = 1",
    )
    .await;
    let client = cluster.client();
    for n in 0..10 {
        put_scanned(&client, n, 3).await.unwrap();
    }
    let start = Instant::now();
    loop {
        let status = cluster.status(1).await;
        if status.change_log_first > 1 && status.change_log_last + 1 - status.change_log_first == 10 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "change log never compacted: {status:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let req = SubscribeRequest {
        after_cursor: 1,
        filter: None,
        backlog_only: true,
    };
    let err = match client.feed().subscribe(req).await {
        Err(e) => e,
        Ok(s) => s
            .into_inner()
            .next()
            .await
            .unwrap()
            .expect_err("expired cursor must fail"),
    };
    assert_eq!(err.code(), tonic::Code::FailedPrecondition, "{err:?}");
    assert!(err.message().contains("resync"), "{err:?}");
    // The retained tail still streams.
    let first = cluster.status(1).await.change_log_first;
    assert_eq!(change_log(&client, first - 1).await.len(), 10);
}
