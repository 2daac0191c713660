//! The accounts to discover: the organization's, walked from its root (ListRoots, then
//! ListOrganizationalUnitsForParent and ListAccountsForParent for every unit, so an account's
//! unit costs no call of its own), with each account's tags; or the configured list.

use std::collections::HashMap;

use aws_sdk_organizations::types::AccountStatus;
use futures::StreamExt;

use super::aws::{aws_error, Aws};
use crate::error::Result;

/// One account as the organization describes it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrgAccount {
    pub account_id: String,
    pub name: String,
    /// The path of organizational unit names from the root: `/` for an account in the root,
    /// `/Workloads/Prod` for one two units down. A PREFIX filter on `/Workloads/` selects a
    /// subtree.
    pub organization_unit: String,
    pub tags: HashMap<String, String>,
}

/// Every ACTIVE account of the organization (suspended and closed ones are left out), sorted by
/// id.
pub async fn accounts(aws: &Aws) -> Result<Vec<OrgAccount>> {
    let client = aws.organizations();
    let mut roots = Vec::new();
    let mut pages = client.list_roots().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| aws_error("organizations:ListRoots", e))?;
        roots.extend(page.roots().iter().filter_map(|r| r.id().map(str::to_string)));
    }
    let mut out = Vec::new();
    // (parent id, path of the parent)
    let mut parents: Vec<(String, String)> = roots.into_iter().map(|id| (id, String::new())).collect();
    while let Some((parent, path)) = parents.pop() {
        let mut pages = client
            .list_accounts_for_parent()
            .parent_id(&parent)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| aws_error("organizations:ListAccountsForParent", e))?;
            for a in page.accounts() {
                let (Some(id), status) = (a.id(), a.status()) else {
                    continue;
                };
                if status.is_some_and(|s| *s != AccountStatus::Active) {
                    continue;
                }
                out.push(OrgAccount {
                    account_id: id.to_string(),
                    name: a.name().unwrap_or_default().to_string(),
                    organization_unit: if path.is_empty() { "/".into() } else { path.clone() },
                    tags: HashMap::new(),
                });
            }
        }
        let mut pages = client
            .list_organizational_units_for_parent()
            .parent_id(&parent)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| aws_error("organizations:ListOrganizationalUnitsForParent", e))?;
            for ou in page.organizational_units() {
                if let Some(id) = ou.id() {
                    parents.push((id.to_string(), format!("{path}/{}", ou.name().unwrap_or(id))));
                }
            }
        }
    }
    // One call per account: the only per-account cost of the listing, so run them side by side.
    let futures: Vec<_> = out.iter().map(|a| tags(&client, &a.account_id)).collect();
    let tagged: Vec<Result<HashMap<String, String>>> = futures::stream::iter(futures)
        .buffered(aws.account_concurrency())
        .collect()
        .await;
    for (account, t) in out.iter_mut().zip(tagged) {
        account.tags = t?;
    }
    out.sort_by(|a, b| a.account_id.cmp(&b.account_id));
    out.dedup_by(|a, b| a.account_id == b.account_id);
    Ok(out)
}

async fn tags(client: &aws_sdk_organizations::Client, account_id: &str) -> Result<HashMap<String, String>> {
    let mut tags = HashMap::new();
    let mut pages = client
        .list_tags_for_resource()
        .resource_id(account_id)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| aws_error("organizations:ListTagsForResource", e))?;
        for t in page.tags() {
            tags.insert(t.key().to_string(), t.value().to_string());
        }
    }
    Ok(tags)
}
