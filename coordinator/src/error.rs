//! The coordinator crate's error type. It becomes a `tonic::Status` only at the API edge.

use std::path::PathBuf;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("rocksdb: {0}")]
    Rocks(#[from] rocksdb::Error),
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("corrupt record in {cf}: {detail}")]
    Corrupt { cf: &'static str, detail: String },
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    #[error("not found: {0}")]
    NotFound(String),
    /// The request is well-formed but the cluster is not in a state to carry it out (e.g. a
    /// second `InitCluster` with other members, or a membership change already under way).
    #[error("failed precondition: {0}")]
    FailedPrecondition(String),
    #[error(
        "cursor {cursor} is older than the retained change log (first retained {first}): resync with ListFindings"
    )]
    CursorExpired { cursor: u64, first: u64 },
    #[error("no leader is known yet")]
    NoLeader,
    #[error("this node is not the leader (leader: {leader_addr:?})")]
    NotLeader {
        leader_id: Option<u64>,
        leader_addr: Option<String>,
    },
    #[error("{0}")]
    Forwarded(tonic::Status),
    #[error("raft: {0}")]
    Raft(String),
    #[error("codec: {0}")]
    Codec(String),
    #[error("transport: {0}")]
    Transport(String),
    #[error("configuration: {0}")]
    Config(String),
    /// A call to an AWS API failed. `code` is the service's error code when it sent one
    /// (`AccessDenied`, `ThrottlingException`, ...), else empty (a network error, a timeout).
    #[error("aws {operation}: {code}: {message}")]
    Aws {
        operation: &'static str,
        code: String,
        message: String,
    },
    #[error("shutting down")]
    Shutdown,
    /// The host agent could not read the host's package databases.
    #[error("reading the host: {0}")]
    Host(#[from] argus_worker::Error),
}

impl Error {
    /// Worth retrying against the (possibly new) leader: the write was not applied, or applying
    /// it again changes nothing (every command is idempotent).
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::NoLeader | Error::NotLeader { .. } | Error::Transport(_) => true,
            Error::Forwarded(s) => matches!(s.code(), tonic::Code::Unavailable | tonic::Code::Cancelled),
            _ => false,
        }
    }

    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}
