//! Ruby gems: locked by Bundler (`Gemfile.lock`, `gems.locked`) and installed (the `.gemspec`
//! files RubyGems writes under a `specifications/` directory of a gem home).

use std::collections::HashSet;

use argus_proto::{Ecosystem, Package, PackageManager};

use super::{ExtractError, ExtractInput, ExtractOutput, ExtractResult, Extractor};

pub struct GemfileLock;

impl Extractor for GemfileLock {
    fn name(&self) -> &'static str {
        "gemfilelock"
    }

    fn wants(&self, path: &str) -> bool {
        path.ends_with("/Gemfile.lock") || path.ends_with("/gems.locked")
    }

    fn extract(&self, input: &ExtractInput<'_>) -> ExtractResult {
        let text = String::from_utf8_lossy(input.data);
        let mut out = ExtractOutput::default();
        let mut seen = HashSet::new();
        let mut section = "";
        let mut in_specs = false;
        for (index, raw) in text.lines().enumerate() {
            let line = raw.strip_suffix('\r').unwrap_or(raw);
            if line.trim().is_empty() {
                continue;
            }
            if !line.starts_with(' ') {
                section = line.trim();
                in_specs = false;
                continue;
            }
            if !matches!(section, "GEM" | "GIT" | "PATH") {
                continue;
            }
            let indent = line.len() - line.trim_start_matches(' ').len();
            if indent == 2 {
                in_specs = line.trim() == "specs:";
                continue;
            }
            // Six spaces and more are the dependencies of the spec above.
            if !in_specs || indent != 4 {
                continue;
            }
            let Some((name, version)) = parse_spec(line.trim()) else {
                out.warnings.push(format!(
                    "line {}: spec {:?} has no version; skipped",
                    index + 1,
                    short(line.trim())
                ));
                continue;
            };
            if seen.insert((name.to_string(), version.to_string())) {
                out.packages
                    .push(gem(name, version, PackageManager::Bundler, input.path));
            }
        }
        Ok(out)
    }
}

pub struct Gemspec;

impl Extractor for Gemspec {
    fn name(&self) -> &'static str {
        "gemspec"
    }

    fn wants(&self, path: &str) -> bool {
        path.ends_with(".gemspec") && path.contains("/specifications/")
    }

    fn extract(&self, input: &ExtractInput<'_>) -> ExtractResult {
        let text = String::from_utf8_lossy(input.data);
        let mut name = None;
        let mut version = None;
        for line in text.lines() {
            if name.is_none() {
                name = assigned_string(line, "name");
            }
            if version.is_none() {
                version = assigned_string(line, "version");
            }
            if name.is_some() && version.is_some() {
                break;
            }
        }
        // RubyGems names the file `<name>-<version>[-<platform>].gemspec`; it stands in for
        // whatever the content does not say.
        let file = input.path.rsplit('/').next().unwrap_or("");
        let from_file = file.strip_suffix(".gemspec").and_then(split_full_name);
        let (name, version) = match (name, version, from_file) {
            (Some(n), Some(v), _) => (n, v),
            (Some(n), None, Some((_, v))) => (n, v.to_string()),
            (None, Some(v), Some((n, _))) => (n.to_string(), v),
            (None, None, Some((n, v))) => (n.to_string(), v.to_string()),
            _ => {
                return Err(ExtractError::new(
                    "no gem name and version in the content or the file name",
                ))
            }
        };
        let mut out = ExtractOutput::default();
        out.packages
            .push(gem(&name, &version, PackageManager::Gemspec, input.path));
        Ok(out)
    }
}

fn gem(name: &str, version: &str, manager: PackageManager, path: &str) -> Package {
    Package {
        name: name.to_string(),
        version: version.to_string(),
        ecosystem: Ecosystem::rubygems(),
        package_manager: manager,
        purl: crate::purl::purl("gem", None, name, version, &[]),
        file_path: path.to_string(),
        layer_digest: None,
        source_name: None,
        source_version: None,
        epoch: None,
        release: None,
        arch: None,
    }
}

fn short(s: &str) -> &str {
    match s.char_indices().nth(60) {
        Some((at, _)) => &s[..at],
        None => s,
    }
}

/// `nokogiri (1.15.4-x86_64-linux)` → (`nokogiri`, `1.15.4`). RubyGems turns `-` in versions
/// into `.pre.`, so a `-` inside the parentheses always starts the platform.
fn parse_spec(spec: &str) -> Option<(&str, &str)> {
    let (name, rest) = spec.split_once(" (")?;
    let inner = rest.strip_suffix(')')?;
    let version = inner.split('-').next()?.trim();
    let name = name.trim();
    (!name.is_empty() && !version.is_empty()).then_some((name, version))
}

/// `rack-3.0.8`, `nokogiri-1.15.4-x86_64-linux` → name and version: the name ends at the first
/// `-` followed by a digit.
fn split_full_name(full: &str) -> Option<(&str, &str)> {
    let at = full.match_indices('-').map(|(i, _)| i).find(|&i| {
        full.get(i + 1..)
            .and_then(|r| r.chars().next())
            .is_some_and(|c| c.is_ascii_digit())
    })?;
    let name = full.get(..at)?;
    let rest = full.get(at + 1..)?;
    let version = rest.split('-').next()?;
    (!name.is_empty() && !version.is_empty()).then_some((name, version))
}

/// The string assigned to `<receiver>.<attr>` on this line, e.g. `s.name = "rack".freeze`,
/// `spec.version = Gem::Version.new("1.0")`, `s.name = %q{rack}`.
fn assigned_string(line: &str, attr: &str) -> Option<String> {
    let line = line.trim();
    let (receiver, rest) = line.split_once('.')?;
    if receiver.is_empty() || !receiver.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return None;
    }
    let rest = rest.strip_prefix(attr)?.trim_start();
    let value = rest.strip_prefix('=')?;
    if value.starts_with('=') {
        return None;
    }
    first_string_literal(value)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

fn first_string_literal(s: &str) -> Option<&str> {
    let start = s.find(['"', '\'', '%'])?;
    let rest = s.get(start..)?;
    let mut chars = rest.chars();
    let close = match chars.next()? {
        '%' => {
            let mut kind = chars.next()?;
            if kind == 'q' || kind == 'Q' {
                kind = chars.next()?;
            }
            match kind {
                '{' => '}',
                '(' => ')',
                '[' => ']',
                '<' => '>',
                _ => return None,
            }
        }
        q => q,
    };
    let body = chars.as_str();
    let end = body.find(close)?;
    let value = body.get(..end)?;
    // Escapes and interpolation mean the literal is not a plain name or version.
    if value.contains('\\') || value.contains("#{") {
        return None;
    }
    Some(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Limits;

    fn run(ex: &dyn Extractor, path: &str, data: &str) -> ExtractResult {
        let limits = Limits::default();
        ex.extract(&ExtractInput {
            path,
            data: data.as_bytes(),
            os: None,
            limits: &limits,
        })
    }

    const LOCK: &str = "\
GIT
  remote: https://github.com/rails/rails.git
  revision: 8f7d3a5c1e0b9a1d2c3e4f5a6b7c8d9e0f1a2b3c
  branch: main
  specs:
    rails (7.2.0.alpha)
      actioncable (= 7.2.0.alpha)

PATH
  remote: engines/billing
  specs:
    billing (0.1.0)
      rails

GEM
  remote: https://rubygems.org/
  specs:
    actioncable (7.1.3)
      actionpack (= 7.1.3)
      nio4r (~> 2.0)
    nokogiri (1.15.4-x86_64-linux)
      racc (~> 1.4)
    nokogiri (1.15.4-arm64-darwin)
      racc (~> 1.4)
    racc (1.7.3)
    rack (3.0.8)

PLATFORMS
  arm64-darwin
  x86_64-linux

DEPENDENCIES
  billing!
  nokogiri
  rails!

CHECKSUMS
  rack (3.0.8) sha256=abc

RUBY VERSION
   ruby 3.2.2p53

BUNDLED WITH
   2.5.4
";

    #[test]
    fn gemfile_lock_yields_specs_of_gem_git_and_path_sections() {
        let out = run(&GemfileLock, "/app/Gemfile.lock", LOCK).unwrap();
        assert!(out.warnings.is_empty(), "{:?}", out.warnings);
        let got: Vec<(&str, &str)> = out
            .packages
            .iter()
            .map(|p| (p.name.as_str(), p.version.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("rails", "7.2.0.alpha"),
                ("billing", "0.1.0"),
                ("actioncable", "7.1.3"),
                ("nokogiri", "1.15.4"),
                ("racc", "1.7.3"),
                ("rack", "3.0.8"),
            ]
        );
        let rack = &out.packages[5];
        assert_eq!(rack.ecosystem.as_str(), "RubyGems");
        assert_eq!(rack.package_manager, PackageManager::Bundler);
        assert_eq!(rack.purl, "pkg:gem/rack@3.0.8");
        assert_eq!(rack.file_path, "/app/Gemfile.lock");
        assert_eq!(rack.layer_digest, None);
    }

    #[test]
    fn gemfile_lock_with_crlf_reads_the_same() {
        let crlf = LOCK.replace('\n', "\r\n");
        let a = run(&GemfileLock, "/app/gems.locked", &crlf).unwrap();
        let b = run(&GemfileLock, "/app/gems.locked", LOCK).unwrap();
        assert_eq!(a.packages, b.packages);
    }

    #[test]
    fn malformed_specs_warn_and_the_rest_is_read() {
        let text = "GEM\n  specs:\n    broken\n    (1.0)\n    half (2.0\n    ok (1.0)\n      dep (>= 0)\n";
        let out = run(&GemfileLock, "/Gemfile.lock", text).unwrap();
        let got: Vec<(&str, &str)> = out
            .packages
            .iter()
            .map(|p| (p.name.as_str(), p.version.as_str()))
            .collect();
        assert_eq!(got, [("ok", "1.0")]);
        assert_eq!(
            out.warnings,
            [
                "line 3: spec \"broken\" has no version; skipped",
                "line 4: spec \"(1.0)\" has no version; skipped",
                "line 5: spec \"half (2.0\" has no version; skipped",
            ]
        );
    }

    #[test]
    fn hostile_lockfiles_do_not_panic() {
        let limits = Limits::default();
        let inputs: Vec<Vec<u8>> = vec![
            vec![],
            b"\xff\xfe GEM\n  specs:\n    \xc3 (\xc3)\n".to_vec(),
            b"GEM\n  specs:\n    a (-x86)\n    b ()\n".to_vec(),
            "GEM\n  specs:\n"
                .bytes()
                .chain("    \u{e9}\u{e9} (1\n".repeat(100).bytes())
                .collect(),
        ];
        for data in &inputs {
            let input = ExtractInput {
                path: "/Gemfile.lock",
                data,
                os: None,
                limits: &limits,
            };
            assert!(GemfileLock.extract(&input).is_ok());
        }
    }

    #[test]
    fn wants_lockfiles_and_installed_specifications_only() {
        assert!(GemfileLock.wants("/app/Gemfile.lock"));
        assert!(GemfileLock.wants("/srv/gems.locked"));
        assert!(!GemfileLock.wants("/app/Gemfile"));
        assert!(!GemfileLock.wants("/app/MyGemfile.lock"));
        assert!(Gemspec.wants("/usr/local/bundle/specifications/rack-3.0.8.gemspec"));
        assert!(Gemspec.wants("/usr/local/lib/ruby/3.2.0/specifications/default/json-2.6.3.gemspec"));
        assert!(!Gemspec.wants("/app/rack.gemspec"));
        assert!(!Gemspec.wants("/usr/local/bundle/specifications/rack-3.0.8.gemspec.bak"));
    }

    const INSTALLED_SPEC: &str = r#"# -*- encoding: utf-8 -*-
# stub: rack 3.0.8 ruby lib

Gem::Specification.new do |s|
  s.name = "rack".freeze
  s.version = "3.0.8".freeze

  s.required_rubygems_version = Gem::Requirement.new(">= 0".freeze) if s.respond_to? :required_rubygems_version=
  s.metadata = { "changelog_uri" => "https://github.com/rack/rack/blob/main/CHANGELOG.md" } if s.respond_to? :metadata=
  s.require_paths = ["lib".freeze]
  s.authors = ["Leah Neukirchen".freeze]
  s.summary = "A modular Ruby webserver interface.".freeze
end
"#;

    #[test]
    fn installed_gemspec_yields_name_and_version_from_content() {
        let path = "/usr/local/bundle/specifications/rack-3.0.8.gemspec";
        let out = run(&Gemspec, path, INSTALLED_SPEC).unwrap();
        assert_eq!(out.packages.len(), 1);
        let p = &out.packages[0];
        assert_eq!((p.name.as_str(), p.version.as_str()), ("rack", "3.0.8"));
        assert_eq!(p.ecosystem.as_str(), "RubyGems");
        assert_eq!(p.package_manager, PackageManager::Gemspec);
        assert_eq!(p.purl, "pkg:gem/rack@3.0.8");
        assert_eq!(p.file_path, path);
    }

    #[test]
    fn gemspec_variants_of_the_assignments() {
        let cases = [
            (
                "spec.name = 'json'\nspec.version = Gem::Version.new(\"2.6.3\")\n",
                ("json", "2.6.3"),
            ),
            ("s.name = %q{rake}\ns.version = %q{13.0.6}\n", ("rake", "13.0.6")),
            (
                "  gem.name    =   \"net-http\".freeze\n  gem.version = \"0.4.1\"\n",
                ("net-http", "0.4.1"),
            ),
        ];
        for (text, (name, version)) in cases {
            let out = run(&Gemspec, "/g/specifications/x-0.gemspec", text).unwrap();
            assert_eq!(
                (out.packages[0].name.as_str(), out.packages[0].version.as_str()),
                (name, version),
                "{text}"
            );
        }
        // Comparisons, other attributes and interpolated strings are not assignments of a name.
        assert_eq!(assigned_string("s.name == \"x\"", "name"), None);
        assert_eq!(assigned_string("s.name_suffix = \"x\"", "name"), None);
        assert_eq!(assigned_string("s.summary = \"x\"", "name"), None);
        assert_eq!(assigned_string("s.version = \"#{VERSION}\"", "version"), None);
        assert_eq!(assigned_string("s.version = Foo::VERSION", "version"), None);
    }

    #[test]
    fn gemspec_falls_back_to_the_file_name() {
        let path = "/usr/local/bundle/specifications/nokogiri-1.15.4-x86_64-linux.gemspec";
        let out = run(
            &Gemspec,
            path,
            "Gem::Specification.new do |s|\n  s.version = VERSION\nend\n",
        )
        .unwrap();
        let p = &out.packages[0];
        assert_eq!((p.name.as_str(), p.version.as_str()), ("nokogiri", "1.15.4"));

        let path = "/usr/local/bundle/specifications/net-http-0.4.1.gemspec";
        let out = run(&Gemspec, path, "\u{0}\u{1}binary").unwrap();
        assert_eq!(
            (out.packages[0].name.as_str(), out.packages[0].version.as_str()),
            ("net-http", "0.4.1")
        );

        // The content's version wins over the file name's.
        let out = run(&Gemspec, path, "s.version = \"0.4.2\"\n").unwrap();
        assert_eq!(
            (out.packages[0].name.as_str(), out.packages[0].version.as_str()),
            ("net-http", "0.4.2")
        );
    }

    #[test]
    fn gemspec_without_name_or_version_anywhere_is_an_error() {
        let err = run(&Gemspec, "/g/specifications/weird.gemspec", "nothing here").unwrap_err();
        assert_eq!(
            err.to_string(),
            "no gem name and version in the content or the file name"
        );
        assert!(run(&Gemspec, "/g/specifications/-1.0.gemspec", "").is_err());
    }

    #[test]
    fn helpers_split_specs_and_full_names() {
        assert_eq!(
            parse_spec("nokogiri (1.15.4-x86_64-linux)"),
            Some(("nokogiri", "1.15.4"))
        );
        assert_eq!(parse_spec("rails (7.1.0.beta1)"), Some(("rails", "7.1.0.beta1")));
        assert_eq!(parse_spec("rack"), None);
        assert_eq!(split_full_name("rack-3.0.8"), Some(("rack", "3.0.8")));
        assert_eq!(split_full_name("net-http-0.4.1"), Some(("net-http", "0.4.1")));
        assert_eq!(split_full_name("grpc-1.60.0-x86_64-linux"), Some(("grpc", "1.60.0")));
        assert_eq!(split_full_name("noversion"), None);
    }
}
