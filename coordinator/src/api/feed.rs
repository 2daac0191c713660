//! `argus.v1.FeedService`: every finding change after a cursor, in change-log order, then live
//! ones. The change log is replicated, so its cursors are the same on every node and a
//! consumer resumes on any of them from its last cursor with no gap and no duplicate.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use argus_proto::v1::feed_service_server::FeedService;
use argus_proto::v1::{FindingChange, FindingFilter, SubscribeRequest, SubscribeResponse};
use futures::stream::{self, BoxStream, StreamExt};
use tokio::sync::{mpsc, watch};
use tonic::{Request, Response, Status};

use super::{read, Stop};
use crate::error::Error;
use crate::state::State;

/// Changes read from the change log at once.
const PAGE: usize = 512;
/// Messages buffered for one subscriber; past it the producer waits for the consumer, so a
/// slow consumer holds at most this many changes in this node's memory.
const BUFFER: usize = 1024;

type Item = Result<SubscribeResponse, Status>;
type Page = (Vec<FindingChange>, u64);

pub struct FeedApi {
    state: Arc<State>,
    stop: Stop,
}

impl FeedApi {
    pub fn new(state: Arc<State>, stop: Stop) -> Self {
        Self { state, stop }
    }
}

#[tonic::async_trait]
impl FeedService for FeedApi {
    type SubscribeStream = BoxStream<'static, Item>;

    async fn subscribe(&self, request: Request<SubscribeRequest>) -> Result<Response<Self::SubscribeStream>, Status> {
        let SubscribeRequest {
            after_cursor,
            filter,
            backlog_only,
        } = request.into_inner();
        let mut watch = self.state.watch_cursor();
        // Marked seen before the first read: a change committed after it wakes the follower.
        watch.borrow_and_update();
        // The first page is read here so that a filter the state machine refuses fails the
        // call itself. An expired cursor is the stream's first and only item instead.
        let (backlog_end, first) = read(&self.state, {
            let filter = filter.clone();
            move |s| {
                let bounds = s.change_log_bounds()?;
                match s.changes_after(after_cursor, filter.as_ref(), PAGE) {
                    Ok(page) => Ok((bounds.next.saturating_sub(1), Ok(page))),
                    Err(e @ Error::CursorExpired { .. }) => Ok((bounds.next.saturating_sub(1), Err(e))),
                    Err(e) => Err(e),
                }
            }
        })
        .await?;
        let first = match first {
            Ok(page) => page,
            Err(expired) => return Ok(Response::new(stream::iter([Err(Status::from(expired))]).boxed())),
        };
        let (tx, rx) = mpsc::channel(BUFFER);
        let complete = Arc::new(AtomicBool::new(false));
        let follower = Follower {
            state: self.state.clone(),
            filter,
            cursor: after_cursor,
            backlog_end: backlog_only.then_some(backlog_end),
            watch,
            tx,
            stop: self.stop.clone(),
            complete: complete.clone(),
            progress: crate::telemetry::instruments::subscribe(after_cursor),
        };
        tokio::spawn(follower.run(first));
        Ok(Response::new(consume(rx, complete)))
    }
}

/// The messages of one subscription. Only a complete backlog ends it with OK: when the
/// producer stops for any other reason (shutdown, a failed read already sent, a panic) the
/// consumer must not mistake the end for completion.
fn consume(rx: mpsc::Receiver<Item>, complete: Arc<AtomicBool>) -> BoxStream<'static, Item> {
    stream::unfold(Some(rx), move |rx| {
        let complete = complete.clone();
        async move {
            let mut rx = rx?;
            match rx.recv().await {
                Some(Ok(message)) => Some((Ok(message), Some(rx))),
                // An error ends the stream.
                Some(Err(status)) => Some((Err(status), None)),
                None if complete.load(Ordering::Acquire) => None,
                None => Some((Err(interrupted()), None)),
            }
        }
    })
    .boxed()
}

fn interrupted() -> Status {
    Status::unavailable(
        "the subscription was interrupted on this coordinator: resubscribe with the last cursor received",
    )
}

/// Produces one subscription's messages until the consumer leaves, the backlog ends (for
/// `backlog_only`), a read fails or the server stops.
struct Follower {
    state: Arc<State>,
    filter: Option<FindingFilter>,
    /// The last change examined: every change up to it was sent or did not match. Reads always
    /// resume after it, so nothing is skipped or sent twice, including when a snapshot install
    /// replaced the state underneath (the change log only grows or is compacted; compaction
    /// past the cursor ends the stream with FAILED_PRECONDITION).
    cursor: u64,
    backlog_end: Option<u64>,
    watch: watch::Receiver<u64>,
    tx: mpsc::Sender<Item>,
    stop: Stop,
    /// Set when the subscription ended because it is complete.
    complete: Arc<AtomicBool>,
    /// The cursor, as the feed-lag metric reads it.
    progress: Arc<crate::telemetry::instruments::FeedProgress>,
}

impl Follower {
    async fn run(mut self, first: Page) {
        let mut page = Some(first);
        loop {
            let (changes, examined) = match page.take() {
                Some(p) => p,
                None => {
                    self.watch.borrow_and_update();
                    match self.read().await {
                        Ok(p) => p,
                        Err(status) => {
                            self.send(Err(status)).await;
                            return;
                        }
                    }
                }
            };
            let full = changes.len() >= PAGE;
            let before = self.cursor;
            for change in changes {
                let cursor = change.cursor;
                // A change at or before the cursor was already sent.
                if cursor <= self.cursor {
                    continue;
                }
                if !self.send(Ok(SubscribeResponse { change: Some(change) })).await {
                    return;
                }
                self.cursor = cursor;
            }
            self.cursor = self.cursor.max(examined);
            self.progress.cursor.store(self.cursor, Ordering::Relaxed);
            let head = *self.watch.borrow();
            match next_step(full, self.cursor > before, self.cursor, head, self.backlog_end) {
                Next::Read => continue,
                Next::End => {
                    self.complete.store(true, Ordering::Release);
                    return;
                }
                Next::Wait => {}
            }
            // Returning drops the sender: the consumer then learns the subscription was
            // interrupted, and a shutdown is not held up by subscribers that never leave.
            tokio::select! {
                changed = self.watch.changed() => {
                    if changed.is_err() {
                        return;
                    }
                }
                _ = self.tx.closed() => return,
                _ = self.stop.clone() => return,
            }
        }
    }

    async fn read(&self) -> Result<Page, Status> {
        let (cursor, filter) = (self.cursor, self.filter.clone());
        read(&self.state, move |s| s.changes_after(cursor, filter.as_ref(), PAGE)).await
    }

    /// Sends one message, waiting while the consumer's buffer is full. False when the consumer
    /// has gone or the server is stopping.
    async fn send(&self, item: Item) -> bool {
        tokio::select! {
            sent = self.tx.send(item) => sent.is_ok(),
            _ = self.stop.clone() => false,
        }
    }
}

#[derive(Debug, PartialEq)]
enum Next {
    /// Read the next page now.
    Read,
    /// Caught up: wait for the next change.
    Wait,
    /// The subscription is complete.
    End,
}

/// What follows a page: `full` when it held as many changes as asked for, `progressed` when
/// the cursor moved, `head` the last cursor the state machine has announced so far.
fn next_step(full: bool, progressed: bool, cursor: u64, head: u64, backlog_end: Option<u64>) -> Next {
    // A full page may have stopped short of more matching changes. Requiring progress keeps a
    // read that moves nothing from spinning.
    let more = full || (progressed && cursor < head);
    match backlog_end {
        Some(end) if cursor >= end || !progressed => Next::End,
        Some(_) => Next::Read,
        None if more => Next::Read,
        None => Next::Wait,
    }
}

#[cfg(test)]
mod tests {
    use tonic::Code;

    use super::*;

    fn change(cursor: u64) -> Item {
        Ok(SubscribeResponse {
            change: Some(FindingChange {
                cursor,
                ..Default::default()
            }),
        })
    }

    async fn collect(items: Vec<Item>, complete: bool) -> Vec<Item> {
        let (tx, rx) = mpsc::channel(BUFFER);
        for item in items {
            tx.send(item).await.unwrap();
        }
        let done = Arc::new(AtomicBool::new(complete));
        drop(tx);
        consume(rx, done).collect().await
    }

    #[tokio::test]
    async fn a_complete_backlog_ends_the_stream_with_ok() {
        let items = collect(vec![change(1), change(2)], true).await;
        let cursors: Vec<u64> = items
            .iter()
            .map(|i| i.as_ref().unwrap().change.as_ref().unwrap().cursor)
            .collect();
        assert_eq!(cursors, [1, 2]);
    }

    #[tokio::test]
    async fn a_subscription_whose_producer_stops_early_ends_unavailable_not_ok() {
        let items = collect(vec![change(1)], false).await;
        assert_eq!(items.len(), 2);
        assert!(items[0].is_ok());
        assert_eq!(items[1].as_ref().unwrap_err().code(), Code::Unavailable);
    }

    #[tokio::test]
    async fn a_failure_from_the_producer_is_the_last_item() {
        let failed = Err(Status::from(Error::CursorExpired { cursor: 1, first: 5 }));
        let items = collect(vec![change(7), failed, change(8)], false).await;
        assert_eq!(items.len(), 2);
        assert_eq!(items[1].as_ref().unwrap_err().code(), Code::FailedPrecondition);
    }

    #[test]
    fn a_full_page_is_followed_by_another_read() {
        assert_eq!(next_step(true, true, 600, 600, None), Next::Read);
        assert_eq!(next_step(true, true, 512, 10_000, None), Next::Read);
    }

    #[test]
    fn a_live_subscription_waits_once_caught_up() {
        assert_eq!(next_step(false, true, 700, 700, None), Next::Wait);
        assert_eq!(next_step(false, false, 700, 700, None), Next::Wait);
    }

    #[test]
    fn a_short_page_behind_the_head_reads_on_while_it_progresses() {
        assert_eq!(next_step(false, true, 300, 900, None), Next::Read);
        // No progress: waiting for the next change beats spinning on the same read.
        assert_eq!(next_step(false, false, 300, 900, None), Next::Wait);
    }

    #[test]
    fn a_backlog_subscription_ends_at_the_head_it_started_from() {
        assert_eq!(next_step(true, true, 512, 2000, Some(2000)), Next::Read);
        assert_eq!(next_step(false, true, 1024, 2000, Some(2000)), Next::Read);
        assert_eq!(next_step(false, true, 2000, 2500, Some(2000)), Next::End);
        assert_eq!(next_step(true, true, 2048, 2500, Some(2000)), Next::End);
    }

    #[test]
    fn a_backlog_subscription_with_nothing_left_ends() {
        // Nothing after the cursor: nothing examined, nothing sent.
        assert_eq!(next_step(false, false, 50, 50, Some(50)), Next::End);
        assert_eq!(next_step(false, false, 10, 50, Some(50)), Next::End);
    }
}
