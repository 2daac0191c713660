//! State-machine tests: every finding lifecycle transition, idempotence and determinism
//! (property tests over random command sequences), queries, validation and the change log.
//! Each test opens a fresh RocksDB in a temporary directory.

mod agent;
mod changelog;
mod determinism;
mod held;
mod lifecycle;
mod network;
mod queries;
mod schedule;
mod validation;

use std::sync::Arc;

use argus_proto::internal::v1::command::Kind as Cmd;
use argus_proto::internal::v1::command_result::Kind as Res;
use argus_proto::internal::v1::{Command, Proposal, ProposalResponse};
use argus_proto::v1::{
    resource, ContainerImageDetails, Finding, FindingChange, FindingType, FixAvailable, IngestScanResultsRequest,
    ObservedVulnerability, PutResourcesRequest, RemoveResourcesRequest, Resource, ResourceType, ScanOutcome,
    ScanResult, Severity, SuppressionRule, Vulnerability, VulnerablePackage,
};
use prost_types::Timestamp;
use rocksdb::{Options, DB};

use super::{State, COLUMN_FAMILIES};

pub struct Fixture {
    pub state: State,
    _dir: tempfile::TempDir,
}

pub fn open() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = Options::default();
    opts.create_if_missing(true);
    opts.create_missing_column_families(true);
    let db = DB::open_cf(&opts, dir.path(), COLUMN_FAMILIES).unwrap();
    Fixture {
        state: State::new(Arc::new(db)).unwrap(),
        _dir: dir,
    }
}

pub fn ts(seconds: i64) -> Timestamp {
    Timestamp { seconds, nanos: 0 }
}

pub fn digest(n: u64) -> String {
    format!("sha256:{n:064x}")
}

impl Fixture {
    pub fn propose(&self, now: i64, commands: Vec<Cmd>) -> ProposalResponse {
        let proposal = Proposal {
            now: Some(ts(now)),
            commands: commands.into_iter().map(|k| Command { kind: Some(k) }).collect(),
        };
        let mut txn = self.state.begin();
        let resp = self.state.apply(&mut txn, &proposal).unwrap();
        self.state.commit(txn).unwrap();
        resp
    }

    pub fn run(&self, now: i64, command: Cmd) -> Res {
        self.propose(now, vec![command]).results.remove(0).kind.unwrap()
    }

    pub fn finding(&self, id: &str) -> Finding {
        self.state
            .get_finding(id)
            .unwrap()
            .unwrap_or_else(|| panic!("finding {id} exists"))
    }

    pub fn resource(&self, id: &str) -> Resource {
        self.state.get_resource(id).unwrap().unwrap()
    }

    /// The whole retained change log.
    pub fn changes(&self) -> Vec<FindingChange> {
        let mut out = Vec::new();
        let mut cursor = 0;
        loop {
            let (batch, last) = self.state.changes_after(cursor, None, 1000).unwrap();
            if batch.is_empty() {
                return out;
            }
            out.extend(batch);
            cursor = last;
        }
    }

    /// Every key and value of every column family, for byte-for-byte comparison.
    pub fn dump(&self) -> Vec<(String, Vec<u8>, Vec<u8>)> {
        let db = self.state.db();
        let mut out = Vec::new();
        for cf in COLUMN_FAMILIES {
            let handle = db.cf_handle(cf).unwrap();
            for item in db.iterator_cf(handle, rocksdb::IteratorMode::Start) {
                let (k, v) = item.unwrap();
                out.push((cf.to_string(), k.to_vec(), v.to_vec()));
            }
        }
        out
    }
}

/// A container-image resource in `account` carrying `digest`.
pub fn image(id: &str, account: &str, digest: &str) -> Resource {
    Resource {
        r#type: ResourceType::AwsEcrContainerImage as i32,
        resource_id: id.into(),
        account_id: account.into(),
        region: "eu-west-1".into(),
        tags: [
            ("team".to_string(), "payments".to_string()),
            ("env".to_string(), "prod".to_string()),
        ]
        .into(),
        artifact_digest: digest.into(),
        details: Some(resource::Details::ContainerImage(ContainerImageDetails {
            registry: "123456789012.dkr.ecr.eu-west-1.amazonaws.com".into(),
            repository: format!("repo-{}", &id[..id.len().min(6)]),
            ..Default::default()
        })),
        ..Default::default()
    }
}

/// An EC2 instance in `account` (region eu-west-1) whose host inventory is `digest`.
pub fn instance(id: &str, account: &str, digest: &str) -> Resource {
    Resource {
        r#type: ResourceType::AwsEc2Instance as i32,
        resource_id: id.into(),
        account_id: account.into(),
        region: "eu-west-1".into(),
        artifact_digest: digest.into(),
        details: Some(resource::Details::Ec2Instance(argus_proto::v1::Ec2InstanceDetails {
            vpc_id: "vpc-1".into(),
            subnet_id: "subnet-1".into(),
            ..Default::default()
        })),
        ..Default::default()
    }
}

/// An IPv4 exposure of `protocol` ports `begin..=end` through a fixed path.
pub fn open_ports(
    protocol: argus_proto::v1::NetworkProtocol,
    begin: u32,
    end: u32,
    group: &str,
) -> argus_proto::v1::NetworkReachabilityDetails {
    use argus_proto::v1::{IpVersion, NetworkComponentType as T, NetworkPathComponent, PortRange};
    let step = |t: T, id: &str| NetworkPathComponent {
        component_id: id.into(),
        component_type: t as i32,
    };
    argus_proto::v1::NetworkReachabilityDetails {
        protocol: protocol as i32,
        open_port_range: Some(PortRange { begin, end }),
        ip_version: IpVersion::Ipv4 as i32,
        network_path: vec![
            step(T::InternetGateway, "igw-1"),
            step(T::RouteTable, "rtb-1"),
            step(T::NetworkAcl, "acl-1"),
            step(T::SecurityGroup, group),
            step(T::Subnet, "subnet-1"),
            step(T::Ec2Instance, "i-1"),
            step(T::PublicIpAddress, "54.10.0.1"),
        ],
    }
}

/// `SetNetworkExposures` for `account` in eu-west-1, observed at `at`.
pub fn exposures(
    account: &str,
    at: i64,
    instances: Vec<(&str, Vec<argus_proto::v1::NetworkReachabilityDetails>)>,
) -> Cmd {
    Cmd::SetNetworkExposures(argus_proto::internal::v1::SetNetworkExposures {
        account_id: account.into(),
        region: "eu-west-1".into(),
        observed_at: Some(ts(at)),
        instances: instances
            .into_iter()
            .map(|(id, exposures)| argus_proto::internal::v1::InstanceExposures {
                instance_id: id.into(),
                exposures,
            })
            .collect(),
        unknown_instance_ids: Vec::new(),
        partial: false,
    })
}

pub fn put(resources: Vec<Resource>) -> Cmd {
    Cmd::PutResources(PutResourcesRequest { resources })
}

pub fn remove(ids: &[&str]) -> Cmd {
    Cmd::RemoveResources(RemoveResourcesRequest {
        resource_ids: ids.iter().map(|s| s.to_string()).collect(),
    })
}

pub fn vuln(id: &str, package: &str) -> ObservedVulnerability {
    ObservedVulnerability {
        r#type: FindingType::PackageVulnerability as i32,
        title: format!("{id} in {package}"),
        description: String::new(),
        severity: Severity::High as i32,
        score: 7.5,
        cvss_vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N".into(),
        vulnerability: Some(Vulnerability {
            id: id.into(),
            ..Default::default()
        }),
        package: Some(VulnerablePackage {
            name: package.into(),
            version: "1.0".into(),
            file_path: "/var/lib/dpkg/status".into(),
            fixed_in_version: "1.1".into(),
            ..Default::default()
        }),
        fix_available: FixAvailable::Yes as i32,
        exploit_available: false,
        epss_score: 0.1,
        remediation: String::new(),
    }
}

pub fn result(digest: &str, scanned_at: i64, vulnerabilities: Vec<ObservedVulnerability>) -> ScanResult {
    ScanResult {
        artifact_digest: digest.into(),
        job_id: format!("job-{scanned_at}"),
        scanned_at: Some(ts(scanned_at)),
        db_version: format!("db-{scanned_at}"),
        outcome: ScanOutcome::Succeeded as i32,
        error: String::new(),
        vulnerabilities,
        ..Default::default()
    }
}

pub fn ingest(results: Vec<ScanResult>) -> Cmd {
    Cmd::IngestScanResults(IngestScanResultsRequest { results })
}

/// The id of `vuln`/`package` (at the default path) on resource `rid` of `account`.
pub fn fid(account: &str, rid: &str, vuln: &str, package: &str) -> String {
    argus_proto::finding_id(account, rid, vuln, package, "/var/lib/dpkg/status")
}

pub fn rule(name: &str, filter: argus_proto::v1::FindingFilter) -> Cmd {
    Cmd::PutSuppressionRule(argus_proto::v1::PutSuppressionRuleRequest {
        rule: Some(SuppressionRule {
            name: name.into(),
            filter: Some(filter),
            reason: "accepted risk".into(),
            owner: "secops".into(),
            ..Default::default()
        }),
    })
}
