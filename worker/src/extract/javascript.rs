//! npm packages: `package-lock.json` / `npm-shrinkwrap.json` (lockfile versions 1, 2 and 3) and
//! the `package.json` of every package installed under a `node_modules` directory.

use std::collections::HashSet;

use argus_proto::{Ecosystem, Package, PackageManager};
use serde_json::{Map, Value};

use super::python::push_warning;
use super::{utf8, ExtractError, ExtractInput, ExtractOutput, ExtractResult, Extractor};

/// Nesting levels of a version 1 lockfile that are followed. npm 5 and later hoist
/// dependencies, so real trees stay far below this; it only stops crafted input.
const MAX_V1_DEPTH: usize = 40;

/// Whether `v` looks like a registry version (`1.2.3`, `2.0.0-rc.1+build.5`). Git URLs, `file:`
/// paths and tarball URLs, which lockfiles write in the same field, do not.
pub(crate) fn is_semverish(v: &str) -> bool {
    v.starts_with(|c: char| c.is_ascii_digit())
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+'))
}

/// Splits `name@range` (also `@scope/name@range`) at the `@` that ends the name.
pub(crate) fn split_descriptor(descriptor: &str) -> Option<(&str, &str)> {
    let at = descriptor.get(1..)?.find('@')?.checked_add(1)?;
    let name = descriptor.get(..at)?;
    let range = descriptor.get(at.checked_add(1)?..)?;
    Some((name, range))
}

/// Collects npm packages of one file, dropping repeats of the same name and version (a package
/// installed at several places of the tree).
pub(crate) struct NpmCollector<'a> {
    path: &'a str,
    manager: PackageManager,
    seen: HashSet<(String, String)>,
    pub(crate) out: ExtractOutput,
}

impl<'a> NpmCollector<'a> {
    pub(crate) fn new(path: &'a str, manager: PackageManager) -> Self {
        Self {
            path,
            manager,
            seen: HashSet::new(),
            out: ExtractOutput::default(),
        }
    }

    pub(crate) fn add(&mut self, name: &str, version: &str) {
        let name = name.trim();
        let version = version.trim();
        if self.seen.insert((name.to_string(), version.to_string())) {
            self.out
                .packages
                .push(npm_package(name, version, self.manager, self.path));
        }
    }

    pub(crate) fn warn(&mut self, msg: String) {
        push_warning(&mut self.out, msg);
    }
}

/// An npm package record; a scoped name becomes the purl namespace (`@babel/core` →
/// `pkg:npm/%40babel/core@...`).
pub(crate) fn npm_package(name: &str, version: &str, manager: PackageManager, path: &str) -> Package {
    let (namespace, short) = match name.split_once('/') {
        Some((scope, rest)) if scope.starts_with('@') => (Some(scope), rest),
        _ => (None, name),
    };
    Package {
        name: name.to_string(),
        version: version.to_string(),
        ecosystem: Ecosystem::npm(),
        package_manager: manager,
        purl: crate::purl::purl("npm", namespace, short, version, &[]),
        file_path: path.to_string(),
        layer_digest: None,
        source_name: None,
        source_version: None,
        epoch: None,
        release: None,
        arch: None,
    }
}

fn parse_json_object(input: &ExtractInput<'_>) -> Result<Map<String, Value>, ExtractError> {
    let text = utf8(input)?;
    match serde_json::from_str(text) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(ExtractError::new("not a json object")),
        Err(e) => Err(ExtractError::new(format!("invalid json: {e}"))),
    }
}

/// npm's `package-lock.json` and `npm-shrinkwrap.json`.
pub struct PackageLock;

impl Extractor for PackageLock {
    fn name(&self) -> &'static str {
        "packagelock"
    }

    fn wants(&self, path: &str) -> bool {
        let file = path.rsplit('/').next().unwrap_or(path);
        file == "package-lock.json" || file == "npm-shrinkwrap.json"
    }

    fn extract(&self, input: &ExtractInput<'_>) -> ExtractResult {
        let doc = parse_json_object(input)?;
        let mut c = NpmCollector::new(input.path, PackageManager::Npm);
        // Version 2 lockfiles carry both layouts for old npm clients; `packages` is the complete
        // one.
        match doc.get("packages") {
            Some(Value::Object(packages)) => read_packages(packages, &mut c),
            Some(_) => return Err(ExtractError::new("packages is not an object")),
            None => match doc.get("dependencies") {
                Some(Value::Object(deps)) => {
                    let mut too_deep = false;
                    read_v1_dependencies(deps, 0, &mut c, &mut too_deep);
                    if too_deep {
                        c.warn(format!(
                            "dependencies nested deeper than {MAX_V1_DEPTH} levels were not read"
                        ));
                    }
                }
                Some(_) => return Err(ExtractError::new("dependencies is not an object")),
                None => {}
            },
        }
        Ok(c.out)
    }
}

/// Lockfile versions 2 and 3: a flat map from install location to package.
fn read_packages(packages: &Map<String, Value>, c: &mut NpmCollector<'_>) {
    for (key, entry) in packages {
        // "" is the project itself; keys without node_modules are workspace folders, also the
        // project's own code.
        let Some(at) = key.rfind("node_modules/") else { continue };
        let key_name = key.get(at.saturating_add("node_modules/".len())..).unwrap_or("");
        let Some(entry) = entry.as_object() else {
            c.warn(format!("package {key} is not an object"));
            continue;
        };
        if entry.get("link").and_then(Value::as_bool) == Some(true) {
            continue;
        }
        // An aliased install (`"x": "npm:real@1"`) sits under the alias and names the real
        // package in `name`.
        let name = entry.get("name").and_then(Value::as_str).unwrap_or(key_name).trim();
        if name.is_empty() {
            c.warn(format!("package {key} has no name"));
            continue;
        }
        match entry.get("version").and_then(Value::as_str) {
            Some(version) if is_semverish(version.trim()) => c.add(name, version),
            Some(_) => {}
            None => c.warn(format!("package {key} has no version")),
        }
    }
}

/// Lockfile version 1: `dependencies` maps names to packages that may nest their own
/// `dependencies` where versions conflict.
fn read_v1_dependencies(deps: &Map<String, Value>, depth: usize, c: &mut NpmCollector<'_>, too_deep: &mut bool) {
    if depth >= MAX_V1_DEPTH {
        *too_deep = true;
        return;
    }
    for (name, entry) in deps {
        let Some(entry) = entry.as_object() else {
            c.warn(format!("dependency {name} is not an object"));
            continue;
        };
        match entry.get("version").and_then(Value::as_str).map(str::trim) {
            // Aliases record the real package as `npm:real@1.2.3`.
            Some(version) => match version.strip_prefix("npm:").and_then(split_descriptor) {
                Some((real, v)) if is_semverish(v) => c.add(real, v),
                Some(_) => {}
                None if is_semverish(version) && !name.trim().is_empty() => c.add(name, version),
                None => {}
            },
            None => c.warn(format!("dependency {name} has no version")),
        }
        if let Some(nested) = entry.get("dependencies") {
            match nested.as_object() {
                Some(nested) => read_v1_dependencies(nested, depth.saturating_add(1), c, too_deep),
                None => c.warn(format!("dependencies of {name} is not an object")),
            }
        }
    }
}

/// The manifest of one installed package, `node_modules/<name>/package.json` or
/// `node_modules/@scope/<name>/package.json`.
pub struct NodeModules;

impl Extractor for NodeModules {
    fn name(&self) -> &'static str {
        "nodemodules"
    }

    fn wants(&self, path: &str) -> bool {
        let Some(dir) = path.strip_suffix("/package.json") else {
            return false;
        };
        let Some(at) = dir.rfind("/node_modules/") else {
            return false;
        };
        let rest = dir.get(at.saturating_add("/node_modules/".len())..).unwrap_or("");
        match rest.split_once('/') {
            // `.bin`, `.pnpm` and other dot directories are npm's bookkeeping, not packages.
            None => !rest.is_empty() && !rest.starts_with(['.', '@']),
            Some((scope, name)) => {
                scope.len() > 1
                    && scope.starts_with('@')
                    && !name.is_empty()
                    && !name.contains('/')
                    && !name.starts_with('.')
            }
        }
    }

    fn extract(&self, input: &ExtractInput<'_>) -> ExtractResult {
        let manifest = parse_json_object(input)?;
        let mut c = NpmCollector::new(input.path, PackageManager::Nodepkg);
        if manifest.get("private").and_then(Value::as_bool) == Some(true) {
            return Ok(c.out);
        }
        let name = manifest
            .get("name")
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|n| !n.is_empty());
        let version = manifest
            .get("version")
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|v| !v.is_empty());
        match (name, version) {
            (Some(name), Some(version)) => c.add(name, version),
            (None, _) => c.warn("package.json has no name".into()),
            (Some(name), None) => c.warn(format!("package.json of {name} has no version")),
        }
        Ok(c.out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::extract::testutil::run;

    fn sorted_pairs(out: &ExtractOutput) -> Vec<(&str, &str)> {
        let mut v: Vec<_> = out
            .packages
            .iter()
            .map(|p| (p.name.as_str(), p.version.as_str()))
            .collect();
        v.sort();
        v
    }

    const LOCK_V1: &str = r#"{
  "name": "web-app",
  "version": "1.0.0",
  "lockfileVersion": 1,
  "requires": true,
  "dependencies": {
    "@babel/code-frame": {
      "version": "7.12.13",
      "resolved": "https://registry.npmjs.org/@babel/code-frame/-/code-frame-7.12.13.tgz",
      "integrity": "sha512-HV1Cm0Q3ZrpCR93tkWOYiuYIgLxZXZFVG2VgK+MBWjUqZTundupbfx2aXarXuw5Ko5aMcjtJgbSs4vUGBS5v6g==",
      "dev": true,
      "requires": { "@babel/highlight": "^7.12.13" }
    },
    "debug": {
      "version": "4.3.1",
      "resolved": "https://registry.npmjs.org/debug/-/debug-4.3.1.tgz",
      "requires": { "ms": "2.1.2" },
      "dependencies": {
        "ms": { "version": "2.1.2", "resolved": "https://registry.npmjs.org/ms/-/ms-2.1.2.tgz" }
      }
    },
    "ms": { "version": "2.0.0" },
    "string-width-cjs": { "version": "npm:string-width@4.2.3" },
    "types-alias": { "version": "npm:@types/node@18.11.9" },
    "my-local": { "version": "file:../my-local" },
    "left-pad": { "version": "git+https://github.com/stevemao/left-pad.git#5a1f36a8bd0e4f4e4d6cbe1d0a3b1c5ac6d1d7f2" }
  }
}"#;

    #[test]
    fn lockfile_v1_reads_nested_dependencies_and_aliases() {
        let out = run(&PackageLock, "/app/package-lock.json", LOCK_V1).unwrap();
        assert_eq!(out.warnings, Vec::<String>::new());
        assert_eq!(
            sorted_pairs(&out),
            vec![
                ("@babel/code-frame", "7.12.13"),
                ("@types/node", "18.11.9"),
                ("debug", "4.3.1"),
                ("ms", "2.0.0"),
                ("ms", "2.1.2"),
                ("string-width", "4.2.3"),
            ]
        );
        let babel = out.packages.iter().find(|p| p.name == "@babel/code-frame").unwrap();
        assert_eq!(babel.purl, "pkg:npm/%40babel/code-frame@7.12.13");
        assert_eq!(babel.ecosystem, Ecosystem::npm());
        assert_eq!(babel.package_manager, PackageManager::Npm);
        assert_eq!(babel.file_path, "/app/package-lock.json");
        let debug = out.packages.iter().find(|p| p.name == "debug").unwrap();
        assert_eq!(debug.purl, "pkg:npm/debug@4.3.1");
    }

    const LOCK_V2: &str = r#"{
  "name": "web-app",
  "version": "1.0.0",
  "lockfileVersion": 2,
  "requires": true,
  "packages": {
    "": { "name": "web-app", "version": "1.0.0", "workspaces": ["packages/*"], "dependencies": { "express": "^4.18.2" } },
    "node_modules/@types/node": {
      "version": "20.8.10",
      "resolved": "https://registry.npmjs.org/@types/node/-/node-20.8.10.tgz",
      "integrity": "sha512-TlgT8JntpcbmKUFzjhsyhGfP2fsiz1Mv56im6enJ905xG1DAYesxJaeSbGqQmAw8OWPdhyJGhGSQGKRNJ45u9w==",
      "dev": true
    },
    "node_modules/express": { "version": "4.18.2", "resolved": "https://registry.npmjs.org/express/-/express-4.18.2.tgz" },
    "node_modules/express/node_modules/debug": { "version": "2.6.9" },
    "node_modules/string-width-cjs": { "name": "string-width", "version": "4.2.3" },
    "node_modules/shared": { "resolved": "packages/shared", "link": true },
    "packages/shared": { "name": "shared", "version": "0.0.1" },
    "node_modules/local-thing": { "version": "file:vendor/local-thing" }
  },
  "dependencies": {
    "express": { "version": "4.18.2" },
    "only-in-v1-section": { "version": "9.9.9" }
  }
}"#;

    #[test]
    fn lockfile_v2_reads_packages_not_the_legacy_dependencies() {
        let out = run(&PackageLock, "/app/npm-shrinkwrap.json", LOCK_V2).unwrap();
        assert_eq!(out.warnings, Vec::<String>::new());
        assert_eq!(
            sorted_pairs(&out),
            vec![
                ("@types/node", "20.8.10"),
                ("debug", "2.6.9"),
                ("express", "4.18.2"),
                ("string-width", "4.2.3")
            ]
        );
        let types = out.packages.iter().find(|p| p.name == "@types/node").unwrap();
        assert_eq!(types.purl, "pkg:npm/%40types/node@20.8.10");
    }

    const LOCK_V3: &str = r#"{
  "name": "api",
  "version": "2.1.0",
  "lockfileVersion": 3,
  "requires": true,
  "packages": {
    "": { "name": "api", "version": "2.1.0" },
    "node_modules/@nestjs/core": { "version": "10.2.8", "license": "MIT" },
    "node_modules/@nestjs/core/node_modules/@nestjs/common": { "version": "10.2.7" },
    "node_modules/@nestjs/common": { "version": "10.2.8" },
    "node_modules/lodash": { "version": "4.17.21" },
    "node_modules/a/node_modules/lodash": { "version": "4.17.21" },
    "node_modules/broken": { "resolved": "https://registry.npmjs.org/broken/-/broken.tgz" },
    "node_modules/weird": 7
  }
}"#;

    #[test]
    fn lockfile_v3_names_nested_scoped_packages_and_dedupes() {
        let out = run(&PackageLock, "/app/package-lock.json", LOCK_V3).unwrap();
        assert_eq!(
            sorted_pairs(&out),
            vec![
                ("@nestjs/common", "10.2.7"),
                ("@nestjs/common", "10.2.8"),
                ("@nestjs/core", "10.2.8"),
                ("lodash", "4.17.21"),
            ]
        );
        assert_eq!(
            out.warnings,
            vec![
                "package node_modules/broken has no version".to_string(),
                "package node_modules/weird is not an object".to_string()
            ]
        );
    }

    fn nested_v1(levels: usize) -> String {
        let mut s = String::from(r#"{"lockfileVersion": 1, "dependencies": "#);
        for i in 0..levels {
            s.push_str(&format!(r#"{{"pkg{i}": {{"version": "1.0.{i}", "dependencies": "#));
        }
        s.push_str("{}");
        for _ in 0..levels {
            s.push_str("}}");
        }
        s.push('}');
        s
    }

    #[test]
    fn deeply_nested_v1_lockfile_is_bounded() {
        let out = run(&PackageLock, "/package-lock.json", &nested_v1(50)).unwrap();
        assert_eq!(out.packages.len(), MAX_V1_DEPTH);
        assert_eq!(
            out.packages.last().unwrap().version,
            format!("1.0.{}", MAX_V1_DEPTH - 1)
        );
        assert_eq!(
            out.warnings,
            vec![format!(
                "dependencies nested deeper than {MAX_V1_DEPTH} levels were not read"
            )]
        );
        // Beyond the JSON parser's own nesting limit the file is refused rather than overflowing
        // the stack.
        assert!(run(&PackageLock, "/package-lock.json", &nested_v1(5_000)).is_err());
    }

    #[test]
    fn malformed_package_locks_are_errors_or_warnings() {
        assert!(run(&PackageLock, "/package-lock.json", &LOCK_V3[..300]).is_err());
        assert!(run(&PackageLock, "/package-lock.json", "[]").is_err());
        assert!(run(&PackageLock, "/package-lock.json", r#"{"packages": []}"#).is_err());
        assert!(run(&PackageLock, "/package-lock.json", r#"{"dependencies": "x"}"#).is_err());
        let out = run(&PackageLock, "/package-lock.json", r#"{"lockfileVersion": 3}"#).unwrap();
        assert!(out.packages.is_empty() && out.warnings.is_empty());
        let data = r#"{"dependencies": {"a": 1, "b": {}, "c": {"version": 5}, "d": {"version": "1.0.0", "dependencies": []}}}"#;
        let out = run(&PackageLock, "/package-lock.json", data).unwrap();
        assert_eq!(sorted_pairs(&out), vec![("d", "1.0.0")]);
        assert_eq!(
            out.warnings,
            vec![
                "dependency a is not an object".to_string(),
                "dependency b has no version".to_string(),
                "dependency c has no version".to_string(),
                "dependencies of d is not an object".to_string(),
            ]
        );
        let out = run(
            &PackageLock,
            "/package-lock.json",
            r#"{"packages": {"node_modules/": {"version": "1.0.0"}}}"#,
        )
        .unwrap();
        assert!(out.packages.is_empty());
        assert_eq!(out.warnings, vec!["package node_modules/ has no name".to_string()]);
    }

    #[test]
    fn package_lock_wants_lockfile_names_only() {
        assert!(PackageLock.wants("/app/package-lock.json"));
        assert!(PackageLock.wants("/app/npm-shrinkwrap.json"));
        assert!(!PackageLock.wants("/app/package.json"));
        assert!(!PackageLock.wants("/app/node_modules/.package-lock.json"));
    }

    #[test]
    fn node_modules_wants_only_package_roots() {
        let ex = NodeModules;
        assert!(ex.wants("/app/node_modules/express/package.json"));
        assert!(ex.wants("/app/node_modules/@babel/core/package.json"));
        assert!(ex.wants("/app/node_modules/a/node_modules/@types/node/package.json"));
        assert!(ex.wants("/app/node_modules/.pnpm/lodash@4.17.21/node_modules/lodash/package.json"));
        assert!(!ex.wants("/app/node_modules/express/lib/package.json"));
        assert!(!ex.wants("/app/node_modules/@babel/core/lib/package.json"));
        assert!(!ex.wants("/app/node_modules/@babel/package.json"));
        assert!(!ex.wants("/app/node_modules/.bin/package.json"));
        assert!(!ex.wants("/app/package.json"));
        assert!(!ex.wants("/app/node_modules/express/package.json.orig"));
        assert!(!ex.wants("/node_modules/package.json"));
    }

    #[test]
    fn installed_package_json_yields_name_and_version() {
        let data = r#"{
  "name": "@babel/core",
  "version": "7.23.2",
  "description": "Babel compiler core.",
  "main": "./lib/index.js",
  "license": "MIT",
  "dependencies": { "@babel/code-frame": "^7.22.13" }
}"#;
        let path = "/usr/lib/node_modules/@babel/core/package.json";
        let out = run(&NodeModules, path, data).unwrap();
        assert_eq!(out.warnings, Vec::<String>::new());
        assert_eq!(out.packages.len(), 1);
        let p = &out.packages[0];
        assert_eq!((p.name.as_str(), p.version.as_str()), ("@babel/core", "7.23.2"));
        assert_eq!(p.purl, "pkg:npm/%40babel/core@7.23.2");
        assert_eq!(p.package_manager, PackageManager::Nodepkg);
        assert_eq!(p.file_path, path);
    }

    #[test]
    fn private_or_incomplete_package_json_yields_nothing() {
        let path = "/app/node_modules/x/package.json";
        let out = run(
            &NodeModules,
            path,
            r#"{"name": "x", "version": "1.0.0", "private": true}"#,
        )
        .unwrap();
        assert!(out.packages.is_empty() && out.warnings.is_empty());
        let out = run(&NodeModules, path, r#"{"name": "x"}"#).unwrap();
        assert_eq!(out.warnings, vec!["package.json of x has no version".to_string()]);
        let out = run(&NodeModules, path, r#"{"version": "1.0.0", "name": ["x"]}"#).unwrap();
        assert_eq!(out.warnings, vec!["package.json has no name".to_string()]);
        assert!(run(&NodeModules, path, r#"{"name": "x", "vers"#).is_err());
        assert!(run(&NodeModules, path, "\"just a string\"").is_err());
    }

    #[test]
    fn descriptor_splitting_handles_scopes_and_garbage() {
        assert_eq!(split_descriptor("@babel/core@^7.0.0"), Some(("@babel/core", "^7.0.0")));
        assert_eq!(split_descriptor("lodash@4.17.21"), Some(("lodash", "4.17.21")));
        assert_eq!(split_descriptor("@"), None);
        assert_eq!(split_descriptor(""), None);
        assert_eq!(split_descriptor("nover"), None);
        assert!(is_semverish("1.2.3-rc.1+b5"));
        assert!(!is_semverish("file:../x"));
        assert!(!is_semverish(""));
    }
}
