//! The change log: cursors, the feed filter, compaction and expired cursors.

use argus_proto::internal::v1::command::Kind as Cmd;
use argus_proto::internal::v1::command_result::Kind as Res;
use argus_proto::internal::v1::CompactChangeLog;
use argus_proto::v1::{FindingFilter, StringComparison, StringFilter};

use super::*;
use crate::error::Error;

/// Ten changes: five images created at t=10..14, each with one finding, then closed at t=20..24.
fn ten_changes() -> Fixture {
    let f = open();
    for i in 0..5u64 {
        f.run(
            10 + i as i64,
            put(vec![image(&format!("img-{i}"), "111111111111", &digest(i))]),
        );
        f.run(
            10 + i as i64,
            ingest(vec![result(&digest(i), 100, vec![vuln(&format!("CVE-{i}"), "pkg")])]),
        );
    }
    for i in 0..5u64 {
        f.run(20 + i as i64, remove(&[&format!("img-{i}")]));
    }
    f
}

fn compact(before: Option<i64>, keep_last: u64) -> Cmd {
    Cmd::CompactChangeLog(CompactChangeLog {
        before: before.map(ts),
        keep_last,
    })
}

#[test]
fn cursors_start_at_one_increase_by_one_and_the_watch_holds_the_last() {
    let f = ten_changes();
    let cursors: Vec<u64> = f.changes().iter().map(|c| c.cursor).collect();
    assert_eq!(cursors, (1..=10).collect::<Vec<_>>());
    assert_eq!(*f.state.watch_cursor().borrow(), 10);
    let b = f.state.change_log_bounds().unwrap();
    assert_eq!((b.first, b.next), (1, 11));
    let changed_at: Vec<i64> = f.changes().iter().map(|c| c.changed_at.unwrap().seconds).collect();
    assert_eq!(changed_at, vec![10, 11, 12, 13, 14, 20, 21, 22, 23, 24]);
}

#[test]
fn a_filtered_feed_reports_the_last_cursor_it_examined() {
    let f = ten_changes();
    let filter = FindingFilter {
        vulnerability_id: vec![StringFilter {
            comparison: StringComparison::Equals as i32,
            value: "CVE-3".into(),
        }],
        ..Default::default()
    };
    let (changes, last) = f.state.changes_after(0, Some(&filter), 100).unwrap();
    assert_eq!(changes.iter().map(|c| c.cursor).collect::<Vec<_>>(), vec![4, 9]);
    assert_eq!(last, 10, "the consumer advances past changes that did not match");
    let (changes, last) = f.state.changes_after(4, Some(&filter), 1).unwrap();
    assert_eq!((changes[0].cursor, last), (9, 9));
    let (changes, last) = f.state.changes_after(10, Some(&filter), 100).unwrap();
    assert!(changes.is_empty());
    assert_eq!(last, 10);
}

#[test]
fn compaction_drops_old_changes_but_keeps_the_newest_and_stops_at_the_first_young_one() {
    let f = ten_changes();
    let Res::CompactChangeLog(r) = f.run(30, compact(Some(13), 0)) else {
        panic!()
    };
    assert_eq!((r.removed, r.first_retained), (3, 4));
    let Res::CompactChangeLog(r) = f.run(31, compact(Some(100), 4)) else {
        panic!()
    };
    assert_eq!((r.removed, r.first_retained), (3, 7));
    let cursors: Vec<u64> = f.changes().iter().map(|c| c.cursor).collect();
    assert_eq!(cursors, vec![7, 8, 9, 10]);
    let Res::CompactChangeLog(r) = f.run(32, compact(Some(100), 4)) else {
        panic!()
    };
    assert_eq!((r.removed, r.first_retained), (0, 7));
    // New changes continue the sequence; cursors are never reused.
    f.run(33, put(vec![image("img-0", "111111111111", &digest(0))]));
    assert_eq!(f.changes().last().unwrap().cursor, 11);
}

#[test]
fn a_cursor_older_than_the_retained_log_is_expired_and_zero_starts_at_the_oldest() {
    let f = ten_changes();
    f.run(30, compact(None, 5));
    assert_eq!(f.state.change_log_bounds().unwrap().first, 6);
    match f.state.changes_after(4, None, 10) {
        Err(Error::CursorExpired { cursor: 4, first: 6 }) => {}
        other => panic!("expected CursorExpired, got {other:?}"),
    }
    let (changes, _) = f.state.changes_after(5, None, 10).unwrap();
    assert_eq!(
        changes.first().unwrap().cursor,
        6,
        "cursor first-1 resumes exactly at first"
    );
    let (changes, _) = f.state.changes_after(0, None, 10).unwrap();
    assert_eq!(changes.first().unwrap().cursor, 6);
}

#[test]
fn reloaded_refreshes_the_cursor_watch_from_storage() {
    let f = ten_changes();
    let g = open();
    // Copy f's column families into g, as a snapshot install would, then reload.
    let db = g.state.db();
    for (cf, k, v) in f.dump() {
        db.put_cf(db.cf_handle(&cf).unwrap(), k, v).unwrap();
    }
    assert_eq!(*g.state.watch_cursor().borrow(), 0);
    g.state.reloaded().unwrap();
    assert_eq!(*g.state.watch_cursor().borrow(), 10);
}
