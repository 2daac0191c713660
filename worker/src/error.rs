//! Errors at the scan engine's boundary.

use std::path::PathBuf;

/// Result alias for the scan engine.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why an artifact could not be inventoried. Problems confined to one file inside an artifact
/// are not errors: they become warnings on the inventory and the rest is still read.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{artifact}: {message}")]
    Malformed { artifact: String, message: String },
    #[error("{artifact}: limit exceeded: {message}")]
    Limit { artifact: String, message: String },
    #[error("registry {registry}: {message}")]
    Registry { registry: String, message: String },
    #[error("cannot tell what kind of artifact {0} is; pass --kind")]
    UnknownKind(String),
    #[error("{operation}: {message}")]
    Cloud {
        operation: String,
        /// The credentials were refused (the account's role, the repository's policy).
        denied: bool,
        message: String,
    },
    #[error("unsupported: {0}")]
    Unsupported(String),
}

impl Error {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
    pub fn malformed(artifact: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Malformed {
            artifact: artifact.into(),
            message: message.into(),
        }
    }
    pub fn limit(artifact: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Limit {
            artifact: artifact.into(),
            message: message.into(),
        }
    }
}
