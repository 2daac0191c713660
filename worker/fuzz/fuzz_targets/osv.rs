//! Arbitrary bytes as an OSV record: schema checks, then range evaluation under the record's
//! ecosystem rules for a few installed versions (advisories come from outside too).
#![no_main]

use argus_worker::matching::affects;
use argus_worker::version::Scheme;
use argus_worker::vulndb::osv::OsvRecord;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(record) = serde_json::from_slice::<OsvRecord>(data) else {
        return;
    };
    let Ok(adv) = record.accept() else { return };
    for a in &adv.affected {
        let Some(scheme) = Scheme::for_ecosystem(&a.ecosystem) else {
            continue;
        };
        for v in ["0", "1.0", "1.0.0", "2:1.2-3", "1.0.0-rc.1", "v1.2.3"] {
            let _ = affects(scheme, a, v);
        }
        for v in &a.versions {
            let _ = affects(scheme, a, v);
        }
    }
});
