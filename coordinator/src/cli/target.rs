//! What to scan and how to reach it: shared by `argus sbom` and `argus scan`.

use std::time::Duration;

use argus_proto::Inventory;
use argus_worker::artifact::registry::RegistryOptions;
use argus_worker::{scan_target, ScanOptions, TargetKind};
use clap::{Args, ValueEnum};

use super::progress::Bar;
use argus_coordinator::config::Config;

#[derive(Debug, Args)]
pub struct TargetArgs {
    /// A directory, OCI layout, `docker save` tarball, zip/jar, SBOM file, or an image
    /// reference (`registry/repo:tag`, `repo@sha256:...`).
    pub target: String,
    /// What the target is, when detection guesses wrong.
    #[arg(long, value_enum)]
    pub kind: Option<Kind>,
    /// Platform to pick from a multi-platform image, as os/arch[/variant].
    #[arg(long, env = "ARGUS_PLATFORM")]
    pub platform: Option<String>,
    /// Talk plain HTTP to the registry (for a registry on loopback without TLS).
    #[arg(long)]
    pub plain_http: bool,
    /// Registry username.
    #[arg(long, env = "ARGUS_REGISTRY_USERNAME")]
    pub username: Option<String>,
    /// Registry password or access token.
    #[arg(long, env = "ARGUS_REGISTRY_PASSWORD", hide_env_values = true)]
    pub password: Option<String>,
    /// A Bearer token to send to the registry as is.
    #[arg(long, env = "ARGUS_REGISTRY_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Registry request timeout in seconds.
    #[arg(long, default_value_t = 60)]
    pub timeout: u64,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Kind {
    Dir,
    OciLayout,
    DockerArchive,
    Zip,
    Sbom,
    Registry,
}

impl From<Kind> for TargetKind {
    fn from(k: Kind) -> Self {
        match k {
            Kind::Dir => TargetKind::Dir,
            Kind::OciLayout => TargetKind::OciLayout,
            Kind::DockerArchive => TargetKind::DockerArchive,
            Kind::Zip => TargetKind::Zip,
            Kind::Sbom => TargetKind::Sbom,
            Kind::Registry => TargetKind::Registry,
        }
    }
}

impl TargetArgs {
    /// Inventories the target with a progress bar, printing its warnings to stderr.
    pub fn inventory(&self, config: &Config) -> anyhow::Result<Inventory> {
        let bar = Bar::new();
        let result = scan_target(&self.target, &self.scan_options(config), &bar);
        bar.finish();
        let inventory = result?;
        for w in &inventory.warnings {
            eprintln!("warning: {w}");
        }
        Ok(inventory)
    }

    pub fn scan_options(&self, config: &Config) -> ScanOptions {
        ScanOptions {
            kind: self.kind.map(Into::into),
            limits: config.limits.clone(),
            platform: self.platform.clone(),
            registry: RegistryOptions {
                plain_http: self.plain_http,
                username: self.username.clone(),
                password: self.password.clone(),
                bearer_token: self.token.clone(),
                timeout: Some(Duration::from_secs(self.timeout)),
                endpoint: None,
            },
        }
    }
}
