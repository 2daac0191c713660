//! PLACEHOLDER: replaced by the implementation.

use argus_proto::OsInfo;

/// Paths that tell the operating system, most authoritative first.
pub const OS_FILES: &[&str] = &["/etc/os-release", "/usr/lib/os-release"];

/// Parses an os-release file.
pub fn parse(_data: &[u8]) -> Option<OsInfo> {
    None
}
