//! PHP packages locked by Composer (`composer.lock`), runtime and development dependencies.

use argus_proto::{Ecosystem, Package, PackageManager};
use serde_json::Value;

use super::{ExtractError, ExtractInput, ExtractOutput, ExtractResult, Extractor};

pub struct ComposerLock;

impl Extractor for ComposerLock {
    fn name(&self) -> &'static str {
        "composerlock"
    }

    fn wants(&self, path: &str) -> bool {
        path.ends_with("/composer.lock")
    }

    fn extract(&self, input: &ExtractInput<'_>) -> ExtractResult {
        let doc: Value =
            serde_json::from_slice(input.data).map_err(|e| ExtractError::new(format!("not valid JSON: {e}")))?;
        let Some(root) = doc.as_object() else {
            return Err(ExtractError::new(
                "not a composer.lock document: top level is not an object",
            ));
        };
        let mut out = ExtractOutput::default();
        for key in ["packages", "packages-dev"] {
            let list = match root.get(key) {
                None | Some(Value::Null) => continue,
                Some(Value::Array(list)) => list,
                Some(_) => {
                    out.warnings.push(format!("{key} is not a list; skipped"));
                    continue;
                }
            };
            for (index, entry) in list.iter().enumerate() {
                let name = entry
                    .get("name")
                    .and_then(Value::as_str)
                    .map(str::trim)
                    .filter(|n| !n.is_empty());
                let Some(name) = name else {
                    out.warnings.push(format!("{key}[{index}]: no package name; skipped"));
                    continue;
                };
                let version = entry
                    .get("version")
                    .and_then(Value::as_str)
                    .map(str::trim)
                    .filter(|v| !v.is_empty());
                let Some(version) = version else {
                    out.warnings
                        .push(format!("{key}[{index}] ({name}): no version; skipped"));
                    continue;
                };
                out.packages.push(package(name, version, input.path));
            }
        }
        Ok(out)
    }
}

fn package(name: &str, version: &str, path: &str) -> Package {
    // Packagist names are case-insensitive and published in lowercase.
    let name = name.to_ascii_lowercase();
    let version = normalize_version(version);
    let (namespace, short) = match name.split_once('/') {
        Some((vendor, pkg)) if !vendor.is_empty() && !pkg.is_empty() => (Some(vendor), pkg),
        _ => (None, name.as_str()),
    };
    let purl = crate::purl::purl("composer", namespace, short, version, &[]);
    Package {
        name: name.clone(),
        version: version.to_string(),
        ecosystem: Ecosystem::packagist(),
        package_manager: PackageManager::Composer,
        purl,
        file_path: path.to_string(),
        layer_digest: None,
        source_name: None,
        source_version: None,
        epoch: None,
        release: None,
        arch: None,
    }
}

/// Composer records the tag (`v1.2.3`); advisories give the bare version, so a single `v` in
/// front of a digit is dropped. Branch versions (`dev-main`) stay as they are.
fn normalize_version(version: &str) -> &str {
    match version.strip_prefix(['v', 'V']) {
        Some(rest) if rest.starts_with(|c: char| c.is_ascii_digit()) => rest,
        _ => version,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Limits;

    fn run(data: &str) -> ExtractResult {
        let limits = Limits::default();
        ComposerLock.extract(&ExtractInput {
            path: "/var/www/composer.lock",
            data: data.as_bytes(),
            os: None,
            limits: &limits,
        })
    }

    const LOCK: &str = r#"{
    "_readme": ["This file locks the dependencies of your project to a known state"],
    "content-hash": "e3b0c44298fc1c149afbf4c8996fb924",
    "packages": [
        {
            "name": "guzzlehttp/guzzle",
            "version": "7.8.1",
            "source": {"type": "git", "url": "https://github.com/guzzle/guzzle.git", "reference": "41042bc"},
            "require": {"php": "^7.2.5 || ^8.0"},
            "type": "library"
        },
        {
            "name": "Symfony/Console",
            "version": "v6.4.3",
            "type": "library"
        },
        {
            "name": "laravel/framework",
            "version": "dev-main",
            "type": "library"
        }
    ],
    "packages-dev": [
        {"name": "phpunit/phpunit", "version": "10.5.10"}
    ],
    "aliases": [],
    "minimum-stability": "stable"
}"#;

    #[test]
    fn lock_yields_runtime_and_dev_packages() {
        let out = run(LOCK).unwrap();
        assert!(out.warnings.is_empty(), "{:?}", out.warnings);
        let got: Vec<(&str, &str)> = out
            .packages
            .iter()
            .map(|p| (p.name.as_str(), p.version.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("guzzlehttp/guzzle", "7.8.1"),
                ("symfony/console", "6.4.3"),
                ("laravel/framework", "dev-main"),
                ("phpunit/phpunit", "10.5.10"),
            ]
        );
        let guzzle = &out.packages[0];
        assert_eq!(guzzle.ecosystem.as_str(), "Packagist");
        assert_eq!(guzzle.package_manager, PackageManager::Composer);
        assert_eq!(guzzle.purl, "pkg:composer/guzzlehttp/guzzle@7.8.1");
        assert_eq!(guzzle.file_path, "/var/www/composer.lock");
        assert_eq!(guzzle.layer_digest, None);
        assert_eq!(out.packages[1].purl, "pkg:composer/symfony/console@6.4.3");
    }

    #[test]
    fn only_a_v_before_a_digit_is_stripped() {
        assert_eq!(normalize_version("v1.2.3"), "1.2.3");
        assert_eq!(normalize_version("V2.0"), "2.0");
        assert_eq!(normalize_version("1.2.3"), "1.2.3");
        assert_eq!(normalize_version("vv1.0"), "vv1.0");
        assert_eq!(normalize_version("version-1"), "version-1");
        assert_eq!(normalize_version("v"), "v");
    }

    #[test]
    fn entries_without_name_or_version_warn_and_the_rest_is_read() {
        let text = r#"{"packages": [
            {"version": "1.0"},
            {"name": "a/b"},
            {"name": "a/c", "version": 3},
            "not an object",
            {"name": "noslash", "version": "1.0"},
            {"name": "ok/pkg", "version": "2.0.0"}
        ], "packages-dev": {"oops": true}}"#;
        let out = run(text).unwrap();
        let got: Vec<(&str, &str)> = out
            .packages
            .iter()
            .map(|p| (p.name.as_str(), p.purl.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("noslash", "pkg:composer/noslash@1.0"),
                ("ok/pkg", "pkg:composer/ok/pkg@2.0.0")
            ]
        );
        assert_eq!(
            out.warnings,
            [
                "packages[0]: no package name; skipped",
                "packages[1] (a/b): no version; skipped",
                "packages[2] (a/c): no version; skipped",
                "packages[3]: no package name; skipped",
                "packages-dev is not a list; skipped",
            ]
        );
    }

    #[test]
    fn lock_without_package_lists_is_empty() {
        let out = run(r#"{"packages": null}"#).unwrap();
        assert!(out.packages.is_empty() && out.warnings.is_empty());
    }

    #[test]
    fn invalid_documents_are_errors() {
        assert!(run("").unwrap_err().to_string().starts_with("not valid JSON"));
        assert!(run("{\"packages\": [")
            .unwrap_err()
            .to_string()
            .starts_with("not valid JSON"));
        assert_eq!(
            run("[1, 2]").unwrap_err().to_string(),
            "not a composer.lock document: top level is not an object"
        );
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(run(&deep).is_err());
        let limits = Limits::default();
        let input = ExtractInput {
            path: "/composer.lock",
            data: b"\xff\xfe{}",
            os: None,
            limits: &limits,
        };
        assert!(ComposerLock.extract(&input).is_err());
    }

    #[test]
    fn wants_composer_lock_only() {
        assert!(ComposerLock.wants("/var/www/composer.lock"));
        assert!(ComposerLock.wants("/composer.lock"));
        assert!(!ComposerLock.wants("/var/www/composer.json"));
        assert!(!ComposerLock.wants("/var/www/mycomposer.lock"));
    }
}
