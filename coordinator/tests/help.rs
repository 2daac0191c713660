//! The `argus` binary as this package builds it. Being an integration test of the package that
//! owns the binary, this file also makes `cargo test --workspace` build `argus` in its build
//! phase, with the workspace's features: the end-to-end tests in `tests/` then find it up to
//! date instead of building it inside their first test's time limit.

use std::process::Command;

fn help(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_argus"))
        .args(args)
        .arg("--help")
        .output()
        .expect("run argus");
    assert!(out.status.success(), "argus {args:?} --help: {out:?}");
    String::from_utf8(out.stdout).expect("utf-8 help")
}

#[test]
fn every_subcommand_has_help_and_the_top_level_lists_them_all() {
    let subcommands = [
        "sbom",
        "scan",
        "db",
        "coordinator",
        "cluster",
        "up",
        "findings",
        "coverage",
        "scan-now",
        "worker",
        "agent",
    ];
    let top = help(&[]);
    for sub in subcommands {
        assert!(top.contains(&format!("  {sub} ")), "argus --help lacks {sub}:\n{top}");
        let text = help(&[sub]);
        assert!(text.contains("Usage: argus "), "argus {sub} --help:\n{text}");
    }
}

#[test]
fn sbom_help_names_its_format_and_target_flags() {
    let sub = help(&["sbom"]);
    for flag in ["--format", "--kind", "--platform", "--plain-http", "--output"] {
        assert!(sub.contains(flag), "sbom --help lacks {flag}:\n{sub}");
    }
}
