//! The OSV record model (ossf/osv-schema 1.x), reduced to what matching, scoring and reports
//! use, and the checks that decide whether a record is accepted.

use serde::{Deserialize, Serialize};

/// An OSV record as published.
#[derive(Debug, Clone, Deserialize)]
pub struct OsvRecord {
    pub id: String,
    pub modified: String,
    #[serde(default)]
    pub published: Option<String>,
    #[serde(default)]
    pub withdrawn: Option<String>,
    #[serde(default)]
    pub aliases: Vec<String>,
    /// Ids of the upstream vulnerability (schema 1.6; Debian's `DEBIAN-CVE-*` records name
    /// their CVE here rather than in `aliases`).
    #[serde(default)]
    pub upstream: Vec<String>,
    #[serde(default)]
    pub summary: Option<String>,
    #[serde(default)]
    pub details: Option<String>,
    #[serde(default)]
    pub severity: Vec<OsvSeverity>,
    #[serde(default)]
    pub affected: Vec<OsvAffected>,
    #[serde(default)]
    pub references: Vec<OsvReference>,
    #[serde(default)]
    pub database_specific: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct OsvSeverity {
    #[serde(rename = "type")]
    pub kind: String,
    pub score: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct OsvAffected {
    #[serde(default)]
    pub package: Option<OsvPackage>,
    #[serde(default)]
    pub severity: Vec<OsvSeverity>,
    #[serde(default)]
    pub ranges: Vec<OsvRange>,
    #[serde(default)]
    pub versions: Vec<String>,
    #[serde(default)]
    pub database_specific: Option<serde_json::Value>,
    #[serde(default)]
    pub ecosystem_specific: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct OsvPackage {
    pub ecosystem: String,
    pub name: String,
    #[serde(default)]
    pub purl: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct OsvRange {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub events: Vec<serde_json::Map<String, serde_json::Value>>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct OsvReference {
    #[serde(rename = "type")]
    pub kind: String,
    pub url: String,
}

/// One event of a range, as the matcher uses it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    Introduced(String),
    Fixed(String),
    LastAffected(String),
    Limit(String),
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RangeKind {
    Ecosystem,
    Semver,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Range {
    pub kind: RangeKind,
    pub events: Vec<Event>,
}

/// What one advisory says about one package.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AffectedPackage {
    pub ecosystem: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ranges: Vec<Range>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub versions: Vec<String>,
    /// GIT ranges are not evaluated (they need the source repository); counted at import.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub git_ranges: u32,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub severity: Vec<OsvSeverity>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// An accepted advisory as stored in the database.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Advisory {
    pub id: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    pub modified: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub severity: Vec<OsvSeverity>,
    /// A severity word the record carries in `database_specific` (GitHub's `severity`,
    /// distributions' urgency), used only when no vector exists and then marked as such.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity_label: Option<String>,
    pub affected: Vec<AffectedPackage>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<OsvReference>,
}

/// Why a record was not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    Withdrawn,
    Invalid(String),
}

const MAX_ID: usize = 256;

impl OsvRecord {
    /// Checks the record against the parts of the schema matching relies on and reduces it.
    pub fn accept(self) -> Result<Advisory, Rejection> {
        let bad = |m: String| Err(Rejection::Invalid(m));
        if self.id.is_empty() || self.id.len() > MAX_ID || self.id.chars().any(|c| c.is_whitespace() || c == '/') {
            return bad(format!("invalid id {:?}", self.id));
        }
        if self.modified.is_empty() {
            return bad("missing modified".into());
        }
        if self.withdrawn.is_some() {
            return Err(Rejection::Withdrawn);
        }
        let mut affected = Vec::with_capacity(self.affected.len());
        for (i, a) in self.affected.into_iter().enumerate() {
            let Some(pkg) = a.package else {
                // Records that name only GIT ranges without a package cannot match packages.
                continue;
            };
            if pkg.ecosystem.is_empty() || pkg.name.is_empty() {
                return bad(format!("affected[{i}]: package needs ecosystem and name"));
            }
            let mut ranges = Vec::new();
            let mut git_ranges = 0;
            for (j, r) in a.ranges.into_iter().enumerate() {
                let kind = match r.kind.as_str() {
                    "ECOSYSTEM" => RangeKind::Ecosystem,
                    "SEMVER" => RangeKind::Semver,
                    "GIT" => {
                        git_ranges += 1;
                        continue;
                    }
                    other => return bad(format!("affected[{i}].ranges[{j}]: unknown type {other:?}")),
                };
                let mut events = Vec::with_capacity(r.events.len());
                for (k, e) in r.events.into_iter().enumerate() {
                    if e.len() != 1 {
                        return bad(format!(
                            "affected[{i}].ranges[{j}].events[{k}]: must have exactly one key"
                        ));
                    }
                    let Some((key, value)) = e.into_iter().next() else {
                        continue;
                    };
                    let Some(value) = value.as_str().map(str::to_string) else {
                        return bad(format!("affected[{i}].ranges[{j}].events[{k}]: {key} must be a string"));
                    };
                    events.push(match key.as_str() {
                        "introduced" => Event::Introduced(value),
                        "fixed" => Event::Fixed(value),
                        "last_affected" => Event::LastAffected(value),
                        "limit" => Event::Limit(value),
                        other => {
                            return bad(format!(
                                "affected[{i}].ranges[{j}].events[{k}]: unknown event {other:?}"
                            ))
                        }
                    });
                }
                if !events.iter().any(|e| matches!(e, Event::Introduced(_))) {
                    return bad(format!("affected[{i}].ranges[{j}]: no introduced event"));
                }
                ranges.push(Range { kind, events });
            }
            affected.push(AffectedPackage {
                ecosystem: pkg.ecosystem,
                name: pkg.name,
                ranges,
                versions: a.versions,
                git_ranges,
                severity: a.severity,
            });
        }
        let severity_label = self
            .database_specific
            .as_ref()
            .and_then(|d| d.get("severity"))
            .and_then(|s| s.as_str())
            .map(|s| s.to_ascii_uppercase());
        // For grouping, an upstream id names the same vulnerability as an alias does.
        let mut aliases = self.aliases;
        for u in self.upstream {
            if !aliases.contains(&u) && u != self.id {
                aliases.push(u);
            }
        }
        Ok(Advisory {
            id: self.id,
            aliases,
            modified: self.modified,
            published: self.published,
            summary: self.summary,
            details: self.details,
            severity: self.severity,
            severity_label,
            affected,
            references: self.references,
        })
    }
}
