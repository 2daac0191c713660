//! Package extractors: one parser per package database, manifest or lockfile.
//!
//! An extractor says which paths it wants ([`Extractor::wants`]) so the artifact readers keep
//! only those files, then parses one file at a time. Extractors never touch the filesystem and
//! never panic on malformed input: a file they cannot read is an [`ExtractError`], which the
//! engine turns into a warning naming the artifact and the file.

use argus_proto::{OsInfo, Package};

use crate::Limits;

pub mod apk;
pub mod cargo;
pub mod composer;
pub mod dpkg;
pub mod gobinary;
pub mod gomod;
pub mod java;
pub mod javascript;
pub mod js_lock;
pub mod os_release;
pub mod python;
pub mod python_lock;
pub mod rpm;
pub mod ruby;

/// One file handed to an extractor.
pub struct ExtractInput<'a> {
    /// Absolute, normalized path inside the artifact (`/var/lib/dpkg/status`).
    pub path: &'a str,
    /// The whole file (bounded by [`Limits::max_file_bytes`]). For Go binaries this is the
    /// build-information blob found by [`gobinary::probe`], not the whole executable.
    pub data: &'a [u8],
    /// The operating system detected in the artifact, if any; OS package extractors take the
    /// OSV ecosystem from it.
    pub os: Option<&'a OsInfo>,
    pub limits: &'a Limits,
}

/// What an extractor found in one file.
#[derive(Debug, Default)]
pub struct ExtractOutput {
    /// Packages with `file_path` set (for nested archives: `outer.jar!/inner.jar`);
    /// `layer_digest` is left `None` and filled by the engine.
    pub packages: Vec<Package>,
    /// Problems with parts of the file that did not stop the rest from being read
    /// (one malformed stanza, one entry without a version).
    pub warnings: Vec<String>,
}

/// The file could not be read at all.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ExtractError(pub String);

impl ExtractError {
    pub fn new(msg: impl Into<String>) -> Self {
        ExtractError(msg.into())
    }
}

pub type ExtractResult = std::result::Result<ExtractOutput, ExtractError>;

pub trait Extractor: Send + Sync {
    /// Short name used in warnings and logs (`dpkg`, `package-lock`).
    fn name(&self) -> &'static str;
    /// Whether this extractor needs the file at `path` (absolute, normalized). Called for every
    /// entry of every artifact, so it must be cheap: compare suffixes, not regexes.
    fn wants(&self, path: &str) -> bool;
    fn extract(&self, input: &ExtractInput<'_>) -> ExtractResult;
}

/// Every extractor Argus has, in a fixed order.
pub fn all() -> Vec<Box<dyn Extractor>> {
    vec![
        Box::new(dpkg::Dpkg),
        Box::new(apk::Apk),
        Box::new(rpm::Rpm),
        Box::new(python::PythonMetadata),
        Box::new(python::Requirements),
        Box::new(python_lock::PoetryLock),
        Box::new(python_lock::PipfileLock),
        Box::new(python_lock::UvLock),
        Box::new(javascript::PackageLock),
        Box::new(javascript::NodeModules),
        Box::new(js_lock::YarnLock),
        Box::new(js_lock::PnpmLock),
        Box::new(cargo::CargoLock),
        Box::new(gomod::GoMod),
        Box::new(gobinary::GoBinary),
        Box::new(java::Jar),
        Box::new(ruby::GemfileLock),
        Box::new(ruby::Gemspec),
        Box::new(composer::ComposerLock),
    ]
}

/// Small helpers shared by the parsers.
pub(crate) fn utf8<'a>(input: &'a ExtractInput<'_>) -> Result<&'a str, ExtractError> {
    std::str::from_utf8(input.data).map_err(|e| ExtractError::new(format!("not valid UTF-8: {e}")))
}

/// Shared by the extractors' unit tests.
#[cfg(test)]
pub(crate) mod testutil {
    use super::{ExtractInput, ExtractResult, Extractor};
    use crate::Limits;

    /// Runs `ex` on `data` at `path` with default limits and no detected OS.
    pub fn run(ex: &dyn Extractor, path: &str, data: &str) -> ExtractResult {
        let limits = Limits::default();
        ex.extract(&ExtractInput {
            path,
            data: data.as_bytes(),
            os: None,
            limits: &limits,
        })
    }
}
