//! Finding counts by severity, grouped by account, resource, package, vulnerability, image
//! repository or resource type. One pass over the findings (from a snapshot) fills one counter
//! per bucket; buckets are ordered by (critical, high, medium, low, all) descending, then key.
//!
//! Bucket keys: the account id; the resource id; the package *name* (as Inspector's package
//! aggregation does: one bucket per package whatever its installed versions, which is what an
//! upgrade campaign targets); the vulnerability id; the container image repository (findings on
//! resources that are not container images are left out); the resource type's enum name.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use argus_proto::v1::{
    AggregateFindingsRequest, AggregateFindingsResponse, AggregationBucket, AggregationType, Finding, FindingStatus,
    Resource, ResourceType, Severity, SeverityCounts,
};
use prost::Message;

use super::page::{self, TokenReader, TokenWriter};
use super::view::View;
use super::{attach, filter, keys, records, validate};
use crate::error::Result;

/// The bucket `f` on resource `res` counts in (`res` is the current record when the bucket is
/// the image repository, the finding's reference otherwise).
fn bucket_key(aggregation: AggregationType, f: &Finding, res: Option<&Resource>) -> Option<String> {
    let key = match aggregation {
        AggregationType::Unspecified => return None,
        AggregationType::AggregateByAccount => f.account_id.clone(),
        AggregationType::AggregateByResource => res?.resource_id.clone(),
        AggregationType::AggregateByPackage => f.package.as_ref()?.name.clone(),
        AggregationType::AggregateByVulnerability => f.vulnerability.as_ref()?.id.clone(),
        AggregationType::AggregateByImageRepository => filter::image_repository(res).to_string(),
        AggregationType::AggregateByResourceType => ResourceType::try_from(res?.r#type)
            .map(|t| t.as_str_name())
            .unwrap_or("RESOURCE_TYPE_UNSPECIFIED")
            .to_string(),
    };
    (!key.is_empty()).then_some(key)
}

fn count(c: &mut SeverityCounts, severity: i32) {
    c.all += 1;
    match Severity::try_from(severity) {
        Ok(Severity::Critical) => c.critical += 1,
        Ok(Severity::High) => c.high += 1,
        Ok(Severity::Medium) => c.medium += 1,
        Ok(Severity::Low) => c.low += 1,
        _ => c.untriaged += 1,
    }
}

fn rank(c: &SeverityCounts) -> [u64; 5] {
    [c.critical, c.high, c.medium, c.low, c.all]
}

/// Bucket order: counts descending, then key ascending.
fn compare(a: &([u64; 5], &str), b: &([u64; 5], &str)) -> Ordering {
    b.0.cmp(&a.0).then_with(|| a.1.cmp(b.1))
}

pub(super) fn aggregate_findings(view: &View, req: &AggregateFindingsRequest) -> Result<AggregateFindingsResponse> {
    validate::aggregation(req.aggregation, req.filter.as_ref())?;
    let aggregation = AggregationType::try_from(req.aggregation).expect("validated");
    let mut filter = req.filter.clone().unwrap_or_default();
    if filter.status.is_empty() {
        filter.status = vec![FindingStatus::Active as i32];
    }
    let fp = page::fingerprint("aggregate", &[&filter.encode_to_vec(), &req.aggregation.to_be_bytes()]);
    let after = match TokenReader::open(&req.page_token, fp)? {
        None => None,
        Some(mut r) => {
            let mut counts = [0u64; 5];
            for c in &mut counts {
                *c = r.u64()?;
            }
            let key = r.string()?;
            r.finish()?;
            Some((counts, key))
        }
    };

    let mut buckets: BTreeMap<String, SeverityCounts> = BTreeMap::new();
    let mut total = SeverityCounts::default();
    let mut resources = attach::from_view(view);
    let by_repository = aggregation == AggregationType::AggregateByImageRepository;
    for item in view.iter_from(keys::FINDINGS, b"") {
        let (_, value) = item?;
        let f: Finding = records::decode(keys::FINDINGS, &value)?;
        if !resources.matches(&filter, &f)? {
            continue;
        }
        let res = match f.resource.as_ref() {
            Some(r) if by_repository => resources.get(&r.resource_id)?.or(Some(r)),
            r => r,
        };
        let Some(key) = bucket_key(aggregation, &f, res) else {
            continue;
        };
        count(&mut total, f.severity);
        count(buckets.entry(key).or_default(), f.severity);
    }

    let mut ordered: Vec<(String, SeverityCounts)> = buckets.into_iter().collect();
    ordered.sort_by(|a, b| compare(&(rank(&a.1), &a.0), &(rank(&b.1), &b.0)));
    let start = after.map_or(0, |(counts, key)| {
        ordered.partition_point(|(k, c)| compare(&(rank(c), k), &(counts, &key)) != Ordering::Greater)
    });
    let page_size = page::size(req.page_size)?;
    let end = (start + page_size).min(ordered.len());
    let next_page_token = if end < ordered.len() {
        let (key, counts) = &ordered[end - 1];
        rank(counts)
            .iter()
            .fold(TokenWriter::new(fp), |w, c| w.u64(*c))
            .bytes(key.as_bytes())
            .finish()
    } else {
        String::new()
    };
    let buckets = ordered[start..end]
        .iter()
        .map(|(key, counts)| AggregationBucket {
            key: key.clone(),
            counts: Some(*counts),
        })
        .collect();
    Ok(AggregateFindingsResponse {
        buckets,
        next_page_token,
        total: Some(total),
    })
}
