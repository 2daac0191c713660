//! CycloneDX JSON: reads specification versions 1.2 to 1.6 (tools in use write 1.4 to 1.6) and
//! writes 1.5.

use std::collections::HashSet;

use argus_proto::Inventory;
use serde_json::{json, Map, Value};

use super::{
    absolute, argus_properties, is_image, os_info, sha256_hex, timestamp, Declared, Reader, MAX_DEPTH, PROP_FILE_PATH,
    PROP_LAYER_DIGEST, PROP_PACKAGE_MANAGER, PROP_PLATFORM, PROP_SOURCE_NAME, PROP_SOURCE_VERSION, TOOL_NAME,
    TOOL_VERSION,
};
use crate::{Error, Result};

/// The newest minor version whose layout this reader knows.
const NEWEST_MINOR: u32 = 6;

/// Component types that stand for installable software; a nameless file or a device without a
/// purl is no loss, but one of these is a package Argus cannot match.
const PACKAGE_TYPES: &[&str] = &["library", "framework", "application"];

pub(super) fn read(doc: &Map<String, Value>, target: &str) -> Result<Inventory> {
    let malformed = |msg: &str| Error::malformed(target, msg);
    match doc.get("bomFormat") {
        Some(Value::String(f)) if f == "CycloneDX" => {}
        _ => return Err(malformed("bomFormat is not \"CycloneDX\"")),
    }
    let spec = doc
        .get("specVersion")
        .and_then(Value::as_str)
        .ok_or_else(|| malformed("cyclonedx specVersion is missing or not a string"))?;
    let minor = spec
        .trim()
        .strip_prefix("1.")
        .and_then(|m| m.parse::<u32>().ok())
        .filter(|m| *m >= 2)
        .ok_or_else(|| Error::malformed(target, format!("unsupported cyclonedx specVersion {spec:?}")))?;
    let components = match doc.get("components") {
        None | Some(Value::Null) => &[][..],
        Some(Value::Array(a)) => a.as_slice(),
        Some(_) => return Err(malformed("cyclonedx components is not an array")),
    };
    let metadata = match doc.get("metadata") {
        None | Some(Value::Null) => None,
        Some(Value::Object(m)) => Some(m),
        Some(_) => return Err(malformed("cyclonedx metadata is not an object")),
    };
    let subject = match metadata.and_then(|m| m.get("component")) {
        None | Some(Value::Null) => None,
        Some(c @ Value::Object(_)) => Some(c),
        Some(_) => return Err(malformed("cyclonedx metadata.component is not an object")),
    };

    let mut r = Reader::new(target);
    if minor > NEWEST_MINOR {
        r.warn(format!(
            "cyclonedx {spec} is newer than argus knows; read as 1.{NEWEST_MINOR}"
        ));
    }
    if let Some(platform) = metadata.and_then(|m| property(m, PROP_PLATFORM)) {
        r.set_platform(platform.to_string());
    }
    if let Some(digest) = subject.and_then(subject_digest) {
        r.set_artifact_digest(digest);
    }

    let all = flatten(subject, components, &mut r);
    // The OS comes first: OS package purls without a release qualifier take it from there.
    if let Some(os) = all
        .iter()
        .filter_map(|(c, _)| c.as_object())
        .find(|c| str_field(c, "type") == Some("operating-system"))
    {
        if let Some(name) = str_field(os, "name").filter(|n| !n.trim().is_empty()) {
            let version = str_field(os, "version").unwrap_or("");
            r.set_os(os_info(name, version, str_field(os, "description")));
        }
    }
    for (component, is_subject) in all {
        let Some(c) = component.as_object() else {
            r.warn("a component is not a json object; skipped");
            continue;
        };
        let ty = str_field(c, "type").unwrap_or("library");
        if ty == "operating-system" {
            continue;
        }
        let label = label(c);
        match c.get("purl") {
            Some(Value::String(p)) if !p.trim().is_empty() => {
                let d = declared(c, label);
                r.add(p, d, is_subject);
            }
            None | Some(Value::Null) | Some(Value::String(_)) => {
                let named = str_field(c, "name").is_some_and(|n| !n.trim().is_empty())
                    && str_field(c, "version").is_some_and(|v| !v.trim().is_empty());
                if !is_subject && named && PACKAGE_TYPES.contains(&ty) {
                    r.no_purl(label);
                }
            }
            Some(_) => r.warn(format!("{label}: purl is not a string; skipped")),
        }
    }
    Ok(r.finish())
}

/// Every component with whether it is the document's subject, depth first, nested components
/// included down to [`MAX_DEPTH`].
fn flatten<'a>(subject: Option<&'a Value>, components: &'a [Value], r: &mut Reader) -> Vec<(&'a Value, bool)> {
    let mut out = Vec::new();
    let mut stack: Vec<(&Value, usize, bool)> = components.iter().rev().map(|c| (c, 0, false)).collect();
    if let Some(s) = subject {
        stack.push((s, 0, true));
    }
    while let Some((c, depth, is_subject)) = stack.pop() {
        out.push((c, is_subject));
        match c.get("components") {
            Some(Value::Array(children)) if depth < MAX_DEPTH => {
                stack.extend(children.iter().rev().map(|ch| (ch, depth + 1, false)));
            }
            Some(Value::Array(_)) => {
                r.warn_once(
                    "depth",
                    format!("components nested deeper than {MAX_DEPTH} levels skipped"),
                );
            }
            None | Some(Value::Null) => {}
            Some(_) => r.warn(format!("{}: nested components is not an array; skipped", label_of(c))),
        }
    }
    out
}

fn str_field<'a>(c: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    c.get(key).and_then(Value::as_str)
}

fn label_of(c: &Value) -> String {
    c.as_object().map(label).unwrap_or_else(|| "component".into())
}

/// `name@version` (or the bom-ref) for warnings, cut short so a hostile name cannot flood them.
fn label(c: &Map<String, Value>) -> String {
    let name = str_field(c, "name").unwrap_or("");
    let l = match str_field(c, "version") {
        Some(v) if !name.is_empty() => format!("{name}@{v}"),
        _ if !name.is_empty() => name.to_string(),
        _ => str_field(c, "bom-ref").unwrap_or("unnamed component").to_string(),
    };
    l.chars().take(200).collect()
}

/// The first value of a property named `name` in a `properties` array.
fn property<'a>(c: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    c.get("properties")?.as_array()?.iter().find_map(|p| {
        let p = p.as_object()?;
        if str_field(p, "name")? == name {
            str_field(p, "value").filter(|v| !v.is_empty())
        } else {
            None
        }
    })
}

fn declared(c: &Map<String, Value>, label: String) -> Declared {
    let prop = |n: &str| property(c, n).map(str::to_string);
    let occurrence = c
        .get("evidence")
        .and_then(|e| e.get("occurrences"))
        .and_then(Value::as_array)
        .and_then(|o| o.iter().find_map(|o| o.get("location").and_then(Value::as_str)))
        .filter(|l| !l.is_empty())
        .map(str::to_string);
    Declared {
        label,
        version: str_field(c, "version").map(str::to_string),
        file_path: prop(PROP_FILE_PATH)
            .or(occurrence)
            .or_else(|| prop("syft:location:0:path"))
            .or_else(|| property(c, "aquasecurity:trivy:FilePath").map(absolute)),
        layer_digest: prop(PROP_LAYER_DIGEST)
            .or_else(|| prop("aquasecurity:trivy:LayerDigest"))
            .or_else(|| prop("syft:location:0:layerID")),
        package_manager: prop(PROP_PACKAGE_MANAGER),
        source_name: prop(PROP_SOURCE_NAME).or_else(|| prop("aquasecurity:trivy:SrcName")),
        source_version: prop(PROP_SOURCE_VERSION).or_else(|| prop("aquasecurity:trivy:SrcVersion")),
    }
}

fn subject_digest(subject: &Value) -> Option<String> {
    subject.get("hashes")?.as_array()?.iter().find_map(|h| {
        let alg = h.get("alg")?.as_str()?;
        let content = h.get("content")?.as_str()?;
        (alg == "SHA-256" && content.len() == 64 && content.bytes().all(|b| b.is_ascii_hexdigit()))
            .then(|| format!("sha256:{}", content.to_ascii_lowercase()))
    })
}

/// Hands out bom-refs, making each unique: the same purl can appear at two paths.
struct Refs(HashSet<String>);

impl Refs {
    fn unique(&mut self, wanted: &str) -> String {
        let mut candidate = wanted.to_string();
        let mut n = 1u32;
        while !self.0.insert(candidate.clone()) {
            n = n.saturating_add(1);
            candidate = format!("{wanted}|{n}");
        }
        candidate
    }
}

fn properties(pairs: &[(&str, String)]) -> Value {
    Value::Array(pairs.iter().map(|(k, v)| json!({"name": k, "value": v})).collect())
}

pub(super) fn write(inv: &Inventory) -> Value {
    let mut refs = Refs(HashSet::new());
    let subject_ref = refs.unique(&format!("argus:subject:{}", inv.target));
    let mut subject = Map::new();
    subject.insert("type".into(), json!(if is_image(inv) { "container" } else { "file" }));
    subject.insert("bom-ref".into(), json!(subject_ref));
    subject.insert("name".into(), json!(inv.target));
    if let Some(hex) = inv.artifact_digest.as_deref().and_then(sha256_hex) {
        subject.insert("hashes".into(), json!([{"alg": "SHA-256", "content": hex}]));
    }

    let mut components = Vec::new();
    if let Some(os) = &inv.os {
        let os_ref = refs.unique(&format!("argus:os:{}@{}", os.id, os.version_id));
        let mut c = Map::new();
        c.insert("type".into(), json!("operating-system"));
        c.insert("bom-ref".into(), json!(os_ref));
        c.insert("name".into(), json!(os.id));
        if !os.version_id.is_empty() {
            c.insert("version".into(), json!(os.version_id));
        }
        if !os.pretty_name.is_empty() {
            c.insert("description".into(), json!(os.pretty_name));
        }
        components.push(Value::Object(c));
    }
    for (i, p) in inv.packages.iter().enumerate() {
        let wanted = if p.purl.is_empty() {
            format!("argus:package:{i}")
        } else {
            p.purl.clone()
        };
        let mut c = Map::new();
        c.insert("type".into(), json!("library"));
        c.insert("bom-ref".into(), json!(refs.unique(&wanted)));
        let (group, name) = split_group(&p.ecosystem.0, &p.name);
        if let Some(g) = group {
            c.insert("group".into(), json!(g));
        }
        c.insert("name".into(), json!(name));
        c.insert("version".into(), json!(p.version));
        if !p.purl.is_empty() {
            c.insert("purl".into(), json!(p.purl));
        }
        c.insert("properties".into(), properties(&argus_properties(p)));
        c.insert("evidence".into(), json!({"occurrences": [{"location": p.file_path}]}));
        components.push(Value::Object(c));
    }
    let depends_on: Vec<Value> = components.iter().filter_map(|c| c.get("bom-ref").cloned()).collect();

    let mut metadata = Map::new();
    metadata.insert("timestamp".into(), json!(timestamp()));
    metadata.insert(
        "tools".into(),
        json!({"components": [{"type": "application", "name": TOOL_NAME, "version": TOOL_VERSION}]}),
    );
    metadata.insert("component".into(), Value::Object(subject));
    if let Some(platform) = &inv.platform {
        metadata.insert("properties".into(), properties(&[(PROP_PLATFORM, platform.clone())]));
    }
    json!({
        "$schema": "http://cyclonedx.org/schema/bom-1.5.schema.json",
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "serialNumber": format!("urn:uuid:{}", uuid::Uuid::new_v4()),
        "version": 1,
        "metadata": metadata,
        "components": components,
        "dependencies": [{"ref": subject_ref, "dependsOn": depends_on}],
    })
}

/// CycloneDX keeps a Maven group and an npm scope in `group`.
fn split_group<'a>(ecosystem: &str, name: &'a str) -> (Option<&'a str>, &'a str) {
    match ecosystem {
        "Maven" => match name.split_once(':') {
            Some((g, a)) if !g.is_empty() && !a.is_empty() => (Some(g), a),
            _ => (None, name),
        },
        "npm" if name.starts_with('@') => match name.split_once('/') {
            Some((s, n)) if !n.is_empty() => (Some(s), n),
            _ => (None, name),
        },
        _ => (None, name),
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{essentials, image_inventory, LAYER_1};
    use super::super::{read, to_cyclonedx};
    use super::*;
    use argus_proto::{Distro, PackageManager};

    #[test]
    fn inventory_survives_a_cyclonedx_round_trip() {
        let inv = image_inventory();
        let doc = to_cyclonedx(&inv);
        let bytes = serde_json::to_vec_pretty(&doc).unwrap();
        let mut back = read(&bytes, "api.cdx.json").unwrap();
        back.normalize();
        assert_eq!(essentials(&back), essentials(&inv));
        assert_eq!(back.warnings, Vec::<String>::new());
        assert_eq!(back.os, inv.os);
        assert_eq!(back.platform.as_deref(), Some("linux/amd64"));
        assert_eq!(back.artifact_digest, inv.artifact_digest);
        let libssl = back.packages.iter().find(|p| p.name == "libssl3").unwrap();
        assert_eq!(libssl.source_name.as_deref(), Some("openssl"));
        assert_eq!(libssl.source_version.as_deref(), Some("3.0.11-1~deb12u2"));
        assert_eq!(libssl.arch.as_deref(), Some("amd64"));
        let zlib = back.packages.iter().find(|p| p.name == "zlib1g").unwrap();
        assert_eq!(zlib.epoch, Some(1));
    }

    #[test]
    fn written_cyclonedx_has_the_1_5_layout() {
        let inv = image_inventory();
        let doc = to_cyclonedx(&inv);
        assert_eq!(doc["bomFormat"], "CycloneDX");
        assert_eq!(doc["specVersion"], "1.5");
        assert_eq!(doc["version"], 1);
        let serial = doc["serialNumber"].as_str().unwrap();
        assert!(serial.starts_with("urn:uuid:") && serial.len() == 45, "{serial}");
        assert_eq!(doc["metadata"]["tools"]["components"][0]["name"], "argus");
        assert_eq!(doc["metadata"]["tools"]["components"][0]["version"], TOOL_VERSION);
        assert_eq!(doc["metadata"]["component"]["type"], "container");
        assert_eq!(
            doc["metadata"]["component"]["name"],
            "registry.example.com/shop/api:1.4.2"
        );
        let components = doc["components"].as_array().unwrap();
        assert_eq!(components.len(), 9);
        assert_eq!(components[0]["type"], "operating-system");
        assert_eq!(components[0]["name"], "debian");
        assert_eq!(components[0]["version"], "12");
        let log4j = components.iter().find(|c| c["name"] == "log4j-core").unwrap();
        assert_eq!(log4j["group"], "org.apache.logging.log4j");
        let babel = components.iter().find(|c| c["name"] == "core").unwrap();
        assert_eq!(babel["group"], "@babel");
        let refs: HashSet<&str> = components.iter().map(|c| c["bom-ref"].as_str().unwrap()).collect();
        assert_eq!(refs.len(), 9, "bom-refs are unique");
        assert!(refs.contains("pkg:pypi/requests@2.31.0") && refs.contains("pkg:pypi/requests@2.31.0|2"));
        let deps = doc["dependencies"].as_array().unwrap();
        assert_eq!(deps.len(), 1);
        assert_eq!(deps[0]["ref"], doc["metadata"]["component"]["bom-ref"]);
        assert_eq!(deps[0]["dependsOn"].as_array().unwrap().len(), 9);
        let libc = components.iter().find(|c| c["name"] == "libc6").unwrap();
        assert_eq!(
            libc["properties"],
            json!([
                {"name": "argus:file_path", "value": "/var/lib/dpkg/status"},
                {"name": "argus:layer_digest", "value": LAYER_1},
                {"name": "argus:package_manager", "value": "DPKG"},
                {"name": "argus:source_name", "value": "glibc"},
            ])
        );
    }

    #[test]
    fn output_is_deterministic_apart_from_serial_and_timestamp() {
        let inv = image_inventory();
        let strip = |mut v: Value| {
            v["serialNumber"] = Value::Null;
            v["metadata"]["timestamp"] = Value::Null;
            v
        };
        assert_eq!(strip(to_cyclonedx(&inv)), strip(to_cyclonedx(&inv)));
    }

    #[test]
    fn directory_inventory_is_a_file_subject() {
        let mut inv = Inventory::new("/src/project");
        inv.packages = image_inventory()
            .packages
            .into_iter()
            .filter(|p| p.name == "requests")
            .collect();
        for p in &mut inv.packages {
            p.layer_digest = None;
        }
        let doc = to_cyclonedx(&inv);
        assert_eq!(doc["metadata"]["component"]["type"], "file");
        assert!(doc["metadata"].get("properties").is_none());
        assert_eq!(doc["components"].as_array().unwrap().len(), 2);
    }

    /// Shaped like `syft -o cyclonedx-json` (CycloneDX 1.6) on a Debian image.
    const SYFT_1_6: &str = r#"{
      "$schema": "http://cyclonedx.org/schema/bom-1.6.schema.json",
      "bomFormat": "CycloneDX",
      "specVersion": "1.6",
      "serialNumber": "urn:uuid:0f3b8c52-5a0e-4d43-9a8e-2f1c9d7b6e41",
      "version": 1,
      "metadata": {
        "timestamp": "2024-06-03T09:12:44Z",
        "tools": {"components": [{"type": "application", "author": "anchore", "name": "syft", "version": "1.5.0"}]},
        "component": {
          "bom-ref": "5c2f6e7d8a9b0c1d",
          "type": "container",
          "name": "python",
          "version": "sha256:7e8a1d0c2b3f4e5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a"
        }
      },
      "components": [
        {
          "bom-ref": "pkg:deb/debian/libc6@2.36-9+deb12u7?arch=amd64&upstream=glibc&distro=debian-12&package-id=8f1f2e3d4c5b6a79",
          "type": "library",
          "publisher": "GNU Libc Maintainers <debian-glibc@lists.debian.org>",
          "name": "libc6",
          "version": "2.36-9+deb12u7",
          "licenses": [{"license": {"id": "LGPL-2.1-only"}}],
          "cpe": "cpe:2.3:a:libc6:libc6:2.36-9\\+deb12u7:*:*:*:*:*:*:*",
          "purl": "pkg:deb/debian/libc6@2.36-9%2Bdeb12u7?arch=amd64&upstream=glibc&distro=debian-12",
          "properties": [
            {"name": "syft:package:foundBy", "value": "dpkg-db-cataloger"},
            {"name": "syft:package:type", "value": "deb"},
            {"name": "syft:package:metadataType", "value": "dpkg-db-entry"},
            {"name": "syft:location:0:layerID", "value": "sha256:1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b"},
            {"name": "syft:location:0:path", "value": "/var/lib/dpkg/status"},
            {"name": "syft:metadata:installedSize", "value": "12986"}
          ]
        },
        {
          "bom-ref": "pkg:deb/debian/perl-base@5.36.0-7%2Bdeb12u1?arch=amd64&upstream=perl&distro=debian-12&package-id=aa11bb22cc33dd44",
          "type": "library",
          "name": "perl-base",
          "version": "5.36.0-7+deb12u1",
          "purl": "pkg:deb/debian/perl-base@5.36.0-7%2Bdeb12u1?arch=amd64&upstream=perl&distro=debian-12",
          "properties": [
            {"name": "syft:location:0:layerID", "value": "sha256:1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b"},
            {"name": "syft:location:0:path", "value": "/var/lib/dpkg/status"}
          ]
        },
        {
          "bom-ref": "pkg:pypi/pip@24.0?package-id=0a9b8c7d6e5f4a3b",
          "type": "library",
          "author": "The pip developers <distutils-sig@python.org>",
          "name": "pip",
          "version": "24.0",
          "licenses": [{"license": {"id": "MIT"}}],
          "cpe": "cpe:2.3:a:python-pip:pip:24.0:*:*:*:*:python:*:*",
          "purl": "pkg:pypi/pip@24.0",
          "properties": [
            {"name": "syft:package:foundBy", "value": "python-installed-package-cataloger"},
            {"name": "syft:package:language", "value": "python"},
            {"name": "syft:location:0:layerID", "value": "sha256:9f8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a39281706f5e4d3c2b1a0"},
            {"name": "syft:location:0:path", "value": "/usr/local/lib/python3.12/site-packages/pip-24.0.dist-info/METADATA"}
          ]
        },
        {
          "bom-ref": "pkg:golang/github.com/docker/cli@v26.1.3%2Bincompatible?package-id=1234abcd",
          "type": "library",
          "name": "github.com/docker/cli",
          "version": "v26.1.3+incompatible",
          "purl": "pkg:golang/github.com/docker/cli@v26.1.3%2Bincompatible",
          "properties": [
            {"name": "syft:location:0:path", "value": "/usr/local/bin/docker"}
          ]
        },
        {
          "bom-ref": "os:debian@12",
          "type": "operating-system",
          "name": "debian",
          "version": "12",
          "description": "Debian GNU/Linux 12 (bookworm)",
          "cpe": "cpe:2.3:o:debian:debian_linux:12:*:*:*:*:*:*:*",
          "swid": {"tagId": "debian", "name": "debian", "version": "12"},
          "externalReferences": [{"url": "https://bugs.debian.org/", "type": "issue-tracker"}],
          "properties": [
            {"name": "syft:distro:id", "value": "debian"},
            {"name": "syft:distro:prettyName", "value": "Debian GNU/Linux 12 (bookworm)"},
            {"name": "syft:distro:versionID", "value": "12"}
          ]
        },
        {
          "bom-ref": "3f2a1b0c9d8e7f6a",
          "type": "file",
          "name": "/usr/local/bin/docker",
          "hashes": [{"alg": "SHA-256", "content": "4b3a2c1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b"}]
        }
      ]
    }"#;

    #[test]
    fn syft_cyclonedx_1_6_image_sbom_is_read() {
        let inv = read(SYFT_1_6.as_bytes(), "/scans/python.cdx.json").unwrap();
        assert_eq!(inv.warnings, Vec::<String>::new());
        let os = inv.os.as_ref().unwrap();
        assert_eq!(os.distro, Some(Distro::Debian));
        assert_eq!(os.version_id, "12");
        assert_eq!(os.pretty_name, "Debian GNU/Linux 12 (bookworm)");
        assert_eq!(os.ecosystem.as_ref().unwrap().as_str(), "Debian:12");
        assert_eq!(inv.artifact_digest, None);
        assert_eq!(inv.packages.len(), 4);
        let libc = &inv.packages[0];
        assert_eq!(libc.name, "libc6");
        assert_eq!(libc.version, "2.36-9+deb12u7");
        assert_eq!(libc.ecosystem.as_str(), "Debian:12");
        assert_eq!(libc.package_manager, PackageManager::Sbom);
        assert_eq!(
            libc.purl,
            "pkg:deb/debian/libc6@2.36-9%2Bdeb12u7?arch=amd64&upstream=glibc&distro=debian-12"
        );
        assert_eq!(libc.file_path, "/var/lib/dpkg/status");
        assert_eq!(
            libc.layer_digest.as_deref(),
            Some("sha256:1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b")
        );
        assert_eq!(libc.source_name.as_deref(), Some("glibc"));
        assert_eq!(libc.arch.as_deref(), Some("amd64"));
        assert_eq!(libc.release.as_deref(), Some("9+deb12u7"));
        let pip = inv.packages.iter().find(|p| p.name == "pip").unwrap();
        assert_eq!(pip.ecosystem.as_str(), "PyPI");
        assert_eq!(
            pip.file_path,
            "/usr/local/lib/python3.12/site-packages/pip-24.0.dist-info/METADATA"
        );
        let cli = inv.packages.iter().find(|p| p.ecosystem.as_str() == "Go").unwrap();
        assert_eq!(
            (cli.name.as_str(), cli.version.as_str()),
            ("github.com/docker/cli", "26.1.3+incompatible")
        );
        assert_eq!(cli.file_path, "/usr/local/bin/docker");
    }

    /// Shaped like `cdxgen` (CycloneDX 1.4) on a Node.js + Java project: nested components, an
    /// application subject with its own purl, a component without purl, and a `generic` purl.
    const CDXGEN_1_4: &str = r#"{
      "bomFormat": "CycloneDX",
      "specVersion": "1.4",
      "serialNumber": "urn:uuid:6c1b4f3e-2d9a-4b8c-9e7f-1a2b3c4d5e6f",
      "version": 1,
      "metadata": {
        "timestamp": "2023-11-20T14:05:31.118Z",
        "tools": [{"vendor": "cyclonedx", "name": "cdxgen", "version": "9.9.2"}],
        "authors": [{"name": "OWASP Foundation"}],
        "component": {
          "group": "@acme",
          "name": "storefront",
          "version": "2.3.0",
          "type": "application",
          "bom-ref": "pkg:npm/%40acme/storefront@2.3.0",
          "purl": "pkg:npm/%40acme/storefront@2.3.0"
        }
      },
      "components": [
        {
          "group": "@babel",
          "name": "traverse",
          "version": "7.23.0",
          "scope": "required",
          "hashes": [{"alg": "SHA-512", "content": "a1b2c3"}],
          "licenses": [{"license": {"id": "MIT"}}],
          "purl": "pkg:npm/%40babel/traverse@7.23.0",
          "type": "library",
          "bom-ref": "pkg:npm/@babel/traverse@7.23.0",
          "evidence": {"identity": {"field": "purl", "confidence": 1}},
          "properties": [{"name": "SrcFile", "value": "/work/storefront/package-lock.json"}]
        },
        {
          "group": "",
          "name": "Flask_Cors",
          "version": "4.0.0",
          "purl": "pkg:pypi/Flask_Cors@4.0.0",
          "type": "library",
          "bom-ref": "pkg:pypi/flask-cors@4.0.0"
        },
        {
          "group": "org.springframework",
          "name": "spring-web",
          "version": "5.3.18",
          "purl": "pkg:maven/org.springframework/spring-web@5.3.18?type=jar",
          "type": "framework",
          "bom-ref": "pkg:maven/org.springframework/spring-web@5.3.18?type=jar",
          "components": [
            {
              "group": "org.springframework",
              "name": "spring-core",
              "version": "5.3.18",
              "purl": "pkg:maven/org.springframework/spring-core@5.3.18?type=jar",
              "type": "library",
              "bom-ref": "pkg:maven/org.springframework/spring-core@5.3.18?type=jar"
            }
          ]
        },
        {
          "name": "vendored-tool",
          "version": "0.9",
          "type": "library",
          "bom-ref": "vendored-tool@0.9"
        },
        {
          "name": "libjpeg",
          "version": "9e",
          "purl": "pkg:generic/libjpeg@9e",
          "type": "library",
          "bom-ref": "pkg:generic/libjpeg@9e"
        },
        {
          "name": "zlib",
          "version": "1.3",
          "purl": "pkg:generic/zlib@1.3",
          "type": "library",
          "bom-ref": "pkg:generic/zlib@1.3"
        }
      ],
      "dependencies": [
        {"ref": "pkg:npm/%40acme/storefront@2.3.0", "dependsOn": ["pkg:npm/@babel/traverse@7.23.0"]}
      ]
    }"#;

    #[test]
    fn cdxgen_cyclonedx_1_4_project_sbom_is_read() {
        let inv = read(CDXGEN_1_4.as_bytes(), "/work/storefront/bom.json").unwrap();
        let names: Vec<(&str, &str, &str)> = inv
            .packages
            .iter()
            .map(|p| (p.ecosystem.as_str(), p.name.as_str(), p.version.as_str()))
            .collect();
        assert_eq!(
            names,
            vec![
                ("npm", "@acme/storefront", "2.3.0"),
                ("npm", "@babel/traverse", "7.23.0"),
                ("PyPI", "flask-cors", "4.0.0"),
                ("Maven", "org.springframework:spring-web", "5.3.18"),
                ("Maven", "org.springframework:spring-core", "5.3.18"),
            ]
        );
        assert!(inv.packages.iter().all(|p| p.file_path == "/work/storefront/bom.json"));
        assert!(inv.os.is_none());
        assert_eq!(
            inv.warnings,
            vec![
                "/work/storefront/bom.json: skipped packages with purl type \"generic\": argus knows no osv ecosystem for it"
                    .to_string(),
                "/work/storefront/bom.json: skipped 1 entries without a purl (first: vendored-tool@0.9)".to_string(),
            ]
        );
    }

    /// Shaped like `trivy image --format cyclonedx` (CycloneDX 1.5): OS packages with the epoch
    /// in a purl qualifier, Trivy's own properties for file path, layer and source package.
    const TRIVY_1_5: &str = r#"{
      "$schema": "http://cyclonedx.org/schema/bom-1.5.schema.json",
      "bomFormat": "CycloneDX",
      "specVersion": "1.5",
      "serialNumber": "urn:uuid:2b7c9d1e-3f4a-4b5c-8d6e-7f8091a2b3c4",
      "version": 1,
      "metadata": {
        "timestamp": "2024-05-21T08:30:00+00:00",
        "tools": {"components": [{"type": "application", "group": "aquasecurity", "name": "trivy", "version": "0.51.2"}]},
        "component": {
          "bom-ref": "pkg:oci/redis@sha256%3A0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef?arch=amd64&repository_url=index.docker.io%2Flibrary%2Fredis",
          "type": "container",
          "name": "redis:7.2",
          "purl": "pkg:oci/redis@sha256%3A0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef?arch=amd64&repository_url=index.docker.io%2Flibrary%2Fredis",
          "properties": [{"name": "aquasecurity:trivy:SchemaVersion", "value": "2"}]
        }
      },
      "components": [
        {
          "bom-ref": "9d0c5e51-0e7a-4f3b-a9b1-7f3e2b6c8d90",
          "type": "operating-system",
          "name": "debian",
          "version": "12.5",
          "properties": [
            {"name": "aquasecurity:trivy:Class", "value": "os-pkgs"},
            {"name": "aquasecurity:trivy:Type", "value": "debian"}
          ]
        },
        {
          "bom-ref": "pkg:deb/debian/libgcrypt20@1.10.1-3?arch=amd64&distro=debian-12.5&epoch=0",
          "type": "library",
          "supplier": {"name": "Debian GnuTLS Maintainers"},
          "name": "libgcrypt20",
          "version": "1.10.1-3",
          "purl": "pkg:deb/debian/libgcrypt20@1.10.1-3?arch=amd64&distro=debian-12.5",
          "properties": [
            {"name": "aquasecurity:trivy:LayerDiffID", "value": "sha256:aaaa"},
            {"name": "aquasecurity:trivy:LayerDigest", "value": "sha256:09f376ebb190216b0459f470e71bec7b5dfa611d66bf008492b40dcc5f1d8eae"},
            {"name": "aquasecurity:trivy:PkgID", "value": "libgcrypt20@1.10.1-3"},
            {"name": "aquasecurity:trivy:PkgType", "value": "debian"},
            {"name": "aquasecurity:trivy:SrcName", "value": "libgcrypt20"},
            {"name": "aquasecurity:trivy:SrcVersion", "value": "1.10.1-3"}
          ]
        },
        {
          "bom-ref": "pkg:deb/debian/zlib1g@1.2.13.dfsg-1?arch=amd64&distro=debian-12.5&epoch=1",
          "type": "library",
          "name": "zlib1g",
          "version": "1:1.2.13.dfsg-1",
          "purl": "pkg:deb/debian/zlib1g@1.2.13.dfsg-1?arch=amd64&distro=debian-12.5&epoch=1",
          "properties": [
            {"name": "aquasecurity:trivy:LayerDigest", "value": "sha256:09f376ebb190216b0459f470e71bec7b5dfa611d66bf008492b40dcc5f1d8eae"},
            {"name": "aquasecurity:trivy:SrcName", "value": "zlib"},
            {"name": "aquasecurity:trivy:SrcVersion", "value": "1.2.13.dfsg-1"}
          ]
        },
        {
          "bom-ref": "pkg:golang/github.com/redis/go-redis/v9@v9.5.1",
          "type": "library",
          "name": "github.com/redis/go-redis/v9",
          "version": "v9.5.1",
          "purl": "pkg:golang/github.com/redis/go-redis/v9@v9.5.1",
          "properties": [
            {"name": "aquasecurity:trivy:FilePath", "value": "usr/local/bin/redis-exporter"},
            {"name": "aquasecurity:trivy:LayerDigest", "value": "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef"},
            {"name": "aquasecurity:trivy:PkgType", "value": "gobinary"}
          ]
        },
        {
          "bom-ref": "a7b8c9d0-e1f2-4a3b-8c4d-5e6f7a8b9c0d",
          "type": "application",
          "name": "usr/local/bin/redis-exporter",
          "properties": [{"name": "aquasecurity:trivy:Class", "value": "lang-pkgs"}]
        }
      ],
      "dependencies": []
    }"#;

    #[test]
    fn trivy_cyclonedx_1_5_image_sbom_is_read() {
        let inv = read(TRIVY_1_5.as_bytes(), "redis.cdx.json").unwrap();
        assert_eq!(inv.warnings, Vec::<String>::new());
        assert_eq!(
            inv.os.as_ref().unwrap().ecosystem.as_ref().unwrap().as_str(),
            "Debian:12"
        );
        assert_eq!(inv.os.as_ref().unwrap().version_id, "12.5");
        assert_eq!(inv.packages.len(), 3);
        let zlib = inv.packages.iter().find(|p| p.name == "zlib1g").unwrap();
        assert_eq!(zlib.version, "1:1.2.13.dfsg-1");
        assert_eq!(zlib.epoch, Some(1));
        assert_eq!(zlib.ecosystem.as_str(), "Debian:12");
        assert_eq!(zlib.source_name.as_deref(), Some("zlib"));
        assert_eq!(zlib.file_path, "redis.cdx.json");
        assert_eq!(
            zlib.layer_digest.as_deref(),
            Some("sha256:09f376ebb190216b0459f470e71bec7b5dfa611d66bf008492b40dcc5f1d8eae")
        );
        let goredis = inv.packages.iter().find(|p| p.ecosystem.as_str() == "Go").unwrap();
        assert_eq!(goredis.name, "github.com/redis/go-redis/v9");
        assert_eq!(goredis.file_path, "/usr/local/bin/redis-exporter");
    }

    #[test]
    fn broken_components_become_warnings_and_the_rest_is_read() {
        let doc = r#"{
          "bomFormat": "CycloneDX", "specVersion": "1.5",
          "components": [
            42,
            {"type": "library", "name": "a", "purl": 7},
            {"type": "library", "name": "b", "purl": "pkg:npm/b"},
            {"type": "library", "name": "c", "version": "1", "purl": "not a purl"},
            {"type": "library", "name": "d", "version": "1", "purl": "pkg:maven/d@1"},
            {"type": "library", "name": "e", "purl": "pkg:deb/e@1.0"},
            {"type": "library", "name": "f", "version": "1", "purl": "pkg:npm/f@1", "components": "many"},
            {"type": "library", "name": "ok", "version": "2.0.0", "purl": "pkg:cargo/ok@2.0.0",
             "properties": [{"name": "argus:package_manager", "value": "CARGO"}, {"name": "argus:file_path"}, 5]}
          ]
        }"#;
        let inv = read(doc.as_bytes(), "x.json").unwrap();
        let got: Vec<_> = inv
            .packages
            .iter()
            .map(|p| (p.name.as_str(), p.ecosystem.as_str()))
            .collect();
        assert_eq!(got, vec![("f", "npm"), ("ok", "crates.io")]);
        assert_eq!(inv.packages[1].package_manager, PackageManager::Cargo);
        assert_eq!(inv.packages[1].file_path, "x.json");
        assert_eq!(inv.warnings.len(), 7, "{:#?}", inv.warnings);
        assert!(inv.warnings.iter().all(|w| w.starts_with("x.json: ")));
        assert!(inv.warnings.contains(&"x.json: b: no version; skipped".to_string()));
        assert!(inv
            .warnings
            .contains(&"x.json: a: purl is not a string; skipped".to_string()));
    }

    #[test]
    fn nesting_is_bounded() {
        let mut doc = String::from(r#"{"bomFormat":"CycloneDX","specVersion":"1.6","components":["#);
        for i in 0..60 {
            doc.push_str(&format!(
                r#"{{"type":"library","name":"p{i}","version":"1","purl":"pkg:npm/p{i}@1","components":["#
            ));
        }
        doc.push_str(&"]}".repeat(60));
        doc.push_str("]}");
        let inv = read(doc.as_bytes(), "nested.json").unwrap();
        assert_eq!(inv.packages.len(), MAX_DEPTH + 1);
        assert_eq!(
            inv.warnings,
            vec![format!(
                "nested.json: components nested deeper than {MAX_DEPTH} levels skipped"
            )]
        );
    }

    #[test]
    fn warnings_are_capped() {
        let comps: Vec<String> = (0..1000)
            .map(|i| format!(r#"{{"type":"library","name":"n{i}","purl":"pkg:npm/n{i}"}}"#))
            .collect();
        let doc = format!(
            r#"{{"bomFormat":"CycloneDX","specVersion":"1.5","components":[{}]}}"#,
            comps.join(",")
        );
        let inv = read(doc.as_bytes(), "many.json").unwrap();
        assert_eq!(inv.warnings.len(), 201);
        assert_eq!(inv.warnings[200], "many.json: 800 further warnings not shown");
    }

    #[test]
    fn newer_minor_version_is_read_with_a_warning() {
        let doc = r#"{"bomFormat":"CycloneDX","specVersion":"1.7","components":[{"type":"library","name":"x","version":"1","purl":"pkg:gem/x@1"}]}"#;
        let inv = read(doc.as_bytes(), "new.json").unwrap();
        assert_eq!(inv.packages.len(), 1);
        assert_eq!(
            inv.warnings,
            vec!["new.json: cyclonedx 1.7 is newer than argus knows; read as 1.6".to_string()]
        );
    }
}
