//! The targets file `argus up` reads: what to scan, as resources of the inventory.
//!
//! ```toml
//! [[target]]
//! target = "tests/demo/rootfs"          # a path, or an image reference
//! kind = "dir"                          # optional: detected as `argus scan` does
//! id = "demo-rootfs"                    # optional resource id (default: the locator)
//! account = "local"                     # optional (default "local")
//! region = "local"                      # optional (default "local")
//! type = "HOST"                         # optional resource type (default by kind)
//! tags = { team = "payments" }          # optional
//! ```

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use argus_proto::v1::{Account, Resource, ResourceType};
use argus_worker::scan::detect;
use argus_worker::TargetKind;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetsFile {
    #[serde(default, rename = "target")]
    pub targets: Vec<Target>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    /// A directory, OCI layout, `docker save` tarball, zip, SBOM file, or an image reference.
    pub target: String,
    /// What it is, when detection would guess wrong.
    #[serde(default)]
    pub kind: Option<TargetKind>,
    /// The resource id; the locator when unset.
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub account: Option<String>,
    #[serde(default)]
    pub region: Option<String>,
    /// A resource type name (`HOST`, `CONTAINER_IMAGE`, `SBOM`, `AWS_LAMBDA_FUNCTION`, ...).
    #[serde(default, rename = "type")]
    pub resource_type: Option<String>,
    #[serde(default)]
    pub tags: HashMap<String, String>,
}

pub const DEFAULT_ACCOUNT: &str = "local";

impl TargetsFile {
    pub fn load(path: &Path) -> Result<TargetsFile> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        toml::from_str(&text).map_err(|e| Error::Config(format!("{}: {e}", path.display())))
    }

    /// The resources, and the accounts they belong to. Relative paths are taken from `base`
    /// (the targets file's directory), so the file works from any working directory.
    pub fn resources(&self, base: &Path) -> Result<(Vec<Account>, Vec<Resource>)> {
        let mut accounts: Vec<Account> = Vec::new();
        let mut resources = Vec::new();
        for t in &self.targets {
            let r = t.resource(base)?;
            if !accounts.iter().any(|a| a.account_id == r.account_id) {
                accounts.push(Account {
                    account_id: r.account_id.clone(),
                    name: r.account_id.clone(),
                    regions: vec![r.region.clone()],
                    ..Default::default()
                });
            }
            resources.push(r);
        }
        Ok((accounts, resources))
    }
}

impl Target {
    /// A target with every option at its default.
    pub fn new(target: impl Into<String>) -> Self {
        Self {
            target: target.into(),
            ..Self::default()
        }
    }

    pub fn resource(&self, base: &Path) -> Result<Resource> {
        let (kind, target) = self.locate(base)?;
        let locator = format!("{kind}:{target}");
        let resource_type = match &self.resource_type {
            Some(name) => ResourceType::from_str_name(name)
                .filter(|t| *t != ResourceType::Unspecified)
                .ok_or_else(|| Error::Config(format!("target {}: unknown resource type {name:?}", self.target)))?,
            None => match kind {
                TargetKind::Dir | TargetKind::Zip => ResourceType::Host,
                TargetKind::Sbom => ResourceType::Sbom,
                TargetKind::OciLayout | TargetKind::DockerArchive | TargetKind::Registry => {
                    ResourceType::ContainerImage
                }
            },
        };
        Ok(Resource {
            r#type: resource_type as i32,
            resource_id: self.id.clone().unwrap_or_else(|| locator.clone()),
            account_id: self.account.clone().unwrap_or_else(|| DEFAULT_ACCOUNT.into()),
            region: self.region.clone().unwrap_or_else(|| "local".into()),
            tags: self.tags.clone(),
            artifact_digest: artifact_digest(kind, &target, &locator),
            artifact_locator: locator,
            ..Default::default()
        })
    }

    fn locate(&self, base: &Path) -> Result<(TargetKind, String)> {
        let path = {
            let p = PathBuf::from(&self.target);
            if p.is_absolute() {
                p
            } else {
                base.join(p)
            }
        };
        if path.exists() {
            let path = path.canonicalize().map_err(|e| Error::io(&path, e))?;
            let text = path.to_string_lossy().into_owned();
            let kind = match self.kind {
                Some(k) => k,
                None => detect(&text).map_err(|e| Error::Config(format!("target {}: {e}", self.target)))?,
            };
            return Ok((kind, text));
        }
        match self.kind {
            None | Some(TargetKind::Registry) => {
                detect(&self.target).map_err(|e| Error::Config(format!("target {}: {e}", self.target)))?;
                Ok((TargetKind::Registry, self.target.clone()))
            }
            Some(_) => Err(Error::Config(format!(
                "target {}: no such file or directory",
                self.target
            ))),
        }
    }
}

/// An image pinned by digest is that digest; anything else (a tag, a directory, a file) is
/// named by its locator, and changes in it are found by the periodic rescan.
fn artifact_digest(kind: TargetKind, target: &str, locator: &str) -> String {
    if kind == TargetKind::Registry {
        if let Some((_, digest)) = target.rsplit_once('@') {
            if digest.starts_with("sha256:") && digest.len() == 71 {
                return digest.to_string();
            }
        }
    }
    format!("locator:{}", hex::encode(Sha256::digest(locator.as_bytes())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_directory_target_becomes_a_host_named_by_its_locator() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("rootfs")).unwrap();
        let file: TargetsFile = toml::from_str(
            r#"
            [[target]]
            target = "rootfs"
            tags = { team = "a" }
            [[target]]
            target = "registry.example/app@sha256:0000000000000000000000000000000000000000000000000000000000000001"
            account = "123456789012"
            "#,
        )
        .unwrap();
        let (accounts, resources) = file.resources(dir.path()).unwrap();
        assert_eq!(accounts.len(), 2);
        let host = &resources[0];
        let path = dir.path().join("rootfs").canonicalize().unwrap();
        assert_eq!(host.artifact_locator, format!("dir:{}", path.display()));
        assert_eq!(host.resource_id, host.artifact_locator);
        assert_eq!(host.r#type, ResourceType::Host as i32);
        assert!(host.artifact_digest.starts_with("locator:"));
        let image = &resources[1];
        assert_eq!(image.r#type, ResourceType::ContainerImage as i32);
        assert_eq!(
            image.artifact_digest,
            "sha256:0000000000000000000000000000000000000000000000000000000000000001"
        );
        assert!(image.artifact_locator.starts_with("registry:registry.example/app@"));
    }

    #[test]
    fn a_missing_path_with_a_file_kind_is_an_error() {
        let file: TargetsFile = toml::from_str("[[target]]\ntarget = \"nope\"\nkind = \"dir\"\n").unwrap();
        assert!(file.resources(Path::new("/")).is_err());
        assert!(toml::from_str::<TargetsFile>("[[target]]\ntarget = \"x\"\ncolour = 1\n").is_err());
    }
}
