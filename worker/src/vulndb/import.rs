//! `argus db import`: reads OSV records from directories, JSON files and zip archives laid out
//! as osv.dev publishes them (`<ecosystem>/all.zip`), FIRST's EPSS CSV (optionally gzipped) and
//! CISA's KEV JSON catalog, and builds a database.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use super::osv::{OsvRecord, Rejection};
use super::store::{cve_key, Builder, DbMeta, KevEntry};
use super::VulnDbError;

/// Largest single JSON document read (an OSV record, the KEV catalog).
const MAX_DOCUMENT: u64 = 64 << 20;
/// Largest EPSS CSV read (uncompressed).
const MAX_EPSS: u64 = 512 << 20;

/// A problem with one input that did not stop the import.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportWarning {
    pub source: String,
    pub message: String,
}

#[derive(Debug)]
pub struct ImportReport {
    pub meta: DbMeta,
    pub warnings: Vec<ImportWarning>,
}

struct Importer {
    builder: Builder,
    warnings: Vec<ImportWarning>,
    epss: Vec<(u64, f32, f32)>,
    epss_date: Option<String>,
    kev: BTreeMap<String, KevEntry>,
    kev_version: Option<String>,
}

/// Imports every input into a new database at `dest`, replacing it only when complete.
pub fn import(inputs: &[impl AsRef<Path>], dest: &Path) -> Result<ImportReport, VulnDbError> {
    let mut imp = Importer {
        builder: Builder::new(dest)?,
        warnings: Vec::new(),
        epss: Vec::new(),
        epss_date: None,
        kev: BTreeMap::new(),
        kev_version: None,
    };
    for input in inputs {
        imp.input(input.as_ref())?;
    }
    let Importer {
        mut builder,
        warnings,
        epss,
        epss_date,
        kev,
        kev_version,
    } = imp;
    builder.set_epss(epss, epss_date);
    builder.set_kev(kev, kev_version);
    let meta = builder.finish()?;
    Ok(ImportReport { meta, warnings })
}

fn read_capped(mut r: impl Read, cap: u64, what: &str) -> Result<Vec<u8>, String> {
    let mut buf = Vec::new();
    r.by_ref()
        .take(cap + 1)
        .read_to_end(&mut buf)
        .map_err(|e| format!("{what}: {e}"))?;
    if buf.len() as u64 > cap {
        return Err(format!("{what}: larger than {cap} bytes"));
    }
    Ok(buf)
}

impl Importer {
    fn warn(&mut self, source: impl Into<String>, message: impl Into<String>) {
        self.warnings.push(ImportWarning {
            source: source.into(),
            message: message.into(),
        });
    }

    fn input(&mut self, path: &Path) -> Result<(), VulnDbError> {
        let meta = std::fs::metadata(path).map_err(|e| VulnDbError::io(path, e))?;
        if meta.is_dir() {
            let mut entries: Vec<_> = walkdir::WalkDir::new(path)
                .follow_links(false)
                .into_iter()
                .filter_map(|e| e.ok())
                .filter(|e| e.file_type().is_file())
                .map(|e| e.into_path())
                .collect();
            entries.sort();
            for p in entries {
                let name = p
                    .file_name()
                    .and_then(|n| n.to_str())
                    .unwrap_or("")
                    .to_ascii_lowercase();
                if name.ends_with(".json")
                    || name.ends_with(".zip")
                    || name.ends_with(".csv")
                    || name.ends_with(".csv.gz")
                {
                    self.file(&p)?;
                }
            }
            return Ok(());
        }
        self.file(path)
    }

    fn file(&mut self, path: &Path) -> Result<(), VulnDbError> {
        let shown = path.display().to_string();
        let mut head = [0u8; 4];
        let n = {
            let mut f = std::fs::File::open(path).map_err(|e| VulnDbError::io(path, e))?;
            f.read(&mut head).map_err(|e| VulnDbError::io(path, e))?
        };
        let head = &head[..n];
        if head.starts_with(b"PK") {
            return self.zip(path);
        }
        let f = std::fs::File::open(path).map_err(|e| VulnDbError::io(path, e))?;
        if head.starts_with(&[0x1f, 0x8b]) {
            let data = match read_capped(flate2::read::MultiGzDecoder::new(f), MAX_EPSS, &shown) {
                Ok(d) => d,
                Err(e) => {
                    self.warn(&shown, e);
                    return Ok(());
                }
            };
            self.epss_csv(&shown, &data);
            return Ok(());
        }
        let data = match read_capped(f, MAX_EPSS, &shown) {
            Ok(d) => d,
            Err(e) => {
                self.warn(&shown, e);
                return Ok(());
            }
        };
        self.document(&shown, &data)
    }

    fn zip(&mut self, path: &Path) -> Result<(), VulnDbError> {
        let shown = path.display().to_string();
        let f = std::fs::File::open(path).map_err(|e| VulnDbError::io(path, e))?;
        let mut archive = match zip::ZipArchive::new(f) {
            Ok(a) => a,
            Err(e) => {
                self.warn(&shown, format!("not a readable zip: {e}"));
                return Ok(());
            }
        };
        for i in 0..archive.len() {
            let (name, data) = {
                let entry = match archive.by_index(i) {
                    Ok(e) => e,
                    Err(e) => {
                        self.warn(&shown, format!("entry {i}: {e}"));
                        continue;
                    }
                };
                if entry.is_dir() {
                    continue;
                }
                let name = format!("{shown}!/{}", entry.name());
                if !entry.name().to_ascii_lowercase().ends_with(".json") {
                    continue;
                }
                match read_capped(entry, MAX_DOCUMENT, &name) {
                    Ok(d) => (name, d),
                    Err(e) => {
                        self.warn(&name, e);
                        continue;
                    }
                }
            };
            self.document(&name, &data)?;
        }
        Ok(())
    }

    /// One JSON or CSV document: an OSV record, an array of them, the KEV catalog, or EPSS.
    fn document(&mut self, source: &str, data: &[u8]) -> Result<(), VulnDbError> {
        let trimmed = data
            .iter()
            .position(|b| !b.is_ascii_whitespace())
            .map(|i| &data[i..])
            .unwrap_or_default();
        if !(trimmed.starts_with(b"{") || trimmed.starts_with(b"[")) {
            if trimmed.starts_with(b"#model_version") || trimmed.starts_with(b"cve,") {
                self.epss_csv(source, data);
            } else {
                self.warn(source, "neither JSON nor an EPSS CSV; skipped");
            }
            return Ok(());
        }
        let value: serde_json::Value = match serde_json::from_slice(trimmed) {
            Ok(v) => v,
            Err(e) => {
                self.warn(source, format!("invalid JSON: {e}"));
                self.builder.skip("invalid json");
                return Ok(());
            }
        };
        if value.get("catalogVersion").is_some() && value.get("vulnerabilities").is_some() {
            self.kev_catalog(source, &value);
            return Ok(());
        }
        match value {
            serde_json::Value::Array(items) => {
                for item in items {
                    self.record(source, item)?;
                }
            }
            other => self.record(source, other)?,
        }
        Ok(())
    }

    fn record(&mut self, source: &str, value: serde_json::Value) -> Result<(), VulnDbError> {
        let id = value
            .get("id")
            .and_then(|v| v.as_str())
            .unwrap_or("<no id>")
            .to_string();
        let record: OsvRecord = match serde_json::from_value(value) {
            Ok(r) => r,
            Err(e) => {
                self.warn(source, format!("{id}: does not follow the OSV schema: {e}"));
                self.builder.skip("schema");
                return Ok(());
            }
        };
        match record.accept() {
            Ok(adv) => self.builder.add(&adv),
            Err(Rejection::Withdrawn) => {
                self.builder.skip("withdrawn");
                Ok(())
            }
            Err(Rejection::Invalid(m)) => {
                self.warn(source, format!("{id}: {m}"));
                self.builder.skip("schema");
                Ok(())
            }
        }
    }

    fn epss_csv(&mut self, source: &str, data: &[u8]) {
        let text = String::from_utf8_lossy(data);
        let mut rows = 0u64;
        let mut bad = 0u64;
        for line in text.lines() {
            let line = line.trim();
            if let Some(comment) = line.strip_prefix('#') {
                // `#model_version:v2023.03.01,score_date:2024-05-01T00:00:00+0000`
                if let Some(date) = comment.split(',').find_map(|kv| kv.strip_prefix("score_date:")) {
                    self.epss_date = Some(date.to_string());
                }
                continue;
            }
            if line.is_empty() || line.starts_with("cve,") {
                continue;
            }
            let mut parts = line.split(',');
            let parsed = (|| {
                let key = cve_key(parts.next()?.trim())?;
                let score: f32 = parts.next()?.trim().parse().ok()?;
                let pct: f32 = parts.next()?.trim().parse().ok()?;
                ((0.0..=1.0).contains(&score) && (0.0..=1.0).contains(&pct)).then_some((key, score, pct))
            })();
            match parsed {
                Some(row) => {
                    self.epss.push(row);
                    rows += 1;
                }
                None => bad += 1,
            }
        }
        if bad > 0 {
            self.warn(source, format!("{bad} malformed EPSS rows skipped"));
        }
        tracing::debug!(%source, rows, "epss rows read");
    }

    fn kev_catalog(&mut self, source: &str, value: &serde_json::Value) {
        self.kev_version = value.get("catalogVersion").and_then(|v| v.as_str()).map(str::to_string);
        let Some(items) = value.get("vulnerabilities").and_then(|v| v.as_array()) else {
            self.warn(source, "KEV catalog without a vulnerabilities list");
            return;
        };
        let mut bad = 0;
        for item in items {
            let cve = item.get("cveID").and_then(|v| v.as_str());
            let added = item.get("dateAdded").and_then(|v| v.as_str());
            match (cve, added) {
                (Some(cve), Some(added)) if cve_key(cve).is_some() => {
                    let s = |k: &str| item.get(k).and_then(|v| v.as_str()).map(str::to_string);
                    self.kev.insert(
                        cve.to_string(),
                        KevEntry {
                            date_added: added.to_string(),
                            due_date: s("dueDate"),
                            ransomware: s("knownRansomwareCampaignUse"),
                        },
                    );
                }
                _ => bad += 1,
            }
        }
        if bad > 0 {
            self.warn(source, format!("{bad} malformed KEV entries skipped"));
        }
    }
}
