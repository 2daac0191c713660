//! A write batch that reads its own writes. One apply call may carry many proposals whose
//! commands build on each other (a resource put, then a scan result for it); they all land in
//! one atomic RocksDB write, so later commands must see earlier ones before anything is written.

use std::collections::BTreeMap;
use std::sync::Arc;

use rocksdb::{Direction, IteratorMode, WriteBatch, DB};

use crate::error::Result;

type Key = (&'static str, Vec<u8>);

pub struct Txn {
    db: Arc<DB>,
    /// Pending writes by (column family, key); `None` is a delete.
    pending: BTreeMap<Key, Option<Vec<u8>>>,
}

impl Txn {
    pub fn new(db: Arc<DB>) -> Self {
        Self { db, pending: BTreeMap::new() }
    }

    pub fn db(&self) -> &Arc<DB> {
        &self.db
    }

    fn cf(&self, name: &str) -> &rocksdb::ColumnFamily {
        self.db
            .cf_handle(name)
            .unwrap_or_else(|| panic!("column family {name} is opened with the database"))
    }

    pub fn get(&self, cf: &'static str, key: &[u8]) -> Result<Option<Vec<u8>>> {
        if let Some(v) = self.pending.get(&(cf, key.to_vec())) {
            return Ok(v.clone());
        }
        Ok(self.db.get_cf(self.cf(cf), key)?)
    }

    pub fn put(&mut self, cf: &'static str, key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) {
        self.pending.insert((cf, key.into()), Some(value.into()));
    }

    pub fn delete(&mut self, cf: &'static str, key: impl Into<Vec<u8>>) {
        self.pending.insert((cf, key.into()), None);
    }

    /// Every live (key, value) under `prefix` in `cf`, pending writes included, in key order.
    pub fn scan_prefix(&self, cf: &'static str, prefix: &[u8]) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let mut merged: BTreeMap<Vec<u8>, Option<Vec<u8>>> = BTreeMap::new();
        let iter = self
            .db
            .iterator_cf(self.cf(cf), IteratorMode::From(prefix, Direction::Forward));
        for item in iter {
            let (k, v) = item?;
            if !k.starts_with(prefix) {
                break;
            }
            merged.insert(k.to_vec(), Some(v.to_vec()));
        }
        let start = (cf, prefix.to_vec());
        for ((c, k), v) in self.pending.range(start..) {
            if *c != cf || !k.starts_with(prefix) {
                break;
            }
            merged.insert(k.clone(), v.clone());
        }
        Ok(merged.into_iter().filter_map(|(k, v)| v.map(|v| (k, v))).collect())
    }

    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// The pending writes as one RocksDB batch.
    pub fn into_batch(self) -> (Arc<DB>, WriteBatch) {
        let mut batch = WriteBatch::default();
        for ((cf, key), value) in &self.pending {
            let handle = self.cf(cf);
            match value {
                Some(v) => batch.put_cf(handle, key, v),
                None => batch.delete_cf(handle, key),
            }
        }
        (self.db, batch)
    }
}
