//! Result ingestion: the leader fetches workers' results from the queue, groups them into
//! `IngestScanResults` commands, and acknowledges each message only after the command holding
//! it is committed. A crash before the ack means the result is delivered again, and applying it
//! again changes nothing, so nothing acknowledged is lost and nothing is counted twice.

use std::sync::Arc;
use std::time::Duration;

use argus_proto::internal::v1::command::Kind as Cmd;
use argus_proto::internal::v1::command_result::Kind as Res;
use argus_proto::internal::v1::Command;
use argus_proto::v1::{IngestScanResultsRequest, ScanResult};
use futures::future::join_all;
use prost::Message;
use tokio::sync::watch;
use tracing::{debug, warn};

use argus_worker::queue::{Consumer, Delivery, Queue};

use crate::config::PipelineConfig;
use crate::node::Node;
use crate::state::{validate_scan_result, MAX_SCAN_RESULTS};

/// Fetched batches being committed at once.
const BATCHES_IN_FLIGHT: usize = 4;
/// How long one fetch waits for the first result.
const FETCH_WAIT: Duration = Duration::from_millis(200);

pub async fn run(node: Arc<Node>, queue: Queue, config: PipelineConfig, mut stopped: watch::Receiver<bool>) {
    let mut consumer: Option<Consumer> = None;
    let mut in_flight = tokio::task::JoinSet::new();
    let mut backoff = Duration::from_millis(50);
    loop {
        if *stopped.borrow() {
            return;
        }
        if !node.is_leader() {
            consumer = None;
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(config.tick_ms.max(10))) => {}
                _ = super::stopping(&mut stopped) => return,
            }
            continue;
        }
        let c = match &consumer {
            Some(c) => c.clone(),
            None => match queue.results().await {
                Ok(c) => {
                    consumer = Some(c.clone());
                    c
                }
                Err(e) => {
                    warn!(error = %e, "results consumer unavailable");
                    sleep_or_stop(&mut backoff, &mut stopped).await;
                    continue;
                }
            },
        };
        let batch = tokio::select! {
            b = c.fetch(config.ingest_batch.max(1), FETCH_WAIT) => b,
            _ = super::stopping(&mut stopped) => return,
        };
        match batch {
            Ok(deliveries) => {
                backoff = Duration::from_millis(50);
                if !deliveries.is_empty() {
                    // The next fetch overlaps this batch's commit; a few batches at most.
                    while in_flight.len() >= BATCHES_IN_FLIGHT {
                        in_flight.join_next().await;
                    }
                    let (node, config) = (node.clone(), config.clone());
                    in_flight.spawn(async move { ingest(&node, &config, deliveries).await });
                }
            }
            Err(e) => {
                warn!(error = %e, "fetching results failed");
                consumer = None;
                sleep_or_stop(&mut backoff, &mut stopped).await;
            }
        }
    }
}

async fn sleep_or_stop(backoff: &mut Duration, stopped: &mut watch::Receiver<bool>) {
    tokio::select! {
        _ = tokio::time::sleep(*backoff) => {}
        _ = super::stopping(stopped) => {}
    }
    *backoff = (*backoff * 2).min(Duration::from_secs(2));
}

/// Commits one fetched batch: commands of bounded size, proposed concurrently (the proposer
/// groups them into few log entries), each acknowledging its own messages once committed.
async fn ingest(node: &Node, config: &PipelineConfig, deliveries: Vec<Delivery>) {
    let mut groups: Vec<Group> = Vec::new();
    let mut bytes = 0usize;
    for d in deliveries {
        let checked = ScanResult::decode(d.payload.as_ref())
            .map_err(|e| e.to_string())
            .and_then(|r| validate_scan_result(&r).map(|()| r).map_err(|e| e.to_string()));
        let result = match checked {
            Ok(r) => r,
            Err(e) => {
                // It would be refused every time: acknowledge, or it would come back forever.
                warn!(msg_id = %d.msg_id, error = %e, "invalid result dropped");
                let _ = d.ack().await;
                continue;
            }
        };
        // The worker's trace goes on here, until the result is committed.
        let span = tracing::info_span!(
            "scan.ingest",
            otel.kind = "consumer",
            job.id = %result.job_id,
            job.attempt = result.attempt,
            messaging.delivery = d.delivered,
        );
        argus_worker::telemetry::adopt(&span, &d.headers);
        let size = d.payload.len();
        let full = groups
            .last()
            .is_none_or(|g| g.results.len() >= MAX_SCAN_RESULTS || bytes + size > config.ingest_command_bytes);
        if full {
            groups.push(Group::default());
            bytes = 0;
        }
        bytes += size;
        let g = groups.last_mut().expect("pushed");
        g.results.push(result);
        g.deliveries.push(d);
        g.spans.push(span);
    }
    join_all(groups.into_iter().map(|g| commit(node, g))).await;
}

/// Results committed in one command, with their messages and trace spans.
#[derive(Default)]
struct Group {
    results: Vec<ScanResult>,
    deliveries: Vec<Delivery>,
    spans: Vec<tracing::Span>,
}

async fn commit(node: &Node, group: Group) {
    let Group {
        results,
        deliveries,
        spans,
    } = group;
    let requested: Vec<Option<prost_types::Timestamp>> = results.iter().map(|r| r.requested_at).collect();
    let command = Command {
        kind: Some(Cmd::IngestScanResults(IngestScanResultsRequest { results })),
    };
    // One proposal carries many results; each result's trace shows it as its own commit span.
    let commits: Vec<tracing::Span> = spans
        .iter()
        .map(|s| tracing::info_span!(parent: s, "scan.commit", results = deliveries.len()))
        .collect();
    let written = node.write(command).await;
    drop(commits);
    match written {
        Ok(r) => match r.kind {
            Some(Res::IngestScanResults(resp)) => {
                debug!(applied = resp.applied, ignored = resp.ignored, "results committed");
                record_latency(&requested);
                ack_all(deliveries).await;
            }
            other => warn!(result = ?other, "unexpected answer to results; they will be redelivered"),
        },
        // Not committed: leave them unacknowledged; the queue delivers them again.
        Err(e) => warn!(error = %e, results = deliveries.len(), "results not committed; they will be redelivered"),
    }
}

/// `argus.pipeline.latency` for each committed result: now minus when its artifact needed the
/// scan. A result delivered again after a lost ack counts again; that is rare and only late.
fn record_latency(requested: &[Option<prost_types::Timestamp>]) {
    let now = std::time::SystemTime::now();
    let histogram = &crate::telemetry::instruments::instruments().latency;
    for at in requested.iter().flatten() {
        let Ok(at) = std::time::SystemTime::try_from(*at) else {
            continue;
        };
        if let Ok(elapsed) = now.duration_since(at) {
            histogram.record(elapsed.as_secs_f64(), &[]);
        }
    }
}

async fn ack_all(deliveries: Vec<Delivery>) {
    // Unconfirmed: a lost ack redelivers a committed result, and applying it again changes
    // nothing; waiting for each confirmation would cost a round trip per result.
    for r in join_all(deliveries.iter().map(|d| d.ack_unconfirmed())).await {
        if let Err(e) = r {
            // Committed but not acknowledged: it comes back and changes nothing.
            debug!(error = %e, "ack after commit failed");
        }
    }
}
