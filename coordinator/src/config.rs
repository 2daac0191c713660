//! The configuration file (`--config`, TOML). Every section has defaults, so no file is needed;
//! unknown fields are rejected so a typo is an error rather than a silently ignored setting.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use argus_worker::Limits;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Bounds on what one scan may read (file sizes, entry counts, decompressed bytes).
    pub limits: Limits,
    /// The vulnerability database.
    pub vulndb: VulnDbConfig,
    /// A coordinator node (`argus coordinator`): identity, storage, Raft timing, batching.
    pub coordinator: CoordinatorConfig,
    /// The scan pipeline the leader runs: scheduling, retries, result ingestion.
    pub pipeline: PipelineConfig,
    /// Delivery settings of the job and result queues (NATS JetStream or in-process).
    pub queue: argus_worker::queue::QueueConfig,
    /// Metrics and traces over OTLP; see docs/metrics.md.
    pub telemetry: TelemetryConfig,
    /// AWS discovery of accounts, regions and resources, run by the Raft leader.
    pub discovery: DiscoveryConfig,
    /// How workers (`argus worker`, and those of `argus up`) reach artifacts in AWS: ECR
    /// images and Lambda packages, with the workers' own credentials.
    pub artifact_access: argus_worker::cloud::CloudConfig,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DiscoveryConfig {
    /// Run discovery cycles on the Raft leader. Off by default.
    pub enabled: bool,
    /// Time between the starts of two cycles; a cycle that takes longer is followed at once.
    pub interval_secs: u64,
    /// Accounts to discover. Empty: every ACTIVE account of the organization, listed from the
    /// management (or delegated administrator) account the credentials belong to.
    pub accounts: Vec<String>,
    /// Role assumed in every account other than the one the credentials belong to
    /// (`arn:aws:iam::<account>:role/<role_name>`).
    pub role_name: String,
    /// External id passed to AssumeRole, when the roles' trust policies require one.
    pub external_id: Option<String>,
    /// Session name of the assumed roles, as CloudTrail shows it.
    pub session_name: String,
    /// Regions to discover in every account. Empty: each account's enabled regions (EC2
    /// DescribeRegions).
    pub regions: Vec<String>,
    /// Region for the calls that are not regional (Organizations, STS, DescribeRegions).
    pub home_region: String,
    /// One endpoint for every AWS service (an emulator such as moto). The standard
    /// `AWS_ENDPOINT_URL` and `AWS_ENDPOINT_URL_<SERVICE>` variables work without it.
    pub endpoint_url: Option<String>,
    /// Accounts discovered at once.
    pub account_concurrency: usize,
    /// Regions of one account discovered at once (so at most `account_concurrency *
    /// region_concurrency` regions are read at a time).
    pub region_concurrency: usize,
    /// Attempts per API call, including the first; throttling and transient errors are retried
    /// with exponential backoff and jitter (the SDK's standard retry mode).
    pub max_attempts: u32,
    /// How long one API call attempt may take.
    pub call_timeout_secs: u64,
    /// What to read: any of `ec2` (instances), `ecr` (images), `lambda` (functions) and
    /// `network` (VPCs, subnets, route tables, internet gateways, network ACLs and security
    /// groups for the reachability analysis; read only with `ec2`) and `ssm` (managed-instance
    /// status and the SSM inventory's packages of managed Linux instances; read only with `ec2`).
    pub services: Vec<String>,
    /// A resource with a tag named here is kept in the inventory as EXCLUDED_BY_TAG and not
    /// scanned, when the tag's value equals the one given or the one given is `*`. ECR images
    /// carry their repository's tags.
    pub exclude_tags: std::collections::BTreeMap<String, String>,
    /// Most resources in one Raft command.
    pub batch_size: usize,
}

impl Default for DiscoveryConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            interval_secs: 3600,
            accounts: Vec::new(),
            role_name: "OrganizationAccountAccessRole".into(),
            external_id: None,
            session_name: "argus-discovery".into(),
            regions: Vec::new(),
            home_region: "us-east-1".into(),
            endpoint_url: None,
            account_concurrency: 8,
            region_concurrency: 4,
            max_attempts: 5,
            call_timeout_secs: 30,
            services: ["ec2", "ecr", "lambda", "network", "ssm"].map(String::from).to_vec(),
            exclude_tags: Default::default(),
            batch_size: 500,
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TelemetryConfig {
    /// OTLP/gRPC endpoint (`http://collector:4317`). The standard `OTEL_EXPORTER_OTLP_ENDPOINT`
    /// (and `..._METRICS_ENDPOINT`, `..._TRACES_ENDPOINT`) override it. With neither, nothing is
    /// exported.
    pub otlp_endpoint: Option<String>,
    /// How often metrics are exported; `OTEL_METRIC_EXPORT_INTERVAL` overrides it.
    pub export_interval_ms: u64,
    /// Which spans become trace spans, in `RUST_LOG` syntax (independent of the log filter).
    pub trace_filter: String,
    /// Report coverage per account too (one series per account and label combination).
    pub coverage_by_account: bool,
    /// How often the leader recomputes coverage from the replicated state (a pass over every
    /// resource).
    pub census_interval_ms: u64,
}

impl Default for TelemetryConfig {
    fn default() -> Self {
        Self {
            otlp_endpoint: None,
            export_interval_ms: 60_000,
            trace_filter: "info".into(),
            coverage_by_account: false,
            census_interval_ms: 30_000,
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PipelineConfig {
    /// NATS server the coordinators publish jobs to and consume results from
    /// (`nats://host:4222`). Unset on `argus coordinator`: no scheduler and no ingestion run,
    /// and results arrive only through the API. `argus up` uses an in-process queue instead.
    pub nats_url: Option<String>,
    /// Most jobs outstanding at once; the scheduler dispatches more as results come in.
    pub dispatch_window: u64,
    /// A job attempt without a result after this long is dispatched again (next attempt).
    pub job_timeout_secs: u64,
    /// Attempts before the artifact's resources are marked SCAN_FAILED.
    pub max_attempts: u32,
    /// A failed attempt waits `retry_base_ms * 2^(attempt-1)` before the next; a job that
    /// failed all its attempts waits longer, doubling per failed job, up to the rescan interval.
    pub retry_base_ms: u64,
    /// Scan every artifact again this long after its last scan.
    pub rescan_after_secs: u64,
    /// Per resource type (`AWS_ECR_CONTAINER_IMAGE`, `HOST`, ...), overriding
    /// `rescan_after_secs`.
    pub rescan_after_secs_by_type: std::collections::BTreeMap<String, u64>,
    /// How often the scheduler looks for due work.
    pub tick_ms: u64,
    /// Results ingestion fetches at once.
    pub ingest_batch: usize,
    /// Most encoded bytes of results in one ingest command: a Raft entry must replicate within
    /// a heartbeat.
    pub ingest_command_bytes: usize,
    /// The JetStream object-store bucket `argus db publish` writes to; coordinators follow it
    /// to re-evaluate stored inventories when a new version appears.
    pub db_bucket: String,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        Self {
            nats_url: None,
            dispatch_window: 10_000,
            job_timeout_secs: 600,
            max_attempts: 3,
            retry_base_ms: 5_000,
            rescan_after_secs: 24 * 3600,
            rescan_after_secs_by_type: Default::default(),
            tick_ms: 250,
            ingest_batch: 512,
            ingest_command_bytes: 256 << 10,
            db_bucket: argus_worker::vulndb::distribute::DEFAULT_BUCKET.to_string(),
        }
    }
}

impl PipelineConfig {
    pub fn rescan_after(&self, resource_type: i32) -> u64 {
        argus_proto::v1::ResourceType::try_from(resource_type)
            .ok()
            .and_then(|t| self.rescan_after_secs_by_type.get(t.as_str_name()))
            .copied()
            .unwrap_or(self.rescan_after_secs)
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CoordinatorConfig {
    /// This node's Raft id; unique in the cluster and never reused for another node.
    pub node_id: u64,
    /// Where the gRPC API (and the Raft traffic between coordinators) is served.
    pub listen: SocketAddr,
    /// host:port other nodes and clients use to reach this node (default: `listen`).
    pub advertise: Option<String>,
    /// RocksDB (log, vote, state machine) and snapshot files.
    pub data_dir: PathBuf,
    /// Leader heartbeat interval; also openraft's timeout for one AppendEntries round trip.
    pub heartbeat_ms: u64,
    /// A follower that hears no leader for a random time in this range starts an election.
    /// openraft first lets the old leader's lease run out (`election_timeout_max_ms`), so a
    /// dead leader is replaced after `max + [min, max)` of silence: 0.9–1.2 s by default, which
    /// is still six heartbeats or more, so a busy follower does not depose a live leader.
    pub election_timeout_min_ms: u64,
    pub election_timeout_max_ms: u64,
    /// Build a snapshot (and purge the log behind it) after this many applied entries.
    pub snapshot_every_entries: u64,
    /// Log entries kept behind a snapshot, so a briefly lagging follower catches up from the
    /// log instead of a whole snapshot.
    pub snapshot_keep_log_entries: u64,
    /// Snapshots travel to lagging nodes in chunks of this size.
    pub snapshot_chunk_bytes: u64,
    /// Most commands the leader groups into one proposal (one log entry, one fsync).
    pub max_batch_commands: usize,
    /// Most encoded bytes in one proposal: a follower must receive and sync an AppendEntries
    /// within one heartbeat interval.
    pub max_batch_bytes: usize,
    /// Most log entries in one AppendEntries message.
    pub max_payload_entries: u64,
    /// Proposals in flight at once; more commands queue and join the next batch.
    pub max_inflight_proposals: usize,
    /// How long finding changes stay in the change log for feed consumers to resume from.
    pub change_log_retention_secs: u64,
    /// Changes kept regardless of age.
    pub change_log_keep_last: u64,
    /// How often the leader trims the change log (and looks for stale host inventories).
    pub change_log_compact_interval_secs: u64,
    /// A host covered by inventory reports (`argus agent`, or SSM through discovery) with no
    /// report for this long becomes INACTIVE / STALE_INVENTORY until it reports again.
    /// 0: never.
    pub inventory_stale_after_secs: u64,
    /// How long a write waits for a leader before it fails as UNAVAILABLE.
    pub write_timeout_ms: u64,
}

impl Default for CoordinatorConfig {
    fn default() -> Self {
        Self {
            node_id: 1,
            listen: SocketAddr::from(([127, 0, 0, 1], 7400)),
            advertise: None,
            data_dir: PathBuf::from("argus-data"),
            heartbeat_ms: 150,
            election_timeout_min_ms: 300,
            election_timeout_max_ms: 600,
            snapshot_every_entries: 20_000,
            snapshot_keep_log_entries: 1000,
            snapshot_chunk_bytes: 4 << 20,
            max_batch_commands: 1024,
            max_batch_bytes: 1 << 20,
            max_payload_entries: 8,
            max_inflight_proposals: 8,
            change_log_retention_secs: 7 * 24 * 3600,
            change_log_keep_last: 100_000,
            change_log_compact_interval_secs: 60,
            // The agent reports at least hourly and SSM collects every 30 minutes by default:
            // a day of silence is a host that is gone or broken, not a slow one.
            inventory_stale_after_secs: 24 * 3600,
            write_timeout_ms: 15_000,
        }
    }
}

impl CoordinatorConfig {
    pub fn advertised(&self) -> String {
        self.advertise.clone().unwrap_or_else(|| self.listen.to_string())
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VulnDbConfig {
    /// The database file `argus db import` writes and scans read
    /// (default `$XDG_DATA_HOME/argus/vulndb.vdb`, else `~/.local/share/argus/vulndb.vdb`).
    pub path: PathBuf,
    /// Where `argus db update` downloads from (URLs can name a mirror) and which ecosystems.
    pub sources: argus_worker::vulndb::update::Sources,
}

impl Default for VulnDbConfig {
    fn default() -> Self {
        let base = std::env::var_os("XDG_DATA_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
            .unwrap_or_else(|| PathBuf::from("."));
        Self {
            path: base.join("argus/vulndb.vdb"),
            sources: Default::default(),
        }
    }
}

impl Config {
    pub fn load(path: Option<&Path>) -> crate::Result<Config> {
        let Some(path) = path else { return Ok(Config::default()) };
        let text = std::fs::read_to_string(path).map_err(|e| crate::Error::io(path, e))?;
        toml::from_str(&text).map_err(|e| crate::Error::Config(format!("{}: {e}", path.display())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_fields_are_rejected_and_defaults_fill_the_rest() {
        let c: Config = toml::from_str("[limits]\nmax_layers = 3\n").unwrap();
        assert_eq!(c.limits.max_layers, 3);
        assert_eq!(c.limits.max_entries, Limits::default().max_entries);
        assert!(toml::from_str::<Config>("[limits]\nmax_layer = 3\n").is_err());
        assert!(toml::from_str::<Config>("typo = 1\n").is_err());
    }

    #[test]
    fn discovery_is_off_by_default_and_reads_its_table() {
        assert!(!Config::default().discovery.enabled);
        let c: Config = toml::from_str(
            "[discovery]\nenabled = true\nregions = [\"eu-west-1\"]\nexclude_tags = { ArgusExclude = \"*\" }\n",
        )
        .unwrap();
        assert!(c.discovery.enabled);
        assert_eq!(c.discovery.regions, ["eu-west-1"]);
        assert_eq!(c.discovery.exclude_tags["ArgusExclude"], "*");
        assert_eq!(c.discovery.role_name, "OrganizationAccountAccessRole");
        assert!(toml::from_str::<Config>("[discovery]\nregion = [\"eu-west-1\"]\n").is_err());
    }

    #[test]
    fn rescan_intervals_are_set_per_resource_type_and_queue_timings_read_as_milliseconds() {
        let c: Config = toml::from_str(
            "[pipeline]\nrescan_after_secs = 100\nrescan_after_secs_by_type = { HOST = 7 }\n[queue]\nack_wait_ms = 1500\n",
        )
        .unwrap();
        use argus_proto::v1::ResourceType;
        assert_eq!(c.pipeline.rescan_after(ResourceType::Host as i32), 7);
        assert_eq!(c.pipeline.rescan_after(ResourceType::ContainerImage as i32), 100);
        assert_eq!(c.queue.ack_wait, std::time::Duration::from_millis(1500));
        assert!(toml::from_str::<Config>("[pipeline]\nmax_attempt = 3\n").is_err());
    }
}
