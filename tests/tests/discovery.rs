//! AWS discovery against a real moto server on loopback, seeded with boto3
//! (`support/moto_seed.py`): an organization with member accounts, instances in two regions
//! (running, stopped, excluded by tag), ECR images, a Lambda function with a layer. A real
//! `argus coordinator` discovers it with the AWS SDK through the standard credential chain
//! (environment variables) and `AWS_ENDPOINT_URL`.
//!
//! moto's IAM enforcement is on after seeding (`support/moto_launch.py` explains the one check it
//! turns off), and the discovery user's policy denies sts:AssumeRole into the last member: that
//! account must show ACCESS_DENIED while the others are discovered.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::process::Command;
use std::time::{Duration, Instant};

use argus_coordinator::client::Client;
use argus_proto::v1::resource::Details;
use argus_proto::v1::{
    Account, CoverageReason, CoverageStatus, FindingFilter, FindingStatus, FindingType, IngestScanResultsRequest,
    ListAccountsRequest, ListFindingsRequest, ListResourcesRequest, Resource, ResourceFilter, ResourceType, ScanResult,
};
use argus_tests::cluster::Cluster;
use argus_tests::up::{list_findings, resource};
use argus_tests::{free_port, port_open, run_ok, wait_for, write_file, ChildGuard};
use serde_json::Value;

const REGIONS: &str = "us-east-1,eu-west-1";

struct Moto {
    endpoint: String,
    _process: ChildGuard,
    dir: tempfile::TempDir,
}

impl Moto {
    fn start() -> Moto {
        ensure_moto();
        let dir = tempfile::tempdir().unwrap();
        let launcher = write_file(dir.path(), "moto_launch.py", include_str!("support/moto_launch.py"));
        write_file(dir.path(), "moto_seed.py", include_str!("support/moto_seed.py"));
        let port = free_port();
        let log = std::fs::File::create(dir.path().join("moto.log")).unwrap();
        let process = ChildGuard::spawn(
            "moto_server",
            Command::new("python3")
                .arg(launcher)
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .stdout(log.try_clone().unwrap())
                .stderr(log),
        );
        wait_for("moto to listen", Duration::from_secs(60), || port_open(port));
        Moto {
            endpoint: format!("http://127.0.0.1:{port}"),
            _process: process,
            dir,
        }
    }

    /// Runs the seed script; `env` carries the discovery user's key for the commands after
    /// `seed`.
    fn script(&self, args: &[&str], env: &[(&str, &str)]) -> Value {
        let out = run_ok(
            Command::new("python3")
                .arg(self.dir.path().join("moto_seed.py"))
                .arg(&self.endpoint)
                .args(args)
                .envs(env.iter().copied()),
        );
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("seed output {out:?}: {e}"))
    }
}

/// moto is installed by tests/setup.sh; a machine without it installs it here once.
fn ensure_moto() {
    let has = |m: &str| {
        Command::new("python3")
            .args(["-c", &format!("import {m}")])
            .status()
            .is_ok_and(|s| s.success())
    };
    if has("moto.server") && has("boto3") && has("flask_cors") {
        return;
    }
    let pip = |extra: &[&str]| {
        Command::new("python3")
            .args(["-m", "pip", "install", "-q", "moto[server]==5.2.1", "boto3"])
            .args(extra)
            .status()
            .is_ok_and(|s| s.success())
    };
    assert!(
        pip(&[]) || pip(&["--break-system-packages"]),
        "pip install moto[server]"
    );
}

/// The seeded estate as boto3 read it back.
struct Seeded {
    json: Value,
    key_id: String,
    secret: String,
}

impl Seeded {
    fn env(&self) -> Vec<(&str, &str)> {
        vec![
            ("ARGUS_TEST_KEY_ID", self.key_id.as_str()),
            ("ARGUS_TEST_SECRET", self.secret.as_str()),
        ]
    }

    fn list(&self, key: &str) -> Vec<Value> {
        self.json[key].as_array().cloned().unwrap_or_default()
    }

    fn accounts(&self) -> Vec<Value> {
        self.list("accounts")
    }

    fn denied(&self) -> Vec<String> {
        self.accounts()
            .iter()
            .filter(|a| a["denied"].as_bool().unwrap())
            .map(|a| s(&a["id"]))
            .collect()
    }
}

fn s(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array().map(|a| a.iter().map(s).collect()).unwrap_or_default()
}

fn map(v: &Value) -> HashMap<String, String> {
    v.as_object()
        .map(|o| o.iter().map(|(k, v)| (k.clone(), s(v))).collect())
        .unwrap_or_default()
}

fn seed(moto: &Moto, members: usize, denied: usize) -> Seeded {
    let json = moto.script(&["seed", &members.to_string(), REGIONS, &denied.to_string()], &[]);
    Seeded {
        key_id: s(&json["key_id"]),
        secret: s(&json["secret"]),
        json,
    }
}

/// Every discovered service but SSM, which moto does not implement (it answers 500, which the
/// SDK would retry with backoff in every region); `discovery/ssm.rs` has unit tests instead.
const MOTO_SERVICES: &str = r#"["ec2", "ecr", "lambda", "network"]"#;

/// One coordinator with discovery every `interval` seconds, as the discovery user.
async fn coordinator(moto: &Moto, seeded: &Seeded, interval: u64) -> Cluster {
    let regions: Vec<String> = REGIONS.split(',').map(|r| format!("{r:?}")).collect();
    let discovery = format!(
        "[discovery]\nenabled = true\ninterval_secs = {interval}\nregions = [{}]\nexclude_tags = {{ ArgusExclude = \"true\" }}\naccount_concurrency = 4\nregion_concurrency = 2\nservices = {MOTO_SERVICES}\n",
        regions.join(", ")
    );
    Cluster::start_with_env(
        1,
        "",
        &discovery,
        &[
            ("AWS_ACCESS_KEY_ID", &seeded.key_id),
            ("AWS_SECRET_ACCESS_KEY", &seeded.secret),
            ("AWS_ENDPOINT_URL", &moto.endpoint),
            // Nothing from the machine's own AWS setup may leak in.
            ("AWS_CONFIG_FILE", "/nonexistent"),
            ("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent"),
            ("AWS_EC2_METADATA_DISABLED", "true"),
        ],
    )
    .await
}

async fn resources(client: &Client, include_removed: bool) -> BTreeMap<String, Resource> {
    let mut out = BTreeMap::new();
    let mut token = String::new();
    loop {
        let page = client
            .inventory()
            .list_resources(ListResourcesRequest {
                filter: Some(ResourceFilter {
                    include_removed,
                    ..Default::default()
                }),
                page_size: 1000,
                page_token: token,
            })
            .await
            .unwrap()
            .into_inner();
        out.extend(page.resources.into_iter().map(|r| (r.resource_id.clone(), r)));
        if page.next_page_token.is_empty() {
            return out;
        }
        token = page.next_page_token;
    }
}

async fn accounts(client: &Client) -> BTreeMap<String, Account> {
    client
        .inventory()
        .list_accounts(ListAccountsRequest {
            page_size: 1000,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .accounts
        .into_iter()
        .map(|a| (a.account_id.clone(), a))
        .collect()
}

/// Polls until `done` holds for the cluster's state, or fails with the last state and the log.
async fn eventually<F>(cluster: &Cluster, what: &str, timeout: Duration, mut done: F)
where
    F: FnMut(&BTreeMap<String, Resource>, &BTreeMap<String, Account>) -> bool,
{
    let client = cluster.client();
    let start = Instant::now();
    loop {
        let (r, a) = (resources(&client, true).await, accounts(&client).await);
        if done(&r, &a) {
            return;
        }
        if start.elapsed() > timeout {
            panic!(
                "timed out waiting for {what}: {} resources, {} accounts\n{}",
                r.len(),
                a.len(),
                cluster.log_tails(40)
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn reason(r: &Resource) -> CoverageReason {
    r.coverage.as_ref().map_or(CoverageReason::Unspecified, |c| c.reason())
}

/// Every resource the seed script read back, and nothing else, is in the inventory with what
/// AWS says about it.
fn assert_inventory_is_the_seeded_one(seeded: &Seeded, got: &BTreeMap<String, Resource>) {
    let live: BTreeMap<&String, &Resource> = got.iter().filter(|(_, r)| !r.removed).collect();
    let mut expected = BTreeSet::new();
    for i in seeded.list("instances") {
        let id = s(&i["id"]);
        let r = live.get(&id).unwrap_or_else(|| panic!("instance {id} missing"));
        assert_eq!(r.r#type(), ResourceType::AwsEc2Instance);
        assert_eq!(
            (r.account_id.clone(), r.region.clone()),
            (s(&i["account"]), s(&i["region"]))
        );
        assert_eq!(r.tags, map(&i["tags"]), "{id}");
        let Some(Details::Ec2Instance(d)) = &r.details else {
            panic!("{id} has no instance details")
        };
        assert_eq!(d.ami_id, s(&i["ami"]));
        assert_eq!(d.state, s(&i["state"]));
        assert_eq!(d.instance_type, s(&i["type"]));
        assert_eq!((d.vpc_id.clone(), d.subnet_id.clone()), (s(&i["vpc"]), s(&i["subnet"])));
        assert!(d.ip_v4_addresses.contains(&s(&i["private_ip"])), "{d:?}");
        assert_eq!(d.security_groups, strings(&i["groups"]));
        assert_eq!(d.launched_at.map(|t| t.seconds), i["launched"].as_i64());
        let want = match (s(&i["state"]).as_str(), i["tags"].get("ArgusExclude").is_some()) {
            (_, true) => CoverageReason::ExcludedByTag,
            ("stopped", _) => CoverageReason::Ec2InstanceStopped,
            // No agent reports it and SSM inventory is not read.
            _ => CoverageReason::UnmanagedEc2Instance,
        };
        assert_eq!(reason(r), want, "{id}: {:?}", r.coverage);
        expected.insert(id);
    }
    for img in seeded.list("images") {
        let (account, region, repo, digest) = (
            s(&img["account"]),
            s(&img["region"]),
            s(&img["repository"]),
            s(&img["digest"]),
        );
        let id = format!("arn:aws:ecr:{region}:{account}:repository/{repo}/{digest}");
        let r = live.get(&id).unwrap_or_else(|| panic!("image {id} missing"));
        assert_eq!(r.r#type(), ResourceType::AwsEcrContainerImage);
        assert_eq!(r.artifact_digest, digest);
        assert_eq!(r.artifact_locator, format!("registry:{}@{digest}", s(&img["uri"])));
        assert_eq!(r.tags, map(&img["repository_tags"]));
        let Some(Details::ContainerImage(d)) = &r.details else {
            panic!("{id} has no image details")
        };
        assert_eq!(d.repository, repo);
        assert_eq!(d.registry, s(&img["uri"]).split('/').next().unwrap());
        assert_eq!(d.tags, strings(&img["tags"]));
        assert_eq!(d.media_type, s(&img["media_type"]));
        assert!(d.pushed_at.is_some());
        assert_eq!(reason(r), CoverageReason::PendingInitialScan);
        expected.insert(id);
    }
    for f in seeded.list("functions") {
        let id = s(&f["arn"]);
        let r = live.get(&id).unwrap_or_else(|| panic!("function {id} missing"));
        assert_eq!(r.r#type(), ResourceType::AwsLambdaFunction);
        assert_eq!(r.tags, map(&f["tags"]));
        assert_eq!(
            Some(r.artifact_digest.clone()),
            argus_worker::cloud::lambda_digest(&s(&f["code_sha256"]), &strings(&f["layers"]))
        );
        assert_eq!(r.artifact_locator, format!("lambda:{id}"));
        let Some(Details::LambdaFunction(d)) = &r.details else {
            panic!("{id} has no function details")
        };
        assert_eq!(d.function_name, s(&f["name"]));
        assert_eq!(d.runtime, s(&f["runtime"]));
        assert_eq!(d.execution_role, s(&f["role"]));
        assert_eq!(d.package_type, s(&f["package_type"]));
        assert_eq!(d.architectures, strings(&f["architectures"]));
        assert_eq!(d.layers, strings(&f["layers"]));
        assert!(d.last_modified_at.is_some());
        expected.insert(id);
    }
    let extra: Vec<&&String> = live.keys().filter(|k| !expected.contains(**k)).collect();
    assert!(extra.is_empty(), "discovered but not seeded: {extra:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t01_discovered_inventory_equals_the_seeded_one_and_a_refused_account_is_access_denied() {
    let moto = Moto::start();
    let seeded = seed(&moto, 3, 1);
    let denied = seeded.denied();
    assert_eq!(denied.len(), 1);
    let n_expected = seeded.list("instances").len() + seeded.list("images").len() + seeded.list("functions").len();
    let cluster = coordinator(&moto, &seeded, 3600).await;
    eventually(&cluster, "the first cycle", Duration::from_secs(120), |r, a| {
        r.len() >= n_expected && a.len() == seeded.accounts().len()
    })
    .await;
    let client = cluster.client();
    assert_inventory_is_the_seeded_one(&seeded, &resources(&client, true).await);

    let got = accounts(&client).await;
    for a in seeded.accounts() {
        let id = s(&a["id"]);
        let account = &got[&id];
        assert_eq!(account.name, s(&a["name"]));
        assert_eq!(account.tags, map(&a["tags"]));
        let c = account.coverage.clone().unwrap();
        if denied.contains(&id) {
            assert_eq!(
                (c.status(), c.reason()),
                (CoverageStatus::CoverageInactive, CoverageReason::AccessDenied)
            );
            assert!(c.detail.contains("AssumeRole"), "{}", c.detail);
            assert!(account.regions.is_empty());
        } else {
            assert_eq!(
                (c.status(), c.reason()),
                (CoverageStatus::CoverageActive, CoverageReason::Successful),
                "{id}: {c:?}"
            );
            let mut regions: Vec<&str> = REGIONS.split(',').collect();
            regions.sort();
            assert_eq!(account.regions, regions);
        }
    }
    // The first member sits two units down; the management account in the root.
    let first_member = s(&seeded.list("instances")[0]["account"]);
    assert_eq!(got[&first_member].organization_unit, "/Workloads/Prod");
    assert_eq!(got[s(&seeded.json["management"]).as_str()].organization_unit, "/");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t02_vanished_resources_are_removed_with_their_findings_closed_and_changes_are_picked_up() {
    let moto = Moto::start();
    let seeded = seed(&moto, 2, 0);
    let n_expected = seeded.list("instances").len() + seeded.list("images").len() + seeded.list("functions").len();
    let cluster = coordinator(&moto, &seeded, 2).await;
    eventually(&cluster, "the first cycle", Duration::from_secs(120), |r, _| {
        r.len() >= n_expected
    })
    .await;
    let client = cluster.client();

    // Findings on one image, through the API as a worker's result would arrive.
    let image = seeded.list("images")[0].clone();
    let digest = s(&image["digest"]);
    let image_id = format!(
        "arn:aws:ecr:{}:{}:repository/{}/{digest}",
        s(&image["region"]),
        s(&image["account"]),
        s(&image["repository"])
    );
    let result = ScanResult {
        artifact_digest: digest.clone(),
        ..argus_tests::estate::scan(0, 1_700_000_000, 3)
    };
    client
        .findings()
        .ingest_scan_results(IngestScanResultsRequest { results: vec![result] })
        .await
        .unwrap();
    let findings = |client: Client, id: String| async move {
        client
            .findings()
            .list_findings(ListFindingsRequest {
                page_size: 1000,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .findings
            .into_iter()
            .filter(|f| f.resource.as_ref().is_some_and(|r| r.resource_id == id))
            .collect::<Vec<_>>()
    };
    let before = findings(client.clone(), image_id.clone()).await;
    assert_eq!(before.len(), 3);
    assert!(before.iter().all(|f| f.status() == FindingStatus::Active));

    // Terminate one running instance, stop another, delete the image.
    let running: Vec<Value> = seeded
        .list("instances")
        .into_iter()
        .filter(|i| s(&i["state"]) == "running" && i["tags"].get("ArgusExclude").is_none())
        .collect();
    let (gone, to_stop) = (&running[0], &running[1]);
    let env = seeded.env();
    moto.script(
        &["terminate", &s(&gone["account"]), &s(&gone["region"]), &s(&gone["id"])],
        &env,
    );
    moto.script(
        &[
            "stop",
            &s(&to_stop["account"]),
            &s(&to_stop["region"]),
            &s(&to_stop["id"]),
        ],
        &env,
    );
    moto.script(
        &[
            "delete-image",
            &s(&image["account"]),
            &s(&image["region"]),
            &s(&image["repository"]),
            &digest,
        ],
        &env,
    );
    let (gone_id, stopped_id) = (s(&gone["id"]), s(&to_stop["id"]));
    eventually(
        &cluster,
        "the changes to be discovered",
        Duration::from_secs(60),
        |r, _| {
            r.get(&gone_id).is_some_and(|x| x.removed)
                && r.get(&image_id).is_some_and(|x| x.removed)
                && r.get(&stopped_id)
                    .is_some_and(|x| reason(x) == CoverageReason::Ec2InstanceStopped)
        },
    )
    .await;
    for id in [&gone_id, &image_id] {
        let r = resource(&client, id).await;
        let c = r.coverage.unwrap();
        assert_eq!(
            (c.status(), c.reason()),
            (CoverageStatus::CoverageInactive, CoverageReason::ResourceTerminated)
        );
    }
    let after = findings(client.clone(), image_id.clone()).await;
    assert_eq!(after.len(), 3);
    assert!(after.iter().all(|f| f.status() == FindingStatus::Closed), "{after:?}");

    // Every other resource is untouched, and later cycles propose nothing more: the resource
    // records keep their last_seen_at.
    let settled = resources(&client, true).await;
    let live = settled.values().filter(|r| !r.removed).count();
    assert_eq!(live, n_expected - 2);
    tokio::time::sleep(Duration::from_secs(5)).await;
    let later = resources(&client, true).await;
    assert_eq!(settled, later, "a cycle without changes proposed something");
}

/// The reachability findings of one finding listing, by (instance, vulnerability id), with
/// their status.
async fn reachability_findings(client: &Client) -> BTreeMap<(String, String), FindingStatus> {
    let filter = FindingFilter {
        finding_type: vec![FindingType::NetworkReachability as i32],
        ..Default::default()
    };
    list_findings(client, filter)
        .await
        .into_iter()
        .map(|f| {
            let instance = f.resource.as_ref().map(|r| r.resource_id.clone()).unwrap_or_default();
            let vulnerability = f.vulnerability.as_ref().map(|v| v.id.clone()).unwrap_or_default();
            ((instance, vulnerability), f.status())
        })
        .collect()
}

/// The seed opens SSH to the world on the "web" group of the first member's first region,
/// routes that subnet to an internet gateway and gives one running instance an Elastic IP. The
/// discovery cycle's network snapshot, analysed, must give a reachability finding for exactly
/// the running, scanned instances there with a public address — none elsewhere — and closing
/// the rule in AWS must close the finding on a later cycle.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t04_reachability_findings_exist_exactly_for_the_exposed_instance_ports() {
    let moto = Moto::start();
    let seeded = seed(&moto, 2, 0);
    let net = seeded.json["network"].clone();
    let expected: BTreeSet<(String, String)> = seeded
        .list("instances")
        .iter()
        .filter(|i| {
            s(&i["account"]) == s(&net["account"])
                && s(&i["region"]) == s(&net["region"])
                && s(&i["state"]) == "running"
                && i["tags"].get("ArgusExclude").is_none()
                && !s(&i["public_ip"]).is_empty()
        })
        .map(|i| (s(&i["id"]), "NETWORK/IPV4/TCP/22-22".to_string()))
        .collect();
    assert_eq!(
        expected.len(),
        1,
        "the seed exposes one instance: {:?}",
        seeded.list("instances")
    );
    let cluster = coordinator(&moto, &seeded, 2).await;
    let client = cluster.client();
    let start = Instant::now();
    let mut got = BTreeMap::new();
    while start.elapsed() < Duration::from_secs(120) {
        got = reachability_findings(&client).await;
        if !got.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // Later cycles must neither add nor drop one.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let settled = reachability_findings(&client).await;
    assert_eq!(settled, got, "later cycles changed the reachability findings");
    let open: BTreeSet<(String, String)> = got
        .iter()
        .filter(|(_, st)| **st == FindingStatus::Active)
        .map(|(k, _)| k.clone())
        .collect();
    assert_eq!(open, expected, "{}", cluster.log_tails(40));
    assert_eq!(got.len(), expected.len());

    moto.script(&["revoke-ssh", &s(&net["account"]), &s(&net["region"])], &seeded.env());
    let start = Instant::now();
    loop {
        let now = reachability_findings(&client).await;
        if expected.iter().all(|k| now.get(k) == Some(&FindingStatus::Closed)) {
            assert_eq!(now.len(), expected.len(), "{now:?}");
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the finding did not close: {now:?}\n{}",
            cluster.log_tails(40)
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Figures for docs/benchmarks.md: one discovery cycle over `ARGUS_BENCH_ACCOUNTS` members
/// (50 by default) × 3 regions. Prints the cycle time and API calls from the coordinator's log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: cargo nextest run --workspace --profile ci --run-ignored only -E 'test(bench_discovery)'"]
async fn bench_discovery_cycle() {
    let members: usize = std::env::var("ARGUS_BENCH_ACCOUNTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50);
    let moto = Moto::start();
    let regions = "us-east-1,eu-west-1,ap-southeast-2";
    let started = Instant::now();
    let json = moto.script(&["seed", &members.to_string(), regions, "0"], &[]);
    eprintln!("seeded {members} members x 3 regions in {:?}", started.elapsed());
    let seeded = Seeded {
        key_id: s(&json["key_id"]),
        secret: s(&json["secret"]),
        json,
    };
    let config = format!(
        "[discovery]\nenabled = true\ninterval_secs = 3600\nregions = [\"us-east-1\", \"eu-west-1\", \"ap-southeast-2\"]\naccount_concurrency = {}\nregion_concurrency = {}\nservices = {MOTO_SERVICES}\n",
        std::env::var("ARGUS_BENCH_ACCOUNT_CONCURRENCY").unwrap_or_else(|_| "8".into()),
        std::env::var("ARGUS_BENCH_REGION_CONCURRENCY").unwrap_or_else(|_| "4".into()),
    );
    let cluster = Cluster::start_with_env(
        1,
        "",
        &config,
        &[
            ("AWS_ACCESS_KEY_ID", &seeded.key_id),
            ("AWS_SECRET_ACCESS_KEY", &seeded.secret),
            ("AWS_ENDPOINT_URL", &moto.endpoint),
            ("AWS_CONFIG_FILE", "/nonexistent"),
            ("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent"),
            ("AWS_EC2_METADATA_DISABLED", "true"),
        ],
    )
    .await;
    let log = cluster.dir.path().join("node1.log");
    let mut line = String::new();
    wait_for("a discovery cycle", Duration::from_secs(1800), || {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        match text.lines().find(|l| l.contains("discovery cycle finished")) {
            Some(l) => {
                line = l.to_string();
                true
            }
            None => false,
        }
    });
    eprintln!("{line}");
}

/// The network snapshot discovery hands to the reachability analysis, read in-process with the
/// discovery library against the same moto, equals what boto3 lists.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t03_the_network_snapshot_matches_the_seeded_network() {
    use argus_coordinator::config::DiscoveryConfig;
    use argus_coordinator::discovery::{aws::Aws, ec2, network};
    use argus_coordinator::reachability::model::{PortRange, Protocol};

    let moto = Moto::start();
    let seeded = seed(&moto, 1, 0);
    let want = seeded.json["network"].clone();
    let (account, region) = (s(&want["account"]), s(&want["region"]));
    // This test is its own process under nextest: the SDK's standard chain reads these.
    std::env::set_var("AWS_ACCESS_KEY_ID", &seeded.key_id);
    std::env::set_var("AWS_SECRET_ACCESS_KEY", &seeded.secret);
    std::env::set_var("AWS_CONFIG_FILE", "/nonexistent");
    std::env::set_var("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent");
    std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
    let config = DiscoveryConfig {
        endpoint_url: Some(moto.endpoint.clone()),
        ..Default::default()
    };
    let aws = Aws::connect(&config).await.unwrap();
    let access = aws.enter(&account).await.unwrap();
    let client = aws.ec2(&access, &region);
    let (_, instances) = ec2::instances(&client, &account, &region).await.unwrap();
    let snap = network::snapshot(&client, &account, &region, instances).await.unwrap();

    let ids = |v: &Value| -> Vec<String> {
        let mut out = strings(v);
        out.sort();
        out
    };
    assert_eq!(
        snap.vpcs.iter().map(|v| v.vpc_id.clone()).collect::<Vec<_>>(),
        ids(&want["vpcs"])
    );
    assert_eq!(
        snap.subnets.iter().map(|v| v.subnet_id.clone()).collect::<Vec<_>>(),
        ids(&want["subnets"])
    );
    assert_eq!(
        snap.network_acls
            .iter()
            .map(|v| v.network_acl_id.clone())
            .collect::<Vec<_>>(),
        ids(&want["network_acls"])
    );
    for t in want["route_tables"].as_array().unwrap() {
        let got = snap
            .route_tables
            .iter()
            .find(|x| x.route_table_id == s(&t["id"]))
            .unwrap();
        assert_eq!(got.subnet_ids, strings(&t["subnets"]));
        let mut routes: Vec<Vec<String>> = got
            .routes
            .iter()
            .map(|r| vec![r.destination_cidr.clone(), r.target.clone()])
            .collect();
        routes.sort();
        let expected: Vec<Vec<String>> = t["routes"].as_array().unwrap().iter().map(strings).collect();
        assert_eq!(routes, expected, "{}", s(&t["id"]));
        assert!(got.routes.iter().all(|r| r.active));
    }
    assert_eq!(snap.route_tables.len(), want["route_tables"].as_array().unwrap().len());
    for g in want["internet_gateways"].as_array().unwrap() {
        let got = snap
            .internet_gateways
            .iter()
            .find(|x| x.internet_gateway_id == s(&g["id"]))
            .unwrap();
        assert_eq!(got.attached_vpc_ids, strings(&g["vpcs"]));
    }
    for g in want["security_groups"].as_array().unwrap() {
        let got = snap.security_groups.iter().find(|x| x.group_id == s(&g["id"])).unwrap();
        assert_eq!(got.group_name, s(&g["name"]));
        assert_eq!(
            got.ingress.len(),
            g["ingress"].as_array().unwrap().len(),
            "{}",
            s(&g["id"])
        );
        for (rule, w) in got.ingress.iter().zip(g["ingress"].as_array().unwrap()) {
            assert_eq!(rule.protocol, Protocol::Tcp);
            let (from, to) = (w[1].as_u64().unwrap() as u16, w[2].as_u64().unwrap() as u16);
            assert_eq!(rule.port_range, Some(PortRange { from, to }));
            assert_eq!(rule.cidrs_v4, strings(&w[3]));
        }
    }
    assert_eq!(
        snap.security_groups.len(),
        want["security_groups"].as_array().unwrap().len()
    );
    for (id, ip) in want["public_ips"].as_object().unwrap() {
        let got = snap.instances.iter().find(|i| &i.instance_id == id).unwrap();
        let expected: Vec<String> = if s(ip).is_empty() { vec![] } else { vec![s(ip)] };
        assert_eq!(got.public_ipv4, expected, "{id}");
        assert!(!got.private_ipv4.is_empty() && !got.security_group_ids.is_empty());
    }
}

/// An Alpine image with a vulnerable musl, and a Lambda package pinning a vulnerable requests.
fn artifacts(dir: &std::path::Path) -> (std::path::PathBuf, String, std::path::PathBuf) {
    use argus_tests::image::{file, tar, Codec, Image};
    let os = "ID=alpine\nVERSION_ID=3.20.3\nPRETTY_NAME=\"Alpine Linux v3.20\"\n";
    let apk = "C:Q1abc=\nP:musl\nV:1.2.5-r0\nA:x86_64\no:musl\n\n";
    let image = Image::new(vec![(
        tar(&[file("etc/os-release", os), file("lib/apk/db/installed", apk)]),
        Codec::Gzip,
    )]);
    let layout = dir.join("layout");
    let digest = image.write_oci_layout(&layout, "1");
    let zip_path = dir.join("checkout.zip");
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&zip_path).unwrap());
    let options = zip::write::SimpleFileOptions::default();
    zip.start_file("app.py", options).unwrap();
    std::io::Write::write_all(&mut zip, b"import requests\n").unwrap();
    zip.start_file("requirements.txt", options).unwrap();
    std::io::Write::write_all(&mut zip, b"requests==2.19.0\n").unwrap();
    zip.finish().unwrap();
    (layout, digest, zip_path)
}

/// Workers fetch what discovery found with their own credentials, never the job's: an ECR
/// image through the registry API with the login ECR's GetAuthorizationToken hands out (a real
/// docker-registry stands in for ECR's registry and accepts exactly that login), a Lambda
/// package from the URL GetFunction returns. Findings appear on both resources.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t05_workers_fetch_ecr_images_and_lambda_packages_with_their_own_credentials() {
    use argus_tests::registry::{htpasswd_auth, push, start_registry};
    use argus_tests::up::{advisory, eventually, findings_of, import_db, Up};

    let moto = Moto::start();
    let tmp = tempfile::tempdir().unwrap();
    let region = "us-east-1";
    let login = moto.script(&["ecr-login", region], &[]);
    let (user, password) = (s(&login["username"]), s(&login["password"]));
    let reg_dir = tmp.path().join("registry");
    let hash = bcrypt::hash(&password, 4).unwrap();
    let registry = start_registry(&reg_dir, &htpasswd_auth(&reg_dir, &format!("{user}:{hash}")));
    let (layout, digest, zip) = artifacts(tmp.path());
    push(
        &layout,
        &format!("127.0.0.1:{}/shop/api:1", registry.port),
        Some(&format!("{user}:{password}")),
    );
    let manifest = layout.join("blobs/sha256").join(&digest["sha256:".len()..]);
    let seeded = moto.script(
        &[
            "artifacts",
            region,
            manifest.to_str().unwrap(),
            "application/vnd.oci.image.manifest.v1+json",
            &digest,
            zip.to_str().unwrap(),
        ],
        &[],
    );
    let (image_id, function_arn) = (s(&seeded["image"]), s(&seeded["function"]));

    let db = import_db(
        tmp.path(),
        &[
            (
                "ARGUS-ECR-1",
                advisory("ARGUS-ECR-1", "Alpine:v3.20", "musl", "1.2.5-r1"),
            ),
            (
                "ARGUS-LAMBDA-1",
                advisory("ARGUS-LAMBDA-1", "PyPI", "requests", "2.20.0"),
            ),
        ],
    );
    let config = write_file(
        tmp.path(),
        "argus.toml",
        format!(
            "[discovery]\nenabled = true\ninterval_secs = 3600\naccounts = [\"{}\"]\nregions = [\"{region}\"]\nservices = {MOTO_SERVICES}\n\n\
             [artifact_access]\necr_registry_endpoint = \"http://127.0.0.1:{}\"\ndownload_endpoint = \"{}\"\n",
            s(&seeded["account"]),
            registry.port,
            moto.endpoint
        ),
    );
    let up = Up::start(
        tmp.path(),
        &db,
        Some(&config),
        &[
            ("AWS_ACCESS_KEY_ID", "worker"),
            ("AWS_SECRET_ACCESS_KEY", "worker"),
            ("AWS_ENDPOINT_URL", &moto.endpoint),
            ("AWS_CONFIG_FILE", "/nonexistent"),
            ("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent"),
            ("AWS_EC2_METADATA_DISABLED", "true"),
        ],
    );
    let client = up.client();
    let finding = |id: &str, name: &str, version: &str| vec![(id.to_string(), name.to_string(), version.to_string())];
    eventually(
        "the ECR image's finding",
        &up.log,
        finding("ARGUS-ECR-1", "musl", "1.2.5-r0"),
        || findings_of(&client, &image_id, FindingStatus::Active),
    )
    .await;
    eventually(
        "the Lambda function's finding",
        &up.log,
        finding("ARGUS-LAMBDA-1", "requests", "2.19.0"),
        || findings_of(&client, &function_arn, FindingStatus::Active),
    )
    .await;
    for id in [&image_id, &function_arn] {
        let r = resource(&client, id).await;
        assert_eq!(reason(&r), CoverageReason::Successful, "{id}");
        assert!(!r.artifact_locator.is_empty(), "{id}");
    }
    let log = std::fs::read_to_string(&up.log).unwrap();
    assert!(!log.contains(&password), "the ECR login never reaches the log");
}
