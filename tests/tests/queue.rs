//! One queue-semantics suite, run against the in-process queue (`memory::`) and a real
//! nats-server 2.9 on loopback (`nats::`): the embedded mode and the distributed engine must
//! deliver, redeliver, de-duplicate and give up identically. NATS alone is also restarted with
//! an empty store, which the in-process queue has no equivalent of.
//!
//! Time only bounds waits: a test waits for a condition, and asserts at most that something did
//! not happen before it could have.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use argus_tests::nats::NatsServer;
use argus_worker::queue::{Backlog, Queue, QueueConfig, QueueError};

const ACK_WAIT: Duration = Duration::from_secs(1);
const MAX_DELIVER: u32 = 3;
const MAX_RESULTS: u64 = 5;
/// Long enough for anything that should arrive to arrive, on a loaded machine.
const PATIENCE: Duration = Duration::from_secs(20);

fn config() -> QueueConfig {
    QueueConfig {
        ack_wait: ACK_WAIT,
        max_deliver: MAX_DELIVER,
        duplicate_window: Duration::from_secs(60),
        max_results: MAX_RESULTS,
        max_ack_pending: 1000,
        retry_for: Duration::from_secs(20),
    }
}

/// Runs each body against both queues.
macro_rules! semantics {
    ($($name:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let q = argus_worker::queue::Queue::memory(super::config());
                    super::$name(&q).await;
                }
            )*
        }
        mod nats {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let server = argus_tests::nats::NatsServer::start();
                    let q = argus_worker::queue::Queue::connect_nats(&server.url(), super::config())
                        .await
                        .unwrap_or_else(|e| panic!("connecting: {e}\n{}", server.log_tail()));
                    super::$name(&q).await;
                }
            )*
        }
    };
}

semantics!(
    a_published_job_is_fetched_once_and_gone_after_its_ack,
    results_travel_on_their_own_stream_and_consumer,
    an_unacked_delivery_is_delivered_again_after_ack_wait,
    progress_keeps_a_delivery_from_being_delivered_again,
    nak_hands_a_message_back_at_once_or_after_its_delay,
    a_message_id_published_twice_is_stored_once,
    max_deliver_stops_redelivery,
    two_fetchers_never_hold_the_same_message_at_once,
    a_full_results_stream_refuses_results_until_one_is_acked,
    headers_travel_with_jobs_and_results_and_the_queues_own_stay_out,
);

async fn publish(q: &Queue, id: &str, payload: &'static str) {
    q.publish_job("acct-1", id, payload.into()).await.unwrap();
}

async fn a_published_job_is_fetched_once_and_gone_after_its_ack(q: &Queue) {
    publish(q, "job-1/1", "one").await;
    assert_eq!(q.pending_jobs().await.unwrap(), 1);
    let jobs = q.jobs().await.unwrap();
    let got = jobs.fetch(10, PATIENCE).await.unwrap();
    assert_eq!(got.len(), 1);
    let d = &got[0];
    assert_eq!(d.payload, "one");
    assert_eq!(d.subject, "argus.jobs.acct-1");
    assert_eq!(d.msg_id, "job-1/1");
    assert_eq!(d.delivered, 1);
    assert_eq!(q.jobs_backlog().await.unwrap(), Backlog { waiting: 0, unacked: 1 });
    d.ack().await.unwrap();
    assert_eq!(q.pending_jobs().await.unwrap(), 0);
    assert!(
        jobs.fetch(10, ACK_WAIT * 2).await.unwrap().is_empty(),
        "acked is gone for good"
    );
    assert!(matches!(
        q.publish_job("a.b", "x", "bad shard".into()).await,
        Err(QueueError::InvalidShard(_))
    ));
}

async fn headers_travel_with_jobs_and_results_and_the_queues_own_stay_out(q: &Queue) {
    let headers = vec![
        (
            "traceparent".to_string(),
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".to_string(),
        ),
        ("tracestate".to_string(), "argus=1".to_string()),
    ];
    q.publish_job_with("acct-1", "job-h/1", "job".into(), &headers)
        .await
        .unwrap();
    q.publish_result_with("job-h/1", "result".into(), &headers[..1])
        .await
        .unwrap();
    q.publish_result("job-i/1", "plain".into()).await.unwrap();
    let mut job = q.jobs().await.unwrap().fetch(1, PATIENCE).await.unwrap();
    let mut job_headers = job[0].headers.clone();
    job_headers.sort();
    assert_eq!(job_headers, headers, "only the application's headers, all of them");
    job.pop().unwrap().ack().await.unwrap();
    let results = q.results().await.unwrap();
    let mut got = Vec::new();
    while got.len() < 2 {
        got.extend(results.fetch(2, PATIENCE).await.unwrap());
    }
    assert_eq!(got[0].headers, headers[..1].to_vec());
    assert!(
        got[1].headers.is_empty(),
        "a message published without headers has none"
    );
    for d in got {
        d.ack().await.unwrap();
    }
}

async fn results_travel_on_their_own_stream_and_consumer(q: &Queue) {
    publish(q, "job-2/1", "a job").await;
    q.publish_result("job-2/1", "a result".into()).await.unwrap();
    let results = q.results().await.unwrap();
    let got = results.fetch(10, PATIENCE).await.unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(
        (got[0].payload.as_ref(), got[0].subject.as_str()),
        (&b"a result"[..], "argus.results")
    );
    got[0].ack().await.unwrap();
    assert_eq!(q.results_backlog().await.unwrap(), Backlog::default());
    assert_eq!(q.pending_jobs().await.unwrap(), 1, "the job is untouched");
}

async fn an_unacked_delivery_is_delivered_again_after_ack_wait(q: &Queue) {
    publish(q, "job-3/1", "three").await;
    let jobs = q.jobs().await.unwrap();
    let first = jobs.fetch(1, PATIENCE).await.unwrap().pop().expect("delivered");
    let taken = Instant::now();
    assert_eq!(first.delivered, 1);
    let again = jobs.fetch(1, PATIENCE).await.unwrap().pop().expect("delivered again");
    assert!(
        taken.elapsed() >= ACK_WAIT - Duration::from_millis(100),
        "not before ack_wait"
    );
    assert_eq!((again.delivered, again.payload.as_ref()), (2, &b"three"[..]));
    again.ack().await.unwrap();
    assert_eq!(q.pending_jobs().await.unwrap(), 0);
}

async fn progress_keeps_a_delivery_from_being_delivered_again(q: &Queue) {
    publish(q, "job-4/1", "four").await;
    let jobs = q.jobs().await.unwrap();
    let d = jobs.fetch(1, PATIENCE).await.unwrap().pop().expect("delivered");
    // Three ack_waits under heartbeats; another fetcher polls all along.
    let until = Instant::now() + ACK_WAIT * 3;
    while Instant::now() < until {
        d.progress().await.unwrap();
        let stolen = jobs.fetch(1, Duration::from_millis(100)).await.unwrap();
        assert!(stolen.is_empty(), "delivered again despite progress: {stolen:?}");
    }
    d.ack().await.unwrap();
    assert_eq!(q.pending_jobs().await.unwrap(), 0);
}

async fn nak_hands_a_message_back_at_once_or_after_its_delay(q: &Queue) {
    publish(q, "job-5/1", "five").await;
    let jobs = q.jobs().await.unwrap();
    let d = jobs.fetch(1, PATIENCE).await.unwrap().pop().expect("delivered");
    let delay = Duration::from_millis(1500);
    d.nak(Some(delay)).await.unwrap();
    let naked = Instant::now();
    assert!(jobs.fetch(1, Duration::from_millis(200)).await.unwrap().is_empty() || naked.elapsed() >= delay);
    let d = jobs
        .fetch(1, PATIENCE)
        .await
        .unwrap()
        .pop()
        .expect("delivered after the delay");
    assert!(
        naked.elapsed() >= delay - Duration::from_millis(100),
        "not before the delay"
    );
    assert_eq!(d.delivered, 2);
    // Without a delay it is deliverable again at once.
    d.nak(None).await.unwrap();
    let d = jobs
        .fetch(1, PATIENCE)
        .await
        .unwrap()
        .pop()
        .expect("delivered after a plain nak");
    assert_eq!(d.delivered, 3);
    d.ack().await.unwrap();
    assert_eq!(q.pending_jobs().await.unwrap(), 0);
}

async fn a_message_id_published_twice_is_stored_once(q: &Queue) {
    publish(q, "job-6/1", "first").await;
    publish(q, "job-6/1", "second").await;
    assert_eq!(q.pending_jobs().await.unwrap(), 1);
    let jobs = q.jobs().await.unwrap();
    let got = jobs.fetch(10, PATIENCE).await.unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].payload, "first");
    got[0].ack().await.unwrap();
    // Within the window the id stays known after the ack: a late retry is still a duplicate.
    publish(q, "job-6/1", "late retry").await;
    assert_eq!(q.pending_jobs().await.unwrap(), 0);
    publish(q, "job-6/2", "next attempt").await;
    assert_eq!(q.pending_jobs().await.unwrap(), 1);
    q.publish_result("job-6/1", "r".into()).await.unwrap();
    q.publish_result("job-6/1", "r".into()).await.unwrap();
    assert_eq!(q.results_backlog().await.unwrap().waiting, 1);
}

async fn max_deliver_stops_redelivery(q: &Queue) {
    publish(q, "job-7/1", "seven").await;
    let jobs = q.jobs().await.unwrap();
    for n in 1..=MAX_DELIVER {
        let d = jobs.fetch(1, PATIENCE).await.unwrap().pop().expect("delivered");
        assert_eq!(d.delivered, n);
        d.nak(None).await.unwrap();
    }
    assert!(
        jobs.fetch(1, ACK_WAIT * 2).await.unwrap().is_empty(),
        "no delivery beyond max_deliver"
    );
    assert_eq!(q.jobs_backlog().await.unwrap(), Backlog::default());
}

async fn two_fetchers_never_hold_the_same_message_at_once(q: &Queue) {
    const N: usize = 60;
    for i in 0..N {
        q.publish_job("acct-1", &format!("job-8-{i}/1"), format!("{i}").into_bytes().into())
            .await
            .unwrap();
    }
    let held: Arc<Mutex<HashSet<String>>> = Arc::default();
    let done: Arc<Mutex<Vec<String>>> = Arc::default();
    let mut fetchers = Vec::new();
    for _ in 0..2 {
        let consumer = q.jobs().await.unwrap();
        let (held, done) = (held.clone(), done.clone());
        fetchers.push(tokio::spawn(async move {
            let give_up = Instant::now() + PATIENCE * 3;
            while done.lock().unwrap().len() < N {
                assert!(Instant::now() < give_up, "gave up waiting for all messages");
                for d in consumer.fetch(4, Duration::from_millis(200)).await.unwrap() {
                    assert!(
                        held.lock().unwrap().insert(d.msg_id.clone()),
                        "{} handed to both fetchers",
                        d.msg_id
                    );
                    tokio::task::yield_now().await;
                    held.lock().unwrap().remove(&d.msg_id);
                    d.ack().await.unwrap();
                    done.lock().unwrap().push(d.msg_id.clone());
                }
            }
        }));
    }
    for f in fetchers {
        f.await.unwrap();
    }
    let done = done.lock().unwrap();
    let distinct: HashSet<&String> = done.iter().collect();
    assert_eq!((done.len(), distinct.len()), (N, N), "each message exactly once");
    assert_eq!(q.pending_jobs().await.unwrap(), 0);
}

async fn a_full_results_stream_refuses_results_until_one_is_acked(q: &Queue) {
    for i in 0..MAX_RESULTS {
        q.publish_result(&format!("r-{i}"), "r".into()).await.unwrap();
    }
    match q.publish_result("r-extra", "r".into()).await {
        Err(QueueError::Full { limit, .. }) => assert_eq!(limit, MAX_RESULTS),
        other => panic!("expected a full stream, got {other:?}"),
    }
    let results = q.results().await.unwrap();
    let d = results.fetch(1, PATIENCE).await.unwrap().pop().expect("a result");
    d.ack().await.unwrap();
    q.publish_result("r-extra", "r".into()).await.unwrap();
    assert_eq!(q.results_backlog().await.unwrap().waiting, MAX_RESULTS);
}

/// The store is gone after the restart: what was queued is lost (the scheduler re-publishes
/// it), but publishing and fetching, through handles taken before the restart, work again
/// without anyone re-creating the streams by hand.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_restarted_with_an_empty_store_works_again_through_the_same_handles() {
    let mut server = NatsServer::start();
    let q = Queue::connect_nats(&server.url(), config()).await.unwrap();
    let jobs = q.jobs().await.unwrap();
    let results = q.results().await.unwrap();
    publish(&q, "before/1", "lost with the store").await;
    q.publish_result("before/1", "lost too".into()).await.unwrap();

    server.restart_empty();

    publish(&q, "after/1", "after").await;
    let got = jobs.fetch(10, PATIENCE).await.unwrap();
    let payloads: Vec<&[u8]> = got.iter().map(|d| d.payload.as_ref()).collect();
    assert_eq!(payloads, [&b"after"[..]], "{}", server.log_tail());
    got[0].ack().await.unwrap();
    q.publish_result("after/1", "result after".into()).await.unwrap();
    let got = results.fetch(10, PATIENCE).await.unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].payload, "result after");
    got[0].ack().await.unwrap();
    assert_eq!(q.pending_jobs().await.unwrap(), 0);

    // A fetch while the server is down ends (empty or with an error) instead of hanging, and
    // fetching recovers once it is back.
    server.kill();
    let down = Instant::now();
    let _ = jobs.fetch(1, Duration::from_millis(500)).await;
    assert!(down.elapsed() < PATIENCE, "a fetch against a dead server must end");
    server.restart_empty();
    publish(&q, "after-2/1", "again").await;
    let got = jobs.fetch(1, PATIENCE).await.unwrap();
    assert_eq!(got.len(), 1, "{}", server.log_tail());
    got[0].ack().await.unwrap();
}

/// A worker starting while NATS is away: its request for the consumer goes unanswered for
/// longer than one request may wait, and the consumer is set up once the server is back (with
/// an empty store) instead of the worker giving up on its first timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_asked_for_while_nats_is_down_is_set_up_once_it_is_back() {
    let mut server = NatsServer::start();
    let q = Queue::connect_nats(&server.url(), config()).await.unwrap();
    server.kill();
    let asking = tokio::spawn({
        let q = q.clone();
        async move { q.jobs().await }
    });
    // The outage outlasts JetStream's request timeout (5 s), so one attempt times out.
    let down = Instant::now();
    while down.elapsed() < Duration::from_secs(7) {
        assert!(!asking.is_finished(), "gave up while the server was down");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    server.restart_empty();
    let jobs = asking
        .await
        .unwrap()
        .unwrap_or_else(|e| panic!("the consumer was not set up: {e}\n{}", server.log_tail()));
    publish(&q, "after/1", "after").await;
    let got = jobs.fetch(1, PATIENCE).await.unwrap();
    assert_eq!(got.len(), 1, "{}", server.log_tail());
    got[0].ack().await.unwrap();
}
