//! Alpine (and Wolfi / Chainguard) packages from the apk database `/lib/apk/db/installed`.

use argus_proto::{Distro, Package, PackageManager};

use super::os_release::os_context;
use super::{ExtractInput, ExtractOutput, ExtractResult, Extractor};

const INSTALLED: &str = "/lib/apk/db/installed";

pub struct Apk;

impl Extractor for Apk {
    fn name(&self) -> &'static str {
        "apk"
    }

    fn wants(&self, path: &str) -> bool {
        path == INSTALLED
    }

    fn extract(&self, input: &ExtractInput<'_>) -> ExtractResult {
        let text = String::from_utf8_lossy(input.data);
        let ctx = os_context(input.os, Distro::Alpine);
        let mut out = ExtractOutput::default();
        out.warnings.extend(ctx.warning.clone());

        let mut lines = text.lines().map(|l| l.strip_suffix('\r').unwrap_or(l)).peekable();
        let mut number = 0usize;
        loop {
            while lines.peek().is_some_and(|l| l.trim().is_empty()) {
                lines.next();
            }
            if lines.peek().is_none() {
                break;
            }
            number += 1;
            let mut record = Record::default();
            let mut bad_lines = 0usize;
            while let Some(line) = lines.next_if(|l| !l.trim().is_empty()) {
                // Every line is one letter, a colon and the value.
                let mut chars = line.chars();
                match (chars.next(), chars.next()) {
                    (Some(key), Some(':')) => record.set(key, chars.as_str().trim()),
                    _ => bad_lines += 1,
                }
            }
            if bad_lines > 0 {
                out.warnings
                    .push(format!("record {number}: {bad_lines} malformed line(s) ignored"));
            }
            let Some(name) = record.name.filter(|n| !n.is_empty()) else {
                out.warnings
                    .push(format!("record {number}: no package name (P:); skipped"));
                continue;
            };
            let Some(version) = record.version.filter(|v| !v.is_empty()) else {
                out.warnings
                    .push(format!("record {number} ({name}): no version (V:); skipped"));
                continue;
            };
            let arch = record.arch.filter(|a| !a.is_empty());
            let purl = crate::purl::purl(
                "apk",
                Some(&ctx.namespace),
                name,
                version,
                &[("arch", arch.unwrap_or("")), ("distro", &ctx.distro_qualifier)],
            );
            out.packages.push(Package {
                name: name.to_string(),
                version: version.to_string(),
                ecosystem: ctx.ecosystem.clone(),
                package_manager: PackageManager::Apk,
                purl,
                file_path: input.path.to_string(),
                layer_digest: None,
                source_name: record
                    .origin
                    .filter(|o| !o.is_empty() && *o != name)
                    .map(str::to_string),
                source_version: None,
                epoch: None,
                release: pkgrel(version).map(str::to_string),
                arch: arch.map(str::to_string),
            });
        }
        Ok(out)
    }
}

#[derive(Default)]
struct Record<'a> {
    name: Option<&'a str>,
    version: Option<&'a str>,
    arch: Option<&'a str>,
    origin: Option<&'a str>,
}

impl<'a> Record<'a> {
    fn set(&mut self, key: char, value: &'a str) {
        match key {
            'P' => self.name = Some(value),
            'V' => self.version = Some(value),
            'A' => self.arch = Some(value),
            'o' => self.origin = Some(value),
            _ => {}
        }
    }
}

/// The package release of an apk version: `1.2.5-r0` → `r0`.
fn pkgrel(version: &str) -> Option<&str> {
    let (_, rel) = version.rsplit_once('-')?;
    let digits = rel.strip_prefix('r')?;
    (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())).then_some(rel)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Limits;
    use argus_proto::{Ecosystem, OsInfo};

    fn alpine() -> OsInfo {
        OsInfo {
            distro: Some(Distro::Alpine),
            id: "alpine".into(),
            version_id: "3.20.3".into(),
            pretty_name: "Alpine Linux v3.20".into(),
            ecosystem: Some(Ecosystem("Alpine:v3.20".into())),
        }
    }

    fn run(data: &str, os: Option<&OsInfo>) -> ExtractOutput {
        let limits = Limits::default();
        Apk.extract(&ExtractInput {
            path: INSTALLED,
            data: data.as_bytes(),
            os,
            limits: &limits,
        })
        .unwrap()
    }

    const DB: &str = "\
C:Q1aAXqQ8GwaGDOYXcW3RQwY5mnzVE=
P:musl
V:1.2.5-r0
A:x86_64
S:411760
I:663552
T:the musl c library (libc) implementation
U:https://musl.libc.org/
L:MIT
o:musl
m:Natanael Copa <ncopa@alpinelinux.org>
t:1712259025
c:4fe5bb69e5d2cc2c2d4c1da68a44e11f08f1a2a2
p:so:libc.musl-x86_64.so.1=1
F:lib
R:ld-musl-x86_64.so.1
a:0:0:755
Z:Q1WrbyNdUnY5SqxL3vHLbB+yYmNvE=

C:Q1Fwv2XbUa8hbsqZ7YlrY7gXBdrBo=
P:libcrypto3
V:3.3.2-r0
A:x86_64
o:openssl
F:usr/lib
R:libcrypto.so.3

C:Q1xyz=
P:busybox-binsh
V:1.36.1-r29
A:x86_64
o:busybox
";

    #[test]
    fn installed_db_yields_packages_with_origin_and_arch() {
        let os = alpine();
        let out = run(DB, Some(&os));
        assert!(out.warnings.is_empty(), "{:?}", out.warnings);
        assert_eq!(out.packages.len(), 3);

        let musl = &out.packages[0];
        assert_eq!((musl.name.as_str(), musl.version.as_str()), ("musl", "1.2.5-r0"));
        assert_eq!(musl.ecosystem.as_str(), "Alpine:v3.20");
        assert_eq!(musl.package_manager, PackageManager::Apk);
        assert_eq!(musl.source_name, None);
        assert_eq!(musl.release.as_deref(), Some("r0"));
        assert_eq!(musl.arch.as_deref(), Some("x86_64"));
        assert_eq!(musl.file_path, INSTALLED);
        assert_eq!(
            musl.purl,
            "pkg:apk/alpine/musl@1.2.5-r0?arch=x86_64&distro=alpine-3.20.3"
        );

        let crypto = &out.packages[1];
        assert_eq!(crypto.source_name.as_deref(), Some("openssl"));
        assert_eq!(
            crypto.purl,
            "pkg:apk/alpine/libcrypto3@3.3.2-r0?arch=x86_64&distro=alpine-3.20.3"
        );
        assert_eq!(out.packages[2].release.as_deref(), Some("r29"));
    }

    #[test]
    fn wolfi_takes_namespace_and_ecosystem_from_os() {
        let wolfi = OsInfo {
            distro: Some(Distro::Wolfi),
            id: "wolfi".into(),
            version_id: "20230201".into(),
            pretty_name: "Wolfi".into(),
            ecosystem: Some(Ecosystem("Wolfi".into())),
        };
        let out = run("P:glibc\nV:2.40-r3\nA:aarch64\no:glibc\n", Some(&wolfi));
        let p = &out.packages[0];
        assert_eq!(p.ecosystem.as_str(), "Wolfi");
        assert_eq!(p.purl, "pkg:apk/wolfi/glibc@2.40-r3?arch=aarch64&distro=wolfi-20230201");
    }

    #[test]
    fn missing_os_assumes_alpine_with_one_warning() {
        let out = run(DB, None);
        assert_eq!(out.packages.len(), 3);
        assert!(out.packages.iter().all(|p| p.ecosystem.as_str() == "Alpine"));
        assert_eq!(out.packages[0].purl, "pkg:apk/alpine/musl@1.2.5-r0?arch=x86_64");
        assert_eq!(
            out.warnings,
            ["no operating system release file found; assuming the Alpine ecosystem"]
        );
    }

    #[test]
    fn crlf_and_repeated_blank_lines_are_tolerated() {
        let text = DB.replace('\n', "\r\n").replace("\r\n\r\n", "\r\n\r\n  \r\n\r\n");
        let os = alpine();
        let out = run(&text, Some(&os));
        assert_eq!(out.packages, run(DB, Some(&os)).packages);
        assert!(out.warnings.is_empty(), "{:?}", out.warnings);
    }

    #[test]
    fn records_without_name_or_version_warn_and_the_rest_is_read() {
        let text =
            "V:1.0-r0\nA:x86_64\n\nP:noversion\nA:x86_64\n\nP:weird\nV:2.0-r1\nthis is not a field\n:\n\nP:ok\nV:3.0\n";
        let out = run(text, Some(&alpine()));
        let got: Vec<(&str, &str)> = out
            .packages
            .iter()
            .map(|p| (p.name.as_str(), p.version.as_str()))
            .collect();
        assert_eq!(got, [("weird", "2.0-r1"), ("ok", "3.0")]);
        assert_eq!(out.packages[1].release, None);
        assert_eq!(
            out.warnings,
            [
                "record 1: no package name (P:); skipped",
                "record 2 (noversion): no version (V:); skipped",
                "record 3: 2 malformed line(s) ignored",
            ]
        );
    }

    #[test]
    fn wants_only_the_installed_database() {
        assert!(Apk.wants("/lib/apk/db/installed"));
        assert!(!Apk.wants("/lib/apk/db/installed.new"));
        assert!(!Apk.wants("/lib/apk/db/triggers"));
        assert!(!Apk.wants("/usr/lib/apk/db/installed"));
    }

    #[test]
    fn hostile_input_does_not_panic() {
        let limits = Limits::default();
        let inputs: Vec<Vec<u8>> = vec![
            vec![],
            b"\xff\xfe\x00P:\xc3\nV:\x80".to_vec(),
            b"P\nV\n".to_vec(),
            "P:\u{e9}\u{e9}\nV:-r\n".as_bytes().to_vec(),
            "\u{e9}:x\n".repeat(1000).into_bytes(),
        ];
        for data in &inputs {
            let input = ExtractInput {
                path: INSTALLED,
                data,
                os: None,
                limits: &limits,
            };
            assert!(Apk.extract(&input).is_ok());
        }
        assert_eq!(pkgrel("1.0-r"), None);
        assert_eq!(pkgrel("1.0-rc1"), None);
        assert_eq!(pkgrel("1.0"), None);
    }
}
