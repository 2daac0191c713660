//! `argus sbom <target>`: the package inventory of one artifact.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use argus_proto::Inventory;
use argus_worker::sbom;
use clap::{Args, ValueEnum};

use super::output;
use super::target::TargetArgs;
use argus_coordinator::config::Config;

#[derive(Debug, Args)]
pub struct SbomArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Output format; a table on a terminal, CycloneDX otherwise.
    #[arg(short, long, value_enum)]
    pub format: Option<Format>,
    /// Write to this file instead of stdout.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum Format {
    Table,
    /// Argus's own inventory JSON.
    Json,
    /// CycloneDX 1.5 JSON.
    Cyclonedx,
    /// SPDX 2.3 JSON.
    Spdx,
}

pub fn run(args: SbomArgs, config: &Config) -> anyhow::Result<ExitCode> {
    let inventory = args.target.inventory(config)?;
    let to_terminal = args.output.is_none() && std::io::stdout().is_terminal();
    let format = args
        .format
        .unwrap_or(if to_terminal { Format::Table } else { Format::Cyclonedx });
    let rendered = render(&inventory, format)?;
    output::write(args.output.as_deref(), &rendered)?;
    Ok(ExitCode::SUCCESS)
}

fn render(inv: &Inventory, format: Format) -> anyhow::Result<String> {
    Ok(match format {
        Format::Table => table(inv),
        Format::Json => serde_json::to_string_pretty(inv)? + "\n",
        Format::Cyclonedx => serde_json::to_string_pretty(&sbom::to_cyclonedx(inv))? + "\n",
        Format::Spdx => serde_json::to_string_pretty(&sbom::to_spdx(inv))? + "\n",
    })
}

pub(super) fn table(inv: &Inventory) -> String {
    let mut rows: Vec<[String; 5]> = vec![[
        "ECOSYSTEM".into(),
        "NAME".into(),
        "VERSION".into(),
        "MANAGER".into(),
        "PATH".into(),
    ]];
    for p in &inv.packages {
        let mut path = p.file_path.clone();
        if let Some(layer) = &p.layer_digest {
            let hex = layer.split_once(':').map(|(_, h)| h).unwrap_or(layer);
            path = format!("{path} ({})", &hex[..hex.len().min(12)]);
        }
        rows.push([
            p.ecosystem.to_string(),
            p.name.clone(),
            p.version.clone(),
            p.package_manager.as_str().into(),
            path,
        ]);
    }
    let os = inv.os.as_ref().map(|o| o.pretty_name.as_str()).unwrap_or("unknown OS");
    let digest = inv.artifact_digest.as_deref().unwrap_or("-");
    format!(
        "{}  {os}  {digest}  {} packages\n\n{}",
        inv.target,
        inv.packages.len(),
        output::columns(&rows)
    )
}
