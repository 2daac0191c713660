//! Everything that makes a command or a query INVALID_ARGUMENT, checked before anything is
//! proposed or read, so that a bad request changes nothing. Messages name the offending field by
//! its path, e.g. `resources[3].resource_id: empty`.

use std::collections::HashMap;
use std::fmt::Display;

use argus_proto::internal::v1::command::Kind as Cmd;
use argus_proto::internal::v1::{
    Command, CompactChangeLog, DispatchJobs, ExpireJobs, MarkStaleInventories, Reevaluate, RequestScans, SetCoverage,
    SetNetworkExposures,
};
use argus_proto::v1::{
    AggregationType, CoverageGroupBy, CoverageReason, CoverageStatus, DateFilter, FindingFilter, FindingSortField,
    FindingStatus, FindingType, FixAvailable, InventorySource, IpVersion, MapFilter, NetworkComponentType,
    NetworkProtocol, NetworkReachabilityDetails, NumberFilter, ObservedVulnerability, PortRangeFilter,
    ReportHostInventoryRequest, ResourceFilter, ResourceType, ScanOutcome, ScanResult, Severity, SortOrder,
    StringComparison, StringFilter, SuppressionRule,
};
use prost_types::Timestamp;

use crate::error::{Error, Result};

pub const MAX_BATCH: usize = 10_000;
pub const MAX_SCAN_RESULTS: usize = 1_000;
pub const MAX_VULNERABILITIES: usize = 10_000;
pub const MAX_ID_BYTES: usize = 2048;
pub const MAX_ACCOUNT_ID_BYTES: usize = 128;
pub const MAX_RULE_NAME_CHARS: usize = 128;
/// Instances in one account and region's `SetNetworkExposures`.
pub const MAX_INSTANCES: usize = 100_000;
/// Exposures of one instance, and components on one exposure's path.
pub const MAX_EXPOSURES: usize = 1_000;
pub const MAX_PATH_COMPONENTS: usize = 64;

type Check = std::result::Result<(), String>;

fn fail(path: impl Display, what: impl Display) -> Check {
    Err(format!("{path}: {what}"))
}

fn into_error(check: Check) -> Result<()> {
    check.map_err(Error::InvalidArgument)
}

pub fn command(command: &Command) -> Result<()> {
    into_error(check_command(command))
}

fn check_command(command: &Command) -> Check {
    let Some(kind) = &command.kind else {
        return fail("command", "empty");
    };
    match kind {
        Cmd::PutAccounts(req) => {
            batch("accounts", req.accounts.len(), MAX_BATCH)?;
            unique(
                "accounts",
                "account_id",
                req.accounts.iter().map(|a| a.account_id.as_str()),
            )?;
            for (i, a) in req.accounts.iter().enumerate() {
                let path = format!("accounts[{i}]");
                id(&format!("{path}.account_id"), &a.account_id, MAX_ACCOUNT_ID_BYTES)?;
                tags(&format!("{path}.tags"), &a.tags)?;
                if let Some(c) = &a.coverage {
                    known::<CoverageStatus>(&format!("{path}.coverage.status"), c.status)?;
                    known::<CoverageReason>(&format!("{path}.coverage.reason"), c.reason)?;
                    optional_timestamp(&format!("{path}.coverage.last_scanned_at"), c.last_scanned_at.as_ref())?;
                }
            }
            Ok(())
        }
        Cmd::RemoveAccounts(req) => ids("account_ids", &req.account_ids, MAX_ACCOUNT_ID_BYTES),
        Cmd::PutResources(req) => {
            batch("resources", req.resources.len(), MAX_BATCH)?;
            unique(
                "resources",
                "resource_id",
                req.resources.iter().map(|r| r.resource_id.as_str()),
            )?;
            for (i, r) in req.resources.iter().enumerate() {
                let path = format!("resources[{i}]");
                id(&format!("{path}.resource_id"), &r.resource_id, MAX_ID_BYTES)?;
                id(&format!("{path}.account_id"), &r.account_id, MAX_ACCOUNT_ID_BYTES)?;
                specified::<ResourceType>(&format!("{path}.type"), r.r#type)?;
                printable(&format!("{path}.region"), &r.region, MAX_ACCOUNT_ID_BYTES)?;
                tags(&format!("{path}.tags"), &r.tags)?;
                if !r.artifact_digest.is_empty() {
                    digest(&format!("{path}.artifact_digest"), &r.artifact_digest)?;
                }
                if r.agent.is_some() {
                    return fail(&format!("{path}.agent"), "set by the coordinators from agent reports");
                }
            }
            Ok(())
        }
        Cmd::RemoveResources(req) => ids("resource_ids", &req.resource_ids, MAX_ID_BYTES),
        Cmd::IngestScanResults(req) => {
            batch("results", req.results.len(), MAX_SCAN_RESULTS)?;
            for (i, r) in req.results.iter().enumerate() {
                scan_result(&format!("results[{i}]"), r)?;
            }
            Ok(())
        }
        Cmd::PutSuppressionRule(req) => match &req.rule {
            None => fail("rule", "missing"),
            Some(rule) => suppression_rule("rule", rule),
        },
        Cmd::DeleteSuppressionRule(req) => rule_name("name", &req.name),
        Cmd::CompactChangeLog(CompactChangeLog { before, .. }) => optional_timestamp("before", before.as_ref()),
        Cmd::MarkStaleInventories(MarkStaleInventories { before, .. }) => required_timestamp("before", before.as_ref()),
        Cmd::SetCoverage(SetCoverage {
            artifact_digest,
            coverage,
        }) => {
            digest("artifact_digest", artifact_digest)?;
            let Some(c) = coverage else {
                return fail("coverage", "missing");
            };
            specified::<CoverageStatus>("coverage.status", c.status)?;
            specified::<CoverageReason>("coverage.reason", c.reason)?;
            optional_timestamp("coverage.last_scanned_at", c.last_scanned_at.as_ref())
        }
        Cmd::DispatchJobs(DispatchJobs { jobs }) => {
            batch("jobs", jobs.len(), MAX_BATCH)?;
            unique(
                "jobs",
                "artifact_digest",
                jobs.iter().map(|j| j.artifact_digest.as_str()),
            )?;
            for (i, j) in jobs.iter().enumerate() {
                let path = format!("jobs[{i}]");
                job(&path, &j.artifact_digest, &j.job_id, j.attempt)?;
                required_timestamp(&format!("{path}.deadline"), j.deadline.as_ref())?;
                if j.max_attempts == 0 {
                    return fail(&format!("{path}.max_attempts"), "must be at least 1");
                }
            }
            Ok(())
        }
        Cmd::ExpireJobs(ExpireJobs { jobs }) => {
            batch("jobs", jobs.len(), MAX_BATCH)?;
            unique(
                "jobs",
                "artifact_digest",
                jobs.iter().map(|j| j.artifact_digest.as_str()),
            )?;
            for (i, j) in jobs.iter().enumerate() {
                let path = format!("jobs[{i}]");
                job(&path, &j.artifact_digest, &j.job_id, j.attempt)?;
            }
            Ok(())
        }
        Cmd::Reevaluate(Reevaluate {
            db_version,
            package_keys,
        }) => {
            printable("db_version", db_version, MAX_ACCOUNT_ID_BYTES)?;
            if db_version.is_empty() {
                return fail("db_version", "empty");
            }
            batch("package_keys", package_keys.len(), MAX_BATCH)?;
            for (i, k) in package_keys.iter().enumerate() {
                let path = format!("package_keys[{i}]");
                if k.len() > MAX_ID_BYTES || !k.contains('\0') {
                    return fail(&path, "not an index key (ecosystem NUL name)");
                }
            }
            Ok(())
        }
        Cmd::RequestScans(RequestScans { artifact_digests }) => {
            batch("artifact_digests", artifact_digests.len(), MAX_BATCH)?;
            for (i, d) in artifact_digests.iter().enumerate() {
                digest(&format!("artifact_digests[{i}]"), d)?;
            }
            Ok(())
        }
        Cmd::SetNetworkExposures(req) => network_exposures(req),
        Cmd::ReportHostInventory(req) => host_inventory(req),
    }
}

fn host_inventory(req: &ReportHostInventoryRequest) -> Check {
    id("resource_id", &req.resource_id, MAX_ID_BYTES)?;
    if !req.account_id.is_empty() {
        id("account_id", &req.account_id, MAX_ACCOUNT_ID_BYTES)?;
    }
    known::<ResourceType>("resource_type", req.resource_type)?;
    if !matches!(
        ResourceType::try_from(req.resource_type),
        Ok(ResourceType::Unspecified | ResourceType::AwsEc2Instance | ResourceType::Host)
    ) {
        return fail("resource_type", "an agent reports AWS_EC2_INSTANCE or HOST");
    }
    known::<InventorySource>("source", req.source)?;
    printable("region", &req.region, MAX_ACCOUNT_ID_BYTES)?;
    tags("tags", &req.tags)?;
    printable("hostname", &req.hostname, MAX_ACCOUNT_ID_BYTES)?;
    printable("agent_version", &req.agent_version, MAX_ACCOUNT_ID_BYTES)?;
    optional_timestamp("collected_at", req.collected_at.as_ref())?;
    digest("artifact_digest", &req.artifact_digest)?;
    if req.inventory.is_empty() {
        return fail("inventory", "empty");
    }
    Ok(())
}

fn network_exposures(req: &SetNetworkExposures) -> Check {
    id("account_id", &req.account_id, MAX_ACCOUNT_ID_BYTES)?;
    id("region", &req.region, MAX_ACCOUNT_ID_BYTES)?;
    required_timestamp("observed_at", req.observed_at.as_ref())?;
    batch("instances", req.instances.len(), MAX_INSTANCES)?;
    unique(
        "instances",
        "instance_id",
        req.instances.iter().map(|i| i.instance_id.as_str()),
    )?;
    batch("unknown_instance_ids", req.unknown_instance_ids.len(), MAX_INSTANCES)?;
    let mut seen: HashMap<&str, usize> = HashMap::new();
    let judged: HashMap<&str, usize> = req
        .instances
        .iter()
        .enumerate()
        .map(|(i, x)| (x.instance_id.as_str(), i))
        .collect();
    for (i, unknown) in req.unknown_instance_ids.iter().enumerate() {
        let path = format!("unknown_instance_ids[{i}]");
        id(&path, unknown, MAX_ID_BYTES)?;
        if let Some(first) = seen.insert(unknown, i) {
            return fail(&path, format!("duplicate of unknown_instance_ids[{first}]"));
        }
        if let Some(j) = judged.get(unknown.as_str()) {
            return fail(&path, format!("also in instances[{j}]"));
        }
    }
    for (i, instance) in req.instances.iter().enumerate() {
        let path = format!("instances[{i}]");
        id(&format!("{path}.instance_id"), &instance.instance_id, MAX_ID_BYTES)?;
        batch(&format!("{path}.exposures"), instance.exposures.len(), MAX_EXPOSURES)?;
        let mut seen = HashMap::new();
        for (j, e) in instance.exposures.iter().enumerate() {
            let path = format!("{path}.exposures[{j}]");
            exposure(&path, e)?;
            let r = e.open_port_range.unwrap_or_default();
            if let Some(first) = seen.insert((e.ip_version, e.protocol, r.begin, r.end), j) {
                return fail(&path, format!("same family, protocol and ports as exposures[{first}]"));
            }
        }
    }
    Ok(())
}

fn exposure(path: &str, e: &NetworkReachabilityDetails) -> Check {
    specified::<NetworkProtocol>(&format!("{path}.protocol"), e.protocol)?;
    specified::<IpVersion>(&format!("{path}.ip_version"), e.ip_version)?;
    match &e.open_port_range {
        None => return fail(&format!("{path}.open_port_range"), "missing"),
        Some(r) => ports(&format!("{path}.open_port_range"), r.begin, r.end)?,
    }
    batch(
        &format!("{path}.network_path"),
        e.network_path.len(),
        MAX_PATH_COMPONENTS,
    )?;
    for (k, c) in e.network_path.iter().enumerate() {
        let path = format!("{path}.network_path[{k}]");
        id(&format!("{path}.component_id"), &c.component_id, MAX_ID_BYTES)?;
        specified::<NetworkComponentType>(&format!("{path}.component_type"), c.component_type)?;
    }
    Ok(())
}

fn ports(path: &str, begin: u32, end: u32) -> Check {
    if end > u32::from(u16::MAX) {
        return fail(path, format!("port {end} is above 65535"));
    }
    if begin > end {
        return fail(path, format!("begins at {begin}, after its end {end}"));
    }
    Ok(())
}

fn job(path: &str, artifact_digest: &str, job_id: &str, attempt: u32) -> Check {
    digest(&format!("{path}.artifact_digest"), artifact_digest)?;
    id(&format!("{path}.job_id"), job_id, MAX_ID_BYTES)?;
    if attempt == 0 {
        return fail(&format!("{path}.attempt"), "attempts count from 1");
    }
    Ok(())
}

fn required_timestamp(path: &str, t: Option<&Timestamp>) -> Check {
    match t {
        None => fail(path, "missing"),
        Some(t) => timestamp(path, t),
    }
}

fn batch(path: impl Display + Copy, len: usize, max: usize) -> Check {
    if len > max {
        return fail(path, format!("{len} entries, at most {max}"));
    }
    Ok(())
}

fn unique<'a>(path: &str, field: &str, values: impl Iterator<Item = &'a str>) -> Check {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (i, v) in values.enumerate() {
        if let Some(first) = seen.insert(v, i) {
            return fail(&format!("{path}[{i}].{field}"), format!("duplicate of {path}[{first}]"));
        }
    }
    Ok(())
}

fn ids(path: &str, values: &[String], max_bytes: usize) -> Check {
    batch(path, values.len(), MAX_BATCH)?;
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (i, v) in values.iter().enumerate() {
        id(&format!("{path}[{i}]"), v, max_bytes)?;
        if let Some(first) = seen.insert(v, i) {
            return fail(&format!("{path}[{i}]"), format!("duplicate of {path}[{first}]"));
        }
    }
    Ok(())
}

/// A non-empty identifier without control characters.
fn id(path: impl Display + Copy, value: &str, max_bytes: usize) -> Check {
    if value.is_empty() {
        return fail(path, "empty");
    }
    printable(path, value, max_bytes)
}

fn printable(path: impl Display + Copy, value: &str, max_bytes: usize) -> Check {
    if value.len() > max_bytes {
        return fail(path, format!("{} bytes, at most {max_bytes}", value.len()));
    }
    if let Some(c) = value.chars().find(|c| c.is_control()) {
        return fail(path, format!("contains the control character {c:?}"));
    }
    Ok(())
}

fn tags(path: &str, tags: &HashMap<String, String>) -> Check {
    // Sorted so that the message for a map with several bad keys is the same every time.
    let mut keys: Vec<&String> = tags.keys().collect();
    keys.sort();
    for k in keys {
        id(&format!("{path}[{k:?}]"), k, MAX_ID_BYTES)?;
        if tags[k].len() > MAX_ID_BYTES {
            return fail(
                &format!("{path}[{k:?}]"),
                format!("value of {} bytes, at most {MAX_ID_BYTES}", tags[k].len()),
            );
        }
    }
    Ok(())
}

/// `algorithm:hex`, e.g. `sha256:` and 64 lowercase hex digits.
fn digest(path: impl Display + Copy, value: &str) -> Check {
    let Some((algo, hex)) = value.split_once(':') else {
        return fail(
            path,
            format!("{value:?} is not a digest (algorithm:hex, e.g. sha256:<64 hex digits>)"),
        );
    };
    let algo_ok = !algo.is_empty()
        && algo.len() <= 32
        && algo
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"+._-".contains(&b));
    if !algo_ok {
        return fail(path, format!("digest algorithm {algo:?} is not lowercase alphanumeric"));
    }
    if !hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        return fail(path, "digest is not lowercase hex after the algorithm");
    }
    let expected = match algo {
        "sha256" => Some(64),
        "sha384" => Some(96),
        "sha512" => Some(128),
        "sha1" => Some(40),
        _ => None,
    };
    match expected {
        Some(n) if hex.len() != n => fail(path, format!("{algo} digest has {} hex digits, not {n}", hex.len())),
        None if hex.len() < 32 || hex.len() > 256 || hex.len() % 2 != 0 => fail(
            path,
            format!(
                "digest has {} hex digits, expected an even number from 32 to 256",
                hex.len()
            ),
        ),
        _ => Ok(()),
    }
}

/// A known enum value other than the zero (UNSPECIFIED) one.
fn specified<E: TryFrom<i32>>(path: impl Display + Copy, value: i32) -> Check {
    if value == 0 {
        return fail(path, "unspecified");
    }
    known::<E>(path, value)
}

/// A known enum value; the zero value is allowed where the API documents a default for it.
fn known<E: TryFrom<i32>>(path: impl Display + Copy, value: i32) -> Check {
    if E::try_from(value).is_err() {
        return fail(path, format!("unknown value {value}"));
    }
    Ok(())
}

fn timestamp(path: impl Display + Copy, t: &Timestamp) -> Check {
    // 0001-01-01T00:00:00Z ..= 9999-12-31T23:59:59Z, as RFC 3339 can write it.
    const MIN: i64 = -62_135_596_800;
    const MAX: i64 = 253_402_300_799;
    if !(0..1_000_000_000).contains(&t.nanos) {
        return fail(path, format!("nanos {} out of range 0..1e9", t.nanos));
    }
    if !(MIN..=MAX).contains(&t.seconds) {
        return fail(path, format!("seconds {} out of range", t.seconds));
    }
    Ok(())
}

fn optional_timestamp(path: &str, t: Option<&Timestamp>) -> Check {
    t.map_or(Ok(()), |t| timestamp(path, t))
}

/// Checks one scan result as `IngestScanResults` would.
pub fn single_scan_result(r: &ScanResult) -> Result<()> {
    into_error(scan_result("result", r))
}

fn scan_result(path: impl Display + Copy, r: &ScanResult) -> Check {
    digest(format_args!("{path}.artifact_digest"), &r.artifact_digest)?;
    match &r.scanned_at {
        None => return fail(format_args!("{path}.scanned_at"), "missing"),
        Some(t) => timestamp(format_args!("{path}.scanned_at"), t)?,
    }
    specified::<ScanOutcome>(format_args!("{path}.outcome"), r.outcome)?;
    batch(
        format_args!("{path}.vulnerabilities"),
        r.vulnerabilities.len(),
        MAX_VULNERABILITIES,
    )?;
    for (i, v) in r.vulnerabilities.iter().enumerate() {
        observed(format_args!("{path}.vulnerabilities[{i}]"), v)?;
    }
    Ok(())
}

fn observed(path: impl Display + Copy, v: &ObservedVulnerability) -> Check {
    specified::<FindingType>(format_args!("{path}.type"), v.r#type)?;
    if v.r#type == FindingType::NetworkReachability as i32 {
        return fail(
            format_args!("{path}.type"),
            "NETWORK_REACHABILITY findings come from the network analysis, not from scans",
        );
    }
    specified::<Severity>(format_args!("{path}.severity"), v.severity)?;
    specified::<FixAvailable>(format_args!("{path}.fix_available"), v.fix_available)?;
    match &v.vulnerability {
        None => return fail(format_args!("{path}.vulnerability"), "missing"),
        Some(vuln) => id(format_args!("{path}.vulnerability.id"), &vuln.id, MAX_ID_BYTES)?,
    }
    if let Some(p) = &v.package {
        printable(format_args!("{path}.package.name"), &p.name, MAX_ID_BYTES)?;
        printable(format_args!("{path}.package.file_path"), &p.file_path, MAX_ID_BYTES)?;
    }
    score(format_args!("{path}.score"), v.score, 10.0)?;
    score(format_args!("{path}.epss_score"), v.epss_score, 1.0)
}

fn score(path: impl Display + Copy, value: f64, max: f64) -> Check {
    if !value.is_finite() || !(0.0..=max).contains(&value) {
        return fail(path, format!("{value} is not within 0..={max}"));
    }
    Ok(())
}

fn rule_name(path: &str, name: &str) -> Check {
    let chars = name.chars().count();
    if chars == 0 {
        return fail(path, "empty");
    }
    if chars > MAX_RULE_NAME_CHARS {
        return fail(path, format!("{chars} characters, at most {MAX_RULE_NAME_CHARS}"));
    }
    printable(path, name, usize::MAX)
}

fn suppression_rule(path: &str, rule: &SuppressionRule) -> Check {
    rule_name(&format!("{path}.name"), &rule.name)?;
    let filter_path = format!("{path}.filter");
    match &rule.filter {
        Some(f) if *f != FindingFilter::default() => check_finding_filter(&filter_path, f),
        _ => fail(&filter_path, "empty (a rule must say which findings it suppresses)"),
    }
}

fn string_filters(path: &str, filters: &[StringFilter]) -> Check {
    for (i, f) in filters.iter().enumerate() {
        specified::<StringComparison>(&format!("{path}[{i}].comparison"), f.comparison)?;
    }
    Ok(())
}

fn map_filters(path: &str, filters: &[MapFilter]) -> Check {
    for (i, f) in filters.iter().enumerate() {
        if f.key.is_empty() {
            return fail(&format!("{path}[{i}].key"), "empty");
        }
        known::<StringComparison>(&format!("{path}[{i}].comparison"), f.comparison)?;
    }
    Ok(())
}

fn enum_filters<E: TryFrom<i32>>(path: &str, values: &[i32]) -> Check {
    for (i, v) in values.iter().enumerate() {
        specified::<E>(&format!("{path}[{i}]"), *v)?;
    }
    Ok(())
}

fn number_filter(path: &str, f: Option<&NumberFilter>) -> Check {
    let Some(f) = f else { return Ok(()) };
    for (name, bound) in [
        ("lower_inclusive", f.lower_inclusive),
        ("upper_inclusive", f.upper_inclusive),
    ] {
        if bound.is_some_and(f64::is_nan) {
            return fail(&format!("{path}.{name}"), "NaN");
        }
    }
    if let (Some(l), Some(u)) = (f.lower_inclusive, f.upper_inclusive) {
        if l > u {
            return fail(
                path,
                format!("lower bound {l} is above upper bound {u}: nothing can match"),
            );
        }
    }
    Ok(())
}

fn date_filter(path: &str, f: Option<&DateFilter>) -> Check {
    let Some(f) = f else { return Ok(()) };
    optional_timestamp(&format!("{path}.start_inclusive"), f.start_inclusive.as_ref())?;
    optional_timestamp(&format!("{path}.end_inclusive"), f.end_inclusive.as_ref())?;
    if let (Some(s), Some(e)) = (&f.start_inclusive, &f.end_inclusive) {
        if (s.seconds, s.nanos) > (e.seconds, e.nanos) {
            return fail(path, "start is after end: nothing can match");
        }
    }
    Ok(())
}

/// Also used for the feed filter.
pub fn finding_filter(path: &str, f: &FindingFilter) -> std::result::Result<(), String> {
    check_finding_filter(path, f)
}

fn check_finding_filter(path: &str, f: &FindingFilter) -> Check {
    let p = |field: &str| format!("{path}.{field}");
    string_filters(&p("finding_id"), &f.finding_id)?;
    string_filters(&p("account_id"), &f.account_id)?;
    enum_filters::<ResourceType>(&p("resource_type"), &f.resource_type)?;
    string_filters(&p("resource_id"), &f.resource_id)?;
    map_filters(&p("resource_tags"), &f.resource_tags)?;
    string_filters(&p("region"), &f.region)?;
    enum_filters::<Severity>(&p("severity"), &f.severity)?;
    enum_filters::<FindingStatus>(&p("status"), &f.status)?;
    enum_filters::<FindingType>(&p("finding_type"), &f.finding_type)?;
    string_filters(&p("vulnerability_id"), &f.vulnerability_id)?;
    string_filters(&p("package_name"), &f.package_name)?;
    string_filters(&p("package_version"), &f.package_version)?;
    enum_filters::<FixAvailable>(&p("fix_available"), &f.fix_available)?;
    number_filter(&p("score"), f.score.as_ref())?;
    number_filter(&p("epss_score"), f.epss_score.as_ref())?;
    date_filter(&p("first_observed_at"), f.first_observed_at.as_ref())?;
    date_filter(&p("last_observed_at"), f.last_observed_at.as_ref())?;
    date_filter(&p("updated_at"), f.updated_at.as_ref())?;
    string_filters(&p("image_repository"), &f.image_repository)?;
    string_filters(&p("title"), &f.title)?;
    enum_filters::<NetworkProtocol>(&p("network_protocol"), &f.network_protocol)?;
    port_range_filters(&p("open_port_range"), &f.open_port_range)
}

fn port_range_filters(path: &str, filters: &[PortRangeFilter]) -> Check {
    for (i, r) in filters.iter().enumerate() {
        ports(&format!("{path}[{i}]"), r.begin_inclusive, r.end_inclusive)?;
    }
    Ok(())
}

pub fn resource_filter(path: &str, f: &ResourceFilter) -> Result<()> {
    into_error(check_resource_filter(path, f))
}

fn check_resource_filter(path: &str, f: &ResourceFilter) -> Check {
    let p = |field: &str| format!("{path}.{field}");
    string_filters(&p("account_id"), &f.account_id)?;
    string_filters(&p("region"), &f.region)?;
    enum_filters::<ResourceType>(&p("resource_type"), &f.resource_type)?;
    string_filters(&p("resource_id"), &f.resource_id)?;
    map_filters(&p("tags"), &f.tags)?;
    string_filters(&p("artifact_digest"), &f.artifact_digest)?;
    enum_filters::<CoverageStatus>(&p("coverage_status"), &f.coverage_status)?;
    enum_filters::<CoverageReason>(&p("coverage_reason"), &f.coverage_reason)?;
    date_filter(&p("last_scanned_at"), f.last_scanned_at.as_ref())
}

pub fn account_filters(
    account_id: &[StringFilter],
    organization_unit: &[StringFilter],
    tags: &[MapFilter],
) -> Result<()> {
    into_error(
        string_filters("account_id", account_id)
            .and_then(|_| string_filters("organization_unit", organization_unit))
            .and_then(|_| map_filters("tags", tags)),
    )
}

pub fn finding_query(filter: Option<&FindingFilter>, sort_field: i32, sort_order: i32) -> Result<()> {
    into_error((|| {
        if let Some(f) = filter {
            check_finding_filter("filter", f)?;
        }
        known::<FindingSortField>("sort.field", sort_field)?;
        known::<SortOrder>("sort.order", sort_order)
    })())
}

pub fn aggregation(aggregation: i32, filter: Option<&FindingFilter>) -> Result<()> {
    into_error((|| {
        specified::<AggregationType>("aggregation", aggregation)?;
        filter.map_or(Ok(()), |f| check_finding_filter("filter", f))
    })())
}

pub fn coverage_group_by(group_by: i32) -> Result<()> {
    into_error(specified::<CoverageGroupBy>("group_by", group_by))
}
