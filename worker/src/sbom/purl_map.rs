//! Maps package URLs found in SBOMs to the OSV ecosystem and the package name OSV expects, and
//! maps the operating-system names SBOM tools write to Argus's [`Distro`].

use std::str::FromStr;

use argus_proto::{Distro, Ecosystem, OsInfo};
use packageurl::PackageUrl;

/// Longer purls are not real package identifiers; refusing them keeps the parser's work bounded.
const MAX_PURL_LEN: usize = 4096;

/// What a purl says about a package, in Argus's terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Mapped {
    /// The purl type, lowercased (`deb`, `pypi`).
    pub ty: String,
    /// The package name normalized for the ecosystem.
    pub name: String,
    pub ecosystem: Ecosystem,
    /// The purl's version with an `epoch` qualifier folded in (`1:2.3-4`), when the purl has one.
    pub version: Option<String>,
    /// The `epoch` qualifier of deb and rpm purls.
    pub epoch: Option<u32>,
    /// The `arch` qualifier.
    pub arch: Option<String>,
    /// The `upstream` qualifier of deb and apk purls (`glibc` or `glibc@2.36-9`), split.
    pub upstream: Option<(String, Option<String>)>,
    /// For OS packages: the distribution release could not be told, so the ecosystem carries no
    /// release suffix (`Debian`).
    pub unversioned: bool,
}

/// Why a purl gives no package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Unmapped {
    /// A purl type Argus has no OSV ecosystem for (`generic`, `oci`, `github`).
    UnknownType(String),
    /// Not a valid purl, or one missing a part the ecosystem needs (a Maven group).
    Invalid(String),
    /// An OS package whose distribution is named nowhere: not in the purl, not in the SBOM.
    UnknownDistro(String),
}

/// Maps one purl. `os` is the operating system the SBOM declares; OS package purls without a
/// `distro` qualifier take their release from it.
pub(crate) fn map(purl: &str, os: Option<&OsInfo>) -> Result<Mapped, Unmapped> {
    let purl = purl.trim();
    if purl.len() > MAX_PURL_LEN {
        return Err(Unmapped::Invalid(format!("purl longer than {MAX_PURL_LEN} bytes")));
    }
    // Some tools write the npm scope's `@` unencoded; the parser takes the last `@` as the version
    // separator, so an unversioned scoped purl would lose its name.
    let fixed;
    let purl = match purl.strip_prefix("pkg:npm/@") {
        Some(rest) => {
            fixed = format!("pkg:npm/%40{rest}");
            fixed.as_str()
        }
        None => purl,
    };
    let p = PackageUrl::from_str(purl).map_err(|e| Unmapped::Invalid(format!("invalid purl {purl:?}: {e}")))?;
    let ty = p.ty().to_ascii_lowercase();
    let ns = p.namespace().map(str::trim).filter(|n| !n.is_empty());
    let raw_name = p.name().trim();
    if raw_name.is_empty() {
        return Err(Unmapped::Invalid(format!("purl {purl:?} has no name")));
    }
    let qualifier = |k: &str| p.qualifiers().get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
    let mut out = Mapped {
        ty: ty.clone(),
        name: raw_name.to_string(),
        ecosystem: Ecosystem(String::new()),
        version: p.version().map(str::trim).filter(|v| !v.is_empty()).map(str::to_string),
        epoch: None,
        arch: qualifier("arch").map(str::to_string),
        upstream: None,
        unversioned: false,
    };
    match ty.as_str() {
        "pypi" => {
            out.name = pep503(raw_name);
            out.ecosystem = Ecosystem::pypi();
        }
        "npm" => {
            out.name = match ns {
                Some(scope) if scope.starts_with('@') => format!("{scope}/{raw_name}"),
                Some(scope) => format!("@{scope}/{raw_name}"),
                None => raw_name.to_string(),
            };
            out.ecosystem = Ecosystem::npm();
        }
        "cargo" => out.ecosystem = Ecosystem::crates_io(),
        "golang" => {
            // Go names a package by its whole module path, which the purl splits at the last `/`.
            out.name = join_path(ns, raw_name);
            out.ecosystem = Ecosystem::go();
        }
        "maven" => {
            let group = ns.ok_or_else(|| Unmapped::Invalid(format!("maven purl {purl:?} has no group")))?;
            out.name = format!("{group}:{raw_name}");
            out.ecosystem = Ecosystem::maven();
        }
        "gem" => out.ecosystem = Ecosystem::rubygems(),
        "composer" => {
            // Packagist names are case-insensitive and OSV records them lowercased.
            out.name = join_path(ns, raw_name).to_ascii_lowercase();
            out.ecosystem = Ecosystem::packagist();
        }
        "nuget" => out.ecosystem = Ecosystem("NuGet".into()),
        "deb" | "apk" | "rpm" => {
            let (ecosystem, unversioned) = os_ecosystem(purl, ns, qualifier("distro"), os)?;
            out.ecosystem = ecosystem;
            out.unversioned = unversioned;
            if ty != "apk" {
                out.epoch = qualifier("epoch").and_then(|e| e.parse::<u32>().ok());
                if let (Some(epoch), Some(v)) = (out.epoch, out.version.as_mut()) {
                    if !v.contains(':') {
                        *v = format!("{epoch}:{v}");
                    }
                }
            }
            if ty != "rpm" {
                // rpm's `upstream` names a source RPM file, not a source package.
                out.upstream = qualifier("upstream").map(|u| match u.split_once('@') {
                    Some((n, v)) => (n.to_string(), Some(v.to_string()).filter(|v| !v.is_empty())),
                    None => (u.to_string(), None),
                });
            }
        }
        _ => return Err(Unmapped::UnknownType(ty)),
    }
    Ok(out)
}

fn join_path(ns: Option<&str>, name: &str) -> String {
    match ns {
        Some(ns) => format!("{}/{name}", ns.trim_end_matches('/')),
        None => name.to_string(),
    }
}

/// PEP 503: lowercase, and every run of `-`, `_`, `.` becomes one `-`.
pub(crate) fn pep503(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut in_sep = false;
    for c in name.trim().chars() {
        if matches!(c, '-' | '_' | '.') {
            if !in_sep {
                out.push('-');
            }
            in_sep = true;
        } else {
            out.extend(c.to_lowercase());
            in_sep = false;
        }
    }
    out
}

/// The distribution for a name as SBOM tools write it: os-release ids (Syft), Trivy's family
/// names (`redhat`, `amazon`, `alma`), and purl namespaces.
pub(crate) fn distro_from_name(name: &str) -> Option<Distro> {
    let n = name.trim().to_ascii_lowercase();
    Distro::from_os_release_id(&n).or(match n.as_str() {
        "redhat" | "red hat" | "rhel" => Some(Distro::RedHat),
        "amazon" | "amazonlinux" | "amazon linux" => Some(Distro::AmazonLinux),
        "alma" => Some(Distro::AlmaLinux),
        "rockylinux" => Some(Distro::RockyLinux),
        "oracle" | "oraclelinux" => Some(Distro::OracleLinux),
        "suse" | "opensuse.leap" | "opensuse.tumbleweed" | "sles" => Some(Distro::OpenSuse),
        _ => None,
    })
}

/// Codenames that appear in place of a release number in `distro` qualifiers.
fn codename(name: &str) -> Option<(Distro, &'static str)> {
    Some(match name {
        "stretch" => (Distro::Debian, "9"),
        "buster" => (Distro::Debian, "10"),
        "bullseye" => (Distro::Debian, "11"),
        "bookworm" => (Distro::Debian, "12"),
        "trixie" => (Distro::Debian, "13"),
        "bionic" => (Distro::Ubuntu, "18.04"),
        "focal" => (Distro::Ubuntu, "20.04"),
        "jammy" => (Distro::Ubuntu, "22.04"),
        "noble" => (Distro::Ubuntu, "24.04"),
        _ => return None,
    })
}

/// The OSV ecosystem of a distribution release. OSV names Debian releases by major version only
/// and Ubuntu releases by `YY.MM`, while SBOM tools often write the point release (`12.5`,
/// `22.04.4`); the rest follows [`Ecosystem::for_distro`].
pub(crate) fn distro_ecosystem(distro: Distro, version: &str) -> Ecosystem {
    let v = version.trim();
    let trimmed: String = match distro {
        Distro::Debian => v.split('.').next().unwrap_or("").to_string(),
        Distro::Ubuntu => v.split('.').take(2).collect::<Vec<_>>().join("."),
        _ => v.to_string(),
    };
    Ecosystem::for_distro(distro, &trimmed)
}

/// Splits a `distro` qualifier (`debian-12`, `ubuntu-22.04`, `alpine-3.20.3`, `3.20.3`,
/// `bookworm`, `rhel-9.4`) into the distribution it names, if any, and the release number.
fn parse_distro_qualifier(q: &str) -> (Option<Distro>, Option<String>) {
    let q = q.trim().to_ascii_lowercase();
    if let Some(start) = q.find(|c: char| c.is_ascii_digit()) {
        let prefix = q.get(..start).unwrap_or("").trim_end_matches(['-', ' ', '_', ':']);
        let rest = q.get(start..).unwrap_or("");
        let end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let version = rest.get(..end).unwrap_or("").trim_end_matches('.').to_string();
        let distro = if prefix.is_empty() {
            None
        } else {
            distro_from_name(prefix)
        };
        return (distro, Some(version).filter(|v| !v.is_empty()));
    }
    let last = q.rsplit('-').next().unwrap_or("");
    match codename(&q).or_else(|| codename(last)) {
        Some((d, v)) => (Some(d), Some(v.to_string())),
        None => (distro_from_name(&q), None),
    }
}

/// The ecosystem of a deb, apk or rpm purl: the distribution from the namespace (or the
/// qualifier, or the SBOM's OS), the release from the `distro` qualifier (or the SBOM's OS when it
/// is the same distribution). Returns whether the release stayed unknown.
fn os_ecosystem(
    purl: &str,
    ns: Option<&str>,
    distro_q: Option<&str>,
    os: Option<&OsInfo>,
) -> Result<(Ecosystem, bool), Unmapped> {
    let (q_distro, q_version) = distro_q.map(parse_distro_qualifier).unwrap_or((None, None));
    let distro = ns
        .and_then(distro_from_name)
        .or(q_distro)
        .or_else(|| if ns.is_none() { os.and_then(|o| o.distro) } else { None })
        .ok_or_else(|| Unmapped::UnknownDistro(format!("cannot tell the distribution of {purl:?}")))?;
    if let Some(v) = q_version {
        return Ok((distro_ecosystem(distro, &v), false));
    }
    if let Some(os) = os.filter(|o| o.distro == Some(distro)) {
        if let Some(e) = &os.ecosystem {
            return Ok((e.clone(), !e.as_str().contains(':') && !unversioned_in_osv(distro)));
        }
        if !os.version_id.trim().is_empty() {
            return Ok((distro_ecosystem(distro, &os.version_id), false));
        }
    }
    Ok((distro_ecosystem(distro, ""), !unversioned_in_osv(distro)))
}

/// Distributions whose OSV ecosystem carries no release at all, so a missing release loses nothing.
fn unversioned_in_osv(distro: Distro) -> bool {
    matches!(
        distro,
        Distro::RedHat | Distro::CentOs | Distro::Wolfi | Distro::Chainguard
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eco(purl: &str) -> (String, String) {
        let m = map(purl, None).unwrap_or_else(|e| panic!("{purl}: {e:?}"));
        (m.ecosystem.0, m.name)
    }

    fn pair(e: &str, n: &str) -> (String, String) {
        (e.to_string(), n.to_string())
    }

    #[test]
    fn language_purls_map_to_osv_ecosystems_and_names() {
        assert_eq!(
            eco("pkg:pypi/Django_REST.framework@3.15.1"),
            pair("PyPI", "django-rest-framework")
        );
        assert_eq!(eco("pkg:npm/%40babel/core@7.24.0"), pair("npm", "@babel/core"));
        assert_eq!(eco("pkg:npm/lodash@4.17.21"), pair("npm", "lodash"));
        assert_eq!(eco("pkg:cargo/serde_json@1.0.117"), pair("crates.io", "serde_json"));
        assert_eq!(
            eco("pkg:golang/github.com/gorilla/mux@v1.8.1"),
            pair("Go", "github.com/gorilla/mux")
        );
        assert_eq!(
            eco("pkg:golang/golang.org/x/net@v0.23.0#http2"),
            pair("Go", "golang.org/x/net")
        );
        assert_eq!(eco("pkg:golang/stdlib@1.22.3"), pair("Go", "stdlib"));
        assert_eq!(
            eco("pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1?type=jar"),
            pair("Maven", "org.apache.logging.log4j:log4j-core")
        );
        assert_eq!(eco("pkg:gem/rack@3.0.9.1"), pair("RubyGems", "rack"));
        assert_eq!(
            eco("pkg:composer/Monolog/Monolog@3.5.0"),
            pair("Packagist", "monolog/monolog")
        );
        assert_eq!(
            eco("pkg:nuget/Newtonsoft.Json@13.0.3"),
            pair("NuGet", "Newtonsoft.Json")
        );
    }

    #[test]
    fn npm_scope_written_with_a_bare_at_sign_still_parses() {
        let m = map("pkg:npm/@types/node", None).unwrap();
        assert_eq!((m.name.as_str(), m.version), ("@types/node", None));
        let m = map("pkg:npm/@types/node@20.12.7", None).unwrap();
        assert_eq!(
            (m.name.as_str(), m.version.as_deref()),
            ("@types/node", Some("20.12.7"))
        );
    }

    #[test]
    fn deb_purls_take_the_release_from_the_distro_qualifier() {
        assert_eq!(
            eco("pkg:deb/debian/libssl3@3.0.11-1~deb12u2?arch=amd64&distro=debian-12").0,
            "Debian:12"
        );
        assert_eq!(
            eco("pkg:deb/debian/libc6@2.36-9+deb12u4?distro=debian-12.5").0,
            "Debian:12"
        );
        assert_eq!(eco("pkg:deb/debian/bash@5.2.15-2+b2?distro=bookworm").0, "Debian:12");
        assert_eq!(eco("pkg:deb/debian/bash@5.1-2?distro=bullseye").0, "Debian:11");
        assert_eq!(eco("pkg:deb/debian/bash@5.0-4?distro=buster").0, "Debian:10");
        assert_eq!(eco("pkg:deb/debian/bash@5.2.37-1?distro=trixie").0, "Debian:13");
        assert_eq!(
            eco("pkg:deb/ubuntu/openssl@3.0.2-0ubuntu1.15?arch=amd64&distro=ubuntu-22.04").0,
            "Ubuntu:22.04"
        );
        assert_eq!(eco("pkg:deb/ubuntu/bash@5.0-6ubuntu1?distro=focal").0, "Ubuntu:20.04");
        assert_eq!(eco("pkg:deb/ubuntu/bash@5.1-6ubuntu1?distro=jammy").0, "Ubuntu:22.04");
        assert_eq!(
            eco("pkg:deb/ubuntu/bash@5.2.21-2ubuntu4?distro=noble").0,
            "Ubuntu:24.04"
        );
    }

    #[test]
    fn deb_purl_without_distro_takes_the_release_from_the_sbom_os() {
        let os = OsInfo {
            distro: Some(Distro::Debian),
            id: "debian".into(),
            version_id: "11".into(),
            pretty_name: "Debian GNU/Linux 11 (bullseye)".into(),
            ecosystem: Some(Ecosystem("Debian:11".into())),
        };
        let m = map("pkg:deb/debian/zlib1g@1:1.2.11.dfsg-2+deb11u2?arch=amd64", Some(&os)).unwrap();
        assert_eq!(m.ecosystem.as_str(), "Debian:11");
        assert!(!m.unversioned);
        let m = map("pkg:deb/zlib1g@1:1.2.11.dfsg-2+deb11u2", Some(&os)).unwrap();
        assert_eq!(m.ecosystem.as_str(), "Debian:11");
        // An Ubuntu package does not borrow a Debian release.
        let m = map("pkg:deb/ubuntu/zlib1g@1:1.2.11.dfsg-2ubuntu9", Some(&os)).unwrap();
        assert_eq!(m.ecosystem.as_str(), "Ubuntu");
        assert!(m.unversioned);
        assert_eq!(
            map("pkg:deb/zlib1g@1.2", None),
            Err(Unmapped::UnknownDistro(
                "cannot tell the distribution of \"pkg:deb/zlib1g@1.2\"".into()
            ))
        );
    }

    #[test]
    fn apk_purls_use_alpine_minor_release() {
        assert_eq!(
            eco("pkg:apk/alpine/musl@1.2.5-r0?arch=x86_64&distro=alpine-3.20.3").0,
            "Alpine:v3.20"
        );
        assert_eq!(
            eco("pkg:apk/alpine/busybox@1.36.1-r29?arch=x86_64&distro=3.20.3").0,
            "Alpine:v3.20"
        );
        assert_eq!(eco("pkg:apk/wolfi/glibc@2.39-r5?arch=x86_64").0, "Wolfi");
        let m = map(
            "pkg:apk/alpine/busybox-binsh@1.36.1-r29?arch=x86_64&upstream=busybox&distro=alpine-3.20.3",
            None,
        )
        .unwrap();
        assert_eq!(m.upstream, Some(("busybox".to_string(), None)));
        assert_eq!(m.arch.as_deref(), Some("x86_64"));
    }

    #[test]
    fn rpm_purls_map_by_namespace() {
        assert_eq!(
            eco("pkg:rpm/redhat/openssl-libs@3.0.7-27.el9?arch=x86_64&distro=rhel-9.4").0,
            "Red Hat"
        );
        assert_eq!(
            eco("pkg:rpm/almalinux/bash@5.1.8-9.el9?arch=x86_64&distro=almalinux-9.4").0,
            "AlmaLinux:9"
        );
        assert_eq!(
            eco("pkg:rpm/rocky/bash@5.1.8-9.el9?arch=x86_64&distro=rocky-9.3").0,
            "Rocky Linux:9"
        );
        assert_eq!(
            eco("pkg:rpm/amzn/bash@5.2.15-1.amzn2023.0.2?arch=x86_64&distro=amzn-2023").0,
            "Amazon Linux:2023"
        );
        assert_eq!(
            eco("pkg:rpm/amazon/bash@4.2.46-34.amzn2?arch=x86_64&distro=amazon-2").0,
            "Amazon Linux:2"
        );
    }

    #[test]
    fn rpm_epoch_qualifier_is_folded_into_the_version() {
        let m = map(
            "pkg:rpm/redhat/openssl-libs@3.0.7-27.el9?arch=x86_64&epoch=1&distro=redhat-9.4",
            None,
        )
        .unwrap();
        assert_eq!(m.version.as_deref(), Some("1:3.0.7-27.el9"));
        assert_eq!(m.epoch, Some(1));
        let m = map("pkg:deb/debian/zlib1g@1:1.2.13.dfsg-1?epoch=1&distro=debian-12", None).unwrap();
        assert_eq!(m.version.as_deref(), Some("1:1.2.13.dfsg-1"));
    }

    #[test]
    fn deb_upstream_qualifier_gives_the_source_package() {
        let m = map(
            "pkg:deb/debian/libc6@2.36-9+deb12u4?arch=amd64&upstream=glibc&distro=debian-12",
            None,
        )
        .unwrap();
        assert_eq!(m.upstream, Some(("glibc".to_string(), None)));
        let m = map(
            "pkg:deb/debian/libpcre2-8-0@10.42-1?upstream=pcre2%4010.42-1&distro=debian-12",
            None,
        )
        .unwrap();
        assert_eq!(m.upstream, Some(("pcre2".to_string(), Some("10.42-1".to_string()))));
    }

    #[test]
    fn unknown_and_invalid_purls_are_told_apart() {
        assert_eq!(
            map("pkg:generic/openssl@3.0.0", None),
            Err(Unmapped::UnknownType("generic".into()))
        );
        assert_eq!(
            map("pkg:oci/alpine@sha256%3Aabc", None),
            Err(Unmapped::UnknownType("oci".into()))
        );
        for bad in [
            "",
            "npm/lodash@1",
            "pkg:",
            "pkg:npm",
            "pkg:/x",
            "pkg:maven/log4j-core@2.0",
            "pkg:pypi/%ff@1",
        ] {
            assert!(matches!(map(bad, None), Err(Unmapped::Invalid(_))), "{bad}");
        }
        assert!(matches!(
            map(&format!("pkg:npm/{}", "a".repeat(5000)), None),
            Err(Unmapped::Invalid(_))
        ));
    }

    #[test]
    fn hostile_purls_do_not_panic() {
        for s in [
            "pkg:@@@",
            "pkg:npm/@",
            "pkg:npm/@/",
            "pkg:deb/?distro=",
            "pkg:a/b?=&=&",
            "pkg:rpm/x/y#/../..",
            "pkg:é/ü@ß?ä=ö",
        ] {
            let _ = map(s, None);
        }
        assert_eq!(pep503("  Foo__Bar..baz-"), "foo-bar-baz-");
    }

    #[test]
    fn os_names_from_sbom_tools_map_to_distros() {
        assert_eq!(distro_from_name("debian"), Some(Distro::Debian));
        assert_eq!(distro_from_name("redhat"), Some(Distro::RedHat));
        assert_eq!(distro_from_name("amazon"), Some(Distro::AmazonLinux));
        assert_eq!(distro_from_name("amzn"), Some(Distro::AmazonLinux));
        assert_eq!(distro_from_name("alma"), Some(Distro::AlmaLinux));
        assert_eq!(distro_from_name("plan9"), None);
        assert_eq!(distro_ecosystem(Distro::Ubuntu, "22.04.4").as_str(), "Ubuntu:22.04");
        assert_eq!(distro_ecosystem(Distro::Debian, "12.5").as_str(), "Debian:12");
    }
}
