//! The database a long-running worker matches with, replaced atomically when a newer version
//! arrives: a job takes the current [`VulnDb`] once and keeps it to the end, so one result is
//! never matched against two versions.

use std::sync::{Arc, RwLock};

use super::VulnDb;

#[derive(Clone)]
pub struct DbSlot {
    current: Arc<RwLock<Arc<VulnDb>>>,
}

impl DbSlot {
    pub fn new(db: VulnDb) -> Self {
        Self {
            current: Arc::new(RwLock::new(Arc::new(db))),
        }
    }

    /// The database to use for one job.
    pub fn get(&self) -> Arc<VulnDb> {
        self.current.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn version(&self) -> String {
        self.get().meta().version.clone()
    }

    /// Installs `db` for jobs that start from now on; running jobs finish with the one they
    /// took (the old mapping lives until the last of them drops it).
    pub fn replace(&self, db: VulnDb) {
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(db);
    }
}
