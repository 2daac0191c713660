//! `ingest`: findings committed per second through a three-coordinator cluster on this machine
//! (fsync on), commit latency, the failover gap after kill -9 of the leader, and snapshot
//! build / learner catch-up time and per-node RSS and disk at the final size.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use argus_proto::v1::{IngestScanResultsRequest, PutResourcesRequest, TriggerSnapshotRequest};
use argus_tests::cluster::Cluster;
use argus_tests::estate::{image, scan};
use bytes::Bytes;
use clap::Args;
use serde_json::json;

use crate::encoded;
use crate::process::{du_bytes, status_kib};

#[derive(Debug, Args)]
pub struct IngestArgs {
    /// Coordinators to start.
    #[arg(long, default_value_t = 3)]
    nodes: usize,
    /// Findings to ingest in total.
    #[arg(long, default_value_t = 1_000_000)]
    findings: u64,
    /// Findings per scan result (per artifact).
    #[arg(long, default_value_t = 40)]
    per_result: u32,
    /// Scan results per IngestScanResults request.
    #[arg(long, default_value_t = 25)]
    results_per_request: usize,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Extra `[coordinator]` configuration (TOML lines).
    #[arg(long, default_value = "")]
    config: String,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

pub fn run(args: IngestArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(run_async(args))
}

async fn run_async(args: IngestArgs) -> anyhow::Result<()> {
    crate::process::locate_argus()?;
    let mut cluster = Cluster::start(args.nodes, &args.config).await;
    let client = cluster.client();
    let artifacts = args.findings.div_ceil(args.per_result as u64);

    // Inventory first: one image per artifact.
    let puts: Vec<u64> = (0..artifacts).collect();
    for chunk in puts.chunks(5000) {
        let req = PutResourcesRequest {
            resources: chunk.iter().map(|n| image(&format!("img-{n}"), n % 2000, *n)).collect(),
        };
        client
            .retry(|c| {
                let r = req.clone();
                async move { c.inventory().put_resources(r).await }
            })
            .await
            .context("put resources")?;
    }

    // Every request is built and encoded before the clock starts (`encoded.rs`), so that the
    // cores go to the coordinators measured, not to making up their input.
    let per_request = args.results_per_request as u64;
    let requests: Arc<Vec<Bytes>> = Arc::new(
        (0..artifacts.div_ceil(per_request))
            .map(|r| {
                let results = (r * per_request..((r + 1) * per_request).min(artifacts))
                    .map(|n| scan(n, 1_700_000_000, args.per_result))
                    .collect();
                encoded::encode(&IngestScanResultsRequest { results })
            })
            .collect(),
    );

    // Ingest: `concurrency` tasks pull request numbers from a shared counter.
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..args.concurrency {
        let (client, next, requests) = (client.clone(), next.clone(), requests.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut created = 0u64;
            loop {
                let r = next.fetch_add(1, Ordering::Relaxed) as usize;
                let Some(body) = requests.get(r) else {
                    return anyhow::Ok((latencies, created));
                };
                let t = Instant::now();
                let resp = client.retry(|c| encoded::ingest(c, body.clone())).await?;
                latencies.push(t.elapsed().as_secs_f64() * 1000.0);
                created += resp.findings_created as u64;
            }
        }));
    }
    let mut latencies = Vec::new();
    let mut created = 0;
    for t in tasks {
        let (l, c) = t.await??;
        latencies.extend(l);
        created += c;
    }
    let ingest_secs = started.elapsed().as_secs_f64();
    latencies.sort_by(f64::total_cmp);
    anyhow::ensure!(
        created == artifacts * args.per_result as u64,
        "created {created} findings"
    );

    // Snapshot build on the leader at full size.
    let leader = cluster.wait_leader(None).await;
    let leader_client = cluster.client_for(leader);
    let before = cluster.status(leader).await;
    let t = Instant::now();
    leader_client
        .cluster()
        .trigger_snapshot(TriggerSnapshotRequest {})
        .await?;
    loop {
        let s = cluster.status(leader).await;
        if s.snapshot_index >= before.last_applied && s.snapshot_index != before.snapshot_index {
            break;
        }
        anyhow::ensure!(t.elapsed() < Duration::from_secs(1800), "snapshot never finished");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let snapshot_secs = t.elapsed().as_secs_f64();

    // A new learner catches up by snapshot.
    let learner = cluster.add_process();
    let t = Instant::now();
    cluster.add_learner(learner).await;
    let last = cluster.status(leader).await.last_log_index.unwrap_or(0);
    cluster.wait_applied(last).await;
    let catch_up_secs = t.elapsed().as_secs_f64();

    let mut nodes = Vec::new();
    for c in &cluster.nodes {
        let pid = c.pid().map_or_else(|| "0".to_string(), |p| p.to_string());
        nodes.push(json!({
            "node": c.id,
            "rss_mib": status_kib(&pid, "VmRSS:") / 1024,
            "peak_rss_mib": status_kib(&pid, "VmHWM:") / 1024,
            "disk_mib": du_bytes(&c.data_dir) / (1 << 20),
        }));
    }

    // Failover: kill -9 the leader under a steady writer; the gap is from the kill to the
    // first write started after it that commits.
    let old = cluster.wait_leader(None).await;
    let survivors: Vec<String> = cluster
        .nodes
        .iter()
        .filter(|c| c.id != old && c.id != learner)
        .map(|c| c.address())
        .collect();
    let writer = argus_coordinator::client::Client::new(&survivors)?;
    let probe = |n: u64| PutResourcesRequest {
        resources: vec![image(&format!("probe-{n}"), 0, n)],
    };
    writer
        .inventory()
        .put_resources(probe(0))
        .await
        .context("probe before kill")?;
    cluster.kill(old);
    let killed = Instant::now();
    let mut n = 1;
    loop {
        let req = probe(n);
        if writer
            .clone()
            .with_deadline(Duration::from_secs(1))
            .retry(|c| {
                let r = req.clone();
                async move { c.inventory().put_resources(r).await }
            })
            .await
            .is_ok()
        {
            break;
        }
        n += 1;
        if killed.elapsed() > Duration::from_secs(60) {
            anyhow::bail!(
                "no write committed within 60 s after the leader died\n{}",
                cluster.log_tails(15)
            );
        }
    }
    let failover_secs = killed.elapsed().as_secs_f64();

    let findings_per_sec = created as f64 / ingest_secs;
    let report = json!({
        "nodes": args.nodes,
        "findings": created,
        "per_result": args.per_result,
        "results_per_request": args.results_per_request,
        "concurrency": args.concurrency,
        "ingest_secs": ingest_secs,
        "findings_per_sec": findings_per_sec,
        "commit_latency_ms": { "p50": percentile(&latencies, 0.5), "p99": percentile(&latencies, 0.99) },
        "snapshot_build_secs": snapshot_secs,
        "learner_catch_up_secs": catch_up_secs,
        "failover_secs": failover_secs,
        "processes": nodes,
    });
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("findings ingested     {created} in {ingest_secs:.1} s");
        println!("findings/s            {findings_per_sec:.0}");
        println!(
            "commit latency        p50 {:.1} ms, p99 {:.1} ms (per request of {} results × {} findings)",
            percentile(&latencies, 0.5),
            percentile(&latencies, 0.99),
            args.results_per_request,
            args.per_result
        );
        println!("snapshot build        {snapshot_secs:.2} s");
        println!("learner catch-up      {catch_up_secs:.2} s");
        println!("failover gap          {failover_secs:.2} s");
        for n in report["processes"].as_array().unwrap() {
            println!(
                "node {}                RSS {} MiB (peak {} MiB), disk {} MiB",
                n["node"], n["rss_mib"], n["peak_rss_mib"], n["disk_mib"]
            );
        }
    }
    Ok(())
}
