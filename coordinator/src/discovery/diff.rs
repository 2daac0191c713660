//! What a cycle changes: the resources read from AWS against the replicated inventory. Only
//! what differs is proposed — new and changed resources are put, and resources gone from a
//! scope that was read completely are removed. A scope (account, region, resource type) whose
//! read failed removes nothing.
//!
//! The inventory is remembered per resource as a fingerprint of the fields discovery sets, so
//! a cycle over millions of resources holds ids and 16-byte hashes, not the records.

use std::collections::{BTreeMap, HashMap, HashSet};

use argus_proto::v1::{Coverage, CoverageStatus, Resource, ResourceType};
use prost::Message;
use sha2::{Digest, Sha256};

use crate::state::held_coverage;

pub type Fingerprint = [u8; 16];

/// The resource types discovery owns. Resources of other types (hosts, SBOMs, images put
/// through the API) are never touched, even in a discovered account.
pub const OWNED: [ResourceType; 3] = [
    ResourceType::AwsEc2Instance,
    ResourceType::AwsEcrContainerImage,
    ResourceType::AwsLambdaFunction,
];

/// Within one account: a region and a resource type.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Scope {
    pub region: String,
    pub resource_type: i32,
}

/// The live (not removed) resources discovery owns in one account, by scope.
#[derive(Debug, Default, Clone)]
pub struct Stored {
    pub scopes: HashMap<Scope, HashMap<String, Fingerprint>>,
}

impl Stored {
    fn get(&self, id: &str) -> Option<&Fingerprint> {
        self.scopes.values().find_map(|m| m.get(id))
    }
}

/// Groups the live owned resources by account.
pub fn index<'a>(resources: impl IntoIterator<Item = &'a Resource>) -> HashMap<String, Stored> {
    let mut out: HashMap<String, Stored> = HashMap::new();
    for r in resources {
        add(&mut out, r);
    }
    out
}

/// Adds one resource to an index being built (skipping removed and foreign ones).
pub fn add(index: &mut HashMap<String, Stored>, r: &Resource) {
    if r.removed || !OWNED.iter().any(|t| *t as i32 == r.r#type) {
        return;
    }
    let scope = Scope {
        region: r.region.clone(),
        resource_type: r.r#type,
    };
    index
        .entry(r.account_id.clone())
        .or_default()
        .scopes
        .entry(scope)
        .or_default()
        .insert(r.resource_id.clone(), fingerprint(r));
}

/// A hash of what discovery describes about a resource: type, id, account, region, tags,
/// artifact digest and locator, details, and a held coverage (excluded, stopped). Everything
/// the coordinators set (times, scan coverage) is left out, so a stored record and the same
/// resource read again from AWS hash alike.
pub fn fingerprint(r: &Resource) -> Fingerprint {
    let held = held_coverage(r).map(|reason| Coverage {
        status: CoverageStatus::CoverageInactive as i32,
        reason: reason as i32,
        ..Default::default()
    });
    let described = Resource {
        r#type: r.r#type,
        resource_id: r.resource_id.clone(),
        account_id: r.account_id.clone(),
        region: r.region.clone(),
        tags: HashMap::new(),
        // What a host agent reports is not discovery's: a stored instance with an agent hashes
        // as discovery reads it, without an artifact.
        artifact_digest: if r.agent.is_some() {
            String::new()
        } else {
            r.artifact_digest.clone()
        },
        artifact_locator: if r.agent.is_some() {
            String::new()
        } else {
            r.artifact_locator.clone()
        },
        details: r.details.clone(),
        coverage: held,
        ..Default::default()
    };
    let mut h = Sha256::new();
    h.update(described.encode_to_vec());
    // A map encodes in hash order: the tags go in sorted, each field length-prefixed.
    let tags: BTreeMap<&String, &String> = r.tags.iter().collect();
    for (k, v) in tags {
        h.update((k.len() as u64).to_le_bytes());
        h.update(k.as_bytes());
        h.update((v.len() as u64).to_le_bytes());
        h.update(v.as_bytes());
    }
    let digest = h.finalize();
    let mut out = [0u8; 16];
    out.copy_from_slice(&digest[..16]);
    out
}

/// One account's changes, in resource-id order.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Changes {
    /// Not in the inventory (or removed there) before.
    pub added: Vec<Resource>,
    /// In the inventory, described differently now.
    pub updated: Vec<Resource>,
    pub removed: Vec<String>,
    pub unchanged: usize,
}

/// Compares what one account's scopes read (`None`: the read failed) with its stored
/// resources.
pub fn diff(stored: Option<&Stored>, read: Vec<(Scope, Option<Vec<Resource>>)>) -> Changes {
    let empty = Stored::default();
    let stored = stored.unwrap_or(&empty);
    let mut out = Changes::default();
    let mut seen: HashSet<String> = HashSet::new();
    let mut complete: Vec<&Scope> = Vec::new();
    for (scope, resources) in &read {
        let Some(resources) = resources else { continue };
        complete.push(scope);
        for r in resources {
            if !seen.insert(r.resource_id.clone()) {
                // The same id twice in one read (AWS paging while things change): the first
                // one stands.
                continue;
            }
            match stored.get(&r.resource_id) {
                None => out.added.push(r.clone()),
                Some(fp) if *fp != fingerprint(r) => out.updated.push(r.clone()),
                Some(_) => out.unchanged += 1,
            }
        }
    }
    for scope in complete {
        if let Some(ids) = stored.scopes.get(scope) {
            out.removed.extend(ids.keys().filter(|id| !seen.contains(*id)).cloned());
        }
    }
    out.added.sort_by(|a, b| a.resource_id.cmp(&b.resource_id));
    out.updated.sort_by(|a, b| a.resource_id.cmp(&b.resource_id));
    out.removed.sort();
    out.removed.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use argus_proto::v1::resource::Details;
    use argus_proto::v1::{CoverageReason, Ec2InstanceDetails};

    fn instance(id: &str, region: &str, state: &str) -> Resource {
        Resource {
            r#type: ResourceType::AwsEc2Instance as i32,
            resource_id: id.into(),
            account_id: "111111111111".into(),
            region: region.into(),
            tags: [
                ("team".to_string(), "a".to_string()),
                ("env".to_string(), "prod".to_string()),
            ]
            .into(),
            details: Some(Details::Ec2Instance(Ec2InstanceDetails {
                state: state.into(),
                ..Default::default()
            })),
            ..Default::default()
        }
    }

    fn scope(region: &str, t: ResourceType) -> Scope {
        Scope {
            region: region.into(),
            resource_type: t as i32,
        }
    }

    /// How the state machine stores a put resource: times and scan coverage set.
    fn as_stored(mut r: Resource) -> Resource {
        r.first_seen_at = Some(prost_types::Timestamp { seconds: 5, nanos: 0 });
        r.last_seen_at = Some(prost_types::Timestamp { seconds: 9, nanos: 0 });
        if r.coverage.is_none() {
            r.coverage = Some(Coverage {
                status: CoverageStatus::CoverageActive as i32,
                reason: CoverageReason::Successful as i32,
                db_version: "v1".into(),
                ..Default::default()
            });
        }
        r
    }

    #[test]
    fn a_first_read_adds_everything() {
        let read = vec![(
            scope("eu-west-1", ResourceType::AwsEc2Instance),
            Some(vec![
                instance("i-2", "eu-west-1", "running"),
                instance("i-1", "eu-west-1", "running"),
            ]),
        )];
        let c = diff(None, read);
        let ids: Vec<&str> = c.added.iter().map(|r| r.resource_id.as_str()).collect();
        assert_eq!(ids, ["i-1", "i-2"]);
        assert!(c.updated.is_empty() && c.removed.is_empty());
    }

    #[test]
    fn an_unchanged_resource_is_not_proposed_whatever_the_coordinators_set_on_it() {
        let r = instance("i-1", "eu-west-1", "running");
        let stored = index([&as_stored(r.clone())]);
        let c = diff(
            stored.get("111111111111"),
            vec![(scope("eu-west-1", ResourceType::AwsEc2Instance), Some(vec![r]))],
        );
        assert_eq!(
            c,
            Changes {
                unchanged: 1,
                ..Default::default()
            }
        );
    }

    #[test]
    fn tag_order_does_not_matter_but_tag_values_do() {
        let a = instance("i-1", "eu-west-1", "running");
        let mut b = a.clone();
        // Inserted in the other order into a map of another capacity: another iteration order.
        let mut pairs: Vec<(String, String)> = a.tags.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        pairs.reverse();
        b.tags = HashMap::with_capacity(64);
        b.tags.extend(pairs);
        assert_eq!(fingerprint(&a), fingerprint(&b));
        b.tags.insert("team".into(), "b".into());
        assert_ne!(fingerprint(&a), fingerprint(&b));
    }

    #[test]
    fn a_stopped_instance_is_an_update_and_stays_one_until_it_changes_again() {
        let running = instance("i-1", "eu-west-1", "running");
        let mut stopped = instance("i-1", "eu-west-1", "stopped");
        stopped.coverage = Some(Coverage {
            status: CoverageStatus::CoverageInactive as i32,
            reason: CoverageReason::Ec2InstanceStopped as i32,
            ..Default::default()
        });
        let s = scope("eu-west-1", ResourceType::AwsEc2Instance);
        let stored = index([&as_stored(running)]);
        let c = diff(
            stored.get("111111111111"),
            vec![(s.clone(), Some(vec![stopped.clone()]))],
        );
        assert_eq!(c.updated, vec![stopped.clone()]);
        // Stored as held, with the scan fields it kept: read again, nothing to do.
        let mut kept = as_stored(stopped.clone());
        kept.coverage.as_mut().unwrap().last_scanned_at = Some(prost_types::Timestamp { seconds: 3, nanos: 0 });
        let stored = index([&kept]);
        let c = diff(stored.get("111111111111"), vec![(s, Some(vec![stopped]))]);
        assert_eq!(c.unchanged, 1);
        assert!(c.updated.is_empty());
    }

    #[test]
    fn a_vanished_resource_is_removed_only_from_a_scope_read_completely() {
        let s_eu = scope("eu-west-1", ResourceType::AwsEc2Instance);
        let s_us = scope("us-east-1", ResourceType::AwsEc2Instance);
        let stored = index([
            &as_stored(instance("i-eu", "eu-west-1", "running")),
            &as_stored(instance("i-us", "us-east-1", "running")),
        ]);
        // eu-west-1 read and empty; us-east-1 failed.
        let c = diff(stored.get("111111111111"), vec![(s_eu, Some(vec![])), (s_us, None)]);
        assert_eq!(c.removed, ["i-eu"]);
        assert!(c.added.is_empty() && c.updated.is_empty());
    }

    #[test]
    fn other_resource_types_and_removed_resources_are_not_discoverys() {
        let mut host = instance("host-1", "eu-west-1", "running");
        host.r#type = ResourceType::Host as i32;
        let mut gone = as_stored(instance("i-gone", "eu-west-1", "running"));
        gone.removed = true;
        let stored = index([&host, &gone]);
        let c = diff(
            stored.get("111111111111"),
            vec![(scope("eu-west-1", ResourceType::AwsEc2Instance), Some(vec![]))],
        );
        assert!(c.removed.is_empty(), "{c:?}");
        // A removed resource read again comes back as added.
        let c = diff(
            stored.get("111111111111"),
            vec![(
                scope("eu-west-1", ResourceType::AwsEc2Instance),
                Some(vec![instance("i-gone", "eu-west-1", "running")]),
            )],
        );
        assert_eq!(c.added.len(), 1);
    }

    #[test]
    fn a_resource_in_another_scope_of_the_account_is_updated_not_removed() {
        let stored = index([&as_stored(instance("i-1", "eu-west-1", "running"))]);
        let c = diff(
            stored.get("111111111111"),
            vec![
                (scope("eu-west-1", ResourceType::AwsEc2Instance), Some(vec![])),
                (
                    scope("us-east-1", ResourceType::AwsEc2Instance),
                    Some(vec![instance("i-1", "us-east-1", "running")]),
                ),
            ],
        );
        assert!(c.removed.is_empty(), "{c:?}");
        assert_eq!(c.updated.len(), 1);
    }
}
