//! A real nats-server with JetStream on a free loopback port and a store of its own, for tests
//! that need the distributed queue. Killed on drop.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::{free_port, port_open, wait_for, ChildGuard};

pub struct NatsServer {
    pub port: u16,
    dir: tempfile::TempDir,
    process: Option<ChildGuard>,
}

/// `$NATS_SERVER`, else Debian's nats-server (in /usr/sbin, often not on a user's PATH).
fn binary() -> PathBuf {
    if let Some(bin) = std::env::var_os("NATS_SERVER") {
        return PathBuf::from(bin);
    }
    ["/usr/sbin/nats-server", "/usr/bin/nats-server"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .unwrap_or_else(|| PathBuf::from("nats-server"))
}

impl NatsServer {
    /// Starts a server and waits until it accepts connections.
    pub fn start() -> NatsServer {
        let mut server = NatsServer {
            port: free_port(),
            dir: tempfile::tempdir().expect("tempdir"),
            process: None,
        };
        server.spawn();
        server
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    fn store(&self) -> PathBuf {
        self.dir.path().join("store")
    }

    /// The JetStream store directory, for disk measurements.
    pub fn store_dir(&self) -> PathBuf {
        self.store()
    }

    /// The OS process id while running, for RSS measurements.
    pub fn pid(&self) -> Option<u32> {
        self.process.as_ref().map(|p| p.child.id())
    }

    fn log(&self) -> PathBuf {
        self.dir.path().join("nats.log")
    }

    fn spawn(&mut self) {
        assert!(self.process.is_none(), "nats-server is already running");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log())
            .expect("nats log");
        let mut cmd = Command::new(binary());
        cmd.args(["-js", "-a", "127.0.0.1", "-p", &self.port.to_string(), "-sd"])
            .arg(self.store())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log handle"))
            .stderr(log);
        self.process = Some(ChildGuard::spawn("nats-server", &mut cmd));
        let port = self.port;
        let what = format!("nats-server on port {port} (log {})", self.log().display());
        wait_for(&what, Duration::from_secs(20), || port_open(port));
    }

    /// SIGKILL: no chance to flush anything.
    pub fn kill(&mut self) {
        self.process = None;
        let port = self.port;
        wait_for("nats-server to close its port", Duration::from_secs(20), || {
            !port_open(port)
        });
    }

    /// Kills the server and starts it again on the same port with the store it had.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    /// Kills the server, wipes its store and starts it again on the same port: every stream,
    /// consumer and message is gone.
    pub fn restart_empty(&mut self) {
        self.kill();
        let store = self.store();
        if store.exists() {
            std::fs::remove_dir_all(&store).expect("wiping the nats store");
        }
        self.spawn();
    }

    /// The end of the server's log, for failure messages.
    pub fn log_tail(&self) -> String {
        crate::file_tail(&self.log(), 30)
    }
}
