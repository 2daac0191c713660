//! `argus db update`: fetches osv.dev's per-ecosystem archives, FIRST's EPSS scores and CISA's
//! KEV catalog into a download cache with conditional requests, checks each file, and imports
//! them all into a new database.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::import::{import, ImportReport};
use super::VulnDbError;
use crate::artifact::Progress;

/// Where the data comes from; every URL can point at a mirror.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Sources {
    /// Base URL of the OSV export: `<base>/<ecosystem>/all.zip`.
    pub osv_base_url: String,
    /// FIRST's EPSS scores, a gzipped CSV; empty to skip.
    pub epss_url: String,
    /// CISA's KEV catalog, JSON; empty to skip.
    pub kev_url: String,
    /// OSV ecosystems to fetch when none are named on the command line.
    pub ecosystems: Vec<String>,
    /// Per-request timeout, seconds.
    pub timeout_secs: u64,
}

impl Default for Sources {
    fn default() -> Self {
        Sources {
            osv_base_url: "https://osv-vulnerabilities.storage.googleapis.com".into(),
            epss_url: "https://epss.empiricalsecurity.com/epss_scores-current.csv.gz".into(),
            kev_url: "https://www.cisa.gov/sites/default/files/feeds/known_exploited_vulnerabilities.json".into(),
            ecosystems: [
                "AlmaLinux",
                "Alpine",
                "Debian",
                "Go",
                "Maven",
                "npm",
                "NuGet",
                "Packagist",
                "PyPI",
                "Red Hat",
                "Rocky Linux",
                "RubyGems",
                "Ubuntu",
                "crates.io",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect(),
            timeout_secs: 300,
        }
    }
}

/// The OSV export folder of an inventory ecosystem: `Debian:12` → `Debian`.
pub fn osv_folder(ecosystem: &str) -> String {
    ecosystem.split(':').next().unwrap_or(ecosystem).to_string()
}

/// What the cache remembers about a download, for the next conditional request.
#[derive(Debug, Default, Serialize, Deserialize)]
struct CacheMeta {
    url: String,
    etag: Option<String>,
    last_modified: Option<String>,
}

/// What happened to one source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetched {
    Downloaded { bytes: u64 },
    NotModified,
}

#[derive(Debug)]
pub struct UpdateReport {
    pub fetched: Vec<(String, Fetched)>,
    pub import: ImportReport,
}

fn percent_encode_path(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Checks that a downloaded file is what it claims to be before it replaces the cached copy.
fn check(kind: &str, path: &Path) -> Result<(), String> {
    let f = std::fs::File::open(path).map_err(|e| e.to_string())?;
    match kind {
        "zip" => zip::ZipArchive::new(f)
            .map(|_| ())
            .map_err(|e| format!("not a valid zip: {e}")),
        "gz" => {
            let mut d = flate2::read::MultiGzDecoder::new(f);
            std::io::copy(&mut d, &mut std::io::sink())
                .map(|_| ())
                .map_err(|e| format!("not a valid gzip: {e}"))
        }
        _ => serde_json::from_reader::<_, serde_json::Value>(std::io::BufReader::new(f))
            .map(|_| ())
            .map_err(|e| format!("not valid JSON: {e}")),
    }
}

struct Fetcher<'p> {
    agent: ureq::Agent,
    cache: PathBuf,
    progress: &'p dyn Progress,
}

impl Fetcher<'_> {
    /// Fetches `url` into `cache/name` unless the server says the cached copy is current.
    fn fetch(&self, url: &str, name: &str, kind: &str) -> Result<Fetched, VulnDbError> {
        let dest = self.cache.join(name);
        let meta_path = self.cache.join(format!("{name}.meta.json"));
        let meta: CacheMeta = std::fs::read(&meta_path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .filter(|m: &CacheMeta| m.url == url && dest.exists())
            .unwrap_or_default();
        let mut req = self.agent.get(url);
        if let Some(etag) = &meta.etag {
            req = req.set("If-None-Match", etag);
        }
        if let Some(lm) = &meta.last_modified {
            req = req.set("If-Modified-Since", lm);
        }
        self.progress.message(name);
        let resp = match req.call() {
            Ok(r) if r.status() == 304 => return Ok(Fetched::NotModified),
            Ok(r) => r,
            Err(ureq::Error::Status(304, _)) => return Ok(Fetched::NotModified),
            Err(e) => return Err(VulnDbError::Invalid(format!("GET {url}: {e}"))),
        };
        let expected: Option<u64> = resp.header("Content-Length").and_then(|v| v.parse().ok());
        let etag = resp.header("ETag").map(str::to_string);
        let last_modified = resp.header("Last-Modified").map(str::to_string);
        if let Some(n) = expected {
            self.progress.set_total(n);
        }
        let tmp = self.cache.join(format!(".{name}.part"));
        let mut out = std::fs::File::create(&tmp).map_err(|e| VulnDbError::io(&tmp, e))?;
        let mut reader = resp.into_reader();
        let mut buf = vec![0u8; 256 << 10];
        let mut bytes = 0u64;
        loop {
            let n = reader
                .read(&mut buf)
                .map_err(|e| VulnDbError::Invalid(format!("GET {url}: {e}")))?;
            if n == 0 {
                break;
            }
            out.write_all(&buf[..n]).map_err(|e| VulnDbError::io(&tmp, e))?;
            bytes += n as u64;
            self.progress.advance(n as u64);
        }
        out.sync_all().map_err(|e| VulnDbError::io(&tmp, e))?;
        drop(out);
        let integrity = match expected {
            Some(n) if n != bytes => Err(format!("received {bytes} bytes, the server announced {n}")),
            _ => check(kind, &tmp),
        };
        if let Err(why) = integrity {
            let _ = std::fs::remove_file(&tmp);
            return Err(VulnDbError::Invalid(format!("{url}: {why}; the cached copy is kept")));
        }
        std::fs::rename(&tmp, &dest).map_err(|e| VulnDbError::io(&dest, e))?;
        let meta = CacheMeta {
            url: url.to_string(),
            etag,
            last_modified,
        };
        // Without the metadata the next update simply downloads again; worth a warning, not a
        // failed update.
        let meta_json = serde_json::to_vec(&meta).unwrap_or_default();
        if let Err(e) = std::fs::write(&meta_path, meta_json) {
            tracing::warn!(path = %meta_path.display(), error = %e, "cannot record download metadata");
        }
        Ok(Fetched::Downloaded { bytes })
    }
}

/// Updates the download cache next to `db` and rebuilds the database from it.
pub fn update(
    sources: &Sources,
    ecosystems: &[String],
    db: &Path,
    progress: &dyn Progress,
) -> Result<UpdateReport, VulnDbError> {
    let dir = db
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let cache = dir.join("downloads");
    std::fs::create_dir_all(&cache).map_err(|e| VulnDbError::io(&cache, e))?;
    let timeout = Duration::from_secs(sources.timeout_secs.max(1));
    let agent = ureq::AgentBuilder::new()
        .timeout_connect(Duration::from_secs(30))
        .timeout(timeout)
        .redirects(5)
        .build();
    let fetcher = Fetcher {
        agent,
        cache: cache.clone(),
        progress,
    };
    let mut wanted: Vec<String> = if ecosystems.is_empty() {
        sources.ecosystems.clone()
    } else {
        ecosystems.to_vec()
    };
    wanted.iter_mut().for_each(|e| *e = osv_folder(e));
    wanted.sort();
    wanted.dedup();
    let mut fetched = Vec::new();
    let mut inputs = Vec::new();
    let base = sources.osv_base_url.trim_end_matches('/');
    for eco in &wanted {
        let name = format!("osv-{}.zip", eco.replace([' ', '/'], "_"));
        let url = format!("{base}/{}/all.zip", percent_encode_path(eco));
        fetched.push((url.clone(), fetcher.fetch(&url, &name, "zip")?));
        inputs.push(cache.join(name));
    }
    if !sources.epss_url.is_empty() {
        fetched.push((
            sources.epss_url.clone(),
            fetcher.fetch(&sources.epss_url, "epss.csv.gz", "gz")?,
        ));
        inputs.push(cache.join("epss.csv.gz"));
    }
    if !sources.kev_url.is_empty() {
        fetched.push((
            sources.kev_url.clone(),
            fetcher.fetch(&sources.kev_url, "kev.json", "json")?,
        ));
        inputs.push(cache.join("kev.json"));
    }
    let import = import(&inputs, db)?;
    Ok(UpdateReport { fetched, import })
}
