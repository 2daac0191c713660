//! The scheduler's replicated state: artifacts tracked from their resources, jobs recorded
//! before they are published, retries, expiry, backoff and on-demand scans.

use argus_proto::internal::v1::{
    Dispatch, DispatchJobs, DispatchJobsResponse, ExpireJobs, ExpiredJob, JobKind, RequestScans, RequestScansResponse,
};
use argus_proto::v1::{CoverageReason, ScanOutcome};

use super::*;
use crate::state::{shard_of, SHARDS};

const ACC: &str = "123456789012";

/// An image resource that says where workers fetch it.
fn located(id: &str, account: &str, digest: &str) -> Resource {
    Resource {
        artifact_locator: format!("registry:registry.example/{id}@{digest}"),
        ..image(id, account, digest)
    }
}

fn dispatch(digest: &str, generation: u64, attempt: u32, deadline: i64, max_attempts: u32) -> Dispatch {
    Dispatch {
        artifact_digest: digest.into(),
        job_id: format!("{digest}#{generation}"),
        attempt,
        deadline: Some(ts(deadline)),
        max_attempts,
        rescan_after_secs: 1000,
        retry_base_ms: 10_000,
    }
}

fn run_dispatch(f: &Fixture, now: i64, jobs: Vec<Dispatch>) -> DispatchJobsResponse {
    match f.run(now, Cmd::DispatchJobs(DispatchJobs { jobs })) {
        Res::DispatchJobs(r) => r,
        other => panic!("unexpected {other:?}"),
    }
}

fn due(f: &Fixture, now: i64) -> Vec<String> {
    f.state
        .due_artifacts(&ts(now), 1000)
        .unwrap()
        .into_iter()
        .map(|r| r.artifact_digest)
        .collect()
}

fn job_result(digest: &str, generation: u64, attempt: u32, at: i64, outcome: ScanOutcome) -> ScanResult {
    let mut r = result(digest, at, vec![vuln("CVE-1", "openssl")]);
    r.job_id = format!("{digest}#{generation}");
    r.attempt = attempt;
    r.outcome = outcome as i32;
    if outcome == ScanOutcome::Failed {
        r.vulnerabilities.clear();
        r.error = format!("attempt {attempt} failed");
    }
    r
}

fn reason(f: &Fixture, id: &str) -> CoverageReason {
    f.resource(id).coverage.unwrap().reason()
}

#[test]
fn an_artifact_is_due_once_however_many_resources_carry_it() {
    let f = open();
    f.run(
        10,
        put(vec![
            located("a", ACC, &digest(1)),
            located("b", ACC, &digest(1)),
            located("c", ACC, &digest(2)),
        ]),
    );
    let mut expected = vec![digest(1), digest(2)];
    expected.sort();
    let mut got = due(&f, 10);
    got.sort();
    assert_eq!(got, expected);
    let c = f.state.pipeline_counters().unwrap();
    assert_eq!((c.artifacts, c.never_scanned, c.in_flight), (2, 2, 0));
    assert!(due(&f, 9).is_empty(), "nothing is due before it was seen");
}

#[test]
fn an_artifact_without_a_locator_waits_until_a_resource_says_where_it_is() {
    let f = open();
    f.run(10, put(vec![image("a", ACC, &digest(1))]));
    assert!(due(&f, 10).is_empty());
    assert_eq!(f.state.pipeline_counters().unwrap().artifacts, 1);
    f.run(11, put(vec![located("b", ACC, &digest(1))]));
    assert_eq!(due(&f, 11), vec![digest(1)]);
}

#[test]
fn a_dispatch_is_recorded_once_and_only_when_due() {
    let f = open();
    f.run(10, put(vec![located("a", ACC, &digest(1))]));
    let d = digest(1);
    assert_eq!(
        run_dispatch(&f, 11, vec![dispatch(&d, 1, 1, 100, 3)]).dispatched,
        vec![d.clone()]
    );
    // The same dispatch again (a retried proposal, a stale leader) changes nothing.
    let before = f.dump();
    assert_eq!(run_dispatch(&f, 12, vec![dispatch(&d, 1, 1, 100, 3)]).skipped, 1);
    assert_eq!(f.dump(), before);
    assert_eq!(f.state.pipeline_counters().unwrap().in_flight, 1);
    // Not due again until the deadline; then the next attempt, and only that one.
    assert!(due(&f, 99).is_empty());
    assert_eq!(due(&f, 100), vec![d.clone()]);
    assert_eq!(
        run_dispatch(&f, 50, vec![dispatch(&d, 1, 2, 200, 3)]).skipped,
        1,
        "before the deadline"
    );
    assert_eq!(
        run_dispatch(&f, 100, vec![dispatch(&d, 1, 3, 200, 3)]).skipped,
        1,
        "skipping an attempt"
    );
    assert_eq!(
        run_dispatch(&f, 100, vec![dispatch(&d, 1, 2, 200, 3)]).dispatched.len(),
        1
    );
    let job = f.state.artifact_schedule(&d).unwrap().unwrap().job.unwrap();
    assert_eq!((job.attempt, job.deadline), (2, Some(ts(200))));
    let c = f.state.pipeline_counters().unwrap();
    assert_eq!((c.jobs_dispatched, c.jobs_retried), (2, 1));
}

#[test]
fn a_result_completes_the_job_and_the_next_scan_is_due_after_the_rescan_interval() {
    let f = open();
    f.run(
        10,
        put(vec![located("a", ACC, &digest(1)), located("b", ACC, &digest(1))]),
    );
    let d = digest(1);
    run_dispatch(&f, 11, vec![dispatch(&d, 1, 1, 100, 3)]);
    f.run(20, ingest(vec![job_result(&d, 1, 1, 15, ScanOutcome::Succeeded)]));
    let s = f.state.artifact_schedule(&d).unwrap().unwrap();
    assert!(s.job.is_none() && s.scanned);
    assert_eq!(s.due_at, Some(ts(15 + 1000)));
    assert_eq!(reason(&f, "a"), CoverageReason::Successful);
    assert_eq!(reason(&f, "b"), CoverageReason::Successful);
    let c = f.state.pipeline_counters().unwrap();
    assert_eq!((c.in_flight, c.never_scanned, c.results_applied), (0, 0, 1));
    // Delivered twice: nothing changes.
    let before = f.dump();
    f.run(21, ingest(vec![job_result(&d, 1, 1, 15, ScanOutcome::Succeeded)]));
    assert_eq!(f.dump(), before);
    assert!(due(&f, 1014).is_empty());
    assert_eq!(due(&f, 1015), vec![d.clone()]);
    // The next job has the next generation.
    assert_eq!(run_dispatch(&f, 1015, vec![dispatch(&d, 1, 1, 2000, 3)]).skipped, 1);
    assert_eq!(
        run_dispatch(&f, 1015, vec![dispatch(&d, 2, 1, 2000, 3)])
            .dispatched
            .len(),
        1
    );
}

#[test]
fn failed_attempts_are_retried_with_backoff_and_the_last_one_marks_scan_failed() {
    let f = open();
    f.run(10, put(vec![located("a", ACC, &digest(1))]));
    let d = digest(1);
    run_dispatch(&f, 11, vec![dispatch(&d, 1, 1, 500, 2)]);
    f.run(20, ingest(vec![job_result(&d, 1, 1, 19, ScanOutcome::Failed)]));
    // Held: the resource still waits for its first scan; the retry waits 10 s.
    assert_eq!(reason(&f, "a"), CoverageReason::PendingInitialScan);
    let job = f.state.artifact_schedule(&d).unwrap().unwrap().job.unwrap();
    assert_eq!(
        (job.retry_at, job.last_error.as_str()),
        (Some(ts(30)), "attempt 1 failed")
    );
    assert!(due(&f, 29).is_empty());
    assert_eq!(due(&f, 30), vec![d.clone()]);
    // The same failure delivered again books nothing new.
    let before = f.dump();
    f.run(21, ingest(vec![job_result(&d, 1, 1, 19, ScanOutcome::Failed)]));
    assert_eq!(f.dump(), before);
    run_dispatch(&f, 30, vec![dispatch(&d, 1, 2, 500, 2)]);
    f.run(40, ingest(vec![job_result(&d, 1, 2, 39, ScanOutcome::Failed)]));
    let r = f.resource("a");
    let coverage = r.coverage.unwrap();
    assert_eq!(coverage.reason(), CoverageReason::ScanFailed);
    assert_eq!(coverage.detail, "attempt 2 failed");
    let s = f.state.artifact_schedule(&d).unwrap().unwrap();
    assert!(s.job.is_none());
    assert_eq!(s.failures, 1);
    // Backoff after a failed job: longer than the retries before it, capped by the interval.
    let next = s.due_at.unwrap().seconds;
    assert!(next > 40 + 20 && next <= 40 + 1000, "next job at {next}");
    assert_eq!(f.state.pipeline_counters().unwrap().failed, 1);
    // A later success clears the failure.
    run_dispatch(&f, next, vec![dispatch(&d, 2, 1, next + 100, 2)]);
    f.run(
        next + 1,
        ingest(vec![job_result(&d, 2, 1, next + 1, ScanOutcome::Succeeded)]),
    );
    assert_eq!(reason(&f, "a"), CoverageReason::Successful);
    assert_eq!(f.state.pipeline_counters().unwrap().failed, 0);
}

#[test]
fn a_job_whose_last_attempt_misses_its_deadline_expires_as_scan_failed() {
    let f = open();
    f.run(10, put(vec![located("a", ACC, &digest(1))]));
    let d = digest(1);
    run_dispatch(&f, 11, vec![dispatch(&d, 1, 1, 100, 1)]);
    let expire = |now| {
        let cmd = Cmd::ExpireJobs(ExpireJobs {
            jobs: vec![ExpiredJob {
                artifact_digest: d.clone(),
                job_id: format!("{d}#1"),
                attempt: 1,
                error: "no result before the deadline".into(),
            }],
        });
        match f.run(now, cmd) {
            Res::ExpireJobs(r) => r,
            other => panic!("unexpected {other:?}"),
        }
    };
    assert_eq!(expire(99).skipped, 1, "not before the deadline");
    assert_eq!(reason(&f, "a"), CoverageReason::PendingInitialScan);
    assert_eq!(expire(100).expired, 1);
    let coverage = f.resource("a").coverage.unwrap();
    assert_eq!(coverage.reason(), CoverageReason::ScanFailed);
    assert_eq!(coverage.detail, "no result before the deadline");
    assert_eq!(expire(101).skipped, 1, "once");
    // The expired job's result, arriving late, is still welcome.
    f.run(120, ingest(vec![job_result(&d, 1, 1, 110, ScanOutcome::Succeeded)]));
    assert_eq!(reason(&f, "a"), CoverageReason::Successful);
}

#[test]
fn scan_now_makes_known_idle_artifacts_due() {
    let f = open();
    f.run(
        10,
        put(vec![located("a", ACC, &digest(1)), located("b", ACC, &digest(2))]),
    );
    run_dispatch(&f, 11, vec![dispatch(&digest(1), 1, 1, 100, 3)]);
    f.run(
        20,
        ingest(vec![job_result(&digest(1), 1, 1, 15, ScanOutcome::Succeeded)]),
    );
    run_dispatch(&f, 21, vec![dispatch(&digest(2), 1, 1, 100, 3)]);
    let resp = match f.run(
        30,
        Cmd::RequestScans(RequestScans {
            artifact_digests: vec![digest(1), digest(2), digest(3)],
        }),
    ) {
        Res::RequestScans(r) => r,
        other => panic!("unexpected {other:?}"),
    };
    assert_eq!(
        resp,
        RequestScansResponse {
            requested: 1,
            in_flight: 1,
            unknown: 1
        }
    );
    assert_eq!(due(&f, 30), vec![digest(1)]);
}

#[test]
fn an_artifact_no_live_resource_carries_is_forgotten() {
    let f = open();
    f.run(
        10,
        put(vec![located("a", ACC, &digest(1)), located("b", ACC, &digest(1))]),
    );
    f.run(11, remove(&["a"]));
    assert!(f.state.artifact_schedule(&digest(1)).unwrap().is_some());
    // "b" moves to another image: nothing carries digest 1 any more.
    f.run(12, put(vec![located("b", ACC, &digest(2))]));
    assert!(f.state.artifact_schedule(&digest(1)).unwrap().is_none());
    assert_eq!(due(&f, 12), vec![digest(2)]);
    assert_eq!(f.state.pipeline_counters().unwrap().artifacts, 1);
    // A returning resource brings its artifact back.
    f.run(13, put(vec![located("a", ACC, &digest(1))]));
    assert!(f.state.artifact_schedule(&digest(1)).unwrap().is_some());
    assert_eq!(f.state.pipeline_counters().unwrap().artifacts, 2);
}

#[test]
fn one_big_account_cannot_starve_the_small_ones() {
    let f = open();
    let big = "100000000000";
    let big_shard = shard_of(big);
    let mut small = Vec::new();
    let mut n = 0u64;
    while small.len() < 5 {
        let acc = format!("{:012}", 200_000_000_000u64 + n);
        n += 1;
        if shard_of(&acc) != big_shard && !small.iter().any(|a: &String| shard_of(a) == shard_of(&acc)) {
            small.push(acc);
        }
    }
    // The big account's 200 images are seen first.
    let resources: Vec<_> = (0..200)
        .map(|i| located(&format!("big-{i}"), big, &digest(1000 + i)))
        .collect();
    f.run(10, put(resources));
    let resources: Vec<_> = small
        .iter()
        .enumerate()
        .map(|(i, acc)| located(&format!("small-{i}"), acc, &digest(i as u64)))
        .collect();
    f.run(11, put(resources));
    // The first six due: one from each shard, so every small account is among them.
    let first: Vec<String> = f
        .state
        .due_artifacts(&ts(11), 100)
        .unwrap()
        .into_iter()
        .take(6)
        .map(|r| r.artifact_digest)
        .collect();
    for i in 0..5u64 {
        assert!(first.contains(&digest(i)), "small account {i} in {first:?}");
    }
    assert!(SHARDS >= 6);
}

/// An inventory holding npm packages `names`, as a worker reports it.
fn inventory(names: &[&str]) -> Vec<u8> {
    let mut inv = argus_proto::Inventory::new("test");
    for n in names {
        inv.packages.push(argus_proto::Package::new(
            *n,
            "1.0.0",
            argus_proto::Ecosystem::npm(),
            argus_proto::PackageManager::Npm,
            format!("pkg:npm/{n}@1.0.0"),
            "/app/package-lock.json",
        ));
    }
    zstd::bulk::compress(&serde_json::to_vec(&inv).unwrap(), 3).unwrap()
}

fn reevaluate(f: &Fixture, now: i64, version: &str, names: &[&str]) -> argus_proto::internal::v1::ReevaluateResponse {
    let cmd = Cmd::Reevaluate(argus_proto::internal::v1::Reevaluate {
        db_version: version.into(),
        package_keys: names
            .iter()
            .map(|n| argus_worker::vulndb::index_key("npm", n))
            .collect(),
    });
    match f.run(now, cmd) {
        Res::Reevaluate(r) => r,
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn a_changed_advisory_rematches_exactly_the_artifacts_holding_its_package() {
    let f = open();
    let packages: [&[&str]; 3] = [&["lodash", "axios"], &["axios"], &["minimist"]];
    for (i, names) in packages.iter().enumerate() {
        let d = digest(i as u64);
        f.run(10, put(vec![located(&format!("r{i}"), ACC, &d)]));
        run_dispatch(&f, 11, vec![dispatch(&d, 1, 1, 100, 3)]);
        let mut r = job_result(&d, 1, 1, 12, ScanOutcome::Succeeded);
        r.inventory = inventory(names);
        f.run(13, ingest(vec![r]));
    }
    assert!(due(&f, 14).is_empty());
    // An advisory for lodash changed: only artifact 0 holds it.
    let r = reevaluate(&f, 20, "db-2", &["lodash"]);
    assert_eq!((r.rematched, r.total), (1, 3));
    assert_eq!(due(&f, 20), vec![digest(0)]);
    let s = f.state.artifact_schedule(&digest(0)).unwrap().unwrap();
    assert_eq!(
        (s.due_kind(), s.due_min_db_version.as_str()),
        (JobKind::Rematch, "db-2")
    );
    // axios: artifacts 0 and 1; the counters add up per DB version.
    let r = reevaluate(&f, 21, "db-2", &["axios", "left-pad"]);
    assert_eq!(r.rematched, 2);
    let c = f.state.pipeline_counters().unwrap();
    assert_eq!(
        (
            c.reevaluated_db_version.as_str(),
            c.reevaluation_rematched,
            c.reevaluation_total
        ),
        ("db-2", 3, 3)
    );
    // A newer inventory without axios leaves the index: the next change to axios skips it.
    let d1 = digest(1);
    run_dispatch(&f, 22, vec![dispatch(&d1, 2, 1, 100, 3)]);
    let mut r = job_result(&d1, 2, 1, 23, ScanOutcome::Succeeded);
    r.db_version = "db-2".into();
    r.inventory = inventory(&["express"]);
    f.run(24, ingest(vec![r]));
    assert_eq!(reevaluate(&f, 25, "db-3", &["axios"]).rematched, 1);
}

#[test]
fn a_rematch_arriving_while_an_older_job_runs_follows_it() {
    let f = open();
    let d = digest(1);
    f.run(10, put(vec![located("a", ACC, &d)]));
    run_dispatch(&f, 11, vec![dispatch(&d, 1, 1, 100, 3)]);
    let mut r = job_result(&d, 1, 1, 12, ScanOutcome::Succeeded);
    r.inventory = inventory(&["lodash"]);
    f.run(13, ingest(vec![r]));
    f.run(
        14,
        Cmd::RequestScans(RequestScans {
            artifact_digests: vec![d.clone()],
        }),
    );
    run_dispatch(&f, 15, vec![dispatch(&d, 2, 1, 100, 3)]);
    // The DB changes while job 2 (with db-12) runs.
    assert_eq!(reevaluate(&f, 16, "db-99", &["lodash"]).rematched, 1);
    assert!(due(&f, 16).is_empty(), "the job in flight is not disturbed");
    let mut r = job_result(&d, 2, 1, 17, ScanOutcome::Succeeded);
    r.db_version = "db-12".into();
    f.run(18, ingest(vec![r]));
    assert_eq!(due(&f, 18), vec![d.clone()], "re-matched right after, with the new DB");
    let s = f.state.artifact_schedule(&d).unwrap().unwrap();
    assert_eq!(s.due_kind(), JobKind::Rematch);
}

/// Puts resource `id` carrying `digest(n)` at `at`, dispatches its first scan and ingests a
/// successful result matched with `db` that stored an inventory holding lodash.
fn scanned_with(f: &Fixture, at: i64, id: &str, n: u64, db: &str) -> String {
    let d = digest(n);
    f.run(at, put(vec![located(id, ACC, &d)]));
    run_dispatch(f, at + 1, vec![dispatch(&d, n, 1, 100, 3)]);
    let mut r = job_result(&d, n, 1, at + 2, ScanOutcome::Succeeded);
    r.db_version = db.into();
    r.inventory = inventory(&["lodash"]);
    f.run(at + 3, ingest(vec![r]));
    d
}

#[test]
fn a_first_scan_matched_with_a_database_older_than_the_reevaluated_one_is_rematched() {
    let f = open();
    // The cluster has re-evaluated against db-20 (nothing to re-match yet).
    reevaluate(&f, 5, "db-20", &["lodash"]);
    // A worker that had not switched yet matched it with db-10.
    let d = scanned_with(&f, 10, "a", 1, "db-10");
    assert_eq!(due(&f, 13), vec![d.clone()]);
    let s = f.state.artifact_schedule(&d).unwrap().unwrap();
    assert_eq!(
        (s.due_kind(), s.due_min_db_version.as_str()),
        (JobKind::Rematch, "db-20")
    );
    // Matched with the current database: nothing more to do.
    let d2 = scanned_with(&f, 20, "b", 2, "db-20");
    assert!(!due(&f, 23).contains(&d2));
}

#[test]
fn an_artifact_that_returns_after_a_reevaluation_passed_it_by_is_rematched() {
    let f = open();
    let d = scanned_with(&f, 10, "a", 1, "db-10");
    // Its only resource moves away: the scheduler forgets the artifact, the result stays.
    f.run(14, remove(&["a"]));
    assert!(f.state.artifact_schedule(&d).unwrap().is_none());
    // An advisory on lodash arrives while nothing carries it: nothing to re-match.
    assert_eq!(reevaluate(&f, 20, "db-20", &["lodash"]).rematched, 0);
    // A new resource carries it again: it gets the stored findings at once and a re-match
    // with db-20 is due.
    f.run(30, put(vec![located("b", ACC, &d)]));
    assert_eq!(due(&f, 30), vec![d.clone()]);
    let s = f.state.artifact_schedule(&d).unwrap().unwrap();
    assert_eq!(
        (s.due_kind(), s.due_min_db_version.as_str()),
        (JobKind::Rematch, "db-20")
    );
    // One that returns already matched with the newest database is not re-matched.
    let d2 = scanned_with(&f, 40, "c", 2, "db-20");
    f.run(44, remove(&["c"]));
    f.run(50, put(vec![located("e", ACC, &d2)]));
    let s = f.state.artifact_schedule(&d2).unwrap().unwrap();
    assert_eq!(s.due_kind(), JobKind::Scan);
}
