//! Coverage statistics: resources matching a filter, grouped by coverage status, reason,
//! account or resource type; `covered` counts those whose coverage is ACTIVE.

use std::collections::BTreeMap;

use argus_proto::v1::{
    CoverageCount, CoverageGroupBy, CoverageReason, CoverageStatus, GetCoverageStatisticsRequest,
    GetCoverageStatisticsResponse, Resource, ResourceType,
};

use super::view::View;
use super::{filter, keys, records, validate};
use crate::error::Result;

fn group_key(group_by: CoverageGroupBy, r: &Resource) -> String {
    let (status, reason) = r.coverage.as_ref().map_or((0, 0), |c| (c.status, c.reason));
    match group_by {
        CoverageGroupBy::CoverageByStatus => CoverageStatus::try_from(status)
            .map_or("COVERAGE_STATUS_UNSPECIFIED", |s| s.as_str_name())
            .to_string(),
        CoverageGroupBy::CoverageByReason => CoverageReason::try_from(reason)
            .map_or("COVERAGE_REASON_UNSPECIFIED", |s| s.as_str_name())
            .to_string(),
        CoverageGroupBy::CoverageByAccount => r.account_id.clone(),
        CoverageGroupBy::CoverageByResourceType | CoverageGroupBy::Unspecified => ResourceType::try_from(r.r#type)
            .map_or("RESOURCE_TYPE_UNSPECIFIED", |t| t.as_str_name())
            .to_string(),
    }
}

/// Groups in key order.
pub(super) fn statistics(view: &View, req: &GetCoverageStatisticsRequest) -> Result<GetCoverageStatisticsResponse> {
    validate::coverage_group_by(req.group_by)?;
    let filter = req.filter.clone().unwrap_or_default();
    validate::resource_filter("filter", &filter)?;
    let group_by = CoverageGroupBy::try_from(req.group_by).expect("validated");
    let mut groups: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    let mut total = 0;
    for item in view.iter_from(keys::RESOURCES, b"") {
        let (_, value) = item?;
        let r: Resource = records::decode(keys::RESOURCES, &value)?;
        if !filter::resource(&filter, &r) {
            continue;
        }
        total += 1;
        let covered = r
            .coverage
            .as_ref()
            .is_some_and(|c| c.status == CoverageStatus::CoverageActive as i32);
        let g = groups.entry(group_key(group_by, &r)).or_default();
        g.0 += 1;
        g.1 += u64::from(covered);
    }
    Ok(GetCoverageStatisticsResponse {
        counts: groups
            .into_iter()
            .map(|(group_key, (count, covered))| CoverageCount {
                group_key,
                count,
                covered,
            })
            .collect(),
        total,
    })
}
