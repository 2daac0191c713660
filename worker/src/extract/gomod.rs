//! Go modules from `go.mod`: every `require`d module after `replace` directives are applied, and
//! the Go standard library (`stdlib`) when the file names a specific Go release.
//!
//! Versions: the OSV Go ecosystem (the Go vulnerability database) writes SEMVER range events
//! without the `v` that Go module versions carry (`1.2.3`, not `v1.2.3`), and standard-library
//! releases as plain semver (`go1.22.3` → `1.22.3`, `go1.21rc1` → `1.21.0-rc.1`). Package versions
//! therefore drop the `v` so they compare with OSV ranges directly; the purl keeps the version as
//! Go writes it (`pkg:golang/github.com/pkg/errors@v0.9.1`), which is what purl consumers expect.

use argus_proto::{Ecosystem, Package, PackageManager};

use super::{utf8, ExtractInput, ExtractOutput, ExtractResult, Extractor};

pub struct GoMod;

impl Extractor for GoMod {
    fn name(&self) -> &'static str {
        "gomod"
    }

    fn wants(&self, path: &str) -> bool {
        path == "go.mod" || path.ends_with("/go.mod")
    }

    fn extract(&self, input: &ExtractInput<'_>) -> ExtractResult {
        let text = utf8(input)?;
        Ok(parse(text, input.path))
    }
}

/// The OSV version of a Go module version: `v1.2.3` → `1.2.3`. Pseudo-versions and
/// `+incompatible` suffixes stay as they are, the Go database uses them in that form too.
pub(crate) fn module_version(written: &str) -> &str {
    written.strip_prefix('v').unwrap_or(written)
}

/// The OSV `stdlib` version of a Go release written without the `go` prefix: `1.22.3` stays,
/// `1.20` (how Go ≤ 1.20 named the first release of a minor line) becomes `1.20.0`, and
/// pre-releases `1.21rc1` / `1.19beta1` become `1.21.0-rc.1` / `1.19.0-beta.1`. Anything else
/// (development builds, garbage) is `None`.
pub(crate) fn go_release_semver(release: &str) -> Option<String> {
    let mut pre = None;
    let mut numeric = release;
    for tag in ["rc", "beta", "alpha"] {
        if let Some(i) = release.find(tag) {
            let n = release.get(i + tag.len()..)?;
            if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            pre = Some(format!("{tag}.{n}"));
            numeric = release.get(..i)?;
            break;
        }
    }
    let parts: Vec<&str> = numeric.split('.').collect();
    if parts.is_empty()
        || parts.len() > 3
        || parts
            .iter()
            .any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    let major = parts.first()?;
    let minor = parts.get(1).copied().unwrap_or("0");
    let patch = parts.get(2).copied().unwrap_or("0");
    Some(match pre {
        Some(pre) => format!("{major}.{minor}.{patch}-{pre}"),
        None => format!("{major}.{minor}.{patch}"),
    })
}

/// A Go module as an inventory package; `version` as Go writes it (`v1.2.3`).
pub(crate) fn module_package(path: &str, version: &str, file_path: &str, pm: PackageManager) -> Package {
    let (namespace, name) = match path.rsplit_once('/') {
        Some((ns, name)) => (Some(ns), name),
        None => (None, path),
    };
    Package {
        name: path.to_string(),
        version: module_version(version).to_string(),
        ecosystem: Ecosystem::go(),
        package_manager: pm,
        purl: crate::purl::purl("golang", namespace, name, version, &[]),
        file_path: file_path.to_string(),
        layer_digest: None,
        source_name: None,
        source_version: None,
        epoch: None,
        release: None,
        arch: None,
    }
}

/// The Go standard library at an OSV semver version (`1.22.3`).
pub(crate) fn stdlib_package(version: &str, file_path: &str, pm: PackageManager) -> Package {
    Package {
        name: "stdlib".to_string(),
        version: version.to_string(),
        ecosystem: Ecosystem::go(),
        package_manager: pm,
        purl: crate::purl::purl("golang", None, "stdlib", version, &[]),
        file_path: file_path.to_string(),
        layer_digest: None,
        source_name: None,
        source_version: None,
        epoch: None,
        release: None,
        arch: None,
    }
}

struct Requirement {
    path: String,
    version: String,
}

struct Replacement {
    old_path: String,
    old_version: Option<String>,
    /// `None` for a replacement by a local directory.
    new: Option<(String, String)>,
}

#[derive(Default)]
struct GoModFile {
    go: Option<String>,
    toolchain: Option<String>,
    requires: Vec<Requirement>,
    replaces: Vec<Replacement>,
}

fn parse(text: &str, file_path: &str) -> ExtractOutput {
    let mut out = ExtractOutput::default();
    let file = parse_directives(text, &mut out.warnings);

    if let Some(v) = stdlib_version(&file, &mut out.warnings) {
        out.packages.push(stdlib_package(&v, file_path, PackageManager::Gomod));
    }

    for req in &file.requires {
        // A replacement naming the exact version wins over one for every version of the path,
        // as in the go command.
        let replacement = file
            .replaces
            .iter()
            .find(|r| r.old_path == req.path && r.old_version.as_deref() == Some(req.version.as_str()))
            .or_else(|| {
                file.replaces
                    .iter()
                    .find(|r| r.old_path == req.path && r.old_version.is_none())
            });
        let (path, version) = match replacement {
            // Local directories are part of the project's own source tree, not a published
            // module any advisory could name.
            Some(Replacement { new: None, .. }) => continue,
            Some(Replacement { new: Some((p, v)), .. }) => (p.as_str(), v.as_str()),
            None => (req.path.as_str(), req.version.as_str()),
        };
        out.packages
            .push(module_package(path, version, file_path, PackageManager::Gomod));
    }
    out
}

/// The standard-library version the module is built with, if the file pins a release.
///
/// A `toolchain` line names the release to build with. A `go` line is only a minimum language
/// version: `go 1.21` (and every `go 1.x` line before Go 1.21) does not name any release, so
/// reporting it as `1.21.0` would invent a version and match advisories fixed long ago. A
/// three-part `go 1.22.3` (or a pre-release `go 1.21rc1`) names a real release, the oldest the
/// module accepts, so it is reported when no `toolchain` line says better.
fn stdlib_version(file: &GoModFile, warnings: &mut Vec<String>) -> Option<String> {
    if let Some(tc) = &file.toolchain {
        if tc == "default" {
            return None;
        }
        // Custom toolchains append a suffix to the release they are based on: go1.21.3-corp.
        let release = tc.strip_prefix("go").map(|r| r.split(['-', '+']).next().unwrap_or(r));
        match release.and_then(go_release_semver) {
            Some(v) => return Some(v),
            None => warnings.push(format!("unrecognized toolchain {tc:?}")),
        }
    }
    let go = file.go.as_deref()?;
    let names_release = go.split('.').count() == 3 || go.contains("rc") || go.contains("beta");
    if !names_release {
        return None;
    }
    let v = go_release_semver(go);
    if v.is_none() {
        warnings.push(format!("unrecognized go version {go:?}"));
    }
    v
}

fn parse_directives(text: &str, warnings: &mut Vec<String>) -> GoModFile {
    let mut file = GoModFile::default();
    let mut block: Option<String> = None;
    for (idx, line) in text.lines().enumerate() {
        let lineno = idx + 1;
        let tokens = match tokenize(line) {
            Ok(t) => t,
            Err(e) => {
                warnings.push(format!("line {lineno}: {e}"));
                continue;
            }
        };
        let Some(first) = tokens.first() else { continue };
        if let Some(verb) = &block {
            if first == ")" {
                block = None;
                continue;
            }
            directive(&mut file, verb, &tokens, lineno, warnings);
            continue;
        }
        let args = tokens.get(1..).unwrap_or_default();
        match args {
            [open] if open == "(" => block = Some(first.clone()),
            [open, close] if open == "(" && close == ")" => {}
            _ => directive(&mut file, first, args, lineno, warnings),
        }
    }
    if let Some(verb) = block {
        warnings.push(format!("{verb} block is not closed"));
    }
    file
}

fn directive(file: &mut GoModFile, verb: &str, args: &[String], lineno: usize, warnings: &mut Vec<String>) {
    match verb {
        "module" => {}
        "go" => match args {
            [v] => file.go = Some(v.clone()),
            _ => warnings.push(format!("line {lineno}: malformed go directive")),
        },
        "toolchain" => match args {
            [v] => file.toolchain = Some(v.clone()),
            _ => warnings.push(format!("line {lineno}: malformed toolchain directive")),
        },
        "require" => match args {
            [path, version] if !path.is_empty() && !version.is_empty() => file.requires.push(Requirement {
                path: path.clone(),
                version: version.clone(),
            }),
            _ => warnings.push(format!("line {lineno}: malformed require directive")),
        },
        "replace" => match parse_replace(args) {
            Some(r) => file.replaces.push(r),
            None => warnings.push(format!("line {lineno}: malformed replace directive")),
        },
        // Excluded and retracted versions, debug settings and tool lists change no dependency.
        "exclude" | "retract" | "godebug" | "tool" | "ignore" => {}
        other => warnings.push(format!("line {lineno}: unknown directive {other:?}")),
    }
}

fn parse_replace(args: &[String]) -> Option<Replacement> {
    let arrow = args.iter().position(|t| t == "=>")?;
    let (lhs, rhs) = (args.get(..arrow)?, args.get(arrow + 1..)?);
    let (old_path, old_version) = match lhs {
        [p] => (p.clone(), None),
        [p, v] => (p.clone(), Some(v.clone())),
        _ => return None,
    };
    let new = match rhs {
        [p] if is_local_path(p) => None,
        [p, v] if !is_local_path(p) => Some((p.clone(), v.clone())),
        _ => return None,
    };
    Some(Replacement {
        old_path,
        old_version,
        new,
    })
}

/// Whether a replacement target is a directory rather than a module path, by the go command's
/// rule: it starts with `./`, `../` or is absolute (Unix or Windows).
fn is_local_path(p: &str) -> bool {
    p.starts_with("./")
        || p.starts_with("../")
        || p.starts_with(".\\")
        || p.starts_with("..\\")
        || p == "."
        || p == ".."
        || p.starts_with('/')
        || p.starts_with('\\')
        || p.as_bytes().get(1..3).is_some_and(|s| s == b":\\" || s == b":/")
}

/// Splits one go.mod line into tokens: words, `(`, `)`, `=>` and quoted strings (interpreted
/// `"..."` with backslash escapes, raw `` `...` ``); `//` starts a comment.
fn tokenize(line: &str) -> Result<Vec<String>, String> {
    let mut tokens = Vec::new();
    let mut chars = line.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '(' | ')' => {
                chars.next();
                tokens.push(c.to_string());
            }
            '"' => {
                chars.next();
                let mut s = String::new();
                loop {
                    match chars.next() {
                        None => return Err("unterminated quoted string".into()),
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some('n') => s.push('\n'),
                            Some('t') => s.push('\t'),
                            Some(e) => s.push(e),
                            None => return Err("unterminated quoted string".into()),
                        },
                        Some(ch) => s.push(ch),
                    }
                }
                tokens.push(s);
            }
            '`' => {
                chars.next();
                let mut s = String::new();
                loop {
                    match chars.next() {
                        None => return Err("unterminated raw string".into()),
                        Some('`') => break,
                        Some(ch) => s.push(ch),
                    }
                }
                tokens.push(s);
            }
            _ => {
                let mut word = String::new();
                while let Some(&ch) = chars.peek() {
                    if ch.is_whitespace() || ch == '(' || ch == ')' || ch == '"' || ch == '`' {
                        break;
                    }
                    if ch == '/' && word.is_empty() && line_rest_starts_comment(&mut chars) {
                        return Ok(tokens);
                    }
                    if ch == '=' && word.is_empty() {
                        chars.next();
                        if chars.peek() == Some(&'>') {
                            chars.next();
                            tokens.push("=>".into());
                            break;
                        }
                        word.push('=');
                        continue;
                    }
                    if ch == '=' {
                        // `old=>new` without spaces still separates at the arrow.
                        let mut look = chars.clone();
                        look.next();
                        if look.peek() == Some(&'>') {
                            break;
                        }
                    }
                    word.push(ch);
                    chars.next();
                }
                if !word.is_empty() {
                    tokens.push(word);
                }
            }
        }
    }
    Ok(tokens)
}

/// Whether the characters ahead are `//` (a comment to the end of the line).
fn line_rest_starts_comment(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> bool {
    let mut look = chars.clone();
    look.next() == Some('/') && look.next() == Some('/')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Limits;

    fn run(text: &str) -> ExtractOutput {
        let limits = Limits::default();
        let input = ExtractInput {
            path: "/src/app/go.mod",
            data: text.as_bytes(),
            os: None,
            limits: &limits,
        };
        GoMod.extract(&input).expect("go.mod parses")
    }

    fn versions(out: &ExtractOutput) -> Vec<(String, String)> {
        out.packages
            .iter()
            .map(|p| (p.name.clone(), p.version.clone()))
            .collect()
    }

    const REALISTIC: &str = r#"module github.com/example/service

go 1.22.1

toolchain go1.22.3

require (
	github.com/gin-gonic/gin v1.9.1
	github.com/pkg/errors v0.9.1 // indirect
	golang.org/x/net v0.0.0-20230522175609-2e198f4a06a1 // indirect
	github.com/docker/docker v24.0.7+incompatible
)

require gopkg.in/yaml.v3 v3.0.1

exclude github.com/gin-gonic/gin v1.9.0

retract (
	v1.0.0 // published by mistake
	[v1.1.0, v1.1.5]
)
"#;

    #[test]
    fn requires_in_block_and_single_form_are_packages_with_osv_versions() {
        let out = run(REALISTIC);
        assert!(out.warnings.is_empty(), "{:?}", out.warnings);
        assert_eq!(
            versions(&out),
            vec![
                ("stdlib".to_string(), "1.22.3".to_string()),
                ("github.com/gin-gonic/gin".to_string(), "1.9.1".to_string()),
                ("github.com/pkg/errors".to_string(), "0.9.1".to_string()),
                (
                    "golang.org/x/net".to_string(),
                    "0.0.0-20230522175609-2e198f4a06a1".to_string()
                ),
                (
                    "github.com/docker/docker".to_string(),
                    "24.0.7+incompatible".to_string()
                ),
                ("gopkg.in/yaml.v3".to_string(), "3.0.1".to_string()),
            ]
        );
    }

    #[test]
    fn packages_carry_ecosystem_manager_purl_and_path() {
        let out = run(REALISTIC);
        let gin = out
            .packages
            .iter()
            .find(|p| p.name == "github.com/gin-gonic/gin")
            .expect("gin");
        assert_eq!(gin.ecosystem, Ecosystem::go());
        assert_eq!(gin.package_manager, PackageManager::Gomod);
        assert_eq!(gin.purl, "pkg:golang/github.com/gin-gonic/gin@v1.9.1");
        assert_eq!(gin.file_path, "/src/app/go.mod");
        assert_eq!(gin.layer_digest, None);
        let std = out.packages.iter().find(|p| p.name == "stdlib").expect("stdlib");
        assert_eq!(std.purl, "pkg:golang/stdlib@1.22.3");
        let yaml = out
            .packages
            .iter()
            .find(|p| p.name == "gopkg.in/yaml.v3")
            .expect("yaml");
        assert_eq!(yaml.purl, "pkg:golang/gopkg.in/yaml.v3@v3.0.1");
    }

    #[test]
    fn two_part_go_line_alone_reports_no_stdlib() {
        let out = run("module m\n\ngo 1.21\n\nrequire example.com/a v1.0.0\n");
        assert_eq!(versions(&out), vec![("example.com/a".to_string(), "1.0.0".to_string())]);
        assert!(out.warnings.is_empty());
    }

    #[test]
    fn three_part_go_line_reports_stdlib_when_no_toolchain() {
        let out = run("module m\ngo 1.21.5\n");
        assert_eq!(versions(&out), vec![("stdlib".to_string(), "1.21.5".to_string())]);
        let out = run("module m\ngo 1.21rc2\n");
        assert_eq!(versions(&out), vec![("stdlib".to_string(), "1.21.0-rc.2".to_string())]);
    }

    #[test]
    fn toolchain_wins_over_go_line_and_custom_suffix_is_dropped() {
        let out = run("module m\ngo 1.21.0\ntoolchain go1.21.3-corp\n");
        assert_eq!(versions(&out), vec![("stdlib".to_string(), "1.21.3".to_string())]);
    }

    #[test]
    fn replace_directives_rewrite_requirements() {
        let text = r#"module m
go 1.20
require (
	example.com/a v1.0.0
	example.com/b v1.1.0
	example.com/c v2.0.0
	example.com/d v0.1.0
	example.com/e v0.2.0
)
replace example.com/a => example.com/fork/a v1.0.1
replace (
	example.com/b v1.1.0 => example.com/b v1.1.1
	example.com/b v9.9.9 => example.com/never v0.0.1
	example.com/c => ./third_party/c
	example.com/d v0.1.0 => ../d
)
replace example.com/e v0.1.0 => example.com/e v0.1.5
"#;
        let out = run(text);
        assert!(out.warnings.is_empty(), "{:?}", out.warnings);
        assert_eq!(
            versions(&out),
            vec![
                ("example.com/fork/a".to_string(), "1.0.1".to_string()),
                ("example.com/b".to_string(), "1.1.1".to_string()),
                // e's replacement names another version, so it does not apply.
                ("example.com/e".to_string(), "0.2.0".to_string()),
            ]
        );
    }

    #[test]
    fn exact_version_replacement_beats_wildcard() {
        let text = "module m\nrequire x.org/a v1.0.0\nreplace x.org/a => x.org/a v1.0.9\nreplace x.org/a v1.0.0 => x.org/a v1.0.5\n";
        assert_eq!(versions(&run(text)), vec![("x.org/a".to_string(), "1.0.5".to_string())]);
    }

    #[test]
    fn quoted_paths_comments_and_arrow_without_spaces_are_understood() {
        let text = "module \"m\" // the module\nrequire \"x.org/a\" `v1.2.3`\n// require x.org/commented v1.0.0\nreplace x.org/a=>x.org/b v1.2.4\n";
        let out = run(text);
        assert!(out.warnings.is_empty(), "{:?}", out.warnings);
        assert_eq!(versions(&out), vec![("x.org/b".to_string(), "1.2.4".to_string())]);
    }

    #[test]
    fn empty_blocks_and_crlf_lines_are_accepted() {
        let text = "module m\r\nrequire ()\r\nrequire (\r\n\tx.org/a v1.0.0\r\n)\r\n";
        let out = run(text);
        assert!(out.warnings.is_empty(), "{:?}", out.warnings);
        assert_eq!(versions(&out), vec![("x.org/a".to_string(), "1.0.0".to_string())]);
    }

    #[test]
    fn malformed_lines_warn_and_the_rest_is_read() {
        let text = "module m\nrequire (\n\tx.org/a\n\tx.org/b v1.0.0\n\t\"x.org/c v1\n)\nreplace x.org/b v1.0.0 =>\nfrobnicate x\nrequire (\n\tx.org/d v0.1.0\n";
        let out = run(text);
        assert_eq!(
            versions(&out),
            vec![
                ("x.org/b".to_string(), "1.0.0".to_string()),
                ("x.org/d".to_string(), "0.1.0".to_string())
            ]
        );
        assert_eq!(
            out.warnings,
            vec![
                "line 3: malformed require directive".to_string(),
                "line 5: unterminated quoted string".to_string(),
                "line 7: malformed replace directive".to_string(),
                "line 8: unknown directive \"frobnicate\"".to_string(),
                "require block is not closed".to_string(),
            ]
        );
    }

    #[test]
    fn unrecognized_toolchain_warns_and_falls_back_to_go_line() {
        let out = run("module m\ngo 1.22.0\ntoolchain gofast\n");
        assert_eq!(versions(&out), vec![("stdlib".to_string(), "1.22.0".to_string())]);
        assert_eq!(out.warnings, vec!["unrecognized toolchain \"gofast\"".to_string()]);
    }

    #[test]
    fn non_utf8_file_is_an_error() {
        let limits = Limits::default();
        let input = ExtractInput {
            path: "/go.mod",
            data: b"module \xff\xfe\n",
            os: None,
            limits: &limits,
        };
        assert!(GoMod.extract(&input).is_err());
    }

    #[test]
    fn wants_only_go_mod_files() {
        assert!(GoMod.wants("/src/go.mod"));
        assert!(!GoMod.wants("/src/go.sum"));
        assert!(!GoMod.wants("/src/notgo.mod"));
    }

    #[test]
    fn go_releases_map_to_osv_semver() {
        assert_eq!(go_release_semver("1.22.3").as_deref(), Some("1.22.3"));
        assert_eq!(go_release_semver("1.20").as_deref(), Some("1.20.0"));
        assert_eq!(go_release_semver("1.19beta1").as_deref(), Some("1.19.0-beta.1"));
        assert_eq!(go_release_semver("1.21rc1").as_deref(), Some("1.21.0-rc.1"));
        assert_eq!(go_release_semver("1.x"), None);
        assert_eq!(go_release_semver("1.2.3.4"), None);
        assert_eq!(go_release_semver("1.21rc"), None);
        assert_eq!(go_release_semver(""), None);
    }
}
