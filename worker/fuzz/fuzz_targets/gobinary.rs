//! Arbitrary bytes as an executable: the Go build-info probe, then the blob parser.
#![no_main]

use argus_worker::extract::{gobinary, ExtractInput, Extractor};
use argus_worker::Limits;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();
    if let Ok(Some(blob)) = gobinary::probe(data, 1 << 20) {
        let _ = gobinary::GoBinary.extract(&ExtractInput {
            path: "/bin/x",
            data: &blob,
            os: None,
            limits: &limits,
        });
    }
    let _ = gobinary::GoBinary.extract(&ExtractInput {
        path: "/bin/x",
        data,
        os: None,
        limits: &limits,
    });
});
