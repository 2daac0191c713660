//! Specifications of the Raft storage, snapshots and networking: openraft's conformance suite,
//! snapshot round trips and refusals, crash recovery, and a real cluster on loopback gRPC.

mod cluster;

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use argus_proto::internal::v1::{command, Command, CompactChangeLog, Proposal};
use openraft::error::{Fatal, InstallSnapshotError, RPCError, RaftError, SnapshotMismatch};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{AppendEntriesRequest, AppendEntriesResponse, VoteRequest};
use openraft::storage::{RaftLogStorage, RaftLogStorageExt, RaftStateMachine};
use openraft::testing::{blank_ent, log_id, membership_ent, StoreBuilder, Suite};
use openraft::{
    BasicNode, Entry, EntryPayload, RaftLogReader, RaftSnapshotBuilder, SnapshotSegmentId, StorageError, Vote,
};
use prost::Message;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rocksdb::{IteratorMode, WriteOptions, DB};
use tempfile::TempDir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::log_store::{cf, read_meta, LogStore};
use super::network::Network;
use super::snapshot::{InstallMarker, KEY_INSTALLING};
use super::state_machine::StateMachine;
use super::store::{self, CF_RAFT_META};
use super::{codec, NodeId, Reply, Request, TypeConfig};
use crate::state::{self, State};

/// A store on disk under `dir`: the database in `dir/db`, snapshots in `dir/snapshots`.
fn open_at(dir: &Path) -> (Arc<DB>, LogStore, StateMachine) {
    let db = store::open(&dir.join("db")).expect("open database");
    let state = Arc::new(State::new(db.clone()).expect("state"));
    let log = LogStore::new(db.clone()).expect("log store");
    let sm = StateMachine::open(db.clone(), state, dir.join("snapshots")).expect("state machine");
    (db, log, sm)
}

struct FreshStore;

impl StoreBuilder<TypeConfig, LogStore, StateMachine, TempDir> for FreshStore {
    async fn build(&self) -> Result<(TempDir, LogStore, StateMachine), StorageError<NodeId>> {
        let dir = tempfile::tempdir().expect("temp dir");
        let (_, log, sm) = open_at(dir.path());
        Ok((dir, log, sm))
    }
}

#[test]
fn openraft_storage_conformance_suite_passes() {
    Suite::test_all(FreshStore).expect("storage suite");
}

fn blank(term: u64, index: u64) -> Entry<TypeConfig> {
    blank_ent::<TypeConfig>(term, 1, index)
}

fn membership(term: u64, index: u64, voters: &[NodeId]) -> Entry<TypeConfig> {
    membership_ent::<TypeConfig>(term, 1, index, vec![voters.iter().copied().collect::<BTreeSet<_>>()])
}

/// A normal entry whose proposal carries one (distinct) command.
fn normal(term: u64, index: u64) -> Entry<TypeConfig> {
    let command = Command {
        kind: Some(command::Kind::CompactChangeLog(CompactChangeLog {
            before: None,
            keep_last: index,
        })),
    };
    Entry {
        log_id: log_id(term, 1, index),
        payload: EntryPayload::Normal(Request::new(Proposal {
            now: None,
            commands: vec![command],
        })),
    }
}

fn empty_proposal() -> Request {
    Request::new(Proposal {
        now: None,
        commands: Vec::new(),
    })
}

/// Writes `records` random keys and values of random sizes into the state column families,
/// the way the state machine does (through `Txn` and `commit`).
fn fill(state: &State, records: usize, seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed);
    for batch in (0..records).collect::<Vec<_>>().chunks(20_000) {
        let mut txn = state.begin();
        for &n in batch {
            let cf = state::COLUMN_FAMILIES[rng.gen_range(0..state::COLUMN_FAMILIES.len())];
            // A distinct key per record (`raft.` keys of sm_meta belong to the Raft state
            // machine, so these never take that form), with a random tail of random length.
            let mut key = format!("test.{n:08}.").into_bytes();
            key.extend((0..rng.gen_range(0..40)).map(|_| rng.gen::<u8>()));
            let value: Vec<u8> = (0..rng.gen_range(0..600)).map(|_| rng.gen()).collect();
            txn.put(cf, key, value);
        }
        state.commit(txn).expect("commit");
    }
}

/// Asserts that every state column family of `a` and `b` holds the same bytes; returns the
/// number of records compared.
fn assert_same_state(a: &DB, b: &DB) -> usize {
    let mut total = 0;
    for name in state::COLUMN_FAMILIES {
        let mut left = a.iterator_cf(cf(a, name), IteratorMode::Start);
        let mut right = b.iterator_cf(cf(b, name), IteratorMode::Start);
        loop {
            match (left.next().transpose().unwrap(), right.next().transpose().unwrap()) {
                (None, None) => break,
                (l, r) => {
                    assert_eq!(l, r, "column family {name} differs after {total} records");
                    total += 1;
                }
            }
        }
    }
    total
}

/// Every state record of `db`, for before/after comparisons of small stores.
fn dump(db: &DB) -> Vec<(&'static str, Box<[u8]>, Box<[u8]>)> {
    let mut out = Vec::new();
    for name in state::COLUMN_FAMILIES {
        for item in db.iterator_cf(cf(db, name), IteratorMode::Start) {
            let (k, v) = item.unwrap();
            out.push((*name, k, v));
        }
    }
    out
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

async fn snapshot_bytes(sm: &mut StateMachine) -> Vec<u8> {
    let mut snapshot = sm.get_current_snapshot().await.unwrap().expect("a snapshot");
    let mut bytes = Vec::new();
    snapshot.snapshot.read_to_end(&mut bytes).await.unwrap();
    bytes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snapshot_of_200k_records_installs_byte_for_byte_into_another_store() {
    let a_dir = tempfile::tempdir().unwrap();
    let (a_db, _a_log, mut a_sm) = open_at(a_dir.path());
    fill(a_sm.state(), 200_000, 1);
    a_sm.apply([blank(1, 1), membership(1, 2, &[1, 2, 3]), blank(1, 3)])
        .await
        .unwrap();
    let mut built = a_sm.get_snapshot_builder().await.build_snapshot().await.unwrap();
    assert_eq!(built.meta.last_log_id, Some(log_id(1, 1, 3)));
    assert_eq!(built.meta.last_membership.log_id(), &Some(log_id(1, 1, 2)));

    let b_dir = tempfile::tempdir().unwrap();
    let (b_db, _b_log, mut b_sm) = open_at(b_dir.path());
    // Older, different content that the install must replace entirely.
    fill(b_sm.state(), 5_000, 2);
    b_sm.apply([blank(1, 1)]).await.unwrap();

    // What openraft does with a received snapshot: write it into the file it asked for.
    let mut received = b_sm.begin_receiving_snapshot().await.unwrap();
    tokio::io::copy(&mut *built.snapshot, &mut *received).await.unwrap();
    b_sm.install_snapshot(&built.meta, received).await.unwrap();

    // Every filled record plus the applied log id and membership.
    assert_eq!(assert_same_state(&a_db, &b_db), 200_000 + 2);
    assert_eq!(b_sm.applied_state().await.unwrap(), a_sm.applied_state().await.unwrap());
    assert_eq!(b_sm.get_current_snapshot().await.unwrap().unwrap().meta, built.meta);
    assert_eq!(
        files_in(b_sm.snapshot_dir()).len(),
        1,
        "only the installed snapshot is kept"
    );

    // Applying continues after the snapshot, and everything survives a restart.
    b_sm.apply([blank(2, 4)]).await.unwrap();
    drop((b_sm, _b_log, b_db));
    let (b_db, _b_log, mut b_sm) = open_at(b_dir.path());
    let (applied, members) = b_sm.applied_state().await.unwrap();
    assert_eq!(applied, Some(log_id(2, 1, 4)));
    assert_eq!(&members, &built.meta.last_membership);
    assert_eq!(b_sm.get_current_snapshot().await.unwrap().unwrap().meta, built.meta);
    drop(a_db);
    drop(b_db);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupt_or_truncated_snapshots_are_refused_and_leave_the_state_intact() {
    let a_dir = tempfile::tempdir().unwrap();
    let (_a_db, _a_log, mut a_sm) = open_at(a_dir.path());
    fill(a_sm.state(), 3_000, 3);
    a_sm.apply([membership(1, 1, &[1]), blank(1, 2)]).await.unwrap();
    let meta = a_sm.get_snapshot_builder().await.build_snapshot().await.unwrap().meta;
    let good = snapshot_bytes(&mut a_sm).await;

    let b_dir = tempfile::tempdir().unwrap();
    let (b_db, _b_log, mut b_sm) = open_at(b_dir.path());
    fill(b_sm.state(), 1_000, 4);
    b_sm.apply([blank(1, 1)]).await.unwrap();
    let before = dump(&b_db);
    let applied_before = b_sm.applied_state().await.unwrap();

    let mut flipped = good.clone();
    let middle = flipped.len() / 2;
    flipped[middle] ^= 0x40;
    let mut bad_magic = good.clone();
    bad_magic[0] ^= 1;
    let mut bad_checksum = good.clone();
    *bad_checksum.last_mut().unwrap() ^= 1;
    let mut other_meta = meta.clone();
    other_meta.snapshot_id = "someone-else".into();
    let cases: Vec<(&str, Vec<u8>, _)> = vec![
        ("a flipped byte in the records", flipped, meta.clone()),
        ("half the file", good[..good.len() / 2].to_vec(), meta.clone()),
        ("the checksum cut short", good[..good.len() - 1].to_vec(), meta.clone()),
        ("a wrong checksum", bad_checksum, meta.clone()),
        ("a wrong magic", bad_magic, meta.clone()),
        ("an empty file", Vec::new(), meta.clone()),
        ("a different snapshot than announced", good.clone(), other_meta),
    ];
    for (case, bytes, announced) in cases {
        let mut received = b_sm.begin_receiving_snapshot().await.unwrap();
        received.write_all(&bytes).await.unwrap();
        let refused = b_sm.install_snapshot(&announced, received).await;
        assert!(refused.is_err(), "{case} was installed");
        assert!(dump(&b_db) == before, "{case} changed the state");
        assert_eq!(b_sm.applied_state().await.unwrap(), applied_before, "{case}");
        assert!(
            b_sm.get_current_snapshot().await.unwrap().is_none(),
            "{case} became the current snapshot"
        );
        assert!(
            read_meta::<InstallMarker>(&b_db, KEY_INSTALLING).unwrap().is_none(),
            "{case} left a marker"
        );
        assert_eq!(files_in(b_sm.snapshot_dir()), Vec::<String>::new(), "{case} left files");
    }

    // The good file still installs afterwards.
    let mut received = b_sm.begin_receiving_snapshot().await.unwrap();
    received.write_all(&good).await.unwrap();
    b_sm.install_snapshot(&meta, received).await.unwrap();
    assert_eq!(b_sm.applied_state().await.unwrap().0, Some(log_id(1, 1, 2)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_install_interrupted_by_a_crash_is_finished_when_the_store_reopens() {
    let a_dir = tempfile::tempdir().unwrap();
    let (a_db, _a_log, mut a_sm) = open_at(a_dir.path());
    fill(a_sm.state(), 20_000, 5);
    a_sm.apply([membership(3, 7, &[1, 2]), blank(3, 8)]).await.unwrap();
    let meta = a_sm.get_snapshot_builder().await.build_snapshot().await.unwrap().meta;
    let bytes = snapshot_bytes(&mut a_sm).await;

    // The crash may come before or after the received file was renamed to its final name.
    for renamed in [false, true] {
        let b_dir = tempfile::tempdir().unwrap();
        {
            let (b_db, _b_log, b_sm) = open_at(b_dir.path());
            fill(b_sm.state(), 10_000, 6);
            let marker = InstallMarker {
                source: "recv-crashed.part".into(),
                target: "snapshot-crashed.snap".into(),
            };
            let on_disk = if renamed { &marker.target } else { &marker.source };
            std::fs::write(b_sm.snapshot_dir().join(on_disk), &bytes).unwrap();
            let mut synced = WriteOptions::default();
            synced.set_sync(true);
            b_db.put_cf_opt(
                cf(&b_db, CF_RAFT_META),
                KEY_INSTALLING,
                codec::encode(&marker).unwrap(),
                &synced,
            )
            .unwrap();
            // Half of the old state already cleared when the process died.
            let findings = cf(&b_db, "findings");
            let keys: Vec<Box<[u8]>> = b_db
                .iterator_cf(findings, IteratorMode::Start)
                .map(|item| item.unwrap().0)
                .collect();
            for key in &keys[..keys.len() / 2] {
                b_db.delete_cf(findings, key).unwrap();
            }
        }

        let (b_db, _b_log, mut b_sm) = open_at(b_dir.path());
        assert_same_state(&a_db, &b_db);
        assert_eq!(
            b_sm.applied_state().await.unwrap(),
            (meta.last_log_id, meta.last_membership.clone())
        );
        assert_eq!(b_sm.get_current_snapshot().await.unwrap().unwrap().meta, meta);
        assert!(read_meta::<InstallMarker>(&b_db, KEY_INSTALLING).unwrap().is_none());
        assert_eq!(
            files_in(b_sm.snapshot_dir()),
            vec!["snapshot-crashed.snap".to_string()],
            "renamed={renamed}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_vote_committed_and_purge_point_survive_reopening_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let mut written = Vec::new();
    {
        let (_db, mut log, _sm) = open_at(dir.path());
        for index in 1..=40 {
            written.push(match index % 3 {
                0 => normal(1 + index / 20, index),
                1 => blank(1 + index / 20, index),
                _ => membership(1 + index / 20, index, &[1, 2, index]),
            });
        }
        log.blocking_append(written[..25].to_vec()).await.unwrap();
        log.blocking_append(written[25..].to_vec()).await.unwrap();
        log.save_vote(&Vote::new(3, 2)).await.unwrap();
        log.save_committed(Some(written[29].log_id)).await.unwrap();
        log.purge(written[9].log_id).await.unwrap();
        // Entries 36.. conflicted with a new leader and were dropped.
        log.truncate(written[35].log_id).await.unwrap();
    }

    let (_db, mut log, _sm) = open_at(dir.path());
    let state = log.get_log_state().await.unwrap();
    assert_eq!(state.last_purged_log_id, Some(written[9].log_id));
    assert_eq!(state.last_log_id, Some(written[34].log_id));
    let entries = log.try_get_log_entries(0..100).await.unwrap();
    assert_eq!(entries, written[10..35].to_vec());
    assert_eq!(
        log.try_get_log_entries(12..=13).await.unwrap(),
        written[11..13].to_vec()
    );
    assert_eq!(log.read_vote().await.unwrap(), Some(Vote::new(3, 2)));
    assert_eq!(log.read_committed().await.unwrap(), Some(written[29].log_id));
}

/// Set in the child process of the crash test: the store directory it writes before it kills
/// itself.
const CRASH_CHILD: &str = "ARGUS_TEST_CRASH_CHILD";
const CRASH_TEST: &str =
    "raft::tests::a_coordinator_killed_before_its_state_reached_disk_reapplies_its_log_to_the_same_state";

/// A membership, 50 images, then ten entries of five scan results with 40 findings each: 2,000
/// findings, all at term 1.
fn scan_entries() -> Vec<Entry<TypeConfig>> {
    use crate::state::tests::{digest, image, ingest, put, result, ts, vuln};

    let entry = |index: u64, kind| Entry {
        log_id: log_id(1, 1, index),
        payload: EntryPayload::Normal(Request::new(Proposal {
            now: Some(ts(1_000 + index as i64)),
            commands: vec![Command { kind: Some(kind) }],
        })),
    };
    let images = (0..50)
        .map(|i| image(&format!("img-{i}"), "123456789012", &digest(i)))
        .collect();
    let mut entries = vec![membership(1, 1, &[1]), entry(2, put(images))];
    for chunk in 0..10 {
        let results = (chunk * 5..chunk * 5 + 5)
            .map(|d| {
                let vulns = (0..40)
                    .map(|v| vuln(&format!("CVE-2024-{v:05}"), &format!("pkg{}", v % 13)))
                    .collect();
                result(&digest(d), 500, vulns)
            })
            .collect();
        entries.push(entry(3 + chunk, ingest(results)));
    }
    entries
}

/// The child's part: what a coordinator does (append, apply, snapshot, purge behind it, apply
/// more, remember the commit point), then kill -9 with the newest state only in memtables.
async fn write_then_die(dir: &Path) -> ! {
    let entries = scan_entries();
    let (_db, mut log, mut sm) = open_at(dir);
    log.blocking_append(entries.clone()).await.unwrap();
    sm.apply(entries[..7].to_vec()).await.unwrap();
    sm.get_snapshot_builder().await.build_snapshot().await.unwrap();
    log.purge(entries[6].log_id).await.unwrap();
    sm.apply(entries[7..].to_vec()).await.unwrap();
    log.save_committed(Some(entries[11].log_id)).await.unwrap();
    let _ = std::process::Command::new("kill")
        .args(["-KILL", &std::process::id().to_string()])
        .status();
    std::process::abort()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_coordinator_killed_before_its_state_reached_disk_reapplies_its_log_to_the_same_state() {
    if let Some(dir) = std::env::var_os(CRASH_CHILD) {
        write_then_die(Path::new(&dir)).await;
    }
    use std::os::unix::process::ExitStatusExt;

    let dir = tempfile::tempdir().unwrap();
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .args([CRASH_TEST, "--exact", "--nocapture", "--test-threads=1"])
        .env(CRASH_CHILD, dir.path())
        .status()
        .unwrap();
    assert_eq!(status.signal(), Some(9), "the child was to kill itself: {status:?}");

    let entries = scan_entries();
    let (db, mut log, mut sm) = open_at(dir.path());
    // Applying skips the WAL: the state that survived is the one the snapshot flushed, and the
    // log still holds every entry after it.
    assert_eq!(sm.applied_state().await.unwrap().0, Some(entries[6].log_id));
    let st = log.get_log_state().await.unwrap();
    assert_eq!(
        (st.last_purged_log_id, st.last_log_id),
        (Some(entries[6].log_id), Some(entries[11].log_id))
    );
    // Start-up as openraft does it re-applies the committed entries.
    let initial = openraft::storage::StorageHelper::new(&mut log, &mut sm)
        .get_initial_state()
        .await
        .unwrap();
    assert_eq!(initial.committed, Some(entries[11].log_id));
    assert_eq!(sm.applied_state().await.unwrap().0, Some(entries[11].log_id));

    let clean_dir = tempfile::tempdir().unwrap();
    let (clean, _clean_log, mut clean_sm) = open_at(clean_dir.path());
    clean_sm.apply(entries).await.unwrap();
    let compared = assert_same_state(&clean, &db);
    assert!(compared > 2 * 2_000, "findings and their changes: {compared} records");
    let findings = db.iterator_cf(cf(&db, "findings"), IteratorMode::Start).count();
    assert_eq!(findings, 2_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_proposals_are_answered_without_reaching_the_state() {
    let dir = tempfile::tempdir().unwrap();
    let (_db, _log, mut sm) = open_at(dir.path());
    let entry = Entry {
        log_id: log_id(1, 1, 1),
        payload: EntryPayload::Normal(empty_proposal()),
    };
    let replies = sm.apply([entry, blank(1, 2)]).await.unwrap();
    assert_eq!(replies, vec![Reply::default(), Reply::default()]);
    assert_eq!(sm.applied_state().await.unwrap().0, Some(log_id(1, 1, 2)));
}

#[test]
fn raft_answers_and_errors_survive_the_payload_codec() {
    type AppendAnswer = Result<AppendEntriesResponse<NodeId>, RaftError<NodeId>>;
    for answer in [
        Ok(AppendEntriesResponse::Success),
        Ok(AppendEntriesResponse::Conflict),
        Ok(AppendEntriesResponse::HigherVote(Vote::new(9, 3))),
        Err(RaftError::Fatal(Fatal::Stopped)),
    ] {
        let back: AppendAnswer = codec::decode(&codec::encode(&answer).unwrap()).unwrap();
        assert_eq!(back, answer);
    }
    let mismatch: Result<(), RaftError<NodeId, InstallSnapshotError>> = Err(RaftError::APIError(
        InstallSnapshotError::SnapshotMismatch(SnapshotMismatch {
            expect: SnapshotSegmentId {
                id: "a".into(),
                offset: 0,
            },
            got: SnapshotSegmentId {
                id: "a".into(),
                offset: 7,
            },
        }),
    ));
    let back: Result<(), RaftError<NodeId, InstallSnapshotError>> =
        codec::decode(&codec::encode(&mismatch).unwrap()).unwrap();
    assert_eq!(back, mismatch);

    let request = AppendEntriesRequest::<TypeConfig> {
        vote: Vote::new_committed(2, 1),
        prev_log_id: Some(log_id(2, 1, 4)),
        leader_commit: Some(log_id(2, 1, 3)),
        entries: vec![normal(2, 5), membership(2, 6, &[1, 2, 3]), blank(2, 7)],
    };
    let back: AppendEntriesRequest<TypeConfig> = codec::decode(&codec::encode(&request).unwrap()).unwrap();
    assert_eq!(back.entries, request.entries);
    assert_eq!(back.prev_log_id, request.prev_log_id);
}

#[test]
fn a_request_travels_as_its_proposals_protobuf_bytes_encoded_once() {
    let request = match normal(2, 5).payload {
        EntryPayload::Normal(r) => r,
        _ => unreachable!(),
    };
    let bytes = codec::encode(&request).unwrap();
    let proposal = request.proposal().encode_to_vec();
    assert!(!proposal.is_empty());
    assert!(
        bytes.ends_with(&proposal),
        "postcard frames the protobuf bytes as they are"
    );
    assert_eq!(request.encoded_len(), proposal.len());
    let back: Request = codec::decode(&bytes).unwrap();
    assert_eq!(back, request);
    assert_eq!(
        codec::encode(&back).unwrap(),
        bytes,
        "a follower stores what it received"
    );
}

#[tokio::test]
async fn a_peer_that_does_not_answer_is_unreachable_so_openraft_backs_off() {
    // A port nothing listens on: bind one, then free it.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .to_string();
    let mut connection = Network::new().new_client(7, &BasicNode::new(addr)).await;
    let vote = VoteRequest::new(Vote::new(1, 1), None);
    let result = connection.vote(vote, RPCOption::new(Duration::from_secs(2))).await;
    assert!(matches!(result, Err(RPCError::Unreachable(_))), "{result:?}");
}

/// A snapshot file of a store that applied a three-voter membership at index 1 and entries up
/// to index 3 in term 2, plus `records` state records; returns the store's database and the
/// file (a copy outside the store, as a backup is).
async fn backup_file(dir: &Path, records: usize) -> (Arc<DB>, std::path::PathBuf) {
    let (db, _log, mut sm) = open_at(&dir.join("source"));
    sm.apply([membership(1, 1, &[1, 2, 3]), normal(2, 2), normal(2, 3)])
        .await
        .unwrap();
    fill(sm.state(), records, 11);
    sm.get_snapshot_builder().await.build_snapshot().await.unwrap();
    let file = dir.join("source.backup");
    std::fs::write(&file, snapshot_bytes(&mut sm).await).unwrap();
    (db, file)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restored_store_starts_where_its_snapshot_ends() {
    use super::backup::{restore, RestoredMembership};

    let dir = tempfile::tempdir().unwrap();
    let (source, file) = backup_file(dir.path(), 5_000).await;
    let target = dir.path().join("restored");
    let meta = restore(&target, &file, 2, &RestoredMembership::Keep).unwrap();
    assert_eq!(meta.last_log_id, Some(log_id(2, 1, 3)));

    let (db, mut log, mut sm) = open_at(&target);
    assert!(assert_same_state(&source, &db) > 5_000);
    let st = log.get_log_state().await.unwrap();
    assert_eq!(
        (st.last_purged_log_id, st.last_log_id),
        (Some(log_id(2, 1, 3)), Some(log_id(2, 1, 3)))
    );
    // What openraft derives at start-up from all the storage reads together.
    let initial = openraft::storage::StorageHelper::new(&mut log, &mut sm)
        .get_initial_state()
        .await
        .unwrap();
    assert_eq!(initial.committed, Some(log_id(2, 1, 3)));
    assert_eq!(initial.snapshot_meta.last_log_id, Some(log_id(2, 1, 3)));
    // The log's term, voted for nobody: the first election is in term 3.
    assert_eq!(*initial.vote_ref(), Vote::new(2, 0));
    let voters: BTreeSet<NodeId> = initial.membership_state.effective().voter_ids().collect();
    assert_eq!(voters, BTreeSet::from([1, 2, 3]));
    drop((log, sm, db));

    // Refusals: a used directory, a node that was not a member.
    let e = restore(&target, &file, 2, &RestoredMembership::Keep).unwrap_err();
    assert!(e.to_string().contains("not empty"), "{e}");
    let e = restore(&dir.path().join("other"), &file, 7, &RestoredMembership::Keep).unwrap_err();
    assert!(e.to_string().contains("not a member"), "{e}");
    assert!(!dir.path().join("other").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_single_node_restore_rewrites_the_membership_in_the_state_and_the_snapshot() {
    use super::backup::{restore, RestoredMembership};

    let dir = tempfile::tempdir().unwrap();
    let (source, file) = backup_file(dir.path(), 500).await;
    let target = dir.path().join("alone");
    let alone = RestoredMembership::SingleNode {
        address: "10.0.0.9:7400".into(),
    };
    let meta = restore(&target, &file, 9, &alone).unwrap();
    assert_eq!(meta.last_log_id, Some(log_id(2, 1, 3)));
    let (db, mut log, mut sm) = open_at(&target);
    // Every record is the backup's but the applied membership.
    let without_membership = |db: &DB| {
        let mut records = dump(db);
        records.retain(|(cf, key, _)| !(*cf == "sm_meta" && &key[..] == b"raft.membership"));
        records
    };
    assert_eq!(without_membership(&source), without_membership(&db));
    let (applied, membership) = sm.applied_state().await.unwrap();
    assert_eq!(applied, Some(log_id(2, 1, 3)));
    let current = sm.get_current_snapshot().await.unwrap().expect("a snapshot");
    assert_eq!(
        current.meta.last_membership, membership,
        "the snapshot says what the state says"
    );
    assert_eq!(
        files_in(&target.join("snapshots")).len(),
        1,
        "only the rebuilt snapshot"
    );
    let initial = openraft::storage::StorageHelper::new(&mut log, &mut sm)
        .get_initial_state()
        .await
        .unwrap();
    let m = initial.membership_state.effective();
    assert_eq!(m.voter_ids().collect::<Vec<_>>(), [9]);
    assert_eq!(m.membership().get_node(&9).unwrap().addr, "10.0.0.9:7400");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_restore_blocks_the_node_and_is_redone_by_the_next_restore() {
    use super::backup::{check_no_interrupted_restore, restore, RestoredMembership, RESTORE_MARKER};

    let dir = tempfile::tempdir().unwrap();
    let (source, file) = backup_file(dir.path(), 500).await;
    let target = dir.path().join("node");
    // What a crash midway leaves: the marker, a database holding part of the state.
    {
        let (_db, _log, sm) = open_at(&target);
        fill(sm.state(), 50, 99);
    }
    std::fs::write(target.join(RESTORE_MARKER), b"").unwrap();
    let e = check_no_interrupted_restore(&target).unwrap_err();
    assert!(e.to_string().contains("interrupted restore"), "{e}");

    restore(&target, &file, 1, &RestoredMembership::Keep).unwrap();
    check_no_interrupted_restore(&target).unwrap();
    let (db, _log, _sm) = open_at(&target);
    assert_same_state(&source, &db);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_from_a_damaged_backup_touches_nothing() {
    use super::backup::{restore, RestoredMembership};

    let dir = tempfile::tempdir().unwrap();
    let (_source, file) = backup_file(dir.path(), 500).await;
    let mut bytes = std::fs::read(&file).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 1;
    let damaged = dir.path().join("damaged.backup");
    std::fs::write(&damaged, &bytes).unwrap();
    let target = dir.path().join("node");
    let e = restore(&target, &damaged, 1, &RestoredMembership::Keep).unwrap_err();
    assert!(e.to_string().contains("is not usable"), "{e}");
    assert!(!target.exists());
}
