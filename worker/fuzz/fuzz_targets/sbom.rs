//! Arbitrary bytes as a CycloneDX or SPDX document.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = argus_worker::sbom::looks_like_sbom(data);
    if let Ok(inv) = argus_worker::sbom::read(data, "fuzz.json") {
        let _ = argus_worker::sbom::to_cyclonedx(&inv);
        let _ = argus_worker::sbom::to_spdx(&inv);
    }
});
