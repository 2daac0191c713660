//! `argus agent` against a real `argus up`: the machine's own dpkg database reported and
//! matched (package versions taken from `dpkg-query`, the reference), and a running agent
//! reporting again on its own when the host's packages change.

use std::process::{Command, Stdio};

use argus_coordinator::client::Client;
use argus_proto::v1::{CoverageReason, CoverageStatus, FindingStatus, ResourceType};
use argus_tests::up::{advisory, eventually, findings_of, import_db, resource, Up};
use argus_tests::{argus_bin, file_tail, run_ok, write_file, ChildGuard};

const ACCOUNT: &str = "123456789012";

/// This machine's Debian ecosystem (`Debian:12`), from its os-release.
fn debian_ecosystem() -> String {
    let text = std::fs::read_to_string("/etc/os-release").expect("/etc/os-release");
    let field = |k: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{k}=")))
            .map(|v| v.trim_matches('"').to_string())
            .unwrap_or_default()
    };
    assert_eq!(field("ID"), "debian", "this test reads a Debian host's dpkg database");
    format!("Debian:{}", field("VERSION_ID"))
}

/// `(name, version)` of the installed packages, as dpkg itself lists them.
fn installed() -> Vec<(String, String)> {
    run_ok(Command::new("dpkg-query").args(["-W", "-f", "${db:Status-Abbrev}\t${Package}\t${Version}\n"]))
        .lines()
        .filter(|l| l.starts_with("ii"))
        .filter_map(|l| {
            let mut f = l.split('\t').skip(1);
            Some((f.next()?.to_string(), f.next()?.to_string()))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t01_the_agent_reports_this_machines_dpkg_database_and_its_findings_appear() {
    let dir = tempfile::tempdir().unwrap();
    let ecosystem = debian_ecosystem();
    let packages = installed();
    assert!(packages.len() >= 2, "dpkg lists {} installed packages", packages.len());
    let (hit, miss) = (&packages[0], &packages[packages.len() - 1]);
    // One advisory fixed just after the installed version (affects it), one fixed before any
    // version can exist (affects nothing): a finding for the first and none for the second.
    let db = import_db(
        dir.path(),
        &[
            (
                "ARGUS-AGENT-1",
                advisory("ARGUS-AGENT-1", &ecosystem, &hit.0, &format!("{}+argus1", hit.1)),
            ),
            ("ARGUS-AGENT-2", advisory("ARGUS-AGENT-2", &ecosystem, &miss.0, "0~~")),
        ],
    );
    let up = Up::start(dir.path(), &db, None, &[]);
    let (addr, log) = (up.addr.clone(), up.log.clone());
    let out = run_ok(Command::new(argus_bin()).args([
        "agent",
        "--coordinator",
        &addr,
        "--once",
        "--imds",
        "none",
        "--resource-id",
        "agent-host",
        "--account-id",
        ACCOUNT,
    ]));
    let reported: usize = out.split_whitespace().nth(2).and_then(|n| n.parse().ok()).unwrap();
    assert_eq!(
        reported,
        packages.len(),
        "the agent reports every installed package: {out}"
    );

    let client = Client::new(&[addr.as_str()]).unwrap();
    eventually(
        "the finding on the reported host",
        &log,
        vec![("ARGUS-AGENT-1".to_string(), hit.0.clone(), hit.1.clone())],
        || findings_of(&client, "agent-host", FindingStatus::Active),
    )
    .await;
    let resource = resource(&client, "agent-host").await;
    assert_eq!(resource.r#type(), ResourceType::Host);
    assert_eq!(resource.account_id, ACCOUNT);
    assert_eq!(resource.coverage.unwrap().reason(), CoverageReason::Successful);
    let agent = resource.agent.unwrap();
    assert_eq!(agent.packages as usize, packages.len());
    assert!(resource.artifact_locator.is_empty(), "nothing is fetched from a host");

    // The same host reported again: same artifact, nothing changes.
    let again = run_ok(Command::new(argus_bin()).args([
        "agent",
        "--coordinator",
        &addr,
        "--once",
        "--imds",
        "none",
        "--resource-id",
        "agent-host",
    ]));
    assert!(!again.contains("(changed)"), "{again}");
    assert_eq!(again.split_whitespace().nth(1), out.split_whitespace().nth(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t02_a_running_agent_reports_a_changed_package_database_and_the_finding_closes() {
    let dir = tempfile::tempdir().unwrap();
    let db = import_db(
        dir.path(),
        &[(
            "ARGUS-AGENT-3",
            advisory("ARGUS-AGENT-3", "Debian:12", "openssl", "3.0.13-1~deb12u1"),
        )],
    );
    let up = Up::start(dir.path(), &db, None, &[]);
    let (addr, log) = (up.addr.clone(), up.log.clone());
    let root = dir.path().join("host");
    write_file(&root, "etc/os-release", "ID=debian\nVERSION_ID=\"12\"\n");
    let status = |version: &str| {
        format!("Package: openssl\nStatus: install ok installed\nVersion: {version}\nArchitecture: amd64\n\n")
    };
    write_file(&root, "var/lib/dpkg/status", status("3.0.11-1~deb12u2"));
    let agent_log = dir.path().join("agent.log");
    let _agent = ChildGuard::spawn(
        "argus agent",
        Command::new(argus_bin())
            .args([
                "agent",
                "--coordinator",
                &addr,
                "--imds",
                "none",
                "--check-interval-secs",
                "1",
            ])
            .args([
                "--resource-id",
                "i-0a1b2c3d4e5f60718",
                "--account-id",
                ACCOUNT,
                "--region",
                "eu-west-1",
                "--root",
            ])
            .arg(&root)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&agent_log).unwrap()),
    );
    let client = Client::new(&[addr.as_str()]).unwrap();
    let id = "i-0a1b2c3d4e5f60718";
    let vulnerable = vec![(
        "ARGUS-AGENT-3".to_string(),
        "openssl".to_string(),
        "3.0.11-1~deb12u2".to_string(),
    )];
    eventually(
        "the finding from the first report",
        &agent_log,
        vulnerable.clone(),
        || findings_of(&client, id, FindingStatus::Active),
    )
    .await;
    // The package is upgraded on the host; the agent notices on its next check.
    write_file(&root, "var/lib/dpkg/status", status("3.0.13-1~deb12u1"));
    eventually("the finding to close", &log, vulnerable, || {
        findings_of(&client, id, FindingStatus::Closed)
    })
    .await;
    assert!(findings_of(&client, id, FindingStatus::Active).await.is_empty());
    let resource = resource(&client, id).await;
    assert_eq!(
        resource.r#type(),
        ResourceType::AwsEc2Instance,
        "an instance id names an EC2 instance"
    );
    assert_eq!(resource.region, "eu-west-1");
    let reports = std::fs::read_to_string(&agent_log)
        .unwrap()
        .matches("inventory reported")
        .count();
    assert_eq!(
        reports,
        2,
        "one report per distinct inventory within the report interval\n{}",
        file_tail(&agent_log, 20)
    );
}

/// A host whose agent falls silent is marked STALE_INVENTORY by the leader's sweep, keeps its
/// findings, and is current again at its next report.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t03_a_silent_host_goes_stale_and_its_next_report_makes_it_current() {
    let dir = tempfile::tempdir().unwrap();
    let db = import_db(
        dir.path(),
        &[(
            "ARGUS-AGENT-4",
            advisory("ARGUS-AGENT-4", "Debian:12", "openssl", "3.0.13-1~deb12u1"),
        )],
    );
    let config = write_file(
        dir.path(),
        "argus.toml",
        "[coordinator]\ninventory_stale_after_secs = 5\nchange_log_compact_interval_secs = 1\n",
    );
    let up = Up::start(dir.path(), &db, Some(&config), &[]);
    let root = dir.path().join("host");
    write_file(&root, "etc/os-release", "ID=debian\nVERSION_ID=\"12\"\n");
    write_file(
        &root,
        "var/lib/dpkg/status",
        "Package: openssl\nStatus: install ok installed\nVersion: 3.0.11-1~deb12u2\nArchitecture: amd64\n\n",
    );
    let report = || {
        run_ok(
            Command::new(argus_bin())
                .args(["agent", "--coordinator", &up.addr, "--once", "--imds", "none"])
                .args(["--resource-id", "silent-host", "--account-id", ACCOUNT, "--root"])
                .arg(&root),
        )
    };
    let client = up.client();
    let coverage = |client: Client| async move {
        let c = resource(&client, "silent-host").await.coverage.unwrap_or_default();
        (c.status(), c.reason())
    };
    report();
    let finding = vec![(
        "ARGUS-AGENT-4".to_string(),
        "openssl".to_string(),
        "3.0.11-1~deb12u2".to_string(),
    )];
    eventually("the finding", &up.log, finding.clone(), || {
        findings_of(&client, "silent-host", FindingStatus::Active)
    })
    .await;
    eventually(
        "the silent host to go stale",
        &up.log,
        (CoverageStatus::CoverageInactive, CoverageReason::StaleInventory),
        || coverage(client.clone()),
    )
    .await;
    assert_eq!(
        findings_of(&client, "silent-host", FindingStatus::Active).await,
        finding,
        "a stale host keeps its findings"
    );
    report();
    // Read right after the report, before a sweep (every second, 5 s cut-off) can mark it again.
    assert_eq!(
        coverage(client.clone()).await,
        (CoverageStatus::CoverageActive, CoverageReason::Successful)
    );
}
