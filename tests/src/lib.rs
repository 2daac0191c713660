//! Shared helpers for the end-to-end tests: images assembled from tar entries written here, the
//! `argus` binary, and child processes (registries, NATS) that are killed when dropped.

use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

pub mod cluster;
pub mod estate;
pub mod image;
pub mod nats;
pub mod otlp;
pub mod pipeline;
pub mod registry;
pub mod up;

/// Whether `name` is one of the variables cargo sets for a crate's own build or run (its
/// manifest, package metadata, output directories), as opposed to the user's configuration.
fn is_crate_variable(name: &str) -> bool {
    const EXACT: &[&str] = &[
        "CARGO_CRATE_NAME",
        "CARGO_PRIMARY_PACKAGE",
        "CARGO_TARGET_TMPDIR",
        "CARGO_RUSTC_CURRENT_DIR",
        "OUT_DIR",
    ];
    const PREFIXES: &[&str] = &["CARGO_MANIFEST_", "CARGO_PKG_", "CARGO_BIN_"];
    EXACT.contains(&name) || PREFIXES.iter().any(|p| name.starts_with(p))
}

/// `sha256:<hex>` of `data`.
pub fn sha256(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(data)))
}

/// The `argus` binary: `$ARGUS_BIN` when set, else built (or found up to date) by cargo once
/// per test process.
///
/// Cargo builds a package's binaries only for that package's own integration tests, so a test
/// in this crate would otherwise run whatever stale `argus` the target directory holds. The
/// build asks for the whole workspace and one test target (`coordinator/tests/help.rs`) so that
/// cargo resolves features as `cargo test --workspace` does, dev-dependencies included: then
/// the `argus` that run's build phase made is up to date here, and a new clone does not compile
/// the coordinator a second time inside a test's time limit.
pub fn argus_bin() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            if let Some(bin) = std::env::var_os("ARGUS_BIN") {
                return PathBuf::from(bin);
            }
            let exe = std::env::current_exe().expect("test executable path");
            // target/<profile>/deps/<test> → target/<profile>/argus
            let dir = exe.parent().and_then(Path::parent).expect("target profile dir");
            let profile = dir.file_name().and_then(|n| n.to_str()).unwrap_or("debug");
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            let mut cmd = Command::new(cargo);
            cmd.args(["build", "--quiet", "--workspace", "--bin", "argus", "--test", "help"]);
            // Cargo gives this test process the variables of the crate it belongs to, and some
            // build scripts (ring's) ask to be rerun when one of them changes: inherited, they
            // made this build and the next `cargo nextest run` rebuild ring and everything above
            // it in turn, several minutes of CI spent inside the first test that got here.
            for (name, _) in std::env::vars_os() {
                if name.to_str().is_some_and(is_crate_variable) {
                    cmd.env_remove(&name);
                }
            }
            if profile != "debug" {
                cmd.args(["--profile", profile]);
            }
            let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml");
            cmd.arg("--manifest-path").arg(manifest);
            run_ok(&mut cmd);
            let bin = dir.join("argus");
            assert!(bin.exists(), "{} is missing after cargo build", bin.display());
            bin
        })
        .clone()
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// Waits until `cond` holds, polling; panics with `what` after `timeout`.
pub fn wait_for(what: &str, timeout: Duration, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A child process killed (SIGKILL) and reaped on drop, so a failing test leaves nothing behind.
pub struct ChildGuard {
    pub child: Child,
    pub name: String,
}

impl ChildGuard {
    pub fn spawn(name: &str, cmd: &mut Command) -> ChildGuard {
        let child = cmd.spawn().unwrap_or_else(|e| panic!("starting {name}: {e}"));
        ChildGuard {
            child,
            name: name.to_string(),
        }
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether something accepts TCP connections on 127.0.0.1:`port`.
pub fn port_open(port: u16) -> bool {
    std::net::TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_millis(200)).is_ok()
}

/// The last `n` lines of a log file (empty when it cannot be read), for failure messages.
pub fn file_tail(path: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Writes `contents` to `dir/rel`, creating parents.
pub fn write_file(dir: &Path, rel: &str, contents: impl AsRef<[u8]>) -> PathBuf {
    let path = dir.join(rel.trim_start_matches('/'));
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    let mut f = std::fs::File::create(&path).expect("create");
    f.write_all(contents.as_ref()).expect("write");
    path
}

/// Runs a command to completion and returns stdout; panics with its stderr when it fails.
pub fn run_ok(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("running {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[cfg(test)]
mod tests {
    use super::is_crate_variable;

    #[test]
    fn the_crates_own_variables_are_dropped_and_the_users_configuration_kept() {
        for name in ["CARGO_MANIFEST_DIR", "CARGO_PKG_NAME", "CARGO_CRATE_NAME", "OUT_DIR"] {
            assert!(is_crate_variable(name), "{name}");
        }
        for name in ["CARGO_HOME", "CARGO_TARGET_DIR", "CARGO_TERM_COLOR", "CXXFLAGS", "PATH"] {
            assert!(!is_crate_variable(name), "{name}");
        }
    }
}
