//! RPM packages from the SQLite rpm database (`rpmdb.sqlite`, used by RHEL 9, Fedora 33+,
//! AlmaLinux and Rocky Linux 9, Amazon Linux 2023). Each row of its `Packages` table is one
//! package header: the header structure of an RPM file without the leading magic.

use argus_proto::{Distro, Package, PackageManager};
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};

use super::os_release::os_context;
use super::{ExtractError, ExtractInput, ExtractOutput, ExtractResult, Extractor};

const DB_PATHS: &[&str] = &["/var/lib/rpm/rpmdb.sqlite", "/usr/lib/sysimage/rpm/rpmdb.sqlite"];

const SQLITE_MAGIC: &[u8] = b"SQLite format 3\0";

/// Per-file cap on warnings, so a database of broken rows cannot turn into a flood.
const MAX_WARNINGS: usize = 100;

const TAG_NAME: u32 = 1000;
const TAG_VERSION: u32 = 1001;
const TAG_RELEASE: u32 = 1002;
const TAG_EPOCH: u32 = 1003;
const TAG_ARCH: u32 = 1022;
const TAG_SOURCERPM: u32 = 1044;

const TYPE_INT32: u32 = 4;
const TYPE_STRING: u32 = 6;
const TYPE_STRING_ARRAY: u32 = 8;
const TYPE_I18NSTRING: u32 = 9;

/// rpm itself refuses headers beyond these sizes.
const MAX_INDEX_ENTRIES: u32 = 0xffff;
const MAX_DATA_BYTES: u32 = 256 << 20;

pub struct Rpm;

impl Extractor for Rpm {
    fn name(&self) -> &'static str {
        "rpm"
    }

    fn wants(&self, path: &str) -> bool {
        DB_PATHS.contains(&path)
    }

    fn extract(&self, input: &ExtractInput<'_>) -> ExtractResult {
        let ctx = os_context(input.os, Distro::RedHat);
        let mut out = ExtractOutput::default();
        out.warnings.extend(ctx.warning.clone());
        let mut suppressed = 0usize;
        let mut warn = |out: &mut ExtractOutput, msg: String| {
            if out.warnings.len() < MAX_WARNINGS {
                out.warnings.push(msg);
            } else {
                suppressed += 1;
            }
        };

        let conn = open_in_memory(input.data)?;
        check_packages_table(&conn)?;
        let mut stmt = conn
            .prepare("SELECT hnum, blob FROM Packages ORDER BY hnum")
            .map_err(|e| ExtractError::new(format!("cannot query the Packages table: {e}")))?;
        let mut rows = stmt
            .query([])
            .map_err(|e| ExtractError::new(format!("cannot query the Packages table: {e}")))?;
        loop {
            let row = match rows.next() {
                Ok(Some(row)) => row,
                Ok(None) => break,
                Err(e) => {
                    // A corrupt page ends the scan; what was read so far stays valid.
                    warn(&mut out, format!("reading the Packages table stopped: {e}"));
                    break;
                }
            };
            let hnum = match row.get_ref(0) {
                Ok(ValueRef::Integer(n)) => n,
                _ => 0,
            };
            let blob = match row.get_ref(1) {
                Ok(ValueRef::Blob(b)) => b,
                _ => {
                    warn(
                        &mut out,
                        format!("package record {hnum}: header is not a blob; skipped"),
                    );
                    continue;
                }
            };
            match package_of(blob, &ctx, input.path) {
                Ok(Some(pkg)) => out.packages.push(pkg),
                Ok(None) => {}
                Err(e) => warn(&mut out, format!("package record {hnum}: {e}; skipped")),
            }
        }
        if suppressed > 0 {
            out.warnings.push(format!("{suppressed} more problem(s) not listed"));
        }
        Ok(out)
    }
}

/// Opens the database from memory: nothing of the artifact is written to disk.
fn open_in_memory(data: &[u8]) -> Result<Connection, ExtractError> {
    if data.len() < 100 || !data.starts_with(SQLITE_MAGIC) {
        return Err(ExtractError::new("not an SQLite database"));
    }
    // Bytes 18 and 19 of the header are 2 in WAL mode, which an in-memory database cannot use;
    // rpm checkpoints on close, so the main file alone is the whole database and can be read
    // in rollback mode (1).
    let modes = match (data.get(18), data.get(19)) {
        (Some(2), Some(2)) => [1, 1],
        (Some(&a), Some(&b)) => [a, b],
        _ => return Err(ExtractError::new("not an SQLite database")),
    };
    let mut conn =
        Connection::open_in_memory_with_flags(OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX)
            .map_err(|e| ExtractError::new(format!("cannot open an in-memory database: {e}")))?;
    let len = data.len();
    // SAFETY: the buffer comes from sqlite3_malloc64, as OwnedData requires; exactly `len`
    // bytes are written into it; ownership passes to SQLite, which frees it when `conn` closes.
    let owned = unsafe {
        let ptr = rusqlite::ffi::sqlite3_malloc64(len as u64) as *mut u8;
        let ptr = std::ptr::NonNull::new(ptr).ok_or_else(|| ExtractError::new("out of memory copying the database"))?;
        std::ptr::copy_nonoverlapping(data.as_ptr(), ptr.as_ptr(), len);
        *ptr.as_ptr().add(18) = modes[0];
        *ptr.as_ptr().add(19) = modes[1];
        rusqlite::serialize::OwnedData::from_raw_nonnull(ptr, len)
    };
    conn.deserialize(rusqlite::DatabaseName::Main, owned, true)
        .map_err(|e| ExtractError::new(format!("cannot open the database: {e}")))?;
    Ok(conn)
}

/// Only an ordinary table is read: a view or virtual table named `Packages` in a hostile file
/// could make the query run without end.
fn check_packages_table(conn: &Connection) -> Result<(), ExtractError> {
    let found: Result<(String, Option<String>), _> = conn.query_row(
        "SELECT type, sql FROM sqlite_master WHERE name = 'Packages' COLLATE NOCASE",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    );
    match found {
        Ok((ty, sql)) => {
            let is_virtual = sql.is_some_and(|s| s.trim_start().to_ascii_uppercase().starts_with("CREATE VIRTUAL"));
            if ty != "table" || is_virtual {
                return Err(ExtractError::new("Packages is not an ordinary table"));
            }
            Ok(())
        }
        Err(rusqlite::Error::QueryReturnedNoRows) => Err(ExtractError::new("no Packages table")),
        Err(e) => Err(ExtractError::new(format!("cannot read the database schema: {e}"))),
    }
}

/// The package in one header blob; `None` for the pseudo-packages rpm stores imported signing
/// keys as.
fn package_of(blob: &[u8], ctx: &super::os_release::OsContext, path: &str) -> Result<Option<Package>, String> {
    let header = Header::parse(blob)?;
    let name = header.string(TAG_NAME)?.filter(|n| !n.is_empty()).ok_or("no name")?;
    if name == "gpg-pubkey" {
        return Ok(None);
    }
    let version = header
        .string(TAG_VERSION)?
        .filter(|v| !v.is_empty())
        .ok_or_else(|| format!("{name}: no version"))?;
    let release = header.string(TAG_RELEASE)?.filter(|r| !r.is_empty());
    let epoch = header.int32(TAG_EPOCH)?;
    let arch = header.string(TAG_ARCH)?.filter(|a| !a.is_empty());
    let source_rpm = header.string(TAG_SOURCERPM)?;

    let version_release = match &release {
        Some(r) => format!("{version}-{r}"),
        None => version.clone(),
    };
    let (source_name, source_version) = match source_rpm.as_deref().and_then(split_source_rpm) {
        Some((sn, sv)) if sn != name || sv != version_release => (Some(sn.to_string()), Some(sv.to_string())),
        _ => (None, None),
    };
    let mut p = package(ctx, name, version, release, epoch, arch, path);
    p.source_name = source_name;
    p.source_version = source_version;
    Ok(Some(p))
}

/// An RPM package named as the database names it: `[epoch:]version-release`, and the purl
/// with the version-release and a positive epoch as a qualifier; `epoch` is kept as recorded.
pub(crate) fn package(
    ctx: &super::os_release::OsContext,
    name: String,
    version: String,
    release: Option<String>,
    epoch: Option<u32>,
    arch: Option<String>,
    path: &str,
) -> Package {
    let version_release = match &release {
        Some(r) => format!("{version}-{r}"),
        None => version,
    };
    let shown = epoch.filter(|e| *e > 0);
    let full_version = match shown {
        Some(e) => format!("{e}:{version_release}"),
        None => version_release.clone(),
    };
    let epoch_text = shown.map(|e| e.to_string()).unwrap_or_default();
    let purl = crate::purl::purl(
        "rpm",
        Some(&ctx.namespace),
        &name,
        &version_release,
        &[
            ("arch", arch.as_deref().unwrap_or("")),
            ("epoch", &epoch_text),
            ("distro", &ctx.distro_qualifier),
        ],
    );
    Package {
        name,
        version: full_version,
        ecosystem: ctx.ecosystem.clone(),
        package_manager: PackageManager::Rpm,
        purl,
        file_path: path.to_string(),
        layer_digest: None,
        source_name: None,
        source_version: None,
        epoch,
        release,
        arch,
    }
}

/// `openssl-3.0.7-24.el9.src.rpm` → (`openssl`, `3.0.7-24.el9`).
fn split_source_rpm(file: &str) -> Option<(&str, &str)> {
    let stem = file
        .strip_suffix(".src.rpm")
        .or_else(|| file.strip_suffix(".nosrc.rpm"))?;
    let (rest, _release) = stem.rsplit_once('-')?;
    let (name, _version) = rest.rsplit_once('-')?;
    if name.is_empty() {
        return None;
    }
    Some((name, stem.get(name.len() + 1..)?))
}

/// A header blob: `il` and `dl` (big-endian u32), `il` index entries of 16 bytes, `dl` bytes of
/// data the entries point into.
struct Header<'a> {
    index: &'a [u8],
    data: &'a [u8],
}

struct Entry {
    ty: u32,
    offset: usize,
    count: u32,
}

impl<'a> Header<'a> {
    fn parse(blob: &'a [u8]) -> Result<Self, String> {
        let il = be_u32(blob, 0).ok_or("header shorter than its 8-byte preamble")?;
        let dl = be_u32(blob, 4).ok_or("header shorter than its 8-byte preamble")?;
        if il == 0 || il > MAX_INDEX_ENTRIES {
            return Err(format!("header claims {il} index entries"));
        }
        if dl > MAX_DATA_BYTES {
            return Err(format!("header claims {dl} data bytes"));
        }
        // Both bounded above, so this cannot overflow even on 32-bit targets.
        let index_len = il as usize * 16;
        let data_start = 8 + index_len;
        let data_end = data_start + dl as usize;
        let index = blob.get(8..data_start);
        let data = blob.get(data_start..data_end);
        match (index, data) {
            (Some(index), Some(data)) => Ok(Header { index, data }),
            _ => Err(format!("header truncated: {} bytes, {} needed", blob.len(), data_end)),
        }
    }

    fn entry(&self, tag: u32) -> Result<Option<Entry>, String> {
        for raw in self.index.chunks_exact(16) {
            if be_u32(raw, 0) != Some(tag) {
                continue;
            }
            let (Some(ty), Some(offset), Some(count)) = (be_u32(raw, 4), be_u32(raw, 8), be_u32(raw, 12)) else {
                return Err(format!("tag {tag}: short index entry"));
            };
            // The offset is a signed 32-bit value; a negative one points before the data.
            let offset = i32::from_be_bytes(offset.to_be_bytes());
            let offset = usize::try_from(offset).map_err(|_| format!("tag {tag}: negative offset"))?;
            if offset >= self.data.len() {
                return Err(format!(
                    "tag {tag}: offset {offset} past the {} data bytes",
                    self.data.len()
                ));
            }
            return Ok(Some(Entry { ty, offset, count }));
        }
        Ok(None)
    }

    /// The value of a string tag (the first string of an array).
    fn string(&self, tag: u32) -> Result<Option<String>, String> {
        let Some(e) = self.entry(tag)? else { return Ok(None) };
        if !matches!(e.ty, TYPE_STRING | TYPE_STRING_ARRAY | TYPE_I18NSTRING) {
            return Err(format!("tag {tag}: type {} is not a string", e.ty));
        }
        let rest = self.data.get(e.offset..).unwrap_or_default();
        let end = rest
            .iter()
            .position(|b| *b == 0)
            .ok_or_else(|| format!("tag {tag}: string not terminated"))?;
        let bytes = rest.get(..end).unwrap_or_default();
        Ok(Some(String::from_utf8_lossy(bytes).trim().to_string()))
    }

    fn int32(&self, tag: u32) -> Result<Option<u32>, String> {
        let Some(e) = self.entry(tag)? else { return Ok(None) };
        if e.ty != TYPE_INT32 || e.count == 0 {
            return Err(format!("tag {tag}: not an INT32 value"));
        }
        be_u32(self.data, e.offset)
            .map(Some)
            .ok_or_else(|| format!("tag {tag}: value past the end of the data"))
    }
}

fn be_u32(bytes: &[u8], at: usize) -> Option<u32> {
    let end = at.checked_add(4)?;
    let b: [u8; 4] = bytes.get(at..end)?.try_into().ok()?;
    Some(u32::from_be_bytes(b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Limits;
    use argus_proto::{Ecosystem, OsInfo};
    use std::process::Command;

    enum V<'a> {
        S(&'a str),
        I(u32),
    }

    /// Builds a header blob the way rpm lays it out: index entries, then the data they point to
    /// (INT32 values 4-byte aligned).
    fn header(tags: &[(u32, V<'_>)]) -> Vec<u8> {
        let mut index = Vec::new();
        let mut data = Vec::new();
        for (tag, value) in tags {
            let (ty, offset) = match value {
                V::S(s) => {
                    let at = data.len();
                    data.extend_from_slice(s.as_bytes());
                    data.push(0);
                    (TYPE_STRING, at)
                }
                V::I(n) => {
                    while data.len() % 4 != 0 {
                        data.push(0);
                    }
                    let at = data.len();
                    data.extend_from_slice(&n.to_be_bytes());
                    (TYPE_INT32, at)
                }
            };
            for word in [*tag, ty, offset as u32, 1] {
                index.extend_from_slice(&word.to_be_bytes());
            }
        }
        let mut blob = Vec::new();
        blob.extend_from_slice(&(tags.len() as u32).to_be_bytes());
        blob.extend_from_slice(&(data.len() as u32).to_be_bytes());
        blob.extend(index);
        blob.extend(data);
        blob
    }

    fn pkg_header(name: &str, epoch: Option<u32>, version: &str, release: &str, arch: &str, srpm: &str) -> Vec<u8> {
        let mut tags = vec![
            (TAG_NAME, V::S(name)),
            (TAG_VERSION, V::S(version)),
            (TAG_RELEASE, V::S(release)),
        ];
        if let Some(e) = epoch {
            tags.push((TAG_EPOCH, V::I(e)));
        }
        tags.push((TAG_ARCH, V::S(arch)));
        tags.push((TAG_SOURCERPM, V::S(srpm)));
        header(&tags)
    }

    /// Writes an rpmdb.sqlite as rpm does (WAL journal, `Packages` table) and returns its bytes.
    fn rpmdb(blobs: &[Vec<u8>]) -> Vec<u8> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rpmdb.sqlite");
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(
                "PRAGMA journal_mode = WAL;
                 CREATE TABLE Packages (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB NOT NULL);
                 CREATE TABLE Name (key TEXT NOT NULL, hnum INTEGER NOT NULL, idx INTEGER NOT NULL);",
            )
            .unwrap();
            for blob in blobs {
                conn.execute("INSERT INTO Packages (blob) VALUES (?1)", [blob]).unwrap();
            }
        }
        std::fs::read(&path).unwrap()
    }

    fn alma9() -> OsInfo {
        OsInfo {
            distro: Some(Distro::AlmaLinux),
            id: "almalinux".into(),
            version_id: "9.4".into(),
            pretty_name: "AlmaLinux 9.4 (Seafoam Ocelot)".into(),
            ecosystem: Some(Ecosystem("AlmaLinux:9".into())),
        }
    }

    fn run(data: &[u8], os: Option<&OsInfo>) -> ExtractResult {
        let limits = Limits::default();
        Rpm.extract(&ExtractInput {
            path: DB_PATHS[0],
            data,
            os,
            limits: &limits,
        })
    }

    #[test]
    fn rpmdb_yields_packages_with_epoch_release_arch_and_source() {
        let db = rpmdb(&[
            header(&[
                (TAG_NAME, V::S("gpg-pubkey")),
                (TAG_VERSION, V::S("5a6340b3")),
                (TAG_RELEASE, V::S("6229229e")),
            ]),
            pkg_header(
                "openssl-libs",
                Some(1),
                "3.0.7",
                "24.el9",
                "x86_64",
                "openssl-3.0.7-24.el9.src.rpm",
            ),
            pkg_header("bash", None, "5.1.8", "9.el9", "x86_64", "bash-5.1.8-9.el9.src.rpm"),
            pkg_header(
                "tzdata",
                Some(0),
                "2024a",
                "1.el9",
                "noarch",
                "tzdata-2024a-1.el9.src.rpm",
            ),
        ]);
        let os = alma9();
        let out = run(&db, Some(&os)).unwrap();
        assert!(out.warnings.is_empty(), "{:?}", out.warnings);
        let names: Vec<&str> = out.packages.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["openssl-libs", "bash", "tzdata"]);

        let ssl = &out.packages[0];
        assert_eq!(ssl.version, "1:3.0.7-24.el9");
        assert_eq!(ssl.epoch, Some(1));
        assert_eq!(ssl.release.as_deref(), Some("24.el9"));
        assert_eq!(ssl.arch.as_deref(), Some("x86_64"));
        assert_eq!(ssl.source_name.as_deref(), Some("openssl"));
        assert_eq!(ssl.source_version.as_deref(), Some("3.0.7-24.el9"));
        assert_eq!(ssl.ecosystem.as_str(), "AlmaLinux:9");
        assert_eq!(ssl.package_manager, PackageManager::Rpm);
        assert_eq!(ssl.file_path, "/var/lib/rpm/rpmdb.sqlite");
        assert_eq!(ssl.layer_digest, None);
        assert_eq!(
            ssl.purl,
            "pkg:rpm/almalinux/openssl-libs@3.0.7-24.el9?arch=x86_64&distro=almalinux-9.4&epoch=1"
        );

        let bash = &out.packages[1];
        assert_eq!((bash.version.as_str(), bash.epoch), ("5.1.8-9.el9", None));
        assert_eq!(
            (bash.source_name.as_deref(), bash.source_version.as_deref()),
            (None, None)
        );

        let tz = &out.packages[2];
        assert_eq!((tz.version.as_str(), tz.epoch), ("2024a-1.el9", Some(0)));
        assert_eq!(
            tz.purl,
            "pkg:rpm/almalinux/tzdata@2024a-1.el9?arch=noarch&distro=almalinux-9.4"
        );
    }

    #[test]
    fn ecosystem_and_namespace_follow_the_detected_system() {
        let db = rpmdb(&[pkg_header(
            "curl",
            None,
            "8.5.0",
            "1.amzn2023.0.4",
            "aarch64",
            "curl-8.5.0-1.amzn2023.0.4.src.rpm",
        )]);
        let al = OsInfo {
            distro: Some(Distro::AmazonLinux),
            id: "amzn".into(),
            version_id: "2023".into(),
            pretty_name: "Amazon Linux 2023".into(),
            ecosystem: Some(Ecosystem("Amazon Linux:2023".into())),
        };
        let out = run(&db, Some(&al)).unwrap();
        let p = &out.packages[0];
        assert_eq!(p.ecosystem.as_str(), "Amazon Linux:2023");
        assert_eq!(
            p.purl,
            "pkg:rpm/amzn/curl@8.5.0-1.amzn2023.0.4?arch=aarch64&distro=amzn-2023"
        );

        let out = run(&db, None).unwrap();
        assert_eq!(out.packages[0].ecosystem.as_str(), "Red Hat");
        assert_eq!(
            out.packages[0].purl,
            "pkg:rpm/redhat/curl@8.5.0-1.amzn2023.0.4?arch=aarch64"
        );
        assert_eq!(
            out.warnings,
            ["no operating system release file found; assuming the Red Hat ecosystem"]
        );
    }

    #[test]
    fn corrupt_headers_give_warnings_and_good_rows_are_kept() {
        let good = pkg_header("zlib", None, "1.2.11", "40.el9", "x86_64", "zlib-1.2.11-40.el9.src.rpm");
        let truncated = good[..good.len() - 5].to_vec();
        let mut past_end = good.clone();
        // First index entry (NAME): offset far beyond the data.
        past_end[16..20].copy_from_slice(&0x00ff_ffffu32.to_be_bytes());
        let mut negative = good.clone();
        negative[16..20].copy_from_slice(&(-4i32).to_be_bytes());
        let mut huge_il = good.clone();
        huge_il[0..4].copy_from_slice(&u32::MAX.to_be_bytes());
        let mut huge_dl = good.clone();
        huge_dl[4..8].copy_from_slice(&u32::MAX.to_be_bytes());
        let mut wrong_type = good.clone();
        wrong_type[12..16].copy_from_slice(&TYPE_INT32.to_be_bytes());
        let unterminated = {
            let mut h = header(&[(TAG_NAME, V::S("x"))]);
            h.pop();
            h[4..8].copy_from_slice(&1u32.to_be_bytes());
            h
        };
        let epoch_past_end = {
            let mut h = header(&[(TAG_NAME, V::S("abc")), (TAG_VERSION, V::S("1")), (TAG_EPOCH, V::I(3))]);
            // Point EPOCH at the last data byte, so its 4 bytes run past the end.
            let dl = u32::from_be_bytes(h[4..8].try_into().unwrap());
            h[48..52].copy_from_slice(&(dl - 1).to_be_bytes());
            h
        };
        let no_version = header(&[(TAG_NAME, V::S("nover"))]);
        let db = rpmdb(&[
            vec![1, 2, 3],
            truncated,
            past_end,
            negative,
            huge_il,
            huge_dl,
            wrong_type,
            unterminated,
            epoch_past_end,
            no_version,
            good,
        ]);
        let out = run(&db, Some(&alma9())).unwrap();
        let names: Vec<&str> = out.packages.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["zlib"], "{:?}", out.warnings);
        assert_eq!(
            out.warnings,
            [
                "package record 1: header shorter than its 8-byte preamble; skipped",
                "package record 2: header truncated: 136 bytes, 141 needed; skipped",
                "package record 3: tag 1000: offset 16777215 past the 53 data bytes; skipped",
                "package record 4: tag 1000: negative offset; skipped",
                "package record 5: header claims 4294967295 index entries; skipped",
                "package record 6: header claims 4294967295 data bytes; skipped",
                "package record 7: tag 1000: type 4 is not a string; skipped",
                "package record 8: tag 1000: string not terminated; skipped",
                "package record 9: tag 1003: value past the end of the data; skipped",
                "package record 10: nover: no version; skipped",
            ]
        );
    }

    #[test]
    fn non_blob_rows_warn() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch("CREATE TABLE Packages (hnum INTEGER PRIMARY KEY, blob BLOB); INSERT INTO Packages VALUES (7, 'text'); INSERT INTO Packages VALUES (8, NULL);").unwrap();
        }
        let out = run(&std::fs::read(&path).unwrap(), Some(&alma9())).unwrap();
        assert!(out.packages.is_empty());
        assert_eq!(
            out.warnings,
            [
                "package record 7: header is not a blob; skipped",
                "package record 8: header is not a blob; skipped"
            ]
        );
    }

    #[test]
    fn warnings_are_capped_per_file() {
        let blobs: Vec<Vec<u8>> = (0..150).map(|_| vec![0u8]).collect();
        let out = run(&rpmdb(&blobs), Some(&alma9())).unwrap();
        assert_eq!(out.warnings.len(), MAX_WARNINGS + 1);
        assert_eq!(
            out.warnings.last().map(String::as_str),
            Some("50 more problem(s) not listed")
        );
    }

    #[test]
    fn files_that_are_not_rpm_databases_are_errors() {
        assert_eq!(run(b"", None).unwrap_err().to_string(), "not an SQLite database");
        assert_eq!(
            run(&[0u8; 4096], None).unwrap_err().to_string(),
            "not an SQLite database"
        );
        let mut garbage = SQLITE_MAGIC.to_vec();
        garbage.extend(std::iter::repeat_n(0xA5u8, 8192));
        assert!(run(&garbage, None).is_err());

        let dir = tempfile::tempdir().unwrap();
        let other = dir.path().join("other");
        Connection::open(&other)
            .unwrap()
            .execute_batch("CREATE TABLE Something (x);")
            .unwrap();
        assert_eq!(
            run(&std::fs::read(&other).unwrap(), None).unwrap_err().to_string(),
            "no Packages table"
        );

        let view = dir.path().join("view");
        Connection::open(&view)
            .unwrap()
            .execute_batch(
                "CREATE VIEW Packages AS WITH RECURSIVE c(hnum, blob) AS (SELECT 1, x'00' UNION ALL SELECT hnum + 1, blob FROM c) SELECT * FROM c;",
            )
            .unwrap();
        assert_eq!(
            run(&std::fs::read(&view).unwrap(), None).unwrap_err().to_string(),
            "Packages is not an ordinary table"
        );
    }

    #[test]
    fn truncated_database_file_does_not_panic() {
        let db = rpmdb(&[pkg_header("a", None, "1", "1", "noarch", "a-1-1.src.rpm")]);
        for len in [100, 512, 4096, db.len() / 2, db.len() - 1] {
            let _ = run(&db[..len.min(db.len())], None);
        }
    }

    #[test]
    fn wants_both_sqlite_database_locations() {
        assert!(Rpm.wants("/var/lib/rpm/rpmdb.sqlite"));
        assert!(Rpm.wants("/usr/lib/sysimage/rpm/rpmdb.sqlite"));
        assert!(!Rpm.wants("/var/lib/rpm/rpmdb.sqlite-wal"));
        assert!(!Rpm.wants("/var/lib/rpm/Packages"));
        assert!(!Rpm.wants("/opt/var/lib/rpm/rpmdb.sqlite"));
    }

    #[test]
    fn source_rpm_file_names_split_into_name_and_version() {
        assert_eq!(
            split_source_rpm("openssl-3.0.7-24.el9.src.rpm"),
            Some(("openssl", "3.0.7-24.el9"))
        );
        assert_eq!(
            split_source_rpm("python-urllib3-1.26.5-5.el9.nosrc.rpm"),
            Some(("python-urllib3", "1.26.5-5.el9"))
        );
        assert_eq!(split_source_rpm("noversion.src.rpm"), None);
        assert_eq!(split_source_rpm("-1-2.src.rpm"), None);
        assert_eq!(split_source_rpm("a-1-2.rpm"), None);
    }

    /// Builds real packages with rpmbuild, records them in a fresh SQLite database with rpm,
    /// and reads that database back. Needs the `rpm` tools; fails without them.
    #[test]
    fn real_rpm_database_written_by_rpm_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let top = dir.path().join("top");
        let dbpath = dir.path().join("db");
        let spec = dir.path().join("argus-probe.spec");
        std::fs::write(
            &spec,
            "Name: argus-probe\nVersion: 1.2.3\nRelease: 4.el9\nEpoch: 2\nSummary: probe\nLicense: MIT\nBuildArch: noarch\n\
             %description\nprobe\n\
             %package libs\nSummary: probe libs\nEpoch: 0\n%description libs\nprobe libs\n\
             %files\n%files libs\n",
        )
        .unwrap();
        let run_tool = |program: &str, args: &[&str]| {
            let out = Command::new(program)
                .args(args)
                .output()
                .unwrap_or_else(|e| panic!("cannot run {program} (install the rpm package): {e}"));
            assert!(
                out.status.success(),
                "{program} {args:?} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        let topdir = format!("_topdir {}", top.display());
        let spec_path = spec.display().to_string();
        run_tool("rpmbuild", &["-bb", "--quiet", "--define", &topdir, &spec_path]);
        let rpms_dir = top.join("RPMS").join("noarch");
        let mut rpms: Vec<String> = std::fs::read_dir(&rpms_dir)
            .unwrap()
            .map(|e| e.unwrap().path().display().to_string())
            .collect();
        rpms.sort();
        assert_eq!(rpms.len(), 2, "{rpms:?}");

        let db = dbpath.display().to_string();
        let common = ["--dbpath", &db, "--define", "_db_backend sqlite"];
        run_tool("rpm", &[&common[..], &["--initdb"]].concat());
        let mut install: Vec<&str> = common.to_vec();
        install.extend(["-i", "--nodeps", "--justdb", "--nosignature", "--ignoresize"]);
        install.extend(rpms.iter().map(String::as_str));
        run_tool("rpm", &install);

        let data = std::fs::read(dbpath.join("rpmdb.sqlite")).unwrap();
        let os = alma9();
        let mut out = run(&data, Some(&os)).unwrap();
        assert!(out.warnings.is_empty(), "{:?}", out.warnings);
        out.packages.sort_by(|a, b| a.name.cmp(&b.name));
        assert_eq!(out.packages.len(), 2);

        let main = &out.packages[0];
        assert_eq!(main.name, "argus-probe");
        assert_eq!(main.version, "2:1.2.3-4.el9");
        assert_eq!(main.epoch, Some(2));
        assert_eq!(main.release.as_deref(), Some("4.el9"));
        assert_eq!(main.arch.as_deref(), Some("noarch"));
        assert_eq!(
            (main.source_name.as_deref(), main.source_version.as_deref()),
            (None, None)
        );
        assert_eq!(
            main.purl,
            "pkg:rpm/almalinux/argus-probe@1.2.3-4.el9?arch=noarch&distro=almalinux-9.4&epoch=2"
        );

        let libs = &out.packages[1];
        assert_eq!(libs.name, "argus-probe-libs");
        assert_eq!(libs.version, "1.2.3-4.el9");
        assert_eq!(libs.epoch, Some(0));
        assert_eq!(libs.source_name.as_deref(), Some("argus-probe"));
        assert_eq!(libs.source_version.as_deref(), Some("1.2.3-4.el9"));
    }
}
