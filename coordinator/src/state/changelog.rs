//! The finding change log: every change gets the next cursor (1, 2, ...; never reused), in apply
//! order, so every replica holds the same log. Compaction drops a prefix, so the retained log is
//! always the contiguous range `first..next`.

use argus_proto::internal::v1::{ChangeLogBounds, CompactChangeLog, CompactChangeLogResponse};
use argus_proto::v1::{FindingChange, FindingFilter};

use super::apply::Ctx;
use super::attach;
use super::filter::time_key;
use super::view::View;
use super::{keys, records, validate, Txn};
use crate::error::{Error, Result};

const BOUNDS_VERSION: u32 = 1;

/// How many changes one `changes_after` call examines at most, so that a selective filter over a
/// long backlog answers in bounded time; the caller continues from the returned cursor.
const MAX_EXAMINED: usize = 10_000;

fn initial() -> ChangeLogBounds {
    ChangeLogBounds {
        version: BOUNDS_VERSION,
        first: 1,
        next: 1,
    }
}

pub(super) fn read_bounds(view: &View) -> Result<ChangeLogBounds> {
    Ok(view
        .get_record(keys::SM_META, keys::CHANGE_LOG_BOUNDS)?
        .unwrap_or_else(initial))
}

pub(super) fn read_bounds_txn(txn: &Txn) -> Result<ChangeLogBounds> {
    Ok(txn
        .get_record(keys::SM_META, keys::CHANGE_LOG_BOUNDS)?
        .unwrap_or_else(initial))
}

pub(super) fn write_bounds(txn: &mut Txn, bounds: &mut ChangeLogBounds) {
    debug_assert!(1 <= bounds.first && bounds.first <= bounds.next);
    bounds.version = BOUNDS_VERSION;
    txn.put_record(keys::SM_META, keys::CHANGE_LOG_BOUNDS.to_vec(), bounds);
}

/// Drops the oldest changes while they are older than `before` (all of them when `before` is
/// unset) and more than `keep_last` newer ones remain. It stops at the first change not older
/// than `before`, even if a later one is (a new leader's clock may lag), so the retained log
/// stays contiguous.
pub(super) fn compact(ctx: &mut Ctx, req: &CompactChangeLog) -> Result<CompactChangeLogResponse> {
    let bounds = *ctx.bounds();
    let droppable_below = bounds.next.saturating_sub(req.keep_last);
    let before = req.before.as_ref().map(|t| time_key(Some(t)));
    let mut first = bounds.first;
    let mut doomed = Vec::new();
    for item in ctx.txn.iter_prefix(keys::CHANGES, b"") {
        let (key, value) = item?;
        let cursor = keys::change_cursor(&key).ok_or_else(|| Error::Corrupt {
            cf: keys::CHANGES,
            detail: format!("key of {} bytes", key.len()),
        })?;
        if cursor >= droppable_below {
            break;
        }
        if let Some(before) = before {
            let change: FindingChange = records::decode(keys::CHANGES, &value)?;
            if time_key(change.changed_at.as_ref()) >= before {
                break;
            }
        }
        doomed.push(key);
        first = cursor + 1;
    }
    let removed = doomed.len() as u64;
    for key in doomed {
        ctx.txn.delete(keys::CHANGES, key);
    }
    if first != bounds.first {
        ctx.set_first_retained(first);
    }
    Ok(CompactChangeLogResponse {
        removed,
        first_retained: ctx.bounds().first,
    })
}

pub(super) fn changes_after(
    view: &View,
    cursor: u64,
    filter: Option<&FindingFilter>,
    limit: usize,
) -> Result<(Vec<FindingChange>, u64)> {
    if let Some(f) = filter {
        validate::finding_filter("filter", f).map_err(Error::InvalidArgument)?;
    }
    let bounds = read_bounds(view)?;
    let start = if cursor == 0 {
        bounds.first
    } else if cursor < bounds.first - 1 {
        return Err(Error::CursorExpired {
            cursor,
            first: bounds.first,
        });
    } else {
        cursor + 1
    };
    let mut last = start - 1;
    let mut out = Vec::new();
    if limit == 0 {
        return Ok((out, cursor.max(last)));
    }
    let mut resources = attach::from_view(view);
    for (examined, item) in view.iter_from(keys::CHANGES, &keys::change(start)).enumerate() {
        if examined >= MAX_EXAMINED {
            break;
        }
        let (_, value) = item?;
        let mut change: FindingChange = records::decode(keys::CHANGES, &value)?;
        debug_assert!(change.cursor > last, "change log out of order");
        last = change.cursor;
        let keep = match (filter, &change.finding) {
            (None, _) => true,
            (Some(f), Some(finding)) => resources.matches(f, finding)?,
            (Some(_), None) => false,
        };
        if keep {
            if let Some(finding) = &mut change.finding {
                resources.attach(finding)?;
            }
            out.push(change);
            if out.len() >= limit {
                break;
            }
        }
    }
    Ok((out, last.max(cursor)))
}
