//! The byte form of everything Raft persists or sends: a format version byte, then postcard.
//! Both the stored records (log entries, vote, snapshot metadata) and the payloads between
//! coordinators use it, so a future format change is one new version number that readers can
//! recognise instead of misreading.

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::{Error, Result};

/// The current format. A reader refuses any other version rather than guessing.
pub const FORMAT_VERSION: u8 = 1;

pub fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>> {
    let mut out = vec![FORMAT_VERSION];
    postcard::to_io(value, &mut out).map_err(|e| Error::Codec(format!("encoding {}: {e}", short_type_name::<T>())))?;
    Ok(out)
}

/// Decodes what [`encode`] wrote. Trailing bytes are an error: they mean the record is not what
/// its writer produced.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    let what = short_type_name::<T>();
    let Some((&version, body)) = bytes.split_first() else {
        return Err(Error::Codec(format!("decoding {what}: empty record")));
    };
    if version != FORMAT_VERSION {
        return Err(Error::Codec(format!(
            "decoding {what}: format version {version}, this build reads {FORMAT_VERSION}"
        )));
    }
    let (value, rest) = postcard::take_from_bytes(body).map_err(|e| Error::Codec(format!("decoding {what}: {e}")))?;
    if !rest.is_empty() {
        return Err(Error::Codec(format!("decoding {what}: {} trailing bytes", rest.len())));
    }
    Ok(value)
}

fn short_type_name<T: ?Sized>() -> &'static str {
    let full = std::any::type_name::<T>();
    let base = full.split('<').next().unwrap_or(full);
    base.rsplit("::").next().unwrap_or(base)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_round_trips_and_carries_its_version() {
        let bytes = encode(&(7u64, "seven".to_string())).unwrap();
        assert_eq!(bytes[0], FORMAT_VERSION);
        let back: (u64, String) = decode(&bytes).unwrap();
        assert_eq!(back, (7, "seven".to_string()));
    }

    #[test]
    fn an_unknown_version_empty_input_or_trailing_bytes_are_refused() {
        let mut bytes = encode(&42u32).unwrap();
        assert!(decode::<u32>(&[]).is_err());
        bytes.push(0);
        assert!(decode::<u32>(&bytes).is_err());
        bytes.pop();
        bytes[0] = FORMAT_VERSION + 1;
        let err = decode::<u32>(&bytes).unwrap_err().to_string();
        assert!(err.contains("format version"), "{err}");
    }
}
