//! Matching an inventory against the vulnerability database: OSV `affected` semantics, each
//! ecosystem's version order, alias grouping, fix versions, scores, EPSS and KEV.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use argus_proto::{Inventory, Package};
use serde::{Deserialize, Serialize};

use crate::score::cvss::{self, Severity};
use crate::version::{Scheme, VersionError};
use crate::vulndb::osv::{Advisory, AffectedPackage, Event, RangeKind};
use crate::vulndb::{Epss, KevEntry, VulnDb, VulnDbError};

/// Where a finding's severity came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SeveritySource {
    /// Computed from a CVSS vector in the record.
    Cvss,
    /// The record's own severity word; no vector was available.
    RecordLabel,
    /// Nothing to go on: UNTRIAGED.
    None,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FixAvailable {
    Yes,
    No,
}

/// One vulnerability in one package.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Match {
    /// The preferred id: a CVE when the advisories name one.
    pub vulnerability_id: String,
    /// Every other id of the same vulnerability (advisory ids and aliases), sorted.
    pub aliases: Vec<String>,
    pub package: Package,
    /// The lowest version above the installed one that fixes it.
    pub fixed_in_version: Option<String>,
    pub fix_available: FixAvailable,
    pub severity: String,
    pub severity_source: SeveritySource,
    pub score: Option<f64>,
    pub vector: Option<String>,
    pub title: String,
    pub description: Option<String>,
    pub urls: Vec<String>,
    pub remediation: String,
    pub epss: Option<f32>,
    pub epss_percentile: Option<f32>,
    pub exploit_available: bool,
    pub kev_date_added: Option<String>,
    pub published: Option<String>,
}

/// The outcome of matching one inventory.
#[derive(Debug, Default)]
pub struct MatchReport {
    pub matches: Vec<Match>,
    /// Versions (installed or in advisories) that could not be ordered: reported, never
    /// silently treated as "not affected".
    pub warnings: Vec<String>,
    /// Packages whose ecosystem Argus cannot order.
    pub unsupported: u64,
}

/// The key a distribution advisory uses: Debian, Ubuntu and Alpine advisories name the source
/// package and its version; RPM distributions name binary packages.
fn lookup_name_and_version(p: &Package) -> (&str, &str) {
    let is_os = matches!(
        p.package_manager,
        argus_proto::PackageManager::Dpkg | argus_proto::PackageManager::Apk
    );
    if is_os {
        let name = p.source_name.as_deref().unwrap_or(&p.name);
        let version = p.source_version.as_deref().unwrap_or(&p.version);
        (name, version)
    } else {
        (&p.name, &p.version)
    }
}

/// The index key the matcher looks `pkg` up by: an advisory must name this key to change what
/// `pkg` matches (re-evaluation re-matches exactly the inventories holding such a key).
pub fn lookup_key(pkg: &Package) -> String {
    crate::vulndb::index_key(pkg.ecosystem.as_str(), lookup_name_and_version(pkg).0)
}

/// Whether `installed` falls in the affected package's ranges or versions list, and the
/// lowest fix above it.
pub fn affects(
    scheme: Scheme,
    affected: &AffectedPackage,
    installed: &str,
) -> Result<(bool, Option<String>), VersionError> {
    if affected.versions.iter().any(|v| v == installed) {
        let fix = lowest_fix(scheme, affected, installed)?;
        return Ok((true, fix));
    }
    let mut hit = false;
    for range in &affected.ranges {
        let s = match range.kind {
            RangeKind::Semver => Scheme::Semver,
            RangeKind::Ecosystem => scheme,
        };
        if in_range(s, &range.events, installed)? {
            hit = true;
            break;
        }
    }
    if !hit {
        return Ok((false, None));
    }
    Ok((true, lowest_fix(scheme, affected, installed)?))
}

fn event_version(e: &Event) -> &str {
    match e {
        Event::Introduced(v) | Event::Fixed(v) | Event::LastAffected(v) | Event::Limit(v) => v,
    }
}

fn cmp_event(s: Scheme, a: &Event, b: &Event) -> Result<Ordering, VersionError> {
    let (va, vb) = (event_version(a), event_version(b));
    Ok(match (va == "0", vb == "0") {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
        _ => s.compare(va, vb)?,
    })
}

/// OSV range evaluation: events in version order, the last one at or below the installed
/// version decides (`introduced` opens, `fixed` and `limit` close at their version,
/// `last_affected` closes just above it).
fn in_range(s: Scheme, events: &[Event], v: &str) -> Result<bool, VersionError> {
    // Every version must parse before sorting: a comparator that fails halfway would not be a
    // total order, and the sort may then panic.
    for e in events {
        let x = event_version(e);
        if x != "0" {
            s.compare(x, x)?;
        }
    }
    let mut sorted: Vec<&Event> = events.iter().collect();
    let mut err = None;
    sorted.sort_by(|a, b| {
        cmp_event(s, a, b).unwrap_or_else(|e| {
            err.get_or_insert(e);
            Ordering::Equal
        })
    });
    if let Some(e) = err {
        return Err(e);
    }
    let mut affected = false;
    for e in sorted {
        match e {
            Event::Introduced(x) => {
                if x == "0" || s.compare(v, x)? != Ordering::Less {
                    affected = true;
                }
            }
            Event::Fixed(x) | Event::Limit(x) => {
                if s.compare(v, x)? != Ordering::Less {
                    affected = false;
                }
            }
            Event::LastAffected(x) => {
                if s.compare(v, x)? == Ordering::Greater {
                    affected = false;
                }
            }
        }
    }
    Ok(affected)
}

fn lowest_fix(scheme: Scheme, affected: &AffectedPackage, v: &str) -> Result<Option<String>, VersionError> {
    let mut best: Option<&str> = None;
    for range in &affected.ranges {
        let s = if range.kind == RangeKind::Semver {
            Scheme::Semver
        } else {
            scheme
        };
        for e in &range.events {
            if let Event::Fixed(x) = e {
                if s.compare(x, v)? == Ordering::Greater
                    && best.map_or(Ok(true), |b| s.compare(x, b).map(|o| o == Ordering::Less))?
                {
                    best = Some(x);
                }
            }
        }
    }
    Ok(best.map(str::to_string))
}

/// The advisory's score: a CVSS v3.x vector first (what most sources and Inspector use), else
/// v4.0, from the package-level severity before the record-level one.
/// Scores by vector string: a fleet hits the same advisories over and over.
type ScoreCache = std::collections::HashMap<String, Option<cvss::CvssScore>>;

fn score_of(
    advisories: &[&Advisory],
    affected: &[&AffectedPackage],
    cache: &mut ScoreCache,
) -> (String, SeveritySource, Option<f64>, Option<String>) {
    let vectors = affected
        .iter()
        .flat_map(|a| a.severity.iter())
        .chain(advisories.iter().flat_map(|a| a.severity.iter()));
    let mut best: Option<cvss::CvssScore> = None;
    for sev in vectors {
        if !matches!(sev.kind.as_str(), "CVSS_V3" | "CVSS_V4") {
            continue;
        }
        let scored = cache
            .entry(sev.score.clone())
            .or_insert_with(|| cvss::base_score(&sev.score).ok())
            .clone();
        if let Some(s) = scored {
            let prefer = match &best {
                None => true,
                Some(b) => b.vector.starts_with("CVSS:4") && s.vector.starts_with("CVSS:3"),
            };
            if prefer {
                best = Some(s);
            }
        }
    }
    if let Some(s) = best {
        return (
            s.severity.as_str().to_string(),
            SeveritySource::Cvss,
            Some(s.score),
            Some(s.vector),
        );
    }
    for a in advisories {
        if let Some(label) = &a.severity_label {
            let sev = match label.as_str() {
                "CRITICAL" => Some(Severity::Critical),
                "HIGH" | "IMPORTANT" => Some(Severity::High),
                "MODERATE" | "MEDIUM" => Some(Severity::Medium),
                "LOW" | "NEGLIGIBLE" => Some(Severity::Low),
                _ => None,
            };
            if let Some(sev) = sev {
                return (sev.as_str().to_string(), SeveritySource::RecordLabel, None, None);
            }
        }
    }
    ("UNTRIAGED".to_string(), SeveritySource::None, None, None)
}

/// Matches every package of `inv` against `db`.
pub fn match_inventory(db: &VulnDb, inv: &Inventory) -> Result<MatchReport, VulnDbError> {
    let mut report = MatchReport::default();
    // Fleets repeat packages: each advisory is parsed once per inventory, not once per hit.
    let mut parsed: std::collections::HashMap<u32, std::rc::Rc<Advisory>> = std::collections::HashMap::new();
    let mut key = String::with_capacity(128);
    let mut scores = ScoreCache::new();
    for pkg in &inv.packages {
        let Some(scheme) = Scheme::for_ecosystem(pkg.ecosystem.as_str()) else {
            report.unsupported += 1;
            continue;
        };
        let (name, version) = lookup_name_and_version(pkg);
        crate::vulndb::index_key_into(&mut key, pkg.ecosystem.as_str(), name);
        let numbers = db.records_for_key(&key);
        if numbers.is_empty() {
            continue;
        }
        let mut advisories: Vec<std::rc::Rc<Advisory>> = Vec::with_capacity(numbers.len());
        for n in numbers {
            let adv = match parsed.get(&n) {
                Some(a) => a.clone(),
                None => {
                    let a = std::rc::Rc::new(db.record(n)?);
                    parsed.insert(n, a.clone());
                    a
                }
            };
            advisories.push(adv);
        }
        // (advisory index, affected entry, fix) for every advisory that affects the package.
        let mut hits: Vec<(usize, &AffectedPackage, Option<String>)> = Vec::new();
        for (i, adv) in advisories.iter().enumerate() {
            // The index found this advisory by the key, so a single affected entry is this one.
            let single = adv.affected.len() == 1;
            for aff in adv
                .affected
                .iter()
                .filter(|a| single || crate::vulndb::index_key(&a.ecosystem, &a.name) == key)
            {
                match affects(scheme, aff, version) {
                    Ok((true, fix)) => hits.push((i, aff, fix)),
                    Ok((false, _)) => {}
                    Err(e) => report.warnings.push(format!(
                        "{} {} ({}): {}: {e}",
                        pkg.name, pkg.version, pkg.file_path, adv.id
                    )),
                }
            }
        }
        for group in group_by_alias(&advisories, &hits) {
            report
                .matches
                .push(build_match(db, pkg, scheme, &advisories, &hits, &group, &mut scores));
        }
    }
    report.matches.sort_by(|a, b| {
        (
            &a.package.ecosystem,
            &a.package.name,
            &a.package.file_path,
            &a.vulnerability_id,
        )
            .cmp(&(
                &b.package.ecosystem,
                &b.package.name,
                &b.package.file_path,
                &b.vulnerability_id,
            ))
    });
    Ok(report)
}

/// Groups hits whose advisories share an id or alias (CVE ↔ GHSA ↔ distribution ids).
fn group_by_alias(
    advisories: &[std::rc::Rc<Advisory>],
    hits: &[(usize, &AffectedPackage, Option<String>)],
) -> Vec<Vec<usize>> {
    let mut parent: Vec<usize> = (0..hits.len()).collect();
    fn find(p: &mut [usize], x: usize) -> usize {
        let mut r = x;
        while p[r] != r {
            r = p[r];
        }
        p[x] = r;
        r
    }
    let mut owner: BTreeMap<&str, usize> = BTreeMap::new();
    for (h, (i, _, _)) in hits.iter().enumerate() {
        let adv = &advisories[*i];
        for id in std::iter::once(&adv.id).chain(adv.aliases.iter()) {
            match owner.get(id.as_str()) {
                Some(&other) => {
                    let (a, b) = (find(&mut parent, h), find(&mut parent, other));
                    parent[a] = b;
                }
                None => {
                    owner.insert(id, h);
                }
            }
        }
    }
    let mut groups: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for h in 0..hits.len() {
        let r = find(&mut parent, h);
        groups.entry(r).or_default().push(h);
    }
    groups.into_values().collect()
}

fn build_match(
    db: &VulnDb,
    pkg: &Package,
    scheme: Scheme,
    advisories: &[std::rc::Rc<Advisory>],
    hits: &[(usize, &AffectedPackage, Option<String>)],
    group: &[usize],
    scores: &mut ScoreCache,
) -> Match {
    let mut ids: Vec<String> = Vec::new();
    for &h in group {
        let adv = &advisories[hits[h].0];
        ids.push(adv.id.clone());
        ids.extend(adv.aliases.iter().cloned());
    }
    ids.sort();
    ids.dedup();
    let preferred = ids
        .iter()
        .find(|i| i.starts_with("CVE-"))
        .cloned()
        .unwrap_or_else(|| ids[0].clone());
    let aliases: Vec<String> = ids.iter().filter(|i| **i != preferred).cloned().collect();
    let advs: Vec<&Advisory> = group.iter().map(|&h| advisories[hits[h].0].as_ref()).collect();
    let affs: Vec<&AffectedPackage> = group.iter().map(|&h| hits[h].1).collect();
    // Among the advisories' fixes, the lowest above the installed version.
    let mut fixed: Option<String> = None;
    for &h in group {
        if let Some(f) = &hits[h].2 {
            let lower = match &fixed {
                None => true,
                Some(cur) => scheme.compare(f, cur).map(|o| o == Ordering::Less).unwrap_or(false),
            };
            if lower {
                fixed = Some(f.clone());
            }
        }
    }
    let (severity, severity_source, score, vector) = score_of(&advs, &affs, scores);
    let summary = advs.iter().find_map(|a| a.summary.clone()).filter(|s| !s.is_empty());
    let title = match &summary {
        Some(s) => format!("{preferred} - {s}"),
        None => format!("{preferred} - {}", pkg.name),
    };
    let mut urls: Vec<String> = advs
        .iter()
        .flat_map(|a| a.references.iter().map(|r| r.url.clone()))
        .collect();
    urls.sort();
    urls.dedup();
    let cve_ids: Vec<&String> = ids.iter().filter(|i| i.starts_with("CVE-")).collect();
    let epss: Option<Epss> = cve_ids
        .iter()
        .filter_map(|c| db.epss(c))
        .max_by(|a, b| a.score.total_cmp(&b.score));
    let kev: Option<&KevEntry> = cve_ids.iter().find_map(|c| db.kev(c));
    let remediation = match &fixed {
        Some(f) => format!("Upgrade {} from {} to {f} or later.", pkg.name, pkg.version),
        None => format!("No fixed version of {} is known yet.", pkg.name),
    };
    Match {
        vulnerability_id: preferred,
        aliases,
        package: pkg.clone(),
        fix_available: if fixed.is_some() {
            FixAvailable::Yes
        } else {
            FixAvailable::No
        },
        fixed_in_version: fixed,
        severity,
        severity_source,
        score,
        vector,
        title,
        description: advs.iter().find_map(|a| a.details.clone()),
        urls,
        remediation,
        epss: epss.map(|e| e.score),
        epss_percentile: epss.map(|e| e.percentile),
        exploit_available: kev.is_some(),
        kev_date_added: kev.map(|k| k.date_added.clone()),
        published: advs.iter().filter_map(|a| a.published.clone()).min(),
    }
}

#[cfg(test)]
mod tests;
