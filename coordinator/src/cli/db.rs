//! `argus db`: build and inspect the vulnerability database.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use argus_worker::vulndb::{import::import, VulnDb};
use clap::{Args, Subcommand};

use argus_coordinator::config::Config;

#[derive(Debug, Args)]
pub struct DbArgs {
    /// The database file; defaults to `vulndb.path` in the config.
    #[arg(long, global = true, env = "ARGUS_DB")]
    pub db: Option<PathBuf>,
    #[command(subcommand)]
    pub command: DbCommand,
}

#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Build the database from OSV records (directories, JSON files, osv.dev `all.zip`
    /// archives), FIRST's EPSS CSV and CISA's KEV catalog; replaces the old one when complete.
    Import {
        /// Inputs, in any mix.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Print every skipped record, not just the counts.
        #[arg(long)]
        verbose_skips: bool,
    },
    /// Download the OSV archives, EPSS scores and KEV catalog (conditional requests: unchanged
    /// files are not downloaded again), check them, and rebuild the database.
    Update {
        /// OSV ecosystems to fetch (`PyPI`, `Debian`, ...); the configured list by default.
        #[arg(long = "ecosystem")]
        ecosystems: Vec<String>,
        /// Fetch the ecosystems found in this target's inventory instead.
        #[arg(long = "for")]
        for_target: Option<String>,
    },
    /// Upload the database to the NATS JetStream object store and announce it to workers, which
    /// switch to it between jobs; older published versions beyond `--keep` are deleted.
    Publish {
        /// NATS server URL.
        #[arg(long, env = "ARGUS_NATS")]
        nats: String,
        /// Object-store bucket.
        #[arg(long, default_value = argus_worker::vulndb::distribute::DEFAULT_BUCKET)]
        bucket: String,
        /// Older versions to keep besides the new one, for workers still downloading them.
        #[arg(long, default_value_t = argus_worker::vulndb::distribute::DEFAULT_KEEP_OLD)]
        keep: usize,
    },
    /// Print the database version, record counts per ecosystem and freshness.
    Info {
        /// As JSON.
        #[arg(long)]
        json: bool,
    },
}

pub fn run(args: DbArgs, config: &Config) -> anyhow::Result<ExitCode> {
    let path = args.db.unwrap_or_else(|| config.vulndb.path.clone());
    match args.command {
        DbCommand::Import { paths, verbose_skips } => {
            let report = import(&paths, &path).with_context(|| format!("importing into {}", path.display()))?;
            let shown = if verbose_skips {
                report.warnings.len()
            } else {
                report.warnings.len().min(20)
            };
            for w in &report.warnings[..shown] {
                eprintln!("warning: {}: {}", w.source, w.message);
            }
            if shown < report.warnings.len() {
                eprintln!("warning: {} more (see --verbose-skips)", report.warnings.len() - shown);
            }
            let m = &report.meta;
            println!(
                "{}: version {}, {} records, {} EPSS scores, {} KEV entries",
                path.display(),
                m.version,
                m.records,
                m.epss_entries,
                m.kev.len()
            );
            for (reason, n) in &m.skipped {
                println!("skipped {n} ({reason})");
            }
        }
        DbCommand::Update {
            mut ecosystems,
            for_target,
        } => {
            if let Some(target) = for_target {
                let opts = argus_worker::ScanOptions {
                    limits: config.limits.clone(),
                    ..Default::default()
                };
                let inv = argus_worker::scan_target(&target, &opts, &argus_worker::artifact::NoProgress)?;
                ecosystems.extend(
                    inv.packages
                        .iter()
                        .map(|p| argus_worker::vulndb::update::osv_folder(p.ecosystem.as_str())),
                );
                ecosystems.sort();
                ecosystems.dedup();
                if ecosystems.is_empty() {
                    anyhow::bail!("{target} has no packages; nothing to update");
                }
            }
            let bar = super::progress::Bar::new();
            let result = argus_worker::vulndb::update::update(&config.vulndb.sources, &ecosystems, &path, &bar);
            bar.finish();
            let report = result?;
            for (url, fetched) in &report.fetched {
                match fetched {
                    argus_worker::vulndb::update::Fetched::Downloaded { bytes } => {
                        println!("downloaded {url} ({bytes} bytes)")
                    }
                    argus_worker::vulndb::update::Fetched::NotModified => println!("not modified {url}"),
                }
            }
            for w in report.import.warnings.iter().take(20) {
                eprintln!("warning: {}: {}", w.source, w.message);
            }
            let m = &report.import.meta;
            println!(
                "{}: version {}, {} records, {} EPSS scores, {} KEV entries",
                path.display(),
                m.version,
                m.records,
                m.epss_entries,
                m.kev.len()
            );
        }
        DbCommand::Publish { nats, bucket, keep } => {
            use argus_worker::vulndb::distribute;
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            let published = runtime.block_on(async {
                let js = distribute::connect(&nats).await?;
                distribute::publish(&js, &bucket, &path, keep).await
            })?;
            let how = match (published.uploaded, published.announced) {
                (true, _) => "published",
                (false, true) => "announced (already uploaded)",
                (false, false) => "already published",
            };
            println!(
                "{how} {} ({} bytes, {}) to bucket {bucket} on {nats}",
                published.version, published.size, published.sha256
            );
            for version in &published.removed {
                println!("removed old version {version}");
            }
        }
        DbCommand::Info { json } => {
            let db = VulnDb::open(&path)?;
            let m = db.meta();
            if json {
                let mut v = serde_json::to_value(m)?;
                // The KEV catalog itself is data, not information about the database.
                if let Some(o) = v.as_object_mut() {
                    o.remove("kev");
                    o.insert("kev_entries".into(), m.kev.len().into());
                }
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                println!("database   {}", path.display());
                println!("version    {}", m.version);
                println!("digest     {}", m.content_digest);
                println!("built      {}", m.built_at);
                println!("newest     {}", m.newest_modified.as_deref().unwrap_or("-"));
                println!("records    {}", m.records);
                for (eco, n) in &m.per_ecosystem {
                    println!("  {eco:<20} {n}");
                }
                println!(
                    "epss       {} scores ({})",
                    m.epss_entries,
                    m.epss_date.as_deref().unwrap_or("no date")
                );
                println!(
                    "kev        {} entries (catalog {})",
                    m.kev.len(),
                    m.kev_version.as_deref().unwrap_or("-")
                );
                if m.git_ranges_ignored > 0 {
                    println!("git ranges {} not evaluated", m.git_ranges_ignored);
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
