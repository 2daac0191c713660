//! Go modules compiled into executables, from the build information the Go linker embeds
//! (`go version -m` shows the same): the Go release as the `stdlib` package, the main module
//! and every dependency module, with `=>` replacements applied.
//!
//! The artifact readers do not keep whole executables: [`probe`] streams each one and keeps only
//! the build-information blob, which the engine hands to [`GoBinary`] as the file's data.
//!
//! Blob layout (Go ≥ 1.18, "inline" format): a 32-byte header — the 14-byte magic, pointer size,
//! a flags byte (bit 0: big-endian, bit 1: strings inline) and 16 unused bytes — followed by two
//! strings, each an unsigned LEB128 varint length and the bytes: the Go version
//! (`go1.22.3`) and the module information. The go command frames the module information with
//! two fixed 16-byte markers. Older binaries store pointers into the data segment instead, which
//! a blob cut out of the file cannot follow; those are reported as unsupported.

use std::io::{self, Read};

use argus_proto::PackageManager;
use memchr::memmem;

use super::gomod::{go_release_semver, module_package, stdlib_package};
use super::{ExtractError, ExtractInput, ExtractOutput, ExtractResult, Extractor};

pub struct GoBinary;

impl Extractor for GoBinary {
    fn name(&self) -> &'static str {
        "gobinary"
    }

    /// Executables are recognized by their content, not their path: the engine runs [`probe`]
    /// on them and feeds this extractor the blobs it returns.
    fn wants(&self, _path: &str) -> bool {
        false
    }

    fn extract(&self, input: &ExtractInput<'_>) -> ExtractResult {
        let info = parse_build_info(input.data).map_err(ExtractError::new)?;
        let mut out = ExtractOutput {
            packages: Vec::new(),
            warnings: info.warnings,
        };
        let pm = PackageManager::Gobinary;

        match stdlib_from_go_version(&info.go_version) {
            Ok(v) => out.packages.push(stdlib_package(&v, input.path, pm)),
            Err(w) => out.warnings.push(w),
        }
        if let Some(main) = &info.main {
            // A main module built from a checkout has no release version; only one installed
            // with `go install module@version` names what it is.
            if !main.version.is_empty() && main.version != DEVEL {
                out.packages
                    .push(module_package(&main.path, &main.version, input.path, pm));
            }
        }
        for dep in &info.deps {
            let (path, version) = match &dep.replace {
                Some(r) => (&r.path, &r.version),
                None => (&dep.path, &dep.version),
            };
            // A dependency replaced by a local directory, or built from a workspace or vendored
            // staging tree (`(devel)`, as kubectl's k8s.io modules are), is the project's own
            // source, not a published module version any advisory could name.
            if version.is_empty() || version == DEVEL {
                if dep.replace.is_none() && version.is_empty() {
                    out.warnings.push(format!("module {path} has no version; skipped"));
                }
                continue;
            }
            out.packages.push(module_package(path, version, input.path, pm));
        }
        Ok(out)
    }
}

/// The magic that starts Go build information.
const MAGIC: &[u8] = b"\xff Go buildinf:";
/// Markers the go command puts around the module information.
const MODINFO_START: [u8; 16] = [
    0x30, 0x77, 0xaf, 0x0c, 0x92, 0x74, 0x08, 0x02, 0x41, 0xe1, 0xc1, 0x07, 0xe6, 0xd6, 0x18, 0xe6,
];
const MODINFO_END: [u8; 16] = [
    0xf9, 0x32, 0x43, 0x31, 0x86, 0x18, 0x20, 0x72, 0x00, 0x82, 0x42, 0x10, 0x41, 0x16, 0xd8, 0xf2,
];
const HEADER_LEN: usize = 32;
const FLAG_INLINE: u8 = 0x2;
/// Bytes read from the executable per step of the scan.
const CHUNK: usize = 256 << 10;
/// Largest blob kept: real build information is a few KiB even for large programs.
const MAX_BLOB: usize = 1 << 20;
/// Longest unsigned LEB128 encoding of a 64-bit value.
const MAX_VARINT_LEN: usize = 10;
/// What the go command writes as the version of a module built from a directory.
const DEVEL: &str = "(devel)";
/// Malformed module lines reported one by one before the rest are only counted.
const MAX_LINE_WARNINGS: usize = 20;

/// Scans an executable for Go build information and returns the blob starting at the magic:
/// the header and, for the inline format, both strings (at most 1 MiB); for the older pointer
/// format the header alone, which [`GoBinary`] reports as unsupported. Reads at most `limit`
/// bytes; `Ok(None)` when no build information was found in them. What this function leaves
/// unread in `r` is unspecified.
pub fn probe<R: Read>(r: R, limit: u64) -> io::Result<Option<Vec<u8>>> {
    let finder = memmem::Finder::new(MAGIC);
    let mut src = Source {
        r,
        remaining: limit,
        eof: false,
    };
    let mut buf: Vec<u8> = Vec::with_capacity(CHUNK);
    src.fill(&mut buf, CHUNK)?;
    // Magic matches can only start at or after `from`; everything before it has been searched.
    let mut from = 0;
    loop {
        let Some(rel) = buf.get(from..).and_then(|b| finder.find(b)) else {
            if src.eof {
                return Ok(None);
            }
            // Keep one magic length minus one, so a magic cut by the chunk boundary is found
            // once the next chunk is in.
            let keep_from = buf.len().saturating_sub(MAGIC.len() - 1).max(from).min(buf.len());
            buf.drain(..keep_from);
            from = 0;
            let target = buf.len().saturating_add(CHUNK);
            src.fill(&mut buf, target)?;
            continue;
        };
        let at = from + rel;
        src.fill(&mut buf, at.saturating_add(HEADER_LEN))?;
        let candidate = buf.get(at..).unwrap_or_default();
        match candidate.get(..16) {
            // The magic at the very end of the readable bytes: hand over what there is, the
            // extractor reports the truncation.
            None => return Ok(Some(candidate.to_vec())),
            Some(h) if !plausible_header(h) => {
                // The magic string also occurs as a constant in programs that read build
                // information themselves; only the real header is followed by sane fields.
                from = at + 1;
                continue;
            }
            Some(h) if h.get(15).is_some_and(|f| f & FLAG_INLINE == 0) => {
                let end = at.saturating_add(HEADER_LEN).min(buf.len());
                return Ok(Some(buf.get(at..end).unwrap_or_default().to_vec()));
            }
            Some(_) => {}
        }
        let blob_len = inline_blob_len(&mut src, &mut buf, at)?;
        let end = at.saturating_add(blob_len).min(buf.len());
        return Ok(Some(buf.get(at..end).unwrap_or_default().to_vec()));
    }
}

/// Pointer size 4 or 8 and no flag bits beyond the two Go defines.
fn plausible_header(h: &[u8]) -> bool {
    matches!(h.get(14), Some(4 | 8)) && h.get(15).is_some_and(|f| f & !0x3 == 0)
}

/// Length of the inline-format blob starting at `buf[at]`, reading more of the executable as
/// the varint lengths require; capped at [`MAX_BLOB`]. When a length is malformed the blob ends
/// where the reading stopped, and the extractor reports the problem.
fn inline_blob_len<R: Read>(src: &mut Source<R>, buf: &mut Vec<u8>, at: usize) -> io::Result<usize> {
    let mut end = HEADER_LEN;
    for _ in 0..2 {
        src.fill(buf, at.saturating_add(end.saturating_add(MAX_VARINT_LEN).min(MAX_BLOB)))?;
        let avail = buf.get(at.saturating_add(end)..).unwrap_or_default();
        let Ok((len, n)) = uvarint(avail) else {
            return Ok(end.saturating_add(MAX_VARINT_LEN).min(MAX_BLOB));
        };
        end = end
            .saturating_add(n)
            .saturating_add(usize::try_from(len).unwrap_or(usize::MAX))
            .min(MAX_BLOB);
        src.fill(buf, at.saturating_add(end))?;
    }
    Ok(end)
}

/// A reader with a byte budget.
struct Source<R> {
    r: R,
    remaining: u64,
    eof: bool,
}

impl<R: Read> Source<R> {
    /// Reads until `buf` holds `len` bytes, the input ends or the budget is spent.
    fn fill(&mut self, buf: &mut Vec<u8>, len: usize) -> io::Result<()> {
        while buf.len() < len && !self.eof {
            let room = (len - buf.len()).min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
            if room == 0 {
                self.eof = true;
                break;
            }
            let old = buf.len();
            buf.resize(old + room, 0);
            let res = self.r.read(buf.get_mut(old..).unwrap_or_default());
            match res {
                Ok(0) => {
                    buf.truncate(old);
                    self.eof = true;
                }
                Ok(n) => {
                    let n = n.min(room);
                    buf.truncate(old + n);
                    self.remaining = self.remaining.saturating_sub(n as u64);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => buf.truncate(old),
                Err(e) => {
                    buf.truncate(old);
                    return Err(e);
                }
            }
        }
        Ok(())
    }
}

#[derive(Debug, PartialEq, Eq)]
enum VarintError {
    Truncated,
    Overflow,
}

/// Decodes an unsigned LEB128 varint: the value and the bytes it took.
fn uvarint(data: &[u8]) -> Result<(u64, usize), VarintError> {
    let mut value: u64 = 0;
    for (i, &b) in data.iter().enumerate().take(MAX_VARINT_LEN) {
        let bits = u64::from(b & 0x7f);
        // The tenth byte may only carry the single remaining bit of a 64-bit value.
        if i == MAX_VARINT_LEN - 1 && b > 1 {
            return Err(VarintError::Overflow);
        }
        value |= bits << (7 * i);
        if b & 0x80 == 0 {
            return Ok((value, i + 1));
        }
    }
    if data.len() >= MAX_VARINT_LEN {
        Err(VarintError::Overflow)
    } else {
        Err(VarintError::Truncated)
    }
}

/// One length-prefixed string: its bytes and what follows it.
fn read_string(data: &[u8]) -> Result<(&[u8], &[u8]), String> {
    let (len, n) = uvarint(data).map_err(|e| match e {
        VarintError::Truncated => "length is truncated".to_string(),
        VarintError::Overflow => "length varint overflows".to_string(),
    })?;
    let rest = data.get(n..).unwrap_or_default();
    let len = usize::try_from(len).ok().filter(|&l| l <= rest.len()).ok_or_else(|| {
        format!(
            "length {len} runs past the end of the build information ({} bytes left)",
            rest.len()
        )
    })?;
    Ok(rest.split_at(len))
}

#[derive(Debug, Default, PartialEq, Eq)]
struct Module {
    path: String,
    version: String,
    replace: Option<Box<Module>>,
}

#[derive(Debug, Default)]
struct BuildInfo {
    go_version: String,
    /// The main module as recorded, `(devel)` included.
    main: Option<Module>,
    deps: Vec<Module>,
    warnings: Vec<String>,
}

/// Parses a blob found by [`probe`]. An error means nothing usable was found (not build
/// information, old format, Go version unreadable); problems in the module information are
/// warnings.
fn parse_build_info(blob: &[u8]) -> Result<BuildInfo, String> {
    if !blob.starts_with(MAGIC) {
        return Err("no go build information".into());
    }
    let flags = *blob.get(15).ok_or("go build info header is truncated")?;
    if flags & FLAG_INLINE == 0 {
        return Err("go build info in pre-1.18 format is not supported".into());
    }
    let body = blob.get(HEADER_LEN..).ok_or("go build info header is truncated")?;
    let (version, rest) = read_string(body).map_err(|e| format!("go version in build info: {e}"))?;
    let mut info = BuildInfo {
        go_version: std::str::from_utf8(version)
            .map_err(|_| "go version in build info is not valid UTF-8")?
            .to_string(),
        ..BuildInfo::default()
    };
    match read_string(rest) {
        Ok((modinfo, _)) => parse_modinfo(unframe(modinfo), &mut info),
        Err(e) => info.warnings.push(format!("module information in build info: {e}")),
    }
    Ok(info)
}

/// Strips the go command's markers around the module information. Besides the exact markers,
/// Go's own reader accepts any framing whose last line ends right before the end marker, so that
/// is accepted too; text without framing is read as it is.
fn unframe(m: &[u8]) -> &[u8] {
    let len = m.len();
    let exact = len >= 32 && m.starts_with(&MODINFO_START) && m.ends_with(&MODINFO_END);
    let go_rule = len >= 33 && m.get(len - 17) == Some(&b'\n');
    if exact || go_rule {
        m.get(16..len - 16).unwrap_or_default()
    } else {
        m
    }
}

fn parse_modinfo(text: &[u8], info: &mut BuildInfo) {
    let text = match std::str::from_utf8(text) {
        Ok(t) => std::borrow::Cow::Borrowed(t),
        Err(_) => {
            info.warnings.push("module information is not valid UTF-8".into());
            String::from_utf8_lossy(text)
        }
    };
    let mut malformed = 0usize;
    let mut bad = |info: &mut BuildInfo, msg: String| {
        malformed += 1;
        if malformed <= MAX_LINE_WARNINGS {
            info.warnings.push(msg);
        }
    };
    // Whether the previous line was a `dep`, the only thing a `=>` line can replace.
    let mut after_dep = false;
    for (idx, line) in text.lines().enumerate() {
        let lineno = idx + 1;
        let mut fields = line.split('\t');
        let kind = fields.next().unwrap_or("");
        let path = fields.next().unwrap_or("").to_string();
        let version = fields.next().unwrap_or("").to_string();
        let was_dep = std::mem::replace(&mut after_dep, false);
        match kind {
            "" if line.trim().is_empty() => {}
            "path" | "build" => {}
            "mod" if !path.is_empty() => {
                info.main = Some(Module {
                    path,
                    version,
                    replace: None,
                })
            }
            "dep" if !path.is_empty() => {
                info.deps.push(Module {
                    path,
                    version,
                    replace: None,
                });
                after_dep = true;
            }
            "=>" if was_dep && !path.is_empty() => {
                if let Some(dep) = info.deps.last_mut() {
                    dep.replace = Some(Box::new(Module {
                        path,
                        version,
                        replace: None,
                    }));
                }
            }
            "=>" if !path.is_empty() => bad(info, format!("module line {lineno}: replacement without a dependency")),
            _ => bad(info, format!("module line {lineno}: malformed")),
        }
    }
    if malformed > MAX_LINE_WARNINGS {
        info.warnings
            .push(format!("{} more malformed module lines", malformed - MAX_LINE_WARNINGS));
    }
}

/// The OSV `stdlib` version for a build-information Go version (`go1.22.3`,
/// `go1.22.3 X:boringcrypto`, `go1.21.3-corp`).
fn stdlib_from_go_version(v: &str) -> Result<String, String> {
    if v.is_empty() {
        return Err("build info records no go version".into());
    }
    if v.starts_with("devel") {
        return Err(format!(
            "built by a development go toolchain ({v}); stdlib not reported"
        ));
    }
    let token = v.split_whitespace().next().unwrap_or("");
    token
        .strip_prefix("go")
        .map(|r| r.split(['-', '+']).next().unwrap_or(r))
        .and_then(go_release_semver)
        .ok_or_else(|| format!("unrecognized go version {v:?}; stdlib not reported"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Limits;
    use argus_proto::Ecosystem;

    fn varint(mut v: u64) -> Vec<u8> {
        let mut out = Vec::new();
        loop {
            let b = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                out.push(b);
                return out;
            }
            out.push(b | 0x80);
        }
    }

    fn header(flags: u8) -> Vec<u8> {
        let mut h = MAGIC.to_vec();
        h.push(8);
        h.push(flags);
        h.resize(HEADER_LEN, 0);
        h
    }

    fn framed(modinfo: &str) -> Vec<u8> {
        let mut m = MODINFO_START.to_vec();
        m.extend_from_slice(modinfo.as_bytes());
        m.extend_from_slice(&MODINFO_END);
        m
    }

    fn blob(version: &str, modinfo: &[u8]) -> Vec<u8> {
        let mut b = header(FLAG_INLINE);
        b.extend(varint(version.len() as u64));
        b.extend_from_slice(version.as_bytes());
        b.extend(varint(modinfo.len() as u64));
        b.extend_from_slice(modinfo);
        b
    }

    const MODINFO: &str = "path\texample.com/cmd/server\n\
        mod\texample.com/server\t(devel)\t\n\
        dep\tgithub.com/google/uuid\tv1.6.0\th1:NIvaJDMOsjHA8n1jAhLSgzrAzy1Hgr+hNrb57e+94F0=\n\
        dep\tgolang.org/x/net\tv0.20.0\th1:aCL9BSgETF1k+blQaYUBx9hJ9LOGP3gAVemcZlf1Kpo=\n\
        =>\tgithub.com/corp/net-fork\tv0.20.1\th1:deadbeef=\n\
        dep\texample.com/internal/lib\tv0.0.0-00010101000000-000000000000\t\n\
        =>\t../lib\t\t\n\
        build\t-compiler=gc\n\
        build\tCGO_ENABLED=0\n\
        build\tGOOS=linux\n";

    /// A fake ELF executable of more than two chunks with `payload` starting at an odd offset
    /// that straddles the first chunk boundary.
    fn fake_elf(payload: &[u8]) -> (Vec<u8>, usize) {
        let at = CHUNK - 5;
        let mut exe = b"\x7fELF\x02\x01\x01\0".to_vec();
        exe.resize(at, 0x90);
        exe.extend_from_slice(payload);
        exe.resize(2 * CHUNK + 4097, 0xcc);
        (exe, at)
    }

    fn extract(data: &[u8]) -> ExtractResult {
        let limits = Limits::default();
        GoBinary.extract(&ExtractInput {
            path: "/usr/local/bin/server",
            data,
            os: None,
            limits: &limits,
        })
    }

    fn nv(out: &ExtractOutput) -> Vec<(&str, &str)> {
        out.packages
            .iter()
            .map(|p| (p.name.as_str(), p.version.as_str()))
            .collect()
    }

    /// Hands out at most `step` bytes per read, to exercise the refilling.
    struct Dribble<'a> {
        data: &'a [u8],
        step: usize,
    }

    impl Read for Dribble<'_> {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            let n = self.step.min(out.len()).min(self.data.len());
            out[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    #[test]
    fn probe_finds_build_info_straddling_a_chunk_boundary_and_keeps_only_the_blob() {
        let b = blob("go1.22.3", &framed(MODINFO));
        let (exe, at) = fake_elf(&b);
        assert!(
            at < CHUNK && at + MAGIC.len() > CHUNK,
            "magic must straddle the boundary"
        );
        assert_eq!(at % 2, 1);
        let found = probe(exe.as_slice(), u64::MAX)
            .expect("reads")
            .expect("finds build info");
        assert_eq!(found, b);
        let found = probe(Dribble { data: &exe, step: 4093 }, u64::MAX)
            .expect("reads")
            .expect("finds");
        assert_eq!(found, b);
    }

    #[test]
    fn probed_blob_yields_stdlib_main_dependencies_and_replacements() {
        let (exe, _) = fake_elf(&blob("go1.22.3", &framed(MODINFO)));
        let found = probe(exe.as_slice(), u64::MAX).expect("reads").expect("finds");
        let out = extract(&found).expect("extracts");
        assert!(out.warnings.is_empty(), "{:?}", out.warnings);
        assert_eq!(
            nv(&out),
            vec![
                ("stdlib", "1.22.3"),
                ("github.com/google/uuid", "1.6.0"),
                ("github.com/corp/net-fork", "0.20.1")
            ]
        );
        let uuid = &out.packages[1];
        assert_eq!(uuid.ecosystem, Ecosystem::go());
        assert_eq!(uuid.package_manager, PackageManager::Gobinary);
        assert_eq!(uuid.purl, "pkg:golang/github.com/google/uuid@v1.6.0");
        assert_eq!(uuid.file_path, "/usr/local/bin/server");
        assert_eq!(out.packages[0].purl, "pkg:golang/stdlib@1.22.3");
    }

    #[test]
    fn released_main_module_is_reported() {
        let m = "path\tgolang.org/x/tools/cmd/stringer\nmod\tgolang.org/x/tools\tv0.17.0\th1:abc=\n";
        let out = extract(&blob("go1.20", &framed(m))).expect("extracts");
        assert_eq!(nv(&out), vec![("stdlib", "1.20.0"), ("golang.org/x/tools", "0.17.0")]);
    }

    #[test]
    fn main_module_is_recorded_even_when_devel() {
        let info = parse_build_info(&blob("go1.22.3", &framed(MODINFO))).expect("parses");
        assert_eq!(
            info.main,
            Some(Module {
                path: "example.com/server".into(),
                version: "(devel)".into(),
                replace: None
            })
        );
        assert_eq!(info.deps.len(), 3);
    }

    #[test]
    fn probe_skips_a_decoy_magic_constant() {
        let real = blob("go1.21.6", &framed("mod\tx.org/m\tv1.0.0\t\n"));
        let mut payload = MAGIC.to_vec();
        payload.extend_from_slice(b"reading build info of %s\0");
        payload.extend_from_slice(&real);
        let (exe, _) = fake_elf(&payload);
        let found = probe(exe.as_slice(), u64::MAX).expect("reads").expect("finds");
        assert_eq!(found, real);
    }

    #[test]
    fn probe_reads_no_more_than_the_limit() {
        let (exe, at) = fake_elf(&blob("go1.22.3", &framed(MODINFO)));
        assert_eq!(probe(exe.as_slice(), at as u64 + 10).expect("reads"), None);
        assert_eq!(probe(exe.as_slice(), 0).expect("reads"), None);
    }

    #[test]
    fn probe_without_magic_finds_nothing() {
        let exe = vec![0x7f; 3 * CHUNK + 17];
        assert_eq!(probe(exe.as_slice(), u64::MAX).expect("reads"), None);
        assert_eq!(probe(&b"\x7fELF"[..], u64::MAX).expect("reads"), None);
    }

    #[test]
    fn probe_passes_io_errors_on() {
        struct Broken;
        impl Read for Broken {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Err(io::Error::other("disk on fire"))
            }
        }
        assert_eq!(probe(Broken, u64::MAX).expect_err("fails").to_string(), "disk on fire");
    }

    #[test]
    fn pointer_format_is_probed_but_reported_unsupported() {
        let mut old = header(0);
        old.extend_from_slice(&[0x11; 64]);
        let (exe, _) = fake_elf(&old);
        let found = probe(exe.as_slice(), u64::MAX).expect("reads").expect("finds");
        assert_eq!(found, header(0));
        assert_eq!(
            extract(&found).expect_err("old format").to_string(),
            "go build info in pre-1.18 format is not supported"
        );
    }

    #[test]
    fn blob_cut_at_the_end_of_the_executable_is_returned_truncated_and_reported() {
        let b = blob("go1.22.3", &framed(MODINFO));
        let cut = &b[..b.len() - 40];
        let mut exe = b"\x7fELF".to_vec();
        exe.extend_from_slice(cut);
        let found = probe(exe.as_slice(), u64::MAX).expect("reads").expect("finds");
        assert_eq!(found, cut);
        let out = extract(&found).expect("go version still readable");
        assert_eq!(nv(&out), vec![("stdlib", "1.22.3")]);
        assert_eq!(out.warnings.len(), 1);
        assert!(
            out.warnings[0].starts_with("module information in build info: length "),
            "{:?}",
            out.warnings
        );
    }

    #[test]
    fn truncated_header_is_an_error() {
        assert_eq!(
            extract(&MAGIC[..10]).expect_err("short").to_string(),
            "no go build information"
        );
        assert_eq!(
            extract(&header(FLAG_INLINE)[..20]).expect_err("short").to_string(),
            "go build info header is truncated"
        );
        let mut exe = b"\x7fELF".to_vec();
        exe.extend_from_slice(MAGIC);
        exe.push(8);
        let found = probe(exe.as_slice(), u64::MAX).expect("reads").expect("finds");
        assert!(extract(&found).is_err());
    }

    #[test]
    fn varint_overflow_is_an_error_without_panic() {
        let mut b = header(FLAG_INLINE);
        b.extend_from_slice(&[0xff; 11]);
        assert_eq!(
            extract(&b).expect_err("overflow").to_string(),
            "go version in build info: length varint overflows"
        );
        let mut b = header(FLAG_INLINE);
        b.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02]);
        assert!(extract(&b).is_err());
        // The probe keeps a bounded blob for the extractor to reject.
        let (exe, _) = fake_elf(&b);
        let found = probe(exe.as_slice(), u64::MAX).expect("reads").expect("finds");
        assert_eq!(found.len(), HEADER_LEN + MAX_VARINT_LEN);
    }

    #[test]
    fn length_beyond_the_blob_is_reported() {
        let mut b = header(FLAG_INLINE);
        b.extend(varint(1 << 40));
        b.extend_from_slice(b"go1.22.3");
        assert_eq!(
            extract(&b).expect_err("too long").to_string(),
            "go version in build info: length 1099511627776 runs past the end of the build information (8 bytes left)"
        );
        // The probe caps what it keeps whatever the length claims.
        let (mut exe, at) = fake_elf(&b);
        exe.resize(at + 2 * MAX_BLOB, 0xcc);
        let found = probe(exe.as_slice(), u64::MAX).expect("reads").expect("finds");
        assert_eq!(found.len(), MAX_BLOB);
    }

    #[test]
    fn modinfo_without_markers_and_with_go_framing_rule() {
        let plain = "mod\tx.org/m\tv1.2.0\t\ndep\tx.org/d\tv0.1.0\t\n";
        let out = extract(&blob("go1.22.3", plain.as_bytes())).expect("extracts");
        assert_eq!(
            nv(&out),
            vec![("stdlib", "1.22.3"), ("x.org/m", "1.2.0"), ("x.org/d", "0.1.0")]
        );
        let mut odd = vec![b'#'; 16];
        odd.extend_from_slice(plain.as_bytes());
        odd.extend_from_slice(&[b'#'; 16]);
        let out = extract(&blob("go1.22.3", &odd)).expect("extracts");
        assert_eq!(
            nv(&out),
            vec![("stdlib", "1.22.3"), ("x.org/m", "1.2.0"), ("x.org/d", "0.1.0")]
        );
    }

    #[test]
    fn devel_dependencies_from_staging_trees_are_skipped_silently() {
        let m = "path\tk8s.io/kubectl\ndep\tk8s.io/api\t(devel)\t\ndep\tgopkg.in/yaml.v3\tv3.0.1\t\n";
        let out = extract(&blob("go1.22.3", &framed(m))).expect("extracts");
        assert_eq!(nv(&out), vec![("stdlib", "1.22.3"), ("gopkg.in/yaml.v3", "3.0.1")]);
        assert!(out.warnings.is_empty(), "{:?}", out.warnings);
    }

    #[test]
    fn malformed_module_lines_warn_and_the_rest_is_read() {
        let m = "=>\tx.org/orphan\tv1.0.0\t\ndep\nweird line\ndep\tx.org/ok\tv1.0.0\t\ndep\tx.org/nover\n";
        let out = extract(&blob("go1.22.3", &framed(m))).expect("extracts");
        assert_eq!(nv(&out), vec![("stdlib", "1.22.3"), ("x.org/ok", "1.0.0")]);
        assert_eq!(
            out.warnings,
            vec![
                "module line 1: replacement without a dependency".to_string(),
                "module line 2: malformed".to_string(),
                "module line 3: malformed".to_string(),
                "module x.org/nover has no version; skipped".to_string(),
            ]
        );
    }

    #[test]
    fn many_malformed_lines_are_summarized() {
        let m = "junk\n".repeat(50);
        let out = extract(&blob("go1.22.3", &framed(&m))).expect("extracts");
        assert_eq!(out.warnings.len(), MAX_LINE_WARNINGS + 1);
        assert_eq!(
            out.warnings.last().map(String::as_str),
            Some("30 more malformed module lines")
        );
    }

    #[test]
    fn go_version_variants() {
        assert_eq!(
            stdlib_from_go_version("go1.22.3 X:boringcrypto").as_deref(),
            Ok("1.22.3")
        );
        assert_eq!(stdlib_from_go_version("go1.21rc2").as_deref(), Ok("1.21.0-rc.2"));
        assert_eq!(stdlib_from_go_version("go1.21.3-corp").as_deref(), Ok("1.21.3"));
        assert!(stdlib_from_go_version("devel go1.23-abcdef Tue Jan 2").is_err());
        assert!(stdlib_from_go_version("").is_err());
        let out = extract(&blob("devel go1.23-abc", &framed("dep\tx.org/a\tv1.0.0\t\n"))).expect("extracts");
        assert_eq!(nv(&out), vec![("x.org/a", "1.0.0")]);
        assert_eq!(
            out.warnings,
            vec!["built by a development go toolchain (devel go1.23-abc); stdlib not reported"]
        );
    }

    #[test]
    fn non_utf8_module_information_warns() {
        let mut m = b"dep\tx.org/a\tv1.0.0\t\n".to_vec();
        m.extend_from_slice(b"dep\tx.org/\xff\tv1.0.0\t\n");
        let out = extract(&blob("go1.22.3", &framed_bytes(&m))).expect("extracts");
        assert_eq!(out.warnings, vec!["module information is not valid UTF-8"]);
        assert_eq!(out.packages.len(), 3);
    }

    fn framed_bytes(m: &[u8]) -> Vec<u8> {
        let mut v = MODINFO_START.to_vec();
        v.extend_from_slice(m);
        v.extend_from_slice(&MODINFO_END);
        v
    }

    #[test]
    fn uvarint_decodes_and_rejects() {
        assert_eq!(uvarint(&[0x00]), Ok((0, 1)));
        assert_eq!(uvarint(&[0xac, 0x02]), Ok((300, 2)));
        assert_eq!(uvarint(&varint(u64::MAX)), Ok((u64::MAX, 10)));
        assert_eq!(uvarint(&[0x80, 0x80]), Err(VarintError::Truncated));
        assert_eq!(uvarint(&[]), Err(VarintError::Truncated));
        assert_eq!(uvarint(&[0xff; 12]), Err(VarintError::Overflow));
    }

    #[test]
    fn extractor_wants_no_paths() {
        assert!(!GoBinary.wants("/usr/local/bin/server"));
    }

    /// Builds a real Go program with the installed toolchain, offline, and reads it back.
    fn real_go_build(dir: &std::path::Path, files: &[(&str, &str)]) -> Option<(Vec<u8>, String)> {
        use std::process::Command;
        // The test command installs golang-go; a missing toolchain is a failure, not a skip.
        let go_version = Command::new("go")
            .args(["env", "GOVERSION"])
            .output()
            .expect("go toolchain (golang-go) installed");
        assert!(go_version.status.success(), "go env GOVERSION failed");
        let go_version = String::from_utf8(go_version.stdout).ok()?.trim().to_string();
        for (name, text) in files {
            let path = dir.join(name);
            std::fs::create_dir_all(path.parent()?).ok()?;
            std::fs::write(path, text).ok()?;
        }
        let status = Command::new("go")
            .args(["build", "-o", "hello", "."])
            .current_dir(dir)
            .env("GOFLAGS", "-mod=mod")
            .env("GOPROXY", "off")
            .env("GOTOOLCHAIN", "local")
            .env("CGO_ENABLED", "0")
            .env("GOCACHE", dir.join("cache"))
            .env("GOPATH", dir.join("gopath"))
            .status()
            .expect("go build runs");
        assert!(status.success(), "go build failed");
        Some((std::fs::read(dir.join("hello")).expect("binary written"), go_version))
    }

    #[test]
    fn real_go_binary_yields_toolchain_stdlib_and_main_module() {
        let dir = tempfile::tempdir().expect("tempdir");
        let files = [
            ("go.mod", "module example.com/hello\n\ngo 1.18\n"),
            ("main.go", "package main\n\nfunc main() { println(\"hello\") }\n"),
        ];
        let (exe, go_version) = real_go_build(dir.path(), &files).expect("go build");
        let found = probe(exe.as_slice(), u64::MAX)
            .expect("reads")
            .expect("finds build info");
        let info = parse_build_info(&found).expect("parses");
        assert_eq!(info.go_version, go_version);
        assert_eq!(info.main.as_ref().map(|m| m.path.as_str()), Some("example.com/hello"));
        assert!(info.deps.is_empty());
        let out = extract(&found).expect("extracts");
        let expected = stdlib_from_go_version(&go_version).expect("release toolchain");
        assert!(out.warnings.is_empty(), "{:?}", out.warnings);
        assert_eq!(nv(&out), vec![("stdlib", expected.as_str())]);
    }

    #[test]
    fn real_go_binary_with_a_locally_replaced_module_reports_no_dependency() {
        let dir = tempfile::tempdir().expect("tempdir");
        let files = [
            (
                "go.mod",
                "module example.com/hello\n\ngo 1.18\n\nrequire example.com/lib v1.0.0\n\nreplace example.com/lib v1.0.0 => ./lib\n",
            ),
            ("main.go", "package main\n\nimport \"example.com/lib\"\n\nfunc main() { println(lib.X()) }\n"),
            ("lib/go.mod", "module example.com/lib\n\ngo 1.18\n"),
            ("lib/lib.go", "package lib\n\nfunc X() int { return 1 }\n"),
        ];
        let (exe, go_version) = real_go_build(dir.path(), &files).expect("go build");
        let found = probe(exe.as_slice(), u64::MAX)
            .expect("reads")
            .expect("finds build info");
        let info = parse_build_info(&found).expect("parses");
        let lib = info.deps.first().expect("dependency recorded");
        assert_eq!((lib.path.as_str(), lib.version.as_str()), ("example.com/lib", "v1.0.0"));
        assert_eq!(lib.replace.as_ref().map(|r| r.path.as_str()), Some("./lib"));
        let out = extract(&found).expect("extracts");
        let expected = stdlib_from_go_version(&go_version).expect("release toolchain");
        assert!(out.warnings.is_empty(), "{:?}", out.warnings);
        assert_eq!(nv(&out), vec![("stdlib", expected.as_str())]);
    }
}
