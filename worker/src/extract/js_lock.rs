//! Yarn and pnpm lockfiles: `yarn.lock` in the classic v1 format and the YAML format of yarn 2+
//! ("berry"), and `pnpm-lock.yaml` lockfile versions 5.x, 6 and 9.
//!
//! Packages that resolve to the project's own workspaces or to local folders and archives
//! (`workspace:`, `link:`, `portal:`, `file:`) are left out: their versions are whatever the
//! local tree says and do not correspond to npm releases.

use argus_proto::PackageManager;
use serde_yaml::Value;

use super::javascript::{is_semverish, split_descriptor, NpmCollector};
use super::{utf8, ExtractError, ExtractInput, ExtractResult, Extractor};

/// Protocols of local, non-registry packages, as they appear in descriptors and resolutions.
const LOCAL_PROTOCOLS: [&str; 5] = ["workspace:", "link:", "portal:", "file:", "exec:"];

fn is_local(reference: &str) -> bool {
    LOCAL_PROTOCOLS.iter().any(|p| reference.starts_with(p))
}

fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// A YAML scalar as text; versions such as `1.0` may have been read as numbers.
fn scalar_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn parse_yaml_mapping(text: &str) -> Result<serde_yaml::Mapping, ExtractError> {
    match serde_yaml::from_str::<Value>(text) {
        Ok(Value::Mapping(map)) => Ok(map),
        Ok(_) => Err(ExtractError::new("not a yaml mapping")),
        Err(e) => Err(ExtractError::new(format!("invalid yaml: {e}"))),
    }
}

/// Yarn's `yarn.lock`, classic or berry.
pub struct YarnLock;

impl Extractor for YarnLock {
    fn name(&self) -> &'static str {
        "yarnlock"
    }

    fn wants(&self, path: &str) -> bool {
        file_name(path) == "yarn.lock"
    }

    fn extract(&self, input: &ExtractInput<'_>) -> ExtractResult {
        let text = utf8(input)?;
        let mut c = NpmCollector::new(input.path, PackageManager::Yarn);
        if text.lines().any(|l| l.trim_end() == "__metadata:") {
            read_berry(text, &mut c)?;
        } else {
            read_classic(text, &mut c);
        }
        Ok(c.out)
    }
}

/// One entry of a classic lockfile while its indented fields are read.
struct ClassicEntry {
    line_no: usize,
    /// `None` for entries that are left out on purpose (local protocols).
    name: Option<String>,
    version: Option<String>,
}

fn finish_classic(entry: Option<ClassicEntry>, c: &mut NpmCollector<'_>) {
    let Some(entry) = entry else { return };
    let Some(name) = entry.name else { return };
    match entry.version {
        Some(version) if is_semverish(&version) => c.add(&name, &version),
        Some(_) => {}
        None => c.warn(format!("line {}: entry for {name} has no version", entry.line_no)),
    }
}

/// The package an entry header names, from its first descriptor: `"@babel/core@^7.0.0", ...:`
/// gives `@babel/core`, an alias `alias@npm:real@^1` gives `real`. `Ok(None)` for local
/// packages.
fn classic_header_name(header: &str) -> Result<Option<String>, ()> {
    let descriptors = header.strip_suffix(':').ok_or(())?;
    let first = descriptors.split(',').next().unwrap_or("").trim();
    let first = first.strip_prefix('"').unwrap_or(first);
    let first = first.strip_suffix('"').unwrap_or(first);
    let (name, range) = split_descriptor(first).ok_or(())?;
    if name.trim().is_empty() {
        return Err(());
    }
    if is_local(range) {
        return Ok(None);
    }
    if let Some((real, _)) = range.strip_prefix("npm:").and_then(split_descriptor) {
        return Ok(Some(real.to_string()));
    }
    Ok(Some(name.to_string()))
}

/// Yarn 1's own format: unindented headers listing descriptors, two-space indented fields.
fn read_classic(text: &str, c: &mut NpmCollector<'_>) {
    let mut current: Option<ClassicEntry> = None;
    for (idx, line) in text.lines().enumerate() {
        let line_no = idx.saturating_add(1);
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        if !line.starts_with([' ', '\t']) {
            finish_classic(current.take(), c);
            match classic_header_name(line.trim_end()) {
                Ok(name) => {
                    current = Some(ClassicEntry {
                        line_no,
                        name,
                        version: None,
                    })
                }
                Err(()) => c.warn(format!("line {line_no}: cannot parse entry header")),
            }
            continue;
        }
        // Only the entry's own fields (two spaces), not those of its `dependencies:` block.
        let Some(field) = line.strip_prefix("  ").filter(|f| !f.starts_with([' ', '\t'])) else {
            continue;
        };
        let Some(entry) = current.as_mut() else { continue };
        let Some(rest) = field.strip_prefix("version") else {
            continue;
        };
        if !rest.starts_with([' ', ':', '\t']) {
            continue;
        }
        let value = rest.trim_start_matches(':').trim();
        let value = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or(value);
        if entry.version.is_none() {
            entry.version = Some(value.to_string());
        }
    }
    finish_classic(current, c);
}

/// Percent-decoding for the descriptors yarn embeds in `patch:` resolutions (`npm%3A1.0.0`).
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hex = bytes
                .get(i.saturating_add(1)..i.saturating_add(3))
                .and_then(|h| std::str::from_utf8(h).ok());
            if let Some(decoded) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(decoded);
                i = i.saturating_add(3);
                continue;
            }
        }
        out.push(b);
        i = i.saturating_add(1);
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Name and version from a berry resolution (`name@npm:1.2.3`, `name@patch:name@npm%3A1.2.3#...`,
/// `name@https://...`); `Ok(None)` for workspaces and local packages.
fn berry_resolution<'a>(resolution: &'a str, version_field: Option<&'a str>) -> Result<Option<(String, String)>, ()> {
    let (name, reference) = split_descriptor(resolution).ok_or(())?;
    if name.trim().is_empty() {
        return Err(());
    }
    if is_local(reference) {
        return Ok(None);
    }
    if let Some(patched) = reference.strip_prefix("patch:") {
        // A patch keeps the identity of the package it patches, when that one is from npm.
        let inner = percent_decode(patched.split('#').next().unwrap_or(""));
        let Some((inner_name, inner_ref)) = split_descriptor(&inner) else {
            return Err(());
        };
        let Some(inner_version) = inner_ref.strip_prefix("npm:") else {
            return Ok(None);
        };
        let version = if is_semverish(inner_version) {
            inner_version
        } else {
            version_field.ok_or(())?
        };
        return Ok(Some((inner_name.to_string(), version.to_string())));
    }
    let version = match reference.strip_prefix("npm:") {
        Some(v) if is_semverish(v) => v,
        _ => version_field.ok_or(())?,
    };
    Ok(Some((name.to_string(), version.to_string())))
}

/// Yarn 2+ lockfiles: YAML with a `__metadata` entry and one mapping per resolved package.
fn read_berry(text: &str, c: &mut NpmCollector<'_>) -> Result<(), ExtractError> {
    let doc = parse_yaml_mapping(text)?;
    for (key, entry) in &doc {
        let Some(key) = key.as_str() else {
            c.warn("entry key is not a string".into());
            continue;
        };
        if key == "__metadata" {
            continue;
        }
        let Some(entry) = entry.as_mapping() else {
            c.warn(format!("entry {key} is not a mapping"));
            continue;
        };
        let version_field = entry.get("version").and_then(scalar_string);
        let Some(resolution) = entry.get("resolution").and_then(Value::as_str) else {
            c.warn(format!("entry {key} has no resolution"));
            continue;
        };
        match berry_resolution(resolution, version_field.as_deref()) {
            Ok(Some((name, version))) if is_semverish(&version) => c.add(&name, &version),
            Ok(_) => {}
            Err(()) => c.warn(format!("entry {key} has no readable name and version")),
        }
    }
    Ok(())
}

/// pnpm's `pnpm-lock.yaml`.
pub struct PnpmLock;

impl Extractor for PnpmLock {
    fn name(&self) -> &'static str {
        "pnpmlock"
    }

    fn wants(&self, path: &str) -> bool {
        file_name(path) == "pnpm-lock.yaml"
    }

    fn extract(&self, input: &ExtractInput<'_>) -> ExtractResult {
        let text = utf8(input)?;
        let doc = parse_yaml_mapping(text)?;
        let mut c = NpmCollector::new(input.path, PackageManager::Pnpm);
        // Version 9 splits packages (metadata) from snapshots (peer-resolved instances); both
        // are read and repeats are dropped.
        for section in ["packages", "snapshots"] {
            match doc.get(section) {
                None | Some(Value::Null) => {}
                Some(Value::Mapping(entries)) => {
                    // A v9 snapshot of a git or tarball package has neither version nor fields;
                    // its `packages` entry already named it, or warned.
                    let warn_unreadable = section == "packages";
                    for (key, entry) in entries {
                        read_pnpm_entry(key, entry, warn_unreadable, &mut c);
                    }
                }
                Some(_) => c.warn(format!("{section} is not a mapping")),
            }
        }
        Ok(c.out)
    }
}

/// What a pnpm package key says.
enum PnpmKey<'a> {
    /// Name and version (peer suffix removed) when the key has them.
    Parsed(&'a str, &'a str),
    /// The package is local (`file:`, `link:`).
    Local,
    /// Not a registry key (`github.com/user/repo/sha` in v5); the entry's fields name it.
    Opaque,
}

/// Parses `/name/1.2.3_peer` (v5), `/name@1.2.3(peer)` (v6) and `name@1.2.3(peer)` (v9), with
/// or without a scope.
fn parse_pnpm_key(key: &str) -> PnpmKey<'_> {
    let (k, slashed) = match key.strip_prefix('/') {
        Some(k) => (k, true),
        None => (key, false),
    };
    if is_local(k) {
        return PnpmKey::Local;
    }
    let name_start = if k.starts_with('@') {
        match k.find('/') {
            Some(i) => i.saturating_add(1),
            None => return PnpmKey::Opaque,
        }
    } else {
        0
    };
    let Some(tail) = k.get(name_start..) else {
        return PnpmKey::Opaque;
    };
    let Some(sep) = tail.find(['@', '/']) else {
        return PnpmKey::Opaque;
    };
    let sep = sep.saturating_add(name_start);
    let (Some(name), Some(rest)) = (k.get(..sep), k.get(sep.saturating_add(1)..)) else {
        return PnpmKey::Opaque;
    };
    let is_at = k.get(sep..).is_some_and(|s| s.starts_with('@'));
    if !is_at && !slashed {
        return PnpmKey::Opaque;
    }
    if is_local(rest) {
        return PnpmKey::Local;
    }
    // v6 and v9 append peers in parentheses, v5 after an underscore; neither occurs in semver.
    let version = rest.split(['(', '_']).next().unwrap_or("");
    if let Some((real, v)) = version.strip_prefix("npm:").and_then(split_descriptor) {
        return PnpmKey::Parsed(real, v);
    }
    PnpmKey::Parsed(name, version)
}

fn read_pnpm_entry(key: &Value, entry: &Value, warn_unreadable: bool, c: &mut NpmCollector<'_>) {
    let Some(key) = key.as_str() else {
        c.warn("package key is not a string".into());
        return;
    };
    let fields = match entry {
        Value::Mapping(m) => Some(m),
        Value::Null => None,
        _ => {
            c.warn(format!("package {key} is not a mapping"));
            return;
        }
    };
    let resolution = fields.and_then(|f| f.get("resolution"));
    let local_resolution = resolution.and_then(|r| r.get("directory")).is_some()
        || resolution
            .and_then(|r| r.get("tarball"))
            .and_then(Value::as_str)
            .is_some_and(|t| t.starts_with("file:"));
    if local_resolution {
        return;
    }
    let key_name = match parse_pnpm_key(key) {
        PnpmKey::Local => return,
        PnpmKey::Parsed(name, version) if is_semverish(version) && !name.is_empty() => {
            c.add(name, version);
            return;
        }
        PnpmKey::Parsed(name, _) => Some(name).filter(|n| !n.is_empty()),
        PnpmKey::Opaque => None,
    };
    // Git and tarball dependencies carry their name and version as fields instead.
    let field_name = fields.and_then(|f| f.get("name")).and_then(Value::as_str);
    let field_version = fields.and_then(|f| f.get("version")).and_then(scalar_string);
    match (field_name.or(key_name), field_version) {
        (Some(name), Some(version)) if is_semverish(&version) => c.add(name, &version),
        _ if warn_unreadable => c.warn(format!("package {key} has no readable name and version")),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::ExtractOutput;
    use argus_proto::Ecosystem;

    use crate::extract::testutil::run;

    fn sorted_pairs(out: &ExtractOutput) -> Vec<(&str, &str)> {
        let mut v: Vec<_> = out
            .packages
            .iter()
            .map(|p| (p.name.as_str(), p.version.as_str()))
            .collect();
        v.sort();
        v
    }

    const YARN_V1: &str = r#"# THIS IS AN AUTOGENERATED FILE. DO NOT EDIT THIS FILE DIRECTLY.
# yarn lockfile v1


"@babel/code-frame@^7.0.0", "@babel/code-frame@^7.10.4":
  version "7.12.13"
  resolved "https://registry.yarnpkg.com/@babel/code-frame/-/code-frame-7.12.13.tgz#dcfc826beef65e75c50e21d3837d7d95798dd658"
  integrity sha512-HV1Cm0Q3ZrpCR93tkWOYiuYIgLxZXZFVG2VgK+MBWjUqZTundupbfx2aXarXuw5Ko5aMcjtJgbSs4vUGBS5v6g==
  dependencies:
    "@babel/highlight" "^7.12.13"

lodash@^4.17.15, lodash@^4.17.21:
  version "4.17.21"
  resolved "https://registry.yarnpkg.com/lodash/-/lodash-4.17.21.tgz#679591c564c3bffaae8454cf0b3df370c3d6911c"
  integrity sha512-v2kDEe57lecTulaDIuNTPy3Ry4gLGJ6Z1O3vE1krgXZNrsQ+LFTGHVxVjcXPs17LhbZVGedAJv8XZ1tvj5FvSg==

string-width-cjs@npm:string-width@^4.2.0:
  version "4.2.3"
  resolved "https://registry.yarnpkg.com/string-width/-/string-width-4.2.3.tgz"
  dependencies:
    version "99.0.0"

"@types/react-alias@npm:@types/react@^18":
  version "18.2.37"

"my-local@file:../my-local":
  version "0.1.0"

"left-pad@https://github.com/stevemao/left-pad.git#5a1f36a8":
  version "1.3.0"
  resolved "https://github.com/stevemao/left-pad.git#5a1f36a8"

"lodash@^4.17.20":
  version "4.17.21"
"#;

    #[test]
    fn yarn_classic_reads_scoped_aliased_and_git_entries() {
        let out = run(&YarnLock, "/app/yarn.lock", YARN_V1).unwrap();
        assert_eq!(out.warnings, Vec::<String>::new());
        assert_eq!(
            sorted_pairs(&out),
            vec![
                ("@babel/code-frame", "7.12.13"),
                ("@types/react", "18.2.37"),
                ("left-pad", "1.3.0"),
                ("lodash", "4.17.21"),
                ("string-width", "4.2.3"),
            ]
        );
        let babel = &out.packages[0];
        assert_eq!(babel.purl, "pkg:npm/%40babel/code-frame@7.12.13");
        assert_eq!(babel.ecosystem, Ecosystem::npm());
        assert_eq!(babel.package_manager, PackageManager::Yarn);
        assert_eq!(babel.file_path, "/app/yarn.lock");
    }

    #[test]
    fn yarn_classic_with_crlf_and_broken_entries_warns() {
        let data = "# yarn lockfile v1\r\n\r\nms@^2.1.1:\r\n  version \"2.1.3\"\r\n\r\nnocolon\r\n  version \
                    \"1.0.0\"\r\n\r\ndebug@^4:\r\n  resolved \"https://x\"\r\n\r\n\"@\":\r\n  version \"1\"\r\n";
        let out = run(&YarnLock, "/yarn.lock", data).unwrap();
        assert_eq!(sorted_pairs(&out), vec![("ms", "2.1.3")]);
        assert_eq!(
            out.warnings,
            vec![
                "line 6: cannot parse entry header".to_string(),
                "line 9: entry for debug has no version".to_string(),
                "line 12: cannot parse entry header".to_string(),
            ]
        );
    }

    const YARN_BERRY: &str = r#"# This file is generated by running "yarn install" inside your project.
# Manual changes might be lost - proceed with caution!

__metadata:
  version: 8
  cacheKey: 10c0

"@babel/code-frame@npm:^7.0.0, @babel/code-frame@npm:^7.22.13":
  version: 7.22.13
  resolution: "@babel/code-frame@npm:7.22.13"
  dependencies:
    "@babel/highlight": "npm:^7.22.13"
    chalk: "npm:^2.4.2"
  checksum: 10c0/f4cc8ae1000265677daf4845083b72f88d00d311adb1a93c94eb4b07bf0ed6828a81ae4ac43ee7d476775000b93a28a9cddec18fbdc5796212d8dcccd5de72bd
  languageName: node
  linkType: hard

"lodash@npm:^4.17.21":
  version: 4.17.21
  resolution: "lodash@npm:4.17.21"
  checksum: 10c0/d8cbea072bb08655bb4c989da418994b073a608dffa608b09ac04b43a791b12aeae7cd7ad919aa4c925f33b48490b5cfe6c1f71d827956071dae2e7bb3a6b74
  languageName: node
  linkType: hard

"string-width-cjs@npm:string-width@^4.2.0":
  version: 4.2.3
  resolution: "string-width@npm:4.2.3"
  languageName: node
  linkType: hard

"resolve@npm:^1.22.1":
  version: 1.22.8
  resolution: "resolve@npm:1.22.8"
  languageName: node
  linkType: hard

"resolve@patch:resolve@npm%3A^1.22.1#optional!builtin<compat/resolve>":
  version: 1.22.8
  resolution: "resolve@patch:resolve@npm%3A1.22.8#optional!builtin<compat/resolve>::version=1.22.8&hash=c3c19d"
  languageName: node
  linkType: hard

"fsevents@patch:fsevents@npm%3A~2.3.2#optional!builtin<compat/fsevents>":
  version: 2.3.3
  resolution: "fsevents@patch:fsevents@npm%3A2.3.3#optional!builtin<compat/fsevents>::version=2.3.3&hash=df0bf1"
  languageName: node
  linkType: hard

"@scope/patched@patch:@scope/patched@npm%3A1.0.0#./.yarn/patches/@scope-patched-npm-1.0.0.patch::locator=my-app%40workspace%3A.":
  version: 1.0.0
  resolution: "@scope/patched@patch:@scope/patched@npm%3A1.0.0#./.yarn/patches/@scope-patched-npm-1.0.0.patch::locator=my-app%40workspace%3A."
  languageName: node
  linkType: hard

"shared-patched@patch:shared-patched@workspace%3Apackages/shared#./p.patch::locator=my-app%40workspace%3A.":
  version: 0.0.0-use.local
  resolution: "shared-patched@patch:shared-patched@workspace%3Apackages/shared#./p.patch::locator=my-app%40workspace%3A."
  languageName: unknown
  linkType: soft

"my-app@workspace:.":
  version: 0.0.0-use.local
  resolution: "my-app@workspace:."
  languageName: unknown
  linkType: soft

"shared@link:../shared::locator=my-app%40workspace%3A.":
  version: 0.0.0-use.local
  resolution: "shared@link:../shared::locator=my-app%40workspace%3A."
  languageName: node
  linkType: soft

"local-pkg@portal:../local-pkg::locator=my-app%40workspace%3A.":
  version: 0.0.0-use.local
  resolution: "local-pkg@portal:../local-pkg::locator=my-app%40workspace%3A."
  languageName: node
  linkType: soft

"left-pad@https://github.com/stevemao/left-pad.git#commit=5a1f36a8bd0e4f4e4d6cbe1d0a3b1c5ac6d1d7f2":
  version: 1.3.0
  resolution: "left-pad@https://github.com/stevemao/left-pad.git#commit=5a1f36a8bd0e4f4e4d6cbe1d0a3b1c5ac6d1d7f2"
  languageName: node
  linkType: hard
"#;

    #[test]
    fn yarn_berry_reads_npm_and_patched_npm_packages_only() {
        let out = run(&YarnLock, "/app/yarn.lock", YARN_BERRY).unwrap();
        assert_eq!(out.warnings, Vec::<String>::new());
        assert_eq!(
            sorted_pairs(&out),
            vec![
                ("@babel/code-frame", "7.22.13"),
                ("@scope/patched", "1.0.0"),
                ("fsevents", "2.3.3"),
                ("left-pad", "1.3.0"),
                ("lodash", "4.17.21"),
                ("resolve", "1.22.8"),
                ("string-width", "4.2.3"),
            ]
        );
        let scoped = out.packages.iter().find(|p| p.name == "@scope/patched").unwrap();
        assert_eq!(scoped.purl, "pkg:npm/%40scope/patched@1.0.0");
        assert_eq!(scoped.package_manager, PackageManager::Yarn);
    }

    #[test]
    fn malformed_yarn_berry_is_an_error_or_warnings() {
        let truncated = &YARN_BERRY[..YARN_BERRY.find("\"lodash@npm:^4.17.21\":").unwrap() + 10];
        assert!(run(&YarnLock, "/yarn.lock", truncated)
            .unwrap_err()
            .0
            .starts_with("invalid yaml"));
        assert!(run(&YarnLock, "/yarn.lock", "__metadata:\n  version: 8\n- a\n").is_err());
        let deep = format!("__metadata:\n  version: 8\nx: {}\n", "[".repeat(10_000));
        assert!(run(&YarnLock, "/yarn.lock", &deep).is_err());
        let data = "__metadata:\n  version: 8\n\"a@npm:^1\": 5\n\"b@npm:^1\":\n  version: 1.0.0\n\"c@npm:^1\":\n  \
                    resolution: \"nonsense\"\n\"d@npm:^1\":\n  version: 2.0\n  resolution: \"d@npm:2.0.0\"\n";
        let out = run(&YarnLock, "/yarn.lock", data).unwrap();
        assert_eq!(sorted_pairs(&out), vec![("d", "2.0.0")]);
        assert_eq!(
            out.warnings,
            vec![
                "entry a@npm:^1 is not a mapping".to_string(),
                "entry b@npm:^1 has no resolution".to_string(),
                "entry c@npm:^1 has no readable name and version".to_string(),
            ]
        );
    }

    #[test]
    fn yarn_berry_alias_bombs_are_refused() {
        let mut data = String::from("__metadata:\n  version: 8\na: &a [x, x, x, x, x, x, x, x, x, x]\n");
        let mut prev = 'a';
        for name in ['b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j'] {
            data.push_str(&format!("{name}: &{name} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"));
            prev = name;
        }
        assert!(run(&YarnLock, "/yarn.lock", &data).is_err());
    }

    #[test]
    fn yarn_classic_garbage_only_warns() {
        let data = "not a lockfile\n  version \"1\"\n\u{0}\u{1}:\n";
        let out = run(&YarnLock, "/yarn.lock", data).unwrap();
        assert!(out.packages.is_empty());
        assert_eq!(
            out.warnings,
            vec![
                "line 1: cannot parse entry header".to_string(),
                "line 3: cannot parse entry header".to_string()
            ]
        );
        let many = "x\n".repeat(5_000);
        assert_eq!(run(&YarnLock, "/yarn.lock", &many).unwrap().warnings.len(), 101);
        assert!(YarnLock.wants("/app/yarn.lock"));
        assert!(!YarnLock.wants("/app/yarn.lock.orig"));
    }

    const PNPM_V5: &str = r#"lockfileVersion: 5.4

specifiers:
  '@babel/core': ^7.20.0
  react-dom: ^18.2.0

dependencies:
  react-dom: 18.2.0_react@18.2.0

devDependencies:
  '@babel/core': 7.20.12

packages:

  /@babel/core/7.20.12:
    resolution: {integrity: sha512-XsMfHovsUYHFMdrIHkZphTN/2Hzzi78R08NuHfDBehym2VsPDL6Zn/JAD/JQdnRvbSsbQc4mVaU1m6JgtTEElg==}
    engines: {node: '>=6.9.0'}
    dev: true

  /js-tokens/4.0.0:
    resolution: {integrity: sha512-RdJUflcE3cUzKiMqQgsCu06FPu9UdIJO0beYbPhHN4k6apgJtifcoCtT9bcxOpYBtpD2kCM6Sbzg4CausW/PKQ==}
    dev: false

  /react-dom/18.2.0_react@18.2.0:
    resolution: {integrity: sha512-6IMTriUmvsjHUjNtEDudZfuDQUoWXVxKHhlEGSk81n4YFS+r/Kl99wXiwlVXtPBtJenozv2P+hxDsw9eA7Xo6g==}
    peerDependencies:
      react: ^18.2.0
    dev: false

  /@testing-library/react/13.4.0_biqbaboplfbrettd7655fr4n2y:
    resolution: {integrity: sha512-sXOGON+WNTh3MLE9rve97ftaZukN3oNf2KjDy7YTx6hcTO2uuLHuCGynMDhFwGw/jYf4OJ2Qk0i4i79qMNNkyw==}
    dev: true

  github.com/user/repo-pkg/abc1234:
    resolution: {tarball: https://codeload.github.com/user/repo-pkg/tar.gz/abc1234}
    name: repo-pkg
    version: 2.0.0
    dev: false

  file:../local-lib:
    resolution: {directory: ../local-lib, type: directory}
    name: local-lib
    version: 0.0.1
    dev: false
"#;

    #[test]
    fn pnpm_v5_keys_with_peer_suffixes_and_git_fields() {
        let out = run(&PnpmLock, "/app/pnpm-lock.yaml", PNPM_V5).unwrap();
        assert_eq!(out.warnings, Vec::<String>::new());
        assert_eq!(
            sorted_pairs(&out),
            vec![
                ("@babel/core", "7.20.12"),
                ("@testing-library/react", "13.4.0"),
                ("js-tokens", "4.0.0"),
                ("react-dom", "18.2.0"),
                ("repo-pkg", "2.0.0"),
            ]
        );
        let p = out
            .packages
            .iter()
            .find(|p| p.name == "@testing-library/react")
            .unwrap();
        assert_eq!(p.purl, "pkg:npm/%40testing-library/react@13.4.0");
        assert_eq!(p.package_manager, PackageManager::Pnpm);
        assert_eq!(p.file_path, "/app/pnpm-lock.yaml");
    }

    const PNPM_V6: &str = r#"lockfileVersion: '6.0'

settings:
  autoInstallPeers: true
  excludeLinksFromLockfile: false

importers:

  .:
    dependencies:
      shared:
        specifier: workspace:*
        version: link:packages/shared
      '@tanstack/react-query':
        specifier: ^5.8.4
        version: 5.8.4(react@18.2.0)

packages:

  /@tanstack/react-query@5.8.4(react@18.2.0):
    resolution: {integrity: sha512-CD+AkBiGnG3Ll7sTY5fQ9bhs0W0ReLEd6H3m7XfvMDmoh6hBl2ltYzNILwFu8nZhzH1m+iq9Sjro1gIRWa4UcQ==}
    peerDependencies:
      react: ^18.0.0
    dev: false

  /react@18.2.0:
    resolution: {integrity: sha512-/3IjMdb2L9QbBdWiW5e3P2/npwMBaU9mHCSCUzNln0ZCYbcfTsGbTJrU/kGemdH2IWmB2ioZ+zkxtmq6g09fGQ==}
    engines: {node: '>=0.10.0'}
    dev: false

  /ms@2.1.3(supports-color@8.1.1)(typescript@5.2.2):
    resolution: {integrity: sha512-6FlzubTLZG3J2a/NVCAleEhjzq5oxgHyaCU9yYXvcLsvoVaHJq/s5xXI6/XXP6tz7R9xAOtHnSO/tXtF3WRTlA==}
    dev: false

  /lib-from-git@github.com/org/lib-from-git/0a1b2c3:
    resolution: {tarball: https://codeload.github.com/org/lib-from-git/tar.gz/0a1b2c3}
    name: lib-from-git
    version: 3.1.0
    dev: false

  file:packages/vendored:
    resolution: {directory: packages/vendored, type: directory}
    name: vendored
    version: 1.0.0
    dev: false
"#;

    #[test]
    fn pnpm_v6_keys_with_parenthesized_peers() {
        let out = run(&PnpmLock, "/app/pnpm-lock.yaml", PNPM_V6).unwrap();
        assert_eq!(out.warnings, Vec::<String>::new());
        assert_eq!(
            sorted_pairs(&out),
            vec![
                ("@tanstack/react-query", "5.8.4"),
                ("lib-from-git", "3.1.0"),
                ("ms", "2.1.3"),
                ("react", "18.2.0")
            ]
        );
    }

    const PNPM_V9: &str = r#"lockfileVersion: '9.0'

settings:
  autoInstallPeers: true
  excludeLinksFromLockfile: false

importers:

  .:
    dependencies:
      react-dom:
        specifier: ^18.2.0
        version: 18.2.0(react@18.2.0)

packages:

  '@babel/code-frame@7.24.2':
    resolution: {integrity: sha512-y5+tLQyV8pg3fsiln67BVLD1P13Eg4lh5RW9mF0zUuvLrv9uIQ4MCL+CRT+FTsBlBjcIan6PGsLcBN0m3ClUyQ==}
    engines: {node: '>=6.9.0'}

  react-dom@18.2.0:
    resolution: {integrity: sha512-6IMTriUmvsjHUjNtEDudZfuDQUoWXVxKHhlEGSk81n4YFS+r/Kl99wXiwlVXtPBtJenozv2P+hxDsw9eA7Xo6g==}
    peerDependencies:
      react: ^18.2.0

  react@18.2.0:
    resolution: {integrity: sha512-/3IjMdb2L9QbBdWiW5e3P2/npwMBaU9mHCSCUzNln0ZCYbcfTsGbTJrU/kGemdH2IWmB2ioZ+zkxtmq6g09fGQ==}
    engines: {node: '>=0.10.0'}

  left-pad@https://codeload.github.com/stevemao/left-pad/tar.gz/5a1f36a8:
    resolution: {tarball: https://codeload.github.com/stevemao/left-pad/tar.gz/5a1f36a8}
    version: 1.3.0

  local-lib@file:../local-lib:
    resolution: {directory: ../local-lib, type: directory}
    version: 0.0.1

snapshots:

  '@babel/code-frame@7.24.2': {}

  react-dom@18.2.0(react@18.2.0):
    dependencies:
      loose-envify: 1.4.0
      react: 18.2.0
      scheduler: 0.23.0

  react@18.2.0:
    dependencies:
      loose-envify: 1.4.0

  scheduler@0.23.0:

  left-pad@https://codeload.github.com/stevemao/left-pad/tar.gz/5a1f36a8: {}

  local-lib@link:../local-lib: {}
"#;

    #[test]
    fn pnpm_v9_reads_packages_and_snapshots_without_duplicates() {
        let out = run(&PnpmLock, "/app/pnpm-lock.yaml", PNPM_V9).unwrap();
        assert_eq!(out.warnings, Vec::<String>::new());
        assert_eq!(
            sorted_pairs(&out),
            vec![
                ("@babel/code-frame", "7.24.2"),
                ("left-pad", "1.3.0"),
                ("react", "18.2.0"),
                ("react-dom", "18.2.0"),
                ("scheduler", "0.23.0"),
            ]
        );
        assert_eq!(out.packages.len(), 5);
    }

    #[test]
    fn pnpm_key_parsing_covers_all_layouts() {
        fn parsed(key: &str) -> Option<(&str, &str)> {
            match parse_pnpm_key(key) {
                PnpmKey::Parsed(n, v) => Some((n, v)),
                _ => None,
            }
        }
        assert_eq!(parsed("/lodash/4.17.21"), Some(("lodash", "4.17.21")));
        assert_eq!(
            parsed("/@types/node/20.1.0_typescript@5.2.2"),
            Some(("@types/node", "20.1.0"))
        );
        assert_eq!(
            parsed("/@types/node@20.1.0(typescript@5.2.2)"),
            Some(("@types/node", "20.1.0"))
        );
        assert_eq!(parsed("@types/node@20.1.0"), Some(("@types/node", "20.1.0")));
        assert_eq!(
            parsed("string-width-cjs@npm:string-width@4.2.3"),
            Some(("string-width", "4.2.3"))
        );
        assert!(matches!(parse_pnpm_key("github.com/a/b/c"), PnpmKey::Opaque));
        assert!(matches!(parse_pnpm_key("x@link:../x"), PnpmKey::Local));
        assert!(matches!(parse_pnpm_key("/@scope"), PnpmKey::Opaque));
        assert!(matches!(parse_pnpm_key("@"), PnpmKey::Opaque));
        assert!(matches!(parse_pnpm_key(""), PnpmKey::Opaque));
    }

    #[test]
    fn malformed_pnpm_lockfiles_are_errors_or_warnings() {
        assert!(run(
            &PnpmLock,
            "/pnpm-lock.yaml",
            &PNPM_V9[..PNPM_V9.find("engines").unwrap() + 3]
        )
        .is_err());
        assert!(run(&PnpmLock, "/pnpm-lock.yaml", "- just\n- a list\n").is_err());
        assert!(run(&PnpmLock, "/pnpm-lock.yaml", &"{".repeat(10_000)).is_err());
        let data = "lockfileVersion: '9.0'\npackages:\n  7: {}\n  'a@1.0.0': 3\n  'nothing': {}\n  'b@2.0.0':\n\
                    snapshots: [1]\n";
        let out = run(&PnpmLock, "/pnpm-lock.yaml", data).unwrap();
        assert_eq!(sorted_pairs(&out), vec![("b", "2.0.0")]);
        assert_eq!(
            out.warnings,
            vec![
                "package key is not a string".to_string(),
                "package a@1.0.0 is not a mapping".to_string(),
                "package nothing has no readable name and version".to_string(),
                "snapshots is not a mapping".to_string(),
            ]
        );
        let out = run(&PnpmLock, "/pnpm-lock.yaml", "lockfileVersion: '9.0'\npackages:\n").unwrap();
        assert!(out.packages.is_empty() && out.warnings.is_empty());
        assert!(PnpmLock.wants("/repo/pnpm-lock.yaml"));
        assert!(!PnpmLock.wants("/repo/pnpm-workspace.yaml"));
    }
}
