//! Listing findings, accounts, resources and rules, page by page, from a snapshot.
//!
//! Findings can be sorted by any field, so a page is chosen by streaming every finding past the
//! filter and keeping only the best `page_size + 1` after the token's position in a bounded
//! heap: memory stays at one page however many findings there are. Sorting by finding id
//! ascending (the default) follows the key order and stops after one page.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use argus_proto::v1::{
    Account, Finding, FindingFilter, FindingSortField, ListAccountsRequest, ListAccountsResponse, ListFindingsRequest,
    ListFindingsResponse, ListSuppressionRulesRequest, ListSuppressionRulesResponse, Resource, ResourceFilter,
    SortOrder, SuppressionRule,
};
use prost::Message;

use super::attach::{self, Resources};
use super::filter::{self, time_key};
use super::page::{self, TokenReader, TokenWriter};
use super::records::{self, Record};
use super::view::View;
use super::{keys, validate};
use crate::error::{Error, Result};

/// The value a finding is sorted by; one variant per query.
#[derive(Clone, Debug, PartialEq)]
enum SortValue {
    Int(i64),
    Float(f64),
    Time(i64, i32),
    Str(String),
}

impl SortValue {
    fn compare(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Self::Int(a), Self::Int(b)) => a.cmp(b),
            (Self::Float(a), Self::Float(b)) => a.total_cmp(b),
            (Self::Time(a, an), Self::Time(b, bn)) => (a, an).cmp(&(b, bn)),
            (Self::Str(a), Self::Str(b)) => a.cmp(b),
            _ => unreachable!("one query sorts by one kind of value"),
        }
    }
}

#[derive(Clone, Copy)]
struct Sort {
    field: FindingSortField,
    desc: bool,
}

impl Sort {
    fn of(req: &ListFindingsRequest) -> Self {
        let s = req.sort.unwrap_or_default();
        let field = match FindingSortField::try_from(s.field) {
            Ok(FindingSortField::Unspecified) | Err(_) => FindingSortField::SortByFindingId,
            Ok(f) => f,
        };
        Self {
            field,
            desc: s.order == SortOrder::Desc as i32,
        }
    }

    fn value(&self, f: &Finding) -> SortValue {
        use FindingSortField as F;
        let res = f.resource.as_ref();
        match self.field {
            F::Unspecified | F::SortByFindingId => SortValue::Str(f.finding_id.clone()),
            F::SortBySeverity => SortValue::Int(f.severity.into()),
            F::SortByScore => SortValue::Float(f.score),
            F::SortByEpssScore => SortValue::Float(f.epss_score),
            F::SortByFirstObservedAt => time(f.first_observed_at.as_ref()),
            F::SortByLastObservedAt => time(f.last_observed_at.as_ref()),
            F::SortByUpdatedAt => time(f.updated_at.as_ref()),
            F::SortByAccountId => SortValue::Str(f.account_id.clone()),
            F::SortByResourceId => SortValue::Str(res.map_or_else(String::new, |r| r.resource_id.clone())),
            F::SortByVulnerabilityId => {
                SortValue::Str(f.vulnerability.as_ref().map_or_else(String::new, |v| v.id.clone()))
            }
        }
    }

    /// The page order: the sort value in the requested direction, ties by finding id ascending.
    fn compare(&self, a: &(SortValue, String), b: &(SortValue, String)) -> Ordering {
        let primary = a.0.compare(&b.0);
        let primary = if self.desc { primary.reverse() } else { primary };
        primary.then_with(|| a.1.cmp(&b.1))
    }

    fn write(&self, w: TokenWriter, pos: &(SortValue, String)) -> TokenWriter {
        let w = match &pos.0 {
            SortValue::Int(v) => w.u8(1).i64(*v),
            SortValue::Float(v) => w.u8(2).u64(v.to_bits()),
            SortValue::Time(s, n) => w.u8(3).i64(*s).i64((*n).into()),
            SortValue::Str(s) => w.u8(4).bytes(s.as_bytes()),
        };
        w.bytes(pos.1.as_bytes())
    }

    fn read(&self, mut r: TokenReader, sample: &SortValue) -> Result<(SortValue, String)> {
        let value = match (r.u8()?, sample) {
            (1, SortValue::Int(_)) => SortValue::Int(r.i64()?),
            (2, SortValue::Float(_)) => SortValue::Float(f64::from_bits(r.u64()?)),
            (3, SortValue::Time(..)) => {
                let s = r.i64()?;
                let n = i32::try_from(r.i64()?).map_err(|_| Error::InvalidArgument("page_token: malformed".into()))?;
                SortValue::Time(s, n)
            }
            (4, SortValue::Str(_)) => SortValue::Str(r.string()?),
            _ => return Err(Error::InvalidArgument("page_token: malformed".into())),
        };
        let id = r.string()?;
        r.finish()?;
        Ok((value, id))
    }
}

fn time(t: Option<&prost_types::Timestamp>) -> SortValue {
    let (s, n) = time_key(t);
    SortValue::Time(s, n)
}

/// A candidate for the page, ordered by the query's sort so the heap's top is the worst kept.
struct Candidate {
    pos: (SortValue, String),
    finding: Finding,
    sort: Sort,
}

impl PartialEq for Candidate {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Candidate {}
impl PartialOrd for Candidate {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Candidate {
    fn cmp(&self, other: &Self) -> Ordering {
        self.sort.compare(&self.pos, &other.pos)
    }
}

pub(super) fn list_findings(view: &View, req: &ListFindingsRequest) -> Result<ListFindingsResponse> {
    let (field, order) = req.sort.map_or((0, 0), |s| (s.field, s.order));
    validate::finding_query(req.filter.as_ref(), field, order)?;
    let filter = req.filter.clone().unwrap_or_default();
    let sort = Sort::of(req);
    let page_size = page::size(req.page_size)?;
    let fp = page::fingerprint(
        "findings",
        &[
            &filter.encode_to_vec(),
            &(sort.field as i32).to_be_bytes(),
            &[u8::from(sort.desc)],
        ],
    );
    let sample = sort.value(&Finding::default());
    let after = TokenReader::open(&req.page_token, fp)?
        .map(|r| sort.read(r, &sample))
        .transpose()?;

    let mut resources = attach::from_view(view);
    let mut chosen = if sort.field == FindingSortField::SortByFindingId && !sort.desc {
        first_by_id(
            view,
            &mut resources,
            &filter,
            after.as_ref().map(|a| a.1.as_str()),
            page_size + 1,
        )?
    } else {
        best_candidates(view, &mut resources, &filter, sort, after.as_ref(), page_size + 1)?
    };
    let next_page_token = if chosen.len() > page_size {
        chosen.truncate(page_size);
        let last = chosen.last().expect("page_size >= 1");
        sort.write(TokenWriter::new(fp), &(sort.value(last), last.finding_id.clone()))
            .finish()
    } else {
        String::new()
    };
    for f in &mut chosen {
        resources.attach(f)?;
    }
    Ok(ListFindingsResponse {
        findings: chosen,
        next_page_token,
    })
}

/// The first `n` matching findings after `after_id` in key (finding id) order.
fn first_by_id<G: FnMut(&str) -> Result<Option<Resource>>>(
    view: &View,
    resources: &mut Resources<G>,
    filter: &FindingFilter,
    after_id: Option<&str>,
    n: usize,
) -> Result<Vec<Finding>> {
    let start = after_id.map_or_else(Vec::new, key_after);
    let mut out = Vec::with_capacity(n);
    for item in view.iter_from(keys::FINDINGS, &start) {
        let (_, value) = item?;
        let f: Finding = records::decode(keys::FINDINGS, &value)?;
        if resources.matches(filter, &f)? {
            out.push(f);
            if out.len() == n {
                break;
            }
        }
    }
    Ok(out)
}

/// The best `n` matching findings strictly after `after` in the sort order, sorted.
fn best_candidates<G: FnMut(&str) -> Result<Option<Resource>>>(
    view: &View,
    resources: &mut Resources<G>,
    filter: &FindingFilter,
    sort: Sort,
    after: Option<&(SortValue, String)>,
    n: usize,
) -> Result<Vec<Finding>> {
    let mut heap: BinaryHeap<Candidate> = BinaryHeap::with_capacity(n + 1);
    for item in view.iter_from(keys::FINDINGS, b"") {
        let (_, value) = item?;
        let f: Finding = records::decode(keys::FINDINGS, &value)?;
        if !resources.matches(filter, &f)? {
            continue;
        }
        let pos = (sort.value(&f), f.finding_id.clone());
        if after.is_some_and(|a| sort.compare(&pos, a) != Ordering::Greater) {
            continue;
        }
        let candidate = Candidate { pos, finding: f, sort };
        if heap.len() < n {
            heap.push(candidate);
        } else if heap.peek().is_some_and(|worst| candidate < *worst) {
            heap.pop();
            heap.push(candidate);
        }
    }
    Ok(heap.into_sorted_vec().into_iter().map(|c| c.finding).collect())
}

/// The smallest key after `key`: listing resumes there.
fn key_after(key: &str) -> Vec<u8> {
    let mut k = key.as_bytes().to_vec();
    k.push(0);
    k
}

/// A page of records from a column family in key order, resuming after the token's key.
fn keyed_page<R: Record>(
    view: &View,
    cf: &'static str,
    fp: [u8; 8],
    token: &str,
    page_size: u32,
    mut keep: impl FnMut(&R) -> bool,
) -> Result<(Vec<R>, String)> {
    let start = match TokenReader::open(token, fp)? {
        None => Vec::new(),
        Some(mut r) => {
            let last = r.string()?;
            r.finish()?;
            key_after(&last)
        }
    };
    let page_size = page::size(page_size)?;
    let mut out = Vec::new();
    let mut last_key = Vec::new();
    for item in view.iter_from(cf, &start) {
        let (key, value) = item?;
        let record: R = records::decode(cf, &value)?;
        if !keep(&record) {
            continue;
        }
        if out.len() == page_size {
            let token = TokenWriter::new(fp).bytes(&last_key).finish();
            return Ok((out, token));
        }
        out.push(record);
        last_key = key;
    }
    Ok((out, String::new()))
}

pub(super) fn list_accounts(view: &View, req: &ListAccountsRequest) -> Result<ListAccountsResponse> {
    validate::account_filters(&req.account_id, &req.organization_unit, &req.tags)?;
    let query = ListAccountsRequest {
        page_size: 0,
        page_token: String::new(),
        ..req.clone()
    };
    let fp = page::fingerprint("accounts", &[&query.encode_to_vec()]);
    let (accounts, next_page_token) = keyed_page(
        view,
        keys::ACCOUNTS,
        fp,
        &req.page_token,
        req.page_size,
        |a: &Account| filter::account(&req.account_id, &req.organization_unit, &req.tags, a),
    )?;
    Ok(ListAccountsResponse {
        accounts,
        next_page_token,
    })
}

/// Resources (with their coverage) in id order; removed ones only with `include_removed`.
pub(super) fn list_resources(
    view: &View,
    filter: Option<&ResourceFilter>,
    page_size: u32,
    token: &str,
) -> Result<(Vec<Resource>, String)> {
    let filter = filter.cloned().unwrap_or_default();
    validate::resource_filter("filter", &filter)?;
    let fp = page::fingerprint("resources", &[&filter.encode_to_vec()]);
    keyed_page(view, keys::RESOURCES, fp, token, page_size, |r: &Resource| {
        filter::resource(&filter, r)
    })
}

pub(super) fn list_rules(view: &View, req: &ListSuppressionRulesRequest) -> Result<ListSuppressionRulesResponse> {
    let fp = page::fingerprint("rules", &[]);
    let (rules, next_page_token) = keyed_page(
        view,
        keys::RULES,
        fp,
        &req.page_token,
        req.page_size,
        |_: &SuppressionRule| true,
    )?;
    Ok(ListSuppressionRulesResponse { rules, next_page_token })
}
