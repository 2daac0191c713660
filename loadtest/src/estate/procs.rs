//! The system under test: nats-server, three `argus coordinator`s and W `argus worker`s started
//! here on loopback; or one embedded `argus up` process; or a running cluster given by
//! addresses (then nothing is started, killed or scaled). The synthetic databases are built
//! here and published with `argus db publish` (to the embedded process: written over its file).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Context;
use argus_coordinator::client::Client;
use argus_tests::cluster::Cluster;
use argus_tests::nats::NatsServer;
use argus_tests::pipeline::Workers;
use argus_tests::{argus_bin, run_ok};
use argus_worker::synthetic;
use argus_worker::vulndb::VulnDb;
use serde_json::json;

use super::embedded::Up;
use super::{Engine, EstateArgs};

pub struct Procs {
    pub nats_url: String,
    pub nats: Option<NatsServer>,
    pub cluster: Option<Cluster>,
    pub workers: Option<Workers>,
    /// The embedded process, with `--embedded`.
    pub up: Option<Up>,
    external: Vec<String>,
    /// Where the databases are built.
    pub work: PathBuf,
}

/// The coordinators' configuration for a run: the dispatch window and short scheduler ticks.
fn config(nats_url: &str, args: &EstateArgs) -> String {
    format!(
        "[pipeline]\nnats_url = \"{nats_url}\"\ndispatch_window = {}\ntick_ms = 100\njob_timeout_secs = 120\n\
         ingest_batch = 1024\n[queue]\nmax_ack_pending = {}\n",
        args.dispatch_window,
        args.dispatch_window.max(1000)
    )
}

/// The worker flags of a simulated scan, none for the real engine.
pub fn simulate_args(args: &EstateArgs) -> Vec<String> {
    match args.engine {
        Engine::Simulated => vec![
            "--simulate-scan-ms".into(),
            args.scan_ms.to_string(),
            "--simulate-packages".into(),
            args.packages.to_string(),
        ],
        Engine::Real => Vec::new(),
    }
}

/// `argus db publish` of `db` to the cluster's NATS.
fn publish(nats_url: &str, db: &Path) {
    run_ok(
        Command::new(argus_bin())
            .args(["db", "publish", "--nats", nats_url, "--db"])
            .arg(db),
    );
}

/// The baseline database (every universe advisory) or, with `marker_percent`, the baseline
/// plus the marker advisory. Returns its version.
pub fn build_db(work: &Path, marker_percent: Option<u64>) -> anyhow::Result<(PathBuf, String)> {
    let name = match marker_percent {
        None => "baseline".to_string(),
        Some(p) => format!("marker-{p}"),
    };
    let src = work.join(format!("osv-{name}"));
    synthetic::write_advisories(&src)?;
    if let Some(p) = marker_percent {
        synthetic::write_marker_advisory(&src, p)?;
    }
    let path = work.join(format!("{name}.vdb"));
    argus_worker::vulndb::import::import(&[&src], &path).context("importing the synthetic advisories")?;
    std::fs::remove_dir_all(&src)?;
    let version = VulnDb::open(&path)?.meta().version.clone();
    Ok((path, version))
}

impl Procs {
    pub async fn start(args: &EstateArgs, work: &Path) -> anyhow::Result<Procs> {
        let (baseline, _) = build_db(work, None)?;
        if let (Some(addresses), Some(nats)) = (&args.addresses, &args.nats) {
            publish(nats, &baseline);
            return Ok(Procs {
                nats_url: nats.clone(),
                nats: None,
                cluster: None,
                workers: None,
                up: None,
                external: addresses.split(',').map(|a| a.trim().to_string()).collect(),
                work: work.to_path_buf(),
            });
        }
        anyhow::ensure!(
            args.addresses.is_none() && args.nats.is_none(),
            "--addresses and --nats go together"
        );
        crate::process::locate_argus()?;
        if args.embedded {
            let up = Up::start(work, args, &baseline)?;
            return Ok(Procs {
                nats_url: String::new(),
                nats: None,
                cluster: None,
                workers: None,
                up: Some(up),
                external: Vec::new(),
                work: work.to_path_buf(),
            });
        }
        let nats = NatsServer::start();
        let url = nats.url();
        // Published before the coordinators start: the first version they see is the baseline.
        publish(&url, &baseline);
        let cluster = Cluster::start_with(args.coordinators, "", &config(&url, args)).await;
        let mut worker_args = vec![
            "--config".to_string(),
            cluster.config.to_string_lossy().into_owned(),
            "--concurrency".into(),
            args.concurrency.to_string(),
        ];
        worker_args.extend(simulate_args(args));
        let refs: Vec<&str> = worker_args.iter().map(String::as_str).collect();
        let workers = Workers::start_from_store(args.workers, cluster.dir.path(), &url, &refs);
        Ok(Procs {
            nats_url: url,
            nats: Some(nats),
            cluster: Some(cluster),
            workers: Some(workers),
            up: None,
            external: Vec::new(),
            work: work.to_path_buf(),
        })
    }

    /// Whether the processes were started here (and may be killed).
    pub fn managed(&self) -> bool {
        self.cluster.is_some() || self.up.is_some()
    }

    pub fn addresses(&self) -> Vec<String> {
        match (&self.cluster, &self.up) {
            (Some(c), _) => c.addresses(),
            (None, Some(up)) => vec![up.address()],
            (None, None) => self.external.clone(),
        }
    }

    /// A client knowing every running coordinator.
    pub fn client(&self) -> anyhow::Result<Client> {
        Ok(Client::new(&self.addresses())?)
    }

    pub fn publish(&self, db: &Path) -> anyhow::Result<()> {
        match &self.up {
            Some(up) => up.install_db(db),
            None => {
                publish(&self.nats_url, db);
                Ok(())
            }
        }
    }

    /// Kills every worker and starts `n` fresh ones.
    pub fn set_workers(&mut self, n: usize) {
        let Some(w) = self.workers.as_mut() else { return };
        for i in 0..w.procs.len() {
            w.kill(i);
        }
        for _ in 0..n {
            w.add();
        }
    }

    /// The tails of every log, for failure messages.
    pub fn log_tails(&self) -> String {
        let mut out = String::new();
        if let Some(c) = &self.cluster {
            out += &c.log_tails(15);
        }
        if let Some(w) = &self.workers {
            out += &w.log_tails();
        }
        if let Some(up) = &self.up {
            out += &up.log_tail(30);
        }
        out
    }

    /// RSS and disk of every process started here, now.
    pub fn resources(&self) -> serde_json::Value {
        use crate::process::status_kib;
        let mut out = Vec::new();
        let mib = |pid: Option<u32>, field: &str| pid.map_or(0, |p| status_kib(&p.to_string(), field) / 1024);
        if let Some(c) = &self.cluster {
            for n in &c.nodes {
                out.push(json!({
                    "process": format!("coordinator {}", n.id),
                    "running": n.is_running(),
                    "rss_mib": mib(n.pid(), "VmRSS:"),
                    "peak_rss_mib": mib(n.pid(), "VmHWM:"),
                    "disk_mib": crate::process::du_bytes(&n.data_dir) / (1 << 20),
                }));
            }
        }
        if let Some(w) = &self.workers {
            for (i, p) in w.procs.iter().enumerate() {
                let Some(p) = p else { continue };
                let pid = Some(p.child.id());
                out.push(json!({
                    "process": format!("worker {i}"),
                    "running": true,
                    "rss_mib": mib(pid, "VmRSS:"),
                    "peak_rss_mib": mib(pid, "VmHWM:"),
                    "disk_mib": crate::process::du_bytes(&w.dir.join(format!("worker{i}-db"))) / (1 << 20),
                }));
            }
        }
        if let Some(up) = &self.up {
            out.push(json!({
                "process": "argus up",
                "running": up.pid().is_some(),
                "rss_mib": mib(up.pid(), "VmRSS:"),
                "peak_rss_mib": mib(up.pid(), "VmHWM:"),
                "disk_mib": crate::process::du_bytes(&up.data_dir()) / (1 << 20),
            }));
        }
        if let Some(n) = &self.nats {
            out.push(json!({
                "process": "nats-server",
                "running": true,
                "rss_mib": mib(n.pid(), "VmRSS:"),
                "peak_rss_mib": mib(n.pid(), "VmHWM:"),
                "disk_mib": crate::process::du_bytes(&n.store_dir()) / (1 << 20),
            }));
        }
        let me = Some(std::process::id());
        out.push(json!({
            "process": "argus-loadtest",
            "running": true,
            "rss_mib": mib(me, "VmRSS:"),
            "peak_rss_mib": mib(me, "VmHWM:"),
            "disk_mib": 0,
        }));
        serde_json::Value::Array(out)
    }
}
