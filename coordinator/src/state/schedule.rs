//! The scheduler's replicated state: one [`ArtifactSchedule`] per artifact digest, and a timer
//! index telling the leader which artifacts need a look and when.
//!
//! Jobs exist here before they exist anywhere else. The leader proposes a `DispatchJobs`, and
//! publishes to the queue only the dispatches the state machine accepted; a job whose deadline
//! passes is dispatched again (next attempt) or, on its last attempt, expired: its resources get
//! SCAN_FAILED and the next job waits for a backoff. A new leader reads the same records and
//! carries on, so losing the queue or the leader delays scans but never loses one.
//!
//! Every transition checks that it follows from the stored record (the expected job id and
//! attempt, a timer that is due), so a stale leader's or a duplicated command changes nothing.

use argus_proto::internal::v1::{
    ArtifactSchedule, Dispatch, DispatchJobs, DispatchJobsResponse, ExpireJobs, ExpireJobsResponse, InFlightJob,
    JobKind, PipelineCounters, RequestScans, RequestScansResponse,
};
use argus_proto::v1::{Resource, ScanOutcome, ScanResult};
use prost_types::Timestamp;
use sha2::{Digest, Sha256};

use super::apply::Ctx;
use super::filter::time_key;
use super::view::View;
use super::{keys, scan, Txn};
use crate::error::Result;

/// Fairness shards: an account's artifacts all land in one, and the scheduler takes from every
/// shard in turn, so one account with 100,000 images cannot starve a thousand small ones.
pub const SHARDS: u8 = 64;

/// Rescan interval assumed until a dispatch brings the leader's configuration.
const DEFAULT_RESCAN_SECS: u64 = 24 * 3600;
/// Retry base assumed until a dispatch brings the leader's configuration.
const DEFAULT_RETRY_BASE_MS: u64 = 5_000;
/// The longest any backoff grows to.
const MAX_BACKOFF_SECS: u64 = 6 * 3600;

const COUNTERS_VERSION: u32 = 1;

/// The shard of an account: a stable hash, identical on every replica and across versions.
pub fn shard_of(account_id: &str) -> u8 {
    let h = Sha256::digest(account_id.as_bytes());
    (u64::from_be_bytes(h[..8].try_into().expect("8 bytes")) % u64::from(SHARDS)) as u8
}

pub fn shard_name(shard: u8) -> String {
    format!("{shard:02}")
}

fn shard_index(record: &ArtifactSchedule) -> u8 {
    record.shard.parse().unwrap_or(0)
}

/// `shard, seconds (sign-flipped, big-endian), nanos (big-endian), digest`: key order is time
/// order within a shard.
fn timer_key(shard: u8, at: &Timestamp, digest: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(13 + digest.len());
    k.push(shard);
    k.extend_from_slice(&((at.seconds as u64) ^ (1 << 63)).to_be_bytes());
    k.extend_from_slice(&(at.nanos.max(0) as u32).to_be_bytes());
    k.extend_from_slice(digest.as_bytes());
    k
}

fn timer_time(key: &[u8]) -> Option<(i64, i32)> {
    let secs = u64::from_be_bytes(key.get(1..9)?.try_into().ok()?) ^ (1 << 63);
    let nanos = u32::from_be_bytes(key.get(9..13)?.try_into().ok()?);
    Some((secs as i64, nanos as i32))
}

/// When the scheduler must next look at the artifact: the retry time or deadline of its job,
/// or when its next job is due.
fn wake_at(r: &ArtifactSchedule) -> Option<Timestamp> {
    match &r.job {
        Some(job) => job.retry_at.or(job.deadline),
        None => r.due_at,
    }
}

fn add(t: Timestamp, millis: u64) -> Timestamp {
    let millis = millis.min(i64::MAX as u64 / 2) as i64;
    let nanos = i64::from(t.nanos) + (millis % 1000) * 1_000_000;
    Timestamp {
        seconds: t.seconds.saturating_add(millis / 1000 + nanos / 1_000_000_000),
        nanos: (nanos % 1_000_000_000) as i32,
    }
}

fn is_due(at: Option<&Timestamp>, now: &Timestamp) -> bool {
    at.is_some_and(|t| time_key(Some(t)) <= time_key(Some(now)))
}

/// `base * 2^(n-1)`, capped.
fn backoff_ms(base_ms: u64, n: u32, cap_ms: u64) -> u64 {
    base_ms
        .saturating_mul(1u64 << n.saturating_sub(1).min(32))
        .min(cap_ms)
        .min(MAX_BACKOFF_SECS * 1000)
}

fn load(txn: &Txn, digest: &str) -> Result<Option<ArtifactSchedule>> {
    txn.get_record(keys::SCHEDULE, digest.as_bytes())
}

/// Writes `new` (or deletes the record when `None`), moving its timer and the counters.
fn save(ctx: &mut Ctx, old: Option<&ArtifactSchedule>, new: Option<&mut ArtifactSchedule>) {
    let digest = old
        .map(|o| o.artifact_digest.clone())
        .or_else(|| new.as_ref().map(|n| n.artifact_digest.clone()))
        .expect("a record on one side");
    let old_timer = old.and_then(|o| wake_at(o).map(|t| timer_key(shard_index(o), &t, &digest)));
    let new_timer = new
        .as_ref()
        .and_then(|n| wake_at(n).map(|t| timer_key(shard_index(n), &t, &digest)));
    if old_timer != new_timer {
        if let Some(k) = old_timer {
            ctx.txn.delete(keys::TIMERS, k);
        }
        if let Some(k) = new_timer {
            ctx.txn.put(keys::TIMERS, k, Vec::new());
        }
    }
    let counters = ctx.counters();
    let flags = |r: Option<&ArtifactSchedule>| match r {
        None => [false; 4],
        Some(r) => [true, r.job.is_some(), !r.scanned, r.failures > 0],
    };
    let (before, after) = (flags(old), flags(new.as_deref()));
    for (i, field) in [
        &mut counters.artifacts,
        &mut counters.in_flight,
        &mut counters.never_scanned,
        &mut counters.failed,
    ]
    .into_iter()
    .enumerate()
    {
        match (before[i], after[i]) {
            (false, true) => *field += 1,
            (true, false) => *field = field.saturating_sub(1),
            _ => {}
        }
    }
    match new {
        Some(n) => ctx.txn.put_record(keys::SCHEDULE, digest.into_bytes(), n),
        None => ctx.txn.delete(keys::SCHEDULE, digest.into_bytes()),
    }
}

pub(super) fn read_counters_txn(txn: &Txn) -> Result<PipelineCounters> {
    Ok(txn
        .get_record(keys::SM_META, keys::PIPELINE_COUNTERS)?
        .unwrap_or_default())
}

pub(super) fn write_counters(txn: &mut Txn, counters: &mut PipelineCounters) {
    counters.version = COUNTERS_VERSION;
    txn.put_record(keys::SM_META, keys::PIPELINE_COUNTERS.to_vec(), counters);
}

/// A live resource now carries `resource.artifact_digest`: the artifact is tracked from now on,
/// its first scan due at once (or, when a result for it is already stored, after the rescan
/// interval).
pub(super) fn track(ctx: &mut Ctx, resource: &Resource) -> Result<()> {
    let digest = &resource.artifact_digest;
    if digest.is_empty() || resource.removed {
        return Ok(());
    }
    if let Some(old) = load(ctx.txn, digest)? {
        if old.locator.is_empty() && !resource.artifact_locator.is_empty() {
            // A later resource says where to fetch it: remember that.
            let mut new = ArtifactSchedule {
                locator: resource.artifact_locator.clone(),
                ..old.clone()
            };
            if new.job.is_none() && new.due_at.is_none() {
                new.due_at = Some(ctx.now);
            }
            save(ctx, Some(&old), Some(&mut new));
        }
        return Ok(());
    }
    let stored: Option<ScanResult> = ctx.txn.get_record(keys::ARTIFACTS, digest.as_bytes())?;
    // Without a locator there is nothing to fetch: the artifact waits for a resource that says
    // where it is (or for results pushed through the API).
    let due_at = match &stored {
        _ if resource.artifact_locator.is_empty() => None,
        Some(r) => Some(add(r.scanned_at.unwrap_or(ctx.now), DEFAULT_RESCAN_SECS * 1000)),
        None => Some(ctx.now),
    };
    let mut new = ArtifactSchedule {
        artifact_digest: digest.clone(),
        locator: resource.artifact_locator.clone(),
        resource_type: resource.r#type,
        shard: shard_name(shard_of(&resource.account_id)),
        due_at,
        due_kind: JobKind::Scan as i32,
        requested_at: Some(ctx.now),
        rescan_after_secs: DEFAULT_RESCAN_SECS,
        retry_base_ms: DEFAULT_RETRY_BASE_MS,
        scanned: stored.is_some(),
        ..Default::default()
    };
    // An artifact that comes back after a re-evaluation passed it by (no resource carried it
    // then, so it had no schedule to queue a re-match on) holds findings from an older database:
    // its stored inventory is re-matched at once.
    if let Some(current) = stored.as_ref().and_then(|r| older_than_reevaluated(ctx, r)) {
        if ctx.txn.get(keys::INVENTORIES, digest.as_bytes())?.is_some() {
            new.due_kind = JobKind::Rematch as i32;
            new.due_min_db_version = current;
            new.due_at = Some(ctx.now);
        }
    }
    save(ctx, None, Some(&mut new));
    Ok(())
}

/// The database version the cluster last re-evaluated against, when `result` is a successful
/// match made with an older one (its findings lack what that database added).
pub(super) fn older_than_reevaluated(ctx: &Ctx, result: &ScanResult) -> Option<String> {
    let current = &ctx.counters_now().reevaluated_db_version;
    (result.outcome == ScanOutcome::Succeeded as i32 && result.db_version < *current).then(|| current.clone())
}

/// A resource stopped carrying `digest` (removed, or now carries another): when no live
/// resource carries it any more, the scheduler forgets it. A job in flight may still report;
/// its result is stored for the artifact like any other.
pub(super) fn untrack_if_unused(ctx: &mut Ctx, digest: &str) -> Result<()> {
    if digest.is_empty() || scan::carried(ctx, digest)? {
        return Ok(());
    }
    if let Some(old) = load(ctx.txn, digest)? {
        save(ctx, Some(&old), None);
    }
    Ok(())
}

pub(super) fn dispatch(ctx: &mut Ctx, req: &DispatchJobs) -> Result<DispatchJobsResponse> {
    let mut out = DispatchJobsResponse::default();
    for d in &req.jobs {
        let Some(old) = load(ctx.txn, &d.artifact_digest)? else {
            out.skipped += 1;
            continue;
        };
        let Some(mut new) = dispatched(&old, d, &ctx.now) else {
            out.skipped += 1;
            continue;
        };
        let counters = ctx.counters();
        counters.jobs_dispatched += 1;
        if d.attempt > 1 {
            counters.jobs_retried += 1;
        }
        save(ctx, Some(&old), Some(&mut new));
        out.dispatched.push(d.artifact_digest.clone());
    }
    Ok(out)
}

/// The record after `d`, if `d` is the next step of `old`: the first attempt of the next job
/// when one is due, or the next attempt of the job in flight once its deadline or retry time
/// has come.
fn dispatched(old: &ArtifactSchedule, d: &Dispatch, now: &Timestamp) -> Option<ArtifactSchedule> {
    let mut new = old.clone();
    match &old.job {
        None => {
            let expected_id = format!("{}#{}", old.artifact_digest, old.generation + 1);
            if d.attempt != 1 || d.job_id != expected_id || !is_due(old.due_at.as_ref(), now) {
                return None;
            }
            new.generation += 1;
            new.job = Some(InFlightJob {
                job_id: d.job_id.clone(),
                kind: old.due_kind,
                attempt: 1,
                deadline: d.deadline,
                requested_at: old.requested_at.or(Some(*now)),
                dispatched_at: Some(*now),
                max_attempts: d.max_attempts,
                rescan_after_secs: d.rescan_after_secs,
                min_db_version: old.due_min_db_version.clone(),
                retry_base_ms: d.retry_base_ms,
                ..Default::default()
            });
            new.due_at = None;
            new.rescan_after_secs = d.rescan_after_secs;
            new.retry_base_ms = d.retry_base_ms;
        }
        Some(job) => {
            let wake = job.retry_at.or(job.deadline);
            if d.job_id != job.job_id || d.attempt != job.attempt + 1 || !is_due(wake.as_ref(), now) {
                return None;
            }
            let job = new.job.as_mut().expect("in flight");
            job.attempt = d.attempt;
            job.deadline = d.deadline;
            job.dispatched_at = Some(*now);
            job.retry_at = None;
            job.max_attempts = d.max_attempts;
        }
    }
    Some(new)
}

/// What ingestion does with a result, as far as the schedule is concerned.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Verdict {
    /// Apply it to the artifact's resources.
    Apply,
    /// A failed attempt that will be retried: the resources keep what they have.
    Hold,
}

/// Books `result` against the artifact's job: a success, or a failure on the last attempt,
/// completes the job; an earlier failure schedules the retry. `newer` says whether the result
/// is newer than the one stored for the artifact.
pub(super) fn on_result(ctx: &mut Ctx, result: &ScanResult, newer: bool) -> Result<Verdict> {
    let Some(old) = load(ctx.txn, &result.artifact_digest)? else {
        return Ok(Verdict::Apply);
    };
    let failed = result.outcome == ScanOutcome::Failed as i32;
    let mut new = old.clone();
    let job = old.job.as_ref().filter(|j| j.job_id == result.job_id);
    match job {
        Some(job) if failed && result.attempt < job.attempt => {
            // An earlier attempt's failure arriving late: the current attempt speaks for it.
            return Ok(Verdict::Hold);
        }
        Some(job) if failed && result.attempt < job.max_attempts => {
            if job.retry_at.is_some() {
                return Ok(Verdict::Hold); // this failure was already booked
            }
            let j = new.job.as_mut().expect("in flight");
            j.last_error = result.error.clone();
            j.retry_at = Some(add(ctx.now, backoff_ms(j.retry_base_ms, j.attempt, u64::MAX)));
            save(ctx, Some(&old), Some(&mut new));
            return Ok(Verdict::Hold);
        }
        Some(_) => {
            new.job = None;
            complete(ctx, &mut new, result, failed);
        }
        None if old.job.is_none() && newer => {
            // Not from a job (pushed through the API): it still counts as a scan.
            complete(ctx, &mut new, result, failed);
        }
        None => return Ok(Verdict::Apply), // another job's or a stale job's result
    }
    ctx.counters().results_applied += 1;
    save(ctx, Some(&old), Some(&mut new));
    Ok(Verdict::Apply)
}

fn complete(ctx: &mut Ctx, r: &mut ArtifactSchedule, result: &ScanResult, failed: bool) {
    r.scanned = true;
    // A re-evaluation that arrived while the job ran wants a newer DB than the job used.
    let rematch = !r.due_min_db_version.is_empty() && result.db_version < r.due_min_db_version;
    r.requested_at = None;
    if failed {
        r.failures += 1;
        r.last_error = result.error.clone();
        let cap = r.rescan_after_secs.saturating_mul(1000).max(1000);
        let n = r.failures + 2; // the backoff continues from the attempts' retries
        r.due_at = Some(add(ctx.now, backoff_ms(r.retry_base_ms, n, cap)));
    } else {
        r.failures = 0;
        r.last_error.clear();
        let at = result.scanned_at.unwrap_or(ctx.now);
        r.due_at = Some(add(at, r.rescan_after_secs.saturating_mul(1000)));
    }
    if r.locator.is_empty() {
        r.due_at = None;
    }
    if rematch && !failed {
        r.due_kind = JobKind::Rematch as i32;
        r.due_at = Some(ctx.now);
        r.requested_at = Some(ctx.now);
    } else {
        r.due_kind = JobKind::Scan as i32;
        r.due_min_db_version.clear();
    }
    if !failed {
        let counters = ctx.counters();
        if counters.newest_db_version < result.db_version {
            counters.newest_db_version = result.db_version.clone();
        }
    }
}

/// Queues a REMATCH of the artifact's stored inventory against `db_version` or newer: due now
/// when idle, or right after the job in flight when that job's DB is older. Returns whether
/// the artifact will be re-matched.
pub(super) fn rematch(ctx: &mut Ctx, digest: &str, db_version: &str) -> Result<bool> {
    let Some(old) = load(ctx.txn, digest)? else {
        return Ok(false); // no resource carries it any more
    };
    if old.due_min_db_version.as_str() >= db_version && old.due_kind == JobKind::Rematch as i32 {
        return Ok(true); // already queued for this version or a newer one
    }
    let mut new = old.clone();
    new.due_kind = JobKind::Rematch as i32;
    new.due_min_db_version = db_version.to_string();
    if new.job.is_none() {
        new.due_at = Some(ctx.now);
        new.requested_at = Some(ctx.now);
    }
    save(ctx, Some(&old), Some(&mut new));
    Ok(true)
}

/// Ends jobs whose last attempt's deadline passed: the same as a failed result from it.
pub(super) fn expire(ctx: &mut Ctx, req: &ExpireJobs) -> Result<(ExpireJobsResponse, Vec<ScanResult>)> {
    let mut out = ExpireJobsResponse::default();
    let mut failures = Vec::new();
    for e in &req.jobs {
        let Some(old) = load(ctx.txn, &e.artifact_digest)? else {
            out.skipped += 1;
            continue;
        };
        let current = old.job.as_ref().filter(|j| {
            j.job_id == e.job_id
                && j.attempt == e.attempt
                && j.attempt >= j.max_attempts
                && j.retry_at.is_none()
                && is_due(j.deadline.as_ref(), &ctx.now)
        });
        if current.is_none() {
            out.skipped += 1;
            continue;
        }
        out.expired += 1;
        failures.push(ScanResult {
            artifact_digest: e.artifact_digest.clone(),
            job_id: e.job_id.clone(),
            attempt: e.attempt,
            scanned_at: Some(ctx.now),
            outcome: ScanOutcome::Failed as i32,
            error: e.error.clone(),
            ..Default::default()
        });
    }
    Ok((out, failures))
}

pub(super) fn request(ctx: &mut Ctx, req: &RequestScans) -> Result<RequestScansResponse> {
    let mut out = RequestScansResponse::default();
    for digest in &req.artifact_digests {
        let Some(old) = load(ctx.txn, digest)? else {
            out.unknown += 1;
            continue;
        };
        if old.job.is_some() {
            out.in_flight += 1;
            continue;
        }
        if old.locator.is_empty() {
            out.unknown += 1;
            continue;
        }
        let mut new = old.clone();
        new.due_at = Some(ctx.now);
        new.requested_at = Some(ctx.now);
        new.due_kind = JobKind::Scan as i32;
        save(ctx, Some(&old), Some(&mut new));
        out.requested += 1;
    }
    Ok(out)
}

/// The schedule records of `shard` whose timers lie from key `from` up to time `until`, in
/// timer order, at most `limit`.
fn timed_records(
    view: &View,
    shard: u8,
    from: &[u8],
    until: (i64, i32),
    limit: usize,
) -> Result<Vec<ArtifactSchedule>> {
    let mut out = Vec::new();
    for item in view.iter_from(keys::TIMERS, from) {
        let (key, _) = item?;
        if key.first() != Some(&shard) || out.len() >= limit || timer_time(&key).is_none_or(|t| t > until) {
            break;
        }
        let digest = String::from_utf8_lossy(&key[13..]).into_owned();
        if let Some(r) = view.get_record::<ArtifactSchedule>(keys::SCHEDULE, digest.as_bytes())? {
            out.push(r);
        }
    }
    Ok(out)
}

/// Artifacts with a job in flight whose deadline is after `now` and at most `horizon` away,
/// waiting for neither a retry nor a backoff: the jobs a new leader must make sure are queued,
/// since the leader that recorded them may have died before publishing them. Their timers sit
/// at their deadlines, so only the timers between `now` and `horizon` are read.
pub fn in_flight(view: &View, now: &Timestamp, horizon: &Timestamp) -> Result<Vec<ArtifactSchedule>> {
    let (now_key, horizon_key) = (time_key(Some(now)), time_key(Some(horizon)));
    let mut out = Vec::new();
    for shard in 0..SHARDS {
        let records = timed_records(view, shard, &timer_key(shard, now, ""), horizon_key, usize::MAX)?;
        out.extend(records.into_iter().filter(|r| {
            r.job.as_ref().is_some_and(|j| {
                j.retry_at.is_none() && j.deadline.as_ref().is_some_and(|d| time_key(Some(d)) > now_key)
            })
        }));
    }
    Ok(out)
}

/// Artifacts whose timer has come, at most `per_shard` from each shard, shards interleaved
/// (shard 0's first, shard 1's first, ...) so that dispatching a prefix of the list is fair.
pub fn due(view: &View, now: &Timestamp, per_shard: usize) -> Result<Vec<ArtifactSchedule>> {
    let now_key = time_key(Some(now));
    let by_shard = (0..SHARDS)
        .map(|shard| timed_records(view, shard, &[shard], now_key, per_shard))
        .collect::<Result<Vec<_>>>()?;
    let mut out = Vec::new();
    let longest = by_shard.iter().map(Vec::len).max().unwrap_or(0);
    let mut iters: Vec<_> = by_shard.into_iter().map(Vec::into_iter).collect();
    for _ in 0..longest {
        out.extend(iters.iter_mut().filter_map(Iterator::next));
    }
    Ok(out)
}
