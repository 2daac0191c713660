//! Python packages: installed distributions (`*.dist-info/METADATA`, `*.egg-info/PKG-INFO`) and
//! pinned requirements files (`requirements.txt`, `requirements-dev.txt`, ...).

use std::collections::HashSet;

use argus_proto::{Ecosystem, Package, PackageManager};

use super::{utf8, ExtractError, ExtractInput, ExtractOutput, ExtractResult, Extractor};

/// Hostile files could otherwise produce one warning per line; past this many the rest of a
/// file's problems are summarized in a single line.
const MAX_WARNINGS: usize = 100;

/// Adds a warning unless the file already has [`MAX_WARNINGS`]; the first one over the cap says
/// that the rest were dropped.
pub(crate) fn push_warning(out: &mut ExtractOutput, msg: String) {
    if out.warnings.len() < MAX_WARNINGS {
        out.warnings.push(msg);
    } else if out.warnings.len() == MAX_WARNINGS {
        out.warnings
            .push("too many problems, further warnings for this file are omitted".into());
    }
}

/// A PyPI project name normalized as PEP 503 (and OSV) spells it: lowercase, every run of `-`,
/// `_` and `.` replaced by a single `-`.
pub(crate) fn normalize_pypi_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut in_separator_run = false;
    for c in name.trim().chars() {
        if matches!(c, '-' | '_' | '.') {
            if !in_separator_run {
                out.push('-');
            }
            in_separator_run = true;
        } else {
            out.extend(c.to_lowercase());
            in_separator_run = false;
        }
    }
    out
}

/// A PyPI package record; `name` must already be normalized.
pub(crate) fn pypi_package(name: String, version: &str, manager: PackageManager, path: &str) -> Package {
    Package {
        purl: crate::purl::purl("pypi", None, &name, version, &[]),
        name,
        version: version.to_string(),
        ecosystem: Ecosystem::pypi(),
        package_manager: manager,
        file_path: path.to_string(),
        layer_digest: None,
        source_name: None,
        source_version: None,
        epoch: None,
        release: None,
        arch: None,
    }
}

/// Core metadata of an installed distribution (wheel `METADATA` or setuptools `PKG-INFO`).
pub struct PythonMetadata;

impl Extractor for PythonMetadata {
    fn name(&self) -> &'static str {
        "pythonmetadata"
    }

    fn wants(&self, path: &str) -> bool {
        path.ends_with(".dist-info/METADATA") || path.ends_with(".egg-info/PKG-INFO")
    }

    fn extract(&self, input: &ExtractInput<'_>) -> ExtractResult {
        let headers = header_block(input.data);
        // Old sdists wrote PKG-INFO in Latin-1 and the description may carry anything; the
        // fields read here are ASCII in practice, so a lossy decode loses nothing that matters.
        let text = String::from_utf8_lossy(headers);
        if text.trim().is_empty() {
            return Err(ExtractError::new("empty metadata file"));
        }
        let mut name = None;
        let mut version = None;
        for line in text.lines() {
            // Folded continuation lines belong to the previous field (long summaries, licenses).
            if line.starts_with([' ', '\t']) {
                continue;
            }
            let Some((key, value)) = line.split_once(':') else {
                continue;
            };
            let value = value.trim();
            if key.eq_ignore_ascii_case("name") && name.is_none() {
                name = Some(value);
            } else if key.eq_ignore_ascii_case("version") && version.is_none() {
                version = Some(value);
            }
        }
        let mut out = ExtractOutput::default();
        match (name.filter(|n| !n.is_empty()), version.filter(|v| !v.is_empty())) {
            (Some(name), Some(version)) => {
                let name = normalize_pypi_name(name);
                out.packages
                    .push(pypi_package(name, version, PackageManager::Pythonpkg, input.path));
            }
            (None, _) => out.warnings.push("metadata has no name field".into()),
            (Some(name), None) => out.warnings.push(format!("metadata for {name} has no version field")),
        }
        Ok(out)
    }
}

/// The RFC 822 header part of a metadata file: everything before the first empty line (the
/// rest is the long description, which may itself contain `Name:`-looking lines).
fn header_block(data: &[u8]) -> &[u8] {
    let mut start = 0;
    for line in data.split_inclusive(|&b| b == b'\n') {
        let content = line.strip_suffix(b"\n").unwrap_or(line);
        let content = content.strip_suffix(b"\r").unwrap_or(content);
        if content.is_empty() {
            return data.get(..start).unwrap_or(data);
        }
        start = start.saturating_add(line.len());
    }
    data
}

/// pip requirements files; only exact pins (`==`, `===`) name a version.
pub struct Requirements;

impl Extractor for Requirements {
    fn name(&self) -> &'static str {
        "requirements"
    }

    fn wants(&self, path: &str) -> bool {
        let file = path.rsplit('/').next().unwrap_or(path);
        file.ends_with(".txt") && file.contains("requirements")
    }

    fn extract(&self, input: &ExtractInput<'_>) -> ExtractResult {
        let text = utf8(input)?;
        let mut out = ExtractOutput::default();
        let mut seen = HashSet::new();
        for (line_no, line) in logical_lines(text) {
            let line = strip_comment(&line);
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            if line.starts_with('-') {
                if let Some(target) = include_target(line) {
                    push_warning(
                        &mut out,
                        format!("line {line_no}: included file {target} is not followed"),
                    );
                }
                continue;
            }
            match parse_requirement(line) {
                Requirement::Pinned(name, version) => {
                    let name = normalize_pypi_name(name);
                    if seen.insert((name.clone(), version.to_string())) {
                        out.packages
                            .push(pypi_package(name, version, PackageManager::Pip, input.path));
                    }
                }
                Requirement::Unpinned => {}
                Requirement::Invalid => {
                    push_warning(&mut out, format!("line {line_no}: cannot parse requirement"));
                }
            }
        }
        Ok(out)
    }
}

/// Physical lines joined where one ends with a backslash, each tagged with the 1-based number of
/// its first physical line.
fn logical_lines(text: &str) -> Vec<(usize, String)> {
    let mut lines = Vec::new();
    let mut pending: Option<(usize, String)> = None;
    for (idx, raw) in text.lines().enumerate() {
        let line_no = idx.saturating_add(1);
        let (content, continues) = match raw.strip_suffix('\\') {
            Some(head) => (head, true),
            None => (raw, false),
        };
        let entry = pending.get_or_insert_with(|| (line_no, String::new()));
        if !entry.1.is_empty() {
            entry.1.push(' ');
        }
        entry.1.push_str(content);
        if !continues {
            if let Some(done) = pending.take() {
                lines.push(done);
            }
        }
    }
    // A trailing backslash on the last line still ends the requirement.
    lines.extend(pending);
    lines
}

/// Drops a `#` comment: pip treats `#` as a comment only at the start of a line or after
/// whitespace, so URL fragments such as `#egg=` survive.
fn strip_comment(line: &str) -> &str {
    let mut prev_is_space = true;
    for (i, c) in line.char_indices() {
        if c == '#' && prev_is_space {
            return line.get(..i).unwrap_or(line);
        }
        prev_is_space = c.is_whitespace();
    }
    line
}

/// For `-r file`, `-rfile`, `--requirement=file`, `-c file`, `--constraint file`: the named file.
fn include_target(line: &str) -> Option<&str> {
    fn first_word(s: &str) -> &str {
        s.split_whitespace().next().unwrap_or("")
    }
    for flag in ["--requirement", "--constraint"] {
        if let Some(rest) = line.strip_prefix(flag) {
            if let Some(value) = rest
                .strip_prefix('=')
                .or_else(|| rest.strip_prefix(char::is_whitespace))
            {
                return Some(first_word(value));
            }
        }
    }
    for flag in ["-r", "-c"] {
        if let Some(rest) = line.strip_prefix(flag) {
            return Some(first_word(rest.strip_prefix('=').unwrap_or(rest)));
        }
    }
    None
}

enum Requirement<'a> {
    Pinned(&'a str, &'a str),
    /// Ranges, bare names, URLs, local paths: valid lines that do not name one version.
    Unpinned,
    Invalid,
}

fn parse_requirement(line: &str) -> Requirement<'_> {
    // Per-requirement options (`--hash=sha256:...`, `--config-settings`) follow the requirement
    // after whitespace.
    let req = match line.find(" --").or_else(|| line.find("\t--")) {
        Some(i) => line.get(..i).unwrap_or(line),
        None => line,
    };
    let req = match req.split_once(';') {
        Some((head, _marker)) => head,
        None => req,
    };
    let req = req.trim();
    if req.contains("://") || req.contains('@') || req.starts_with(['.', '/', '~']) || req.contains('\\') {
        return Requirement::Unpinned;
    }
    let name_end = req
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        .unwrap_or(req.len());
    let (name, rest) = req.split_at(name_end);
    if name.is_empty()
        || !name.starts_with(|c: char| c.is_ascii_alphanumeric())
        || !name.ends_with(|c: char| c.is_ascii_alphanumeric())
    {
        // Local archives and directories named without `./` (`pkg.tar.gz`, `dist/x.whl`) are not
        // errors either, just nothing to pin.
        if req.contains('/') || req.ends_with(".whl") || req.ends_with(".zip") || req.contains(".tar") {
            return Requirement::Unpinned;
        }
        return Requirement::Invalid;
    }
    let mut rest = rest.trim_start();
    if let Some(after) = rest.strip_prefix('[') {
        let Some(close) = after.find(']') else {
            return Requirement::Invalid;
        };
        rest = after.get(close.saturating_add(1)..).unwrap_or("").trim_start();
    }
    // The old PEP 345 form `name (==1.0)`.
    if let Some(inner) = rest.strip_prefix('(') {
        let Some(inner) = inner.trim_end().strip_suffix(')') else {
            return Requirement::Invalid;
        };
        rest = inner;
    }
    let rest = rest.trim();
    if rest.is_empty() {
        return Requirement::Unpinned;
    }
    if !rest.starts_with(['=', '<', '>', '!', '~']) {
        if req.contains('/') || req.ends_with(".whl") || req.ends_with(".zip") || req.contains(".tar") {
            return Requirement::Unpinned;
        }
        return Requirement::Invalid;
    }
    let mut pin = None;
    for clause in rest.split(',') {
        let clause = clause.trim();
        let version = if let Some(v) = clause.strip_prefix("===") {
            // Arbitrary equality compares the string as written.
            v.trim()
        } else if let Some(v) = clause.strip_prefix("==") {
            let v = v.trim();
            if v.ends_with(".*") {
                // A prefix match is a range, not a pin.
                continue;
            }
            if !v
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '+' | '!'))
            {
                return Requirement::Invalid;
            }
            v
        } else {
            continue;
        };
        if version.is_empty() || version.contains(char::is_whitespace) {
            return Requirement::Invalid;
        }
        if pin.is_some() {
            // Two different exact pins cannot both hold; nothing trustworthy to report.
            return Requirement::Invalid;
        }
        pin = Some(version);
    }
    match pin {
        Some(version) => Requirement::Pinned(name, version),
        None => Requirement::Unpinned,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Limits;

    use crate::extract::testutil::run;

    fn pairs(out: &ExtractOutput) -> Vec<(&str, &str)> {
        out.packages
            .iter()
            .map(|p| (p.name.as_str(), p.version.as_str()))
            .collect()
    }

    const WHEEL_METADATA: &str = "Metadata-Version: 2.1\n\
Name: Flask_SQLAlchemy\n\
Version: 3.1.1\n\
Summary: Add SQLAlchemy support to your Flask application.\n\
Author-email: Pallets <contact@palletsprojects.com>\n\
Requires-Python: >=3.8\n\
Description-Content-Type: text/markdown\n\
Classifier: Development Status :: 5 - Production/Stable\n\
Requires-Dist: flask>=2.2.5\n\
Requires-Dist: sqlalchemy>=2.0.16\n\
\n\
Flask-SQLAlchemy\n\
================\n\
Name: not-this-one\n\
Version: 9.9.9\n";

    #[test]
    fn dist_info_metadata_yields_normalized_name_version_and_purl() {
        let path = "/usr/lib/python3/site-packages/Flask_SQLAlchemy-3.1.1.dist-info/METADATA";
        let out = run(&PythonMetadata, path, WHEEL_METADATA).unwrap();
        assert_eq!(out.warnings, Vec::<String>::new());
        assert_eq!(out.packages.len(), 1);
        let p = &out.packages[0];
        assert_eq!(p.name, "flask-sqlalchemy");
        assert_eq!(p.version, "3.1.1");
        assert_eq!(p.ecosystem, Ecosystem::pypi());
        assert_eq!(p.package_manager, PackageManager::Pythonpkg);
        assert_eq!(p.purl, "pkg:pypi/flask-sqlalchemy@3.1.1");
        assert_eq!(p.file_path, path);
        assert_eq!(p.layer_digest, None);
    }

    #[test]
    fn egg_info_pkg_info_with_crlf_and_folded_fields_is_read() {
        let data = "Metadata-Version: 1.1\r\nName: zope.interface\r\nSummary: Interfaces\r\n  continued: \
                    line\r\nVersion: 5.4.0\r\nLicense: ZPL\r\n\r\nLong description\r\n";
        let out = run(&PythonMetadata, "/opt/app/zope.interface.egg-info/PKG-INFO", data).unwrap();
        assert_eq!(pairs(&out), vec![("zope-interface", "5.4.0")]);
    }

    #[test]
    fn metadata_wants_only_dist_info_and_egg_info_files() {
        let ex = PythonMetadata;
        assert!(ex.wants("/usr/lib/python3/dist-packages/requests-2.31.0.dist-info/METADATA"));
        assert!(ex.wants("/usr/lib/python3/dist-packages/six-1.16.0.egg-info/PKG-INFO"));
        assert!(!ex.wants("/src/project/PKG-INFO"));
        assert!(!ex.wants("/usr/lib/python3/dist-packages/six-1.16.0.egg-info/SOURCES.txt"));
        assert!(!ex.wants("/usr/lib/python3/dist-packages/requests-2.31.0.dist-info/RECORD"));
        assert!(!ex.wants("/usr/lib/python3/dist-packages/requests-2.31.0.dist-info/METADATA.bak"));
    }

    #[test]
    fn metadata_without_version_warns_and_yields_nothing() {
        let out = run(
            &PythonMetadata,
            "/x.dist-info/METADATA",
            "Metadata-Version: 2.1\nName: foo\n",
        )
        .unwrap();
        assert!(out.packages.is_empty());
        assert_eq!(out.warnings, vec!["metadata for foo has no version field".to_string()]);
        let out = run(&PythonMetadata, "/x.dist-info/METADATA", "Version: 1.0\n\nName: foo\n").unwrap();
        assert!(out.packages.is_empty());
        assert_eq!(out.warnings, vec!["metadata has no name field".to_string()]);
    }

    #[test]
    fn empty_or_binary_metadata_does_not_panic() {
        assert!(run(&PythonMetadata, "/x.dist-info/METADATA", "").is_err());
        assert!(run(&PythonMetadata, "/x.dist-info/METADATA", "\n\nName: a\nVersion: 1\n").is_err());
        let limits = Limits::default();
        let junk: Vec<u8> = (0..=255u8).cycle().take(4096).collect();
        let res = PythonMetadata.extract(&ExtractInput {
            path: "/x.dist-info/METADATA",
            data: &junk,
            os: None,
            limits: &limits,
        });
        if let Ok(out) = res {
            assert!(out.packages.is_empty());
        }
        // Latin-1 in the header still leaves name and version readable.
        let latin1 = b"Name: caf\xe9-tools\nVersion: 0.1\nAuthor: Jos\xe9\n\nbody";
        let out = PythonMetadata
            .extract(&ExtractInput {
                path: "/x.egg-info/PKG-INFO",
                data: latin1,
                os: None,
                limits: &limits,
            })
            .unwrap();
        assert_eq!(out.packages.len(), 1);
        assert_eq!(out.packages[0].version, "0.1");
    }

    #[test]
    fn pep503_normalization_collapses_separator_runs() {
        assert_eq!(normalize_pypi_name("Django"), "django");
        assert_eq!(normalize_pypi_name("ruamel.yaml"), "ruamel-yaml");
        assert_eq!(normalize_pypi_name("Foo__Bar-.baz"), "foo-bar-baz");
        assert_eq!(normalize_pypi_name(" typing_extensions "), "typing-extensions");
    }

    #[test]
    fn requirements_wants_names_containing_requirements_ending_txt() {
        let ex = Requirements;
        assert!(ex.wants("/app/requirements.txt"));
        assert!(ex.wants("/app/requirements-dev.txt"));
        assert!(ex.wants("/app/dev-requirements.txt"));
        assert!(ex.wants("/app/requirements/requirements_test.txt"));
        assert!(!ex.wants("/app/requirements/base.txt"));
        assert!(!ex.wants("/app/requirements.in"));
        assert!(!ex.wants("/app/requirements.txt/readme.md"));
        assert!(!ex.wants("/app/notes.txt"));
    }

    const REQUIREMENTS: &str = "# Pinned production dependencies\n\
--index-url https://pypi.org/simple\n\
-r base-requirements.txt\n\
--constraint=constraints.txt\n\
Django==4.2.7  # LTS\n\
requests[security,socks]==2.31.0\n\
importlib_metadata==6.8.0 ; python_version < \"3.8\"\n\
certifi==2023.7.22 \\\n    --hash=sha256:539cc1d13202e33ca466e88b2807e29f4c13049d6d87031a3c110744495cb082 \\\n    --hash=sha256:92d6037539857d8206b8f6ae472e8b77db8058fec5937a1ef3f54304089edbb9\n\
numpy>=1.24\n\
pandas~=2.0\n\
flask\n\
six===1.16.0\n\
legacy (==0.3)\n\
-e git+https://github.com/org/lib.git#egg=lib\n\
./vendor/localpkg\n\
https://example.com/pkgs/thing-1.0.tar.gz#egg=thing\n\
mylib @ https://example.com/mylib-2.0.whl\n\
attrs==23.1.*\n\
Django==4.2.7\n";

    #[test]
    fn requirements_yield_only_exact_pins_with_extras_markers_hashes_and_continuations() {
        let out = run(&Requirements, "/app/requirements.txt", REQUIREMENTS).unwrap();
        assert_eq!(
            pairs(&out),
            vec![
                ("django", "4.2.7"),
                ("requests", "2.31.0"),
                ("importlib-metadata", "6.8.0"),
                ("certifi", "2023.7.22"),
                ("six", "1.16.0"),
                ("legacy", "0.3"),
            ]
        );
        assert_eq!(
            out.warnings,
            vec![
                "line 3: included file base-requirements.txt is not followed".to_string(),
                "line 4: included file constraints.txt is not followed".to_string(),
            ]
        );
        let p = &out.packages[1];
        assert_eq!(p.package_manager, PackageManager::Pip);
        assert_eq!(p.purl, "pkg:pypi/requests@2.31.0");
        assert_eq!(p.file_path, "/app/requirements.txt");
    }

    #[test]
    fn requirement_includes_in_all_spellings_warn() {
        let data = "-rother.txt\n--requirement other2.txt\n-c pins.txt\n--constraint=c2.txt\n";
        let out = run(&Requirements, "/r/requirements.txt", data).unwrap();
        assert!(out.packages.is_empty());
        assert_eq!(
            out.warnings,
            vec![
                "line 1: included file other.txt is not followed".to_string(),
                "line 2: included file other2.txt is not followed".to_string(),
                "line 3: included file pins.txt is not followed".to_string(),
                "line 4: included file c2.txt is not followed".to_string(),
            ]
        );
    }

    #[test]
    fn malformed_requirement_lines_warn_and_the_rest_is_read() {
        let data = "foo[bar==1.0\n!!!==2\nok==1.0\nx==1.0,==2.0\nbad==1 0\n\\\n";
        let out = run(&Requirements, "/r/requirements.txt", data).unwrap();
        assert_eq!(pairs(&out), vec![("ok", "1.0")]);
        assert_eq!(
            out.warnings,
            vec![
                "line 1: cannot parse requirement".to_string(),
                "line 2: cannot parse requirement".to_string(),
                "line 4: cannot parse requirement".to_string(),
                "line 5: cannot parse requirement".to_string(),
            ]
        );
    }

    #[test]
    fn hostile_requirements_are_bounded_and_do_not_panic() {
        let data = "=\n".repeat(10_000);
        let out = run(&Requirements, "/r/requirements.txt", &data).unwrap();
        assert_eq!(out.warnings.len(), MAX_WARNINGS + 1);
        let data = "a\\\n".repeat(10_000);
        let out = run(&Requirements, "/r/requirements.txt", &data).unwrap();
        assert!(out.packages.is_empty());
        let limits = Limits::default();
        let res = Requirements.extract(&ExtractInput {
            path: "/r/requirements.txt",
            data: b"\xff\xfe==1",
            os: None,
            limits: &limits,
        });
        assert!(res.is_err());
        let out = run(&Requirements, "/r/requirements.txt", "é==1\n[==1\nfoo[]==\n").unwrap();
        assert!(out.packages.is_empty());
        assert_eq!(out.warnings.len(), 3);
    }
}
