//! The estate against the embedded mode: one `argus up` process (a one-node coordinator, the
//! in-process queue and its worker tasks; no NATS) started here on loopback. A new database
//! reaches it the way it reaches a user's `argus up`: written over the file it watches.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::Context;
use argus_tests::{argus_bin, free_port, port_open, wait_for, write_file, ChildGuard};

use super::EstateArgs;

pub struct Up {
    pub dir: PathBuf,
    pub port: u16,
    /// The database file the process watches.
    pub db_path: PathBuf,
    config: PathBuf,
    args: Vec<String>,
    process: Option<ChildGuard>,
}

impl Up {
    /// Starts `argus up` on `baseline` (copied to the watched path) with simulated scans.
    pub fn start(work: &Path, args: &EstateArgs, baseline: &Path) -> anyhow::Result<Up> {
        let dir = work.join("up");
        std::fs::create_dir_all(&dir)?;
        let db_path = dir.join("vulndb.vdb");
        std::fs::copy(baseline, &db_path).context("copying the baseline database")?;
        let config = write_file(
            &dir,
            "argus.toml",
            format!(
                "[pipeline]\ndispatch_window = {}\ntick_ms = 100\njob_timeout_secs = 120\ningest_batch = 1024\n\
                 [queue]\nmax_ack_pending = {}\n",
                args.dispatch_window,
                args.dispatch_window.max(1000)
            ),
        );
        let port = free_port();
        let mut up_args = vec![
            "--listen".to_string(),
            format!("127.0.0.1:{port}"),
            "--data-dir".into(),
            dir.join("data").to_string_lossy().into_owned(),
            "--db".into(),
            db_path.to_string_lossy().into_owned(),
            "--workers".into(),
            args.workers.to_string(),
            "--concurrency".into(),
            args.concurrency.to_string(),
            "--timeout".into(),
            args.timeout_secs.to_string(),
        ];
        up_args.extend(super::procs::simulate_args(args));
        let mut up = Up {
            dir,
            port,
            db_path,
            config,
            args: up_args,
            process: None,
        };
        up.restart();
        Ok(up)
    }

    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn pid(&self) -> Option<u32> {
        self.process.as_ref().map(|p| p.child.id())
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// SIGKILL: the in-process queue, and every job and result in it, dies with the process.
    pub fn kill(&mut self) {
        self.process = None;
        let port = self.port;
        wait_for("argus up to close its port", Duration::from_secs(20), || {
            !port_open(port)
        });
    }

    /// (Re)starts the process on its data directory and waits until it serves.
    pub fn restart(&mut self) {
        assert!(self.process.is_none(), "argus up is running");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("up.log"))
            .expect("log file");
        let mut cmd = Command::new(argus_bin());
        cmd.arg("--config")
            .arg(&self.config)
            .arg("up")
            .args(&self.args)
            .env("RUST_LOG", "info")
            .stdout(std::process::Stdio::null())
            .stderr(log);
        let mut child = ChildGuard::spawn("argus up", &mut cmd);
        let port = self.port;
        let mut exited = None;
        wait_for("argus up to listen", Duration::from_secs(60), || {
            exited = child.child.try_wait().ok().flatten();
            exited.is_some() || port_open(port)
        });
        if let Some(status) = exited {
            panic!("argus up exited with {status}\n{}", self.log_tail(30));
        }
        self.process = Some(child);
    }

    /// Replaces the watched database with `db` in one rename, as `argus db import` would.
    pub fn install_db(&self, db: &Path) -> anyhow::Result<()> {
        let tmp = self.db_path.with_extension("vdb.part");
        std::fs::copy(db, &tmp)?;
        std::fs::rename(&tmp, &self.db_path)?;
        Ok(())
    }

    pub fn log_tail(&self, n: usize) -> String {
        format!(
            "--- argus up ---\n{}\n",
            argus_tests::file_tail(&self.dir.join("up.log"), n)
        )
    }
}
