//! One scan: detect what the target is, read it through the matching artifact reader, and run
//! the extractors over the files kept.

use std::collections::HashSet;
use std::fmt;
use std::path::Path;

use argus_proto::{Inventory, OsInfo, Package};
use serde::{Deserialize, Serialize};

use crate::artifact::image::{self, Platform};
use crate::artifact::registry::{self, RegistryOptions};
use crate::artifact::{dir, zip, Progress};
use crate::extract::{self, gobinary, os_release, ExtractInput, Extractor};
use crate::fileset::{FileSet, FinalFiles, Kept, Version};
use crate::{sbom, Error, Limits, Result};

/// What a target is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TargetKind {
    /// A directory tree: a root filesystem or an unpacked application.
    Dir,
    /// An OCI image layout directory (`oci-layout`, `index.json`, `blobs/`).
    OciLayout,
    /// A `docker save` tarball.
    DockerArchive,
    /// A zip archive: Lambda package or layer, jar, war.
    Zip,
    /// A CycloneDX or SPDX JSON SBOM.
    Sbom,
    /// An image in an OCI / Docker registry.
    Registry,
}

impl fmt::Display for TargetKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TargetKind::Dir => "dir",
            TargetKind::OciLayout => "oci-layout",
            TargetKind::DockerArchive => "docker-archive",
            TargetKind::Zip => "zip",
            TargetKind::Sbom => "sbom",
            TargetKind::Registry => "registry",
        })
    }
}

/// How to scan.
#[derive(Clone, Debug, Default)]
pub struct ScanOptions {
    /// Force the target kind instead of detecting it.
    pub kind: Option<TargetKind>,
    pub limits: Limits,
    /// Platform to pick from multi-platform images (`linux/amd64`); the host's by default.
    pub platform: Option<String>,
    pub registry: RegistryOptions,
}

/// Tells what `target` is: an existing path by its contents, anything else as an image
/// reference.
pub fn detect(target: &str) -> Result<TargetKind> {
    let path = Path::new(target);
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(_) if crate::artifact::reference::Reference::parse(target).is_ok() => return Ok(TargetKind::Registry),
        Err(e) => return Err(Error::io(path, e)),
    };
    if meta.is_dir() {
        return Ok(
            if path.join("oci-layout").is_file() && path.join("index.json").is_file() {
                TargetKind::OciLayout
            } else {
                TargetKind::Dir
            },
        );
    }
    let mut head = vec![0u8; 1024];
    let n = {
        use std::io::Read;
        let mut f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
        let mut n = 0;
        while n < head.len() {
            match f.read(&mut head[n..]).map_err(|e| Error::io(path, e))? {
                0 => break,
                k => n += k,
            }
        }
        n
    };
    let head = &head[..n];
    if head.starts_with(b"PK\x03\x04") || head.starts_with(b"PK\x05\x06") {
        return Ok(TargetKind::Zip);
    }
    if head.len() >= 262 && &head[257..262] == b"ustar" {
        return Ok(TargetKind::DockerArchive);
    }
    let trimmed = head
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .map(|i| &head[i..])
        .unwrap_or_default();
    if trimmed.starts_with(b"{") {
        return Ok(TargetKind::Sbom);
    }
    Err(Error::UnknownKind(target.to_string()))
}

/// Inventories `target`.
pub fn scan_target(target: &str, opts: &ScanOptions, progress: &dyn Progress) -> Result<Inventory> {
    let kind = match opts.kind {
        Some(k) => k,
        None => detect(target)?,
    };
    tracing::debug!(%target, %kind, "scanning");
    if kind == TargetKind::Sbom {
        let fetch = tracing::info_span!("scan.fetch", artifact.kind = %kind).entered();
        let data = std::fs::read(target).map_err(|e| Error::io(target, e))?;
        drop(fetch);
        let _extract = tracing::info_span!("scan.extract").entered();
        if data.len() as u64 > opts.limits.max_file_bytes {
            return Err(Error::limit(
                target,
                format!("SBOM is larger than {} bytes", opts.limits.max_file_bytes),
            ));
        }
        let mut inv = sbom::read(&data, target)?;
        inv.normalize();
        return Ok(inv);
    }
    let extractors = extract::all();
    let mut files = FileSet::new(target, &extractors, opts.limits.clone());
    let platform = match &opts.platform {
        Some(p) => Platform::parse(p).ok_or_else(|| Error::Unsupported(format!("platform {p:?}; expected os/arch")))?,
        None => Platform::host(),
    };
    let path = Path::new(target);
    let mut facts = image::ImageFacts::default();
    // Reading an image or a tree is where the artifact is fetched (registry pulls, layer
    // decompression); the extractors run over what was kept.
    let fetch = tracing::info_span!("scan.fetch", artifact.kind = %kind).entered();
    match kind {
        TargetKind::Dir => dir::read(path, &mut files, progress)?,
        TargetKind::Zip => zip::read(path, &mut files, progress)?,
        TargetKind::OciLayout => facts = image::read_oci_layout(path, &platform, &mut files, progress)?,
        TargetKind::DockerArchive => facts = image::read_docker_archive(path, &mut files, progress)?,
        TargetKind::Registry => facts = registry::read_image(target, &platform, &opts.registry, &mut files, progress)?,
        TargetKind::Sbom => unreachable!("handled above"),
    }
    drop(fetch);
    let _extract = tracing::info_span!("scan.extract").entered();
    let mut inv = inventory_of(target, files.into_parts(), &extractors, &opts.limits);
    inv.artifact_digest = facts.manifest_digest.or(facts.config_digest);
    inv.platform = facts.platform;
    if inv.artifact_digest.is_none() && kind == TargetKind::Zip {
        inv.artifact_digest = Some(file_sha256(path)?);
    }
    inv.normalize();
    Ok(inv)
}

/// Inventories a Lambda function from its downloaded package (unpacked by the runtime in
/// `/var/task`) and layers (`(ARN, zip)` in order, unpacked in `/opt`). Packages a layer brings
/// name its ARN as their layer.
pub fn scan_lambda(
    target: &str,
    code: &Path,
    layers: &[(String, std::path::PathBuf)],
    opts: &ScanOptions,
) -> Result<Inventory> {
    let extractors = extract::all();
    let mut files = FileSet::new(target, &extractors, opts.limits.clone());
    let fetch = tracing::info_span!("scan.fetch", artifact.kind = "lambda").entered();
    files.begin_layer("")?;
    zip::read_under(code, "var/task/", &mut files, &crate::artifact::NoProgress)?;
    for (arn, path) in layers {
        files.begin_layer(arn.clone())?;
        zip::read_under(path, "opt/", &mut files, &crate::artifact::NoProgress)?;
    }
    drop(fetch);
    let _extract = tracing::info_span!("scan.extract").entered();
    let mut inv = inventory_of(target, files.into_parts(), &extractors, &opts.limits);
    inv.normalize();
    Ok(inv)
}

fn file_sha256(path: &Path) -> Result<String> {
    use sha2::Digest;
    let mut f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut h = sha2::Sha256::new();
    std::io::copy(&mut f, &mut h).map_err(|e| Error::io(path, e))?;
    Ok(format!("sha256:{}", hex::encode(h.finalize())))
}

fn detect_os(files: &FinalFiles) -> Option<OsInfo> {
    os_release::OS_FILES.iter().find_map(|p| match files.files.get(*p) {
        Some(Kept::File(v)) => v.last().and_then(|v| os_release::parse_at(p, &v.data)),
        _ => None,
    })
}

type Key = (String, String, String);

fn key(p: &Package) -> Key {
    (p.ecosystem.0.clone(), p.name.clone(), p.version.clone())
}

/// Runs the extractors over the final files and attributes each package to the layer that
/// introduced it in its current version: the oldest version of the file from which on the
/// package is present without a break.
pub fn inventory_of(target: &str, files: FinalFiles, extractors: &[Box<dyn Extractor>], limits: &Limits) -> Inventory {
    let mut inv = Inventory::new(target);
    inv.os = detect_os(&files);
    inv.warnings = files.warnings.clone();
    let go: &dyn Extractor = &gobinary::GoBinary;
    for (path, kept) in &files.files {
        let (versions, chosen): (&Vec<Version>, Vec<&dyn Extractor>) = match kept {
            Kept::File(v) => (
                v,
                extractors
                    .iter()
                    .filter(|e| e.wants(path))
                    .map(|e| e.as_ref())
                    .collect(),
            ),
            Kept::GoBuildInfo(v) => (v, vec![go]),
            Kept::Link { .. } => continue,
        };
        let Some(last) = versions.last() else { continue };
        for ex in chosen {
            let run = |v: &Version| {
                ex.extract(&ExtractInput {
                    path,
                    data: &v.data,
                    os: inv.os.as_ref(),
                    limits,
                })
            };
            let out = match run(last) {
                Ok(o) => o,
                Err(e) => {
                    inv.warnings
                        .push(format!("{target}: {path}: {} could not be read: {e}", ex.name()));
                    continue;
                }
            };
            inv.warnings
                .extend(out.warnings.into_iter().map(|w| format!("{target}: {path}: {w}")));
            let mut earlier: Vec<Option<HashSet<Key>>> = vec![None; versions.len() - 1];
            for mut pkg in out.packages {
                let k = key(&pkg);
                let mut idx = versions.len() - 1;
                while idx > 0 {
                    let set = earlier[idx - 1].get_or_insert_with(|| {
                        run(&versions[idx - 1])
                            .map(|o| o.packages.iter().map(key).collect())
                            .unwrap_or_default()
                    });
                    if !set.contains(&k) {
                        break;
                    }
                    idx -= 1;
                }
                pkg.layer_digest = files.layers.get(versions[idx].layer).filter(|d| !d.is_empty()).cloned();
                inv.packages.push(pkg);
            }
        }
    }
    inv
}
