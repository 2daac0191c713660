//! Maven artifacts in Java archives (`.jar`, `.war`, `.ear`, Jenkins `.jpi`/`.hpi`): every
//! `META-INF/maven/<group>/<artifact>/pom.properties` (a shaded jar carries one per bundled
//! artifact); for archives without any, a guess from `META-INF/MANIFEST.MF` and the file name.
//! Archives nested inside (`WEB-INF/lib/*.jar`, `BOOT-INF/lib/*.jar`, `lib/*.war` in an ear) are
//! opened too, up to [`Limits::max_nesting_depth`] levels, and their packages carry paths like
//! `/app/x.war!/WEB-INF/lib/y.jar`.
//!
//! Archives are hostile: declared sizes and compression ratios are checked before anything is
//! inflated, reading is bounded by the declared size, and entries are counted against
//! [`Limits::max_entries`].
//!
//! [`Limits::max_nesting_depth`]: crate::Limits::max_nesting_depth
//! [`Limits::max_entries`]: crate::Limits::max_entries

use std::collections::{HashMap, HashSet};
use std::io::{Cursor, Read};

use argus_proto::{Ecosystem, Package, PackageManager};
use zip::ZipArchive;

use super::{ExtractError, ExtractInput, ExtractOutput, ExtractResult, Extractor};
use crate::Limits;

pub struct Jar;

impl Extractor for Jar {
    fn name(&self) -> &'static str {
        "jar"
    }

    fn wants(&self, path: &str) -> bool {
        is_java_archive(path)
    }

    fn extract(&self, input: &ExtractInput<'_>) -> ExtractResult {
        let archive = ZipArchive::new(Cursor::new(input.data))
            .map_err(|e| ExtractError::new(format!("not a readable zip archive: {e}")))?;
        let mut scan = Scan {
            limits: input.limits,
            entries: 0,
            inflated: 0,
            out: ExtractOutput::default(),
        };
        let file_name = input.path.rsplit('/').next().unwrap_or(input.path);
        scan.archive(
            archive,
            &Where {
                path: input.path.to_string(),
                inner: String::new(),
            },
            file_name,
            0,
        );
        Ok(scan.out)
    }
}

const ARCHIVE_SUFFIXES: [&[u8]; 5] = [b".jar", b".war", b".ear", b".jpi", b".hpi"];

fn is_java_archive(name: &str) -> bool {
    let b = name.as_bytes();
    // A bare `.jar` (nothing before the suffix) is a hidden file, not an archive name.
    b.len() > 4
        && b.get(b.len() - 5) != Some(&b'/')
        && b.get(b.len() - 4..)
            .is_some_and(|ext| ARCHIVE_SUFFIXES.iter().any(|s| ext.eq_ignore_ascii_case(s)))
}

/// Largest `pom.properties` or manifest read: real ones are a few KiB.
const MAX_METADATA_BYTES: u64 = 1 << 20;
/// Entries up to this size are inflated whatever their compression ratio: they cannot exhaust
/// anything, and short repetitive text legitimately compresses very well.
const RATIO_EXEMPT_BYTES: u64 = 64 << 10;

/// Where an archive sits: `path` is what packages carry as `file_path`, `inner` the part below
/// the file the engine handed over (empty at the top), used to name nested archives in warnings.
struct Where {
    path: String,
    inner: String,
}

impl Where {
    fn nested(&self, entry: &str) -> Where {
        Where {
            path: format!("{}!/{entry}", self.path),
            inner: if self.inner.is_empty() {
                entry.to_string()
            } else {
                format!("{}!/{entry}", self.inner)
            },
        }
    }

    fn warn(&self, out: &mut ExtractOutput, msg: impl std::fmt::Display) {
        if self.inner.is_empty() {
            out.warnings.push(msg.to_string());
        } else {
            out.warnings.push(format!("{}: {msg}", self.inner));
        }
    }
}

enum Kind {
    Pom,
    Manifest,
    Nested,
}

fn classify(name: &str) -> Option<Kind> {
    if name.ends_with('/') {
        return None;
    }
    if name.eq_ignore_ascii_case("META-INF/MANIFEST.MF") {
        return Some(Kind::Manifest);
    }
    let parts: Vec<&str> = name.split('/').collect();
    if let ["META-INF", "maven", g, a, "pom.properties"] = parts.as_slice() {
        if !g.is_empty() && !a.is_empty() {
            return Some(Kind::Pom);
        }
    }
    if is_java_archive(name) {
        return Some(Kind::Nested);
    }
    None
}

/// State of one extraction, shared by the archive and everything nested in it.
struct Scan<'a> {
    limits: &'a Limits,
    /// Zip entries looked at so far, over all nesting levels.
    entries: u64,
    /// Bytes inflated so far, over all nesting levels.
    inflated: u64,
    out: ExtractOutput,
}

impl Scan<'_> {
    fn archive(&mut self, mut zip: ZipArchive<Cursor<&[u8]>>, at: &Where, file_name: &str, depth: u32) {
        let mut seen: HashSet<(String, String, String)> = HashSet::new();
        let mut manifest: Option<Vec<u8>> = None;
        for i in 0..zip.len() {
            if self.entries >= self.limits.max_entries {
                at.warn(
                    &mut self.out,
                    format!(
                        "more than {} zip entries; the rest of the archive is not read",
                        self.limits.max_entries
                    ),
                );
                return;
            }
            self.entries += 1;
            let Some(name) = zip.name_for_index(i).map(str::to_string) else {
                continue;
            };
            let Some(kind) = classify(&name) else { continue };
            if let Kind::Nested = kind {
                if depth >= self.limits.max_nesting_depth {
                    at.warn(
                        &mut self.out,
                        format!(
                            "{name}: nested more than {} archives deep; not opened",
                            self.limits.max_nesting_depth
                        ),
                    );
                    continue;
                }
            }
            let cap = match kind {
                Kind::Pom | Kind::Manifest => MAX_METADATA_BYTES.min(self.limits.max_file_bytes),
                Kind::Nested => self.limits.max_file_bytes,
            };
            let data = match self.read_entry(&mut zip, i, cap) {
                Ok(d) => d,
                Err(e) => {
                    at.warn(&mut self.out, format!("{name}: {e}"));
                    continue;
                }
            };
            match kind {
                Kind::Pom => self.pom(&name, &data, at, &mut seen),
                Kind::Manifest => manifest = Some(data),
                Kind::Nested => match ZipArchive::new(Cursor::new(data.as_slice())) {
                    Ok(inner) => {
                        let inner_name = name.rsplit('/').next().unwrap_or(&name);
                        self.archive(inner, &at.nested(&name), inner_name, depth + 1);
                    }
                    Err(e) => at.warn(&mut self.out, format!("{name}: not a readable zip archive: {e}")),
                },
            }
        }
        if seen.is_empty() {
            self.fallback(manifest.as_deref(), file_name, at);
        }
    }

    /// Inflates one entry after checking what its header declares against the limits.
    fn read_entry(&mut self, zip: &mut ZipArchive<Cursor<&[u8]>>, i: usize, cap: u64) -> Result<Vec<u8>, String> {
        let entry = zip.by_index(i).map_err(|e| format!("unreadable zip entry: {e}"))?;
        let (size, packed) = (entry.size(), entry.compressed_size());
        if size > cap {
            return Err(format!(
                "declared size {size} bytes exceeds the limit of {cap} bytes; skipped"
            ));
        }
        if size > RATIO_EXEMPT_BYTES && size > packed.saturating_mul(self.limits.max_compression_ratio) {
            return Err(format!(
                "compression ratio of {size} to {packed} bytes exceeds {}; skipped",
                self.limits.max_compression_ratio
            ));
        }
        if self.inflated.saturating_add(size) > self.limits.max_uncompressed_bytes {
            return Err(format!(
                "archive inflates to more than {} bytes; skipped",
                self.limits.max_uncompressed_bytes
            ));
        }
        let mut data = Vec::with_capacity(usize::try_from(size.min(1 << 20)).unwrap_or(0));
        entry
            .take(size)
            .read_to_end(&mut data)
            .map_err(|e| format!("reading zip entry: {e}"))?;
        self.inflated = self.inflated.saturating_add(data.len() as u64);
        Ok(data)
    }

    fn pom(&mut self, name: &str, data: &[u8], at: &Where, seen: &mut HashSet<(String, String, String)>) {
        let props = parse_properties(&String::from_utf8_lossy(data));
        // The directory names are the group and artifact ids too; the file's values win when
        // present because directory names were written by the same plugin from the same pom.
        let mut dirs = name.split('/').skip(2);
        let (dir_group, dir_artifact) = (dirs.next().unwrap_or(""), dirs.next().unwrap_or(""));
        let group = props
            .get("groupId")
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
            .unwrap_or(dir_group);
        let artifact = props
            .get("artifactId")
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
            .unwrap_or(dir_artifact);
        let Some(version) = props.get("version").map(|s| s.trim()).filter(|s| !s.is_empty()) else {
            at.warn(&mut self.out, format!("{name}: no version; skipped"));
            return;
        };
        if seen.insert((group.to_string(), artifact.to_string(), version.to_string())) {
            self.out
                .packages
                .push(maven_package(group, artifact, version, &at.path));
        }
    }

    /// An archive without Maven metadata: artifact and version from the manifest or the file
    /// name, the group from the manifest when it can be told.
    fn fallback(&mut self, manifest: Option<&[u8]>, file_name: &str, at: &Where) {
        let attrs = manifest
            .map(|m| parse_manifest(&String::from_utf8_lossy(m)))
            .unwrap_or_default();
        let attr = |key: &str| attrs.get(key).map(|s| s.trim()).filter(|s| !s.is_empty());
        let from_name = split_file_name(file_name);
        let stem = file_stem(file_name);

        // Titles are often prose ("Apache Commons Lang"); only a single word can be an id.
        let artifact = attr("implementation-title")
            .filter(|t| is_identifier(t))
            .or_else(|| attr("bundle-name").filter(|t| is_identifier(t)))
            .or(from_name.map(|(a, _)| a))
            .or(stem);
        let version = attr("implementation-version")
            .or_else(|| attr("bundle-version"))
            .or(from_name.map(|(_, v)| v));
        let (Some(artifact), Some(version)) = (artifact, version) else {
            at.warn(
                &mut self.out,
                "no maven metadata, and no artifact and version in the manifest or file name",
            );
            return;
        };

        let group = attr("implementation-vendor-id")
            .filter(|g| is_identifier(g))
            .map(str::to_string)
            .or_else(|| {
                [attr("bundle-symbolicname"), attr("automatic-module-name")]
                    .into_iter()
                    .flatten()
                    .find_map(|sym| group_from_symbolic_name(sym, artifact))
            });
        // OSV names Maven packages `group:artifact`, so a package without a group cannot be
        // named exactly. The artifact id stands in for it: many long-lived artifacts use the
        // same id for both (junit:junit, log4j:log4j, commons-io:commons-io), so this matches
        // those and keeps every other archive visible in the inventory instead of dropping it.
        let group = match group {
            Some(g) => g,
            None => {
                at.warn(
                    &mut self.out,
                    format!("group id of {artifact} {version} is unknown; the artifact id is used as group id"),
                );
                artifact.to_string()
            }
        };
        self.out
            .packages
            .push(maven_package(&group, artifact, version, &at.path));
    }
}

fn maven_package(group: &str, artifact: &str, version: &str, file_path: &str) -> Package {
    Package {
        name: format!("{group}:{artifact}"),
        version: version.to_string(),
        ecosystem: Ecosystem::maven(),
        package_manager: PackageManager::Jar,
        purl: crate::purl::purl("maven", Some(group), artifact, version, &[]),
        file_path: file_path.to_string(),
        layer_digest: None,
        source_name: None,
        source_version: None,
        epoch: None,
        release: None,
        arch: None,
    }
}

fn is_identifier(s: &str) -> bool {
    !s.is_empty()
        && !s
            .chars()
            .any(|c| c.is_whitespace() || c == ':' || c == '/' || c == ';' || c == ',')
}

/// OSGi symbolic names and module names are usually the group with the artifact appended
/// (`com.fasterxml.jackson.core.jackson-databind`); only then does the prefix tell the group.
fn group_from_symbolic_name(sym: &str, artifact: &str) -> Option<String> {
    // `Bundle-SymbolicName: org.example.lib;singleton:=true`
    let sym = sym.split(';').next().unwrap_or(sym).trim();
    let dotted = artifact.replace('-', ".");
    let group = [artifact, dotted.as_str()].into_iter().find_map(|a| {
        let prefix = sym.strip_suffix(a)?.strip_suffix('.')?;
        (!prefix.is_empty() && is_identifier(prefix)).then(|| prefix.to_string())
    });
    group
}

/// The file name without the archive suffix, when something is left.
fn file_stem(file_name: &str) -> Option<&str> {
    let stem = match file_name.rfind('.') {
        Some(i) if is_java_archive(file_name) => file_name.get(..i)?,
        _ => file_name,
    };
    (!stem.is_empty()).then_some(stem)
}

/// `artifact-1.2.3.jar` → (`artifact`, `1.2.3`). The version starts at a `-` followed by a
/// digit; of several such, the last whose first part is dotted (`log4j-1.2-api-2.17.1`,
/// `guava-31.1-jre`), else the last one (`foo-2`).
fn split_file_name(file_name: &str) -> Option<(&str, &str)> {
    let stem = file_stem(file_name)?;
    let b = stem.as_bytes();
    let starts: Vec<usize> = (1..b.len())
        .filter(|&i| b.get(i) == Some(&b'-') && b.get(i + 1).is_some_and(u8::is_ascii_digit))
        .collect();
    let dotted = starts.iter().rev().find(|&&i| {
        let rest = stem.get(i + 1..).unwrap_or("");
        rest.split('-').next().is_some_and(|part| part.contains('.'))
    });
    let i = *dotted.or(starts.last())?;
    Some((stem.get(..i)?, stem.get(i + 1..)?))
}

/// Java `.properties` syntax: `#`/`!` comments, `key=value`, `key: value` or `key value`,
/// backslash line continuations and escapes.
fn parse_properties(text: &str) -> HashMap<String, String> {
    let mut map = HashMap::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let line = line.trim_start_matches([' ', '\t', '\x0c']);
        if line.is_empty() || line.starts_with('#') || line.starts_with('!') {
            continue;
        }
        let mut logical = line.to_string();
        while ends_with_odd_backslashes(&logical) {
            logical.pop();
            match lines.next() {
                Some(next) => logical.push_str(next.trim_start_matches([' ', '\t', '\x0c'])),
                None => break,
            }
        }
        let (key, value) = split_property(&logical);
        map.insert(unescape(key), unescape(value));
    }
    map
}

fn ends_with_odd_backslashes(s: &str) -> bool {
    s.bytes().rev().take_while(|&b| b == b'\\').count() % 2 == 1
}

fn split_property(line: &str) -> (&str, &str) {
    let mut escaped = false;
    for (i, c) in line.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' => escaped = true,
            '=' | ':' | ' ' | '\t' | '\x0c' => {
                let key = line.get(..i).unwrap_or("");
                let mut rest = line.get(i..).unwrap_or("").trim_start_matches([' ', '\t', '\x0c']);
                if c != '=' && c != ':' {
                    if let Some(r) = rest.strip_prefix(['=', ':']) {
                        rest = r;
                    }
                } else {
                    rest = rest.get(1..).unwrap_or("");
                }
                return (key, rest.trim_start_matches([' ', '\t', '\x0c']));
            }
            _ => {}
        }
    }
    (line, "")
}

fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('f') => out.push('\x0c'),
            Some('u') => {
                let hex: String = chars.by_ref().take(4).collect();
                match u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
                    Some(ch) if hex.len() == 4 => out.push(ch),
                    _ => out.push(char::REPLACEMENT_CHARACTER),
                }
            }
            Some(other) => out.push(other),
            None => {}
        }
    }
    out
}

/// The main section of a manifest (up to the first blank line), attribute names lowercased
/// because the manifest format compares them without case. A line starting with one space
/// continues the previous value.
fn parse_manifest(text: &str) -> HashMap<String, String> {
    let mut map: HashMap<String, String> = HashMap::new();
    let mut last: Option<String> = None;
    for line in text.lines() {
        if line.is_empty() {
            break;
        }
        if let Some(cont) = line.strip_prefix(' ') {
            if let Some(v) = last.as_ref().and_then(|k| map.get_mut(k)) {
                v.push_str(cont);
            }
            continue;
        }
        match line.split_once(':') {
            Some((k, v)) => {
                let k = k.trim().to_ascii_lowercase();
                map.insert(k.clone(), v.strip_prefix(' ').unwrap_or(v).to_string());
                last = Some(k);
            }
            None => last = None,
        }
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use zip::write::SimpleFileOptions;
    use zip::{CompressionMethod, ZipWriter};

    fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut w = ZipWriter::new(Cursor::new(Vec::new()));
        for (name, data) in entries {
            let method = if is_java_archive(name) {
                CompressionMethod::Stored
            } else {
                CompressionMethod::Deflated
            };
            w.start_file(*name, SimpleFileOptions::default().compression_method(method))
                .expect("start entry");
            w.write_all(data).expect("write entry");
        }
        w.finish().expect("finish zip").into_inner()
    }

    fn pom(group: &str, artifact: &str, version: &str) -> Vec<u8> {
        format!("#Generated by Maven\n#Tue Jan 02 10:00:00 UTC 2024\ngroupId={group}\nartifactId={artifact}\nversion={version}\n")
            .into_bytes()
    }

    fn run_with(path: &str, data: &[u8], limits: &Limits) -> ExtractResult {
        Jar.extract(&ExtractInput {
            path,
            data,
            os: None,
            limits,
        })
    }

    fn run(path: &str, data: &[u8]) -> ExtractOutput {
        run_with(path, data, &Limits::default()).expect("archive opens")
    }

    fn found(out: &ExtractOutput) -> Vec<(&str, &str, &str)> {
        let mut v: Vec<_> = out
            .packages
            .iter()
            .map(|p| (p.name.as_str(), p.version.as_str(), p.file_path.as_str()))
            .collect();
        v.sort();
        v
    }

    #[test]
    fn pom_properties_yield_group_artifact_package() {
        let jar = zip_of(&[
            (
                "META-INF/MANIFEST.MF",
                b"Manifest-Version: 1.0\r\nCreated-By: Maven\r\n\r\n",
            ),
            (
                "META-INF/maven/com.fasterxml.jackson.core/jackson-databind/pom.properties",
                &pom("com.fasterxml.jackson.core", "jackson-databind", "2.15.2"),
            ),
            (
                "META-INF/maven/com.fasterxml.jackson.core/jackson-databind/pom.xml",
                b"<project/>",
            ),
            (
                "com/fasterxml/jackson/databind/ObjectMapper.class",
                &[0xca, 0xfe, 0xba, 0xbe],
            ),
        ]);
        let out = run("/app/lib/jackson-databind-2.15.2.jar", &jar);
        assert!(out.warnings.is_empty(), "{:?}", out.warnings);
        assert_eq!(out.packages.len(), 1);
        let p = &out.packages[0];
        assert_eq!(p.name, "com.fasterxml.jackson.core:jackson-databind");
        assert_eq!(p.version, "2.15.2");
        assert_eq!(p.ecosystem, Ecosystem::maven());
        assert_eq!(p.package_manager, PackageManager::Jar);
        assert_eq!(p.purl, "pkg:maven/com.fasterxml.jackson.core/jackson-databind@2.15.2");
        assert_eq!(p.file_path, "/app/lib/jackson-databind-2.15.2.jar");
        assert_eq!(p.layer_digest, None);
    }

    #[test]
    fn shaded_jar_emits_every_pom_properties() {
        let jar = zip_of(&[
            (
                "META-INF/maven/org.example/app/pom.properties",
                &pom("org.example", "app", "1.0.0"),
            ),
            (
                "META-INF/maven/com.google.guava/guava/pom.properties",
                &pom("com.google.guava", "guava", "31.1-jre"),
            ),
            (
                "META-INF/maven/org.slf4j/slf4j-api/pom.properties",
                &pom("org.slf4j", "slf4j-api", "2.0.9"),
            ),
        ]);
        let out = run("/app/app-all.jar", &jar);
        assert_eq!(
            found(&out),
            vec![
                ("com.google.guava:guava", "31.1-jre", "/app/app-all.jar"),
                ("org.example:app", "1.0.0", "/app/app-all.jar"),
                ("org.slf4j:slf4j-api", "2.0.9", "/app/app-all.jar"),
            ]
        );
    }

    #[test]
    fn war_with_nested_jars_reports_nested_paths() {
        let log4j = zip_of(&[(
            "META-INF/maven/org.apache.logging.log4j/log4j-core/pom.properties",
            &pom("org.apache.logging.log4j", "log4j-core", "2.14.1"),
        )]);
        let war = zip_of(&[
            ("WEB-INF/", b""),
            ("WEB-INF/web.xml", b"<web-app/>"),
            (
                "META-INF/maven/com.corp/shop/pom.properties",
                &pom("com.corp", "shop", "3.2.0"),
            ),
            ("WEB-INF/lib/log4j-core-2.14.1.jar", &log4j),
        ]);
        let out = run("/app/x.war", &war);
        assert!(out.warnings.is_empty(), "{:?}", out.warnings);
        assert_eq!(
            found(&out),
            vec![
                ("com.corp:shop", "3.2.0", "/app/x.war"),
                (
                    "org.apache.logging.log4j:log4j-core",
                    "2.14.1",
                    "/app/x.war!/WEB-INF/lib/log4j-core-2.14.1.jar"
                ),
            ]
        );
    }

    #[test]
    fn ear_with_war_with_jar_opens_every_level() {
        let jar = zip_of(&[(
            "META-INF/maven/org.yaml/snakeyaml/pom.properties",
            &pom("org.yaml", "snakeyaml", "1.33"),
        )]);
        let war = zip_of(&[("WEB-INF/lib/snakeyaml-1.33.jar", &jar)]);
        let ear = zip_of(&[("lib/web.war", &war)]);
        let out = run("/srv/app.ear", &ear);
        assert_eq!(
            found(&out),
            vec![(
                "org.yaml:snakeyaml",
                "1.33",
                "/srv/app.ear!/lib/web.war!/WEB-INF/lib/snakeyaml-1.33.jar"
            )]
        );
        // web.war and app.ear carry no metadata and no version in their names.
        assert_eq!(
            out.warnings,
            vec![
                "lib/web.war: no maven metadata, and no artifact and version in the manifest or file name".to_string(),
                "no maven metadata, and no artifact and version in the manifest or file name".to_string(),
            ]
        );
    }

    #[test]
    fn nesting_deeper_than_the_limit_is_not_opened() {
        let inner = zip_of(&[("META-INF/maven/a/b/pom.properties", &pom("a", "b", "1.0"))]);
        let middle = zip_of(&[
            ("BOOT-INF/lib/b-1.0.jar", &inner),
            ("META-INF/maven/m/mid/pom.properties", &pom("m", "mid", "2.0")),
        ]);
        let outer = zip_of(&[
            ("lib/mid-2.0.jar", &middle),
            ("META-INF/maven/o/out/pom.properties", &pom("o", "out", "3.0")),
        ]);
        let limits = Limits {
            max_nesting_depth: 1,
            ..Limits::default()
        };
        let out = run_with("/app.jar", &outer, &limits).expect("opens");
        assert_eq!(
            found(&out),
            vec![
                ("m:mid", "2.0", "/app.jar!/lib/mid-2.0.jar"),
                ("o:out", "3.0", "/app.jar")
            ]
        );
        assert_eq!(
            out.warnings,
            vec!["lib/mid-2.0.jar: BOOT-INF/lib/b-1.0.jar: nested more than 1 archives deep; not opened"]
        );
    }

    #[test]
    fn manifest_fallback_with_vendor_id_and_continuation_lines() {
        let manifest = b"Manifest-Version: 1.0\r\nImplementation-Title: commons-widget\r\nImplementation-Version: 1.4.\r\n 2\r\nImplementation-Vendor-Id: org.example.comm\r\n ons\r\n\r\nName: org/example/\r\nImplementation-Version: 9.9\r\n";
        let jar = zip_of(&[("META-INF/MANIFEST.MF", manifest)]);
        let out = run("/opt/widget.jar", &jar);
        assert!(out.warnings.is_empty(), "{:?}", out.warnings);
        assert_eq!(
            found(&out),
            vec![("org.example.commons:commons-widget", "1.4.2", "/opt/widget.jar")]
        );
        assert_eq!(
            out.packages[0].purl,
            "pkg:maven/org.example.commons/commons-widget@1.4.2"
        );
    }

    #[test]
    fn manifest_fallback_guesses_group_from_bundle_symbolic_name() {
        let manifest = b"Manifest-Version: 1.0\nBundle-Name: Example Parser\nBundle-SymbolicName: com.example.parser-core;singleton:=true\nBundle-Version: 5.1.0\n";
        let jar = zip_of(&[("META-INF/MANIFEST.MF", manifest)]);
        let out = run("/opt/parser-core-5.1.0.jar", &jar);
        assert!(out.warnings.is_empty(), "{:?}", out.warnings);
        assert_eq!(
            found(&out),
            vec![("com.example:parser-core", "5.1.0", "/opt/parser-core-5.1.0.jar")]
        );
    }

    #[test]
    fn automatic_module_name_with_dotted_artifact_gives_group() {
        let manifest =
            b"Manifest-Version: 1.0\nAutomatic-Module-Name: org.acme.fast.json\nImplementation-Version: 0.9.1\n";
        let jar = zip_of(&[("META-INF/MANIFEST.MF", manifest)]);
        let out = run("/opt/fast-json.jar", &jar);
        assert!(out.warnings.is_empty(), "{:?}", out.warnings);
        assert_eq!(found(&out), vec![("org.acme:fast-json", "0.9.1", "/opt/fast-json.jar")]);
    }

    #[test]
    fn file_name_fallback_uses_artifact_as_group_and_warns() {
        let jar = zip_of(&[("org/example/Thing.class", &[0xca, 0xfe])]);
        let out = run("/opt/lib/log4j-1.2.17.JAR", &jar);
        assert_eq!(
            found(&out),
            vec![("log4j:log4j", "1.2.17", "/opt/lib/log4j-1.2.17.JAR")]
        );
        assert_eq!(out.packages[0].purl, "pkg:maven/log4j/log4j@1.2.17");
        assert_eq!(
            out.warnings,
            vec!["group id of log4j 1.2.17 is unknown; the artifact id is used as group id"]
        );
    }

    #[test]
    fn file_names_split_into_artifact_and_version() {
        assert_eq!(
            split_file_name("spring-core-5.3.20.jar"),
            Some(("spring-core", "5.3.20"))
        );
        assert_eq!(split_file_name("guava-31.1-jre.jar"), Some(("guava", "31.1-jre")));
        assert_eq!(
            split_file_name("log4j-1.2-api-2.17.1.jar"),
            Some(("log4j-1.2-api", "2.17.1"))
        );
        assert_eq!(
            split_file_name("jackson-databind-2.13.0-rc1.jar"),
            Some(("jackson-databind", "2.13.0-rc1"))
        );
        assert_eq!(
            split_file_name("bcprov-jdk18on-1.78.1.jar"),
            Some(("bcprov-jdk18on", "1.78.1"))
        );
        assert_eq!(split_file_name("foo-2.war"), Some(("foo", "2")));
        assert_eq!(split_file_name("app.jar"), None);
        assert_eq!(split_file_name("-1.0.jar"), None);
    }

    #[test]
    fn pom_properties_syntax_variants() {
        let text = "# comment\n! also a comment\n  groupId : org.ex\\\n    ample\nartifactId lib\\u002dx\nversion=1.0\\=beta\nempty\n";
        let props = parse_properties(text);
        assert_eq!(props.get("groupId").map(String::as_str), Some("org.example"));
        assert_eq!(props.get("artifactId").map(String::as_str), Some("lib-x"));
        assert_eq!(props.get("version").map(String::as_str), Some("1.0=beta"));
        assert_eq!(props.get("empty").map(String::as_str), Some(""));
        // A truncated escape and a continuation at the end of the file do not panic.
        let props = parse_properties("a=\\u12\nb=x\\");
        assert_eq!(props.get("b").map(String::as_str), Some("x"));
    }

    #[test]
    fn pom_properties_without_ids_use_directory_names_and_without_version_warn() {
        let jar = zip_of(&[
            ("META-INF/maven/org.dir/from-dir/pom.properties", b"version=4.0.1\n"),
            (
                "META-INF/maven/org.nover/nover/pom.properties",
                b"groupId=org.nover\nartifactId=nover\n",
            ),
        ]);
        let out = run("/a.jar", &jar);
        assert_eq!(found(&out), vec![("org.dir:from-dir", "4.0.1", "/a.jar")]);
        assert_eq!(
            out.warnings,
            vec!["META-INF/maven/org.nover/nover/pom.properties: no version; skipped"]
        );
    }

    #[test]
    fn compression_bomb_entry_is_skipped() {
        let zeros = vec![0u8; 4 << 20];
        let bomb = zip_of(&[
            ("META-INF/maven/x/y/pom.properties", &zeros),
            ("WEB-INF/lib/bomb.jar", b""),
        ]);
        // Re-pack the nested entry deflated so its ratio is huge too.
        let mut w = ZipWriter::new(Cursor::new(Vec::new()));
        w.start_file(
            "WEB-INF/lib/big-1.0.jar",
            SimpleFileOptions::default().compression_method(CompressionMethod::Deflated),
        )
        .expect("start");
        w.write_all(&zeros).expect("write");
        w.start_file("META-INF/maven/o/ok/pom.properties", SimpleFileOptions::default())
            .expect("start");
        w.write_all(&pom("o", "ok", "1.0")).expect("write");
        let war = w.finish().expect("finish").into_inner();

        let out = run("/b.jar", &bomb);
        assert!(out.packages.is_empty());
        assert!(
            out.warnings[0].starts_with("META-INF/maven/x/y/pom.properties: declared size 4194304 bytes exceeds"),
            "{:?}",
            out.warnings
        );

        let out = run("/w.war", &war);
        assert_eq!(found(&out), vec![("o:ok", "1.0", "/w.war")]);
        assert_eq!(out.warnings.len(), 1);
        assert!(
            out.warnings[0].starts_with("WEB-INF/lib/big-1.0.jar: compression ratio of 4194304 to "),
            "{:?}",
            out.warnings
        );
    }

    #[test]
    fn nested_archive_larger_than_file_limit_is_skipped() {
        let inner = zip_of(&[("META-INF/maven/a/b/pom.properties", &pom("a", "b", "1.0"))]);
        let outer = zip_of(&[("lib/b-1.0.jar", &inner)]);
        let limits = Limits {
            max_file_bytes: 64,
            ..Limits::default()
        };
        let out = run_with("/o.ear", &outer, &limits).expect("opens");
        assert!(out.packages.is_empty());
        assert_eq!(out.warnings.len(), 2);
        assert!(
            out.warnings[0].starts_with("lib/b-1.0.jar: declared size "),
            "{:?}",
            out.warnings
        );
    }

    #[test]
    fn entry_count_limit_stops_reading() {
        let jar = zip_of(&[
            ("a.class", b"x"),
            ("b.class", b"x"),
            ("META-INF/maven/a/b/pom.properties", &pom("a", "b", "1.0")),
        ]);
        let limits = Limits {
            max_entries: 2,
            ..Limits::default()
        };
        let out = run_with("/c.jar", &jar, &limits).expect("opens");
        assert!(out.packages.is_empty());
        assert_eq!(
            out.warnings,
            vec!["more than 2 zip entries; the rest of the archive is not read"]
        );
    }

    #[test]
    fn garbage_is_an_error_and_broken_nested_archive_a_warning() {
        assert!(run_with("/x.jar", b"PK\x03\x04 definitely not a zip", &Limits::default()).is_err());
        assert!(run_with("/x.jar", b"", &Limits::default()).is_err());
        let outer = zip_of(&[
            ("lib/broken.jar", b"PK\x03\x04garbage"),
            ("META-INF/maven/a/b/pom.properties", &pom("a", "b", "1.0")),
        ]);
        let out = run("/y.jar", &outer);
        assert_eq!(found(&out), vec![("a:b", "1.0", "/y.jar")]);
        assert_eq!(out.warnings.len(), 1);
        assert!(
            out.warnings[0].starts_with("lib/broken.jar: not a readable zip archive"),
            "{:?}",
            out.warnings
        );
    }

    #[test]
    fn truncated_archive_does_not_panic() {
        let jar = zip_of(&[
            ("META-INF/maven/a/b/pom.properties", &pom("a", "b", "1.0")),
            ("lib/n.jar", &zip_of(&[])),
        ]);
        for cut in [10, jar.len() / 2, jar.len() - 5] {
            let _ = run_with("/t.jar", &jar[..cut], &Limits::default());
        }
        // Corrupt the deflated pom.properties data but keep the directory intact.
        let mut bad = jar.clone();
        for b in bad.iter_mut().skip(70).take(20) {
            *b ^= 0x5a;
        }
        let _ = run_with("/t.jar", &bad, &Limits::default());
    }

    #[test]
    fn wants_java_archives_case_insensitively() {
        for p in [
            "/a/b.jar",
            "/a/b.WAR",
            "/a/b.ear",
            "/var/jenkins/plugins/git.jpi",
            "/x/y.HPI",
        ] {
            assert!(Jar.wants(p), "{p}");
        }
        for p in ["/a/b.jar.sha1", "/a/jar", "/a/.jar", "/a/b.zip", "/a/bjar"] {
            assert!(!Jar.wants(p), "{p}");
        }
    }
}
