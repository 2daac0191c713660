//! One image layer: a tar stream, plain or gzip- or zstd-compressed, applied on top of the
//! layers below it with OCI whiteouts.

use std::io::{self, BufRead, BufReader, Read};

use sha2::{Digest, Sha256};

use super::{FileSet, Progress};
use crate::fileset::EntryKind;
use crate::{Error, Result};

const WHITEOUT_PREFIX: &str = ".wh.";
const OPAQUE_MARKER: &str = ".wh..wh..opq";

/// Counts and hashes what passes through, so a blob's digest is checked as it streams.
pub struct DigestReader<'p, R> {
    inner: R,
    hasher: Sha256,
    bytes: u64,
    progress: &'p dyn Progress,
}

impl<'p, R: Read> DigestReader<'p, R> {
    pub fn new(inner: R, progress: &'p dyn Progress) -> Self {
        Self {
            inner,
            hasher: Sha256::new(),
            bytes: 0,
            progress,
        }
    }

    /// Reads what is left and returns `sha256:<hex>` of everything read.
    pub fn finish(mut self) -> io::Result<(String, u64)> {
        io::copy(&mut self, &mut io::sink())?;
        Ok((format!("sha256:{}", hex::encode(self.hasher.finalize())), self.bytes))
    }
}

impl<R: Read> Read for DigestReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        self.progress.advance(n as u64);
        Ok(n)
    }
}

/// Fails once more than `remaining` bytes have been read: the guard against decompression
/// bombs, shared by every layer of one artifact.
pub struct Budget<'b, R> {
    inner: R,
    remaining: &'b mut u64,
}

impl<'b, R: Read> Budget<'b, R> {
    pub fn new(inner: R, remaining: &'b mut u64) -> Self {
        Self { inner, remaining }
    }
}

impl<R: Read> Read for Budget<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n as u64 > *self.remaining {
            return Err(io::Error::other(
                "uncompressed size exceeds the configured limit (decompression bomb?)",
            ));
        }
        *self.remaining -= n as u64;
        Ok(n)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

/// Tells the compression from the stream's first bytes; media types lie often enough
/// (`docker save` writes uncompressed layers under gzip names) that the bytes decide.
pub fn sniff(head: &[u8]) -> Compression {
    if head.starts_with(&[0x1f, 0x8b]) {
        Compression::Gzip
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Compression::Zstd
    } else {
        Compression::None
    }
}

/// Applies one layer blob. `expected_digest`, when given, is checked after the whole blob has
/// been read; a mismatch fails the scan (the registry or the archive handed us other bytes).
pub fn apply(
    files: &mut FileSet<'_>,
    blob: impl Read,
    layer_name: &str,
    expected_digest: Option<&str>,
    budget: &mut u64,
    progress: &dyn Progress,
) -> Result<()> {
    let artifact = files.artifact().to_string();
    let mut digest_reader = DigestReader::new(blob, progress);
    {
        let mut buffered = BufReader::with_capacity(256 << 10, &mut digest_reader);
        let head = buffered
            .fill_buf()
            .map_err(|e| Error::malformed(&artifact, format!("layer {layer_name}: {e}")))?;
        let compression = sniff(head);
        let result = match compression {
            Compression::Gzip => read_tar(
                files,
                Budget::new(flate2::bufread::MultiGzDecoder::new(buffered), budget),
                layer_name,
            ),
            Compression::Zstd => {
                let dec = zstd::stream::read::Decoder::with_buffer(buffered)
                    .map_err(|e| Error::malformed(&artifact, format!("layer {layer_name}: zstd: {e}")))?;
                read_tar(files, Budget::new(dec, budget), layer_name)
            }
            Compression::None => read_tar(files, Budget::new(buffered, budget), layer_name),
        };
        result?;
    }
    let (digest, _) = digest_reader
        .finish()
        .map_err(|e| Error::malformed(&artifact, format!("layer {layer_name}: {e}")))?;
    if let Some(expected) = expected_digest {
        if expected.starts_with("sha256:") && digest != expected {
            return Err(Error::malformed(
                &artifact,
                format!("layer {layer_name}: digest is {digest}, expected {expected}"),
            ));
        }
    }
    Ok(())
}

fn read_tar<R: Read>(files: &mut FileSet<'_>, reader: R, layer_name: &str) -> Result<()> {
    let artifact = files.artifact().to_string();
    let bad = |e: io::Error| Error::malformed(&artifact, format!("layer {layer_name}: {e}"));
    let mut archive = tar::Archive::new(reader);
    for entry in archive.entries().map_err(bad)? {
        let mut entry = entry.map_err(bad)?;
        let path_bytes = entry.path_bytes().into_owned();
        let path = String::from_utf8_lossy(&path_bytes).into_owned();
        let (dir, name) = match path.trim_end_matches('/').rsplit_once('/') {
            Some((d, n)) => (d.to_string(), n.to_string()),
            None => (String::new(), path.trim_end_matches('/').to_string()),
        };
        if name == OPAQUE_MARKER {
            files.count_entry()?;
            files.opaque(&dir);
            continue;
        }
        if let Some(hidden) = name.strip_prefix(WHITEOUT_PREFIX) {
            files.count_entry()?;
            files.whiteout(&format!("{dir}/{hidden}"));
            continue;
        }
        let header = entry.header();
        let ty = header.entry_type();
        let size = header.size().unwrap_or(0);
        if ty.is_hard_link() {
            let target = entry
                .link_name_bytes()
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default();
            files.offer_hardlink(&path, &target)?;
            continue;
        }
        let kind = if ty.is_file() || ty == tar::EntryType::Continuous {
            EntryKind::File {
                executable: header.mode().map(|m| m & 0o111 != 0).unwrap_or(false),
            }
        } else if ty.is_dir() {
            EntryKind::Dir
        } else if ty.is_symlink() {
            EntryKind::Symlink
        } else if ty.is_pax_global_extensions()
            || ty.is_pax_local_extensions()
            || ty.is_gnu_longname()
            || ty.is_gnu_longlink()
        {
            continue;
        } else {
            EntryKind::Other
        };
        let link = if kind == EntryKind::Symlink {
            entry
                .link_name_bytes()
                .map(|b| String::from_utf8_lossy(&b).into_owned())
        } else {
            None
        };
        files
            .offer(&path, kind, size, link.as_deref(), &mut entry)
            .map_err(|e| match e {
                Error::Malformed { artifact, message } => Error::Malformed {
                    artifact,
                    message: format!("layer {layer_name}: {message}"),
                },
                other => other,
            })?;
    }
    Ok(())
}
