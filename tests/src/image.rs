//! Container images built in the test: tar layers from entries, compressed, laid out as an OCI
//! image layout or a `docker save` archive.

use std::io::Write;
use std::path::Path;

use serde_json::json;

use crate::{sha256, write_file};

/// One tar member.
pub enum Entry {
    File { path: String, data: Vec<u8>, mode: u32 },
    Dir(String),
    Symlink { path: String, target: String },
    Hardlink { path: String, target: String },
}

pub fn file(path: &str, data: impl AsRef<[u8]>) -> Entry {
    Entry::File {
        path: path.into(),
        data: data.as_ref().to_vec(),
        mode: 0o644,
    }
}

pub fn exe(path: &str, data: impl AsRef<[u8]>) -> Entry {
    Entry::File {
        path: path.into(),
        data: data.as_ref().to_vec(),
        mode: 0o755,
    }
}

pub fn dir(path: &str) -> Entry {
    Entry::Dir(path.into())
}

pub fn symlink(path: &str, target: &str) -> Entry {
    Entry::Symlink {
        path: path.into(),
        target: target.into(),
    }
}

pub fn hardlink(path: &str, target: &str) -> Entry {
    Entry::Hardlink {
        path: path.into(),
        target: target.into(),
    }
}

/// A whiteout for `path` (`dir/.wh.name`).
pub fn whiteout(path: &str) -> Entry {
    let (d, n) = path.rsplit_once('/').unwrap_or(("", path));
    file(&format!("{d}/.wh.{n}"), b"")
}

/// An opaque marker for directory `dir`.
pub fn opaque(dir: &str) -> Entry {
    file(&format!("{}/.wh..wh..opq", dir.trim_end_matches('/')), b"")
}

/// Builds an uncompressed tar from entries, with paths exactly as given (no sanitizing: the
/// tests need hostile paths too).
pub fn tar(entries: &[Entry]) -> Vec<u8> {
    let mut out = Vec::new();
    for e in entries {
        let mut h = tar::Header::new_gnu();
        let (path, data): (&str, &[u8]) = match e {
            Entry::File { path, data, mode } => {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_mode(*mode);
                h.set_size(data.len() as u64);
                (path, data)
            }
            Entry::Dir(path) => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_mode(0o755);
                h.set_size(0);
                (path, &[])
            }
            Entry::Symlink { path, target } | Entry::Hardlink { path, target } => {
                h.set_entry_type(if matches!(e, Entry::Symlink { .. }) {
                    tar::EntryType::Symlink
                } else {
                    tar::EntryType::Link
                });
                h.set_mode(0o777);
                h.set_size(0);
                set_raw_name(&mut h, target.as_bytes(), true);
                (path, &[])
            }
        };
        set_raw_name(&mut h, path.as_bytes(), false);
        h.set_mtime(1_700_000_000);
        h.set_cksum();
        out.extend_from_slice(h.as_bytes());
        out.extend_from_slice(data);
        let pad = (512 - data.len() % 512) % 512;
        out.extend(std::iter::repeat_n(0u8, pad));
    }
    out.extend(std::iter::repeat_n(0u8, 1024));
    out
}

/// Writes a name into the header without the tar crate's checks, so `../x` can be tested.
fn set_raw_name(h: &mut tar::Header, name: &[u8], link: bool) {
    let gnu = h.as_gnu_mut().expect("gnu header");
    let field: &mut [u8] = if link { &mut gnu.linkname } else { &mut gnu.name };
    assert!(name.len() < field.len(), "test paths must fit the header");
    field.fill(0);
    field[..name.len()].copy_from_slice(name);
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Codec {
    None,
    Gzip,
    Zstd,
}

pub fn compress(data: &[u8], codec: Codec) -> Vec<u8> {
    match codec {
        Codec::None => data.to_vec(),
        Codec::Gzip => {
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            enc.write_all(data).expect("gzip");
            enc.finish().expect("gzip")
        }
        Codec::Zstd => zstd::encode_all(data, 3).expect("zstd"),
    }
}

fn media_type(codec: Codec) -> &'static str {
    match codec {
        Codec::None => "application/vnd.oci.image.layer.v1.tar",
        Codec::Gzip => "application/vnd.oci.image.layer.v1.tar+gzip",
        Codec::Zstd => "application/vnd.oci.image.layer.v1.tar+zstd",
    }
}

/// An image: layers as uncompressed tars plus how each is compressed.
pub struct Image {
    pub layers: Vec<(Vec<u8>, Codec)>,
    pub os: String,
    pub arch: String,
}

impl Image {
    pub fn new(layers: Vec<(Vec<u8>, Codec)>) -> Self {
        Image {
            layers,
            os: "linux".into(),
            arch: "amd64".into(),
        }
    }

    fn config(&self) -> Vec<u8> {
        let diff_ids: Vec<String> = self.layers.iter().map(|(t, _)| sha256(t)).collect();
        serde_json::to_vec(&json!({
            "architecture": self.arch, "os": self.os,
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
            "config": {}
        }))
        .expect("config json")
    }

    /// The compressed blobs and their digests, in order.
    pub fn blobs(&self) -> Vec<(Vec<u8>, String, Codec)> {
        self.layers
            .iter()
            .map(|(t, c)| {
                let b = compress(t, *c);
                let d = sha256(&b);
                (b, d, *c)
            })
            .collect()
    }

    /// Writes an OCI image layout at `dir`; returns the manifest digest. With `index_of`, the
    /// manifest is wrapped in an image index next to decoy manifests for other platforms.
    pub fn write_oci_layout(&self, dir: &Path, tag: &str) -> String {
        let blob = |data: &[u8]| {
            let d = sha256(data);
            write_file(dir, &format!("blobs/sha256/{}", &d[7..]), data);
            d
        };
        let config = self.config();
        let config_digest = blob(&config);
        let mut layers = Vec::new();
        for (b, d, c) in self.blobs() {
            blob(&b);
            layers.push(json!({"mediaType": media_type(c), "digest": d, "size": b.len()}));
        }
        let manifest = serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config.len()},
            "layers": layers
        }))
        .expect("manifest");
        let manifest_digest = blob(&manifest);
        write_file(dir, "oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#);
        let index = json!({
            "schemaVersion": 2,
            "manifests": [{
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": manifest_digest, "size": manifest.len(),
                "platform": {"os": self.os, "architecture": self.arch},
                "annotations": {"org.opencontainers.image.ref.name": tag}
            }]
        });
        write_file(dir, "index.json", serde_json::to_vec(&index).expect("index"));
        manifest_digest
    }

    /// Writes a classic `docker save` archive: `manifest.json`, `<n>/layer.tar` (uncompressed,
    /// as docker stores them), and the config.
    pub fn write_docker_archive(&self, path: &Path) {
        let config = self.config();
        let config_name = format!("{}.json", &sha256(&config)[7..]);
        let mut entries = vec![file(&config_name, &config)];
        let mut layer_names = Vec::new();
        for (i, (t, _)) in self.layers.iter().enumerate() {
            let name = format!("{i:064x}/layer.tar");
            entries.push(dir(&format!("{i:064x}/")));
            entries.push(file(&name, t));
            layer_names.push(name);
        }
        let manifest = json!([{"Config": config_name, "RepoTags": ["test/app:1"], "Layers": layer_names}]);
        entries.push(file("manifest.json", serde_json::to_vec(&manifest).expect("manifest")));
        std::fs::write(path, tar(&entries)).expect("write archive");
    }
}

/// Writes an OCI layout whose `index.json` points at an image index (as `skopeo copy --all`
/// or `docker buildx` write them) listing one manifest per image, by each image's platform.
pub fn write_multi_platform_layout(dir: &Path, images: &[Image]) {
    let mut manifests = Vec::new();
    for (i, img) in images.iter().enumerate() {
        // Lay each image out on its own first, then adopt its blobs and manifest.
        let single = dir.join(format!(".single{i}"));
        let digest = img.write_oci_layout(&single, "x");
        for entry in std::fs::read_dir(single.join("blobs/sha256")).expect("blobs") {
            let entry = entry.expect("entry");
            let dest = dir.join("blobs/sha256").join(entry.file_name());
            std::fs::create_dir_all(dest.parent().expect("parent")).expect("mkdir");
            std::fs::copy(entry.path(), dest).expect("copy blob");
        }
        let size = std::fs::metadata(dir.join("blobs/sha256").join(&digest[7..]))
            .expect("manifest")
            .len();
        manifests.push(json!({
            "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest, "size": size,
            "platform": {"os": img.os, "architecture": img.arch}
        }));
        std::fs::remove_dir_all(&single).expect("cleanup");
    }
    // An attestation manifest, as buildx adds: must never be chosen.
    manifests.push(json!({
        "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": format!("sha256:{}", "e".repeat(64)),
        "size": 1, "platform": {"os": "unknown", "architecture": "unknown"}
    }));
    let index = serde_json::to_vec(&json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": manifests
    }))
    .expect("index");
    let index_digest = sha256(&index);
    write_file(dir, &format!("blobs/sha256/{}", &index_digest[7..]), &index);
    write_file(dir, "oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#);
    let top = json!({"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.index.v1+json", "digest": index_digest, "size": index.len(),
        "annotations": {"org.opencontainers.image.ref.name": "1"}
    }]});
    write_file(dir, "index.json", serde_json::to_vec(&top).expect("index.json"));
}
