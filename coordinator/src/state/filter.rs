//! Inspector-style filter criteria, one implementation for every reader: ListFindings,
//! AggregateFindings, suppression rules, the feed, and the inventory and coverage lists.
//!
//! Every set key must match (AND). Within one key any value may match (OR), except NOT_EQUALS
//! values, which must all hold: `[EQUALS a, PREFIX b, NOT_EQUALS c]` means
//! `(= a or starts with b) and != c`. An empty key matches everything. Validation
//! (`validate.rs`) has already refused filters that cannot match, so no case here is an error.

use std::collections::HashMap;

use argus_proto::v1::{
    resource, Account, DateFilter, Finding, FindingFilter, MapFilter, NumberFilter, Resource, ResourceFilter,
    StringComparison, StringFilter,
};
use prost_types::Timestamp;

fn compare(comparison: i32, candidate: &str, wanted: &str) -> bool {
    match StringComparison::try_from(comparison) {
        Ok(StringComparison::Prefix) => candidate.starts_with(wanted),
        Ok(StringComparison::NotEquals) => candidate != wanted,
        // EQUALS, and UNSPECIFIED where a filter documents EQUALS as its default (MapFilter).
        _ => candidate == wanted,
    }
}

fn is_exclusion(comparison: i32) -> bool {
    comparison == StringComparison::NotEquals as i32
}

pub fn strings(filters: &[StringFilter], value: &str) -> bool {
    let mut any_inclusion = false;
    let mut included = false;
    for f in filters {
        if is_exclusion(f.comparison) {
            if !compare(f.comparison, value, &f.value) {
                return false;
            }
        } else {
            any_inclusion = true;
            included |= compare(f.comparison, value, &f.value);
        }
    }
    included || !any_inclusion
}

/// Tag filters: a NOT_EQUALS filter holds when the tag is absent or has another value.
pub fn tags(filters: &[MapFilter], tags: &HashMap<String, String>) -> bool {
    let mut any_inclusion = false;
    let mut included = false;
    for f in filters {
        let value = tags.get(&f.key);
        if is_exclusion(f.comparison) {
            if value.is_some_and(|v| *v == f.value) {
                return false;
            }
        } else {
            any_inclusion = true;
            included |= value.is_some_and(|v| compare(f.comparison, v, &f.value));
        }
    }
    included || !any_inclusion
}

pub fn enums(values: &[i32], value: i32) -> bool {
    values.is_empty() || values.contains(&value)
}

pub fn number(filter: Option<&NumberFilter>, value: f64) -> bool {
    let Some(f) = filter else { return true };
    f.lower_inclusive.is_none_or(|l| value >= l) && f.upper_inclusive.is_none_or(|u| value <= u)
}

/// Seconds and nanos, ordered; an unset timestamp sorts before every set one.
pub fn time_key(t: Option<&Timestamp>) -> (i64, i32) {
    t.map_or((i64::MIN, i32::MIN), |t| (t.seconds, t.nanos))
}

/// A range with any bound set does not match an unset timestamp.
pub fn date(filter: Option<&DateFilter>, value: Option<&Timestamp>) -> bool {
    let Some(f) = filter else { return true };
    if f.start_inclusive.is_none() && f.end_inclusive.is_none() {
        return true;
    }
    let Some(v) = value else { return false };
    let v = time_key(Some(v));
    f.start_inclusive.as_ref().is_none_or(|s| v >= time_key(Some(s)))
        && f.end_inclusive.as_ref().is_none_or(|e| v <= time_key(Some(e)))
}

/// The image repository of a resource, "" when it is not a container image.
pub fn image_repository(resource: Option<&Resource>) -> &str {
    match resource.and_then(|r| r.details.as_ref()) {
        Some(resource::Details::ContainerImage(d)) => &d.repository,
        _ => "",
    }
}

/// Whether `f` looks at more of a finding's resource than the id and type its stored
/// reference carries (`attach.rs`), so the resource's record must be read to judge it.
pub fn needs_resource(f: &FindingFilter) -> bool {
    !f.resource_tags.is_empty() || !f.region.is_empty() || !f.image_repository.is_empty()
}

/// Matches finding `x` on resource `res` (its current record, or its reference when `f` does
/// not [need](needs_resource) more).
pub fn finding(f: &FindingFilter, x: &Finding, res: Option<&Resource>) -> bool {
    finding_with_status(f, x, res, x.status)
}

/// Matches `x` as if its status were `status`: suppression rules judge a finding as it would be
/// unsuppressed, so a rule's own effect never decides whether it applies.
pub fn finding_with_status(f: &FindingFilter, x: &Finding, res: Option<&Resource>, status: i32) -> bool {
    let vuln_id = x.vulnerability.as_ref().map_or("", |v| v.id.as_str());
    let (pkg_name, pkg_version) = x
        .package
        .as_ref()
        .map_or(("", ""), |p| (p.name.as_str(), p.version.as_str()));
    strings(&f.finding_id, &x.finding_id)
        && strings(&f.account_id, &x.account_id)
        && enums(&f.resource_type, res.map_or(0, |r| r.r#type))
        && strings(&f.resource_id, res.map_or("", |r| r.resource_id.as_str()))
        && (f.resource_tags.is_empty() || res.is_some_and(|r| tags(&f.resource_tags, &r.tags)))
        && strings(&f.region, res.map_or("", |r| r.region.as_str()))
        && enums(&f.severity, x.severity)
        && enums(&f.status, status)
        && enums(&f.finding_type, x.r#type)
        && strings(&f.vulnerability_id, vuln_id)
        && strings(&f.package_name, pkg_name)
        && strings(&f.package_version, pkg_version)
        && enums(&f.fix_available, x.fix_available)
        && f.exploit_available.is_none_or(|e| e == x.exploit_available)
        && number(f.score.as_ref(), x.score)
        && number(f.epss_score.as_ref(), x.epss_score)
        && date(f.first_observed_at.as_ref(), x.first_observed_at.as_ref())
        && date(f.last_observed_at.as_ref(), x.last_observed_at.as_ref())
        && date(f.updated_at.as_ref(), x.updated_at.as_ref())
        && strings(&f.image_repository, image_repository(res))
        && strings(&f.title, &x.title)
        && network(f, x)
}

/// The network keys: a finding without reachability details matches only when they are unset.
fn network(f: &FindingFilter, x: &Finding) -> bool {
    if f.network_protocol.is_empty() && f.open_port_range.is_empty() {
        return true;
    }
    let Some(d) = &x.network_reachability else {
        return false;
    };
    let r = d.open_port_range.unwrap_or_default();
    enums(&f.network_protocol, d.protocol)
        && (f.open_port_range.is_empty()
            || f.open_port_range
                .iter()
                .any(|p| p.begin_inclusive <= r.end && r.begin <= p.end_inclusive))
}

pub fn resource(f: &ResourceFilter, r: &Resource) -> bool {
    let coverage = r.coverage.as_ref();
    (f.include_removed || !r.removed)
        && strings(&f.account_id, &r.account_id)
        && strings(&f.region, &r.region)
        && enums(&f.resource_type, r.r#type)
        && strings(&f.resource_id, &r.resource_id)
        && tags(&f.tags, &r.tags)
        && strings(&f.artifact_digest, &r.artifact_digest)
        && enums(&f.coverage_status, coverage.map_or(0, |c| c.status))
        && enums(&f.coverage_reason, coverage.map_or(0, |c| c.reason))
        && date(
            f.last_scanned_at.as_ref(),
            coverage.and_then(|c| c.last_scanned_at.as_ref()),
        )
}

pub fn account(
    account_id: &[StringFilter],
    organization_unit: &[StringFilter],
    tag_filters: &[MapFilter],
    a: &Account,
) -> bool {
    strings(account_id, &a.account_id) && strings(organization_unit, &a.organization_unit) && tags(tag_filters, &a.tags)
}
