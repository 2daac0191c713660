//! The on-disk vulnerability database: one file, memory-mapped, opened in constant time.
//!
//! ```text
//! header (128 bytes): magic "ARGUSVDB", format version, section table
//! records   advisories as JSON, one after another
//! rectable  per record: u64 offset, u32 length, u32 reserved
//! keys      "ecosystem\0name" bytes of every (ecosystem, package) pair
//! keytable  sorted by key: u64 key offset, u32 key length, u32 posting count, u64 posting offset
//! postings  u32 record numbers
//! epss      sorted by CVE number: u64 cve key, f32 epss, f32 percentile
//! meta      JSON: version, build time, counts, KEV catalog
//! ```
//! Opening reads the header and the meta JSON only; a lookup is a binary search over the key
//! table and a JSON parse of the few records it names. Nothing is loaded up front, so open time
//! does not grow with the database.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::osv::Advisory;
use super::{index_key, VulnDbError};

const MAGIC: &[u8; 8] = b"ARGUSVDB";
/// Bumped whenever the layout changes; older files are refused with a clear message.
pub const FORMAT_VERSION: u32 = 1;
const HEADER_LEN: u64 = 128;
const SECTIONS: usize = 7;

/// A CISA KEV entry.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct KevEntry {
    pub date_added: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_date: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ransomware: Option<String>,
}

/// Everything about the database that is not an advisory.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DbMeta {
    pub format: u32,
    /// `<build time>-<content digest prefix>`: changes when the content or the build changes.
    pub version: String,
    pub content_digest: String,
    pub built_at: String,
    pub records: u64,
    pub per_ecosystem: BTreeMap<String, u64>,
    /// Newest `modified` among the records.
    pub newest_modified: Option<String>,
    pub epss_entries: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epss_date: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kev_version: Option<String>,
    pub kev: BTreeMap<String, KevEntry>,
    /// Records skipped at import, by reason.
    pub skipped: BTreeMap<String, u64>,
    /// GIT ranges present in records but not evaluated.
    pub git_ranges_ignored: u64,
}

/// EPSS figures for one CVE.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Epss {
    pub score: f32,
    pub percentile: f32,
}

/// `CVE-2021-44228` → 2021 * 10^10 + 44228, an order-preserving integer key.
pub fn cve_key(id: &str) -> Option<u64> {
    let rest = id.strip_prefix("CVE-")?;
    let (year, num) = rest.split_once('-')?;
    if year.len() != 4 || num.is_empty() || num.len() > 10 {
        return None;
    }
    let y: u64 = year.parse().ok()?;
    let n: u64 = num.parse().ok()?;
    Some(y * 10_000_000_000 + n)
}

/// Collects advisories into a temporary file next to the destination, then writes the index
/// and swaps the finished file into place.
pub struct Builder {
    dest: PathBuf,
    tmp: PathBuf,
    out: BufWriter<File>,
    pos: u64,
    /// id → (offset, length, keys, modified); a later record with the same id replaces it.
    records: HashMap<String, (u64, u32, Vec<String>, String)>,
    epss: Vec<(u64, f32, f32)>,
    epss_date: Option<String>,
    kev: BTreeMap<String, KevEntry>,
    kev_version: Option<String>,
    skipped: BTreeMap<String, u64>,
    git_ranges: u64,
}

impl Builder {
    pub fn new(dest: &Path) -> Result<Builder, VulnDbError> {
        let dir = dest
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(|e| VulnDbError::io(dir, e))?;
        let tmp = dir.join(format!(
            ".{}.building-{}",
            dest.file_name().and_then(|n| n.to_str()).unwrap_or("vulndb"),
            std::process::id()
        ));
        let file = File::create(&tmp).map_err(|e| VulnDbError::io(&tmp, e))?;
        let mut out = BufWriter::with_capacity(1 << 20, file);
        out.write_all(&[0u8; HEADER_LEN as usize])
            .map_err(|e| VulnDbError::io(&tmp, e))?;
        Ok(Builder {
            dest: dest.to_path_buf(),
            tmp,
            out,
            pos: HEADER_LEN,
            records: HashMap::new(),
            epss: Vec::new(),
            epss_date: None,
            kev: BTreeMap::new(),
            kev_version: None,
            skipped: BTreeMap::new(),
            git_ranges: 0,
        })
    }

    pub fn skip(&mut self, reason: &str) {
        *self.skipped.entry(reason.to_string()).or_default() += 1;
    }

    /// Adds an advisory; of two with one id, the newer `modified` wins.
    pub fn add(&mut self, adv: &Advisory) -> Result<(), VulnDbError> {
        if let Some((_, _, _, modified)) = self.records.get(&adv.id) {
            if modified.as_str() >= adv.modified.as_str() {
                return Ok(());
            }
        }
        let json = serde_json::to_vec(adv).map_err(|e| VulnDbError::Invalid(format!("{}: {e}", adv.id)))?;
        let len =
            u32::try_from(json.len()).map_err(|_| VulnDbError::Invalid(format!("{}: record too large", adv.id)))?;
        self.out.write_all(&json).map_err(|e| VulnDbError::io(&self.tmp, e))?;
        let mut keys: Vec<String> = adv.affected.iter().map(|a| index_key(&a.ecosystem, &a.name)).collect();
        keys.sort();
        keys.dedup();
        self.git_ranges += adv.affected.iter().map(|a| u64::from(a.git_ranges)).sum::<u64>();
        self.records
            .insert(adv.id.clone(), (self.pos, len, keys, adv.modified.clone()));
        self.pos += u64::from(len);
        Ok(())
    }

    pub fn set_epss(&mut self, mut rows: Vec<(u64, f32, f32)>, date: Option<String>) {
        rows.sort_by_key(|r| r.0);
        rows.dedup_by_key(|r| r.0);
        self.epss = rows;
        self.epss_date = date;
    }

    pub fn set_kev(&mut self, kev: BTreeMap<String, KevEntry>, version: Option<String>) {
        self.kev = kev;
        self.kev_version = version;
    }

    /// Writes the index and metadata, syncs, and renames the file over `dest`. Until the
    /// rename, an existing database at `dest` is untouched and readers keep using it.
    pub fn finish(mut self) -> Result<DbMeta, VulnDbError> {
        let tmp = self.tmp.clone();
        let io = |e: std::io::Error| VulnDbError::io(&tmp, e);
        // Records in id order give the content digest and record numbers independent of the
        // order files were read in.
        let mut ids: Vec<&String> = self.records.keys().collect();
        ids.sort();
        let mut rectable = Vec::with_capacity(ids.len() * 16);
        let mut postings_by_key: BTreeMap<&str, Vec<u32>> = BTreeMap::new();
        let mut per_ecosystem: BTreeMap<String, u64> = BTreeMap::new();
        let mut newest: Option<&str> = None;
        let mut hasher = Sha256::new();
        for (n, id) in ids.iter().enumerate() {
            let (off, len, keys, modified) = &self.records[*id];
            rectable.extend_from_slice(&off.to_le_bytes());
            rectable.extend_from_slice(&len.to_le_bytes());
            rectable.extend_from_slice(&0u32.to_le_bytes());
            let mut ecos: Vec<&str> = Vec::new();
            for k in keys {
                postings_by_key.entry(k.as_str()).or_default().push(n as u32);
                let eco = k.split('\0').next().unwrap_or("");
                let eco = eco.split(':').next().unwrap_or(eco);
                if !ecos.contains(&eco) {
                    ecos.push(eco);
                }
            }
            for e in ecos {
                *per_ecosystem.entry(e.to_string()).or_default() += 1;
            }
            if newest.is_none_or(|m| modified.as_str() > m) {
                newest = Some(modified);
            }
            hasher.update(id.as_bytes());
            hasher.update(modified.as_bytes());
            hasher.update(keys.join("\n").as_bytes());
        }
        let mut sections = [(0u64, 0u64); SECTIONS];
        sections[0] = (HEADER_LEN, self.pos - HEADER_LEN);
        let mut pos = self.pos;
        let mut put = |out: &mut BufWriter<File>, bytes: &[u8], idx: usize, sections: &mut [(u64, u64); SECTIONS]| {
            out.write_all(bytes).map_err(io)?;
            sections[idx] = (pos, bytes.len() as u64);
            pos += bytes.len() as u64;
            Ok::<(), VulnDbError>(())
        };
        put(&mut self.out, &rectable, 1, &mut sections)?;
        let mut keys = Vec::new();
        let mut keytable = Vec::with_capacity(postings_by_key.len() * 24);
        let mut postings = Vec::new();
        for (key, list) in &postings_by_key {
            keytable.extend_from_slice(&(keys.len() as u64).to_le_bytes());
            keytable.extend_from_slice(&(key.len() as u32).to_le_bytes());
            keytable.extend_from_slice(&(list.len() as u32).to_le_bytes());
            keytable.extend_from_slice(&((postings.len() / 4) as u64).to_le_bytes());
            keys.extend_from_slice(key.as_bytes());
            for n in list {
                postings.extend_from_slice(&n.to_le_bytes());
            }
        }
        put(&mut self.out, &keys, 2, &mut sections)?;
        put(&mut self.out, &keytable, 3, &mut sections)?;
        put(&mut self.out, &postings, 4, &mut sections)?;
        let mut epss = Vec::with_capacity(self.epss.len() * 16);
        for (k, s, p) in &self.epss {
            epss.extend_from_slice(&k.to_le_bytes());
            epss.extend_from_slice(&s.to_le_bytes());
            epss.extend_from_slice(&p.to_le_bytes());
            hasher.update(k.to_le_bytes());
            hasher.update(s.to_le_bytes());
            hasher.update(p.to_le_bytes());
        }
        put(&mut self.out, &epss, 5, &mut sections)?;
        for (cve, e) in &self.kev {
            hasher.update(cve.as_bytes());
            hasher.update(e.date_added.as_bytes());
        }
        let digest = hex::encode(hasher.finalize());
        let built_at = chrono::Utc::now();
        let meta = DbMeta {
            format: FORMAT_VERSION,
            version: format!("{}-{}", built_at.format("%Y%m%dT%H%M%SZ"), &digest[..12]),
            content_digest: format!("sha256:{digest}"),
            built_at: built_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            records: ids.len() as u64,
            per_ecosystem,
            newest_modified: newest.map(str::to_string),
            epss_entries: self.epss.len() as u64,
            epss_date: self.epss_date.clone(),
            kev_version: self.kev_version.clone(),
            kev: std::mem::take(&mut self.kev),
            skipped: std::mem::take(&mut self.skipped),
            git_ranges_ignored: self.git_ranges,
        };
        let meta_json = serde_json::to_vec(&meta).map_err(|e| VulnDbError::Invalid(e.to_string()))?;
        put(&mut self.out, &meta_json, 6, &mut sections)?;
        let mut header = Vec::with_capacity(HEADER_LEN as usize);
        header.extend_from_slice(MAGIC);
        header.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        header.extend_from_slice(&0u32.to_le_bytes());
        for (off, len) in sections {
            header.extend_from_slice(&off.to_le_bytes());
            header.extend_from_slice(&len.to_le_bytes());
        }
        debug_assert!(header.len() <= HEADER_LEN as usize);
        self.out.seek(SeekFrom::Start(0)).map_err(io)?;
        self.out.write_all(&header).map_err(io)?;
        self.out.flush().map_err(io)?;
        // Durable before visible: the data is synced, then renamed, then the directory synced,
        // so a crash leaves either the old database or the complete new one.
        self.out.get_ref().sync_all().map_err(io)?;
        std::fs::rename(&tmp, &self.dest).map_err(|e| VulnDbError::io(&self.dest, e))?;
        // Until the directory is synced the rename itself may not survive a crash, so a failure
        // here is the import's failure.
        let dir = self
            .dest
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| VulnDbError::io(dir, e))?;
        Ok(meta)
    }
}

impl Drop for Builder {
    fn drop(&mut self) {
        // A build that did not finish leaves nothing behind.
        let _ = std::fs::remove_file(&self.tmp);
    }
}

/// An open database.
pub struct VulnDb {
    map: memmap2::Mmap,
    sections: [(usize, usize); SECTIONS],
    meta: DbMeta,
    path: PathBuf,
}

impl VulnDb {
    pub fn open(path: &Path) -> Result<VulnDb, VulnDbError> {
        let file = File::open(path).map_err(|e| VulnDbError::io(path, e))?;
        // SAFETY: the file is never modified in place: builds write a new file and rename it
        // over this one, so the mapping stays valid for as long as it lives.
        let map = unsafe { memmap2::Mmap::map(&file) }.map_err(|e| VulnDbError::io(path, e))?;
        let bad = |m: &str| VulnDbError::Corrupt {
            path: path.to_path_buf(),
            message: m.to_string(),
        };
        if map.len() < HEADER_LEN as usize || &map[..8] != MAGIC {
            return Err(bad("not an argus vulnerability database"));
        }
        let format = u32::from_le_bytes(map[8..12].try_into().map_err(|_| bad("header"))?);
        if format != FORMAT_VERSION {
            return Err(bad(&format!(
                "format {format}, this argus reads {FORMAT_VERSION}; rebuild with `argus db import`"
            )));
        }
        let mut sections = [(0usize, 0usize); SECTIONS];
        for (i, s) in sections.iter_mut().enumerate() {
            let at = 16 + i * 16;
            let off = u64::from_le_bytes(map[at..at + 8].try_into().map_err(|_| bad("header"))?);
            let len = u64::from_le_bytes(map[at + 8..at + 16].try_into().map_err(|_| bad("header"))?);
            let end = off.checked_add(len).ok_or_else(|| bad("section overflows"))?;
            if end > map.len() as u64 {
                return Err(bad("truncated"));
            }
            *s = (off as usize, len as usize);
        }
        if sections[1].1 % 16 != 0 || sections[3].1 % 24 != 0 || sections[4].1 % 4 != 0 || sections[5].1 % 16 != 0 {
            return Err(bad("section sizes"));
        }
        let (mo, ml) = sections[6];
        let meta: DbMeta = serde_json::from_slice(&map[mo..mo + ml]).map_err(|e| bad(&format!("meta: {e}")))?;
        Ok(VulnDb {
            map,
            sections,
            meta,
            path: path.to_path_buf(),
        })
    }

    pub fn meta(&self) -> &DbMeta {
        &self.meta
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn section(&self, i: usize) -> &[u8] {
        let (o, l) = self.sections[i];
        &self.map[o..o + l]
    }

    fn u64_at(bytes: &[u8], at: usize) -> u64 {
        bytes
            .get(at..at + 8)
            .and_then(|b| b.try_into().ok())
            .map(u64::from_le_bytes)
            .unwrap_or(u64::MAX)
    }

    fn u32_at(bytes: &[u8], at: usize) -> u32 {
        bytes
            .get(at..at + 4)
            .and_then(|b| b.try_into().ok())
            .map(u32::from_le_bytes)
            .unwrap_or(u32::MAX)
    }

    fn key_at(&self, i: usize) -> &[u8] {
        let table = self.section(3);
        let keys = self.section(2);
        let off = Self::u64_at(table, i * 24) as usize;
        let len = Self::u32_at(table, i * 24 + 8) as usize;
        keys.get(off..off.saturating_add(len)).unwrap_or_default()
    }

    /// Record numbers for an (ecosystem, package) key.
    fn postings(&self, key: &str) -> Vec<u32> {
        let n = self.section(3).len() / 24;
        let (mut lo, mut hi) = (0usize, n);
        let key = key.as_bytes();
        while lo < hi {
            let mid = (lo + hi) / 2;
            match self.key_at(mid).cmp(key) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => {
                    let table = self.section(3);
                    let posts = self.section(4);
                    let count = Self::u32_at(table, mid * 24 + 12) as usize;
                    let off = Self::u64_at(table, mid * 24 + 16) as usize;
                    // A corrupt table must not make us allocate or index past the postings.
                    let Some(end) = off.checked_add(count).filter(|&e| e <= posts.len() / 4) else {
                        return Vec::new();
                    };
                    return (off..end).map(|j| Self::u32_at(posts, j * 4)).collect();
                }
            }
        }
        Vec::new()
    }

    /// Advisories that name `(ecosystem, name)`.
    pub fn lookup(&self, ecosystem: &str, name: &str) -> Result<Vec<Advisory>, VulnDbError> {
        self.postings(&index_key(ecosystem, name))
            .into_iter()
            .map(|n| self.record(n))
            .collect()
    }

    /// Record numbers for a key made by [`index_key`]; empty when no advisory names it.
    pub fn records_for_key(&self, key: &str) -> Vec<u32> {
        self.postings(key)
    }

    /// How many advisories the database holds (record numbers are `0..record_count()`).
    pub fn record_count(&self) -> u32 {
        (self.section(1).len() / 16) as u32
    }

    /// Parses record `n`.
    pub fn record(&self, n: u32) -> Result<Advisory, VulnDbError> {
        let table = self.section(1);
        let records = &self.map[..];
        let at = n as usize * 16;
        let off = Self::u64_at(table, at) as usize;
        let len = Self::u32_at(table, at + 8) as usize;
        let bytes = records
            .get(off..off.saturating_add(len))
            .ok_or_else(|| VulnDbError::Corrupt {
                path: self.path.clone(),
                message: format!("record {n} out of bounds"),
            })?;
        serde_json::from_slice(bytes).map_err(|e| VulnDbError::Corrupt {
            path: self.path.clone(),
            message: format!("record {n}: {e}"),
        })
    }

    /// Whether any advisory names this key; cheap, no record is parsed.
    pub fn has(&self, ecosystem: &str, name: &str) -> bool {
        !self.postings(&index_key(ecosystem, name)).is_empty()
    }

    pub fn epss(&self, cve: &str) -> Option<Epss> {
        let key = cve_key(cve)?;
        let table = self.section(5);
        let n = table.len() / 16;
        let (mut lo, mut hi) = (0usize, n);
        while lo < hi {
            let mid = (lo + hi) / 2;
            let k = Self::u64_at(table, mid * 16);
            match k.cmp(&key) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => {
                    let s = f32::from_bits(Self::u32_at(table, mid * 16 + 8));
                    let p = f32::from_bits(Self::u32_at(table, mid * 16 + 12));
                    return Some(Epss {
                        score: s,
                        percentile: p,
                    });
                }
            }
        }
        None
    }

    pub fn kev(&self, cve: &str) -> Option<&KevEntry> {
        self.meta.kev.get(cve)
    }
}
