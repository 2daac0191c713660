//! Synthetic artifacts for load tests: a package inventory derived deterministically from an
//! artifact digest, drawn from a fixed universe of npm, PyPI and Debian-like packages, and the
//! OSV advisories for that universe.
//!
//! Workers run with `--simulate-scan-ms` use [`inventory`] instead of fetching the artifact and
//! then match it with the real matcher against their current database, so a simulated scan
//! produces real findings and its stored inventory re-matches like any other. The load test
//! builds its database from [`write_advisories`] and predicts every finding with [`expected`],
//! which knows by construction which versions the advisories cover: it never calls the matcher,
//! so a comparison with what the cluster holds checks the pipeline, not the generator against
//! itself.

use std::io::Write;
use std::path::Path;

use argus_proto::{Ecosystem, Inventory, Package, PackageManager};

/// Packages in a synthetic inventory unless told otherwise (`argus worker --simulate-packages`).
pub const DEFAULT_PACKAGES: usize = 60;
/// Packages per ecosystem in the universe.
pub const UNIVERSE_PER_ECOSYSTEM: usize = 1000;
/// Every package has versions `1.0 .. 1.<VERSIONS-1>` in its ecosystem's spelling.
const VERSIONS: u64 = 10;
/// Marker packages: each artifact carries exactly one, `argus-marker-<0..100>`, so that an
/// advisory naming markers `0..X` affects X % of artifacts (see [`write_marker_advisory`]).
pub const MARKERS: u64 = 100;
/// The id of the advisory [`write_marker_advisory`] writes.
pub const MARKER_ADVISORY: &str = "SYN-MARKER-1";

/// Where the three kinds of synthetic packages live, as real extractors would report them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Npm,
    PyPi,
    Debian,
}

const KINDS: [Kind; 3] = [Kind::Npm, Kind::PyPi, Kind::Debian];

impl Kind {
    fn prefix(self) -> &'static str {
        match self {
            Kind::Npm => "syn-npm",
            Kind::PyPi => "syn-py",
            Kind::Debian => "syn-deb",
        }
    }

    fn ecosystem(self) -> Ecosystem {
        match self {
            Kind::Npm => Ecosystem::npm(),
            Kind::PyPi => Ecosystem::pypi(),
            Kind::Debian => Ecosystem("Debian:12".into()),
        }
    }

    fn manager(self) -> PackageManager {
        match self {
            Kind::Npm => PackageManager::Npm,
            Kind::PyPi => PackageManager::Pip,
            Kind::Debian => PackageManager::Dpkg,
        }
    }

    fn path(self) -> &'static str {
        match self {
            Kind::Npm => "/app/package-lock.json",
            Kind::PyPi => "/app/requirements.txt",
            Kind::Debian => "/var/lib/dpkg/status",
        }
    }

    fn version(self, minor: u64) -> String {
        match self {
            Kind::Npm | Kind::PyPi => format!("1.{minor}.0"),
            Kind::Debian => format!("1.{minor}-1"),
        }
    }

    fn purl(self, name: &str, version: &str) -> String {
        match self {
            Kind::Npm => format!("pkg:npm/{name}@{version}"),
            Kind::PyPi => format!("pkg:pypi/{name}@{version}"),
            Kind::Debian => format!("pkg:deb/debian/{name}@{version}?distro=debian-12"),
        }
    }

    fn package(self, name: &str, minor: u64) -> Package {
        let version = self.version(minor);
        let purl = self.purl(name, &version);
        Package::new(name, version, self.ecosystem(), self.manager(), purl, self.path())
    }
}

/// SplitMix64: small, fast and good enough to spread digests over the universe.
struct Rng(u64);

impl Rng {
    fn seeded(text: &str) -> Self {
        // FNV-1a: the digest is already random; this only folds it into a seed.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in text.bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        Rng(h)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// One drawn package: kind, index in the universe, installed minor version.
struct Drawn {
    kind: Kind,
    index: usize,
    minor: u64,
}

fn name(kind: Kind, index: usize) -> String {
    format!("{}-{index:04}", kind.prefix())
}

/// The packages of the artifact `digest`: `packages` distinct ones from the universe, and the
/// artifact's marker (returned apart).
fn draw(digest: &str, packages: usize) -> (Vec<Drawn>, u64) {
    let mut rng = Rng::seeded(digest);
    let marker = rng.below(MARKERS);
    let universe = (KINDS.len() * UNIVERSE_PER_ECOSYSTEM) as u64;
    let want = packages.min(universe as usize);
    let mut seen = std::collections::HashSet::with_capacity(want);
    let mut out = Vec::with_capacity(want);
    while out.len() < want {
        let slot = rng.below(universe) as usize;
        let minor = rng.below(VERSIONS);
        if seen.insert(slot) {
            out.push(Drawn {
                kind: KINDS[slot / UNIVERSE_PER_ECOSYSTEM],
                index: slot % UNIVERSE_PER_ECOSYSTEM,
                minor,
            });
        }
    }
    (out, marker)
}

fn marker_name(marker: u64) -> String {
    format!("argus-marker-{marker:02}")
}

/// The marker (`0..MARKERS`) the artifact `digest` carries.
pub fn marker(digest: &str) -> u64 {
    draw(digest, 0).1
}

/// The package inventory of the artifact `digest`, identical wherever it is computed.
pub fn inventory(digest: &str, packages: usize) -> Inventory {
    let (drawn, marker) = draw(digest, packages);
    let mut inv = Inventory::new(digest);
    inv.artifact_digest = Some(digest.to_string());
    inv.packages = drawn
        .iter()
        .map(|d| d.kind.package(&name(d.kind, d.index), d.minor))
        .collect();
    inv.packages.push(Kind::Npm.package(&marker_name(marker), 0));
    inv.normalize();
    inv
}

/// The advisory of universe package `index` of `kind`, if it has one: two in three do, and
/// each fixes at a minor version from 3 to 7, so about a third of the drawn packages are
/// vulnerable (twenty of sixty by default).
fn fixed_minor(kind: Kind, index: usize) -> Option<u64> {
    let mut rng = Rng::seeded(&name(kind, index));
    (rng.below(3) != 2).then(|| 3 + rng.below(5))
}

fn advisory_id(kind: Kind, index: usize) -> String {
    format!(
        "SYN-{}-{index:04}",
        kind.prefix().trim_start_matches("syn-").to_uppercase()
    )
}

/// One finding a scan of a synthetic artifact must produce (per resource carrying it).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ExpectedFinding {
    pub vulnerability: String,
    pub package: String,
    pub path: String,
}

/// Every finding the artifact `digest` (of `packages` packages) has under the baseline
/// advisories, plus the marker advisory when it covers markers below `marker_percent`.
pub fn expected(digest: &str, packages: usize, marker_percent: u64) -> Vec<ExpectedFinding> {
    let (drawn, marker) = draw(digest, packages);
    let mut out: Vec<ExpectedFinding> = drawn
        .iter()
        .filter(|d| fixed_minor(d.kind, d.index).is_some_and(|fix| d.minor < fix))
        .map(|d| ExpectedFinding {
            vulnerability: advisory_id(d.kind, d.index),
            package: name(d.kind, d.index),
            path: d.kind.path().to_string(),
        })
        .collect();
    if marker < marker_percent {
        out.push(ExpectedFinding {
            vulnerability: MARKER_ADVISORY.to_string(),
            package: marker_name(marker),
            path: Kind::Npm.path().to_string(),
        });
    }
    out.sort();
    out
}

const VECTORS: [&str; 4] = [
    "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
    "CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:N/A:N",
    "CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:L/I:L/A:N",
    "CVSS:3.1/AV:L/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N",
];

fn write_json(dir: &Path, file: &str, value: &serde_json::Value) -> std::io::Result<()> {
    let mut f = std::fs::File::create(dir.join(file))?;
    f.write_all(&serde_json::to_vec(value).expect("JSON always serializes"))?;
    Ok(())
}

/// Writes the baseline OSV advisories of the universe into `dir` (one file each), for
/// `vulndb::import`. Returns how many.
pub fn write_advisories(dir: &Path) -> std::io::Result<usize> {
    std::fs::create_dir_all(dir)?;
    let mut n = 0;
    for kind in KINDS {
        for index in 0..UNIVERSE_PER_ECOSYSTEM {
            let Some(fix) = fixed_minor(kind, index) else { continue };
            let id = advisory_id(kind, index);
            let record = serde_json::json!({
                "schema_version": "1.6.0",
                "id": id,
                "modified": "2026-01-01T00:00:00Z",
                "summary": format!("synthetic vulnerability in {}", name(kind, index)),
                "severity": [{"type": "CVSS_V3", "score": VECTORS[index % VECTORS.len()]}],
                "affected": [{
                    "package": {"ecosystem": kind.ecosystem().as_str(), "name": name(kind, index)},
                    "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": kind.version(fix)}]}]
                }]
            });
            write_json(dir, &format!("{id}.json"), &record)?;
            n += 1;
        }
    }
    Ok(n)
}

/// Writes into `dir` one advisory, [`MARKER_ADVISORY`], affecting every version of markers
/// `0..percent`: the artifacts carrying them, `percent` % of all in expectation.
pub fn write_marker_advisory(dir: &Path, percent: u64) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let affected: Vec<serde_json::Value> = (0..percent.min(MARKERS))
        .map(|m| {
            serde_json::json!({
                "package": {"ecosystem": "npm", "name": marker_name(m)},
                "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}]}]
            })
        })
        .collect();
    let record = serde_json::json!({
        "schema_version": "1.6.0",
        "id": MARKER_ADVISORY,
        "modified": "2026-06-01T00:00:00Z",
        "summary": "synthetic advisory for the marker packages",
        "severity": [{"type": "CVSS_V3", "score": VECTORS[0]}],
        "affected": affected,
    });
    write_json(dir, &format!("{MARKER_ADVISORY}.json"), &record)
}

/// Writes the artifact `digest` as a root filesystem that the real extractors read back as
/// exactly [`inventory`] (same names, versions, ecosystems and paths): Debian 12's os-release,
/// the Debian packages in the dpkg status database, the npm packages (and the marker) in a
/// lockfile, the PyPI packages pinned in a requirements file. The load test's real-engine mode
/// scans these with `argus worker` as it would scan any host, so the whole fetch → extract →
/// match path runs while [`expected`] still predicts every finding.
pub fn write_rootfs(dir: &Path, digest: &str, packages: usize) -> std::io::Result<()> {
    let inv = inventory(digest, packages);
    let (mut dpkg, mut npm, mut pip) = (String::new(), serde_json::Map::new(), String::new());
    npm.insert("".into(), serde_json::json!({"name": "app", "version": "1.0.0"}));
    for p in &inv.packages {
        match p.package_manager {
            PackageManager::Dpkg => dpkg.push_str(&format!(
                "Package: {}\nStatus: install ok installed\nPriority: optional\nArchitecture: amd64\nVersion: {}\n\n",
                p.name, p.version
            )),
            PackageManager::Npm => {
                npm.insert(
                    format!("node_modules/{}", p.name),
                    serde_json::json!({"version": p.version}),
                );
            }
            _ => pip.push_str(&format!("{}=={}\n", p.name, p.version)),
        }
    }
    let lock =
        serde_json::json!({"name": "app", "version": "1.0.0", "lockfileVersion": 3, "requires": true, "packages": npm});
    let files: [(&str, Vec<u8>); 4] = [
        (
            "etc/os-release",
            b"PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nID=debian\n".to_vec(),
        ),
        (Kind::Debian.path(), dpkg.into_bytes()),
        (Kind::Npm.path(), serde_json::to_vec_pretty(&lock).expect("JSON always serializes")),
        (Kind::PyPi.path(), pip.into_bytes()),
    ];
    for (rel, data) in files {
        let path = dir.join(rel.trim_start_matches('/'));
        std::fs::create_dir_all(path.parent().expect("files are below the root"))?;
        std::fs::write(path, data)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matching::match_inventory;
    use crate::vulndb::{import::import, VulnDb};

    fn digest(n: u64) -> String {
        format!("sha256:{n:064x}")
    }

    #[test]
    fn an_inventory_depends_on_the_digest_only() {
        assert_eq!(inventory(&digest(7), 60), inventory(&digest(7), 60));
        assert_ne!(inventory(&digest(7), 60).packages, inventory(&digest(8), 60).packages);
        let inv = inventory(&digest(7), 60);
        assert_eq!(inv.packages.len(), 61, "sixty drawn and the marker");
        assert!(inventory(&digest(7), 0).packages.len() == 1);
    }

    #[test]
    fn the_real_extractors_read_a_written_rootfs_back_as_its_inventory() {
        let key = |p: &Package| {
            (
                p.name.clone(),
                p.version.clone(),
                p.ecosystem.0.clone(),
                p.file_path.clone(),
            )
        };
        for i in 0..5 {
            let d = digest(i);
            let tmp = tempfile::tempdir().unwrap();
            write_rootfs(tmp.path(), &d, 60).unwrap();
            let opts = crate::ScanOptions {
                kind: Some(crate::TargetKind::Dir),
                ..Default::default()
            };
            let scanned =
                crate::scan_target(tmp.path().to_str().unwrap(), &opts, &crate::artifact::NoProgress).unwrap();
            let mut got: Vec<_> = scanned.packages.iter().map(key).collect();
            let mut want: Vec<_> = inventory(&d, 60).packages.iter().map(key).collect();
            got.sort();
            want.sort();
            assert_eq!(got, want, "artifact {i}");
        }
    }

    #[test]
    fn markers_spread_evenly_over_artifacts() {
        let n = 20_000;
        let below_ten = (0..n).filter(|i| marker(&digest(*i)) < 10).count() as f64;
        let share = below_ten / n as f64;
        assert!((0.08..0.12).contains(&share), "{share}");
    }

    #[test]
    fn the_real_matcher_finds_exactly_the_expected_findings() {
        let tmp = tempfile::tempdir().unwrap();
        let src = tmp.path().join("osv");
        assert!(write_advisories(&src).unwrap() > 1500);
        let db_path = tmp.path().join("v1.vdb");
        import(&[&src], &db_path).unwrap();
        let db = VulnDb::open(&db_path).unwrap();
        write_marker_advisory(&src, 30).unwrap();
        let db2_path = tmp.path().join("v2.vdb");
        import(&[&src], &db2_path).unwrap();
        let db2 = VulnDb::open(&db2_path).unwrap();
        let mut total = 0;
        let mut markers = 0;
        for i in 0..200 {
            let d = digest(i);
            for (db, percent) in [(&db, 0), (&db2, 30)] {
                let report = match_inventory(db, &inventory(&d, 60)).unwrap();
                assert!(report.warnings.is_empty(), "{:?}", report.warnings);
                let mut got: Vec<ExpectedFinding> = report
                    .matches
                    .iter()
                    .map(|m| ExpectedFinding {
                        vulnerability: m.vulnerability_id.clone(),
                        package: m.package.name.clone(),
                        path: m.package.file_path.clone(),
                    })
                    .collect();
                got.sort();
                let want = expected(&d, 60, percent);
                assert_eq!(got, want, "artifact {i}, marker advisory at {percent} %");
                if percent == 0 {
                    total += want.len();
                } else {
                    markers += want.iter().filter(|f| f.vulnerability == MARKER_ADVISORY).count();
                }
            }
        }
        let per_artifact = total as f64 / 200.0;
        assert!((12.0..28.0).contains(&per_artifact), "tens of findings: {per_artifact}");
        assert!((30..100).contains(&markers), "about 30 % of 200: {markers}");
    }
}
