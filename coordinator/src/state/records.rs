//! Versioned, canonical record encoding.
//!
//! Every value is one version byte followed by the protobuf encoding of the message. prost
//! encodes `map` fields by iterating a `HashMap`, whose order differs between processes (and
//! between two maps in one process); replicas must write identical bytes, so the tag maps are
//! written here in key order instead. Any protobuf decoder reads the result as the same message.

use std::collections::HashMap;

use argus_proto::internal::v1::{
    ArtifactSchedule, ChangeLogBounds, ExposureScope, FindingCounters, InstanceExposureRecord, PipelineCounters,
};
use argus_proto::v1;
use prost::encoding::{encode_key, encode_varint, WireType};
use prost::Message;

use crate::error::{Error, Result};

/// Version byte in front of every record this module writes.
pub const RECORD_VERSION: u8 = 1;

/// A message stored as a record. Encoding takes `&mut self` so that map and nested fields can be
/// moved out, written canonically and put back without cloning.
pub trait Record: Message + Default + Sized {
    fn encode_canonical(&mut self, buf: &mut Vec<u8>) {
        self.encode(buf).expect("a Vec grows as needed");
    }
}

impl Record for v1::ScanResult {}
impl Record for v1::SuppressionRule {}
impl Record for ChangeLogBounds {}
impl Record for ArtifactSchedule {}
impl Record for PipelineCounters {}
impl Record for FindingCounters {}
impl Record for ExposureScope {}
impl Record for InstanceExposureRecord {}

impl Record for v1::Account {
    fn encode_canonical(&mut self, buf: &mut Vec<u8>) {
        let tags = std::mem::take(&mut self.tags);
        self.encode(buf).expect("a Vec grows as needed");
        encode_sorted_map(4, &tags, buf);
        self.tags = tags;
    }
}

impl Record for v1::Resource {
    fn encode_canonical(&mut self, buf: &mut Vec<u8>) {
        let tags = std::mem::take(&mut self.tags);
        self.encode(buf).expect("a Vec grows as needed");
        encode_sorted_map(5, &tags, buf);
        self.tags = tags;
    }
}

/// A finding is stored with a reference to its resource (id and type, `attach.rs`) even when
/// the message in hand carries the whole record: readers attach the current one.
impl Record for v1::Finding {
    fn encode_canonical(&mut self, buf: &mut Vec<u8>) {
        let resource = self.resource.take();
        self.encode(buf).expect("a Vec grows as needed");
        if let Some(mut r) = resource {
            let reference = v1::Resource {
                r#type: r.r#type,
                resource_id: std::mem::take(&mut r.resource_id),
                ..Default::default()
            };
            encode_key(13, WireType::LengthDelimited, buf);
            reference.encode_length_delimited(buf).expect("a Vec grows as needed");
            r.resource_id = reference.resource_id;
            self.resource = Some(r);
        }
    }
}

impl Record for v1::FindingChange {
    fn encode_canonical(&mut self, buf: &mut Vec<u8>) {
        let finding = self.finding.take();
        self.encode(buf).expect("a Vec grows as needed");
        if let Some(mut f) = finding {
            encode_nested(4, &mut f, buf);
            self.finding = Some(f);
        }
    }
}

fn encode_nested<R: Record>(tag: u32, msg: &mut R, buf: &mut Vec<u8>) {
    let mut inner = Vec::with_capacity(msg.encoded_len());
    msg.encode_canonical(&mut inner);
    append_nested(tag, &inner, buf);
}

fn append_nested(tag: u32, encoded: &[u8], buf: &mut Vec<u8>) {
    encode_key(tag, WireType::LengthDelimited, buf);
    encode_varint(encoded.len() as u64, buf);
    buf.extend_from_slice(encoded);
}

fn encode_string_field(tag: u32, s: &str, buf: &mut Vec<u8>) {
    encode_key(tag, WireType::LengthDelimited, buf);
    encode_varint(s.len() as u64, buf);
    buf.extend_from_slice(s.as_bytes());
}

/// A `map<string, string>` field as its entries (key = 1, value = 2) in key order.
fn encode_sorted_map(tag: u32, map: &HashMap<String, String>, buf: &mut Vec<u8>) {
    let mut entries: Vec<(&String, &String)> = map.iter().collect();
    entries.sort_unstable();
    for (k, v) in entries {
        let len = field_len(k) + field_len(v);
        encode_key(tag, WireType::LengthDelimited, buf);
        encode_varint(len as u64, buf);
        encode_string_field(1, k, buf);
        encode_string_field(2, v, buf);
    }
}

fn field_len(s: &str) -> usize {
    1 + prost::encoding::encoded_len_varint(s.len() as u64) + s.len()
}

/// The stored bytes of `record`.
pub fn encode<R: Record>(record: &mut R) -> Vec<u8> {
    // Sized up front: findings embed their resource, and growing the buffer while nested
    // messages are appended showed up as reallocation and copying when applying scan results.
    let mut buf = Vec::with_capacity(record.encoded_len() + 16);
    buf.push(RECORD_VERSION);
    record.encode_canonical(&mut buf);
    buf
}

/// The stored bytes of a finding and of the change-log entry that carries it, encoding the
/// finding once: the same bytes as `encode` of each, since a change embeds its finding as
/// field 4 in canonical form.
pub fn encode_finding_and_change(finding: &mut v1::Finding, change: &mut v1::FindingChange) -> (Vec<u8>, Vec<u8>) {
    debug_assert!(change.finding.is_none(), "the finding is passed separately");
    let stored = encode(finding);
    let mut logged = Vec::with_capacity(change.encoded_len() + stored.len() + 16);
    logged.push(RECORD_VERSION);
    change.encode_canonical(&mut logged);
    append_nested(4, &stored[1..], &mut logged);
    (stored, logged)
}

pub fn decode<R: Record>(cf: &'static str, bytes: &[u8]) -> Result<R> {
    match bytes.split_first() {
        Some((&RECORD_VERSION, body)) => R::decode(body).map_err(|e| Error::Corrupt {
            cf,
            detail: e.to_string(),
        }),
        Some((v, _)) => Err(Error::Corrupt {
            cf,
            detail: format!("unknown record version {v}"),
        }),
        None => Err(Error::Corrupt {
            cf,
            detail: "empty record".into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_finding_encoded_once_for_its_record_and_its_change_gives_the_same_bytes() {
        let mut finding = v1::Finding {
            finding_id: "f1".into(),
            title: "CVE-2024-1 in openssl".into(),
            resource: Some(v1::Resource {
                resource_id: "i-1".into(),
                tags: HashMap::from([("b".into(), "2".into()), ("a".into(), "1".into())]),
                ..Default::default()
            }),
            ..Default::default()
        };
        let mut change = v1::FindingChange {
            cursor: 7,
            kind: v1::ChangeKind::Created as i32,
            ..Default::default()
        };
        let (stored, logged) = encode_finding_and_change(&mut finding, &mut change);
        assert_eq!(stored, encode(&mut finding.clone()));
        change.finding = Some(finding);
        assert_eq!(logged, encode(&mut change));
        let back: v1::FindingChange = decode("changes", &logged).unwrap();
        assert_eq!(
            back.finding.unwrap().resource.unwrap(),
            v1::Resource {
                resource_id: "i-1".into(),
                ..Default::default()
            }
        );
    }

    #[test]
    fn a_stored_finding_keeps_only_its_resources_id_and_type() {
        let resource = v1::Resource {
            r#type: v1::ResourceType::AwsEc2Instance as i32,
            resource_id: "i-1".into(),
            account_id: "123456789012".into(),
            region: "eu-west-1".into(),
            tags: HashMap::from([("team".into(), "a".into())]),
            ..Default::default()
        };
        let mut finding = v1::Finding {
            finding_id: "f1".into(),
            resource: Some(resource.clone()),
            ..Default::default()
        };
        let back: v1::Finding = decode("findings", &encode(&mut finding)).unwrap();
        assert_eq!(
            finding.resource,
            Some(resource),
            "encoding leaves the message as it was"
        );
        assert_eq!(
            back.resource,
            Some(v1::Resource {
                r#type: v1::ResourceType::AwsEc2Instance as i32,
                resource_id: "i-1".into(),
                ..Default::default()
            })
        );
    }

    #[test]
    fn tag_maps_encode_identically_whatever_the_insertion_order() {
        let mut a = v1::Resource {
            resource_id: "r".into(),
            ..Default::default()
        };
        let mut b = a.clone();
        for i in 0..50 {
            a.tags.insert(format!("k{i}"), format!("v{i}"));
        }
        for i in (0..50).rev() {
            b.tags.insert(format!("k{i}"), format!("v{i}"));
        }
        let mut fa = v1::Account {
            account_id: "a".into(),
            tags: a.tags.clone(),
            ..Default::default()
        };
        let mut fb = v1::Account {
            account_id: "a".into(),
            tags: b.tags.clone(),
            ..Default::default()
        };
        assert_eq!(encode(&mut a), encode(&mut b));
        let bytes = encode(&mut fa);
        assert_eq!(bytes, encode(&mut fb));
        let back: v1::Account = decode("accounts", &bytes).unwrap();
        assert_eq!(back, fa);
        let back: v1::Resource = decode("resources", &encode(&mut a)).unwrap();
        assert_eq!(back, a);
    }

    #[test]
    fn unknown_record_versions_are_corrupt_not_misread() {
        let mut bytes = encode(&mut v1::SuppressionRule {
            name: "x".into(),
            ..Default::default()
        });
        bytes[0] = 2;
        assert!(matches!(
            decode::<v1::SuppressionRule>("rules", &bytes),
            Err(Error::Corrupt { .. })
        ));
    }
}
