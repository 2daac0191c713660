//! The configuration file (`--config`, TOML). Every section has defaults, so no file is needed;
//! unknown fields are rejected so a typo is an error rather than a silently ignored setting.

use std::path::{Path, PathBuf};

use anyhow::Context;
use argus_worker::Limits;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Bounds on what one scan may read (file sizes, entry counts, decompressed bytes).
    pub limits: Limits,
    /// The vulnerability database.
    pub vulndb: VulnDbConfig,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VulnDbConfig {
    /// The database file `argus db import` writes and scans read
    /// (default `$XDG_DATA_HOME/argus/vulndb.vdb`, else `~/.local/share/argus/vulndb.vdb`).
    pub path: PathBuf,
    /// Where `argus db update` downloads from (URLs can name a mirror) and which ecosystems.
    pub sources: argus_worker::vulndb::update::Sources,
}

impl Default for VulnDbConfig {
    fn default() -> Self {
        let base = std::env::var_os("XDG_DATA_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
            .unwrap_or_else(|| PathBuf::from("."));
        Self {
            path: base.join("argus/vulndb.vdb"),
            sources: Default::default(),
        }
    }
}

impl Config {
    pub fn load(path: Option<&Path>) -> anyhow::Result<Config> {
        let Some(path) = path else { return Ok(Config::default()) };
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_fields_are_rejected_and_defaults_fill_the_rest() {
        let c: Config = toml::from_str("[limits]\nmax_layers = 3\n").unwrap();
        assert_eq!(c.limits.max_layers, 3);
        assert_eq!(c.limits.max_entries, Limits::default().max_entries);
        assert!(toml::from_str::<Config>("[limits]\nmax_layer = 3\n").is_err());
        assert!(toml::from_str::<Config>("typo = 1\n").is_err());
    }
}
