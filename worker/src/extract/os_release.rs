//! Operating system detection: reads os-release (`/etc/os-release`, `/usr/lib/os-release`) and,
//! for images without one, the older release files (`/etc/alpine-release`,
//! `/etc/debian_version`, `/etc/redhat-release`, `/etc/system-release`). Also holds the helper
//! the OS package extractors share to turn the detected system into an ecosystem, a purl
//! namespace and a purl `distro` qualifier.

use argus_proto::{Distro, Ecosystem, OsInfo};

/// Paths that tell the operating system, most authoritative first.
pub const OS_FILES: &[&str] = &[
    "/etc/os-release",
    "/usr/lib/os-release",
    "/etc/alpine-release",
    "/etc/debian_version",
    "/etc/redhat-release",
    "/etc/system-release",
];

/// Parses any of the files in [`OS_FILES`] from its content alone.
///
/// os-release syntax is tried first, then the one-line `<name> release <version>` form of
/// redhat-release and system-release. A bare version line is ambiguous between alpine-release
/// and debian_version; it is read as Alpine when it looks like `3.<minor>.<patch>` or an Alpine
/// edge snapshot (`3.21_alpha20240807`), and as Debian when it is `<major>[.<minor>]` or
/// `<codename>/sid`. [`parse_at`] avoids the guess when the path is known.
pub fn parse(data: &[u8]) -> Option<OsInfo> {
    let text = std::str::from_utf8(data).ok()?;
    if let Some(info) = parse_os_release(text) {
        return Some(info);
    }
    if let Some(info) = parse_release_line(text) {
        return Some(info);
    }
    let line = first_line(text)?;
    if looks_like_alpine_release(line) {
        return parse_alpine_release(text);
    }
    if looks_like_debian_version(line) {
        return parse_debian_version(text);
    }
    None
}

/// Parses the file found at `path` (one of [`OS_FILES`]) by the syntax that path implies.
pub fn parse_at(path: &str, data: &[u8]) -> Option<OsInfo> {
    let text = std::str::from_utf8(data).ok()?;
    match path {
        "/etc/alpine-release" => parse_alpine_release(text),
        "/etc/debian_version" => parse_debian_version(text),
        "/etc/redhat-release" | "/etc/system-release" => parse_release_line(text),
        _ => parse_os_release(text),
    }
}

/// Ecosystem, purl namespace and purl `distro` qualifier for an OS package extractor.
pub(crate) struct OsContext {
    pub ecosystem: Ecosystem,
    pub namespace: String,
    /// `debian-12`, `alpine-3.20.3`; empty when the release is unknown.
    pub distro_qualifier: String,
    /// Set when no operating system was detected and `default` was assumed.
    pub warning: Option<String>,
}

/// Derives the [`OsContext`] from the detected system, assuming `default` (with a warning) when
/// nothing was detected, since the package database itself proves which family it is.
pub(crate) fn os_context(os: Option<&OsInfo>, default: Distro) -> OsContext {
    let Some(os) = os else {
        return OsContext {
            ecosystem: Ecosystem(default.osv_name().into()),
            namespace: default.purl_namespace().into(),
            distro_qualifier: String::new(),
            warning: Some(format!(
                "no operating system release file found; assuming the {} ecosystem",
                default.osv_name()
            )),
        };
    };
    let namespace = match os.distro {
        Some(d) => d.purl_namespace().to_string(),
        None if !os.id.trim().is_empty() => os.id.trim().to_ascii_lowercase(),
        None => default.purl_namespace().to_string(),
    };
    let ecosystem = os
        .ecosystem
        .clone()
        .unwrap_or_else(|| Ecosystem(os.distro.unwrap_or(default).osv_name().into()));
    let version = os.version_id.trim();
    let distro_qualifier = if version.is_empty() {
        String::new()
    } else {
        format!("{namespace}-{version}")
    };
    OsContext {
        ecosystem,
        namespace,
        distro_qualifier,
        warning: None,
    }
}

/// Longest line considered; real release files have short lines, and this bounds the work on
/// a hostile one.
const MAX_LINE: usize = 4096;

fn first_line(text: &str) -> Option<&str> {
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .filter(|l| l.len() <= MAX_LINE)
}

fn parse_os_release(text: &str) -> Option<OsInfo> {
    let mut id = None;
    let mut id_like = None;
    let mut version_id = None;
    let mut pretty_name = None;
    let mut name = None;
    let mut codename = None;
    let mut ubuntu_codename = None;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.len() > MAX_LINE {
            continue;
        }
        let Some((key, raw)) = line.split_once('=') else {
            continue;
        };
        let key = key.trim();
        if key.is_empty() || !key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            continue;
        }
        let value = unquote(raw.trim());
        match key {
            "ID" => id = Some(value),
            "ID_LIKE" => id_like = Some(value),
            "VERSION_ID" => version_id = Some(value),
            "PRETTY_NAME" => pretty_name = Some(value),
            "NAME" => name = Some(value),
            "VERSION_CODENAME" => codename = Some(value),
            "UBUNTU_CODENAME" => ubuntu_codename = Some(value),
            _ => {}
        }
    }
    // Without ID the content is not os-release; let the caller try the next file.
    let id = id.filter(|i| !i.is_empty())?.to_ascii_lowercase();
    let version_id = version_id.unwrap_or_default();
    let pretty_name = pretty_name.or(name).unwrap_or_else(|| id.clone());

    if let Some(distro) = Distro::from_os_release_id(&id) {
        let mut eco_version = release_for_ecosystem(distro, &version_id).to_string();
        if distro == Distro::Debian && eco_version.is_empty() {
            // Debian testing and sid carry no VERSION_ID; the codename names the coming release.
            let name = codename
                .clone()
                .filter(|c| !c.is_empty())
                .or_else(|| codename_in_pretty_name(&pretty_name));
            eco_version = name.and_then(|c| debian_release_of(&c)).unwrap_or_default().to_string();
        }
        return Some(OsInfo {
            distro: Some(distro),
            id,
            version_id,
            pretty_name,
            ecosystem: Some(Ecosystem::for_distro(distro, &eco_version)),
        });
    }

    // A derivative: its VERSION_ID is its own, not its parent's, so the parent's release is
    // only named when a codename says which one it is built on.
    let parent = id_like
        .as_deref()
        .unwrap_or("")
        .split_whitespace()
        .find_map(Distro::from_os_release_id);
    let ecosystem = parent.map(|d| {
        let release = match d {
            Distro::Ubuntu => ubuntu_codename.as_deref().and_then(ubuntu_release_of),
            Distro::Debian => codename.as_deref().and_then(debian_release_of),
            _ => None,
        };
        Ecosystem::for_distro(d, release.unwrap_or(""))
    });
    Some(OsInfo {
        distro: parent,
        id,
        version_id,
        pretty_name,
        ecosystem,
    })
}

/// Removes shell-style quoting from an os-release value: `"..."` with backslash escapes,
/// `'...'` literally, or a bare word.
fn unquote(raw: &str) -> String {
    let mut chars = raw.chars();
    match chars.next() {
        Some('"') => {
            let mut out = String::new();
            let mut escaped = false;
            for c in chars {
                if escaped {
                    // Only these are escapes inside double quotes; elsewhere the backslash stays.
                    if !matches!(c, '"' | '\\' | '$' | '`') {
                        out.push('\\');
                    }
                    out.push(c);
                    escaped = false;
                } else if c == '\\' {
                    escaped = true;
                } else if c == '"' {
                    break;
                } else {
                    out.push(c);
                }
            }
            out
        }
        Some('\'') => chars.take_while(|c| *c != '\'').collect(),
        _ => {
            let mut out = String::new();
            let mut escaped = false;
            for c in raw.chars() {
                if escaped {
                    out.push(c);
                    escaped = false;
                } else if c == '\\' {
                    escaped = true;
                } else if c.is_whitespace() || c == '#' {
                    break;
                } else {
                    out.push(c);
                }
            }
            out
        }
    }
}

/// Alpine edge snapshots (`3.21_alpha20240807`) name the coming minor release before the `_`.
fn release_for_ecosystem(distro: Distro, version_id: &str) -> &str {
    match distro {
        Distro::Alpine => version_id.split('_').next().unwrap_or(version_id),
        _ => version_id,
    }
}

/// `Debian GNU/Linux trixie/sid` → `trixie`.
fn codename_in_pretty_name(pretty: &str) -> Option<String> {
    let last = pretty.split_whitespace().last()?;
    let (name, _) = last.split_once('/')?;
    Some(name.to_ascii_lowercase())
}

fn debian_release_of(codename: &str) -> Option<&'static str> {
    Some(match codename.trim().to_ascii_lowercase().as_str() {
        "jessie" => "8",
        "stretch" => "9",
        "buster" => "10",
        "bullseye" => "11",
        "bookworm" => "12",
        "trixie" => "13",
        "forky" => "14",
        "duke" => "15",
        _ => return None,
    })
}

fn ubuntu_release_of(codename: &str) -> Option<&'static str> {
    Some(match codename.trim().to_ascii_lowercase().as_str() {
        "xenial" => "16.04",
        "bionic" => "18.04",
        "focal" => "20.04",
        "jammy" => "22.04",
        "kinetic" => "22.10",
        "lunar" => "23.04",
        "mantic" => "23.10",
        "noble" => "24.04",
        "oracular" => "24.10",
        "plucky" => "25.04",
        "questing" => "25.10",
        _ => return None,
    })
}

/// `Red Hat Enterprise Linux release 9.3 (Plow)`, `Amazon Linux release 2023 (Amazon Linux)`.
fn parse_release_line(text: &str) -> Option<OsInfo> {
    let line = first_line(text)?;
    let lower = line.to_ascii_lowercase();
    let at = lower.find(" release ")?;
    let product = &lower[..at];
    let version = line.get(at + " release ".len()..)?.split_whitespace().next()?;
    if !version.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    let id = if product.starts_with("red hat") {
        "rhel"
    } else if product.starts_with("centos") {
        "centos"
    } else if product.starts_with("rocky") {
        "rocky"
    } else if product.starts_with("almalinux") {
        "almalinux"
    } else if product.starts_with("amazon linux") {
        "amzn"
    } else if product.starts_with("fedora") {
        "fedora"
    } else if product.starts_with("oracle linux") {
        "ol"
    } else {
        return None;
    };
    let distro = Distro::from_os_release_id(id)?;
    // os-release gives CentOS 7 as `7` and Amazon Linux 2023 as `2023`, not the
    // `7.9.2009` / `2023.4.20240416` of their release files; Amazon Linux 1 keeps `2018.03`.
    let major = version.split('.').next().unwrap_or(version);
    let version_id = match distro {
        Distro::CentOs => major,
        Distro::AmazonLinux if major.len() == 4 && major >= "2022" => major,
        _ => version,
    };
    Some(OsInfo {
        distro: Some(distro),
        id: id.into(),
        version_id: version_id.into(),
        pretty_name: line.into(),
        ecosystem: Some(Ecosystem::for_distro(distro, version_id)),
    })
}

fn looks_like_alpine_release(line: &str) -> bool {
    let Some(rest) = line.strip_prefix("3.") else {
        return false;
    };
    let (numbers, suffix) = match rest.split_once('_') {
        Some((n, s)) => (n, Some(s)),
        None => (rest, None),
    };
    let parts: Vec<&str> = numbers.split('.').collect();
    let numeric = parts
        .iter()
        .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    // `3.20.3`, or an edge snapshot `3.21_alpha20240807`; a bare `3.1` is an old Debian.
    numeric && (parts.len() == 2 || (parts.len() <= 2 && suffix.is_some()))
}

fn looks_like_debian_version(line: &str) -> bool {
    if let Some((codename, suite)) = line.split_once('/') {
        return suite == "sid" && !codename.is_empty() && codename.bytes().all(|b| b.is_ascii_lowercase());
    }
    let mut parts = line.split('.');
    let major_ok = parts
        .next()
        .is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    let rest: Vec<&str> = parts.collect();
    major_ok
        && rest.len() <= 1
        && rest
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

fn parse_alpine_release(text: &str) -> Option<OsInfo> {
    let version = first_line(text)?;
    if !version.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    Some(OsInfo {
        distro: Some(Distro::Alpine),
        id: "alpine".into(),
        version_id: version.into(),
        pretty_name: format!("Alpine Linux {version}"),
        ecosystem: Some(Ecosystem::for_distro(
            Distro::Alpine,
            release_for_ecosystem(Distro::Alpine, version),
        )),
    })
}

fn parse_debian_version(text: &str) -> Option<OsInfo> {
    let line = first_line(text)?;
    let (version_id, release) = if let Some((codename, _)) = line.split_once('/') {
        (String::new(), debian_release_of(codename).unwrap_or("").to_string())
    } else {
        let major = line.split('.').next().unwrap_or("");
        if major.is_empty() || !major.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        (major.to_string(), major.to_string())
    };
    Some(OsInfo {
        distro: Some(Distro::Debian),
        id: "debian".into(),
        version_id,
        pretty_name: format!("Debian GNU/Linux {line}"),
        ecosystem: Some(Ecosystem::for_distro(Distro::Debian, &release)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eco(info: &OsInfo) -> &str {
        info.ecosystem.as_ref().map(|e| e.as_str()).unwrap_or("")
    }

    const DEBIAN_12: &str = r#"PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
HOME_URL="https://www.debian.org/"
"#;

    #[test]
    fn debian_os_release_gives_versioned_ecosystem() {
        let info = parse(DEBIAN_12.as_bytes()).unwrap();
        assert_eq!(info.distro, Some(Distro::Debian));
        assert_eq!(info.id, "debian");
        assert_eq!(info.version_id, "12");
        assert_eq!(info.pretty_name, "Debian GNU/Linux 12 (bookworm)");
        assert_eq!(eco(&info), "Debian:12");
    }

    #[test]
    fn debian_testing_without_version_id_takes_release_from_codename() {
        let text = "PRETTY_NAME=\"Debian GNU/Linux trixie/sid\"\nNAME=\"Debian GNU/Linux\"\nVERSION_CODENAME=trixie\nID=debian\n";
        let info = parse(text.as_bytes()).unwrap();
        assert_eq!(info.version_id, "");
        assert_eq!(eco(&info), "Debian:13");
        // Without a codename field the pretty name still names it.
        let text = "PRETTY_NAME=\"Debian GNU/Linux trixie/sid\"\nID=debian\n";
        assert_eq!(eco(&parse(text.as_bytes()).unwrap()), "Debian:13");
        // An unknown codename leaves the ecosystem unversioned rather than guessing.
        let text = "PRETTY_NAME=\"Debian GNU/Linux zzz/sid\"\nID=debian\n";
        assert_eq!(eco(&parse(text.as_bytes()).unwrap()), "Debian");
    }

    #[test]
    fn ubuntu_alpine_amazon_and_enterprise_linux_ecosystems() {
        let ubuntu = "NAME=\"Ubuntu\"\nVERSION=\"22.04.4 LTS (Jammy Jellyfish)\"\nID=ubuntu\nID_LIKE=debian\nPRETTY_NAME=\"Ubuntu 22.04.4 LTS\"\nVERSION_ID=\"22.04\"\nUBUNTU_CODENAME=jammy\n";
        let info = parse(ubuntu.as_bytes()).unwrap();
        assert_eq!((info.distro, eco(&info)), (Some(Distro::Ubuntu), "Ubuntu:22.04"));

        let alpine = "NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.20.3\nPRETTY_NAME=\"Alpine Linux v3.20\"\n";
        let info = parse(alpine.as_bytes()).unwrap();
        assert_eq!((info.version_id.as_str(), eco(&info)), ("3.20.3", "Alpine:v3.20"));

        let al2 = "NAME=\"Amazon Linux\"\nVERSION=\"2\"\nID=\"amzn\"\nID_LIKE=\"centos rhel fedora\"\nVERSION_ID=\"2\"\nPRETTY_NAME=\"Amazon Linux 2\"\n";
        assert_eq!(eco(&parse(al2.as_bytes()).unwrap()), "Amazon Linux:2");
        let al2023 = "NAME=\"Amazon Linux\"\nVERSION=\"2023\"\nID=\"amzn\"\nID_LIKE=\"fedora\"\nVERSION_ID=\"2023\"\n";
        assert_eq!(eco(&parse(al2023.as_bytes()).unwrap()), "Amazon Linux:2023");

        let rhel = "NAME=\"Red Hat Enterprise Linux\"\nVERSION=\"9.3 (Plow)\"\nID=\"rhel\"\nID_LIKE=\"fedora\"\nVERSION_ID=\"9.3\"\n";
        let info = parse(rhel.as_bytes()).unwrap();
        assert_eq!((info.distro, eco(&info)), (Some(Distro::RedHat), "Red Hat"));
        let rocky = "NAME=\"Rocky Linux\"\nID=\"rocky\"\nID_LIKE=\"rhel centos fedora\"\nVERSION_ID=\"9.3\"\n";
        assert_eq!(eco(&parse(rocky.as_bytes()).unwrap()), "Rocky Linux:9");
        let alma = "NAME=\"AlmaLinux\"\nID=\"almalinux\"\nID_LIKE=\"rhel centos fedora\"\nVERSION_ID=\"9.4\"\n";
        assert_eq!(eco(&parse(alma.as_bytes()).unwrap()), "AlmaLinux:9");
    }

    #[test]
    fn alpine_edge_snapshot_names_the_coming_minor_release() {
        let edge = "ID=alpine\nVERSION_ID=3.21_alpha20240807\n";
        assert_eq!(eco(&parse(edge.as_bytes()).unwrap()), "Alpine:v3.21");
    }

    #[test]
    fn derivative_takes_parent_from_id_like_without_borrowing_its_own_version() {
        let mint = "NAME=\"Linux Mint\"\nID=linuxmint\nID_LIKE=\"ubuntu debian\"\nVERSION_ID=\"21.2\"\nUBUNTU_CODENAME=jammy\n";
        let info = parse(mint.as_bytes()).unwrap();
        assert_eq!(info.distro, Some(Distro::Ubuntu));
        assert_eq!(info.id, "linuxmint");
        assert_eq!(info.version_id, "21.2");
        assert_eq!(eco(&info), "Ubuntu:22.04");

        let unknown_base = "ID=someos\nID_LIKE=\"debian\"\nVERSION_ID=\"5\"\n";
        assert_eq!(eco(&parse(unknown_base.as_bytes()).unwrap()), "Debian");

        let unrelated = "ID=gentoo\nNAME=Gentoo\n";
        let info = parse(unrelated.as_bytes()).unwrap();
        assert_eq!(
            (info.distro, info.ecosystem, info.pretty_name.as_str()),
            (None, None, "Gentoo")
        );
    }

    #[test]
    fn os_release_quotes_escapes_and_comments_are_honoured() {
        let text =
            "# comment\nID='debian'\nPRETTY_NAME=\"A \\\"quoted\\\" \\\\ name \\$x\"\nVERSION_ID=12 # trailing\n  \n";
        let info = parse(text.as_bytes()).unwrap();
        assert_eq!(info.id, "debian");
        assert_eq!(info.pretty_name, "A \"quoted\" \\ name $x");
        assert_eq!(info.version_id, "12");
        // CRLF files are read the same.
        let crlf = DEBIAN_12.replace('\n', "\r\n");
        assert_eq!(parse(crlf.as_bytes()), parse(DEBIAN_12.as_bytes()));
    }

    #[test]
    fn release_lines_of_enterprise_distributions() {
        let cases = [
            (
                "Red Hat Enterprise Linux release 9.3 (Plow)\n",
                "rhel",
                "9.3",
                "Red Hat",
            ),
            ("CentOS Linux release 7.9.2009 (Core)\n", "centos", "7", "Red Hat"),
            ("Rocky Linux release 9.3 (Blue Onyx)\n", "rocky", "9.3", "Rocky Linux:9"),
            (
                "AlmaLinux release 8.9 (Midnight Oncilla)\n",
                "almalinux",
                "8.9",
                "AlmaLinux:8",
            ),
            ("Amazon Linux release 2 (Karoo)\n", "amzn", "2", "Amazon Linux:2"),
            (
                "Amazon Linux release 2023.4.20240416 (Amazon Linux)\n",
                "amzn",
                "2023",
                "Amazon Linux:2023",
            ),
            (
                "Amazon Linux AMI release 2018.03\n",
                "amzn",
                "2018.03",
                "Amazon Linux:2018.03",
            ),
            ("Oracle Linux Server release 8.9\n", "ol", "8.9", "Oracle Linux:8"),
        ];
        for (text, id, version, ecosystem) in cases {
            let info = parse(text.as_bytes()).unwrap_or_else(|| panic!("{text}"));
            assert_eq!(
                (info.id.as_str(), info.version_id.as_str(), eco(&info)),
                (id, version, ecosystem),
                "{text}"
            );
            assert_eq!(info.pretty_name, text.trim());
            assert_eq!(parse_at("/etc/redhat-release", text.as_bytes()), Some(info));
        }
        assert_eq!(parse(b"Slackware release 15.0\n"), None);
        assert_eq!(parse(b"Something release notes\n"), None);
    }

    #[test]
    fn bare_version_files_are_told_apart() {
        let alpine = parse(b"3.20.3\n").unwrap();
        assert_eq!((alpine.id.as_str(), eco(&alpine)), ("alpine", "Alpine:v3.20"));
        let debian = parse(b"12.5\n").unwrap();
        assert_eq!(
            (debian.id.as_str(), debian.version_id.as_str(), eco(&debian)),
            ("debian", "12", "Debian:12")
        );
        assert_eq!(debian.pretty_name, "Debian GNU/Linux 12.5");
        let sid = parse(b"trixie/sid\n").unwrap();
        assert_eq!((sid.version_id.as_str(), eco(&sid)), ("", "Debian:13"));
        let old = parse(b"3.1\n").unwrap();
        assert_eq!(old.id, "debian");
    }

    #[test]
    fn parse_at_uses_the_path_instead_of_guessing() {
        // `3.1` alone would read as Debian; its path says Alpine.
        let info = parse_at("/etc/alpine-release", b"3.1.4\n").unwrap();
        assert_eq!(eco(&info), "Alpine:v3.1");
        let info = parse_at("/etc/debian_version", b"11.9\n").unwrap();
        assert_eq!(eco(&info), "Debian:11");
        assert_eq!(
            parse_at("/etc/os-release", DEBIAN_12.as_bytes()),
            parse(DEBIAN_12.as_bytes())
        );
        assert_eq!(parse_at("/etc/debian_version", b"not a version\n"), None);
    }

    #[test]
    fn garbage_is_not_an_operating_system() {
        assert_eq!(parse(b""), None);
        assert_eq!(parse(b"\xff\xfe\x00binary"), None);
        assert_eq!(parse(b"NAME=NoId\nVERSION_ID=1\n"), None);
        assert_eq!(parse(b"ID=\n"), None);
        assert_eq!(parse(b"hello world\n"), None);
        let long = "x".repeat(100_000);
        assert_eq!(parse(long.as_bytes()), None);
        assert_eq!(
            parse(b"ID=\"unterminated\nVERSION_ID=\\"),
            parse(b"ID=unterminated\nVERSION_ID=\\")
        );
    }

    #[test]
    fn os_context_prefers_detected_system_and_warns_when_assuming() {
        let debian = parse(DEBIAN_12.as_bytes()).unwrap();
        let ctx = os_context(Some(&debian), Distro::Debian);
        assert_eq!(ctx.ecosystem.as_str(), "Debian:12");
        assert_eq!(ctx.namespace, "debian");
        assert_eq!(ctx.distro_qualifier, "debian-12");
        assert!(ctx.warning.is_none());

        let ctx = os_context(None, Distro::Alpine);
        assert_eq!(ctx.ecosystem.as_str(), "Alpine");
        assert_eq!(ctx.namespace, "alpine");
        assert_eq!(ctx.distro_qualifier, "");
        assert_eq!(
            ctx.warning.as_deref(),
            Some("no operating system release file found; assuming the Alpine ecosystem")
        );

        let gentoo = parse(b"ID=gentoo\nVERSION_ID=2.15\n").unwrap();
        let ctx = os_context(Some(&gentoo), Distro::Debian);
        assert_eq!((ctx.ecosystem.as_str(), ctx.namespace.as_str()), ("Debian", "gentoo"));
        assert_eq!(ctx.distro_qualifier, "gentoo-2.15");
    }
}
