//! Debian's `docker-registry` (the reference OCI distribution server) on loopback for the
//! end-to-end tests, and `skopeo` to push images into it.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::{free_port, port_open, run_ok, wait_for, write_file, ChildGuard};

pub struct Registry {
    _child: ChildGuard,
    pub port: u16,
}

/// Starts `docker-registry` on a free loopback port with its storage in `dir` and `auth` as
/// the configuration's `auth:` section (empty for anonymous access).
pub fn start_registry(dir: &Path, auth: &str) -> Registry {
    let port = free_port();
    let config = write_file(
        dir,
        "config.yml",
        format!(
            "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n{auth}",
            dir.join("data").display()
        ),
    );
    let child = ChildGuard::spawn(
        "docker-registry",
        Command::new("docker-registry")
            .arg("serve")
            .arg(config)
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    wait_for("registry to listen", Duration::from_secs(20), || port_open(port));
    Registry { _child: child, port }
}

/// The `auth:` section for Basic credentials checked against one htpasswd `line`.
pub fn htpasswd_auth(dir: &Path, line: &str) -> String {
    let p = write_file(dir, "htpasswd", format!("{line}\n"));
    format!("auth:\n  htpasswd:\n    realm: argus-test\n    path: {}\n", p.display())
}

pub fn push(layout: &Path, dest: &str, creds: Option<&str>) {
    let mut cmd = Command::new("skopeo");
    cmd.args(["--insecure-policy", "copy", "--quiet", "--dest-tls-verify=false"]);
    if let Some(c) = creds {
        cmd.args(["--dest-creds", c]);
    }
    cmd.arg(format!("oci:{}:1", layout.display()))
        .arg(format!("docker://{dest}"));
    run_ok(&mut cmd);
}
