//! The scan pipeline end to end: real `argus worker` processes, a vulnerability DB built by
//! `argus db import` from the demo advisories, and host directories for them to scan.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use argus_coordinator::targets::Target;
use argus_proto::v1::Resource;

use crate::{argus_bin, run_ok, ChildGuard};

/// The repository's demo root filesystem and advisories.
pub fn demo_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("demo")
}

/// Builds the demo vulnerability DB into `dir` with the real binary.
pub fn demo_db(dir: &Path) -> PathBuf {
    let db = dir.join("demo.vdb");
    run_ok(
        Command::new(argus_bin())
            .args(["db", "--db"])
            .arg(&db)
            .arg("import")
            .arg(demo_dir().join("vulndb")),
    );
    db
}

/// `n` copies of the demo root filesystem under `dir`: `n` distinct artifacts (each directory is
/// its own locator) with the same packages.
pub fn host_dirs(dir: &Path, n: usize) -> Vec<PathBuf> {
    (0..n)
        .map(|i| {
            let dest = dir.join(format!("host-{i:04}"));
            copy_tree(&demo_dir().join("rootfs"), &dest);
            dest
        })
        .collect()
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read_dir") {
        let entry = entry.expect("entry");
        let dest = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_tree(&entry.path(), &dest);
        } else {
            std::fs::copy(entry.path(), &dest).expect("copy");
        }
    }
}

/// A HOST resource in `account` for a directory (as `argus up` makes it from a targets file).
pub fn host_resource(path: &Path, account: &str) -> Resource {
    Target {
        account: Some(account.to_string()),
        region: Some("eu-west-1".into()),
        ..Target::new(path.to_string_lossy())
    }
    .resource(Path::new("/"))
    .expect("target resolves")
}

/// How many findings `argus scan` reports for one demo root filesystem: what the pipeline must
/// produce per artifact.
pub fn findings_per_demo_host(db: &Path) -> usize {
    let out = run_ok(
        Command::new(argus_bin())
            .args(["scan", "--format", "json", "--db"])
            .arg(db)
            .arg(demo_dir().join("rootfs")),
    );
    let v: serde_json::Value = serde_json::from_str(&out).expect("scan json");
    v["findings"].as_array().expect("findings").len()
}

/// `argus worker` processes pulling from one NATS server.
pub struct Workers {
    pub dir: PathBuf,
    nats: String,
    /// A local DB file; `None`: the workers download the published one.
    db: Option<PathBuf>,
    args: Vec<String>,
    pub procs: Vec<Option<ChildGuard>>,
}

impl Workers {
    /// Starts `n` workers matching with the DB file `db`; `args` are extra `argus worker` flags.
    pub fn start(n: usize, dir: &Path, nats: &str, db: &Path, args: &[&str]) -> Workers {
        Self::spawn(n, dir, nats, Some(db), args)
    }

    /// Workers that download the database published to NATS (`argus db publish`).
    pub fn start_from_store(n: usize, dir: &Path, nats: &str, args: &[&str]) -> Workers {
        Self::spawn(n, dir, nats, None, args)
    }

    fn spawn(n: usize, dir: &Path, nats: &str, db: Option<&Path>, args: &[&str]) -> Workers {
        let mut w = Workers {
            dir: dir.to_path_buf(),
            nats: nats.to_string(),
            db: db.map(Path::to_path_buf),
            args: args.iter().map(|s| s.to_string()).collect(),
            procs: Vec::new(),
        };
        for _ in 0..n {
            w.add();
        }
        w
    }

    pub fn add(&mut self) -> usize {
        let i = self.procs.len();
        let log = std::fs::File::create(self.dir.join(format!("worker{i}.log"))).expect("log");
        let mut cmd = Command::new(argus_bin());
        cmd.args(["worker", "--nats", &self.nats, "--name", &format!("worker-{i}")]);
        match &self.db {
            Some(db) => cmd.arg("--db").arg(db),
            None => cmd.arg("--db-dir").arg(self.dir.join(format!("worker{i}-db"))),
        };
        cmd.args(&self.args)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(log);
        self.procs
            .push(Some(ChildGuard::spawn(&format!("worker {i}"), &mut cmd)));
        i
    }

    /// SIGKILL, as a crash would.
    pub fn kill(&mut self, i: usize) {
        self.procs[i] = None;
    }

    /// The tail of every worker's log, for failure messages.
    pub fn log_tails(&self) -> String {
        (0..self.procs.len())
            .map(|i| {
                let tail = crate::file_tail(&self.dir.join(format!("worker{i}.log")), 20);
                format!("--- worker {i}\n{tail}")
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}
