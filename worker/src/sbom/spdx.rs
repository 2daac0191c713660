//! SPDX JSON: reads SPDX 2.2 and 2.3 documents, writes 2.3.
//!
//! SPDX has no free-form package properties, so Argus's own fields travel as package annotations
//! whose comment is `argus:<field>=<value>`.

use std::collections::HashSet;

use argus_proto::Inventory;
use serde_json::{json, Map, Value};

use super::{
    absolute, argus_properties, is_image, os_info, sha256_hex, timestamp, Declared, Reader, PROP_FILE_PATH,
    PROP_LAYER_DIGEST, PROP_PACKAGE_MANAGER, PROP_PLATFORM, PROP_SOURCE_NAME, PROP_SOURCE_VERSION, TOOL_NAME,
    TOOL_VERSION,
};
use crate::{Error, Result};

const DOCUMENT_ID: &str = "SPDXRef-DOCUMENT";
const ROOT_ID: &str = "SPDXRef-Artifact";
const OS_ID: &str = "SPDXRef-OperatingSystem";
const NOASSERTION: &str = "NOASSERTION";
const SOURCE_INFO_PREFIX: &str = "acquired package info from ";

pub(super) fn read(doc: &Map<String, Value>, target: &str) -> Result<Inventory> {
    let malformed = |msg: &str| Error::malformed(target, msg);
    let version = doc
        .get("spdxVersion")
        .and_then(Value::as_str)
        .ok_or_else(|| malformed("spdxVersion is not a string"))?;
    if !matches!(version.trim(), "SPDX-2.2" | "SPDX-2.3") {
        return Err(Error::malformed(
            target,
            format!("unsupported spdxVersion {version:?}; argus reads SPDX-2.2 and SPDX-2.3"),
        ));
    }
    let packages = array_field(doc, "packages").ok_or_else(|| malformed("spdx packages is not an array"))?;
    let relationships =
        array_field(doc, "relationships").ok_or_else(|| malformed("spdx relationships is not an array"))?;
    // What the document describes is its subject, not a package: an image's root carries a
    // `pkg:oci` purl, a project's root often none.
    let mut roots: HashSet<&str> = relationships
        .iter()
        .filter(|r| {
            r.get("spdxElementId").and_then(Value::as_str) == Some(DOCUMENT_ID)
                && r.get("relationshipType").and_then(Value::as_str) == Some("DESCRIBES")
        })
        .filter_map(|r| r.get("relatedSpdxElement").and_then(Value::as_str))
        .collect();
    if let Some(Value::Array(described)) = doc.get("documentDescribes") {
        roots.extend(described.iter().filter_map(Value::as_str));
    }

    let mut r = Reader::new(target);
    let objects = || packages.iter().filter_map(Value::as_object);
    if let Some(os) = objects().find(|p| str_field(p, "primaryPackagePurpose") == Some("OPERATING-SYSTEM")) {
        if let Some(name) = str_field(os, "name").filter(|n| !n.trim().is_empty()) {
            let version = str_field(os, "versionInfo").unwrap_or("");
            r.set_os(os_info(name, version, str_field(os, "description")));
        }
    }
    for root in objects().filter(|p| str_field(p, "SPDXID").is_some_and(|id| roots.contains(id))) {
        if let Some(platform) = annotations(root)
            .into_iter()
            .find_map(|(k, v)| (k == PROP_PLATFORM).then_some(v))
        {
            r.set_platform(platform);
        }
        if let Some(digest) = checksum_sha256(root) {
            r.set_artifact_digest(digest);
        }
    }
    for package in packages {
        let Some(p) = package.as_object() else {
            r.warn("a package is not a json object; skipped");
            continue;
        };
        if str_field(p, "primaryPackagePurpose") == Some("OPERATING-SYSTEM") {
            continue;
        }
        let is_root = str_field(p, "SPDXID").is_some_and(|id| roots.contains(id));
        let label = label(p);
        match purl(p) {
            Some(purl) => {
                let d = declared(p, label);
                r.add(purl, d, is_root);
            }
            None => {
                let named = str_field(p, "name").is_some_and(|n| !n.trim().is_empty())
                    && str_field(p, "versionInfo").is_some_and(|v| !v.trim().is_empty());
                if named && !is_root {
                    r.no_purl(label);
                }
            }
        }
    }
    Ok(r.finish())
}

/// An optional array field: absent or null reads as empty, any other type is `None`.
fn array_field<'a>(doc: &'a Map<String, Value>, key: &str) -> Option<&'a [Value]> {
    match doc.get(key) {
        None | Some(Value::Null) => Some(&[]),
        Some(Value::Array(a)) => Some(a.as_slice()),
        Some(_) => None,
    }
}

fn str_field<'a>(p: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    p.get(key).and_then(Value::as_str)
}

fn label(p: &Map<String, Value>) -> String {
    let name = str_field(p, "name").unwrap_or("");
    let l = match (name, str_field(p, "versionInfo")) {
        ("", _) => str_field(p, "SPDXID").unwrap_or("unnamed package").to_string(),
        (n, Some(v)) => format!("{n}@{v}"),
        (n, None) => n.to_string(),
    };
    l.chars().take(200).collect()
}

/// The package's purl: an external reference of category `PACKAGE-MANAGER` (2.3 spelling) or
/// `PACKAGE_MANAGER` (2.2 spelling) and type `purl`.
fn purl(p: &Map<String, Value>) -> Option<&str> {
    p.get("externalRefs")?.as_array()?.iter().find_map(|r| {
        let r = r.as_object()?;
        let category = str_field(r, "referenceCategory")?;
        let is_pm =
            category.eq_ignore_ascii_case("PACKAGE-MANAGER") || category.eq_ignore_ascii_case("PACKAGE_MANAGER");
        if is_pm && str_field(r, "referenceType")? == "purl" {
            str_field(r, "referenceLocator").filter(|l| !l.trim().is_empty())
        } else {
            None
        }
    })
}

/// Annotation comments as (key, value): Argus writes `argus:key=value`, Trivy writes `Key: value`.
fn annotations(p: &Map<String, Value>) -> Vec<(String, String)> {
    let Some(list) = p.get("annotations").and_then(Value::as_array) else {
        return Vec::new();
    };
    list.iter()
        .filter_map(|a| a.get("comment").and_then(Value::as_str))
        .filter_map(|c| {
            let c = c.trim();
            if c.starts_with("argus:") {
                c.split_once('=').map(|(k, v)| (k.to_string(), v.to_string()))
            } else {
                c.split_once(": ").map(|(k, v)| (k.to_string(), v.trim().to_string()))
            }
        })
        .filter(|(_, v)| !v.is_empty())
        .collect()
}

/// The first path in a `sourceInfo` such as Syft's "acquired package info from installed python
/// package manifest file: /usr/lib/x.dist-info/METADATA, /usr/lib/x.dist-info/RECORD" or Argus's
/// "acquired package info from /var/lib/dpkg/status".
fn path_from_source_info(info: &str) -> Option<String> {
    let rest = match info.rsplit_once(": ") {
        Some((_, r)) => r,
        None => info.strip_prefix(SOURCE_INFO_PREFIX)?,
    };
    let first = rest.split(", ").next()?.trim();
    first.starts_with('/').then(|| first.to_string())
}

fn declared(p: &Map<String, Value>, label: String) -> Declared {
    let notes = annotations(p);
    let note = |k: &str| notes.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone());
    Declared {
        label,
        version: str_field(p, "versionInfo").map(str::to_string),
        file_path: note(PROP_FILE_PATH)
            .or_else(|| note("FilePath").map(|f| absolute(&f)))
            .or_else(|| str_field(p, "sourceInfo").and_then(path_from_source_info)),
        layer_digest: note(PROP_LAYER_DIGEST).or_else(|| note("LayerDigest")),
        package_manager: note(PROP_PACKAGE_MANAGER),
        source_name: note(PROP_SOURCE_NAME).or_else(|| note("SrcName")),
        source_version: note(PROP_SOURCE_VERSION).or_else(|| note("SrcVersion")),
    }
}

fn checksum_sha256(p: &Map<String, Value>) -> Option<String> {
    p.get("checksums")?.as_array()?.iter().find_map(|c| {
        let alg = c.get("algorithm")?.as_str()?;
        let value = c.get("checksumValue")?.as_str()?;
        (alg == "SHA256" && value.len() == 64 && value.bytes().all(|b| b.is_ascii_hexdigit()))
            .then(|| format!("sha256:{}", value.to_ascii_lowercase()))
    })
}

/// Characters SPDX allows in a URI path segment without escaping, everything else becomes `-`.
fn namespace_safe(target: &str) -> String {
    let s: String = target
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '-'
            }
        })
        .collect();
    let s = s.trim_matches('-');
    if s.is_empty() {
        "artifact".into()
    } else {
        s.chars().take(200).collect()
    }
}

fn annotation(created: &str, comment: String) -> Value {
    json!({
        "annotationDate": created,
        "annotationType": "OTHER",
        "annotator": format!("Tool: {TOOL_NAME}-{TOOL_VERSION}"),
        "comment": comment,
    })
}

pub(super) fn write(inv: &Inventory) -> Value {
    let created = timestamp();
    let mut root = Map::new();
    root.insert("SPDXID".into(), json!(ROOT_ID));
    root.insert("name".into(), json!(inv.target));
    root.insert("downloadLocation".into(), json!(NOASSERTION));
    root.insert("filesAnalyzed".into(), json!(false));
    root.insert(
        "primaryPackagePurpose".into(),
        json!(if is_image(inv) { "CONTAINER" } else { "FILE" }),
    );
    if let Some(hex) = inv.artifact_digest.as_deref().and_then(sha256_hex) {
        root.insert(
            "checksums".into(),
            json!([{"algorithm": "SHA256", "checksumValue": hex}]),
        );
    }
    if let Some(platform) = &inv.platform {
        root.insert(
            "annotations".into(),
            json!([annotation(&created, format!("{PROP_PLATFORM}={platform}"))]),
        );
    }
    let mut packages = vec![Value::Object(root)];
    let mut relationships = vec![json!({
        "spdxElementId": DOCUMENT_ID,
        "relationshipType": "DESCRIBES",
        "relatedSpdxElement": ROOT_ID,
    })];
    let mut contains = |id: &str| {
        relationships.push(json!({
            "spdxElementId": ROOT_ID,
            "relationshipType": "CONTAINS",
            "relatedSpdxElement": id,
        }))
    };
    if let Some(os) = &inv.os {
        let mut p = Map::new();
        p.insert("SPDXID".into(), json!(OS_ID));
        p.insert("name".into(), json!(os.id));
        if !os.version_id.is_empty() {
            p.insert("versionInfo".into(), json!(os.version_id));
        }
        if !os.pretty_name.is_empty() {
            p.insert("description".into(), json!(os.pretty_name));
        }
        p.insert("downloadLocation".into(), json!(NOASSERTION));
        p.insert("filesAnalyzed".into(), json!(false));
        p.insert("primaryPackagePurpose".into(), json!("OPERATING-SYSTEM"));
        packages.push(Value::Object(p));
        contains(OS_ID);
    }
    for (i, pkg) in inv.packages.iter().enumerate() {
        let id = format!("SPDXRef-Package-{}", i + 1);
        let mut p = Map::new();
        p.insert("SPDXID".into(), json!(id));
        p.insert("name".into(), json!(pkg.name));
        p.insert("versionInfo".into(), json!(pkg.version));
        p.insert("downloadLocation".into(), json!(NOASSERTION));
        p.insert("filesAnalyzed".into(), json!(false));
        // Optional since 2.3, but SPDX 2.2 consumers still require them.
        p.insert("licenseConcluded".into(), json!(NOASSERTION));
        p.insert("licenseDeclared".into(), json!(NOASSERTION));
        p.insert("copyrightText".into(), json!(NOASSERTION));
        p.insert("primaryPackagePurpose".into(), json!("LIBRARY"));
        p.insert(
            "sourceInfo".into(),
            json!(format!("{SOURCE_INFO_PREFIX}{}", pkg.file_path)),
        );
        if !pkg.purl.is_empty() {
            p.insert(
                "externalRefs".into(),
                json!([{"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl", "referenceLocator": pkg.purl}]),
            );
        }
        let notes: Vec<Value> = argus_properties(pkg)
            .into_iter()
            .map(|(k, v)| annotation(&created, format!("{k}={v}")))
            .collect();
        p.insert("annotations".into(), Value::Array(notes));
        packages.push(Value::Object(p));
        contains(&id);
    }
    json!({
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": DOCUMENT_ID,
        "name": inv.target,
        // The namespace only has to be a unique URI; `.invalid` is reserved (RFC 2606) so it can
        // never resolve, and Argus claims no domain it does not own.
        "documentNamespace": format!("https://argus.invalid/spdx/{}-{}", namespace_safe(&inv.target), uuid::Uuid::new_v4()),
        "creationInfo": {
            "created": created,
            "creators": [format!("Tool: {TOOL_NAME}-{TOOL_VERSION}")],
        },
        "packages": packages,
        "relationships": relationships,
    })
}

#[cfg(test)]
mod tests {
    use super::super::tests::{essentials, image_inventory};
    use super::super::{read, to_spdx};
    use super::*;
    use argus_proto::{Distro, PackageManager};

    #[test]
    fn inventory_survives_an_spdx_round_trip() {
        let inv = image_inventory();
        let doc = to_spdx(&inv);
        let bytes = serde_json::to_vec_pretty(&doc).unwrap();
        let mut back = read(&bytes, "api.spdx.json").unwrap();
        back.normalize();
        assert_eq!(essentials(&back), essentials(&inv));
        assert_eq!(back.warnings, Vec::<String>::new());
        assert_eq!(back.os, inv.os);
        assert_eq!(back.platform.as_deref(), Some("linux/amd64"));
        assert_eq!(back.artifact_digest, inv.artifact_digest);
        let libssl = back.packages.iter().find(|p| p.name == "libssl3").unwrap();
        assert_eq!(libssl.source_name.as_deref(), Some("openssl"));
        assert_eq!(libssl.source_version.as_deref(), Some("3.0.11-1~deb12u2"));
    }

    #[test]
    fn written_spdx_has_the_2_3_layout() {
        let inv = image_inventory();
        let doc = to_spdx(&inv);
        assert_eq!(doc["spdxVersion"], "SPDX-2.3");
        assert_eq!(doc["dataLicense"], "CC0-1.0");
        assert_eq!(doc["SPDXID"], "SPDXRef-DOCUMENT");
        let ns = doc["documentNamespace"].as_str().unwrap();
        assert!(
            ns.starts_with("https://argus.invalid/spdx/registry.example.com-shop-api-1.4.2-"),
            "{ns}"
        );
        assert_eq!(
            doc["creationInfo"]["creators"],
            json!([format!("Tool: argus-{TOOL_VERSION}")])
        );
        let packages = doc["packages"].as_array().unwrap();
        assert_eq!(packages.len(), 10);
        assert_eq!(packages[0]["SPDXID"], ROOT_ID);
        assert_eq!(packages[0]["primaryPackagePurpose"], "CONTAINER");
        assert_eq!(packages[1]["primaryPackagePurpose"], "OPERATING-SYSTEM");
        for p in &packages[2..] {
            let id = p["SPDXID"].as_str().unwrap();
            assert!(id.starts_with("SPDXRef-Package-"));
            assert!(
                id.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-'),
                "{id}"
            );
            assert_eq!(p["downloadLocation"], "NOASSERTION");
            assert_eq!(p["filesAnalyzed"], false);
            assert_eq!(p["externalRefs"][0]["referenceCategory"], "PACKAGE-MANAGER");
        }
        let libc = packages.iter().find(|p| p["name"] == "libc6").unwrap();
        assert_eq!(libc["sourceInfo"], "acquired package info from /var/lib/dpkg/status");
        let rel = doc["relationships"].as_array().unwrap();
        assert_eq!(rel.len(), 10);
        assert_eq!(
            rel[0],
            json!({"spdxElementId": "SPDXRef-DOCUMENT", "relationshipType": "DESCRIBES", "relatedSpdxElement": ROOT_ID})
        );
        assert!(rel[1..]
            .iter()
            .all(|r| r["relationshipType"] == "CONTAINS" && r["spdxElementId"] == ROOT_ID));
    }

    #[test]
    fn output_is_deterministic_apart_from_namespace_and_timestamps() {
        let inv = image_inventory();
        let strip = |v: Value| {
            let s = serde_json::to_string(&v).unwrap();
            let created = v["creationInfo"]["created"].as_str().unwrap().to_string();
            let ns = v["documentNamespace"].as_str().unwrap().to_string();
            s.replace(&created, "T").replace(&ns, "N")
        };
        assert_eq!(strip(to_spdx(&inv)), strip(to_spdx(&inv)));
    }

    /// Shaped like `syft -o spdx-json` on an Alpine image: the image root with a `pkg:oci` purl
    /// and DESCRIBES relationship, sourceInfo naming the database, 2.3 reference categories.
    const SYFT_SPDX_2_3: &str = r#"{
      "spdxVersion": "SPDX-2.3",
      "dataLicense": "CC0-1.0",
      "SPDXID": "SPDXRef-DOCUMENT",
      "name": "alpine",
      "documentNamespace": "https://anchore.com/syft/image/alpine-1f2e3d4c-5b6a-4978-8a9b-0c1d2e3f4a5b",
      "creationInfo": {"licenseListVersion": "3.24", "creators": ["Organization: Anchore, Inc", "Tool: syft-1.5.0"], "created": "2024-06-03T09:20:11Z"},
      "packages": [
        {
          "name": "alpine",
          "SPDXID": "SPDXRef-DocumentRoot-Image-alpine",
          "versionInfo": "sha256:a606584aa9aa875552092ec9e1d62cb98d486f51f389609914039aabd9414687",
          "supplier": "NOASSERTION",
          "downloadLocation": "NOASSERTION",
          "filesAnalyzed": false,
          "checksums": [{"algorithm": "SHA256", "checksumValue": "a606584aa9aa875552092ec9e1d62cb98d486f51f389609914039aabd9414687"}],
          "licenseConcluded": "NOASSERTION",
          "licenseDeclared": "NOASSERTION",
          "copyrightText": "NOASSERTION",
          "externalRefs": [{"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl", "referenceLocator": "pkg:oci/alpine@sha256%3Aa606584aa9aa875552092ec9e1d62cb98d486f51f389609914039aabd9414687?arch=amd64&tag=3.20.0"}],
          "primaryPackagePurpose": "CONTAINER"
        },
        {
          "name": "busybox",
          "SPDXID": "SPDXRef-Package-apk-busybox-6d2ad4e6a0bbf2b0",
          "versionInfo": "1.36.1-r28",
          "supplier": "Person: Sören Tempel <soeren+alpine@soeren-tempel.net>",
          "originator": "Person: Sören Tempel <soeren+alpine@soeren-tempel.net>",
          "downloadLocation": "https://busybox.net/",
          "filesAnalyzed": false,
          "sourceInfo": "acquired package info from APK DB: /lib/apk/db/installed",
          "licenseConcluded": "NOASSERTION",
          "licenseDeclared": "GPL-2.0-only",
          "copyrightText": "NOASSERTION",
          "description": "Size optimized toolbox of many common UNIX utilities",
          "externalRefs": [
            {"referenceCategory": "SECURITY", "referenceType": "cpe23Type", "referenceLocator": "cpe:2.3:a:busybox:busybox:1.36.1-r28:*:*:*:*:*:*:*"},
            {"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl", "referenceLocator": "pkg:apk/alpine/busybox@1.36.1-r28?arch=x86_64&upstream=busybox&distro=alpine-3.20.0"}
          ]
        },
        {
          "name": "ssl_client",
          "SPDXID": "SPDXRef-Package-apk-ssl-client-1a2b3c4d5e6f7a8b",
          "versionInfo": "1.36.1-r28",
          "downloadLocation": "https://busybox.net/",
          "filesAnalyzed": false,
          "sourceInfo": "acquired package info from APK DB: /lib/apk/db/installed",
          "externalRefs": [
            {"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl", "referenceLocator": "pkg:apk/alpine/ssl_client@1.36.1-r28?arch=x86_64&upstream=busybox&distro=alpine-3.20.0"}
          ]
        },
        {
          "name": "alpine-baselayout-data",
          "SPDXID": "SPDXRef-Package-apk-alpine-baselayout-data-0f1e2d3c",
          "versionInfo": "3.6.5-r0",
          "downloadLocation": "NOASSERTION",
          "filesAnalyzed": false,
          "sourceInfo": "acquired package info from APK DB: /lib/apk/db/installed",
          "externalRefs": []
        },
        {
          "name": "setuptools",
          "SPDXID": "SPDXRef-Package-python-setuptools-9a8b7c6d",
          "versionInfo": "70.0.0",
          "downloadLocation": "NOASSERTION",
          "filesAnalyzed": false,
          "sourceInfo": "acquired package info from installed python package manifest file: /usr/lib/python3.12/site-packages/setuptools-70.0.0.dist-info/METADATA, /usr/lib/python3.12/site-packages/setuptools-70.0.0.dist-info/RECORD",
          "externalRefs": [
            {"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl", "referenceLocator": "pkg:pypi/setuptools@70.0.0"}
          ]
        }
      ],
      "files": [
        {"fileName": "/lib/apk/db/installed", "SPDXID": "SPDXRef-File-lib-apk-db-installed-3b2a1c", "checksums": [{"algorithm": "SHA1", "checksumValue": "0000000000000000000000000000000000000000"}], "licenseConcluded": "NOASSERTION", "copyrightText": ""}
      ],
      "relationships": [
        {"spdxElementId": "SPDXRef-DOCUMENT", "relatedSpdxElement": "SPDXRef-DocumentRoot-Image-alpine", "relationshipType": "DESCRIBES"},
        {"spdxElementId": "SPDXRef-Package-apk-busybox-6d2ad4e6a0bbf2b0", "relatedSpdxElement": "SPDXRef-File-lib-apk-db-installed-3b2a1c", "relationshipType": "OTHER", "comment": "evident-by: indicates the package's existence is evident by the given file"}
      ]
    }"#;

    #[test]
    fn syft_spdx_2_3_image_sbom_is_read() {
        let inv = read(SYFT_SPDX_2_3.as_bytes(), "alpine.spdx.json").unwrap();
        assert_eq!(
            inv.warnings,
            vec![
                "alpine.spdx.json: skipped 1 entries without a purl (first: alpine-baselayout-data@3.6.5-r0)"
                    .to_string()
            ]
        );
        assert_eq!(
            inv.artifact_digest.as_deref(),
            Some("sha256:a606584aa9aa875552092ec9e1d62cb98d486f51f389609914039aabd9414687")
        );
        assert!(inv.os.is_none());
        let got: Vec<_> = inv
            .packages
            .iter()
            .map(|p| {
                (
                    p.ecosystem.as_str(),
                    p.name.as_str(),
                    p.version.as_str(),
                    p.file_path.as_str(),
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                ("Alpine:v3.20", "busybox", "1.36.1-r28", "/lib/apk/db/installed"),
                ("Alpine:v3.20", "ssl_client", "1.36.1-r28", "/lib/apk/db/installed"),
                (
                    "PyPI",
                    "setuptools",
                    "70.0.0",
                    "/usr/lib/python3.12/site-packages/setuptools-70.0.0.dist-info/METADATA"
                ),
            ]
        );
        assert_eq!(inv.packages[1].source_name.as_deref(), Some("busybox"));
        assert!(inv.packages.iter().all(|p| p.package_manager == PackageManager::Sbom));
    }

    /// Shaped like `trivy image --format spdx-json` on a Rocky Linux image: an OS package with
    /// OPERATING-SYSTEM purpose, rpm purls with the epoch as a qualifier, Trivy annotations.
    const TRIVY_SPDX_2_3: &str = r#"{
      "spdxVersion": "SPDX-2.3",
      "dataLicense": "CC0-1.0",
      "SPDXID": "SPDXRef-DOCUMENT",
      "name": "rockylinux:9",
      "documentNamespace": "http://aquasecurity.github.io/trivy/container_image/rockylinux:9-6e5d4c3b-2a19-4f8e-9d7c-6b5a49382716",
      "creationInfo": {"creators": ["Organization: aquasecurity", "Tool: trivy-0.51.2"], "created": "2024-05-21T08:41:00Z"},
      "packages": [
        {
          "name": "rockylinux:9",
          "SPDXID": "SPDXRef-ContainerImage-2b9e5a7c1d3f4e60",
          "downloadLocation": "NONE",
          "filesAnalyzed": false,
          "externalRefs": [{"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl", "referenceLocator": "pkg:oci/rockylinux@sha256%3A1111111111111111111111111111111111111111111111111111111111111111?arch=amd64"}],
          "primaryPackagePurpose": "CONTAINER"
        },
        {
          "name": "rocky",
          "SPDXID": "SPDXRef-OperatingSystem-7c8d9e0f1a2b3c4d",
          "versionInfo": "9.3",
          "downloadLocation": "NONE",
          "filesAnalyzed": false,
          "primaryPackagePurpose": "OPERATING-SYSTEM"
        },
        {
          "name": "openssl-libs",
          "SPDXID": "SPDXRef-Package-5e6f7a8b9c0d1e2f",
          "versionInfo": "1:3.0.7-25.el9_3",
          "supplier": "Organization: Rocky Enterprise Software Foundation",
          "downloadLocation": "NONE",
          "filesAnalyzed": false,
          "sourceInfo": "built package from: openssl 1:3.0.7-25.el9_3",
          "licenseConcluded": "Apache-2.0",
          "licenseDeclared": "Apache-2.0",
          "externalRefs": [{"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl", "referenceLocator": "pkg:rpm/rocky/openssl-libs@3.0.7-25.el9_3?arch=x86_64&epoch=1&distro=rocky-9.3"}],
          "annotations": [
            {"annotator": "Tool: trivy-0.51.2", "annotationDate": "2024-05-21T08:41:00Z", "annotationType": "OTHER", "comment": "LayerDigest: sha256:4d3c2b1a09f8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a39281706f5e"},
            {"annotator": "Tool: trivy-0.51.2", "annotationDate": "2024-05-21T08:41:00Z", "annotationType": "OTHER", "comment": "PkgType: rocky"},
            {"annotator": "Tool: trivy-0.51.2", "annotationDate": "2024-05-21T08:41:00Z", "annotationType": "OTHER", "comment": "SrcName: openssl"}
          ],
          "primaryPackagePurpose": "LIBRARY"
        },
        {
          "name": "bash",
          "SPDXID": "SPDXRef-Package-0a1b2c3d4e5f6a7b",
          "versionInfo": "5.1.8-6.el9_1",
          "downloadLocation": "NONE",
          "filesAnalyzed": false,
          "externalRefs": [{"referenceCategory": "PACKAGE_MANAGER", "referenceType": "purl", "referenceLocator": "pkg:rpm/rocky/bash@5.1.8-6.el9_1?arch=x86_64"}],
          "primaryPackagePurpose": "LIBRARY"
        }
      ],
      "relationships": [
        {"spdxElementId": "SPDXRef-DOCUMENT", "relatedSpdxElement": "SPDXRef-ContainerImage-2b9e5a7c1d3f4e60", "relationshipType": "DESCRIBES"},
        {"spdxElementId": "SPDXRef-ContainerImage-2b9e5a7c1d3f4e60", "relatedSpdxElement": "SPDXRef-OperatingSystem-7c8d9e0f1a2b3c4d", "relationshipType": "CONTAINS"},
        {"spdxElementId": "SPDXRef-OperatingSystem-7c8d9e0f1a2b3c4d", "relatedSpdxElement": "SPDXRef-Package-5e6f7a8b9c0d1e2f", "relationshipType": "CONTAINS"}
      ]
    }"#;

    #[test]
    fn trivy_spdx_2_3_rpm_image_sbom_is_read() {
        let inv = read(TRIVY_SPDX_2_3.as_bytes(), "rocky.spdx.json").unwrap();
        assert_eq!(inv.warnings, Vec::<String>::new());
        let os = inv.os.as_ref().unwrap();
        assert_eq!((os.distro, os.version_id.as_str()), (Some(Distro::RockyLinux), "9.3"));
        assert_eq!(os.ecosystem.as_ref().unwrap().as_str(), "Rocky Linux:9");
        assert_eq!(inv.packages.len(), 2);
        let ssl = &inv.packages[0];
        assert_eq!(
            (ssl.name.as_str(), ssl.version.as_str()),
            ("openssl-libs", "1:3.0.7-25.el9_3")
        );
        assert_eq!(ssl.ecosystem.as_str(), "Rocky Linux:9");
        assert_eq!(ssl.epoch, Some(1));
        assert_eq!(ssl.release.as_deref(), Some("25.el9_3"));
        assert_eq!(ssl.arch.as_deref(), Some("x86_64"));
        assert_eq!(ssl.source_name.as_deref(), Some("openssl"));
        assert_eq!(
            ssl.layer_digest.as_deref(),
            Some("sha256:4d3c2b1a09f8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a39281706f5e")
        );
        assert_eq!(ssl.file_path, "rocky.spdx.json");
        // No distro qualifier: the release comes from the declared OS.
        assert_eq!(inv.packages[1].ecosystem.as_str(), "Rocky Linux:9");
    }

    #[test]
    fn spdx_2_2_with_purl_lacking_version_takes_version_info() {
        let doc = r#"{
          "spdxVersion": "SPDX-2.2",
          "SPDXID": "SPDXRef-DOCUMENT",
          "documentDescribes": ["SPDXRef-Root"],
          "packages": [
            {"SPDXID": "SPDXRef-Root", "name": "service", "versionInfo": "1.0.0"},
            {"SPDXID": "SPDXRef-1", "name": "Jinja2", "versionInfo": "3.1.4",
             "externalRefs": [{"referenceCategory": "PACKAGE_MANAGER", "referenceType": "purl", "referenceLocator": "pkg:pypi/Jinja2"}]},
            {"SPDXID": "SPDXRef-2", "name": "rails",
             "externalRefs": [{"referenceCategory": "PACKAGE_MANAGER", "referenceType": "purl", "referenceLocator": "pkg:gem/rails@7.1.3.2"}]},
            "junk",
            {"SPDXID": "SPDXRef-3", "name": "x", "externalRefs": "none"}
          ]
        }"#;
        let inv = read(doc.as_bytes(), "svc.spdx.json").unwrap();
        let got: Vec<_> = inv
            .packages
            .iter()
            .map(|p| (p.ecosystem.as_str(), p.name.as_str(), p.version.as_str()))
            .collect();
        assert_eq!(got, vec![("PyPI", "jinja2", "3.1.4"), ("RubyGems", "rails", "7.1.3.2")]);
        assert_eq!(
            inv.warnings,
            vec!["svc.spdx.json: a package is not a json object; skipped".to_string()]
        );
    }

    #[test]
    fn source_info_paths() {
        assert_eq!(
            path_from_source_info("acquired package info from /var/lib/dpkg/status").as_deref(),
            Some("/var/lib/dpkg/status")
        );
        assert_eq!(
            path_from_source_info(
                "acquired package info from DPKG DB: /var/lib/dpkg/status, /usr/share/doc/libc6/copyright"
            )
            .as_deref(),
            Some("/var/lib/dpkg/status")
        );
        assert_eq!(
            path_from_source_info("built package from: openssl 1:3.0.7-25.el9_3"),
            None
        );
        assert_eq!(path_from_source_info(""), None);
        assert_eq!(
            namespace_safe("docker.io/library/nginx:1.27@sha256:ab"),
            "docker.io-library-nginx-1.27-sha256-ab"
        );
        assert_eq!(namespace_safe("///"), "artifact");
    }
}
