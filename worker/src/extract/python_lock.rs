//! Python lockfiles: `poetry.lock` (TOML), `Pipfile.lock` (JSON) and `uv.lock` (TOML).
//!
//! Packages that come from a local directory or a local archive are left out: their name may
//! shadow a PyPI project, but the version is whatever the local tree says, so matching PyPI
//! advisories against it would report things that are not there. Packages from a git
//! repository, a URL or a private index are kept, because they are nearly always builds of a
//! published project whose version does correspond to its PyPI releases.

use std::collections::HashSet;

use argus_proto::PackageManager;

use super::python::{normalize_pypi_name, push_warning, pypi_package};
use super::{utf8, ExtractError, ExtractInput, ExtractOutput, ExtractResult, Extractor};

fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// Collects packages of one lockfile, dropping repeats of the same name and version (the same
/// package listed for several groups or platforms).
struct Collector<'a> {
    path: &'a str,
    manager: PackageManager,
    seen: HashSet<(String, String)>,
    out: ExtractOutput,
}

impl<'a> Collector<'a> {
    fn new(path: &'a str, manager: PackageManager) -> Self {
        Self {
            path,
            manager,
            seen: HashSet::new(),
            out: ExtractOutput::default(),
        }
    }

    fn add(&mut self, raw_name: &str, version: &str) {
        let name = normalize_pypi_name(raw_name);
        let version = version.trim();
        if self.seen.insert((name.clone(), version.to_string())) {
            self.out
                .packages
                .push(pypi_package(name, version, self.manager, self.path));
        }
    }

    fn warn(&mut self, msg: String) {
        push_warning(&mut self.out, msg);
    }
}

/// The `[[package]]` array shared by poetry.lock and uv.lock; a lockfile with no dependencies
/// has none.
fn parse_package_array(input: &ExtractInput<'_>) -> Result<Vec<toml::Value>, ExtractError> {
    let text = utf8(input)?;
    let mut doc: toml::Table = toml::from_str(text).map_err(|e| ExtractError::new(format!("invalid toml: {e}")))?;
    match doc.remove("package") {
        None => Ok(Vec::new()),
        Some(toml::Value::Array(items)) => Ok(items),
        Some(_) => Err(ExtractError::new("package is not an array of tables")),
    }
}

/// Name and version of one `[[package]]` table, or a warning naming the entry.
fn name_and_version(index: usize, item: &toml::Value) -> Result<(&str, &str), String> {
    let Some(table) = item.as_table() else {
        return Err(format!("package entry {index} is not a table"));
    };
    let name = table
        .get("name")
        .and_then(|v| v.as_str())
        .map(str::trim)
        .filter(|n| !n.is_empty());
    let Some(name) = name else {
        return Err(format!("package entry {index} has no name"));
    };
    let version = table
        .get("version")
        .and_then(|v| v.as_str())
        .map(str::trim)
        .filter(|v| !v.is_empty());
    match version {
        Some(version) => Ok((name, version)),
        None => Err(format!("package {name} has no version")),
    }
}

/// Poetry's `poetry.lock`.
pub struct PoetryLock;

impl Extractor for PoetryLock {
    fn name(&self) -> &'static str {
        "poetrylock"
    }

    fn wants(&self, path: &str) -> bool {
        file_name(path) == "poetry.lock"
    }

    fn extract(&self, input: &ExtractInput<'_>) -> ExtractResult {
        let items = parse_package_array(input)?;
        let mut c = Collector::new(input.path, PackageManager::Poetry);
        for (index, item) in items.iter().enumerate() {
            let source_type = item.get("source").and_then(|s| s.get("type")).and_then(|t| t.as_str());
            if matches!(source_type, Some("directory" | "file")) {
                continue;
            }
            match name_and_version(index, item) {
                Ok((name, version)) => c.add(name, version),
                Err(msg) => c.warn(msg),
            }
        }
        Ok(c.out)
    }
}

/// Pipenv's `Pipfile.lock`.
pub struct PipfileLock;

impl Extractor for PipfileLock {
    fn name(&self) -> &'static str {
        "pipfilelock"
    }

    fn wants(&self, path: &str) -> bool {
        file_name(path) == "Pipfile.lock"
    }

    fn extract(&self, input: &ExtractInput<'_>) -> ExtractResult {
        let text = utf8(input)?;
        let doc: serde_json::Value =
            serde_json::from_str(text).map_err(|e| ExtractError::new(format!("invalid json: {e}")))?;
        let Some(doc) = doc.as_object() else {
            return Err(ExtractError::new("Pipfile.lock is not a json object"));
        };
        let mut c = Collector::new(input.path, PackageManager::Pipenv);
        for section in ["default", "develop"] {
            let Some(value) = doc.get(section) else { continue };
            let Some(entries) = value.as_object() else {
                c.warn(format!("section {section} is not an object"));
                continue;
            };
            for (name, entry) in entries {
                let Some(entry) = entry.as_object() else {
                    c.warn(format!("package {name} is not an object"));
                    continue;
                };
                match entry.get("version").and_then(|v| v.as_str()) {
                    Some(spec) => {
                        let version = spec.trim();
                        let version = version
                            .strip_prefix("===")
                            .or_else(|| version.strip_prefix("=="))
                            .map(str::trim);
                        match version.filter(|v| !v.is_empty()) {
                            Some(version) if !name.trim().is_empty() => c.add(name, version),
                            Some(_) => c.warn(format!("package entry in {section} has no name")),
                            None => c.warn(format!("package {name} has version {spec:?}, not an exact pin")),
                        }
                    }
                    // VCS checkouts and local paths are locked by reference, not by version.
                    None if ["git", "hg", "svn", "bzr", "path", "file"]
                        .iter()
                        .any(|k| entry.contains_key(*k)) => {}
                    None => c.warn(format!("package {name} has no version")),
                }
            }
        }
        Ok(c.out)
    }
}

/// uv's `uv.lock`.
pub struct UvLock;

impl Extractor for UvLock {
    fn name(&self) -> &'static str {
        "uvlock"
    }

    fn wants(&self, path: &str) -> bool {
        file_name(path) == "uv.lock"
    }

    fn extract(&self, input: &ExtractInput<'_>) -> ExtractResult {
        let items = parse_package_array(input)?;
        let mut c = Collector::new(input.path, PackageManager::Uv);
        for (index, item) in items.iter().enumerate() {
            // The project and its workspace members are `editable` or `virtual`; `directory` and
            // `path` are local trees and archives.
            if let Some(source) = item.get("source").and_then(|s| s.as_table()) {
                if ["editable", "virtual", "directory", "path"]
                    .iter()
                    .any(|k| source.contains_key(*k))
                {
                    continue;
                }
            }
            match name_and_version(index, item) {
                Ok((name, version)) => c.add(name, version),
                Err(msg) => c.warn(msg),
            }
        }
        Ok(c.out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Limits;
    use argus_proto::Ecosystem;

    use crate::extract::testutil::run;

    fn pairs(out: &ExtractOutput) -> Vec<(&str, &str)> {
        out.packages
            .iter()
            .map(|p| (p.name.as_str(), p.version.as_str()))
            .collect()
    }

    const POETRY_LOCK: &str = r#"# This file is automatically @generated by Poetry 1.7.1 and should not be changed by hand.

[[package]]
name = "certifi"
version = "2023.11.17"
description = "Python package for providing Mozilla's CA Bundle."
optional = false
python-versions = ">=3.6"
files = [
    {file = "certifi-2023.11.17-py3-none-any.whl", hash = "sha256:e036ab49d5b79556f99cfc2d9320b34cfbe5be05c5871b51de9329f0603b0474"},
]

[[package]]
name = "Flask_Cors"
version = "4.0.0"
description = "A Flask extension adding a decorator for CORS support"
optional = false
python-versions = "*"
files = []

[package.dependencies]
Flask = ">=0.9"

[[package]]
name = "internal-sdk"
version = "2.3.0"
description = "Company SDK"
optional = false
python-versions = ">=3.9"
files = []

[package.source]
type = "legacy"
url = "https://pypi.internal.example/simple"
reference = "internal"

[[package]]
name = "requests"
version = "2.32.0.dev0"
description = "Python HTTP for Humans."
optional = false
python-versions = ">=3.8"
files = []
develop = false

[package.source]
type = "git"
url = "https://github.com/psf/requests.git"
reference = "main"
resolved_reference = "0e322af87745eff34caffe4df68456ebc20d9068"

[[package]]
name = "mylib"
version = "0.1.0"
description = ""
optional = false
python-versions = "^3.10"
files = []
develop = true

[package.source]
type = "directory"
url = "../mylib"

[[package]]
name = "vendored-wheel"
version = "1.0.0"
description = ""
optional = false
python-versions = "*"
files = []

[package.source]
type = "file"
url = "wheels/vendored_wheel-1.0.0-py3-none-any.whl"

[metadata]
lock-version = "2.0"
python-versions = "^3.10"
content-hash = "d3f1a9c0b2e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0"
"#;

    #[test]
    fn poetry_lock_yields_registry_and_git_packages_but_not_local_ones() {
        let out = run(&PoetryLock, "/app/poetry.lock", POETRY_LOCK).unwrap();
        assert_eq!(out.warnings, Vec::<String>::new());
        assert_eq!(
            pairs(&out),
            vec![
                ("certifi", "2023.11.17"),
                ("flask-cors", "4.0.0"),
                ("internal-sdk", "2.3.0"),
                ("requests", "2.32.0.dev0")
            ]
        );
        let p = &out.packages[1];
        assert_eq!(p.ecosystem, Ecosystem::pypi());
        assert_eq!(p.package_manager, PackageManager::Poetry);
        assert_eq!(p.purl, "pkg:pypi/flask-cors@4.0.0");
        assert_eq!(p.file_path, "/app/poetry.lock");
    }

    #[test]
    fn poetry_lock_entries_without_name_or_version_warn() {
        let data = "[[package]]\nname = \"a\"\n\n[[package]]\nversion = \"1\"\n\n[[package]]\nname = \"b\"\nversion = \
                    \"2.0\"\n\n[[package]]\nname = 3\nversion = \"1\"\n";
        let out = run(&PoetryLock, "/poetry.lock", data).unwrap();
        assert_eq!(pairs(&out), vec![("b", "2.0")]);
        assert_eq!(
            out.warnings,
            vec![
                "package a has no version".to_string(),
                "package entry 1 has no name".to_string(),
                "package entry 3 has no name".to_string(),
            ]
        );
    }

    #[test]
    fn malformed_toml_lockfiles_are_errors() {
        for ex in [&PoetryLock as &dyn Extractor, &UvLock] {
            let truncated = &POETRY_LOCK[..POETRY_LOCK.find("version = \"4.0.0\"").unwrap() + 12];
            let err = run(ex, "/x.lock", truncated).unwrap_err();
            assert!(err.0.starts_with("invalid toml"), "{}", err.0);
            assert!(run(ex, "/x.lock", "package = \"nope\"\n").is_err());
            assert!(run(ex, "/x.lock", "[[package]\nname=").is_err());
            let deep = format!("a = {}{}", "[".repeat(100_000), "]".repeat(100_000));
            assert!(run(ex, "/x.lock", &deep).is_err());
            let out = run(ex, "/x.lock", "package = [1, \"x\"]\n").unwrap();
            assert!(out.packages.is_empty());
            assert_eq!(
                out.warnings,
                vec![
                    "package entry 0 is not a table".to_string(),
                    "package entry 1 is not a table".to_string()
                ]
            );
            let out = run(ex, "/x.lock", "[metadata]\nlock-version = \"2.0\"\n").unwrap();
            assert!(out.packages.is_empty() && out.warnings.is_empty());
        }
        let limits = Limits::default();
        let res = PoetryLock.extract(&ExtractInput {
            path: "/poetry.lock",
            data: b"\xc3\x28",
            os: None,
            limits: &limits,
        });
        assert!(res.is_err());
    }

    const PIPFILE_LOCK: &str = r#"{
    "_meta": {
        "hash": {"sha256": "7f8a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a"},
        "pipfile-spec": 6,
        "requires": {"python_version": "3.11"},
        "sources": [{"name": "pypi", "url": "https://pypi.org/simple", "verify_ssl": true}]
    },
    "default": {
        "requests": {
            "hashes": ["sha256:58cd2187c01e70e6e26505bca751777aa9f2ee0b7f4300988b709f44e013003f"],
            "index": "pypi",
            "markers": "python_version >= '3.7'",
            "version": "==2.31.0"
        },
        "Jinja2": {"index": "pypi", "version": "==3.1.2"},
        "mylib": {"editable": true, "path": "./mylib"},
        "django-extensions": {"git": "https://github.com/django-extensions/django-extensions.git", "ref": "8b1f3c1"}
    },
    "develop": {
        "pytest": {"index": "pypi", "version": "==7.4.3"},
        "requests": {"version": "==2.31.0"},
        "zope.event": {"version": "===5.0"}
    }
}"#;

    #[test]
    fn pipfile_lock_reads_default_and_develop_and_strips_pins() {
        let out = run(&PipfileLock, "/srv/Pipfile.lock", PIPFILE_LOCK).unwrap();
        assert_eq!(out.warnings, Vec::<String>::new());
        let mut got = pairs(&out);
        got.sort();
        assert_eq!(
            got,
            vec![
                ("jinja2", "3.1.2"),
                ("pytest", "7.4.3"),
                ("requests", "2.31.0"),
                ("zope-event", "5.0")
            ]
        );
        assert!(out.packages.iter().all(|p| p.package_manager == PackageManager::Pipenv));
        assert!(out.packages.iter().any(|p| p.purl == "pkg:pypi/jinja2@3.1.2"));
        assert!(PipfileLock.wants("/srv/Pipfile.lock"));
        assert!(!PipfileLock.wants("/srv/Pipfile"));
    }

    #[test]
    fn pipfile_lock_with_wrong_types_warns_or_fails() {
        assert!(run(&PipfileLock, "/Pipfile.lock", "[1,2]").is_err());
        assert!(run(&PipfileLock, "/Pipfile.lock", &PIPFILE_LOCK[..200]).is_err());
        assert!(run(&PipfileLock, "/Pipfile.lock", &"[".repeat(100_000)).is_err());
        let data = r#"{"default": [], "develop": {"a": 1, "b": {"version": 2}, "c": {"version": ">=1"}, "d": {"version": "==1.0"}}}"#;
        let out = run(&PipfileLock, "/Pipfile.lock", data).unwrap();
        assert_eq!(pairs(&out), vec![("d", "1.0")]);
        assert_eq!(
            out.warnings,
            vec![
                "section default is not an object".to_string(),
                "package a is not an object".to_string(),
                "package b has no version".to_string(),
                "package c has version \">=1\", not an exact pin".to_string(),
            ]
        );
    }

    const UV_LOCK: &str = r#"version = 1
requires-python = ">=3.12"

[manifest]
members = ["myproject", "tools"]

[[package]]
name = "anyio"
version = "4.6.2.post1"
source = { registry = "https://pypi.org/simple" }
dependencies = [
    { name = "idna" },
    { name = "sniffio" },
]
sdist = { url = "https://files.pythonhosted.org/packages/anyio-4.6.2.post1.tar.gz", hash = "sha256:4c8bc31ccdb51c7f7bd251f51c609e038d63e34219b44aa86e47576389880b4c", size = 173422 }
wheels = [
    { url = "https://files.pythonhosted.org/packages/anyio-4.6.2.post1-py3-none-any.whl", hash = "sha256:6d170c36fba3bdd840c73d3868c1e777e33676a69c3a72cf0a0d5d6d8009b61d", size = 90377 },
]

[[package]]
name = "httpx"
version = "0.28.0"
source = { git = "https://github.com/encode/httpx?rev=0.28.0#a1b2c3d4e5f6" }

[[package]]
name = "idna"
version = "3.10"
source = { registry = "https://pypi.org/simple" }

[[package]]
name = "myproject"
version = "0.1.0"
source = { editable = "." }
dependencies = [{ name = "anyio" }]

[[package]]
name = "tools"
version = "0.0.1"
source = { virtual = "tools" }

[[package]]
name = "vendored"
version = "1.0"
source = { directory = "vendor/vendored" }

[[package]]
name = "local-wheel"
version = "2.0"
source = { path = "dist/local_wheel-2.0-py3-none-any.whl" }

[[package]]
name = "Typing_Extensions"
version = "4.12.2"
source = { registry = "https://pypi.org/simple" }
"#;

    #[test]
    fn uv_lock_skips_project_workspace_and_local_sources() {
        let out = run(&UvLock, "/app/uv.lock", UV_LOCK).unwrap();
        assert_eq!(out.warnings, Vec::<String>::new());
        assert_eq!(
            pairs(&out),
            vec![
                ("anyio", "4.6.2.post1"),
                ("httpx", "0.28.0"),
                ("idna", "3.10"),
                ("typing-extensions", "4.12.2")
            ]
        );
        assert!(out.packages.iter().all(|p| p.package_manager == PackageManager::Uv));
        assert_eq!(out.packages[3].purl, "pkg:pypi/typing-extensions@4.12.2");
    }

    #[test]
    fn uv_lock_registry_package_without_version_warns() {
        let data =
            "version = 1\n[[package]]\nname = \"myproject\"\nsource = { editable = \".\" }\n\n[[package]]\nname = \
                    \"x\"\nsource = { registry = \"https://pypi.org/simple\" }\n";
        let out = run(&UvLock, "/uv.lock", data).unwrap();
        assert!(out.packages.is_empty());
        assert_eq!(out.warnings, vec!["package x has no version".to_string()]);
    }

    #[test]
    fn lockfile_wants_match_exact_file_names() {
        assert!(PoetryLock.wants("/a/poetry.lock"));
        assert!(!PoetryLock.wants("/a/poetry.lock.bak"));
        assert!(UvLock.wants("/uv.lock"));
        assert!(!UvLock.wants("/a/myuv.lock"));
    }
}
