//! Debian and Ubuntu packages from the dpkg database: `/var/lib/dpkg/status`, and the
//! per-package files under `/var/lib/dpkg/status.d/` that distroless images carry instead.

use argus_proto::{Distro, Package, PackageManager};

use super::os_release::os_context;
use super::{ExtractInput, ExtractOutput, ExtractResult, Extractor};

const STATUS: &str = "/var/lib/dpkg/status";
const STATUS_D: &str = "/var/lib/dpkg/status.d/";

pub struct Dpkg;

impl Extractor for Dpkg {
    fn name(&self) -> &'static str {
        "dpkg"
    }

    fn wants(&self, path: &str) -> bool {
        if path == STATUS {
            return true;
        }
        match path.strip_prefix(STATUS_D) {
            Some(name) => !name.is_empty() && !name.contains('/') && !name.ends_with(".md5sums"),
            None => false,
        }
    }

    fn extract(&self, input: &ExtractInput<'_>) -> ExtractResult {
        let text = String::from_utf8_lossy(input.data);
        // status.d files are written by image builders that record installed packages only and
        // leave the Status field out.
        let status_required = !input.path.starts_with(STATUS_D);
        let ctx = os_context(input.os, Distro::Debian);
        let mut out = ExtractOutput::default();
        out.warnings.extend(ctx.warning.clone());

        for (index, stanza) in stanzas(&text).enumerate() {
            let number = index + 1;
            let fields = match Fields::parse(stanza) {
                Ok(f) => f,
                Err(e) => {
                    out.warnings.push(format!("stanza {number}: {e}; skipped"));
                    continue;
                }
            };
            let Some(name) = fields.package.filter(|n| !n.is_empty()) else {
                out.warnings.push(format!("stanza {number}: no Package field; skipped"));
                continue;
            };
            match fields.status {
                Some(status) if !is_installed(status) => continue,
                None if status_required => {
                    out.warnings
                        .push(format!("stanza {number} ({name}): no Status field; skipped"));
                    continue;
                }
                _ => {}
            }
            let Some(version) = fields.version.filter(|v| !v.is_empty()) else {
                out.warnings
                    .push(format!("stanza {number} ({name}): no Version field; skipped"));
                continue;
            };
            let (epoch, revision) = split_version(version);
            if version.contains(':') && epoch.is_none() {
                out.warnings.push(format!(
                    "stanza {number} ({name}): epoch of version {version:?} is not a number"
                ));
            }
            let (source_name, source_version) = match fields.source {
                Some(source) => parse_source(source),
                None => (None, None),
            };
            let source_name = source_name.filter(|s| s != name);
            let source_version = source_version.filter(|v| v != version);
            let arch = fields.architecture.filter(|a| !a.is_empty());
            let purl = crate::purl::purl(
                "deb",
                Some(&ctx.namespace),
                name,
                version,
                &[("arch", arch.unwrap_or("")), ("distro", &ctx.distro_qualifier)],
            );
            out.packages.push(Package {
                name: name.to_string(),
                version: version.to_string(),
                ecosystem: ctx.ecosystem.clone(),
                package_manager: PackageManager::Dpkg,
                purl,
                file_path: input.path.to_string(),
                layer_digest: None,
                source_name,
                source_version,
                epoch,
                release: revision.map(str::to_string),
                arch: arch.map(str::to_string),
            });
        }
        Ok(out)
    }
}

/// Splits the file into stanzas: runs of lines separated by blank (or whitespace-only) lines.
fn stanzas(text: &str) -> impl Iterator<Item = Vec<&str>> {
    let mut lines = text.lines().map(|l| l.strip_suffix('\r').unwrap_or(l)).peekable();
    std::iter::from_fn(move || {
        while lines.peek().is_some_and(|l| l.trim().is_empty()) {
            lines.next();
        }
        let mut stanza = Vec::new();
        while let Some(line) = lines.next_if(|l| !l.trim().is_empty()) {
            stanza.push(line);
        }
        if stanza.is_empty() {
            None
        } else {
            Some(stanza)
        }
    })
}

/// The fields of one stanza that make up a package; all others (and continuation lines of
/// multi-line fields such as Description) are passed over.
#[derive(Default)]
struct Fields<'a> {
    package: Option<&'a str>,
    version: Option<&'a str>,
    architecture: Option<&'a str>,
    source: Option<&'a str>,
    status: Option<&'a str>,
}

impl<'a> Fields<'a> {
    fn parse(lines: Vec<&'a str>) -> Result<Self, String> {
        let mut f = Fields::default();
        for (i, line) in lines.iter().enumerate() {
            if line.starts_with([' ', '\t']) {
                if i == 0 {
                    return Err("continuation line before any field".into());
                }
                continue;
            }
            let Some((key, value)) = line.split_once(':') else {
                return Err(format!("line {:?} is not a field", truncate(line)));
            };
            let value = value.trim();
            let slot = match key.trim().to_ascii_lowercase().as_str() {
                "package" => &mut f.package,
                "version" => &mut f.version,
                "architecture" => &mut f.architecture,
                "source" => &mut f.source,
                "status" => &mut f.status,
                _ => continue,
            };
            *slot = Some(value);
        }
        Ok(f)
    }
}

fn truncate(line: &str) -> &str {
    match line.char_indices().nth(60) {
        Some((at, _)) => &line[..at],
        None => line,
    }
}

/// `Status: <want> <flag> <status>`. Packages still removed or half unpacked are not on disk as
/// a version; a package waiting on triggers is fully unpacked and configured.
fn is_installed(status: &str) -> bool {
    matches!(
        status.split_whitespace().nth(2),
        Some("installed" | "triggers-pending" | "triggers-awaited")
    )
}

/// `[epoch:]upstream[-revision]` → (epoch, revision).
fn split_version(version: &str) -> (Option<u32>, Option<&str>) {
    let (epoch, rest) = match version.split_once(':') {
        Some((e, rest)) => (e.parse::<u32>().ok(), rest),
        None => (None, version),
    };
    let revision = rest.rsplit_once('-').map(|(_, r)| r).filter(|r| !r.is_empty());
    (epoch, revision)
}

/// `Source: openssl (3.0.11-1~deb12u2)` → name and version; `Source: openssl` → name only.
fn parse_source(source: &str) -> (Option<String>, Option<String>) {
    let (name, version) = match source.split_once('(') {
        Some((name, rest)) => {
            let version = rest.split_once(')').map_or(rest, |(v, _)| v).trim();
            (name.trim(), Some(version).filter(|v| !v.is_empty()).map(str::to_string))
        }
        None => (source.trim(), None),
    };
    (Some(name).filter(|n| !n.is_empty()).map(str::to_string), version)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Limits;
    use argus_proto::{Ecosystem, OsInfo};

    fn debian12() -> OsInfo {
        OsInfo {
            distro: Some(Distro::Debian),
            id: "debian".into(),
            version_id: "12".into(),
            pretty_name: "Debian GNU/Linux 12 (bookworm)".into(),
            ecosystem: Some(Ecosystem("Debian:12".into())),
        }
    }

    fn ubuntu2204() -> OsInfo {
        OsInfo {
            distro: Some(Distro::Ubuntu),
            id: "ubuntu".into(),
            version_id: "22.04".into(),
            pretty_name: "Ubuntu 22.04.4 LTS".into(),
            ecosystem: Some(Ecosystem("Ubuntu:22.04".into())),
        }
    }

    fn run(path: &str, data: &str, os: Option<&OsInfo>) -> ExtractOutput {
        let limits = Limits::default();
        Dpkg.extract(&ExtractInput {
            path,
            data: data.as_bytes(),
            os,
            limits: &limits,
        })
        .unwrap()
    }

    const STATUS_FILE: &str = "\
Package: libssl3
Status: install ok installed
Priority: optional
Section: libs
Installed-Size: 6123
Maintainer: Debian OpenSSL Team <pkg-openssl-devel@alioth-lists.debian.net>
Architecture: amd64
Multi-Arch: same
Source: openssl (3.0.11-1~deb12u2)
Version: 3.0.13-1~deb12u1
Depends: libc6 (>= 2.34)
Description: Secure Sockets Layer toolkit - shared libraries
 This package is part of the OpenSSL project's implementation of the SSL
 and TLS cryptographic protocols for secure communication over the
 Internet.
 .
 It provides the libssl and libcrypto shared libraries.

Package: login
Status: install ok installed
Architecture: amd64
Source: shadow
Version: 1:4.13+dfsg1-1+b1
Description: system login tools

Package: removed-pkg
Status: deinstall ok config-files
Architecture: amd64
Version: 1.0-1

Package: half
Status: install reinstreq half-installed
Architecture: amd64
Version: 2.0-1

Package: base-files
Status: hold ok installed
Architecture: amd64
Version: 12.4+deb12u5
";

    #[test]
    fn status_file_yields_installed_packages_with_source_and_epoch() {
        let os = debian12();
        let out = run(STATUS, STATUS_FILE, Some(&os));
        assert!(out.warnings.is_empty(), "{:?}", out.warnings);
        let names: Vec<&str> = out.packages.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["libssl3", "login", "base-files"]);

        let ssl = &out.packages[0];
        assert_eq!(ssl.version, "3.0.13-1~deb12u1");
        assert_eq!(ssl.ecosystem.as_str(), "Debian:12");
        assert_eq!(ssl.package_manager, PackageManager::Dpkg);
        assert_eq!(ssl.source_name.as_deref(), Some("openssl"));
        assert_eq!(ssl.source_version.as_deref(), Some("3.0.11-1~deb12u2"));
        assert_eq!(ssl.epoch, None);
        assert_eq!(ssl.release.as_deref(), Some("1~deb12u1"));
        assert_eq!(ssl.arch.as_deref(), Some("amd64"));
        assert_eq!(ssl.file_path, STATUS);
        assert_eq!(ssl.layer_digest, None);
        assert_eq!(
            ssl.purl,
            "pkg:deb/debian/libssl3@3.0.13-1~deb12u1?arch=amd64&distro=debian-12"
        );

        let login = &out.packages[1];
        assert_eq!(login.version, "1:4.13+dfsg1-1+b1");
        assert_eq!(login.epoch, Some(1));
        assert_eq!(login.release.as_deref(), Some("1+b1"));
        assert_eq!(login.source_name.as_deref(), Some("shadow"));
        assert_eq!(login.source_version, None);
        assert_eq!(
            login.purl,
            "pkg:deb/debian/login@1:4.13%2Bdfsg1-1%2Bb1?arch=amd64&distro=debian-12"
        );

        let base = &out.packages[2];
        assert_eq!(base.release, None);
        assert_eq!(base.source_name, None);
    }

    #[test]
    fn source_equal_to_package_is_not_repeated() {
        let text = "Package: bash\nStatus: install ok installed\nSource: bash (5.2.15-2)\nVersion: 5.2.15-2+b2\nArchitecture: amd64\n\nPackage: zlib1g\nStatus: install ok installed\nSource: zlib\nVersion: 1:1.2.13.dfsg-1\n";
        let out = run(STATUS, text, Some(&debian12()));
        let bash = &out.packages[0];
        assert_eq!(
            (bash.source_name.as_deref(), bash.source_version.as_deref()),
            (None, Some("5.2.15-2"))
        );
        let zlib = &out.packages[1];
        assert_eq!(
            (zlib.source_name.as_deref(), zlib.arch.as_deref()),
            (Some("zlib"), None)
        );
        assert_eq!(zlib.purl, "pkg:deb/debian/zlib1g@1:1.2.13.dfsg-1?distro=debian-12");
    }

    #[test]
    fn triggers_pending_counts_as_installed() {
        let text = "Package: man-db\nStatus: install ok triggers-pending\nVersion: 2.11.2-2\n\nPackage: x\nStatus: install ok unpacked\nVersion: 1\n";
        let out = run(STATUS, text, Some(&debian12()));
        assert_eq!(out.packages.len(), 1);
        assert_eq!(out.packages[0].name, "man-db");
    }

    #[test]
    fn ubuntu_os_gives_ubuntu_namespace_and_ecosystem() {
        let text = "Package: libc6\nStatus: install ok installed\nArchitecture: arm64\nSource: glibc\nVersion: 2.35-0ubuntu3.7\n";
        let out = run(STATUS, text, Some(&ubuntu2204()));
        let p = &out.packages[0];
        assert_eq!(p.ecosystem.as_str(), "Ubuntu:22.04");
        assert_eq!(
            p.purl,
            "pkg:deb/ubuntu/libc6@2.35-0ubuntu3.7?arch=arm64&distro=ubuntu-22.04"
        );
    }

    #[test]
    fn distroless_status_d_files_have_no_status_field() {
        let text = "Package: libssl3\nVersion: 3.0.11-1~deb12u2\nArchitecture: amd64\nSource: openssl\nMaintainer: x\n";
        let out = run("/var/lib/dpkg/status.d/libssl3", text, Some(&debian12()));
        assert!(out.warnings.is_empty(), "{:?}", out.warnings);
        assert_eq!(out.packages.len(), 1);
        assert_eq!(out.packages[0].file_path, "/var/lib/dpkg/status.d/libssl3");
        // The main status file must say a package is installed.
        let out = run(STATUS, text, Some(&debian12()));
        assert!(out.packages.is_empty());
        assert_eq!(out.warnings, ["stanza 1 (libssl3): no Status field; skipped"]);
    }

    #[test]
    fn wants_status_and_status_d_entries_but_not_md5sums() {
        assert!(Dpkg.wants("/var/lib/dpkg/status"));
        assert!(Dpkg.wants("/var/lib/dpkg/status.d/base-files"));
        assert!(Dpkg.wants("/var/lib/dpkg/status.d/libssl3"));
        assert!(!Dpkg.wants("/var/lib/dpkg/status.d/libssl3.md5sums"));
        assert!(!Dpkg.wants("/var/lib/dpkg/status.d/"));
        assert!(!Dpkg.wants("/var/lib/dpkg/status.d/sub/file"));
        assert!(!Dpkg.wants("/var/lib/dpkg/status-old"));
        assert!(!Dpkg.wants("/var/lib/dpkg/available"));
        assert!(!Dpkg.wants("/usr/var/lib/dpkg/status"));
    }

    #[test]
    fn crlf_and_extra_blank_lines_are_tolerated() {
        let text = STATUS_FILE
            .replace('\n', "\r\n")
            .replace("\r\n\r\n", "\r\n \r\n\r\n\t\r\n");
        let out = run(STATUS, &text, Some(&debian12()));
        let lf = run(STATUS, STATUS_FILE, Some(&debian12()));
        assert_eq!(out.packages, lf.packages);
        assert!(out.warnings.is_empty(), "{:?}", out.warnings);
    }

    #[test]
    fn missing_os_assumes_debian_with_one_warning() {
        let out = run(STATUS, STATUS_FILE, None);
        assert_eq!(out.packages.len(), 3);
        assert!(out.packages.iter().all(|p| p.ecosystem.as_str() == "Debian"));
        assert_eq!(
            out.packages[0].purl,
            "pkg:deb/debian/libssl3@3.0.13-1~deb12u1?arch=amd64"
        );
        assert_eq!(
            out.warnings,
            ["no operating system release file found; assuming the Debian ecosystem"]
        );
    }

    #[test]
    fn broken_stanzas_warn_and_the_rest_is_read() {
        // A string continuation would eat the leading space, hence the explicit first line.
        let text = " continuation first\n\
Package: a

Package: no-version
Status: install ok installed

Status: install ok installed
Version: 1.0

Package: bad-line
this line has no colon
Version: 1

Package: bad-epoch
Status: install ok installed
Version: x:1.0-1

Package: good
Status: install ok installed
Version: 2.0
";
        let out = run(STATUS, text, Some(&debian12()));
        let names: Vec<&str> = out.packages.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["bad-epoch", "good"]);
        assert_eq!(out.packages[0].epoch, None);
        assert_eq!(
            out.warnings,
            [
                "stanza 1: continuation line before any field; skipped",
                "stanza 2 (no-version): no Version field; skipped",
                "stanza 3: no Package field; skipped",
                "stanza 4: line \"this line has no colon\" is not a field; skipped",
                "stanza 5 (bad-epoch): epoch of version \"x:1.0-1\" is not a number",
            ]
        );
    }

    #[test]
    fn hostile_input_does_not_panic() {
        let limits = Limits::default();
        let inputs: Vec<Vec<u8>> = vec![
            vec![],
            b"\xff\xfe\x00\x01Package: \xc3\n".to_vec(),
            b"Package:\nVersion:\nStatus:\n".to_vec(),
            b"Source: (\nPackage: a\nVersion: 1\nStatus: i o installed\n".to_vec(),
            b"Package: a\nVersion: 99999999999999999999:1\nStatus: install ok installed\n".to_vec(),
            format!(
                "Package: {}\nStatus: install ok installed\nVersion: -\n",
                "\u{e9}".repeat(500)
            )
            .into_bytes(),
            "\n".repeat(10_000).into_bytes(),
        ];
        for data in &inputs {
            let input = ExtractInput {
                path: STATUS,
                data,
                os: None,
                limits: &limits,
            };
            assert!(Dpkg.extract(&input).is_ok());
        }
        let out = run(
            STATUS,
            "Source: (\nPackage: a\nVersion: 1\nStatus: i o installed\n",
            None,
        );
        assert_eq!(out.packages[0].source_name, None);
        let out = run(
            STATUS,
            "Package: a\nVersion: 99999999999999999999:1\nStatus: i o installed\n",
            None,
        );
        assert_eq!(
            (out.packages[0].version.as_str(), out.packages[0].epoch),
            ("99999999999999999999:1", None)
        );
    }

    #[test]
    fn split_version_and_source_helpers() {
        assert_eq!(split_version("1:2.3-4"), (Some(1), Some("4")));
        assert_eq!(split_version("2.3-4-5"), (None, Some("5")));
        assert_eq!(split_version("2.3"), (None, None));
        assert_eq!(split_version("2.3-"), (None, None));
        assert_eq!(
            parse_source("openssl (3.0.11-1)"),
            (Some("openssl".into()), Some("3.0.11-1".into()))
        );
        assert_eq!(
            parse_source("gcc-12 (12.2.0-14"),
            (Some("gcc-12".into()), Some("12.2.0-14".into()))
        );
        assert_eq!(parse_source("shadow"), (Some("shadow".into()), None));
        assert_eq!(parse_source("x ()"), (Some("x".into()), None));
    }
}
