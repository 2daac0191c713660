//! What the benchmarks need of the process they run in.

use std::path::{Path, PathBuf};

/// Peak resident memory of this process so far (`VmHWM`), in KiB.
pub fn peak_rss_kib() -> u64 {
    status_kib("self", "VmHWM:")
}

/// A memory figure (`VmRSS:`, `VmHWM:`, ...) from `/proc/<pid>/status`, in KiB; 0 when the
/// process or the field is gone.
pub fn status_kib(pid: &str, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with(field)).map(str::to_string))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

/// Bytes of every file under `dir`.
pub fn du_bytes(dir: &Path) -> u64 {
    let Ok(rd) = std::fs::read_dir(dir) else { return 0 };
    rd.flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => du_bytes(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

/// Points `ARGUS_BIN` (read by the process helpers of `argus-tests`) at the `argus` beside this
/// binary in the same target directory, unless it is already set.
pub fn locate_argus() -> anyhow::Result<()> {
    if std::env::var_os("ARGUS_BIN").is_none() {
        let sibling = std::env::current_exe()?.with_file_name("argus");
        anyhow::ensure!(
            sibling.exists(),
            "set ARGUS_BIN: no argus binary at {}",
            sibling.display()
        );
        std::env::set_var("ARGUS_BIN", sibling);
    }
    Ok(())
}

/// The directory a benchmark works in: the one given, or a temporary one removed when the
/// returned guard drops.
pub fn work_dir(given: Option<&Path>) -> anyhow::Result<(PathBuf, Option<tempfile::TempDir>)> {
    Ok(match given {
        Some(d) => (d.to_path_buf(), None),
        None => {
            let tmp = tempfile::tempdir()?;
            (tmp.path().to_path_buf(), Some(tmp))
        }
    })
}
