//! LOST / DUPLICATED: the findings the deterministic generator predicts for every live resource
//! against what a coordinator holds — every ACTIVE finding id (full), or the ACTIVE count per
//! resource (counts, for estates too large to list).

use std::collections::{HashMap, HashSet};

use argus_coordinator::client::Client;
use argus_proto::v1::{AggregateFindingsRequest, AggregationType, FindingFilter, FindingStatus, ListFindingsRequest};

use super::model::{id_number, Estate};

#[derive(Clone, Debug, Default)]
pub struct Verdict {
    /// "full" or "counts".
    pub mode: &'static str,
    pub expected: u64,
    pub found: u64,
    /// Expected and not ACTIVE on the node.
    pub lost: u64,
    /// ACTIVE on the node and not expected.
    pub unexpected: u64,
    /// The same finding id listed more than once.
    pub duplicated: u64,
    /// Expected ACTIVE findings of `vulnerability` (the marker advisory), and found.
    pub marker_expected: u64,
    pub marker_found: u64,
}

impl Verdict {
    pub fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "mode": self.mode, "expected": self.expected, "found": self.found, "lost": self.lost,
            "unexpected": self.unexpected, "duplicated": self.duplicated,
            "marker_expected": self.marker_expected, "marker_found": self.marker_found,
        })
    }

    pub fn exact(&self) -> bool {
        self.lost == 0 && self.unexpected == 0 && self.duplicated == 0 && self.expected == self.found
    }
}

fn active() -> FindingFilter {
    FindingFilter {
        status: vec![FindingStatus::Active as i32],
        ..Default::default()
    }
}

/// Every ACTIVE finding id on the node `client` talks to, compared with the estate's.
pub async fn full(client: &Client, estate: &Estate) -> anyhow::Result<Verdict> {
    let marker = argus_worker::synthetic::MARKER_ADVISORY;
    let mut expected: HashSet<u128> = HashSet::new();
    let mut v = Verdict {
        mode: "full",
        ..Default::default()
    };
    let mut marker_ids = HashSet::new();
    for i in 0..estate.len {
        let (account, resource) = (estate.account(i), estate.resource_id(i));
        for f in argus_worker::synthetic::expected(&estate.digest(i), estate.packages, estate.marker_percent) {
            let id = id_number(&argus_proto::finding_id(
                &account,
                &resource,
                &f.vulnerability,
                &f.package,
                &f.path,
            ));
            expected.insert(id);
            if f.vulnerability == marker {
                marker_ids.insert(id);
            }
        }
    }
    v.expected = expected.len() as u64;
    v.marker_expected = marker_ids.len() as u64;
    let mut seen: HashSet<u128> = HashSet::with_capacity(expected.len());
    let mut token = String::new();
    loop {
        let req = ListFindingsRequest {
            filter: Some(active()),
            page_size: 1000,
            page_token: token.clone(),
            ..Default::default()
        };
        let page = client
            .retry(|c| {
                let r = req.clone();
                async move { c.findings().list_findings(r).await }
            })
            .await?;
        for f in page.findings {
            let id = id_number(&f.finding_id);
            if !seen.insert(id) {
                v.duplicated += 1;
                continue;
            }
            if expected.contains(&id) {
                if marker_ids.contains(&id) {
                    v.marker_found += 1;
                }
            } else {
                v.unexpected += 1;
            }
        }
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    v.found = seen.len() as u64;
    v.lost = expected.iter().filter(|id| !seen.contains(id)).count() as u64;
    Ok(v)
}

/// ACTIVE findings per resource on the node, compared with the estate's counts.
pub async fn counts(client: &Client, estate: &Estate) -> anyhow::Result<Verdict> {
    let mut want: HashMap<String, u64> = HashMap::with_capacity(estate.len as usize);
    let mut v = Verdict {
        mode: "counts",
        ..Default::default()
    };
    for i in 0..estate.len {
        let n = estate.expected_ids(i).len() as u64;
        v.expected += n;
        if n > 0 {
            want.insert(estate.resource_id(i), n);
        }
    }
    let mut token = String::new();
    loop {
        let req = AggregateFindingsRequest {
            aggregation: AggregationType::AggregateByResource as i32,
            filter: Some(active()),
            page_size: 1000,
            page_token: token.clone(),
        };
        let page = client
            .retry(|c| {
                let r = req.clone();
                async move { c.findings().aggregate_findings(r).await }
            })
            .await?;
        for b in page.buckets {
            let got = b.counts.map_or(0, |c| c.all);
            v.found += got;
            let w = want.remove(&b.key).unwrap_or(0);
            v.lost += w.saturating_sub(got);
            v.unexpected += got.saturating_sub(w);
        }
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    v.lost += want.values().sum::<u64>();
    Ok(v)
}
