//! The scenarios, in order: initial, steady, advisory, leader-kill, worker-scale. Each returns
//! its figures as JSON, including the verdict of the comparison that follows it.

use std::time::{Duration, Instant};

use anyhow::Context;
use argus_coordinator::client::Client;
use argus_proto::v1::{
    CoverageGroupBy, GetCoverageStatisticsRequest, GetPipelineStatusRequest, GetPipelineStatusResponse,
    PutResourcesRequest,
};
use futures::StreamExt;
use serde_json::{json, Map, Value};

use super::feed::Feed;
use super::model::Estate;
use super::procs::{build_db, Procs};
use super::report::spread;
use super::verify::{self, Verdict};
use super::{Engine, EstateArgs, Scenario, VerifyMode};

struct Run<'a> {
    args: &'a EstateArgs,
    procs: Procs,
    estate: Estate,
    feed: Feed,
    timeout: Duration,
    verdicts: Vec<Verdict>,
}

fn secs(a: Instant, b: Instant) -> f64 {
    b.duration_since(a).as_secs_f64().max(1e-6)
}

pub async fn run(args: &EstateArgs) -> anyhow::Result<Value> {
    let tmp;
    let work = match &args.work_dir {
        Some(d) => {
            std::fs::create_dir_all(d)?;
            d.clone()
        }
        None => {
            tmp = tempfile::tempdir()?;
            tmp.path().to_path_buf()
        }
    };
    let artifacts = args.artifacts.unwrap_or(args.resources / 10).max(1);
    let procs = Procs::start(args, &work).await?;
    let client = procs.client()?;
    let feed = Feed::start(client);
    let mut run = Run {
        args,
        procs,
        estate: {
            let mut e = Estate::new(args.accounts, args.regions, artifacts, args.zipf, args.packages);
            if args.engine == Engine::Real {
                e.rootfs = Some(work.join("artifacts"));
            }
            e
        },
        feed,
        timeout: Duration::from_secs(args.timeout_secs),
        verdicts: Vec::new(),
    };
    let mut scenarios = Map::new();
    let wanted = |s: Scenario| args.scenario == Scenario::All || args.scenario == s;
    let result = async {
        scenarios.insert("initial".into(), run.initial().await.context("initial")?);
        if wanted(Scenario::Steady) {
            scenarios.insert("steady".into(), run.steady().await.context("steady")?);
        }
        if wanted(Scenario::Advisory) {
            scenarios.insert("advisory".into(), run.advisory().await.context("advisory")?);
        }
        if wanted(Scenario::LeaderKill) {
            scenarios.insert("leader_kill".into(), run.leader_kill().await.context("leader-kill")?);
        }
        if wanted(Scenario::WorkerScale) {
            scenarios.insert("worker_scale".into(), run.worker_scale().await.context("worker-scale")?);
        }
        anyhow::Ok(())
    }
    .await;
    if let Err(e) = result {
        anyhow::bail!("{e:#}\n{}", run.procs.log_tails());
    }
    let (feed_duplicates, resubscribed) = run.feed.duplicates();
    let lost: u64 = run.verdicts.iter().map(|v| v.lost).sum();
    let duplicated: u64 = run.verdicts.iter().map(|v| v.duplicated).sum();
    let exact = run.verdicts.iter().all(Verdict::exact) && feed_duplicates == 0;
    Ok(json!({
        "parameters": {
            "accounts": args.accounts, "regions": args.regions, "resources": args.resources,
            "artifacts_pool": artifacts, "zipf": args.zipf, "packages": args.packages,
            "workers": args.workers, "concurrency": args.concurrency, "scan_ms": args.scan_ms,
            "engine": format!("{:?}", args.engine).to_lowercase(),
            "coordinators": match (run.procs.up.is_some(), run.procs.managed()) {
                (true, _) => json!("embedded"),
                (false, true) => json!(args.coordinators),
                (false, false) => json!("external"),
            },
            "dispatch_window": args.dispatch_window,
        },
        "scenarios": scenarios,
        "processes": run.procs.resources(),
        "lost": lost,
        "duplicated": duplicated,
        "feed_duplicates": feed_duplicates,
        "feed_resubscribed": resubscribed,
        "artifacts_written": run.estate.artifacts_written(),
        "exact": exact,
    }))
}

async fn status(client: &Client) -> anyhow::Result<GetPipelineStatusResponse> {
    Ok(client
        .retry(|c| async move { c.scans().get_pipeline_status(GetPipelineStatusRequest {}).await })
        .await?)
}

/// Resources known, and those whose coverage is SUCCESSFUL (their findings committed).
async fn successful(client: &Client) -> anyhow::Result<(u64, u64)> {
    let req = GetCoverageStatisticsRequest {
        filter: None,
        group_by: CoverageGroupBy::CoverageByReason as i32,
    };
    let r = client
        .retry(|c| {
            let r = req.clone();
            async move { c.coverage().get_coverage_statistics(r).await }
        })
        .await?;
    let ok = r
        .counts
        .iter()
        .filter(|c| c.group_key == "SUCCESSFUL")
        .map(|c| c.count)
        .sum();
    Ok((r.total, ok))
}

impl Run<'_> {
    fn client(&self) -> anyhow::Result<Client> {
        self.procs.client()
    }

    fn verify_mode(&self) -> VerifyMode {
        self.args.verify.unwrap_or(if self.estate.len <= 200_000 {
            VerifyMode::Full
        } else {
            VerifyMode::Counts
        })
    }

    /// Compares the findings on the node `client` reaches with the expected ones.
    async fn verify(&mut self, client: &Client) -> anyhow::Result<Value> {
        let v = match self.verify_mode() {
            VerifyMode::Full => verify::full(client, &self.estate).await?,
            VerifyMode::Counts => verify::counts(client, &self.estate).await?,
        };
        let out = v.json();
        self.verdicts.push(v);
        Ok(out)
    }

    /// Puts resources `indices` in batches, `put_concurrency` in flight, each retried until
    /// acknowledged; the feed starts waiting for each as its batch is sent.
    async fn put(&self, indices: Vec<u64>) -> anyhow::Result<()> {
        self.estate.write_artifacts(indices.iter().copied())?;
        let client = self.client()?;
        let batches: Vec<Vec<u64>> = indices.chunks(self.args.batch.max(1)).map(<[u64]>::to_vec).collect();
        let results: Vec<anyhow::Result<()>> = futures::stream::iter(batches)
            .map(|b| {
                let client = client.clone();
                let req = PutResourcesRequest {
                    resources: b.iter().map(|i| self.estate.resource(*i)).collect(),
                };
                self.feed.expect(
                    b.iter()
                        .filter(|i| self.estate.has_findings(**i))
                        .map(|i| self.estate.resource_id(*i)),
                );
                async move {
                    client
                        .retry(|c| {
                            let r = req.clone();
                            async move { c.inventory().put_resources(r).await }
                        })
                        .await?;
                    Ok(())
                }
            })
            .buffer_unordered(self.args.put_concurrency.max(1))
            .collect()
            .await;
        results.into_iter().collect()
    }

    /// Waits until every resource is SUCCESSFUL, nothing is in flight and the feed has seen a
    /// change of every resource it waits for; returns when coverage was first complete.
    async fn settle(&self, what: &str) -> anyhow::Result<Instant> {
        let client = self.client()?;
        let start = Instant::now();
        let mut covered_at = None;
        loop {
            let (total, ok) = successful(&client).await?;
            let st = status(&client).await?;
            if covered_at.is_none() && total == self.estate.len && ok == total {
                covered_at = Some(Instant::now());
            }
            if covered_at.is_some() && st.in_flight == 0 && self.feed.waiting() == 0 {
                break;
            }
            anyhow::ensure!(
                start.elapsed() < self.timeout,
                "{what}: {ok} of {total} resources covered ({} expected), {} waiting on the feed, {st:?}",
                self.estate.len,
                self.feed.waiting()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        // The feed consumer has the last changes once its cursor stops moving.
        let mut last = self.feed.cursor();
        loop {
            tokio::time::sleep(Duration::from_millis(500)).await;
            let now = self.feed.cursor();
            if now == last {
                break;
            }
            last = now;
        }
        Ok(covered_at.expect("set before the loop ends"))
    }

    async fn initial(&mut self) -> anyhow::Result<Value> {
        let client = self.client()?;
        let base = status(&client).await?;
        let n = self.args.resources;
        self.estate.len = n;
        let artifacts = self.estate.distinct_artifacts().len() as u64;
        self.feed.take();
        let t0 = Instant::now();
        let (put_done, sampled) = {
            let put = self.put((0..n).collect());
            let sampler = sample_progress(&client, base.clone(), artifacts, n, self.timeout);
            tokio::pin!(put, sampler);
            let mut put_done = None;
            loop {
                tokio::select! {
                    r = &mut put, if put_done.is_none() => { r?; put_done = Some(Instant::now()); }
                    s = &mut sampler => break (put_done, s?),
                }
            }
        };
        let put_done = match put_done {
            Some(t) => t,
            None => Instant::now(),
        };
        let covered = self.settle("initial scan").await?;
        let st = status(&client).await?;
        let mut f = self.feed.take();
        let verdict = self.verify(&client).await?;
        let findings = verdict["found"].as_u64().unwrap_or(0);
        Ok(json!({
            "seconds": secs(t0, covered),
            "resources": n,
            "artifacts": artifacts,
            "findings": findings,
            "resources_put_per_s": n as f64 / secs(t0, put_done),
            "resources_scheduled_per_s": n as f64 / secs(t0, sampled.all_dispatched),
            "jobs_per_s": (st.results_applied - base.results_applied) as f64 / secs(sampled.first_result, covered),
            "findings_per_s": findings as f64 / secs(t0, covered),
            "jobs_retried": st.jobs_retried - base.jobs_retried,
            "end_to_end_ms": spread(&mut f.latency_ms),
            "feed_lag_ms": spread(&mut f.lag_ms),
            "feed_changes": f.changes,
            "verdict": verdict,
        }))
    }

    async fn steady(&mut self) -> anyhow::Result<Value> {
        let client = self.client()?;
        let base = status(&client).await?;
        let per_sec = (self.estate.len as f64 * self.args.change_percent / 100.0 / 60.0).max(1.0);
        self.feed.take();
        let t0 = Instant::now();
        let mut changed = 0u64;
        let mut owed = 0.0;
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        let mut step = 0u64;
        while t0.elapsed() < Duration::from_secs(self.args.steady_secs) {
            tick.tick().await;
            owed += per_sec;
            let k = owed.floor() as u64;
            owed -= k as f64;
            let picks: Vec<u64> = (0..k)
                .map(|j| (step.wrapping_mul(0x9e37_79b9).wrapping_add(j * 7919 + 13)) % self.estate.len)
                .collect();
            for i in &picks {
                self.estate.change(*i);
            }
            changed += picks.len() as u64;
            step += 1;
            self.put(picks).await?;
        }
        let put_secs = t0.elapsed().as_secs_f64();
        let settled = self.settle("steady changes").await?;
        let st = status(&client).await?;
        let mut f = self.feed.take();
        let verdict = self.verify(&client).await?;
        let jobs = st.results_applied - base.results_applied;
        Ok(json!({
            "seconds": put_secs,
            "changed": changed,
            "changes_per_minute_percent": self.args.change_percent,
            "resources_put_per_s": changed as f64 / put_secs,
            "jobs_per_s": jobs as f64 / secs(t0, settled),
            "end_to_end_ms": spread(&mut f.latency_ms),
            "feed_lag_ms": spread(&mut f.lag_ms),
            "feed_changes": f.changes,
            "verdict": verdict,
        }))
    }

    async fn advisory(&mut self) -> anyhow::Result<Value> {
        let client = self.client()?;
        let percent = self.args.advisory_percent;
        // Versions are stamped to the second; the baseline was built before the cluster started.
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let (db, version) = build_db(&self.procs.work, Some(percent))?;
        let holders = self
            .estate
            .distinct_artifacts()
            .iter()
            .filter(|d| argus_worker::synthetic::marker(d) < percent)
            .count() as u64;
        let base = status(&client).await?;
        self.feed.take();
        let t0 = Instant::now();
        self.procs.publish(&db)?;
        let (queued, rematched) = loop {
            let st = status(&client).await?;
            if st.reevaluated_db_version == version {
                break (Instant::now(), st.reevaluation_rematched);
            }
            anyhow::ensure!(t0.elapsed() < self.timeout, "re-evaluation never queued: {st:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let done = loop {
            let st = status(&client).await?;
            if st.results_applied >= base.results_applied + rematched && st.in_flight == 0 {
                break Instant::now();
            }
            anyhow::ensure!(t0.elapsed() < self.timeout, "re-matches not all committed: {st:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        self.estate.marker_percent = percent;
        self.settle("re-evaluation").await?;
        let mut f = self.feed.take();
        let verdict = self.verify(&client).await?;
        Ok(json!({
            "seconds": secs(t0, done),
            "advisory_percent": percent,
            "db_version": version,
            "rematched": rematched,
            "rematched_expected": holders,
            "queued_s": secs(t0, queued),
            "jobs_per_s": rematched as f64 / secs(queued, done),
            "new_findings_expected": verdict["marker_expected"],
            "new_findings": verdict["marker_found"],
            "findings_per_s": verdict["marker_found"].as_u64().unwrap_or(0) as f64 / secs(t0, done),
            "feed_lag_ms": spread(&mut f.lag_ms),
            "feed_changes": f.changes,
            "verdict": verdict,
        }))
    }

    async fn leader_kill(&mut self) -> anyhow::Result<Value> {
        if !self.procs.managed() {
            return Ok(json!({"skipped": "needs the processes started here"}));
        }
        let batch = self.args.kill_batch.unwrap_or(self.args.resources / 10).max(100);
        let start = self.estate.len;
        self.estate.len += batch;
        let indices: Vec<u64> = (start..start + batch).collect();
        self.estate.write_artifacts(indices.iter().copied())?;
        // Embedded, the one process is killed and started again on its data directory: the
        // in-process queue and whatever it held are lost, the Raft log is not.
        let (leader, survivors) = match &self.procs.cluster {
            Some(cluster) => {
                let leader = cluster.wait_leader(None).await;
                let survivors: Vec<String> = cluster
                    .nodes
                    .iter()
                    .filter(|c| c.id != leader && c.is_running())
                    .map(|c| c.address())
                    .collect();
                (leader, survivors)
            }
            None => (1, self.procs.addresses()),
        };
        let client = Client::new(&survivors)?;
        let base = status(&client).await?;
        self.feed.take();
        let t0 = Instant::now();
        // Small batches, so that the kill falls between many of them.
        let acked = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let chunk = (batch as usize / 30).clamp(10, 1000);
        let batches: Vec<Vec<u64>> = indices.chunks(chunk).map(<[u64]>::to_vec).collect();
        let total_batches = batches.len() as u64;
        let put = {
            let requests: Vec<(PutResourcesRequest, Vec<String>)> = batches
                .iter()
                .map(|b| {
                    let req = PutResourcesRequest {
                        resources: b.iter().map(|i| self.estate.resource(*i)).collect(),
                    };
                    let expect = b
                        .iter()
                        .filter(|i| self.estate.has_findings(**i))
                        .map(|i| self.estate.resource_id(*i))
                        .collect();
                    (req, expect)
                })
                .collect();
            let feed = self.feed.clone();
            let client = Client::new(&self.procs.addresses())?;
            let acked = acked.clone();
            tokio::spawn(async move {
                for (req, expect) in requests {
                    feed.expect(expect);
                    client
                        .retry(|c| {
                            let r = req.clone();
                            async move { c.inventory().put_resources(r).await }
                        })
                        .await?;
                    acked.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
                anyhow::Ok(())
            })
        };
        // Kill once a third of the puts are acknowledged and results of them are being
        // ingested, with puts still going.
        loop {
            let st = status(&client).await?;
            let done = acked.load(std::sync::atomic::Ordering::Relaxed);
            if (done * 3 >= total_batches && st.results_applied > base.results_applied) || put.is_finished() {
                break;
            }
            anyhow::ensure!(t0.elapsed() < self.timeout, "no result ingested: {st:?}");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let acked_at_kill = acked.load(std::sync::atomic::Ordering::Relaxed);
        let probe = PutResourcesRequest {
            resources: vec![self.estate.resource(0)],
        };
        let killed = Instant::now();
        match (self.procs.cluster.as_mut(), self.procs.up.as_mut()) {
            (Some(cluster), _) => cluster.kill(leader),
            (None, Some(up)) => {
                up.kill();
                up.restart();
            }
            (None, None) => unreachable!("managed"),
        }
        // The failover gap: from the kill to the first write committed after it.
        loop {
            let ok = client
                .clone()
                .with_deadline(Duration::from_secs(1))
                .inventory()
                .put_resources(probe.clone())
                .await
                .is_ok();
            if ok {
                break;
            }
            anyhow::ensure!(
                killed.elapsed() < Duration::from_secs(120),
                "no write committed after the kill"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let gap = killed.elapsed().as_secs_f64();
        put.await??;
        let covered = self.settle("ingestion after the leader's death").await?;
        let mut f = self.feed.take();
        let new_leader = cluster_leader(&self.procs).await;
        let verdict = self.verify(&client).await?;
        // The killed node comes back, catches up and holds the same findings.
        let verdict_restarted = match self.procs.cluster.as_mut() {
            Some(cluster) => {
                cluster.restart(leader);
                let last = cluster.status(new_leader).await.last_log_index.unwrap_or(0);
                cluster.wait_applied(last).await;
                let restarted = cluster.client_for(leader);
                self.verify(&restarted).await?
            }
            None => json!("the embedded process is the restarted node"),
        };
        Ok(json!({
            "seconds": secs(t0, covered),
            "new_resources": batch,
            "killed_leader": leader,
            "new_leader": new_leader,
            "put_batches": total_batches,
            "put_batches_acked_at_kill": acked_at_kill,
            "failover_gap_s": gap,
            "end_to_end_ms": spread(&mut f.latency_ms),
            "feed_lag_ms": spread(&mut f.lag_ms),
            "feed_changes": f.changes,
            "verdict": verdict,
            "verdict_restarted_node": verdict_restarted,
        }))
    }

    async fn worker_scale(&mut self) -> anyhow::Result<Value> {
        if !self.procs.managed() {
            return Ok(json!({"skipped": "needs the processes started here"}));
        }
        if self.procs.up.is_some() {
            return Ok(json!({"skipped": "embedded: the workers are tasks of the one process (--workers)"}));
        }
        let client = self.client()?;
        let mut steps = Vec::new();
        let mut w = 1;
        let t_all = Instant::now();
        loop {
            self.procs.set_workers(w);
            let jobs = self.args.scale_jobs.max(1);
            let start = self.estate.len;
            self.estate.len += jobs;
            // A fresh artifact each: every resource is one job.
            for i in start..start + jobs {
                self.estate.change(i);
            }
            let base = status(&client).await?;
            self.put((start..start + jobs).collect()).await?;
            let mut first = None;
            let last = loop {
                let st = status(&client).await?;
                let applied = st.results_applied - base.results_applied;
                if first.is_none() && applied > 0 {
                    first = Some((Instant::now(), applied));
                }
                if applied >= jobs {
                    break Instant::now();
                }
                anyhow::ensure!(t_all.elapsed() < self.timeout, "{w} workers: {applied} of {jobs} jobs");
                tokio::time::sleep(Duration::from_millis(50)).await;
            };
            let (first, before) = first.expect("set when applied > 0");
            steps.push(json!({
                "workers": w,
                "jobs": jobs,
                "seconds": secs(first, last),
                "jobs_per_s": (jobs - before) as f64 / secs(first, last),
            }));
            if w >= self.args.workers {
                break;
            }
            w = (w * 2).min(self.args.workers);
        }
        self.settle("worker scale").await?;
        self.feed.take();
        let verdict = self.verify(&client).await?;
        Ok(json!({ "steps": steps, "verdict": verdict }))
    }
}

async fn cluster_leader(procs: &Procs) -> u64 {
    match &procs.cluster {
        Some(c) => c.wait_leader(None).await,
        None => 0,
    }
}

struct Progress {
    all_dispatched: Instant,
    first_result: Instant,
}

/// Samples the pipeline until every artifact was dispatched and every resource is covered.
async fn sample_progress(
    client: &Client,
    base: GetPipelineStatusResponse,
    artifacts: u64,
    resources: u64,
    timeout: Duration,
) -> anyhow::Result<Progress> {
    let start = Instant::now();
    let (mut all_dispatched, mut first_result) = (None, None);
    loop {
        let st = status(client).await?;
        let now = Some(Instant::now());
        if all_dispatched.is_none() && st.jobs_dispatched - base.jobs_dispatched >= artifacts {
            all_dispatched = now;
        }
        if first_result.is_none() && st.results_applied > base.results_applied {
            first_result = now;
        }
        if let (Some(d), Some(f)) = (all_dispatched, first_result) {
            let (total, ok) = successful(client).await?;
            if total >= resources && ok >= resources {
                return Ok(Progress {
                    all_dispatched: d,
                    first_result: f,
                });
            }
        }
        anyhow::ensure!(start.elapsed() < timeout, "initial scan incomplete: {st:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
