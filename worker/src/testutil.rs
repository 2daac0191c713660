//! Helpers shared by unit tests across the crate.

use std::io::Write;
use std::process::{Command, Stdio};

/// Runs a reference tool with `input` on its standard input and returns its standard output.
/// A tool that is missing or fails fails the test with `hint` (how to install it): the
/// cross-checks must never pass by not running.
pub fn pipe_through(cmd: &mut Command, input: &str, hint: &str) -> String {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?} ({e}); {hint}"));
    // A tool that exits early breaks the pipe; its exit status is the better diagnosis, so the
    // write result is only looked at after it.
    let written = child.stdin.take().expect("stdin is piped").write_all(input.as_bytes());
    let out = child.wait_with_output().expect("reference tool output");
    assert!(
        out.status.success(),
        "{cmd:?} failed; {hint}:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    written.expect("writing to the reference tool");
    String::from_utf8(out.stdout).expect("reference tool output is UTF-8")
}
