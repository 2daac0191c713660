//! The vulnerability database: OSV advisories (plus FIRST's EPSS and CISA's KEV) imported into
//! one memory-mapped file with an index by (ecosystem, package).

use std::path::{Path, PathBuf};

pub mod diff;
pub mod distribute;
pub mod import;
pub mod osv;
pub mod slot;
pub mod store;
pub mod update;

pub use slot::DbSlot;
pub use store::{Builder, DbMeta, Epss, KevEntry, VulnDb};

#[derive(Debug, thiserror::Error)]
pub enum VulnDbError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: database is corrupt: {message}")]
    Corrupt { path: PathBuf, message: String },
    #[error("{0}")]
    Invalid(String),
}

impl VulnDbError {
    pub fn io(path: impl AsRef<Path>, source: std::io::Error) -> Self {
        VulnDbError::Io {
            path: path.as_ref().to_path_buf(),
            source,
        }
    }
}

/// The ecosystem as the index keys it. OSV spells Ubuntu LTS releases `Ubuntu:22.04:LTS`
/// while an image only says `22.04`; the suffix carries no meaning for matching.
pub fn index_ecosystem(ecosystem: &str) -> &str {
    ecosystem.strip_suffix(":LTS").unwrap_or(ecosystem)
}

/// Package names as the index keys them: PyPI names compare after PEP 503 normalization, every
/// other ecosystem's names compare as written.
pub fn index_name(ecosystem: &str, name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    push_index_name(&mut out, ecosystem, name);
    out
}

fn push_index_name(out: &mut String, ecosystem: &str, name: &str) {
    if ecosystem == "PyPI" {
        let mut sep = false;
        for c in name.chars() {
            if matches!(c, '-' | '_' | '.') {
                sep = true;
            } else {
                if sep && !out.is_empty() {
                    out.push('-');
                }
                sep = false;
                out.push(c.to_ascii_lowercase());
            }
        }
    } else {
        out.push_str(name);
    }
}

/// The lookup key of an (ecosystem, package) pair.
pub fn index_key(ecosystem: &str, name: &str) -> String {
    let mut key = String::new();
    index_key_into(&mut key, ecosystem, name);
    key
}

/// [`index_key`] into a reused buffer: the matcher builds one key per package.
pub fn index_key_into(key: &mut String, ecosystem: &str, name: &str) {
    key.clear();
    let eco = index_ecosystem(ecosystem);
    key.push_str(eco);
    key.push('\0');
    push_index_name(key, eco, name);
}

#[cfg(test)]
mod tests;
