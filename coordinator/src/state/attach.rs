//! A stored finding refers to its resource (id and type) instead of carrying a copy of it.
//!
//! Copying the resource into every finding and every change-log entry was about half of the
//! bytes each finding cost to write, flush and compact (docs/benchmarks.md), and the copy went
//! stale when the resource's tags changed. Readers attach the resource's current record (without
//! coverage, which changes with every scan) when they hand a finding out, and filters that look
//! at the resource's tags, region or image repository judge the current record too. A removed
//! resource keeps its record, so its findings still show it.

use std::collections::HashMap;

use argus_proto::v1::{Finding, FindingFilter, Resource};

use super::filter;
use super::keys;
use super::txn::Txn;
use super::view::View;
use crate::error::Result;

/// What a stored finding keeps of its resource: the id to find it by, and the type, which
/// scoring (`score.rs`) and the commonest filters need without a lookup.
pub(super) fn reference(resource: &Resource) -> Resource {
    Resource {
        r#type: resource.r#type,
        resource_id: resource.resource_id.clone(),
        ..Default::default()
    }
}

/// The resource a finding refers to, "" when it names none.
fn referred_id(finding: &Finding) -> &str {
    finding.resource.as_ref().map_or("", |r| r.resource_id.as_str())
}

/// Entries a [`Resources`] cache holds before it starts over: a reader of millions of findings
/// (an aggregation, a filtered list) stays within a few MiB however many resources there are.
const CACHE_LIMIT: usize = 4096;

/// Current resource records by id, looked up through `get` (a view or a transaction) and kept
/// for the next finding of the same resource.
pub(super) struct Resources<G> {
    get: G,
    cache: HashMap<String, Option<Resource>>,
}

impl<G: FnMut(&str) -> Result<Option<Resource>>> Resources<G> {
    pub fn new(get: G) -> Self {
        Self {
            get,
            cache: HashMap::new(),
        }
    }

    /// The current record of resource `id`, without coverage.
    pub fn get(&mut self, id: &str) -> Result<Option<&Resource>> {
        if !self.cache.contains_key(id) {
            if self.cache.len() >= CACHE_LIMIT {
                self.cache.clear();
            }
            let mut found = (self.get)(id)?;
            if let Some(r) = &mut found {
                r.coverage = None;
            }
            self.cache.insert(id.to_string(), found);
        }
        Ok(self.cache[id].as_ref())
    }

    /// Replaces `finding`'s reference with its resource's current record (a finding whose
    /// resource record is missing keeps the reference).
    pub fn attach(&mut self, finding: &mut Finding) -> Result<()> {
        let id = referred_id(finding);
        if id.is_empty() {
            return Ok(());
        }
        if let Some(r) = self.get(id)? {
            finding.resource = Some(r.clone());
        }
        Ok(())
    }

    /// The current record of `finding`'s resource, or the finding's own reference when it
    /// names none or the record is missing.
    pub fn of<'s>(&'s mut self, finding: &'s Finding) -> Result<Option<&'s Resource>> {
        let id = referred_id(finding);
        if id.is_empty() {
            return Ok(finding.resource.as_ref());
        }
        Ok(self.get(id)?.or(finding.resource.as_ref()))
    }

    /// Whether `finding` matches `f`: against the current record when `f` looks at more than
    /// the id and type, against the finding's reference otherwise (no lookup).
    pub fn matches(&mut self, f: &FindingFilter, finding: &Finding) -> Result<bool> {
        let resource = if filter::needs_resource(f) {
            self.of(finding)?
        } else {
            finding.resource.as_ref()
        };
        Ok(filter::finding(f, finding, resource))
    }
}

/// Resources read from a snapshot, for the API's readers.
pub(super) fn from_view<'v>(view: &'v View<'_>) -> Resources<impl FnMut(&str) -> Result<Option<Resource>> + 'v> {
    Resources::new(move |id: &str| view.get_record(keys::RESOURCES, id.as_bytes()))
}

/// Resources read through a transaction (its pending writes included), for applying.
pub(super) fn from_txn(txn: &Txn) -> Resources<impl FnMut(&str) -> Result<Option<Resource>> + '_> {
    Resources::new(move |id: &str| txn.get_record(keys::RESOURCES, id.as_bytes()))
}
