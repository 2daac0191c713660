//! The snapshot file format (version [`FORMAT`]):
//! - header: the magic `ARGUSSNP`, the format as u32 LE, the length of the encoded
//!   `SnapshotMeta` as u32 LE, then the meta (`codec`, version byte + postcard);
//! - body: one zstd frame of records — `CF name` opens a column family's section, `KV key value`
//!   is one record of it, `END count` closes the stream;
//! - trailer: SHA-256 of header and body.

use std::fs::{File, OpenOptions};
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::Path;

use sha2::{Digest, Sha256};

use super::Meta;
use crate::error::{Error, Result};
use crate::raft::codec;
use crate::state;

pub const MAGIC: &[u8; 8] = b"ARGUSSNP";
pub const FORMAT: u32 = 1;
const TAG_CF: u8 = 1;
const TAG_KV: u8 = 2;
const TAG_END: u8 = 3;
const DIGEST_LEN: u64 = 32;
const MAX_META_LEN: u32 = 16 << 20;
const ZSTD_LEVEL: i32 = 3;

pub(super) fn open(path: &Path) -> Result<File> {
    File::open(path).map_err(|e| Error::io(path, e))
}

pub(super) fn corrupt(detail: impl Into<String>) -> Error {
    Error::Corrupt {
        cf: "snapshot",
        detail: detail.into(),
    }
}

/// Hashes everything written through it.
struct HashWriter<W> {
    inner: W,
    hasher: Sha256,
}

impl<W: Write> Write for HashWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Hashes everything read through it.
struct HashReader<R> {
    inner: R,
    hasher: Sha256,
}

impl<R: Read> Read for HashReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

/// The record stream of a snapshot file being written.
pub(super) struct RecordWriter {
    out: zstd::stream::write::Encoder<'static, HashWriter<BufWriter<File>>>,
    records: u64,
}

impl RecordWriter {
    /// Starts the section of column family `name`; the records after it belong to it.
    pub fn column_family(&mut self, name: &str) -> Result<()> {
        let len = u8::try_from(name.len()).map_err(|_| corrupt(format!("column family name {name} too long")))?;
        self.out.write_all(&[TAG_CF, len]).map_err(io_err)?;
        self.out.write_all(name.as_bytes()).map_err(io_err)
    }

    pub fn record(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        let len = |b: &[u8]| u32::try_from(b.len()).map_err(|_| corrupt(format!("record of {} bytes", b.len())));
        self.out.write_all(&[TAG_KV]).map_err(io_err)?;
        self.out.write_all(&len(key)?.to_le_bytes()).map_err(io_err)?;
        self.out.write_all(key).map_err(io_err)?;
        self.out.write_all(&len(value)?.to_le_bytes()).map_err(io_err)?;
        self.out.write_all(value).map_err(io_err)?;
        self.records += 1;
        Ok(())
    }
}

fn io_err(e: io::Error) -> Error {
    Error::Raft(format!("writing a snapshot: {e}"))
}

/// Writes a complete snapshot file at `path` (fsynced); `body` writes the records. Returns how
/// many records it wrote.
pub(super) fn write_file(path: &Path, meta: &Meta, body: impl FnOnce(&mut RecordWriter) -> Result<()>) -> Result<u64> {
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| Error::io(path, e))?;
    let mut out = HashWriter {
        inner: BufWriter::with_capacity(1 << 20, file),
        hasher: Sha256::new(),
    };
    let meta_bytes = codec::encode(meta)?;
    let meta_len = u32::try_from(meta_bytes.len()).map_err(|_| corrupt("snapshot meta too large"))?;
    let header = (|| {
        out.write_all(MAGIC)?;
        out.write_all(&FORMAT.to_le_bytes())?;
        out.write_all(&meta_len.to_le_bytes())?;
        out.write_all(&meta_bytes)
    })();
    header.map_err(|e| Error::io(path, e))?;
    let out = zstd::stream::write::Encoder::new(out, ZSTD_LEVEL).map_err(|e| Error::io(path, e))?;
    let mut writer = RecordWriter { out, records: 0 };
    body(&mut writer)?;
    let RecordWriter { mut out, records } = writer;
    out.write_all(&[TAG_END]).map_err(|e| Error::io(path, e))?;
    out.write_all(&records.to_le_bytes()).map_err(|e| Error::io(path, e))?;
    let out = out.finish().map_err(|e| Error::io(path, e))?;
    let digest = out.hasher.finalize();
    let mut buffered = out.inner;
    buffered.write_all(&digest).map_err(|e| Error::io(path, e))?;
    let file = buffered.into_inner().map_err(|e| Error::io(path, e.into_error()))?;
    file.sync_all().map_err(|e| Error::io(path, e))?;
    Ok(records)
}

pub(super) fn read_header(input: &mut impl Read) -> Result<Meta> {
    let mut fixed = [0u8; 16];
    input.read_exact(&mut fixed).map_err(|_| corrupt("truncated header"))?;
    if &fixed[..8] != MAGIC {
        return Err(corrupt("not an argus snapshot (bad magic)"));
    }
    let format = u32::from_le_bytes(fixed[8..12].try_into().expect("4 bytes"));
    if format != FORMAT {
        return Err(corrupt(format!("snapshot format {format}, this build reads {FORMAT}")));
    }
    let meta_len = u32::from_le_bytes(fixed[12..16].try_into().expect("4 bytes"));
    if meta_len > MAX_META_LEN {
        return Err(corrupt(format!("snapshot meta of {meta_len} bytes")));
    }
    let mut meta = vec![0u8; meta_len as usize];
    input.read_exact(&mut meta).map_err(|_| corrupt("truncated header"))?;
    codec::decode(&meta)
}

/// Checks a whole snapshot file (structure and checksum) without changing anything; returns its
/// metadata.
pub(super) fn verify_file(path: &Path) -> Result<Meta> {
    read_file(path, |_, _, _| Ok(()))
}

/// Streams the records of the snapshot at `path` into `on_record(column family, key, value)`,
/// then checks the trailing checksum. Any malformation is an error.
pub(super) fn read_file(
    path: &Path,
    mut on_record: impl FnMut(&'static str, &[u8], &[u8]) -> Result<()>,
) -> Result<Meta> {
    let file = open(path)?;
    let len = file.metadata().map_err(|e| Error::io(path, e))?.len();
    if len < 16 + DIGEST_LEN {
        return Err(corrupt(format!("{}: truncated ({len} bytes)", path.display())));
    }
    let mut input = HashReader {
        inner: BufReader::with_capacity(1 << 20, file).take(len - DIGEST_LEN),
        hasher: Sha256::new(),
    };
    let meta = read_header(&mut input)?;
    let mut records = zstd::stream::read::Decoder::new(input).map_err(|e| Error::io(path, e))?;
    let mut current: Option<&'static str> = None;
    let mut count = 0u64;
    let (mut key, mut value) = (Vec::new(), Vec::new());
    loop {
        let mut tag = [0u8; 1];
        records
            .read_exact(&mut tag)
            .map_err(|e| corrupt(format!("records: {e}")))?;
        match tag[0] {
            TAG_CF => {
                let mut len = [0u8; 1];
                records
                    .read_exact(&mut len)
                    .map_err(|e| corrupt(format!("records: {e}")))?;
                let name = read_exact_vec(&mut records, len[0] as u64)?;
                let known = state::COLUMN_FAMILIES
                    .iter()
                    .find(|cf| cf.as_bytes() == name.as_slice());
                current =
                    Some(*known.ok_or_else(|| {
                        corrupt(format!("unknown column family {:?}", String::from_utf8_lossy(&name)))
                    })?);
            }
            TAG_KV => {
                let name = current.ok_or_else(|| corrupt("record before any column family"))?;
                read_len_prefixed(&mut records, &mut key)?;
                read_len_prefixed(&mut records, &mut value)?;
                on_record(name, &key, &value)?;
                count += 1;
            }
            TAG_END => {
                let mut n = [0u8; 8];
                records
                    .read_exact(&mut n)
                    .map_err(|e| corrupt(format!("records: {e}")))?;
                if u64::from_le_bytes(n) != count {
                    return Err(corrupt(format!(
                        "{count} records, the stream says {}",
                        u64::from_le_bytes(n)
                    )));
                }
                break;
            }
            other => return Err(corrupt(format!("unknown record tag {other}"))),
        }
    }
    let mut extra = [0u8; 1];
    match records.read(&mut extra) {
        Ok(0) => {}
        Ok(_) => return Err(corrupt("data after the end record")),
        Err(e) => return Err(corrupt(format!("records: {e}"))),
    }
    let mut rest = records.finish();
    io::copy(&mut rest, &mut io::sink()).map_err(|e| Error::io(path, e))?;
    let HashReader { inner, hasher } = rest.into_inner();
    let mut trailer = [0u8; DIGEST_LEN as usize];
    inner
        .into_inner()
        .read_exact(&mut trailer)
        .map_err(|_| corrupt("truncated checksum"))?;
    if hasher.finalize().as_slice() != trailer {
        return Err(corrupt(format!("{}: checksum mismatch", path.display())));
    }
    Ok(meta)
}

/// Reads exactly `len` bytes, allocating only as data arrives (a corrupt length cannot make it
/// reserve gigabytes up front).
fn read_exact_vec(input: &mut impl Read, len: u64) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    read_exact_into(input, len, &mut out)?;
    Ok(out)
}

fn read_exact_into(input: &mut impl Read, len: u64, out: &mut Vec<u8>) -> Result<()> {
    out.clear();
    input
        .take(len)
        .read_to_end(out)
        .map_err(|e| corrupt(format!("records: {e}")))?;
    if out.len() as u64 != len {
        return Err(corrupt("truncated record"));
    }
    Ok(())
}

fn read_len_prefixed(input: &mut impl Read, out: &mut Vec<u8>) -> Result<()> {
    let mut len = [0u8; 4];
    input
        .read_exact(&mut len)
        .map_err(|e| corrupt(format!("records: {e}")))?;
    read_exact_into(input, u32::from_le_bytes(len) as u64, out)
}
