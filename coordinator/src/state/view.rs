//! Reads for the API: every query runs against one RocksDB snapshot, so a page, an aggregation
//! or a feed batch sees a single applied state even while later proposals are committed.

use std::sync::Arc;

use rocksdb::{DBRawIteratorWithThreadMode, SnapshotWithThreadMode, DB};

use super::records::{self, Record};
use crate::error::Result;

pub struct View<'a> {
    db: &'a DB,
    snapshot: SnapshotWithThreadMode<'a, DB>,
}

impl<'a> View<'a> {
    pub fn new(db: &'a Arc<DB>) -> Self {
        Self {
            db,
            snapshot: db.snapshot(),
        }
    }

    fn cf(&self, name: &str) -> &'a rocksdb::ColumnFamily {
        self.db
            .cf_handle(name)
            .unwrap_or_else(|| panic!("column family {name} is opened with the database"))
    }

    pub fn get(&self, cf: &'static str, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(self.snapshot.get_cf(self.cf(cf), key)?)
    }

    pub fn get_record<R: Record>(&self, cf: &'static str, key: &[u8]) -> Result<Option<R>> {
        self.get(cf, key)?.map(|v| records::decode(cf, &v)).transpose()
    }

    /// Rows of `cf` in key order, starting at the first key >= `start`.
    pub fn iter_from(&self, cf: &'static str, start: &[u8]) -> ViewIter<'_> {
        let mut it = self.snapshot.raw_iterator_cf(self.cf(cf));
        it.seek(start);
        ViewIter { it, started: false }
    }
}

pub struct ViewIter<'v> {
    it: DBRawIteratorWithThreadMode<'v, DB>,
    started: bool,
}

impl Iterator for ViewIter<'_> {
    type Item = Result<(Vec<u8>, Vec<u8>)>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.started {
            self.it.next();
        }
        self.started = true;
        if !self.it.valid() {
            return self.it.status().err().map(|e| Err(e.into()));
        }
        let (k, v) = self.it.item()?;
        Some(Ok((k.to_vec(), v.to_vec())))
    }
}
