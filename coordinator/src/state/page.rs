//! Page tokens and page sizes. A token is opaque to clients: hex of a version byte, a
//! fingerprint of the query it belongs to (so a token from another query is refused rather than
//! silently skipping rows), and the position after which the next page starts.

use sha2::{Digest, Sha256};

use super::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE};
use crate::error::{Error, Result};

const TOKEN_VERSION: u8 = 1;

/// Entries in one page: the default when unset; more than [`MAX_PAGE_SIZE`] is refused.
pub fn size(requested: u32) -> Result<usize> {
    match requested as usize {
        0 => Ok(DEFAULT_PAGE_SIZE),
        n if n > MAX_PAGE_SIZE => Err(Error::InvalidArgument(format!(
            "page_size: {n}, at most {MAX_PAGE_SIZE}"
        ))),
        n => Ok(n),
    }
}

/// What a token must match: a query kind and everything in the request that changes the order
/// or the membership of the result (not the page size).
pub fn fingerprint(kind: &str, parts: &[&[u8]]) -> [u8; 8] {
    let mut h = Sha256::new();
    h.update(kind.as_bytes());
    for p in parts {
        h.update((p.len() as u64).to_be_bytes());
        h.update(p);
    }
    h.finalize()[..8].try_into().expect("8 bytes")
}

pub struct TokenWriter(Vec<u8>);

impl TokenWriter {
    pub fn new(fingerprint: [u8; 8]) -> Self {
        let mut buf = vec![TOKEN_VERSION];
        buf.extend_from_slice(&fingerprint);
        Self(buf)
    }

    pub fn u8(mut self, v: u8) -> Self {
        self.0.push(v);
        self
    }

    pub fn u64(mut self, v: u64) -> Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }

    pub fn i64(self, v: i64) -> Self {
        self.u64(v as u64)
    }

    pub fn bytes(mut self, v: &[u8]) -> Self {
        self.0.extend_from_slice(&(v.len() as u32).to_be_bytes());
        self.0.extend_from_slice(v);
        self
    }

    pub fn finish(self) -> String {
        hex::encode(self.0)
    }
}

pub struct TokenReader {
    buf: Vec<u8>,
    at: usize,
}

fn malformed() -> Error {
    Error::InvalidArgument("page_token: malformed".into())
}

impl TokenReader {
    /// `None` for an empty token (the first page).
    pub fn open(token: &str, fingerprint: [u8; 8]) -> Result<Option<Self>> {
        if token.is_empty() {
            return Ok(None);
        }
        let buf = hex::decode(token).map_err(|_| malformed())?;
        if buf.len() < 9 || buf[0] != TOKEN_VERSION {
            return Err(malformed());
        }
        if buf[1..9] != fingerprint {
            return Err(Error::InvalidArgument(
                "page_token: belongs to a different query (filter, sort or list changed)".into(),
            ));
        }
        Ok(Some(Self { buf, at: 9 }))
    }

    fn take(&mut self, n: usize) -> Result<&[u8]> {
        let end = self
            .at
            .checked_add(n)
            .filter(|e| *e <= self.buf.len())
            .ok_or_else(malformed)?;
        let s = &self.buf[self.at..end];
        self.at = end;
        Ok(s)
    }

    pub fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }

    pub fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_be_bytes(self.take(8)?.try_into().expect("8 bytes")))
    }

    pub fn i64(&mut self) -> Result<i64> {
        Ok(self.u64()? as i64)
    }

    pub fn bytes(&mut self) -> Result<Vec<u8>> {
        let len = u32::from_be_bytes(self.take(4)?.try_into().expect("4 bytes")) as usize;
        Ok(self.take(len)?.to_vec())
    }

    pub fn string(&mut self) -> Result<String> {
        String::from_utf8(self.bytes()?).map_err(|_| malformed())
    }

    /// Fails unless every byte was read: a token is exactly what its writer wrote.
    pub fn finish(self) -> Result<()> {
        if self.at != self.buf.len() {
            return Err(malformed());
        }
        Ok(())
    }
}
