//! `argus agent`: the host agent. Reads the host's package databases and reports them to the
//! coordinators when they change and at least every `--report-interval-secs`; SIGTERM or SIGINT
//! stops it.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use argus_coordinator::agent::{self, AgentConfig};
use argus_coordinator::client::Client;
use argus_coordinator::config::Config;
use argus_coordinator::node::shutdown_signal;
use argus_worker::host::HostScope;
use clap::Args;

#[derive(Debug, Args)]
pub struct AgentArgs {
    /// Coordinator address (host:port); repeat or separate with commas for several nodes.
    #[arg(
        long,
        alias = "addr",
        env = "ARGUS_COORDINATORS",
        value_delimiter = ',',
        required = true
    )]
    pub coordinator: Vec<String>,
    /// The host's root filesystem.
    #[arg(long, env = "ARGUS_AGENT_ROOT", default_value = "/")]
    pub root: PathBuf,
    /// `os`: the operating system's package databases (dpkg, rpm, apk); `all`: the whole tree
    /// as `argus sbom` reads a directory (language packages too; walks the disk).
    #[arg(long, env = "ARGUS_AGENT_SCOPE", default_value = "os")]
    pub scope: HostScope,
    /// The resource this host is (default: the EC2 instance id from instance metadata, else
    /// the host name).
    #[arg(long, env = "ARGUS_AGENT_RESOURCE_ID")]
    pub resource_id: Option<String>,
    /// Account of the resource when the coordinators do not know it yet (default: from
    /// instance metadata).
    #[arg(long, env = "ARGUS_AGENT_ACCOUNT_ID")]
    pub account_id: Option<String>,
    /// Region of a new resource (default: from instance metadata).
    #[arg(long, env = "ARGUS_AGENT_REGION")]
    pub region: Option<String>,
    /// The EC2 instance metadata service; `none` never asks it.
    #[arg(long, env = "ARGUS_AGENT_IMDS", default_value = "http://169.254.169.254")]
    pub imds: String,
    /// How often the package databases are read to see whether they changed.
    #[arg(long, env = "ARGUS_AGENT_CHECK_INTERVAL_SECS", default_value_t = 300)]
    pub check_interval_secs: u64,
    /// The longest time between two reports, changed or not.
    #[arg(long, env = "ARGUS_AGENT_REPORT_INTERVAL_SECS", default_value_t = 3600)]
    pub report_interval_secs: u64,
    /// Report once and exit (non-zero when the report failed).
    #[arg(long)]
    pub once: bool,
}

pub fn run(args: AgentArgs, config: &Config) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(args.check_interval_secs > 0, "--check-interval-secs must be at least 1");
    let config = AgentConfig {
        coordinators: args.coordinator.clone(),
        root: args.root.clone(),
        scope: args.scope,
        resource_id: args.resource_id.clone(),
        account_id: args.account_id.clone(),
        region: args.region.clone(),
        imds_endpoint: Some(args.imds.clone()).filter(|e| e != "none"),
        check_interval: Duration::from_secs(args.check_interval_secs),
        report_interval: Duration::from_secs(args.report_interval_secs),
        limits: config.limits.clone(),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        if args.once {
            let who = agent::identify(&config);
            let (_, request) = agent::read_report(&config, &who)?;
            let client = Client::new(&config.coordinators)?;
            let r = agent::report(&client, request)
                .await
                .with_context(|| format!("reporting {} to {}", who.resource_id, client.endpoint()))?;
            println!(
                "{} {} {} packages{}",
                who.resource_id,
                r.artifact_digest,
                r.packages,
                if r.changed { " (changed)" } else { "" }
            );
            return Ok(ExitCode::SUCCESS);
        }
        let (stop, stopped) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            shutdown_signal().await;
            let _ = stop.send(true);
        });
        agent::run(config, stopped).await?;
        Ok(ExitCode::SUCCESS)
    })
}
