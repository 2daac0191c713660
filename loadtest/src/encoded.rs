//! Sending `IngestScanResults` requests that were encoded before the measurement started.
//!
//! The load generator shares the machine's cores with the coordinators it measures. Building
//! and encoding a request through the generated client cost it about a third of the samples of
//! a profile taken during ingestion (prost recomputes the length of every nested message at each
//! level and compares each empty string field against ""); a deployment's workers run
//! elsewhere. Encoding every request up front leaves the generator only the sending, and the
//! coordinators receive the same bytes the generated client would have sent.

use argus_coordinator::client::Client;
use argus_proto::v1::{IngestScanResultsRequest, IngestScanResultsResponse};
use bytes::{BufMut, Bytes};
use prost::Message;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::codegen::http::uri::PathAndQuery;
use tonic::Status;

const PATH: &str = "/argus.v1.FindingsService/IngestScanResults";

/// One request's protobuf bytes.
pub fn encode(request: &IngestScanResultsRequest) -> Bytes {
    Bytes::from(request.encode_to_vec())
}

/// Calls `IngestScanResults` on `client`'s current node with `body` as the request message.
pub async fn ingest(client: Client, body: Bytes) -> Result<tonic::Response<IngestScanResultsResponse>, Status> {
    let mut grpc = tonic::client::Grpc::new(client.channel())
        .max_decoding_message_size(argus_coordinator::node::MAX_MESSAGE_BYTES)
        .max_encoding_message_size(argus_coordinator::node::MAX_MESSAGE_BYTES);
    // Unavailable, so that `Client::retry` moves on to the next node as it does for a refused
    // connection.
    grpc.ready()
        .await
        .map_err(|e| Status::unavailable(format!("transport not ready: {e}")))?;
    grpc.unary(tonic::Request::new(body), PathAndQuery::from_static(PATH), PreEncoded)
        .await
}

/// Writes a message that is already encoded; reads the response as the generated client does.
#[derive(Clone, Copy)]
struct PreEncoded;

impl Codec for PreEncoded {
    type Encode = Bytes;
    type Decode = IngestScanResultsResponse;
    type Encoder = Self;
    type Decoder = Self;

    fn encoder(&mut self) -> Self {
        *self
    }

    fn decoder(&mut self) -> Self {
        *self
    }
}

impl Encoder for PreEncoded {
    type Item = Bytes;
    type Error = Status;

    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for PreEncoded {
    type Item = IngestScanResultsResponse;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Self::Item>, Status> {
        IngestScanResultsResponse::decode(src)
            .map(Some)
            .map_err(|e| Status::internal(format!("decoding the response: {e}")))
    }
}
