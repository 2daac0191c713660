//! `argus up` as a child process for end-to-end tests: a vulnerability database of advisories
//! the test writes, the process serving on a free loopback port, and the findings it serves.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use argus_coordinator::client::Client;
use argus_proto::v1::{
    Finding, FindingFilter, FindingStatus, GetResourceRequest, ListFindingsRequest, Resource, StringComparison,
    StringFilter,
};

use crate::{argus_bin, file_tail, free_port, run_ok, wait_for, write_file, ChildGuard};

/// An OSV advisory for one package of `ecosystem`, affected from the start up to `fixed`,
/// CVSS 9.8.
pub fn advisory(id: &str, ecosystem: &str, package: &str, fixed: &str) -> String {
    serde_json::json!({
        "schema_version": "1.6.0",
        "id": id,
        "modified": "2026-11-01T00:00:00Z",
        "summary": format!("test advisory for {package}"),
        "affected": [{
            "package": {"ecosystem": ecosystem, "name": package},
            "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": fixed}]}]
        }],
        "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}]
    })
    .to_string()
}

/// `argus db import` of `advisories` (`(id, OSV JSON)`) into `dir/test.vdb`.
pub fn import_db(dir: &Path, advisories: &[(&str, String)]) -> PathBuf {
    for (id, json) in advisories {
        write_file(dir, &format!("vulndb/{id}.json"), json);
    }
    let db = dir.join("test.vdb");
    run_ok(
        Command::new(argus_bin())
            .args(["db", "--db"])
            .arg(&db)
            .arg("import")
            .arg(dir.join("vulndb")),
    );
    db
}

/// A running `argus up` with no targets.
pub struct Up {
    pub addr: String,
    pub log: PathBuf,
    _process: ChildGuard,
}

impl Up {
    /// Starts `argus up` with its data in `dir`, `config` as its configuration file and `env`
    /// added to its environment, and waits until it serves.
    pub fn start(dir: &Path, db: &Path, config: Option<&Path>, env: &[(&str, &str)]) -> Up {
        let addr = format!("127.0.0.1:{}", free_port());
        let log = dir.join("up.log");
        let mut cmd = Command::new(argus_bin());
        if let Some(c) = config {
            cmd.arg("--config").arg(c);
        }
        cmd.args(["up", "--listen", &addr, "--db"])
            .arg(db)
            .arg("--data-dir")
            .arg(dir.join("data"))
            .env("RUST_LOG", "info")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap());
        let process = ChildGuard::spawn("argus up", &mut cmd);
        wait_for("argus up to serve", Duration::from_secs(60), || {
            std::fs::read_to_string(&log)
                .unwrap_or_default()
                .contains("serving until interrupted")
        });
        Up {
            addr,
            log,
            _process: process,
        }
    }

    pub fn client(&self) -> Client {
        Client::new(&[self.addr.as_str()]).unwrap()
    }
}

/// Polls `get` until it returns `want`; after 60 s fails with the last answer and the tail of
/// `log`.
pub async fn eventually<T: PartialEq + std::fmt::Debug, F, Fut>(what: &str, log: &Path, want: T, mut get: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = T>,
{
    let start = Instant::now();
    loop {
        let got = get().await;
        if got == want {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "{what}: got {got:?}, want {want:?}\n{}",
            file_tail(log, 30)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The resource `id` as the coordinator serves it.
pub async fn resource(client: &Client, id: &str) -> Resource {
    client
        .inventory()
        .get_resource(GetResourceRequest { resource_id: id.into() })
        .await
        .unwrap()
        .into_inner()
        .resource
        .unwrap_or_else(|| panic!("no resource {id}"))
}

/// The findings that match `filter` (first 1,000).
pub async fn list_findings(client: &Client, filter: FindingFilter) -> Vec<Finding> {
    client
        .findings()
        .list_findings(ListFindingsRequest {
            filter: Some(filter),
            page_size: 1000,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .findings
}

/// Findings on `resource` with `status`: `(vulnerability id, package name, installed
/// version)`, sorted.
pub async fn findings_of(client: &Client, resource: &str, status: FindingStatus) -> Vec<(String, String, String)> {
    let filter = FindingFilter {
        resource_id: vec![StringFilter {
            comparison: StringComparison::Equals as i32,
            value: resource.to_string(),
        }],
        status: vec![status as i32],
        ..Default::default()
    };
    let mut out: Vec<(String, String, String)> = list_findings(client, filter)
        .await
        .into_iter()
        .map(|f| {
            let id = f.vulnerability.as_ref().map(|v| v.id.clone()).unwrap_or_default();
            let p = f.package.unwrap_or_default();
            (id, p.name, p.version)
        })
        .collect();
    out.sort();
    out
}
