//! SBOM reading and writing: CycloneDX 1.4–1.6 JSON and SPDX 2.2/2.3 JSON in, CycloneDX 1.5 and
//! SPDX 2.3 JSON out.
//!
//! Reading keeps every package that carries a purl whose type maps to an OSV ecosystem
//! ([`purl_map`]); the declared operating system becomes [`Inventory::os`]. Writing records the
//! Argus-specific package fields (file path, layer digest, package manager, source package) as
//! CycloneDX properties or SPDX annotations named `argus:*`, which reading takes back, so an
//! inventory survives a round trip through either format.

use std::collections::HashSet;

use argus_proto::{Inventory, OsInfo, Package, PackageManager};
use serde_json::Value;

use crate::{Error, Result};

mod cyclonedx;
mod purl_map;
mod spdx;

/// How far into a document `looks_like_sbom` looks for the format's marker key.
const SNIFF_BYTES: usize = 8192;
/// Nested CycloneDX components deeper than this are not read; real tools nest a few levels.
const MAX_DEPTH: usize = 32;
/// A hostile document could produce one warning per package; past this many they are summarized.
const MAX_WARNINGS: usize = 200;

pub(crate) const PROP_FILE_PATH: &str = "argus:file_path";
pub(crate) const PROP_LAYER_DIGEST: &str = "argus:layer_digest";
pub(crate) const PROP_PACKAGE_MANAGER: &str = "argus:package_manager";
pub(crate) const PROP_SOURCE_NAME: &str = "argus:source_name";
pub(crate) const PROP_SOURCE_VERSION: &str = "argus:source_version";
pub(crate) const PROP_PLATFORM: &str = "argus:platform";

pub(crate) const TOOL_NAME: &str = "argus";
pub(crate) const TOOL_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Whether a JSON document is an SBOM this module reads.
pub fn looks_like_sbom(data: &[u8]) -> bool {
    let head = data.get(..SNIFF_BYTES).unwrap_or(data);
    // Documents written with sorted keys put `spdxVersion` last, after the packages; the
    // document's own SPDX id comes early in every layout.
    [&b"\"bomFormat\""[..], b"\"spdxVersion\"", b"\"SPDXRef-DOCUMENT\""]
        .iter()
        .any(|needle| head.windows(needle.len()).any(|w| w == *needle))
}

/// Reads a CycloneDX or SPDX JSON document as an inventory.
pub fn read(data: &[u8], target: &str) -> Result<Inventory> {
    let data = data.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(data);
    let doc: Value =
        serde_json::from_slice(data).map_err(|e| Error::malformed(target, format!("sbom is not valid json: {e}")))?;
    let obj = doc
        .as_object()
        .ok_or_else(|| Error::malformed(target, "sbom is not a json object"))?;
    let mut inv = if obj.contains_key("bomFormat") {
        cyclonedx::read(obj, target)?
    } else if obj.contains_key("spdxVersion") {
        spdx::read(obj, target)?
    } else {
        return Err(Error::malformed(
            target,
            "neither cyclonedx (no bomFormat) nor spdx (no spdxVersion)",
        ));
    };
    // SBOM tools write Go module versions as Go does (`v1.2.3`); OSV's Go ecosystem, and the
    // Go extractors, use them without the `v`.
    for p in inv
        .packages
        .iter_mut()
        .filter(|p| p.ecosystem == argus_proto::Ecosystem::go())
    {
        if p.version.starts_with('v') && p.version[1..].starts_with(|c: char| c.is_ascii_digit()) {
            p.version.remove(0);
        }
    }
    Ok(inv)
}

/// Writes an inventory as CycloneDX 1.5 JSON.
pub fn to_cyclonedx(inventory: &Inventory) -> serde_json::Value {
    cyclonedx::write(inventory)
}

/// Writes an inventory as SPDX 2.3 JSON.
pub fn to_spdx(inventory: &Inventory) -> serde_json::Value {
    spdx::write(inventory)
}

/// What an SBOM says about one package besides its purl.
#[derive(Debug, Default)]
pub(crate) struct Declared {
    /// Shown in warnings (`name@version` or the SPDX id).
    pub label: String,
    pub version: Option<String>,
    pub file_path: Option<String>,
    pub layer_digest: Option<String>,
    pub package_manager: Option<String>,
    pub source_name: Option<String>,
    pub source_version: Option<String>,
}

/// Collects packages and warnings while one document is read.
pub(crate) struct Reader {
    inv: Inventory,
    seen_once: HashSet<String>,
    suppressed: usize,
    no_purl: usize,
    no_purl_example: Option<String>,
}

impl Reader {
    pub fn new(target: &str) -> Self {
        Self {
            inv: Inventory::new(target),
            seen_once: HashSet::new(),
            suppressed: 0,
            no_purl: 0,
            no_purl_example: None,
        }
    }

    pub fn set_os(&mut self, os: OsInfo) {
        self.inv.os = Some(os);
    }

    pub fn set_platform(&mut self, platform: String) {
        self.inv.platform = Some(platform);
    }

    pub fn set_artifact_digest(&mut self, digest: String) {
        self.inv.artifact_digest = Some(digest);
    }

    pub fn warn(&mut self, msg: impl AsRef<str>) {
        if self.inv.warnings.len() >= MAX_WARNINGS {
            self.suppressed = self.suppressed.saturating_add(1);
            return;
        }
        let w = format!("{}: {}", self.inv.target, msg.as_ref());
        self.inv.warnings.push(w);
    }

    /// Warns once per `key` (one warning per unknown purl type, not one per package).
    pub fn warn_once(&mut self, key: &str, msg: impl AsRef<str>) {
        if self.seen_once.insert(key.to_string()) {
            self.warn(msg);
        }
    }

    /// Notes a package-like entry that has a name and version but no purl.
    pub fn no_purl(&mut self, label: String) {
        self.no_purl = self.no_purl.saturating_add(1);
        if self.no_purl_example.is_none() {
            self.no_purl_example = Some(label);
        }
    }

    /// Adds the package a purl names. `subject` marks the document's own subject, which is a
    /// package only when its purl is of a package type: an image's `pkg:oci` purl says nothing
    /// worth a warning.
    pub fn add(&mut self, purl: &str, d: Declared, subject: bool) {
        let purl = purl.trim();
        let mapped = match purl_map::map(purl, self.inv.os.as_ref()) {
            Ok(m) => m,
            Err(purl_map::Unmapped::UnknownType(_)) if subject => return,
            Err(purl_map::Unmapped::UnknownType(ty)) => {
                let msg = format!("skipped packages with purl type {ty:?}: argus knows no osv ecosystem for it");
                self.warn_once(&format!("type:{ty}"), msg);
                return;
            }
            Err(purl_map::Unmapped::Invalid(msg)) | Err(purl_map::Unmapped::UnknownDistro(msg)) => {
                self.warn(format!("{}: {msg}; skipped", d.label));
                return;
            }
        };
        let os_package = matches!(mapped.ty.as_str(), "deb" | "rpm");
        let mut version = match d.version.filter(|v| !v.trim().is_empty()).or(mapped.version) {
            Some(v) => v.trim().to_string(),
            None => {
                self.warn(format!("{}: no version; skipped", d.label));
                return;
            }
        };
        let mut epoch = mapped.epoch;
        if os_package {
            match (epoch, version.split_once(':')) {
                (Some(e), None) => version = format!("{e}:{version}"),
                (None, Some((e, _))) => epoch = e.parse().ok(),
                _ => {}
            }
        }
        let release = if os_package {
            let upstream_and_release = version.split_once(':').map_or(version.as_str(), |(_, v)| v);
            upstream_and_release
                .rsplit_once('-')
                .map(|(_, r)| r.to_string())
                .filter(|r| !r.is_empty())
        } else {
            None
        };
        if mapped.unversioned {
            let eco = mapped.ecosystem.0.clone();
            let msg = format!("the sbom names no release of {eco}; its packages are matched without one");
            self.warn_once(&format!("unversioned:{eco}"), msg);
        }
        let package_manager = d
            .package_manager
            .and_then(|pm| serde_json::from_value::<PackageManager>(Value::String(pm.trim().to_string())).ok())
            .unwrap_or(PackageManager::Sbom);
        let (up_name, up_version) = match mapped.upstream {
            Some((n, v)) => (Some(n), v),
            None => (None, None),
        };
        let file_path = d
            .file_path
            .filter(|f| !f.is_empty())
            .unwrap_or_else(|| self.inv.target.clone());
        self.inv.packages.push(Package {
            name: mapped.name,
            version,
            ecosystem: mapped.ecosystem,
            package_manager,
            purl: purl.to_string(),
            file_path,
            layer_digest: d.layer_digest.filter(|l| !l.is_empty()),
            source_name: d.source_name.filter(|s| !s.is_empty()).or(up_name),
            source_version: d.source_version.filter(|s| !s.is_empty()).or(up_version),
            epoch,
            release,
            arch: mapped.arch,
        });
    }

    pub fn finish(mut self) -> Inventory {
        if self.no_purl > 0 {
            let example = self.no_purl_example.take().unwrap_or_default();
            let msg = format!("skipped {} entries without a purl (first: {example})", self.no_purl);
            self.warn(msg);
        }
        if self.suppressed > 0 {
            let w = format!("{}: {} further warnings not shown", self.inv.target, self.suppressed);
            self.inv.warnings.push(w);
        }
        self.inv
    }
}

/// The operating system an SBOM declares (`debian` `12`, Trivy's `redhat` `9.4`).
pub(crate) fn os_info(name: &str, version: &str, pretty: Option<&str>) -> OsInfo {
    let id = name.trim().to_ascii_lowercase();
    let version = version.trim();
    let distro = purl_map::distro_from_name(&id);
    OsInfo {
        distro,
        ecosystem: distro.map(|d| purl_map::distro_ecosystem(d, version)),
        pretty_name: pretty
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(str::to_string)
            .unwrap_or_else(|| format!("{name} {version}").trim().to_string()),
        id,
        version_id: version.to_string(),
    }
}

/// The Argus fields of a package as (property name, value), in a fixed order.
pub(crate) fn argus_properties(p: &Package) -> Vec<(&'static str, String)> {
    let mut out = vec![(PROP_FILE_PATH, p.file_path.clone())];
    if let Some(l) = &p.layer_digest {
        out.push((PROP_LAYER_DIGEST, l.clone()));
    }
    out.push((PROP_PACKAGE_MANAGER, p.package_manager.as_str().to_string()));
    if let Some(s) = &p.source_name {
        out.push((PROP_SOURCE_NAME, s.clone()));
    }
    if let Some(s) = &p.source_version {
        out.push((PROP_SOURCE_VERSION, s.clone()));
    }
    out
}

/// Whether the inventory describes a container image rather than a directory or archive.
pub(crate) fn is_image(inv: &Inventory) -> bool {
    inv.platform.is_some() || inv.packages.iter().any(|p| p.layer_digest.is_some())
}

/// The hex part of a `sha256:<64 hex>` digest.
pub(crate) fn sha256_hex(digest: &str) -> Option<&str> {
    digest
        .strip_prefix("sha256:")
        .filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Document creation time, to the second, in the `YYYY-MM-DDThh:mm:ssZ` form SPDX demands.
pub(crate) fn timestamp() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Trivy writes file paths relative to the artifact root; Argus paths are absolute.
pub(crate) fn absolute(path: &str) -> String {
    if path.starts_with('/') {
        path.to_string()
    } else {
        format!("/{path}")
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use argus_proto::{Distro, Ecosystem};

    fn pkg(name: &str, version: &str, eco: Ecosystem, pm: PackageManager, purl: &str, path: &str) -> Package {
        Package {
            name: name.into(),
            version: version.into(),
            ecosystem: eco,
            package_manager: pm,
            purl: purl.into(),
            file_path: path.into(),
            layer_digest: None,
            source_name: None,
            source_version: None,
            epoch: None,
            release: None,
            arch: None,
        }
    }

    pub(crate) const LAYER_1: &str = "sha256:5d0aeceef7eeb2e1f2c4e8a6d9a5b0e8e4a3c2b1a0f9e8d7c6b5a4938271605f";
    pub(crate) const LAYER_2: &str = "sha256:9c1f0b2e3d4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c";

    /// A realistic image inventory: Debian 12 with dpkg packages, a scoped npm package, a Maven
    /// jar, Python packages (one present at two paths), each with the layer that brought it.
    pub(crate) fn image_inventory() -> Inventory {
        let debian = Ecosystem("Debian:12".into());
        let mut inv = Inventory::new("registry.example.com/shop/api:1.4.2");
        inv.artifact_digest = Some("sha256:3b1e5c1f6a2d4e8b9c0a7f6e5d4c3b2a19f8e7d6c5b4a39281706f5e4d3c2b1a".into());
        inv.platform = Some("linux/amd64".into());
        inv.os = Some(OsInfo {
            distro: Some(Distro::Debian),
            id: "debian".into(),
            version_id: "12".into(),
            pretty_name: "Debian GNU/Linux 12 (bookworm)".into(),
            ecosystem: Some(debian.clone()),
        });
        let mut libc = pkg(
            "libc6",
            "2.36-9+deb12u4",
            debian.clone(),
            PackageManager::Dpkg,
            "pkg:deb/debian/libc6@2.36-9%2Bdeb12u4?arch=amd64&distro=debian-12",
            "/var/lib/dpkg/status",
        );
        libc.layer_digest = Some(LAYER_1.into());
        libc.source_name = Some("glibc".into());
        libc.arch = Some("amd64".into());
        libc.release = Some("9+deb12u4".into());
        let mut zlib = pkg(
            "zlib1g",
            "1:1.2.13.dfsg-1",
            debian.clone(),
            PackageManager::Dpkg,
            "pkg:deb/debian/zlib1g@1:1.2.13.dfsg-1?arch=amd64&distro=debian-12",
            "/var/lib/dpkg/status",
        );
        zlib.layer_digest = Some(LAYER_1.into());
        zlib.source_name = Some("zlib".into());
        zlib.epoch = Some(1);
        let mut openssl = pkg(
            "libssl3",
            "3.0.11-1~deb12u2",
            debian,
            PackageManager::Dpkg,
            "pkg:deb/debian/libssl3@3.0.11-1~deb12u2?arch=amd64&distro=debian-12",
            "/var/lib/dpkg/status",
        );
        openssl.layer_digest = Some(LAYER_2.into());
        openssl.source_name = Some("openssl".into());
        openssl.source_version = Some("3.0.11-1~deb12u2".into());
        let mut babel = pkg(
            "@babel/core",
            "7.24.0",
            Ecosystem::npm(),
            PackageManager::Npm,
            "pkg:npm/%40babel/core@7.24.0",
            "/srv/app/package-lock.json",
        );
        babel.layer_digest = Some(LAYER_2.into());
        let mut log4j = pkg(
            "org.apache.logging.log4j:log4j-core",
            "2.14.1",
            Ecosystem::maven(),
            PackageManager::Jar,
            "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1",
            "/opt/app/lib/app.jar!/BOOT-INF/lib/log4j-core-2.14.1.jar",
        );
        log4j.layer_digest = Some(LAYER_2.into());
        let mut requests = pkg(
            "requests",
            "2.31.0",
            Ecosystem::pypi(),
            PackageManager::Pythonpkg,
            "pkg:pypi/requests@2.31.0",
            "/usr/lib/python3/dist-packages/requests-2.31.0.dist-info/METADATA",
        );
        requests.layer_digest = Some(LAYER_2.into());
        let mut requests_venv = requests.clone();
        requests_venv.file_path = "/opt/venv/lib/python3.11/site-packages/requests-2.31.0.dist-info/METADATA".into();
        let mut charset = pkg(
            "charset-normalizer",
            "3.3.2",
            Ecosystem::pypi(),
            PackageManager::Pythonpkg,
            "pkg:pypi/charset-normalizer@3.3.2",
            "/opt/venv/lib/python3.11/site-packages/charset_normalizer-3.3.2.dist-info/METADATA",
        );
        charset.layer_digest = Some(LAYER_2.into());
        inv.packages = vec![libc, zlib, openssl, babel, log4j, requests, requests_venv, charset];
        inv.normalize();
        inv
    }

    /// The fields a round trip must keep for every package.
    /// (name, version, ecosystem, purl, file_path, layer_digest, package_manager)
    pub(crate) type Essentials = (String, String, String, String, String, Option<String>, String);

    pub(crate) fn essentials(inv: &Inventory) -> Vec<Essentials> {
        let mut v: Vec<_> = inv
            .packages
            .iter()
            .map(|p| {
                (
                    p.name.clone(),
                    p.version.clone(),
                    p.ecosystem.0.clone(),
                    p.purl.clone(),
                    p.file_path.clone(),
                    p.layer_digest.clone(),
                    p.package_manager.as_str().to_string(),
                )
            })
            .collect();
        v.sort();
        v
    }

    #[test]
    fn sniffing_finds_either_format_marker_near_the_start() {
        assert!(looks_like_sbom(
            br#"{"$schema":"x","bomFormat":"CycloneDX","specVersion":"1.5"}"#
        ));
        assert!(looks_like_sbom(br#"{ "spdxVersion" : "SPDX-2.3" }"#));
        assert!(looks_like_sbom(br#"{"SPDXID":"SPDXRef-DOCUMENT","annotations":[]}"#));
        assert!(!looks_like_sbom(br#"{"name":"left-pad","version":"1.3.0"}"#));
        assert!(!looks_like_sbom(b""));
        let mut late = vec![b' '; SNIFF_BYTES];
        late.extend_from_slice(br#"{"bomFormat":"CycloneDX"}"#);
        assert!(!looks_like_sbom(&late));
    }

    #[test]
    fn malformed_documents_are_errors_naming_the_target() {
        let cases: &[&[u8]] = &[
            b"",
            b"{",
            b"[1,2,3]",
            b"\"CycloneDX\"",
            br#"{"name":"not an sbom"}"#,
            br#"{"bomFormat":"CycloneDX"}"#,
            br#"{"bomFormat":"SWID","specVersion":"1.5"}"#,
            br#"{"bomFormat":"CycloneDX","specVersion":1.5}"#,
            br#"{"bomFormat":"CycloneDX","specVersion":"2.0"}"#,
            br#"{"bomFormat":"CycloneDX","specVersion":"1.5","components":{"purl":"pkg:npm/a@1"}}"#,
            br#"{"bomFormat":"CycloneDX","specVersion":"1.5","metadata":"yesterday"}"#,
            br#"{"spdxVersion":"SPDX-3.0"}"#,
            br#"{"spdxVersion":23}"#,
            br#"{"spdxVersion":"SPDX-2.3","packages":"none"}"#,
            br#"{"spdxVersion":"SPDX-2.3","packages":[],"relationships":{}}"#,
            b"\xff\xfe{}",
        ];
        for data in cases {
            match read(data, "/tmp/bom.json") {
                Err(e @ Error::Malformed { .. }) => assert!(e.to_string().starts_with("/tmp/bom.json: "), "{e}"),
                other => panic!("{:?}: expected malformed, got {other:?}", String::from_utf8_lossy(data)),
            }
        }
    }

    #[test]
    fn deeply_nested_json_is_an_error_not_a_crash() {
        let mut doc = String::from(r#"{"bomFormat":"CycloneDX","specVersion":"1.5","components":"#);
        for _ in 0..100_000 {
            doc.push_str(r#"[{"components":"#);
        }
        assert!(matches!(
            read(doc.as_bytes(), "deep.json"),
            Err(Error::Malformed { .. })
        ));
    }

    #[test]
    fn utf8_byte_order_mark_is_tolerated() {
        let doc = b"\xEF\xBB\xBF{\"bomFormat\":\"CycloneDX\",\"specVersion\":\"1.5\",\"components\":[{\"type\":\"library\",\"name\":\"left-pad\",\"version\":\"1.3.0\",\"purl\":\"pkg:npm/left-pad@1.3.0\"}]}";
        let inv = read(doc, "bom.json").unwrap();
        assert_eq!(inv.packages.len(), 1);
        assert_eq!(inv.packages[0].name, "left-pad");
    }

    /// Validates CycloneDX against the 1.5 JSON schema shipped inside `cyclonedx-python-lib`.
    const CYCLONEDX_VALIDATOR: &str = r#"
import sys
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
with open(sys.argv[1], encoding="utf-8") as f:
    error = JsonStrictValidator(SchemaVersion.V1_5).validate_str(f.read())
if error is not None:
    print(str(error)[:4000])
    sys.exit(1)
print("valid")
"#;

    fn run(cmd: &mut std::process::Command, what: &str) {
        // A validator that is not installed fails the test: skipping would let invalid output
        // through on machines that never ran the validation.
        let out = cmd.output().unwrap_or_else(|e| {
            panic!("cannot run {what}: {e}; install it with `pip install cyclonedx-python-lib[json-validation] spdx-tools`")
        });
        assert!(
            out.status.success(),
            "{what} rejected the document ({}):\n{}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    #[test]
    fn schema_valid_cyclonedx_and_spdx_output() {
        let inv = image_inventory();
        let dir = tempfile::tempdir().unwrap();
        let cdx = dir.path().join("image.cdx.json");
        let spdx = dir.path().join("image.spdx.json");
        std::fs::write(&cdx, serde_json::to_vec_pretty(&to_cyclonedx(&inv)).unwrap()).unwrap();
        std::fs::write(&spdx, serde_json::to_vec_pretty(&to_spdx(&inv)).unwrap()).unwrap();
        run(
            std::process::Command::new("python3")
                .arg("-c")
                .arg(CYCLONEDX_VALIDATOR)
                .arg(&cdx),
            "the cyclonedx 1.5 schema validator (python3, cyclonedx-python-lib)",
        );
        run(
            std::process::Command::new("pyspdxtools").arg("-i").arg(&spdx),
            "pyspdxtools (spdx-tools)",
        );

        // A directory inventory without OS, platform or layers is valid too.
        let mut plain = Inventory::new("/home/dev/project with spaces");
        plain.packages = inv
            .packages
            .iter()
            .filter(|p| p.ecosystem.as_str() == "PyPI")
            .cloned()
            .collect();
        for p in &mut plain.packages {
            p.layer_digest = None;
        }
        std::fs::write(&cdx, serde_json::to_vec(&to_cyclonedx(&plain)).unwrap()).unwrap();
        std::fs::write(&spdx, serde_json::to_vec(&to_spdx(&plain)).unwrap()).unwrap();
        run(
            std::process::Command::new("python3")
                .arg("-c")
                .arg(CYCLONEDX_VALIDATOR)
                .arg(&cdx),
            "the cyclonedx 1.5 schema validator (python3, cyclonedx-python-lib)",
        );
        run(
            std::process::Command::new("pyspdxtools").arg("-i").arg(&spdx),
            "pyspdxtools (spdx-tools)",
        );
    }

    #[test]
    fn invalid_documents_are_rejected_by_the_validators() {
        // Proves the validation test can fail: the same checks on broken output must reject it.
        let inv = image_inventory();
        let dir = tempfile::tempdir().unwrap();
        let mut cdx = to_cyclonedx(&inv);
        cdx["components"][1]["type"] = Value::String("gadget".into());
        let cdx_path = dir.path().join("bad.cdx.json");
        std::fs::write(&cdx_path, serde_json::to_vec(&cdx).unwrap()).unwrap();
        let out = std::process::Command::new("python3")
            .arg("-c")
            .arg(CYCLONEDX_VALIDATOR)
            .arg(&cdx_path)
            .output()
            .expect("python3 runs");
        assert!(!out.status.success(), "schema accepted an unknown component type");
        let mut spdx = to_spdx(&inv);
        spdx["relationships"][1]["relatedSpdxElement"] = Value::String("SPDXRef-Nowhere".into());
        let spdx_path = dir.path().join("bad.spdx.json");
        std::fs::write(&spdx_path, serde_json::to_vec(&spdx).unwrap()).unwrap();
        let out = std::process::Command::new("pyspdxtools")
            .arg("-i")
            .arg(&spdx_path)
            .output()
            .expect("pyspdxtools runs");
        assert!(!out.status.success(), "pyspdxtools accepted a dangling relationship");
    }

    #[test]
    fn os_packages_without_any_release_warn_once_and_keep_the_bare_distribution() {
        let doc = r#"{"bomFormat":"CycloneDX","specVersion":"1.5","components":[
          {"type":"library","name":"bash","version":"5.2.15-2+b2","purl":"pkg:deb/debian/bash@5.2.15-2%2Bb2",
           "properties":[{"name":"argus:package_manager","value":"TELEPATHY"}]},
          {"type":"library","name":"coreutils","version":"9.1-1","purl":"pkg:deb/debian/coreutils@9.1-1"}
        ]}"#;
        let inv = read(doc.as_bytes(), "bare.json").unwrap();
        let got: Vec<_> = inv
            .packages
            .iter()
            .map(|p| (p.ecosystem.as_str(), p.package_manager))
            .collect();
        assert_eq!(
            got,
            vec![("Debian", PackageManager::Sbom), ("Debian", PackageManager::Sbom)]
        );
        assert_eq!(
            inv.warnings,
            vec!["bare.json: the sbom names no release of Debian; its packages are matched without one".to_string()]
        );
    }

    #[test]
    fn os_info_from_sbom_names() {
        let os = os_info("debian", "12.5", None);
        assert_eq!(os.distro, Some(Distro::Debian));
        assert_eq!(os.ecosystem.as_ref().map(Ecosystem::as_str), Some("Debian:12"));
        assert_eq!(os.pretty_name, "debian 12.5");
        let os = os_info("alpine", "3.20.3", Some("Alpine Linux v3.20"));
        assert_eq!(os.ecosystem.as_ref().map(Ecosystem::as_str), Some("Alpine:v3.20"));
        assert_eq!(os.pretty_name, "Alpine Linux v3.20");
        let os = os_info("haiku", "r1", None);
        assert_eq!((os.distro, os.ecosystem), (None, None));
    }
}
