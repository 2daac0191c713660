//! Raft: openraft 0.9 (storage v2) with the log, the vote and the state machine in one RocksDB
//! instance, in separate column families, and gRPC between the nodes.

pub mod backup;
pub mod codec;
pub mod log_store;
pub mod network;
pub mod service;
pub mod snapshot;
pub mod state_machine;
pub mod store;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use argus_proto::internal::v1::{Proposal, ProposalResponse};
use prost::Message;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Error, Result};

pub type NodeId = u64;

/// The RocksDB directory inside a node's data directory.
pub const DB_DIR: &str = "db";
/// The snapshot files inside a node's data directory.
pub const SNAPSHOT_DIR: &str = "snapshots";
pub type Raft = openraft::Raft<TypeConfig>;

openraft::declare_raft_types!(
    pub TypeConfig:
        D = Request,
        R = Reply,
        NodeId = NodeId,
        Node = openraft::BasicNode,
        Entry = openraft::Entry<TypeConfig>,
        SnapshotData = tokio::fs::File,
        AsyncRuntime = openraft::TokioRuntime,
);

/// One log entry's application payload: a group of commands proposed together. It travels and
/// is stored as protobuf bytes, so the replicated log shares its schema (and its evolution
/// rules) with the API. Shared, not copied: openraft clones entries to replicate and apply
/// them, and a proposal can hold a megabyte of scan results.
///
/// The bytes are kept beside the decoded proposal: the leader encodes a proposal once where it
/// is proposed, and writes and sends those bytes to its log and to every follower (it encoded
/// it once per destination before, ~5 % of a leader's CPU under ingest); a follower keeps the
/// bytes it received for its own log.
#[derive(Clone, Debug, Default)]
pub struct Request {
    proposal: Arc<Proposal>,
    encoded: bytes::Bytes,
}

impl Request {
    pub fn new(proposal: Proposal) -> Self {
        let encoded = proposal.encode_to_vec().into();
        Self {
            proposal: Arc::new(proposal),
            encoded,
        }
    }

    pub fn proposal(&self) -> &Proposal {
        &self.proposal
    }

    /// The size of the proposal's protobuf encoding.
    pub fn encoded_len(&self) -> usize {
        self.encoded.len()
    }
}

impl PartialEq for Request {
    fn eq(&self, other: &Self) -> bool {
        self.proposal == other.proposal
    }
}

impl Serialize for Request {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(&self.encoded)
    }
}

impl<'de> Deserialize<'de> for Request {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let bytes = serde_bytes_buf::deserialize(d)?;
        let proposal = Proposal::decode(bytes.as_slice()).map_err(serde::de::Error::custom)?;
        Ok(Self {
            proposal: Arc::new(proposal),
            encoded: bytes.into(),
        })
    }
}

/// What applying a [`Request`] answered, one result per command.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Reply(pub ProposalResponse);

macro_rules! serde_as_protobuf {
    ($wrapper:ident, $message:ty, $wrap:expr) => {
        impl Serialize for $wrapper {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_bytes(&self.0.encode_to_vec())
            }
        }

        impl<'de> Deserialize<'de> for $wrapper {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let bytes = serde_bytes_buf::deserialize(d)?;
                <$message>::decode(bytes.as_slice())
                    .map(|m| $wrapper($wrap(m)))
                    .map_err(serde::de::Error::custom)
            }
        }
    };
}

serde_as_protobuf!(Reply, ProposalResponse, std::convert::identity);

/// Runs blocking storage work (RocksDB calls, file IO, applying) on tokio's blocking pool so it
/// never stalls the executor threads that drive Raft and the API. A panic in `f` becomes an error.
pub(crate) async fn blocking<T, F>(f: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T> + Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::Raft(format!("blocking storage task failed: {e}")))?
}

/// Accepts bytes however the format presents them (postcard: a byte string; JSON: a sequence).
mod serde_bytes_buf {
    use serde::de::{Deserializer, SeqAccess, Visitor};

    struct BytesVisitor;

    impl<'de> Visitor<'de> for BytesVisitor {
        type Value = Vec<u8>;

        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("bytes")
        }

        fn visit_bytes<E>(self, v: &[u8]) -> Result<Vec<u8>, E> {
            Ok(v.to_vec())
        }

        fn visit_byte_buf<E>(self, v: Vec<u8>) -> Result<Vec<u8>, E> {
            Ok(v)
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<u8>, A::Error> {
            let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0));
            while let Some(b) = seq.next_element()? {
                out.push(b);
            }
            Ok(out)
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        d.deserialize_bytes(BytesVisitor)
    }
}
