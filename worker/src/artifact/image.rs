//! Container images: OCI image layouts, `docker save` archives, and the manifest model shared
//! with the registry client.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{layer, FileSet, Progress};
use crate::{Error, Limits, Result};

pub const MT_OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const MT_OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const MT_DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const MT_DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    #[serde(default)]
    pub media_type: Option<String>,
    pub digest: String,
    #[serde(default)]
    pub size: u64,
    #[serde(default)]
    pub platform: Option<Platform>,
    #[serde(default)]
    pub annotations: Option<HashMap<String, String>>,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct Platform {
    #[serde(default)]
    pub architecture: String,
    #[serde(default)]
    pub os: String,
    #[serde(default)]
    pub variant: Option<String>,
}

impl Platform {
    /// Parses `os/arch[/variant]`.
    pub fn parse(s: &str) -> Option<Platform> {
        let mut it = s.split('/');
        let os = it.next()?.to_string();
        let architecture = it.next()?.to_string();
        let variant = it.next().map(str::to_string);
        Some(Platform {
            os,
            architecture,
            variant,
        })
    }

    /// The platform this process runs on, in OCI's names.
    pub fn host() -> Platform {
        let architecture = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            "x86" => "386",
            other => other,
        };
        Platform {
            os: "linux".into(),
            architecture: architecture.into(),
            variant: None,
        }
    }

    fn matches(&self, other: &Platform) -> bool {
        self.os == other.os
            && self.architecture == other.architecture
            && (self.variant.is_none() || other.variant.is_none() || self.variant == other.variant)
    }
}

impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

/// An image index or a manifest: the two documents a reference can point at.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ManifestDoc {
    #[serde(default)]
    pub media_type: Option<String>,
    #[serde(default)]
    pub manifests: Option<Vec<Descriptor>>,
    #[serde(default)]
    pub config: Option<Descriptor>,
    #[serde(default)]
    pub layers: Option<Vec<Descriptor>>,
    #[serde(default)]
    pub schema_version: Option<u32>,
}

impl ManifestDoc {
    pub fn parse(artifact: &str, data: &[u8]) -> Result<ManifestDoc> {
        serde_json::from_slice(data).map_err(|e| Error::malformed(artifact, format!("manifest: {e}")))
    }

    pub fn is_index(&self) -> bool {
        self.manifests.is_some() && self.layers.is_none()
    }

    /// Picks the manifest for `want` from an index.
    pub fn select(&self, artifact: &str, want: &Platform) -> Result<Descriptor> {
        let manifests = self.manifests.as_deref().unwrap_or_default();
        let candidates: Vec<&Descriptor> = manifests
            .iter()
            // Attestation manifests (buildx) carry platform unknown/unknown.
            .filter(|d| d.platform.as_ref().map(|p| p.os != "unknown").unwrap_or(true))
            .collect();
        if let Some(d) = candidates
            .iter()
            .find(|d| d.platform.as_ref().is_some_and(|p| want.matches(p)))
        {
            return Ok((*d).clone());
        }
        if candidates.len() == 1 {
            return Ok(candidates[0].clone());
        }
        let offered: Vec<String> = candidates
            .iter()
            .filter_map(|d| d.platform.as_ref().map(|p| p.to_string()))
            .collect();
        Err(Error::malformed(
            artifact,
            format!("no manifest for platform {want} (image offers {})", offered.join(", ")),
        ))
    }
}

/// The parts of an image configuration Argus uses.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ImageConfig {
    #[serde(default)]
    pub architecture: String,
    #[serde(default)]
    pub os: String,
    #[serde(default)]
    pub variant: Option<String>,
    #[serde(default)]
    pub rootfs: Option<RootFs>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct RootFs {
    #[serde(default)]
    pub diff_ids: Vec<String>,
}

impl ImageConfig {
    pub fn platform(&self) -> Option<String> {
        if self.os.is_empty() {
            return None;
        }
        Some(
            Platform {
                os: self.os.clone(),
                architecture: self.architecture.clone(),
                variant: self.variant.clone(),
            }
            .to_string(),
        )
    }
}

/// What an image reader learned besides the files.
#[derive(Debug, Default)]
pub struct ImageFacts {
    pub manifest_digest: Option<String>,
    pub config_digest: Option<String>,
    pub platform: Option<String>,
}

fn read_capped(artifact: &str, what: &str, mut r: impl Read, cap: u64) -> Result<Vec<u8>> {
    let mut buf = Vec::new();
    r.by_ref()
        .take(cap + 1)
        .read_to_end(&mut buf)
        .map_err(|e| Error::malformed(artifact, format!("{what}: {e}")))?;
    if buf.len() as u64 > cap {
        return Err(Error::limit(artifact, format!("{what} is larger than {cap} bytes")));
    }
    Ok(buf)
}

fn sha256_of(data: &[u8]) -> String {
    use sha2::Digest;
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(data)))
}

/// Checks a digest string's shape, so that it can name a file under `blobs/` safely.
pub fn blob_relpath(artifact: &str, digest: &str) -> Result<PathBuf> {
    let (alg, hex) = digest
        .split_once(':')
        .ok_or_else(|| Error::malformed(artifact, format!("bad digest {digest:?}")))?;
    let ok_alg = matches!(alg, "sha256" | "sha512");
    let ok_hex = !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit());
    if !ok_alg || !ok_hex {
        return Err(Error::malformed(artifact, format!("bad digest {digest:?}")));
    }
    Ok(PathBuf::from("blobs").join(alg).join(hex))
}

/// Reads an OCI image layout directory (`oci-layout`, `index.json`, `blobs/`).
pub fn read_oci_layout(
    root: &Path,
    platform: &Platform,
    files: &mut FileSet<'_>,
    progress: &dyn Progress,
) -> Result<ImageFacts> {
    let artifact = files.artifact().to_string();
    let limits = files.limits().clone();
    let open = |rel: &Path| File::open(root.join(rel)).map_err(|e| Error::io(root.join(rel), e));
    let index_bytes = read_capped(
        &artifact,
        "index.json",
        open(Path::new("index.json"))?,
        limits.max_document_bytes,
    )?;
    let mut doc = ManifestDoc::parse(&artifact, &index_bytes)?;
    let mut manifest_digest = None;
    // index.json is itself an index; it may point at another index (multi-platform image).
    for _ in 0..4 {
        if !doc.is_index() {
            break;
        }
        let desc = doc.select(&artifact, platform)?;
        let bytes = read_capped(
            &artifact,
            &desc.digest,
            open(&blob_relpath(&artifact, &desc.digest)?)?,
            limits.max_document_bytes,
        )?;
        verify(&artifact, &desc.digest, &bytes)?;
        manifest_digest = Some(desc.digest.clone());
        doc = ManifestDoc::parse(&artifact, &bytes)?;
    }
    let mut opener = |digest: &str| -> Result<(Box<dyn Read>, u64)> {
        let path = root.join(blob_relpath(&artifact, digest)?);
        let f = File::open(&path).map_err(|e| Error::io(&path, e))?;
        let len = f.metadata().map(|m| m.len()).unwrap_or(0);
        Ok((Box::new(f), len))
    };
    let mut facts = apply_manifest(&doc, files, &limits, &mut opener, progress)?;
    facts.manifest_digest = manifest_digest;
    Ok(facts)
}

fn verify(artifact: &str, digest: &str, data: &[u8]) -> Result<()> {
    if digest.starts_with("sha256:") && sha256_of(data) != digest {
        return Err(Error::malformed(
            artifact,
            format!("blob {digest} does not match its digest"),
        ));
    }
    Ok(())
}

/// Opens a blob by digest: its bytes and, when known, its length.
pub type BlobOpener<'a> = dyn FnMut(&str) -> Result<(Box<dyn Read>, u64)> + 'a;

/// Applies a manifest's config and layers, fetching blobs through `open`.
pub fn apply_manifest(
    doc: &ManifestDoc,
    files: &mut FileSet<'_>,
    limits: &Limits,
    open: &mut BlobOpener<'_>,
    progress: &dyn Progress,
) -> Result<ImageFacts> {
    let artifact = files.artifact().to_string();
    let config_desc = doc
        .config
        .as_ref()
        .ok_or_else(|| Error::malformed(&artifact, "manifest has no config"))?;
    let layers = doc.layers.as_deref().unwrap_or_default();
    if layers.len() > limits.max_layers {
        return Err(Error::limit(
            &artifact,
            format!("{} layers, more than {}", layers.len(), limits.max_layers),
        ));
    }
    let (r, _) = open(&config_desc.digest)?;
    let config_bytes = read_capped(&artifact, "image config", r, limits.max_document_bytes)?;
    verify(&artifact, &config_desc.digest, &config_bytes)?;
    let config: ImageConfig =
        serde_json::from_slice(&config_bytes).map_err(|e| Error::malformed(&artifact, format!("image config: {e}")))?;
    progress.set_total(layers.iter().map(|l| l.size).sum());
    let mut budget = limits.max_uncompressed_bytes;
    for layer_desc in layers {
        files.begin_layer(layer_desc.digest.clone())?;
        let (blob, _) = open(&layer_desc.digest)?;
        progress.message(&short(&layer_desc.digest));
        layer::apply(
            files,
            blob,
            &layer_desc.digest,
            Some(&layer_desc.digest),
            &mut budget,
            progress,
        )?;
    }
    Ok(ImageFacts {
        manifest_digest: None,
        config_digest: Some(config_desc.digest.clone()),
        platform: config.platform(),
    })
}

fn short(digest: &str) -> String {
    let hex = digest.split_once(':').map(|(_, h)| h).unwrap_or(digest);
    format!("layer {}", &hex[..hex.len().min(12)])
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DockerManifestEntry {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    layers: Vec<String>,
}

/// Reads a `docker save` archive (both the classic layout with `<id>/layer.tar` and the
/// OCI-flavoured one newer Docker writes), seeking to members instead of unpacking them.
pub fn read_docker_archive(path: &Path, files: &mut FileSet<'_>, progress: &dyn Progress) -> Result<ImageFacts> {
    let artifact = files.artifact().to_string();
    let limits = files.limits().clone();
    let mut file = File::open(path).map_err(|e| Error::io(path, e))?;
    let members = index_tar(&artifact, &mut file, &limits)?;
    let open_member = |name: &str| -> Result<(Box<dyn Read>, u64)> {
        let name = name.trim_start_matches("./");
        let &(offset, size) = members
            .get(name)
            .ok_or_else(|| Error::malformed(&artifact, format!("archive has no member {name}")))?;
        let mut f = File::open(path).map_err(|e| Error::io(path, e))?;
        f.seek(SeekFrom::Start(offset)).map_err(|e| Error::io(path, e))?;
        Ok((Box::new(f.take(size)), size))
    };
    let (r, _) = open_member("manifest.json")?;
    let manifest_bytes = read_capped(&artifact, "manifest.json", r, limits.max_document_bytes)?;
    let entries: Vec<DockerManifestEntry> = serde_json::from_slice(&manifest_bytes)
        .map_err(|e| Error::malformed(&artifact, format!("manifest.json: {e}")))?;
    let entry = match entries.len() {
        0 => return Err(Error::malformed(&artifact, "manifest.json lists no image")),
        1 => &entries[0],
        n => {
            files.warn(format!(
                "manifest.json lists {n} images; reading the first ({:?})",
                entries[0].repo_tags
            ));
            &entries[0]
        }
    };
    if entry.layers.len() > limits.max_layers {
        return Err(Error::limit(
            &artifact,
            format!("{} layers, more than {}", entry.layers.len(), limits.max_layers),
        ));
    }
    let (r, _) = open_member(&entry.config)?;
    let config_bytes = read_capped(&artifact, &entry.config, r, limits.max_document_bytes)?;
    let config: ImageConfig = serde_json::from_slice(&config_bytes)
        .map_err(|e| Error::malformed(&artifact, format!("{}: {e}", entry.config)))?;
    let diff_ids = config.rootfs.as_ref().map(|r| r.diff_ids.clone()).unwrap_or_default();
    let mut total = 0;
    for l in &entry.layers {
        total += members.get(l.trim_start_matches("./")).map(|m| m.1).unwrap_or(0);
    }
    progress.set_total(total);
    let mut budget = limits.max_uncompressed_bytes;
    for (i, layer_path) in entry.layers.iter().enumerate() {
        // OCI-style members are named by their digest; classic ones are checked against the
        // config's diff_ids, which are digests of the uncompressed tar that docker stores.
        let named = layer_path
            .strip_prefix("blobs/sha256/")
            .filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
            .map(|h| format!("sha256:{h}"));
        let expected = named.or_else(|| diff_ids.get(i).cloned());
        files.begin_layer(expected.clone().unwrap_or_else(|| layer_path.clone()))?;
        let (blob, _) = open_member(layer_path)?;
        progress.message(&format!("layer {}/{}", i + 1, entry.layers.len()));
        layer::apply(files, blob, layer_path, expected.as_deref(), &mut budget, progress)?;
    }
    Ok(ImageFacts {
        manifest_digest: None,
        config_digest: Some(sha256_of(&config_bytes)),
        platform: config.platform(),
    })
}

/// Maps member names of a tar file to (data offset, size) without reading their contents.
fn index_tar(artifact: &str, file: &mut File, limits: &Limits) -> Result<HashMap<String, (u64, u64)>> {
    let bad = |e: std::io::Error| Error::malformed(artifact, format!("archive: {e}"));
    let mut archive = tar::Archive::new(&mut *file);
    let mut members = HashMap::new();
    for (n, entry) in archive.entries_with_seek().map_err(bad)?.enumerate() {
        if n as u64 >= limits.max_entries {
            return Err(Error::limit(
                artifact,
                format!("archive has more than {} members", limits.max_entries),
            ));
        }
        let entry = entry.map_err(bad)?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let name = String::from_utf8_lossy(&entry.path_bytes())
            .trim_start_matches("./")
            .to_string();
        members.insert(name, (entry.raw_file_position(), entry.size()));
    }
    Ok(members)
}
