//! The synthetic estate: accounts × regions × resources of three AWS types, artifact digests
//! shared with a long tail (Zipf), every resource and digest computed from its index so that
//! the expected findings can be recomputed at any time.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Mutex;

use argus_proto::v1::resource::Details;
use argus_proto::v1::{ContainerImageDetails, Ec2InstanceDetails, LambdaFunctionDetails, Resource, ResourceType};
use argus_worker::synthetic;
use sha2::{Digest, Sha256};

const REGIONS: [&str; 17] = [
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "eu-central-1",
    "eu-north-1",
    "ap-south-1",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-southeast-1",
    "ap-southeast-2",
    "ca-central-1",
    "sa-east-1",
];

/// Resource types in the estate, with their share out of ten resources.
const TYPES: [(ResourceType, u64); 3] = [
    (ResourceType::AwsEcrContainerImage, 5),
    (ResourceType::AwsEc2Instance, 3),
    (ResourceType::AwsLambdaFunction, 2),
];

/// Samples ranks `0..n` with probability proportional to `1 / (rank + 1)^s`.
struct Zipf {
    cdf: Vec<f64>,
}

impl Zipf {
    fn new(n: u64, s: f64) -> Self {
        let mut total = 0.0;
        let mut cdf = Vec::with_capacity(n as usize);
        for k in 0..n.max(1) {
            total += 1.0 / ((k + 1) as f64).powf(s);
            cdf.push(total);
        }
        for c in &mut cdf {
            *c /= total;
        }
        Zipf { cdf }
    }

    fn sample(&self, u: f64) -> u64 {
        self.cdf.partition_point(|c| *c < u).min(self.cdf.len() - 1) as u64
    }
}

/// SplitMix64 over an index: one uniform number per resource, stable across runs.
fn uniform(seed: u64) -> f64 {
    let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

pub struct Estate {
    pub accounts: u64,
    pub regions: u64,
    pub packages: usize,
    zipf: Vec<Zipf>,
    /// Per resource index, the generation of its artifact: 0 is the shared Zipf-drawn one, a
    /// later one is a fresh digest of its own (the steady scenario's changes).
    generation: HashMap<u64, u32>,
    /// Resources that exist (indices `0..len`).
    pub len: u64,
    /// The marker advisory's percentage once it is published (0 before).
    pub marker_percent: u64,
    /// Real-engine mode: every artifact is a root filesystem below this directory
    /// (`synthetic::write_rootfs`) and resources point the workers at it with a `dir:` locator.
    pub rootfs: Option<PathBuf>,
    /// Digests already written below `rootfs`.
    written: Mutex<HashSet<String>>,
}

impl Estate {
    /// `artifacts` distinct digests in the pools (split across types like resources).
    pub fn new(accounts: u64, regions: u64, artifacts: u64, zipf_s: f64, packages: usize) -> Estate {
        let zipf = TYPES
            .iter()
            .map(|(_, share)| Zipf::new((artifacts * share / 10).max(1), zipf_s))
            .collect();
        Estate {
            accounts: accounts.max(1),
            regions: regions.clamp(1, REGIONS.len() as u64),
            packages,
            zipf,
            generation: HashMap::new(),
            len: 0,
            marker_percent: 0,
            rootfs: None,
            written: Mutex::new(HashSet::new()),
        }
    }

    /// Artifacts written below `rootfs` so far.
    pub fn artifacts_written(&self) -> usize {
        self.written.lock().expect("artifact set lock").len()
    }

    /// Where the root filesystem of `digest` is written in real-engine mode.
    fn rootfs_of(&self, digest: &str) -> Option<PathBuf> {
        let hex = digest.trim_start_matches("sha256:");
        self.rootfs.as_ref().map(|d| d.join(&hex[..2]).join(hex))
    }

    /// Real-engine mode: writes the artifacts of resources `indices` that are not on disk yet,
    /// before the resources are put. Returns how many were written.
    pub fn write_artifacts(&self, indices: impl IntoIterator<Item = u64>) -> std::io::Result<usize> {
        if self.rootfs.is_none() {
            return Ok(0);
        }
        let mut written = self.written.lock().expect("artifact set lock");
        let mut n = 0;
        for i in indices {
            let digest = self.digest(i);
            if written.contains(&digest) {
                continue;
            }
            let dir = self.rootfs_of(&digest).expect("rootfs is set");
            synthetic::write_rootfs(&dir, &digest, self.packages)?;
            written.insert(digest);
            n += 1;
        }
        Ok(n)
    }

    fn type_of(i: u64) -> (usize, ResourceType) {
        let slot = (i * 7) % 10;
        let mut upto = 0;
        for (t, (ty, share)) in TYPES.iter().enumerate() {
            upto += share;
            if slot < upto {
                return (t, *ty);
            }
        }
        unreachable!("shares add up to ten")
    }

    pub fn account(&self, i: u64) -> String {
        format!("{:012}", 100_000_000_000 + i % self.accounts)
    }

    pub fn region(&self, i: u64) -> &'static str {
        REGIONS[((i / self.accounts) % self.regions) as usize]
    }

    pub fn resource_id(&self, i: u64) -> String {
        let (account, region) = (self.account(i), self.region(i));
        match Self::type_of(i).1 {
            ResourceType::AwsEcrContainerImage => {
                format!("arn:aws:ecr:{region}:{account}:repository/svc-{i:08}")
            }
            ResourceType::AwsEc2Instance => format!("arn:aws:ec2:{region}:{account}:instance/i-{i:017x}"),
            _ => format!("arn:aws:lambda:{region}:{account}:function:fn-{i:08}"),
        }
    }

    /// The artifact digest resource `i` carries now.
    pub fn digest(&self, i: u64) -> String {
        let (t, ty) = Self::type_of(i);
        let text = match self.generation.get(&i).copied().unwrap_or(0) {
            0 => format!(
                "argus-loadtest/{}/{}",
                ty.as_str_name(),
                self.zipf[t].sample(uniform(i))
            ),
            g => format!("argus-loadtest/{}/changed/{i}/{g}", ty.as_str_name()),
        };
        format!("sha256:{}", hex::encode(Sha256::digest(text.as_bytes())))
    }

    /// Gives resource `i` a fresh artifact of its own.
    pub fn change(&mut self, i: u64) {
        *self.generation.entry(i).or_default() += 1;
    }

    pub fn resource(&self, i: u64) -> Resource {
        let (account, region, digest) = (self.account(i), self.region(i), self.digest(i));
        let (_, ty) = Self::type_of(i);
        let (details, locator) = match ty {
            ResourceType::AwsEcrContainerImage => {
                let registry = format!("{account}.dkr.ecr.{region}.amazonaws.com");
                let repository = format!("svc-{i:08}");
                let locator = format!("registry:{registry}/{repository}@{digest}");
                let details = Details::ContainerImage(ContainerImageDetails {
                    registry,
                    repository,
                    tags: vec!["latest".into()],
                    ..Default::default()
                });
                (details, locator)
            }
            ResourceType::AwsEc2Instance => (
                Details::Ec2Instance(Ec2InstanceDetails {
                    ami_id: format!("ami-{:017x}", i % 97),
                    platform: "LINUX".into(),
                    state: "running".into(),
                    ..Default::default()
                }),
                format!("dir:/hosts/i-{i:017x}"),
            ),
            _ => (
                Details::LambdaFunction(LambdaFunctionDetails {
                    function_name: format!("fn-{i:08}"),
                    runtime: "nodejs20.x".into(),
                    package_type: "Zip".into(),
                    ..Default::default()
                }),
                format!("zip:/lambda/fn-{i:08}.zip"),
            ),
        };
        // The real engine scans what was written for the digest, whatever the resource type.
        let locator = match self.rootfs_of(&digest) {
            Some(dir) => format!("dir:{}", dir.display()),
            None => locator,
        };
        Resource {
            r#type: ty as i32,
            resource_id: self.resource_id(i),
            account_id: account,
            region: region.to_string(),
            artifact_digest: digest,
            artifact_locator: locator,
            details: Some(details),
            ..Default::default()
        }
    }

    /// The ACTIVE finding ids resource `i` must have now.
    pub fn expected_ids(&self, i: u64) -> Vec<u128> {
        let (account, resource) = (self.account(i), self.resource_id(i));
        synthetic::expected(&self.digest(i), self.packages, self.marker_percent)
            .iter()
            .map(|f| {
                id_number(&argus_proto::finding_id(
                    &account,
                    &resource,
                    &f.vulnerability,
                    &f.package,
                    &f.path,
                ))
            })
            .collect()
    }

    /// Whether resource `i` has any finding now (a feed change is then sure to come).
    pub fn has_findings(&self, i: u64) -> bool {
        !synthetic::expected(&self.digest(i), self.packages, self.marker_percent).is_empty()
    }

    /// Distinct digests the live resources carry.
    pub fn distinct_artifacts(&self) -> Vec<String> {
        let mut set: Vec<String> = (0..self.len).map(|i| self.digest(i)).collect();
        set.sort_unstable();
        set.dedup();
        set
    }
}

/// A finding id (32 hex digits) as a number: a quarter of the memory of the string.
pub fn id_number(id: &str) -> u128 {
    u128::from_str_radix(id, 16).unwrap_or(u128::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn popular_artifacts_are_shared_and_the_tail_is_long() {
        let mut e = Estate::new(20, 3, 1000, 1.0, 10);
        e.len = 10_000;
        let mut counts: HashMap<String, u64> = HashMap::new();
        for i in 0..e.len {
            *counts.entry(e.digest(i)).or_default() += 1;
        }
        let top = counts.values().max().copied().unwrap();
        let singles = counts.values().filter(|c| **c == 1).count();
        assert!(top > 100, "a base image many resources share: {top}");
        assert!(singles > 100, "a long tail of artifacts used once: {singles}");
        let before = e.digest(5);
        e.change(5);
        assert_ne!(e.digest(5), before);
        assert_eq!(e.resource(5).artifact_digest, e.digest(5));
    }
}
