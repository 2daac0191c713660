//! Arbitrary bytes as a database file: opening and every kind of lookup must fail cleanly on a
//! corrupt or hostile file, never crash.
#![no_main]

use std::io::Write;

use argus_worker::vulndb::VulnDb;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(mut f) = tempfile::NamedTempFile::new() else {
        return;
    };
    if f.write_all(data).is_err() {
        return;
    }
    let Ok(db) = VulnDb::open(f.path()) else { return };
    for (eco, name) in [
        ("npm", "lodash"),
        ("PyPI", "django"),
        ("Debian:12", "openssl"),
        ("", ""),
    ] {
        let _ = db.lookup(eco, name);
    }
    for n in 0..4 {
        let _ = db.record(n);
    }
    let _ = db.epss("CVE-2021-44228");
    let _ = db.kev("CVE-2021-44228");
});
