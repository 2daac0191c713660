//! The merged view of an artifact's files that extractors need.
//!
//! Artifact readers feed entries in order (for images: layer by layer, bottom first). Only
//! wanted files are kept, in memory and bounded by [`Limits`]; every earlier version of a kept
//! file is kept too, so that a package can be attributed to the layer that introduced it in its
//! current version, not merely to the last layer that rewrote the database file.

use std::collections::BTreeMap;
use std::io::Read;

use crate::extract::{gobinary, os_release, Extractor};
use crate::{Error, Limits, Result};

/// One version of a kept file: the layer that wrote it and its contents.
#[derive(Debug, Clone)]
pub struct Version {
    pub layer: usize,
    pub data: Vec<u8>,
}

/// What a kept path holds.
#[derive(Debug, Clone)]
pub enum Kept {
    /// File contents, oldest version first.
    File(Vec<Version>),
    /// Go build information found in an executable, oldest first.
    GoBuildInfo(Vec<Version>),
    /// A symlink to another path (already resolved to an absolute, normalized path).
    Link { layer: usize, target: String },
}

/// How an artifact reader describes an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    File { executable: bool },
    Dir,
    Symlink,
    Other,
}

pub struct FileSet<'e> {
    artifact: String,
    extractors: &'e [Box<dyn Extractor>],
    limits: Limits,
    /// Digest of each layer, by index; empty names for artifacts without layers.
    layers: Vec<String>,
    files: BTreeMap<String, Kept>,
    kept_bytes: u64,
    entries: u64,
    warnings: Vec<String>,
}

/// Normalizes a path inside an artifact to `/a/b/c`. `..` may not climb above the root: such
/// a path is an escape attempt and yields `None`.
pub fn normalize(path: &str) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            p => parts.push(p),
        }
    }
    let mut out = String::with_capacity(path.len() + 1);
    for p in &parts {
        out.push('/');
        out.push_str(p);
    }
    if out.is_empty() {
        out.push('/');
    }
    Some(out)
}

/// Resolves a symlink's target against the directory of the link, inside the artifact's root.
pub fn resolve_link(link_path: &str, target: &str) -> Option<String> {
    if target.starts_with('/') {
        return normalize(target);
    }
    let dir = link_path.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
    normalize(&format!("{dir}/{target}"))
}

const EXECUTABLE_MAGICS: &[&[u8]] = &[
    b"\x7fELF",
    b"\xfe\xed\xfa\xce",
    b"\xfe\xed\xfa\xcf",
    b"\xce\xfa\xed\xfe",
    b"\xcf\xfa\xed\xfe",
    b"MZ",
];

impl<'e> FileSet<'e> {
    pub fn new(artifact: impl Into<String>, extractors: &'e [Box<dyn Extractor>], limits: Limits) -> Self {
        Self {
            artifact: artifact.into(),
            extractors,
            limits,
            layers: Vec::new(),
            files: BTreeMap::new(),
            kept_bytes: 0,
            entries: 0,
            warnings: Vec::new(),
        }
    }

    pub fn artifact(&self) -> &str {
        &self.artifact
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Starts a new layer; entries offered afterwards belong to it.
    pub fn begin_layer(&mut self, digest: impl Into<String>) -> Result<()> {
        if self.layers.len() >= self.limits.max_layers {
            return Err(Error::limit(
                &self.artifact,
                format!("more than {} layers", self.limits.max_layers),
            ));
        }
        self.layers.push(digest.into());
        Ok(())
    }

    fn current_layer(&self) -> usize {
        self.layers.len().saturating_sub(1)
    }

    pub fn layer_digest(&self, layer: usize) -> Option<&str> {
        self.layers.get(layer).map(String::as_str).filter(|d| !d.is_empty())
    }

    pub fn warn(&mut self, msg: impl Into<String>) {
        let msg = msg.into();
        tracing::warn!(artifact = %self.artifact, "{msg}");
        self.warnings.push(format!("{}: {msg}", self.artifact));
    }

    pub fn take_warnings(&mut self) -> Vec<String> {
        std::mem::take(&mut self.warnings)
    }

    pub fn wanted(&self, path: &str) -> bool {
        os_release::OS_FILES.contains(&path) || self.extractors.iter().any(|e| e.wants(path))
    }

    /// Counts an archive entry against [`Limits::max_entries`].
    pub fn count_entry(&mut self) -> Result<()> {
        self.entries += 1;
        if self.entries > self.limits.max_entries {
            return Err(Error::limit(
                &self.artifact,
                format!("more than {} entries", self.limits.max_entries),
            ));
        }
        Ok(())
    }

    /// Offers one entry. `raw_path` is the path as the archive spells it; `size` the size it
    /// declares; `read` yields its contents (read only when the file is kept or probed).
    pub fn offer(
        &mut self,
        raw_path: &str,
        kind: EntryKind,
        size: u64,
        link_target: Option<&str>,
        read: &mut dyn Read,
    ) -> Result<()> {
        self.count_entry()?;
        let Some(path) = normalize(raw_path) else {
            self.warn(format!("{raw_path}: path escapes the artifact root; entry skipped"));
            return Ok(());
        };
        let layer = self.current_layer();
        match kind {
            EntryKind::File { executable } => {
                if self.wanted(&path) {
                    if size > self.limits.max_file_bytes {
                        self.warn(format!(
                            "{path}: {size} bytes exceeds the {} byte file limit; skipped",
                            self.limits.max_file_bytes
                        ));
                        self.forget(&path);
                        return Ok(());
                    }
                    let mut data = Vec::with_capacity(size.min(1 << 24) as usize);
                    let limit = self.limits.max_file_bytes;
                    read.take(limit + 1)
                        .read_to_end(&mut data)
                        .map_err(|e| Error::malformed(&self.artifact, format!("{path}: {e}")))?;
                    if data.len() as u64 > limit {
                        self.warn(format!("{path}: larger than the {limit} byte file limit; skipped"));
                        self.forget(&path);
                        return Ok(());
                    }
                    self.keep(path, layer, data, false)
                } else {
                    self.forget(&path);
                    if size >= 64 {
                        self.probe_executable(path, layer, executable, read)?;
                    }
                    Ok(())
                }
            }
            EntryKind::Symlink => {
                self.forget(&path);
                if self.wanted(&path) {
                    match link_target.and_then(|t| resolve_link(&path, t)) {
                        Some(target) => {
                            self.files.insert(path, Kept::Link { layer, target });
                        }
                        None => self.warn(format!("{path}: symlink target escapes the artifact root; ignored")),
                    }
                }
                Ok(())
            }
            EntryKind::Dir | EntryKind::Other => {
                // A directory entry does not delete what is below it; anything else replacing a
                // kept file does.
                if kind == EntryKind::Other {
                    self.forget(&path);
                }
                Ok(())
            }
        }
    }

    /// Records a hard link: the new path gets the contents already kept at `target`.
    pub fn offer_hardlink(&mut self, raw_path: &str, raw_target: &str) -> Result<()> {
        self.count_entry()?;
        let (Some(path), Some(target)) = (normalize(raw_path), normalize(raw_target)) else {
            self.warn(format!("{raw_path}: hard link escapes the artifact root; ignored"));
            return Ok(());
        };
        let layer = self.current_layer();
        self.forget(&path);
        if !self.wanted(&path) {
            return Ok(());
        }
        let data = match self.files.get(&target) {
            Some(Kept::File(v)) => v.last().map(|v| v.data.clone()),
            _ => None,
        };
        match data {
            Some(data) => self.keep(path, layer, data, false),
            None => {
                self.warn(format!(
                    "{path}: hard link to {target}, which is not in the artifact; ignored"
                ));
                Ok(())
            }
        }
    }

    fn probe_executable(&mut self, path: String, layer: usize, executable: bool, read: &mut dyn Read) -> Result<()> {
        let mut head = [0u8; 4];
        let mut n = 0;
        while n < head.len() {
            match read.read(&mut head[n..]) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Error::malformed(&self.artifact, format!("{path}: {e}"))),
            }
        }
        let head = &head[..n];
        let is_exe = EXECUTABLE_MAGICS.iter().any(|m| head.starts_with(m));
        // Shared objects and binaries without the executable bit can still be Go programs
        // (Lambda zips often lose permission bits), so the magic decides, the mode only hints.
        if !is_exe || (!executable && head.starts_with(b"MZ")) {
            return Ok(());
        }
        let chained = head.chain(read);
        match gobinary::probe(chained, self.limits.max_binary_probe_bytes) {
            Ok(Some(blob)) => {
                self.keep(path, layer, blob, true)?;
            }
            Ok(None) => {}
            Err(e) => self.warn(format!("{path}: reading executable: {e}")),
        }
        Ok(())
    }

    fn keep(&mut self, path: String, layer: usize, data: Vec<u8>, go: bool) -> Result<()> {
        self.kept_bytes += data.len() as u64;
        if self.kept_bytes > self.limits.max_kept_bytes {
            return Err(Error::limit(
                &self.artifact,
                format!("files kept for extraction exceed {} bytes", self.limits.max_kept_bytes),
            ));
        }
        let version = Version { layer, data };
        match self.files.get_mut(&path) {
            Some(Kept::File(v)) if !go => v.push(version),
            Some(Kept::GoBuildInfo(v)) if go => v.push(version),
            _ => {
                let kept = if go {
                    Kept::GoBuildInfo(vec![version])
                } else {
                    Kept::File(vec![version])
                };
                if let Some(old) = self.files.insert(path, kept) {
                    self.release(&old);
                }
            }
        }
        Ok(())
    }

    fn release(&mut self, kept: &Kept) {
        if let Kept::File(v) | Kept::GoBuildInfo(v) = kept {
            self.kept_bytes -= v.iter().map(|v| v.data.len() as u64).sum::<u64>();
        }
    }

    /// The path was replaced by something we do not keep: drop what lower layers had there.
    fn forget(&mut self, path: &str) {
        if let Some(old) = self.files.remove(path) {
            self.release(&old);
        }
    }

    /// Applies a whiteout (`.wh.<name>`): the path and everything below it, as written by lower
    /// layers, are deleted.
    pub fn whiteout(&mut self, raw_path: &str) {
        let Some(path) = normalize(raw_path) else {
            self.warn(format!("{raw_path}: whiteout escapes the artifact root; ignored"));
            return;
        };
        let layer = self.current_layer();
        let prefix = format!("{path}/");
        self.drop_lower(layer, |k| k == path || k.starts_with(&prefix));
    }

    /// Applies an opaque-directory marker: everything lower layers wrote below `dir` is hidden.
    pub fn opaque(&mut self, raw_dir: &str) {
        let Some(dir) = normalize(raw_dir) else {
            self.warn(format!("{raw_dir}: opaque marker escapes the artifact root; ignored"));
            return;
        };
        let layer = self.current_layer();
        let prefix = if dir == "/" { "/".to_string() } else { format!("{dir}/") };
        self.drop_lower(layer, |k| k.starts_with(&prefix));
    }

    fn drop_lower(&mut self, layer: usize, matches: impl Fn(&str) -> bool) {
        let keys: Vec<String> = self.files.keys().filter(|k| matches(k)).cloned().collect();
        for key in keys {
            let Some(kept) = self.files.remove(&key) else { continue };
            let mut freed = 0u64;
            let mut upper_only = |mut v: Vec<Version>| {
                v.retain(|x| {
                    let keep = x.layer >= layer;
                    if !keep {
                        freed += x.data.len() as u64;
                    }
                    keep
                });
                (!v.is_empty()).then_some(v)
            };
            let kept = match kept {
                Kept::File(v) => upper_only(v).map(Kept::File),
                Kept::GoBuildInfo(v) => upper_only(v).map(Kept::GoBuildInfo),
                Kept::Link { layer: l, target } => (l >= layer).then_some(Kept::Link { layer: l, target }),
            };
            self.kept_bytes -= freed;
            if let Some(k) = kept {
                self.files.insert(key, k);
            }
        }
    }

    /// The files as they stand after all entries: `(path, kept)`, links resolved.
    pub fn into_parts(self) -> FinalFiles {
        let mut out = BTreeMap::new();
        for (path, kept) in &self.files {
            let resolved = match kept {
                Kept::Link { .. } => {
                    let mut cur = kept;
                    let mut hops = 0;
                    while let Kept::Link { target, .. } = cur {
                        hops += 1;
                        match self.files.get(target) {
                            Some(next) if hops < 16 => cur = next,
                            _ => break,
                        }
                    }
                    if matches!(cur, Kept::Link { .. }) {
                        continue;
                    }
                    cur.clone()
                }
                other => other.clone(),
            };
            out.insert(path.clone(), resolved);
        }
        FinalFiles {
            files: out,
            layers: self.layers,
            warnings: self.warnings,
        }
    }
}

/// The kept files after every layer has been applied.
pub struct FinalFiles {
    pub files: BTreeMap<String, Kept>,
    pub layers: Vec<String>,
    pub warnings: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_refuses_to_climb_above_root() {
        assert_eq!(normalize("./usr/lib/../lib/x").as_deref(), Some("/usr/lib/x"));
        assert_eq!(normalize("/etc//os-release").as_deref(), Some("/etc/os-release"));
        assert_eq!(normalize("../etc/passwd"), None);
        assert_eq!(normalize("a/../../b"), None);
        assert_eq!(
            resolve_link("/etc/os-release", "../usr/lib/os-release").as_deref(),
            Some("/usr/lib/os-release")
        );
        assert_eq!(resolve_link("/etc/x", "../../../../x"), None);
    }
}
