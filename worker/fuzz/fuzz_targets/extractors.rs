//! Every path-selected extractor on arbitrary bytes: the first byte picks the extractor.
#![no_main]

use argus_worker::extract::{self, ExtractInput};
use argus_worker::Limits;
use libfuzzer_sys::fuzz_target;

/// One path each extractor wants; the first it accepts is used.
const PATHS: &[&str] = &[
    "/var/lib/dpkg/status",
    "/var/lib/dpkg/status.d/base",
    "/lib/apk/db/installed",
    "/var/lib/rpm/rpmdb.sqlite",
    "/usr/lib/python3/site-packages/x-1.0.dist-info/METADATA",
    "/usr/lib/python3/site-packages/x-1.0.egg-info/PKG-INFO",
    "/app/requirements.txt",
    "/app/poetry.lock",
    "/app/Pipfile.lock",
    "/app/uv.lock",
    "/app/package-lock.json",
    "/app/node_modules/x/package.json",
    "/app/yarn.lock",
    "/app/pnpm-lock.yaml",
    "/app/Cargo.lock",
    "/app/go.mod",
    "/app/x.jar",
    "/app/Gemfile.lock",
    "/usr/local/bundle/specifications/x-1.0.gemspec",
    "/app/composer.lock",
];

fuzz_target!(|data: &[u8]| {
    let Some((&sel, body)) = data.split_first() else { return };
    let extractors = extract::all();
    let ex = &extractors[sel as usize % extractors.len()];
    let limits = Limits {
        max_file_bytes: 1 << 20,
        max_entries: 1000,
        ..Limits::default()
    };
    let os = extract::os_release::parse(b"ID=debian\nVERSION_ID=12\n");
    for path in PATHS.iter().filter(|p| ex.wants(p)).take(1) {
        let _ = ex.extract(&ExtractInput {
            path,
            data: body,
            os: os.as_ref(),
            limits: &limits,
        });
    }
    let _ = extract::os_release::parse(body);
});
