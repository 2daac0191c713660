//! Suppression rules. A finding that is not CLOSED is SUPPRESSED exactly while some rule
//! matches it, `suppressed_by` naming the first matching rule in name order. Rules are judged
//! against the finding as if it were ACTIVE, so a rule's `status` criterion is not circular.
//! Every rule change re-evaluates all findings by streaming the findings column family; a new,
//! reopened or updated finding is judged when it is written (`scan.rs`).

use argus_proto::v1::{
    ChangeKind, DeleteSuppressionRuleRequest, DeleteSuppressionRuleResponse, Finding, FindingStatus,
    PutSuppressionRuleRequest, PutSuppressionRuleResponse, Resource, SuppressionRule,
};

use super::apply::Ctx;
use super::{attach, filter, findings, keys, records, Tally, Txn};
use crate::error::Result;

pub(super) fn load_rules(txn: &Txn) -> Result<Vec<SuppressionRule>> {
    txn.iter_prefix(keys::RULES, b"")
        .map(|item| item.and_then(|(_, v)| records::decode(keys::RULES, &v)))
        .collect()
}

/// The first rule (in name order) that matches `finding` on `resource` (its current record).
fn matching_rule<'r>(rules: &'r [SuppressionRule], finding: &Finding, resource: Option<&Resource>) -> Option<&'r str> {
    rules
        .iter()
        .find(|r| {
            r.filter
                .as_ref()
                .is_some_and(|f| filter::finding_with_status(f, finding, resource, FindingStatus::Active as i32))
        })
        .map(|r| r.name.as_str())
}

/// Sets the status of an open finding on `resource` from the rules; true when it ends up
/// SUPPRESSED.
pub(super) fn judge(rules: &[SuppressionRule], finding: &mut Finding, resource: &Resource) -> bool {
    debug_assert!(findings::is_open(finding));
    debug_assert_eq!(
        finding.resource.as_ref().map(|r| r.resource_id.as_str()),
        Some(resource.resource_id.as_str())
    );
    set_status(finding, matching_rule(rules, finding, Some(resource)))
}

/// Suppressed by the rule `by` names, or active when none does; true when suppressed.
fn set_status(finding: &mut Finding, by: Option<&str>) -> bool {
    match by {
        Some(name) => {
            finding.status = FindingStatus::Suppressed as i32;
            finding.suppressed_by = name.to_string();
            true
        }
        None => {
            finding.status = FindingStatus::Active as i32;
            finding.suppressed_by.clear();
            false
        }
    }
}

pub(super) fn put_rule(ctx: &mut Ctx, req: &PutSuppressionRuleRequest) -> Result<PutSuppressionRuleResponse> {
    let mut rule = req.rule.clone().expect("validated");
    let old: Option<SuppressionRule> = ctx.txn.get_record(keys::RULES, rule.name.as_bytes())?;
    rule.created_at = old.and_then(|o| o.created_at).or(Some(ctx.now));
    rule.updated_at = Some(ctx.now);
    ctx.txn
        .put_record(keys::RULES, rule.name.clone().into_bytes(), &mut rule);
    ctx.rules_changed();
    let (findings_suppressed, findings_restored) = reevaluate(ctx)?;
    Ok(PutSuppressionRuleResponse {
        rule: Some(rule),
        findings_suppressed,
        findings_restored,
    })
}

/// `None` when no rule has that name (the command is refused, nothing changes).
pub(super) fn delete_rule(
    ctx: &mut Ctx,
    req: &DeleteSuppressionRuleRequest,
) -> Result<Option<DeleteSuppressionRuleResponse>> {
    if ctx.txn.get(keys::RULES, req.name.as_bytes())?.is_none() {
        return Ok(None);
    }
    ctx.txn.delete(keys::RULES, req.name.clone().into_bytes());
    ctx.rules_changed();
    let (_, findings_restored) = reevaluate(ctx)?;
    Ok(Some(DeleteSuppressionRuleResponse { findings_restored }))
}

/// Brings every open finding in line with the current rules: newly matched ones become
/// SUPPRESSED (change SUPPRESSED), no longer matched ones ACTIVE again (change UPDATED), and one
/// now held by another rule names it (change SUPPRESSED). Returns (suppressed, restored).
fn reevaluate(ctx: &mut Ctx) -> Result<(u64, u64)> {
    let rules = ctx.rules()?;
    let mut touched = Vec::new();
    let (mut newly_suppressed, mut restored) = (0, 0);
    let need_resource = need_resource(&rules);
    let mut resources = attach::from_txn(ctx.txn);
    // Only the findings that change are kept; the column family itself is streamed.
    for item in ctx.txn.iter_prefix(keys::FINDINGS, b"") {
        let (_, value) = item?;
        let mut f: Finding = records::decode(keys::FINDINGS, &value)?;
        if !findings::is_open(&f) {
            continue;
        }
        let before = Tally::of(&f);
        let was_suppressed = f.status == FindingStatus::Suppressed as i32;
        let resource = if need_resource {
            resources.of(&f)?
        } else {
            f.resource.as_ref()
        };
        let by = matching_rule(&rules, &f, resource);
        let Some(kind) = rejudged(&mut f, by) else { continue };
        match (was_suppressed, kind) {
            (false, _) => newly_suppressed += 1,
            (true, ChangeKind::Updated) => restored += 1,
            _ => {}
        }
        touched.push((before, f, kind));
    }
    drop(resources);
    for (before, mut f, kind) in touched {
        f.updated_at = Some(ctx.now);
        ctx.write_finding(Some(before), &mut f, Some(kind));
    }
    Ok((newly_suppressed, restored))
}

/// Whether some rule looks at more of a resource than a finding's reference (`attach.rs`)
/// carries, so judging needs the resource's record.
fn need_resource(rules: &[SuppressionRule]) -> bool {
    rules
        .iter()
        .any(|r| r.filter.as_ref().is_some_and(filter::needs_resource))
}

/// Sets an open finding's status from `by`, the rule that matches it now; the change that
/// makes: SUPPRESSED when newly suppressed or held by another rule, UPDATED when released,
/// none when it stays as it was.
fn rejudged(f: &mut Finding, by: Option<&str>) -> Option<ChangeKind> {
    let was_suppressed = f.status == FindingStatus::Suppressed as i32;
    let was_by = std::mem::take(&mut f.suppressed_by);
    match (was_suppressed, set_status(f, by)) {
        (false, true) => Some(ChangeKind::Suppressed),
        (true, false) => Some(ChangeKind::Updated),
        (true, true) if f.suppressed_by != was_by => Some(ChangeKind::Suppressed),
        _ => None,
    }
}

/// Judges the open findings of `resource` again after its record changed in what rules can
/// look at (tags, region, details): a rule on the tag `env = test` holds the findings of a
/// resource from the moment it is tagged so, and releases them when the tag goes.
pub(super) fn rejudge_resource(ctx: &mut Ctx, resource: &Resource) -> Result<()> {
    let rules = ctx.rules()?;
    if !need_resource(&rules) {
        return Ok(());
    }
    for id in findings::ids_of_resource(ctx, &resource.resource_id)? {
        let Some(mut f) = findings::load(ctx, &id)? else {
            continue;
        };
        if !findings::is_open(&f) {
            continue;
        }
        let before = Tally::of(&f);
        let by = matching_rule(&rules, &f, Some(resource));
        if let Some(kind) = rejudged(&mut f, by) {
            f.updated_at = Some(ctx.now);
            ctx.write_finding(Some(before), &mut f, Some(kind));
        }
    }
    Ok(())
}
