//! The one RocksDB instance a coordinator keeps: the Raft log and its bookkeeping beside the
//! state machine's column families. Sharing one database means sharing one write-ahead log, and
//! that is what makes the durability arguments in `log_store` and `state_machine` work: RocksDB
//! recovers a prefix of the WAL, so a write that survives a crash implies every earlier write
//! (in any column family) survives too.

use std::path::Path;
use std::sync::Arc;

use rocksdb::{BlockBasedOptions, ColumnFamilyDescriptor, DBCompressionType, DBRecoveryMode, Options, DB};

use crate::error::{Error, Result};
use crate::state;

/// Log entries keyed by big-endian index, so key order is index order.
pub const CF_LOG: &str = "log";
/// Vote, committed log id, last purged log id and the snapshot-install marker.
pub const CF_RAFT_META: &str = "raft_meta";

/// Write-ahead-log size after which RocksDB flushes the column families that pin the oldest WAL
/// file. Without a bound, a quiet column family would keep every WAL file alive.
const MAX_TOTAL_WAL_BYTES: u64 = 512 << 20;
const WRITE_BUFFER_BYTES: usize = 64 << 20;

/// Every column family this process opens: the Raft ones, then the state machine's.
pub fn column_families() -> Vec<&'static str> {
    let mut all = vec![CF_LOG, CF_RAFT_META];
    all.extend_from_slice(state::COLUMN_FAMILIES);
    all
}

/// Opens (creating if missing) the coordinator's database in `dir`.
pub fn open(dir: &Path) -> Result<Arc<DB>> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let db_opts = db_options();

    // A database written by a newer build may carry column families this one does not know;
    // opening them keeps RocksDB from refusing the database, and nothing here reads them.
    let mut names: Vec<String> = column_families().into_iter().map(str::to_owned).collect();
    if let Ok(existing) = DB::list_cf(&db_opts, dir) {
        for name in existing {
            if !names.contains(&name) {
                names.push(name);
            }
        }
    }
    let descriptors = names.into_iter().map(|name| {
        let opts = cf_options(&name);
        ColumnFamilyDescriptor::new(name, opts)
    });
    let db = DB::open_cf_descriptors(&db_opts, dir, descriptors)?;
    Ok(Arc::new(db))
}

fn db_options() -> Options {
    let mut opts = Options::default();
    opts.create_if_missing(true);
    opts.create_missing_column_families(true);
    let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
    opts.increase_parallelism(cpus.max(2) as i32);
    opts.set_max_background_jobs(cpus.clamp(2, 8) as i32);
    opts.set_max_total_wal_size(MAX_TOTAL_WAL_BYTES);
    // The durability reasoning of this crate assumes RocksDB recovers a consistent prefix of the
    // WAL after a crash (RocksDB's default, stated here because everything depends on it).
    opts.set_wal_recovery_mode(DBRecoveryMode::PointInTime);
    // The state machine writes without the WAL (`State::commit`): after a crash its column
    // families hold what their last flush wrote. Flushing them all together keeps that one
    // consistent applied point (sm_meta's applied log id with exactly the data it describes).
    opts.set_atomic_flush(true);
    // Spread the writeback of large flushes and compactions instead of one long fsync stall that
    // would delay the log's own synced appends.
    opts.set_bytes_per_sync(1 << 20);
    opts.set_keep_log_file_num(5);
    opts
}

fn cf_options(name: &str) -> Options {
    let mut opts = Options::default();
    opts.set_write_buffer_size(WRITE_BUFFER_BYTES);
    opts.set_level_compaction_dynamic_level_bytes(true);
    if name == CF_LOG {
        // Log entries live briefly (until the next snapshot purges them) and are read back
        // hot: cheap compression only.
        opts.set_compression_type(DBCompressionType::Lz4);
    } else {
        opts.set_compression_type(DBCompressionType::Lz4);
        opts.set_bottommost_compression_type(DBCompressionType::Zstd);
        // Level 1 instead of zstd's default 3: with dynamic level sizes most data is compacted
        // into the bottom level soon, so this compressor runs on nearly every byte ingested and
        // was 8 % of a leader's CPU under ingestion; level 1 compresses about twice as fast for
        // a slightly larger store. (-14 and the zeros are RocksDB's defaults.)
        opts.set_bottommost_compression_options(-14, 1, 0, 0, true);
        // Applying a scan result looks up every reported finding id, and for new findings (most
        // of them during an initial scan) the answer is "absent". Without filters each such miss
        // searches the memtable and reads an index and a data block of every level; profiling a
        // follower under ingestion put 28 % of its CPU there. A Bloom filter per table (10
        // bits per key, ~1 % false positives, ~1.2 MiB per million keys) and one over the
        // memtable answer most misses without touching a block.
        let mut table = BlockBasedOptions::default();
        table.set_bloom_filter(10.0, false);
        // 16 KiB blocks instead of 4: zstd builds its entropy tables per block, and with 4 KiB
        // blocks that setup was about half of the compression time of a leader's compactions;
        // larger blocks also compress better (a tenth less disk at 600,000 findings). Lookups
        // that hit read a larger block, but most lookups during ingestion are misses that the
        // Bloom filters answer without reading one.
        table.set_block_size(16 << 10);
        opts.set_block_based_table_factory(&table);
        opts.set_memtable_prefix_bloom_ratio(0.05);
        opts.set_memtable_whole_key_filtering(true);
    }
    opts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_creates_every_column_family_and_reopens() {
        let dir = tempfile::tempdir().unwrap();
        {
            let db = open(dir.path()).unwrap();
            for cf in column_families() {
                assert!(db.cf_handle(cf).is_some(), "{cf} missing");
            }
            db.put_cf(db.cf_handle("findings").unwrap(), b"k", b"v").unwrap();
        }
        let db = open(dir.path()).unwrap();
        assert_eq!(
            db.get_cf(db.cf_handle("findings").unwrap(), b"k").unwrap().as_deref(),
            Some(&b"v"[..])
        );
    }
}
